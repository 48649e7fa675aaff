"""The embedded engine: py-rattler in process. The only module that imports rattler.

Every rattler coroutine runs through `_run`, i.e. `asyncio.run` on a worker
thread: py-rattler can crash at interpreter exit when its runtime was driven
from the main thread (see shared/RATTLER.md).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Collection, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import rattler
from rattler.exceptions import GatewayError
from rattler.exceptions import SolverError as RattlerSolverError
from rattler.virtual_package import VirtualPackage

from wsp import channels
from wsp.engines import Channel, LockData, LockedEnv, Package, Progress, SolveRequest
from wsp.errors import ChannelUnreachable, SolveError, WspError
from wsp.fsutil import atomic_write_text, remove_tree
from wsp.specs import check_match_spec, conda_name, current_platform, exclude_newer_bound

T = TypeVar("T")

_PRIORITY = {
    "strict": rattler.ChannelPriority.Strict,
    "flexible": rattler.ChannelPriority.Flexible,
    "disabled": rattler.ChannelPriority.Disabled,
}


def _run(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wsp-rattler") as pool:
        return pool.submit(asyncio.run, coro).result()


def cache_dir() -> Path:
    """Where packages and repodata are cached: WSP_CACHE_DIR, else rattler's own default
    (RATTLER_CACHE_DIR, else the user cache folder), so wsp shares pixi's cache."""
    if root := os.environ.get("WSP_CACHE_DIR"):
        return Path(root).expanduser()
    if root := os.environ.get("RATTLER_CACHE_DIR"):
        return Path(root).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rattler" / "cache"


# -- the engine --------------------------------------------------------------------------


def _to_package(record: Any) -> Package:
    return Package(
        name=record.name.normalized,
        version=str(record.version),
        build=str(record.build),
        channel=str(record.channel or ""),
        subdir=str(record.subdir),
        sha256=record.sha256.hex() if record.sha256 else None,
        url=str(record.url),
        md5=record.md5.hex() if record.md5 else None,
    )


