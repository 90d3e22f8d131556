"""The drill kinematics check runs at a small size: the longest pose it finds is the drill
file's bottom position, relaxed fibre length grows with hip flexion and knee extension, the fibre
length at a pose follows the MTU length once the tendon is slack, and every comparison with
the literature is reported with its verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.drill_kinematics_check import build, regression_report, regressions, report, run

ROWS = (
    ("romanian_deadlift", None, "default"),
    ("single_leg_rdl", None, "default"),
    ("hip_extension_45", None, "default"),
    ("nordic_hamstring", 1.0, "full range"),
    ("running", 9.5, "max speed"),
)


@pytest.fixture(scope="module")
def outcome():
    setup = build(samples=64)
    return setup, run(setup, ROWS)


def test_longest_pose_is_the_bottom_of_the_hinge(outcome):
    setup, result = outcome
    rdl = next(r for r in result["rows"] if r["drill"] == "romanian_deadlift")
    bottom = setup.drills["romanian_deadlift"].motion["keyframes"][1]["pose"]
    assert math.isclose(rdl["hip_deg"], math.degrees(bottom[("hip_flexion", "both")]), abs_tol=1.0)
    assert math.isclose(
        rdl["knee_deg"], math.degrees(bottom[("knee_flexion", "both")]), abs_tol=1.0
    )


def test_relaxed_fibre_lengthens_with_hip_flexion_and_knee_extension(outcome):
    _, result = outcome
    grid = result["relaxed_grid_m"]
    for k in (0.0, 45.0, 90.0):
        assert grid[(0.0, k)] < grid[(45.0, k)] < grid[(90.0, k)]
    for h in (0.0, 45.0, 90.0):
        assert grid[(h, 90.0)] < grid[(h, 45.0)] < grid[(h, 0.0)]


def test_slack_tendon_passes_the_mtu_stretch_to_the_fibre(outcome):
    _, result = outcome
    rest, upright = result["upright_fiber_length_m"], result["upright_m"]
    for r in result["rows"]:
        if r["drill"] in ("romanian_deadlift", "hip_extension_45"):
            stretch = r["mtu_strain"] * upright
            # the fibre takes the stretch along its pennated direction, less tendon strain
            assert 0.8 * stretch < r["fiber_length_m"] - rest < 1.2 * stretch


def test_report_states_each_comparison_and_its_source(outcome):
    _, result = outcome
    text = report(result)
    for words in ("Schellenberg", "Timmins", "Chleboun", "Van Hooren", "Thelen", "Sprint peak"):
        assert words in text
    assert text.count("agrees") + text.count("DISAGREES") == 3
    assert not np.isnan([r["fiber_strain"] for r in result["rows"]]).any()


def test_range_regression_shortens_the_stretch_and_the_table_names_it(outcome):
    setup, _ = outcome
    rows = regressions(
        setup,
        (
            ("romanian_deadlift", None, "file default", {}),
            ("romanian_deadlift", None, "range 50 %", {"range_fraction": 0.5}),
        ),
    )
    full, half = rows
    assert half["mtu_strain"] < full["mtu_strain"] and half["fiber_strain"] < full["fiber_strain"]
    assert "range 50 %" in regression_report(rows)
