"""desired + observed (+ solved packages) -> Plan. Pure: it reads nothing and runs nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wsp.engines import Package
from wsp.fsutil import stable_hash
from wsp.graph import DesiredEnv
from wsp.marker import Marker
from wsp.observe import ObservedEnv
from wsp.pip import PipDist

PLAN_FORMAT = "1"

ActionKind = Literal["create", "update", "replace", "prune", "no-op", "blocked"]
KINDS: tuple[ActionKind, ...] = ("create", "update", "replace", "prune", "no-op", "blocked")
CHANGES: frozenset[str] = frozenset({"create", "update", "replace", "prune", "blocked"})


@dataclass(frozen=True)
class Reason:
    """Why an action is planned: a stable code for machines, a message for people."""

    code: str
    message: str


@dataclass(frozen=True)
class Resolution:
    """The solve step's answer for one project."""

    packages: tuple[Package, ...] | None = None  # None: not solved (no-op fast path) or unknown
    installed: tuple[Package, ...] | None = None  # records read from the env, when needed
    unreachable: str | None = None  # channel that could not be reached
    pip: Mapping[str, str] | None = None  # pip pins {name: version} uv resolved
    pip_installed: Mapping[str, PipDist] | None = None  # what site-packages holds now
    pip_provided: Mapping[str, str] = field(default_factory=dict)  # pins conda already provides
    lock_id: str | None = None  # set when the packages come from wsp.lock
    behind: bool = False  # from a lock older than the declaration (apply --frozen)


@dataclass(frozen=True)
class PackageDiff:
    add: tuple[Package, ...] = ()
    remove: tuple[Package, ...] = ()
    change: tuple[tuple[Package, Package], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.add or self.remove or self.change)

    def to_json(self, source: str = "conda") -> dict[str, Any]:
        def one(p: Package) -> dict[str, Any]:
            entry: dict[str, Any] = {"name": p.name, "version": p.version, "source": source}
            if source == "conda":
                entry["build"] = p.build
            return entry

        changes = []
        for a, b in self.change:
            entry: dict[str, Any] = {"name": a.name, "from": a.version, "to": b.version}
            entry["source"] = source
            if source == "conda":
                entry.update(from_build=a.build, to_build=b.build)
            changes.append(entry)
        return {
            "add": [one(p) for p in self.add],
            "remove": [one(p) for p in self.remove],
            "change": changes,
        }


def pip_packages(pins: Mapping[str, str]) -> tuple[Package, ...]:
    """pip pins as Packages, so one diff serves both layers."""
    return tuple(Package(n, v, "pypi", channel="pypi") for n, v in sorted(pins.items()))


def diff_packages(installed: Iterable[Package], target: Iterable[Package]) -> PackageDiff:
    have = {p.name: p for p in installed}
    want = {p.name: p for p in target}
    return PackageDiff(
        add=tuple(sorted(p for n, p in want.items() if n not in have)),
        remove=tuple(sorted(p for n, p in have.items() if n not in want)),
        change=tuple(
            (have[n], want[n])
            for n in sorted(have.keys() & want.keys())
            if (have[n].version, have[n].build) != (want[n].version, want[n].build)
            or (have[n].sha256 and want[n].sha256 and have[n].sha256 != want[n].sha256)
        ),
    )


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    env: str
    prefix: Path
    project: str | None
    reasons: tuple[Reason, ...] = ()
    diff: PackageDiff | None = None
    target: tuple[Package, ...] | None = None  # the env's whole package set after the action
    unknown: str | None = None  # why package versions are unknown
    spec_hash: str | None = None
    python: str | None = None
    specs: tuple[str, ...] = ()  # the declared conda specs (python included)
    pip: tuple[str, ...] = ()
    pip_diff: PackageDiff | None = None
    pip_target: Mapping[str, str] | None = None  # exact pip pins after the action
    pip_provided: tuple[str, ...] = ()  # pip dependencies left to the conda package
    editables: tuple[tuple[str, str], ...] = ()
    lock_id: str | None = None  # the packages come from wsp.lock

    @property
    def is_change(self) -> bool:
        return self.kind in CHANGES

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "project": self.project,
            "env": self.env,
            "prefix": str(self.prefix),
            "action": self.kind,
            "reasons": [r.message for r in self.reasons],
            "reason_codes": [r.code for r in self.reasons],
            "packages": _merge_json(self.diff, self.pip_diff),
        }
        if self.unknown:
            data["packages_unknown"] = self.unknown
        if self.target is not None:
            data["install"] = [
                {
                    "name": p.name,
                    "version": p.version,
                    "build": p.build,
                    "sha256": p.sha256,
                    "url": p.url,
                }
                for p in self.target
            ]
        if self.spec_hash:
            data["spec_hash"] = self.spec_hash
        if self.specs or self.pip:
            data["specs"] = {"conda": list(self.specs), "pip": list(self.pip)}
        if self.pip_target is not None:
            data["pip_install"] = dict(sorted(self.pip_target.items()))
        if self.lock_id:
            data["from_lock"] = True
        if self.pip_provided:
            data["pip_provided_by_conda"] = list(self.pip_provided)
        if self.editables:
            data["editables"] = {name: path for name, path in self.editables}
        return data


