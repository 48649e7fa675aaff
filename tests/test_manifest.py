"""workspace.toml -> Workspace: defaults, paths, environment files and located errors.

Pure: every test writes a workspace.toml into tmp_path and calls `wsp.manifest.load`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wsp import graph
from wsp.errors import ManifestError, WspError
from wsp.manifest import find_manifest, load, normalize_python
from wsp.manifest.locate import TomlPositions

# -- helpers -------------------------------------------------------------------------------


def write(root: Path, text: str | bytes, name: str = "workspace.toml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_text(root: Path, text: str | bytes):
    return load(write(root, text), envs_dir_default=root / "default-envs")


def line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of `needle`."""
    idx = text.index(needle)
    return text.count("\n", 0, idx) + 1


def col_of(text: str, needle: str) -> int:
    """1-based column of the first occurrence of `needle` on its line."""
    idx = text.index(needle)
    return idx - (text.rfind("\n", 0, idx) + 1) + 1


def pipeline_error(root: Path, text: str | bytes) -> ManifestError:
    """The ManifestError of loading `text` and building its graph and desired envs."""
    with pytest.raises(ManifestError) as info:
        ws = load_text(root, text)
        g = graph.build(ws)
        graph.desired(ws, g, platform="linux-64")
    return info.value


HEAD = '[workspace]\nname = "acme"\n\n'


# -- defaults ------------------------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    ws = load_text(tmp_path, HEAD + "[projects.finance]\n")
    assert ws.name == "acme"
    assert ws.root == tmp_path.resolve()
    assert ws.manifest_path == (tmp_path / "workspace.toml").resolve()
    assert ws.channels == ("conda-forge",)
    assert ws.channel_priority == "strict"
    assert ws.platforms == ()
    assert ws.env_prefix == ""
    assert ws.mirrors == {}
    assert ws.envs_dir == (tmp_path / "default-envs").resolve()
    assert ws.templates == {}
    p = ws.projects["finance"]
    assert p.path == (tmp_path / "projects" / "finance").resolve()
    assert p.env_name == "finance"
    assert p.python is None
    assert p.dependencies == ()
    assert p.pip == ()
    assert p.channels == ()
    assert p.extends == ()
    assert p.depends_on == ()
    assert p.env_file is None
    assert ws.source_hash.startswith("sha256:")


def test_workspace_without_projects(tmp_path: Path) -> None:
    ws = load_text(tmp_path, HEAD)
    assert ws.projects == {}


def test_explicit_values_are_kept(tmp_path: Path) -> None:
    text = (
        "[workspace]\n"
        'name = "acme-research"\n'
        'channels = ["bioconda", "conda-forge"]\n'
        'channel-priority = "flexible"\n'
        'platforms = ["linux-64", "osx-arm64"]\n'
        "\n"
        "[projects.finance]\n"
        'path = "code/fin"\n'
        'python = "3.9"\n'
        'dependencies = ["pandas>=2", "scikit-learn"]\n'
        'pip = ["torchmetrics==1.0.0"]\n'
        'channels = ["pytorch"]\n'
    )
    ws = load_text(tmp_path, text)
    assert ws.channels == ("bioconda", "conda-forge")
    assert ws.channel_priority == "flexible"
    assert ws.platforms == ("linux-64", "osx-arm64")
    p = ws.projects["finance"]
    assert p.path == (tmp_path / "code" / "fin").resolve()
    assert p.python == "3.9.*"
    assert p.dependencies == ("pandas>=2", "scikit-learn")
    assert p.pip == ("torchmetrics==1.0.0",)
    assert p.channels == ("pytorch",)


@pytest.mark.parametrize(
    ("declared", "normalized"),
    [
        ("3.9", "3.9.*"),
        ("3.11", "3.11.*"),
        ("3", "3.*"),
        ("3.9.18", "==3.9.18"),
        (">=3.10", ">=3.10"),
        ("3.11.*", "3.11.*"),
        (">=3.9,<3.12", ">=3.9,<3.12"),
        (" 3.12 ", "3.12.*"),
    ],
)
def test_python_normalized(tmp_path: Path, declared: str, normalized: str) -> None:
    assert normalize_python(declared) == normalized
    ws = load_text(tmp_path, HEAD + f'[projects.p]\npython = "{declared}"\n')
    assert ws.projects["p"].python == normalized


