"""Conda match specs, version specs and platforms: parsing and checks, nothing solved.

Pure helpers the manifest, graph, planner and commands share. They parse with py-rattler
(the same parser the engine solves with) but never touch its solver, installer or lock:
that is the engine's (wsp/engines/).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import rattler
from rattler.platform import Subdir

_BARE_VERSION = re.compile(r"^\d+(\.\d+)*$")


def check_match_spec(spec: str, *, strict: bool = True) -> str | None:
    """None when `spec` is a valid conda match spec, else what is wrong with it (one line)."""
    try:
        m = rattler.MatchSpec(spec, strict=strict)
    except Exception as exc:  # InvalidMatchSpecError and the parse errors behind it
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not strict and m.build is not None and not _BUILD.match(str(m.build)):
        # the lenient parser reads `num py>>=` as version "py", build ">>=": conda refuses it
        return f"the build string {str(m.build)!r} has characters no build string has"
    return None


_BUILD = re.compile(r"^[\w.*+!-]*$")


def canonical_match_spec(spec: str) -> str:
    """A spec as conda's lenient parser reads it (`numpy=1.26.4=py_0`), written in the
    form the strict parser accepts (`numpy ==1.26.4 py_0`; a build string the strict
    parser refuses in that position goes in brackets: `pytorch[version="==1.11.0",
    build="py3.9_cuda11.3_0"]`)."""
    text = str(rattler.MatchSpec(spec, strict=False))
    if check_match_spec(text) is None:
        return text
    return _bracketed(text)


def _bracketed(text: str) -> str:
    """`[chan::]name version build[k="v", ...]` -> `[chan::]name[version=.., build=.., k=..]`."""
    head, bracket, rest = text.partition("[")
    prefix, sep, body = head.rpartition("::")
    words = body.split()
    name, version, build = [*words, None, None][:3] if words else (body, None, None)
    fields = []
    if version is not None:
        fields.append(f'version="{version}"')
    if build is not None:
        fields.append(f'build="{build}"')
    if bracket:
        fields.append(rest.rstrip().removesuffix("]"))
    return f"{prefix}{sep}{name}[{', '.join(fields)}]" if fields else f"{prefix}{sep}{name}"


_ANY_CHANNEL = re.compile(r"^\s*\*(?:/([^:\s\[]+))?::")


def _without_any_channel(spec: str) -> str:
    """conda's `*::numpy` (from any channel) as `numpy`, which rattler reads as a channel
    named `*`; `*/noarch::numpy` keeps its subdir (`numpy[subdir="noarch"]`)."""
    found = _ANY_CHANNEL.match(spec)
    if found is None:
        return spec
    rest = spec[found.end() :]
    if found.group(1) is None:
        return rest
    head, _, fields = str(rattler.MatchSpec(rest, strict=False)).partition("[")
    fields = fields.rstrip().removesuffix("]")
    return f'{head}[{fields + ", " if fields else ""}subdir="{found.group(1)}"]'


def solver_match_spec(spec: str) -> str:
    """What the solver (which parses strictly) is handed for `spec`: the text itself when
    the strict parser reads it as conda does, else `canonical_match_spec(spec)`; conda's
    `*::` (any channel) pins no channel."""
    spec = _without_any_channel(spec)
    lenient = str(rattler.MatchSpec(spec, strict=False))
    try:
        if str(rattler.MatchSpec(spec, strict=True)) == lenient:
            return spec
    except Exception:  # InvalidMatchSpecError and the parse errors behind it
        pass
    return canonical_match_spec(spec)


def match_spec_name(spec: str) -> str | None:
    """The normalised package name of a match spec, leniently read; None when it has none."""
    try:
        name = rattler.MatchSpec(spec, strict=False).name
    except Exception:
        return None
    return name.normalized if name is not None else None


_SUBDIR = re.compile(r"/(noarch|[a-z0-9]+-[a-z0-9]+)$")


def spec_channel(spec: str) -> str | None:
    """The channel a match spec names, as written (`pytorch::x` -> "pytorch",
    `conda-forge/linux-64::x` -> "conda-forge", `x[channel=c]` -> "c"); None for none,
    and for conda's `*::x` (any channel)."""
    head = spec.strip().split("[", 1)[0]
    if "::" in head:
        channel = head.split("::", 1)[0].strip()
    else:
        try:
            found = rattler.MatchSpec(spec, strict=False).channel
        except Exception:
            return None
        if found is None:
            return None
        name = found.name
        channel = name if name and name != "None" else str(found.base_url)
    channel = _SUBDIR.sub("", channel.rstrip("/")) if "/" in channel else channel
    return channel if channel and channel != "*" else None  # conda's `*::`: any channel


def with_channel(spec: str, location: str) -> str:
    """`spec` pinned to the channel at `location` instead of the one it names (a mirror,
    a local folder), its subdir kept; in a form the strict parser accepts."""
    m = rattler.MatchSpec(spec, strict=False)
    head, bracket, rest = str(m).partition("[")
    body = head.split("::", 1)[-1]
    fields: list[str] = []
    if bracket:
        for f in re.split(r",\s*(?=\w+=)", rest.rstrip().removesuffix("]")):
            if f.strip() and not f.strip().startswith(("channel=", "subdir=")):
                fields.append(f.strip())
    subdir = f"/{m.subdir}" if m.subdir else ""
    tail = f"[{', '.join(fields)}]" if fields else ""
    text = f"{location.rstrip('/')}{subdir}::{body}{tail}"
    return text if check_match_spec(text) is None else _bracketed(text)


