"""`wsp info`: this machine as wsp sees it (platform, virtual packages, conda overrides)
and, per project, the platform variants it may be built for, which of them this machine
can run and which one its env was built for. Nothing is solved."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsp.commands import add_json, add_target

if TYPE_CHECKING:
    from wsp.context import Context
    from wsp.sysreq import HostPackage


def register(sub: Any) -> None:
    p = sub.add_parser(
        "info",
    )
    add_json(p)
    add_target(p)


def env_rows(
    ctx: Context, host: tuple[HostPackage, ...] | None, targets: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Per declared project: its candidate variants on this platform (each with its system
    requirements and, when `host` is known, whether this machine runs it and what it
    lacks), the one apply would pick, and the one its env was built for."""
    from wsp.commands.status import built_for

    rows = []
    for name, want in sorted(ctx.desired.items()):
        if targets and name not in targets:
            continue
        have = ctx.observed.get(want.env_name)
        candidates = want.choices
        picked = None
        listed = []
        for variant in candidates:
            entry: dict[str, Any] = {
                "name": variant.name,
                "platform": variant.platform,
                "system_requirements": variant.declared(),
                "virtual_packages": [str(v) for v in variant.virtual_packages()],
                "unchecked": list(variant.unchecked()),
            }
            if host is not None:
                unmet = variant.unmet(host)
                entry["runs_here"] = not unmet
                entry["missing"] = [u.message for u in unmet]
                entry["hints"] = [u.hint for u in unmet if u.hint]
                if not unmet and picked is None:
                    picked = variant.name
            listed.append(entry)
        built = built_for(have)
        rows.append(
            {
                "project": name,
                "env": want.env_name,
                "candidates": listed,
                "picks": picked,
                "built_for": built["variant"],
                "built_with": built["system_requirements"],
            }
        )
    return rows


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.commands import engine
    from wsp.commands.status import host
    from wsp.context import load_context
    from wsp.errors import ExitCode
    from wsp.specs import current_platform

    ctx = load_context(directory)
    targets = ctx.check_targets(args.target)
    found, host_data = host(engine())
    rows = env_rows(ctx, found, targets)
    if args.json:
        ui.print_json(
            {
                "workspace": ctx.ws.name,
                "platform": current_platform(),
                "host": host_data,
                "envs": rows,
            }
        )
    else:
        ui.render_info(ctx.ws.name, current_platform(), host_data, rows)
    return ExitCode.OK
