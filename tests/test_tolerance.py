"""Tissue tolerance: key points of the recovery curve, sourced values, monotonicity, gradients,
autoregulation, policy configuration and the printed summary."""

from __future__ import annotations

import datetime

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from musclesim import InputError
from musclesim.training.athlete import Athlete
from musclesim.training.tolerance import (
    CALF_MEAN_DAYS,
    HAMSTRING_COHORT_MEAN_DAYS,
    REFERENCES,
    TolerancePolicy,
    autoregulation_multiplier,
    policy_summary,
    recovery_fraction,
    tolerance_limit,
)


def athlete(grade="2b", muscle="bflh"):
    return Athlete(
        height=1.8,
        mass=75.0,
        max_sprint_speed=9.6,
        muscle=muscle,
        side="right",
        grade=grade,
        injury_date=datetime.date(2026, 11, 2),
    )


def test_curve_key_points():
    r0, r1, dp, T = 0.4, 1.0, 3.0, 21.0

    def f(d):
        return float(
            recovery_fraction(
                d,
                T,
                start_fraction=r0,
                protection_days=dp,
                full_fraction=r1,
            )
        )

    assert f(0.0) == pytest.approx(r0)
    assert f(dp) == pytest.approx(r0)
    assert f((dp + T) / 2) == pytest.approx((r0 + r1) / 2)
    assert f(T) == pytest.approx(r1)
    assert f(T + 30) == pytest.approx(r1)
    # zero slope at both ends of the rise (C1 smootherstep)
    g = jax.grad(lambda d: recovery_fraction(d, T, start_fraction=r0, protection_days=dp))
    assert float(g(dp + 1e-9)) == pytest.approx(0.0, abs=1e-6)
    assert float(g(T - 1e-9)) == pytest.approx(0.0, abs=1e-6)
    # peak slope at the midpoint: 15/8 (r1 - r0) / (T - dp)
    assert float(g((dp + T) / 2)) == pytest.approx(15 / 8 * (r1 - r0) / (T - dp))


def test_gradient_matches_finite_differences():
    f = lambda d, T: recovery_fraction(d, T, start_fraction=0.5, protection_days=3.0)  # noqa: E731
    for d in (5.0, 9.3, 14.0):
        gd, gT = jax.grad(f, argnums=(0, 1))(d, 18.0)
        h = 1e-6
        fd = (f(d + h, 18.0) - f(d - h, 18.0)) / (2 * h)
        fT = (f(d, 18.0 + h) - f(d, 18.0 - h)) / (2 * h)
        assert float(gd) == pytest.approx(float(fd), rel=1e-6)
        assert float(gT) == pytest.approx(float(fT), rel=1e-6)
        assert float(gd) > 0 and float(gT) < 0
    days = jnp.linspace(-5.0, 60.0, 301)
    grads = jax.vmap(jax.grad(lambda d: f(d, 18.0)))(days)
    assert bool(jnp.all(jnp.isfinite(grads)))


def test_sourced_recovery_times():
    policy = TolerancePolicy.default()
    # Pollock et al. 2022, abstract: mean TRFT 34 d (2c) and 48 d (3c).
    assert policy.recovery_days_for(athlete("2c")) == 34.0
    assert policy.recovery_days_for(athlete("3c")) == 48.0
    # at those days the limit reaches the uninjured value at maximal sprint speed
    assert tolerance_limit(athlete("2c"), 34).strain_fraction == pytest.approx(1.0)
    assert tolerance_limit(athlete("3c"), 48).strain_fraction == pytest.approx(1.0)
    assert tolerance_limit(athlete("3c"), 34).strain_fraction < 1.0
    # calf: pooled means (gastrocnemius 7.7 d, soleus 25.1 d) scaled by the hamstring ratio
    for muscle, group in (("soleus", "soleus"), ("gastrocnemius_medialis", "gastrocnemius")):
        days = policy.recovery_days_for(athlete("2b", muscle))
        assert days == pytest.approx(
            CALF_MEAN_DAYS[group] * 18.0 / HAMSTRING_COHORT_MEAN_DAYS, abs=0.05
        )
    assert CALF_MEAN_DAYS == {"gastrocnemius": 7.7, "soleus": 25.1}
    # expected days rise with extent within each site, and c (intratendinous) exceeds b
    ham = policy.recovery_days["hamstring"]
    for site in "abc":
        seq = [ham[f"{g}{site}"] for g in "123"]
        assert seq == sorted(seq)
    for g in "123":
        assert ham[f"{g}c"] > ham[f"{g}b"] >= ham[f"{g}a"]


def test_expected_return_date():
    policy = TolerancePolicy.default()
    a = athlete("2b")
    assert policy.expected_return_date(a) == datetime.date(2026, 11, 20)  # + 18 d
    b = Athlete(**{**a.__dict__, "target_return_date": datetime.date(2026, 12, 1)})
    assert policy.expected_return_date(b) == datetime.date(2026, 12, 1)


