"""Other users can read the envs (issue 13, item 2), checked as a real second user.

An env built by the real engine (rattler writes conda-meta/*.json 0600), then given
conda's modes by `wsp.modes.fix_modes`: another user reads every record, and in a
setgid group-shared envs dir with a group-writable umask the group keeps working: a second
member takes the workspace lock, and what its update writes into the first member's env
gets the group's modes too. (The second user runs wsp's modules with a system Python:
this checkout's dependencies are not readable by it.)"""

from __future__ import annotations

import grp
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Workspace
from tests.support.users import User, run_as, system_python, wsp_env_for, wsp_python
from wsp.modes import fix_modes

REPO = Path(__file__).resolve().parents[1]

TOML = """\
[workspace]
name = "shared"
channels = ["conda-forge"]
envs-dir = "{envs}"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["pandas>=2"]
"""

# Read every record and every file of an env, as conda list / import would.
READ_ALL = """
import json, os, sys
prefix = sys.argv[1]
names = []
for d, dirs, files in os.walk(prefix):
    for f in files:
        p = os.path.join(d, f)
        if os.path.islink(p):
            continue
        with open(p, 'rb') as fh:
            fh.read(1)
        if d.endswith('conda-meta') and f.endswith('.json'):
            names.append(json.load(open(p))['name'])
print(json.dumps(sorted(names)))
"""


@pytest.fixture
def py(other_user: User) -> str:
    python = system_python(other_user)
    if python is None:
        pytest.skip("no Python the second user can run")
    return python


@pytest.fixture
def umask_002() -> Iterator[None]:
    old = os.umask(0o002)
    yield
    os.umask(old)


def build(shared_tmp: Path, channel: Path, wsp_env: dict[str, str], envs: Path) -> Path:
    ws = Workspace(shared_tmp / "ws", channel, wsp_env)
    ws.root.mkdir()
    ws.write(TOML.replace("{envs}", str(envs)))
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    return envs / "finance"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_another_user_reads_every_record(
    other_user: User, py: str, shared_tmp: Path, channel: Path, wsp_env: dict[str, str]
) -> None:
    prefix = build(shared_tmp, channel, wsp_env, shared_tmp / "envs")
    records = sorted((prefix / "conda-meta").glob("*.json"))
    assert records  # rattler writes them 0600; `wsp apply` gives them conda's modes
    assert {mode(r) for r in records} == {0o644}
    assert mode(prefix / "conda-meta" / "wsp") == 0o644
    assert mode(prefix / "conda-meta") == 0o755
    after = run_as(other_user, [py, "-c", READ_ALL, str(prefix)])
    assert after.returncode == 0, after.stderr
    assert "pandas" in json.loads(after.stdout)
    # the other user cannot change it
    r = run_as(other_user, ["/bin/sh", "-c", f"echo x >> {prefix}/conda-meta/history"])
    assert r.returncode != 0


