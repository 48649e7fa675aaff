"""Policies: one rule per function, each with a code, a default severity and a reason.

Codes are stable and documented in docs/policies.md: WSP1xx naming, WSP2xx conda's base
env, WSP3xx pip, WSP4xx channels, WSP5xx stale envs, WSP6xx system requirements, WSP7xx
Jupyter kernels. A workspace sets a rule's severity under `[policy.rules]` (`error`,
`warn` or `off`) and a project silences a code with `ignore = ["WSP302"]`. `run_checks`
runs every rule; `gate` is what `wsp apply` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from wsp.errors import WspError

if TYPE_CHECKING:
    from wsp.context import Context
    from wsp.lockfile import LockView
    from wsp.policy.facts import Facts

Severity = Literal["error", "warn"]
Scope = Literal["project", "workspace", "base", "envs-dir"]


def q(text: object) -> str:
    """A name as messages quote it: "env1"."""
    return f'"{text}"'


@dataclass(frozen=True)
class Issue:
    """What a rule found, before the workspace's severity and silencing apply."""

    message: str
    hint: str = ""
    project: str | None = None
    scope: Scope = "project"
    env: str | None = None
    command: str | None = None  # a command the user can run to mend it (wsp never runs it)
    fixable: bool = False


@dataclass(frozen=True)
class Finding:
    """One rule broken by one project (or the workspace, or conda's base)."""

    code: str
    severity: Severity
    project: str | None
    message: str
    hint: str = ""
    fixable: bool = False
    scope: Scope = "project"
    subject: str = ""
    env: str | None = None
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity,
            "project": self.project,
            "message": self.message,
            "fixable": self.fixable,
            "hint": self.hint,
            "scope": self.scope,
        }
        if self.env is not None:
            data["env"] = self.env
        if self.command is not None:
            data["command"] = self.command
        return data

    def line(self) -> str:
        """`WSP102 error env1: ...; fix` on one line."""
        who = self.project or self.subject
        return f"{self.code} {self.severity} {who}: {self.message}; {self.hint}"


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    severity: Severity  # the default
    reason: str  # one line, shown in docs/policies.md
    check: Callable[[Facts], Iterable[Issue]]
    fixable: bool = False  # `wsp check --fix` can mend it
    blocks_apply: bool = True  # an error of this rule stops `wsp apply`
    locked: bool = False  # can't be turned off or ignored
    plan_says_it: bool = False  # the plan reports this itself: plan and apply don't repeat it


_RULES: dict[str, Rule] = {}


def rule(
    code: str,
    severity: Severity,
    title: str,
    reason: str,
    *,
    fixable: bool = False,
    blocks_apply: bool = True,
    locked: bool = False,
    plan_says_it: bool = False,
) -> Callable[[Callable[[Facts], Iterable[Issue]]], Callable[[Facts], Iterable[Issue]]]:
    """Register a rule function under `code`."""

    def register(fn: Callable[[Facts], Iterable[Issue]]) -> Callable[[Facts], Iterable[Issue]]:
        if code in _RULES:
            raise RuntimeError(f"policy code {code} registered twice")
        _RULES[code] = Rule(
            code, title, severity, reason, fn, fixable, blocks_apply, locked, plan_says_it
        )
        return fn

    return register


def all_rules() -> dict[str, Rule]:
    """Every rule, by code, in code order."""
    from wsp.policy import (  # noqa: F401  (they register)
        base,
        channels,
        jupyter,
        naming,
        pip,
        stale,
        system,
    )

    return dict(sorted(_RULES.items()))


@dataclass
class Report:
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    facts: Facts | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.findings], "notes": list(self.notes)}


def _known(code: str, rules: dict[str, Rule]) -> str:
    import difflib

    close = difflib.get_close_matches(code.upper(), list(rules), n=1)  # codes are upper-case
    return f"did you mean {close[0]!r}?" if close else f"known codes: {', '.join(rules)}"


def _severities(ctx: Context, rules: dict[str, Rule]) -> dict[str, str]:
    """Each rule's severity in this workspace: `[policy.rules]` over the default."""
    ws = ctx.ws
    out = {code: r.severity for code, r in rules.items()}
    for code, severity in ws.policy.rules.items():
        where = ("policy", "rules", code)
        if code not in rules:
            raise ws.error(
                where, f"unknown policy code {code!r} in [policy.rules]; {_known(code, rules)}"
            )
        if rules[code].locked and severity != "error":
            raise ws.error(
                where, f"{code} can't be set to {severity!r}: {rules[code].title}", value=True
            )
        out[code] = severity
    return out


