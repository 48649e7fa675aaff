"""`wsp pack` and `wsp unpack` (issue 17): one archive re-creates a project's locked env
with the network, the channel, the wheelhouse and the package cache all out of reach.

The env's python really runs (the runnable channel), so the unpacked env is used, not
only listed. Re-creating it with conda alone (install.sh, `conda create --file env.txt`)
is tested only where `conda` is on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.channel import current_platform, other_platform
from tests.support.cli import Workspace, base_env

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
HERE = current_platform()

TOML = """\
[workspace]
name = "packed"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"
pip-find-links = ["{wheelhouse}"]
pip-no-index = true
exclude-newer = "2030-01-01"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.vision]
python = "{py}"
dependencies = ["six", "zlib"]
pip = ["tinyapp==0.5.0"]

[projects.finance]
python = "3.9"
dependencies = ["six"]
"""

DEAD = "http://127.0.0.1:9"  # nothing listens there: any download fails at once


def offline(home: Path, cache: Path) -> dict[str, str]:
    """A wsp environment with an empty package cache and no network."""
    env = base_env(home, cache)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[var] = DEAD
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    env["UV_OFFLINE"] = "1"
    env["UV_CACHE_DIR"] = str(home / "uv-cache")
    return env


@pytest.fixture
def packed(
    make_workspace: Callable[..., Workspace],
    runnable_channel: Path,
    wheelhouse: Path,
    tmp_path: Path,
) -> tuple[Workspace, Path, Path, Path]:
    """(workspace, its private channel, its private wheelhouse, the vision pack), locked
    and packed, nothing installed."""
    chan = Path(shutil.copytree(runnable_channel, tmp_path / "own-channel"))
    wheels = Path(shutil.copytree(wheelhouse, tmp_path / "own-wheels"))
    text = TOML.replace("{wheelhouse}", str(wheels)).replace("{py}", PY)
    ws = make_workspace(text, chan=chan)
    assert ws.wsp("lock").code == 0
    archive = tmp_path / "vision.tar"
    result = ws.wsp("pack", "vision", "-o", str(archive), "--json")
    assert result.code == 0, result
    assert result.json["bytes"] == archive.stat().st_size
    assert not ws.envs_dir.exists() or not any(ws.envs_dir.iterdir())  # nothing installed
    return ws, chan, wheels, archive


def test_the_archive_holds_a_channel_an_explicit_spec_wheels_and_a_script(
    packed: tuple[Workspace, Path, Path, Path],
) -> None:
    _, _, _, archive = packed
    top = f"vision-{HERE}"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        info = json.loads(tar.extractfile(f"{top}/wsp-pack.json").read())  # type: ignore[union-attr]
        spec = tar.extractfile(f"{top}/env.txt").read().decode()  # type: ignore[union-attr]
        script = tar.extractfile(f"{top}/install.sh")
        mode = tar.getmember(f"{top}/install.sh").mode
        assert script is not None and script.read().startswith(b"#!/bin/sh\n")
    assert all(n == top or n.startswith(top + "/") for n in names)  # one folder
    assert {
        f"{top}/channel/{HERE}/repodata.json",
        f"{top}/channel/noarch/repodata.json",
        f"{top}/wsp.lock",
        f"{top}/requirements.txt",
        f"{top}/wheels/tinyapp-0.5.0-py3-none-any.whl",
        f"{top}/wheels/tinylib-1.1.0-py3-none-any.whl",
    } <= names
    assert mode & 0o111
    assert info["workspace"] == "packed" and info["project"] == "vision"
    assert info["platform"] == HERE and info["exclude_newer"] == "2030-01-01"
    assert info["pip"] == {"tinyapp": "0.5.0", "tinylib": "1.1.0"}  # what wsp.lock holds
    dists = {d.split("-")[0] for d in info["packages"]}
    assert {"python", "six", "zlib"} <= dists
    lines = spec.splitlines()
    packed_files = lines[lines.index("@EXPLICIT") + 1 :]
    assert sorted(line.split("#")[0] for line in packed_files) == sorted(
        f"channel/{rel}" for rel in info["packages"].values()
    )
    assert all(f"{top}/{line.split('#')[0]}" in names for line in packed_files)


def test_unpack_recreates_the_env_from_the_archive_alone(
    packed: tuple[Workspace, Path, Path, Path], tmp_path: Path
) -> None:
    ws, chan, wheels, archive = packed
    # Another checkout of the workspace, on a machine with nothing but the archive.
    shutil.rmtree(chan)
    shutil.rmtree(wheels)
    other = Workspace(
        tmp_path / "elsewhere", chan, offline(tmp_path / "home2", tmp_path / "cache2")
    )
    other.root.mkdir()
    shutil.copy(ws.manifest, other.manifest)
    shutil.copy(ws.root / "wsp.lock", other.root / "wsp.lock")

    result = other.wsp("unpack", str(archive), "--yes")
    assert result.code == 0, result
    assert "from pack vision.tar" in result.stdout, result
    # the .wsp/ it made is kept out of git, as apply's is
    assert (other.root / ".wsp" / ".gitignore").read_text().splitlines()[-1] == "*"
    prefix = other.envs_dir / "vision"
    marker = json.loads((prefix / "conda-meta" / "wsp").read_text())
    assert marker["state"] == "complete" and marker["workspace"] == "packed"
    with tarfile.open(archive) as tar:
        packed_info = json.loads(tar.extractfile(f"vision-{HERE}/wsp-pack.json").read())  # type: ignore[union-attr]
    assert marker["lock_id"] == packed_info["lock_id"]
    assert marker["pip"] == {"tinyapp": "0.5.0", "tinylib": "1.1.0"}
    record = json.loads(next((prefix / "conda-meta").glob("six-*.json")).read_text())
    # the channel as declared: neither the pack nor the mirror it was fetched from
    assert record["channel"].rstrip("/") == "https://conda.anaconda.org/conda-forge"

    # Owned and in sync like any applied env: nothing to plan, without any channel.
    assert other.wsp("plan", "--target", "vision", "--detailed-exitcode").code == 0
    states = {r["env"]: r["state"] for r in other.wsp("status", "--json").json["envs"]}
    assert states["vision"] == "in sync"
    run = other.wsp(
        "run",
        "vision",
        "--",
        "python",
        "-c",
        "import six, tinyapp, tinylib; print(tinyapp.__version__)",
    )
    assert run.code == 0 and run.stdout.strip() == "0.5.0", run
    latest = other.wsp("history", "vision", "--json").json["builds"][0]
    assert (latest["action"], latest["source"]) == ("unpack", "pack vision.tar")

    again = other.wsp("unpack", str(archive), "--yes")
    assert again.code == 0 and "nothing to do" in again.stderr, again
    assert not list((other.root / ".wsp").glob("unpack-*"))  # the extraction is gone


def test_a_pack_for_another_platform_comes_from_the_lock_and_unpacks_only_there(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    other = other_platform()
    ws = make_workspace(
        TOML.replace('exclude-newer = "2030-01-01"', f'platforms = ["{HERE}", "{other}"]')
        .replace('pip-find-links = ["{wheelhouse}"]\npip-no-index = true\n', "")
        .replace('python = "{py}"', 'python = "3.11"')
        .replace('pip = ["tinyapp==0.5.0"]\n', "")
    )
    assert ws.wsp("lock").code == 0
    archive = tmp_path / "finance.tar.gz"
    made = ws.wsp("pack", "finance", "--platform", other, "-o", str(archive))
    assert made.code == 0, made
    assert "Packed finance" in made.stderr, made
    assert not ws.envs_dir.exists()  # packed from the lock: nothing was installed
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert f"finance-{other}/channel/{other}/repodata.json" in names
    assert any(n.startswith(f"finance-{other}/channel/{other}/python-3.9") for n in names)

    refused = ws.wsp("unpack", str(archive), "--yes")
    assert refused.code == 1, refused
    assert f"was packed for {other}; this machine is {HERE}" in refused.stderr, refused
    assert not ws.envs_dir.exists()


def test_unpack_refuses_a_pack_of_another_workspace_or_an_undeclared_project(
    packed: tuple[Workspace, Path, Path, Path], make_workspace: Callable[..., Workspace]
) -> None:
    ws, _, _, archive = packed
    stranger = make_workspace(
        ws.manifest.read_text().replace('name = "packed"', 'name = "other"'), name="stranger"
    )
    refused = stranger.wsp("unpack", str(archive), "--yes")
    assert refused.code == 1, refused
    assert "is a pack of workspace 'packed', not of 'other'" in refused.stderr, refused

    # a copy that stopped half-way, or one damaged in a package: said so, nothing changed
    # (before: "not a wsp pack (unexpected end of data)"; the damaged one failed as its
    # channel "could not be reached", or went in from a package cache that had the package)
    raw = archive.read_bytes()
    cut, bad = archive.with_name("cut.tar"), archive.with_name("bad.tar")
    cut.write_bytes(raw[: len(raw) // 2])
    with tarfile.open(archive) as tar:
        six = next(m for m in tar.getmembers() if "/noarch/six-" in m.name)
    flipped = bytearray(raw)
    flipped[six.offset_data + 100] ^= 0xFF
    bad.write_bytes(flipped)
    short = ws.wsp("unpack", str(cut), "--yes")
    assert short.code == 1 and "cut.tar: cut short or damaged (" in short.stderr, short
    damaged = ws.wsp("unpack", str(bad), "--yes")
    assert damaged.code == 1, damaged
    assert (
        "bad.tar: damaged: channel/noarch/six-1.16.0-pyhd8ed1ab_0.tar.bz2 does not have the "
        "sha256 its wsp.lock records; nothing was changed"
    ) in damaged.stderr, damaged

    ws.edit("[projects.vision]", "[projects.vision2]")
    undeclared = ws.wsp("unpack", str(archive), "--yes")
    assert undeclared.code == 1, undeclared
    assert "packs project 'vision', which workspace.toml does not declare" in undeclared.stderr

    not_a_pack = ws.wsp("unpack", str(ws.manifest), "--yes")
    assert not_a_pack.code == 1 and "not a wsp pack" in not_a_pack.stderr, not_a_pack
    for result in (refused, short, damaged, undeclared, not_a_pack):
        assert len(result.stderr.strip().splitlines()) == 1, result
    assert not ws.envs_dir.exists() or not any(ws.envs_dir.iterdir())


def test_a_pack_older_than_the_declaration_is_unpacked_as_packed_then_planned_forward(
    packed: tuple[Workspace, Path, Path, Path],
) -> None:
    ws, _, _, archive = packed
    ws.edit('dependencies = ["six", "zlib"]', 'dependencies = ["six"]')
    result = ws.wsp("unpack", str(archive), "--yes")
    assert result.code == 0, result
    assert "note: workspace.toml declares vision otherwise than when it was packed" in (
        result.stdout
    ), result
    assert "zlib" in ws.versions("vision")  # as packed
    action = next(a for a in ws.wsp("plan", "--json").json["actions"] if a["env"] == "vision")
    assert action["action"] == "update", action
    assert [p["name"] for p in action["packages"]["remove"]] == ["zlib"], action
    # the reason names the pack, not an `apply --frozen` that never ran
    said = "unpacked from vision.tar, packed for an older declaration: brought up to workspace.toml"
    assert said in action["reasons"], action
    assert not any("--frozen" in r for r in action["reasons"]), action
    # it holds the pack: unpacking it again has nothing to do
    again = ws.wsp("unpack", str(archive), "--yes")
    assert again.code == 0 and "nothing to do" in again.stderr, again


def test_unpack_onto_an_env_apply_built_with_the_same_packages_has_nothing_to_do(
    packed: tuple[Workspace, Path, Path, Path],
) -> None:
    ws, _, _, archive = packed
    # a declaration the packed packages still satisfy: apply solves it, to the same ones
    ws.edit('dependencies = ["six", "zlib"]', 'dependencies = ["six>=1", "zlib"]')
    assert ws.wsp("apply", "--yes", "--target", "vision").code == 0
    with tarfile.open(archive) as tar:
        info = json.loads(tar.extractfile(f"vision-{HERE}/wsp-pack.json").read())  # type: ignore[union-attr]
    assert ws.dists("vision") == set(info["packages"])  # exactly the pack's packages
    builds = len(ws.wsp("history", "vision", "--json").json["builds"])

    result = ws.wsp("unpack", str(archive), "--yes")
    assert result.code == 0, result
    assert "vision already holds exactly what vision.tar packs; nothing to do." in result.stderr
    assert "otherwise than when it was packed" not in result.output, result  # it is not
    assert len(ws.wsp("history", "vision", "--json").json["builds"]) == builds
    assert ws.wsp("plan", "--target", "vision", "--detailed-exitcode").code == 0


def test_pack_needs_an_up_to_date_lock(
    packed: tuple[Workspace, Path, Path, Path], tmp_path: Path
) -> None:
    ws, _, _, _ = packed
    ws.edit('dependencies = ["six", "zlib"]', 'dependencies = ["six"]')
    stale = ws.wsp("pack", "vision", "-o", str(tmp_path / "x.tar"))
    assert stale.code == 1 and "wsp.lock is out of date for vision" in stale.stderr, stale
    (ws.root / "wsp.lock").unlink()
    none = ws.wsp("pack", "vision", "-o", str(tmp_path / "x.tar"))
    assert none.code == 1 and "run `wsp lock` first" in none.stderr, none
    assert not (tmp_path / "x.tar").exists()
    assert not list(tmp_path.glob(".wsp-pack-*"))


# -- without wsp: conda alone -----------------------------------------------------------------

CONDA = shutil.which("conda")


@pytest.mark.skipif(CONDA is None, reason="conda is not on PATH: the script's conda path needs it")
def test_install_sh_and_conda_create_recreate_the_env_without_wsp(
    packed: tuple[Workspace, Path, Path, Path], tmp_path: Path
) -> None:
    _, chan, wheels, archive = packed
    shutil.rmtree(chan)
    shutil.rmtree(wheels)
    where = tmp_path / "unpacked"
    where.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    folder = where / f"vision-{HERE}"
    from uv import find_uv_bin

    env = offline(tmp_path / "home3", tmp_path / "cache3")
    env["CONDA_PKGS_DIRS"] = str(tmp_path / "conda-pkgs")
    env["PATH"] = os.pathsep.join([str(Path(find_uv_bin()).parent), env["PATH"]])
    prefix = tmp_path / "by-script"
    script = subprocess.run(
        ["sh", str(folder / "install.sh"), str(prefix)], env=env, capture_output=True, text=True
    )
    assert script.returncode == 0, script.stderr
    assert {p.name.split("-")[0] for p in (prefix / "conda-meta").glob("*.json")} >= {
        "python",
        "six",
        "zlib",
    }
    check = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import six, tinyapp, tinylib"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr

    # The explicit spec alone, from the unpacked folder, as its header says.
    plain = subprocess.run(
        [CONDA, "create", "--yes", "--offline", "-p", str(tmp_path / "by-conda"), "--file", "env.txt"],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert (tmp_path / "by-conda" / "conda-meta").is_dir()


# -- GPU: platform variants and system requirements ------------------------------------------

NO_GPU = {"CONDA_OVERRIDE_CUDA": ""}  # even on a machine with a driver: none
GPU = {"CONDA_OVERRIDE_CUDA": "12.4"}
CUDA120 = "pytorch-2.4.0-cuda120_py_101"
CPU = "pytorch-2.4.0-cpu_py_0"

VARIANTS_TOML = f"""\
[workspace]
name = "gpu-lab"
channels = ["conda-forge"]
platforms = [
  {{ name = "{HERE}-cuda", platform = "{HERE}", system-requirements = {{ cuda = "12.0" }} }},
  "{HERE}",
]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{{channel}}"]

