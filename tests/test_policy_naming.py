"""WSP1xx, severities, silencing, and the gates on plan and apply, through the CLI."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.cli import Workspace

HEAD = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
{extra}
[workspace.mirrors]
"conda-forge" = ["{{channel}}"]
"""


def toml(projects: str, *, extra: str = "", tail: str = "") -> str:
    return HEAD.format(extra=extra) + "\n" + projects + tail


GOOD = '[projects.finance]\npython = "3.9"\n\n[projects.shared-utils]\npython = "3.11"\n'


def line_of(ws: Workspace, needle: str) -> int:
    """1-based line of the first line of workspace.toml holding `needle`."""
    lines = ws.manifest.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def codes(r) -> list[tuple[str, str | None]]:
    return [(f["code"], f["project"]) for f in r.json["findings"]]


def test_good_names_have_no_findings(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(GOOD))
    r = ws.wsp("check", "--json")
    assert r.code == 0, r
    assert r.json["findings"] == []
    r = ws.wsp("check")
    assert "No findings" in r.stdout


def test_json_shape(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml('[projects.env1]\npython = "3.9"\n'))
    r = ws.wsp("check", "--json")
    assert r.code == 1, r
    f = r.json["findings"][0]
    assert {"code", "severity", "project", "message", "fixable"} <= f.keys()
    assert (f["code"], f["severity"], f["project"], f["fixable"]) == (
        "WSP102",
        "error",
        "env1",
        False,
    )


def test_wsp101_pattern(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml('[projects.Finance_Data]\npython = "3.9"\n'))
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP101", "Finance_Data")]
    assert '"finance-data"' in r.json["findings"][0]["hint"]
    # the env-prefix is part of the name
    ws = make_workspace(toml(GOOD, extra='env-prefix = "Acme_"\n'), name="ws2")
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP101", "finance"), ("WSP101", "shared-utils")]
    assert '"Acme_finance"' in r.json["findings"][0]["message"]
    # a workspace's own pattern
    ws = make_workspace(toml(GOOD, tail="\n[policy.naming]\npattern = '^[a-z]+$'\n"), name="ws3")
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP101", "shared-utils")]
    # the hint suggests a name that pattern accepts, not the kebab-case one it refuses
    assert r.json["findings"][0]["hint"].startswith(
        'change the project name to match, e.g. "sharedutils"'
    )


def test_wsp101_bad_pattern_is_a_located_error(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(GOOD, tail="\n[policy.naming]\npattern = '^[a-z'\n"))
    r = ws.wsp("check")
    assert r.code == 1
    assert r.stderr.startswith(f"workspace.toml:{line_of(ws, 'pattern =')}:11:"), r
    assert "not a valid regular expression" in r.stderr


def test_wsp102_forbidden(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml('[projects.env1]\npython = "3.9"\n\n[projects.TMP]\npython = "3.9"\n'))
    r = ws.wsp("check", "--json")
    assert ("WSP102", "env1") in codes(r) and ("WSP102", "TMP") in codes(r)
    r = ws.wsp("check")
    assert 'WSP102 error env name "env1" is forbidden by policy.naming.forbidden' in r.stdout
    assert 'ignore = ["WSP102"] in [projects.env1]' in r.stdout
    # a workspace's own list
    ws = make_workspace(
        toml(
            GOOD + '\n[projects.env1]\npython = "3.9"\n',
            tail='\n[policy.naming]\nforbidden = ["finance"]\n',
        ),
        name="ws2",
    )
    assert [c for c in codes(ws.wsp("check", "--json")) if c[0] == "WSP102"] == [
        ("WSP102", "finance")
    ]


