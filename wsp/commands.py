"""One function per command: arguments in, exit code out. Printing goes through wsp.ui."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wsp import ui
from wsp.errors import ExitCode, StalePlan, WspError
from wsp.fsutil import atomic_write_json
from wsp.lock import workspace_lock
from wsp.planner import PLAN_FORMAT, Action, Plan, Reason
from wsp.workflow import Context, load_context, make_plan, refresh


def _engine() -> Any:
    from wsp.engines import get_engine

    return get_engine("rattler")


# -- plan -------------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace, directory: Path) -> int:
    ctx = load_context(directory)
    plan = make_plan(ctx, _engine(), args.target)
    if args.out:
        atomic_write_json(Path(args.out), plan.to_json())
    if args.json:
        ui.print_json(plan.to_json())
    else:
        ui.render_plan(plan)
        if args.out:
            ui.info(
                f"Saved the plan to {args.out}: run `wsp apply {args.out}` to carry out exactly it."
            )
    if args.detailed_exitcode and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


# -- apply ------------------------------------------------------------------------------------


def _load_saved(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WspError(f"{path}: no such plan file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise WspError(f"{path}: not a wsp plan ({exc})") from None
    if (
        not isinstance(data, dict)
        or data.get("format_version") != PLAN_FORMAT
        or "inputs" not in data
    ):
        raise WspError(
            f"{path}: not a wsp plan of format {PLAN_FORMAT}",
            hint="make one with `wsp plan --out FILE`",
        )
    return data


def _check_saved(saved: dict[str, Any], fresh: Plan, ctx: Context, path: Path) -> None:
    """Refuse a saved plan when the workspace, an env or the channels moved on since."""
    again = f"run `wsp plan --out {path}` again"
    if saved.get("workspace") != ctx.ws.name or saved.get("manifest") != str(ctx.ws.manifest_path):
        raise StalePlan(
            f"{path} was made for another workspace ({saved.get('manifest')})", hint=again
        )
    inputs = saved["inputs"]
    if inputs.get("workspace_file") != ctx.ws.source_hash:
        raise StalePlan(
            f"saved plan {path} is stale: workspace.toml (or an environment file) changed since it was made",
            hint=again,
        )
    now_envs = fresh.inputs["envs"]
    changed = sorted(
        env for env, fp in (inputs.get("envs") or {}).items() if now_envs.get(env, "absent") != fp
    )
    changed += sorted(env for env in now_envs if env not in (inputs.get("envs") or {}))
    if changed:
        raise StalePlan(
            f"saved plan {path} is stale: env {', '.join(changed)} changed since it was made",
            hint=again,
        )
    old = {
        a["env"]: (
            a["action"],
            [(p["name"], p["version"], p["build"], p["sha256"]) for p in a.get("install") or []],
        )
        for a in saved.get("actions", [])
    }
    new = {
        a.env: (a.kind, [(p.name, p.version, p.build, p.sha256) for p in a.target or ()])
        for a in fresh.actions
    }
    differing = sorted(env for env in old.keys() | new.keys() if old.get(env) != new.get(env))
    if differing:
        raise StalePlan(
            f"saved plan {path} is stale: the channels now give other packages for {', '.join(differing)}",
            hint=again,
        )


def cmd_apply(args: argparse.Namespace, directory: Path) -> int:
    from wsp.reconciler import apply_plan

    saved = _load_saved(Path(args.plan_file)) if args.plan_file else None
    ctx = load_context(directory)
    engine = _engine()
    with workspace_lock(ctx.state_dir):
        ctx = refresh(ctx)
        targets = tuple(saved.get("targets") or ()) if saved is not None else tuple(args.target)
        plan = make_plan(ctx, engine, targets)
        if saved is not None:
            _check_saved(saved, plan, ctx, Path(args.plan_file))
        if not args.json:
            ui.render_plan(plan)
        if not plan.has_changes:
            if args.json:
                ui.print_json({"plan": plan.to_json(), "outcomes": []})
            return ExitCode.OK
        if unknown := plan.unknown:
            raise WspError(
                f"cannot apply: {unknown[0].unknown}",
                hint="nothing was changed; check the channel or the network, then run again",
            )
        if saved is None and not args.yes:
            if not sys.stdin.isatty():
                raise WspError(
                    "refusing to apply without confirmation: stdin is not a terminal",
                    hint="pass --yes to apply without asking, or save the plan with --out and apply that file",
                )
            if not ui.confirm("Apply these changes?"):
                ui.info("Apply cancelled; nothing was changed.")
                return ExitCode.ERROR
        with ui.ApplyDisplay() as display:
            outcomes = apply_plan(ctx, plan, engine, display, jobs=args.jobs)
    blocked = [a for a in plan.actions if a.kind == "blocked"]
    if args.json:
        ui.print_json(
            {
                "plan": plan.to_json(),
                "outcomes": [
                    {"env": o.action.env, "action": o.action.kind, "ok": o.ok, "error": o.error}
                    for o in outcomes
                ],
            }
        )
    else:
        ui.apply_summary(outcomes)
        for a in blocked:
            ui.error_line(f"{a.env}: not applied: {a.reasons[0].message}")
    return ExitCode.ERROR if blocked or any(not o.ok for o in outcomes) else ExitCode.OK


# -- status -----------------------------------------------------------------------------------


def status_rows(ctx: Context) -> list[dict[str, Any]]:
    rows = []
    for name, want in sorted(ctx.desired.items()):
        have = ctx.observed.get(want.env_name)
        if have is None or have.ownership == "empty":
            state = "missing"
        elif have.ownership != "ours":
            state = "not owned"
        elif have.half_built:
            state = "half-built"
        elif have.marker and have.marker.installed_hash != have.installed_hash:
            state = "drifted"
        elif have.marker and have.marker.spec_hash != want.spec_hash:
            state = "out of date"
        else:
            state = "in sync"
        rows.append(
            {
                "project": name,
                "env": want.env_name,
                "prefix": str(want.prefix),
                "python": have.python_version if have else None,
                "state": state,
            }
        )
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
                }
            )
    return rows


def cmd_status(args: argparse.Namespace, directory: Path) -> int:
    ctx = load_context(directory)
    rows = status_rows(ctx)
    if args.json:
        ui.print_json({"workspace": ctx.ws.name, "envs_dir": str(ctx.ws.envs_dir), "envs": rows})
    else:
        ui.render_status(ctx.ws.name, rows)
    return ExitCode.OK


# -- destroy ----------------------------------------------------------------------------------


def cmd_destroy(args: argparse.Namespace, directory: Path) -> int:
    from wsp.planner import PackageDiff, _dist_packages
    from wsp.reconciler import destroy

    ctx = load_context(directory)
    targets = ctx.check_targets(args.target)
    with workspace_lock(ctx.state_dir, command="wsp destroy"):
        ctx = refresh(ctx)
        actions = [
            Action(
                "prune",
                env,
                have.prefix,
                have.marker.project,
                (Reason("destroy", "wsp destroy"),),
                diff=PackageDiff(remove=tuple(_dist_packages(have.dists))),
            )
            for env, have in sorted(ctx.observed.items())
            if have.ownership == "ours"
            and have.marker is not None
            and (not targets or have.marker.project in targets or env in targets)
        ]
        if not actions:
            if args.json:
                ui.print_json({"destroyed": []})
            else:
                ui.out().print("Nothing to destroy: this workspace owns no env.")
            return ExitCode.OK
        if not args.json:
            ui.out().print(
                f"wsp will delete {len(actions)} env(s) owned by workspace {ui.esc(ctx.ws.name)}:"
            )
            for a in actions:
                ui.out().print(f"  [red]- {ui.esc(a.env)}[/] [dim]{ui.esc(a.prefix)}[/]")
        if not args.yes:
            if not sys.stdin.isatty():
                raise WspError(
                    "refusing to destroy without confirmation: stdin is not a terminal",
                    hint="pass --yes to destroy without asking",
                )
            if not ui.confirm("Delete these envs?"):
                ui.info("Destroy cancelled; nothing was deleted.")
                return ExitCode.ERROR
        with ui.ApplyDisplay() as display:
            outcomes = destroy(ctx, actions, display)
    if args.json:
        ui.print_json(
            {
                "destroyed": [o.action.env for o in outcomes if o.ok],
                "failed": [o.action.env for o in outcomes if not o.ok],
            }
        )
    else:
        ui.apply_summary(outcomes)
    return ExitCode.ERROR if any(not o.ok for o in outcomes) else ExitCode.OK


# -- graph and schema -------------------------------------------------------------------------


def _node_id(node: tuple[str, str]) -> str:
    return ("t_" if node[0] == "template" else "p_") + "".join(
        c if c.isalnum() else "_" for c in node[1]
    )


def cmd_graph(args: argparse.Namespace, directory: Path) -> int:
    from wsp import graph as graph_mod
    from wsp.manifest import find_manifest, load

    ws = load(find_manifest(directory))
    g = graph_mod.build(ws)
    fmt = "json" if args.json else args.format
    edges = sorted((a, b, d["kind"]) for a, b, d in g.edges(data=True))
    if fmt == "tree":
        ui.render_graph(ws.name, g, {n: p.python for n, p in ws.projects.items()})
    elif fmt == "mermaid":
        lines = ["graph TD"]
        for node in sorted(g):
            label = f"{node[1]} (template)" if node[0] == "template" else node[1]
            shape = f'(["{label}"])' if node[0] == "template" else f'["{label}"]'
            lines.append(f"    {_node_id(node)}{shape}")
        for a, b, kind in edges:
            lines.append(f"    {_node_id(a)} -->|{kind}| {_node_id(b)}")
        sys.stdout.write("\n".join(lines) + "\n")
    elif fmt == "dot":
        lines = [f'digraph "{ws.name}" {{', "    rankdir=LR;"]
        for node in sorted(g):
            shape = "ellipse" if node[0] == "template" else "box"
            lines.append(f'    "{node[0]}:{node[1]}" [label="{node[1]}", shape={shape}];')
        for a, b, kind in edges:
            lines.append(f'    "{a[0]}:{a[1]}" -> "{b[0]}:{b[1]}" [label="{kind}"];')
        lines.append("}")
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        ui.print_json(
            {
                "workspace": ws.name,
                "nodes": [{"kind": k, "name": n} for k, n in sorted(g)],
                "edges": [{"from": a[1], "to": b[1], "kind": kind} for a, b, kind in edges],
                "order": graph_mod.order(g),
            }
        )
    return ExitCode.OK


def cmd_schema(args: argparse.Namespace, directory: Path) -> int:
    from wsp.manifest.models import json_schema

    ui.print_json(json_schema())
    return ExitCode.OK
