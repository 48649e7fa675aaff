"""The project graph (networkx) and each project's merged, desired env."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import channels, probe, sysreq
from wsp.engines import Channel
from wsp.errors import ManifestError, SolveError
from wsp.fsutil import stable_hash
from wsp.manifest import Workspace
from wsp.marker import Declared
from wsp.pipbase import PipOptions, source_root

if TYPE_CHECKING:
    import networkx as nx

    import wsp.pip

Node = tuple[str, str]  # ("project" | "template", name)


def project(name: str) -> Node:
    return ("project", name)


def template(name: str) -> Node:
    return ("template", name)


@dataclass(frozen=True)
class KernelDecl:
    """The Jupyter kernel a project's env gets: `jupyter`, merged over its templates."""

    name: str
    display_name: str | None = None  # None: "Python X.Y (env)", X.Y the env's Python
    added_ipykernel: bool = False  # `ipykernel` is in the specs because of the kernel


@dataclass(frozen=True)
class SpecOrigin:
    """Where one conda spec (or python constraint) of a project's env is declared: the
    layer (`template ml`, `project finance`, ...) and the file; in workspace.toml its key
    path (located when needed, so that an edit elsewhere moves no cached origin), in an
    environment file its LINE:COL."""

    name: str  # the conda package name
    spec: str  # as written
    layer: str
    file: Path
    key: tuple[str | int, ...] = ()  # in workspace.toml
    line: int = 0  # in an environment file
    col: int = 0

    def located(self, ws: Workspace) -> tuple[Path, int, int]:
        if self.key:
            line, col = ws.positions.find(self.key, value=True)
            return self.file, line, col
        return self.file, self.line, self.col


@dataclass(frozen=True)
class DesiredEnv:
    """What one project's env should be: the input of a solve and of the spec hash."""

    project: str
    env_name: str
    prefix: Path
    python: str | None
    specs: tuple[str, ...]
    pip: tuple[str, ...]
    channels: tuple[Channel, ...]
    channel_priority: str
    platform: str
    spec_hash: str
    editables: tuple[tuple[str, str], ...] = ()  # (project, source folder) made importable
    pip_options: PipOptions = field(default_factory=PipOptions)
    lock_hash: str = ""  # the declaration as wsp.lock records it: no platform, no paths
    kernel: KernelDecl | None = None  # `jupyter = ...`: wsp writes a kernelspec for the env
    env_vars: tuple[tuple[str, str], ...] = ()  # set on activation, run, shell; in order
    exclude_newer: str | None = None  # packages published after this are ignored (specs.py)
    # What wsp.lock solves it for: every platform (variant) of the workspace, each with
    # the system requirements the project and the workspace declare for it.
    variants: tuple[sysreq.Variant, ...] = ()
    # What an env on this machine may be built for, in order of preference: the variants
    # of this machine's platform (apply takes the first the machine can run).
    candidates: tuple[sysreq.Variant, ...] = ()
    # local folders, archives, URLs (env files' pip)
    pip_sources: tuple[wsp.pip.PipSource, ...] = ()

    def declared(self, variant: sysreq.Variant | None = None) -> Declared:
        """What the env's marker records of the declaration (plan reasons compare it)."""
        return Declared(
            python=self.python,
            dependencies=tuple(channels.redact_text(s) for s in self.specs),
            pip=tuple(
                channels.redact_text(r) for r in (*self.pip, *(s.text for s in self.pip_sources))
            ),
            editables=tuple(name for name, _ in self.editables),
            channels=tuple(c.shown for c in self.channels),
            jupyter=(self.kernel.name, self.kernel.display_name or "") if self.kernel else (),
            env_vars=tuple(f"{k}={v}" for k, v in self.env_vars),
            exclude_newer=self.exclude_newer,
            system_requirements=variant.declared() if variant is not None else {},
        )

    def candidate(self, name: str | None) -> sysreq.Variant | None:
        """The candidate variant called `name`, if this env still has one."""
        return next((v for v in self.candidates if v.name == name), None)

    @property
    def choices(self) -> tuple[sysreq.Variant, ...]:
        """What an env of it may be built for here, in order: `candidates` (a desired env
        of an older cache has none: its own platform, nothing declared)."""
        return self.candidates or (sysreq.Variant(self.platform, self.platform),)

    def picked(self, host: Callable[[], Iterable[sysreq.HostPackage]]) -> sysreq.Variant:
        """The variant apply builds it for on this machine (`host`, its virtual packages,
        is asked only when there are several): the first it can run, else the first."""
        choices = self.choices
        return choices[0] if len(choices) == 1 else sysreq.choose(choices, host())[0]


