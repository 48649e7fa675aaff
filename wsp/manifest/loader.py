"""workspace.toml -> Workspace: read with tomlkit, validate with pydantic, locate every error."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import probe, sysreq
from wsp.channels import channel_problem
from wsp.conda import ENV_VAR_NAME
from wsp.condameta import env_var_problem
from wsp.errors import ManifestError, WspError
from wsp.fsutil import sha256_hex
from wsp.manifest.locate import TomlPositions
from wsp.pipbase import PipOptions

if TYPE_CHECKING:  # pydantic loads only when workspace.toml is validated
    import wsp.manifest.envfile
    from wsp.manifest.models import Manifest, Policy, SystemRequirements
    from wsp.pipreqs import Where

MANIFEST_NAME = "workspace.toml"

# An env name lives directly in envs-dir: no separators, no "..", no leading dot.
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
MAX_NAME = 100  # env names become folder names (255 bytes at most, with room to spare)
_BARE_VERSION = re.compile(r"^\d+(\.\d+)*$")
# A Jupyter kernel name: what jupyter_client accepts (it lower-cases), as a folder name.
KERNEL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def is_env_name(name: str) -> bool:
    """Whether `name` can name a project, a template or an env (a folder of envs-dir):
    letters, digits, '-', '_' and '.', without '/', '..' or a leading '.'."""
    return bool(_NAME_RE.match(name)) and ".." not in name


@dataclass(frozen=True)
class JupyterDecl:
    """`jupyter = true | false | { name, display-name }` as one layer wrote it."""

    enabled: bool
    name: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class TemplateDecl:
    name: str
    python: str | None
    channels: tuple[str, ...]
    dependencies: tuple[str, ...]
    pip: tuple[str, ...]
    extends: tuple[str, ...]
    jupyter: JupyterDecl | None = None
    env_vars: tuple[tuple[str, str], ...] = ()
    exclude_newer: str | None = None  # as wsp.specs.parse_exclude_newer writes it
    system_requirements: sysreq.Requirements = ()


@dataclass(frozen=True)
class ProjectDecl:
    name: str
    env_name: str
    path: Path
    python: str | None
    channels: tuple[str, ...]
    dependencies: tuple[str, ...]
    pip: tuple[str, ...]
    extends: tuple[str, ...]
    depends_on: tuple[str, ...]
    env_file: wsp.manifest.envfile.EnvFile | None
    ignore: tuple[str, ...]
    jupyter: JupyterDecl | None = None
    env_vars: tuple[tuple[str, str], ...] = ()
    pip_options: PipOptions = field(default_factory=PipOptions)  # the project's pip-* keys
    exclude_newer: str | None = None  # as wsp.specs.parse_exclude_newer writes it
    system_requirements: sysreq.Requirements = ()


DEFAULT_NAMING_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"  # lower-case kebab-case


@dataclass(frozen=True)
class NamingRules:
    pattern: str
    forbidden: tuple[str, ...]


@dataclass(frozen=True)
class BaseRules:
    auto_activate: bool
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class PipRules:
    pinned: bool


@dataclass(frozen=True)
class ChannelRules:
    allowed: tuple[str, ...] | None


@dataclass(frozen=True)
class PolicyDecl:
    """`[policy]` as validated, defaults filled in."""

    naming: NamingRules
    base: BaseRules
    pip: PipRules
    channels: ChannelRules
    stale_days: int
    rules: dict[str, str]

    @classmethod
    def of(cls, policy: Policy) -> PolicyDecl:
        return cls(
            naming=NamingRules(policy.naming.pattern, tuple(policy.naming.forbidden)),
            base=BaseRules(policy.base.auto_activate, tuple(policy.base.allowed)),
            pip=PipRules(policy.pip.pinned),
            channels=ChannelRules(
                tuple(policy.channels.allowed) if policy.channels.allowed is not None else None
            ),
            stale_days=policy.stale_days,
            rules=dict(policy.rules),
        )


@dataclass(frozen=True)
class Workspace:
    """A validated workspace.toml, its paths resolved."""

    name: str
    root: Path
    manifest_path: Path
    description: str | None
    channels: tuple[str, ...]
    channel_priority: str
    platforms: tuple[str, ...]
    envs_dir: Path
    env_prefix: str
    mirrors: dict[str, tuple[str, ...]]
    templates: dict[str, TemplateDecl]
    projects: dict[str, ProjectDecl]
    policy: PolicyDecl
    source_hash: str
    pip_options: PipOptions
    positions: TomlPositions = field(repr=False, compare=False, metadata={"codec": "skip"})
    freeze_envs: bool = True
    envs_dir_declared: bool = True  # False: the default (conda's envs dir, or .wsp/envs)
    jupyter_data_dir: Path | None = None  # where kernels go; None: the user's Jupyter data dir
    exclude_newer: str | None = None  # as wsp.specs.parse_exclude_newer writes it
    keep_builds: int = 1  # earlier builds of each env kept for `wsp rollback`
    system_requirements: sysreq.Requirements = ()  # [workspace] system-requirements
    variants: tuple[sysreq.Variant, ...] = ()  # `platforms`, each with its own requirements

    def error(
        self, path: tuple[str | int, ...], message: str, *, value: bool = False
    ) -> ManifestError:
        """A ManifestError located at `path` in workspace.toml."""
        line, col = self.positions.find(path, value=value)
        return ManifestError(self.manifest_path, line, col, message)


def find_manifest(start: Path) -> Path:
    """workspace.toml in `start` or the nearest parent that has one."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / MANIFEST_NAME
        if candidate.is_file():
            return candidate
    raise WspError(
        f"no {MANIFEST_NAME} in {start} or any parent folder",
        hint="run `wsp init` to write one, or pass -C DIR",
    )


