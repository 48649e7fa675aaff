"""The workspace lock: one apply at a time, a clear message when busy, never stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable

from tests.support.cli import Result, Workspace

SMALL = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["six"]

[projects.webdev]
python = "3.12"
dependencies = ["click"]
"""


def start(ws: Workspace, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "wsp", *args],
        cwd=ws.root,
        env={**ws.env, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> Result:
    out, err = proc.communicate(timeout=120)
    return Result(proc.returncode, out, err)


def owned_envs(ws: Workspace) -> list[str]:
    if not ws.envs_dir.exists():
        return []
    return sorted(p.name for p in ws.envs_dir.iterdir() if not p.name.startswith("."))


def test_apply_waits_then_names_the_holder(make_workspace: Callable[..., Workspace]) -> None:
    from wsp.lock import workspace_lock

    ws = make_workspace(SMALL)
    with workspace_lock(ws.root / ".wsp", timeout=0):
        r = ws.wsp("apply", "--yes", WSP_LOCK_TIMEOUT="1")
    assert r.code == 1, r
    assert f"pid {os.getpid()}" in r.stderr, r
    assert "internal error" not in r.stderr, r
    assert owned_envs(ws) == []


def test_two_applies_at_once_never_interleave(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(SMALL)
    first, second = (
        finish(p) for p in [start(ws, "apply", "--yes", WSP_LOCK_TIMEOUT="1") for _ in range(2)]
    )
    for r in (first, second):
        assert r.code in (0, 1), r
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r
        if r.code == 1:
            assert "another wsp is applying" in r.stderr, r
    assert 0 in (first.code, second.code), (first, second)
    # each env was built once: the later apply saw the finished envs and had nothing to do
    built = first.stderr.count(": created") + second.stderr.count(": created")
    assert built == 2, (first, second)

    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert owned_envs(ws) == ["finance", "webdev"]


def test_lock_of_a_killed_process_does_not_block(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(SMALL)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from wsp.lock import workspace_lock\n"
            "with workspace_lock(Path(sys.argv[1]), timeout=0):\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(120)\n",
            str(ws.root / ".wsp"),
        ],
        env=ws.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        holder.stdout.close()  # type: ignore[union-attr]
    assert (ws.root / ".wsp" / "apply.lock").exists()  # the file stays; the flock died with it

    r = ws.wsp("apply", "--yes", WSP_LOCK_TIMEOUT="1")
    assert r.code == 0, r
    assert owned_envs(ws) == ["finance", "webdev"]
