"""A cache of the loaded workspace and its desired envs, so a plan skips the work it can.

Loading workspace.toml (tomlkit, pydantic, rattler's spec parser) and merging every
project's desired env cost far more than checking that nothing they read has changed.
After a load that succeeds, `.wsp/desired.json` records the result with what it was
computed from:

- the sha256 of workspace.toml's bytes, and a digest of each of its top-level tables
  (`[workspace]`, `[policy]`, each `[projects.X]` and `[templates.T]` with their
  sub-tables), comments and blank lines aside;
- every path resolved, `~` expanded, file or folder looked for, environment file read
  while loading (`wsp.probe`): project folders, their pyproject.toml and src/, local
  channels, pip find-links, envs-dir (conda's, when envs-dir is not declared), noted per
  project where a project's own load or merge asked it;
- this machine (platform, Python) and the code: wsp's own source and py-rattler's library.

A later load reads workspace.toml and:

- same bytes: asks every recorded question again and uses the cached result when every
  answer is the same (the no-op path: no pydantic, tomlkit, networkx or py-rattler);
- other bytes (an edit): splits the text into its tables again and loads only the tables
  whose text changed, and the projects whose own answers changed (an environment file
  edited), as a document of their own; merges again only the projects those changes reach
  (a template's users, a project's depends-on dependents, `wsp.graph`); everything else
  comes from the cache. Reserved for edits it can prove local: a change to `[workspace]`
  (every project reads it), a question outside any project answered differently, a text it
  can't split into tables with certainty (see `split_tables`), or any error at all loads
  the whole file instead, which reports errors exactly as it always does.

Anything else (a missing or corrupt cache, a different wsp) loads workspace.toml as
usual and writes the cache again. The cache is JSON, never pickle: it sits in the
workspace's folder, and reading it must not be able to run code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import codec, probe
from wsp.graph import DesiredEnv
from wsp.manifest.loader import Workspace, load, source_hash
from wsp.manifest.locate import TomlPositions

if TYPE_CHECKING:
    import networkx as nx

FORMAT = 3
CACHE_NAME = "desired.json"
STATE_DIR = ".wsp"

# wsp's modules whose code decides what load + desired return
_CODE = (
    "__init__.py",
    "conda.py",
    "engines/__init__.py",
    "engines/rattler.py",
    "errors.py",
    "fsutil.py",
    "cache.py",
    "channels.py",
    "codec.py",
    "graph.py",
    "marker.py",
    "manifest/envfile.py",
    "manifest/loader.py",
    "manifest/locate.py",
    "manifest/models.py",
    "pip.py",
    "pipreqs.py",
    "probe.py",
    "specs.py",
    "sysreq.py",
)


def cache_path(root: Path) -> Path:
    return root / STATE_DIR / CACHE_NAME


def _code_id() -> str:
    """Identifies wsp's code and py-rattler's library (which parses specs, names platforms)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in _CODE:
        digest.update(name.encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update((package / name).read_bytes())
    import importlib.util

    spec = importlib.util.find_spec("rattler")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        with os.scandir(folder) as it:
            for e in sorted(it, key=lambda e: e.name):
                if e.name.startswith("rattler.") and e.name.endswith((".so", ".pyd")):
                    st = e.stat()
                    digest.update(f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _machine() -> dict[str, str]:
    return {
        "python": sys.version,
        "platform": sys.platform,
        "machine": os.uname().machine if hasattr(os, "uname") else "",
        "code": _code_id(),
    }


class _LazyPositions(TomlPositions):
    """Positions in workspace.toml, scanned only when an error needs one."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._scanned = False

    def _scan(self) -> None:
        if not self._scanned:
            TomlPositions.__init__(self, self._text)
            self._scanned = True

    def line_col(self, offset: int) -> tuple[int, int]:
        self._scan()
        return super().line_col(offset)

    def find(self, path: tuple[str | int, ...], *, value: bool = False) -> tuple[int, int]:
        self._scan()
        return super().find(path, value=value)


# -- workspace.toml as top-level tables ------------------------------------------------------

TableKey = tuple[str, ...]  # ("workspace",), ("policy",), ("projects", NAME), ("templates", NAME)

_BARE_HEADER = re.compile(
    r"[ \t]*\[[ \t]*([A-Za-z0-9_-]+(?:[ \t]*\.[ \t]*[A-Za-z0-9_-]+)*)[ \t]*\][ \t]*(?:#[^\n]*)?"
)


@dataclasses.dataclass(frozen=True)
class Table:
    """One top-level table of workspace.toml: its header sections in file order."""

    key: TableKey
    sections: tuple[str, ...]  # each a header line and the lines up to the next header
    raw_digest: str  # of its text as written
    digest: str  # of what parsing reads: comments and blank lines aside

    @property
    def text(self) -> str:
        return "".join(self.sections)


def _header(line: str) -> tuple[str, ...] | None:
    """The key path of a `[a.b."c"]` header line; None when the line is not one."""
    body = line.rstrip("\r\n")
    if (m := _BARE_HEADER.fullmatch(body)) is not None:
        return tuple(part.strip(" \t") for part in m.group(1).split("."))
    if body.lstrip(" \t").startswith("[["):
        return None  # an array of tables: workspace.toml has none
    import tomllib

    try:
        doc: Any = tomllib.loads(body)
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(doc, dict) and len(doc) == 1:
        (key, doc), *_ = doc.items()
        path.append(key)
    return tuple(path) if doc == {} and path else None


def _table_key(path: tuple[str, ...]) -> TableKey | None:
    if path[0] in ("projects", "templates"):
        return (path[0], path[1]) if len(path) >= 2 else None
    return (path[0],)


def _parsed_text(text: str) -> str:
    """`text` as far as parsing reads it: without comment-only and blank lines and trailing
    blanks, when no multi-line string could hold such a line; else `text` itself."""
    if '"""' in text or "'''" in text:
        return text
    return "\n".join(
        s for line in text.split("\n") if (s := line.rstrip()) and not s.lstrip().startswith("#")
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def split_tables(text: str) -> dict[TableKey, Table] | None:
    """`text` (workspace.toml) as its top-level tables, in the order they first appear.

    A table is each header section whose header starts with its key (`[projects.x]`,
    `[projects.x.env-vars]`); the text before the first header must be comments. None when
    the text can't be split with certainty: a line starting with `[` that is no table
    header (one inside a multi-line array or string), `[[arrays]]`, a header given twice,
    keys outside the tables above (`[projects]` with dotted keys). `check_tables` then
    proves each section is a TOML document of its own, so that parsing the whole text is
    parsing each section in turn."""
    lines = text.split("\n")
    sections: dict[TableKey, list[list[str]]] = {}
    seen: set[tuple[str, ...]] = set()
    current: list[str] = []  # the text before the first header
    preamble = current
    for i, line in enumerate(lines):
        if i < len(lines) - 1:
            line += "\n"
        if line.lstrip(" \t").startswith("["):
            path = _header(line)
            if path is None or path in seen:
                return None
            seen.add(path)
            key = _table_key(path)
            if key is None:
                return None
            current = []
            sections.setdefault(key, []).append(current)
        current.append(line)
    if _parsed_text("".join(preamble)):
        return None  # keys before the first table
    out: dict[TableKey, Table] = {}
    for key, parts in sections.items():
        texts = tuple("".join(p) for p in parts)
        whole = "".join(texts)
        out[key] = Table(key, texts, _digest(whole), _digest(_parsed_text(whole)))
    return out


def check_tables(tables: Iterable[Table]) -> bool:
    """Whether each section, and each table, is a TOML document of its own (tomllib): a
    header line inside a multi-line string or array leaves a section unterminated."""
    import tomllib

    try:
        for table in tables:
            for section in table.sections:
                tomllib.loads(section)
            if len(table.sections) > 1:
                tomllib.loads(table.text)
    except (tomllib.TOMLDecodeError, ValueError):
        return False
    return True


def _text_of(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


# -- reading ---------------------------------------------------------------------------------


def _read(path: Path, manifest: Path) -> dict[str, Any] | None:
    """The cache's data when this code, on this machine, wrote it for `manifest`."""
    try:
        data = json.loads(path.read_bytes())
        if (
            data["format"] != FORMAT
            or data["manifest"] != str(manifest)
            or data["machine"] != _machine()
        ):
            return None
        return data  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # no cache, or one this code can't read: load as usual


def _probes(items: Any) -> list[probe.Probe]:
    return [(kind, arg, answer) for kind, arg, answer in items]


def _all_probes(data: dict[str, Any]) -> set[probe.Probe]:
    out = set(_probes(data["probes"]))
    for group in ("load_probes", "merge_probes"):
        for items in data[group].values():
            out.update(_probes(items))
    return out


def _hit(data: dict[str, Any], text: str) -> tuple[Workspace, dict[str, DesiredEnv]] | None:
    """The cached result, when every question recorded gets the same answer."""
    if not probe.still_true(_all_probes(data)):
        return None
    ws = codec.load(Workspace, data["workspace"], positions=_LazyPositions(text))
    return ws, codec.load(dict[str, DesiredEnv], data["desired"])


# -- an edit: load what changed ----------------------------------------------------------------


def _dependents(ws: Workspace, projects: set[str], templates: set[str]) -> set[str]:
    """The projects whose merged env reads one of `projects` or `templates`: themselves,
    the projects extending the templates (through templates extending them too) and the
    depends-on dependents of all of those (`graph.affected` without building the graph)."""
    users: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, t in ws.templates.items():
        for ref in t.extends:
            users.setdefault(("template", ref), []).append(("template", name))
    for name, p in ws.projects.items():
        for ref in p.extends:
            users.setdefault(("template", ref), []).append(("project", name))
        for ref in p.depends_on:
            users.setdefault(("project", ref), []).append(("project", name))
    todo = [("project", n) for n in projects] + [("template", n) for n in templates]
    seen = set(todo)
    while todo:
        for user in users.get(todo.pop(), ()):
            if user not in seen:
                seen.add(user)
                todo.append(user)
    return {name for kind, name in seen if kind == "project" and name in ws.projects}


def _edges(ws: Workspace) -> tuple[Any, ...]:
    return (
        tuple((n, t.extends) for n, t in ws.templates.items()),
        tuple((n, p.extends, p.depends_on) for n, p in ws.projects.items()),
    )


def _source_hash(
    raw: bytes, ws: Workspace, load_probes: dict[str, list[probe.Probe]]
) -> str | None:
    """What `load` computes as `source_hash`, from the cache: workspace.toml's bytes, then
    each environment file and the requirement files it reads, project by project."""
    digests = []
    for name, p in ws.projects.items():
        if p.env_file is None:
            continue
        digests.append(hashlib.sha256(p.env_file.raw).digest())
        answers = {arg: a for kind, arg, a in load_probes.get(name, ()) if kind == "sha256"}
        for req in p.env_file.requirement_files:
            answer = answers.get(str(req))
            if not isinstance(answer, str):
                return None
            digests.append(bytes.fromhex(answer))
    return source_hash(raw, digests)


@dataclasses.dataclass
class _Edit:
    """What an incremental load made: the result, and what the cache keeps of it."""

    ws: Workspace
    desired: dict[str, DesiredEnv]
    tables: dict[TableKey, Table]
    probes: list[probe.Probe]
    load_probes: dict[str, list[probe.Probe]]
    merge_probes: dict[str, list[probe.Probe]]
    reloaded: set[str]  # projects whose declaration was loaded again
    merged: set[str]  # projects whose desired env was merged again
    templates: set[str]  # templates loaded again


def _incremental(data: dict[str, Any], manifest: Path, raw: bytes, text: str) -> _Edit | None:
    """The workspace after an edit, loading only what changed; None when that can't be
    proved right (the caller then loads the whole file)."""
    if data.get("tables") is None:
        return None
    tables = split_tables(text)
    if tables is None:
        return None
    old = {tuple(k): (raw_digest, digest) for *k, raw_digest, digest in data["tables"]}
    if not check_tables(t for k, t in tables.items() if old.get(k, ("",))[0] != t.raw_digest):
        return None
    changed = {k for k, t in tables.items() if old.get(k, ("", ""))[1] != t.digest}
    removed = set(old) - set(tables)
    if any(k[0] not in ("projects", "templates", "policy") for k in changed | removed):
        return None  # [workspace] (or a table wsp does not know): load everything
    if not probe.still_true(_probes(data["probes"])):
        return None  # something every project reads changed (envs-dir, a local channel)
    load_probes = {n: _probes(v) for n, v in data["load_probes"].items()}
    merge_probes = {n: _probes(v) for n, v in data["merge_probes"].items()}
    names = [k[1] for k in tables if k[0] == "projects"]
    # every project's questions asked at once: most are shared (a folder, a channel)
    stale = probe.changed(
        {p for group in (load_probes, merge_probes) for ps in group.values() for p in ps}
    )
    reload = {k[1] for k in changed if k[0] == "projects"}
    reload |= {n for n in names if n not in reload and not stale.isdisjoint(load_probes.get(n, ()))}
    templates = {k[1] for k in changed if k[0] == "templates"}
    remerge = {
        n for n in names if n not in reload and not stale.isdisjoint(merge_probes.get(n, ()))
    }

    old_ws = codec.load(Workspace, data["workspace"], positions=_LazyPositions(text))
    old_desired = codec.load(dict[str, DesiredEnv], data["desired"])
    policy_changed = ("policy",) in changed | removed
    sub = None
    if reload or templates or policy_changed:
        part = [tables[("workspace",)]] + [
            t
            for k, t in tables.items()
            if (k[0] == "projects" and k[1] in reload)
            or (k[0] == "templates" and k[1] in templates)
            or (k == ("policy",) and policy_changed)
        ]
        # the specs of the cached load were found valid by this same code: not parsed again
        decls = [*old_ws.projects.values(), *old_ws.templates.values()]
        import tomllib

        text_of_part = "".join(t.text for t in part)
        try:  # read as check_tables read each table: tomlkit is for a whole file's load
            parsed = tomllib.loads(text_of_part)
        except tomllib.TOMLDecodeError:
            return None
        with probe.record() as rec:
            sub = load(
                manifest,
                raw=text_of_part.encode(),
                known_specs=frozenset(s for d in decls for s in d.dependencies),
                known_pythons=frozenset(d.python for d in decls if d.python),
                parsed=parsed,
            )
        if set(sub.projects) != reload or set(sub.templates) != templates:
            return None  # the document of the changed tables is not what they declare
        load_probes.update((n, rec.by_name.get(n, [])) for n in reload)

    def pick(kind: str, new: dict[str, Any], cached: dict[str, Any]) -> dict[str, Any]:
        return {k[1]: new[k[1]] if k[1] in new else cached[k[1]] for k in tables if k[0] == kind}

    ws = dataclasses.replace(
        old_ws,
        projects=pick("projects", sub.projects if sub else {}, old_ws.projects),
        templates=pick("templates", sub.templates if sub else {}, old_ws.templates),
        policy=sub.policy if sub is not None and policy_changed else old_ws.policy,
    )
    for n in set(load_probes) - set(ws.projects):
        del load_probes[n]
    hashed = _source_hash(raw, ws, load_probes)
    if hashed is None:
        return None
    ws = dataclasses.replace(ws, source_hash=hashed)
    if _edges(ws) != _edges(old_ws):
        from wsp import graph as graph_mod

        graph_mod.check(ws)  # an unknown reference or a cycle: ManifestError

    # a table edited without changing what its env is merged from (a description, its
    # keys reordered, a value written another way): nothing to merge again for it
    redeclared = {n for n in reload if old_ws.projects.get(n) != ws.projects[n]}
    retemplated = {n for n in templates if old_ws.templates.get(n) != ws.templates[n]}
    merged = _dependents(ws, redeclared | remerge, retemplated)
    desired = {n: old_desired[n] for n in ws.projects if n not in merged}
    probes = _probes(data["probes"])
    if merged:
        from wsp import graph as graph_mod

        need = graph_mod.with_dependencies(ws, merged)
        part_ws = dataclasses.replace(
            ws, projects={n: p for n, p in ws.projects.items() if n in need}
        )
        with probe.record() as rec:
            new = graph_mod.desired(part_ws)
        merge_probes.update((n, rec.by_name.get(n, [])) for n in merged)
        desired = {n: new[n] if n in merged else desired[n] for n in ws.projects}
        kernels = [d.kernel.name.lower() for d in desired.values() if d.kernel is not None]
        if len(kernels) != len(set(kernels)):
            return None  # two kernels of one name: the full load says which
        known = {(k, a) for k, a, _ in probes}  # what every project shares (their channels)
        probes += [p for p in rec.unattributed if p[:2] not in known]
    for n in set(merge_probes) - set(ws.projects):
        del merge_probes[n]
    return _Edit(ws, desired, tables, probes, load_probes, merge_probes, reload, merged, templates)


# -- writing ---------------------------------------------------------------------------------


def _write_json(path: Path, data: dict[str, Any]) -> None:
    if not path.parent.is_dir():  # only where wsp keeps state already (`wsp apply` makes it)
        return
    from wsp.fsutil import atomic_write_bytes

    with contextlib.suppress(OSError):  # a read-only workspace still plans
        atomic_write_bytes(path, json.dumps(data, separators=(",", ":")).encode())


def _tables_json(text: str, ws: Workspace) -> list[list[str]] | None:
    """The tables of workspace.toml as the cache records them; None when an edit can't be
    loaded table by table (the text does not split with certainty)."""
    tables = split_tables(text)
    if tables is None or not check_tables(tables.values()):
        return None
    if [k[1] for k in tables if k[0] == "projects"] != list(ws.projects) or [
        k[1] for k in tables if k[0] == "templates"
    ] != list(ws.templates):
        return None  # not the order (or the names) the full load reads
    if ("workspace",) not in tables:
        return None
    return [[*k, t.raw_digest, t.digest] for k, t in tables.items()]


def _header_json(manifest: Path, raw: bytes) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "manifest": str(manifest),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "machine": _machine(),
    }


def _write_full(
    path: Path,
    manifest: Path,
    raw: bytes,
    probes: list[probe.Probe],
    load_probes: dict[str, list[probe.Probe]],
    merge_probes: dict[str, list[probe.Probe]],
    ws: Workspace,
    desired: dict[str, DesiredEnv],
) -> None:
    if _holds_secrets(desired):
        return  # ${VAR} values and URL credentials are read each time, never written
    text = _text_of(raw)
    data = {
        **_header_json(manifest, raw),
        "probes": [list(p) for p in probes],
        "load_probes": load_probes,
        "merge_probes": merge_probes,
        "tables": _tables_json(text, ws) if text is not None else None,
        "workspace": codec.dump(ws, sparse=True),
        "desired": codec.dump(desired, sparse=True),
    }
    _write_json(path, data)


def _write_edit(path: Path, manifest: Path, raw: bytes, old: dict[str, Any], e: _Edit) -> None:
    """The cache after an incremental load: what was loaded again dumped, the rest as read."""
    if _holds_secrets({n: e.desired[n] for n in e.merged}):
        return
    old_ws, old_desired = old["workspace"], old["desired"]
    ws_json: dict[str, Any] = {}
    for f in dataclasses.fields(Workspace):
        if f.metadata.get("codec") == "skip":
            continue
        if f.name in ("projects", "templates"):
            again = e.reloaded if f.name == "projects" else e.templates
            ws_json[f.name] = {
                n: codec.dump(decl, sparse=True) if n in again else old_ws[f.name][n]
                for n, decl in getattr(e.ws, f.name).items()
            }
        else:
            ws_json[f.name] = codec.dump(getattr(e.ws, f.name), sparse=True)
    data = {
        **_header_json(manifest, raw),
        "probes": [list(p) for p in e.probes],
        "load_probes": e.load_probes,
        "merge_probes": e.merge_probes,
        "tables": [[*k, t.raw_digest, t.digest] for k, t in e.tables.items()],
        "workspace": ws_json,
        "desired": {
            n: codec.dump(d, sparse=True) if n in e.merged else old_desired[n]
            for n, d in e.desired.items()
        },
    }
    _write_json(path, data)


# -- loading ---------------------------------------------------------------------------------


def _holds_secrets(desired: dict[str, DesiredEnv]) -> bool:
    """A channel with `${VAR}` (its value may be a token) or any URL with credentials (of
    a channel, a pip index, a `name @ URL` requirement)."""
    from wsp.channels import has_credentials, redact_text

    for want in desired.values():
        urls = [u for c in want.channels for u in (c.name, *c.urls)]
        urls += [u for u in (want.pip_options.index_url, *want.pip_options.extra_index_urls) if u]
        urls += list(want.pip_options.find_links)
        if any("$" in u or has_credentials(u) for u in urls):
            return True
        texts = [*want.pip, *(s.text for s in want.pip_sources)]
        if any(redact_text(t) != t for t in texts):
            return True
    return False


def load_desired(
    manifest_path: Path,
) -> tuple[Workspace, dict[str, DesiredEnv], nx.DiGraph | None]:
    """`load` + `graph.check` + `graph.desired`, from the cache when nothing they read
    changed, and for only what changed after an edit (see the module's docstring).

    Returns the workspace, its desired envs and the project graph when one was built.
    """
    from wsp import deferred

    manifest = manifest_path.resolve()
    cache = cache_path(manifest.parent)
    try:
        raw = manifest.read_bytes()
    except OSError:
        raw = None  # `load` says what is wrong
    text = _text_of(raw) if raw is not None else None
    data = _read(cache, manifest) if text is not None else None
    if data is not None and raw is not None and text is not None:
        try:
            same = data["sha256"] == hashlib.sha256(raw).hexdigest()
            if same and (hit := _hit(data, text)) is not None:
                return (*hit, None)
            # an edit to workspace.toml, or to a file a project reads (an environment file)
            if (edit := _incremental(data, manifest, raw, text)) is not None:
                deferred.write(str(cache), lambda: _write_edit(cache, manifest, raw, data, edit))
                return edit.ws, edit.desired, None
        except Exception:  # any doubt: the full load decides, and says what is wrong
            pass
    return _load_all(manifest_path, manifest, cache, raw)


def _load_all(
    manifest_path: Path, manifest: Path, cache: Path, raw: bytes | None
) -> tuple[Workspace, dict[str, DesiredEnv], nx.DiGraph | None]:
    """The whole file loaded and merged; the cache written for it."""
    from wsp import deferred
    from wsp import graph as graph_mod

    with probe.record() as loading:
        ws = load(manifest_path)
    with probe.record() as merging:
        g = graph_mod.check(ws)
        desired = graph_mod.desired(ws, g)
    # What the cache is checked against must be what was loaded: the probes hold the
    # sha256 of the bytes `load` read.
    sha = ("sha256", str(manifest))
    digest = next((a for k, arg, a in loading if (k, arg) == sha), None)
    if raw is not None and digest == hashlib.sha256(raw).hexdigest():
        probes: dict[tuple[str, str], probe.Answer] = {}
        for k, arg, a in [*loading.unattributed, *merging.unattributed]:
            probes[(k, arg)] = a
        probes.pop(sha, None)  # the cache keeps the digest of the bytes it was written for
        flat = [(k, arg, a) for (k, arg), a in probes.items()]
        deferred.write(
            str(cache),
            lambda: _write_full(
                cache, manifest, raw, flat, loading.by_name, merging.by_name, ws, desired
            ),
        )
    return ws, desired, g
