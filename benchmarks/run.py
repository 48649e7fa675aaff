"""How fast is wsp? One command, one table.

    python benchmarks/run.py                  # 10, 100 and 1000 envs, real packages (minutes)
    python benchmarks/run.py --quick          # skip the 1000-env workspace
    python benchmarks/run.py --no-realistic   # skip the rows on real numpy, pandas, scipy

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

Below a line, rows on real packages (benchmarks/realistic.py: the numpy, pandas and
scipy wheels and the pure-Python ones around pandas, repacked as conda packages, one
`.conda` and one `.tar.bz2` channel, built once into ~/.cache/wsp-bench/realistic after a
~65 MB download; python is this interpreter as a venv). Each run has a private HOME and
its own WSP_CACHE_DIR; heavy rows take at most 3 runs.

- apply of three envs (finance: python + pandas + numpy + scipy, vision: python + numpy
  + scipy, webdev: python + numpy) into a new workspace, cold and warm package cache,
  for each format; conda's `conda create` of the same envs beside each.
- 1 env and 10 envs of python + pandas + numpy + scipy, warm cache: wall time and disk
  (`du`: each inode once; the envs-dir, then with the package cache; and the files'
  sizes with every link counted, what copies would take); conda beside. Then in those
  10 envs: a no-op plan, a plan with each env changed (+six: every env's conda-meta
  read, every env solved) and the apply of such a change (+six or -six, in turn).
- `wsp run finance -- python -c pass`, then `... -c "import numpy, pandas; print(numpy.
  __version__)"` (the row stops the benchmark when it does not print numpy's version);
  `conda run -p ENV` of the same beside.
- `wsp init` in a folder holding a 300-pin `conda env export` environment.yml.

Wall time is what a user waits; CPU time (user + system of the process and its
children) is shown beside it because it hardly moves when other work competes for
the CPUs. wsp runs with Python's bytecode cache on (PYTHONDONTWRITEBYTECODE removed),
as an installed wsp does.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import stat
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

import bench_load  # noqa: E402
import realistic  # noqa: E402
from bench_watch import measure as watch_latency  # noqa: E402
from bench_watch import wsp_env  # noqa: E402

from tests.support.channel import build_channel  # noqa: E402
from tests.support.cli import SEED_TOML  # noqa: E402

# One noarch package per generated project, in turn: small, no dependencies besides python.
NOARCH = ("six", "pytz", "click", "h11", "idna", "certifi", "joblib", "threadpoolctl")
MANY = 20  # envs in the parallel / sequential apply
from wsp.watch import DEFAULT_DEBOUNCE_MS as DEBOUNCE_MS  # noqa: E402  (wsp watch's default)

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
    disk: Disk | None = None  # what the envs made take on disk

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float | None:
        cpus = [r.cpu for r in self.runs if r.cpu is not None]
        return statistics.median(cpus) if cpus else None


@dataclass
class Disk:
    """Bytes on disk, `du` style: each inode counted once, however many links it has."""

    envs: int  # the envs-dir
    with_cache: int  # the envs-dir and the package cache together
    apparent: int  # the envs' file sizes added up, every link counted: what copies would take


def du(*roots: Path) -> int:
    """Bytes of disk the files, folders and symlinks under `roots` take, each inode
    counted once (`du -s` semantics: hardlinks into a package cache cost nothing more)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(r) for r in roots if os.path.lexists(r)]
    while stack:
        path = stack.pop()
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):
            with os.scandir(path) as it:
                stack += [e.path for e in it]
    return total