def test_a_group_shared_envs_dir_keeps_working_for_the_group(
    other_user: User,
    py: str,
    shared_tmp: Path,
    channel: Path,
    wsp_env: dict[str, str],
    umask_002: None,
) -> None:
    envs = shared_tmp / "envs"
    envs.mkdir()
    os.chown(envs, -1, other_user.shared_gid)
    envs.chmod(0o2775)  # setgid: what is made inside takes the group
    prefix = build(shared_tmp, channel, wsp_env, envs)
    fix_modes(prefix, mask=0o002)  # the umask apply ran with

    meta = prefix / "conda-meta"
    group = grp.getgrgid(other_user.shared_gid).gr_name
    for path in [prefix, meta, *meta.iterdir()]:
        assert path.stat().st_gid == other_user.shared_gid, (path, group)
    assert mode(prefix) & 0o2775 == 0o2775
    assert mode(meta) == 0o2775
    assert {mode(r) for r in meta.glob("*.json")} == {0o664}
    assert mode(meta / "history") == 0o664

    # a member of the group reads every record and can append to the history and
    # replace a record, as a group member's conda or wsp would
    r = run_as(other_user, [py, "-c", READ_ALL, str(prefix)], umask=0o002)
    assert r.returncode == 0, r.stderr
    script = (
        f"echo '# by a group member' >> {meta}/history && "
        f"cp {meta}/wsp {meta}/.copy && mv {meta}/.copy {meta}/wsp-group-test"
    )
    r = run_as(other_user, ["/bin/sh", "-c", script], umask=0o002)
    assert r.returncode == 0, r.stderr
    assert (meta / "wsp-group-test").stat().st_gid == other_user.shared_gid

    # the env made private, as an apply under umask 077 leaves it: the member's wsp names
    # it blocked, whose it is and what to ask (it stopped every plan with "Permission denied")
    (meta / "wsp-group-test").unlink()
    prefix.chmod(0o2700)
    meta.chmod(0o2700)
    observe = (
        "import sys, pathlib; from wsp.identity import Owner; from wsp.observe import observe_env\n"
        "from wsp.reasons import NotOwned\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "have = observe_env(Owner('shared', '/elsewhere/workspace.toml'), p)\n"
        "print(have.ownership, have.private_to)\n"
        "reason = NotOwned(p.name, have.why_not_ours(None), prefix=str(p), private_to=have.private_to)\n"
        "print(reason.message); print(reason.next_steps[0])\n"
        "from wsp.kernels import _is_env; print(_is_env(p))\n"  # `wsp check` asked this
    )
    out = as_member(other_user, py, observe, str(prefix)).splitlines()
    assert out[0] == "unreadable root", out
    assert (
        "you may not read it" in out[1]
        and "the env is root's (group wsp-shared), mode 2700" in out[1]
    ), out
    assert out[2].startswith(f"ask root to let the group read it (`chmod -R g+rX {prefix}`"), out
    assert out[3] == "False", out
    # its marker alone private (rewritten by a member under umask 077): the same
    prefix.chmod(0o2775)
    meta.chmod(0o2775)
    (meta / "wsp").chmod(0o600)
    out = as_member(other_user, py, observe, str(prefix)).splitlines()
    assert out[0] == "unreadable root", out
    assert "conda-meta/wsp: Permission denied; the marker is root's (group" in out[1], out
    # readable but not the member's to write (built under umask 022): whose it is
    (meta / "wsp").chmod(0o644)
    prefix.chmod(0o2755)
    mine = observe.replace(
        "'/elsewhere/workspace.toml'", repr(str(shared_tmp / "ws" / "workspace.toml"))
    )
    mine = mine.replace(
        "print(have.ownership, have.private_to)", "print(have.ownership, have.read_only)"
    )
    out = as_member(other_user, py, mine, str(prefix)).splitlines()
    assert out[0] == f"ours {prefix} is not writable: it is root's (group wsp-shared), mode 2755", (
        out
    )


def test_fix_modes_leaves_private_umask_private_and_keeps_exec_bits(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "bin").mkdir()
    rec = prefix / "conda-meta" / "x-1-0.json"
    rec.write_text("{}")
    rec.chmod(0o600)
    tool = prefix / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    fix_modes(prefix, mask=0o077)
    assert mode(rec) == 0o600 and mode(tool) == 0o700
    fix_modes(prefix, mask=0o022)
    assert mode(rec) == 0o644 and mode(tool) == 0o755


