"""`wsp destroy`: delete every env this workspace owns (and nothing else)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.commands import add_json, add_target

if TYPE_CHECKING:
    from wsp.context import Context
    from wsp.engines import Engine
    from wsp.lockfile import LockView
    from wsp.planner import Plan


def register(sub: Any) -> None:
    p = sub.add_parser("destroy")
    add_json(p)
    add_target(p)
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")


def destroy_plan(targets: tuple[str, ...]) -> Any:
    """The pipeline's planner for destroy: a prune of every env the workspace owns (or of
    those of `targets`), read under the workspace lock."""

    def planner(ctx: Context, _engine: Engine, _lock: LockView | None) -> Plan:
        from wsp.planner import Plan, prune_action
        from wsp.reasons import Destroy
        from wsp.resolve import with_kernels

        actions = tuple(
            prune_action(have, Destroy())
            for env, have in sorted(ctx.observed.items())
            if have.ownership == "ours"
            and have.marker is not None
            and not have.moved_from
            and (not targets or have.marker.project in targets or env in targets)
        )
        plan = Plan(ctx.ws.name, str(ctx.ws.manifest_path), actions, {}, targets)
        return with_kernels(replace(ctx, desired={}), plan, always=True)  # every kernel it wrote

    return planner


def removed_kernel(outcome: Any) -> bool:
    """The destroy of an env (or of a kernel alone) removed a kernel of the workspace."""
    kernel = outcome.action.kernel
    return outcome.ok and kernel is not None and kernel.action == "remove"


def left_alone(ctx: Context, targets: tuple[str, ...], actions: list[Any]) -> list[str]:
    """What is true of each target that has no env to destroy: its env does not exist, or
    it is not this workspace's (and why)."""
    out = []
    for target in targets:
        project = ctx.ws.projects.get(target)
        env = project.env_name if project is not None else target
        if any(a.env == env or a.project == target for a in actions):
            continue
        have = ctx.observed.get(env)
        if have is None:
            out.append(f"{target}'s env does not exist ({ctx.ws.envs_dir / env})")
        elif have.ownership != "ours" or have.moved_from:
            out.append(
                f"{target}'s env {have.prefix} is not this workspace's: "
                f"{have.why_not_ours(ctx.owner)}; left alone"
            )
    return out


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui, workflow
    from wsp.commands import engine
    from wsp.commands.apply import CliHooks
    from wsp.context import load_context
    from wsp.errors import ExitCode

    ctx = load_context(directory)
    targets = ctx.check_targets(args.target)

    class Hooks(CliHooks):
        def planned(self, plan: Plan, now: list[Any], pending: list[Any]) -> None:
            if args.json:
                return
            envs = [a for a in now if a.kind == "prune"]
            alone = [a.kernel for a in now if a.kind != "prune" and a.kernel is not None]
            spared = left_alone(ctx, targets, envs)
            if not now:
                why = "; ".join(spared) or "this workspace owns no env"
                ui.out().print(f"Nothing to destroy: {ui.esc(why)}.")
                return
            for note in spared:
                ui.out().print(f"[dim]note:[/] {ui.esc(note)}")
            if envs:
                ui.out().print(
                    f"wsp will delete {len(envs)} env(s) owned by workspace {ui.esc(ctx.ws.name)}:"
                )
            for a in envs:
                ui.out().print(f"  [red]- {ui.esc(a.env)}[/] [dim]{ui.esc(a.prefix)}[/]")
                if a.kernel is not None and a.kernel.action == "remove":  # Jupyter lists it
                    k = a.kernel
                    ui.out().print(f"    [red]- kernel {ui.esc(k.name)}[/] [dim]{ui.esc(k.dir)}[/]")
            if alone:  # kernels of this workspace whose env is already gone
                ui.out().print(f"wsp will remove {len(alone)} kernel(s) whose env is gone:")
            for k in alone:
                ui.out().print(f"  [red]- kernel {ui.esc(k.name)}[/] [dim]{ui.esc(k.dir)}[/]")

    request = workflow.Request(
        targets=targets, gate=False, command="wsp destroy", planner=destroy_plan(targets)
    )
    with ui.ApplyDisplay() as display:
        hooks = Hooks(
            display,
            json=args.json,
            yes=args.yes,
            question="Delete these envs?",
            verb="destroy",
            hint="pass --yes to destroy without asking",
        )
        result = workflow.apply(ctx, engine(), request, hooks)
    if result.cancelled:
        return ExitCode.ERROR
    if args.json:
        ui.print_json(
            {
                "destroyed": [o.action.env for o in result.outcomes if o.ok],
                "failed": [o.action.env for o in result.outcomes if not o.ok],
                "kernels": [o.action.kernel.name for o in result.outcomes if removed_kernel(o)],
            }
        )
    elif result.outcomes:
        ui.destroy_summary(result.outcomes)
    return ExitCode.OK if result.ok else ExitCode.ERROR
