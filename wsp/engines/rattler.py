"""The embedded engine: py-rattler in process. The only module that imports rattler.

Every rattler coroutine runs through `_run`, i.e. `asyncio.run` on a worker
thread: py-rattler can crash at interpreter exit when its runtime was driven
from the main thread (see shared/RATTLER.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Collection, Coroutine, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import rattler
from rattler.exceptions import GatewayError
from rattler.exceptions import SolverError as RattlerSolverError
from rattler.virtual_package import VirtualPackage, VirtualPackageOverrides

from wsp import channels, sysreq, ui
from wsp.engines import (
    Channel,
    LockData,
    LockedEnv,
    LockTarget,
    Package,
    Progress,
    SolveRequest,
)
from wsp.engines.linking import finish_noarch_python
from wsp.errors import ChannelUnreachable, LockUnreadable, SolveError, WspError
from wsp.fsutil import (
    atomic_write_bytes,
    atomic_write_text,
    file_hexdigest,
    file_url_path,
    json_text,
    remove_tree,
    top_level_strings,
    with_strings,
)
from wsp.specs import (
    check_match_spec,
    conda_name,
    current_platform,
    exclude_newer_bound,
    spec_channel,
    with_channel,
)

T = TypeVar("T")

# rattler's client tries a failed request this many more times, as conda does by default
_RATTLER_RETRIES = 3

_PRIORITY = {
    "strict": rattler.ChannelPriority.Strict,
    "flexible": rattler.ChannelPriority.Flexible,
    "disabled": rattler.ChannelPriority.Disabled,
}


def _run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio  # ~20 ms: only commands that fetch, solve or install pay it
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wsp-rattler") as pool:
        return pool.submit(asyncio.run, coro).result()


def cache_dir() -> Path:
    """Where packages and repodata are cached: WSP_CACHE_DIR, else rattler's own default
    (RATTLER_CACHE_DIR, else the user cache folder), so wsp shares pixi's cache."""
    for var in ("WSP_CACHE_DIR", "RATTLER_CACHE_DIR"):
        if root := os.environ.get(var):
            path = Path(root).expanduser()
            if path.exists() and not path.is_dir():
                raise WspError(f"{var}={root} is a file, not a folder", hint="point it at a folder")
            return path
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rattler" / "cache"


# -- the engine --------------------------------------------------------------------------


def _to_package(record: Any) -> Package:
    return Package(
        name=record.name.normalized,
        version=str(record.version),
        build=str(record.build),
        channel=str(record.channel or ""),
        subdir=str(record.subdir),
        sha256=record.sha256.hex() if record.sha256 else None,
        url=str(record.url),
        md5=record.md5.hex() if record.md5 else None,
        depends=tuple(str(d) for d in (record.depends or ())),
    )


@cache
def _virtual_packages(packages: tuple[sysreq.VirtualPackage, ...]) -> list[Any]:
    """rattler's form of the virtual packages a solve assumes (never this machine's)."""
    from rattler import GenericVirtualPackage, PackageName, Version
    from rattler.package import BuildString

    return [
        GenericVirtualPackage(PackageName(v.name), Version(v.version), BuildString(v.build))
        for v in packages
    ]


def _ancestors(detected: Any) -> tuple[str, ...]:
    """The microarchitectures a detected __archspec can also run: rattler shows them only
    in its text form (`Microarchitecture { name: "x86_64_v4", ancestors: [...] }`)."""
    import re

    found = re.search(r"ancestors: \[([^\]]*)\]", str(detected))
    return tuple(re.findall(r'"([^"]+)"', found.group(1))) if found else ()


def host_virtual_packages() -> tuple[sysreq.HostPackage, ...]:
    """This machine's virtual packages, CONDA_OVERRIDE_* applied as conda applies them."""
    try:
        detected = VirtualPackage.detect(overrides=VirtualPackageOverrides.from_env())
    except Exception as exc:  # DetectVirtualPackageError: e.g. an override that is no version
        raise WspError(
            f"can't detect this machine's virtual packages: {_first_line(str(exc))}",
            hint="check the CONDA_OVERRIDE_* variables (e.g. CONDA_OVERRIDE_CUDA=12.4)",
        ) from None
    out = []
    for v in detected:
        g = v.into_generic()
        name = g.name.normalized
        out.append(
            sysreq.HostPackage(
                name,
                str(g.version),
                str(g.build_string),
                _ancestors(v) if name == "__archspec" else (),
            )
        )
    return tuple(out)


class _Records:
    """rattler's records of the packages this engine handed out (from a solve, a lock or
    an env), by URL: what `install` and `write_lock` need behind a `Package`."""

    def __init__(self) -> None:
        self._by_url: dict[str, Any] = {}
        self._lock = threading.Lock()

    def remember(self, records: Sequence[Any]) -> list[Package]:
        """The packages of `records`, now installable."""
        packages = [_to_package(r) for r in records]
        with self._lock:
            for pkg, record in zip(packages, records, strict=True):
                self._by_url[pkg.url] = record
        return packages

    def known(self, packages: Sequence[Package]) -> list[Any]:
        """The records of those of `packages` this engine knows."""
        with self._lock:
            return [self._by_url[p.url] for p in packages if p.url in self._by_url]

    def of(self, packages: Sequence[Package]) -> list[Any]:
        """The records of `packages`; every one must come from this engine."""
        with self._lock:
            missing = [p.dist for p in packages if p.url not in self._by_url]
            records = [self._by_url[p.url] for p in packages if p.url in self._by_url]
        if missing:
            raise WspError(f"internal: packages not from this run's solve: {', '.join(missing)}")
        return records


@dataclass(frozen=True)
class _Route:
    """One channel: its identity (what records name) and where it is fetched from now."""

    identity: str  # canonical base URL, ending in `/`
    fetch: str  # the location's base URL, ending in `/` (may carry credentials)

    @property
    def bare_fetch(self) -> str:
        return channels.strip_credentials(self.fetch)

    def canonical(self, url: str) -> str | None:
        """`url` (a package fetched through this route) as its channel names it."""
        bare = channels.strip_credentials(url)
        return (
            self.identity + bare[len(self.bare_fetch) :]
            if bare.startswith(self.bare_fetch)
            else None
        )

    def fetched(self, url: str) -> str | None:
        """`url` (as its channel names it) where this route fetches it from."""
        return self.fetch + url[len(self.identity) :] if url.startswith(self.identity) else None