def normalize_python(spec: str) -> str:
    """conda's meaning of a bare version: "3.9" is 3.9.*, "3.9.18" exactly that."""
    spec = spec.strip()
    if _BARE_VERSION.match(spec):
        return f"{spec}.*" if spec.count(".") < 2 else f"=={spec}"
    return spec


def source_hash(raw: bytes, digests: Iterable[bytes]) -> str:
    """A workspace's `source_hash`: workspace.toml's bytes, then the sha256 digest of each
    file a project reads (its environment file, then that file's -r files), in order."""
    digest = hashlib.sha256(raw)
    for d in digests:
        digest.update(d)
    return "sha256:" + digest.hexdigest()


def load(
    manifest_path: Path,
    *,
    envs_dir_default: Path | None = None,
    raw: bytes | None = None,
    known_specs: frozenset[str] = frozenset(),
    known_pythons: frozenset[str] = frozenset(),
    parsed: dict[str, Any] | None = None,
) -> Workspace:
    """Read, parse and validate `manifest_path`. Raises ManifestError located in the file.

    `raw`: the bytes to read instead of the file's (wsp/cache.py loads only the tables an
    edit changed, as a document of their own), and `parsed`, what tomllib read of them
    (the cache checks them with it): not parsed again. `known_specs`, `known_pythons`:
    conda match specs and `python` specs a load by this same code found valid (the
    cached load's): not parsed again."""

    manifest_path = probe.resolve(manifest_path)
    root = manifest_path.parent
    try:
        raw = manifest_path.read_bytes() if raw is None else raw
    except OSError as exc:
        raise WspError(f"cannot read {manifest_path}: {exc.strerror}") from None
    probe.note("sha256", str(manifest_path), sha256_hex(raw))
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a BOM some editors write
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ManifestError(
            manifest_path,
            line,
            col,
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
        ) from None
    if (deep := _too_deep(text)) is not None:
        raise ManifestError(
            manifest_path,
            *deep,
            f"arrays and tables are nested more than {MAX_DEPTH} deep here; "
            "workspace.toml needs no more than a few levels",
        )
    data = parsed if parsed is not None else _parse(manifest_path, text)
    positions = TomlPositions(text)

    def err(path: tuple[str | int, ...], message: str, *, value: bool = False) -> ManifestError:
        line, col = positions.find(path, value=value)
        return ManifestError(manifest_path, line, col, message)

    _check_strings(data, err)

    def written(path: tuple[str | int, ...]) -> str | None:
        """A value as written in the file (`3.10`, which TOML reads as 3.1)."""
        at = positions.values.get(path)
        found = re.match(r"[^\s,\]}#]+", text[at:]) if at is not None else None
        return found.group(0) if found else None

    model = _validate(data, err, written)
    ws = model.workspace

    if not ws.name.strip():
        raise err(
            ("workspace", "name"), 'workspace name is empty: set name = "my-workspace"', value=True
        )
    _check_channels(model, err)
    for kind, table in (("template", model.templates), ("project", model.projects)):
        for name in table:
            if len(name) > MAX_NAME:
                raise err(
                    (f"{kind}s", name),
                    f"{kind} name is {len(name)} characters long; keep it under {MAX_NAME + 1}",
                )
            if not is_env_name(name):
                raise err(
                    (f"{kind}s", name),
                    f"{kind} name {name!r} can't be an env name: use letters, digits, '-', '_' "
                    "and '.', without '/', '..' or a leading '.'",
                )
    if ws.env_prefix and not is_env_name(ws.env_prefix + "x"):
        raise err(
            ("workspace", "env-prefix"),
            f"env-prefix {ws.env_prefix!r} can't start an env name: use letters, digits, '-', '_'",
            value=True,
        )

    # Specs: conda match specs parsed by rattler, Python versions checked (rattler is
    # imported for a spec not known valid already).
    def check_specs(base: tuple[str, ...], specs: list[str]) -> None:
        # read as conda reads them (`numpy=1.26=py_0` too); kept as written
        for i, spec in enumerate(specs):
            if spec in known_specs:
                continue
            from wsp.specs import check_match_spec

            if problem := check_match_spec(spec, strict=False):
                raise err((*base, i), f"{spec!r} is not a valid conda match spec: {problem}")

    def check_pip(base: tuple[str, ...], reqs: list[str]) -> None:
        for i, req in enumerate(reqs):
            from wsp.pipreqs import Where

            line, col = positions.find((*base, i), value=True)
            check_pip_entry(req, Where(manifest_path, line, col))

    def check_env_vars(
        base: tuple[str, ...], env_vars: dict[str, str]
    ) -> tuple[tuple[str, str], ...]:
        for key, value in env_vars.items():
            if not ENV_VAR_NAME.match(key):
                raise err(
                    (*base, key),
                    f"env-vars: {key!r} is not an environment variable name "
                    "(letters, digits and _, not starting with a digit)",
                )
            if (problem := env_var_problem(key)) is not None:  # PATH: what apply refuses
                raise err((*base, key), f"env-vars: {problem} (remove it)")
            if "\x00" in value:
                raise err((*base, key), f"env-vars: {key} holds a NUL character", value=True)
        return tuple(env_vars.items())

    def check_python(base: tuple[str, ...], spec: str | None) -> str | None:
        if spec is None:
            return None
        normalized = normalize_python(spec)
        if normalized in known_pythons:
            return normalized
        from wsp.specs import check_python_spec

        if problem := check_python_spec(normalized):
            raise err(
                (*base, "python"),
                f"python = {spec!r} is not a Python version spec ({problem}); "
                'write e.g. "3.11", "3.11.*" or ">=3.10"',
                value=True,
            )
        return normalized

    def check_jupyter(base: tuple[str, ...], value: Any) -> JupyterDecl | None:
        if value is None or isinstance(value, bool):
            return None if value is None else JupyterDecl(value)
        if value.name is not None and (
            not KERNEL_NAME_RE.match(value.name) or len(value.name) > MAX_NAME
        ):
            raise err(
                (*base, "jupyter", "name"),
                f"kernel name {value.name!r} can't name a Jupyter kernel: use lower-case letters, "
                "digits, '-', '_' and '.', starting with a letter or digit",
                value=True,
            )
        if value.display_name is not None and not value.display_name.strip():
            raise err(
                (*base, "jupyter", "display-name"),
                "display-name is empty: write what the notebook picker should show, or leave it "
                "out",
                value=True,
            )
        return JupyterDecl(True, value.name, value.display_name)

    def check_cutoff(base: tuple[str, ...], value: object) -> str | None:
        if value is None:
            return None
        from wsp.specs import parse_exclude_newer

        try:
            return parse_exclude_newer(value)
        except ValueError as exc:
            raise err((*base, "exclude-newer"), f"exclude-newer: {exc}", value=True) from None

    def check_requirements(
        base: tuple[str | int, ...], table: SystemRequirements
    ) -> sysreq.Requirements:
        return _check_requirements(err, (*base, "system-requirements"), table)

    check_specs(("workspace", "channels"), [])
    variants = _check_platforms(err, model)
    templates: dict[str, TemplateDecl] = {}
    for name, t in model.templates.items():
        base = ("templates", name)
        check_specs((*base, "dependencies"), t.dependencies)
        check_pip((*base, "pip"), t.pip)
        templates[name] = TemplateDecl(
            name=name,
            python=check_python(base, t.python),
            channels=tuple(t.channels),
            dependencies=tuple(t.dependencies),
            pip=tuple(t.pip),
            extends=tuple(t.extends),
            jupyter=check_jupyter(base, t.jupyter),
            env_vars=check_env_vars((*base, "env-vars"), t.env_vars),
            exclude_newer=check_cutoff(base, t.exclude_newer),
            system_requirements=check_requirements(base, t.system_requirements),
        )

    envs_dir = _resolve_envs_dir(root, ws.envs_dir, envs_dir_default)
    if probe.ask("blocked_by_file", str(envs_dir)):
        raise err(
            ("workspace", "envs-dir"),
            f"envs-dir {envs_dir} is a file, not a folder: point envs-dir at a folder",
            value=True,
        )
    if (env := _conda_prefix_around(envs_dir)) is not None:
        what = "is" if env == envs_dir else "lies inside"
        raise err(
            ("workspace", "envs-dir"),
            f"envs-dir {envs_dir} {what} the conda env {env} (it has conda-meta; conda's "
            "base env if it is the conda installation), and envs built there would be "
            f"inside it: point envs-dir at {env / 'envs'} or at a folder outside {env}",
            value=True,
        )
    jupyter_data_dir = None
    if ws.jupyter_data_dir is not None:
        jupyter_data_dir = probe.resolve(root / probe.expanduser(Path(ws.jupyter_data_dir)))
        for folder in (jupyter_data_dir, jupyter_data_dir / "kernels"):
            if probe.ask("blocked_by_file", str(folder)):
                raise err(
                    ("workspace", "jupyter-data-dir"),
                    f"jupyter-data-dir: {folder} is a file, not a folder: kernels go to "
                    "<jupyter-data-dir>/kernels/; point jupyter-data-dir at a folder",
                    value=True,
                )
    projects: dict[str, ProjectDecl] = {}
    env_hashes: list[bytes] = []
    for name, p in model.projects.items():
        probe.attribute(name)  # what is looked at for a project is noted as its own
        base = ("projects", name)
        check_specs((*base, "dependencies"), p.dependencies)
        check_pip((*base, "pip"), p.pip)
        path = probe.resolve(root / (p.path if p.path is not None else f"projects/{name}"))
        env_file = None
        if p.environment_file is not None:
            env_path = probe.resolve(path / p.environment_file)
            if not probe.is_file(env_path):
                found = "is a folder, not a file:" if env_path.is_dir() else "not found at"
                raise err(
                    (*base, "environment-file"),
                    f"environment-file {p.environment_file!r} {found} {env_path}",
                    value=True,
                )
            from wsp.manifest.envfile import read_env_file

            env_file = read_env_file(env_path, root=root)
            probe.note("sha256", str(env_path), sha256_hex(env_file.raw))
            env_hashes.append(env_file.raw)
            for req_file in env_file.requirement_files:  # inputs too: a change re-plans
                data = req_file.read_bytes()
                probe.note("sha256", str(req_file), sha256_hex(data))
                env_hashes.append(data)
        env_name = ws.env_prefix + name
        prefix = envs_dir / env_name
        if prefix.parent != envs_dir:  # belt and braces: never leave envs-dir
            raise err(base, f"env name {env_name!r} would leave envs-dir {envs_dir}")
        projects[name] = ProjectDecl(
            name=name,
            env_name=env_name,
            path=path,
            python=check_python(base, p.python),
            channels=tuple(p.channels),
            dependencies=tuple(p.dependencies),
            pip=tuple(p.pip),
            extends=tuple(p.extends),
            depends_on=tuple(p.depends_on),
            env_file=env_file,
            ignore=tuple(p.ignore),
            jupyter=check_jupyter(base, p.jupyter),
            env_vars=check_env_vars((*base, "env-vars"), p.env_vars),
            pip_options=PipOptions(
                index_url=p.pip_index_url,
                extra_index_urls=tuple(p.pip_extra_index_urls),
                find_links=tuple(
                    link
                    if "://" in link
                    else str(probe.resolve(path / probe.expanduser(Path(link))))
                    for link in p.pip_find_links
                ),
            ),
            exclude_newer=check_cutoff(base, p.exclude_newer),
            system_requirements=check_requirements(base, p.system_requirements),
        )
    probe.attribute(None)

    return Workspace(
        name=ws.name.strip(),
        root=root,
        manifest_path=manifest_path,
        description=ws.description,
        channels=tuple(ws.channels),
        channel_priority=ws.channel_priority,
        platforms=tuple(v.name for v in variants),
        envs_dir=envs_dir,
        env_prefix=ws.env_prefix,
        mirrors={k: tuple(v) for k, v in ws.mirrors.items()},
        templates=templates,
        projects=projects,
        policy=PolicyDecl.of(model.policy),
        source_hash=source_hash(raw, [hashlib.sha256(blob).digest() for blob in env_hashes]),
        pip_options=PipOptions(
            index_url=ws.pip_index_url,
            extra_index_urls=tuple(ws.pip_extra_index_urls),
            find_links=tuple(
                link if "://" in link else str(probe.resolve(root / probe.expanduser(Path(link))))
                for link in ws.pip_find_links
            ),
            no_index=ws.pip_no_index,
        ),
        system_requirements=check_requirements(("workspace",), ws.system_requirements),
        variants=variants,
        positions=positions,
        freeze_envs=ws.freeze_envs,
        envs_dir_declared=ws.envs_dir is not None,
        jupyter_data_dir=jupyter_data_dir,
        exclude_newer=check_cutoff(("workspace",), ws.exclude_newer),
        keep_builds=ws.keep_builds,
    )


