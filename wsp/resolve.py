"""The resolve step: what each planned env should hold, from a solve or from wsp.lock.

Nothing is solved on the no-op fast path (the env's marker vouches for it); a project
wsp.lock still matches takes its packages from the lock; the rest are solved, and their
pip requirements resolved by uv.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from wsp import sysreq
from wsp.actions import ActionKind
from wsp.context import Context, sources
from wsp.engines import Engine, LockedEnv, Package, SolveRequest
from wsp.errors import ChannelUnreachable, ManifestError, ManifestErrors, SolveError
from wsp.fsutil import stable_hash
from wsp.graph import DesiredEnv, unsolvable_error
from wsp.lockfile import LockView, lock_id, unsatisfied
from wsp.marker import Declared
from wsp.observe import ObservedEnv, switches_variant
from wsp.planner import Action, Plan, Resolution, needs_installed, needs_solve, plan

if TYPE_CHECKING:
    from wsp import pip


class HostFacts:
    """This machine's virtual packages, detected by the engine on first use only: a plan
    whose envs are all in sync never asks."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._found: tuple[sysreq.HostPackage, ...] | None = None

    def __call__(self) -> tuple[sysreq.HostPackage, ...]:
        if self._found is None:
            self._found = tuple(self._engine.host_virtual_packages())
        return self._found


def resolve(
    ctx: Context,
    engine: Engine,
    projects: Iterable[str],
    *,
    force: bool = False,
    lock: LockView | None = None,
    frozen: bool = False,
    host: Callable[[], tuple[sysreq.HostPackage, ...]] | None = None,
    allow_build: bool = False,
) -> dict[str, Resolution]:
    """Solve what the plan needs solved; nothing on the no-op fast path.

    Each env gets the first of its candidate platform variants this machine (`host`, the
    engine's detection by default) can run; an env the machine can't run is not solved
    (the planner blocks it), unless `force` (export: solved for its first variant).
    With a `lock`, a project it still matches (or any project it has, when `frozen`)
    takes its packages from the lock instead of a solve; one whose packages no longer
    satisfy its declaration (a hand-merged lock) is solved again. pip requirements are
    resolved without building anything unless `allow_build`: what only a build can tell
    is left to apply (`pip_deferred`, said in the resolution's notes).
    """
    host = host or HostFacts(engine)
    out: dict[str, Resolution] = {}
    unsolvable: list[ManifestError] = []
    for name in projects:
        want = ctx.desired[name]
        have = ctx.observed.get(want.env_name)
        # With several variants here, the machine may now run a better (or only another)
        # one than the env was built for: that is a change, whatever the marker says.
        switch = not force and switches_variant(want, have, host)
        if not switch and lock is not None and not force and _built_from(lock, want, have, frozen):
            if have is not None and have.marker is not None and needs_solve(want, have):
                out[name] = Resolution(current=True)  # built from this lock (--frozen)
            continue  # in sync with the lock, known without parsing it
        locked = lock.envs.get(name) if lock is not None else None
        if not switch and not force and not needs_solve(want, have):
            built = _built_variant(want, have)
            if built is None or not _usable(ctx, engine, lock, locked, want, built, frozen):
                continue  # in sync, and no lock to compare with
        variant, lacking = sysreq.choose(want.choices, host())
        if lacking and not force:
            out[name] = Resolution(variant=variant, lacking=lacking)
            continue
        if _usable(ctx, engine, lock, locked, want, variant, frozen) and locked is not None:
            packages = locked.packages[variant.name]
            raw = locked.pip.get(variant.name, {})
            ident = lock_id(packages, {n: p.version for n, p in raw.items()})
            installed, pip_installed = _what_is_installed(engine, want, have)
            from wsp import pip

            pip_pins = pip.from_lock(want, raw)
            pins = _pip_versions(pip.Resolved(pins=pip_pins), pip_installed)
            out[name] = Resolution(
                packages=packages,
                installed=installed,
                pip=pins,
                pip_installed=pip_installed,
                lock_id=ident,
                behind=lock is not None and lock.hashes.get(name) != want.lock_hash,
                variant=variant,
                pip_pins=pip_pins,
            )
            continue
        installed, pip_installed = _what_is_installed(engine, want, have)
        prefer = set(have.marker.packages) if have and have.marker else None
        if not _built_for_same(want, have, variant):
            prefer = set()  # other virtual packages: the old builds may be the wrong ones
        request = SolveRequest(
            specs=want.specs,
            channels=sources(want),
            channel_priority=want.channel_priority,
            platform=variant.platform,
            exclude_newer=want.exclude_newer,
            virtual_packages=variant.virtual_packages(),
        )
        keep = locked.packages.get(variant.name, ()) if locked is not None else ()
        if locked is not None and lock is not None:
            solved_with = lock.target(locked, variant.name).virtual_packages
            if solved_with and list(solved_with) != [str(v) for v in variant.virtual_packages()]:
                keep = ()
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
                variant=variant,
            )
            continue
        except SolveError as exc:
            unsolvable.append(unsolvable_error(ctx.ws, want, exc))
            continue  # every project's problem is reported, not only the first's
        from wsp import pip

        resolved = pip.pins_for(
            ctx.ws,
            want,
            packages,
            platform=None if variant.platform == want.platform else variant.platform,
            allow_build=allow_build,
        )
        notes = tuple(f"project {name}: {n}" for n in resolved.notes)
        deferred = pip.needs_build_message(name, resolved) if resolved.needs_build else None
        out[name] = Resolution(
            packages=tuple(packages),
            installed=installed,
            pip=None if deferred else _pip_versions(resolved, pip_installed),
            pip_provided=resolved.provided,
            pip_installed=pip_installed,
            variant=variant,
            pip_pins=resolved.pins,
            pip_deferred=deferred,
            notes=(*notes, deferred) if deferred else notes,
        )
    if unsolvable:
        raise ManifestErrors.of(unsolvable)
    return out


