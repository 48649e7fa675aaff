"""`wsp watch`: follow workspace.toml and the projects' files, reconcile after every change.

A round reads the watched files again, reloads the workspace and works out which projects
the change affects: those whose merged declaration differs from the last good load, those
whose own files changed (environment-file and the `-r` files it reads, pyproject.toml,
requirements*.txt), and every project that depends on one of them. It plans only those,
applies the non-destructive part (create, update) under the workspace lock and keeps
replace and prune pending unless destruction is allowed. A broken save (invalid TOML, an
unsolvable spec, an unreachable channel, a policy error) is reported and changes nothing;
the projects it touched stay dirty and are planned again with the next save.

File events are only triggers. What changed is decided by comparing the watched files'
contents with those seen at the start of the last round, so saves made while a round runs
are picked up right after it, once, and nothing is lost when the set of watched folders
changes and the watcher restarts. The debounce is short (30 ms): an editor's save in
several steps (truncate then write, the old file renamed away then a new one written) is
told from a finished one by its content instead: a round starts only when the changed
files read the same again a moment later (`SETTLE_MS`), and a watched file that became
empty or went away is given `HOLD_MS` to come back before a round reads it so. Folders are watched one level deep, never recursively:
`.git`, envs-dir and `.wsp/` are never looked at, and editor temp files never match a
watched name.

Everything the user sees leaves as an event (a dict) through a `Sink`; `wsp.ui` renders
them for people, `--json` prints one per line.
"""

from __future__ import annotations

import fnmatch
import hashlib
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from wsp import deferred, workflow
from wsp.context import Context
from wsp.engines import Engine
from wsp.errors import LockHeld, ManifestError, WspError
from wsp.planner import Action, Plan

if TYPE_CHECKING:
    from wsp.policy import Report

DEFAULT_DEBOUNCE_MS = 30
STEP_MS = 50  # how often the watcher looks at its queue; also its idle tick
SETTLE_MS = 15  # changed files are read again after this long: still changing, not yet
HOLD_MS = 300  # a watched file emptied or gone is waited for this long (a save in steps)
EMPTY = hashlib.sha256(b"").hexdigest()
REQUIREMENTS = "requirements*.txt"
LOCK_RETRY_SECONDS = 1.0
MAX_BURST_SECONDS = 5.0  # a round starts after this long even if saves keep coming

K = TypeVar("K")


