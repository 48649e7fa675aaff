"""`wsp gc [--yes]`: free the package cache, repodata and kept builds nothing uses; a dry
run unless `--yes`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.commands import add_json

if TYPE_CHECKING:
    from wsp.gc import Item, Report

_SHOWN = 15  # rows per kind before "… N more"
_KINDS = (
    ("package", "package cache"),
    ("repodata", "repodata cache"),
    ("build", "kept builds"),
    ("leftover", "left half-written by a killed apply"),
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gc",
    )
    add_json(p)
    p.add_argument("--yes", "-y", action="store_true", help="delete (default: only say what)")


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import gc, ui
    from wsp.applylock import workspace_lock
    from wsp.commands import engine as make_engine
    from wsp.context import load_context, refresh
    from wsp.errors import ExitCode

    ctx = load_context(directory)
    engine = make_engine()
    if not args.yes:
        report = gc.collect(ctx, engine)
        deleted = None
    else:
        with workspace_lock(ctx.state_dir, command="wsp gc"):
            report = gc.collect(refresh(ctx), engine)  # again, under the lock
            deleted = gc.delete(report)
    if args.json:
        data = {"dry_run": deleted is None, **report.to_json()}
        if deleted is not None:
            data["deleted"] = [i.to_json() for i in deleted]
            data["deleted_bytes"] = sum(i.freed for i in deleted)
        ui.print_json(data)
        return ExitCode.OK
    _render(report, deleted)
    return ExitCode.OK


def _render(report: Report, deleted: list[Item] | None) -> None:
    from rich.table import Table

    from wsp import ui

    out = ui.out()
    title = "wsp gc" + (" (dry run: nothing is deleted)" if deleted is None else "")
    out.print(f"{title}: cache {ui.esc(report.cache)}, {report.envs} env(s) read")
    for kind, label in _KINDS:
        items = [i for i in report.free if i.kind == kind]
        if not items:
            continue
        table = Table(title=f"{label}: {len(items)} unused", title_justify="left")
        table.add_column(kind if kind != "build" else "build")
        table.add_column("bytes", justify="right")
        table.add_column("frees", justify="right")
        for item in items[:_SHOWN]:
            table.add_row(ui.esc(item.name), f"{item.apparent:,}", f"{item.freed:,}")
        if len(items) > _SHOWN:
            table.add_row(f"… {len(items) - _SHOWN} more (--json lists all)", "", "")
        out.print(table)
    for item in report.kept:
        out.print(f"[dim]kept {ui.esc(item.name)}: {ui.esc(item.why_kept or '')}[/]")
    for what in report.unreadable:
        out.print(
            f"[yellow]note: could not read {ui.esc(what)}: a cache file it links is still "
            "kept (its link count says so)[/]"
        )
    shared = report.apparent - report.freed
    detail = (
        f" ({shared:,} of {report.apparent:,} bytes are hard-linked elsewhere)" if shared else ""
    )
    if deleted is None:
        verb = "would free"
        hint = "; `wsp gc --yes` deletes it" if report.free else ""
        out.print(f"{verb} {report.freed:,} bytes{detail}{hint}")
    else:
        freed = sum(i.freed for i in deleted)
        skipped = len(report.free) - len(deleted)
        more = f"; {skipped} left (in use by the time it was their turn)" if skipped else ""
        out.print(f"freed {freed:,} bytes ({len(deleted)} item(s) deleted){more}")
