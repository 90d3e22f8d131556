"""A long motion solved in pieces gives the result of one solve (the pieces bound memory)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"
MUSCLES = ["bflh_r", "gasmed_r"]


@pytest.fixture(scope="module")
def whole_and_pieces(data_dir):
    from musclesim.geometry.io import load_model
    from musclesim.motion.processing import match_coordinates
    from musclesim.motion.read import read_motion
    from musclesim.pipeline.simulate import evaluate_in_chunks, simulate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # poses outside the fit domain are reported as a mask
        whole = simulate("sprinter_ja1", data_dir / SPRINT, muscles=MUSCLES, excitation="sprinting")
        geometry = load_model("sprinter_ja1").select(MUSCLES)
        motion = match_coordinates(read_motion(data_dir / SPRINT), list(geometry.coordinates))
        q = {c: motion["q"].sel(coordinate=c).values for c in geometry.coordinates}
        # 323 samples at 250 Hz in pieces of 100, each solved from 0.2 s (50 samples) before
        pieces = evaluate_in_chunks(
            geometry,
            whole["time"].values,
            q,
            whole["excitation"].values,
            chunk_samples=100,
            warmup_s=0.2,
        )
    return whole, pieces


def test_pieces_join_into_the_whole_solve(whole_and_pieces):
    whole, pieces = whole_and_pieces
    # 0.2 s of warm-up is enough for the activation (deactivation time constant 60 ms) and the
    # fibre to forget the piece's start: the joined series equal one solve within the solver's
    # own error (strains dimensionless; forces 1e-3 of the peak, above the fixed-step solver's
    # measured 8e-4 of peak along the sprints, experiments/solver_accuracy.py)
    np.testing.assert_allclose(pieces.solution.mtu_length, whole["mtu_length"].values, atol=1e-12)
    np.testing.assert_array_equal(pieces.in_fit_domain, whole["in_fit_domain"].values)
    peak = float(np.max(whole["tendon_force"].values))
    for var, atol in (("tendon_force", 1e-3 * peak), ("fiber_strain", 1e-4), ("activation", 1e-4)):
        np.testing.assert_allclose(
            getattr(pieces.solution, var), whole[var].values, atol=atol, err_msg=var
        )


def test_combined_metrics_equal_the_whole_record_metrics(whole_and_pieces):
    whole, pieces = whole_and_pieces
    for var in ("peak_mtu_strain", "peak_fiber_strain", "peak_lengthening_velocity", "peak_force",
                "negative_work", "peak_eccentric_fiber_strain"):  # fmt: skip
        np.testing.assert_allclose(
            np.asarray(getattr(pieces.metrics, var)), whole[var].values, rtol=1e-3, err_msg=var
        )


def test_long_motion_experiment_builds_an_overground_run(tmp_path):
    from experiments.long_motion import RATE_HZ, build
    from musclesim.excitation.templates import overground_speed
    from musclesim.motion.read import read_motion

    motion = read_motion(build(0.1, tmp_path))  # 6 s
    assert motion.sizes["time"] == int(0.1 * 60 * RATE_HZ)
    # the template's slowest speed, which the pelvis carries
    assert overground_speed(motion) == pytest.approx(3.543, abs=0.01)
