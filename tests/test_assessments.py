"""The athlete file's assessment log and the per-criterion limits it sets: every malformed entry
names the file and the field; the limits fall with pain, a range deficit and a strength deficit;
the grade's time course is the prior without assessments; full limits (the injured muscle's own
maximal-speed values) once pain, range and strength meet the full criteria."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from hypothesis import given, settings, strategies as st

from musclesim import InputError
from musclesim.core.citations import REFERENCES
from musclesim.core.io import MODELS_DIR
from musclesim.training.athlete import Assessment, KneeFlexorTest, RangeTest, load_athlete
from musclesim.training.criteria import CRITERION_NAMES
from musclesim.training.tolerance import (
    TolerancePolicy,
    policy_summary,
    recovery_fraction,
    todays_limits,
)

ATHLETES = MODELS_DIR / "athletes"
TODAY = datetime.date(2026, 12, 7)
INJURY = datetime.date(2026, 11, 2)
#: Reference values in each criterion's unit (any positive numbers: limits scale them).
REFS = {
    "active_stretch": 0.21,
    "active_negative_work": 31.0,
    "peak_force": 1900.0,
    "active_lengthening_velocity": 0.62,
    "end_range_length": 0.11,
}

GOOD = """\
[athlete]
height_m = 1.80
mass_kg = 75.0
max_sprint_speed_m_per_s = 9.6
[injury]
muscle = "bflh"
side = "right"
grade = "2b"
date = 2026-11-02

[[assessments]]
date = 2026-11-05
pain_during = 1
pain_after = 0
ake_injured_deg = 45
ake_uninjured_deg = 20
knee_flexor_angles_deg = [15, 90]
knee_flexor_torque_injured_nm = [85, 55]
knee_flexor_torque_uninjured_nm = [140, 80]

