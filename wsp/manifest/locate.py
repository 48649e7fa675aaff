"""Where each key and array element of a TOML document starts, as LINE:COL.

tomlkit parses and round-trips the file but does not keep positions, so this
small scanner walks the (already valid) text once and records the offset of
every key path, value and array element. Errors found later by validation are
reported at these positions.
"""

from __future__ import annotations

import bisect
import contextlib

Path_ = tuple[str | int, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class TomlPositions:
    """Offsets of keys and values in a TOML text, looked up by key path."""

    def __init__(self, text: str) -> None:
        self._t = text
        self._i = 0
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.keys: dict[Path_, int] = {}
        self.values: dict[Path_, int] = {}
        self.duplicates: list[tuple[Path_, int]] = []  # keys or tables defined a second time
        self._headers: set[Path_] = set()
        # malformed text: keep what was found so far
        with contextlib.suppress(IndexError, ValueError):
            self._document()

    # -- lookup -------------------------------------------------------------
    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def find(self, path: Path_, *, value: bool = False) -> tuple[int, int]:
        """LINE:COL of `path` (its value when `value`), else of its nearest ancestor found."""
        path = tuple(path)
        while path:
            table = self.values if value else self.keys
            if path in table:
                return self.line_col(table[path])
            if path in self.keys:
                return self.line_col(self.keys[path])
            path = path[:-1]
            value = False
        return 1, 1

    # -- scanner ------------------------------------------------------------
    def _peek(self, s: str) -> bool:
        return self._t.startswith(s, self._i)

    def _skip_ws(self, newlines: bool) -> None:
        t = self._t
        while self._i < len(t):
            ch = t[self._i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self._i += 1
            elif ch == "#" and newlines:
                nl = t.find("\n", self._i)
                self._i = len(t) if nl < 0 else nl + 1
            else:
                return

    def _document(self) -> None:
        t = self._t
        table: Path_ = ()
        aot: dict[Path_, int] = {}
        while True:
            self._skip_ws(newlines=True)
            if self._i >= len(t):
                return
            start = self._i
            if self._peek("[["):
                self._i += 2
                key = self._key()
                aot[key] = aot.get(key, -1) + 1
                for i in range(1, len(key) + 1):
                    self.keys.setdefault(key[:i], start)
                table = (*key, aot[key])
                self.keys[table] = start
                self._i = t.index("]]", self._i) + 2
            elif self._peek("["):
                self._i += 1
                table = self._key()
                if table in self._headers:
                    self.duplicates.append((table, start))
                self._headers.add(table)
                for i in range(1, len(table) + 1):  # [a.b] also locates a
                    self.keys.setdefault(table[:i], start)
                self._i = t.index("]", self._i) + 1
            else:
                path = table + self._key()
                self._record(path, start, len(table))
                self._skip_ws(newlines=False)
                self._i += 1  # '='
                self._value(path)
            # rest of the line (comment)
            nl = t.find("\n", self._i)
            self._i = len(t) if nl < 0 else nl + 1

    def _record(self, path: Path_, start: int, table_len: int) -> None:
        """A key/value's position, and that of every prefix of a dotted key."""
        if path in self.values:
            self.duplicates.append((path, start))
        for i in range(table_len + 1, len(path) + 1):
            self.keys.setdefault(path[:i], start)

    def _key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self._skip_ws(newlines=False)
            t = self._t
            if t[self._i] in "\"'":
                parts.append(self._string())
            else:
                j = self._i
                while j < len(t) and t[j] in _BARE:
                    j += 1
                parts.append(t[self._i : j])
                self._i = j
            self._skip_ws(newlines=False)
            if self._i < len(t) and t[self._i] == ".":
                self._i += 1
                continue
            return tuple(parts)

    def _string(self) -> str:
        t = self._t
        for quote in ('"""', "'''"):
            if self._peek(quote):
                end = t.index(quote, self._i + 3)
                while t.startswith(quote[0], end + 3):  # up to two extra quotes may close
                    end += 1
                s = t[self._i + 3 : end]
                self._i = end + 3
                return s
        q = t[self._i]
        j = self._i + 1
        out = []
        while t[j] != q:
            if q == '"' and t[j] == "\\":
                out.append(t[j : j + 2])
                j += 2
                continue
            out.append(t[j])
            j += 1
        self._i = j + 1
        raw = "".join(out)
        if q == '"' and "\\" in raw:
            with contextlib.suppress(UnicodeDecodeError):
                raw = raw.encode("latin-1", "backslashreplace").decode("unicode_escape")
        return raw

    def _value(self, path: Path_) -> None:
        self._skip_ws(newlines=False)
        t = self._t
        self.values[path] = self._i
        ch = t[self._i]
        if ch == "[":
            self._i += 1
            idx = 0
            while True:
                self._skip_ws(newlines=True)
                if t[self._i] == "]":
                    self._i += 1
                    return
                self.keys[(*path, idx)] = self._i
                self._value((*path, idx))
                idx += 1
                self._skip_ws(newlines=True)
                if t[self._i] == ",":
                    self._i += 1
        elif ch == "{":
            self._i += 1
            while True:
                self._skip_ws(newlines=True)
                if t[self._i] == "}":
                    self._i += 1
                    return
                start = self._i
                key = (*path, *self._key())
                self._record(key, start, len(path))
                self._skip_ws(newlines=False)
                self._i += 1  # '='
                self._value(key)
                self._skip_ws(newlines=True)
                if t[self._i] == ",":
                    self._i += 1
        elif ch in "\"'":
            self._string()
        else:
            j = self._i
            while j < len(t) and t[j] not in ",]}\n#":
                j += 1
            self._i = j


# -- what a broken file left open -------------------------------------------------


def unclosed(text: str) -> tuple[str, int, str] | None:
    """What TOML text leaves open, for a parse error that only says "end of file":
    (what, offset where it opened, what closes it), the outermost first; None when
    everything opened is closed. A light scan: it assumes the rest is TOML."""
    i, n = 0, len(text)
    stack: list[tuple[str, int, str]] = []  # open arrays and inline tables
    line_start = True
    while i < n:
        ch = text[i]
        if ch == "\n":
            line_start = True
            i += 1
            continue
        if ch in " \t\r":
            i += 1
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if text.startswith(('"""', "'''"), i):
            quote = text[i : i + 3]
            end = _string_end(text, i + 3, quote, multiline=True)
            if end is None:
                return ("multi-line string", i, quote)
            i, line_start = end, False
            continue
        if ch in "\"'":
            end = _string_end(text, i + 1, ch, multiline=False)
            if end is None:
                return ("string", i, ch)
            i, line_start = end, False
            continue
        if ch == "[" and line_start and not stack:  # a table header: closed on its line
            j = i
            while j < n and text[j] not in "\n#":
                if text[j] == "]":
                    break
                j = (
                    _string_end(text, j + 1, text[j], multiline=False) or n
                    if text[j] in "\"'"
                    else j + 1
                )
            if j >= n or text[j] != "]":
                return ("table header", i, "]]" if text.startswith("[[", i) else "]")
            i = j + (2 if text.startswith("]]", j) else 1)
            line_start = False
            continue
        if ch == "[":
            stack.append(("array", i, "]"))
        elif ch == "{":
            stack.append(("inline table", i, "}"))
        elif ch in "]}" and stack and stack[-1][2] == ch:
            stack.pop()
        line_start = False
        i += 1
    return stack[0] if stack else None


def _string_end(text: str, i: int, quote: str, *, multiline: bool) -> int | None:
    """The offset after the string that starts at `i` (past its opening quote)."""
    n = len(text)
    while i < n:
        if text.startswith(quote, i):
            return i + len(quote)
        ch = text[i]
        if ch == "\n" and not multiline:
            return None
        i += 2 if ch == "\\" and quote[0] == '"' else 1
    return None
