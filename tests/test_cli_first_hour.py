"""Issue 16, a newcomer's first hour: every message says why and what to do next.

Each point of the issue, through the real command line, asserting what the user reads.
(Channel errors: tests/test_netfail.py; CLI conventions: tests/test_cli_conventions.py;
the quickstart: tests/test_quickstart.py.)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import SEED_TOML, Workspace, snapshot

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


# -- 2. unsolvable specs: every project, each at its declaring line ----------------------------

BROKEN = (
    SEED_TOML.replace('"fastapi", "uvicorn"', '"fastapi", "nosuchpkg"')
    + """
[templates.ml]
dependencies = ["pytorch>=99"]

[projects.deep]
python = "3.11"
extends = ["ml"]
dependencies = ["opencv"]

[projects.app]
environment-file = "environment.yml"
"""
)


def test_every_unsolvable_project_is_reported_at_the_line_that_declares_it(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(BROKEN)
    app = ws.root / "projects" / "app"
    app.mkdir(parents=True)
    (app / "environment.yml").write_text(
        "name: app\ndependencies:\n  - python=3.11\n  - numpy\n  - scipy<1\n"
    )
    text = ws.manifest.read_text().splitlines()
    webdev_line = next(i for i, ln in enumerate(text, 1) if "nosuchpkg" in ln)
    ml_line = next(i for i, ln in enumerate(text, 1) if "pytorch>=99" in ln)

    for args in (("plan",), ("apply", "--yes")):
        r = ws.wsp(*args)
        assert r.code == 1, r
        errors = _lines(r.stderr)
        assert len(errors) == 3, r  # all three, not the first only
        webdev_col = text[webdev_line - 1].index('"nosuchpkg"') + 1
        assert f"workspace.toml:{webdev_line}:{webdev_col}: project 'webdev' can't be solved" in (
            r.stderr
        )
        assert "conda-forge has no package named 'nosuchpkg' for " in r.stderr, r
        [deep] = [ln for ln in errors if "'deep'" in ln]
        assert deep.startswith(f"workspace.toml:{ml_line}:"), deep  # the template's line
        assert "(conda-forge has pytorch 2.3.0: change the spec to one of these) " in deep
        assert "('pytorch>=99' is declared by template ml)" in deep
        [env_file] = [ln for ln in errors if "'app'" in ln]
        assert env_file.startswith("projects/app/environment.yml:5:5: "), env_file
        assert "scipy" in env_file
        assert "Traceback" not in r.output
    assert not ws.envs_dir.exists() or not any(ws.envs_dir.iterdir())

    r = ws.wsp("lock")  # the lock too names all three, and writes nothing
    assert r.code == 1, r
    assert len(_lines(r.stderr)) == 3, r
    assert all(name in r.stderr for name in ("'webdev'", "'deep'", "'app'")), r
    assert not (ws.root / "wsp.lock").exists()


# -- 3. wsp init writes a workspace that plans and applies cleanly ------------------------------


@pytest.mark.parametrize(("folder", "project"), [("test", "test-project")])
def test_init_in_a_folder_named_test_plans_and_applies_cleanly(
    folder: str, project: str, tmp_path: Path, channel: Path, wsp_env: dict[str, str]
) -> None:
    root = tmp_path / folder
    root.mkdir()
    ws = Workspace(root, channel, wsp_env)
    r = ws.wsp("init")
    assert r.code == 0, r
    assert f"note: project named '{project}'" in r.stderr, r  # said up front
    assert "rename it in workspace.toml if you like" in r.stderr
    ws.manifest.write_text(
        ws.manifest.read_text() + f'\n[workspace.mirrors]\n"conda-forge" = ["{channel.as_uri()}"]\n'
    )
    plan = ws.wsp("plan")
    assert plan.code == 0 and "WSP1" not in plan.output, plan
    applied = ws.wsp("apply", "--yes")
    assert applied.code == 0, applied
    assert "Apply complete: 1 created." in applied.stdout
    assert "WSP1" not in applied.output


# -- 4. a blocked env: the summary agrees with the exit code, with the ways forward -----------


def test_a_blocked_env_ends_incomplete_with_the_ways_forward(workspace: Workspace) -> None:
    ws = workspace
    foreign = ws.envs_dir / "webdev"
    (foreign / "conda-meta").mkdir(parents=True)
    (foreign / "conda-meta" / "history").write_text("")
    before = snapshot(foreign)

    plan = ws.wsp("plan")
    assert plan.code == 0, plan
    assert "ways forward:" in plan.stdout

    r = ws.wsp("apply", "--yes")
    assert r.code == 1, r
    assert "Apply complete" not in r.output
    assert "Apply incomplete: 2 created; 1 blocked (webdev)." in r.stdout, r
    assert "error: webdev: not applied: an env named 'webdev' exists" in r.stderr
    for way in (
        "rename the project ([projects.webdev] in workspace.toml)",
        "env-prefix",
        f"`wsp import --env {foreign} --as NAME`",
        f"`conda env remove -p {foreign}`",
    ):
        assert way in r.stderr, (way, r)
    assert snapshot(foreign) == before  # never touched

    again = ws.wsp("apply", "--yes", "--json")
    assert again.code == 1
    [blocked] = [a for a in again.json["plan"]["actions"] if a["action"] == "blocked"]
    assert len(blocked["reason_details"][0]["next_steps"]) == 4


# -- 5. every update says what it changes; repeated applies converge ---------------------------


def test_frozen_applies_converge_and_updates_say_what_they_change(workspace: Workspace) -> None:
    ws = workspace
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.wsp("lock").code == 0
    ws.edit('"pandas>=2", "scikit-learn"', '"pandas>=2", "scikit-learn", "requests"')

    first = ws.wsp("apply", "--frozen", "--yes")
    assert first.code == 0, first
    assert "dependencies changed: + requests" in first.stdout
    again = ws.wsp("apply", "--frozen", "--yes")  # built from this same lock: nothing to do
    assert again.code == 0, again
    assert "No changes." in again.stdout, again
    assert "declaration changed" not in again.output

    plan = ws.wsp("plan")  # what the out-of-date lock left out, and why
    assert "installed from an out-of-date wsp.lock (apply --frozen)" in plan.stdout, plan
    assert "+ requests 2.32.3" in plan.stdout
    assert "declaration changed" not in plan.stdout
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.wsp("plan", "--detailed-exitcode").code == 0

    # a spec the env already satisfies: an update that only rewrites the marker, said so
    added = ws.wsp("add", "finance", "numpy")
    assert added.code == 0, added
    plan = ws.wsp("plan")
    assert "dependencies changed: + numpy" in plan.stdout, plan
    assert "= packages already match: no package is installed or removed" in plan.stdout
    data = ws.wsp("plan", "--json").json
    [update] = [a for a in data["actions"] if a["action"] == "update"]
    assert update["marker_only"] is True
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    same = ws.wsp("add", "finance", "pandas>=2")
    assert "No changes: project finance already has that." in same.stdout, same


# -- 6. run --sync: stdout is the command's; deleting an env needs consent -----------------------

RUN_TOML = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.tool]
python = "{py}"
dependencies = ["six"]
"""


