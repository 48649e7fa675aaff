"""`wsp env PROJECT`: the env's activation as shell `export` lines, for `eval "$(wsp env X)"`."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from wsp.commands import add_json

_KEYS = ("PATH", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_PROMPT_MODIFIER", "CONDA_SHLVL")


def register(sub: Any) -> None:
    p = sub.add_parser("env", help="print a project's activation as shell export lines (for eval)")
    p.add_argument("project", metavar="PROJECT")
    add_json(p)


def run(args: argparse.Namespace, directory: Path) -> int:
    import sys

    from wsp import activate, ui
    from wsp.commands.run import ready_env

    _ctx, want = ready_env(directory, args.project, sync=False, purpose="activate")
    env = activate.activation_env(want.prefix, want.env_name, os.environ)
    names = [*_KEYS, *sorted(activate.config_vars(want.prefix))]
    scripts = [str(s) for s in activate.activate_scripts(want.prefix)]
    if args.json:
        ui.print_json({"env": {k: env[k] for k in names if k in env}, "activate_scripts": scripts})
        return 0
    lines = [f"export {k}={shlex.quote(env[k])}" for k in names if k in env]
    lines += [f". {shlex.quote(s)}" for s in scripts]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
