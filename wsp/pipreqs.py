"""pip requirement lines, as pip reads a requirements file and as conda hands it the
`pip:` list of an environment.yml: typed entries, each with where it was written.

Pure: text in, entries out. Nothing is run, built or fetched; a `-r FILE` is read
(static text) and its lines parsed the same way, each located in that file. Relative
paths are read from `base`, the folder of the file the line is in (conda runs pip in
the environment file's folder).

What the rest of wsp does with an entry is not decided here, except `unsupported`:
the one place that says which kinds wsp does not honour yet (a warning, never silence).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wsp import codec
from wsp.errors import ManifestError, display_path
from wsp.fsutil import file_url_path
from wsp.pip import VCS, canonical

if TYPE_CHECKING:
    from wsp.pip import PipOptions, PipSource

# -- where an entry was written ------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """A position: the file (None: not from a file) and its 1-based line and column."""

    path: Path | None
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        where = display_path(self.path) if self.path is not None else "<pip>"
        return f"{where}:{self.line}:{self.col}"

    def error(self, message: str) -> ManifestError:
        return ManifestError(self.path or Path("<pip>"), self.line, self.col, message)


@dataclass(frozen=True)
class Located:
    """A message about one place of a file the user wrote (a warning, a note)."""

    where: Where
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


# -- entries -------------------------------------------------------------------------------


@codec.dense
@dataclass(frozen=True)
class Requirement:
    """A PEP 508 requirement: `name[extras] specifier ; marker`, or `name @ URL`."""

    text: str  # the requirement as written (per-requirement options and comments cut)
    where: Where
    name: str  # PEP 503 normalised
    url: str | None = None  # `name @ URL`
    options: tuple[str, ...] = ()  # per-requirement options (`--hash=...`)


@codec.dense
@dataclass(frozen=True)
class Editable:
    """`-e TARGET` / `--editable TARGET`: a local folder or a VCS URL, installed editable."""

    text: str
    where: Where
    target: str  # as written
    path: Path | None  # a local folder, resolved against the file's folder
    url: str | None  # a VCS URL (`git+https://...`)
    name: str | None  # from `#egg=NAME`, when given


@codec.dense
@dataclass(frozen=True)
class LocalPath:
    """A local folder or archive (`./pkg`, `../dist/x-1.0.whl`), optionally `[extras]`."""

    text: str
    where: Where
    path: Path  # resolved against the file's folder
    extras: str = ""


@codec.dense
@dataclass(frozen=True)
class UrlRequirement:
    """A URL with no `name @` before it: `git+https://...#egg=name`, `https://.../x.whl`."""

    text: str
    where: Where
    url: str
    name: str | None  # from `#egg=NAME`, when given


@codec.dense
@dataclass(frozen=True)
class RequirementsFile:
    """`-r FILE` (or `-c FILE`, constraints): read, its lines parsed as entries of their own."""

    text: str
    where: Where
    path: Path
    constraints: bool
    entries: tuple[PipEntry, ...] = field(default=(), repr=False)


@codec.dense
@dataclass(frozen=True)
class Option:
    """A global pip option: `--index-url URL`, `--pre`, ... (`name` in its long form)."""

    text: str
    where: Where
    name: str
    value: str | None = None
    known: bool = True


PipEntry = Requirement | Editable | LocalPath | UrlRequirement | RequirementsFile | Option


# -- pip's own options -----------------------------------------------------------------------

# long name -> takes a value; short forms map to long ones
_WITH_VALUE = {
    "--index-url",
    "--extra-index-url",
    "--find-links",
    "--requirement",
    "--constraint",
    "--editable",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
    "--use-feature",
    "--config-settings",
    "--global-option",
    "--hash",
}
_FLAGS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes", "--always-unzip"}
_SHORT = {
    "-i": "--index-url",
    "-f": "--find-links",
    "-r": "--requirement",
    "-c": "--constraint",
    "-e": "--editable",
    "-C": "--config-settings",
    "-Z": "--always-unzip",
}
# options pip allows after a requirement, on its line
_PER_REQUIREMENT = {"--hash", "--config-settings", "--global-option"}

_COMMENT = re.compile(r"(^|\s+)#.*$")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_MAX_DEPTH = 10  # -r files including -r files


def is_url(text: str) -> bool:
    return bool(_URL.match(text)) or text.startswith(VCS)


def _looks_like_path(text: str) -> bool:
    """pip's test: a path separator, a leading '.', or an archive's name."""
    head = text.split("[", 1)[0]
    return (
        "/" in head
        or "\\" in head
        or head.startswith((".", "~"))
        or head.lower().endswith(_ARCHIVES)
    )


def _resolve(base: Path | None, text: str) -> Path:
    """`text` as a path read from `base` (`~` expanded where it can be), normalised."""
    import contextlib
    import os

    path = Path(text)
    with contextlib.suppress(RuntimeError):  # `~nouser/...`: no such home; kept as written
        path = path.expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return Path(os.path.normpath(path))


def _split_options(line: str) -> tuple[str, list[str]]:
    """pip's `break_args_options`: the words before the first `-word`, and the rest."""
    words = line.split(" ")
    for i, w in enumerate(words):
        if w.startswith("-"):
            return " ".join(words[:i]).strip(), words[i:]
    return line.strip(), []