def test_template_python_normalized(tmp_path: Path) -> None:
    ws = load_text(tmp_path, HEAD + '[templates.t]\npython = "3.12"\ndependencies = ["numpy"]\n')
    t = ws.templates["t"]
    assert t.python == "3.12.*"
    assert t.dependencies == ("numpy",)


def test_envs_dir_relative_to_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative to the workspace root, not to the cwd
    root = tmp_path / "ws"
    ws = load_text(root, '[workspace]\nname = "acme"\nenvs-dir = ".wsp/envs"\n')
    assert ws.envs_dir == (root / ".wsp" / "envs").resolve()


def test_envs_dir_absolute(tmp_path: Path) -> None:
    target = tmp_path / "abs-envs"
    ws = load_text(tmp_path, f'[workspace]\nname = "acme"\nenvs-dir = "{target}"\n')
    assert ws.envs_dir == target.resolve()


def test_env_prefix(tmp_path: Path) -> None:
    text = '[workspace]\nname = "acme"\nenv-prefix = "acme-"\n\n[projects.finance]\n'
    ws = load_text(tmp_path, text)
    assert ws.env_prefix == "acme-"
    assert ws.projects["finance"].env_name == "acme-finance"
    g = graph.build(ws)
    d = graph.desired(ws, g, platform="linux-64")["finance"]
    assert d.env_name == "acme-finance"
    assert d.prefix == ws.envs_dir / "acme-finance"


def test_bad_env_prefix(tmp_path: Path) -> None:
    text = '[workspace]\nname = "acme"\nenv-prefix = "../"\n'
    exc = pipeline_error(tmp_path, text)
    assert (exc.line, exc.col) == (3, col_of(text, '"../"'))
    assert "env-prefix" in exc.message


def test_mirrors(tmp_path: Path) -> None:
    text = (
        HEAD + "[workspace.mirrors]\n"
        '"conda-forge" = ["file:///srv/mirror/conda-forge", "https://mirror.example/cf"]\n'
    )
    ws = load_text(tmp_path, text)
    assert ws.mirrors == {
        "conda-forge": ("file:///srv/mirror/conda-forge", "https://mirror.example/cf")
    }


def test_source_hash_follows_the_text(tmp_path: Path) -> None:
    a = load_text(tmp_path / "a", HEAD + "[projects.x]\n").source_hash
    b = load_text(tmp_path / "b", HEAD + "[projects.x]\n").source_hash
    c = load_text(tmp_path / "c", HEAD + '[projects.x]\npython = "3.9"\n').source_hash
    assert a == b
    assert a != c


# -- environment files ---------------------------------------------------------------------

ENV_YML = """\
name: legacy
channels:
  - bioconda
  - conda-forge
dependencies:
  - numpy=1.26
  - scipy>=1.11
  - pip
  - pip:
    - requests==2.31.0
    - rich
"""


def test_environment_file_merged(tmp_path: Path) -> None:
    write(tmp_path, ENV_YML, "projects/legacy/environment.yml")
    text = HEAD + '[projects.legacy]\npython = "3.10"\nenvironment-file = "environment.yml"\n'
    ws = load_text(tmp_path, text)
    ef = ws.projects["legacy"].env_file
    assert ef is not None
    assert ef.path == (tmp_path / "projects/legacy/environment.yml").resolve()
    assert ef.name == "legacy"
    assert ef.channels == ("bioconda", "conda-forge")
    assert ef.dependencies == ("numpy=1.26", "scipy>=1.11", "pip")
    assert ef.pip == ("requests==2.31.0", "rich")

    d = graph.desired(ws, graph.build(ws), platform="linux-64")["legacy"]
    assert "numpy=1.26" in d.specs  # as written: the solver's strict parser reads it the same
    assert "scipy>=1.11" in d.specs
    assert d.pip == ("requests==2.31.0", "rich")
    assert [c.name for c in d.channels] == ["bioconda", "conda-forge"]


def test_environment_file_relative_to_project_path(tmp_path: Path) -> None:
    write(tmp_path, "dependencies:\n  - numpy\n", "code/app/env/conda.yml")
    text = HEAD + '[projects.app]\npath = "code/app"\nenvironment-file = "env/conda.yml"\n'
    ws = load_text(tmp_path, text)
    assert ws.projects["app"].env_file.dependencies == ("numpy",)


