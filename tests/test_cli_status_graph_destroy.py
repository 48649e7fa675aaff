"""`wsp status`, `wsp graph` and `wsp destroy` through the real command line."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import Result, Workspace, run_all, snapshot

GRAPHED = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[templates.ml]
dependencies = ["numpy"]

[projects.shared-utils]
python = ">=3.10"
dependencies = ["six"]

[projects.vision]
python = "3.11"
extends = ["ml"]
depends-on = ["shared-utils"]
dependencies = ["opencv"]

[projects.finance]
python = "3.9"
dependencies = ["python-dateutil"]

[projects.webdev]
python = "3.12"
dependencies = ["click"]
"""


def environments_txt(ws: Workspace) -> list[str]:
    path = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    return path.read_text().splitlines() if path.exists() else []


def rows(r: Result) -> dict[str, dict]:
    assert r.code == 0, r
    return {row["project"]: row for row in r.json["envs"]}


def test_graph_status_and_destroy(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(GRAPHED)
    tree, mermaid, dot, status = run_all(
        ws,
        ("graph",),
        ("graph", "--format", "mermaid"),
        ("graph", "--format", "dot"),
        ("status", "--json"),
    )

    assert tree.code == 0, tree
    for name in ("acme-research", "shared-utils", "vision", "finance", "webdev", "ml"):
        assert name in tree.stdout, tree
    vision_line = next(ln for ln in tree.stdout.splitlines() if "vision" in ln)
    assert "3.11" in vision_line, tree
    assert "depends-on shared-utils" in tree.stdout, tree

    assert mermaid.code == 0, mermaid
    lines = mermaid.stdout.splitlines()
    assert lines[0].strip() == "graph TD", mermaid
    edges = [ln for ln in lines if "-->" in ln]
    dep_edges = [ln for ln in edges if "depends-on" in ln]
    assert len(dep_edges) == 1, mermaid
    assert re.search(r"vision\S*\s*-->.*shared", dep_edges[0]), mermaid  # vision needs it
    assert any(re.search(r"vision\S*\s*-->.*ml", ln) for ln in edges), mermaid  # extends

    assert dot.code == 0, dot
    assert dot.stdout.lstrip().startswith("digraph"), dot
    assert dot.stdout.rstrip().endswith("}"), dot
    assert any(
        "vision" in ln and "shared-utils" in ln and "->" in ln for ln in dot.stdout.splitlines()
    ), dot

    before = rows(status)
    assert sorted(before) == ["finance", "shared-utils", "vision", "webdev"]
    assert {p: row["state"] for p, row in before.items()} == dict.fromkeys(before, "missing")
    assert status.json["workspace"] == "acme-research"

    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    # vision has what its template and its depends-on bring
    assert {"numpy", "six", "opencv"} <= set(ws.versions("vision"))

    # one env of each state, made by hand; finance also has python-dateutil, whose record
    # name starts with "python-": status must still report the interpreter's version
    shutil.rmtree(ws.envs_dir / "vision")  # missing
    (ws.envs_dir / "finance" / "conda-meta" / "six-1.16.0-pyhd8ed1ab_0.json").unlink()  # drifted
    marker = ws.envs_dir / "webdev" / "conda-meta" / "wsp"  # half-built
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "state": "building"}))

    # the order conda-meta is read in varies with the hash seed: try two
    as_json, text = run_all(
        ws,
        ("status", "--json"),
        ("status",),
        env=[{"PYTHONHASHSEED": "0"}, {"PYTHONHASHSEED": "1"}],
    )
    after = rows(as_json)
    assert {p: row["state"] for p, row in after.items()} == {
        "finance": "drifted",
        "shared-utils": "in sync",
        "vision": "missing",
        "webdev": "half-built",
    }
    assert after["finance"]["python"] == "3.9.18"
    assert after["webdev"]["python"] == "3.12.4"
    assert after["shared-utils"]["python"].startswith("3.")
    assert after["finance"]["prefix"] == str(ws.envs_dir / "finance")

    assert text.code == 0, text
    for project, state, python in (
        ("shared-utils", "in sync", None),
        ("finance", "drifted", "3.9.18"),
        ("webdev", "half-built", "3.12.4"),
        ("vision", "missing", None),
    ):
        line = next((ln for ln in text.stdout.splitlines() if f" {project} " in ln), "")
        assert state in line, text
        if python:
            assert python in line, text

    # destroy: without --yes on a non-terminal it refuses and deletes nothing
    stranger = ws.envs_dir / "stranger" / "conda-meta"
    stranger.mkdir(parents=True)
    (stranger / "history").write_text("")
    owned = ["finance", "shared-utils", "webdev"]
    assert str(ws.envs_dir / "finance") in environments_txt(ws)
    before = snapshot(ws.envs_dir)
    r = ws.wsp("destroy")
    assert r.code == 1, r
    assert "--yes" in r.stderr, r
    assert snapshot(ws.envs_dir) == before

    # with --yes it deletes every env the workspace owns, half-built and drifted ones too
    r = ws.wsp("destroy", "--yes")
    assert r.code == 0, r
    for env in owned:
        assert env in r.output, r
        assert not (ws.envs_dir / env).exists()
    assert sorted(p.name for p in ws.envs_dir.iterdir() if not p.name.startswith(".")) == [
        "stranger"
    ]
    listed = environments_txt(ws)
    assert not [env for env in owned if str(ws.envs_dir / env) in listed], listed
    assert ws.manifest.exists()

    r = ws.wsp("destroy", "--yes")
    assert r.code == 0, r
    assert "Nothing to destroy" in r.stdout, r
