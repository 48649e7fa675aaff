"""`wsp init`: write a commented starter workspace.toml (and ignore `.wsp/` in git).

Existing environment.yml files under the folder become projects that merge them
(`environment-file`), so nothing is copied and the conda files stay the truth until
the user moves their specs into workspace.toml.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

_SKIP = {".git", ".wsp", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", "envs"}
_ENV_FILES = ("environment.yml", "environment.yaml")

_HEADER = """\
# workspace.toml: every project's conda env, declared in one place.
#   wsp plan    show what would change      wsp apply   make it so
#   wsp status  what is there               docs: docs/workspace-toml.md

[workspace]
name = {name}
channels = ["conda-forge"]        # highest priority first
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
environment-file = {file}  # merged: its channels, dependencies and pip list
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init", help="write a starter workspace.toml (picking up environment.yml files)"
    )
    p.add_argument("--name", help="the workspace name (default: the folder's name)")
    p.add_argument("--no-import", action="store_true", help="don't pick up environment.yml files")


def slug(text: str) -> str:
    """A name that is a valid project, env and workspace name."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "project"


def _q(text: str) -> str:
    import json

    return json.dumps(text)


def find_env_files(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if path.name in _ENV_FILES and path.is_file():
            out.append(path)
    return out


def _env_name(path: Path) -> str | None:
    try:
        from wsp.manifest.envfile import read_env_file

        return read_env_file(path).name
    except Exception:
        return None


def render(root: Path, name: str, env_files: list[Path]) -> str:
    text = _HEADER.format(name=_q(name))
    used: set[str] = set()
    for path in env_files:
        folder = path.parent
        project = slug(_env_name(path) or (folder.name if folder != root else name))
        while project in used:
            project += "-2"
        used.add(project)
        rel = folder.relative_to(root).as_posix() or "."
        text += _FROM_FILE.format(name=project, path=_q(rel), file=_q(path.name))
    if not env_files:
        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        text += _SAMPLE.format(name=slug(name), python=python)
    return text


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.errors import WspError
    from wsp.fsutil import atomic_write_text
    from wsp.manifest import MANIFEST_NAME, load

    target = directory / MANIFEST_NAME
    if target.exists():
        raise WspError(f"{target} already exists", hint="edit it, or remove it to start over")
    name = slug(args.name or directory.name)
    env_files = [] if args.no_import else find_env_files(directory)
    text = render(directory, name, env_files)
    # Validate before writing: init never leaves a file `wsp plan` refuses.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / MANIFEST_NAME
        probe.write_text(text)
        for path in env_files:
            dest = Path(tmp) / path.relative_to(directory)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
        load(probe, envs_dir_default=Path(tmp) / "envs")
    atomic_write_text(target, text)
    gitignore = directory / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    if not any(line.strip() in (".wsp", ".wsp/", "/.wsp", "/.wsp/") for line in lines):
        atomic_write_text(gitignore, "\n".join([*lines, "# wsp's own state", ".wsp/"]) + "\n")
    found = f", {len(env_files)} project(s) from environment files" if env_files else ""
    ui.out().print(f"Wrote {ui.esc(target)}{found}. Next: `wsp plan`.")
    for path in env_files:
        ui.out().print(f"  [dim]imported {ui.esc(path.relative_to(directory))}[/]")
    return 0
