"""What one planned action does to one env: ActionKind, and how each kind is shown.

Kept apart from the reasons (wsp/reasons.py): a no-op plan needs the kinds, never a reason.
"""

from __future__ import annotations

from enum import StrEnum


class ActionKind(StrEnum):
    """What one action does to one env."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    PRUNE = "prune"
    NOOP = "no-op"
    BLOCKED = "blocked"

    @property
    def is_change(self) -> bool:
        """Shown in a plan and counted as pending (blocked too: it needs the user)."""
        return self is not ActionKind.NOOP

    @property
    def destructive(self) -> bool:
        """Deletes an env (or its old build): watch waits for --allow-destroy."""
        return self in (ActionKind.REPLACE, ActionKind.PRUNE)

    @property
    def builds(self) -> bool:
        """Installs packages into the env."""
        return self in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.REPLACE)

    @property
    def fresh(self) -> bool:
        """Builds the env from nothing: no package of an old one (conda's or pip's) stays."""
        return self in (ActionKind.CREATE, ActionKind.REPLACE)

    @property
    def symbol(self) -> str:
        return _LOOK[self][0]

    @property
    def color(self) -> str:
        return _LOOK[self][1]

    @property
    def past(self) -> str:
        """`created`, `updated`, ...: how a summary says it was done."""
        return _LOOK[self][2]


_LOOK = {
    ActionKind.CREATE: ("+", "green", "created"),
    ActionKind.UPDATE: ("~", "yellow", "updated"),
    ActionKind.REPLACE: ("-/+", "magenta", "replaced"),
    ActionKind.PRUNE: ("-", "red", "pruned"),
    ActionKind.NOOP: (" ", "dim", "unchanged"),
    ActionKind.BLOCKED: ("!", "red", "blocked"),
}
