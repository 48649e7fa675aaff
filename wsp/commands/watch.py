"""`wsp watch`: reconcile whenever workspace.toml or a project's files change."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_jobs, add_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        description="Bring the envs in line with workspace.toml, then again after every "
        "change of workspace.toml, an environment-file, a project's pyproject.toml or "
        "requirements*.txt. Create and update are applied; replace and prune wait for "
        "--allow-destroy.",
    )
    add_json(p)
    p.add_argument(
        "--debounce",
        type=_milliseconds,
        default=30,  # wsp.watch.DEFAULT_DEBOUNCE_MS (not imported: --help stays light)
        metavar="MS",
        help="wait until the files were quiet this long before planning (default 30)",
    )
    p.add_argument(
        "--allow-destroy",
        action="store_true",
        help="also apply replace and prune (deletes envs); without it they are shown as pending",
    )
    p.add_argument(
        "--once", action="store_true", help="reconcile once (all projects) and exit: 0 ok, 1 error"
    )
    add_jobs(p)


def _milliseconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the debounce can't be negative")
    return value


def run(args: argparse.Namespace, directory: Path) -> int:
    import signal
    import threading

    from wsp import ui
    from wsp.manifest import find_manifest
    from wsp.watch import Options, Watcher

    stop = threading.Event()
    sink: Any = ui.JsonEvents() if args.json else ui.WatchView()
    watcher = Watcher(
        find_manifest(directory),
        sink,
        Options(debounce_ms=args.debounce, allow_destroy=args.allow_destroy, jobs=args.jobs),
        stop=stop,
    )
    if args.once:
        with sink:
            return watcher.once()

    def on_signal(_signum: int, _frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now (an env being built stays half-built)
            raise KeyboardInterrupt
        stop.set()  # the apply in progress finishes its current env, then the loop ends
        if isinstance(sink, ui.WatchView):
            sink.stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with sink:
            return watcher.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