def test_package_files_two_envs_share_are_given_their_modes_once(tmp_path: Path) -> None:
    """Envs of one apply share their package files with the package cache (hard links):
    once a file is given its modes it is not looked at again; each env's own files (its
    records, a copied file) still are."""
    cache = tmp_path / "pkgs" / "lib.py"
    cache.parent.mkdir()
    cache.write_text("x = 1\n")
    cache.chmod(0o600)  # a cache extracted under a private umask
    envs = []
    for name in ("a", "b"):
        prefix = tmp_path / name
        (prefix / "conda-meta").mkdir(parents=True)
        (prefix / "conda-meta" / "lib-1-0.json").write_text("{}")
        (prefix / "conda-meta" / "lib-1-0.json").chmod(0o600)
        os.link(cache, prefix / "lib.py")
        (prefix / "copied.py").write_text("y = 2\n")
        (prefix / "copied.py").chmod(0o600)
        envs.append(prefix)
    linked: set[tuple[int, int]] = set()
    fix_modes(envs[0], mask=0o022, linked=linked)
    assert mode(cache) == 0o644 and len(linked) == 1
    cache.chmod(0o600)  # not looked at again: left as this test set it
    fix_modes(envs[1], mask=0o022, linked=linked)
    assert mode(cache) == 0o600
    for own in ("conda-meta/lib-1-0.json", "copied.py"):
        assert mode(envs[1] / own) == 0o644, own
    fix_modes(envs[1], mask=0o022)  # without the shared set, every file is looked at
    assert mode(cache) == 0o644


def test_a_package_folder_of_the_cache_is_given_its_modes_once_per_umask(tmp_path: Path) -> None:
    """Files linked from a package's folder of the cache (the folder its record names) get
    their modes there, once per umask, which a stamp in the folder records: an apply after
    it does not look at them again, one under another umask does."""
    folder = tmp_path / "pkgs" / "lib-1-0"
    (folder / "bin").mkdir(parents=True)
    cached, tool = folder / "mod.py", folder / "bin" / "tool"
    for path, bits in ((cached, 0o600), (tool, 0o700)):  # extracted under a private umask
        path.write_text("x = 1\n")
        path.chmod(bits)

    def env(name: str) -> Path:
        prefix = tmp_path / name
        (prefix / "bin").mkdir(parents=True)
        (prefix / "conda-meta").mkdir()
        record = {"name": "lib", "extracted_package_dir": str(folder)}
        (prefix / "conda-meta" / "lib-1-0.json").write_text(json.dumps(record, indent=2))
        (prefix / "conda-meta" / "lib-1-0.json").chmod(0o600)  # as rattler writes it
        os.link(cached, prefix / "mod.py")
        os.link(tool, prefix / "bin" / "tool")
        return prefix

    fix_modes(env("a"), mask=0o022, linked=set())
    assert (mode(cached), mode(tool)) == (0o644, 0o755)
    assert (folder / ".wsp-modes-022").is_file()
    cached.chmod(0o600)  # the stamp is taken at its word: not looked at again
    fix_modes(b := env("b"), mask=0o022, linked=set())
    assert mode(cached) == 0o600
    assert mode(b / "conda-meta" / "lib-1-0.json") == 0o644  # the env's own files still are
    fix_modes(b, mask=0o002, linked=set())  # another umask: the folder is looked at again
    assert mode(cached) == 0o644 and (folder / ".wsp-modes-002").is_file()


def group_folder(path: Path, user: User) -> Path:
    """`path` made a group-shared folder (the group's, setgid, 2775)."""
    path.mkdir(exist_ok=True)
    os.chown(path, -1, user.shared_gid)
    path.chmod(0o2775)
    return path