def test_environment_file_changes_source_hash(tmp_path: Path) -> None:
    text = HEAD + '[projects.legacy]\nenvironment-file = "environment.yml"\n'
    write(tmp_path, ENV_YML, "projects/legacy/environment.yml")
    first = load_text(tmp_path, text).source_hash
    write(tmp_path, ENV_YML.replace("numpy=1.26", "numpy=2.0"), "projects/legacy/environment.yml")
    assert load_text(tmp_path, text).source_hash != first


def test_environment_file_python_becomes_the_python_constraint(tmp_path: Path) -> None:
    write(tmp_path, "dependencies:\n  - python=3.10\n  - numpy\n", "projects/a/environment.yml")
    ws = load_text(tmp_path, HEAD + '[projects.a]\nenvironment-file = "environment.yml"\n')
    d = graph.desired(ws, graph.build(ws), platform="linux-64")["a"]
    assert d.python == "3.10.*"
    assert d.specs == ("python 3.10.*", "numpy")


def test_missing_environment_file(tmp_path: Path) -> None:
    text = HEAD + '[projects.legacy]\nenvironment-file = "environment.yml"\n'
    exc = pipeline_error(tmp_path, text)
    assert exc.path.name == "workspace.toml"
    assert exc.line == line_of(text, "environment-file")
    assert exc.col == col_of(text, '"environment.yml"')
    assert "environment.yml" in exc.message
    assert "not found" in exc.message


def test_environment_file_yaml_error_is_located_in_that_file(tmp_path: Path) -> None:
    yml = "name: a\nchannels:\n  - conda-forge\ndependencies:\n  - numpy\n   bad: indent\n"
    env_path = write(tmp_path, yml, "projects/a/environment.yml")
    exc = pipeline_error(tmp_path, HEAD + '[projects.a]\nenvironment-file = "environment.yml"\n')
    assert exc.path == env_path.resolve()
    assert exc.line == 6
    assert "invalid YAML" in exc.message


def test_environment_file_bad_spec_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "dependencies:\n  - numpy >>3\n", "projects/a/environment.yml")
    text = HEAD + '[projects.a]\nenvironment-file = "environment.yml"\n'
    exc = pipeline_error(tmp_path, text)
    assert exc.path.name == "environment.yml"  # located in the file that has it
    assert (exc.line, exc.col) == (2, 5)
    assert "numpy >>3" in exc.message


@pytest.mark.parametrize(
    ("yml", "fragment"),
    [
        ("- just\n- a list\n", "mapping"),
        ("dependencies: numpy\n", "'dependencies' must be a list"),
        ("channels: conda-forge\ndependencies: []\n", "'channels' must be a list"),
        ("dependencies:\n  - numpy\n  - {conda: x}\n", "only match specs and a '- pip:' list"),
    ],
)
def test_environment_file_wrong_shapes(tmp_path: Path, yml: str, fragment: str) -> None:
    write(tmp_path, yml, "projects/a/environment.yml")
    exc = pipeline_error(tmp_path, HEAD + '[projects.a]\nenvironment-file = "environment.yml"\n')
    assert exc.path.name == "environment.yml"
    assert fragment in exc.message


# -- located errors ------------------------------------------------------------------------

