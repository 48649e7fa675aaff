"""A cache of the loaded workspace and its desired envs, so a no-op plan skips the work.

Loading workspace.toml (tomlkit, pydantic, rattler's spec parser) and merging every
project's desired env cost far more than checking that nothing they read has changed.
After a load that succeeds, `.wsp/desired.json` records the result with what it was
computed from:

- the sha256 of workspace.toml's bytes (and of every environment file read);
- every path resolved, `~` expanded, file or folder looked for while loading (`wsp.probe`):
  project folders, their pyproject.toml and src/, local channels, pip find-links,
  envs-dir (conda's, when envs-dir is not declared: found again through the environment);
- this machine (platform, Python) and the code: wsp's own source and py-rattler's library.

A later load reads workspace.toml, asks every recorded question again and uses the
cached result only when every answer is the same. Anything else (a change, a missing or
corrupt cache, a different wsp) loads workspace.toml as usual, which reports errors as
it always does, and writes the cache again. The cache is JSON, never pickle: it sits in
the workspace's folder, and reading it must not be able to run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import probe
from wsp.engines import Channel
from wsp.manifest.envfile import EnvFile
from wsp.manifest.loader import (
    BaseRules,
    ChannelRules,
    NamingRules,
    PipRules,
    PolicyDecl,
    ProjectDecl,
    TemplateDecl,
    Workspace,
    load,
)
from wsp.manifest.locate import TomlPositions
from wsp.pip import PipOptions

if TYPE_CHECKING:
    import networkx as nx

    from wsp.graph import DesiredEnv

FORMAT = 1
CACHE_NAME = "desired.json"
STATE_DIR = ".wsp"

# wsp's modules whose code decides what load + desired return
_CODE = (
    "__init__.py",
    "conda.py",
    "engines/__init__.py",
    "engines/rattler.py",
    "specs.py",
    "errors.py",
    "fsutil.py",
    "graph.py",
    "manifest/cache.py",
    "manifest/envfile.py",
    "manifest/loader.py",
    "manifest/locate.py",
    "manifest/models.py",
    "pip.py",
    "pipreqs.py",
    "probe.py",
)


def cache_path(root: Path) -> Path:
    return root / STATE_DIR / CACHE_NAME


def _code_id() -> str:
    """Identifies wsp's code and py-rattler's library (which parses specs, names platforms)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
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


# -- to JSON and back ----------------------------------------------------------------------


def _pip_options(o: PipOptions) -> dict[str, Any]:
    return o.to_json()


def _pip_options_of(d: dict[str, Any]) -> PipOptions:
    return PipOptions(
        index_url=d["index_url"],
        extra_index_urls=tuple(d["extra_index_urls"]),
        find_links=tuple(d["find_links"]),
        no_index=d["no_index"],
    )


def _env_file(e: EnvFile | None) -> dict[str, Any] | None:
    return None if e is None else e.to_json()


def _env_file_of(d: dict[str, Any] | None) -> EnvFile | None:
    return None if d is None else EnvFile.of_json(d)


def _policy(p: PolicyDecl) -> dict[str, Any]:
    return {
        "naming": [p.naming.pattern, list(p.naming.forbidden)],
        "base": [p.base.auto_activate, list(p.base.allowed)],
        "pip": p.pip.pinned,
        "channels": list(p.channels.allowed) if p.channels.allowed is not None else None,
        "stale_days": p.stale_days,
        "rules": p.rules,
    }


def _policy_of(d: dict[str, Any]) -> PolicyDecl:
    return PolicyDecl(
        naming=NamingRules(d["naming"][0], tuple(d["naming"][1])),
        base=BaseRules(d["base"][0], tuple(d["base"][1])),
        pip=PipRules(d["pip"]),
        channels=ChannelRules(tuple(d["channels"]) if d["channels"] is not None else None),
        stale_days=d["stale_days"],
        rules=dict(d["rules"]),
    )


