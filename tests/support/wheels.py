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
