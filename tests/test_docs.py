"""The docs move with the code: the schema file and one section per command."""

from __future__ import annotations

import json
import re
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


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_every_link_between_the_docs_resolves() -> None:
    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    anchors = {}
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        anchors[page.resolve()] = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page.resolve()
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors.get(dest, set()):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
