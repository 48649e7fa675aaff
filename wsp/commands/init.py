"""`wsp init`: write a commented starter workspace.toml (and ignore `.wsp/` in git).

Existing environment.yml files under the folder become projects that merge them
(`environment-file`), so nothing is copied and the conda files stay the truth until
the user moves their specs into workspace.toml. What init writes plans with no policy
error of its own making: names the naming policy accepts, and workspace channels that
don't mix Anaconda's `defaults` into a file that uses it with conda-forge.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsp.manifest.envfile import EnvFile

_SKIP = {".git", ".wsp", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox"}
_ENV_FILES = ("environment.yml", "environment.yaml")

_HEADER = """\
# workspace.toml: every project's conda env, declared in one place.
#   wsp plan    show what would change      wsp apply   make it so
#   wsp status  what is there               docs: docs/workspace-toml.md

[workspace]
name = {name}
channels = {channels}{channels_note}
channel-priority = "strict"       # strict | flexible | disabled
# envs-dir = ".wsp/envs"          # default: conda's envs dir when conda is installed
# env-prefix = ""                 # prepended to every env name, e.g. "acme-"

# [templates.tools]               # a block projects can `extends = ["tools"]`
# dependencies = ["ipython"]
"""

_SAMPLE = """
[projects.{name}]                 # the env is named after the project
path = "."
python = "{python}"               # "3.12" means any 3.12.x
dependencies = []                 # conda match specs, e.g. "numpy>=1.26"
# pip = []                        # only for what no channel has
"""

_FROM_FILE = """
[projects.{name}]
path = {path}
environment-file = {file}  # merged: its channels, dependencies, pip list and variables
"""


def register(sub: Any) -> None:
    p = sub.add_parser("init")
    p.add_argument("--name", help="the workspace name (default: the folder's name)")
    p.add_argument("--no-import", action="store_true", help="don't pick up environment.yml files")
    from wsp.commands import add_json

    add_json(p)


def slug(text: str) -> str:
    """A name that is a valid project, env and workspace name."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "project"


def policy_name(text: str) -> tuple[str, str | None]:
    """A name the default naming policy accepts (WSP101 pattern, WSP102 forbidden names),
    and why it differs from `text` (None when it doesn't)."""
    from wsp.manifest.models import DEFAULT_FORBIDDEN

    if "/" in text.rstrip("/"):  # `conda env export -p PREFIX` writes `name: PREFIX`
        name, why = policy_name(text.rstrip("/").rsplit("/", 1)[-1])
        path = f"from {text!r}: a path, named after its last folder"
        return name, f"{path}; {why}" if why else path
    name = slug(text)
    whys = []
    if name != text:
        whys.append(f"from {text!r}: the naming policy wants lower-case letters, digits, '-'")
    if not name[0].isalpha():
        whys.append(f"{name!r} does not start with a letter")
        name = f"project-{name}"
    if name in DEFAULT_FORBIDDEN:
        whys.append(f"{name!r} is a name the naming policy forbids")
        name = f"{name}-project"
    return name, "; ".join(whys) or None


def _q(text: str) -> str:
    import json

    return json.dumps(text)


def find_env_files(root: Path, names: re.Pattern[str] | None = None) -> list[Path]:
    """The environment.yml files below `root` (or the files whose name `names` matches),
    hidden folders, the usual tool folders and conda envs (a folder with conda-meta/:
    `conda create -p ./envs/dev`, whose packages may ship such files) not looked into."""
    import os

    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [
            d
            for d in dirs
            if d not in _SKIP
            and not d.startswith(".")
            and not os.path.isdir(os.path.join(folder, d, "conda-meta"))
        ]
        for name in files:
            wanted = names.match(name) if names is not None else name in _ENV_FILES
            if wanted and (path := Path(folder) / name).is_file():
                out.append(path)
    return sorted(out)


_LOOKS_LIKE_ENV_FILE = re.compile(r"^(environment|env|conda)([-_.][^/]*)?\.ya?ml$", re.IGNORECASE)


