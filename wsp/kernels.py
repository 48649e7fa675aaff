"""Jupyter kernels for a workspace's envs: the kernelspecs wsp writes, finds and removes.

A project with `jupyter = true` gets a kernelspec at `<Jupyter data dir>/kernels/<name>/`
(the user's data dir as jupyter_core computes it, or `[workspace] jupyter-data-dir`):

- `kernel.json`: `argv` runs the launcher with `/bin/bash` (or `/bin/sh`), `display_name`,
  and `metadata.wsp` naming the workspace, its workspace.toml, the project, env and prefix.
  That metadata is the ownership mark: wsp rewrites or removes only kernels whose metadata
  names this workspace, and reports any other kernel of the same name.
- `wsp-kernel.sh`: activates the env and execs `<prefix>/bin/python -m ipykernel_launcher`.
  The activation is py-rattler's (`rattler.shell.activate`, computed when wsp writes the
  kernel): PATH, CONDA_PREFIX, the env's variables from `conda-meta/state` and its
  `etc/conda/activate.d/*.sh` scripts. It names the prefix, not a build, so it keeps working
  when the env is replaced in place; it needs nothing of wsp at kernel start.

Planning (`plan_kernels`, `plan_kernel`, `plan_removals`) reads the disk and changes
nothing; `apply_kernel` carries one change out, checking ownership again first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from wsp.errors import WspError
from wsp.fsutil import TMP_MARK, atomic_write_bytes

if TYPE_CHECKING:
    from wsp.graph import DesiredEnv
    from wsp.manifest import Workspace

KERNEL_FORMAT = 1
SPEC_FILE = "kernel.json"
LAUNCHER = "wsp-kernel.sh"
_OURS = (SPEC_FILE, LAUNCHER)


# -- where kernels go ------------------------------------------------------------------------


def user_data_dir() -> Path:
    """The user's Jupyter data dir (`JUPYTER_DATA_DIR` when set), as jupyter_core says,
    made absolute: a kernel.json names its launcher by this path, and Jupyter starts a
    kernel in the notebook's folder."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()).absolute()


def kernels_dir(ws: Workspace) -> Path:
    """Where this workspace writes its kernels: `<jupyter-data-dir or the user's>/kernels`."""
    return (ws.jupyter_data_dir or user_data_dir()) / "kernels"


def search_dirs(ws: Workspace) -> list[Path]:
    """The kernels folders wsp looks in for kernels it wrote: its own, and the user's when
    the workspace writes elsewhere (so kernels of an earlier setting are found too)."""
    own = kernels_dir(ws)
    user = user_data_dir() / "kernels"
    return [own] if user == own else [own, user]


# -- the desired kernel ----------------------------------------------------------------------


@dataclass(frozen=True)
class KernelSpec:
    """The kernel one project's env should have, and where it goes."""

    name: str
    declared_display_name: str | None  # None: `default_display_name`
    project: str
    env: str
    prefix: Path
    python: str | None  # the env's Python version spec
    workspace: str
    manifest: str
    location: Path  # the kernels folder; the kernel is `location / name`
    # conda-meta/state's variables once the apply wrote them (None: as the env holds them)
    env_vars: tuple[tuple[str, str], ...] | None = None

    @property
    def dir(self) -> Path:
        return self.location / self.name

    @property
    def display_name(self) -> str:
        """What the notebook picker shows; the default reads the env's Python when the
        declaration does not pin one major.minor, so it is computed when asked."""
        return self.declared_display_name or default_display_name(
            self.python, self.prefix, self.env
        )

    def metadata(self) -> dict[str, Any]:
        """`metadata.wsp` of kernel.json: who wrote the kernel, for which env."""
        return {
            "format": KERNEL_FORMAT,
            "workspace": self.workspace,
            "manifest": self.manifest,
            "project": self.project,
            "env": self.env,
            "prefix": str(self.prefix),
        }


_MINOR = re.compile(r"(?:==?)?\s*(\d+)\.(\d+)(?:\.[0-9*].*)?")


def _python_minor(spec: str | None) -> str | None:
    """ "3.11" when a Python version spec pins one major.minor ("3.11.*", "==3.11.9")."""
    if not spec or "|" in spec:
        return None
    for part in spec.split(","):
        if m := _MINOR.fullmatch(part.strip()):
            return f"{m[1]}.{m[2]}"
    return None


