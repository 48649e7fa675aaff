"""Which projects a change reaches since a git revision: `wsp plan --affected-since REF`.

CI runners are the workers: one job per affected project, `wsp.lock` the shared truth.
A project is affected when, between REF and the working tree:

- its merged declaration differs: each revision's workspace.toml loaded and merged
  (`graph.desired`: its own table, its environment file and the requirement files that
  reads, its templates, its depends-on closure, `[workspace]`), the two DesiredEnvs
  compared field by field with the checkout's own folder spelled alike in both (the old
  revision is loaded from a temporary folder: workspace.toml, and the environment files,
  requirement files, pyproject.toml and src/ of its projects, read with git);
- a packaging file in its own folder changed (`OWN_FILES`: pyproject.toml, setup.py,
  setup.cfg, requirements*.txt / .in, constraints*.txt, requirements/*.txt), or one of a
  project it depends on (its source is importable in the env);
- its entry of wsp.lock (what `wsp apply --locked` installs) differs: added, removed or
  changed (a lock-only change, `wsp lock --update`), compared when an engine is given;
- it is new since REF.

A project declared at REF and no more is listed as removed. The comparison starts where
the current branch left REF (`git merge-base REF HEAD`, as `git diff REF...` does), so
commits made on REF's branch since then count for nothing; when there is none (a
shallow clone without that history) REF itself. workspace.toml absent at REF, or not
loading there, makes every project affected, and says so; so does REF being git's null
revision (all zeros: GitHub's `github.event.before` for a push that created the branch).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from wsp import codec
from wsp.engines import Engine, LockData
from wsp.errors import WspError
from wsp.graph import DesiredEnv
from wsp.manifest.loader import Workspace

# Packaging files of a project's own folder (or its requirements/ folder): a change to
# one may change what its env installs.
OWN_FILES = re.compile(
    r"(?:pyproject\.toml|setup\.py|setup\.cfg|(?:requirements|constraints)[^/]*\.(?:txt|in))"
)
# `-r FILE`, `-c FILE` in an environment file's pip list or a requirements file
_INCLUDE = re.compile(
    r"""(?:^|[\s'"])(?:-r|-c|--requirement|--constraint)(?:\s+|=)['"]?([^\s'"#]+)"""
)
_MAX_INCLUDES = 1000  # files read through -r / -c at most (a loop stops here)
LOCK_NAME = "wsp.lock"  # beside workspace.toml (wsp.lockfile, a layer above, writes it)
# git's null revision: "no commit" (SHA-1 or SHA-256 repositories)
_NULL = re.compile(r"0{40}|0{64}")


@dataclass(frozen=True)
class Affected:
    """The projects a change since `ref` reaches, with why."""

    ref: str
    commit: str  # what `ref` names
    base: str  # the commit compared with: where HEAD's branch left `ref`
    projects: tuple[str, ...]  # in workspace order
    removed: tuple[str, ...]  # declared at `base`, not now
    why: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "base": self.base,
            "projects": list(self.projects),
            "removed": list(self.removed),
            "why": {k: list(v) for k, v in self.why.items()},
            "notes": list(self.notes),
        }


# -- git -------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, env=env, check=False
        )
    except FileNotFoundError:
        raise WspError(
            "git was not found on PATH",
            hint="--affected-since reads the workspace's git history: install git",
        ) from None


def _lines(out: bytes) -> list[str]:
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


