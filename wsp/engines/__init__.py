"""Engines: the one place that touches conda packages, behind one small protocol."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from wsp import channels
from wsp.sysreq import LOCK_TAG, HostPackage, VirtualPackage

if TYPE_CHECKING:
    from wsp.pip import Pin


@dataclass(frozen=True, order=True)
class Package:
    """One conda package: what a solve picks or what conda-meta records."""

    name: str
    version: str
    build: str
    channel: str = ""
    subdir: str = ""
    sha256: str | None = None
    url: str = ""
    md5: str | None = field(default=None, compare=False)
    depends: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def dist(self) -> str:
        """`name-version-build`, the stem of its conda-meta record."""
        return f"{self.name}-{self.version}-{self.build}"

    @classmethod
    def from_dist(cls, dist: str) -> Package | None:
        """The package a `name-version-build` record stem names; None when it names none."""
        parts = dist.rsplit("-", 2)
        if len(parts) != 3 or not all(parts):
            return None
        return cls(*parts)


@dataclass(frozen=True)
class Channel:
    """A channel as declared, and the locations it may be fetched from (mirrors first).

    `urls` may carry credentials and name mirrors: facts of this machine, used to fetch,
    never printed nor written. `identity` is what records, wsp.lock, plans and exports
    name: the channel's canonical URL."""

    name: str
    urls: tuple[str, ...]
    canonical: str = ""  # "": the canonical URL of `name` (wsp.channels.canonical)

    @property
    def identity(self) -> str:
        return self.canonical or channels.canonical(self.name)

    @property
    def shown(self) -> str:
        """The channel as people read it: its name as declared, credentials masked."""
        return channels.redact(self.name)


@dataclass(frozen=True)
class SolveRequest:
    specs: tuple[str, ...]
    channels: tuple[Channel, ...]
    channel_priority: str = "strict"
    platform: str | None = None
    exclude_newer: str | None = None  # ignore packages built after it (wsp.specs format)
    # What the solve assumes the machine offers (`__cuda`, `__glibc`, ...): the declared
    # system requirements over the platform's defaults. None: the platform's defaults.
    virtual_packages: tuple[VirtualPackage, ...] | None = None


@dataclass(frozen=True)
class LockTarget:
    """One platform entry of wsp.lock: what its packages were solved for."""

    name: str  # "linux-64", "linux-64-cuda", "linux-64--cuda-11-8" (a project's own needs)
    subdir: str
    virtual_packages: tuple[str, ...] = ()  # "__cuda=12.0=0", ...

    @property
    def variant(self) -> str:
        """The platform (variant) of `[workspace] platforms` it is an entry of."""
        return self.name.split(LOCK_TAG, 1)[0]


@dataclass(frozen=True)
class LockedEnv:
    """One project's locked packages, per platform (variant)."""

    channels: tuple[str, ...]
    packages: dict[str, tuple[Package, ...]]
    pip: dict[str, dict[str, Pin]]  # platform -> name -> its version, file (location), sha256
    # platform (variant) -> the lock's platform entry its packages are under (default: the
    # entry of that name)
    targets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LockData:
    """The content of wsp.lock: every project's packages for every platform."""

    platforms: tuple[str, ...]  # the platforms (variants) locked, as [workspace] names them
    envs: dict[str, LockedEnv]
    hashes: dict[str, str]  # project -> lock hash of its declaration when locked
    exclude_newer: dict[str, str] = field(default_factory=dict)  # project -> its cutoff
    # every platform entry of the lock, with its virtual packages (default: one plain
    # entry per name of `platforms`)
    targets: tuple[LockTarget, ...] = ()

    def target(self, env: LockedEnv, platform: str) -> LockTarget:
        """The lock entry `env`'s packages for `platform` were solved for."""
        name = env.targets.get(platform, platform)
        return next((t for t in self.targets if t.name == name), LockTarget(name, platform))


# (env, event, done, total): event is "start", "link", "unlink" or "done"
Progress = Callable[[str, int, int], None]


