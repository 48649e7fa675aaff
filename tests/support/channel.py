"""Build a real local conda channel of small synthetic packages.

Used by the test suite (once per session, see ``tests/conftest.py``) and by
benchmark scripts.  Packages are genuine ``.tar.bz2`` archives and the channel
is indexed with ``rattler.index.index_fs`` so that ``repodata.json`` carries
real sha256/md5/size fields.

Every rattler coroutine is run via :func:`run_async`, i.e. ``asyncio.run`` in a
worker thread, never on the main thread (py-rattler can otherwise crash the
interpreter at exit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import shutil
import tarfile
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import rattler

__all__ = [
    "CUDA_PACKAGES",
    "DEFAULT_TIMESTAMP",
    "PREFIX_PLACEHOLDER",
    "SEED_PACKAGES",
    "Pkg",
    "add_packages",
    "archive_name",
    "build_channel",
    "current_platform",
    "index",
    "module_name",
    "other_platform",
    "run_async",
]

T = TypeVar("T")

#: Build timestamp (ms since epoch) written into index.json unless overridden.
DEFAULT_TIMESTAMP = 1_700_000_000_000

#: Any payload file containing this string is marked as a text file with a
#: prefix placeholder; the installer replaces it with the real env prefix.
PREFIX_PLACEHOLDER = "/opt/wsp-synthetic-build-placeholder-prefix"

# Import names that differ from the package name.
_MODULE_NAMES = {"python-dateutil": "dateutil", "charset-normalizer": "charset_normalizer"}


@dataclass(frozen=True)
class Pkg:
    """A synthetic conda package.

    ``subdirs=None`` means: ``("noarch",)`` when ``noarch`` is set, otherwise the
    arch subdirs of the channel (the current platform by default).
    ``files=None`` gives a default payload (see :func:`default_files`).
    """

    name: str
    version: str
    build: str = "0"
    depends: tuple[str, ...] = ()
    noarch: Literal["python", "generic"] | None = None
    files: dict[str, str | bytes] | None = None
    subdirs: tuple[str, ...] | None = None
    timestamp: int = DEFAULT_TIMESTAMP
    constrains: tuple[str, ...] = ()
    entry_points: tuple[str, ...] = ()  # noarch: python only, `name = module:function`

    @property
    def filename(self) -> str:
        """The archive file name, ``<name>-<version>-<build>.tar.bz2``."""
        return archive_name(self.name, self.version, self.build)


def archive_name(name: str, version: str, build: str) -> str:
    """Return the ``.tar.bz2`` file name for a package."""
    return f"{name}-{version}-{build}.tar.bz2"


def module_name(name: str) -> str:
    """Return the python import name used for a noarch python package."""
    return _MODULE_NAMES.get(name, name.replace("-", "_"))


def current_platform() -> str:
    """Return the current conda platform, e.g. ``"linux-64"``."""
    subdir_cls = getattr(rattler, "Subdir", None)  # ``Platform`` is deprecated in 0.28
    return str((subdir_cls or rattler.Platform).current())


def other_platform() -> str:
    """Return a real platform subdir different from the current one."""
    return "linux-aarch64" if current_platform() == "osx-arm64" else "osx-arm64"


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine with ``asyncio.run`` in a worker thread and return its result."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def default_files(pkg: Pkg) -> dict[str, str]:
    """Default payload: a module for noarch python, otherwise ``share/<name>/VERSION``."""
    if pkg.noarch == "python":
        mod = module_name(pkg.name)
        return {
            f"site-packages/{mod}/__init__.py": (
                f'"""Synthetic {pkg.name} package."""\n\n__version__ = "{pkg.version}"\n'
            )
        }
    return {f"share/{pkg.name}/VERSION": f"{pkg.name} {pkg.version}\n"}


def _python(version: str) -> Pkg:
    xy = ".".join(version.split(".")[:2])
    return Pkg(
        "python",
        version,
        files={
            "share/python/VERSION": f"python {version}\n",
            f"lib/python{xy}/site-packages/.keep": "",
            "share/python/PREFIX": f"{PREFIX_PLACEHOLDER}\n",
        },
    )


def _noarch_py(name: str, version: str, *depends: str) -> Pkg:
    return Pkg(name, version, "pyhd8ed1ab_0", tuple(depends), noarch="python")


def _arch_py(name: str, version: str, *depends: str) -> Pkg:
    return Pkg(name, version, "py_0", tuple(depends))


PY_ANY = "python >=3.9,<3.13"

SEED_PACKAGES: tuple[Pkg, ...] = (
    # interpreters
    _python("3.9.18"),
    _python("3.11.9"),
    _python("3.12.4"),
    # plain native library
    Pkg("zlib", "1.3.1", "h0_0"),
    # scientific / finance stack
    _arch_py("numpy", "1.26.4", PY_ANY),
    _arch_py("numpy", "2.0.0", "python >=3.10,<3.13"),
    _arch_py("scipy", "1.13.1", PY_ANY, "numpy >=1.23,<2.3"),
    _arch_py(
        "pandas",
        "2.2.2",
        PY_ANY,
        "numpy >=1.26,<3",
        "python-dateutil >=2.8.2",
        "pytz >=2020.1",
        "tzdata >=2022.7",
    ),
    _arch_py(
        "scikit-learn",
        "1.5.0",
        PY_ANY,
        "numpy >=1.19",
        "scipy",
        "joblib >=1.2.0",
        "threadpoolctl >=3.1.0",
    ),
    _noarch_py("joblib", "1.4.2", "python >=3.8"),
    _noarch_py("threadpoolctl", "3.5.0", "python >=3.8"),
    _noarch_py("python-dateutil", "2.9.0", "python >=3.7", "six >=1.5"),
    _noarch_py("six", "1.16.0", "python"),
    _noarch_py("pytz", "2024.1", "python >=3.7"),
    Pkg("tzdata", "2024a", "h0c530f3_0", noarch="generic"),
    # vision stack
    _arch_py("pillow", "10.4.0", PY_ANY, "zlib >=1.3.1,<2.0a0"),
    _arch_py("opencv", "4.10.0", PY_ANY, "numpy >=1.21,<3"),
    _arch_py("pytorch", "2.3.0", PY_ANY, "numpy >=1.22"),
    # web stack
    _noarch_py("fastapi", "0.111.0", "python >=3.8", "pydantic >=2,<3", "starlette >=0.37.2,<0.38"),
    _noarch_py("starlette", "0.37.2", "python >=3.8"),
    _noarch_py("pydantic", "2.7.4", "python >=3.8"),
    _noarch_py("uvicorn", "0.30.1", "python >=3.8", "click >=7.0", "h11 >=0.8"),
    _noarch_py("click", "8.1.7", "python >=3.7"),
    _noarch_py("h11", "0.14.0", "python >=3.7"),
    # http client, two versions
    _noarch_py(
        "requests",
        "2.31.0",
        "python >=3.7",
        "certifi >=2017.4.17",
        "charset-normalizer >=2,<4",
        "idna >=2.5,<4",
        "urllib3 >=1.21.1,<3",
    ),
    _noarch_py(
        "requests",
        "2.32.3",
        "python >=3.8",
        "certifi >=2017.4.17",
        "charset-normalizer >=2,<4",
        "idna >=2.5,<4",
        "urllib3 >=1.21.1,<3",
    ),
    _noarch_py("certifi", "2024.6.2", "python >=3.7"),
    _noarch_py("charset-normalizer", "3.3.2", "python >=3.7"),
    _noarch_py("idna", "3.7", "python >=3.6"),
    _noarch_py("urllib3", "2.2.2", "python >=3.8"),
    # what conda adds to an environment file's env for its pip: list
    _noarch_py("pip", "24.0", "python >=3.8"),
)


def _cuda_version(version: str) -> Pkg:
    """conda-forge's `cuda-version` metapackage: installs nothing, allows only a driver of
    at least its version (a `constrains` on the `__cuda` virtual package)."""
    return Pkg(
        "cuda-version",
        version,
        "h0_3",
        noarch="generic",
        constrains=(f"__cuda >={version}", f"cudatoolkit {version}|{version}.*"),
    )


# What real CUDA packaging looks like, for the GPU tests only (a channel of its own: the
# seed channel every other test shares does not have them). pytorch 2.4.0 comes as a CPU
# build and two CUDA builds, which need a driver (`__cuda`) and a `cuda-version` and have
# higher build numbers, so a solver picks them whenever the machine it solves for has
# CUDA; `pytorch-cuda=11.8` (the pytorch channel's way) pulls cuda-version 11.8.
CUDA_PACKAGES: tuple[Pkg, ...] = (
    _cuda_version("11.8"),
    _cuda_version("12.0"),
    _cuda_version("12.4"),
    Pkg("pytorch-cuda", "11.8", "h0_0", ("cuda-version 11.8.*",), noarch="generic"),
    Pkg("pytorch", "2.4.0", "cpu_py_0", (PY_ANY, "numpy >=1.22")),
    Pkg(
        "pytorch",
        "2.4.0",
        "cuda118_py_100",
        (PY_ANY, "numpy >=1.22", "__cuda >=11.8", "cuda-version >=11.8,<12"),
    ),
    Pkg(
        "pytorch",
        "2.4.0",
        "cuda120_py_101",
        (PY_ANY, "numpy >=1.22", "__cuda >=12", "cuda-version >=12.0,<13"),
    ),
)


def _write_archive(path: Path, pkg: Pkg, subdir: str) -> None:
    files = pkg.files if pkg.files is not None else default_files(pkg)
    idx: dict[str, Any] = {
        "name": pkg.name,
        "version": pkg.version,
        "build": pkg.build,
        "build_number": _build_number(pkg.build),
        "depends": list(pkg.depends),
        "subdir": subdir,
        "timestamp": pkg.timestamp,
    }
    if pkg.noarch:
        idx["noarch"] = pkg.noarch
    if pkg.constrains:
        idx["constrains"] = list(pkg.constrains)
    entries = []
    for p, content in files.items():
        entry: dict[str, Any] = {"_path": p, "path_type": "hardlink"}
        if isinstance(content, str) and PREFIX_PLACEHOLDER in content:
            entry["prefix_placeholder"] = PREFIX_PLACEHOLDER
            entry["file_mode"] = "text"
        entries.append(entry)
    paths = {"paths": entries, "paths_version": 1}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tarfile.open(tmp, "w:bz2") as tf:

        def add(name: str, data: str | bytes) -> None:
            raw = data.encode() if isinstance(data, str) else data
            ti = tarfile.TarInfo(name)
            ti.size = len(raw)
            ti.mtime = 0
            ti.mode = 0o755 if name.startswith("bin/") else 0o644
            tf.addfile(ti, io.BytesIO(raw))

        add("info/index.json", json.dumps(idx, indent=2, sort_keys=True))
        add("info/paths.json", json.dumps(paths, indent=2))
        add("info/files", "".join(f"{p}\n" for p in files))
        if pkg.entry_points:
            link = {"noarch": {"type": "python", "entry_points": list(pkg.entry_points)}}
            add("info/link.json", json.dumps({**link, "package_metadata_version": 1}))
        for p, content in files.items():
            add(p, content)
    tmp.replace(path)


def _build_number(build: str) -> int:
    tail = build.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _arch_subdirs(channel: Path) -> list[str]:
    return sorted(
        d.name
        for d in channel.iterdir()
        if d.is_dir() and d.name not in ("noarch", ".tmp") and (d / "repodata.json").exists()
    )


def _write_packages(channel: Path, packages: Iterable[Pkg], arch_subdirs: Sequence[str]) -> None:
    for pkg in packages:
        if pkg.subdirs is not None:
            targets: Sequence[str] = pkg.subdirs
        elif pkg.noarch:
            targets = ("noarch",)
        else:
            targets = arch_subdirs
        for subdir in targets:
            _write_archive(channel / subdir / pkg.filename, pkg, subdir)


def index(channel: Path) -> None:
    """(Re-)index every subdir of ``channel`` into ``<subdir>/repodata.json``."""
    channel = Path(channel)
    (channel / "noarch").mkdir(parents=True, exist_ok=True)
    run_async(rattler.index.index_fs(channel, write_zst=False, write_shards=False, force=True))
    shutil.rmtree(channel / ".tmp", ignore_errors=True)


def build_channel(
    root: Path,
    packages: Iterable[Pkg] = SEED_PACKAGES,
    subdirs: Sequence[str] | None = None,
) -> Path:
    """Write and index a channel in ``root``; arch packages go to ``subdirs``.

    ``subdirs`` defaults to ``[current_platform()]``.  Returns ``root``.
    """
    root = Path(root)
    arch = list(subdirs) if subdirs is not None else [current_platform()]
    root.mkdir(parents=True, exist_ok=True)
    for subdir in ("noarch", *arch):
        (root / subdir).mkdir(exist_ok=True)
    _write_packages(root, packages, arch)
    index(root)
    return root


def add_packages(channel: Path, packages: Iterable[Pkg]) -> None:
    """Add archives to an existing channel and re-index it.

    Arch packages without explicit ``subdirs`` are published to every arch
    subdir the channel already has (or the current platform if none).
    """
    channel = Path(channel)
    arch = _arch_subdirs(channel) or [current_platform()]
    _write_packages(channel, packages, arch)
    index(channel)


def interpreter_python() -> Pkg:
    """A `python` package that really runs: the interpreter running the tests, laid out
    like `python -m venv --copies` (bin/python plus a pyvenv.cfg whose home is that
    interpreter). Its version is the interpreter's, its build `venv_0`."""
    import sys
    import sysconfig

    exe = Path(sys.executable).resolve()
    binary = exe.read_bytes()
    version = ".".join(str(v) for v in sys.version_info[:3])
    short = f"{sys.version_info[0]}.{sys.version_info[1]}"
    cfg = (
        f"home = {exe.parent}\n"
        "include-system-site-packages = false\n"
        f"version = {version}\n"
        f"executable = {exe}\n"
    )
    files: dict[str, str | bytes] = {
        "bin/python": binary,
        "bin/python3": binary,
        f"bin/python{short}": binary,
        "pyvenv.cfg": cfg,
        f"lib/python{short}/site-packages/.keep": "",
    }
    assert sysconfig.get_config_var("VERSION") == short
    return Pkg("python", version, "venv_0", files=files)


