"""What conda does when it links a `noarch: python` package that rattler (py-rattler 0.28)
does not, or does otherwise: done by wsp right after rattler links, so that an env wsp
builds holds what conda would build. A workaround at wsp's level, not a change to rattler.

Measured against conda 26.7.1 on the same channel:

- conda compiles the `.py` files such a package puts in site-packages with the env's own
  python (`python -Wi -m compileall -q -l -i LIST`, in the env's folder) and records each
  `.pyc` in the package's record (`files`, and `paths_data` as `pyc_file`); rattler
  compiles nothing. Without them Python writes the `__pycache__` of every module on its
  first import (files no record lists: `conda remove` leaves them behind, and the
  package's folder, holding only them, stays importable as a namespace package), or, in
  an env its user may not write (a shared one), compiles them again at every start.
  wsp compiles a package's modules once per Python version and keeps them beside its
  files in the package cache (`.wsp-pyc/`): the next env links them, as it links the
  package's other files, instead of running the compiler again.
- conda writes an entry point's script with the umask's mode and makes it executable
  (0755 under umask 022); rattler writes it 0775 whatever the umask, so it was writable
  by the owner's group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wsp.fsutil import atomic_write_bytes, record_head
from wsp.modes import umask

__all__ = ["STORE", "STORE_ASIDE", "finish_noarch_python"]

_ENTRY_POINT = "unix_python_entry_point"
_COMPILE_TIMEOUT = 600  # seconds; a package of thousands of modules takes a few


def finish_noarch_python(
    prefix: Path, linked: Iterable[str], python: tuple[str, str | None] | None, *, staged: bool
) -> None:
    """Do for the `noarch: python` packages just linked into `prefix` what conda does.

    `linked` names the records rattler just wrote (`<name>-<version>-<build>`), `python`
    is the env's python version and its `python_site_packages_path` (None: no python).
    `.py` files are compiled by `prefix`'s own interpreter (`bin/pythonX.Y`, conda's);
    when it is missing or fails, modules are left uncompiled, as conda leaves them: a
    missing `.pyc` costs time, never correctness. In an env being built beside (`staged`)
    a record is rewritten in place, else atomically."""
    records: list[tuple[Path, dict[str, Any]]] = []
    for stem in sorted(set(linked)):
        path = prefix / "conda-meta" / f"{stem}.json"
        try:
            head, cut = record_head(path)
            # the only kind conda compiles and links so; rattler writes it (as `url`)
            # before the file lists, conda after them
            if '"noarch": "python"' not in head and (not cut or '\n  "url": ' in head):
                continue
            text = path.read_bytes().decode("utf-8") if cut else head
        except (OSError, UnicodeDecodeError):
            continue
        if '"noarch": "python"' not in text:
            continue
        with contextlib.suppress(ValueError):
            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("files"), list):
                records.append((path, data))
    if not records:
        return
    _entry_point_modes(prefix, records)
    if python is None:
        return
    version, site = python
    short = ".".join(version.split(".")[:2])
    site = (site or f"lib/python{short}/site-packages").rstrip("/") + "/"
    wanted = {
        path: [f for f in data["files"] if isinstance(f, str) and _compiled(f, site)]
        for path, data in records
    }
    tag = "cpython-" + short.replace(".", "")
    # modules an earlier env compiled from the same package of the cache are linked as
    # they are (compiled relative to the env, as conda compiles them, they fit any env)
    todo: list[str] = []
    fresh: list[tuple[Path, list[str]]] = []  # stores the compile below fills
    for path, data in records:
        store = _store(data, tag)
        missing = [f for f in wanted[path] if not _take(store, prefix, f, tag)]
        todo += missing
        if missing and store is not None:
            fresh.append((store, wanted[path]))
    if todo and _compile(prefix, short, sorted(set(todo))):
        for store, sources in fresh:
            # only a module of the cache's own file is shared: one rewritten for its env (a
            # prefix placeholder replaced: a copy) holds that env's folder, and its header
            # can't tell it from another env's (rewritten in the same second, as long)
            _publish(store, prefix, [_pyc(f, tag) for f in sources if _hard_linked(prefix / f)])
    for path, data in records:
        pycs = [p for p in (_pyc(f, tag) for f in wanted[path]) if (prefix / p).is_file()]
        if pycs:
            _record_pycs(path, data, pycs, staged=staged)


STORE = ".wsp-pyc"  # in a package's folder of the package cache: its compiled modules
STORE_ASIDE = ".tmp-"  # a store being built in STORE (wsp gc frees one a kill left)


def _store(data: dict[str, Any], tag: str) -> Path | None:
    """Where the modules of the package `data` records are kept compiled for `tag`: in
    its folder of the package cache (freed with it by `wsp gc`); None when unknown."""
    folder = data.get("extracted_package_dir")
    return Path(folder) / STORE / tag if isinstance(folder, str) and folder else None


def _hard_linked(path: Path) -> bool:
    """`path` is a package cache's file, linked into the env (not a copy of its own)."""
    try:
        return os.stat(path).st_nlink > 1
    except OSError:
        return False


