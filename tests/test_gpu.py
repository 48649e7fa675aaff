"""GPU envs through the CLI, on this CPU-only machine: system requirements solve, lock and
check every env; CONDA_OVERRIDE_CUDA stands in for a driver (an empty one removes any);
platform variants; WSP601; docs/gpu.md's scenario as written."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.channel import current_platform
from tests.support.cli import Result, Workspace

HERE = current_platform()
DOCS = Path(__file__).resolve().parent.parent / "docs" / "gpu.md"

pytestmark = pytest.mark.skipif(
    not HERE.startswith(("linux-", "win-")),
    reason="a cuda requirement means something on Linux and Windows only",
)

NO_GPU = {"CONDA_OVERRIDE_CUDA": ""}  # even on a machine with a driver: none
GPU = {"CONDA_OVERRIDE_CUDA": "12.4"}

GPU_TOML = """\
[workspace]
name = "gpu-lab"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[templates.gpu]
system-requirements = { cuda = "12.0" }

[projects.vision]
python = "3.11"
extends = ["gpu"]
dependencies = ["pytorch"]

[projects.finance]
python = "3.11"
dependencies = ["numpy"]
"""

CUDA120 = "pytorch-2.4.0-cuda120_py_101"
CUDA118 = "pytorch-2.4.0-cuda118_py_100"
CPU = "pytorch-2.4.0-cpu_py_0"


@pytest.fixture
def gpu_workspace(
    make_workspace: Callable[..., Workspace], cuda_channel: Path
) -> Callable[..., Workspace]:
    def make(toml: str = GPU_TOML, name: str = "ws") -> Workspace:
        return make_workspace(toml, name, chan=cuda_channel)

    return make


def ok(r: Result, code: int = 0) -> Result:
    assert r.code == code, r
    assert "Traceback" not in r.output, r
    return r


def lock_doc(ws: Workspace) -> dict:
    from ruamel.yaml import YAML

    text = (ws.root / "wsp.lock").read_text()
    return YAML(typ="safe").load(
        "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    )


def locked_dists(doc: dict, project: str, platform: str) -> set[str]:
    entries = doc["environments"][project]["packages"][platform]
    return {e["conda"].rsplit("/", 1)[-1].removesuffix(".tar.bz2") for e in entries}


def action(plan: dict, project: str) -> dict:
    return next(a for a in plan["actions"] if a["project"] == project)


def test_a_cpu_machine_locks_the_cuda_build_and_a_gpu_server_installs_it(
    gpu_workspace: Callable[..., Workspace],
) -> None:
    ws = gpu_workspace()
    ok(ws.wsp("lock", **NO_GPU))
    doc = lock_doc(ws)
    entries = {p["name"]: p for p in doc["platforms"]}
    tagged = f"{HERE}--cuda-12-0"
    assert set(entries) == {HERE, tagged}
    assert "__cuda=12.0=0" in entries[tagged]["virtual-packages"]
    assert entries[tagged]["subdir"] == HERE
    assert not any(v.startswith("__cuda") for v in entries[HERE]["virtual-packages"])
    assert CUDA120 in locked_dists(doc, "vision", tagged)
    assert "cuda-version-12.0-h0_3" in locked_dists(doc, "vision", tagged)
    assert not any("pytorch" in d for d in locked_dists(doc, "finance", HERE))
    ok(ws.wsp("lock", "--check", **NO_GPU))

    # the plan carries each env's variant and requirements; this machine can't run vision
    plan = ok(ws.wsp("plan", "--json", **NO_GPU)).json
    vision = action(plan, "vision")
    assert vision["action"] == "blocked"
    assert vision["reason_codes"][0] == "host"
    assert "CONDA_OVERRIDE_CUDA=12.0" in vision["reasons"][0]
    assert (vision["variant"], vision["platform"]) == (HERE, HERE)
    assert vision["system_requirements"] == {"cuda": "12.0"}
    assert action(plan, "finance")["system_requirements"] == {}

    # a GPU server installs exactly the lock
    ok(ws.wsp("apply", "--locked", "--yes", **GPU))
    assert {CUDA120, "cuda-version-12.0-h0_3"} <= ws.dists("vision")
    status = ok(ws.wsp("status", "--json", **GPU)).json
    row = next(r for r in status["envs"] if r["project"] == "vision")
    assert (row["variant"], row["system_requirements"]) == (HERE, {"cuda": "12.0"})
    assert {"name": "__cuda", "version": "12.4", "build": "0"} in status["host"]["virtual_packages"]
    assert status["host"]["overrides"] == {"CONDA_OVERRIDE_CUDA": "12.4"}
    marker = json.loads((ws.envs_dir / "vision" / "conda-meta" / "wsp").read_text())
    assert marker["variant"] == HERE
    assert "pytorch 2.4.0 cuda120_py_101 needs __cuda >=12" in marker["cuda_builds"]
    # in sync: nothing asks the machine again, with or without its driver
    assert "No changes" in ok(ws.wsp("plan", **NO_GPU)).stdout


def test_a_no_op_plan_asks_neither_rattler_nor_the_machine(
    gpu_workspace: Callable[..., Workspace],
) -> None:
    """Envs in sync with their lock: no solve, no detection, rattler not even imported."""
    import subprocess
    import sys

    ws = gpu_workspace()
    ok(ws.wsp("lock", **NO_GPU))
    ok(ws.wsp("apply", "--locked", "--yes", **GPU))
    ok(ws.wsp("plan", **NO_GPU))  # writes wsp's caches
    for command in (("plan",), ("apply", "--yes")):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "wsp", *command],
            cwd=ws.root,
            env={**ws.env, **NO_GPU},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "No changes" in proc.stdout + proc.stderr
        imported = [ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines()]
        assert not [m for m in imported if m.split(".")[0] == "rattler"], command


def test_without_a_driver_apply_refuses_that_env_and_applies_the_others(
    gpu_workspace: Callable[..., Workspace],
) -> None:
    ws = gpu_workspace()
    r = ok(ws.wsp("apply", "--yes", **NO_GPU), 1)
    assert (
        "error: vision: not applied: this machine can't run it: needs __cuda >=12.0 "
        '(cuda = "12.0"), this machine has none (no NVIDIA driver found); set '
        "CONDA_OVERRIDE_CUDA=12.0 to install it anyway" in r.stderr
    ), r
    assert "numpy" in ws.versions("finance")
    assert not (ws.envs_dir / "vision").exists()

    # --locked refuses it the same way
    ok(ws.wsp("lock", **NO_GPU))
    r = ok(ws.wsp("apply", "--locked", "--yes", **NO_GPU), 1)
    assert "vision: not applied: this machine can't run it" in r.stderr, r

    # solved here (no lock involved) with the declaration, not this machine: CUDA
    (ws.root / "wsp.lock").unlink()
    ok(ws.wsp("apply", "--yes", **GPU))
    assert CUDA120 in ws.dists("vision")


def test_a_changed_requirement_plans_an_update_and_lock_check_notices(
    gpu_workspace: Callable[..., Workspace],
) -> None:
    ws = gpu_workspace()
    ok(ws.wsp("lock", **NO_GPU))
    ok(ws.wsp("apply", "--locked", "--yes", **GPU))
    ws.edit('system-requirements = { cuda = "12.0" }', 'system-requirements = { cuda = "11.8" }')

    r = ok(ws.wsp("lock", "--check", **NO_GPU), 1)
    assert (
        "wsp.lock is out of date for vision (system requirements changed on "
        f"{HERE}: __cuda 12.0 -> 11.8)" in r.stderr
    ), r

    plan = ok(ws.wsp("plan", "--json", **GPU)).json
    vision = action(plan, "vision")
    assert vision["action"] == "update"
    assert vision["reason_codes"] == ["system-requirements"]
    assert vision["reasons"] == ["system requirements changed: cuda 12.0 -> 11.8"]
    assert vision["system_requirements"] == {"cuda": "11.8"}
    assert {i["build"] for i in vision["install"] if i["name"] == "pytorch"} == {"cuda118_py_100"}
    assert action(plan, "finance")["action"] == "no-op"

    ok(ws.wsp("lock", **NO_GPU))
    ok(ws.wsp("lock", "--check", **NO_GPU))
    ok(ws.wsp("apply", "--locked", "--yes", **GPU))
    assert CUDA118 in ws.dists("vision")


def _doc_blocks() -> list[tuple[str, str, str]]:
    """docs/gpu.md's marked blocks: (marker, language, body), in order."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.finditer(r"<!-- ([^>]+?) -->\n```(\w+)\n(.*?)\n```", text, re.DOTALL)
    return [(m.group(1), m.group(2), m.group(3)) for m in found]


