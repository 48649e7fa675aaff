"""Why a plan does what it does to an env: one typed Reason per cause.

Every reason is a small frozen dataclass carrying its data; its code is stable for
machines (`ReasonCode`), its message is built from the data for people. The plan's JSON
gives both: `reasons` (messages), `reason_codes` and `reason_details` (code, message, data).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from wsp.sysreq import Unmet, describe


class ReasonCode(StrEnum):
    MISSING = "missing"
    NOT_OWNED = "not-owned"
    HALF_BUILT = "half-built"
    MOVED = "moved"
    PYTHON_CHANGED = "python-changed"
    SPEC_CHANGED = "spec-changed"
    DRIFT = "drift"
    PIP = "pip"
    LOCK = "lock"
    REFRESH = "refresh"
    UNDECLARED = "undeclared"
    READ_ONLY = "read-only"
    ROLLBACK = "rollback"
    UNPACK = "unpack"
    DESTROY = "destroy"
    HOST = "host"
    SYSTEM_REQUIREMENTS = "system-requirements"
    VARIANT = "variant"


@dataclass(frozen=True)
class Reason:
    """Why an action is planned. Subclasses carry their data and build their message."""

    code: ClassVar[ReasonCode]

    @property
    def message(self) -> str:
        raise NotImplementedError

    @property
    def next_steps(self) -> tuple[str, ...]:
        """Ways forward, when the action needs the user (a blocked env)."""
        return ()

    def data(self) -> dict[str, Any]:
        from wsp import codec

        return {f.name: codec.dump(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> dict[str, Any]:
        out = {"code": str(self.code), "message": self.message, "data": self.data()}
        if self.next_steps:
            out["next_steps"] = list(self.next_steps)
        return out


@dataclass(frozen=True)
class Missing(Reason):
    code = ReasonCode.MISSING

    @property
    def message(self) -> str:
        return "env does not exist"


@dataclass(frozen=True)
class NotOwned(Reason):
    code = ReasonCode.NOT_OWNED
    env: str
    why: str
    project: str = ""  # the project whose env it is in the way of
    prefix: str = ""
    frozen: bool = False  # conda-meta/frozen: conda removes it only with --override-frozen
    owner: str = ""  # the workspace.toml of the wsp workspace it belongs to, if another's
    owner_project: str = ""  # its project there
    private_to: str = ""  # the user whose env this user may not read (a private umask)

    @property
    def message(self) -> str:
        return f"an env named {self.env!r} exists but {self.why}; wsp leaves it alone"

    @property
    def next_steps(self) -> tuple[str, ...]:
        where = self.prefix or self.env
        if self.private_to:  # nothing of it can be read, imported or removed by this user
            return (
                f"ask {self.private_to} to let the group read it (`chmod -R g+rX {where}`), "
                "or to build it again with umask 002 (an env built under umask 077 is theirs "
                "alone)",
                *_renames(self.project or self.env, self.env),
            )
        remove = f"conda env remove {'--override-frozen ' if self.frozen else ''}-p {where}"
        if self.owner:  # another workspace's env: that workspace removes it
            last = (
                "or remove that env if nothing needs it, from the workspace that made it: "
                f"`wsp -C {os.path.dirname(self.owner)} destroy --target {self.owner_project}` "
                f"(or `{remove}`), then `wsp apply` again"
            )
        else:
            last = (
                f"or remove that env if nothing needs it (`{remove}`, or delete the folder), "
                "then `wsp apply` again"
            )
        return (
            *_renames(self.project or self.env, self.env),
            f"or `wsp import --env {where} --as NAME`: declare what that env holds as a "
            "project of its own (wsp builds it as a new env)",
            last,
        )


def _renames(project: str, env: str) -> tuple[str, str]:
    """The ways forward that give a project's env another place."""
    prefix = env[: -len(project)] if env != project and env.endswith(project) else ""
    return (
        f"rename the project ([projects.{project}] in workspace.toml): its env is named after it",
        f"or change env-prefix in [workspace] (now {prefix!r}): every env of this workspace "
        "gets another name"
        if prefix
        else 'or set env-prefix in [workspace] (e.g. env-prefix = "ws-"): every env of this '
        "workspace gets a name of its own",
    )


