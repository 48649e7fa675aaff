"""`wsp schema`: the JSON Schema of workspace.toml, from the pydantic models."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    sub.add_parser("schema")


def run(args: argparse.Namespace, directory: Path) -> int:
    from wsp import ui
    from wsp.errors import ExitCode
    from wsp.manifest.models import json_schema

    ui.print_json(json_schema())
    return ExitCode.OK