def _credentials(url: str) -> tuple[str, dict[str, Any]] | None:
    """(host, what rattler's authentication storage holds for it) of a URL with
    `user:pass@` or conda's `/t/<token>`; None without."""
    if "://" not in url or not channels.has_credentials(url):
        return None
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.username is not None:
        username = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        return host, {"BasicHTTP": {"username": username, "password": password}}
    token = channels.conda_token(parts.path)
    return (host, {"CondaToken": token}) if token else None


@dataclass(frozen=True)
class _Network:
    """What the user's .condarc says of the network, for rattler's client: its
    configuration (TOML: proxies and TLS) and how often a failed request is tried again."""

    config: str = ""
    max_retries: int = _RATTLER_RETRIES


def _network_config() -> _Network:
    """rattler's client settings for what the user's .condarc says of the network:
    `proxy_servers` (by scheme; NO_PROXY's hosts go around it), `ssl_verify` (false: no
    certificate check; a CA bundle: the system's roots, with SSL_CERT_FILE naming it) and
    `remote_max_retries`. The config is "" when .condarc says nothing of proxies or TLS:
    the standard proxy variables apply as they are."""
    from wsp.userconfig import load_user_config

    cfg = load_user_config()
    lines: list[str] = []
    if cfg.ssl_verify is False:
        lines.append("tls-no-verify = true")
    elif isinstance(cfg.ssl_verify, str):
        lines.append('tls-root-certs = "system"')
        os.environ["SSL_CERT_FILE"] = cfg.ssl_verify  # what the roots are read from
    proxies = cfg.scheme_proxies()
    for key in cfg.host_proxies():
        ui.info(
            f"warning: .condarc proxy_servers {key!r} is not applied: wsp's fetcher takes one "
            "proxy per scheme; set it under 'http' or 'https'"
        )
    if proxies:
        lines.append("[proxy-config]")
        lines += [f"{scheme} = {json.dumps(url)}" for scheme, url in sorted(proxies.items())]
        bypass = os.environ.get("NO_PROXY", os.environ.get("no_proxy", ""))
        if hosts := [h.strip() for h in bypass.split(",") if h.strip()]:
            lines.append(f"non-proxy-hosts = {json.dumps(hosts)}")
    retries = cfg.max_retries()
    if retries is None and cfg.remote_max_retries is not None:
        ui.info(
            f"warning: conda's remote_max_retries setting {cfg.remote_max_retries!r} is not a whole "
            f"number of 0 or more: failed requests are tried again {_RATTLER_RETRIES} times"
        )
    return _Network("\n".join(lines), _RATTLER_RETRIES if retries is None else retries)


def _routed_spec(spec: str, sources: Sequence[Channel], routes: Sequence[_Route]) -> str:
    """A channel-pinned spec (`conda-forge::numpy`) naming where its channel is fetched
    from this time (the solve sees the mirror's records)."""
    named = spec_channel(spec)
    if named is None:
        return spec
    wanted = channels.canonical(named).rstrip("/") + "/"
    for ch, route in zip(sources, routes, strict=True):
        if named == ch.name or route.identity == wanted:
            return with_channel(spec, route.fetch.rstrip("/"))
    return spec


def _with_url(record: Any, url: str, channel: str) -> Any:
    """A copy of `record` naming another URL and channel."""
    return rattler.RepoDataRecord(record, record.file_name, url, channel)


def canonicalize_records(prefix: Path, routes: Sequence[_Route], *, staged: bool = False) -> int:
    """Make the env's package records name each package by its channel's identity, not
    the location it was fetched from (a mirror, a token-bearing URL); returns how many
    records changed. Each file is rewritten atomically, its mode kept; in an env being
    built beside (`staged`: no one reads it before it is moved into place) a record
    rattler just wrote is rewritten where it is, without a temporary file and fsync.
    A record as rattler writes it keeps every other byte (`top_level_strings`): a real
    package's record lists thousands of files, too many to parse and write again."""
    changed = 0
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = top_level_strings(text, ("url", "channel"))
        if found is None:
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if not isinstance(data, dict) or not isinstance(data.get("url"), str):
                continue
            url_now, channel_now = data["url"], data.get("channel")
        else:
            url_now, channel_now = found["url"][2], found["channel"][2]
        # the first route the record's URL is a location of
        to = next(
            ((r.identity, u) for r in routes if (u := r.canonical(url_now)) is not None), None
        )
        if to is None or to == (channel_now, url_now):
            continue
        channel, url = to
        if found is not None:
            new = with_strings(text, [(*found["url"][:2], url), (*found["channel"][:2], channel)])
        else:
            new = json_text({**data, "url": url, "channel": channel})
        if staged and os.stat(path).st_nlink == 1:
            path.write_bytes(new.encode("utf-8"))
        else:
            atomic_write_bytes(path, new.encode("utf-8"))
        changed += 1
    return changed


_CACHEDIR_TAG = "CACHEDIR.TAG"
_CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55\n"


def drop_backup_tag(prefix: Path) -> None:
    """Remove the CACHEDIR.TAG rattler writes at the root of every prefix it installs into
    (its way of keeping pixi's envs out of backups): backup tools that honour it would
    skip the whole env, and conda leaves no such file. Only rattler's own tag goes, and
    not when a package record lists that file (then it is the package's)."""
    tag = prefix / _CACHEDIR_TAG
    try:
        text = b"" if tag.is_symlink() else tag.read_bytes()
    except OSError:
        return
    if not (text.startswith(_CACHEDIR_SIGNATURE) and b"created by rattler" in text):
        return
    for record in (prefix / "conda-meta").glob("*.json"):
        try:
            if f'"{_CACHEDIR_TAG}"'.encode() in record.read_bytes():
                return
        except OSError:
            continue
    with contextlib.suppress(FileNotFoundError):
        tag.unlink()


