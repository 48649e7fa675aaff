"""The planner, pure: desired + observed + resolutions -> Plan, from golden JSON cases.

Each tests/data/plans/*.json holds one case:

- `desired`: project -> {python, specs, spec_hash, [env_name, pip, channels]}
- `observed`: env -> {ownership, dists: ["name-version-build"...], [marker]}; a marker's
  `packages` default to the env's dists and its `installed_hash` to their hash (so the
  marker vouches for what is there), `desired` becomes `extra.desired`
- `resolutions`: project -> {packages, installed ("observed" = the env's dists), unreachable,
  variant {name, platform, requirements}, lacking [[variant, [Unmet fields]]]}
- `targets`, `why_not_ours`
- `expect`: the actions in order (kind, env, project, reason_codes | first_reason_code,
  reasons_contain, packages {add, remove, change} as "name version" / "name a -> b" or
  null, unknown, unknown_contains), notes_contain, summary (a subset), has_changes
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wsp import codec, sysreq
from wsp.engines import Channel, Package
from wsp.graph import DesiredEnv
from wsp.marker import Declared, Marker
from wsp.observe import ObservedEnv
from wsp.planner import (
    PLAN_FORMAT,
    Action,
    PackageDiff,
    Plan,
    Resolution,
    diff_packages,
    needs_solve,
    plan,
)

CASES = Path(__file__).parent / "data" / "plans"
ENVS = Path("/envs")
WORKSPACE = "acme"
MANIFEST = "/ws/workspace.toml"


# -- loading a case ------------------------------------------------------------------------


def pkg(dist: str) -> Package:
    name, version, build = dist.rsplit("-", 2)
    return Package(name, version, build)


def load_desired(name: str, d: dict[str, Any]) -> DesiredEnv:
    env_name = d.get("env_name", name)
    return DesiredEnv(
        project=name,
        env_name=env_name,
        prefix=ENVS / env_name,
        python=d.get("python"),
        specs=tuple(d.get("specs", ())),
        pip=tuple(d.get("pip", ())),
        channels=tuple(Channel(c, (c,)) for c in d.get("channels", ["conda-forge"])),
        channel_priority="strict",
        platform="linux-64",
        spec_hash=d["spec_hash"],
        candidates=tuple(load_variant(v) for v in d.get("candidates", ())),
    )


def load_variant(v: dict[str, Any]) -> sysreq.Variant:
    """{name, [platform], [requirements {key: value}]}"""
    reqs = tuple(sorted(v.get("requirements", {}).items()))
    return sysreq.Variant(v["name"], v.get("platform", "linux-64"), reqs)


def load_observed(name: str, o: dict[str, Any]) -> ObservedEnv:
    dists = frozenset(o.get("dists", ()))
    marker = None
    if (m := o.get("marker")) is not None:
        packages = tuple(m.get("packages", sorted(dists)))
        vouched = ObservedEnv(name, ENVS / name, "ours", dists=frozenset(packages))
        marker = Marker(
            workspace=m.get("workspace", WORKSPACE),
            manifest=m.get("manifest", MANIFEST),
            project=m.get("project", name),
            env=name,
            state=m.get("state", "complete"),
            spec_hash=m.get("spec_hash", ""),
            installed_hash=m.get("installed_hash", vouched.installed_hash),
            packages=packages,
            declared=codec.load(Declared, m["desired"]) if "desired" in m else None,
            variant=m.get("variant"),
        )
    raw = json.dumps(marker.to_json()).encode() if marker is not None else None
    return ObservedEnv(name, ENVS / name, o["ownership"], marker, raw, None, dists)


def load_resolution(r: dict[str, Any], have: ObservedEnv | None) -> Resolution:
    packages = r.get("packages")
    installed = r.get("installed")
    if installed == "observed":
        assert have is not None
        installed = sorted(have.dists)
    return Resolution(
        packages=tuple(pkg(d) for d in packages) if packages is not None else None,
        installed=tuple(pkg(d) for d in installed) if installed is not None else None,
        unreachable=r.get("unreachable"),
        variant=load_variant(r["variant"]) if "variant" in r else None,
        lacking=tuple(
            (name, tuple(sysreq.Unmet(**u) for u in unmet)) for name, unmet in r.get("lacking", ())
        ),
    )


def run_case(case: dict[str, Any]) -> Plan:
    desired = {n: load_desired(n, d) for n, d in case["desired"].items()}
    observed = {n: load_observed(n, o) for n, o in case["observed"].items()}
    resolutions = {
        n: load_resolution(r, observed.get(desired[n].env_name))
        for n, r in case["resolutions"].items()
    }
    return plan(
        desired,
        observed,
        resolutions,
        workspace=WORKSPACE,
        manifest=MANIFEST,
        source_hash="sha256:source",
        targets=case.get("targets", ()),
        why_not_ours=case.get("why_not_ours", {}),
    )


def diff_as_text(diff: PackageDiff) -> dict[str, list[str]]:
    return {
        "add": sorted(f"{p.name} {p.version}" for p in diff.add),
        "remove": sorted(f"{p.name} {p.version}" for p in diff.remove),
        "change": sorted(f"{a.name} {a.version} -> {b.version}" for a, b in diff.change),
    }


def check_action(action: Action, want: dict[str, Any]) -> None:
    where = f"{action.env}: {action}"
    assert action.kind == want["kind"], where
    assert action.env == want["env"], where
    assert action.prefix == ENVS / want["env"], where
    if "project" in want:
        assert action.project == want["project"], where
    codes = [r.code for r in action.reasons]
    if "reason_codes" in want:
        assert codes == want["reason_codes"], where
    if "first_reason_code" in want:
        assert codes and codes[0] == want["first_reason_code"], where
    messages = " | ".join(r.message for r in action.reasons)
    for fragment in want.get("reasons_contain", ()):
        assert fragment in messages, where
    if "packages" in want:
        if want["packages"] is None:
            assert action.diff is None, where
        else:
            assert action.diff is not None, where
            got = diff_as_text(action.diff)
            for key, expected in want["packages"].items():
                assert got[key] == sorted(expected), f"{key}: {where}"
    if "unknown" in want:
        assert bool(action.unknown) == want["unknown"], where
    for fragment in want.get("unknown_contains", ()):
        assert fragment in (action.unknown or ""), where


CASE_FILES = sorted(CASES.glob("*.json"))


def test_there_are_cases() -> None:
    assert len(CASE_FILES) >= 15


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_golden_case(path: Path) -> None:
    case = json.loads(path.read_text())
    expect = case["expect"]
    result = run_case(case)
    got = [(a.env, a.kind) for a in result.actions]
    assert got == [(a["env"], a["kind"]) for a in expect["actions"]], case["description"]
    for action, want in zip(result.actions, expect["actions"], strict=True):
        check_action(action, want)
    notes = "\n".join(result.notes)
    for fragment in expect.get("notes_contain", ()):
        assert fragment in notes
    if not expect.get("notes_contain"):
        assert not [n for n in result.notes if "left alone" in n]
    summary = result.summary
    for kind, count in expect.get("summary", {}).items():
        assert summary[kind] == count, kind
    if "has_changes" in expect:
        assert result.has_changes == expect["has_changes"]
    if "targets" in expect:
        assert list(result.targets) == expect["targets"]
    if "envs_in_inputs" in expect:
        assert sorted(result.inputs["envs"]) == expect["envs_in_inputs"]
    # whatever the case, the plan is plain data
    data = json.loads(json.dumps(result.to_json()))
    assert [a["action"] for a in data["actions"]] == [a["kind"] for a in expect["actions"]]


# -- needs_solve: the no-op fast path --------------------------------------------------------


def _case(name: str) -> dict[str, Any]:
    return json.loads((CASES / f"{name}.json").read_text())


def test_needs_solve() -> None:
    case = _case("noop_in_sync")
    want = load_desired("finance", case["desired"]["finance"])
    in_sync = load_observed("finance", case["observed"]["finance"])
    assert needs_solve(want, None)
    assert not needs_solve(want, in_sync)
    drifted = load_observed("finance", _case("drift_added")["observed"]["finance"])
    assert needs_solve(want, drifted)
    half = load_observed("finance", _case("replace_half_built")["observed"]["finance"])
    assert needs_solve(want, half)
    folder = ObservedEnv("finance", ENVS / "finance", "folder")  # not an env: blocked
    assert not needs_solve(want, folder)
    unowned = ObservedEnv("finance", ENVS / "finance", "unowned")
    assert not needs_solve(want, unowned)  # blocked: nothing will be installed


# -- diff_packages ---------------------------------------------------------------------------


def test_diff_packages_add_remove_change() -> None:
    installed = [pkg("python-3.9.18-h0"), pkg("numpy-1.26.4-py39h0"), pkg("six-1.16.0-pyh0")]
    target = [pkg("python-3.9.18-h0"), pkg("numpy-2.0.0-py39h1"), pkg("pandas-2.2.2-py39h0")]
    diff = diff_packages(installed, target)
    assert diff
    assert diff.add == (pkg("pandas-2.2.2-py39h0"),)
    assert diff.remove == (pkg("six-1.16.0-pyh0"),)
    assert diff.change == ((pkg("numpy-1.26.4-py39h0"), pkg("numpy-2.0.0-py39h1")),)


def test_diff_packages_equal_sets_are_empty() -> None:
    pkgs = [pkg("python-3.9.18-h0"), pkg("numpy-1.26.4-py39h0")]
    diff = diff_packages(pkgs, list(reversed(pkgs)))
    assert not diff
    assert diff == PackageDiff()
    assert not diff_packages([], [])


def test_diff_packages_build_change_is_a_change() -> None:
    diff = diff_packages([pkg("numpy-1.26.4-py39h0")], [pkg("numpy-1.26.4-py39h1")])
    assert [(a.build, b.build) for a, b in diff.change] == [("py39h0", "py39h1")]
    assert not diff.add
    assert not diff.remove


def test_diff_packages_sha256_change_is_a_change() -> None:
    a = Package("numpy", "1.26.4", "py39h0", sha256="aa" * 32)
    b = Package("numpy", "1.26.4", "py39h0", sha256="bb" * 32)
    assert diff_packages([a], [b]).change == ((a, b),)
    unknown = Package("numpy", "1.26.4", "py39h0")  # no sha256 recorded: not a change
    assert not diff_packages([unknown], [b])


def test_diff_packages_sorted() -> None:
    target = [pkg("zlib-1.3-h0"), pkg("attrs-23.2.0-py_0"), pkg("numpy-1.26.4-py39h0")]
    diff = diff_packages([], target)
    assert [p.name for p in diff.add] == ["attrs", "numpy", "zlib"]
    diff = diff_packages(target, [])
    assert [p.name for p in diff.remove] == ["attrs", "numpy", "zlib"]


def test_package_diff_json() -> None:
    diff = diff_packages(
        [pkg("numpy-1.26.4-py39h0"), pkg("six-1.16.0-pyh0")],
        [pkg("numpy-2.0.0-py39h1"), pkg("pandas-2.2.2-py39h0")],
    )
    data = diff.to_json()
    assert data["add"][0]["name"] == "pandas"
    assert data["add"][0]["version"] == "2.2.2"
    assert data["remove"][0]["name"] == "six"
    assert data["remove"][0]["version"] == "1.16.0"
    assert data["change"][0]["name"] == "numpy"
    assert data["change"][0]["from"] == "1.26.4"
    assert data["change"][0]["to"] == "2.0.0"


# -- Plan.to_json ----------------------------------------------------------------------------


def test_plan_json_keys_and_summary() -> None:
    case = _case("prune_undeclared")
    case["desired"]["vision"] = {"python": "3.11.*", "specs": [], "spec_hash": "sha256:v"}
    case["resolutions"]["vision"] = {"packages": ["python-3.11.9-h0", "opencv-4.10.0-py311h0"]}
    data = run_case(case).to_json()
    json.dumps(data)  # serialisable as it is
    assert data["format_version"] == PLAN_FORMAT == "1"
    assert data["workspace"] == WORKSPACE
    assert data["fingerprint"].startswith("sha256:")
    assert set(data["summary"]) >= {"create", "update", "replace", "prune", "no-op"}
    assert all(isinstance(v, int) for v in data["summary"].values())
    assert data["summary"]["create"] == 1
    assert data["summary"]["prune"] == 1
    assert data["summary"]["no-op"] == 1
    assert data["summary"]["update"] == 0
    assert data["summary"]["replace"] == 0
    by_env = {a["env"]: a for a in data["actions"]}
    assert list(by_env) == ["finance", "vision", "oldproj"]
    for a in data["actions"]:
        assert {"project", "env", "prefix", "action", "reasons", "packages"} <= set(a)
        assert isinstance(a["reasons"], list)
        assert all(isinstance(r, str) for r in a["reasons"])
    vision = by_env["vision"]
    assert vision["project"] == "vision"
    assert vision["prefix"] == str(ENVS / "vision")
    assert vision["action"] == "create"
    assert {"add", "remove", "change"} <= set(vision["packages"])
    assert {(p["name"], p["version"]) for p in vision["packages"]["add"]} == {
        ("python", "3.11.9"),
        ("opencv", "4.10.0"),
    }
    assert by_env["finance"]["action"] == "no-op"
    assert by_env["finance"]["reasons"] == []
    assert by_env["oldproj"]["action"] == "prune"
    assert by_env["oldproj"]["reasons"]


def test_plan_json_change_entries() -> None:
    data = run_case(_case("update_spec_changed")).to_json()
    (action,) = data["actions"]
    assert action["action"] == "update"
    assert any("+ pandas>=2" in r for r in action["reasons"])
    change = action["packages"]["change"]
    assert [(c["name"], c["from"], c["to"]) for c in change] == [("numpy", "1.26.4", "2.0.0")]
    assert [p["name"] for p in action["packages"]["add"]] == ["pandas"]
    assert action["packages"]["remove"] == []


def test_plan_json_unknown_packages() -> None:
    data = run_case(_case("unreachable_create")).to_json()
    (action,) = data["actions"]
    assert action["action"] == "create"
    assert action["packages"] is None
    assert "conda-forge" in action["packages_unknown"]


def test_fingerprint_follows_inputs() -> None:
    base = run_case(_case("noop_in_sync"))
    again = run_case(_case("noop_in_sync"))
    assert base.fingerprint == again.fingerprint
    drifted = run_case(_case("drift_added"))
    assert drifted.fingerprint != base.fingerprint
    case = _case("noop_in_sync")
    other_source = plan(
        {n: load_desired(n, d) for n, d in case["desired"].items()},
        {n: load_observed(n, o) for n, o in case["observed"].items()},
        {},
        workspace=WORKSPACE,
        manifest=MANIFEST,
        source_hash="sha256:edited",
    )
    assert other_source.fingerprint != base.fingerprint


def test_empty_plan() -> None:
    result = plan({}, {}, {}, workspace=WORKSPACE, manifest=MANIFEST, source_hash="sha256:s")
    assert result.actions == ()
    assert not result.has_changes
    assert set(result.summary.values()) == {0}
    assert result.to_json()["actions"] == []


@pytest.mark.parametrize(
    ("env", "way"),
    [
        ("web", 'or set env-prefix in [workspace] (e.g. env-prefix = "ws-")'),
        ("s2-web", "or change env-prefix in [workspace] (now 's2-')"),
    ],
)
def test_a_blocked_env_suggests_the_env_prefix_it_does_not_have(env: str, way: str) -> None:
    from wsp.reasons import NotAnEnv, NotOwned

    for reason in (NotOwned(env, "it was made by conda", project="web"), NotAnEnv(env, "web")):
        assert reason.next_steps[1].startswith(way), reason.next_steps