[[assessments]]
date = 2026-11-12
pain_during = 0
pain_after = 0
slr_injured_deg = 70
slr_uninjured_deg = 85
nordic_force_injured_n = 250
nordic_force_uninjured_n = 320
fascicle_length_ratio = 0.97
"""


def day(n: int) -> datetime.date:
    return INJURY + datetime.timedelta(days=n)


def load(tmp_path, text):
    path = tmp_path / "athlete.toml"
    path.write_text(text)
    return load_athlete(path, today=TODAY)


def assessment(date, pain_during=0.0, pain_after=0.0, **kw):
    return Assessment(date=date, pain_during=pain_during, pain_after=pain_after, **kw)


def with_log(athlete, *log):
    return dataclasses.replace(athlete, assessments=tuple(log))


@pytest.fixture(scope="module")
def base():
    return load_athlete(ATHLETES / "example_grade2_bflh.toml", today=TODAY)


# ------------------------------------------------------------------------------------------
# Reading the log.
def test_good_log_reads_every_measurement(tmp_path):
    a = load(tmp_path, GOOD)
    first, second = a.assessments
    assert first.date == day(3) and first.pain_during == 1 and first.pain_after == 0
    assert first.ranges == (RangeTest("ake", 45.0, 20.0),)
    assert first.ranges[0].deficit_deg == pytest.approx(25.0)  # 70 deg vs 45 deg of extension
    assert first.knee_flexor.knee_angles_deg == (15.0, 90.0)
    assert first.knee_flexor.hip_flexion_deg == 0.0
    ratio, how = first.strength_ratio()
    assert ratio == pytest.approx((85 / 140 + 55 / 80) / 2) and "isometric" in how
    assert second.ranges[0].test == "slr" and second.ranges[0].deficit_deg == pytest.approx(15)
    assert second.strength_ratio()[0] == pytest.approx(250 / 320)
    assert a.latest_assessment(day(2)) is None
    assert a.latest_assessment(day(9)) is first and a.latest_assessment(day(30)) is second


def test_state_on_follows_the_latest_measurement(tmp_path):
    a = load(
        tmp_path,
        GOOD.replace(
            "date = 2026-11-02",
            "date = 2026-11-02\nfascicle_length_ratio = 0.95\nstrength_deficit = 0.3",
        ),
    )
    assert a.state_on(day(1)).fascicle_length_ratio == 0.95
    assert a.state_on(day(1)).strength_deficit == 0.3
    assert a.state_on(day(4)).fascicle_length_ratio == 0.95
    assert a.state_on(day(4)).strength_deficit == pytest.approx(1 - (85 / 140 + 55 / 80) / 2)
    assert a.state_on(day(12)).fascicle_length_ratio == 0.97
    assert a.state_on(day(12)).strength_deficit == pytest.approx(1 - 250 / 320)


def test_shipped_examples_read_and_recover(base):
    fascicles = load_athlete(ATHLETES / "example_grade2_bflh_fascicles.toml", today=TODAY)
    pain = load_athlete(ATHLETES / "example_grade2_bflh_pain.toml", today=TODAY)
    assert len(base.assessments) >= 4 and all(
        a.pain_during == 0 == a.pain_after for a in base.assessments
    )
    ratios = [a.fascicle_length_ratio for a in fascicles.assessments]
    assert fascicles.fascicle_length_ratio == 0.95 and ratios[0] == 0.95
    assert ratios == sorted(ratios) and ratios[-1] > 0.95
    assert any(a.pain_after > 0 for a in pain.assessments)


BAD = [
    # (old, new, field, word in the message)
    ("date = 2026-11-12", "date = 2026-11-04", "assessments[1].date", "does not follow"),
    ("date = 2026-11-05", "date = 2026-11-01", "assessments[0].date", "before the injury"),
    ("date = 2026-11-12", "date = 2026-12-24", "assessments[1].date", "future"),
    ("date = 2026-11-05", "date = 2026-11-05T10:00:00", "assessments[0].date", "time"),
    ("pain_during = 1", "pain_during = 11", "assessments[0].pain_during", "implausible"),
    ("pain_during = 1", "pain_during = -1", "assessments[0].pain_during", "negative"),
    ("pain_during = 1\n", "", "assessments[0].pain_during", "missing"),
    ("pain_after = 0\nake", 'pain_after = "none"\nake', "assessments[0].pain_after", "type"),
    ("ake_injured_deg = 45", "ake_injured_deg = 120", "assessments[0].ake_injured_deg", "90"),
    ("slr_injured_deg = 70", "slr_injured_deg = 1.2", "assessments[1].slr_injured_deg", "10"),
    ("slr_uninjured_deg = 85\n", "", "assessments[1].slr_uninjured_deg", "both sides"),
    (
        "knee_flexor_torque_injured_nm = [85, 55]",
        "knee_flexor_torque_injured_nm = [85]",
        "assessments[0].knee_flexor_torque_injured_nm",
        "1 torque(s) for 2 angle(s)",
    ),
    (
        "knee_flexor_torque_injured_nm = [85, 55]",
        "knee_flexor_torque_injured_nm = [8500, 55]",
        "assessments[0].knee_flexor_torque_injured_nm",
        "implausible",
    ),
    (
        "knee_flexor_angles_deg = [15, 90]\n",
        "",
        "assessments[0].knee_flexor_angles_deg",
        "angles",
    ),
    (
        "nordic_force_injured_n = 250",
        "nordic_force_injured_n = 2500",
        "assessments[1].nordic_force_injured_n",
        "implausible",
    ),
    (
        "fascicle_length_ratio = 0.97",
        "strength_ratio = 85",
        "assessments[1].strength_ratio",
        "percentage",
    ),
    (
        "fascicle_length_ratio = 0.97",
        "fascicle_length_ratio = 9.7",
        "assessments[1].fascicle_length_ratio",
        "implausible",
    ),
    (
        "fascicle_length_ratio = 0.97",
        "nordic_knee_flexion_deg = 30",
        "assessments[1].nordic_force_injured_n",
        "without a Nordic force",
    ),
    (
        "pain_after = 0\nake",
        "pain_after = 0\nake_left_deg = 3\nake",
        "assessments[0].ake_left_deg",
        "unknown field",
    ),
]


@pytest.mark.parametrize(("old", "new", "field", "word"), BAD)
def test_malformed_log_names_file_and_field(tmp_path, old, new, field, word):
    text = GOOD.replace(old, new, 1)
    if field == "assessments[1].nordic_force_injured_n":  # the Nordic angle without its force
        text = text.replace("nordic_force_injured_n = 250\n", "")
    assert text != GOOD
    with pytest.raises(InputError) as err:
        load(tmp_path, text)
    message = str(err.value)
    assert str(tmp_path / "athlete.toml") in message and field in message
    assert word in message
    assert "\n" not in message


def test_log_must_be_an_array_of_tables(tmp_path):
    text = GOOD.split("[[assessments]]")[0] + "[assessments]\ndate = 2026-11-05\n"
    with pytest.raises(InputError, match=r"athlete\.toml: assessments: .*array of tables"):
        load(tmp_path, text)


# ------------------------------------------------------------------------------------------
# Today's limits.
def test_prior_without_assessments_is_the_grade_time_course(base):
    plain = with_log(base)
    policy = TolerancePolicy.default()
    total = policy.recovery_days_for(plain)
    for n in (0, 3, 8, 12, 18, 40):
        lim = todays_limits(plain, day(n), REFS)
        common = {"protection_days": policy.protection_for(total), "full_fraction": 1.0}
        r = float(recovery_fraction(n, total, start_fraction=policy.start_fraction, **common))
        r_f = float(
            recovery_fraction(n, total, start_fraction=policy.force_start_fraction, **common)
        )
        assert lim.assessment_date is None and not lim.cleared_for_full
        assert lim.fractions["peak_force"] == pytest.approx(r_f)
        for name in ("active_stretch", "active_negative_work", "end_range_length"):
            assert lim.fractions[name] == pytest.approx(r)
        for name in REFS:
            assert lim.values[name] == pytest.approx(lim.fractions[name] * REFS[name])
        assert "no assessment" in lim.basis


def test_latest_assessment_on_or_before_the_day_sets_the_limits(base):
    for a in base.assessments:
        lim = todays_limits(base, a.date, REFS)
        assert lim.assessment_date == a.date
    assert todays_limits(base, day(1), REFS).assessment_date is None
    between = base.assessments[1].date + datetime.timedelta(days=1)
    assert todays_limits(base, between, REFS).assessment_date == base.assessments[1].date


def test_full_limits_at_recovery_are_the_references(base):
    last = base.assessments[-1]
    lim = todays_limits(base, last.date, REFS)
    assert lim.cleared_for_full
    assert set(lim.values) == set(CRITERION_NAMES)
    for name, ref in REFS.items():
        assert lim.fractions[name] == pytest.approx(1.0)
        assert lim.values[name] == pytest.approx(ref)
    assert "met" in lim.basis.splitlines()[-1]
    assert day(18) >= last.date  # cleared by the expected return day of a 2b injury


def test_pain_or_range_deficit_keeps_full_speed_closed():
    pain = load_athlete(ATHLETES / "example_grade2_bflh_pain.toml", today=TODAY)
    expected_return = TolerancePolicy.default().expected_return_date(pain)
    lim = todays_limits(pain, expected_return, REFS)
    assert not lim.cleared_for_full
    assert all(lim.fractions[name] < 1.0 for name in ("active_stretch", "peak_force"))
    later = todays_limits(pain, pain.assessments[-1].date, REFS)
    assert later.cleared_for_full and later.fractions["active_stretch"] == pytest.approx(1.0)


def test_fascicle_example_clears_full_speed_by_the_expected_return():
    a = load_athlete(ATHLETES / "example_grade2_bflh_fascicles.toml", today=TODAY)
    expected_return = TolerancePolicy.default().expected_return_date(a)
    lim = todays_limits(a, expected_return, REFS)
    assert lim.cleared_for_full
    assert a.state_on(expected_return).fascicle_length_ratio > a.fascicle_length_ratio


def _one(base, **kw):
    """Limits on day 10 from one assessment on that day."""
    return todays_limits(with_log(base, assessment(day(10), **kw)), day(10), REFS)


FULL = dict(ranges=(RangeTest("ake", 20.0, 20.0),), strength_ratio_given=1.0)


@settings(max_examples=40, deadline=None)
@given(
    lo=st.floats(0.0, 10.0),
    hi=st.floats(0.0, 10.0),
    which=st.sampled_from(["pain_during", "pain_after"]),
)
def test_limits_fall_with_pain(base, lo, hi, which):
    lo, hi = min(lo, hi), max(lo, hi)
    less = _one(base, **FULL, **{which: lo})
    more = _one(base, **FULL, **{which: hi})
    for name in REFS:
        assert more.values[name] <= less.values[name] + 1e-12
    if hi >= 0.1:  # any pain on the 0-10 scale (scores are read to a tenth at best)
        assert not more.cleared_for_full
        assert more.fractions["active_stretch"] < 1.0


@settings(max_examples=40, deadline=None)
@given(lo=st.floats(0.0, 90.0), hi=st.floats(0.0, 90.0))
def test_limits_fall_with_a_range_deficit(base, lo, hi):
    """A larger AKE angle (knee less straight) is less pain-free range."""
    short, long_ = max(lo, hi), min(lo, hi)
    worse = _one(base, ranges=(RangeTest("ake", short, 15.0),), strength_ratio_given=1.0)
    better = _one(base, ranges=(RangeTest("ake", long_, 15.0),), strength_ratio_given=1.0)
    for name in REFS:
        assert worse.values[name] <= better.values[name] + 1e-12
    deficit = short - 15.0
    assert worse.cleared_for_full == (deficit <= 5.0)


@settings(max_examples=40, deadline=None)
@given(lo=st.floats(0.05, 1.5), hi=st.floats(0.05, 1.5))
def test_limits_rise_with_strength(base, lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)
    weak = _one(base, ranges=FULL["ranges"], strength_ratio_given=lo)
    strong = _one(base, ranges=FULL["ranges"], strength_ratio_given=hi)
    for name in REFS:
        assert weak.values[name] <= strong.values[name] + 1e-12
    assert weak.cleared_for_full == (lo >= 0.9)
    assert weak.fractions["peak_force"] == pytest.approx(min(1.0, lo / 0.9))


def test_unmeasured_items_fall_back_on_the_prior(base):
    """A pain-only assessment keeps the time course for range and strength."""
    plain = dataclasses.replace(base, strength_deficit=None)
    early = todays_limits(with_log(plain, assessment(day(2))), day(2), REFS)
    prior = todays_limits(with_log(plain), day(2), REFS)
    assert early.fractions == pytest.approx(prior.fractions)
    assert not early.cleared_for_full
    assert "no pain-free range measured" in early.basis
    assert "no strength measured" in early.basis


def test_session_readings_lower_the_assessment_limits(base):
    last = base.assessments[-1].date
    calm = todays_limits(base, last, REFS)
    sore = todays_limits(base, last, REFS, pain=4.0, soreness=1.0)
    assert sore.fractions["active_stretch"] < calm.fractions["active_stretch"]
    assert sore.session_pain == 4.0


def test_bad_references_and_days(base):
    with pytest.raises(InputError, match="unknown criterion 'peak_eccentric_fiber_strain'"):
        todays_limits(base, day(5), {"peak_eccentric_fiber_strain": 0.2})
    with pytest.raises(InputError, match=r"references\.peak_force"):
        todays_limits(base, day(5), {"peak_force": 0.0})
    with pytest.raises(InputError, match="before the injury"):
        todays_limits(base, day(-1), REFS)


# ------------------------------------------------------------------------------------------
# Policy.
def test_assessment_policy_from_toml(tmp_path, base):
    path = tmp_path / "policy.toml"
    path.write_text(
        "[assessment]\nfull_strength_ratio = 0.95\nfull_range_deficit_deg = 10\n"
        "[assessment.pain_during]\nsafe_max = 4.0\nacceptable_max = 6.0\n"
    )
    policy = TolerancePolicy.load(path)
    assert policy.assessment.full_strength_ratio == 0.95
    assert policy.assessment.pain_during.safe_max == 4.0
    assert policy.assessment.pain_after.safe_max == 0.0  # untouched table keeps its defaults
    a = with_log(base, assessment(day(10), pain_during=3.0, **FULL))
    assert todays_limits(a, day(10), REFS, policy=policy).fractions["peak_force"] == 1.0
    assert todays_limits(a, day(10), REFS).fractions["peak_force"] < 1.0
    summary = policy_summary(policy)
    assert "95 %" not in summary and "0.95" in summary


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[assessment]\nfull_strength_ratio = 0\n", "assessment.full_strength_ratio"),
        ("[assessment]\nfull_range_deficit_deg = 90\n", "assessment.full_range_deficit_deg"),
        ("[assessment]\nfull_range = 5\n", "assessment.full_range"),
        ("[assessment.pain_after]\nsafe_max = 6.0\n", "assessment.pain_after"),
        ('[assessment]\nfull_strength_ratio = "high"\n', "assessment.full_strength_ratio"),
        ("[assessment.pain_during]\nsafe = 1\n", "assessment.pain_during.safe"),
    ],
)
def test_bad_assessment_policy_names_the_field(tmp_path, text, field):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        TolerancePolicy.load(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_summary_prints_the_assessment_rules_with_their_sources():
    summary = policy_summary()
    for key in ("vandyk2019", "vanderhorst2017", "reurink2013", "hickey2017", "askling2010"):
        assert f"doi:{REFERENCES[key]['doi']}" in summary
    assert "f_S = min(1, strength ratio / 0.9)" in summary


def test_session_limits_read_the_table_references_and_the_day_reading(base):
    """The planner's view: the table's reference_<criterion> attributes, the latest reading
    within the policy's horizon, the latest assessment on or before the day."""
    import xarray as xr

    from musclesim.training.plan.limits import session_limits

    table = xr.Dataset(attrs={f"reference_{k}": v for k, v in REFS.items()})
    policy = TolerancePolicy.default()
    last = base.assessments[-1].date
    readings = ((last - datetime.timedelta(days=1), 4.0, 0.0),)
    lim = session_limits(base, policy, table, last, readings)
    assert set(lim.values) == set(CRITERION_NAMES)
    assert lim.session_pain == 4.0 and lim.assessment_date == last
    assert lim.values == pytest.approx(todays_limits(base, last, REFS, pain=4.0).values)
    stale = last + datetime.timedelta(days=policy.autoregulation_horizon_days + 1)
    quiet = session_limits(base, policy, table, stale, readings)
    assert quiet.session_pain == 0.0 and quiet.values == pytest.approx(REFS)


