"""wsp lock, --check, --update, apply --locked / --frozen, and a lock that travels."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from tests.support.channel import Pkg, add_packages, current_platform, other_platform
from tests.support.cli import Workspace

TOML = """\
[workspace]
name = "lab"
channels = ["./channel"]
envs-dir = ".wsp/envs"
platforms = ["{here}", "{other}"]

[projects.web]
python = "3.12"
dependencies = ["requests"]

[projects.calc]
python = "3.12"
dependencies = ["numpy"]
""".replace("{here}", current_platform()).replace("{other}", other_platform())


def lab(make_workspace: Callable[..., Workspace], channel: Path, tmp_path: Path) -> Workspace:
    """A workspace whose channel lives inside it (so the lock can be portable)."""
    root = tmp_path / "lab"
    shutil.copytree(channel, root / "channel")
    return make_workspace(TOML, name="lab", chan=root / "channel")


def locked(ws: Workspace, project: str, platform: str) -> dict[str, dict]:
    """name -> the lock's package entry, for one project and platform."""
    data = YAML(typ="safe").load((ws.root / "wsp.lock").read_text())
    urls = [next(iter(e.values())) for e in data["environments"][project]["packages"][platform]]
    by_url = {e.get("conda"): e for e in data["packages"]}
    out = {}
    for url in urls:
        name = url.rsplit("/", 1)[-1].rsplit("-", 2)[0]
        out[name] = by_url[url]
    return out


def installed_sha256(ws: Workspace, env: str) -> dict[str, str]:
    out = {}
    for record in (ws.envs_dir / env / "conda-meta").glob("*.json"):
        data = json.loads(record.read_text())
        out[data["name"]] = data["sha256"]
    return out


def test_lock_check_and_locked_apply(make_workspace, channel, tmp_path) -> None:
    ws = lab(make_workspace, channel, tmp_path)
    r = ws.wsp("lock")
    assert r.code == 0, r
    text = (ws.root / "wsp.lock").read_text()
    assert current_platform() in text and other_platform() in text
    assert str(ws.root) not in text, "paths inside the workspace are written relative"
    assert "./channel" in text
    assert ws.wsp("lock", "--check").code == 0

    r = ws.wsp("apply", "--locked", "--yes")
    assert r.code == 0, r
    for env in ("web", "calc"):
        lock = {n: e["sha256"] for n, e in locked(ws, env, current_platform()).items()}
        assert installed_sha256(ws, env) == lock
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r

    # The file moves on: --check names the project, --locked refuses, nothing changes.
    ws.edit('dependencies = ["requests"]', 'dependencies = ["requests", "click"]')
    r = ws.wsp("lock", "--check")
    assert r.code == 1
    assert "web" in r.stderr and "calc" not in r.stderr
    r = ws.wsp("apply", "--locked", "--yes")
    assert r.code == 1 and "out of date" in r.stderr
    assert "click" not in ws.versions("web")

    # --frozen installs the lock as it is
    r = ws.wsp("apply", "--frozen", "--yes")
    assert r.code == 0, r
    assert "click" not in ws.versions("web")

    # a plain apply follows the file and keeps the lock up to date
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert "click" in ws.versions("web")
    assert ws.wsp("lock", "--check").code == 0
    assert "click" in locked(ws, "web", other_platform())


def test_relock_keeps_versions_and_update_moves_them(make_workspace, channel, tmp_path) -> None:
    ws = lab(make_workspace, channel, tmp_path)
    assert ws.wsp("lock").code == 0
    assert locked(ws, "calc", current_platform())["numpy"]["conda"].endswith(
        "numpy-2.0.0-py_0.tar.bz2"
    )
    add_packages(ws.root / "channel", [Pkg("numpy", "2.1.0", "py_0", ("python >=3.10,<3.13",))])
    ws.edit('dependencies = ["numpy"]', 'dependencies = ["numpy", "click"]')
    assert ws.wsp("lock").code == 0  # calc re-solved: numpy stays where it was
    assert "numpy-2.0.0" in locked(ws, "calc", current_platform())["numpy"]["conda"]
    r = ws.wsp("lock", "--update", "calc")
    assert r.code == 0, r
    assert "numpy-2.1.0" in locked(ws, "calc", current_platform())["numpy"]["conda"]
    assert "numpy-2.1.0" in locked(ws, "calc", other_platform())["numpy"]["conda"]


