"""The apply pipeline: the one sequence `wsp apply`, `wsp watch`, `wsp run --sync`,
`wsp rollback` and `wsp destroy` carry out, each a thin composition of it.

    lock -> observe -> gate -> read wsp.lock -> plan -> (saved plan?) -> split ->
    known? -> confirm -> apply -> re-lock -> tidy

Each step is a function of data that returns data (or raises a WspError, tagged with the
step it stopped at: `exc.stage`). What a command shows and asks goes through `Hooks`:
rich output for `wsp apply`, events for `wsp watch`; the pipeline itself prints nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wsp import lockfile
from wsp.actions import ActionKind
from wsp.context import Context, refresh
from wsp.engines import Engine
from wsp.errors import StalePlan, WspError
from wsp.identity import ensure_id
from wsp.lockfile import LockView
from wsp.planner import PLAN_FORMAT, Action, Plan
from wsp.resolve import make_plan

if TYPE_CHECKING:
    from wsp.policy import Report
    from wsp.reconciler import Outcome, Reporter

# Builds the plan under the lock: the declaration's (make_plan) unless a command has its own.
Planner = Callable[[Context, Engine, LockView | None], Plan]


@dataclass(frozen=True)
class SavedPlan:
    """A plan written by `wsp plan --out FILE`, to carry out exactly."""

    path: Path
    data: dict[str, Any]

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.data.get("targets") or ())


@dataclass(frozen=True)
class Request:
    """What to apply and how."""

    targets: tuple[str, ...] = ()
    locked: bool = False  # exactly wsp.lock, refused when out of date
    frozen: bool = False  # wsp.lock as it is
    jobs: int = 2
    saved: SavedPlan | None = None
    allow_destroy: bool = True  # else replace and prune stay pending (watch)
    gate: bool = True  # run the policies first (destroy and rollback don't)
    command: str = "wsp apply"  # named to whoever waits for the workspace lock
    retry_hint: str = "nothing was changed; check the channel or the network, then run again"
    planner: Planner | None = None  # how to plan (default: the declaration, make_plan)


class Hooks(Protocol):
    """What the command shows and asks while the pipeline runs."""

    reporter: Reporter

    def findings(self, report: Report) -> None: ...
    def planned(self, plan: Plan, now: list[Action], pending: list[Action]) -> None: ...
    def confirm(self, plan: Plan, now: list[Action]) -> bool: ...
    def should_stop(self) -> bool: ...
    def applying(self, actions: list[Action]) -> None: ...
    def relocked(self, projects: list[str]) -> None: ...


@dataclass
class Result:
    """What an apply did, for the command to summarise and turn into an exit code."""

    plan: Plan
    now: list[Action] = field(default_factory=list)  # the actions carried out (or meant to be)
    pending: list[Action] = field(default_factory=list)  # destructive, not allowed this time
    outcomes: list[Outcome] = field(default_factory=list)
    relocked: list[str] = field(default_factory=list)
    relock_error: WspError | None = None  # the envs were applied; wsp.lock was not updated
    cancelled: bool = False

    @property
    def blocked(self) -> list[Action]:
        return self.plan.blocked

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def not_started(self) -> list[Action]:
        done = {o.action.env for o in self.outcomes}
        return [a for a in self.now if a.env not in done]

    @property
    def ok(self) -> bool:
        """Everything asked for was done: nothing failed, blocked, skipped or cancelled."""
        return not (self.cancelled or self.failed or self.blocked or self.not_started)

    def outcomes_json(self) -> list[dict[str, Any]]:
        return [
            {
                "env": o.action.env,
                "action": str(o.action.kind),
                "ok": o.ok,
                "error": o.error,
                "warning": o.warning,
            }
            for o in self.outcomes
        ]


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Tag a WspError raised inside with the pipeline step it stopped at."""
    try:
        yield
    except WspError as exc:
        if exc.stage is None:
            exc.stage = name
        raise


# -- the steps ---------------------------------------------------------------------------


def gate(ctx: Context, hooks: Hooks) -> None:
    """The policies: their findings shown, and a blocking error stops here (nothing changed)."""
    from wsp.policy import gate_error, run_checks

    report = run_checks(ctx)
    hooks.findings(report)
    if (error := gate_error(report)) is not None:
        raise error


