"""conda's settings files, read in conda's own order, and the auto-activate setting in them."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# conda/base/constants.py SEARCH_PATH: later files override earlier ones.
_SYSTEM = (
    (
        "C:/ProgramData/conda/.condarc",
        "C:/ProgramData/conda/condarc",
        "C:/ProgramData/conda/condarc.d",
    )
    if os.name == "nt"
    else (
        "/etc/conda/.condarc",
        "/etc/conda/condarc",
        "/etc/conda/condarc.d/",
        "/var/lib/conda/.condarc",
        "/var/lib/conda/condarc",
        "/var/lib/conda/condarc.d/",
    )
)
SEARCH_PATH = (
    *_SYSTEM,
    "$CONDA_ROOT/.condarc",
    "$CONDA_ROOT/condarc",
    "$CONDA_ROOT/condarc.d/",
    "$XDG_CONFIG_HOME/conda/.condarc",
    "$XDG_CONFIG_HOME/conda/condarc",
    "$XDG_CONFIG_HOME/conda/condarc.d/",
    "~/.config/conda/.condarc",
    "~/.config/conda/condarc",
    "~/.config/conda/condarc.d/",
    "~/.conda/.condarc",
    "~/.conda/condarc",
    "~/.conda/condarc.d/",
    "~/.condarc",
    "$CONDA_PREFIX/.condarc",
    "$CONDA_PREFIX/condarc",
    "$CONDA_PREFIX/condarc.d/",
    "$CONDARC",
)

OLD_KEY = "auto_activate_base"
NEW_KEY = "auto_activate"  # conda >= 25.5; auto_activate_base stays as its alias
NEW_KEY_SINCE = (25, 5)
CONDA_DEFAULT = True  # conda activates base in every shell unless told not to


def user_condarc() -> Path:
    return Path.home() / ".condarc"


def _entries(conda_root: Path | None) -> list[tuple[int, Path]]:
    """(index in SEARCH_PATH, file) of every settings file that exists, in conda's order."""
    env = dict(os.environ)
    if conda_root is not None:
        env.setdefault("CONDA_ROOT", str(conda_root))
    out: list[tuple[int, Path]] = []
    seen: set[Path] = set()
    for i, entry in enumerate(SEARCH_PATH):
        if entry.startswith("$"):
            var, _, rest = entry[1:].partition("/")
            if not env.get(var):
                continue
            path = Path(env[var]).expanduser() / rest if rest else Path(env[var]).expanduser()
        else:
            path = Path(entry).expanduser()
        if entry.endswith(("/", "condarc.d")):
            found = (
                sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
                if path.is_dir()
                else []
            )
        else:
            found = [path] if path.is_file() else []
        for p in found:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                out.append((i, p))
    return out


def search_path(conda_root: Path | None) -> list[Path]:
    """Every settings file conda would read, in its order (files that exist only)."""
    return [p for _, p in _entries(conda_root)]


HOME_RANK = SEARCH_PATH.index("~/.condarc")


def rank(path: Path, conda_root: Path | None) -> int:
    """Where `path` comes in conda's order (-1 when conda does not read it)."""
    target = path.resolve()
    return next((i for i, p in _entries(conda_root) if p.resolve() == target), -1)


@dataclass(frozen=True)
class RcFile:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # top-level key -> 1-based line
    problem: str | None = None


def read_rc(path: Path) -> RcFile:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return RcFile(path, problem=f"unreadable ({exc})")
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        return RcFile(path, problem=f"not valid YAML ({str(exc).splitlines()[0]})")
    if doc is None:
        return RcFile(path)
    if not isinstance(doc, dict):
        return RcFile(path, problem="not a YAML mapping")
    lines = {}
    for key in doc:
        try:
            lines[str(key)] = doc.lc.key(key)[0] + 1
        except (AttributeError, KeyError, TypeError):
            lines[str(key)] = 0
    return RcFile(path, dict(doc), lines)


