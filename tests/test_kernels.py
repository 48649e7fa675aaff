"""Jupyter kernels (issue 15): the `jupyter` key, the merged kernel of each env, and the
kernelspecs wsp writes, finds, reports and removes (wsp/kernels.py).

The last test is end to end: the real CLI applies a project whose env gets ipykernel
from PyPI (the pip layer) and an activate.d script from a conda package, wsp writes its
kernelspec, and jupyter_client finds it, starts it and runs code in it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.channel import Pkg, build_channel, current_platform
from tests.support.cli import Workspace, snapshot
from wsp import cache as cache_mod
from wsp import graph, kernels
from wsp.errors import ManifestError
from wsp.manifest import load

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
HERE = current_platform()

HEAD = """\
[workspace]
name = "kws"
envs-dir = "envs"
"""


def write_ws(root: Path, body: str, head: str = HEAD) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / "workspace.toml"
    manifest.write_text(head + body)
    return manifest


def desired_of(manifest: Path) -> tuple[object, dict[str, graph.DesiredEnv]]:
    ws = load(manifest)
    return ws, graph.desired(ws, graph.build(ws))


def load_error(tmp_path: Path, body: str) -> ManifestError:
    manifest = write_ws(tmp_path / "bad", body)
    with pytest.raises(ManifestError) as info:
        desired_of(manifest)
    return info.value


# -- the declaration -------------------------------------------------------------------------


def test_jupyter_true_or_a_table_gives_the_env_a_kernel(tmp_path: Path) -> None:
    _, desired = desired_of(
        write_ws(
            tmp_path / "ws",
            """\
env-prefix = "Acme-"

[templates.nb]
jupyter = { display-name = "Notebook" }

[projects.vision]
python = "3.11"
jupyter = true

[projects."Finance+2"]
python = "3.9"
extends = ["nb"]

[projects.webdev]
python = "3.12"
extends = ["nb"]
jupyter = false

[projects.tool]
python = "3.11"
depends-on = ["vision"]

[projects.lab]
python = "3.12"
jupyter = { name = "lab.kernel", display-name = "The Lab" }
""",
        )
    )
    kernel = {n: w.kernel for n, w in desired.items()}
    # the default name is the env name as Jupyter accepts one: lower case, no '+'
    assert kernel["vision"] == graph.KernelDecl("acme-vision", None, added_ipykernel=True)
    assert kernel["Finance+2"] == graph.KernelDecl("acme-finance-2", "Notebook", True)
    assert kernel["webdev"] is None  # false over the template's table
    assert kernel["tool"] is None  # depends-on carries packages, not a kernel
    assert kernel["lab"] == graph.KernelDecl("lab.kernel", "The Lab", True)


def test_a_kernel_adds_ipykernel_unless_the_specs_name_it(tmp_path: Path) -> None:
    _, desired = desired_of(
        write_ws(
            tmp_path / "ws",
            """\
[projects.plain]
python = "3.11"
dependencies = ["numpy"]
jupyter = true

[projects.conda]
python = "3.11"
dependencies = ["ipykernel >=6"]
jupyter = true

[projects.pip]
python = "3.11"
pip = ["IPyKernel==6.29.5"]
jupyter = true

