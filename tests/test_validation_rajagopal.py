"""Runs validation/rajagopal_running.py (markers, scale, IK, geometry fit, strain with EMG)
as the command users run, in its own process: the validations drive OpenSim's tools and many
JAX compilations, and a fresh process keeps one test's OpenSim state from reaching the next."""

import pytest
from conftest import run_validation

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_rajagopal_markers_to_strain(tmp_path, data_dir):
    run_validation("rajagopal_running", tmp_path, data_dir)
