"""Where conda lives: its root, its envs dirs, and ~/.conda/environments.txt."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from wsp.fsutil import atomic_write_bytes, atomic_write_text

# An env's variables in conda-meta/state (`conda env config vars`), as conda reads them
ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
RESERVED_ENV_VARS = ("PATH",)  # conda ignores these in state (RESERVED_ENV_VARS)
UNSET_ENV_VAR = "***unset***"  # the value `conda env config vars unset` leaves

_USUAL_PLACES = ("~/miniforge3", "~/mambaforge", "~/miniconda3", "~/anaconda3", "/opt/conda")
_MAGIC = Path("conda-meta") / "history"  # conda's PREFIX_MAGIC_FILE: what makes a prefix an env


def _is_conda_root(path: Path) -> bool:
    return (path / "conda-meta").is_dir()


def _has_conda_package(path: Path) -> bool:
    """A Python environment (a virtualenv, say) with the `conda` package installed in it."""
    return (
        any(path.glob("lib/python3*/site-packages/conda/__init__.py"))
        or (path / "Lib" / "site-packages" / "conda" / "__init__.py").is_file()
    )


@dataclass(frozen=True)
class CondaInstall:
    """A conda installation: `root` is its base env (conda's `root_prefix`); `conda_prefix`
    is where conda's own code runs from (its interpreter's sys.prefix, conda's `$CONDA_ROOT`,
    where it reads `$CONDA_ROOT/.condarc`). The two differ for a conda installed into a
    virtualenv, whose root is its `root_prefix` setting, else the virtualenv itself."""

    root: Path
    conda_prefix: Path

    @property
    def root_writable(self) -> bool:
        """conda's `root_writable`: the base env's conda-meta/history can be appended to."""
        return _appendable(self.root / _MAGIC)


def _appendable(path: Path) -> bool:
    """conda's test of a magic file: it exists and opens for appending (nothing written)."""
    if not path.is_file():
        return False
    try:
        with open(path, "a"):
            return True
    except OSError:
        return False


def _from_python_env(prefix: Path) -> CondaInstall:
    """conda running from the Python environment `prefix` (no conda-meta/ there): its root
    is the `root_prefix` setting (CONDA_ROOT_PREFIX, or a .condarc it reads), else `prefix`."""
    from wsp.condarc import condarc_value

    setting = condarc_value("root_prefix", aliases=("root_dir",), conda_prefix=prefix)
    if isinstance(setting, str) and setting.strip():
        return CondaInstall(_expand(setting.strip()), prefix)
    return CondaInstall(prefix, prefix)


def _install_at(candidate: Path) -> CondaInstall | None:
    if _is_conda_root(candidate):
        return CondaInstall(candidate, candidate)
    if _has_conda_package(candidate):
        return _from_python_env(candidate)
    return None


