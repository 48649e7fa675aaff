"""What `conda activate` does, for `wsp run`, `shell`, `env` and `shell-hook`: one code path.

py-rattler's activation (`rattler.shell.activate`) decides the new PATH (the env's bin
folders first, a previously active env's taken off) and which `etc/conda/activate.d`
scripts the shell sources (and which `etc/conda/deactivate.d` scripts of the env it
replaces run first). The env's variables (`etc/conda/env_vars.d/*.json`, then
`conda-meta/state`, as conda reads them) are read here, not taken from rattler's script:
rattler writes a variable's name unchecked and its value in double quotes, so a name or
value from the env could run shell code under `eval`. Names must be shell identifiers
(others are skipped with a warning); every value is quoted for the shell it goes to.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wsp.conda import ENV_VAR_NAME, RESERVED_ENV_VARS, UNSET_ENV_VAR
from wsp.fsutil import atomic_write_text
from wsp.marker import now

LAST_USED = Path("conda-meta") / "wsp-last-used"

ShellName = Literal["bash", "zsh", "fish", "powershell"]
SHELLS: tuple[ShellName, ...] = ("bash", "zsh", "fish", "powershell")
_DROPPED = ("PYTHONHOME", "VIRTUAL_ENV")  # would point python elsewhere


@dataclass(frozen=True)
class Activation:
    """An env activated on top of a process environment: what to set, unset and source."""

    prefix: Path
    env_name: str
    shell: ShellName
    path: tuple[str, ...]  # the whole new PATH, first entry first
    variables: tuple[tuple[str, str], ...]  # in the order they are set
    unset: tuple[str, ...]
    scripts: tuple[Path, ...]  # activate.d scripts for `shell`, in conda's order
    warnings: tuple[str, ...] = ()
    # deactivate.d scripts of the env this one replaces (CONDA_PREFIX), run before anything
    deactivate_scripts: tuple[Path, ...] = ()

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with the env active (activate.d scripts are not run here)."""
        env = {k: v for k, v in base.items() if k not in self.unset}
        env["PATH"] = os.pathsep.join(self.path)
        env.update(self.variables)
        return env

    def script(self, *, inherit_path: bool = False) -> str:
        """The activation as a script for `eval` in `self.shell`. With `inherit_path`
        (bash and zsh: a launcher written now, run later), PATH ends with the PATH the
        script finds when it runs, instead of the one activation was computed on."""
        if inherit_path:
            assert self.shell in ("bash", "zsh"), "inherit_path is for POSIX launchers"
            return _posix(self, tail=':"${PATH}"')
        return _RENDER[self.shell](self)


