"""`wsp pack` / `wsp unpack`: one archive that re-creates a project's locked env offline.

The archive (a tar file, gzip-compressed when its name ends in .tar.gz or .tgz) holds
one folder, `<env>-<platform>/`:

    wsp-pack.json      what was packed: workspace, project, platform, lock_id, files
    wsp.lock           the project's locked packages for that platform (pixi.lock format)
    channel/           those packages' archives as a local conda channel (indexed)
    env.txt            conda's explicit spec of them, by path inside the folder
    requirements.txt   the locked pip pins
    wheels/            the file each pin installs from (a wheel, else its sdist)
    install.sh         re-creates the env with conda, mamba or micromamba from the folder alone

Everything comes from wsp.lock: a pack for another platform is made without installing
anything. `wsp unpack` re-creates the env in a checkout of the workspace from the archive
alone (its packages put in the package cache from the archive, the pip pins installed
from its wheels, no index): owned and in sync like any applied env.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp import __version__, lockfile, pip, sysreq
from wsp.context import sources
from wsp.engines import LockData, LockedEnv, Package
from wsp.errors import ChannelUnreachable, WspError
from wsp.fsutil import atomic_write_json, atomic_write_text, file_hexdigest
from wsp.marker import now

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wsp.context import Context
    from wsp.engines import Engine
    from wsp.graph import DesiredEnv
    from wsp.lockfile import LockView
    from wsp.observe import ObservedEnv
    from wsp.planner import Plan

PACK_FORMAT = 1
INFO_NAME = "wsp-pack.json"


@dataclass(frozen=True)
class PackInfo:
    """What a pack holds (`wsp-pack.json`)."""

    workspace: str
    project: str
    env: str
    platform: str  # the platform (variant) of wsp.lock packed: "linux-64", "linux-64-cuda"
    lock_id: str
    lock_hash: str
    made_at: str
    exclude_newer: str | None = None
    manifest: str = ""  # the workspace.toml it was packed from, for people
    python: str | None = None
    packages: dict[str, str] = field(default_factory=dict)  # dist -> file in the folder
    pip: dict[str, str] = field(default_factory=dict)  # name -> version
    wheels: dict[str, str] = field(default_factory=dict)  # name -> file in the folder
    wsp_version: str = __version__
    format: int = PACK_FORMAT
    subdir: str = ""  # its conda platform ("" in a pack of an older wsp: `platform`)
    # what the variant was solved with, as declared ({"cuda": "12.0"}); None in a pack of
    # an older wsp (then the declaration's variant of that name is taken)
    system_requirements: dict[str, str] | None = None

    @property
    def folder(self) -> str:
        return f"{self.env}-{self.platform}"

    @property
    def conda_platform(self) -> str:
        return self.subdir or self.platform

    def to_json(self) -> dict[str, Any]:
        from wsp import codec

        return codec.dump(self)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Packed:
    """What `make_pack` wrote."""

    path: Path
    info: PackInfo
    size: int
    seconds: float
    warnings: tuple[str, ...] = ()


def default_output(env: str, platform: str) -> Path:
    return Path(f"{env}-{platform}.tar")


def make_pack(
    ctx: Context, engine: Engine, project: str, platform: str | None, output: Path | None
) -> Packed:
    """Write the pack of `project` for `platform` (a platform or variant wsp.lock has;
    None: the one `wsp apply --locked` picks on this machine), from wsp.lock, to `output`
    (default `ENV-PLATFORM.tar`), atomically: the file appears whole or not at all."""
    started = time.monotonic()
    want = ctx.desired[project]
    lock = lockfile.read(ctx, engine)
    if lock is None:
        raise WspError(
            f"no {lockfile.LOCK_NAME} in {ctx.ws.root}: wsp pack packs what it holds",
            hint="run `wsp lock` first (list other platforms in [workspace] platforms to pack "
            "for them)",
        )
    if lock.hashes.get(project) != want.lock_hash:
        raise WspError(
            f"{lockfile.LOCK_NAME} is out of date for {project}: workspace.toml changed since "
            "it was locked",
            hint="run `wsp lock`, then pack again",
        )
    locked = lock.envs.get(project)
    if locked is None:
        raise WspError(
            f"{lockfile.LOCK_NAME} has no packages for {project}",
            hint="run `wsp lock`, then pack again",
        )
    lockfile.check(ctx, engine, lock, [project])  # a pack installs what the lock holds
    platform = _platform(engine, locked, want, platform)
    variant = next((v for v in want.variants if v.name == platform), None)
    target = lock.target(locked, platform)
    packages = locked.packages[platform]
    pins = {n: p.version for n, p in locked.pip.get(platform, {}).items()}
    python = next((p.version for p in packages if p.name == "python"), None)
    output = output or default_output(want.env_name, platform)
    if output.is_dir():
        raise WspError(f"-o {output}: is a folder; give a file name such as {output}/x.tar")
    try:  # written beside its final name: the folder must take new files
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".wsp-pack-", dir=output.parent))
    except OSError as exc:
        raise WspError(
            f"-o {output}: can't write there ({exc.strerror or exc})",
            hint="give -o a file in a folder that exists and you can write to",
        ) from None
    try:
        info = PackInfo(
            workspace=ctx.ws.name,
            project=project,
            env=want.env_name,
            platform=platform,
            lock_id=lockfile.lock_id(packages, pins),
            lock_hash=want.lock_hash,
            made_at=now(),
            exclude_newer=want.exclude_newer,
            manifest=str(ctx.ws.manifest_path),
            python=python,
            pip=dict(sorted(pins.items())),
            subdir=target.subdir or platform,
            system_requirements=variant.declared() if variant is not None else None,
        )
        top = staging / info.folder
        top.mkdir()
        try:
            files = engine.pack_channel(packages, top / "channel", sources(want))
        except ChannelUnreachable as exc:
            raise WspError(
                f"can't pack {project}: {exc.detail or exc}",
                hint="pack on a machine that reaches the channel, or has the package in a mirror",
            ) from None
        engine.write_lock(
            top / lockfile.LOCK_NAME,
            ctx.ws.root,
            LockData(
                platforms=(platform,),
                envs={
                    project: LockedEnv(
                        channels=locked.channels,
                        packages={platform: packages},
                        pip={platform: dict(locked.pip.get(platform, {}))},
                        targets={platform: target.name} if target.name != platform else {},
                    )
                },
                hashes={project: want.lock_hash},
                exclude_newer={project: want.exclude_newer} if want.exclude_newer else {},
                targets=(target,),
            ),
        )
        wheels, warnings = _fetch_wheels(
            ctx, want, pins, python, info.conda_platform, top / "wheels"
        )
        info = replace(info, packages=dict(sorted(files.items())), wheels=wheels)
        atomic_write_text(top / "env.txt", explicit(info, packages))
        atomic_write_text(top / "requirements.txt", requirements(info))
        atomic_write_text(top / "install.sh", install_script(info))
        (top / "install.sh").chmod(0o755)
        atomic_write_json(top / INFO_NAME, info.to_json())
        part = staging / "archive.part"
        mode = "w:gz" if output.name.endswith((".tar.gz", ".tgz")) else "w"
        with tarfile.open(part, mode) as tar:  # type: ignore[call-overload]
            for path in [top, *sorted(top.rglob("*"))]:
                tar.add(path, arcname=str(path.relative_to(staging)), recursive=False)
        part.replace(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Packed(output, info, output.stat().st_size, time.monotonic() - started, warnings)


def _platform(engine: Engine, locked: LockedEnv, want: DesiredEnv, asked: str | None) -> str:
    """The platform (variant) of wsp.lock to pack: the one asked for (a variant's name, or
    the name of its entry in wsp.lock), else the first variant of this machine's platform
    it can run, as `wsp apply --locked` picks it (the first when it can run none: a pack
    is made for another machine as well)."""
    if asked is None:
        asked = want.picked(engine.host_virtual_packages).name
    entries = {entry: name for name, entry in locked.targets.items()}
    asked = entries.get(asked, asked)
    if asked in locked.packages:
        return asked
    have = ", ".join(sorted(locked.packages)) or "none"
    from wsp.specs import known_platforms

    if asked in known_platforms():
        raise WspError(
            f"{lockfile.LOCK_NAME} has no {asked} packages for {want.project} (it has: {have})",
            hint=f'add "{asked}" to platforms in [workspace] and run `wsp lock`',
        )
    import difflib

    close = difflib.get_close_matches(asked, sorted(locked.packages), n=1)
    raise WspError(
        f"--platform {asked!r} is neither a conda platform nor a platform variant "
        f"{lockfile.LOCK_NAME} has for {want.project} (it has: {have})",
        hint=f"did you mean {close[0]!r}?" if close else "pass one of those",
    )


def _fetch_wheels(
    ctx: Context,
    want: Any,
    pins: dict[str, str],
    python: str | None,
    platform: str,
    dest: Path,
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The file each pin installs from, in `dest`: {name: path in the pack}, warnings."""
    dest.mkdir()
    if not pins:
        return {}, ()
    if python is None:
        raise WspError(f"{want.project} has pip pins but its locked packages have no python")
    from wsp.specs import current_platform

    try:
        dists = pip.dist_files(
            pins,
            python,
            want.pip_options,
            platform=None if platform == current_platform() else platform,
            exclude_newer=want.exclude_newer,
        )
    except pip.PipError as exc:
        raise ctx.ws.error(
            ("projects", want.project, "pip"),
            f"can't find the files of {want.project}'s pip pins for {platform}: {exc.message}",
        ) from None
    out: dict[str, str] = {}
    warnings = []
    for dist in dists:
        target = dest / dist.filename
        _download(dist.url, target, dist.sha256)
        out[dist.name] = f"wheels/{dist.filename}"
        if not dist.wheel:
            warnings.append(
                f"{dist.name} {dist.version} has no wheel for {platform} and Python {python}: "
                "the pack holds its source, which pip must build where it is unpacked"
            )
    return dict(sorted(out.items())), tuple(warnings)


