"""The resolve step: what each planned env should hold, from a solve or from wsp.lock.

Nothing is solved on the no-op fast path (the env's marker vouches for it); a project
wsp.lock still matches takes its packages from the lock; the rest are solved, and their
pip requirements resolved by uv.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from wsp import pip
from wsp.actions import ActionKind
from wsp.context import Context
from wsp.engines import Engine, Package, SolveRequest
from wsp.errors import ChannelUnreachable, ManifestError, ManifestErrors, SolveError
from wsp.fsutil import stable_hash
from wsp.graph import DesiredEnv, unsolvable_error
from wsp.lockfile import LockView, lock_id
from wsp.observe import ObservedEnv
from wsp.planner import Action, Plan, Resolution, needs_installed, needs_solve, plan


def resolve(
    ctx: Context,
    engine: Engine,
    projects: Iterable[str],
    *,
    force: bool = False,
    lock: LockView | None = None,
    frozen: bool = False,
) -> dict[str, Resolution]:
    """Solve what the plan needs solved; nothing on the no-op fast path.

    With a `lock`, a project it still matches (or any project it has, when `frozen`)
    takes its packages from the lock instead of a solve.
    """
    out: dict[str, Resolution] = {}
    unsolvable: list[ManifestError] = []
    for name in projects:
        want = ctx.desired[name]
        have = ctx.observed.get(want.env_name)
        if lock is not None and not force and _built_from(lock, want, have, frozen):
            if have is not None and have.marker is not None and needs_solve(want, have):
                out[name] = Resolution(current=True)  # built from this lock (--frozen)
            continue  # in sync with the lock, known without parsing it
        locked = lock.envs.get(name) if lock is not None else None
        usable = (
            locked is not None
            and lock is not None
            and want.platform in locked.packages
            and (frozen or lock.hashes.get(name) == want.lock_hash)
        )
        if usable and locked is not None:
            packages = locked.packages[want.platform]
            pins = {n: v for n, (v, _) in locked.pip.get(want.platform, {}).items()}
            ident = lock_id(packages, pins)
            installed, pip_installed = _what_is_installed(engine, want, have)
            out[name] = Resolution(
                packages=packages,
                installed=installed,
                pip=pins,
                pip_installed=pip_installed,
                lock_id=ident,
                behind=lock is not None and lock.hashes.get(name) != want.lock_hash,
            )
            continue
        if not force and not needs_solve(want, have):
            continue
        installed, pip_installed = _what_is_installed(engine, want, have)
        prefer = set(have.marker.packages) if have and have.marker else None
        request = SolveRequest(
            specs=want.specs,
            channels=want.channels,
            channel_priority=want.channel_priority,
            platform=want.platform,
            exclude_newer=want.exclude_newer,
        )
        keep = locked.packages.get(want.platform, ()) if locked is not None else ()
        try:
            packages = engine.solve(
                request,
                prefix=want.prefix if installed is not None else None,
                prefer=prefer,
                keep=keep,
            )
        except ChannelUnreachable as exc:
            out[name] = Resolution(
                installed=installed,
                unreachable=exc.channel,
                unreachable_detail=exc.detail,
                unreachable_hint=exc.hint or "",
            )
            continue
        except SolveError as exc:
            unsolvable.append(unsolvable_error(ctx.ws, want, exc))
            continue  # every project's problem is reported, not only the first's
        pins, provided = pip.pins_for(ctx.ws, want, packages)
        out[name] = Resolution(
            packages=tuple(packages),
            installed=installed,
            pip=pins,
            pip_provided=provided,
            pip_installed=pip_installed,
        )
    if unsolvable:
        raise unsolvable[0] if len(unsolvable) == 1 else ManifestErrors(unsolvable)
    return out


def _built_from(lock: LockView, want: DesiredEnv, have: ObservedEnv | None, frozen: bool) -> bool:
    """Whether the env is in sync and holds exactly what the lock holds for it (its marker
    keeps the lock_id, or its packages and pip pins are the same), known from the lock's
    summary alone."""
    if have is None or have.marker is None or needs_solve(want, have, frozen=frozen):
        return False
    locked = lock.ids.get(want.project, {}).get(want.platform)
    if locked is None or not (frozen or lock.hashes.get(want.project) == want.lock_hash):
        return False
    ident, dists, pins = locked
    return have.marker.lock_id == ident or (
        stable_hash(sorted(have.dists)) == dists and pins == have.marker.pip
    )


def _what_is_installed(
    engine: Engine, want: DesiredEnv, have: ObservedEnv | None
) -> tuple[tuple[Package, ...] | None, dict[str, pip.PipDist] | None]:
    """The env's conda records and site-packages, when the plan must diff against them."""
    if not needs_installed(have):
        return None, None
    return tuple(engine.installed(want.prefix)), pip.installed(want.prefix)


def make_plan(
    ctx: Context,
    engine: Engine,
    targets: Iterable[str] = (),
    *,
    lock: LockView | None = None,
    frozen: bool = False,
) -> Plan:
    targets = ctx.check_targets(targets)
    names = [n for n in ctx.desired if not targets or n in targets]
    resolutions = resolve(ctx, engine, names, lock=lock, frozen=frozen)
    made = plan(
        ctx.desired,
        ctx.observed,
        resolutions,
        workspace=ctx.ws.name,
        manifest=str(ctx.ws.manifest_path),
        source_hash=ctx.ws.source_hash,
        targets=targets,
        why_not_ours={name: o.why_not_ours(ctx.owner) for name, o in ctx.observed.items()},
    )
    if (note := ctx.envs_dir_note()) is not None:
        made = replace(made, notes=(*made.notes, note))
    return with_kernels(ctx, made)


def with_kernels(ctx: Context, made: Plan) -> Plan:
    """The plan with the Jupyter kernel changes (wsp.kernels) of its projects, each on its
    env's action (a removal whose env has none gets a no-op action of its own). Nothing is
    looked at for a workspace that declares no kernel and whose envs were built with none."""
    if not any(w.kernel for w in ctx.desired.values()) and not any(
        o.marker and o.marker.declared and o.marker.declared.jupyter for o in ctx.observed.values()
    ):
        return made
    from wsp import kernels

    projects = set(made.targets) if made.targets else None
    changes = kernels.plan_kernels(ctx.ws, ctx.desired, projects=projects)
    by_project = {a.project: i for i, a in enumerate(made.actions) if a.project}
    actions = list(made.actions)
    for change in changes:
        i = by_project.get(change.project) if change.project else None
        if i is not None and actions[i].kernel is None:
            actions[i] = replace(actions[i], kernel=change)
        elif (owner := change.installed.owner if change.installed else None) is not None:
            actions.append(
                Action(ActionKind.NOOP, owner.env, owner.prefix, owner.project, kernel=change)
            )
    inputs = {**made.inputs, "kernels": {c.name: c.observed for c in changes}}
    return replace(made, actions=tuple(actions), inputs=inputs)
