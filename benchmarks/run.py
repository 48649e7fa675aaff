"""How fast is wsp? One command, one table.

    python benchmarks/run.py            # 10, 100 and 1000 envs (a few minutes)
    python benchmarks/run.py --quick    # skip the 1000-env workspace

Every figure is the wall time of a real `python -m wsp ...` subprocess, run the way
the test suite runs it (tests/support/cli.py: private HOME, no conda, plain output)
against the fixture channel of tests/support/channel.py, built once in a temp dir.

- no-op plan: a workspace of N generated projects (python 3.12 + one noarch package
  each) is applied once with `wsp apply --yes` (timed too, once), then `wsp plan` is
  timed: every env is in sync, so this is the cost of reading workspace.toml and
  looking at N envs. "wall per env" is the wall median over N; "CPU per env added"
  is the slope of CPU time against the 10-env workspace: what one more env costs,
  without the fixed start-up.
- start-up: `wsp --help`, the floor under every command.
- apply of the three seed envs (tests.support.cli.SEED_TOML) into a new workspace,
  with an empty package cache (cold) and with one that already holds every package
  (warm); WSP_CACHE_DIR points at that cache.

Wall time is what a user waits; CPU time (user + system of the wsp process) is
shown beside it because it hardly moves when other work competes for the CPUs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.channel import build_channel  # noqa: E402
from tests.support.cli import SEED_TOML, base_env  # noqa: E402

# One noarch package per generated project, in turn: small, no dependencies besides python.
NOARCH = ("six", "pytz", "click", "h11", "idna", "certifi", "joblib", "threadpoolctl")


@dataclass
class Run:
    wall: float  # seconds, start to exit
    cpu: float  # user + system seconds of the wsp process


@dataclass
class Figure:
    name: str
    runs: list[Run]
    envs: int | None = None  # per-env cost shown when set
    marginal: float | None = None  # CPU seconds each env adds, against the smallest workspace

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.channel = build_channel(tmp / "channel")
        self.home = tmp / "home"
        self.warm_cache = tmp / "cache-warm"
        self._n = 0

    def env(self, cache: Path) -> dict[str, str]:
        env = base_env(self.home, cache)
        env.pop("COLUMNS", None)
        return env

    def fresh_dir(self, label: str) -> Path:
        self._n += 1
        path = self.tmp / f"{self._n:02d}-{label}"
        path.mkdir()
        return path

    def wsp(self, cwd: Path, *args: str, cache: Path | None = None) -> Run:
        """Run `wsp ARGS` in `cwd`; its wall and CPU time. Fails loudly on a bad exit."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "wsp", *args],
            cwd=cwd,
            env=self.env(cache or self.warm_cache),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            sys.exit(
                f"`wsp {' '.join(args)}` in {cwd} exited {proc.returncode}:\n"
                f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
        return Run(elapsed, cpu)

    def write_workspace(self, root: Path, toml: str) -> None:
        (root / "workspace.toml").write_text(toml.replace("{channel}", self.channel.as_uri()))

    # -- the figures ---------------------------------------------------------------------

    def startup(self, runs: int) -> Figure:
        return Figure("wsp --help (start-up)", [self.wsp(self.tmp, "--help") for _ in range(runs)])

    def generated_workspace(self, n: int) -> tuple[Path, Figure]:
        """A workspace of `n` projects, applied once: every env in sync."""
        root = self.fresh_dir(f"noop-{n}")
        lines = [
            "[workspace]",
            f'name = "bench-{n}"',
            'channels = ["conda-forge"]',
            'envs-dir = ".wsp/envs"',
            "",
            "[workspace.mirrors]",
            '"conda-forge" = ["{channel}"]',
            "",
        ]
        for i in range(n):
            lines += [
                f"[projects.p{i:04d}]",
                'python = "3.12"',
                f'dependencies = ["{NOARCH[i % len(NOARCH)]}"]',
                "",
            ]
        self.write_workspace(root, "\n".join(lines))
        apply = Figure(
            f"apply --yes, {n} new envs (setup, once)", [self.wsp(root, "apply", "--yes")], n
        )
        self.wsp(root, "plan", "--detailed-exitcode")  # exits 0 only when every env is in sync
        return root, apply

    def noop_plans(self, sizes: tuple[int, ...], runs: int) -> tuple[list[Figure], list[Figure]]:
        """Time `wsp plan` in each generated workspace, round-robin so drift hits all alike."""
        roots, setups = {}, []
        for n in sizes:
            print(f"... applying {n} envs", file=sys.stderr, flush=True)
            roots[n], apply = self.generated_workspace(n)
            setups.append(apply)
        plans = {n: Figure(f"no-op plan, {n} envs", [], n) for n in sizes}
        for _ in range(runs):
            for n in sizes:
                plans[n].runs.append(self.wsp(roots[n], "plan"))
        smallest = plans[sizes[0]]
        for n in sizes[1:]:
            plans[n].marginal = (plans[n].cpu - smallest.cpu) / (n - sizes[0])
        for root in roots.values():
            shutil.rmtree(root, ignore_errors=True)
        return list(plans.values()), setups

    def seed_apply(self, runs: int) -> tuple[Figure, Figure]:
        cold: list[Run] = []
        warm: list[Run] = []
        # fill the warm cache once
        self.apply_seed(self.warm_cache)
        for i in range(runs):
            cache = self.tmp / f"cache-cold-{i}"
            cold.append(self.apply_seed(cache))
            shutil.rmtree(cache, ignore_errors=True)
            warm.append(self.apply_seed(self.warm_cache))
        return (
            Figure("apply 3 seed envs, cold package cache", cold, 3),
            Figure("apply 3 seed envs, warm package cache", warm, 3),
        )

    def apply_seed(self, cache: Path) -> Run:
        root = self.fresh_dir("seed")
        self.write_workspace(root, SEED_TOML)
        elapsed = self.wsp(root, "apply", "--yes", cache=cache)
        shutil.rmtree(root, ignore_errors=True)
        return elapsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    return (
        f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {cpu}; "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
    )


def load() -> str:
    """The 1-minute load average: above the CPU count, other work was competing."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1000-env workspace")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (default 5)")
    args = parser.parse_args()
    sizes = (10, 100) if args.quick else (10, 100, 1000)

    figures: list[Figure] = []
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="wsp-bench-") as tmp:
        bench = Bench(Path(tmp))
        figures.append(bench.startup(max(args.runs, 10)))
        plans, setups = bench.noop_plans(sizes, args.runs)
        figures.extend(plans)
        print("... seed envs, cold and warm cache", file=sys.stderr, flush=True)
        figures.extend(bench.seed_apply(args.runs))
        figures.extend(setups)

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"wsp benchmarks: {machine()}; load average {load_before} before, {load()} after",
        title_justify="left",
    )
    table.add_column("figure")
    table.add_column("runs", justify="right")
    table.add_column("wall, median", justify="right")
    table.add_column("wall, min", justify="right")
    table.add_column("CPU, median", justify="right")
    table.add_column("wall per env", justify="right")
    table.add_column("CPU per env added", justify="right")
    for f in figures:
        table.add_row(
            f.name,
            str(len(f.runs)),
            _ms(f.median),
            _ms(min(r.wall for r in f.runs)),
            _ms(f.cpu),
            f"{f.median / f.envs * 1000:,.1f} ms" if f.envs else "",
            f"{f.marginal * 1000:,.2f} ms" if f.marginal is not None else "",
        )
    Console(width=max(140, shutil.get_terminal_size().columns)).print(table)


if __name__ == "__main__":
    main()
    # py-rattler (used here to index the channel) can crash at interpreter shutdown
    # (shared/RATTLER.md): leave without the interpreter's teardown, as wsp itself does.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
