"""wsp.lock: every project solved for every platform, in the pixi.lock format.

The lock records, beside the packages, a hash of each project's declaration
(`DesiredEnv.lock_hash`), so wsp knows which projects it still matches. Re-locking
keeps every locked version that still satisfies the declaration (minimal churn);
`--update` lets chosen projects move to the newest allowed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import __version__, codec, sysreq
from wsp.context import Context, sources
from wsp.engines import Engine, LockData, LockedEnv, LockTarget, Package, SolveRequest
from wsp.errors import ChannelUnreachable, ManifestError, ManifestErrors, SolveError, WspError
from wsp.fsutil import atomic_write_json, sha256_hex, stable_hash
from wsp.graph import DesiredEnv, unsolvable_error

if TYPE_CHECKING:
    from wsp import pip

LOCK_NAME = "wsp.lock"


def lock_path(ctx: Context) -> Path:
    return ctx.ws.root / LOCK_NAME


SUMMARY_FORMAT = 4


@dataclass(frozen=True)
class _Summary:
    """`.wsp/lock-summary.json`'s content, typed: a summary of other shapes (another
    version's, or edited) is not used, wsp.lock is parsed instead."""

    hashes: dict[str, str]
    platforms: dict[str, list[str]]
    ids: dict[str, dict[str, tuple[str, str, dict[str, str]]]]
    virtual: dict[str, dict[str, list[str]]]
    cuda: dict[str, dict[str, list[str]]]
    unmet: dict[str, dict[str, list[tuple[str, str, str]]]]


