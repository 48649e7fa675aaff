"""WSP5xx: envs nobody uses any more, and envs nobody owns. Reported, never removed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from wsp.policy import Issue, q, rule

if TYPE_CHECKING:
    from wsp.policy.facts import Facts


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@rule(
    "WSP501",
    "warn",
    "owned envs in use",
    "An env nobody used (`wsp run`, `wsp shell`) or applied for policy.stale-days "
    "(default 90) days is likely "
    "abandoned: it takes disk space and clutters `conda env list`. Never blocks apply "
    "(applying is what refreshes it).",
    blocks_apply=False,
)
def stale_owned(facts: Facts) -> Iterator[Issue]:
    days = facts.ws.policy.stale_days
    for env, have in facts.ctx.observed.items():
        if have.ownership != "ours" or have.marker is None:
            continue
        applied = _when(have.marker.applied_at)
        if applied is not None and (facts.now - applied).days < days:
            continue  # applied lately: in use whenever it was last run (one file less to read)
        from wsp.activate import last_used

        used = _when(last_used(have.prefix))
        last = max((t for t in (applied, used) if t is not None), default=None)
        if last is None:
            continue
        age = (facts.now - last).days
        if age < days:
            continue
        project = have.marker.project
        declared = project in facts.ws.projects
        seen = f"last applied {applied.date() if applied else 'never'}, last used " + (
            str(used.date()) if used else "never recorded"
        )
        yield Issue(
            f"env {q(env)} has not been used or applied for {age} days ({seen}; "
            f"policy.stale-days = {days})",
            (
                f"if project {project} is abandoned, remove [projects.{project}] and run "
                "`wsp apply` to prune the env; if not, `wsp apply` or `wsp run` refreshes it"
            )
            if declared
            else "it is no longer declared: `wsp apply` prunes it",
            project=project if declared else None,
            scope="project" if declared else "envs-dir",
            env=env,
        )


@rule(
    "WSP502",
    "warn",
    "no unowned envs in envs-dir",
    "An env in envs-dir that wsp did not create is invisible to workspace.toml: nobody "
    "knows what it is for or whether it can go. wsp reports it and never removes it.",
    blocks_apply=False,
    plan_says_it=True,  # the plan notes every env it leaves alone
)
def unowned(facts: Facts) -> Iterator[Issue]:
    declared = {p.env_name: name for name, p in facts.ws.projects.items()}
    for env, have in facts.ctx.observed.items():
        if have.ownership != "unowned":
            continue
        project = declared.get(env)
        yield Issue(
            f"env {q(env)} in envs-dir was not created by wsp ({have.prefix})",
            "wsp never removes it: if it is abandoned, remove it with "
            f"`conda env remove --prefix {have.prefix}`"
            + (
                f"; if it is project {project}'s env, remove it so `wsp apply` can build it"
                if project
                else ""
            ),
            project=project,
            scope="project" if project else "envs-dir",
            env=env,
            command=f"conda env remove --prefix {have.prefix}",
        )
