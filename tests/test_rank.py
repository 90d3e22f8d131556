"""Drill ranking for an athlete on a day: statuses in words, criteria and their utilisation,
the maximal admissible intensity, regression hints, no NaN anywhere a user reads."""

import csv
import datetime
import io
import warnings

import numpy as np
import pytest

from musclesim import InputError
from musclesim.training.criteria import CRITERION_NAMES

ATHLETE = "models/athletes/example_grade2_bflh.toml"
#: Drills of the shared ranking below: a calf exercise, walking, running, a hamstring strength
#: drill and two Askling lengthening drills (the hamstring injury loads all but the calf raise).
RANKED = [
    "calf_raise_double",
    "walking",
    "running",
    "nordic_hamstring",
    "askling_diver",
    "askling_extender",
]


@pytest.fixture(scope="module")
def athlete():
    from musclesim.core.io import REPO_ROOT
    from musclesim.training.athlete import load_athlete

    return load_athlete(REPO_ROOT / ATHLETE)


@pytest.fixture(scope="module")
def model(athlete):
    from musclesim.training.rank import athlete_model

    return athlete_model(athlete, "sprinter_ja1")


@pytest.fixture(autouse=True)
def _quiet_domain():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def ranked(athlete):
    from musclesim.training.rank import rank_drills

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rank_drills(
            athlete, day=athlete.injury_date + datetime.timedelta(days=7), names=RANKED
        )


def test_batched_and_one_by_one_evaluations_are_identical(model):
    from musclesim.training.rank import drill_peaks

    both = drill_peaks(model, "nordic_hamstring", [0.5, 1.0])
    for k, x in enumerate((0.5, 1.0)):
        one = drill_peaks(model, "nordic_hamstring", [x])
        for key, values in both.items():
            np.testing.assert_allclose(values[k], one[key][0], rtol=1e-9)


def test_reference_is_the_injured_muscles_running_envelope(model):
    from musclesim.training.rank import GRID_POINTS, drill_peaks, reference_peaks

    ref = reference_peaks(model)
    assert ref["speed"] == 9.5  # athlete's 9.6 m/s clipped to the measured range
    speeds = np.linspace(3.5, 9.5, GRID_POINTS)
    injured = drill_peaks(model, "running", speeds)
    uninjured = drill_peaks(model, "running", speeds, injured=False)
    for c in CRITERION_NAMES:
        # the largest value over the running speeds up to maximal (float32 batches differ by
        # about 1e-5 relative with their composition)
        assert ref[c] == pytest.approx(injured[c].max(), rel=1e-4)
        assert ref[c] >= injured[c][-1] * (1 - 1e-4)
        assert ref[c] > 0
    # the example's shorter fascicles strain more for the same stretch: the references are
    # the injured muscle's, not the uninjured one's
    assert ref["active_stretch"] > uninjured["active_stretch"].max()


def test_a_passively_stretched_drill_loads_the_muscle(ranked, model):
    """The Askling Extender's hamstrings stay at rest in the body statics (no active sample),
    yet its stretch makes the muscle carry more than the stated fraction of F_max: it loads
    it."""
    from musclesim.muscle.metrics import ACTIVE_FORCE_FRACTION

    extender = ranked.sel(drill="askling_extender")
    assert not bool(extender["loads_muscle"])
    assert float(extender["peak_force"]) >= ACTIVE_FORCE_FRACTION * float(
        model.injured.max_isometric_force
    )
    assert str(extender["status"].values) != "does not load the target muscle"


def test_calf_raise_does_not_load_the_hamstring(ranked):
    calf = ranked.sel(drill="calf_raise_double")
    assert str(calf["status"].values) == "does not load the target muscle"
    assert not bool(calf["loads_muscle"])
    for c in ("active_stretch", "active_negative_work", "active_lengthening_velocity"):
        assert float(calf[c]) == 0.0
    # the hamstring drills do load it
    for name in ("walking", "running", "nordic_hamstring"):
        assert bool(ranked.sel(drill=name)["loads_muscle"]), name


def test_status_binding_criterion_and_order_follow_the_utilisations(ranked):
    from musclesim.training.rank import STATUSES

    used = np.stack([ranked[f"utilisation_{c}"].values for c in CRITERION_NAMES])
    for i, name in enumerate(ranked.drill.values):
        r = ranked.sel(drill=name)
        status = str(r["status"].values)
        within = used[:, i].max() <= 1 + 1e-6
        assert within == (status in ("admissible", "does not load the target muscle")), name
        assert str(r["binding_criterion"].values) == CRITERION_NAMES[int(np.argmax(used[:, i]))]
        assert (status == "admissible after regression") == bool(str(r["regression"].values))
        for c in CRITERION_NAMES:
            limit = ranked.attrs[f"limit_fraction_{c}"] * ranked.attrs[f"reference_{c}"]
            assert float(r[f"limit_{c}"]) == pytest.approx(limit, rel=1e-9)
    groups = [STATUSES.index(str(s)) for s in ranked["status"].values]
    assert groups == sorted(groups)
    np.testing.assert_array_equal(ranked["rank"].values, np.arange(1, len(RANKED) + 1))


def test_no_nan_in_the_dataset_table_or_csv(ranked, tmp_path):
    from musclesim.training.rank import CSV_COLUMNS, ranking_table, write_ranking_csv

    for name, var in ranked.data_vars.items():
        if np.issubdtype(var.dtype, np.floating):
            assert np.isfinite(var.values).all(), name
    table = ranking_table(ranked)
    assert "nan" not in table.lower()
    path = write_ranking_csv(ranked, tmp_path / "rank.csv")
    rows = list(csv.reader(io.StringIO("".join(l for l in open(path) if not l.startswith("#")))))
    assert rows[0] == list(CSV_COLUMNS) and len(rows) == len(RANKED) + 1
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
    assert not any(cell.strip().lower() == "nan" for row in rows for cell in row)


