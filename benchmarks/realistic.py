"""A realistic conda channel for the benchmarks: real numpy, pandas and scipy.

    python benchmarks/realistic.py              # build it (or find it built), print where
    python benchmarks/realistic.py --rebuild    # build it again
    python benchmarks/realistic.py --cache DIR  # somewhere else than ~/.cache/wsp-bench/realistic

The wheels of numpy, pandas and scipy (manylinux x86_64, for the running CPython) and of
the small pure-Python packages around pandas (python-dateutil, tzdata, pytz, six) are
downloaded once with `pip download --only-binary=:all: --no-deps` (about 65 MB, from the
package registry pip is configured with), then repacked as conda packages the way
conda-build lays out a pip install, in both formats, `.conda` and `.tar.bz2`, one channel
each, indexed with `rattler.index.index_fs`:

- numpy, pandas, scipy are arch packages (linux-64), not `noarch: python`: their files
  under `lib/pythonX.Y/site-packages/`, native libraries included (the wheel's
  `numpy.libs/`, `scipy.libs/`: found through the extensions' RPATH), the `.pyc` of every
  module compiled for this interpreter (conda-forge's arch packages ship them), console
  scripts as `bin/` files whose shebang is a prefix placeholder; they depend on
  `python >=X.Y,<X.Y+1.0a0`, on `__glibc >=2.NN` (the wheel's manylinux tag) and on what
  the wheel's `Requires-Dist` asks for this interpreter and platform;
- the pure-Python wheels become `noarch: python` packages (`site-packages/...`), their
  `python` dependency from `Requires-Python`;
- `python` is tests/support/channel.py's `interpreter_python()`: this interpreter laid out
  as `python -m venv --copies` (bin/python and pyvenv.cfg; the standard library stays the
  host's), so `import numpy` really runs in an env made from the channel.

Every archive has an honest `info/paths.json` (sha256 and size of each file), `info/files`,
`info/index.json` and `info/about.json`. A `.conda` is a stored zip of `metadata.json`,
`pkg-<stem>.tar.zst` and `info-<stem>.tar.zst` (zstd level 19, as conda-build writes
them); a `.tar.bz2` is one bzip2 tarball (level 9), `info/` first.

The channels are reused while the wheels, this interpreter and RECIPE are the same
(a `.wsp-bench.json` stamp in each); benchmarks/run.py calls `realistic_channels`.
"""

from __future__ import annotations

import argparse
import compileall
import email.parser
import hashlib
import io
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.channel import current_platform, index, interpreter_python  # noqa: E402

#: Bump when the repacking changes: channels built by an older recipe are rebuilt.
RECIPE = 1
#: The wheels, pinned so that figures stay comparable from run to run.
WHEELS = {
    "numpy": "2.4.6",
    "pandas": "3.1.1",
    "scipy": "1.17.1",
    "python-dateutil": "4.0.0",
    "tzdata": "2026.6",
    "pytz": "2026.6",
    "six": "1.17.0",
}
FORMATS = (".conda", ".tar.bz2")
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
PY_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
SITE = f"lib/python{PY}/site-packages"
#: Written where a file needs the env's prefix (console scripts' shebangs); the installer
#: puts the real prefix in. Long, like conda-build's, so binary prefixes would fit too.
PLACEHOLDER = (
    "/opt/wsp-bench/_h_env_placehold_placehold_placehold_placehold_placehold_placehold_placehold"
)
#: Every file's mtime in the archives, so the shipped .pyc match their sources once installed.
MTIME = 1_700_000_000
ZSTD_LEVEL = 19
BZ2_LEVEL = 9


def default_cache() -> Path:
    """`$XDG_CACHE_HOME/wsp-bench/realistic`, `~/.cache/...` by default."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wsp-bench" / "realistic"


def unsupported() -> str | None:
    """Why the realistic channel can't be built here, or None when it can."""
    if current_platform() != "linux-64":
        return (
            f"realistic channel needs linux-64 (manylinux x86_64 wheels), not {current_platform()}"
        )
    if sys.implementation.name != "cpython":
        return "realistic channel needs CPython (its .pyc and wheels are CPython's)"
    try:
        import packaging  # noqa: F401
        import zstandard  # noqa: F401
    except ImportError as e:
        return f"realistic channel needs {e.name}: pip install -e '.[bench]'"
    return None


