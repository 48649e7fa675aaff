"""Environment files as real tools write them, generated for tests and benchmarks."""

from __future__ import annotations


def pinned_export(lines: int = 300) -> str:
    """What `conda env export` writes for a big env, `lines` long: `name=version=build`
    pins (builds with dots among them), a pip section, `prefix:`."""
    out = ["name: big", "channels:", "  - conda-forge", "dependencies:"]
    out += ["  - _libgcc_mutex=0.1=conda_forge", "  - python=3.11.9=hb806964_0_cpython"]
    n = 0
    while len(out) < lines - 13:
        build = f"py311h{n:06x}_0" if n % 3 else f"py3.11_cuda11.{n % 9}_0"
        out.append(f"  - pkg{n}=1.{n}.{n % 7}={build}")
        n += 1
    out += ["  - pip=24.0=pyhd8ed1ab_0", "  - pip:"]
    out += [f"    - pypkg{i}=={i}.0.1" for i in range(10)]
    out += ["prefix: /opt/conda/envs/big"]
    return "\n".join(out) + "\n"