class RattlerEngine:
    """Solve and install with py-rattler, in process."""

    name = "rattler"

    def __init__(self) -> None:
        self._cache_dir = cache_dir()
        self._auth: dict[str, dict[str, Any]] = {}  # host -> credentials, in memory only
        self._client: Any = None  # made by _connect when credentials or a proxy need one
        self._standard_client: Any = None  # else rattler's standard client (`_fetcher`)
        self._network: _Network | None = None  # the .condarc's network settings (_connect)
        self._gateway_made: Any = None  # made on first use: status and info never need one
        self._records = _Records()
        self._answered: dict[str, int] = {}  # channel identity -> the location that answered

    @property
    def _gateway(self) -> Any:
        """rattler's repodata gateway, fetching through `_fetcher` (one client, and one
        reading of the system's certificates, for repodata and packages alike)."""
        if self._gateway_made is None:
            self._gateway_made = rattler.Gateway(
                cache_dir=self._cache_dir / "repodata", show_progress=False, client=self._fetcher
            )
        return self._gateway_made

    @property
    def _fetcher(self) -> Any:
        """The HTTP client installs and downloads use: `_connect`'s, else rattler's standard
        client, made once (without one, every install makes its own and reads the system's
        certificates again: ~5 ms an env)."""
        if self._client is not None:
            return self._client
        if self._standard_client is None:
            from rattler import Config
            from rattler.networking import Client

            if self._network is None:
                self._network = _network_config()
            self._standard_client = Client.from_config(
                Config.from_toml(""), max_retries=self._network.max_retries
            )
        return self._standard_client

    def _connect(self, sources: Sequence[Channel]) -> None:
        """Make the HTTP client fetch as this machine must: through the proxy and with the
        certificate checks the user's .condarc sets (`_network_config`), and with the
        credentials of `sources`' locations (`user:pass@`, conda's `/t/<token>`) held by
        rattler's authentication middleware, so that no URL rattler sees, caches or
        records holds one. py-rattler reads credentials only from a file: it is written
        (0600, in a private folder), read when the client is made and deleted at once."""
        found: dict[str, dict[str, Any]] = {}
        named: dict[str, str] = {}
        for ch in sources:
            for url in ch.urls:
                if (host_auth := _credentials(url)) is None:
                    continue
                host, auth = host_auth
                if found.setdefault(host, auth) != auth:
                    raise WspError(
                        f"channels {named.get(host, ch.name)} and {ch.name} carry different "
                        f"credentials for {host}; wsp hands one credential per host to the "
                        "fetcher",
                        hint="use one account (or one token) for every channel of a host",
                    )
                named[host] = ch.name
        if self._network is None:
            self._network = _network_config()
        if self._client is not None and all(self._auth.get(h) == a for h, a in found.items()):
            return
        if self._client is None and not found and not self._network.config:
            return  # rattler's standard client (`_fetcher`)
        self._auth.update(found)
        from rattler import Config
        from rattler.networking import Client

        folder = Path(tempfile.mkdtemp(prefix="wsp-auth-"))  # 0700
        before = os.environ.get("RATTLER_AUTH_FILE")
        try:
            if self._auth:
                path = folder / "credentials.json"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    json.dump(self._auth, fh)
                os.environ["RATTLER_AUTH_FILE"] = str(path)
            self._client = Client.from_config(
                Config.from_toml(self._network.config), max_retries=self._network.max_retries
            )
        finally:
            if before is None:
                os.environ.pop("RATTLER_AUTH_FILE", None)
            else:
                os.environ["RATTLER_AUTH_FILE"] = before
            shutil.rmtree(folder, ignore_errors=True)
        self._gateway_made = rattler.Gateway(
            cache_dir=self._cache_dir / "repodata", show_progress=False, client=self._client
        )

    def _bare(self, url: str) -> str:
        """`url` without the credentials rattler's middleware now holds for its host."""
        if "://" not in url or not channels.has_credentials(url):
            return url
        parts = urllib.parse.urlsplit(url)
        held = self._auth.get(parts.hostname or "", {})
        if "BasicHTTP" in held and parts.username is not None:
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        elif "CondaToken" in held:
            parts = parts._replace(path=channels.without_token(parts.path))
        return urllib.parse.urlunsplit(parts)

    def _routes(
        self, sources: Sequence[Channel], choice: dict[str, int] | None = None
    ) -> list[_Route]:
        """Each channel's identity and the location it is fetched from: the one chosen,
        else the one that last answered, else its first."""
        out = []
        for ch in sources:
            i = (choice or {}).get(ch.name, self._answered.get(ch.identity, 0))
            location = ch.urls[min(i, len(ch.urls) - 1)] if ch.urls else ch.identity
            bare = self._bare(location)  # rattler gets the credentials from _connect
            out.append(_Route(ch.identity.rstrip("/") + "/", channels.base_url(bare)))
        return out

    @staticmethod
    def _canonical(records: Sequence[Any], routes: Sequence[_Route]) -> list[Any]:
        """`records` (as a solve or an env names them) naming their channels' identities."""
        out = []
        for r in records:
            for route in routes:
                if (url := route.canonical(str(r.url))) is not None:
                    r = _with_url(r, url, route.identity)
                    break
            out.append(r)
        return out

    @staticmethod
    def _fetchable(records: Sequence[Any], routes: Sequence[_Route]) -> list[Any]:
        """`records` naming where this machine fetches them from."""
        out = []
        for r in records:
            for route in routes:
                if route.fetch != route.identity and (url := route.fetched(str(r.url))):
                    r = _with_url(r, url, route.fetch)
                    break
            out.append(r)
        return out

    # solve ---------------------------------------------------------------------------
    def solve(
        self,
        request: SolveRequest,
        *,
        prefix: Path | None = None,
        prefer: Collection[str] | None = None,
        keep: Sequence[Package] = (),
    ) -> list[Package]:
        platform = request.platform or current_platform()
        choice = {ch.name: 0 for ch in request.channels}
        # Keep what wsp installed before where it still fits (minimal churn), but not
        # what was changed by hand: `prefer` names the dists wsp recorded. `keep` are
        # packages of this engine (e.g. read from a lock) to keep where they still fit.
        locked = [
            r
            for r in (self._prefix_records(prefix) if prefix is not None else [])
            if prefer is None or f"{r.name.normalized}-{r.version}-{r.build}" in prefer
        ]
        locked += self._records.known(keep)
        bound = exclude_newer_bound(request.exclude_newer) if request.exclude_newer else None
        if bound is not None:  # nothing newer than the cutoff is kept either
            locked = [r for r in locked if _published_before(r, bound)]
        self._connect(request.channels)
        while True:
            sources = [
                self._bare(channels.as_url(ch.urls[choice[ch.name]])) for ch in request.channels
            ]
            routes = self._routes(request.channels, choice)
            fetchable = self._fetchable(locked, routes)
            specs = [_routed_spec(s, request.channels, routes) for s in request.specs]
            try:
                records = _run(
                    self._solve(sources, specs, request, platform, fetchable or None, bound)
                )
            except GatewayError as exc:
                failed = self._failed_channel(request.channels, choice, str(exc))
                if failed is not None and choice[failed.name] + 1 < len(failed.urls):
                    choice[failed.name] += 1  # try the next mirror
                    continue
                name = (
                    failed.name
                    if failed is not None
                    else ", ".join(c.name for c in request.channels)
                )
                url = failed.urls[choice[failed.name]] if failed is not None else None
                raise ChannelUnreachable(name, str(exc), url=url) from None
            except RattlerSolverError as exc:
                text = str(exc)
                message = _solver_message(text)
                missing = [n.lower() for n in _NO_CANDIDATES.findall(text)]
                if bound is not None and (
                    hidden := self._cut_off(sources, platform, missing, bound)
                ):
                    message += (
                        f" (exclude-newer {request.exclude_newer} hides the "
                        f"{', '.join(hidden)} builds published after it: the likely cause)"
                    )
                elif missing and missing[0].startswith("__"):  # a virtual package
                    key = {v: k for k, v in sysreq.NAMES.items()}.get(missing[0], missing[0])
                    message += (
                        f" ({missing[0]} is a virtual package, what a machine offers, not one "
                        f'a channel has: declare system-requirements = {{ {key} = "VERSION" }}, '
                        "and wsp solves with it)"
                    )
                elif missing:
                    names = [c.name for c in request.channels]
                    message += self._offered(sources, platform, missing[0], names)
                raise SolveError(message, names=_blamed(text)) from None
            break
        for ch in request.channels:
            self._answered[ch.identity] = choice[ch.name]
        return sorted(self._records.remember(self._canonical(records, routes)))

    def _offered(self, sources: list[str], platform: str, name: str, channels: list[str]) -> str:
        """What the channels have of `name`, which the solver found no candidates for: a
        typo'd name (none at all) or a spec no version fits (the newest versions there)."""
        try:
            found = _run(
                self._gateway.query(sources, [platform, "noarch"], [name], recursive=False)
            )
        except Exception:  # only a hint: the solver's message stands without it
            return ""
        versions = {r.version for rs in found for r in rs if r.name.normalized == name}
        where = ", ".join(channels) or "the channels"
        if not versions:
            return (
                f" ({where} has no package named {name!r} for {platform}: check its name, "
                "or add the channel that has it)"
            )
        newest = [str(v) for v in sorted(versions)[-5:]]
        return f" ({where} has {name} {', '.join(newest)}: change the spec to one of these)"

    def _cut_off(
        self, sources: list[str], platform: str, names: list[str], bound: int
    ) -> list[str]:
        """Of `names` (what the solver found no candidates for), those the channels have
        builds of that an exclude-newer cutoff (`bound`, ms) hides."""
        if not names:
            return []
        found = _run(self._gateway.query(sources, [platform, "noarch"], names, recursive=False))
        hidden = {r.name.normalized for rs in found for r in rs if not _published_before(r, bound)}
        return [n for n in dict.fromkeys(names) if n in hidden]

    async def _solve(
        self,
        sources: list[str],
        specs: list[str],
        request: SolveRequest,
        platform: str,
        locked: list[Any] | None,
        bound: int | None,
    ) -> list[Any]:
        """rattler's solve; with a cutoff (`bound`, ms), over the channels' records
        published before it. rattler's own `exclude_newer` judges a record by its
        `indexed_timestamp` first, which a mirror or a re-indexed channel sets to the day
        it was indexed; wsp judges by the build `timestamp` the package carries wherever
        it is served from, and keeps records that have none (built before conda-build
        recorded one)."""
        virtual = request.virtual_packages  # never this machine's: the declaration's
        if virtual is None:
            virtual = sysreq.Variant(platform, platform).virtual_packages()
        solve_from: list[Any] = list(sources)
        if bound is not None:
            names = sorted({conda_name(s) for s in specs})
            found = await self._gateway.query(sources, [platform, "noarch"], names, recursive=True)
            solve_from = [
                _Dated([r for r in records if _published_before(r, bound)]) for records in found
            ]
        return await rattler.solve(
            solve_from,
            specs,
            gateway=self._gateway,
            platforms=[platform, "noarch"],
            virtual_packages=_virtual_packages(virtual),
            channel_priority=_PRIORITY[request.channel_priority],
            locked_packages=locked,
        )

    @staticmethod
    def _failed_channel(
        sources: Sequence[Channel], choice: dict[str, int], message: str
    ) -> Channel | None:
        for ch in sources:
            base = channels.base_url(ch.urls[choice[ch.name]])
            if base in message or base.rstrip("/") in message:
                return ch
        return None

    # install -------------------------------------------------------------------------
    def fetch(
        self, packages: Sequence[Package], scratch: Path, *, sources: Sequence[Channel] = ()
    ) -> None:
        """Download and extract into the package cache whatever of `packages` it lacks,
        before any env is touched; raises ChannelUnreachable naming the package's channel."""
        self._connect(sources)
        self._cache(self._fetchable(self._records.of(packages), self._routes(sources)), scratch)

    def _usable_cache(self) -> Path:
        """The package cache folder, once it is known this user may lock and write it."""
        from wsp.modes import cache_denied

        pkgs = self._cache_dir / "pkgs"
        if (why := cache_denied(pkgs)) is not None:
            raise WspError(
                f"the package cache can't be used: {why}",
                hint="set WSP_CACHE_DIR to a folder of yours, or ask its owner to open it to "
                f"the group (`chmod -R g+rwX {pkgs}`; every member of a shared cache needs "
                "umask 002)",
            )
        return pkgs

    def _cache(self, records: list[Any], scratch: Path) -> None:
        pkgs = self._usable_cache()
        index = _run(rattler.PackageCache(pkgs).index())
        missing = [r for r in records if not index.contains_record(r)]
        if not missing:
            return
        for record in missing:
            _check_local_archive(record)
        # rattler has no download-only call: link the missing packages into a scratch
        # prefix, which fills the cache. A noarch: python package links only beside a python.
        names = {r.name.normalized for r in missing}
        if "python" not in names and any(r.noarch.python for r in missing):
            missing += [r for r in records if r.name.normalized == "python"]
        where = scratch
        where.mkdir(parents=True)
        try:
            _run(
                rattler.install(
                    missing,
                    target_prefix=where,
                    cache_dir=pkgs,
                    installed_packages=[],
                    show_progress=False,
                    execute_link_scripts=False,
                    client=self._fetcher,
                )
            )
        except Exception as exc:
            remove_tree(where)
            raise self._fetch_error([_to_package(r) for r in records], str(exc)) from None
        shutil.rmtree(where, ignore_errors=True)

    @staticmethod
    def _fetch_error(packages: Sequence[Package], message: str) -> WspError:
        """ChannelUnreachable for the channel of the package rattler could not fetch; a
        download that is not the package its record names, said as such."""
        if m := re.search(
            r"hash mismatch when extracting (\S+) .*?: expected (\w+), got (\w+)", message
        ):
            return _not_the_package(m.group(1), m.group(3), m.group(2))
        for pkg in packages:
            name = pkg.url.rsplit("/", 1)[-1]
            if name and name in message:
                return ChannelUnreachable(pkg.channel or pkg.url, message, url=pkg.url)
        return WspError(f"fetching packages failed: {_first_line(message)}")

    def install(
        self,
        prefix: Path,
        packages: Sequence[Package],
        *,
        progress: Progress | None = None,
        relocate_to: Path | None = None,
        sources: Sequence[Channel] = (),
    ) -> None:
        self._connect(sources)
        routes = self._routes(sources)
        records = self._fetchable(self._records.of(packages), routes)
        current = self._prefix_records(prefix)
        _check_inside(prefix, current, records)
        pkgs = self._usable_cache()
        for record in records:  # what rattler will take from a local channel as it is
            if str(record.url).startswith("file:") and not (pkgs / _stem(record)).exists():
                _check_local_archive(record)
        again = _clobbered(current, records)
        reporter = _Reporter(progress) if progress else None
        try:
            _run(
                rattler.install(
                    records,
                    target_prefix=prefix,
                    alternative_target_prefix=relocate_to,
                    cache_dir=pkgs,
                    installed_packages=current,
                    reinstall_packages=again,
                    show_progress=False,
                    reporter=reporter,
                    execute_link_scripts=False,
                    client=self._fetcher,
                )
            )
        except Exception as exc:
            if "failed to fetch" in str(exc):
                raise self._fetch_error(packages, str(exc)) from None
            raise WspError(f"installing into {prefix} failed: {_first_line(str(exc))}") from None
        # records name the channel, never the mirror
        canonicalize_records(prefix, routes, staged=relocate_to is not None)
        drop_backup_tag(prefix)
        _finish_linking(prefix, records, current, again, staged=relocate_to is not None)

    def snapshot(self, prefix: Path) -> Any:
        """What the env holds now, to `restore` it after a failed step."""
        return self._prefix_records(prefix)

    def restore(
        self, prefix: Path, snapshot: Any, scratch: Path, *, sources: Sequence[Channel] = ()
    ) -> None:
        """Make `prefix` hold exactly the records of `snapshot` again: fetched first (they
        are usually still in the package cache, else through `scratch`), then linked."""
        self._connect(sources)
        routes = self._routes(sources)
        records = self._fetchable(list(snapshot), routes)
        current = self._prefix_records(prefix)
        _check_inside(prefix, current, records)
        self._cache(records, scratch)
        again = _clobbered(current, records)
        try:
            _run(
                rattler.install(
                    records,
                    target_prefix=prefix,
                    cache_dir=self._cache_dir / "pkgs",
                    installed_packages=current,
                    reinstall_packages=again,
                    show_progress=False,
                    execute_link_scripts=False,
                    client=self._fetcher,
                )
            )
        except Exception as exc:
            raise WspError(f"restoring {prefix} failed: {_first_line(str(exc))}") from None
        canonicalize_records(prefix, routes)
        drop_backup_tag(prefix)
        _finish_linking(prefix, records, current, again, staged=False)

    # packs: a local channel of exact packages ------------------------------------------
    def pack_channel(
        self, packages: Sequence[Package], dest: Path, sources: Sequence[Channel] = ()
    ) -> dict[str, str]:
        """Put the archive of every one of `packages` (packages of this engine) in the
        local channel `dest` (`<subdir>/<file>`), checked against its sha256 (else md5),
        and index it. Each is fetched from its own URL, else from each location of
        `sources` (a declared channel's mirrors). Returns {dist: path in `dest`}.
        Raises ChannelUnreachable naming a package that no location gave."""

        out: dict[str, str] = {}
        for record in self._records.of(packages):
            pkg = _to_package(record)
            rel = f"{record.subdir}/{record.file_name}"
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            # where this machine fetches the channel from first, then the package's own URL
            tried = [f"{channels.base_url(u)}{rel}" for ch in sources for u in ch.urls] + [pkg.url]
            problem = "no location to fetch it from"
            other: WspError | None = None  # a location that serves other bytes
            for url in dict.fromkeys(tried):
                try:
                    if url.startswith("file://"):
                        shutil.copyfile(file_url_path(url) or url, target)
                    else:
                        from rattler.package_streaming import download_to_path

                        _run(download_to_path(self._fetcher, url, target))
                except Exception as exc:
                    problem = _first_line(str(exc))
                    continue
                if pkg.sha256 and (got := file_hexdigest(target)) != pkg.sha256:
                    other = other or _not_the_package(url, got, pkg.sha256, done="packed")
                    continue
                if not pkg.sha256 and pkg.md5 and (got := file_hexdigest(target, "md5")) != pkg.md5:
                    other = other or _not_the_package(url, got, pkg.md5, "md5", done="packed")
                    continue
                out[pkg.dist] = rel
                break
            else:
                target.unlink(missing_ok=True)
                if other is not None:  # what the user must know, before the unreachable
                    raise other
                raise ChannelUnreachable(pkg.channel or pkg.url, f"{record.file_name}: {problem}")
        (dest / "noarch").mkdir(parents=True, exist_ok=True)
        _run(rattler.index.index_fs(dest, write_zst=False, write_shards=False, force=True))
        shutil.rmtree(dest / ".tmp", ignore_errors=True)
        return out

    def seed_cache(self, packages: Sequence[Package], channel: Path) -> None:
        """Fill the package cache with `packages` (of this engine) from the archives of the
        local channel `channel` (as `pack_channel` wrote it), touching no env: an install
        of `packages` then needs no network, and the env's records still name the
        packages' own URLs and channels."""
        local = [
            rattler.RepoDataRecord(
                r, r.file_name, (channel / str(r.subdir) / r.file_name).as_uri(), r.channel
            )
            for r in self._records.of(packages)
        ]
        self._cache(local, channel.parent / f".wsp-seed-{os.urandom(4).hex()}")

    def cache_root(self) -> Path:
        """The package and repodata cache this engine uses (`pkgs/`, `repodata/`)."""
        return self._cache_dir

    def host_virtual_packages(self) -> tuple[sysreq.HostPackage, ...]:
        return host_virtual_packages()

    # repodata queries ----------------------------------------------------------------
    def available_names(
        self, sources: Sequence[Channel], platform: str, names: Collection[str]
    ) -> set[str]:
        """Which of `names` (conda package names) one of `sources` has for `platform` or
        noarch. Each channel is read from the first of its locations that answers;
        ChannelUnreachable when none does. Nothing is solved: repodata is only looked up."""
        specs = [n for n in dict.fromkeys(names) if check_match_spec(n) is None]
        if not specs:
            return set()
        found: set[str] = set()
        for channel in sources:
            for i, location in enumerate(channel.urls):
                try:
                    result = _run(
                        self._gateway.query(
                            [channels.as_url(location)],
                            [platform, "noarch"],
                            specs,
                            recursive=False,
                        )
                    )
                except GatewayError as exc:
                    if i + 1 < len(channel.urls):
                        continue  # the next mirror
                    raise ChannelUnreachable(channel.name, str(exc), url=location) from None
                found.update(record.name.normalized for records in result for record in records)
                break
        return found & set(specs)

    # lock files --------------------------------------------------------------------
    def write_lock(self, path: Path, root: Path, data: LockData) -> None:
        """wsp.lock in the pixi.lock format, its header naming each project's declaration
        hash; paths under `root` written relative, so the lock travels with the repo."""
        from rattler.platform import Subdir

        from wsp import pip as pip_

        entries = data.targets or tuple(LockTarget(p, p) for p in data.platforms)
        lf = rattler.LockFile(
            [
                rattler.LockPlatform(
                    t.name,
                    Subdir(t.subdir) if t.subdir != t.name else None,
                    list(t.virtual_packages),
                )
                for t in entries
            ]
        )
        # the file's own LockPlatform objects: new ones passed to its methods panic
        platforms = {p.name: p for p in lf.platforms()}
        for project, env in sorted(data.envs.items()):
            lf.set_channels(
                project, [rattler.LockChannel(channels.as_url(c)) for c in env.channels]
            )
            for platform, packages in sorted(env.packages.items()):
                entry = platforms[env.targets.get(platform, platform)]
                for record in self._records.of(packages):
                    lf.add_conda_package(project, entry, record)
                for name, pin in sorted(env.pip.get(platform, {}).items()):
                    version = pin.version if pin.version != pip_.UNKNOWN else pip_.LOCKED_UNKNOWN
                    lf.add_pypi_package(project, entry, name, version, pin.url)
        with tempfile.TemporaryDirectory() as tmp:
            lf.to_path(Path(tmp) / "wsp.lock")
            body = _with_pip_hashes((Path(tmp) / "wsp.lock").read_text(), data)
        header = "".join(f"{_LOCK_HASH}{p} {h}\n" for p, h in sorted(data.hashes.items()))
        header += "".join(f"{_LOCK_CUTOFF}{p} {c}\n" for p, c in sorted(data.exclude_newer.items()))
        note = "# wsp.lock: written by `wsp lock` (pixi.lock format). Commit it; don't edit it.\n"
        atomic_write_text(path, note + header + _relative(body, root))

    def read_lock(self, path: Path, root: Path) -> LockData:
        """wsp.lock's content; its packages become installable by this engine."""
        from wsp import pip as pip_

        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise LockUnreadable(path, "it is not UTF-8", line, col) from None
        hashes, cutoffs = {}, {}
        for line in text.splitlines():
            if not line.startswith("#"):
                break  # the header is over
            for prefix, into in ((_LOCK_HASH, hashes), (_LOCK_CUTOFF, cutoffs)):
                if line.startswith(prefix):
                    project, _, value = line[len(prefix) :].partition(" ")
                    into[project] = value.strip()
        read = _absolute(text, root)  # as many lines as the file: rattler's are its
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "wsp.lock").write_text(read)
            try:
                lf = rattler.LockFile.from_path(Path(tmp) / "wsp.lock")
            except Exception as exc:
                raise _unreadable(path, _first_line(str(exc)), read) from None
        envs: dict[str, LockedEnv] = {}
        for project, env in lf.environments():
            packages: dict[str, tuple[Package, ...]] = {}
            pip: dict[str, dict[str, pip_.Pin]] = {}
            targets: dict[str, str] = {}
            for platform in env.platforms():
                variant = LockTarget(platform.name, "").variant
                records = env.conda_repodata_records_for_platform(platform) or []
                packages[variant] = tuple(sorted(self._records.remember(records)))
                pip[variant] = {
                    pkg.name: pip_.Pin(str(pkg.version), str(pkg.location), _sha256(pkg))
                    for pkg in env.pypi_packages_for_platform(platform) or []
                }
                if platform.name != variant:
                    targets[variant] = platform.name
            names = tuple(str(c).rstrip("/") for c in env.channels())
            envs[project] = LockedEnv(channels=names, packages=packages, pip=pip, targets=targets)
        entries = tuple(
            LockTarget(p.name, str(p.subdir), tuple(p.virtual_packages)) for p in lf.platforms()
        )
        return LockData(
            platforms=tuple(dict.fromkeys(t.variant for t in entries)),
            envs=envs,
            hashes=hashes,
            exclude_newer=cutoffs,
            targets=entries,
        )

    def unsatisfied(
        self, specs: Sequence[str], packages: Sequence[Package]
    ) -> list[tuple[str, str]]:
        """(spec, why) for each of `specs` no package of its name in `packages` satisfies
        (rattler's MatchSpec against the packages' records); a spec's channel is not
        compared (the lock names channels as declared, a spec may name a mirror)."""
        by_name: dict[str, list[tuple[Package, Any]]] = {}
        for pkg in packages:
            record = next(iter(self._records.known([pkg])), None)
            by_name.setdefault(pkg.name, []).append((pkg, record))
        out: list[tuple[str, str]] = []
        for spec in specs:
            try:
                match = rattler.MatchSpec(_without_channel(spec), strict=False)
            except Exception as exc:  # the parse errors behind InvalidMatchSpecError
                out.append((spec, _first_line(str(exc))))
                continue
            name = match.name.normalized if match.name is not None else None
            if name is None or name.startswith("__"):
                continue  # virtual packages are the machine's, not the lock's
            found = by_name.get(name, [])
            if not found:
                out.append((spec, f"no {name} is locked"))
            elif not any(r is not None and match.matches(r) for _, r in found):
                have = ", ".join(f"{p.version} {p.build}" for p, _ in found)
                out.append((spec, f"{name} {have} is locked"))
        return out

    # observe -------------------------------------------------------------------------
    @staticmethod
    def _prefix_records(prefix: Path) -> list[Any]:
        meta = prefix / "conda-meta"
        if not meta.is_dir():
            return []
        records = (_read_record(p) for p in sorted(meta.glob("*.json")))
        return [_unlinks_its_files(r) for r in records if r is not None]

    def installed(self, prefix: Path) -> list[Package]:
        return sorted(_to_package(r) for r in self._prefix_records(prefix))

    def adopt(self, prefix: Path) -> list[Package]:
        """The packages `prefix`'s conda-meta records, made installable by this engine
        (an env's previous build, for rollback)."""
        return sorted(self._records.remember(self._prefix_records(prefix)))


