"""The project graph (networkx) and each project's merged, desired env."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import channels, probe
from wsp.engines import Channel
from wsp.errors import ManifestError
from wsp.fsutil import stable_hash
from wsp.manifest import Workspace
from wsp.marker import Declared
from wsp.pip import PipOptions, source_root

if TYPE_CHECKING:
    import networkx as nx

Node = tuple[str, str]  # ("project" | "template", name)


def project(name: str) -> Node:
    return ("project", name)


def template(name: str) -> Node:
    return ("template", name)


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
    exclude_newer: str | None = None  # packages published after this are ignored (specs.py)

    def declared(self) -> Declared:
        """What the env's marker records of the declaration (plan reasons compare it)."""
        return Declared(
            python=self.python,
            dependencies=self.specs,
            pip=self.pip,
            editables=tuple(name for name, _ in self.editables),
            channels=tuple(c.name for c in self.channels),
            exclude_newer=self.exclude_newer,
        )


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


def _expand_defaults(ws: Workspace, names: list[str]) -> list[str]:
    """conda's meta-channels: `nodefaults` is dropped, `defaults` is Anaconda's main and r
    (unless [workspace.mirrors] names `defaults`)."""
    out: list[str] = []
    for c in names:
        if c == "nodefaults":
            continue
        expanded = [c] if c != "defaults" or "defaults" in ws.mirrors else list(channels.DEFAULTS)
        out.extend(e for e in expanded if e not in out)
    return out


def resolve_channel(ws: Workspace, name: str) -> Channel:
    """A declared channel and where to fetch it: its mirrors when [workspace.mirrors] names it."""
    for key in channels.candidates(name):
        if ws.mirrors.get(key):
            return Channel(name=name, urls=tuple(_location(ws, m) for m in ws.mirrors[key]))
    return Channel(name=name, urls=(_location(ws, name),))


# -- desired envs -------------------------------------------------------------------------


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


def desired(
    ws: Workspace, g: nx.DiGraph | None = None, *, platform: str | None = None
) -> dict[str, DesiredEnv]:
    """Every project's merged env: templates, depends-on closure and itself.

    `g` is `build(ws)`; without it, the graph is built only when a project has depends-on.
    """
    from wsp.specs import (
        canonical_match_spec,
        conda_name,
        current_platform,
        python_specs_intersect,
    )

    platform = platform or current_platform()
    if g is None and any(p.depends_on for p in ws.projects.values()):
        g = build(ws)
    known: dict[str, Channel] = {}  # channel -> where it is fetched from
    out: dict[str, DesiredEnv] = {}
    for name, proj in ws.projects.items():
        deps = [] if g is None else _depends_on(g, name)
        layers: list[tuple[str, Any]] = []  # (origin, decl) in merge order, lowest priority first
        for dep in deps:
            for t in _template_chain(ws, ws.projects[dep].extends, set()):
                layers.append((f"template {t} (via {dep})", ws.templates[t]))
            layers.append((f"project {dep}", ws.projects[dep]))
        for t in _template_chain(ws, proj.extends, set()):
            layers.append((f"template {t}", ws.templates[t]))
        layers.append((f"project {name}", proj))

        pythons: list[tuple[str, str]] = []
        cutoff = ws.exclude_newer  # the last layer that sets exclude-newer wins
        specs: list[str] = []
        pip: list[str] = []
        channels: list[str] = []
        for origin, decl in layers:
            env_file = getattr(decl, "env_file", None)
            own_specs = list(decl.dependencies) + (
                [canonical_match_spec(d) for d in env_file.dependencies] if env_file else []
            )
            if decl.python:
                pythons.append((origin, decl.python))
            if decl.exclude_newer is not None:
                cutoff = decl.exclude_newer
            for spec in own_specs:
                if conda_name(spec) == "python":
                    if (py := _python_from_spec(spec)) is not None:
                        pythons.append((origin, py))
                elif spec not in specs:
                    specs.append(spec)
            for req in list(decl.pip) + (list(env_file.pip) if env_file else []):
                if req not in pip:
                    pip.append(req)
            # channels: later layers (higher priority) go first
            own_channels = list(decl.channels) + (list(env_file.channels) if env_file else [])
            channels = [*own_channels, *(c for c in channels if c not in own_channels)]
        channels = _expand_defaults(ws, [*channels, *(c for c in ws.channels if c not in channels)])

        python = None
        if pythons:
            for i in range(1, len(pythons)):
                so_far = [p for _, p in pythons[: i + 1]]
                if not python_specs_intersect(so_far):
                    where = ("projects", name, "python") if proj.python else ("projects", name)
                    other = next(
                        (
                            (o, p)
                            for o, p in pythons[:i]
                            if not python_specs_intersect([p, pythons[i][1]])
                        ),
                        None,
                    )
                    if other is None:  # they clash only all together
                        listed = "; ".join(f"{o} (python {p})" for o, p in pythons[: i + 1])
                        raise ws.error(where, f"no Python satisfies all of {listed}")
                    raise ws.error(
                        where,
                        f"no Python satisfies both {other[0]} (python {other[1]}) and "
                        f"{pythons[i][0]} (python {pythons[i][1]}); align their python versions",
                    )
            python = ",".join(dict.fromkeys(p for _, p in reversed(pythons)))
        all_specs = ([f"python {python}"] if python else []) + specs
        resolved = tuple(
            known[c] if c in known else known.setdefault(c, resolve_channel(ws, c))
            for c in channels
        )
        # The project's own package and those of its depends-on projects are importable.
        editables = tuple(
            (p, str(source_root(ws.projects[p].path)))
            for p in sorted({*deps, name})
            if python and probe.is_file(ws.projects[p].path / "pyproject.toml")
        )
        if pip and not python:
            raise ws.error(
                ("projects", name, "pip"),
                f'project {name!r} has pip requirements but no python: add python = "3.x"',
            )
        # exclude-newer is hashed only when set: a workspace without it keeps its hashes.
        dated = {"exclude_newer": cutoff} if cutoff is not None else {}
        lock_hash = stable_hash(
            {
                "specs": sorted(all_specs),
                "pip": sorted(pip),
                "channels": [c.name for c in resolved],
                "priority": ws.channel_priority,
                **dated,
            }
        )
        spec_hash = stable_hash(
            {
                "specs": sorted(all_specs),
                "pip": sorted(pip),
                "pip_options": ws.pip_options.to_json() if pip else None,
                "editables": [list(e) for e in editables],
                "channels": [[c.name, *c.urls] for c in resolved],
                "priority": ws.channel_priority,
                "platform": platform,
                **dated,
            }
        )
        out[name] = DesiredEnv(
            project=name,
            env_name=proj.env_name,
            prefix=ws.envs_dir / proj.env_name,
            python=python,
            specs=tuple(all_specs),
            pip=tuple(pip),
            channels=resolved,
            channel_priority=ws.channel_priority,
            platform=platform,
            spec_hash=spec_hash,
            editables=editables,
            pip_options=ws.pip_options,
            lock_hash=lock_hash,
            exclude_newer=cutoff,
        )
    return out
