"""wsp deletes or rewrites only envs whose marker names this workspace; the rest is left alone.

Unowned envs, envs of other workspaces, unreadable markers and symlinks are set up by
hand in envs-dir, then `wsp plan`, `wsp apply` and `wsp destroy` run against them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import Workspace

ONE = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.alpha]
python = "3.12"
dependencies = ["six"]
"""


# -- hand-made envs ---------------------------------------------------------------------------


def unowned_env(prefix: Path) -> Path:
    """What `conda create` leaves: package records and files, no wsp marker."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    (meta / "history").write_text("==> 2024-01-01 00:00:00 <==\n# cmd: conda create\n")
    (meta / "tool-1.0-0.json").write_text(
        json.dumps({"name": "tool", "version": "1.0", "build": "0", "files": ["share/tool/DATA"]})
    )
    (prefix / "share" / "tool").mkdir(parents=True)
    (prefix / "share" / "tool" / "DATA").write_text(f"precious data of {prefix.name}\n")
    return prefix


def marked_env(prefix: Path, *, workspace: str, manifest: str, project: str) -> Path:
    """An env carrying a well-formed wsp marker (of whichever workspace is given)."""
    unowned_env(prefix)
    marker = {
        "format": 1,
        "workspace": workspace,
        "manifest": manifest,
        "project": project,
        "env": prefix.name,
        "state": "complete",
        "spec_hash": "sha256:0",
        "installed_hash": "sha256:0",
        "packages": ["tool-1.0-0"],
    }
    (prefix / "conda-meta" / "wsp").write_text(json.dumps(marker))
    return prefix


def garbage_env(prefix: Path) -> Path:
    unowned_env(prefix)
    (prefix / "conda-meta" / "wsp").write_text("this is {not json\n")
    return prefix


def tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` with its bytes (symlinks not followed)."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def environments_txt(ws: Workspace) -> list[str]:
    path = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    return path.read_text().splitlines() if path.exists() else []


# -- tests ------------------------------------------------------------------------------------


def test_envs_not_owned_are_left_alone_by_plan_apply_and_destroy(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace(ONE)
    envs = ws.envs_dir
    manifest = str(ws.manifest.resolve())
    strangers = {
        "stranger": unowned_env(envs / "stranger"),
        "other": marked_env(
            envs / "other",
            workspace="other-lab",
            manifest="/elsewhere/workspace.toml",
            project="other",
        ),
        "twin": marked_env(  # same workspace name, another checkout
            envs / "twin",
            workspace="acme-research",
            manifest=str(tmp_path / "checkout-2" / "workspace.toml"),
            project="twin",
        ),
        "garbage": garbage_env(envs / "garbage"),
    }
    # a symlink out of envs-dir to an env that claims to be ours: never followed
    outside = marked_env(
        tmp_path / "outside" / "ghost",
        workspace="acme-research",
        manifest=manifest,
        project="ghost",
    )
    (envs / "linked").symlink_to(outside, target_is_directory=True)
    before = {name: tree(path) for name, path in strangers.items()}
    outside_before = tree(outside)

    plan = ws.wsp("plan")
    assert plan.code == 0, plan
    for name in (*strangers, "linked"):
        lines = [ln for ln in plan.stdout.splitlines() if str(envs / name) in ln]
        assert any("left alone" in ln for ln in lines), (
            f"{name} not reported as left alone:\n{plan}"
        )
    assert "Plan: 1 to create, 0 to update, 0 to replace, 0 to prune; 0 unchanged." in plan.stdout
    assert "blocked" not in plan.stdout, plan

    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert ws.versions("alpha")["six"] == "1.16.0"

    r = ws.wsp("destroy", "--yes")
    assert r.code == 0, r
    assert not (envs / "alpha").exists()
    assert str(envs / "alpha") not in environments_txt(ws)
    assert sorted(p.name for p in envs.iterdir() if not p.name.startswith(".")) == sorted(
        [*strangers, "linked"]
    )
    assert {name: tree(path) for name, path in strangers.items()} == before
    assert (envs / "linked").is_symlink()
    assert os.readlink(envs / "linked") == str(outside)
    assert tree(outside) == outside_before


BLOCKED = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.alpha]
python = "3.12"

[projects.gamma]
python = "3.12"

[projects.delta]
python = "3.12"

[projects.epsilon]
python = "3.12"

[projects.zeta]
python = "3.12"

[projects.eta]
python = "3.12"
"""


