"""System requirements: the virtual packages (`__cuda`, `__glibc`, ...) a machine must offer.

An env is solved with what its declaration requires on top of its platform's defaults,
never with what the machine running wsp happens to have, so a laptop locks the CUDA
build a GPU server installs. Before an env is built, the host's virtual packages
(detected by the engine, `CONDA_OVERRIDE_*` honoured) are compared with the same
requirements. Pure: nothing here detects, solves or reads a file.

Requirements are kept as `(key, value)` pairs, keys as workspace.toml writes them:
`cuda`, `glibc`, `linux`, `macos`, `archspec`, or a raw virtual package `__name`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

# workspace.toml's names -> the virtual package each stands for
NAMES: dict[str, str] = {
    "cuda": "__cuda",
    "glibc": "__glibc",
    "linux": "__linux",
    "macos": "__osx",
    "archspec": "__archspec",
}
_KEY_OF = {v: k for k, v in NAMES.items()}

# conda's (and rattler's) variables that override what is detected; empty removes it
OVERRIDES: dict[str, str] = {
    "__cuda": "CONDA_OVERRIDE_CUDA",
    "__glibc": "CONDA_OVERRIDE_GLIBC",
    "__linux": "CONDA_OVERRIDE_LINUX",
    "__osx": "CONDA_OVERRIDE_OSX",
    "__win": "CONDA_OVERRIDE_WIN",
    "__archspec": "CONDA_OVERRIDE_ARCHSPEC",
}

# What the engine can detect on a machine: other raw `__name` requirements are solved
# with, but can't be checked against the host.
DETECTABLE = frozenset({"__unix", "__win", "__linux", "__osx", "__glibc", "__cuda", "__archspec"})

# Requirements that mean something on some operating systems only.
_APPLIES = {"glibc": ("linux",), "linux": ("linux",), "macos": ("osx",), "cuda": ("linux", "win")}

_ARCH = {"64": "x86_64", "arm64": "arm64", "aarch64": "aarch64", "ppc64le": "ppc64le"}
_RAW = re.compile(r"^__[a-z0-9][a-z0-9_.-]*$")
_ARCHSPEC = re.compile(r"^[A-Za-z0-9_]+$")

Requirements = tuple[tuple[str, str], ...]


def canonical(key: str) -> str:
    """A requirement's key as wsp keeps it: `__cuda` is `cuda`, `__foo` stays `__foo`."""
    return _KEY_OF.get(key, key)


def package_name(key: str) -> str:
    """The virtual package a requirement key stands for (`cuda` -> `__cuda`)."""
    return NAMES.get(key, key)


def check(key: str, value: str) -> str | None:
    """None when `key = value` is a valid requirement, else what is wrong (one line)."""
    from wsp.specs import check_version

    if key not in NAMES and not _RAW.match(key):
        return "unknown"
    if canonical(key) == "archspec":
        if not _ARCHSPEC.match(value):
            return f'{value!r} is not a microarchitecture name: write e.g. archspec = "x86_64_v3"'
        return None
    if problem := check_version(value):
        example = {"cuda": "12.0", "glibc": "2.28", "linux": "5.10", "macos": "13.0"}
        return (
            f"{value!r} is not a version ({problem}): write e.g. "
            f'{key} = "{example.get(canonical(key), "1.0")}"'
        )
    return None


def merge(*layers: Mapping[str, str] | Requirements) -> Requirements:
    """Layers merged in order, a later layer's value winning; sorted by key."""
    out: dict[str, str] = {}
    for layer in layers:
        items = layer.items() if isinstance(layer, Mapping) else layer
        for key, value in items:
            out[canonical(key)] = value
    return tuple(sorted(out.items()))


def applies(key: str, platform: str) -> bool:
    """Whether requirement `key` means anything on `platform` (glibc on linux only, ...)."""
    os_name = platform.partition("-")[0]
    return key not in _APPLIES or os_name in _APPLIES[key]


def defaults(platform: str) -> Requirements:
    """What every env of `platform` is solved with unless declared otherwise (pixi's
    defaults): the kernel and glibc of a current Linux, macOS 13, the generic CPU."""
    os_name, _, arch = platform.partition("-")
    base: dict[str, str] = {
        "linux": {"__unix": "0", "linux": "4.18", "glibc": "2.28"},
        "osx": {"__unix": "0", "macos": "13.0"},
        "win": {"__win": "0"},
    }.get(os_name, {"__unix": "0"} if os_name in ("freebsd", "emscripten", "wasi") else {})
    if arch in _ARCH:
        base["archspec"] = _ARCH[arch]
    return tuple(sorted(base.items()))