[projects.none]
python = "3.11"
dependencies = ["numpy"]
""",
        )
    )
    assert desired["plain"].specs == ("python 3.11.*", "numpy", "ipykernel")
    assert desired["plain"].kernel and desired["plain"].kernel.added_ipykernel
    assert desired["conda"].specs == ("python 3.11.*", "ipykernel >=6")
    assert desired["pip"].specs == ("python 3.11.*",)
    assert not (desired["conda"].kernel and desired["conda"].kernel.added_ipykernel)
    assert desired["none"].kernel is None
    assert desired["none"].declared().jupyter == ()
    assert desired["plain"].declared().jupyter == ("plain", "")


def test_the_kernel_is_in_the_spec_hash_and_in_the_lock_hash_only_through_ipykernel(
    tmp_path: Path,
) -> None:
    def hashes(jupyter: str, pip: str = '["ipykernel"]') -> tuple[str, str]:
        root = tmp_path / f"ws{len(list(tmp_path.iterdir()))}"
        body = f'[projects.vision]\npython = "3.11"\npip = {pip}\n{jupyter}\n'
        _, desired = desired_of(write_ws(root, body))
        return desired["vision"].spec_hash, desired["vision"].lock_hash

    absent, off = hashes(""), hashes("jupyter = false")
    on, named = hashes("jupyter = true"), hashes('jupyter = { display-name = "V" }')
    assert absent == off  # no kernel: the hashes envs already carry are unchanged
    assert on[1] == absent[1] == named[1]  # ipykernel came from pip: the lock is the same
    assert len({absent[0], on[0], named[0]}) == 3  # the kernel is part of the declaration
    added = hashes("jupyter = true", pip="[]")
    assert added[1] != hashes("", pip="[]")[1]  # ipykernel added to the specs: locked too


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        (
            '[projects.a]\njupyter = "yes"\n',
            (5, 11),
            "projects.a.jupyter: must be true, false or a table like "
            '{ name = "vision", display-name = "Vision" }, not \'yes\'',
        ),
        (
            '[projects.a]\njupyter = { nam = "x" }\n',
            (5, 13),
            "unknown key 'nam' in [projects.a.jupyter]; did you mean 'name'?",
        ),
        (
            '[projects.a]\njupyter = { name = "My Kernel" }\n',
            (5, 20),
            "kernel name 'My Kernel' can't name a Jupyter kernel: use lower-case letters, "
            "digits, '-', '_' and '.', starting with a letter or digit",
        ),
        (
            '[templates.t]\njupyter = { display-name = " " }\n',
            (5, 28),
            "display-name is empty: write what the notebook picker should show, or leave it out",
        ),
        (
            '[projects.a]\njupyter = { name = "k" }\n\n[projects.b]\njupyter = { name = "K2" }\n',
            (8, 20),
            "kernel name 'K2' can't name",
        ),
        (
            '[projects.a]\njupyter = { name = "k" }\n\n[projects.b]\njupyter = { name = "k" }\n',
            (8, 1),
            "kernel name 'k' of project 'b' is also project 'a''s; give one of them its own: "
            'jupyter = { name = "b" }',
        ),
        (
            '[templates.t]\njupyter = { name = "k" }\n\n[projects.a]\nextends = ["t"]\n\n'
            '[projects.b]\nextends = ["t"]\n',
            (11, 1),
            "kernel name 'k' of project 'b' is also project 'a''s",
        ),
        (  # names differ only in case: the same kernel to Jupyter
            "[projects.Lab]\njupyter = true\n\n[projects.lab]\njupyter = true\n",
            (8, 1),
            "kernel name 'lab' of project 'lab' is also project 'Lab''s; give one of them its "
            'own: jupyter = { name = "lab-2" }',
        ),
    ],
)
def test_bad_jupyter_declarations_are_located(
    tmp_path: Path, body: str, where: tuple[int, int], message: str
) -> None:
    err = load_error(tmp_path, body)
    assert (err.line, err.col) == where, err
    assert message in err.message, err


def test_a_kernel_name_clash_is_one_line_from_the_cli(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(
        HEAD
        + '\n[projects.a]\njupyter = { name = "k" }\n\n[projects.b]\njupyter = { name = "k" }\n'
    )
    r = ws.wsp("plan")
    assert r.code == 1, r
    assert r.stdout == ""
    assert r.stderr.strip() == (
        "workspace.toml:9:1: kernel name 'k' of project 'b' is also project 'a''s; "
        'give one of them its own: jupyter = { name = "b" }'
    )
    assert not (ws.root / "envs").exists()


def test_channels_without_ipykernel_are_blamed_on_the_jupyter_key(
    make_workspace: Callable[..., Workspace],
) -> None:
    """The user wrote `jupyter = true`, not `ipykernel`: the failed solve points there and
    says why ipykernel is wanted (the fixture channel, like many mirrors, has none)."""
    ws = make_workspace(
        HEAD
        + 'channels = ["conda-forge"]\n\n[workspace.mirrors]\n"conda-forge" = ["{channel}"]\n'
        + '\n[templates.nb]\njupyter = true\n\n[projects.lab]\nextends = ["nb"]\n'
    )
    r = ws.wsp("plan")
    assert r.code == 1, r
    assert r.stderr.strip() == (
        "workspace.toml:10:11: project 'lab' can't be solved: no solution: No candidates were "
        f"found for ipykernel *. (conda-forge has no package named 'ipykernel' for {HERE}: "
        "check its name, or add the channel that has it); `jupyter` asks for ipykernel (the "
        "env's kernel runs it): when no channel has one that fits, take it from PyPI: "
        'pip = ["ipykernel"]'
    ), r


def test_the_desired_cache_carries_the_kernels(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_ws(
        root,
        '\n[templates.nb]\njupyter = { name = "nb", display-name = "NB" }\n\n'
        '[projects.vision]\npython = "3.11"\nextends = ["nb"]\n\n'
        '[projects.lab]\npython = "3.11"\njupyter = true\n',
        head=HEAD + 'jupyter-data-dir = "share/jupyter"\n',
    )
    (root / ".wsp").mkdir()
    first = cache_mod.load_desired(root / "workspace.toml")
    assert cache_mod.cache_path(root).is_file()
    ws, desired, _ = cache_mod.load_desired(root / "workspace.toml")
    fresh_ws, fresh = desired_of(root / "workspace.toml")
    assert ws == fresh_ws == first[0]
    assert desired == fresh == first[1]
    assert ws.jupyter_data_dir == root / "share" / "jupyter"
    assert ws.templates["nb"].jupyter is not None
    assert desired["vision"].kernel == graph.KernelDecl("nb", "NB", True)


# -- kernelspecs on disk ---------------------------------------------------------------------


@pytest.fixture
def jdata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Jupyter data dir (JUPYTER_DATA_DIR); nothing on JUPYTER_PATH."""
    data = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    return data


def make_env(
    prefix: Path,
    *,
    python: str = "3.11.9",
    scripts: dict[str, str] | None = None,
    env_vars: dict[str, str] | None = None,
    ipykernel: bool = True,
) -> Path:
    """An env's layout as the engine leaves it: conda-meta records, bin/python (for the
    unit tests no interpreter runs: the end-to-end test starts a real one)."""
    (prefix / "conda-meta").mkdir(parents=True, exist_ok=True)
    (prefix / "bin").mkdir(exist_ok=True)
    (prefix / "bin" / "python").write_text("")
    (prefix / "conda-meta" / f"python-{python}-0.json").write_text("{}")
    if ipykernel:
        (prefix / "conda-meta" / "ipykernel-6.29.5-pyh_0.json").write_text("{}")
    for name, text in (scripts or {}).items():
        (prefix / "etc" / "conda" / "activate.d").mkdir(parents=True, exist_ok=True)
        (prefix / "etc" / "conda" / "activate.d" / name).write_text(text)
    if env_vars is not None:
        (prefix / "conda-meta" / "state").write_text(json.dumps({"env_vars": env_vars}))
    return prefix


TWO = """\
[projects.vision]
python = "3.11"
jupyter = true

[projects.finance]
python = "3.9"
jupyter = { display-name = "Money" }
"""


@pytest.fixture
def two(tmp_path: Path, jdata: Path) -> Path:
    manifest = write_ws(tmp_path / "ws", TWO)
    make_env(manifest.parent / "envs" / "vision", env_vars={"OMP_NUM_THREADS": "8"})
    make_env(manifest.parent / "envs" / "finance", python="3.9.18")
    return manifest


def apply_all(ws: object, changes: list[kernels.KernelChange]) -> list[kernels.KernelChange]:
    return [kernels.apply_kernel(ws, c) for c in changes]  # type: ignore[arg-type]


def actions(changes: list[kernels.KernelChange]) -> dict[str, str]:
    return {c.name: c.action for c in changes}


