"""conda's own environment-file fixtures (../shared/conda-env-fixtures, SOURCES.tsv): a
peer's test suite. Each file is read as conda reads it (what its tests assert: specs,
channels, pip list, variables) or fails with the located error conda expects; `wsp init`
and `wsp import --file` take every one, and what init writes plans with no policy error
of its own making. Also: init on a 300-line pinned `conda env export`, and the spec forms
of issue 12 through init, import and plan.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import rattler
import tomlkit

from tests.support.cli import Workspace
from tests.support.envfiles import pinned_export
from tests.test_envfile import ISSUE_SPECS
from wsp.errors import ManifestError
from wsp.manifest.envfile import read_env_file

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "conda-env-fixtures"
pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"conda's fixtures are not at {FIXTURES}"
)

TOKENS = {"CONDA_TOKEN": "aaa-12345", "OTHER_KEY": "12345-aaa"}


@pytest.fixture(autouse=True)
def _tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """What conda's test_envvars sets: the channel variables of channels_with_envvars.yml."""
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)


DOCS_DEPS = [
    "Pillow==12.3.0",
    "Sphinx<10",
    "boltons>=26.1.0",
    "conda-sphinx-theme==0.4.0",
    "frozendict>=2.4.7",
    "linkify-it-py==2.1.0",
    "myst-parser==5.1.0",
    "plantuml==1.2026.6",
    "pluggy==1.6.0",
    "pylint==4.0.6",
    "requests>=2.28.0,<3",
    "ruamel.yaml>=0.11.14,<0.20",
    "sphinx-argparse==0.5.2",
    "sphinx-autoapi==3.8.0",
    "sphinx-autobuild==2025.8.25",
    "sphinx-reredirects==1.1.0",
    "sphinx-sitemap==2.9.0",
    "sphinx-design==0.7.0",
    "sphinx-copybutton==0.5.2",
    "sphinxcontrib-applehelp==2.0.0",
    "sphinxcontrib-devhelp==2.0.0",
    "sphinxcontrib-htmlhelp==2.1.0",
    "sphinxcontrib-jsmath==1.0.1",
    "sphinxcontrib-mermaid==2.1.0",
    "sphinxcontrib-programoutput==0.20",
    "sphinxcontrib-qthelp==2.0.0",
    "sphinxcontrib-serializinghtml==2.0.0",
    "tqdm>=4.70.0",
    "conda-libmamba-solver>=26.7.0",
    "pip>25",
]


def conda(**kw: Any) -> dict[str, Any]:
    """What conda makes of a file: its name, channels (in order), the conda specs it
    installs (conda adds pip for a pip: list), the pip list, variables, and what it
    warns about (key fragments)."""
    return {
        "name": None,
        "channels": (),
        "conda": (),
        "pip": (),
        "variables": (),
        "warns": (),
        **kw,
    }