def _ignores(ctx: Context, rules: dict[str, Rule]) -> dict[str, set[str]]:
    ws = ctx.ws
    out: dict[str, set[str]] = {}
    for name, proj in ws.projects.items():
        for i, code in enumerate(proj.ignore):
            where = ("projects", name, "ignore", i)
            if code not in rules:
                raise ws.error(
                    where,
                    f"unknown policy code {code!r} in ignore; {_known(code, rules)}",
                    value=True,
                )
            if rules[code].locked:
                raise ws.error(where, f"{code} can't be ignored: {rules[code].title}", value=True)
            out.setdefault(name, set()).add(code)
    return out


def _silence(code: str, project: str | None) -> str:
    if project is not None:
        return f'ignore = ["{code}"] in [projects.{project}]'
    return f'{code} = "off" in [policy.rules]'


def _subject(facts: Facts, issue: Issue) -> str:
    if issue.scope == "project":
        return f"project {issue.project}" if issue.project else "workspace"
    if issue.scope == "base":
        return f"conda base ({facts.conda_root})"
    if issue.scope == "envs-dir":
        return f"envs-dir ({facts.ws.envs_dir})"
    return "workspace"


def run_checks(
    ctx: Context,
    *,
    now: datetime | None = None,
    lock: LockView | Literal["unread"] | None = "unread",
) -> Report:
    """Run every rule that is not off; findings in project order, then the rest. `lock`:
    wsp.lock as the caller already read it, so that it is not read twice."""
    from wsp.policy.facts import Facts

    rules = all_rules()
    severities = _severities(ctx, rules)
    ignores = _ignores(ctx, rules)
    facts = Facts(ctx, now=now, lock=lock)
    findings: list[Finding] = []
    for code, r in rules.items():
        severity = severities[code]
        if severity == "off":
            continue
        for issue in r.check(facts):
            if issue.project is not None and code in ignores.get(issue.project, ()):
                continue
            hint = issue.hint
            if not r.locked:
                # a project's ignore = [...] only in a table workspace.toml still has
                project = issue.project if issue.project in ctx.ws.projects else None
                silence = f"or silence it: {_silence(code, project)}"
                hint = f"{hint} ({silence})" if hint else silence
            findings.append(
                Finding(
                    code=code,
                    severity=severity,  # type: ignore[arg-type]
                    project=issue.project,
                    message=issue.message,
                    hint=hint,
                    fixable=issue.fixable,
                    scope=issue.scope,
                    subject=_subject(facts, issue),
                    env=issue.env,
                    command=issue.command,
                )
            )
    order = {f"project {name}": i for i, name in enumerate(ctx.ws.projects)}
    scopes = ("project", "workspace", "envs-dir", "base")
    findings.sort(
        key=lambda f: (scopes.index(f.scope), order.get(f.subject, len(order)), f.subject)
    )
    return Report(findings=findings, notes=facts.notes, facts=facts)


def blocking(report: Report) -> list[Finding]:
    """The findings that stop `wsp apply`: errors of rules that gate it."""
    rules = all_rules()
    return [f for f in report.errors if rules[f.code].blocks_apply]


def plan_findings(report: Report) -> list[Finding]:
    """What `wsp plan` and `wsp apply` show above the plan: all but what the plan says itself."""
    rules = all_rules()
    return [f for f in report.findings if not rules[f.code].plan_says_it]


def shown(report: Report) -> list[Finding]:
    """What plan and apply show above the plan: all but what the plan says itself and what
    stops apply (that is the error)."""
    stops = blocking(report)
    return [f for f in plan_findings(report) if f not in stops]


def gate_error(report: Report) -> WspError | None:
    """The error that stops `wsp apply` while an error-severity finding stands, else None."""
    stops = blocking(report)
    if not stops:
        return None
    first = stops[0]
    more = f" ({len(stops) - 1} more: run `wsp check`)" if len(stops) > 1 else ""
    return WspError(
        f"policy {first.code} stops apply: {first.project or first.subject}: {first.message}",
        hint=f"{first.hint}; nothing was changed{more}",
    )
