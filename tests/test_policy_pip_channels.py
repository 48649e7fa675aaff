"""WSP3xx (pip) and WSP4xx (channels) through the CLI, plus the small parsers behind them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Workspace
from wsp.channels import short_name as normalize
from wsp.policy.channels import is_conda_forge, is_defaults
from wsp.policy.pip import parse

HEAD = """\
[workspace]
name = "acme-research"
channels = {channels}
channel-priority = "{priority}"
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{{channel}}"]
"""


def toml(
    projects: str,
    *,
    channels: str = '["conda-forge"]',
    priority: str = "strict",
    tail: str = "",
) -> str:
    return HEAD.format(channels=channels, priority=priority) + "\n" + projects + tail


def codes(r) -> list[tuple[str, str | None]]:
    return [(f["code"], f["project"]) for f in r.json["findings"]]


def messages(r, code: str) -> list[str]:
    return [f["message"] for f in r.json["findings"] if f["code"] == code]


# -- WSP301 prefer conda -----------------------------------------------------------------------


def test_wsp301_pip_requirement_available_on_the_channels(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(
        toml('[projects.finance]\npython = "3.11"\npip = ["NumPy==1.26.4", "leftpad==1.0"]\n')
    )
    r = ws.wsp("check", "--json")
    assert r.code == 0, r  # a warning
    assert codes(r) == [("WSP301", "finance")]
    (msg,) = messages(r, "WSP301")
    assert '"NumPy==1.26.4"' in msg and 'conda package "numpy"' in msg


def test_wsp301_quiet_for_what_conda_does_not_have(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml('[projects.finance]\npython = "3.11"\npip = ["leftpad==1.0"]\n'))
    r = ws.wsp("check", "--json")
    assert r.json["findings"] == [], r


def test_wsp301_skipped_when_the_channel_is_unreachable(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace(
        toml('[projects.finance]\npython = "3.11"\npip = ["numpy==1.26.4"]\n'),
        chan=tmp_path / "no-such-channel",
    )
    r = ws.wsp("check", "--json")
    assert r.code == 0, r
    assert r.json["findings"] == []
    assert any("WSP301 not checked" in n and "conda-forge" in n for n in r.json["notes"])


# -- WSP302 pinned ------------------------------------------------------------------------------


PIP = '[projects.webdev]\npython = "3.12"\npip = ["leftpad>=1", "rightpad==2.0", "tool @ https://example.org/tool-1.0-py3-none-any.whl"]\n'


def test_wsp302_unpinned_when_pinning_is_asked(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(PIP, tail="\n[policy.pip]\npinned = true\n"))
    r = ws.wsp("check", "--json")
    assert r.code == 1, r  # an error by default
    assert codes(r) == [("WSP302", "webdev")]  # `tool @ URL` is pinned, and installed
    assert '"leftpad>=1"' in messages(r, "WSP302")[0]
    ws.write(toml(PIP, tail='\n[policy.pip]\npinned = true\n\n[policy.rules]\nWSP302 = "warn"\n'))
    r = ws.wsp("check", "--json")
    assert r.code == 0 and r.json["findings"][0]["severity"] == "warn", r


def test_wsp302_quiet_unless_pinning_is_asked(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(PIP))
    # nothing: the pip layer installs `tool @ URL` (it is no WSP303 any more)
    assert codes(ws.wsp("check", "--json")) == []


@pytest.mark.parametrize(
    ("text", "name", "pinned"),
    [
        ("requests==2.32.3", "requests", True),
        ("requests===2.32.3", "requests", True),
        ("requests == 2.32.3 ; python_version >= '3.9'", "requests", True),
        ("requests[socks]==2.32.3", "requests", True),
        ("requests==2.*", "requests", False),
        ("requests>=2,<3", "requests", False),
        ("requests", "requests", False),
        ("Typing_Extensions~=4.0", "typing-extensions", False),
        ("tool @ https://example.org/tool-1.0.whl", "tool", True),
        ("requests==2.32.3,!=2.32.0", "requests", True),
    ],
)
def test_requirement_parse(text: str, name: str, pinned: bool) -> None:
    req = parse(text)
    assert req is not None
    assert (req.name, req.pinned) == (name, pinned)


def test_requirement_parse_refuses_what_is_not_one() -> None:
    assert parse("-e .") is None


# -- WSP401-403 channels ----------------------------------------------------------------------


def test_wsp401_defaults_mixed_with_conda_forge(make_workspace: Callable[..., Workspace]) -> None:
    projects = '[projects.finance]\npython = "3.9"\n\n[projects.vision]\npython = "3.11"\nchannels = ["defaults"]\n'
    ws = make_workspace(toml(projects))
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP401", "vision")], r
    assert r.code == 1
    # in [workspace] channels: said once, for the workspace
    ws.write(toml(projects, channels='["conda-forge", "defaults"]'))
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP401", None)], r
    assert r.json["findings"][0]["scope"] == "workspace"


def test_wsp401_quiet_for_conda_forge_alone(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml('[projects.finance]\npython = "3.9"\nchannels = ["bioconda"]\n'))
    assert ws.wsp("check", "--json").json["findings"] == []


def test_wsp402_non_strict_priority(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml('[projects.finance]\npython = "3.9"\n', priority="flexible"))
    r = ws.wsp("check", "--json")
    assert r.code == 0, r
    assert codes(r) == [("WSP402", None)]
    assert 'channel-priority is "flexible" (workspace.toml:4:' in messages(r, "WSP402")[0]


def test_wsp403_channel_not_allowed(make_workspace: Callable[..., Workspace]) -> None:
    projects = '[projects.finance]\npython = "3.9"\n\n[projects.genes]\npython = "3.11"\nchannels = ["bioconda"]\n'
    allow = '\n[policy.channels]\nallowed = ["https://conda.anaconda.org/conda-forge/"]\n'
    ws = make_workspace(toml(projects, tail=allow))
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP403", "genes")], r
    assert '"bioconda"' in messages(r, "WSP403")[0]
    ws.write(toml(projects))  # no allow-list: nothing to check
    assert ws.wsp("check", "--json").json["findings"] == []


def test_channel_names() -> None:
    assert normalize("https://conda.anaconda.org/conda-forge/") == "conda-forge"
    assert is_conda_forge("conda-forge") and is_conda_forge("https://prefix.dev/conda-forge")
    assert is_defaults("defaults") and is_defaults("https://repo.anaconda.com/pkgs/main")
    assert not is_defaults("conda-forge") and not is_conda_forge("bioconda")
