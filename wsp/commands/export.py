"""`wsp export`: a project's env as environment.yml (as declared, without a solve; with
`--pinned`, freshly solved for this machine), conda's explicit spec, pip requirements or
a Dockerfile (solved)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsp.context import Context
    from wsp.exporters import SolvedEnv

_FORMATS = ("environment-yml", "explicit", "requirements", "dockerfile")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        usage="wsp export (PROJECT | --all) [--format FORMAT] [--pinned] [-o PATH]",
    )
    p.add_argument("project", metavar="PROJECT", nargs="?", help="the project to export")
    from wsp.commands import add_json

    add_json(p)
    p.add_argument(
        "--format",
        "-f",
        choices=_FORMATS,
        default="environment-yml",
        help="what to write (default: environment-yml)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write to this file (with --all: this folder, default exports/) instead of stdout",
    )
    p.add_argument(
        "--all", action="store_true", help="export every project into a folder, one file each"
    )
    p.add_argument(
        "--allow-build",
        action="store_true",
        help="solved formats: let uv build local projects and sdists whose metadata is not "
        "static, to resolve their pip requirements (runs their setup.py or build backend)",
    )
    p.add_argument(
        "--pinned",
        action="store_true",
        help="environment-yml: the exact versions and builds a solve picks for this machine "
        "(default: the specs as declared, nothing solved); the other formats are always solved",
    )


def portable_channel(ctx: Context, name: str) -> str:
    """A declared channel as an export writes it: as declared, but a local path relative
    to the workspace (`./channel`) as its absolute `file://` URL: wsp reads it against the
    workspace root, conda against the folder it runs in."""
    from wsp.channels import is_local
    from wsp.graph import resolve_channel

    if not is_local(name) or name.startswith(("/", "~", "file:///")):
        return name
    return resolve_channel(ctx.ws, name).identity.rstrip("/")


def solve_env(ctx: Context, engine: Any, project: str, *, allow_build: bool = False) -> SolvedEnv:
    """One project solved afresh for this machine's platform."""
    from wsp.errors import WspError
    from wsp.exporters import SolvedEnv, pip_option_lines
    from wsp.graph import declaration
    from wsp.resolve import resolve

    want = ctx.desired[project]
    res = resolve(ctx, engine, [project], force=True, allow_build=allow_build)[project]
    if res.unreachable:
        raise WspError(
            f"can't export {project}: channel {res.unreachable} could not be reached",
            hint="export needs a solve; check the channel or its [workspace.mirrors] entry",
        )
    if res.pip is None and (want.pip or want.pip_sources):
        raise WspError(
            f"can't export {project}: " + "; ".join(res.notes),
            hint="`wsp export --allow-build` resolves them (it runs that code)",
        )
    return SolvedEnv(
        project=project,
        env_name=want.env_name,
        workspace=ctx.ws.name,
        platform=want.platform,
        channels=tuple(portable_channel(ctx, c.name) for c in want.channels),
        packages=tuple(res.packages or ()),
        pip=dict(res.pip or {}),
        pip_sources={n: pin.source for n, pin in res.pip_pins.items() if pin.source},
        pip_options=pip_option_lines(want.pip_options),
        env_vars=want.env_vars,
        nodefaults=declaration(ctx.ws, project).nodefaults,
    )


