"""`wsp plan` and `wsp apply` through the real command line: create, update, replace, prune.

Every test drives `python -m wsp` in a subprocess against the session's local conda
channel; envs are really solved and installed by the rattler engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.support.channel import Pkg, add_packages
from tests.support.cli import Result, Workspace, run_all, snapshot

# -- helpers ----------------------------------------------------------------------------------


def actions(plan: dict) -> dict[str, dict]:
    return {a["env"]: a for a in plan["actions"]}


def names(pkgs: list[dict]) -> dict[str, str]:
    return {p["name"]: p["version"] for p in pkgs}


def environments_txt(ws: Workspace) -> list[str]:
    path = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    return path.read_text().splitlines() if path.exists() else []


def apply_ok(ws: Workspace, *args: str) -> Result:
    r = ws.wsp("apply", "--yes", *args)
    assert r.code == 0, r
    return r


TWO = """\
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
dependencies = ["click"]
"""


# -- a fresh workspace ------------------------------------------------------------------------


def test_fresh_plan_then_apply_builds_three_pythons(workspace: Workspace, tmp_path: Path) -> None:
    detailed, as_json, unconfirmed = run_all(
        workspace,
        ("plan", "--detailed-exitcode"),
        ("plan", "--json"),
        ("apply",),  # stdin is a pipe, not a terminal, and no --yes
    )

    assert detailed.code == 2, detailed
    for env in ("finance", "vision", "webdev"):
        assert f"{env} create" in detailed.stdout, detailed
    assert "3 to create" in detailed.stdout, detailed

    # a plan with changes exits 0 unless --detailed-exitcode asks for 2
    assert as_json.code == 0, as_json
    plan = as_json.json
    assert plan["format_version"] == "1"
    assert plan["workspace"] == "acme-research"
    assert plan["fingerprint"].startswith("sha256:")
    assert plan["summary"] == {
        **plan["summary"],
        "create": 3,
        "update": 0,
        "replace": 0,
        "prune": 0,
        "no-op": 0,
    }
    acts = actions(plan)
    assert sorted(acts) == ["finance", "vision", "webdev"]
    for env, a in acts.items():
        assert a["project"] == env
        assert a["action"] == "create"
        assert a["prefix"] == str(workspace.envs_dir / env)
        assert Path(a["prefix"]).is_absolute()
        assert isinstance(a["reasons"], list) and a["reasons"]
        assert set(a["packages"]) >= {"add", "remove", "change"}
        assert a["packages"]["remove"] == [] and a["packages"]["change"] == []
        for p in a["packages"]["add"]:
            assert p["name"] and p["version"]
    assert names(acts["finance"]["packages"]["add"])["python"] == "3.9.18"
    assert names(acts["vision"]["packages"]["add"])["python"] == "3.11.9"
    assert names(acts["webdev"]["packages"]["add"])["python"] == "3.12.4"
    assert {"pandas", "scikit-learn", "numpy"} <= set(names(acts["finance"]["packages"]["add"]))

    # apply without --yes on a non-terminal refuses, pointing at --yes, and builds nothing
    assert unconfirmed.code == 1, unconfirmed
    assert "--yes" in unconfirmed.stderr, unconfirmed
    assert not workspace.envs_dir.exists() or not any(workspace.envs_dir.iterdir())
    assert environments_txt(workspace) == []

    # -C DIR from somewhere else
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (applied,) = run_all(
        workspace,
        ("-C", str(workspace.root), "apply", "--yes"),
        cwd=elsewhere,
        env=[{"PYTHONPROFILEIMPORTTIME": "1"}],
    )
    assert applied.code == 0, applied
    # no env needs another built first: no graph of projects to order them (networkx)
    assert "networkx" not in {ln.rsplit("|", 1)[-1].strip() for ln in applied.stderr.splitlines()}
    assert not any(elsewhere.iterdir()), "apply -C wrote into the cwd"
    for env, py in (("finance", "3.9.18"), ("vision", "3.11.9"), ("webdev", "3.12.4")):
        meta = workspace.envs_dir / env / "conda-meta"
        assert (meta / f"python-{py}-0.json").is_file()
        record = json.loads((meta / f"python-{py}-0.json").read_text())
        assert record["name"] == "python" and record["version"] == py
    assert workspace.versions("finance")["pandas"] == "2.2.2"
    assert workspace.versions("vision")["opencv"] == "4.10.0"
    assert workspace.versions("webdev")["fastapi"] == "0.111.0"
    # outside conda's envs dirs: listed for `conda env list`
    assert sorted(environments_txt(workspace)) == sorted(
        str(workspace.envs_dir / e) for e in ("finance", "vision", "webdev")
    )

    again = workspace.wsp("plan", "--detailed-exitcode")
    assert again.code == 0, again
    assert "No changes" in again.stdout

    # in sync and piped (CI, a script): one line, without loading rich, py-rattler or
    # the pip layer (each costs start-up time a no-op does not need)
    for command in (("plan",), ("apply", "--yes")):
        r = workspace.wsp(*command, PYTHONPROFILEIMPORTTIME="1")
        assert r.code == 0 and "No changes" in r.stdout, r
        imported = {ln.rsplit("|", 1)[-1].strip() for ln in r.stderr.splitlines()}
        assert not {"rich", "rattler", "wsp.pip", "wsp.pipreqs", "wsp.reasons"} & imported, command


def test_target_limits_the_plan_and_the_apply(workspace: Workspace) -> None:
    two, unknown = run_all(
        workspace,
        ("plan", "--json", "--target", "finance", "--target", "webdev"),
        ("plan", "--target", "nope"),
    )
    assert two.code == 0, two
    assert sorted(actions(two.json)) == ["finance", "webdev"]
    assert two.json["summary"]["create"] == 2

    assert unknown.code == 1, unknown
    assert "nope" in unknown.stderr, unknown
    assert "Traceback" not in unknown.stderr

    r = apply_ok(workspace, "-t", "vision")
    assert "vision" in r.output
    assert sorted(p.name for p in workspace.envs_dir.iterdir() if not p.name.startswith(".")) == [
        "vision"
    ]


# -- edits of workspace.toml ------------------------------------------------------------------

EDITED = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.vision]
python = "3.12"
dependencies = ["pytorch", "opencv"]

[projects.webdev]
python = "3.12"
dependencies = ["fastapi", "requests"]
"""