def _merge_json(conda: PackageDiff | None, pip: PackageDiff | None) -> dict[str, Any] | None:
    """One `packages` object: conda entries first, then pip ones (marked `"source": "pip"`)."""
    if conda is None and pip is None:
        return None
    out = conda.to_json() if conda is not None else {"add": [], "remove": [], "change": []}
    if pip is not None:
        for key, entries in pip.to_json("pip").items():
            out[key].extend(entries)
    return out


@dataclass(frozen=True)
class Plan:
    workspace: str
    manifest: str
    actions: tuple[Action, ...]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        return stable_hash(dict(self.inputs))

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for a in self.actions:
            counts[a.kind] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return any(a.is_change for a in self.actions)

    @property
    def unknown(self) -> list[Action]:
        return [a for a in self.actions if a.unknown]

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT,
            "workspace": self.workspace,
            "manifest": self.manifest,
            "fingerprint": self.fingerprint,
            "targets": list(self.targets),
            "actions": [a.to_json() for a in self.actions],
            "summary": self.summary,
            "notes": list(self.notes),
            "inputs": dict(self.inputs),
        }


# -- the planning itself ---------------------------------------------------------------------


def needs_solve(want: DesiredEnv, have: ObservedEnv | None) -> bool:
    """False only on the no-op fast path: the marker vouches for spec and package set."""
    if have is None or have.ownership == "empty":
        return True
    if have.ownership != "ours" or have.marker is None:
        return False  # blocked: nothing will be installed
    m = have.marker
    return bool(have.moved_from or have.relocated_from) or not (
        m.state == "complete"
        and m.spec_hash == want.spec_hash
        and m.installed_hash == have.installed_hash
    )


EnvState = Literal["missing", "not owned", "half-built", "drifted", "out of date", "in sync"]


def env_state(want: DesiredEnv, have: ObservedEnv | None) -> EnvState:
    """What `wsp status` says of an env, from its marker alone (no solve)."""
    if have is None or have.ownership == "empty":
        return "missing"
    if have.ownership != "ours" or have.marker is None:
        return "not owned"
    if have.half_built:
        return "half-built"
    if have.marker.installed_hash != have.installed_hash:
        return "drifted"
    if have.marker.spec_hash != want.spec_hash:
        return "out of date"
    return "in sync"


def needs_installed(have: ObservedEnv | None) -> bool:
    """Whether the env's package records must be read (to diff against a solve)."""
    return have is not None and have.ownership == "ours" and not have.half_built


def _major_minor(version: str | None) -> str | None:
    if not version:
        return None
    return ".".join(version.split(".")[:2])


def _python_of(packages: Iterable[Package]) -> str | None:
    return next((p.version for p in packages if p.name == "python"), None)


