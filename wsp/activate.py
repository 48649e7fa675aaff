"""What `conda activate` does to a process environment, for `wsp run`, `shell` and `env`."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from wsp.fsutil import atomic_write_text
from wsp.marker import now

LAST_USED = Path("conda-meta") / "wsp-last-used"


def activation_env(prefix: Path, env_name: str, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with the env activated: its bin first on PATH, CONDA_PREFIX and friends set,
    another active conda env's bin taken off PATH, and the env's own variables
    (`conda env config vars`, kept in conda-meta/state) applied."""
    env = dict(base)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    if old := env.get("CONDA_PREFIX"):
        path = [p for p in path if Path(p) != Path(old) / "bin"]
    env["PATH"] = os.pathsep.join([str(prefix / "bin"), *path])
    env["CONDA_PREFIX"] = str(prefix)
    env["CONDA_DEFAULT_ENV"] = env_name
    env["CONDA_PROMPT_MODIFIER"] = f"({env_name}) "
    env["CONDA_SHLVL"] = str(int(env.get("CONDA_SHLVL", "0") or 0) + 1)
    env.pop("PYTHONHOME", None)
    env.pop("VIRTUAL_ENV", None)
    env.update(config_vars(prefix))
    return env


def config_vars(prefix: Path) -> dict[str, str]:
    """Variables set with `conda env config vars set` (conda-meta/state)."""
    try:
        state = json.loads((prefix / "conda-meta" / "state").read_text())
    except (OSError, ValueError):
        return {}
    env_vars = state.get("env_vars") if isinstance(state, dict) else None
    return {str(k): str(v) for k, v in (env_vars or {}).items()}


def activate_scripts(prefix: Path) -> list[Path]:
    """The env's `etc/conda/activate.d/*.sh`, in the order conda sources them."""
    return sorted((prefix / "etc" / "conda" / "activate.d").glob("*.sh"))


def record_use(prefix: Path) -> None:
    """Remember when the env was last used (policy WSP501 reads it). Kept apart from the
    marker so that using an env never makes a saved plan stale."""
    with contextlib.suppress(OSError):
        atomic_write_text(prefix / LAST_USED, now() + "\n")


def last_used(prefix: Path) -> str | None:
    try:
        return (prefix / LAST_USED).read_text().strip() or None
    except OSError:
        return None
