"""Runs validation/opensim_parity.py (issue 2's parity tolerances)
as the command users run, in its own process: the validations drive OpenSim's tools and many
JAX compilations, and a fresh process keeps one test's OpenSim state from reaching the next."""

import subprocess
import sys

import pytest

from musclesim._io import REPO_ROOT

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_opensim_parity_report_passes(tmp_path, data_dir):
    command = [
        sys.executable,
        "-m",
        "validation.opensim_parity",
        "--out",
        str(tmp_path),
        "--data",
        str(data_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=REPO_ROOT)
    report = tmp_path / "opensim_parity.md"
    assert report.is_file(), done.stdout[-2000:] + done.stderr[-4000:]
    assert "**PASS**" in report.read_text()
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "opensim_parity.png").stat().st_size > 10_000
