"""Carry a Plan out: prunes first, then envs in graph order, independent ones in parallel.

A new or replaced env is built under a hidden staging name beside its place, with its
`building` marker from the first moment, and swapped in once whole (one atomic
rename); an update changes the env in place after fetching every package, bracketed by
its marker: `building` before the first byte changes, `complete` after the last, so an
interrupted env is seen as half-built and rebuilt. Envs are deleted by renaming them
into a trash folder inside envs-dir first (one atomic step), then removing the trash. Nothing here touches an env that is not owned by this workspace:
ownership is checked again right before each change.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from wsp import channels, conda, condameta, sysreq
from wsp.actions import ActionKind
from wsp.context import Context, sources
from wsp.engines import Engine, Package, Progress
from wsp.errors import ChannelUnreachable, WspError
from wsp.fsutil import atomic_write_bytes, exchange, remove_leftover_temporaries, remove_tree
from wsp.graph import DesiredEnv
from wsp.identity import STAGING, TRASH, Owner
from wsp.marker import Declared, Marker, marker_path, now, read_marker, write_marker
from wsp.modes import fix_modes
from wsp.observe import ObservedEnv, leftovers, observe_env
from wsp.planner import Action, PackageDiff, PipChange, Plan

if TYPE_CHECKING:
    from wsp import history


class Reporter(Protocol):
    def started(self, action: Action) -> None: ...
    def progress(self, action: Action, done: int, total: int) -> None: ...
    def finished(self, action: Action, error: str | None) -> None: ...
    def warned(self, message: str) -> None: ...  # said, and nothing fails for it


@dataclass(frozen=True)
class Outcome:
    action: Action
    error: str | None
    seconds: float
    built: bool = False  # the env was built whole (even when its kernel then failed)
    warning: str | None = None  # done, but not all of it (e.g. not listed for conda)

    @property
    def ok(self) -> bool:
        return self.error is None


def _inside(envs_dir: Path, prefix: Path) -> None:
    if prefix.is_symlink() or prefix.parent.resolve() != envs_dir.resolve():
        raise WspError(f"refusing to touch {prefix}: it is not a folder directly inside {envs_dir}")


def _ensure_ours(ctx: Context, action: Action) -> None:
    """Ownership, checked again right before a change (the disk may have moved on)."""
    have = observe_env(ctx.owner, action.prefix)
    if have.ownership != "ours":
        raise WspError(f"left {action.prefix} alone: {have.why_not_ours(ctx.owner)}")
    if have.read_only:
        raise WspError(f"left {action.prefix} alone: it is read-only ({have.read_only})")


def _delete(owner: Owner, envs_dir: Path, prefix: Path) -> None:
    trash = envs_dir / owner.leftover_name(TRASH, prefix.name)
    os.rename(prefix, trash)  # atomic: the env is gone from its name at once
    shutil.rmtree(trash, ignore_errors=True)


def _swap_in(owner: Owner, envs_dir: Path, staging: Path, prefix: Path) -> Path | None:
    """Put the env built at `staging` in place at `prefix` in one step. Returns where the
    env that was there is now (a staging name, to delete or swap back), or None."""
    if not prefix.exists() or (prefix.is_dir() and not any(prefix.iterdir())):
        os.rename(staging, prefix)  # onto nothing, or onto an empty folder
        return None
    if exchange(staging, prefix):
        return staging
    aside = envs_dir / owner.leftover_name(STAGING, prefix.name)
    os.rename(prefix, aside)
    try:
        os.rename(staging, prefix)
    except OSError:
        os.rename(aside, prefix)
        raise
    return aside


def _swap_back(owner: Owner, envs_dir: Path, prefix: Path, aside: Path | None) -> None:
    """Undo `_swap_in`: the old env back at `prefix` (or none), the new one deleted."""
    if aside is None:
        _delete(owner, envs_dir, prefix)
    elif exchange(aside, prefix):
        shutil.rmtree(aside, ignore_errors=True)
    else:
        _delete(owner, envs_dir, prefix)
        os.rename(aside, prefix)


def _declared_channel(want: DesiredEnv, exc: ChannelUnreachable) -> str:
    """The channel as workspace.toml names it, for a location rattler failed to fetch from."""

    for channel in want.channels:
        known = {channels.key(u) for u in (*channel.urls, channel.identity)} | {channel.name}
        if channels.key(exc.channel) in known:
            return channel.shown
    return exc.channel


def _build(
    ctx: Context, action: Action, engine: Engine, report: Reporter, linked: set[tuple[int, int]]
) -> None:
    """create / update / replace: make the env hold exactly `action.target`.

    A new or replaced env is built beside its final place and swapped in once whole, so
    the env at `prefix` is the old one or the new one, never a mix. An update changes
    the env in place, with every package fetched first: a channel that fails leaves it
    untouched, and a failure while linking puts the old packages back.
    """
    from wsp import history

    ws, want = ctx.ws, ctx.desired[action.project or ""]
    prefix = action.prefix
    _inside(ws.envs_dir, prefix)
    if action.kind is not ActionKind.CREATE or os.path.lexists(prefix):
        _ensure_ours(ctx, action)  # a folder there since the plan, even empty, is not ours
    _env_vars(action)  # one conda would ignore: refused before the env is touched
    current = read_marker(prefix)[0] if action.kind is not ActionKind.CREATE else None
    if action.pip_deferred and action.target is not None:
        action = _resolve_pip_now(ctx, action, want, current)  # before the env is touched
    number = history.next_build(prefix, current)
    marker = Marker(
        workspace=ws.name,
        manifest=str(ws.manifest_path),
        workspace_id=ctx.owner.id,
        project=want.project,
        env=want.env_name,
        state="building",
        spec_hash=action.spec_hash or want.spec_hash,
        declared=action.declared,
        built_at=str(prefix),
        lock_id=action.lock_id,
        build=number,
        variant=action.variant.name if action.variant is not None else None,
        # wsp's pip pins so far: an update that plans no pip change keeps them
        pip=dict(current.pip) if current is not None and action.kind is ActionKind.UPDATE else {},
    )
    assert action.target is not None
    target = action.target

    def progress(_event: str, done: int, total: int) -> None:
        report.progress(action, done, total)

    try:
        if action.kind is ActionKind.UPDATE:
            pip_state = _update_in_place(ctx, action, want, engine, marker, progress)
        else:
            pip_state = _build_beside(ctx, action, want, engine, marker, progress)
    except ChannelUnreachable as exc:
        raise WspError(
            f"channel {_declared_channel(want, exc)} could not be reached ({exc.detail}); "
            "the env was left as it was",
            hint=exc.hint,
        ) from None
    have = observe_env(ctx.owner, prefix)
    _check_holds(have, target)
    if (scripts := _post_link_scripts(action, prefix)) is not None:
        report.warned(scripts)
    _for_conda(ctx, action, prefix, linked)
    python = next((p.version for p in target if p.name == "python"), None)
    done = replace(
        pip_state,
        state="complete",
        installed_hash=have.installed_hash,
        packages=tuple(sorted(have.dists)),
        python=python,
        applied_at=now(),
        cuda_builds=sysreq.cuda_builds(target),
    )
    write_marker(prefix, done)
    with contextlib.suppress(OSError):  # losing a history line never fails the apply
        history.append(prefix, _history_entry(action, done, current))


def _post_link_scripts(action: Action, prefix: Path) -> str | None:
    """What to say of the post-link scripts (`bin/.NAME-post-link.sh`) of the packages the
    action linked: conda runs them when it links a package; wsp runs no code of a package
    (not at plan, not at apply), so the env lacks whatever they would have done."""
    assert action.target is not None
    linked: tuple[Package, ...] = action.target
    if action.kind is ActionKind.UPDATE:
        diff = action.diff or PackageDiff()
        linked = (*diff.add, *(new for _, new in diff.change))
    found = [
        (p, script)
        for p in sorted(linked, key=lambda p: p.name)
        if (script := prefix / "bin" / f".{p.name}-post-link.sh").is_file()
    ]
    if not found:
        return None
    names = ", ".join(f"{p.name} {p.version} (bin/{script.name})" for p, script in found)
    first, script = found[0]
    return (
        f"{action.env}: wsp did not run the post-link script of {names}: conda runs a "
        "package's post-link script when it installs it, wsp runs no code of a package. If "
        "the env needs what it does, read it, then run it yourself: "
        f"`PREFIX={prefix} PKG_NAME={first.name} PKG_VERSION={first.version} "
        f"wsp run {action.project or action.env} -- bash {script}`"
    )


def _history_entry(action: Action, marker: Marker, before: Marker | None) -> history.Entry:
    """The history line of a build just completed: what changed since the build `before`
    (conda packages and wsp's pip pins) and where it came from."""
    from wsp import history
    from wsp.engines import Package
    from wsp.planner import diff_packages, pip_packages

    def lines(diff: PackageDiff, tag: str) -> list[str]:
        return (
            [f"+ {p.name} {p.version}{tag}" for p in diff.add]
            + [f"- {p.name} {p.version}{tag}" for p in diff.remove]
            + [f"~ {a.name} {a.version} -> {b.version}{tag}" for a, b in diff.change]
        )

    def packages(m: Marker | None) -> list[Package]:
        found = (Package.from_dist(d) for d in (m.packages if m is not None else ()))
        return [p for p in found if p is not None]

    conda = diff_packages(packages(before), packages(marker))
    pins = diff_packages(
        pip_packages(before.pip if before is not None else {}), pip_packages(marker.pip)
    )
    data = {k: v for r in action.reasons for k, v in r.data().items()}
    kind = _made_by(action)
    if kind == "rollback":
        source = f"rollback to build {data.get('build', '?')}"
    elif kind == "unpack":
        source = f"pack {data.get('archive', '?')}"
    else:
        kind = str(action.kind)
        source = "wsp.lock" if action.lock_id else "workspace.toml"
    return history.Entry(
        build=marker.build,
        applied_at=marker.applied_at,
        action=kind,
        source=source,
        reasons=tuple(r.message for r in action.reasons),
        changes=tuple(lines(conda, "") + lines(pins, " (pip)")),
        spec_hash=marker.spec_hash,
        lock_id=marker.lock_id,
        declared=marker.declared,
        manifest=marker.manifest,
    )


def _kernel(ctx: Context, action: Action) -> None:
    """Write or remove the env's Jupyter kernel as planned (after the env is in its final
    place: the launcher holds its activation as it is now). A kernel planned unchanged is
    checked again after a build: a package may have brought an activate.d script."""
    checked = action.kind.builds and action.kernel is not None and action.kernel.action == "no-op"
    if not (action.kernel_changes or checked):
        return
    from wsp import kernels

    assert action.kernel is not None
    done = action.kernel
    if done.action != "blocked":
        done = kernels.apply_kernel(ctx.ws, done)
    if done.action == "blocked":
        raise WspError(f"{done.summary()}; the env itself is {action.kind.past}")


def _for_conda(ctx: Context, action: Action, prefix: Path, linked: set[tuple[int, int]]) -> None:
    """What makes the env conda's own too: its history (the declared specs, as conda
    records requested specs), its variables (conda-meta/state), the frozen marker (CEP 22:
    conda refuses to change it) and conda's file modes, readable by the machine's users."""
    declared = action.declared or Declared()
    condameta.record_change(
        prefix,
        declared.dependencies,
        # what made this build, as `conda list --revisions` shows it
        cmd=f"wsp {_made_by(action)} (workspace {ctx.ws.name}, project {action.project})",
        conda_version=_conda_version(),
    )
    condameta.write_env_vars(prefix, _env_vars(action))
    freeze(ctx, prefix, action.project or action.env)
    fix_modes(prefix, linked=linked)


def _made_by(action: Action) -> str:
    """The command that made the build `action` makes: rollback, unpack or apply."""
    from wsp.reasons import ReasonCode

    codes = {r.code for r in action.reasons}
    if ReasonCode.ROLLBACK in codes:
        return "rollback"
    if ReasonCode.UNPACK in codes:
        return "unpack"
    return "apply"


def _env_vars(action: Action) -> dict[str, str]:
    """The env's variables as the action declares them. workspace.toml refuses a name
    conda ignores (PATH) at load; one from elsewhere (a kept build's marker, a pack) is
    refused here, before the env is touched, never half way through the build."""
    declared = action.declared or Declared()
    env_vars = declared.variables
    for name in env_vars:
        if (problem := condameta.env_var_problem(name)) is not None:
            raise WspError(f"{action.env}: env var {problem}; the env was left as it was")
    return env_vars


def freeze(ctx: Context, prefix: Path, project: str) -> None:
    """The env marked frozen for conda (CEP 22), or not, as `freeze-envs` says."""
    if ctx.ws.freeze_envs:
        message = condameta.frozen_message(
            workspace=ctx.ws.name, manifest=ctx.ws.manifest_path, project=project, env=prefix.name
        )
        if condameta.read_frozen_message(prefix) != message:
            condameta.write_frozen(prefix, message)
    else:
        condameta.unfreeze(prefix)


@cache
def _conda_version() -> str | None:
    """The installed conda's version, for the history's `# conda version:` line: from its
    base env, else from where its code runs (a conda installed into a virtualenv)."""
    found = conda.find_conda()
    if found is None:
        return None
    return condameta.conda_version_of(found.root) or condameta.conda_version_of(found.conda_prefix)


def _check_holds(have: ObservedEnv, target: tuple[Package, ...]) -> None:
    """The env holds exactly the packages it was built to hold, or it is not complete: a
    marker never vouches for records it did not see installed (a build another process
    disturbed stays half-built and is rebuilt by the next apply)."""
    want = {p.dist for p in target}
    if have.dists != want:
        missing, extra = sorted(want - have.dists), sorted(have.dists - want)
        raise WspError(
            f"{have.prefix} does not hold what was installed into it"
            + (f" (missing {', '.join(missing[:3])})" if missing else "")
            + (f" (unexpected {', '.join(extra[:3])})" if extra else "")
            + "; it stays half-built and the next apply rebuilds it"
        )


def _update_in_place(
    ctx: Context,
    action: Action,
    want: DesiredEnv,
    engine: Engine,
    marker: Marker,
    progress: Progress,
) -> Marker:
    from wsp.history import record_files

    ws, prefix = ctx.ws, action.prefix
    assert action.target is not None
    scratch = ws.envs_dir / ctx.owner.leftover_name(STAGING, "fetch")
    where = sources(want)  # this machine's locations of the env's channels (its mirrors)
    engine.fetch(action.target, scratch, sources=where)  # a channel gone: nothing touched yet
    old = observe_env(ctx.owner, prefix)
    snapshot = engine.snapshot(prefix)
    records = record_files(prefix)
    write_marker(prefix, marker)  # half-built until the complete marker replaces it
    try:
        engine.install(prefix, action.target, progress=progress, sources=where)
        done = _pip_step(prefix, action, want, marker)
        _keep_build(ctx, prefix, records, old)
        return done
    except WspError:
        # Put the conda part back as it was; if even that fails, the `building` marker
        # stays and the env is reported half-built and rebuilt by the next apply.
        with contextlib.suppress(Exception):
            engine.restore(prefix, snapshot, scratch, sources=where)
            if old.marker_raw is not None:
                atomic_write_bytes(marker_path(prefix), old.marker_raw)
        raise


def _build_beside(
    ctx: Context,
    action: Action,
    want: DesiredEnv,
    engine: Engine,
    marker: Marker,
    progress: Progress,
) -> Marker:
    from wsp import history

    ws, prefix = ctx.ws, action.prefix
    assert action.target is not None
    staging = ws.envs_dir / ctx.owner.leftover_name(STAGING, prefix.name)
    write_marker(staging, marker)  # the folder is wsp's from its first moment
    try:
        engine.install(
            staging, action.target, progress=progress, relocate_to=prefix, sources=sources(want)
        )
        if os.path.lexists(prefix):
            _ensure_ours(ctx, action)  # again, right before the swap
        aside = _swap_in(ctx.owner, ws.envs_dir, staging, prefix)
    except BaseException:
        remove_tree(staging)
        raise
    try:
        done = _pip_step(prefix, action, want, marker)
    except WspError:
        _swap_back(ctx.owner, ws.envs_dir, prefix, aside)
        raise
    if aside is not None:
        with contextlib.suppress(OSError):  # the replaced build's history and kept builds
            history.carry_over(aside, prefix)
        _keep_build(ctx, prefix, history.record_files(aside), observe_env(ctx.owner, aside))
        shutil.rmtree(aside, ignore_errors=True)
    return done


def _keep_build(ctx: Context, prefix: Path, records: dict[str, bytes], old: ObservedEnv) -> None:
    """Keep the build an update or replace superseded, for `wsp rollback`: only a whole
    one, and only the newest `keep-builds`. Losing it (a full disk) costs the rollback,
    never the apply.

    `records` are the env's records before the change. When they are not the build's
    (a conda command changed the env since), the build is kept as it was completed: the
    records of its packages, a package removed by hand taken from the env as it is now
    (undoing drift links it again); one found in neither keeps nothing."""
    from wsp import history

    if old.marker is None or old.marker.state != "complete" or old.marker_raw is None:
        return
    built = {f"{dist}.json" for dist in old.marker.packages}
    if built and set(records) != built:
        after = history.record_files(prefix)
        if not built <= set(records) | set(after):
            return
        records = {name: records[name] if name in records else after[name] for name in built}
    with contextlib.suppress(OSError):
        history.save_build(
            prefix, old.marker.build, records, old.marker_raw, keep=ctx.ws.keep_builds
        )


def _resolve_pip_now(
    ctx: Context, action: Action, want: DesiredEnv, current: Marker | None
) -> Action:
    """The action with its pip change resolved now, builds allowed: what the plan could
    not know without building (a local project's dynamic metadata, an sdist). Runs after
    the plan was confirmed, before anything changes."""
    from wsp import pip
    from wsp.planner import pip_change

    assert action.target is not None
    try:
        resolved = pip.pins_for(ctx.ws, want, action.target, allow_build=True)
    except WspError as exc:
        raise WspError(f"{exc.message}; the env was left as it was") from None
    rebuilt = action.kind.fresh
    installed = {} if rebuilt else pip.installed(action.prefix)
    before = {} if rebuilt or current is None else current.pip
    change = pip_change(resolved.versions, installed, before, (p.name for p in action.target))
    return replace(action, pip_change=replace(change, pins=resolved.pins))


def _pip_step(prefix: Path, action: Action, want: DesiredEnv, marker: Marker) -> Marker:
    """Carry out the plan's pip change, sync the editable projects; `marker` with the pip
    state after. Right before, it checks again that no package it installs or uninstalls
    is conda's (the conda step may have just installed one the plan could not foresee).
    Pins install from their exact file (hash checked) or their source; local folders are
    built again each time (their code may have changed since)."""
    from wsp import pip

    if pip.site_packages(prefix) is None:
        return marker
    change = action.pip_change
    current = pip.installed(prefix)

    def condas(name: str) -> bool:
        return name in current and current[name].installer == "conda"

    if change is None:  # nothing planned for the pip layer: wsp's pins stay as they were
        change = PipChange(target={n: v for n, v in marker.pip.items() if n in current}, install={})
    # A change with nothing to install or uninstall is falsy, yet its `target` is what wsp
    # installed: a marker-only update keeps it wsp's (not "installed by hand").
    target = {n: v for n, v in change.target.items() if not condas(n)}
    pins = dict(change.pins)
    names = {n for n in change.install if n in target}
    names |= {n for n in target if n in pins and pins[n].folder}  # built again
    install = {n: pins.get(n) or pip.Pin(target[n]) for n in sorted(names)}
    uninstall = [n for n in change.uninstall if n in current and not condas(n)]
    pip.install(prefix, install, action.pip_options or want.pip_options, want.env_name)
    pip.uninstall(prefix, uninstall, want.env_name)
    editables = dict(action.editables)
    pip.sync_editables(prefix, editables)
    after = pip.installed(prefix)
    # a local project's version known only now (dynamic): as installed
    target = {n: after[n].version if n in after and n in names else v for n, v in target.items()}
    return replace(
        marker,
        pip=target,
        pip_unmanaged={
            n: d.version for n, d in sorted(after.items()) if not condas(n) and n not in target
        },
        editables=editables,
    )


def _not_listed(exc: OSError) -> str:
    """Why ~/.conda/environments.txt could not be written, for a warning."""
    return f"{exc.strerror or exc} ({exc.filename or conda.environments_txt()})"


def _prune(ctx: Context, action: Action) -> str | None:
    """Delete the env; returns a warning when it stays listed for `conda env list`."""
    _inside(ctx.ws.envs_dir, action.prefix)
    _ensure_ours(ctx, action)
    # Unlisted first: killed in between, the env is still there, still ours, and the next
    # apply prunes it again; the other way round a kill would leave conda listing a ghost.
    # An environments.txt that can't be written stops nothing, as in conda: a line left
    # naming a deleted env is one conda env list skips.
    try:
        conda.unregister_env(action.prefix)
        warning = None
    except OSError as exc:
        warning = f"{action.env}: pruned, but still listed in ~/.conda/environments.txt: "
        warning += _not_listed(exc)
    _delete(ctx.owner, ctx.ws.envs_dir, action.prefix)
    _kernel(ctx, action)
    return warning


def _run_one(
    ctx: Context,
    action: Action,
    engine: Engine,
    report: Reporter,
    linked: set[tuple[int, int]],
) -> Outcome:
    start = time.monotonic()
    report.started(action)
    error = warning = None
    built = False
    try:
        if action.kind is ActionKind.PRUNE:
            warning = _prune(ctx, action)
        elif action.kind is ActionKind.NOOP:
            _kernel(ctx, action)  # the env stays as it is; its kernel changes
        else:
            _build(ctx, action, engine, report, linked)
            built = True
            _kernel(ctx, action)
    except WspError as exc:
        error = str(exc)
    except OSError as exc:
        error = f"{exc.strerror or exc} ({exc.filename or action.prefix})"
    report.finished(action, error)
    if warning is not None:
        report.warned(warning)
    return Outcome(action, error, time.monotonic() - start, built, warning)


def _listed(done: list[Outcome], report: Reporter) -> list[Outcome]:
    """List the envs `done` built in ~/.conda/environments.txt for `conda env list`, in
    one write (killed before it, the next apply's `tidy` lists them). When the file can't
    be written, each of those envs warns that conda env list won't show it; as in conda,
    that stops nothing: the env is built and works."""
    try:
        conda.register_envs([o.action.prefix for o in done if o.built])
    except OSError as exc:
        why = _not_listed(exc)
        out = []
        for o in done:
            if o.built:
                warning = (
                    f"{o.action.env}: built, but not listed in ~/.conda/environments.txt, "
                    f"so `conda env list` won't show it: {why}"
                )
                report.warned(warning)
                o = replace(o, warning=warning)
            out.append(o)
        return out
    return done


def tidy(ctx: Context, report: Reporter) -> None:
    """Finish what an apply killed half way left outside the envs (the caller holds the
    lock): remove wsp's trash and staging folders, and list exactly the owned envs in
    ~/.conda/environments.txt (a kill between building an env and listing it, or between
    unlisting and deleting one; a file that can't be written is warned about)."""
    for trash in leftovers(ctx.ws.envs_dir, ctx.owner):
        shutil.rmtree(trash, ignore_errors=True)
    owned = [o for o in ctx.observed.values() if o.ownership == "ours" and not o.half_built]
    for folder in (ctx.state_dir, ctx.ws.root, *(o.prefix / "conda-meta" for o in owned)):
        remove_leftover_temporaries(folder)  # atomic writes a kill -9 cut short
    for have in owned:  # `freeze-envs` changed: every env follows, changed or not
        if have.marker is not None and not have.read_only:
            with contextlib.suppress(OSError):
                freeze(ctx, have.prefix, have.marker.project)
    try:
        conda.sync_envs(ctx.ws.envs_dir, [o.prefix for o in owned])
    except OSError as exc:
        report.warned(
            "~/.conda/environments.txt not brought up to date, so `conda env list` may not "
            f"show every env of this workspace: {_not_listed(exc)}"
        )


def apply_plan(
    ctx: Context,
    plan: Plan,
    engine: Engine,
    report: Reporter,
    *,
    jobs: int = 2,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Outcome]:
    """Execute every change of `plan`. The caller holds the workspace lock."""
    from concurrent.futures import ThreadPoolExecutor

    if unknown := plan.unknown:
        raise WspError(
            f"cannot apply: {unknown[0].unknown}",
            hint="nothing was changed; check the channel and the network, then plan again",
        )
    tidy(ctx, report)
    outcomes: list[Outcome] = []
    linked: set[tuple[int, int]] = set()  # package files given their modes (fix_modes)
    changes = {a.project or a.env: a for a in plan.actions if a.kind.builds}
    prunes = [a for a in plan.actions if a.kind is ActionKind.PRUNE]
    kernel_only = [a for a in plan.actions if a.kind is ActionKind.NOOP and a.kernel_changes]
    for action in prunes:
        if should_stop():
            return outcomes
        outcomes.append(_run_one(ctx, action, engine, report, linked))

    from wsp.graph import order

    # an env the kernels folder is in (jupyter-data-dir in the workspace's JupyterLab env),
    # built from nothing: first, so that no kernel is written before it is there
    from wsp.kernels import inside, kernels_dir

    where = kernels_dir(ctx.ws) if any(a.kernel for a in plan.actions) else None
    hosts = [n for n, a in changes.items() if a.kind.fresh and where and inside(where, a.prefix)]
    generations = [hosts] if hosts else []
    if any(p.depends_on for p in ctx.ws.projects.values()):
        ordered = order(ctx.graph, changes)
    else:  # no env needs another built first: one generation, no graph (networkx) to build
        ordered = [g] if (g := sorted(n for n in changes if n in ctx.ws.projects)) else []
    generations += [[n for n in g if n not in hosts] for g in ordered]
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="wsp-apply") as pool:
        for generation in generations:
            if should_stop():
                break
            futures = [
                pool.submit(_run_one, ctx, changes[name], engine, report, linked)
                for name in generation
            ]
            done = [f.result() for f in futures]
            outcomes += _listed(done, report)
    for action in kernel_only:
        if should_stop():
            break
        outcomes.append(_run_one(ctx, action, engine, report, linked))
    return outcomes