def test_run_sync_keeps_stdout_for_the_command_and_asks_before_a_replace(
    make_workspace: Callable[..., Workspace], runnable_channel: Path
) -> None:
    ws = make_workspace(RUN_TOML.replace("{py}", PY), chan=runnable_channel)
    r = ws.wsp("run", "--sync", "tool", "--", "python", "-c", "print('only this')")
    assert r.code == 0, r
    assert r.stdout == "only this\n", r  # the plan and the summary went to stderr
    assert "tool: created" in r.stderr and "Apply complete: 1 created." in r.stderr

    ws.edit(f'python = "{PY}"', 'python = "3.12"' if PY != "3.12" else 'python = "3.11"')
    before = snapshot(ws.envs_dir / "tool")
    r = ws.wsp("run", "--sync", "tool", "--", "python", "-c", "print('ran')")
    assert r.code == 1, r
    assert "ran" not in r.stdout
    assert "--sync would delete and rebuild env tool" in r.stderr
    assert "refusing to replace without confirmation: stdin is not a terminal" in r.stderr
    assert "wsp apply --target tool" in r.stderr
    assert snapshot(ws.envs_dir / "tool") == before


# -- 7. wsp status at 60 columns and piped -------------------------------------------------------


def test_status_keeps_every_path_whole_at_60_columns_and_piped(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(SEED_TOML.replace('envs-dir = ".wsp/envs"', 'envs-dir = ".wsp/envs"'))
    deep = ws.root / "a-rather-long-folder-name-for-the-envs" / "of-this-workspace"
    ws.edit('envs-dir = ".wsp/envs"', f'envs-dir = "{deep}"')
    paths = [str(deep / p) for p in ("finance", "vision", "webdev")]

    piped = ws.wsp("status", COLUMNS="60")
    assert piped.code == 0, piped
    for path in paths:  # one line per env, the whole path at its end
        [line] = [ln for ln in piped.stdout.splitlines() if path in ln]
        assert line.endswith(path) and "missing" in line, piped

    terminal = ws.wsp("status", COLUMNS="60", TTY_COMPATIBLE="1", TTY_INTERACTIVE="1")
    out = _ANSI.sub("", terminal.stdout)
    lines = out.splitlines()
    for path in paths:  # too wide for 60 columns: the path on a line of its own, unbroken
        assert f"    {path}" in lines, out
    assert all(len(ln) <= 60 for ln in lines if not ln.startswith("    /")), out

    data = ws.wsp("status", "--json").json
    assert [e["prefix"] for e in data["envs"]] == paths


# -- 8. invalid TOML at the end of the file ------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "what", "col"),
    [
        ('\n[projects.extra]\npython = "3.11"\ndependencies = ["numpy",', "array", 16),
        ('\n[projects.extra]\npython = "3.11\n', "string", 10),
        ('\n[projects.extra]\ndependencies = { a = "b"', "inline table", 16),
        ("\n[projects.extra\n", "table header", 1),
    ],
)
def test_invalid_toml_at_the_end_says_what_is_unclosed_and_where_it_opened(
    workspace: Workspace, tail: str, what: str, col: int
) -> None:
    ws = workspace
    opened = len(SEED_TOML.splitlines()) + len(tail.rstrip("\n").splitlines())
    ws.manifest.write_text(ws.manifest.read_text() + tail)
    r = ws.wsp("plan")
    assert r.code == 1, r
    assert "\\x00" not in r.stderr and "Unexpected" not in r.stderr, r
    assert r.stderr.startswith(f"workspace.toml:{opened}:{col}: invalid TOML: this {what} is "), r
    assert "never closed" in r.stderr


# -- 9. wording that belongs to the command -----------------------------------------------------


def test_rollback_destroy_and_plan_speak_their_own_words(workspace: Workspace) -> None:
    ws = workspace
    unknown = ws.wsp("rollback", "nope", "--yes")
    assert unknown.code == 1
    assert "'nope' is not a project of this workspace" in unknown.stderr, unknown
    assert "--target" not in unknown.stderr

    ws.write(SEED_TOML.split("[projects.vision]")[0])  # finance only
    assert ws.wsp("apply", "--yes").code == 0
    assert "No changes. 1 env matches workspace.toml." in ws.wsp("plan").stdout

    r = ws.wsp("destroy", "--yes")
    assert r.code == 0, r
    assert "Destroyed 1 env." in r.stdout
    assert f"finance: destroyed {ws.envs_dir / 'finance'}" in r.stderr
    assert "pruned" not in r.output and "Apply complete" not in r.output
