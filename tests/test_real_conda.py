"""A real conda reads wsp's envs as its own (issue 13): env list, list, run, activate,
export --from-history, install refused on a frozen env, update --all keeping the declared
packages, and another user's conda list and run.

Skipped when `conda` is not on PATH (it is not installable in CI). To run them here, put
a conda first on PATH (e.g. `PATH=/work/tools/bin:$PATH`, see docs/conda.md).

The second user's test runs the conda `WSP_TEST_OTHER_USER_CONDA` names (else the one on
PATH): a conda on PATH that lives under a private home (/root, mode 0700) is one the second
user cannot run, and that test skips saying so. Name a copy every user can read and run
(its interpreter, its code and its root outside private folders) to run it.

What apply will write once it calls them (history, frozen, state, modes) is written here
with the same functions, after a real `wsp apply`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace, mirrored_condarc
from tests.support.users import User, run_as
from wsp import condameta
from wsp.modes import fix_modes

CONDA = shutil.which("conda")
pytestmark = pytest.mark.skipif(CONDA is None, reason="needs a real conda on PATH")

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
SPECS = [f"python={PY}", "six>=1.10"]
TOML = f"""\
[workspace]
name = "with-conda"
channels = ["conda-forge"]
envs-dir = "{{envs}}"

[workspace.mirrors]
"conda-forge" = ["{{channel}}"]

[projects.finance]
python = "{PY}"
dependencies = ["six>=1.10"]
"""


def conda(
    ws: Workspace, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert CONDA is not None
    return subprocess.run(
        [CONDA, *args],
        cwd=ws.root,
        env={**ws.env, "PATH": os.environ["PATH"], **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def conda_ws(
    shared_tmp: Path, runnable_channel: Path, wsp_env: dict[str, str]
) -> tuple[Workspace, Path]:
    """A workspace applied by wsp (in a folder other users can reach), then given what
    apply writes for conda: history, frozen marker, env vars, conda's modes."""
    ws = Workspace(shared_tmp / "ws", runnable_channel, wsp_env)
    ws.root.mkdir()
    ws.write(TOML.replace("{envs}", str(shared_tmp / "envs")))
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    prefix = shared_tmp / "envs" / "finance"
    condameta.record_change(prefix, SPECS, cmd="wsp apply --yes")
    message = condameta.frozen_message(
        workspace="with-conda", manifest=ws.manifest, project="finance", env="finance"
    )
    condameta.write_frozen(prefix, message)
    condameta.write_env_vars(prefix, {"OMP_NUM_THREADS": "8", "GREETING": "hello world"})
    fix_modes(prefix, mask=0o022)
    return ws, prefix


