"""WSP5xx through the CLI: stale owned envs and unowned envs, reported and never removed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.support.cli import Workspace

ONE = """\
[workspace]
name = "acme-research"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.finance]
python = "3.9"
"""


def codes(r) -> list[tuple[str, str | None]]:
    return [(f["code"], f["project"]) for f in r.json["findings"]]


def age_marker(ws: Workspace, env: str, *, applied_days: int, used_days: int | None = None) -> None:
    path = ws.envs_dir / env / "conda-meta" / "wsp"
    data = json.loads(path.read_text())
    now = datetime.now(UTC)
    data["applied_at"] = (now - timedelta(days=applied_days)).isoformat()
    path.write_text(json.dumps(data))
    if used_days is not None:  # where `wsp run` records a use
        used = ws.envs_dir / env / "conda-meta" / "wsp-last-used"
        used.write_text((now - timedelta(days=used_days)).isoformat() + "\n")


def test_wsp501_stale_owned_env(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(ONE)
    assert ws.wsp("apply", "--yes").code == 0
    r = ws.wsp("check", "--json")
    assert r.json["findings"] == [], r  # just applied
    age_marker(ws, "finance", applied_days=200)
    r = ws.wsp("check", "--json")
    assert r.code == 0, r  # a warning
    assert codes(r) == [("WSP501", "finance")]
    f = r.json["findings"][0]
    assert "200 days" in f["message"] and "policy.stale-days = 90" in f["message"]
    # a stale warning never blocks apply, and apply never removes the env for it
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert (ws.envs_dir / "finance").is_dir()


def test_wsp501_recent_use_keeps_an_env_fresh(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(ONE + "\n[policy]\nstale-days = 30\n")
    assert ws.wsp("apply", "--yes").code == 0
    age_marker(ws, "finance", applied_days=200, used_days=3)
    assert ws.wsp("check", "--json").json["findings"] == []
    age_marker(ws, "finance", applied_days=200, used_days=45)
    r = ws.wsp("check", "--json")
    assert codes(r) == [("WSP501", "finance")]
    assert "policy.stale-days = 30" in r.json["findings"][0]["message"]
    # `eval "$(wsp env finance)"` is a use too, as `wsp shell-hook` is
    assert ws.wsp("env", "finance").code == 0
    assert ws.wsp("check", "--json").json["findings"] == []


def test_wsp502_unowned_env_reported_never_removed(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(ONE)
    assert ws.wsp("check", "--json").json["findings"] == []
    stray = ws.envs_dir / "old-analysis"
    (stray / "conda-meta").mkdir(parents=True)
    (stray / "conda-meta" / "history").write_text("")
    r = ws.wsp("check", "--json")
    assert r.code == 0, r
    assert codes(r) == [("WSP502", None)]
    f = r.json["findings"][0]
    assert f["env"] == "old-analysis" and f["scope"] == "envs-dir"
    assert f["command"] == f"conda env remove --prefix {stray}"
    r = ws.wsp("check", "--fix")
    assert f"conda env remove --prefix {stray}" in r.stderr
    # plan and apply report it their own way ("left alone"), not twice
    r = ws.wsp("plan", "--json")
    assert r.json["findings"] == []
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert "WSP502" not in r.stdout and "left alone" in r.stdout
    assert (stray / "conda-meta" / "history").exists()
    ws.write(ONE + '\n[policy.rules]\nWSP502 = "off"\n')
    assert ws.wsp("check", "--json").json["findings"] == []


def test_wsp501_wsp_run_counts_as_use(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(ONE)
    assert ws.wsp("apply", "--yes").code == 0
    age_marker(ws, "finance", applied_days=200)
    assert codes(ws.wsp("check", "--json")) == [("WSP501", "finance")]
    r = ws.wsp("run", "finance", "--", "true")
    assert r.code == 0, r
    assert ws.wsp("check", "--json").json["findings"] == []