@dataclass
class Staged:
    """A package laid out on disk as it will be installed, before archiving."""

    name: str
    version: str
    build: str
    depends: list[str]
    root: Path  # the files, relative paths as in the env (noarch: `site-packages/...`)
    noarch: bool = False
    license: str = ""
    summary: str = ""
    entry_points: list[str] = field(default_factory=list)  # noarch only: for info/link.json
    placeholders: set[str] = field(default_factory=set)  # files holding PLACEHOLDER

    @property
    def subdir(self) -> str:
        return "noarch" if self.noarch else current_platform()

    @property
    def stem(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"

    def files(self) -> list[str]:
        """Every file, sorted, as a path relative to the package root."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel = Path(dirpath).relative_to(self.root)
            out += [(rel / f).as_posix() for f in filenames]
        return sorted(out)


# -- the wheels ----------------------------------------------------------------------------


def download(dest: Path, log: Callable[[str], None]) -> list[Path]:
    """The pinned wheels in `dest`; pip downloads those not there yet."""
    dest.mkdir(parents=True, exist_ok=True)

    def have(name: str, version: str) -> Path | None:
        stem = f"{name.replace('-', '_')}-{version}-"
        return next((w for w in dest.glob("*.whl") if w.name.lower().startswith(stem)), None)

    missing = [f"{n}=={v}" for n, v in WHEELS.items() if have(n, v) is None]
    if missing:
        log(f"... downloading {len(missing)} wheels into {dest} (about 65 MB in all, once)")
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps",
             "--disable-pip-version-check", "--quiet", "--dest", str(dest), *missing],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            sys.exit(f"pip download {' '.join(missing)} failed:\n{proc.stderr[-2000:]}")
    wheels = []
    for n, v in WHEELS.items():
        wheel = have(n, v)
        if wheel is None:
            sys.exit(f"pip download gave no wheel of {n}=={v} in {dest}")
        wheels.append(wheel)
    return wheels


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    name = next(n for n in wheel.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def _conda_spec(name: str, specifier: str) -> str:
    """A conda match spec for a PEP 440 requirement (its operators mean the same in conda)."""
    name = re.sub(r"[-_.]+", "-", name).lower()
    parts = sorted(str(s) for s in specifier.split(",") if s.strip())
    # conda reads lower bounds first more easily; the meaning is the same in any order
    parts.sort(key=lambda s: (not s.startswith(">"), s))
    return f"{name} {','.join(parts)}" if parts else name


def _requires(meta: email.message.Message) -> list[str]:
    """The conda dependencies of a wheel's Requires-Dist, markers evaluated for this
    interpreter and platform (no extras)."""
    from packaging.requirements import Requirement

    out = []
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        out.append(_conda_spec(req.name, str(req.specifier)))
    return out


def _glibc(wheel: Path) -> str | None:
    """`__glibc >=2.NN` for a manylinux wheel: the oldest glibc any of its tags allows."""
    tags = [(int(a), int(b)) for a, b in re.findall(r"manylinux_(\d+)_(\d+)_", wheel.name)]
    if "manylinux2014" in wheel.name:
        tags.append((2, 17))
    if not tags:
        return None
    major, minor = min(tags)
    return f"__glibc >={major}.{minor}"


def _build(prefix: str, depends: list[str]) -> str:
    digest = hashlib.sha1(json.dumps(sorted(depends)).encode()).hexdigest()[:7]
    return f"{prefix}h{digest}_0"


def _script(module: str, func: str, python: str) -> str:
    """A console script as pip writes it."""
    head = func.split(".", 1)[0]
    return (
        f"#!{python}\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n"
        f"from {module} import {head}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({func}())\n"
    )


def _entry_points(text: str) -> list[tuple[str, str, str]]:
    """(name, module, function) of each console and gui script of entry_points.txt."""
    out, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]").strip()
        elif "=" in line and section in ("console_scripts", "gui_scripts"):
            name, _, target = (p.strip() for p in line.partition("="))
            module, _, func = target.split("[", 1)[0].strip().partition(":")
            out.append((name, module.strip(), func.strip()))
    return out


def stage_wheel(wheel_path: Path, root: Path) -> Staged:
    """Lay a wheel out in `root` as conda-build's `pip install` into the prefix would,
    as an arch package (compiled wheels) or a `noarch: python` one (pure ones)."""
    from packaging.specifiers import SpecifierSet

    pure = wheel_path.name.endswith("-none-any.whl")
    site = "site-packages" if pure else SITE
    python_bin = f"{PLACEHOLDER}/bin/python{PY}"
    placeholders: set[str] = set()
    with zipfile.ZipFile(wheel_path) as whl:
        meta = _metadata(whl)
        name = re.sub(r"[-_.]+", "-", meta["Name"]).lower()
        version = meta["Version"]
        dist_info = ""
        for info in whl.infolist():
            if info.is_dir():
                continue
            path = info.filename
            data = whl.read(info)
            top, _, rest = path.partition("/")
            if top.endswith(".dist-info"):
                dist_info = top
            if top.endswith(".data"):
                kind, _, inner = rest.partition("/")
                if kind in ("purelib", "platlib"):
                    target = f"{site}/{inner}"
                elif kind == "scripts":
                    target = f"{'python-scripts' if pure else 'bin'}/{inner}"
                    if data.startswith((b"#!python", b"#!/usr/bin/env python")):
                        data = b"#!" + python_bin.encode() + data[data.index(b"\n") :]
                        placeholders.add(target)
                elif kind == "headers":
                    target = f"include/python{PY}/{name}/{inner}"
                else:  # data
                    target = inner
            else:
                target = f"{site}/{path}"
            out = root / target
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            executable = (info.external_attr >> 16) & 0o111 or target.startswith("bin/")
            out.chmod(0o755 if executable else 0o644)
        entry_text = (
            whl.read(f"{dist_info}/entry_points.txt").decode()
            if f"{dist_info}/entry_points.txt" in whl.namelist()
            else ""
        )
    # the installer's own files, as pip writes them for conda-build
    info_dir = root / site / dist_info
    (info_dir / "INSTALLER").write_text("conda\n")
    record = info_dir / "RECORD"
    if record.exists():
        line = f"{dist_info}/INSTALLER,sha256=" + _urlsafe_sha256(b"conda\n") + ",6\n"
        record.write_text(record.read_text() + line)
    scripts = _entry_points(entry_text)
    if pure:
        requires_python = meta.get("Requires-Python") or ""
        py_dep = _conda_spec("python", str(SpecifierSet(requires_python)))
        depends = [py_dep, *_requires(meta)]
        entry_points = [f"{n} = {m}:{f}" for n, m, f in scripts]
        return Staged(name, version, _build("py", depends), depends, root, noarch=True,
                      license=_license(meta), summary=meta.get("Summary") or "",
                      entry_points=entry_points)  # fmt: skip
    for n, module, func in scripts:
        (root / "bin").mkdir(exist_ok=True)
        script = root / "bin" / n
        script.write_text(_script(module, func, python_bin))
        script.chmod(0o755)
        placeholders.add(f"bin/{n}")
    major, minor = sys.version_info[:2]
    depends = [f"python >={major}.{minor},<{major}.{minor + 1}.0a0"]
    glibc = _glibc(wheel_path)
    if glibc:
        depends.append(glibc)
    depends += _requires(meta)
    _compile(root / site)
    return Staged(name, version, _build(f"py{major}{minor}", depends), depends, root,
                  license=_license(meta), summary=meta.get("Summary") or "",
                  placeholders=placeholders)  # fmt: skip


def _urlsafe_sha256(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _license(meta: email.message.Message) -> str:
    text = meta.get("License-Expression") or meta.get("License") or ""
    return text.splitlines()[0].strip() if text else ""


def _compile(site: Path) -> None:
    """The .pyc of every module, timestamp-checked against sources whose mtime is MTIME
    (what the archives record), as conda-build ships them for arch packages."""
    for path in _walk(site):
        os.utime(path, (MTIME, MTIME))
    compileall.compile_dir(
        site,
        quiet=2,  # a few test files are Python 2 on purpose: conda-build skips those too
        workers=os.cpu_count() or 1,
        invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
    )


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(root):
        for f in filenames:
            yield Path(dirpath, f)


def stage_python(root: Path) -> Staged:
    """tests/support/channel.py's `interpreter_python()`, laid out in `root`."""
    pkg = interpreter_python()
    for rel, content in (pkg.files or {}).items():
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content.encode() if isinstance(content, str) else content)
        out.chmod(0o755 if rel.startswith("bin/") else 0o644)
    return Staged(pkg.name, pkg.version, pkg.build, list(pkg.depends), root,
                  license="Python-2.0", summary="this interpreter, as a venv (--copies)")  # fmt: skip


