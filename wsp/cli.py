"""The command line. Start-up stays light: each command imports what it needs when it runs.

The process always ends through `_exit`: py-rattler can crash at interpreter shutdown
after its work is done (shared/RATTLER.md), so wsp flushes its output and leaves with
os._exit, never through the interpreter's teardown.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from wsp import __version__
from wsp.errors import ExitCode, ManifestError, WspError

_completing = False  # answering the shell's tab: argcomplete reads parse errors as exceptions


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 1: 2 means "changes pending"
        if _completing:
            super().error(message)
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.write(f"run `{self.prog} --help` for more\n")
        _exit(ExitCode.ERROR)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """A long option written with one dash, as terraform writes them (`-target=web`,
        `-json`), is a usage error that names the option, not one argparse misreads as a
        short option with a value (`-t arget=web`)."""
        if args is not None and self.prog != "wsp" and not _takes_a_command(self):
            for word in args:
                if word == "--":
                    break
                name, eq, value = str(word).partition("=")
                if (
                    name in ("-auto-approve", "--auto-approve")
                    and "--yes" in self._option_string_actions
                ):
                    self.error(f"{word}: terraform's -auto-approve is --yes (-y) here")
                if (
                    len(name) > 2
                    and name[0] == "-"
                    and name[1].isalpha()
                    and f"-{name}" in self._option_string_actions
                ):
                    self.error(f"{word}: wsp's long options take two dashes: -{name}{eq}{value}")
        return super().parse_known_args(args, namespace)


def _takes_a_command(p: argparse.ArgumentParser) -> bool:
    """Whether `p` ends with a command of the user's (`wsp run PROJECT -- CMD ...`), whose
    own options are not wsp's to read."""
    return any(a.nargs == argparse.REMAINDER for a in p._actions)


def _add_output_flags(p: argparse.ArgumentParser, *, default: Any) -> None:
    """-q, -v and --no-color, on wsp itself and on every command (`wsp plan -q` reads as
    well as `wsp -q plan`)."""
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="print only data, warnings and errors (no progress, notes or next steps)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default if default is argparse.SUPPRESS else 0,
        help="say more: unchanged envs in plans, the full cause of a channel error",
    )
    p.add_argument(
        "--no-color",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="no colors (as NO_COLOR=1 does)",
    )


def _description(help_text: str | None) -> str | None:
    """A command's --help description from its one-line summary."""
    if not help_text:
        return None
    text = help_text[0].upper() + help_text[1:]
    return text if text.endswith(".") else text + "."


def _named_command(argv: list[str]) -> str | None:
    """The command `argv` names, found without parsing: the first word that is not one of
    wsp's own options. None when there is none, or `--help` comes before it."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in ("-h", "--help", "--"):
            return None
        if word == "-C":
            i += 2
            continue
        if not word.startswith("-"):
            return word
        i += 1
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """wsp's parser: every command's, or (given the `argv` it will parse) only the one
    `argv` names, when it names one: start-up then imports and builds no other. An `argv`
    that names no command (`wsp`, `wsp --help`, a misspelt command) gets the commands'
    names and summaries alone, all that it can show."""
    import importlib

    from wsp.commands import COMMANDS, module_name

    completing = "_ARGCOMPLETE" in os.environ
    if argv is None or completing:
        full, listed = tuple(COMMANDS), ()
    elif (named := _named_command(argv)) in COMMANDS:
        full, listed = (named,), ()
    else:  # no command named (`wsp`, `wsp --help`, a misspelt one): the listing is all it shows
        full, listed = (), tuple(COMMANDS)

    parser = _Parser(
        prog="wsp",
        description="Terraform for conda environments: declare every project's env in "
        "workspace.toml, then plan and apply.",
        epilog="Run `wsp COMMAND --help` for a command's options. Shell completion: "
        "`wsp completion bash|zsh|fish`.",
    )
    parser.add_argument(
        "-C", dest="directory", default=".", metavar="DIR", help="run as if started in DIR"
    )
    parser.add_argument(
        "--json", action="store_true", help="print data as JSON where output is data"
    )
    _add_output_flags(parser, default=None)
    parser.add_argument("--version", action="version", version=f"wsp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_parser = sub.add_parser

    def add_command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("help", COMMANDS[name])
        kwargs.setdefault("description", _description(kwargs["help"]))
        p = add_parser(name, **kwargs)
        _add_output_flags(p, default=argparse.SUPPRESS)
        return p

    sub.add_parser = add_command  # type: ignore[method-assign]
    for name in COMMANDS:
        if name in full:
            importlib.import_module(module_name(name)).register(sub)
        elif name in listed:
            add_command(name)
    if completing:  # the shell asks: tab completes a project's name
        from wsp.commands.completion import declared_names, project_names

        for name, command in sub.choices.items():
            for action in command._actions:
                if action.dest in ("project", "target", "update"):
                    action.completer = project_names  # type: ignore[attr-defined]
                elif name == "remove" and action.dest == "specs":
                    action.completer = declared_names  # type: ignore[attr-defined]
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments; one a command does not know is reported with that command's usage."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = getattr(args, "command", None)
        sub = next(
            (
                a.choices[command]
                for a in parser._actions
                if isinstance(a, argparse._SubParsersAction) and command in a.choices
            ),
            parser,
        )
        sub.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _complete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request (`wsp completion SHELL` installs the hook),
    then exit; does nothing when the shell is not asking."""
    global _completing
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    _completing = True
    argcomplete.autocomplete(parser, exit_method=_exit)


def _exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):  # None when started with the stream closed
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(int(code))


def run(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the command, return the exit code. Errors become one line."""
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    _complete(parser)
    args = _parse(parser, argv)
    from wsp import ui

    ui.configure(quiet=bool(args.quiet), verbose=args.verbose or 0, no_color=bool(args.no_color))
    if args.verbose:
        from wsp import errors

        errors.VERBOSE = True
    if sys.stdout is None:  # started with stdout closed (`>&-`): nowhere to say anything
        ui.error_line("stdout is closed: wsp prints there; send it to /dev/null to drop it")
        return ExitCode.ERROR
    if args.command is None:
        parser.print_help()
        return ExitCode.OK
    args.json = bool(args.json or getattr(args, "json_sub", False))

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
        ui.error_line(f"{exc.strerror or exc}{where}{_whose(exc)}")
        return ExitCode.ERROR
    except Exception as exc:  # a bug: say so in one line; WSP_DEBUG=1 shows the traceback
        if os.environ.get("WSP_DEBUG"):
            import traceback

            traceback.print_exc()
        ui.error_line(
            f"internal error: {type(exc).__name__}: {exc} (set WSP_DEBUG=1 for a traceback)"
        )
        return ExitCode.ERROR


def _whose(exc: OSError) -> str:
    """`; it is ada's (group team), mode 0600` for a file another user keeps from this one
    (a shared workspace, a member's umask 077), else ""."""
    import errno

    if exc.errno != errno.EACCES or not isinstance(exc.filename, str):
        return ""
    from wsp.modes import whose

    try:
        theirs = os.stat(exc.filename).st_uid != os.geteuid()
    except OSError:
        return ""
    owned = whose(exc.filename) if theirs else ""
    return f"; it is {owned}" if owned else ""


def main(argv: list[str] | None = None) -> Any:
    # A run keeps many small records alive (a marker and a desired env per env) and makes
    # few reference cycles: the default threshold (a collection every 700 allocations)
    # walks them again and again, 20 ms of a 1000-env plan. Collect rarely, as mypy does.
    gc.set_threshold(200_000, 30, 30)
    _exit(run(argv))