def _doc_toml(marker: str, channel: Path) -> str:
    body = next(b for m, _, b in _doc_blocks() if m == marker)
    return f'{body}\n\n[workspace.mirrors]\n"conda-forge" = ["{channel.as_uri()}"]\n'


def test_variants_pick_the_first_the_machine_can_run(
    gpu_workspace: Callable[..., Workspace], cuda_channel: Path
) -> None:
    if HERE != "linux-64":
        pytest.skip("docs/gpu.md's variants are linux-64's")
    ws = gpu_workspace(_doc_toml("variants", cuda_channel))
    ok(ws.wsp("lock", **NO_GPU))
    doc = lock_doc(ws)
    assert CUDA120 in locked_dists(doc, "train", "linux-64-cuda")
    assert CPU in locked_dists(doc, "train", "linux-64")
    assert CPU in locked_dists(doc, "train", "osx-arm64")

    # no driver: the CPU variant, nothing refused
    ok(ws.wsp("apply", "--locked", "--yes", **NO_GPU))
    assert CPU in ws.dists("train")
    info = ok(ws.wsp("info", "--json", **NO_GPU)).json
    train = info["envs"][0]
    assert [c["name"] for c in train["candidates"]] == ["linux-64-cuda", "linux-64"]
    assert [c["runs_here"] for c in train["candidates"]] == [False, True]
    assert (train["picks"], train["built_for"]) == ("linux-64", "linux-64")
    assert "CONDA_OVERRIDE_CUDA=12.0" in " ".join(train["candidates"][0]["hints"])

    # a driver appears: the next plan moves the env to the CUDA variant
    plan = ok(ws.wsp("plan", "--json", **GPU)).json
    moved = action(plan, "train")
    assert moved["action"] == "update" and moved["variant"] == "linux-64-cuda"
    assert moved["reasons"] == ["platform variant linux-64 -> linux-64-cuda"]
    ok(ws.wsp("apply", "--locked", "--yes", **GPU))
    assert CUDA120 in ws.dists("train")
    assert "linux-64-cuda (cuda 12.0)" in ok(ws.wsp("status", **GPU)).stdout

    # the driver gone, the plan moves it back to the CPU variant: status agrees with it
    back = action(ok(ws.wsp("plan", "--json", **NO_GPU)).json, "train")
    assert back["reasons"] == ["platform variant linux-64-cuda -> linux-64"]
    for env, state in ((NO_GPU, "out of date"), (GPU, "in sync")):
        row = ok(ws.wsp("status", "--json", **env)).json["envs"][0]
        assert (row["state"], row["variant"]) == (state, "linux-64-cuda"), row