def test_the_lock_travels_with_the_workspace(make_workspace, channel, tmp_path) -> None:
    ws = lab(make_workspace, channel, tmp_path)
    tool = Pkg("labtool", "1.0", "0")  # in no other test's channel: not in the package cache
    add_packages(ws.root / "channel", [tool])
    ws.edit('dependencies = ["requests"]', 'dependencies = ["requests", "labtool"]')
    assert ws.wsp("lock").code == 0
    moved = tmp_path / "elsewhere" / "lab"
    shutil.copytree(ws.root, moved)
    other = Workspace(moved, moved / "channel", ws.env)
    assert other.wsp("lock", "--check").code == 0
    # the local channel serves another labtool 1.0 0 than the one locked (rebuilt): refused
    # (before: installed, its record claiming the locked sha256)
    add_packages(moved / "channel", [Pkg("labtool", "1.0", "0", files={"share/x": "other"})])
    r = other.wsp("apply", "--locked", "--yes")
    assert r.code == 1, r
    assert "labtool-1.0-0.tar.bz2 at file://" in r.stdout + r.stderr, r
    assert "is not the package wsp.lock (or the channel's index) names" in r.stdout + r.stderr
    assert not (other.envs_dir / "web").exists(), r
    r = other.wsp("pack", "web")  # said as such (before: the last location's failure)
    assert r.code == 1 and "is not the package wsp.lock" in r.stderr, r
    assert "nothing was packed" in r.stderr and not list(moved.glob("*.tar")), r
    sub = f"{current_platform()}/labtool-1.0-0.tar.bz2"
    shutil.copy(ws.root / "channel" / sub, moved / "channel" / sub)
    r = other.wsp("apply", "--locked", "--yes")
    assert r.code == 0, r
    assert installed_sha256(other, "web") == {
        n: e["sha256"] for n, e in locked(ws, "web", current_platform()).items()
    }


def test_locked_without_a_lock_is_one_clear_error(workspace: Workspace) -> None:
    r = workspace.wsp("apply", "--locked", "--yes")
    assert r.code == 1
    assert r.stderr.count("\n") == 1 and "wsp lock" in r.stderr
    r = workspace.wsp("lock", "--check")
    assert r.code == 1 and "wsp lock" in r.stderr


def test_watch_keeps_the_lock_up_to_date(make_workspace, channel, tmp_path) -> None:
    ws = lab(make_workspace, channel, tmp_path)
    assert ws.wsp("lock").code == 0
    ws.edit('dependencies = ["requests"]', 'dependencies = ["requests", "click"]')
    r = ws.wsp("watch", "--once", "--json")
    assert r.code == 0, r
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert any(e["event"] == "lock" and e["updated"] == ["web"] for e in events)
    assert ws.wsp("lock", "--check").code == 0
    assert "click" in ws.versions("web")


def test_a_no_op_plan_with_a_lock_reads_only_its_summary(workspace: Workspace) -> None:
    """With wsp.lock committed, a no-op plan still skips parsing it (and loading rattler):
    .wsp/lock-summary.json, kept for the lock's exact bytes, says what it holds. Other
    bytes are parsed again, so an edited or broken lock is seen at once."""
    assert workspace.wsp("apply", "--yes").code == 0
    assert workspace.wsp("lock").code == 0
    assert "No changes" in workspace.wsp("plan").stdout  # writes the summary

    traced = workspace.wsp("plan", PYTHONIMPORTTIME="1")
    assert "No changes. 3 envs match workspace.toml." in traced.stdout, traced
    assert "rattler" not in traced.stderr, "a no-op plan parsed wsp.lock"

    lock = workspace.root / "wsp.lock"
    text = lock.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("# wsp-lock-hash webdev "))
    lock.write_text(text.replace(line, "# wsp-lock-hash webdev sha256:0"))
    stale = workspace.wsp("plan")
    assert "wsp.lock is out of date for webdev" in stale.stderr, stale

    lock.write_text("not: [a lock\n")
    broken = workspace.wsp("plan")
    assert broken.code == 1 and "wsp.lock:2:1: can't be read" in broken.stderr, broken


def test_locked_and_frozen_refuse_a_lock_without_this_platform(
    make_workspace, channel, tmp_path
) -> None:
    """A lock made for other platforms only: --locked and --frozen refuse, one line, nothing
    built (before, the env was solved from the channel and the apply passed)."""
    ws = lab(make_workspace, channel, tmp_path)
    ws.edit(
        f'platforms = ["{current_platform()}", "{other_platform()}"]',
        f'platforms = ["{other_platform()}"]',
    )
    assert ws.wsp("lock").code == 0
    assert ws.wsp("lock", "--check").code == 0
    for flag in ("--locked", "--frozen"):
        r = ws.wsp("apply", flag, "--yes")
        assert r.code == 1, r
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r
        assert (
            f"{flag}: wsp.lock has no {current_platform()} packages for web "
            f"(it has: {other_platform()}); nothing was changed; "
            f'add "{current_platform()}" to platforms in [workspace] and run `wsp lock`'
        ) in r.stderr, r
        assert not ws.envs_dir.exists() or not any(ws.envs_dir.iterdir()), r
    r = ws.wsp("apply", "--frozen", "--yes", "--target", "calc")
    assert r.code == 1 and "packages for calc" in r.stderr, r