def test_conda_sees_a_wsp_env_as_its_own(conda_ws: tuple[Workspace, Path]) -> None:
    ws, prefix = conda_ws
    # conda run by root reads the environments.txt of every home in /etc/passwd, not of
    # $HOME (the tests' private one, where wsp listed the env): name the envs dir instead
    dirs = {"CONDA_ENVS_DIRS": str(prefix.parent)}
    listed = conda(ws, "env", "list", "--json", env=dirs)
    assert listed.returncode == 0, listed
    assert str(prefix) in json.loads(listed.stdout)["envs"]
    text = conda(ws, "env", "list", env=dirs)
    assert any(str(prefix) in ln and " + " in ln for ln in text.stdout.splitlines()), text

    pkgs = conda(ws, "list", "-p", str(prefix), "--json")
    assert pkgs.returncode == 0, pkgs
    assert {p["name"] for p in json.loads(pkgs.stdout)} >= {"python", "six"}

    run = conda(
        ws,
        "run",
        "-p",
        str(prefix),
        "python",
        "-c",
        "import os, sys; print(sys.prefix); print(os.environ['OMP_NUM_THREADS'])",
    )
    assert run.returncode == 0, run
    assert run.stdout.split() == [str(prefix), "8"]

    hook = subprocess.run(
        [
            "bash",
            "-c",
            f'eval "$({CONDA} shell.bash hook)" && conda activate {prefix} && '
            'echo "$CONDA_PREFIX|$GREETING" && command -v python',
        ],
        cwd=ws.root,
        env={**ws.env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert hook.returncode == 0, hook
    assert hook.stdout.splitlines() == [f"{prefix}|hello world", str(prefix / "bin" / "python")]


def test_export_from_history_gives_the_declared_specs(conda_ws: tuple[Workspace, Path]) -> None:
    ws, prefix = conda_ws
    r = conda(ws, "env", "export", "--from-history", "-p", str(prefix), "--json")
    assert r.returncode == 0, r
    deps = json.loads(r.stdout)["dependencies"]
    assert deps == [f"python={PY}", "six[version='>=1.10']"], deps


def test_conda_refuses_to_change_a_frozen_env(conda_ws: tuple[Workspace, Path]) -> None:
    ws, prefix = conda_ws
    before = sorted(p.name for p in (prefix / "conda-meta").glob("*.json"))
    chan = ws.channel.as_uri()
    r = conda(ws, "install", "-y", "-p", str(prefix), "--override-channels", "-c", chan, "zlib")
    assert r.returncode != 0, r
    assert "EnvironmentIsFrozenError" in r.stdout + r.stderr, r
    assert str(ws.manifest) in r.stdout + r.stderr and "wsp apply" in r.stdout + r.stderr
    for argv in (
        ("remove", "-y", "-p", str(prefix), "six"),
        ("remove", "--all", "-y", "-p", str(prefix)),
    ):
        r = conda(ws, *argv)
        assert r.returncode != 0 and "frozen" in (r.stdout + r.stderr), r
    assert sorted(p.name for p in (prefix / "conda-meta").glob("*.json")) == before

    # update --all, allowed past the freeze, keeps every declared package
    r = conda(
        ws,
        "update",
        "--all",
        "--dry-run",
        "--override-frozen",
        "-p",
        str(prefix),
        "--override-channels",
        "-c",
        chan,
        "--json",
    )
    assert r.returncode == 0, r
    result = json.loads(r.stdout)
    unlinked = {u["name"] for u in result.get("actions", {}).get("UNLINK", [])}
    linked = {u["name"] for u in result.get("actions", {}).get("LINK", [])}
    assert result["success"] and not (unlinked - linked) & {"python", "six"}, result


def test_another_user_s_conda_reads_and_runs_the_env(
    conda_ws: tuple[Workspace, Path], other_user: User
) -> None:
    _ws, prefix = conda_ws
    theirs = os.environ.get("WSP_TEST_OTHER_USER_CONDA") or CONDA
    assert theirs is not None
    env = {"PATH": f"{os.path.dirname(theirs)}:{os.environ['PATH']}"}
    try:
        probe = run_as(other_user, [theirs, "--version"], env=env)
    except PermissionError as exc:  # conda's interpreter line names a file it can't run
        pytest.skip(f"the second user cannot run {theirs}: {exc} (see WSP_TEST_OTHER_USER_CONDA)")
    if probe.returncode != 0:
        pytest.skip(f"the second user cannot run {theirs}: {probe.stderr.strip()[-200:]}")
    r = run_as(other_user, [theirs, "list", "-p", str(prefix), "--json"], env=env)
    assert r.returncode == 0, r
    assert "six" in {p["name"] for p in json.loads(r.stdout)}
    r = run_as(
        other_user,
        [theirs, "run", "-p", str(prefix), "sh", "-c", 'echo "$CONDA_PREFIX $OMP_NUM_THREADS"'],
        env=env,
    )
    assert r.returncode == 0, r
    assert r.stdout.split() == [str(prefix), "8"]
    r = run_as(
        other_user,
        [theirs, "env", "export", "--from-history", "-p", str(prefix), "--json"],
        env=env,
    )
    assert r.returncode == 0, r
    assert json.loads(r.stdout)["dependencies"][0] == f"python={PY}"


def test_history_continues_after_a_conda_command(conda_ws: tuple[Workspace, Path]) -> None:
    """conda reads wsp's history as its own: a forced conda install appends only its own
    change, and wsp's next apply undoes it, files and all, with matching `-` lines."""
    ws, prefix = conda_ws
    r = conda(
        ws,
        "install",
        "-y",
        "-p",
        str(prefix),
        "--override-frozen",
        "--override-channels",
        "-c",
        "conda-forge",  # the channel the records name, fetched where the mirror is
        "idna",  # noarch: python, which conda records unlike rattler
        env={**mirrored_condarc(ws), "CONDA_ADD_PIP_AS_PYTHON_DEPENDENCY": "false"},
    )
    assert r.returncode == 0, r
    history = prefix / "conda-meta" / "history"
    last = history.read_text().split("==> ")[-1].splitlines()
    added = [ln for ln in last if ln.startswith(("+", "-"))]
    assert len(added) == 1 and added[0].startswith("+") and "idna" in added[0], last
    assert "# update specs: ['idna']" in last
    idna = prefix / "lib" / f"python{PY}" / "site-packages" / "idna"
    assert idna.is_dir(), r

    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert not idna.exists(), "the package conda installed left its files behind"
    last = history.read_text().split("==> ")[-1].splitlines()
    assert [ln for ln in last if ln.startswith(("+", "-"))] == ["-" + added[0][1:]], last


def test_wsp_imports_an_env_conda_made_with_its_variables(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    """`conda create 'python==3.11.9=0' six`, `conda env config vars set` and `unset`,
    `conda install 'numpy<2'` and `conda update --all` (which relaxes that pin): `wsp
    import --env` keeps the Python build pin, the variables still set, and the specs
    `conda env export --from-history` gives."""
    ws = make_workspace(
        '[workspace]\nname = "imports"\nchannels = ["conda-forge"]\n'
        'envs-dir = ".wsp/envs"\n\n[workspace.mirrors]\n"conda-forge" = ["{channel}"]\n'
    )
    rc = mirrored_condarc(ws)
    with open(rc["CONDARC"], "a") as fh:
        fh.write(f"pkgs_dirs: [{tmp_path / 'conda-pkgs'}]\n")
    prefix = tmp_path / "made"
    for args in (
        (
            "create",
            "-y",
            "--offline",
            "-p",
            str(prefix),
            "--override-channels",
            "-c",
            "conda-forge",
        ),
        ("env", "config", "vars", "set", "-p", str(prefix), "MYVAR=1", "OTHER=2"),
        ("env", "config", "vars", "unset", "-p", str(prefix), "OTHER"),
    ):
        specs = ("python==3.11.9=0", "six") if args[0] == "create" else ()
        done = conda(ws, *args, *specs, env=rc)
        assert done.returncode == 0, done
    r = ws.wsp("--json", "import", "--env", str(prefix))
    assert r.code == 0, r
    assert sorted(r.json["fields"]["dependencies"]) == ["python==3.11.9=0", "six"]  # any order
    assert r.json["fields"]["env-vars"] == {"MYVAR": "1"}
    assert "python" not in r.json["fields"] and r.json["left_out"] == []

    for args in (
        ("install", "-y", "--offline", "-p", str(prefix), "-c", "conda-forge", "numpy<2"),
        ("update", "-y", "--offline", "-p", str(prefix), "-c", "conda-forge", "--all"),
    ):
        done = conda(ws, *args, env=rc)
        assert done.returncode == 0, done
    r = ws.wsp("--json", "import", "--env", str(prefix), "--as", "again")
    assert r.code == 0, r
    # conda relaxed the pins (`# neutered specs: ['python=3.11', 'numpy']`): its export
    # gives them so, and so does the import
    export = conda(ws, "env", "export", "--from-history", "-p", str(prefix), "--json", env=rc)
    assert export.returncode == 0, export
    assert sorted(json.loads(export.stdout)["dependencies"]) == ["numpy", "python=3.11", "six"]
    assert sorted(r.json["fields"]["dependencies"]) == ["numpy", "six"]
    assert r.json["fields"]["python"] == "3.11"


def test_the_blocked_env_hint_removes_a_frozen_env(
    conda_ws: tuple[Workspace, Path], wsp_env: dict[str, str]
) -> None:
    """Another workspace declaring the env's name is blocked; the conda command its plan
    suggests removes the frozen env, which a plain `conda env remove` refuses."""
    ws, prefix = conda_ws
    other = Workspace(ws.root.parent / "ws2", ws.channel, wsp_env)
    other.root.mkdir()
    other.write(TOML.replace("{envs}", str(prefix.parent)).replace("with-conda", "other-lab"))
    r = other.wsp("plan", "--json")
    assert r.code == 0, r
    (action,) = r.json["actions"]
    assert action["action"] == "blocked", action
    [command] = re.findall(
        r"`(conda env remove [^`]*)`", action["reason_details"][0]["next_steps"][-1]
    )

    r = conda(ws, "env", "remove", "-y", "-p", str(prefix))
    assert r.returncode != 0 and "frozen" in r.stdout + r.stderr, r
    r = conda(ws, *command.split()[1:], "-y")
    assert r.returncode == 0, r
    assert not (prefix / "conda-meta").exists()