@dataclass(frozen=True)
class NotAnEnv(Reason):
    """A folder that is no conda env (no conda-meta, or empty) is where the env would be:
    wsp neither builds over it nor ever deletes it."""

    code = ReasonCode.NOT_OWNED
    env: str
    project: str = ""
    prefix: str = ""

    @property
    def message(self) -> str:
        return (
            f"a folder that is not a conda env (no conda-meta) is where env {self.env!r} "
            "would be; wsp never builds over a folder it did not make"
        )

    @property
    def next_steps(self) -> tuple[str, ...]:
        return (
            *_renames(self.project or self.env, self.env),
            f"or, if that folder is yours and nothing needs it, move or delete it "
            f"({self.prefix or self.env}), then `wsp apply` again",
        )


@dataclass(frozen=True)
class HalfBuilt(Reason):
    code = ReasonCode.HALF_BUILT

    @property
    def message(self) -> str:
        return "env is half-built: an earlier apply did not finish"


@dataclass(frozen=True)
class EnvMoved(Reason):
    code = ReasonCode.MOVED
    built_at: str

    @property
    def message(self) -> str:
        return f"env was moved from {self.built_at}: conda envs hold their path"


@dataclass(frozen=True)
class WorkspaceMoved(Reason):
    code = ReasonCode.MOVED
    manifest: str

    @property
    def message(self) -> str:
        return f"workspace moved from {self.manifest}: marker updated"


@dataclass(frozen=True)
class PythonChanged(Reason):
    """The env's Python changes major.minor: it is rebuilt."""

    code = ReasonCode.PYTHON_CHANGED
    installed: str
    wanted: str

    @property
    def message(self) -> str:
        return f"python {self.installed} -> {self.wanted}"


@dataclass(frozen=True)
class SpecChanged(Reason):
    """Entries added to or dropped from one list of the declaration."""

    code = ReasonCode.SPEC_CHANGED
    what: str  # "dependencies", "pip", "editable projects", "channels"
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        change = ", ".join([f"+ {s}" for s in self.added] + [f"- {s}" for s in self.removed])
        return f"{self.what} changed: {change}"


@dataclass(frozen=True)
class PythonSpecChanged(Reason):
    """The declared python spec changed (within the same major.minor)."""

    code = ReasonCode.SPEC_CHANGED
    before: str | None
    after: str | None

    @property
    def message(self) -> str:
        return f"python changed: {self.before or 'none'} -> {self.after or 'none'}"


@dataclass(frozen=True)
class ExcludeNewerChanged(Reason):
    """`exclude-newer` was set, moved or removed: the solve sees other packages."""

    code = ReasonCode.SPEC_CHANGED
    before: str | None
    after: str | None

    @property
    def message(self) -> str:
        return f"exclude-newer changed: {self.before or 'none'} -> {self.after or 'none'}"


@dataclass(frozen=True)
class DeclarationChanged(Reason):
    """The declaration's hash changed in a way no list shows (e.g. a channel's mirror)."""

    code = ReasonCode.SPEC_CHANGED

    @property
    def message(self) -> str:
        return "declaration changed"


@dataclass(frozen=True)
class Drift(Reason):
    """What changed in the env outside wsp: `+ name version`, `- name version`, ..."""

    code = ReasonCode.DRIFT
    changes: tuple[str, ...]

    @property
    def message(self) -> str:
        return f"changed outside wsp: {', '.join(self.changes)}"


@dataclass(frozen=True)
class PipResolved(Reason):
    code = ReasonCode.PIP

    @property
    def message(self) -> str:
        return "pip requirements resolve to other versions"


@dataclass(frozen=True)
class LockDiffers(Reason):
    code = ReasonCode.LOCK

    @property
    def message(self) -> str:
        return "wsp.lock holds other versions"