class LockView:
    """wsp.lock as `LockData` (`platforms`, `envs`, `hashes`), parsed (by the engine) only
    when its packages are needed. What a no-op plan needs, every project's declaration
    hash, locked platforms and `lock_id`s, comes from `.wsp/lock-summary.json`, kept for
    the exact bytes of wsp.lock (their sha256)."""

    def __init__(self, path: Path, root: Path, engine: Engine) -> None:
        self._path, self._root, self._engine = path, root, engine
        self._data: LockData | None = None
        self._summary_path = root / ".wsp" / "lock-summary.json"
        raw = path.read_bytes()
        self._sha256 = sha256_hex(raw)
        summary = self._read_summary()
        if summary is None:  # parse now: a broken lock is reported as early as ever
            summary = self._summarize(self.data)
            from wsp import deferred

            deferred.write(str(self._summary_path), lambda: self._write_summary(summary))
        self.hashes: dict[str, str] = summary["hashes"]
        self.locked_platforms: dict[str, list[str]] = summary["platforms"]
        # project -> platform -> [lock_id, hash of the sorted conda dists, pip pins]
        self.ids: dict[str, dict[str, list[Any]]] = summary["ids"]
        # project -> platform -> the virtual packages it was solved with ([] in a lock of an
        # older wsp, which recorded none)
        self.virtual: dict[str, dict[str, list[str]]] = summary["virtual"]
        # project -> platform -> what of its packages needs a CUDA driver
        self.cuda: dict[str, dict[str, list[str]]] = summary["cuda"]
        # project -> platform -> [dist, dependency, why] of what its packages need that
        # none of them is (`unmet_depends`): [] but in a lock a hand edit broke
        self._unmet: dict[str, dict[str, list[Any]]] = summary["unmet"]

    def unmet(self, project: str, platform: str) -> list[tuple[Package, str, str]]:
        """What the locked packages of `project` for `platform` need that none of them is
        (`unmet_depends`), from the summary: worked out once per content of wsp.lock."""
        found = self._unmet.get(project, {}).get(platform) or []
        if not found:
            return []
        env = self.envs.get(project)
        by_dist = {p.dist: p for p in env.packages.get(platform, ())} if env is not None else {}
        out = []
        for dist, dep, why in found:
            if (pkg := by_dist.get(dist) or Package.from_dist(dist)) is not None:
                out.append((pkg, dep, why))
        return out

    @property
    def data(self) -> LockData:
        if self._data is None:
            self._data = self._engine.read_lock(self._path, self._root)
        return self._data

    @property
    def path(self) -> Path:
        return self._path

    @property
    def platforms(self) -> tuple[str, ...]:
        return self.data.platforms

    @property
    def envs(self) -> dict[str, LockedEnv]:
        return self.data.envs

    @property
    def targets(self) -> tuple[LockTarget, ...]:
        return self.data.targets

    def target(self, env: LockedEnv, platform: str) -> LockTarget:
        return self.data.target(env, platform)

    def _summarize(self, data: LockData) -> dict[str, Any]:
        """Per project and platform: its lock_id, the hash of its conda dists and its pip
        pins (what `resolve.resolve` compares an env's marker and conda-meta with)."""
        summary: dict[str, Any] = {
            "hashes": dict(data.hashes),
            "platforms": {},
            "ids": {},
            "virtual": {},
            "cuda": {},
            "unmet": {},
        }
        for name, env in data.envs.items():
            summary["platforms"][name] = sorted(env.packages)
            for key in ("ids", "virtual", "cuda", "unmet"):
                summary[key][name] = {}
            for plat, pkgs in env.packages.items():
                pins = {n: p.version for n, p in env.pip.get(plat, {}).items()}
                dists = stable_hash(sorted(p.dist for p in pkgs))
                summary["ids"][name][plat] = [lock_id(pkgs, pins), dists, pins]
                summary["virtual"][name][plat] = list(data.target(env, plat).virtual_packages)
                summary["cuda"][name][plat] = list(sysreq.cuda_builds(pkgs))
                summary["unmet"][name][plat] = [
                    [p.dist, dep, why] for p, dep, why in unmet_depends(self._engine, pkgs)
                ]
        return summary

    def _read_summary(self) -> dict[str, Any] | None:
        try:
            summary = json.loads(self._summary_path.read_bytes())
            if (
                summary["format"] == SUMMARY_FORMAT
                and summary["sha256"] == self._sha256
                and summary["wsp"] == __version__
            ):
                keys = ("hashes", "platforms", "ids", "virtual", "cuda", "unmet")
                fields = {k: summary[k] for k in keys}
                codec.load(_Summary, fields)  # the shapes the plan reads, or not used
                return fields
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def _write_summary(self, summary: dict[str, Any]) -> None:
        if not self._summary_path.parent.is_dir():  # only where wsp keeps state already
            return
        data = {"format": SUMMARY_FORMAT, "sha256": self._sha256, "wsp": __version__, **summary}
        with contextlib.suppress(OSError):
            atomic_write_json(self._summary_path, data)


def read(ctx: Context, engine: Engine) -> LockView | None:
    """The workspace's lock, or None when it has none."""
    path = lock_path(ctx)
    if not path.is_file():
        return None
    return LockView(path, ctx.ws.root, engine)


def platforms(ctx: Context) -> tuple[str, ...]:
    """The platforms (variants) to lock: the declared ones, else this machine's (which
    every desired env already names: no need to ask rattler)."""
    if ctx.ws.platforms:
        return ctx.ws.platforms
    here = {want.platform for want in ctx.desired.values()}
    if len(here) == 1:
        return tuple(here)
    from wsp.specs import current_platform

    return (current_platform(),)


def _variants(ctx: Context, want: DesiredEnv) -> dict[str, sysreq.Variant]:
    """What `want` is locked for, by platform (variant) name."""
    wanted = platforms(ctx)
    found = {v.name: v for v in want.variants if v.name in wanted}
    for name in wanted:  # the desired env was made on another platform (a cached one)
        found.setdefault(name, sysreq.Variant(name, name))
    return {name: found[name] for name in wanted}