def test_kernels_are_written_then_no_op_then_updated_with_reasons(two: Path, jdata: Path) -> None:
    ws, desired = desired_of(two)
    plan = kernels.plan_kernels(ws, desired)
    assert actions(plan) == {"vision": "create", "finance": "create"}
    done = apply_all(ws, plan)
    assert actions(done) == {"vision": "create", "finance": "create"}

    kdir = jdata / "kernels" / "vision"
    spec = json.loads((kdir / "kernel.json").read_text())
    prefix = two.parent / "envs" / "vision"
    assert spec["display_name"] == "Python 3.11 (vision)"
    assert spec["argv"][1:] == [str(kdir / "wsp-kernel.sh"), "-f", "{connection_file}"]
    assert spec["language"] == "python"
    assert spec["metadata"]["wsp"] == {
        "format": 1,
        "workspace": "kws",
        "manifest": str(two),
        "project": "vision",
        "env": "vision",
        "prefix": str(prefix),
    }
    assert json.loads((jdata / "kernels" / "finance" / "kernel.json").read_text())[
        "display_name"
    ] == ("Money")
    launcher = (kdir / "wsp-kernel.sh").read_text()
    assert "export OMP_NUM_THREADS=8" in launcher
    assert f"export CONDA_PREFIX={prefix}" in launcher
    assert launcher.rstrip().endswith(f'exec {prefix}/bin/python -m ipykernel_launcher "$@"')
    umask = os.umask(0o022)
    os.umask(umask)
    for f in (kdir / "kernel.json", kdir / "wsp-kernel.sh"):  # readable by others, per umask
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask
    assert [k.name for k in kernels.kernels_of(ws)] == ["finance", "vision"]

    assert actions(kernels.plan_kernels(ws, desired)) == {"vision": "no-op", "finance": "no-op"}

    # the env gains an activate.d script and a variable: the launcher is rewritten
    make_env(
        prefix,
        scripts={"gdal.sh": "export GDAL_DATA=x\n"},
        env_vars={"OMP_NUM_THREADS": "8", "LAB": "1"},
    )
    (change,) = [c for c in kernels.plan_kernels(ws, desired) if c.action != "no-op"]
    assert change.name == "vision" and change.action == "update"
    assert [(r.code, r.message) for r in change.reasons] == [
        ("activation", "activation changed: + gdal.sh, + $LAB")
    ]
    assert kernels.apply_kernel(ws, change).action == "update"
    assert "activate.d/gdal.sh" in (kdir / "wsp-kernel.sh").read_text()

    # a new display-name
    two.write_text(two.read_text().replace("jupyter = true", 'jupyter = { display-name = "V" }'))
    ws, desired = desired_of(two)
    (change,) = [c for c in kernels.plan_kernels(ws, desired) if c.action != "no-op"]
    assert change.reasons == (
        kernels.KernelReason("display-name", "display-name: 'Python 3.11 (vision)' -> 'V'"),
    )
    assert change.to_json()["display_name"] == "V"
    apply_all(ws, [change])
    assert actions(kernels.plan_kernels(ws, desired)) == {"vision": "no-op", "finance": "no-op"}


def test_kernels_no_longer_declared_are_removed_and_only_those(two: Path, jdata: Path) -> None:
    ws, desired = desired_of(two)
    apply_all(ws, kernels.plan_kernels(ws, desired))
    foreign = jdata / "kernels" / "python3"
    foreign.mkdir()
    (foreign / "kernel.json").write_text('{"argv": ["python"], "display_name": "Python 3"}')
    extra = jdata / "kernels" / "finance" / "logo-64x64.png"
    extra.write_bytes(b"png")
    # the user's variant of wsp's kernel (cp -r, or `jupyter kernelspec install` of it):
    # its metadata names this workspace, its argv the launcher of vision's folder
    copy = Path(shutil.copytree(jdata / "kernels" / "vision", jdata / "kernels" / "vision-gpu"))
    assert kernels.read_kernel(ws, copy).why_not_ours().startswith("it is a copy of a kernel")

    # finance drops its kernel, vision is renamed
    two.write_text(
        HEAD
        + TWO.replace('jupyter = { display-name = "Money" }', "").replace(
            "jupyter = true", 'jupyter = { name = "vision2" }'
        )
    )
    ws, desired = desired_of(two)
    plan = kernels.plan_kernels(ws, desired)
    assert [(c.name, c.action, [r.code for r in c.reasons]) for c in plan] == [
        ("vision2", "create", ["missing"]),
        ("finance", "remove", ["not-declared"]),
        ("vision", "remove", ["not-declared"]),
    ]
    assert plan[1].reasons[0].message == "project 'finance' no longer declares kernel 'finance'"
    assert plan[1].project == "finance"
    done = apply_all(ws, plan)
    assert not (jdata / "kernels" / "vision").exists()
    # a file wsp did not write keeps its folder (without kernel.json Jupyter ignores it)
    assert [r.code for r in done[1].reasons] == ["not-declared", "kept-folder"]
    assert sorted(os.listdir(jdata / "kernels" / "finance")) == ["logo-64x64.png"]
    assert (foreign / "kernel.json").is_file()

    # a project renamed (the folder finance kept now blocks its kernel), then destroy
    two.write_text(HEAD + TWO.replace("[projects.vision]", "[projects.vision3]"))
    ws, desired = desired_of(two)
    plan = kernels.plan_kernels(ws, desired)
    assert [(c.name, c.action, c.reasons[0].code) for c in plan] == [
        ("vision3", "create", "missing"),
        ("finance", "blocked", "not-wsp"),
        ("vision2", "remove", "not-declared"),
    ]
    assert "it holds files but no kernel.json (logo-64x64.png)" in plan[1].reasons[0].message
    apply_all(ws, plan)
    removed = kernels.remove_kernels(
        ws, why=kernels.KernelReason("destroy", "wsp destroy removes the workspace's kernels")
    )
    assert [(c.name, c.action, c.reasons[0].code) for c in removed] == [
        ("vision3", "remove", "destroy")
    ]
    assert sorted(os.listdir(jdata / "kernels")) == ["finance", "python3", "vision-gpu"]
    assert sorted(os.listdir(copy)) == ["kernel.json", "wsp-kernel.sh"]
    assert kernels.kernels_of(ws) == []


