"""Every module of wsp sits in one of the import layers lint-imports checks (pyproject.toml)."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import wsp

ROOT = Path(__file__).resolve().parent.parent


def test_every_top_level_module_is_in_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    listed = {m.strip() for layer in layers for m in layer.split("|")}
    modules = {f"wsp.{m.name}" for m in pkgutil.iter_modules(wsp.__path__) if m.name != "__main__"}
    assert modules - listed == set(), "add these modules to a layer in pyproject.toml"
