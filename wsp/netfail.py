"""Why a channel could not be read, from the text of rattler's (or the OS's) error.

rattler chains its causes (`error sending request for url (...)`, then `Caused by: dns
error`, ...); `classify` reads the chain once and says which URL failed, the cause in a
few words (DNS, 404, no such file, TLS, refused, proxy, timeout) and what to do next.
Nothing is fetched here: it only reads text (and, for the hint, whether a proxy is set).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from wsp.channels import redact_text

Kind = Literal[
    "no-such-file",
    "permission",
    "not-found",
    "auth",
    "server",
    "dns",
    "proxy",
    "refused",
    "tls",
    "timeout",
    "other",
]

_URL_PATTERNS = (
    re.compile(r"for url \(([^()\s]+)\)"),
    re.compile(r"failed to open file `([^`]+)`"),
    re.compile(r"(?:file|path) '([^']+)'"),
    re.compile(r"channel '([^']+)'"),
    re.compile(r"((?:https?|file|s3|oci)://[^\s'`()]+)"),
)
_STATUS = re.compile(r"HTTP status (?:client|server) error \((\d{3})\s*([^)]*)\)")
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")

MIRROR_HINT = "[workspace.mirrors] in workspace.toml can point the channel at a reachable copy"
OFFLINE_NOTE = "`wsp plan` works offline with what it knows; `wsp apply` needs the channel"


@dataclass(frozen=True)
class NetFailure:
    """What failed, in words a person can act on."""

    kind: Kind
    url: str | None  # the URL or file that failed, credentials removed
    cause: str  # e.g. "no such file", "host not found (DNS)", "HTTP 404 Not Found"
    hint: str  # what to do next
    chain: tuple[str, ...] = ()  # rattler's own messages, outermost first (WSP_DEBUG)

    @property
    def summary(self) -> str:
        """`URL: cause` (the cause alone when no URL is known)."""
        return f"{self.url}: {self.cause}" if self.url else self.cause


def _chain(text: str) -> tuple[str, ...]:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return tuple(redact_text(ln.removeprefix("Caused by:").strip()) for ln in lines)


def _failed_url(text: str, url: str | None) -> str | None:
    for pattern in _URL_PATTERNS:
        found = pattern.findall(text)
        if found:
            return redact_text(found[-1].rstrip(".,;:"))
    return redact_text(url) if url else None


def _host(url: str | None) -> str:
    if not url:
        return "the server"
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the server"
    return f"{parts.hostname}{port}" if parts.hostname else "the server"


def proxy_in_use(environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment sets (credentials removed), if any."""
    env = os.environ if environ is None else environ
    for var in _PROXY_VARS:
        if env.get(var):
            return f"{var}={redact_text(env[var])}"
    return None


def classify(
    text: str, url: str | None = None, *, environ: Mapping[str, str] | None = None
) -> NetFailure:
    """What `text` (an error's message, its causes on further lines) says went wrong
    fetching `url` (used when the text names none)."""
    chain = _chain(text)
    low = text.lower()
    failed = _failed_url(text, url)
    host = _host(failed)
    proxy = proxy_in_use(environ)
    network = (
        "check the network connection and the host name"
        + (f"; a proxy is set ({proxy}): is it right?" if proxy else "")
        + ("; behind a proxy, set HTTPS_PROXY (or proxy_servers in .condarc)" if not proxy else "")
        + f"; {MIRROR_HINT}"
    )

    def make(kind: Kind, cause: str, hint: str) -> NetFailure:
        # a connection that failed: the channel's location says more than the file asked for
        where = failed
        if kind in ("dns", "proxy", "refused", "tls", "timeout") and url:
            where = redact_text(url)
        return NetFailure(kind, where, cause, hint, chain)

    if "no such file or directory" in low or "os error 2)" in low:
        return make(
            "no-such-file",
            "no such file",
            "check the channel's path (its entry in [workspace.mirrors], if it has one); "
            "a local channel needs an indexed <subdir>/repodata.json",
        )
    if "permission denied" in low or "os error 13)" in low:
        return make("permission", "permission denied", "make the channel's folder readable")
    if (status := _STATUS.search(text)) is not None:
        code, reason = status.group(1), status.group(2).strip()
        cause = f"HTTP {code}" + (f" {reason}" if reason else "")
        if code == "404":
            return make(
                "not-found",
                cause,
                "the server has no such channel or subdir: check the channel's name, "
                "or its URL in [workspace.mirrors]",
            )
        if code in ("401", "403", "407"):
            return make(
                "auth",
                cause,
                "the server refused access: the channel needs credentials, or other ones"
                + (" (the proxy's, for 407)" if code == "407" else ""),
            )
        return make("server", cause, f"the server failed: try again later; {MIRROR_HINT}")
    if "tunnel error" in low or "proxy" in low:
        return make(
            "proxy",
            "the proxy could not be used" + (f" ({proxy})" if proxy else ""),
            "check the proxy settings (HTTPS_PROXY, or proxy_servers in .condarc)",
        )
    if (
        "dns error" in low
        or "failed to lookup address" in low
        or "name or service not known" in low
        or "temporary failure in name resolution" in low
        or "nodename nor servname" in low
    ):
        return make("dns", f"host {host} not found (DNS)", network)
    if "connection refused" in low or "os error 111)" in low:
        return make("refused", f"{host} refused the connection", network)
    if any(w in low for w in ("certificate", "tls", "ssl", "handshake")):
        detail = next((c for c in reversed(chain) if "certificate" in c.lower()), "")
        return make(
            "tls",
            f"the TLS certificate of {host} was not accepted" + (f" ({detail})" if detail else ""),
            "if a proxy on your network re-signs TLS, name its CA certificate in .condarc "
            "(`ssl_verify: /path/ca.pem`) or add it to the system's store; or use an https "
            "URL whose certificate is valid",
        )
    if "timed out" in low or "timeout" in low or "os error 110)" in low:
        return make("timeout", f"{host} did not answer in time", network)
    cause = chain[-1] if chain else (redact_text(text.strip()) or "unknown error")
    if failed and cause.startswith(failed):
        cause = cause[len(failed) :].lstrip(": ") or cause
    return make("other", cause, MIRROR_HINT)