def test_a_kernel_wsp_did_not_write_is_reported_never_overwritten(
    tmp_path: Path, two: Path, jdata: Path
) -> None:
    ws, desired = desired_of(two)
    stale_create = kernels.plan_kernels(ws, desired)
    kdir = jdata / "kernels"
    # vision: someone's own kernel; finance: another workspace's (its workspace.toml exists)
    (kdir / "vision").mkdir(parents=True)
    (kdir / "vision" / "kernel.json").write_text('{"argv": ["x"], "display_name": "Mine"}')
    other = write_ws(tmp_path / "other", "")
    (kdir / "finance").mkdir()
    (kdir / "finance" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["x"],
                "display_name": "Theirs",
                "metadata": {
                    "wsp": {
                        "format": 1,
                        "workspace": "kws",
                        "manifest": str(other),
                        "project": "finance",
                        "env": "finance",
                        "prefix": "/elsewhere/finance",
                    }
                },
            }
        )
    )
    before = snapshot(jdata)
    plan = kernels.plan_kernels(ws, desired)
    assert [(c.name, c.action, c.reasons[0].code) for c in plan] == [
        ("vision", "blocked", "not-wsp"),
        ("finance", "blocked", "other-workspace"),
    ]
    assert plan[0].reasons[0].message == (
        f"{kdir / 'vision'} is left alone: wsp did not write it (its kernel.json has no wsp "
        "metadata); give this project's kernel another name (jupyter = { name = ... }) or "
        "remove that folder"
    )
    assert "wsp wrote it for workspace 'kws' (" in plan[1].reasons[0].message
    # applying the plan made before they appeared checks again and leaves them alone
    assert actions(apply_all(ws, stale_create)) == {"vision": "blocked", "finance": "blocked"}
    assert apply_all(ws, plan) == plan
    assert kernels.remove_kernels(ws) == []
    assert kernels.kernels_of(ws) == []
    assert snapshot(jdata) == before
    findings = {(f.code, f.kernel) for f in kernels.check(ws, desired)}
    assert findings == {("name-taken", "vision"), ("name-taken", "finance")}


def test_symlinks_and_case_twins_are_never_written_through(
    tmp_path: Path, two: Path, jdata: Path
) -> None:
    ws, desired = desired_of(two)
    kdir = jdata / "kernels"
    kdir.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (kdir / "vision").symlink_to(outside, target_is_directory=True)
    (kdir / "Finance").mkdir()
    plan = kernels.plan_kernels(ws, desired)
    assert [(c.name, c.action, c.reasons[0].code) for c in plan] == [
        ("vision", "blocked", "symlink"),
        ("finance", "blocked", "name-case"),
    ]
    apply_all(ws, plan)
    assert list(outside.iterdir()) == []
    assert list((kdir / "Finance").iterdir()) == []
    assert not (kdir / "finance").exists()


def test_what_an_interrupted_write_left_is_taken_over(two: Path, jdata: Path) -> None:
    ws, desired = desired_of(two)
    kdir = jdata / "kernels" / "vision"
    kdir.mkdir(parents=True)
    (kdir / "wsp-kernel.sh").write_text("half")
    (kdir / ".kernel.json.wsp-tmp-x1").write_text("{")
    assert actions(kernels.plan_kernels(ws, desired))["vision"] == "create"
    apply_all(ws, kernels.plan_kernels(ws, desired))
    assert (kdir / "kernel.json").is_file()


def test_a_moved_workspace_keeps_its_kernels(tmp_path: Path, two: Path, jdata: Path) -> None:
    ws, desired = desired_of(two)
    apply_all(ws, kernels.plan_kernels(ws, desired))
    moved = tmp_path / "moved"
    shutil.move(two.parent, moved)
    ws, desired = desired_of(moved / "workspace.toml")
    plan = kernels.plan_kernels(ws, desired)
    assert [c.action for c in plan] == ["update", "update"]
    assert {r.code for r in plan[0].reasons} >= {"owner", "activation"}
    apply_all(ws, plan)
    meta = json.loads((jdata / "kernels" / "vision" / "kernel.json").read_text())
    assert meta["metadata"]["wsp"]["manifest"] == str(moved / "workspace.toml")


def test_a_shared_jupyter_data_dir(tmp_path: Path, two: Path, jdata: Path) -> None:
    ws, desired = desired_of(two)
    apply_all(ws, kernels.plan_kernels(ws, desired))  # first into the user's data dir
    two.write_text(
        two.read_text().replace(
            'envs-dir = "envs"', 'envs-dir = "envs"\njupyter-data-dir = "hub/share/jupyter"'
        )
    )
    ws, desired = desired_of(two)
    shared = two.parent / "hub" / "share" / "jupyter" / "kernels"
    assert kernels.kernels_dir(ws) == shared
    plan = kernels.plan_kernels(ws, desired)
    assert [(c.action, c.dir) for c in plan] == [
        ("create", shared / "vision"),
        ("create", shared / "finance"),
        ("remove", jdata / "kernels" / "finance"),
        ("remove", jdata / "kernels" / "vision"),
    ]
    assert plan[2].reasons[0] == kernels.KernelReason(
        "moved", f"kernels of this workspace now go to {shared}"
    )
    apply_all(ws, plan)
    assert sorted(os.listdir(shared)) == ["finance", "vision"]
    assert os.listdir(jdata / "kernels") == []


def test_a_relative_jupyter_data_dir_gives_a_kernel_that_starts_anywhere(
    two: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(two.parent)
    monkeypatch.setenv("JUPYTER_DATA_DIR", "jd")  # as the user's shell had it
    ws, desired = desired_of(two)
    apply_all(ws, kernels.plan_kernels(ws, desired))
    kdir = two.parent / "jd" / "kernels" / "vision"
    argv = json.loads((kdir / "kernel.json").read_text())["argv"]
    assert argv[1] == str(kdir / "wsp-kernel.sh")  # not jd/kernels/...: Jupyter runs it
    monkeypatch.chdir("/")  # elsewhere
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(two.parent / "jd"))
    assert actions(kernels.plan_kernels(ws, desired)) == {"vision": "no-op", "finance": "no-op"}


def test_check_finds_kernels_that_cannot_work(two: Path, jdata: Path, monkeypatch) -> None:
    ws, desired = desired_of(two)
    apply_all(ws, kernels.plan_kernels(ws, desired))
    assert kernels.check(ws, desired) == []
    envs = two.parent / "envs"
    (envs / "vision" / "conda-meta" / "ipykernel-6.29.5-pyh_0.json").unlink()
    shutil.rmtree(envs / "finance")  # the env is gone, its kernel is stale
    findings = kernels.check(ws, desired)
    assert [(f.code, f.kernel, f.project, f.fixable) for f in findings] == [
        ("no-ipykernel", "vision", "vision", True),
        ("stale", "finance", "finance", True),
    ]
    assert findings[1].message == (
        f"kernel 'finance' runs env {envs / 'finance'}, which is gone; `wsp apply` removes "
        "it (or builds the env when it is declared)"
    )
    # ipykernel from pip counts; a kernel no project declares any more is reported
    site = envs / "vision" / "lib" / f"python{PY}" / "site-packages"
    (site / "ipykernel-6.29.5.dist-info").mkdir(parents=True)
    make_env(envs / "finance")
    two.write_text(HEAD + TWO.replace('jupyter = { display-name = "Money" }', ""))
    ws, desired = desired_of(two)
    assert [(f.code, f.kernel) for f in kernels.check(ws, desired)] == [("undeclared", "finance")]
    # a kernel of the same name earlier on JUPYTER_PATH hides ours
    early = two.parent / "early"
    (early / "kernels" / "vision").mkdir(parents=True)
    (early / "kernels" / "vision" / "kernel.json").write_text("{}")
    monkeypatch.setenv("JUPYTER_PATH", str(early))
    assert ("shadowed", "vision") in [(f.code, f.kernel) for f in kernels.check(ws, desired)]