@cache
def _virtual_packages(platform: str) -> list[Any]:
    """This machine's virtual packages; for another platform, typical ones of it."""
    if platform == current_platform():
        return [v.into_generic() for v in VirtualPackage.detect()]
    from rattler import GenericVirtualPackage, PackageName, Version
    from rattler.package import BuildString

    os_name, _, arch = platform.partition("-")
    arch = {"64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(arch, arch)
    virtual = {"win": [("__win", "0")], "osx": [("__unix", "0"), ("__osx", "13.0")]}.get(
        os_name, [("__unix", "0"), ("__linux", "5.10"), ("__glibc", "2.28")]
    )
    out = [GenericVirtualPackage(PackageName(n), Version(v), BuildString("0")) for n, v in virtual]
    out.append(GenericVirtualPackage(PackageName("__archspec"), Version("1"), BuildString(arch)))
    return out


class _Records:
    """rattler's records of the packages this engine handed out (from a solve, a lock or
    an env), by URL: what `install` and `write_lock` need behind a `Package`."""

    def __init__(self) -> None:
        self._by_url: dict[str, Any] = {}
        self._lock = threading.Lock()

    def remember(self, records: Sequence[Any]) -> list[Package]:
        """The packages of `records`, now installable."""
        packages = [_to_package(r) for r in records]
        with self._lock:
            for pkg, record in zip(packages, records, strict=True):
                self._by_url[pkg.url] = record
        return packages

    def known(self, packages: Sequence[Package]) -> list[Any]:
        """The records of those of `packages` this engine knows."""
        with self._lock:
            return [self._by_url[p.url] for p in packages if p.url in self._by_url]

    def of(self, packages: Sequence[Package]) -> list[Any]:
        """The records of `packages`; every one must come from this engine."""
        with self._lock:
            missing = [p.dist for p in packages if p.url not in self._by_url]
            records = [self._by_url[p.url] for p in packages if p.url in self._by_url]
        if missing:
            raise WspError(f"internal: packages not from this run's solve: {', '.join(missing)}")
        return records


class RattlerEngine:
    """Solve and install with py-rattler, in process."""

    name = "rattler"

    def __init__(self) -> None:
        self._cache_dir = cache_dir()
        self._gateway = rattler.Gateway(cache_dir=self._cache_dir / "repodata", show_progress=False)
        self._records = _Records()

    # solve ---------------------------------------------------------------------------
    def solve(
        self,
        request: SolveRequest,
        *,
        prefix: Path | None = None,
        prefer: Collection[str] | None = None,
        keep: Sequence[Package] = (),
    ) -> list[Package]:
        platform = request.platform or current_platform()
        choice = {ch.name: 0 for ch in request.channels}
        # Keep what wsp installed before where it still fits (minimal churn), but not
        # what was changed by hand: `prefer` names the dists wsp recorded. `keep` are
        # packages of this engine (e.g. read from a lock) to keep where they still fit.
        locked = [
            r
            for r in (self._prefix_records(prefix) if prefix is not None else [])
            if prefer is None or f"{r.name.normalized}-{r.version}-{r.build}" in prefer
        ]
        locked += self._records.known(keep)
        bound = exclude_newer_bound(request.exclude_newer) if request.exclude_newer else None
        if bound is not None:  # nothing newer than the cutoff is kept either
            locked = [r for r in locked if _published_before(r, bound)]
        while True:
            sources = [channels.as_url(ch.urls[choice[ch.name]]) for ch in request.channels]
            try:
                records = _run(self._solve(sources, request, platform, locked or None, bound))
            except GatewayError as exc:
                failed = self._failed_channel(request.channels, choice, str(exc))
                if failed is not None and choice[failed.name] + 1 < len(failed.urls):
                    choice[failed.name] += 1  # try the next mirror
                    continue
                name = (
                    failed.name
                    if failed is not None
                    else ", ".join(c.name for c in request.channels)
                )
                url = failed.urls[choice[failed.name]] if failed is not None else None
                raise ChannelUnreachable(name, str(exc), url=url) from None
            except RattlerSolverError as exc:
                text = str(exc)
                raise SolveError(_solver_message(text), names=_blamed(text)) from None
            break
        return sorted(self._records.remember(records))

    async def _solve(
        self,
        sources: list[str],
        request: SolveRequest,
        platform: str,
        locked: list[Any] | None,
        bound: int | None,
    ) -> list[Any]:
        """rattler's solve; with a cutoff (`bound`, ms), over the channels' records
        published before it. rattler's own `exclude_newer` judges a record by its
        `indexed_timestamp` first, which a mirror or a re-indexed channel sets to the day
        it was indexed; wsp judges by the build `timestamp` the package carries wherever
        it is served from, and keeps records that have none (built before conda-build
        recorded one)."""
        solve_from: list[Any] = list(sources)
        if bound is not None:
            names = sorted({conda_name(s) for s in request.specs})
            found = await self._gateway.query(sources, [platform, "noarch"], names, recursive=True)
            solve_from = [
                _Dated([r for r in records if _published_before(r, bound)]) for records in found
            ]
        return await rattler.solve(
            solve_from,
            list(request.specs),
            gateway=self._gateway,
            platforms=[platform, "noarch"],
            virtual_packages=_virtual_packages(platform),
            channel_priority=_PRIORITY[request.channel_priority],
            locked_packages=locked,
        )

    @staticmethod
    def _failed_channel(
        sources: Sequence[Channel], choice: dict[str, int], message: str
    ) -> Channel | None:
        for ch in sources:
            base = channels.base_url(ch.urls[choice[ch.name]])
            if base in message or base.rstrip("/") in message:
                return ch
        return None

    # install -------------------------------------------------------------------------
    def fetch(self, packages: Sequence[Package], scratch: Path) -> None:
        """Download and extract into the package cache whatever of `packages` it lacks,
        before any env is touched; raises ChannelUnreachable naming the package's channel."""
        self._cache(self._records.of(packages), scratch)

    def _cache(self, records: list[Any], scratch: Path) -> None:
        pkgs = self._cache_dir / "pkgs"
        index = _run(rattler.PackageCache(pkgs).index())
        missing = [r for r in records if not index.contains_record(r)]
        if not missing:
            return
        # rattler has no download-only call: link the missing packages into a scratch
        # prefix, which fills the cache. A noarch: python package links only beside a python.
        names = {r.name.normalized for r in missing}
        if "python" not in names and any(r.noarch.python for r in missing):
            missing += [r for r in records if r.name.normalized == "python"]
        where = scratch
        where.mkdir(parents=True)
        try:
            _run(
                rattler.install(
                    missing,
                    target_prefix=where,
                    cache_dir=pkgs,
                    installed_packages=[],
                    show_progress=False,
                    execute_link_scripts=False,
                )
            )
        except Exception as exc:
            remove_tree(where)
            raise self._fetch_error([_to_package(r) for r in records], str(exc)) from None
        shutil.rmtree(where, ignore_errors=True)

    @staticmethod
    def _fetch_error(packages: Sequence[Package], message: str) -> WspError:
        """ChannelUnreachable for the channel of the package rattler could not fetch."""
        for pkg in packages:
            name = pkg.url.rsplit("/", 1)[-1]
            if name and name in message:
                return ChannelUnreachable(pkg.channel or pkg.url, message, url=pkg.url)
        return WspError(f"fetching packages failed: {_first_line(message)}")

    def install(
        self,
        prefix: Path,
        packages: Sequence[Package],
        *,
        progress: Progress | None = None,
        relocate_to: Path | None = None,
    ) -> None:
        records = self._records.of(packages)
        current = self._prefix_records(prefix)
        reporter = _Reporter(progress) if progress else None
        try:
            _run(
                rattler.install(
                    records,
                    target_prefix=prefix,
                    alternative_target_prefix=relocate_to,
                    cache_dir=self._cache_dir / "pkgs",
                    installed_packages=current,
                    show_progress=False,
                    reporter=reporter,
                    execute_link_scripts=False,
                )
            )
        except Exception as exc:
            if "failed to fetch" in str(exc):
                raise self._fetch_error(packages, str(exc)) from None
            raise WspError(f"installing into {prefix} failed: {_first_line(str(exc))}") from None

    def snapshot(self, prefix: Path) -> Any:
        """What the env holds now, to `restore` it after a failed step."""
        return self._prefix_records(prefix)

    def restore(self, prefix: Path, snapshot: Any, scratch: Path) -> None:
        """Make `prefix` hold exactly the records of `snapshot` again: fetched first (they
        are usually still in the package cache, else through `scratch`), then linked."""
        self._cache(list(snapshot), scratch)
        try:
            _run(
                rattler.install(
                    list(snapshot),
                    target_prefix=prefix,
                    cache_dir=self._cache_dir / "pkgs",
                    installed_packages=self._prefix_records(prefix),
                    show_progress=False,
                    execute_link_scripts=False,
                )
            )
        except Exception as exc:
            raise WspError(f"restoring {prefix} failed: {_first_line(str(exc))}") from None

    # packs: a local channel of exact packages ------------------------------------------
    def pack_channel(
        self, packages: Sequence[Package], dest: Path, sources: Sequence[Channel] = ()
    ) -> dict[str, str]:
        """Put the archive of every one of `packages` (packages of this engine) in the
        local channel `dest` (`<subdir>/<file>`), checked against its sha256 (else md5),
        and index it. Each is fetched from its own URL, else from each location of
        `sources` (a declared channel's mirrors). Returns {dist: path in `dest`}.
        Raises ChannelUnreachable naming a package that no location gave."""
        import hashlib

        out: dict[str, str] = {}
        client = None
        for record in self._records.of(packages):
            pkg = _to_package(record)
            rel = f"{record.subdir}/{record.file_name}"
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tried = [pkg.url] + [f"{channels.base_url(u)}{rel}" for ch in sources for u in ch.urls]
            problem = "no location to fetch it from"
            for url in dict.fromkeys(tried):
                try:
                    if url.startswith("file://"):
                        shutil.copyfile(_file_path(url), target)
                    else:
                        if client is None:
                            from rattler.networking import Client

                            client = Client.authenticated_client()
                        from rattler.package_streaming import download_to_path

                        _run(download_to_path(client, url, target))
                except Exception as exc:
                    problem = _first_line(str(exc))
                    continue
                digest = hashlib.sha256(target.read_bytes()).hexdigest()
                if pkg.sha256 and digest != pkg.sha256:
                    problem = f"{url} has sha256 {digest}, the lock says {pkg.sha256}"
                    continue
                md5 = hashlib.md5(target.read_bytes()).hexdigest()
                if not pkg.sha256 and pkg.md5 and md5 != pkg.md5:
                    problem = f"{url} does not have the md5 the lock records"
                    continue
                out[pkg.dist] = rel
                break
            else:
                target.unlink(missing_ok=True)
                raise ChannelUnreachable(pkg.channel or pkg.url, f"{record.file_name}: {problem}")
        (dest / "noarch").mkdir(parents=True, exist_ok=True)
        _run(rattler.index.index_fs(dest, write_zst=False, write_shards=False, force=True))
        shutil.rmtree(dest / ".tmp", ignore_errors=True)
        return out

    def seed_cache(self, packages: Sequence[Package], channel: Path) -> None:
        """Fill the package cache with `packages` (of this engine) from the archives of the
        local channel `channel` (as `pack_channel` wrote it), touching no env: an install
        of `packages` then needs no network, and the env's records still name the
        packages' own URLs and channels."""
        local = [
            rattler.RepoDataRecord(
                r, r.file_name, (channel / str(r.subdir) / r.file_name).as_uri(), r.channel
            )
            for r in self._records.of(packages)
        ]
        self._cache(local, channel.parent / f".wsp-seed-{uuid.uuid4().hex[:8]}")

    def cache_root(self) -> Path:
        """The package and repodata cache this engine uses (`pkgs/`, `repodata/`)."""
        return self._cache_dir

    # repodata queries ----------------------------------------------------------------
    def available_names(
        self, sources: Sequence[Channel], platform: str, names: Collection[str]
    ) -> set[str]:
        """Which of `names` (conda package names) one of `sources` has for `platform` or
        noarch. Each channel is read from the first of its locations that answers;
        ChannelUnreachable when none does. Nothing is solved: repodata is only looked up."""
        specs = [n for n in dict.fromkeys(names) if check_match_spec(n) is None]
        if not specs:
            return set()
        found: set[str] = set()
        for channel in sources:
            for i, location in enumerate(channel.urls):
                try:
                    result = _run(
                        self._gateway.query(
                            [channels.as_url(location)],
                            [platform, "noarch"],
                            specs,
                            recursive=False,
                        )
                    )
                except GatewayError as exc:
                    if i + 1 < len(channel.urls):
                        continue  # the next mirror
                    raise ChannelUnreachable(channel.name, str(exc), url=location) from None
                found.update(record.name.normalized for records in result for record in records)
                break
        return found & set(specs)

    # lock files --------------------------------------------------------------------
    def write_lock(self, path: Path, root: Path, data: LockData) -> None:
        """wsp.lock in the pixi.lock format, its header naming each project's declaration
        hash; paths under `root` written relative, so the lock travels with the repo."""
        lf = rattler.LockFile([rattler.LockPlatform(p) for p in data.platforms])
        platforms = {p.name: p for p in lf.platforms()}
        for project, env in sorted(data.envs.items()):
            lf.set_channels(
                project, [rattler.LockChannel(channels.as_url(c)) for c in env.channels]
            )
            for platform, packages in sorted(env.packages.items()):
                for record in self._records.of(packages):
                    lf.add_conda_package(project, platforms[platform], record)
                for name, (version, location) in sorted(env.pip.get(platform, {}).items()):
                    lf.add_pypi_package(project, platforms[platform], name, version, location)
        with tempfile.TemporaryDirectory() as tmp:
            lf.to_path(Path(tmp) / "wsp.lock")
            body = (Path(tmp) / "wsp.lock").read_text()
        header = "".join(f"{_LOCK_HASH}{p} {h}\n" for p, h in sorted(data.hashes.items()))
        header += "".join(f"{_LOCK_CUTOFF}{p} {c}\n" for p, c in sorted(data.exclude_newer.items()))
        note = "# wsp.lock: written by `wsp lock` (pixi.lock format). Commit it; don't edit it.\n"
        atomic_write_text(path, note + header + _relative(body, root))

    def read_lock(self, path: Path, root: Path) -> LockData:
        """wsp.lock's content; its packages become installable by this engine."""
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WspError(
                f"{path.name} can't be read: it is not UTF-8 (byte {exc.start})",
                hint="run `wsp lock` to write it again",
            ) from None
        hashes, cutoffs = {}, {}
        for line in text.splitlines():
            if not line.startswith("#"):
                break  # the header is over
            for prefix, into in ((_LOCK_HASH, hashes), (_LOCK_CUTOFF, cutoffs)):
                if line.startswith(prefix):
                    project, _, value = line[len(prefix) :].partition(" ")
                    into[project] = value.strip()
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "wsp.lock").write_text(_absolute(text, root))
            try:
                lf = rattler.LockFile.from_path(Path(tmp) / "wsp.lock")
            except Exception as exc:
                raise WspError(
                    f"{path.name} can't be read: {_first_line(str(exc))}",
                    hint="run `wsp lock` to write it again",
                ) from None
        envs: dict[str, LockedEnv] = {}
        for project, env in lf.environments():
            packages: dict[str, tuple[Package, ...]] = {}
            pip: dict[str, dict[str, tuple[str, str]]] = {}
            for platform in env.platforms():
                records = env.conda_repodata_records_for_platform(platform) or []
                packages[platform.name] = tuple(sorted(self._records.remember(records)))
                pip[platform.name] = {
                    p.name: (str(p.version), str(p.location))
                    for p in env.pypi_packages_for_platform(platform) or []
                }
            names = tuple(str(c).rstrip("/") for c in env.channels())
            envs[project] = LockedEnv(channels=names, packages=packages, pip=pip)
        return LockData(
            platforms=tuple(p.name for p in lf.platforms()),
            envs=envs,
            hashes=hashes,
            exclude_newer=cutoffs,
        )

    # observe -------------------------------------------------------------------------
    @staticmethod
    def _prefix_records(prefix: Path) -> list[Any]:
        meta = prefix / "conda-meta"
        if not meta.is_dir():
            return []
        return [rattler.PrefixRecord.from_path(p) for p in sorted(meta.glob("*.json"))]

    def installed(self, prefix: Path) -> list[Package]:
        return sorted(_to_package(r) for r in self._prefix_records(prefix))

    def adopt(self, prefix: Path) -> list[Package]:
        """The packages `prefix`'s conda-meta records, made installable by this engine
        (an env's previous build, for rollback)."""
        return sorted(self._records.remember(self._prefix_records(prefix)))


