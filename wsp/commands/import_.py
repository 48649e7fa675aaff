"""`wsp import`: an environment.yml or an existing conda env becomes a project in
workspace.toml, the rest of the file kept byte for byte.

From an env, what the user asked for is taken (conda-meta/history), not every package
the solver added; pip packages are those in site-packages conda did not install. The env
itself is left alone: it becomes wsp's on the next `wsp apply`.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="add a project from an environment.yml or an existing conda env",
        usage="wsp import (--file ENVIRONMENT_YML | --env PATH_OR_NAME) [--as NAME]",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", metavar="FILE", help="a conda environment.yml")
    src.add_argument(
        "--env",
        metavar="PATH_OR_NAME",
        help="an env's prefix, or its name in envs-dir or conda's envs dirs",
    )
    p.add_argument("--as", dest="as_name", metavar="NAME", help="the project's name")


# -- conda-meta/history -------------------------------------------------------------------

_OPTS_WITH_VALUE = {
    "-n",
    "--name",
    "-p",
    "--prefix",
    "-c",
    "--channel",
    "--file",
    "--solver",
    "--repodata-fn",
    "--clone",
    "--platform",
    "--subdir",
}
_SUBCOMMANDS = {"create", "install", "update", "upgrade", "remove", "uninstall"}


def _parse_list(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _from_cmd(cmd: str) -> tuple[str | None, list[str], list[str]]:
    """(subcommand, specs, channels) of a `# cmd:` line."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = cmd.split()
    sub = next((w for w in words if w in _SUBCOMMANDS), None)
    if sub is None:
        return None, [], []
    rest = words[words.index(sub) + 1 :]
    specs: list[str] = []
    channels: list[str] = []
    i = 0
    while i < len(rest):
        w = rest[i]
        if w.startswith("-"):
            opt, eq, value = w.partition("=")
            if opt in _OPTS_WITH_VALUE:
                if not eq:
                    i += 1
                    value = rest[i] if i < len(rest) else ""
                if opt in ("-c", "--channel") and value:
                    channels.append(value)
            i += 1
            continue
        specs.append(w)
        i += 1
    return sub, specs, channels


def history_specs(history: Path) -> tuple[list[str], list[str]]:
    """(specs, channels) the user asked for over the env's history, in order: each
    revision's `# update specs` (else its `# cmd:`), less its `# remove specs`."""
    from wsp.manifest.edit import conda_name

    specs: dict[str, str] = {}
    channels: list[str] = []
    try:
        text = history.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [], []

    revisions: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("==>") and line.rstrip().endswith("<=="):
            revisions.append([])
        else:
            revisions[-1].append(line.strip())
    for lines in revisions:
        update: list[str] | None = None
        remove: list[str] | None = None
        cmd = None
        for line in lines:
            if line.startswith("# update specs:"):
                update = [*(update or []), *_parse_list(line.split(":", 1)[1])]
            elif line.startswith("# remove specs:"):
                remove = [*(remove or []), *_parse_list(line.split(":", 1)[1])]
            elif line.startswith("# cmd:"):
                cmd = line.split(":", 1)[1]
        if cmd is not None:
            sub, cmd_specs, cmd_channels = _from_cmd(cmd)
            channels.extend(c for c in cmd_channels if c not in channels)
            if update is None and remove is None and sub is not None:
                if sub in ("remove", "uninstall"):
                    remove = cmd_specs
                else:
                    update = cmd_specs
        for spec in update or []:
            specs[conda_name(spec)] = spec
        for spec in remove or []:
            specs.pop(conda_name(spec), None)
    return list(specs.values()), channels


def _installed_python(prefix: Path) -> str | None:
    """major.minor of the python package conda-meta records, if any."""
    for record in (prefix / "conda-meta").glob("python-[0-9]*.json"):
        version = record.name[len("python-") :].split("-", 1)[0]
        parts = version.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return f"{parts[0]}.{parts[1]}"
    return None


