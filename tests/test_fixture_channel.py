"""Prove the synthetic test channel is a real, solvable, installable conda channel."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import rattler
from rattler.exceptions import SolverError

from tests.support.channel import (
    PREFIX_PLACEHOLDER,
    SEED_PACKAGES,
    Pkg,
    add_packages,
    current_platform,
    other_platform,
    run_async,
)


def solve(channel: Path, specs: Sequence[str]) -> dict[str, rattler.RepoDataRecord]:
    records = run_async(
        rattler.solve(
            [rattler.Channel(str(channel))],
            list(specs),
            platforms=[current_platform(), "noarch"],
            virtual_packages=[],
        )
    )
    return {r.name.normalized: r for r in records}


def versions(records: dict[str, rattler.RepoDataRecord]) -> dict[str, str]:
    return {name: str(r.version) for name, r in records.items()}


def test_repodata_lists_every_seed_package_with_sha256(channel: Path) -> None:
    subdirs = {current_platform(), other_platform(), "noarch"}
    assert {p.name for p in channel.iterdir()} == subdirs
    listed: dict[str, dict] = {}
    for subdir in subdirs:
        repodata = json.loads((channel / subdir / "repodata.json").read_text())
        assert repodata["info"]["subdir"] == subdir
        for fn, rec in repodata["packages"].items():
            assert (channel / subdir / fn).is_file()
            assert len(rec["sha256"]) == 64
            assert rec["subdir"] == subdir
            listed[f"{subdir}/{fn}"] = rec
    for pkg in SEED_PACKAGES:
        targets = ["noarch"] if pkg.noarch else [current_platform(), other_platform()]
        for subdir in targets:
            rec = listed[f"{subdir}/{pkg.filename}"]
            assert (rec["name"], rec["version"], rec["build"]) == (pkg.name, pkg.version, pkg.build)
            assert rec["depends"] == list(pkg.depends)
            if pkg.noarch:
                assert rec["noarch"] == pkg.noarch


def test_every_dependency_exists_in_channel() -> None:
    names = {p.name for p in SEED_PACKAGES}
    for pkg in SEED_PACKAGES:
        for dep in pkg.depends:
            assert dep.split()[0] in names, (pkg.name, dep)


def test_solve_finance_on_python_39_picks_numpy_1(channel: Path) -> None:
    got = versions(solve(channel, ["python 3.9.*", "pandas", "scikit-learn"]))
    assert got["python"] == "3.9.18"
    assert got["numpy"] == "1.26.4"
    expected = {"pandas", "scikit-learn", "scipy", "joblib", "threadpoolctl", "six", "tzdata"}
    assert expected <= set(got)


def test_solve_python_312_numpy_picks_numpy_2(channel: Path) -> None:
    assert versions(solve(channel, ["python 3.12.*", "numpy"])) == {
        "python": "3.12.4",
        "numpy": "2.0.0",
    }


def test_solve_vision_on_python_311(channel: Path) -> None:
    got = versions(solve(channel, ["python 3.11.*", "pytorch", "opencv"]))
    assert got["python"] == "3.11.9"
    assert {"pytorch", "opencv", "numpy"} <= set(got)


def test_solve_webdev_on_python_312(channel: Path) -> None:
    got = versions(solve(channel, ["python 3.12.*", "fastapi", "uvicorn"]))
    assert got["python"] == "3.12.4"
    assert {"fastapi", "uvicorn", "pydantic", "starlette", "click", "h11"} <= set(got)


def test_unsatisfiable_spec_fails(channel: Path) -> None:
    with pytest.raises(SolverError):
        solve(channel, ["python 3.9.*", "numpy >=2"])


def test_install_into_prefix(channel: Path, tmp_path: Path) -> None:
    records = solve(channel, ["python 3.12.*", "fastapi", "numpy", "tzdata"])
    prefix = tmp_path / "env"
    run_async(
        rattler.install(
            list(records.values()),
            target_prefix=prefix,
            cache_dir=tmp_path / "pkgs",
            show_progress=False,
        )
    )
    for rec in records.values():
        meta = prefix / "conda-meta" / f"{rec.name.normalized}-{rec.version}-{rec.build}.json"
        assert meta.is_file(), meta
    site = prefix / "lib" / "python3.12" / "site-packages"
    assert '__version__ = "0.111.0"' in (site / "fastapi" / "__init__.py").read_text()
    assert (site / "dateutil").exists() is False  # not requested
    assert (prefix / "share" / "numpy" / "VERSION").read_text() == "numpy 2.0.0\n"
    prefix_file = (prefix / "share" / "python" / "PREFIX").read_text()
    assert PREFIX_PLACEHOLDER not in prefix_file
    assert prefix_file.strip() == str(prefix)


def test_add_packages_publishes_new_version(fresh_channel: Path, channel: Path) -> None:
    assert versions(solve(fresh_channel, ["click"]))["click"] == "8.1.7"
    add_packages(
        fresh_channel,
        [
            Pkg("click", "8.1.8", "pyhd8ed1ab_0", ("python >=3.7",), noarch="python"),
            Pkg("zlib", "1.3.2", "h0_0"),
        ],
    )
    assert versions(solve(fresh_channel, ["click", "zlib"])) == {
        "python": "3.12.4",
        "click": "8.1.8",
        "zlib": "1.3.2",
    }
    # arch packages go to every arch subdir of the channel
    assert (fresh_channel / other_platform() / "zlib-1.3.2-h0_0.tar.bz2").is_file()
    # the session channel is untouched
    assert versions(solve(channel, ["click"]))["click"] == "8.1.7"
