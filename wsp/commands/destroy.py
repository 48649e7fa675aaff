"""`wsp destroy`: delete every env this workspace owns (and nothing else)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_json, add_target


def register(sub: Any) -> None:
    p = sub.add_parser("destroy", help="remove every env this workspace owns")
    add_json(p)
    add_target(p)
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.errors import ExitCode
    from wsp.lock import workspace_lock
    from wsp.planner import Reason, prune_action
    from wsp.reconciler import destroy
    from wsp.workflow import load_context, refresh

    ctx = load_context(directory)
    targets = ctx.check_targets(args.target)
    with workspace_lock(ctx.state_dir, command="wsp destroy"):
        ctx = refresh(ctx)
        actions = [
            prune_action(have, Reason("destroy", "wsp destroy"))
            for env, have in sorted(ctx.observed.items())
            if have.ownership == "ours"
            and have.marker is not None
            and not have.moved_from
            and (not targets or have.marker.project in targets or env in targets)
        ]
        if not actions:
            if args.json:
                ui.print_json({"destroyed": []})
            else:
                ui.out().print("Nothing to destroy: this workspace owns no env.")
            return ExitCode.OK
        if not args.json:
            ui.out().print(
                f"wsp will delete {len(actions)} env(s) owned by workspace {ui.esc(ctx.ws.name)}:"
            )
            for a in actions:
                ui.out().print(f"  [red]- {ui.esc(a.env)}[/] [dim]{ui.esc(a.prefix)}[/]")
        if not args.yes and not ui.confirmed(
            "Delete these envs?", verb="destroy", hint="pass --yes to destroy without asking"
        ):
            ui.info("Destroy cancelled; nothing was deleted.")
            return ExitCode.ERROR
        with ui.ApplyDisplay() as display:
            outcomes = destroy(ctx, actions, display)
    if args.json:
        ui.print_json(
            {
                "destroyed": [o.action.env for o in outcomes if o.ok],
                "failed": [o.action.env for o in outcomes if not o.ok],
            }
        )
    else:
        ui.apply_summary(outcomes)
    return ExitCode.ERROR if any(not o.ok for o in outcomes) else ExitCode.OK
