"""Round-trip edits of workspace.toml (tomlkit): what is not edited stays byte for byte.

Every edit is validated by loading the edited text (from a temporary file beside
workspace.toml, so relative paths resolve as they will) before it is written, and the
write is atomic: a failed edit leaves the file as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.errors import ManifestError, WspError, display_path
from wsp.fsutil import TMP_MARK
from wsp.specs import conda_name, pins_more_than_version, python_version

__all__ = ["conda_name", "python_version"]  # spec helpers the edits use, for their callers

if TYPE_CHECKING:
    from wsp.manifest import Workspace


# -- names and versions of specs ----------------------------------------------------------


def pip_name(requirement: str) -> str:
    """The PEP 503 name of a PEP 508 requirement ("Foo_Bar[x]>=1" -> "foo-bar")."""
    from wsp.pip import canonical

    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return canonical(found.group(1) if found else requirement.strip())


def check_pip_requirement(requirement: str) -> str | None:
    """None when `requirement` is a valid PEP 508 requirement, else what is wrong."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(requirement)
    except InvalidRequirement as exc:
        return str(exc).splitlines()[0]
    return None


# -- the document -------------------------------------------------------------------------

_LONE_LF = re.compile(r"(?<!\r)\n")


@dataclass
class Edit:
    """workspace.toml read for editing: its text, its tomlkit document and what changed."""

    path: Path
    text: str  # without the file's BOM
    doc: Any
    changes: list[str] = field(default_factory=list)
    bom: str = ""  # the UTF-8 BOM some editors write, kept on save
    newline: str = "\n"  # the file's line ending: the lines an edit adds get it too
    ws: Workspace | None = None  # the file as loaded before the edit

    @classmethod
    def open(cls, path: Path) -> Edit:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        from wsp.manifest import load

        ws = load(path)  # a broken file is reported as it is, before any edit
        raw = path.read_bytes().decode("utf-8")
        text = raw.removeprefix("\ufeff")
        try:
            doc = tomlkit.parse(text)
        except TOMLKitError as exc:  # load() already refused anything tomlkit refuses
            raise WspError(f"{display_path(path)}: invalid TOML: {exc}") from None
        crlf = "\r\n" in text and not _LONE_LF.search(text)
        newline = "\r\n" if crlf else "\n"
        return cls(path, text, doc, bom=raw[: len(raw) - len(text)], newline=newline, ws=ws)

    def project(self, name: str) -> Any:
        """The table of [projects.NAME]; an error naming the projects when there is none."""
        projects = self.doc.get("projects")
        if projects is None or name not in projects:
            import difflib

            known = list(projects or ())
            close = difflib.get_close_matches(name, known, n=1)
            raise WspError(
                f"{name!r} is not a project of this workspace",
                hint=f"did you mean {close[0]!r}?"
                if close
                else f"projects: {', '.join(known) or '(none)'}",
            )
        return projects[name]

    def dumps(self) -> str:
        import tomlkit

        return tomlkit.dumps(self.doc)

    def save(
        self,
        command: str,
        text: str | None = None,
        *,
        check: Callable[[Workspace], object] | None = None,
    ) -> None:
        """Validate the edited text (loaded, then `check`ed: e.g. the project graph),
        then write it atomically."""
        from wsp.fsutil import atomic_write_text

        text = self.dumps() if text is None else text
        if self.newline == "\r\n":  # what tomlkit and wsp add ends lines with \n
            text = _LONE_LF.sub("\r\n", text)
        text = self.bom + text
        validate(self.path, text, command, check=check)
        # keep the file's own mode (atomic writes create 0600 temporaries)
        mode = self.path.stat().st_mode & 0o7777
        atomic_write_text(self.path, text)
        os.chmod(self.path, mode)


def set_key(table: Any, key: str, value: Any) -> None:
    """Set `key` of a table; a new key goes after the table's last key (not after the
    comments and blank lines that end the table, which belong to what follows)."""
    import tomlkit
    from tomlkit.items import AoT, Table

    if key in table:
        table[key] = value
        return
    if isinstance(table, Table):
        body = table.value.body
        keys = [k for k, v in body if k is not None and not isinstance(v, (Table, AoT))]
        if keys:
            table.value._insert_after(keys[-1].key, key, tomlkit.item(value))
            return
    table[key] = value


def _array(items: Sequence[str]) -> Any:
    import tomlkit

    arr = tomlkit.array()
    arr.extend(items)
    if len(items) > 3:
        arr.multiline(True)
    return arr


def add_specs(edit: Edit, project: str, specs: Iterable[str], *, pip: bool = False) -> None:
    """Add `specs` to the project's dependencies (or pip); a spec of a package already
    listed replaces it. A `python...` conda spec with a version sets `python`; one that
    also names a build or a channel is kept in dependencies too, so the build holds."""
    table = edit.project(project)
    key = "pip" if pip else "dependencies"
    name_of = pip_name if pip else conda_name
    for spec in specs:
        spec = spec.strip()
        if not pip and conda_name(spec) == "python" and (version := python_version(spec)):
            _set_python(edit, table, version)
            if not pins_more_than_version(spec):  # it replaces a python spec listed
                arr = table.get(key, [])
                for i in reversed(range(len(arr))):
                    if isinstance(arr[i], str) and conda_name(str(arr[i])) == "python":
                        edit.changes.append(f"- {arr[i]}")
                        del arr[i]
                continue
        if key not in table:
            set_key(table, key, _array([]))
        arr = table[key]
        name = name_of(spec)
        at = [i for i, s in enumerate(arr) if isinstance(s, str) and name_of(str(s)) == name]
        if at:
            old = str(arr[at[0]])
            if old == spec:
                edit.changes.append(f"= {spec} (already there)")
                continue
            arr[at[0]] = spec
            for i in reversed(at[1:]):
                del arr[i]
            edit.changes.append(f"~ {old} -> {spec}")
        else:
            arr.append(spec)
            edit.changes.append(f"+ {spec}")


