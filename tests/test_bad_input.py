"""Bad input through the real command line: one located line on stderr, exit 1, nothing touched.

Every case writes a broken workspace.toml (or a file it names), runs `wsp plan` (some also
`wsp apply --yes` and `wsp status`) and checks: exit code 1; stderr is exactly one line,
`workspace.toml:LINE:COL: message` with LINE computed from the text written; no traceback;
no file under the workspace folder created or changed (not even `.wsp/`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.cli import Result, Workspace, snapshot

HEAD = '[workspace]\nname = "acme"\nenvs-dir = ".wsp/envs"\n\n'


def line_of(text: str, needle: str) -> int:
    return text.count("\n", 0, text.index(needle)) + 1


def col_of(text: str, needle: str) -> int:
    idx = text.index(needle)
    return idx - (text.rfind("\n", 0, idx) + 1) + 1


@dataclass
class Case:
    id: str
    toml: str | bytes
    line: int | str  # a line number, or a needle whose first line is the error's
    col: int | str | None = None  # likewise; None: not checked
    fragments: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # other files, relative to the root
    file: str = "workspace.toml"  # the file the error names
    commands: tuple[tuple[str, ...], ...] = (("plan",),)
    xfail: str | None = None

    @property
    def text(self) -> str:
        return self.toml if isinstance(self.toml, str) else ""

    def expected_line(self) -> int:
        return self.line if isinstance(self.line, int) else line_of(self.text, self.line)

    def expected_col(self) -> int | None:
        if self.col is None or isinstance(self.col, int):
            return self.col
        return col_of(self.text, self.col)


ALL_COMMANDS = (("plan",), ("apply", "--yes"), ("status",))

ENV_YML_BROKEN = """\
name: legacy
channels:
  - conda-forge
dependencies:
  - numpy
   bad: indent