def _workspace(ws: Workspace) -> dict[str, Any]:
    return {
        "name": ws.name,
        "root": str(ws.root),
        "manifest_path": str(ws.manifest_path),
        "description": ws.description,
        "channels": list(ws.channels),
        "channel_priority": ws.channel_priority,
        "platforms": list(ws.platforms),
        "envs_dir": str(ws.envs_dir),
        "env_prefix": ws.env_prefix,
        "mirrors": {k: list(v) for k, v in ws.mirrors.items()},
        "templates": {
            n: [
                t.python,
                list(t.channels),
                list(t.dependencies),
                list(t.pip),
                list(t.extends),
                [list(v) for v in t.env_vars],
            ]
            for n, t in ws.templates.items()
        },
        "projects": {
            n: {
                "env_name": p.env_name,
                "path": str(p.path),
                "python": p.python,
                "channels": list(p.channels),
                "dependencies": list(p.dependencies),
                "pip": list(p.pip),
                "extends": list(p.extends),
                "depends_on": list(p.depends_on),
                "env_file": _env_file(p.env_file),
                "ignore": list(p.ignore),
                "env_vars": [list(v) for v in p.env_vars],
                "pip_options": _pip_options(p.pip_options),
            }
            for n, p in ws.projects.items()
        },
        "policy": _policy(ws.policy),
        "source_hash": ws.source_hash,
        "pip_options": _pip_options(ws.pip_options),
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


def _workspace_of(d: dict[str, Any], text: str) -> Workspace:
    return Workspace(
        name=d["name"],
        root=Path(d["root"]),
        manifest_path=Path(d["manifest_path"]),
        description=d["description"],
        channels=tuple(d["channels"]),
        channel_priority=d["channel_priority"],
        platforms=tuple(d["platforms"]),
        envs_dir=Path(d["envs_dir"]),
        env_prefix=d["env_prefix"],
        mirrors={k: tuple(v) for k, v in d["mirrors"].items()},
        templates={
            n: TemplateDecl(
                n, py, tuple(ch), tuple(deps), tuple(pip), tuple(ext), tuple((k, v) for k, v in ev)
            )
            for n, (py, ch, deps, pip, ext, ev) in d["templates"].items()
        },
        projects={
            n: ProjectDecl(
                name=n,
                env_name=p["env_name"],
                path=Path(p["path"]),
                python=p["python"],
                channels=tuple(p["channels"]),
                dependencies=tuple(p["dependencies"]),
                pip=tuple(p["pip"]),
                extends=tuple(p["extends"]),
                depends_on=tuple(p["depends_on"]),
                env_file=_env_file_of(p["env_file"]),
                ignore=tuple(p["ignore"]),
                env_vars=tuple((k, v) for k, v in p["env_vars"]),
                pip_options=_pip_options_of(p["pip_options"]),
            )
            for n, p in d["projects"].items()
        },
        policy=_policy_of(d["policy"]),
        source_hash=d["source_hash"],
        pip_options=_pip_options_of(d["pip_options"]),
        positions=_LazyPositions(text),
    )


def _desired(desired: dict[str, DesiredEnv]) -> dict[str, Any]:
    options: list[dict[str, Any]] = []  # every env shares the workspace's: store them once
    channels: list[list[Any]] = []

    def index(table: list[Any], item: Any) -> int:
        if item not in table:
            table.append(item)
        return table.index(item)

    envs = {
        n: [
            w.env_name,
            str(w.prefix),
            w.python,
            list(w.specs),
            list(w.pip),
            [index(channels, [c.name, list(c.urls)]) for c in w.channels],
            w.channel_priority,
            w.platform,
            w.spec_hash,
            [list(e) for e in w.editables],
            index(options, _pip_options(w.pip_options)),
            w.lock_hash,
            [list(v) for v in w.env_vars],
        ]
        for n, w in desired.items()
    }
    return {"envs": envs, "channels": channels, "pip_options": options}


def _desired_of(d: dict[str, Any]) -> dict[str, DesiredEnv]:
    from wsp.graph import DesiredEnv

    channels = [Channel(name, tuple(urls)) for name, urls in d["channels"]]
    options = [_pip_options_of(o) for o in d["pip_options"]]
    return {
        n: DesiredEnv(
            project=n,
            env_name=env,
            prefix=Path(prefix),
            python=python,
            specs=tuple(specs),
            pip=tuple(pip),
            channels=tuple(channels[i] for i in chans),
            channel_priority=priority,
            platform=platform,
            spec_hash=spec_hash,
            editables=tuple((a, b) for a, b in editables),
            pip_options=options[opts],
            lock_hash=lock_hash,
            env_vars=tuple((k, v) for k, v in env_vars),
        )
        for n, (
            env,
            prefix,
            python,
            specs,
            pip,
            chans,
            priority,
            platform,
            spec_hash,
            editables,
            opts,
            lock_hash,
            env_vars,
        ) in d["envs"].items()
    }


# -- reading and writing -------------------------------------------------------------------


def _read(path: Path, manifest: Path, raw: bytes) -> tuple[Workspace, dict[str, DesiredEnv]] | None:
    try:
        data = json.loads(path.read_bytes())
        if (
            data["format"] != FORMAT
            or data["manifest"] != str(manifest)
            or data["sha256"] != hashlib.sha256(raw).hexdigest()
            or data["machine"] != _machine()
            or not probe.still_true(tuple(p) for p in data["probes"])
        ):
            return None
        text = raw.decode("utf-8").removeprefix("\ufeff")
        return _workspace_of(data["workspace"], text), _desired_of(data["desired"])
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # no cache, or one this code can't read: load as usual


def _write(
    path: Path,
    manifest: Path,
    raw: bytes,
    probes: list[probe.Probe],
    ws: Workspace,
    desired: dict[str, DesiredEnv],
) -> None:
    if not path.parent.is_dir():  # only where wsp keeps state already (`wsp apply` makes it)
        return
    if any("$" in c.name for w in desired.values() for c in w.channels):
        return  # a channel with ${VAR}: its value is read each time, and never written
    from wsp.fsutil import atomic_write_bytes

    data = {
        "format": FORMAT,
        "manifest": str(manifest),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "machine": _machine(),
        "probes": [list(p) for p in probes],
        "workspace": _workspace(ws),
        "desired": _desired(desired),
    }
    with contextlib.suppress(OSError):  # a read-only workspace still plans
        atomic_write_bytes(path, json.dumps(data, separators=(",", ":")).encode())


def load_desired(
    manifest_path: Path,
) -> tuple[Workspace, dict[str, DesiredEnv], nx.DiGraph | None]:
    """`load` + `graph.check` + `graph.desired`, from the cache when nothing they read changed.

    Returns the workspace, its desired envs and the project graph when one was built.
    """
    from wsp import graph as graph_mod

    manifest = manifest_path.resolve()
    cache = cache_path(manifest.parent)
    try:
        raw = manifest.read_bytes()
    except OSError:
        raw = None  # `load` says what is wrong
    if raw is not None and (hit := _read(cache, manifest, raw)) is not None:
        return (*hit, None)
    with probe.record() as probes:
        ws = load(manifest_path)
        g = graph_mod.check(ws)
        desired = graph_mod.desired(ws, g)
    # What the cache is checked against must be what was loaded: the probes hold the
    # sha256 of the bytes `load` read.
    digest = next((a for k, arg, a in probes if k == "sha256" and arg == str(manifest)), None)
    if raw is not None and digest == hashlib.sha256(raw).hexdigest():
        from wsp import deferred

        deferred.write(str(cache), lambda: _write(cache, manifest, raw, probes, ws, desired))
    return ws, desired, g
