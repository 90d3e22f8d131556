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
    from musclesim._io import shared_data_dir

    return shared_data_dir()
