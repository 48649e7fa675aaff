"""`exclude-newer` (issue 17): the solve ignores conda packages built after a cutoff and
pip distributions uploaded after it; the cutoff is part of the declaration and of wsp.lock.

The test channel is the seed channel plus newer builds with later `timestamp`s; the pip
side runs uv against a small PEP 691 index served on localhost, whose files carry upload
times (a find-links folder has none, so uv could not judge it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.channel import Pkg, add_packages
from tests.support.cli import Workspace
from tests.support.index import serve_index


def ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp() * 1000)


# Built after the seed packages (2023-11-14): a newer requests in 2025, a zlib late on
# 2024-06-01 (UTC) and another at noon that day.
NEWER = (
    Pkg(
        "requests",
        "2.33.0",
        "pyhd8ed1ab_0",
        ("python >=3.8",),
        noarch="python",
        timestamp=ms("2025-01-15T00:00:00"),
    ),
    Pkg("zlib", "1.3.2", "h0_0", timestamp=ms("2024-06-01T12:00:00")),
    Pkg("zlib", "1.4.0", "h0_0", timestamp=ms("2024-06-01T23:00:00")),
)

TOML = """\
[workspace]
name = "dated"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
exclude-newer = "2024-01-01"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[templates.web]
dependencies = ["requests"]

[projects.webdev]
python = "3.12"
extends = ["web"]
dependencies = ["zlib"]

