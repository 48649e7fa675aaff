"""`wsp init`: a starter workspace.toml that `wsp plan` accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.cli import Result


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