def _solved_for(virtual: list[str] | tuple[str, ...], variant: sysreq.Variant) -> bool:
    """Whether packages locked with `virtual` were solved for `variant` (a lock of an older
    wsp recorded none: taken as solved for it)."""
    return not virtual or list(virtual) == [str(v) for v in variant.virtual_packages()]


def stale(ctx: Context, lock: LockView) -> list[str]:
    """Projects the lock no longer matches (declaration or system requirements changed,
    missing, or undeclared)."""
    return list(why_stale(ctx, lock))


def why_stale(ctx: Context, lock: LockView) -> dict[str, str]:
    """Why the lock no longer matches each project it doesn't: `not locked`, `not locked
    for osx-arm64`, `system requirements changed on linux-64: __cuda 12.0 -> 11.8`,
    `declaration changed`, `no longer declared`."""
    wanted = platforms(ctx)
    locked = lock.locked_platforms
    out: dict[str, str] = {}
    for name, want in sorted(ctx.desired.items()):
        if name not in locked:
            out[name] = "not locked"
            continue
        if missing := [p for p in wanted if p not in locked[name]]:
            out[name] = f"not locked for {', '.join(missing)}"
            continue
        changed = [
            f"on {p}: {sysreq.diff_virtual(lock.virtual.get(name, {}).get(p, []), v)}"
            for p, v in _variants(ctx, want).items()
            if not _solved_for(lock.virtual.get(name, {}).get(p, []), v)
        ]
        if changed:
            out[name] = f"system requirements changed {'; '.join(changed)}"
        elif lock.hashes.get(name) != want.lock_hash:
            out[name] = "declaration changed"
    out.update((p, "no longer declared") for p in sorted(locked) if p not in ctx.desired)
    return out


def lock_id(packages: Iterable[Package], pins: dict[str, str]) -> str:
    """Identifies one platform's locked content; kept in the marker of envs built from it."""
    return stable_hash({"conda": sorted(p.dist for p in packages), "pip": sorted(pins.items())})


def lock_targets(ctx: Context, want: DesiredEnv) -> dict[str, tuple[sysreq.Variant, LockTarget]]:
    """Per platform (variant) `want` is locked for: the variant, and the lock's platform
    entry for it. The entry is named after the variant when the project needs nothing
    beyond what the workspace declares for it, else tagged with what it adds
    (`linux-64--cuda-11-8`): each entry's virtual packages say what machines it serves."""
    from wsp.graph import targets

    base = {t.name: t for t in targets(ctx.ws, want.platform)}
    out = {}
    for name, variant in _variants(ctx, want).items():
        entry = sysreq.lock_name(variant, base.get(name, sysreq.Variant(name, variant.platform)))
        virtual = tuple(str(v) for v in variant.virtual_packages())
        out[name] = (variant, LockTarget(entry, variant.platform, virtual))
    return out


