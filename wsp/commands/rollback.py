"""`wsp rollback PROJECT [--to N]`: put an env back to a build it keeps (by default the
newest one: the build before its last update, replace or rollback)."""

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
    )
    add_json(p)
    p.add_argument("project", help="the project whose env to roll back")
    p.add_argument(
        "--to",
        type=int,
        metavar="N",
        help="the build to go back to (its number in `wsp history PROJECT`); default: the "
        "newest kept",
    )
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")


def rollback_plan(project: str, to: int | None = None) -> Any:
    """The pipeline's planner for a rollback: one update to build `to` of the env (the
    newest it keeps when None), read under the workspace lock."""

    def planner(ctx: Context, engine: Engine, _lock: LockView | None) -> Plan:
        from wsp import history, pip
        from wsp.errors import WspError
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
        kept = history.kept_builds(have.prefix)
        if not kept:
            raise WspError(
                f"env {want.env_name!r} has no previous build to roll back to",
                hint=f"wsp keeps {ctx.ws.keep_builds} (`keep-builds` in [workspace]): the "
                "builds an apply updated or replaced",
            )
        number = max(kept) if to is None else to
        if to is not None and to == have.marker.build:
            raise WspError(f"env {want.env_name!r} is build {to} already")
        if number not in kept:
            raise WspError(
                f"env {want.env_name!r} keeps no build {to}: it keeps "
                f"{', '.join(str(n) for n in kept)}",
                hint=f"`wsp history {project}` lists its builds; `keep-builds` in [workspace] "
                "says how many are kept",
            )
        previous = history.build_marker(kept[number])
        assert previous is not None  # kept_builds lists only builds with a readable marker
        packages = engine.adopt(kept[number])
        action = rollback_action(
            have,
            previous,
            engine.installed(have.prefix),
            packages,
            pip.installed(have.prefix),
            build=number,
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
        planner=rollback_plan(args.project, args.to),
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
                "outcomes": [{**o, "action": "rollback"} for o in result.outcomes_json()],
            }
        )
    elif ok:
        data = result.plan.actions[0].reasons[0].data()
        which = f"build {data['build']}" if data.get("build") else "its build"
        ui.info(
            f"Rolled {want.env_name} back to {which} of {data.get('applied_at') or 'before'}. "
            f"{_against_the_file(ctx, args.project)} "
            f"`wsp rollback {args.project}` again undoes this rollback."
        )
    return ExitCode.OK if ok else ExitCode.ERROR


def _against_the_file(ctx: Context, project: str) -> str:
    """What the next plan does with the env rolled back: bring it up to workspace.toml,
    or nothing when the build gone back to is what the file declares (a second rollback
    undoing a first, a build that differed only by what was changed outside wsp)."""
    from wsp.observe import env_state, observe_env

    want = ctx.desired[project]
    if env_state(want, observe_env(ctx.owner, want.prefix)) == "in sync":
        return "It is what workspace.toml declares: `wsp plan` shows no change."
    return "workspace.toml still declares the newer one: `wsp plan` shows it as an update."
