"""Carry a Plan out: prunes first, then envs in graph order, independent ones in parallel.

Every env change is bracketed by its marker: `building` before the first byte changes,
`complete` after the last, so an interrupted env is seen as half-built and rebuilt. Envs
are deleted by renaming them into a trash folder inside envs-dir first (one atomic step),
then removing the trash. Nothing here touches an env that is not owned by this workspace:
ownership is checked again right before each change.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from wsp import conda, pip
from wsp.engines import Engine
from wsp.errors import WspError
from wsp.fsutil import atomic_write_bytes
from wsp.graph import DesiredEnv
from wsp.marker import Marker, marker_path, now, write_marker
from wsp.observe import STAGING_PREFIX, TRASH_PREFIX, observe_env, trash_dirs
from wsp.pip import PipError
from wsp.planner import Action, Plan
from wsp.workflow import Context


class Reporter(Protocol):
    def started(self, action: Action) -> None: ...
    def progress(self, action: Action, done: int, total: int) -> None: ...
    def finished(self, action: Action, error: str | None) -> None: ...


@dataclass(frozen=True)
class Outcome:
    action: Action
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


def _inside(envs_dir: Path, prefix: Path) -> None:
    if prefix.is_symlink() or prefix.parent.resolve() != envs_dir.resolve():
        raise WspError(f"refusing to touch {prefix}: it is not a folder directly inside {envs_dir}")


def _ensure_ours(ctx: Context, action: Action) -> None:
    """Ownership, checked again right before a change (the disk may have moved on)."""
    have = observe_env(ctx.ws, action.prefix)
    if have.ownership != "ours":
        raise WspError(f"left {action.prefix} alone: {have.why_not_ours(ctx.ws)}")


def _delete(envs_dir: Path, prefix: Path) -> None:
    trash = envs_dir / f"{TRASH_PREFIX}{prefix.name}-{uuid.uuid4().hex[:8]}"
    os.rename(prefix, trash)  # atomic: the env is gone from its name at once
    shutil.rmtree(trash, ignore_errors=True)


def _claim(envs_dir: Path, prefix: Path, marker: Marker) -> None:
    """Make `prefix` appear together with its `building` marker, in one rename: an env
    folder without wsp's marker is never taken for one of wsp's, whenever wsp is killed."""
    staging = envs_dir / f"{STAGING_PREFIX}{prefix.name}-{uuid.uuid4().hex[:8]}"
    write_marker(staging, marker)
    os.rename(staging, prefix)  # onto nothing, or onto an empty folder


def _build(ctx: Context, action: Action, engine: Engine, report: Reporter) -> None:
    """create / update / replace: install exactly `action.target` into the env."""
    ws, want = ctx.ws, ctx.desired[action.project or ""]
    prefix = action.prefix
    _inside(ws.envs_dir, prefix)
    if action.kind in ("update", "replace") or (prefix.exists() and any(prefix.iterdir())):
        _ensure_ours(ctx, action)
    marker = Marker(
        workspace=ws.name,
        manifest=str(ws.manifest_path),
        project=want.project,
        env=want.env_name,
        state="building",
        spec_hash=action.spec_hash or want.spec_hash,
        extra={"desired": want.summary(), "prefix": str(prefix)},
    )
    old = observe_env(ws, prefix) if action.kind == "update" else None
    snapshot = engine.snapshot(prefix) if action.kind == "update" else None
    if action.kind == "replace":
        write_marker(prefix, marker)  # half-built from here on, whatever happens
        _delete(ws.envs_dir, prefix)
    if action.kind == "update":
        write_marker(prefix, marker)  # half-built until the complete marker replaces it
    else:
        _claim(ws.envs_dir, prefix, marker)
    assert action.target is not None
    engine.install(prefix, action.target, progress=lambda _e, d, t: report.progress(action, d, t))
    try:
        pip_state = _pip_step(prefix, action, want, old.marker if old else None)
    except PipError:
        # Leave the conda part as it was before this apply (or no env at all).
        if old is not None and old.marker is not None and old.marker_raw is not None:
            engine.restore(prefix, snapshot)
            atomic_write_bytes(marker_path(prefix), old.marker_raw)
        elif action.kind == "create":
            _delete(ws.envs_dir, prefix)
        raise
    have = observe_env(ws, prefix)
    python = next((p.version for p in action.target if p.name == "python"), None)
    write_marker(
        prefix,
        replace(
            marker,
            state="complete",
            installed_hash=have.installed_hash,
            packages=tuple(sorted(have.dists)),
            python=python,
            applied_at=now(),
            extra={**marker.extra, **pip_state, "lock_id": action.lock_id},
        ),
    )
    conda.register_env(prefix)


def _pip_step(prefix: Path, action: Action, want: DesiredEnv, old: Marker | None) -> dict[str, Any]:
    """Install the pip pins, uninstall what wsp installed and no longer wants, sync editables."""
    if pip.site_packages(prefix) is None:
        return {}
    by_conda = pip.conda_provided(p.name for p in action.target or ())
    target = {n: v for n, v in (action.pip_target or {}).items() if n not in by_conda}
    before = dict(old.extra.get("pip") or {}) if old is not None else {}
    current = pip.installed(prefix)

    def condas(name: str) -> bool:  # never install over, nor uninstall, conda's packages
        return name in by_conda or (name in current and current[name].installer == "conda")

    to_install = {
        n: v
        for n, v in target.items()
        if not condas(n) and (n not in current or current[n].version != v)
    }
    to_remove = [n for n in before if n not in target and n in current and not condas(n)]
    pip.install(prefix, to_install, want.pip_options, want.env_name)
    pip.uninstall(prefix, to_remove, want.env_name)
    pip.sync_editables(prefix, dict(want.editables))
    after = pip.installed(prefix)
    return {
        "pip": target,
        "pip_unmanaged": {
            n: d.version for n, d in sorted(after.items()) if not condas(n) and n not in target
        },
        "editables": dict(want.editables),
    }


def _prune(ctx: Context, action: Action) -> None:
    _inside(ctx.ws.envs_dir, action.prefix)
    _ensure_ours(ctx, action)
    _delete(ctx.ws.envs_dir, action.prefix)
    conda.unregister_env(action.prefix)


def _run_one(ctx: Context, action: Action, engine: Engine, report: Reporter) -> Outcome:
    start = time.monotonic()
    report.started(action)
    error = None
    try:
        if action.kind == "prune":
            _prune(ctx, action)
        else:
            _build(ctx, action, engine, report)
    except WspError as exc:
        error = str(exc)
    except OSError as exc:
        error = f"{exc.strerror or exc} ({exc.filename or action.prefix})"
    report.finished(action, error)
    return Outcome(action, error, time.monotonic() - start)


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
    if unknown := plan.unknown:
        raise WspError(
            f"cannot apply: {unknown[0].unknown}",
            hint="nothing was changed; check the channel and the network, then plan again",
        )
    for trash in trash_dirs(ctx.ws):  # leftovers of an interrupted deletion
        shutil.rmtree(trash, ignore_errors=True)
    outcomes: list[Outcome] = []
    changes = {
        a.project or a.env: a for a in plan.actions if a.kind in ("create", "update", "replace")
    }
    prunes = [a for a in plan.actions if a.kind == "prune"]
    for action in prunes:
        if should_stop():
            return outcomes
        outcomes.append(_run_one(ctx, action, engine, report))

    from wsp.graph import order

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="wsp-apply") as pool:
        for generation in order(ctx.graph, changes):
            if should_stop():
                break
            futures = [
                pool.submit(_run_one, ctx, changes[name], engine, report) for name in generation
            ]
            outcomes.extend(f.result() for f in futures)
    return outcomes


def destroy(ctx: Context, actions: list[Action], report: Reporter) -> list[Outcome]:
    """Delete owned envs (the caller holds the lock and built `actions` as prunes)."""
    outcomes = []
    for action in actions:
        outcomes.append(_run_one(ctx, action, engine=None, report=report))  # type: ignore[arg-type]
    with contextlib.suppress(OSError):
        for trash in trash_dirs(ctx.ws):
            shutil.rmtree(trash, ignore_errors=True)
    return outcomes