def _installed_python(prefix: Path) -> str | None:
    """major.minor of the env's conda `python` package, when it has one."""
    try:
        with os.scandir(prefix / "conda-meta") as it:
            for e in it:
                parts = e.name.removesuffix(".json").rsplit("-", 2)
                if e.name.endswith(".json") and len(parts) == 3 and parts[0] == "python":
                    return ".".join(parts[1].split(".")[:2])
    except OSError:
        pass
    return None


def default_display_name(python: str | None, prefix: Path, env: str) -> str:
    """`Python 3.11 (vision)`: the Python the declaration pins, else the env's, and the env."""
    minor = _python_minor(python) or _installed_python(prefix)
    return f"Python {minor or '3'} ({env})"


def desired_kernel(
    ws: Workspace,
    want: DesiredEnv,
    *,
    location: Path | None = None,
    env_vars: Mapping[str, str] | None = None,
) -> KernelSpec | None:
    """The kernel `want` declares (`jupyter`), None when it declares none. `location`
    defaults to `kernels_dir(ws)`; `env_vars`: the variables the apply writes to the env's
    conda-meta/state (when it builds the env), the launcher's instead of the env's now."""
    if want.kernel is None:
        return None
    return KernelSpec(
        name=want.kernel.name,
        declared_display_name=want.kernel.display_name,
        project=want.project,
        env=want.env_name,
        prefix=want.prefix,
        python=want.python,
        workspace=ws.name,
        manifest=str(ws.manifest_path),
        location=location if location is not None else kernels_dir(ws),
        env_vars=tuple(env_vars.items()) if env_vars is not None else None,
    )


# -- what wsp writes -------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelFiles:
    """The two files of a kernel, as wsp writes them."""

    kernel_json: bytes
    launcher: bytes


def _shell() -> str:
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


# Stands for the PATH the kernel starts with, in the activation the launcher is made of.
_START_PATH = "/wsp-kernel-start-PATH"


def _activation(spec: KernelSpec) -> str:
    """The env's activation (wsp.activate: PATH, CONDA_PREFIX, its variables, its
    activate.d scripts) on top of the PATH the kernel starts with: the env's folders
    (rattler's) first, then whatever PATH the user who starts the kernel has; nothing of
    the PATH of the user who wrote it (on a shared hub, their private tools)."""
    from wsp.activate import activation

    state = dict(spec.env_vars) if spec.env_vars is not None else None
    act = activation(spec.prefix, spec.env, {"PATH": _START_PATH}, "bash", state=state)
    own = tuple(p for p in act.path if p != _START_PATH)
    # CONDA_SHLVL follows the env active where the kernel starts (`_replace_active`)
    variables = tuple((k, v) for k, v in act.variables if k != "CONDA_SHLVL")
    script = replace(act, path=own, variables=variables).script(inherit_path=True)
    return 'export CONDA_SHLVL="${wsp_shlvl}"\n' + script


def _replace_active(prefix: Path) -> str:
    """Launcher lines for a conda env active where the kernel starts (the Jupyter server's,
    `conda activate jlab; jupyter lab`): replaced as `conda activate` replaces it, its
    deactivate.d scripts run and its bin taken off PATH (`CONDA_PREFIX_<n>` keeps it);
    the env itself active is activated again in place. Sets `wsp_shlvl`."""
    me = shlex.quote(str(prefix))
    return f"""\
wsp_level="${{CONDA_SHLVL:-0}}"
case "${{wsp_level}}" in '' | *[!0-9]*) wsp_level=0 ;; esac
wsp_shlvl=$((wsp_level + 1))
if [ "${{wsp_level}}" -gt 0 ] && [ -n "${{CONDA_PREFIX:-}}" ]; then
    for wsp_script in "${{CONDA_PREFIX}}"/etc/conda/deactivate.d/*.sh; do
        if [ -f "${{wsp_script}}" ]; then . "${{wsp_script}}"; fi
    done
    wsp_path=
    wsp_ifs="${{IFS}}"
    IFS=:
    set -f
    for wsp_dir in ${{PATH:-}}; do
        if [ "${{wsp_dir}}" != "${{CONDA_PREFIX}}/bin" ]; then
            wsp_path="${{wsp_path:+${{wsp_path}}:}}${{wsp_dir}}"
        fi
    done
    set +f
    IFS="${{wsp_ifs}}"
    PATH="${{wsp_path}}"
    if [ "${{CONDA_PREFIX}}" = {me} ] || [ "${{CONDA_PREFIX}}" -ef {me} ]; then
        wsp_shlvl="${{wsp_level}}"
    else
        export "CONDA_PREFIX_${{wsp_level}}=${{CONDA_PREFIX}}"
    fi
fi"""


