"""Where in wsp.lock rattler's reader stopped, when its error does not say.

rattler (py-rattler 0.28) gives a line and column for YAML syntax errors only; a file cut
short or edited by hand mostly fails on its structure (`missing field packages`, `failed
to parse digest`, `... refers to a package that does not exist: URL`) with no location.
This finds the spot from the message and the text: the value it names, else the first
place the file departs from the pixi.lock layout, else its end when it ends mid-line
(cut short). Nothing here judges the file: rattler did; this only says where.
"""

from __future__ import annotations

import re
from typing import Any

_HEX = {"sha256": 64, "md5": 32}
_ARCHIVE = re.compile(r"[^/]+-[^-/]+-[^-/]+\.(?:tar\.bz2|conda)$")
_IN_SUBDIR = re.compile(r"/(?:noarch|[a-z0-9]+-[a-z0-9]+)/[^/]+$")
_SUBDIR = re.compile(r"'([^']+)' is not a known subdir")
_MISSING = re.compile(r"missing field(?:/fields)? [`']([\w-]+)[`']")


def locate(text: str, message: str) -> tuple[int, int, str] | None:
    """(line, column, message) of the problem rattler reported as `message` in the lock
    `text` (lines and columns from 1; the message shortened where rattler's is long);
    None when no spot can be told."""
    lines = text.splitlines()
    if "control characters are not allowed" in message:
        for i, line in enumerate(lines):
            for j, ch in enumerate(line):
                if (ord(ch) < 32 and ch != "\t") or ord(ch) == 127:
                    return i + 1, j + 1, message
    if m := _SUBDIR.search(message):
        short = f"{m.group(1)!r} is not a known platform (conda's: linux-64, osx-arm64, win-64, …)"
        found = _value(lines, lambda v: v == m.group(1)) or _key(lines, m.group(1))
        if found:
            return (*found, short)
    if "lockfile format version" in message or "`version` field" in message:
        found = _top_key(lines, "version")
        return (*(found or _first_line(lines)), message)
    if "refers to a package that does not exist: " in message:
        url = message.rsplit("refers to a package that does not exist: ", 1)[1].strip()
        found = _value(lines, lambda v: v.rstrip("/") == url.rstrip("/"))
        if found:
            return (*found, message)
    if m := re.search(r'invalid type: string "((?:[^"\\]|\\.)*)"', message):
        value = m.group(1).encode().decode("unicode_escape", "replace")
        found = _value(lines, lambda v: v == value)
        if found:
            return (*found, message)
    if "invalid port" in message:
        for i, line in enumerate(lines):
            if m2 := re.search(r"://[^/\s:]*:(?!\d+(?:/|$|\s))", line):
                return i + 1, m2.start() + 1, message
    if "digest" in message:
        for i, line in enumerate(lines):
            key, _, value = line.strip().partition(": ")
            if key in _HEX and not re.fullmatch(rf"[0-9a-fA-F]{{{_HEX[key]}}}", value.strip()):
                return i + 1, len(line) - len(line.lstrip()) + 1, message
    if "empty host" in message:
        for i, line in enumerate(lines):
            if m2 := re.search(r"\b(?!file:)[a-z][a-z0-9+.-]*://(?=/|$|\s)", line):
                return i + 1, m2.start() + 1, message
    if any(f"'{f}'" in message or f"`{f}`" in message for f in ("build", "subdir")):
        for i, line in enumerate(lines):  # a conda URL no package name or subdir is read from
            item = line.strip()
            if item.startswith(("- conda: ", "conda: ")):
                url = item.split(": ", 1)[1].strip()
                if not _ARCHIVE.search(url) or not _IN_SUBDIR.search(url):
                    return i + 1, len(line) - len(line.lstrip()) + 1, message
    found = _structure(text, message)
    if found:
        return (*found, message)
    if text and not text.endswith("\n"):  # cut short: where it ends
        return len(lines), len(lines[-1]) + 1, f"{message} (the file ends mid-line: cut short?)"
    return None


