"""A read-only env is left alone, and wsp says why.

An env whose folder or conda-meta has no write permission was frozen on purpose (a lab
keeping a published env, a shared read-only mount): wsp plans no change to it, shows
it as blocked with the reason, and carries on with the other envs. This holds even for
root, who could write anyway: wsp goes by the permission bits.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import SEED_TOML, Workspace, snapshot
from tests.test_cli_safety import tree, unowned_env


def freeze(prefix: Path) -> None:
    for path in (prefix / "conda-meta", prefix):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def thaw(prefix: Path) -> None:
    for path in (prefix, prefix / "conda-meta"):
        if path.exists():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.fixture
def ws(make_workspace: Callable[..., Workspace]) -> Iterator[Workspace]:
    ws = make_workspace(SEED_TOML)
    assert ws.wsp("apply", "--yes").code == 0
    yield ws
    for prefix in ws.envs_dir.iterdir():  # let pytest clean up its temp folder
        thaw(prefix)


def test_a_read_only_env_is_blocked_with_its_reason(ws: Workspace) -> None:
    finance, webdev = ws.envs_dir / "finance", ws.envs_dir / "webdev"
    freeze(finance)
    freeze(webdev)
    ws.edit('"pandas>=2", "scikit-learn"', '"pandas>=2"')  # finance: update
    ws.edit('python = "3.11"\n', 'python = "3.12"\n')  # vision: replace, still writable
    text = ws.manifest.read_text()
    ws.manifest.write_text(text[: text.index("[projects.webdev]")])  # webdev: prune
    before = {"finance": snapshot(finance), "webdev": snapshot(webdev)}

    plan = ws.wsp("plan", "--json")
    actions = {a["env"]: a for a in plan.json["actions"]}
    assert {env: a["action"] for env, a in actions.items()} == {
        "finance": "blocked",
        "vision": "replace",
        "webdev": "blocked",
    }
    for env, prefix in (("finance", finance), ("webdev", webdev)):
        assert actions[env]["reason_codes"] == ["read-only"], actions[env]
        assert str(prefix) in actions[env]["reasons"][0]
        assert "make it writable" in actions[env]["reasons"][0]

    human = ws.wsp("plan")
    assert "env is read-only" in human.stdout, human

    result = ws.wsp("apply", "--yes")
    assert result.code == 1, result
    assert f"finance: not applied: env is read-only ({finance}" in result.stderr, result
    assert f"webdev: not applied: env is read-only ({webdev}" in result.stderr, result
    assert "Traceback" not in result.output
    assert snapshot(finance) == before["finance"]
    assert snapshot(webdev) == before["webdev"]
    assert ws.versions("vision")["python"].startswith("3.12")  # the others go on

    destroy = ws.wsp("destroy", "--yes", "--target", "finance")
    assert destroy.code == 1, destroy
    assert "read-only" in destroy.output, destroy
    assert snapshot(finance) == before["finance"]

    thaw(finance)
    thaw(webdev)
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    assert "scikit-learn" not in ws.versions("finance")
    assert not webdev.exists()


def test_a_read_only_env_not_made_by_wsp_is_never_touched(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(SEED_TOML)
    stranger = unowned_env(ws.envs_dir / "finance")  # has a declared project's name
    freeze(stranger)
    try:
        before = tree(stranger)
        result = ws.wsp("apply", "--yes")
        assert result.code == 1, result
        assert "finance: not applied:" in result.stderr
        assert "not created by wsp" in result.stderr, result
        assert tree(stranger) == before
        assert os.access(ws.envs_dir / "webdev" / "conda-meta" / "wsp", os.R_OK)
    finally:
        thaw(stranger)