def as_member(user: User, py: str, code: str, *args: str) -> str:
    """Run `code` with this checkout's wsp as the other user (a group member, umask 002)."""
    check = run_as(user, [py, "-c", "import wsp.modes"], env={"PYTHONPATH": str(REPO)})
    if check.returncode != 0:
        pytest.skip(f"the second user cannot read this checkout: {check.stderr.strip()[-200:]}")
    r = run_as(user, [py, "-c", code, *args], env={"PYTHONPATH": str(REPO)}, umask=0o002)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_second_group_member_takes_the_lock_of_a_group_shared_workspace(
    other_user: User,
    py: str,
    shared_tmp: Path,
    channel: Path,
    wsp_env: dict[str, str],
    umask_002: None,
) -> None:
    """Every file wsp keeps in `.wsp/` is made with the umask's mode (0664 under 002), so
    a second member of the group may write it; apply.lock was 0644 whatever the umask."""
    group_folder(shared_tmp / "ws", other_user)
    ws = Workspace(shared_tmp / "ws", channel, wsp_env)
    ws.write(TOML.replace("{envs}", str(shared_tmp / "ws" / "envs")))
    assert ws.wsp("apply", "--yes").code == 0
    state = ws.root / ".wsp"
    files = {p.name: mode(p) for p in state.iterdir() if p.is_file()}
    assert {"apply.lock", "id"} <= set(files), files
    assert files == dict.fromkeys(files, 0o664), files
    assert mode(state) & 0o2775 == 0o2775

    code = (
        "import sys, pathlib; from wsp.applylock import workspace_lock\n"
        "with workspace_lock(pathlib.Path(sys.argv[1]), timeout=5): print('held')"
    )
    assert as_member(other_user, py, code, str(state)).strip() == "held"

    # a workspace the group may not write: one line saying whose it is, no traceback
    state.chmod(0o755)
    (state / "apply.lock").chmod(0o644)
    code = code.replace("print('held')", "pass").replace(
        "with workspace_lock", "from wsp.errors import WspError\ntry:\n  with workspace_lock"
    )
    code += "\nexcept WspError as exc: print(exc)"
    said = as_member(other_user, py, code, str(state)).strip()
    assert said.startswith(f"can't take the workspace lock: {state}/apply.lock: Permission "), said
    assert "; .wsp/ is root's (group wsp-shared), mode 0755; " in said, said
    # any file another user keeps from this one: `wsp plan` said only "Permission denied: F"
    code = "import sys; from wsp.cli import _whose\n"
    code += "print(_whose(PermissionError(13, 'Permission denied', sys.argv[1])))"
    said = as_member(other_user, py, code, str(state / "apply.lock")).strip()
    assert said == "; it is root's (group wsp-shared), mode 0644", said

    # a package cache the group shares, made by a member under umask 077 (or 022): rattler
    # said only "failed to acquire global cache lock: Permission denied"
    pkgs = group_folder(shared_tmp / "cache", other_user) / "pkgs"
    pkgs.mkdir(mode=0o700)
    code = "import sys, pathlib; from wsp.modes import cache_denied\n"
    code += "print(cache_denied(pathlib.Path(sys.argv[1])))"
    said = as_member(other_user, py, code, str(pkgs)).strip()
    assert said == f"{pkgs}: Permission denied; it is root's (group wsp-shared), mode 2700", said
    pkgs.chmod(0o2775)
    (pkgs / ".cache.lock").touch(mode=0o644)
    said = as_member(other_user, py, code, str(pkgs)).strip()
    assert said.startswith(f"{pkgs}/.cache.lock: Permission denied; it is root's"), said
    (pkgs / ".cache.lock").chmod(0o664)
    assert as_member(other_user, py, code, str(pkgs)).strip() == "None"

    # `wsp gc` by a member, in that cache: an entry another member made under umask 077
    # (its folder 2700, no file of it visible) stopped gc ("Permission denied: .../info"),
    # and a folder whose files gc could not see looked empty: free to delete
    entry = pkgs / "lib-1.0-0"
    (entry / "info").mkdir(parents=True)
    (entry / "info" / "index.json").write_text("{}")
    entry.chmod(0o2700)
    code = (
        "import sys, time, pathlib; from wsp import gc\n"
        "entries = gc._package_entries(pathlib.Path(sys.argv[1]))\n"
        "items = [gc.Item('package', d, tuple(p)) for d, p in entries.items()]\n"
        "free, kept = gc._weigh(items, now=time.time() + 3600)\n"
        "print([i.name for i in free], [(i.name, i.why_kept) for i in kept])"
    )
    said = as_member(other_user, py, code, str(pkgs)).strip()
    assert said == f"[] [('lib-1.0-0', \"{entry} can't be read: it may be another user's\")]", said


