"""wsp.lock and pip (issues 11.3, 11.4): every distribution kept distinct with its own URL
and sha256, installs from the lock verify the hash, no index credential is written; and a
lock is checked against the declaration, not only against its hash line."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.support.channel import Pkg, add_packages, current_platform, other_platform
from tests.support.cli import Workspace
from tests.support.index import Index, serve_index
from tests.support.wheels import build_wheel, built, write_project

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
SITE = Path("lib") / f"python{PY}" / "site-packages"
SECRET = "s3cret-pa55"

TOML = """\
[workspace]
name = "pinned"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
platforms = ["{here}", "{other}"]

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.a]
python = "{py}"
pip = ["tinylib==1.0.0"]
pip-index-url = "{index}"

[projects.b]
python = "{py}"
pip = ["tinylib==1.1.0"]
pip-index-url = "{index}"
"""


@pytest.fixture
def private_index(tmp_path: Path) -> Iterator[tuple[Index, Path]]:
    """An index that wants a user and password (written into its URL, as users do)."""
    files = tmp_path / "index-files"
    build_wheel(files, "tinylib", "1.0.0")
    build_wheel(files, "tinylib", "1.1.0")
    with serve_index(files, user="alice", password=SECRET) as index:
        yield index, files


def lock_yaml(ws: Workspace) -> dict:
    return YAML(typ="safe").load((ws.root / "wsp.lock").read_text())


def pypi(ws: Workspace, project: str, platform: str) -> dict[str, dict]:
    """name -> the lock's pypi entry of one project and platform."""
    data = lock_yaml(ws)
    urls = [e["pypi"] for e in data["environments"][project]["packages"][platform] if "pypi" in e]
    by_url = {e["pypi"]: e for e in data["packages"] if "pypi" in e}
    return {by_url[u]["name"]: by_url[u] for u in urls}


def test_every_pip_distribution_is_locked_with_its_own_file_and_hash(
    make_workspace: Callable[..., Workspace],
    runnable_channel: Path,
    private_index: tuple[Index, Path],
    tmp_path: Path,
) -> None:
    index, files = private_index
    channel = Path(shutil.copytree(runnable_channel, tmp_path / "channel"))
    (channel / other_platform()).mkdir(exist_ok=True)  # this Python, on another platform too
    add_packages(channel, [Pkg("python", f"{PY}.9", subdirs=(other_platform(),))])
    text = TOML.replace("{py}", PY).replace("{here}", current_platform())
    ws = make_workspace(
        text.replace("{other}", other_platform()).replace("{index}", index.url), chan=channel
    )
    r = ws.wsp("lock")
    assert r.code == 0, r
    raw = (ws.root / "wsp.lock").read_text()
    assert SECRET not in raw and "alice" not in raw, "an index credential was written"

    sha = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files.iterdir()}
    for project, version in (("a", "1.0.0"), ("b", "1.1.0")):
        for platform in (current_platform(), other_platform()):
            entry = pypi(ws, project, platform)["tinylib"]
            wheel = f"tinylib-{version}-py3-none-any.whl"
            assert entry["version"] == version, entry
            assert entry["pypi"].endswith(f"/files/{wheel}"), entry
            assert entry["sha256"] == sha[wheel], entry
    assert ws.wsp("lock", "--check").code == 0

    # installs from the lock check each file's hash: a wrong one installs nothing
    good = raw
    (ws.root / "wsp.lock").write_text(raw.replace(sha["tinylib-1.1.0-py3-none-any.whl"], "0" * 64))
    r = ws.wsp("apply", "--locked", "--yes", "--target", "b")
    assert r.code == 1, r
    assert "hash" in r.output.lower(), r
    assert SECRET not in r.output
    assert not (ws.envs_dir / "b" / SITE / "tinylib-1.1.0.dist-info").exists()

    (ws.root / "wsp.lock").write_text(good)
    r = ws.wsp("apply", "--locked", "--yes")
    assert r.code == 0, r
    for project, version in (("a", "1.0.0"), ("b", "1.1.0")):
        infos = {p.name for p in (ws.envs_dir / project / SITE).glob("tinylib-*.dist-info")}
        assert infos == {f"tinylib-{version}.dist-info"}, (project, infos)
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert (ws.root / "wsp.lock").read_text() == good

    # the credential is used to fetch, and is in no output and no file wsp wrote
    for args in (("plan", "--json"), ("status", "--json"), ("export", "b", "--pinned")):
        r = ws.wsp(*args)
        assert r.code == 0 and SECRET not in r.output, r
    written = [
        p
        for root in (ws.root, Path(ws.env["HOME"]))
        for p in root.rglob("*")
        if p.is_file() and p != ws.manifest and SECRET.encode() in p.read_bytes()
    ]
    assert written == [], written


# -- a lock is checked against the declaration ----------------------------------------------

CHECKED = """\
[workspace]
name = "checked"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-find-links = ["{wheelhouse}"]
pip-no-index = true

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.web]
python = "3.11"
dependencies = ["requests 2.31.*"]
pip = ["tinylib==1.0.0"]

[projects.calc]
python = "3.11"
dependencies = ["six"]
"""


def hash_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("# wsp-lock-hash ")]


