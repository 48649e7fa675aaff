"""`wsp apply [FILE]`: make the envs match, under the workspace lock."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsp.planner import Plan
    from wsp.workflow import Context

from wsp.commands import add_json, add_target
from wsp.commands import engine as _engine


def register(sub: Any) -> None:
    p = sub.add_parser("apply", help="make the envs match workspace.toml")
    add_json(p)
    add_target(p)
    p.add_argument(
        "plan_file", nargs="?", metavar="FILE", help="carry out a plan saved by `wsp plan --out`"
    )
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")
    p.add_argument("--jobs", "-j", type=int, default=2, help="envs built at once (default 2)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--locked",
        action="store_true",
        help="install exactly wsp.lock (no solve); refuse when it is out of date",
    )
    mode.add_argument(
        "--frozen", action="store_true", help="install wsp.lock as it is, even if out of date"
    )


def _load_saved(path: Path) -> dict[str, Any]:
    from wsp.errors import WspError
    from wsp.planner import PLAN_FORMAT

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WspError(f"{path}: no such plan file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise WspError(f"{path}: not a wsp plan ({exc})") from None
    if (
        not isinstance(data, dict)
        or data.get("format_version") != PLAN_FORMAT
        or "inputs" not in data
    ):
        raise WspError(
            f"{path}: not a wsp plan of format {PLAN_FORMAT}",
            hint="make one with `wsp plan --out FILE`",
        )
    return data


def _check_saved(saved: dict[str, Any], fresh: Plan, ctx: Context, path: Path) -> None:
    """Refuse a saved plan when the workspace, an env or the channels moved on since."""
    from wsp.errors import StalePlan

    again = f"run `wsp plan --out {path}` again"
    if saved.get("workspace") != ctx.ws.name or saved.get("manifest") != str(ctx.ws.manifest_path):
        raise StalePlan(
            f"{path} was made for another workspace ({saved.get('manifest')})", hint=again
        )
    inputs = saved["inputs"]
    if inputs.get("workspace_file") != ctx.ws.source_hash:
        raise StalePlan(
            f"saved plan {path} is stale: workspace.toml (or an environment file) changed since it was made",
            hint=again,
        )
    now_envs = fresh.inputs["envs"]
    changed = sorted(
        env for env, fp in (inputs.get("envs") or {}).items() if now_envs.get(env, "absent") != fp
    )
    changed += sorted(env for env in now_envs if env not in (inputs.get("envs") or {}))
    if changed:
        raise StalePlan(
            f"saved plan {path} is stale: env {', '.join(changed)} changed since it was made",
            hint=again,
        )

    def exact(actions: list[dict[str, Any]]) -> dict[str, Any]:
        """Per env: the action and the exact conda and pip packages it installs."""
        return {a["env"]: (a["action"], a.get("install"), a.get("pip_install")) for a in actions}

    old, new = exact(saved.get("actions", [])), exact(fresh.to_json()["actions"])
    differing = sorted(env for env in old.keys() | new.keys() if old.get(env) != new.get(env))
    if differing:
        raise StalePlan(
            f"saved plan {path} is stale: the channels or indexes now give other packages for {', '.join(differing)}",
            hint=again,
        )


def _lock_for(ctx: Context, engine: Any, args: argparse.Namespace, targets: tuple[str, ...]) -> Any:
    """wsp.lock when there is one; with --locked or --frozen it must be there (and match)."""
    from wsp import lockfile
    from wsp.errors import WspError

    lock = lockfile.read(ctx, engine)
    if not (args.locked or args.frozen):
        return lock
    flag = "--locked" if args.locked else "--frozen"
    if lock is None:
        raise WspError(f"{flag}: no {lockfile.LOCK_NAME} in {ctx.ws.root}", hint="run `wsp lock`")
    if args.locked:
        stale = [p for p in lockfile.stale(ctx, lock) if not targets or p in targets]
        if stale:
            raise WspError(
                f"{lockfile.LOCK_NAME} is out of date for {', '.join(stale)}; nothing was changed",
                hint="run `wsp lock`, or apply --frozen to install the lock as it is",
            )
    missing = [p for p in ctx.desired if (not targets or p in targets) and p not in lock.envs]
    if missing:
        raise WspError(
            f"{flag}: {lockfile.LOCK_NAME} has no {', '.join(missing)}", hint="run `wsp lock`"
        )
    return lock


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.errors import ExitCode, WspError
    from wsp.lock import workspace_lock
    from wsp.policy import gate
    from wsp.reconciler import apply_plan, tidy
    from wsp.workflow import load_context, make_plan, refresh

    saved = _load_saved(Path(args.plan_file)) if args.plan_file else None
    ctx = load_context(directory)
    engine = _engine()
    with workspace_lock(ctx.state_dir):
        ctx = refresh(ctx)
        gate(ctx, show=not args.json)  # an error-severity policy finding stops here
        targets = tuple(saved.get("targets") or ()) if saved is not None else tuple(args.target)
        lock = _lock_for(ctx, engine, args, targets)
        plan = make_plan(ctx, engine, targets, lock=lock, frozen=args.frozen)
        if saved is not None:
            _check_saved(saved, plan, ctx, Path(args.plan_file))
        if not args.json:
            ui.render_plan(plan)
        if not plan.has_changes:
            tidy(ctx)
            if args.json:
                ui.print_json({"plan": plan.to_json(), "outcomes": []})
            return ExitCode.OK
        if unknown := plan.unknown:
            raise WspError(
                f"cannot apply: {unknown[0].unknown}",
                hint="nothing was changed; check the channel or the network, then run again",
            )
        if (
            saved is None
            and not args.yes
            and not ui.confirmed(
                "Apply these changes?",
                verb="apply",
                hint="pass --yes to apply without asking, "
                "or save the plan with --out and apply that file",
            )
        ):
            ui.info("Apply cancelled; nothing was changed.")
            return ExitCode.ERROR
        with ui.ApplyDisplay() as display:
            outcomes = apply_plan(ctx, plan, engine, display, jobs=args.jobs)
        ok = all(o.ok for o in outcomes)
        if ok and lock is not None and not (args.locked or args.frozen):
            from wsp import lockfile

            if updated := lockfile.refresh_after_apply(ctx, engine, lock):
                ui.info(f"Updated {lockfile.LOCK_NAME} for {', '.join(updated)}.")
    blocked = [a for a in plan.actions if a.kind == "blocked"]
    if args.json:
        ui.print_json(
            {
                "plan": plan.to_json(),
                "outcomes": [
                    {"env": o.action.env, "action": o.action.kind, "ok": o.ok, "error": o.error}
                    for o in outcomes
                ],
            }
        )
    else:
        if outcomes:
            ui.apply_summary(outcomes)
        for a in blocked:
            ui.error_line(f"{a.env}: not applied: {a.reasons[0].message}")
    return ExitCode.ERROR if blocked or any(not o.ok for o in outcomes) else ExitCode.OK
