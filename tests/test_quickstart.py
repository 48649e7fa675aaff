"""docs/quickstart.md, run as written against the fixture channel: every `$ wsp ...`
command of it, every edit it shows, and every output line it prints (but the `...` it
leaves out) must be what wsp really does, so the quickstart can't drift from the code.

How the document is read: the first ```toml block is workspace.toml; a later one
replaces the table of the same name; "Delete the `[projects.NAME]` table" deletes it; in
a ```text block, `$ CMD` lines are run (`wsp ...`, `rm PATH`, `echo $?`) and the lines
below each are its output. The workspace lives where the document says
(/tmp/acme-research in the text, a temporary folder here) and its mirror points at the
session's fixture channel (what `python -m tests.support.channel /tmp/docchan` makes).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.support.cli import Result, Workspace

DOC = Path(__file__).resolve().parents[1] / "docs" / "quickstart.md"
DOC_ROOT = "/tmp/acme-research"
DOC_CHANNEL = "file:///tmp/docchan"
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
_DELETE = re.compile(r"Delete the `\[projects\.([\w-]+)\]` table")


def _tables(text: str) -> list[str]:
    """workspace.toml split before each `[table]` line."""
    return re.split(r"(?m)^(?=\[)", text)


def _replace_table(text: str, block: str) -> str:
    header = block.splitlines()[0].strip()
    parts = _tables(text)
    for i, part in enumerate(parts):
        if part.splitlines() and part.splitlines()[0].strip() == header:
            parts[i] = block.rstrip("\n") + "\n\n"
            return "".join(parts)
    raise AssertionError(f"the quickstart edits {header}, which workspace.toml has not")


def _delete_table(text: str, name: str) -> str:
    header = f"[projects.{name}]"
    parts = [p for p in _tables(text) if not p.startswith(header)]
    assert len(parts) < len(_tables(text)), f"no {header} to delete"
    return "".join(parts)


def _commands(block: str) -> list[tuple[str, list[str]]]:
    """(command, the output lines shown under it) of a text block."""
    out: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def _normal(text: str, root: Path) -> str:
    return _TIME.sub("<time>", text.replace(str(root), DOC_ROOT)).rstrip()


def _check_output(cmd: str, shown: list[str], result: Result, root: Path) -> None:
    """Every line the document shows is in the output, those on stdout in its order."""
    stdout = [_normal(ln, root) for ln in result.stdout.splitlines()]
    every = stdout + [_normal(ln, root) for ln in result.stderr.splitlines()]
    expected = [
        _normal(ln, root)
        for ln in shown
        if ln.strip() and not ln.strip().startswith("...") and not ln.strip().endswith("...")
    ]
    missing = [ln for ln in expected if ln not in every]
    assert not missing, (
        f"`{cmd}` printed none of these lines the quickstart shows: {missing}\n{result!r}"
    )
    in_stdout = [ln for ln in expected if ln in stdout]
    it = iter(stdout)
    assert all(ln in it for ln in in_stdout), f"`{cmd}`: lines in another order\n{result!r}"


def test_the_quickstart_runs_as_written(tmp_path: Path, channel: Path, wsp_env: dict) -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert DOC_CHANNEL in doc and "python -m tests.support.channel /tmp/docchan" in doc
    root = tmp_path / "acme-research"
    root.mkdir()
    ws = Workspace(root, channel, wsp_env)
    last: Result | None = None
    ran = 0
    pos = 0
    manifest = root / "workspace.toml"
    for match in _BLOCK.finditer(doc):
        prose, pos = doc[pos : match.start()], match.end()
        for name in _DELETE.findall(prose):
            manifest.write_text(_delete_table(manifest.read_text(), name))
        kind, body = match.group(1), match.group(2)
        if kind == "toml":
            if not manifest.exists():
                manifest.write_text(body.replace(DOC_CHANNEL, channel.as_uri()))
            else:
                manifest.write_text(_replace_table(manifest.read_text(), body))
            continue
        if kind != "text":
            continue
        for cmd, shown in _commands(body):
            words = shlex.split(cmd)
            if words[0] == "wsp":
                last = ws.wsp(*words[1:])
                ran += 1
                assert "Traceback" not in last.output, last
                _check_output(cmd, shown, last, root)
            elif words == ["echo", "$?"]:
                assert last is not None and [str(last.code)] == [s for s in shown if s.strip()]
            elif words[0] == "rm":
                (root / words[1]).unlink()
            else:
                raise AssertionError(f"the quickstart runs {cmd!r}, which this test can't")
    assert ran >= 15, f"only {ran} wsp commands found in the quickstart"