# (id, text, needle of the error's line, needle of its column or None, message fragments)
BAD: list[tuple[str, str, str, str | None, tuple[str, ...]]] = [
    (
        "unknown-key",
        HEAD + '[projects.a]\npython = "3.9"\ndependecies = ["numpy"]\n',
        "dependecies",
        "dependecies",
        ("unknown key 'dependecies'", "[projects.a]", "did you mean 'dependencies'?"),
    ),
    (
        "snake-case-key-alone",
        HEAD + '[projects.a]\npath = "a"\nenvironment_file = "environment.yml"\n',
        "environment_file",
        "environment_file",
        ("unknown key 'environment_file'", "did you mean 'environment-file'?"),
    ),
    (
        "snake-case-workspace-key",
        '[workspace]\nname = "acme"\nenvs_dir = "envs"\n',
        "envs_dir",
        "envs_dir",
        ("unknown key 'envs_dir'", "did you mean 'envs-dir'?"),
    ),
    (
        "snake-case-jupyter-key",
        HEAD + '[projects.a]\njupyter = { display_name = "A" }\n',
        "display_name",
        None,
        ("unknown key 'display_name'", "did you mean 'display-name'?"),
    ),
    (
        "unknown-workspace-key",
        '[workspace]\nname = "acme"\nchanels = ["conda-forge"]\n',
        "chanels",
        "chanels",
        ("unknown key 'chanels'", "did you mean 'channels'?"),
    ),
    (
        "unknown-top-level-key",
        HEAD + "[project.a]\n",
        "[project.a]",
        None,
        ("unknown key 'project'", "did you mean 'projects'?"),
    ),
    (
        "unknown-policy-key",
        HEAD + '[policy.naming]\npatern = "^x$"\n',
        "patern",
        "patern",
        ("unknown key 'patern'", "did you mean 'pattern'?"),
    ),
    (
        "bad-match-spec",
        HEAD + '[projects.a]\ndependencies = [\n  "pandas",\n  "numpy >>3",\n]\n',
        '"numpy >>3"',
        '"numpy >>3"',
        ("'numpy >>3' is not a valid conda match spec",),
    ),
    (
        "bad-template-spec",
        HEAD + '[templates.ml]\ndependencies = ["pytorch>=2.0", "numpy >>3"]\n',
        '"numpy >>3"',
        '"numpy >>3"',
        ("'numpy >>3' is not a valid conda match spec",),
    ),
    (
        "python-3.x",
        HEAD + '[projects.a]\npython = "3.x"\n',
        '"3.x"',
        '"3.x"',
        ("python = '3.x'", "not a Python version spec"),
    ),
    (
        "python-banana",
        HEAD + '[projects.a]\npython = "banana"\n',
        '"banana"',
        '"banana"',
        ("python = 'banana'", "not a Python version spec"),
    ),
    (
        "python-no-release",
        HEAD + '[projects.a]\npython = "4.0"\n',
        '"4.0"',
        '"4.0"',
        ("python = '4.0'",),
    ),
    (
        "depends-on-cycle",
        HEAD + '[projects.a]\ndepends-on = ["b"]\n\n[projects.b]\ndepends-on = ["a"]\n',
        '["b"]',
        '"b"',
        ("cycle", "a -> b -> a"),
    ),
    (
        "template-cycle",
        HEAD + '[templates.t1]\nextends = ["t2"]\n\n[templates.t2]\nextends = ["t1"]\n\n'
        '[projects.a]\nextends = ["t1"]\n',
        '["t2"]',
        '"t2"',
        ("cycle", "t1 -> t2 -> t1"),
    ),
    (
        "unknown-template",
        HEAD + '[templates.ml]\n\n[projects.a]\nextends = ["mll"]\n',
        '"mll"',
        '"mll"',
        ("unknown template 'mll'", "did you mean 'ml'?"),
    ),
    (
        "unknown-project",
        HEAD + '[projects.shared]\n\n[projects.a]\ndepends-on = ["sharde"]\n',
        '"sharde"',
        '"sharde"',
        ("unknown project 'sharde'", "did you mean 'shared'?"),
    ),
    (
        "python-conflict",
        HEAD + '[projects.shared]\npython = ">=3.10"\n\n'
        '[projects.a]\npython = "3.9"\ndepends-on = ["shared"]\n',
        'python = "3.9"',
        None,
        ("project shared", "project a", ">=3.10", "3.9"),
    ),
    (
        "escaping-dotdot",
        HEAD + '[projects."../evil"]\npython = "3.9"\n',
        '[projects."../evil"]',
        '[projects."../evil"]',
        ("'../evil'",),
    ),
    (
        "escaping-hidden",
        HEAD + '[projects.".hidden"]\n',
        '[projects.".hidden"]',
        '[projects.".hidden"]',
        ("'.hidden'",),
    ),
    (
        "escaping-slash",
        HEAD + '[projects."a/b"]\n',
        '[projects."a/b"]',
        '[projects."a/b"]',
        ("'a/b'",),
    ),
    (
        "missing-name",
        '# acme\n\n[workspace]\nchannels = ["conda-forge"]\n\n[projects.a]\n',
        "[workspace]",
        "[workspace]",
        ("name",),
    ),
    (
        "empty-name",
        '[workspace]\nname = "  "\n',
        'name = "  "',
        '"  "',
        ("name",),
    ),
    (
        "missing-workspace-table",
        '[projects.a]\npython = "3.9"\n',
        "[projects.a]",
        None,
        ("[workspace]",),
    ),
    (
        "wrong-type-dependencies",
        HEAD + '[projects.a]\ndependencies = "numpy"\n',
        'dependencies = "numpy"',
        '"numpy"',
        ("dependencies must be a list", "'numpy'"),
    ),
    (
        "wrong-type-name",
        "[workspace]\nname = 5\n",
        "name = 5",
        "5",
        ("must be a string",),
    ),
    (
        "wrong-type-element",
        HEAD + "[projects.a]\npip = [\n  1,\n]\n",
        "  1,",
        "1,",
        ("must be a string",),
    ),
    (
        "bad-channel-priority",
        '[workspace]\nname = "acme"\nchannel-priority = "sometimes"\n',
        "channel-priority",
        '"sometimes"',
        ("'sometimes'", "strict", "flexible", "disabled"),
    ),
    (
        "bad-rule-severity",
        HEAD + '[policy.rules]\nWSP302 = "warning"\n',
        "WSP302",
        '"warning"',
        ("'warning'", "warn"),
    ),
    (
        "toml-syntax",
        HEAD + '[projects.a]\npython = "3.9\ndependencies = []\n',
        'python = "3.9',
        None,
        ("invalid TOML",),
    ),
    (
        "toml-syntax-bare-value",
        "[workspace]\nname = acme\n",
        "name = acme",
        None,
        ("invalid TOML", 'write text in double quotes: "acme"'),
    ),
    # each syntax error says how to mend it, from what the line has before the error
    (
        "toml-missing-value",
        HEAD + "[projects.a]\npython = \n",
        "python = \n",
        None,
        ("invalid TOML", "give python a value after '='"),
    ),
    (
        "toml-bare-word-in-array",
        '[workspace]\nname = "a"\nchannels = ["conda-forge", bioconda]\n',
        "channels",
        "bioconda",
        ('write text in double quotes: "bioconda"',),
    ),
    (
        "toml-array-without-comma",
        HEAD + '[projects.a]\ndependencies = ["numpy" "scipy"]\n',
        "dependencies",
        '"scipy"',
        ("separate the array's items with commas",),
    ),
    (
        "toml-key-without-equals",
        HEAD + '[projects.a]\npython "3.9"\n',
        'python "3.9"',
        None,
        ("join the key and its value with '='",),
    ),
    (
        "toml-two-values",
        HEAD + '[projects.a]\npython = "3.9" numpy\n',
        'python = "3.9" numpy',
        "numpy",
        ("write one value per line",),
    ),
    (
        "toml-empty-key",
        HEAD + '[projects.a]\n= "3.9"\n',
        '= "3.9"',
        None,
        ("write the key's name before '='",),
    ),
    (
        "wrong-type-workspace-table",
        "workspace = [1]\n",
        "workspace",
        "[1]",
        ("workspace must be a table",),
    ),
    (
        "wrong-type-python-float",
        HEAD + "[projects.a]\npython = 3.10\n",  # TOML reads the number 3.1
        "python = 3.10",
        "3.10",
        ("python must be a string", 'quote it, python = "3.10"'),
    ),
    (
        "wrong-type-bool-as-string",  # TOML is typed: no "yes" for true, as the schema says
        HEAD + '[policy.pip]\npinned = "yes"\n',
        'pinned = "yes"',
        '"yes"',
        ("policy.pip.pinned must be true or false", "'yes'"),
    ),
    (
        "wrong-type-number-as-string",
        HEAD + '[policy]\nstale-days = "30"\n',
        'stale-days = "30"',
        '"30"',
        ("policy.stale-days must be an integer", "'30'"),
    ),
    (
        "toml-duplicate-key",
        '[workspace]\nname = "a"\nname = "b"\n',
        'name = "b"',
        'name = "b"',
        ("invalid TOML", "name"),
    ),
    (
        "toml-duplicate-key-inline",
        HEAD + '[projects]\na = { python = "3.9", python = "3.10" }\n',
        "a = {",
        'python = "3.10"',
        ("invalid TOML", "python"),
    ),
    (
        "toml-duplicate-table",
        HEAD + '[projects.a]\npython = "3.9"\n\n[projects.b]\n\n[projects.a]\n'
        'python = "3.10"\ndependencies = []\n\n[projects.c]\n',
        '[projects.a]\npython = "3.10"',
        None,
        ("invalid TOML",),
    ),
    (
        "non-utf8",
        '[workspace]\nname = "acme"\n# caf\udce9\n',
        "# caf",
        "\udce9",
        ("UTF-8",),
    ),
]


