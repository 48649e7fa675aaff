"""The pip layer: PEP 508 requirements installed by uv into an env's own interpreter.

uv resolves the requirements to exact pins at plan time (`uv pip compile`), so a plan
names the versions it will install and an unresolvable requirement stops the plan
before anything changes. At apply, exactly those pins are installed with `--no-deps`.
wsp uninstalls only what it installed itself (recorded in the env's marker); Python
packages conda installed are never touched. Local projects a project depends on are
made importable with a `.pth` file pointing at their source (an editable install
that needs no build backend and no network).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wsp.errors import WspError

if TYPE_CHECKING:
    from wsp.engines import Package
    from wsp.graph import DesiredEnv
    from wsp.manifest import Workspace

EDITABLE_PREFIX = "__wsp_editable_"


class PipError(WspError):
    """uv could not resolve or install a requirement."""


@dataclass(frozen=True)
class PipOptions:
    """Where uv finds packages: `[workspace] pip-index-url`, `pip-find-links`, ..."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def args(self) -> list[str]:
        out: list[str] = []
        if self.no_index:
            out.append("--no-index")
        elif self.index_url:
            out += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            out += ["--extra-index-url", url]
        for link in self.find_links:
            out += ["--find-links", link]
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "index_url": self.index_url,
            "extra_index_urls": list(self.extra_index_urls),
            "find_links": list(self.find_links),
            "no_index": self.no_index,
        }


@dataclass(frozen=True)
class PipDist:
    """A Python distribution found in site-packages."""

    name: str
    version: str
    installer: str  # "conda", "uv", "pip", ... ("" when unknown)


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# conda package names whose PyPI project is named otherwise (the rest are the same name).
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "opencv": "opencv-python",
    "py-opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "tensorflow-base": "tensorflow",
    "pyqt": "pyqt5",
    "typing_extensions": "typing-extensions",
}


