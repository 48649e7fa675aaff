"""Where envs go (issue 13, item 1): conda's envs dirs in conda's own order, a multi-user
conda whose root the user cannot write, a conda installed into a virtualenv, and an
envs dir that does not move with the shell wsp runs in."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import Workspace
from tests.support.users import User, run_as, system_python
from wsp import conda

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No conda of this machine, no CONDA_* variable, a private HOME."""
    for var in list(os.environ):
        if var.startswith(("CONDA", "MAMBA", "WSP_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    (tmp_path / "home").mkdir()
    conda.find_conda.cache_clear()
    yield
    conda.find_conda.cache_clear()


def make_root(path: Path, *, writable: bool = True) -> Path:
    """A conda root as an installer leaves it (conda-meta/history makes it a prefix)."""
    (path / "conda-meta").mkdir(parents=True)
    (path / "envs").mkdir()
    if writable:
        (path / "conda-meta" / "history").touch()
    return path


def use_root(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.setenv("WSP_CONDA_ROOT", str(root))
    conda.find_conda.cache_clear()


def test_conda_order_envs_dirs_setting_then_root_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(tmp_path / "conda")
    use_root(monkeypatch, root)
    home = tmp_path / "home"
    assert conda.conda_envs_dirs() == [root / "envs", home / ".conda" / "envs"]

    # .condarc envs_dirs (later files first), then CONDA_ENVS_PATH before them all
    (home / ".condarc").write_text("envs_dirs:\n  - ~/rc-home\n  - /srv/rc-two\n")
    (home / ".config" / "conda").mkdir(parents=True)
    (home / ".config" / "conda" / "condarc").write_text("envs_path: [/srv/rc-xdg]\n")
    monkeypatch.setenv("CONDA_ENVS_PATH", f"/srv/ev-one{os.pathsep}/srv/ev-two")
    assert conda.conda_envs_dirs() == [
        Path("/srv/ev-one"),
        Path("/srv/ev-two"),
        home / "rc-home",
        Path("/srv/rc-two"),
        Path("/srv/rc-xdg"),
        root / "envs",
        home / ".conda" / "envs",
    ]
    # the first one conda could create an env in wins
    (tmp_path / "blocked").write_text("a file, not a folder")
    monkeypatch.setenv("CONDA_ENVS_PATH", str(tmp_path / "blocked" / "envs"))
    assert conda.default_envs_dir(tmp_path / "ws") == home / "rc-home"


def test_a_root_without_history_is_not_writable_so_home_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(tmp_path / "conda", writable=False)
    use_root(monkeypatch, root)
    home = tmp_path / "home"
    assert conda.conda_envs_dirs() == [home / ".conda" / "envs", root / "envs"]
    assert conda.default_envs_dir(tmp_path / "ws") == home / ".conda" / "envs"


def test_no_conda_means_the_workspace_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_root(monkeypatch, tmp_path / "none")
    assert conda.conda_envs_dirs() == []
    assert conda.default_envs_dir(tmp_path / "ws") == tmp_path / "ws" / ".wsp" / "envs"


def fake_venv_conda(venv: Path, condarc: str | None) -> Path:
    """A virtualenv with the conda package in it (no conda-meta/): `pip install conda`."""
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    (site / "conda").mkdir(parents=True)
    (site / "conda" / "__init__.py").write_text(  # as conda 26.7.1's, without _version.py
        "try:\n    from ._version import __version__\nexcept ImportError:\n"
        '    __version__ = "0.0.0.dev0+placeholder"\n'
    )
    (site / "conda-26.7.1.dist-info").mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "bin").mkdir()
    (venv / "bin" / "conda").write_text("#!/bin/sh\n")
    if condarc is not None:
        (venv / ".condarc").write_text(condarc)
    return venv / "bin" / "conda"


def test_conda_in_a_virtualenv_finds_its_root_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(tmp_path / "conda-root")
    exe = fake_venv_conda(tmp_path / "venv", f"root_prefix: {root}\n")
    monkeypatch.setenv("CONDA_EXE", str(exe))
    found = conda.find_conda()
    assert found == conda.CondaInstall(root, tmp_path / "venv")
    assert conda.find_conda_root() == root
    assert conda.conda_envs_dirs()[0] == root / "envs"
    from wsp.condameta import conda_version_of
    from wsp.reconciler import _conda_version

    assert conda_version_of(tmp_path / "venv") == "26.7.1"
    assert _conda_version.__wrapped__() == "26.7.1"  # for the history, root has none


def test_conda_in_a_virtualenv_without_root_prefix_is_its_own_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / "venv"
    monkeypatch.setenv("CONDA_EXE", str(fake_venv_conda(venv, None)))
    assert conda.find_conda() == conda.CondaInstall(venv, venv)
    # no conda-meta/history in the virtualenv: conda calls its root not writable
    assert conda.conda_envs_dirs() == [tmp_path / "home" / ".conda" / "envs", venv / "envs"]
    monkeypatch.setenv("CONDA_ROOT_PREFIX", str(make_root(tmp_path / "elsewhere")))
    conda.find_conda.cache_clear()
    assert conda.find_conda_root() == tmp_path / "elsewhere"


def test_a_multi_user_conda_the_user_cannot_write(other_user: User, shared_tmp: Path) -> None:
    """An admin's conda (root-owned, 0755): the other user's envs go to ~/.conda/envs, as
    conda's own would, not to <root>/envs where every create fails."""
    python = system_python(other_user)
    if python is None:
        pytest.skip("no Python the second user can run")
    check = run_as(other_user, [python, "-c", "import wsp.conda"], env={"PYTHONPATH": str(REPO)})
    if check.returncode != 0:
        pytest.skip(f"the second user cannot read this checkout: {check.stderr.strip()[-200:]}")
    root = make_root(shared_tmp / "opt-conda")
    code = (
        "import json, pathlib, wsp.conda as c;"
        "print(json.dumps([str(p) for p in c.conda_envs_dirs()]"
        " + [str(c.default_envs_dir(pathlib.Path('/nonexistent-ws')))]))"
    )
    r = run_as(
        other_user,
        [python, "-c", code],
        env={"PYTHONPATH": str(REPO), "WSP_CONDA_ROOT": str(root)},
    )
    assert r.returncode == 0, r.stderr
    home = other_user.home / ".conda" / "envs"
    assert json.loads(r.stdout) == [str(home), str(root / "envs"), str(home)]


# -- the envs dir does not depend on the shell --------------------------------------------

TOML = """\
[workspace]
name = "moving"
channels = ["conda-forge"]

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["six"]
"""


def states(r: object) -> dict[str, str]:
    result = r  # a tests.support.cli.Result
    assert result.code == 0, result  # type: ignore[attr-defined]
    return {row["project"]: row["state"] for row in result.json["envs"]}  # type: ignore[attr-defined]


def test_envs_stay_found_when_conda_is_no_longer_detected(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace(TOML)
    root = make_root(tmp_path / "conda")
    with_conda = {"WSP_CONDA_ROOT": str(root)}
    r = ws.wsp("apply", "--yes", **with_conda)
    assert r.code == 0, r
    assert (root / "envs" / "finance" / "conda-meta" / "wsp").is_file()
    # what apply does once the lead wires it (issue 13): remember the envs dir used
    conda.remember_envs_dir(ws.root, root / "envs")
    assert json.loads((ws.root / ".wsp" / "envs-dir.json").read_text()) == {
        "format": 1,
        "envs_dir": str(root / "envs"),
    }

    # a shell without conda: the env is still found where it is, and wsp says why
    assert states(ws.wsp("status", "--json")) == {"finance": "in sync"}
    choice = conda.envs_dir_choice(ws.root)
    assert choice.path == root / "envs"
    assert choice.conda_default == ws.root / ".wsp" / "envs"
    assert choice.note is not None and str(root / "envs") in choice.note
    assert "envs-dir" in choice.note

    # with conda again: no note
    assert states(ws.wsp("status", "--json", **with_conda)) == {"finance": "in sync"}

    # once the remembered folder holds none of this workspace's envs, the default is conda's
    r = ws.wsp("destroy", "--yes", **with_conda)
    assert r.code == 0, r
    assert conda.envs_dir_choice(ws.root).path == ws.root / ".wsp" / "envs"
    assert conda.envs_dir_choice(ws.root).note is None


def test_a_remembered_dir_of_another_workspace_s_envs_is_not_taken(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    prefix = envs / "finance"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "wsp").write_text(
        json.dumps({"manifest": str(tmp_path / "other" / "workspace.toml")})
    )
    ws_root = tmp_path / "ws"
    ws_root.mkdir()
    conda.remember_envs_dir(ws_root, envs)
    assert conda.owned_envs_in(envs, ws_root) == []
    assert conda.default_envs_dir(ws_root) == ws_root / ".wsp" / "envs"
    (ws_root / ".wsp" / "envs-dir.json").write_text("{not json")
    assert conda.remembered_envs_dir(ws_root) is None
