"""`wsp lock`: solve every project for every platform into wsp.lock (pixi.lock format)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from wsp.commands import add_json

    p = sub.add_parser("lock")
    add_json(p)
    mode = p.add_mutually_exclusive_group()  # --check changes nothing; --update rewrites
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when wsp.lock matches workspace.toml, 1 (naming the projects) when not",
    )
    mode.add_argument(
        "--update",
        nargs="*",
        metavar="NAME",
        help="move these projects (all when none named) to the newest versions allowed",
    )
    p.add_argument(
        "--allow-build",
        action="store_true",
        help="let uv build local projects and sdists whose metadata is not static, to "
        "resolve their pip requirements (runs their setup.py or build backend)",
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import lockfile, ui
    from wsp.commands import engine as make_engine
    from wsp.context import load_context
    from wsp.errors import LockUnreadable, WspError

    ctx = load_context(directory)
    engine = make_engine()
    unreadable: LockUnreadable | None = None
    try:
        old = lockfile.read(ctx, engine)
    except LockUnreadable as exc:
        if args.check:
            raise
        old, unreadable = None, exc  # written again from workspace.toml alone
    if args.check:
        if old is None:
            raise WspError(f"no {lockfile.LOCK_NAME} in {ctx.ws.root}", hint="run `wsp lock`")
        stale = lockfile.why_stale(ctx, old)
        if args.json:
            ui.print_json(
                {
                    "lock_file": str(ctx.ws.root / lockfile.LOCK_NAME),
                    "up_to_date": not stale,
                    "stale": sorted(stale),
                    "why": stale,
                }
            )
            return 1 if stale else 0
        if stale:
            raise WspError(
                f"{lockfile.LOCK_NAME} is out of date for "
                + ", ".join(f"{name} ({why})" for name, why in stale.items()),
                hint="run `wsp lock` and commit the result",
            )
        lockfile.check(ctx, engine, old)
        ui.out().print(f"{lockfile.LOCK_NAME} matches workspace.toml.")
        return 0
    update: list[str] = []
    if args.update is not None:
        update = list(ctx.check_targets(args.update, flag="--update")) or list(ctx.desired)
    data = lockfile.lock_workspace(ctx, engine, old, update=update, allow_build=args.allow_build)
    lockfile.write(ctx, engine, data)
    if unreadable is not None:
        ui.info(f"note: {ui.esc(unreadable.message)}; solved every project again and replaced it")
    changed = [
        name
        for name in data.envs
        if old is None or old.envs.get(name) != data.envs[name] or name in update
    ]
    if args.json:
        ui.print_json(
            {
                "lock_file": str(ctx.ws.root / lockfile.LOCK_NAME),
                "platforms": list(data.platforms),
                "projects": sorted(data.envs),
                "resolved": changed,
            }
        )
        return 0
    ui.out().print(
        f"Wrote {lockfile.LOCK_NAME}: {len(data.envs)} project(s) for "
        f"{', '.join(data.platforms)}" + (f"; re-solved {', '.join(changed)}" if changed else "")
    )
    return 0
