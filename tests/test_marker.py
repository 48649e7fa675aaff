"""The env marker: typed, versioned, and an env built by an older wsp (format 1) keeps working."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.support.cli import Workspace
from wsp import codec
from wsp.marker import MARKER_FORMAT, Declared, Marker

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


def as_format_1(data: dict) -> dict:
    """A format-2 marker written the way wsp 0.1 (format 1) wrote it: an `extra` dict."""
    old = {
        k: data[k]
        for k in (
            "workspace",
            "manifest",
            "project",
            "env",
            "state",
            "spec_hash",
            "installed_hash",
            "packages",
            "python",
            "applied_at",
            "wsp_version",
        )
    }
    old["format"] = 1
    old["extra"] = {
        "desired": data["declared"],
        "prefix": data["built_at"],
        "pip": data["pip"],
        "pip_unmanaged": data["pip_unmanaged"],
        "editables": data["editables"],
        "lock_id": data["lock_id"],
    }
    return old


def test_an_env_with_a_format_1_marker_is_in_sync_and_migrated_by_the_next_apply(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(ONE)
    assert ws.wsp("apply", "--yes").code == 0
    path = ws.envs_dir / "alpha" / "conda-meta" / "wsp"
    new = json.loads(path.read_text())
    assert new["format"] == MARKER_FORMAT == 2
    path.write_text(json.dumps(as_format_1(new)))
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r  # still in sync: nothing is rebuilt for a new marker format
    assert ws.wsp("status", "--json").json["envs"][0]["state"] == "in sync"
    ws.edit('dependencies = ["six"]', 'dependencies = ["six", "pytz"]')
    r = ws.wsp("plan", "--json")
    (action,) = r.json["actions"]
    assert action["reasons"] == ["dependencies changed: + pytz"], action  # from the old marker
    assert ws.wsp("apply", "--yes").code == 0
    assert json.loads(path.read_text())["format"] == 2


def test_a_marker_of_a_newer_wsp_is_not_taken_for_ours(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(ONE)
    assert ws.wsp("apply", "--yes").code == 0
    path = ws.envs_dir / "alpha" / "conda-meta" / "wsp"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format": 9}))
    r = ws.wsp("plan", "--json")
    (action,) = r.json["actions"]
    assert action["action"] == "blocked", action
    assert "newer than this wsp reads: upgrade wsp" in action["reasons"][0]


def test_marker_round_trips_through_the_codec() -> None:
    m = Marker(
        workspace="w",
        manifest="/w/workspace.toml",
        project="p",
        env="p",
        state="complete",
        packages=("a-1-0",),
        declared=Declared(python="3.11.*", dependencies=("python 3.11.*", "a")),
        pip={"x": "1.0"},
        lock_id=None,
    )
    assert Marker.from_json(json.loads(json.dumps(m.to_json()))) == m


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"format": 2},
        {"format": 2, "workspace": 1, "manifest": "m", "project": "p", "env": "e", "state": "x"},
        {
            "format": 1,
            "workspace": "w",
            "manifest": "m",
            "project": "p",
            "env": "e",
            "state": "complete",
            "extra": "x",
        },
        {
            "format": 2,
            "workspace": "w",
            "manifest": "m",
            "project": "p",
            "env": "e",
            "state": "complete",
            "packages": "abc",
        },
    ],
)
def test_a_wrong_marker_is_a_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        Marker.from_json(bad)


def test_codec_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        codec.load(dict[str, int], {"a": "1"})
    with pytest.raises(ValueError):
        codec.load(tuple[str, int], ["a"])
    assert codec.load(tuple[str, int], ["a", 1]) == ("a", 1)
    assert codec.load(bytes, codec.dump(b"\x00\xff")) == b"\x00\xff"


@dataclass(frozen=True)
class _Row:
    name: str
    count: int = 0
    note: str | None = None
    tags: tuple[str, ...] = ()


def test_a_class_read_often_is_read_alike_once_its_loader_is_compiled() -> None:
    """The codec reads a class field by field at first, through compiled code once it has
    been read often: both ways take and refuse the same."""
    good = {"name": "a", "count": 2, "note": None, "tags": ["x"]}
    bad = [{"count": 1}, {"name": 1}, {"name": "a", "note": 3}, {"name": "a", "count": None}, []]
    loader = codec._loader(_Row)
    for _ in range(2):  # the first pass reads field by field, the second through the compiled code
        assert loader(good) == _Row("a", 2, None, ("x",))
        assert loader({"name": "b"}, partial=True) == {"name": "b"}
        for data in bad:
            with pytest.raises(ValueError):
                loader(data)
        for _ in range(codec._COMPILE_AFTER):
            loader(good)
