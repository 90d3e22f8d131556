"""The BFLH parameter check at a small size: the body moments it compares with pass through
their key points, the table's model values are the loaded model's, the held poses and drills
obey the muscle's mechanics, and every row of the report names its source."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from experiments import bflh_parameter_check as check
from musclesim.muscle.metrics import ACTIVE_FORCE_FRACTION


@pytest.fixture(scope="module")
def setup():
    return check.build(samples=48)


@pytest.fixture(scope="module")
def outcome(setup):
    return check.run(setup)


def test_body_moments_pass_through_their_key_points(setup):
    # kneeling upright needs no knee moment; the lean grows it monotonically to the horizontal
    assert check.nordic_knee_moment(setup, 90.0, 0.0) == pytest.approx(0.0, abs=1e-9)
    lean = [check.nordic_knee_moment(setup, k, 0.0) for k in (90.0, 60.0, 30.0, 0.0)]
    assert all(a < b for a, b in zip(lean, lean[1:], strict=False))
    # on the bench the lever is longest with the trunk horizontal (hip flexion = inclination)
    hips = np.linspace(0.0, 90.0, 91)
    moments = [check.bench_hip_moment(setup, h, 0.0) for h in hips]
    assert hips[int(np.argmax(moments))] == pytest.approx(check.BENCH_INCLINATION_DEG)
    # a standing hinge needs nothing upright, and one leg carries what two share
    assert check.hinge_hip_moment(setup, 0.0, 0.5, 2) == pytest.approx(0.0, abs=1e-9)
    one, two = (check.hinge_hip_moment(setup, 60.0, 0.2, legs) for legs in (1, 2))
    assert one == pytest.approx(2 * two)
    # a plate adds its share of the HAT's moment
    ratio = check.bench_hip_moment(setup, 30.0, 0.2) / check.bench_hip_moment(setup, 30.0, 0.0)
    assert ratio == pytest.approx((check.HAT_MASS + 0.2) / check.HAT_MASS)


def test_model_values_are_the_loaded_model(setup, outcome):
    b = check.HAMSTRINGS.index(check.MUSCLE)
    p = setup.geometry.parameters
    par = outcome["parameters"]
    assert par["optimal_fiber_length"] == pytest.approx(float(p.optimal_fiber_length[b]))
    assert par["tendon_slack_length"] == pytest.approx(float(p.tendon_slack_length[b]))
    assert par["max_isometric_force"] == pytest.approx(float(p.max_isometric_force[b]))


def test_held_poses_obey_the_muscle(outcome):
    held = outcome["held"]
    relaxed = {pose: s for (pose, level), s in held.items() if level == check.RELAXED}
    # relaxed fibre lengthens with hip flexion and with knee extension
    for k in (0.0, 45.0, 90.0):
        assert relaxed[(0.0, k)]["fiber_length_m"] < relaxed[(90.0, k)]["fiber_length_m"]
    for h in (0.0, 45.0, 90.0):
        assert relaxed[(h, 90.0)]["fiber_length_m"] < relaxed[(h, 0.0)]["fiber_length_m"]
    # a maximal effort stretches the tendon and shortens the fibre at every pose
    for pose, s in relaxed.items():
        top = held[(pose, check.MAXIMAL)]
        assert top["tendon_strain"] > s["tendon_strain"]
        assert top["fiber_length_m"] < s["fiber_length_m"]
    # the Extender's end pose lies between hip 90 with the knee at 90 and straight
    hip, knee = outcome["extender_pose"]
    assert hip == pytest.approx(90.0, abs=1.0) and 0.0 <= knee <= 90.0


def test_drill_moments_and_the_active_stretch_sample(outcome):
    drills = outcome["drills"]
    nordic, bench = drills[check.NORDIC], drills[check.HIP_EXTENSION]
    assert nordic["hamstrings_knee_flexion_nm"] > 0 and bench["hamstrings_hip_extension_nm"] > 0
    assert nordic["demand_nm"] > 0 and bench["demand_nm"] > 0
    ext = drills[check.EXTENDER]
    # the criterion counts a sample as active by its active fibre force: its sample reaches
    # the threshold when the drill loads the muscle, and no sample does when it does not
    if ext["loads_muscle"]:
        assert ext["active_stretch_force"] >= ACTIVE_FORCE_FRACTION * (1 - 1e-9)
    else:
        assert ext["peak_active_force"] < ACTIVE_FORCE_FRACTION
        assert ext["active_stretch"] == 0.0
    product = (
        ext["active_stretch_activation"]
        * ext["active_stretch_force_length"]
        * ext["active_stretch_force_velocity"]
    )
    assert product == pytest.approx(ext["active_stretch_force"], rel=0.02, abs=1e-6)


def test_every_row_names_its_source_and_ratio(outcome):
    rows = check.rows(outcome)
    for r in rows:
        assert r.source and math.isfinite(r.model)
        if r.ratio is not None:
            assert r.ratio == pytest.approx(r.model / r.published)
    text = check.report(outcome)
    for key in (
        "ward2009",
        "timmins2016cohort",
        "kellis2012",
        "kellis2021",
        "chleboun2001",
        "thelen2005",
        "vanhooren2022",
        "sconce2021",
    ):
        assert check.reference(key)["doi"] in text
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