# Known bugs: the case's id -> why it fails (kept as strict xfails).
BAD_XFAIL: dict[str, str] = {}


def _bad_params() -> list:
    return [
        pytest.param(
            *case[1:],
            id=case[0],
            marks=[pytest.mark.xfail(reason=BAD_XFAIL[case[0]], strict=True)]
            if case[0] in BAD_XFAIL
            else [],
        )
        for case in BAD
    ]


@pytest.mark.parametrize(("text", "line_needle", "col_needle", "fragments"), _bad_params())
def test_located_error(
    tmp_path: Path, text: str, line_needle: str, col_needle: str | None, fragments: tuple[str, ...]
) -> None:
    data: str | bytes = text
    if "\udce9" in text:  # a lone 0xe9 byte: not UTF-8
        data = text.encode("utf-8", "surrogateescape")
    exc = pipeline_error(tmp_path, data)
    assert isinstance(exc, WspError)
    assert exc.path.name == "workspace.toml"
    assert exc.line == line_of(text, line_needle), exc.message
    if col_needle is not None:
        assert exc.col == col_of(text, col_needle), exc.message
    assert exc.col >= 1
    for fragment in fragments:
        assert fragment in exc.message
    # the rendered error is one line: PATH:LINE:COL: message
    assert "\n" not in str(exc)
    assert re.search(rf"workspace\.toml:{exc.line}:{exc.col}: \S", str(exc))


