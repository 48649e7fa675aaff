"""`wsp check [--fix]`: run the policies; mend what can be mended safely."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        description="Run every policy rule and print the findings; exit 1 when one is an error. "
        "Rules and codes: docs/policies.md.",
    )
    add_json(p)
    p.add_argument(
        "--fix",
        action="store_true",
        help="mend what is safe to mend (conda's auto-activate setting in .condarc); "
        "for the rest, print the command to run",
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.context import load_context
    from wsp.errors import ExitCode
    from wsp.policy import run_checks
    from wsp.policy.fix import plan_fixes

    ctx = load_context(directory)
    report = run_checks(ctx)
    fixed: list[dict[str, object]] = []
    commands: list[tuple[str, str]] = []
    if args.fix:
        edits, commands = plan_fixes(report)
        for edit in edits:
            ui.info(f"{edit.code}: setting {ui.esc(edit.what)} in {ui.esc(edit.path)}:")
            for line in edit.diff():
                ui.info(f"  {ui.esc(line)}")
            edit.write()
            fixed.append(edit.to_json())
        for code, command in commands:
            ui.info(f"{code}: wsp does not change this itself; to mend it, run: {ui.esc(command)}")
        if edits:
            report = run_checks(ctx)
        elif not commands:
            ui.info("Nothing that --fix can mend.")
    if args.json:
        data = report.to_json()
        if args.fix:
            data["fixed"] = fixed
            data["commands"] = [{"code": c, "command": cmd} for c, cmd in commands]
        ui.print_json(data)
    else:
        ui.render_findings(report.findings, report.notes)
    return ExitCode.ERROR if report.errors else ExitCode.OK
