"""Fuzzed workspace files: every outcome is a valid workspace or one located error.

Random TOML documents, random mutations of a valid file and random bytes go through
load -> graph -> desired in process; nothing may escape but a WspError whose message
is one line naming the file (and, for the manifest, LINE:COL).
"""

from __future__ import annotations

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

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


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


keys = st.sampled_from(
    [
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
)
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


@SETTINGS
@given(doc=st.dictionaries(keys, values, max_size=5))
def test_random_toml_documents(tmp_path_factory: pytest.TempPathFactory, doc: dict) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    check(root, tomlkit.dumps(doc).encode())


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID)), st.integers(0, 8), st.binary(max_size=6)),
        min_size=1,
        max_size=4,
    )
)
def test_mutations_of_a_valid_file(tmp_path_factory: pytest.TempPathFactory, edits: list) -> None:
    data = VALID.encode()
    for at, cut, insert in edits:
        at = min(at, len(data))
        data = data[:at] + insert + data[at + cut :]
    check(tmp_path_factory.mktemp("fuzz"), data)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    check(tmp_path_factory.mktemp("fuzz"), data)


def test_the_valid_file_loads(tmp_path: Path) -> None:
    check(tmp_path, VALID.encode())