def test_declared_name_taken_by_an_env_not_ours_is_blocked(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace(BLOCKED)
    envs = ws.envs_dir
    taken = {
        "gamma": unowned_env(envs / "gamma"),
        "delta": garbage_env(envs / "delta"),
        "epsilon": marked_env(
            envs / "epsilon",
            workspace="other-lab",
            manifest="/elsewhere/workspace.toml",
            project="epsilon",
        ),
    }
    outside = unowned_env(tmp_path / "outside" / "zeta")
    (envs / "zeta").symlink_to(outside, target_is_directory=True)
    (envs / "eta").write_text("my notes, not an env\n")
    before = {name: tree(path) for name, path in taken.items()}
    outside_before = tree(outside)

    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    acts = {a["env"]: a for a in r.json["actions"]}
    assert {e: a["action"] for e, a in acts.items() if e != "eta"} == {
        "alpha": "create",
        "gamma": "blocked",
        "delta": "blocked",
        "epsilon": "blocked",
        "zeta": "blocked",
    }
    assert any("other-lab" in reason for reason in acts["epsilon"]["reasons"]), acts["epsilon"]

    r = ws.wsp("apply", "--yes")
    assert r.code == 1, r
    for name in ("gamma", "delta", "epsilon", "zeta", "eta"):
        assert name in r.stderr, f"apply does not name blocked env {name}:\n{r}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r
    assert (envs / "alpha" / "conda-meta" / "wsp").is_file()  # the rest was still applied
    assert {name: tree(path) for name, path in taken.items()} == before
    assert not (envs / "gamma" / "conda-meta" / "wsp").exists()
    assert (envs / "zeta").is_symlink() and tree(outside) == outside_before
    assert (envs / "eta").read_text() == "my notes, not an env\n"
    assert str(envs / "gamma") not in environments_txt(ws)


def test_half_built_env_is_replaced(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(ONE)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    prefix = ws.envs_dir / "alpha"
    marker_path = prefix / "conda-meta" / "wsp"
    marker = json.loads(marker_path.read_text())
    assert marker["state"] == "complete"
    # an apply that died half-way leaves the marker at "building"
    marker_path.write_text(json.dumps({**marker, "state": "building"}))
    (prefix / "leftover-of-the-crash").write_text("half-written\n")

    plan = ws.wsp("plan", "--json")
    assert plan.code == 0, plan
    (action,) = plan.json["actions"]
    assert action["action"] == "replace", action
    assert any("half-built" in reason for reason in action["reasons"]), action

    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert json.loads(marker_path.read_text())["state"] == "complete"
    assert not (prefix / "leftover-of-the-crash").exists(), "the half-built env was not rebuilt"
    assert ws.versions("alpha") == {"python": "3.12.4", "six": "1.16.0"}
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r


def test_a_hand_made_copy_of_an_owned_env_is_not_pruned(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(ONE)
    assert ws.wsp("apply", "--yes").code == 0
    # the user keeps a copy before experimenting; its marker still says env "alpha"
    copy = ws.envs_dir / "alpha-copy"
    shutil.copytree(ws.envs_dir / "alpha", copy, symlinks=True)
    before = tree(copy)

    r = ws.wsp("apply", "--yes")
    assert copy.is_dir() and tree(copy) == before, f"wsp deleted the user's copy:\n{r}"
    assert "alpha-copy" in r.stdout and "left alone" in r.stdout, r


def test_a_file_in_the_way_of_a_declared_env_is_reported(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(ONE)
    ws.envs_dir.mkdir(parents=True)
    (ws.envs_dir / "alpha").write_text("my notes, not an env\n")

    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    (action,) = r.json["actions"]
    assert action["action"] == "blocked", action
    assert (ws.envs_dir / "alpha").read_text() == "my notes, not an env\n"


FOLDERS = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.alpha]
python = "3.12"

[projects.mine]
python = "3.12"

[projects.notes]
python = "3.12"
"""


def test_a_folder_that_is_no_env_is_never_built_over_nor_deleted(
    make_workspace: Callable[..., Workspace],
) -> None:
    """A folder at a declared env's place that is not a conda env, an empty one of the
    user's (mode 0700) or one holding files, is blocked, not taken for a missing env:
    apply builds nothing over it and destroy deletes nothing of it."""
    ws = make_workspace(FOLDERS)
    envs = ws.envs_dir
    (envs / "mine").mkdir(parents=True, mode=0o700)
    (envs / "notes" / "2026").mkdir(parents=True)
    (envs / "notes" / "2026" / "todo.txt").write_text("my notes, not an env\n")
    notes = tree(envs / "notes")

    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    acts = {a["env"]: a for a in r.json["actions"]}
    assert {e: a["action"] for e, a in acts.items()} == {
        "alpha": "create",
        "mine": "blocked",
        "notes": "blocked",
    }
    for env in ("mine", "notes"):
        assert acts[env]["reason_codes"] == ["not-owned"], acts[env]
        assert "not a conda env" in acts[env]["reasons"][0], acts[env]
        assert "missing" not in acts[env]["reason_codes"], acts[env]
        assert str(envs / env) in acts[env]["reason_details"][0]["next_steps"][-1], acts[env]
    assert ws.wsp("status").stdout.count("not owned") == 2

    r = ws.wsp("apply", "--yes")
    assert r.code == 1, r
    assert "Traceback" not in r.output, r
    assert (envs / "alpha" / "conda-meta" / "wsp").is_file()  # the rest was still applied
    assert list((envs / "mine").iterdir()) == []
    assert (envs / "mine").stat().st_mode & 0o777 == 0o700
    assert tree(envs / "notes") == notes
    assert str(envs / "mine") not in environments_txt(ws)

    r = ws.wsp("destroy", "--yes")
    assert r.code == 0, r
    assert not (envs / "alpha").exists()
    assert (envs / "mine").is_dir() and tree(envs / "notes") == notes


def test_destroy_of_a_target_it_does_not_own_says_so(
    make_workspace: Callable[..., Workspace],
) -> None:
    """`wsp destroy --target X` when X's env is not this workspace's, or is gone, says
    that of X, not that the workspace owns no env (it owns others)."""
    ws = make_workspace(BLOCKED)
    envs = ws.envs_dir
    unowned_env(envs / "gamma")
    gamma = tree(envs / "gamma")
    assert ws.wsp("apply", "--yes", "--target", "alpha", "--target", "delta").code == 0

    r = ws.wsp("destroy", "--target", "gamma", "--yes")
    assert r.code == 0, r
    assert "owns no env" not in r.stdout, r
    assert f"gamma's env {envs / 'gamma'} is not this workspace's" in r.stdout, r
    assert "not created by wsp" in r.stdout, r
    assert tree(envs / "gamma") == gamma and (envs / "alpha").is_dir()

    r = ws.wsp("destroy", "--target", "zeta", "--yes")
    assert r.code == 0 and f"zeta's env does not exist ({envs / 'zeta'})" in r.stdout, r

    r = ws.wsp("destroy", "--target", "delta", "--target", "gamma", "--yes")
    assert r.code == 0, r
    assert "note: gamma's env" in r.stdout and "delta" in r.output, r
    assert not (envs / "delta").exists() and tree(envs / "gamma") == gamma
    assert (envs / "alpha").is_dir()

    r = ws.wsp("destroy", "--yes")
    assert r.code == 0 and not (envs / "alpha").exists(), r
    r = ws.wsp("destroy", "--yes")
    assert "Nothing to destroy: this workspace owns no env." in r.stdout, r


def test_a_blocked_env_of_another_workspace_gets_ways_forward_that_work(
    make_workspace: Callable[..., Workspace],
) -> None:
    """An env another workspace built (frozen for conda, which then refuses a plain
    `conda env remove`) is blocked with the command that removes it: `wsp destroy` in
    the workspace that made it, or conda with --override-frozen. Following the first
    one frees the name; a conda env nobody froze keeps the plain conda command."""
    other = make_workspace(ONE.replace("acme-research", "other-lab"), name="other")
    shared = other.envs_dir.resolve()
    ws = make_workspace(ONE.replace('".wsp/envs"', f'"{shared}"'))
    assert other.wsp("apply", "--yes").code == 0
    assert (shared / "alpha" / "conda-meta" / "frozen").is_file()
    unowned_env(shared / "stranger")
    ws.write(ws.manifest.read_text() + '\n[projects.stranger]\npython = "3.12"\n')

    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    acts = {a["env"]: a for a in r.json["actions"]}
    assert acts["alpha"]["action"] == "blocked", acts["alpha"]
    way = acts["alpha"]["reason_details"][0]["next_steps"][-1]
    assert f"`wsp -C {other.root.resolve()} destroy --target alpha`" in way, way
    assert f"`conda env remove --override-frozen -p {shared / 'alpha'}`" in way, way
    way = acts["stranger"]["reason_details"][0]["next_steps"][-1]
    assert f"`conda env remove -p {shared / 'stranger'}`" in way, way

    r = ws.wsp("-C", str(other.root.resolve()), "destroy", "--target", "alpha", "--yes")
    assert r.code == 0 and not (shared / "alpha").exists(), r
    r = ws.wsp("apply", "--yes", "--target", "alpha")
    assert r.code == 0, r
    assert json.loads((shared / "alpha" / "conda-meta" / "wsp").read_text())["workspace"] == (
        "acme-research"
    )
