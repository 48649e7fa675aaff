"""Reading a conda environment.yml (ruamel.yaml) the way conda reads it, losing nothing.

What conda honours, wsp reads: `name`, `channels` (in order; `${VAR}` expanded when the
channel is fetched), `dependencies` (conda match specs read leniently, as conda does,
and a `pip:` list read as pip reads a requirements file), `variables`. What wsp can't
honour yet (an unknown key, `prefix:`, a pip line of a kind the pip layer does not
install) is a located warning in `EnvFile.warnings`, never dropped silently. Anything
conda would refuse is a ManifestError located in the file the user wrote.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsp import pipreqs
from wsp.channels import channel_problem
from wsp.conda import ENV_VAR_NAME
from wsp.condameta import env_var_problem
from wsp.errors import ManifestError
from wsp.pip import PipOptions
from wsp.pipreqs import Located, PipEntry, Where

# The keys conda reads (conda/env/env.py VALID_KEYS); anything else it warns about.
KEYS = ("name", "channels", "dependencies", "variables", "prefix")
_CHANNEL_VAR = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class EnvFile:
    """What an environment.yml contributes to a project, as conda reads it."""

    path: Path
    name: str | None = None
    channels: tuple[str, ...] = ()  # as written, in order (`${VAR}` not expanded)
    dependencies: tuple[str, ...] = ()  # conda match specs as written
    dependency_at: tuple[tuple[int, int], ...] = ()  # (line, col) of each, in order
    pip: tuple[str, ...] = ()  # the pip list's index requirements (and its -r files')
    raw: bytes = field(default=b"", repr=False)
    pip_lines: tuple[str, ...] = ()  # the pip list as written, options and all
    pip_entries: tuple[PipEntry, ...] = ()  # the pip list, typed and located
    pip_options: PipOptions = field(default_factory=PipOptions)  # --index-url, --find-links...
    variables: tuple[tuple[str, str], ...] = ()  # `variables:`, in order
    warnings: tuple[Located, ...] = ()  # what wsp does not honour, said out loud
    requirement_files: tuple[Path, ...] = ()  # `-r` files read: inputs like the file itself

    @property
    def implicit_pip(self) -> bool:
        """conda adds `pip` to the conda dependencies of a file with a non-empty pip
        list that does not name it (conda/env/env.py)."""
        from wsp.specs import match_spec_name

        return bool(self.pip_lines) and not any(
            match_spec_name(d) == "pip" for d in self.dependencies
        )


# -- reading ---------------------------------------------------------------------------------


# ruamel.yaml's problem -> how to mend it
_YAML_FIXES = {
    "'\\t' that cannot start": "indent with spaces: YAML allows no tab there",
    "sequence entries are not allowed here": "write the list below its key, one '- item' a line",
    "mapping values are not allowed here": (
        "indent this key as its neighbours are, or put a value holding ': ' in quotes"
    ),
    "expected <block end>": "indent this line as the lines of its list or mapping are",
    "found duplicate key": "keep one",
    "found '<stream end>'": "the file ends inside a '[' or '{' it never closes: close it",
}
# what ruamel.yaml was reading when the file ended -> (what it is, how to close it)
_LEFT_OPEN = {
    "quoted scalar": ("quoted text", "its closing quote"),
    "flow sequence": ("'['", "']' after its last item"),
    "flow mapping": ("'{'", "'}' after its last entry"),
}


def _load_yaml(path: Path, raw: bytes) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(path, line, 1, "file is not valid UTF-8; save it as UTF-8") from None
    _check_depth(path, text)
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc).split())
        context = str(exc.context or "")
        opened = next((what for key, what in _LEFT_OPEN.items() if key in context), None)
        if opened is not None and "end" in problem and exc.context_mark is not None:
            mark = exc.context_mark  # where what the file never closes was opened
            problem = f"this {opened[0]} is never closed; add {opened[1]}"
        elif fix := next((fix for key, fix in _YAML_FIXES.items() if key in problem), None):
            problem = f"{problem}; {fix}"
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ManifestError(path, line, col, f"invalid YAML: {problem}") from None
    except ReaderError as exc:  # a character YAML does not allow: at its offset in `text`
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise ManifestError(
            path, line, col, f"invalid YAML: character {char} is not allowed ({exc.reason})"
        ) from None
    except YAMLError as exc:
        message = " ".join(str(exc).split())
        raise ManifestError(path, 1, 1, f"invalid YAML: {message}") from None
    except RecursionError:
        raise ManifestError(path, 1, 1, "invalid YAML: nested too deep") from None
    except Exception as exc:  # whatever else the YAML library raises: still one located line
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ManifestError(path, 1, 1, f"invalid YAML: {message}") from None


_MAX_DEPTH = 64  # real environment files nest 3 or 4 deep


def _check_depth(path: Path, text: str) -> None:
    """Refuse nesting no environment file has before the YAML parser recurses into it
    (3000 nested `[` take it seconds, then a RecursionError)."""
    depth = 0
    quote = ""
    line, col = 1, 0
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, quote = line + 1, 0, ""
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                raise ManifestError(
                    path, line, col, f"invalid YAML: nested more than {_MAX_DEPTH} deep"
                )
        elif ch in "]}":
            depth = max(depth - 1, 0)
    for i, row in enumerate(text.splitlines(), start=1):
        if len(row) - len(row.lstrip(" ")) > 4 * _MAX_DEPTH and row.strip():
            raise ManifestError(
                path, i, 1, f"invalid YAML: indented more than {4 * _MAX_DEPTH} spaces"
            )


def _where(path: Path, node: object, key: object) -> Where:
    """The position of `key` (a mapping key, or a list index: its item) in `node`."""
    lc = getattr(node, "lc", None)
    try:
        line, col = lc.item(key) if isinstance(key, int) else lc.key(key)  # type: ignore[union-attr]
        return Where(path, int(line) + 1, int(col) + 1)
    except Exception:
        return Where(path, 1, 1)


def _value_where(path: Path, node: object, key: object) -> Where:
    """The position of the value of `key` in a mapping (its key's when unknown)."""
    lc = getattr(node, "lc", None)
    try:
        line, col = lc.value(key)  # type: ignore[union-attr]
        return Where(path, int(line) + 1, int(col) + 1)
    except Exception:
        return _where(path, node, key)


def _scalar(value: object) -> str | None:
    """A YAML scalar as the text conda would take (`3.9` -> "3.9"), None for others."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _kind(value: object) -> str:
    """What a YAML value is, in YAML's words ("a list"), not Python's ("CommentedSeq")."""
    import datetime as dt

    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "another kind of value"


def read_env_file(path: Path, *, root: Path | None = None) -> EnvFile:
    """Parse the environment file at `path` as conda does.

    `root`: `-r FILE` lines of the pip list must name files under it (the workspace).
    Raises only ManifestError, located in `path` (or in a `-r` file it reads).
    """
    from difflib import get_close_matches

    from wsp.specs import check_match_spec

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(path, 1, 1, f"can't be read: {exc.strerror or exc}") from None
    data = _load_yaml(path, raw.removeprefix(b"\xef\xbb\xbf"))
    if data is None:
        raise ManifestError(
            path, 1, 1, "the environment file is empty; conda needs at least dependencies: [...]"
        )
    if not isinstance(data, dict):
        raise ManifestError(
            path,
            1,
            1,
            "an environment file must be a mapping (name:, channels:, dependencies:), "
            f"not {_kind(data)}",
        )
    warnings: list[Located] = []
    for key in data:
        if str(key) in KEYS:
            continue
        close = get_close_matches(str(key), KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; conda reads {', '.join(KEYS)}"
        warnings.append(
            Located(_where(path, data, key), f"unknown key {str(key)!r} is ignored{hint}")
        )
    if "prefix" in data:
        warnings.append(
            Located(
                _where(path, data, "prefix"),
                "prefix is ignored: wsp makes the env in envs-dir, named after the project",
            )
        )

    def strings(node: object, key: str, parent: object) -> list[tuple[str, Where]]:
        if node is None:
            return []
        if not isinstance(node, list):
            raise _value_where(path, parent, key).error(
                f"'{key}' must be a list, e.g. {key}: [...]"
            )
        out = []
        for i, item in enumerate(node):
            text = _scalar(item)
            if text is None or not text.strip():
                raise _where(path, node, i).error(f"'{key}' entries must be non-empty strings")
            out.append((text, _where(path, node, i)))
        return out

    # channels, in order; ${VAR} must be defined (it is expanded where the channel is fetched)
    channels: list[str] = []
    for text, where in strings(data.get("channels"), "channels", data):
        if (problem := channel_problem(text)) is not None:
            raise where.error(f"channel {text!r}: {problem}")
        for m in _CHANNEL_VAR.finditer(text):
            var = m.group(1) if m.group(1) is not None else m.group(2)
            if not var or not ENV_VAR_NAME.match(var):
                raise where.error(f"channel {text!r}: {m.group(0)!r} is not a variable name")
            if var not in os.environ:
                raise where.error(
                    f"channel {text!r} uses ${{{var}}}, which is not set: "
                    f"export {var}=... before running wsp (conda expands it the same way)"
                )
        channels.append(text.strip())

    # dependencies: conda match specs (lenient, as conda reads them) and one pip list
    deps: list[str] = []
    deps_at: list[tuple[int, int]] = []
    pip_lines: list[tuple[str, Where]] = []
    pip_seen = False
    raw_deps = data.get("dependencies")
    if raw_deps is not None and not isinstance(raw_deps, list):
        raise _value_where(path, data, "dependencies").error(
            "'dependencies' must be a list of match specs (and a '- pip:' list)"
        )
    for i, item in enumerate(raw_deps or []):
        where = _where(path, raw_deps, i)
        text = _scalar(item)
        if text is not None:
            spec = text.strip()
            if not spec:
                raise where.error("an empty dependency; give a match spec, e.g. numpy>=1.26")
            if problem := check_match_spec(spec, strict=False):
                raise where.error(f"{spec!r} is not a conda match spec: {problem}")
            deps.append(spec)
            deps_at.append((where.line, where.col))
        elif isinstance(item, dict) and len(item) == 1 and "pip" in item:
            if pip_seen:  # conda (26.7) keeps the last list alone, and says nothing
                warnings.append(
                    Located(
                        where,
                        "a second '- pip:' list: wsp installs every list's entries, conda "
                        "only the last list's; merge them into one list",
                    )
                )
            pip_seen = True
            pip_lines.extend(strings(item["pip"], "pip", item))
        elif isinstance(item, dict):
            other = next((str(k) for k in item if k != "pip"), "pip")
            raise where.error(
                f"'{other}:' in dependencies is not something conda installs; "
                "only match specs and a '- pip:' list go here"
            )
        else:
            raise where.error("dependencies entries must be match specs or a '- pip:' list")

    # the pip list, as pip reads a requirements file in the environment file's folder
    entries: list[PipEntry] = []
    for text, where in pip_lines:
        entries.extend(pipreqs.parse_line(text, where, base=path.parent, root=root))
    for entry in pipreqs.walk(entries):
        if (why := pipreqs.unsupported(entry)) is not None:
            warnings.append(Located(entry.where, why))
    requirement_files = tuple(
        e.path for e in pipreqs.walk(entries) if isinstance(e, pipreqs.RequirementsFile)
    )

    # variables: the env's environment variables (conda-meta/state env_vars)
    variables: list[tuple[str, str]] = []
    raw_vars = data.get("variables")
    if raw_vars is not None:
        if not isinstance(raw_vars, dict):
            raise _value_where(path, data, "variables").error(
                "'variables' must be a mapping of NAME: value"
            )
        for key, value in raw_vars.items():
            where = _where(path, raw_vars, key)
            name = str(key)
            if not ENV_VAR_NAME.match(name):
                raise where.error(
                    f"variable name {name!r} is not a valid environment variable name "
                    "(letters, digits and _, not starting with a digit)"
                )
            if (problem := env_var_problem(name)) is not None:  # PATH: what apply refuses
                raise where.error(f"variable {problem} (remove it)")
            if value is None:
                warnings.append(Located(where, f"variable {name} has no value: set to ''"))
                text = ""
            elif isinstance(value, bool):  # conda sets str() of what YAML read: True/False
                text = str(value)
            elif (text := _scalar(value)) is None:
                raise _value_where(path, raw_vars, key).error(
                    f"variable {name} must be a string, not {_kind(value)}"
                )
            if "\x00" in text:
                raise where.error(f"variable {name} holds a NUL character; remove it")
            variables.append((name, text))

    name = None
    if data.get("name") is not None and (name := _scalar(data["name"])) is None:
        raise _value_where(path, data, "name").error("'name' must be a string")
    return EnvFile(
        path=path,
        name=name,
        channels=tuple(channels),
        dependencies=tuple(deps),
        dependency_at=tuple(deps_at),
        # the PEP 508 requirements the pip layer resolves (`name @ URL` too; a line with
        # ${VAR} is not used, and said)
        pip=tuple(pipreqs.pip_layer(entries)[0]),
        raw=raw,
        pip_lines=tuple(text for text, _ in pip_lines),
        pip_entries=tuple(entries),
        pip_options=pipreqs.options(entries),
        variables=tuple(variables),
        warnings=tuple(warnings),
        requirement_files=requirement_files,
    )
