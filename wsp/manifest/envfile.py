"""Reading an existing conda environment.yml (ruamel.yaml) into specs wsp merges."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wsp.errors import ManifestError


@dataclass(frozen=True)
class EnvFile:
    """What an environment.yml contributes to a project."""

    path: Path
    name: str | None = None
    channels: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    raw: bytes = field(default=b"", repr=False)


def read_env_file(path: Path) -> EnvFile:
    """Parse `path`; errors are ManifestErrors located in that file."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(path, line, 1, "file is not valid UTF-8; save it as UTF-8") from None
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ManifestError(path, line, col, f"invalid YAML: {exc.problem or exc}") from None
    except ReaderError as exc:  # a character YAML does not allow: at its offset in `text`
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise ManifestError(
            path, line, col, f"invalid YAML: character {char} is not allowed ({exc.reason})"
        ) from None
    except YAMLError as exc:
        message = " ".join(str(exc).split())
        raise ManifestError(path, 1, 1, f"invalid YAML: {message}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ManifestError(path, 1, 1, "an environment file must be a mapping with dependencies")

    def where(node: object, key: object) -> tuple[int, int]:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(key, int):
                line, col = lc.item(key)
            else:
                line, col = lc.key(key)
            return line + 1, col + 1
        except Exception:
            return 1, 1

    def strings(node: object, key: str) -> list[str]:
        if node is None:
            return []
        if not isinstance(node, list):
            raise ManifestError(path, *where(data, key), f"'{key}' must be a list")
        out = []
        for i, item in enumerate(node):
            if not isinstance(item, str):
                raise ManifestError(path, *where(node, i), f"'{key}' entries must be strings")
            out.append(item)
        return out

    channels = strings(data.get("channels"), "channels")
    deps: list[str] = []
    pip: list[str] = []
    raw_deps = data.get("dependencies") or []
    if not isinstance(raw_deps, list):
        raise ManifestError(path, *where(data, "dependencies"), "'dependencies' must be a list")
    for i, item in enumerate(raw_deps):
        if isinstance(item, str):
            deps.append(item)
        elif isinstance(item, dict) and set(item) == {"pip"}:
            pip.extend(strings(item["pip"], "pip"))
        else:
            raise ManifestError(
                path,
                *where(raw_deps, i),
                "dependencies entries must be match specs or a 'pip:' list",
            )
    name = data.get("name")
    return EnvFile(
        path=path,
        name=str(name) if name is not None else None,
        channels=tuple(channels),
        dependencies=tuple(deps),
        pip=tuple(pip),
        raw=raw,
    )