# file -> what conda's own tests (tests/env/) say conda makes of it
EXPECTED: dict[str, dict[str, Any]] = {
    "docs__environment.yml": conda(
        name="sphinx",
        channels=("conda-forge",),
        conda=tuple(DOCS_DEPS),
        pip=("sphinxcontrib-plantuml==0.31",),
    ),
    # test_add_pip: {"conda": ["pip", "car"], "pip": ["foo", "baz"]} (conda adds pip)
    "tests__env__support__add-pip.yml": conda(name="pip", conda=("car", "pip"), pip=("foo", "baz")),
    # advanced pip: read in a copy with its -r file present (below); as shipped, pip
    # fails on the missing file, so does wsp, at the line
    "tests__env__support__advanced-pip__env_template.yml": {"error": (27, 7, "can't be read")},
    # test_envvars: the channels with the variables expanded (where they are fetched)
    "tests__env__support__channels_with_envvars.yml": conda(
        name="nlp",
        channels=(
            "https://localhost/t/${CONDA_TOKEN}/stable",
            "https://localhost/t/${OTHER_KEY}/stable",
            "conda-forge",
            "defaults",
        ),
        conda=("nltk",),
    ),
    "tests__env__support__dependent.yml": conda(conda=("dependent",)),
    "tests__env__support__empty_deps.yml": conda(name="nlp", channels=("anaconda",)),
    "tests__env__support__empty_env.yml": conda(channels=("conda-forge", "defaults")),
    "tests__env__support__env_with_dependencies.yml": conda(
        channels=("conda-forge", "defaults"), conda=("python", "pytz")
    ),
    "tests__env__support__example-yaml__environment.yml": conda(name="test", conda=("numpy",)),
    "tests__env__support__example__environment.yml": conda(name="test", conda=("numpy",)),
    "tests__env__support__example__environment_host_port.yml": conda(
        name="test", conda=("https://104.17.92.24:443::flask=1.0.2",)
    ),
    "tests__env__support__example__environment_pinned.yml": conda(
        name="test",
        conda=("flask==2.0.2",),
        variables=(
            ("FIXED", "fixed"),
            ("CHANGES", "original_value"),
            ("GETS_DELETED", "not_actually_removed_though"),
        ),
    ),
    "tests__env__support__example__environment_pinned_updated.yml": conda(
        name="test",
        conda=("flask==2.0.3",),
        variables=(("FIXED", "fixed"), ("CHANGES", "updated_value"), ("NEW_VAR", "new_var")),
    ),
    "tests__env__support__example__environment_with_pip.yml": conda(
        name="test", conda=("pip", "python"), pip=("httpx",)
    ),
    # conda: "The following sections ... are invalid and will be ignored": nothing left
    "tests__env__support__invalid_keys.yml": conda(
        warns=("'names'", "'chanels'", "'dependecies'", "'prefis'")
    ),
    "tests__env__support__just_vars.yml": conda(
        variables=(("VARIABLE", "value"), ("VARIABLE2", "value2"))
    ),
    "tests__env__support__pip_argh.yml": conda(
        name="pip_argh", conda=("pip",), pip=("argh==0.26.2",)
    ),
    "tests__env__support__saved-env__environment.yml": conda(name="to-save", conda=("python",)),
    "tests__env__support__simple.yml": conda(name="nlp", conda=("nltk",)),
    # prefix: is conda's; wsp places envs itself and says so
    "tests__env__support__valid_keys.yml": conda(
        name="nlp",
        channels=("anaconda",),
        conda=("nltk",),
        variables=(("VARIABLE", "value"),),
        warns=("prefix",),
    ),
    "tests__env__support__with-pip.yml": conda(name="pip", conda=("pip",), pip=("foo", "baz")),
}
LOADS = sorted(f for f, e in EXPECTED.items() if "error" not in e)
# files whose own channels mix Anaconda's defaults with conda-forge (WSP401 is theirs)
OWN_MIX = {
    "tests__env__support__channels_with_envvars.yml",
    "tests__env__support__empty_env.yml",
    "tests__env__support__env_with_dependencies.yml",
}


