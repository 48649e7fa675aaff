"""The ownership marker wsp keeps inside every env it creates: `<prefix>/conda-meta/wsp`.

It carries its own format version. It is written twice: `state: building` before wsp
changes anything in the env, and `state: complete` last, once the env is whole. An env
whose marker is not complete is half-built. The file has no .json suffix so conda,
which reads conda-meta/*.json as package records, ignores it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from wsp import __version__, codec
from wsp.fsutil import atomic_write_json, stable_hash

MARKER_FORMAT = 2
MARKER_RELPATH = Path("conda-meta") / "wsp"

State = Literal["building", "complete"]


def marker_path(prefix: Path) -> Path:
    return prefix / MARKER_RELPATH


def dists_hash(dists: frozenset[str] | set[str] | list[str]) -> str:
    """The hash of an env's package set, from its conda-meta record names."""
    return stable_hash(sorted(dists))


@dataclass(frozen=True)
class Declared:
    """What the env was built from, as workspace.toml declared it (for plan reasons)."""

    python: str | None = None
    dependencies: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    editables: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    jupyter: tuple[str, ...] = ()  # the kernel's name and display name, when one is declared
    env_vars: tuple[str, ...] = ()  # NAME=value, in order
    exclude_newer: str | None = None
    system_requirements: dict[str, str] = field(default_factory=dict)  # {"cuda": "12.0"}

    @property
    def variables(self) -> dict[str, str]:
        """`env_vars` as {NAME: value}, in order: what conda-meta/state holds."""
        return dict(v.partition("=")[::2] for v in self.env_vars)


@dataclass(frozen=True)
class Marker:
    """Who owns the env and what it was built from. Format 2; format 1 (an `extra`
    dict) is read and migrated."""

    workspace: str
    manifest: str
    project: str
    env: str
    state: State
    spec_hash: str = ""
    installed_hash: str = ""
    packages: tuple[str, ...] = ()
    python: str | None = None
    applied_at: str = ""
    wsp_version: str = __version__
    format: int = MARKER_FORMAT
    declared: Declared | None = None
    built_at: str = ""  # the prefix the env was built at: conda envs can't be moved
    pip: dict[str, str] = field(default_factory=dict)  # pins wsp installed with uv
    pip_unmanaged: dict[str, str] = field(default_factory=dict)  # pip installs seen, not wsp's
    editables: dict[str, str] = field(default_factory=dict)  # project -> source folder
    lock_id: str | None = None  # the wsp.lock content the env was built from
    workspace_id: str | None = None  # the checkout's .wsp/id (wsp.identity)
    build: int = 0  # the build's number in the env's history (wsp.history); 0: before it
    variant: str | None = None  # the platform (variant) it was built for: "linux-64-cuda"
    cuda_builds: tuple[str, ...] = ()  # what in it needs a CUDA driver (for WSP601)

    def to_json(self) -> dict[str, Any]:
        return codec.dump(self)  # type: ignore[no-any-return]

    def built_for(self, platform: str) -> str:
        """The variant it was built for (an env of an older wsp: its plain `platform`)."""
        return self.variant or platform

    @property
    def system_requirements(self) -> dict[str, str]:
        """The system requirements its build was solved with ({} when none or unknown)."""
        return self.declared.system_requirements if self.declared is not None else {}

    @classmethod
    def from_json(cls, data: Any) -> Marker:
        """Parse a marker; raises ValueError when it is not one wsp can read."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        fmt = data.get("format")
        if fmt == 1:
            data = _from_format_1(data)
        elif fmt != MARKER_FORMAT:
            newer = isinstance(fmt, int) and fmt > MARKER_FORMAT
            raise ValueError(
                f"marker format {fmt!r} is "
                + ("newer than this wsp reads: upgrade wsp" if newer else f"not {MARKER_FORMAT}")
            )
        if data.get("state") not in ("building", "complete"):
            data = {**data, "state": "building"}
        return codec.load(cls, data)


def _from_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """A format-1 marker's fields in format 2: `extra` becomes typed fields."""
    extra = data.get("extra") or {}
    if not isinstance(extra, dict):
        raise ValueError("extra is not an object")
    out = {k: v for k, v in data.items() if k != "extra"}
    desired = extra.get("desired")
    if isinstance(desired, dict):
        out["declared"] = {
            k: desired.get(k) or ([] if k != "python" else None)
            for k in ("python", "dependencies", "pip", "editables", "channels")
        }
    for key, new in (("prefix", "built_at"), ("pip", "pip"), ("pip_unmanaged", "pip_unmanaged")):
        if extra.get(key) is not None:
            out[new] = extra[key]
    if extra.get("editables") is not None:
        out["editables"] = extra["editables"]
    out["lock_id"] = extra.get("lock_id")
    out["format"] = MARKER_FORMAT
    return out


def read_marker(prefix: Path) -> tuple[Marker | None, bytes | None, str | None]:
    """(marker, raw bytes, problem): marker None and problem set when unreadable."""
    try:
        with open(os.path.join(prefix, MARKER_RELPATH), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, None, None
    except OSError as exc:
        return None, None, f"marker unreadable: {exc.strerror}"
    try:
        return Marker.from_json(json.loads(raw)), raw, None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, raw, f"marker is not valid ({exc})"


def write_marker(prefix: Path, marker: Marker) -> None:
    atomic_write_json(marker_path(prefix), marker.to_json())


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
