"""Workspaces sharing an envs-dir (the default: conda's own) never touch each other's work,
and a second checkout of a workspace never takes over the envs of the first (issue 11,
items 1 and 6)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import Workspace, finish
from wsp.identity import read_id

TOML = """\
[workspace]
name = "{name}"
channels = ["conda-forge"]
envs-dir = "{envs}"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.{project}]
python = "{python}"
dependencies = ["six"]
"""


def workspace(
    make: Callable[..., Workspace],
    name: str,
    envs: Path,
    project: str,
    *,
    python: str = "3.12",
    folder: str | None = None,
) -> Workspace:
    text = TOML.format(name=name, envs=envs, project=project, python=python, channel="{channel}")
    return make(text, name=folder or name)


def test_an_apply_tidies_only_its_own_staging_and_trash_folders(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    envs = tmp_path / "home-like"  # envs-dir = "~" once deleted a user's folders of these names
    a = workspace(make_workspace, "lab-a", envs, "alpha")
    b = workspace(make_workspace, "lab-b", envs, "beta")
    assert a.wsp("apply", "--yes").code == 0
    assert b.wsp("apply", "--yes").code == 0
    token_a = read_id(a.root / ".wsp")[:12]
    token_b = read_id(b.root / ".wsp")[:12]
    users = [envs / ".wsp-new-notes", envs / ".wsp-trash-photos"]
    for folder in users:
        folder.mkdir()
        (folder / "precious.txt").write_text("the user's\n")
    in_flight = envs / f".wsp-new-{token_a}-alpha-1234abcd"  # a's replace, being built
    shutil.copytree(envs / "alpha", in_flight)
    leftover_b = envs / f".wsp-trash-{token_b}-beta-5678abcd"  # b's, left by a kill -9
    leftover_b.mkdir()

    r = b.wsp("apply", "--yes")  # a no-op apply of b tidies
    assert r.code == 0, r
    assert not leftover_b.exists()
    assert in_flight.is_dir() and (in_flight / "conda-meta" / "wsp").is_file()
    assert all((f / "precious.txt").is_file() for f in users)
    r = b.wsp("destroy", "--yes")
    assert r.code == 0, r
    assert in_flight.is_dir() and all((f / "precious.txt").is_file() for f in users)
    assert (envs / "alpha").is_dir()

    r = a.wsp("apply", "--yes")  # a's own leftover goes with a's next apply
    assert r.code == 0, r
    assert not in_flight.exists()
    assert all((f / "precious.txt").is_file() for f in users)


# `wsp apply --yes` whose installs take a while: the real engine, with a pause after each
# install, so the env being built beside its place stays there while another workspace runs.
SLOW_APPLY = """\
import sys, time
from wsp import cli
from wsp.commands import apply

class Slow:
    def __init__(self, inner):
        self._inner = inner
    def __getattr__(self, name):
        return getattr(self._inner, name)
    def install(self, *args, **kwargs):
        out = self._inner.install(*args, **kwargs)
        print("installed", flush=True)
        time.sleep(2.0)
        return out

real = apply._engine
apply._engine = lambda: Slow(real())
cli.main(["apply", "--yes"])
"""


def test_two_workspaces_applying_against_each_other_lose_nothing(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    """a replaces its env (python 3.11 <-> 3.12, built beside and swapped in) while b
    applies in the same envs-dir, again and again: every round ends with both envs whole
    and in sync, and a's build was never touched by b."""
    envs = tmp_path / "shared"
    a = workspace(make_workspace, "lab-a", envs, "alpha", python="3.11")
    b = workspace(make_workspace, "lab-b", envs, "beta")
    assert a.wsp("apply", "--yes").code == 0
    assert b.wsp("apply", "--yes").code == 0
    for round_ in range(3):
        a.edit(*(('"3.11"', '"3.12"') if round_ % 2 == 0 else ('"3.12"', '"3.11"')))
        replacing = subprocess.Popen(
            [sys.executable, "-c", SLOW_APPLY],
            cwd=a.root,
            env=a.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert replacing.stdout is not None
        for line in replacing.stdout:  # the plan, then a's build waiting in staging
            if line.strip() == "installed":
                break
        assert [p for p in envs.iterdir() if p.name.startswith(".wsp-new-")]
        for _ in range(2):  # b's applies (each tidies envs-dir) while a's build waits
            assert b.wsp("apply", "--yes").code == 0
        assert finish(replacing).code == 0
        python = "3.12" if round_ % 2 == 0 else "3.11"
        for ws, env in ((a, "alpha"), (b, "beta")):
            r = ws.wsp("plan", "--detailed-exitcode")
            assert r.code == 0, (round_, r)
            marker = json.loads((envs / env / "conda-meta" / "wsp").read_text())
            assert marker["state"] == "complete"
            assert sorted(marker["packages"]) == sorted(ws.dists_in(envs, env)), (round_, env)
        assert any(d.startswith(f"python-{python}") for d in a.dists_in(envs, "alpha"))
    assert not [p.name for p in envs.iterdir() if p.name.startswith(".wsp-")]


def test_a_second_checkout_never_takes_over_the_envs_of_the_first(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    envs = tmp_path / "shared"
    first = workspace(make_workspace, "acme", envs, "alpha", folder="first")
    second = workspace(make_workspace, "acme", envs, "alpha", folder="second")
    assert first.wsp("apply", "--yes").code == 0
    before = first.dists_in(envs, "alpha")

    moved = Workspace(tmp_path / "first-moved", first.channel, first.env)
    shutil.move(first.root, moved.root)  # the first moves away: its workspace.toml is gone
    r = second.wsp("plan", "--json")
    assert r.code == 0, r
    (action,) = r.json["actions"]
    assert action["action"] == "blocked", action
    assert "another checkout" in action["reasons"][0], action
    r = second.wsp("apply", "--yes")
    assert r.code == 1, r
    assert second.wsp("destroy", "--yes").code == 0
    assert (envs / "alpha").is_dir() and first.dists_in(envs, "alpha") == before

    r = moved.wsp("plan", "--json")  # the first, moved with its .wsp/: still its env
    (action,) = r.json["actions"]
    assert action["action"] == "update", action
    assert any("workspace moved from" in m for m in action["reasons"]), action
    assert moved.wsp("apply", "--yes").code == 0
    assert moved.wsp("plan", "--detailed-exitcode").code == 0


def test_a_build_disturbed_while_in_staging_is_never_taken_for_complete(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    """Whatever empties a build in flight (another tool, another user), the env's marker
    never vouches for records it did not see installed: the env stays half-built and the
    next apply rebuilds it."""
    envs = tmp_path / "shared"
    a = workspace(make_workspace, "lab-a", envs, "alpha", python="3.11")
    assert a.wsp("apply", "--yes").code == 0
    a.edit('"3.11"', '"3.12"')
    replacing = subprocess.Popen(
        [sys.executable, "-c", SLOW_APPLY],
        cwd=a.root,
        env=a.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert replacing.stdout is not None
    for line in replacing.stdout:
        if line.strip() == "installed":
            break
    (staging,) = [p for p in envs.iterdir() if p.name.startswith(".wsp-new-")]
    for record in (staging / "conda-meta").glob("*.json"):
        record.unlink()
    r = finish(replacing)
    assert r.code == 1, r
    assert "does not hold what was installed" in r.stderr, r
    state = a.wsp("status", "--json").json["envs"][0]["state"]
    assert state != "in sync", state
    assert a.wsp("apply", "--yes").code == 0
    assert a.wsp("plan", "--detailed-exitcode").code == 0
    assert any(d.startswith("python-3.12") for d in a.dists_in(envs, "alpha"))
