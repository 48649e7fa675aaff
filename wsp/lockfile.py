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
from pathlib import Path
from typing import Any

from wsp import __version__, pip
from wsp.context import Context, refresh
from wsp.engines import Engine, LockData, LockedEnv, Package, SolveRequest
from wsp.errors import ChannelUnreachable, SolveError, WspError
from wsp.fsutil import atomic_write_json, sha256_hex, stable_hash
from wsp.graph import unsolvable_error

LOCK_NAME = "wsp.lock"


def lock_path(ctx: Context) -> Path:
    return ctx.ws.root / LOCK_NAME


SUMMARY_FORMAT = 2


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

    @property
    def data(self) -> LockData:
        if self._data is None:
            self._data = self._engine.read_lock(self._path, self._root)
        return self._data

    @property
    def platforms(self) -> tuple[str, ...]:
        return self.data.platforms

    @property
    def envs(self) -> dict[str, LockedEnv]:
        return self.data.envs

    def _summarize(self, data: LockData) -> dict[str, Any]:
        """Per project and platform: its lock_id, the hash of its conda dists and its pip
        pins (what `resolve.resolve` compares an env's marker and conda-meta with)."""
        summary: dict[str, Any] = {"hashes": dict(data.hashes), "platforms": {}, "ids": {}}
        for name, env in data.envs.items():
            summary["platforms"][name] = sorted(env.packages)
            summary["ids"][name] = {}
            for plat, pkgs in env.packages.items():
                pins = {n: v for n, (v, _) in env.pip.get(plat, {}).items()}
                dists = stable_hash(sorted(p.dist for p in pkgs))
                summary["ids"][name][plat] = [lock_id(pkgs, pins), dists, pins]
        return summary

    def _read_summary(self) -> dict[str, Any] | None:
        try:
            summary = json.loads(self._summary_path.read_bytes())
            if (
                summary["format"] == SUMMARY_FORMAT
                and summary["sha256"] == self._sha256
                and summary["wsp"] == __version__
            ):
                return {k: summary[k] for k in ("hashes", "platforms", "ids")}
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
    """The platforms to lock: the declared ones, else this machine's (which every desired
    env already names: no need to ask rattler)."""
    if ctx.ws.platforms:
        return ctx.ws.platforms
    here = {want.platform for want in ctx.desired.values()}
    if len(here) == 1:
        return tuple(here)
    from wsp.specs import current_platform

    return (current_platform(),)


def stale(ctx: Context, lock: LockView) -> list[str]:
    """Projects the lock no longer matches (declaration changed, missing, or undeclared)."""
    wanted = set(platforms(ctx))
    locked = lock.locked_platforms
    out = [
        name
        for name, want in sorted(ctx.desired.items())
        if lock.hashes.get(name) != want.lock_hash
        or name not in locked
        or not wanted <= set(locked[name])
    ]
    out += sorted(p for p in locked if p not in ctx.desired)
    return out


def lock_id(packages: Iterable[Package], pins: dict[str, str]) -> str:
    """Identifies one platform's locked content; kept in the marker of envs built from it."""
    return stable_hash({"conda": sorted(p.dist for p in packages), "pip": sorted(pins.items())})


def _pip_location(want_options: pip.PipOptions, name: str, version: str) -> str:
    """Where a pin comes from, as wsp.lock records it. The lock keys pip packages by their
    location, so it names the pin too (`#name==version`): without it the pins of one
    find-links folder, or one name at two versions in two projects, collapse into one."""
    if want_options.no_index and want_options.find_links:
        base = want_options.find_links[0]
    else:
        base = f"{(want_options.index_url or 'https://pypi.org/simple').rstrip('/')}/{name}/"
    return f"{base}#{name}=={version}"


def lock_workspace(
    ctx: Context, engine: Engine, old: LockData | LockView | None, *, update: Collection[str] = ()
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
            request = SolveRequest(
                want.specs, want.channels, want.channel_priority, platform, want.exclude_newer
            )
            try:
                solved = engine.solve(request, keep=keep)
            except ChannelUnreachable as exc:
                raise WspError(f"can't lock {name} for {platform}: {exc}") from None
            except SolveError as exc:
                raise unsolvable_error(ctx.ws, want, exc, platform) from None
            packages[platform] = tuple(solved)
            pins[platform] = {
                n: (v, _pip_location(want.pip_options, n, v))
                for n, v in pip.pins_for(ctx.ws, want, solved)[0].items()
            }
        channels = tuple(u for c in want.channels for u in c.urls[:1])
        envs[name] = LockedEnv(channels=channels, packages=packages, pip=pins)
    hashes = {name: want.lock_hash for name, want in ctx.desired.items()}
    cutoffs = {n: w.exclude_newer for n, w in ctx.desired.items() if w.exclude_newer is not None}
    return LockData(platforms=plats, envs=envs, hashes=hashes, exclude_newer=cutoffs)


def write(ctx: Context, engine: Engine, data: LockData) -> None:
    engine.write_lock(lock_path(ctx), ctx.ws.root, data)


def refresh_after_apply(ctx: Context, engine: Engine, lock: LockView) -> list[str]:
    """Keep an existing wsp.lock up to date after envs were applied from the file;
    returns the projects re-locked."""
    stale_projects = stale(ctx, lock)
    if stale_projects:
        write(ctx, engine, lock_workspace(refresh(ctx), engine, lock))
    return stale_projects
