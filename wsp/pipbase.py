"""The pip layer's part every plan reads: the index options a declaration carries and the
dist-info listing of an env's site-packages. The rest of the pip layer (wsp.pip: sources,
pins, uv) is imported only where a declaration or a command needs it: its dataclasses cost
the no-op plan ~3 ms to make on Python 3.11."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

VAR_REF = re.compile(r"\$\{")  # uv (as pip) expands ${VAR} in requirements files


@dataclass(frozen=True)
class PipOptions:
    """Where uv finds packages: `[workspace] pip-index-url`, `pip-find-links`, ...; and
    `--pre` of an environment file's pip list."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False  # pre-releases allowed for every requirement (pip's --pre)

    def args(self) -> list[str]:
        """uv's options. A location with `${VAR}` is not used (WSP303 says so): uv would
        send the variable's name, or wsp its value, wherever it points."""
        out: list[str] = []
        if self.no_index:
            out.append("--no-index")
        elif self.index_url and not VAR_REF.search(self.index_url):
            out += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            if not VAR_REF.search(url):
                out += ["--extra-index-url", url]
        for link in self.find_links:
            if not VAR_REF.search(link):
                out += ["--find-links", link]
        if self.pre:
            out += ["--prerelease", "allow"]
        return out

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "index_url": self.index_url,
            "extra_index_urls": list(self.extra_index_urls),
            "find_links": list(self.find_links),
            "no_index": self.no_index,
        }
        if self.pre:  # only when set: the spec hashes of workspaces without it stay
            data["pre"] = True
        return data


def site_packages(prefix: Path) -> Path | None:
    """`<prefix>/lib/pythonX.Y/site-packages`, when the env has a Python."""
    found = _site_packages(prefix)
    return None if found is None else Path(found)


def _site_packages(prefix: Path) -> str | None:
    lib = os.path.join(prefix, "lib")
    try:
        candidates = sorted(n for n in os.listdir(lib) if n.startswith("python3"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    for c in candidates:
        if os.path.isdir(found := os.path.join(lib, c, "site-packages")):
            return found
    return None


def dist_info_names(prefix: Path) -> frozenset[str]:
    """The `*.dist-info` folder names of site-packages: one listing, for the fast path
    (a plain path: a Path per env costs the no-op plan of 1000 envs ~5 ms)."""
    sp = _site_packages(prefix)
    if sp is None:
        return frozenset()
    try:
        with os.scandir(sp) as it:
            return frozenset(e.name for e in it if e.name.endswith(".dist-info"))
    except FileNotFoundError:
        return frozenset()


def source_root(project_path: Path) -> Path:
    """Where a local project's importable code lives: `src/` when it has one."""
    from wsp import probe

    src = project_path / "src"
    return src if probe.is_dir(src) else project_path
