"""`wsp import`, `wsp add`, `wsp remove` (issue 6): round-trip edits of workspace.toml.

What an edit does not touch stays byte for byte: comments, blank lines, layout. Every
edit is validated before it is written; a refused edit leaves the file as it was.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import tomlkit

from tests.support.cli import Workspace

COMMENTED_TOML = """\
# Acme's envs: one per project.   (a comment at the top)

[workspace]
name = "acme-research"   # owns the envs
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

# --- finance ---------------------------------------------------------------
[projects.finance]
python = "3.9"    # pinned for the old models
dependencies = [
    "pandas>=2",      # dataframes
    "scikit-learn",   # models
]


# two blank lines above, and a comment that ends the file's projects
[projects.webdev]
python = "3.12"
dependencies = ["fastapi"]  # the API

# the end
"""

ENV_YML = """\
name: Old Analysis
channels:
  - conda-forge
  - bioconda
dependencies:
  - python=3.11
  - numpy>=1.26
  - requests
  - pip
  - pip:
    - tinylib==1.0.0
"""


@pytest.fixture
def ws(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace(COMMENTED_TOML)


def removed_lines(before: str, after: str) -> list[str]:
    """Lines of `before` that are not in `after`, in order (difflib)."""
    return [
        ln[2:]
        for ln in difflib.ndiff(before.splitlines(), after.splitlines())
        if ln.startswith("- ")
    ]


def project(ws: Workspace, name: str) -> dict:
    text = ws.manifest.read_bytes().decode("utf-8-sig")  # without a BOM
    return tomlkit.parse(text).unwrap()["projects"][name]


def test_import_file_keeps_every_byte_and_adds_the_project(ws: Workspace) -> None:
    before = ws.manifest.read_text()
    (ws.root / "analysis").mkdir()
    (ws.root / "analysis" / "environment.yml").write_text(ENV_YML)
    r = ws.wsp("import", "--file", "analysis/environment.yml")
    assert r.code == 0, r
    after = ws.manifest.read_text()
    assert after.startswith(before)  # untouched: every line, comment and blank line
    assert project(ws, "old-analysis") == {
        "path": "analysis",
        "python": "3.11",
        # in the file's order: conda-forge first (the workspace's alone would come last)
        "channels": ["conda-forge", "bioconda"],
        "dependencies": ["numpy>=1.26", "requests", "pip"],  # as written: pip kept
        "pip": ["tinylib==1.0.0"],
    }
    assert "old-analysis" in r.stdout and "numpy>=1.26" in r.stdout
    status = ws.wsp("status", "--json")  # the workspace loads, the project is there
    assert status.code == 0, status
    assert "old-analysis" in status.stdout

    # the project exists now: refused, --as suggested, the file unchanged
    r = ws.wsp("import", "--file", "analysis/environment.yml")
    assert r.code == 1
    assert r.stderr.count("\n") == 1 and "--as" in r.stderr
    assert ws.manifest.read_text() == after
    r = ws.wsp("import", "--file", "analysis/environment.yml", "--as", "analysis-2")
    assert r.code == 0, r
    assert project(ws, "analysis-2")["python"] == "3.11"
    assert ws.manifest.read_text().startswith(after)


def test_import_names_the_project_as_told_or_says_why_not(ws: Workspace) -> None:
    """`--as` is the name, as given, or refused in one line; a name from the file that
    is made a valid one is said."""
    (ws.root / "e.yml").write_text(ENV_YML.replace("Old Analysis", "Analysis_2024"))
    before = ws.manifest.read_text()
    for given, suggested in (("../x", "x"), ("Bad Name", "bad-name"), ("", "project")):
        r = ws.wsp("import", "--file", "e.yml", "--as", given)
        assert r.code == 1, (given, r)
        assert r.stderr.count("\n") == 1, (given, r.stderr)
        assert f"--as {given!r} can't be a project name" in r.stderr, r.stderr
        assert f"e.g. --as {suggested}" in r.stderr, r.stderr
        assert ws.manifest.read_text() == before
    r = ws.wsp("--json", "import", "--file", "e.yml", "--as", "Lab_2")  # valid: kept
    assert r.code == 0, r
    assert r.json["project"] == "Lab_2" and r.json["renamed"] is None
    assert project(ws, "Lab_2")["python"] == "3.11"
    r = ws.wsp("import", "--file", "e.yml")
    assert r.code == 0, r
    assert project(ws, "analysis-2024")["python"] == "3.11"
    assert "note: named the project 'analysis-2024' (from 'Analysis_2024'" in r.stderr, r
    # `conda env export -p PREFIX` names the env by its path: the project, by its folder
    (ws.root / "p.yml").write_text(ENV_YML.replace("Old Analysis", "/home/me/envs/Old_Lab"))
    r = ws.wsp("--json", "import", "--file", "p.yml")
    assert r.code == 0, r
    assert r.json["project"] == "old-lab", r.json
    assert r.json["renamed"].startswith("from '/home/me/envs/Old_Lab': a path, named after its")


def test_import_refuses_what_would_not_load(ws: Workspace) -> None:
    before = ws.manifest.read_text()
    (ws.root / "bad.yml").write_text("name: bad\ndependencies:\n  - python=3.11\n  - 'num py>>='\n")
    r = ws.wsp("import", "--file", "bad.yml")
    assert r.code == 1, r
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("bad.yml:4:5: "), r.stderr  # the user's file, line and column
    assert "num py>>=" in r.stderr
    assert ws.manifest.read_text() == before
    assert sorted(p.name for p in ws.root.iterdir() if p.name.startswith(".workspace")) == []
    # conda's package lists, as conda 26.7.1 writes them: said what they are, not YAML
    header = (
        "# This file may be used to create an environment using:\n"
        "# $ conda create --name <env> --file <this file>\n"
        "# platform: linux-64\n"
        "# created-by: conda 26.7.1\n"
    )
    url = "https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyhd8ed1ab_0.conda"
    (ws.root / "spec.txt").write_text(f"{header}@EXPLICIT\n{url}\n")
    (ws.root / "pkgs.txt").write_text(f"{header}six=1.16.0=pyhd8ed1ab_0\n")
    for name, made_by in (("spec.txt", "--explicit"), ("pkgs.txt", "--export")):
        r = ws.wsp("import", "--file", name)
        assert r.code == 1, r
        assert r.stderr.startswith(f"{name}:5:1: this is a package list (`conda list {made_by}`)")
        assert r.stderr.count("\n") == 1 and "wsp import --env" in r.stderr, r.stderr
    assert ws.manifest.read_text() == before


def test_import_env_takes_what_the_user_asked_for(
    make_workspace: Callable[..., Workspace], ws: Workspace
) -> None:
    # A real env, made by `wsp apply` in a scratch workspace.
    scratch = make_workspace(
        COMMENTED_TOML.split("# --- finance")[0]
        + '[projects.labenv]\npython = "3.11"\ndependencies = ["requests", "six"]\n',
        name="scratch",
    )
    r = scratch.wsp("apply", "--yes")
    assert r.code == 0, r
    prefix = scratch.envs_dir / "labenv"
    assert "urllib3" in scratch.versions("labenv")  # a dependency nobody asked for
    # What conda would have written, had the user made and changed it by hand.
    (prefix / "conda-meta" / "history").write_text(
        "==> 2024-05-01 10:00:00 <==\n"
        "# cmd: /opt/conda/bin/conda create -n labenv -c conda-forge python=3.11 requests six zlib\n"
        "# conda version: 24.5.0\n"
        "+conda-forge/linux-64::python-3.11.9-0\n"
        "==> 2024-05-02 10:00:00 <==\n"
        "# cmd: /opt/conda/bin/conda install -n labenv 'requests>=2.31'\n"
        "# conda version: 24.5.0\n"
        '# update specs: ["requests>=2.31"]\n'
        "==> 2024-05-03 10:00:00 <==\n"
        "# cmd: /opt/conda/bin/conda remove -n labenv zlib\n"
        "# conda version: 24.5.0\n"
        '# remove specs: ["zlib"]\n'
        "==> 2024-05-04 10:00:00 <==\n"  # a tool's line with no specs: its file is none
        "# cmd: micromamba update -r /opt/mamba -n labenv -f environment.yml\n"
    )
    # pip packages: one uv installed, one conda did (not a pip requirement)
    site = next((prefix / "lib").glob("python3.*")) / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    for dist, installer in (("tinylib-1.0.0", "uv"), ("six-1.16.0", "conda")):
        (site / f"{dist}.dist-info").mkdir(exist_ok=True)
        (site / f"{dist}.dist-info" / "INSTALLER").write_text(installer + "\n")
    # pip installs from a VCS and a folder (`pip install -e ./mylib`): no index has them;
    # where they came from is in their direct_url.json (PEP 610)
    mylib = ws.root.parent / "mylib"
    for dist, direct in (
        (
            "vcslib-0.2.0",
            {
                "url": "https://example.org/vcslib.git",
                "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "main"},
                "subdirectory": "py",
            },
        ),
        ("mylib-0.1.0", {"url": mylib.as_uri(), "dir_info": {"editable": True}}),
    ):
        (site / f"{dist}.dist-info").mkdir()
        (site / f"{dist}.dist-info" / "INSTALLER").write_text("pip\n")
        (site / f"{dist}.dist-info" / "direct_url.json").write_text(json.dumps(direct))
    env_before = {p: p.stat().st_mtime_ns for p in prefix.rglob("*") if p.is_file()}

    before = ws.manifest.read_text()
    r = ws.wsp("import", "--env", str(prefix))
    assert r.code == 0, r
    assert ws.manifest.read_text().startswith(before)
    assert project(ws, "labenv") == {
        "python": "3.11",
        "dependencies": ["requests>=2.31", "six"],
        "pip": [
            f"mylib @ {mylib.as_uri()}",
            "tinylib==1.0.0",
            "vcslib @ git+https://example.org/vcslib.git@0123abc#subdirectory=py",
        ],
    }
    assert f"note: mylib was installed editable from {mylib.as_uri()}" in r.stderr, r.stderr
    assert "not installed now" not in r.stderr, r.stderr  # no option's value taken for a spec
    # import never writes into the env
    assert {p: p.stat().st_mtime_ns for p in prefix.rglob("*") if p.is_file()} == env_before

    # by name: looked up in the workspace's envs-dir
    (ws.envs_dir).mkdir(parents=True, exist_ok=True)
    prefix.rename(ws.envs_dir / "labenv")
    r = ws.wsp("import", "--env", "labenv", "--as", "lab-two")
    assert r.code == 0, r
    assert project(ws, "lab-two")["dependencies"] == ["requests>=2.31", "six"]
    r = ws.wsp("import", "--env", "no-such-env")
    assert r.code == 1 and r.stderr.count("\n") == 1 and "no conda env" in r.stderr


def test_add_and_remove_round_trip(ws: Workspace) -> None:
    before = ws.manifest.read_text()
    r = ws.wsp("add", "finance", "numpy>=1.26", "pandas>=2.2")
    assert r.code == 0, r
    assert project(ws, "finance")["dependencies"] == ["pandas>=2.2", "scikit-learn", "numpy>=1.26"]
    after = ws.manifest.read_text()
    # only the edited entry changed; comments (even on the edited array) survive
    assert removed_lines(before, after) == ['    "pandas>=2",      # dataframes']
    assert '    "pandas>=2.2",      # dataframes' in after
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    r = ws.wsp("add", "webdev", "--pip", "tinylib==1.0.0")
    assert r.code == 0, r
    assert project(ws, "webdev")["pip"] == ["tinylib==1.0.0"]
    assert 'dependencies = ["fastapi"]  # the API\npip = ["tinylib==1.0.0"]\n' in (
        ws.manifest.read_text()
    )

    r = ws.wsp("remove", "finance", "numpy")
    assert r.code == 0, r
    r = ws.wsp("remove", "finance", "pandas")
    assert r.code == 0, r
    r = ws.wsp("add", "finance", "pandas>=2")
    assert r.code == 0, r
    r = ws.wsp("remove", "webdev", "--pip", "TinyLib")
    assert r.code == 0, r
    assert project(ws, "finance")["dependencies"] == ["scikit-learn", "pandas>=2"]
    assert project(ws, "webdev")["pip"] == []
    text = ws.manifest.read_text()
    for line in before.splitlines():
        if line.strip().startswith("#") or not line.strip():
            assert line in text.splitlines(), line

    # removing what is not there: one line, exit 1, the file unchanged
    r = ws.wsp("remove", "finance", "opencv")
    assert r.code == 1
    assert r.stderr.count("\n") == 1 and "'opencv' is not in dependencies" in r.stderr
    assert ws.manifest.read_text() == text


def test_add_refuses_an_invalid_spec_and_leaves_the_file(ws: Workspace) -> None:
    before = ws.manifest.read_bytes()
    for argv in (
        ("add", "finance", "numpy", "num py>>="),
        ("add", "finance", "--pip", "not a requirement!"),
        ("add", "finance", "python=2.1.7.9"),  # no Python release: refused by the load
        ("add", "nosuch", "numpy"),
    ):
        r = ws.wsp(*argv)
        assert r.code == 1, (argv, r)
        assert r.stderr.count("\n") == 1, (argv, r.stderr)
        assert ws.manifest.read_bytes() == before, argv
    assert not [p for p in ws.root.iterdir() if p.name.startswith(".workspace")]


def test_edits_and_the_lock_keep_ordinary_file_permissions(ws: Workspace) -> None:
    """wsp writes through a private temporary file; what it leaves must not be private:
    workspace.toml keeps its mode, a new wsp.lock gets the umask's (what git commits)."""
    import os
    import stat

    ws.manifest.chmod(0o664)
    assert ws.wsp("add", "webdev", "click").code == 0
    assert stat.S_IMODE(ws.manifest.stat().st_mode) == 0o664
    assert ws.wsp("lock").code == 0
    umask = os.umask(0o022)
    os.umask(umask)
    lock = ws.root / "wsp.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o666 & ~umask


