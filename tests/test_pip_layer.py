"""The pip layer (issue 3): pip requirements installed by uv after the conda packages.

Driven through the real command line against a channel whose `python` really runs (a
copy of the test interpreter) and a wheelhouse of small real wheels (no index, no
network). Each test applies one workspace and walks it through several changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cli import Result, Workspace, run_all, snapshot

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
SITE = Path("lib") / f"python{PY}" / "site-packages"

# finance: conda six + pip tinylib. vision: conda requests, pip from a template
# (metricskit), from finance through depends-on (tinylib) and from its environment
# file's `pip:` list (tinyapp).
PIP_TOML = """\
[workspace]
name = "pip-layer"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-find-links = ["{wheelhouse}"]
pip-no-index = true

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[templates.metrics]
pip = ["metricskit==1.0.0"]

[projects.finance]
python = "{py}"
dependencies = ["six"]
pip = ["tinylib==1.0.0"]

[projects.vision]
python = "{py}"
extends = ["metrics"]
depends-on = ["finance"]
dependencies = ["requests"]
environment-file = "environment.yml"
"""

VISION_ENV_FILE = """\
name: vision
dependencies:
  - zlib
  - pip
  - pip:
    - tinyapp
"""


# -- session fixtures ---------------------------------------------------------------------------


# -- helpers ------------------------------------------------------------------------------------


def toml(text: str, wheelhouse: Path) -> str:
    return text.replace("{wheelhouse}", str(wheelhouse)).replace("{py}", PY)


def site(ws: Workspace, env: str) -> Path:
    return ws.envs_dir / env / SITE


def dist_infos(ws: Workspace, env: str) -> set[str]:
    """`name-version` of every *.dist-info in the env's site-packages."""
    return {p.name[: -len(".dist-info")] for p in site(ws, env).glob("*.dist-info")}


