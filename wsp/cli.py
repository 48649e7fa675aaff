"""The command line. Start-up stays light: each command imports what it needs when it runs.

The process always ends through `_exit`: py-rattler can crash at interpreter shutdown
after its work is done (shared/RATTLER.md), so wsp flushes its output and leaves with
os._exit, never through the interpreter's teardown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from wsp import __version__
from wsp.errors import ExitCode, WspError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 1: 2 means "changes pending"
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        _exit(ExitCode.ERROR)


def _common(p: argparse.ArgumentParser, *, json: bool = False, target: bool = False) -> None:
    if json:
        p.add_argument("--json", action="store_true", dest="json_sub", help="print data as JSON")
    if target:
        p.add_argument(
            "--target",
            "-t",
            action="append",
            default=[],
            metavar="NAME",
            help="limit to this project (repeatable)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wsp",
        description="Terraform for conda environments: declare every project's env in "
        "workspace.toml, then plan and apply.",
    )
    parser.add_argument(
        "-C", dest="directory", default=".", metavar="DIR", help="run as if started in DIR"
    )
    parser.add_argument(
        "--json", action="store_true", help="print data as JSON where output is data"
    )
    parser.add_argument("--version", action="version", version=f"wsp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("plan", help="show what would change to make the envs match workspace.toml")
    _common(p, json=True, target=True)
    p.add_argument("--out", metavar="FILE", help="save the plan for `wsp apply FILE`")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when something would, 1 on error",
    )

    p = sub.add_parser("apply", help="make the envs match workspace.toml")
    _common(p, json=True, target=True)
    p.add_argument(
        "plan_file", nargs="?", metavar="FILE", help="carry out a plan saved by `wsp plan --out`"
    )
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")
    p.add_argument("--jobs", "-j", type=int, default=2, help="envs built at once (default 2)")

    p = sub.add_parser(
        "status", help="what is there: every env, its Python and whether it is in sync"
    )
    _common(p, json=True)

    p = sub.add_parser("destroy", help="remove every env this workspace owns")
    _common(p, json=True, target=True)
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")

    p = sub.add_parser("graph", help="the project graph: templates and depends-on")
    p.add_argument("--format", choices=["tree", "mermaid", "dot", "json"], default="tree")
    _common(p, json=True)

    sub.add_parser("schema", help="print the JSON Schema of workspace.toml")
    return parser


def _exit(code: int) -> NoReturn:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(int(code))


def run(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the command, return the exit code. Errors become one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return ExitCode.OK
    args.json = bool(args.json or getattr(args, "json_sub", False))
    from wsp import ui

    try:
        directory = Path(args.directory)
        if not directory.is_dir():
            raise WspError(f"-C {args.directory}: no such directory")
        from wsp import commands

        return getattr(commands, f"cmd_{args.command}")(args, directory.resolve())
    except WspError as exc:
        ui.error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        ui.error_line("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:  # a bug: say so in one line; WSP_DEBUG=1 shows the traceback
        if os.environ.get("WSP_DEBUG"):
            import traceback

            traceback.print_exc()
        ui.error_line(
            f"internal error: {type(exc).__name__}: {exc} (set WSP_DEBUG=1 for a traceback)"
        )
        return ExitCode.ERROR


def main(argv: list[str] | None = None) -> Any:
    _exit(run(argv))
