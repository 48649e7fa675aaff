"""`wsp export` writes what conda and `wsp import --file` can use (sweep A, items 2, 3b, 6
and 9.4): a channel or pip line keeps its `${VAR}` as written, a credential written in a URL
is left out and said, variables and `nodefaults` survive `--pinned` and the Dockerfile,
host-only paths in a Dockerfile are said, and a Python build pin is written once.

A real local channel served over HTTP behind conda's `/t/<token>/`
(tests/support/authserver.py) and the real CLI in subprocesses.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.authserver import PASSWORD, SECRETS, TOKEN, USER, serve
from tests.support.cli import Workspace

TOML = """\
[workspace]
name = "fidelity"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.p]
path = "p"
environment-file = "environment.yml"
"""

ENV_FILE = """\
name: p
channels:
  - {base}/t/${TOKEN}/
  - nodefaults
dependencies:
  - python=3.12
  - six
"""


def read_yaml(text: str) -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(text)


@pytest.fixture
def token_channel(channel: Path) -> Iterator[str]:
    """The session channel served behind conda's token: its URL without the token."""
    with serve(channel, token=True) as base:
        yield base


def project(make: Callable[..., Workspace], env_file: str, base: str) -> Workspace:
    ws = make(TOML)
    (ws.root / "p").mkdir()
    (ws.root / "p" / "environment.yml").write_text(env_file.replace("{base}", base))
    return ws


def test_a_channel_keeps_its_variable_in_both_environment_yml_exports(
    make_workspace: Callable[..., Workspace], token_channel: str
) -> None:
    ws = project(make_workspace, ENV_FILE, token_channel)
    declared = f"{token_channel}/t/${{TOKEN}}/"
    for args in (("export", "p"), ("export", "p", "--pinned")):
        r = ws.wsp(*args, "-o", "p.yml", TOKEN=TOKEN)
        assert r.code == 0, r
        text = (ws.root / "p.yml").read_text()
        assert read_yaml(text)["channels"][0] == declared, text
        assert "*" not in text and TOKEN not in text
        assert "warning" not in r.stderr, r
    r = ws.wsp("export", "p", "--json", TOKEN=TOKEN)  # the JSON document too
    assert r.code == 0, r
    assert read_yaml(r.json["files"]["p.environment.yml"])["channels"][0] == declared

    # `wsp import --file` takes it back as declared: the same channel, fetched with the token
    again = make_workspace(TOML.split("[projects.p]")[0], name="again")
    (again.root / "p.yml").write_bytes((ws.root / "p.yml").read_bytes())
    r = again.wsp("import", "--file", "p.yml", "--as", "q", TOKEN=TOKEN)
    assert r.code == 0, r
    assert f'"{declared}"' in again.manifest.read_text()
    r = again.wsp("plan", "--json", TOKEN=TOKEN)
    assert r.code == 0, r
    [action] = r.json["actions"]
    assert {p["name"] for p in action["packages"]["add"]} >= {"python", "six"}, r


PIP_FILE = """\
name: p
channels:
  - {base}/t/{token}/
dependencies:
  - python=3.12
  - pip:
    - --index-url https://{user}:{password}@pypi.example/simple
    - --extra-index-url https://{user}:${{PIPPASS}}@extra.example/simple
    - six
"""


def test_a_credential_written_in_a_url_is_left_out_of_the_export_and_said(
    make_workspace: Callable[..., Workspace],
) -> None:
    env_file = PIP_FILE.format(base="http://127.0.0.1:9", token=TOKEN, user=USER, password=PASSWORD)
    ws = project(make_workspace, env_file, "")
    r = ws.wsp("export", "p", "-o", "p.yml")
    assert r.code == 0, r
    text = (ws.root / "p.yml").read_text()
    assert not [s for s in SECRETS if s in text + r.stdout + r.stderr], text + r.stderr
    data = read_yaml(text)
    assert data["channels"] == ["http://127.0.0.1:9/", "conda-forge"]  # a valid URL, no mask
    assert "*" not in text
    assert data["dependencies"][-1]["pip"] == [
        "--index-url https://pypi.example/simple",
        # a line wsp doesn't use (WSP303) is written as declared: conda's pip expands it
        f"--extra-index-url https://{USER}:${{PIPPASS}}@extra.example/simple",
        "six",
    ]
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 2, r.stderr
    assert "p.environment.yml: http://127.0.0.1:9/: a credential" in warnings[0]
    assert "--index-url https://pypi.example/simple: a credential" in warnings[1]
    assert all("left out of the export" in w for w in warnings)


