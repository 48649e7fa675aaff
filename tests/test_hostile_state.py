"""Forged and broken state files through the real CLI (issue 11, items 7 and 8): a package
record naming a file outside its env, wrong-typed markers, records and lock summaries,
a cache folder that is a file, a non-UTF-8 or symlinked environments.txt, temporary files
a kill -9 left. Each is one clear line or is handled; nothing outside wsp's own is touched."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import Workspace

ONE = """\
[workspace]
name = "hostile"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.alpha]
python = "3.12"
dependencies = ["six"]
"""


def applied(make_workspace: Callable[..., Workspace]) -> Workspace:
    ws = make_workspace(ONE)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    return ws


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, stderr
    return lines[0]


def record_of(ws: Workspace, env: str, name: str) -> Path:
    (path,) = (ws.envs_dir / env / "conda-meta").glob(f"{name}-*.json")
    return path


def test_a_record_naming_a_file_outside_the_env_removes_nothing(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = applied(make_workspace)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    record = record_of(ws, "alpha", "six")
    data = json.loads(record.read_text())
    prefix = ws.envs_dir / "alpha"
    forged = os.path.relpath(victim / "keep.txt", prefix)
    assert forged.startswith("../")
    data["files"].append(forged)
    data["paths_data"]["paths"].append({"_path": forged, "path_type": "hardlink"})
    record.write_text(json.dumps(data))

    ws.edit('dependencies = ["six"]', "dependencies = []")  # six leaves: an update
    r = ws.wsp("apply", "--yes")
    assert r.code == 1, r
    assert "outside the env" in r.output and forged in r.output, r
    assert "Traceback" not in r.stderr
    assert (victim / "keep.txt").read_text() == "precious"
    assert record.exists(), "the env was changed although its record was refused"


def test_wsp_cache_dir_a_file_is_one_line(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(ONE)
    cache = ws.root / "cache-file"
    cache.write_text("not a folder")
    r = ws.wsp("apply", "--yes", WSP_CACHE_DIR=str(cache))
    assert r.code == 1, r
    line = one_line(r.stderr)
    assert f"WSP_CACHE_DIR={cache} is a file" in line, r
    assert cache.read_text() == "not a folder"
    assert not (ws.envs_dir / "alpha").exists()


def test_a_wrong_typed_marker_is_not_taken_for_ours(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = applied(make_workspace)
    marker = ws.envs_dir / "alpha" / "conda-meta" / "wsp"
    marker.write_text(json.dumps({"format": 2, "workspace": ["x"], "project": 7}))
    for args in (("plan",), ("status",), ("apply", "--yes")):
        r = ws.wsp(*args)
        assert "Traceback" not in r.stderr, r
        assert r.code in (0, 1), r
    # never reported in sync, never deleted: the env is not provably ours
    plan = ws.wsp("plan", "--json")
    assert plan.code == 0, plan
    (action,) = [a for a in plan.json["actions"] if a["project"] == "alpha"]
    assert action["action"] != "noop", plan
    assert (ws.envs_dir / "alpha" / "conda-meta").is_dir()


def test_a_wrong_typed_package_record_is_one_line_naming_it(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = applied(make_workspace)
    record = record_of(ws, "alpha", "six")
    record.write_text(json.dumps({"name": 5, "version": [], "build": None}))
    ws.edit('dependencies = ["six"]', 'dependencies = ["six", "pytz"]')
    r = ws.wsp("apply", "--yes")
    assert r.code == 1, r
    assert record.name in r.stderr and "Traceback" not in r.stderr, r
    assert json.loads(record.read_text())["name"] == 5, "the forged record was rewritten"


def test_a_wrong_typed_lock_summary_is_rebuilt(make_workspace: Callable[..., Workspace]) -> None:
    ws = applied(make_workspace)
    assert ws.wsp("lock").code == 0
    assert ws.wsp("plan").code == 0
    summary = ws.root / ".wsp" / "lock-summary.json"
    good = json.loads(summary.read_text())
    # the header still matches wsp.lock: only the shapes are wrong
    summary.write_text(json.dumps({**good, "hashes": 3, "platforms": "x", "ids": {"a": 1}}))
    r = ws.wsp("lock", "--check")
    assert r.code == 0, r
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert isinstance(json.loads(summary.read_text()).get("hashes"), dict)


def test_a_non_utf8_environments_txt_blocks_nothing_and_keeps_its_lines(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(ONE)
    listing = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    listing.parent.mkdir(parents=True)
    foreign = b"/opt/caf\xe9/envs/old\n"
    listing.write_bytes(foreign)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    data = listing.read_bytes()
    assert data.startswith(foreign), data
    assert str(ws.envs_dir / "alpha").encode() in data


def test_a_symlinked_environments_txt_keeps_its_link(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace(ONE)
    real = tmp_path / "dotfiles" / "environments.txt"
    real.parent.mkdir()
    real.write_text("/opt/other/env\n")
    listing = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    listing.parent.mkdir(parents=True)
    listing.symlink_to(real)
    assert ws.wsp("apply", "--yes").code == 0
    assert listing.is_symlink() and listing.resolve() == real.resolve()
    assert str(ws.envs_dir / "alpha") in real.read_text()
    assert "/opt/other/env" in real.read_text()


def test_temporary_files_a_kill_left_are_removed_by_the_next_apply(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = applied(make_workspace)
    old = time.time() - 3600
    left = [
        ws.root / ".wsp" / ".desired.json.wsp-tmp-1234abcd",
        ws.root / ".wsp.lock.wsp-tmp-99",
        ws.envs_dir / "alpha" / "conda-meta" / ".wsp.wsp-tmp-77",
    ]
    fresh = ws.root / ".wsp" / ".history.wsp-tmp-inflight"  # a write in flight: kept
    for path in [*left, fresh]:
        path.write_text("{")
    for path in left:
        os.utime(path, (old, old))
    user_file = ws.root / "notes.wsp-tmp-1"  # not a hidden temporary of wsp: never touched
    user_file.write_text("mine")
    os.utime(user_file, (old, old))

    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert [p for p in left if p.exists()] == []
    assert fresh.exists() and user_file.exists()


def test_a_kept_build_declaring_path_is_refused_before_the_env_is_touched(
    make_workspace: Callable[..., Workspace],
) -> None:
    """workspace.toml can't declare PATH (refused at load); a kept build's marker that does
    is refused by the rollback before anything changes: the env stays whole, not half-built."""
    ws = make_workspace(ONE.replace('["six"]', '["six"]\nenv-vars = { A = "1" }'))
    assert ws.wsp("apply", "--yes").code == 0
    ws.edit('"1"', '"2"')
    assert ws.wsp("apply", "--yes").code == 0
    prefix = ws.envs_dir / "alpha"
    (kept,) = (prefix / "conda-meta" / "wsp-builds").glob("*/marker")
    data = json.loads(kept.read_text())
    data["declared"]["env_vars"] = ["A=1", "PATH=/evil"]
    kept.write_text(json.dumps(data))
    marker = (prefix / "conda-meta" / "wsp").read_bytes()
    state = (prefix / "conda-meta" / "state").read_bytes()

    r = ws.wsp("rollback", "alpha", "--yes")
    assert r.code == 1, r
    line = one_line(r.stderr)
    assert "PATH is set by activation itself" in line and "left as it was" in line, r
    assert "internal error" not in r.stderr, r
    assert (prefix / "conda-meta" / "wsp").read_bytes() == marker
    assert (prefix / "conda-meta" / "state").read_bytes() == state
    status = {e["env"]: e["state"] for e in ws.wsp("status", "--json").json["envs"]}
    assert status["alpha"] == "in sync", status
