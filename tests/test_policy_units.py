"""The small pure parts of wsp/policy: history replay, .condarc editing, the rule registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from wsp.condarc import RcFile, auto_activate, reads_new_key
from wsp.policy import all_rules
from wsp.policy.base import requested, spec_name
from wsp.policy.fix import set_false

DOCS = Path(__file__).resolve().parent.parent / "docs" / "policies.md"


# -- conda-meta/history ------------------------------------------------------------------------


def test_history_replay_like_from_history() -> None:
    history = """\
==> 2024-05-01 10:00:00 <==
# cmd: constructor /tmp/construct
# update specs: ["conda-forge/linux-64::python==3.12.4=0", "conda-forge/noarch::conda==25.7.0=py_0"]
==> 2024-06-01 09:00:00 <==
# cmd: /opt/conda/bin/conda install "numpy>=1.26" scipy
# conda version: 25.7.0
+conda-forge/linux-64::numpy-1.26.4-py_0
# update specs: ['numpy[version=\\'>=1.26\\']', 'scipy']
==> 2024-06-02 09:00:00 <==
# cmd: /opt/conda/bin/conda remove scipy
# remove specs: ['scipy']
==> 2024-06-03 09:00:00 <==
# cmd: conda install -c conda-forge -n base jupyterlab
"""
    assert sorted(requested(history)) == ["jupyterlab", "numpy"]


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("numpy", "numpy"),
        ("numpy>=1.26", "numpy"),
        ("numpy=1.26", "numpy"),
        ("conda-forge/linux-64::numpy==1.26.4=py_0", "numpy"),
        ("conda-forge::ruamel.yaml", "ruamel.yaml"),
        ("Python 3.12.*", "python"),
    ],
)
def test_spec_name(spec: str, name: str) -> None:
    assert spec_name(spec) == name


# -- .condarc -------------------------------------------------------------------------------------


def _load(text: str) -> dict:
    return YAML(typ="safe").load(text)


def test_set_false_changes_only_the_value() -> None:
    text = "# top\nauto_activate_base: yes   # keep me\nchannels:\n  - conda-forge\n"
    out = set_false(text, ["auto_activate_base"])
    assert out == "# top\nauto_activate_base: false   # keep me\nchannels:\n  - conda-forge\n"


def test_set_false_appends_missing_keys_and_keeps_crlf() -> None:
    out = set_false("channels:\r\n  - conda-forge", ["auto_activate_base", "auto_activate"])
    assert out == (
        "channels:\r\n  - conda-forge\r\nauto_activate_base: false\r\nauto_activate: false\r\n"
    )


def test_set_false_on_an_empty_file() -> None:
    assert set_false("", ["auto_activate_base"]) == "auto_activate_base: false\n"
    assert set_false("# only a comment\n", ["auto_activate_base"]) == (
        "# only a comment\nauto_activate_base: false\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "{channels: [conda-forge], auto_activate_base: true}\n",
        '"auto_activate_base": true  # quoted\nchannels: [conda-forge]\n',
        "auto_activate_base:\n  true\nchannels: [conda-forge]\n",
    ],
)
def test_set_false_falls_back_to_a_round_trip(text: str) -> None:
    out = set_false(text, ["auto_activate_base"])
    data = _load(out)
    assert data["auto_activate_base"] is False
    assert data["channels"] == ["conda-forge"]
    if "# quoted" in text:
        assert "# quoted" in out


def test_set_false_refuses_what_is_not_a_mapping() -> None:
    from wsp.errors import WspError

    with pytest.raises(WspError):
        set_false("- a\n- b\n", ["auto_activate_base"])


def test_auto_activate_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CONDA_AUTO_ACTIVATE_BASE", "CONDA_AUTO_ACTIVATE"):
        monkeypatch.delenv(var, raising=False)
    a = RcFile(Path("/a"), {"auto_activate_base": False}, {"auto_activate_base": 1})
    b = RcFile(Path("/b"), {"auto_activate": True}, {"auto_activate": 2})
    assert auto_activate([], "25.7.0").value is True  # conda's default
    assert auto_activate([a], "25.7.0").value is False
    assert auto_activate([a, b], "25.7.0").value is True  # later wins, new key read
    assert auto_activate([a, b], "24.11.3").value is False  # old conda ignores the new key
    assert auto_activate([a, b], "24.11.3").source == "auto_activate_base: false in /a:1"
    monkeypatch.setenv("CONDA_AUTO_ACTIVATE_BASE", "true")
    setting = auto_activate([a], "24.11.3")
    assert setting.value is True and setting.env_var == "CONDA_AUTO_ACTIVATE_BASE"
    assert reads_new_key("25.5.0") and not reads_new_key("25.3.1") and reads_new_key(None) is None


# -- the registry and its documentation -------------------------------------------------------


def test_codes_are_stable_and_grouped() -> None:
    rules = all_rules()
    assert list(rules) == [
        "WSP101",
        "WSP102",
        "WSP103",
        "WSP104",
        "WSP201",
        "WSP202",
        "WSP203",
        "WSP204",
        "WSP301",
        "WSP302",
        "WSP303",
        "WSP401",
        "WSP402",
        "WSP403",
        "WSP501",
        "WSP502",
        "WSP601",
        "WSP701",
        "WSP702",
        "WSP703",
    ]
    for code, rule in rules.items():
        assert re.fullmatch(r"WSP[1-7]0\d", code)
        assert rule.severity in ("error", "warn") and rule.reason and rule.title


def test_docs_list_every_code_with_its_default() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for code, rule in all_rules().items():
        m = re.search(rf"^### {code}\b.*$", text, re.MULTILINE)
        assert m is not None, f"docs/policies.md has no section for {code}"
        section = text[m.end() :].split("\n### ", 1)[0]
        assert f"Default: **{rule.severity}**" in section, code
        assert re.search(r"^```(toml|yaml|text)$", section, re.MULTILINE), f"{code}: no example"
        assert "fires" in section, f"{code}: the example doesn't say what fires"


# -- WSP204 ------------------------------------------------------------------------------------


def test_wsp204_fires_for_base_inside_base_and_conda_s_envs_folder_itself(tmp_path: Path) -> None:
    """Only what is inside base's envs/ is not base: envs/ itself is conda's own folder."""
    from types import SimpleNamespace

    from wsp.policy.base import env_in_base

    root = tmp_path / "conda"
    places = {
        "base": root,
        "envs": root / "envs",
        "pkgs": root / "pkgs",
        "deep": root / "lib" / "deep",
        "fine": root / "envs" / "fine",
        "away": tmp_path / "envs" / "away",
    }
    desired = {n: SimpleNamespace(prefix=p, env_name=n) for n, p in places.items()}
    facts = SimpleNamespace(conda_root=root, ctx=SimpleNamespace(desired=desired))
    found = {i.project: i.message for i in env_in_base(facts)}  # type: ignore[arg-type]
    assert sorted(found) == ["base", "deep", "envs", "pkgs"]
    assert found["base"].endswith("which is conda's base env")
    assert found["envs"].endswith("which is conda's envs folder, inside conda's base env")
    assert found["pkgs"].endswith("inside conda's base env")
