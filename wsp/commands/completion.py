"""`wsp completion SHELL`: the script that gives wsp tab completion in bash, zsh or fish.

The script (argcomplete's) asks wsp itself what completes the word under the cursor:
commands, options, and the projects of the nearest workspace.toml.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SHELLS = ("bash", "zsh", "fish")

_INSTALL = {
    "bash": 'eval "$(wsp completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(wsp completion zsh)"    # in ~/.zshrc, after compinit',
    "fish": "wsp completion fish | source   # in ~/.config/fish/config.fish",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "completion",
        usage="wsp completion {bash,zsh,fish}",
        epilog="Install it with one line: "
        + "; ".join(f"{shell}: {line}" for shell, line in _INSTALL.items()),
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")


def project_names(prefix: str = "", **_: Any) -> list[str]:
    """The projects of the nearest workspace.toml starting with `prefix` (for completion:
    never an error, never output)."""
    try:
        import tomlkit

        from wsp.manifest import find_manifest

        data = tomlkit.parse(find_manifest(Path.cwd()).read_text(encoding="utf-8-sig")).unwrap()
        projects = data.get("projects") or {}
        return sorted(n for n in projects if isinstance(n, str) and n.startswith(prefix))
    except Exception:
        return []


def run(args: argparse.Namespace, directory: Path) -> int:
    import sys

    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["wsp"], shell=args.shell))
    sys.stdout.flush()
    return 0
