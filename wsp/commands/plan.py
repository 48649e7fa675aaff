"""`wsp plan`: what would change, for people or as JSON; optionally saved."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.commands import add_json, add_target
from wsp.commands import engine as _engine

if TYPE_CHECKING:
    from wsp.affected import Affected
    from wsp.context import Context
    from wsp.engines import Engine
    from wsp.lockfile import LockView
    from wsp.planner import Plan


def register(sub: Any) -> None:
    p = sub.add_parser("plan")
    add_json(p)
    add_target(p)
    p.add_argument("--out", metavar="FILE", help="save the plan for `wsp apply FILE`")
    p.add_argument(
        "--allow-build",
        action="store_true",
        help="let uv build local projects and sdists whose metadata is not static, to "
        "resolve their pip requirements now (runs their setup.py or build backend)",
    )
    p.add_argument(
        "--affected-since",
        metavar="REF",
        help="only the projects a change since git revision REF reaches (for CI matrices; "
        "docs/ci.md)",
    )
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when something would, 1 on error",
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.channels import redact_text
    from wsp.context import load_context
    from wsp.errors import ExitCode, WspError
    from wsp.fsutil import atomic_write_text, json_text
    from wsp.policy import plan_findings, run_checks
    from wsp.resolve import make_plan

    if args.out and Path(args.out).is_dir():
        raise WspError(f"--out {args.out} is a folder", hint="name a file, e.g. --out plan.json")
    from wsp import lockfile

    ctx = load_context(directory)
    engine = _engine()
    lock = lockfile.read(ctx, engine)
    affected = None
    if args.affected_since is not None:
        affected, plan = _affected_plan(ctx, engine, args.affected_since, args.target, lock)
    else:
        plan = make_plan(ctx, engine, args.target, lock=lock, allow_build=args.allow_build)
    if lock is not None and (stale := lockfile.stale(ctx, lock)) and not args.json:
        ui.info(
            f"note: {lockfile.LOCK_NAME} is out of date for {', '.join(stale)}: "
            "`wsp apply` or `wsp lock` updates it"
        )
    findings = plan_findings(run_checks(ctx, lock=lock))  # shown above the plan
    if args.out:
        # a saved plan is meant to be passed on: URL credentials masked
        atomic_write_text(Path(args.out), redact_text(json_text(plan.to_json())))
    if args.json:
        extra: dict[str, Any] = {}
        if affected is not None:
            extra = {
                "affected": list(affected.projects),
                "removed": list(affected.removed),
                "affected_since": affected.to_json(),
            }
        ui.print_json({**plan.to_json(), "findings": [f.to_json() for f in findings], **extra})
    else:
        ui.render_findings(findings, summary=False)
        if affected is not None:
            _render_affected(affected, len(ctx.ws.projects))
        ui.render_plan(plan)
        if args.out:
            ui.info(
                f"Saved the plan to {args.out}: run `wsp apply {args.out}` to carry out exactly it."
            )
    if args.detailed_exitcode and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def _affected_plan(
    ctx: Context, engine: Engine, ref: str, targets: list[str], lock: LockView | None
) -> tuple[Affected, Plan]:
    """The projects a change since `ref` reaches (wsp.affected), and the plan of those
    (of those among `targets`, when given). A project removed since `ref` whose env is
    still here is planned too: its env would be removed."""
    from wsp.affected import affected_since
    from wsp.planner import Plan as Plan_
    from wsp.resolve import make_plan

    data = lock.data if lock is not None else None
    affected = affected_since(ctx.ws, ctx.desired, ref, engine=engine, lock=data)
    wanted = set(ctx.check_targets(targets)) if targets else None
    names = [n for n in affected.projects if wanted is None or n in wanted]
    owned = ctx.owned_projects()
    names += [n for n in affected.removed if n in owned and (wanted is None or n in wanted)]
    if names:
        plan = make_plan(ctx, engine, names, lock=lock)
    else:  # nothing reached: an empty plan, not one of every project
        inputs = {"workspace_file": ctx.ws.source_hash, "envs": {}}
        plan = Plan_(ctx.ws.name, str(ctx.ws.manifest_path), (), inputs)
    return affected, plan


def _render_affected(affected: Affected, total: int) -> None:
    from wsp import ui

    c = ui.out()
    since = f"{affected.ref} ({affected.base[:12]})"
    if not affected.projects:
        c.print(f"No project is affected by the changes since {ui.esc(since)}.")
    else:
        c.print(
            f"Affected since {ui.esc(since)}: {len(affected.projects)} of {total} "
            f"project{'s' if total != 1 else ''}"
        )
        width = max(len(n) for n in affected.projects)
        for name in affected.projects:
            why = "; ".join(affected.why.get(name, ()))
            c.print(f"  {ui.esc(name.ljust(width))}  {ui.esc(why)}")
    if affected.removed:
        c.print(f"Removed since {ui.esc(affected.ref)}: {ui.esc(', '.join(affected.removed))}")
    for note in affected.notes:
        c.print(f"note: {ui.esc(note)}")
    c.print()