def test_wsp103_case_collision(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(
        toml('[projects.vision]\npython = "3.11"\n\n[projects.Vision]\npython = "3.11"\n'),
    )
    r = ws.wsp("check", "--json")
    assert ("WSP103", "vision") in codes(r) and ("WSP103", "Vision") in codes(r)
    # an existing env in envs-dir that differs only by case
    ws = make_workspace(toml(GOOD), name="ws2")
    (ws.envs_dir / "Finance" / "conda-meta").mkdir(parents=True)
    r = ws.wsp("check", "--json")
    assert ("WSP103", "finance") in codes(r)
    assert "existing env" in next(f for f in r.json["findings"] if f["code"] == "WSP103")["message"]


def test_wsp104_base_and_root(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(
        toml('[projects.base]\npython = "3.9"\n\n[projects.root]\npython = "3.9"\n')
    )
    r = ws.wsp("check", "--json")
    # WSP104 says it; WSP102 (base is in forbidden too) does not repeat it
    assert codes(r) == [("WSP104", "base"), ("WSP104", "root")]


def test_rules_severity_override_and_off(make_workspace: Callable[..., Workspace]) -> None:
    projects = '[projects.env1]\npython = "3.9"\n'
    ws = make_workspace(toml(projects, tail='\n[policy.rules]\nWSP102 = "warn"\n'))
    r = ws.wsp("check", "--json")
    assert r.code == 0, r
    assert r.json["findings"][0]["severity"] == "warn"
    ws.write(toml(projects, tail='\n[policy.rules]\nWSP102 = "off"\n'))
    r = ws.wsp("check", "--json")
    assert r.code == 0 and r.json["findings"] == [], r


def test_ignore_per_project(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(
        toml(
            '[projects.env1]\npython = "3.9"\nignore = ["WSP102"]\n\n[projects.test]\npython = "3.9"\n'
        )
    )
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP102", "test")]


def test_unknown_codes_are_located_errors(make_workspace: Callable[..., Workspace]) -> None:
    # a typo, in lower case: the code is suggested as it is written
    ws = make_workspace(toml(GOOD, tail='\n[policy.rules]\nWSP103 = "warn"\nwsp1o2 = "off"\n'))
    r = ws.wsp("check")
    assert r.code == 1
    where = f"workspace.toml:{line_of(ws, 'wsp1o2')}:1"
    assert r.stderr.startswith(f"{where}: unknown policy code 'wsp1o2'"), r
    assert "did you mean 'WSP102'" in r.stderr
    ws.write(toml('[projects.finance]\npython = "3.9"\nignore = ["WSP999"]\n'))
    r = ws.wsp("plan")
    where = f"workspace.toml:{line_of(ws, 'WSP999')}:11"
    assert r.code == 1 and r.stderr.startswith(f"{where}: unknown policy code"), r


def test_plan_shows_findings_above_the_plan(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(GOOD + '\n[projects.env1]\npython = "3.9"\n'))
    r = ws.wsp("plan")
    assert r.code == 0, r
    assert "WSP102" in r.stdout
    assert r.stdout.index("WSP102") < r.stdout.index("wsp will perform")
    r = ws.wsp("plan", "--json")
    assert [f["code"] for f in r.json["findings"]] == ["WSP102"]
    ws = make_workspace(toml(GOOD), name="ws2")
    assert ws.wsp("plan", "--json").json["findings"] == []


def test_apply_refuses_while_an_error_stands(make_workspace: Callable[..., Workspace]) -> None:
    projects = '[projects.finance]\npython = "3.9"\n\n[projects.env1]\npython = "3.11"\n'
    ws = make_workspace(toml(projects))
    r = ws.wsp("apply", "--yes")
    assert r.code == 1, r
    line = r.stderr.strip()
    assert "\n" not in line
    assert line.startswith("error: policy WSP102 stops apply: env1:")
    assert 'ignore = ["WSP102"] in [projects.env1]' in line and "nothing was changed" in line
    assert not ws.envs_dir.exists()
    # renamed after what it is for: apply goes ahead
    ws.write(toml(projects.replace("[projects.env1]", "[projects.webdev]")))
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert {p.name for p in ws.envs_dir.iterdir()} == {"finance", "webdev"}


def test_apply_goes_ahead_with_warnings(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(
        toml('[projects.env1]\npython = "3.9"\n', tail='\n[policy.rules]\nWSP102 = "warn"\n')
    )
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert "WSP102 warn" in r.stdout
    assert (ws.envs_dir / "env1").is_dir()


def test_a_pattern_that_would_backtrack_forever_is_answered_at_once(
    make_workspace: Callable[..., Workspace],
) -> None:
    # `(a+)+` against 40 a's and a mismatch: 2**40 steps for a backtracking engine
    name = "a" * 40 + "_b"
    ws = make_workspace(
        toml(f'[projects.{name}]\npython = "3.9"\n', tail="\n[policy.naming]\npattern = '(a+)+'\n")
    )
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP101", name)]


def test_a_pattern_with_look_around_is_refused_at_its_line(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml(GOOD, tail="\n[policy.naming]\npattern = '(?!tmp)[a-z-]+'\n"))
    r = ws.wsp("check")
    assert r.code == 1
    assert r.stderr.startswith(f"workspace.toml:{line_of(ws, 'pattern =')}:11:"), r
    assert "look-around" in r.stderr and "Traceback" not in r.stderr
