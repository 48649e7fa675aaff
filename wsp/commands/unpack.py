"""`wsp unpack FILE`: re-create a packed env in the workspace it was packed from, from the
archive alone (no channel, no index), owned and in sync like any applied env."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "unpack",
    )
    add_json(p)
    p.add_argument("archive", metavar="FILE", help="the archive `wsp pack` wrote")
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import pack, ui, workflow
    from wsp.actions import ActionKind
    from wsp.commands import engine
    from wsp.commands.apply import CliHooks
    from wsp.context import load_context
    from wsp.errors import ExitCode

    archive = Path(args.archive)
    info = pack.read_info(archive)
    ctx = load_context(directory)
    pack.check_fits(ctx, info, archive)
    want = ctx.desired[info.project]
    with pack.unpacked(ctx, archive, info) as top:
        request = workflow.Request(
            targets=(info.project,),
            gate=False,  # the pack is what was locked; policies judged the declaration
            command="wsp unpack",
            retry_hint="nothing was changed",
            planner=pack.unpack_plan(archive, info, top),
        )
        with ui.ApplyDisplay() as display:
            hooks = CliHooks(
                display,
                json=args.json,
                yes=args.yes,
                question=f"Unpack {want.env_name} from {archive.name}?",
                verb="unpack",
                hint="pass --yes to unpack without asking",
            )
            result = workflow.apply(ctx, engine(), request, hooks)
    if result.cancelled:
        return ExitCode.ERROR
    action = result.plan.actions[0] if result.plan.actions else None
    if args.json:
        ui.print_json(
            {
                "archive": str(archive),
                "pack": info.to_json(),
                "plan": result.plan.to_json(),
                "outcomes": result.outcomes_json(),
            }
        )
    elif action is not None and action.kind is ActionKind.NOOP:
        ui.info(f"{want.env_name} already holds exactly what {archive.name} packs; nothing to do.")
    elif result.ok:
        ui.info(
            f"Unpacked {ui.esc(info.project)} from {ui.esc(archive.name)} into "
            f"{ui.esc(want.prefix)} (packed {info.made_at})."
        )
    for a in result.blocked if not args.json else ():  # as apply says it
        ui.error_line(f"{a.env}: not applied: {a.reasons[0].message}")
    return ExitCode.OK if result.ok else ExitCode.ERROR
