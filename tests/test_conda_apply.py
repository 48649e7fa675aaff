"""What `wsp apply` must leave for conda (issue 13), through the CLI.

The writers exist (wsp/condameta.py, wsp/modes.py, wsp/conda.py, wsp/userconfig.py) and
are tested on their own; apply calls them once the apply pipeline is wired (see the
report of issue 13). Until then these are strict xfails: each turns into a failure the
moment it passes, so whoever wires it removes the mark.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace
from wsp import condameta

TOML = """\
[workspace]
name = "for-conda"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["pandas>=2", "six"]
"""


@pytest.fixture
def applied(make_workspace: Callable[..., Workspace]) -> Workspace:
    ws = make_workspace(TOML)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    return ws


def test_history_names_the_declared_specs_and_the_dropped_ones(applied: Workspace) -> None:
    prefix = applied.envs_dir / "finance"
    assert set(condameta.requested_specs(prefix)) == {"python", "pandas", "six"}
    assert condameta.history_state(prefix) == condameta.prefix_dists(prefix)
    applied.edit('["pandas>=2", "six"]', '["pandas>=2"]')
    r = applied.wsp("apply", "--yes")
    assert r.code == 0, r
    text = (prefix / "conda-meta" / "history").read_text()
    assert "# remove specs: ['six']" in text
    assert set(condameta.requested_specs(prefix)) == {"python", "pandas"}


def test_every_owned_env_is_frozen_unless_opted_out(applied: Workspace) -> None:
    prefix = applied.envs_dir / "finance"
    assert condameta.frozen_by_wsp(prefix)
    message = json.loads((prefix / "conda-meta" / "frozen").read_text())["message"]
    assert str(applied.manifest) in message and "wsp apply" in message
    applied.edit('name = "for-conda"\n', 'name = "for-conda"\nfreeze-envs = false\n')
    r = applied.wsp("apply", "--yes")
    assert r.code == 0, r
    assert not (prefix / "conda-meta" / "frozen").exists()


def test_records_get_conda_s_modes(applied: Workspace) -> None:
    meta = applied.envs_dir / "finance" / "conda-meta"
    assert {stat.S_IMODE(p.stat().st_mode) for p in meta.glob("*.json")} == {0o644}


def test_records_name_the_declared_channel_not_the_mirror(applied: Workspace) -> None:
    meta = applied.envs_dir / "finance" / "conda-meta"
    channels = {json.loads(p.read_text())["channel"].rstrip("/") for p in meta.glob("*.json")}
    assert channels == {"https://conda.anaconda.org/conda-forge"}
    r = applied.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r  # records renamed, the env still in sync
    r = applied.wsp("lock")
    assert r.code == 0, r
    assert applied.channel.as_uri() not in (applied.root / "wsp.lock").read_text()


def test_records_of_a_channel_used_directly_name_it(
    make_workspace: Callable[..., Workspace],
) -> None:
    """Without a mirror, each record names the channel as declared, its URL in it."""
    ws = make_workspace(
        '[workspace]\nname = "direct"\nchannels = ["{channel}"]\nenvs-dir = ".wsp/envs"\n\n'
        '[projects.finance]\npython = "3.9"\ndependencies = ["pandas>=2", "six"]\n'
    )
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    base = ws.channel.as_uri().rstrip("/") + "/"
    records = [
        json.loads(p.read_text()) for p in (ws.envs_dir / "finance").glob("conda-meta/*.json")
    ]
    assert records and {d["channel"] for d in records} == {base}
    assert all(d["url"].startswith(base) for d in records)
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r


def test_the_frozen_setting_is_read(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(TOML.replace('name = "for-conda"\n', 'name = "x"\nfreeze-envs = "maybe"\n'))
    r = ws.wsp("plan")
    assert r.code == 1, r
    assert "workspace.toml:3:" in r.stderr and "freeze-envs" in r.stderr, r


def test_env_vars_are_set_where_conda_activate_sets_them(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(
        TOML.replace('dependencies = ["pandas>=2", "six"]', 'env-vars = { OMP_NUM_THREADS = "8" }')
    )
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    state = ws.envs_dir / "finance" / "conda-meta" / "state"
    assert json.loads(state.read_text())["env_vars"] == {"OMP_NUM_THREADS": "8"}
    ws.edit('OMP_NUM_THREADS = "8"', 'OMP_NUM_THREADS = "4"')
    (action,) = ws.wsp("plan", "--json").json["actions"]
    assert action["action"] == "update", action
    assert action["reasons"] == ["env vars changed: + OMP_NUM_THREADS (new value)"], action
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert json.loads(state.read_text())["env_vars"] == {"OMP_NUM_THREADS": "4"}
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    r = ws.wsp("env", "finance")
    assert "export OMP_NUM_THREADS=4" in r.stdout, r


def test_a_channel_pinned_spec_is_fetched_from_the_channel_s_mirror(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(TOML.replace('["pandas>=2", "six"]', '["conda-forge::six"]'))
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    (action,) = r.json["actions"]
    assert "conda-forge::six" in action["specs"]["conda"], action
    assert {p["name"] for p in action["install"]} >= {"python", "six"}
    assert all(
        p["url"].startswith("https://conda.anaconda.org/conda-forge/") for p in action["install"]
    )
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert any(d.startswith("six-") for d in ws.dists("finance"))
    assert ws.wsp("plan", "--detailed-exitcode").code == 0


def test_an_env_carries_no_backup_tag_of_rattler_s(applied: Workspace) -> None:
    """rattler writes CACHEDIR.TAG at the root of every prefix it installs into: backup
    tools would skip the env, and conda leaves no such file. wsp removes it after each
    install (create, update); one a package lists, or another text, is not rattler's."""
    prefix = applied.envs_dir / "finance"
    assert (prefix / "conda-meta").is_dir() and not (prefix / "CACHEDIR.TAG").exists()
    applied.edit('["pandas>=2", "six"]', '["pandas>=2"]')
    assert applied.wsp("apply", "--yes").code == 0
    assert not (prefix / "CACHEDIR.TAG").exists()


