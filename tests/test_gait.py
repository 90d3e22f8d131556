"""Gait events and cycles. The kinematic detector's accuracy against force plates needs the
Rajagopal running trial's IK (OpenSim) and is tested in test_pipeline.py."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from musclesim.core.errors import InputError
from musclesim.motion.gait import (
    RAJAGOPAL2016_LEG,
    GaitEvents,
    average_cycles,
    compare_events,
    cut_cycles,
    detect_events,
    events_from_grf,
    knee_sign_from_data,
    leg_geometry,
    stance_mask,
    time_to_phase,
)
from musclesim.motion.read import read_motion

SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run{}cms.mot"
GRF = "kinematics/opensim-models_rajagopal_running/grf_run.mot"


def test_leg_geometry_signs_read_from_models(data_dir):
    raj = leg_geometry(data_dir / "models/Rajagopal2016.osim", "r")
    assert raj.knee_sign == -1.0  # Rajagopal family: flexion positive, rotates about -z
    assert (raj.hip, raj.knee, raj.ankle, raj.heel, raj.toe) == (
        RAJAGOPAL2016_LEG.hip,
        RAJAGOPAL2016_LEG.knee,
        RAJAGOPAL2016_LEG.ankle,
        RAJAGOPAL2016_LEG.heel,
        RAJAGOPAL2016_LEG.toe,
    )
    g2392 = leg_geometry(data_dir / "models/gait2392_subject01_scaled.osim", "l")
    assert g2392.knee_sign == 1.0  # gait2392 family: flexion negative about +z
    assert -0.5 < g2392.knee[1] < -0.35  # knee location from the knee's translation functions
    for geometry in (raj, g2392):
        assert geometry.hip_sign == 1.0 and geometry.ankle_sign == 1.0


def test_knee_sign_from_data():
    assert knee_sign_from_data(np.radians([10, 100, 20])) == -1.0
    assert knee_sign_from_data(np.radians([-10, -100, 5])) == 1.0


def test_force_plate_events_rajagopal(data_dir):
    right = events_from_grf(data_dir / GRF, side="r")
    left = events_from_grf(data_dir / GRF, side="l")
    assert right.foot_strike.size == 7 and left.foot_strike.size == 7
    assert right.foot_strike[0] == pytest.approx(0.868, abs=0.001)
    # the authors' own script uses a right foot strike at 0.863 s (validationPlots_emg_run.m)
    assert abs(right.foot_strike[0] - 0.863) < 0.01
    stance = np.array([to - fs for fs, to, _ in right.strides()])
    assert np.all((stance > 0.2) & (stance < 0.3))


def test_force_plate_crossings_interpolated(tmp_path):
    t = np.arange(0, 2, 0.001)
    force = np.where((t > 0.3) & (t < 0.55), 1000.0, 0.0) + np.where(
        (t > 1.0) & (t < 1.25), 1000.0, 0.0
    )
    force += np.where((t > 0.8) & (t < 0.81), 100.0, 0.0)  # a 10 ms blip is merged away
    ds = xr.Dataset(
        {"data": (("time", "channel"), force[:, None])},
        coords={"time": t, "channel": np.array(["ground_force_vy"], dtype=object)},
    )
    events = events_from_grf(ds, side="r", threshold_n=20.0)
    np.testing.assert_allclose(events.foot_strike, [0.30002, 1.00002], atol=1e-4)
    np.testing.assert_allclose(events.toe_off, [0.54998, 1.24998], atol=1e-4)
    with pytest.raises(InputError, match="no vertical force column"):
        events_from_grf(ds, side="l")


@pytest.mark.parametrize("speed", ["0350", "0500", "0700", "0900"])
def test_sprinter_events_plausible(data_dir, speed):
    motion = read_motion(data_dir / SPRINT.format(speed))
    right = detect_events(motion, side="r")
    left = detect_events(motion, side="l")
    strides = right.strides()
    assert strides, "at least one complete right stride"
    for fs, to, end in strides:
        duty = (to - fs) / (end - fs)
        assert 0.2 < duty < 0.45
        assert 0.4 < end - fs < 0.9
        # a left foot strike lies between two right foot strikes (alternation)
        assert np.any((left.foot_strike > fs) & (left.foot_strike < end))


def test_stance_shortens_with_speed(data_dir):
    stance = []
    for speed in ("0350", "0900"):
        events = detect_events(read_motion(data_dir / SPRINT.format(speed)), side="r")
        stance.append(np.mean([to - fs for fs, to, _ in events.strides()]))
    assert stance[1] < stance[0]


def test_model_geometry_gives_same_events(data_dir):
    motion = read_motion(data_dir / SPRINT.format("0900"))
    generic = detect_events(motion, side="r")
    scaled = detect_events(motion, side="r", model=data_dir / "models/Sprinter_JA1_scaled.osim")
    errors = compare_events(scaled, generic)
    assert np.all(np.abs(errors["foot_strike"]) <= 0.012)
    assert np.all(np.abs(errors["toe_off"]) <= 0.012)


def test_detect_errors(data_dir):
    motion = read_motion(data_dir / SPRINT.format("0900"))
    with pytest.raises(InputError, match="side"):
        detect_events(motion, side="x")
    with pytest.raises(InputError, match="knee_angle_r"):
        detect_events(motion.drop_sel(coordinate="knee_angle_r"), side="r")
    with pytest.raises(InputError, match="method"):
        detect_events(motion, method="magic")


def _events():
    return GaitEvents("r", np.array([1.0, 2.0, 3.0]), np.array([1.4, 2.4, 3.4]), "synthetic")


def test_phase_and_stance():
    events = _events()
    t = np.array([0.5, 1.0, 1.25, 2.0, 2.5, 3.0, 3.5])
    np.testing.assert_allclose(time_to_phase(t, events), [np.nan, 0, 25, 0, 50, 100, np.nan])
    assert stance_mask(t, events).tolist() == [False, True, True, True, False, True, False]


def test_cut_and_average_cycles():
    events = _events()
    t = np.arange(0.0, 4.0, 0.001)
    ds = xr.Dataset(
        {
            "x": (
                ("time", "muscle"),
                np.stack([np.sin(2 * np.pi * (t - 1.0)), t], axis=1),
                {"units": "1"},
            )
        },
        coords={"time": t, "muscle": ["a", "b"]},
    )
    cycles = cut_cycles(ds, events, n_points=101)
    assert cycles["x"].dims == ("cycle", "phase", "muscle")
    assert cycles.sizes["cycle"] == 2
    np.testing.assert_allclose(cycles["toe_off_phase"].values, [40.0, 40.0])
    assert cycles["stance"].values[0, :40].all() and not cycles["stance"].values[0, 41:].any()
    mean = average_cycles(cycles)
    phase = cycles["phase"].values
    np.testing.assert_allclose(
        mean["x"].sel(muscle="a").values, np.sin(2 * np.pi * phase / 100), atol=1e-5
    )
    np.testing.assert_allclose(mean["x_std"].sel(muscle="a").values, 0.0, atol=1e-5)
    assert mean.attrs["n_cycles"] == 2
    np.testing.assert_allclose(mean["x_std"].sel(muscle="b").values, np.sqrt(0.5), atol=1e-9)


def test_cut_cycles_without_strides():
    ds = xr.Dataset({"x": ("time", np.zeros(10))}, coords={"time": np.arange(10.0)})
    with pytest.raises(InputError, match="no complete stride"):
        cut_cycles(ds, GaitEvents("r", np.array([1.0]), np.array([]), "synthetic"))


def test_events_cli(data_dir, capsys):
    from musclesim.cli import main

    assert main(["events", str(data_dir / SPRINT.format("0900")), "--side", "r"]) == 0
    out = capsys.readouterr().out
    assert "foot strike (s):" in out and "complete strides" in out


def test_marker_refinement_on_sprint(data_dir):
    """Handsaker et al. 2016 rules on the 9 m/s sprint's 250 Hz markers: ~0.10 s contact, and
    the joint-angle events' bias on this forefoot sprint (foot strike early, toe-off late)."""
    from musclesim.motion.gait import refine_events_with_markers
    from musclesim.motion.markers import read_markers

    motion = read_motion(data_dir / SPRINT.format("0900"))
    markers = read_markers(data_dir / "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.trc")
    for side in ("r", "l"):
        angles = detect_events(motion, side=side)
        refined = refine_events_with_markers(angles, markers)
        assert refined.method == "markers"
        stance = [to - fs for fs, to, _ in refined.strides()]
        assert stance and all(0.08 <= s <= 0.12 for s in stance)
        shift = refined.foot_strike - angles.foot_strike
        assert np.all((shift > 0.01) & (shift < 0.045))
    with pytest.raises(InputError, match="not in the file"):
        refine_events_with_markers(angles, markers, heel="NOPE")
    gappy = markers.copy(deep=True)
    gappy["markers"].loc[{"marker": "RHEEL"}] = np.nan
    with pytest.raises(InputError, match="gaps"):
        refine_events_with_markers(detect_events(motion, side="r"), gappy)


def test_events_cli_with_markers(data_dir, capsys):
    from musclesim.cli import main

    trial = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms"
    argv = ["events", str(data_dir / f"{trial}.mot"), "--markers", str(data_dir / f"{trial}.trc")]
    assert main([*argv, "--side", "l"]) == 0
    out = capsys.readouterr().out
    assert "side l (markers)" in out and "stance 0.100 s" in out