def render(spec: KernelSpec) -> KernelFiles:
    """kernel.json and the launcher for `spec`, activation read from the env as it is now."""
    if sys.platform == "win32":
        raise WspError("Jupyter kernels are written on Linux and macOS only")
    python = shlex.quote(str(spec.prefix / "bin" / "python"))
    gone = (
        f"wsp: kernel {spec.name!r} runs env {spec.prefix}, which is gone; run `wsp apply` "
        f"in {Path(spec.manifest).parent}, or remove the kernel folder {spec.dir}"
    )
    shell = _shell()
    launcher = "\n".join(
        [
            f"#!{shell}",
            "# Written by wsp (`wsp apply`); rewritten on every apply, so edits are lost.",
            f"# workspace {spec.workspace} ({spec.manifest}), project {spec.project}",
            "# Activates the env (PATH, CONDA_PREFIX, conda-meta/state variables,",
            "# etc/conda/activate.d scripts) and starts ipykernel in it.",
            f"if [ ! -x {python} ]; then",
            f"    echo {shlex.quote(gone)} >&2",
            "    exit 1",
            "fi",
            "unset PYTHONHOME VIRTUAL_ENV",
            _replace_active(spec.prefix),
            ': "${PATH:=/usr/bin:/bin}"',
            _activation(spec).rstrip("\n"),
            f'exec {python} -m ipykernel_launcher "$@"',
            "",
        ]
    )
    kernel = {
        "argv": [shell, str(spec.dir / LAUNCHER), "-f", "{connection_file}"],
        "display_name": spec.display_name,
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": True, "wsp": spec.metadata()},
    }
    return KernelFiles(
        kernel_json=(json.dumps(kernel, indent=1, sort_keys=True) + "\n").encode(),
        launcher=launcher.encode(),
    )


# -- what is on disk -------------------------------------------------------------------------

Ownership = Literal["ours", "other-workspace", "not-wsp", "unreadable", "symlink", "not-a-folder"]


@dataclass(frozen=True)
class KernelOwner:
    """`metadata.wsp` of a kernel.json: the workspace and env a kernel was written for."""

    workspace: str
    manifest: str
    project: str
    env: str
    prefix: Path

    @classmethod
    def from_json(cls, data: Any) -> KernelOwner:
        """Raises ValueError when `data` is not a metadata.wsp this code can read."""
        if not isinstance(data, dict) or data.get("format") != KERNEL_FORMAT:
            raise ValueError("no wsp metadata of a known format")
        try:
            return cls(
                workspace=str(data["workspace"]),
                manifest=str(data["manifest"]),
                project=str(data["project"]),
                env=str(data["env"]),
                prefix=Path(str(data["prefix"])),
            )
        except KeyError as exc:
            raise ValueError(f"wsp metadata lacks {exc}") from None


@dataclass(frozen=True)
class InstalledKernel:
    """A kernel folder found on disk, and whose it is from this workspace's point of view."""

    name: str  # the folder's name
    dir: Path
    ownership: Ownership
    owner: KernelOwner | None = None
    display_name: str | None = None
    problem: str | None = None
    moved_from: str | None = None  # the workspace.toml its metadata names, now gone
    files: tuple[str, ...] = ()  # what the folder holds

    @property
    def env_exists(self) -> bool:
        """Whether the env the kernel runs is there (a conda env with a Python)."""
        return self.owner is not None and _is_env(self.owner.prefix)

    def why_not_ours(self) -> str:
        if self.ownership == "symlink":
            return "it is a symlink; wsp never writes through one"
        if self.ownership == "not-a-folder":
            return "it is a file, not a kernel folder"
        if self.ownership == "unreadable":
            return f"its kernel.json {self.problem}"
        if self.ownership == "other-workspace" and self.owner is not None:
            return (
                f"wsp wrote it for workspace {self.owner.workspace!r} ({self.owner.manifest}), "
                f"project {self.owner.project!r}"
            )
        if self.ownership == "not-wsp" and SPEC_FILE not in self.files:
            return f"it holds files but no kernel.json ({', '.join(self.files)})"
        if self.ownership == "not-wsp" and self.problem:
            return self.problem
        if self.ownership == "not-wsp":
            return "wsp did not write it (its kernel.json has no wsp metadata)"
        return "it is this workspace's"


def _is_env(prefix: Path) -> bool:
    """(os.path's checks: Path.is_dir raises for an env another user keeps private)"""
    return os.path.isdir(prefix / "conda-meta") and os.path.exists(prefix / "bin" / "python")