def read_lock(ctx: Context, engine: Engine, request: Request) -> LockView | None:
    """wsp.lock when there is one; with --locked or --frozen it must be there (and match)."""
    lock = lockfile.read(ctx, engine)
    if not (request.locked or request.frozen):
        return lock
    flag = "--locked" if request.locked else "--frozen"
    targets = request.targets
    if lock is None:
        raise WspError(f"{flag}: no {lockfile.LOCK_NAME} in {ctx.ws.root}", hint="run `wsp lock`")
    if request.locked:
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
    # the packages must satisfy the declaration their hash line claims (with --frozen, only
    # those projects: the rest is installed as locked, on purpose)
    projects = [p for p in ctx.desired if not targets or p in targets]
    lockfile.check(ctx, engine, lock, projects)
    _check_locked_here(ctx, engine, lock, projects, flag)
    return lock


def _check_locked_here(
    ctx: Context, engine: Engine, lock: LockView, projects: list[str], flag: str
) -> None:
    """Refuse (--locked, --frozen) a project whose lock has no packages for the platform
    variant this machine builds it for: they would be solved, not installed from the lock.
    The machine is asked only for a project with several variants here."""
    from wsp.resolve import HostFacts

    host = HostFacts(engine)
    for name in projects:
        want = ctx.desired[name]
        variant = want.picked(host)
        have = lock.locked_platforms.get(name, [])
        if variant.name in have:
            continue
        hint = (
            "run `wsp lock`"
            if variant.name in ctx.ws.platforms
            else f'add "{variant.name}" to platforms in [workspace] and run `wsp lock`'
        )
        raise WspError(
            f"{flag}: {lockfile.LOCK_NAME} has no {variant.name} packages for {name} "
            f"(it has: {', '.join(have) or 'none'}); nothing was changed",
            hint=hint,
        )


def load_saved(path: Path) -> SavedPlan:
    """A plan file of `wsp plan --out`; a clear error when it is not one."""
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
    return SavedPlan(path, data)


def check_saved(saved: SavedPlan, fresh: Plan, ctx: Context) -> None:
    """Refuse a saved plan when the workspace, an env or the channels moved on since."""
    path, data = saved.path, saved.data
    again = f"run `wsp plan --out {path}` again"
    if data.get("workspace") != ctx.ws.name or data.get("manifest") != str(ctx.ws.manifest_path):
        raise StalePlan(
            f"{path} was made for another workspace ({data.get('manifest')})", hint=again
        )
    inputs = data["inputs"]
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

    saved_actions = {a["env"]: a for a in data.get("actions", [])}
    fresh_actions = {a["env"]: a for a in fresh.to_json()["actions"]}
    old, new = exact(list(saved_actions.values())), exact(list(fresh_actions.values()))
    differing = sorted(env for env in old.keys() | new.keys() if old.get(env) != new.get(env))
    if differing:
        why = _why_other_packages(differing, saved_actions, fresh_actions)
        raise StalePlan(f"saved plan {path} is stale: {why}", hint=again)


def _why_other_packages(
    envs: list[str], saved: dict[str, dict[str, Any]], fresh: dict[str, dict[str, Any]]
) -> str:
    """Why the same inputs now give `envs` other packages: this machine picks another
    platform variant, wsp.lock changed (packages from the lock are fixed, so when either
    plan took them from it, the lock moved), else the channels or indexes."""
    variants, locked, channels = [], [], []
    for env in envs:
        was, now = saved.get(env, {}), fresh.get(env, {})
        if was.get("variant") and now.get("variant") and was["variant"] != now["variant"]:
            variants.append(
                f"this machine now runs platform variant {now['variant']} for {env}, "
                f"the plan was made for {was['variant']}"
            )
        elif was.get("from_lock") or now.get("from_lock"):
            locked.append(env)
        else:
            channels.append(env)
    parts = variants
    if locked:
        parts.append(f"{lockfile.LOCK_NAME} changed since it was made ({', '.join(locked)})")
    if channels:
        parts.append(f"the channels or indexes now give other packages for {', '.join(channels)}")
    return "; ".join(parts)


