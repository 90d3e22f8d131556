"""Drill ranking for an athlete on a day (sanity checks on the shipped sprinter)."""

import datetime
import warnings

import numpy as np
import pytest

from musclesim import InputError

ATHLETE = "models/athletes/example_grade2_bflh.toml"


@pytest.fixture(scope="module")
def athlete():
    from musclesim.core.io import REPO_ROOT
    from musclesim.training.athlete import load_athlete

    return load_athlete(REPO_ROOT / ATHLETE, today=datetime.date(2026, 11, 25))


@pytest.fixture(scope="module")
def model(athlete):
    from musclesim.training.rank import athlete_model

    return athlete_model(athlete, "sprinter_ja1")


@pytest.fixture(autouse=True)
def _quiet_domain():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_batched_and_one_by_one_evaluations_are_identical(model):
    from musclesim.training.rank import drill_peaks

    both = drill_peaks(model, "nordic_hamstring", [0.5, 1.0])
    for k, x in enumerate((0.5, 1.0)):
        one = drill_peaks(model, "nordic_hamstring", [x])
        for key, values in both.items():
            np.testing.assert_allclose(values[k], one[key][0], rtol=1e-9, equal_nan=True)


def test_injury_lowers_the_muscle_and_reference_is_max_sprint(model):
    from musclesim.training.rank import drill_peaks, reference_peaks

    ref = reference_peaks(model)
    assert ref["speed"] == 9.5  # athlete's 9.6 m/s clipped to the measured range
    injured = drill_peaks(model, "running", [9.5])
    # shorter fascicles (ratio 0.95) strain more for the same stretch
    assert injured["peak_eccentric_fiber_strain"][0] > ref["peak_eccentric_fiber_strain"]


@pytest.mark.slow
def test_ranking_max_safe_speed_rises_with_days_and_meets_the_limit(athlete):
    from musclesim.training.rank import rank_drills

    speeds = []
    for days in (10, 30):
        day = athlete.injury_date + datetime.timedelta(days=days)
        ds = rank_drills(athlete, day=day, names=["running"])
        r = ds.sel(drill="running")
        speeds.append(float(r["max_safe_intensity"]))
        if np.isfinite(speeds[-1]) and speeds[-1] < 9.5:
            # the root-found intensity reproduces the limit (within 1e-3 strain),
            # found by Newton steps with jax.grad through the whole pipeline
            assert abs(float(r["strain_at_max_safe_intensity"]) - float(r["limit"])) < 1e-3
            assert str(r["max_safe_method"].values) == "newton (jax.grad)"
    assert speeds[0] < speeds[1]
    early = rank_drills(
        athlete,
        day=athlete.injury_date + datetime.timedelta(days=5),
        names=["running"],
        with_max_safe=False,
    )
    # maximal-velocity sprinting (default intensity of the running drill is submaximal; check
    # the reference run directly): unsafe early after a grade-2 strain
    assert early.attrs["limit_strain_fraction"] < 1.0


def test_bad_inputs(athlete):
    from musclesim.training.rank import rank_drills

    with pytest.raises(InputError, match="unknown drill"):
        rank_drills(athlete, day=datetime.date(2026, 11, 20), names=["moonwalk"])
    with pytest.raises(InputError, match="future"):
        rank_drills(
            athlete, day=athlete.injury_date - datetime.timedelta(days=1), names=["running"]
        )


def test_athlete_metrics_feed_the_planner(athlete):
    from musclesim.training.plan import check_metrics
    from musclesim.training.rank import athlete_metrics

    table = athlete_metrics(athlete, names=["running", "nordic_hamstring"], n_levels=2)
    check_metrics(table)
    assert table.attrs["muscle"] == "bflh_r"
    running = table["peak_eccentric_fiber_strain"].sel(drill="running").values
    assert running[1] > running[0]  # 9.5 m/s strains more than 3.5 m/s
    assert str(table["dose_unit"].sel(drill="running").values) == "m"


