"""WSP2xx through the CLI, against a real directory laid out like a conda installation.

The base prefix is made by really installing packages from a test channel with rattler;
its conda-meta/history is written the way conda writes it; ~/.condarc lives in the
test's private HOME.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import rattler
from ruamel.yaml import YAML

from tests.support.channel import Pkg, build_channel, current_platform, run_async
from tests.support.cli import Workspace, snapshot

ONE_PROJECT = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["pandas>=2"]
"""

_PY = ("python >=3.9",)
BASE_PACKAGES = (
    Pkg(
        "python",
        "3.12.4",
        files={"share/python/VERSION": "3.12.4\n", "lib/python3.12/site-packages/.keep": ""},
    ),
    Pkg("conda", "25.7.0", "py_0", _PY),
    Pkg("conda", "24.11.3", "py_0", _PY),
    Pkg("pip", "24.0", "pyhd8ed1ab_0", _PY, noarch="python"),
    Pkg("zlib", "1.3.1", "h0_0"),
    Pkg("numpy", "1.26.4", "py_0", _PY),
    # a conda package whose dist-info says INSTALLER pip (old conda-build did that)
    Pkg(
        "requests",
        "2.32.3",
        "pyhd8ed1ab_0",
        _PY,
        noarch="python",
        files={
            "site-packages/requests/__init__.py": "",
            "site-packages/requests-2.32.3.dist-info/METADATA": "Name: requests\n",
            "site-packages/requests-2.32.3.dist-info/INSTALLER": "pip\n",
        },
    ),
)

INSTALLER_BLOCK = """\
==> 2024-05-01 10:00:00 <==
# cmd: constructor /tmp/construct --output-dir /tmp/out
# conda version: {conda}
+conda-forge/{plat}::python-3.12.4-0
+conda-forge/{plat}::conda-{conda}-py_0
+conda-forge/noarch::pip-24.0-pyhd8ed1ab_0
+conda-forge/{plat}::zlib-1.3.1-h0_0
+conda-forge/noarch::requests-2.32.3-pyhd8ed1ab_0
# update specs: ["conda-forge/{plat}::python==3.12.4=0", "conda-forge/{plat}::conda=={conda}=py_0", "conda-forge/noarch::pip==24.0=pyhd8ed1ab_0", "conda-forge/{plat}::zlib==1.3.1=h0_0", "conda-forge/noarch::requests==2.32.3=pyhd8ed1ab_0"]
"""

USER_BLOCK = """\
==> 2024-06-01 09:00:00 <==
# cmd: {root}/bin/conda install numpy
# conda version: {conda}
+conda-forge/{plat}::numpy-1.26.4-py_0
# update specs: ['numpy']
"""


@pytest.fixture(scope="module")
def base_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base-channel") / "channel"
    return build_channel(root, packages=BASE_PACKAGES, subdirs=[current_platform()])


@pytest.fixture
def make_root(tmp_path: Path, base_channel: Path, package_cache: Path) -> Callable[..., Path]:
    """`make_root(conda="25.7.0", user_numpy=True)`: a conda installation in tmp_path/conda."""

    def make(conda: str = "25.7.0", *, user_numpy: bool = True) -> Path:
        root = tmp_path / "conda"
        specs = ["python 3.12.*", f"conda =={conda}", "pip", "zlib", "requests"]
        specs += ["numpy"] if user_numpy else []
        records = run_async(
            rattler.solve(
                [base_channel.as_uri()],
                specs,
                platforms=[current_platform(), "noarch"],
                virtual_packages=[],
            )
        )
        run_async(
            rattler.install(
                records,
                target_prefix=root,
                cache_dir=package_cache / "pkgs",
                show_progress=False,
                execute_link_scripts=False,
            )
        )
        plat = current_platform()
        history = INSTALLER_BLOCK.format(conda=conda, plat=plat)
        if user_numpy:
            history += USER_BLOCK.format(conda=conda, plat=plat, root=root)
        (root / "conda-meta" / "history").write_text(history)
        return root

    return make


