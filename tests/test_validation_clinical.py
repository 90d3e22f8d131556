"""Runs validation/clinical_scenarios.py (the tissue-load verdicts against published timing,
ordering and rehabilitation practice) as the command users run, in its own process."""

from conftest import run_validation


def test_clinical_scenarios_report_passes(tmp_path, data_dir):
    run_validation("clinical_scenarios", tmp_path, data_dir)