def _leftovers(names: Iterable[str]) -> bool:
    """Only what an interrupted write or removal of wsp leaves: the launcher, temp files."""
    return all(n == LAUNCHER or (n.startswith(".") and TMP_MARK in n) for n in names)


def read_kernel(ws: Workspace, kdir: Path) -> InstalledKernel | None:
    """The kernel folder `kdir` as this workspace sees it; None when there is nothing there
    (or only what an interrupted write of wsp left)."""
    name = kdir.name
    if kdir.is_symlink():
        return InstalledKernel(name, kdir, "symlink")
    if not kdir.exists():
        return None
    if not kdir.is_dir():
        return InstalledKernel(name, kdir, "not-a-folder")
    try:
        files = tuple(sorted(os.listdir(kdir)))
    except OSError as exc:  # another user's kernel, private to them
        from wsp.modes import whose

        owned = whose(kdir)
        problem = (
            f"can't be read ({kdir}: {exc.strerror}{f'; the folder is {owned}' if owned else ''})"
        )
        return InstalledKernel(name, kdir, "unreadable", problem=problem)
    spec = kdir / SPEC_FILE
    if SPEC_FILE not in files:
        if _leftovers(files):
            return None
        return InstalledKernel(name, kdir, "not-wsp", files=files)
    if spec.is_symlink() or (kdir / LAUNCHER).is_symlink():
        return InstalledKernel(name, kdir, "symlink", files=files)
    try:
        data = json.loads(spec.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return InstalledKernel(
            name, kdir, "unreadable", problem=f"is not valid ({exc})", files=files
        )
    display = data.get("display_name") if isinstance(data, dict) else None
    meta = data.get("metadata") if isinstance(data, dict) else None
    raw = meta.get("wsp") if isinstance(meta, dict) else None
    if raw is None:
        return InstalledKernel(name, kdir, "not-wsp", display_name=display, files=files)
    try:
        owner = KernelOwner.from_json(raw)
    except ValueError as exc:
        return InstalledKernel(
            name, kdir, "unreadable", display_name=display, problem=str(exc), files=files
        )
    # The same rule as for envs (observe.py): ours when it names this workspace.toml, or
    # this workspace's name and a workspace.toml that is gone (the workspace moved).
    same = owner.manifest == str(ws.manifest_path)
    moved = not same and owner.workspace == ws.name and not Path(owner.manifest).exists()
    mine = owner.workspace == ws.name and (same or moved)
    if mine and not _own_launcher(kdir, data.get("argv")):
        # a copy of a kernel wsp wrote (`cp -r`, `jupyter kernelspec install`): the user's
        return InstalledKernel(
            name,
            kdir,
            "not-wsp",
            display_name=display,
            problem="it is a copy of a kernel wsp wrote, or one you changed: its kernel.json "
            "does not start the launcher of its own folder, so it is yours",
            files=files,
        )
    return InstalledKernel(
        name,
        kdir,
        "ours" if mine else "other-workspace",
        owner,
        display,
        None,
        owner.manifest if moved else None,
        files,
    )


def _own_launcher(kdir: Path, argv: object) -> bool:
    """Whether `argv` (a kernel.json's) starts the launcher in `kdir`, as wsp writes it: a
    copy of wsp's kernel in another folder still starts the original's."""
    if not (isinstance(argv, list) and len(argv) > 1 and isinstance(argv[1], str)):
        return False
    folder = Path(argv[1]).parent
    if Path(argv[1]).name != LAUNCHER:
        return False
    if folder == kdir:
        return True
    try:  # the same folder by another path (a symlink in HOME, say)
        return os.path.samefile(folder, kdir)
    except OSError:
        return False


def _entries(location: Path, name: str) -> list[Path]:
    """Folders in `location` Jupyter reads as kernel `name` (it lower-cases names)."""
    try:
        with os.scandir(location) as it:
            return sorted(Path(e.path) for e in it if e.name.lower() == name.lower())
    except OSError:
        return []


def kernels_of(ws: Workspace, *, dirs: Iterable[Path] | None = None) -> list[InstalledKernel]:
    """Every kernel this workspace wrote, in `dirs` (default `search_dirs(ws)`)."""
    out: list[InstalledKernel] = []
    for location in dirs if dirs is not None else search_dirs(ws):
        try:
            with os.scandir(location) as it:
                names = sorted(e.name for e in it)
        except OSError:
            continue
        for n in names:
            found = read_kernel(ws, location / n)
            if found is not None and found.ownership == "ours":
                out.append(found)
    return out


# -- planned changes -------------------------------------------------------------------------

KernelAction = Literal["create", "update", "remove", "no-op", "blocked"]


@dataclass(frozen=True)
class KernelReason:
    """Why a kernel changes (or can't). `code`: missing, display-name, launch, owner,
    activation, edited, env-rebuilt (create, update); not-declared, moved, or the
    caller's (remove), kept-folder (a removal that left files wsp did not write); for
    `blocked`, the ownership of what is in the way: not-wsp, other-workspace, unreadable,
    symlink, not-a-folder, name-case."""

    code: str
    message: str


@dataclass(frozen=True)
class KernelChange:
    """One kernel's planned change. `spec` is set for create, update and no-op (and for
    blocked, the kernel that can't be written); `installed` is what is on disk now."""

    action: KernelAction
    name: str
    dir: Path
    reasons: tuple[KernelReason, ...] = ()
    spec: KernelSpec | None = None
    installed: InstalledKernel | None = None
    observed: str = ""  # hash of the files on disk when planned: a saved plan's check

    @property
    def project(self) -> str | None:
        if self.spec is not None:
            return self.spec.project
        return self.installed.owner.project if self.installed and self.installed.owner else None

    def summary(self) -> str:
        """One line for people: `kernel vision: update (display-name: ...)`."""
        why = "; ".join(r.message for r in self.reasons)
        return f"kernel {self.name}: {self.action}" + (f" ({why})" if why else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "kernel": self.name,
            "action": self.action,
            "dir": str(self.dir),
            "project": self.project,
            "display_name": self.spec.display_name if self.spec else None,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
        }


def _observed(kdir: Path, read: dict[str, bytes | None] | None = None) -> str:
    """The hash of wsp's files in `kdir` as they are (`read`: their bytes, already read)."""
    digest = hashlib.sha256()
    for name in _OURS:
        data = _read(kdir / name) if read is None else read[name]
        digest.update(name.encode() + b"\0" + (data + b"\0" if data is not None else b"-\0"))
    return "sha256:" + digest.hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _launcher_reasons(old: bytes, new: bytes) -> list[KernelReason]:
    def facts(text: bytes) -> tuple[set[str], dict[str, str]]:
        lines = text.decode("utf-8", "replace").splitlines()
        scripts = {ln[2:].strip().strip("'\"") for ln in lines if ln.startswith(". ")}
        exports = dict(ln[7:].partition("=")[::2] for ln in lines if ln.startswith("export "))
        return scripts, exports

    (s0, v0), (s1, v1) = facts(old), facts(new)
    parts = [f"+ {Path(s).name}" for s in sorted(s1 - s0)] + [
        f"- {Path(s).name}" for s in sorted(s0 - s1)
    ]
    parts += [f"+ ${v}" for v in sorted(v1.keys() - v0.keys())]
    parts += [f"- ${v}" for v in sorted(v0.keys() - v1.keys())]
    parts += [f"~ ${v}" for v in sorted(v0.keys() & v1.keys()) if v0[v] != v1[v]]
    if parts:
        return [KernelReason("activation", f"activation changed: {', '.join(parts)}")]
    return [KernelReason("activation", "activation changed (activate.d scripts or env vars)")]


def _json_reasons(old: bytes, new: bytes) -> list[KernelReason]:
    try:
        before = json.loads(old)
    except (ValueError, UnicodeDecodeError):
        return [KernelReason("edited", "kernel.json was changed outside wsp")]
    after = json.loads(new)
    out = []
    if before.get("display_name") != after["display_name"]:
        out.append(
            KernelReason(
                "display-name",
                f"display-name: {before.get('display_name')!r} -> {after['display_name']!r}",
            )
        )
    if before.get("argv") != after["argv"]:
        out.append(KernelReason("launch", "launch command changed"))
    old_meta = (before.get("metadata") or {}).get("wsp") or {}
    new_meta = after["metadata"]["wsp"]
    changed = [k for k in sorted(new_meta) if old_meta.get(k) != new_meta[k]]
    if changed:
        out.append(KernelReason("owner", f"wsp metadata changed: {', '.join(changed)}"))
    if not out:
        out.append(KernelReason("edited", "kernel.json was changed outside wsp"))
    return out


def plan_kernel(ws: Workspace, spec: KernelSpec) -> KernelChange:
    """What writing `spec` would do: create, update, no-op, or blocked by a kernel of the
    same name that this workspace did not write (never overwritten)."""
    return _plan_kernel(ws, spec)[0]


def _plan_kernel(ws: Workspace, spec: KernelSpec) -> tuple[KernelChange, KernelFiles | None]:
    """`plan_kernel`, and the files it rendered to compare (None when it did not)."""
    kdir = spec.dir
    others = [p for p in _entries(spec.location, spec.name) if p.name != spec.name]
    if others:
        return (
            KernelChange(
                "blocked",
                spec.name,
                kdir,
                (
                    KernelReason(
                        "name-case",
                        f"{others[0]} has the same name to Jupyter (it ignores case); "
                        "rename one of them",
                    ),
                ),
                spec,
            ),
            None,
        )
    found = read_kernel(ws, kdir)
    if found is None:
        return (
            KernelChange(
                "create",
                spec.name,
                kdir,
                (KernelReason("missing", f"no kernel {spec.name!r} in {spec.location}"),),
                spec,
            ),
            None,
        )
    if found.ownership != "ours":
        return (
            KernelChange(
                "blocked",
                spec.name,
                kdir,
                (
                    KernelReason(
                        found.ownership,
                        f"{kdir} is left alone: {found.why_not_ours()}; give this project's kernel "
                        "another name (jupyter = { name = ... }) or remove that folder",
                    ),
                ),
                spec,
                found,
                _observed(kdir),
            ),
            None,
        )
    files = render(spec)
    reasons: list[KernelReason] = []
    old_json = _read(kdir / SPEC_FILE)
    if old_json != files.kernel_json:
        reasons += _json_reasons(old_json or b"", files.kernel_json)
    old_launcher = _read(kdir / LAUNCHER)
    if old_launcher is None:
        reasons.append(KernelReason("activation", "launcher missing"))
    elif old_launcher != files.launcher:
        reasons += _launcher_reasons(old_launcher, files.launcher)
    change = KernelChange(
        "update" if reasons else "no-op",
        spec.name,
        kdir,
        tuple(reasons),
        spec,
        found,
        _observed(kdir, {SPEC_FILE: old_json, LAUNCHER: old_launcher}),
    )
    return change, files


def plan_removals(
    ws: Workspace,
    keep: Collection[str] = (),
    *,
    projects: Collection[str] | None = None,
    why: KernelReason | None = None,
    dirs: Iterable[Path] | None = None,
) -> list[KernelChange]:
    """Remove every kernel this workspace wrote except those named in `keep` in its own
    kernels folder. `projects` limits it to kernels written for these projects (--target);
    `why` is the reason to give (default: said per kernel)."""
    own = kernels_dir(ws)
    out = []
    for found in kernels_of(ws, dirs=dirs):
        assert found.owner is not None
        if found.dir.parent == own and found.name in keep:
            continue
        if projects is not None and found.owner.project not in projects:
            continue
        reason = why
        if reason is None:
            project = found.owner.project
            if found.dir.parent != own:
                reason = KernelReason("moved", f"kernels of this workspace now go to {own}")
            elif project not in ws.projects:
                reason = KernelReason("not-declared", f"project {project!r} is no longer declared")
            elif ws.projects[project].env_name != found.owner.env:
                reason = KernelReason(
                    "not-declared", f"env {found.owner.env} is no longer declared"
                )
            else:
                reason = KernelReason(
                    "not-declared", f"project {project!r} no longer declares kernel {found.name!r}"
                )
        out.append(
            KernelChange(
                "remove", found.name, found.dir, (reason,), None, found, _observed(found.dir)
            )
        )
    return out


def plan_kernels(
    ws: Workspace,
    desired: Mapping[str, DesiredEnv],
    *,
    projects: Collection[str] | None = None,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
) -> list[KernelChange]:
    """Every kernel change `wsp apply` would make: one per declared kernel (in `projects`
    when given), then the removals of this workspace's kernels that are no longer wanted.
    `env_vars`: per project whose env the apply builds, the variables it writes to the
    env's conda-meta/state (so the plan shows the launcher they give)."""
    out = []
    keep = set()
    for name, want in desired.items():
        spec = desired_kernel(ws, want, env_vars=(env_vars or {}).get(name))
        if spec is None:
            continue
        keep.add(spec.name)
        if projects is None or name in projects:
            out.append(plan_kernel(ws, spec))
    return out + plan_removals(ws, keep, projects=projects)


def inside(path: Path, prefix: Path) -> bool:
    """Whether `path` is `prefix` or in it."""
    return path == prefix or prefix in path.parents


def rebuilt_with_their_env(
    changes: list[KernelChange], gone: Iterable[tuple[str, Path]]
) -> list[KernelChange]:
    """`changes` with the kernels an apply deletes with an env written again: the kernels
    folder may be inside an env of the workspace (its JupyterLab's
    `<prefix>/share/jupyter`), and an env built again from nothing (`gone`: replaced,
    pruned; name and prefix) takes it with it. Such a kernel, unchanged or updated when
    planned, is created after that env is built."""
    gone = list(gone)
    out = []
    for change in changes:
        env = next((e for e, p in gone if inside(change.dir, p)), None)
        if env is not None and change.spec is not None and change.action in ("no-op", "update"):
            why = KernelReason(
                "env-rebuilt", f"env {env} is built again, and the kernels folder in it with it"
            )
            change = replace(change, action="create", reasons=(why,))
        out.append(change)
    return out


# -- carrying a change out -------------------------------------------------------------------


def _no_env_folder(ws: Workspace, location: Path) -> None:
    """Refuse to make the folder of an env that is not there: a kernels folder inside an env
    of the workspace (`jupyter-data-dir` in its JupyterLab's prefix) made before that env
    is built would take its place, and wsp never builds an env over a folder it did not
    make."""
    envs = ws.envs_dir
    if not inside(location, envs) or location == envs:
        return
    prefix = envs / location.relative_to(envs).parts[0]
    declared = {p.env_name for p in ws.projects.values()}
    if prefix.name in declared and not (prefix / "conda-meta").is_dir():
        raise WspError(
            f"kernels go to {location}, inside {prefix}, which is not a conda env (yet): "
            "making that folder would take the env's place; nothing written",
            hint=f"build that env first (`wsp apply`), or set jupyter-data-dir outside {envs}",
        )


def _write(ws: Workspace, spec: KernelSpec, files: KernelFiles | None = None) -> None:
    """Write `spec`'s files (`files`: as just rendered to plan it)."""
    files = render(spec) if files is None else files
    kdir = spec.dir
    _no_env_folder(ws, spec.location)
    kdir.mkdir(parents=True, exist_ok=True)
    if kdir.is_symlink() or not kdir.is_dir():  # replaced behind our back: leave it
        raise WspError(f"{kdir} is no longer a kernel folder of wsp; nothing written")
    # The launcher first: Jupyter lists a kernel once its kernel.json is there.
    atomic_write_bytes(kdir / LAUNCHER, files.launcher)
    atomic_write_bytes(kdir / SPEC_FILE, files.kernel_json)


def _remove(found: InstalledKernel) -> tuple[str, ...]:
    """Delete wsp's files from the kernel folder (kernel.json first, so Jupyter stops
    listing it), then the folder when nothing else is in it. Returns what was left."""
    kdir = found.dir
    for name in (SPEC_FILE, LAUNCHER):
        with contextlib.suppress(FileNotFoundError):
            (kdir / name).unlink()
    left = []
    for name in sorted(os.listdir(kdir)):
        if _leftovers([name]):
            with contextlib.suppress(FileNotFoundError):
                (kdir / name).unlink()
        else:
            left.append(name)
    if not left:
        with contextlib.suppress(OSError):
            kdir.rmdir()
    return tuple(left)


def apply_kernel(ws: Workspace, change: KernelChange) -> KernelChange:
    """Carry `change` out, after checking again that the kernel folder is free or this
    workspace's (a folder that changed hands since the plan is left alone: the result is
    `blocked`). create, update and no-op render from the env as it is now (a no-op is
    written when the env, just built, gives another launcher), so call it after the env is
    built. Returns what was done. Raises WspError when a file can't be written."""
    try:
        if change.action in ("create", "update", "no-op") and change.spec is not None:
            now, files = _plan_kernel(ws, change.spec)
            if now.action in ("create", "update"):
                _write(ws, change.spec, files)
            return now
        if change.action == "remove":
            found = read_kernel(ws, change.dir)
            if found is None:
                return KernelChange("no-op", change.name, change.dir)
            if found.ownership != "ours":
                return KernelChange(
                    "blocked",
                    change.name,
                    change.dir,
                    (KernelReason(found.ownership, f"left alone: {found.why_not_ours()}"),),
                    installed=found,
                )
            left = _remove(found)
            if left:
                note = KernelReason(
                    "kept-folder",
                    f"{change.dir} kept: it holds files wsp did not write ({', '.join(left)})",
                )
                return KernelChange(
                    "remove", change.name, change.dir, (*change.reasons, note), None, found
                )
            return change
    except OSError as exc:
        raise WspError(
            f"kernel {change.name}: could not {change.action} {change.dir}: {exc.strerror or exc}",
            hint="check that you may write there (a shared jupyter-data-dir may need its owner)",
        ) from None
    return change


def remove_kernels(
    ws: Workspace,
    keep: Collection[str] = (),
    *,
    projects: Collection[str] | None = None,
    why: KernelReason | None = None,
) -> list[KernelChange]:
    """`plan_removals` carried out: what prune (keep the declared kernels) and destroy
    (keep nothing) call. Returns what was done."""
    return [apply_kernel(ws, c) for c in plan_removals(ws, keep, projects=projects, why=why)]


# -- checks for `wsp check` ------------------------------------------------------------------

FindingCode = Literal["no-ipykernel", "stale", "undeclared", "shadowed", "name-taken"]


@dataclass(frozen=True)
class KernelFinding:
    """A problem with a kernel, for a policy rule. `fixable`: `wsp apply` mends it."""

    code: FindingCode
    kernel: str
    project: str | None
    dir: Path
    message: str
    fixable: bool = field(default=False)


def has_ipykernel(prefix: Path) -> bool:
    """Whether the env has ipykernel, from conda or from pip."""
    from wsp.pip import dist_info_names

    try:
        with os.scandir(prefix / "conda-meta") as it:
            if any(e.name.rsplit("-", 2)[0] == "ipykernel" for e in it if e.name.endswith(".json")):
                return True
    except OSError:
        pass
    return any(n.split("-", 1)[0].lower() == "ipykernel" for n in dist_info_names(prefix))


def _shadowing(spec: KernelSpec) -> Path | None:
    """A kernel of the same name in a folder Jupyter reads before ours (JUPYTER_PATH)."""
    from jupyter_core.paths import jupyter_path

    order = [Path(p) for p in jupyter_path("kernels")]
    if spec.location not in order:
        return None
    for location in order[: order.index(spec.location)]:
        for kdir in _entries(location, spec.name):
            if (kdir / SPEC_FILE).exists():
                return kdir
    return None


def check(ws: Workspace, desired: Mapping[str, DesiredEnv]) -> list[KernelFinding]:
    """Kernel problems: a declared kernel whose env lacks ipykernel, a kernel of this
    workspace whose env is gone (stale) or that no project declares any more, a kernel
    hidden by another of the same name, a kernel name taken by one wsp did not write."""
    out: list[KernelFinding] = []
    wanted: dict[str, str] = {}
    for project, want in desired.items():
        spec = desired_kernel(ws, want)
        if spec is None:
            continue
        wanted[spec.name] = project
        if _is_env(want.prefix) and not has_ipykernel(want.prefix):
            out.append(
                KernelFinding(
                    "no-ipykernel",
                    spec.name,
                    project,
                    spec.dir,
                    f"env {want.env_name} has no ipykernel, so kernel {spec.name!r} can't start; "
                    "run `wsp apply` (jupyter = true adds it) or add ipykernel to its "
                    "dependencies",
                    fixable=True,
                )
            )
        found = read_kernel(ws, spec.dir)
        if found is not None and found.ownership != "ours":
            out.append(
                KernelFinding(
                    "name-taken",
                    spec.name,
                    project,
                    spec.dir,
                    f"kernel name {spec.name!r} is taken: {found.why_not_ours()}; "
                    "set jupyter = { name = ... } to another name",
                )
            )
        elif (hidden_by := _shadowing(spec)) is not None:
            out.append(
                KernelFinding(
                    "shadowed",
                    spec.name,
                    project,
                    spec.dir,
                    f"Jupyter finds {hidden_by} first, which hides kernel {spec.name!r}; "
                    "rename one of them",
                )
            )
    own = kernels_dir(ws)
    for found in kernels_of(ws):
        assert found.owner is not None
        if not found.env_exists:
            out.append(
                KernelFinding(
                    "stale",
                    found.name,
                    found.owner.project,
                    found.dir,
                    f"kernel {found.name!r} runs env {found.owner.prefix}, which is gone; "
                    "`wsp apply` removes it (or builds the env when it is declared)",
                    fixable=True,
                )
            )
        elif found.dir.parent != own or wanted.get(found.name) != found.owner.project:
            out.append(
                KernelFinding(
                    "undeclared",
                    found.name,
                    found.owner.project,
                    found.dir,
                    f"kernel {found.name!r} ({found.dir}) is no longer declared; "
                    "`wsp apply` removes it",
                    fixable=True,
                )
            )
    return out