@pytest.fixture
def ws(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace(ONE_PROJECT)


def home(ws: Workspace) -> Path:
    return Path(ws.env["HOME"])


def check(ws: Workspace, root: Path | None, *args: str, **env: str):
    if root is not None:
        env["WSP_CONDA_ROOT"] = str(root)
    return ws.wsp("check", *args, **env)


def codes(result) -> list[str]:
    return [f["code"] for f in result.json["findings"]]


def finding(result, code: str) -> dict:
    return next(f for f in result.json["findings"] if f["code"] == code)


# -- no conda ------------------------------------------------------------------------------


def test_without_conda_base_rules_say_they_had_nothing_to_check(ws: Workspace) -> None:
    r = ws.wsp("check")
    assert r.code == 0, r
    assert "nothing to check" in r.stdout
    r = ws.wsp("check", "--json")
    assert not [c for c in codes(r) if c.startswith("WSP2")]
    assert any("nothing to check" in n for n in r.json["notes"])


# -- WSP201 auto-activate --------------------------------------------------------------------


def test_wsp201_fires_when_no_condarc_sets_it(ws: Workspace, make_root) -> None:
    root = make_root()
    r = check(ws, root, "--json")
    assert r.code == 0, r  # a warning by default
    f = finding(r, "WSP201")
    assert f["severity"] == "warn"
    assert f["fixable"] is True
    assert f["project"] is None
    assert "conda's default is true" in f["message"]


def test_wsp201_quiet_when_condarc_says_false(ws: Workspace, make_root) -> None:
    root = make_root()
    (home(ws) / ".condarc").write_text("auto_activate_base: false\n")
    assert "WSP201" not in codes(check(ws, root, "--json"))


def test_wsp201_new_key_counts_only_for_a_conda_that_reads_it(ws: Workspace, make_root) -> None:
    (home(ws) / ".condarc").write_text("auto_activate: false\n")
    new = make_root("25.7.0")
    assert "WSP201" not in codes(check(ws, new, "--json"))
    shutil.rmtree(new)
    old = make_root("24.11.3")
    assert "WSP201" in codes(check(ws, old, "--json"))


def test_wsp201_later_files_win(ws: Workspace, make_root) -> None:
    root = make_root()
    (root / ".condarc").write_text("auto_activate_base: true\n")  # $CONDA_ROOT/.condarc
    (home(ws) / ".condarc").write_text("channels:\n  - conda-forge\nauto_activate_base: false\n")
    assert "WSP201" not in codes(check(ws, root, "--json"))
    (root / ".condarc").write_text("auto_activate_base: false\n")
    (home(ws) / ".condarc").write_text("channels:\n  - conda-forge\nauto_activate: true\n")
    f = finding(check(ws, root, "--json"), "WSP201")
    assert f"{home(ws) / '.condarc'}:3" in f["message"]


def test_wsp201_reads_xdg_and_condarc_d(ws: Workspace, make_root) -> None:
    root = make_root()
    d = home(ws) / ".config" / "conda" / "condarc.d"
    d.mkdir(parents=True)
    (d / "10-shell.yml").write_text("auto_activate_base: false\n")
    assert "WSP201" not in codes(check(ws, root, "--json"))


def test_wsp201_env_var_overrides_and_is_not_fixable(ws: Workspace, make_root) -> None:
    root = make_root()
    (home(ws) / ".condarc").write_text("auto_activate_base: false\n")
    r = check(ws, root, "--json", CONDA_AUTO_ACTIVATE_BASE="true")
    f = finding(r, "WSP201")
    assert f["fixable"] is False
    assert "CONDA_AUTO_ACTIVATE_BASE" in f["hint"]


def test_wsp201_off_when_the_workspace_allows_auto_activation(
    make_workspace: Callable[..., Workspace], make_root
) -> None:
    ws = make_workspace(ONE_PROJECT + "\n[policy.base]\nauto-activate = true\n")
    assert "WSP201" not in codes(check(ws, make_root(), "--json"))


CONDARC = """\
# my conda settings, kept by hand
channels:
  - conda-forge   # only this one
auto_activate_base: true  # the installer's default

# solver
channel_priority: strict
"""


def test_fix_keeps_comments_and_order(ws: Workspace, make_root) -> None:
    root = make_root("25.7.0")
    rc = home(ws) / ".condarc"
    rc.write_text(CONDARC)
    os.chmod(rc, 0o640)
    r = check(ws, root, "--fix")
    assert r.code == 0, r
    assert "+auto_activate_base: false  # the installer's default" in r.stderr  # the change shown
    text = rc.read_text()
    assert (
        text
        == CONDARC.replace(
            "auto_activate_base: true  # the installer's default",
            "auto_activate_base: false  # the installer's default",
        )
        + "auto_activate: false\n"
    )
    data = YAML(typ="safe").load(text)
    assert data["auto_activate_base"] is False and data["auto_activate"] is False
    assert data["channels"] == ["conda-forge"]
    assert oct(rc.stat().st_mode & 0o777) == oct(0o640)
    assert "WSP201" not in codes(check(ws, root, "--json"))
    # a second --fix has nothing left to do
    r = check(ws, root, "--fix")
    assert rc.read_text() == text


def test_fix_writes_only_the_old_key_for_an_old_conda(ws: Workspace, make_root) -> None:
    root = make_root("24.11.3")
    r = check(ws, root, "--fix", "--json")
    assert r.code == 0, r
    assert (home(ws) / ".condarc").read_text() == "auto_activate_base: false\n"
    assert r.json["fixed"] == [
        {"code": "WSP201", "path": str(home(ws) / ".condarc"), "keys": ["auto_activate_base"]}
    ]
    assert "WSP201" not in codes(r)


def test_fix_edits_the_file_that_decides_when_conda_reads_it_after_home(
    ws: Workspace, make_root, tmp_path: Path
) -> None:
    root = make_root("25.7.0")
    mine = tmp_path / "team-condarc.yml"
    mine.write_text("# team settings\nauto_activate: true\n")
    r = check(ws, root, "--fix", CONDARC=str(mine))
    assert r.code == 0, r
    assert mine.read_text() == "# team settings\nauto_activate: false\nauto_activate_base: false\n"
    assert not (home(ws) / ".condarc").exists()


# -- WSP202 packages in base -----------------------------------------------------------------


def test_wsp202_lists_what_the_user_installed_into_base(ws: Workspace, make_root) -> None:
    root = make_root(user_numpy=True)
    r = check(ws, root, "--json")
    f = finding(r, "WSP202")
    assert f["severity"] == "warn"
    assert "numpy" in f["message"]
    # the installer's packages and the allowed ones are not the user's doing
    for name in ("zlib", "requests", "conda", "pip", "python"):
        assert name not in f["message"]
    assert f["command"] == "conda remove --name base numpy"


def test_wsp202_fix_prints_the_command_and_removes_nothing(ws: Workspace, make_root) -> None:
    root = make_root(user_numpy=True)
    before = sorted(p.name for p in (root / "conda-meta").iterdir())
    r = check(ws, root, "--fix")
    assert "conda remove --name base numpy" in r.stderr
    assert sorted(p.name for p in (root / "conda-meta").iterdir()) == before


def test_wsp202_quiet_for_a_clean_base_or_allowed_packages(
    make_workspace: Callable[..., Workspace], make_root
) -> None:
    ws = make_workspace(ONE_PROJECT)
    assert "WSP202" not in codes(check(ws, make_root(user_numpy=False), "--json"))
    ws = make_workspace(
        ONE_PROJECT + '\n[policy.base]\nallowed = ["conda", "python", "pip", "numpy"]\n',
        name="ws2",
    )
    assert "WSP202" not in codes(check(ws, make_root(user_numpy=True), "--json"))


def test_wsp202_a_removed_package_is_not_listed(ws: Workspace, make_root) -> None:
    root = make_root(user_numpy=True)
    with (root / "conda-meta" / "history").open("a") as fh:
        fh.write(
            "==> 2024-07-01 09:00:00 <==\n# cmd: conda remove numpy\n# remove specs: ['numpy']\n"
        )
    assert "WSP202" not in codes(check(ws, root, "--json"))


# -- WSP203 pip in base --------------------------------------------------------------------


def _pip_dist(root: Path, name: str, installer: str) -> None:
    d = root / "lib" / "python3.12" / "site-packages" / f"{name}-1.0.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n")
    (d / "INSTALLER").write_text(f"{installer}\n")


