"""What reading a workspace looks at on disk, recorded so a cached result can be checked.

Loading workspace.toml and merging the desired envs resolve paths (symlinks, `~`), look
whether files exist and read environment files. Those reads go through the functions
here; inside `record()` each one is noted as (kind, argument, answer). `still_true`
asks every question again: when every answer is the same, a result computed from those
answers (and from the same bytes of workspace.toml) is still right.

A question asked while `attribute(NAME)` is in force (the loader and the merge name the
project they work on) is also noted under NAME: when only NAME's answers change, only
NAME's result needs computing again (wsp/cache.py's incremental load).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

Answer = str | bool | None
Probe = tuple[str, str, Answer]  # (kind, argument, answer)


class Recording(list[Probe]):
    """Every question asked inside `record()` (the list), and those asked per name."""

    def __init__(self) -> None:
        super().__init__()
        self.unattributed: list[Probe] = []  # asked while no name was in force
        self.by_name: dict[str, list[Probe]] = {}  # asked while `attribute(name)`


class _State:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], Answer] = {}
        self.unattributed: dict[tuple[str, str], Answer] = {}
        self.by_name: dict[str, dict[tuple[str, str], Answer]] = {}
        self.name: str | None = None


_RECORDING: contextvars.ContextVar[_State | None] = contextvars.ContextVar(
    "wsp_probe_recording", default=None
)


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _blocked_by_file(path: str) -> bool:
    return os.path.exists(path) and not os.path.isdir(path)


def _conda_envs_dir(root: str) -> str:
    from wsp.conda import default_envs_dir

    return str(default_envs_dir(Path(root)).resolve())


# kind -> how to ask again
_ASK: dict[str, Callable[[str], Answer]] = {
    "resolve": os.path.realpath,  # what Path.resolve() answers, without making a Path
    "expanduser": lambda arg: str(Path(arg).expanduser()),
    "is_file": os.path.isfile,
    "is_dir": os.path.isdir,
    "blocked_by_file": _blocked_by_file,
    "sha256": _sha256,
    "conda_envs_dir": _conda_envs_dir,
}


def note(kind: str, arg: str, answer: Answer) -> None:
    """Record an answer found some other way (e.g. the sha256 of bytes already read)."""
    state = _RECORDING.get()
    if state is not None:
        state.seen[(kind, arg)] = answer
        if state.name is None:
            state.unattributed[(kind, arg)] = answer
        else:
            state.by_name.setdefault(state.name, {})[(kind, arg)] = answer


def attribute(name: str | None) -> None:
    """Note the questions asked from now on under `name` too (None: under no name), until
    the next call or the end of the recording. Outside `record()` it does nothing."""
    state = _RECORDING.get()
    if state is not None:
        state.name = name


@contextlib.contextmanager
def unattributed() -> Iterator[None]:
    """Note the questions asked inside under no name (what every project shares, e.g. a
    channel resolved once for all), then go back to the name in force before."""
    state = _RECORDING.get()
    name = state.name if state is not None else None
    attribute(None)
    try:
        yield
    finally:
        attribute(name)


def ask(kind: str, arg: str) -> Answer:
    """The answer to one question, recorded when recording."""
    answer = _ASK[kind](arg)
    note(kind, arg, answer)
    return answer


def resolve(path: Path) -> Path:
    """`path.resolve()`, recorded."""
    out = path.resolve()
    note("resolve", str(path), str(out))
    return out


def expanduser(path: Path) -> Path:
    """`path.expanduser()`, recorded (it depends on HOME)."""
    out = path.expanduser()
    note("expanduser", str(path), str(out))
    return out


def is_file(path: Path) -> bool:
    return bool(ask("is_file", str(path)))


def is_dir(path: Path) -> bool:
    return bool(ask("is_dir", str(path)))


@contextlib.contextmanager
def record() -> Iterator[Recording]:
    """Record every question asked inside; the Recording is filled when the block ends."""
    state = _State()
    token = _RECORDING.set(state)
    out = Recording()
    try:
        yield out
    finally:
        _RECORDING.reset(token)
        out.extend(_listed(state.seen))
        out.unattributed.extend(_listed(state.unattributed))
        out.by_name.update((name, _listed(seen)) for name, seen in state.by_name.items())


def _listed(seen: dict[tuple[str, str], Answer]) -> list[Probe]:
    return [(kind, arg, answer) for (kind, arg), answer in seen.items()]


def still_true(probes: Iterable[Probe]) -> bool:
    """Whether every recorded question gets the same answer now."""
    return next(_answered_otherwise(probes), None) is None


def changed(probes: Iterable[Probe]) -> set[Probe]:
    """The recorded questions that get another answer now, asked in one pass (the folders
    of many paths resolved once)."""
    return set(_answered_otherwise(probes))


def _answered_otherwise(probes: Iterable[Probe]) -> Iterator[Probe]:
    asks = {**_ASK, "resolve": _Realpaths().realpath}
    for probe in probes:
        kind, arg, answer = probe
        ask_ = asks.get(kind)
        try:
            if ask_ is None or ask_(arg) != answer:
                yield probe
        except (OSError, RuntimeError, ValueError):
            yield probe


class _Realpaths:
    """os.path.realpath for many paths under the same folders (every project's folder):
    each folder resolved once, then one lstat per path, as realpath's own walk does."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {"/": "/"}

    def realpath(self, path: str) -> str:
        head, tail = os.path.split(path)
        if not os.path.isabs(path) or tail in ("", ".", "..") or os.path.normpath(path) != path:
            return os.path.realpath(path)
        folder = self._folders.get(head)
        if folder is None:
            folder = self._folders[head] = self.realpath(head)
        here = os.path.join(folder, tail)
        try:
            if stat.S_ISLNK(os.lstat(here).st_mode):
                return os.path.realpath(path)
        except OSError:
            pass  # a missing part: realpath (not strict) keeps the name as it is
        return here
