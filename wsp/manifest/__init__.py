"""workspace.toml: reading, validating and (later) editing it."""

from wsp.manifest.loader import (
    MANIFEST_NAME,
    ProjectDecl,
    TemplateDecl,
    Workspace,
    find_manifest,
    load,
    normalize_python,
)

__all__ = [
    "MANIFEST_NAME",
    "ProjectDecl",
    "TemplateDecl",
    "Workspace",
    "find_manifest",
    "load",
    "normalize_python",
]