def _first_line(lines: list[str]) -> tuple[int, int]:
    """The first line that is not a comment (where the YAML starts)."""
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            return i + 1, 1
    return 1, 1


def _top_key(lines: list[str], key: str) -> tuple[int, int] | None:
    for i, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            return i + 1, 1
    return None


def _key(lines: list[str], key: str) -> tuple[int, int] | None:
    for i, line in enumerate(lines):
        if line.strip() in (f"{key}:", f"'{key}':"):
            return i + 1, len(line) - len(line.lstrip()) + 1
    return None


def _value(lines: list[str], wanted: Any) -> tuple[int, int] | None:
    """The first `key: VALUE` (or `- key: VALUE`) line whose value `wanted` accepts."""
    for i, line in enumerate(lines):
        _, sep, value = line.partition(": ")
        if sep and wanted(value.strip().strip("'\"")):
            return i + 1, len(line) - len(line.lstrip()) + 1
    return None


def _structure(text: str, message: str) -> tuple[int, int] | None:
    """The first place the YAML departs from the pixi.lock layout in the way `message`
    says (a field missing, a value empty, an entry of no known kind): read with
    ruamel.yaml, which keeps every node's position."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="rt").load(text)
    except (YAMLError, ValueError):
        return None
    if not hasattr(doc, "lc"):
        return None
    lines = text.splitlines()
    end = (max(len(lines), 1), 1)
    if "unit value" in message and (empty := _first_null(doc)) is not None:
        return empty
    missing = _MISSING.search(message)
    field = missing.group(1) if missing else None
    if field in ("version", "environments", "packages") and field not in doc:
        return end  # a top-level section: where the file stops without it
    envs = doc.get("environments")
    if isinstance(envs, dict):
        for name, env in envs.items():
            at = _pos(envs.lc.key(name))
            if not isinstance(env, dict):
                if "expected struct" in message or "invalid type" in message:
                    return at
                continue
            if field and field not in env and field in ("channels", "packages"):
                return at
            per = env.get("packages")
            if isinstance(per, dict):
                for plat, items in per.items():
                    if not isinstance(items, list):
                        if "invalid type" in message or "expected a" in message:
                            return _pos(per.lc.key(plat))
                        continue
                    for k, item in enumerate(items):
                        ok = isinstance(item, dict) and any(
                            isinstance(item.get(x), str) for x in ("conda", "pypi")
                        )
                        if not ok and ("enum" in message or "invalid type" in message):
                            return _pos(items.lc.item(k))
    packages = doc.get("packages")
    if isinstance(packages, list):
        for k, entry in enumerate(packages):
            at = _pos(packages.lc.item(k))
            if not isinstance(entry, dict):
                if "invalid type" in message or "expected" in message:
                    return at
                continue
            if "expected at least" in message and not any(
                isinstance(entry.get(x), str) for x in ("conda", "conda_source", "pypi")
            ):
                return at
            if "unit value" in message:
                for key, value in entry.items():
                    if value is None:
                        return _pos(entry.lc.key(key))
            if field and field in ("name", "version") and "pypi" in entry and field not in entry:
                return at
    platforms = doc.get("platforms")
    if isinstance(platforms, list) and field == "name":
        for k, entry in enumerate(platforms):
            if isinstance(entry, dict) and "name" not in entry:
                return _pos(platforms.lc.item(k))
    return None


def _first_null(node: Any) -> tuple[int, int] | None:
    """Where the first empty value (`key:` with nothing after it) is, in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if value is None:
                return _pos(node.lc.key(key))
            if (found := _first_null(value)) is not None:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if value is None:
                return _pos(node.lc.item(i))
            if (found := _first_null(value)) is not None:
                return found
    return None


def _pos(lc: Any) -> tuple[int, int]:
    line, col = lc
    return line + 1, col + 1