def test_wsp203_pip_installed_packages_in_base(ws: Workspace, make_root) -> None:
    root = make_root(user_numpy=False)
    assert "WSP203" not in codes(check(ws, root, "--json"))  # requests' dist-info is conda's
    _pip_dist(root, "leftpad", "pip")
    _pip_dist(root, "condathing", "conda")
    f = finding(check(ws, root, "--json"), "WSP203")
    assert "leftpad" in f["message"]
    assert "condathing" not in f["message"] and "requests" not in f["message"]
    assert f["command"].endswith("-m pip uninstall leftpad")


# -- WSP204 never into base ------------------------------------------------------------------


def test_wsp204_env_inside_base_blocks_and_cannot_be_silenced(
    make_workspace: Callable[..., Workspace], make_root
) -> None:
    """envs-dir holding the conda installation, and a project named like its folder: the
    env would be base itself. (envs-dir in base is refused at load, below.)"""
    root = make_root(user_numpy=False)
    toml = ONE_PROJECT.replace('envs-dir = ".wsp/envs"', f'envs-dir = "{root.parent}"')
    ws = make_workspace(toml.replace("[projects.finance]", f"[projects.{root.name}]"))
    before = snapshot(root)
    r = check(ws, root, "--json")
    assert r.code == 1, r
    f = finding(r, "WSP204")
    assert f["project"] == root.name and f["severity"] == "error"
    assert "which is conda's base env" in f["message"], f
    r = ws.wsp("apply", "--yes", WSP_CONDA_ROOT=str(root))
    assert r.code == 1 and "WSP204" in r.stderr, r
    assert snapshot(root) == before
    ws.write(ws.manifest.read_text() + '\n[policy.rules]\nWSP204 = "off"\n')
    r = check(ws, root)
    assert r.code == 1 and "workspace.toml:" in r.stderr and "can't be set" in r.stderr, r


