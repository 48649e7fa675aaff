"""WSP3xx: conda first; pip only for what conda does not have, and pinned when asked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wsp.policy import Issue, q, rule

if TYPE_CHECKING:
    from wsp.policy.facts import Facts

# PyPI names whose conda-forge package has another name.
_CONDA_NAMES = {
    "torch": "pytorch",
    "opencv-python": "opencv",
    "opencv-python-headless": "opencv",
    "opencv-contrib-python": "opencv",
    "tables": "pytables",
    "msgpack": "msgpack-python",
}

_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


@dataclass(frozen=True)
class Requirement:
    text: str
    name: str  # PEP 503 normalized
    specifier: str
    url: bool

    @property
    def pinned(self) -> bool:
        """An exact version (`==1.2.3`, `===1.2.3`) or a direct reference (`name @ URL`)."""
        if self.url:
            return True
        parts = [p.strip() for p in self.specifier.split(",") if p.strip()]
        return any(
            (p.startswith("===") or (p.startswith("==") and "*" not in p)) for p in parts
        ) and all(p.startswith(("==", "!=")) for p in parts)


def parse(text: str) -> Requirement | None:
    """A PEP 508 requirement's name and version part; None for what is not one (e.g. `-e .`)."""
    m = _NAME.match(text)
    if m is None:
        return None
    rest = text[m.end() :].split(";", 1)[0].strip()
    if rest.startswith("["):
        rest = rest[rest.find("]") + 1 :].strip() if "]" in rest else ""
    url = rest.startswith("@")
    specifier = rest.strip("() ")
    name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
    return Requirement(text, name, specifier, url)


def conda_name(pypi_name: str) -> str:
    return _CONDA_NAMES.get(pypi_name, pypi_name)


@rule(
    "WSP301",
    "warn",
    "prefer conda for what the channels have",
    "A package pip installs over conda's can replace files conda owns and is invisible to "
    "the solver, which then can't keep its dependencies consistent. Checked against the "
    "project's channels; skipped when a channel can't be reached.",
)
def available_on_conda(facts: Facts) -> Iterator[Issue]:
    from wsp.errors import ChannelUnreachable

    cache: dict[tuple[object, ...], set[str]] = {}
    for name, want in facts.ctx.desired.items():
        reqs = [r for r in (parse(t) for t in want.pip) if r is not None]
        if not reqs:
            continue
        names = {conda_name(r.name) for r in reqs}
        key = (want.channels, want.platform, tuple(sorted(names)))
        if key not in cache:
            cache[key] = set()
            for channel in want.channels:  # one at a time: an unreachable one skips only itself
                try:
                    cache[key] |= facts.engine.available_names([channel], want.platform, names)
                except ChannelUnreachable as exc:
                    facts.note(
                        f"WSP301 not checked against channel {exc.channel} for project {name}: "
                        "it could not be reached"
                    )
        for req in reqs:
            if conda_name(req.name) in cache[key]:
                cname = conda_name(req.name)
                yield Issue(
                    f"pip requirement {q(req.text)} is available as conda package {q(cname)} "
                    "on the project's channels",
                    f"move it from pip to dependencies (e.g. {q(cname)})",
                    project=name,
                )


@rule(
    "WSP302",
    "error",
    "pip requirements pinned (when policy.pip.pinned = true)",
    "conda packages are solved and locked together; pip requirements are not, so an "
    "unpinned one gives a different env on every machine. Only checked when "
    "[policy.pip] pinned = true.",
)
def unpinned(facts: Facts) -> Iterator[Issue]:
    if not facts.ws.policy.pip.pinned:
        return
    for name, want in facts.ctx.desired.items():
        for text in want.pip:
            req = parse(text)
            if req is not None and not req.pinned:
                yield Issue(
                    f"pip requirement {q(text)} is not pinned to one version "
                    "(policy.pip.pinned = true)",
                    f'pin it, e.g. "{req.name}==<version>"',
                    project=name,
                )


@rule(
    "WSP303",
    "warn",
    "nothing declared is left out unsaid",
    "An environment file can say more than wsp carries out (an unknown key, prefix:, a pip "
    "option such as --trusted-host or -c, ${VAR} in a pip line, an editable install from a "
    "VCS): each is reported where it is written, never dropped silently.",
)
def not_honoured(facts: Facts) -> Iterator[Issue]:
    for name, proj in facts.ws.projects.items():
        if proj.env_file is not None:
            for warning in proj.env_file.warnings:
                yield Issue(
                    str(warning),
                    "what wsp honours in an environment file: docs/workspace-toml.md, "
                    "Environment files",
                    project=name,
                )
