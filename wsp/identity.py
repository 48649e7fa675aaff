"""Who a workspace is: its name, where its workspace.toml is, and an id of this checkout.

The id is a random token wsp writes once into `.wsp/id` (wsp's own state, never
committed), the first time it changes anything. It goes with the folder when the
workspace is moved, and a second checkout of the same repository gets its own. Every env
wsp builds records all three in its marker; an env is this workspace's when its marker
names this workspace and this workspace.toml, or, once that file is gone (the workspace
was moved), this checkout's id. Staging and trash folders in envs-dir carry the id's
first characters in their names, so that only this checkout tidies them.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

ID_NAME = "id"
_ID = re.compile(r"^[0-9a-f]{32}$")
STAGING = ".wsp-new-"  # an env being built beside its place, or a scratch fetch
TRASH = ".wsp-trash-"  # an env being deleted


@dataclass(frozen=True)
class Owner:
    """This workspace, as the markers of its envs name it."""

    name: str
    manifest: str
    id: str | None = None  # None until wsp first writes into the workspace

    @property
    def token(self) -> str | None:
        """What this checkout's staging and trash folders carry in their names."""
        return self.id[:12] if self.id else None

    def leftover_name(self, kind: str, env: str) -> str:
        """A new staging (`kind` STAGING) or trash (TRASH) folder name for `env`."""
        assert self.token is not None, "a workspace id is made before anything is built"
        return f"{kind}{self.token}-{env}-{os.urandom(4).hex()}"

    def owns_leftover(self, name: str) -> bool:
        """Whether a folder name in envs-dir is one of this checkout's staging or trash."""
        token = self.token
        return token is not None and name.startswith((f"{STAGING}{token}-", f"{TRASH}{token}-"))


def read_id(state_dir: Path) -> str | None:
    """This checkout's id, or None when wsp never wrote state here (or the file is not one)."""
    try:
        text = (state_dir / ID_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if _ID.match(text) else None


def ensure_id(state_dir: Path) -> str:
    """This checkout's id, made now when there is none (the caller holds the workspace lock)."""
    if (found := read_id(state_dir)) is not None:
        return found
    from wsp.fsutil import atomic_write_text

    new = os.urandom(16).hex()
    path = state_dir / ID_NAME
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # not an id wsp can read: replace it
    atomic_write_text(path, new + "\n")
    return new
