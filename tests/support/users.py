"""A second, unprivileged user of the machine, for what must hold on shared machines.

The tests run as root in CI. `other_user()` makes (once) a user with `useradd`, and a
group both it and root's files can share; `run_as` runs a command as that user (setuid in
the child, no shell, no sudo). Everything this user must reach has to be in folders it can
traverse: pytest's own temporary folders are private to root, so use `shared_tmp`.
The interpreter running the tests lives under /root (mode 0700) on these machines:
`system_python` finds one the user can run (the standard library only), and `wsp_python`
one that runs wsp itself, where there is one (`WSP_TEST_OTHER_USER_PYTHON` names it: e.g.
a venv of /usr/bin/python3 with wsp's dependencies installed).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

USER = "wsp-other"
GROUP = "wsp-shared"


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path
    shared_gid: int  # GROUP's id: the user is a member


def _ensure_group() -> int:
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True, capture_output=True)
        return grp.getgrnam(GROUP).gr_gid


def other_user() -> tuple[User | None, str]:
    """(the second user, "") or (None, why there is none)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None, "needs root to make a second user (useradd)"
    if not (shutil.which("useradd") and shutil.which("groupadd")):
        return None, "useradd/groupadd not found on this machine"
    try:
        gid = _ensure_group()
        try:
            pw = pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--create-home", "--groups", GROUP, "--shell", "/bin/sh", USER],
                check=True,
                capture_output=True,
            )
            pw = pwd.getpwnam(USER)
        if USER not in grp.getgrgid(gid).gr_mem:
            subprocess.run(["usermod", "-aG", GROUP, USER], check=True, capture_output=True)
    except (subprocess.CalledProcessError, KeyError, OSError) as exc:
        return None, f"could not make user {USER}: {exc}"
    return User(USER, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), gid), ""


def run_as(
    user: User,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    umask: int = 0o022,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` as `user` (its groups: its own and GROUP), with a plain environment."""
    base = {
        "HOME": str(user.home),
        "USER": user.name,
        "LOGNAME": user.name,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }
    base.update(env or {})

    def become() -> None:
        os.setgroups([user.gid, user.shared_gid])
        os.setgid(user.gid)
        os.setuid(user.uid)
        os.umask(umask)

    return subprocess.run(
        list(argv),
        env=base,
        cwd=str(cwd or user.home),
        preexec_fn=become,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def system_python(user: User) -> str | None:
    """A Python 3 the user can run (the standard library only), or None."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate):
            r = run_as(user, [candidate, "-c", "print('ok')"])
            if r.returncode == 0 and r.stdout.strip() == "ok":
                return candidate
    return None


def wsp_python(user: User, repo: Path) -> str | None:
    """A Python the user can run this checkout's wsp with (its dependencies importable):
    the one `WSP_TEST_OTHER_USER_PYTHON` names, else the tests' own; None when neither can
    (an interpreter or site-packages under a private home, as /root/.pyenv here). Run it
    with `wsp_env_for` as the environment."""
    import sys

    for candidate in (os.environ.get("WSP_TEST_OTHER_USER_PYTHON"), sys.executable):
        if not candidate:
            continue
        try:
            r = run_as(
                user,
                [candidate, "-c", "import wsp.cli, tomlkit, rattler, pydantic"],
                env=wsp_env_for(repo),
            )
        except OSError:
            continue
        if r.returncode == 0:
            return candidate
    return None


def wsp_env_for(repo: Path, **extra: str) -> dict[str, str]:
    """The environment of a `python -m wsp` run as the second user: this checkout first on
    the path, no bytecode written into it, no conda found, plain wide output."""
    return {
        "PYTHONPATH": str(repo),
        "PYTHONDONTWRITEBYTECODE": "1",
        "WSP_CONDA_ROOT": "/nonexistent/conda",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **extra,
    }


def shared_tmp(prefix: str = "wsp-shared-") -> Path:
    """A new folder under the system temp dir that every user can traverse (0755)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path
