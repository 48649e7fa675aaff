"""The user's configuration: conda's .condarc keys wsp honours, and wsp's own user file.

A channel has one identity, its canonical URL, the same on every machine: a name is a
channel of conda.anaconda.org (`conda-forge` -> `https://conda.anaconda.org/conda-forge`),
`defaults` is Anaconda's main and r, a path is its `file://` URL, a URL is itself without
credentials. Where a channel is fetched from is a fact of one machine: the user's mirrors
(`~/.config/wsp/config.toml` `[mirrors]`), the workspace's `[workspace.mirrors]`, then the
user's .condarc (`channel_alias`, `custom_channels`, `custom_multichannels`,
`default_channels`). Records, wsp.lock and exports name the canonical URL, never a location.

.condarc files are read in conda's order (`wsp.condarc.search_path`) and merged as
conda merges them: a scalar from the last file that sets it (an environment variable
`CONDA_<KEY>` wins), a list with the later files' entries first, a map key by key.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsp.channels import ALIAS, DEFAULTS, is_named, redact, strip_credentials
from wsp.condarc import condarc_map, condarc_sequence, condarc_value, rc_files

STANDARD_ALIAS = ALIAS  # conda's channel_alias when .condarc sets none
DEFAULT_CHANNELS = DEFAULTS  # conda's default_channels when .condarc sets none
USER_CONFIG_FORMAT = "~/.config/wsp/config.toml"


# -- credentials ---------------------------------------------------------------------------


# -- .condarc, merged as conda merges it ----------------------------------------------------


def _default_prefix() -> Path | None:
    from wsp.conda import find_conda

    found = find_conda()
    return found.conda_prefix if found is not None else None


# -- wsp's own user file --------------------------------------------------------------------


def user_config_path() -> Path:
    """wsp's user file: $WSP_CONFIG, else $XDG_CONFIG_HOME/wsp/config.toml, else
    ~/.config/wsp/config.toml."""
    if explicit := os.environ.get("WSP_CONFIG"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "wsp" / "config.toml"


def _read_user_file(path: Path) -> dict[str, tuple[str, ...]]:
    """`[mirrors]` of wsp's user file; a bad file is a located error (the user wrote it)."""
    from wsp.errors import WspError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise WspError(f"{path}: cannot read it ({exc})") from None
    import tomllib  # only when the file exists (~1.5 ms)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else str(path)
        raise WspError(f"{where}: {str(exc).split(' (at line')[0]}; fix the TOML") from None
    unknown = sorted(set(data) - {"mirrors"})
    if unknown:
        line = _line_of(text, f"[{unknown[0]}]") or _line_of(text, unknown[0])
        raise WspError(
            f"{path}:{line}:1: unknown table or key {unknown[0]!r}; wsp's user file has "
            "[mirrors] (channel name or URL -> list of URLs)"
        )
    mirrors = data.get("mirrors", {})
    out: dict[str, tuple[str, ...]] = {}
    if not isinstance(mirrors, dict):
        raise WspError(f"{path}:{_line_of(text, 'mirrors')}:1: `mirrors` must be a table")
    for name, urls in mirrors.items():
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            raise WspError(
                f"{path}:{_line_of(text, name)}:1: mirrors of {name!r} must be a list of "
                'URLs or paths, e.g. ["file:///srv/mirror/conda-forge"]'
            )
        out[name] = tuple(urls)
    return out


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return 1


# -- the typed configuration ---------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """One declared channel, resolved: its identity and where to fetch it, in order."""

    canonical: str  # no credentials, no trailing slash
    locations: tuple[str, ...]  # may carry credentials: use them, never print them

    @property
    def redacted_locations(self) -> tuple[str, ...]:
        return tuple(redact(u) for u in self.locations)


