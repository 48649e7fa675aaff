"""Writes of wsp's own bookkeeping (caches) that wait until the command has succeeded.

A command that fails leaves the workspace folder as it found it, caches included. The
CLI calls `hold()` before a command and `flush()` after one that succeeded (`wsp watch`,
`step_done` after each round); without `hold()` (wsp used as a library, tests) a write
happens at once.
"""

from __future__ import annotations

from collections.abc import Callable

_pending: dict[str, Callable[[], None]] | None = None


def hold() -> None:
    """Keep writes until `flush`."""
    global _pending
    _pending = {}


def write(key: str, fn: Callable[[], None]) -> None:
    """Run `fn` now, or at `flush` when held (only the last write of each `key`)."""
    if _pending is None:
        fn()
    else:
        _pending[key] = fn


def flush() -> None:
    """Run the writes held, in order, and stop holding."""
    global _pending
    pending, _pending = _pending or {}, None
    for fn in pending.values():
        fn()


def step_done(ok: bool) -> None:
    """One step of a long-running command (a `wsp watch` round) ended: the writes it made
    run when it succeeded and are dropped when not, as for a command; later writes are
    held again, for the next step. Without `hold()`, nothing to do."""
    global _pending
    if _pending is None:
        return
    pending, _pending = _pending, {}
    if ok:
        for fn in pending.values():
            fn()