def test_grade_four_has_no_default():
    with pytest.raises(InputError, match="grade 4 hamstring"):
        tolerance_limit(athlete("4"), 10)
    policy = TolerancePolicy.from_dict({"recovery_days": {"hamstring": {"4": 90}}})
    assert tolerance_limit(athlete("4"), 90, policy=policy).strain_fraction == pytest.approx(1)


@settings(max_examples=60, deadline=None)
@given(
    d1=st.floats(0, 80),
    d2=st.floats(0, 80),
    grade=st.sampled_from(["0a", "1b", "2b", "2c", "3b", "3c"]),
)
def test_limit_rises_with_days(d1, d2, grade):
    lo, hi = sorted((d1, d2))
    a = athlete(grade)
    assert tolerance_limit(a, lo).strain_fraction <= tolerance_limit(a, hi).strain_fraction + 1e-12
    assert tolerance_limit(a, lo).force_fraction <= tolerance_limit(a, hi).force_fraction + 1e-12


@settings(max_examples=60, deadline=None)
@given(p1=st.floats(0, 10), p2=st.floats(0, 10), s=st.floats(0, 10))
def test_limit_falls_with_pain(p1, p2, s):
    lo, hi = sorted((p1, p2))
    a = athlete()
    assert tolerance_limit(a, 10, pain=hi, soreness=s).strain_fraction <= (
        tolerance_limit(a, 10, pain=lo, soreness=s).strain_fraction + 1e-12
    )
    assert tolerance_limit(a, 10, soreness=hi, pain=s).strain_fraction <= (
        tolerance_limit(a, 10, soreness=lo, pain=s).strain_fraction + 1e-12
    )


def test_autoregulation_zones():
    m = lambda p=0.0, s=0.0: float(autoregulation_multiplier(p, s))  # noqa: E731
    # safe zone 0-2: no change (Thomeé 1997; Silbernagel et al. 2007)
    assert m(0) == 1.0 and m(2) == 1.0 and m(s=2) == 1.0
    # acceptable zone 2-5: linear down to 0.5 at 5
    assert m(3.5) == pytest.approx(0.75)
    assert m(5) == pytest.approx(0.5)
    # high-risk zone > 5: no stretch loading
    assert m(5.01) == 0.0 and m(10) == 0.0
    # the smaller of pain and soreness governs
    assert m(3.5, 5) == pytest.approx(0.5)
    assert m(0, 3.5) == pytest.approx(0.75)
    for bad in (-1, 11, float("nan")):
        with pytest.raises(InputError, match="0-10"):
            m(bad)


def test_absolute_limits():
    lim = tolerance_limit(athlete(), 30, pain=3.5, reference_strain=0.12, reference_force=2000.0)
    assert lim.recovery == pytest.approx(1.0)
    assert lim.multiplier == pytest.approx(0.75)
    assert lim.strain == pytest.approx(0.09)
    assert lim.force == pytest.approx(1500.0)
    early = tolerance_limit(athlete(), 0, reference_strain=0.12, reference_force=2000.0)
    assert early.strain == pytest.approx(0.06) and early.force == pytest.approx(1000.0)
    with pytest.raises(InputError, match="reference_strain"):
        tolerance_limit(athlete(), 3, reference_strain=0.0)
    with pytest.raises(InputError, match="days_since_injury"):
        tolerance_limit(athlete(), -1)


def test_protection_phase_capped_for_short_recoveries():
    policy = TolerancePolicy.default()
    a = athlete("0b", "gastrocnemius_medialis")  # about 1.2 d
    total = policy.recovery_days_for(a)
    assert policy.protection_for(total) == pytest.approx(0.25 * total)
    assert tolerance_limit(a, total).strain_fraction == pytest.approx(1.0)


def test_policy_overrides_and_toml(tmp_path):
    p = TolerancePolicy.from_dict(
        {
            "start_fraction": 0.3,
            "pain": {"safe_max": 3.0},
            "recovery_days": {"hamstring": {"2b": 24}},
        }
    )
    assert p.start_fraction == 0.3 and p.pain.safe_max == 3.0 and p.pain.acceptable_max == 5
    assert p.recovery_days["hamstring"]["2b"] == 24 and p.recovery_days["hamstring"]["2a"] == 16
    path = tmp_path / "policy.toml"
    path.write_text('start_fraction = 0.35\n[recovery_days.soleus]\n2b = 30\n2c = "none"\n')
    q = TolerancePolicy.load(path)
    assert q.start_fraction == 0.35 and q.recovery_days["soleus"]["2b"] == 30
    assert q.recovery_days["soleus"]["2c"] is None
    assert q.source == str(path)
    assert str(path) in policy_summary(q)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"bogus": 1}, "bogus"),
        ({"start_fraction": 1.5}, "start_fraction"),
        ({"start_fraction": "half"}, "start_fraction"),
        ({"pain": {"safe_max": 6.0}}, "pain.safe_max/acceptable_max"),
        ({"pain": {"colour": 1}}, "pain.colour"),
        ({"soreness": {"multiplier_high_risk": 2.0}}, "soreness.multiplier_high_risk"),
        ({"recovery_days": {"hamstring": {"5a": 10}}}, "recovery_days.hamstring.5a"),
        ({"recovery_days": {"hamstring": {"2b": 0}}}, "recovery_days.hamstring.2b"),
        ({"autoregulation_horizon_days": 1.5}, "autoregulation_horizon_days"),
        ({"protection_days": -1.0}, "protection_days"),
    ],
)
def test_bad_policy(tmp_path, overrides, field):
    with pytest.raises(InputError) as info:
        TolerancePolicy.from_dict(overrides, source=str(tmp_path / "p.toml"))
    assert info.value.field == field
    assert str(tmp_path / "p.toml") in str(info.value)


