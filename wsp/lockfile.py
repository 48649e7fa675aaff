"""wsp.lock: every project solved for every platform, in the pixi.lock format.

The lock records, beside the packages, a hash of each project's declaration
(`DesiredEnv.lock_hash`), so wsp knows which projects it still matches. Re-locking
keeps every locked version that still satisfies the declaration (minimal churn);
`--update` lets chosen projects move to the newest allowed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

from wsp import pip
from wsp.engines import Engine, LockData, LockedEnv, Package, SolveRequest
from wsp.errors import ChannelUnreachable, SolveError, WspError
from wsp.fsutil import stable_hash
from wsp.workflow import Context, pip_pins

LOCK_NAME = "wsp.lock"


def lock_path(ctx: Context) -> Path:
    return ctx.ws.root / LOCK_NAME


def read(ctx: Context, engine: Engine) -> LockData | None:
    """The workspace's lock, or None when it has none."""
    path = lock_path(ctx)
    if not path.is_file():
        return None
    return engine.read_lock(path, ctx.ws.root)


def platforms(ctx: Context) -> tuple[str, ...]:
    from wsp.engines.rattler import current_platform

    return ctx.ws.platforms or (current_platform(),)


def stale(ctx: Context, lock: LockData) -> list[str]:
    """Projects the lock no longer matches (declaration changed, missing, or undeclared)."""
    wanted = set(platforms(ctx))
    out = [
        name
        for name, want in sorted(ctx.desired.items())
        if lock.hashes.get(name) != want.lock_hash
        or name not in lock.envs
        or not wanted <= set(lock.envs[name].packages)
    ]
    out += sorted(p for p in lock.envs if p not in ctx.desired)
    return out


def lock_id(packages: Iterable[Package], pins: dict[str, str]) -> str:
    """Identifies one platform's locked content; kept in the marker of envs built from it."""
    return stable_hash({"conda": sorted(p.dist for p in packages), "pip": sorted(pins.items())})


def _pip_location(want_options: pip.PipOptions, name: str) -> str:
    if want_options.no_index and want_options.find_links:
        return want_options.find_links[0]
    return f"{(want_options.index_url or 'https://pypi.org/simple').rstrip('/')}/{name}/"


def lock_workspace(
    ctx: Context, engine: Engine, old: LockData | None, *, update: Collection[str] = ()
) -> LockData:
    """Solve every project for every platform; reuse what `old` has where it still fits."""
    plats = platforms(ctx)
    envs: dict[str, LockedEnv] = {}
    for name, want in sorted(ctx.desired.items()):
        previous = old.envs.get(name) if old is not None else None
        fresh = (
            previous is not None
            and name not in update
            and old is not None
            and old.hashes.get(name) == want.lock_hash
            and set(plats) <= set(previous.packages)
        )
        if fresh and previous is not None:
            envs[name] = LockedEnv(
                channels=previous.channels,
                packages={p: previous.packages[p] for p in plats},
                pip={p: previous.pip.get(p, {}) for p in plats},
            )
            continue
        packages: dict[str, tuple[Package, ...]] = {}
        pins: dict[str, dict[str, tuple[str, str]]] = {}
        for platform in plats:
            keep = () if previous is None or name in update else previous.packages.get(platform, ())
            request = SolveRequest(want.specs, want.channels, want.channel_priority, platform)
            try:
                solved = engine.solve(request, keep=keep)
            except ChannelUnreachable as exc:
                raise WspError(f"can't lock {name} for {platform}: {exc}") from None
            except SolveError as exc:
                raise ctx.ws.error(
                    ("projects", name, "dependencies"),
                    f"project {name!r} can't be solved for {platform}: {exc.message}",
                ) from None
            packages[platform] = tuple(solved)
            pins[platform] = {
                n: (v, _pip_location(want.pip_options, n))
                for n, v in pip_pins(ctx, want, solved)[0].items()
            }
        channels = tuple(u for c in want.channels for u in c.urls[:1])
        envs[name] = LockedEnv(channels=channels, packages=packages, pip=pins)
    hashes = {name: want.lock_hash for name, want in ctx.desired.items()}
    return LockData(platforms=plats, envs=envs, hashes=hashes)


def write(ctx: Context, engine: Engine, data: LockData) -> None:
    engine.write_lock(lock_path(ctx), ctx.ws.root, data)


def refresh_after_apply(ctx: Context, engine: Engine, lock: LockData) -> list[str]:
    """Keep an existing wsp.lock up to date after envs were applied from the file;
    returns the projects re-locked."""
    from wsp.workflow import refresh

    stale_projects = stale(ctx, lock)
    if stale_projects:
        write(ctx, engine, lock_workspace(refresh(ctx), engine, lock))
    return stale_projects