def lock_workspace(
    ctx: Context,
    engine: Engine,
    old: LockData | LockView | None,
    *,
    update: Collection[str] = (),
    allow_build: bool = False,
    broken: set[str] | None = None,
) -> LockData:
    """Solve every project for every platform (variant), with the virtual packages its
    declaration requires, never this machine's; reuse what `old` has where it still fits
    (its declaration hash matches and its packages satisfy the declaration). pip
    requirements are resolved for each platform without building anything unless
    `allow_build`: a project whose pip layer needs a build is an error then. `broken`:
    the projects whose packages in `old` no longer satisfy their declaration, when the
    caller has worked them out already."""
    from wsp import pip

    plats = platforms(ctx)
    if broken is None:
        broken = {b.project for b in unsatisfied(ctx, engine, old)} if old is not None else set()
    envs: dict[str, LockedEnv] = {}
    entries: dict[str, LockTarget] = {}
    unsolvable: list[ManifestError] = []
    for name, want in sorted(ctx.desired.items()):
        previous = old.envs.get(name) if old is not None else None
        targets = lock_targets(ctx, want)
        for platform, (variant, entry) in list(targets.items()):
            known = entries.setdefault(entry.name, entry)
            if known.virtual_packages != entry.virtual_packages:  # two sets, one tag
                unique = f"{entry.name}-{stable_hash(entry.virtual_packages)[7:15]}"
                entry = LockTarget(unique, entry.subdir, entry.virtual_packages)
                targets[platform] = (variant, entries.setdefault(entry.name, entry))
        fresh = (
            previous is not None
            and name not in update
            and name not in broken
            and old is not None
            and old.hashes.get(name) == want.lock_hash
            and set(plats) <= set(previous.packages)
            and all(
                _solved_for(old.target(previous, p).virtual_packages, v)
                for p, (v, _) in targets.items()
            )
        )
        channels = tuple(c.identity for c in want.channels)  # never a mirror
        names = {p: entry.name for p, (_, entry) in targets.items() if entry.name != p}
        if fresh and previous is not None:
            envs[name] = LockedEnv(
                channels=previous.channels,
                packages={p: previous.packages[p] for p in plats},
                pip={p: previous.pip.get(p, {}) for p in plats},
                targets=names,
            )
            continue
        packages: dict[str, tuple[Package, ...]] = {}
        pins: dict[str, dict[str, pip.Pin]] = {}
        for platform, (variant, _) in targets.items():
            keep = () if previous is None or name in update else previous.packages.get(platform, ())
            # solved for other virtual packages: its builds may be the wrong ones now
            if (
                previous is not None
                and old is not None
                and not _solved_for(old.target(previous, platform).virtual_packages, variant)
            ):
                keep = ()
            request = SolveRequest(
                want.specs,
                sources(want),
                want.channel_priority,
                variant.platform,
                want.exclude_newer,
                virtual_packages=variant.virtual_packages(),
            )
            try:
                solved = engine.solve(request, keep=keep)
            except ChannelUnreachable as exc:
                raise WspError(f"can't lock {name} for {platform}: {exc}") from None
            except SolveError as exc:
                unsolvable.append(unsolvable_error(ctx.ws, want, exc, platform))
                break  # its other platforms would say the same; the next project
            packages[platform] = tuple(solved)
            resolved = pip.pins_for(
                ctx.ws,
                want,
                solved,
                platform=None if variant.platform == want.platform else variant.platform,
                allow_build=allow_build,
            )
            if resolved.needs_build:
                raise WspError(
                    f"can't lock {name} for {platform}: pip requirements need a build to "
                    f"resolve: {'; '.join(resolved.needs_build)}",
                    hint="`wsp lock --allow-build` resolves them (it runs that code)",
                )
            pins[platform] = resolved.pins
        else:
            envs[name] = LockedEnv(channels=channels, packages=packages, pip=pins, targets=names)
    if unsolvable:  # every project's problem, not only the first's; nothing is written
        raise ManifestErrors.of(unsolvable)
    for platform in plats:  # a platform no project is locked for still has its entry
        if not any(e.variant == platform for e in entries.values()):
            variant = next(
                (v for v in _targets_of(ctx) if v.name == platform),
                sysreq.Variant(platform, platform),
            )
            virtual = tuple(str(v) for v in variant.virtual_packages())
            entries[platform] = LockTarget(platform, variant.platform, virtual)
    hashes = {name: want.lock_hash for name, want in ctx.desired.items()}
    cutoffs = {n: w.exclude_newer for n, w in ctx.desired.items() if w.exclude_newer is not None}
    order = {p: i for i, p in enumerate(plats)}
    ordered = tuple(sorted(entries.values(), key=lambda e: (order.get(e.variant, 0), e.name)))
    return LockData(
        platforms=plats, envs=envs, hashes=hashes, exclude_newer=cutoffs, targets=ordered
    )