def _pip_versions(
    resolved: pip.Resolved, pip_installed: dict[str, pip.PipDist] | None
) -> dict[str, str]:
    """The pins' versions; a local project's version known only at apply is taken as the
    one installed now (it is built again at apply either way)."""
    from wsp.pip import UNKNOWN

    out = resolved.versions
    for name, version in out.items():
        if version == UNKNOWN and pip_installed and name in pip_installed:
            out[name] = pip_installed[name].version
    return out


def _usable(
    ctx: Context,
    engine: Engine,
    lock: LockView | None,
    locked: LockedEnv | None,
    want: DesiredEnv,
    variant: sysreq.Variant,
    frozen: bool,
) -> bool:
    """Whether the lock has packages for `variant` that still match the declaration (any,
    when `frozen`): by its hash line, and, when that says they match, by the packages
    themselves (a hand-merged lock, a copied hash line: solved again instead)."""
    if not (
        lock is not None
        and locked is not None
        and variant.name in locked.packages
        and (frozen or lock.hashes.get(want.project) == want.lock_hash)
    ):
        return False
    if lock.hashes.get(want.project) != want.lock_hash:
        return True  # --frozen, behind on purpose
    return not unsatisfied(ctx, engine, lock, [want.project], platforms=[variant.name])


def _built_for_same(want: DesiredEnv, have: ObservedEnv | None, variant: sysreq.Variant) -> bool:
    """Whether the env was built for `variant` with the same system requirements: only
    then are its packages worth keeping (a CPU build must not stay because it still
    satisfies the specs once `cuda` is declared)."""
    if have is None or have.marker is None:
        return True  # nothing to keep anyway
    m = have.marker
    return (
        m.built_for(want.platform) == variant.name and m.system_requirements == variant.declared()
    )


def _built_variant(want: DesiredEnv, have: ObservedEnv | None) -> sysreq.Variant | None:
    """The candidate variant the env was built for, as its marker says (an env of an older
    wsp: its platform's plain variant)."""
    if have is None or have.marker is None:
        return None
    return want.candidate(have.marker.built_for(want.platform))


