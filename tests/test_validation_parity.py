"""Runs validation/opensim_parity.py (issue 2's parity tolerances) as part of the test suite."""

import pytest

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_opensim_parity_report_passes(tmp_path, data_dir):
    from validation import opensim_parity

    status = opensim_parity.main(["--out", str(tmp_path), "--data", str(data_dir)])
    report = (tmp_path / "opensim_parity.md").read_text()
    assert "**PASS**" in report
    assert (tmp_path / "opensim_parity.png").stat().st_size > 10_000
    assert status == 0
