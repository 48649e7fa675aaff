"""The incremental load (wsp/cache.py): after an edit, only what changed is loaded again.

Every edit here is checked the same way: the workspace and desired envs the cache gives
equal a fresh load's, field by field and in order; the cache then written gives the same
again; and the edit was (or, for a change every project reads, was not) served without a
full load. An edit that makes workspace.toml wrong errors exactly as a fresh load does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wsp import cache as cache_mod
from wsp import graph
from wsp.errors import ManifestError
from wsp.manifest import load

TOML = """\
# the acme monorepo
[workspace]
name = "acme"
channels = ["conda-forge", "./local-channel"]
envs-dir = "envs"

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
jupyter = true

[projects.tool]
python = "3.12"
dependencies = ["click"]  # a comment after a value

[projects.tool.env-vars]
TOOL_MODE = "fast"

[projects."web.ui"]
extends = ["sci"]
dependencies = [
    "flask",
    # a comment inside an array
    "jinja2",
]

[projects.lone]
python = "3.12"

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
      - -r requirements.txt
"""


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ws"
    (root / ".wsp").mkdir(parents=True)
    (root / "workspace.toml").write_text(TOML, encoding="utf-8")
    (root / "projects" / "app").mkdir(parents=True)
    (root / "projects" / "app" / "environment.yml").write_text(ENV_YML, encoding="utf-8")
    (root / "projects" / "app" / "requirements.txt").write_text("attrs\n", encoding="utf-8")
    (root / "projects" / "core" / "src").mkdir(parents=True)
    (root / "projects" / "core" / "pyproject.toml").write_text("[project]\nname='core'\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return root


class Spy:
    """What the cache loads: full loads of workspace.toml, documents of changed tables
    (their project names) and the projects merged."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = 0
        self.reloaded: list[set[str]] = []
        self.merged: list[set[str]] = []
        real_load, real_desired = cache_mod.load, graph.desired

        def spy_load(path: Path, **kw: Any) -> Any:
            ws = real_load(path, **kw)
            if kw.get("raw") is None:
                self.full += 1
            else:
                self.reloaded.append(set(ws.projects))
            return ws

        def spy_desired(ws: Any, g: Any = None, **kw: Any) -> Any:
            out = real_desired(ws, g, **kw)
            self.merged.append(set(ws.projects))
            return out

        monkeypatch.setattr(cache_mod, "load", spy_load)
        monkeypatch.setattr(graph, "desired", spy_desired)

    def reset(self) -> None:
        self.full = 0
        self.reloaded.clear()
        self.merged.clear()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(monkeypatch)


def fresh(root: Path) -> tuple[Any, dict[str, graph.DesiredEnv]]:
    ws = load(root / "workspace.toml")
    return ws, graph.desired(ws, graph.build(ws))


def cached(root: Path) -> tuple[Any, dict[str, graph.DesiredEnv]]:
    ws, desired, _ = cache_mod.load_desired(root / "workspace.toml")
    return ws, desired


def assert_equal_fields(got: Any, want: Any, where: str) -> None:
    """Field by field, so a difference names the field."""
    assert type(got) is type(want), where
    for f in dataclasses.fields(want):
        if not f.compare:
            continue
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, dict):
            assert list(a) == list(b), f"{where}.{f.name}: keys or their order"
            for k in b:
                if dataclasses.is_dataclass(b[k]):
                    assert_equal_fields(a[k], b[k], f"{where}.{f.name}[{k}]")
                else:
                    assert a[k] == b[k], f"{where}.{f.name}[{k}]"
        else:
            assert a == b, f"{where}.{f.name}"


def assert_like_fresh(root: Path, got: tuple[Any, dict[str, graph.DesiredEnv]]) -> None:
    ws, desired = got
    ws2, desired2 = fresh(root)
    assert_equal_fields(ws, ws2, "workspace")
    assert list(desired) == list(desired2)
    for name in desired2:
        assert_equal_fields(desired[name], desired2[name], f"desired[{name}]")
    assert ws == ws2 and desired == desired2
    for path in [("projects", name) for name in ws2.projects] + [("workspace", "name")]:
        assert str(ws.error(path, "x")) == str(ws2.error(path, "x"))  # located the same


def edit_toml(old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / "workspace.toml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return change


def write(relative: str, content: str | None) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        if content is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)

    return change


