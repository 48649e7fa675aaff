"""The pipeline, one step per function: load -> graph -> observe -> resolve -> plan.

Each step takes the previous one's data and returns its own; the CLI strings them
together and the reconciler carries the result out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wsp import graph as graph_mod
from wsp import pip
from wsp.engines import Engine, Package, SolveRequest
from wsp.errors import ChannelUnreachable, SolveError, WspError
from wsp.fsutil import stable_hash
from wsp.graph import DesiredEnv
from wsp.manifest import Workspace, find_manifest
from wsp.observe import ObservedEnv, observe
from wsp.planner import Plan, Resolution, needs_installed, needs_solve, plan

if TYPE_CHECKING:
    import networkx as nx

    from wsp.lockfile import LockView


@dataclass(frozen=True)
class Context:
    """A loaded workspace: its desired envs, what is on disk, and its graph (built on first use:
    a no-op plan never needs networkx)."""

    ws: Workspace
    desired: dict[str, DesiredEnv]
    observed: dict[str, ObservedEnv]
    _graph: nx.DiGraph | None = field(default=None, repr=False, compare=False)

    @property
    def graph(self) -> nx.DiGraph:
        g = self._graph
        if g is None:
            g = graph_mod.build(self.ws)
            object.__setattr__(self, "_graph", g)
        return g

    @property
    def state_dir(self) -> Path:
        return self.ws.root / ".wsp"

    def check_targets(self, targets: Iterable[str]) -> tuple[str, ...]:
        targets = tuple(targets)
        owned = {
            o.marker.project for o in self.observed.values() if o.ownership == "ours" and o.marker
        }
        for t in targets:
            if t not in self.ws.projects and t not in owned and t not in self.observed:
                import difflib

                close = difflib.get_close_matches(t, list(self.ws.projects), n=1)
                raise WspError(
                    f"--target {t!r} is not a project of this workspace",
                    hint=f"did you mean {close[0]!r}?"
                    if close
                    else f"projects: {', '.join(self.ws.projects)}",
                )
        return targets


def load_context(directory: Path) -> Context:
    """The workspace around `directory`: its desired envs come from `.wsp/desired.json`
    when nothing they were computed from has changed (wsp.manifest.cache)."""
    from wsp.manifest.cache import load_desired

    ws, desired, g = load_desired(find_manifest(directory))
    return Context(ws, desired, observe(ws), g)


def refresh(ctx: Context) -> Context:
    """The same workspace, with what is on disk read again."""
    return Context(ctx.ws, ctx.desired, observe(ctx.ws), ctx._graph)


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
    from wsp.lockfile import lock_id

    out: dict[str, Resolution] = {}
    for name in projects:
        want = ctx.desired[name]
        have = ctx.observed.get(want.env_name)
        if lock is not None and not force and _built_from(lock, want, have, frozen):
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
            out[name] = Resolution(installed=installed, unreachable=exc.channel)
            continue
        except SolveError as exc:
            raise ctx.ws.error(
                ("projects", name, "dependencies"),
                f"project {name!r} can't be solved: {exc.message}",
            ) from None
        pins, provided = pip_pins(ctx, want, packages)
        out[name] = Resolution(
            packages=tuple(packages),
            installed=installed,
            pip=pins,
            pip_provided=provided,
            pip_installed=pip_installed,
        )
    return out


def _built_from(lock: LockView, want: DesiredEnv, have: ObservedEnv | None, frozen: bool) -> bool:
    """Whether the env is in sync and holds exactly what the lock holds for it (its marker
    keeps the lock_id, or its packages and pip pins are the same), known from the lock's
    summary alone."""
    if have is None or have.marker is None or needs_solve(want, have):
        return False
    locked = lock.ids.get(want.project, {}).get(want.platform)
    if locked is None or not (frozen or lock.hashes.get(want.project) == want.lock_hash):
        return False
    ident, dists, pins = locked
    return have.marker.extra.get("lock_id") == ident or (
        stable_hash(sorted(have.dists)) == dists
        and pins == dict(have.marker.extra.get("pip") or {})
    )


def _what_is_installed(
    engine: Engine, want: DesiredEnv, have: ObservedEnv | None
) -> tuple[tuple[Package, ...] | None, dict[str, pip.PipDist] | None]:
    """The env's conda records and site-packages, when the plan must diff against them."""
    if not needs_installed(have):
        return None, None
    return tuple(engine.installed(want.prefix)), pip.installed(want.prefix)


def pip_pins(
    ctx: Context, want: DesiredEnv, packages: Iterable[Package]
) -> tuple[dict[str, str], dict[str, str]]:
    """uv's exact pins for the env's pip requirements, for the Python the solve picked:
    (pins pip installs, pins left to the conda package of the same name)."""
    if not want.pip:
        return {}, {}
    packages = list(packages)
    python = next((p.version for p in packages if p.name == "python"), None)
    if python is None:
        raise ctx.ws.error(
            ("projects", want.project, "pip"),
            f"env {want.env_name!r} has pip requirements but its solve has no python",
        )
    try:
        pins = pip.compile_pins(want.pip, python, want.pip_options)
    except pip.PipError as exc:
        raise ctx.ws.error(
            ("projects", want.project, "pip"),
            f"pip requirements of env {want.env_name!r} can't be resolved: {exc.message}",
        ) from None
    by_conda = pip.conda_provided(p.name for p in packages)
    return (
        {n: v for n, v in pins.items() if n not in by_conda},
        {n: v for n, v in pins.items() if n in by_conda},
    )


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
    return plan(
        ctx.desired,
        ctx.observed,
        resolutions,
        workspace=ctx.ws.name,
        manifest=str(ctx.ws.manifest_path),
        source_hash=ctx.ws.source_hash,
        targets=targets,
        why_not_ours={name: o.why_not_ours(ctx.ws) for name, o in ctx.observed.items()},
    )
