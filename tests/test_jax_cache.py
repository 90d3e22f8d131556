"""The persistent compilation cache: where it goes, that it is written, and how to turn it off.

Each check that compiles runs in its own Python process, because JAX reads its cache settings
once, at the first compilation, and this test session has compiled long before.
"""

import os
import subprocess
import sys

import jax
import pytest

from musclesim.core import jax_cache

_JIT_AND_REPORT = """
import jax, jax.numpy as jnp
from musclesim.core.jax_cache import enable_compilation_cache
folder = enable_compilation_cache()
print(folder)
print(float(jax.jit(lambda x: jnp.sin(x) * 3.0 + x**2)(jnp.arange(7.0)).sum()))
"""


def _run(env_updates):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.update(env_updates)
    done = subprocess.run(
        [sys.executable, "-c", _JIT_AND_REPORT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.splitlines()


def test_a_jitted_call_writes_the_cache_folder(tmp_path):
    folder = tmp_path / "jax"
    lines = _run({jax_cache.ENV_VAR: str(folder)})
    assert lines[0] == str(folder)
    written = [p for p in folder.rglob("*-cache") if p.is_file()]
    assert written, "no compiled program was written to the cache folder"


def test_the_default_folder_is_the_user_cache_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != jax_cache.ENV_VAR}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = "from musclesim.core.jax_cache import default_cache_dir; print(default_cache_dir())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == str(tmp_path / "musclesim" / "jax")


@pytest.mark.parametrize("value", ["off", "0", "OFF"])
def test_the_environment_variable_turns_it_off(tmp_path, value):
    home = tmp_path / "cache"
    lines = _run({jax_cache.ENV_VAR: value, "XDG_CACHE_HOME": str(home)})
    assert lines[0] == "None"
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*"))


def test_an_unwritable_folder_warns_and_leaves_it_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    with pytest.warns(RuntimeWarning, match="compilation cache off"):
        assert jax_cache.enable_compilation_cache(blocker / "jax") is None


def test_the_command_line_turns_it_on(tmp_path, monkeypatch):
    from musclesim.cli import main

    names = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
        "jax_compilation_cache_max_size",
    )
    before = {name: getattr(jax.config, name) for name in names}
    monkeypatch.setenv(jax_cache.ENV_VAR, str(tmp_path / "cli"))
    argv = ["table", "lookup", str(tmp_path / "none.nc"), "--drill", "x", "--intensity", "1"]
    try:
        # a command that fails on its input at once has still turned the cache on first
        assert main([*argv, "--days", "1"]) == 2
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cli")
    finally:
        for name, value in before.items():
            jax.config.update(name, value)


def test_rank_benchmark_reads_the_cache_it_wrote():
    """Two fresh processes on one cache folder rank alike, and the first wrote the folder."""
    from experiments.benchmark_rank import build, run

    result = run(build(tiny=True))
    assert result["cache_mb"] > 0
    assert result["same_verdicts"]
    assert result["second_call_s"] > 0