def test_hamstring_range_tests_do_not_limit_a_calf_injury(base):
    """An AKE deficit says nothing about a soleus strain: its range factor stays the prior."""
    soleus = dataclasses.replace(base, muscle="soleus", strength_deficit=None)
    log = (assessment(day(10), ranges=(RangeTest("ake", 60.0, 20.0),), strength_ratio_given=1.0),)
    lim = todays_limits(with_log(soleus, *log), day(10), REFS)
    prior = todays_limits(with_log(soleus), day(10), REFS)
    assert lim.fractions["end_range_length"] == pytest.approx(prior.fractions["end_range_length"])
    assert "not a soleus muscle" in lim.basis and lim.range_deficit_deg == {}
    torque_only = assessment(
        day(10),
        knee_flexor=KneeFlexorTest((30.0,), 0.0, (50.0,), (140.0,)),
    )
    weak_knee = todays_limits(with_log(soleus, torque_only), day(10), REFS)
    assert weak_knee.strength_ratio is None and "no strength measured" in weak_knee.basis
    assert todays_limits(with_log(soleus, *log), day(10), REFS).strength_ratio == 1.0


def test_state_on_of_a_calf_injury_ignores_knee_flexor_tests(base):
    calf = dataclasses.replace(base, muscle="gastrocnemius_medialis", strength_deficit=0.2)
    torque = assessment(day(5), knee_flexor=KneeFlexorTest((30.0,), 0.0, (50.0,), (140.0,)))
    written = assessment(day(9), strength_ratio_given=0.7)
    a = with_log(calf, torque, written)
    assert a.state_on(day(6)).strength_deficit == 0.2
    assert a.state_on(day(9)).strength_deficit == pytest.approx(0.3)
    assert with_log(calf, torque).state_on(day(30)).strength_deficit == 0.2
    hamstring = with_log(base, torque)
    assert hamstring.state_on(day(6)).strength_deficit == pytest.approx(1 - 50 / 140)