def _drift(have: ObservedEnv) -> list[Reason]:
    """Packages added or removed since wsp last completed this env."""
    assert have.marker is not None
    recorded = set(have.marker.packages)
    added = sorted(have.dists - recorded)
    removed = sorted(recorded - have.dists)
    parts = [f"+ {_pretty_dist(d)}" for d in added] + [f"- {_pretty_dist(d)}" for d in removed]
    if not parts:
        return []
    return [Reason("drift", f"changed outside wsp: {', '.join(parts)}")]


def _pretty_dist(dist: str) -> str:
    name, version, _build = ([*dist.rsplit("-", 2), "", ""])[:3]
    return f"{name} {version}".strip()


def _spec_reasons(want: DesiredEnv, have: ObservedEnv) -> list[Reason]:
    m = have.marker
    if m is None or m.spec_hash == want.spec_hash:
        return []
    old = m.extra.get("desired") or {}
    new = want.summary()
    parts = []
    for key, label in (
        ("dependencies", "dependencies"),
        ("pip", "pip"),
        ("editables", "editable projects"),
        ("channels", "channels"),
    ):
        before, after = old.get(key) or [], new.get(key) or []
        if key == "dependencies":
            before = [s for s in before if not s.startswith("python ")]
            after = [s for s in after if not s.startswith("python ")]
        added = [s for s in after if s not in before]
        dropped = [s for s in before if s not in after]
        if added or dropped:
            change = ", ".join([f"+ {s}" for s in added] + [f"- {s}" for s in dropped])
            parts.append(f"{label} changed: {change}")
    if old.get("python") != new.get("python"):
        parts.append(
            f"python changed: {old.get('python') or 'none'} -> {new.get('python') or 'none'}"
        )
    if not parts and not have.moved_from:
        parts.append("declaration changed")
    return [Reason("spec-changed", p) for p in parts]


def plan(
    desired: Mapping[str, DesiredEnv],
    observed: Mapping[str, ObservedEnv],
    resolutions: Mapping[str, Resolution],
    *,
    workspace: str,
    manifest: str,
    source_hash: str,
    targets: Iterable[str] = (),
    why_not_ours: Mapping[str, str] | None = None,
) -> Plan:
    """The actions that make the envs of `desired` real, each with its reasons."""
    targets = tuple(targets)
    why_not_ours = why_not_ours or {}
    actions: list[Action] = []
    declared_envs = {d.env_name for d in desired.values()}
    for name in sorted(desired):
        if targets and name not in targets:
            continue
        want = desired[name]
        have = observed.get(want.env_name)
        actions.append(
            unless_read_only(_plan_project(want, have, resolutions.get(name), why_not_ours), have)
        )
    for env_name in sorted(observed):
        have = observed[env_name]
        if env_name in declared_envs or have.ownership != "ours" or have.marker is None:
            continue
        if have.moved_from:  # adopted only when declared: never pruned on a guess
            continue
        if targets and have.marker.project not in targets and env_name not in targets:
            continue
        reason = f"project {have.marker.project!r} is no longer in workspace.toml"
        actions.append(unless_read_only(prune_action(have, Reason("undeclared", reason)), have))
    notes = tuple(
        f"{have.prefix} is not managed by wsp and was left alone: {why_not_ours.get(env_name, 'not owned')}"
        for env_name, have in sorted(observed.items())
        if (have.ownership not in ("ours", "empty") or have.moved_from)
        and env_name not in declared_envs
    )
    notes += tuple(
        f"{env}: pip packages installed by hand are left alone: "
        + ", ".join(f"{n} {v}" for n, v in sorted(unmanaged.items()))
        for env, have in sorted(observed.items())
        if have.ownership == "ours"
        and have.marker is not None
        and env in declared_envs
        and (unmanaged := have.marker.extra.get("pip_unmanaged") or {})
    )
    planned_envs = {a.env for a in actions}
    inputs = {
        "workspace_file": source_hash,
        "envs": {
            env: (observed[env].fingerprint() if env in observed else "absent")
            for env in sorted(planned_envs)
        },
    }
    return Plan(workspace, manifest, tuple(actions), inputs, targets, notes)