def test_a_lock_whose_packages_break_the_declaration_is_refused(
    make_workspace: Callable[..., Workspace], wheelhouse: Path
) -> None:
    ws = make_workspace(CHECKED.replace("{wheelhouse}", str(wheelhouse)))
    assert ws.wsp("lock").code == 0
    old = (ws.root / "wsp.lock").read_text()

    # The declaration moves on; its new hash line is copied into the old lock (as a bad
    # merge does): the hash says "matches", the packages say otherwise.
    ws.edit('"requests 2.31.*"', '"requests 2.32.*"')
    ws.edit('"tinylib==1.0.0"', '"tinylib==1.1.0"')
    assert ws.wsp("lock").code == 0
    new = (ws.root / "wsp.lock").read_text()
    forged = old
    for before, after in zip(hash_lines(old), hash_lines(new), strict=True):
        forged = forged.replace(before, after)
    assert forged != old
    (ws.root / "wsp.lock").write_text(forged)

    for args in (
        ("lock", "--check"),
        ("apply", "--locked", "--yes"),
        ("apply", "--frozen", "--yes"),
    ):
        r = ws.wsp(*args)
        assert r.code == 1, (args, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r
        assert "web (" in lines[0] and "calc" not in lines[0], r
        assert "'requests 2.32.*'" in lines[0] and "requests 2.31.0" in lines[0], r
        assert "'tinylib==1.1.0'" in lines[0] and "tinylib 1.0.0" in lines[0], r
    assert not ws.envs_dir.exists() or not any(ws.envs_dir.iterdir()), "nothing is installed"

    # a plain plan does not take those packages from the lock: it solves the project again
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    web = next(a for a in r.json["actions"] if a["project"] == "web")
    adds = {p["name"]: p["version"] for p in web["packages"]["add"]}
    assert adds["requests"] == "2.32.3" and adds["tinylib"] == "1.1.0", adds
    assert not web.get("from_lock")

    # `wsp lock` solves it again, though its hash line said it matched
    r = ws.wsp("lock")
    assert r.code == 0, r
    assert ws.wsp("lock", "--check").code == 0
    assert re.search(r"tinylib-1\.1\.0-py3-none-any\.whl", (ws.root / "wsp.lock").read_text())


def test_frozen_installs_a_lock_behind_its_declaration_as_it_is(
    make_workspace: Callable[..., Workspace], wheelhouse: Path, tmp_path: Path
) -> None:
    """--frozen checks only what the hash line claims: a project whose hash says the lock
    is behind is the user's choice, and is not refused."""
    ws = make_workspace(CHECKED.replace("{wheelhouse}", str(wheelhouse)))
    assert ws.wsp("lock").code == 0
    ws.edit('"tinylib==1.0.0"', '"tinylib==1.1.0"')
    assert ws.wsp("lock", "--check").code == 1  # out of date by its hash
    shutil.rmtree(ws.root / ".wsp", ignore_errors=True)
    r = ws.wsp("apply", "--frozen", "--yes", "--target", "calc")
    assert r.code == 0, r


SOURCES = """\
[workspace]
name = "sources"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.app]
python = "{py}"
environment-file = "environment.yml"
"""


def test_local_projects_and_archives_are_locked_and_installed_from_the_lock(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    ws = make_workspace(SOURCES.replace("{py}", PY), chan=runnable_channel)
    app = ws.root / "projects" / "app"
    write_project(app / "lib", "applib", "0.3.0", ("tinylib==1.1.0",))
    write_project(app / "vlib", "vlib", "2.5.0", ("metricskit",), dynamic=("version",))
    build_wheel(ws.root / "dist", "localwheel", "1.0.0")
    (app / "environment.yml").write_text(
        f"dependencies:\n  - pip:\n    - --no-index\n    - --find-links {wheelhouse}\n"
        "    - -e ./lib\n    - ./vlib\n    - ../../dist/localwheel-1.0.0-py3-none-any.whl\n"
    )
    assert ws.wsp("lock").code == 0
    raw = (ws.root / "wsp.lock").read_text()
    entries = pypi(ws, "app", current_platform())
    assert entries["applib"]["pypi"] == "./projects/app/lib", entries  # relative: it travels
    assert entries["localwheel"]["pypi"].endswith("dist/localwheel-1.0.0-py3-none-any.whl")
    local = (ws.root / "dist" / "localwheel-1.0.0-py3-none-any.whl").read_bytes()
    assert entries["localwheel"]["sha256"] == hashlib.sha256(local).hexdigest()
    assert entries["tinylib"]["version"] == "1.1.0" and entries["tinylib"]["sha256"]
    assert entries["vlib"]["version"] == "0+dynamic"  # only its build knows it
    assert entries["metricskit"]["version"] == "2.0.0"
    assert str(ws.root) not in raw
    assert built(app / "lib") == built(app / "vlib") == []

    r = ws.wsp("apply", "--locked", "--yes")
    assert r.code == 0, r
    infos = {p.name for p in (ws.envs_dir / "app" / SITE).glob("*.dist-info")}
    assert {
        "applib-0.3.0.dist-info",
        "vlib-2.5.0.dist-info",
        "localwheel-1.0.0.dist-info",
        "tinylib-1.1.0.dist-info",
        "metricskit-2.0.0.dist-info",
    } <= infos, infos
    assert "build_editable" in built(app / "lib")  # -e as declared, from the lock too
    assert ws.wsp("plan", "--detailed-exitcode").code == 0

    # a local project's declared dependencies are part of the declaration
    write_project(app / "lib", "applib", "0.3.0", ("tinylib==1.1.0", "requests"))
    r = ws.wsp("lock", "--check")
    assert r.code == 1 and "out of date for app" in r.stderr, r
    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
