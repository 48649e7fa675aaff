"""`wsp history` and `wsp rollback --to N` (issue 17): every apply is one numbered build in
the env's history; `keep-builds` earlier builds are kept (package records and marker only)
for rollback, and a replaced env carries its history over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cli import Workspace

TOML = """\
[workspace]
name = "history-ws"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
keep-builds = 2

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.webdev]
python = "3.12"
dependencies = ["fastapi", "uvicorn"]
"""


def history(ws: Workspace, project: str = "webdev") -> dict[str, Any]:
    result = ws.wsp("history", project, "--json")
    assert result.code == 0, result
    return result.json


def test_history_lists_every_build_and_rollback_goes_to_any_kept_one(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(TOML)
    prefix = ws.envs_dir / "webdev"
    assert ws.wsp("apply", "--yes").code == 0
    ws.edit('dependencies = ["fastapi", "uvicorn"]', 'dependencies = ["fastapi"]')
    assert ws.wsp("apply", "--yes").code == 0
    ws.edit('python = "3.12"', 'python = "3.11"')  # a replace: built beside, swapped in
    assert ws.wsp("apply", "--yes").code == 0

    h = history(ws)
    assert h["current"] == 3 and h["kept"] == [1, 2] and h["keep_builds"] == 2
    builds = {b["build"]: b for b in h["builds"]}
    assert [b["build"] for b in h["builds"]] == [3, 2, 1]  # newest first
    assert [builds[n]["action"] for n in (1, 2, 3)] == ["create", "update", "replace"]
    assert {builds[n]["source"] for n in (1, 2, 3)} == {"workspace.toml"}
    assert "+ uvicorn 0.30.1" in builds[1]["changes"]
    assert builds[2]["changes"] == ["- click 8.1.7", "- h11 0.14.0", "- uvicorn 0.30.1"]
    assert "dependencies changed: - uvicorn" in builds[2]["reasons"]
    assert builds[2]["declared"]["dependencies"] == ["python 3.12.*", "fastapi"]
    assert builds[3]["current"] and builds[2]["kept"] and not builds[3]["kept"]
    assert any(c.startswith("~ python 3.12.4 -> 3.11") for c in builds[3]["changes"])

    # A kept build is its package records and marker: no package file is copied.
    kept = prefix / "conda-meta" / "wsp-builds" / "1"
    files = sorted(str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file())
    assert files == sorted(["marker", *(f"conda-meta/{d}.json" for d in _dists(ws, 1))])
    assert 0 < h["kept_bytes"] < 200_000

    people = ws.wsp("history", "webdev")
    assert people.code == 0, people
    assert "3 (current)" in people.stdout and "1 (kept)" in people.stdout, people
    # piped: a build a line, its changes whole (not folded into a pipe's 80 columns)
    piped = ws.wsp("history", "webdev", COLUMNS="80").stdout
    row = next(ln for ln in piped.splitlines() if "1 (kept)" in ln)
    assert "create" in row and "+ starlette 0.37.2, … 1 more" in row, piped

    back = ws.wsp("rollback", "webdev", "--to", "1", "--yes")
    assert back.code == 0, back
    assert "back to build 1, applied" in back.stdout, back
    assert ws.versions("webdev")["uvicorn"] == "0.30.1"
    assert ws.versions("webdev")["python"] == "3.12.4"
    h = history(ws)
    assert h["current"] == 4 and h["kept"] == [2, 3]  # 1 was the oldest beyond keep-builds
    latest = h["builds"][0]
    assert (latest["build"], latest["action"], latest["source"]) == (
        4,
        "rollback",
        "rollback to build 1",
    )

    gone = ws.wsp("rollback", "webdev", "--to", "1", "--yes")
    assert gone.code == 1 and "env 'webdev' keeps no build 1: it keeps 2, 3" in gone.stderr, gone
    same = ws.wsp("rollback", "webdev", "--to", "4", "--yes")
    assert same.code == 1 and "env 'webdev' is build 4 already" in same.stderr, same

    again = ws.wsp("rollback", "webdev", "--yes")  # the newest kept: undoes the rollback
    assert again.code == 0, again
    assert ws.versions("webdev")["python"].startswith("3.11")
    assert ws.wsp("plan", "--detailed-exitcode").code == 0


def _dists(ws: Workspace, build: int) -> set[str]:
    meta = ws.envs_dir / "webdev" / "conda-meta" / "wsp-builds" / str(build) / "conda-meta"
    return {p.name[:-5] for p in meta.glob("*.json")}


def test_keep_builds_zero_keeps_nothing_and_an_older_wsp_previous_still_rolls_back(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(TOML.replace("keep-builds = 2", "keep-builds = 0"))
    meta = ws.envs_dir / "webdev" / "conda-meta"
    assert ws.wsp("apply", "--yes").code == 0
    ws.edit('dependencies = ["fastapi", "uvicorn"]', 'dependencies = ["fastapi"]')
    assert ws.wsp("apply", "--yes").code == 0
    assert not (meta / "wsp-builds").exists() or not any((meta / "wsp-builds").iterdir())
    none = ws.wsp("rollback", "webdev", "--yes")
    assert none.code == 1 and "has no previous build to roll back to" in none.stderr, none
    assert "wsp keeps 0 (`keep-builds` in [workspace])" in none.stderr, none
    assert [b["build"] for b in history(ws)["builds"]] == [2, 1]

    # The one build an older wsp kept, in conda-meta/wsp-previous/, is still a rollback target.
    ws.edit("keep-builds = 0", "keep-builds = 1")
    ws.edit('dependencies = ["fastapi"]', 'dependencies = ["fastapi", "uvicorn"]')
    assert ws.wsp("apply", "--yes").code == 0
    (meta / "wsp-builds" / "2").rename(meta / "wsp-previous")
    assert history(ws)["kept"] == [2]
    back = ws.wsp("rollback", "webdev", "--yes")
    assert back.code == 0, back
    assert "uvicorn" not in ws.versions("webdev")


def test_history_of_what_wsp_does_not_own_is_one_clear_error(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(TOML)
    missing = ws.wsp("history", "webdev")
    assert missing.code == 1 and "no history of env 'webdev': it does not exist" in missing.stderr
    unknown = ws.wsp("history", "nope")
    assert unknown.code == 1 and "is not a project of this workspace" in unknown.stderr