_KEYS_HINT = (
    "set it with the dedicated keys instead: pip-index-url, pip-extra-index-urls, "
    "pip-find-links (in [workspace], or in the project)"
)


def check_pip_entry(text: str, where: Where) -> None:
    """Refuse a workspace.toml `pip` entry that is not one PEP 508 requirement: options go
    through dedicated keys, files and folders are not read from a pip list."""
    from wsp import pipreqs

    entries = pipreqs.parse_line(text, where, base=None, read=False)  # reads no file
    if not entries:
        raise where.error('an empty pip requirement; give one, e.g. "requests>=2"')
    entry = entries[0]
    if isinstance(entry, pipreqs.Requirement) and len(entries) == 1:
        if pipreqs.has_env_var(text):
            raise where.error(
                f"{text!r}: ${{VAR}} is not expanded in pip requirements (uv would send its "
                "value wherever the requirement points); write the value"
            )
        return
    if isinstance(entry, pipreqs.Option):
        raise where.error(f"pip option {entry.name} is not a requirement; {_KEYS_HINT}")
    if isinstance(entry, pipreqs.RequirementsFile):
        raise where.error(
            f"{text!r}: requirements files are not read from pip = [...]; list the "
            "requirements here, or name the file in an environment-file's pip list"
        )
    if isinstance(entry, pipreqs.Editable | pipreqs.LocalPath):
        raise where.error(
            f"{text!r} is a local folder, not a requirement: make it a project of the "
            "workspace (its pyproject.toml makes it importable; depends-on shares it), "
            "or write NAME @ file:///absolute/path"
        )
    raise where.error(f"{text!r} is not a PEP 508 requirement; write NAME @ URL for a URL")


