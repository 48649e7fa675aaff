"""`wsp check --fix`: mend what is safe to mend (conda's auto-activate setting), nothing else.

The .condarc is edited in place: only the value of the key changes (or a line is added
at the end), so its comments, order and layout stay as they were. Packages in base and
envs are never removed: for those the findings carry the exact command to run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wsp.condarc import HOME_RANK, NEW_KEY, OLD_KEY, rank, reads_new_key, user_condarc
from wsp.errors import WspError
from wsp.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from wsp.policy import Report
    from wsp.policy.facts import Facts


@dataclass(frozen=True)
class FileEdit:
    code: str
    path: Path
    old: str | None  # None: the file is new
    new: str
    keys: tuple[str, ...]

    @property
    def what(self) -> str:
        return ", ".join(f"{k}: false" for k in self.keys)

    def diff(self) -> list[str]:
        import difflib

        return [
            line.rstrip("\n")
            for line in difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=str(self.path) if self.old is not None else "/dev/null",
                tofile=str(self.path),
            )
        ]

    def write(self) -> None:
        real = self.path.resolve() if self.path.exists() else self.path  # keep a symlinked rc
        atomic_write_bytes(real, self.new.encode("utf-8"))  # its permissions kept

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "path": str(self.path), "keys": list(self.keys)}


def set_false(text: str, keys: Sequence[str]) -> str:
    """`text` with every key in `keys` set to false at the top level, all else kept."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text) if text.strip() else None
    except YAMLError as exc:
        raise WspError(f"can't edit it: not valid YAML ({str(exc).splitlines()[0]})") from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, dict):
        raise WspError("can't edit it: it is not a YAML mapping")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    tail: list[str] = []
    for key in keys:
        if key not in doc:
            tail.append(f"{key}: false{newline}")
            continue
        if doc[key] is False:
            continue
        line = doc.lc.key(key)[0]
        m = re.match(
            rf"^(\s*{re.escape(key)}[ \t]*:[ \t]*)([^#\s][^#\r\n]*?)([ \t]*(?:#.*)?)(\r?\n)?$",
            lines[line] if line < len(lines) else "",
        )
        if m is None:
            return _dump(yaml, doc, keys)
        lines[line] = f"{m.group(1)}false{m.group(3)}{m.group(4) or ''}"
    out = "".join(lines)
    if tail:
        if out and not out.endswith("\n"):
            out += newline
        out += "".join(tail)
    try:
        check = yaml.load(out)
    except YAMLError:
        return _dump(yaml, doc, keys)
    if not isinstance(check, dict) or any(check.get(k) is not False for k in keys):
        return _dump(yaml, doc, keys)
    return out


def _dump(yaml: object, doc: dict[str, object], keys: Sequence[str]) -> str:
    """The round-trip fallback (flow style, quoted keys): ruamel keeps comments and order."""
    import io

    for key in keys:
        doc[key] = False
    yaml.indent(mapping=2, sequence=4, offset=2)  # type: ignore[attr-defined]
    buf = io.StringIO()
    yaml.dump(doc, buf)  # type: ignore[attr-defined]
    return buf.getvalue()


def condarc_edit(facts: Facts) -> FileEdit:
    """The edit that makes conda stop activating base: in ~/.condarc, unless a file conda
    reads after it decides (then in that file)."""
    setting = facts.auto_activate
    home = user_condarc()
    target = home
    if setting.path is not None and rank(setting.path, facts.conda_root) >= HOME_RANK:
        target = setting.path
    old = target.read_text(encoding="utf-8") if target.exists() else None
    present = {
        k
        for k in (OLD_KEY, NEW_KEY)
        if old is not None and re.search(rf"(?m)^\s*['\"]?{k}['\"]?\s*:", old)
    }
    keys = [OLD_KEY]
    if reads_new_key(facts.conda_version) or NEW_KEY in present:
        keys.append(NEW_KEY)
    try:
        new = set_false(old or "", keys)
    except WspError as exc:
        raise WspError(
            f"{target}: {exc.message}", hint="set auto_activate_base: false by hand"
        ) from None
    return FileEdit("WSP201", target, old, new, tuple(keys))


def plan_fixes(report: Report) -> tuple[list[FileEdit], list[tuple[str, str]]]:
    """What `--fix` writes, and the commands it only prints (code, command)."""
    edits: list[FileEdit] = []
    commands: list[tuple[str, str]] = []
    facts = report.facts
    for f in report.findings:
        if f.code == "WSP201" and f.fixable and facts is not None:
            edit = condarc_edit(facts)
            if edit.new != (edit.old or ""):
                edits.append(edit)
        elif f.command is not None:
            commands.append((f.code, f.command))
    return edits, commands