def unless_read_only(action: Action, have: ObservedEnv | None) -> Action:
    """A change to a read-only env is blocked, with the reason: wsp never forces its way in."""
    if have is None or have.read_only is None or action.kind in ("no-op", "blocked"):
        return action
    why = (
        f"env is read-only ({have.read_only}); wsp leaves it alone: "
        f"make it writable to let wsp {action.kind} it"
    )
    return Action("blocked", action.env, action.prefix, action.project, (Reason("read-only", why),))


def rollback_action(
    have: ObservedEnv,
    previous: Marker,
    installed: Sequence[Package],
    packages: Sequence[Package],
) -> Action:
    """Put an owned env back to its `previous` build: its packages and wsp's pip pins."""
    pins = dict(previous.extra.get("pip") or {})
    now_pins = dict(have.marker.extra.get("pip") or {}) if have.marker is not None else {}
    when = previous.applied_at or "at an unknown time"
    return Action(
        "update",
        have.name,
        have.prefix,
        previous.project,
        (Reason("rollback", f"back to its previous build, applied {when}"),),
        diff=diff_packages(installed, packages),
        target=tuple(packages),
        spec_hash=previous.spec_hash,
        python=previous.python,
        pip_diff=diff_packages(pip_packages(now_pins), pip_packages(pins)),
        pip_target=pins,
        lock_id=previous.extra.get("lock_id"),
    )


def prune_action(have: ObservedEnv, reason: Reason) -> Action:
    """Delete an owned env (the caller checked it is ours)."""
    project = have.marker.project if have.marker is not None else None
    diff = PackageDiff(remove=tuple(_dist_packages(have.dists)))
    return Action("prune", have.name, have.prefix, project, (reason,), diff=diff)


def _dist_packages(dists: Iterable[str]) -> list[Package]:
    out = []
    for d in sorted(dists):
        parts = d.rsplit("-", 2)
        if len(parts) == 3:
            out.append(Package(parts[0], parts[1], parts[2]))
    return out


