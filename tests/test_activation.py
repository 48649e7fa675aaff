"""Activation on py-rattler's (issue 13, item 6), one code path for `wsp run`, `shell`,
`env` and `shell-hook`, through the real CLI; and no shell injection from an env's
variables (issue 11, item 8)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace, run_all

TOML = """\
[workspace]
name = "act"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["six"]
"""

CANARY = "/tmp/wsp-injection-canary"
STATE = {
    "env_vars": {
        "GREETING": "it's $(touch " + CANARY + ") `touch " + CANARY + '` ; "quoted"',
        "BAD;touch " + CANARY + ";X": "1",
        "OMP_NUM_THREADS": "8",
        "GONE": "***unset***",
        "PATH": "/evil",
    }
}


@pytest.fixture
def env_ws(make_workspace: Callable[..., Workspace]) -> Workspace:
    """An applied env with variables (`conda env config vars set` and a package's
    env_vars.d) and activate.d scripts for bash and fish."""
    ws = make_workspace(TOML)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    prefix = ws.envs_dir / "finance"
    (prefix / "conda-meta" / "state").write_text(json.dumps(STATE))
    env_vars_d = prefix / "etc" / "conda" / "env_vars.d"
    env_vars_d.mkdir(parents=True)
    (env_vars_d / "pkg.json").write_text('{"FROM_PACKAGE": "pkg", "OMP_NUM_THREADS": "1"}')
    activate_d = prefix / "etc" / "conda" / "activate.d"
    activate_d.mkdir(parents=True)
    (activate_d / "a.sh").write_text(  # bash's [[ ]]: sourced by bash, as conda run does
        '[[ -n $CONDA_PREFIX ]] && export FROM_SCRIPT="sh for $CONDA_DEFAULT_ENV"\n'
    )
    (activate_d / "a.fish").write_text('set -gx FROM_SCRIPT "fish for $CONDA_DEFAULT_ENV"\n')
    (activate_d / "a.ps1").write_text('$Env:FROM_SCRIPT = "ps"\n')
    Path(CANARY).unlink(missing_ok=True)
    return ws


SHOW = 'printf "%s|%s|%s|%s|%s|%s\\n" "$GREETING" "$OMP_NUM_THREADS" "$FROM_PACKAGE" '
SHOW += '"$FROM_SCRIPT" "${GONE-unset}" "$CONDA_PREFIX"; command -v python; echo "$PATH"'


def expected(ws: Workspace, script: str = "sh") -> str:
    prefix = ws.envs_dir / "finance"
    greeting = STATE["env_vars"]["GREETING"]
    return f"{greeting}|8|pkg|{script} for finance|unset|{prefix}"


def sh(ws: Workspace, code: str, shell: str = "bash") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shell, "-c", code],
        cwd=ws.root,
        env=ws.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wsp_cmd(*args: str) -> str:
    return " ".join(shlex.quote(a) for a in [sys.executable, "-m", "wsp", *args])


@pytest.mark.parametrize("command", ["env", "shell-hook"])
def test_eval_activates_and_runs_nothing_from_the_env(env_ws: Workspace, command: str) -> None:
    ws = env_ws
    prefix = ws.envs_dir / "finance"
    r = sh(ws, f'eval "$({wsp_cmd(command, "finance", "--shell", "bash")})"\n{SHOW}')
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == expected(ws), r
    assert lines[2].split(":")[0] == str(prefix / "bin")
    assert "/evil" not in lines[2]
    assert not Path(CANARY).exists(), "eval of wsp's output ran shell code from the env"
    assert "not a shell variable name" in r.stderr, r.stderr
    assert "BAD;touch" in r.stderr and "PATH is set by activation itself" in r.stderr


def test_run_uses_the_same_activation(env_ws: Workspace) -> None:
    ws = env_ws
    (ws.root / "notes.txt").write_text("not a program\n")
    r, missing, not_executable = run_all(
        ws,
        ("run", "finance", "--", "sh", "-c", SHOW),
        ("run", "finance", "--", "no-such-command", "x"),
        ("run", "finance", "--", "./notes.txt"),
    )
    assert r.code == 0, r
    assert r.stdout.splitlines()[0] == expected(ws)
    assert not Path(CANARY).exists()
    assert "not a shell variable name" in r.stderr
    # the shell that sources the activate.d scripts fails as wsp does, with a shell's codes
    assert missing.code == 127, missing
    assert (
        missing.stderr.splitlines()[-1]
        == "error: command not found in env finance: no-such-command"
    )
    assert not_executable.code == 126, not_executable
    assert not_executable.stderr.splitlines()[-1] == "error: command not executable: ./notes.txt"


def test_env_json_is_the_same_data(env_ws: Workspace) -> None:
    r = env_ws.wsp("env", "finance", "--json")
    assert r.code == 0, r
    data = r.json
    prefix = env_ws.envs_dir / "finance"
    assert data["env"]["GREETING"] == STATE["env_vars"]["GREETING"]
    assert data["env"]["OMP_NUM_THREADS"] == "8"  # conda-meta/state wins over a package's
    assert "GONE" not in data["env"] and data["env"]["PATH"].split(":")[0] == str(prefix / "bin")
    assert data["activate_scripts"] == [str(prefix / "etc" / "conda" / "activate.d" / "a.sh")]


def test_shell_hook_follows_shell_and_replaces_an_active_env(env_ws: Workspace) -> None:
    ws = env_ws
    prefix = ws.envs_dir / "finance"
    other = ws.root / "other-env"
    (other / "bin").mkdir(parents=True)
    (other / "conda-meta").mkdir()
    (other / "conda-meta" / "state").write_text('{"env_vars": {"OTHER": "1", "KEPT": "2"}}')
    (other / "etc" / "conda" / "deactivate.d").mkdir(parents=True)
    (other / "etc" / "conda" / "deactivate.d" / "o.fish").write_text("set -e OTHER_HOME\n")
    env = {"CONDA_PREFIX": str(other), "CONDA_SHLVL": "1", "PATH": f"{other}/bin:/usr/bin:/bin"}
    env |= {"OTHER": "1", "KEPT": "2", "__CONDA_SHLVL_0_KEPT": "mine", "OMP_NUM_THREADS": "4"}
    # the same env, active already
    same = {"CONDA_PREFIX": str(prefix), "CONDA_SHLVL": "1", "PATH": f"{prefix}/bin:/usr/bin"}
    r, again, ps = run_all(
        ws,
        ("shell-hook", "finance"),
        ("shell-hook", "finance", "--shell", "bash"),
        ("shell-hook", "finance", "--shell", "powershell"),
        env=[{"SHELL": "/usr/bin/fish", **env}, same, {}],
    )
    assert r.code == 0, r
    assert f"set -gx CONDA_PREFIX '{prefix}'" in r.stdout
    assert "set -gx CONDA_SHLVL '2'" in r.stdout
    assert f"set -gx CONDA_PREFIX_1 '{other}'" in r.stdout
    assert str(other / "bin") not in r.stdout  # the active env's bin is taken off PATH
    assert f"source '{prefix}/etc/conda/activate.d/a.fish'" in r.stdout
    assert "set -gx GREETING 'it\\'s $(touch" in r.stdout
    # the replaced env goes first, as with conda: its deactivate.d scripts run, its variables
    # are unset or given back the value they had before it; a value this env overrides is
    # kept where `conda deactivate` restores it from
    lines = r.stdout.splitlines()
    assert lines[0] == f"source '{other}/etc/conda/deactivate.d/o.fish'", r
    assert "set -e OTHER" in lines and "set -gx KEPT 'mine'" in lines, r
    assert "set -gx __CONDA_SHLVL_1_OMP_NUM_THREADS '4'" in lines, r

    # activating the active env again does it in place: not stacked on itself
    assert again.code == 0, again
    assert "export CONDA_SHLVL=1" in again.stdout and "CONDA_PREFIX_1" not in again.stdout
    assert "__CONDA_SHLVL_" not in again.stdout, again

    assert ps.code == 0, ps
    assert "$Env:GREETING = 'it''s $(touch" in ps.stdout
    assert f". '{prefix}/etc/conda/activate.d/a.ps1'" in ps.stdout


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_shell_hook_evaluates_in_that_shell(env_ws: Workspace, shell: str) -> None:
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed here")
    ws = env_ws
    if shell == "fish":
        code = (
            f"{wsp_cmd('shell-hook', 'finance', '--shell', 'fish')} | source\n"
            'printf "%s|%s|%s|%s|%s|%s\\n" "$GREETING" "$OMP_NUM_THREADS" "$FROM_PACKAGE" '
            '"$FROM_SCRIPT" unset "$CONDA_PREFIX"'
        )
        want = expected(ws, "fish")
    else:
        code = f'eval "$({wsp_cmd("shell-hook", "finance", "--shell", "zsh")})"\n{SHOW}'
        want = expected(ws)
    r = sh(ws, code, exe)
    assert r.returncode == 0, r
    assert r.stdout.splitlines()[0] == want, r
    assert not Path(CANARY).exists()


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_wsp_shell_activates_after_the_shells_own_start_up_files(
    env_ws: Workspace, shell: str
) -> None:
    ws = env_ws
    home = Path(ws.env["HOME"])
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed here")
    rc = home / ".bashrc"
    if shell == "zsh":  # ~/.zshenv moves zsh's start-up files, as many users' do
        (home / ".zshenv").write_text('export ZDOTDIR="$HOME/.config/zsh"\n')
        rc = home / ".config" / "zsh" / ".zshrc"
        rc.parent.mkdir(parents=True)
    rc.write_text('export PATH="/usr/bin:/bin"\n')  # a PATH reset
    tmp = home / "tmp"  # where the start-up file (bash) or ZDOTDIR (zsh) wsp writes goes
    tmp.mkdir()

    def shell_(shell: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wsp", "shell", "finance"],
            cwd=ws.root,
            env={**ws.env, "SHELL": shell, "TMPDIR": str(tmp)},
            input=f"{SHOW}\nexit\n",
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = shell_(path)
    assert r.returncode == 0, r
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert lines[0] == expected(ws), r
    assert lines[2].split(":")[0] == str(ws.envs_dir / "finance" / "bin"), r
    assert not Path(CANARY).exists()
    assert not list(tmp.iterdir())
    # a start-up file that never comes back (`exec`), a shell that does not start: removed
    rc.write_text("exec true\n")
    assert shell_(path).returncode == 0
    assert not list(tmp.iterdir())
    if shell == "zsh":
        r = shell_(str(home / "gone" / shell))
        assert r.returncode == 1 and "Traceback" not in r.stderr, r
        assert not list(tmp.iterdir())


def test_shell_hook_of_a_missing_env_is_one_line(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(TOML)
    r = ws.wsp("shell-hook", "finance")
    assert r.code == 1, r
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) <= 2 and "wsp apply" in r.stderr, r
    r = ws.wsp("shell-hook", "nope")
    assert r.code == 1 and "no project 'nope'" in r.stderr, r


def test_the_folders_a_pyenv_shim_put_in_front_are_not_written_into_the_shell() -> None:
    """`wsp` run through pyenv's shim gets PATH with `pyenv exec`'s folders in front; the
    activation starts from the PATH the shell has (pyenv's shims, not one version's bin)."""
    from wsp.activate import shell_path

    shell = ["/home/u/.local/bin", "/home/u/.pyenv/shims", "/usr/bin"]
    added = [
        "/home/u/.pyenv/versions/3.11.7/bin",
        "/home/u/.pyenv/libexec",
        "/home/u/.pyenv/plugins/python-build/bin",
    ]
    environ = {"PATH": ":".join(added + shell), "PYENV_ROOT": "/home/u/.pyenv/"}
    assert shell_path(environ) == added + shell  # not started by pyenv: PATH as it is
    environ["PYENV_HOOK_PATH"] = "/home/u/.pyenv/pyenv.d"
    assert shell_path(environ) == shell
    # a version's bin the user put in PATH, after what pyenv added, stays
    environ["PATH"] = ":".join([*added, "/home/u/.pyenv/versions/3.9.1/bin", *shell])
    assert shell_path(environ) == ["/home/u/.pyenv/versions/3.9.1/bin", *shell]