def run(args: argparse.Namespace, directory: Path) -> int:
    import sys

    from wsp import exporters, ui
    from wsp.commands import engine
    from wsp.context import load_context
    from wsp.errors import WspError
    from wsp.fsutil import atomic_write_text

    if args.all and args.project:
        raise WspError("give a PROJECT or --all, not both")
    if not args.all and not args.project:
        raise WspError("which project? give PROJECT, or --all to export every project")
    ctx = load_context(directory)
    if args.project and args.project not in ctx.ws.projects:
        raise ctx.unknown_project(args.project)
    declared_only = args.format == "environment-yml" and not args.pinned
    eng = None if declared_only else engine()

    warnings: list[str] = []

    def texts(name: str) -> dict[str, str]:
        """{file name: text} of project `name` in the format asked for. A credential
        written in a channel or index URL is left out, and said (an export is shared;
        conda and pip authenticate from their own settings); a `${VAR}` stays as written,
        for conda and pip to expand where the file is used."""
        if declared_only:
            from dataclasses import replace

            from wsp.graph import declaration

            decl = declaration(ctx.ws, name)
            decl = replace(decl, channels=tuple(portable_channel(ctx, c) for c in decl.channels))
            files = {
                decl.env_name + exporters.SUFFIX[args.format]: exporters.declared_environment_yml(
                    decl, ctx.ws.name
                )
            }
        else:
            env = solve_env(ctx, eng, name, allow_build=args.allow_build)
            files = exporters.render_all(env, args.format)
            if exporters.file_name(env, "explicit") in files:
                warnings.extend(exporters.explicit_warnings(env))
            if args.format == "explicit" and env.env_vars:  # (a Dockerfile sets them)
                warnings.append(
                    f"{exporters.file_name(env, 'explicit')}: the env's variables "
                    f"({', '.join(k for k, _ in env.env_vars)}) are not part of conda's "
                    "explicit format: its header says how to set them"
                )
            if args.format == "dockerfile":
                warnings.extend(exporters.dockerfile_warnings(env))
        out = {}
        for fname, text in files.items():
            out[fname], left_out = exporters.shareable(text)
            warnings.extend(
                f"{fname}: {line}: a credential written in this URL is left out of the "
                "export: conda or pip must take it from their own settings (or declare it "
                "as ${VAR}, which an export keeps)"
                for line in left_out
            )
        return out

    def warn() -> list[str]:
        """Each warning said once, on stderr; returned for --json."""
        said = list(dict.fromkeys(warnings))
        for message in said:
            ui.err().print(f"[yellow]warning:[/] {ui.esc(message)}")
        return said

    if args.all:
        folder = Path(args.output or "exports")
        if folder.exists() and not folder.is_dir():
            raise WspError(f"-o {folder}: not a folder; --all writes one file per project")
        files: dict[Path, str] = {}
        for name in ctx.ws.projects:
            for fname, text in texts(name).items():
                files[folder / fname] = text
        said = warn()
        for path, text in files.items():
            atomic_write_text(path, text)
        if args.json:
            ui.print_json(
                {
                    "format": args.format,
                    "written": [str(p.resolve()) for p in files],
                    "warnings": said,
                }
            )
            return 0
        ui.out().print(
            f"Exported {len(ctx.ws.projects)} project(s) as {args.format} "
            f"to {ui.esc(folder)}/ ({len(files)} file(s))"
        )
        for path in files:
            ui.out().print(f"  [dim]{ui.esc(path)}[/]")
        return 0

    written = texts(args.project)
    said = warn()
    main_name = next(iter(written))  # the format's own file first, then what it COPYs
    if args.output is None and args.json:
        import json

        # not ui.print_json: its mask would break a `${VAR}` the texts keep (they hold no
        # credential: `texts` left them out)
        doc = {
            "project": args.project,
            "format": args.format,
            "files": written,
            "warnings": said,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.stdout.flush()
        return 0
    if args.output is None:
        sys.stdout.write(written[main_name])
        sys.stdout.flush()
        return 0
    target = Path(args.output)
    if target.is_dir():
        raise WspError(f"-o {target}: is a folder; give a file name (or use --all)")
    main_text = written.pop(main_name)
    atomic_write_text(target, main_text)
    for fname, text in written.items():  # what the Dockerfile COPYs, beside it
        atomic_write_text(target.parent / fname, text)
    if args.json:
        paths = [target, *(target.parent / fname for fname in written)]
        ui.print_json(
            {
                "project": args.project,
                "format": args.format,
                "written": [str(p.resolve()) for p in paths],
                "warnings": said,
            }
        )
        return 0
    what = f"{args.format} (pinned)" if args.pinned else args.format
    ui.info(f"Exported {args.project} as {what} to {ui.esc(target)}")
    for fname in written:
        ui.info(f"  [dim]with {ui.esc(target.parent / fname)}[/]")
    return 0