[projects.train]
python = "3.11"
dependencies = ["pytorch"]
"""

needs_cuda = pytest.mark.skipif(
    not HERE.startswith("linux-"), reason="a cuda requirement means something on Linux only"
)


def packed_dists(archive: Path) -> tuple[dict, set[str]]:
    """(wsp-pack.json, the `name-version-build` of every conda package in the archive)."""
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        info = json.loads(tar.extractfile(f"{top}/wsp-pack.json").read())  # type: ignore[union-attr]
    dists = {n.rsplit("/", 1)[-1].removesuffix(".tar.bz2") for n in names if "/channel/" in n}
    return info, dists


@needs_cuda
def test_pack_takes_a_platform_variant_and_by_default_the_one_apply_picks(
    make_workspace: Callable[..., Workspace], cuda_channel: Path, tmp_path: Path
) -> None:
    ws = make_workspace(VARIANTS_TOML, chan=cuda_channel)
    assert ws.wsp("lock", **NO_GPU).code == 0

    cuda = ws.wsp("pack", "train", "--platform", f"{HERE}-cuda", "-o", str(tmp_path / "c.tar"))
    assert cuda.code == 0, cuda
    info, dists = packed_dists(tmp_path / "c.tar")
    assert CUDA120 in dists and CPU not in dists
    assert (info["platform"], info["subdir"]) == (f"{HERE}-cuda", HERE)
    assert info["system_requirements"] == {"cuda": "12.0"}

    # no --platform: the variant `wsp apply --locked` picks here, the driver's or not
    gpu = ws.wsp("pack", "train", "--json", **GPU)
    assert gpu.code == 0, gpu
    assert Path(gpu.json["archive"]).name == f"train-{HERE}-cuda.tar"
    assert CUDA120 in packed_dists(Path(gpu.json["archive"]))[1]
    cpu = ws.wsp("pack", "train", "-o", str(tmp_path / "p.tar"), **NO_GPU)
    assert cpu.code == 0, cpu
    assert CPU in packed_dists(tmp_path / "p.tar")[1]

    # a name the lock does not have: one line that lists what it has
    for name, said in (
        ("bogus", f"'bogus' is neither a conda platform nor a platform variant wsp.lock has "
         f"for train (it has: {HERE}, {HERE}-cuda)"),
        (f"{HERE}-cud", f"did you mean '{HERE}-cuda'?"),
    ):  # fmt: skip
        refused = ws.wsp("pack", "train", "--platform", name, "-o", str(tmp_path / "x.tar"))
        assert refused.code == 1, refused
        assert said in refused.stderr and "add" not in refused.stderr, refused
        assert len(refused.stderr.strip().splitlines()) == 1, refused
    assert not (tmp_path / "x.tar").exists()


GPU_TOML = """\
[workspace]
name = "gpu-lab"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[templates.gpu]
system-requirements = { cuda = "12.0" }

