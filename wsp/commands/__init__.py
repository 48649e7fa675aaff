"""One module per command, each with `register(subparsers)` and `run(args, directory) -> int`.

Modules import only what `--help` needs at the top; the heavy parts load inside `run`.
"""

from __future__ import annotations

import argparse
from typing import Any

# The order `wsp --help` lists them in.
COMMANDS = (
    "init",
    "plan",
    "apply",
    "rollback",
    "history",
    "lock",
    "watch",
    "check",
    "status",
    "info",
    "run",
    "shell",
    "env",
    "shell-hook",
    "add",
    "remove",
    "import",
    "export",
    "pack",
    "unpack",
    "gc",
    "graph",
    "destroy",
    "schema",
    "completion",
)


def module_name(command: str) -> str:
    """The module of a command: `wsp.commands.import_` for `import` (a Python keyword)."""
    import keyword

    name = command.replace("-", "_")
    return f"wsp.commands.{name}_" if keyword.iskeyword(name) else f"wsp.commands.{name}"


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", dest="json_sub", help="print data as JSON")


def add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        "-t",
        action="append",
        default=[],
        metavar="NAME",
        help="limit to this project (repeatable)",
    )


class _LazyEngine:
    """The engine, created when first used: a no-op plan never loads rattler."""

    def __init__(self, name: str) -> None:
        import threading

        self._name = name
        self._engine: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # copy, pickle and the like: not the engine's
            raise AttributeError(attr)
        with self._lock:
            if self._engine is None:
                from wsp.engines import get_engine

                self._engine = get_engine(self._name)
        return getattr(self._engine, attr)


def engine() -> Any:
    """The package engine (rattler), loaded on first use."""
    return _LazyEngine("rattler")
