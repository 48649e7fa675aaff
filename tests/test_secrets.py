"""Credentials in channel and mirror URLs (`user:pass@`, conda's `/t/<token>/`) are used to
fetch and never printed nor written: not in wsp.lock, saved plans, plan JSON, exports,
markers, package records, `.wsp/` or the package cache (issue 11, item 5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.authserver import PASSWORD, SECRETS, TOKEN, USER, serve
from tests.support.cli import Result, Workspace

MIRRORED = """\
[workspace]
name = "secretive"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{url}"]

[projects.alpha]
python = "3.12"
dependencies = ["six"]
"""

DECLARED = """\
[workspace]
name = "secretive"
channels = ["{url}"]
envs-dir = ".wsp/envs"

[projects.alpha]
python = "3.12"
dependencies = ["six"]
"""


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def files_with_secrets(*roots: Path, skip: Path) -> list[str]:
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path == skip or not path.is_file() or path.is_symlink():
                continue
            data = path.read_bytes()
            if any(s.encode() in data for s in SECRETS):
                found.append(str(path))
    return found


@pytest.mark.parametrize(
    ("toml", "how"),
    [(MIRRORED, "basic"), (DECLARED, "token")],
    ids=["password-in-a-mirror", "token-in-the-channel"],
)
def test_credentials_fetch_and_are_never_printed_nor_written(
    toml: str,
    how: str,
    make_workspace: Callable[..., Workspace],
    channel: Path,
    tmp_path: Path,
) -> None:
    with serve(channel, **{how: True}) as base:
        host = base.removeprefix("http://")
        url = f"http://{USER}:{PASSWORD}@{host}/" if how == "basic" else f"{base}/t/{TOKEN}/"
        ws = make_workspace(toml.replace("{url}", url))
        cache = tmp_path / "own-cache"
        # the server is stopped at the end: its refused connections are not tried again
        env = {"WSP_CACHE_DIR": str(cache), "CONDA_REMOTE_MAX_RETRIES": "0"}
        outputs: list[Result] = []

        def run(*args: str, code: int = 0) -> Result:
            r = ws.wsp(*args, **env)
            assert r.code == code, r
            outputs.append(r)
            return r

        run("plan")
        run("plan", "--json")
        run("plan", "--out", "plan.json")
        run("apply", "--yes")
        run("lock")
        run("status", "--json")
        run("check", "--json")
        run("apply", "--locked", "--yes")
        run("export", "alpha", "-o", "alpha.yml")
        run("export", "alpha", "--pinned", "-o", "pinned.yml")
        run("export", "alpha", "--format", "explicit", "-o", "alpha.txt")
        run("export", "alpha", "--format", "dockerfile", "-o", "Dockerfile")
        run("watch", "--once", "--json")
        ws.edit('dependencies = ["six"]', 'dependencies = ["six", "nothing-like-it"]')
        run("plan", code=1)  # an error message names the channel
    ws.edit('"six", "nothing-like-it"', '"six", "pytz"')
    run("plan", code=0)  # the channel is gone: unknown versions, said
    run("apply", "--yes", code=1)

    for r in outputs:
        assert not leaks(r.stdout + r.stderr), r
    assert not files_with_secrets(ws.root, cache, Path(ws.env["HOME"]), skip=ws.manifest), (
        "a file wsp wrote holds a credential"
    )
    lock = (ws.root / "wsp.lock").read_text()
    assert "127.0.0.1" in lock or "conda.anaconda.org/conda-forge" in lock


def test_a_password_and_a_token_together_are_refused_at_the_line(
    make_workspace: Callable[..., Workspace],
) -> None:
    url = f"https://{USER}:{PASSWORD}@example.org/t/{TOKEN}/private"
    ws = make_workspace(DECLARED.replace("{url}", url))
    before = sorted(p.name for p in ws.root.iterdir())
    r = ws.wsp("plan")
    assert r.code == 1
    line = r.stderr.strip()
    assert line.startswith("workspace.toml:3:"), line
    assert "both a password" in line and "keep only one" in line
    assert not leaks(r.stdout + r.stderr)
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in ws.root.iterdir()) == before
