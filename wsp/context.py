"""A loaded workspace: what workspace.toml declares and what is on disk, read once.

The first step of every command: `load_context` finds workspace.toml, loads it (from
`.wsp/desired.json` when nothing it read has changed, wsp/cache.py) and observes envs-dir.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from wsp import graph as graph_mod
from wsp.engines import Channel
from wsp.errors import WspError
from wsp.graph import DesiredEnv
from wsp.identity import Owner, read_id
from wsp.manifest import Workspace, find_manifest
from wsp.observe import ObservedEnv, observe

if TYPE_CHECKING:
    import networkx as nx

    from wsp.userconfig import UserConfig


@dataclass(frozen=True)
class Context:
    """A loaded workspace: its desired envs, what is on disk, and its graph (built on first use:
    a no-op plan never needs networkx)."""

    ws: Workspace
    desired: dict[str, DesiredEnv]
    observed: dict[str, ObservedEnv]
    owner: Owner
    _graph: nx.DiGraph | None = field(default=None, repr=False, compare=False)

    @property
    def graph(self) -> nx.DiGraph:
        g = self._graph
        if g is None:
            g = graph_mod.build(self.ws)
            object.__setattr__(self, "_graph", g)
        return g

    @property
    def state_dir(self) -> Path:
        return self.ws.root / ".wsp"

    def envs_dir_note(self) -> str | None:
        """Said when the envs-dir is the default and conda's settings would now pick another
        folder than the one this workspace's envs are in."""
        if self.ws.envs_dir_declared:
            return None
        from wsp.conda import envs_dir_choice

        return envs_dir_choice(self.ws.root).note

    def owned_projects(self) -> set[str]:
        """The projects the envs this workspace owns were built for (declared or not)."""
        return {
            o.marker.project for o in self.observed.values() if o.ownership == "ours" and o.marker
        }

    def check_targets(self, targets: Iterable[str], *, flag: str = "--target") -> tuple[str, ...]:
        """`targets` when each names a project (or an owned env); else an error naming `flag`."""
        targets = tuple(targets)
        owned = self.owned_projects()
        for t in targets:
            if t not in self.ws.projects and t not in owned and t not in self.observed:
                raise self.unknown_project(t, what=f"{flag} {t!r}" if flag else repr(t))
        return targets

    def unknown_project(self, name: str, *, what: str | None = None) -> WspError:
        """`NAME is not a project of this workspace`, with the closest name or the list."""
        import difflib  # only for this error: not on every command's start

        close = difflib.get_close_matches(name, list(self.ws.projects), n=1)
        return WspError(
            f"{what or repr(name)} is not a project of this workspace",
            hint=f"did you mean {close[0]!r}?"
            if close
            else f"projects: {', '.join(self.ws.projects) or '(none)'}",
        )


def load_context(directory: Path) -> Context:
    """The workspace around `directory`: its desired envs come from `.wsp/desired.json`
    when nothing they were computed from has changed (wsp.cache)."""
    from wsp.cache import load_desired

    ws, desired, g = load_desired(find_manifest(directory))
    owner = owner_of(ws)
    return Context(ws, desired, observe(ws, owner), owner, g)


def owner_of(ws: Workspace) -> Owner:
    """The workspace as its envs' markers name it (its id read from `.wsp/id`)."""
    return Owner(ws.name, str(ws.manifest_path), read_id(ws.root / ".wsp"))


def refresh(ctx: Context) -> Context:
    """The same workspace, with what is on disk (envs, its id) read again."""
    owner = owner_of(ctx.ws)
    return Context(ctx.ws, ctx.desired, observe(ctx.ws, owner), owner, ctx._graph)


@cache
def _user_config() -> UserConfig:
    from wsp.userconfig import load_user_config

    return load_user_config()


def sources(want: DesiredEnv) -> tuple[Channel, ...]:
    """The env's channels as this machine fetches them: the user's mirrors (wsp's user
    file, .condarc `channel_alias` / `custom_channels`) before the workspace's. Their
    identities stay what workspace.toml declares."""
    cfg = _user_config()
    return tuple(
        replace(c, urls=cfg.fetch_locations(c.name, c.identity, c.urls)) for c in want.channels
    )
