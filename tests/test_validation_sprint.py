"""Runs validation/sprint_hamstrings.py (issue 4's OpenSim and late-swing checks)."""

import pytest

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_sprint_hamstrings_report_passes(tmp_path, data_dir):
    from validation import sprint_hamstrings

    status = sprint_hamstrings.main(["--out", str(tmp_path), "--data", str(data_dir)])
    assert "**PASS**" in (tmp_path / "sprint_hamstrings.md").read_text()
    assert status == 0
