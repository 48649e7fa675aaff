"""The cache of the loaded workspace and its desired envs (wsp/cache.py).

A hit must give exactly what a fresh load gives; any change to what the load read must
miss; a broken cache is ignored and rewritten; errors come out as without a cache.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from wsp import cache as cache_mod
from wsp import codec, graph, pipreqs
from wsp.errors import ManifestError
from wsp.manifest import load

if TYPE_CHECKING:
    import wsp.pip

PLATFORM = "linux-64"

TOML = """\
[workspace]
name = "acme"
channels = ["conda-forge", "./local-channel"]
envs-dir = "envs"
pip-find-links = ["./wheels"]

[workspace.mirrors]
"conda-forge" = ["./mirror"]

[templates.base]
python = "3.11"
dependencies = ["numpy >=1.26"]

[templates.sci]
extends = ["base"]
dependencies = ["scipy"]

[projects.core]
extends = ["base"]
dependencies = ["six"]
pip = ["requests>=2"]

[projects.app]
extends = ["sci"]
depends-on = ["core"]
environment-file = "environment.yml"

[projects.tool]
python = "3.12"
dependencies = ["click"]

[policy.naming]
forbidden = ["tmp"]

[policy.rules]
WSP501 = "off"
"""

ENV_YML = """\
name: app
channels:
  - bioconda
dependencies:
  - pandas >=2
  - pip:
      - rich
"""


@pytest.fixture
def ws_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ws"
    (root / ".wsp").mkdir(parents=True)  # wsp's state folder: the cache lives there
    (root / "workspace.toml").write_text(TOML, encoding="utf-8")
    (root / "projects" / "app").mkdir(parents=True)
    (root / "projects" / "app" / "environment.yml").write_text(ENV_YML, encoding="utf-8")
    (root / "projects" / "core" / "src").mkdir(parents=True)
    (root / "projects" / "core" / "pyproject.toml").write_text("[project]\nname='core'\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return root


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every real load of workspace.toml (a cache miss) the cache makes."""
    calls: list[Path] = []
    real = cache_mod.load

    def counting(path: Path, **kw: object) -> object:
        calls.append(path)
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_mod, "load", counting)
    return calls


def fresh(root: Path) -> tuple[object, dict[str, graph.DesiredEnv]]:
    ws = load(root / "workspace.toml")
    return ws, graph.desired(ws, graph.build(ws))


def cached(root: Path) -> tuple[object, dict[str, graph.DesiredEnv]]:
    ws, desired, _ = cache_mod.load_desired(root / "workspace.toml")
    return ws, desired


def assert_same_as_fresh(root: Path) -> None:
    ws, desired = cached(root)
    ws2, desired2 = fresh(root)
    assert ws == ws2
    assert desired == desired2
    assert list(desired) == list(desired2)  # the order of projects too


# -- hits ----------------------------------------------------------------------------------


def test_a_hit_is_exactly_a_fresh_load(ws_root: Path, loads: list[Path]) -> None:
    first_ws, first = cached(ws_root)
    assert len(loads) == 1
    assert cache_mod.cache_path(ws_root).is_file()
    ws, desired = cached(ws_root)
    assert len(loads) == 1, "the second load should come from the cache"
    fresh_ws, fresh_desired = fresh(ws_root)
    assert desired == fresh_desired == first
    assert ws == fresh_ws == first_ws
    # what the merge made of templates, depends-on, the env file and the editable project
    app = desired["app"]
    assert "pandas >=2" in app.specs and "six" in app.specs and "scipy" in app.specs
    assert app.pip == ("requests>=2", "rich")
    assert [e[0] for e in app.editables] == ["core"]
    assert app.editables[0][1].endswith("/projects/core/src")
    assert app.channels[1].urls[0].startswith("file://")
    assert ws.policy.naming.forbidden == ("tmp",)
    assert ws.policy.rules == {"WSP501": "off"}
    assert ws.projects["app"].env_file is not None
    assert ws.projects["app"].env_file.raw == ENV_YML.encode()


def test_errors_located_from_a_hit_are_the_same(ws_root: Path, loads: list[Path]) -> None:
    cached(ws_root)
    ws, _ = cached(ws_root)
    assert len(loads) == 1
    fresh_ws, _ = fresh(ws_root)
    for path in [("projects", "app", "depends-on", 0), ("policy", "rules", "WSP501")]:
        assert str(ws.error(path, "x")) == str(fresh_ws.error(path, "x"))  # type: ignore[attr-defined]


