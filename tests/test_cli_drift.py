"""Drift: packages added to or removed from an owned env by hand are found and undone."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from tests.support.cli import Workspace, run_all

DRIFT = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
dependencies = ["six"]

[projects.webdev]
python = "3.12"
dependencies = ["zlib", "click"]
"""


def test_hand_made_changes_are_drift_and_apply_undoes_them(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(DRIFT)
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    finance, webdev = ws.envs_dir / "finance", ws.envs_dir / "webdev"

    # by hand: "install" zlib into finance (its record and its file, copied from webdev) ...
    zlib_record = "zlib-1.3.1-h0_0.json"
    shutil.copy2(webdev / "conda-meta" / zlib_record, finance / "conda-meta" / zlib_record)
    (finance / "share" / "zlib").mkdir(parents=True)
    shutil.copy2(webdev / "share" / "zlib" / "VERSION", finance / "share" / "zlib" / "VERSION")
    # ... and click as conda records a noarch: python package: `files` names the env's
    # paths, `paths_data` the package's own (`site-packages/...`); it clobbered six's file
    click = json.loads((webdev / "conda-meta" / "click-8.1.7-pyhd8ed1ab_0.json").read_text())
    click["files"] = [f"lib/python3.9/site-packages/{m}/__init__.py" for m in ("click", "six")]
    click["package_tarball_full_path"] = "/opt/conda/pkgs/click-8.1.7-pyhd8ed1ab_0.conda"
    click["paths_data"]["paths"] = [
        {"_path": f"site-packages/{m}/__init__.py", "path_type": "hardlink"}
        for m in ("click", "six")
    ]
    six = finance / "lib" / "python3.9" / "site-packages" / "six" / "__init__.py"
    six.unlink()
    six.write_text("clobbered")
    (finance / "conda-meta" / "click-8.1.7-pyhd8ed1ab_0.json").write_text(json.dumps(click))
    conda_click = finance / "lib" / "python3.9" / "site-packages" / "click" / "__init__.py"
    conda_click.parent.mkdir()
    conda_click.write_text("")
    # ... and "remove" click from webdev (its record deleted, as a careless tool would)
    click_record = webdev / "conda-meta" / "click-8.1.7-pyhd8ed1ab_0.json"
    click_record.unlink()

    plan, status = run_all(ws, ("plan", "--json", "--detailed-exitcode"), ("status", "--json"))
    assert plan.code == 2, plan
    acts = {a["env"]: a for a in plan.json["actions"]}

    fin = acts["finance"]
    assert fin["action"] == "update", fin
    assert any("changed outside wsp" in r and "zlib" in r for r in fin["reasons"]), fin
    assert [p["name"] for p in fin["packages"]["remove"]] == ["click", "zlib"]
    assert fin["packages"]["add"] == [] and fin["packages"]["change"] == []

    web = acts["webdev"]
    assert web["action"] == "update", web
    assert any("changed outside wsp" in r and "click" in r for r in web["reasons"]), web
    assert [(p["name"], p["version"]) for p in web["packages"]["add"]] == [("click", "8.1.7")]
    assert web["packages"]["remove"] == []

    assert status.code == 0, status
    states = {row["env"]: row["state"] for row in status.json["envs"]}
    assert states == {"finance": "drifted", "webdev": "drifted"}

    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert not (finance / "conda-meta" / zlib_record).exists()
    assert not (finance / "share" / "zlib" / "VERSION").exists(), "the hand-installed file stayed"
    assert not conda_click.parent.exists(), "a package conda installed left its files"
    assert "Synthetic six" in six.read_text(), "the file it clobbered was not put back"
    assert "zlib" in ws.versions("webdev"), "undoing drift in finance touched webdev"
    assert click_record.is_file(), "click's record was not restored"
    assert (webdev / "lib" / "python3.12" / "site-packages" / "click" / "__init__.py").is_file()
    assert ws.versions("finance") == {"python": "3.9.18", "six": "1.16.0"}
    # the build kept for rollback is build 1 as wsp made it, not the env as it was found
    for env in ("finance", "webdev"):
        kept = ws.envs_dir / env / "conda-meta" / "wsp-builds"
        assert Workspace.dists_in(kept, "1") == ws.dists(env), env
    # and the history says why build 2 has build 1's packages
    r = ws.wsp("history", "webdev")
    assert r.code == 0 and "(no package changed) # changed outside wsp: - click" in r.stdout, r

    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert "No changes" in r.stdout

    # `conda env config vars set -n finance FOO=1`, which a frozen env allows, is drift too
    (finance / "conda-meta" / "state").write_text('{\n  "env_vars": {\n    "FOO": "1"\n  }\n}')
    plan, status = run_all(ws, ("plan", "--json", "--detailed-exitcode"), ("status", "--json"))
    assert plan.code == 2, plan
    [fin] = [a for a in plan.json["actions"] if a["env"] == "finance"]
    assert fin["reasons"] == ["changed outside wsp: + env var FOO"] and fin["marker_only"], fin
    assert {row["env"]: row["state"] for row in status.json["envs"]}["finance"] == "drifted"
