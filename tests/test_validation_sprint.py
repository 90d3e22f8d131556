"""Runs validation/sprint_hamstrings.py (issue 4's OpenSim and late-swing checks)
as the command users run, in its own process: the validations drive OpenSim's tools and many
JAX compilations, and a fresh process keeps one test's OpenSim state from reaching the next."""

import subprocess
import sys

import pytest

from musclesim._io import REPO_ROOT

pytestmark = [pytest.mark.opensim, pytest.mark.slow]


def test_sprint_hamstrings_report_passes(tmp_path, data_dir):
    command = [
        sys.executable,
        "-m",
        "validation.sprint_hamstrings",
        "--out",
        str(tmp_path),
        "--data",
        str(data_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=REPO_ROOT)
    report = tmp_path / "sprint_hamstrings.md"
    assert report.is_file(), done.stdout[-2000:] + done.stderr[-4000:]
    assert "**PASS**" in report.read_text()
    assert done.returncode == 0, done.stderr[-4000:]
