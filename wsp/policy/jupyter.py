"""WSP7xx: the Jupyter kernels a workspace declares (`jupyter = true`) can start, and none
of its kernels outlives its env."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from wsp.policy import Issue, rule

if TYPE_CHECKING:
    from wsp.policy.facts import Facts


def _issues(facts: Facts, codes: tuple[str, ...], hint: str) -> Iterator[Issue]:
    for f in facts.kernel_findings:
        if f.code in codes:
            yield Issue(f.message, hint, project=f.project, fixable=f.fixable)


@rule(
    "WSP701",
    "warn",
    "a kernel's env has ipykernel",
    "A kernelspec whose env lacks ipykernel is listed by Jupyter but can't start: the "
    "notebook hangs at 'connecting to kernel'. `jupyter = true` adds ipykernel to the "
    "env's dependencies; this fires when the env was changed by hand since.",
)
def kernel_without_ipykernel(facts: Facts) -> Iterator[Issue]:
    yield from _issues(facts, ("no-ipykernel",), "run `wsp apply` to put it back")


@rule(
    "WSP702",
    "warn",
    "no kernel of this workspace outlives its env",
    "A kernelspec that points at an env that is gone, or that no project declares any "
    "more, stays in every JupyterLab's launcher. `wsp apply` and `wsp destroy` remove the "
    "kernels this workspace wrote; this fires when one is left (removed by hand, say).",
    blocks_apply=False,
)
def stale_kernel(facts: Facts) -> Iterator[Issue]:
    yield from _issues(facts, ("stale", "undeclared"), "run `wsp apply` to remove it")


@rule(
    "WSP703",
    "warn",
    "a declared kernel's name is free",
    "Jupyter knows a kernel by its name: a kernel of that name wsp did not write is never "
    "overwritten (the project gets no kernel), and one earlier on JUPYTER_PATH hides it.",
)
def kernel_name_taken(facts: Facts) -> Iterator[Issue]:
    yield from _issues(
        facts,
        ("name-taken", "shadowed"),
        'give the kernel another name: jupyter = { name = "..." }',
    )