def match_spec_version(spec: str) -> str | None:
    """The version constraint of a match spec, leniently read ("python=3.9" -> "3.9.*")."""
    version = rattler.MatchSpec(spec, strict=False).version
    return str(version) if version is not None else None


# Python releases that exist or may: a spec matching none of them is a mistake.
@cache
def _python_candidates() -> tuple[Any, ...]:
    return tuple(
        rattler.Version(f"{major}.{minor}.{micro}")
        for major, minors in ((3, 31), (2, 8))
        for minor in range(minors)
        for micro in range(31)
    )


@cache
def check_python_spec(spec: str) -> str | None:
    """None when `spec` is a version spec some Python release matches."""
    try:
        vs = rattler.VersionSpec(spec, strict=True)
    except Exception as exc:  # InvalidVersionSpecError and friends
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". Did you mean")[0]
    if not any(vs.matches(v) for v in _python_candidates()):
        return "no Python release matches it"
    return None


def python_specs_intersect(specs: Sequence[str]) -> bool:
    """Whether some Python release satisfies every spec in `specs`."""
    return _intersect(tuple(specs))


@cache
def _intersect(specs: tuple[str, ...]) -> bool:
    parsed = [rattler.VersionSpec(s, strict=True) for s in specs]
    return any(all(p.matches(v) for p in parsed) for v in _python_candidates())


def current_platform() -> str:
    return str(Subdir.current())


@cache
def known_platforms() -> tuple[str, ...]:
    """Every conda platform (subdir) rattler knows, `noarch` left out."""
    return tuple(str(s) for s in Subdir.all() if str(s) != "noarch")


_PLAIN_VERSION = re.compile(r"^[0-9][0-9A-Za-z_.+!-]*$")


def check_version(text: str) -> str | None:
    """None when `text` is one plain version ("12.0", "2.28"), else what is wrong with it."""
    if not _PLAIN_VERSION.match(text):
        return "a version starts with a digit and has no operator or spaces"
    try:
        rattler.Version(text)
    except Exception as exc:  # InvalidVersionError
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return None


def version_at_least(have: str, need: str) -> bool:
    """Whether version `have` is `need` or newer (conda's version order)."""
    try:
        return bool(rattler.Version(have) >= rattler.Version(need))
    except Exception:  # a version rattler can't read is no version at all
        return False


def conda_name(spec: str) -> str:
    """The package name of a conda match spec ("conda-forge::numpy>=1" -> "numpy"); what
    rattler can't read, by its leading name."""
    if (name := match_spec_name(spec)) is not None:
        return name
    body = spec.split("::", 1)[-1].strip()
    found = re.match(r"[A-Za-z0-9_.\-]+", body)
    return found.group(0).lower() if found else body.lower()


def python_version(spec: str) -> str | None:
    """The `python = ...` value of a `python...` match spec, in workspace.toml's style:
    "python=3.11" -> "3.11", "python=3.11.4=h1_0" -> "3.11.4", "python>=3.10" -> ">=3.10";
    None for a bare "python"."""
    version = rattler.MatchSpec(spec, strict=False).version
    if version is None:
        return None
    text = str(version).replace(" ", "")
    if text.endswith(".*") and _BARE_VERSION.match(text[:-2]):
        return text[:-2]
    if text.startswith("==") and _BARE_VERSION.match(text[2:]) and text.count(".") >= 2:
        return text[2:]
    return text


def pins_more_than_version(spec: str) -> bool:
    """Whether a `python...` spec says more than its version (a build, a channel, ...)."""
    m = rattler.MatchSpec(spec, strict=False)
    bare = str(rattler.MatchSpec(f"python {m.version}" if m.version else "python"))
    return str(m) != bare


# -- exclude-newer: a cutoff date or timestamp ----------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_exclude_newer(value: object) -> str:
    """`exclude-newer` as wsp records it: a date stays `YYYY-MM-DD` (the whole day, UTC,
    is included); a timestamp becomes UTC, `YYYY-MM-DDTHH:MM:SS[.fff]Z`. TOML dates and
    date-times are taken as written. Raises ValueError saying what to write instead."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        return value.isoformat()
    elif isinstance(value, str):
        text = value.strip()
        if _DATE.match(text):
            try:
                return dt.date.fromisoformat(text).isoformat()
            except ValueError:
                raise ValueError(f"{value!r} is not a date") from None
        try:
            stamp = dt.datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValueError(
                f"{value!r} is neither a date (2026-06-01) nor an RFC 3339 timestamp "
                "(2026-06-01T12:00:00Z)"
            ) from None
    else:
        raise ValueError(f"{value!r} is not a date or a timestamp")
    if stamp.tzinfo is None:
        raise ValueError(
            f"timestamp {str(value)!r} has no time zone: end it with Z (UTC) or an offset (+02:00)"
        )
    stamp = stamp.astimezone(dt.UTC)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if stamp.microsecond:
        text += f".{stamp.microsecond // 1000:03d}"
    return text + "Z"


def exclude_newer_bound(value: str) -> int:
    """The first instant (ms since the epoch, UTC) `exclude-newer = value` excludes: what was
    published strictly before it is kept. A date keeps its whole day (UTC); a timestamp
    keeps that instant."""
    import datetime as dt

    if _DATE.match(value):
        day = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        return int((day + dt.timedelta(days=1)).timestamp() * 1000)
    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(stamp.timestamp() * 1000) + 1


def rfc3339_ms(ms: int) -> str:
    """`ms` since the epoch as an RFC 3339 UTC timestamp with milliseconds (what uv reads)."""
    import datetime as dt

    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"
