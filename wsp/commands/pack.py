"""`wsp pack PROJECT [--platform P] [-o FILE]`: one archive that re-creates the project's
locked env offline, with wsp (`wsp unpack`) or with conda, mamba or micromamba alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wsp.commands import add_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "pack",
        usage="wsp pack PROJECT [--platform PLATFORM] [-o FILE] [--json]",
    )
    add_json(p)
    p.add_argument("project", metavar="PROJECT", help="the project to pack")
    p.add_argument(
        "--platform",
        metavar="PLATFORM",
        help="pack wsp.lock's packages for this platform or platform variant (default: the "
        "one `wsp apply --locked` picks on this machine); nothing is installed",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the archive to write (default: ENV-PLATFORM.tar; .tar.gz or .tgz compresses it)",
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import pack, ui
    from wsp.commands import engine
    from wsp.context import load_context
    from wsp.errors import ExitCode

    ctx = load_context(directory)
    if args.project not in ctx.desired:
        raise ctx.unknown_project(args.project)
    output = Path(args.output) if args.output else None
    packed = pack.make_pack(ctx, engine(), args.project, args.platform, output)
    for warning in packed.warnings:
        ui.info(f"warning: {ui.esc(warning)}")
    if args.json:
        ui.print_json(
            {
                "archive": str(packed.path.resolve()),
                "bytes": packed.size,
                "seconds": round(packed.seconds, 3),
                "warnings": list(packed.warnings),
                **packed.info.to_json(),
            }
        )
        return ExitCode.OK
    info = packed.info
    ui.info(
        f"Packed {ui.esc(info.project)} ({info.platform}, {len(info.packages)} conda "
        f"package(s), {len(info.wheels)} pip file(s)) into {ui.esc(packed.path)}: "
        f"{packed.size:,} bytes in {packed.seconds:.1f} s."
    )
    ui.info(
        f"[dim]Re-create it offline: `wsp unpack {ui.esc(packed.path.name)}` in a checkout of "
        f"{ui.esc(info.workspace)}, or `tar xf {ui.esc(packed.path.name)} && sh "
        f"{ui.esc(info.folder)}/install.sh PREFIX` with conda, mamba or micromamba.[/]"
    )
    return ExitCode.OK