[projects.finance]
python = "3.9"
dependencies = ["six"]
"""


@pytest.fixture
def dated(
    fresh_channel: Path, make_workspace: Callable[..., Workspace]
) -> Callable[[str], Workspace]:
    """A workspace of `TOML` (edited by the caller) over the seed channel plus NEWER."""
    add_packages(fresh_channel, NEWER)

    def make(toml: str = TOML) -> Workspace:
        return make_workspace(toml, chan=fresh_channel)

    return make


def plan(ws: Workspace) -> dict[str, dict]:
    result = ws.wsp("plan", "--json")
    assert result.code in (0, 2), result
    return {a["env"]: a for a in result.json["actions"]}


def test_the_cutoff_decides_what_the_solve_sees_and_changing_it_is_an_update(
    dated: Callable[[str], Workspace],
) -> None:
    ws = dated(TOML.replace('"2024-01-01"', '"2024-06-01"'))
    assert ws.wsp("apply", "--yes").code == 0
    # A date keeps its whole day (UTC): zlib 1.4.0 of 23:00 is in, requests of 2025 is not.
    assert ws.versions("webdev")["requests"] == "2.32.3"
    assert ws.versions("webdev")["zlib"] == "1.4.0"

    # A timestamp keeps up to that instant; what the env holds past it is replaced.
    ws.edit(
        'dependencies = ["zlib"]',
        'dependencies = ["zlib"]\nexclude-newer = "2024-06-01T13:00:00+01:00"',
    )
    action = plan(ws)["webdev"]
    assert action["action"] == "update"
    assert "exclude-newer changed: 2024-06-01 -> 2024-06-01T12:00:00Z" in action["reasons"], action
    assert "spec-changed" in action["reason_codes"]
    assert [(c["name"], c["from"], c["to"]) for c in action["packages"]["change"]] == [
        ("zlib", "1.4.0", "1.3.2")
    ], action
    assert plan(ws)["finance"]["action"] == "no-op"  # its cutoff did not move
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.versions("webdev")["zlib"] == "1.3.2"

    # Moving the cutoff later keeps what still fits (as any change does); a new env, or
    # `wsp lock --update`, takes the newest the cutoff allows.
    ws.edit('exclude-newer = "2024-06-01T13:00:00+01:00"\n', "")
    ws.edit('exclude-newer = "2024-06-01"\n', "")
    action = plan(ws)["webdev"]
    assert "exclude-newer changed: 2024-06-01T12:00:00Z -> none" in action["reasons"], action
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.versions("webdev")["zlib"] == "1.3.2"
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    shutil.rmtree(ws.envs_dir / "webdev")
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.versions("webdev")["requests"] == "2.33.0"
    assert ws.versions("webdev")["zlib"] == "1.4.0"


def test_the_cutoff_is_recorded_in_wsp_lock_and_makes_it_stale_when_moved(
    dated: Callable[[str], Workspace],
) -> None:
    ws = dated(TOML.replace('exclude-newer = "2024-01-01"', "exclude-newer = 2024-01-01"))
    assert ws.wsp("lock").code == 0, "a TOML date works as well as a string"
    lock = (ws.root / "wsp.lock").read_text()
    assert "# wsp-exclude-newer webdev 2024-01-01\n" in lock
    assert "# wsp-exclude-newer finance 2024-01-01\n" in lock
    assert "requests-2.32.3" in lock and "requests-2.33.0" not in lock

    ws.edit("exclude-newer = 2024-01-01", 'exclude-newer = "2025-06-01"')
    stale = ws.wsp("apply", "--locked", "--yes")
    assert stale.code == 1 and "wsp.lock is out of date" in stale.stderr, stale
    assert ws.wsp("lock", "--update", "webdev").code == 0
    lock = (ws.root / "wsp.lock").read_text()
    assert "# wsp-exclude-newer webdev 2025-06-01\n" in lock
    assert "requests-2.33.0" in lock
    assert ws.wsp("apply", "--locked", "--yes").code == 0
    assert ws.versions("webdev")["requests"] == "2.33.0"

    ws.edit('exclude-newer = "2025-06-01"', "")  # no cutoff: no header line either
    assert ws.wsp("lock").code == 0
    assert "wsp-exclude-newer" not in (ws.root / "wsp.lock").read_text()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            '"yesterday"',
            "exclude-newer: 'yesterday' is neither a date (2026-06-01) nor an RFC 3339",
        ),
        ('"2024-13-01"', "exclude-newer: '2024-13-01' is not a date"),
        ('"2024-06-01T12:00:00"', "has no time zone: end it with Z (UTC) or an offset"),
        ("2024-06-01T12:00:00", "has no time zone: end it with Z (UTC) or an offset"),
    ],
)
def test_a_bad_cutoff_is_one_located_line(
    dated: Callable[[str], Workspace], value: str, message: str
) -> None:
    ws = dated(TOML.replace('exclude-newer = "2024-01-01"', f"exclude-newer = {value}"))
    result = ws.wsp("plan")
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("workspace.toml:5:17: "), result
    assert message in lines[0], result


def test_a_cutoff_that_hides_what_a_spec_needs_is_named_as_the_likely_cause(
    dated: Callable[[str], Workspace],
) -> None:
    """Every seed package was built in 2023-11: a 2023-01-01 cutoff leaves no Python, and
    the solver's "No candidates were found" says why; a missing package without a cutoff
    to blame stays as it was."""
    ws = dated(TOML.replace('"2024-01-01"', '"2023-01-01"'))
    r = ws.wsp("lock")
    assert r.code == 1, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, r  # one per project
    for line in lines:
        assert "No candidates were found for python" in line, r
        assert (
            "(exclude-newer 2023-01-01 hides the python builds published after it: "
            "the likely cause)"
        ) in line, r
    assert not (ws.root / "wsp.lock").exists()
    ws.edit('"2023-01-01"', '"2024-01-01"')
    ws.edit('dependencies = ["six"]', 'dependencies = ["nosuchthing"]')
    r = ws.wsp("lock")
    assert r.code == 1 and "No candidates were found for nosuchthing" in r.stderr, r
    assert "exclude-newer" not in r.stderr, r
    # what the channels have of the name: none (a typo), or the versions no spec fits
    assert "conda-forge has no package named 'nosuchthing' for " in r.stderr, r
    assert "check its name, or add the channel that has it)" in r.stderr, r
    ws.edit('dependencies = ["nosuchthing"]', 'dependencies = ["six>=99"]')
    r = ws.wsp("lock")
    assert r.code == 1, r
    assert "No candidates were found for six >=99. (conda-forge has six 1.16.0: " in r.stderr, r
    ws.edit('dependencies = ["six>=99"]', 'dependencies = ["__cuda>=12"]')  # pixi's habit
    r = ws.wsp("lock")
    assert r.code == 1, r
    assert "(__cuda is a virtual package, what a machine offers, not one a channel has: " in (
        r.stderr
    ), r
    assert 'declare system-requirements = { cuda = "VERSION" }' in r.stderr, r


# -- pip: uv's --exclude-newer, against an index that knows upload times ---------------------

UPLOADED = {"1.0.0": "2023-03-01T00:00:00Z", "1.1.0": "2025-03-01T00:00:00Z"}


@pytest.fixture
def dated_index(wheelhouse: Path, tmp_path: Path) -> Iterator[str]:
    """A PEP 691 (JSON) simple index of tinylib 1.0.0 (2023) and 1.1.0 (2025) on localhost."""
    files = tmp_path / "index-files"
    files.mkdir()
    for version in UPLOADED:
        shutil.copy(wheelhouse / f"tinylib-{version}-py3-none-any.whl", files)
    with serve_index(files, uploaded=UPLOADED) as index:
        yield index.url


PIP_TOML = """\
[workspace]
name = "dated-pip"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-index-url = "{index}"
exclude-newer = "2024-01-01"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.webdev]
python = "3.12"
pip = ["tinylib"]
"""


def test_pip_distributions_uploaded_after_the_cutoff_are_not_resolved(
    make_workspace: Callable[..., Workspace], dated_index: str, tmp_path: Path
) -> None:
    ws = make_workspace(PIP_TOML.replace("{index}", dated_index))
    ws.env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")

    def pins() -> dict[str, str]:
        action = plan(ws)["webdev"]
        return {p["name"]: p["version"] for p in action["packages"]["add"] if p["source"] == "pip"}

    assert pins() == {"tinylib": "1.0.0"}
    ws.edit('exclude-newer = "2024-01-01"', 'exclude-newer = "2025-06-01"')
    assert pins() == {"tinylib": "1.1.0"}
