"""Small real wheels, built by the tests into a find-links folder (no index, no network)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(out: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """Write `<name>-<version>-py3-none-any.whl` holding module `<name>` (with __version__)."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    files: dict[str, bytes] = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{dist}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: wsp-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return wheel


SEED_WHEELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("tinylib", "1.0.0", ()),
    ("tinylib", "1.1.0", ()),
    ("tinyapp", "0.5.0", ("tinylib>=1.0",)),
    ("metricskit", "1.0.0", ()),
    ("metricskit", "2.0.0", ()),
    ("requests", "2.31.0", ()),
)


def build_wheelhouse(out: Path) -> Path:
    for name, version, requires in SEED_WHEELS:
        build_wheel(out, name, version, requires)
    return out


# -- local projects (pip's `-e ./dir`, `./dir`) ---------------------------------------------------

# A PEP 517/660 build backend kept in the project's own tree (`backend-path = ["."]`, no
# build requirements: it builds offline). Each hook it runs appends its name to BUILT in the
# project's folder: the proof that code of the repository ran, or did not.
IN_TREE_BACKEND = """\
import base64, hashlib, os, pathlib, tomllib, zipfile

HERE = pathlib.Path(__file__).resolve().parent


def _ran(hook):
    with open(HERE / "BUILT", "a") as fh:
        fh.write(hook + "\\n")
    if os.environ.get("WSP_TEST_BUILD_LOG"):  # also built from a copy (an sdist unpacked)
        with open(os.environ["WSP_TEST_BUILD_LOG"], "a") as fh:
            fh.write(HERE.name + " " + hook + "\\n")


def _metadata():
    project = tomllib.loads((HERE / "pyproject.toml").read_text())["project"]
    version = project.get("version") or (HERE / "VERSION").read_text().strip()
    deps = project.get("dependencies")
    if deps is None:
        deps = [d for d in (HERE / "DEPENDENCIES").read_text().splitlines() if d.strip()]
    lines = ["Metadata-Version: 2.1", "Name: " + project["name"], "Version: " + version]
    lines += ["Requires-Dist: " + d for d in deps]
    return project["name"], version, "\\n".join(lines) + "\\n"


def _wheel(directory, editable):
    name, version, metadata = _metadata()
    dist = name.replace("-", "_") + "-" + version
    files = {}
    if editable:
        files["__editable__." + dist + ".pth"] = (str(HERE / "src") + "\\n").encode()
    else:
        for p in sorted((HERE / "src").rglob("*.py")):
            files[p.relative_to(HERE / "src").as_posix()] = p.read_bytes()
    files[dist + ".dist-info/METADATA"] = metadata.encode()
    files[dist + ".dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: in-tree\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    )
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(path + ",sha256=" + digest + "," + str(len(data)))
    record.append(dist + ".dist-info/RECORD,,")
    files[dist + ".dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    wheel = dist + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def get_requires_for_build_wheel(config_settings=None):
    _ran("get_requires_for_build_wheel")
    return []


def get_requires_for_build_editable(config_settings=None):
    _ran("get_requires_for_build_editable")
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _ran("build_wheel")
    return _wheel(wheel_directory, False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _ran("build_editable")
    return _wheel(wheel_directory, True)
"""


def write_project(
    folder: Path,
    name: str,
    version: str = "1.0.0",
    requires: tuple[str, ...] = (),
    *,
    dynamic: tuple[str, ...] = (),
    optional: dict[str, tuple[str, ...]] | None = None,
) -> Path:
    """A local Python project built by an in-tree backend (IN_TREE_BACKEND), module
    `<name>` in `src/`. Its `[project]` is static, but for the fields named in `dynamic`
    ("version", "dependencies"): those only a build reads (from VERSION, DEPENDENCIES)."""
    module = name.replace("-", "_")
    (folder / "src" / module).mkdir(parents=True, exist_ok=True)
    (folder / "src" / module / "__init__.py").write_text(f'WHERE = "{folder.name}"\n')
    (folder / "wsp_test_backend.py").write_text(IN_TREE_BACKEND)
    lines = [
        "[build-system]",
        "requires = []",
        'build-backend = "wsp_test_backend"',
        'backend-path = ["."]',
        "",
        "[project]",
        f'name = "{name}"',
    ]
    if "version" in dynamic:
        (folder / "VERSION").write_text(version + "\n")
    else:
        lines.append(f'version = "{version}"')
    if "dependencies" in dynamic:
        (folder / "DEPENDENCIES").write_text("".join(f"{r}\n" for r in requires))
    else:
        lines.append("dependencies = [" + ", ".join(f'"{r}"' for r in requires) + "]")
    if dynamic:
        lines.append("dynamic = [" + ", ".join(f'"{d}"' for d in dynamic) + "]")
    if optional:
        lines += ["", "[project.optional-dependencies]"]
        for extra, reqs in optional.items():
            lines.append(f"{extra} = [" + ", ".join(f'"{r}"' for r in reqs) + "]")
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def sdist(project: Path, out: Path) -> Path:
    """`project` (a write_project folder) as an sdist `<name>-<version>.tar.gz` in `out`, with
    a PKG-INFO of metadata version 2.1 (not trusted as static: only a build tells)."""
    import tarfile
    import tomllib

    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    version = meta.get("version") or (project / "VERSION").read_text().strip()
    stem = f"{meta['name']}-{version}"
    (project / "PKG-INFO").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {version}\n"
    )
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / f"{stem}.tar.gz", "w:gz") as tar:
        tar.add(project, arcname=stem)
    return out / f"{stem}.tar.gz"


def built(folder: Path) -> list[str]:
    """The build hooks the project's in-tree backend ran (none: no code of it ran)."""
    try:
        return (folder / "BUILT").read_text().split()
    except FileNotFoundError:
        return []
