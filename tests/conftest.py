"""Shared pytest fixtures for the wsp test suite.

Keep this file sectioned; append new fixtures under their own heading.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.channel import (
    build_channel,
    build_runnable_channel,
    current_platform,
    other_platform,
)
from tests.support.cli import SEED_TOML, Workspace, base_env

# ---------------------------------------------------------------------------
# Local conda channel (tests/support/channel.py)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session-wide seed channel (current platform + one other subdir). Do not mutate."""
    root = tmp_path_factory.mktemp("seed-channel") / "channel"
    return build_channel(root, subdirs=[current_platform(), other_platform()])


@pytest.fixture(scope="session")
def runnable_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed channel whose python of this interpreter's major.minor really runs
    (bin/python is this interpreter, venv-style), for the pip layer and `wsp run`."""
    return build_runnable_channel(tmp_path_factory.mktemp("runnable") / "channel")


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SEED_WHEELS plus `httpthing`, a wheel that needs `requests` (also a seed wheel):
    a find-links folder for uv, no index, no network."""
    from tests.support.wheels import build_wheel, build_wheelhouse

    out = build_wheelhouse(tmp_path_factory.mktemp("wheelhouse") / "wheels")
    build_wheel(out, "httpthing", "1.0.0", ("requests>=2",))
    return out


@pytest.fixture
def fresh_channel(channel: Path, tmp_path: Path) -> Path:
    """Private, mutable copy of the seed channel for one test."""
    return Path(shutil.copytree(channel, tmp_path / "channel"))


# ---------------------------------------------------------------------------
# Workspaces driven through the CLI (tests/support/cli.py)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def package_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One rattler cache for the session: installs after the first are warm."""
    return tmp_path_factory.mktemp("wsp-cache")


@pytest.fixture
def wsp_env(tmp_path: Path, package_cache: Path) -> dict[str, str]:
    """Environment for `wsp` subprocesses: private HOME, no conda, shared cache."""
    return base_env(tmp_path / "home", package_cache)


@pytest.fixture
def make_workspace(
    tmp_path: Path, channel: Path, wsp_env: dict[str, str]
) -> Callable[..., Workspace]:
    """`make_workspace(toml=SEED_TOML, name="ws")`: a workspace folder whose conda-forge
    is mirrored to the session channel; `{channel}` in the text is the channel's file URL."""

    def make(toml: str = SEED_TOML, name: str = "ws", chan: Path | None = None) -> Workspace:
        ws = Workspace(tmp_path / name, chan or channel, wsp_env)
        ws.root.mkdir(parents=True, exist_ok=True)
        ws.write(toml)
        return ws

    return make


@pytest.fixture
def workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    """The seed workspace (finance 3.9, vision 3.11, webdev 3.12), not applied yet."""
    return make_workspace()


# ---------------------------------------------------------------------------
# A second, unprivileged user (tests/support/users.py)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def other_user() -> object:
    """The second user (`wsp-other`, member of group `wsp-shared`); skipped with the reason
    when one cannot be made here."""
    from tests.support.users import other_user as make

    user, why = make()
    if user is None:
        pytest.skip(why)
    return user


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder every user can traverse (pytest's tmp_path is root's only)."""
    from tests.support.users import shared_tmp as make

    path = make()
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------
# GPU packaging (tests/support/channel.py CUDA_PACKAGES)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cuda_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed channel plus CUDA_PACKAGES (pytorch CPU and CUDA builds, cuda-version,
    pytorch-cuda), for the GPU tests only. Do not mutate."""
    from tests.support.channel import CUDA_PACKAGES, SEED_PACKAGES

    root = tmp_path_factory.mktemp("cuda-channel") / "channel"
    return build_channel(
        root, [*SEED_PACKAGES, *CUDA_PACKAGES], [current_platform(), other_platform()]
    )