def _options(tokens: list[str], where: Where) -> list[tuple[str, str | None, bool]]:
    """(long name, value, known) of each option in `tokens` (shlex-split)."""
    out: list[tuple[str, str | None, bool]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("-"):
            raise where.error(
                f"{tok!r} is not a pip option here: a requirement goes first on its line, "
                "options after it"
            )
        if tok.startswith("--"):
            name, eq, value = tok.partition("=")
            attached: str | None = value if eq else None
        else:
            name, rest = tok[:2], tok[2:]
            name = _SHORT.get(name, name)
            attached = rest.removeprefix("=") if rest else None
        if name in _WITH_VALUE:
            if attached is None:
                i += 1
                if i >= len(tokens):
                    raise where.error(f"pip option {name} needs a value, e.g. {name} VALUE")
                attached = tokens[i]
            out.append((name, attached, True))
        elif name in _FLAGS:
            out.append((name, None, True))
        else:
            out.append((name, attached, False))
        i += 1
    return out


def _requirement(text: str, where: Where, options: tuple[str, ...] = ()) -> Requirement:
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508

    try:
        req = Pep508(text)
    except InvalidRequirement as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else "not PEP 508"
        hint = ""
        if re.match(r"^[A-Za-z0-9._-]+\s*=[^=]", text):
            hint = " (pip compares with ==, >=, ~= ...: a single '=' is conda's syntax)"
        raise where.error(f"{text!r} is not a valid pip requirement: {problem}{hint}") from None
    return Requirement(text, where, canonical(req.name), req.url, options)


def parse_line(
    text: str,
    where: Where,
    *,
    base: Path | None,
    root: Path | None = None,
    read: bool = True,
    _chain: tuple[Path, ...] = (),
) -> list[PipEntry]:
    """The entries of one requirements line ([] for a blank or comment line).

    `base` is the folder relative paths are read from; `-r FILE` is read (when `read`)
    and must lie under `root` when one is given. Raises a ManifestError at `where` for
    what pip would refuse.
    """
    line = _COMMENT.sub("", text).strip()
    if not line:
        return []
    if "\x00" in line:
        raise where.error("a NUL character in a pip requirement; remove it")
    args, rest = _split_options(line)
    try:
        tokens = shlex.split(" ".join(rest))
    except ValueError as exc:
        raise where.error(f"can't read the options of {line!r}: {exc}") from None
    if args:
        if _looks_like_path(args) and " @ " not in args and not is_url(args):
            entry: PipEntry = _local_path(args, where, base)
            extra = _options(tokens, where)
        elif is_url(args):
            egg = _EGG.search(args)
            entry = UrlRequirement(line, where, args, canonical(egg.group(1)) if egg else None)
            extra = _options(tokens, where)
        else:
            extra = _options(tokens, where)
            per = tuple(f"{n}={v}" if v is not None else n for n, v, _ in extra)
            entry = _requirement(args, where, per)
            unknown = [n for n, _, _ in extra if n not in _PER_REQUIREMENT]
            if unknown:
                raise where.error(
                    f"pip option {unknown[0]} can't follow a requirement; "
                    "put it on a line of its own"
                )
            return [entry]
        if extra:
            raise where.error(
                f"pip option {extra[0][0]} can't follow {args!r}; put it on a line of its own"
            )
        return [entry]
    out: list[PipEntry] = []
    for name, value, known in _options(tokens, where):
        if name == "--editable":
            out.append(_editable(line, where, base, value or ""))
        elif name in ("--requirement", "--constraint"):
            constraints = name == "--constraint"
            if not read:
                path = _resolve(base, value or "")
                out.append(RequirementsFile(line, where, path, constraints))
                continue
            out.append(
                _requirements_file(line, where, base, root, value or "", constraints, _chain)
            )
        elif name in _PER_REQUIREMENT:
            raise where.error(f"pip option {name} belongs after a requirement, on its line")
        else:
            out.append(Option(line, where, name, value, known))
    return out


def _local_path(text: str, where: Where, base: Path | None) -> LocalPath:
    head, bracket, extras = text.partition("[")
    return LocalPath(text, where, _resolve(base, head), f"[{extras}" if bracket else "")


def _editable(line: str, where: Where, base: Path | None, target: str) -> Editable:
    target = target.strip()
    if not target:
        raise where.error("-e needs a local folder or a VCS URL, e.g. -e ./src")
    egg = _EGG.search(target)
    name = canonical(egg.group(1)) if egg else None
    if is_url(target):
        local = file_url_path(target)
        return Editable(line, where, target, local, None if local else target, name)
    head = target.split("[", 1)[0]
    if not _looks_like_path(head) and "/" not in head:
        # pip: "-e name" is not a path: it must be a path or a VCS URL
        raise where.error(
            f"-e {target!r}: an editable install needs a local folder (./{target}) or a "
            "VCS URL (git+https://...)"
        )
    return Editable(line, where, target, _resolve(base, head), None, name)


def _requirements_file(
    line: str,
    where: Where,
    base: Path | None,
    root: Path | None,
    target: str,
    constraints: bool,
    chain: tuple[Path, ...],
) -> RequirementsFile:
    flag = "-c" if constraints else "-r"
    if is_url(target):
        raise where.error(
            f"{flag} {target}: a requirements file from a URL is not read; "
            "save it in the workspace and name its path"
        )
    path = _resolve(base, target)
    if root is not None:
        try:
            path.resolve().relative_to(root.resolve())
        except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
            raise where.error(
                f"{flag} {target}: {path} is outside the workspace ({root}); "
                "only files inside it are read"
            ) from None
    if path.resolve() in (p.resolve() for p in chain):
        cycle = " -> ".join(display_path(p) for p in (*chain, path))
        raise where.error(
            f"{flag} {target}: requirements files read each other in a cycle ({cycle}); "
            f"remove the {flag} line that closes it"
        )
    if len(chain) >= _MAX_DEPTH:
        raise where.error(f"{flag} {target}: requirements files nested more than {_MAX_DEPTH} deep")
    entries = read_requirements(path, root=root, at=where, _chain=chain)
    return RequirementsFile(line, where, path, constraints, tuple(entries))


def read_requirements(
    path: Path, *, root: Path | None = None, at: Where | None = None, _chain: tuple[Path, ...] = ()
) -> list[PipEntry]:
    """The entries of a requirements file (`-r FILE`), each located in that file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if at is not None:
            raise at.error(f"requirements file {path} can't be read: {why}") from None
        raise Where(path).error(f"can't be read: {why}") from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise Where(path, line).error("file is not valid UTF-8; save it as UTF-8") from None
    out: list[PipEntry] = []
    for line_no, line in _logical_lines(text):
        indent = len(line) - len(line.lstrip())
        out.extend(
            parse_line(
                line,
                Where(path, line_no, indent + 1),
                base=path.parent,
                root=root,
                _chain=(*_chain, path),
            )
        )
    return out


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each line, `\\`-continued lines joined (as pip does)."""
    pending: list[str] = []
    start = 0
    for i, line in enumerate(text.splitlines(), start=1):
        if not pending:
            start = i
        if line.endswith("\\") and not _COMMENT.search(line):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, "".join(pending)
        pending = []
    if pending:
        yield start, "".join(pending)


# -- what wsp makes of them ------------------------------------------------------------------


def walk(entries: Iterable[PipEntry]) -> Iterator[PipEntry]:
    """Every entry, those of `-r` files in place of the file (the file's entry first)."""
    for e in entries:
        yield e
        if isinstance(e, RequirementsFile):
            yield from walk(e.entries)


def requirements(entries: Iterable[PipEntry]) -> list[Requirement]:
    """The PEP 508 requirements, `-r` files' included (not `-c` constraints), in order."""
    out: list[Requirement] = []
    for e in entries:
        if isinstance(e, Requirement):
            out.append(e)
        elif isinstance(e, RequirementsFile) and not e.constraints:
            out.extend(requirements(e.entries))
    return out


def unsupported(entry: PipEntry) -> str | None:
    """Why wsp does not honour `entry` (a warning's text), or None when it does.

    The pip layer resolves and installs PEP 508 requirements (`name @ URL` too), local
    folders and archives (`-e ./dir` editable), URLs (VCS or archives), `-r` files, and
    takes --index-url, --extra-index-url, --find-links, --no-index and --pre; the rest is
    said here, never dropped silently.
    """
    if has_env_var(entry.text):
        return (
            f"{entry.text!r}: ${{VAR}} in pip lines is not expanded by wsp (it would send the "
            "variable's value wherever the line points): the line is not used; write the value"
        )
    if isinstance(entry, Requirement):
        if entry.options:
            return f"{entry.text!r}: {', '.join(entry.options)} is ignored by wsp"
        return None
    if isinstance(entry, Editable):
        if entry.path is None:
            return (
                f"-e {entry.target}: uv makes no editable installs from a VCS: wsp installs it "
                "as a regular (non-editable) install"
            )
        return None
    if isinstance(entry, LocalPath | UrlRequirement):
        return None
    if isinstance(entry, RequirementsFile):
        return (
            f"-c {entry.path.name}: constraints files are not applied by wsp yet"
            if entry.constraints
            else None
        )
    if entry.name in ("--index-url", "--extra-index-url", "--find-links", "--no-index", "--pre"):
        return None
    if not entry.known:
        return f"{entry.name}: not a pip option wsp knows; it is ignored"
    return f"pip option {entry.name} is ignored by wsp"


def pip_layer(entries: Iterable[PipEntry]) -> tuple[list[str], list[PipSource]]:
    """What the pip layer resolves and installs of `entries` (and of their `-r` files), in
    order: the PEP 508 requirements (as written, `name @ URL` included) and the local
    folders, archives and URLs. Entries `unsupported` refuses as a whole are left out."""
    from wsp.pip import PipSource

    reqs: list[str] = []
    sources: list[PipSource] = []

    def located(e: PipEntry, **fields: object) -> PipSource:
        where = e.where
        return PipSource(
            text=e.text,
            file=str(where.path) if where.path is not None else "",
            line=where.line,
            col=where.col,
            **fields,  # type: ignore[arg-type]
        )

    for e in entries:
        if has_env_var(e.text):
            continue
        if isinstance(e, Requirement):
            reqs.append(e.text)
        elif isinstance(e, Editable):
            if e.path is not None:
                extras = e.target.partition("[")[2]
                sources.append(
                    located(
                        e, target=str(e.path), editable=True, name=e.name, extras=_extras(extras)
                    )
                )
            elif e.url is not None:
                sources.append(located(e, target=e.url, name=e.name))
        elif isinstance(e, LocalPath):
            sources.append(located(e, target=str(e.path), extras=_extras(e.extras.strip("[]"))))
        elif isinstance(e, UrlRequirement):
            local = file_url_path(e.url)
            target = str(local) if local is not None else e.url
            sources.append(located(e, target=target, name=e.name))
        elif isinstance(e, RequirementsFile) and not e.constraints:
            more_reqs, more_sources = pip_layer(e.entries)
            reqs += more_reqs
            sources += more_sources
    return reqs, sources


def _extras(text: str) -> tuple[str, ...]:
    return tuple(sorted(canonical(x.strip()) for x in text.strip("[]").split(",") if x.strip()))


def has_env_var(text: str) -> bool:
    """Whether pip would expand `${VAR}` in `text` (pip's own syntax in requirements files)."""
    return bool(re.search(r"\$\{[A-Z0-9_]+\}", text))


def options(entries: Iterable[PipEntry]) -> PipOptions:
    """The index options of `entries` (and of their `-r` files), as uv takes them: the last
    --index-url wins, --extra-index-url and --find-links add up (a local find-links folder
    read from the folder of the file that names it). A line with `${VAR}` is kept, as
    declared (exports write it), and never handed to uv (`PipOptions.args`)."""
    from wsp.pip import PipOptions

    index_url: str | None = None
    extra: list[str] = []
    links: list[str] = []
    no_index = False
    pre = False
    for e in walk(entries):
        if isinstance(e, Option) and e.name == "--pre":
            pre = True
        if not isinstance(e, Option) or (e.value is None and e.name != "--no-index"):
            continue
        if e.name == "--index-url":
            index_url = e.value
        elif e.name == "--extra-index-url" and e.value not in extra:
            extra.append(str(e.value))
        elif e.name == "--find-links":
            value = str(e.value)
            if not is_url(value):
                base = e.where.path.parent if e.where.path is not None else None
                value = str(_resolve(base, value))
            if value not in links:
                links.append(value)
        elif e.name == "--no-index":
            no_index = True
    return PipOptions(index_url, tuple(extra), tuple(links), no_index, pre)
