"""Test configuration: JAX in 64-bit with strict dtype promotion (set here, never in the library),
the shared data folder, and automatic skipping of OpenSim tests when OpenSim is absent."""

from __future__ import annotations

import importlib.util

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

HAVE_OPENSIM = importlib.util.find_spec("opensim") is not None


def pytest_collection_modifyitems(config, items):
    if HAVE_OPENSIM:
        return
    skip = pytest.mark.skip(reason="needs the opensim extra (pip install opensim==4.6)")
    for item in items:
        if "opensim" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir():
    from musclesim.core.io import shared_data_dir

    return shared_data_dir()


def run_validation(module: str, out, data_dir, *args: str, report: str | None = None) -> str:
    """Run ``python -m validation.<module> --out OUT --data DATA *args`` in its own process
    (the validations drive OpenSim's tools and many JAX compilations; OpenSim's tools and XLA's
    compiler in one process have aborted a later compilation), assert that its report says
    PASS and that it exited 0, and return the report's text."""
    import re
    import subprocess
    import sys

    from musclesim.core.io import REPO_ROOT

    command = [sys.executable, "-m", f"validation.{module}", "--out", str(out)]
    command += ["--data", str(data_dir), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=REPO_ROOT)
    path = out / f"{report or module}.md"
    assert path.is_file(), done.stdout[-2000:] + done.stderr[-4000:]
    text = path.read_text()
    assert re.search(r"\*\*(Result: )?PASS\*\*", text), text
    assert done.returncode == 0, done.stderr[-4000:]
    return text


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drop JAX's compiled executables after each test module. A full run compiles thousands
    of XLA programs in one process; kept alive, their code and memory mappings accumulate, and
    late in the run XLA's compiler has crashed (abort or segfault inside
    ``backend_compile_and_load``) in whichever test compiled next."""
    yield
    import gc

    jax.clear_caches()
    gc.collect()
