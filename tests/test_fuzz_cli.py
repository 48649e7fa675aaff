"""Fuzzed workspace files through the real command line, as a user meets them.

tests/test_fuzz_manifest.py fuzzes load -> graph -> desired; here the same kinds of input
(random bytes, random TOML documents, random mutations of a valid workspace file) go through
`wsp.cli.run` in process, for every command that reads workspace.toml: `plan`, `check`,
`graph`, `status`, `lock --check`, `export` and, for a few examples, `apply --yes`; also
mutations of the environment file it names (after a run that cached the workspace) and of
the wsp.lock beside it.

For every document and command:
- the exit code is 0 or 1 (2 only for `plan --detailed-exitcode`), and nothing is printed
  that looks like a traceback or wsp's "internal error" (a bug) line;
- when workspace.toml itself is at fault (load -> graph -> desired in process raises a
  ManifestError), the command exits 1 and stderr is exactly that error, one line:
  `workspace.toml:LINE:COL: message`;
- any other exit 1 is one line on stderr (`error: ...` or `FILE:LINE:COL: ...`), except
  `wsp check`, whose policy errors are findings on stdout;
- the workspace folder is byte for byte what it was (every file and folder, recursively),
  except what the command is documented to write: nothing for all but `apply`, which may
  write its envs, `.wsp/` and `wsp.lock` when it succeeds (and, in a workspace that has a
  `.wsp/` already, wsp's cache of the loaded workspace, `.wsp/desired.json`).

Hypothesis runs derandomized with no example database (see `fuzz_settings`): every run tries
the same examples. Bugs the fuzzing found are regression tests at the end.

Solving stays local: conda-forge is mirrored to the session's fixture channel, pip finds
wheels in the session's wheelhouse, and every HTTP(S) proxy variable points at a local port
that refuses connections (UV_OFFLINE too), so an unmirrored channel fails at once instead of
reaching the network.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit
from hypothesis import given
from hypothesis import strategies as st

import wsp.cli
from tests.test_fuzz_manifest import (
    apply_byte_edits,
    apply_line_edits,
    documents,
    fuzz_settings,
    line_edits,
    mutants,
    random_bytes,
    values,
)
from wsp import graph
from wsp.cli import run
from wsp.errors import ManifestError, WspError
from wsp.manifest import load

# A workspace that reaches every stage: templates, depends-on, an environment file, pip
# requirements from a local wheelhouse, a policy table, conda-forge mirrored to the fixture
# channel. `{channel}` and `{wheelhouse}` are filled in after mutating (a mutant that breaks
# one keeps the placeholder: a channel or a find-links folder that does not exist).
PLAN_BASE = """\
# acme research
[workspace]
name = "acme"
description = "fuzzed"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-no-index = true
pip-find-links = ["{wheelhouse}"]

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[templates.sci]
dependencies = ["numpy>=1.26"]

[projects.finance]
python = "3.9"
extends = ["sci"]
dependencies = ["pandas>=2", "scikit-learn"]
pip = ["tinylib==1.0.0"]

[projects.web]
python = "3.12"
dependencies = ["fastapi"]
depends-on = ["shared"]

[projects.shared]
python = ">=3.10"
environment-file = "environment.yml"

[policy.rules]
WSP302 = "warn"
"""

ENV_FILE = """\
name: shared
channels:
  - conda-forge
dependencies:
  - six
  - zlib
"""

# Small enough to build in a blink: apply is fuzzed on mutants of this one.
APPLY_BASE = """\
[workspace]
name = "fuzz-apply"
channels = ["conda-forge"]
envs-dir = "envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.tiny]
python = "3.12"
dependencies = ["zlib"]

