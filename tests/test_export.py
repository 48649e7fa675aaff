"""`wsp export` (issue 6): a fresh solve written as environment.yml, conda's explicit spec,
pip requirements or a Dockerfile, each read back and checked against the solve.

The solve the exports are compared with is the engine's own, made in the test process
against the same session channel.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import rattler

from tests.support.cli import Workspace, mirrored_condarc

EXPORT_TOML = """\
[workspace]
name = "exports"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-find-links = ["{wheelhouse}"]
pip-no-index = true

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.11"
dependencies = ["pandas>=2", "six"]
pip = ["tinyapp"]

[projects.webdev]
python = "3.12"
dependencies = ["fastapi"]
"""


@pytest.fixture
def ws(make_workspace: Callable[..., Workspace], wheelhouse: Path) -> Workspace:
    return make_workspace(EXPORT_TOML.replace("{wheelhouse}", str(wheelhouse)))


def solved(ws: Workspace, project: str) -> dict[str, object]:
    """{dist: Package} of the engine's solve of `project`, as `wsp export` makes it."""
    from wsp.commands import engine
    from wsp.context import load_context
    from wsp.resolve import resolve

    ctx = load_context(ws.root)
    res = resolve(ctx, engine(), [project], force=True)[project]
    assert res.packages, res
    return {p.dist: p for p in res.packages}


def read_yaml(text: str) -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(text)


def test_environment_yml_pins_every_solved_package(ws: Workspace, wheelhouse: Path) -> None:
    r = ws.wsp("export", "finance", "--pinned")
    assert r.code == 0, r
    data = read_yaml(r.stdout)
    assert data["name"] == "finance"
    assert data["channels"] == ["conda-forge"]  # the declared name, not the mirror
    conda = [d for d in data["dependencies"] if isinstance(d, str)]
    [pip_block] = [d for d in data["dependencies"] if isinstance(d, dict)]
    want = solved(ws, "finance")
    assert "pip" in conda  # a pip: list needs pip, which the solve (uv installs) has not
    exact = [d for d in conda if d != "pip"]
    for spec in exact:
        rattler.MatchSpec(spec)  # strict parse
        assert spec.count("=") == 2, spec
    assert {s.replace("=", "-") for s in exact} == set(want)
    # where pip finds the pins comes with them (before: left out, pip looked on PyPI)
    where = ["--no-index", f"--find-links {wheelhouse}"]
    assert pip_block["pip"] == [*where, "tinyapp==0.5.0", "tinylib==1.1.0"]
    r = ws.wsp("export", "finance", "--format", "requirements")
    assert r.code == 0, r
    assert [ln for ln in r.stdout.splitlines() if not ln.startswith("#")] == [
        *where,
        "tinyapp==0.5.0",
        "tinylib==1.1.0",
    ]


def test_exported_environment_yml_reinstalls_with_wsp(
    ws: Workspace, make_workspace: Callable[..., Workspace]
) -> None:
    r = ws.wsp("export", "finance", "--pinned")
    assert r.code == 0, r
    conda = [d for d in read_yaml(r.stdout)["dependencies"] if isinstance(d, str) and d != "pip"]
    want = solved(ws, "finance")
    # A new workspace (same mirror) whose project merges the exported file; its pip block
    # is left out: the fixture python can't run pip.
    other = make_workspace(
        EXPORT_TOML.split("[projects.finance]")[0].replace("{wheelhouse}", "wheels")
        + '[projects.again]\npath = "."\nenvironment-file = "finance.yml"\n',
        name="again",
    )
    listed = "".join(f"  - {d}\n" for d in conda)
    (other.root / "finance.yml").write_text(
        f"name: finance\nchannels: [conda-forge]\ndependencies:\n{listed}"
    )
    applied = other.wsp("apply", "--yes")
    assert applied.code == 0, applied
    assert other.dists("again") == set(want)


def test_explicit_lists_the_solved_urls_with_their_hashes(ws: Workspace) -> None:
    out = ws.root / "finance.txt"
    r = ws.wsp("export", "finance", "--format", "explicit", "-o", "finance.txt")
    assert r.code == 0, r
    assert r.stdout == ""
    lines = out.read_text().splitlines()
    assert "@EXPLICIT" in lines
    assert any(re.fullmatch(r"# platform: [a-z0-9]+-[a-z0-9]+", ln) for ln in lines)
    urls = lines[lines.index("@EXPLICIT") + 1 :]
    want = solved(ws, "finance")
    expected = set()
    for p in want.values():  # the declared channel, never the mirror it was fetched from
        assert p.url.startswith("https://conda.anaconda.org/conda-forge/")
        expected.add(f"{p.url}#{p.md5}" if p.md5 else f"{p.url}#sha256:{p.sha256}")
    assert set(urls) == expected
    assert all("#" in u for u in urls)
    assert not list(ws.root.glob(".finance.txt.*"))  # atomic write left no temporary


