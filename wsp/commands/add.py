"""`wsp add PROJECT SPEC...`: add conda specs (or, with --pip, pip requirements) to a
project in workspace.toml, keeping every comment and the layout of the file."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from wsp.commands import add_json

    p = sub.add_parser(
        "add",
        usage="wsp add [--pip] PROJECT SPEC [SPEC...]",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument(
        "specs", metavar="SPEC", nargs="+", help="conda match specs (a spec replaces its package's)"
    )
    p.add_argument("--pip", action="store_true", help="PEP 508 requirements for `pip` instead")
    add_json(p)


def edit(args: argparse.Namespace, directory: Path, command: str) -> int:
    """`wsp add` and `wsp remove`: one edit of workspace.toml, validated, then written."""
    from wsp import graph, ui
    from wsp.manifest import find_manifest
    from wsp.manifest.edit import Edit, add_specs, check_specs, conda_name, pip_name, remove_specs

    doc = Edit.open(find_manifest(directory))
    notes: list[str] = []  # what the edit leaves as it is, said after it
    if command == "add":
        check_specs(args.specs, pip=args.pip)
        add_specs(doc, args.project, args.specs, pip=args.pip)
        elsewhere = _elsewhere(doc, args)
        name_of = pip_name if args.pip else conda_name
        for name in dict.fromkeys(name_of(s) for s in args.specs):
            if (where := elsewhere(name)) is not None:
                notes.append(
                    f"note: {name} is also declared at {where}: both constraints apply "
                    "(wsp add edits only the project's own list)"
                )
    else:
        remove_specs(doc, args.project, args.specs, pip=args.pip, elsewhere=_elsewhere(doc, args))
    key = "pip" if args.pip else "dependencies"
    unchanged = all(c.startswith("=") for c in doc.changes)
    if not unchanged:
        doc.save(command, check=graph.validate)
    if args.json:
        ui.print_json(
            {
                "project": args.project,
                "key": key,
                "changed": not unchanged,
                "changes": list(doc.changes),
                "manifest": str(doc.path),
            }
        )
    elif unchanged:
        ui.out().print(f"No changes: project {ui.esc(args.project)} already has that.")
    else:
        ui.out().print(
            f"Updated {key} of project [bold]{ui.esc(args.project)}[/] in workspace.toml:"
        )
        for change in doc.changes:
            ui.out().print(f"  {ui.esc(change)}")
        ui.out().print("[dim]Next: `wsp plan` to see what it changes in the env.[/]")
    for line in notes:
        ui.info(ui.esc(line))
    return 0


def _elsewhere(doc: Any, args: argparse.Namespace) -> Callable[[str], str | None]:
    """Where a package of the project's env is declared outside its own list (a template,
    its environment file, a project it depends on): `FILE:LINE:COL (layer)`, or None."""
    from wsp import graph
    from wsp.errors import display_path

    def where(name: str) -> str | None:
        ws = doc.ws
        if ws is None or args.project not in ws.projects:
            return None
        origins = (
            graph.pip_origins(ws, args.project)
            if args.pip
            else graph.spec_origins(ws, args.project)
        )
        own = ("projects", args.project)
        for o in reversed(origins):  # the highest layer first
            if o.name == name and o.key[:2] != own:
                path, line, col = o.located(ws)
                return f"{display_path(path)}:{line}:{col} ({o.layer})"
        return None

    return where


def run(args: argparse.Namespace, directory: Path) -> int:
    return edit(args, directory, "add")