def _unreadable(path: Path, message: str, text: str = "") -> LockUnreadable:
    """rattler's error for a lock it can't parse, located where the YAML parser says
    (`... at line 119 column 3, while parsing a block mapping at line 113 column 3`), else
    where wsp finds what the message names in `text` (a field missing, a digest cut
    short, a package no entry lists: wsp.engines.lockwhere)."""
    at = re.search(r" at line (\d+) column (\d+)", message)
    if at is None:
        from wsp.engines.lockwhere import locate

        try:
            found = locate(text, message)
        except Exception:  # where is a courtesy: never lose rattler's message over it
            found = None
        if found is None:
            return LockUnreadable(path, message)
        line, col, what = found
        return LockUnreadable(path, what, line, col)
    what = message[: at.start()] + message[at.end() :]
    line, col = int(at.group(1)), int(at.group(2))
    lines = text.splitlines()
    if text and line > len(lines) + text.endswith("\n"):  # past the end of a file cut
        line, col = len(lines), len(lines[-1]) + 1  # short mid-line: at its end
    return LockUnreadable(path, what, line, col)


def _published_before(record: Any, bound: int) -> bool:
    """Whether `record` was built before `bound` (ms since the epoch), or records no time."""
    stamp = record.timestamp
    return stamp is None or int(stamp.timestamp() * 1000) < bound