def apparent_size(root: Path) -> int:
    """The sizes of the regular files under `root` added up, each link counted."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for f in filenames:
            st = os.lstat(os.path.join(dirpath, f))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


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


def real_toml(projects: dict[str, tuple[str, ...]]) -> str:
    """A workspace.toml of projects on the realistic channel: this interpreter's python
    (the channel's only one) plus the given packages."""
    lines = [
        "[workspace]",
        'name = "bench-real"',
        'channels = ["conda-forge"]',
        'envs-dir = ".wsp/envs"',
        "",
        "[workspace.mirrors]",
        '"conda-forge" = ["{channel}"]',
        "",
    ]
    for name, deps in projects.items():
        listed = ", ".join(f'"{d}"' for d in deps)
        lines += [
            f"[projects.{name}]",
            f'python = "{realistic.PY}"',
            f"dependencies = [{listed}]",
            "",
        ]
    return "\n".join(lines)


# The seed envs' roles, on real packages: 6, 3 and 2 packages (pandas brings
# python-dateutil and tzdata).
REAL_FINANCE = ("pandas", "numpy", "scipy")
REAL_SEED = real_toml({"finance": REAL_FINANCE, "vision": ("numpy", "scipy"), "webdev": ("numpy",)})
SHARED = 10  # envs of the same packages, for the disk figures
IMPORT = "import numpy, pandas; print(numpy.__version__)"


def pinned_export(n: int) -> str:
    """`conda env export` of an env of `n` packages, each pinned `name=version=build`, sorted
    as conda prints them: a few real conda-forge pins, the rest generated."""
    real = [
        ("_libgcc_mutex", "0.1", "conda_forge"),
        ("_openmp_mutex", "4.5", "2_gnu"),
        ("bzip2", "1.0.8", "hd590300_5"),
        ("ca-certificates", "2024.2.2", "hbcca054_0"),
        ("ld_impl_linux-64", "2.40", "h41732ed_0"),
        ("libblas", "3.9.0", "21_linux64_openblas"),
        ("libffi", "3.4.2", "h7f98852_5"),
        ("libgcc-ng", "13.2.0", "h807b86a_5"),
        ("libopenblas", "0.3.26", "pthreads_h413a1c8_0"),
        ("libzlib", "1.2.13", "hd590300_5"),
        ("ncurses", "6.4", "h59595ed_2"),
        ("numpy", "1.26.4", "py311h64a7726_0"),
        ("openssl", "3.2.1", "hd590300_1"),
        ("pandas", "2.2.1", "py311h320fe9a_0"),
        ("pip", "24.0", "pyhd8ed1ab_0"),
        ("python", "3.11.8", "hab00c5b_0_cpython"),
        ("python_abi", "3.11", "4_cp311"),
        ("readline", "8.2", "h8228510_1"),
        ("scipy", "1.12.0", "py311h64a7726_2"),
        ("tk", "8.6.13", "noxft_h4845f30_101"),
        ("tzdata", "2024a", "h0c530f3_0"),
        ("xz", "5.2.6", "h166bdaf_0"),
    ]
    import hashlib

    pins = real[:n]
    for i in range(n - len(pins)):
        digest = hashlib.sha1(str(i).encode()).hexdigest()[:7]
        pins.append((f"lib-generated-{i:03d}", f"{i % 7}.{i % 13}.{i % 5}", f"h{digest}_{i % 3}"))
    lines = ["name: big-export", "channels:", "  - conda-forge", "  - defaults", "dependencies:"]
    lines += [f"  - {name}={version}={build}" for name, version, build in sorted(pins)]
    lines.append("prefix: /home/user/miniforge3/envs/big-export")
    return "\n".join(lines) + "\n"


def conda_specs(toml: str) -> dict[str, list[str]]:
    """What `conda create` is given for each project of a workspace.toml (plain
    projects only: python plus dependencies, as the seed and generated ones are)."""
    projects = tomllib.loads(toml)["projects"]
    return {
        name: [f"python={p['python']}", *p.get("dependencies", [])] for name, p in projects.items()
    }


def timed(argv: list[str], cwd: Path, env: dict[str, str], expect: str | None = None) -> Run:
    """Run `argv` in `cwd`; its wall and CPU time. Fails loudly on a bad exit, or when
    `expect` is given and its stdout is not that."""
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
    if expect is not None and proc.stdout.strip() != expect:
        sys.exit(
            f"`{' '.join(argv)}` in {cwd} printed {proc.stdout.strip()[-2000:]!r}, "
            f"not {expect!r}:\n{proc.stderr[-2000:]}"
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
        self.last_root = tmp
        self.real_ws: tuple[Path, Path, Path] | None = None  # workspace, cache, HOME
        self.real_conda_root: Path | None = None

    def env(self, cache: Path, home: Path | None = None) -> dict[str, str]:
        env = wsp_env(home or self.home, cache)
        env.pop("COLUMNS", None)
        return env

    def fresh_dir(self, label: str) -> Path:
        self._n += 1
        path = self.tmp / f"{self._n:02d}-{label}"
        path.mkdir()
        return path

    def wsp(
        self, cwd: Path, *args: str, cache: Path | None = None, home: Path | None = None
    ) -> Run:
        """Run `wsp ARGS` in `cwd`; its wall and CPU time."""
        env = self.env(cache or self.warm_cache, home)
        return timed([sys.executable, "-m", "wsp", *args], cwd, env)

    def write_workspace(self, root: Path, toml: str, channel: Path | None = None) -> None:
        channel = channel or self.channel
        (root / "workspace.toml").write_text(toml.replace("{channel}", channel.as_uri()))

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
        edits = self.edited_plans(sizes[-1], roots[sizes[-1]], runs)
        for root in roots.values():
            shutil.rmtree(root, ignore_errors=True)
        return [*plans.values(), *edits], setups

    def edited_plans(self, n: int, root: Path, runs: int) -> list[Figure]:
        """Plans of the biggest generated workspace after an edit (benchmarks/bench_load.py):
        one project's table (loaded and merged again, nothing solved), one dependency (one
        solve), and with no desired-env cache at all (the cold load)."""
        print(f"... plans after an edit, {n} envs", file=sys.stderr, flush=True)
        tmp = self.fresh_dir(f"load-{n}")
        rows = bench_load.measure(
            tmp, self.channel, n, runs, root=root, env=self.env(self.warm_cache, None)
        )
        (root / "workspace.toml").write_text(bench_load.generated_toml(n, self.channel))
        names = {
            "table": f"plan after one project's table is edited, {n} envs",
            "dependency": f"plan after one dependency is changed (one solve), {n} envs",
            "cold": f"plan with no desired-env cache (cold load), {n} envs",
            "load: one table edited": f"load step alone (CPU), one table edited, {n} projects",
        }
        return [Figure(name, [Run(w, c) for w, c in rows[key]], n) for key, name in names.items()]

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

    def apply_fresh(
        self,
        toml: str,
        cache: Path,
        *args: str,
        keep: bool = False,
        channel: Path | None = None,
        home: Path | None = None,
    ) -> Run:
        """`wsp apply --yes ARGS` of `toml` in a new workspace (so a new envs-dir);
        `self.last_root` is that workspace (removed unless `keep`)."""
        root = self.last_root = self.fresh_dir("apply")
        self.write_workspace(root, toml, channel)
        elapsed = self.wsp(root, "apply", "--yes", *args, cache=cache, home=home)
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
            if not k.startswith(("WSP_", "PYTEST_", "COV_"))
            and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
        }
        home = self.tmp / "home-conda"
        home.mkdir(exist_ok=True)
        env.update(HOME=str(home), CONDA_PKGS_DIRS=str(pkgs), NO_COLOR="1")
        return env

    def conda_create(
        self, toml: str, pkgs: Path, keep: bool = False, channel: Path | None = None
    ) -> Run:
        """`conda create` of every project of `toml`, one after the other, into a new dir;
        `self.last_root` is that dir, its envs in `envs/` (removed unless `keep`)."""
        assert self.conda is not None
        root = self.last_root = self.fresh_dir("conda")
        env = self.conda_env(pkgs)
        total = Run(0.0, 0.0)
        channel = channel or self.channel
        for name, specs in conda_specs(toml).items():
            argv = [self.conda, "create", "-y", "-q", "-p", str(root / "envs" / name), "--offline",
                    "--override-channels", "-c", channel.as_uri(), *specs]  # fmt: skip
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

    # -- realistic packages: real numpy, pandas, scipy (benchmarks/realistic.py) ----------

    def fresh_home(self) -> Path:
        """A private HOME, new for each run (so a new ~/.conda/environments.txt)."""
        self._n += 1
        return self.tmp / f"home-{self._n:02d}"

    def disk(self, envs: Path, cache: Path) -> Disk:
        return Disk(du(envs), du(envs, cache), apparent_size(envs))

    def real_seed(self, fmt: str, channel: Path, runs: int) -> list[Figure]:
        """The three real-package envs (REAL_SEED) into a new workspace, with an empty and
        with a filled package cache, a private HOME each run; conda's beside each."""
        cold = Figure(f"real {fmt}: apply 3 envs, cold package cache", [], 3)
        warm = Figure(f"real {fmt}: apply 3 envs, warm package cache", [], 3)
        warm_cache = self.tmp / f"cache-real{fmt}-warm"
        self.apply_fresh(REAL_SEED, warm_cache, channel=channel, home=self.fresh_home())
        for i in range(runs):
            cache = self.tmp / f"cache-real{fmt}-cold-{i}"
            cold.runs.append(
                self.apply_fresh(REAL_SEED, cache, channel=channel, home=self.fresh_home())
            )
            shutil.rmtree(cache, ignore_errors=True)
            home = self.fresh_home()
            warm.runs.append(
                self.apply_fresh(REAL_SEED, warm_cache, channel=channel, home=home, keep=True)
            )
            warm.disk = self.disk(self.last_root / ".wsp" / "envs", warm_cache)
            if fmt == ".conda" and i == runs - 1:  # kept for `wsp run`
                self.real_ws = (self.last_root, warm_cache, home)
            else:
                shutil.rmtree(self.last_root, ignore_errors=True)
        conda_cold = Figure(f"conda create x3 ({fmt}), cold package cache", [], 3, versus=cold)
        conda_warm = Figure(f"conda create x3 ({fmt}), warm package cache", [], 3, versus=warm)
        if self.conda is None:
            return [cold, _missing(conda_cold), warm, _missing(conda_warm)]
        warm_pkgs = self.tmp / f"conda-pkgs-real{fmt}-warm"
        self.conda_create(REAL_SEED, warm_pkgs, channel=channel)  # fill the warm cache once
        for i in range(runs):
            pkgs = self.tmp / f"conda-pkgs-real{fmt}-cold-{i}"
            conda_cold.runs.append(self.conda_create(REAL_SEED, pkgs, channel=channel))
            shutil.rmtree(pkgs, ignore_errors=True)
            conda_warm.runs.append(
                self.conda_create(REAL_SEED, warm_pkgs, channel=channel, keep=True)
            )
            conda_warm.disk = self.disk(self.last_root / "envs", warm_pkgs)
            if fmt == ".conda" and i == runs - 1:  # kept for `conda run`
                self.real_conda_root = self.last_root
            else:
                shutil.rmtree(self.last_root, ignore_errors=True)
        return [cold, conda_cold, warm, conda_warm]

    def real_shared(self, channel: Path, runs: int) -> list[Figure]:
        """One env, then SHARED envs, of the same real packages (python, pandas, numpy,
        scipy) from a warm package cache: wall time and disk; conda's beside. Then, in
        the SHARED envs: a no-op plan, a plan with every env changed (so every env's
        conda-meta records are read and every env solved) and that change applied."""
        cache = self.tmp / "cache-real.conda-warm"  # filled by real_seed
        tomls = {
            n: real_toml({f"team{i:02d}": REAL_FINANCE for i in range(n)}) for n in (1, SHARED)
        }
        wsp = {
            n: Figure(f"real .conda: apply {n} finance env{'s' * (n > 1)}, warm cache", [], n)
            for n in tomls
        }
        for i in range(runs):
            for n, toml in tomls.items():
                home = self.fresh_home()
                wsp[n].runs.append(
                    self.apply_fresh(toml, cache, channel=channel, home=home, keep=True)
                )
                wsp[n].disk = self.disk(self.last_root / ".wsp" / "envs", cache)
                if n != SHARED or i != runs - 1:
                    shutil.rmtree(self.last_root, ignore_errors=True)
        root = self.last_root  # the last SHARED envs, kept
        noop = Figure(f"real .conda: no-op plan, {SHARED} finance envs", [], SHARED)
        changed = Figure(f"real .conda: plan, {SHARED} envs each +1 package", [], SHARED)
        update = Figure(f"real .conda: apply, {SHARED} envs each +1/-1 package", [], SHARED)
        manifest = root / "workspace.toml"
        plain = manifest.read_text()
        more = plain.replace('"scipy"]', '"scipy", "six"]')
        self.wsp(root, "plan", "--detailed-exitcode", cache=cache, home=home)  # all in sync
        for _ in range(runs):
            noop.runs.append(self.wsp(root, "plan", cache=cache, home=home))
        manifest.write_text(more)
        self.wsp(root, "plan", cache=cache, home=home)  # untimed: the desired-env cache
        for _ in range(runs):
            changed.runs.append(self.wsp(root, "plan", cache=cache, home=home))
        for i in range(runs):
            manifest.write_text(more if i % 2 == 0 else plain)
            update.runs.append(self.wsp(root, "apply", "--yes", cache=cache, home=home))
        shutil.rmtree(root, ignore_errors=True)
        ours = [wsp[1], wsp[SHARED]]
        conda = {
            n: Figure(f"conda create x{n} (.conda), warm package cache", [], n, versus=wsp[n])
            for n in tomls
        }
        if self.conda is None:
            conda = {n: _missing(f) for n, f in conda.items()}
        else:
            pkgs = self.tmp / "conda-pkgs-real.conda-warm"  # filled by real_seed
            for _ in range(runs):
                for n, toml in tomls.items():
                    conda[n].runs.append(self.conda_create(toml, pkgs, channel=channel, keep=True))
                    conda[n].disk = self.disk(self.last_root / "envs", pkgs)
                    shutil.rmtree(self.last_root, ignore_errors=True)
        return [ours[0], conda[1], ours[1], conda[SHARED], noop, changed, update]

    def real_import(self, runs: int) -> list[Figure]:
        """`wsp run finance -- python -c ...` in the kept real-package workspace: the
        interpreter alone, then importing numpy and pandas (checked: it prints numpy's
        version, or the benchmark stops)."""
        assert self.real_ws is not None, "real_seed keeps a workspace first"
        root, cache, home = self.real_ws
        version = realistic.WHEELS["numpy"]
        bare = Figure("real: wsp run finance -- python -c pass", [])
        imp = Figure("real: wsp run finance -- import numpy, pandas", [])

        def run(code: str, expect: str) -> Run:
            argv = [sys.executable, "-m", "wsp", "run", "finance", "--", "python", "-c", code]
            return timed(argv, root, self.env(cache, home), expect=expect)

        run(IMPORT, version)  # warm-up: the OS file cache, pure-Python modules' first .pyc
        for _ in range(runs):
            bare.runs.append(run("pass", ""))
            imp.runs.append(run(IMPORT, version))
        conda = Figure("conda run -p ENV -- import numpy, pandas", [], versus=imp)
        if self.conda is None:
            return [bare, imp, _missing(conda)]
        assert self.real_conda_root is not None
        prefix = self.real_conda_root / "envs" / "finance"
        argv = [self.conda, "run", "-p", str(prefix), "python", "-c", IMPORT]
        env = self.conda_env(self.tmp / "conda-pkgs-real.conda-warm")
        timed(argv, self.tmp, env, expect=version)  # warm-up
        conda.runs += [timed(argv, self.tmp, env, expect=version) for _ in range(runs)]
        return [bare, imp, conda]

    def init_export(self, runs: int, lines: int = 300) -> Figure:
        """`wsp init` in a folder holding a pinned `conda env export` of `lines` packages."""
        figure = Figure(f"wsp init, {lines}-pin environment.yml", [])
        text = pinned_export(lines)
        for _ in range(runs):
            root = self.fresh_dir("init")
            (root / "environment.yml").write_text(text)
            figure.runs.append(self.wsp(root, "init"))
            if not (root / "workspace.toml").exists():
                sys.exit(f"`wsp init` in {root} wrote no workspace.toml")
            shutil.rmtree(root, ignore_errors=True)
        return figure

    def realistic(self, runs: int, cache: Path | None) -> list[Figure]:
        """Every row on the realistic channels, or one row saying why there are none."""
        why = realistic.unsupported()
        if why is not None:
            return [Figure("real-package rows", [], note=why), self.init_export(runs)]
        channels = realistic.realistic_channels(cache)
        figures: list[Figure] = []
        for fmt, channel in channels.items():
            print(f"... real packages, {fmt}: 3 envs, cold and warm", file=sys.stderr, flush=True)
            figures += self.real_seed(fmt, channel, runs)
        print(f"... real packages: 1 and {SHARED} envs", file=sys.stderr, flush=True)
        figures += self.real_shared(channels[".conda"], runs)
        print("... real packages: wsp run, import numpy and pandas", file=sys.stderr, flush=True)
        figures += self.real_import(max(runs, 5))
        figures.append(self.init_export(max(runs, 5)))
        return figures

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


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 10e6 else f"{size / 1e6:,.1f} MB"


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
    parser.add_argument(
        "--no-realistic", action="store_true", help="skip the rows on real numpy, pandas, scipy"
    )
    parser.add_argument(
        "--realistic-cache",
        type=Path,
        help=f"where the real-package channels are built (default {realistic.default_cache()})",
    )
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
        real: list[Figure] = []
        if not args.no_realistic:
            # the heavy rows (cold installs of ~250 MB) take at most 3 runs
            real = bench.realistic(min(runs, 3), args.realistic_cache)
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
    table.add_column("du envs", justify="right")
    table.add_column("du +cache", justify="right")
    table.add_column("if copied", justify="right")
    for f in figures + real:
        if f is (real[0] if real else None):
            table.add_section()
        if f.note is not None:
            table.add_row(f.name, "", f.note, *[""] * 8)
            continue
        disk = [_mb(f.disk.envs), _mb(f.disk.with_cache), _mb(f.disk.apparent)] if f.disk else []
        table.add_row(
            f.name,
            str(len(f.runs)),
            _ms(f.median),
            _ms(min(r.wall for r in f.runs)),
            _ms(f.cpu) if f.cpu is not None else "",
            f"{f.median / f.envs * 1000:,.1f} ms" if f.envs else "",
            f"{f.marginal * 1000:,.2f} ms" if f.marginal is not None else "",
            f"{f.median / f.versus.median:.1f}×" if f.versus is not None else "",
            *(disk or [""] * 3),
        )
    # wide enough for the table at its natural width, whatever the terminal
    Console(width=260).print(table)


if __name__ == "__main__":
    main()
    # py-rattler (used here to index the channel) can crash at interpreter shutdown
    # (shared/RATTLER.md): leave without the interpreter's teardown, as wsp itself does.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
