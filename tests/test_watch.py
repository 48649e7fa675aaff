"""`wsp watch` through the real command line: real file changes, the real engine.

Each test starts `python -m wsp watch --json` in a temporary workspace, reads its events
(one JSON object per line on stdout) on a thread, edits files the way an editor saves
them, and waits for the rounds that follow. Every watch ends with SIGINT and must exit 0.
Nothing here asserts timing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Workspace, snapshot
from wsp.applylock import workspace_lock
from wsp.context import load_context
from wsp.watch import Watcher, WatchSet, referenced

Event = dict[str, Any]

# -- helpers ----------------------------------------------------------------------------------


class Watch:
    """A running `wsp watch --json` (or any command printing its events) and its events."""

    def __init__(
        self, ws: Workspace, *args: str, argv: list[str] | None = None, **env: str
    ) -> None:
        cmd = argv or [sys.executable, "-m", "wsp", "watch", "--json", "--debounce", "200"]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            cwd=ws.root,
            env={**ws.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[Event] = []
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(json.loads(line))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr.extend(self.proc.stderr)

    def __repr__(self) -> str:
        shown = "\n".join(json.dumps(e)[:400] for e in self.events[-30:])
        return f"watch events:\n{shown}\nstderr:\n{''.join(self._stderr)}"

    def wait(self, pred: Callable[[Event], bool], timeout: float = 30) -> Event:
        """The next event `pred` accepts (every event read on the way is kept)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                event = self._queue.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"no such event within {timeout} s\n{self!r}") from None
            if event is None:
                raise AssertionError(f"watch ended (code {self.proc.wait()})\n{self!r}")
            self.events.append(event)
            if pred(event):
                return event

    def round(self, timeout: float = 30) -> list[Event]:
        """The events up to and including the end of the next round (`idle`)."""
        start = len(self.events)
        self.wait(lambda e: e["event"] == "idle", timeout)
        return self.events[start:]

    def quiet(self, seconds: float) -> list[Event]:
        """The events that arrive within `seconds` (expected: none)."""
        start = len(self.events)
        with contextlib.suppress(AssertionError):
            self.wait(lambda e: False, seconds)
        return self.events[start:]

    def stop(self) -> int:
        """SIGINT, as Ctrl-C would; the exit code (the `stopped` event must be the last)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"watch did not stop on SIGINT\n{self!r}") from None
        try:
            while (event := self._queue.get(timeout=5)) is not None:
                self.events.append(event)
        except queue.Empty:
            pass
        assert self.events and self.events[-1]["event"] == "stopped", self
        return code


@pytest.fixture
def watch() -> Any:
    """Start watches; every one still running at the end is stopped and must exit 0."""
    started: list[Watch] = []

    def start(ws: Workspace, *args: str, argv: list[str] | None = None, **env: str) -> Watch:
        w = Watch(ws, *args, argv=argv, **env)
        started.append(w)
        w.wait(lambda e: e["event"] == "watching")
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            assert w.stop() == 0, w


def kinds(events: list[Event], name: str, **match: Any) -> list[Event]:
    return [
        e for e in events if e["event"] == name and all(e.get(k) == v for k, v in match.items())
    ]


def applied(events: list[Event]) -> dict[str, str]:
    """env -> action of every env a round's apply carried out."""
    return {
        o["env"]: o["action"] for e in kinds(events, "apply", phase="done") for o in e["outcomes"]
    }


def envs(ws: Workspace) -> list[str]:
    if not ws.envs_dir.exists():
        return []
    return sorted(p.name for p in ws.envs_dir.iterdir() if not p.name.startswith("."))


# -- what is watched ----------------------------------------------------------------------------