class _Dated:
    """One channel's records that an `exclude-newer` cutoff keeps, as a repodata source
    rattler's solver reads like a channel (rattler.repo_data.source.RepoDataSource)."""

    def __init__(self, records: Sequence[Any]) -> None:
        self._by: dict[tuple[str, str], list[Any]] = {}
        for r in records:
            self._by.setdefault((str(r.subdir), r.name.normalized), []).append(r)

    async def fetch_package_records(self, platform: Any, name: Any) -> list[Any]:
        return self._by.get((str(platform), name.normalized), [])

    def package_names(self, platform: Any) -> list[str]:
        return sorted({n for subdir, n in self._by if subdir == str(platform)})


def _read_record(path: Path, tries: int = 5) -> Any | None:
    """One package record of an env; None when it went away while being read (another
    apply is changing the env). A record caught half-written is read again a moment
    later; one that stays unreadable is an error naming it, and the env is left alone."""
    problem = ""
    for attempt in range(tries):
        try:
            return rattler.PrefixRecord.from_path(path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # rattler's parse errors have no common base
            if not path.exists():
                return None
            problem = _first_line(str(exc)) or type(exc).__name__
            time.sleep(0.05 * (attempt + 1))
    raise WspError(
        f"{path} is not a package record wsp can read ({problem}); wsp leaves the env alone",
        hint="if another tool is changing the env, try again once it is done",
    )


def _not_the_package(
    url: str, got: str, want: str, digest: str = "sha256", *, done: str = "installed"
) -> WspError:
    from wsp.channels import redact

    name = url.rsplit("/", 1)[-1]
    return WspError(
        f"{name} at {redact(url)} is not the package wsp.lock (or the channel's index) "
        f"names: its {digest} is {got}, not {want}; nothing was {done}",
        hint="the channel or mirror serves another build under the same name (rebuilt, or "
        "tampered with): if it is the right one, `wsp lock --update` locks it",
    )


def _stem(record: Any) -> str:
    """The package cache's folder name of `record`'s archive."""
    name = str(record.file_name)
    return name.removesuffix(".conda").removesuffix(".tar.bz2")


def _check_local_archive(record: Any) -> None:
    """Refuse a package archive of a local channel (file://) that is not the one its
    record names (sha256, else md5): rattler checks what it downloads, but takes a local
    file as it is, and the env's record would then claim the record's sha256."""

    path = file_url_path(str(record.url))
    if path is None or not (record.sha256 or record.md5):
        return
    digest, want = ("sha256", record.sha256.hex()) if record.sha256 else ("md5", record.md5.hex())
    try:
        got = file_hexdigest(path, digest)
    except OSError:
        return  # missing: rattler says so
    if got != want:
        raise _not_the_package(str(record.url), got, want, digest)


def _unlinks_its_files(record: Any) -> Any:
    """`record` with `paths_data` naming the files it put in the env. rattler removes a
    package by its `paths_data`; conda (26.7.1) writes there the paths inside the package
    of a `noarch: python` one (`site-packages/six.py`) and the env's paths only in `files`
    (`lib/python3.11/site-packages/six.py`): removing it as written would leave its files
    behind, still importable. Only conda's records are looked into (rattler's name the
    package's tarball nowhere): reading a record's paths costs ~1 µs each, thousands a
    package."""
    if record.package_tarball_full_path is None or not record.noarch.python:
        return record
    files = {str(f) for f in record.files}
    entries = record.paths_data.paths
    if not files or all(str(e.relative_path) in files for e in entries):
        return record
    kept = [e for e in entries if str(e.relative_path) in files]
    named = {str(e.relative_path) for e in kept}
    hardlink = rattler.prefix.PrefixPathType("hardlink")
    added = [rattler.prefix.PrefixPathsEntry(Path(f), hardlink) for f in sorted(files - named)]
    paths_data = record.paths_data
    paths_data.paths = kept + added
    record.paths_data = paths_data
    return record


def _paths(record: Any) -> set[str]:
    return {str(f) for f in record.files} | {str(p.relative_path) for p in record.paths_data.paths}


def _clobbered(current: Sequence[Any], keep: Sequence[Any]) -> set[str]:
    """The packages the env keeps that share a file with one it loses: a package installed
    by conda over another's file (conda clobbers it, with a warning). Removing it deletes
    that file, so they are linked again. Only an env conda has written a record of can
    hold one (rattler links no file two packages name): the others' paths are not read."""
    if all(r.package_tarball_full_path is None for r in current):
        return set()
    kept = {(r.name.normalized, str(r.version), str(r.build)) for r in keep}
    staying = [r for r in current if (r.name.normalized, str(r.version), str(r.build)) in kept]
    leaving = [r for r in current if (r.name.normalized, str(r.version), str(r.build)) not in kept]
    lost = set().union(*(_paths(r) for r in leaving)) if leaving else set()
    return {r.name.normalized for r in staying if lost & _paths(r)} if lost else set()


def _finish_linking(
    prefix: Path,
    records: Sequence[Any],
    before: Sequence[Any],
    again: Collection[str],
    *,
    staged: bool,
) -> None:
    """What conda does at link time that rattler does not, for the packages of `records`
    this install linked (those not in `before`, and those named `again`, linked anew):
    see wsp.engines.linking."""

    def key(r: Any) -> tuple[str, bytes | None]:
        return (r.file_name, r.sha256 or r.md5)

    def minor(rs: Sequence[Any]) -> tuple[int, ...] | None:
        py = next((r for r in rs if r.name.normalized == "python"), None)
        return tuple(py.version.as_major_minor()) if py is not None else None

    had = {key(r) for r in before}
    # a new Python major.minor: rattler links every noarch: python package anew, into the
    # new site-packages (a rollback across a replace), as conda does
    moved = minor(before) != minor(records)
    linked = [
        f"{r.name.normalized}-{r.version}-{r.build}"
        for r in records
        if key(r) not in had or r.name.normalized in again or (moved and r.noarch.python)
    ]
    python = next((r for r in records if r.name.normalized == "python"), None)
    finish_noarch_python(
        prefix,
        linked,
        (str(python.version), python.python_site_packages_path) if python else None,
        staged=staged,
    )


def _outside(prefix: Path, records: Sequence[Any]) -> str | None:
    """The first file of `records` that is not inside `prefix` (`../x`, an absolute path,
    or a path through a folder that is a link out of the env): removing a package deletes
    its files, and a record's word never reaches outside the env."""
    root = os.path.realpath(prefix)
    parents: set[str] = set()
    for record in records:
        paths = {str(f) for f in record.files}
        paths.update(str(p.relative_path) for p in record.paths_data.paths)
        for rel in paths:
            parts = Path(rel).parts
            if os.path.isabs(rel) or ".." in parts or not parts:
                return f"{record.name.normalized}: {rel}"
            parents.add(os.path.dirname(rel))
    for rel in parents:
        real = os.path.realpath(os.path.join(root, rel))
        if real != root and not real.startswith(root + os.sep):
            return f"{rel} (a link to {real})"
    return None


def _check_inside(prefix: Path, current: Sequence[Any], keep: Sequence[Any]) -> None:
    """Refuse to change the env when a package it would remove lists a file outside it."""
    kept = {(r.name.normalized, str(r.version), str(r.build)) for r in keep}
    leaving = [r for r in current if (r.name.normalized, str(r.version), str(r.build)) not in kept]
    if (bad := _outside(prefix, leaving)) is not None:
        raise WspError(
            f"a package record of {prefix} names a file outside the env ({bad}); wsp leaves "
            "the env alone and removes nothing",
            hint="the env's conda-meta was changed by hand or by a broken tool: remove it "
            "(`wsp destroy --target NAME`) and apply again",
        )


class _Reporter(rattler.InstallerReporter):
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._total = 0
        self._done = 0
        self._lock = threading.Lock()

    def on_transaction_start(self, total_operations: int) -> None:
        self._total = total_operations
        self._progress("start", 0, total_operations)

    def on_transaction_operation_complete(self, operation: int) -> None:
        with self._lock:
            self._done += 1
            done = self._done
        self._progress("op", done, self._total)

    def on_transaction_complete(self) -> None:
        self._progress("done", self._total, self._total)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return text
    # rattler chains causes as "Caused by: ..."; the last cause is the most specific
    causes = [
        line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by:")
    ]
    return f"{lines[0]}: {causes[-1]}" if causes else lines[0]


def _solver_message(text: str) -> str:
    body = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return body.replace("Cannot solve the request because of: ", "no solution: ")


_NO_CANDIDATES = re.compile(r"No candidates were found for ([A-Za-z0-9_.\-]+)")
_TOP_NODE = re.compile(r"^[├└]─ ([A-Za-z0-9_.\-]+)")


def _blamed(text: str) -> tuple[str, ...]:
    """The requested packages rattler's explanation names at its top level, the one it
    says "cannot be installed" first (then the others it conflicts with)."""
    first: list[str] = []
    rest: list[str] = []
    for name in _NO_CANDIDATES.findall(text):
        first.append(name.lower())
    for line in text.splitlines():
        if (m := _TOP_NODE.match(line)) is not None:
            (first if "cannot be installed" in line else rest).append(m.group(1).lower())
    return tuple(dict.fromkeys(first + rest))


# -- lock files (pixi.lock format, rattler's LockFile) ----------------------------------------

_LOCK_HASH = "# wsp-lock-hash "
_LOCK_CUTOFF = "# wsp-exclude-newer "  # the project's exclude-newer when it was locked


def _without_channel(spec: str) -> str:
    """`spec` without the channel (and subdir) it names."""
    m = rattler.MatchSpec(spec, strict=False)
    head, bracket, rest = str(m).partition("[")
    body = head.split("::", 1)[-1]
    if not bracket:
        return body
    fields = [
        f.strip()
        for f in re.split(r",\s*(?=\w+=)", rest.rstrip().removesuffix("]"))
        if f.strip() and not f.strip().startswith(("channel=", "subdir="))
    ]
    return f"{body}[{', '.join(fields)}]" if fields else body


def _sha256(pkg: Any) -> str | None:
    """The sha256 wsp.lock records for a pypi package (rattler's `.hashes`), or None."""
    try:
        digest = pkg.hashes.sha256
    except AttributeError:  # py-rattler 0.28: `hashes` of a package without any
        return None
    return digest.hex() if digest else None


def _with_pip_hashes(body: str, data: LockData) -> str:
    """rattler's YAML with each pypi package's `sha256:` (as pixi.lock writes it; rattler's
    add_pypi_package takes none), its location the key: a ruamel.yaml round trip."""
    hashes = {
        pin.url: pin.sha256
        for env in data.envs.values()
        for pins in env.pip.values()
        for pin in pins.values()
        if pin.sha256
    }
    if not hashes:
        return body
    import io

    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: what rattler wrote stays as it was
    yaml.width = 4096
    doc = yaml.load(body)
    for entry in doc.get("packages") or []:
        sha = hashes.get(str(entry.get("pypi"))) if "pypi" in entry else None
        if sha and "sha256" not in entry:
            keys = list(entry)
            at = keys.index("version") + 1 if "version" in keys else len(keys)
            entry.insert(at, "sha256", sha)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _relative(text: str, root: Path) -> str:
    """Paths under the workspace root written relative, so the lock travels with the repo."""
    base = str(root).rstrip("/") + "/"
    return text.replace(f"file://{base}", "file://./").replace(f": {base}", ": ./")


def _absolute(text: str, root: Path) -> str:
    base = str(root).rstrip("/") + "/"
    return text.replace("file://./", f"file://{base}").replace(": ./", f": {base}")