_VARIANT_NAME = re.compile(r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$")  # what a lock's platform names allow
_KNOWN_REQUIREMENTS = 'cuda, glibc, linux, macos, archspec, or a virtual package written "__name"'


def _check_requirements(
    err: Any, where: tuple[str | int, ...], table: SystemRequirements
) -> sysreq.Requirements:
    """A `system-requirements` table, every name and value checked, as sorted pairs."""
    seen: dict[str, str] = {}
    for key, value in table.items():
        problem = sysreq.check(key, value)
        if problem == "unknown":
            import difflib  # only for the error

            close = difflib.get_close_matches(key.lower(), list(sysreq.NAMES), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise err(
                (*where, key),
                f"unknown system requirement {key!r}; {hint}known: {_KNOWN_REQUIREMENTS}",
            )
        if problem:
            raise err((*where, key), f"system-requirements.{key}: {problem}", value=True)
        same = seen.get(sysreq.canonical(key))
        if same is not None:
            raise err(
                (*where, key),
                f"system-requirements: {same} and {key} both name "
                f"{sysreq.package_name(sysreq.canonical(key))}; keep one",
            )
        seen[sysreq.canonical(key)] = key
    return sysreq.merge(table.items())


def _check_platforms(err: Any, model: Manifest) -> tuple[sysreq.Variant, ...]:
    """`[workspace] platforms`: each a conda platform, or a named variant of one."""
    known: tuple[str, ...] = ()
    if model.workspace.platforms:  # rattler knows them: imported only when some are named
        from wsp.specs import known_platforms

        known = known_platforms()

    def platform_of(where: tuple[str | int, ...], name: str, what: str) -> str:
        if name not in known:
            import difflib  # only for the error

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "e.g. linux-64, osx-arm64, win-64"
            raise err(where, f"{what} {name!r} is not a conda platform; {hint}", value=True)
        return name

    out: list[sysreq.Variant] = []
    for i, entry in enumerate(model.workspace.platforms):
        where: tuple[str | int, ...] = ("workspace", "platforms", i)
        if isinstance(entry, str):
            variant = sysreq.Variant(entry, platform_of(where, entry, "platform"))
        else:
            if not _VARIANT_NAME.match(entry.name):
                raise err(
                    (*where, "name"),
                    f"platform variant name {entry.name!r}: use letters, digits and single "
                    "'-' (wsp.lock names its platforms so), e.g. \"linux-64-cuda\"",
                    value=True,
                )
            if entry.platform is None and entry.name not in known:
                raise err(
                    (*where, "name"),
                    f'platform variant {entry.name!r} needs platform = "linux-64" (the conda '
                    "platform it is built for)",
                )
            platform = platform_of(
                (*where, "platform") if entry.platform is not None else (*where, "name"),
                entry.platform or entry.name,
                "platform",
            )
            reqs = _check_requirements(
                err, (*where, "system-requirements"), entry.system_requirements
            )
            variant = sysreq.Variant(entry.name, platform, reqs)
        if any(v.name == variant.name for v in out):
            raise err(
                where if isinstance(entry, str) else (*where, "name"),
                f"platform {variant.name!r} is listed twice in [workspace] platforms; keep one",
            )
        out.append(variant)
    return tuple(out)


_CLOSE_ADVICE = {
    "array": "add ']' after its last element",
    "inline table": "add '}' after its last key",
    "string": "a \"...\" or '...' string ends on its line: add the closing quote",
    "multi-line string": "add the closing quotes",
    "table header": "add the closing bracket",
}


def _left_open(text: str, error_line: int, message: str) -> tuple[int, int, str] | None:
    """(LINE, COL, message) of what the text leaves open (an array, a string, ...) when
    tomlkit's error is where the file ends, or further down: located where it opened."""
    from wsp.manifest.locate import unclosed

    found = unclosed(text)
    if found is None:
        return None
    what, offset, closer = found
    line, col = _line_col(text, offset)
    at_end = "end of file" in message.lower() or "\\x00" in message or "\x00" in message
    on_its_line = line == error_line and what in ("string", "table header")
    if not (at_end or line < error_line or on_its_line):
        return None
    return line, col, f"this {what} is never closed ({closer!r} missing); {_CLOSE_ADVICE[what]}"


_BARE = re.compile(r"[^\s,\]#}]+")  # a value written without quotes, up to where it ends


def _syntax_fix(text: str, line: int, col: int, message: str) -> str | None:
    """How to mend the syntax error tomlkit found at LINE:COL of a `key = value` line, from
    what is written before it; None when the line says nothing clear."""
    lines = text.splitlines()
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    before = src[: col - 1]
    if message == "Empty key":
        return "write the key's name before '='"
    if src.lstrip().startswith("["):
        return None  # a table header: tomlkit's message is all there is
    key, eq, value = before.rpartition("=")  # the last `=`: a key of an inline table too
    if not eq:
        return "join the key and its value with '=' (python = \"3.11\")"
    if not value.strip() and src[col - 1 :].strip()[:1] in ("", "}", ",", "]"):
        name = key.split()[-1].lstrip("{,") if key.split() else "the key"
        return f"give {name} a value after '='"
    opened = value.count("[") - value.count("]")
    stripped = value.rstrip()
    if stripped.endswith(('"', "'", "]", "}")) or (opened and stripped[-1:].isdigit()):
        if opened > 0:
            return "separate the array's items with commas"
        return "write one value per line (a comment starts with #)"
    start = col - 1  # the unquoted word the error is in, from its first character
    while start > 0 and src[start - 1] not in " \t=[,{":
        start -= 1
    bare = _BARE.match(src, start)
    if bare is None:
        return None
    return f'write text in double quotes: "{bare[0]}"'


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _conda_prefix_around(envs_dir: Path) -> Path | None:
    """The conda prefix (base or another env: a folder holding conda-meta) that envs-dir
    is or lies in, other than inside that prefix's own envs folder; None if none."""
    for folder in (envs_dir, *envs_dir.parents):
        if probe.is_dir(folder / "conda-meta"):
            envs = folder / "envs"
            return None if envs == envs_dir or envs in envs_dir.parents else folder
    return None


def _resolve_envs_dir(root: Path, declared: str | None, default: Path | None) -> Path:
    if declared is not None:
        return probe.resolve(root / probe.expanduser(Path(declared)))
    if default is not None:
        return probe.resolve(default)
    return Path(str(probe.ask("conda_envs_dir", str(root))))


# -- pydantic errors -> one located line -------------------------------------------------


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a table at `loc` accepts, for "did you mean" hints."""
    from pydantic import BaseModel

    from wsp.manifest.models import Manifest

    model: Any = Manifest
    for part in loc:
        if isinstance(part, int):  # an entry of a list: the table among its item types
            items = [
                a
                for arg in getattr(model, "__args__", ())
                for a in (*getattr(arg, "__args__", ()), arg)
            ]
            model = next(
                (a for a in items if isinstance(a, type) and issubclass(a, BaseModel)), None
            )
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        fld = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if fld is None:
            # a dict key (project or template name): step into the value type
            return []
        annotation = fld.annotation
        args = getattr(annotation, "__args__", ())
        model = args[-1] if args and getattr(annotation, "__origin__", None) is dict else annotation
        if args and model is annotation:  # `bool | Table | None`: the table
            tables = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            model = tables[0] if tables else annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _table_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop dict keys (project/template names) so the path names model fields only."""
    out: list[Any] = []
    skip_next = False
    for part in loc:
        if skip_next:
            skip_next = False
            continue
        out.append(part)
        if part in ("projects", "templates") and len(out) == 1:
            skip_next = True
    return tuple(out)


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not isinstance(p, int))


def _validate(data: dict[str, Any], err: Any, written: Any = None) -> Manifest:
    from pydantic import ValidationError

    from wsp.manifest.models import Manifest

    if "workspace" not in data:
        raise err((), 'missing [workspace] table: add [workspace] with name = "my-workspace"')
    try:
        # keys as written in the file: kebab-case only (a field's snake_case name is an
        # unknown key, with the kebab-case one suggested)
        return Manifest.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        errors = _untagged(exc.errors(include_url=False))
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise _describe(first, err, more, written) from None


_UNION_TAGS = ("str", "PlatformVariant")  # how pydantic names the branches of `platforms`


def _untagged(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pydantic's errors with the union branch names taken out of their locations: for a
    `platforms` entry written as a table, only what the table got wrong."""
    out = []
    for e in errors:
        loc = tuple(e["loc"])
        tag = next((i for i, part in enumerate(loc) if part in _UNION_TAGS and i > 0), None)
        if tag is not None and isinstance(loc[tag - 1], int):
            if loc[tag] == "str" and isinstance(e.get("input"), dict):
                continue  # a table: the string branch's complaint says nothing
            e = {**e, "loc": loc[:tag] + loc[tag + 1 :]}
        out.append(e)
    return out or errors


def _describe(e: dict[str, Any], err: Any, more: str, written: Any = None) -> ManifestError:
    loc = tuple(e["loc"])
    kind = e["type"]
    where = _dotted(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        table = _dotted(loc[:-1]) or "the top level"
        allowed = _allowed_keys(_table_path(loc[:-1]))
        import difflib

        close = difflib.get_close_matches(key, allowed, n=1)
        if key == "depends-on" and loc[0] == "templates":
            close = []
            allowed = ["(templates can't depend on projects: put depends-on on the project)"]
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else (f"; known keys: {', '.join(allowed)}" if allowed else "")
        )
        if key == "pypi-dependencies" and "pip" in allowed:  # pixi's name for them
            hint = "; did you mean 'pip' (PEP 508 requirements, e.g. pip = [\"requests>=2\"])?"
        return err(loc, f"unknown key {key!r} in [{table}]{hint}{more}")
    if kind == "missing":
        key = str(loc[-1])
        table = _dotted(loc[:-1])
        if loc == ("workspace", "name"):
            return err(
                loc[:-1], 'workspace has no name: add name = "my-workspace" under [workspace]'
            )
        return err(loc[:-1], f"[{table}] is missing {key!r}{more}")
    if kind == "literal_error":
        expected = e.get("ctx", {}).get("expected", "")
        return err(
            loc, f"{where} = {e['input']!r} is not allowed; use one of {expected}{more}", value=True
        )
    if kind in (
        "list_type",
        "string_type",
        "dict_type",
        "model_type",
        "bool_type",
        "int_type",
        "int_parsing",
    ):
        wanted = {
            "list_type": "a list",
            "string_type": "a string",
            "dict_type": "a table",
            "model_type": "a table",
            "bool_type": "true or false",
            "int_type": "an integer",
            "int_parsing": "an integer",
        }[kind]
        if kind == "string_type" and loc[:2] == ("workspace", "platforms") and len(loc) == 3:
            wanted = "a platform name or a table { name, platform, system-requirements }"
            more = ""  # the other complaint is the table branch's: the same thing
        elif kind == "string_type" and "system-requirements" in loc:
            wanted = f'a string in quotes, e.g. {loc[-1]} = "{e["input"]}"'
        elif kind == "string_type" and isinstance(e["input"], int | float) and written:
            as_written = written(loc) or e["input"]  # 3.10, which TOML reads as the number 3.1
            quoted = f'"{as_written}"'
            if isinstance(loc[-1], str):
                quoted = f"{loc[-1]} = {quoted}"
            return err(loc, f"{where} must be a string: quote it, {quoted}{more}", value=True)
        fix = _as_list(loc, e["input"]) if kind == "list_type" else None
        fix = f"; write it as a list: {fix}" if fix else ""
        return err(loc, f"{where} must be {wanted}, not {e['input']!r}{fix}{more}", value=True)
    return err(loc, f"{where}: {e['msg']}{more}", value=True)


def _as_list(loc: tuple[Any, ...], value: Any) -> str | None:
    """A list key written as one string (`channels = "conda-forge"`) or as pixi's table of
    name = version (`dependencies = { pandas = ">=2" }`), written as the list wsp reads."""
    import json

    key = loc[-1] if loc and isinstance(loc[-1], str) else None
    if key is None:
        return None
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
        glue = "" if key == "pip" else " "  # PEP 508 `requests>=2`, a match spec `numpy >=2`
        items = [n if v.strip() in ("", "*") else f"{n}{glue}{v.strip()}" for n, v in value.items()]
    else:
        return None
    return f"{key} = [{', '.join(json.dumps(i) for i in items)}]"


def _check_channels(model: Manifest, err: Any) -> None:
    """Every channel and mirror is a channel name, a path or a URL that parses."""
    lists: list[tuple[tuple[str | int, ...], list[str], str]] = [
        (("workspace", "channels"), model.workspace.channels, "channel")
    ]
    lists += [
        (("templates", n, "channels"), t.channels, "channel") for n, t in model.templates.items()
    ]
    lists += [
        (("projects", n, "channels"), p.channels, "channel") for n, p in model.projects.items()
    ]
    lists += [
        (("workspace", "mirrors", k), v, f"mirror of {k}")
        for k, v in model.workspace.mirrors.items()
    ]
    for where, values, what in lists:
        for i, value in enumerate(values):
            if (problem := channel_problem(value)) is not None:
                raise err((*where, i), f"{what} {value!r}: {problem}", value=True)
    for key in model.workspace.mirrors:
        if (problem := channel_problem(key)) is not None:
            raise err(("workspace", "mirrors", key), f"mirrors key {key!r}: {problem}")


# -- what no value may hold ------------------------------------------------------------------

MAX_DEPTH = 64


def _parse(manifest_path: Path, text: str) -> dict[str, Any]:
    """workspace.toml's text as data (tomlkit); a syntax error located, with how to mend it."""
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:  # a CRLF file's multi-line strings hold "\n" line ends, as tomllib reads them
        doc = tomlkit.parse(text.replace("\r\n", "\n"))
    except TOMLKitError as exc:  # a syntax error, or a key or table given twice
        scan = TomlPositions(text)
        if not scan.duplicates:
            if isinstance(exc, ParseError):  # tomlkit counts columns from 0
                msg = str(exc).split(" at line ")[0]
                if (left_open := _left_open(text, exc.line, msg)) is not None:
                    line, col, what = left_open
                    raise ManifestError(manifest_path, line, col, f"invalid TOML: {what}") from None
                fix = _syntax_fix(text, exc.line, exc.col + 1, msg)
                raise ManifestError(
                    manifest_path,
                    exc.line,
                    exc.col + 1,
                    f"invalid TOML: {msg}" + (f"; {fix}" if fix else ""),
                ) from None
            raise ManifestError(manifest_path, 1, 1, f"invalid TOML: {exc}") from None
        path, offset = scan.duplicates[0]
        where = ".".join(str(p) for p in path)
        raise ManifestError(
            manifest_path, *scan.line_col(offset), f"invalid TOML: {where} is set twice; keep one"
        ) from None
    return doc.unwrap()  # type: ignore[no-any-return]


def _too_deep(text: str) -> tuple[int, int] | None:
    """LINE:COL where `[` / `{` nest deeper than MAX_DEPTH (outside strings and comments):
    a parser would recurse that deep before saying anything useful."""
    depth, line, col, quote = 0, 1, 0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            while i + 1 < len(text) and text[i + 1] != "\n":
                i += 1
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _check_strings(data: Any, err: Any, path: tuple[str | int, ...] = ()) -> None:
    """No string of workspace.toml holds a NUL or another control character (TOML can
    write them as escapes; no path, name or spec has one)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and _CONTROL.search(key):
                raise err((*path, key), f"key {key!r} holds a control character; remove it")
            _check_strings(value, err, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _check_strings(value, err, (*path, i))
    elif isinstance(data, str) and (m := _CONTROL.search(data)):
        raise err(
            path,
            f"{'.'.join(str(p) for p in path)} holds the control character "
            f"{m.group(0)!r}; remove it",
            value=True,
        )
    elif isinstance(data, str) and data.startswith("~"):
        try:
            Path(data).expanduser()
        except RuntimeError:
            user = data[1:].split("/", 1)[0]
            raise err(
                path,
                f"{data!r}: there is no user {user!r} on this machine; write the path out, "
                "or ~/ for your own home",
                value=True,
            ) from None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