def _built_from(lock: LockView, want: DesiredEnv, have: ObservedEnv | None, frozen: bool) -> bool:
    """Whether the env is in sync and holds exactly what the lock holds for it (its marker
    keeps the lock_id, or its packages and pip pins are the same), known from the lock's
    summary alone."""
    if have is None or have.marker is None or needs_solve(want, have, frozen=frozen):
        return False
    variant = _built_variant(want, have)
    if variant is None:
        return False
    locked = lock.ids.get(want.project, {}).get(variant.name)
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
    from wsp.pip import installed

    return tuple(engine.installed(want.prefix)), installed(want.prefix)


def make_plan(
    ctx: Context,
    engine: Engine,
    targets: Iterable[str] = (),
    *,
    lock: LockView | None = None,
    frozen: bool = False,
    allow_build: bool = False,
) -> Plan:
    """The plan of `targets` (all projects when none): resolved (`resolve`), planned, with
    the Jupyter kernel changes. Nothing is built unless `allow_build`: apply plans the
    same way, and resolves what needs a build once confirmed (the reconciler)."""
    targets = ctx.check_targets(targets)
    names = [n for n in ctx.desired if not targets or n in targets]
    resolutions = resolve(
        ctx,
        engine,
        names,
        lock=lock,
        frozen=frozen,
        host=HostFacts(engine),
        allow_build=allow_build,
    )
    made = plan_of(ctx, resolutions, targets)
    if (note := ctx.envs_dir_note()) is not None:
        made = replace(made, notes=(*made.notes, note))
    if pip_notes := tuple(n for r in resolutions.values() for n in r.notes):
        made = replace(made, notes=(*made.notes, *pip_notes))
    return with_kernels(ctx, made)


def plan_of(ctx: Context, resolutions: Mapping[str, Resolution], targets: Sequence[str]) -> Plan:
    """The planner's answer for the workspace as `ctx` sees it, given what was resolved."""
    return plan(
        ctx.desired,
        ctx.observed,
        resolutions,
        workspace=ctx.ws.name,
        manifest=str(ctx.ws.manifest_path),
        source_hash=ctx.ws.source_hash,
        targets=targets,
        why_not_ours={name: o.why_not_ours(ctx.owner) for name, o in ctx.observed.items()},
    )


def with_kernels(ctx: Context, made: Plan, *, always: bool = False) -> Plan:
    """The plan with the Jupyter kernel changes (wsp.kernels) of its projects, each on its
    env's action (a removal whose env has none gets a no-op action of its own). Nothing is
    looked at for a workspace that declares no kernel and whose envs were built with none,
    unless `always` (destroy: kernels whose env is gone go too)."""
    if (
        not always
        and not any(w.kernel for w in ctx.desired.values())
        and not any(
            o.marker and o.marker.declared and o.marker.declared.jupyter
            for o in ctx.observed.values()
        )
    ):
        return made
    from wsp import kernels

    projects = set(made.targets) if made.targets else None
    # what the apply writes to conda-meta/state of each env it builds (as the reconciler
    # does): the launchers are planned with those variables
    env_vars = {
        a.project: (a.declared or Declared()).variables
        for a in made.actions
        if a.project and a.kind.builds
    }
    changes = kernels.plan_kernels(ctx.ws, ctx.desired, projects=projects, env_vars=env_vars)
    gone = [(a.env, a.prefix) for a in made.actions if a.kind.fresh or a.kind is ActionKind.PRUNE]
    changes = kernels.rebuilt_with_their_env(changes, gone)
    if projects is not None and gone:  # --target: the other projects' kernels an env takes
        others = kernels.plan_kernels(ctx.ws, ctx.desired, projects=set(ctx.desired) - projects)
        changes += [
            c
            for c in kernels.rebuilt_with_their_env(others, gone)
            if any(r.code == "env-rebuilt" for r in c.reasons)
        ]
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