@dataclass(frozen=True)
class UserConfig:
    """What the user's .condarc files, environment and wsp user file say about channels,
    envs, package caches and the network. Built by `load_user_config`."""

    channel_alias: str = STANDARD_ALIAS
    custom_channels: Mapping[str, str] = field(default_factory=dict)
    custom_multichannels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_channels: tuple[str, ...] = DEFAULT_CHANNELS
    envs_dirs: tuple[str, ...] = ()
    pkgs_dirs: tuple[str, ...] = ()
    proxy_servers: Mapping[str, str] = field(default_factory=dict)
    ssl_verify: bool | str = True
    remote_max_retries: str | None = None  # as written; `max_retries` reads it
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # wsp user file
    user_file: Path | None = None

    # identity ---------------------------------------------------------------------------
    def canonical_urls(self, channel: str) -> tuple[str, ...]:
        """The canonical URLs a declared channel stands for: one, or several for a
        multichannel (`defaults`, a `custom_multichannels` name)."""
        channel = channel.strip()
        if channel == "defaults":
            return tuple(_canonical(c) for c in self.default_channels)
        if channel in self.custom_multichannels:
            return tuple(_canonical(c) for c in self.custom_multichannels[channel])
        return (_canonical(channel),)

    def canonical_url(self, channel: str) -> str:
        """The one canonical URL of a declared channel (a multichannel's first member)."""
        return self.canonical_urls(channel)[0]

    # where to fetch ---------------------------------------------------------------------
    def resolve(
        self, channel: str, workspace_mirrors: Mapping[str, Sequence[str]] | None = None
    ) -> tuple[Location, ...]:
        """Each channel a declared one stands for, with where to fetch it: the user's
        mirrors, then the workspace's, then conda's own location for it (the canonical URL
        unless `channel_alias` or `custom_channels` say otherwise)."""
        out = []
        for canonical in self.canonical_urls(channel):
            keys = _keys(channel, canonical)
            found: list[str] = []
            for table in (self.mirrors, workspace_mirrors or {}):
                for key in keys:
                    if table.get(key):
                        found += [_as_url(m) for m in table[key]]
                        break
            found.append(self._conda_location(canonical))
            out.append(Location(canonical, tuple(dict.fromkeys(u.rstrip("/") for u in found))))
        return tuple(out)

    def fetch_locations(self, name: str, identity: str, declared: Sequence[str]) -> tuple[str, ...]:
        """Where a declared channel is fetched from on this machine, first choice first:
        the user's mirrors of it, then the workspace's locations (`declared`: its
        [workspace.mirrors] or the channel itself), a bare name through this machine's
        `channel_alias` / `custom_channels`."""
        keys = _keys(name, identity)
        user = next(
            ([_as_url(m) for m in self.mirrors[k]] for k in keys if self.mirrors.get(k)), []
        )
        own = [self._conda_location(identity) if is_named(u) else u for u in declared]
        return tuple(dict.fromkeys(u.rstrip("/") for u in [*user, *own]))

    def locations(
        self, channel: str, workspace_mirrors: Mapping[str, Sequence[str]] | None = None
    ) -> tuple[str, ...]:
        """Where to fetch a declared (single) channel from, first choice first."""
        return self.resolve(channel, workspace_mirrors)[0].locations

    def _conda_location(self, canonical: str) -> str:
        name = _alias_name(canonical, STANDARD_ALIAS)
        if name is None:
            return canonical
        for custom, base in self.custom_channels.items():
            if name == custom or name.startswith(custom + "/"):
                return f"{_as_url(base).rstrip('/')}/{name}"
        return f"{self.channel_alias.rstrip('/')}/{name}"

    def canonical_name(self, url: str) -> str:
        """conda's `Channel.canonical_name` of a record's channel URL on this machine: what
        conda writes in conda-meta/history (`conda-forge`, `defaults`, else the URL)."""
        url = strip_credentials(url).rstrip("/")
        for multi, members in {
            "defaults": self.default_channels,
            **self.custom_multichannels,
        }.items():
            if url in {_canonical(m) for m in members}:
                return multi
        for custom, base in self.custom_channels.items():
            prefix = f"{_as_url(base).rstrip('/')}/{custom}"
            if url == prefix or url.startswith(prefix + "/"):
                return url[len(_as_url(base).rstrip("/")) + 1 :]
        name = _alias_name(url, self.channel_alias)
        return name if name is not None else url

    # the network ------------------------------------------------------------------------
    def scheme_proxies(self) -> dict[str, str]:
        """.condarc `proxy_servers` by scheme (`http`, `https`; `all` for both), what a
        fetcher taking one proxy per scheme applies. Per-host keys are `host_proxies`."""
        out: dict[str, str] = {}
        for scheme in ("http", "https"):
            if url := self.proxy_servers.get(scheme) or self.proxy_servers.get("all"):
                out[scheme] = str(url)
        return out

    def network_env(self) -> dict[str, str]:
        """The variables a tool reading the standard ones (uv) needs to fetch as .condarc
        says: its proxies by scheme and its CA bundle; what the environment sets wins."""
        out = {f"{scheme.upper()}_PROXY": url for scheme, url in self.scheme_proxies().items()}
        if isinstance(self.ssl_verify, str):
            out["SSL_CERT_FILE"] = self.ssl_verify
        if (retries := self.max_retries()) is not None:
            out["UV_HTTP_RETRIES"] = str(retries)
        return out

    def max_retries(self) -> int | None:
        """.condarc `remote_max_retries`: how often a failed request is tried again, a whole
        number, 0 or more. None when it is not set or is no such number (the fetchers' own
        default, 3 as conda's, applies: the engine says so)."""
        value = (self.remote_max_retries or "").strip()
        return int(value) if value.isdigit() else None

    def host_proxies(self) -> list[str]:
        """.condarc `proxy_servers` keys for one host (`https://host`)."""
        return sorted(k for k in self.proxy_servers if "://" in k)

    def proxy_for(self, url: str) -> str | None:
        """The proxy for `url`: .condarc `proxy_servers` (by `scheme://host`, then scheme),
        else the standard variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "file":
            return None
        for key in (f"{parts.scheme}://{parts.hostname}", parts.scheme, "all"):
            if self.proxy_servers.get(key):
                return str(self.proxy_servers[key])
        # urllib.request brings http.client and email with it: only when asked
        from urllib.request import getproxies_environment, proxy_bypass_environment

        if parts.hostname and proxy_bypass_environment(parts.hostname):
            return None
        env = getproxies_environment()
        return env.get(parts.scheme) or env.get("all")


def _keys(declared: str, canonical: str) -> list[str]:
    """Names a mirror table may use for one channel: as declared, as its canonical URL (its
    own first)."""
    keys = [declared, declared.rstrip("/"), canonical, canonical + "/"]
    if (name := _alias_name(canonical, STANDARD_ALIAS)) is not None:
        keys.append(name)
    if canonical in DEFAULTS:  # Anaconda's main and r: also fetched from `defaults`' mirrors
        keys.append("defaults")
    return list(dict.fromkeys(keys))


def _alias_name(url: str, alias: str) -> str | None:
    base = alias.rstrip("/") + "/"
    return url[len(base) :].strip("/") if url.startswith(base) and len(url) > len(base) else None


def _is_path(channel: str) -> bool:
    return channel.startswith(("/", "~", "./", "../")) or channel in (".", "..")


def _as_url(location: str) -> str:
    if "://" in location:
        return location
    if _is_path(location):
        return Path(location).expanduser().resolve().as_uri()
    return location


def _canonical(channel: str) -> str:
    """The identity of one channel: a URL without credentials and trailing slash; a name
    on conda.anaconda.org; a path as its file:// URL."""
    channel = channel.strip()
    if "://" in channel:
        return strip_credentials(channel).rstrip("/")
    if _is_path(channel):
        return _as_url(channel).rstrip("/")
    return f"{STANDARD_ALIAS}/{channel.strip('/')}"