def test_a_corrupt_lock_is_located_and_wsp_lock_writes_it_again(
    make_workspace, channel, tmp_path
) -> None:
    """A lock broken by a bad merge: what needs it says where (wsp.lock:LINE:COL) and
    changes nothing; `wsp lock` (and --update) solves every project again and replaces it
    (before, it failed with the same error, a dead end but for `rm wsp.lock`)."""
    ws = lab(make_workspace, channel, tmp_path)
    assert ws.wsp("lock").code == 0
    lock = ws.root / "wsp.lock"
    good = lock.read_text()
    broken = good + "  - : [\n"
    line = broken.count("\n")
    lock.write_text(broken)
    where = f"wsp.lock:{line}:3: can't be read: did not find expected key"
    for args in (("lock", "--check"), ("plan",), ("apply", "--locked", "--yes")):
        r = ws.wsp(*args)
        assert r.code == 1, r
        assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {where}"), r
        assert r.stderr.rstrip().endswith("run `wsp lock` to write it again"), r
        assert lock.read_text() == broken and not ws.envs_dir.exists(), r

    r = ws.wsp("lock")
    assert r.code == 0, r
    assert f"note: {where}" in r.stderr and "solved every project again" in r.stderr, r
    assert ws.wsp("lock", "--check").code == 0
    lock.write_bytes(b"# wsp.lock\nversion: \xff\n")
    r = ws.wsp("plan")
    assert r.code == 1 and "error: wsp.lock:2:10: can't be read: it is not UTF-8" in r.stderr, r
    # cut short, or an entry's URL edited: where rattler stopped, though it does not say
    # (before: `wsp.lock: can't be read: failed to parse digest`, no line)
    cut = good[: good.index("\n  sha256: ") + 20]
    gone = good.replace("/idna-3.7-", "/idna-3.8-", 1)
    for text, where in (
        (cut, f"{cut.count(chr(10)) + 1}:3: can't be read: failed to parse digest"),
        (gone, f"{good[: good.index('/idna-3.7-')].count(chr(10)) + 1}:7: can't be read: "),
    ):
        lock.write_text(text)
        r = ws.wsp("plan")
        assert r.code == 1 and r.stderr.startswith(f"error: wsp.lock:{where}"), r
    r = ws.wsp("lock", "--update", "web")
    assert r.code == 0, r
    assert ws.wsp("lock", "--check").code == 0
    assert "numpy" in locked(ws, "calc", current_platform())

    # a hand edit that drops a package another one needs (before: installed, packed and
    # --check'ed as it was, an env whose requests could not import idna) or one declared
    good = lock.read_text()
    lines = good.splitlines(keepends=True)
    start = lines.index("  web:\n")
    start += lines[start:].index(f"      {current_platform()}:\n")
    idna = next(i for i in range(start, len(lines)) if "/idna-" in lines[i])
    needs = next(i for i in range(start, len(lines)) if "/requests-" in lines[i])
    lock.write_text("".join(lines[:idna] + lines[idna + 1 :]))
    where = f"error: wsp.lock:{needs + (needs < idna)}:7: wsp.lock lacks what its packages"
    for args in (("lock", "--check"), ("apply", "--locked", "--yes"), ("pack", "web")):
        r = ws.wsp(*args)
        assert r.code == 1 and r.stderr.count("\n") == 1, r
        assert r.stderr.startswith(where), r
        assert (
            f"web ({current_platform()}): requests 2.32.3 (pyhd8ed1ab_0) depends on "
            "'idna >=2.5,<4': no idna is locked; run `wsp lock`"
        ) in r.stderr, r
        assert not ws.envs_dir.exists() and not list(ws.root.glob("*.tar")), r
    lock.write_text("".join(lines[:needs] + lines[needs + 1 :]))
    r = ws.wsp("lock", "--check")
    assert r.code == 1, r
    hash_line = 1 + next(i for i, ln in enumerate(lines) if ln.startswith("# wsp-lock-hash web"))
    assert r.stderr.startswith(f"error: wsp.lock:{hash_line}:1: wsp.lock does not satisfy"), r
    assert ws.wsp("lock").code == 0 and lock.read_text() == good


def test_lock_usage_errors_name_the_flag_given(make_workspace, channel, tmp_path) -> None:
    """`--update NAME` names --update (not --target); --check with --update is a usage
    error (before, --check won silently)."""
    ws = lab(make_workspace, channel, tmp_path)
    r = ws.wsp("lock", "--update", "clac")
    assert r.code == 1, r
    assert r.stderr == (
        "error: --update 'clac' is not a project of this workspace; did you mean 'calc'?\n"
    ), r
    assert not (ws.root / "wsp.lock").exists()
    r = ws.wsp("lock", "--check", "--update")
    assert r.code == 1, r
    assert r.stderr.startswith("usage: wsp lock "), r
    assert "error: argument --update: not allowed with argument --check" in r.stderr, r
    assert not (ws.root / "wsp.lock").exists()