def conda_provided(conda_names: Iterable[str]) -> set[str]:
    """The PyPI names the env's conda packages stand for: pip never installs over them
    nor uninstalls them."""
    return {canonical(CONDA_TO_PYPI.get(n, n)) for n in conda_names} - {"python"}


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _run_uv(args: Sequence[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CONDA_PREFIX"))}
    env.setdefault("UV_NO_PROGRESS", "1")
    return subprocess.run(
        [_uv(), *args], input=stdin, capture_output=True, text=True, env=env, check=False
    )


def _uv_problem(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    causes = [ln.removeprefix("╰─▶").strip() for ln in lines if "╰─▶" in ln or "cause:" in ln]
    body = causes[-1] if causes else (lines[-1] if lines else "uv failed")
    return body.removeprefix("cause:").strip().removeprefix("error:").strip()


def exclude_newer_args(exclude_newer: str | None) -> list[str]:
    """uv's `--exclude-newer` for a workspace cutoff (uv drops what was uploaded at or
    after the instant it is given: the first instant the cutoff excludes)."""
    if exclude_newer is None:
        return []
    from wsp.specs import exclude_newer_bound, rfc3339_ms

    return ["--exclude-newer", rfc3339_ms(exclude_newer_bound(exclude_newer))]


def compile_pins(
    requirements: Sequence[str],
    python_version: str,
    options: PipOptions,
    *,
    exclude_newer: str | None = None,
) -> dict[str, str]:
    """Resolve `requirements` for `python_version` to exact pins {name: version}, from
    distributions uploaded before `exclude_newer` when it is set."""
    if not requirements:
        return {}
    major_minor = ".".join(python_version.split(".")[:2])
    proc = _run_uv(
        [
            "pip",
            "compile",
            "-",
            "--python-version",
            major_minor,
            "--no-header",
            "--no-annotate",
            "--quiet",
            *options.args(),
            *exclude_newer_args(exclude_newer),
        ],
        stdin="\n".join(requirements) + "\n",
    )
    if proc.returncode != 0:
        raise PipError(_uv_problem(proc.stderr))
    pins: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[canonical(name.split("[", 1)[0].strip())] = version.split(";", 1)[0].strip()
    return pins


def pins_for(
    ws: Workspace, want: DesiredEnv, packages: Iterable[Package]
) -> tuple[dict[str, str], dict[str, str]]:
    """uv's exact pins for the env's pip requirements, for the Python a solve picked:
    (pins pip installs, pins left to the conda package of the same name). Errors are
    located at the project's `pip` key."""
    if not want.pip:
        return {}, {}
    packages = list(packages)
    python = next((p.version for p in packages if p.name == "python"), None)
    if python is None:
        raise ws.error(
            ("projects", want.project, "pip"),
            f"env {want.env_name!r} has pip requirements but its solve has no python",
        )
    try:
        pins = compile_pins(want.pip, python, want.pip_options, exclude_newer=want.exclude_newer)
    except PipError as exc:
        raise ws.error(
            ("projects", want.project, "pip"),
            f"pip requirements of env {want.env_name!r} can't be resolved: {exc.message}",
        ) from None
    by_conda = conda_provided(p.name for p in packages)
    return (
        {n: v for n, v in pins.items() if n not in by_conda},
        {n: v for n, v in pins.items() if n in by_conda},
    )


def site_packages(prefix: Path) -> Path | None:
    """`<prefix>/lib/pythonX.Y/site-packages`, when the env has a Python."""
    lib = prefix / "lib"
    try:
        candidates = sorted(p for p in lib.iterdir() if p.name.startswith("python3"))
    except FileNotFoundError:
        return None
    for c in candidates:
        if (c / "site-packages").is_dir():
            return c / "site-packages"
    return None


def dist_info_names(prefix: Path) -> frozenset[str]:
    """The `*.dist-info` folder names of site-packages: one listing, for the fast path."""
    sp = site_packages(prefix)
    if sp is None:
        return frozenset()
    try:
        with os.scandir(sp) as it:
            return frozenset(e.name for e in it if e.name.endswith(".dist-info"))
    except FileNotFoundError:
        return frozenset()


def installed(prefix: Path) -> dict[str, PipDist]:
    """Every distribution in site-packages, with who installed it."""
    sp = site_packages(prefix)
    out: dict[str, PipDist] = {}
    if sp is None:
        return out
    for name in dist_info_names(prefix):
        stem = name[: -len(".dist-info")]
        dist, _, version = stem.partition("-")
        try:
            installer = (sp / name / "INSTALLER").read_text().strip()
        except OSError:
            installer = ""
        out[canonical(dist)] = PipDist(canonical(dist), version, installer)
    return out


def _python(prefix: Path) -> Path:
    return prefix / "bin" / "python"


def install(prefix: Path, pins: Mapping[str, str], options: PipOptions, env: str) -> None:
    """Install exactly `pins` (no dependency resolution: the plan resolved them)."""
    if not pins:
        return
    python = _python(prefix)
    if not python.exists():
        raise PipError(
            f"env {env} has no Python at {python}: declare python for its pip requirements"
        )
    proc = _run_uv(
        [
            "pip",
            "install",
            "--python",
            str(python),
            "--no-deps",
            *options.args(),
            *(f"{n}=={v}" for n, v in sorted(pins.items())),
        ]
    )
    if proc.returncode != 0:
        raise PipError(
            f"pip requirements for env {env} could not be installed: {_uv_problem(proc.stderr)}"
        )


def uninstall(prefix: Path, names: Iterable[str], env: str) -> None:
    names = sorted(names)
    if not names:
        return
    proc = _run_uv(["pip", "uninstall", "--python", str(_python(prefix)), *names])
    if proc.returncode != 0:
        raise PipError(
            f"uninstalling {', '.join(names)} from env {env} failed: {_uv_problem(proc.stderr)}"
        )


def source_root(project_path: Path) -> Path:
    """Where a local project's importable code lives: `src/` when it has one."""
    from wsp import probe

    src = project_path / "src"
    return src if probe.is_dir(src) else project_path


def sync_editables(prefix: Path, editables: Mapping[str, str]) -> None:
    """Make site-packages hold exactly one `.pth` per editable project."""
    sp = site_packages(prefix)
    if sp is None:
        if editables:
            raise PipError(f"{prefix} has no site-packages for editable projects: declare python")
        return
    from wsp.fsutil import atomic_write_text

    wanted = {f"{EDITABLE_PREFIX}{canonical(name)}.pth": path for name, path in editables.items()}
    for entry in sp.glob(f"{EDITABLE_PREFIX}*.pth"):
        if entry.name not in wanted:
            entry.unlink()
    for filename, path in wanted.items():
        atomic_write_text(sp / filename, f"{path}\n")


# -- the distribution files of exact pins, for `wsp pack` ----------------------------------

# conda platform -> what uv's --python-platform calls it (wheels for that machine).
UV_PLATFORMS = {
    "linux-64": "x86_64-manylinux_2_17",
    "linux-aarch64": "aarch64-manylinux_2_17",
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
    "win-64": "x86_64-pc-windows-msvc",
    "win-arm64": "aarch64-pc-windows-msvc",
}


@dataclass(frozen=True)
class DistFile:
    """One file uv would install a pin from: a wheel, else the sdist."""

    name: str
    version: str
    url: str
    sha256: str | None
    wheel: bool

    @property
    def filename(self) -> str:
        from urllib.parse import unquote

        return unquote(self.url.rsplit("/", 1)[-1].split("#", 1)[0])


def dist_files(
    pins: Mapping[str, str],
    python_version: str,
    options: PipOptions,
    *,
    platform: str | None = None,
    exclude_newer: str | None = None,
) -> list[DistFile]:
    """The file each of `pins` installs from, on `platform` (this machine when None), as
    uv picks it (`uv pip compile --no-deps --format pylock.toml`): the wheel for that
    platform and Python, else the sdist. Raises PipError when uv can't find one."""
    import tempfile
    import tomllib

    if not pins:
        return []
    major_minor = ".".join(python_version.split(".")[:2])
    target = []
    if platform is not None:
        if platform not in UV_PLATFORMS:
            raise PipError(
                f"uv can't pick wheels for {platform}: it knows {', '.join(UV_PLATFORMS)}"
            )
        target = ["--python-platform", UV_PLATFORMS[platform]]
    with tempfile.TemporaryDirectory(prefix="wsp-pylock-") as tmp:
        out = Path(tmp) / "pylock.toml"
        proc = _run_uv(
            [
                "pip",
                "compile",
                "-",
                "--no-deps",
                "--python-version",
                major_minor,
                *target,
                "--format",
                "pylock.toml",
                "--no-header",
                "--quiet",
                "-o",
                str(out),
                *options.args(),
                *exclude_newer_args(exclude_newer),
            ],
            stdin="".join(f"{n}=={v}\n" for n, v in sorted(pins.items())),
        )
        if proc.returncode != 0:
            raise PipError(_uv_problem(proc.stderr))
        lock = tomllib.loads(out.read_text())
    files = []
    for entry in lock.get("packages", []):
        wheels = entry.get("wheels") or []
        chosen, wheel = (wheels[0], True) if wheels else (entry.get("sdist"), False)
        if not chosen or "url" not in chosen:
            raise PipError(f"{entry.get('name')} {entry.get('version')}: uv names no file to fetch")
        files.append(
            DistFile(
                canonical(entry["name"]),
                str(entry.get("version", "")),
                chosen["url"],
                (chosen.get("hashes") or {}).get("sha256"),
                wheel,
            )
        )
    return files