def move_to_end(header: str) -> Callable[[Path], None]:
    """The section of `header` (up to the next header) moved to the end of the file."""

    def change(root: Path) -> None:
        path = root / "workspace.toml"
        text = path.read_text()
        start = text.index(header + "\n")
        end = text.find("\n[", start + len(header))
        section = text[start : end + 1 if end >= 0 else len(text)]
        assert '"""' not in section, "a multi-line string: no section to move for sure"
        path.write_text(text.replace(section, "", 1) + "\n" + section)

    return change


# (edit, projects loaded again, projects merged again); None: a full load
EDITS: dict[str, tuple[Callable[[Path], None], set[str] | None, set[str] | None]] = {
    "one project's dependencies": (
        edit_toml('dependencies = ["click"]', 'dependencies = ["click >=8"]'),
        {"tool"},
        {"tool"},
    ),
    "one project's sub-table": (
        edit_toml('TOOL_MODE = "fast"', 'TOOL_MODE = "slow"'),
        {"tool"},
        {"tool"},
    ),
    "a project depended on": (
        edit_toml('dependencies = ["six"]', 'dependencies = ["six", "attrs"]'),
        {"core"},
        {"core", "app"},
    ),
    "a template used by several": (
        edit_toml('dependencies = ["numpy >=1.26"]', 'dependencies = ["numpy >=2"]'),
        set(),
        {"core", "app", "web.ui"},
    ),
    "a template extended by a template": (
        edit_toml('dependencies = ["scipy"]', 'dependencies = ["scipy", "sympy"]'),
        set(),
        {"app", "web.ui"},
    ),
    "[workspace] channels": (
        edit_toml('channels = ["conda-forge", "./local-channel"]', 'channels = ["conda-forge"]'),
        None,
        None,
    ),
    "[workspace.mirrors]": (edit_toml('["./mirror"]', '["./mirror2"]'), None, None),
    "an environment file": (
        write("projects/app/environment.yml", ENV_YML + "  - attrs\n"),
        {"app"},
        {"app"},
    ),
    "a requirements file an environment file reads": (
        write("projects/app/requirements.txt", "attrs\ncattrs\n"),
        {"app"},
        {"app"},
    ),
    "a pyproject.toml appears": (
        write("projects/tool/pyproject.toml", "[project]\nname='tool'\n"),
        set(),
        {"tool"},
    ),
    "a depended-on pyproject.toml disappears": (
        write("projects/core/pyproject.toml", None),
        set(),
        {"core", "app"},
    ),
    "depends-on added": (
        edit_toml('[projects.lone]\npython = "3.12"', '[projects.lone]\ndepends-on = ["tool"]'),
        {"lone"},
        {"lone"},
    ),
    "depends-on removed": (
        edit_toml('depends-on = ["core"]\n', ""),
        {"app"},
        {"app"},
    ),
    "a project renamed": (
        edit_toml("[projects.lone]", "[projects.solo]"),
        {"solo"},
        {"solo"},
    ),
    "a project removed": (
        edit_toml('[projects.lone]\npython = "3.12"\n', ""),
        set(),
        set(),
    ),
    "a project added in the middle": (
        edit_toml(
            "[projects.tool]\n", '[projects.new]\ndependencies = ["six"]\n\n[projects.tool]\n'
        ),
        {"new"},
        {"new"},
    ),
    "a sub-table added after other tables": (
        edit_toml("[policy.naming]", '[projects.core.env-vars]\nCORE = "1"\n\n[policy.naming]'),
        {"core"},
        {"core", "app"},
    ),
    "[policy]": (edit_toml('WSP501 = "off"', 'WSP501 = "warn"'), set(), set()),
    "[policy] removed": (
        edit_toml('[policy.naming]\nforbidden = ["tmp"]\n\n[policy.rules]\nWSP501 = "off"\n', ""),
        set(),
        set(),
    ),
    "a comment": (edit_toml("# the acme monorepo", "# the acme monorepo, edited"), set(), set()),
    "a comment between tables": (
        edit_toml("[projects.lone]", "# lone: a project of its own\n[projects.lone]"),
        set(),
        set(),
    ),
    "a comment inside a table": (
        edit_toml("# a comment inside an array", "# another comment"),
        set(),
        set(),
    ),
    "a kernel added": (
        edit_toml(
            '[projects.lone]\npython = "3.12"', '[projects.lone]\npython = "3.12"\njupyter = true'
        ),
        {"lone"},
        {"lone"},
    ),
    "a multi-line string with a header-like line": (
        edit_toml(
            '[projects.lone]\npython = "3.12"',
            '[projects.lone]\npython = "3.12"\ndescription = """\n[projects.fake]\n"""',
        ),
        None,
        None,
    ),
    # tomllib reads a CRLF file's multi-line string with "\n" line ends: so must the full load
    "a multi-line string in a CRLF file": (
        lambda root: (root / "workspace.toml").write_bytes(
            (root / "workspace.toml")
            .read_bytes()
            .replace(b'TOOL_MODE = "fast"', b'TOOL_MODE = """fast\nand safe"""')
            .replace(b"\n", b"\r\n")
        ),
        {"tool"},
        {"tool"},
    ),
    "a table moved to the end of the file": (move_to_end("[projects.lone]"), set(), set()),
    "a sub-table moved before its table, a description given": (
        edit_toml(
            '[projects.tool]\npython = "3.12"\ndependencies = ["click"]  # a comment after a value\n'
            '\n[projects.tool.env-vars]\nTOOL_MODE = "fast"\n',
            '[projects.tool.env-vars]\nTOOL_MODE = "fast"\n\n[projects.tool]\ndescription = "ünï"\n'
            "python = '3.12'\ndependencies = [\n  'click',\n]\n",
        ),
        {"tool"},
        set(),
    ),
    "dotted keys and inline tables for the same values": (
        edit_toml(
            '[projects.lone]\npython = "3.12"',
            '[ projects . "lone" ]\npython = "3.12"\njupyter = { name = "lone-k" }\nenv-vars.A = "1"',
        ),
        {"lone"},
        {"lone"},
    ),
    "a BOM written by the editor, with an edit": (
        lambda root: (root / "workspace.toml").write_bytes(
            b"\xef\xbb\xbf"
            + (root / "workspace.toml").read_bytes().replace(b'"fast"', "'fäst'".encode())
        ),
        {"tool"},
        {"tool"},
    ),
    "CRLF line ends": (
        lambda root: (root / "workspace.toml").write_bytes(
            (root / "workspace.toml").read_bytes().replace(b"\n", b"\r\n")
        ),
        set(),
        set(),
    ),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edit_loads_like_a_fresh_load(root: Path, spy: Spy, name: str) -> None:
    change, reloaded, merged = EDITS[name]
    cached(root)
    assert spy.full == 1
    spy.reset()
    change(root)
    got = cached(root)
    if reloaded is None:
        assert spy.full == 1, "an edit every project reads loads the whole file"
    else:
        assert spy.full == 0, f"{name}: loaded the whole file"
        assert set().union(*spy.reloaded) == reloaded
        assert set().union(*spy.merged) >= (merged or set())
        assert not spy.merged or max(len(m) for m in spy.merged) < 6  # not everything
    assert_like_fresh(root, got)
    spy.reset()
    again = cached(root)  # from the cache written after the edit: a plain hit
    assert spy.full == 0 and not spy.reloaded and not spy.merged
    assert_like_fresh(root, again)


def test_a_table_edit_that_changes_no_declaration_merges_nothing(root: Path, spy: Spy) -> None:
    """A description given to a project others depend on: its table is loaded (and checked)
    again, but no env is merged again, its own nor its dependents': none reads a description."""
    cached(root)
    spy.reset()
    edit_toml("[projects.core]\n", '[projects.core]\ndescription = "the shared core"\n')(root)
    got = cached(root)
    assert spy.full == 0
    assert set().union(*spy.reloaded) == {"core"}
    assert not spy.merged
    assert_like_fresh(root, got)
    edit_toml('description = "the shared core"', "description = 5")(root)
    with pytest.raises(ManifestError, match=r"workspace\.toml:\d+:\d+: .*description"):
        cached(root)  # still checked


def test_edits_in_a_row_stay_like_fresh_loads(root: Path, spy: Spy) -> None:
    """Each incremental load writes the cache the next one starts from."""
    cached(root)
    done = 0
    for name, (change, _, _) in EDITS.items():
        if name in ("a project renamed", "a project removed"):
            continue  # the edits after them name the project
        try:
            change(root)
        except AssertionError:
            continue  # an earlier edit took away what this one changes
        done += 1
        assert_like_fresh(root, cached(root))
    assert done >= 20
    assert spy.full < 6


# -- errors after an edit --------------------------------------------------------------------

BAD_EDITS = {
    "invalid TOML in a project": edit_toml(
        'python = "3.12"\ndependencies', 'python = "3.12\ndependencies'
    ),
    "an unknown key": edit_toml('dependencies = ["six"]', 'dependencies = ["six"]\ncolour = "red"'),
    "two unknown keys in two projects": lambda root: (
        edit_toml('dependencies = ["six"]', 'dependencies = ["six"]\ncolour = "red"')(root),
        edit_toml('[projects.lone]\npython = "3.12"', "[projects.lone]\nshape = 1"),
    )[1](root),
    "a bad spec": edit_toml('dependencies = ["click"]', 'dependencies = ["click >>>1"]'),
    "a bad python": edit_toml('[projects.lone]\npython = "3.12"', '[projects.lone]\npython = "x"'),
    # a valid conda spec elsewhere in the workspace is no Python version for all that
    "a dependency's spec as python": edit_toml(
        '[projects.lone]\npython = "3.12"', '[projects.lone]\npython = "six"'
    ),
    "a python version as a dependency": edit_toml(
        'dependencies = ["click"]', 'dependencies = ["click", "3.12.*"]'
    ),
    "an unknown depends-on": edit_toml('depends-on = ["core"]', 'depends-on = ["cor"]'),
    "a depends-on cycle": edit_toml('dependencies = ["six"]', 'depends-on = ["app"]'),
    "a used template removed": edit_toml(
        '[templates.sci]\nextends = ["base"]\ndependencies = ["scipy"]\n', ""
    ),
    "a depended-on project renamed": edit_toml("[projects.core]", "[projects.kernel]"),
    "a table given twice": edit_toml(
        "[projects.lone]", '[projects.tool]\npython = "3.11"\n\n[projects.lone]'
    ),
    "a key given twice across sub-tables": edit_toml(
        "[projects.tool.env-vars]",
        '[projects.tool.env-vars]\nTOOL_MODE = "x"\n\n[projects.tool.env-vars]',
    ),
    "a kernel name clash": edit_toml(
        '[projects.lone]\npython = "3.12"',
        '[projects.lone]\npython = "3.12"\njupyter = { name = "app" }',
    ),
    "python versions that clash": edit_toml(
        '[projects.core]\nextends = ["base"]',
        '[projects.core]\nextends = ["base"]\npython = "3.12"',
    ),
    "a project name that can't name an env": edit_toml("[projects.lone]", '[projects."lo/ne"]'),
    "an environment file that is not YAML": write(
        "projects/app/environment.yml", "dependencies: [a\n"
    ),
    "an environment file removed": write("projects/app/environment.yml", None),
    "a [workspace] key wrong": edit_toml('envs-dir = "envs"', "envs-dir = 3"),
    "a [policy] rule wrong": edit_toml('WSP501 = "off"', 'WSP501 = "loud"'),
    "a key before every table": edit_toml("# the acme monorepo", 'colour = "red"'),
    "not UTF-8": lambda root: (root / "workspace.toml").write_bytes(
        (root / "workspace.toml").read_bytes().replace(b"# the acme", b"# the \xff acme")
    ),
}


@pytest.mark.parametrize("name", list(BAD_EDITS))
def test_an_edit_errors_as_a_fresh_load(root: Path, name: str) -> None:
    cached(root)
    BAD_EDITS[name](root)
    with pytest.raises(ManifestError) as from_cache:
        cache_mod.load_desired(root / "workspace.toml")
    with pytest.raises(ManifestError) as from_scratch:
        fresh(root)
    assert str(from_cache.value) == str(from_scratch.value)


def test_an_error_leaves_the_cache_of_the_last_good_load(root: Path, spy: Spy) -> None:
    cached(root)
    good = (root / "workspace.toml").read_text()
    BAD_EDITS["an unknown key"](root)
    with pytest.raises(ManifestError):
        cached(root)
    (root / "workspace.toml").write_text(good)
    spy.reset()
    assert_like_fresh(root, cached(root))
    assert spy.full == 0 and not spy.reloaded, "the good text's cache is still there"


# -- the tables of workspace.toml ------------------------------------------------------------


def test_split_tables_keeps_sub_tables_with_their_table() -> None:
    tables = cache_mod.split_tables(TOML)
    assert tables is not None
    assert list(tables) == [
        ("workspace",),
        ("templates", "base"),
        ("templates", "sci"),
        ("projects", "core"),
        ("projects", "app"),
        ("projects", "tool"),
        ("projects", "web.ui"),
        ("projects", "lone"),
        ("policy",),
    ]
    assert len(tables[("workspace",)].sections) == 2
    assert tables[("projects", "tool")].text.endswith('TOOL_MODE = "fast"\n\n')
    assert "".join(t.text for t in tables.values()) == TOML.removeprefix("# the acme monorepo\n")
    assert cache_mod.check_tables(tables.values())


@pytest.mark.parametrize(
    "text",
    [
        '[workspace]\nname = "a"\nx = [\n["b"],\n]\n',  # a header-like line inside an array
        '[workspace]\nname = "a"\n[[projects.a.b]]\n',
        '[workspace]\nname = "a"\n[projects]\na.python = "3.12"\n',
        'workspace.name = "a"\n',
        '[workspace]\nname = "a"\n[projects.a]\n[projects.a]\n',
    ],
)
def test_split_tables_refuses_what_it_cant_split_for_sure(text: str) -> None:
    assert cache_mod.split_tables(text) is None


def test_a_header_inside_a_multi_line_string_fails_the_check() -> None:
    text = '[workspace]\nname = "a"\ndescription = """\n[projects.b]\n"""\n'
    tables = cache_mod.split_tables(text)
    assert tables is not None  # the split looks fine...
    assert not cache_mod.check_tables(tables.values())  # ...but a section is no document


def test_comments_and_blank_lines_do_not_change_a_tables_digest() -> None:
    a = cache_mod.split_tables('[workspace]\nname = "a"\n[projects.x]\npython = "3.12"\n')
    b = cache_mod.split_tables(
        '# top\n[workspace]\n\nname = "a"   \n# c\n[projects.x]\n  # c\npython = "3.12"\n\n'
    )
    assert a is not None and b is not None
    assert {k: t.digest for k, t in a.items()} == {k: t.digest for k, t in b.items()}
    assert a[("workspace",)].raw_digest != b[("workspace",)].raw_digest


def test_dependents_are_what_the_graph_says(root: Path) -> None:
    ws, _ = fresh(root)
    g = graph.build(ws)
    for projects, templates in [
        ({"core"}, set()),
        (set(), {"base"}),
        (set(), {"sci"}),
        ({"tool", "lone"}, {"sci"}),
    ]:
        nodes = [graph.project(p) for p in projects] + [graph.template(t) for t in templates]
        assert cache_mod._dependents(ws, projects, templates) == graph.affected(g, nodes)


def test_the_cache_notes_what_each_project_reads(root: Path) -> None:
    cached(root)
    data = json.loads(cache_mod.cache_path(root).read_text())
    app_reads = {arg for _, arg, _ in data["load_probes"]["app"]}
    assert str(root / "projects" / "app" / "environment.yml") in app_reads
    assert str(root / "projects" / "app" / "requirements.txt") in app_reads
    merged = {arg for _, arg, _ in data["merge_probes"]["app"]}
    assert str(root / "projects" / "core" / "pyproject.toml") in merged  # its depends-on's
    assert not any("environment.yml" in arg for _, arg, _ in data["probes"])
    assert data["tables"] is not None


# -- random edits ------------------------------------------------------------------------------


def _render(templates: dict[str, dict[str, Any]], projects: dict[str, dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(f'"{x}"' for x in v) + "]"
        return f'"{v}"'

    out = ['[workspace]\nname = "fuzz"\nchannels = ["conda-forge"]\nenvs-dir = "envs"\n']
    for kind, tables in (("templates", templates), ("projects", projects)):
        for name, table in tables.items():
            out.append(f"[{kind}.{name}]")
            sub = {k: v for k, v in table.items() if isinstance(v, dict)}
            out += [f"{k} = {value(v)}" for k, v in table.items() if k not in sub and k != "#"]
            if "#" in table:
                out.append(f"# {table['#']}")
            for k, v in sub.items():
                out.append(f"\n[{kind}.{name}.{k}]")
                out += [f'{a} = "{b}"' for a, b in v.items()]
            out.append("")
    return "\n".join(out)


def test_random_edits_load_like_fresh_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: Spy
) -> None:
    """A seeded walk of edits (dependencies, templates, depends-on, renames, removals,
    kernels, sub-tables, comments, clashing pythons): after each, the cache gives what a
    fresh load gives, or the same error."""
    import copy
    import random

    rng = random.Random(18)
    root = tmp_path / "ws"
    (root / ".wsp").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    pkgs = ["six", "click", "h11", "idna", "pytz", "attrs"]
    templates: dict[str, dict[str, Any]] = {
        "base": {"python": "3.12"},
        "web": {"extends": ["base"], "dependencies": ["h11"]},
    }
    projects: dict[str, dict[str, Any]] = {
        f"p{i}": {"extends": [rng.choice(["base", "web"])], "dependencies": [pkgs[i % 6]]}
        for i in range(12)
    }
    counter = iter(range(10**6))

    def some(d: dict[str, Any]) -> str:
        return rng.choice(sorted(d))

    def step() -> None:
        op = rng.randrange(11)
        if op == 0:  # a dependency added or dropped
            p = projects[some(projects)]
            deps = p.setdefault("dependencies", [])
            pkg = rng.choice(pkgs)
            deps.remove(pkg) if pkg in deps else deps.append(pkg)
        elif op == 1:  # a template's dependencies
            t = templates[some(templates)]
            t["dependencies"] = rng.sample(pkgs, rng.randrange(3))
        elif op == 2:  # depends-on, toward an earlier project (or a cycle, now and then)
            name = some(projects)
            others = [n for n in projects if n != name]
            if others:
                projects[name]["depends-on"] = rng.sample(
                    others, min(len(others), rng.randrange(2))
                )
        elif op == 3 and len(projects) > 2:  # renamed
            old = some(projects)
            projects[f"r{next(counter)}"] = projects.pop(old)
        elif op == 4 and len(projects) > 2:  # removed
            projects.pop(some(projects))
        elif op == 5:  # added
            projects[f"n{next(counter)}"] = {
                "extends": ["base"],
                "dependencies": [rng.choice(pkgs)],
            }
        elif op == 6:  # a comment
            projects[some(projects)]["#"] = f"note {next(counter)}"
        elif op == 7:  # env-vars, as a sub-table
            projects[some(projects)]["env-vars"] = {"MODE": rng.choice(["a", "b"])}
        elif op == 8:  # a kernel (two of one name clash)
            projects[some(projects)]["jupyter"] = rng.choice([True, False])
        elif op == 9:  # a python of its own (may clash with its templates'), or none
            p = projects[some(projects)]
            if "python" in p:
                del p["python"]
            else:
                p["python"] = rng.choice(["3.11", "3.12"])
        else:  # a template's python
            templates["base"]["python"] = rng.choice(["3.11", "3.12"])

    (root / "workspace.toml").write_text(_render(templates, projects))
    cached(root)
    outcomes = {"ok": 0, "error": 0}

    def same_as_fresh() -> bool:
        """Whether the text loads; either way, the cache says what a fresh load says."""
        try:
            fresh(root)
        except ManifestError as exc:
            with pytest.raises(ManifestError) as got:
                cached(root)
            assert str(got.value) == str(exc)
            return False
        assert_like_fresh(root, cached(root))
        return True

    good = copy.deepcopy((templates, projects))
    for _ in range(60):
        step()
        (root / "workspace.toml").write_text(_render(templates, projects))
        if same_as_fresh():
            outcomes["ok"] += 1
            good = copy.deepcopy((templates, projects))
            continue
        outcomes["error"] += 1
        if rng.random() < 0.7:  # mostly, the user fixes it: back to the last good text
            templates, projects = copy.deepcopy(good)
            (root / "workspace.toml").write_text(_render(templates, projects))
            assert same_as_fresh()
    assert outcomes["ok"] > 30 and outcomes["error"] > 3, outcomes
    assert spy.full <= outcomes["error"] + 1, "a good text after a good text: no full load"