@dataclass(frozen=True)
class LockBehind(Reason):
    """The env was installed from a wsp.lock older than the declaration (apply --frozen),
    or unpacked from a pack of one (`pack`: the archive's name)."""

    code = ReasonCode.LOCK
    pack: str | None = None

    @property
    def message(self) -> str:
        if self.pack is not None:
            return (
                f"unpacked from {self.pack}, packed for an older declaration: brought up to "
                "workspace.toml"
            )
        return (
            "installed from an out-of-date wsp.lock (apply --frozen): brought up to workspace.toml"
        )


@dataclass(frozen=True)
class Refresh(Reason):
    code = ReasonCode.REFRESH

    @property
    def message(self) -> str:
        return "marker out of date; packages already match"


@dataclass(frozen=True)
class Undeclared(Reason):
    code = ReasonCode.UNDECLARED
    project: str

    @property
    def message(self) -> str:
        return f"project {self.project!r} is no longer in workspace.toml"


@dataclass(frozen=True)
class ReadOnly(Reason):
    code = ReasonCode.READ_ONLY
    why: str
    kind: str  # what wsp would have done

    @property
    def message(self) -> str:
        return (
            f"env is read-only ({self.why}); wsp leaves it alone: "
            f"make it writable to let wsp {self.kind} it"
        )


@dataclass(frozen=True)
class Rollback(Reason):
    code = ReasonCode.ROLLBACK
    applied_at: str
    build: int = 0  # the kept build it goes back to (0: one kept before wsp numbered builds)

    @property
    def message(self) -> str:
        which = f"build {self.build}" if self.build else "its previous build"
        return f"back to {which}, applied {self.applied_at or 'at an unknown time'}"


@dataclass(frozen=True)
class Unpacked(Reason):
    code = ReasonCode.UNPACK
    archive: str
    made_at: str

    @property
    def message(self) -> str:
        return f"from pack {self.archive} (made {self.made_at or 'at an unknown time'})"


@dataclass(frozen=True)
class Destroy(Reason):
    code = ReasonCode.DESTROY

    @property
    def message(self) -> str:
        return "wsp destroy"


def _lacks(unmet: tuple[Unmet, ...]) -> str:
    hints = [u.hint for u in unmet if u.hint]
    text = "; ".join(u.message for u in unmet)
    return f"{text}; {'; '.join(hints)}" if hints else text


@dataclass(frozen=True)
class HostCannotRun(Reason):
    """This machine lacks what the env's system requirements (or its platform's defaults)
    need: the env is not built; what each candidate variant lacks."""

    code = ReasonCode.HOST
    lacking: tuple[tuple[str, tuple[Unmet, ...]], ...]

    @property
    def message(self) -> str:
        if len(self.lacking) == 1:
            return f"this machine can't run it: {_lacks(self.lacking[0][1])}"
        each = " | ".join(f"{name} {_lacks(unmet)}" for name, unmet in self.lacking)
        return f"this machine can run none of its platform variants: {each}"


@dataclass(frozen=True)
class SystemRequirementsChanged(Reason):
    """The system requirements the env is solved with changed."""

    code = ReasonCode.SYSTEM_REQUIREMENTS
    before: dict[str, str]
    after: dict[str, str]

    @property
    def message(self) -> str:
        parts = []
        for key in sorted(self.before.keys() | self.after.keys()):
            old, new = self.before.get(key), self.after.get(key)
            if old is None:
                parts.append(f"+ {key} {new}")
            elif new is None:
                parts.append(f"- {key} {old}")
            elif old != new:
                parts.append(f"{key} {old} -> {new}")
        return f"system requirements changed: {', '.join(parts) or describe(self.after)}"


@dataclass(frozen=True)
class VariantChanged(Reason):
    """The env is built for another platform variant (the machine can run another one)."""

    code = ReasonCode.VARIANT
    before: str | None
    after: str

    @property
    def message(self) -> str:
        return f"platform variant {self.before or 'none'} -> {self.after}"