def _published_before(record: Any, bound: int) -> bool:
    """Whether `record` was built before `bound` (ms since the epoch), or records no time."""
    stamp = record.timestamp
    return stamp is None or int(stamp.timestamp() * 1000) < bound


class _Dated:
    """One channel's records that an `exclude-newer` cutoff keeps, as a repodata source
    rattler's solver reads like a channel (rattler.repo_data.source.RepoDataSource)."""

    def __init__(self, records: Sequence[Any]) -> None:
        self._by: dict[tuple[str, str], list[Any]] = {}
        for r in records:
            self._by.setdefault((str(r.subdir), r.name.normalized), []).append(r)

    async def fetch_package_records(self, platform: Any, name: Any) -> list[Any]:
        return self._by.get((str(platform), name.normalized), [])

    def package_names(self, platform: Any) -> list[str]:
        return sorted({n for subdir, n in self._by if subdir == str(platform)})


class _Reporter(rattler.InstallerReporter):
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._total = 0
        self._done = 0
        self._lock = threading.Lock()

    def on_transaction_start(self, total_operations: int) -> None:
        self._total = total_operations
        self._progress("start", 0, total_operations)

    def on_transaction_operation_complete(self, operation: int) -> None:
        with self._lock:
            self._done += 1
            done = self._done
        self._progress("op", done, self._total)

    def on_transaction_complete(self) -> None:
        self._progress("done", self._total, self._total)