def _check_refs(ws: Workspace) -> None:
    """Raise the first `extends` or `depends-on` naming a template or project that isn't one."""
    for name, t in ws.templates.items():
        for i, ref in enumerate(t.extends):
            if ref not in ws.templates:
                raise _unknown(ws, ("templates", name, "extends", i), "template", ref, ws.templates)
    for name, p in ws.projects.items():
        for i, ref in enumerate(p.extends):
            if ref not in ws.templates:
                raise _unknown(ws, ("projects", name, "extends", i), "template", ref, ws.templates)
        for i, ref in enumerate(p.depends_on):
            if ref not in ws.projects:
                raise _unknown(ws, ("projects", name, "depends-on", i), "project", ref, ws.projects)
            if ref == name:
                raise ws.error(
                    ("projects", name, "depends-on", i), f"project {name!r} depends on itself"
                )


def _may_cycle(ws: Workspace) -> bool:
    """Edges from projects to templates alone can't close a cycle."""
    return any(t.extends for t in ws.templates.values()) or any(
        p.depends_on for p in ws.projects.values()
    )


def with_dependencies(ws: Workspace, names: set[str]) -> set[str]:
    """`names` and the projects they depend on, directly or not (from the declarations:
    no graph is built)."""
    out, todo = set(names), list(names)
    while todo:
        for ref in ws.projects[todo.pop()].depends_on:
            if ref not in out:
                out.add(ref)
                todo.append(ref)
    return out


def check(ws: Workspace) -> nx.DiGraph | None:
    """Raise what `build` raises (unknown references, cycles). The graph (networkx) is built,
    and returned, only when a cycle is possible: when a template extends another or a project
    depends on another."""
    if _may_cycle(ws):
        return build(ws)
    _check_refs(ws)
    return None


def validate(ws: Workspace) -> None:
    """Raise what merging every project's env raises (references, cycles, pythons)."""
    desired(ws, build(ws))


def build(ws: Workspace) -> nx.DiGraph:
    """Edges point from a project to what it needs: its templates and depends-on projects."""
    import networkx as nx

    _check_refs(ws)
    g = nx.DiGraph()
    for name in ws.templates:
        g.add_node(template(name), kind="template")
    for name, p in ws.projects.items():
        g.add_node(project(name), kind="project", env=p.env_name)
    for name, t in ws.templates.items():
        for i, ref in enumerate(t.extends):
            g.add_edge(template(name), template(ref), kind="extends", index=i)
    for name, p in ws.projects.items():
        for i, ref in enumerate(p.extends):
            g.add_edge(project(name), template(ref), kind="extends", index=i)
        for i, ref in enumerate(p.depends_on):
            g.add_edge(project(name), project(ref), kind="depends-on", index=i)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return g
    names = [n[1] for n, _ in cycle] + [cycle[-1][1][1]]
    start, to = cycle[0]
    section = "projects" if start[0] == "project" else "templates"
    key = g.edges[start, to]["kind"]
    raise ws.error(
        (section, start[1], key, g.edges[start, to]["index"]),
        f"{key} cycle: {' -> '.join(names)}; remove one of these references",
    )


