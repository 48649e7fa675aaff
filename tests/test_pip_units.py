"""The pip layer's pure parts (wsp/pip.py): static metadata, what uv is handed, the wheel a
lock picks, how a lock's pins install, and the lock check. No uv, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.wheels import write_project
from wsp import exporters, pip
from wsp.graph import DesiredEnv


def test_static_metadata_is_read_and_dynamic_metadata_said(tmp_path: Path) -> None:
    static = write_project(
        tmp_path / "a",
        "Pkg_A",
        "1.2",
        ("tinylib>=1",),
        optional={"x": ("six", "pkg-a[y]"), "y": ("click",)},
    )
    meta = pip.project_metadata(static)
    assert isinstance(meta, pip.ProjectMeta)
    assert (meta.name, meta.version) == ("pkg-a", "1.2")
    assert meta.requirements(["x"]) == ["tinylib>=1", "six", "click"]  # self-extras followed
    dynver = pip.project_metadata(write_project(tmp_path / "b", "b", dynamic=("version",)))
    assert isinstance(dynver, pip.ProjectMeta) and dynver.version is None
    dyndeps = pip.project_metadata(write_project(tmp_path / "c", "c", dynamic=("dependencies",)))
    assert isinstance(dyndeps, pip.ProjectMeta) and dyndeps.requirements([]) is None
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "setup.py").write_text("raise SystemExit\n")
    assert "setup.py" in str(pip.project_metadata(tmp_path / "d"))
    (tmp_path / "e").mkdir()
    assert "not a Python project" in str(pip.project_metadata(tmp_path / "e"))


@pytest.mark.parametrize(
    "text",
    [
        "tinylib @ https://example.org/${TOKEN}/x.whl",  # uv would expand it
        "-r secret.txt",
        "--index-url https://evil.example/simple",
        "tinylib\n-r secret.txt",
        "tinylib @ ssh://example.org/x.whl",
    ],
)
def test_only_one_checked_requirement_reaches_uv(text: str) -> None:
    with pytest.raises(pip.PipError):
        pip.parse_requirement(text)


def test_requirements_are_rendered_again_and_paths_become_file_urls(tmp_path: Path) -> None:
    assert pip._requirement_line("Foo_Bar [x] >=1 ; python_version>'3'") == (
        'Foo_Bar[x]>=1; python_version > "3"'
    )
    folder = tmp_path / "a dir#1"
    source = pip.PipSource(str(folder), editable=True, text="-e ./a dir#1")
    assert pip._source_line(source) == f"-e {folder.as_uri()}"
    assert "%23" in pip._source_line(source)  # `#` would start a comment
    url = pip.PipSource("git+https://h/r@v1", name="r")
    assert pip._source_line(url) == "r @ git+https://h/r@v1"


def test_the_wheel_that_fits_the_platform_and_python_is_picked() -> None:
    wheels = [
        {"url": "https://x/cn-3.5-cp37-abi3-manylinux_2_28_x86_64.whl"},
        {"url": "https://x/cn-3.5-py3-none-any.whl"},
        {"url": "https://x/cn-3.5-cp311-cp311-manylinux_2_28_x86_64.whl"},
    ]
    assert "cp311-cp311" in pip._best_wheel(wheels, "3.11.4", "linux-64")["url"]
    assert "abi3" in pip._best_wheel(wheels, "3.12.1", "linux-64")["url"]
    mac = [
        {"url": "https://x/np-2.1-cp311-cp311-macosx_11_0_arm64.whl"},
        {"url": "https://x/np-2.1-cp311-cp311-macosx_14_0_arm64.whl"},
    ]
    assert "macosx_14_0" in pip._best_wheel(mac, "3.11", "osx-arm64")["url"]


def desired(
    tmp_path: Path, pip_: tuple[str, ...], sources: tuple[pip.PipSource, ...]
) -> DesiredEnv:
    return DesiredEnv(
        project="p",
        env_name="p",
        prefix=tmp_path / "env",
        python="3.11.*",
        specs=("python 3.11.*",),
        pip=pip_,
        channels=(),
        channel_priority="strict",
        platform="linux-64",
        spec_hash="",
        pip_sources=sources,
    )


def test_a_locks_pins_install_from_the_source_the_declaration_names(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    want = desired(
        tmp_path,
        ("urlwheel @ https://u:tok@files.example/urlwheel-1.0-py3-none-any.whl",),
        (
            pip.PipSource(str(lib), editable=True, text="-e ./lib"),
            pip.PipSource("git+https://u:tok@git.example/repo@main", text="git+..."),
        ),
    )
    locked = {
        "tinylib": pip.Pin("1.0.0", "https://files.example/tinylib-1.0.0-py3-none-any.whl", "ab"),
        "applib": pip.Pin(pip.LOCKED_UNKNOWN, str(lib)),
        "urlwheel": pip.Pin("1.0", "https://files.example/urlwheel-1.0-py3-none-any.whl", "cd"),
        "repo": pip.Pin("0.1", "git+https://git.example/repo@abc123"),
    }
    pins = pip.from_lock(want, locked)
    assert pins["tinylib"].source is None and pins["tinylib"].sha256 == "ab"  # the index
    assert pins["applib"] == pip.Pin(pip.UNKNOWN, str(lib), None, f"-e {lib.as_uri()}", True)
    # the declaration's credentials fetch it; the lock never had them
    assert pins["urlwheel"].source == (
        "urlwheel @ https://u:tok@files.example/urlwheel-1.0-py3-none-any.whl"
    )
    assert pins["repo"].source == "repo @ git+https://u:tok@git.example/repo@abc123"
    # an export writes it through exporters.shareable: the credential left out, and said
    line, left_out = exporters.shareable(pins["repo"].source)
    assert line == left_out[0] == "repo @ git+https://git.example/repo@abc123"
    kept = "repo @ git+https://u:${TOKEN}@git.example/repo@abc123"  # conda's pip expands it
    assert exporters.shareable(kept) == (kept, [])


def test_locked_versions_are_checked_against_each_requirement() -> None:
    broken = pip.unsatisfied(
        [
            "tinylib==1.1.0",
            "six>=1",  # conda provides it
            "winonly ; sys_platform == 'win32'",  # not on linux
            "missing",
            "pre>=2.0.0rc1",
        ],
        {"tinylib": "1.0.0", "pre": "2.0.0rc2"},
        {"six"},
        platform="linux-64",
        python_version="3.11.4",
    )
    assert broken == [
        ("tinylib==1.1.0", "tinylib 1.0.0 is locked"),
        ("missing", "no missing is locked"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "x @ git+https://h/r@abc --index-url=https://evil.example/simple",
        "x==1.0 -r /etc/passwd",
        "-e file:///a b",
        "-e ../relative",
        "x @ https://h/x.whl\n-r secret.txt",
    ],
)
def test_an_install_line_from_a_lock_is_one_requirement(line: str) -> None:
    with pytest.raises(pip.PipError):
        pip._check_install_line(line)
    for good in ("x==1.0 --hash=sha256:ab", "-e file:///a%20b", "x @ git+https://h/r@abc"):
        pip._check_install_line(good)


def test_a_python_package_without_an_interpreter_is_named_not_called_undeclared(
    tmp_path: Path,
) -> None:
    """python declared and installed, but its build has no bin/python (a stub package, as
    the docs' fixture channel has): the error says so instead of "declare python"."""
    prefix = tmp_path / "webdev"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "python-3.12.4-0.json").write_text("{}")
    with pytest.raises(pip.PipError) as info:
        pip.install(prefix, {"six": "1.17.0"}, pip.PipOptions(), "webdev")
    message = str(info.value)
    assert "declare python" not in message, message
    assert "its conda package python 3.12.4 (0) is installed" in message, message
    (prefix / "conda-meta" / "python-3.12.4-0.json").unlink()
    with pytest.raises(pip.PipError, match="declare python for its pip requirements"):
        pip.install(prefix, {"six": "1.17.0"}, pip.PipOptions(), "webdev")
