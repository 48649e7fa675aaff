"""Fuzzed workspace files: every outcome is a valid workspace or one located error.

Random TOML documents, random mutations of a valid file and random bytes go through
load -> graph -> desired in process; nothing may escape but a WspError whose message
is one line naming the file (and, for the manifest, LINE:COL).

The strategies and the settings are shared with tests/test_fuzz_cli.py, which sends the
same kinds of documents through the real command line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsp import graph
from wsp.errors import ManifestError, WspError
from wsp.manifest import load

VALID = """\
# a comment
[workspace]
name = "acme"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
env-prefix = ""

[templates.ml]
dependencies = ["pytorch>=2.0"]

[projects.finance]
python = "3.9"
dependencies = ["pandas>=2", "scikit-learn"]
pip = ["torchmetrics==1.0.0"]

[projects.vision]
python = "3.11"
extends = ["ml"]
depends-on = ["shared"]

[projects.shared]
python = ">=3.10"

[policy.rules]
WSP302 = "warn"
"""

LOCATED = re.compile(r"^:\d+:\d+: \S")  # after the file's path


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible fuzzing: derandomize=True seeds Hypothesis from each test's own code and
    database=None keeps no example database, so every run (and CI) tries exactly the same
    examples; a failure prints the falsifying example to paste into an @example.

    FUZZ_SCALE=N runs N times the examples with a fresh random seed each run, for a longer
    hunt by hand (`FUZZ_SCALE=20 python -m pytest tests/test_fuzz_cli.py -n0`)."""
    scale = int(os.environ.get("FUZZ_SCALE", "1"))
    return settings(
        max_examples=max_examples * scale,
        deadline=None,
        derandomize=scale == 1,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


SETTINGS = fuzz_settings(100)


def check(root: Path, data: bytes) -> None:
    path = root / "workspace.toml"
    path.write_bytes(data)
    before = sorted(p.name for p in root.iterdir())
    try:
        ws = load(path, envs_dir_default=root / "envs")
        graph.desired(ws, graph.build(ws), platform="linux-64")
    except ManifestError as exc:
        text = str(exc)
        assert "\n" not in text, text
        assert text.startswith(str(path)), text  # outside the cwd the path is absolute
        assert LOCATED.match(text[len(str(path)) :]), text
    except WspError as exc:
        assert "\n" not in str(exc), str(exc)
    assert sorted(p.name for p in root.iterdir()) == before, "loading changed the folder"


# -- strategies (shared with test_fuzz_cli.py) -------------------------------------------------

KEY_NAMES = [
    "workspace",
    "projects",
    "templates",
    "policy",
    "name",
    "python",
    "dependencies",
    "pip",
    "channels",
    "extends",
    "depends-on",
    "path",
    "envs-dir",
    "env-prefix",
    "mirrors",
    "environment-file",
    "rules",
    "naming",
    "x",
    "../evil",
    ".h",
    "a/b",
    "",
]
keys = st.sampled_from(KEY_NAMES)
scalars = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.sampled_from(["3.9", "3.x", ">=3.10", "numpy>=1", "numpy >>3", "ml", "shared"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
# A random TOML document: a table of random keys holding random values.
documents = st.dictionaries(keys, values, max_size=5)

# Byte edits of a file: at offset AT, cut CUT bytes and insert random bytes.
byte_edits = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.binary(max_size=6)),
    min_size=1,
    max_size=4,
)


def apply_byte_edits(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for at, cut, insert in edits:
        at = at % (len(data) + 1)
        data = data[:at] + insert + data[at + cut :]
    return data


# Line edits keep the file mostly well-formed, so the mutants get past the TOML parser and
# reach validation, the graph, the solver and the commands: delete, duplicate or swap lines,
# give a `key = value` line another value or another key, put another string in place of a
# quoted one (a spec, a Python version, a name, a path), rename a table.
VALUE_LITERALS = [
    '"3.9"',
    '"3.x"',
    '""',
    '"numpy >>3"',
    '"workspace.toml"',
    '"/"',
    '"~"',
    "[]",
    '[""]',
    '["numpy", "numpy"]',
    '["ml"]',
    '["nope"]',
    "[1, 2]",
    "{}",
    '{ x = "y" }',
    "42",
    "0",
    "true",
    "1.5",
    "1979-05-27",
]
STRINGS = [
    "3.9",
    "3.11",
    "3.12",
    ">=3.10",
    "<3",
    "3.x",
    "2.7",
    "numpy",
    "numpy>=2",
    "pandas>=2",
    "scikit-learn",
    "fastapi",
    "zlib",
    "numpy<1",
    "numpy >>3",
    "zlib>=9",
    "no-such-package",
    "python=3.11",
    "python",
    "pip",
    "six",
    "requests",
    "tinylib==9",
    "tinylib",
    "not a requirement ((",
    "ml",
    "sci",
    "shared",
    "finance",
    "web",
    "vision",
    "conda-forge",
    "./nowhere",
    "environment.yml",
    "nope.yml",
    "workspace.toml",
    "..",
    ".",
    "envs",
    "",
    " ",
    "acme-",
    "strict",
    "error",
    "WSP999",
    "caf\u00e9",
    "a\nb",
    'a"b',
]
line_edits = st.lists(
    st.one_of(
        st.tuples(st.just("delete"), st.integers(0, 200)),
        st.tuples(st.just("duplicate"), st.integers(0, 200), st.integers(0, 200)),
        st.tuples(st.just("swap"), st.integers(0, 200), st.integers(0, 200)),
        st.tuples(st.just("value"), st.integers(0, 200), st.sampled_from(VALUE_LITERALS)),
        st.tuples(st.just("key"), st.integers(0, 200), st.sampled_from(KEY_NAMES)),
        st.tuples(st.just("string"), st.integers(0, 200), st.sampled_from(STRINGS)),
        st.tuples(st.just("string"), st.integers(0, 200), st.sampled_from(STRINGS)),
        st.tuples(st.just("string"), st.integers(0, 200), st.sampled_from(STRINGS)),
        st.tuples(st.just("table"), st.integers(0, 200), st.sampled_from(KEY_NAMES + STRINGS)),
    ),
    min_size=1,
    max_size=3,
)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_HEADER = re.compile(r"^(\[+[^\]\n]*\.)?([^.\[\]\n]+)(\]+)", re.M)


def apply_line_edits(text: str, edits: list[tuple]) -> str:
    for op, i, *rest in edits:
        if op in ("string", "table"):
            found = list((_STRING if op == "string" else _HEADER).finditer(text))
            if found:
                m = found[i % len(found)]
                if op == "string":
                    text = f'{text[: m.start()]}"{rest[0]}"{text[m.end() :]}'
                else:
                    name = tomlkit.key(rest[0]).as_string()
                    text = f"{text[: m.start(2)]}{name}{text[m.end(2) :]}"
            continue
        lines = text.split("\n")
        i %= len(lines)
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(rest[0] % (len(lines) + 1), lines[i])
        elif op == "swap":
            j = rest[0] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif op in ("value", "key") and "=" in lines[i]:
            key, value = lines[i].split("=", 1)
            if op == "value":
                lines[i] = f"{key}= {rest[0]}"
            else:
                lines[i] = f"{tomlkit.key(rest[0]).as_string()} ={value}"
        text = "\n".join(lines)
    return text


def mutants(text: str) -> st.SearchStrategy[bytes]:
    """Random mutations of `text`: byte edits, line edits (twice as likely: they reach
    further), or line edits then byte edits."""
    data = text.encode()
    return st.one_of(
        byte_edits.map(lambda e: apply_byte_edits(data, e)),
        line_edits.map(lambda e: apply_line_edits(text, e).encode()),
        line_edits.map(lambda e: apply_line_edits(text, e).encode()),
        st.tuples(line_edits, byte_edits).map(
            lambda e: apply_byte_edits(apply_line_edits(text, e[0]).encode(), e[1])
        ),
    )


random_bytes = st.binary(max_size=200)


# -- tests -------------------------------------------------------------------------------------


@SETTINGS
@given(doc=documents)
def test_random_toml_documents(tmp_path_factory: pytest.TempPathFactory, doc: dict) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    check(root, tomlkit.dumps(doc).encode())


@SETTINGS
@given(data=mutants(VALID))
def test_mutations_of_a_valid_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    check(tmp_path_factory.mktemp("fuzz"), data)


@SETTINGS
@given(data=random_bytes)
def test_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    check(tmp_path_factory.mktemp("fuzz"), data)


def test_the_valid_file_loads(tmp_path: Path) -> None:
    check(tmp_path, VALID.encode())
