"""`wsp gc`: find, and with `--yes` delete, what no env and no lock uses.

Four kinds of things:

- package cache entries (`<cache>/pkgs/NAME-VERSION-BUILD/`, with their `.lock` file and
  any archive): those no env on the machine records in its `conda-meta` (every env in
  envs-dir, in conda's envs dirs and in ~/.conda/environments.txt, and the builds they
  keep for rollback) and no package of this workspace's wsp.lock names;
- repodata cache entries (`<cache>/repodata/`): those of channels that neither this
  workspace (declared, mirrors, wsp.lock) nor any env's records name;
- the builds this workspace's envs keep beyond `keep-builds`;
- what a killed apply left half-written in the package cache: a store of compiled
  modules being built aside (`<cache>/pkgs/NAME-VERSION-BUILD/.wsp-pyc/.tmp-*`), which no
  apply reads, in an entry that stays.

Safety rules, each checked again right before a deletion under the workspace lock:

- a cache file whose link count says something outside the entries being deleted still
  links it (an env wsp did not find, readable or not) keeps its whole entry;
- an entry with a file owned by another user, or a folder this user may not read, is kept
  (a shared cache: it may be theirs);
- an entry fetched or changed in the last ten minutes is kept (an install elsewhere may
  be about to link it), and so is one whose `.lock` another process holds;
- what wsp cannot attribute (unknown files in the cache) is never touched.

Sizes are counted twice: `apparent` (the bytes of the files) and `freed` (the bytes that
deleting them gives back: a file hard-linked into an env frees nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from wsp import channels, conda, history, lockfile
from wsp.context import sources
from wsp.engines.linking import STORE, STORE_ASIDE

if TYPE_CHECKING:
    from wsp.context import Context
    from wsp.engines import Engine

FRESH_SECONDS = 600  # an entry younger than this may be about to be linked
Kind = Literal["package", "repodata", "build", "leftover"]
_SHARD_URL = re.compile(rb"(?:https?|file)://[!-~]+?/repodata_shards\.msgpack\.zst")


@dataclass(frozen=True)
class Item:
    """One thing gc frees (or keeps, with why)."""

    kind: Kind
    name: str  # a dist, a repodata URL, "ENV build N"
    paths: tuple[Path, ...]  # removed together
    apparent: int = 0
    freed: int = 0
    why_kept: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "paths": [str(p) for p in self.paths],
            "apparent_bytes": self.apparent,
            "freed_bytes": self.freed,
        }
        if self.why_kept:
            out["why_kept"] = self.why_kept
        return out


@dataclass
class Report:
    """What gc found: what it frees, what it keeps though nothing it knows uses it, and
    the envs it could not read."""

    cache: Path
    free: list[Item] = field(default_factory=list)
    kept: list[Item] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    envs: int = 0  # envs read

    @property
    def apparent(self) -> int:
        return sum(i.apparent for i in self.free)

    @property
    def freed(self) -> int:
        return sum(i.freed for i in self.free)

    def to_json(self) -> dict[str, Any]:
        return {
            "cache": str(self.cache),
            "envs_read": self.envs,
            "apparent_bytes": self.apparent,
            "freed_bytes": self.freed,
            "free": [i.to_json() for i in self.free],
            "kept": [i.to_json() for i in self.kept],
            "unreadable": list(self.unreadable),
        }


# -- what is in use ----------------------------------------------------------------------


def _env_prefixes(ctx: Context) -> list[Path]:
    """Every env wsp can find on the machine: envs-dir, conda's envs dirs and root,
    ~/.conda/environments.txt."""
    found: list[Path] = []
    dirs = [ctx.ws.envs_dir, *conda.conda_envs_dirs()]
    for folder in dirs:
        with contextlib.suppress(OSError):
            found += [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
    if (root := conda.find_conda_root()) is not None:
        found.append(root)
    with contextlib.suppress(OSError):
        found += conda.listed_envs()
    return list(dict.fromkeys(found))


def _records(meta: Path) -> Iterator[Path]:
    with os.scandir(meta) as it:
        yield from (Path(e.path) for e in it if e.name.endswith(".json") and e.is_file())


def _channel_of(record: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        channel = json.loads(record.read_bytes()).get("channel")
        return channels.base_url(channel) if isinstance(channel, str) and channel else None
    return None


@dataclass
class _InUse:
    dists: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    unreadable: list[str] = field(default_factory=list)
    envs: int = 0

    def read(self, meta: Path, what: str) -> bool:
        """Note the package records in `meta` (a `conda-meta` folder) as used; False when
        there is no such folder (not an env)."""
        try:
            records = list(_records(meta))
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            self.unreadable.append(f"{what} ({exc.strerror or exc})")
            return False
        for record in records:
            self.dists.add(record.name[: -len(".json")])
            if (channel := _channel_of(record)) is not None:
                self.channels.add(channel)
        return True


def _in_use(ctx: Context, engine: Engine, dropped: set[Path]) -> _InUse:
    """The dists and channels envs and wsp.lock use; kept builds in `dropped` don't count."""
    use = _InUse()
    for prefix in _env_prefixes(ctx):
        if not use.read(prefix / "conda-meta", str(prefix)):
            continue
        use.envs += 1
        try:
            builds = [p for p in history.kept_builds(prefix).values() if p not in dropped]
        except OSError:
            builds = []
        for build in builds:
            use.read(build / "conda-meta", f"{build} (a build kept for rollback)")
    for want in ctx.desired.values():  # where this machine fetches the declared channels
        use.channels.update(channels.base_url(u) for c in sources(want) for u in c.urls)
    lock = lockfile.read(ctx, engine)
    if lock is not None:
        for env in lock.envs.values():
            use.channels.update(channels.base_url(c) for c in env.channels)
            for packages in env.packages.values():
                use.dists.update(p.dist for p in packages)
                use.channels.update(channels.base_url(p.channel) for p in packages if p.channel)
    return use