def _download(url: str, target: Path, sha256: str | None) -> None:
    """Copy (file://) or download (http/https) `url` to `target`, checked against `sha256`."""
    import urllib.request
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    shown = parsed._replace(netloc=parsed.hostname or "").geturl()  # never a credential
    try:
        if parsed.scheme == "file":
            shutil.copyfile(unquote(parsed.path), target)
        else:
            request = urllib.request.Request(parsed._replace(netloc=_host(parsed)).geturl())
            if parsed.username:
                import base64

                token = f"{unquote(parsed.username)}:{unquote(parsed.password or '')}"
                request.add_header(
                    "Authorization", "Basic " + base64.b64encode(token.encode()).decode()
                )
            with urllib.request.urlopen(request, timeout=60) as response, target.open("wb") as fh:
                shutil.copyfileobj(response, fh)
    except OSError as exc:
        raise WspError(f"can't fetch {shown}: {getattr(exc, 'reason', None) or exc}") from None
    if sha256 and file_hexdigest(target) != sha256:
        raise WspError(f"{shown} does not have the sha256 uv recorded for it")


def _host(parsed: Any) -> str:
    host = parsed.hostname or ""
    return f"{host}:{parsed.port}" if parsed.port else host


def explicit(info: PackInfo, packages: tuple[Package, ...] | list[Package]) -> str:
    """conda's `@EXPLICIT` spec of the pack's packages, by path inside its folder: conda
    reads a line that is not a URL as a path, relative to where it runs."""
    from wsp.exporters import _hash_fragment

    by_dist = {p.dist: p for p in packages}
    lines = [
        f"# env {info.env} of workspace {info.workspace}, packed by wsp {info.wsp_version}",
        f"# platform: {info.conda_platform}",
        "# From this folder: conda create --offline -p PREFIX --file env.txt",
        "# (install.sh does that with absolute file:// URLs, for conda, mamba or micromamba)",
        "@EXPLICIT",
    ]
    lines += [
        f"channel/{rel}{_hash_fragment(by_dist[dist])}"
        for dist, rel in sorted(info.packages.items())
    ]
    return "\n".join(lines) + "\n"


