"""Channels: a name as workspace.toml declares it, and the locations it is fetched from.

The one place that knows how conda spells a channel: a bare name (`conda-forge`) lives
under conda's channel alias, a local path is a `file://` URL, `defaults` is Anaconda's
main and r. Pure string work; resolving a relative path against the workspace root is
the caller's (graph.py, which records what it looked at).
"""

from __future__ import annotations

from pathlib import Path

ALIAS = "https://conda.anaconda.org"
DEFAULTS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")
_LOCAL_STARTS = ("./", "../", "/", "~", "file:", ".\\", "..\\")


def is_local(location: str) -> bool:
    """A path on this machine (or a `file:` URL), not a channel name or a remote URL."""
    return location.startswith(_LOCAL_STARTS) or location == "."


def is_named(location: str) -> bool:
    """A bare channel name (`conda-forge`, `pytorch`), as opposed to a URL or a path."""
    return "://" not in location and not is_local(location)


def as_url(location: str) -> str:
    """A location as the solver takes it: absolute paths as `file://` URLs; URLs and
    bare channel names unchanged."""
    if "://" in location:
        return location
    if location.startswith(("/", "~")):
        return Path(location).expanduser().resolve().as_uri()
    return location


def base_url(location: str) -> str:
    """The full URL of a channel, ending in `/`: a bare name under conda's alias."""
    url = as_url(location)
    if "://" not in url:
        url = f"{ALIAS}/{url}"
    return url.rstrip("/") + "/"


def key(location: str) -> str:
    """A location reduced for comparison: `file:///a/b/` and `/a/b` are the same."""
    return location.removeprefix("file://").rstrip("/")


def short_name(channel: str) -> str:
    """A channel as a comparable name: `https://conda.anaconda.org/conda-forge/` -> `conda-forge`."""
    c = channel.strip().rstrip("/")
    if c.startswith(ALIAS + "/"):
        c = c[len(ALIAS) + 1 :]
    return c.lower() if "://" not in c else c


def candidates(name: str) -> list[str]:
    """The spellings under which `[workspace.mirrors]` may name the channel `name`."""
    out = [name, name.rstrip("/")]
    if is_named(name):
        out.append(f"{ALIAS}/{name}")
    return out