[projects.other]
python = "3.12"
dependencies = ["six"]
depends-on = ["tiny"]
"""

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.M)
ONE_LOCATED_LINE = re.compile(r"^[^\n:]+:\d+:\d+: [^\n]+\n$")
ONE_ERROR_LINE = re.compile(r"^error: [^\n]+\n$")

# Every command that reads workspace.toml and writes nothing (when it has no -o).
READ_ONLY = (
    ("plan", "--detailed-exitcode"),
    ("plan", "--json"),
    ("check",),
    ("graph",),
    ("graph", "--format", "dot"),
    ("status", "--json"),
    ("lock", "--check"),
    ("export", "finance"),
)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_environment(
    tmp_path_factory: pytest.TempPathFactory, package_cache: Path
) -> Iterator[None]:
    """The environment the CLI tests give wsp (private HOME, no conda, the shared package
    cache), with the network out of reach: every HTTP(S) proxy variable names a local port
    that is bound but not listening, so any connection is refused at once."""
    home = tmp_path_factory.mktemp("fuzz-home")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with sock, pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("CONDA", "MAMBA", "WSP_", "VIRTUAL_ENV", "UV_")) or (
                key.lower() == "no_proxy"
            ):
                mp.delenv(key)
        mp.setenv("HOME", str(home))
        mp.setenv("WSP_CACHE_DIR", str(package_cache))
        mp.setenv("WSP_CONDA_ROOT", str(home / "no-conda"))
        mp.setenv("WSP_LOCK_TIMEOUT", "30")
        mp.setenv("NO_COLOR", "1")
        mp.setenv("COLUMNS", "200")
        mp.setenv("UV_OFFLINE", "1")
        for var in ("http_proxy", "https_proxy", "all_proxy"):
            mp.setenv(var, proxy)
            mp.setenv(var.upper(), proxy)
        mp.chdir(home)  # run() changes directory; this puts it back afterwards
        # Building the parser (every subcommand, gettext lookups) costs more than most runs
        # on a broken file; it is the same parser every time, so build it once.
        whole = functools.cache(wsp.cli.build_parser)
        mp.setattr(wsp.cli, "build_parser", lambda argv=None: whole())
        yield


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __repr__(self) -> str:
        return (
            f"wsp {' '.join(self.args)} -> exit {self.code}\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )


def run_captured(root: Path, *args: str) -> Result:
    """`wsp -C root ARGS` in process; its stdout and stderr as strings."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(["-C", str(root), *args])
    return Result(args, int(code), out.getvalue(), err.getvalue())