def requirements(info: PackInfo) -> str:
    lines = [
        f"# pip pins of env {info.env} (workspace {info.workspace}), from wsp.lock",
        "# after the conda packages: python -m pip install --no-index --no-deps "
        "--find-links wheels -r requirements.txt",
    ]
    return "\n".join([*lines, *(f"{n}=={v}" for n, v in sorted(info.pip.items()))]) + "\n"


def install_script(info: PackInfo) -> str:
    """A POSIX sh script that re-creates the env from the pack's folder alone."""
    return (
        _SCRIPT.replace("@ENV@", info.env)
        .replace("@WORKSPACE@", info.workspace)
        .replace("@PLATFORM@", info.platform)
        .replace("@MADE@", f"{info.made_at} by wsp {info.wsp_version}")
    )


_SCRIPT = r"""#!/bin/sh
# Re-creates env @ENV@ of workspace @WORKSPACE@ (@PLATFORM@) from this folder alone,
# with no network: its conda packages from channel/, its pip packages from wheels/.
# Packed @MADE@.
#
#   sh install.sh PREFIX
#
# uses conda, mamba or micromamba, the first found on PATH (or WSP_PACK_TOOL, CONDA_EXE,
# MAMBA_EXE), then the env's pip (or uv on PATH) for requirements.txt. By hand, from here:
#   conda create --offline -p PREFIX --file env.txt
#   PREFIX/bin/python -m pip install --no-index --no-deps --find-links wheels -r requirements.txt
# In a checkout of the workspace, `wsp unpack ARCHIVE` does it and keeps the env wsp's.
set -eu
if [ "$#" -ne 1 ]; then
    echo "usage: sh $0 PREFIX" >&2
    exit 2
fi
here=$(cd -- "$(dirname -- "$0")" && pwd -P)
prefix=$1
case $prefix in
    /*) ;;
    *) prefix=$(pwd -P)/$prefix ;;
esac

tool=${WSP_PACK_TOOL:-}
if [ -z "$tool" ]; then
    for candidate in conda mamba micromamba; do
        if command -v "$candidate" >/dev/null 2>&1; then
            tool=$candidate
            break
        fi
    done
fi
if [ -z "$tool" ]; then
    tool=${CONDA_EXE:-${MAMBA_EXE:-}}
fi
if [ -z "$tool" ]; then
    echo "install.sh: no conda, mamba or micromamba found: put one on PATH (or set WSP_PACK_TOOL)" >&2
    exit 1
fi

# env.txt names the packages by path inside this folder; every tool takes file:// URLs.
spec=$(mktemp "${TMPDIR:-/tmp}/wsp-pack-XXXXXX")
trap 'rm -f "$spec"' EXIT
url=$(printf 'file://%s' "$here" | sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's/[&|\\]/\\&/g')
sed "s|^channel/|$url/channel/|" "$here/env.txt" >"$spec"

echo "install.sh: creating $prefix with $tool, offline, from $here/channel" >&2
"$tool" create --yes --offline --prefix "$prefix" --file "$spec"

if grep -q '==' "$here/requirements.txt"; then
    python=$prefix/bin/python
    if "$python" -m pip --version >/dev/null 2>&1; then
        "$python" -m pip install --no-index --no-deps --find-links "$here/wheels" \
            -r "$here/requirements.txt"
    elif command -v uv >/dev/null 2>&1; then
        uv pip install --python "$python" --offline --no-index --no-deps \
            --find-links "$here/wheels" -r "$here/requirements.txt"
    else
        echo "install.sh: $prefix has no pip and uv is not on PATH: install $here/wheels/* with pip" >&2
        exit 1
    fi
fi
echo "install.sh: done: $prefix" >&2
"""


