"""Shared pytest fixtures for the wsp test suite.

Keep this file sectioned; append new fixtures under their own heading.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# Make ``tests.support`` importable under plain ``pytest`` too (``python -m pytest``
# already puts the repo root on sys.path).
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.support.channel import (  # noqa: E402
    build_channel,
    current_platform,
    other_platform,
)

# ---------------------------------------------------------------------------
# Local conda channel (tests/support/channel.py)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session-wide seed channel (current platform + one other subdir). Do not mutate."""
    root = tmp_path_factory.mktemp("seed-channel") / "channel"
    return build_channel(root, subdirs=[current_platform(), other_platform()])


@pytest.fixture
def fresh_channel(channel: Path, tmp_path: Path) -> Path:
    """Private, mutable copy of the seed channel for one test."""
    return Path(shutil.copytree(channel, tmp_path / "channel"))
