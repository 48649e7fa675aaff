"""The project graph and each project's merged desired env. Pure: no subprocess, no solve."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsp import channels, graph
from wsp.engines import Channel
from wsp.errors import ManifestError
from wsp.manifest import load

PLATFORM = "linux-64"


def load_text(root: Path, text: str):
    root.mkdir(parents=True, exist_ok=True)
    path = root / "workspace.toml"
    path.write_text(text, encoding="utf-8")
    return load(path, envs_dir_default=root / "envs")


def desired(root: Path, text: str, platform: str = PLATFORM) -> dict[str, graph.DesiredEnv]:
    ws = load_text(root, text)
    return graph.desired(ws, graph.build(ws), platform=platform)


def line_of(text: str, needle: str) -> int:
    return text.count("\n", 0, text.index(needle)) + 1


def graph_error(root: Path, text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        desired(root, text)
    return info.value


HEAD = '[workspace]\nname = "acme"\n\n'

MERGE = (
    HEAD
    + """\
[templates.base]
channels = ["base-chan"]
dependencies = ["numpy"]
pip = ["rich"]

[templates.ml]
extends = ["base"]
channels = ["pytorch"]
dependencies = ["pytorch>=2.0"]

[templates.viz]
dependencies = ["matplotlib"]
pip = ["plotly"]

[projects.core]
python = ">=3.10"
dependencies = ["attrs"]
pip = ["pydantic"]
channels = ["core-chan"]

[projects.shared-utils]
extends = ["viz"]
depends-on = ["core"]
dependencies = ["toolz"]

[projects.vision]
python = "3.11"
extends = ["ml"]
depends-on = ["shared-utils"]
channels = ["vision-chan"]
dependencies = ["opencv"]
pip = ["torchmetrics==1.0.0"]

