"""`wsp plan --affected-since REF` (wsp/affected.py) against real git repositories.

Each test makes a repository in its temp folder, commits a workspace (templates,
depends-on, an environment file reading a requirements file, a project with a
pyproject.toml), changes something and asks which projects the change reaches. Most ask
wsp.affected directly; the CLI tests run `wsp plan` on the fixture channel.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace
from wsp import graph
from wsp.affected import Affected, affected_since
from wsp.errors import WspError
from wsp.manifest import load

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not on PATH")

TOML = """\
[workspace]
name = "mono"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[templates.base]
python = "3.12"

[projects.core]
extends = ["base"]
dependencies = ["six"]

[projects.app]
extends = ["base"]
depends-on = ["core"]
environment-file = "environment.yml"

[projects.tool]
python = "3.11"
dependencies = ["click"]

[projects.solo]
python = "3.12"
dependencies = ["idna"]
"""

ENV_YML = """\
dependencies:
  - pytz
  - pip:
      - -r requirements.txt
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def commit(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--allow-empty", "-m", message)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def populate(root: Path, channel: Path, *, pip: bool = True) -> None:
    """The workspace; without `pip`, app's environment file has no pip list (planning pip
    requirements asks a package index)."""
    write(root / "workspace.toml", TOML.replace("{channel}", channel.as_uri()))
    write(
        root / "projects" / "app" / "environment.yml",
        ENV_YML if pip else ENV_YML.split("  - pip:")[0],
    )
    write(root / "projects" / "app" / "requirements.txt", "attrs\n")
    write(root / "projects" / "core" / "pyproject.toml", "[project]\nname = 'core'\n")
    write(root / "projects" / "core" / "src" / "core" / "__init__.py", "")
    write(root / "projects" / "tool" / "tool.py", "print('tool')\n")
    write(root / ".gitignore", ".wsp/\n")


@pytest.fixture
def repo(
    tmp_path: Path, channel: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """A repository whose `base` tag holds the workspace; the working tree is on main."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    populate(root, channel, pip="cli_repo" not in request.fixturenames)
    commit(root, "the workspace")
    git(root, "tag", "base")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    return root


def since(root: Path, ref: str = "base", manifest: str = "workspace.toml") -> Affected:
    ws = load(root / manifest)
    return affected_since(ws, graph.desired(ws, graph.build(ws)), ref)


def edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


CHANGES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "nothing": (lambda root: None, []),
    "a comment in workspace.toml": (
        lambda root: edit(root, "workspace.toml", "[projects.tool]", "# tools\n[projects.tool]"),
        [],
    ),
    "a project's source": (
        lambda root: write(root / "projects/core/src/core/__init__.py", "x = 1\n"),
        [],
    ),
    "one project's dependencies": (
        lambda root: edit(root, "workspace.toml", '["click"]', '["click", "h11"]'),
        ["tool"],
    ),
    "a template": (
        lambda root: edit(
            root,
            "workspace.toml",
            'python = "3.12"\n\n[projects.core]',
            'python = "3.12"\ndependencies = ["certifi"]\n\n[projects.core]',
        ),
        ["core", "app"],
    ),
    "a project others depend on": (
        lambda root: edit(root, "workspace.toml", '["six"]', '["six", "h11"]'),
        ["core", "app"],
    ),
    "an environment file": (
        lambda root: edit(
            root, "projects/app/environment.yml", "  - pytz\n", "  - pytz\n  - h11\n"
        ),
        ["app"],
    ),
    "a requirements file an environment file reads": (
        lambda root: write(root / "projects/app/requirements.txt", "attrs\nrich\n"),
        ["app"],
    ),
    "a depended-on project's pyproject.toml": (
        lambda root: write(root / "projects/core/pyproject.toml", "[project]\nname = 'core2'\n"),
        ["core", "app"],
    ),
    "a requirements file nobody reads, in a project's folder": (
        lambda root: write(root / "projects/tool/requirements-dev.txt", "pytest\n"),
        ["tool"],
    ),
    "[workspace] channels": (
        lambda root: edit(
            root,
            "workspace.toml",
            'channels = ["conda-forge"]',
            'channels = ["conda-forge", "bioconda"]',
        ),
        ["core", "app", "tool", "solo"],
    ),
    "a new project": (
        lambda root: edit(
            root,
            "workspace.toml",
            "[projects.solo]",
            '[projects.extra]\npython = "3.12"\n\n[projects.solo]',
        ),
        ["extra"],
    ),
    "depends-on added": (
        lambda root: edit(
            root, "workspace.toml", "[projects.solo]\n", '[projects.solo]\ndepends-on = ["core"]\n'
        ),
        ["solo"],
    ),
    "a project's folder moved (no pyproject.toml)": (
        lambda root: edit(
            root, "workspace.toml", "[projects.tool]\n", '[projects.tool]\npath = "tools/tool"\n'
        ),
        [],
    ),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_what_a_change_reaches(repo: Path, name: str) -> None:
    change, want = CHANGES[name]
    change(repo)
    got = since(repo)
    assert list(got.projects) == want, got.why
    assert got.removed == ()
    assert set(got.why) == set(want)
    assert got.commit == got.base == git(repo, "rev-parse", "base")
    commit(repo, name)  # committed or not, the same
    assert since(repo).projects == got.projects


def test_why_is_said(repo: Path) -> None:
    edit(
        repo,
        "workspace.toml",
        'python = "3.12"\n\n[projects.core]',
        'python = "3.12"\ndependencies = ["certifi"]\n\n[projects.core]',
    )
    write(repo / "projects/core/pyproject.toml", "[project]\nname = 'core2'\n")
    edit(repo, "projects/app/environment.yml", "  - pytz\n", "  - pytz\n  - h11\n")
    got = since(repo)
    assert "template base changed" in got.why["core"]
    assert "projects/core/pyproject.toml changed" in got.why["core"]
    assert "its environment file changed" in got.why["app"]
    assert "depends on core, which changed" in got.why["app"]


def test_a_removed_project_is_listed(repo: Path) -> None:
    edit(repo, "workspace.toml", '[projects.solo]\npython = "3.12"\ndependencies = ["idna"]\n', "")
    got = since(repo)
    assert got.projects == () and got.removed == ("solo",)


def test_a_renamed_project_is_new_and_its_old_name_removed(repo: Path) -> None:
    edit(repo, "workspace.toml", "[projects.solo]", "[projects.single]")
    got = since(repo)
    assert got.projects == ("single",) and got.removed == ("solo",)


def test_only_what_the_branch_changed_counts(repo: Path) -> None:
    """Commits on REF's branch after the current branch left it are not this branch's."""
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo, "workspace.toml", '["click"]', '["click", "h11"]')
    commit(repo, "feature: tool")
    git(repo, "checkout", "-q", "main")
    edit(repo, "workspace.toml", '["idna"]', '["idna", "h11"]')
    commit(repo, "main: solo")
    git(repo, "checkout", "-q", "feature")
    got = since(repo, "main")
    assert got.projects == ("tool",)
    assert got.base == git(repo, "rev-parse", "base") != got.commit


def test_a_workspace_in_a_sub_folder(tmp_path: Path, channel: Path) -> None:
    top = tmp_path / "mono"
    (top / "envs").mkdir(parents=True)
    git(top, "init", "-q")
    populate(top / "envs", channel)
    commit(top, "the workspace, in envs/")
    git(top, "tag", "base")
    edit(top / "envs", "projects/app/requirements.txt", "attrs", "attrs\nrich")
    assert since(top / "envs").projects == ("app",)


def test_no_workspace_toml_at_ref_makes_every_project_affected(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "fresh")
    git(repo, "rm", "-q", "--cached", "workspace.toml")
    git(repo, "commit", "-q", "-m", "before the workspace")
    git(repo, "tag", "empty")
    got = since(repo, "empty")
    assert got.projects == ("core", "app", "tool", "solo")
    assert any("workspace.toml does not exist at empty" in n for n in got.notes)


def test_a_workspace_toml_that_did_not_load_at_ref_makes_every_project_affected(
    repo: Path,
) -> None:
    edit(repo, "workspace.toml", "[projects.solo]", "[projects.solo]\ncolour = 1")
    commit(repo, "broken")
    git(repo, "tag", "broken")
    edit(repo, "workspace.toml", "[projects.solo]\ncolour = 1", "[projects.solo]")
    got = since(repo, "broken")
    assert got.projects == ("core", "app", "tool", "solo")
    assert any("broken:workspace.toml:" in n and "colour" in n for n in got.notes), got.notes


def test_errors_say_what_is_wrong(repo: Path, tmp_path: Path, channel: Path) -> None:
    with pytest.raises(WspError, match="git knows no such revision"):
        since(repo, "no-such-branch")
    with pytest.raises(WspError, match="git knows no such revision"):
        since(repo, "--help")
    plain = tmp_path / "plain"
    plain.mkdir()
    populate(plain, channel)
    with pytest.raises(WspError, match="is not in a git repository"):
        since(plain)


def test_the_null_revision_makes_every_project_affected(repo: Path) -> None:
    """GitHub's `github.event.before` on a push that creates the branch: no base."""
    got = since(repo, "0" * 40)
    assert got.projects == ("core", "app", "tool", "solo")
    assert got.why["tool"] == ("no base revision to compare with",)
    assert any("null revision" in n and "every project" in n for n in got.notes), got.notes


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli_repo(repo: Path, channel: Path, wsp_env: dict[str, str]) -> Workspace:
    return Workspace(repo, channel, {**wsp_env, **GIT_ENV})


def test_plan_json_lists_the_affected_and_plans_only_them(cli_repo: Workspace) -> None:
    """(The projects here need no pip requirements: planning those asks an index.)"""
    edit(cli_repo.root, "workspace.toml", '["click"]', '["click", "h11"]')
    edit(
        cli_repo.root,
        "workspace.toml",
        '[projects.solo]\npython = "3.12"\ndependencies = ["idna"]\n',
        '[projects.fresh]\npython = "3.12"\n',
    )
    r = cli_repo.wsp("plan", "--json", "--affected-since", "base")
    assert r.code == 0, r
    data = r.json
    assert data["affected"] == ["tool", "fresh"]
    assert data["removed"] == ["solo"]
    assert sorted(a["project"] for a in data["actions"]) == ["fresh", "tool"]
    assert {a["action"] for a in data["actions"]} == {"create"}
    assert data["affected_since"]["ref"] == "base"
    assert data["affected_since"]["base"] == git(cli_repo.root, "rev-parse", "base")
    assert data["affected_since"]["why"] == {
        "tool": ["its [projects.tool] table changed"],
        "fresh": ["new since base"],
    }
    assert "findings" in data and "summary" in data  # the usual plan JSON


def test_plan_with_nothing_affected_plans_nothing(cli_repo: Workspace) -> None:
    r = cli_repo.wsp("plan", "--json", "--affected-since", "base", "--detailed-exitcode")
    assert r.code == 0, r
    assert r.json["affected"] == [] and r.json["actions"] == []
    r = cli_repo.wsp("plan", "--affected-since", "base")
    assert r.code == 0, r
    assert "No project is affected by the changes since base" in r.stdout


def test_plan_lists_the_affected_for_people(cli_repo: Workspace) -> None:
    write(cli_repo.root / "projects/tool/requirements-dev.txt", "pytest\n")
    edit(cli_repo.root, "workspace.toml", "[projects.solo]", "[projects.single]")
    r = cli_repo.wsp("plan", "--affected-since", "base")
    assert r.code == 0, r
    assert "Affected since base" in r.stdout and "2 of 4 projects" in r.stdout
    assert "projects/tool/requirements-dev.txt changed" in r.stdout
    assert "single" in r.stdout and "new since base" in r.stdout
    assert "Removed since base: solo" in r.stdout


def test_a_lock_only_change_makes_its_project_affected(cli_repo: Workspace) -> None:
    """What `wsp apply --locked` installs is wsp.lock's entry: a pull request that only
    re-locks (`wsp lock --update`) builds the projects whose entry changed."""
    root = cli_repo.root
    edit(root, "workspace.toml", '["idna"]', '["numpy"]')
    commit(root, "solo needs numpy")
    git(root, "tag", "-f", "base")
    assert cli_repo.wsp("lock").code == 0  # numpy 2.0.0; no wsp.lock at base
    r = cli_repo.wsp("plan", "--json", "--affected-since", "base")
    assert r.code == 0, r
    assert r.json["affected"] == ["core", "app", "tool", "solo"]
    assert r.json["affected_since"]["why"]["core"] == ["its wsp.lock entry is new since base"]

    commit(root, "locked")
    git(root, "tag", "-f", "base")
    edit(root, "workspace.toml", '["numpy"]', '["numpy<2"]')
    assert cli_repo.wsp("lock").code == 0
    edit(root, "workspace.toml", '["numpy<2"]', '["numpy"]')
    assert cli_repo.wsp("lock").code == 0  # numpy 1.26.4 still fits: kept
    commit(root, "lock only")
    assert git(root, "diff", "--name-only", "base") == "wsp.lock"
    r = cli_repo.wsp("plan", "--json", "--affected-since", "base")
    assert r.code == 0, r
    assert r.json["affected"] == ["solo"]
    assert r.json["affected_since"]["why"] == {"solo": ["its wsp.lock entry changed"]}
    assert [a["project"] for a in r.json["actions"]] == ["solo"]
    r = cli_repo.wsp("plan", "--affected-since", "base")
    assert "solo  its wsp.lock entry changed" in r.stdout, r


def test_plan_with_the_null_revision_plans_every_project(cli_repo: Workspace) -> None:
    r = cli_repo.wsp("plan", "--json", "--affected-since", "0" * 40)
    assert r.code == 0, r
    assert r.json["affected"] == ["core", "app", "tool", "solo"]
    assert any("null revision" in n for n in r.json["affected_since"]["notes"])


def test_plan_errors_are_one_line(cli_repo: Workspace, tmp_path: Path) -> None:
    r = cli_repo.wsp("plan", "--affected-since", "origin/main")
    assert r.code == 1
    assert r.stderr.startswith("error: --affected-since origin/main: git knows no such revision")
    assert "Traceback" not in r.output and len(r.stderr.strip().splitlines()) == 1
    shutil.rmtree(cli_repo.root / ".git")
    r = cli_repo.wsp("plan", "--json", "--affected-since", "base")
    assert r.code == 1 and "is not in a git repository" in r.stderr, r
    assert r.stdout == ""


# -- docs/ci.md --------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ci.md"


def _blocks(lang: str) -> list[str]:
    text = DOCS.read_text()
    out, inside, lines = [], False, []
    for line in text.splitlines():
        if line.strip() == f"```{lang}" and not inside:
            inside, lines = True, []
        elif line.strip() == "```" and inside:
            inside = False
            out.append("\n".join(lines) + "\n")
        elif inside:
            lines.append(line)
    return out


def _workflows() -> list[dict]:
    from ruamel.yaml import YAML

    return [YAML(typ="safe").load(b) for b in _blocks("yaml")]


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq (on GitHub's runners) is not on PATH")
def test_the_github_workflow_builds_a_matrix_from_affected(cli_repo: Workspace) -> None:
    """The workflow's steps, run here: the plan job's script writes the matrix its output
    names, and each build job's command names one project of it."""
    github = next(w for w in _workflows() if "jobs" in w and "on" in w)
    plan_job = github["jobs"]["affected"]
    build_job = github["jobs"]["build"]
    assert build_job["needs"] == "affected"
    assert "fromJSON(needs.affected.outputs.projects)" in str(build_job["strategy"]["matrix"])
    script = next(s["run"] for s in plan_job["steps"] if "--affected-since" in s.get("run", ""))
    apply = next(s["run"] for s in build_job["steps"] if "wsp apply" in s.get("run", ""))
    assert "--locked" in apply and "--target ${{ matrix.project }}" in apply

    assert cli_repo.wsp("lock").code == 0  # main is locked
    commit(cli_repo.root, "locked")
    git(cli_repo.root, "tag", "-f", "base")
    edit(cli_repo.root, "workspace.toml", '["click"]', '["click", "h11"]')
    edit(cli_repo.root, "workspace.toml", '["idna"]', '["idna", "six"]')
    assert cli_repo.wsp("lock").code == 0
    commit(cli_repo.root, "tool and solo need more")
    output = cli_repo.root / "github-output"
    assert "${{" not in script, script
    env = {
        **cli_repo.env,
        "BASE": "base",
        "GITHUB_OUTPUT": str(output),
        "PATH": _path_with_wsp(cli_repo),
    }
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cli_repo.root, env=env, check=True
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    projects = json.loads(outputs["projects"])
    assert projects == ["tool", "solo"]
    for project in projects:
        command = apply.replace("${{ matrix.project }}", project)
        r = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=cli_repo.root,
            env=env,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert (cli_repo.envs_dir / project / "conda-meta").is_dir()
    assert not (cli_repo.envs_dir / "core").exists()  # not affected: not built


def test_the_gitlab_pipeline_writes_a_child_pipeline_of_the_affected(cli_repo: Workspace) -> None:
    gitlab = next(w for w in _workflows() if "affected" in w and "stages" in w)
    script = "\n".join(gitlab["affected"]["script"])
    script = script.replace(
        '"origin/${CI_MERGE_REQUEST_TARGET_BRANCH_NAME:-$CI_DEFAULT_BRANCH}"', "base"
    )
    script = "\n".join(
        line for line in script.splitlines() if not line.startswith(("pip ", "git fetch"))
    )
    edit(cli_repo.root, "workspace.toml", '["click"]', '["click", "h11"]')
    env = {**cli_repo.env, "PATH": _path_with_wsp(cli_repo)}
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cli_repo.root, env=env, check=True
    )
    from ruamel.yaml import YAML

    child = YAML(typ="safe").load((cli_repo.root / "envs.yml").read_text())
    jobs = {k: v for k, v in child.items() if isinstance(v, dict) and "script" in v}
    assert list(jobs) == ["env:tool"]
    assert any(
        "--target tool" in line and "--locked" in line for line in jobs["env:tool"]["script"]
    )
    # nothing affected: still a valid child pipeline (GitLab refuses an empty one)
    edit(cli_repo.root, "workspace.toml", '["click", "h11"]', '["click"]')
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cli_repo.root, env=env, check=True
    )
    child = YAML(typ="safe").load((cli_repo.root / "envs.yml").read_text())
    assert [k for k, v in child.items() if isinstance(v, dict) and "script" in v] == ["nothing"]


def _path_with_wsp(ws: Workspace) -> str:
    """PATH with a `wsp` that runs this checkout (`python -m wsp`), as CI's install would."""
    import sys

    bin_ = ws.root.parent / "bin"
    bin_.mkdir(exist_ok=True)
    wsp = bin_ / "wsp"
    wsp.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m wsp "$@"\n')
    wsp.chmod(0o755)
    return f"{bin_}{os.pathsep}{os.environ.get('PATH', '')}"


def test_a_workspace_toml_saved_with_a_bom_at_ref(repo: Path) -> None:
    """A BOM (Notepad's) at REF: its environment files and pyproject.toml are read as
    wsp reads them there, so only what changed since is affected."""
    path = repo / "workspace.toml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    commit(repo, "saved with a BOM")
    git(repo, "tag", "bom")
    edit(repo, "workspace.toml", '["click"]', '["click", "h11"]')
    got = since(repo, "bom")
    assert list(got.projects) == ["tool"], (got.why, got.notes)