def _take(store: Path | None, prefix: Path, source: str, tag: str) -> bool:
    """Link into the env the `.pyc` of `source` the store holds, when the env's file is
    the cache's (hard-linked: a copy, such as one rewritten for this env, is compiled
    again) and the header says it was compiled from it (its mtime and size)."""
    if store is None:
        return False
    pyc = _pyc(source, tag)
    try:
        with open(store / pyc, "rb") as fh:
            head = fh.read(16)
        st = os.stat(prefix / source)
    except OSError:
        return False
    word = [int.from_bytes(head[i : i + 4], "little") for i in range(4, 16, 4)]
    stamp = [0, int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF]
    if len(head) < 16 or st.st_nlink < 2 or word != stamp:
        return False  # a copy of its own, or not a timestamp .pyc of this source
    target = prefix / pyc
    try:
        target.parent.mkdir(exist_ok=True)
        _link(store / pyc, target)
    except FileExistsError:  # one Python wrote at an import, unrecorded and maybe stale:
        return False  # compileall keeps it if it is of this source, else compiles it again
    except OSError:
        return False
    return True


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if isinstance(exc, FileExistsError):
            raise
        shutil.copy2(src, dst)  # another file system: a copy


def _publish(store: Path, prefix: Path, pycs: list[str]) -> None:
    """Keep the modules just compiled in the env in `store` for the next env (hard links,
    no copy), built aside and renamed into place whole: a concurrent apply sees no store
    or a complete one. A store already there is left as it is; failing (a package cache
    this user may not write) only costs the next env a compile."""
    if not pycs or store.exists():
        return
    try:
        store.parent.mkdir(exist_ok=True)
        aside = Path(tempfile.mkdtemp(prefix=STORE_ASIDE, dir=store.parent))
        os.chmod(aside, 0o777 & ~umask())  # as the cache's other folders: mkdtemp's is 0700
    except OSError:
        return
    try:
        for pyc in pycs:
            if (prefix / pyc).is_file():  # (a module this python can't compile has none)
                (aside / pyc).parent.mkdir(parents=True, exist_ok=True)
                _link(prefix / pyc, aside / pyc)
        os.rename(aside, store)
    except OSError:
        pass
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _compiled(path: str, site: str) -> bool:
    """A file conda compiles: a `.py` in site-packages (not in `__pycache__`)."""
    return path.startswith(site) and path.endswith(".py") and "/__pycache__/" not in path


def _pyc(py: str, tag: str) -> str:
    """conda's `pyc_path`: `a/b.py` -> `a/__pycache__/b.<tag>.pyc`."""
    folder, _, name = py.rpartition("/")
    return f"{folder}/__pycache__/{name[:-3]}.{tag}.pyc"


def _compile(prefix: Path, short: str, sources: list[str]) -> bool:
    """Compile `sources` (paths relative to `prefix`) with the env's python, as conda does;
    False when there is no interpreter to run."""
    exe = prefix / "bin" / f"python{short}"
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        return False
    command = [str(exe), "-Wi", "-m", "compileall", "-q", "-l", "-i", "-"]
    if len(sources) > 100:  # workers pay off only for many modules
        command += ["-j", "0"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
    try:
        subprocess.run(
            command,
            input="".join(f"{s}\n" for s in sources),
            cwd=prefix,
            env=env,
            capture_output=True,
            text=True,
            timeout=_COMPILE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _record_pycs(path: Path, data: dict[str, Any], pycs: list[str], *, staged: bool) -> None:
    """Add `pycs` to the package record at `path` as conda records them."""
    files: list[Any] = data["files"]
    known = set(files)
    new = [p for p in pycs if p not in known]
    if not new:
        return
    files.extend(new)
    paths_data = data.get("paths_data")
    if isinstance(paths_data, dict) and isinstance(paths_data.get("paths"), list):
        paths_data["paths"].extend({"_path": p, "path_type": "pyc_file"} for p in new)
    raw = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    if staged and os.stat(path).st_nlink == 1:
        path.write_bytes(raw)
    else:
        atomic_write_bytes(path, raw)


def _entry_point_modes(prefix: Path, records: list[tuple[Path, dict[str, Any]]]) -> None:
    """The entry points' scripts get conda's mode: the umask's, plus execute for all."""
    mode = (0o666 & ~umask()) | 0o111
    me = os.geteuid()
    for _, data in records:
        paths = (data.get("paths_data") or {}).get("paths") or []
        for entry in paths:
            if not (isinstance(entry, dict) and entry.get("path_type") == _ENTRY_POINT):
                continue
            rel = Path(str(entry.get("_path", "")))
            if rel.is_absolute() or ".." in rel.parts:
                continue
            target = prefix / rel
            try:
                st = os.lstat(target)
            except OSError:
                continue
            if (
                stat.S_ISREG(st.st_mode)
                and st.st_nlink == 1
                and st.st_uid == me
                and stat.S_IMODE(st.st_mode) != mode
            ):
                with contextlib.suppress(OSError):
                    os.chmod(target, mode)