[projects.webdev]
python = "3.12"
dependencies = ["fastapi"]
"""
)


# -- merging -------------------------------------------------------------------------------


def test_templates_merged_in_order(tmp_path: Path) -> None:
    text = HEAD + (
        '[templates.base]\ndependencies = ["numpy"]\npip = ["rich"]\n\n'
        '[templates.ml]\nextends = ["base"]\ndependencies = ["pytorch>=2.0"]\n\n'
        '[templates.viz]\ndependencies = ["matplotlib"]\n\n'
        '[projects.vision]\npython = "3.11"\nextends = ["ml", "viz"]\n'
        'dependencies = ["opencv"]\npip = ["x"]\n'
    )
    d = desired(tmp_path, text)["vision"]
    # a template's own `extends` first, then the template, in the order declared, then the project
    assert d.specs == ("python 3.11.*", "numpy", "pytorch>=2.0", "matplotlib", "opencv")
    assert d.pip == ("rich", "x")


def test_no_python_declared(tmp_path: Path) -> None:
    text = HEAD + '[templates.t]\ndependencies = ["numpy"]\n\n[projects.a]\nextends = ["t"]\n'
    d = desired(tmp_path, text)["a"]
    assert d.python is None
    assert d.specs == ("numpy",)


def test_template_python_applies(tmp_path: Path) -> None:
    text = HEAD + '[templates.py311]\npython = "3.11"\n\n[projects.a]\nextends = ["py311"]\n'
    d = desired(tmp_path, text)["a"]
    assert d.python == "3.11.*"
    assert d.specs == ("python 3.11.*",)


def test_duplicate_specs_merged_once(tmp_path: Path) -> None:
    text = HEAD + (
        '[templates.t]\ndependencies = ["numpy", "pandas"]\n\n'
        '[projects.a]\nextends = ["t"]\ndependencies = ["numpy", "scipy"]\n'
    )
    assert desired(tmp_path, text)["a"].specs == ("numpy", "pandas", "scipy")


def test_depends_on_closure_merged(tmp_path: Path) -> None:
    d = desired(tmp_path, MERGE)
    vision = d["vision"]
    # dependencies of what it depends on (transitively, with their templates) come first
    for spec in ("attrs", "matplotlib", "toolz", "numpy", "pytorch>=2.0", "opencv"):
        assert spec in vision.specs
    body = [s for s in vision.specs if not s.startswith("python ")]
    assert body.index("attrs") < body.index("toolz") < body.index("opencv")
    assert body.index("numpy") < body.index("pytorch>=2.0") < body.index("opencv")
    assert set(vision.pip) == {"pydantic", "plotly", "rich", "torchmetrics==1.0.0"}
    # the closure does not leak the other way
    assert "opencv" not in d["shared-utils"].specs
    assert "toolz" not in d["core"].specs
    assert set(d["shared-utils"].specs) >= {"attrs", "matplotlib", "toolz"}
    assert d["webdev"].specs == ("python 3.12.*", "fastapi")


def test_channel_priority_project_then_templates_then_workspace(tmp_path: Path) -> None:
    text = (
        '[workspace]\nname = "acme"\nchannels = ["conda-forge", "bioconda"]\n\n'
        '[templates.base]\nchannels = ["base-chan"]\n\n'
        '[templates.ml]\nextends = ["base"]\nchannels = ["pytorch"]\n\n'
        '[projects.vision]\nextends = ["ml"]\nchannels = ["vision-chan"]\n\n'
        "[projects.plain]\n"
    )
    d = desired(tmp_path, text)
    assert [c.name for c in d["vision"].channels] == [
        "vision-chan",
        "pytorch",
        "base-chan",
        "conda-forge",
        "bioconda",
    ]
    assert [c.name for c in d["plain"].channels] == ["conda-forge", "bioconda"]


def test_channels_not_repeated(tmp_path: Path) -> None:
    text = (
        '[workspace]\nname = "acme"\nchannels = ["conda-forge"]\n\n'
        '[templates.t]\nchannels = ["pytorch", "conda-forge"]\n\n'
        '[projects.a]\nextends = ["t"]\nchannels = ["pytorch"]\n'
    )
    names = [c.name for c in desired(tmp_path, text)["a"].channels]
    assert names == ["pytorch", "conda-forge"]


def test_channel_priority_setting_carried(tmp_path: Path) -> None:
    text = '[workspace]\nname = "acme"\nchannel-priority = "disabled"\n\n[projects.a]\n'
    assert desired(tmp_path, text)["a"].channel_priority == "disabled"


def test_desired_env_fields(tmp_path: Path) -> None:
    ws = load_text(tmp_path, HEAD + '[projects.a]\npython = "3.9"\ndependencies = ["numpy"]\n')
    d = graph.desired(ws, graph.build(ws), platform="osx-arm64")["a"]
    assert d.project == "a"
    assert d.env_name == "a"
    assert d.prefix == ws.envs_dir / "a"
    assert d.platform == "osx-arm64"
    declared = d.declared()
    assert declared.python == "3.9.*"
    assert declared.dependencies == ("python 3.9.*", "numpy")
    assert declared.pip == ()
    assert declared.channels == ("conda-forge",)


# -- python --------------------------------------------------------------------------------


def test_python_intersection_keeps_both_constraints(tmp_path: Path) -> None:
    vision = desired(tmp_path, MERGE)["vision"]
    assert vision.python is not None
    parts = vision.python.split(",")
    assert "3.11.*" in parts
    assert ">=3.10" in parts
    assert vision.specs[0] == f"python {vision.python}"
    assert sum(s.startswith("python") for s in vision.specs) == 1


def test_python_from_a_dependency_spec(tmp_path: Path) -> None:
    text = HEAD + '[projects.a]\ndependencies = ["python=3.10", "numpy"]\n'
    d = desired(tmp_path, text)["a"]
    assert d.python == "3.10.*"
    assert d.specs == ("python 3.10.*", "numpy")


def test_python_conflict_with_depends_on(tmp_path: Path) -> None:
    text = HEAD + (
        '[projects.shared-utils]\npython = ">=3.10"\n\n'
        '[projects.finance]\npython = "3.9"\ndepends-on = ["shared-utils"]\n'
    )
    exc = graph_error(tmp_path, text)
    assert exc.line == line_of(text, 'python = "3.9"')
    assert "shared-utils" in exc.message
    assert "finance" in exc.message
    assert ">=3.10" in exc.message
    assert "3.9" in exc.message


def test_python_conflict_with_template(tmp_path: Path) -> None:
    text = HEAD + (
        '[templates.old]\npython = "3.8"\n\n[projects.a]\npython = "3.12"\nextends = ["old"]\n'
    )
    exc = graph_error(tmp_path, text)
    assert exc.line == line_of(text, 'python = "3.12"')
    assert "template old" in exc.message
    assert "project a" in exc.message


def test_python_conflict_without_own_python_points_at_project(tmp_path: Path) -> None:
    text = HEAD + (
        '[templates.old]\npython = "3.9"\n\n[projects.shared]\npython = ">=3.10"\n\n'
        '[projects.a]\nextends = ["old"]\ndepends-on = ["shared"]\n'
    )
    exc = graph_error(tmp_path, text)
    assert exc.line == line_of(text, "[projects.a]")
    assert "template old" in exc.message
    assert "project shared" in exc.message


# -- references and cycles -----------------------------------------------------------------


def test_depends_on_cycle(tmp_path: Path) -> None:
    text = HEAD + '[projects.a]\ndepends-on = ["b"]\n\n[projects.b]\ndepends-on = ["a"]\n'
    exc = graph_error(tmp_path, text)
    assert "a -> b -> a" in exc.message
    assert exc.line == line_of(text, 'depends-on = ["b"]')


def test_longer_cycle_named_in_full(tmp_path: Path) -> None:
    text = HEAD + (
        '[projects.a]\ndepends-on = ["b"]\n\n[projects.b]\ndepends-on = ["c"]\n\n'
        '[projects.c]\ndepends-on = ["a"]\n\n[projects.d]\ndepends-on = ["a"]\n'
    )
    exc = graph_error(tmp_path, text)
    assert "a -> b -> c -> a" in exc.message


def test_template_cycle(tmp_path: Path) -> None:
    text = HEAD + (
        '[templates.t1]\nextends = ["t2"]\n\n[templates.t2]\nextends = ["t1"]\n\n'
        '[projects.a]\nextends = ["t1"]\n'
    )
    exc = graph_error(tmp_path, text)
    assert "t1 -> t2 -> t1" in exc.message
    assert exc.line == line_of(text, 'extends = ["t2"]')


def test_template_extends_itself(tmp_path: Path) -> None:
    text = HEAD + '[templates.t]\nextends = ["t"]\n'
    exc = graph_error(tmp_path, text)
    assert "t -> t" in exc.message


def test_project_depends_on_itself(tmp_path: Path) -> None:
    text = HEAD + '[projects.a]\ndepends-on = ["a"]\n'
    exc = graph_error(tmp_path, text)
    assert exc.line == line_of(text, "depends-on")
    assert "itself" in exc.message


def test_unknown_template_with_hint(tmp_path: Path) -> None:
    text = HEAD + '[templates.ml]\n\n[projects.a]\nextends = ["ml", "mll"]\n'
    exc = graph_error(tmp_path, text)
    assert "unknown template 'mll'" in exc.message
    assert "did you mean 'ml'?" in exc.message
    assert exc.line == line_of(text, "extends")
    assert exc.col == text.splitlines()[exc.line - 1].index('"mll"') + 1


def test_unknown_template_in_template(tmp_path: Path) -> None:
    text = HEAD + '[templates.base]\n\n[templates.ml]\nextends = ["bsae"]\n'
    exc = graph_error(tmp_path, text)
    assert "unknown template 'bsae'" in exc.message
    assert "did you mean 'base'?" in exc.message
    assert exc.line == line_of(text, '["bsae"]')


def test_unknown_project_with_hint(tmp_path: Path) -> None:
    text = HEAD + '[projects.shared-utils]\n\n[projects.a]\ndepends-on = ["shared-util"]\n'
    exc = graph_error(tmp_path, text)
    assert "unknown project 'shared-util'" in exc.message
    assert "did you mean 'shared-utils'?" in exc.message
    assert exc.line == line_of(text, '["shared-util"]')


def test_unknown_project_without_hint(tmp_path: Path) -> None:
    text = HEAD + '[projects.a]\ndepends-on = ["zebra"]\n'
    exc = graph_error(tmp_path, text)
    assert "unknown project 'zebra'" in exc.message
    assert "did you mean" not in exc.message


# -- order and affected --------------------------------------------------------------------


def test_graph_nodes_and_edges(tmp_path: Path) -> None:
    ws = load_text(tmp_path, MERGE)
    g = graph.build(ws)
    assert graph.project("vision") in g
    assert graph.template("ml") in g
    assert g.has_edge(graph.project("vision"), graph.template("ml"))
    assert g.has_edge(graph.project("vision"), graph.project("shared-utils"))
    assert g.has_edge(graph.template("ml"), graph.template("base"))
    assert g.edges[graph.project("vision"), graph.project("shared-utils")]["kind"] == "depends-on"


def test_order_generations(tmp_path: Path) -> None:
    ws = load_text(tmp_path, MERGE)
    g = graph.build(ws)
    assert graph.order(g) == [["core", "webdev"], ["shared-utils"], ["vision"]]
    assert graph.order(g, ["vision", "core"]) == [["core"], ["vision"]]
    assert graph.order(g, ["webdev"]) == [["webdev"]]
    assert graph.order(g, []) == []


def test_order_independent_projects_in_one_generation(tmp_path: Path) -> None:
    ws = load_text(tmp_path, HEAD + "[projects.c]\n[projects.a]\n[projects.b]\n")
    assert graph.order(graph.build(ws)) == [["a", "b", "c"]]


def test_affected(tmp_path: Path) -> None:
    ws = load_text(tmp_path, MERGE)
    g = graph.build(ws)
    T, P = graph.template, graph.project
    # a template: the projects extending it (through other templates too) and their dependents
    assert graph.affected(g, [T("base")]) == {"vision"}
    assert graph.affected(g, [T("viz")]) == {"shared-utils", "vision"}
    # a project: itself and everything that depends on it
    assert graph.affected(g, [P("core")]) == {"core", "shared-utils", "vision"}
    assert graph.affected(g, [P("vision")]) == {"vision"}
    assert graph.affected(g, [P("webdev"), T("ml")]) == {"webdev", "vision"}
    assert graph.affected(g, [P("nonexistent")]) == set()
    assert graph.affected(g, []) == set()


# -- channels ------------------------------------------------------------------------------


def test_mirror_maps_conda_forge(tmp_path: Path) -> None:
    text = (
        '[workspace]\nname = "acme"\nchannels = ["conda-forge", "bioconda"]\n\n'
        '[workspace.mirrors]\n"conda-forge" = ["file:///srv/mirror/conda-forge"]\n\n'
        "[projects.a]\n"
    )
    ws = load_text(tmp_path, text)
    forge = "https://conda.anaconda.org/conda-forge"  # its identity: never the mirror
    assert graph.resolve_channel(ws, "conda-forge") == Channel(
        "conda-forge", ("file:///srv/mirror/conda-forge",), forge
    )
    bioconda = Channel("bioconda", ("bioconda",), "https://conda.anaconda.org/bioconda")
    assert graph.resolve_channel(ws, "bioconda") == bioconda
    d = graph.desired(ws, graph.build(ws), platform=PLATFORM)["a"]
    assert d.channels[0] == Channel("conda-forge", ("file:///srv/mirror/conda-forge",), forge)


def test_mirror_keyed_by_url_applies_to_the_name(tmp_path: Path) -> None:
    text = (
        HEAD + '[workspace.mirrors]\n"https://conda.anaconda.org/conda-forge" = '
        '["https://mirror.example/cf", "file:///srv/cf"]\n'
    )
    ws = load_text(tmp_path, text)
    assert graph.resolve_channel(ws, "conda-forge").urls == (
        "https://mirror.example/cf",
        "file:///srv/cf",
    )


def test_relative_mirror_resolves_against_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "ws"
    text = HEAD + '[workspace.mirrors]\n"conda-forge" = ["./mirror/cf"]\n'
    ws = load_text(root, text)
    assert graph.resolve_channel(ws, "conda-forge").urls == (
        (root / "mirror" / "cf").resolve().as_uri(),
    )


@pytest.mark.parametrize(
    ("declared", "relative"),
    [
        ("./channel", "channel"),
        ("../shared-channel", "../shared-channel"),
        ("file://local-chan", "local-chan"),
        (".", "."),
    ],
)
def test_local_channel_resolves_against_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: str, relative: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    root = tmp_path / "ws"
    ws = load_text(root, f'[workspace]\nname = "acme"\nchannels = ["{declared}"]\n')
    ch = graph.resolve_channel(ws, declared)
    assert ch.name == declared
    assert ch.urls == ((root / relative).resolve().as_uri(),)


def test_absolute_and_url_channels(tmp_path: Path) -> None:
    ws = load_text(tmp_path, HEAD)
    assert graph.resolve_channel(ws, "/srv/chan").urls == ("file:///srv/chan",)
    assert graph.resolve_channel(ws, "file:///srv/chan").urls == ("file:///srv/chan",)
    assert graph.resolve_channel(ws, "https://example.com/chan/").urls == (
        "https://example.com/chan",
    )


# -- spec hash -----------------------------------------------------------------------------

HASH_BASE = HEAD + '[projects.a]\npython = "3.11"\ndependencies = ["numpy", "pandas"]\n'


def test_spec_hash_stable(tmp_path: Path) -> None:
    a = desired(tmp_path / "1", HASH_BASE)["a"].spec_hash
    b = desired(tmp_path / "2", HASH_BASE + "# a comment\n")["a"].spec_hash
    assert a == b
    assert a.startswith("sha256:")


def test_spec_hash_ignores_dependency_order(tmp_path: Path) -> None:
    a = desired(tmp_path / "1", HASH_BASE)["a"].spec_hash
    swapped = HASH_BASE.replace('["numpy", "pandas"]', '["pandas", "numpy"]')
    assert desired(tmp_path / "2", swapped)["a"].spec_hash == a


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"pandas"]', '"pandas>=2"]'),  # a dependency changes
        ('"pandas"]', '"pandas", "scipy"]'),  # one is added
        ('python = "3.11"', 'python = "3.12"'),  # python changes
        ('["numpy", "pandas"]', '["numpy", "pandas"]\npip = ["rich"]'),  # pip added
        ('name = "acme"', 'name = "acme"\nchannels = ["bioconda"]'),  # channels
        ('name = "acme"', 'name = "acme"\nchannel-priority = "flexible"'),
    ],
)
def test_spec_hash_changes_with_the_spec(tmp_path: Path, old: str, new: str) -> None:
    a = desired(tmp_path / "1", HASH_BASE)["a"].spec_hash
    assert old in HASH_BASE
    assert desired(tmp_path / "2", HASH_BASE.replace(old, new, 1))["a"].spec_hash != a


def test_spec_hash_changes_with_platform(tmp_path: Path) -> None:
    ws = load_text(tmp_path, HASH_BASE)
    g = graph.build(ws)
    linux = graph.desired(ws, g, platform="linux-64")["a"].spec_hash
    mac = graph.desired(ws, g, platform="osx-arm64")["a"].spec_hash
    assert linux != mac


def test_spec_hash_changes_when_a_dependency_project_changes(tmp_path: Path) -> None:
    a = desired(tmp_path / "1", MERGE)
    b = desired(
        tmp_path / "2", MERGE.replace('dependencies = ["attrs"]', 'dependencies = ["cattrs"]')
    )
    assert a["vision"].spec_hash != b["vision"].spec_hash
    assert a["core"].spec_hash != b["core"].spec_hash
    assert a["webdev"].spec_hash == b["webdev"].spec_hash


# -- channel priority, conda's meta-channels, python clashes, own package -------------------


def test_a_project_listing_a_templates_channel_puts_it_first(tmp_path: Path) -> None:
    d = desired(
        tmp_path,
        HEAD
        + '[templates.t]\nchannels = ["x", "y"]\n\n'
        + '[projects.p]\nextends = ["t"]\nchannels = ["y"]\n',
    )
    assert [c.name for c in d["p"].channels] == ["y", "x", "conda-forge"]


def test_nodefaults_drops_the_workspace_channels_and_defaults_means_anacondas(
    tmp_path: Path,
) -> None:
    # conda: `nodefaults` means none of the channels the user's settings add (for wsp,
    # the workspace's); `defaults` is Anaconda's main and r
    d = desired(tmp_path, HEAD + '[projects.p]\nchannels = ["nodefaults", "defaults"]\n')
    assert [c.name for c in d["p"].channels] == [*channels.DEFAULTS]
    d = desired(tmp_path, HEAD + '[projects.p]\nchannels = ["defaults"]\n')
    assert [c.name for c in d["p"].channels] == [*channels.DEFAULTS, "conda-forge"]


def test_defaults_is_main_and_r_when_mirrored_fetched_from_its_mirror(tmp_path: Path) -> None:
    # a mirror is where a channel is fetched from, not which channel it is: `defaults`
    # stays Anaconda's main and r (records, wsp.lock and exports name them), the same
    # declaration as without the mirror; a mirror keyed by one of the URLs wins for it
    text = (
        '[workspace]\nname = "acme"\nchannels = ["defaults"]\n\n'
        '[workspace.mirrors]\n"defaults" = ["./mirror"]\n\n[projects.p]\n'
    )
    d = desired(tmp_path, text)
    mirror = (tmp_path / "mirror").resolve().as_uri()
    assert [(c.name, c.identity, c.urls) for c in d["p"].channels] == [
        (url, url, (mirror,)) for url in channels.DEFAULTS
    ]
    r_mirror = f'"{channels.DEFAULTS[1]}" = ["./r"]\n'
    e = desired(tmp_path, text.replace("[projects.p]", r_mirror + "[projects.p]"))
    assert [c.urls for c in e["p"].channels] == [(mirror,), ((tmp_path / "r").resolve().as_uri(),)]
    plain = desired(tmp_path, text.replace('"defaults" = ["./mirror"]', ""))
    assert plain["p"].lock_hash == d["p"].lock_hash == e["p"].lock_hash
    assert plain["p"].spec_hash == d["p"].spec_hash


def test_a_python_spec_among_dependencies_that_clashes_is_located_and_named(
    tmp_path: Path,
) -> None:
    text = HEAD + '[projects.p]\npython = "3.11"\ndependencies = ["six", "python>=3.12"]\n'
    exc = graph_error(tmp_path, text)
    assert exc.line == line_of(text, "dependencies")
    assert exc.col == text.splitlines()[exc.line - 1].index('"python>=3.12"') + 1
    assert "project p (python 3.11.*) and project p's 'python>=3.12'" in exc.message


def test_python_specs_clashing_only_all_together_are_one_located_error(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[templates.a]\npython = "!=3.11.0"\n\n[templates.b]\npython = "!=3.11.1"\n\n'
        + '[projects.p]\nextends = ["a", "b"]\npython = ">=3.11,<=3.11.1"\n'
    )
    exc = graph_error(tmp_path, text)
    assert "no Python satisfies all of" in exc.message
    assert exc.line == line_of(text, 'python = ">=3.11')


def test_a_projects_own_package_is_importable_in_its_env(tmp_path: Path) -> None:
    (tmp_path / "projects" / "p" / "src").mkdir(parents=True)
    (tmp_path / "projects" / "p" / "pyproject.toml").write_text('[project]\nname = "p"\n')
    d = desired(tmp_path, HEAD + '[projects.p]\npython = "3.11"\n\n[projects.q]\n')
    assert d["p"].editables == (("p", str((tmp_path / "projects" / "p" / "src").resolve())),)
    assert d["q"].editables == ()  # no python: nothing to import with


def test_mermaid_ids_keep_names_that_differ_in_punctuation_apart() -> None:
    """`a-b`, `a_b` and `a.b` are three projects (and `a` a template too): three nodes."""
    from wsp.commands.graph import _node_id

    nodes = [("project", n) for n in ("a-b", "a_b", "a.b", "a_2d_b")] + [("template", "a-b")]
    ids = [_node_id(n) for n in nodes]
    assert len(set(ids)) == len(ids), ids
    assert all(i.replace("_", "").isalnum() for i in ids), ids


def test_graph_tree_shows_the_python_an_environment_file_declares(tmp_path: Path) -> None:
    from wsp.commands.graph import _python

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "environment.yml").write_text("dependencies:\n  - python=3.11\n")
    (tmp_path / "workspace.toml").write_text(
        '[workspace]\nname = "w"\n[projects.p]\npath = "p"\nenvironment-file = "environment.yml"\n'
        '[projects.q]\npython = "3.12"\n'
    )
    ws = load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    assert _python(ws.projects["p"]) == "3.11.* (environment.yml)"
    assert _python(ws.projects["q"]) == "3.12.*"
