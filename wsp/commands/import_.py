"""`wsp import`: an environment.yml or an existing conda env becomes a project in
workspace.toml, the rest of the file kept byte for byte.

From an env, what the user asked for is taken (conda-meta/history), not every package
the solver added; pip packages are those in site-packages conda did not install. The env
itself is left alone, and stays conda's: wsp builds the project's own env (in its place
only once it is removed; `wsp plan` shows the project blocked until then).
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import",
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
    from wsp.commands import add_json

    add_json(p)


# -- conda-meta/history -------------------------------------------------------------------

_OPTS_WITH_VALUE = {
    "-n",
    "--name",
    "-p",
    "--prefix",
    "-c",
    "--channel",
    "--file",
    "-f",  # conda env create/update -f FILE
    "-r",  # micromamba's root prefix
    "--root-prefix",
    "--rc-file",
    "--solver",
    "--repodata-fn",
    "--clone",
    "--platform",
    "--subdir",
    "--revision",
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


# conda's History.spec_pat: `# update specs: [...]`, also `install`, `create`, `remove`,
# `uninstall`, `neutered` (what `conda update --all` relaxed a pin to)
_SPEC_LINE = re.compile(r"#\s*(\w+)\s*specs:\s*(.+)?")
_SPEC_KIND = {
    "update": "update",
    "install": "update",
    "create": "update",
    "remove": "remove",
    "uninstall": "remove",
    "neutered": "neutered",
}
# conda's version_relation_re: a piece of conda < 4.4's `a >=1,<2,b` that continues a spec
_VERSION_RELATION = re.compile(r"^(=|==|!=|<=|>=|<|>|~=)(?![=<>!~])(\S+)$")


def _spec_line(line: str) -> tuple[str, list[str]] | None:
    """(kind, specs) of a `# ... specs:` line, read as conda reads it: a Python list, or
    conda < 4.4's comma-separated text (`python >=3.5,<4,six`); None for other lines."""
    m = _SPEC_LINE.match(line)
    if m is None or (kind := _SPEC_KIND.get(m.group(1))) is None:
        return None
    text = (m.group(2) or "").strip()
    specs: list[str] = []
    if text.startswith("["):
        specs = _parse_list(text)
    elif "[" not in text:
        for piece in text.split(","):
            if _VERSION_RELATION.match(piece) and specs:
                specs[-1] = f"{specs[-1]},{piece}"
            else:
                specs.append(piece)
    return kind, [s.strip() for s in specs if s.strip() and not s.strip().endswith("@")]


def history_specs(history: Path) -> tuple[list[str], list[str]]:
    """(specs, channels) the user asked for over the env's history, in order, as conda
    reads them (`conda env export --from-history`): each revision's `# remove specs`
    taken out, its `# update specs` put in (else the specs of its `# cmd:`), then its
    `# neutered specs` (a pin `conda update --all` relaxed) in place of the earlier."""
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
        said: dict[str, list[str]] = {}
        cmd = None
        for line in lines:
            if line.startswith("# cmd:"):
                cmd = line.split(":", 1)[1]
            elif (found := _spec_line(line)) is not None:
                said.setdefault(found[0], []).extend(found[1])
        if cmd is not None:
            sub, cmd_specs, cmd_channels = _from_cmd(cmd)
            channels.extend(c for c in cmd_channels if c not in channels)
            if not said and sub is not None:  # a history with no spec lines (old tools)
                said["remove" if sub in ("remove", "uninstall") else "update"] = cmd_specs
        for spec in said.get("remove", []):
            specs.pop(conda_name(spec), None)
        for spec in [*said.get("update", []), *said.get("neutered", [])]:
            specs[conda_name(spec)] = spec
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
    """An env's prefix from a path, or a name in envs-dir, then conda's envs dirs; `base`
    is conda's root env, as for `conda activate base`."""
    from wsp.conda import conda_envs_dirs, find_conda_root
    from wsp.errors import WspError

    as_path = Path(given).expanduser()
    if "/" in given or given.startswith((".", "~")):
        candidates = [as_path]
    else:
        candidates = [ws.envs_dir / given, *(d / given for d in conda_envs_dirs())]
        if given == "base" and (root := find_conda_root()) is not None:
            candidates.insert(0, root)  # a name conda keeps for its root env
        candidates = list(dict.fromkeys(candidates))
    for c in candidates:
        if (c / "conda-meta").is_dir():
            return c.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise WspError(f"no conda env {given!r} found (looked in {looked})")


