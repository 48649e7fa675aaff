"""`wsp init`: a starter workspace.toml that `wsp plan` accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import Result, Workspace


def wsp(cwd: Path, env: dict[str, str], *args: str) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "wsp", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_init_in_empty_folder_writes_a_file_plan_accepts(tmp_path: Path, wsp_env: dict) -> None:
    root = tmp_path / "My Lab"
    root.mkdir()
    r = wsp(root, wsp_env, "init")
    assert r.code == 0, r
    text = (root / "workspace.toml").read_text()
    assert 'name = "my-lab"' in text
    assert "[projects.my-lab]" in text
    assert "# " in text  # commented for a newcomer
    assert ".wsp/" in (root / ".gitignore").read_text()
    # conda-forge is unreachable here: plan degrades to spec level, and exits 0
    r = wsp(root, wsp_env, "plan")
    assert r.code == 0, r
    assert "create" in r.stdout


def test_init_picks_up_environment_files(tmp_path: Path, wsp_env: dict) -> None:
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "environment.yml").write_text(
        "name: old-analysis\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy\n"
    )
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    r = wsp(tmp_path, wsp_env, "init", "--name", "lab")
    assert r.code == 0, r
    text = (tmp_path / "workspace.toml").read_text()
    assert "[projects.old-analysis]" in text
    assert 'environment-file = "environment.yml"' in text
    assert (tmp_path / ".gitignore").read_text().startswith("*.pyc\n")
    r = wsp(tmp_path, wsp_env, "plan", "--json")
    assert r.code == 0, r
    [action] = r.json["actions"]
    assert action["specs"]["conda"][0] == "python 3.11.*"


def test_init_never_overwrites(tmp_path: Path, wsp_env: dict) -> None:
    (tmp_path / "workspace.toml").write_text("# mine\n")
    r = wsp(tmp_path, wsp_env, "init")
    assert r.code == 1
    assert "already exists" in r.stderr
    assert (tmp_path / "workspace.toml").read_text() == "# mine\n"


# -- names, channels and errors of wsp init ------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "project"), [("test", "test-project"), ("9lives", "project-9lives")]
)
def test_init_names_what_its_naming_policy_accepts(
    folder: str, project: str, tmp_path: Path, wsp_env: dict[str, str]
) -> None:
    root = tmp_path / folder
    root.mkdir()
    ws = Workspace(root, tmp_path, wsp_env)
    r = ws.wsp("init")
    assert r.code == 0, r
    assert f"[projects.{project}]" in ws.manifest.read_text()
    assert f"project named '{project}'" in r.stderr  # said up front
    r = ws.wsp("check", "--json")
    assert not [f for f in r.json["findings"] if f["code"].startswith("WSP1")], r


def test_init_says_each_name_it_changed(tmp_path: Path, wsp_env: dict[str, str]) -> None:
    """Two files both `name: same`, and a name that is no project name: each project is
    named otherwise than its file says, and init says so (and in --json `renamed`)."""
    root = tmp_path / "lab"
    for folder, file, name in (
        ("a", "environment.yml", "same"),
        ("b", "environment.yaml", "same"),
        ("c", "environment.yml", "Analysis_2024"),
    ):
        (root / folder).mkdir(parents=True)
        (root / folder / file).write_text(f"name: {name}\ndependencies: [numpy]\n")
    ws = Workspace(root, tmp_path, wsp_env)
    r = ws.wsp("--json", "init")
    assert r.code == 0, r
    assert r.json["projects"] == ["same", "same-2", "analysis-2024"]
    assert r.json["renamed"] == [
        "b/environment.yaml: project named 'same-2' ('same' is the project of a/environment.yml)",
        "c/environment.yml: project named 'analysis-2024' (from 'Analysis_2024': the naming "
        "policy wants lower-case letters, digits, '-')",
    ]
    ws.manifest.unlink()
    r = ws.wsp("init")
    assert r.code == 0, r
    notes = [ln for ln in r.stderr.splitlines() if ln.startswith("note:")]
    assert len(notes) == 2 and "'same-2'" in notes[0] and "'analysis-2024'" in notes[1], r


def test_init_on_defaults_writes_no_conda_forge_beside_it(
    tmp_path: Path, wsp_env: dict[str, str]
) -> None:
    root = tmp_path / "legacy"
    (root / "app").mkdir(parents=True)
    (root / "app" / "environment.yml").write_text(
        "name: app\nchannels: [defaults]\ndependencies: [numpy]\n"
    )
    ws = Workspace(root, tmp_path, wsp_env)
    assert ws.wsp("init").code == 0
    assert 'channels = ["defaults"]' in ws.manifest.read_text()
    r = Workspace(root, tmp_path, wsp_env).wsp("check", "--json")
    assert [f for f in r.json["findings"] if f["severity"] == "error"] == [], r


def test_init_errors_name_the_users_file(tmp_path: Path, wsp_env: dict[str, str]) -> None:
    root = tmp_path / "broken"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "environment.yml").write_text(
        "dependencies:\n  - numpy\n  - pip:\n    - transformers=~4.25\n"
    )
    ws = Workspace(root, tmp_path, wsp_env)
    r = ws.wsp("init")
    assert r.code == 1
    assert r.stderr.startswith("sub/environment.yml:4:7: 'transformers=~4.25'"), r.stderr
    assert r.stderr.count("\n") == 1
    assert sorted(p.name for p in root.iterdir()) == ["sub"]  # nothing written, no temp file


def test_init_says_what_it_found_and_does_not_read(tmp_path: Path) -> None:
    """Files init sees but does not read are named, each with what to do (in process)."""
    from wsp.commands.init import unread_files

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "environment.yml").write_text("dependencies: [numpy]\n")
    (tmp_path / "a" / "environment-dev.yml").write_text("dependencies: [pytest]\n")
    (tmp_path / "a" / "requirements.txt").write_text("requests\n")
    (tmp_path / "a" / "pyproject.toml").write_text(
        '[project]\nname = "a"\ndependencies = ["rich"]\n[tool.pixi.dependencies]\nx = "*"\n'
    )
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "environment-ci.yml").write_text("x: 1\n")  # hidden: not looked at
    (tmp_path / "ci.yml").write_text("x: 1\n")  # no conda file by its name
    notes = unread_files(tmp_path, [tmp_path / "a"])
    assert [n.split(" ", 1)[0] for n in notes] == [
        "a/environment-dev.yml",
        "a/requirements.txt",
        "a/pyproject.toml:",
        "a/pyproject.toml:",
    ], notes
    assert "`wsp import --file a/environment-dev.yml`" in notes[0]
    assert "[project] dependencies" in notes[2] and "[tool.pixi]" in notes[3]


def test_init_does_not_say_a_project_pip_installs_is_not_read(
    tmp_path: Path, wsp_env: dict[str, str]
) -> None:
    """A folder whose environment file pip-installs it (`-e .`, conda's usual way): its
    pyproject.toml's dependencies are installed by pip, and init does not say otherwise."""
    for folder, line in (("app", "-e ."), ("lib", "requests")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "environment.yml").write_text(
            f"name: {folder}\ndependencies:\n  - pip\n  - pip:\n    - {line}\n"
        )
        (tmp_path / folder / "pyproject.toml").write_text(
            f'[project]\nname = "{folder}"\nversion = "1.0"\ndependencies = ["rich"]\n'
        )
    r = Workspace(tmp_path, tmp_path, wsp_env).wsp("--json", "init")
    assert r.code == 0, r
    assert [n.split(" ", 1)[0] for n in r.json["unread"]] == ["lib/pyproject.toml:"], r.json


def test_init_warns_of_a_conda_env_where_a_project_s_env_goes(
    tmp_path: Path, wsp_env: dict[str, str]
) -> None:
    """`conda env create -f environment.yml` made the env already: the project init
    writes for that file is blocked by it (wsp changes no env it did not create); init
    says so, with the ways out, and leaves the env alone."""
    (tmp_path / "environment.yml").write_text("name: sci\ndependencies: [numpy]\n")
    conda_env = tmp_path / ".wsp" / "envs" / "sci"  # envs-dir when no conda is found
    (conda_env / "conda-meta").mkdir(parents=True)
    (conda_env / "conda-meta" / "history").write_text("# cmd: conda env create\n")
    r = Workspace(tmp_path, tmp_path, wsp_env).wsp("--json", "init")
    assert r.code == 0, r
    [warning] = r.json["blocked"]
    assert warning.startswith(
        f"warning: an env wsp did not create holds the place of project sci's env ({conda_env})"
    ), warning
    assert f"`conda env remove -p {conda_env}`" in warning and "rename [projects.sci]" in warning
    assert sorted(p.name for p in (conda_env / "conda-meta").iterdir()) == ["history"]


def test_init_finds_env_files_in_an_envs_folder_but_not_in_conda_envs(tmp_path: Path) -> None:
    """`envs/dev/environment.yml` is a project's file like any other; a conda env made in
    the folder (`conda create -p ./envs/py311`: conda-meta/) is not looked into, nor are
    hidden and tool folders (in process)."""
    from wsp.commands.init import find_env_files

    for folder in ("envs/dev", "envs/py311/lib/python3.11/site-packages/pkg", "node_modules/x"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "environment.yml").write_text("dependencies: [numpy]\n")
    (tmp_path / "envs" / "py311" / "conda-meta").mkdir()
    assert find_env_files(tmp_path) == [tmp_path / "envs" / "dev" / "environment.yml"]