@dataclass(frozen=True, order=True)
class VirtualPackage:
    """A virtual package a solve sees, `__cuda=12.0=0` as wsp.lock writes it."""

    name: str
    version: str
    build: str = "0"

    def __str__(self) -> str:
        return f"{self.name}={self.version}={self.build}"

    @classmethod
    def parse(cls, text: str) -> VirtualPackage:
        name, _, rest = text.partition("=")
        version, _, build = rest.partition("=")
        return cls(name, version or "0", build or "0")


def _virtual(key: str, value: str) -> VirtualPackage:
    if canonical(key) == "archspec":
        return VirtualPackage("__archspec", "1", value)
    return VirtualPackage(package_name(key), value)


@dataclass(frozen=True)
class HostPackage:
    """A virtual package this machine offers (detected, or set by a CONDA_OVERRIDE_*)."""

    name: str
    version: str
    build: str = "0"
    ancestors: tuple[str, ...] = ()  # __archspec: the microarchitectures it can also run

    def __str__(self) -> str:
        if self.name == "__archspec":
            return f"{self.name}={self.build}"
        return f"{self.name}={self.version}"


@dataclass(frozen=True)
class Unmet:
    """One requirement this machine does not meet."""

    key: str  # as workspace.toml writes it: "cuda", "__foo"
    needed: str
    found: str | None  # what the machine has, None when it has none
    default: bool = False  # a default of the platform, not declared
    platform: str = ""

    @property
    def name(self) -> str:
        return package_name(self.key)

    @property
    def override(self) -> str | None:
        """The conda variable that makes this machine pass for one that meets it."""
        var = OVERRIDES.get(self.name)
        return f"{var}={self.needed}" if var else None

    @property
    def message(self) -> str:
        if self.key == "archspec":
            need = f"a {self.needed} CPU (__archspec)"
            have = f"this machine's is {self.found}" if self.found else "none detected here"
        else:
            need = f"{self.name} >={self.needed}"
            have = f"this machine has {self.found}" if self.found else "this machine has none"
            if self.name == "__cuda" and not self.found:
                have += " (no NVIDIA driver found)"
        origin = f"the {self.platform} default" if self.default else f'{self.key} = "{self.needed}"'
        return f"needs {need} ({origin}), {have}"

    @property
    def hint(self) -> str:
        ways = []
        if self.override:
            ways.append(f"set {self.override} to install it anyway")
        if self.default:
            found = self.found or "..."
            ways.append(f'declare system-requirements = {{ {self.key} = "{found}" }}')
        return " or ".join(ways)


def _met(key: str, value: str, host: Mapping[str, HostPackage]) -> tuple[bool, str | None]:
    from wsp.specs import version_at_least

    have = host.get(package_name(key))
    if have is None:
        return False, None
    if canonical(key) == "archspec":
        return value in (have.build, *have.ancestors), have.build
    return version_at_least(have.version, value), have.version


@dataclass(frozen=True)
class Variant:
    """What an env is built for: a platform (subdir) under a name, with the requirements
    its project and the workspace declare for it (merged, not the defaults)."""

    name: str
    platform: str
    requirements: Requirements = ()

    def declared(self) -> dict[str, str]:
        """The requirements that mean something on this variant's platform."""
        return {k: v for k, v in self.requirements if applies(k, self.platform)}

    def virtual_packages(self) -> tuple[VirtualPackage, ...]:
        """What a solve for this variant sees: the platform's defaults, then the declared."""
        merged = merge(defaults(self.platform), self.declared())
        return tuple(sorted(_virtual(k, v) for k, v in merged))

    def unchecked(self) -> tuple[str, ...]:
        """The declared requirements no machine can be checked for (raw virtual packages
        the engine can't detect): solved with, never compared with the host."""
        return tuple(k for k in self.declared() if package_name(k) not in DETECTABLE)

    def unmet(self, host: Iterable[HostPackage]) -> tuple[Unmet, ...]:
        """What of this variant's requirements (defaults included) `host` does not meet.
        A raw requirement the engine can't detect, and the default CPU, are not checked."""
        found = {h.name: h for h in host}
        declared = self.declared()
        out = []
        for key, value in merge(defaults(self.platform), declared):
            is_default = key not in declared
            if package_name(key) not in DETECTABLE or (is_default and key == "archspec"):
                continue
            ok, have = _met(key, value, found)
            if not ok:
                out.append(Unmet(key, value, have, is_default, self.platform))
        return tuple(out)