def unread_files(
    root: Path,
    project_folders: list[Path],
    pip_installed: set[Path] | frozenset[Path] = frozenset(),
) -> list[str]:
    """What init found and does not read, said out loud: conda environment files by
    another name (anywhere init looks), and in each folder a project is made for, its
    requirements files, its pyproject.toml's dependencies (unless an environment file's
    pip list installs the folder, `-e .`: pip then installs them) and pixi tables, a
    pixi.toml."""
    notes = []
    for path in find_env_files(root, _LOOKS_LIKE_ENV_FILE):
        if path.name not in _ENV_FILES:
            rel = path.relative_to(root).as_posix()
            notes.append(
                f"{rel} is not imported (init reads files named environment.yml): "
                f"`wsp import --file {rel}` adds it as a project"
            )
    for folder in dict.fromkeys(project_folders):
        rel = folder.relative_to(root).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        for req in sorted(folder.glob("requirements*.txt")):
            notes.append(
                f"{prefix}{req.name} is not read: list its requirements in the project's "
                "`pip` (`wsp add --pip PROJECT REQ...`), or `-r` it from an environment "
                "file's pip list"
            )
        notes += _pyproject_notes(folder, prefix, installed=folder.resolve() in pip_installed)
    return notes


def pip_installed_folders(files: list[EnvFile]) -> frozenset[Path]:
    """The local folders the environment files' pip lists install (`-e .`, `./pkg`)."""
    from wsp import pipreqs

    return frozenset(
        e.path.resolve()
        for f in files
        for e in pipreqs.walk(f.pip_entries)
        if isinstance(e, pipreqs.Editable | pipreqs.LocalPath) and e.path is not None
    )


def _pyproject_notes(folder: Path, prefix: str, *, installed: bool = False) -> list[str]:
    import tomllib

    notes = []
    if (folder / "pixi.toml").is_file():
        notes.append(f"{prefix}pixi.toml is not read: declare what it lists in workspace.toml")
    try:
        data = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return notes
    project = data.get("project")
    if isinstance(project, dict) and project.get("dependencies") and not installed:
        notes.append(
            f"{prefix}pyproject.toml: its [project] dependencies are not installed: declare "
            "them with `wsp add PROJECT SPEC...` (or `wsp add --pip`)"
        )
    tool = data.get("tool")
    if isinstance(tool, dict) and "pixi" in tool:
        notes.append(
            f"{prefix}pyproject.toml: [tool.pixi] is not read: declare what it lists in "
            "workspace.toml"
        )
    return notes


# -- the workspace's channels -------------------------------------------------------------


def mixes(channels: list[str]) -> bool:
    from wsp.policy.channels import is_conda_forge, is_defaults

    return any(is_defaults(c) for c in channels) and any(is_conda_forge(c) for c in channels)


def workspace_channels(files: list[EnvFile]) -> list[str]:
    """The workspace's channels: conda-forge (wsp's default), else `defaults` (conda's),
    else none, whichever adds no defaults/conda-forge mix to a file that has none itself
    (the workspace's channels come after each file's own, unless it says `nodefaults`)."""
    for candidate in (["conda-forge"], ["defaults"]):
        if all(
            "nodefaults" in f.channels
            or mixes(list(f.channels))
            or not mixes([*f.channels, *candidate])
            for f in files
        ):
            return candidate
    return []


# -- rendering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    text: str
    renamed: list[str]  # what was named otherwise than asked, and why


