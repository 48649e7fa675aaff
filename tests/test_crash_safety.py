"""kill -9 in the middle of `wsp apply`: every env ends whole, or marked half-built and
rebuilt by the next apply; no marker is ever left corrupt; nothing else is touched."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

from tests.support.cli import Workspace

N = 20
KILL_AFTER = (0.7, 1.0, 1.3, 1.6)  # seconds after start: start-up, then envs being built

TOML = """\
[workspace]
name = "crashy"
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]
""" + "".join(
    f'\n[projects.p{i:02d}]\npython = "3.12"\ndependencies = ["six", "click"]\n' for i in range(N)
)


def markers_are_whole(ws: Workspace) -> dict[str, str]:
    """env -> marker state; every marker present parses (atomic writes)."""
    states = {}
    for env in sorted(ws.envs_dir.iterdir()) if ws.envs_dir.exists() else []:
        if env.name.startswith("."):
            continue
        marker = env / "conda-meta" / "wsp"
        if marker.exists():
            states[env.name] = json.loads(marker.read_text())["state"]
    return states


def test_kill_9_during_apply(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(TOML)
    stranger = ws.envs_dir / "stranger" / "conda-meta"
    stranger.mkdir(parents=True)
    (stranger / "history").write_text("# made by hand\n")
    for delay in KILL_AFTER:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wsp", "apply", "--yes"],
            cwd=ws.root,
            env=ws.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
        states = markers_are_whole(ws)
        r = ws.wsp("plan", "--json")
        assert r.code == 0, r
        kinds = {a["env"]: a["action"] for a in r.json["actions"]}
        for env, state in states.items():
            expected = {"complete": {"no-op"}, "building": {"replace"}}[state]
            assert kinds[env] in expected, (env, state, kinds[env])
        assert set(kinds.values()) <= {"create", "replace", "no-op"}, kinds
        ws.edit("[projects.p00]", "[projects.p00]")  # the file is untouched: same plan input
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    assert set(markers_are_whole(ws).values()) == {"complete"}
    for i in range(N):
        assert {"python", "six", "click"} <= set(ws.versions(f"p{i:02d}"))
    assert sorted(p.name for p in stranger.iterdir()) == ["history"]  # never touched
    assert not list(ws.envs_dir.glob(".wsp-*"))  # no trash or staging folder left