def choose(
    candidates: Sequence[Variant], host: Iterable[HostPackage]
) -> tuple[Variant, tuple[tuple[str, tuple[Unmet, ...]], ...]]:
    """The first of `candidates` the host can run, and nothing unmet; when none can: the
    first, and what each candidate lacks."""
    host = tuple(host)
    lacking = []
    for variant in candidates:
        unmet = variant.unmet(host)
        if not unmet:
            return variant, ()
        lacking.append((variant.name, unmet))
    return candidates[0], tuple(lacking)


LOCK_TAG = "--"  # separates a variant's name from what a project adds, in wsp.lock


def lock_name(variant: Variant, base: Variant) -> str:
    """The name of `variant`'s platform entry in wsp.lock: its own name when it needs
    what the workspace declares for it (`base`), else that name tagged with what the
    project adds (`linux-64--cuda-11-8`: a lock's platform names are letters, digits
    and `-`); the entry's virtual packages say exactly what machines it serves."""
    mine, theirs = variant.declared(), base.declared()
    extra = [
        re.sub(r"[^A-Za-z0-9]+", "-", f"{k}-{v}").strip("-")
        for k, v in sorted(mine.items())
        if theirs.get(k) != v
    ]
    return LOCK_TAG.join([variant.name, *extra])


def diff_virtual(before: Iterable[str], variant: Variant) -> str:
    """What differs between virtual packages a lock recorded (`__cuda=12.0=0`) and what
    `variant` is solved with now: `__cuda 12.0 -> 11.8, + __foo 1`."""
    old = {v.name: v for v in map(VirtualPackage.parse, before)}
    new = {v.name: v for v in variant.virtual_packages()}

    def shown(v: VirtualPackage) -> str:
        return v.build if v.name == "__archspec" else v.version

    parts = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None and b is not None:
            parts.append(f"+ {name} {shown(b)}")
        elif b is None and a is not None:
            parts.append(f"- {name} {shown(a)}")
        elif a is not None and b is not None and a != b:
            parts.append(f"{name} {shown(a)} -> {shown(b)}")
    return ", ".join(parts)


def describe(requirements: Mapping[str, str]) -> str:
    """`cuda 12.0, glibc 2.28` (or `none`)."""
    return ", ".join(f"{k} {v}" for k, v in sorted(requirements.items())) or "none"


class _Record(Protocol):
    name: str
    version: str
    build: str
    depends: tuple[str, ...]


def cuda_builds(packages: Iterable[_Record]) -> tuple[str, ...]:
    """What of `packages` needs a CUDA driver: builds depending on `__cuda`, and conda-forge's
    `cuda-version` metapackage (`pytorch 2.4.0 cuda120_100 needs __cuda >=12`)."""
    out = []
    for p in sorted(packages, key=lambda p: p.name):
        needs = [d for d in p.depends if d.split(" ", 1)[0].split("=", 1)[0] == "__cuda"]
        if needs:
            out.append(f"{p.name} {p.version} {p.build} needs {needs[0]}")
        elif p.name == "cuda-version":
            out.append(f"cuda-version {p.version}")
    return tuple(out)


def suggest_cuda(builds: Iterable[str]) -> str:
    """A cuda version to declare for `cuda_builds`' findings: cuda-version's major.minor,
    else the lowest `__cuda >=X` they need, else 12.0."""
    from wsp.specs import version_at_least

    found: list[str] = []
    for text in builds:
        if m := re.match(r"^cuda-version (\d+(?:\.\d+)?)", text):
            return m.group(1)
        if m := re.search(r"__cuda\s*>=\s*([0-9][0-9.]*)", text):
            found.append(m.group(1).rstrip("."))
    if not found:
        return "12.0"
    low = found[0]
    for v in found[1:]:
        if not version_at_least(v, low):
            low = v
    return low if "." in low else f"{low}.0"
