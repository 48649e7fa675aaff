"""A channel that disappears in the middle of an apply: every env ends old or new.

The channel's repodata stays (the solve already read it), its package archives vanish:
what a server that dies after answering the index looks like. Each env wsp was about
to change is left exactly as it was, byte for byte; an env whose packages are all in
the cache still changes; the error names the channel as workspace.toml declares it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace, snapshot

EXTRA = """
[projects.extra]
python = "3.12"
dependencies = ["requests"]

[projects.cached]
python = "3.12"
dependencies = ["fastapi"]
"""


def _archives(channel: Path) -> list[Path]:
    return [p for p in channel.rglob("*") if p.name.endswith((".tar.bz2", ".conda"))]


@pytest.fixture
def ws(make_workspace: Callable[..., Workspace], fresh_channel: Path, tmp_path: Path) -> Workspace:
    """The seed workspace applied from a channel of its own, with a cache of its own."""
    ws = make_workspace(chan=fresh_channel)
    ws.env["WSP_CACHE_DIR"] = str(tmp_path / "private-cache")
    assert ws.wsp("apply", "--yes").code == 0
    return ws


def test_packages_gone_mid_apply_leave_each_env_old_or_new(ws: Workspace) -> None:
    ws.edit('"pandas>=2", "scikit-learn"', '"pandas>=2", "scikit-learn", "requests"')  # update
    ws.edit(
        'python = "3.11"\ndependencies = ["pytorch", "opencv"]',
        'python = "3.12"\ndependencies = ["pytorch", "opencv", "requests"]',
    )  # replace: python changes
    ws.edit('dependencies = ["fastapi", "uvicorn"]', 'dependencies = ["fastapi"]')  # from cache
    ws.manifest.write_text(ws.manifest.read_text() + EXTRA)  # create
    before = {env: snapshot(ws.envs_dir / env) for env in ("finance", "vision")}
    plan = ws.wsp("plan", "--json").json
    assert {a["env"]: a["action"] for a in plan["actions"]} == {
        "finance": "update",
        "vision": "replace",
        "webdev": "update",
        "extra": "create",
        "cached": "create",
    }

    gone = ws.channel.parent / "gone"
    for archive in _archives(ws.channel):  # the index stays, the packages are gone
        (gone / archive.relative_to(ws.channel)).parent.mkdir(parents=True, exist_ok=True)
        archive.rename(gone / archive.relative_to(ws.channel))
    result = ws.wsp("apply", "--yes")

    assert result.code == 1, result
    for env in ("finance", "vision", "extra"):
        line = next((ln for ln in result.stderr.splitlines() if ln.startswith(f"{env}:")), "")
        assert "channel conda-forge could not be reached" in line, result
        assert "left as it was" in line, result
    assert "Traceback" not in result.output
    # old: untouched, byte for byte, and still whole
    for env in ("finance", "vision"):
        assert snapshot(ws.envs_dir / env) == before[env], f"{env} was changed"
    assert ws.versions("vision")["python"].startswith("3.11")
    assert not (ws.envs_dir / "extra").exists()
    # new: webdev and cached needed nothing from the channel; conda lists the env made
    assert "uvicorn" not in ws.versions("webdev")
    listed = (Path(ws.env["HOME"]) / ".conda" / "environments.txt").read_text().splitlines()
    assert str(ws.envs_dir / "cached") in listed and str(ws.envs_dir / "extra") not in listed
    assert [p.name for p in ws.envs_dir.iterdir() if p.name.startswith(".")] == []
    states = {r["env"]: r["state"] for r in ws.wsp("status", "--json").json["envs"]}
    assert states == {
        "finance": "out of date",
        "vision": "out of date",
        "webdev": "in sync",
        "extra": "missing",
        "cached": "in sync",
    }

    # The channel comes back: the next apply finishes the job.
    for archive in _archives(gone):
        archive.rename(ws.channel / archive.relative_to(gone))
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    assert "requests" in ws.versions("finance")
    assert ws.versions("vision")["python"].startswith("3.12")
    assert "requests" in ws.versions("extra")
