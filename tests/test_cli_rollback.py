"""`wsp rollback PROJECT`: an env goes back to the build its last update or replace
superseded, and a second rollback undoes the first. A replaced env is built beside the
old one: its files name its final path, never the staging folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import Workspace
from tests.test_run import PY, RUN_TOML


def whole(ws: Workspace, env: str) -> None:
    """The env's marker is complete and lists exactly what conda-meta holds."""
    import json

    marker = json.loads((ws.envs_dir / env / "conda-meta" / "wsp").read_text())
    assert marker["state"] == "complete"
    assert set(marker["packages"]) == ws.dists(env)


def test_rollback_undoes_an_update_and_a_second_rollback_redoes_it(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace()
    assert ws.wsp("lock").code == 0  # build 1 comes from wsp.lock
    assert ws.wsp("apply", "--yes").code == 0
    nothing = ws.wsp("rollback", "webdev", "--yes")
    assert nothing.code == 1
    assert "env 'webdev' has no previous build to roll back to" in nothing.stderr, nothing

    ws.edit('dependencies = ["fastapi", "uvicorn"]', 'dependencies = ["fastapi"]')
    assert ws.wsp("apply", "--yes").code == 0
    assert "uvicorn" not in ws.versions("webdev")

    refused = ws.wsp("rollback", "webdev")  # stdin is not a terminal: no silent yes
    assert refused.code == 1 and "refusing to roll back" in refused.stderr, refused

    # a record removed by hand (as a careless tool would): the rollback undoes that too
    (ws.envs_dir / "webdev" / "conda-meta" / "starlette-0.37.2-pyhd8ed1ab_0.json").unlink()
    back = ws.wsp("rollback", "webdev", "--yes")
    assert back.code == 0, back
    assert "+ uvicorn 0.30.1" in back.stdout, back  # what changes is shown first
    assert "packages from wsp.lock" not in back.stdout, back  # (from the kept build)
    assert "# changed outside wsp: - starlette 0.37.2" in back.stdout, back
    assert "Rolled webdev back to build 1 of" in back.stderr, back
    assert "`wsp plan` shows it as an update" in back.stderr, back
    assert "uvicorn" in ws.versions("webdev")
    whole(ws, "webdev")
    # conda list --revisions names the command that made the build
    history = (ws.envs_dir / "webdev" / "conda-meta" / "history").read_text()
    assert history.split("==>")[-1].splitlines()[1].startswith("# cmd: wsp rollback ("), history
    plan = ws.wsp("plan", "--json").json
    changes = [(a["env"], a["action"]) for a in plan["actions"] if a["action"] != "no-op"]
    assert changes == [("webdev", "update")]
    states = {r["env"]: r["state"] for r in ws.wsp("status", "--json").json["envs"]}
    assert states["webdev"] == "out of date" and states["finance"] == "in sync"

    forward = ws.wsp("rollback", "webdev", "--yes")
    assert forward.code == 0, forward
    # back on what the file declares: the message says so, not "shows it as an update"
    assert "It is what workspace.toml declares: `wsp plan` shows no change." in forward.stderr
    assert "shows it as an update" not in forward.stderr, forward
    assert "uvicorn" not in ws.versions("webdev")
    whole(ws, "webdev")
    assert ws.wsp("plan", "--detailed-exitcode").code == 0  # in sync with the file again


def test_a_replaced_env_is_built_beside_and_can_be_rolled_back(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace()
    assert ws.wsp("apply", "--yes").code == 0
    vision = ws.envs_dir / "vision"
    ws.edit('python = "3.11"', 'python = "3.12"')
    result = ws.wsp("apply", "--yes")
    assert result.code == 0, result
    assert ws.versions("vision")["python"].startswith("3.12")
    # the python package's prefix placeholder names the env's own path
    assert (vision / "share" / "python" / "PREFIX").read_text().strip() == str(vision)
    assert [p.name for p in ws.envs_dir.iterdir() if p.name.startswith(".")] == []

    back = ws.wsp("rollback", "vision", "--yes")
    assert back.code == 0, back
    assert ws.versions("vision")["python"].startswith("3.11")
    assert (vision / "share" / "python" / "PREFIX").read_text().strip() == str(vision)
    whole(ws, "vision")
    assert ws.wsp("apply", "--yes").code == 0
    assert ws.versions("vision")["python"].startswith("3.12")
    assert ws.wsp("plan", "--detailed-exitcode").code == 0


def test_rollback_of_what_is_not_there_is_one_clear_error(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace()
    missing = ws.wsp("rollback", "webdev", "--yes")
    assert missing.code == 1
    assert "cannot roll back env 'webdev': it does not exist" in missing.stderr, missing
    unknown = ws.wsp("rollback", "nope", "--yes")
    assert unknown.code == 1 and "is not a project of this workspace" in unknown.stderr


def test_rollback_puts_back_the_pip_packages_wsp_installed(
    make_workspace: Callable[..., Workspace], runnable_channel: Path, wheelhouse: Path
) -> None:
    text = RUN_TOML.replace("{wheelhouse}", str(wheelhouse)).replace("{py}", PY)
    ws = make_workspace(text, chan=runnable_channel)
    assert ws.wsp("apply", "--yes").code == 0
    site = ws.envs_dir / "vision" / "lib" / f"python{PY}" / "site-packages"

    def dists() -> set[str]:
        return {p.name.removesuffix(".dist-info") for p in site.glob("*.dist-info")}

    ws.edit('pip = ["tinylib==1.1.0"]', 'pip = ["tinylib==1.0.0", "metricskit==1.0.0"]')
    assert ws.wsp("apply", "--yes").code == 0
    assert {"tinylib-1.0.0", "metricskit-1.0.0"} <= dists()

    back = ws.wsp("rollback", "vision", "--yes")
    assert back.code == 0, back
    assert "tinylib-1.1.0" in dists() and "tinylib-1.0.0" not in dists()
    assert not any(d.startswith("metricskit") for d in dists())
    whole(ws, "vision")
    assert ws.wsp("rollback", "vision", "--yes").code == 0
    assert {"tinylib-1.0.0", "metricskit-1.0.0"} <= dists()
    assert ws.wsp("plan", "--detailed-exitcode").code == 0

    # back across a replace (another Python): rattler links the noarch: python packages
    # anew into the python's site-packages; their modules are compiled and recorded as a
    # create compiles them (else `conda remove` leaves the __pycache__ Python writes)
    finance = ws.envs_dir / "finance"
    pyc = f"lib/python{PY}/site-packages/six/__pycache__/__init__.cpython-{PY.replace('.', '')}.pyc"
    record = finance / "conda-meta" / "six-1.16.0-pyhd8ed1ab_0.json"
    assert pyc in json.loads(record.read_text())["files"]
    ws.edit('depends-on = ["finance"]\n', "")
    ws.edit(f'python = "{PY}"', f'python = "{"3.12" if PY == "3.9" else "3.9"}"')
    assert ws.wsp("apply", "--yes", "--target", "finance").code == 0
    assert ws.wsp("rollback", "finance", "--yes").code == 0
    assert pyc in json.loads(record.read_text())["files"]
    assert (finance / pyc).is_file()