def test_a_cachedir_tag_that_is_not_rattler_s_is_left_alone(tmp_path: Path) -> None:
    from wsp.engines.rattler import drop_backup_tag

    rattler_s = (
        b"Signature: 8a477f597d28d172789f06886806bc55\n"
        b"# This file is a cache directory tag created by rattler.\n"
    )
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    tag = prefix / "CACHEDIR.TAG"
    tag.write_bytes(b"Signature: 8a477f597d28d172789f06886806bc55\n# mine\n")
    drop_backup_tag(prefix)
    assert tag.exists()  # someone else's text
    tag.write_bytes(rattler_s)
    (prefix / "conda-meta" / "tagged-1-0.json").write_text('{"files": ["CACHEDIR.TAG"]}')
    drop_backup_tag(prefix)
    assert tag.exists()  # a package's file
    (prefix / "conda-meta" / "tagged-1-0.json").unlink()
    drop_backup_tag(prefix)
    assert not tag.exists()


DEFAULTS_TOML = """\
[workspace]
name = "for-conda"
channels = ["defaults"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"defaults" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["six"]
"""


def test_a_mirror_of_defaults_leaves_records_naming_anacondas_main(
    make_workspace: Callable[..., Workspace],
) -> None:
    """`defaults` is Anaconda's pkgs/main and pkgs/r, mirrored or not: records, wsp.lock
    and the explicit export name pkgs/main (what conda elsewhere can fetch), never
    `conda.anaconda.org/defaults`; keying the mirror by the two URLs changes nothing."""
    main = "https://repo.anaconda.com/pkgs/main"
    ws = make_workspace(DEFAULTS_TOML)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    records = [
        json.loads(p.read_text()) for p in (ws.envs_dir / "finance").glob("conda-meta/*.json")
    ]
    assert records and {d["channel"].rstrip("/") for d in records} == {main}
    assert all(d["url"].startswith(main + "/") for d in records)
    r = ws.wsp("export", "finance", "--format", "explicit", "-o", "finance.txt")
    assert r.code == 0, r
    urls = [u for u in (ws.root / "finance.txt").read_text().splitlines() if "://" in u]
    assert urls and all(u.startswith(main + "/") for u in urls), urls
    assert ws.wsp("lock").code == 0
    lock = (ws.root / "wsp.lock").read_text()
    assert "conda.anaconda.org/defaults" not in lock and ws.channel.as_uri() not in lock
    assert main in lock
    ws.edit(
        '"defaults" = [',
        f'"{main}" = ["{ws.channel.as_uri()}"]\n"https://repo.anaconda.com/pkgs/r" = [',
    )
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r  # a change of mirrors is no change of the declaration


