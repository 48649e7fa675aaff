"""Environment files read as conda reads them (issue 12): specs, channels, the pip list,
variables, what is warned and what is refused, and what the merge makes of it.

Pure, in process: files in tmp_path, `read_env_file`, `wsp.pipreqs`, `load` and
`graph.desired`. One test applies an env for real (the solver's form of lenient specs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import rattler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cli import Workspace
from wsp import codec, graph, pipreqs
from wsp.errors import ManifestError
from wsp.manifest import load
from wsp.manifest.envfile import EnvFile, read_env_file
from wsp.pip import PipOptions
from wsp.specs import canonical_match_spec, check_match_spec, solver_match_spec, spec_channel

HEAD = '[workspace]\nname = "acme"\n\n'

# The spec forms of issue 12, each as conda reads it: (spec, name, version, build).
ISSUE_SPECS = [
    ("_libgcc_mutex=0.1=main", "_libgcc_mutex", "==0.1", "main"),
    ("python=3.8.8=hffdb5ce_0_cpython", "python", "==3.8.8", "hffdb5ce_0_cpython"),
    (
        "pytorch=1.11.0=py3.9_cuda11.3_cudnn8.2.0_0",
        "pytorch",
        "==1.11.0",
        "py3.9_cuda11.3_cudnn8.2.0_0",
    ),
    ("libblas=*=*openblas", "libblas", "*", "*openblas"),
    ("jaxlib>=0.4.31=cuda12*", "jaxlib", ">=0.4.31", "cuda12*"),
    ("pytorch::pytorch-mutex=*=*cuda*", "pytorch-mutex", "*", "*cuda*"),
    ("dask-cuda==25.8.*,>=0.0.0a0", "dask-cuda", "25.8.*,>=0.0.0a0", None),
    ("python", "python", None, None),
]


def write(root: Path, text: str | bytes, name: str = "environment.yml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def located(path: Path) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        read_env_file(path, root=path.parent)
    assert info.value.path == path, "the error names the file the user wrote"
    return info.value


def desired_of(root: Path, env_yml: str, toml: str = "") -> graph.DesiredEnv:
    write(root, env_yml, "projects/p/environment.yml")
    text = HEAD + toml + '[projects.p]\nenvironment-file = "environment.yml"\n'
    (root / "workspace.toml").write_text(text, encoding="utf-8")
    ws = load(root / "workspace.toml", envs_dir_default=root / "envs")
    return graph.desired(ws, graph.build(ws), platform="linux-64")["p"]


# -- specs as conda reads them ---------------------------------------------------------------


@pytest.mark.parametrize(("spec", "name", "version", "build"), ISSUE_SPECS)
def test_the_solver_gets_a_strict_form_of_the_same_meaning(
    spec: str, name: str, version: str | None, build: str | None
) -> None:
    assert check_match_spec(spec, strict=False) is None
    form = solver_match_spec(spec)
    strict = rattler.MatchSpec(form, strict=True)  # what rattler.solve re-parses
    assert strict.name.normalized == name
    assert (str(strict.version) if strict.version else None) == version
    assert (str(strict.build) if strict.build else None) == build
    assert rattler.MatchSpec(canonical_match_spec(spec), strict=True).build == strict.build


def test_spec_channels_as_written() -> None:
    assert spec_channel("pytorch::pytorch-mutex=*=*cuda*") == "pytorch"
    assert spec_channel("conda-forge/linux-64::numpy==1.2") == "conda-forge"
    assert spec_channel("https://104.17.92.24:443::flask=1.0.2") == "https://104.17.92.24:443"
    assert spec_channel("numpy[channel=conda-forge]") == "conda-forge"
    assert spec_channel("numpy>=1") is None


def test_any_channel_is_no_channel_pin_as_in_conda() -> None:
    # conda reads `*::numpy` as `numpy` (and `*/noarch::numpy` as numpy[subdir=noarch])
    assert spec_channel("*::numpy") is None and spec_channel("*/noarch::numpy") is None
    assert solver_match_spec("*::numpy>=1") == "numpy>=1"
    assert solver_match_spec("*/noarch::six") == 'six[subdir="noarch"]'


def test_an_any_channel_spec_is_planned_from_the_declared_channels(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(
        '[workspace]\nname = "any"\nchannels = ["conda-forge"]\nenvs-dir = ".wsp/envs"\n\n'
        '[workspace.mirrors]\n"conda-forge" = ["{channel}"]\n\n'
        '[projects.p]\npath = "p"\ndependencies = ["*::six"]\n'
        'environment-file = "environment.yml"\n'
    )
    write(ws.root, "dependencies:\n  - python=3.11\n  - '*::pandas'\n", "p/environment.yml")
    r = ws.wsp("plan", "--json")
    assert r.code == 0, r
    (action,) = r.json["actions"]
    assert {"six", "pandas"} <= {p["name"] for p in action["packages"]["add"]}, action
    assert "could not be reached" not in r.output, r  # no channel named `*` is fetched


def test_what_strict_parsing_reads_the_same_is_handed_on_as_written() -> None:
    for spec in ("pandas>=2", "numpy=1.26", "Pillow==12.3.0", "requests>=2.28.0,<3"):
        assert solver_match_spec(spec) == spec
    assert solver_match_spec("numpy 1.26.4") == "numpy ==1.26.4"


def test_a_spec_conda_refuses_is_refused() -> None:
    assert check_match_spec("numpy >>3", strict=False)
    assert check_match_spec("num py>>=", strict=False)  # the lenient parser alone takes it
    assert check_match_spec("fsspec[http]>=2023", strict=False)  # pip's extras


# -- the pip list ------------------------------------------------------------------------------


def test_pip_lines_are_typed_and_located(tmp_path: Path) -> None:
    write(tmp_path, "six==1.16.0\n\n# a comment\n-r more.txt\n--pre\n", "reqs.txt")
    write(tmp_path, "tinylib>=1 --hash=sha256:abc\n", "more.txt")
    where = pipreqs.Where(tmp_path / "environment.yml", 9, 7)
    kinds = {}
    for line in (
        "--index-url https://mirror.example/simple",
        "--extra-index-url=https://extra.example/simple",
        "-f ./wheels",
        "xmltodict==0.10.2",
        "-e git+https://github.com/x/argh.git#egg=argh",
        "--editable=./module_to_install_in_editable_mode",
        "./pkg[extra]",
        "https://example.com/x-1.0.tar.gz",
        "argh @ git+https://github.com/x/argh.git",
        "-r reqs.txt",
        "--trusted-host example.com",
        "--no-such-option",
    ):
        [entry] = pipreqs.parse_line(line, where, base=tmp_path, root=tmp_path)
        assert entry.where == where
        kinds[line] = entry
    assert isinstance(kinds["xmltodict==0.10.2"], pipreqs.Requirement)
    editable = kinds["--editable=./module_to_install_in_editable_mode"]
    assert isinstance(editable, pipreqs.Editable)
    assert editable.path == tmp_path / "module_to_install_in_editable_mode"
    vcs = kinds["-e git+https://github.com/x/argh.git#egg=argh"]
    assert isinstance(vcs, pipreqs.Editable) and vcs.url and vcs.name == "argh"
    assert kinds["./pkg[extra]"] == pipreqs.LocalPath(
        "./pkg[extra]", where, tmp_path / "pkg", "[extra]"
    )
    assert isinstance(kinds["https://example.com/x-1.0.tar.gz"], pipreqs.UrlRequirement)
    url_req = kinds["argh @ git+https://github.com/x/argh.git"]
    assert isinstance(url_req, pipreqs.Requirement) and url_req.url
    reqs = kinds["-r reqs.txt"]
    assert isinstance(reqs, pipreqs.RequirementsFile)
    inner = list(pipreqs.walk([reqs]))
    six = next(e for e in inner if isinstance(e, pipreqs.Requirement) and e.name == "six")
    assert six.where == pipreqs.Where(tmp_path / "reqs.txt", 1, 1)  # located in its own file
    tiny = next(e for e in inner if isinstance(e, pipreqs.Requirement) and e.name == "tinylib")
    assert tiny.options == ("--hash=sha256:abc",) and tiny.where.line == 1
    assert [r.name for r in pipreqs.requirements([reqs])] == ["six", "tinylib"]
    unknown = kinds["--no-such-option"]
    assert isinstance(unknown, pipreqs.Option) and not unknown.known

    options = pipreqs.options(kinds.values())
    assert options == PipOptions(
        index_url="https://mirror.example/simple",
        extra_index_urls=("https://extra.example/simple",),
        find_links=(str(tmp_path / "wheels"),),  # read from the file's folder
        pre=True,  # --pre in reqs.txt
    )
    # what wsp does not honour is said, never dropped; what it does is not
    said = [line for line, e in kinds.items() if pipreqs.unsupported(e) is not None]
    assert said == [
        "-e git+https://github.com/x/argh.git#egg=argh",  # installed, but not editable
        "--trusted-host example.com",
        "--no-such-option",
    ]
    inner_said = [e.text for e in pipreqs.walk([reqs]) if pipreqs.unsupported(e)]
    assert inner_said == ["tinylib>=1"]  # its --hash is ignored; --pre is honoured
    # what the pip layer installs: requirements (`name @ URL` too) and sources, in order
    reqs_, sources = pipreqs.pip_layer(kinds.values())
    assert reqs_ == [
        "xmltodict==0.10.2",
        "argh @ git+https://github.com/x/argh.git",
        "six==1.16.0",  # from -r reqs.txt
        "tinylib>=1",
    ]
    assert [(s.target, s.editable, s.name, s.extras) for s in sources] == [
        ("git+https://github.com/x/argh.git#egg=argh", False, "argh", ()),
        (str(tmp_path / "module_to_install_in_editable_mode"), True, None, ()),
        (str(tmp_path / "pkg"), False, None, ("extra",)),
        ("https://example.com/x-1.0.tar.gz", False, None, ()),
    ]
    assert (sources[1].file, sources[1].line, sources[1].col) == (str(where.path), 9, 7)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("transformers=~4.25", "a single '=' is conda's syntax"),
        ("numpy=1.26", "not a valid pip requirement"),
        ("-e numpy", "needs a local folder"),
        ("--index-url", "needs a value"),
        ("requests --pre", "can't follow a requirement"),
        ("-r ../outside.txt", "outside the workspace"),
        ("-r missing.txt", "can't be read"),
        ("-r https://example.com/r.txt", "from a URL is not read"),
        ("--hash=sha256:abc", "belongs after a requirement"),
    ],
)
def test_lines_pip_refuses_are_located_errors(tmp_path: Path, line: str, fragment: str) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("six\n")
    where = pipreqs.Where(root / "environment.yml", 5, 7)
    with pytest.raises(ManifestError) as info:
        pipreqs.parse_line(line, where, base=root, root=root)
    assert (info.value.path, info.value.line, info.value.col) == (where.path, 5, 7)
    assert fragment in info.value.message


def test_an_error_in_a_requirements_file_is_located_there(tmp_path: Path) -> None:
    write(tmp_path, "six\n  transformers=~4.25\n", "reqs.txt")
    env = write(tmp_path, "dependencies:\n  - pip:\n    - -r reqs.txt\n")
    exc = located_in(tmp_path / "reqs.txt", env)
    assert (exc.line, exc.col) == (2, 3)


@pytest.mark.parametrize(
    ("files", "line", "cycle"),
    [
        ({"req.txt": "six\n-r req.txt\n"}, 2, "req.txt -> req.txt"),
        (
            {"a.txt": "-r sub/b.txt\n", "sub/b.txt": "six\n-c ../a.txt\n"},
            2,
            "a.txt -> sub/b.txt -> a.txt",
        ),
    ],
)
def test_requirements_files_that_read_each_other_are_a_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], line: int, cycle: str
) -> None:
    monkeypatch.chdir(tmp_path)  # paths are shown relative to where wsp runs
    for name, text in files.items():
        write(tmp_path, text, name)
    first = next(iter(files))
    env = write(tmp_path, f"dependencies:\n  - pip:\n    - -r {first}\n")
    closing = tmp_path / list(files)[-1]
    exc = located_in(closing, env)
    assert exc.line == line
    assert f"requirements files read each other in a cycle ({cycle})" in exc.message


def located_in(where: Path, env: Path) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        read_env_file(env, root=env.parent)
    assert info.value.path == where
    return info.value


# -- reading the file --------------------------------------------------------------------------

FULL = """\
name: full
channels:
  - pytorch
  - conda-forge
  - nodefaults
