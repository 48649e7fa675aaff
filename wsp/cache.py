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
from typing import TYPE_CHECKING

from wsp import codec, probe
from wsp.graph import DesiredEnv
from wsp.manifest.loader import Workspace, load
from wsp.manifest.locate import TomlPositions

if TYPE_CHECKING:
    import networkx as nx

FORMAT = 2
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
        ws = codec.load(Workspace, data["workspace"], positions=_LazyPositions(text))
        return ws, codec.load(dict[str, DesiredEnv], data["desired"])
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
    if _holds_secrets(desired):
        return  # ${VAR} values and URL credentials are read each time, never written
    from wsp.fsutil import atomic_write_bytes

    data = {
        "format": FORMAT,
        "manifest": str(manifest),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "machine": _machine(),
        "probes": [list(p) for p in probes],
        "workspace": codec.dump(ws),
        "desired": codec.dump(desired),
    }
    with contextlib.suppress(OSError):  # a read-only workspace still plans
        atomic_write_bytes(path, json.dumps(data, separators=(",", ":")).encode())


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