# -- sizes, links, owners ----------------------------------------------------------------


def _files(
    paths: Iterable[Path], hidden: list[Path] | None = None
) -> Iterator[tuple[Path, os.stat_result]]:
    """Every file (not following symlinks) under `paths`, with its lstat. A folder this
    user may not read (another user's, made under umask 077) hides its files: it is added
    to `hidden`."""
    unseen = hidden if hidden is not None else []
    for root in paths:
        try:
            st = root.lstat()
        except FileNotFoundError:
            continue
        if not root.is_dir() or root.is_symlink():
            yield root, st
            continue
        for folder, _dirs, names in os.walk(root, onerror=lambda exc: unseen.append(exc)):
            for name in names:
                path = Path(folder) / name
                try:
                    yield path, path.lstat()
                except FileNotFoundError:
                    pass
                except OSError:
                    unseen.append(path)


def _name(unseen: Any) -> str:
    """The path of what `_files` could not see (a path, or os.walk's error)."""
    return str(getattr(unseen, "filename", None) or unseen)


def _newest(paths: Iterable[Path]) -> float:
    newest = 0.0
    for path in paths:
        with contextlib.suppress(OSError):
            newest = max(newest, path.lstat().st_mtime)
    return newest


def _weigh(items: list[Item], *, now: float) -> tuple[list[Item], list[Item]]:
    """(free, kept): sizes counted, hard links judged across all of `items` at once."""
    hidden: dict[str, list[Any]] = {i.name: [] for i in items}
    stats = {i.name: list(_files(i.paths, hidden[i.name])) for i in items}
    inside: dict[tuple[int, int], int] = {}
    for entries in stats.values():
        for _, st in entries:
            key = (st.st_dev, st.st_ino)
            inside[key] = inside.get(key, 0) + 1
    me = os.getuid() if hasattr(os, "getuid") else None
    free, kept = [], []
    counted: set[tuple[int, int]] = set()
    for item in items:
        entries = stats[item.name]
        apparent = sum(st.st_size for _, st in entries)
        # a leftover's files are links of an env's files by design: removing them frees
        # only what no env links
        outside = {
            (st.st_dev, st.st_ino)
            for _, st in entries
            if st.st_nlink > inside[(st.st_dev, st.st_ino)]
        }
        why = None
        if outside and item.kind != "leftover":
            why = "an env wsp did not find still links its files"
        elif me is not None and any(st.st_uid != me for _, st in entries):
            why = "it has files of another user: it may be theirs"
        elif hidden[item.name]:
            why = f"{_name(hidden[item.name][0])} can't be read: it may be another user's"
        elif item.kind == "package" and now - _newest(item.paths) < FRESH_SECONDS:
            why = "fetched in the last ten minutes: an install may be about to link it"
        elif item.kind == "leftover" and now - _newest(item.paths) < FRESH_SECONDS:
            why = "written in the last ten minutes: an apply may be writing it"
        if why is not None:
            kept.append(Item(item.kind, item.name, item.paths, apparent, 0, why))
            continue
        freed = 0
        for _, st in entries:
            key = (st.st_dev, st.st_ino)
            if key not in counted and key not in outside:
                counted.add(key)
                freed += st.st_size
        free.append(Item(item.kind, item.name, item.paths, apparent, freed))
    return free, kept


# -- what the cache holds ----------------------------------------------------------------

_ARCHIVES = (".tar.bz2", ".conda")


