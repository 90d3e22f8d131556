"""Runs validation/opensim_parity.py (the parity tolerances in its module)
as the command users run, in its own process: the validations drive OpenSim's tools and many
JAX compilations, and a fresh process keeps one test's OpenSim state from reaching the next."""

import pytest
from conftest import run_validation

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_opensim_parity_report_passes(tmp_path, data_dir):
    run_validation("opensim_parity", tmp_path, data_dir)
    assert (tmp_path / "opensim_parity.png").stat().st_size > 10_000