def test_unknown_key_without_close_match_lists_known_keys(tmp_path: Path) -> None:
    text = HEAD + '[projects.a]\nzzzzzz = "x"\n'
    exc = pipeline_error(tmp_path, text)
    assert exc.line == line_of(text, "zzzzzz")
    assert "unknown key 'zzzzzz'" in exc.message
    assert "dependencies" in exc.message  # the keys it knows


def test_unknown_template_without_close_match(tmp_path: Path) -> None:
    text = HEAD + '[projects.a]\nextends = ["quantum"]\n'
    exc = pipeline_error(tmp_path, text)
    assert "unknown template 'quantum'" in exc.message
    assert "[templates.quantum]" in exc.message


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("[workspace]\nname = acme\n", 2, 8),  # at the unexpected 'a'
        ('[workspace]\nname = "a"\n[workspace]\n', 3, 1),  # at the duplicate header
    ],
    ids=["bare-value", "duplicate-table"],
)
def test_toml_syntax_error_column_is_one_based(
    tmp_path: Path, text: str, line: int, col: int
) -> None:
    exc = pipeline_error(tmp_path, text)
    assert (exc.line, exc.col) == (line, col)


def test_duplicate_key_is_a_located_error(tmp_path: Path) -> None:
    text = '[workspace]\nname = "a"\nname = "b"\n'
    exc = pipeline_error(tmp_path, text)
    assert exc.line == 3


def test_error_about_dotted_key_prefix_points_at_its_line(tmp_path: Path) -> None:
    text = HEAD + '[projects]\nok = {}\n"../evil".python = "3.9"\n'
    exc = pipeline_error(tmp_path, text)
    assert exc.line == line_of(text, '"../evil"')


def test_project_name_too_long_for_an_env_dir(tmp_path: Path) -> None:
    name = "a" * 300
    text = HEAD + f'[projects.{name}]\npython = "3.11"\n'
    exc = pipeline_error(tmp_path, text)
    assert exc.line == line_of(text, "[projects.")


def test_error_inside_inline_table(tmp_path: Path) -> None:
    text = HEAD + '[projects]\nfoo = { python = "3.9", dependencies = ["a", "numpy >>3"] }\n'
    exc = pipeline_error(tmp_path, text)
    assert (exc.line, exc.col) == (line_of(text, "foo ="), col_of(text, '"numpy >>3"'))


def test_error_under_dotted_key(tmp_path: Path) -> None:
    text = HEAD + '[projects]\nfoo.python = "banana"\n'
    exc = pipeline_error(tmp_path, text)
    assert (exc.line, exc.col) == (line_of(text, "foo.python"), col_of(text, '"banana"'))


def test_error_with_crlf_line_endings(tmp_path: Path) -> None:
    text = HEAD + '[projects.a]\npython = "banana"\n'
    exc = pipeline_error(tmp_path, text.replace("\n", "\r\n").encode())
    assert (exc.line, exc.col) == (line_of(text, "banana"), col_of(text, '"banana"'))


