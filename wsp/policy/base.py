"""WSP2xx: conda's base env stays clean and out of the way."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from wsp.condarc import NEW_KEY, OLD_KEY, reads_new_key, user_condarc
from wsp.policy import Issue, q, rule

if TYPE_CHECKING:
    from wsp.policy.facts import Facts


@rule(
    "WSP201",
    "warn",
    "base does not activate itself",
    "With base active in every shell, `pip install` and `conda install` typed in a new "
    "terminal land in base, and tools silently pick base's Python instead of the project's. "
    "A warning by default: it is the machine's setting, not the workspace's "
    '(set WSP201 = "error" to make apply insist).',
    fixable=True,
)
def auto_activate(facts: Facts) -> Iterator[Issue]:
    if facts.ws.policy.base.auto_activate:
        return  # the workspace allows it: [policy.base] auto-activate = true
    if facts.base_or_note() is None:
        return
    setting = facts.auto_activate
    if not setting.value:
        return
    if setting.env_var is not None:
        yield Issue(
            f"conda activates its base env in every new shell: {setting.source} says so",
            f"remove {setting.env_var} from your shell's environment",
            scope="base",
        )
        return
    keys = OLD_KEY if reads_new_key(facts.conda_version) is False else f"{OLD_KEY}/{NEW_KEY}"
    target = setting.path if setting.path is not None else user_condarc()
    yield Issue(
        f"conda activates its base env in every new shell: {setting.source}",
        f"run `wsp check --fix` to set {keys}: false in {target}",
        scope="base",
        fixable=True,
    )


# -- what the user installed into base ------------------------------------------------------

_BLOCK = re.compile(r"^==>\s*(.*?)\s*<==$")
_VALUE_OPTIONS = {
    "-c",
    "--channel",
    "-n",
    "--name",
    "-p",
    "--prefix",
    "--file",
    "--override-channels",
}


def spec_name(spec: str) -> str | None:
    """The package name of a conda match spec: `conda-forge/linux-64::numpy==1.26.4=py_0` -> numpy."""
    body = spec.strip().strip("'\"").split("::", 1)[-1].strip()
    m = re.match(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", body)
    return m.group(0).lower() if m else None


def _spec_list(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return re.findall(r"""['"]([^'"]+)['"]""", text)
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _cmd_specs(cmd: str) -> list[str]:
    """Specs named on an old conda command line (`conda install numpy scipy`)."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = cmd.split()
    for i, word in enumerate(words):
        if word in ("install", "update", "upgrade", "create"):
            specs, skip = [], False
            for w in words[i + 1 :]:
                if skip:
                    skip = False
                elif w in _VALUE_OPTIONS:
                    skip = True
                elif not w.startswith("-"):
                    specs.append(w)
            return specs
    return []


def requested(history: str) -> dict[str, str]:
    """name -> spec of what the user asked conda to install, replaying conda-meta/history.

    As `conda env export --from-history` does: `# update specs` add, `# remove specs`
    remove. The installer's own block (`# cmd: constructor ...`, or a block with no
    command) is not the user's doing and is left out.
    """
    wanted: dict[str, str] = {}
    blocks: list[dict[str, object]] = []
    for raw in history.splitlines():
        line = raw.strip()
        if _BLOCK.match(line):
            blocks.append({"cmd": None, "update": [], "remove": []})
            continue
        if not blocks:
            blocks.append({"cmd": None, "update": [], "remove": []})
        block = blocks[-1]
        if line.startswith("# cmd:"):
            block["cmd"] = line[len("# cmd:") :].strip()
        elif line.startswith("# update specs:"):
            block["update"] += _spec_list(line.split(":", 1)[1])  # type: ignore[operator]
        elif line.startswith("# remove specs:"):
            block["remove"] += _spec_list(line.split(":", 1)[1])  # type: ignore[operator]
    for block in blocks:
        cmd = block["cmd"]
        installer = cmd is None or "constructor" in str(cmd)
        update = list(block["update"])  # type: ignore[call-overload]
        if not update and cmd and not block["remove"]:
            update = _cmd_specs(str(cmd))
        if not installer:
            for spec in update:
                if (name := spec_name(spec)) is not None:
                    wanted[name] = spec
        for spec in block["remove"]:  # type: ignore[attr-defined]
            if (name := spec_name(spec)) is not None:
                wanted.pop(name, None)
    return wanted


