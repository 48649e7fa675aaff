"""What is on disk: the envs in envs-dir, their ownership markers and package sets.

Reading an env costs one directory listing of conda-meta plus its small marker;
package records are read only by the engine, and only when the plan needs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wsp.condameta import read_state
from wsp.engines import Package
from wsp.fsutil import sha256_hex, stable_hash
from wsp.identity import STAGING, TRASH, Owner
from wsp.manifest import Workspace
from wsp.marker import MARKER_RELPATH, Marker, dists_hash, read_marker
from wsp.pipbase import dist_info_names

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from wsp.graph import DesiredEnv
    from wsp.sysreq import HostPackage

# "unowned": a conda env (it has conda-meta) without wsp's marker; "folder": a folder that
# is no conda env (no conda-meta), an empty one too: never wsp's, whose envs carry their
# marker from their first moment
Ownership = Literal["ours", "foreign", "copy", "unowned", "unreadable", "symlink", "file", "folder"]


@dataclass(frozen=True)
class ObservedEnv:
    name: str
    prefix: Path
    ownership: Ownership
    marker: Marker | None = None
    marker_raw: bytes | None = None
    problem: str | None = None
    dists: frozenset[str] = frozenset()
    pip_dists: frozenset[str] = frozenset()  # *.dist-info names in site-packages
    moved_from: str | None = None  # the workspace.toml its marker names, now gone
    read_only: str | None = None  # why wsp must not write into it (owned envs only)
    frozen: bool = False  # conda-meta/frozen (CEP 22): conda removes it only when overridden
    env_vars: tuple[tuple[str, str], ...] | None = None  # conda-meta/state's (owned envs)
    private_to: str | None = None  # the user whose env this user may not read

    @cached_property  # plan asks twice per env (resolve, then plan)
    def installed_hash(self) -> str:
        return dists_hash(self.dists | {f"pip:{d}" for d in self.pip_dists})

    @property
    def half_built(self) -> bool:
        return (
            self.ownership == "ours" and self.marker is not None and self.marker.state != "complete"
        )

    @property
    def relocated_from(self) -> str | None:
        """The path the env was built at, when it has been moved since (conda envs can't be)."""
        if self.marker is None:
            return None
        built = self.marker.built_at
        return built if built and built != str(self.prefix) else None

    @property
    def env_var_drift(self) -> tuple[str, ...]:
        """The env's variables set, changed or unset since wsp completed it (`conda env
        config vars set`, which a frozen env allows): `+ env var NAME`, `~ env var NAME`,
        `- env var NAME` (values are not shown)."""
        m = self.marker
        if m is None or m.state != "complete" or m.declared is None or self.env_vars is None:
            return ()
        if not self.env_vars and not m.declared.env_vars:
            return ()  # most envs: none set, none declared (the no-op path asks each env)
        built, now = m.declared.variables, dict(self.env_vars)
        return (
            *(f"+ env var {n}" for n in now if n not in built),
            *(f"~ env var {n}" for n in now if n in built and now[n] != built[n]),
            *(f"- env var {n}" for n in built if n not in now),
        )

    @property
    def python_version(self) -> str | None:
        for dist in self.dists:
            pkg = Package.from_dist(dist)
            if pkg is not None and pkg.name == "python":
                return pkg.version
        return None

    def fingerprint(self) -> str:
        """Changes whenever the env's marker or package set changes."""
        return stable_hash(
            {
                "ownership": self.ownership,
                "marker": sha256_hex(self.marker_raw) if self.marker_raw is not None else None,
                "installed": self.installed_hash,  # conda's records and pip's dist-infos
                "env_vars": self.env_vars,
            }
        )

    def why_not_ours(self, owner: Owner) -> str:
        if self.ownership == "symlink":
            return "it is a symlink; wsp never follows env names out of envs-dir"
        if self.ownership == "file":
            return "it is a file, not an env folder"
        if self.ownership == "folder":
            if not self.prefix.exists():
                return "it is gone"
            return "it is a folder, not a conda env (no conda-meta)"
        if self.ownership == "copy" and self.marker is not None:
            return f"its marker was written for env {self.marker.env!r}: it looks like a copy"
        if self.ownership == "unowned":
            return "it was not created by wsp (no ownership marker)"
        if self.ownership == "unreadable":
            return self.problem if self.private_to else f"its ownership {self.problem}"
        if self.moved_from:
            return (
                f"its marker names {self.moved_from}, which is gone; wsp adopts it when a "
                "project of this workspace declares it"
            )
        if self.ownership == "foreign" and self.marker is not None:
            if self.marker.workspace != owner.name:
                return f"it belongs to workspace {self.marker.workspace!r} ({self.marker.manifest})"
            if not Path(self.marker.manifest).exists():
                return (
                    f"it belongs to another checkout of {owner.name!r} ({self.marker.manifest}, "
                    "now gone; this checkout's .wsp/id is not the one it was built with)"
                )
            return f"it belongs to another checkout of {owner.name!r} ({self.marker.manifest})"
        return "it is not owned by this workspace"


def _meta(prefix: Path) -> tuple[frozenset[str], bool]:
    """The package records conda-meta holds, and whether it has a `state` file (one
    listing: the no-op path reads no file an env does not have)."""
    dists: list[str] = []
    state = False
    try:
        with os.scandir(os.path.join(prefix, "conda-meta")) as it:
            for e in it:
                if (name := e.name).endswith(".json"):
                    dists.append(name[:-5])
                elif name == "state":
                    state = True
    except (FileNotFoundError, NotADirectoryError):
        return frozenset(), False
    return frozenset(dists), state


def _denied(path: Path | str, exc: OSError, what: str = "env") -> tuple[str, str]:
    """(why, whose) of an env (or its marker, `what`) this user may not read: another
    user built or updated it with a private umask such as 077."""
    from wsp.modes import whose

    owned = whose(path)
    where = f"{exc.filename or path}: {exc.strerror}"
    if not owned:
        return f"you may not read it ({where})", "its owner"
    return f"you may not read it ({where}; the {what} is {owned})", owned.split("'s (")[0]


def _read_only(prefix: Path) -> str | None:
    """Why the env must not be written to: its folder or conda-meta has no write bit
    (frozen on purpose; honoured even for root), or the system refuses writes (a
    read-only mount, an immutable folder)."""
    for path in (str(prefix), os.path.join(prefix, "conda-meta")):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
            from wsp.modes import whose

            theirs = st.st_uid != os.geteuid() and whose(path)  # another user's env
            return f"{path} is not writable" + (f": it is {theirs}" if theirs else "")
    return None


def _env_vars(prefix: Path, has_state: bool) -> tuple[tuple[str, str], ...]:
    """The variables conda-meta/state sets (what `conda env config vars set` writes)."""
    found = read_state(prefix).get("env_vars") if has_state else None
    return tuple((str(k), str(v)) for k, v in found.items()) if isinstance(found, dict) else ()


def _frozen(prefix: Path) -> bool:
    return os.path.lexists(os.path.join(prefix, "conda-meta", "frozen"))


def observe_env(owner: Owner, prefix: Path, entry: os.DirEntry[str] | None = None) -> ObservedEnv:
    """One folder of envs-dir: whose it is, and what it holds (`entry`: the folder as the
    listing of envs-dir gave it, which knows its type without another system call)."""
    name = prefix.name
    if entry.is_symlink() if entry is not None else prefix.is_symlink():
        return ObservedEnv(name, prefix, "symlink")
    if not (entry.is_dir() if entry is not None else prefix.is_dir() or not prefix.exists()):
        return ObservedEnv(name, prefix, "file")
    marker, raw, problem = read_marker(prefix)
    try:
        dists, has_state = _meta(prefix)
    except PermissionError as exc:  # another user's env, private to them
        denied, who = _denied(prefix, exc)
        return ObservedEnv(name, prefix, "unreadable", None, raw, denied, private_to=who)
    if problem is not None:
        path = os.path.join(prefix, MARKER_RELPATH)
        if raw is None and os.path.exists(path) and not os.access(path, os.R_OK):
            denied, who = _denied(path, PermissionError(13, "Permission denied", path), "marker")
            return ObservedEnv(name, prefix, "unreadable", None, raw, denied, private_to=who)
        return ObservedEnv(
            name, prefix, "unreadable", None, raw, problem, dists, frozen=_frozen(prefix)
        )
    if marker is None:
        if not os.path.isdir(os.path.join(prefix, "conda-meta")):
            return ObservedEnv(name, prefix, "folder")
        return ObservedEnv(name, prefix, "unowned", dists=dists, frozen=_frozen(prefix))
    mine, moved = owned_by(marker, owner)
    if mine and marker.env != name:  # a copy of an owned env is not owned
        return ObservedEnv(name, prefix, "copy", marker, raw, None, dists, frozen=_frozen(prefix))
    return ObservedEnv(
        name,
        prefix,
        "ours" if mine else "foreign",
        marker,
        raw,
        None,
        dists,
        dist_info_names(prefix) if mine else frozenset(),
        marker.manifest if moved else None,
        _read_only(prefix) if mine else None,
        frozen=not mine and _frozen(prefix),
        env_vars=_env_vars(prefix, has_state) if mine else None,
    )


def owned_by(marker: Marker, owner: Owner) -> tuple[bool, bool]:
    """(the marker names this workspace, it does so from before the workspace moved).

    Same name and same workspace.toml: ours. Same name, another workspace.toml that is
    gone, and this checkout's id: ours, moved here. Anything else (another checkout,
    however alike) is not."""
    if marker.workspace != owner.name:
        return False, False
    if marker.manifest == owner.manifest:
        return True, False
    moved = (
        owner.id is not None
        and marker.workspace_id == owner.id
        and not Path(marker.manifest).exists()
    )
    return moved, moved


EnvState = Literal["missing", "not owned", "half-built", "drifted", "out of date", "in sync"]


def env_state(
    want: DesiredEnv,
    have: ObservedEnv | None,
    host: Callable[[], Iterable[HostPackage]] | None = None,
) -> EnvState:
    """What `wsp status` says of an env, from its marker alone (no solve); with `host`
    (this machine's virtual packages), an env the next plan moves to another platform
    variant is out of date too."""
    if have is None:
        return "missing"
    if have.ownership != "ours" or have.marker is None:
        return "not owned"
    if have.half_built:
        return "half-built"
    if have.marker.installed_hash != have.installed_hash or have.env_var_drift:
        return "drifted"
    if have.marker.spec_hash != want.spec_hash:
        return "out of date"
    if host is not None and switches_variant(want, have, host):
        return "out of date"
    return "in sync"


def switches_variant(
    want: DesiredEnv, have: ObservedEnv | None, host: Callable[[], Iterable[HostPackage]]
) -> bool:
    """Whether an env of several candidate variants was built for another one than this
    machine now picks (`host` is asked only for such envs): the plan then updates it."""
    from wsp import sysreq

    if len(want.candidates) < 2 or have is None or have.ownership != "ours":
        return False
    if have.marker is None or have.marker.state != "complete":
        return False
    picked, lacking = sysreq.choose(want.candidates, host())
    return not lacking and picked.name != have.marker.built_for(want.platform)


def observe(ws: Workspace, owner: Owner) -> dict[str, ObservedEnv]:
    """Every env directory in envs-dir, by name (wsp's own staging and trash left out)."""
    out: dict[str, ObservedEnv] = {}
    try:
        entries = sorted(os.scandir(ws.envs_dir), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        if entry.name.startswith("."):
            continue
        out[entry.name] = observe_env(owner, Path(entry.path), entry)
    return out


def leftovers(envs_dir: Path, owner: Owner) -> list[Path]:
    """This checkout's staging and trash folders in envs-dir (an interrupted build or
    deletion left them). Another workspace's, or a user's folder of a like name, are not."""
    try:
        entries = list(os.scandir(envs_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for e in entries:
        if not e.name.startswith((STAGING, TRASH)) or e.is_symlink() or not e.is_dir():
            continue
        if owner.owns_leftover(e.name):
            out.append(Path(e.path))
            continue
        marker, _, _ = read_marker(Path(e.path))  # one an older wsp named, without a token
        if (
            marker is not None
            and marker.workspace == owner.name
            and marker.manifest == owner.manifest
        ):
            out.append(Path(e.path))
    return out
