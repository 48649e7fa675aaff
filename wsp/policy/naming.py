"""WSP1xx: env names that say what the env is for, and that conda can tell apart."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from wsp.manifest.loader import DEFAULT_NAMING_PATTERN
from wsp.policy import Issue, q, rule

if TYPE_CHECKING:
    from wsp.policy.facts import Facts

# conda's own name for its root env, and the name it had before conda 4.4.
BASE_NAMES = ("base", "root")


def _rename_hint(name: str) -> str:
    return (
        f"rename [projects.{name}] after what it is for (e.g. [projects.finance]), "
        "then `wsp apply` (the old env is pruned)"
    )


@rule(
    "WSP101",
    "error",
    "env names match policy.naming.pattern",
    "One naming scheme makes `conda env list` readable and scripts predictable; "
    "the default is lower-case kebab-case.",
)
def pattern(facts: Facts) -> Iterator[Issue]:
    ws = facts.ws
    source = ws.policy.naming.pattern
    try:
        compiled = re.compile(source)
        # wsp's own pattern is known not to backtrack: the linear engine is for the user's
        matches = (
            (lambda name: compiled.fullmatch(name) is not None)
            if source == DEFAULT_NAMING_PATTERN
            else _bounded(source)
        )
    except (re.error, ValueError) as exc:
        raise ws.error(
            ("policy", "naming", "pattern"),
            f"policy.naming.pattern is not a valid regular expression: {exc}",
            value=True,
        ) from None
    for name, proj in ws.projects.items():
        if not matches(proj.env_name):
            where = "env-prefix + project name" if ws.env_prefix else "project name"
            fits = [s for s in _suggestions(proj.env_name) if matches(s)]
            yield Issue(
                f"env name {q(proj.env_name)} does not match policy.naming.pattern {q(source)}",
                f"change the {where} to match" + (f", e.g. {q(fits[0])}" if fits else ""),
                project=name,
                env=proj.env_name,
            )


def _bounded(source: str) -> Callable[[str], bool]:
    """A full match of `source` in time linear in the name (pydantic-core's Rust regex
    engine: no catastrophic backtracking, whatever the pattern). Look-around and
    back-references, which need backtracking, are refused (ValueError)."""
    from pydantic_core import SchemaError, SchemaValidator, ValidationError, core_schema

    try:
        validator = SchemaValidator(core_schema.str_schema(pattern=f"^(?:{source})$"))
    except SchemaError as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(
            f"it needs backtracking, which wsp does not run (look-around or back-references: "
            f"{detail[-120:]}); write it without them"
        ) from None

    def matches(name: str) -> bool:
        try:
            validator.validate_python(name)
        except ValidationError:
            return False
        return True

    return matches


def _suggestions(name: str) -> list[str]:
    """`name` in the usual schemes (kebab-case, snake_case, one word), for a hint: the
    first the pattern accepts is suggested (none, when it accepts none of them)."""
    words = re.sub(r"^[^a-z]+", "", re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
    words = words or "my-project"
    return [words, words.replace("-", "_"), words.replace("-", "")]


@rule(
    "WSP102",
    "error",
    "no forbidden env names",
    "Names like env1, test or tmp say nothing about what the env is for; a month later "
    "nobody knows whether it can be deleted.",
)
def forbidden(facts: Facts) -> Iterator[Issue]:
    ws = facts.ws
    banned = {n.casefold() for n in ws.policy.naming.forbidden}
    for name, proj in ws.projects.items():
        if proj.env_name.casefold() in BASE_NAMES:
            continue  # WSP104 says it better
        hit = next((n for n in (proj.env_name, name) if n.casefold() in banned), None)
        if hit is not None:
            yield Issue(
                f"env name {q(hit)} is forbidden by policy.naming.forbidden",
                _rename_hint(name),
                project=name,
                env=proj.env_name,
            )


@rule(
    "WSP103",
    "error",
    "env names differ by more than case",
    "macOS and Windows file systems ignore case: two envs whose names differ only in case "
    "are the same folder there, and one overwrites the other.",
)
def case_collision(facts: Facts) -> Iterator[Issue]:
    ws = facts.ws
    by_fold: dict[str, list[str]] = {}
    for name, proj in ws.projects.items():
        by_fold.setdefault(proj.env_name.casefold(), []).append(name)
    declared = {proj.env_name for proj in ws.projects.values()}
    observed_by_fold: dict[str, list[str]] = {}  # one pass: no project x env comparison
    for env in facts.ctx.observed:
        if env not in declared:
            observed_by_fold.setdefault(env.casefold(), []).append(env)
    for name, proj in ws.projects.items():
        fold = proj.env_name.casefold()
        others = [f"{q(ws.projects[o].env_name)} (project {o})" for o in by_fold[fold] if o != name]
        others += [
            f"{q(env)} (an existing env in envs-dir)" for env in observed_by_fold.get(fold, [])
        ]
        if others:
            yield Issue(
                f"env name {q(proj.env_name)} collides with {', '.join(others)} when case is ignored",
                "rename one of them so the names differ by more than case",
                project=name,
                env=proj.env_name,
            )


@rule(
    "WSP104",
    "error",
    "no env named base",
    "`base` (and its old name `root`) is conda's own environment: `conda activate base` "
    "would never reach an env of that name, and wsp never installs into base.",
)
def base_name(facts: Facts) -> Iterator[Issue]:
    for name, proj in facts.ws.projects.items():
        if proj.env_name.casefold() in BASE_NAMES:
            yield Issue(
                f"env name {q(proj.env_name)} is conda's name for its base environment",
                _rename_hint(name),
                project=name,
                env=proj.env_name,
            )
