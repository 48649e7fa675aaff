"""desired + observed (+ solved packages) -> Plan. Pure: it reads nothing and runs nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import sysreq
from wsp.actions import ActionKind
from wsp.engines import Package
from wsp.fsutil import stable_hash
from wsp.graph import DesiredEnv
from wsp.marker import Declared, Marker
from wsp.observe import ObservedEnv

if TYPE_CHECKING:
    from wsp import pip
    from wsp.kernels import KernelChange
    from wsp.pip import PipDist
    from wsp.reasons import Reason

PLAN_FORMAT = "1"


class _Reasons:
    """wsp.reasons, imported with the first reason made: a no-op plan makes none."""

    def __getattr__(self, name: str) -> Any:
        from wsp import reasons

        return getattr(reasons, name)


why = _Reasons()

KINDS: tuple[ActionKind, ...] = tuple(ActionKind)
KERNEL_CHANGES = ("create", "update", "remove", "blocked")  # blocked: it needs the user


@dataclass(frozen=True)
class Resolution:
    """The solve step's answer for one project."""

    packages: tuple[Package, ...] | None = None  # None: not solved (no-op fast path) or unknown
    installed: tuple[Package, ...] | None = None  # records read from the env, when needed
    unreachable: str | None = None  # channel that could not be reached
    unreachable_detail: str = ""  # what failed and why: `URL: cause` (wsp.netfail)
    unreachable_hint: str = ""  # what to do about it
    pip: Mapping[str, str] | None = None  # pip pins {name: version} uv resolved
    pip_installed: Mapping[str, PipDist] | None = None  # what site-packages holds now
    pip_provided: Mapping[str, str] = field(default_factory=dict)  # pins conda already provides
    lock_id: str | None = None  # set when the packages come from wsp.lock
    behind: bool = False  # from a lock older than the declaration (apply --frozen)
    variant: sysreq.Variant | None = None  # the platform variant picked for this machine
    # set when this machine can run none of the env's variants: what each one lacks
    lacking: tuple[tuple[str, tuple[sysreq.Unmet, ...]], ...] = ()
    current: bool = False  # the env already holds what was asked (built from this same lock)
    pip_pins: Mapping[str, pip.Pin] = field(default_factory=dict)  # each pin's file and source
    pip_deferred: str | None = None  # why the pip pins wait for apply (it must build to know)
    notes: tuple[str, ...] = ()  # what the plan can't know yet (pip versions only apply learns)


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
class PipChange:
    """What the pip layer does to the env, exactly: the reconciler carries it out and only
    checks again, right before, that it touches no package conda installed."""

    target: Mapping[str, str]  # wsp's pip pins once the action is done
    install: Mapping[str, str]  # of those, what uv installs (missing or another version)
    uninstall: tuple[str, ...] = ()  # what wsp installed before and no longer wants
    pins: Mapping[str, pip.Pin] = field(default_factory=dict)  # target's files and sources

    def __bool__(self) -> bool:
        return bool(self.install or self.uninstall)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "install": dict(sorted(self.install.items())),
            "uninstall": list(self.uninstall),
        }
        if self.pins:
            from wsp.userconfig import redact

            data["files"] = {
                n: {"url": redact(p.url), "sha256": p.sha256, "source": p.source is not None}
                for n, p in sorted(self.pins.items())
                if n in self.target
            }
        return data


