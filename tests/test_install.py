"""wsp installed with only its declared dependencies (no test extras): every module imports
and every command's --help runs. A dependency used but not declared fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wsp.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding wsp (built from this checkout) and what pyproject.toml declares."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [_uv(), "pip", "install", "--quiet", "--python", str(python), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        if "network" in proc.stderr.lower() or "dns" in proc.stderr.lower():
            pytest.skip(f"the package index can't be reached: {proc.stderr.strip()[-300:]}")
        pytest.fail(f"installing wsp failed:\n{proc.stderr}")
    return python


def test_every_module_imports_with_only_declared_dependencies(bare_python: Path) -> None:
    code = (
        "import importlib, pkgutil, wsp\n"
        "names = [m.name for m in pkgutil.walk_packages(wsp.__path__, 'wsp.')\n"
        "         if m.name != 'wsp.__main__']\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    proc = subprocess.run(
        [str(bare_python), "-c", code], capture_output=True, text=True, cwd=bare_python.parent
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 40


def test_every_command_help_runs_with_only_declared_dependencies(bare_python: Path) -> None:
    for command in ("", *COMMANDS):
        argv = [str(bare_python), "-m", "wsp", *([command] if command else []), "--help"]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=bare_python.parent)
        assert proc.returncode == 0, (command, proc.stderr)
        assert "usage:" in proc.stdout, (command, proc.stdout)


def test_wsp_add_pip_works_with_only_declared_dependencies(
    bare_python: Path, tmp_path: Path
) -> None:
    (tmp_path / "workspace.toml").write_text(
        '[workspace]\nname = "w"\nenvs-dir = "envs"\n\n[projects.a]\npython = "3.11"\n'
    )
    proc = subprocess.run(
        [str(bare_python), "-m", "wsp", "add", "a", "--pip", "requests>=2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "WSP_CONDA_ROOT": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert 'pip = ["requests>=2"]' in (tmp_path / "workspace.toml").read_text()
