"""Several `wsp apply` on one workspace at once: serialized by the workspace lock, or
refused with one clear line naming the holder; the envs end as workspace.toml says. A
lock left by a killed apply is taken over at once. (The basics are in test_cli_lock.py.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable

import pytest

from tests.support.channel import SEED_PACKAGES
from tests.support.cli import Result, Workspace, finish

VERSIONS = {p.name: p.version for p in SEED_PACKAGES}
PYTHONS = {"3.9": "3.9.18", "3.11": "3.11.9", "3.12": "3.12.4"}
HEADER = """\
[workspace]
name = "busy"
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]
"""
FIRST = {
    "alpha": ("3.12", ("six",)),
    "beta": ("3.12", ("click",)),
    "gamma": ("3.11", ("h11",)),
    "delta": ("3.11", ("pytz",)),
    "epsilon": ("3.9", ("idna",)),
    "zeta": ("3.12", ("certifi",)),
}
# then: two updates, a replace (python), a create and a prune
SECOND = {
    **{k: v for k, v in FIRST.items() if k != "zeta"},
    "alpha": ("3.12", ("six", "click")),
    "beta": ("3.12", ("joblib",)),
    "gamma": ("3.12", ("h11",)),
    "eta": ("3.11", ("threadpoolctl",)),
}
REFUSED = re.compile(
    r"error: another wsp is applying this workspace: pid (\d+) \(wsp apply, since "
    r"\d\d:\d\d:\d\d\) holds \S+apply\.lock; wait for it to finish, then run again"
)
ENV_DONE = re.compile(r"^\S+: (created|updated|replaced|pruned) ", re.MULTILINE)


def toml(projects: dict[str, tuple[str, tuple[str, ...]]]) -> str:
    return HEADER + "".join(
        f'\n[projects.{name}]\npython = "{python}"\ndependencies = {json.dumps(list(deps))}\n'
        for name, (python, deps) in projects.items()
    )


def applies_at_once(ws: Workspace, n: int, timeout: str) -> tuple[list[int], list[Result]]:
    """Start `n` `wsp apply --yes` together, wait for all: (their pids, their results)."""
    procs = [ws.start("apply", "--yes", WSP_LOCK_TIMEOUT=timeout) for _ in range(n)]
    return [p.pid for p in procs], [finish(p) for p in procs]


def holder_pid(ws: Workspace) -> int | None:
    try:
        return int(json.loads((ws.root / ".wsp" / "apply.lock.json").read_text())["pid"])
    except FileNotFoundError:
        return None


def assert_matches(ws: Workspace, projects: dict[str, tuple[str, tuple[str, ...]]]) -> None:
    """`wsp plan` has nothing to do, and every env holds what workspace.toml declares and
    carries a whole, complete marker; nothing else is left in envs-dir."""
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert sorted(p.name for p in ws.envs_dir.iterdir()) == sorted(projects)
    for name, (python, deps) in projects.items():
        want = {"python": PYTHONS[python], **{d: VERSIONS[d] for d in deps}}
        assert ws.versions(name) == want, name
        marker = json.loads((ws.envs_dir / name / "conda-meta" / "wsp").read_text())
        assert marker["state"] == "complete", name
        assert set(marker["packages"]) == ws.dists(name), name


def check_outcomes(pids: list[int], results: list[Result], changes: int) -> list[int]:
    """Each apply exited 0, or 1 with the one-line refusal naming another of them; every
    change was made exactly once, by one of them. Returns the exit codes."""
    for pid, r in zip(pids, results, strict=True):
        assert "Traceback" not in r.output and "internal error" not in r.output, r
        if r.code == 0:
            continue
        assert r.code == 1, r
        (line,) = [line for line in r.stderr.splitlines() if line.startswith("error:")]
        m = REFUSED.fullmatch(line)
        assert m is not None, f"the refusal does not name the holder's pid: {line}\n{r}"
        assert int(m[1]) in set(pids) - {pid}, (pid, pids, r)
        assert not ENV_DONE.search(r.output), r
    done = [m[0] for r in results for m in ENV_DONE.finditer(r.stderr)]
    assert len(done) == changes, [r.stderr for r in results]
    return [r.code for r in results]


@pytest.mark.parametrize(
    ("timeout", "refusals"), [("60", False), ("0", True)], ids=["waiting", "not-waiting"]
)
def test_two_then_four_applies_at_once(
    make_workspace: Callable[..., Workspace], timeout: str, refusals: bool
) -> None:
    """Two, then four `wsp apply --yes` started together: with a long WSP_LOCK_TIMEOUT all
    wait their turn and exit 0; with WSP_LOCK_TIMEOUT=0 the ones that find the workspace
    busy exit 1 with one line naming the holder. Either way each env is built once and
    the envs end as workspace.toml says."""
    ws = make_workspace(toml(FIRST))
    pids, results = applies_at_once(ws, 2, timeout)
    codes = check_outcomes(pids, results, changes=len(FIRST))
    assert 0 in codes and (refusals or codes == [0, 0]), results
    assert_matches(ws, FIRST)

    ws.write(toml(SECOND))
    pids, results = applies_at_once(ws, 4, timeout)
    codes = check_outcomes(pids, results, changes=5)  # alpha, beta, gamma, eta, zeta
    assert 0 in codes and (refusals or codes == [0] * 4), results
    assert_matches(ws, SECOND)
    assert not (ws.root / ".wsp" / "apply.lock.json").exists()


def test_lock_of_a_killed_apply_is_taken_over_at_once(
    make_workspace: Callable[..., Workspace],
) -> None:
    """kill -9 an apply while it holds the lock: `.wsp/apply.lock.json` still names it, but
    the next apply goes ahead even with WSP_LOCK_TIMEOUT=0, and mends what was cut short."""
    ws = make_workspace(toml(FIRST))
    proc = ws.start("apply", "--yes")
    while proc.poll() is None and holder_pid(ws) != proc.pid:
        time.sleep(0.01)
    holding = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    killed = finish(proc)
    assert holding and killed.code == -signal.SIGKILL, killed
    assert holder_pid(ws) == proc.pid  # the holder file is left behind, naming a dead pid
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)

    r = ws.wsp("apply", "--yes", WSP_LOCK_TIMEOUT="0")
    assert r.code == 0, r
    assert "another wsp" not in r.output, r
    assert_matches(ws, FIRST)
    assert not (ws.root / ".wsp" / "apply.lock.json").exists()


def test_watch_once_with_the_lock_held(make_workspace: Callable[..., Workspace]) -> None:
    """`wsp watch --once` while another wsp holds the lock: exit 1, the holder named, no
    env touched; once the lock is free it applies everything and exits 0."""
    from wsp.applylock import workspace_lock

    ws = make_workspace(toml(FIRST))
    with workspace_lock(ws.root / ".wsp", timeout=0, command="wsp apply"):
        r = ws.wsp("watch", "--once", WSP_LOCK_TIMEOUT="0.2")
    assert r.code == 1, r
    assert f"another wsp is applying this workspace: pid {os.getpid()}" in r.output, r
    assert "Traceback" not in r.output, r
    assert not ws.envs_dir.exists() or not list(ws.envs_dir.iterdir())

    r = ws.wsp("watch", "--once", WSP_LOCK_TIMEOUT="0")
    assert r.code == 0, r
    assert_matches(ws, FIRST)