def build_runnable_channel(root: Path) -> Path:
    """The seed channel with the real interpreter as its only python of that minor."""
    import sys

    short = f"{sys.version_info[0]}.{sys.version_info[1]}"
    packages = [
        p for p in SEED_PACKAGES if not (p.name == "python" and p.version.startswith(short + "."))
    ]
    return build_channel(root, [*packages, interpreter_python()])


def main(argv: Sequence[str]) -> str:
    """`python -m tests.support.channel [--gpu] DIR`: the quickstart's channel; with --gpu,
    docs/gpu.md's (the CUDA builds too, and osx-arm64 beside this platform, as the GPU
    tests' `cuda_channel`)."""
    args = list(argv)
    gpu = "--gpu" in args
    args = [a for a in args if a != "--gpu"]
    if len(args) != 1 or args[0].startswith("-"):
        raise SystemExit("usage: python -m tests.support.channel [--gpu] DIR")
    root = Path(args[0]).resolve()
    if gpu:
        where = build_channel(
            root, [*SEED_PACKAGES, *CUDA_PACKAGES], [current_platform(), other_platform()]
        )
    else:
        where = build_channel(root, subdirs=[current_platform()])
    return f"Wrote a local conda channel to {where} ({where.as_uri()})"


if __name__ == "__main__":  # `python -m tests.support.channel [--gpu] DIR`
    import sys

    print(main(sys.argv[1:]))
