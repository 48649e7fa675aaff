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


def _projects(parsed_args: Any) -> dict[str, Any]:
    """The [projects] table of the workspace.toml `-C DIR` (else the cwd) is in."""
    import tomlkit

    from wsp.manifest import find_manifest

    folder = Path(getattr(parsed_args, "directory", None) or ".")
    data = tomlkit.parse(find_manifest(folder).read_text(encoding="utf-8-sig")).unwrap()
    projects = data.get("projects")
    return projects if isinstance(projects, dict) else {}


def project_names(prefix: str = "", parsed_args: Any = None, **_: Any) -> list[str]:
    """The projects of the nearest workspace.toml starting with `prefix` (for completion:
    never an error, never output)."""
    try:
        projects = _projects(parsed_args)
        return sorted(n for n in projects if isinstance(n, str) and n.startswith(prefix))
    except Exception:
        return []


def declared_names(prefix: str = "", parsed_args: Any = None, **_: Any) -> list[str]:
    """For `wsp remove PROJECT <TAB>`: the names of the packages the project lists in
    `dependencies` (with --pip, `pip`), and `python` when it sets one."""
    try:
        from wsp.manifest.edit import conda_name, pip_name

        table = _projects(parsed_args).get(parsed_args.project) or {}
        pip = bool(getattr(parsed_args, "pip", False))
        specs = table.get("pip" if pip else "dependencies") or []
        names = [(pip_name if pip else conda_name)(s) for s in specs if isinstance(s, str)]
        if not pip and "python" in table:
            names.append("python")
        return sorted({n for n in names if n.startswith(prefix)})
    except Exception:
        return []


def run(args: argparse.Namespace, directory: Path) -> int:
    import sys

    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["wsp"], shell=args.shell))
    sys.stdout.flush()
    return 0
