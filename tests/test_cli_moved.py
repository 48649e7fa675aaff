"""A workspace moved or renamed on disk: its envs are still its own."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from tests.support.cli import Workspace

TWO = """\
[workspace]
name = "acme-research"
envs-dir = "{envs}"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.alpha]
python = "3.12"
dependencies = ["click"]

[projects.beta]
python = "3.12"
"""


def test_envs_outside_a_moved_workspace_are_adopted(
    make_workspace: Callable[..., Workspace], tmp_path
) -> None:
    envs = tmp_path / "shared-envs"
    old = make_workspace(TWO.replace("{envs}", str(envs)), name="old")
    assert old.wsp("apply", "--yes").code == 0
    new_root = tmp_path / "renamed"
    shutil.move(old.root, new_root)
    new = Workspace(new_root, old.channel, old.env)
    # beta is no longer declared: a moved env is adopted, never pruned on a guess
    new.edit('[projects.beta]\npython = "3.12"\n', "")

    r = new.wsp("plan", "--json")
    assert r.code == 0, r
    actions = {a["env"]: a for a in r.json["actions"]}
    assert actions["alpha"]["action"] == "update"
    assert any("workspace moved from" in m for m in actions["alpha"]["reasons"])
    assert "beta" not in actions
    assert any("beta" in n and "gone" in n for n in r.json["notes"])

    assert new.wsp("apply", "--yes").code == 0
    assert new.wsp("plan", "--detailed-exitcode").code == 0
    assert (envs / "beta" / "conda-meta").is_dir()  # left alone
    r = new.wsp("destroy", "--yes")
    assert r.code == 0, r
    assert not (envs / "alpha").exists()
    assert (envs / "beta").exists()


def test_envs_moved_with_the_workspace_are_rebuilt(
    make_workspace: Callable[..., Workspace], tmp_path
) -> None:
    old = make_workspace(TWO.replace("{envs}", ".wsp/envs"), name="old")
    assert old.wsp("apply", "--yes").code == 0
    new_root = tmp_path / "moved"
    shutil.move(old.root, new_root)
    new = Workspace(new_root, old.channel, old.env)
    r = new.wsp("plan", "--json")
    kinds = {a["env"]: (a["action"], a["reasons"]) for a in r.json["actions"]}
    assert kinds["alpha"][0] == "replace"
    assert "env was moved from" in kinds["alpha"][1][0]
    assert new.wsp("apply", "--yes").code == 0
    assert new.wsp("plan", "--detailed-exitcode").code == 0
