"""The pip layer: 5 local wheels into 3 envs, uv against pip, side by side. One table.

    python benchmarks/bench_pip.py             # 5 timed runs per row (under a minute)
    python benchmarks/bench_pip.py --quick     # 3 timed runs per row
    python benchmarks/bench_pip.py --runs 10

No network: the envs come from the runnable fixture channel of tests/support/channel.py
(its python of this interpreter's major.minor is the running interpreter, laid out as a
venv without pip), the wheels from a wheelhouse of tests/support/wheels.py. Every command
runs as a subprocess with tests/support/cli.py's `base_env` (private HOME, so uv's cache
is private too; no conda), plus PIP_DISABLE_PIP_VERSION_CHECK=1 so pip stays offline.

Three envs are applied once with `wsp apply --yes` and no pip requirements. Then, round
after round (so a change in the machine's load hits every row alike), each way of
installing the 5 wheels (benchpkg1..benchpkg5 1.0.0; benchpkg2 needs benchpkg1) into the
3 envs is timed, and the wheels are removed again, untimed, before the next row:

- uv:  `uv pip install --python <env>/bin/python --no-index --find-links <wheelhouse> ...`,
  one subprocess per env; removed with `uv pip uninstall`.
- pip: the running interpreter's pip targeting the env, `python -m pip --python
  <env>/bin/python install --no-index --find-links <wheelhouse> ...` (pip >= 22.3; the
  envs have no pip of their own), one subprocess per env; removed with `uv pip uninstall`.
- wsp apply: the 5 names added as `pip = [...]` to the 3 projects and `wsp apply --yes`
  timed once for all 3 envs (plan: conda solve + `uv pip compile`; apply: uv installs);
  removed by taking the `pip` lists out and applying again.

One untimed warm-up round comes first (uv's cache, the OS's file cache).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from bench_watch import wsp_env  # noqa: E402
from run import _ms, load, machine  # noqa: E402

from tests.support.channel import build_runnable_channel  # noqa: E402
from tests.support.wheels import build_wheel  # noqa: E402

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
SITE = Path("lib") / f"python{PY}" / "site-packages"
WHEELS = tuple(f"benchpkg{i}" for i in range(1, 6))
REQUIRES = {"benchpkg2": ("benchpkg1>=1.0",)}
ENVS = ("alpha", "beta", "gamma")


@dataclass
class Row:
    name: str
    walls: list[float] = field(default_factory=list)  # seconds for all 3 envs, per run

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.channel = build_runnable_channel(tmp / "channel")
        self.wheelhouse = tmp / "wheels"
        for name in WHEELS:
            build_wheel(self.wheelhouse, name, "1.0.0", REQUIRES.get(name, ()))
        self.root = tmp / "ws"
        self.root.mkdir()
        self.env = wsp_env(tmp / "home", tmp / "cache")
        self.env.pop("COLUMNS", None)
        self.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        from uv import find_uv_bin

        self.uv = find_uv_bin()
        self.prefixes = [self.root / ".wsp" / "envs" / name for name in ENVS]

    def run(self, *cmd: str) -> float:
        """Run `cmd` in the workspace; its wall time. Fails loudly on a bad exit."""
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, capture_output=True
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr).decode(errors="replace")
            sys.exit(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{out[-3000:]}")
        return elapsed

    def write_workspace(self, with_pip: bool) -> None:
        lines = [
            "[workspace]",
            'name = "bench-pip"',
            'channels = ["conda-forge"]',
            'envs-dir = ".wsp/envs"',
            f"pip-find-links = [{str(self.wheelhouse)!r}]",
            "pip-no-index = true",
            "",
            "[workspace.mirrors]",
            f'"conda-forge" = ["{self.channel.as_uri()}"]',
            "",
        ]
        for name in ENVS:
            lines += [f"[projects.{name}]", f'python = "{PY}"']
            if with_pip:
                lines.append("pip = [" + ", ".join(f'"{w}"' for w in WHEELS) + "]")
            lines.append("")
        (self.root / "workspace.toml").write_text("\n".join(lines))

    def wsp_apply(self) -> float:
        return self.run(sys.executable, "-m", "wsp", "apply", "--yes")

    def installed(self, prefix: Path) -> set[str]:
        return {w for w in WHEELS if (prefix / SITE / w / "__init__.py").exists()}

    def check(self, want: bool, row: str) -> None:
        for prefix in self.prefixes:
            got = self.installed(prefix)
            if got != (set(WHEELS) if want else set()):
                sys.exit(f"{row}: {prefix.name} has {sorted(got)} installed")

    def uninstall(self) -> None:
        for prefix in self.prefixes:
            self.run(self.uv, "pip", "uninstall", "--python", str(prefix / "bin/python"), *WHEELS)

    # -- the three rows, one run each ------------------------------------------------------

    def uv_round(self) -> float:
        offline = ["--no-index", "--find-links", str(self.wheelhouse), *WHEELS]
        total = sum(
            self.run(self.uv, "pip", "install", "--python", str(prefix / "bin/python"), *offline)
            for prefix in self.prefixes
        )
        self.check(True, "uv")
        self.uninstall()
        return total

    def pip_round(self) -> float:
        offline = ["--no-index", "--find-links", str(self.wheelhouse), *WHEELS]
        pip = [sys.executable, "-m", "pip", "--python"]
        total = sum(
            self.run(*pip, str(prefix / "bin/python"), "install", *offline)
            for prefix in self.prefixes
        )
        self.check(True, "pip")
        self.uninstall()
        return total

    def wsp_round(self) -> float:
        self.write_workspace(with_pip=True)
        total = self.wsp_apply()
        self.check(True, "wsp apply")
        self.write_workspace(with_pip=False)
        self.wsp_apply()
        self.check(False, "wsp apply (removal)")
        return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 timed runs per row")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per row (default 5)")
    args = parser.parse_args()
    runs = min(args.runs, 3) if args.quick else args.runs

    load_before = load()
    with tempfile.TemporaryDirectory(prefix="wsp-bench-pip-") as tmp:
        print("... building the channel, the wheels and 3 envs", file=sys.stderr, flush=True)
        bench = Bench(Path(tmp))
        bench.write_workspace(with_pip=False)
        bench.wsp_apply()
        bench.check(False, "setup")
        pip_version = subprocess.run(
            [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True
        ).stdout.split()[1]
        uv_version = subprocess.run([bench.uv, "--version"], capture_output=True, text=True)
        uv_version = uv_version.stdout.split()[1]
        rows = {
            "uv": (Row(f"uv {uv_version} (uv pip install --python ENV)"), bench.uv_round),
            "pip": (Row(f"pip {pip_version} (pip --python ENV install)"), bench.pip_round),
            "wsp": (Row("wsp apply --yes (uv inside; plan + install)"), bench.wsp_round),
        }
        print("... warm-up round", file=sys.stderr, flush=True)
        for _, timed in rows.values():
            timed()
        for i in range(runs):
            print(f"... round {i + 1}/{runs}", file=sys.stderr, flush=True)
            for row, timed in rows.values():
                row.walls.append(timed())
        shutil.rmtree(tmp, ignore_errors=True)

    from rich.console import Console
    from rich.table import Table

    uv_median = rows["uv"][0].median
    table = Table(
        title=(
            f"pip layer: {len(WHEELS)} local wheels into {len(ENVS)} envs, no network: "
            f"{machine()}; load average {load_before} before, {load()} after"
        ),
        caption=(
            "uv and pip: one install subprocess per env, --no-index --find-links WHEELHOUSE; "
            "pip is the running interpreter's pip targeting each env with --python "
            "(the envs have no pip). wsp apply: one `python -m wsp apply --yes` for all 3 envs."
        ),
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("tool")
    table.add_column("runs", justify="right")
    table.add_column("median, 3 envs", justify="right")
    table.add_column("min, 3 envs", justify="right")
    table.add_column("median per env", justify="right")
    table.add_column("÷ uv", justify="right")
    for row, _ in rows.values():
        table.add_row(
            row.name,
            str(len(row.walls)),
            _ms(row.median),
            _ms(min(row.walls)),
            _ms(row.median / len(ENVS)),
            f"{row.median / uv_median:.1f}×",
        )
    Console(width=max(140, shutil.get_terminal_size().columns)).print(table)


if __name__ == "__main__":
    main()
    # py-rattler (used here to index the channel) can crash at interpreter shutdown
    # (shared/RATTLER.md): leave without the interpreter's teardown, as wsp itself does.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
