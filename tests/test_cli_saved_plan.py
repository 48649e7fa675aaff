"""`wsp plan --out FILE` then `wsp apply FILE`: exactly that plan, or a refusal when stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.channel import Pkg, add_packages
from tests.support.cli import Result, Workspace, snapshot

VISION = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.vision]
python = "3.11"
dependencies = ["opencv"]

[projects.webdev]
python = "3.12"
dependencies = ["click"]
"""


def disk(ws: Workspace) -> dict[str, object]:
    """What a refused apply must leave as it was: the envs and workspace.toml."""
    return {
        "envs": snapshot(ws.envs_dir) if ws.envs_dir.exists() else {},
        "manifest": ws.manifest.read_bytes(),
        "environments.txt": snapshot(Path(ws.env["HOME"])),
    }


def assert_stale(r: Result, *words: str) -> None:
    assert r.code == 1, r
    assert "stale" in r.stderr, r
    for word in words:
        assert word in r.stderr, r
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r


def test_saved_plan_is_carried_out_without_confirmation(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(VISION)
    r = ws.wsp("plan", "--out", "plan.json")
    assert r.code == 0, r
    assert "vision create" in r.stdout
    assert "plan.json" in r.stderr  # how to carry it out
    saved = json.loads((ws.root / "plan.json").read_text())
    assert saved["format_version"] == "1"
    assert saved["workspace"] == "acme-research"
    assert {a["env"]: a["action"] for a in saved["actions"]} == {
        "vision": "create",
        "webdev": "create",
    }
    assert not ws.envs_dir.exists() or not any(ws.envs_dir.iterdir())

    # stdin is not a terminal and there is no --yes: a saved plan needs neither
    r = ws.wsp("apply", "plan.json")
    assert r.code == 0, r
    assert ws.versions("vision")["opencv"] == "4.10.0"
    assert ws.versions("webdev")["click"] == "8.1.7"

    # carried out once, the same file is stale: the envs it was made against are gone
    before = disk(ws)
    r = ws.wsp("apply", "plan.json")
    assert_stale(r, "vision")
    assert disk(ws) == before


def test_saved_plan_refused_when_workspace_toml_changed(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(VISION)
    r = ws.wsp("plan", "--out", "plan.json")
    assert r.code == 0, r
    ws.edit('dependencies = ["click"]', 'dependencies = ["click", "h11"]')
    before = disk(ws)
    r = ws.wsp("apply", "plan.json")
    assert_stale(r, "workspace.toml")
    assert disk(ws) == before


def test_saved_plan_refused_when_an_env_changed(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(VISION)
    assert ws.wsp("apply", "--yes").code == 0
    ws.edit('dependencies = ["click"]', 'dependencies = ["click", "h11"]')
    r = ws.wsp("plan", "--out", "plan.json")
    assert r.code == 0, r
    assert "webdev update" in r.stdout
    # by hand, after the plan was saved: one package record deleted from vision
    (ws.envs_dir / "vision" / "conda-meta" / "opencv-4.10.0-py_0.json").unlink()
    before = disk(ws)
    r = ws.wsp("apply", "plan.json")
    assert_stale(r, "vision")
    assert disk(ws) == before
    assert "h11" not in ws.versions("webdev")


def test_saved_plan_refused_when_the_channel_gives_other_packages(
    make_workspace: Callable[..., Workspace], fresh_channel: Path
) -> None:
    ws = make_workspace(VISION, chan=fresh_channel)
    r = ws.wsp("plan", "--out", "plan.json")
    assert r.code == 0, r
    # published after the plan was saved: a newer opencv, which a new solve would pick
    add_packages(
        fresh_channel,
        [Pkg("opencv", "4.11.0", "py_0", ("python >=3.9,<3.13", "numpy >=1.21,<3"))],
    )
    before = disk(ws)
    r = ws.wsp("apply", "plan.json")
    assert_stale(r, "vision", "channel")
    assert "webdev" not in r.stderr.split("stale", 1)[1], r  # webdev would get the same packages
    assert disk(ws) == before
    assert not ws.envs_dir.exists() or not any(ws.envs_dir.iterdir())


def test_saved_plan_refused_when_wsp_lock_changed_says_so(
    make_workspace: Callable[..., Workspace], fresh_channel: Path
) -> None:
    """A plan made from wsp.lock, then the lock re-solved (`wsp lock --update`): stale,
    because of the lock, not the channels (before, the message blamed the channels)."""
    ws = make_workspace(VISION, chan=fresh_channel)
    assert ws.wsp("lock").code == 0
    r = ws.wsp("plan", "--out", "plan.json")
    assert r.code == 0 and "packages from wsp.lock" in r.stdout, r
    add_packages(
        fresh_channel,
        [Pkg("opencv", "4.11.0", "py_0", ("python >=3.9,<3.13", "numpy >=1.21,<3"))],
    )
    assert ws.wsp("lock", "--update", "vision").code == 0
    before = disk(ws)
    r = ws.wsp("apply", "plan.json")
    assert_stale(r, "wsp.lock changed since it was made (vision)")
    assert "channels" not in r.stderr and "webdev" not in r.stderr, r
    assert disk(ws) == before


def test_out_file_is_relative_to_the_dash_c_directory(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace(VISION)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "wsp", "-C", str(ws.root), "plan", "--out", "plan.json"],
        cwd=elsewhere,
        env=ws.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (ws.root / "plan.json").is_file(), f"written to {sorted(os.listdir(elsewhere))}"
