"""`wsp gc` (issue 17): frees the package cache entries, repodata and kept builds nothing
uses, in bytes counted with hard links in mind; a dry run unless `--yes`; never a file an
env still links. Each test has its own package cache (gc deletes from it)."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Workspace, snapshot

TOML = """\
[workspace]
name = "gc-ws"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
keep-builds = 1

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.webdev]
python = "3.12"
dependencies = ["fastapi", "uvicorn"]

[projects.finance]
python = "3.9"
dependencies = ["six"]
"""


def gc(ws: Workspace, *args: str) -> dict[str, Any]:
    result = ws.wsp("gc", "--json", *args)
    assert result.code == 0, result
    return result.json


def age(cache: Path) -> None:
    """Make every cache entry an hour old: gc keeps what was fetched in the last minutes."""
    old = time.time() - 3600
    for entry in (cache / "pkgs").iterdir():
        os.utime(entry, (old, old), follow_symlinks=False)


def entry_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


@pytest.fixture
def gc_ws(make_workspace: Callable[..., Workspace], tmp_path: Path) -> Workspace:
    ws = make_workspace(TOML)
    ws.env["WSP_CACHE_DIR"] = str(tmp_path / "own-cache")
    return ws


def test_gc_frees_what_no_env_no_lock_and_no_kept_build_uses(
    gc_ws: Workspace, tmp_path: Path
) -> None:
    ws = gc_ws
    pkgs = tmp_path / "own-cache" / "pkgs"
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.wsp("lock").code == 0
    age(pkgs.parent)
    report = gc(ws)
    assert report["dry_run"] and report["free"] == [] and report["freed_bytes"] == 0, report

    # uvicorn, click and h11 leave the env, but the build kept for rollback still names them.
    ws.edit('dependencies = ["fastapi", "uvicorn"]', 'dependencies = ["fastapi"]')
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.wsp("lock").code == 0
    age(pkgs.parent)
    assert gc(ws)["free"] == []

    ws.edit("keep-builds = 1", "keep-builds = 0")
    # An env wsp does not know still links one of h11's files: h11 is kept.
    hidden = tmp_path / "hidden-env"
    hidden.mkdir()
    h11 = next(pkgs.glob("h11-*/"))
    linked = next(p for p in h11.rglob("*.py"))
    os.link(linked, hidden / "h11.py")
    # A store of compiled modules a killed apply left half built in a package in use (its
    # file a link of an env's module): freed, but not one an apply may be writing now.
    six = next(pkgs.glob("six-*/"))
    module = next((ws.envs_dir / "finance").rglob("six/*.py"))
    half, young = (six / ".wsp-pyc" / f".tmp-{n}" for n in ("killed", "young"))
    for folder in (half, young):
        folder.mkdir(parents=True)
    os.link(module, half / "six.pyc")
    os.utime(half, (time.time() - 3600,) * 2)
    report = gc(ws)
    free = {i["name"]: i for i in report["free"]}
    uvicorn, click = (next(pkgs.glob(f"{n}-*/")) for n in ("uvicorn", "click"))
    build = ws.envs_dir / "webdev" / "conda-meta" / "wsp-builds" / "1"
    leftover = f"{six.name}/.wsp-pyc/.tmp-killed"
    assert set(free) == {uvicorn.name, click.name, "webdev build 1", leftover}, report
    assert free[uvicorn.name]["kind"] == "package" and free["webdev build 1"]["kind"] == "build"
    assert free[leftover]["kind"] == "leftover"
    assert free[leftover]["apparent_bytes"] == module.stat().st_size
    expected = {
        uvicorn.name: entry_bytes(uvicorn) + (pkgs / f"{uvicorn.name}.lock").stat().st_size,
        click.name: entry_bytes(click) + (pkgs / f"{click.name}.lock").stat().st_size,
        "webdev build 1": entry_bytes(build),
        leftover: 0,  # its file is the env's
    }
    assert {n: i["freed_bytes"] for n, i in free.items()} == expected
    assert report["freed_bytes"] == sum(expected.values())
    assert report["apparent_bytes"] == sum(expected.values()) + module.stat().st_size
    kept = {i["name"]: i["why_kept"] for i in report["kept"]}
    assert kept == {
        h11.name: "an env wsp did not find still links its files",
        f"{six.name}/.wsp-pyc/.tmp-young": "written in the last ten minutes: an apply may be "
        "writing it",
    }, report

    people = ws.wsp("gc")
    assert people.code == 0, people
    assert f"would free {sum(expected.values()):,} bytes" in people.stdout, people
    assert "`wsp gc --yes` deletes it" in people.stdout, people

    before = snapshot(tmp_path / "own-cache")
    env_before = snapshot(ws.envs_dir)
    assert gc(ws) and snapshot(tmp_path / "own-cache") == before  # a dry run deletes nothing

    done = gc(ws, "--yes")
    assert {i["name"] for i in done["deleted"]} == set(expected), done
    assert done["deleted_bytes"] == sum(expected.values())
    assert not uvicorn.exists() and not click.exists() and not build.exists()
    assert not half.exists() and young.exists() and module.is_file()
    assert h11.exists() and (hidden / "h11.py").read_bytes() == linked.read_bytes()
    assert snapshot(ws.envs_dir).keys() == env_before.keys() - {
        k for k in env_before if "wsp-builds" in k
    }
    assert ws.wsp("plan", "--detailed-exitcode").code == 0  # every env intact
    assert gc(ws)["free"] == []

    # What gc freed comes back from the channel when it is wanted again.
    ws.edit('dependencies = ["fastapi"]', 'dependencies = ["fastapi", "uvicorn"]')
    assert ws.wsp("apply", "--yes").code == 0
    assert "uvicorn" in ws.versions("webdev")


@pytest.fixture
def http_channel(fresh_channel: Path) -> Iterator[str]:
    """The seed channel served over HTTP on localhost: rattler caches its repodata."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(fresh_channel))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_gc_frees_the_repodata_of_channels_nothing_uses(
    gc_ws: Workspace, http_channel: str, tmp_path: Path
) -> None:
    ws = gc_ws
    ws.write(TOML.replace('"{channel}"', f'"{http_channel}"'))
    ws.edit('[projects.finance]\npython = "3.9"\ndependencies = ["six"]\n', "")
    assert ws.wsp("apply", "--yes").code == 0
    repodata = tmp_path / "own-cache" / "repodata"
    cached = sorted(p.name for p in repodata.iterdir())
    assert any(n.endswith(".info.json") for n in cached), cached
    assert gc(ws)["free"] == []  # the workspace's channel

    # The workspace fetches conda-forge from the file mirror now: its env's records name
    # conda-forge, not the HTTP mirror, so nothing needs that mirror's repodata any more.
    ws.write(TOML.replace('[projects.finance]\npython = "3.9"\ndependencies = ["six"]\n', ""))
    report = gc(ws)
    urls = {i["name"] for i in report["free"] if i["kind"] == "repodata"}
    assert {u.rsplit("/", 2)[0] for u in urls} == {http_channel}, report
    assert f"{http_channel}/noarch/repodata.json" in urls
    done = gc(ws, "--yes")
    assert {i["name"] for i in done["deleted"]} >= urls
    left = [p.name for p in repodata.iterdir()] if repodata.exists() else []
    assert left == [], left
    assert ws.wsp("plan", "--detailed-exitcode").code == 0  # the env is untouched


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every env: nothing is unreadable")
def test_an_env_gc_cannot_read_is_named_and_what_it_links_is_kept(
    gc_ws: Workspace, tmp_path: Path
) -> None:
    ws = gc_ws
    assert ws.wsp("apply", "--yes").code == 0
    other = ws.envs_dir / "someone-elses"
    (other / "conda-meta").mkdir(parents=True)
    (other / "conda-meta").chmod(0)
    try:
        report = gc(ws)
    finally:
        (other / "conda-meta").chmod(0o755)
        shutil.rmtree(other)
    assert any(str(other) in u for u in report["unreadable"]), report


def test_an_env_listed_on_a_non_utf8_line_of_environments_txt_is_found(
    gc_ws: Workspace, tmp_path: Path
) -> None:
    """environments.txt is read as apply reads it: a line that is not UTF-8 is no crash,
    and names its env byte for byte (the env's packages are in use, not 'not found')."""
    ws = gc_ws
    assert ws.wsp("apply", "--yes").code == 0
    elsewhere = os.fsencode(tmp_path) + b"/caf\xe9-env"
    os.rename(ws.envs_dir / "finance", elsewhere)  # its records still name six's cache entry
    listing = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    listing.write_bytes(listing.read_bytes() + b"\xff\xfebad line\n" + elsewhere + b"\n")
    age(tmp_path / "own-cache")
    report = gc(ws)
    six = next((tmp_path / "own-cache" / "pkgs").glob("six-*/")).name
    assert six not in {i["name"] for i in report["free"]}, report
    assert six not in {i["name"] for i in report["kept"]}, report  # in use by an env found