def test_cuda_builds_without_a_cuda_requirement_are_flagged(
    gpu_workspace: Callable[..., Workspace],
) -> None:
    toml = GPU_TOML.replace(
        '[projects.finance]\npython = "3.11"\ndependencies = ["numpy"]',
        '[projects.gpu-train]\npython = "3.11"\ndependencies = ["pytorch", "pytorch-cuda=11.8"]',
    )
    ws = gpu_workspace(toml)
    ok(ws.wsp("lock", **NO_GPU))
    # solved without __cuda: the CPU build beside pytorch-cuda's cuda-version
    assert CPU in locked_dists(lock_doc(ws), "gpu-train", HERE)
    findings = ok(ws.wsp("check", "--json", **NO_GPU)).json["findings"]
    found = [f for f in findings if f["code"] == "WSP601"]
    assert [f["project"] for f in found] == ["gpu-train"], findings
    assert "cuda-version 11.8" in found[0]["message"]
    assert 'system-requirements = { cuda = "11.8" }' in found[0]["hint"]

    ws.edit(
        'dependencies = ["pytorch", "pytorch-cuda=11.8"]',
        'dependencies = ["pytorch", "pytorch-cuda=11.8"]\nsystem-requirements = { cuda = "11.8" }',
    )
    ok(ws.wsp("lock", **NO_GPU))
    assert CUDA118 in locked_dists(lock_doc(ws), "gpu-train", f"{HERE}--cuda-11-8")
    findings = ok(ws.wsp("check", "--json", **NO_GPU)).json["findings"]
    assert not [f for f in findings if f["code"] == "WSP601"], findings


