"""An env's past: `conda-meta/wsp-history.jsonl` (one line per apply) and the earlier
builds kept for `wsp rollback` (`conda-meta/wsp-builds/<N>/`).

Every build wsp completes gets the next number N, recorded in its marker and in one
history line: when, what kind of change, what changed, and from which declaration. A
build that an update or replace supersedes is kept as `wsp-builds/<N>/`: its marker and
its package records (`conda-meta/*.json`, a few kB), never its files: the packages stay
in the package cache and are linked again on rollback. `[workspace] keep-builds` says
how many are kept (the newest ones). conda reads only `conda-meta/*.json`, so it sees
none of this; conda's own `conda-meta/history` is not touched here.

The history file is rewritten whole and atomically for each line added (it stays small:
one line per apply); a line wsp cannot read is skipped, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsp import __version__, codec
from wsp.fsutil import atomic_write_bytes
from wsp.marker import Declared, Marker

HISTORY_FORMAT = 1
HISTORY_RELPATH = Path("conda-meta") / "wsp-history.jsonl"
BUILDS_RELPATH = Path("conda-meta") / "wsp-builds"
LEGACY_RELPATH = Path("conda-meta") / "wsp-previous"  # the one build wsp kept before


def history_path(prefix: Path) -> Path:
    return prefix / HISTORY_RELPATH


def builds_path(prefix: Path) -> Path:
    return prefix / BUILDS_RELPATH


@dataclass(frozen=True)
class Entry:
    """One completed apply of an env."""

    build: int
    applied_at: str
    action: str  # create | update | replace | rollback | unpack
    source: str  # workspace.toml | wsp.lock | rollback to build N | pack FILE
    reasons: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()  # "+ numpy 1.26.4", "~ zlib 1.3.1 -> 1.4.0", "- six 1.16.0 (pip)"
    spec_hash: str = ""
    lock_id: str | None = None
    declared: Declared | None = None
    manifest: str = ""
    wsp_version: str = __version__
    format: int = HISTORY_FORMAT

    def to_json(self) -> dict[str, Any]:
        return codec.dump(self)  # type: ignore[no-any-return]


def read_history(prefix: Path) -> list[Entry]:
    """The env's history, oldest first (lines wsp cannot read are skipped)."""
    try:
        raw = history_path(prefix).read_bytes()
    except OSError:
        return []
    out = []
    for line in raw.splitlines():
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            data = json.loads(line)
            if isinstance(data, dict) and data.get("format") == HISTORY_FORMAT:
                out.append(codec.load(Entry, data))
    return out


def append(prefix: Path, entry: Entry) -> None:
    """Add one line, rewriting the file atomically (a reader sees the old file or the new)."""
    path = history_path(prefix)
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    line = json.dumps(entry.to_json(), sort_keys=True, separators=(",", ":")).encode()
    atomic_write_bytes(path, old + line + b"\n")


def next_build(prefix: Path, marker: Marker | None) -> int:
    """The number the env's next build gets: one more than any it had."""
    known = [e.build for e in read_history(prefix)] + list(kept_builds(prefix))
    if marker is not None:
        known.append(marker.build)
    return max(known, default=0) + 1


# -- builds kept for rollback ------------------------------------------------------------


def _read_marker(folder: Path) -> Marker | None:
    try:
        return Marker.from_json(json.loads((folder / "marker").read_bytes()))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def kept_builds(prefix: Path) -> dict[int, Path]:
    """The builds the env keeps for rollback, by number, oldest first: the folders of
    `wsp-builds/` with a marker wsp can read (and the one `wsp-previous/` of older wsp)."""
    found: dict[int, Path] = {}
    legacy = prefix / LEGACY_RELPATH
    if (marker := _read_marker(legacy)) is not None:
        found[marker.build] = legacy
    with contextlib.suppress(OSError):
        for entry in os.scandir(builds_path(prefix)):
            if entry.name.isdigit() and _read_marker(Path(entry.path)) is not None:
                found[int(entry.name)] = Path(entry.path)
    return dict(sorted(found.items()))


def record_files(prefix: Path) -> dict[str, bytes]:
    """The env's package records, by file name: what `save_build` keeps of a build."""
    meta = prefix / "conda-meta"
    return {p.name: p.read_bytes() for p in sorted(meta.glob("*.json"))}


def build_marker(folder: Path) -> Marker | None:
    """The marker of a kept build (a folder of `kept_builds`)."""
    return _read_marker(folder)


def save_build(
    prefix: Path, number: int, records: dict[str, bytes], marker_raw: bytes, *, keep: int
) -> None:
    """Keep build `number` (its package records and marker) in one rename, then drop the
    oldest beyond `keep`. With `keep` 0 nothing is kept."""
    if keep > 0:
        dest = builds_path(prefix) / str(number)
        tmp = builds_path(prefix) / f".new-{number}-{uuid.uuid4().hex[:8]}"
        (tmp / "conda-meta").mkdir(parents=True)
        for name, data in records.items():
            (tmp / "conda-meta" / name).write_bytes(data)
        atomic_write_bytes(tmp / "marker", marker_raw)
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    prune_builds(prefix, keep)


def prune_builds(prefix: Path, keep: int, *, dry_run: bool = False) -> list[Path]:
    """Remove (or with `dry_run` only list) the kept builds beyond the newest `keep`, and
    any half-written one."""
    builds = kept_builds(prefix)
    old = [builds[n] for n in sorted(builds)[: max(len(builds) - keep, 0)]]
    with contextlib.suppress(OSError):
        old += [Path(e.path) for e in os.scandir(builds_path(prefix)) if e.name.startswith(".new-")]
    if not dry_run:
        for folder in old:
            shutil.rmtree(folder, ignore_errors=True)
    return old


def carry_over(old_prefix: Path, new_prefix: Path) -> None:
    """Move the history and kept builds of an env that was replaced into its new build."""
    for rel in (HISTORY_RELPATH, BUILDS_RELPATH, LEGACY_RELPATH):
        src, dest = old_prefix / rel, new_prefix / rel
        if os.path.lexists(src) and not os.path.lexists(dest):
            os.rename(src, dest)