# -- the archives --------------------------------------------------------------------------


def _info_files(pkg: Staged, files: list[str]) -> dict[str, bytes]:
    """info/index.json, paths.json, files, about.json (and link.json for noarch: python)."""
    index_json: dict[str, object] = {
        "name": pkg.name,
        "version": pkg.version,
        "build": pkg.build,
        "build_number": 0,
        "depends": pkg.depends,
        "license": pkg.license,
        "subdir": pkg.subdir,
        "timestamp": MTIME * 1000,
    }
    if pkg.noarch:
        index_json["noarch"] = "python"
    else:
        index_json["platform"], index_json["arch"] = "linux", "x86_64"
    entries = []
    for rel in files:
        path = pkg.root / rel
        data = path.read_bytes()
        entry: dict[str, object] = {
            "_path": rel,
            "path_type": "hardlink",
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_in_bytes": len(data),
        }
        if rel in pkg.placeholders:
            entry["file_mode"] = "text"
            entry["prefix_placeholder"] = PLACEHOLDER
        entries.append(entry)
    info = {
        "info/index.json": index_json,
        "info/paths.json": {"paths": entries, "paths_version": 1},
        "info/about.json": {"license": pkg.license, "summary": pkg.summary},
    }
    if pkg.noarch:
        info["info/link.json"] = {
            "noarch": {"type": "python", "entry_points": pkg.entry_points},
            "package_metadata_version": 1,
        }
    out = {k: json.dumps(v, indent=2, sort_keys=True).encode() + b"\n" for k, v in info.items()}
    out["info/files"] = "".join(f"{f}\n" for f in files).encode()
    return out


