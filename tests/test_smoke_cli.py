"""The seed workspace end to end: plan, apply, plan again."""

from tests.support.cli import Workspace


def test_fresh_plan_apply_noop(workspace: Workspace) -> None:
    r = workspace.wsp("plan", "--detailed-exitcode")
    assert r.code == 2, r
    assert r.stdout.count(" create ") == 3
    r = workspace.wsp("apply", "--yes")
    assert r.code == 0, r
    assert workspace.versions("finance")["python"].startswith("3.9.")
    assert workspace.versions("vision")["python"].startswith("3.11.")
    assert workspace.versions("webdev")["python"].startswith("3.12.")
    r = workspace.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert "No changes" in r.stdout
