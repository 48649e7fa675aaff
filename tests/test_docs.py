"""The docs move with the code: the schema file and one section per command."""

from __future__ import annotations

import json
from pathlib import Path

from wsp.commands import COMMANDS
from wsp.manifest.models import json_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_schema_file_is_what_wsp_schema_prints() -> None:
    assert json.loads((DOCS / "workspace.schema.json").read_text()) == json_schema()


def test_every_command_has_a_section_in_commands_md() -> None:
    text = (DOCS / "commands.md").read_text()
    headings = [ln for ln in text.splitlines() if ln.startswith("## ")]
    missing = [c for c in COMMANDS if not any(f"wsp {c}" in h for h in headings)]
    assert not missing, f"docs/commands.md has no section for: {missing}"