def test_requirements_and_dockerfile(ws: Workspace, wheelhouse: Path) -> None:
    r = ws.wsp("export", "finance", "--format", "requirements")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].startswith("# ")

    r = ws.wsp("export", "finance", "--format", "dockerfile", "-o", "docker/Dockerfile")
    assert r.code == 0, r
    # the wheelhouse pip finds the pins in is this machine's: said
    assert f"--find-links {wheelhouse}: a path on this machine, not in the image" in r.stderr
    text = (ws.root / "docker" / "Dockerfile").read_text()
    [base] = [ln for ln in text.splitlines() if ln.startswith("FROM ")]
    image, _, tag = base.split()[1].partition(":")
    assert image and tag and tag != "latest"
    assert "--name finance" in text
    assert '"conda", "run", "-n", "finance", "--no-capture-output"' in text
    assert "SHELL [" in text and "ENTRYPOINT [" in text
    # what it COPYs is written beside it
    copied = re.findall(r"^COPY (\S+) ", text, re.M)
    assert copied and all((ws.root / "docker" / c).is_file() for c in copied)
    # the env has no pip (wsp installs pip requirements with uv): base's pip installs into it
    [pip_run] = [ln for ln in text.splitlines() if "install --no-deps" in ln]
    assert "conda run -n base python -m pip --python /opt/conda/envs/finance/bin/python" in pip_run


def test_all_writes_one_file_per_project(ws: Workspace) -> None:
    r = ws.wsp("export", "--all")
    assert r.code == 0, r
    files = sorted(p.name for p in (ws.root / "exports").iterdir())
    assert files == ["finance.environment.yml", "webdev.environment.yml"]
    webdev = read_yaml((ws.root / "exports" / "webdev.environment.yml").read_text())
    assert webdev["name"] == "webdev"
    assert not any(isinstance(d, dict) for d in webdev["dependencies"])

    r = ws.wsp("export", "--all", "--format", "requirements", "-o", "reqs")
    assert r.code == 0, r
    assert sorted(p.name for p in (ws.root / "reqs").iterdir()) == [
        "finance.requirements.txt",
        "webdev.requirements.txt",
    ]


def test_a_channel_in_the_workspace_is_written_where_conda_finds_it(
    make_workspace: Callable[..., Workspace], channel: Path
) -> None:
    """A channel declared relative to the workspace (`./channel`): wsp reads it against the
    workspace root, conda against the folder it runs in; an export names it by its absolute
    URL (before: `./channel`, which `conda env create -f out/p.yml` looked for in out/)."""
    ws = make_workspace(
        '[workspace]\nname = "rel"\nchannels = ["./channel"]\nenvs-dir = ".wsp/envs"\n\n'
        '[projects.p]\npython = "3.12"\ndependencies = ["six"]\n'
    )
    shutil.copytree(channel, ws.root / "channel")
    where = (ws.root / "channel").resolve().as_uri()
    for args in ((), ("--pinned",)):
        r = ws.wsp("export", "p", *args, "-o", "out/p.yml")
        assert r.code == 0, r
        assert read_yaml((ws.root / "out" / "p.yml").read_text())["channels"] == [where], args


def test_errors_are_one_line(ws: Workspace) -> None:
    r = ws.wsp("export", "financ")
    assert r.code == 1
    assert r.stderr.count("\n") == 1 and "did you mean 'finance'" in r.stderr
    text = ws.manifest.read_text()
    ws.manifest.write_text(text.replace(ws.channel.as_uri(), "file:///nonexistent/wsp-channel"))
    r = ws.wsp("export", "webdev", "--pinned")
    assert r.code == 1, r
    assert r.stderr.count("\n") == 1, r.stderr
    assert "could not be reached" in r.stderr
    assert r.stdout == ""
    r = ws.wsp("export", "webdev")  # as declared: nothing to solve, no channel needed
    assert r.code == 0, r
    assert read_yaml(r.stdout)["dependencies"] == ["python=3.12", "fastapi"]


