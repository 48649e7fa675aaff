"""The workspace lock names its holder. Applies at once, and the lock of a killed apply,
are in test_concurrency.py."""

from __future__ import annotations

import os
from collections.abc import Callable

from tests.support.cli import Workspace

SMALL = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["six"]

[projects.webdev]
python = "3.12"
dependencies = ["click"]
"""


def owned_envs(ws: Workspace) -> list[str]:
    if not ws.envs_dir.exists():
        return []
    return sorted(p.name for p in ws.envs_dir.iterdir() if not p.name.startswith("."))


def test_apply_waits_then_names_the_holder(make_workspace: Callable[..., Workspace]) -> None:
    from wsp.applylock import workspace_lock

    ws = make_workspace(SMALL)
    with workspace_lock(ws.root / ".wsp", timeout=0):
        r = ws.wsp("apply", "--yes", WSP_LOCK_TIMEOUT="1")
    assert r.code == 1, r
    assert f"pid {os.getpid()}" in r.stderr, r
    assert "internal error" not in r.stderr, r
    assert owned_envs(ws) == []
