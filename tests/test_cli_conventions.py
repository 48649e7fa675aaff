"""The command-line conventions users of conda, pixi and terraform expect (issue 16, point
10): shell completion, -q/-v/--no-color, --json wherever output is data, a description on
every command's --help, a command's own usage on its errors, and a stronger prompt before
an env is deleted."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import SEED_TOML, Workspace, snapshot
from wsp.commands import COMMANDS

# -- completion --------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_options_and_projects(
    workspace: Workspace, tmp_path: Path
) -> None:
    ws = workspace
    r = ws.wsp("completion", "bash")
    assert r.code == 0 and "_python_argcomplete" in r.stdout, r
    shim = tmp_path / "bin" / "wsp"  # `wsp` on PATH, as `pip install` puts it
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m wsp "$@"\n')
    shim.chmod(0o755)
    script = tmp_path / "completion.bash"
    script.write_text(r.stdout)

    def complete(line: str, cwd: Path = ws.root) -> list[str]:
        words = line.split(" ")
        probe = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
            f'COMP_LINE="{line}"; COMP_POINT={len(line)}; _python_argcomplete wsp; '
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        env = {**ws.env, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
        out = subprocess.run(
            ["bash", "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
        )
        return [w.strip() for w in out.stdout.splitlines() if w.strip()]

    assert complete("wsp pl") == ["plan"]
    assert complete("wsp run f") == ["finance"]
    assert complete("wsp plan --target v") == ["vision"]
    assert "--detailed-exitcode" in complete("wsp plan --d")
    ws.manifest.write_bytes(b"\xef\xbb\xbf" + ws.manifest.read_bytes())  # a BOM, as plan takes
    # the workspace -C names, from elsewhere; `remove` completes what the project lists
    assert complete(f"wsp -C {ws.root} run f", cwd=tmp_path) == ["finance"]
    assert complete("wsp remove finance p") == ["pandas", "python"]


@pytest.mark.parametrize(("shell", "marker"), [("zsh", "#compdef wsp"), ("fish", "complete ")])
def test_zsh_and_fish_scripts(workspace: Workspace, shell: str, marker: str) -> None:
    r = workspace.wsp("completion", shell)
    assert r.code == 0 and marker in r.stdout and "wsp" in r.stdout, r
    bad = workspace.wsp("completion", "tcsh")
    assert bad.code == 1 and bad.stderr.startswith("usage: wsp completion"), bad


# -- help, usage errors ------------------------------------------------------------------------


def test_every_command_has_a_description_and_its_own_usage_on_errors(
    workspace: Workspace,
) -> None:
    for command in COMMANDS:
        r = workspace.wsp(command, "--help")
        assert r.code == 0, r
        paragraphs = r.stdout.split("\n\n")
        assert len(paragraphs) > 2 and not paragraphs[1].startswith(("positional", "options")), (
            command,
            r.stdout,
        )
        for flag in ("-q, --quiet", "-v, --verbose", "--no-color"):
            assert flag in r.stdout, (command, flag)
    r = workspace.wsp("plan", "--bogus")
    assert r.code == 1
    assert r.stderr.splitlines()[0].startswith("usage: wsp plan "), r
    assert "error: unrecognized arguments: --bogus" in r.stderr
    assert "run `wsp plan --help` for more" in r.stderr
    # terraform's one-dash long options: named, not misread as `-t arget=webdev`
    r = workspace.wsp("plan", "-target=webdev")
    assert r.code == 1 and r.stderr.splitlines()[0].startswith("usage: wsp plan "), r
    assert "error: -target=webdev: wsp's long options take two dashes: --target=webdev" in (
        r.stderr
    ), r
    r = workspace.wsp("apply", "-auto-approve")
    assert r.code == 1 and "error: -auto-approve: terraform's -auto-approve is --yes" in r.stderr
    assert not workspace.envs_dir.exists()
    r = workspace.wsp("pln")
    assert r.code == 1 and "invalid choice: 'pln' (choose from 'init', 'plan', " in r.stderr, r
    top = workspace.wsp("--help")
    assert all(f"    {c} " in top.stdout for c in COMMANDS), top.stdout
    assert "print the shell completion script for bash, zsh or fish" in top.stdout


def test_a_command_parses_alike_with_only_its_own_parser_built() -> None:
    """Start-up builds only the parser of the command argv names: every command's help and
    arguments must be the same as with the whole parser. Anything else (no command, --help
    first, an unknown one) gets the listing of the commands, which `wsp --help` and the
    unknown command's error show as the whole parser would."""
    import argparse

    from wsp.cli import _named_command, build_parser

    def sub(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return action.choices[name]  # type: ignore[no-any-return]

    full = build_parser()
    for command in COMMANDS:
        only = build_parser(["-C", "x", "-q", command])
        assert list(sub(only, command).format_help().splitlines()) == (
            sub(full, command).format_help().splitlines()
        ), command
    args = build_parser(["-v", "plan", "--json", "--target", "a"]).parse_args(
        ["-v", "plan", "--json", "--target", "a"]
    )
    assert full.parse_args(["-v", "plan", "--json", "--target", "a"]) == args
    assert _named_command(["-C", "plan", "status"]) == "status"
    assert _named_command(["--help", "plan"]) is None
    assert _named_command(["-q", "--no-color"]) is None
    for argv in ([], ["--help", "plan"], ["nosuch"]):
        listing = build_parser(argv)
        assert listing.format_help() == full.format_help()
        listed = listing._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        assert list(listed) == list(COMMANDS)  # what a misspelt command's error offers
    only = build_parser(["plan"])._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(only) == ["plan"]


# -- -q, -v, --no-color ------------------------------------------------------------------------


def test_quiet_verbose_and_no_color(workspace: Workspace) -> None:
    ws = workspace
    quiet = ws.wsp("apply", "--yes", "-q", "--target", "finance")
    assert quiet.code == 0, quiet
    assert "finance: created" not in quiet.stderr  # no progress lines
    assert "Apply complete: 1 created." in quiet.stdout
    assert ws.wsp("-q", "plan", "--target", "finance").stdout.startswith("No changes.")

    verbose = ws.wsp("plan", "-v")
    assert "  finance no change  " in verbose.stdout, verbose  # the unchanged env too
    plain = ws.wsp("plan")
    assert "finance" not in plain.stdout.split("Plan:")[0]

    colored = {k: v for k, v in ws.env.items() if k != "NO_COLOR"}
    forced = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "FORCE_COLOR": "1"}
    ws.env = colored
    with_color = ws.wsp("status", **forced)
    assert "\x1b[3" in with_color.stdout, with_color  # a color
    without = ws.wsp("--no-color", "status", **forced)
    assert "\x1b[3" not in without.stdout, without
    assert ws.wsp("status", "--no-color", **forced).stdout == without.stdout