# -- reading a pack ----------------------------------------------------------------------


def read_info(archive: Path) -> PackInfo:
    """The `wsp-pack.json` of `archive`; a clear error when it is not a pack wsp reads."""
    from wsp import codec

    try:
        with tarfile.open(archive) as tar:
            member = next(
                (
                    m
                    for m in tar
                    if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/" + INFO_NAME)
                ),
                None,
            )
            if member is None:
                raise WspError(
                    f"{archive}: not a wsp pack (no {INFO_NAME} in it)",
                    hint="make one with `wsp pack PROJECT`",
                )
            raw = tar.extractfile(member).read()  # type: ignore[union-attr]
    except FileNotFoundError:
        raise WspError(f"{archive}: no such file") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _unreadable(archive, exc) from None
    try:
        data = json.loads(raw)
        fmt = data.get("format") if isinstance(data, dict) else None
        if fmt != PACK_FORMAT:
            newer = isinstance(fmt, int) and fmt > PACK_FORMAT
            raise ValueError(
                f"pack format {fmt!r}" + (": made by a newer wsp, upgrade wsp" if newer else "")
            )
        return codec.load(PackInfo, data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WspError(f"{archive}: not a pack this wsp reads ({exc})") from None


def extract(archive: Path, dest: Path, info: PackInfo) -> Path:
    """Extract `archive` into `dest` (only plain files and folders, never outside it);
    the pack's folder."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise _unreadable(archive, exc) from None
    except OSError as exc:
        raise WspError(f"{archive}: can't be extracted ({exc})") from None
    top = dest / info.folder
    if not (top / INFO_NAME).is_file():
        raise WspError(f"{archive}: not a wsp pack (no {info.folder}/{INFO_NAME})")
    return top


def _unreadable(archive: Path, exc: BaseException) -> WspError:
    """What a file python's tarfile can't read is: a tar (or gzip) file cut short (a copy
    or download that stopped) or damaged, by its first bytes, else not a pack at all."""
    try:
        with open(archive, "rb") as fh:
            head = fh.read(512)
    except OSError:
        head = b""
    if head[257:262] == b"ustar" or head[:2] == b"\x1f\x8b":
        reason = str(exc).rsplit("ReadError(", 1)[-1].strip("')\"") or type(exc).__name__
        return WspError(
            f"{archive}: cut short or damaged ({reason}): not a whole wsp pack",
            hint="copy it again from where it was made, or make it again with `wsp pack`",
        )
    return WspError(
        f"{archive}: not a wsp pack (not a tar archive)", hint="give the file `wsp pack` wrote"
    )


def check_archives(archive: Path, info: PackInfo, top: Path, packages: Sequence[Package]) -> None:
    """Refuse a pack whose package archives are not those its wsp.lock locks (a copy that
    was damaged, a file replaced), before anything is put in the package cache: each is
    checked against the sha256 (else md5) the lock records."""
    for pkg in packages:
        rel = info.packages.get(pkg.dist)
        algorithm, want = ("sha256", pkg.sha256) if pkg.sha256 else ("md5", pkg.md5)
        try:
            got = file_hexdigest(top / "channel" / rel, algorithm) if rel else None
        except OSError:
            got = None
        if got is None:
            problem = "it lacks the archive of " + pkg.dist
        elif want and got != want:
            problem = f"channel/{rel} does not have the {algorithm} its wsp.lock records"
        else:
            continue
        raise WspError(
            f"{archive}: damaged: {problem}; nothing was changed",
            hint="copy it again from where it was made, or make it again with `wsp pack`",
        )


def check_fits(ctx: Context, info: PackInfo, archive: Path) -> None:
    """Refuse a pack of another workspace, of a project this one does not declare, or for
    another platform: each with why."""
    if info.workspace != ctx.ws.name:
        raise WspError(
            f"{archive} is a pack of workspace {info.workspace!r}, not of {ctx.ws.name!r}: "
            "wsp unpacks a pack only into the workspace it was made from",
            hint=f"run it in a checkout of {info.workspace!r}, or re-create the env without "
            f"wsp: tar xf {archive.name} && sh {info.folder}/install.sh PREFIX",
        )
    want = ctx.desired.get(info.project)
    if want is None:
        raise WspError(
            f"{archive} packs project {info.project!r}, which {ctx.ws.manifest_path.name} "
            "does not declare: wsp only unpacks what it would manage",
            hint=f"declare [projects.{info.project}] (as in {info.manifest or 'the packed workspace'}) and "
            "run it again",
        )
    if want.platform != info.conda_platform:
        raise WspError(
            f"{archive} was packed for {info.conda_platform}; this machine is {want.platform}",
            hint=f"pack it for {want.platform}: wsp pack {info.project} --platform {want.platform}",
        )


def variant_of(info: PackInfo, want: DesiredEnv) -> sysreq.Variant:
    """The platform variant `info` was packed for, with the system requirements it was
    solved with (a pack of an older wsp: the declaration's variant of its name)."""
    if info.system_requirements is None and (known := want.candidate(info.platform)):
        return known
    requirements = tuple(sorted((info.system_requirements or {}).items()))
    return sysreq.Variant(info.platform, info.conda_platform, requirements)


def unpack_plan(archive: Path, info: PackInfo, top: Path) -> Any:
    """The pipeline's planner for an unpack: the env made to hold exactly the pack's
    packages and pip pins (read under the workspace lock), the packages put in the package
    cache from the pack first and the pins installed from its wheels, no index. As apply
    does, it checks first that this machine runs the variant packed (else: blocked)."""

    def planner(ctx: Context, engine: Engine, _lock: LockView | None) -> Plan:
        from wsp.actions import ActionKind
        from wsp.planner import Action, Resolution, behind_hash, needs_installed
        from wsp.reasons import Unpacked
        from wsp.resolve import plan_of

        want = ctx.desired[info.project]
        have = ctx.observed.get(want.env_name)
        data = engine.read_lock(top / lockfile.LOCK_NAME, ctx.ws.root)
        env = data.envs.get(info.project)
        if env is None or info.platform not in env.packages:
            raise WspError(
                f"{archive}: damaged: its wsp.lock has no {info.project} for {info.platform}"
            )
        packages = env.packages[info.platform]
        pins = {n: p.version for n, p in env.pip.get(info.platform, {}).items()}
        if lockfile.lock_id(packages, pins) != info.lock_id:
            raise WspError(f"{archive}: damaged: its wsp.lock is not what it says it packs")
        in_sync = _holds(have, info.lock_id, packages, pins)
        variant = variant_of(info, want)
        # what apply checks before it builds: this machine runs what the pack was made for
        unmet = () if in_sync else variant.unmet(engine.host_virtual_packages())
        if unmet:
            res = Resolution(variant=variant, lacking=((variant.name, unmet),))
            return plan_of(ctx, {info.project: res}, (info.project,))
        if not in_sync and not (have is not None and have.ownership != "ours"):
            check_archives(archive, info, top, packages)
            engine.seed_cache(packages, top / "channel")
        installed = tuple(engine.installed(want.prefix)) if needs_installed(have) else None
        res = Resolution(
            packages=tuple(packages),
            installed=installed,
            pip=pins,
            pip_installed=pip.installed(want.prefix) if needs_installed(have) else None,
            lock_id=info.lock_id,
            behind=info.lock_hash != want.lock_hash,
            variant=variant,
        )
        made = plan_of(ctx, {info.project: res}, (info.project,))
        actions = []
        for a in made.actions:
            if a.project != info.project:
                actions.append(a)
            elif in_sync:
                actions.append(Action(ActionKind.NOOP, a.env, a.prefix, a.project))
            elif a.kind.builds:
                wheels = pip.PipOptions(find_links=(str(top / "wheels"),), no_index=True)
                why = Unpacked(archive.name, info.made_at)
                # a pack of an older declaration: the next plan's reason names the pack
                spec = behind_hash(want.spec_hash, archive.name) if res.behind else a.spec_hash
                actions.append(
                    replace(a, reasons=(why, *a.reasons), pip_options=wheels, spec_hash=spec)
                )
            else:
                actions.append(a)
        notes = made.notes
        if res.behind and not in_sync:
            notes += (
                f"workspace.toml declares {info.project} otherwise than when it was packed: "
                "the env is unpacked as packed, and `wsp plan` then shows the update to the "
                "declaration",
            )
        return replace(made, actions=tuple(actions), notes=notes)

    return planner


def _holds(
    have: ObservedEnv | None, lock_id: str, packages: Sequence[Package], pins: dict[str, str]
) -> bool:
    """Whether `have` is a complete env of this workspace, untouched since it was built,
    that holds exactly a pack's conda packages and pip pins: its marker keeps the pack's
    lock_id, or its records and wsp's pins are the pack's (an env `wsp apply` built)."""
    if have is None or have.ownership != "ours" or have.marker is None:
        return False
    m = have.marker
    if have.half_built or have.moved_from or have.relocated_from:
        return False
    if m.installed_hash != have.installed_hash:  # drifted
        return False
    return m.lock_id == lock_id or (have.dists == {p.dist for p in packages} and m.pip == pins)


@contextlib.contextmanager
def unpacked(ctx: Context, archive: Path, info: PackInfo) -> Any:
    """The pack extracted into a folder of the workspace's `.wsp/`, removed afterwards."""
    from wsp.applylock import make_state_dir

    make_state_dir(ctx.state_dir)
    dest = ctx.state_dir / f"unpack-{uuid.uuid4().hex[:8]}"
    dest.mkdir()
    try:
        yield extract(archive, dest, info)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