@rule(
    "WSP202",
    "warn",
    "nothing installed in base beyond policy.base.allowed",
    "Packages added to base can break conda itself on its next update, and envs that "
    "borrow them from base can't be rebuilt elsewhere; they belong in a project's env.",
)
def extra_packages(facts: Facts) -> Iterator[Issue]:
    root = facts.base_or_note()
    if root is None:
        return
    try:
        history = (root / "conda-meta" / "history").read_text(encoding="utf-8", errors="replace")
    except OSError:
        history = ""
    allowed = {n.lower() for n in facts.ws.policy.base.allowed}
    extra = sorted(
        name for name in requested(history) if name in facts.base_dists and name not in allowed
    )
    if not extra:
        return
    command = f"conda remove --name base {' '.join(extra)}"
    yield Issue(
        f"packages installed into base beyond policy.base.allowed: {', '.join(extra)}",
        f"move them into a project's dependencies, then run `{command}` "
        "(wsp never removes packages from base), or add them to policy.base.allowed",
        scope="base",
        command=command,
    )


def _site_packages(root: Path) -> list[Path]:
    found = sorted(root.glob("lib/python*/site-packages"))
    if (root / "Lib" / "site-packages").is_dir():
        found.append(root / "Lib" / "site-packages")
    return [p for p in found if p.is_dir()]


def _conda_files(root: Path) -> set[str]:
    files: set[str] = set()
    for record in (root / "conda-meta").glob("*.json"):
        try:
            files.update(json.loads(record.read_text(encoding="utf-8")).get("files") or ())
        except (OSError, ValueError, AttributeError):
            continue
    return files


def _dist_name(dist_info: Path) -> str:
    try:
        for line in (dist_info / "METADATA").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("name:"):
                return line.split(":", 1)[1].strip()
            if not line.strip():
                break
    except (OSError, UnicodeDecodeError):
        pass
    return dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0]


@rule(
    "WSP203",
    "warn",
    "no pip packages in base",
    "pip does not know conda's packages: what it installs into base can replace files conda "
    "owns, and conda can neither update nor remove it.",
)
def pip_in_base(facts: Facts) -> Iterator[Issue]:
    root = facts.base_or_note()
    if root is None:
        return
    candidates: list[Path] = []
    for sp in _site_packages(root):
        for dist_info in sorted(sp.glob("*.dist-info")):
            try:
                installer = (dist_info / "INSTALLER").read_text(encoding="utf-8").strip().lower()
            except (OSError, UnicodeDecodeError):
                installer = ""
            if installer != "conda":
                candidates.append(dist_info)
    if not candidates:
        return
    owned = _conda_files(root)
    names = sorted(
        {
            _dist_name(d)
            for d in candidates
            if not any(
                Path(os.path.relpath(d / leaf, root)).as_posix() in owned
                for leaf in ("METADATA", "RECORD", "INSTALLER")
            )
        },
        key=str.lower,
    )
    if not names:
        return
    python = root / ("python.exe" if os.name == "nt" else "bin/python")
    command = f"{python} -m pip uninstall {' '.join(names)}"
    yield Issue(
        f"packages installed into base by pip, not conda: {', '.join(names)}",
        f"move them into a project's pip list, then run `{command}` "
        "(wsp never removes packages from base)",
        scope="base",
        command=command,
    )


@rule(
    "WSP204",
    "error",
    "wsp never installs into base",
    "base holds conda itself: an env that is base (or lies inside base's folder) would be "
    "rewritten by every apply. This rule can't be turned off.",
    locked=True,
)
def env_in_base(facts: Facts) -> Iterator[Issue]:
    root = facts.conda_root
    if root is None:
        return
    root = root.resolve()
    envs = root / "envs"
    for name, want in facts.ctx.desired.items():
        prefix = want.prefix.resolve()
        if prefix == root:
            where = "which is conda's base env"
        elif prefix == envs:  # conda's own envs folder, inside base: never an env
            where = "which is conda's envs folder, inside conda's base env"
        elif root in prefix.parents and envs not in prefix.parents:
            where = "inside conda's base env"
        else:
            continue
        yield Issue(
            f"env {q(want.env_name)} would be at {prefix}, {where}",
            "set [workspace] envs-dir to a folder outside the conda installation "
            f"(or leave it out to use {envs})",
            project=name,
            env=want.env_name,
        )
