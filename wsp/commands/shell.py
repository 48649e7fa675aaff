"""`wsp shell PROJECT`: the user's shell with the project's env active."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("shell")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument(
        "--sync", action="store_true", help="apply the project's env first when it is not in sync"
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    import sys
    import tempfile

    from wsp import activate, ui
    from wsp.commands.run import exec_in_env, ready_env, warn_activation

    _ctx, want = ready_env(directory, args.project, sync=args.sync, purpose="activate")
    shell = os.environ.get("SHELL") or "/bin/sh"
    kind = activate.shell_of(os.environ)
    ui.info(f"entering env {want.env_name} ({want.prefix}); `exit` leaves it")
    if Path(shell).name not in ("bash", "fish", "zsh"):
        return exec_in_env(want, [shell, "-i"])
    # bash reads ~/.bashrc, zsh its .zshenv and .zshrc, fish its config, any of which may
    # reset PATH: activate after them.
    act = activate.activation(want.prefix, want.env_name, os.environ, kind)
    warn_activation(act)
    activate.record_use(want.prefix)
    env = act.environ(os.environ)
    prompt = f'PS1={shlex.quote(f"({want.env_name}) ")}"$PS1"\n'
    made: str | None = None  # the start-up file or folder written for the shell
    if kind == "fish":
        argv = [shell, "-i", "-C", act.script()]
    elif kind == "zsh":
        argv, env["ZDOTDIR"] = [shell, "-i"], _zdotdir(act.script() + prompt)
        made = env["ZDOTDIR"]
    else:
        # removed first: the shell has it open, and a ~/.bashrc that ends in `exec` or
        # `exit` never comes back to it
        with tempfile.NamedTemporaryFile(
            "w", prefix="wsp-shell-", suffix=".bashrc", delete=False
        ) as rc:
            rc.write(f"rm -f {shlex.quote(rc.name)}\n")
            rc.write("[ -f ~/.bashrc ] && . ~/.bashrc\n")
            rc.write(act.script())
            rc.write(prompt)
        argv, made = [shell, "--rcfile", rc.name, "-i"], rc.name
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, env)
    except OSError:  # no shell started to remove its start-up files
        if made is not None:
            if os.path.isdir(made):
                shutil.rmtree(made, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(made)
        raise
    return 1  # not reached


def _zdotdir(activate: str) -> str:
    """A private ZDOTDIR whose start-up files source the user's own (from `$ZDOTDIR`, else
    `~`, as the user's .zshenv may set it) with ZDOTDIR as it was, then run `activate`;
    its .zshrc removes the folder first."""
    import tempfile

    own = os.environ.get("ZDOTDIR")
    folder = tempfile.mkdtemp(prefix="wsp-zsh-")
    user = '"${ZDOTDIR:-$HOME}"'
    files = {
        ".zshenv": (
            (f"ZDOTDIR={shlex.quote(own)}" if own else "unset ZDOTDIR"),
            f"[ -f {user}/.zshenv ] && . {user}/.zshenv",
            "__wsp_zdotdir=${ZDOTDIR-}",
            f"ZDOTDIR={shlex.quote(folder)}",
        ),
        ".zshrc": (
            # removed first: zsh has this file open, and a .zshrc of the user's that ends
            # in `exec` or `exit` never comes back to it
            f"rm -rf {shlex.quote(folder)}",
            'if [ -n "$__wsp_zdotdir" ]; then ZDOTDIR=$__wsp_zdotdir; else unset ZDOTDIR; fi',
            "unset __wsp_zdotdir",
            f"[ -f {user}/.zshrc ] && . {user}/.zshrc",
            activate.rstrip("\n"),
        ),
    }
    for name, lines in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return folder