def test_only_the_declared_files_are_watched(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    manifest = root / "workspace.toml"
    manifest.write_text(
        '[workspace]\nname = "w"\n\n[projects.a]\n\n'
        '[projects.b]\npath = "libs/b"\nenvironment-file = "conda/env.yml"\n'
    )
    ws = WatchSet.of(manifest)
    assert set(ws.files) == {
        manifest,
        root / "projects/a/pyproject.toml",
        root / "libs/b/pyproject.toml",
        root / "libs/b/conda/env.yml",
    }
    for path in ("workspace.toml", "projects/a/requirements-dev.txt", "libs/b/conda/env.yml"):
        assert ws.accepts(None, str(root / path)), path
    for path in (
        ".workspace.toml.swp",
        "workspace.toml~",
        "4913",
        ".wsp/envs/a/conda-meta/wsp",
        ".git/index",
        "projects/a/main.py",
        "libs/b/conda/env.yml.tmp",
    ):
        assert not ws.accepts(None, str(root / path)), path
    (root / "projects/a").mkdir(parents=True)
    (root / "projects/a/requirements-dev.txt").write_text("six\n")
    owners = ws.current_files()
    assert owners[root / "libs/b/conda/env.yml"] == {"b"}
    assert owners[root / "projects/a/requirements-dev.txt"] == {"a"}
    assert owners[manifest] == set()

    # folders that don't exist yet are waited for from their nearest existing parent
    assert ws.dirs() == (root, root / "projects/a")
    assert ws.accepts(None, str(root / "libs"))
    (root / "libs/b/conda").mkdir(parents=True)
    assert ws.dirs() == (root, root / "libs/b", root / "libs/b/conda", root / "projects/a")

    # saved with a BOM and CRLF line ends (Windows editors), as wsp loads it: the same files
    text = manifest.read_text()
    manifest.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert WatchSet.of(manifest).files == ws.files

    # a save that isn't TOML keeps the last watch set
    manifest.write_text("[projects.a\n")
    assert WatchSet.of(manifest, previous=ws) is ws


def test_requirements_files_an_environment_file_reads_are_watched(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    manifest = root / "workspace.toml"
    manifest.write_text(
        '[workspace]\nname = "w"\nenvs-dir = ".wsp/envs"\n\n'
        '[projects.b]\nenvironment-file = "env.yml"\n'
    )
    folder = root / "projects" / "b"
    (folder / "reqs").mkdir(parents=True)
    (folder / "env.yml").write_text("dependencies:\n  - pip:\n    - -r reqs/base.txt\n")
    (folder / "reqs" / "base.txt").write_text("six\n")
    watcher = Watcher(manifest, sink=None)  # type: ignore[arg-type]
    # named in the environment file: watched from the start, before it exists too
    assert watcher.watched.accepts(None, str(folder / "reqs" / "base.txt"))
    (folder / "env.yml").write_text((folder / "env.yml").read_text() + "    - -r reqs/more.txt\n")
    (folder / "env.yml").write_text(
        (folder / "env.yml").read_text() + "    - -r ../../../elsewhere.txt\n"
    )
    watched = WatchSet.of(manifest)
    assert watched.accepts(None, str(folder / "reqs" / "more.txt"))
    assert root.parent / "elsewhere.txt" not in watched.files  # a load reads none outside
    (folder / "env.yml").write_text("dependencies:\n  - pip:\n    - -r reqs/base.txt\n")

    # what a round's load reads is watched from then on, owned by the projects reading it
    watcher._follow(referenced(load_context(root)))
    assert watcher.watched.accepts(None, str(folder / "reqs" / "base.txt"))
    assert watcher.watched.current_files()[folder / "reqs" / "base.txt"] == {"b"}
    assert folder / "reqs" in watcher.watched.dirs()
    assert "projects/b/reqs/base.txt" in watcher.watched.describe()
    assert watcher.check() is False  # starting to watch a file is no change of it


# -- --once -----------------------------------------------------------------------------------


def test_once_reconciles_every_project_and_exits(workspace: Workspace) -> None:
    r = workspace.wsp("watch", "--once", "--json")
    assert r.code == 0, r
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert all("ts" in e for e in events), r
    assert events[-1] == {**events[-1], "event": "stopped", "reason": "once"}
    (plan,) = kinds(events, "plan")
    assert plan["targets"] is None and plan["summary"]["create"] == 3
    assert applied(events) == {"finance": "create", "vision": "create", "webdev": "create"}
    assert envs(workspace) == ["finance", "vision", "webdev"]
    assert workspace.versions("webdev")["fastapi"] == "0.111.0"

    again = workspace.wsp("watch", "--once")
    assert again.code == 0, again
    assert "nothing to apply" in again.stdout and "3 envs in sync" in again.stdout, again

    workspace.edit('dependencies = ["fastapi", "uvicorn"]', 'dependencies = ["fastapi", "uvicorn"')
    broken = workspace.wsp("watch", "--once")
    assert broken.code == 1, broken
    assert broken.stderr.startswith("workspace.toml:"), broken
    assert "Traceback" not in broken.output


def test_an_environments_txt_that_cant_be_written_is_a_warning(workspace: Workspace) -> None:
    """As in `wsp apply`: each env is built, with a `warning` event saying conda env list
    won't show it; the round is ok. People see it as a warning line."""
    (Path(workspace.env["HOME"]) / ".conda").write_text("not a folder")
    r = workspace.wsp("watch", "--once", "--json")
    assert r.code == 0, r
    events = [json.loads(line) for line in r.stdout.splitlines()]
    said = sorted(e["message"].split(":")[0] for e in kinds(events, "warning"))
    assert said == ["finance", "vision", "webdev"], events
    assert applied(events) == {"finance": "create", "vision": "create", "webdev": "create"}
    (done,) = [e for e in kinds(events, "apply") if e["phase"] == "done"]
    assert done["ok"] and all("conda env list" in o["warning"] for o in done["outcomes"]), done
    again = workspace.wsp("watch", "--once")
    assert again.code == 0 and "warning: ~/.conda/environments.txt not brought" in again.stdout


# -- what a change affects ------------------------------------------------------------------


def test_adding_a_project_creates_its_env(workspace: Workspace, watch: Any) -> None:
    w = watch(workspace)
    first = w.events
    assert applied(first) == {"finance": "create", "vision": "create", "webdev": "create"}, w
    (watching,) = kinds(first, "watching")
    assert "workspace.toml" in watching["files"], w
    assert "projects/finance/pyproject.toml" in watching["files"], w

    workspace.write(
        workspace.manifest.read_text()
        + '\n[projects.tools]\npython = "3.12"\ndependencies = ["click"]\n'
    )
    events = w.round()
    (change,) = kinds(events, "change")
    assert change["files"] == ["workspace.toml"] and change["projects"] == ["tools"], w
    assert applied(events) == {"tools": "create"}, w
    assert workspace.versions("tools")["click"] == "8.1.7"
    assert envs(workspace) == ["finance", "tools", "vision", "webdev"]


CHAIN = """\
[workspace]
name = "chain"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.shared]
python = "3.12"
dependencies = ["six"]

[projects.app]
python = "3.12"
depends-on = ["shared"]
dependencies = ["click"]

[projects.data]
python = "3.12"
environment-file = "environment.yml"

[projects.other]
python = "3.11"
dependencies = ["h11"]
"""

ENV_YML = """\
name: data
channels: [conda-forge]
dependencies:
  - pytz
"""


def test_a_change_updates_only_its_project_and_dependents(
    make_workspace: Callable[..., Workspace], watch: Any
) -> None:
    ws = make_workspace(CHAIN, name="chain")
    (ws.root / "projects" / "data").mkdir(parents=True)
    env_file = ws.root / "projects" / "data" / "environment.yml"
    env_file.write_text(ENV_YML)
    w = watch(ws)
    assert set(applied(w.events)) == {"shared", "app", "data", "other"}, w
    assert "projects/data/environment.yml" in kinds(w.events, "watching")[0]["files"]

    # a depends-on target changes: it and its dependent are updated, nothing else
    ws.edit('dependencies = ["six"]', 'dependencies = ["six", "h11"]')
    events = w.round()
    assert kinds(events, "change")[0]["projects"] == ["app", "shared"], w
    assert kinds(events, "plan")[0]["targets"] == ["app", "shared"], w
    assert applied(events) == {"app": "update", "shared": "update"}, w
    assert "h11" in ws.versions("app") and "h11" in ws.versions("shared")

    # the round's load wrote the cache the next round's load starts from
    cache = json.loads((ws.root / ".wsp" / "desired.json").read_bytes())
    assert cache["sha256"] == hashlib.sha256(ws.manifest.read_bytes()).hexdigest()

    # a description given to the depends-on target, saved as vim saves (its 4913 probe
    # file, a backup): no declaration changed, nothing is planned
    _save_like_vim(
        ws.manifest,
        ws.manifest.read_text().replace(
            "[projects.shared]\n", '[projects.shared]\ndescription = "x"\n'
        ),
    )
    events = w.round()
    assert kinds(events, "change")[0]["projects"] == [] and not kinds(events, "plan"), w

    # a project's own environment-file changes: only that project
    env_file.write_text(ENV_YML + "  - tzdata\n")
    events = w.round()
    assert kinds(events, "change")[0] == {
        **kinds(events, "change")[0],
        "files": ["projects/data/environment.yml"],
        "projects": ["data"],
    }, w
    assert applied(events) == {"data": "update"}, w
    assert "tzdata" in ws.versions("data")

    # a -r file named before it exists: the round fails, and runs again when it appears
    env_file.write_text(ENV_YML + "  - tzdata\n  - pip:\n    - -r reqs/base.txt\n")
    assert "can't be read" in kinds(w.round(), "error", stage="load")[0]["message"], w
    (env_file.parent / "reqs").mkdir()
    (env_file.parent / "reqs" / "base.txt").write_text("# none yet\n")
    events = w.round()
    assert kinds(events, "change")[0]["files"] == ["projects/data/reqs/base.txt"], w
    assert kinds(events, "idle")[0]["ok"] and applied(events) == {"data": "update"}, w

    # a project nothing depends on: only it
    ws.edit('dependencies = ["h11"]', 'dependencies = ["h11", "click"]')
    events = w.round()
    assert applied(events) == {"other": "update"}, w
    assert "click" in ws.versions("other")
    other = snapshot(ws.envs_dir / "other")

    # a pyproject.toml appears in a depends-on target: it and its dependents are planned
    (ws.root / "projects" / "shared").mkdir(parents=True)
    (ws.root / "projects" / "shared" / "pyproject.toml").write_text('[project]\nname = "shared"\n')
    events = w.round()
    change = kinds(events, "change")[0]
    assert change["files"] == ["projects/shared/pyproject.toml"], w
    assert change["projects"] == ["app", "shared"], w
    assert kinds(events, "plan")[0]["targets"] == ["app", "shared"], w
    assert "other" not in applied(events)

    ws.edit('dependencies = ["six", "h11"]', 'dependencies = ["six"]')
    assert "other" not in applied(w.round())
    assert snapshot(ws.envs_dir / "other") == other  # untouched since its own update

    # freeze-envs changes no declaration, yet every env follows it, as `wsp apply` does
    assert all((ws.envs_dir / e / "conda-meta" / "frozen").exists() for e in envs(ws))
    ws.edit('envs-dir = ".wsp/envs"', 'envs-dir = ".wsp/envs"\nfreeze-envs = false')
    events = w.round()
    assert kinds(events, "change")[0]["projects"] == ["app", "data", "other", "shared"], w
    assert not any((ws.envs_dir / e / "conda-meta" / "frozen").exists() for e in envs(ws)), w

    # so are the policies: one that now forbids a project's name stops the round
    ws.write(ws.manifest.read_text() + '\n[policy.naming]\nforbidden = ["other"]\n')
    assert kinds(w.round(), "error", stage="policy"), w


# -- destructive actions ----------------------------------------------------------------------


@pytest.mark.parametrize("allow_destroy", [False, True], ids=["pending", "allow-destroy"])
def test_removing_a_project_prunes_only_with_allow_destroy(
    workspace: Workspace, watch: Any, allow_destroy: bool
) -> None:
    w = watch(workspace, *(["--allow-destroy"] if allow_destroy else []))
    assert envs(workspace) == ["finance", "vision", "webdev"]

    text = workspace.manifest.read_text()
    start = text.index("[projects.webdev]")
    workspace.manifest.write_text(text[:start])
    events = w.round()
    assert kinds(events, "change")[0]["projects"] == ["webdev"], w
    if allow_destroy:
        assert applied(events) == {"webdev": "prune"}, w
        assert envs(workspace) == ["finance", "vision"]
        assert not kinds(events, "pending") or not kinds(events, "pending")[-1]["actions"]
    else:
        assert applied(events) == {}, w
        (pending,) = kinds(events, "pending")
        assert [(a["env"], a["action"]) for a in pending["actions"]] == [("webdev", "prune")], w
        assert "--allow-destroy" in pending["hint"]
        assert kinds(events, "idle")[-1]["pending"] == ["webdev"]
        assert envs(workspace) == ["finance", "vision", "webdev"]

    # a python major.minor change is a replace: pending too, unless allowed
    workspace.edit('python = "3.11"', 'python = "3.12"')
    events = w.round()
    if allow_destroy:
        assert applied(events) == {"vision": "replace"}, w
        assert workspace.versions("vision")["python"] == "3.12.4"
    else:
        assert applied(events) == {}, w
        pending = kinds(events, "pending")[-1]["actions"]
        assert sorted((a["env"], a["action"]) for a in pending) == [
            ("vision", "replace"),
            ("webdev", "prune"),
        ], w
        assert workspace.versions("vision")["python"] == "3.11.9"


# -- broken saves ---------------------------------------------------------------------------


def test_broken_saves_change_nothing_and_the_next_good_save_is_applied(
    workspace: Workspace, watch: Any
) -> None:
    w = watch(workspace)
    good = workspace.manifest.read_text()
    before = snapshot(workspace.envs_dir)

    def broken(text: str, stage: str, says: str) -> None:
        workspace.manifest.write_text(text)
        events = w.round()
        (error,) = kinds(events, "error")
        assert error["stage"] == stage and says in error["message"], w
        assert not kinds(events, "apply"), w
        assert kinds(events, "idle")[0]["ok"] is False

    broken(good.replace('"uvicorn"]', '"uvicorn"'), "load", "workspace.toml:")
    broken(good.replace('"uvicorn"]', '"uvicorn", "pandas>=99"]'), "plan", "webdev")
    broken(good.replace('"uvicorn"]', '"uvicorn", "six"]\nbogus = 1'), "load", "bogus")
    missing = workspace.root / "nowhere"
    # a mirror is a fact of this machine, not part of a declaration: moving it changes no
    # env, but a change planned through a mirror that is gone is refused
    broken(
        good.replace(workspace.channel.as_uri(), missing.as_uri()).replace(
            '"uvicorn"]', '"uvicorn", "six"]'
        ),
        "plan",
        "could not be reached",
    )
    broken(good + '\n[projects.tmp]\npython = "3.12"\n', "policy", "WSP102")
    assert snapshot(workspace.envs_dir) == before

    # the next good save: what the broken ones touched is planned again and applied
    workspace.manifest.write_text(good.replace('"uvicorn"]', '"uvicorn", "six"]'))
    events = w.round()
    assert not kinds(events, "error"), w
    assert applied(events) == {"webdev": "update"}, w
    assert "six" in workspace.versions("webdev")


# -- debounce and coalescing --------------------------------------------------------------------


def test_a_burst_of_saves_is_applied_once(workspace: Workspace, watch: Any) -> None:
    w = watch(workspace)
    good = workspace.manifest.read_text()
    deps = ["six", "h11", "click", "pytz", "idna"]
    for i in range(1, 6):  # five saves, closer together than the debounce
        workspace.manifest.write_text(
            good.replace('"uvicorn"]', '"uvicorn", ' + ", ".join(f'"{d}"' for d in deps[:i]) + "]")
        )
        time.sleep(0.03)
    events = w.round()
    assert len(kinds(events, "change")) == 1, w
    assert len(kinds(events, "apply", phase="start")) == 1, w
    assert applied(events) == {"webdev": "update"}, w
    assert set(deps) <= set(workspace.versions("webdev"))
    assert w.quiet(1.0) == [], w


SLOW_WATCH = """\
import os, signal, sys, time
from pathlib import Path
from wsp import ui
from wsp.commands import engine
from wsp.watch import Options, Watcher

class Slow:  # the real engine, with installs that take a while
    def __init__(self, inner):
        self._inner = inner
    def __getattr__(self, name):
        return getattr(self._inner, name)
    def install(self, *args, **kwargs):
        time.sleep(1.0)
        return self._inner.install(*args, **kwargs)

w = Watcher(Path("workspace.toml").resolve(), ui.JsonEvents(), Options(debounce_ms=150),
            engine_factory=lambda: Slow(engine()))
signal.signal(signal.SIGINT, lambda *_: w.stop.set())
code = w.run()
sys.stdout.flush()
os._exit(code)
"""

ONE = """\
[workspace]
name = "one"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.web]
python = "3.12"
dependencies = ["click"]
"""


def test_saves_during_an_apply_are_applied_once_right_after(
    make_workspace: Callable[..., Workspace], watch: Any
) -> None:
    ws = make_workspace(ONE, name="one")
    w = watch(ws, argv=[sys.executable, "-c", SLOW_WATCH])
    assert applied(w.events) == {"web": "create"}, w

    ws.edit('["click"]', '["click", "six"]')
    w.wait(lambda e: e["event"] == "env" and e["status"] == "started")
    ws.edit('["click", "six"]', '["click", "six", "h11"]')  # while the apply runs
    time.sleep(0.3)
    ws.edit('["click", "six", "h11"]', '["click", "six", "h11", "pytz"]')
    first = w.round()
    assert applied(first) == {"web": "update"}, w
    second = w.round()
    assert len(kinds(second, "change")) == 1 and len(kinds(second, "apply", phase="start")) == 1
    assert applied(second) == {"web": "update"}, w
    assert {"six", "h11", "pytz"} <= set(ws.versions("web"))
    assert w.quiet(1.0) == [], w


def _save_by_rename(path: Path, text: str) -> None:
    """Write a temporary file beside it, then rename it over (vim, JetBrains' safe write)."""
    tmp = path.with_name(f".{path.name}.tmp-wsp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _save_by_truncate_then_write(path: Path, text: str) -> None:
    """Empty the file, then write it, slower than the debounce (an editor writing in place)."""
    with path.open("r+") as fh:
        fh.truncate(0)
        fh.flush()
        time.sleep(0.12)
        fh.write(text)


def _save_by_moving_the_old_away(path: Path, text: str) -> None:
    """Rename the old file to a backup, then write a new one (emacs' backups)."""
    os.replace(path, path.with_name(path.name + "~"))
    time.sleep(0.12)
    path.write_text(text)


def _save_like_vim(path: Path, text: str) -> None:
    """vim's save: a `4913` file made and removed (a probe), the old file renamed to a
    backup, the new one written, the backup removed."""
    probe = path.with_name("4913")
    probe.write_text("")
    probe.unlink()
    backup = path.with_name(path.name + "~")
    os.replace(path, backup)
    path.write_text(text)
    backup.unlink()


def test_an_editors_save_in_steps_is_applied_once(
    make_workspace: Callable[..., Workspace], watch: Any
) -> None:
    """At the default debounce, each save made in several steps makes one round and one
    apply, with no error from a half-saved file in between."""
    from wsp.watch import DEFAULT_DEBOUNCE_MS

    ws = make_workspace(ONE, name="one")
    w = watch(ws, argv=[sys.executable, "-m", "wsp", "watch", "--json"])
    (watching,) = kinds(w.events, "watching")
    assert watching["debounce_ms"] == DEFAULT_DEBOUNCE_MS  # the CLI's default is watch's
    plain = ws.manifest.read_text()
    deps = ['"click", "six"', '"click", "six", "h11"', '"click", "six", "h11", "pytz"']
    saves = [_save_by_rename, _save_by_truncate_then_write, _save_by_moving_the_old_away]
    for save, dep in zip(saves, deps, strict=True):
        save(ws.manifest, plain.replace('"click"', dep))
        events = w.round()
        assert len(kinds(events, "apply", phase="start")) == 1, (save.__name__, w)
        assert not kinds(events, "error"), (save.__name__, w)
        assert applied(events) == {"web": "update"}, (save.__name__, w)
        assert w.quiet(0.5) == [], (save.__name__, w)
    assert {"six", "h11", "pytz"} <= set(ws.versions("web"))


def test_a_held_workspace_lock_is_waited_out(workspace: Workspace, watch: Any) -> None:
    w = watch(workspace, WSP_LOCK_TIMEOUT="0.2")
    with workspace_lock(workspace.root / ".wsp", timeout=5, command="a test"):
        workspace.edit('"uvicorn"]', '"uvicorn", "six"]')
        events = w.round()
        (error,) = kinds(events, "error")
        assert error["stage"] == "lock" and "a test" in error["message"], w
        assert not kinds(events, "apply"), w
    # tried again by itself once the lock is free: no save needed
    events = w.wait(lambda e: e["event"] == "apply" and e["phase"] == "done")
    assert applied([events]) == {"webdev": "update"}, w
    assert "six" in workspace.versions("webdev")


# -- stopping -----------------------------------------------------------------------------------


def test_ctrl_c_during_an_apply_finishes_the_env_and_exits_0(
    make_workspace: Callable[..., Workspace], watch: Any
) -> None:
    ws = make_workspace(ONE, name="one")
    w = watch(ws, argv=[sys.executable, "-c", SLOW_WATCH])
    ws.edit('["click"]', '["click", "six"]')
    w.wait(lambda e: e["event"] == "env" and e["status"] == "started")
    assert w.stop() == 0
    assert kinds(w.events, "env", status="ok")[-1]["env"] == "web", w
    marker = json.loads((ws.envs_dir / "web" / "conda-meta" / "wsp").read_text())
    assert marker["state"] == "complete"
    assert "six" in ws.versions("web")
