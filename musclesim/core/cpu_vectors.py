"""512-bit SIMD vectors in XLA's CPU code, where the processor has them.

XLA compiles elementwise loops for 256-bit vectors by default, even on processors with
AVX-512. The compliant-tendon solver is almost all elementwise arithmetic on batches (each
stage's exponentials, logarithm and divisions), so on an AVX-512 processor asking XLA for
512-bit vectors speeds it up. Measured on the 2-core AMD EPYC development machine (AVX-512):
``python -m experiments.benchmark_fiber`` at batch 1024 in float64 ran 1.27-1.31 M
muscle-samples/s against 1.17 M (three alternating runs each), its 1,024 solutions
bit-identical; ``python -m experiments.benchmark_tables`` (21 x 10 x 50, compilation cache
warm) took 21.7, 22.7 and 22.6 s against 27.2, 29.2 and 23.7 s (alternating); float32 was
unchanged (1.58 M against 1.61 M), and a ranking's times did not move beyond the noise.

:func:`prefer_wide_cpu_vectors` sets XLA's flag; the command line calls it once at start,
before any computation, and library users call it themselves (the library never changes
JAX's settings on its own), as with :func:`~musclesim.core.jax_cache.enable_compilation_cache`.
An ``XLA_FLAGS`` that already names the vector width wins: ``XLA_FLAGS=
--xla_cpu_prefer_vector_width=256`` keeps XLA's default. Only Linux's ``/proc/cpuinfo`` is
read; elsewhere nothing changes.
"""

from __future__ import annotations

import os
from pathlib import Path

# Not public API: where JAX records whether its backends exist; read defensively below.
from jax._src import xla_bridge

#: XLA's option for the width (bits) of the vectors its CPU code is written for.
FLAG = "--xla_cpu_prefer_vector_width"
WIDE_BITS = 512
CPUINFO = Path("/proc/cpuinfo")


def cpu_has_avx512(cpuinfo: Path = CPUINFO) -> bool:
    """Whether the processor reports the AVX-512 foundation instructions (``avx512f`` in the
    flags of Linux's ``/proc/cpuinfo``); False where that file cannot be read."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return any(line.startswith("flags") and "avx512f" in line.split() for line in text.splitlines())


def _backend_started() -> bool:
    """Whether JAX has already created its backends (XLA reads its flags only then)."""
    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if started is not None else False


def prefer_wide_cpu_vectors(cpuinfo: Path = CPUINFO) -> bool:
    """Ask XLA for 512-bit vectors on a processor with AVX-512, unless ``XLA_FLAGS`` already
    names a width. Returns whether 512-bit vectors are asked for in this process: False
    without AVX-512, with another width set, or when JAX's backends were created before the
    call (too late for the flag)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if FLAG in flags:
        return f"{FLAG}={WIDE_BITS}" in flags.split()
    if not cpu_has_avx512(cpuinfo) or _backend_started():
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {FLAG}={WIDE_BITS}".strip()
    return True