def test_max_admissible_speed_meets_the_limit(ranked, model):
    """The interpolated and Newton-polished speed is within today's limits and close to them
    (the grid spacing is 1 m/s; without the polish the error would be up to that)."""
    from musclesim.training.criteria import utilisation
    from musclesim.training.rank import drill_peaks

    r = ranked.sel(drill="running")
    speed = float(r["max_admissible_intensity"])
    assert bool(r["intensity_admissible"])
    if speed < 9.5 - 1e-9:
        at = drill_peaks(model, "running", [speed])
        used = max(float(utilisation(at[c][0], float(r[f"limit_{c}"]))) for c in CRITERION_NAMES)
        assert 0.97 <= used <= 1 + 1e-6


def test_walking_is_cleared_no_later_than_jogging(ranked):
    """Walking at its slowest speed loads the hamstrings less than jogging, so a day that
    clears running at any speed also clears walking at its slowest."""
    running, walking = ranked.sel(drill="running"), ranked.sel(drill="walking")
    if bool(running["intensity_admissible"]):
        assert bool(walking["intensity_admissible"])


def test_sprint_reference_timing_is_reported(ranked):
    """The note names where each sprint reference peaks in the stride; the active stretch peaks
    in terminal swing, as published (Schache 2012, Chumanov 2011)."""
    toe = ranked.attrs["reference_toe_off_fraction"]
    stretch = ranked.attrs["reference_active_stretch_phase"]
    assert 0.5 * (toe + 1) <= stretch < 1.0
    force = ranked.attrs["reference_peak_force_phase"]
    note = ranked.attrs["sprint_reference_note"]
    assert (f"peak force at {force:.0%} of the stride (stance)" in note) == (force < toe)
    assert ("The model disagrees" in note) == (force < 0.5 * (toe + 1))


def test_regression_names_the_dimension_and_its_bound(ranked):
    """A drill admissible only after regression names, per workable dimension, the bound that
    brings it within today's limits, in the drill library's words."""
    from musclesim.training.drills import load_drills

    library = load_drills()
    checked = 0
    for name in ranked.drill.values:
        r = ranked.sel(drill=name)
        if str(r["status"].values) != "admissible after regression":
            continue
        checked += 1
        labels = {"range_fraction": "range", "tempo_s": "tempo", "load_bm": "load"}
        words = [labels.get(d.name, d.name.replace("_", " ")) for d in library[name].dimensions]
        for part in str(r["regression"].values).split(" or "):
            assert part.split()[0] in words and part.split()[1] in ("≤", "≥"), part
    # a week after a grade-2 injury the full-range Diver stretches the healing fibres beyond
    # today's limits, and a shorter dive brings it within them
    assert checked >= 1


def test_bad_inputs(athlete):
    from musclesim.training.rank import rank_drills

    with pytest.raises(InputError, match="unknown drill"):
        rank_drills(athlete, day=datetime.date(2026, 11, 20), names=["moonwalk"])
    with pytest.raises(InputError, match="future"):
        rank_drills(
            athlete, day=athlete.injury_date - datetime.timedelta(days=1), names=["running"]
        )


def test_athlete_metrics_feed_the_planner(athlete, model):
    from musclesim.training.plan import check_metrics
    from musclesim.training.rank import athlete_metrics, reference_peaks

    names = ["running", "nordic_hamstring", "calf_raise_double"]
    table = athlete_metrics(athlete, names=names, n_levels=2)
    check_metrics(table)
    assert table.attrs["muscle"] == "bflh_r"
    ref = reference_peaks(model)
    for c in CRITERION_NAMES:
        # one program for both, batches of different composition: float32 rounding apart
        assert table.attrs[f"reference_{c}"] == pytest.approx(ref[c], rel=1e-4)
        assert np.isfinite(table[c].values).all()
    running = table.sel(drill="running")
    assert running["active_stretch"].values[1] > running["active_stretch"].values[0]
    # full speed is within the reference envelope: today's limits at full recovery clear it
    assert running["active_stretch"].values[1] <= ref["active_stretch"] * (1 + 1e-4)
    assert str(running["dose_unit"].values) == "m"
    strides_per_m = running["exposures_per_dose"].values
    assert np.all((strides_per_m > 0.1) & (strides_per_m < 1.0))  # strides 1-10 m long
    assert list(table["loads_muscle"].sel(drill="calf_raise_double").values) == [0, 0]
    assert str(table["category"].sel(drill="nordic_hamstring").values) == "strength"


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


def test_an_acceleration_repetition_is_a_stride(model):
    """An acceleration's negative work per repetition is per stride, like the sprint stride it
    is compared with: its repetitions are the strides of its integrated phase, and its
    exposures over the set distance are those strides (the session total is unchanged)."""
    from musclesim.training.drills import load_drills
    from musclesim.training.rank import _exposures_per_dose, _motion, _repetitions

    library = load_drills()
    d = library["accelerations"]
    motion = _motion(model, d, 7.0, {}, library)
    strides = _repetitions(d, motion)
    duration = float(motion["time"].values[-1] - motion["time"].values[0])
    # between the stride frequencies of running at 3.5 and at 9.5 m/s (about 1.3-2.4 Hz)
    assert 1.2 * duration < strides < 2.5 * duration
    assert _exposures_per_dose(d, motion) * d.dose.distance_m == pytest.approx(strides)
