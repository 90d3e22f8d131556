import numpy as np
import pytest

from musclesim import MuscleParameters
from musclesim.cli.demo import SPRINTER_BFLH, TEMPLATE, read_template


def test_demo_parameters_are_the_sprinter_models(data_dir):
    read = MuscleParameters.from_osim(data_dir / "models/Sprinter_JA1_scaled.osim", "bflh_r")
    for name, value in SPRINTER_BFLH.items():
        assert float(getattr(read, name)) == pytest.approx(value, rel=1e-12), name


def test_template_matches_its_recorded_sources(data_dir):
    from musclesim.core.io import sha256_file

    header = [ln for ln in TEMPLATE.read_text().splitlines() if ln.startswith("#")]
    for rel in (
        "models/Sprinter_JA1_scaled.osim",
        "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot",
    ):
        line = next(ln for ln in header if rel in ln)
        assert line.endswith(sha256_file(data_dir / rel))
    time, length = read_template()
    assert np.all(np.diff(time) > 0)
    # bflh_r range along run0900cms measured by OpenSim (SOURCES.md 3.2): 0.4038-0.5198 m
    assert length.min() == pytest.approx(0.4038, abs=1e-4)
    assert length.max() == pytest.approx(0.5198, abs=1e-4)


@pytest.mark.slow
def test_demo_runs_and_writes_outputs(tmp_path):
    from musclesim.cli import main

    assert main(["demo", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "demo_bflh_fiber_strain.txt").read_text()
    strains = [float(line.split()[1]) for line in text.splitlines()[-3:]]
    assert strains[0] > strains[1] > strains[2]  # more activation, less fibre strain
    assert (tmp_path / "demo_bflh_fiber_strain.png").stat().st_size > 10_000