def _plan_project(
    want: DesiredEnv,
    have: ObservedEnv | None,
    res: Resolution | None,
    why_not_ours: Mapping[str, str],
) -> Action:
    res = res or Resolution()
    unknown = (
        f"package versions unknown because channel {res.unreachable} could not be reached"
        if res.unreachable
        else None
    )

    def act(
        kind: ActionKind,
        reasons: list[Reason],
        diff: PackageDiff | None = None,
        pip_diff: PackageDiff | None = None,
    ) -> Action:
        if kind in ("create", "replace") and res.pip is not None:
            pip_diff = PackageDiff(add=pip_packages(res.pip))
        return Action(
            kind,
            want.env_name,
            want.prefix,
            want.project,
            tuple(reasons),
            diff=diff,
            target=res.packages,
            unknown=unknown if kind != "no-op" else None,
            # An env built from a lock older than its declaration must not pass for in sync.
            spec_hash=f"behind:{want.spec_hash}" if res.behind else want.spec_hash,
            python=want.python,
            specs=want.specs,
            pip=want.pip,
            pip_diff=pip_diff if pip_diff or kind != "no-op" else None,
            pip_target=res.pip if kind != "no-op" else None,
            pip_provided=tuple(sorted(res.pip_provided)) if kind != "no-op" else (),
            lock_id=res.lock_id if kind != "no-op" else None,
            editables=want.editables,
        )

    if have is None or have.ownership == "empty":
        diff = PackageDiff(add=res.packages) if res.packages is not None else None
        return act("create", [Reason("missing", "env does not exist")], diff)
    if have.ownership != "ours":
        reason = why_not_ours.get(have.name, "it is not owned by this workspace")
        return Action(
            "blocked",
            want.env_name,
            want.prefix,
            want.project,
            (
                Reason(
                    "not-owned",
                    f"an env named {want.env_name!r} exists but {reason}; wsp leaves it alone",
                ),
            ),
        )
    if have.half_built:
        diff = PackageDiff(add=res.packages) if res.packages is not None else None
        return act(
            "replace",
            [Reason("half-built", "env is half-built: an earlier apply did not finish")],
            diff,
        )
    if have.relocated_from:
        diff = PackageDiff(add=res.packages) if res.packages is not None else None
        return act(
            "replace",
            [
                Reason(
                    "moved", f"env was moved from {have.relocated_from}: conda envs hold their path"
                )
            ],
            diff,
        )
    if not needs_solve(want, have) and res.lock_id is None:
        return act("no-op", [])

    reasons = _spec_reasons(want, have) + _drift(have) + _pip_drift(have, res)
    if have.moved_from:
        reasons.append(Reason("moved", f"workspace moved from {have.moved_from}: marker updated"))
    installed_mm = _major_minor(have.python_version)
    if res.packages is not None:
        target_mm = _major_minor(_python_of(res.packages))
        python_changed = bool(installed_mm and target_mm and installed_mm != target_mm)
        shown = target_mm
    else:  # versions unknown: judge from the spec alone
        from wsp.specs import python_specs_intersect

        python_changed = bool(
            installed_mm
            and want.python
            and not python_specs_intersect([want.python, f"{installed_mm}.*"])
        )
        shown = want.python
    if python_changed:
        reasons = [r for r in reasons if not r.message.startswith("python changed")]
        reasons.insert(0, Reason("python-changed", f"python {installed_mm} -> {shown}"))
        diff = PackageDiff(add=res.packages) if res.packages is not None else None
        return act("replace", reasons, diff)

    diff = diff_packages(res.installed or (), res.packages) if res.packages is not None else None
    pip_diff = (
        diff_packages(pip_packages(_managed_pip(have, res)), pip_packages(res.pip))
        if res.pip is not None
        else None
    )
    pip_changes = bool(pip_diff)
    if pip_changes and not any(r.code in ("spec-changed", "drift") for r in reasons):
        reasons.append(Reason("pip", "pip requirements resolve to other versions"))
    if res.lock_id and not reasons and (diff or pip_changes):
        reasons.append(Reason("lock", "wsp.lock holds other versions"))
    if res.packages is not None and not diff and not reasons:
        reasons.append(Reason("refresh", "marker out of date; packages already match"))
    if not reasons:
        reasons.append(Reason("spec-changed", "declaration changed"))
    return act("update", reasons, diff, pip_diff)


def _wsp_pip(have: ObservedEnv | None) -> dict[str, str]:
    """The pip packages wsp itself installed into the env (from its marker)."""
    if have is None or have.marker is None:
        return {}
    return dict(have.marker.extra.get("pip") or {})


def _managed_pip(have: ObservedEnv | None, res: Resolution) -> dict[str, str]:
    """What wsp installed that is still there, at the version found now."""
    current = res.pip_installed or {}
    return {n: current[n].version for n in _wsp_pip(have) if n in current}


def _pip_drift(have: ObservedEnv, res: Resolution) -> list[Reason]:
    if res.pip_installed is None or have.marker is None:
        return []
    ours = _wsp_pip(have)
    known = dict(have.marker.extra.get("pip_unmanaged") or {})
    parts = []
    for name, dist in sorted(res.pip_installed.items()):
        if dist.installer == "conda" or name in ours:
            continue
        if known.get(name) != dist.version:
            parts.append(f"+ {name} {dist.version} (pip, installed by hand: wsp leaves it)")
    for name, version in sorted(ours.items()):
        if name not in res.pip_installed:
            parts.append(f"- {name} {version} (pip)")
        elif res.pip_installed[name].version != version:
            parts.append(f"~ {name} {version} -> {res.pip_installed[name].version} (pip)")
    return [Reason("drift", f"changed outside wsp: {', '.join(parts)}")] if parts else []
