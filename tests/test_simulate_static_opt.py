"""``simulate(..., excitation="static_optimization")``: inverse dynamics → static optimisation →
compliant fibre dynamics, and its bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import musclesim as ms
from musclesim.pipeline.simulate import dynamics_model_path

SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"


@pytest.fixture(scope="module")
def sprint(data_dir):
    return ms.read_motion(data_dir / SPRINT)


@pytest.fixture(scope="module")
def sprint_slice(sprint):
    return sprint.isel(time=slice(50, 215))  # 0.20-0.86 s: right stance, then the whole swing


@pytest.fixture(scope="module")
def result(sprint, sprint_slice):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.GeometryDomainWarning)
        return ms.simulate(
            "sprinter_ja1",
            sprint_slice,
            excitation="static_optimization",
            muscles=["bflh_r", "semimem_r"],
            events={"r": ms.detect_events(sprint, side="r")},  # strides of the whole trial
        )


@pytest.mark.slow
def test_static_optimization_drives_the_fibres(result):
    act = result["static_optimization_activation"].values
    assert np.all((act >= 0) & (act <= 1))
    # the simulated activation follows the optimised one (the excitation inverts the
    # activation dynamics; it lags only where the optimum changes faster than deactivation)
    sim = result["activation"].values.T
    swing = ~result["stance_r"].values.astype(bool)
    for k in range(act.shape[1]):
        assert np.corrcoef(sim[swing, k], act[swing, k])[0, 1] > 0.9
    assert result["static_optimization_converged"].values.all()
    # no force plates: every stance sample is flagged, every swing sample valid
    valid = result["inverse_dynamics_valid"].values
    stance = result["stance_r"].values.astype(bool)
    assert not valid[stance].any() and valid[~stance].all()
    assert "knee_angle_r" in list(result["coordinate"].values)
    assert "inverse dynamics of Sprinter_JA1_scaled.osim" in result.attrs["excitation"]


@pytest.mark.slow
def test_muscles_carry_the_late_swing_knee_flexion_moment(result):
    """Terminal swing (the last quarter of the stride): a large knee-flexion moment, carried
    by the muscles (the reserves carry almost nothing), with the hamstrings loaded."""
    moment = result["joint_moment"].sel(coordinate="knee_angle_r").values
    reserve = result["reserve_moment"].sel(coordinate="knee_angle_r").values
    phase = result["phase_r"].values
    late = (phase >= 75.0) & ~result["stance_r"].values.astype(bool)
    assert late.sum() > 10
    peak = np.max(moment[late])
    assert peak > 50.0  # N m; flexion is positive in this model family
    assert np.max(np.abs(reserve[late])) < 0.05 * peak
    force = result["static_optimization_force"].sel(muscle="semimem_r").values
    assert np.max(force[late]) > 1000.0  # N: a loaded hamstring, not a passive one


def test_grf_needs_static_optimization(sprint_slice, data_dir):
    with pytest.raises(ms.InputError, match="static_optimization"):
        ms.simulate(
            "sprinter_ja1",
            sprint_slice,
            excitation="sprinting",
            grf=data_dir / "kinematics/opensim-models_rajagopal_running/grf_run.xml",
        )


def test_osim_must_be_the_fitted_model(data_dir, tmp_path):
    geometry = ms.load_model("sprinter_ja1")
    assert dynamics_model_path(geometry).name == "Sprinter_JA1_scaled.osim"
    with pytest.raises(ms.InputError, match="differs from the model"):
        dynamics_model_path(geometry, data_dir / "models" / "Sprinter_generic.osim")
    with pytest.raises(ms.InputError, match="file not found"):
        dynamics_model_path(geometry, tmp_path / "missing.osim")
