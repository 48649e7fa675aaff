"""An environment file's pip section, whole (issue 12.5), and planning that runs no code of
the repository (issue 11.2).

Real local projects built by an in-tree PEP 517 backend that records each hook it runs
(tests/support/wheels.py `write_project`), real wheels, a localhost package index
(tests/support/index.py), a local git repository; driven through the real CLI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import Result, Workspace
from tests.support.index import Index, serve_index
from tests.support.wheels import build_wheel, built, sdist, write_project

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
SITE = Path("lib") / f"python{PY}" / "site-packages"

TOML = """\
[workspace]
name = "pip-sources"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.app]
python = "{py}"
pip = ["urlwheel @ {dist}/urlwheel-1.0.0-py3-none-any.whl"]
environment-file = "environment.yml"
"""

ENV_FILE = """\
name: app
dependencies:
  - pip
  - pip:
    - --index-url {index}
    - --extra-index-url {extra}
    - --find-links ../../wheels-here
    - --pre
    - -r requirements.txt
    - -e ./lib
    - ./vlib[fast]
    - ../../libs/dyn
    - ../../dist/localwheel-1.0.0-py3-none-any.whl
    - prelib
    - metricskit==2.0.0
{git}"""


@pytest.fixture
def indexes(tmp_path: Path) -> Iterator[tuple[Index, Index]]:
    """The main index (tinylib 1.0.0 and 1.1.0, tinyapp, prelib 1.0.0 and 2.0.0rc1) and an
    extra one (extraonly)."""
    main, extra = tmp_path / "index-main", tmp_path / "index-extra"
    build_wheel(main, "tinylib", "1.0.0")
    build_wheel(main, "tinylib", "1.1.0")
    build_wheel(main, "tinyapp", "0.5.0", ("tinylib>=1.0", "extraonly"))
    build_wheel(main, "prelib", "1.0.0")
    build_wheel(main, "prelib", "2.0.0rc1")
    build_wheel(extra, "extraonly", "3.0.0")
    with serve_index(main) as a, serve_index(extra) as b:
        yield a, b


def git_repo(folder: Path) -> str | None:
    """A git repository holding a static project `gitpkg`; None when there is no git."""
    if shutil.which("git") is None:
        return None
    write_project(folder, "gitpkg", "0.4.0")
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "gitpkg 0.4.0"],
    ):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)
    return f"git+{folder.as_uri()}"


def workspace(
    make: Callable[..., Workspace], channel: Path, indexes: tuple[Index, Index], tmp_path: Path
) -> tuple[Workspace, str | None]:
    ws = make(TOML.replace("{py}", PY), chan=channel)
    root = ws.root
    dist = root / "dist"
    build_wheel(dist, "localwheel", "1.0.0")
    build_wheel(dist, "urlwheel", "1.0.0")
    build_wheel(root / "wheels-here", "metricskit", "2.0.0")
    ws.edit("{dist}", dist.as_uri())
    app = root / "projects" / "app"
    write_project(app / "lib", "applib", "0.3.0", ("tinylib>=1.1",))
    write_project(
        app / "vlib", "vlib", "0.9.0", optional={"fast": ("prelib",)}, dynamic=("version",)
    )
    write_project(root / "libs" / "dyn", "dynlib", "0.0.7", ("tinylib",), dynamic=("dependencies",))
    (app / "requirements.txt").write_text("tinyapp\n")
    git = git_repo(tmp_path / "gitrepo")
    (app / "environment.yml").write_text(
        ENV_FILE.replace("{index}", indexes[0].url)
        .replace("{extra}", indexes[1].url)
        .replace("{git}", f"    - gitpkg @ {git}\n" if git else "")
    )
    return ws, git


def pip_adds(r: Result) -> dict[str, str]:
    [action] = r.json["actions"]
    return {p["name"]: p["version"] for p in action["packages"]["add"] if p["source"] == "pip"}


def test_the_pip_section_of_an_environment_file_is_resolved_and_installed_whole(
    make_workspace: Callable[..., Workspace],
    runnable_channel: Path,
    indexes: tuple[Index, Index],
    tmp_path: Path,
) -> None:
    ws, git = workspace(make_workspace, runnable_channel, indexes, tmp_path)
    lib, dyn = ws.root / "projects" / "app" / "lib", ws.root / "libs" / "dyn"
    vlib = ws.root / "projects" / "app" / "vlib"

    # -- plan: no build; what only a build can tell is said, with the way to learn it now ----
    r = ws.wsp("plan", "--json", "--detailed-exitcode")
    assert r.code == 2, r
    note = next(n for n in r.json["notes"] if "known only at apply" in n)
    assert "environment.yml:12:7: ../../libs/dyn" in note, note
    assert "dependencies of dynlib are dynamic" in note and "--allow-build" in note, note
    assert "pip" not in (r.json["actions"][0]["packages"] or {}).get("add", [{}])[0].get(
        "source", ""
    )
    assert built(lib) == built(dyn) == built(vlib) == [], "plan ran code of the repository"
    if git:
        assert built(tmp_path / "gitrepo") == []
    r = ws.wsp("lock")
    assert r.code == 1 and "../../libs/dyn" in r.stderr and "--allow-build" in r.stderr, r
    r = ws.wsp("export", "app", "--format", "requirements")
    assert r.code == 1 and "--allow-build" in r.stderr, r
    r = ws.wsp("apply")  # no --yes, no terminal: refused at the prompt, having built nothing
    assert r.code == 1 and "confirmation" in r.stderr, r
    assert "known only at apply" in r.output, r
    assert built(lib) == built(dyn) == built(vlib) == []

    # -- --allow-build: the dynamic project is built to learn its dependencies ------------------
    r = ws.wsp("plan", "--json", "--allow-build")
    assert r.code == 0, r
    assert built(dyn) and "build_editable" not in built(dyn), built(dyn)
    assert built(lib) == []  # static metadata: read, not built
    pins = pip_adds(r)
    expected = {
        "applib": "0.3.0",  # -e ./lib, read from the environment file's folder
        "dynlib": "0.0.7",  # built (its dependencies are dynamic), its version static
        "vlib": "?",  # its version is dynamic: known once built at apply
        "tinylib": "1.1.0",  # applib's dependency (from its pyproject.toml)
        "tinyapp": "0.5.0",  # -r requirements.txt, from --index-url
        "extraonly": "3.0.0",  # tinyapp's dependency, from --extra-index-url
        "metricskit": "2.0.0",  # --find-links, read from the file's folder
        "localwheel": "1.0.0",  # a local archive
        "urlwheel": "1.0.0",  # workspace.toml: name @ file:// URL
        "prelib": "2.0.0rc1",  # --pre
    }
    if git:
        expected["gitpkg"] = "0.4.0"  # a VCS URL, at its commit
    assert pins == expected, pins
    files = r.json["actions"][0]["pip_changes"]["files"]
    assert files["tinyapp"]["url"].endswith("/tinyapp-0.5.0-py3-none-any.whl")
    assert files["tinyapp"]["sha256"] and not files["tinyapp"]["source"]
    assert files["applib"]["source"] and files["localwheel"]["source"]
    r = ws.wsp("export", "app", "--format", "requirements", "--allow-build")
    assert r.code == 0, r
    assert f"-e {lib.as_uri()}" in r.stdout.splitlines() and "tinyapp==0.5.0" in r.stdout, r

    # -- apply builds (local projects, the git checkout) and installs it all -------------------
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    site = ws.envs_dir / "app" / SITE
    infos = {p.name for p in site.glob("*.dist-info")}
    for name, version in {**expected, "vlib": "0.9.0"}.items():
        assert f"{name.replace('-', '_')}-{version}.dist-info" in infos, (name, infos)
    assert "build_editable" in built(lib)  # -e: a real editable install (dist-info, .pth)
    python = ws.envs_dir / "app" / "bin" / "python"
    (lib / "src" / "applib" / "__init__.py").write_text('WHERE = "edited"\n')
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import applib, importlib.metadata as m; print(applib.WHERE, m.version('applib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["edited", "0.3.0"]  # the source itself, seen without a new apply

    # -- in sync: nothing is built again while nothing changed ---------------------------------
    before = len(built(lib))
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert len(built(lib)) == before


@pytest.mark.parametrize("line", ["./legacy", "../../dist/legacy-1.0.tar.gz"])
def test_plan_lock_and_export_run_no_setup_py(
    make_workspace: Callable[..., Workspace], channel: Path, tmp_path: Path, line: str
) -> None:
    """A project whose metadata only setup.py gives (a folder, or an sdist uv would have to
    build): planning says so, where, and runs nothing."""
    ws = make_workspace(
        TOML.replace("{py}", "3.11").replace(
            'pip = ["urlwheel @ {dist}/urlwheel-1.0.0-py3-none-any.whl"]\n', ""
        )
    )
    app = ws.root / "projects" / "app"
    ran = tmp_path / "SETUP_PY_RAN"
    setup_py = (
        f"open({str(ran)!r}, 'w').write('ran')\n"
        "from setuptools import setup\nsetup(name='legacy', version='1.0')\n"
    )
    (app / "legacy").mkdir(parents=True)
    (app / "legacy" / "setup.py").write_text(setup_py)
    sdist = tmp_path / "sdist" / "legacy-1.0"
    sdist.mkdir(parents=True)
    (sdist / "setup.py").write_text(setup_py)
    (sdist / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: legacy\nVersion: 1.0\n")
    (ws.root / "dist").mkdir()
    with tarfile.open(ws.root / "dist" / "legacy-1.0.tar.gz", "w:gz") as tar:
        tar.add(sdist, arcname="legacy-1.0")
    (app / "environment.yml").write_text(
        f"dependencies:\n  - pip:\n    - --no-index\n    - {line}\n"
    )
    r = ws.wsp("plan")
    assert r.code == 0, r
    assert "known only at apply" in r.stdout and "--allow-build" in r.stdout, r
    assert f"environment.yml:4:7: {line}: " in r.stdout, r  # where it is written
    if line == "./legacy":  # wsp saw it itself
        assert "it has no pyproject.toml" in r.stdout, r
    else:  # uv stopped at it (--no-build)
        assert "only building it" in r.stdout, r
    for args in (("lock",), ("export", "app", "--format", "requirements")):
        r = ws.wsp(*args)
        assert r.code == 1 and "legacy" in r.stderr and "--allow-build" in r.stderr, r
        assert "Traceback" not in r.stderr
    assert not ran.exists(), "setup.py ran while planning"


@pytest.mark.parametrize("where", ["workspace.toml name @ file://", "an sdist on the index"])
def test_nothing_is_built_to_plan_lock_or_export(
    make_workspace: Callable[..., Workspace], channel: Path, tmp_path: Path, where: str
) -> None:
    """A project whose dependencies only its build backend knows, named the ways wsp used
    to build at plan time: `name @ file:///folder` in workspace.toml, an sdist-only
    release on the index. Nothing runs until --allow-build (or apply) asks for it."""
    log = tmp_path / "build.log"
    project = write_project(
        tmp_path / "dynsd", "dynsd", "1.0", ("tinylib",), dynamic=("dependencies",)
    )
    files = tmp_path / "index-files"
    build_wheel(files, "tinylib", "1.0.0")
    sdist(project, files)
    with serve_index(files) as index:
        if where == "an sdist on the index":
            pip = f'pip = ["dynsd==1.0"]\npip-index-url = "{index.url}"\n'
        else:
            pip = f'pip = ["dynsd @ {project.as_uri()}"]\npip-index-url = "{index.url}"\n'
        ws = make_workspace(HEAD_311 + pip)
        for args in (("plan",), ("lock",), ("export", "app", "--format", "requirements")):
            r = ws.wsp(*args, WSP_TEST_BUILD_LOG=str(log))
            assert "--allow-build" in r.output and "dynsd" in r.output, r
            assert r.code == (0 if args == ("plan",) else 1), r
            assert "Traceback" not in r.stderr
        assert not log.exists(), f"planning ran a build backend: {log.read_text()}"
        r = ws.wsp("plan", "--json", "--allow-build", WSP_TEST_BUILD_LOG=str(log))
        assert r.code == 0, r
        assert pip_adds(r) == {"dynsd": "1.0", "tinylib": "1.0.0"}
        assert log.exists()  # asked for: it builds (so the plan above really did not)


HEAD_311 = """\
[workspace]
name = "no-build"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.app]
python = "3.11"
"""


def test_a_dynamic_version_is_known_at_apply_and_its_dependencies_now(
    make_workspace: Callable[..., Workspace], channel: Path, wheelhouse: Path
) -> None:
    """A local project whose version is dynamic but dependencies static: planning reads its
    dependencies (and its extras') and builds nothing; its version waits for apply."""
    ws = make_workspace(
        TOML.replace("{py}", "3.11").replace(
            'pip = ["urlwheel @ {dist}/urlwheel-1.0.0-py3-none-any.whl"]\n', ""
        )
    )
    app = ws.root / "projects" / "app"
    write_project(
        app / "vlib",
        "vlib",
        "0.9.0",
        ("tinylib<1.1",),
        optional={"fast": ("metricskit>=2",), "all": ("vlib[fast]",)},
        dynamic=("version",),
    )
    (app / "environment.yml").write_text(
        f"dependencies:\n  - pip:\n    - --no-index\n    - --find-links {wheelhouse}\n"
        "    - -e ./vlib[all]\n"
    )
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    assert pip_adds(r) == {"vlib": "?", "tinylib": "1.0.0", "metricskit": "2.0.0"}
    assert any(
        "environment.yml:5:7: -e ./vlib[all]: the version of vlib is dynamic" in n
        for n in r.json["notes"]
    ), r.json["notes"]
    assert built(app / "vlib") == []
