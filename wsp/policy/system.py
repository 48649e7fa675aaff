"""WSP6xx: system requirements. What an env's packages need of the machine is declared,
so every machine solves, locks and checks the same thing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from wsp.policy import Issue, q, rule

if TYPE_CHECKING:
    from wsp.policy.facts import Facts


@rule(
    "WSP601",
    "warn",
    "CUDA builds come with a cuda requirement",
    "A package built for CUDA (one depending on __cuda, or conda-forge's cuda-version) runs "
    "only where a CUDA driver is; without system-requirements = { cuda = ... } what a "
    "project gets depends on the machine that solved it, and apply checks no machine for a "
    "driver. Looks at wsp.lock and the built envs (nothing is solved).",
)
def cuda_undeclared(facts: Facts) -> Iterator[Issue]:
    from wsp.sysreq import suggest_cuda

    lock = facts.lock
    for name, want in facts.ctx.desired.items():
        found: list[str] = []
        for variant in want.variants:
            if "cuda" not in variant.declared() and lock is not None:
                found += lock.cuda.get(name, {}).get(variant.name, [])
        have = facts.ctx.observed.get(want.env_name)
        if have is not None and have.ownership == "ours" and have.marker is not None:
            built = want.candidate(have.marker.built_for(want.platform))
            if built is not None and "cuda" not in built.declared():
                found += have.marker.cuda_builds
        found = list(dict.fromkeys(found))
        if not found:
            continue
        shown = "; ".join(found[:3]) + (f"; {len(found) - 3} more" if len(found) > 3 else "")
        yield Issue(
            f"project {q(name)} gets CUDA builds ({shown}) but declares no cuda requirement: "
            "what it gets depends on the machine that solved it, and no machine is checked "
            "for a driver",
            f'declare it: system-requirements = {{ cuda = "{suggest_cuda(found)}" }} in '
            f"[projects.{name}] (or a template it extends), then `wsp lock`",
            project=name,
        )