def test_import_env_without_history_takes_its_top_level_packages(
    make_workspace: Callable[..., Workspace], ws: Workspace
) -> None:
    # An env as rattler or pixi leave it: records, and a conda-meta/history naming no spec.
    scratch = make_workspace(
        COMMENTED_TOML.split("# --- finance")[0]
        + '[projects.built]\npython = "3.11"\ndependencies = ["requests", "six"]\n',
        name="scratch",
    )
    assert scratch.wsp("apply", "--yes").code == 0
    prefix = scratch.envs_dir / "built"
    (prefix / "conda-meta" / "history").write_text("")
    versions = scratch.versions("built")
    assert "urllib3" in versions  # what requests needs, nobody asked for

    r = ws.wsp("import", "--env", str(prefix))
    assert r.code == 0, r
    assert project(ws, "built") == {
        "python": "3.11",
        "dependencies": [f"requests=={versions['requests']}", f"six=={versions['six']}"],
    }
    assert "no conda history" in r.stderr and "pinned to the installed versions" in r.stderr
    assert ws.wsp("plan").code == 0


def test_import_file_says_what_of_the_pip_section_it_left_out(ws: Workspace) -> None:
    """Nothing dropped silently: each pip line workspace.toml can't hold is a located
    warning naming the user's file, and the hint says how to keep them all."""
    (ws.root / "app").mkdir()
    (ws.root / "app" / "constraints.txt").write_text("tinylib<2\n")
    (ws.root / "app" / "environment.yml").write_text(
        "name: app\n"
        "dependencies:\n"
        "  - python=3.11\n"
        "  - pip:\n"
        "    - tinylib==1.0.0\n"
        "    - -e .\n"
        "    - -c constraints.txt\n"
        "    - --trusted-host example.com\n"
    )
    r = ws.wsp("import", "--file", "app/environment.yml")
    assert r.code == 0, r
    assert project(ws, "app")["pip"] == ["tinylib==1.0.0"]
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert [w.split(": ")[1] for w in warnings] == [
        "app/environment.yml:7:7",  # the file's own warning: constraints are not applied
        "app/environment.yml:8:7",  # and --trusted-host ignored: said once, not again below
        "app/environment.yml:6:7",
    ], r.stderr
    assert "-c constraints.txt" in warnings[0] and "-e .: not imported" in warnings[2], r
    assert r.stderr.count("--trusted-host") == 1, r.stderr
    hint = '[projects.app] only path = "app" and environment-file = "environment.yml"'
    assert hint in r.stderr, r
    # followed, it loads (path kept: the file is read from the project's folder)
    text = ws.manifest.read_text()
    start = text.index("[projects.app]")
    ws.manifest.write_text(
        text[:start] + '[projects.app]\npath = "app"\nenvironment-file = "environment.yml"\n'
    )
    assert ws.wsp("graph").code == 0
    ws.manifest.write_text(text)
    j = ws.wsp("--json", "import", "--file", "app/environment.yml", "--as", "app2")
    assert j.code == 0, j
    out = json.loads(j.stdout)
    assert [x.split(": ")[0] for x in out["left_out"]] == ["app/environment.yml:6:7"]
    assert any("constraints.txt" in n for n in out["notes"])
    assert any("--trusted-host" in n for n in out["notes"])