def test_a_requirement_no_machine_can_be_checked_for_is_said_out_loud(
    gpu_workspace: Callable[..., Workspace],
) -> None:
    ws = gpu_workspace(
        GPU_TOML.replace(
            'dependencies = ["numpy"]',
            'dependencies = ["numpy"]\nsystem-requirements = { __foo = "1" }',
        )
    )
    plan = ok(ws.wsp("plan", "--json", **NO_GPU)).json
    assert action(plan, "finance")["system_requirements"] == {"__foo": "1"}
    assert (
        "finance: __foo can't be detected on any machine: the env is solved with it, and no "
        "machine is checked for it" in plan["notes"]
    ), plan["notes"]


@pytest.mark.parametrize(
    ("where", "text", "message"),
    [
        (
            "project",
            'system-requirements = { cdua = "12.0" }',
            "unknown system requirement 'cdua'; did you mean 'cuda'?",
        ),
        (
            "project",
            "system-requirements = { cuda = 12.0 }",
            'must be a string in quotes, e.g. cuda = "12.0"',
        ),
        ("project", 'system-requirements = { cuda = "twelve" }', "'twelve' is not a version"),
        (
            "project",
            'system-requirements = { cuda = "12", __cuda = "11" }',
            "cuda and __cuda both name __cuda; keep one",
        ),
        (
            "project",
            'system-requirements = { archspec = "x86-64 v3" }',
            "is not a microarchitecture name",
        ),
        ("workspace", 'platforms = ["linux-65"]', "'linux-65' is not a conda platform; did you"),
        ("workspace", 'platforms = [{ name = "gpu" }]', 'needs platform = "linux-64"'),
        (
            "workspace",
            'platforms = [{ name = "gpu_box", platform = "linux-64" }]',
            "platform variant name 'gpu_box'",
        ),
        ("workspace", 'platforms = ["linux-64", "linux-64"]', "listed twice"),
        (
            "workspace",
            'platforms = [{ name = "x", platform = "linux-64", system-requirement = {} }]',
            "unknown key 'system-requirement'",
        ),
    ],
)
def test_bad_requirements_and_platforms_are_located_errors(
    gpu_workspace: Callable[..., Workspace], where: str, text: str, message: str
) -> None:
    if where == "project":
        toml = GPU_TOML.replace('dependencies = ["numpy"]', f'dependencies = ["numpy"]\n{text}')
    else:
        toml = GPU_TOML.replace('envs-dir = ".wsp/envs"', f'envs-dir = ".wsp/envs"\n{text}')
    ws = gpu_workspace(toml)
    r = ok(ws.wsp("plan"), 1)
    line = (ws.root / "workspace.toml").read_text().splitlines().index(text) + 1
    assert r.stderr.startswith(f"workspace.toml:{line}:"), r
    assert message in r.stderr, r
    assert len(r.stderr.strip().splitlines()) == 1, r
    assert not (ws.root / ".wsp").exists()


# -- docs/gpu.md, as written -------------------------------------------------------------------

MACHINES = {"laptop": NO_GPU, "ci": NO_GPU, "gpu-server": GPU}


def _matches(expected: str, lines: list[str]) -> bool:
    """Whether some line holds the pieces of `expected` (split at `…`), in order."""
    pieces = [p for p in expected.split("…")]
    for line in lines:
        at = 0
        for piece in pieces:
            at = line.find(piece, at)
            if at < 0:
                break
            at += len(piece)
        else:
            return True
    return False


