"""The one root error wsp raises, and the exit codes the CLI turns it into."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


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


class ManifestError(WspError):
    """An error in workspace.toml (or a file it names), located at LINE:COL."""

    def __init__(self, path: Path | str, line: int, col: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.col = col
        super().__init__(f"{display_path(self.path)}:{line}:{col}: {message}")


class ChannelUnreachable(WspError):
    """A channel could not be read: package versions are unknown."""

    def __init__(self, channel: str, detail: str = "") -> None:
        self.channel = channel
        self.detail = detail
        super().__init__(
            f"channel {channel} could not be reached" + (f" ({detail})" if detail else "")
        )


class SolveError(WspError):
    """The declared specs of a project have no solution on its channels."""


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
