"""When 512-bit vectors are asked of XLA's CPU code, and that an explicit choice wins."""

import os

import jax
import pytest

from musclesim.core import cpu_vectors

FLAG = "--xla_cpu_prefer_vector_width=512"


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(
        f"processor\t: 0\nmodel name\t: test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
        f"flags\t\t: {flags}\n"
    )
    return path


@pytest.fixture
def fresh_backend(monkeypatch):
    """As if JAX had not yet created its backends (this session has)."""
    monkeypatch.setattr(cpu_vectors, "_backend_started", lambda: False)


def test_avx512_adds_the_flag_and_keeps_the_others(tmp_path, monkeypatch, fresh_backend):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    assert cpu_vectors.prefer_wide_cpu_vectors(_cpuinfo(tmp_path, "fpu sse2 avx2 avx512f fma"))
    assert os.environ["XLA_FLAGS"].split() == ["--xla_cpu_enable_fast_math=false", FLAG]
    # A second call finds its own flag and changes nothing.
    assert cpu_vectors.prefer_wide_cpu_vectors(_cpuinfo(tmp_path, "avx512f"))
    assert os.environ["XLA_FLAGS"].split() == ["--xla_cpu_enable_fast_math=false", FLAG]


def test_without_avx512_nothing_changes(tmp_path, monkeypatch, fresh_backend):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    # avx512bw alone is not the foundation set; and a file that cannot be read is no AVX-512.
    assert not cpu_vectors.prefer_wide_cpu_vectors(_cpuinfo(tmp_path, "avx2 avx512bw"))
    assert not cpu_vectors.prefer_wide_cpu_vectors(tmp_path / "missing")
    assert "XLA_FLAGS" not in os.environ


def test_an_explicit_width_wins(tmp_path, monkeypatch, fresh_backend):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_prefer_vector_width=256")
    assert not cpu_vectors.prefer_wide_cpu_vectors(_cpuinfo(tmp_path, "avx512f"))
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_prefer_vector_width=256"


def test_too_late_once_jax_has_started(tmp_path, monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(cpu_vectors, "_backend_started", lambda: True)
    assert not cpu_vectors.prefer_wide_cpu_vectors(_cpuinfo(tmp_path, "avx512f"))
    assert "XLA_FLAGS" not in os.environ


def test_the_backend_check_sees_this_session_started():
    jax.numpy.zeros(1).block_until_ready()
    assert cpu_vectors._backend_started()
