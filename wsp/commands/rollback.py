"""`wsp rollback PROJECT`: put an env back to the build before its last update or replace."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_json
from wsp.commands import engine as _engine


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rollback",
        help="put a project's env back to its previous build (before its last update or replace)",
    )
    add_json(p)
    p.add_argument("project", help="the project whose env to roll back")
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.errors import ExitCode, WspError
    from wsp.lock import workspace_lock
    from wsp.marker import previous_path, read_previous
    from wsp.planner import Plan, rollback_action
    from wsp.reconciler import rollback
    from wsp.workflow import load_context, refresh

    ctx = load_context(directory)
    ctx.check_targets([args.project])
    want = ctx.desired.get(args.project)
    if want is None:
        raise WspError(
            f"{args.project!r} is not declared in workspace.toml",
            hint="rollback puts a declared project's env back; add the project again first",
        )
    engine = _engine()
    with workspace_lock(ctx.state_dir, command="wsp rollback"):
        ctx = refresh(ctx)
        have = ctx.observed.get(want.env_name)
        if have is None or have.ownership != "ours" or have.marker is None:
            why = have.why_not_ours(ctx.ws) if have is not None else "it does not exist"
            raise WspError(f"cannot roll back env {want.env_name!r}: {why}")
        if have.half_built:
            raise WspError(
                f"env {want.env_name!r} is half-built: it has no whole build to roll back from",
                hint="run `wsp apply` to rebuild it",
            )
        if have.read_only:
            raise WspError(f"env {want.env_name!r} is read-only ({have.read_only})")
        previous = read_previous(have.prefix)
        if previous is None:
            raise WspError(
                f"env {want.env_name!r} has no previous build to roll back to",
                hint="wsp keeps one: the build an apply last updated or replaced",
            )
        packages = engine.adopt(previous_path(have.prefix))
        action = rollback_action(have, previous, engine.installed(have.prefix), packages)
        plan = Plan(ctx.ws.name, str(ctx.ws.manifest_path), (action,), {}, (args.project,))
        if not args.json:
            ui.render_plan(plan)
        if not args.yes and not ui.confirmed(
            f"Roll {want.env_name} back?",
            verb="roll back",
            hint="pass --yes to roll back without asking",
        ):
            ui.info("Rollback cancelled; nothing was changed.")
            return ExitCode.ERROR
        with ui.ApplyDisplay() as display:
            outcome = rollback(ctx, action, previous, engine, display)
    if args.json:
        ui.print_json(
            {
                "plan": plan.to_json(),
                "outcomes": [
                    {
                        "env": action.env,
                        "action": "rollback",
                        "ok": outcome.ok,
                        "error": outcome.error,
                    }
                ],
            }
        )
    elif outcome.ok:
        ui.info(
            f"Rolled {want.env_name} back to its build of {previous.applied_at or 'before'}. "
            "workspace.toml still declares the newer one: `wsp plan` shows it as an update. "
            f"`wsp rollback {args.project}` again undoes this rollback."
        )
    return ExitCode.OK if outcome.ok else ExitCode.ERROR
