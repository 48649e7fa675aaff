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
    "lock",
    "watch",
    "check",
    "status",
    "run",
    "shell",
    "env",
    "add",
    "remove",
    "import",
    "export",
    "graph",
    "destroy",
    "schema",
)


def module_name(command: str) -> str:
    """The module of a command: `wsp.commands.import_` for `import` (a Python keyword)."""
    import keyword

    return f"wsp.commands.{command}_" if keyword.iskeyword(command) else f"wsp.commands.{command}"


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


def engine() -> Any:
    """The package engine (rattler, loaded on first use)."""
    from wsp.engines import get_engine

    return get_engine("rattler")