def _on_a_terminal(ws: Workspace, *args: str, **env: str) -> str:
    """What wsp writes to stdout when stdout is a terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsp", *args],
        cwd=ws.root,
        env={**ws.env, **env},
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode()


def test_the_in_sync_plan_is_colored_on_a_terminal_and_plain_in_a_pipe(
    make_workspace: Callable[..., Workspace],
) -> None:
    """The one line of an in-sync plan is written without rich where rich would not style
    it; a terminal, FORCE_COLOR or TTY_COMPATIBLE still get its colors, NO_COLOR none."""
    ws = make_workspace(SEED_TOML.split("[projects.vision]")[0])
    assert ws.wsp("apply", "--yes").code == 0
    ws.env = {k: v for k, v in ws.env.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    line = "No changes. 1 env matches workspace.toml.\n"
    assert ws.wsp("plan").stdout == line
    terminal = _on_a_terminal(ws, "plan", TERM="xterm")
    assert "\x1b[32mNo changes.\x1b[0m 1 env matches" in terminal, repr(terminal)
    assert "\x1b[" in ws.wsp("plan", FORCE_COLOR="1").stdout
    assert "\x1b[" in ws.wsp("plan", TTY_COMPATIBLE="1").stdout
    no_color = _on_a_terminal(ws, "plan", TERM="xterm", NO_COLOR="1")
    assert "\x1b[32m" not in no_color and "No changes. 1 env matches" in no_color


def test_status_written_plain_is_what_rich_writes_to_a_pipe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Piped, `wsp status` is written without loading rich; its text is what rich writes
    to a pipe, word for word: markup-like names, kernels, variants, overrides."""
    from wsp import ui

    rows = [
        {
            "project": "[bold]odd[/]",
            "env": "odd",
            "python": "3.12.4",
            "state": "in sync",
            "prefix": "/w/.wsp/envs/odd [x]",
            "kernel": {"name": "odd", "state": "in place"},
            "variant": "linux-64-cuda",
            "system_requirements": {"cuda": "12.0"},
        },
        {
            "project": None,
            "env": "gone",
            "python": None,
            "state": "undeclared",
            "prefix": "/w/.wsp/envs/gone",
            "variant": None,
            "system_requirements": {},
        },
    ]
    host = {
        "virtual_packages": [
            {"name": "__linux", "version": "6.8", "build": "0"},
            {"name": "__archspec", "version": "1", "build": "x86_64_v3"},
        ],
        "overrides": {"CONDA_OVERRIDE_GLIBC": "2.[3]1", "CONDA_OVERRIDE_CUDA": ""},
    }

    def written(plain: bool) -> str:
        monkeypatch.setattr(ui, "_unstyled", lambda stream: plain)
        ui.out.cache_clear()
        ui.render_status("w [1]", rows, description="the [dim]lab[/]", variants=True)
        ui.render_host(host)
        ui.render_host({"problem": "can't detect [x]"})
        return capsys.readouterr().out

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    by_rich = written(plain=False)
    assert "[bold]odd[/]" in by_rich and "CONDA_OVERRIDE_GLIBC=2.[3]1" in by_rich, by_rich
    assert written(plain=True) == by_rich
    ui.out.cache_clear()


