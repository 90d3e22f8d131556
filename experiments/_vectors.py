"""The benchmarks' SIMD setting: what the command line uses, printed with their figures."""

from musclesim import prefer_wide_cpu_vectors


def use_command_line_vectors() -> None:
    """Ask XLA for 512-bit vectors where the processor has AVX-512, as ``musclesim`` does at
    start (:func:`~musclesim.core.cpu_vectors.prefer_wide_cpu_vectors`; call it before the
    first computation), and print which width the figures below were measured with."""
    wide = prefer_wide_cpu_vectors()
    print(f"XLA CPU vectors: {'512-bit' if wide else 'XLA default width'}")
