"""`wsp history PROJECT`: the env's past applies, newest first, and the builds it keeps for
`wsp rollback --to N`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "history",
    )
    add_json(p)
    p.add_argument("project", help="the project whose env to show")


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import history, ui
    from wsp.context import load_context
    from wsp.errors import ExitCode, WspError

    ctx = load_context(directory)
    ctx.check_targets([args.project], flag="")
    want = ctx.desired.get(args.project)
    have = (
        ctx.observed.get(want.env_name)
        if want is not None
        else next(
            (o for o in ctx.observed.values() if o.marker and o.marker.project == args.project),
            None,
        )
    )
    env = want.env_name if want is not None else args.project
    if have is None or have.ownership != "ours" or have.marker is None:
        why = have.why_not_ours(ctx.owner) if have is not None else "it does not exist"
        raise WspError(f"no history of env {env!r}: {why}")
    entries = history.read_history(have.prefix)
    kept = history.kept_builds(have.prefix)
    current = have.marker.build
    rows = []
    for e in reversed(entries):
        rows.append(
            {
                **e.to_json(),
                "current": e.build == current and not have.half_built,
                "kept": e.build in kept,
            }
        )
    for number in sorted(set(kept) - {e.build for e in entries}, reverse=True):
        rows.append({"build": number, "kept": True, "current": False, "applied_at": None})
    kept_bytes = sum(_folder_bytes(folder) for folder in kept.values())
    if args.json:
        ui.print_json(
            {
                "project": args.project,
                "env": have.name,
                "prefix": str(have.prefix),
                "current": current,
                "keep_builds": ctx.ws.keep_builds,
                "kept": sorted(kept),
                "kept_bytes": kept_bytes,
                "builds": rows,
            }
        )
        return ExitCode.OK
    _render(have.name, rows, kept_bytes, ctx.ws.keep_builds)
    return ExitCode.OK


def _render(env: str, rows: list[dict[str, Any]], kept_bytes: int, keep: int) -> None:
    from rich.table import Table

    from wsp import ui

    if not rows:
        ui.info(f"env {ui.esc(env)} has no history yet: it was built before wsp kept one")
        return
    table = Table(title=f"history of env {ui.esc(env)}", title_justify="left")
    for col in ("build", "applied", "action", "from", "changes"):
        table.add_column(col, overflow="fold")
    for r in rows:
        mark = " [green](current)[/]" if r["current"] else (" [cyan](kept)[/]" if r["kept"] else "")
        changes = r.get("changes") or []
        shown = ", ".join(changes[:6]) + (
            f", … {len(changes) - 6} more" if len(changes) > 6 else ""
        )
        if not shown:  # why it was applied: e.g. it undid changes made outside wsp
            shown = " # ".join(["(no package changed)", *(r.get("reasons") or [])])
        table.add_row(
            f"{r['build']}{mark}",
            ui.esc(r.get("applied_at") or "—"),
            ui.esc(r.get("action") or "—"),
            ui.esc(r.get("source") or "—"),
            ui.esc(shown),
        )
    console = ui.out()
    width = console.width
    if not console.is_terminal:  # piped (a pager, a CI log): a build a line, as wide as it is
        console.width = 10_000
    try:
        console.print(table)
    finally:
        console.width = width
    console.print(
        f"[dim]{ui.esc(env)} keeps {len([r for r in rows if r['kept']])} earlier build(s) "
        f"for `wsp rollback --to N` ({kept_bytes:,} bytes of package records; keep-builds = "
        f"{keep})[/]"
    )