def test_packages_are_linked_as_conda_links_them(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    """What conda does at link time that rattler does not: a `noarch: python` package's
    modules compiled by the env's python, each .pyc in its record (else `conda remove`
    leaves them, the package still importable), its entry points with the umask's mode
    (rattler: 0775); a post-link script is not run (wsp runs no package code) but named."""
    import os
    import sys

    from tests.support.channel import PREFIX_PLACEHOLDER, Pkg, build_channel, interpreter_python

    site = "site-packages/tool"
    tool = Pkg(
        "tool", "1.0", "pyh0_0", ("python",), noarch="python", entry_points=("tool = tool:main",),
        files={f"{site}/__init__.py": "def main():\n    return 0\n", f"{site}/cli.py": "X = 1\n",
               f"{site}/where.py": f"WHERE = '{PREFIX_PLACEHOLDER}'\n"},
    )  # fmt: skip
    hooked = Pkg(
        "hooked", "1.0", "h0_0",
        files={"bin/.hooked-post-link.sh": 'touch "$PREFIX/ran"\n', "share/hooked/x": "x\n"},
    )  # fmt: skip
    channel = build_channel(tmp_path / "linking", [interpreter_python(), tool, hooked])
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    ws = make_workspace(
        f'[workspace]\nname = "linking"\nchannels = ["{{channel}}"]\nenvs-dir = ".wsp/envs"\n\n'
        f'[projects.app]\npython = "{py}"\ndependencies = ["tool", "hooked"]\n',
        chan=channel,
    )
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    prefix = ws.envs_dir / "app"
    assert "post-link script of hooked 1.0 (bin/.hooked-post-link.sh)" in r.stderr, r
    assert f"PREFIX={prefix} PKG_NAME=hooked" in r.stderr, r
    assert not (prefix / "ran").exists()
    (record,) = (prefix / "conda-meta").glob("tool-1.0-pyh0_0.json")
    data = json.loads(record.read_text())
    tag = "cpython-" + py.replace(".", "")
    pycs = [f"lib/python{py}/{site}/__pycache__/{m}.{tag}.pyc" for m in ("__init__", "cli")]
    assert set(pycs) <= set(data["files"]), data["files"]
    assert {"_path": pycs[1], "path_type": "pyc_file"} in data["paths_data"]["paths"]
    assert all((prefix / p).is_file() for p in pycs)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((prefix / "bin" / "tool").stat().st_mode) == (0o666 & ~mask) | 0o111
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    # another env of the same cached package links the modules the first one compiled
    ws.edit(
        'dependencies = ["tool", "hooked"]\n',
        f'dependencies = ["tool", "hooked"]\n\n[projects.other]\npython = "{py}"\n'
        'dependencies = ["tool"]\n',
    )
    assert ws.wsp("apply", "--yes").code == 0
    other = ws.envs_dir / "other"
    assert all((other / p).stat().st_ino == (prefix / p).stat().st_ino for p in pycs)
    (record,) = (other / "conda-meta").glob("tool-1.0-pyh0_0.json")
    assert set(pycs) <= set(json.loads(record.read_text())["files"])
    # a module rewritten for its env (its prefix) is compiled in each env, never shared: an
    # env made in the same second, with a prefix as long, took another env's (same header)
    where = f"lib/python{py}/{site}/__pycache__/where.{tag}.pyc"
    assert str(other).encode() in (other / where).read_bytes()
    (store,) = (Path(ws.env["WSP_CACHE_DIR"]) / "pkgs").glob("tool-1.0-pyh0_0/.wsp-pyc/*")
    assert (store / pycs[0]).is_file() and not (store / where).exists()
    assert stat.S_IMODE(store.stat().st_mode) == 0o777 & ~mask  # other users of the cache read it


def test_a_compiled_module_is_taken_from_the_cache_only_for_the_cache_s_own_file(
    tmp_path: Path,
) -> None:
    """The store's .pyc is linked into an env only when the env's source is the cache's
    file (a hard link, header matching): a copy with the env's prefix written in, or a
    source that changed, is compiled again."""
    import os
    import py_compile
    import shutil
    import sys

    from wsp.engines.linking import _pyc, _take

    tag = sys.implementation.cache_tag
    rel = "lib/site-packages/mod.py"
    cache = tmp_path / "cache" / rel
    cache.parent.mkdir(parents=True)
    cache.write_text("X = 1\n")
    store = tmp_path / "store"
    (store / _pyc(rel, tag)).parent.mkdir(parents=True)
    py_compile.compile(str(cache), cfile=str(store / _pyc(rel, tag)), dfile=rel)
    other = tmp_path / "other" / "mod.py"  # another build's file, in the cache too
    other.parent.mkdir()
    other.write_text("X = 22\n")
    envs = {name: tmp_path / name / rel for name in ("linked", "copied", "changed")}
    for name, path in envs.items():
        path.parent.mkdir(parents=True)
        if name == "copied":
            shutil.copy2(cache, path)
        else:
            os.link(cache if name == "linked" else other, path)
    taken = {name: _take(store, tmp_path / name, rel, tag) for name in envs}
    assert taken == {"linked": True, "copied": False, "changed": False}
    # a .pyc already there (one Python wrote at an import) is left to compileall to judge
    assert not _take(store, tmp_path / "linked", rel, tag)
    assert (tmp_path / "linked" / _pyc(rel, tag)).stat().st_ino == (
        (store / _pyc(rel, tag)).stat().st_ino
    )
