"""The ownership marker wsp keeps inside every env it creates: `<prefix>/conda-meta/wsp`.

It carries its own format version. It is written twice: `state: building` before wsp
changes anything in the env, and `state: complete` last, once the env is whole. An env
whose marker is not complete is half-built. The file has no .json suffix so conda,
which reads conda-meta/*.json as package records, ignores it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from wsp import __version__
from wsp.fsutil import atomic_write_bytes, atomic_write_json, exchange, stable_hash

MARKER_FORMAT = 1
MARKER_RELPATH = Path("conda-meta") / "wsp"

State = Literal["building", "complete"]


def marker_path(prefix: Path) -> Path:
    return prefix / MARKER_RELPATH


def dists_hash(dists: frozenset[str] | set[str] | list[str]) -> str:
    """The hash of an env's package set, from its conda-meta record names."""
    return stable_hash(sorted(dists))


@dataclass(frozen=True)
class Marker:
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
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["packages"] = list(self.packages)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Marker:
        """Parse a marker; raises ValueError when it is not one wsp can read."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        fmt = data.get("format")
        if fmt != MARKER_FORMAT:
            raise ValueError(f"marker format {fmt!r} is not {MARKER_FORMAT}")
        try:
            return cls(
                workspace=str(data["workspace"]),
                manifest=str(data["manifest"]),
                project=str(data["project"]),
                env=str(data["env"]),
                state=data["state"] if data["state"] in ("building", "complete") else "building",
                spec_hash=str(data.get("spec_hash", "")),
                installed_hash=str(data.get("installed_hash", "")),
                packages=tuple(str(p) for p in data.get("packages", ())),
                python=data.get("python"),
                applied_at=str(data.get("applied_at", "")),
                wsp_version=str(data.get("wsp_version", "")),
                format=MARKER_FORMAT,
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"missing or bad field {exc}") from None


def read_marker(prefix: Path) -> tuple[Marker | None, bytes | None, str | None]:
    """(marker, raw bytes, problem): marker None and problem set when unreadable."""
    path = marker_path(prefix)
    try:
        raw = path.read_bytes()
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


# -- the previous build, for `wsp rollback` -------------------------------------------------

PREVIOUS_RELPATH = Path("conda-meta") / "wsp-previous"


def previous_path(prefix: Path) -> Path:
    """Where an env keeps its previous build: `conda-meta/wsp-previous/`, holding that
    build's marker and, in its own `conda-meta/`, its package records (conda and rattler
    read only `conda-meta/*.json`, so neither sees them)."""
    return prefix / PREVIOUS_RELPATH


def record_files(prefix: Path) -> dict[str, bytes]:
    """The env's package records, by file name: what `save_previous` keeps."""
    meta = prefix / "conda-meta"
    return {p.name: p.read_bytes() for p in sorted(meta.glob("*.json"))}


def save_previous(prefix: Path, records: dict[str, bytes], marker_raw: bytes) -> None:
    """Keep one previous build of the env (replacing the one kept before), in one rename."""
    dest = previous_path(prefix)
    tmp = dest.with_name(f".wsp-previous-{uuid.uuid4().hex[:8]}")
    (tmp / "conda-meta").mkdir(parents=True)
    for name, data in records.items():
        (tmp / "conda-meta" / name).write_bytes(data)
    atomic_write_bytes(tmp / "marker", marker_raw)
    if dest.exists() and exchange(tmp, dest):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)


def read_previous(prefix: Path) -> Marker | None:
    """The marker of the env's previous build, when it keeps one that wsp can read."""
    try:
        return Marker.from_json(json.loads((previous_path(prefix) / "marker").read_bytes()))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
