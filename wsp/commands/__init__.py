"""One module per command, each with `register(subparsers)` and `run(args, directory) -> int`.

Modules import only what `--help` needs at the top; the heavy parts load inside `run`.
"""

from __future__ import annotations

import argparse
from typing import Any

# Every command and its one-line summary, in the order `wsp --help` lists them: the listing
# is built from this table alone, without importing any command's module.
COMMANDS = {
    "init": "write a starter workspace.toml (picking up environment.yml files)",
    "plan": "show what would change to make the envs match workspace.toml",
    "apply": "make the envs match workspace.toml",
    "rollback": (
        "put a project's env back to a build it keeps (default: the one before its last "
        "update, replace or rollback; `wsp history` lists them)"
    ),
    "history": (
        "an env's past applies (when, what changed, from which declaration) and the builds "
        "it keeps for `wsp rollback --to N`"
    ),
    "lock": "lock every project for every platform into wsp.lock",
    "watch": "apply again whenever workspace.toml or a project's files change",
    "check": "run the policies (naming, base env, pip, channels, stale envs)",
    "status": "what is there: every env, its Python and whether it is in sync",
    "info": (
        "this machine's virtual packages (__cuda, __glibc, ...) and which platform variant "
        "each env can run here"
    ),
    "run": "run a command inside a project's env",
    "shell": "open your shell with a project's env active",
    "env": "print a project's activation as shell export lines (for eval)",
    "shell-hook": "print the activation script of a project's env (for eval in scripts and CI)",
    "add": "add dependencies to a project in workspace.toml (comments kept)",
    "remove": "remove dependencies of a project from workspace.toml (comments kept)",
    "import": "add a project from an environment.yml or an existing conda env",
    "export": "a project's env as environment.yml, explicit spec, requirements or Dockerfile",
    "pack": (
        "one archive that re-creates a project's locked env offline (by wsp unpack, conda, "
        "mamba or micromamba)"
    ),
    "unpack": (
        "re-create a project's env from a `wsp pack` archive, offline, in the workspace it "
        "was packed from"
    ),
    "gc": (
        "free the package cache, repodata and rollback builds that no env and no lock uses "
        "(a dry run unless --yes)"
    ),
    "graph": "the project graph: templates and depends-on",
    "destroy": "remove every env this workspace owns",
    "schema": "print the JSON Schema of workspace.toml",
    "completion": "print the shell completion script for bash, zsh or fish",
}


def module_name(command: str) -> str:
    """The module of a command: `wsp.commands.import_` for `import` (a Python keyword)."""
    import keyword

    name = command.replace("-", "_")
    return f"wsp.commands.{name}_" if keyword.iskeyword(name) else f"wsp.commands.{name}"


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", dest="json_sub", help="print data as JSON")


def add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        "-t",
        action="append",
        default=[],
        metavar="NAME",
        help="limit to this project (repeatable)",
    )


def add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jobs", "-j", type=_jobs, default=2, metavar="N", help="envs built at once (default 2)"
    )


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of envs") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: at least 1 env must be built at once")
    return value


class _LazyEngine:
    """The engine, created when first used: a no-op plan never loads rattler."""

    def __init__(self, name: str) -> None:
        import threading

        self._name = name
        self._engine: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # copy, pickle and the like: not the engine's
            raise AttributeError(attr)
        with self._lock:
            if self._engine is None:
                from wsp.engines import get_engine

                self._engine = get_engine(self._name)
        return getattr(self._engine, attr)


def engine() -> Any:
    """The package engine (rattler), loaded on first use."""
    return _LazyEngine("rattler")
