"""`wsp apply [FILE]`: make the envs match, under the workspace lock."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.commands import add_jobs, add_json, add_target
from wsp.commands import engine as _engine

if TYPE_CHECKING:
    from wsp.planner import Action, Plan
    from wsp.policy import Report
    from wsp.reconciler import Reporter
    from wsp.workflow import Result


def register(sub: Any) -> None:
    p = sub.add_parser("apply")
    add_json(p)
    add_target(p)
    p.add_argument(
        "plan_file", nargs="?", metavar="FILE", help="carry out a plan saved by `wsp plan --out`"
    )
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")
    add_jobs(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--locked",
        action="store_true",
        help="install exactly wsp.lock (no solve); refuse when it is out of date",
    )
    mode.add_argument(
        "--frozen", action="store_true", help="install wsp.lock as it is, even if out of date"
    )


@dataclass
class CliHooks:
    """The pipeline's hooks for a command run by a person: findings and plan on the
    terminal (nothing but JSON on stdout with --json), a confirmation, a progress display."""

    reporter: Reporter
    json: bool = False
    yes: bool = False
    question: str = "Apply these changes?"
    verb: str = "apply"
    hint: str = (
        "pass --yes to apply without asking, or save the plan with --out and apply that file"
    )
    show_plan: bool = True
    to_stderr: bool = False  # `wsp run --sync`: stdout belongs to the command

    def findings(self, report: Report) -> None:
        from wsp import ui
        from wsp.policy import shown

        if not self.json:
            ui.render_findings(shown(report), summary=False, stderr=self.to_stderr)

    def planned(self, plan: Plan, now: list[Action], pending: list[Action]) -> None:
        from wsp import ui

        if not self.json and self.show_plan:
            ui.render_plan(plan, stderr=self.to_stderr, next_steps=False)

    def confirm(self, plan: Plan, now: list[Action]) -> bool:
        from wsp import ui

        if self.yes:
            return True
        deleting = [a for a in now if a.kind.destructive]
        if deleting:
            also = len(now) - len(deleting)
            if ui.confirmed_deletion(deleting, verb=self.verb, hint=self.hint, also=also):
                return True
        elif ui.confirmed(self.question, verb=self.verb, hint=self.hint):
            return True
        ui.info(f"{self.verb.capitalize()} cancelled; nothing was changed.")
        return False

    def should_stop(self) -> bool:
        return False

    def applying(self, actions: list[Action]) -> None:
        pass

    def relocked(self, projects: list[str]) -> None:
        from wsp import lockfile, ui

        ui.info(f"Updated {lockfile.LOCK_NAME} for {', '.join(projects)}.")


def report(result: Result, *, json: bool, stderr: bool = False) -> int:
    """The summary of an apply (JSON or a line) and its exit code: 0 only when everything
    planned was done."""
    from wsp import ui
    from wsp.errors import ExitCode

    if json:
        ui.print_json({"plan": result.plan.to_json(), "outcomes": result.outcomes_json()})
    else:
        if result.outcomes or result.blocked or result.not_started:
            ui.apply_summary(
                result.outcomes,
                blocked=result.blocked,
                not_started=result.not_started,
                stderr=stderr,
            )
        for a in result.blocked:
            ui.error_line(f"{a.env}: not applied: {a.reasons[0].message}")
            for step in a.reasons[0].next_steps:
                ui.info(f"  - {ui.esc(step)}")
    if result.relock_error is not None:
        raise result.relock_error
    return ExitCode.OK if result.ok else ExitCode.ERROR


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui, workflow
    from wsp.context import load_context

    saved = workflow.load_saved(Path(args.plan_file)) if args.plan_file else None
    ctx = load_context(directory)
    request = workflow.Request(
        targets=tuple(args.target),
        locked=args.locked,
        frozen=args.frozen,
        jobs=args.jobs,
        saved=saved,
    )
    with ui.ApplyDisplay() as display:
        hooks = CliHooks(display, json=args.json, yes=args.yes or saved is not None)
        result = workflow.apply(ctx, _engine(), request, hooks)
    if result.cancelled:
        return 1
    return report(result, json=args.json)