def pip_change(
    target: Mapping[str, str],
    installed: Mapping[str, PipDist],
    before: Mapping[str, str],
    conda_names: Iterable[str],
) -> PipChange:
    """From wsp's pins before (`before`, its marker) to `target`, given what site-packages
    holds (`installed`; empty for a new env) and the env's conda packages, whose Python
    distributions pip never installs over nor uninstalls."""
    from wsp.pip import conda_provided

    by_conda = conda_provided(conda_names)

    def condas(name: str) -> bool:
        return name in by_conda or (name in installed and installed[name].installer == "conda")

    pins = {n: v for n, v in target.items() if not condas(n)}
    return PipChange(
        target=pins,
        install={n: v for n, v in pins.items() if n not in installed or installed[n].version != v},
        uninstall=tuple(
            sorted(n for n in before if n not in pins and n in installed and not condas(n))
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
    unknown_hint: str | None = None  # what to do about it (a channel's mirror, the proxy...)
    spec_hash: str | None = None
    python: str | None = None
    specs: tuple[str, ...] = ()  # the declared conda specs (python included)
    pip: tuple[str, ...] = ()
    pip_diff: PackageDiff | None = None
    pip_change: PipChange | None = None  # what the pip layer does (None: nothing known)
    pip_provided: tuple[str, ...] = ()  # pip dependencies left to the conda package
    editables: tuple[tuple[str, str], ...] = ()
    lock_id: str | None = None  # the packages come from wsp.lock
    declared: Declared | None = None  # the declaration the env's marker will record
    kernel: KernelChange | None = None  # the env's Jupyter kernel, when one changes
    pip_options: pip.PipOptions | None = None  # where uv installs from (None: the env's own)
    variant: sysreq.Variant | None = None  # the platform variant it is (or was) built for
    pip_deferred: str | None = None  # the pip layer is resolved at apply, which builds: why

    @property
    def is_change(self) -> bool:
        return self.kind.is_change or self.kernel_changes

    @property
    def kernel_changes(self) -> bool:
        """Its kernel is written or removed (shown even when the env itself is a no-op)."""
        return self.kernel is not None and self.kernel.action in KERNEL_CHANGES

    @property
    def marker_only(self) -> bool:
        """An update whose packages (conda and pip) already match: only the env's marker
        (and its variables, when they changed) is written."""
        return (
            self.kind is ActionKind.UPDATE
            and self.diff is not None
            and not self.diff
            and not self.pip_diff
            and not self.pip_change
        )

    def to_json(self, *, brief: bool = False) -> dict[str, Any]:
        """The one action schema of plan JSON, saved plans and watch events (`brief`: the
        same keys, without the package lists)."""
        data: dict[str, Any] = {
            "project": self.project,
            "env": self.env,
            "prefix": str(self.prefix),
            "action": str(self.kind),
            "reasons": [r.message for r in self.reasons],
            "reason_codes": [str(r.code) for r in self.reasons],
            "reason_details": [r.to_json() for r in self.reasons],
        }
        if brief:
            return data
        data["packages"] = _merge_json(self.diff, self.pip_diff)
        if self.unknown:
            data["packages_unknown"] = self.unknown
            if self.unknown_hint:
                data["packages_unknown_hint"] = self.unknown_hint
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
        if self.pip_change is not None:
            data["pip_install"] = dict(sorted(self.pip_change.target.items()))
            data["pip_changes"] = self.pip_change.to_json()
        if self.pip_deferred:
            data["pip_deferred"] = self.pip_deferred
        if self.lock_id:
            data["from_lock"] = True
        if self.marker_only:
            data["marker_only"] = True
        if self.pip_provided:
            data["pip_provided_by_conda"] = list(self.pip_provided)
        if self.editables:
            data["editables"] = {name: path for name, path in self.editables}
        if self.kernel is not None:
            data["kernel"] = self.kernel.to_json()
        if self.variant is not None:
            data["variant"] = self.variant.name
            data["platform"] = self.variant.platform
            data["system_requirements"] = self.variant.declared()
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
        """Envs per kind, each env once (an env's other kernels are no-op actions too)."""
        counts = {str(k): 0 for k in KINDS}
        envs = {a.env for a in self.actions if a.kind is not ActionKind.NOOP}
        for a in self.actions:
            if a.kind is ActionKind.NOOP:
                if a.env in envs:
                    continue  # another kernel of an env already counted
                envs.add(a.env)
            counts[str(a.kind)] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return any(a.is_change for a in self.actions)

    @property
    def unknown(self) -> list[Action]:
        return [a for a in self.actions if a.unknown]

    @property
    def blocked(self) -> list[Action]:
        return [a for a in self.actions if a.kind is ActionKind.BLOCKED]

    def only(self, actions: Iterable[Action]) -> Plan:
        """The same plan with only `actions` (a part of it carried out now)."""
        return replace(self, actions=tuple(actions))

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


def needs_solve(want: DesiredEnv, have: ObservedEnv | None, *, frozen: bool = False) -> bool:
    """False only on the no-op fast path: the marker vouches for spec and package set
    (`frozen`: an env built from a wsp.lock older than the declaration counts too)."""
    if have is None:
        return True
    if have.ownership != "ours" or have.marker is None:
        return False  # blocked: nothing will be installed
    m = have.marker
    hashes = (want.spec_hash, behind_hash(want.spec_hash)) if frozen else (want.spec_hash,)
    return bool(have.moved_from or have.relocated_from or have.env_var_drift) or not (
        m.state == "complete" and m.spec_hash in hashes and m.installed_hash == have.installed_hash
    )


def behind_hash(spec_hash: str, pack: str | None = None) -> str:
    """The spec hash an env built from an out-of-date wsp.lock records (apply --frozen, or
    `wsp unpack` of a pack of one: the archive's name kept for the next plan's reason):
    never taken for in sync with the declaration."""
    return f"behind:{spec_hash}" + (f"{PACK_TAG}{pack}" if pack is not None else "")


PACK_TAG = "#pack="


def needs_installed(have: ObservedEnv | None) -> bool:
    """Whether the env's package records must be read (to diff against a solve)."""
    return have is not None and have.ownership == "ours" and not have.half_built


def _major_minor(version: str | None) -> str | None:
    if not version:
        return None
    return ".".join(version.split(".")[:2])


def _python_of(packages: Iterable[Package]) -> str | None:
    return next((p.version for p in packages if p.name == "python"), None)


def _pretty(dist: str) -> str:
    pkg = Package.from_dist(dist)
    return f"{pkg.name} {pkg.version}" if pkg is not None else dist


def _drift(have: ObservedEnv) -> list[Reason]:
    """Packages added or removed, and variables changed, since wsp last completed this env."""
    assert have.marker is not None
    recorded = set(have.marker.packages)
    added = sorted(have.dists - recorded)
    removed = sorted(recorded - have.dists)
    parts = [f"+ {_pretty(d)}" for d in added] + [f"- {_pretty(d)}" for d in removed]
    parts += have.env_var_drift
    return [why.Drift(tuple(parts))] if parts else []


def _spec_reasons(
    want: DesiredEnv, have: ObservedEnv, variant: sysreq.Variant | None
) -> list[Reason]:
    m = have.marker
    if m is None:
        return []
    parts: list[Reason] = []
    if variant is not None and m.built_for(want.platform) != variant.name:
        parts.append(why.VariantChanged(m.variant, variant.name))
    if m.spec_hash == want.spec_hash:
        return parts
    old = m.declared or Declared()
    new = want.declared(variant)
    for before, after, label in (
        (old.dependencies, new.dependencies, "dependencies"),
        (old.pip, new.pip, "pip"),
        (old.editables, new.editables, "editable projects"),
        (old.channels, new.channels, "channels"),
        (old.jupyter, new.jupyter, "jupyter kernel"),
    ):
        if label == "dependencies":
            before = tuple(s for s in before if not s.startswith("python "))
            after = tuple(s for s in after if not s.startswith("python "))
        elif label == "jupyter kernel":
            before, after = _kernel_items(before), _kernel_items(after)
        added = tuple(s for s in after if s not in before)
        dropped = tuple(s for s in before if s not in after)
        if added or dropped:
            parts.append(why.SpecChanged(label, added, dropped))
    if (env := _env_var_changes(old.variables, new.variables)) is not None:
        parts.append(env)
    if old.python != new.python:
        parts.append(why.PythonSpecChanged(old.python, new.python))
    if old.exclude_newer != new.exclude_newer:
        parts.append(why.ExcludeNewerChanged(old.exclude_newer, new.exclude_newer))
    if variant is not None and old.system_requirements != new.system_requirements:
        parts.append(
            why.SystemRequirementsChanged(old.system_requirements, new.system_requirements)
        )
    if m.spec_hash.startswith(behind_hash("")):  # installed from an out-of-date wsp.lock
        _, tag, pack = m.spec_hash.rpartition(PACK_TAG)
        parts.append(why.LockBehind(pack if tag else None))
    if not parts and not have.moved_from:
        parts.append(why.DeclarationChanged())
    return parts


def _kernel_items(jupyter: Sequence[str]) -> tuple[str, ...]:
    """A marker's `jupyter` (name, display name or "") as reason items: `nb`,
    `display-name 'Notebook env'` (the default display name is no item)."""
    name, display = (*jupyter, "", "")[:2]
    return tuple(x for x in (name, f"display-name {display!r}" if display else "") if x)


def _env_var_changes(old: Mapping[str, str], new: Mapping[str, str]) -> Reason | None:
    """Variables added, removed or set to another value, by name (values may be secrets)."""
    added = tuple(n for n in new if n not in old)
    removed = tuple(n for n in old if n not in new)
    changed = tuple(n for n in new if n in old and old[n] != new[n])
    if not (added or removed or changed):
        return None
    return why.SpecChanged("env vars", added + tuple(f"{n} (new value)" for n in changed), removed)


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
        reason = why.Undeclared(have.marker.project)
        actions.append(unless_read_only(prune_action(have, reason), have))
    notes = tuple(
        f"{have.prefix} is not managed by wsp and was left alone: {why_not_ours.get(env_name, 'not owned')}"
        for env_name, have in sorted(observed.items())
        if (have.ownership != "ours" or have.moved_from) and env_name not in declared_envs
    )
    notes += tuple(
        f"{env}: pip packages installed by hand are left alone: "
        + ", ".join(f"{n} {v}" for n, v in sorted(have.marker.pip_unmanaged.items()))
        for env, have in sorted(observed.items())
        if have.ownership == "ours"
        and have.marker is not None
        and env in declared_envs
        and have.marker.pip_unmanaged
    )
    notes += tuple(
        f"{a.env}: {', '.join(a.variant.unchecked())} can't be detected on any machine: "
        "the env is solved with it, and no machine is checked for it"
        for a in actions
        if a.kind.builds and a.variant is not None and a.variant.unchecked()
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
    if have is None or have.read_only is None or not action.is_change:
        return action
    if action.kind is ActionKind.BLOCKED:
        return action
    return Action(
        ActionKind.BLOCKED,
        action.env,
        action.prefix,
        action.project,
        (why.ReadOnly(have.read_only, str(action.kind)),),
    )


def rollback_action(
    have: ObservedEnv,
    previous: Marker,
    installed: Sequence[Package],
    packages: Sequence[Package],
    pip_installed: Mapping[str, PipDist],
    *,
    build: int = 0,
) -> Action:
    """Put an owned env back to its `previous` build (kept as number `build`): its
    packages and wsp's pip pins. What changed in the env outside wsp is named too."""
    now_pins = have.marker.pip if have.marker is not None else {}
    change = pip_change(previous.pip, pip_installed, now_pins, (p.name for p in packages))
    return Action(
        ActionKind.UPDATE,
        have.name,
        have.prefix,
        previous.project,
        (why.Rollback(previous.applied_at, build), *_drift(have)),  # undone too
        diff=diff_packages(installed, packages),
        target=tuple(packages),
        spec_hash=previous.spec_hash,
        python=previous.python,
        pip_diff=diff_packages(pip_packages(now_pins), pip_packages(previous.pip)),
        pip_change=change,
        editables=tuple(previous.editables.items()),
        lock_id=previous.lock_id,
        declared=previous.declared,
        variant=_variant_of(previous),
    )


def _variant_of(marker: Marker) -> sysreq.Variant | None:
    """The variant a marker says its build was for."""
    if marker.variant is None:
        return None
    declared = marker.system_requirements
    from wsp.specs import current_platform

    return sysreq.Variant(marker.variant, current_platform(), tuple(sorted(declared.items())))


def prune_action(have: ObservedEnv, reason: Reason) -> Action:
    """Delete an owned env (the caller checked it is ours)."""
    project = have.marker.project if have.marker is not None else None
    packages = (Package.from_dist(d) for d in sorted(have.dists))
    diff = PackageDiff(remove=tuple(p for p in packages if p is not None))
    return Action(ActionKind.PRUNE, have.name, have.prefix, project, (reason,), diff=diff)


def _plan_project(
    want: DesiredEnv,
    have: ObservedEnv | None,
    res: Resolution | None,
    why_not_ours: Mapping[str, str],
) -> Action:
    res = res or Resolution()
    unknown = (
        f"package versions unknown because channel {res.unreachable} could not be reached"
        + (f" ({res.unreachable_detail})" if res.unreachable_detail else "")
        if res.unreachable
        else None
    )
    variant = res.variant or _built_for(want, have)

    def act(
        kind: ActionKind,
        reasons: list[Reason],
        diff: PackageDiff | None = None,
        pip_diff: PackageDiff | None = None,
    ) -> Action:
        if kind.builds and res.lacking:  # this machine can't run it: nothing is installed
            return Action(
                ActionKind.BLOCKED,
                want.env_name,
                want.prefix,
                want.project,
                (why.HostCannotRun(res.lacking), *reasons),
                spec_hash=want.spec_hash,
                python=want.python,
                specs=want.specs,
                pip=want.pip,
                variant=variant,
            )
        change = None
        if kind is not ActionKind.NOOP and res.pip is not None and res.packages is not None:
            rebuilt = kind.fresh
            installed = {} if rebuilt else dict(res.pip_installed or {})
            before = {} if rebuilt or have is None or have.marker is None else have.marker.pip
            change = pip_change(res.pip, installed, before, (p.name for p in res.packages))
            change = replace(change, pins=res.pip_pins) if res.pip_pins else change
            if rebuilt:
                pip_diff = PackageDiff(add=pip_packages(change.target))
        return Action(
            kind,
            want.env_name,
            want.prefix,
            want.project,
            tuple(reasons),
            diff=diff,
            target=res.packages,
            unknown=unknown if kind is not ActionKind.NOOP else None,
            unknown_hint=res.unreachable_hint or None if kind is not ActionKind.NOOP else None,
            # An env built from a lock older than its declaration must not pass for in sync.
            spec_hash=behind_hash(want.spec_hash) if res.behind else want.spec_hash,
            python=want.python,
            specs=want.specs,
            pip=want.pip,
            pip_diff=pip_diff if pip_diff or kind is not ActionKind.NOOP else None,
            pip_change=change,
            pip_provided=tuple(sorted(res.pip_provided)) if kind is not ActionKind.NOOP else (),
            lock_id=res.lock_id if kind is not ActionKind.NOOP else None,
            editables=want.editables,
            # what a build records in the marker: a no-op builds nothing
            declared=want.declared(variant) if kind is not ActionKind.NOOP else None,
            variant=variant,
            pip_deferred=res.pip_deferred if kind is not ActionKind.NOOP else None,
        )

    all_new = PackageDiff(add=res.packages) if res.packages is not None else None
    if have is None:
        return act(ActionKind.CREATE, [why.Missing()], all_new)
    if have.ownership != "ours":
        return Action(
            ActionKind.BLOCKED,
            want.env_name,
            want.prefix,
            want.project,
            (_not_owned(want, have, why_not_ours),),
        )
    if have.half_built:
        return act(ActionKind.REPLACE, [why.HalfBuilt()], all_new)
    if have.relocated_from:
        return act(ActionKind.REPLACE, [why.EnvMoved(have.relocated_from)], all_new)
    switched = (
        res.variant is not None
        and have.marker is not None
        and res.variant.name != have.marker.built_for(want.platform)
    )
    if res.current or (not needs_solve(want, have) and res.lock_id is None and not switched):
        return act(ActionKind.NOOP, [])

    reasons = _spec_reasons(want, have, res.variant) + _drift(have) + _pip_drift(have, res)
    if have.moved_from:
        reasons.append(why.WorkspaceMoved(have.moved_from))
    installed_mm = _major_minor(have.python_version)
    if res.packages is not None:
        target_mm = _major_minor(_python_of(res.packages))
        python_changed = bool(installed_mm and target_mm and installed_mm != target_mm)
        shown = target_mm
    else:  # versions unknown: judge from the spec alone
        from wsp.specs import python_specs_intersect  # rattler: not on the no-op path

        python_changed = bool(
            installed_mm
            and want.python
            and not python_specs_intersect([want.python, f"{installed_mm}.*"])
        )
        shown = want.python
    if python_changed:
        assert installed_mm is not None
        reasons = [r for r in reasons if not isinstance(r, why.PythonSpecChanged)]
        reasons.insert(0, why.PythonChanged(installed_mm, shown or "none"))
        return act(ActionKind.REPLACE, reasons, all_new)

    diff = diff_packages(res.installed or (), res.packages) if res.packages is not None else None
    pip_diff = (
        diff_packages(pip_packages(_managed_pip(have, res)), pip_packages(res.pip))
        if res.pip is not None
        else None
    )
    pip_changes = bool(pip_diff)
    if pip_changes and not any(
        r.code in (why.ReasonCode.SPEC_CHANGED, why.ReasonCode.DRIFT) for r in reasons
    ):
        reasons.append(why.PipResolved())
    if res.lock_id and not reasons and (diff or pip_changes):
        reasons.append(why.LockDiffers())
    if res.packages is not None and not diff and not reasons:
        reasons.append(why.Refresh())
    if not reasons:
        reasons.append(why.DeclarationChanged())
    return act(ActionKind.UPDATE, reasons, diff, pip_diff)


def _not_owned(want: DesiredEnv, have: ObservedEnv, why_not_ours: Mapping[str, str]) -> Reason:
    """Why a project's env can't be built: its place is taken by something not wsp's."""
    prefix = str(want.prefix)
    if have.ownership == "folder":  # no env at all: never "missing", never built over
        return why.NotAnEnv(want.env_name, want.project, prefix)
    reason = why_not_ours.get(have.name, "it is not owned by this workspace")
    m = have.marker if have.ownership == "foreign" else None  # another wsp workspace's
    return why.NotOwned(
        want.env_name,
        reason,
        want.project,
        prefix,
        frozen=have.frozen,
        owner=m.manifest if m is not None else "",
        owner_project=m.project if m is not None else "",
        private_to=have.private_to or "",
    )


def _built_for(want: DesiredEnv, have: ObservedEnv | None) -> sysreq.Variant | None:
    """The variant an env of this workspace was built for, as its marker records it."""
    if have is None or have.ownership != "ours" or have.marker is None:
        return None
    m = have.marker
    return sysreq.Variant(
        m.built_for(want.platform), want.platform, tuple(sorted(m.system_requirements.items()))
    )


def _managed_pip(have: ObservedEnv, res: Resolution) -> dict[str, str]:
    """What wsp installed that is still there, at the version found now."""
    current = res.pip_installed or {}
    ours = have.marker.pip if have.marker is not None else {}
    return {n: current[n].version for n in ours if n in current}


def _pip_drift(have: ObservedEnv, res: Resolution) -> list[Reason]:
    if res.pip_installed is None or have.marker is None:
        return []
    ours = have.marker.pip
    known = have.marker.pip_unmanaged
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
    return [why.Drift(tuple(parts))] if parts else []
