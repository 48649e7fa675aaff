"""WSP4xx: conda-forge, strict channel priority, and only the channels the workspace allows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from wsp.channels import short_name
from wsp.policy import Issue, q, rule

if TYPE_CHECKING:
    from wsp.policy.facts import Facts

# Anaconda's channels: `defaults` and what it expands to.
_DEFAULTS = {"defaults", "main", "r", "msys2", "free", "pro", "anaconda"}


def is_defaults(channel: str) -> bool:
    c = short_name(channel)
    return c in _DEFAULTS or "repo.anaconda.com/pkgs/" in c or "repo.continuum.io/pkgs/" in c


def is_conda_forge(channel: str) -> bool:
    c = short_name(channel)
    return c == "conda-forge" or c.endswith("/conda-forge")


def _mix(names: list[str]) -> list[str]:
    """The defaults channels in `names` when conda-forge is there too."""
    defaults = [c for c in names if is_defaults(c)]
    return defaults if defaults and any(is_conda_forge(c) for c in names) else []


@rule(
    "WSP401",
    "error",
    "defaults not mixed with conda-forge",
    "Anaconda's defaults and conda-forge build against different versions of the same "
    "libraries: an env mixing both solves but can fail at import time with ABI errors.",
)
def defaults_mixed(facts: Facts) -> Iterator[Issue]:
    ws = facts.ws
    if defaults := _mix(list(ws.channels)):
        yield Issue(
            f"[workspace] channels mix {', '.join(defaults)} with conda-forge "
            f"({', '.join(ws.channels)})",
            f"remove {', '.join(defaults)} and take the packages from conda-forge",
            scope="workspace",
        )
        return
    for name, want in facts.ctx.desired.items():
        names = [c.name for c in want.channels]
        if defaults := _mix(names):
            yield Issue(
                f"channels mix {', '.join(defaults)} with conda-forge ({', '.join(names)})",
                f"remove {', '.join(defaults)} and take the packages from conda-forge",
                project=name,
            )


@rule(
    "WSP402",
    "warn",
    "strict channel priority",
    "With flexible or disabled priority a package may come from a lower channel just "
    "because its version number is higher, mixing builds the top channel never tested "
    "together; strict priority also solves faster.",
)
def priority(facts: Facts) -> Iterator[Issue]:
    ws = facts.ws
    if ws.channel_priority != "strict":
        line, col = ws.positions.find(("workspace", "channel-priority"), value=True)
        yield Issue(
            f'channel-priority is "{ws.channel_priority}" '
            f"(workspace.toml:{line}:{col}), not strict",
            'set channel-priority = "strict" under [workspace]',
            scope="workspace",
        )


@rule(
    "WSP403",
    "error",
    "only allowed channels (when policy.channels.allowed is set)",
    "An allow-list keeps every env on channels the team trusts (licence, provenance, "
    "mirrors). Only checked when [policy.channels] allowed is set.",
)
def not_allowed(facts: Facts) -> Iterator[Issue]:
    allowed = facts.ws.policy.channels.allowed
    if allowed is None:
        return
    ok = {short_name(c) for c in allowed}
    for name, want in facts.ctx.desired.items():
        for channel in want.channels:
            if short_name(channel.name) not in ok:
                yield Issue(
                    f"channel {q(channel.name)} is not in policy.channels.allowed "
                    f"({', '.join(allowed) or 'empty'})",
                    f"take the packages from an allowed channel, or add {q(channel.name)} "
                    "to policy.channels.allowed",
                    project=name,
                )