def test_every_fixture_is_covered() -> None:
    assert set(EXPECTED) == {p.name for p in FIXTURES.glob("*.yml")}
    listed = (FIXTURES / "SOURCES.tsv").read_text().splitlines()[1:]
    assert {line.split("\t")[0] for line in listed if line} == set(EXPECTED)


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_read_as_conda_reads_it(fixture: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    want = EXPECTED[fixture]
    path = FIXTURES / fixture
    if "error" in want:
        line, col, fragment = want["error"]
        with pytest.raises(ManifestError) as info:
            read_env_file(path, root=FIXTURES)
        assert (info.value.path, info.value.line, info.value.col) == (path, line, col)
        assert fragment in info.value.message
        return
    env = read_env_file(path, root=FIXTURES)
    assert env.name == want["name"]
    assert env.channels == want["channels"]
    assert (*env.dependencies, *(["pip"] if env.implicit_pip else [])) == want["conda"]
    assert env.pip == want["pip"]
    assert env.variables == want["variables"]
    said = " | ".join(str(w) for w in env.warnings)
    for fragment in want["warns"]:
        assert fragment in said
    assert all(str(w).startswith(f"{path}:") for w in env.warnings), said  # located
    assert len(env.warnings) == len(want["warns"]), said


def test_channel_variables_are_expanded_as_conda_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """conda's test_envvars: the channels, with the variables' values, are fetched."""
    from wsp.channels import expand_channel

    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    env = read_env_file(FIXTURES / "tests__env__support__channels_with_envvars.yml")
    channels = [expand_channel(c) for c in env.channels]
    assert set(channels) == {
        "https://localhost/t/aaa-12345/stable",
        "https://localhost/t/12345-aaa/stable",
        "conda-forge",
        "defaults",
    }
    monkeypatch.delenv("OTHER_KEY")
    with pytest.raises(ManifestError) as info:
        read_env_file(FIXTURES / "tests__env__support__channels_with_envvars.yml")
    assert (info.value.line, info.value.col) == (5, 5)
    assert "OTHER_KEY" in info.value.message


def advanced_pip(folder: Path) -> Path:
    """conda's advanced-pip fixture, with what its test puts beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (FIXTURES / "tests__env__support__advanced-pip__env_template.yml").read_text()
    path = folder / "environment.yml"
    path.write_text(text.replace("{ARGH_PATH_PLACEHOLDER}", "https://github.com/neithere/argh.git"))
    (folder / "another-project-requirements.txt").write_text("six==1.16.0\n")
    (folder / "module_to_install_in_editable_mode").mkdir()
    return path


def test_advanced_pip_with_its_files(tmp_path: Path) -> None:
    from wsp import pipreqs

    path = advanced_pip(tmp_path)
    env = read_env_file(path, root=tmp_path)
    assert env.dependencies == ("pip",)
    assert env.pip == ("xmltodict==0.10.2", "six==1.16.0")  # -r read from the file's folder
    assert env.pip_options.index_url == "https://pypi.doubanio.com/simple"
    assert env.pip_options.extra_index_urls == ("https://pypi.python.org/simple",)
    editables = [e for e in env.pip_entries if isinstance(e, pipreqs.Editable)]
    assert [e.name for e in editables] == ["argh", None]
    assert editables[1].path == tmp_path / "module_to_install_in_editable_mode"
    said = [str(w) for w in env.warnings]
    # `-e git+...` is installed, but not editable (uv makes no editable VCS installs): said
    assert [w.split(": ", 1)[0].rsplit(":", 2)[1:] for w in said] == [["18", "7"]]
    assert "not editable" in said[0] or "non-editable" in said[0]


# -- wsp init and wsp import on every fixture --------------------------------------------------


def _mirror_everything(root: Path) -> None:
    """Point every channel the workspace names at a folder that isn't there: plans degrade
    to the declared specs at once, with no network."""
    from wsp.manifest import load
    from wsp.specs import spec_channel

    ws = load(root / "workspace.toml", envs_dir_default=root / ".wsp" / "envs")
    names = set(ws.channels)
    for p in ws.projects.values():
        specs = [*p.dependencies, *(p.env_file.dependencies if p.env_file else ())]
        names |= set(p.channels) | set(p.env_file.channels if p.env_file else ())
        names |= {c for s in specs if (c := spec_channel(s)) is not None}
    doc = tomlkit.parse((root / "workspace.toml").read_text())
    mirrors = tomlkit.table()
    for name in sorted(names - {"nodefaults"}):
        mirrors[name] = [(root / "no-such-channel").as_uri()]
    doc["workspace"]["mirrors"] = mirrors  # type: ignore[index]
    (root / "workspace.toml").write_text(tomlkit.dumps(doc))


@pytest.mark.parametrize("fixture", LOADS)
def test_init_and_import_take_every_fixture(
    fixture: str, tmp_path: Path, wsp_env: dict[str, str]
) -> None:
    root = tmp_path / "lab"
    shutil.copy(FIXTURES / fixture, (root.mkdir() or root) / "environment.yml")
    ws = Workspace(root, tmp_path, {**wsp_env, **TOKENS})
    r = ws.wsp("init")
    assert r.code == 0, r
    assert "environment-file" in ws.manifest.read_text()
    # the same file imported into the workspace init wrote
    r = ws.wsp("import", "--file", "environment.yml", "--as", "imported")
    assert r.code == 0, r
    imported = tomlkit.parse(ws.manifest.read_text()).unwrap()["projects"]["imported"]
    want = EXPECTED[fixture]
    assert imported.get("dependencies", []) == list(want["conda"])  # as written (+ conda's pip)
    assert imported.get("pip", []) == list(want["pip"])
    assert imported.get("env-vars", {}) == dict(want["variables"])
    for w in want["warns"]:
        assert w in r.stderr
    # in process (the CLI's plan is run on all fixtures at once below): the policies
    findings = policy_findings(root, wsp_env)
    errors = [(f.code, f.message) for f in findings if f.severity == "error"]
    if fixture in OWN_MIX:  # the file's own mix of defaults and conda-forge: not init's
        assert {code for code, _ in errors} == {"WSP401"}, errors
    else:
        assert errors == [], errors
    # and the env-file project means what its import means
    ws_ = load_workspace(root)
    from wsp import graph

    d = graph.desired(ws_, platform="linux-64")
    [own] = [n for n in d if n != "imported"]
    assert d[own].specs == d["imported"].specs and d[own].pip == d["imported"].pip
    assert d[own].env_vars == d["imported"].env_vars
    assert d[own].channels == d["imported"].channels  # the same channels, in the same order
    assert d[own].pip_options == d["imported"].pip_options


def load_workspace(root: Path) -> Any:
    from wsp.manifest import load

    return load(root / "workspace.toml", envs_dir_default=root / ".wsp" / "envs")


def policy_findings(root: Path, env: dict[str, str]) -> list[Any]:
    """`wsp check`'s findings, in process, with the CLI's environment (no conda found)."""
    import os

    from wsp.context import load_context
    from wsp.policy import run_checks

    _mirror_everything(root)
    saved = dict(os.environ)
    os.environ.update({k: env[k] for k in ("HOME", "WSP_CONDA_ROOT", "WSP_CACHE_DIR")})
    try:
        return run_checks(load_context(root)).findings
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _check_init_made_no_policy_error(root: Path, own_mix: set[str], env: dict[str, str]) -> None:
    _mirror_everything(root)
    ws = Workspace(root, root, env)
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    errors = [f for f in r.json["findings"] if f["severity"] == "error"]
    if own_mix:  # the user's own mix of defaults and conda-forge, nothing init added
        assert {f["code"] for f in errors} <= {"WSP401"}, errors
    else:
        assert errors == [], errors
    actions = {a["project"]: a for a in r.json["actions"]}
    # the env-file project and its import mean the same env
    if "imported" in actions:
        [own] = [a for p, a in actions.items() if p != "imported"]
        assert own.get("specs") == actions["imported"].get("specs")


def test_init_on_all_fixtures_at_once(tmp_path: Path, wsp_env: dict[str, str]) -> None:
    """One tree holding every fixture: some use Anaconda's defaults, some conda-forge, so
    the workspace can have neither; each project gets what it needs."""
    root = tmp_path / "tree"
    for fixture in LOADS:
        folder = root / fixture.removesuffix(".yml").replace("__", "-").replace("_", "-")
        folder.mkdir(parents=True)
        shutil.copy(FIXTURES / fixture, folder / "environment.yml")
    advanced_pip(root / "advanced-pip")
    ws = Workspace(root, tmp_path, {**wsp_env, **TOKENS})
    r = ws.wsp("init")
    assert r.code == 0, r
    assert len(tomlkit.parse(ws.manifest.read_text()).unwrap()["projects"]) == len(LOADS) + 1
    assert "warning: advanced-pip/environment.yml:18:7: -e " in r.stderr
    _check_init_made_no_policy_error(root, OWN_MIX, {**wsp_env, **TOKENS})


# -- a 300-line pinned `conda env export` -----------------------------------------------------


def test_init_on_a_300_line_pinned_export(tmp_path: Path, wsp_env: dict[str, str]) -> None:
    root = tmp_path / "paper"
    root.mkdir()
    text = pinned_export()
    assert len(text.splitlines()) == 300
    (root / "environment.yml").write_text(text)
    ws = Workspace(root, tmp_path, wsp_env)
    start = time.perf_counter()
    r = ws.wsp("init")
    took = time.perf_counter() - start
    assert r.code == 0, r
    assert took < 20, took
    assert "prefix is ignored" in r.stderr
    _mirror_everything(root)
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    [action] = r.json["actions"]
    conda = action["specs"]["conda"]
    written = [ln[4:] for ln in text.splitlines() if ln.startswith("  - ") and "=" in ln]
    # python's constraint first, then every spec as written (python's keeps its build)
    assert conda[0] == "python ==3.11.9" and len(conda) == len(written) + 1
    for spec, line in zip(conda[1:], written, strict=True):
        a, b = rattler.MatchSpec(spec, strict=True), rattler.MatchSpec(line, strict=False)
        assert (a.name.normalized, str(a.version), str(a.build)) == (
            b.name.normalized,
            str(b.version),
            str(b.build),
        )
    assert action["specs"]["pip"] == [f"pypkg{i}=={i}.0.1" for i in range(10)]


# -- issue 12's spec forms through init, import and plan -----------------------------------------


def test_issue_specs_through_init_import_and_plan(tmp_path: Path, wsp_env: dict[str, str]) -> None:
    root = tmp_path / "forms"
    root.mkdir()
    specs = [s for s, *_ in ISSUE_SPECS if s != "python"]
    (root / "environment.yml").write_text(
        "name: forms\nchannels: [conda-forge]\ndependencies:\n"
        + "".join(f"  - {s}\n" for s in specs)
    )
    ws = Workspace(root, tmp_path, wsp_env)
    assert ws.wsp("init").code == 0
    r = ws.wsp("import", "--file", "environment.yml", "--as", "again")
    assert r.code == 0, r
    again = tomlkit.parse(ws.manifest.read_text()).unwrap()["projects"]["again"]
    # kept as written in workspace.toml (python's pin has a build: it stays a spec)
    assert again["dependencies"] == specs
    _mirror_everything(root)
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    for action in r.json["actions"]:  # the env-file project and its import alike
        planned = [rattler.MatchSpec(s, strict=True) for s in action["specs"]["conda"]]
        for spec, name, version, build in ISSUE_SPECS[:-1]:
            assert any(
                (p.name.normalized, str(p.version), str(p.build) if p.build else None)
                == (name, version, build)
                for p in planned
            ), (spec, action["specs"]["conda"])


def test_a_boolean_variable_is_set_as_conda_sets_it(tmp_path: Path) -> None:
    """`variables: {DEBUG: True, QUIET: false}`: `conda env create` then `conda run` give
    DEBUG=True, QUIET=False (checked with conda 26.7.1); numbers are str() of YAML 1.2's
    value there too (1e3 -> 1000.0, 0x1F -> 31), which wsp already matches."""
    path = tmp_path / "environment.yml"
    path.write_text("dependencies: [python]\nvariables:\n  DEBUG: True\n  QUIET: false\n")
    assert read_env_file(path).variables == (("DEBUG", "True"), ("QUIET", "False"))