# -- find_manifest -------------------------------------------------------------------------


def test_find_manifest_in_a_parent(tmp_path: Path) -> None:
    manifest = write(tmp_path, HEAD)
    deep = tmp_path / "projects" / "a" / "src"
    deep.mkdir(parents=True)
    assert find_manifest(deep) == manifest.resolve()


def test_find_manifest_none(tmp_path: Path) -> None:
    with pytest.raises(WspError) as info:
        find_manifest(tmp_path)
    assert not isinstance(info.value, ManifestError)
    assert "wsp init" in str(info.value)


# -- TomlPositions -------------------------------------------------------------------------

DOC = """\
# top [comment]
[workspace]  # trailing
name = "acme"   # "quoted" comment
channels = [
  # [not a table]
  "conda-forge",  # one
  'bioconda',
]

[ projects . "my.proj" ]
python = "3.9"
dependencies = ["a", "b # not a comment", 'c']

[projects.'lit.key']
x.y . z = 1
inl = { a = 1, "b.c" = [1, [2, 3]], d = { e = "f" } }

[projects."esc\\u0061ped"]
desc = \"\"\"multi
line "quoted" \"\"\"
after = true
"""


@pytest.fixture(scope="module")
def pos() -> TomlPositions:
    return TomlPositions(DOC)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("workspace",), False, (2, 1)),
        (("workspace", "name"), False, (3, 1)),
        (("workspace", "name"), True, (3, 8)),
        (("workspace", "channels"), True, (4, 12)),
        (("workspace", "channels", 0), False, (6, 3)),
        (("workspace", "channels", 1), False, (7, 3)),
        (("projects", "my.proj"), False, (10, 1)),
        (("projects", "my.proj", "python"), True, (11, 10)),
        (("projects", "my.proj", "dependencies", 0), False, (12, 17)),
        (("projects", "my.proj", "dependencies", 1), False, (12, 22)),
        (("projects", "my.proj", "dependencies", 2), False, (12, 43)),
        (("projects", "lit.key"), False, (14, 1)),
        (("projects", "lit.key", "x", "y", "z"), False, (15, 1)),
        (("projects", "lit.key", "x", "y", "z"), True, (15, 11)),
        (("projects", "lit.key", "inl"), True, (16, 7)),
        (("projects", "lit.key", "inl", "a"), False, (16, 9)),
        (("projects", "lit.key", "inl", "a"), True, (16, 13)),
        (("projects", "lit.key", "inl", "b.c"), False, (16, 16)),
        (("projects", "lit.key", "inl", "b.c", 1), False, (16, 28)),
        (("projects", "lit.key", "inl", "b.c", 1, 1), False, (16, 32)),
        (("projects", "lit.key", "inl", "d", "e"), True, (16, 47)),
        (("projects", "escaped"), False, (18, 1)),
        (("projects", "escaped", "desc"), True, (19, 8)),
        (("projects", "escaped", "after"), False, (21, 1)),
    ],
)
def test_positions(
    pos: TomlPositions, path: tuple[str | int, ...], value: bool, expected: tuple[int, int]
) -> None:
    assert pos.find(path, value=value) == expected


def test_positions_fall_back_to_nearest_ancestor(pos: TomlPositions) -> None:
    # a missing key is reported at its table, a missing value at its key
    assert pos.find(("projects", "my.proj", "pip", 3)) == (10, 1)
    assert pos.find(("projects", "my.proj", "dependencies", 7), value=True) == (12, 1)
    assert pos.find(("workspace",), value=True) == (2, 1)
    assert pos.find(("nowhere", "at", "all")) == (1, 1)
    assert pos.find(()) == (1, 1)


def test_positions_survive_malformed_text() -> None:
    p = TomlPositions('[workspace]\nname = "acme"\n[projects.a\npython = "3.9"\n')
    assert p.find(("workspace", "name")) == (2, 1)


def test_line_col() -> None:
    p = TomlPositions("ab\ncd\n\nef")
    assert p.line_col(0) == (1, 1)
    assert p.line_col(1) == (1, 2)
    assert p.line_col(3) == (2, 1)
    assert p.line_col(6) == (3, 1)
    assert p.line_col(8) == (4, 2)