@pytest.fixture
def cli(cli_environment: None, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.chdir(Path.cwd())  # whatever run() does, the next test starts where it was
    return run_captured


@dataclass
class Template:
    """A base workspace folder, made once per module: mutants are written into copies of it."""

    root: Path
    channel: Path
    wheelhouse: Path

    def fill(self, data: bytes) -> bytes:
        return data.replace(b"{channel}", self.channel.as_uri().encode()).replace(
            b"{wheelhouse}", str(self.wheelhouse).encode()
        )

    def copy(self, tmp: pytest.TempPathFactory, manifest: bytes) -> Path:
        root = tmp.mktemp("fuzz-cli")
        shutil.copytree(self.root, root, dirs_exist_ok=True)
        (root / "workspace.toml").write_bytes(self.fill(manifest))
        return root


@pytest.fixture(scope="module")
def plan_template(
    cli_environment: None,
    tmp_path_factory: pytest.TempPathFactory,
    channel: Path,
    wheelhouse: Path,
) -> Template:
    """PLAN_BASE's folder: its environment file and a wsp.lock made for it by `wsp lock`."""
    t = Template(tmp_path_factory.mktemp("plan-template"), channel, wheelhouse)
    (t.root / "projects" / "shared").mkdir(parents=True)
    (t.root / "projects" / "shared" / "environment.yml").write_text(ENV_FILE)
    (t.root / "workspace.toml").write_bytes(t.fill(PLAN_BASE.encode()))
    cwd = Path.cwd()
    r = run_captured(t.root, "lock")
    os.chdir(cwd)
    assert r.code == 0, r
    (t.root / "workspace.toml").unlink()
    return t


# -- checks ------------------------------------------------------------------------------------


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes | str]:
    """Every file's bytes, every folder and every symlink's target under `root`."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        if path.is_symlink():
            out[rel] = f"symlink -> {os.readlink(path)}"
        elif path.is_dir():
            out[rel + "/"] = "folder"
        else:
            out[rel] = path.read_bytes()
    return out


def manifest_error(root: Path, *, desired: bool = True) -> str | None:
    """The located error `wsp` must print for this folder's workspace.toml, if it has one:
    load -> graph (-> desired) in process, as the commands do, from the workspace folder."""
    os.chdir(root)  # errors name files relative to the cwd, and run() chdirs to -C
    try:
        ws = load(root / "workspace.toml")
        g = graph.build(ws)
        if desired:
            graph.desired(ws, g)
    except ManifestError as exc:
        return str(exc)
    except WspError:
        return None
    return None


def check_result(r: Result, expected: str | None) -> None:
    """The contract of every command on every input (see the module docstring)."""
    both = r.stdout + r.stderr
    assert not TRACEBACK.search(both), r
    assert "internal error" not in both, r
    allowed = {0, 1, 2} if "--detailed-exitcode" in r.args else {0, 1}
    assert r.code in allowed, r
    if expected is not None:
        assert (r.code, r.stderr) == (1, expected + "\n"), r
        assert r.stdout == "", r
    elif r.code == 1:
        if r.args[0] == "check" and r.stderr == "":
            assert re.search(r"^\s+WSP\d+ error\s", r.stdout, re.M), r  # a policy error
        else:
            assert ONE_LOCATED_LINE.match(r.stderr) or ONE_ERROR_LINE.match(r.stderr), r


def run_read_only(
    cli: Callable[..., Result],
    root: Path,
    commands: tuple[tuple[str, ...], ...],
    skip: tuple[str, ...] = (),
) -> None:
    before = tree(root, skip)
    expected = {d: manifest_error(root, desired=d) for d in (True, False)}
    for args in commands:
        r = cli(root, *args)
        check_result(r, expected[args[0] != "graph"])  # `wsp graph` does not resolve envs
        assert tree(root, skip) == before, (
            f"{r!r}\nwsp {' '.join(args)} changed the workspace folder"
        )


# -- the valid files work ----------------------------------------------------------------------


def test_the_base_workspace_works(
    cli: Callable[..., Result], plan_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = plan_template.copy(tmp_path_factory, PLAN_BASE.encode())
    assert manifest_error(root) is None
    before = tree(root)
    for args in READ_ONLY:
        r = cli(root, *args)
        assert r.code == (2 if "--detailed-exitcode" in args else 0), r
        if args == ("plan", "--json"):  # solved: conda and pip packages, all known
            assert "tinylib" in r.stdout and "pandas" in r.stdout, r
            assert '"packages_unknown": "' not in r.stdout, r
    assert tree(root) == before


# -- fuzzing -----------------------------------------------------------------------------------


# One variant of each read-only command per example.
command_sets = st.tuples(
    st.sampled_from(
        [
            ("plan", "--detailed-exitcode"),
            ("plan", "--json"),
            ("plan", "--detailed-exitcode", "--json"),
        ]
    ),
    st.sampled_from([("check",), ("check", "--json")]),
    st.sampled_from(["tree", "mermaid", "dot", "json"]).map(lambda f: ("graph", "--format", f)),
    st.sampled_from([("status",), ("status", "--json")]),
    st.just(("lock", "--check")),
    st.tuples(
        # not finance: exporting it solves its pip requirements with uv, a second a time
        st.sampled_from(["web", "shared"]),
        st.sampled_from(["environment-yml", "explicit", "requirements", "dockerfile"]),
    ).map(lambda pf: ("export", pf[0], "--format", pf[1])),
)


@fuzz_settings(60)
@given(data=mutants(PLAN_BASE), commands=command_sets)
def test_mutations_of_a_valid_workspace(
    cli: Callable[..., Result],
    plan_template: Template,
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    commands: tuple[tuple[str, ...], ...],
) -> None:
    run_read_only(cli, plan_template.copy(tmp_path_factory, data), commands)


# wsp's caches: of the loaded workspace (wsp/cache.py) and of what wsp.lock holds
# (wsp/lockfile.py): written by a command that succeeds, but only into a `.wsp/` that exists.
CACHES = (".wsp/desired.json", ".wsp/lock-summary.json")


env_files = st.one_of(st.just(ENV_FILE.encode()), mutants(ENV_FILE))


@fuzz_settings(25)
@given(data=st.one_of(st.just(PLAN_BASE.encode()), mutants(PLAN_BASE)), env_file=env_files)
def test_mutations_with_a_warm_cache(
    cli: Callable[..., Result],
    plan_template: Template,
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    env_file: bytes,
) -> None:
    """The same, in a workspace that was applied (it has `.wsp/`) and planned before the
    edit of workspace.toml or of the environment file: whatever wsp cached for the old
    files, the new ones are loaded and reported as they are."""
    root = plan_template.copy(tmp_path_factory, PLAN_BASE.encode())
    (root / ".wsp").mkdir()
    r = cli(root, "status")
    assert r.code == 0, r
    (root / "workspace.toml").write_bytes(plan_template.fill(data))
    (root / "projects" / "shared" / "environment.yml").write_bytes(env_file)
    commands = (("status",), ("plan", "--detailed-exitcode"), ("check",), ("lock", "--check"))
    run_read_only(cli, root, commands, skip=CACHES)
    run_read_only(cli, root, commands[:2], skip=CACHES)  # and again, from its own cache


PROJECT_NAMES = ["finance", "web", "shared", "sci", "a", "x.y", "../evil", ".h", "a/b", ""]
PROJECT_KEYS = [
    "python",
    "dependencies",
    "pip",
    "channels",
    "extends",
    "depends-on",
    "path",
    "environment-file",
    "description",
    "ignore",
    "dependecies",
]
FIELD_VALUES = st.one_of(
    st.sampled_from(
        [
            "3.9",
            "3.12",
            ">=3.10",
            "3.x",
            "",
            ["numpy"],
            ["pandas>=2", "scikit-learn"],
            ["zlib>=9"],
            ["python=3.11"],
            ["tinylib==1.0.0"],
            ["sci"],
            ["shared"],
            ["finance"],
            [],
            ["conda-forge"],
            ["./nowhere"],
            "environment.yml",
            ".",
            "..",
        ]
    ),
    values,
)
workspace_documents = st.fixed_dictionaries(
    {
        "workspace": st.fixed_dictionaries(
            {"name": st.one_of(st.just("acme"), st.text(max_size=8))},
            optional={
                "envs-dir": st.sampled_from([".wsp/envs", "envs", "workspace.toml", ""]),
                "mirrors": st.just({"conda-forge": ["{channel}"]}),
                "channels": st.sampled_from([["conda-forge"], [], ["./nowhere"], ["{channel}"]]),
                "env-prefix": st.sampled_from(["", "acme-", "../", "-"]),
                "channel-priority": st.sampled_from(["strict", "flexible", "sometimes"]),
                "platforms": st.sampled_from([["linux-64"], ["osx-arm64", "win-64"], ["nope"]]),
            },
        ),
        "projects": st.dictionaries(
            st.sampled_from(PROJECT_NAMES),
            st.dictionaries(st.sampled_from(PROJECT_KEYS), FIELD_VALUES, max_size=4),
            max_size=3,
        ),
    },
    optional={
        "templates": st.dictionaries(
            st.sampled_from(PROJECT_NAMES),
            st.dictionaries(st.sampled_from(PROJECT_KEYS[:5]), FIELD_VALUES, max_size=3),
            max_size=2,
        ),
        "policy": st.dictionaries(st.sampled_from(["rules", "naming", "x"]), values, max_size=2),
    },
)
# Commands for documents that are not based on PLAN_BASE (no project is called finance).
PLAN_AND_CHECK = (("plan", "--detailed-exitcode"), ("check",))


@fuzz_settings(40)
@given(doc=st.one_of(documents, workspace_documents))
def test_random_toml_documents(
    cli: Callable[..., Result],
    plan_template: Template,
    tmp_path_factory: pytest.TempPathFactory,
    doc: dict,
) -> None:
    root = plan_template.copy(tmp_path_factory, tomlkit.dumps(doc).encode())
    run_read_only(cli, root, (*PLAN_AND_CHECK, ("status",)))


@fuzz_settings(30)
@given(data=random_bytes)
def test_random_bytes(
    cli: Callable[..., Result],
    plan_template: Template,
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
) -> None:
    run_read_only(cli, plan_template.copy(tmp_path_factory, data), PLAN_AND_CHECK)


lock_byte_edits = st.lists(
    st.tuples(
        st.integers(0, 100_000),
        st.integers(0, 8),
        st.binary(max_size=6),
    ),
    min_size=1,
    max_size=3,
)


@fuzz_settings(25)
@given(edits=st.tuples(line_edits, lock_byte_edits), which=st.integers(0, 2))
def test_mutations_of_the_lock(
    cli: Callable[..., Result],
    plan_template: Template,
    tmp_path_factory: pytest.TempPathFactory,
    edits: tuple[list, list],
    which: int,
) -> None:
    """`plan` and `lock --check` read wsp.lock beside workspace.toml: a damaged lock is one
    error line too."""
    root = plan_template.copy(tmp_path_factory, PLAN_BASE.encode())
    lock = (root / "wsp.lock").read_text()
    line, byte = edits
    mutant = [
        apply_line_edits(lock, line).encode(),
        apply_byte_edits(lock.encode(), byte),
        apply_byte_edits(apply_line_edits(lock, line).encode(), byte),
    ][which]
    (root / "wsp.lock").write_bytes(mutant)
    run_read_only(cli, root, (("plan", "--detailed-exitcode"), ("lock", "--check")))


# -- bugs the fuzzing found, fixed ------------------------------------------------------------


def test_an_environment_file_error_is_located_whatever_the_file_is_called(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    (root / "projects" / "a").mkdir(parents=True)
    (root / "projects" / "a" / "conda-env").write_text("dependencies:\n  - six\n   bad: indent\n")
    (root / "workspace.toml").write_text(
        '[workspace]\nname = "x"\nenvs-dir = "envs"\n\n'
        '[projects.a]\npython = "3.12"\nenvironment-file = "conda-env"\n'
    )
    expected = manifest_error(root)
    assert expected is not None and expected.startswith("projects/a/conda-env:3:7: invalid YAML")
    for args in (("plan",), ("graph",), ("status",)):
        check_result(cli(root, *args), expected)


def test_a_control_character_in_an_environment_file(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    (root / "projects" / "a").mkdir(parents=True)
    (root / "projects" / "a" / "environment.yml").write_bytes(
        b"dependencies:\n  - six\n  - zl\x00ib\n"
    )
    (root / "workspace.toml").write_text(
        '[workspace]\nname = "x"\nenvs-dir = "envs"\n\n'
        '[projects.a]\npython = "3.12"\nenvironment-file = "environment.yml"\n'
    )
    expected = manifest_error(root)
    assert expected is not None
    assert "\n" not in expected, expected  # the error is one line ...
    assert expected.startswith("projects/a/environment.yml:3:7: "), expected  # ... at the NUL
    for args in (("plan",), ("status",)):
        check_result(cli(root, *args), expected)


def test_a_lock_that_is_not_utf8_is_one_error_line(
    cli: Callable[..., Result], plan_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = plan_template.copy(tmp_path_factory, PLAN_BASE.encode())
    (root / "wsp.lock").write_bytes(b"\x80" + (root / "wsp.lock").read_bytes())
    run_read_only(cli, root, (("plan",), ("lock", "--check")))


@pytest.fixture(scope="module")
def apply_template(
    tmp_path_factory: pytest.TempPathFactory, channel: Path, wheelhouse: Path
) -> Template:
    return Template(tmp_path_factory.mktemp("apply-template"), channel, wheelhouse)


@fuzz_settings(15)
@given(data=mutants(APPLY_BASE))
def test_apply_mutations(
    cli: Callable[..., Result],
    apply_template: Template,
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
) -> None:
    """`apply --yes` on a mutant: a broken file changes nothing at all (not even `.wsp/`); a
    failed apply leaves the envs-dir as it was; a good one writes only envs, `.wsp/`, wsp.lock."""
    root = apply_template.copy(tmp_path_factory, data)
    expected = manifest_error(root)
    if expected is None:
        ws = load(root / "workspace.toml")
        if not ws.envs_dir.is_relative_to(root) or ws.envs_dir == root:
            return  # an envs-dir outside the example's folder: not somewhere to build envs
        envs = ws.envs_dir.relative_to(root).as_posix()
    before = tree(root)
    r = cli(root, "apply", "--yes")
    check_result(r, expected)
    if expected is not None:
        assert tree(root) == before, f"{r!r}\nthe refused apply changed the workspace folder"
    elif r.code == 1:  # refused or failed: the envs are as they were (.wsp/ holds its lock)
        assert tree(root, skip=(".wsp",)) == _without(before, (".wsp",)), r
    else:
        skip = (envs, ".wsp", "wsp.lock")
        assert tree(root, skip=skip) == _without(before, skip), r


def _without(snapshot: dict[str, bytes | str], prefixes: tuple[str, ...]) -> dict[str, bytes | str]:
    return {
        rel: v
        for rel, v in snapshot.items()
        if not any(rel.rstrip("/") == p or rel.startswith(p + "/") for p in prefixes)
    }


def test_apply_base_builds(
    cli: Callable[..., Result], apply_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = apply_template.copy(tmp_path_factory, APPLY_BASE.encode())
    r = cli(root, "apply", "--yes")
    assert r.code == 0, r
    assert (root / "envs" / "tiny" / "conda-meta" / "wsp").is_file()
    r = cli(root, "plan", "--detailed-exitcode")
    assert r.code == 0, r