def _file_path(url: str) -> Path:
    """The path of a `file://` URL."""
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(url).path))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return text
    # rattler chains causes as "Caused by: ..."; the last cause is the most specific
    causes = [
        line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by:")
    ]
    return f"{lines[0]}: {causes[-1]}" if causes else lines[0]


def _solver_message(text: str) -> str:
    body = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return body.replace("Cannot solve the request because of: ", "no solution: ")


_NO_CANDIDATES = re.compile(r"No candidates were found for ([A-Za-z0-9_.\-]+)")
_TOP_NODE = re.compile(r"^[├└]─ ([A-Za-z0-9_.\-]+)")


def _blamed(text: str) -> tuple[str, ...]:
    """The requested packages rattler's explanation names at its top level, the one it
    says "cannot be installed" first (then the others it conflicts with)."""
    first: list[str] = []
    rest: list[str] = []
    for name in _NO_CANDIDATES.findall(text):
        first.append(name.lower())
    for line in text.splitlines():
        if (m := _TOP_NODE.match(line)) is not None:
            (first if "cannot be installed" in line else rest).append(m.group(1).lower())
    return tuple(dict.fromkeys(first + rest))


# -- lock files (pixi.lock format, rattler's LockFile) ----------------------------------------

_LOCK_HASH = "# wsp-lock-hash "
_LOCK_CUTOFF = "# wsp-exclude-newer "  # the project's exclude-newer when it was locked


def _relative(text: str, root: Path) -> str:
    """Paths under the workspace root written relative, so the lock travels with the repo."""
    base = str(root).rstrip("/") + "/"
    return text.replace(f"file://{base}", "file://./").replace(f": {base}", ": ./")


def _absolute(text: str, root: Path) -> str:
    base = str(root).rstrip("/") + "/"
    return text.replace("file://./", f"file://{base}").replace(": ./", f": {base}")
