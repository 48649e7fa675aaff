"""`wsp remove PROJECT NAME...`: remove dependencies (or, with --pip, pip requirements)
of a project from workspace.toml by package name, keeping comments and layout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "remove",
        usage="wsp remove [--pip] PROJECT NAME [NAME...]",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("specs", metavar="NAME", nargs="+", help="package names (or specs of them)")
    p.add_argument("--pip", action="store_true", help="remove from `pip` instead")
    from wsp.commands import add_json

    add_json(p)


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp.commands.add import edit

    return edit(args, directory, "remove")