def test_edits_plan_update_replace_and_prune(workspace: Workspace) -> None:
    apply_ok(workspace)
    site = workspace.envs_dir / "webdev" / "lib" / "python3.12" / "site-packages"
    assert (site / "uvicorn" / "__init__.py").is_file()
    fastapi_record = (
        workspace.envs_dir / "webdev" / "conda-meta" / "fastapi-0.111.0-pyhd8ed1ab_0.json"
    )
    fastapi_before = fastapi_record.stat().st_mtime_ns

    # webdev: + requests, - uvicorn; vision: python 3.11 -> 3.12; finance: gone
    workspace.write(EDITED)
    r = workspace.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    plan = r.json
    acts = actions(plan)
    assert plan["summary"]["update"] == 1
    assert plan["summary"]["replace"] == 1
    assert plan["summary"]["prune"] == 1

    web = acts["webdev"]
    assert web["action"] == "update", web
    added = names(web["packages"]["add"])
    assert added["requests"] == "2.32.3"
    assert {"certifi", "idna", "urllib3", "charset-normalizer"} <= set(added)
    assert {"uvicorn", "click", "h11"} == set(names(web["packages"]["remove"]))
    assert names(web["packages"]["remove"])["uvicorn"] == "0.30.1"
    assert web["packages"]["change"] == []  # fastapi and its deps stay as they are
    assert any("requests" in reason for reason in web["reasons"]), web

    vis = acts["vision"]
    assert vis["action"] == "replace", vis
    assert any("python 3.11 -> 3.12" in reason for reason in vis["reasons"]), vis
    assert names(vis["packages"]["add"])["python"] == "3.12.4"

    fin = acts["finance"]
    assert fin["action"] == "prune", fin
    assert fin["project"] == "finance"
    assert fin["prefix"] == str(workspace.envs_dir / "finance")
    assert "pandas" in names(fin["packages"]["remove"])

    applied = apply_ok(workspace)
    assert "pruned" in applied.output and "replaced" in applied.output

    assert not (workspace.envs_dir / "finance").exists()
    assert workspace.versions("vision")["python"] == "3.12.4"
    assert not (workspace.envs_dir / "vision" / "conda-meta" / "python-3.11.9-0.json").exists()
    versions = workspace.versions("webdev")
    assert versions["requests"] == "2.32.3"
    assert "uvicorn" not in versions and "click" not in versions
    assert not (site / "uvicorn").exists(), "uvicorn's files stayed behind"
    assert not (site / "click").exists()
    assert (site / "requests" / "__init__.py").is_file()
    # what did not need to change was not reinstalled
    assert fastapi_record.stat().st_mtime_ns == fastapi_before

    listed = environments_txt(workspace)
    assert str(workspace.envs_dir / "finance") not in listed
    assert str(workspace.envs_dir / "vision") in listed

    again = workspace.wsp("plan", "--detailed-exitcode")
    assert again.code == 0, again


