"""Runs validation/rajagopal_running.py: markers, scale, IK, geometry fit, strain with EMG."""

import pytest

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_rajagopal_markers_to_strain(tmp_path, data_dir):
    from validation import rajagopal_running

    status = rajagopal_running.main(["--out", str(tmp_path), "--data", str(data_dir)])
    assert "**PASS**" in (tmp_path / "rajagopal_running.md").read_text()
    assert status == 0
