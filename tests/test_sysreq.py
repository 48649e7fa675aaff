"""System requirements, pure (wsp.sysreq), and the engine's view of this machine."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wsp import sysreq
from wsp.sysreq import HostPackage, Unmet, Variant

LINUX_HOST = (
    HostPackage("__unix", "0"),
    HostPackage("__linux", "6.8.0"),
    HostPackage("__glibc", "2.39"),
    HostPackage("__archspec", "1", "x86_64_v4", ("x86_64_v3", "x86_64_v2", "x86_64")),
)


def test_names_are_canonical_and_merge_later_wins() -> None:
    assert sysreq.canonical("__cuda") == "cuda" and sysreq.canonical("__foo") == "__foo"
    assert sysreq.package_name("macos") == "__osx"
    merged = sysreq.merge({"cuda": "11.8", "glibc": "2.17"}, {"__cuda": "12.0"}, ())
    assert merged == (("cuda", "12.0"), ("glibc", "2.17"))


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("cuda", "12.0", None),
        ("__foo", "1", None),
        ("archspec", "x86_64_v3", None),
        ("cdua", "12", "unknown"),
        ("cuda", "twelve", "is not a version"),
        ("cuda", ">=12", "is not a version"),
        ("archspec", "x86-64 v3", "not a microarchitecture name"),
        ("__", "1", "unknown"),
    ],
)
def test_check(key: str, value: str, problem: str | None) -> None:
    found = sysreq.check(key, value)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_a_solve_sees_the_defaults_under_what_is_declared_for_its_platform() -> None:
    cuda_mac = (("cuda", "12.0"), ("glibc", "2.17"), ("macos", "14.0"))
    linux = {str(v) for v in Variant("linux-64", "linux-64", cuda_mac).virtual_packages()}
    assert linux == {
        "__unix=0=0",
        "__linux=4.18=0",
        "__glibc=2.17=0",
        "__cuda=12.0=0",
        "__archspec=1=x86_64",
    }
    mac = {str(v) for v in Variant("osx-arm64", "osx-arm64", cuda_mac).virtual_packages()}
    assert mac == {"__unix=0=0", "__osx=14.0=0", "__archspec=1=arm64"}
    assert Variant("x", "win-64", (("__foo", "2"),)).declared() == {"__foo": "2"}


def test_what_a_machine_lacks_says_how_to_get_past_it() -> None:
    variant = Variant("linux-64", "linux-64", (("cuda", "12.0"),))
    (unmet,) = variant.unmet(LINUX_HOST)
    assert unmet == Unmet("cuda", "12.0", None, False, "linux-64")
    assert unmet.message == (
        'needs __cuda >=12.0 (cuda = "12.0"), this machine has none (no NVIDIA driver found)'
    )
    assert unmet.hint == "set CONDA_OVERRIDE_CUDA=12.0 to install it anyway"
    assert not variant.unmet((*LINUX_HOST, HostPackage("__cuda", "12.4")))
    assert variant.unmet((*LINUX_HOST, HostPackage("__cuda", "11.8")))[0].found == "11.8"

    old = (
        HostPackage("__unix", "0"),
        HostPackage("__linux", "5.4"),
        HostPackage("__glibc", "2.17"),
    )
    (glibc,) = Variant("linux-64", "linux-64").unmet(old)  # the default CPU is not checked
    assert glibc.default and glibc.message.endswith("(the linux-64 default), this machine has 2.17")
    assert glibc.hint == (
        "set CONDA_OVERRIDE_GLIBC=2.28 to install it anyway or declare system-requirements = "
        '{ glibc = "2.17" }'
    )


def test_archspec_is_met_by_the_cpu_or_one_it_descends_from() -> None:
    assert not Variant("l", "linux-64", (("archspec", "x86_64_v3"),)).unmet(LINUX_HOST)
    (unmet,) = Variant("l", "linux-64", (("archspec", "zen5"),)).unmet(LINUX_HOST)
    assert unmet.found == "x86_64_v4" and "a zen5 CPU (__archspec)" in unmet.message


def test_undetectable_raw_requirements_are_solved_with_but_not_checked() -> None:
    variant = Variant("l", "linux-64", (("__foo", "1"),))
    assert "__foo=1=0" in {str(v) for v in variant.virtual_packages()}
    assert not variant.unmet(LINUX_HOST)


def test_the_first_variant_the_machine_runs_is_chosen() -> None:
    cuda = Variant("linux-64-cuda", "linux-64", (("cuda", "12.0"),))
    cpu = Variant("linux-64", "linux-64")
    assert sysreq.choose([cuda, cpu], LINUX_HOST) == (cpu, ())
    gpu_host = (*LINUX_HOST, HostPackage("__cuda", "12.4"))
    assert sysreq.choose([cuda, cpu], gpu_host) == (cuda, ())
    picked, lacking = sysreq.choose([cuda], LINUX_HOST)
    assert picked == cuda and [name for name, _ in lacking] == ["linux-64-cuda"]


def test_lock_entries_are_named_after_what_a_project_adds() -> None:
    base = Variant("linux-64", "linux-64")
    assert sysreq.lock_name(Variant("linux-64", "linux-64"), base) == "linux-64"
    own = Variant("linux-64", "linux-64", (("archspec", "x86_64_v3"), ("cuda", "11.8")))
    assert sysreq.lock_name(own, base) == "linux-64--archspec-x86-64-v3--cuda-11-8"
    gpu = Variant("linux-64-cuda", "linux-64", (("cuda", "12.0"),))
    assert sysreq.lock_name(gpu, gpu) == "linux-64-cuda"


def test_lock_differences_read_as_virtual_packages() -> None:
    variant = Variant("linux-64", "linux-64", (("cuda", "11.8"),))
    before = ["__archspec=1=x86_64", "__cuda=12.0=0", "__glibc=2.28=0", "__linux=4.18=0"]
    assert sysreq.diff_virtual(before, variant) == "__cuda 12.0 -> 11.8, + __unix 0"


def test_cuda_builds_and_the_version_to_declare() -> None:
    def pkg(name: str, version: str, build: str, *depends: str) -> SimpleNamespace:
        return SimpleNamespace(name=name, version=version, build=build, depends=depends)

    builds = sysreq.cuda_builds(
        [
            pkg("numpy", "2.0.0", "py_0", "python"),
            pkg("pytorch", "2.4.0", "cuda120_py_101", "__cuda >=12", "cuda-version >=12,<13"),
            pkg("cuda-version", "12.4", "h0_3"),
        ]
    )
    assert builds == ("cuda-version 12.4", "pytorch 2.4.0 cuda120_py_101 needs __cuda >=12")
    assert sysreq.suggest_cuda(builds) == "12.4"
    assert sysreq.suggest_cuda(["x 1 b needs __cuda >=11.2", "y 1 b needs __cuda >=12"]) == "11.2"
    assert sysreq.suggest_cuda(["y 1 b needs __cuda >=12"]) == "12.0"


def test_the_engine_reads_this_machine_with_condas_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wsp.engines.rattler import host_virtual_packages

    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "12.4")
    found = {h.name: h for h in host_virtual_packages()}
    assert found["__cuda"].version == "12.4"
    if "__archspec" in found and found["__archspec"].build.startswith("x86_64_v"):
        assert "x86_64" in found["__archspec"].ancestors
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "")  # empty: removed, as conda does
    assert "__cuda" not in {h.name for h in host_virtual_packages()}


def test_what_no_machine_can_be_checked_for_is_named() -> None:
    variant = Variant("l", "linux-64", (("__foo", "1"), ("cuda", "12.0")))
    assert variant.unchecked() == ("__foo",)
