"""Runs validation/clinical_scenarios.py (the tissue-load verdicts against published timing,
ordering and rehabilitation practice) as the command users run, in its own process."""

import pytest
from conftest import run_validation


@pytest.mark.xfail(
    strict=True,
    reason=(
        "one check misses where the model and the evidence disagree (reported, not tuned): the "
        "Nordic's peak force is below the 45-degree hip extension's and the hip hinges' (Van "
        "Hooren 2022 found it highest); with excitations derived from the drills' mechanics "
        "the hinges' peaks are mostly passive force of a BFLH fibre near 1.5 l_opt"
    ),
)
def test_clinical_scenarios_report_passes(tmp_path, data_dir):
    run_validation("clinical_scenarios", tmp_path, data_dir)
