"""Atomic writes and small file helpers. Every write of wsp's own files goes through here."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    mask = os.umask(0o022)  # read once, at import: umask is per process, not per thread
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees either the old file or the new one, never half.

    The file keeps its permissions (a new one gets the umask's, as `open` would give it),
    not the private 0600 of the temporary file it is written as. A symlink keeps its link:
    the file it points to is written. The temporary file is named `.NAME.wsp-tmp-*`, so
    one a killed process left behind is known for wsp's (`leftover_temporaries`)."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            path = Path(os.path.realpath(path))
            st = os.stat(path)
        mode = stat.S_IMODE(st.st_mode)
    except OSError:
        mode = 0o666 & ~_UMASK
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
        except FileNotFoundError:  # its folder is new
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
    except OSError as exc:  # the file asked for, not the temporary one, and what to do
        raise _cant_write(path, exc, "its folder must exist and be writable") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _cant_write(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cant_write(path: Path, exc: OSError, fix: str = "") -> OSError:
    """`exc` (of the temporary file beside `path`) as an error of `path`, its errno kept:
    `can't write PATH: Permission denied; FIX`."""
    reason = exc.strerror or str(exc)
    return OSError(exc.errno, f"can't write {path}: {reason}" + (f"; {fix}" if fix else ""))


TMP_MARK = ".wsp-tmp-"


def remove_leftover_temporaries(folder: Path, *, older_than: float = 60.0) -> int:
    """Delete the temporary files of atomic writes a killed wsp left in `folder` (not its
    subfolders), older than `older_than` seconds (a write in flight is younger); returns
    how many."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for e in entries:
        if e.name.startswith(".") and TMP_MARK in e.name and e.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                if now - e.stat(follow_symlinks=False).st_mtime > older_than:
                    os.unlink(e.path)
                    removed += 1
    return removed


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE).

    False where the system or file system cannot: the caller then falls back to two renames.
    """
    if sys.platform != "linux":
        return False
    import ctypes

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def remove_tree(path: Path, *, settle: float = 0.2, limit: float = 5.0) -> None:
    """Remove the folder `path` after a failed install, and again while files still appear
    in it: rattler's linking threads can outlive the error they failed with by a moment."""
    deadline = time.monotonic() + limit
    while True:
        shutil.rmtree(path, ignore_errors=True)
        time.sleep(settle)
        if not os.path.lexists(path) or time.monotonic() > deadline:
            return


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json_text(data))


def json_text(data: Any) -> str:
    """How wsp writes JSON files: indented, keys sorted, a final newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


_JSON = json.JSONDecoder()


def top_level_strings(text: str, keys: Sequence[str]) -> dict[str, tuple[int, int, str]] | None:
    """Where in `text` (a JSON object as `json_text`, rattler and conda write one: a key a
    line, indented by two spaces) each of the top-level string fields `keys` is written:
    the span of its value and the value, without parsing the rest (a package record lists
    thousands of files). None unless the object's first key is indented by two spaces and
    each of `keys` is found on a line of its own at that indent, holding a string: a line
    can't start inside a JSON string (it holds no raw newline), and a deeper key is
    indented further. (A key written twice, which no serializer does, is read where it
    is first.)"""
    if not text.startswith('{\n  "'):
        return None
    found = {}
    for key in keys:
        mark = f'\n  "{key}": '
        at = text.find(mark)
        if at < 0:
            return None
        start = at + len(mark)
        try:
            value, end = _JSON.raw_decode(text, start)
        except ValueError:
            return None
        if not isinstance(value, str):
            return None
        found[key] = (start, end, value)
    return found


_FILES_KEY = b'\n  "files": '  # where a package record's file lists begin (rattler's order)


def record_head(path: Path | str) -> tuple[str, bool]:
    """A package record's text (`conda-meta/*.json`) up to its file lists (megabytes for a
    real package), and whether it was cut there. rattler writes every other top-level
    field before them; conda, in sorted order, some after."""
    with open(path, "rb") as fh:
        head = fh.read(16384)
        while _FILES_KEY not in head:
            more = fh.read(65536)
            if not more:
                break
            head += more
    cut = head.find(_FILES_KEY)
    return (head[:cut] if cut >= 0 else head).decode("utf-8"), cut >= 0


def record_fields(path: Path | str, keys: Sequence[str]) -> dict[str, str] | None:
    """The top-level string fields `keys` of a package record, read from its head when
    they are all there (see `record_head`), else from the whole record. None when the
    record is not written a key a line or lacks one of them as a string."""
    text, cut = record_head(path)
    found = top_level_strings(text, keys)
    if found is None and cut:  # some after the file lists (conda's order)
        with open(path, "rb") as fh:
            found = top_level_strings(fh.read().decode("utf-8"), keys)
    return None if found is None else {k: v for k, (_, _, v) in found.items()}


def with_strings(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """`text` with each (start, end) span holding the JSON string of its value instead
    (spans from `top_level_strings`)."""
    for start, end, value in sorted(spans, reverse=True):
        text = text[:start] + json.dumps(value) + text[end:]
    return text


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_hexdigest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in chunks (a package archive may be gigabytes)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def stable_hash(data: Any) -> str:
    """`sha256:<hex>` of a JSON-able value, independent of dict order."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + sha256_hex(blob)


def file_url_path(url: str) -> Path | None:
    """The path a `file:` URL names (any case of the scheme); None for any other URL."""
    if not url.lower().startswith("file:"):
        return None
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(url).path))
