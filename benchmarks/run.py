"""How fast is wsp? One command, one table.

    python benchmarks/run.py            # 10, 100 and 1000 envs (a few minutes)
    python benchmarks/run.py --quick    # skip the 1000-env workspace

Every figure is the wall time of a real `python -m wsp ...` subprocess of this
checkout (first on PYTHONPATH), run the way the test suite runs it
(tests/support/cli.py: private HOME, no conda, plain output) against the fixture
channel of tests/support/channel.py, built once in a temp dir.

- start-up: `wsp --help`, the floor under every command.
- no-op plan: a workspace of N generated projects (python 3.12 + one noarch package
  each) is applied once with `wsp apply --yes` (timed too, once), then `wsp plan` is
  timed: every env is in sync, so this is the cost of reading workspace.toml and
  looking at N envs. "wall per env" is the wall median over N; "CPU per env added"
  is the slope of CPU time against the 10-env workspace: what one more env costs,
  without the fixed start-up.
- apply of the three seed envs (tests.support.cli.SEED_TOML) into a new workspace,
  with an empty package cache (cold) and with one that already holds every package
  (warm); WSP_CACHE_DIR points at that cache.
- apply of 20 generated envs into a new workspace (so a new envs-dir), warm package
  cache, with `--jobs 1` (one env at a time) and `--jobs 2` (two at once), in turn;
  then `wsp status` in the last of those workspaces.
- watch latency: benchmarks/bench_watch.py's `measure` at the default debounce
  (300 ms): from a save of workspace.toml (one package added or removed) to the
  watch's `apply` event with `phase: start`, and to the env being ready.
- conda, side by side, when `conda` is on PATH: `conda create -y -p ENV --offline
  --override-channels -c <fixture channel> python=X.Y PKG...` once per env, for the
  same envs (the seed envs, cold and warm package cache; the 20 envs, warm), and
  `conda env list` with those 20 envs made. conda runs with its own private HOME and
  CONDA_PKGS_DIRS under the temp dir. "conda ÷ wsp" is conda's wall median over the
  wsp row it stands under. Without conda the rows say so instead of giving figures.

Wall time is what a user waits; CPU time (user + system of the process and its
children) is shown beside it because it hardly moves when other work competes for
the CPUs.
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
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from bench_watch import measure as watch_latency  # noqa: E402
from bench_watch import wsp_env  # noqa: E402

from tests.support.channel import build_channel  # noqa: E402
from tests.support.cli import SEED_TOML  # noqa: E402

# One noarch package per generated project, in turn: small, no dependencies besides python.
NOARCH = ("six", "pytz", "click", "h11", "idna", "certifi", "joblib", "threadpoolctl")
MANY = 20  # envs in the parallel / sequential apply
DEBOUNCE_MS = 300  # wsp watch's default
NO_CONDA = "conda not found on PATH"


@dataclass
class Run:
    wall: float  # seconds, start to exit
    cpu: float | None = None  # user + system seconds of the process and its children


@dataclass
class Figure:
    name: str
    runs: list[Run]
    envs: int | None = None  # per-env cost shown when set
    marginal: float | None = None  # CPU seconds each env adds, against the smallest workspace
    versus: Figure | None = None  # a conda row: the wsp figure it stands beside
    note: str | None = None  # shown instead of figures (conda not found)

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float | None:
        cpus = [r.cpu for r in self.runs if r.cpu is not None]
        return statistics.median(cpus) if cpus else None


def generated_toml(n: int) -> str:
    """A workspace.toml of `n` projects: python 3.12 plus one noarch package each."""
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
    return "\n".join(lines)


def conda_specs(toml: str) -> dict[str, list[str]]:
    """What `conda create` is given for each project of a workspace.toml (plain
    projects only: python plus dependencies, as the seed and generated ones are)."""
    projects = tomllib.loads(toml)["projects"]
    return {
        name: [f"python={p['python']}", *p.get("dependencies", [])] for name, p in projects.items()
    }


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Run `argv` in `cwd`; its wall and CPU time. Fails loudly on a bad exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(
            f"`{' '.join(argv)}` in {cwd} exited {proc.returncode}:\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return Run(elapsed, cpu)


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.channel = build_channel(tmp / "channel")
        self.home = tmp / "home"
        self.warm_cache = tmp / "cache-warm"
        self.conda = shutil.which("conda")
        self._n = 0

    def env(self, cache: Path) -> dict[str, str]:
        env = wsp_env(self.home, cache)
        env.pop("COLUMNS", None)
        return env

    def fresh_dir(self, label: str) -> Path:
        self._n += 1
        path = self.tmp / f"{self._n:02d}-{label}"
        path.mkdir()
        return path

    def wsp(self, cwd: Path, *args: str, cache: Path | None = None) -> Run:
        """Run `wsp ARGS` in `cwd`; its wall and CPU time."""
        return timed([sys.executable, "-m", "wsp", *args], cwd, self.env(cache or self.warm_cache))

    def write_workspace(self, root: Path, toml: str) -> None:
        (root / "workspace.toml").write_text(toml.replace("{channel}", self.channel.as_uri()))

    # -- wsp -----------------------------------------------------------------------------

    def startup(self, runs: int) -> Figure:
        return Figure("wsp --help (start-up)", [self.wsp(self.tmp, "--help") for _ in range(runs)])

    def generated_workspace(self, n: int) -> tuple[Path, Figure]:
        """A workspace of `n` projects, applied once: every env in sync."""
        root = self.fresh_dir(f"noop-{n}")
        self.write_workspace(root, generated_toml(n))
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
        print("... no-op plans", file=sys.stderr, flush=True)
        plans = {n: Figure(f"no-op plan, {n} envs", [], n) for n in sizes}
        for _ in range(runs):
            for n in sizes:
                plans[n].runs.append(self.wsp(roots[n], "plan"))
        smallest = plans[sizes[0]]
        for n in sizes[1:]:
            plans[n].marginal = (plans[n].cpu - smallest.cpu) / (n - sizes[0])  # type: ignore[operator]
        for root in roots.values():
            shutil.rmtree(root, ignore_errors=True)
        return list(plans.values()), setups

    def seed_apply(self, runs: int) -> tuple[Figure, Figure]:
        cold: list[Run] = []
        warm: list[Run] = []
        # fill the warm cache once
        self.apply_fresh(SEED_TOML, self.warm_cache)
        for i in range(runs):
            cache = self.tmp / f"cache-cold-{i}"
            cold.append(self.apply_fresh(SEED_TOML, cache))
            shutil.rmtree(cache, ignore_errors=True)
            warm.append(self.apply_fresh(SEED_TOML, self.warm_cache))
        return (
            Figure("apply 3 seed envs, cold package cache", cold, 3),
            Figure("apply 3 seed envs, warm package cache", warm, 3),
        )

    def apply_fresh(self, toml: str, cache: Path, *args: str, keep: bool = False) -> Run:
        """`wsp apply --yes ARGS` of `toml` in a new workspace (so a new envs-dir)."""
        root = self.fresh_dir("apply")
        self.write_workspace(root, toml)
        elapsed = self.wsp(root, "apply", "--yes", *args, cache=cache)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        return elapsed

    def many_apply(self, runs: int) -> tuple[Figure, Figure, Figure]:
        """MANY new envs with --jobs 1 and --jobs 2, in turn; then `wsp status` among them."""
        toml = generated_toml(MANY)
        self.apply_fresh(toml, self.warm_cache)  # warm-up: the package and OS file caches
        jobs = {
            j: Figure(f"apply {MANY} envs, --jobs {j} ({how})", [], MANY)
            for j, how in ((1, "sequential"), (2, "parallel"))
        }
        for _ in range(runs):
            for j, figure in jobs.items():
                figure.runs.append(self.apply_fresh(toml, self.warm_cache, "--jobs", str(j)))
        root = self.fresh_dir(f"status-{MANY}")
        self.write_workspace(root, toml)
        self.wsp(root, "apply", "--yes")
        status = Figure(
            f"wsp status, {MANY} envs", [self.wsp(root, "status") for _ in range(runs)], MANY
        )
        shutil.rmtree(root, ignore_errors=True)
        return jobs[1], jobs[2], status

    def init_pinned(self, runs: int) -> Figure:
        """`wsp init` in a folder holding a 300-line pinned `conda env export`."""
        from tests.support.envfiles import pinned_export

        text = pinned_export(300)
        out = []
        for _ in range(runs):
            root = self.fresh_dir("init")
            (root / "environment.yml").write_text(text)
            out.append(self.wsp(root, "init"))
            shutil.rmtree(root, ignore_errors=True)
        return Figure("wsp init, 300-line pinned conda env export", out)

    def watch(self, runs: int) -> tuple[Figure, Figure]:
        starts, ready = watch_latency(
            self.fresh_dir("watch"), self.channel, DEBOUNCE_MS, runs, cache=self.warm_cache
        )
        return (
            Figure(
                f"watch, {DEBOUNCE_MS} ms debounce: save -> apply start", [Run(s) for s in starts]
            ),
            Figure(f"watch, {DEBOUNCE_MS} ms debounce: save -> env ready", [Run(s) for s in ready]),
        )

    def pack(self, runs: int) -> Figure:
        """`wsp pack vision` of the seed workspace, locked once (warm package cache): the
        archive's size goes in the row's name."""
        root = self.fresh_dir("pack")
        self.write_workspace(root, SEED_TOML)
        self.wsp(root, "lock")
        out = root / "vision.tar"
        figure = Figure("wsp pack vision (seed, from wsp.lock)", [])
        for _ in range(runs):
            figure.runs.append(self.wsp(root, "pack", "vision", "-o", str(out)))
        figure.name += f": {out.stat().st_size:,} bytes"
        shutil.rmtree(root, ignore_errors=True)
        return figure

    # -- conda, side by side -------------------------------------------------------------

    def conda_env(self, pkgs: Path) -> dict[str, str]:
        """conda with a private HOME (so its own environments.txt) and package cache."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WSP_", "PYTEST_", "COV_")) and k != "PYTHONPATH"
        }
        home = self.tmp / "home-conda"
        home.mkdir(exist_ok=True)
        env.update(HOME=str(home), CONDA_PKGS_DIRS=str(pkgs), NO_COLOR="1")
        return env

    def conda_create(self, toml: str, pkgs: Path, keep: bool = False) -> Run:
        """`conda create` of every project of `toml`, one after the other, into a new dir."""
        assert self.conda is not None
        root = self.fresh_dir("conda")
        env = self.conda_env(pkgs)
        total = Run(0.0, 0.0)
        for name, specs in conda_specs(toml).items():
            argv = [self.conda, "create", "-y", "-q", "-p", str(root / "envs" / name), "--offline",
                    "--override-channels", "-c", self.channel.as_uri(), *specs]  # fmt: skip
            run = timed(argv, root, env)
            total = Run(total.wall + run.wall, (total.cpu or 0.0) + (run.cpu or 0.0))
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        return total

    def conda_seed(self, runs: int, cold_wsp: Figure, warm_wsp: Figure) -> list[Figure]:
        cold = Figure("conda create x3, cold package cache", [], 3, versus=cold_wsp)
        warm = Figure("conda create x3, warm package cache", [], 3, versus=warm_wsp)
        if self.conda is None:
            return [_missing(cold), _missing(warm)]
        warm_pkgs = self.tmp / "conda-pkgs-warm"
        self.conda_create(SEED_TOML, warm_pkgs)  # fill the warm cache once
        for i in range(runs):
            pkgs = self.tmp / f"conda-pkgs-cold-{i}"
            cold.runs.append(self.conda_create(SEED_TOML, pkgs))
            shutil.rmtree(pkgs, ignore_errors=True)
            warm.runs.append(self.conda_create(SEED_TOML, warm_pkgs))
        return [cold, warm]

    def conda_many(self, runs: int, apply_wsp: Figure, status_wsp: Figure) -> list[Figure]:
        create = Figure(f"conda create x{MANY}, warm package cache", [], MANY, versus=apply_wsp)
        env_list = Figure(f"conda env list, {MANY} envs", [], MANY, versus=status_wsp)
        if self.conda is None:
            return [_missing(create), _missing(env_list)]
        toml = generated_toml(MANY)
        warm_pkgs = self.tmp / "conda-pkgs-warm"
        self.conda_create(toml, warm_pkgs)  # warm-up
        for _ in range(runs - 1):
            create.runs.append(self.conda_create(toml, warm_pkgs))
        create.runs.append(self.conda_create(toml, warm_pkgs, keep=True))  # for `conda env list`
        for _ in range(runs):
            env_list.runs.append(
                timed([self.conda, "env", "list"], self.tmp, self.conda_env(warm_pkgs))
            )
        return [create, env_list]

    def conda_version(self) -> str:
        if self.conda is None:
            return "not found on PATH"
        out = subprocess.run([self.conda, "--version"], capture_output=True, text=True).stdout
        return out.strip() or "conda (version unknown)"


