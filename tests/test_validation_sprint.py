"""Runs validation/sprint_hamstrings.py (its OpenSim and late-swing checks)
as the command users run, in its own process: the validations drive OpenSim's tools and many
JAX compilations, and a fresh process keeps one test's OpenSim state from reaching the next."""

import pytest
from conftest import run_validation

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_sprint_hamstrings_report_passes(tmp_path, data_dir):
    run_validation("sprint_hamstrings", tmp_path, data_dir)
