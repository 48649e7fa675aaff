"""`wsp graph`: the project graph as a tree, mermaid, dot or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from wsp.commands import add_json


def register(sub: Any) -> None:
    p = sub.add_parser("graph")
    p.add_argument("--format", choices=["tree", "mermaid", "dot", "json"], default="tree")
    add_json(p)


def _node_id(node: tuple[str, str]) -> str:
    """A mermaid id: letters and digits kept, anything else written `_XX_` (its code), so
    that `a-b`, `a_b` and `a.b` stay three nodes."""
    return ("t_" if node[0] == "template" else "p_") + "".join(
        c if c.isascii() and c.isalnum() else f"_{ord(c):x}_" for c in node[1]
    )


def _python(project: Any) -> str | None:
    """The project's python: its `python`, else its environment file's `python=...`."""
    from wsp.specs import conda_name, match_spec_version

    if project.python or project.env_file is None:
        return project.python
    for spec in project.env_file.dependencies:
        if conda_name(spec) == "python" and (version := match_spec_version(spec)):
            return f"{version} ({project.env_file.path.name})"
    return None


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import graph as graph_mod
    from wsp import ui
    from wsp.errors import ExitCode
    from wsp.manifest import find_manifest, load

    ws = load(find_manifest(directory))
    g = graph_mod.build(ws)
    fmt = "json" if args.json else args.format
    edges = sorted((a, b, d["kind"]) for a, b, d in g.edges(data=True))
    if fmt == "tree":
        ui.render_graph(ws.name, g, {n: _python(p) for n, p in ws.projects.items()})
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
