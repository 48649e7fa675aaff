"""`wsp shell PROJECT`: the user's shell with the project's env active."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("shell", help="open your shell with a project's env active")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument(
        "--sync", action="store_true", help="apply the project's env first when it is not in sync"
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    import tempfile

    from wsp import activate, ui
    from wsp.commands.run import exec_in_env, ready_env

    _ctx, want = ready_env(directory, args.project, sync=args.sync, purpose="activate")
    shell = os.environ.get("SHELL") or "/bin/sh"
    argv = [shell, "-i"]
    if Path(shell).name == "bash":
        # bash reads ~/.bashrc, which may reset PATH: re-activate after it.
        env = activate.activation_env(want.prefix, want.env_name, os.environ)
        with tempfile.NamedTemporaryFile(
            "w", prefix="wsp-shell-", suffix=".bashrc", delete=False
        ) as rc:
            rc.write("[ -f ~/.bashrc ] && . ~/.bashrc\n")
            rc.write(f"export PATH={shlex.quote(env['PATH'])}\n")
            rc.write(f'PS1="({want.env_name}) $PS1"\n')
            rc.write(f"rm -f {shlex.quote(rc.name)}\n")
        argv = [shell, "--rcfile", rc.name, "-i"]
    ui.info(f"entering env {want.env_name} ({want.prefix}); `exit` leaves it")
    return exec_in_env(want, argv)
