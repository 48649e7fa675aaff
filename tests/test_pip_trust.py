"""What a workspace (an untrusted repository) can make the pip layer do (issue 11.2):
options only through dedicated keys, `-r` files only inside the workspace, no `${VAR}`
sent anywhere, no uv.toml of the repository read. A package index on localhost records
every request: what it never sees is what the workspace could not learn."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace, snapshot
from tests.support.index import serve_index
from tests.support.wheels import build_wheel

SECRET = "hunter2-s3cret"

HEAD = """\
[workspace]
name = "trust"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

"""


@pytest.fixture
def index(tmp_path: Path):  # type: ignore[no-untyped-def]
    files = tmp_path / "index-files"
    build_wheel(files, "tinylib", "1.0.0")
    with serve_index(files) as served:
        yield served


def one_located_line(stderr: str, where: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(where), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    "entries",
    [
        ["--index-url {index}", "-r secret.txt"],  # the red-team case, as it was reported
        ["-r secret.txt"],
        ["tinylib -r secret.txt"],
        ["--index-url={index}"],
        ["tinylib==1.0.0 --index-url {index}"],
        ["-e ."],
        ["tinylib @ {index}/${WSP_TEST_SECRET}/tinylib-1.0.0-py3-none-any.whl"],
    ],
)
def test_a_pip_entry_is_one_requirement_never_options_nor_files(
    make_workspace: Callable[..., Workspace], index, entries: list[str]
) -> None:
    base = index.url.rsplit("/", 1)[0]
    pip = json.dumps([e.replace("{index}", base if "@" in e else index.url) for e in entries])
    ws = make_workspace(HEAD + f'[projects.webdev]\npython = "3.12"\npip = {pip}\n')
    (ws.root / "secret.txt").write_text(f"{SECRET}\n")
    before = snapshot(ws.root)
    for command in (("plan",), ("apply", "--yes")):
        r = ws.wsp(*command, WSP_TEST_SECRET=SECRET)
        assert r.code == 1, r
        one_located_line(r.stderr, "workspace.toml:11:8: ")
    assert index.requests == [], "the workspace reached the index it chose"
    assert snapshot(ws.root) == before


ENV_HEAD = HEAD + '[projects.app]\npython = "3.11"\nenvironment-file = "environment.yml"\n'


def test_an_environment_file_reads_no_file_outside_the_workspace(
    make_workspace: Callable[..., Workspace], index, tmp_path: Path
) -> None:
    outside = tmp_path / "outside-secret.txt"
    outside.write_text(f"{SECRET}\n")
    ws = make_workspace(ENV_HEAD)
    app = ws.root / "projects" / "app"
    app.mkdir(parents=True)
    (app / "linked.txt").symlink_to(outside)  # inside by name, outside in fact
    for line, col in (
        (f"-r {outside}", 7),
        ("-r ../../../outside-secret.txt", 7),
        ("-r linked.txt", 7),
    ):
        (app / "environment.yml").write_text(
            f"dependencies:\n  - pip:\n    - --index-url {index.url}\n    - {line}\n"
        )
        for command in ("plan", "lock", "check"):
            r = ws.wsp(command)
            assert r.code == 1, r
            msg = one_located_line(r.stderr, f"projects/app/environment.yml:4:{col}: ")
            assert "outside the workspace" in msg and SECRET not in msg, msg
    assert index.requests == []


def test_a_variable_in_a_pip_line_is_never_expanded_nor_sent(
    make_workspace: Callable[..., Workspace], index, wheelhouse: Path
) -> None:
    base = index.url.rsplit("/", 1)[0]
    ws = make_workspace(ENV_HEAD)
    app = ws.root / "projects" / "app"
    app.mkdir(parents=True)
    (app / "environment.yml").write_text(
        "dependencies:\n  - pip:\n"
        f"    - --find-links {wheelhouse}\n"
        "    - --no-index\n"
        f"    - tinylib @ {base}/files/${{WSP_TEST_SECRET}}/tinylib-1.0.0-py3-none-any.whl\n"
        "    - metricskit==1.0.0\n"
    )
    r = ws.wsp("plan", "--json", WSP_TEST_SECRET=SECRET)
    assert r.code == 0, r
    warned = [f["message"] for f in r.json["findings"] if f["code"] == "WSP303"]
    assert any("environment.yml:5:7:" in m and "${VAR}" in m for m in warned), warned
    adds = {p["name"] for p in r.json["actions"][0]["packages"]["add"] if p["source"] == "pip"}
    assert adds == {"metricskit"}  # the line is not used, and said so
    assert not any(SECRET in path for path in index.requests), index.requests


def test_the_repositorys_uv_config_is_not_read(
    make_workspace: Callable[..., Workspace], index, wheelhouse: Path, tmp_path: Path
) -> None:
    """A uv.toml or a pyproject.toml [tool.uv] in the repository would point uv at another
    index (or turn builds on): wsp runs uv with --no-config, from a folder of its own."""
    evil = tmp_path / "evil-files"
    build_wheel(evil, "metricskit", "9.9.9")
    with serve_index(evil) as other:
        ws = make_workspace(
            HEAD
            + '[projects.webdev]\npython = "3.12"\npip = ["tinylib"]\n'
            + f'pip-index-url = "{index.url}"\n'
        )
        config = f'extra-index-url = ["{other.url}"]\nno-build = false\n'
        (ws.root / "uv.toml").write_text(config)
        (ws.root / "pyproject.toml").write_text(f"[tool.uv.pip]\n{config}")
        r = ws.wsp("plan", "--json")
        assert r.code == 0, r
        assert other.requests == [], other.requests
        assert index.requests  # the declared index was asked
