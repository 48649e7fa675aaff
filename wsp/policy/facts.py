"""What the rules look at: the workspace, what is on disk, and conda's installation.

Each part is read once, and only when a rule that is not off asks for it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wsp.condarc import AutoActivate, RcFile, auto_activate, read_rc, search_path
from wsp.engines import Package

if TYPE_CHECKING:
    from wsp.context import Context
    from wsp.engines import Engine
    from wsp.kernels import KernelFinding
    from wsp.lockfile import LockView

NO_CONDA = (
    "no conda installation found (looked at WSP_CONDA_ROOT, CONDA_EXE, MAMBA_ROOT_PREFIX, "
    "`conda info`, ~/miniforge3, ~/miniconda3, ~/anaconda3, /opt/conda): "
    "the base-env rules (WSP2xx) had nothing to check"
)


def dist_name(dist: str) -> str:
    """`numpy-1.26.4-py_0` -> `numpy`."""
    pkg = Package.from_dist(dist)
    return pkg.name if pkg is not None else dist


class Facts:
    def __init__(
        self,
        ctx: Context,
        *,
        now: datetime | None = None,
        engine: Engine | None = None,
        lock: LockView | Literal["unread"] | None = "unread",
    ) -> None:
        """`lock`: wsp.lock as the command already read it (None: there is none)."""
        self.ctx = ctx
        self.ws = ctx.ws
        self.now = now or datetime.now(UTC)
        self.notes: list[str] = []
        self._engine = engine
        if lock != "unread":
            self.__dict__["lock"] = lock  # the cached_property below, already answered

    @property
    def engine(self) -> Engine:
        """The package engine, for rules that look at channels (loaded on first use)."""
        if self._engine is None:
            from wsp.engines import get_engine

            self._engine = get_engine()
        return self._engine

    @cached_property
    def lock(self) -> LockView | None:
        """wsp.lock (its summary: parsed by the engine only when that is stale), or None
        when there is none or it can't be read (noted)."""
        from wsp import lockfile
        from wsp.errors import WspError

        class Later:  # the engine, loaded only if the lock's summary must be made again
            def __getattr__(_, name: str) -> object:
                return getattr(self.engine, name)

        try:
            return lockfile.read(self.ctx, Later())  # type: ignore[arg-type]
        except WspError as exc:
            self.note(f"{lockfile.LOCK_NAME} not checked: {exc}")
            return None

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    # conda's installation --------------------------------------------------------------
    @cached_property
    def conda_root(self) -> Path | None:
        from wsp.conda import find_conda_root

        return find_conda_root()

    def base_or_note(self) -> Path | None:
        """The conda root for a base rule; None (and a note saying so) without one."""
        if self.conda_root is None:
            self.note(NO_CONDA)
        return self.conda_root

    @cached_property
    def base_dists(self) -> dict[str, str]:
        """name -> dist of every package conda-meta records in base."""
        if self.conda_root is None:
            return {}
        try:
            with os.scandir(self.conda_root / "conda-meta") as it:
                dists = [e.name[:-5] for e in it if e.name.endswith(".json")]
        except OSError:
            return {}
        return {dist_name(d).lower(): d for d in sorted(dists)}

    @cached_property
    def conda_version(self) -> str | None:
        pkg = Package.from_dist(self.base_dists.get("conda") or "")
        return pkg.version if pkg is not None else None

    @cached_property
    def condarc_files(self) -> list[RcFile]:
        files = [read_rc(p) for p in search_path(self.conda_root)]
        for rc in files:
            if rc.problem:
                self.note(f"{rc.path}: {rc.problem}; conda would stop on it too")
        return files

    @cached_property
    def auto_activate(self) -> AutoActivate:
        return auto_activate([f for f in self.condarc_files if not f.problem], self.conda_version)

    @cached_property
    def kernel_findings(self) -> list[KernelFinding]:
        """wsp.kernels' findings; nothing is looked at in a workspace that declares no
        kernel and whose envs were built with none."""
        ctx = self.ctx
        if not any(w.kernel for w in ctx.desired.values()) and not any(
            o.marker and o.marker.declared and o.marker.declared.jupyter
            for o in ctx.observed.values()
        ):
            return []
        from wsp import kernels

        return kernels.check(ctx.ws, ctx.desired)