def as_bool(value: Any) -> bool | None:
    """conda's reading of a boolean setting; None when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "on", "1", "y"):
            return True
        if low in ("false", "no", "off", "0", "n", ""):
            return False
    if isinstance(value, int):
        return bool(value)
    return None


def reads_new_key(conda_version: str | None) -> bool | None:
    """Whether this conda reads `auto_activate`; None when its version is unknown."""
    if conda_version is None:
        return None
    nums = [int(n) for n in re.findall(r"\d+", conda_version)[:2]]
    return tuple(nums) >= NEW_KEY_SINCE if nums else None


@dataclass(frozen=True)
class AutoActivate:
    """Whether conda activates base by itself, and what says so."""

    value: bool
    path: Path | None = None  # the file that decides, when one does
    key: str | None = None
    line: int = 0
    env_var: str | None = None

    @property
    def source(self) -> str:
        if self.env_var:
            return f"the environment variable {self.env_var}"
        if self.path is not None:
            where = f"{self.path}:{self.line}" if self.line else str(self.path)
            return f"{self.key}: {str(self.value).lower()} in {where}"
        return f"no .condarc sets {OLD_KEY} (conda's default is true)"


def keys_read(conda_version: str | None) -> tuple[str, ...]:
    """The setting's names this conda reads, the one that wins within a file last."""
    return (OLD_KEY,) if reads_new_key(conda_version) is False else (OLD_KEY, NEW_KEY)


def auto_activate(files: list[RcFile], conda_version: str | None) -> AutoActivate:
    keys = keys_read(conda_version)
    setting = AutoActivate(CONDA_DEFAULT)
    for rc in files:
        for key in keys:
            if key in rc.data and (value := as_bool(rc.data[key])) is not None:
                setting = AutoActivate(value, rc.path, key, rc.lines.get(key, 0))
    for key in keys:
        var = f"CONDA_{key.upper()}"
        if (raw := os.environ.get(var)) is not None and (value := as_bool(raw)) is not None:
            setting = AutoActivate(value, env_var=var)
    return setting


# -- settings, merged as conda merges them ---------------------------------------------------


def rc_files(conda_prefix: Path | None, keys: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The data of every .condarc conda reads, in its order (unreadable files skipped:
    `wsp check` reports them). With `keys`, only files that mention one are parsed."""
    out = []
    for path in search_path(conda_prefix):
        if keys:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if not any(k in text for k in keys):
                continue
        rc = read_rc(path)
        if rc.problem is None:
            out.append(rc.data)
    return out


def _env(key: str, aliases: Sequence[str]) -> str | None:
    for name in (key, *aliases):
        if (value := os.environ.get(f"CONDA_{name.upper()}")) is not None:
            return value
    return None


def _from_files(
    files: list[dict[str, Any]] | None, conda_prefix: Path | None, keys: Sequence[str]
) -> list[dict[str, Any]]:
    if files is not None:
        return files
    return rc_files(conda_prefix, keys)


def condarc_value(
    key: str,
    *,
    aliases: Sequence[str] = (),
    conda_prefix: Path | None = None,
    files: list[dict[str, Any]] | None = None,
) -> Any:
    """A scalar setting: `CONDA_<KEY>`, else the last .condarc that sets it; None if none."""
    if (value := _env(key, aliases)) is not None:
        return value
    found = None
    for data in _from_files(files, conda_prefix, (key, *aliases)):
        for name in (key, *aliases):
            if data.get(name) is not None:
                found = data[name]
    return found


def condarc_sequence(
    key: str,
    *,
    aliases: Sequence[str] = (),
    conda_prefix: Path | None = None,
    files: list[dict[str, Any]] | None = None,
    delimiter: str = ",",
) -> list[str]:
    """A list setting merged as conda does: the environment variable's entries first, then
    each file's, the later file first; duplicates dropped."""
    chunks: list[list[str]] = []
    for data in _from_files(files, conda_prefix, (key, *aliases)):
        for name in (key, *aliases):
            value = data.get(name)
            if isinstance(value, str):
                value = [value]
            if isinstance(value, list):
                chunks.append([str(v) for v in value if v is not None and str(v)])
    if (raw := _env(key, aliases)) is not None:
        chunks.append([p for p in raw.split(delimiter) if p])
    merged = [item for chunk in reversed(chunks) for item in chunk]
    return list(dict.fromkeys(merged))


def condarc_map(
    key: str, *, conda_prefix: Path | None = None, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A map setting, merged key by key (a later file wins)."""
    out: dict[str, Any] = {}
    for data in _from_files(files, conda_prefix, (key,)):
        value = data.get(key)
        if isinstance(value, Mapping):
            out.update({str(k): v for k, v in value.items()})
    return out
