"""What conda keeps in an env's conda-meta/ besides package records, written as conda does.

- `history`: one section per change, `==> DATE <==`, `# cmd:`, `# conda version:`, the
  `-`/`+` dist lines, then `# remove specs: [...]` / `# update specs: [...]` (conda's
  `History.write_changes` and `write_specs`). conda reads the requested specs back from it
  (`conda env export --from-history`, `conda update --all`).
- `frozen`: CEP 22's marker, `{"message": "..."}`; conda refuses install/update/remove.
- `state`: `{"env_vars": {...}}`, what `conda env config vars set` writes and activation reads.

Measured with conda 26.7.1: history lines name `<canonical channel>/<subdir>::<name>-
<version>-<build>` (`conda-forge/linux-64::numpy-2.0.0-py_0`, a file channel by its URL);
`state` is JSON indented by 2 with no final newline; files get the umask's mode.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.conda import ENV_VAR_NAME, RESERVED_ENV_VARS
from wsp.fsutil import atomic_write_text, record_fields

if TYPE_CHECKING:
    from wsp.userconfig import UserConfig

HISTORY = Path("conda-meta") / "history"
FROZEN = Path("conda-meta") / "frozen"
STATE = Path("conda-meta") / "state"

_SECTION = re.compile(r"==>\s*(.+?)\s*<==")
_SPECS = re.compile(r"#\s*(\w+)\s*specs:\s*(.+)?")


# -- dist strings --------------------------------------------------------------------------


def _field(record: Any, name: str) -> str:
    value = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
    if name == "name" and hasattr(value, "normalized"):
        value = value.normalized
    return "" if value is None else str(value)


def dist_str(record: Any, config: UserConfig | None = None) -> str:
    """conda's `PackageRecord.dist_str()` of a record (a conda-meta JSON dict, a rattler
    record or any object with name, version, build, subdir and channel):
    `conda-forge/linux-64::numpy-2.0.0-py_0`."""
    from wsp.channels import strip_credentials
    from wsp.userconfig import UserConfig

    channel = _field(record, "channel")
    subdir = _field(record, "subdir")
    if not channel and (url := _field(record, "url")):
        channel = url.rsplit("/", 2)[0]  # <channel>/<subdir>/<file>
    elif channel and subdir and channel.rstrip("/").endswith("/" + subdir):
        channel = channel.rstrip("/")[: -len(subdir) - 1]  # conda's records name the subdir
    name = (config or UserConfig()).canonical_name(channel) if channel else ""
    head = f"{strip_credentials(name)}{'/' + subdir if subdir else ''}"
    body = f"{_field(record, 'name')}-{_field(record, 'version')}-{_field(record, 'build')}"
    return f"{head}::{body}" if head else body


_DIST_FIELDS = ("name", "version", "build", "subdir", "channel", "url")


def prefix_dists(prefix: Path, config: UserConfig | None = None) -> set[str]:
    """The dist string of every package record in the env now (of a record as rattler
    writes it, only the fields it needs are read: a real package's lists its files)."""
    out = set()
    for path in (prefix / "conda-meta").glob("*.json"):
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            data = record_fields(path, _DIST_FIELDS) or json.loads(path.read_bytes())
            if isinstance(data, dict) and data.get("name"):
                out.add(dist_str(data, config))
    return out


# -- history -------------------------------------------------------------------------------


def _sections(text: str) -> list[tuple[str, set[str], list[str]]]:
    """conda's `History.parse`: (date, dist lines, comment lines) per section."""
    out: list[tuple[str, set[str], list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if m := _SECTION.match(line):
            out.append((m.group(1), set(), []))
        elif out and line.startswith("#"):
            out[-1][2].append(line)
        elif out:
            out[-1][1].add(line)
    return out


def _read_history(prefix: Path) -> str:
    try:
        return (prefix / HISTORY).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def history_state(prefix: Path) -> set[str]:
    """The package set the history ends with (conda's `History.get_state()`)."""
    cur: set[str] = set()
    for _date, dists, _comments in _sections(_read_history(prefix)):
        if not any(d.startswith(("-", "+")) for d in dists):
            cur = set(dists)
            continue
        for d in dists:
            if d.startswith("-"):
                cur.discard(d[1:])
            elif d.startswith("+"):
                cur.add(d[1:])
    return cur


def _spec_name(spec: str) -> str:
    """The package name of a match spec (`conda-forge::numpy>=2` -> numpy)."""
    body = spec.split("::", 1)[-1].strip()
    m = re.match(r"[A-Za-z0-9_.\-]+", body)
    return m.group(0).lower() if m else body


def requested_specs(prefix: Path) -> dict[str, str]:
    """name -> spec the history says was asked for (conda's `get_requested_specs_map`,
    without its filter on what is installed)."""
    specs: dict[str, str] = {}
    for _date, _dists, comments in _sections(_read_history(prefix)):
        for line in comments:
            m = _SPECS.match(line)
            if not m:
                continue
            action, text = m.group(1), (m.group(2) or "").strip()
            try:
                items = ast.literal_eval(text) if text.startswith("[") else text.split(",")
            except (ValueError, SyntaxError):
                continue
            items = [str(s) for s in items if s and not str(s).endswith("@")]
            if action in ("remove", "uninstall"):
                for s in items:
                    specs.pop(_spec_name(s), None)
            elif action in ("update", "install", "create", "neutered"):
                specs.update((_spec_name(s), s) for s in items)
    return specs


def _clean_specs(specs: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in specs if s and s.strip()))


def append_history(
    prefix: Path,
    *,
    removed: Iterable[str],
    added: Iterable[str],
    update_specs: Sequence[str] = (),
    remove_specs: Sequence[str] = (),
    cmd: str,
    conda_version: str | None = None,
    when: float | None = None,
    state: Iterable[str] = (),
) -> None:
    """Append one section to conda-meta/history, as conda writes it: `removed` and `added`
    are dist strings (`dist_str`), the specs as the user wrote them. A section that
    changes no package lists the whole package set, `state` (conda reads a section
    without `+`/`-` lines as the full set: an empty one would empty its idea of the env)."""
    from wsp.channels import redact

    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    lines = [f"==> {stamp} <==", f"# cmd: {' '.join(redact(w) for w in cmd.split())}"]
    if conda_version:
        lines.append(f"# conda version: {'.'.join(conda_version.split('.')[:3])}")
    diff = [f"-{d}" for d in sorted(set(removed))] + [f"+{d}" for d in sorted(set(added))]
    lines += diff or sorted(set(state))
    if remove := _clean_specs(remove_specs):
        lines.append(f"# remove specs: {remove}")
    if update := _clean_specs(update_specs):
        lines.append(f"# update specs: {update}")
    path = prefix / HISTORY
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:  # conda appends too; readers see lines
        fh.write("".join(f"{line}\n" for line in lines))


def record_change(
    prefix: Path,
    specs: Sequence[str],
    *,
    cmd: str,
    config: UserConfig | None = None,
    conda_version: str | None = None,
    when: float | None = None,
) -> bool:
    """After wsp created or changed the env: append what changed since the history's last
    state (the env's package records now against it) with `specs`, the env's declared
    conda specs, as `update specs`, and the specs asked for before and declared no more as
    `remove specs`. Nothing is written when neither packages nor specs changed. Returns
    whether a section was written."""
    before = history_state(prefix)
    now = prefix_dists(prefix, config)
    declared = {_spec_name(s): s.strip() for s in _clean_specs(specs)}
    asked = requested_specs(prefix)
    dropped = [s for name, s in asked.items() if name not in declared]
    changed = [s for name, s in declared.items() if asked.get(name) != s]
    if before == now and not dropped and not changed:
        return False
    append_history(
        prefix,
        removed=before - now,
        added=now - before,
        update_specs=list(declared.values()),
        remove_specs=[_spec_name(s) for s in dropped],
        cmd=cmd,
        conda_version=conda_version,
        when=when,
        state=now,
    )
    return True


# -- frozen (CEP 22) -----------------------------------------------------------------------

FROZEN_BY_WSP = "managed by wsp"  # in every message wsp writes: how it knows the file is its


def frozen_message(*, workspace: str, manifest: Path, project: str, env: str) -> str:
    """What conda prints when it refuses to change a wsp env."""
    return (
        f"This environment is {FROZEN_BY_WSP} (workspace {workspace!r}, project "
        f"{project!r}), declared in {manifest}.\n"
        f"To change it, edit that workspace.toml (or run `wsp add {project} PKG` / "
        f"`wsp remove {project} PKG`), then `wsp apply`.\n"
        "A change made with conda would not last: wsp's next apply puts back what "
        "workspace.toml says. "
        f"To change {env} with conda anyway, pass conda's `--override-frozen`; to stop "
        "wsp freezing its envs, set `freeze-envs = false` in [workspace]."
    )


def write_frozen(prefix: Path, message: str) -> None:
    """Mark the env frozen (CEP 22): conda then refuses install/update/remove in it."""
    atomic_write_text(prefix / FROZEN, json.dumps({"message": message}))


def read_frozen_message(prefix: Path) -> str | None:
    """The message of the env's frozen marker; None without one (or one wsp can't read)."""
    try:
        data = json.loads((prefix / FROZEN).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return str(data.get("message", "")) if isinstance(data, dict) else None


def frozen_by_wsp(prefix: Path) -> bool:
    """Whether the env carries a frozen marker that wsp wrote."""
    return FROZEN_BY_WSP in (read_frozen_message(prefix) or "")


def unfreeze(prefix: Path) -> bool:
    """Remove the frozen marker if wsp wrote it (a marker someone else wrote stays)."""
    if not frozen_by_wsp(prefix):
        return False
    with contextlib.suppress(FileNotFoundError):
        (prefix / FROZEN).unlink()
    return True


# -- state: env vars -----------------------------------------------------------------------


def env_var_problem(name: str) -> str | None:
    """Why `name` cannot be an env var of an env; None when it can."""
    if not ENV_VAR_NAME.match(name):
        return f"{name!r} is not a variable name (letters, digits and _, not first a digit)"
    if name in RESERVED_ENV_VARS:
        return f"{name} is set by activation itself; conda ignores it in an env's variables"
    return None


def env_var_value_problem(name: str, value: str) -> str | None:
    """What in a value breaks `conda activate` (measured with conda 26.7.1: its POSIX
    activation writes `export NAME='VALUE'` without escaping, so a `'` ends the quoting
    and the rest runs as shell); None when nothing does. wsp's own activation quotes it."""
    if "'" in value:
        return (
            f"the value of {name} has a single quote: `conda activate` would break on it "
            "(conda does not escape it); `wsp run`, `wsp shell` and `wsp shell-hook` are safe"
        )
    return None


def read_state(prefix: Path) -> dict[str, Any]:
    try:
        data = json.loads((prefix / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_env_vars(prefix: Path, env_vars: Mapping[str, str]) -> None:
    """Make the env's variables (conda-meta/state `env_vars`) exactly `env_vars`, in conda's
    format; other keys of the file are kept. Raises ValueError naming a bad variable."""
    for name in env_vars:
        if (problem := env_var_problem(name)) is not None:
            raise ValueError(problem)
    state = read_state(prefix)
    if not env_vars and not state:
        return
    if dict(state.get("env_vars") or {}) == dict(env_vars) and (prefix / STATE).exists():
        return
    state["env_vars"] = {str(k): str(v) for k, v in env_vars.items()}
    if not state["env_vars"]:
        del state["env_vars"]
    if not state:
        with contextlib.suppress(FileNotFoundError):
            (prefix / STATE).unlink()
        return
    atomic_write_text(prefix / STATE, json.dumps(state, indent=2, ensure_ascii=False))


def conda_version_of(root: Path | None) -> str | None:
    """The version of conda installed in a conda root (from its conda-meta record, else the
    `conda` package of a Python environment: its dist-info, else its `__init__.py`, whose
    `__version__` may be only a fallback for when `_version.py` is missing)."""
    if root is None:
        return None
    for rec in sorted((root / "conda-meta").glob("conda-[0-9]*.json")):
        return rec.name[: -len(".json")].rsplit("-", 2)[1]
    for dist in root.glob("lib/python3*/site-packages/conda-*.dist-info"):
        return dist.name[len("conda-") : -len(".dist-info")]
    for init in root.glob("lib/python3*/site-packages/conda/__init__.py"):
        with contextlib.suppress(OSError):
            if m := re.search(r'__version__\s*=\s*["\']([^"\']+)', init.read_text()):
                return m.group(1)
    return None


__all__ = [
    "append_history",
    "conda_version_of",
    "dist_str",
    "env_var_problem",
    "env_var_value_problem",
    "frozen_by_wsp",
    "frozen_message",
    "history_state",
    "prefix_dists",
    "read_state",
    "record_change",
    "requested_specs",
    "unfreeze",
    "write_env_vars",
    "write_frozen",
]
