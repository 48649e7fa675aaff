"""`wsp run`, `wsp env` and editable depends-on projects (issue 3), through the real CLI.

The channel's python of this interpreter's major.minor really runs (a copy of the test
interpreter), so commands really execute inside the envs wsp builds.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace, run_all

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"

RUN_TOML = """\
[workspace]
name = "run-ws"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-find-links = ["{wheelhouse}"]
pip-no-index = true

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "{py}"
dependencies = ["six"]

[projects.vision]
python = "{py}"
depends-on = ["finance"]
pip = ["tinylib==1.1.0"]
"""

ACTIVATE_SCRIPT = 'export WSP_FROM_ACTIVATE="sourced by $CONDA_DEFAULT_ENV"\n'


# -- session fixtures ---------------------------------------------------------------------------


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def run_ws(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> Workspace:
    """finance (a Python project with a pyproject.toml and a src/ layout) and vision, which
    depends on it. Not applied."""
    text = RUN_TOML.replace("{wheelhouse}", str(wheelhouse)).replace("{py}", PY)
    ws = make_workspace(text, chan=runnable_channel)
    finance = ws.root / "projects" / "finance"
    (finance / "src" / "finance").mkdir(parents=True)
    (finance / "pyproject.toml").write_text('[project]\nname = "finance"\nversion = "0.1.0"\n')
    (finance / "src" / "finance" / "__init__.py").write_text('VALUE = "one"\n')
    return ws


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


SHOW_ENV = (
    "import json, os, sys; print(json.dumps({'path0': os.environ['PATH'].split(os.pathsep)[0],"
    " 'prefix': os.environ.get('CONDA_PREFIX'), 'name': os.environ.get('CONDA_DEFAULT_ENV'),"
    " 'activate': os.environ.get('WSP_FROM_ACTIVATE'), 'sys_prefix': sys.prefix,"
    " 'executable': sys.executable}))"
)


# -- tests --------------------------------------------------------------------------------------


def test_run_in_an_applied_env_with_an_editable_dependency(run_ws: Workspace) -> None:
    ws = run_ws
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    vision = ws.envs_dir / "vision"
    src = ws.root / "projects" / "finance" / "src"

    show_finance = (
        "import finance, tinylib; print(finance.VALUE); print(finance.__file__);"
        " print(tinylib.__version__)"
    )
    env, exit7, no_cmd, empty, not_executable, no_project = run_all(
        ws,
        ("run", "vision", "--", "python", "-c", f"{SHOW_ENV}\n{show_finance}"),
        ("run", "vision", "--", "python", "-c", "import sys; sys.exit(7)"),
        ("run", "vision", "--", "no-such-command-anywhere", "--flag"),
        ("run", "vision", "--", ""),
        ("run", "vision", "--", str(src)),
        ("run", "visoin", "--", "python", "-c", "open('ran-anyway', 'w')"),
    )

    # the command runs inside the env: its bin first on PATH, CONDA_* set
    assert env.code == 0, env
    first, value, where, tinylib = env.stdout.splitlines()
    seen = json.loads(first)
    assert seen["path0"] == str(vision / "bin")
    assert seen["prefix"] == str(vision)
    assert seen["name"] == "vision"
    assert Path(seen["sys_prefix"]) == vision
    assert Path(seen["executable"]).parent == vision / "bin"

    # finance (a depends-on project with a pyproject.toml) is importable from its source
    assert value == "one"
    assert Path(where) == src / "finance" / "__init__.py"
    assert tinylib == "1.1.0"

    # exit codes are passed through; errors are one line
    assert exit7.code == 7, exit7
    assert no_cmd.code == 127, no_cmd
    assert "no-such-command-anywhere" in one_line(no_cmd.stderr), no_cmd
    assert empty.code == 127 and "command not found" in one_line(empty.stderr), empty
    assert not_executable.code == 126, not_executable  # a folder, as a shell says
    assert one_line(not_executable.stderr) == f"error: command not executable: {src}"
    assert no_project.code == 1, no_project
    line = one_line(no_project.stderr)
    assert "visoin" in line and "did you mean 'vision'?" in line, line
    assert not (ws.root / "ran-anyway").exists()

    # an edit to finance's source is seen at once, without applying again
    (src / "finance" / "__init__.py").write_text('VALUE = "edited, seen at once"\n')
    again, plan = run_all(
        ws,
        ("run", "vision", "--", "python", "-c", "import finance; print(finance.VALUE)"),
        ("plan", "--detailed-exitcode"),
    )
    assert again.code == 0, again
    assert again.stdout.strip() == "edited, seen at once"
    assert plan.code == 0, plan


def test_missing_env_sync_activation_scripts_streaming_and_wsp_env(run_ws: Workspace) -> None:
    ws = run_ws
    finance = ws.envs_dir / "finance"

    # -- a missing env: nothing runs, the hint names `wsp apply` and `--sync` ------------------
    missing = ws.wsp("run", "finance", "--", "python", "-c", "open('ran-anyway', 'w')")
    assert missing.code == 1, missing
    line = one_line(missing.stderr)
    assert "finance" in line and "wsp apply" in line and "--sync" in line, line
    assert not (ws.root / "ran-anyway").exists()
    assert not finance.exists()
    # `wsp env` has no --sync: its hint must not send the user to one
    no_env = ws.wsp("env", "finance")
    assert no_env.code == 1 and no_env.stdout == "", no_env
    assert one_line(no_env.stderr).endswith("run `wsp apply --target finance` first"), no_env

    # -- --sync applies first, then runs ------------------------------------------------------
    r = ws.wsp(
        "run", "--sync", "finance", "--", "python", "-c", "import six, sys; print(sys.prefix)"
    )
    assert r.code == 0, r
    assert r.stdout.strip().splitlines()[-1] == str(finance), r
    assert (finance / "conda-meta" / "wsp").is_file()
    assert not (ws.envs_dir / "vision").exists()  # only the project asked for

    # -- the env's activate.d scripts are sourced ---------------------------------------------
    activate_d = finance / "etc" / "conda" / "activate.d"
    activate_d.mkdir(parents=True)
    (activate_d / "wsp-test.sh").write_text(ACTIVATE_SCRIPT)
    # `wsp env` (in a shell, at the same time as the rest): export lines that eval in sh
    eval_in_sh = subprocess.Popen(
        [
            "sh",
            "-c",
            f'out="$({shlex.quote(sys.executable)} -m wsp env finance)" || exit 9\n'
            'printf "%s\\n" "$out"; echo ---; eval "$out"\n'
            'command -v python; echo "$CONDA_PREFIX"; echo "$WSP_FROM_ACTIVATE"',
        ],
        cwd=ws.root,
        env=ws.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    env_json, shown, no_cmd = run_all(
        ws,
        ("env", "finance", "--json"),
        ("run", "finance", "--", "python", "-c", SHOW_ENV),
        ("run", "finance", "--", "no-such-command-anywhere"),
    )
    out, err = eval_in_sh.communicate(timeout=120)
    assert shown.code == 0, shown
    seen = json.loads(shown.stdout)
    assert seen["activate"] == "sourced by finance"
    assert seen["path0"] == str(finance / "bin") and seen["prefix"] == str(finance)
    assert no_cmd.code == 127, no_cmd  # also when a shell sources the scripts first

    assert eval_in_sh.returncode == 0, (out, err)
    exports, _, after_eval = out.partition("---\n")
    lines = exports.splitlines()
    assert f"export CONDA_PREFIX={finance}" in lines, out
    assert "export CONDA_DEFAULT_ENV=finance" in lines, out
    assert any(ln.startswith("export PATH=") for ln in lines), out
    assert after_eval.splitlines() == [
        str(finance / "bin" / "python"),
        str(finance),
        "sourced by finance",
    ], out
    assert env_json.code == 0, env_json
    data = env_json.json
    assert data["env"]["CONDA_PREFIX"] == str(finance)
    assert data["env"]["CONDA_DEFAULT_ENV"] == "finance"
    assert data["env"]["PATH"].split(":")[0] == str(finance / "bin")
    assert data["activate_scripts"] == [str(activate_d / "wsp-test.sh")]

    # -- output streams: the first line arrives while the command still runs ------------------
    code = "import time; print('first', flush=True); time.sleep(1); print('second', flush=True)"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsp", "run", "finance", "--", "python", "-c", code],
        cwd=ws.root,
        env=ws.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        got_first = time.monotonic()
        still_running = proc.poll() is None
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first == "first\n", (first, err)
    assert still_running, "the first line came only after the command had ended"
    assert time.monotonic() - got_first > 0.5
    assert rest == "second\n" and proc.returncode == 0, (rest, err)