def test_the_gpu_scenario_of_the_docs_runs_as_written(
    gpu_workspace: Callable[..., Workspace], cuda_channel: Path
) -> None:
    """Declare, lock on a laptop, apply on a GPU server, check on CI: each machine its own
    clone of the repository (workspace.toml and wsp.lock, taken from the laptop)."""
    if HERE != "linux-64":
        pytest.skip("docs/gpu.md's scenario locks linux-64 and runs on it")
    laptop = gpu_workspace(_doc_toml("workspace", cuda_channel), "laptop")
    clones = {"laptop": laptop}
    ran = 0
    for marker, lang, body in _doc_blocks():
        if marker == "edit":
            key = body.splitlines()[-1].split(" = ", 1)[0]
            text = laptop.manifest.read_text().splitlines()
            hits = [i for i, ln in enumerate(text) if ln.startswith(f"{key} = ")]
            assert len(hits) == 1, key
            text[hits[0]] = body.splitlines()[-1]
            laptop.manifest.write_text("\n".join(text) + "\n")
            continue
        if not marker.startswith("run: "):
            continue
        assert lang == "console"
        machine = marker.removeprefix("run: ")
        if machine not in clones:
            clones[machine] = gpu_workspace("", machine)
        ws = clones[machine]
        if ws is not laptop:  # git pull
            shutil.copy(laptop.manifest, ws.manifest)
            if (laptop.root / "wsp.lock").exists():
                shutil.copy(laptop.root / "wsp.lock", ws.root / "wsp.lock")
        commands: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            elif line.strip():
                commands[-1][1].append(line.strip())
        for command, expected in commands:
            argv = shlex.split(command)
            assert argv[0] == "wsp", command
            r = ws.wsp(*argv[1:], **MACHINES[machine])
            want = 1 if any(e.startswith("error:") for e in expected) else 0
            assert r.code == want, (machine, command, r)
            lines = [ln.strip() for ln in r.output.splitlines()]
            for e in expected:
                assert _matches(e, lines), (machine, command, e, r)
            ran += 1
    assert ran >= 10


def test_frozen_refuses_a_variant_the_lock_has_not(
    gpu_workspace: Callable[..., Workspace], cuda_channel: Path
) -> None:
    """A variant added to platforms after `wsp lock`: on a machine that picks it, --frozen
    refuses instead of solving it (--locked already found the lock out of date); a machine
    that picks a locked variant installs it as locked."""
    if HERE != "linux-64":
        pytest.skip("docs/gpu.md's variants are linux-64's")
    toml = _doc_toml("variants", cuda_channel)
    cuda = '  { name = "linux-64-cuda", platform = "linux-64", system-requirements = { cuda = "12.0" } },\n'
    assert cuda in toml
    ws = gpu_workspace(toml.replace(cuda, ""))
    ok(ws.wsp("lock", **NO_GPU))
    ws.write(toml)
    r = ok(ws.wsp("apply", "--frozen", "--yes", **GPU), 1)
    assert (
        "--frozen: wsp.lock has no linux-64-cuda packages for train (it has: linux-64, "
        "osx-arm64); nothing was changed; run `wsp lock`"
    ) in r.stderr, r
    assert not (ws.envs_dir / "train").exists()
    r = ok(ws.wsp("apply", "--locked", "--yes", **GPU), 1)
    assert "not locked for linux-64-cuda" in r.stderr or "out of date" in r.stderr, r
    ok(ws.wsp("apply", "--frozen", "--yes", **NO_GPU))
    assert CPU in ws.dists("train")


def test_a_saved_plan_of_another_variant_says_the_machine_changed(
    gpu_workspace: Callable[..., Workspace], cuda_channel: Path
) -> None:
    """A plan saved on a GPU machine, applied without the driver: stale, because this
    machine now runs another platform variant (before: "the channels ... give other
    packages")."""
    if HERE != "linux-64":
        pytest.skip("docs/gpu.md's variants are linux-64's")
    ws = gpu_workspace(_doc_toml("variants", cuda_channel))
    ok(ws.wsp("lock", **NO_GPU))
    ok(ws.wsp("plan", "--out", "cuda.plan", **GPU))
    r = ok(ws.wsp("apply", "cuda.plan", **NO_GPU), 1)
    assert (
        "saved plan cuda.plan is stale: this machine now runs platform variant linux-64 for "
        "train, the plan was made for linux-64-cuda"
    ) in r.stderr, r
    assert "channels" not in r.stderr and not (ws.envs_dir / "train").exists(), r


def test_the_docs_channel_command_builds_the_channel_these_tests_use(
    tmp_path: Path, cuda_channel: Path
) -> None:
    """gpu.md's `python -m tests.support.channel --gpu DIR` makes the channel its scenario
    runs against (the `cuda_channel` fixture), so a reader can follow it offline."""
    from tests.support.channel import main

    assert "python -m tests.support.channel --gpu /tmp/gpuchan" in DOCS.read_text()
    said = main(["--gpu", str(tmp_path / "gpuchan")])
    assert said.endswith(f"({(tmp_path / 'gpuchan').as_uri()})"), said

    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*.tar.bz2")}

    assert files(tmp_path / "gpuchan") == files(cuda_channel)