def render(root: Path, name: str, env_files: list[tuple[Path, EnvFile]]) -> Rendered:
    files = [f for _, f in env_files]
    channels = workspace_channels(files) if env_files else ["conda-forge"]
    note = "        # highest priority first"
    if env_files and channels != ["conda-forge"]:
        note = (
            "  # the environment files use Anaconda's defaults: conda-forge here would mix them"
            if channels
            else "  # each project's own: defaults and conda-forge are both in use"
        )
    text = _HEADER.format(
        name=_q(name), channels="[" + ", ".join(_q(c) for c in channels) + "]", channels_note=note
    )
    used: dict[str, Path] = {}  # project -> the file it was made from
    renamed: list[str] = []
    for path, env in env_files:
        folder = path.parent
        wanted = env.name or (folder.name if folder != root else name)
        project, why = policy_name(wanted)
        if project in used:
            taken = project
            project = next(f"{taken}-{n}" for n in itertools.count(2) if f"{taken}-{n}" not in used)
            also = f"{taken!r} is the project of {used[taken].relative_to(root)}"
            why = f"{why}; {also}" if why else also
        used[project] = path
        if why is not None:
            renamed.append(f"{path.relative_to(root)}: project named {project!r} ({why})")
        rel = folder.relative_to(root).as_posix() or "."
        text += _FROM_FILE.format(name=project, path=_q(rel), file=_q(path.name))
        if not channels and not env.channels:  # conda would use its own; wsp's default
            text += 'channels = ["conda-forge"]\n'
    if not env_files:
        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        project, why = policy_name(name)
        if why is not None:
            renamed.append(f"project named {project!r} ({why})")
        text += _SAMPLE.format(name=project, python=python)
    return Rendered(text, renamed)


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.errors import WspError
    from wsp.fsutil import atomic_write_text
    from wsp.manifest import MANIFEST_NAME
    from wsp.manifest.edit import validate
    from wsp.manifest.envfile import read_env_file

    target = directory / MANIFEST_NAME
    if target.exists():
        raise WspError(f"{target} already exists", hint="edit it, or remove it to start over")
    name = slug(args.name or directory.name)  # projects' names follow the policy
    paths = [] if args.no_import else find_env_files(directory)
    # Each file read where it is: an error names the user's file, line and column.
    env_files = [(path, read_env_file(path, root=directory)) for path in paths]
    rendered = render(directory, name, env_files)
    folders = [path.parent for path, _ in env_files] or [directory]
    installed = pip_installed_folders([f for _, f in env_files])
    unread = [] if args.no_import else unread_files(directory, folders, installed)
    # Validate before writing: init never leaves a file `wsp plan` refuses.
    loaded: list[Any] = []
    validate(target, rendered.text, "init", check=loaded.append)
    in_the_way = _in_the_way(loaded[0]) if env_files else []
    atomic_write_text(target, rendered.text)
    gitignore = directory / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    if not any(line.strip() in (".wsp", ".wsp/", "/.wsp", "/.wsp/") for line in lines):
        atomic_write_text(gitignore, "\n".join([*lines, "# wsp's own state", ".wsp/"]) + "\n")
    if args.json:
        import tomlkit

        ui.print_json(
            {
                "manifest": str(target),
                "workspace": name,
                "projects": list(tomlkit.parse(rendered.text).unwrap().get("projects", {})),
                "imported": [str(path.relative_to(directory)) for path, _ in env_files],
                "renamed": list(rendered.renamed),
                "warnings": [str(w) for _, env in env_files for w in env.warnings],
                "unread": unread,
                "blocked": in_the_way,
            }
        )
        return 0
    found = f", {len(env_files)} project(s) from environment files" if env_files else ""
    ui.out().print(f"Wrote {ui.esc(target)}{found}. Next: `wsp plan`.")
    for path, _ in env_files:
        ui.out().print(f"  [dim]imported {ui.esc(path.relative_to(directory))}[/]")
    for line in rendered.renamed:
        ui.info(f"note: {ui.esc(line)}; rename it in {MANIFEST_NAME} if you like")
    for _, env in env_files:
        for warning in env.warnings:
            ui.info(f"warning: {ui.esc(warning)}")
    for line in unread:
        ui.info(f"note: {ui.esc(line)}")
    for line in in_the_way:
        ui.info(ui.esc(line))
    return 0


def _in_the_way(ws: Any) -> list[str]:
    """A warning for each project whose env's place holds an env wsp did not create (the
    env `conda env create -f environment.yml` made): `wsp plan` shows it blocked."""
    from wsp.commands.import_ import in_the_way_note, not_wsps

    out = []
    for name, project in ws.projects.items():
        target = ws.envs_dir / project.env_name
        if not_wsps(target):
            beside = f"rename [projects.{name}] in workspace.toml"
            out.append(in_the_way_note(name, target, None, beside))
    return out