def test_wsp204_quiet_for_envs_in_base_envs_dir(
    make_workspace: Callable[..., Workspace], make_root
) -> None:
    root = make_root(user_numpy=False)
    ws = make_workspace(ONE_PROJECT.replace('envs-dir = ".wsp/envs"', f'envs-dir = "{root}/envs"'))
    assert "WSP204" not in codes(check(ws, root, "--json"))


def test_envs_dir_that_is_or_lies_in_base_is_refused_at_load(
    make_workspace: Callable[..., Workspace], make_root
) -> None:
    """envs-dir at the conda root (where a project named `envs` would replace conda's own
    envs folder, and `wsp destroy` then delete it) or anywhere inside base but its envs/:
    one located line, exit 1, nothing changed, whether wsp finds that conda or not."""
    root = make_root(user_numpy=False)
    (root / "envs").mkdir(exist_ok=True)  # empty, as a new conda installation has it
    (root / "lib" / "data").mkdir(parents=True)
    before = snapshot(root)
    for envs_dir, where in (
        (root, "is the conda env"),
        (root / "pkgs", "lies inside the conda env"),
        (root / "lib" / "data", "lies inside the conda env"),
    ):
        toml = ONE_PROJECT.replace('envs-dir = ".wsp/envs"', f'envs-dir = "{envs_dir}"')
        ws = make_workspace(toml.replace("[projects.finance]", "[projects.envs]"))
        for args in (("plan",), ("apply", "--yes"), ("destroy", "--yes"), ("check",)):
            for conda_root in (str(root), "/nonexistent"):
                r = ws.wsp(*args, WSP_CONDA_ROOT=conda_root)
                assert r.code == 1 and "Traceback" not in r.output, r
                assert r.stderr.startswith("workspace.toml:4:12: envs-dir"), r
                assert f"{where} {root} " in r.stderr and f"{root / 'envs'}" in r.stderr, r
                assert r.stderr.count("\n") == 1, r
        assert snapshot(root) == before
    assert list((root / "envs").iterdir()) == []
    ws.write(ONE_PROJECT.replace('envs-dir = ".wsp/envs"', f'envs-dir = "{root / "envs"}"'))
    assert ws.wsp("plan", WSP_CONDA_ROOT=str(root)).code == 0


# -- apply is gated; the fix opens the gate ----------------------------------------------------


def test_apply_blocked_by_a_base_error_then_allowed_after_fix(
    make_workspace: Callable[..., Workspace], make_root
) -> None:
    ws = make_workspace(ONE_PROJECT + '\n[policy.rules]\nWSP201 = "error"\n')
    root = make_root(user_numpy=False)
    r = ws.wsp("apply", "--yes", WSP_CONDA_ROOT=str(root))
    assert r.code == 1, r
    assert "WSP201" in r.stderr and "wsp check --fix" in r.stderr
    assert "nothing was changed" in r.stderr
    assert not ws.envs_dir.exists()
    assert check(ws, root, "--fix").code == 0
    r = ws.wsp("apply", "--yes", WSP_CONDA_ROOT=str(root))
    assert r.code == 0, r
    assert ws.versions("finance")["python"].startswith("3.9.")


def test_a_broken_condarc_is_noted_and_fix_refuses_to_touch_it(ws: Workspace, make_root) -> None:
    root = make_root(user_numpy=False)
    rc = home(ws) / ".condarc"
    rc.write_text("channels: [conda-forge\nauto_activate_base: false\n")
    r = check(ws, root, "--json")
    assert any(".condarc: not valid YAML" in n for n in r.json["notes"]), r
    r = check(ws, root, "--fix")
    assert r.code == 1
    assert "can't edit it: not valid YAML" in r.stderr and "by hand" in r.stderr, r
    assert rc.read_text() == "channels: [conda-forge\nauto_activate_base: false\n"