class Engine(Protocol):
    """What the planner and reconciler need from a package engine."""

    name: str

    def solve(
        self,
        request: SolveRequest,
        *,
        prefix: Path | None = None,
        prefer: Collection[str] | None = None,
        keep: Sequence[Package] = (),
    ) -> list[Package]:
        """The exact package set the env should hold. Raises ChannelUnreachable, SolveError.

        Packages in `prefix` whose dist is in `prefer` (all when None) are kept where
        they still satisfy the specs.
        """
        ...

    def fetch(
        self, packages: Sequence[Package], scratch: Path, *, sources: Sequence[Channel] = ()
    ) -> None:
        """Put every one of `packages` in the package cache, touching no env: the folder
        `scratch` (which must not exist) may be made and is removed. Raises
        ChannelUnreachable."""
        ...

    def install(
        self,
        prefix: Path,
        packages: Sequence[Package],
        *,
        progress: Progress | None = None,
        relocate_to: Path | None = None,
        sources: Sequence[Channel] = (),
    ) -> None:
        """Make `prefix` hold exactly `packages` (from a previous `solve` of this engine).

        Packages name their channels' identities; `sources` says where this machine
        fetches each channel from (its mirrors), and the env's records name the identity.

        With `relocate_to`, the env is built at `prefix` to be renamed to `relocate_to`:
        that path is what its files record. Raises ChannelUnreachable when a package
        can't be fetched.
        """
        ...

    def installed(self, prefix: Path) -> list[Package]:
        """What conda-meta of `prefix` records."""
        ...

    def adopt(self, prefix: Path) -> list[Package]:
        """What conda-meta of `prefix` records, made installable by `install`."""
        ...

    def read_lock(self, path: Path, root: Path) -> LockData:
        """wsp.lock's content; its packages become installable by this engine."""
        ...

    def write_lock(self, path: Path, root: Path, data: LockData) -> None:
        """Write `data` (packages of this engine) to `path`, paths under `root` relative."""
        ...

    def unsatisfied(
        self, specs: Sequence[str], packages: Sequence[Package]
    ) -> list[tuple[str, str]]:
        """(spec, why) for each match spec in `specs` no package of its name in `packages`
        (from this engine: a solve or a lock) satisfies. The channel a spec names is not
        compared (a mirror may have been fetched from); virtual packages are skipped."""
        ...

    def available_names(
        self, channels: Sequence[Channel], platform: str, names: Collection[str]
    ) -> set[str]:
        """Which of `names` one of `channels` has for `platform` (or noarch), from repodata
        alone (nothing solved). Raises ChannelUnreachable when a channel can't be read."""
        ...

    def pack_channel(
        self, packages: Sequence[Package], dest: Path, sources: Sequence[Channel] = ()
    ) -> dict[str, str]:
        """Put the archives of `packages` in the local channel `dest`, checked and indexed;
        {dist: path in `dest`}. Raises ChannelUnreachable naming a package none gave."""
        ...

    def seed_cache(self, packages: Sequence[Package], channel: Path) -> None:
        """Fill the package cache with `packages` from the local channel `channel`."""
        ...

    def cache_root(self) -> Path:
        """The package and repodata cache this engine uses."""
        ...

    def host_virtual_packages(self) -> tuple[HostPackage, ...]:
        """The virtual packages this machine offers (`__cuda`, `__glibc`, ...), with conda's
        CONDA_OVERRIDE_* variables applied (an empty one removes the package)."""
        ...

    def snapshot(self, prefix: Path) -> object:
        """An opaque record of the env's packages, for `restore`."""
        ...

    def restore(
        self, prefix: Path, snapshot: object, scratch: Path, *, sources: Sequence[Channel] = ()
    ) -> None:
        """Put the env's packages back as `snapshot` recorded them (`scratch` as for
        `fetch`)."""
        ...


def get_engine(name: str = "rattler") -> Engine:
    """The engine registered under `name`."""
    if name == "rattler":
        from wsp.engines.rattler import RattlerEngine

        return RattlerEngine()
    from wsp.errors import WspError

    raise WspError(f"unknown engine {name!r}", hint="the available engine is 'rattler'")
