"""The one root error wsp raises, and the exit codes the CLI turns it into."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path

# `wsp -v`: errors carry their whole chain of causes (as WSP_DEBUG=1 does)
VERBOSE = False


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2  # `plan --detailed-exitcode`: changes are pending
    INTERRUPTED = 130


class WspError(Exception):
    """An error the user can act on. The CLI prints it as one line and exits 1."""

    exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.stage: str | None = None  # the pipeline step it stopped (wsp.workflow.stage)

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def lines(self) -> list[str]:
        """What the CLI prints: one line per error (one, but for ManifestErrors)."""
        return [str(self)]


class ManifestError(WspError):
    """An error in workspace.toml (or a file it names), located at LINE:COL."""

    def __init__(self, path: Path | str, line: int, col: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.col = col
        super().__init__(f"{display_path(self.path)}:{line}:{col}: {message}")


class ChannelUnreachable(WspError):
    """A channel could not be read: package versions are unknown.

    `detail` is the error's text (rattler's, its causes on further lines); it is read
    once into `url` (what failed, credentials removed), `cause` (DNS, HTTP 404, no such
    file, TLS, refused, ...) and a hint (wsp.netfail). Under WSP_DEBUG=1 the message
    ends with rattler's whole chain of causes."""

    def __init__(self, channel: str, detail: str = "", *, url: str | None = None) -> None:
        from wsp.netfail import classify

        self.channel = channel
        self.raw = detail
        self.failure = classify(detail, url)
        self.url = self.failure.url
        self.cause = self.failure.cause
        self.detail = self.failure.summary
        if (VERBOSE or os.environ.get("WSP_DEBUG")) and self.failure.chain:
            self.detail += " [rattler: " + " <- ".join(self.failure.chain) + "]"
        super().__init__(
            f"channel {channel} could not be reached: {self.detail}", hint=self.failure.hint
        )


class SolveError(WspError):
    """The declared specs of a project have no solution on its channels. `names`: the
    requested packages the solver's explanation blames, the most likely first."""

    def __init__(self, message: str, *, names: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.names = names


class ManifestErrors(ManifestError):
    """Several located errors found in one pass (every project a plan can't solve), each
    printed on its own line; located, like its first."""

    def __init__(self, errors: Sequence[ManifestError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0]
        self.path, self.line, self.col = first.path, first.line, first.col
        WspError.__init__(self, "\n".join(e.message for e in self.errors))

    def lines(self) -> list[str]:
        return [e.message for e in self.errors]

    @classmethod
    def of(cls, errors: Sequence[ManifestError]) -> ManifestError:
        """What to raise for `errors` (at least one): the error itself when there is one."""
        return errors[0] if len(errors) == 1 else cls(errors)


class LockUnreadable(WspError):
    """wsp.lock can't be parsed: located at LINE:COL when the parser says where. `wsp lock`
    writes it again from workspace.toml; what needs the lock stops here."""

    def __init__(
        self, path: Path | str, what: str, line: int | None = None, col: int | None = None
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.col = col
        where = display_path(self.path) + (f":{line}:{col}" if line is not None else "")
        super().__init__(f"{where}: can't be read: {what}", hint="run `wsp lock` to write it again")


class LockHeld(WspError):
    """Another wsp process holds the workspace lock."""


class StalePlan(WspError):
    """A saved plan no longer matches the workspace or the envs."""


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the cwd when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