class Sink(Protocol):
    """Where a watcher's events go: the terminal view, or JSON lines."""

    def emit(self, event: dict[str, Any]) -> None: ...
    def progress(self, env: str, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class Options:
    debounce_ms: int = DEFAULT_DEBOUNCE_MS
    allow_destroy: bool = False
    jobs: int = 2


# -- what is watched ------------------------------------------------------------------------


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _existing_ancestor(path: Path) -> Path:
    while not path.is_dir() and path.parent != path:
        path = path.parent
    return path


@dataclass(frozen=True)
class WatchSet:
    """The files a workspace's envs depend on, and the projects each one belongs to.

    Read from the raw TOML (not the validated workspace), so a project whose
    environment-file does not exist yet is watched for it to appear.
    """

    root: Path
    manifest: Path
    files: Mapping[Path, frozenset[str]]  # file -> projects; workspace.toml belongs to none
    project_dirs: Mapping[Path, frozenset[str]]  # where requirements*.txt may appear

    @classmethod
    def of(
        cls,
        manifest: Path,
        previous: WatchSet | None = None,
        referenced: Mapping[Path, frozenset[str]] | None = None,
    ) -> WatchSet:
        """The watch set `manifest` declares, plus the `referenced` files (those the last
        good load read besides, see `referenced`); `previous` (or just the manifest) when
        unreadable."""
        root = manifest.parent
        try:
            data = tomllib.loads(manifest.read_text(encoding="utf-8-sig"))  # a BOM as load
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return previous or cls(root, manifest, {manifest: frozenset()}, {})
        files: dict[Path, set[str]] = {p: set(n) for p, n in (referenced or {}).items()}
        files.setdefault(manifest, set())
        dirs: dict[Path, set[str]] = {}
        projects = data.get("projects")
        for name, decl in (projects if isinstance(projects, dict) else {}).items():
            if not isinstance(decl, dict):
                continue
            path = decl.get("path")
            folder = (root / (path if isinstance(path, str) else f"projects/{name}")).resolve()
            dirs.setdefault(folder, set()).add(name)
            files.setdefault(folder / "pyproject.toml", set()).add(name)
            env_file = decl.get("environment-file")
            if isinstance(env_file, str):
                env_path = (folder / env_file).resolve()
                for path in (env_path, *_includes(env_path, root.resolve())):
                    files.setdefault(path, set()).add(name)
        return cls(
            root,
            manifest,
            {p: frozenset(n) for p, n in files.items()},
            {p: frozenset(n) for p, n in dirs.items()},
        )

    def current_files(self) -> dict[Path, frozenset[str]]:
        """The declared files plus the requirements files that exist right now."""
        out = dict(self.files)
        for folder, names in self.project_dirs.items():
            try:
                found = sorted(folder.glob(REQUIREMENTS))
            except OSError:
                continue
            for path in found:
                out[path] = out.get(path, frozenset()) | names
        return out

    @cached_property
    def _wanted_dirs(self) -> frozenset[Path]:
        return frozenset({p.parent for p in self.files} | set(self.project_dirs))

    def dirs(self) -> tuple[Path, ...]:
        """The folders to watch, one level deep: each wanted one, or its nearest existing parent."""
        return tuple(sorted({_existing_ancestor(d) for d in self._wanted_dirs}))

    @cached_property
    def _on_the_way(self) -> frozenset[Path]:
        """Every folder above a wanted one: its creation or removal moves the watch."""
        return frozenset(a for d in self._wanted_dirs for a in (d, *d.parents))

    def accepts(self, _change: object, path: str) -> bool:
        """The watchfiles filter: only watched files, requirements files and wanted folders."""
        p = Path(path)
        return (
            p in self.files
            or (_is_requirements(p) and p.parent in self.project_dirs)
            or p in self._on_the_way
        )

    def describe(self) -> list[str]:
        """The watched files (and patterns), relative to the workspace root where below it."""
        paths = [*self.files, *(d / REQUIREMENTS for d in self.project_dirs)]
        return sorted({_rel(p, self.root) for p in paths})


def _includes(env_file: Path, root: Path) -> set[Path]:
    """The files an environment file names on `-r` / `-c` lines, and those they name,
    found in their text (as `wsp plan --affected-since` finds them at a revision): watched
    before they exist, so a round that failed for want of one runs again when it appears.
    Only those inside the workspace `root`: a load reads no other."""
    from wsp.affected import _INCLUDE, _MAX_INCLUDES

    found: set[Path] = set()
    todo = [env_file]
    while todo and len(found) < _MAX_INCLUDES:
        path = todo.pop()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for m in _INCLUDE.finditer(text):
            if "://" in m.group(1):
                continue
            at = (path.parent / m.group(1)).resolve()
            if at not in found and at.is_relative_to(root):
                found.add(at)
                todo.append(at)
    return found


def _is_requirements(path: Path) -> bool:
    return fnmatch.fnmatch(path.name, REQUIREMENTS)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def referenced(ctx: Context) -> dict[Path, frozenset[str]]:
    """The requirements files the projects' environment files read (`- pip: [-r FILE]`),
    each with the projects that read it: watched as the environment files are."""
    out: dict[Path, set[str]] = {}
    for name, decl in ctx.ws.projects.items():
        for path in decl.env_file.requirement_files if decl.env_file is not None else ():
            out.setdefault(path.resolve(), set()).add(name)
    return {p: frozenset(n) for p, n in out.items()}


def differing(before: Mapping[K, object], after: Mapping[K, object]) -> set[K]:
    """The keys added, removed, or whose value differs."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


# -- what a change affects --------------------------------------------------------------------


def declarations(ctx: Context) -> dict[str, tuple[str, str, str]]:
    """Per project, what its env must match: spec hash, env name and prefix."""
    return {n: (d.spec_hash, d.env_name, str(d.prefix)) for n, d in ctx.desired.items()}


def workspace_settings(ctx: Context) -> tuple[Any, ...]:
    """What an apply checks or makes every env follow besides its declaration: `freeze-envs`
    (each env frozen or not), `jupyter-data-dir` (where the kernels are), the policies
    (`[policy]`, a project's `ignore`): a change plans every project, as `wsp apply` would."""
    ignored = tuple((name, p.ignore) for name, p in ctx.ws.projects.items() if p.ignore)
    return (ctx.ws.freeze_envs, ctx.ws.jupyter_data_dir, ctx.ws.policy, ignored)


def targets_for(ctx: Context, dirty: Iterable[str]) -> set[str]:
    """`dirty` projects and their dependents; removed ones only while they still own an env."""
    from wsp.graph import affected, project

    dirty = set(dirty)
    out = affected(ctx.graph, [project(n) for n in dirty if n in ctx.ws.projects])
    owned = ctx.owned_projects()
    return out | {n for n in dirty if n not in ctx.ws.projects and n in owned}


def _action_json(a: Action) -> dict[str, Any]:
    return a.to_json(brief=True)


# -- the watcher ------------------------------------------------------------------------------


class _Reporter:
    """The reconciler's Reporter, turned into `env` events."""

    def __init__(self, watcher: Watcher) -> None:
        self._w = watcher
        self._started: dict[str, float] = {}

    def started(self, action: Action) -> None:
        self._started[action.env] = time.monotonic()
        self._w.emit("env", round=self._w.rounds, status="started", **_action_json(action))

    def progress(self, action: Action, done: int, total: int) -> None:
        self._w.sink.progress(action.env, done, total)

    def finished(self, action: Action, error: str | None) -> None:
        seconds = time.monotonic() - self._started.get(action.env, time.monotonic())
        self._w.emit(
            "env",
            round=self._w.rounds,
            status="failed" if error else "ok",
            error=error,
            seconds=round(seconds, 3),
            **_action_json(action),
        )

    def warned(self, message: str) -> None:
        self._w.emit("warning", round=self._w.rounds, message=message)


class _Hooks:
    """The pipeline's hooks for one watch round: everything leaves as an event."""

    def __init__(self, watcher: Watcher) -> None:
        self._w = watcher
        self.reporter = _Reporter(watcher)
        self.targets: set[str] | None = None
        self.now: list[Action] = []
        self.started = 0.0

    def findings(self, report: Report) -> None:
        self._w.warnings(report)

    def planned(self, plan: Plan, now: list[Action], pending: list[Action]) -> None:
        w = self._w
        self.now = now
        w._track_pending(plan, pending, self.targets is None)
        w.emit(
            "plan",
            round=w.rounds,
            targets=sorted(self.targets) if self.targets is not None else None,
            summary=plan.summary,
            actions=[_action_json(a) for a in plan.actions if a.is_change],
            apply=[a.env for a in now],
        )
        if pending or w.pending:
            w.emit(
                "pending",
                round=w.rounds,
                actions=[_action_json(a) for _, a in sorted(w.pending.items())],
                hint=None
                if w.options.allow_destroy
                else "start `wsp watch --allow-destroy` (or run `wsp apply`) to carry these out",
            )
        for a in plan.blocked:
            w.emit(
                "error",
                round=w.rounds,
                stage="blocked",
                message=f"{a.env}: not applied: {a.reasons[0].message}",
                located=False,
            )

    def confirm(self, plan: Plan, now: list[Action]) -> bool:
        return True  # watch applies what it may (create, update) without asking

    def should_stop(self) -> bool:
        return self._w.stop.is_set()

    def applying(self, actions: list[Action]) -> None:
        self.started = time.monotonic()
        self._w.emit(
            "apply",
            round=self._w.rounds,
            phase="start",
            actions=[_action_json(a) for a in actions],
        )

    def relocked(self, projects: list[str]) -> None:
        self._w.emit("lock", round=self._w.rounds, updated=projects)


@dataclass
class Watcher:
    """One watched workspace: its last good state, what is dirty, what is pending."""

    manifest: Path
    sink: Sink
    options: Options = field(default_factory=Options)
    engine_factory: Callable[[], Engine] | None = None
    # run the policies before each round, as `wsp apply` does (False: the loop alone)
    gate: bool = True
    stop: threading.Event = field(default_factory=threading.Event)

    rounds: int = 0
    errors: int = 0  # rounds that ended in an error
    watched: WatchSet = field(init=False)
    files: dict[Path, frozenset[str]] = field(default_factory=dict)  # as of the last check
    seen: dict[Path, str | None] = field(default_factory=dict)  # their content hashes
    base: dict[str, tuple[str, str, str]] | None = None  # None: the next round plans everything
    settings: tuple[Any, ...] | None = None  # what every env follows besides (`settings`)
    dirty: set[str] = field(default_factory=set)
    pending: dict[str, Action] = field(default_factory=dict)
    retry_at: float | None = None
    recheck_at: float | None = None  # look at the files again then (a save not finished)
    referenced: dict[Path, frozenset[str]] = field(default_factory=dict)  # -r files read
    _held: dict[Path, str | None] | None = None  # the half-saved contents being waited out
    _held_until: float = 0.0
    _announced: list[str] | None = None
    _warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = self.manifest.parent
        self.watched = WatchSet.of(self.manifest)

    def emit(self, event: str, **data: Any) -> None:
        self.sink.emit({"event": event, "ts": round(time.time(), 3), **data})

    def _engine(self) -> Engine:
        if self.engine_factory is not None:
            return self.engine_factory()
        from wsp.engines import get_engine

        return get_engine()

    # rounds -------------------------------------------------------------------------------
    def check(self, *, full: bool = False) -> bool:
        """Read the watched files; run a round when they changed (or `full`). True if one ran."""
        self.recheck_at = None
        watched = WatchSet.of(self.manifest, previous=self.watched, referenced=self.referenced)
        before, files = self.files, watched.current_files()
        now = {path: _digest(path) for path in files}
        changed = differing(self.seen, now)
        if changed and not full and not self._settled(files, now, changed):
            return False  # half-saved: what is watched stays as it was too
        self.watched, self.files, self.seen = watched, files, now
        retry = self.retry_at is not None and time.monotonic() >= self.retry_at
        if not (changed or full or retry):
            return False
        self.retry_at = None
        for path in changed:  # a file that went belonged to the projects it had before
            self.dirty |= before.get(path, frozenset()) | files.get(path, frozenset())
        files = [] if full else sorted(_rel(p, self.root) for p in changed)
        self.reconcile(files=files, full=full)
        return True

    def _settled(
        self, files: Mapping[Path, object], now: dict[Path, str | None], changed: set[Path]
    ) -> bool:
        """Whether the save that changed `changed` is over: they read the same again after
        SETTLE_MS, and none became empty or went away less than HOLD_MS ago (an editor
        truncates, or renames the old file away, before it writes). When not, the files
        are looked at again soon (`recheck_at`), so no event is needed to go on."""
        if SETTLE_MS:
            time.sleep(SETTLE_MS / 1000)
            if {path: _digest(path) for path in files} != now:
                self.recheck_at = time.monotonic() + SETTLE_MS / 1000
                return False
        emptied = {
            p
            for p in changed
            if now.get(p) in (None, EMPTY) and self.seen.get(p) not in (None, EMPTY)
        }
        if not emptied:
            self._held = None
            return True
        if self._held != now:  # a new half-saved state: wait for the rest of the save
            self._held, self._held_until = now, time.monotonic() + HOLD_MS / 1000
        if time.monotonic() < self._held_until:
            self.recheck_at = self._held_until
            return False
        self._held = None  # it stayed so: that is what the user saved
        return True

    def reconcile(self, *, files: list[str], full: bool) -> None:
        """One round: load, work out the targets, plan, apply what may be applied."""
        self.rounds += 1
        start = time.monotonic()
        ok = False
        try:
            ok = self._reconcile(files, full)
        finally:
            if not ok:
                self.errors += 1
            # the caches this round's load wrote (.wsp/desired.json): the next round's
            # load starts from them, loading only what the next save changed
            deferred.step_done(ok)
            self.emit(
                "idle",
                round=self.rounds,
                ok=ok,
                seconds=round(time.monotonic() - start, 3),
                dirty=sorted(self.dirty) if self.base is not None else None,
                pending=sorted(self.pending),
            )

    def _error(self, stage: str, exc: WspError) -> bool:
        self.emit(
            "error",
            round=self.rounds,
            stage=stage,
            message=str(exc),
            located=isinstance(exc, ManifestError),
        )
        return False

    def _reconcile(self, files: list[str], full: bool) -> bool:
        from wsp.context import load_context

        try:
            ctx = load_context(self.root)
        except WspError as exc:
            if files:  # which projects it touches is known once the workspace loads again
                self.emit("change", round=self.rounds, files=files, projects=[])
            return self._error("load", exc)
        self._follow(referenced(ctx))
        now = declarations(ctx)
        settings, self.settings = self.settings, workspace_settings(ctx)
        if full or self.base is None or settings != self.settings:
            everything = True
        else:
            everything = False
            self.dirty |= differing(self.base, now)
        self.base = now
        if files:
            shown = targets_for(ctx, self.dirty) if not everything else set(ctx.ws.projects)
            self.emit("change", round=self.rounds, files=files, projects=sorted(shown))
        if not everything and not self.dirty:
            return True  # nothing a project depends on changed (a comment, say)
        return self._plan_and_apply(ctx, everything)

    def _follow(self, files: dict[Path, frozenset[str]]) -> None:
        """Watch the requirements files the workspace reads now, from now on: as they are
        now (the load just read them), so that starting to watch one is no change."""
        if files == self.referenced:
            return
        self.referenced = files
        self.watched = WatchSet.of(self.manifest, previous=self.watched, referenced=files)
        self.files = self.watched.current_files()
        self.seen = {p: self.seen[p] if p in self.seen else _digest(p) for p in self.files}

    def _plan_and_apply(self, ctx: Context, everything: bool) -> bool:
        """One round through the apply pipeline (wsp.workflow), as events."""
        hooks = _Hooks(self)
        request = workflow.Request(
            allow_destroy=self.options.allow_destroy,
            jobs=self.options.jobs,
            gate=self.gate,
            command="wsp watch",
            retry_hint="nothing was changed; the next save tries again",
        )

        def pick(ctx: Context) -> set[str] | None:
            hooks.targets = None if everything else targets_for(ctx, self.dirty)
            return hooks.targets

        try:
            result = workflow.apply(ctx, self._engine(), request, hooks, targets=pick)
        except LockHeld as exc:
            self.retry_at = time.monotonic() + LOCK_RETRY_SECONDS
            if everything:
                self.base = None
            return self._error("lock", exc)
        except WspError as exc:
            if exc.stage == "apply":
                self.dirty |= {a.project or a.env for a in hooks.now}
            else:
                self._keep_dirty(hooks.targets)
            return self._error(exc.stage or "plan", exc)
        self.dirty.clear()
        if hooks.targets is not None and not hooks.targets:
            return True
        self.dirty |= {o.action.project or o.action.env for o in result.failed}
        self.dirty |= {a.project or a.env for a in result.not_started}
        if result.now and not hooks.started:
            return True  # stopped before applying: what it would have done stays dirty
        if hooks.started:
            self.emit(
                "apply",
                round=self.rounds,
                phase="done",
                ok=not result.failed,
                seconds=round(time.monotonic() - hooks.started, 3),
                outcomes=result.outcomes_json(),
                not_started=[a.env for a in result.not_started],
            )
            for o in result.outcomes:
                self.pending.pop(o.action.env, None)
        if result.relock_error is not None:
            return self._error("lock", result.relock_error)
        return not (result.failed or result.not_started or result.blocked)

    def warnings(self, report: Report) -> None:
        """The policies' warnings (what does not stop the round), shown when they change."""
        from wsp.policy import blocking

        stops = blocking(report)
        warnings = [f.line() for f in report.findings if f not in stops]
        if warnings != self._warnings:
            self._warnings = warnings
            self.emit("warnings", round=self.rounds, messages=warnings)

    def _keep_dirty(self, targets: set[str] | None) -> None:
        if targets is None:
            self.base = None  # a failed full round: plan everything next time
        else:
            self.dirty |= targets

    def _track_pending(self, plan: Plan, pending: list[Action], everything: bool) -> None:
        if everything:
            self.pending.clear()
        for a in plan.actions:
            self.pending.pop(a.env, None)
        for a in pending:
            self.pending[a.env] = a

    # the loop -----------------------------------------------------------------------------
    def announce(self) -> None:
        """A `watching` event, when the watched files are not those last announced."""
        files = self.watched.describe()
        if files != self._announced:
            self._announced = files
            self.emit(
                "watching",
                root=str(self.root),
                files=files,
                debounce_ms=self.options.debounce_ms,
                allow_destroy=self.options.allow_destroy,
            )

    def once(self) -> int:
        """One full reconcile; 0 when it went through, 1 when it did not."""
        self.check(full=True)
        self.emit("stopped", reason="once", rounds=self.rounds)
        return 1 if self.errors else 0

    def run(self) -> int:
        """Reconcile everything, then after every change until `stop` is set."""
        self.check(full=True)
        while not self.stop.is_set():
            self._watch_until_moved()
        self.emit("stopped", reason="interrupted", rounds=self.rounds)
        return 0

    def _watch_until_moved(self) -> None:
        """Watch the current folders; return when stopped or when the folders must change."""
        import watchfiles

        dirs = self.watched.dirs()
        # watchfiles yields a batch once no event came for `step` ms; the rest of the
        # debounce is waited for here
        step = min(STEP_MS, max(self.options.debounce_ms, 1))
        quiet = max(0, self.options.debounce_ms - step) / 1000
        due: float | None = None  # when the files will have been quiet long enough
        burst = 0.0  # when the current burst of events began
        started = False
        try:
            for batch in watchfiles.watch(
                *dirs,
                watch_filter=lambda change, path: self.watched.accepts(change, path),
                debounce=max(1600, self.options.debounce_ms),
                step=step,
                rust_timeout=STEP_MS,
                yield_on_timeout=True,
                stop_event=self.stop,
                raise_interrupt=False,
                recursive=False,
            ):
                if not started:  # the watcher runs: catch up on what changed without one
                    started = True
                    self.check()
                    self.announce()  # from here on, every save is seen and debounced
                now = time.monotonic()
                if batch:
                    burst = burst if due is not None else now
                    due = now + quiet
                    if now - burst >= MAX_BURST_SECONDS:
                        due = now  # the files never settle: plan what they hold now
                if (
                    (due is not None and now >= due)
                    or (self.retry_at is not None and now >= self.retry_at)
                    or (self.recheck_at is not None and now >= self.recheck_at)
                ):
                    due = None
                    self.check()
                    if self.watched.dirs() != dirs:
                        return  # a watched folder appeared or went: watch the new set
                    self.announce()
                if self.stop.is_set():
                    return
        except OSError:  # a folder went away between listing and watching it
            if not self.stop.is_set():
                time.sleep(STEP_MS / 1000)