def state_env_vars(prefix: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The variables `conda env config vars set` (or `wsp apply`) gave the env, from
    conda-meta/state as conda's activation reads it (an unset one is not there), and
    (what, why) for each one a project's env-vars can't hold."""
    import json

    from wsp.conda import UNSET_ENV_VAR
    from wsp.condameta import env_var_problem

    state = prefix / "conda-meta" / "state"
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not JSON"
        return {}, [(str(state), f"its variables can't be read ({why})")]
    env_vars = data.get("env_vars") if isinstance(data, dict) else None
    if env_vars is None and isinstance(data, dict):
        return {}, []
    if not isinstance(env_vars, dict):
        return {}, [(str(state), "its variables can't be read (not conda's JSON object)")]
    out: dict[str, str] = {}
    left_out: list[tuple[str, str]] = []
    for name, value in env_vars.items():
        if value is None or value == UNSET_ENV_VAR:
            continue  # `conda env config vars unset` leaves it so: not set on activation
        what = f"{state}: {name}"
        if (problem := env_var_problem(str(name))) is not None:
            left_out.append((what, problem))
        elif isinstance(value, dict | list):
            left_out.append((what, "its value is not a string"))
        elif "\x00" in str(value):
            left_out.append((what, "its value holds a NUL character"))
        else:
            out[str(name)] = str(value)
    return out, left_out


# -- envs with no history (built by rattler or pixi) ----------------------------------------


def _records(prefix: Path) -> dict[str, dict[str, Any]]:
    """The env's package records (conda-meta/*.json) by package name."""
    import json

    records: dict[str, dict[str, Any]] = {}
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            records[data["name"].lower()] = data
    return records


def _depends(record: dict[str, Any]) -> set[str]:
    """The names a package record depends on; not `pip` of python's, which conda adds to
    python when it installs it (add_pip_as_python_dependency), no channel's python has."""
    names = set()
    for dep in record.get("depends") or []:
        words = str(dep).split()
        name = words[0].split("::")[-1].lower() if words else ""
        if name and not (name == "pip" and str(record.get("name")).lower() == "python"):
            names.add(name)
    return names


def against_installed(
    specs: list[str], records: dict[str, dict[str, Any]]
) -> tuple[list[str], list[str], list[str]]:
    """(specs, not installed, added): the history's specs of packages the env holds (as
    conda's `env export --from-history` counts them), what it names that is not
    installed, and the installed packages no spec brings in (a package only `conda install
    --revision` put back, pip that conda adds to python), added by name."""
    from wsp.manifest.edit import conda_name

    if not records:
        return specs, [], []
    kept = [s for s in specs if conda_name(s) in records]
    gone = [s for s in specs if conda_name(s) not in records]
    added: list[str] = []
    while True:
        reached: set[str] = set()
        todo = [conda_name(s) for s in kept] + added
        while todo:
            name = todo.pop()
            if name in reached or name not in records:
                continue
            reached.add(name)
            todo.extend(_depends(records[name]))
        left = [n for n in sorted(records) if n not in reached and not n.startswith("__")]
        if not left:
            return kept, gone, added
        needed = {d for n in left for d in _depends(records[n])}
        added += [n for n in left if n not in needed] or left


_SUBDIR = re.compile(r"/(noarch|(linux|osx|win|emscripten|wasi|zos)-[a-z0-9_]+)$")


def _record_channel(record: dict[str, Any], config: Any) -> str:
    """A package record's channel as conda names it (`conda-forge`, `defaults`, else its
    URL): conda writes `<channel>/<subdir>`, rattler `<channel>/`, mirrors by .condarc."""
    channel = str(record.get("channel") or "")
    if not channel and (url := str(record.get("url") or "")):
        channel = url.rsplit("/", 2)[0]  # <channel>/<subdir>/<file>
    channel = _SUBDIR.sub("", channel.rstrip("/"))
    return config.canonical_name(channel) if channel else ""


def _record_channels(records: dict[str, dict[str, Any]], config: Any) -> list[str]:
    """The channels the env's packages came from: in .condarc's `channels` order (conda's
    when the command named none), then by how many packages each gave."""
    from wsp.conda import find_conda
    from wsp.condarc import condarc_sequence

    counts: dict[str, int] = {}
    for record in records.values():
        if channel := _record_channel(record, config):
            counts[channel] = counts.get(channel, 0) + 1
    conda = find_conda()
    order = condarc_sequence("channels", conda_prefix=conda.conda_prefix if conda else None)
    return sorted(counts, key=lambda c: (order.index(c) if c in order else len(order), -counts[c]))


def _named_channel(spec: str, config: Any) -> str:
    """A spec of the history whose channel conda wrote as the URL it fetched it from (a
    .condarc mirror: `file:///srv/mirror/conda-forge::six`), by the channel's name."""
    head, sep, rest = spec.partition("::")
    if not sep or "://" not in head or "[" in head:
        return spec
    name = config.canonical_name(_SUBDIR.sub("", head.rstrip("/")))
    return spec if "://" in name else f"{name}::{rest}"


def installed_specs(prefix: Path) -> tuple[list[str], list[str], bool]:
    """(specs, channels, top_level) of an env whose history names no spec: the packages
    it was asked for when its records say so (`requested_spec`, as pixi writes it), else
    those no other installed package depends on, each pinned to its installed version;
    `top_level` is False when even that could not be told (then every package)."""
    records = _records(prefix)
    channels: list[str] = []
    for data in records.values():
        channel = _channel_name(str(data.get("channel") or ""))
        if channel and channel not in channels:
            channels.append(channel)
    requested = [
        str(d["requested_spec"])
        for d in records.values()
        if isinstance(d.get("requested_spec"), str) and d["requested_spec"].strip()
    ]
    if requested:
        return requested, channels, True
    needed = {n for data in records.values() for n in _depends(data)}
    top = [n for n in records if n not in needed and not n.startswith("__")]
    chosen, top_level = (top, True) if top else (list(records), False)
    specs = [f"{n}=={records[n].get('version')}" for n in sorted(chosen) if n != "python"]
    return specs, channels, top_level


def _declared_name(ws: Any, location: str) -> str:
    """A channel as the workspace declares it, when `location` is where it is mirrored."""
    from wsp.graph import resolve_channel

    for name in ws.mirrors:
        if location in (u.rstrip("/") for u in resolve_channel(ws, name).urls):
            return name
    return location


def _channel_name(url: str) -> str:
    """A record's channel as a declaration names it: `https://conda.anaconda.org/x` -> x."""
    url = url.rstrip("/")
    for alias in ("https://conda.anaconda.org/", "http://conda.anaconda.org/"):
        if url.startswith(alias):
            return url[len(alias) :]
    return url


def project_channels(wanted: list[str], workspace: tuple[str, ...]) -> list[str]:
    """The shortest head of `wanted` that, followed by the workspace's channels (as the
    merge puts them), gives the env the same channels in the same order as `wanted`
    (strict priority depends on it)."""
    wanted = list(dict.fromkeys(wanted))
    if "nodefaults" in wanted:  # the workspace's channels are not added: keep them all
        return wanted

    def merged(head: list[str]) -> list[str]:
        return [*head, *(c for c in workspace if c not in head)]

    target = merged(wanted)
    for k in range(len(wanted) + 1):
        if merged(wanted[:k]) == target:
            return wanted[:k]
    return wanted


# -- the command --------------------------------------------------------------------------


@dataclass
class _Found:
    """A project to write, and what could not be carried into workspace.toml."""

    name: str | None
    python: str | None = None
    deps: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # pip-* keys, env-vars
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (what, why): said out loud
    notes: list[str] = field(default_factory=list)


_PIP_ONLY_REQUIREMENTS = (
    "workspace.toml's pip list takes only requirements "
    "(see docs/workspace-toml.md, Environment files)"
)


def from_file(source: Path, project_path: Path | None) -> _Found:
    """An environment.yml as a project: every spec as written, channels in order, the pip
    list's requirements and index options, variables as env-vars."""
    from wsp import pipreqs
    from wsp.manifest.edit import python_version
    from wsp.manifest.envfile import read_env_file
    from wsp.specs import match_spec_name, pins_more_than_version

    env = read_env_file(source)
    found = _Found(env.name)
    found.notes += [f"warning: {w}" for w in env.warnings]
    found.channels = list(env.channels)
    for spec in env.dependencies:
        if match_spec_name(spec) == "python" and found.python is None:
            version = python_version(spec)
            if version is not None and not pins_more_than_version(spec):
                found.python = version
                continue
        found.deps.append(spec)
    if env.implicit_pip:
        found.deps.append("pip")  # what conda adds for a pip: list
        found.notes.append(
            f"note: added pip to dependencies, as conda does for {source.name}'s pip list"
        )
    found.pip = list(env.pip)
    links = []
    for link in env.pip_options.find_links:
        if pipreqs.is_url(link) or project_path is None:
            links.append(link)
        else:  # a project's pip-find-links are read from its path
            try:
                links.append(Path(link).relative_to(project_path).as_posix() or ".")
            except ValueError:
                links.append(link)
    if env.pip_options.index_url:
        found.extra["pip-index-url"] = env.pip_options.index_url
    if env.pip_options.extra_index_urls:
        found.extra["pip-extra-index-urls"] = list(env.pip_options.extra_index_urls)
    if links:
        found.extra["pip-find-links"] = links
    if env.variables:
        found.extra["env-vars"] = dict(env.variables)
    warned = {str(w.where) for w in env.warnings}  # what wsp ignores even in the file
    for entry in pipreqs.walk(env.pip_entries):
        if isinstance(entry, pipreqs.Requirement | pipreqs.RequirementsFile):
            continue  # a constraints file (-c) is among the file's warnings already
        if str(entry.where) in warned:
            continue  # said once, by the file's own warning
        if isinstance(entry, pipreqs.Option) and entry.name in (
            "--index-url",
            "--extra-index-url",
            "--find-links",
        ):
            continue
        found.left_out.append((f"{entry.where}: {entry.text}", _PIP_ONLY_REQUIREMENTS))
    return found


def _pip_sources(prefix: Path) -> dict[str, tuple[str, bool]]:
    """name -> (PEP 508 URL, editable) of each distribution pip installed from a folder,
    an archive's URL or a VCS (its dist-info's direct_url.json, PEP 610): where it came
    from, not `name==version`, which no index may have."""
    import json

    from wsp import pip

    sp = pip.site_packages(prefix)
    out: dict[str, tuple[str, bool]] = {}
    if sp is None:
        return out
    for folder in pip.dist_info_names(prefix):
        try:
            data = json.loads((sp / folder / "direct_url.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url or any(c.isspace() for c in url):
            continue
        vcs = data.get("vcs_info")
        editable = False
        if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
            url = f"{vcs['vcs']}+{url}"
            if isinstance(vcs.get("commit_id"), str) and vcs["commit_id"]:
                url = f"{url}@{vcs['commit_id']}"  # what was installed, not the branch
        elif isinstance(data.get("dir_info"), dict):
            editable = data["dir_info"].get("editable") is True
        subdirectory = data.get("subdirectory")
        if isinstance(subdirectory, str) and subdirectory:
            url = f"{url}#subdirectory={subdirectory}"
        out[pip.canonical(folder[: -len(".dist-info")].partition("-")[0])] = (url, editable)
    return out


def _refuse_package_list(source: Path) -> None:
    """A file of `conda list --explicit` or `--export` given as an environment file: say
    what it is and what to import instead, at its first package line (YAML would say
    `found character '@'`, or that the file is no mapping)."""
    from wsp.errors import ManifestError

    try:
        lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return  # reading it as an environment file says why
    explicit = next((i for i, ln in enumerate(lines, 1) if ln.strip() == "@EXPLICIT"), None)
    exported = any("--file <this file>" in ln for ln in lines[:5] if ln.startswith("#"))
    if explicit is None and not exported:
        return
    if any(ln.startswith(("name:", "channels:", "dependencies:")) for ln in lines):
        return  # an environment file after all
    first = next((i for i, ln in enumerate(lines, 1) if ln.strip() and ln[0] != "#"), 1)
    made_by = "conda list --explicit" if explicit is not None else "conda list --export"
    raise ManifestError(
        source,
        explicit or first,
        1,
        f"this is a package list (`{made_by}`), not an environment file; import the env "
        "it lists (`wsp import --env NAME`), or an environment file of it (`conda env "
        "export --from-history -n NAME > environment.yml`)",
    )


def from_env(ws: Any, given: str) -> tuple[_Found, Path]:
    """An existing env as a project: what its history says the user asked for, else its
    top-level installed packages; pip packages conda did not install."""
    from wsp import pip
    from wsp.manifest.edit import python_version
    from wsp.specs import match_spec_name, pins_more_than_version

    prefix = find_env(ws, given)
    found = _Found("base" if given == "base" else prefix.name)
    history = prefix / "conda-meta" / "history"
    specs, found.channels = history_specs(history)
    if specs:
        from wsp.userconfig import load_user_config

        config = load_user_config()
        records = _records(prefix)
        specs = [_named_channel(s, config) for s in specs]
        if not found.channels:  # conda took them from .condarc: where the packages came from
            from wsp.commands.init import mixes

            found.channels = _record_channels(records, config)
            if any(c not in ws.channels for c in found.channels):
                found.notes.append(
                    f"note: {history} names no channel (conda took them from .condarc): "
                    f"channels are those its packages came from ({', '.join(found.channels)})"
                )
            merged = [*found.channels, *(c for c in ws.channels if c not in found.channels)]
            if mixes(merged) and not mixes(found.channels):
                found.channels.append("nodefaults")
                found.notes.append(
                    "note: and nodefaults: the workspace's channels would mix Anaconda's "
                    "defaults and conda-forge, which the env did not"
                )
        specs, gone, added = against_installed(specs, records)
        if gone:
            found.notes.append(
                f"note: {', '.join(gone)}: asked for in {history} but not installed now: "
                "not imported (conda's `env export --from-history` leaves it out too)"
            )
        if added:
            pip_note = (
                " (pip: conda adds it to python, wsp adds nothing to python)"
                if "pip" in added
                else ""
            )
            found.notes.append(
                f"note: {', '.join(added)}: installed, but no spec of {history} brings it "
                f"in{pip_note}: added to dependencies, so the project's env holds it too"
            )
            specs = [*specs, *added]
    if not specs:
        specs, channels, top_level = installed_specs(prefix)
        found.channels = [_declared_name(ws, c) for c in channels]
        what = "the packages it was built with" if top_level else "every installed package"
        if specs:
            found.notes.append(
                f"note: {prefix} has no conda history (built by rattler, pixi or wsp): "
                f"imported {what}, pinned to the installed versions"
            )
    for spec in specs:
        if match_spec_name(spec) == "python" and not pins_more_than_version(spec):
            found.python = python_version(spec) or found.python
        else:
            found.deps.append(spec)  # a python spec with a build keeps it, as from a file
    if found.python is None and not any(match_spec_name(s) == "python" for s in found.deps):
        found.python = _installed_python(prefix)
    sources = _pip_sources(prefix)
    for name, d in sorted(pip.installed(prefix).items()):
        if d.installer == "conda" or name.startswith(pip.EDITABLE_PREFIX):
            continue
        source, editable = sources.get(name, (None, False))
        found.pip.append(f"{d.name} @ {source}" if source else f"{d.name}=={d.version}")
        if editable:
            found.notes.append(
                f"note: {d.name} was installed editable from {source}: imported as "
                f"`{d.name} @ {source}`, a regular install (workspace.toml's pip list "
                "takes no editable install; a project whose path is that folder makes it "
                "importable, as edited)"
            )
    env_vars, left_out = state_env_vars(prefix)
    if env_vars:
        found.extra["env-vars"] = env_vars
    found.left_out += left_out
    return found, prefix


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import graph, ui
    from wsp.commands.init import policy_name
    from wsp.errors import WspError
    from wsp.manifest import find_manifest, load
    from wsp.manifest.edit import Edit, append_text, render_project
    from wsp.manifest.loader import is_env_name

    manifest = find_manifest(directory)
    ws = load(manifest)
    fields: dict[str, Any] = {}
    rel: str | None = None
    if args.file:
        source = Path(args.file).resolve()
        if source.is_dir():
            raise WspError(
                f"--file {args.file}: is a folder, not a file; "
                "name the environment file in it (e.g. environment.yml)"
            )
        if not source.is_file():
            raise WspError(f"--file {args.file}: no such file")
        try:
            rel = source.parent.relative_to(ws.root).as_posix()
        except ValueError:
            rel = None
        _refuse_package_list(source)
        found = from_file(source, source.parent if rel is not None else None)
        what = source.name
    else:
        found, prefix = from_env(ws, args.env)
        what = str(prefix)

    if args.as_name is not None:  # the user's name, as given, or refused
        name, renamed = args.as_name, None
        if not is_env_name(name):
            raise WspError(
                f"--as {name!r} can't be a project name: use letters, digits, '-', '_' and "
                "'.', without '/', '..' or a leading '.'",
                hint=f"e.g. --as {policy_name(name)[0]}",
            )
    elif not found.name:
        raise WspError(f"{what} has no name: give the project one with --as NAME")
    else:
        name, renamed = policy_name(str(found.name))
    if name in ws.projects:
        raise WspError(
            f"project {name!r} already exists in {manifest.name}",
            hint="import it under another name with --as NAME",
        )
    default_path = f"projects/{name}"
    if rel is not None and rel != default_path:
        fields["path"] = rel or "."
    fields["python"] = found.python
    fields["channels"] = project_channels(found.channels, ws.channels)
    fields["dependencies"] = found.deps
    fields["pip"] = found.pip
    for key, value in found.extra.items():
        fields[key] = _inline(value) if isinstance(value, dict) else value

    edit = Edit.open(manifest)
    text = append_text(edit.text, render_project(name, fields))
    edit.save("import", text, check=graph.validate)
    target = ws.envs_dir / f"{ws.env_prefix}{name}"  # where the project's env goes
    in_the_way = not_wsps(target)
    if in_the_way:
        found.notes.append(in_the_way_note(name, target, what if args.env else None))
    if args.json:
        ui.print_json(
            {
                "project": name,
                "manifest": str(manifest),
                "source": what,
                "fields": {k: v for k, v in fields.items() if v},
                "renamed": renamed,
                "notes": list(found.notes),
                "left_out": [what for what, _ in found.left_out],
            }
        )
        return 0
    ui.out().print(f"Added project [bold]{ui.esc(name)}[/] to {manifest.name} from {ui.esc(what)}:")
    for key, value in fields.items():
        if value:
            if isinstance(value, dict):
                shown = ", ".join(f"{k}={v}" for k, v in value.items())
            else:
                shown = ", ".join(value) if isinstance(value, list) else str(value)
            ui.out().print(f"  {key}: {ui.esc(shown)}")
    if renamed is not None:
        ui.info(f"note: named the project {name!r} ({renamed}); rename it if you like")
    for note in found.notes:
        ui.info(ui.esc(note))
    for what, why in found.left_out:
        ui.info(f"warning: {ui.esc(what)}: not imported, {ui.esc(why)}")
    if found.left_out and args.file:
        source = Path(args.file).resolve()
        ui.info(ui.esc(_file_hint(source, rel, name, ws.root, fields.get("path"))))
    if args.env and not in_the_way:
        ui.out().print(
            f"[dim]The env is untouched; `wsp apply` builds the project's own env at "
            f"{ui.esc(target)}.[/]"
        )
    elif not in_the_way:
        ui.out().print("[dim]Next: `wsp plan`.[/]")
    return 0


def not_wsps(prefix: Path) -> bool:
    """Whether a conda env wsp did not create (no ownership marker) is at `prefix`."""
    from wsp.marker import marker_path

    return (prefix / "conda-meta").is_dir() and not marker_path(prefix).exists()


def in_the_way_note(
    name: str,
    target: Path,
    source: str | None,
    beside: str = "import under another name (--as NAME)",
) -> str:
    """What `wsp plan` will say of project `name` while an env wsp did not create holds
    its env's place, and the ways out: wsp never changes an env it did not create."""
    same = source is not None and Path(source) == target.resolve()
    what = "the env imported" if same else "an env wsp did not create"
    return (
        f"warning: {what} holds the place of project {name}'s env ({target}); wsp changes "
        f"no env it did not create, so `wsp plan` shows {name} blocked while it is there. "
        f"Once nothing needs it, `conda env remove -p {target}` and `wsp apply` build the "
        f"project's env in its place; or {beside} to build one beside it"
    )


def _file_hint(source: Path, rel: str | None, name: str, root: Path, path: str | None) -> str:
    """How to keep the whole pip section of an imported file: the project reads the file
    (`environment-file`), when the workspace can read it from where it is."""
    from wsp.errors import ManifestError
    from wsp.manifest.envfile import read_env_file

    keep = "  hint: a project that reads the file keeps its whole pip section"
    if rel is None:  # outside the workspace: its `-r` files must be inside it
        try:
            read_env_file(source, root=root)
        except ManifestError as exc:
            return (
                f"{keep}, but not from where it is ({exc.message}): move {source.name} and "
                f"the files it reads into the workspace, then give [projects.{name}] only "
                "path and environment-file (as `wsp init` writes them)"
            )
    named = source.name if rel is not None else str(source)  # from the project's path
    keys = f'path = "{path}" and ' if path is not None else ""
    return (
        f"{keep}: in place of the imported keys, give [projects.{name}] only "
        f'{keys}environment-file = "{named}" (as `wsp init` writes it)'
    )


def _inline(value: dict[str, Any]) -> Any:
    import tomlkit

    table = tomlkit.inline_table()
    table.update(value)
    return table