def _targets_of(ctx: Context) -> tuple[sysreq.Variant, ...]:
    from wsp.graph import targets
    from wsp.specs import current_platform

    return targets(ctx.ws, current_platform())


@dataclass(frozen=True)
class Unsatisfied:
    """A declared spec the locked packages of a project no longer satisfy, or a dependency
    of a locked package that none of them satisfies (layer "depends")."""

    project: str
    platform: str
    spec: str  # as the declaration has it (a conda match spec, or a pip requirement)
    why: str
    layer: str = "conda"  # or "pip", or "depends"
    needed_by: Package | None = None  # "depends": the locked package that needs `spec`

    def __str__(self) -> str:
        head = f"{self.project} ({self.platform})"
        if self.needed_by is not None:
            p = self.needed_by
            return f"{head}: {p.name} {p.version} ({p.build}) depends on {self.spec!r}: {self.why}"
        what = "pip requirement" if self.layer == "pip" else "spec"
        return f"{head}: {what} {self.spec!r} is not satisfied: {self.why}"


def unmet_depends(engine: Engine, packages: Iterable[Package]) -> list[tuple[Package, str, str]]:
    """(package, dependency, why) for each dependency of locked `packages` that none of
    them satisfies (virtual packages are the machine's): a set no solver gives, such as a
    wsp.lock that lost a line in a hand edit or a merge. conda and rattler install what
    they are given; wsp installs no such set."""
    packages = sorted(packages)
    needer: dict[str, Package] = {}
    for pkg in packages:
        for dep in pkg.depends:
            needer.setdefault(dep, pkg)
    if not needer:
        return []
    return [
        (needer[dep], dep, why)
        for dep, why in engine.unsatisfied(list(needer), packages)
        if why.endswith(" is locked")  # not a spec of an old package rattler can't read
    ]


def unsatisfied(
    ctx: Context,
    engine: Engine,
    lock: LockData | LockView,
    projects: Iterable[str] | None = None,
    *,
    platforms: Iterable[str] | None = None,
) -> list[Unsatisfied]:
    """What the lock's packages break of each project's declaration, for the projects
    whose hash line says the lock matches their declaration (a lock stale by its hash is
    `stale`'s; `apply --frozen` installs it as it is on purpose). Conda: each declared match
    spec is satisfied by a locked package of its name (the engine matches); pip: each
    requirement's specifier contains the locked version (a name conda provides counts).
    And, for every locked project of wsp.lock, a dependency of a locked package that none
    of them satisfies (whatever the hash line says)."""
    from wsp import pip

    names = list(projects) if projects is not None else sorted(ctx.desired)
    out: list[Unsatisfied] = []
    for name in names:
        want = ctx.desired.get(name)
        locked = lock.envs.get(name)
        if want is None or locked is None:
            continue
        matches = lock.hashes.get(name) == want.lock_hash
        for platform in platforms if platforms is not None else sorted(locked.packages):
            packages = locked.packages.get(platform)
            if packages is None:
                continue
            if isinstance(lock, LockView):
                out += [
                    Unsatisfied(name, platform, dep, why, "depends", pkg)
                    for pkg, dep, why in lock.unmet(name, platform)
                ]
            if not matches:
                continue
            for spec, why in engine.unsatisfied(want.specs, packages):
                out.append(Unsatisfied(name, platform, spec, why))
            python = next((p.version for p in packages if p.name == "python"), None)
            pins = {n: p.version for n, p in locked.pip.get(platform, {}).items()}
            for req, why in pip.unsatisfied(
                want.pip,
                pins,
                pip.conda_provided(p.name for p in packages),
                platform=lock.target(locked, platform).subdir or platform,
                python_version=python,
            ):
                out.append(Unsatisfied(name, platform, req, why, "pip"))
    return out