dependencies:
  - python=3.11
  - pytorch::pytorch-mutex=*=*cuda*
  - numpy=1.26.4=py311h_0
  - pip:
    - --extra-index-url https://extra.example/simple
    - requests>=2
    - -e ./lib
variables:
  OMP_NUM_THREADS: 8
  EMPTY:
prefix: /opt/envs/full
extra_key: 1
"""


def test_a_full_file(tmp_path: Path) -> None:
    env = read_env_file(write(tmp_path, FULL))
    assert env.name == "full"
    assert env.channels == ("pytorch", "conda-forge", "nodefaults")
    assert env.dependencies == (
        "python=3.11",
        "pytorch::pytorch-mutex=*=*cuda*",
        "numpy=1.26.4=py311h_0",
    )
    assert env.pip == ("requests>=2",)
    assert env.pip_lines[0] == "--extra-index-url https://extra.example/simple"
    assert env.pip_options.extra_index_urls == ("https://extra.example/simple",)
    assert env.variables == (("OMP_NUM_THREADS", "8"), ("EMPTY", ""))
    assert not env.implicit_pip or "pip" not in env.dependencies
    said = [str(w) for w in env.warnings]
    assert not any(":13:7:" in w for w in said), said  # -e ./lib is installed (editable)
    assert any(":16:3: variable EMPTY has no value" in w for w in said), said
    assert any(":17:1: prefix is ignored" in w for w in said), said
    assert any(":18:1: unknown key 'extra_key' is ignored" in w for w in said), said
    # the desired-env cache stores it whole
    assert codec.load(EnvFile, json.loads(json.dumps(codec.dump(env)))) == env


@pytest.mark.parametrize(
    ("text", "line", "col", "fragment"),
    [
        ("", 1, 1, "is empty"),
        ("- numpy\n", 1, 1, "must be a mapping (name:, channels:, dependencies:), not a list"),
        ("42\n", 1, 1, "must be a mapping (name:, channels:, dependencies:), not a number"),
        ("dependencies: numpy\n", 1, 15, "'dependencies' must be a list"),
        ("dependencies:\n  - numpy\n  - numpy >>3\n", 3, 5, "not a conda match spec"),
        ("dependencies:\n  - {npm: [x]}\n", 2, 5, "'npm:' in dependencies"),
        ("dependencies:\n  - [a, b]\n", 2, 5, "match specs or a '- pip:' list"),
        ("dependencies:\n  - pip:\n    - transformers=~4.25\n", 3, 7, "not a valid pip"),
        ("dependencies:\n  - pip: numpy\n", 2, 10, "'pip' must be a list"),
        ("channels:\n  - https://x/t/${NOT_SET_IN_TESTS}/c\n", 2, 5, "not set"),
        ("channels:\n  - ''\n", 2, 5, "non-empty strings"),
        ("variables:\n  1BAD: x\n", 2, 3, "not a valid environment variable name"),
        ("variables:\n  A: x\n  PATH: /x\n", 3, 3, "PATH is set by activation itself"),
        ("variables:\n  A: [1]\n", 2, 6, "variable A must be a string, not a list"),
        ("variables:\n  A: {b: 1}\n", 2, 6, "variable A must be a string, not a mapping"),
        ("variables: [a]\n", 1, 12, "'variables' must be a mapping"),
        ("name: x\nname: y\n", 2, 1, 'invalid YAML: found duplicate key "name"'),
        ("dependencies:\n  - numpy\n   bad: indent\n", 3, 7, "indent this key as its neighbours"),
        # YAML's own errors say how to mend them; what is never closed, where it opened
        ("dependencies:\n\t- numpy\n", 2, 1, "indent with spaces"),
        ("dependencies: - numpy\n", 1, 15, "write the list below its key"),
        ("name: x: y\n", 1, 8, "put a value holding ': ' in quotes"),
        ("dependencies:\n  - numpy\n - scipy\n", 3, 2, "indent this line as the lines"),
        ('name: "x\ndependencies: []\n', 1, 7, "this quoted text is never closed"),
        ("dependencies:\n  - [numpy\n", 2, 5, "this '[' is never closed; add ']'"),
        ("dependencies:\n  - {a: b\n", 2, 5, "this '{' is never closed; add '}'"),
        ("dependencies:\n  - a: [\n", 3, 1, "the file ends inside a '[' or '{'"),
        (b"name: caf\xe9\n", 1, 1, "not valid UTF-8"),
        ("name: !!python/object/apply:os.system [ls]\n", 1, 7, "'name' must be a string"),
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", 1, 68, "nested more than 64 deep"),
        ("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 400)), 258, 1, "indented"),
    ],
)
def test_what_conda_refuses_is_one_located_error(
    tmp_path: Path, text: str | bytes, line: int, col: int, fragment: str
) -> None:
    exc = located(write(tmp_path, text))
    assert fragment in exc.message, exc.message
    assert (exc.line, exc.col) == (line, col), exc.message


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("- :[]{}\n\"'#=<>*!&|@~,.0aZ_pipdenc$\t")), max_size=120
    ).map(lambda s: "dependencies:\n  - " + s)
)
def test_any_file_loads_or_is_one_located_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    try:
        read_env_file(path, root=tmp_path)
    except ManifestError as exc:
        assert exc.path == path and exc.line >= 1 and exc.col >= 1


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=st.text(
        alphabet=st.sampled_from(list("-er ./~:@#=<>![],;'\"\\ \tabcx0129$_{}+")), max_size=40
    )
)
def test_any_pip_line_parses_or_is_one_located_error(tmp_path: Path, line: str) -> None:
    where = pipreqs.Where(tmp_path / "environment.yml", 3, 7)
    try:
        pipreqs.parse_line(line, where, base=tmp_path, root=tmp_path)
    except ManifestError as exc:
        assert (exc.path, exc.line, exc.col) == (where.path, 3, 7)


def test_a_bom_and_crlf_are_read(tmp_path: Path) -> None:
    env = read_env_file(write(tmp_path, b"\xef\xbb\xbfname: x\r\ndependencies:\r\n  - numpy\r\n"))
    assert (env.name, env.dependencies) == ("x", ("numpy",))


# -- what the merge makes of it ----------------------------------------------------------------


def test_a_pip_list_without_pip_or_python_adds_them_as_conda_does(tmp_path: Path) -> None:
    d = desired_of(tmp_path, "dependencies:\n  - car\n  - pip:\n    - foo\n")
    assert d.specs == ("python", "car", "pip")
    assert d.pip == ("foo",)
    assert d.python is None


def test_python_in_workspace_toml_pip_needs_no_python_key(tmp_path: Path) -> None:
    (tmp_path / "workspace.toml").write_text(HEAD + '[projects.p]\npip = ["rich"]\n')
    ws = load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    d = graph.desired(ws, platform="linux-64")["p"]
    assert d.specs == ("python",) and d.pip == ("rich",)


def test_bare_python_and_python_with_a_build_keep_their_meaning(tmp_path: Path) -> None:
    d = desired_of(tmp_path, "dependencies:\n  - python\n  - numpy\n")
    assert d.specs == ("python", "numpy")
    d = desired_of(tmp_path / "b", "dependencies:\n  - python=3.8.8=hffdb5ce_0_cpython\n")
    assert d.python == "==3.8.8"
    assert d.specs == ("python ==3.8.8", "python ==3.8.8 hffdb5ce_0_cpython")


def test_python_specs_that_clash_in_the_file_are_located_there(tmp_path: Path) -> None:
    env_yml = "name: p\ndependencies:\n  - python=3.9\n  - python=3.11\n"
    with pytest.raises(ManifestError) as info:
        desired_of(tmp_path, env_yml)
    exc = info.value
    assert (exc.path.name, exc.line, exc.col) == ("environment.yml", 4, 5)
    assert "environment.yml:3 of project p (python 3.9.*)" in exc.message
    assert "environment.yml:4 of project p (python 3.11.*)" in exc.message
    # workspace.toml's python against the file's: at the file's line, each side named
    write(tmp_path, "dependencies:\n  - python=3.9\n", "projects/p/environment.yml")
    text = HEAD + '[projects.p]\npython = "3.11"\nenvironment-file = "environment.yml"\n'
    (tmp_path / "workspace.toml").write_text(text, encoding="utf-8")
    ws = load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    with pytest.raises(ManifestError) as info:
        graph.desired(ws, platform="linux-64")
    exc = info.value
    assert (exc.path.name, exc.line, exc.col) == ("environment.yml", 2, 5)
    assert "both project p (python 3.11.*) and environment.yml:2 of project p" in exc.message


def test_channels_keep_the_files_order_and_spec_channels_come_last(tmp_path: Path) -> None:
    d = desired_of(
        tmp_path,
        "channels: [pytorch, conda-forge]\n"
        "dependencies:\n  - nvidia::cuda-toolkit\n  - pytorch::pytorch-mutex=*=*cuda*\n",
        toml="",
    )
    assert [c.name for c in d.channels] == ["pytorch", "conda-forge", "nvidia"]
    # nodefaults: none of the workspace's channels
    d = desired_of(tmp_path / "b", "channels: [pytorch, nodefaults]\ndependencies: [x]\n")
    assert [c.name for c in d.channels] == ["pytorch"]


def test_a_mirrored_spec_channel_keeps_its_declared_name(tmp_path: Path) -> None:
    mirror = '[workspace.mirrors]\n"pytorch" = ["./mirror"]\n\n'
    d = desired_of(tmp_path, "dependencies:\n  - pytorch::pytorch-mutex=*=*cuda*\n", mirror)
    url = (tmp_path / "mirror").resolve().as_uri()
    assert d.specs == ("pytorch::pytorch-mutex * *cuda*",)  # the engine solves it at the mirror
    assert [c.urls for c in d.channels if c.name == "pytorch"] == [(url,)]
    # the declaration wsp.lock records does not depend on the machine's mirrors
    plain = desired_of(tmp_path / "b", "dependencies:\n  - pytorch::pytorch-mutex=*=*cuda*\n")
    assert d.lock_hash == plain.lock_hash


def test_a_channel_variable_is_expanded_where_it_is_fetched_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSP_TEST_TOKEN", "s3cr3t")
    d = desired_of(tmp_path, "channels:\n  - https://x.example/t/${WSP_TEST_TOKEN}/c\n")
    [chan, _forge] = d.channels
    assert chan.name == "https://x.example/t/${WSP_TEST_TOKEN}/c"  # what records and locks name
    assert chan.urls == ("https://x.example/t/s3cr3t/c",)


def test_variables_and_env_vars_merge_and_change_the_spec_hash_only(tmp_path: Path) -> None:
    toml = '[templates.t]\nenv-vars = { A = "t", B = "t", C = "t" }\n\n'
    env_yml = "dependencies: [numpy]\nvariables:\n  B: file\n  C: file\n"
    write(tmp_path, env_yml, "projects/p/environment.yml")
    text = (
        HEAD
        + toml
        + '[projects.p]\nextends = ["t"]\nenvironment-file = "environment.yml"\n'
        + 'env-vars = { C = "project" }\n'
    )
    (tmp_path / "workspace.toml").write_text(text)
    ws = load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    d = graph.desired(ws, platform="linux-64")["p"]
    assert dict(d.env_vars) == {"A": "t", "B": "file", "C": "project"}
    (tmp_path / "workspace.toml").write_text(text.replace('"project"', '"other"'))
    ws = load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    e = graph.desired(ws, platform="linux-64")["p"]
    assert e.spec_hash != d.spec_hash  # the env must be rewritten
    assert e.lock_hash == d.lock_hash  # the packages are the same


def test_pip_options_of_the_file_reach_the_pip_layer(tmp_path: Path) -> None:
    env_yml = (
        "dependencies:\n  - python=3.11\n  - pip:\n    - --index-url https://idx.example/simple\n"
        "    - --find-links ./wheels\n    - rich\n"
    )
    toml = '[workspace.mirrors]\n"x" = ["./x"]\n\n'
    d = desired_of(tmp_path, env_yml, toml)
    assert d.pip_options.index_url == "https://idx.example/simple"
    assert d.pip_options.find_links == (str((tmp_path / "projects/p/wheels").resolve()),)


def test_a_pip_option_with_a_variable_is_not_used_as_it_says(tmp_path: Path) -> None:
    """WSP303 says a pip line with `${VAR}` is not used: its index never reaches uv."""
    env_yml = (
        "dependencies:\n  - python=3.11\n  - pip:\n"
        "    - --extra-index-url https://user:${PIPPASS}@idx.example/simple\n"
        "    - --extra-index-url https://open.example/simple\n    - rich\n"
    )
    env = read_env_file(write(tmp_path, env_yml))
    assert env.pip_options.args() == ["--extra-index-url", "https://open.example/simple"]
    assert any("${VAR}" in str(w) and "not used" in str(w) for w in env.warnings), env.warnings


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("--index-url https://x.example/simple", "pip-index-url"),
        ("-r requirements.txt", "requirements files are not read"),
        ("-e .", "local folder"),
        ("./lib", "local folder"),
        ("transformers=~4.25", "not a valid pip requirement"),
    ],
)
def test_workspace_toml_pip_takes_requirements_only(
    tmp_path: Path, entry: str, fragment: str
) -> None:
    text = HEAD + f'[projects.p]\npython = "3.11"\npip = [\n  "rich",\n  {json.dumps(entry)},\n]\n'
    (tmp_path / "workspace.toml").write_text(text)
    with pytest.raises(ManifestError) as info:
        load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    assert (info.value.line, info.value.col) == (8, 3)  # the entry itself
    assert fragment in info.value.message


def test_workspace_toml_takes_conda_forms_and_keeps_them_as_written(tmp_path: Path) -> None:
    text = HEAD + '[projects.p]\ndependencies = ["numpy=1.26=py_0", "libblas=*=*openblas"]\n'
    (tmp_path / "workspace.toml").write_text(text)
    ws = load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    assert ws.projects["p"].dependencies == ("numpy=1.26=py_0", "libblas=*=*openblas")
    d = graph.desired(ws, platform="linux-64")["p"]
    assert d.specs == ("numpy ==1.26 py_0", "libblas * *openblas")


@pytest.mark.parametrize(
    ("table", "fragment"),
    [('{ "1X" = "a" }', "not an environment variable name"), ("{ A = 1 }", "must be a string")],
)
def test_env_vars_are_checked(tmp_path: Path, table: str, fragment: str) -> None:
    (tmp_path / "workspace.toml").write_text(HEAD + f"[projects.p]\nenv-vars = {table}\n")
    with pytest.raises(ManifestError) as info:
        load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    assert info.value.line == 5 and fragment in info.value.message


def test_declared_is_what_was_written(tmp_path: Path) -> None:
    write(tmp_path, FULL.replace("    - -e ./lib\n", ""), "projects/p/environment.yml")
    text = HEAD + '[projects.p]\nenvironment-file = "environment.yml"\npip = ["six"]\n'
    (tmp_path / "workspace.toml").write_text(text)
    ws = load(tmp_path / "workspace.toml", envs_dir_default=tmp_path / "envs")
    decl = graph.declaration(ws, "p")
    assert decl.python == "3.11.*"
    # as written, and the pip conda adds for a pip: list
    assert decl.dependencies == (
        "pytorch::pytorch-mutex=*=*cuda*",
        "numpy=1.26.4=py311h_0",
        "pip",
    )
    assert decl.channels == ("pytorch", "conda-forge") and decl.nodefaults
    assert decl.pip == ("--extra-index-url https://extra.example/simple", "six", "requests>=2")
    assert decl.env_vars == (("OMP_NUM_THREADS", "8"), ("EMPTY", ""))


# -- for real: the solver takes what conda's forms mean ---------------------------------------


def test_conda_forms_solve_and_install(
    make_workspace: Callable[..., Workspace], fresh_channel: Path
) -> None:
    from tests.support.channel import Pkg, add_packages

    add_packages(
        fresh_channel,
        [
            Pkg("torchy", "1.11.0", "py3.9_cuda11.3_cudnn8.2.0_0"),
            Pkg("torchy", "1.11.0", "cpu_0"),
            Pkg("libblas", "3.9.0", "16_openblas"),
            Pkg("libblas", "3.9.0", "16_mkl"),
        ],
    )
    ws = make_workspace(
        '[workspace]\nname = "forms"\nchannels = ["conda-forge"]\nenvs-dir = ".wsp/envs"\n\n'
        '[workspace.mirrors]\n"conda-forge" = ["{channel}"]\n\n'
        '[projects.p]\npath = "."\nenvironment-file = "environment.yml"\n',
        chan=fresh_channel,
    )
    write(
        ws.root,
        "dependencies:\n"
        "  - torchy=1.11.0=py3.9_cuda11.3_cudnn8.2.0_0\n"
        "  - libblas=*=*openblas\n"
        "  - conda-forge::zlib=1.3.1=h0_0\n",
    )
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert {
        "torchy-1.11.0-py3.9_cuda11.3_cudnn8.2.0_0",
        "libblas-3.9.0-16_openblas",
        "zlib-1.3.1-h0_0",
    } <= ws.dists("p")


def test_two_pip_lists_are_both_installed_and_said(tmp_path: Path) -> None:
    """conda 26.7.1 keeps only the last `- pip:` list of a file, silently: wsp installs
    both and says where the second begins, so the file can be made to mean one thing."""
    env = read_env_file(
        write(tmp_path, "dependencies:\n  - python\n  - pip:\n      - a\n  - pip:\n      - b\n")
    )
    assert env.pip == ("a", "b")
    said = [str(w) for w in env.warnings]
    assert any(":5:5: a second '- pip:' list" in w for w in said), said