def test_import_file_from_outside_hints_only_what_loads(
    ws: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The hint for a file outside the workspace names it where it is only when the
    workspace can read it there: its `-r` files are read only inside the workspace."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "lib").mkdir()
    (outside / "reqs.txt").write_text("tinylib==1.0.0\n")
    text = "name: {name}\ndependencies:\n  - python=3.11\n  - pip:\n    - -e ./lib\n"
    (outside / "plain.yml").write_text(text.format(name="plain"))
    (outside / "reads.yml").write_text(text.format(name="reads") + "    - -r reqs.txt\n")

    r = ws.wsp("import", "--file", str(outside / "reads.yml"))
    assert r.code == 0, r
    assert project(ws, "reads")["pip"] == ["tinylib==1.0.0"]
    [hint] = [ln for ln in r.stderr.splitlines() if "hint:" in ln]
    assert "environment-file = " not in hint, hint
    assert "-r reqs.txt" in hint and "move reads.yml and the files it reads into the" in hint

    r = ws.wsp("import", "--file", str(outside / "plain.yml"))
    assert r.code == 0, r
    [hint] = [ln for ln in r.stderr.splitlines() if "hint:" in ln]
    assert f'only environment-file = "{outside / "plain.yml"}"' in hint, hint
    # followed, it loads
    ws.manifest.write_text(
        ws.manifest.read_text().split("[projects.plain]")[0]
        + f'[projects.plain]\nenvironment-file = "{outside / "plain.yml"}"\n'
    )
    r = ws.wsp("graph")
    assert r.code == 0, r


def test_import_file_that_is_a_folder_says_so(ws: Workspace) -> None:
    (ws.root / "analysis").mkdir()
    before = ws.manifest.read_text()
    r = ws.wsp("import", "--file", "analysis")
    assert r.code == 1, r
    assert r.stderr == (
        "error: --file analysis: is a folder, not a file; "
        "name the environment file in it (e.g. environment.yml)\n"
    )
    assert ws.manifest.read_text() == before
    ws.manifest.write_text(before + '\n[projects.a]\npath = "."\nenvironment-file = "analysis"\n')
    r = ws.wsp("plan")
    assert r.code == 1, r
    assert r.stderr.count("\n") == 1, r.stderr
    assert "environment-file 'analysis' is a folder, not a file:" in r.stderr, r.stderr


def test_import_env_keeps_its_variables_and_python_build(
    make_workspace: Callable[..., Workspace], ws: Workspace
) -> None:
    """An env wsp built: its env-vars (conda-meta/state, as `conda env config vars set`
    writes them) and a Python pinned to a build come back as declared."""
    scratch = make_workspace(
        COMMENTED_TOML.split("# --- finance")[0]
        + "[projects.built]\n"
        + 'dependencies = ["six", "python==3.11.9=0"]\n'
        + 'env-vars = { OMP_NUM_THREADS = "8", GREETING = "hello world" }\n',
        name="scratch",
    )
    r = scratch.wsp("apply", "--yes")
    assert r.code == 0, r
    prefix = scratch.envs_dir / "built"
    assert "env_vars" in (prefix / "conda-meta" / "state").read_text()

    r = ws.wsp("--json", "import", "--env", str(prefix))
    assert r.code == 0, r
    declared = project(ws, "built")
    assert declared["env-vars"] == {"OMP_NUM_THREADS": "8", "GREETING": "hello world"}
    assert [d for d in declared["dependencies"] if d.startswith("python")] == [
        "python ==3.11.9 0"  # as wsp wrote it in conda-meta/history
    ]
    assert "python" not in declared  # the spec says it: no second constraint
    assert r.json["left_out"] == []
    plan = ws.wsp("plan", "--json", "--target", "built")
    assert plan.code == 0, plan


def test_import_env_made_by_conda_keeps_its_variables_and_python_build(ws: Workspace) -> None:
    """A prefix as conda 26.7 leaves it: `create 'python==3.11.9=0' six=1.16`, then
    `conda env config vars set` and `unset`. What can't be an env-var is said, not dropped.
    The env is in envs-dir, where the project's env would go: wsp leaves it alone, and
    says that `wsp plan` shows the project blocked while it is there, and the ways out."""
    prefix = ws.envs_dir / "r1"
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    (meta / "history").write_text(
        "==> 2026-12-01 06:14:12 <==\n"
        "# cmd: /opt/conda/bin/conda create -y -p /x/r1 python==3.11.9=0 six=1.16\n"
        "# conda version: 26.7.1\n"
        "+conda-forge/linux-64::python-3.11.9-0\n"
        "+conda-forge/noarch::six-1.16.0-pyhd8ed1ab_0\n"
        "# update specs: ['six=1.16', 'python==3.11.9=0']\n"
    )
    for name, version, build in (("python", "3.11.9", "0"), ("six", "1.16.0", "pyhd8ed1ab_0")):
        record = {"name": name, "version": version, "build": build, "depends": []}
        (meta / f"{name}-{version}-{build}.json").write_text(json.dumps(record))
    (meta / "state").write_text(
        json.dumps(
            {
                "env_vars": {
                    "MYVAR": "1",
                    "GONE": "***unset***",  # what `conda env config vars unset` leaves
                    "PATH": "/opt/bin",
                    "NOT-A-NAME": "2",
                }
            }
        )
    )
    before = ws.manifest.read_text()
    r = ws.wsp("import", "--env", str(prefix))
    assert r.code == 0, r
    assert ws.manifest.read_text().startswith(before)
    assert project(ws, "r1") == {
        "dependencies": ["six=1.16", "python==3.11.9=0"],
        "env-vars": {"MYVAR": "1"},
    }
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 3, r.stderr
    assert warnings[0].startswith(
        f"warning: the env imported holds the place of project r1's env ({prefix}); wsp "
        "changes no env it did not create, so `wsp plan` shows r1 blocked"
    ), r.stderr
    assert f"`conda env remove -p {prefix}` and `wsp apply`" in warnings[0]
    assert "or import under another name (--as NAME)" in warnings[0]
    assert "`wsp apply` makes it match" not in r.stdout, r.stdout  # it does not
    assert warnings[1].startswith(f"warning: {meta / 'state'}: PATH: not imported, "), r.stderr
    assert "NOT-A-NAME: not imported" in warnings[2] and "not a variable name" in warnings[2]
    plan = ws.wsp("plan", "--json", "--target", "r1")
    assert [a["action"] for a in plan.json["actions"]] == ["blocked"], plan
    assert (meta / "history").read_text().startswith("==> 2026-12-01 06:14:12 <==")

    j = ws.wsp("--json", "import", "--env", "r1", "--as", "r2")  # by name, in envs-dir
    assert j.code == 0, j
    assert j.json["fields"]["env-vars"] == {"MYVAR": "1"}
    assert j.json["left_out"] == [f"{meta / 'state'}: PATH", f"{meta / 'state'}: NOT-A-NAME"]
    assert not [n for n in j.json["notes"] if "blocked" in n], j.json

    # a state file conda could not have written: said, the rest imported
    (meta / "state").write_text("{not json")
    r = ws.wsp("import", "--env", str(prefix), "--as", "r3")
    assert r.code == 0, r
    assert "env-vars" not in project(ws, "r3")
    said = " ".join(r.stdout.split())
    assert f"`wsp apply` builds the project's own env at {ws.envs_dir / 'r3'}" in said, r
    assert f"warning: {meta / 'state'}: not imported, its variables can't be read" in r.stderr


# What conda 26.7.1 wrote in conda-meta/history for: create python=3.11 numpy; install
# "numpy<2" pandas; remove pandas; install requests; update --all (which relaxed numpy<2)
CONDA_HISTORY = """\
==> 2026-12-01 11:45:30 <==
# cmd: /opt/conda/bin/conda create -y -n rev -c conda-forge python=3.11 numpy
# conda version: 26.7.1
+conda-forge/linux-64::numpy-2.0.0-py_0
# update specs: ['python=3.11', 'numpy']
==> 2026-12-01 11:45:30 <==
# cmd: /opt/conda/bin/conda install -y -n rev -c conda-forge numpy<2 pandas
# conda version: 26.7.1
# update specs: ["numpy[version='<2']", 'pandas']
==> 2026-12-01 11:45:31 <==
# cmd: /opt/conda/bin/conda remove -y -n rev pandas
# conda version: 26.7.1
# remove specs: ['pandas']
==> 2026-12-01 11:45:31 <==
# cmd: /opt/conda/bin/conda install -y -n rev -c conda-forge requests
# conda version: 26.7.1
# update specs: ['requests']
==> 2026-12-01 11:45:32 <==
# cmd: /opt/conda/bin/conda update -y -n rev -c conda-forge --all
# conda version: 26.7.1
-conda-forge/linux-64::numpy-1.26.4-py_0
+conda-forge/linux-64::numpy-2.0.0-py_0
# neutered specs: ['numpy']
"""


def test_import_env_reads_its_history_as_conda_does(ws: Workspace) -> None:
    """`conda env export --from-history` of the env, and what it holds: a pin `update
    --all` relaxed is relaxed, a spec of a package no longer installed is left out, a
    package no spec brings in (pip, which conda adds to python; one `install --revision`
    put back) is added; each said. conda < 4.4's `# install specs: a >=1,<2,b` is read."""
    prefix = ws.root.parent / "condaenvs" / "rev"
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    records = {
        "python": ("3.11.9", ["pip"]),  # conda adds pip to python (add_pip_as_python_dependency)
        "pip": ("24.0", ["python >=3.8"]),
        "numpy": ("2.0.0", ["python >=3.9,<3.13"]),
        "requests": ("2.32.3", ["python >=3.8", "urllib3 >=1.21.1,<3"]),
        "urllib3": ("2.2.2", ["python >=3.8"]),
    }

    def install(**pkgs: tuple[str, list[str]]) -> None:
        for name, (version, depends) in pkgs.items():
            record = {"name": name, "version": version, "build": "0", "depends": depends}
            (meta / f"{name}-{version}-0.json").write_text(json.dumps(record))

    install(**records)
    (meta / "history").write_text(CONDA_HISTORY)
    r = ws.wsp("--json", "import", "--env", str(prefix))
    assert r.code == 0, r
    assert r.json["fields"]["python"] == "3.11"
    assert r.json["fields"]["dependencies"] == ["numpy", "requests", "pip"]
    assert [n.split(":")[0] for n in r.json["notes"]] == ["note"], r.json
    assert "pip: installed, but no spec" in r.json["notes"][0]

    # `conda install --revision 3`: its specs written again, requests among them though
    # the revision it goes back to has no requests, and pandas back with no spec of its own
    (meta / "history").write_text(
        CONDA_HISTORY + "==> 2026-12-01 11:45:49 <==\n"
        "# cmd: /opt/conda/bin/conda install -y -n rev --revision 3\n"
        "# conda version: 26.7.1\n"
        "# update specs: ['python=3.11', 'numpy', 'requests']\n"
    )
    for name in ("requests", "urllib3"):
        next(meta.glob(f"{name}-*.json")).unlink()
    install(pandas=("2.2.2", ["numpy >=1.26,<3", "python >=3.9"]))
    r = ws.wsp("import", "--env", str(prefix), "--as", "rev-two")
    assert r.code == 0, r
    assert project(ws, "rev-two") == {"python": "3.11", "dependencies": ["numpy", "pandas", "pip"]}
    assert "note: requests: asked for in" in r.stderr and "but not installed now" in r.stderr
    assert "note: pandas, pip: installed, but no spec" in r.stderr, r.stderr

    # conda < 4.4's history: specs as comma-separated text, a version's `,` kept
    (meta / "history").write_text(
        "==> 2017-05-01 10:00:00 <==\n"
        "# cmd: /opt/conda/bin/conda create -n rev python=3.11 numpy >=1.26,<3 pandas\n"
        "# install specs: python 3.11*,numpy >=1.26,<3,pandas\n"
    )
    r = ws.wsp("import", "--env", str(prefix), "--as", "rev-old")
    assert r.code == 0, r
    assert project(ws, "rev-old")["dependencies"] == ["numpy >=1.26,<3", "pandas", "pip"]

    # `base` is conda's root env, as `conda activate base` takes it
    r = ws.wsp("import", "--env", "base", WSP_CONDA_ROOT=str(prefix))
    assert r.code == 0, r
    assert project(ws, "base-project")["dependencies"] == project(ws, "rev-old")["dependencies"]
    assert f"from {prefix}" in " ".join(r.stdout.split()), r


def test_import_env_takes_the_channels_its_packages_came_from(ws: Workspace) -> None:
    """`conda create -n old numpy six zlib` with the channels of .condarc (no -c): the
    channels are those of the package records (conda's `<channel>/<subdir>`), named as
    conda names them, in .condarc's order; a spec conda wrote with a .condarc mirror's URL
    is named by its channel."""
    prefix = ws.root.parent / "condaenvs" / "old"
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    for name, channel in (
        ("numpy", "https://repo.anaconda.com/pkgs/main/linux-64"),
        ("python", "https://repo.anaconda.com/pkgs/main/linux-64"),
        ("six", "https://conda.anaconda.org/bioconda/noarch"),
        ("zlib", "file:///srv/mirror/conda-forge/linux-64"),
    ):
        record = {"name": name, "version": "1.0", "build": "0", "channel": channel}
        (meta / f"{name}-1.0-0.json").write_text(json.dumps(record))
    (meta / "history").write_text(
        "==> 2026-12-01 11:45:30 <==\n"
        "# cmd: /opt/conda/bin/conda create -n old python=3.11 numpy six zlib\n"
        "# conda version: 26.7.1\n"
        "# update specs: ['python=3.11', 'numpy', 'six', 'file:///srv/mirror/conda-forge::zlib']\n"
    )
    condarc = Path(ws.env["HOME"]) / ".condarc"
    condarc.write_text(
        "channels: [bioconda, defaults]\ncustom_channels:\n  conda-forge: file:///srv/mirror\n"
    )
    r = ws.wsp("--json", "import", "--env", str(prefix))
    assert r.code == 0, r
    # conda-forge last: the workspace's channels give it there
    assert r.json["fields"]["channels"] == ["bioconda", "defaults"], r.json
    assert "came from (bioconda, defaults, conda-forge)" in r.json["notes"][0]
    assert r.json["fields"]["dependencies"] == ["numpy", "six", "conda-forge::zlib"]
    assert "names no channel (conda took them from .condarc)" in r.json["notes"][0]
    condarc.unlink()  # no order from .condarc: the channel of most packages first
    r = ws.wsp("--json", "import", "--env", str(prefix), "--as", "old-two")
    assert r.code == 0, r
    assert r.json["fields"]["channels"][:2] == ["defaults", "bioconda"], r.json

    # an env of Anaconda's defaults alone: not mixed with the workspace's conda-forge
    for name in ("six", "zlib"):
        (meta / f"{name}-1.0-0.json").unlink()
    r = ws.wsp("--json", "import", "--env", str(prefix), "--as", "old-three")
    assert r.code == 0, r
    assert r.json["fields"]["channels"] == ["defaults", "nodefaults"], r.json
    assert any("and nodefaults: the workspace's channels would mix" in n for n in r.json["notes"])
    check = ws.wsp("check", "--json")
    assert not [f for f in check.json["findings"] if f.get("project") == "old-three"], check


# each of the two: with and without a BOM, LF and CRLF
@pytest.mark.parametrize(
    ("bom", "newline"), [(b"", b"\n"), (b"\xef\xbb\xbf", b"\r\n")], ids=["lf", "crlf-bom"]
)
def test_edits_keep_the_files_bom_and_line_endings(
    ws: Workspace, bom: bytes, newline: bytes
) -> None:
    """A workspace.toml saved by an editor that writes a BOM, or CRLF line endings, is
    edited as any other (`wsp plan` reads it): the BOM stays, and the lines wsp adds end
    as the file's own do."""
    before = bom + ws.manifest.read_bytes().replace(b"\n", newline)
    ws.manifest.write_bytes(before)
    (ws.root / "e.yml").write_bytes(ENV_YML.encode().replace(b"\n", newline))
    for argv in (
        ("add", "webdev", "click"),
        ("add", "webdev", "--pip", "a==1", "b==1", "c==1", "d==1"),  # a new multi-line list
        ("add", "finance", "numpy"),
        ("remove", "finance", "pandas"),
        ("import", "--file", "e.yml"),
    ):
        r = ws.wsp(*argv)
        assert r.code == 0, (argv, r)
    after = ws.manifest.read_bytes()
    assert after.startswith(bom + b"# Acme's envs") and after.count(b"\xef\xbb\xbf") == (
        1 if bom else 0
    )
    lines = after.split(b"\n")
    assert all(ln.endswith(b"\r") == (newline == b"\r\n") for ln in lines[:-1]), after
    assert lines[-1] == b""
    assert project(ws, "webdev")["dependencies"] == ["fastapi", "click"]
    assert project(ws, "webdev")["pip"] == ["a==1", "b==1", "c==1", "d==1"]
    assert project(ws, "old-analysis")["dependencies"] == ["numpy>=1.26", "requests", "pip"]


def test_add_and_remove_python_and_what_other_layers_declare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """In process (no solve): a `python` spec with a build stays in dependencies beside the
    `python` it sets, and a plain one replaces it; `remove python` drops `python`; a package
    the project gets from a template or its environment file is not removed from there,
    and the error says where it is declared."""
    import argparse

    from wsp.commands.add import edit
    from wsp.errors import WspError

    monkeypatch.chdir(tmp_path)  # paths in messages are relative to it
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "environment.yml").write_text(
        "dependencies:\n  - numpy\n  - pip:\n    - tinylib==1\n"
    )
    (tmp_path / "workspace.toml").write_text(
        '[workspace]\nname = "w"\n[templates.t]\ndependencies = ["pytest"]\n'
        '[projects.p]\npath = "p"\nenvironment-file = "environment.yml"\nextends = ["t"]\n'
        'python = "3.12"  # kept\n'
    )

    def wsp(command: str, *specs: str, pip: bool = False) -> dict:
        args = argparse.Namespace(project="p", specs=list(specs), pip=pip, json=True)
        edit(args, tmp_path, command)
        return tomlkit.parse((tmp_path / "workspace.toml").read_text()).unwrap()["projects"]["p"]

    p = wsp("add", "python=3.11=*_cpython")
    assert (p["python"], p["dependencies"]) == ("==3.11", ["python=3.11=*_cpython"])
    p = wsp("add", "python>=3.11")
    assert (p["python"], p["dependencies"]) == (">=3.11", [])
    assert 'python = ">=3.11"  # kept\n' in (tmp_path / "workspace.toml").read_text()
    assert "python" not in wsp("remove", "python")
    for command, name, pip, where in (
        ("remove", "numpy", False, "p/environment.yml:2:5 (environment.yml of project p)"),
        ("remove", "tinylib", True, "p/environment.yml:4:7 (environment.yml of project p)"),
        ("remove", "pytest", False, "workspace.toml:4:17 (template t)"),
    ):
        before = (tmp_path / "workspace.toml").read_text()
        with pytest.raises(WspError) as err:
            wsp(command, name, pip=pip)
        assert f"it comes from {where}: edit it there" in str(err.value), err.value
        assert (tmp_path / "workspace.toml").read_text() == before

    # adding what the environment file declares too: both apply, and add says so
    wsp("add", "numpy>=2")
    assert "note: numpy is also declared at p/environment.yml:2:5" in capfd.readouterr().err

    # what --pip can't add is refused saying what to write instead, as plan would
    from wsp.manifest.edit import check_specs

    for spec, says in (("-e ./lib", "is a local folder"), ("git+https://h/a/b", "NAME @ URL")):
        with pytest.raises(WspError, match=says):
            check_specs([spec], pip=True)