def split(plan: Plan, *, allow_destroy: bool) -> tuple[list[Action], list[Action]]:
    """(to carry out now, destructive ones that wait for consent). Blocked actions are in
    neither: nothing can be done to them; a no-op is carried out only for its kernel."""
    now, pending = [], []
    for a in plan.actions:
        if a.kind is ActionKind.BLOCKED or (a.kind is ActionKind.NOOP and not a.kernel_changes):
            continue
        (pending if a.kind.destructive and not allow_destroy else now).append(a)
    return now, pending


def check_known(actions: Iterable[Action], hint: str) -> None:
    """Refuse to apply while a channel left package versions unknown."""
    for a in actions:
        if a.unknown:
            raise WspError(
                f"cannot apply: {a.unknown}",
                hint=f"{hint.split(';')[0]}; {a.unknown_hint}" if a.unknown_hint else hint,
            )


def relock(ctx: Context, engine: Engine, lock: LockView | None, request: Request) -> list[str]:
    """Keep an existing wsp.lock up to date after an apply made from the declaration."""
    if lock is None or request.locked or request.frozen:
        return []
    return lockfile.refresh_after_apply(ctx, engine, lock)


# -- the pipeline ------------------------------------------------------------------------


def apply(
    ctx: Context,
    engine: Engine,
    request: Request,
    hooks: Hooks,
    *,
    targets: Callable[[Context], Iterable[str] | None] | None = None,
) -> Result:
    """Carry out the plan of `ctx` (or of `request.planner`) under the workspace lock.

    `targets`, when given, picks the projects to plan once the envs were read again under
    the lock (watch: the projects a change touched); it returning an empty list means
    nothing to do.
    """
    from wsp.applylock import workspace_lock
    from wsp.reconciler import apply_plan, tidy

    with stage("lock"), workspace_lock(ctx.state_dir, command=request.command):
        ctx = refresh(ctx)
        if targets is not None:
            picked = targets(ctx)
            if picked is not None:
                picked = tuple(picked)
                if not picked:
                    return Result(Plan(ctx.ws.name, str(ctx.ws.manifest_path), ()))
                request = _with_targets(request, picked)
        if request.gate:
            with stage("policy"):
                gate(ctx, hooks)
        with stage("plan"):
            lock = read_lock(ctx, engine, request) if request.planner is None else None
            planner = request.planner or _declared_plan(request)
            plan = planner(ctx, engine, lock)
            if request.saved is not None:
                check_saved(request.saved, plan, ctx)
            now, pending = split(plan, allow_destroy=request.allow_destroy)
            hooks.planned(plan, now, pending)
            result = Result(plan, now, pending)
            if not now:
                tidy(ctx, hooks.reporter)
                return result
            check_known(now, request.retry_hint)
        if not hooks.confirm(plan, now):
            result.cancelled = True
            return result
        if hooks.should_stop():
            return result
        hooks.applying(now)
        if ctx.owner.id is None:  # markers and staging folder names carry this checkout's id
            ctx = replace(ctx, owner=replace(ctx.owner, id=ensure_id(ctx.state_dir)))
        with stage("apply"):
            result.outcomes = apply_plan(
                ctx,
                plan.only(now),
                engine,
                hooks.reporter,
                jobs=request.jobs,
                should_stop=hooks.should_stop,
            )
        if not ctx.ws.envs_dir_declared and any(o.ok for o in result.outcomes):
            from wsp.conda import remember_envs_dir

            remember_envs_dir(ctx.ws.root, ctx.ws.envs_dir)  # found again from any shell
        if not result.failed and not result.not_started:
            try:
                with stage("lock"):
                    result.relocked = relock(ctx, engine, lock, request)
            except WspError as exc:
                result.relock_error = exc
            if result.relocked:
                hooks.relocked(result.relocked)
    return result


def _with_targets(request: Request, targets: tuple[str, ...]) -> Request:
    return replace(request, targets=targets)


def _declared_plan(request: Request) -> Planner:
    def planner(ctx: Context, engine: Engine, lock: LockView | None) -> Plan:
        targets = request.saved.targets if request.saved is not None else request.targets
        return make_plan(ctx, engine, targets, lock=lock, frozen=request.frozen)

    return planner