def test_env_prefix_renames_envs(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(TWO)
    apply_ok(ws)
    ws.edit('envs-dir = ".wsp/envs"', 'envs-dir = ".wsp/envs"\nenv-prefix = "acme-"')

    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    acts = actions(r.json)
    assert {e: a["action"] for e, a in acts.items()} == {
        "finance": "prune",
        "webdev": "prune",
        "acme-finance": "create",
        "acme-webdev": "create",
    }
    assert acts["acme-finance"]["project"] == "finance"
    assert acts["acme-finance"]["prefix"] == str(ws.envs_dir / "acme-finance")

    apply_ok(ws)
    assert sorted(p.name for p in ws.envs_dir.iterdir() if not p.name.startswith(".")) == [
        "acme-finance",
        "acme-webdev",
    ]
    assert ws.versions("acme-finance")["python"] == "3.9.18"
    assert sorted(environments_txt(ws)) == [
        str(ws.envs_dir / "acme-finance"),
        str(ws.envs_dir / "acme-webdev"),
    ]


# -- newer packages on the channel: minimal churn ---------------------------------------------

CALC = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.calc]
python = "3.12"
dependencies = ["numpy<2", "requests"]
"""


def test_newer_packages_are_taken_only_when_the_spec_needs_them(
    make_workspace: Callable[..., Workspace], fresh_channel: Path
) -> None:
    ws = make_workspace(CALC, chan=fresh_channel)
    apply_ok(ws)
    assert ws.versions("calc")["numpy"] == "1.26.4"
    assert ws.versions("calc")["requests"] == "2.32.3"

    add_packages(
        fresh_channel,
        [
            Pkg("numpy", "2.1.0", "py_0", ("python >=3.10,<3.13",)),
            Pkg(
                "requests",
                "2.33.0",
                "pyhd8ed1ab_0",
                ("python >=3.8", "certifi", "charset-normalizer", "idna", "urllib3"),
                noarch="python",
            ),
        ],
    )
    # nothing declared changed: newer packages on the channel are no reason to touch the env
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r

    ws.edit('"numpy<2"', '"numpy>=2"')
    before = snapshot(ws.envs_dir)
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    assert snapshot(ws.envs_dir) == before  # planning changes nothing
    (calc,) = r.json["actions"]
    assert calc["action"] == "update", calc
    change = {c["name"]: c for c in calc["packages"]["change"]}
    assert change["numpy"]["from"] == "1.26.4"
    assert change["numpy"]["to"] == "2.1.0"
    assert "requests" not in change, "requests was upgraded though its spec did not ask for it"
    assert calc["packages"]["add"] == [] and calc["packages"]["remove"] == []

    apply_ok(ws)
    assert ws.versions("calc")["numpy"] == "2.1.0"
    assert ws.versions("calc")["requests"] == "2.32.3"
    assert ws.wsp("plan", "--detailed-exitcode").code == 0


MANY = 16


def test_every_env_built_in_parallel_is_listed_in_environments_txt(
    make_workspace: Callable[..., Workspace],
) -> None:
    toml = TWO.split("[projects.")[0] + "".join(
        f'[projects.p{i}]\npython = "3.12"\n\n' for i in range(MANY)
    )
    ws = make_workspace(toml)
    apply_ok(ws, "--jobs", str(MANY))
    assert len([p for p in ws.envs_dir.iterdir() if not p.name.startswith(".")]) == MANY
    missing = sorted(
        {str(ws.envs_dir / f"p{i}") for i in range(MANY)} - set(environments_txt(ws)),
        key=len,
    )
    assert missing == [], f"{len(missing)} of {MANY} envs not listed for `conda env list`"


def test_an_env_built_where_environments_txt_cant_be_written_says_so(
    make_workspace: Callable[..., Workspace],
) -> None:
    """conda's environments.txt can't be written (here `~/.conda` is a file): as in conda,
    that stops nothing. Each env is built whole and warns that `conda env list` won't
    show it; later applies, a prune among them, warn and go on."""
    ws = make_workspace(TWO)
    dot_conda = Path(ws.env["HOME"]) / ".conda"
    dot_conda.write_text("not a folder")
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    for env in ("finance", "webdev"):
        line = next(ln for ln in r.stderr.splitlines() if ln.startswith(f"warning: {env}: "))
        assert "built, but not listed in ~/.conda/environments.txt" in line, r
        assert "conda env list" in line and str(dot_conda) in line, r
    assert "Apply complete: 2 created." in r.output, r
    assert "Traceback" not in r.output
    states = {e["env"]: e["state"] for e in ws.wsp("status", "--json").json["envs"]}
    assert states == {"finance": "in sync", "webdev": "in sync"}, states
    # nothing to do: the apply says the file is out of date, and succeeds
    r = ws.wsp("apply", "--yes")
    assert r.code == 0 and "warning: ~/.conda/environments.txt not brought up to date" in r.stderr
    assert dot_conda.read_text() == "not a folder"
    # a prune, environments.txt there but unreadable (root reads any file: a folder):
    # the env goes, said in --json too
    dot_conda.unlink()
    (dot_conda / "environments.txt").mkdir(parents=True)
    ws.edit("[projects.webdev]", "[projects.gone]")
    r = ws.wsp("apply", "--yes", "--json")
    assert r.code == 0, r
    pruned = next(o for o in r.json["outcomes"] if o["env"] == "webdev")
    assert pruned["ok"] and "pruned, but still listed" in pruned["warning"], pruned
    assert "warning: webdev: pruned, but still listed" in r.stderr, r
    assert not (ws.envs_dir / "webdev").exists()
    assert (ws.envs_dir / "gone").is_dir() and (dot_conda / "environments.txt").is_dir()