def test_max_velocity_sprint_unsafe_early_and_allowed_by_the_expected_return_day(athlete):
    """The sanity check, for the example grade-2b BFLH athlete without measured fascicle
    shortening (with it, max-velocity strain exceeds the uninjured reference for good)."""
    import dataclasses

    from musclesim.training.rank import athlete_model, drill_peaks, reference_peaks
    from musclesim.training.tolerance import TolerancePolicy, tolerance_limit

    plain = dataclasses.replace(athlete, fascicle_length_ratio=None, strength_deficit=None)
    model = athlete_model(plain)
    reference = reference_peaks(model)
    sprint = drill_peaks(model, "running", [reference["speed"]])
    return_day = TolerancePolicy.default().recovery_days_for(plain)

    def safe(days):
        limit = tolerance_limit(
            plain,
            days,
            reference_strain=reference["peak_eccentric_fiber_strain"],
            reference_force=reference["peak_force"],
        )
        return (
            sprint["peak_eccentric_fiber_strain"][0] <= limit.strain + 1e-12
            and sprint["peak_force"][0] <= limit.force + 1e-9
        )

    assert not safe(5)
    assert safe(return_day)


@pytest.mark.slow
def test_walking_max_safe_speed_is_found_and_rises_with_days(athlete, model):
    """The walking template (measured stride, cadence and hip excursion growing with speed)
    strains the injured fibres more at higher speed, so a maximal safe walking speed exists
    on the days whose limit falls inside the drill's strain range."""
    from musclesim.training.rank import drill_peaks, rank_drills, reference_peaks
    from musclesim.training.tolerance import tolerance_limit

    speeds = np.linspace(1.0, 1.8, 5)
    peaks = drill_peaks(model, "walking", speeds)
    assert np.all(np.diff(peaks["peak_eccentric_fiber_strain"]) > 0)
    assert np.all(np.diff(peaks["peak_mtu_strain"]) > 0)
    lo, hi = peaks["peak_eccentric_fiber_strain"][[0, -1]]
    ref = reference_peaks(model)["peak_eccentric_fiber_strain"]
    # the days whose limit lies inside walking's strain range (there must be some)
    days = [
        d
        for d in range(0, 40)
        if lo < tolerance_limit(athlete, d, reference_strain=ref).strain < hi
    ]
    assert days
    found = []
    for d in (days[0], days[-1]):
        ds = rank_drills(
            athlete, day=athlete.injury_date + datetime.timedelta(days=d), names=["walking"]
        )
        r = ds.sel(drill="walking")
        speed = float(r["max_safe_intensity"])
        assert 1.0 < speed < 1.8
        assert abs(float(r["strain_at_max_safe_intensity"]) - float(r["limit"])) < 1e-3
        found.append(speed)
    assert len(days) > 1
    assert found[0] < found[1]


def test_resampled_drill_inputs_stay_inside_the_geometry_domain(model):
    """The walking knee is clamped at 0 deg; the resampling must not undershoot it (the
    Rajagopal-family knee range starts at 0), so no extrapolation warning in the demo."""
    from musclesim.geometry.model import GeometryDomainWarning
    from musclesim.pipeline.evaluate import mtu_lengths
    from musclesim.training.rank import drill_coordinates

    _, q = drill_coordinates(model, "walking", [1.0, 1.8])
    assert np.all(np.asarray(model.geometry.in_domain(q)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeometryDomainWarning)
        length, _ = mtu_lengths(model.geometry, q, length_scale=model.length_scale)
    assert np.all(np.isfinite(length))


def test_ranking_says_when_full_speed_can_never_be_cleared(athlete):
    import dataclasses

    from musclesim.training.rank import rank_drills, ranking_table

    day = athlete.injury_date + datetime.timedelta(days=21)
    ds = rank_drills(athlete, day=day, names=["walking"], with_max_safe=False)
    # the example's shorter fascicles: injured strain at full speed above the reference
    assert ds.attrs["full_speed_injured_to_reference"] > 1.0
    assert "not cleared on any day" in ds.attrs["max_velocity_note"]
    assert "5% shorter" in ranking_table(ds)
    healthy = dataclasses.replace(athlete, fascicle_length_ratio=None, strength_deficit=None)
    ds = rank_drills(healthy, day=day, names=["walking"], with_max_safe=False)
    assert ds.attrs["full_speed_injured_to_reference"] == pytest.approx(1.0)
    assert ds.attrs["max_velocity_note"] == ""
