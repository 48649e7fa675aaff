"""`wsp rollback PROJECT`: put an env back to the build before its last update or replace."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.commands import add_json
from wsp.commands import engine as _engine

if TYPE_CHECKING:
    from wsp.context import Context
    from wsp.engines import Engine
    from wsp.lockfile import LockView
    from wsp.planner import Plan


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rollback",
        help="put a project's env back to its previous build (before its last update or replace)",
    )
    add_json(p)
    p.add_argument("project", help="the project whose env to roll back")
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")


def rollback_plan(project: str) -> Any:
    """The pipeline's planner for a rollback: one update to the env's previous build,
    read under the workspace lock."""

    def planner(ctx: Context, engine: Engine, _lock: LockView | None) -> Plan:
        from wsp import pip
        from wsp.errors import WspError
        from wsp.marker import previous_path, read_previous
        from wsp.planner import Plan, rollback_action

        want = ctx.desired[project]
        have = ctx.observed.get(want.env_name)
        if have is None or have.ownership != "ours" or have.marker is None:
            why = have.why_not_ours(ctx.owner) if have is not None else "it does not exist"
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
        action = rollback_action(
            have, previous, engine.installed(have.prefix), packages, pip.installed(have.prefix)
        )
        return Plan(ctx.ws.name, str(ctx.ws.manifest_path), (action,), {}, (project,))

    return planner


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui, workflow
    from wsp.commands.apply import CliHooks
    from wsp.context import load_context
    from wsp.errors import ExitCode, WspError

    ctx = load_context(directory)
    ctx.check_targets([args.project], flag="")
    want = ctx.desired.get(args.project)
    if want is None:
        raise WspError(
            f"{args.project!r} is not declared in workspace.toml",
            hint="rollback puts a declared project's env back; add the project again first",
        )
    request = workflow.Request(
        targets=(args.project,),
        gate=False,
        command="wsp rollback",
        planner=rollback_plan(args.project),
    )
    with ui.ApplyDisplay() as display:
        hooks = CliHooks(
            display,
            json=args.json,
            yes=args.yes,
            question=f"Roll {want.env_name} back?",
            verb="roll back",
            hint="pass --yes to roll back without asking",
        )
        result = workflow.apply(ctx, _engine(), request, hooks)
    if result.cancelled:
        return ExitCode.ERROR
    outcome = result.outcomes[0] if result.outcomes else None
    ok = outcome is not None and outcome.ok
    if args.json:
        ui.print_json(
            {
                "plan": result.plan.to_json(),
                "outcomes": [
                    {"env": o.action.env, "action": "rollback", "ok": o.ok, "error": o.error}
                    for o in result.outcomes
                ],
            }
        )
    elif ok:
        when = result.plan.actions[0].reasons[0].data().get("applied_at")
        ui.info(
            f"Rolled {want.env_name} back to its build of {when or 'before'}. "
            "workspace.toml still declares the newer one: `wsp plan` shows it as an update. "
            f"`wsp rollback {args.project}` again undoes this rollback."
        )
    return ExitCode.OK if ok else ExitCode.ERROR
