"""kill -9 at random points of `wsp apply` on a workspace of 20+ envs, round after round:
every env ends whole, or marked half-built and rebuilt by the next apply; no marker,
wsp.lock or lock-holder file is ever left corrupt; no other env is touched.

Set CRASH_SEED to replay a failing run's edits and kill delays (the seed is printed).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from tests.support.channel import SEED_PACKAGES
from tests.support.cli import Result, Workspace, run_all
from tests.test_cli_safety import marked_env, tree, unowned_env

ROUNDS = 10
START = 22  # projects at first; each round adds two and removes two
NOARCH = ("six", "pytz", "click", "h11", "idna", "certifi", "joblib", "threadpoolctl")
PYTHONS = {"3.12": "3.12.4", "3.11": "3.11.9"}
VERSIONS = {p.name: p.version for p in SEED_PACKAGES}
ENV_DONE = re.compile(r"^\S+: (created|updated|replaced|pruned) ", re.MULTILINE)  # apply's stderr
HEADER = """\
[workspace]
name = "crashy"
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]
"""


@dataclass
class Model:
    """What workspace.toml declares: project -> (python, dependencies)."""

    projects: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    next: int = 0

    def add(self, rng: random.Random) -> str:
        name = f"p{self.next:02d}"
        self.next += 1
        self.projects[name] = ("3.12", (rng.choice(NOARCH),))
        return name

    def churn(self, rng: random.Random) -> dict[str, list[str]]:
        """One round of edits: two new projects, two removed, four with another package
        set, one on another Python (a replace)."""
        names = sorted(self.projects)
        gone = rng.sample(names, 2)
        for name in gone:
            del self.projects[name]
        kept = sorted(self.projects)
        updated = rng.sample(kept, 4)
        for name in updated:
            python, deps = self.projects[name]
            extra = rng.choice([d for d in NOARCH if d not in deps[:1]])
            self.projects[name] = (python, deps[:1] if len(deps) > 1 else (deps[0], extra))
        replaced = rng.choice([n for n in kept if n not in updated])
        python, deps = self.projects[replaced]
        self.projects[replaced] = ("3.11" if python == "3.12" else "3.12", deps)
        created = [self.add(rng), self.add(rng)]
        return {"create": created, "update": updated, "replace": [replaced], "prune": gone}

    def toml(self) -> str:
        return HEADER + "".join(
            f'\n[projects.{name}]\npython = "{python}"\ndependencies = {json.dumps(list(deps))}\n'
            for name, (python, deps) in sorted(self.projects.items())
        )


def holder_pid(ws: Workspace) -> int | None:
    """The pid `.wsp/apply.lock.json` names (it must parse whenever it is there)."""
    try:
        text = (ws.root / ".wsp" / "apply.lock.json").read_text()
    except FileNotFoundError:
        return None
    return int(json.loads(text)["pid"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def apply_then_kill(ws: Workspace, after: int, delay: float, log: Path) -> int:
    """Start `wsp apply --yes`; once it holds the workspace lock and has reported `after`
    envs done, SIGKILL it `delay` seconds later unless it exits first. Returns its exit
    code (-9 when killed)."""
    with log.open("wb") as err:
        proc = ws.start("apply", "--yes", stdout=subprocess.DEVNULL, stderr=err)
    while proc.poll() is None and holder_pid(ws) != proc.pid:
        time.sleep(0.01)
    while proc.poll() is None and len(ENV_DONE.findall(log.read_text())) < after:
        time.sleep(0.01)
    try:
        return proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def check_files_whole(ws: Workspace) -> dict[str, str]:
    """Every marker in envs-dir (hidden staging folders too), wsp.lock and the lock-holder
    file parse; returns env -> marker state for the env folders."""
    states = {}
    for env in sorted(ws.envs_dir.iterdir()):
        marker = env / "conda-meta" / "wsp"
        if marker.exists():
            data = json.loads(marker.read_text())
            assert data["state"] in ("building", "complete"), (env, data)
            if not env.name.startswith("."):
                states[env.name] = data["state"]
    lock = YAML(typ="safe").load((ws.root / "wsp.lock").read_text())
    assert isinstance(lock, dict) and "environments" in lock, lock
    pid = holder_pid(ws)
    assert pid is None or not alive(pid), f"apply.lock.json names pid {pid}, still alive"
    return states


def check_plan_and_status(
    ws: Workspace, plan: Result, status: Result | None, strangers: set[str]
) -> dict[str, str]:
    """What `wsp plan --json` and `wsp status --json` say of every env on disk matches its
    marker: a complete env holds exactly the packages its marker lists and is in sync or
    has an update to do; a half-built one is shown half-built and replaced (or pruned).
    Returns env -> planned action."""
    assert plan.code == 0, plan
    actions = {a["env"]: a for a in plan.json["actions"]}
    states: dict[str, str] = {}
    if status is not None:
        assert status.code == 0, status
        states = {row["env"]: row["state"] for row in status.json["envs"]}
    assert not [a for a in actions.values() if a["action"] == "blocked"], plan
    on_disk = check_files_whole(ws)
    for env in sorted(p.name for p in ws.envs_dir.iterdir() if not p.name.startswith(".")):
        if env in strangers:
            assert env not in actions and env not in states, (env, plan, status)
            continue
        assert env in on_disk, f"{env}: an env folder without wsp's marker"
        marker = json.loads((ws.envs_dir / env / "conda-meta" / "wsp").read_text())
        action, state = actions[env], states.get(env)
        if marker["state"] == "complete":
            assert ws.dists(env) == set(marker["packages"]), (env, marker)
            assert state in (None, "in sync", "out of date", "undeclared"), (env, state)
            assert action["action"] in ("no-op", "update", "replace", "prune"), (env, action)
            if action["action"] == "replace":
                assert "python-changed" in action["reason_codes"], (env, action)
        elif action["action"] == "prune":
            assert state in (None, "undeclared"), (env, state)
        else:
            assert state in (None, "half-built"), (env, state)
            assert action["action"] == "replace", (env, action)
            assert action["reason_codes"] == ["half-built"], (env, action)
    return {env: a["action"] for env, a in actions.items()}


def test_kill_9_at_random_points_of_applies_of_22_envs(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    """Ten applies or more (creates, updates, replaces, prunes) each killed at a random
    point: after each, every marker parses and says what the env holds, `wsp plan` and
    `wsp status` show the half-built envs, and nothing outside the plan changed; then one
    apply mends all."""
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(2**32))
    print(f"CRASH_SEED={seed}")
    rng = random.Random(seed)
    model = Model()
    for _ in range(START):
        model.add(rng)
    ws = make_workspace(model.toml())
    # Two envs wsp does not own, in its envs-dir: one made by hand, one of another workspace.
    neighbour = make_workspace(HEADER.replace("crashy", "neighbour"), name="neighbour")
    unowned_env(ws.envs_dir / "by-hand")
    marked_env(
        ws.envs_dir / "neighbours",
        workspace="neighbour",
        manifest=str(neighbour.manifest),
        project="neighbours",
    )
    strangers = {env: tree(ws.envs_dir / env) for env in ("by-hand", "neighbours")}
    r = ws.wsp("lock")
    assert r.code == 0, r

    killed = 0
    round_ = 0
    # a kill may land after an apply ended: more rounds (up to twice as many) until three
    # applies were killed before their end
    while round_ < ROUNDS or (killed < 3 and round_ < 2 * ROUNDS):
        round_ += 1
        edits = model.churn(rng) if round_ > 1 else {"create": sorted(model.projects)}
        ws.write(model.toml())
        if round_ % 2:  # `wsp status` every other round: each wsp start-up costs a second
            plan, status = run_all(ws, ("plan", "--json"), ("status", "--json"))
        else:
            plan, status = ws.wsp("plan", "--json"), None
        actions = check_plan_and_status(ws, plan, status, set(strangers))
        assert [actions[name] for name in edits["create"]] == ["create"] * len(edits["create"])
        for name in edits.get("prune", ()):  # no action when its env was never built
            assert actions.get(name, "prune") == "prune", (round_, name, actions[name])
        untouched = {env: tree(ws.envs_dir / env) for env, a in actions.items() if a == "no-op"}

        changes = sum(a != "no-op" for a in actions.values())
        after, delay = rng.randint(0, changes), rng.uniform(0, 0.2)
        log = tmp_path / f"apply-{round_}.log"
        code = apply_then_kill(ws, after, delay, log)
        assert code in (0, -signal.SIGKILL), log.read_text()
        assert "Traceback" not in log.read_text(), log.read_text()
        killed += code != 0

        states = check_files_whole(ws)
        print(
            f"round {round_}: {edits}\n  {'killed' if code else 'done'} after"
            f" {len(ENV_DONE.findall(log.read_text()))} of {changes} envs + {delay:.2f}s:"
            f" {list(states.values()).count('building')} half-built, leftovers"
            f" {[p.name for p in ws.envs_dir.iterdir() if p.name.startswith('.')]}"
        )
        for env, files in untouched.items():
            assert tree(ws.envs_dir / env) == files, f"round {round_}: {env} was not in the plan"
        for env, files in strangers.items():
            assert tree(ws.envs_dir / env) == files, f"round {round_}: {env} is not wsp's"

    plan, status = run_all(ws, ("plan", "--json"), ("status", "--json"))
    check_plan_and_status(ws, plan, status, set(strangers))
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    r = ws.wsp("plan", "--detailed-exitcode")
    assert r.code == 0, r
    assert killed >= 3, f"only {killed} of {round_} applies were killed before their end"

    envs = {p.name for p in ws.envs_dir.iterdir()}
    assert envs == set(model.projects) | set(strangers), envs  # no trash or staging left
    for name, (python, deps) in model.projects.items():
        assert ws.versions(name) == {"python": PYTHONS[python], **{d: VERSIONS[d] for d in deps}}
        marker = json.loads((ws.envs_dir / name / "conda-meta" / "wsp").read_text())
        assert marker["state"] == "complete", name
    for env, files in strangers.items():
        assert tree(ws.envs_dir / env) == files, env
    # `conda env list` shows exactly the workspace's envs (wsp registers what it builds)
    listed = (Path(ws.env["HOME"]) / ".conda" / "environments.txt").read_text().splitlines()
    declared = {str(ws.envs_dir / name) for name in model.projects}
    assert len(listed) == len(set(listed)), listed
    assert set(listed) == declared, (sorted(set(listed) - declared), sorted(declared - set(listed)))


def test_kill_9_while_an_env_is_pruned_leaves_no_ghost_in_conda_env_list(
    make_workspace: Callable[..., Workspace],
) -> None:
    """kill -9 right after a pruned env's folder is gone: once the next apply has run,
    `conda env list` (~/.conda/environments.txt) no longer lists that env."""
    ws = make_workspace(
        HEADER + '\n[projects.keep]\npython = "3.12"\n'
        '\n[projects.gone]\npython = "3.12"\ndependencies = ["pandas", "scikit-learn"]\n'
    )
    assert ws.wsp("apply", "--yes").code == 0
    listed = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    assert str(ws.envs_dir / "gone") in listed.read_text().splitlines()

    ws.edit('\n[projects.gone]\npython = "3.12"\ndependencies = ["pandas", "scikit-learn"]\n', "")
    proc = ws.start("apply", "--yes", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and (ws.envs_dir / "gone").exists():
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    assert not (ws.envs_dir / "gone").exists()

    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert ws.wsp("plan", "--detailed-exitcode").code == 0
    assert listed.read_text().splitlines() == [str(ws.envs_dir / "keep")]


def test_an_apply_lists_exactly_the_owned_envs_even_with_nothing_to_change(
    make_workspace: Callable[..., Workspace],
) -> None:
    """Whatever window a kill hit between changing an env and (un)listing it in
    ~/.conda/environments.txt, the next apply, even one with no change to make, leaves
    the file listing every owned env and no gone one of envs-dir; other lines are kept."""
    ws = make_workspace(HEADER + '\n[projects.keep]\npython = "3.12"\n')
    assert ws.wsp("apply", "--yes").code == 0
    listed = Path(ws.env["HOME"]) / ".conda" / "environments.txt"
    ghost, elsewhere = ws.envs_dir / "ghost", "/opt/somewhere/else"
    listed.write_text(f"{elsewhere}\n{ghost}\n")  # keep unlisted, a gone env listed

    r = ws.wsp("apply", "--yes")
    assert r.code == 0 and "No changes" in r.stdout, r
    assert listed.read_text().splitlines() == [elsewhere, str(ws.envs_dir / "keep")]