def _set_python(edit: Edit, table: Any, version: str) -> None:
    old = table.get("python")
    if old is not None and str(old) == version:
        edit.changes.append(f"= python = {version!r} (already there)")
        return
    set_key(table, "python", version)
    edit.changes.append(
        f"python = {version!r}" + (f" (was {str(old)!r})" if old is not None else "")
    )


def remove_specs(
    edit: Edit,
    project: str,
    names: Iterable[str],
    *,
    pip: bool = False,
    elsewhere: Callable[[str], str | None] | None = None,
) -> None:
    """Remove the specs of these packages from the project's dependencies (or pip);
    `python` also removes the project's `python`. A package not listed is an error that
    says where it is declared instead, when `elsewhere(name)` knows (a template, an
    environment file)."""
    table = edit.project(project)
    key = "pip" if pip else "dependencies"
    name_of = pip_name if pip else conda_name
    for given in names:
        name = name_of(given.strip())
        arr = table.get(key)
        at = (
            [i for i, s in enumerate(arr) if isinstance(s, str) and name_of(str(s)) == name]
            if arr is not None
            else []
        )
        if not pip and name == "python" and "python" in table:
            edit.changes.append(f"- python = {str(table['python'])!r}")
            del table["python"]
        elif not at:
            own = ", ".join(str(s) for s in arr or ())
            hint = f"{key}: {own}" if own else f"project {project!r} has no {key} of its own"
            if elsewhere is not None and (where := elsewhere(name)) is not None:
                hint = f"it comes from {where}: edit it there ({hint})"
            raise WspError(f"{name!r} is not in {key} of project {project!r}", hint=hint)
        for i in reversed(at):
            edit.changes.append(f"- {arr[i]}")
            del arr[i]


def render_project(name: str, fields: dict[str, Any]) -> str:
    """`[projects.NAME]` with `fields` (None values and empty lists left out), as TOML."""
    import tomlkit

    table = tomlkit.table()
    for key, value in fields.items():
        if value is None or value == []:
            continue
        table[key] = _array(value) if isinstance(value, list) else value
    doc = tomlkit.document()
    projects = tomlkit.table(is_super_table=True)
    projects[name] = table
    doc["projects"] = projects
    return tomlkit.dumps(doc)


def append_text(text: str, addition: str) -> str:
    """`addition` after the whole of `text`, one blank line between them."""
    if not text.strip():
        return addition
    if not text.endswith("\n"):
        text += "\n"
    if not text.endswith("\n\n"):
        text += "\n"
    return text + addition


def validate(
    manifest_path: Path,
    text: str,
    command: str,
    *,
    check: Callable[[Workspace], object] | None = None,
) -> None:
    """Load `text` as if it were `manifest_path` (from a temporary file beside it), then
    `check` it; a problem is one error naming the command."""
    from wsp.manifest import load

    folder = manifest_path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{manifest_path.name}{TMP_MARK}edit-", dir=folder)
    probe = Path(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            ws = load(probe)
            if check is not None:
                check(ws)
        except ManifestError as exc:
            message = str(exc.message)
            prefix = f"{display_path(exc.path)}:{exc.line}:{exc.col}: "
            message = message.removeprefix(prefix)
            where = (
                f"{manifest_path.name}:{exc.line}:{exc.col}"
                if exc.path.resolve() == probe.resolve()
                else f"{display_path(exc.path)}:{exc.line}:{exc.col}"
            )
            raise WspError(
                f"wsp {command} would make {manifest_path.name} invalid ({where}: {message}); "
                "nothing was written"
            ) from None
        except WspError as exc:
            raise WspError(
                f"wsp {command} would make {manifest_path.name} invalid: {exc}; nothing was written"
            ) from None
    finally:
        probe.unlink(missing_ok=True)


def check_specs(specs: Iterable[str], *, pip: bool = False) -> None:
    """Refuse a spec that is not a conda match spec (or, with `pip`, a PEP 508 requirement)."""
    from wsp.specs import check_match_spec

    for spec in specs:
        if not spec.strip():
            raise WspError("an empty spec; give a package name, e.g. numpy>=1.26")
        if pip:
            _check_pip_entry(spec.strip())
            if problem := check_pip_requirement(spec):
                raise WspError(f"{spec!r} is not a valid pip requirement: {problem}")
        elif problem := check_match_spec(spec.strip(), strict=False):  # as conda reads it
            raise WspError(f"{spec!r} is not a valid conda match spec: {problem}")


def _check_pip_entry(text: str) -> None:
    """What workspace.toml's loader says of a pip entry that is no requirement (`-e ./lib`,
    a folder, a bare URL, an option): what to write instead."""
    from wsp.manifest.loader import check_pip_entry
    from wsp.pipreqs import Where

    where = Where(None)
    try:
        check_pip_entry(text, where)
    except ManifestError as exc:
        raise WspError(exc.message.removeprefix(f"{where}: ")) from None
