"""`wsp env PROJECT`: the env's activation as shell lines, for `eval "$(wsp env X)"`.

The same script as `wsp shell-hook` (POSIX shells unless `--shell` says otherwise), or the
variables as JSON. Names are checked and values quoted: eval runs nothing from the env but
its activate.d scripts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from wsp.commands import add_json


def register(sub: Any) -> None:
    p = sub.add_parser("env")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument(
        "--shell",
        choices=("bash", "zsh", "fish", "powershell"),
        default="bash",
        help="the shell to write for (default: bash, any POSIX shell)",
    )
    add_json(p)


def run(args: argparse.Namespace, directory: Path) -> int:
    import sys

    from wsp import activate, ui
    from wsp.commands.run import ready_env, warn_activation

    _ctx, want = ready_env(
        directory, args.project, sync=False, purpose="activate", offers_sync=False
    )
    act = activate.activation(want.prefix, want.env_name, os.environ, args.shell)
    warn_activation(act)
    activate.record_use(want.prefix)  # an activation is a use (policy WSP501)
    if args.json:
        ui.print_json(
            {
                "env": {"PATH": os.pathsep.join(act.path), **dict(act.variables)},
                "unset": list(act.unset),
                "activate_scripts": [str(s) for s in act.scripts],
                "deactivate_scripts": [str(s) for s in act.deactivate_scripts],
            }
        )
        return 0
    sys.stdout.write(act.script())
    return 0
