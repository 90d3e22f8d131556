"""Runs validation/clinical_scenarios.py (the tissue-load verdicts against published timing,
ordering and rehabilitation practice) as the command users run, in its own process."""

import pytest
from conftest import run_validation


@pytest.mark.xfail(
    strict=True,
    reason=(
        "two checks miss where the model and the evidence disagree (reported, not tuned): the "
        "Askling Extender is not admissible on day 5 (the model's BFLH fibre is at 1.34 l_opt "
        "while actively loaded at 90 deg hip flexion), and the Nordic's peak force is below "
        "45-degree hip extension's (Van Hooren 2022 found it highest)"
    ),
)
def test_clinical_scenarios_report_passes(tmp_path, data_dir):
    run_validation("clinical_scenarios", tmp_path, data_dir)