def _quote_fish(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_ps(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _posix(a: Activation, tail: str = "") -> str:
    lines = [f". {shlex.quote(str(s))}" for s in a.deactivate_scripts]
    lines += [f"unset {name}" for name in a.unset]
    lines.append(f"export PATH={shlex.quote(os.pathsep.join(a.path))}{tail}")
    lines += [f"export {k}={shlex.quote(v)}" for k, v in a.variables]
    lines += [f". {shlex.quote(str(s))}" for s in a.scripts]
    return "".join(f"{line}\n" for line in lines)


def _fish(a: Activation) -> str:
    lines = [f"source {_quote_fish(str(s))}" for s in a.deactivate_scripts]
    lines += [f"set -e {name}" for name in a.unset]
    lines.append("set -gx PATH " + " ".join(_quote_fish(p) for p in a.path))
    lines += [f"set -gx {k} {_quote_fish(v)}" for k, v in a.variables]
    lines += [f"source {_quote_fish(str(s))}" for s in a.scripts]
    return "".join(f"{line}\n" for line in lines)


def _powershell(a: Activation) -> str:
    lines = [f". {_quote_ps(str(s))}" for s in a.deactivate_scripts]
    lines += [f"Remove-Item -ErrorAction SilentlyContinue Env:{name}" for name in a.unset]
    lines.append(f"$Env:PATH = {_quote_ps(os.pathsep.join(a.path))}")
    lines += [f"$Env:{k} = {_quote_ps(v)}" for k, v in a.variables]
    lines += [f". {_quote_ps(str(s))}" for s in a.scripts]
    return "".join(f"{line}\n" for line in lines)


_RENDER = {"bash": _posix, "zsh": _posix, "fish": _fish, "powershell": _powershell}


def shell_of(environ: Mapping[str, str]) -> ShellName:
    """The user's shell from $SHELL, when wsp can activate for it; else bash."""
    name = Path(environ.get("SHELL", "")).name
    for shell in SHELLS:
        if name == shell or (shell == "powershell" and name in ("pwsh", "powershell")):
            return shell
    return "bash"


def env_vars(
    prefix: Path, state: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The env's variables as conda's activation reads them (packages' `etc/conda/env_vars.d`
    first, then `conda env config vars`' conda-meta/state), and a warning for each one left
    out (a name that is no shell variable, PATH, a file that is no JSON object). `state`:
    conda-meta/state's variables to take instead of the file's (what an apply will write)."""
    out: dict[str, str] = {}
    warnings: list[str] = []
    sources: list[Path] = sorted((prefix / "etc" / "conda" / "env_vars.d").glob("*"))
    state_file = prefix / "conda-meta" / "state"
    sources.append(state_file)
    for source in sources:
        if source == state_file and state is not None:
            data: object = dict(state)
        elif not source.is_file():
            continue
        else:
            try:
                data = json.loads(source.read_text(encoding="utf-8"))
            except (OSError, ValueError, UnicodeDecodeError):
                warnings.append(f"{source}: not JSON; its variables are not set")
                continue
            if source == state_file and isinstance(data, dict):
                data = data.get("env_vars") or {}
        if not isinstance(data, dict):
            warnings.append(f"{source}: not a JSON object; its variables are not set")
            continue
        for name, value in data.items():
            name = str(name)
            if not ENV_VAR_NAME.match(name):
                warnings.append(
                    f"{source}: variable name {name!r} is not a shell variable name; not set"
                )
            elif name in RESERVED_ENV_VARS:
                warnings.append(f"{source}: {name} is set by activation itself; not set")
            elif value == UNSET_ENV_VAR or value is None:
                out.pop(name, None)
            else:
                out[name] = str(value)
    return out, warnings


def _shell_enum(shell: ShellName):  # type: ignore[no-untyped-def]
    from rattler.shell import Shell

    return {
        "bash": Shell.bash,
        "zsh": Shell.zsh,
        "fish": Shell.fish,
        "powershell": Shell.powershell,
    }[shell]


_SOURCE = re.compile(r"^(?:\.|source)\s+(.+?)\s*$")


def _scripts_in(script: str, folder: Path, shell: ShellName) -> list[Path]:
    """The scripts of `folder` (an env's `etc/conda/activate.d` or `deactivate.d`) a rattler
    activation script sources, each checked to be a file there (a line made of a variable's
    value is not)."""
    folder = folder.resolve()
    out: list[Path] = []
    for line in script.splitlines():
        m = _SOURCE.match(line.strip())
        if not m:
            continue
        raw = m.group(1)
        try:
            words = shlex.split(raw) if shell in ("bash", "zsh") else [raw.strip("\"'")]
        except ValueError:
            continue
        if len(words) != 1:
            continue
        path = Path(words[0])
        if path.parent.resolve() == folder and path.is_file() and path not in out:
            out.append(path)
    return out


def activation(
    prefix: Path,
    env_name: str,
    base: Mapping[str, str],
    shell: ShellName = "bash",
    *,
    state: Mapping[str, str] | None = None,
) -> Activation:
    """The env at `prefix` activated on top of the process environment `base` for `shell`
    (`state`: its conda-meta/state variables as an apply will write them, see `env_vars`)."""
    from rattler.shell import ActivationVariables, PathModificationBehavior, activate

    old = base.get("CONDA_PREFIX") or None
    current = shell_path(base)
    result = activate(
        prefix,
        ActivationVariables(
            current_prefix=Path(old) if old else None,
            current_path=current,
            path_modification_behavior=PathModificationBehavior.Replace,
        ),
        _shell_enum(shell),
    )
    try:
        level = int(base.get("CONDA_SHLVL", "0") or 0)
    except ValueError:
        level = 0
    variables: dict[str, str] = {}
    own, warnings = env_vars(prefix, state)
    replaced: dict[str, str] = {}  # the active env's own variables, which go with it
    again = bool(old and level > 0 and Path(old).resolve() == prefix.resolve())
    if again:
        level -= 1  # the env is active already: activated again in place, as conda does
    else:
        if old and level > 0:
            variables[f"CONDA_PREFIX_{level}"] = old  # as conda keeps it, for deactivate
            replaced = env_vars(Path(old))[0]
        # a value the env overrides is kept where `conda deactivate` restores it from
        variables.update({_saved(level, k): base[k] for k in own if k in base})
    unset = [v for v in _DROPPED if v in base]
    for name in (n for n in replaced if n not in own):
        if _saved(level - 1, name) in base:  # the value it had before that env
            variables[name] = base[_saved(level - 1, name)]
        elif name in base:
            unset.append(name)
    variables.update(
        CONDA_PREFIX=str(prefix),
        CONDA_DEFAULT_ENV=env_name,
        CONDA_PROMPT_MODIFIER=f"({env_name}) ",
        CONDA_SHLVL=str(level + 1),
    )
    variables.update(own)
    return Activation(
        prefix=prefix,
        env_name=env_name,
        shell=shell,
        path=tuple(str(p) for p in result.path),
        variables=tuple(variables.items()),
        unset=tuple(unset),
        scripts=tuple(_scripts_in(result.script, prefix / "etc/conda/activate.d", shell)),
        warnings=tuple(warnings),
        deactivate_scripts=tuple(
            _scripts_in(result.script, Path(old) / "etc/conda/deactivate.d", shell) if old else ()
        ),
    )


def shell_path(base: Mapping[str, str]) -> list[str]:
    """`base`'s PATH as the user's shell has it. Started through a pyenv shim (`pyenv`
    exports PYENV_HOOK_PATH to what it runs), wsp's PATH starts with the folders `pyenv
    exec` put in front: the Python version's bin, pyenv's libexec, its plugins' bin. They
    are left out, or each `eval "$(wsp shell-hook ...)"` would write them into the shell
    again, before pyenv's shims (its `pyenv local` versions no longer found)."""
    path = [p for p in base.get("PATH", "").split(os.pathsep) if p]
    root = base.get("PYENV_ROOT", "").rstrip("/")
    if not root or "PYENV_HOOK_PATH" not in base:
        return path

    def under(entry: str) -> tuple[str, ...]:
        return Path(entry).relative_to(root).parts if entry.startswith(root + "/") else ()

    # what `pyenv exec` adds: [versions/V/bin,] libexec, plugins/*/bin ...
    first = under(path[0]) if path else ()
    at = 1 if len(first) == 3 and first[0] == "versions" and first[2] == "bin" else 0
    if at >= len(path) or under(path[at]) != ("libexec",):
        return path  # not pyenv's layout: PATH as it is
    at += 1
    while at < len(path) and (p := under(path[at]))[:1] == ("plugins",) and p[2:] == ("bin",):
        at += 1
    return path[at:]


def _saved(level: int, name: str) -> str:
    """Where conda keeps the value `name` had before the env activated at `level` + 1."""
    return f"__CONDA_SHLVL_{level}_{name}"


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
