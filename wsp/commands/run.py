"""`wsp run PROJECT -- CMD ARGS…`: run a command inside a project's env.

The command replaces wsp's process (exec), so its output streams live, signals reach
it directly and its exit code is wsp's. Activation scripts of the env
(`etc/conda/activate.d/*.sh`) are sourced by a shell first when there are any.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsp.activate import Activation
    from wsp.context import Context
    from wsp.graph import DesiredEnv
    from wsp.planner import Action, Plan


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        usage="wsp run [--sync] PROJECT -- CMD [ARGS...]",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument(
        "--sync", action="store_true", help="apply the project's env first when it is not in sync"
    )
    p.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="CMD", help="the command and its arguments"
    )


def ready_env(
    directory: Path, project: str, *, sync: bool, purpose: str, offers_sync: bool = True
) -> tuple[Context, DesiredEnv]:
    """The project's env, checked: missing or half-built stops, out of date warns
    (or, with `sync`, is applied first). `offers_sync`: the command has a --sync for the
    hints to name (`wsp env` has none)."""
    from wsp import ui
    from wsp.context import load_context
    from wsp.errors import WspError
    from wsp.observe import env_state

    ctx = load_context(directory)
    if project not in ctx.desired:
        import difflib

        close = difflib.get_close_matches(project, list(ctx.desired), n=1)
        raise WspError(
            f"no project {project!r} in {ctx.ws.manifest_path.name}",
            hint=f"did you mean {close[0]!r}?" if close else f"projects: {', '.join(ctx.desired)}",
        )
    want = ctx.desired[project]
    state = env_state(want, ctx.observed.get(want.env_name))
    if state != "in sync" and sync and state != "not owned":
        ui.info(f"env {want.env_name} is {state}: applying it first (--sync)")
        if not _sync(ctx, project):
            raise WspError(f"could not bring env {want.env_name} in sync; nothing was run")
        ctx = load_context(directory)
        state = env_state(want, ctx.observed.get(want.env_name))
    if state in ("missing", "half-built"):
        raise WspError(
            f"env {want.env_name} is {state}: nothing to {purpose}",
            hint=f"run `wsp apply --target {project}` first"
            + (", or pass --sync" if offers_sync else ""),
        )
    if state == "not owned":
        have = ctx.observed.get(want.env_name)
        if have is not None and have.private_to:  # maybe this workspace's: no one can tell
            raise WspError(f"env {want.env_name} at {want.prefix}: {have.why_not_ours(ctx.owner)}")
        raise WspError(f"env {want.env_name} at {want.prefix} is not managed by this workspace")
    if state != "in sync":
        ui.err().print(
            f"[yellow]warning:[/] env {ui.esc(want.env_name)} is {state}: "
            f"run `wsp apply{'' if offers_sync else f' --target {project}'}`"
            f"{' (or pass --sync)' if offers_sync else ''} to match workspace.toml"
        )
    return ctx, want


def _sync(ctx: Context, project: str) -> bool:
    """Apply the project's env (and what it depends on is left as it is); plan, progress
    and summary go to stderr: stdout belongs to the command."""
    from wsp import ui, workflow
    from wsp.commands import engine
    from wsp.commands.apply import CliHooks, report

    class SyncHooks(CliHooks):
        """`--sync` applies a create or an update without asking, like `wsp watch`;
        deleting an env (a replace) needs the same consent as everywhere: a yes at a
        terminal."""

        def confirm(self, plan: Plan, now: list[Action]) -> bool:
            deleting = [a.env for a in now if a.kind.destructive]
            if not deleting:
                return True
            ui.err().print(
                f"[magenta]--sync would delete and rebuild env {ui.esc(', '.join(deleting))}[/]"
            )
            return super().confirm(plan, now)

    request = workflow.Request(targets=(project,), command="wsp run --sync")
    with ui.ApplyDisplay() as display:
        hooks = SyncHooks(
            display,
            to_stderr=True,
            question="Replace it?",
            verb="replace",
            hint=f"run `wsp apply --target {project}` to replace it, then run again",
        )
        result = workflow.apply(ctx, engine(), request, hooks)
    return not result.cancelled and report(result, json=False, stderr=True) == 0


def warn_activation(act: Activation) -> None:
    """Say what activation left out (a bad variable name in the env, say)."""
    from wsp import ui

    for message in act.warnings:
        ui.err().print(f"[yellow]warning:[/] {ui.esc(message)}")


# What the shell that sources the activation scripts runs last: the command, or the error
# wsp gives itself when it is not there (127) or can't be run (126).
_START = """\
case $1 in
  */*) p=$1; [ -e "$p" ] || p= ;;
  *) p=$(command -v -- "$1") || p= ;;
esac
if [ -z "$p" ]; then
  printf 'error: command not found in env %s: %s\\n' {env} "$1" >&2; exit 127
fi
case $p in */*) if [ -d "$p" ] || [ ! -x "$p" ]; then
  printf 'error: command not executable: %s\\n' "$1" >&2; exit 126
fi ;; esac
exec "$@"
"""


def exec_in_env(want: DesiredEnv, argv: list[str]) -> int:
    """Replace this process with `argv` running in the env; returns only on failure."""
    from wsp import activate
    from wsp.errors import WspError

    act = activate.activation(want.prefix, want.env_name, os.environ, "bash")
    warn_activation(act)
    activate.record_use(want.prefix)
    env = act.environ(os.environ)
    if act.scripts or act.deactivate_scripts:
        # the env's activate.d scripts (and the replaced env's deactivate.d ones) are
        # sourced by bash, as `conda run` does, with the same script `wsp shell-hook` prints
        shell = shutil.which("bash") or "/bin/sh"
        script = act.script() + _START.replace("{env}", shlex.quote(want.env_name))
        argv, env = [shell, "-c", script, "wsp-run", *argv], dict(os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if not argv[0]:
            raise FileNotFoundError(argv[0])
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        found = argv[0] and shutil.which(argv[0], path=env.get("PATH"))
        if found or os.path.isfile(argv[0]):  # a script whose #! interpreter is missing
            exc = WspError(f"cannot run {argv[0]}: the interpreter its #! line names is missing")
        else:
            exc = WspError(f"command not found in env {want.env_name}: {argv[0]}")
        exc.exit_code = 127
        raise exc from None
    except PermissionError:
        exc = WspError(f"command not executable: {argv[0]}")
        exc.exit_code = 126
        raise exc from None
    return 1  # not reached


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp.errors import WspError

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--sync":  # `wsp run PROJECT --sync -- CMD` reads as well
        args.sync, cmd = True, cmd[1:]
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise WspError("no command given", hint=f"write `wsp run {args.project} -- CMD [ARGS...]`")
    _ctx, want = ready_env(directory, args.project, sync=args.sync, purpose="run")
    return exec_in_env(want, cmd)