def _bool_or_path(value: Any) -> bool | str:
    from wsp.condarc import as_bool

    if isinstance(value, str) and (flag := as_bool(value)) is not None and value.strip():
        return flag
    if isinstance(value, bool):
        return value
    return str(value) if value not in (None, "") else True


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def load_user_config(
    conda_prefix: Path | None = None, files: Iterable[dict[str, Any]] | None = None
) -> UserConfig:
    """The user's configuration now: .condarc files in conda's order (of the conda found,
    or `conda_prefix`), CONDA_* variables, and wsp's user file. A bad wsp user file raises
    `WspError` with its location; a bad .condarc is skipped (`wsp check` reports it)."""
    rc = list(files) if files is not None else rc_files(conda_prefix or _default_prefix())
    multi = {
        str(k): tuple(str(c) for c in (v if isinstance(v, list) else [v]))
        for k, v in condarc_map("custom_multichannels", files=rc).items()
        if v
    }
    default_channels = tuple(condarc_sequence("default_channels", files=rc)) or DEFAULT_CHANNELS
    ssl = condarc_value("ssl_verify", files=rc)
    user_file = user_config_path()
    return UserConfig(
        channel_alias=str(condarc_value("channel_alias", files=rc) or STANDARD_ALIAS),
        custom_channels={
            str(k): str(v) for k, v in condarc_map("custom_channels", files=rc).items() if v
        },
        custom_multichannels=multi,
        default_channels=default_channels,
        envs_dirs=tuple(
            condarc_sequence("envs_dirs", aliases=("envs_path",), files=rc, delimiter=os.pathsep)
        ),
        pkgs_dirs=tuple(condarc_sequence("pkgs_dirs", files=rc)),
        proxy_servers={
            str(k): str(v) for k, v in condarc_map("proxy_servers", files=rc).items() if v
        },
        ssl_verify=_bool_or_path(ssl) if ssl is not None else True,
        remote_max_retries=_text(condarc_value("remote_max_retries", files=rc)),
        mirrors=_read_user_file(user_file),
        user_file=user_file if user_file.is_file() else None,
    )
