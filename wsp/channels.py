"""Channels: a name as workspace.toml declares it, and the locations it is fetched from.

The one place that knows how conda spells a channel: a bare name (`conda-forge`) lives
under conda's channel alias, a local path is a `file://` URL, `defaults` is Anaconda's
main and r. Pure string work; resolving a relative path against the workspace root is
the caller's (graph.py, which records what it looked at).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

ALIAS = "https://conda.anaconda.org"
DEFAULTS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")
_LOCAL_STARTS = ("./", "../", "/", "~", "file:", ".\\", "..\\")
_TOKEN = re.compile(r"/t/([^/]+)")  # conda's token in a channel URL: /t/<token>/
USERINFO = re.compile(r"(?<=://)[^/@\s]+@")  # user:pass@ in a URL
_MASK = "********"


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
    """The spellings under which `[workspace.mirrors]` may name the channel `name`, its own
    first: a channel of `defaults` (Anaconda's main or r) is also fetched from the mirrors
    of `defaults`, keeping its identity."""
    out = [name, name.rstrip("/")]
    if is_named(name):
        out.append(f"{ALIAS}/{name}")
    if name.rstrip("/") in DEFAULTS:
        out.append("defaults")
    return out


# -- identity and credentials ----------------------------------------------------------------


def redact(url: str) -> str:
    """`url` safe to print or write: `user:pass@` and conda's `/t/<token>` masked."""
    parts = urllib.parse.urlsplit(url) if "://" in url else None
    if parts is not None and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        url = urllib.parse.urlunsplit(parts._replace(netloc=f"{_MASK}@{host}"))
    return _TOKEN.sub(f"/t/{_MASK}", url)


def redact_text(text: str) -> str:
    """Every URL credential in `text` masked (a message, a JSON document): the last net
    under everything wsp prints or writes."""
    if "@" not in text and "/t/" not in text:
        return text
    return _TOKEN.sub(f"/t/{_MASK}", USERINFO.sub(f"{_MASK}@", text))


def conda_token(url: str) -> str | None:
    """conda's `/t/<token>` of a channel URL (its path part), or None."""
    found = _TOKEN.search(url)
    return found.group(1) if found else None


def without_token(url: str) -> str:
    """`url` without conda's `/t/<token>`."""
    return _TOKEN.sub("", url, count=1)


def strip_credentials(url: str) -> str:
    """`url` without `user:pass@` and without conda's `/t/<token>` (a channel's identity)."""
    parts = urllib.parse.urlsplit(url) if "://" in url else None
    if parts is not None and "@" in parts.netloc:
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return without_token(url)


def has_credentials(url: str) -> bool:
    return strip_credentials(url) != url


def canonical(location: str) -> str:
    """A channel's identity, the same on every machine: what package records, wsp.lock and
    exports name. A bare name is its URL under conda's standard alias; a URL loses its
    credentials and trailing `/`; a path is its `file://` URL."""
    if is_named(location):
        return f"{ALIAS}/{location.strip('/')}"
    return strip_credentials(as_url(location)).rstrip("/")


_NAME = re.compile(r"^[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*/?$")
_SCHEMES = ("http", "https", "file", "s3", "gcs", "oci")


def channel_problem(location: str) -> str | None:
    """What is wrong with a channel or mirror as written (None: nothing): a URL must parse
    and name a host (a file URL a path), a name be letters, digits and `._+-` (`/` between
    parts, as in `conda-forge/label/dev`). `${VAR}` is left to whoever expands it."""
    text = location.strip()
    if not text:
        return "it is empty"
    if "${" in text or text.startswith("$"):
        return None
    if "://" in text:
        try:
            parts = urllib.parse.urlsplit(text)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError as exc:
            return f"it is not a URL ({exc})"
        if parts.scheme not in _SCHEMES:
            return f"{parts.scheme or 'no'} scheme: a channel URL starts with https://, http:// or file://"
        if parts.scheme == "file":
            # `file://folder` is a path relative to the workspace
            return None if parts.path or parts.netloc else "a file:// URL needs a path"
        if not parts.hostname:
            return "the URL names no host"
        if "@" in parts.netloc and _TOKEN.search(parts.path):
            return (
                "it carries both a password (user:pass@) and a conda token in its path; wsp hands one "
                "credential per host to the fetcher and stores none, so keep only one"
            )
        return None
    if is_local(text):
        return None
    return None if _NAME.match(text) else "a channel name is letters, digits and '._+-'"


def expand_channel(channel: str) -> str:
    """`${VAR}` and `$VAR` in a channel replaced by their values, as conda does
    (os.path.expandvars: an unset variable is left as written)."""
    return os.path.expandvars(channel) if "$" in channel else channel