def _missing(figure: Figure) -> Figure:
    figure.note = NO_CONDA
    return figure


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
    try:
        rattler = f"py-rattler {metadata.version('py-rattler')}"
    except metadata.PackageNotFoundError:
        rattler = "py-rattler (version unknown)"
    return (
        f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {cpu}; "
        f"Python {platform.python_version()}, {rattler}, on {platform.system()} {platform.release()}"
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
    runs = max(args.runs, 1)

    figures: list[Figure] = []
    load_before = load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wsp-bench-") as tmp:
        bench = Bench(Path(tmp))
        conda = bench.conda_version()
        figures.append(bench.startup(max(runs, 10)))
        figures.append(bench.init_pinned(runs))
        plans, setups = bench.noop_plans(sizes, runs)
        figures.extend(plans)
        print("... seed envs, cold and warm cache", file=sys.stderr, flush=True)
        cold, warm = bench.seed_apply(runs)
        conda_seed = bench.conda_seed(runs, cold, warm)
        figures += [cold, warm, *conda_seed]
        print(f"... {MANY} envs, --jobs 1 and 2", file=sys.stderr, flush=True)
        sequential, parallel, status = bench.many_apply(runs)
        conda_create, conda_list = bench.conda_many(min(runs, 3), parallel, status)
        figures += [sequential, parallel, conda_create, status, conda_list]
        print("... watch latency", file=sys.stderr, flush=True)
        figures.extend(bench.watch(max(runs, 7)))
        figures.append(bench.pack(runs))
        figures.extend(setups)
    elapsed = time.perf_counter() - started

    from rich.console import Console
    from rich.table import Table

    print(f"wsp benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {elapsed:.0f} s in all")
    print(f"machine: {machine()}")
    print(f"load average (1 min): {load_before} before, {load()} after")
    print(f"conda: {conda}")
    table = Table()
    table.add_column("figure")
    table.add_column("runs", justify="right")
    table.add_column("wall, median", justify="right")
    table.add_column("wall, min", justify="right")
    table.add_column("CPU, median", justify="right")
    table.add_column("wall per env", justify="right")
    table.add_column("CPU per env added", justify="right")
    table.add_column("conda ÷ wsp", justify="right")
    for f in figures:
        if f.note is not None:
            table.add_row(f.name, "", f.note, "", "", "", "", "")
            continue
        table.add_row(
            f.name,
            str(len(f.runs)),
            _ms(f.median),
            _ms(min(r.wall for r in f.runs)),
            _ms(f.cpu) if f.cpu is not None else "",
            f"{f.median / f.envs * 1000:,.1f} ms" if f.envs else "",
            f"{f.marginal * 1000:,.2f} ms" if f.marginal is not None else "",
            f"{f.median / f.versus.median:.1f}×" if f.versus is not None else "",
        )
    # wide enough for the table at its natural width, whatever the terminal
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
    # py-rattler (used here to index the channel) can crash at interpreter shutdown
    # (shared/RATTLER.md): leave without the interpreter's teardown, as wsp itself does.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