def test_bad_policy_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        TolerancePolicy.load(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("start_fraction = = 1")
    with pytest.raises(InputError, match="not valid TOML"):
        TolerancePolicy.load(bad)


def test_summary_states_policy_and_sources():
    text = policy_summary(TolerancePolicy.default(), athlete("2c"))
    for needle in (
        "policy",
        "Pollock et al. 2022",
        REFERENCES["pollock2022"]["doi"],
        REFERENCES["silbernagel2007"]["doi"],
        REFERENCES["thomee1997"]["doi"],
        REFERENCES["jarvinen2005"]["doi"],
        "TRFT 34 d",
        "34 +/- 7",
        "evidence thin",
    ):
        assert needle in text, needle
    text4 = policy_summary(TolerancePolicy.default(), athlete("4"))
    assert "no expected return time" in text4


def test_recovery_fraction_vmaps_over_athletes():
    days = jnp.array([5.0, 10.0, 20.0])
    totals = jnp.array([12.0, 18.0, 34.0])
    out = jax.vmap(lambda d, t: recovery_fraction(d, t))(days, totals)
    one = [float(recovery_fraction(d, t)) for d, t in zip(days, totals, strict=True)]
    np.testing.assert_allclose(out, one)


def test_references_are_data():
    for key, ref in REFERENCES.items():
        assert {"authors", "year", "title", "journal", "doi", "used_for"} <= set(ref), key


def test_shipped_example_policy():
    from musclesim.core.io import MODELS_DIR

    p = TolerancePolicy.load(MODELS_DIR / "policy" / "example_conservative.toml")
    assert p.recovery_days["hamstring"]["2b"] == 24 and p.start_fraction == 0.4
    assert p.pain.safe_max == 1.0 and p.soreness.safe_max == 2.0
    a = athlete("2b")
    assert tolerance_limit(a, 10, policy=p).strain_fraction < tolerance_limit(a, 10).strain_fraction


def test_shipped_example_policy_is_stricter_on_assessments():
    """Its [assessment] table: a higher strength bar, a narrower range margin and steeper pain
    zones than the defaults, each lowering the limits from the same assessment."""
    import dataclasses
    import datetime

    from musclesim.core.io import MODELS_DIR
    from musclesim.training.athlete import Assessment, RangeTest
    from musclesim.training.tolerance import todays_limits

    p = TolerancePolicy.load(MODELS_DIR / "policy" / "example_conservative.toml")
    assert p.assessment.full_strength_ratio == 0.95
    assert p.assessment.full_range_deficit_deg == 3.0
    assert p.assessment.pain_during.acceptable_max == 3.0
    assert p.assessment.pain_after.safe_max == 0.0
    day = datetime.date(2026, 11, 12)
    refs = {"active_stretch": 0.2, "peak_force": 2000.0}
    for kw in (
        dict(pain_during=0.0, ranges=(RangeTest("ake", 20.0, 20.0),), strength_ratio_given=0.92),
        dict(pain_during=0.0, ranges=(RangeTest("ake", 24.0, 20.0),), strength_ratio_given=1.0),
        dict(pain_during=2.0, ranges=(RangeTest("ake", 20.0, 20.0),), strength_ratio_given=1.0),
    ):
        log = (Assessment(date=day, pain_after=0.0, **kw),)
        a = dataclasses.replace(athlete("2b"), assessments=log)
        strict = todays_limits(a, day, refs, policy=p)
        default = todays_limits(a, day, refs)
        assert strict.fractions["active_stretch"] < default.fractions["active_stretch"], kw


def test_negative_recovery_days_are_refused_not_read_as_no_return_time(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("[recovery_days.hamstring]\n2b = -5\n")
    with pytest.raises(InputError) as err:
        TolerancePolicy.load(path)
    text = str(err.value)
    assert "policy.toml" in text and "recovery_days.hamstring.2b" in text
    assert "-5 is not a positive number of days" in text and '"none"' in text
