"""`wsp status`: every env, its Python, its state and the platform variant it was built
for, and this machine's virtual packages, without solving anything."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsp.context import Context

from wsp.commands import add_json


def register(sub: Any) -> None:
    p = sub.add_parser("status")
    add_json(p)


_KERNEL_STATE = {"no-op": "in place", "create": "missing", "update": "out of date"}


def kernel_state(ctx: Context, project: str) -> dict[str, str]:
    """The project's Jupyter kernel: its name and whether it is in place."""
    from wsp import kernels

    spec = kernels.desired_kernel(ctx.ws, ctx.desired[project])
    assert spec is not None
    change = kernels.plan_kernel(ctx.ws, spec)
    state = _KERNEL_STATE.get(change.action) or f"{change.action}: " + "; ".join(
        r.message for r in change.reasons
    )
    return {"name": spec.name, "state": state}


def status_rows(ctx: Context, found: tuple[Any, ...] | None = None) -> list[dict[str, Any]]:
    """A row per env; with `found` (this machine's virtual packages), an env the next plan
    moves to another platform variant is `out of date`, as the plan says."""
    from wsp.observe import env_state

    host = (lambda: found) if found is not None else None
    rows = []
    for name, want in sorted(ctx.desired.items()):
        have = ctx.observed.get(want.env_name)
        state = env_state(want, have, host)
        row = {
            "project": name,
            "env": want.env_name,
            "prefix": str(want.prefix),
            "python": have.python_version if have else None,
            "state": state,
            **built_for(have),
        }
        if want.kernel is not None:
            row["kernel"] = kernel_state(ctx, name)
        rows.append(row)
    declared = {d.env_name for d in ctx.desired.values()}
    for env, have in sorted(ctx.observed.items()):
        if env not in declared and have.ownership == "ours" and have.marker:
            rows.append(
                {
                    "project": have.marker.project,
                    "env": env,
                    "prefix": str(have.prefix),
                    "python": have.python_version,
                    "state": "undeclared",
                    **built_for(have),
                }
            )
    return rows


def built_for(have: Any) -> dict[str, Any]:
    """The platform variant an env of this workspace was built for, and the system
    requirements it was solved with (its marker's record; None/{} when unknown)."""
    m = have.marker if have is not None and have.ownership == "ours" else None
    return {
        "variant": m.variant if m is not None else None,
        "system_requirements": dict(m.system_requirements) if m is not None else {},
    }


def host(engine: Any) -> tuple[tuple[Any, ...] | None, dict[str, Any]]:
    """This machine's virtual packages (None when they can't be detected), and as JSON,
    with the CONDA_OVERRIDE_* variables that set them."""
    import os

    from wsp import sysreq
    from wsp.errors import WspError

    try:
        found = tuple(engine.host_virtual_packages())
    except WspError as exc:
        return None, {"virtual_packages": [], "overrides": {}, "problem": str(exc)}
    return found, {
        "virtual_packages": [
            {"name": h.name, "version": h.version, "build": h.build} for h in found
        ],
        "overrides": {
            var: os.environ[var] for var in sysreq.OVERRIDES.values() if var in os.environ
        },
    }


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.commands import engine
    from wsp.context import load_context
    from wsp.errors import ExitCode

    ctx = load_context(directory)
    found, host_data = host(engine())
    rows = status_rows(ctx, found)
    if args.json:
        ui.print_json(
            {
                "workspace": ctx.ws.name,
                "description": ctx.ws.description,
                "envs_dir": str(ctx.ws.envs_dir),
                "envs": rows,
                "host": host_data,
            }
        )
    else:
        from wsp.specs import known_platforms

        # the platform variant column, once an env was built for more than a plain platform
        variants = any(
            r["system_requirements"] or (r["variant"] and r["variant"] not in known_platforms())
            for r in rows
        )
        ui.render_status(ctx.ws.name, rows, description=ctx.ws.description, variants=variants)
        ui.render_host(host_data)
    return ExitCode.OK
