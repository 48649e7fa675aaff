"""The workspace lock: one `wsp apply` at a time per workspace, never interleaved.

flock(2) on `.wsp/apply.lock`: the kernel drops it when the holder dies, so a lock
left by a killed process is never stale. Who holds it is written beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from wsp.errors import LockHeld, WspError
from wsp.fsutil import atomic_write_json, atomic_write_text

DEFAULT_TIMEOUT = 5.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _holder(info: Path, *, patience: float = 1.0) -> str:
    """Who holds the lock, from the file the holder writes beside it. The holder writes it
    just after taking the lock (and removes it just before letting go), so a file that is
    missing or names a dead process is read again for a moment before giving up."""
    deadline = time.monotonic() + patience
    while True:
        try:
            data = json.loads(info.read_text())
            pid = int(data["pid"])
            if pid != os.getpid() and _alive(pid):
                since = data.get("since", "?")
                return f"pid {pid} ({data.get('command', 'wsp')}, since {since})"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() >= deadline:
            return "another process"
        time.sleep(0.05)


def make_state_dir(state_dir: Path) -> None:
    """The workspace's `.wsp/`, with the `.gitignore` that keeps it out of git when it is
    made here."""
    if not state_dir.is_dir():
        state_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(state_dir / ".gitignore", "# wsp's own state: never commit it\n*\n")


def _not_yours(state_dir: Path, exc: OSError) -> WspError:
    """The workspace lock can't be taken: this user may not write the workspace's state."""
    from wsp.modes import whose

    owned = whose(state_dir if state_dir.exists() else state_dir.parent)
    what = ".wsp/" if state_dir.exists() else "the workspace folder"
    return WspError(
        f"can't take the workspace lock: {exc.filename or state_dir}: {exc.strerror}"
        + (f"; {what} is {owned}" if owned else ""),
        hint="wsp keeps its state in .wsp/: run it as a user who may write there (a "
        "workspace a group shares: group-owned, setgid, umask 002; see docs/conda.md, "
        "Shared machines)",
    )


@contextlib.contextmanager
def workspace_lock(
    state_dir: Path, *, timeout: float | None = None, command: str = "wsp apply"
) -> Iterator[None]:
    """Hold the workspace lock; wait up to `timeout` seconds (WSP_LOCK_TIMEOUT) for it."""
    if timeout is None:
        timeout = float(os.environ.get("WSP_LOCK_TIMEOUT", DEFAULT_TIMEOUT))
    path = state_dir / "apply.lock"
    info = state_dir / "apply.lock.json"
    try:
        make_state_dir(state_dir)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # less the umask, as any file
    except PermissionError as exc:  # another user's workspace (a shared checkout)
        raise _not_yours(state_dir, exc) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(
                        f"another wsp is applying this workspace: {_holder(info)} holds {path}",
                        hint="wait for it to finish, then run again",
                    ) from None
                time.sleep(0.1)
        atomic_write_json(
            info,
            {
                "pid": os.getpid(),
                "command": command,
                "since": time.strftime("%H:%M:%S"),
                "argv": sys.argv,
            },
        )
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                info.unlink()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
