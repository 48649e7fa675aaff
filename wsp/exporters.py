"""An env written in the formats other tools read: environment.yml (as declared, or as
solved), conda's explicit spec, pip requirements and a Dockerfile.

Pure functions: a declaration or a solved env in, text out. `wsp export` solves (when
the format needs it) and writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wsp.engines import Package

if TYPE_CHECKING:
    from wsp.graph import Declaration
    from wsp.pip import PipOptions

FORMATS = ("environment-yml", "explicit", "requirements", "dockerfile")

# The base image of exported Dockerfiles: a pinned tag, never `latest`.
DOCKER_BASE = "condaforge/miniforge3:24.9.2-0"

# What `wsp export --all` names each project's file.
SUFFIX = {
    "environment-yml": ".environment.yml",
    "explicit": ".explicit.txt",
    "requirements": ".requirements.txt",
    "dockerfile": ".Dockerfile",
}


@dataclass(frozen=True)
class SolvedEnv:
    """One project's env as a solve picked it: what every format is written from."""

    project: str
    env_name: str
    workspace: str
    platform: str
    channels: tuple[str, ...]  # as declared (a mirrored channel by its declared name)
    packages: tuple[Package, ...]
    pip: Mapping[str, str] = field(default_factory=dict)  # exact pins {name: version}
    pip_sources: Mapping[str, str] = field(default_factory=dict)  # name -> line, not an index
    # where pip finds the pins, as declared (`--index-url URL`, `--find-links DIR`, ...):
    # without them pip would look for a private index's pins on PyPI
    pip_options: tuple[str, ...] = ()
    env_vars: tuple[tuple[str, str], ...] = ()  # the project's env-vars, in order
    nodefaults: bool = False  # declared: none of the channels the user's settings add

    @property
    def pip_lines(self) -> list[str]:
        """The pip list of the env: where pip finds the pins, then the pins (none of it
        when the env has no pip requirements)."""
        return [*self.pip_options, *self.pip_pin_lines] if self.pip else []

    @property
    def pip_pin_lines(self) -> list[str]:
        return [
            self.pip_sources.get(name) or f"{name}=={version}"
            for name, version in sorted(self.pip.items())
        ]

    @property
    def conda_packages(self) -> list[Package]:
        return sorted(self.packages, key=lambda p: (p.name, p.version, p.build))


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
_LITERAL_TOKEN = re.compile(r"/t/(?!\$)[^/]+")  # conda's /t/<token>, not a /t/${VAR}


def _without_credentials(url: str) -> str:
    """`url` with a credential written in it left out: `user:pass@` (kept when the
    password, or a user alone, is a `${VAR}`, and ssh's `user@`) and conda's `/t/<token>`
    (kept as `/t/${VAR}`): conda expands variables in channels, pip in its lines, where
    the file is used."""
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in host:
        userinfo, _, bare = host.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        if _VARIABLE.sub("", secret if colon else user) and (colon or "ssh" not in scheme):
            host = bare  # (ssh's `git@` names an account, not a credential)
    if scheme.lower() != "file":
        path = _LITERAL_TOKEN.sub("", f"/{path}", count=1)[1:] if slash else path
    return f"{scheme}://{host}{slash}{path}"


def shareable(text: str) -> tuple[str, list[str]]:
    """`text` as an export may write it (an export is shared): every credential written in
    a URL left out, a `${VAR}` kept as written; and the lines something was left out of,
    as they are written now."""
    lines = text.splitlines(keepends=True)
    left_out: list[str] = []
    for i, line in enumerate(lines):
        if "://" in line and (new := _URL.sub(lambda m: _without_credentials(m[0]), line)) != line:
            lines[i] = new
            left_out.append(new.strip().removeprefix("- "))
    return "".join(lines), left_out


def file_name(env: SolvedEnv, fmt: str) -> str:
    """The file `--all` writes for `env` in `fmt`."""
    return env.env_name + SUFFIX[fmt]


def pip_option_lines(options: PipOptions) -> tuple[str, ...]:
    """`options` as lines of a pip list or requirements file, as the declared
    environment.yml writes them (`--no-index` or `--index-url URL`, `--extra-index-url URL`,
    `--find-links DIR`); a `${VAR}` in a URL kept as written, for pip to expand."""
    lines = ["--no-index"] if options.no_index else []
    if options.index_url and not options.no_index:
        lines.append(f"--index-url {options.index_url}")
    lines += [f"--extra-index-url {u}" for u in options.extra_index_urls]
    lines += [f"--find-links {u}" for u in options.find_links]
    return tuple(lines)


def _yaml_text(doc: Any) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _with_pip(deps: list[Any], names: set[str], pip_lines: list[str]) -> list[Any]:
    """`deps` with the `pip:` list, and `pip` itself among the conda packages when the
    list is there and they have none (conda adds it too, but an export states it)."""
    if not pip_lines:
        return deps
    return [*deps, *([] if "pip" in names else ["pip"]), {"pip": pip_lines}]


def environment_yml(env: SolvedEnv, *, builds: bool = True, pip_section: bool = True) -> str:
    """An environment.yml `conda env create -f` accepts: the channels as declared
    (`nodefaults` too), every solved package pinned `name=version=build` (only
    `name=version` when `builds` is False), the pip pins in a `pip:` list (left out when
    not `pip_section`), the env's variables."""
    from ruamel.yaml.comments import CommentedMap

    deps: list[Any] = [
        f"{p.name}={p.version}={p.build}" if builds else f"{p.name}={p.version}"
        for p in env.conda_packages
    ]
    if pip_section:
        deps = _with_pip(deps, {p.name for p in env.packages}, env.pip_lines)
    channels = [*env.channels, *(["nodefaults"] if env.nodefaults else [])]
    doc = CommentedMap(name=env.env_name, channels=channels, dependencies=deps)
    if env.env_vars:
        doc["variables"] = dict(env.env_vars)
    doc.yaml_set_start_comment(
        f"env {env.env_name} of workspace {env.workspace}, exported by wsp for {env.platform}"
    )
    return _yaml_text(doc)


def _python_spec(constraint: str) -> str:
    """A merged Python constraint as a conda spec: "3.11.*" -> "python=3.11"."""
    import re

    if m := re.fullmatch(r"(\d+(?:\.\d+)*)\.\*", constraint):
        return f"python={m.group(1)}"
    if re.fullmatch(r"==\d+(?:\.\d+)*", constraint):
        return f"python={constraint[2:]}"
    return f"python {constraint}"


def declared_environment_yml(decl: Declaration, workspace: str) -> str:
    """The project's env as declared, for `conda env create -f`: channels in order, specs
    as written, the pip list with its options, variables; nothing solved."""
    from ruamel.yaml.comments import CommentedMap

    from wsp.specs import conda_name, match_spec_name, match_spec_version

    head = [_python_spec(decl.python)] if decl.python else []
    if decl.implicit_python and not decl.python:
        head = ["python"]
    kept = {match_spec_version(d) for d in decl.dependencies if conda_name(d) == "python"}
    if decl.python and (decl.python in kept or set(decl.python.split(",")) <= kept):
        head = []  # a python spec kept for its build says the version too
    deps: list[Any] = head + [d for d in decl.dependencies if d not in head]
    names = {match_spec_name(d) for d in deps}
    deps = _with_pip(deps, {n for n in names if n}, list(decl.pip))
    channels = [*decl.channels, *(["nodefaults"] if decl.nodefaults else [])]
    doc = CommentedMap(name=decl.env_name, channels=channels, dependencies=deps)
    if decl.env_vars:
        doc["variables"] = dict(decl.env_vars)
    doc.yaml_set_start_comment(
        f"env {decl.env_name} of workspace {workspace}, as declared (exported by wsp; "
        f"`wsp export {decl.project} --pinned` writes the solved versions)"
    )
    return _yaml_text(doc)


def _hash_fragment(p: Package) -> str:
    """What conda's explicit format checks a download against: md5, else sha256."""
    if p.md5:
        return f"#{p.md5}"
    if p.sha256:
        return f"#sha256:{p.sha256}"
    return ""


def explicit(env: SolvedEnv) -> str:
    """conda's `@EXPLICIT` spec: `conda create -n NAME --file THIS` installs exactly these."""
    lines = [
        f"# env {env.env_name} of workspace {env.workspace}, exported by wsp",
        "# This file may be used to create an environment using:",
        "# $ conda create --name <env> --file <this file>",
        f"# platform: {env.platform}",
    ]
    if env.pip:
        lines.append(
            f"# pip requirements are not part of this format: "
            f"wsp export {env.project} --format requirements"
        )
    if env.env_vars:
        lines.append(f"# variables are not part of this format: {_vars_command(env)}")
    lines.append("@EXPLICIT")
    lines.extend(p.url + _hash_fragment(p) for p in env.conda_packages)
    return "\n".join(lines) + "\n"


def _vars_command(env: SolvedEnv) -> str:
    """The conda command that sets `env`'s variables in the env an explicit file makes
    (a value spanning lines can't be given on one: named only)."""
    import shlex

    one = [(k, v) for k, v in env.env_vars if not _multiline(v)]
    words = " ".join(shlex.quote(f"{k}={v}") for k, v in one)
    command = f"conda env config vars set -n {env.env_name} {words}" if one else ""
    if many := [k for k, v in env.env_vars if _multiline(v)]:
        command += ("; " if command else "") + f"and {', '.join(many)} (spanning lines)"
    return command


def explicit_warnings(env: SolvedEnv) -> list[str]:
    """What an explicit spec of `env` can't carry, as warnings: the credential of a channel
    (conda expands no `${VAR}` in that file, and one written there would be shared)."""
    from wsp.channels import USERINFO, conda_token

    return [
        f"{file_name(env, 'explicit')}: the package URLs of channel {shareable(c)[0]} are "
        "written without its credential (an explicit file expands no ${VAR}): conda must "
        "take it from its own settings"
        for c in env.channels
        if USERINFO.search(c) or conda_token(c)
    ]


def requirements(env: SolvedEnv) -> str:
    """The env's pip pins, one `name==version` per line."""
    lines = [
        f"# pip requirements of env {env.env_name} (workspace {env.workspace}), "
        "exact pins resolved by wsp",
        "# install them after the conda packages: pip install --no-deps -r <this file>",
    ]
    if not env.pip:
        lines.append("# (this env has no pip requirements)")
    lines.extend(env.pip_lines)
    return "\n".join(lines) + "\n"


def dockerfile_uses_explicit(env: SolvedEnv) -> bool:
    """An explicit spec only installs on its own platform: linux ones, in a linux image."""
    return env.platform.startswith("linux-")


def dockerfile_companions(env: SolvedEnv) -> dict[str, str]:
    """The files a Dockerfile COPYs, by name: {file name: format}."""
    out = {}
    if dockerfile_uses_explicit(env):
        out[file_name(env, "explicit")] = "explicit"
    else:
        out[file_name(env, "environment-yml")] = "environment-yml"
    if env.pip:
        out[file_name(env, "requirements")] = "requirements"
    return out


def _docker_quoted(value: str) -> str:
    """`value` inside a Dockerfile's double quotes, taken literally: `\\`, `"` and `$`
    escaped (Docker would expand `$NAME` in ENV)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def _multiline(value: str) -> bool:
    return "\n" in value or "\r" in value


def _from_host(line: str) -> bool:
    """Whether a requirements line installs from a path on this machine (`-e /x`, `./x`,
    `name @ file:///x`, `file:///x`)."""
    from wsp.channels import is_local

    for option in ("--find-links ", "--index-url ", "--extra-index-url "):
        if line.startswith(option):  # where pip looks: a folder of this machine's
            return is_local(line.removeprefix(option).strip())
    target = line.removeprefix("-e ").strip()
    return is_local(target.partition(" @ ")[2].strip() or target)


def dockerfile_warnings(env: SolvedEnv) -> list[str]:
    """What a Dockerfile of `env` does not carry into the image, as warnings: a variable
    an ENV can't hold, and what its files name on this machine, which `docker build`
    can't reach (a local channel's packages, a local folder or archive of the pip pins)."""
    from wsp.channels import is_local

    out = [
        f"{file_name(env, 'dockerfile')}: variable {key} is not set in the image: its value "
        "spans lines, which a Dockerfile ENV can't hold"
        for key, value in env.env_vars
        if _multiline(value)
    ]
    host = "a path on this machine, not in the image: `docker build` fails there"
    if dockerfile_uses_explicit(env):
        local: dict[str, int] = {}
        for p in env.conda_packages:
            if is_local(p.url):
                channel = p.url.rsplit("/", 2)[0]
                local[channel] = local.get(channel, 0) + 1
        out += [
            f"{file_name(env, 'explicit')}: {n} package URL(s) of local channel {channel}: "
            f"{host}; serve the channel, or COPY it into the image and change the URLs"
            for channel, n in local.items()
        ]
    else:
        out += [
            f"{file_name(env, 'environment-yml')}: channel {c}: {host}; serve the channel, "
            "or COPY it into the image and name it there"
            for c in env.channels
            if is_local(c)
        ]
    out += [
        f"{file_name(env, 'requirements')}: {line}: {host}; COPY it into the image and "
        "change the line, or install it from an index"
        for line in env.pip_lines
        if _from_host(line)
    ]
    return out


def dockerfile(env: SolvedEnv) -> str:
    """A Dockerfile recreating the env on a pinned conda base image."""
    name = env.env_name
    q = json.dumps
    companions = dockerfile_companions(env)
    lines = [
        f"# env {name} of workspace {env.workspace}, exported by wsp ({env.platform})",
        "# Build it next to the files it copies (written with it by `wsp export -o`):",
        *(
            f"#   {fname}  (wsp export {env.project} --format {fmt} -o {fname})"
            for fname, fmt in companions.items()
        ),
        f"FROM {DOCKER_BASE}",
    ]
    if dockerfile_uses_explicit(env):
        spec = file_name(env, "explicit")
        lines += [
            f"COPY {spec} /tmp/{spec}",
            f"RUN conda create --yes --name {name} --file /tmp/{spec} && conda clean --all --yes",
        ]
    else:
        spec = file_name(env, "environment-yml")
        lines += [
            f"# {env.platform} builds don't install on linux: versions pinned, builds left to conda",
            f"COPY {spec} /tmp/{spec}",
            f"RUN conda env create --name {name} --file /tmp/{spec} && conda clean --all --yes",
        ]
    if env.pip:
        reqs = file_name(env, "requirements")
        if any(p.name == "pip" for p in env.packages):
            install = f"conda run -n {name} --no-capture-output python -m pip"
        else:  # the env has no pip (wsp installs with uv): base's pip installs into it
            install = f"conda run -n base python -m pip --python /opt/conda/envs/{name}/bin/python"
        lines += [
            f"COPY {reqs} /tmp/{reqs}",
            f"RUN {install} install --no-deps --no-cache-dir -r /tmp/{reqs}",
        ]
    lines += [  # the env's variables, for every process of the container
        f'ENV {key}="{_docker_quoted(value)}"'
        for key, value in env.env_vars
        if not _multiline(value)
    ]
    run = ["conda", "run", "-n", name, "--no-capture-output"]
    lines += [
        f"SHELL [{', '.join(q(a) for a in [*run, '/bin/bash', '-c'])}]",
        f"ENTRYPOINT [{', '.join(q(a) for a in run)}]",
        'CMD ["python"]',
    ]
    return "\n".join(lines) + "\n"


def render(env: SolvedEnv, fmt: str) -> str:
    if fmt == "environment-yml":
        return environment_yml(env)
    if fmt == "explicit":
        return explicit(env)
    if fmt == "requirements":
        return requirements(env)
    if fmt == "dockerfile":
        return dockerfile(env)
    raise ValueError(f"unknown export format {fmt!r}")


def render_all(env: SolvedEnv, fmt: str) -> dict[str, str]:
    """{file name: text} of `fmt` and the files it needs beside it (a Dockerfile's COPYs)."""
    out = {file_name(env, fmt): render(env, fmt)}
    if fmt == "dockerfile":
        for fname, companion in dockerfile_companions(env).items():
            text = (  # its pip pins come from the requirements file the Dockerfile COPYs
                environment_yml(env, builds=False, pip_section=False)
                if companion == "environment-yml"
                else render(env, companion)
            )
            out[fname] = text
    return out