def find_env(ws: Any, given: str) -> Path:
    """An env's prefix from a path, or a name in envs-dir, then conda's envs dirs."""
    from wsp.conda import conda_envs_dirs
    from wsp.errors import WspError

    as_path = Path(given).expanduser()
    if "/" in given or given.startswith((".", "~")):
        candidates = [as_path]
    else:
        candidates = [ws.envs_dir / given, *(d / given for d in conda_envs_dirs())]
    for c in candidates:
        if (c / "conda-meta").is_dir():
            return c.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise WspError(f"no conda env {given!r} found (looked in {looked})")


# -- the command --------------------------------------------------------------------------


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import graph, ui
    from wsp.commands.init import slug
    from wsp.errors import WspError
    from wsp.manifest import find_manifest, load
    from wsp.manifest.edit import (
        Edit,
        append_text,
        conda_name,
        python_version,
        render_project,
    )

    manifest = find_manifest(directory)
    ws = load(manifest)
    fields: dict[str, Any] = {}
    python: str | None = None
    deps: list[str] = []
    channels: list[str] = []
    pip_reqs: list[str] = []

    if args.file:
        from wsp.manifest.envfile import read_env_file

        source = Path(args.file).resolve()
        if not source.is_file():
            raise WspError(f"--file {args.file}: no such file")
        env_file = read_env_file(source)
        default_name = env_file.name
        channels = list(env_file.channels)
        pip_reqs = list(env_file.pip)
        for spec in env_file.dependencies:
            if conda_name(spec) == "python":
                python = python_version(spec) or python
            elif conda_name(spec) == "pip" and pip_reqs and spec.strip() == "pip":
                continue  # conda's pip, there for the pip: list; wsp installs those with uv
            else:
                deps.append(spec)
        what = f"{source.name}"
        try:
            rel = source.parent.relative_to(ws.root).as_posix()
        except ValueError:
            rel = None
    else:
        from wsp import pip

        prefix = find_env(ws, args.env)
        default_name = prefix.name
        specs, channels = history_specs(prefix / "conda-meta" / "history")
        for spec in specs:
            if conda_name(spec) == "python":
                python = python_version(spec) or python
            else:
                deps.append(spec)
        if python is None:
            python = _installed_python(prefix)
        pip_reqs = [
            f"{d.name}=={d.version}"
            for name, d in sorted(pip.installed(prefix).items())
            if d.installer != "conda"
        ]
        what = str(prefix)
        rel = None

    if not (args.as_name or default_name):
        raise WspError(f"{what} has no name: give the project one with --as NAME")
    name = slug(args.as_name or default_name)
    if name in ws.projects:
        raise WspError(
            f"project {name!r} already exists in {manifest.name}",
            hint="import it under another name with --as NAME",
        )
    channels = [c for c in dict.fromkeys(channels) if c not in ws.channels]
    default_path = f"projects/{name}"
    if rel is not None and rel != default_path:
        fields["path"] = rel or "."
    fields["python"] = python
    fields["channels"] = channels
    fields["dependencies"] = deps
    fields["pip"] = pip_reqs
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$", name):
        raise WspError(f"{name!r} can't be a project name; give one with --as NAME")

    edit = Edit.open(manifest)
    text = append_text(edit.text, render_project(name, fields))
    edit.save("import", text, check=graph.validate)
    ui.out().print(f"Added project [bold]{ui.esc(name)}[/] to {manifest.name} from {ui.esc(what)}:")
    for key in ("path", "python", "channels", "dependencies", "pip"):
        value = fields.get(key)
        if value:
            shown = ", ".join(value) if isinstance(value, list) else value
            ui.out().print(f"  {key}: {ui.esc(shown)}")
    if args.env:
        ui.out().print(
            "[dim]The env is untouched; `wsp apply` makes it match (and owns it) when "
            "envs-dir holds it, else creates the project's own env.[/]"
        )
    else:
        ui.out().print("[dim]Next: `wsp plan`.[/]")
    return 0