"""

CASES = [
    Case(
        "toml-syntax",
        HEAD + '[projects.a]\npython = "3.9\ndependencies = []\n',
        'python = "3.9',
        fragments=("invalid TOML",),
    ),
    Case(
        "toml-syntax-unclosed-header",
        HEAD + "[projects.a\npython = '3.9'\n",
        "[projects.a",
        fragments=("invalid TOML",),
    ),
    Case(
        "toml-duplicate-key",
        HEAD + '[projects.a]\npython = "3.9"\npython = "3.10"\n',
        'python = "3.10"',
        fragments=("invalid TOML",),
    ),
    Case(
        "toml-duplicate-table",
        HEAD + '[projects.a]\npython = "3.9"\n\n[projects.b]\n\n[projects.a]\n'
        'python = "3.10"\ndependencies = []\n\n[projects.c]\n',
        '[projects.a]\npython = "3.10"',
        fragments=("invalid TOML",),
    ),
    Case(
        "unknown-key",
        HEAD + '[projects.a]\npython = "3.9"\ndependecies = ["numpy"]\n',
        "dependecies",
        "dependecies",
        ("unknown key 'dependecies'", "did you mean 'dependencies'?"),
        commands=ALL_COMMANDS,
    ),
    Case(
        "unknown-table",
        HEAD + '[project.a]\npython = "3.9"\n',
        "[project.a]",
        "[project.a]",
        ("unknown key 'project'", "did you mean 'projects'?"),
    ),
    Case(
        "bad-match-spec",
        HEAD + '[projects.a]\npython = "3.11"\ndependencies = [\n  "pandas",\n  "numpy >>3",\n]\n',
        '"numpy >>3"',
        '"numpy >>3"',
        ("numpy >>3", "not a valid conda match spec"),
    ),
    Case(
        "python-3.x",
        HEAD + '[projects.a]\npython = "3.x"\n',
        '"3.x"',
        '"3.x"',
        ("3.x", "Python"),
    ),
    Case(
        "python-banana",
        HEAD + '[projects.a]\ndependencies = ["numpy"]\npython = "banana"\n',
        '"banana"',
        '"banana"',
        ("banana", "Python"),
    ),
    Case(
        "depends-on-cycle",
        HEAD + '[projects.a]\ndepends-on = ["b"]\n\n[projects.b]\ndepends-on = ["a"]\n',
        'depends-on = ["b"]',
        '"b"',
        ("cycle", "a -> b -> a"),
        commands=ALL_COMMANDS,
    ),
    Case(
        "template-cycle",
        HEAD + '[templates.t1]\nextends = ["t2"]\n\n[templates.t2]\nextends = ["t1"]\n\n'
        '[projects.a]\nextends = ["t1"]\n',
        'extends = ["t2"]',
        '"t2"',
        ("cycle", "t1 -> t2 -> t1"),
    ),
    Case(
        "unknown-template",
        HEAD + '[templates.ml]\ndependencies = ["numpy"]\n\n[projects.a]\nextends = ["mll"]\n',
        '["mll"]',
        '"mll"',
        ("unknown template 'mll'", "did you mean 'ml'?"),
    ),
    Case(
        "unknown-depends-on",
        HEAD + '[projects.shared]\n\n[projects.a]\ndepends-on = ["sharde"]\n',
        '["sharde"]',
        '"sharde"',
        ("unknown project 'sharde'", "did you mean 'shared'?"),
    ),
    Case(
        "python-conflict",
        HEAD + '[projects.shared-utils]\npython = ">=3.10"\n\n'
        '[projects.finance]\npython = "3.9"\ndepends-on = ["shared-utils"]\n',
        'python = "3.9"',
        fragments=("shared-utils", "finance", ">=3.10", "3.9"),
    ),
    Case(
        "escaping-dotdot",
        HEAD + '[projects."../evil"]\npython = "3.9"\n',
        '[projects."../evil"]',
        fragments=("../evil",),
        commands=(("plan",), ("apply", "--yes")),
    ),
    Case(
        "escaping-hidden",
        HEAD + '[projects.".hidden"]\npython = "3.9"\n',
        '[projects.".hidden"]',
        fragments=(".hidden",),
    ),
    Case(
        "escaping-slash",
        HEAD + '[projects."a/b"]\npython = "3.9"\n',
        '[projects."a/b"]',
        fragments=("a/b",),
    ),
    Case(
        "missing-workspace-name",
        '# acme research\n\n[workspace]\nenvs-dir = ".wsp/envs"\n\n[projects.a]\n',
        "[workspace]",
        fragments=("name",),
    ),
    Case(
        "missing-workspace-table",
        '[projects.a]\npython = "3.9"\n',
        1,
        fragments=("[workspace]",),
    ),
    Case(
        "wrong-type",
        HEAD + '[projects.a]\ndependencies = "numpy"\n',
        'dependencies = "numpy"',
        '"numpy"',
        ("must be a list", 'write it as a list: dependencies = ["numpy"]'),
    ),
    Case(  # pixi's table of name = version
        "pixi-dependencies-table",
        HEAD + '[projects.a]\ndependencies = { pandas = ">=2", numpy = "*" }\n',
        "dependencies = {",
        "{ pandas",
        ('write it as a list: dependencies = ["pandas >=2", "numpy"]',),
    ),
    Case(  # pixi's name for pip requirements
        "pixi-pypi-dependencies",
        HEAD + '[projects.a]\npython = "3.12"\npypi-dependencies = { requests = ">=2" }\n',
        "pypi-dependencies",
        "pypi-dependencies",
        ("unknown key 'pypi-dependencies'", "did you mean 'pip' (PEP 508 requirements"),
    ),
    Case(
        "bad-channel-priority",
        '[workspace]\nname = "acme"\nenvs-dir = ".wsp/envs"\nchannel-priority = "sometimes"\n',
        "channel-priority",
        '"sometimes"',
        ("sometimes", "strict", "flexible", "disabled"),
    ),
    Case(
        "envs-dir-is-a-file",
        '[workspace]\nname = "acme"\nenvs-dir = "workspace.toml"\n\n[projects.a]\npython = "3.11"\n',
        "envs-dir",
        '"workspace.toml"',
        ("envs-dir",),
        commands=ALL_COMMANDS,
    ),
    Case(
        "non-utf8",
        b'\xff\xfe[workspace]\nname = "acme"\n',
        1,
        1,
        ("UTF-8",),
        commands=ALL_COMMANDS,
    ),
    Case(
        "non-utf8-later-line",
        b'[workspace]\nname = "acme"\n# caf\xe9\n',
        3,
        6,
        ("UTF-8",),
    ),
    Case(
        "missing-environment-file",
        HEAD + '[projects.legacy]\npython = "3.10"\nenvironment-file = "environment.yml"\n',
        "environment-file",
        '"environment.yml"',
        ("environment.yml", "not found"),
    ),
    Case(
        "environment-file-yaml-error",
        HEAD + '[projects.legacy]\npython = "3.10"\nenvironment-file = "environment.yml"\n',
        6,
        fragments=("YAML",),
        files={"projects/legacy/environment.yml": ENV_YML_BROKEN},
        file="projects/legacy/environment.yml",
        commands=ALL_COMMANDS,
    ),
    # issue 11, item 8: what a red-team pass fed wsp, each one located line
    *(
        Case(
            f"bad-channel-{i}",
            f'[workspace]\nname = "acme"\nenvs-dir = ".wsp/envs"\nchannels = ["{url}"]\n',
            "channels",
            f'"{url}"',
            (url,),
            commands=ALL_COMMANDS,
        )
        for i, url in enumerate(["http://", "://x", "http://[::1", "ftp://example.org/c"])
    ),
    Case(
        "bad-mirror",
        HEAD + '[workspace.mirrors]\n"conda-forge" = ["http://[::1"]\n',
        '"http://[::1"',
        '"http://[::1"',
        ("mirror", "http://[::1"),
    ),
    Case(
        "envs-dir-unknown-user",
        '[workspace]\nname = "acme"\nenvs-dir = "~nouser-wsp/envs"\n',
        "envs-dir",
        '"~nouser-wsp/envs"',
        ("~nouser-wsp",),
        commands=ALL_COMMANDS,
    ),
    Case(
        "nul-in-a-path",
        '[workspace]\nname = "acme"\nenvs-dir = "envs\\u0000x"\n',
        "envs-dir",
        '"envs',
        ("control character",),
        commands=ALL_COMMANDS,
    ),
    Case(
        "nul-in-a-dependency",
        HEAD + '[projects.a]\ndependencies = ["six\\u0000"]\n',
        "dependencies",
        '"six',
        ("control character",),
    ),
    Case(
        "nested-3000-deep",
        HEAD + "[projects.a]\nvariables = { X = " + "[" * 3000 + "]" * 3000 + " }\n",
        "variables",
        fragments=("nested",),
    ),
    # conda ignores PATH in an env's variables: refused at load, not half way through apply
    Case(
        "env-vars-path",
        HEAD + '[projects.a]\npython = "3.9"\nenv-vars = { A = "1", PATH = "/evil" }\n',
        "env-vars",
        "PATH",
        ("env-vars: PATH is set by activation itself",),
        commands=ALL_COMMANDS,
    ),
    Case(
        "template-env-vars-path",
        HEAD + '[templates.t]\nenv-vars = { PATH = "/evil" }\n',
        "env-vars",
        "PATH",
        ("env-vars: PATH",),
    ),
    Case(
        "environment-file-variables-path",
        HEAD + '[projects.legacy]\npython = "3.10"\nenvironment-file = "environment.yml"\n',
        4,
        3,
        ("variable PATH is set by activation itself",),
        files={
            "projects/legacy/environment.yml": (
                "name: legacy\ndependencies: [numpy]\nvariables:\n  PATH: /evil\n"
            )
        },
        file="projects/legacy/environment.yml",
        commands=ALL_COMMANDS,
    ),
    Case(
        "platform-linux-65",
        '[workspace]\nname = "acme"\nenvs-dir = ".wsp/envs"\nplatforms = ["linux-65"]\n',
        "platforms",
        '"linux-65"',
        ("linux-65",),
        commands=(("plan",), ("lock",)),
    ),
]


def check_one_line_error(r: Result, file: str, line: int, col: int | None) -> str:
    """The error of `r`: exit 1, one line on stderr naming FILE:LINE:COL, no traceback."""
    assert r.code == 1, r
    assert "Traceback" not in r.stdout + r.stderr, r
    assert "internal error" not in r.stderr, r
    assert r.stdout.strip() == "", r
    assert r.stderr.endswith("\n"), r
    err = r.stderr[:-1]
    assert "\n" not in err, r
    m = re.match(rf"{re.escape(file)}:(\d+):(\d+): \S", err)
    assert m, r
    assert int(m.group(1)) == line, r
    if col is not None:
        assert int(m.group(2)) == col, r
    assert int(m.group(2)) >= 1, r
    return err


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else [],
        )
        for c in CASES
    ],
)
def test_bad_input(make_workspace: Callable[..., Workspace], case: Case) -> None:
    ws = make_workspace(HEAD)
    if isinstance(case.toml, bytes):
        ws.manifest.write_bytes(case.toml)
    else:
        ws.manifest.write_text(case.toml, encoding="utf-8")
    for rel, content in case.files.items():
        (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / rel).write_text(content, encoding="utf-8")
    before = snapshot(ws.root)
    for args in case.commands:
        r = ws.wsp(*args)
        err = check_one_line_error(r, case.file, case.expected_line(), case.expected_col())
        for fragment in case.fragments:
            assert fragment in err, r
        assert snapshot(ws.root) == before, f"wsp {' '.join(args)} changed the workspace folder"
        assert not (ws.root / ".wsp").exists(), f"wsp {' '.join(args)} created .wsp/"


def test_plan_json_error_goes_to_stderr(make_workspace: Callable[..., Workspace]) -> None:
    toml = HEAD + '[projects.a]\npython = "3.9"\ndependecies = ["numpy"]\n'
    ws = make_workspace(toml)
    before = snapshot(ws.root)
    r = ws.wsp("plan", "--json")
    err = check_one_line_error(r, "workspace.toml", line_of(toml, "dependecies"), 1)
    assert "did you mean 'dependencies'?" in err
    assert snapshot(ws.root) == before


def test_error_names_the_file_relative_to_C(make_workspace: Callable[..., Workspace]) -> None:
    """With -C the error still names the file, so an editor can jump to it."""
    toml = HEAD + '[projects.a]\npython = "banana"\n'
    ws = make_workspace(toml)
    outside = ws.root.parent / "elsewhere"
    outside.mkdir()
    r = Workspace(outside, ws.channel, ws.env).wsp("-C", str(ws.root), "plan")
    assert r.code == 1, r
    err = r.stderr.rstrip("\n")
    assert "\n" not in err
    assert re.search(rf"workspace\.toml:{line_of(toml, 'banana')}:\d+: ", err), r
    assert "Traceback" not in r.output


# -- no workspace, bad arguments -------------------------------------------------------------


def one_line(r: Result) -> str:
    assert r.code == 1, r
    assert "Traceback" not in r.output, r
    assert "internal error" not in r.stderr, r
    err = r.stderr.rstrip("\n")
    assert err and "\n" not in err, r
    return err


def test_unknown_target(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    before = snapshot(ws.root)
    err = one_line(ws.wsp("plan", "--target", "financ"))
    assert "financ" in err
    assert "did you mean 'finance'?" in err
    assert snapshot(ws.root) == before
    assert not (ws.root / ".wsp").exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [("missing.json", None), ("not-a-plan.json", '{"x": 1}\n'), ("binary.json", b"\xff\xfe")],
    ids=["missing", "not-a-plan", "not-utf8"],
)
def test_apply_bad_plan_file(
    make_workspace: Callable[..., Workspace], name: str, content: str | bytes | None
) -> None:
    ws = make_workspace()
    if isinstance(content, bytes):
        (ws.root / name).write_bytes(content)
    elif content is not None:
        (ws.root / name).write_text(content)
    before = snapshot(ws.root)
    err = one_line(ws.wsp("apply", name))
    assert name in err
    assert snapshot(ws.root) == before


def test_plan_out_to_a_directory(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    (ws.root / "plans").mkdir()
    err = one_line(ws.wsp("plan", "--out", "plans"))
    assert "plans" in err


def test_no_workspace_toml(tmp_path: Path, wsp_env: dict[str, str], channel: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    ws = Workspace(empty, channel, wsp_env)
    for args in (("plan",), ("apply", "--yes"), ("status",)):
        r = ws.wsp(*args)
        assert r.code == 1, r
        assert "Traceback" not in r.output, r
        err = r.stderr.rstrip("\n")
        assert err and "\n" not in err, r
        assert "wsp init" in err, r
    assert list(empty.iterdir()) == []


def test_nonexistent_directory(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    before = snapshot(ws.root)
    r = ws.wsp("-C", "/nonexistent/wsp-test-dir", "plan")
    assert r.code == 1, r
    assert "Traceback" not in r.output, r
    err = r.stderr.rstrip("\n")
    assert err and "\n" not in err, r
    assert "/nonexistent/wsp-test-dir" in err
    assert snapshot(ws.root) == before


@pytest.mark.parametrize(
    "args",
    [("frobnicate",), ("plan", "--bogus"), ("apply", "--jobs", "many"), ("--nope",)],
    ids=["unknown-command", "unknown-option", "bad-option-value", "unknown-global-option"],
)
def test_usage_errors_exit_1(
    make_workspace: Callable[..., Workspace], args: tuple[str, ...]
) -> None:
    ws = make_workspace()
    before = snapshot(ws.root)
    r = ws.wsp(*args)
    assert r.code == 1, r  # never 2: 2 means "changes pending"
    assert "Traceback" not in r.output, r
    assert r.stderr.strip(), r
    assert snapshot(ws.root) == before
    assert not (ws.root / ".wsp").exists()