def test_a_closed_stdout_or_stderr_is_one_line_or_the_exit_code(workspace: Workspace) -> None:
    """Started with stdout closed (`>&-`), wsp says so in one line on stderr, no traceback;
    with stderr closed (`2>&-`), its exit code still says how it went."""

    def closed(args: str, redirect: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", f'"{sys.executable}" -m wsp {args} {redirect}'],
            cwd=workspace.root,
            env=workspace.env,
            capture_output=True,
            text=True,
        )

    said = "error: stdout is closed: wsp prints there; send it to /dev/null to drop it\n"
    for args in ("plan", "plan --json", "status"):
        r = closed(args, ">&-")
        assert (r.returncode, r.stderr) == (1, said), r
    for args, code in (("apply --yes", 0), ("plan", 0), ("plan --target nosuch", 1)):
        r = closed(args, "2>&-")
        assert r.returncode == code, r


# -- --json on every command that prints data -------------------------------------------------


def test_json_from_lock_init_add_remove_import_and_export(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace()
    lock = ws.wsp("lock", "--json")
    assert lock.code == 0, lock
    assert lock.json["projects"] == ["finance", "vision", "webdev"]
    assert ws.wsp("lock", "--check", "--json").json["up_to_date"] is True

    added = ws.wsp("add", "finance", "requests", "--json").json
    assert added == {
        "project": "finance",
        "key": "dependencies",
        "changed": True,
        "changes": ["+ requests"],
        "manifest": str(ws.manifest),
    }
    stale = ws.wsp("--json", "lock", "--check")
    assert stale.code == 1 and stale.json["stale"] == ["finance"]
    removed = ws.wsp("remove", "finance", "requests", "--json").json
    assert removed["changed"] and removed["changes"] == ["- requests"]

    exported = ws.wsp("export", "finance", "--json").json
    assert exported["format"] == "environment-yml"
    assert "pandas>=2" in exported["files"]["finance.environment.yml"]
    written = ws.wsp("export", "finance", "-o", "finance.yml", "--json").json
    assert written["written"] == [str(ws.root / "finance.yml")]

    imported = ws.wsp("import", "--file", "finance.yml", "--as", "copy", "--json")
    assert imported.code == 0, imported
    assert imported.json["project"] == "copy"
    assert imported.json["fields"]["dependencies"] == ["pandas>=2", "scikit-learn"]

    folder = tmp_path / "fresh"
    folder.mkdir()
    init = Workspace(folder, ws.channel, ws.env).wsp("init", "--json")
    assert init.code == 0, init
    assert init.json["workspace"] == "fresh" and init.json["projects"] == ["fresh"]
    json.dumps(init.json)


# -- a stronger prompt before an env is deleted ------------------------------------------------


def _answer(ws: Workspace, answer: str, *args: str) -> tuple[int, str]:
    """Run wsp with a terminal on stdin, type `answer`, return (exit code, stderr)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsp", *args],
        cwd=ws.root,
        env=ws.env,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    os.write(leader, f"{answer}\n".encode())
    _out, err = proc.communicate(timeout=120)
    os.close(leader)
    return proc.returncode, err


def test_deleting_an_env_needs_yes_typed_out_and_names_the_env(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(SEED_TOML.split("[projects.vision]")[0])
    assert ws.wsp("apply", "--yes").code == 0
    ws.edit('python = "3.9"', 'python = "3.11"')
    before = snapshot(ws.envs_dir / "finance")

    code, err = _answer(ws, "y", "apply")
    assert code == 1, err
    assert "This deletes 1 env:" in err
    assert (
        f"finance {ws.envs_dir / 'finance'}: deleted, then built again # python 3.9 -> 3.11" in err
    )
    assert "Type yes to delete it: " in err and "()" not in err  # no empty default shown
    assert "Apply cancelled; nothing was changed." in err
    assert snapshot(ws.envs_dir / "finance") == before  # `y` is not enough

    code, err = _answer(ws, "yes", "apply")
    assert code == 0, err
    assert ws.versions("finance")["python"].startswith("3.11")

    # an update asks the ordinary question
    ws.edit('"pandas>=2", "scikit-learn"', '"pandas>=2", "scikit-learn", "requests"')
    code, err = _answer(ws, "y", "apply")
    assert code == 0, err
    assert "Apply these changes?" in err and "This deletes" not in err
