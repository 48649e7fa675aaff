"""Bad command-line values that reach no env: `-o` into a folder no file can be written in
(pack's archive, export's file) names the user's path, never wsp's temporary file, and
says what to do; `--jobs 0` is a usage error. Each is one line, exit 1, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace

TOML = """\
[workspace]
name = "outputs"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["six"]
"""

PROC = Path("/proc")  # a folder no file can be created in, even by root

needs_proc = pytest.mark.skipif(not PROC.is_dir(), reason="no /proc on this system")


def one_line(result: object) -> str:
    code, stderr = result.code, result.stderr  # type: ignore[attr-defined]
    assert code == 1, result
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, result
    return lines[0]


@needs_proc
def test_an_output_no_file_can_be_written_in_names_it_and_says_what_to_do(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(TOML)
    assert ws.wsp("lock").code == 0

    pack = one_line(ws.wsp("pack", "finance", "-o", "/proc/x.tar"))
    assert pack.startswith("error: -o /proc/x.tar: can't write there"), pack
    assert "give -o a file in a folder that exists and you can write to" in pack
    export = one_line(ws.wsp("export", "finance", "-o", "/proc/x.yml"))
    assert export.startswith("error: can't write /proc/x.yml: "), export
    assert "its folder must exist and be writable" in export
    for line in (pack, export):
        assert ".wsp-" not in line, line  # never the temporary file
    assert not ws.envs_dir.exists()


@pytest.mark.parametrize("command", [("apply", "--yes"), ("watch", "--once")])
def test_jobs_must_be_at_least_one(
    make_workspace: Callable[..., Workspace], command: tuple[str, ...]
) -> None:
    ws = make_workspace(TOML)
    result = ws.wsp(*command, "--jobs", "0")
    assert result.code == 1, result
    assert "error: argument --jobs/-j: 0: at least 1 env must be built at once" in result.stderr
    assert not ws.envs_dir.exists()