def _add_info(tf: tarfile.TarFile, info: dict[str, bytes]) -> None:
    for name, data in sorted(info.items()):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = len(data), MTIME, 0o644
        tf.addfile(ti, io.BytesIO(data))


def _add_payload(tf: tarfile.TarFile, pkg: Staged, files: list[str]) -> None:
    for rel in files:
        path = pkg.root / rel
        os.utime(path, (MTIME, MTIME))  # the .pyc record their sources' MTIME already
        ti = tf.gettarinfo(str(path), arcname=rel)
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        with path.open("rb") as f:
            tf.addfile(ti, f)


def write_tar_bz2(pkg: Staged, subdir: Path) -> Path:
    """`<stem>.tar.bz2` in `subdir`: info/ first, then the payload."""
    files = pkg.files()
    info = _info_files(pkg, files)
    out = subdir / f"{pkg.stem}.tar.bz2"
    part = out.with_name(out.name + ".part")
    with tarfile.open(part, "w:bz2", compresslevel=BZ2_LEVEL) as tf:
        _add_info(tf, info)
        _add_payload(tf, pkg, files)
    part.replace(out)
    return out


def write_conda(pkg: Staged, subdir: Path) -> Path:
    """`<stem>.conda` in `subdir`: a stored zip of metadata.json and two .tar.zst."""
    import zstandard

    files = pkg.files()
    info = _info_files(pkg, files)
    out = subdir / f"{pkg.stem}.conda"
    part = out.with_name(out.name + ".part")
    work = subdir / f".{pkg.stem}.work"
    work.mkdir(exist_ok=True)
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    inner = {}
    for kind, add in (
        ("pkg", lambda tf: _add_payload(tf, pkg, files)),
        ("info", lambda tf: _add_info(tf, info)),
    ):
        path = work / f"{kind}-{pkg.stem}.tar.zst"
        with (
            path.open("wb") as raw,
            compressor.stream_writer(raw) as zst,
            tarfile.open(fileobj=zst, mode="w|") as tf,
        ):
            add(tf)
        inner[kind] = path
    with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        zf.write(inner["pkg"], inner["pkg"].name)
        zf.write(inner["info"], inner["info"].name)
    shutil.rmtree(work)
    part.replace(out)
    return out