class _Revision:
    """Files of one commit, read in batches (`git cat-file --batch`)."""

    def __init__(self, top: Path, commit: str) -> None:
        self.top = top
        self.commit = commit

    def read(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        """Each path's content; None for a folder; left out when absent."""
        paths = list(dict.fromkeys(paths))
        if not paths:
            return {}
        request = "".join(f"{self.commit}:{p}\n" for p in paths).encode()
        out = _git(self.top, "cat-file", "--batch", stdin=request)
        if out.returncode != 0:
            raise WspError(f"git cat-file failed: {os.fsdecode(out.stderr).strip()}")
        data, pos, found = out.stdout, 0, {}
        for p in paths:
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            pos = end + 1
            if header[-1] == b"missing" or len(header) != 3:
                continue
            size = int(header[2])
            if header[1] == b"blob":
                found[p] = data[pos : pos + size]
            elif header[1] == b"tree":
                found[p] = None
            pos += size + 1
        return found


def _repo(root: Path) -> Path:
    out = _git(root, "rev-parse", "--show-toplevel")
    if out.returncode != 0:
        raise WspError(
            f"{root} is not in a git repository",
            hint="--affected-since compares the workspace with a git revision: run it in a "
            "clone, or leave the flag out",
        )
    return Path(os.fsdecode(out.stdout.strip())).resolve()


def _commit(top: Path, ref: str) -> str:
    out = (
        _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if ref and not ref.startswith("-")
        else None
    )
    if out is None or out.returncode != 0:
        raise WspError(
            f"--affected-since {ref}: git knows no such revision",
            hint="name a branch, tag or commit; fetch it first if it is a remote one "
            "(`git fetch origin main`; in CI check out with the history, e.g. "
            "actions/checkout's fetch-depth: 0)",
        )
    return out.stdout.decode().strip()


def _changed_files(top: Path, base: str) -> set[str]:
    """Paths (from the repository's top) changed between `base` and the working tree,
    untracked files included."""
    diff = _git(top, "diff", "--name-only", "--no-renames", "-z", base, "--")
    if diff.returncode != 0:
        raise WspError(f"git diff failed: {os.fsdecode(diff.stderr).strip()}")
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
    return set(_lines(diff.stdout)) | set(_lines(untracked.stdout))


# -- the old revision, loaded from a temporary folder ----------------------------------------


def _inside(folder: PurePosixPath, relative: str) -> str | None:
    """`relative` under `folder` as a path from the repository's top; None outside it."""
    parts: list[str] = []
    for part in (folder / relative).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts and not relative.startswith("/") else None


def _old_files(rev: _Revision, manifest: str, text: str) -> dict[str, bytes | None]:
    """What loading workspace.toml at `rev` reads besides itself: each project's
    environment file and the files it includes (-r, -c), its pyproject.toml and src/."""
    import tomllib

    try:
        projects = tomllib.loads(text).get("projects", {})
    except (tomllib.TOMLDecodeError, AttributeError):
        return {}  # it will not load: said by the load itself
    here = PurePosixPath(manifest).parent
    wanted: list[str] = []
    texts: list[str] = []
    for name, table in projects.items() if isinstance(projects, dict) else ():
        if not isinstance(table, dict):
            continue
        path = table.get("path", f"projects/{name}")
        folder = _inside(here, path) if isinstance(path, str) else None
        if folder is None:
            continue
        wanted += [f"{folder}/pyproject.toml", f"{folder}/src"]
        env_file = table.get("environment-file")
        if isinstance(env_file, str) and (at := _inside(PurePosixPath(folder), env_file)):
            wanted.append(at)
            texts.append(at)
    found = rev.read(wanted)
    todo = [p for p in texts if isinstance(found.get(p), bytes)]
    while todo and len(found) < _MAX_INCLUDES:
        include: list[str] = []
        for p in todo:
            content = found[p]
            assert content is not None
            for m in _INCLUDE.finditer(content.decode("utf-8", "replace")):
                at = _inside(PurePosixPath(p).parent, m.group(1))
                if at is not None and at not in found:
                    include.append(at)
        more = rev.read(include)
        found.update(more)
        todo = [p for p, content in more.items() if isinstance(content, bytes)]
    return found


@contextlib.contextmanager
def _checked_out(rev: _Revision, manifest: str, raw: bytes) -> Iterator[Path]:
    """A temporary folder standing for the repository at `rev`: workspace.toml and what
    its load reads."""
    with tempfile.TemporaryDirectory(prefix="wsp-affected-") as tmp:
        top = Path(tmp).resolve()
        text = raw.decode("utf-8", "replace").removeprefix("\ufeff")  # a BOM, as load reads it
        files = _old_files(rev, manifest, text)
        for path, content in {**files, manifest: raw}.items():
            target = top / path
            if content is None:
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        yield top


# -- comparing ---------------------------------------------------------------------------------


def _spelled_alike(data: Any, top: Path) -> str:
    """`data` as JSON, the repository's folder written `<repo>` wherever a path names it."""
    text = json.dumps(data, sort_keys=True)
    for form in dict.fromkeys([top.as_uri(), str(top)]):
        text = re.sub(re.escape(form) + r'(?=[/"])', "<repo>", text)
    return text


def fingerprint(want: DesiredEnv, top: Path) -> str:
    """What one project's env is declared to be, wherever the repository is checked out:
    the DesiredEnv without its prefix, platform and spec hash (which holds paths)."""
    data = codec.dump(want)
    for key in ("prefix", "platform", "spec_hash"):
        data.pop(key, None)
    return _spelled_alike(data, top)


def _templates_of(ws: Workspace, names: Iterable[str]) -> set[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        t = todo.pop()
        if t not in out and t in ws.templates:
            out.add(t)
            todo += ws.templates[t].extends
    return out


def _why_changed(
    name: str, new: Workspace, old: Workspace, top: Path, old_top: Path, differs: set[str]
) -> list[str]:
    """Why project `name`'s declaration differs, as far as can be said."""
    p, q = new.projects[name], old.projects[name]
    why: list[str] = []
    own = {**codec.dump(p), "env_file": None}
    was = {**codec.dump(q), "env_file": None}
    if _spelled_alike(own, top) != _spelled_alike(was, old_top):
        why.append(f"its [projects.{name}] table changed")
    pe, qe = p.env_file, q.env_file
    if (pe is None) != (qe is None) or (pe is not None and qe is not None and pe.raw != qe.raw):
        why.append("its environment file changed")
    elif _spelled_alike(codec.dump(pe), top) != _spelled_alike(codec.dump(qe), old_top):
        why.append("a requirements file its environment file reads changed")
    for t in sorted(_templates_of(new, p.extends)):
        if t not in old.templates or codec.dump(new.templates[t]) != codec.dump(old.templates[t]):
            why.append(f"template {t} changed")
    for dep in p.depends_on:
        if dep in differs:
            why.append(f"depends on {dep}, which changed")
    workspace_fields = ("channels", "channel_priority", "mirrors", "pip_options", "exclude_newer")
    if any(
        _spelled_alike(codec.dump(getattr(new, f)), top)
        != _spelled_alike(codec.dump(getattr(old, f)), old_top)
        for f in workspace_fields
    ):
        why.append("[workspace] changed")
    return why or ["its merged declaration changed"]


def _own_files(ws: Workspace, top: Path, changed: set[str]) -> dict[str, list[str]]:
    """Project -> packaging files of its own folder that changed."""
    out: dict[str, list[str]] = {}
    for name, p in ws.projects.items():
        try:
            folder = p.path.relative_to(top).as_posix()
        except ValueError:
            continue  # outside the repository: git knows nothing of it
        for path in sorted(changed):
            rest = path[len(folder) + 1 :] if path.startswith(folder + "/") else None
            if rest is None:
                continue
            parts = rest.split("/")
            if (len(parts) == 1 and OWN_FILES.fullmatch(parts[0])) or (
                len(parts) == 2
                and parts[0] == "requirements"
                and parts[1].endswith((".txt", ".in"))
            ):
                out.setdefault(name, []).append(path)
    return out


def _lock_changes(
    rev: _Revision,
    path: str,
    ref: str,
    root: Path,
    names: Iterable[str],
    engine: Engine,
    now: LockData | None,
) -> dict[str, str]:
    """Project -> how its entry of wsp.lock (`path` from the repository's top; `now`: the
    working tree's) differs from REF's: what `wsp apply --locked` installs changed."""
    raw = rev.read([path]).get(path)
    if raw is None and now is None:
        return {}
    empty = LockData(platforms=(), envs={}, hashes={})
    now = now or empty
    old = empty
    if raw is not None:
        with tempfile.TemporaryDirectory(prefix="wsp-affected-") as tmp:
            (Path(tmp) / LOCK_NAME).write_bytes(raw)
            try:  # read against today's root: relative channel paths resolve alike
                old = engine.read_lock(Path(tmp) / LOCK_NAME, root)
            except WspError:
                unreadable = f"{LOCK_NAME} at {ref} can't be read"
                return {n: unreadable for n in names if n in now.envs}
    out: dict[str, str] = {}
    for n in names:
        before, after = old.envs.get(n), now.envs.get(n)
        if before is None and after is None:
            continue
        if before is None:
            out[n] = f"its {LOCK_NAME} entry is new since {ref}"
        elif after is None:
            out[n] = f"its {LOCK_NAME} entry was removed since {ref}"
        elif before != after or old.hashes.get(n) != now.hashes.get(n):
            out[n] = f"its {LOCK_NAME} entry changed"
    return out


def _dependents(ws: Workspace, names: Iterable[str]) -> set[str]:
    from wsp import graph

    g = graph.build(ws)
    return graph.affected(g, [graph.project(n) for n in names])


def affected_since(
    ws: Workspace,
    desired: dict[str, DesiredEnv],
    ref: str,
    *,
    engine: Engine | None = None,
    lock: LockData | None = None,
) -> Affected:
    """The projects of `ws` (merged as `desired`) a change since git revision `ref`
    reaches. With `engine`, also those whose wsp.lock entry differs from `ref`'s (`lock`:
    the workspace's wsp.lock now, None when it has none). Raises WspError: not a git
    repository, an unknown revision, git missing."""
    from wsp import graph
    from wsp.manifest import load

    top = _repo(ws.root)
    if _NULL.fullmatch(ref):
        every = tuple(ws.projects)
        return Affected(
            ref,
            ref,
            ref,
            every,
            (),
            {n: ("no base revision to compare with",) for n in every},
            (
                f"{ref} is git's null revision (a push that created its branch): every "
                "project counts as affected",
            ),
        )
    commit = _commit(top, ref)
    merge_base = _git(top, "merge-base", commit, "HEAD")
    notes: list[str] = []
    if merge_base.returncode == 0:
        base = merge_base.stdout.decode().strip()
    else:
        base = commit
        notes.append(
            f"no common history of HEAD and {ref} here (a shallow clone?): compared with "
            f"{ref} itself"
        )
    manifest = ws.manifest_path.resolve().relative_to(top).as_posix()
    rev = _Revision(top, base)
    changed = _changed_files(top, base)
    names = list(ws.projects)
    why: dict[str, list[str]] = {}

    def result(projects: Iterable[str], removed: Iterable[str] = ()) -> Affected:
        chosen = set(projects)
        return Affected(
            ref,
            commit,
            base,
            tuple(n for n in names if n in chosen),
            tuple(removed),
            {n: tuple(why[n]) for n in names if n in chosen and n in why},
            tuple(notes),
        )

    old_raw = rev.read([manifest]).get(manifest)
    if old_raw is None:
        notes.append(f"{manifest} does not exist at {ref}: every project counts as affected")
        for n in names:
            why[n] = [f"{manifest} is new since {ref}"]
        return result(names)

    with _checked_out(rev, manifest, old_raw) as old_top:
        try:
            old_ws = load(old_top / manifest)
            old_desired = graph.desired(old_ws, graph.check(old_ws))
        except WspError as exc:
            message = str(exc).replace(f"{old_top}{os.sep}", f"{ref}:")
            notes.append(
                f"{manifest} at {ref} does not load ({message}): every project counts as affected"
            )
            for n in names:
                why[n] = [f"{manifest} at {ref} does not load"]
            return result(names)
        prints = {n: fingerprint(d, top) for n, d in desired.items()}
        old_prints = {n: fingerprint(d, old_top) for n, d in old_desired.items()}
        differs = {n for n in names if n in old_prints and prints[n] != old_prints[n]}
        for n in names:
            if n not in old_prints:
                why[n] = [f"new since {ref}"]
            elif n in differs:
                why[n] = _why_changed(n, ws, old_ws, top, old_top, differs)
        removed = [n for n in old_ws.projects if n not in ws.projects]

    if engine is not None:
        lock_path = (PurePosixPath(manifest).parent / LOCK_NAME).as_posix()
        for n, how in _lock_changes(rev, lock_path, ref, ws.root, names, engine, lock).items():
            why.setdefault(n, []).append(how)
    own = _own_files(ws, top, changed)
    for n, files in own.items():
        why.setdefault(n, []).extend(f"{f} changed" for f in files)
    reached = _dependents(ws, own) if own else set()
    for n in sorted(reached - set(own)):
        closure = graph.with_dependencies(ws, {n})
        via = [d for d in own if d != n and d in closure]
        why.setdefault(n, []).extend(f"depends on {d}, whose {own[d][0]} changed" for d in via)
    return result(set(why), removed)