def test_the_default_display_name_is_the_envs_python_when_the_declaration_pins_none(
    tmp_path: Path, jdata: Path
) -> None:
    manifest = write_ws(tmp_path / "ws", '[projects.lab]\npython = ">=3.10"\njupyter = true\n')
    ws, desired = desired_of(manifest)
    (change,) = kernels.plan_kernels(ws, desired)
    assert change.action == "create"
    assert change.spec is not None and change.spec.display_name == "Python 3 (lab)"  # no env yet
    make_env(manifest.parent / "envs" / "lab", python="3.12.4")  # what apply builds first
    assert kernels.apply_kernel(ws, change).action == "create"
    written = json.loads((jdata / "kernels" / "lab" / "kernel.json").read_text())
    assert written["display_name"] == "Python 3.12 (lab)"
    assert actions(kernels.plan_kernels(ws, desired)) == {"lab": "no-op"}


def test_a_prefix_with_shell_characters_is_quoted_in_the_launcher(
    tmp_path: Path, jdata: Path
) -> None:
    manifest = write_ws(
        tmp_path / "ws",
        "[projects.vision]\njupyter = true\n",
        head=HEAD.replace('"envs"', '"e$nvs `x` \\"q\\""'),
    )
    ws, desired = desired_of(manifest)
    prefix = manifest.parent / 'e$nvs `x` "q"' / "vision"
    make_env(prefix)
    (prefix / "bin").mkdir(exist_ok=True)
    (prefix / "bin" / "python").write_text("#!/bin/sh\n")
    (prefix / "bin" / "python").chmod(0o755)
    spec = kernels.desired_kernel(ws, desired["vision"])
    assert spec is not None and spec.display_name == "Python 3.11 (vision)"  # from the env
    launcher = kernels.render(spec).launcher.decode()
    script = tmp_path / "launcher.sh"
    script.write_text(launcher.replace("exec ", 'echo "$CONDA_PREFIX|$PATH" #'))
    out = subprocess.run(
        ["/bin/sh", str(script)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert out.returncode == 0, out.stderr
    conda_prefix, path = out.stdout.strip().split("|")
    assert conda_prefix == str(prefix)
    assert path.split(":")[0] == str(prefix / "bin") and path.endswith("/usr/bin:/bin")


def test_the_launcher_puts_the_env_first_on_the_path_of_whoever_starts_it(
    tmp_path: Path, jdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_ws(tmp_path / "ws", "[projects.vision]\njupyter = true\n")
    ws, desired = desired_of(manifest)
    prefix = make_env(manifest.parent / "envs" / "vision")
    private = tmp_path / "admin-bin"  # on the PATH of who writes the kernel only
    monkeypatch.setenv("PATH", f"{private}:/usr/bin:/bin")
    spec = kernels.desired_kernel(ws, desired["vision"])
    assert spec is not None
    launcher = kernels.render(spec).launcher.decode()
    assert str(private) not in launcher
    script = tmp_path / "launcher.sh"
    script.write_text(launcher.replace("exec ", 'echo "$PATH" #').replace("[ ! -x", "[ ! -e"))
    out = subprocess.run(
        ["/bin/sh", str(script)], capture_output=True, text=True, env={"PATH": "/opt/u/bin:/bin"}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{prefix / 'bin'}:/opt/u/bin:/bin"


def test_a_value_with_a_dollar_is_set_literally_as_conda_does(tmp_path: Path, jdata: Path) -> None:
    manifest = write_ws(tmp_path / "ws", "[projects.vision]\njupyter = true\n")
    ws, desired = desired_of(manifest)
    make_env(manifest.parent / "envs" / "vision", env_vars={"DATA": "$HOME/data `id`"})
    spec = kernels.desired_kernel(ws, desired["vision"])
    assert spec is not None
    script = tmp_path / "launcher.sh"
    launcher = kernels.render(spec).launcher.decode()
    script.write_text(launcher.replace("exec ", 'echo "$DATA" #').replace("[ ! -x", "[ ! -e"))
    out = subprocess.run(
        ["/bin/sh", str(script)], capture_output=True, text=True, env={"HOME": "/h", "PATH": "/bin"}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "$HOME/data `id`"  # docs/jupyter.md: nothing is expanded


# -- end to end: the real CLI, PyPI's ipykernel, jupyter_client ------------------------------

KERNEL_TOML = """\
[workspace]
name = "kernel-ws"
channels = ["conda-forge", "{hello}"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.vision]
python = "{py}"
dependencies = ["kernel-hello", "six"]
pip = ["ipykernel"]
jupyter = true
"""

HELLO = 'export KERNEL_HELLO="hello from $CONDA_DEFAULT_ENV"\n'

SHOW = (
    "import json, os, six, sys; print(json.dumps({'prefix': sys.prefix, 'exe': sys.executable,"
    " 'hello': os.environ.get('KERNEL_HELLO'), 'state': os.environ.get('KERNEL_STATE_VAR'),"
    " 'conda_prefix': os.environ.get('CONDA_PREFIX'), 'path': os.environ['PATH'],"
    " 'shlvl': os.environ.get('CONDA_SHLVL'), 'prefix_1': os.environ.get('CONDA_PREFIX_1'),"
    " 'jlab': os.environ.get('JLAB_GDAL')}))"
)


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/ipykernel/", timeout=10):
            return True
    except OSError:
        return False


def _run_in_kernel(name: str, env: dict[str, str], code: str) -> str:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=name)
    km.start_kernel(env=env)
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        out: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = kc.execute_interactive(code, output_hook=hook, timeout=60)
        kc.stop_channels()
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)
    finally:
        km.shutdown_kernel(now=True)


def test_jupyter_starts_the_kernel_inside_the_activated_env(
    make_workspace: Callable[..., Workspace],
    runnable_channel: Path,
    tmp_path: Path,
    jdata: Path,
) -> None:
    pytest.importorskip("jupyter_client")
    if not _pypi_reachable():
        pytest.skip("PyPI is unreachable: ipykernel can't be installed into the env")
    from jupyter_client.kernelspec import KernelSpecManager

    hello = build_channel(
        tmp_path / "hello",
        [
            Pkg(
                "kernel-hello",
                "1.0.0",
                noarch="generic",
                files={"etc/conda/activate.d/kernel-hello.sh": HELLO},
            )
        ],
    )
    text = KERNEL_TOML.replace("{hello}", hello.as_uri()).replace("{py}", PY)
    text += 'env-vars = { KERNEL_STATE_VAR = "from state" }\n'
    ws = make_workspace(text, chan=runnable_channel)
    jenv = {"JUPYTER_DATA_DIR": str(jdata)}
    r = ws.wsp("plan", "--json", timeout=240, **jenv)
    assert r.code == 0, r
    (action,) = r.json["actions"]
    assert (action["action"], action["kernel"]["action"]) == ("create", "create"), action
    r = ws.wsp("apply", "--yes", timeout=240, **jenv)
    assert r.code == 0, r
    prefix = ws.envs_dir / "vision"
    assert ws.wsp("plan", "--detailed-exitcode", **jenv).code == 0  # the kernel is in place
    (row,) = ws.wsp("status", "--json", **jenv).json["envs"]
    assert row["kernel"] == {"name": "vision", "state": "in place"}, row

    specs = KernelSpecManager().find_kernel_specs()
    assert Path(specs["vision"]) == jdata / "kernels" / "vision"
    spec = KernelSpecManager().get_kernel_spec("vision")
    assert spec.display_name == f"Python {PY} (vision)"
    assert spec.metadata["wsp"]["project"] == "vision"

    # Jupyter's own environment, not the env's: the launcher activates. Jupyter runs in a
    # conda env of its own, active (`conda activate jlab; jupyter lab`): the kernel's env
    # replaces it as `conda activate` does
    jlab = tmp_path / "jlab"
    (jlab / "etc" / "conda" / "deactivate.d").mkdir(parents=True)
    (jlab / "etc" / "conda" / "deactivate.d" / "gdal.sh").write_text("unset JLAB_GDAL\n")
    env = {
        "PATH": f"{jlab / 'bin'}:/usr/bin:/bin",
        "CONDA_PREFIX": str(jlab),
        "CONDA_SHLVL": "1",
        "JLAB_GDAL": str(jlab / "share" / "gdal"),
        "HOME": ws.env["HOME"],
        "JUPYTER_DATA_DIR": str(jdata),
        "LANG": "C.UTF-8",
    }
    six = prefix / "lib" / f"python{PY}" / "site-packages" / "six"
    compiled = snapshot(six)
    assert [p.suffix for p in (six / "__pycache__").iterdir()] == [".pyc"]
    seen = json.loads(_run_in_kernel("vision", env, SHOW).strip().splitlines()[-1])
    assert snapshot(six) == compiled  # a noarch: python package, compiled at apply
    assert Path(seen["prefix"]) == prefix
    assert Path(seen["exe"]).parent == prefix / "bin"
    assert seen["conda_prefix"] == str(prefix)
    assert seen["hello"] == "hello from vision"  # the activate.d script ran
    assert seen["state"] == "from state"  # the project's env-vars, in conda-meta/state
    # the env's bin on the PATH Jupyter started it with, nothing of the PATH of `wsp apply`,
    # nor of the env it replaced (whose deactivate.d scripts ran)
    assert seen["path"] == f"{prefix / 'bin'}:/usr/bin:/bin", seen
    assert (seen["shlvl"], seen["prefix_1"], seen["jlab"]) == ("2", str(jlab), None), seen

    # the project goes: its env is pruned and Jupyter no longer lists its kernel
    declared = ws.manifest.read_text()
    ws.manifest.write_text(declared.split("[projects.vision]")[0])
    r = ws.wsp("apply", "--yes", **jenv)
    assert r.code == 0, r
    assert "vision" not in KernelSpecManager().find_kernel_specs()
    assert not (jdata / "kernels" / "vision").exists() and not prefix.exists()

    # a kernel of the same name wsp did not write: reported, left as it is
    foreign = jdata / "kernels" / "vision"
    foreign.mkdir()
    (foreign / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Someone's",
                "language": "python",
            }
        )
    )
    before = snapshot(jdata / "kernels")
    ws.manifest.write_text(declared)
    (action,) = ws.wsp("plan", "--json", **jenv).json["actions"]
    assert action["kernel"]["action"] == "blocked", action
    assert action["kernel"]["reasons"][0]["code"] == "not-wsp", action
    r = ws.wsp("apply", "--yes", timeout=240, **jenv)
    assert r.code == 1, r
    assert "kernel vision: blocked" in r.stderr, r
    listed = (Path(ws.env["HOME"]) / ".conda" / "environments.txt").read_text().splitlines()
    assert str(prefix) in listed  # the env was built whole: conda lists it, kernel or not
    assert snapshot(jdata / "kernels") == before
    assert KernelSpecManager().get_kernel_spec("vision").display_name == "Someone's"


# -- kernel-only changes through the real CLI -------------------------------------------------

KK_TOML = """\
[workspace]
name = "kk-ws"
channels = ["conda-forge", "{kchan}"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.nb]
python = "3.11"
dependencies = ["ipykernel"]
jupyter = true
"""


@pytest.fixture(scope="module")
def kernel_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A channel with an `ipykernel` package (nothing runs it: these tests write kernels)."""
    root = tmp_path_factory.mktemp("kchan") / "channel"
    return build_channel(
        root,
        [
            Pkg("ipykernel", "6.29.5", noarch="generic"),
            Pkg(
                "kernel-hello",
                "1.0.0",
                noarch="generic",
                files={"etc/conda/activate.d/kernel-hello.sh": HELLO},
            ),
        ],
    )


@pytest.fixture
def kk(make_workspace: Callable[..., Workspace], kernel_channel: Path, jdata: Path) -> Workspace:
    """A workspace of one Jupyter project `nb`, applied: its kernel is in `jdata`."""
    ws = make_workspace(KK_TOML.replace("{kchan}", kernel_channel.as_uri()))
    ws.env["JUPYTER_DATA_DIR"] = str(jdata)
    ws.env.pop("JUPYTER_PATH", None)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert (jdata / "kernels" / "nb" / "kernel.json").is_file()
    return ws


def converged(ws: Workspace) -> None:
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r


def test_a_kernel_deleted_by_hand_is_written_again_by_apply(kk: Workspace, jdata: Path) -> None:
    before = (jdata / "kernels" / "nb" / "kernel.json").read_bytes()
    shutil.rmtree(jdata / "kernels" / "nb")
    r = kk.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    assert r.json["summary"]["no-op"] == 1, r.json
    r = kk.wsp("apply", "--yes")
    assert r.code == 0, r
    assert "Apply complete: 1 kernel written." in r.stdout, r
    assert (jdata / "kernels" / "nb" / "kernel.json").read_bytes() == before
    converged(kk)


def test_a_renamed_kernel_replaces_the_old_one(kk: Workspace, jdata: Path) -> None:
    kk.edit("jupyter = true", 'jupyter = { name = "nb2", display-name = "Notebook env" }')
    r = kk.wsp("plan", "--json")
    assert r.json["actions"][0]["reasons"] == [
        "jupyter kernel changed: + nb2, + display-name 'Notebook env', - nb"
    ], r.json
    counts = {k: n for k, n in r.json["summary"].items() if n}
    assert counts == {"update": 1}, r.json  # one env, its old kernel's removal not counted
    assert kk.wsp("check").code == 0
    r = kk.wsp("apply", "--yes")
    assert r.code == 0, r
    assert sorted(p.name for p in (jdata / "kernels").iterdir()) == ["nb2"]
    converged(kk)
    r = kk.wsp("check", "--json")
    assert not [f for f in r.json["findings"] if "kernel 'nb' " in f["message"]], r.json


def test_a_new_jupyter_data_dir_moves_the_kernels_and_a_prune_removes_them(
    kk: Workspace, jdata: Path
) -> None:
    kk.edit('envs-dir = ".wsp/envs"', 'envs-dir = ".wsp/envs"\njupyter-data-dir = "hub"')
    r = kk.wsp("apply", "--yes")
    assert r.code == 0, r
    hub = kk.root / "hub" / "kernels"
    assert [p.name for p in hub.iterdir()] == ["nb"]
    assert not (jdata / "kernels" / "nb").exists()
    converged(kk)

    # the project goes: no kernel is left pointing at its env, here or there
    kk.manifest.write_text(kk.manifest.read_text().split("[projects.nb]")[0])
    r = kk.wsp("apply", "--yes")
    assert r.code == 0, r
    assert not (hub / "nb").exists() and not (jdata / "kernels" / "nb").exists()
    converged(kk)


def test_an_env_vars_change_rewrites_the_kernel(kk: Workspace, jdata: Path) -> None:
    launcher = jdata / "kernels" / "nb" / "wsp-kernel.sh"
    kk.edit("jupyter = true", 'jupyter = true\nenv-vars = { X = "1" }')
    assert kk.wsp("apply", "--yes").code == 0
    assert "export X=1\n" in launcher.read_text()
    kk.edit('X = "1"', 'X = "2"')
    r = kk.wsp("plan", "--json")
    (action,) = r.json["actions"]
    assert action["action"] == "update", action
    assert action["kernel"]["action"] == "update", action
    assert "activation changed: ~ $X" in action["kernel"]["reasons"][0]["message"], action
    r = kk.wsp("apply", "--yes")
    assert r.code == 0, r
    assert "export X=2\n" in launcher.read_text() and "X=1" not in launcher.read_text()
    converged(kk)
    (row,) = kk.wsp("status", "--json").json["envs"]
    assert row["kernel"] == {"name": "nb", "state": "in place"}, row


def test_a_package_that_brings_an_activate_script_rewrites_the_kernel(
    kk: Workspace, jdata: Path
) -> None:
    kk.edit('dependencies = ["ipykernel"]', 'dependencies = ["ipykernel", "kernel-hello"]')
    r = kk.wsp("apply", "--yes")
    assert r.code == 0, r
    script = kk.envs_dir / "nb" / "etc" / "conda" / "activate.d" / "kernel-hello.sh"
    assert f". {script}\n" in (jdata / "kernels" / "nb" / "wsp-kernel.sh").read_text()
    converged(kk)


def test_destroy_removes_a_kernel_whose_env_is_already_gone(kk: Workspace, jdata: Path) -> None:
    shutil.rmtree(kk.envs_dir / "nb")  # by hand
    r = kk.wsp("destroy", "--yes")
    assert r.code == 0, r
    assert "wsp will remove 1 kernel(s) whose env is gone:" in r.stdout, r
    assert "Destroyed 0 envs and removed 1 kernel." in r.stdout, r
    assert not (jdata / "kernels" / "nb").exists()


def test_kernels_in_the_workspaces_own_jupyterlab_env(
    make_workspace: Callable[..., Workspace], kernel_channel: Path, jdata: Path
) -> None:
    """jupyter-data-dir in the prefix of a JupyterLab env the workspace declares: no kernel
    makes that env's folder before it is built, and one built again takes the kernels."""
    text = KK_TOML.replace("{kchan}", kernel_channel.as_uri()).replace(
        'envs-dir = ".wsp/envs"',
        'envs-dir = ".wsp/envs"\njupyter-data-dir = ".wsp/envs/lab/share/jupyter"',
    )
    ws = make_workspace(text + '\n[projects.lab]\npython = "3.11"\n')
    lab = ws.envs_dir / "lab"
    r = ws.wsp("apply", "--yes", "--target", "nb")
    assert r.code == 1, r
    assert f"inside {lab}, which is not a conda env (yet)" in r.output, r
    assert not lab.exists()  # else env lab would be blocked by a folder wsp did not make
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    kernel = lab / "share" / "jupyter" / "kernels" / "nb" / "kernel.json"
    assert kernel.is_file()
    converged(ws)

    ws.edit('[projects.lab]\npython = "3.11"', '[projects.lab]\npython = "3.12"')
    r = ws.wsp("plan", "--json")
    nb = next(a for a in r.json["actions"] if a["project"] == "nb")
    assert nb["kernel"]["action"] == "create", nb
    assert nb["kernel"]["reasons"][0]["code"] == "env-rebuilt", nb
    r = ws.wsp("apply", "--yes", "--target", "lab")  # nb's kernel too: lab takes it
    assert r.code == 0, r
    assert "1 replaced, 1 kernel written" in r.stdout, r
    assert kernel.is_file()
    converged(ws)


def test_destroy_says_which_kernels_go_with_the_envs(kk: Workspace, jdata: Path) -> None:
    r = kk.wsp("destroy", "--yes")
    assert r.code == 0, r
    kdir = jdata / "kernels" / "nb"
    assert f"  - nb {kk.envs_dir / 'nb'}\n    - kernel nb {kdir}\n" in r.stdout, r
    assert "Destroyed 1 env and removed 1 kernel." in r.stdout, r
    assert not kdir.exists()
    assert kk.wsp("apply", "--yes").code == 0
    r = kk.wsp("destroy", "--yes", "--json")
    assert (r.json["destroyed"], r.json["kernels"]) == (["nb"], ["nb"]), r


@pytest.mark.parametrize("where", ["afile", "hub"])
def test_a_jupyter_data_dir_that_is_a_file_is_refused_at_load(
    make_workspace: Callable[..., Workspace], kernel_channel: Path, jdata: Path, where: str
) -> None:
    text = KK_TOML.replace("{kchan}", kernel_channel.as_uri())
    ws = make_workspace(
        text.replace("[workspace.mirrors]", f'jupyter-data-dir = "{where}"\n\n[workspace.mirrors]')
    )
    (ws.root / "hub").mkdir()
    (ws.root / "hub" / "kernels").write_text("")  # hub/kernels: a file
    (ws.root / "afile").write_text("")
    before = snapshot(ws.root)
    bad = ws.root / ("afile" if where == "afile" else "hub/kernels")
    for args in (("plan",), ("apply", "--yes"), ("check",)):
        r = ws.wsp(*args)
        assert r.code == 1, r
        assert r.stderr.splitlines()[0] == (
            f"workspace.toml:6:20: jupyter-data-dir: {bad} is a file, not a folder: "
            "kernels go to <jupyter-data-dir>/kernels/; point jupyter-data-dir at a folder"
        ), r
        assert "Traceback" not in r.output
    assert snapshot(ws.root) == before and not ws.envs_dir.exists()


def test_an_env_built_whose_kernel_failed_is_not_summed_up_as_nothing_changed(
    make_workspace: Callable[..., Workspace], kernel_channel: Path, jdata: Path
) -> None:
    ws = make_workspace(KK_TOML.replace("{kchan}", kernel_channel.as_uri()))
    (jdata / "kernels").mkdir(parents=True)
    (jdata / "kernels" / "nb").write_text("mine")  # a file where the kernel would go
    r = ws.wsp("apply", "--yes", JUPYTER_DATA_DIR=str(jdata))
    assert r.code == 1, r
    assert "Apply finished with errors: nb built but not its kernel; 1 failed (nb)." in r.stdout, r
    assert (jdata / "kernels" / "nb").read_text() == "mine"


def test_wsp_watch_carries_a_kernel_only_change_out(kk: Workspace, jdata: Path) -> None:
    shutil.rmtree(jdata / "kernels" / "nb")
    r = kk.wsp("watch", "--once", "--json")
    assert r.code == 0, r
    assert (jdata / "kernels" / "nb" / "kernel.json").is_file()
    converged(kk)


# -- the examples of docs/jupyter.md -------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "jupyter.md"


def _toml_blocks() -> list[str]:
    text = DOCS.read_text()
    return [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]


def test_the_docs_examples_load_as_they_say(tmp_path: Path) -> None:
    projects, hub = _toml_blocks()
    _, desired = desired_of(write_ws(tmp_path / "a", "\n" + projects))
    assert desired["vision"].kernel == graph.KernelDecl("vision", None, True)
    assert desired["finance"].kernel == graph.KernelDecl("money", "Finance (pandas 2)", True)
    ws, _ = desired_of(write_ws(tmp_path / "b", "\n[projects.vision]\njupyter = true\n", head=hub))
    assert ws.jupyter_data_dir == Path("/opt/hub/share/jupyter")
    assert kernels.kernels_dir(ws) == Path("/opt/hub/share/jupyter/kernels")


# -- wsp check: WSP701-703 ------------------------------------------------------------------------


def test_check_reports_a_stale_kernel_a_kernel_without_ipykernel_and_a_taken_name(
    tmp_path: Path, jdata: Path
) -> None:
    body = "[projects.vision]\njupyter = true\n\n[projects.gone]\njupyter = true\n"
    body += '\n[projects.lab]\njupyter = { name = "taken" }\n'
    manifest = write_ws(tmp_path / "ws", body + "\n[projects.old]\njupyter = true\n")
    ws, desired = desired_of(manifest)
    make_env(manifest.parent / "envs" / "vision", ipykernel=False)
    make_env(manifest.parent / "envs" / "gone")
    make_env(manifest.parent / "envs" / "old")
    taken = jdata / "kernels" / "taken"
    taken.mkdir(parents=True)
    (taken / "kernel.json").write_text('{"argv": ["python"], "display_name": "mine"}')
    apply_all(ws, kernels.plan_kernels(ws, desired))
    shutil.rmtree(manifest.parent / "envs" / "gone")  # the env goes, by hand
    write_ws(tmp_path / "ws", body)  # project old goes: its kernel is no longer declared
    env = {**os.environ, "HOME": str(tmp_path), "WSP_CONDA_ROOT": str(tmp_path / "none")}
    proc = subprocess.run(
        [sys.executable, "-m", "wsp", "check", "--json"],
        cwd=manifest.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    findings = json.loads(proc.stdout)["findings"]
    found = {(f["code"], f["project"]) for f in findings}
    assert {("WSP701", "vision"), ("WSP702", "gone"), ("WSP703", "lab")} <= found, proc.stdout
    (old,) = [f for f in findings if f["project"] == "old"]
    # silenced where workspace.toml has a place for it: project old has no table any more
    assert old["code"] == "WSP702" and old["hint"].endswith(
        '(or silence it: WSP702 = "off" in [policy.rules])'
    ), old