def pip_entries(action: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [e for e in action["packages"][key] if e.get("source") == "pip"]


def conda_entries(action: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [e for e in action["packages"][key] if e.get("source") != "pip"]


def actions(r: Result) -> dict[str, dict[str, Any]]:
    return {a["env"]: a for a in r.json["actions"]}


def uv(ws: Workspace, *args: str) -> None:
    """Run uv by hand, as a user would, outside wsp (with the workspace's private HOME)."""
    from uv import find_uv_bin

    env = {k: v for k, v in ws.env.items() if not k.startswith("VIRTUAL_ENV")}
    proc = subprocess.run(
        [find_uv_bin(), *args], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr


def env_python(ws: Workspace, env: str, code: str) -> str:
    """Run `code` with the env's own interpreter; its stdout."""
    proc = subprocess.run(
        [str(ws.envs_dir / env / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


LOCK_FILES = {".wsp/.gitignore", ".wsp/apply.lock"}


def disk(ws: Workspace) -> dict[str, tuple[int, int]]:
    """`snapshot` of the workspace folder without the lock file `wsp apply` creates (with
    .wsp/ itself) before it plans: wsp's own bookkeeping, not a change to any env."""
    return {k: v for k, v in snapshot(ws.root).items() if k not in LOCK_FILES}


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def line_of(text: str, start: str, after: str = "") -> int:
    """1-based number of the first line starting with `start` below the line `after`."""
    lines = text.splitlines()
    begin = lines.index(after) if after else 0
    return next(i + 1 for i in range(begin, len(lines)) if lines[i].startswith(start))


def must(ok: object, why: object) -> None:
    """A precondition: failing it is an error of the setup (RuntimeError), not the assertion
    a test is about, so an `xfail(raises=AssertionError)` cannot pass on a broken setup."""
    if not ok:
        raise RuntimeError(str(why))


def applied(ws: Workspace) -> Result:
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    return r


def in_sync(ws: Workspace) -> Result:
    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 0, r
    assert r.json["summary"]["no-op"] == len(r.json["actions"]), r.json["summary"]
    return r


def pip_workspace(make: Callable[..., Workspace], channel: Path, wheelhouse: Path) -> Workspace:
    ws = make(toml(PIP_TOML, wheelhouse), chan=channel)
    (ws.root / "projects" / "vision").mkdir(parents=True)
    (ws.root / "projects" / "vision" / "environment.yml").write_text(VISION_ENV_FILE)
    return ws


# -- tests --------------------------------------------------------------------------------------


def test_pip_requirements_are_planned_installed_changed_and_removed(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    ws = pip_workspace(make_workspace, runnable_channel, wheelhouse)

    # -- the plan shows pip packages beside conda ones, marked as pip ---------------------------
    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    acts = actions(r)
    fin, vis = acts["finance"], acts["vision"]
    assert fin["action"] == vis["action"] == "create"
    assert pip_entries(fin, "add") == [{"name": "tinylib", "version": "1.0.0", "source": "pip"}]
    assert {e["name"] for e in conda_entries(fin, "add")} == {"python", "six"}
    assert all(e["source"] == "conda" for e in conda_entries(fin, "add")), fin
    # the template's, finance's (through depends-on) and the environment file's pip entries
    assert {(e["name"], e["version"]) for e in pip_entries(vis, "add")} == {
        ("metricskit", "1.0.0"),
        ("tinyapp", "0.5.0"),
        ("tinylib", "1.0.0"),
    }
    assert {"requests", "zlib", "six"} <= {e["name"] for e in conda_entries(vis, "add")}
    assert "requests" not in {e["name"] for e in pip_entries(vis, "add")}

    # -- apply shows the same plan for people, then installs into the env's own interpreter ----
    human = applied(ws)
    for line in ("+ tinylib 1.0.0 (pip)", "+ metricskit 1.0.0 (pip)", "+ tinyapp 0.5.0 (pip)"):
        assert line in human.stdout, human
    assert "+ six 1.16.0" in human.stdout and "six 1.16.0 (pip)" not in human.stdout, human
    assert dist_infos(ws, "finance") == {"tinylib-1.0.0"}
    assert dist_infos(ws, "vision") == {"metricskit-1.0.0", "tinyapp-0.5.0", "tinylib-1.0.0"}
    # compiled at install, as pip compiles them (a shared env's users can't write them)
    assert list((site(ws, "finance") / "tinylib").glob("__pycache__/*.pyc")), "not compiled"
    out = env_python(
        ws,
        "vision",
        "import metricskit, tinyapp, tinylib, sys;"
        "print(metricskit.__version__, tinyapp.__version__, tinylib.__version__, sys.prefix)",
    )
    assert out == f"1.0.0 0.5.0 1.0.0 {ws.envs_dir / 'vision'}"
    conda_requests = (site(ws, "vision") / "requests" / "__init__.py").read_text()
    assert '__version__ = "2.32.3"' in conda_requests  # conda's, not the seed wheel's 2.31.0
    conda_six = {
        e: (site(ws, e) / "six" / "__init__.py").read_text() for e in ("finance", "vision")
    }
    conda_meta = {e: ws.dists(e) for e in ("finance", "vision")}
    marker = json.loads((ws.envs_dir / "vision" / "conda-meta" / "wsp").read_text())
    assert marker["pip"] == {"metricskit": "1.0.0", "tinyapp": "0.5.0", "tinylib": "1.0.0"}
    in_sync(ws)

    # -- changing a version changes it, removing a requirement uninstalls it -------------------
    ws.edit('pip = ["metricskit==1.0.0"]', 'pip = ["metricskit==2.0.0"]')
    (ws.root / "projects" / "vision" / "environment.yml").write_text(
        "name: vision\ndependencies:\n  - zlib\n  - pip\n"
    )
    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    acts = actions(r)
    assert acts["finance"]["action"] == "no-op", acts["finance"]
    vis = acts["vision"]
    assert vis["action"] == "update", vis
    assert pip_entries(vis, "change") == [
        {"name": "metricskit", "from": "1.0.0", "to": "2.0.0", "source": "pip"}
    ]
    assert pip_entries(vis, "remove") == [{"name": "tinyapp", "version": "0.5.0", "source": "pip"}]
    assert pip_entries(vis, "add") == []
    assert not any(conda_entries(vis, k) for k in ("add", "remove", "change")), vis

    r = applied(ws)  # apply shows the plan it carries out
    assert "~ metricskit 1.0.0 -> 2.0.0 (pip)" in r.stdout, r
    assert "- tinyapp 0.5.0 (pip)" in r.stdout, r
    assert dist_infos(ws, "vision") == {"metricskit-2.0.0", "tinylib-1.0.0"}
    assert not (site(ws, "vision") / "tinyapp").exists()
    assert env_python(ws, "vision", "import metricskit; print(metricskit.__version__)") == "2.0.0"
    # the conda part is untouched by the pip changes
    assert ws.dists("vision") == conda_meta["vision"]
    assert (site(ws, "vision") / "requests" / "__init__.py").read_text() == conda_requests

    # -- removing finance's pip requirement: gone from both envs, conda's six untouched --------
    ws.edit('pip = ["tinylib==1.0.0"]', "pip = []")
    r = applied(ws)
    assert r.stdout.count("- tinylib 1.0.0 (pip)") == 2, r
    assert dist_infos(ws, "finance") == set()
    assert dist_infos(ws, "vision") == {"metricskit-2.0.0"}
    for env in ("finance", "vision"):
        assert not (site(ws, env) / "tinylib").exists()
        assert (site(ws, env) / "six" / "__init__.py").read_text() == conda_six[env]
        assert ws.dists(env) == conda_meta[env]
    assert (site(ws, "vision") / "requests" / "__init__.py").read_text() == conda_requests
    assert env_python(ws, "finance", "import six; print(six.__version__)") == "1.16.0"
    in_sync(ws)


def test_hand_installed_pip_packages_are_drift_that_wsp_leaves_alone(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    ws = pip_workspace(make_workspace, runnable_channel, wheelhouse)
    applied(ws)
    vision_python = str(ws.envs_dir / "vision" / "bin" / "python")
    finance_python = str(ws.envs_dir / "finance" / "bin" / "python")
    links = ("--no-index", "--find-links", str(wheelhouse), "--no-deps")

    # by hand: a new package into vision, and a wsp-installed one taken out of finance
    uv(ws, "pip", "install", "--python", vision_python, *links, "httpthing==1.0.0")
    uv(ws, "pip", "uninstall", "--python", finance_python, "tinylib")
    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    acts = actions(r)
    vis = acts["vision"]
    assert vis["action"] == "update", vis
    drift = [m for m in vis["reasons"] if "changed outside wsp" in m]
    assert drift and "installed by hand" in drift[0] and "httpthing" in drift[0], vis
    assert not pip_entries(vis, "remove"), vis  # wsp does not plan to uninstall it
    fin = acts["finance"]
    assert fin["action"] == "update", fin
    assert any("changed outside wsp" in m and "tinylib" in m for m in fin["reasons"]), fin

    applied(ws)
    assert "httpthing-1.0.0" in dist_infos(ws, "vision")  # left alone
    assert dist_infos(ws, "finance") == {"tinylib-1.0.0"}  # wsp's own package put back

    # the next plan only notes the hand-installed package: otherwise no change
    r = in_sync(ws)
    assert any("httpthing 1.0.0" in n and "installed by hand" in n for n in r.json["notes"]), r

    # a wsp-installed package whose version was changed by hand is drift too, and is undone
    uv(ws, "pip", "install", "--python", finance_python, *links, "tinylib==1.1.0")
    r = applied(ws)  # apply shows the plan it carries out, reasons included
    assert "changed outside wsp: ~ tinylib 1.0.0 -> 1.1.0 (pip)" in r.stdout, r
    assert dist_infos(ws, "finance") == {"tinylib-1.0.0"}
    assert "httpthing-1.0.0" in dist_infos(ws, "vision")


ERR_TOML = """\
[workspace]
name = "pip-errors"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-find-links = ["{wheelhouse}"]
pip-no-index = true

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "{py}"
dependencies = ["six"]
pip = ["tinylib==1.0.0", "doesnotexist==1.0"]
"""


def assert_unresolvable(ws: Workspace, r: Result) -> None:
    assert r.code == 1, r
    line = one_line(r.stderr)
    pip_line = line_of(ws.manifest.read_text(), "pip = ", "[projects.finance]")
    assert f"workspace.toml:{pip_line}:" in line, line
    assert "doesnotexist" in line and "finance" in line, line
    assert "Traceback" not in r.output, r


def test_unresolvable_pip_requirement_stops_plan_and_apply_before_any_change(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    ws = make_workspace(toml(ERR_TOML, wheelhouse), chan=runnable_channel)

    # no env yet: nothing is created
    before = snapshot(ws.root)
    for r in run_all(ws, ("plan", "--json"), ("apply", "--yes")):
        assert_unresolvable(ws, r)
        assert r.stdout == "", r
    assert set(snapshot(ws.root)) - set(before) <= LOCK_FILES
    assert disk(ws) == before
    assert not (ws.envs_dir / "finance").exists()

    # an existing env: neither its conda part nor its pip part changes
    ws.edit(', "doesnotexist==1.0"', "")
    applied(ws)
    conda_meta = ws.dists("finance")
    ws.edit('dependencies = ["six"]', 'dependencies = ["six", "zlib"]')
    ws.edit('pip = ["tinylib==1.0.0"]', 'pip = ["tinylib==1.1.0", "doesnotexist==1.0"]')
    before = snapshot(ws.root)
    for r in run_all(ws, ("plan",), ("apply", "--yes")):
        assert_unresolvable(ws, r)
    assert snapshot(ws.root) == before
    assert ws.dists("finance") == conda_meta
    assert "zlib" not in ws.versions("finance")
    assert dist_infos(ws, "finance") == {"tinylib-1.0.0"}


def test_pip_dependency_never_overwrites_or_removes_a_conda_package(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    text = ERR_TOML.replace('dependencies = ["six"]', 'dependencies = ["requests"]')
    text = text.replace('pip = ["tinylib==1.0.0", "doesnotexist==1.0"]', 'pip = ["httpthing"]')
    ws = make_workspace(toml(text, wheelhouse), chan=runnable_channel)
    r = ws.wsp("apply", "--yes")
    must(r.code == 0, r)
    must("httpthing-1.0.0" in dist_infos(ws, "finance"), dist_infos(ws, "finance"))
    requests_init = site(ws, "finance") / "requests" / "__init__.py"
    assert '__version__ = "2.32.3"' in requests_init.read_text()  # conda's, not the wheel's

    ws.edit('pip = ["httpthing"]', "pip = []")
    r = ws.wsp("apply", "--yes")
    must(r.code == 0, r)
    must("httpthing-1.0.0" not in dist_infos(ws, "finance"), dist_infos(ws, "finance"))
    assert requests_init.is_file()
    assert env_python(ws, "finance", "import requests; print(requests.__version__)") == "2.32.3"


def test_marker_only_update_keeps_wsp_s_pip_packages_its_own(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    """An update that only rewrites the marker (env-vars changed) still knows what wsp
    installed through pip: it stays wsp's, so removing it later uninstalls it."""
    ws = make_workspace(toml(ERR_TOML, wheelhouse), chan=runnable_channel)
    ws.edit(', "doesnotexist==1.0"', ', "metricskit==1.0.0"')
    applied(ws)
    marker_file = ws.envs_dir / "finance" / "conda-meta" / "wsp"
    ours = {"metricskit": "1.0.0", "tinylib": "1.0.0"}
    must(json.loads(marker_file.read_text())["pip"] == ours, marker_file.read_text())

    ws.edit('pip = ["tinylib', 'env-vars = { A = "1" }\npip = ["tinylib')
    r = ws.wsp("plan", "--json")
    must(r.code == 0 and actions(r)["finance"].get("marker_only"), r)
    applied(ws)
    marker = json.loads(marker_file.read_text())
    assert marker["pip"] == ours and marker["pip_unmanaged"] == {}, marker
    r = in_sync(ws)
    assert not any("installed by hand" in n for n in r.json["notes"]), r.json["notes"]

    ws.edit('"tinylib==1.0.0", ', "")
    r = applied(ws)
    assert "- tinylib 1.0.0 (pip)" in r.stdout, r
    assert dist_infos(ws, "finance") == {"metricskit-1.0.0"}
    marker = json.loads(marker_file.read_text())
    assert marker["pip"] == {"metricskit": "1.0.0"} and marker["pip_unmanaged"] == {}, marker
    in_sync(ws)


def test_an_unresolvable_pip_line_of_an_environment_file_is_located_in_that_file(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    text = ERR_TOML.replace(
        'pip = ["tinylib==1.0.0", "doesnotexist==1.0"]', 'environment-file = "environment.yml"'
    )
    ws = make_workspace(toml(text, wheelhouse), chan=runnable_channel)
    env_file = ws.root / "projects" / "finance" / "environment.yml"
    env_file.parent.mkdir(parents=True)
    env_file.write_text(
        "name: finance\ndependencies:\n  - pip\n  - pip:\n    - tinylib==1.0.0\n"
        "    - doesnotexist==1.0\n"
    )
    r = ws.wsp("plan")
    assert r.code == 1, r
    line = one_line(r.stderr)
    assert line.startswith("projects/finance/environment.yml:6:7: "), line
    assert "doesnotexist" in line and "can't be resolved" in line, line
    # the project's own pip key in workspace.toml keeps the error when it names the culprit
    ws.edit(
        'environment-file = "environment.yml"',
        'environment-file = "environment.yml"\npip = ["doesnotexist==1.0"]',
    )
    env_file.write_text("name: finance\ndependencies:\n  - pip\n  - pip:\n    - tinylib==1.0.0\n")
    assert_unresolvable(ws, ws.wsp("plan"))