[projects.train]
python = "3.11"
extends = ["gpu"]
dependencies = ["pytorch"]
"""


@needs_cuda
@pytest.mark.parametrize("toml", [GPU_TOML, VARIANTS_TOML], ids=["requirement", "variant"])
def test_unpack_checks_the_machine_as_apply_does_and_records_what_it_was_built_for(
    make_workspace: Callable[..., Workspace], cuda_channel: Path, tmp_path: Path, toml: str
) -> None:
    ws = make_workspace(toml, chan=cuda_channel)
    assert ws.wsp("lock", **NO_GPU).code == 0
    archive = tmp_path / "train.tar"
    variant = f"{HERE}-cuda" if "platforms" in toml else HERE
    made = ws.wsp("pack", "train", "--platform", variant, "-o", str(archive))
    assert made.code == 0, made
    assert CUDA120 in packed_dists(archive)[1]

    # no driver here: blocked, with apply's own words, and nothing built
    blocked = ws.wsp("unpack", str(archive), "--yes", **NO_GPU)
    assert blocked.code == 1, blocked
    assert not (ws.envs_dir / "train").exists()
    said = "train: not applied: this machine can't run it: needs __cuda >=12.0"
    assert f"error: {said}" in blocked.stderr, blocked
    assert "set CONDA_OVERRIDE_CUDA=12.0 to install it anyway" in blocked.stderr, blocked
    assert "Traceback" not in blocked.output
    if variant == HERE:  # with variants, apply picks the CPU one this machine runs
        applied = ws.wsp("apply", "--locked", "--yes", **NO_GPU)
        assert applied.code == 1 and said in applied.stderr, applied

    # the driver's there: built, and its marker says for what, as apply's would
    done = ws.wsp("unpack", str(archive), "--yes", **GPU)
    assert done.code == 0, done
    assert CUDA120 in ws.dists("train")
    marker = json.loads((ws.envs_dir / "train" / "conda-meta" / "wsp").read_text())
    assert marker["variant"] == variant
    assert marker["declared"]["system_requirements"] == {"cuda": "12.0"}
    row = ws.wsp("status", "--json", **GPU).json["envs"][0]
    assert (row["variant"], row["system_requirements"]) == (variant, {"cuda": "12.0"})
    assert row["state"] == "in sync"
    assert f"{variant} (cuda 12.0)" in ws.wsp("status", **GPU).stdout
    assert ws.wsp("plan", "--detailed-exitcode", **GPU).code == 0