# -- the channels --------------------------------------------------------------------------


def _stamp(wheels: list[Path]) -> dict[str, object]:
    return {
        "recipe": RECIPE,
        "python": [sys.executable, sys.version],
        "wheels": sorted(w.name for w in wheels),
    }


def realistic_channels(
    cache: Path | None = None,
    *,
    rebuild: bool = False,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
) -> dict[str, Path]:
    """{".conda": channel, ".tar.bz2": channel}: the realistic channels in `cache`, built
    when absent, stale (other wheels, interpreter or RECIPE) or `rebuild` is set."""
    cache = (cache or default_cache()).resolve()
    wheels = download(cache / "wheels", log)
    stamp = _stamp(wheels)
    channels = {fmt: cache / f"channel-{fmt.lstrip('.').replace('.', '-')}" for fmt in FORMATS}
    if not rebuild and all(_fresh(ch, stamp) for ch in channels.values()):
        return channels
    started = time.perf_counter()
    log(f"... repacking {len(wheels)} wheels and python as conda packages into {cache}")
    staging = cache / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    staged = [stage_python(staging / "python")]
    staged += [stage_wheel(w, staging / w.name.split("-", 1)[0]) for w in wheels]
    for fmt, channel in channels.items():
        part = channel.with_name(channel.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        for sub in ("noarch", current_platform()):
            (part / sub).mkdir(parents=True)
        write = write_conda if fmt == ".conda" else write_tar_bz2
        # bz2 is single-threaded (and releases the GIL): two packages at a time;
        # zstd compresses each package on every CPU already
        with ThreadPoolExecutor(1 if fmt == ".conda" else 2) as pool:
            list(pool.map(lambda p, w=write, d=part: w(p, d / p.subdir), staged))
        index(part)
        (part / ".wsp-bench.json").write_text(json.dumps(stamp, indent=2) + "\n")
        shutil.rmtree(channel, ignore_errors=True)
        part.replace(channel)
        log(f"... {fmt} channel: {_size(channel)} in {channel}")
    shutil.rmtree(staging, ignore_errors=True)
    log(f"... realistic channels built in {time.perf_counter() - started:.0f} s")
    return channels


def _fresh(channel: Path, stamp: dict[str, object]) -> bool:
    try:
        return (
            json.loads((channel / ".wsp-bench.json").read_text()) == stamp
            and (channel / current_platform() / "repodata.json").exists()
        )
    except (OSError, ValueError):
        return False


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in _walk(path))
    return f"{total / 1e6:.0f} MB"


def packages(channel: Path) -> list[dict[str, object]]:
    """Every record of the channel's repodata (both subdirs), with its file name."""
    out = []
    for sub in ("noarch", current_platform()):
        repodata = json.loads((channel / sub / "repodata.json").read_text())
        for key in ("packages", "packages.conda"):
            for fn, rec in repodata.get(key, {}).items():
                out.append({**rec, "fn": fn, "subdir": sub})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help=f"default: {default_cache()}")
    parser.add_argument("--rebuild", action="store_true", help="build even when up to date")
    args = parser.parse_args()
    why = unsupported()
    if why:
        sys.exit(why)
    for fmt, channel in realistic_channels(args.cache, rebuild=args.rebuild).items():
        print(f"{fmt}: {channel.as_uri()}")
        for rec in sorted(packages(channel), key=lambda r: str(r["fn"])):
            print(f"  {rec['fn']}  {int(rec['size']) / 1e6:.1f} MB  depends {rec['depends']}")  # type: ignore[call-overload]


if __name__ == "__main__":
    main()
    # py-rattler (used here to index) can crash at interpreter shutdown (shared/RATTLER.md)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
