"""Clinical tests through the model's geometry: the injured muscle's MTU strain at the end of a
pain-free range test, its share of a knee-flexor torque and the force that share gives, and
the end-range limit and force capacity they put into today's limits."""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pytest
from conftest import make_athlete

from musclesim import InputError
from musclesim.geometry import load_model
from musclesim.training import capacity
from musclesim.training.athlete import Assessment, KneeFlexorTest, RangeTest
from musclesim.training.tolerance import LEG_LENGTH_FRACTION_OF_HEIGHT, todays_limits

MUSCLE = "bflh_r"
INJURY = datetime.date(2026, 11, 2)
REFS = {
    "active_stretch": 0.21,
    "active_negative_work": 31.0,
    "peak_force": 1900.0,
    "active_lengthening_velocity": 0.62,
    "end_range_length": 0.11,
}


@pytest.fixture(scope="module")
def geometry():
    return load_model("sprinter_ja1")


def test_range_test_poses_stretch_the_muscle_as_the_tests_do(geometry):
    """AKE: straighter knee (smaller angle) at hip 90 deg = longer hamstring; SLR and H-test:
    more hip flexion with a straight knee = longer; the AKE end pose is hip 90, knee angle."""
    ake = [capacity.range_test_strain(geometry, MUSCLE, "ake", a) for a in (60, 45, 30, 15)]
    slr = [capacity.range_test_strain(geometry, MUSCLE, "slr", a) for a in (40, 60, 80)]
    assert np.all(np.diff(ake) > 0) and np.all(np.diff(slr) > 0)
    assert ake[0] > 0  # hip 90 deg stretches the hamstring beyond upright even at knee 60
    assert capacity.range_test_strain(geometry, MUSCLE, "h_test", 80) == pytest.approx(slr[-1])
    assert capacity.range_test_strain(geometry, MUSCLE, "ake", 30) == pytest.approx(
        capacity.pose_mtu_strain(geometry, MUSCLE, hip_flexion_deg=90, knee_flexion_deg=30)
    )
    with pytest.raises(InputError, match="unknown range test"):
        capacity.range_test_strain(geometry, MUSCLE, "sit_and_reach", 30)


def test_knee_flexor_shares_sum_to_one_and_give_the_force(geometry):
    pose = dict(hip_flexion_deg=0.0, knee_flexion_deg=30.0)
    flexors = [
        "bflh_r",
        "bfsh_r",
        "semimem_r",
        "semiten_r",
        "grac_r",
        "sart_r",
        "gasmed_r",
        "gaslat_r",
    ]
    shares = {m: capacity.knee_flexor_share(geometry, m, **pose) for m in flexors}
    assert sum(s for s, _, _ in shares.values()) == pytest.approx(1.0, abs=0.02)
    share, arm, _ = shares[MUSCLE]
    assert 0 < share < 1 and 0.01 < arm < 0.08
    force = capacity.force_from_knee_flexor_torque(geometry, MUSCLE, 150.0, **pose)
    assert force == pytest.approx(150.0 * share / arm, rel=1e-9)
    twice = capacity.force_from_knee_flexor_torque(geometry, MUSCLE, 300.0, **pose)
    assert twice == pytest.approx(2 * force)
    taller = capacity.force_from_knee_flexor_torque(
        geometry, MUSCLE, 150.0, length_scale=1.1, **pose
    )
    assert taller == pytest.approx(force / 1.1)  # longer moment arms, less force per torque
    nordic = capacity.force_from_nordic(
        geometry, MUSCLE, 300.0, lever_m=0.44, knee_flexion_deg=30.0
    )
    assert nordic == pytest.approx(
        capacity.force_from_knee_flexor_torque(geometry, MUSCLE, 132.0, **pose)
    )


def test_bad_muscles_and_values(geometry):
    with pytest.raises(InputError, match="no knee-flexion moment arm"):
        capacity.knee_flexor_share(geometry, "vaslat_r", hip_flexion_deg=0, knee_flexion_deg=30)
    with pytest.raises(InputError, match="not in model"):
        capacity.range_test_strain(geometry, "bflh", "ake", 30)
    with pytest.raises(InputError, match="torque_nm"):
        capacity.force_from_knee_flexor_torque(
            geometry, MUSCLE, -5.0, hip_flexion_deg=0, knee_flexion_deg=30
        )


def test_end_range_limit_is_the_pain_free_pose(geometry):
    athlete = make_athlete()
    day = INJURY + datetime.timedelta(days=7)

    def limits(ake_injured, torque=(120.0, 70.0)):
        a = Assessment(
            date=day,
            pain_during=0.0,
            pain_after=0.0,
            ranges=(RangeTest("ake", ake_injured, 20.0),),
            knee_flexor=KneeFlexorTest((15.0, 90.0), 0.0, torque, (140.0, 80.0)),
        )
        return todays_limits(
            dataclasses.replace(athlete, assessments=(a,)), day, REFS, geometry=geometry
        )

    short = limits(45.0)
    strain = capacity.range_test_strain(geometry, MUSCLE, "ake", 45.0)
    assert short.pain_free_strain == pytest.approx(strain)
    assert short.values["end_range_length"] == pytest.approx(strain)
    assert limits(35.0).values["end_range_length"] > short.values["end_range_length"]
    full = limits(21.0, torque=(135.0, 78.0))
    assert full.cleared_for_full
    assert full.values["end_range_length"] == pytest.approx(
        max(REFS["end_range_length"], capacity.range_test_strain(geometry, MUSCLE, "ake", 21.0))
    )
    expected = max(
        capacity.force_from_knee_flexor_torque(
            geometry, MUSCLE, t, hip_flexion_deg=0.0, knee_flexion_deg=k
        )
        for k, t in ((15.0, 135.0), (90.0, 78.0))
    )
    assert full.force_capacity == pytest.approx(expected)
    assert "isometric force capacity" in full.basis


def test_nordic_capacity_uses_the_leg_lever(geometry):
    athlete = make_athlete()
    day = INJURY + datetime.timedelta(days=9)
    a = Assessment(
        date=day,
        pain_during=0.0,
        pain_after=0.0,
        nordic_injured_n=280.0,
        nordic_uninjured_n=320.0,
        nordic_knee_flexion_deg=30.0,
    )
    lim = todays_limits(
        dataclasses.replace(athlete, assessments=(a,)), day, REFS, geometry=geometry
    )
    lever = LEG_LENGTH_FRACTION_OF_HEIGHT * athlete.height
    assert lim.force_capacity == pytest.approx(
        capacity.force_from_nordic(geometry, MUSCLE, 280.0, lever_m=lever, knee_flexion_deg=30.0)
    )
    assert lim.strength_ratio == pytest.approx(280 / 320)
    assert "winter2009" in lim.sources
