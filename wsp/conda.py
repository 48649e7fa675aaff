"""Where conda lives: its root, its envs dirs, and ~/.conda/environments.txt."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

from wsp.fsutil import atomic_write_text

_USUAL_PLACES = ("~/miniforge3", "~/mambaforge", "~/miniconda3", "~/anaconda3", "/opt/conda")


def _is_conda_root(path: Path) -> bool:
    return (path / "conda-meta").is_dir()


@cache
def find_conda_root() -> Path | None:
    """The conda installation, in DESIGN's order; None when there is none."""
    if root := os.environ.get("WSP_CONDA_ROOT"):
        return Path(root).expanduser() if _is_conda_root(Path(root).expanduser()) else None
    if exe := os.environ.get("CONDA_EXE"):
        # <root>/bin/conda or <root>/condabin/conda
        candidate = Path(exe).resolve().parent.parent
        if _is_conda_root(candidate):
            return candidate
    if mamba_root := os.environ.get("MAMBA_ROOT_PREFIX"):
        candidate = Path(mamba_root).expanduser()
        if _is_conda_root(candidate):
            return candidate
    if conda := shutil.which("conda"):
        with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError, KeyError):
            out = subprocess.run(
                [conda, "info", "--json"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
            candidate = Path(json.loads(out)["root_prefix"])
            if _is_conda_root(candidate):
                return candidate
    for place in _USUAL_PLACES:
        candidate = Path(place).expanduser()
        if _is_conda_root(candidate):
            return candidate
    return None


def conda_envs_dirs(root: Path | None = None) -> list[Path]:
    """conda's own envs dirs, first one first (CONDA_ENVS_PATH, then <root>/envs)."""
    root = root if root is not None else find_conda_root()
    dirs: list[Path] = []
    for var in ("CONDA_ENVS_PATH", "CONDA_ENVS_DIRS"):
        for part in os.environ.get(var, "").split(os.pathsep):
            if part:
                dirs.append(Path(part).expanduser())
    if root is not None:
        dirs.append(root / "envs")
    return dirs


def default_envs_dir(workspace_root: Path) -> Path:
    """conda's first envs dir when conda is installed (so `conda activate NAME` works)."""
    dirs = conda_envs_dirs()
    return dirs[0] if dirs else workspace_root / ".wsp" / "envs"


def environments_txt() -> Path:
    return Path.home() / ".conda" / "environments.txt"


def _is_in_conda_envs_dirs(prefix: Path) -> bool:
    return any(prefix.parent.resolve() == d.resolve() for d in conda_envs_dirs())


_TXT_LOCK = threading.Lock()


@contextlib.contextmanager
def _environments_txt_locked() -> Iterator[Path]:
    """environments.txt, read-modify-written by one thread of one process at a time."""
    path = environments_txt()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _TXT_LOCK:
        fd = os.open(path.parent / ".environments.txt.wsp-lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield path
        finally:
            os.close(fd)  # releases the flock


def register_env(prefix: Path) -> None:
    """List `prefix` in ~/.conda/environments.txt so `conda env list` shows it."""
    if _is_in_conda_envs_dirs(prefix):
        return
    with _environments_txt_locked() as path:
        lines = path.read_text().splitlines() if path.exists() else []
        if str(prefix) not in lines:
            atomic_write_text(path, "".join(f"{line}\n" for line in [*lines, str(prefix)]))


def unregister_env(prefix: Path) -> None:
    """Remove `prefix` from ~/.conda/environments.txt (if it is there)."""
    if not environments_txt().exists():
        return
    with _environments_txt_locked() as path:
        lines = path.read_text().splitlines()
        kept = [line for line in lines if line.strip() != str(prefix)]
        if kept != lines:
            atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def sync_envs(envs_dir: Path, present: Iterable[Path]) -> None:
    """Make ~/.conda/environments.txt list the envs `present` and no env of `envs_dir` that
    is gone: what an apply killed between changing an env and (un)listing it left."""
    want = [str(p) for p in present if not _is_in_conda_envs_dirs(p)]
    if not want and not environments_txt().exists():
        return
    with _environments_txt_locked() as path:
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [
            line
            for line in lines
            if not (Path(line.strip()).parent == envs_dir and not Path(line.strip()).exists())
        ]
        kept += [w for w in want if w not in kept]
        if kept != lines:
            atomic_write_text(path, "".join(f"{line}\n" for line in kept))