def test_a_group_member_s_update_of_another_member_s_env_gets_the_group_s_modes(
    other_user: User,
    py: str,
    shared_tmp: Path,
    channel: Path,
    wsp_env: dict[str, str],
    umask_002: None,
) -> None:
    """The env is root's (its folders too); the member writes new records into them, 0600
    as rattler writes them, and fix_modes as that member opens them up for the group.
    Another user's files and folders keep their modes."""
    envs = group_folder(shared_tmp / "envs", other_user)
    prefix = build(shared_tmp, channel, wsp_env, envs)
    meta = prefix / "conda-meta"
    meta.chmod(0o2770)  # root's: the member may not change its mode, nor should it
    (prefix / "lib" / "root-only").write_text("x")
    (prefix / "lib" / "root-only").chmod(0o640)
    write = (
        "import os, sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "for f in (p / 'conda-meta' / 'six-1.17.0-0.json', p / 'lib' / 'new' / 'six.py'):\n"
        "    f.parent.mkdir(exist_ok=True, mode=0o700)\n"
        "    f.write_text('{}'); f.chmod(0o600)\n"
        "from wsp.modes import fix_modes\n"
        "fix_modes(p, mask=0o002)\n"
    )
    as_member(other_user, py, write, str(prefix))
    record = meta / "six-1.17.0-0.json"
    assert record.stat().st_uid == other_user.uid
    assert mode(record) == 0o664
    assert record.stat().st_gid == other_user.shared_gid
    assert mode(prefix / "lib" / "new") == 0o2775
    assert mode(prefix / "lib" / "new" / "six.py") & 0o444 == 0o444
    assert mode(meta) == 0o2770  # root's folder and file: left as they were
    assert mode(prefix / "lib" / "root-only") == 0o640


def test_a_group_member_s_wsp_plans_and_runs_beside_an_env_another_member_keeps_private(
    other_user: User,
    shared_tmp: Path,
    channel: Path,
    wsp_env: dict[str, str],
    umask_002: None,
) -> None:
    """The member's own `wsp plan`, `status` and `run` (skipped where no Python the member
    can run has wsp's dependencies: see tests/support/users.py). A member's env built under
    umask 077 stopped them all with "Permission denied: ENV/conda-meta"."""
    python = wsp_python(other_user, REPO)
    if python is None:
        pytest.skip("no Python the second user can run wsp with (WSP_TEST_OTHER_USER_PYTHON)")
    chan = Path(shutil.copytree(channel, shared_tmp / "channel"))  # the seed one is root's
    envs = group_folder(shared_tmp / "envs", other_user)
    ws = Workspace(group_folder(shared_tmp / "ws", other_user), chan, wsp_env)
    ws.write(TOML.replace("{envs}", str(envs)))
    assert ws.wsp("apply", "--yes").code == 0
    (envs / "finance").chmod(0o2700)  # as an apply under umask 077 leaves it
    cache = group_folder(shared_tmp / "cache", other_user)

    def member(*args: str) -> subprocess.CompletedProcess[str]:
        env = wsp_env_for(REPO, WSP_CACHE_DIR=str(cache))
        return run_as(other_user, [python, "-m", "wsp", *args], env=env, cwd=ws.root, umask=0o002)

    why = "you may not read it (" + str(envs / "finance" / "conda-meta")
    whose = "Permission denied; the env is root's (group wsp-shared), mode 2700)"
    r = member("plan")
    assert r.returncode == 0 and why in r.stdout and whose in r.stdout, r
    assert "ask root to let the group read it" in r.stdout, r
    assert "Traceback" not in r.stderr, r
    r = member("status")
    assert r.returncode == 0 and "not owned" in r.stdout, r
    r = member("run", "finance", "--", "true")
    assert r.returncode == 1 and why in r.stderr and len(r.stderr.splitlines()) == 1, r