def _unknown(
    ws: Workspace, path: tuple[Any, ...], kind: str, ref: str, known: Iterable[str]
) -> ManifestError:
    import difflib

    close = difflib.get_close_matches(ref, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; declare [{kind}s.{ref}] or remove it"
    return ws.error(path, f"unknown {kind} {ref!r}{hint}")


def order(g: nx.DiGraph, names: Iterable[str] | None = None) -> list[list[str]]:
    """Projects in generations: each generation needs only earlier ones (so can run in parallel)."""
    import networkx as nx

    sub = g.subgraph(n for n in g if n[0] == "project").reverse(copy=True)
    wanted = set(names) if names is not None else None
    out = []
    for gen in nx.topological_generations(sub):
        names_ = sorted(n[1] for n in gen if wanted is None or n[1] in wanted)
        if names_:
            out.append(names_)
    return out


def affected(g: nx.DiGraph, changed: Iterable[Node]) -> set[str]:
    """Projects whose desired env a change to `changed` may alter (themselves and dependents)."""
    import networkx as nx

    out: set[str] = set()
    for node in changed:
        if node not in g:
            continue
        for n in {node} | nx.ancestors(g, node):
            if n[0] == "project":
                out.add(n[1])
    return out


# -- channels -----------------------------------------------------------------------------


def _location(ws: Workspace, location: str) -> str:
    """Local paths resolved against the workspace root, as file:// URLs."""
    if location.startswith("file://"):
        rest = location[len("file://") :]
        if rest.startswith("/"):
            return location
        return probe.resolve(ws.root / rest).as_uri()
    if channels.is_local(location):
        return probe.resolve(ws.root / probe.expanduser(Path(location))).as_uri()
    return location.rstrip("/")


def _expand_defaults(names: list[str]) -> list[str]:
    """conda's meta-channels: `nodefaults` is dropped, `defaults` is Anaconda's main and r,
    mirrored or not (a mirror of `defaults` is where both are fetched from: a fact of one
    machine, never part of the declaration)."""
    out: list[str] = []
    for c in names:
        if c == "nodefaults":
            continue
        expanded = list(channels.DEFAULTS) if c == "defaults" else [c]
        out.extend(e for e in expanded if e not in out)
    return out


def resolve_channel(ws: Workspace, name: str) -> Channel:
    """A declared channel, its identity (canonical URL) and where to fetch it: its mirrors
    when [workspace.mirrors] names it. `${VAR}` is expanded where the channel is fetched,
    as conda does; its name keeps the text as written, its identity has no credentials."""
    own = _location(ws, channels.expand_channel(name))
    identity = channels.canonical(own)
    for key in channels.candidates(name):
        if ws.mirrors.get(key):
            urls = tuple(_location(ws, m) for m in ws.mirrors[key])
            return Channel(name=name, urls=urls, canonical=identity)
    return Channel(name=name, urls=(own,), canonical=identity)


# -- desired envs -------------------------------------------------------------------------


def targets(ws: Workspace, platform: str) -> tuple[sysreq.Variant, ...]:
    """What the workspace is locked for, with the workspace's own requirements merged into
    each: `[workspace] platforms`, else this machine's platform."""
    if not ws.variants:
        return (sysreq.Variant(platform, platform, ws.system_requirements),)
    return tuple(
        sysreq.Variant(v.name, v.platform, sysreq.merge(ws.system_requirements, v.requirements))
        for v in ws.variants
    )


def _template_chain(ws: Workspace, names: Iterable[str], seen: set[str]) -> list[str]:
    """Templates in merge order: a template's own `extends` before itself."""
    out: list[str] = []
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        out.extend(_template_chain(ws, ws.templates[name].extends, seen))
        out.append(name)
    return out


def _python_from_spec(spec: str) -> str | None:
    """The version part of a `python...` match spec ("python=3.9" -> "3.9.*")."""
    from wsp.specs import match_spec_version

    return match_spec_version(spec)


def _depends_on(g: nx.DiGraph, name: str) -> list[str]:
    """The projects `name` depends on, directly or not, dependencies first."""
    import networkx as nx

    return [
        n[1] for n in nx.dfs_postorder_nodes(g, project(name)) if n[0] == "project" and n[1] != name
    ]


def _merge_pip_options(base: PipOptions, layers: list[PipOptions]) -> PipOptions:
    """The workspace's pip options under those of a project's layers (lowest first): the
    last layer's index-url wins (earlier layers' become extra indexes, so their
    requirements still resolve); extra indexes and find-links add up; no-index anywhere
    holds."""
    layers = [o for o in layers if o != PipOptions()]
    if not layers:
        return base
    index_url = base.index_url
    extra: list[str] = []
    links: list[str] = []
    for o in layers:
        if o.index_url:
            if index_url and index_url != base.index_url and index_url not in extra:
                extra.append(index_url)
            index_url = o.index_url
        extra += [u for u in o.extra_index_urls if u not in extra]
        links += [u for u in o.find_links if u not in links]
    extra += [u for u in base.extra_index_urls if u not in extra and u != index_url]
    links += [u for u in base.find_links if u not in links]
    return PipOptions(
        index_url=index_url,
        extra_index_urls=tuple(u for u in extra if u != index_url),
        find_links=tuple(links),
        no_index=base.no_index or any(o.no_index for o in layers),
        pre=base.pre or any(o.pre for o in layers),
    )


_Python = tuple[str, str, SpecOrigin | None]


@dataclass
class _Merged:
    """One project's layers merged: what `desired` solves and `declared` exports."""

    # (origin, version spec, where a `python` spec among dependencies is written)
    pythons: list[_Python] = field(default_factory=list)
    python_wanted: bool = False  # a bare `python` spec, or pip requirements
    written: list[str] = field(default_factory=list)  # conda specs as written, in order
    pip: list[str] = field(default_factory=list)  # PEP 508 requirements, for the pip layer
    pip_sources: list[wsp.pip.PipSource] = field(default_factory=list)  # folders, archives, URLs
    pip_written: list[str] = field(default_factory=list)  # the pip lines conda would run
    channels: list[str] = field(default_factory=list)  # as written, merged, highest first
    spec_channels: list[str] = field(default_factory=list)  # named only in `channel::pkg`
    nodefaults: bool = False
    env_vars: dict[str, str] = field(default_factory=dict)
    pip_layers: list[PipOptions] = field(default_factory=list)  # lowest priority first
    cutoff: str | None = None  # exclude-newer: the last layer that sets it wins
    requirements: sysreq.Requirements = ()  # system requirements, the layers' merged


def _pip_written(entries: Iterable[Any]) -> list[str]:
    """The pip lines of an environment file's entries, paths made absolute (they were
    relative to its folder), `-r` files inlined, index options left to the merged ones."""
    from wsp import pipreqs

    out: list[str] = []
    for e in entries:
        if isinstance(e, pipreqs.Requirement):
            out.append(e.text)
        elif isinstance(e, pipreqs.Editable):
            out.append(f"-e {e.path if e.path is not None else e.target}")
        elif isinstance(e, pipreqs.LocalPath):
            out.append(f"{e.path}{e.extras}")
        elif isinstance(e, pipreqs.UrlRequirement):
            out.append(e.url)
        elif isinstance(e, pipreqs.RequirementsFile):
            if e.constraints:
                out.append(f"-c {e.path}")
            else:
                out.extend(_pip_written(e.entries))
        elif e.name not in ("--index-url", "--extra-index-url", "--find-links", "--no-index"):
            out.append(e.name if e.value is None else f"{e.name} {e.value}")
    return out


def _pip_layer(env_file: Any) -> tuple[list[str], list[wsp.pip.PipSource]]:
    """What the pip layer installs of an environment file's pip list."""
    if env_file is None or not env_file.pip_entries:
        return [], []
    from wsp import pipreqs

    return pipreqs.pip_layer(env_file.pip_entries)


def _layers(ws: Workspace, name: str, deps: list[str]) -> list[tuple[str, Any, bool]]:
    """(origin, decl, own) in merge order, lowest priority first: the depends-on closure's
    templates and projects, the project's templates, the project (`own`: not a
    depends-on's)."""
    layers: list[tuple[str, Any, bool]] = []
    for dep in deps:
        for t in _template_chain(ws, ws.projects[dep].extends, set()):
            layers.append((f"template {t} (via {dep})", ws.templates[t], False))
        layers.append((f"project {dep}", ws.projects[dep], False))
    for t in _template_chain(ws, ws.projects[name].extends, set()):
        layers.append((f"template {t}", ws.templates[t], True))
    layers.append((f"project {name}", ws.projects[name], True))
    return layers


def spec_origins(ws: Workspace, name: str) -> list[SpecOrigin]:
    """Where each conda spec and python constraint of project `name`'s env is written,
    lowest layer first (worked out when an error needs it, not kept with the env)."""
    g = build(ws) if ws.projects[name].depends_on else None
    deps = [] if g is None else _depends_on(g, name)
    out: list[SpecOrigin] = []
    for origin, decl, _ in _layers(ws, name, deps):
        out += _origins(ws, origin, decl, getattr(decl, "env_file", None))
    return out


def pip_origins(ws: Workspace, name: str) -> list[SpecOrigin]:
    """Where each pip requirement of project `name`'s env is written (`SpecOrigin.name`:
    its PEP 503 name; an entry with no name, such as `./lib`, left out), lowest layer
    first."""
    from wsp import pipreqs
    from wsp.manifest import TemplateDecl
    from wsp.manifest.edit import pip_name

    def entries(found: Iterable[Any], layer: str) -> Iterator[SpecOrigin]:
        for e in pipreqs.walk(found):  # a `-r` file's entries too
            if (
                isinstance(e, (pipreqs.Requirement, pipreqs.Editable, pipreqs.UrlRequirement))
                and e.name
                and e.where.path is not None
            ):
                where = f"{e.where.path.name} of {layer}"
                at = (e.where.line, e.where.col)
                yield SpecOrigin(pip_name(e.name), e.text, where, e.where.path, (), *at)

    g = build(ws) if ws.projects[name].depends_on else None
    deps = [] if g is None else _depends_on(g, name)
    out: list[SpecOrigin] = []
    for layer, decl, _ in _layers(ws, name, deps):
        section = "templates" if isinstance(decl, TemplateDecl) else "projects"
        for i, req in enumerate(decl.pip):
            key = (section, decl.name, "pip", i)
            out.append(SpecOrigin(pip_name(req), req, layer, ws.manifest_path, key))
        if (env_file := getattr(decl, "env_file", None)) is not None:
            out += entries(env_file.pip_entries, layer)
    return out


def origin_of(ws: Workspace, name: str, packages: Iterable[str]) -> SpecOrigin | None:
    """Where the first of `packages` (conda package names) that has one is declared in
    project `name`: the highest layer that constrains it (a bare name only when nothing
    constrains it)."""
    origins = spec_origins(ws, name)
    for package in packages:
        found = [o for o in origins if o.name == package]
        if found:
            constrained = [o for o in found if o.spec.strip() != package]
            return (constrained or found)[-1]
    return None


def _merge(ws: Workspace, name: str, deps: list[str]) -> _Merged:
    """Templates, depends-on closure and the project itself, in merge order."""
    from wsp.specs import conda_name, pins_more_than_version, spec_channel

    m = _Merged(cutoff=ws.exclude_newer)
    for origin, decl, own in _layers(ws, name, deps):
        if getattr(decl, "exclude_newer", None) is not None:
            m.cutoff = decl.exclude_newer
        env_file = getattr(decl, "env_file", None)
        own_specs = list(decl.dependencies)
        if env_file is not None:
            own_specs += list(env_file.dependencies)
            if env_file.implicit_pip:  # conda adds pip for a pip: list
                own_specs.append("pip")
        if decl.python:
            m.pythons.append((origin, decl.python, None))
        for i, spec in enumerate(own_specs):
            if (channel := spec_channel(spec)) is not None and channel not in m.spec_channels:
                m.spec_channels.append(channel)
            if conda_name(spec) == "python":
                m.python_wanted = True
                if (py := _python_from_spec(spec)) is not None:
                    at = _spec_at(ws, origin, decl, env_file, i, spec)
                    m.pythons.append((at.layer if at else origin, py, at))
                if not pins_more_than_version(spec):
                    continue  # its version is the python constraint
            if spec not in m.written:
                m.written.append(spec)
        file_reqs, file_sources = _pip_layer(env_file)
        for req in list(decl.pip) + file_reqs:
            if req not in m.pip:
                m.pip.append(req)
        for source in file_sources:
            if not any(s.target == source.target for s in m.pip_sources):
                m.pip_sources.append(source)
        for line in list(decl.pip) + (_pip_written(env_file.pip_entries) if env_file else []):
            if line not in m.pip_written:
                m.pip_written.append(line)
        # channels: later layers (higher priority) go first
        own_channels = list(decl.channels) + (list(env_file.channels) if env_file else [])
        m.nodefaults = m.nodefaults or "nodefaults" in own_channels
        own_channels = [c for c in own_channels if c != "nodefaults"]
        m.channels = [*own_channels, *(c for c in m.channels if c not in own_channels)]
        if getattr(decl, "pip_options", None) is not None:
            m.pip_layers.append(decl.pip_options)
        if env_file is not None:
            m.pip_layers.append(env_file.pip_options)
        m.requirements = sysreq.merge(m.requirements, getattr(decl, "system_requirements", ()))
        if own:  # environment variables: templates, then the env file, then the project
            if env_file is not None:
                m.env_vars.update(env_file.variables)
            m.env_vars.update(getattr(decl, "env_vars", ()))
    # conda: `nodefaults` means none of the channels the user's settings add (for wsp,
    # the workspace's)
    if not m.nodefaults:
        m.channels += [c for c in ws.channels if c not in m.channels]
    return m


def _spec_at(
    ws: Workspace, layer: str, decl: Any, env_file: Any, i: int, spec: str
) -> SpecOrigin | None:
    """Where the `i`th of a layer's conda specs (its dependencies, then its environment
    file's) is written, named for a message: `project p's 'python=3.9'`,
    `environment.yml:3 of project p`."""
    from wsp.manifest import TemplateDecl

    if i < len(decl.dependencies):
        section = "templates" if isinstance(decl, TemplateDecl) else "projects"
        key = (section, decl.name, "dependencies", i)
        return SpecOrigin("python", spec, f"{layer}'s {spec!r}", ws.manifest_path, key)
    at = env_file.dependency_at if env_file is not None else ()
    if i - len(decl.dependencies) >= len(at):
        return None  # `pip`, added for a pip: list
    line, col = at[i - len(decl.dependencies)]
    where = f"{env_file.path.name}:{line} of {layer}"
    return SpecOrigin("python", spec, where, env_file.path, (), line, col)


def _origins(ws: Workspace, layer: str, decl: Any, env_file: Any) -> list[SpecOrigin]:
    """Where each conda spec and the python constraint of one layer are written."""
    from wsp.manifest import TemplateDecl
    from wsp.specs import conda_name

    section = "templates" if isinstance(decl, TemplateDecl) else "projects"
    out: list[SpecOrigin] = []
    if decl.python:
        key: tuple[str | int, ...] = (section, decl.name, "python")
        out.append(SpecOrigin("python", decl.python, layer, ws.manifest_path, key))
    for i, spec in enumerate(decl.dependencies):
        key = (section, decl.name, "dependencies", i)
        out.append(SpecOrigin(conda_name(spec), spec, layer, ws.manifest_path, key))
    if env_file is not None:
        at = env_file.dependency_at
        for i, spec in enumerate(env_file.dependencies):
            line, col = at[i] if i < len(at) else (1, 1)
            where = f"{env_file.path.name} of {layer}"
            out.append(SpecOrigin(conda_name(spec), spec, where, env_file.path, (), line, col))
    return out


def unsolvable_error(
    ws: Workspace, want: DesiredEnv, exc: SolveError, platform: str = ""
) -> ManifestError:
    """A project's failed solve, located at the line that declares the spec the solver
    blames (in a template or an environment file too), else at its dependencies."""
    on = f" for {platform}" if platform else ""
    message = f"project {want.project!r} can't be solved{on}: {exc.message}"
    origin = origin_of(ws, want.project, exc.names)
    if origin is None and "ipykernel" in exc.names and want.kernel and want.kernel.added_ipykernel:
        # nobody wrote `ipykernel`: the kernel asked for it
        message += (
            "; `jupyter` asks for ipykernel (the env's kernel runs it): when no channel has "
            'one that fits, take it from PyPI: pip = ["ipykernel"]'
        )
        return ws.error(_jupyter_key(ws, want.project), message, value=True)
    if origin is None:
        return ws.error(("projects", want.project, "dependencies"), message)
    if origin.layer != f"project {want.project}":
        message += f" ({origin.spec!r} is declared by {origin.layer})"
    return ManifestError(*origin.located(ws), message)


def _jupyter_key(ws: Workspace, name: str) -> tuple[str, ...]:
    """Where project `name`'s `jupyter` is set: its own table, else the last template of
    its chain that sets it."""
    proj = ws.projects[name]
    if proj.jupyter is not None:
        return ("projects", name, "jupyter")
    for t in reversed(list(_template_chain(ws, proj.extends, set()))):
        if ws.templates[t].jupyter is not None:
            return ("templates", t, "jupyter")
    return ("projects", name)


def _merged_python(ws: Workspace, name: str, pythons: list[_Python]) -> str | None:
    """The Python constraints of all layers as one spec; a located error when they clash
    (at the environment file's line when the one that clashes is written there)."""
    from wsp.specs import python_specs_intersect

    proj = ws.projects[name]
    if not pythons:
        return None
    for i in range(1, len(pythons)):
        so_far = [p for _, p, _ in pythons[: i + 1]]
        if not python_specs_intersect(so_far):
            where = ("projects", name, "python") if proj.python else ("projects", name)
            other = next(
                (
                    (o, p)
                    for o, p, _ in pythons[:i]
                    if not python_specs_intersect([p, pythons[i][1]])
                ),
                None,
            )
            if other is None:  # they clash only all together
                listed = "; ".join(f"{o} (python {p})" for o, p, _ in pythons[: i + 1])
                message = f"no Python satisfies all of {listed}"
            else:
                message = (
                    f"no Python satisfies both {other[0]} (python {other[1]}) and "
                    f"{pythons[i][0]} (python {pythons[i][1]}); align their python versions"
                )
            at = pythons[i][2]  # the one that clashes, when it is a spec among dependencies
            raise ManifestError(*at.located(ws), message) if at else ws.error(where, message)
    return ",".join(dict.fromkeys(p for _, p, _ in reversed(pythons)))


def kernel_name(env_name: str) -> str:
    """The default kernel name of an env: its name as Jupyter accepts one (lower case,
    letters, digits, `-`, `_`, `.`)."""
    import re

    return re.sub(r"[^a-z0-9._-]", "-", env_name.lower()).lstrip("._-") or "env"


def _kernel(ws: Workspace, proj: Any) -> KernelDecl | None:
    """`jupyter` of the project over its templates' (depends-on projects' are not inherited):
    `false` turns it off, `true` on, a table on with the keys it sets."""
    enabled, name, display = False, None, None
    for decl in [*(ws.templates[t] for t in _template_chain(ws, proj.extends, set())), proj]:
        j = decl.jupyter
        if j is None:
            continue
        enabled = j.enabled
        name = j.name if j.name is not None else name
        display = j.display_name if j.display_name is not None else display
    if not enabled:
        return None
    return KernelDecl(name or kernel_name(proj.env_name), display)


def _names_ipykernel(specs: Iterable[str], pip: Iterable[str]) -> bool:
    from wsp.manifest.edit import pip_name
    from wsp.specs import conda_name

    return any(conda_name(s) == "ipykernel" for s in specs) or any(
        pip_name(r) == "ipykernel" for r in pip
    )


def _check_kernel_names(ws: Workspace, out: dict[str, DesiredEnv]) -> None:
    """Kernel names are unique in a workspace (Jupyter lower-cases them)."""
    seen: dict[str, str] = {}
    for name, want in out.items():
        if want.kernel is None:
            continue
        other = seen.setdefault(want.kernel.name.lower(), name)
        if other == name:
            continue
        proj = ws.projects[name]
        where = (
            ("projects", name, "jupyter")
            if proj.jupyter is not None
            else ("projects", name, "extends")
            if proj.extends
            else ("projects", name)
        )
        base = free = kernel_name(want.env_name)
        i = 1
        while free in seen:  # suggest a name no other project has
            i += 1
            free = f"{base}-{i}"
        raise ws.error(
            where,
            f"kernel name {want.kernel.name!r} of project {name!r} is also project {other!r}'s; "
            f'give one of them its own: jupyter = {{ name = "{free}" }}',
        )


def desired(
    ws: Workspace, g: nx.DiGraph | None = None, *, platform: str | None = None
) -> dict[str, DesiredEnv]:
    """Every project's merged env: templates, depends-on closure and itself.

    `g` is `build(ws)`; without it, the graph is built only when a project has depends-on.
    Specs are read as conda reads them and handed on in a form the solver's strict parser
    reads the same; a channel named only in `channel::package` is fetched after the others.
    """
    from wsp.specs import current_platform, solver_match_spec, spec_channel, with_channel

    platform = platform or current_platform()
    if g is None and any(p.depends_on for p in ws.projects.values()):
        g = build(ws)
    ws_targets = targets(ws, platform)
    here = [t for t in ws_targets if t.platform == platform] or [
        sysreq.Variant(platform, platform, ws.system_requirements)
    ]
    known: dict[str, Channel] = {}  # channel -> where it is fetched from

    def channel_of(c: str) -> Channel:
        if c not in known:
            with probe.unattributed():  # resolved once for every project that names it
                known[c] = resolve_channel(ws, c)
        return known[c]

    def pinned(spec: str) -> str:
        """A `defaults::` spec names the channel `defaults` stands for (the engine maps a
        channel-pinned spec to where its channel is fetched from)."""
        if spec_channel(spec) == "defaults":
            return with_channel(spec, channels.DEFAULTS[0])
        return spec

    out: dict[str, DesiredEnv] = {}
    for name, proj in ws.projects.items():
        probe.attribute(name)  # what is looked at for a project is noted as its own
        deps = [] if g is None else _depends_on(g, name)
        m = _merge(ws, name, deps)
        python = _merged_python(ws, name, m.pythons)
        # pip requirements need a Python: with none declared, the newest the channels have
        # (conda's own way: its pip, added for a pip: list, brings one)
        python_wanted = m.python_wanted or bool(m.pip) or bool(m.pip_sources)
        head = [f"python {python}"] if python else (["python"] if python_wanted else [])
        kernel = _kernel(ws, proj)
        if kernel is not None and not _names_ipykernel(m.written, m.pip):
            m.written.append("ipykernel")  # a kernel runs ipykernel: the env needs it
            kernel = KernelDecl(kernel.name, kernel.display_name, added_ipykernel=True)
        solver = [solver_match_spec(s) for s in m.written]  # `x=1=py_0` -> `x ==1 py_0`
        unpinned = head + [s for s in dict.fromkeys(solver) if s not in head]
        all_specs = [pinned(s) for s in unpinned]
        names = _expand_defaults(
            [*m.channels, *(c for c in m.spec_channels if c not in m.channels)]
        )
        resolved = tuple(channel_of(c) for c in names)
        # The project's own package and those of its depends-on projects are importable.
        # (A folder an environment file installs with pip, `-e .`, is pip's, not a .pth's.)
        by_pip = {str(probe.resolve(Path(s.target))) for s in m.pip_sources if s.local}
        editables = tuple(
            (p, str(source_root(ws.projects[p].path)))
            for p in sorted({*deps, name})
            if (python or python_wanted)
            and probe.is_file(ws.projects[p].path / "pyproject.toml")
            and str(ws.projects[p].path) not in by_pip
        )
        sources = tuple(m.pip_sources)
        # pip sources are hashed only when there are some: other workspaces keep their hashes;
        # a local project's metadata files too (its dependencies are part of the declaration)
        pip_sources = {}
        if sources:
            from wsp.pip import local_stamp

            pip_sources = {
                "pip_sources": [s.identity(ws.root) for s in sources],
                "pip_local": [local_stamp(s) for s in sources if s.local],
            }
        pip_options = _merge_pip_options(ws.pip_options, m.pip_layers)
        # exclude-newer is hashed only when set: a workspace without it keeps its hashes.
        dated = {"exclude_newer": m.cutoff} if m.cutoff is not None else {}
        variants = tuple(_with(t, m.requirements) for t in ws_targets)
        candidates = tuple(_with(t, m.requirements) for t in here)
        locked: dict[str, Any] = {
            "specs": sorted(unpinned),  # no mirror in it: the same on every machine
            "pip": sorted(m.pip),
            "channels": [c.name for c in resolved],
            "priority": ws.channel_priority,
            **dated,
            **pip_sources,
        }
        # Only what is declared counts (hashes of workspaces without any stay as they were).
        system = {"*": sysreq.merge(ws.system_requirements, m.requirements)}
        system.update({v.name: v.requirements for v in variants if ws.variants})
        if any(system.values()):
            locked["system"] = {k: [list(r) for r in v] for k, v in system.items()}
        lock_hash = stable_hash(locked)
        spec: dict[str, Any] = {
            "specs": sorted(all_specs),
            "pip": sorted(m.pip),
            "pip_options": pip_options.to_json() if m.pip or sources else None,
            **pip_sources,
            "editables": [list(e) for e in editables],
            "channels": [[c.name, c.identity] for c in resolved],  # never a mirror
            "priority": ws.channel_priority,
            "platform": platform,
            **({"env_vars": sorted(m.env_vars.items())} if m.env_vars else {}),
            **({"kernel": [kernel.name, kernel.display_name]} if kernel else {}),
            **dated,
        }
        if any(c.declared() or c.name != c.platform for c in candidates):
            spec["system"] = [[c.name, sorted(c.declared().items())] for c in candidates]
        spec_hash = stable_hash(spec)
        out[name] = DesiredEnv(
            project=name,
            env_name=proj.env_name,
            prefix=ws.envs_dir / proj.env_name,
            python=python,
            specs=tuple(all_specs),
            pip=tuple(m.pip),
            channels=resolved,
            channel_priority=ws.channel_priority,
            platform=platform,
            spec_hash=spec_hash,
            editables=editables,
            pip_options=pip_options,
            lock_hash=lock_hash,
            kernel=kernel,
            env_vars=tuple(m.env_vars.items()),
            exclude_newer=m.cutoff,
            variants=variants,
            candidates=candidates,
            pip_sources=sources,
        )
    probe.attribute(None)
    _check_kernel_names(ws, out)
    return out


@dataclass(frozen=True)
class Declaration:
    """One project's env as declared (what `wsp export` writes without a solve): specs as
    written, channels in order with `defaults` kept, the pip lines conda would run."""

    project: str
    env_name: str
    python: str | None  # the merged constraint, e.g. "3.11.*"
    dependencies: tuple[str, ...]  # conda specs as written (python's own constraint aside)
    channels: tuple[str, ...]
    nodefaults: bool
    pip: tuple[str, ...]  # pip lines: index options, then requirements (and -e, paths, URLs)
    env_vars: tuple[tuple[str, str], ...]
    implicit_python: bool  # pip requirements or a bare `python`, no version declared


def declaration(ws: Workspace, name: str, g: nx.DiGraph | None = None) -> Declaration:
    """Project `name` merged as declared (no solve, nothing resolved)."""
    if g is None and ws.projects[name].depends_on:
        g = build(ws)
    deps = [] if g is None else _depends_on(g, name)
    m = _merge(ws, name, deps)
    python = _merged_python(ws, name, m.pythons)
    options = _merge_pip_options(ws.pip_options, m.pip_layers)
    pip_lines: list[str] = []
    if m.pip_written:
        if options.no_index:
            pip_lines.append("--no-index")
        elif options.index_url:
            pip_lines.append(f"--index-url {options.index_url}")
        pip_lines += [f"--extra-index-url {u}" for u in options.extra_index_urls]
        pip_lines += [f"--find-links {u}" for u in options.find_links]
    return Declaration(
        project=name,
        env_name=ws.projects[name].env_name,
        python=python,
        dependencies=tuple(m.written),
        channels=tuple(m.channels),
        nodefaults=m.nodefaults,
        pip=tuple(pip_lines + m.pip_written),
        env_vars=tuple(m.env_vars.items()),
        implicit_python=python is None and (m.python_wanted or bool(m.pip_written)),
    )


def _with(target: sysreq.Variant, requirements: sysreq.Requirements) -> sysreq.Variant:
    """`target` with a project's requirements merged over the workspace's."""
    return sysreq.Variant(
        target.name, target.platform, sysreq.merge(target.requirements, requirements)
    )