@cache
def find_conda() -> CondaInstall | None:
    """The conda installation, in DESIGN's order; None when there is none."""
    if root := os.environ.get("WSP_CONDA_ROOT"):
        path = Path(root).expanduser()
        return CondaInstall(path, path) if _is_conda_root(path) else None
    if exe := os.environ.get("CONDA_EXE"):
        # <root>/bin/conda or <root>/condabin/conda; <venv>/bin/conda for a pip-installed conda
        for candidate in dict.fromkeys(
            (Path(exe).parent.parent, Path(exe).resolve().parent.parent)
        ):
            if (found := _install_at(candidate)) is not None:
                return found
    if mamba_root := os.environ.get("MAMBA_ROOT_PREFIX"):
        candidate = Path(mamba_root).expanduser()
        if _is_conda_root(candidate):
            return CondaInstall(candidate, candidate)
    if conda := shutil.which("conda"):
        with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError, KeyError):
            out = subprocess.run(
                [conda, "info", "--json"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
            info = json.loads(out)
            root = Path(info["root_prefix"])
            conda_prefix = Path(info.get("conda_prefix") or root)
            if root.is_dir():
                return CondaInstall(root, conda_prefix)
    for place in _USUAL_PLACES:
        candidate = Path(place).expanduser()
        if _is_conda_root(candidate):
            return CondaInstall(candidate, candidate)
    return None


def find_conda_root() -> Path | None:
    """conda's root prefix (its base env); None when no conda is found."""
    found = find_conda()
    return found.root if found is not None else None


find_conda_root.cache_clear = find_conda.cache_clear  # type: ignore[attr-defined]


def _expand(path: str) -> Path:
    return Path(os.path.expandvars(path)).expanduser()


def conda_envs_dirs(root: Path | None = None) -> list[Path]:
    """conda's envs dirs in conda's own order (`context.envs_dirs`): CONDA_ENVS_DIRS /
    CONDA_ENVS_PATH, then `envs_dirs` of the .condarc files (the later file first), then
    `<root>/envs` and `~/.conda/envs`, the user's folder first when the root is not writable
    (a multi-user install). Without a conda, only the dirs set explicitly."""
    from wsp.condarc import condarc_sequence

    install = find_conda() if root is None else CondaInstall(root, root)
    dirs = [
        _expand(p)
        for p in condarc_sequence(
            "envs_dirs",
            aliases=("envs_path",),
            conda_prefix=install.conda_prefix if install else None,
            delimiter=os.pathsep,
        )
    ]
    if install is not None:
        fixed = [install.root / "envs", Path("~/.conda/envs").expanduser()]
        dirs += fixed if install.root_writable else fixed[::-1]
    return list(dict.fromkeys(dirs))


def _usable(path: Path) -> bool:
    """conda's `first_writable_envs_dir` test, without creating anything: its magic file
    `.conda_envs_dir_test` can be appended to, else the folder (or the nearest folder that
    exists, where it would be made) is writable."""
    if (path / ".conda_envs_dir_test").is_file():
        return _appendable(path / ".conda_envs_dir_test")
    for p in (path, *path.parents):
        if p.exists():
            return p.is_dir() and os.access(p, os.W_OK | os.X_OK)
    return False


def conda_default_envs_dir(workspace_root: Path) -> Path:
    """Where conda itself would create a new env (its first usable envs dir), else the
    workspace's `.wsp/envs` when no conda is found."""
    for d in conda_envs_dirs():
        if _usable(d):
            return d
    return workspace_root / ".wsp" / "envs"


# -- the envs dir a workspace used: kept in .wsp/ so the shell it runs in does not move it --

ENVS_DIR_STATE = Path(".wsp") / "envs-dir.json"
ENVS_DIR_FORMAT = 1


@dataclass(frozen=True)
class EnvsDirChoice:
    """The default envs dir of a workspace (no `envs-dir` declared) and why."""

    path: Path
    conda_default: Path  # what conda's settings alone would pick now
    note: str | None = None  # said when the two differ


def remembered_envs_dir(workspace_root: Path) -> Path | None:
    """The envs dir this workspace's last apply used (`.wsp/envs-dir.json`)."""
    try:
        data = json.loads((workspace_root / ENVS_DIR_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != ENVS_DIR_FORMAT:
        return None
    value = data.get("envs_dir")
    return Path(value) if isinstance(value, str) and os.path.isabs(value) else None


def remember_envs_dir(workspace_root: Path, envs_dir: Path) -> None:
    """Note (atomically) the envs dir the workspace's envs are in, after an apply made or
    kept envs there. Nothing is said when `.wsp/` is not writable."""
    path = workspace_root / ENVS_DIR_STATE
    if remembered_envs_dir(workspace_root) == envs_dir:
        return
    with contextlib.suppress(OSError):
        atomic_write_text(
            path, json.dumps({"format": ENVS_DIR_FORMAT, "envs_dir": str(envs_dir)}) + "\n"
        )


def owned_envs_in(envs_dir: Path, workspace_root: Path) -> list[Path]:
    """The envs in `envs_dir` whose wsp marker names this workspace's manifest."""
    try:
        entries = sorted(p for p in envs_dir.iterdir() if not p.name.startswith("."))
    except OSError:
        return []
    root = workspace_root.resolve()
    out = []
    for prefix in entries:
        try:
            data = json.loads((prefix / "conda-meta" / "wsp").read_bytes())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        manifest = data.get("manifest") if isinstance(data, dict) else None
        if isinstance(manifest, str) and Path(manifest).parent == root:
            out.append(prefix)
    return out


def envs_dir_choice(workspace_root: Path) -> EnvsDirChoice:
    """The default envs dir: where this workspace's envs already are (remembered in
    `.wsp/envs-dir.json`) while that folder still holds one, else conda's default."""
    fresh = conda_default_envs_dir(workspace_root)
    kept = remembered_envs_dir(workspace_root)
    if kept is None or kept == fresh or not owned_envs_in(kept, workspace_root):
        return EnvsDirChoice(fresh, fresh)
    return EnvsDirChoice(
        kept,
        fresh,
        f"this workspace's envs stay in {kept}, where it made them; conda's settings would "
        f"now put new envs in {fresh}. To choose one for good, set `envs-dir` in "
        "workspace.toml (envs in the other folder are then left there: `wsp destroy` "
        "before the change removes them).",
    )


def default_envs_dir(workspace_root: Path) -> Path:
    """The envs dir of a workspace that declares none (see `envs_dir_choice`)."""
    return envs_dir_choice(workspace_root).path


def environments_txt() -> Path:
    return Path.home() / ".conda" / "environments.txt"


def _lines(raw: bytes) -> list[str]:
    """environments.txt's lines: one that is not UTF-8 (another tool's) names its path
    byte for byte, and is written back so."""
    return raw.decode("utf-8", "surrogateescape").splitlines()


def listed_envs() -> list[Path]:
    """The prefixes ~/.conda/environments.txt lists (OSError when it can't be read)."""
    return [Path(line.strip()) for line in _lines(environments_txt().read_bytes()) if line.strip()]


def _resolved_conda_envs_dirs() -> set[Path]:
    return {d.resolve() for d in conda_envs_dirs()}


def _is_in_conda_envs_dirs(prefix: Path, dirs: set[Path] | None = None) -> bool:
    """Whether conda finds `prefix` by itself (its parent is one of conda's envs dirs);
    `dirs`: those dirs, resolved, when the caller asks about many envs."""
    dirs = _resolved_conda_envs_dirs() if dirs is None else dirs
    return prefix.parent.resolve() in dirs


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


def _edit_environments_txt(change: Callable[[list[str]], list[str]]) -> None:
    """Read-modify-write ~/.conda/environments.txt under its lock. Lines that are not UTF-8
    (another tool's) are kept byte for byte; a symlinked file keeps its link."""
    with _environments_txt_locked() as path:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        lines = _lines(raw)
        kept = change(lines)
        if kept != lines:
            text = "".join(f"{line}\n" for line in kept)
            atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"))


def register_envs(prefixes: Iterable[Path]) -> None:
    """List `prefixes` in ~/.conda/environments.txt so `conda env list` shows them (those
    conda finds by itself, in one of its envs dirs, are not listed)."""
    prefixes = list(prefixes)
    if not prefixes:
        return
    dirs = _resolved_conda_envs_dirs()  # .condarc read once, not once per env
    want = [str(p) for p in prefixes if not _is_in_conda_envs_dirs(p, dirs)]
    if want:

        def add(lines: list[str]) -> list[str]:
            listed = set(lines)
            return [*lines, *(w for w in want if w not in listed)]

        _edit_environments_txt(add)


def unregister_env(prefix: Path) -> None:
    """Remove `prefix` from ~/.conda/environments.txt (if it is there)."""
    if not environments_txt().exists():
        return
    _edit_environments_txt(lambda lines: [ln for ln in lines if ln.strip() != str(prefix)])


def sync_envs(envs_dir: Path, present: Iterable[Path]) -> None:
    """Make ~/.conda/environments.txt list the envs `present` and no env of `envs_dir` that
    is gone: what an apply killed between changing an env and (un)listing it left."""
    dirs = _resolved_conda_envs_dirs()  # .condarc read once, not once per env
    want = [str(p) for p in present if not _is_in_conda_envs_dirs(p, dirs)]
    if not want and not environments_txt().exists():
        return

    def change(lines: list[str]) -> list[str]:
        kept = [
            line
            for line in lines
            if not (Path(line.strip()).parent == envs_dir and not os.path.lexists(line.strip()))
        ]
        return kept + [w for w in want if w not in kept]

    _edit_environments_txt(change)