def test_explicit_file_reinstalls_the_same_packages(ws: Workspace, tmp_path: Path) -> None:
    """conda's explicit format, read back by rattler, installs exactly the solved set."""
    from urllib.parse import urlparse

    from rattler.explicit_environment import ExplicitEnvironmentSpec

    from tests.support.channel import run_async

    out = ws.root / "finance.txt"
    assert ws.wsp("export", "finance", "--format", "explicit", "-o", str(out)).code == 0
    spec = ExplicitEnvironmentSpec.from_path(out)
    forge = "https://conda.anaconda.org/conda-forge/"
    mirror = ws.channel.as_uri() + "/"  # what a conda set up with the mirror fetches from
    records = [
        run_async(
            rattler.RepoDataRecord.from_package_archive(
                urlparse(entry.url.split("#")[0].replace(forge, mirror)).path
            )
        )
        for entry in spec.packages
    ]
    prefix = tmp_path / "from-explicit"
    run_async(
        rattler.install(
            records, target_prefix=prefix, cache_dir=tmp_path / "pkgs", show_progress=False
        )
    )
    got = {p.name[: -len(".json")] for p in (prefix / "conda-meta").glob("*.json")}
    want = {f"{p.name}-{p.version}-{p.build}" for p in solved(ws, "finance").values()}
    assert got == want


DECLARED_YML = """\
name: legacy
channels:
  - bioconda
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26=py_0
  - pytorch::pytorch-mutex=*=*cuda*
  - pip:
    - --extra-index-url https://extra.example/simple
    - tinylib==1.0.0
    - -e ./lib
variables:
  OMP_NUM_THREADS: "4"
"""


def test_environment_yml_as_declared_round_trips_without_a_solve(
    ws: Workspace, wheelhouse: Path
) -> None:
    (ws.root / "legacy" / "lib").mkdir(parents=True)
    (ws.root / "legacy" / "environment.yml").write_text(DECLARED_YML)
    ws.write(
        ws.manifest.read_text().replace(str(ws.channel.as_uri()), "file:///nonexistent/channel")
        + '\n[projects.legacy]\npath = "legacy"\nenvironment-file = "environment.yml"\n'
        + 'env-vars = { EXTRA = "1" }\n'
    )
    r = ws.wsp("export", "legacy", "-o", "out/legacy.yml")  # no channel can be reached
    assert r.code == 0, r
    data = read_yaml((ws.root / "out" / "legacy.yml").read_text())
    assert data["channels"] == ["bioconda", "conda-forge"]  # in order
    *conda, pip_block = data["dependencies"]
    assert conda == ["python=3.11", "numpy=1.26=py_0", "pytorch::pytorch-mutex=*=*cuda*", "pip"]
    assert pip_block["pip"] == [
        "--no-index",  # the workspace's pip-no-index
        "--extra-index-url https://extra.example/simple",
        f"--find-links {wheelhouse.resolve()}",  # the workspace's pip-find-links
        "tinylib==1.0.0",
        f"-e {(ws.root / 'legacy' / 'lib').resolve()}",  # read from where conda runs pip
    ]
    assert data["variables"] == {"OMP_NUM_THREADS": "4", "EXTRA": "1"}

    # read back as conda reads it: the same declaration
    from wsp.manifest.envfile import read_env_file

    again = read_env_file(ws.root / "out" / "legacy.yml")
    assert again.dependencies == tuple(conda)
    assert again.pip == ("tinylib==1.0.0",)
    assert again.variables == (("OMP_NUM_THREADS", "4"), ("EXTRA", "1"))
    r = ws.wsp("import", "--file", "out/legacy.yml", "--as", "again")
    assert r.code == 0, r


@pytest.mark.skipif(shutil.which("conda") is None, reason="conda is not installed here")
def test_conda_reads_both_exports(ws: Workspace) -> None:  # pragma: no cover - needs conda
    import subprocess

    for args in (("export", "webdev"), ("export", "webdev", "--pinned")):
        r = ws.wsp(*args, "-o", "webdev.yml")
        assert r.code == 0, r
        proc = subprocess.run(
            ["conda", "env", "create", "--dry-run", "--json", "-n", "x", "-f", "webdev.yml"],
            cwd=ws.root,
            capture_output=True,
            text=True,
            env={**os.environ, **mirrored_condarc(ws)},  # conda-forge is the fixture channel
        )
        assert "error" not in proc.stdout.lower(), proc.stdout