def _package_entries(pkgs: Path) -> dict[str, list[Path]]:
    """Package cache entries by dist: the extracted folder, its archive, its `.lock`."""
    out: dict[str, list[Path]] = {}
    try:
        entries = list(os.scandir(pkgs))
    except OSError:
        return out
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.is_dir(follow_symlinks=False) and os.path.isdir(os.path.join(e.path, "info")):
            out.setdefault(e.name, []).append(Path(e.path))
        elif e.is_dir(follow_symlinks=False) and not os.access(e.path, os.R_OK | os.X_OK):
            out.setdefault(e.name, []).append(Path(e.path))  # another user's: kept (_weigh)
        elif e.name.endswith(_ARCHIVES):
            dist = e.name.removesuffix(".tar.bz2").removesuffix(".conda")
            out.setdefault(dist, []).append(Path(e.path))
    for dist, paths in out.items():
        lock = pkgs / f"{dist}.lock"
        if os.path.isfile(lock):
            paths.append(lock)
    return out


def _leftovers(pkgs: Path, dists: Iterable[str]) -> list[Item]:
    """The stores of compiled modules a killed apply left half built in the entries of
    `dists` (wsp.engines.linking): no apply reads them."""
    out = []
    for dist in sorted(dists):
        with contextlib.suppress(OSError):
            for e in os.scandir(pkgs / dist / STORE):
                if e.name.startswith(STORE_ASIDE) and e.is_dir(follow_symlinks=False):
                    out.append(Item("leftover", f"{dist}/{STORE}/{e.name}", (Path(e.path),)))
    return out


def _repodata_entries(cache: Path) -> dict[str, tuple[str, list[Path]]]:
    """Repodata cache entries by file stem: (the URL they cache, their files)."""
    out: dict[str, tuple[str, list[Path]]] = {}
    folder = cache / "repodata"
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return out
    for name in names:
        path = folder / name
        if name.endswith(".info.json"):
            stem = name[: -len(".info.json")]
            with contextlib.suppress(OSError, ValueError, UnicodeDecodeError, AttributeError):
                url = json.loads(path.read_bytes()).get("url")
                if isinstance(url, str):
                    files = [folder / n for n in names if n.split(".", 1)[0] == stem]
                    out[stem] = (url, files)
        elif name.endswith(".shards-cache-v1") and path.is_file():
            with contextlib.suppress(OSError):
                if (found := _SHARD_URL.search(path.read_bytes()[:4096])) is not None:
                    out[name] = (found.group(0).decode(), [path])
    return out


def _channel_base(url: str) -> str:
    """`https://host/conda-forge/linux-64/repodata.json` -> `https://host/conda-forge/`."""
    return url.rsplit("/", 2)[0] + "/"


# -- the whole ---------------------------------------------------------------------------


def collect(ctx: Context, engine: Engine) -> Report:
    """What gc would free now (nothing is changed)."""
    cache = engine.cache_root()
    report = Report(cache)
    builds: list[Item] = []
    for have in ctx.observed.values():
        if have.ownership != "ours" or have.read_only:
            continue
        for folder in history.prune_builds(have.prefix, ctx.ws.keep_builds, dry_run=True):
            builds.append(Item("build", f"{have.name} build {folder.name}", (folder,)))
    use = _in_use(ctx, engine, {p for b in builds for p in b.paths})
    report.unreadable, report.envs = use.unreadable, use.envs
    entries = _package_entries(cache / "pkgs")
    candidates = [
        Item("package", dist, tuple(paths))
        for dist, paths in sorted(entries.items())
        if dist not in use.dists
    ]
    candidates += _leftovers(cache / "pkgs", use.dists & entries.keys())
    candidates += [
        Item("repodata", url, tuple(paths))
        for url, paths in sorted(_repodata_entries(cache).values())
        if channels.base_url(_channel_base(url)) not in use.channels
    ]
    report.free, report.kept = _weigh([*candidates, *builds], now=time.time())
    return report


def delete(report: Report) -> list[Item]:
    """Delete what `report` frees (the caller holds the workspace lock and collected it
    under it), each item checked again right before; the items deleted."""
    done = []
    now = time.time()
    for item in report.free:
        free, _ = _weigh([item], now=now)  # links, owners and age, once more
        if not free:
            continue
        if item.kind == "package" and not _remove_package(item):
            continue
        if item.kind != "package":
            for path in item.paths:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        done.append(item)
    return done


def _remove_package(item: Item) -> bool:
    """Remove one cache entry while holding its `.lock` (as rattler does when it writes
    one): False when another process holds it."""
    import fcntl

    lock = next((p for p in item.paths if p.name.endswith(".lock")), None)
    fd = None
    try:
        if lock is not None:
            fd = os.open(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        for path in item.paths:
            if path == lock:
                continue
            if path.is_dir() and not path.is_symlink():
                aside = path.with_name(f".wsp-gc-{uuid.uuid4().hex[:8]}")
                os.rename(path, aside)  # gone from its name at once
                shutil.rmtree(aside, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        if lock is not None:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
        return True
    except OSError:
        return False
    finally:
        if fd is not None:
            os.close(fd)
