"""`wsp plan`: what would change, for people or as JSON; optionally saved."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_json, add_target
from wsp.commands import engine as _engine


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="show what would change to make the envs match workspace.toml")
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
    plan = make_plan(ctx, engine, args.target, lock=lock, allow_build=args.allow_build)
    if lock is not None and (stale := lockfile.stale(ctx, lock)) and not args.json:
        ui.info(
            f"note: {lockfile.LOCK_NAME} is out of date for {', '.join(stale)}: "
            "`wsp apply` or `wsp lock` updates it"
        )
    findings = plan_findings(run_checks(ctx))  # shown above the plan
    if args.out:
        # a saved plan is meant to be passed on: URL credentials masked
        atomic_write_text(Path(args.out), redact_text(json_text(plan.to_json())))
    if args.json:
        ui.print_json({**plan.to_json(), "findings": [f.to_json() for f in findings]})
    else:
        ui.render_findings(findings, summary=False)
        ui.render_plan(plan)
        if args.out:
            ui.info(
                f"Saved the plan to {args.out}: run `wsp apply {args.out}` to carry out exactly it."
            )
    if args.detailed_exitcode and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK
