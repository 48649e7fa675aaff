"""The pip layer: PEP 508 requirements, local projects and URLs, installed by uv into an
env's own interpreter.

Resolving (plan, lock, export) runs no code from the repository: uv resolves with
`--no-build`, reading static metadata only (a wheel's METADATA, a `pyproject.toml`
`[project]` table, an sdist's PKG-INFO); what only a build can tell is reported
(`Resolved.needs_build`) and resolved only when the caller allows builds (`wsp plan
--allow-build`, and `wsp apply`). uv is handed only what wsp wrote itself: each
requirement parsed and rendered again (no option, no `${VAR}`, which uv would expand),
local paths as file URLs, options as arguments; it reads no uv.toml nor `[tool.uv]`
(`--no-config`, `--no-sources`) and runs in an empty folder of its own.

A plan names the exact distribution of each pin (`Pin`: version, file, sha256); at apply
exactly those are installed with `--no-deps`, their hashes verified. wsp uninstalls only
what it installed itself (recorded in the env's marker); Python packages conda installed
are never touched. A workspace project's own folder is made importable with a `.pth` file
(`sync_editables`: no build, no network); an environment file's `-e ./dir` is a real
editable install by uv at apply (a build).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.channels import redact_text, strip_credentials
from wsp.errors import ManifestError, WspError
from wsp.fsutil import file_url_path
from wsp.pipbase import VAR_REF, PipOptions, dist_info_names, site_packages

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from wsp.engines import Package
    from wsp.graph import DesiredEnv
    from wsp.manifest import Workspace

EDITABLE_PREFIX = "__wsp_editable_"
UNKNOWN = "?"  # the version of a local project whose version is dynamic: known at apply
LOCKED_UNKNOWN = "0+dynamic"  # how wsp.lock writes UNKNOWN (its versions are PEP 440)


class PipError(WspError):
    """uv could not resolve or install a requirement."""


@dataclass(frozen=True)
class PipSource:
    """A pip requirement that names where it comes from rather than a version: a local
    folder or archive (`./pkg`, `-e ./pkg`, `../dist/x-1.0.whl`) or a URL
    (`git+https://...`, `https://.../x-1.0.whl`), from an environment file's pip list."""

    target: str  # an absolute path, or the URL as written (credentials kept: used to fetch)
    editable: bool = False
    name: str | None = None  # PEP 503 normalised, when the line says it (`#egg=NAME`)
    extras: tuple[str, ...] = ()
    text: str = ""  # the line as written
    file: str = ""  # where it was written: the file, line and column
    line: int = 0
    col: int = 0

    @property
    def local(self) -> bool:
        return not is_url(self.target)

    @property
    def shown(self) -> str:
        """`FILE:LINE:COL: TEXT`, for messages (a URL's credentials masked)."""
        text = redact_text(self.text)
        return f"{self.where}: {text}" if self.file else text

    @property
    def where(self) -> str:
        from wsp.errors import display_path

        return f"{display_path(Path(self.file))}:{self.line}:{self.col}" if self.file else ""

    def error(self, message: str) -> WspError:
        """An error located where the line was written."""
        if self.file:
            return ManifestError(Path(self.file), self.line, self.col, message)
        return PipError(message)

    def identity(self, root: Path) -> list[object]:
        """What the lock hash records of it: no absolute path, no credential."""

        if self.local:
            try:
                where = Path(self.target).relative_to(root).as_posix()
            except ValueError:
                where = self.target
        else:
            where = strip_credentials(self.target)
        return [where, self.editable, list(self.extras)]


@dataclass(frozen=True)
class Pin:
    """One pip distribution, exactly: what a plan installs and wsp.lock records."""

    version: str  # UNKNOWN: a local project's dynamic version, known once installed
    url: str = ""  # the file it comes from (or the folder, or the VCS URL at its commit)
    sha256: str | None = None
    source: str | None = None  # how uv installs it when not `name==version` from the indexes
    folder: bool = False  # a local folder: built again at every apply that touches the env


@dataclass(frozen=True)
class Resolved:
    """The pip layer of one env, resolved."""

    pins: dict[str, Pin] = field(default_factory=dict)  # what pip installs
    provided: dict[str, str] = field(default_factory=dict)  # pins conda's packages provide
    needs_build: tuple[str, ...] = ()  # why the pins are unknown until builds are allowed
    notes: tuple[str, ...] = ()  # what only apply will know (a dynamic version)

    @property
    def versions(self) -> dict[str, str]:
        return {n: p.version for n, p in self.pins.items()}


@dataclass(frozen=True)
class PipDist:
    """A Python distribution found in site-packages."""

    name: str
    version: str
    installer: str  # "conda", "uv", "pip", ... ("" when unknown)


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# conda package names whose PyPI project is named otherwise (the rest are the same name).
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "opencv": "opencv-python",
    "py-opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "tensorflow-base": "tensorflow",
    "pyqt": "pyqt5",
    "typing_extensions": "typing-extensions",
}


def conda_provided(conda_names: Iterable[str]) -> set[str]:
    """The PyPI names the env's conda packages stand for: pip never installs over them
    nor uninstalls them."""
    return {canonical(CONDA_TO_PYPI.get(n, n)) for n in conda_names} - {"python"}


# -- what uv is handed ------------------------------------------------------------------------

VCS = ("git+", "hg+", "svn+", "bzr+")  # a VCS requirement's URL starts so
_SCHEMES = ("http://", "https://", "file:")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def is_url(text: str) -> bool:
    return bool(_URL.match(text)) and not re.match(r"^[A-Za-z]:[\\/]", text)


def _check_text(text: str, what: str) -> None:
    if VAR_REF.search(text):
        raise PipError(
            f"{what}: ${{VAR}} is not expanded by wsp (uv would send the variable's value "
            "wherever the line points); write the value"
        )
    if any(c in text for c in "\n\r\x00"):
        raise PipError(f"{what}: a line break or NUL in a pip requirement")


def parse_requirement(text: str) -> Requirement:
    """`text` as one PEP 508 requirement, or PipError (an option, a path, `${VAR}`...)."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508

    _check_text(text, repr(text))
    try:
        req = Pep508(text)
    except InvalidRequirement as exc:
        raise PipError(f"{text!r} is not a PEP 508 requirement: {exc}") from None
    if req.url is not None:
        _check_url(req.url, text)
    return req


def _check_url(url: str, text: str) -> None:
    if not (url.startswith(VCS) or url.lower().startswith(_SCHEMES)):
        raise PipError(
            f"{text!r}: wsp fetches pip requirements over http(s), file: or a VCS "
            "(git+https://...), not this URL"
        )


def _requirement_line(text: str) -> str:
    """A PEP 508 requirement as the one requirements-file line wsp writes for it: parsed and
    rendered by packaging, so nothing but the requirement reaches uv."""
    return str(parse_requirement(text))


def _file_url(path: Path) -> str:
    return path.as_uri()


def _source_line(source: PipSource) -> str:
    """The line for a source uv resolves itself (an archive, a URL, a folder wsp can't read)."""
    _check_text(source.target, source.shown or source.target)
    if source.local:
        target = _file_url(Path(source.target))
    else:
        _check_url(source.target, source.text or source.target)
        if any(c.isspace() for c in source.target):
            raise PipError(f"{source.shown}: a URL with a space in it")
        target = source.target
    if source.editable and source.local:
        return f"-e {target}"
    if source.name:
        extras = f"[{','.join(source.extras)}]" if source.extras else ""
        return f"{source.name}{extras} @ {target}"
    return target


# -- static metadata of a local project ----------------------------------------------------


@dataclass(frozen=True)
class ProjectMeta:
    """What a local project's pyproject.toml `[project]` table says statically."""

    name: str
    version: str | None  # None: dynamic
    dependencies: tuple[str, ...] | None  # None: dynamic
    optional: dict[str, tuple[str, ...]] | None  # None: dynamic
    requires_python: str | None = None

    def requirements(self, extras: Iterable[str]) -> list[str] | None:
        """Its dependencies and those of `extras` (None: a build must tell)."""
        if self.dependencies is None:
            return None
        out = list(self.dependencies)
        seen: set[str] = set()
        todo = [canonical(e) for e in extras]
        while todo:
            extra = todo.pop()
            if extra in seen:
                continue
            seen.add(extra)
            if self.optional is None:
                return None
            for dep in self.optional.get(extra, ()):
                req = parse_requirement(dep)
                if canonical(req.name) == self.name:  # `pkg[test]` inside pkg's own extras
                    todo += [canonical(e) for e in req.extras]
                else:
                    out.append(dep)
        return out


class NotAProject(str):
    """Why a folder holds no project at all: an error, where any other reason `project_metadata`
    gives means that only a build can tell."""


def project_metadata(folder: Path) -> ProjectMeta | str:
    """The static metadata of the project in `folder`, or why there is none: a build would
    have to tell (its metadata comes from setup.py, or is declared dynamic), or the folder
    holds no project (a NotAProject)."""
    import tomllib

    from wsp import probe

    pyproject = folder / "pyproject.toml"
    if not probe.is_file(pyproject):
        if probe.is_file(folder / "setup.py") or probe.is_file(folder / "setup.cfg"):
            return "it has no pyproject.toml: its metadata comes from running setup.py"
        if not probe.is_dir(folder):
            return NotAProject("no such folder")
        return NotAProject("it is not a Python project (no pyproject.toml, setup.py or setup.cfg)")
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PipError(f"{pyproject} can't be read: {exc}") from None
    project = data.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        return "its pyproject.toml has no [project] table: its metadata comes from its build"
    dynamic = project.get("dynamic") or []
    if not isinstance(dynamic, list):
        dynamic = []

    def strings(value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PipError(f"{pyproject}: [project] {key} must be a list of strings")
        for v in value:
            parse_requirement(v)  # a located-enough refusal of a bad line
        return tuple(value)

    deps = (
        None
        if "dependencies" in dynamic
        else strings(project.get("dependencies", []), "dependencies")
    )
    optional: dict[str, tuple[str, ...]] | None = None
    if "optional-dependencies" not in dynamic:
        raw = project.get("optional-dependencies", {})
        if not isinstance(raw, dict):
            raise PipError(f"{pyproject}: [project] optional-dependencies must be a table")
        optional = {canonical(k): strings(v, f"optional-dependencies.{k}") for k, v in raw.items()}
    version = project.get("version") if "version" not in dynamic else None
    requires = project.get("requires-python")
    return ProjectMeta(
        canonical(project["name"]),
        str(version) if version is not None else None,
        deps,
        optional,
        requires if isinstance(requires, str) and "requires-python" not in dynamic else None,
    )


def local_stamp(source: PipSource) -> str | None:
    """The sha256 of a local folder's metadata files (recorded by probe): a change of its
    declared dependencies makes the env out of date."""
    from wsp import probe

    if not source.local or not probe.is_dir(Path(source.target)):
        return None  # an archive is named by its version: not read again on every run
    folder = Path(source.target)
    parts = [
        f"{name}={probe.ask('sha256', str(folder / name))}"
        for name in ("pyproject.toml", "setup.cfg", "setup.py")
    ]
    return ";".join(parts)


# -- running uv -----------------------------------------------------------------------------


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _run_uv(args: Sequence[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """uv with wsp's arguments only: no uv.toml nor pyproject.toml `[tool.uv]` is read
    (`--no-config`), and it runs in a folder of its own (`cwd`, else an empty one)."""
    from wsp.userconfig import load_user_config

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CONDA_PREFIX"))}
    env.setdefault("UV_NO_PROGRESS", "1")
    for key, value in load_user_config().network_env().items():  # .condarc's proxy, CA, retries
        if key not in env and key.lower() not in env:  # what the environment sets wins
            env[key] = value
    sub, rest = list(args[:2]), list(args[2:])
    folder = (
        contextlib.nullcontext(str(cwd)) if cwd else tempfile.TemporaryDirectory(prefix="wsp-uv-")
    )
    with folder as here:
        return subprocess.run(
            [_uv(), *sub, "--no-config", *rest],
            capture_output=True,
            text=True,
            env=env,
            cwd=here,
            check=False,
            stdin=subprocess.DEVNULL,
        )


def _uv_problem(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    causes = [ln.removeprefix("╰─▶").strip() for ln in lines if "╰─▶" in ln or "cause:" in ln]
    body = causes[-1] if causes else (lines[-1] if lines else "uv failed")
    body = body.removeprefix("cause:").strip().removeprefix("error:").strip()
    return redact_text(body)  # an index's user:password is never printed


_NO_BUILD = re.compile(r"Building source distributions for `?([^`\s]+)`? is disabled")
_FAILED_BUILD = re.compile(r"Failed to (?:build|download and build) `([^`]+)`")
_WHEELS_ONLY = re.compile(r"Wheels are required for `([^`]+)` because building from source")


def _needs_build(stderr: str) -> tuple[str, str] | None:
    """(what, why) uv would have to build, when that is why it stopped (`--no-build`)."""
    if (m := _NO_BUILD.search(stderr)) is not None:
        built = _FAILED_BUILD.search(stderr)
        what = redact_text(built.group(1) if built else m.group(1))
        return what, "its metadata is not static"
    if (m := _WHEELS_ONLY.search(stderr)) is not None:
        return m.group(1), "the release that fits is an sdist, which uv reads only by building it"
    return None


def exclude_newer_args(exclude_newer: str | None) -> list[str]:
    """uv's `--exclude-newer` for a workspace cutoff (uv drops what was uploaded at or
    after the instant it is given: the first instant the cutoff excludes)."""
    if exclude_newer is None:
        return []
    from wsp.specs import exclude_newer_bound, rfc3339_ms

    return ["--exclude-newer", rfc3339_ms(exclude_newer_bound(exclude_newer))]


# conda platform -> what uv's --python-platform calls it (wheels for that machine).
UV_PLATFORMS = {
    "linux-64": "x86_64-manylinux_2_17",
    "linux-aarch64": "aarch64-manylinux_2_17",
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
    "win-64": "x86_64-pc-windows-msvc",
    "win-arm64": "aarch64-pc-windows-msvc",
}


def _platform_args(platform: str | None) -> list[str]:
    if platform is None:
        return []
    if platform not in UV_PLATFORMS:
        raise PipError(f"uv can't pick wheels for {platform}: it knows {', '.join(UV_PLATFORMS)}")
    return ["--python-platform", UV_PLATFORMS[platform]]


def _pylock(
    lines: Sequence[str],
    python_version: str,
    options: PipOptions,
    *,
    exclude_newer: str | None,
    platform: str | None,
    allow_build: bool,
    no_deps: bool = False,
) -> list[dict[str, Any]]:
    """uv's resolution of `lines` as pylock.toml packages. Raises PipError; `_BuildNeeded`
    when resolving would run a build and builds are not allowed."""
    import tomllib

    major_minor = ".".join(python_version.split(".")[:2])
    with tempfile.TemporaryDirectory(prefix="wsp-pip-") as tmp:
        reqs, out = Path(tmp) / "requirements.in", Path(tmp) / "pylock.toml"
        reqs.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        proc = _run_uv(
            [
                "pip",
                "compile",
                str(reqs),
                # wsp's own interpreter: uv looks for no other (a slow search of PATH), the
                # target Python and platform come from --python-version, --python-platform
                "--python",
                sys.executable,
                "--python-version",
                major_minor,
                *_platform_args(platform),
                *([] if allow_build else ["--no-build"]),
                *(["--no-deps"] if no_deps else []),
                "--no-sources",
                "--format",
                "pylock.toml",
                "-o",
                str(out),
                "--no-header",
                "--quiet",
                *options.args(),
                *exclude_newer_args(exclude_newer),
            ],
            cwd=Path(tmp),
        )
        if proc.returncode != 0:
            if not allow_build and (found := _needs_build(proc.stderr)) is not None:
                raise _BuildNeeded(*found)
            raise PipError(_uv_problem(proc.stderr))
        packages = tomllib.loads(out.read_text(encoding="utf-8")).get("packages", [])
        packages = [p for p in packages if isinstance(p, dict) and isinstance(p.get("name"), str)]
        for p in packages:  # paths uv wrote relative to pylock.toml's folder: absolute
            for key in ("directory", "archive", "sdist"):
                if isinstance(p.get(key), dict) and isinstance(p[key].get("path"), str):
                    p[key]["path"] = os.path.normpath(Path(tmp) / p[key]["path"])
    return packages


class _BuildNeeded(Exception):
    def __init__(self, what: str, why: str) -> None:
        self.what, self.why = what, why


# -- resolving ------------------------------------------------------------------------------


def resolve_pins(
    requirements: Sequence[str],
    sources: Sequence[PipSource],
    python_version: str,
    options: PipOptions,
    *,
    exclude_newer: str | None = None,
    platform: str | None = None,
    allow_build: bool = False,
) -> Resolved:
    """Resolve the env's pip layer for `python_version` (and `platform`, this machine when
    None) to exact pins, from distributions uploaded before `exclude_newer` when set.

    Without `allow_build` nothing is built: what needs a build to be known is said in
    `needs_build` (and nothing is pinned). Raises PipError."""
    lines: list[str] = []
    folders: dict[str, tuple[PipSource, ProjectMeta | None]] = {}  # file URL -> source
    own: dict[str, Pin] = {}  # local projects wsp reads itself (static deps, dynamic version)
    needs_build: list[str] = []
    notes: list[str] = []
    declared_urls: list[str] = []

    def local_folder(source: PipSource) -> None:
        folder = Path(source.target)
        meta = project_metadata(folder)
        url = _file_url(folder)
        if isinstance(meta, str):
            if isinstance(meta, NotAProject):
                raise source.error(f"{source.text}: {folder}: {meta}")
            if not allow_build:
                needs_build.append(f"{source.shown}: {meta}")
                return
            folders[url] = (source, None)
            lines.append(_source_line(source))
            return
        deps = meta.requirements(source.extras)
        if deps is None:
            if not allow_build:
                needs_build.append(
                    f"{source.shown}: the dependencies of {meta.name} are dynamic "
                    "(pyproject.toml [project] dynamic)"
                )
                return
            folders[url] = (source, meta)
            lines.append(_source_line(replace(source, name=meta.name)))
            return
        if meta.version is None and not allow_build:
            # uv would build it to learn its version: wsp reads its static dependencies and
            # leaves the version to apply
            lines.extend(_requirement_line(d) for d in deps)
            own[meta.name] = Pin(UNKNOWN, str(folder), None, _install_line(url, source), True)
            notes.append(
                f"{source.shown}: the version of {meta.name} is dynamic: known once it is "
                "built at apply"
            )
            return
        folders[url] = (source, meta)
        lines.append(_source_line(replace(source, name=meta.name, extras=())))
        lines.extend(_requirement_line(d) for d in deps[len(meta.dependencies or ()) :])

    for text in requirements:
        req = parse_requirement(text)
        target = file_url_path(req.url) if req.url else None
        source = PipSource(
            target=str(target) if target is not None else (req.url or ""),
            name=canonical(req.name),
            extras=tuple(sorted(req.extras)),
            text=text,
        )
        if target is not None and target.is_dir():
            local_folder(source)
            continue
        if req.url:
            declared_urls.append(req.url)
        lines.append(str(req))
    for source in sources:
        if source.local and Path(source.target).is_dir():
            local_folder(source)
            continue
        if source.local and not Path(source.target).exists():
            raise source.error(f"{source.text}: {source.target}: no such file or folder")
        if not source.local:
            declared_urls.append(source.target)
        lines.append(_source_line(source))
    if needs_build:
        return Resolved(needs_build=tuple(needs_build), notes=tuple(notes))
    if not lines:
        return Resolved(pins=own, notes=tuple(notes))
    try:
        packages = _pylock(
            lines,
            python_version,
            options,
            exclude_newer=exclude_newer,
            platform=platform,
            allow_build=allow_build,
        )
    except _BuildNeeded as exc:
        what = exc.what
        for source in sources:  # the line that asked for it, when it is one of them
            target = _file_url(Path(source.target)) if source.local else source.target
            if source.file and target.split("#", 1)[0] in exc.what:
                what = source.shown
        why = (
            f"{what}: {exc.why}: only building it (running its setup.py or build backend) "
            "tells its dependencies"
        )
        return Resolved(needs_build=(why,), notes=tuple(notes))
    pins = dict(own)
    for entry in packages:
        name = canonical(entry["name"])
        if name in own:
            continue
        pins[name] = _pin(entry, python_version, platform, folders, declared_urls)
    return Resolved(pins=pins, notes=tuple(notes))


def _install_line(url: str, source: PipSource) -> str:
    return f"-e {url}" if source.editable else url


def _pin(
    entry: dict[str, Any],
    python_version: str,
    platform: str | None,
    folders: Mapping[str, tuple[PipSource, ProjectMeta | None]],
    declared_urls: Sequence[str],
) -> Pin:
    """One pylock.toml package as a Pin."""

    name, version = canonical(entry["name"]), str(entry.get("version") or "")
    if isinstance(directory := entry.get("directory"), dict):
        folder = Path(str(directory.get("path", "")))
        url = _file_url(folder)
        meta = folders[url][1] if url in folders else None
        line = f"-e {url}" if directory.get("editable") else url
        return Pin(
            meta.version if meta and meta.version else UNKNOWN, str(folder), None, line, True
        )
    if isinstance(archive := entry.get("archive"), dict):
        where = str(archive.get("url") or _file_url(Path(str(archive.get("path", "")))))
        sha = _sha256_of(archive)
        declared = _declared(where, declared_urls)
        return Pin(version, strip_credentials(where), sha, f"{name} @ {declared}")
    if isinstance(vcs := entry.get("vcs"), dict):
        kind, url, commit = vcs.get("type", "git"), str(vcs.get("url", "")), vcs.get("commit-id")
        sub = vcs.get("subdirectory")
        declared = _declared(f"{kind}+{url}", declared_urls)
        at = f"{_without_ref(declared)}@{commit}" if commit else declared
        frag = f"#subdirectory={sub}" if sub else ""
        return Pin(version, strip_credentials(at) + frag, None, f"{name} @ {at}{frag}")
    chosen, _ = _chosen_file(entry, python_version, platform)
    if not isinstance(chosen, dict):
        return Pin(version)
    where = str(chosen.get("url") or _file_url(Path(str(chosen.get("path", "")))))
    return Pin(version, strip_credentials(where), _sha256_of(chosen))


def _chosen_file(
    entry: dict[str, Any], python_version: str, platform: str | None
) -> tuple[Any, bool]:
    """The file of a pylock.toml package the env installs: its best wheel (True), else
    its sdist (False; whatever the lock holds there, a dict when there is one)."""
    wheels = [w for w in entry.get("wheels") or [] if isinstance(w, dict) and w.get("url")]
    if wheels:
        return _best_wheel(wheels, python_version, platform), True
    return entry.get("sdist"), False


def _sha256_of(file: dict[str, Any]) -> str | None:
    return (file.get("hashes") or {}).get("sha256")


def _declared(url: str, declared: Sequence[str]) -> str:
    """The declared URL `url` stands for (with its credentials, to fetch), else `url`."""

    def key(u: str) -> str:
        return _without_ref(strip_credentials(u).split("#", 1)[0]).rstrip("/")

    return next((d.split("#", 1)[0] for d in declared if key(d) == key(url)), url)


def _without_ref(url: str) -> str:
    """A VCS URL without its `@ref` (`git+https://host/repo@v1` -> `git+https://host/repo`)."""
    scheme, sep, rest = url.partition("://")
    head, slash, tail = rest.rpartition("/")
    if slash and "@" in tail:
        tail = tail.split("@", 1)[0]
    return f"{scheme}{sep}{head}{slash}{tail}"


def _tag_order(python_version: str, platform: str | None) -> dict[Any, int]:
    """Wheel tags for the env, best first: this machine's, or typical ones of `platform`."""
    major, minor = (int(x) for x in python_version.split(".")[:2])
    return _tags_of(major, minor, platform)


@cache
def _tags_of(major: int, minor: int, platform: str | None) -> dict[Any, int]:
    from packaging import tags

    if platform is None:
        plats = list(tags.platform_tags())
    else:
        os_name, _, arch = platform.partition("-")
        arch = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}.get(arch, arch)
        if os_name == "linux":
            plats = [f"manylinux_2_{v}_{arch}" for v in range(40, 4, -1)]
            plats += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
            plats.append(f"linux_{arch}")
        elif os_name == "osx":
            plats = list(tags.mac_platforms((15, 0), arch))
        else:
            plats = ["win_amd64" if arch == "x86_64" else f"win_{arch}"]
    order = [
        *tags.cpython_tags((major, minor), platforms=plats),
        *tags.compatible_tags((major, minor), f"cp{major}{minor}", platforms=plats),
    ]
    return {t: i for i, t in reversed(list(enumerate(order)))}


def _best_wheel(
    wheels: list[dict[str, Any]], python_version: str, platform: str | None
) -> dict[str, Any]:
    """The wheel the env installs among those uv found compatible (their tags' best rank)."""
    from urllib.parse import unquote

    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    order = _tag_order(python_version, platform)

    def rank(wheel: dict[str, Any]) -> int:
        filename = unquote(str(wheel["url"]).rsplit("/", 1)[-1].split("#", 1)[0])
        try:
            found = parse_wheel_filename(filename)[3]
        except InvalidWheelFilename:
            return len(order)
        return min((order.get(t, len(order)) for t in found), default=len(order))

    return min(wheels, key=rank)


def pins_for(
    ws: Workspace,
    want: DesiredEnv,
    packages: Iterable[Package],
    *,
    platform: str | None = None,
    allow_build: bool = False,
) -> Resolved:
    """The env's pip layer resolved for the Python a solve picked, on `platform` (this
    machine when None): the pins pip installs, and those left to the conda package of the
    same name. Errors are located at the project's `pip` key (or the line of an
    environment file's pip list)."""
    if not want.pip and not want.pip_sources:
        return Resolved()
    packages = list(packages)
    python = next((p.version for p in packages if p.name == "python"), None)
    if python is None:
        raise ws.error(
            ("projects", want.project, "pip"),
            f"env {want.env_name!r} has pip requirements but its solve has no python",
        )
    try:
        resolved = resolve_pins(
            want.pip,
            want.pip_sources,
            python,
            want.pip_options,
            exclude_newer=want.exclude_newer,
            platform=platform,
            allow_build=allow_build,
        )
    except PipError as exc:
        message = f"pip requirements of env {want.env_name!r} can't be resolved: {exc.message}"
        if (where := _env_file_blamed(ws, want.project, exc.message)) is not None:
            raise ManifestError(*where, message) from None
        raise ws.error(("projects", want.project, "pip"), message) from None
    by_conda = conda_provided(p.name for p in packages)
    return replace(
        resolved,
        pins={n: p for n, p in resolved.pins.items() if n not in by_conda},
        provided={n: p.version for n, p in resolved.pins.items() if n in by_conda},
    )


def _env_file_blamed(ws: Workspace, project: str, message: str) -> tuple[Path, int, int] | None:
    """Where in the project's environment file (or a `-r` file it reads) a failed pip
    resolution is written: the line of the requirement the message names first, unless
    the project's own `pip` in workspace.toml names it; the file's pip list when
    workspace.toml gives the project no `pip`. None: workspace.toml's `pip` key."""
    decl = ws.projects.get(project)
    env_file = getattr(decl, "env_file", None)
    if decl is None or env_file is None or not env_file.pip_entries:
        return None
    text = message.lower()

    def mentioned(name: str) -> int:
        """Where the message first names the project `name` (its length: nowhere)."""
        word = re.escape(canonical(name)).replace(r"\-", "[-_.]")
        found = re.search(rf"(?<![\w.-]){word}(?![\w-])", text)
        return found.start() if found else len(text)

    entries: list[Any] = []  # wsp.pipreqs entries, a `-r` file's after it
    todo = list(env_file.pip_entries)
    while todo:
        entries.append(e := todo.pop(0))
        todo[:0] = getattr(e, "entries", ())
    named = sorted(
        (
            (mentioned(name), e)
            for e in entries
            if (name := getattr(e, "name", None)) and not name.startswith("-") and e.where.path
        ),
        key=lambda t: t[0],
    )  # an option's `name` is the option's
    own = min((mentioned(parse_requirement(r).name) for r in decl.pip), default=len(text))
    if named and named[0][0] < min(own, len(text)):
        where = named[0][1].where
    elif not decl.pip:
        where = env_file.pip_entries[0].where
    else:
        return None
    return (where.path, where.line, where.col) if where.path is not None else None


def needs_build_message(project: str, resolved: Resolved) -> str:
    """What a plan (or export) says of pins only a build can resolve."""
    what = "; ".join(resolved.needs_build)
    return (
        f"project {project}: its pip versions will be known only at apply, which builds: "
        f"{what}. --allow-build resolves them now (it runs that code)"
    )


def from_lock(want: DesiredEnv, locked: Mapping[str, Pin]) -> dict[str, Pin]:
    """The pins wsp.lock holds for the env, each with how uv installs it: from the indexes
    by `name==version` and its hash, or from the source the declaration names (a local
    folder, editable as declared; an archive or URL; a VCS URL at the locked commit)."""

    urls: list[str] = []  # declared URLs (credentials kept: to fetch)
    paths: set[str] = set()  # declared local folders and archives
    editable: set[str] = set()
    for text in want.pip:
        req = parse_requirement(text)
        if req.url and (target := file_url_path(req.url)) is not None:
            paths.add(os.path.normpath(target))
        elif req.url:
            urls.append(req.url)
    for source in want.pip_sources:
        if source.local:
            paths.add(os.path.normpath(source.target))
            if source.editable:
                editable.add(os.path.normpath(source.target))
        else:
            urls.append(source.target)
    plain = {strip_credentials(u).split("#", 1)[0] for u in urls}
    out: dict[str, Pin] = {}
    for name, pin in locked.items():
        pin = replace(pin, version=UNKNOWN) if pin.version == LOCKED_UNKNOWN else pin
        url = pin.url
        path = file_url_path(url)
        if path is None and url and not is_url(url):
            path = Path(url)
        if url.startswith(VCS):
            bare, _, frag = url.partition("#")
            at = _without_ref(_declared(bare, urls))
            ref = bare.rsplit("@", 1)[-1]
            out[name] = replace(pin, source=f"{name} @ {at}@{ref}" + (f"#{frag}" if frag else ""))
        elif path is not None and os.path.normpath(path) in paths:
            here = os.path.normpath(path)
            if Path(here).is_dir():
                line = f"-e {_file_url(Path(here))}" if here in editable else _file_url(Path(here))
                out[name] = replace(pin, source=line, folder=True)
            else:
                out[name] = replace(pin, source=f"{name} @ {_file_url(Path(here))}")
        elif path is None and url and strip_credentials(url).split("#", 1)[0] in plain:
            out[name] = replace(pin, source=f"{name} @ {_declared(url, urls)}")
        else:
            out[name] = replace(pin, source=None, folder=False)
    return out


# -- site-packages ---------------------------------------------------------------------------


def installed(prefix: Path) -> dict[str, PipDist]:
    """Every distribution in site-packages, with who installed it."""
    sp = site_packages(prefix)
    out: dict[str, PipDist] = {}
    if sp is None:
        return out
    for name in dist_info_names(prefix):
        stem = name[: -len(".dist-info")]
        dist, _, version = stem.partition("-")
        try:
            installer = (sp / name / "INSTALLER").read_text().strip()
        except OSError:
            installer = ""
        out[canonical(dist)] = PipDist(canonical(dist), version, installer)
    return out


def _python(prefix: Path) -> Path:
    return prefix / "bin" / "python"


def _no_python(prefix: Path, python: Path, env: str) -> str:
    """Why the pip layer has no interpreter: python not installed, or a python package
    whose build brings none (a stub, or another platform's layout)."""
    records = sorted((prefix / "conda-meta").glob("python-[0-9]*.json"))
    if not records:
        return f"env {env} has no Python at {python}: declare python for its pip requirements"
    build = records[0].name.removeprefix("python-").removesuffix(".json")
    version, _, build = build.partition("-")
    return (
        f"env {env} has no Python at {python}, though its conda package python {version} "
        f"({build}) is installed: that build ships no interpreter there, and its pip "
        "requirements need one; use a channel whose python package has bin/python "
        "(conda-forge's does), or move them to conda dependencies"
    )


def _hashed(line: str, pin: Pin) -> str:
    return f"{line} --hash=sha256:{pin.sha256}" if pin.sha256 else line


def install(prefix: Path, pins: Mapping[str, Pin | str], options: PipOptions, env: str) -> None:
    """Install exactly `pins` (no dependency resolution: the plan resolved them): from the
    indexes by `name==version` (each file's sha256 checked when known: `--require-hashes`
    when all are), the rest from their source (local folders built again)."""
    if not pins:
        return
    python = _python(prefix)
    if not python.exists():
        raise PipError(_no_python(prefix, python, env))
    full = {n: p if isinstance(p, Pin) else Pin(p) for n, p in pins.items()}
    index = {n: p for n, p in full.items() if p.source is None}
    sources = {n: p for n, p in full.items() if p.source is not None}
    if index:
        lines = [_hashed(f"{n}=={p.version}", p) for n, p in sorted(index.items())]
        every = all(p.sha256 for p in index.values())
        _install_lines(prefix, lines, options, env, ["--require-hashes"] if every else [])
    if sources:
        lines = [_hashed(str(p.source), p) for _, p in sorted(sources.items())]
        again = [
            a for n, p in sorted(sources.items()) if p.folder for a in ("--reinstall-package", n)
        ]
        _install_lines(prefix, lines, options, env, again)


def _check_install_line(line: str) -> None:
    """Refuse an install line that is more than one requirement (a lock's location is text
    from a file: it must not bring an option or a second requirement along)."""
    _check_text(line, line)
    body = line.split(" --hash=sha256:", 1)[0]
    if body.startswith("-e "):
        body = body[3:]
        if not body.startswith("file:") or any(c.isspace() for c in body):
            raise PipError(f"{body!r} is not a local folder to install editable")
    elif body.startswith("file:"):
        if any(c.isspace() for c in body):
            raise PipError(f"{body!r} is not one location")
    else:
        parse_requirement(body)


def _install_lines(
    prefix: Path, lines: Sequence[str], options: PipOptions, env: str, extra: Sequence[str]
) -> None:
    for line in lines:
        _check_install_line(line)
    with tempfile.TemporaryDirectory(prefix="wsp-pip-") as tmp:
        reqs = Path(tmp) / "requirements.txt"
        reqs.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        proc = _run_uv(
            [
                "pip",
                "install",
                "--python",
                str(_python(prefix)),
                "--no-deps",
                "--no-sources",
                "--compile-bytecode",  # as pip does: no user of the env compiles them again
                *extra,
                *options.args(),
                "-r",
                str(reqs),
            ],
            cwd=Path(tmp),
        )
    if proc.returncode != 0:
        raise PipError(
            f"pip requirements for env {env} could not be installed: {_uv_problem(proc.stderr)}"
        )


def uninstall(prefix: Path, names: Iterable[str], env: str) -> None:
    names = sorted(names)
    if not names:
        return
    proc = _run_uv(["pip", "uninstall", "--python", str(_python(prefix)), *names])
    if proc.returncode != 0:
        raise PipError(
            f"uninstalling {', '.join(names)} from env {env} failed: {_uv_problem(proc.stderr)}"
        )


def sync_editables(prefix: Path, editables: Mapping[str, str]) -> None:
    """Make site-packages hold exactly one `.pth` per editable project."""
    sp = site_packages(prefix)
    if sp is None:
        if editables:
            raise PipError(f"{prefix} has no site-packages for editable projects: declare python")
        return
    from wsp.fsutil import atomic_write_text

    wanted = {f"{EDITABLE_PREFIX}{canonical(name)}.pth": path for name, path in editables.items()}
    for entry in sp.glob(f"{EDITABLE_PREFIX}*.pth"):
        if entry.name not in wanted:
            entry.unlink()
    for filename, path in wanted.items():
        atomic_write_text(sp / filename, f"{path}\n")


# -- the markers of a platform, for checking a lock -------------------------------------------


def marker_environment(platform: str, python_version: str) -> dict[str, str]:
    """PEP 508 marker values of a conda `platform` with `python_version` (CPython)."""
    os_name, _, arch = platform.partition("-")
    machine = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le"}.get(
        arch, arch
    )
    if os_name == "win":
        machine = "AMD64" if arch == "64" else "ARM64"
    system = {"linux": "Linux", "osx": "Darwin", "win": "Windows"}.get(os_name, os_name)
    full = python_version if python_version.count(".") >= 2 else f"{python_version}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "nt" if os_name == "win" else "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": full,
        "python_version": ".".join(full.split(".")[:2]),
        "sys_platform": {"linux": "linux", "osx": "darwin", "win": "win32"}.get(os_name, os_name),
    }


def unsatisfied(
    requirements: Iterable[str],
    pins: Mapping[str, str],
    provided: Iterable[str],
    *,
    platform: str,
    python_version: str | None,
) -> list[tuple[str, str]]:
    """(requirement, why) for each PEP 508 requirement the locked pins (name -> version)
    don't satisfy; names conda provides satisfy theirs. Requirements whose marker is false
    on `platform` are skipped."""
    from packaging.version import InvalidVersion, Version

    by_conda = set(provided)
    out: list[tuple[str, str]] = []
    env = marker_environment(platform, python_version) if python_version else None
    for text in requirements:
        req = parse_requirement(text)
        if req.marker is not None and env is not None and not req.marker.evaluate(env):
            continue
        name = canonical(req.name)
        if name not in pins:
            if name in by_conda:
                continue
            out.append((text, f"no {name} is locked"))
            continue
        version = pins[name]
        if version == UNKNOWN or req.url is not None or not str(req.specifier):
            continue
        try:
            ok = req.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            out.append((text, f"{name} {version} is locked"))
    return out


# -- the distribution files of exact pins, for `wsp pack` ----------------------------------


@dataclass(frozen=True)
class DistFile:
    """One file uv would install a pin from: a wheel, else the sdist."""

    name: str
    version: str
    url: str
    sha256: str | None
    wheel: bool

    @property
    def filename(self) -> str:
        from urllib.parse import unquote

        return unquote(self.url.rsplit("/", 1)[-1].split("#", 1)[0])


def dist_files(
    pins: Mapping[str, str],
    python_version: str,
    options: PipOptions,
    *,
    platform: str | None = None,
    exclude_newer: str | None = None,
) -> list[DistFile]:
    """The file each of `pins` installs from, on `platform` (this machine when None), as
    uv picks it (`uv pip compile --no-deps --format pylock.toml`): the wheel for that
    platform and Python, else the sdist. Raises PipError when uv can't find one."""
    if not pins:
        return []
    packages = _pylock(
        [f"{n}=={v}" for n, v in sorted(pins.items())],
        python_version,
        options,
        exclude_newer=exclude_newer,
        platform=platform,
        allow_build=True,  # the files of exact pins: nothing is resolved, nothing built
        no_deps=True,
    )
    files = []
    for entry in packages:
        chosen, wheel = _chosen_file(entry, python_version, platform)
        if not isinstance(chosen, dict) or "url" not in chosen:
            raise PipError(f"{entry.get('name')} {entry.get('version')}: uv names no file to fetch")
        files.append(
            DistFile(
                canonical(entry["name"]),
                str(entry.get("version", "")),
                chosen["url"],
                _sha256_of(chosen),
                wheel,
            )
        )
    return files