@pytest.mark.skipif(shutil.which("conda") is None, reason="conda is not installed here")
def test_conda_creates_the_env_from_the_export_with_the_token_in_a_variable(
    make_workspace: Callable[..., Workspace], token_channel: str
) -> None:  # pragma: no cover - needs conda
    # (no `nodefaults`: conda 26.7's `env create` fetches it as a channel of its alias)
    ws = project(make_workspace, ENV_FILE.replace("  - nodefaults\n", ""), token_channel)
    ws.write(TOML.replace('channels = ["conda-forge"]', "channels = []"))
    for args in (("export", "p"), ("export", "p", "--pinned")):
        r = ws.wsp(*args, "-o", "p.yml", TOKEN=TOKEN)
        assert r.code == 0, r
        proc = subprocess.run(
            ["conda", "env", "create", "--dry-run", "--json", "-n", "x", "-f", "p.yml"],
            cwd=ws.root,
            capture_output=True,
            text=True,
            env={**os.environ, "TOKEN": TOKEN, "CONDA_OFFLINE": "false"},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "six" in proc.stdout, proc.stdout


def test_an_explicit_spec_says_its_urls_lack_the_channel_token(
    make_workspace: Callable[..., Workspace], token_channel: str
) -> None:
    ws = project(make_workspace, ENV_FILE, token_channel)
    r = ws.wsp("export", "p", "--format", "explicit", TOKEN=TOKEN)
    assert r.code == 0, r
    urls = [ln for ln in r.stdout.splitlines() if "://" in ln]
    assert urls and all(u.startswith(f"{token_channel}/") for u in urls), r.stdout
    assert TOKEN not in r.stdout + r.stderr
    [warning] = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert f"p.explicit.txt: the package URLs of channel {token_channel}/t/" in warning
    assert "without its credential" in warning


def test_a_python_build_pin_is_written_once(make_workspace: Callable[..., Workspace]) -> None:
    env_file = "name: p\ndependencies:\n  - python=3.12.4=0\n  - six\n"
    ws = project(make_workspace, env_file, "")
    r = ws.wsp("export", "p")
    assert r.code == 0, r
    assert read_yaml(r.stdout)["dependencies"] == ["python=3.12.4=0", "six"]
    # a constraint of its own (workspace.toml) is still written beside the build pin
    ws.edit('path = "p"', 'path = "p"\npython = "3.12"')
    r = ws.wsp("export", "p")
    assert r.code == 0, r
    deps = read_yaml(r.stdout)["dependencies"]
    assert "python=3.12.4=0" in deps and len([d for d in deps if d.startswith("python")]) == 2


VARS_FILE = """\
name: p
channels: [conda-forge, nodefaults]
dependencies: [python=3.12, six]
variables:
  OMP_NUM_THREADS: 4
  GREETING: hello world
  QUOTE: 'say "hi" to $HOME \\ ${USER} now'
"""
VARS = {
    "OMP_NUM_THREADS": "4",
    "GREETING": "hello world",
    "QUOTE": 'say "hi" to $HOME \\ ${USER} now',
}


def docker_env(text: str) -> dict[str, str]:
    """The ENV lines of a Dockerfile as Docker reads `ENV KEY="VALUE"`: in double quotes,
    a backslash escapes a backslash, `"` or `$` (other backslashes are literal), an
    unescaped `"` ends the value and an unescaped `$` expands a variable."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("ENV "):
            continue
        key, _, quoted = line.removeprefix("ENV ").partition("=")
        assert quoted.startswith('"') and quoted.endswith('"'), line
        body, value, i = quoted[1:-1], "", 0
        while i < len(body):
            if body[i] == "\\" and body[i + 1 : i + 2] in ("\\", '"', "$"):
                value += body[i + 1]
                i += 2
                continue
            assert body[i] not in '"$', line
            value += body[i]
            i += 1
        out[key] = value
    return out


def test_pinned_and_dockerfile_exports_keep_the_variables_and_nodefaults(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = project(make_workspace, VARS_FILE, "")
    ws.edit(
        'environment-file = "environment.yml"',
        'environment-file = "environment.yml"\nenv-vars = { MULTI = "two\\nlines" }',
    )
    r = ws.wsp("export", "p", "--pinned")
    assert r.code == 0, r
    data = read_yaml(r.stdout)
    assert data["channels"] == ["conda-forge", "nodefaults"]
    assert data["variables"] == {**VARS, "MULTI": "two\nlines"}

    r = ws.wsp("export", "p", "--format", "dockerfile", "-o", "d/Dockerfile")
    assert r.code == 0, r
    text = (ws.root / "d" / "Dockerfile").read_text()
    assert docker_env(text) == VARS, text  # set for every process of the container
    assert text.index("ENV ") > text.index("RUN conda create")  # not during the build
    [warning] = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert "p.Dockerfile: variable MULTI is not set in the image" in warning

    # conda's explicit format holds no variables: its header gives the command that sets
    # them, and a warning says so (before: dropped without a word)
    r = ws.wsp("export", "p", "--format", "explicit")
    assert r.code == 0, r
    assert "p.explicit.txt: the env's variables (OMP_NUM_THREADS, GREETING, QUOTE, MULTI)" in (
        r.stderr
    )
    [line] = [ln for ln in r.stdout.splitlines() if ln.startswith("# variables are not")]
    command, _, rest = line.partition(": ")[2].partition("; ")
    words = shlex.split(command)
    assert words[:6] == ["conda", "env", "config", "vars", "set", "-n"], words
    assert dict(w.split("=", 1) for w in words[7:]) == VARS
    assert rest == "and MULTI (spanning lines)"


def test_a_dockerfile_says_which_of_its_lines_name_this_machine(
    make_workspace: Callable[..., Workspace], runnable_channel: Path
) -> None:
    import sys

    from tests.support.wheels import write_project

    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    ws = make_workspace(
        TOML.replace('channels = ["conda-forge"]', 'channels = ["{channel}"]')
        .replace('"conda-forge" = ["{channel}"]', "")
        .replace('path = "p"', f'path = "p"\npython = "{py}"'),
        chan=runnable_channel,
    )
    write_project(ws.root / "p" / "lib", "applib", "0.3.0")
    (ws.root / "p" / "environment.yml").write_text(
        "name: p\ndependencies:\n  - six\n  - pip:\n    - -e ./lib\n"
    )
    r = ws.wsp("export", "p", "--format", "dockerfile", "-o", "d/Dockerfile")
    assert r.code == 0, r
    lib = (ws.root / "p" / "lib").resolve().as_uri()
    assert f"-e {lib}" in (ws.root / "d" / "p.requirements.txt").read_text()
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 2, r.stderr
    assert warnings[0].startswith(
        f"warning: p.explicit.txt: 3 package URL(s) of local channel {runnable_channel.as_uri()}: "
        "a path on this machine, not in the image"
    ), warnings
    assert warnings[1].startswith(
        f"warning: p.requirements.txt: -e {lib}: a path on this machine, not in the image"
    ), warnings


def test_a_dockerfile_from_another_platform_says_its_local_channels() -> None:
    from wsp.exporters import SolvedEnv, dockerfile_warnings

    env = SolvedEnv(
        project="p",
        env_name="p",
        workspace="w",
        platform="osx-arm64",  # its Dockerfile COPYs an environment.yml, not an explicit spec
        channels=("/srv/local-chan", "conda-forge"),
        packages=(),
        pip={"tinylib": "1.0.0", "applib": "0.3.0"},
        pip_sources={"applib": "applib @ file:///srv/dist/applib-0.3.0-py3-none-any.whl"},
    )
    assert dockerfile_warnings(env) == [
        "p.environment.yml: channel /srv/local-chan: a path on this machine, not in the "
        "image: `docker build` fails there; serve the channel, or COPY it into the image and "
        "name it there",
        "p.requirements.txt: applib @ file:///srv/dist/applib-0.3.0-py3-none-any.whl: a path "
        "on this machine, not in the image: `docker build` fails there; COPY it into the image "
        "and change the line, or install it from an index",
    ]


@pytest.mark.skipif(shutil.which("conda") is None, reason="conda is not installed here")
def test_conda_sets_the_variables_of_a_pinned_export(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:  # pragma: no cover - needs conda
    from tests.support.cli import mirrored_condarc

    # (no `nodefaults`: conda 26.7's `env create` fetches it as a channel of its alias)
    ws = project(make_workspace, VARS_FILE.replace(", nodefaults", ""), "")
    r = ws.wsp("export", "p", "--pinned", "-o", "p.yml")
    assert r.code == 0, r
    env = {**os.environ, **mirrored_condarc(ws), "CONDA_PKGS_DIRS": str(tmp_path / "pkgs")}
    prefix = tmp_path / "from-pinned"
    for args in (
        ["env", "create", "--json", "-p", str(prefix), "-f", "p.yml"],
        ["env", "config", "vars", "list", "--json", "-p", str(prefix)],
    ):
        proc = subprocess.run(
            ["conda", *args], cwd=ws.root, capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    assert json.loads(proc.stdout) == VARS