def check(
    ctx: Context, engine: Engine, lock: LockView, projects: Iterable[str] | None = None
) -> None:
    """Refuse a lock whose packages break the declaration they claim to match (a hand-merged
    lock, a copied hash line) or need a package it does not hold, naming each package and
    the spec it breaks, located in wsp.lock at the first."""
    if broken := unsatisfied(ctx, engine, lock, projects):
        shown = "; ".join(str(b) for b in broken[:5])
        more = f" (and {len(broken) - 5} more)" if len(broken) > 5 else ""
        first = broken[0]
        what = (
            "lacks what its packages depend on"
            if first.layer == "depends"
            else "does not satisfy workspace.toml"
        )
        raise WspError(
            f"{locate(lock, first)}: {LOCK_NAME} {what}: {shown}{more}",
            hint="run `wsp lock` to solve those projects again, and commit the result",
        )


def locate(lock: LockView, problem: Unsatisfied) -> str:
    """`FILE:LINE:COL` in wsp.lock of what `problem` blames: the line of the locked package
    in its project's list for that platform (the one that needs what is missing, or the
    one of the spec's name), else the project's hash line, which claims the lock matches."""
    from wsp.errors import display_path
    from wsp.specs import conda_name

    where = display_path(lock.path)
    try:
        lines = lock.path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return where
    env = lock.envs.get(problem.project)
    entry = lock.target(env, problem.platform).name if env is not None else problem.platform
    pkg = problem.needed_by
    if pkg is None and problem.layer == "conda":
        name = conda_name(problem.spec)
        env_pkgs = env.packages.get(problem.platform, ()) if env is not None else ()
        pkg = next((p for p in env_pkgs if p.name == name), None)
    hash_line = f"{_HASH_LINE}{problem.project} "
    found = next((i for i, ln in enumerate(lines) if ln.startswith(hash_line)), None)
    if pkg is not None:
        at = _package_line(lines, problem.project, entry, pkg)
        if at is not None:
            return f"{where}:{at[0] + 1}:{at[1] + 1}"
    return f"{where}:{found + 1}:1" if found is not None else where


_HASH_LINE = "# wsp-lock-hash "  # as the engine writes it


def _package_line(
    lines: list[str], project: str, entry: str, pkg: Package
) -> tuple[int, int] | None:
    """(line, column), from 0, of `pkg`'s `- conda: URL` item under `environments:` ->
    `project` -> `packages:` -> `entry` in wsp.lock as rattler writes it; None when the
    file is laid out otherwise."""
    stem = f"/{pkg.name}-{pkg.version}-{pkg.build}."  # its archive's name, either format
    section = env_at = plat_at = None
    for i, line in enumerate(lines):
        if section is None:
            section = i if line == "environments:" else None
        elif env_at is None:
            if line and not line.startswith(" "):
                return None  # the section is over
            env_at = i if line.strip() in (f"{project}:", f"'{project}':") else None
        elif plat_at is None:
            if line[:3].strip():
                return None  # the next project
            plat_at = i if line.strip() in (f"{entry}:", f"'{entry}':") else None
        else:
            item = line.lstrip()
            if not item.startswith("- "):
                return None  # the platform's list is over
            if item.split(": ", 1)[-1].rsplit("/", 1)[-1].startswith(stem[1:]):
                return i, len(line) - len(item)
    return None


def write(ctx: Context, engine: Engine, data: LockData) -> None:
    engine.write_lock(lock_path(ctx), ctx.ws.root, data)


def refresh_after_apply(ctx: Context, engine: Engine, lock: LockView) -> list[str]:
    """Keep an existing wsp.lock up to date after envs were applied from the file (builds
    allowed, as at apply); returns the projects re-locked."""
    broken = {b.project for b in unsatisfied(ctx, engine, lock)}
    stale_projects = sorted({*stale(ctx, lock), *broken})
    if stale_projects:
        # the lock reads the declaration only: the envs just built need not be read again
        data = lock_workspace(ctx, engine, lock, allow_build=True, broken=broken)
        write(ctx, engine, data)
    return stale_projects