def test_the_graph_is_built_when_asked(ws_root: Path, tmp_path: Path) -> None:
    from wsp.context import load_context

    cached(ws_root)
    ctx = load_context(ws_root)
    assert graph.order(ctx.graph) == graph.order(graph.build(fresh(ws_root)[0]))  # type: ignore[arg-type]


def loaded_elsewhere(root: Path, modules: tuple[str, ...], *shown: str) -> list[str]:
    """`load_context(root)` in a fresh process: the repr of each of `shown` (expressions
    of `ctx`), then which of `modules` the load imported."""
    code = (
        "import sys; from pathlib import Path; from wsp.context import load_context; "
        "ctx = load_context(Path(sys.argv[1])); "
        + "".join(f"print(repr({e})); " for e in shown)
        + f"print(sorted(m for m in {modules!r} if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_a_hit_imports_no_heavy_library(ws_root: Path) -> None:
    cached(ws_root)
    heavy = ("networkx", "pydantic", "tomlkit", "rattler", "ruamel")
    assert loaded_elsewhere(ws_root, heavy) == ["[]"]


def test_a_hit_makes_only_the_classes_its_declarations_use(ws_root: Path, tmp_path: Path) -> None:
    """A cached record names the pip and environment-file classes only where a declaration
    has them (each class costs start-up time to make): a workspace without them never
    imports their modules; one with them gets them back whole in a fresh process."""
    plain = tmp_path / "plain"
    (plain / ".wsp").mkdir(parents=True)
    (plain / "workspace.toml").write_text(
        '[workspace]\nname = "p"\nchannels = ["conda-forge"]\n\n'
        '[projects.tool]\npython = "3.12"\ndependencies = ["click"]\n'
    )
    pip_layer = ("wsp.pip", "wsp.pipreqs", "wsp.manifest.envfile")
    shown = (
        "[p.env_file for p in ctx.ws.projects.values()]",
        "[d.pip for d in ctx.desired.values()]",
    )
    for root, imported in ((plain, "[]"), (ws_root, None)):
        cached(root)  # writes the cache
        lines = loaded_elsewhere(root, pip_layer, *shown)
        ws, desired = fresh(root)
        assert lines[0] == repr([p.env_file for p in ws.projects.values()])  # type: ignore[attr-defined]
        assert lines[1] == repr([d.pip for d in desired.values()])
        if imported is not None:
            assert lines[2] == imported


def test_an_edit_that_changes_no_env_imports_only_the_validator(ws_root: Path) -> None:
    """A project's table edited (a description): the table is read again (tomllib, as the
    cache checked it) and validated (pydantic), nothing more: not tomlkit, which a whole
    file's load and wsp's editing commands use, nor py-rattler or networkx."""
    cached(ws_root)
    manifest = ws_root / "workspace.toml"
    manifest.write_text(
        manifest.read_text().replace("[projects.tool]\n", '[projects.tool]\ndescription = "cli"\n')
    )
    found = loaded_elsewhere(ws_root, ("networkx", "pydantic", "tomlkit", "rattler"))
    assert found == ["['pydantic']"]
    assert_same_as_fresh(ws_root)


# -- misses --------------------------------------------------------------------------------


def _edit_toml(root: Path) -> None:
    path = root / "workspace.toml"
    path.write_text(path.read_text().replace('"click"', '"clack"'))  # same size


def _edit_env_file(root: Path) -> None:
    path = root / "projects" / "app" / "environment.yml"
    path.write_text(path.read_text().replace("pandas >=2", "pandas >=3"))


def _pyproject_appears(root: Path) -> None:
    (root / "projects" / "tool").mkdir(parents=True, exist_ok=True)
    (root / "projects" / "tool" / "pyproject.toml").write_text("[project]\nname='tool'\n")


def _pyproject_disappears(root: Path) -> None:
    (root / "projects" / "core" / "pyproject.toml").unlink()


def _src_disappears(root: Path) -> None:
    (root / "projects" / "core" / "src").rmdir()


def _project_folder_becomes_a_symlink(root: Path) -> None:
    real = root.parent / "elsewhere" / "tool"
    real.mkdir(parents=True)
    (real / "pyproject.toml").write_text("[project]\nname='tool'\n")
    (root / "projects" / "tool").symlink_to(real)


def _mirror_becomes_a_symlink(root: Path) -> None:
    (root.parent / "real-mirror").mkdir()
    (root / "mirror").symlink_to(root.parent / "real-mirror")


@pytest.mark.parametrize(
    "change",
    [
        _edit_toml,
        _edit_env_file,
        _pyproject_appears,
        _pyproject_disappears,
        _src_disappears,
        _project_folder_becomes_a_symlink,
        _mirror_becomes_a_symlink,
    ],
)
def test_a_changed_input_misses(
    ws_root: Path, loads: list[Path], change: Callable[[Path], None]
) -> None:
    """Not served as it was: loaded again (the tables or projects the change reaches,
    tests/test_incremental_load.py), like a fresh load."""
    _, before = cached(ws_root)
    change(ws_root)
    _, after = cached(ws_root)
    assert after != before, "the change must not be served from the cache"
    n = len(loads)
    assert_same_as_fresh(ws_root)  # from the rewritten cache
    assert len(loads) == n


def test_home_matters_where_a_path_starts_with_tilde(
    ws_root: Path, loads: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ws_root / "workspace.toml"
    path.write_text(path.read_text().replace('envs-dir = "envs"', 'envs-dir = "~/envs"'))
    _, before = cached(ws_root)
    monkeypatch.setenv("HOME", str(tmp_path / "other-home"))
    _, after = cached(ws_root)
    assert len(loads) == 2
    assert after["app"].prefix == tmp_path / "other-home" / "envs" / "app"
    assert before["app"].prefix == tmp_path / "home" / "envs" / "app"


def test_conda_envs_dir_from_the_environment_matters(
    ws_root: Path, loads: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ws_root / "workspace.toml"
    path.write_text(path.read_text().replace('envs-dir = "envs"\n', ""))
    for name in ("conda-a", "conda-b"):
        (tmp_path / name / "conda-meta").mkdir(parents=True)
        (tmp_path / name / "conda-meta" / "history").touch()  # a writable root, as conda sees it
    from wsp import conda

    monkeypatch.delenv("CONDA_ENVS_PATH", raising=False)
    monkeypatch.delenv("CONDA_ENVS_DIRS", raising=False)
    monkeypatch.setenv("WSP_CONDA_ROOT", str(tmp_path / "conda-a"))
    conda.find_conda_root.cache_clear()
    ws, _ = cached(ws_root)
    assert ws.envs_dir == tmp_path / "conda-a" / "envs"  # type: ignore[attr-defined]
    cached(ws_root)
    assert len(loads) == 1
    monkeypatch.setenv("WSP_CONDA_ROOT", str(tmp_path / "conda-b"))
    conda.find_conda_root.cache_clear()
    ws, _ = cached(ws_root)
    assert len(loads) == 2
    assert ws.envs_dir == tmp_path / "conda-b" / "envs"  # type: ignore[attr-defined]
    monkeypatch.setenv("CONDA_ENVS_PATH", str(tmp_path / "envs-path"))
    ws, _ = cached(ws_root)
    assert len(loads) == 3
    assert ws.envs_dir == tmp_path / "envs-path"  # type: ignore[attr-defined]
    conda.find_conda_root.cache_clear()


def test_other_code_misses(ws_root: Path, loads: list[Path]) -> None:
    cached(ws_root)
    path = cache_mod.cache_path(ws_root)
    data = json.loads(path.read_text())
    data["machine"]["code"] = "0" * 64
    path.write_text(json.dumps(data))
    cached(ws_root)
    assert len(loads) == 2


# -- broken caches, errors, read-only --------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x80\x81 not json",
        b'{"format": 1',
        b"[]",
        b'{"format": 1}',
        b"null",
    ],
)
def test_a_corrupt_cache_is_ignored_and_rewritten(
    ws_root: Path, loads: list[Path], content: bytes
) -> None:
    cached(ws_root)
    path = cache_mod.cache_path(ws_root)
    path.write_bytes(content)
    assert_same_as_fresh(ws_root)
    assert len(loads) == 2
    assert json.loads(path.read_bytes())["format"] == cache_mod.FORMAT
    cached(ws_root)
    assert len(loads) == 2


def test_a_cache_with_wrong_content_shapes_is_ignored(ws_root: Path, loads: list[Path]) -> None:
    cached(ws_root)
    path = cache_mod.cache_path(ws_root)
    data = json.loads(path.read_text())
    data["desired"]["app"] = [1, 2]  # keys and probes still match
    path.write_text(json.dumps(data))
    assert_same_as_fresh(ws_root)
    assert len(loads) == 2


def _errors_alike(root: Path) -> tuple[str, str]:
    with pytest.raises(ManifestError) as with_cache:
        cache_mod.load_desired(root / "workspace.toml")
    with pytest.raises(ManifestError) as without:
        fresh(root)
    return str(with_cache.value), str(without.value)


@pytest.mark.parametrize(
    ("needle", "replacement", "where"),
    [
        ('name = "acme"', 'name = "acme', ":2:"),  # invalid TOML
        ('envs-dir = "envs"', 'envs-dir = "envs"\ncolour = "red"', ":5:"),  # unknown key
        ('depends-on = ["core"]', 'depends-on = ["cor"]', ":25:15:"),  # unknown project
        ('extends = ["base"]\ndep', 'extends = ["sci"]\ndep', ":15:12:"),  # a cycle
    ],
)
def test_a_bad_workspace_toml_errors_as_without_a_cache(
    ws_root: Path, needle: str, replacement: str, where: str
) -> None:
    cached(ws_root)
    assert cache_mod.cache_path(ws_root).is_file()
    path = ws_root / "workspace.toml"
    text = path.read_text()
    assert needle in text
    path.write_text(text.replace(needle, replacement, 1))
    got, want = _errors_alike(ws_root)
    assert got == want
    assert where in got


def test_a_bad_env_file_errors_as_without_a_cache(ws_root: Path) -> None:
    cached(ws_root)
    (ws_root / "projects" / "app" / "environment.yml").write_text("dependencies: [a\n")
    got, want = _errors_alike(ws_root)
    assert got == want
    assert "environment.yml:" in got


def test_cache_write_failures_are_ignored(
    ws_root: Path, loads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wsp import fsutil

    def refuse(*args: object, **kw: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fsutil, "atomic_write_bytes", refuse)
    assert_same_as_fresh(ws_root)
    assert not cache_mod.cache_path(ws_root).exists()


def test_a_read_only_state_dir_still_loads(ws_root: Path, loads: list[Path]) -> None:
    state = ws_root / ".wsp"
    # root writes through permission bits: an immutable folder refuses even root
    lock = ["chattr", "+i", str(state)] if os.geteuid() == 0 else ["chmod", "0500", str(state)]
    unlock = ["chattr", "-i", str(state)] if os.geteuid() == 0 else ["chmod", "0700", str(state)]
    if subprocess.run(lock, capture_output=True).returncode != 0:
        pytest.skip(f"cannot make a folder read-only here ({' '.join(lock[:2])} failed)")
    try:
        assert_same_as_fresh(ws_root)
        assert_same_as_fresh(ws_root)
        assert not cache_mod.cache_path(ws_root).exists()
    finally:
        subprocess.run(unlock, check=True)


def test_no_state_dir_no_cache(ws_root: Path, loads: list[Path]) -> None:
    (ws_root / ".wsp").rmdir()
    assert_same_as_fresh(ws_root)
    assert not (ws_root / ".wsp").exists()  # a plan creates nothing in the workspace


def test_the_cli_writes_the_cache_only_when_the_command_succeeds(
    ws_root: Path, loads: list[Path]
) -> None:
    from wsp import deferred

    deferred.hold()
    try:
        cached(ws_root)
        assert not cache_mod.cache_path(ws_root).exists()  # a failing command leaves none
        deferred.flush()
        assert cache_mod.cache_path(ws_root).is_file()
        cached(ws_root)
        assert len(loads) == 1
    finally:
        deferred.flush()


def test_the_cache_knows_every_field_it_stores() -> None:
    """cache.py writes these classes field by field: a field added to one of them must be
    added there too (or a hit would quietly drop it). Update both, then this list."""
    import dataclasses

    from wsp.graph import DesiredEnv
    from wsp.manifest.envfile import EnvFile
    from wsp.manifest.loader import PolicyDecl, ProjectDecl, TemplateDecl, Workspace
    from wsp.pip import PipOptions, PipSource

    known = {
        Workspace: "name root manifest_path description channels channel_priority platforms "
        "envs_dir env_prefix mirrors templates projects policy source_hash pip_options positions "
        "freeze_envs envs_dir_declared jupyter_data_dir exclude_newer keep_builds "
        "system_requirements variants",
        ProjectDecl: "name env_name path python channels dependencies pip extends depends_on "
        "env_file ignore jupyter env_vars pip_options exclude_newer system_requirements",
        TemplateDecl: "name python channels dependencies pip extends jupyter env_vars exclude_newer "
        "system_requirements",
        PolicyDecl: "naming base pip channels stale_days rules",
        DesiredEnv: "project env_name prefix python specs pip channels channel_priority platform "
        "spec_hash editables pip_options lock_hash kernel env_vars exclude_newer variants "
        "candidates pip_sources",
        EnvFile: "path name channels dependencies dependency_at pip raw pip_lines pip_entries "
        "pip_options "
        "variables warnings requirement_files",
        PipOptions: "index_url extra_index_urls find_links no_index pre",
        PipSource: "target editable name extras text file line col",
    }
    for cls, names in known.items():
        assert [f.name for f in dataclasses.fields(cls)] == names.split(), cls.__name__


def test_the_cache_check_resolves_paths_as_realpath_does(tmp_path: Path) -> None:
    """still_true resolves many paths under the same folders with one lstat each: the
    answers must be os.path.realpath's, symlinks and missing parts included."""
    from wsp.probe import _Realpaths

    d = tmp_path
    (d / "a" / "b" / "c").mkdir(parents=True)
    (d / "lnk").symlink_to(d / "a" / "b")
    (d / "a" / "b" / "rel").symlink_to("c")
    (d / "a" / "b" / "c" / "up").symlink_to("../..")
    (d / "loop").symlink_to(d / "loop")
    cases = [
        "a/b/c", "lnk/c", "lnk/rel", "lnk/rel/up/b", "missing/x", "a/b/c/nofile",
        "a/./b", "a/../a", "a/b/c/up/b/c/up", "loop", "loop/x",
    ]  # fmt: skip
    r = _Realpaths()
    for case in [*(f"{d}/{c}" for c in cases), f"{d}//a", "/", "relative/x"]:
        assert r.realpath(case) == os.path.realpath(case), case


@dataclasses.dataclass(frozen=True)
class _Rec:
    name: str
    tags: tuple[str, ...] = ()
    size: int = 0
    entry: pipreqs.Requirement | pipreqs.Option | None = None


@dataclasses.dataclass(frozen=True)
class _A:
    x: int = 0


@dataclasses.dataclass(frozen=True)
class _B:
    y: int = 0


def test_a_sparse_dump_leaves_out_defaults_and_loads_back_the_same() -> None:
    where = pipreqs.Where(Path("requirements.txt"), 1, 1)
    rec = _Rec("x", entry=pipreqs.Option("--pre", where, "--pre"))
    data = codec.dump(rec, sparse=True)
    assert set(data) == {"name", "entry"}
    assert set(data["entry"]) == set(codec.dump(rec.entry))  # a union member stays whole
    assert codec.load(_Rec, json.loads(json.dumps(data))) == rec
    with pytest.raises(ValueError, match=r"mark it @codec\.dense"):
        codec.load(_A | _B, {"x": 1})  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class _Sourced:
    name: str
    source: wsp.pip.PipSource | None = None  # its module imported for type checking only
    more: tuple[_Sourced, ...] = ()


def test_a_hint_is_read_when_its_field_is_first_read() -> None:
    """A field's hint, `wsp.<module>.<Class>` included, is evaluated where it is written
    the first time a value of it is read; a field left out is never evaluated."""
    from wsp.pip import PipSource

    rec = _Sourced("x", PipSource("/src/pkg", editable=True), (_Sourced("y"),))
    assert codec.load(_Sourced, json.loads(json.dumps(codec.dump(rec, sparse=True)))) == rec
    assert codec._hint(_Sourced, "source") == PipSource | None
    assert codec.load(_Sourced, {"name": "z", "source": None}) == _Sourced("z")
    with pytest.raises(ValueError, match="expected dict"):
        codec.load(_Sourced, {"name": "z", "more": ["not a record"]})
