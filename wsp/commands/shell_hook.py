"""`wsp shell-hook PROJECT [--shell SHELL]`: the activation script of a project's env.

For `eval "$(wsp shell-hook vision)"` in a script or a CI step (fish: `wsp shell-hook
vision --shell fish | source`; PowerShell: `wsp shell-hook vision --shell powershell |
Out-String | Invoke-Expression`), as `pixi shell-hook` and `conda shell.bash activate` do.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "shell-hook",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument(
        "--shell",
        "-s",
        choices=("bash", "zsh", "fish", "powershell"),
        default=None,
        help="the shell to write for (default: $SHELL's, else bash)",
    )
    p.add_argument(
        "--sync", action="store_true", help="apply the project's env first when it is not in sync"
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    import sys

    from wsp import activate
    from wsp.commands.run import ready_env, warn_activation

    _ctx, want = ready_env(directory, args.project, sync=args.sync, purpose="activate")
    shell = args.shell or activate.shell_of(os.environ)
    act = activate.activation(want.prefix, want.env_name, os.environ, shell)
    warn_activation(act)
    activate.record_use(want.prefix)
    sys.stdout.write(act.script())
    return 0
