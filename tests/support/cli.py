"""Drive the real `wsp` command line in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED_TOML = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["pandas>=2", "scikit-learn"]

[projects.vision]
python = "3.11"
dependencies = ["pytorch", "opencv"]

[projects.webdev]
python = "3.12"
dependencies = ["fastapi", "uvicorn"]
"""


def base_env(home: Path, cache: Path) -> dict[str, str]:
    """A clean environment: private HOME, no conda to find, wide plain output."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONDA", "MAMBA", "WSP_", "PYTEST_", "COV_"))
    }
    env.update(
        HOME=str(home),
        WSP_CACHE_DIR=str(cache),
        WSP_CONDA_ROOT=str(home / "no-conda"),
        NO_COLOR="1",
        COLUMNS="200",
        WSP_LOCK_TIMEOUT="30",
    )
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"Result(code={self.code})\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class Workspace:
    root: Path
    channel: Path
    env: dict[str, str]

    @property
    def manifest(self) -> Path:
        return self.root / "workspace.toml"

    @property
    def envs_dir(self) -> Path:
        return self.root / ".wsp" / "envs"

    def write(self, toml: str) -> None:
        self.manifest.write_text(toml.replace("{channel}", self.channel.as_uri()))

    def edit(self, old: str, new: str) -> None:
        text = self.manifest.read_text()
        assert old in text, f"{old!r} not in workspace.toml"
        self.manifest.write_text(text.replace(old, new, 1))

    def wsp(self, *args: str, input: str | None = None, timeout: float = 120, **env: str) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "wsp", *args],
            cwd=self.root,
            env={**self.env, **env},
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def start(
        self, *args: str, stdout: Any = subprocess.PIPE, stderr: Any = subprocess.PIPE, **env: str
    ) -> subprocess.Popen[str]:
        """Start `wsp ARGS` without waiting for it (stdin closed): to run several at once,
        or to kill one. `finish` collects its Result."""
        return subprocess.Popen(
            [sys.executable, "-m", "wsp", *args],
            cwd=self.root,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )

    def dists(self, env: str) -> set[str]:
        """`name-version-build` of every package record in an env's conda-meta."""
        meta = self.envs_dir / env / "conda-meta"
        return {p.name[:-5] for p in meta.glob("*.json")}

    @staticmethod
    def dists_in(envs_dir: Path, env: str) -> set[str]:
        """`name-version-build` of every package record of an env in another envs-dir."""
        return {p.name[:-5] for p in (envs_dir / env / "conda-meta").glob("*.json")}

    def versions(self, env: str) -> dict[str, str]:
        return {d.rsplit("-", 2)[0]: d.rsplit("-", 2)[1] for d in self.dists(env)}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under `root`: compare to prove nothing changed."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> Result:
    """Wait for a process of `Workspace.start`; its exit code and output."""
    out, err = proc.communicate(timeout=timeout)
    return Result(proc.returncode, out or "", err or "")


def run_all(
    ws: Workspace,
    *argvs: tuple[str, ...],
    cwd: Path | None = None,
    env: list[dict[str, str]] | None = None,
) -> list[Result]:
    """Run several `wsp` commands at once (none of them applying) and wait for all;
    `env` gives each its own extra variables."""
    if cwd is not None:
        ws = Workspace(cwd, ws.channel, ws.env)
    procs = [ws.start(*argv, **(env[i] if env else {})) for i, argv in enumerate(argvs)]
    return [finish(proc) for proc in procs]


def mirrored_condarc(ws: Workspace) -> dict[str, str]:
    """conda told where conda-forge is fetched from here (the fixture channel), as a
    mirror is given to conda: `custom_channels` in a .condarc."""
    parent = ws.root / "conda-mirror"
    parent.mkdir(exist_ok=True)
    if not (parent / "conda-forge").exists():
        (parent / "conda-forge").symlink_to(ws.channel)
    rc = parent / ".condarc"  # conda reads $CONDARC only by such a name
    rc.write_text(f"custom_channels:\n  conda-forge: {parent.as_uri()}\n")
    return {"CONDARC": str(rc)}
