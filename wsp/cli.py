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
from wsp.errors import ExitCode, ManifestError, WspError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 1: 2 means "changes pending"
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        _exit(ExitCode.ERROR)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from wsp.commands import COMMANDS, module_name

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
    for name in COMMANDS:
        importlib.import_module(module_name(name)).register(sub)
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
        directory = Path(args.directory).resolve()
        if not directory.is_dir():
            raise WspError(f"-C {args.directory}: no such directory")
        os.chdir(directory)  # like git -C and make -C: relative paths (--out, FILE) too
        import importlib

        from wsp import deferred
        from wsp.commands import module_name

        command = importlib.import_module(module_name(args.command))
        deferred.hold()  # wsp's caches are written only when the command succeeds
        code = command.run(args, directory)
        if code in (ExitCode.OK, ExitCode.CHANGES):
            deferred.flush()
        return code
    except WspError as exc:
        for line in exc.lines():
            ui.error_line(line, located=isinstance(exc, ManifestError))
        return exc.exit_code
    except KeyboardInterrupt:
        ui.error_line("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except OSError as exc:  # a file wsp was asked to read or write
        where = f": {exc.filename}" if exc.filename else ""
        ui.error_line(f"{exc.strerror or exc}{where}")
        return ExitCode.ERROR
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
