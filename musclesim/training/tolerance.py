"""Tissue tolerance: how much the injured muscle may be stretched and loaded on a given day.

**Per criterion** (:func:`todays_limits`, :class:`CriterionLimits`): every tissue-load
criterion of :mod:`musclesim.training.criteria` gets its own limit, a fraction of the injured
muscle's **own** value at the athlete's maximal sprint speed (so maximal sprinting is within
the limits once every fraction is 1). The athlete's dated assessment log (pain, pain-free
range, strength) sets the fractions; without an assessment the grade's time course below is
the prior. Pain-free range poses and strength tests go through the model's geometry
(:mod:`musclesim.training.capacity`).

**The grade's time course** (:func:`tolerance_limit`, also the prior above): the limit is
expressed relative to a *reference* at maximal sprinting speed (for :func:`tolerance_limit`,
the athlete's own **uninjured** peak eccentric fibre strain and peak force of the same muscle):

.. math::

    \\varepsilon_{lim}(d) = r(d)\\, m(p, s)\\, \\varepsilon_{ref}, \\qquad
    F_{lim}(d) = r_F(d)\\, m(p, s)\\, F_{ref}

with ``d`` days since injury, ``r`` the recovery curve of the injury's grade, and ``m`` the
autoregulation multiplier from today's pain ``p`` and soreness ``s`` (0–10 numeric rating).

**Recovery curve** (:func:`recovery_fraction`). A smooth, monotone rise from ``r0`` (the
*start fraction*) to ``r1`` (the *full fraction*, default 1.0) between the end of a protection
phase ``d_p`` and the grade's expected return to full training ``T``:

.. math::

    \\tau = \\mathrm{clip}\\left(\\frac{d - d_p}{T - d_p}, 0, 1\\right), \\qquad
    r(d) = r_0 + (r_1 - r_0)(6\\tau^5 - 15\\tau^4 + 10\\tau^3)

Key points: ``r = r0`` for ``d <= d_p``; ``r = (r0 + r1)/2`` at ``d = (d_p + T)/2``;
``r = r1`` for ``d >= T`` with zero first and second derivative at both ends (C2). Written in
``jax.numpy``: differentiable in ``d`` and in ``T`` (the gradient is zero outside
``(d_p, T)``), vmappable over days and athletes.

**Autoregulation** (:func:`autoregulation_multiplier`). The pain-monitoring model (Thomeé
1997; Silbernagel et al. 2007) splits 0–10 pain into a *safe* zone (0–2), an *acceptable* zone
(2–5) and a *high-risk* zone (> 5). Here: no reduction in the safe zone, a linear reduction to
``multiplier_at_acceptable_max`` (default 0.5) across the acceptable zone, and
``multiplier_high_risk`` (default 0: no stretch loading) above it. Soreness (next-morning
muscle soreness after the last session, 0–10) uses the same zones (Silbernagel et al. 2007
apply the model to the next morning's pain and stiffness). The multiplier is the smaller of
the two. Piecewise linear in pain and soreness (differentiable except at the zone edges).

Everything numeric here is **policy**, configurable through :class:`TolerancePolicy` (a dict
or TOML file). Sources and the strength of evidence for every default are in
:data:`REFERENCES` and printed by :func:`policy_summary`, which every output must include.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax.numpy as jnp

from ..core.citations import references_for
from ..core.errors import InputError
from .capacity import force_from_knee_flexor_torque, force_from_nordic, range_test_strain
from .criteria import CRITERION_NAMES, utilisation

#: The references behind the policy defaults: entries of the project's registry
#: (:data:`musclesim.core.citations.REFERENCES`, where each entry says what it is used for).
REFERENCES = references_for(
    "pollock2022",
    "pollock2016",
    "green_aspetar_calf",
    "thomee1997",
    "silbernagel2007",
    "hickey2020",
    "jarvinen2005",
    "hickey2017",
    "vanderhorst2017",
    "vandyk2019",
    "reurink2013",
    "askling2010",
    "winter2009",
)

_GRADES = ("0a", "0b", "1a", "1b", "1c", "2a", "2b", "2c", "3a", "3b", "3c", "4", "4c")

#: Expected days to return to full training for hamstring injuries, by BAMIC grade. ``None``:
#: no default (grade 4 complete tears often need a surgical opinion; set the number yourself).
#: Only 2c and 3c come from a verified number (Pollock 2022 abstract); the others are policy
#: estimates ordered by grade, bracketing the cohort mean of 18.6 d (same abstract). Check them
#: against Pollock 2022's per-grade table before clinical use.
HAMSTRING_RECOVERY_DAYS: dict[str, float | None] = {
    "0a": 5.0,
    "0b": 3.0,
    "1a": 10.0,
    "1b": 12.0,
    "1c": 20.0,
    "2a": 16.0,
    "2b": 18.0,
    "2c": 34.0,
    "3a": 25.0,
    "3b": 28.0,
    "3c": 48.0,
    "4": None,
    "4c": None,
}
_HAMSTRING_SOURCES = {
    "2c": "Pollock et al. 2022 (abstract): mean TRFT 34 +/- 7 d for 2c",
    "3c": "Pollock et al. 2022 (abstract): mean TRFT 48 +/- 17 d for 3c",
}
_HAMSTRING_ESTIMATE = (
    "policy estimate (evidence not verified per grade); cohort mean TRFT "
    "18.6 d, Pollock et al. 2022 abstract"
)
#: Pollock et al. 2022's cohort mean TRFT (d), used to scale calf means by grade.
HAMSTRING_COHORT_MEAN_DAYS = 18.6
#: Mean time loss per injury (d), all grades pooled (Green, Jeanguyot & Pizzari, Aspetar).
CALF_MEAN_DAYS = {"gastrocnemius": 7.7, "soleus": 25.1}


def _calf_days(group: str) -> dict[str, float | None]:
    """Calf days by grade = the muscle's pooled mean x (hamstring grade days / hamstring mean).

    Assumes calf grades scale like hamstring grades: a weak assumption, stated in the summary.
    """
    out: dict[str, float | None] = {}
    for grade, days in HAMSTRING_RECOVERY_DAYS.items():
        out[grade] = (
            None
            if days is None
            else round(CALF_MEAN_DAYS[group] * days / HAMSTRING_COHORT_MEAN_DAYS, 1)
        )
    return out


def default_policy_dict() -> dict[str, Any]:
    """The default tolerance policy as a plain dict (the layout a policy TOML file uses)."""
    return {
        "recovery_days": {
            "hamstring": dict(HAMSTRING_RECOVERY_DAYS),
            "gastrocnemius": _calf_days("gastrocnemius"),
            "soleus": _calf_days("soleus"),
        },
        "start_fraction": 0.5,
        "force_start_fraction": 0.5,
        "full_fraction": 1.0,
        "protection_days": 3.0,
        "protection_cap_fraction": 0.25,
        "pain": {
            "safe_max": 2.0,
            "acceptable_max": 5.0,
            "multiplier_at_acceptable_max": 0.5,
            "multiplier_high_risk": 0.0,
        },
        "soreness": {
            "safe_max": 2.0,
            "acceptable_max": 5.0,
            "multiplier_at_acceptable_max": 0.5,
            "multiplier_high_risk": 0.0,
        },
        "autoregulation_horizon_days": 2,
        "assessment": {
            "pain_during": {
                "safe_max": 0.0,
                "acceptable_max": 4.0,
                "multiplier_at_acceptable_max": 0.5,
                "multiplier_high_risk": 0.0,
            },
            "pain_after": {
                "safe_max": 0.0,
                "acceptable_max": 4.0,
                "multiplier_at_acceptable_max": 0.5,
                "multiplier_high_risk": 0.0,
            },
            "full_strength_ratio": 0.9,
            "full_range_deficit_deg": 5.0,
        },
    }


@dataclasses.dataclass(frozen=True)
class ZoneRule:
    """Pain-monitoring zones for one 0–10 score (see the module docstring)."""

    safe_max: float = 2.0
    acceptable_max: float = 5.0
    multiplier_at_acceptable_max: float = 0.5
    multiplier_high_risk: float = 0.0


@dataclasses.dataclass(frozen=True)
class AssessmentRule:
    """How an assessment sets today's limits (see :func:`todays_limits`).

    Attributes:
        pain_during, pain_after: :class:`ZoneRule` for the pain during the tests and the next
            morning. Default: any pain lowers the limits (pain-free progression, the rule in
            every study of Hickey et al. 2017's review), linearly to x0.5 at 4/10 (the
            pain-threshold limit of Hickey et al. 2020, where pain up to 4/10 did not delay
            return), and x0 above it.
        full_strength_ratio: injured/uninjured strength at which the strength criterion is
            met (0.9: the side-to-side difference below 10 % often used, van Dyk et al. 2019).
        full_range_deficit_deg: a pain-free range within this many degrees of the uninjured
            side counts as full ("similar flexibility", van der Horst et al. 2017; 5 deg is
            about one SEM of the AKE test in injured hamstrings, Reurink et al. 2013).
    """

    pain_during: ZoneRule = ZoneRule(0.0, 4.0, 0.5, 0.0)
    pain_after: ZoneRule = ZoneRule(0.0, 4.0, 0.5, 0.0)
    full_strength_ratio: float = 0.9
    full_range_deficit_deg: float = 5.0


@dataclasses.dataclass(frozen=True)
class TolerancePolicy:
    """All tolerance numbers in one place. Build with :meth:`default`, :meth:`from_dict` or
    :meth:`load` (a TOML file whose keys override the defaults).

    Attributes:
        recovery_days: ``{group: {grade: days or None}}``; groups ``hamstring``,
            ``gastrocnemius``, ``soleus``; grades as in BAMIC.
        start_fraction: ``r0``, strain limit at and before ``protection_days``, as a fraction
            of the reference (policy; evidence thin).
        force_start_fraction: the same for peak force.
        full_fraction: ``r1``, the fraction reached at the expected return day (1.0: the
            uninjured value at maximal sprinting speed).
        protection_days: ``d_p``, days of relative rest before the curve rises (Järvinen
            et al. 2005 describe a short initial rest; the number is policy). For short
            recovery times the phase is capped at ``protection_cap_fraction`` of ``T``.
        protection_cap_fraction: 0.25 (policy): ``d_p = min(protection_days, 0.25 T)``.
        pain, soreness: :class:`ZoneRule` each.
        autoregulation_horizon_days: a pain/soreness reading on day ``D`` applies to sessions
            on days ``D .. D + horizon`` (default 2: the next session in a 3-per-week plan);
            later sessions assume scores in the safe zone and are re-planned when new scores
            arrive (policy).
        assessment: :class:`AssessmentRule`: how the athlete's assessment log sets the limits.
        source: where the policy came from (``"default"`` or a file path).
    """

    recovery_days: Mapping[str, Mapping[str, float | None]]
    start_fraction: float = 0.5
    force_start_fraction: float = 0.5
    full_fraction: float = 1.0
    protection_days: float = 3.0
    protection_cap_fraction: float = 0.25
    pain: ZoneRule = ZoneRule()
    soreness: ZoneRule = ZoneRule()
    autoregulation_horizon_days: int = 2
    assessment: AssessmentRule = AssessmentRule()
    source: str = "default"

    def __post_init__(self):
        src = None if self.source == "default" else self.source
        for name in ("start_fraction", "force_start_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= self.full_fraction:
                raise InputError(
                    f"{value!r} out of range",
                    path=src,
                    field=name,
                    expected=f"a fraction in [0, full_fraction={self.full_fraction}]",
                )
        if not 0 < self.full_fraction <= 2:
            raise InputError(
                f"{self.full_fraction!r} out of range",
                path=src,
                field="full_fraction",
                expected="in (0, 2]",
            )
        if not 0 <= self.protection_cap_fraction < 1:
            raise InputError(
                f"{self.protection_cap_fraction!r} out of range",
                path=src,
                field="protection_cap_fraction",
                expected="in [0, 1)",
            )
        if not self.protection_days >= 0:
            raise InputError(
                f"{self.protection_days!r} is negative",
                path=src,
                field="protection_days",
                expected=">= 0 days",
            )
        if int(self.autoregulation_horizon_days) != self.autoregulation_horizon_days or (
            self.autoregulation_horizon_days < 0
        ):
            raise InputError(
                f"{self.autoregulation_horizon_days!r} is not a whole number >= 0",
                path=src,
                field="autoregulation_horizon_days",
                expected="an integer >= 0 (days)",
            )
        for label, rule in (
            ("pain", self.pain),
            ("soreness", self.soreness),
            ("assessment.pain_during", self.assessment.pain_during),
            ("assessment.pain_after", self.assessment.pain_after),
        ):
            if not 0 <= rule.safe_max < rule.acceptable_max <= 10:
                raise InputError(
                    "zones out of order",
                    path=src,
                    field=f"{label}.safe_max/acceptable_max",
                    expected="0 <= safe_max < acceptable_max <= 10",
                )
            for key in ("multiplier_at_acceptable_max", "multiplier_high_risk"):
                if not 0 <= getattr(rule, key) <= 1:
                    raise InputError(
                        f"{getattr(rule, key)!r} out of range",
                        path=src,
                        field=f"{label}.{key}",
                        expected="in [0, 1]",
                    )
        if not 0 < self.assessment.full_strength_ratio <= 1.5:
            raise InputError(
                f"{self.assessment.full_strength_ratio!r} out of range",
                path=src,
                field="assessment.full_strength_ratio",
                expected="an injured/uninjured ratio in (0, 1.5]",
            )
        if not 0 <= self.assessment.full_range_deficit_deg <= 45:
            raise InputError(
                f"{self.assessment.full_range_deficit_deg!r} out of range",
                path=src,
                field="assessment.full_range_deficit_deg",
                expected="degrees in [0, 45]",
            )
        for group, table in self.recovery_days.items():
            for grade, days in table.items():
                if grade not in _GRADES:
                    raise InputError(
                        f"unknown grade {grade!r}",
                        path=src,
                        field=f"recovery_days.{group}.{grade}",
                        expected=f"one of {list(_GRADES)}",
                    )
                if days is not None and (
                    isinstance(days, bool) or not isinstance(days, int | float) or not days > 0
                ):
                    raise InputError(
                        f"{days!r} is not a positive number of days",
                        path=src,
                        field=f"recovery_days.{group}.{grade}",
                        expected="a number > 0 (days)",
                    )

    @classmethod
    def default(cls) -> TolerancePolicy:
        """The shipped defaults (see :func:`policy_summary` for their sources)."""
        return cls.from_dict({})

    @classmethod
    def from_dict(cls, overrides: Mapping[str, Any], *, source: str = "default") -> TolerancePolicy:
        """Defaults with ``overrides`` merged in (nested tables merge key by key).

        In ``recovery_days`` a grade set to the string ``"none"`` removes that grade's default
        (TOML has no null); a number must be positive (days).
        """
        merged = default_policy_dict()
        src = None if source == "default" else source
        allowed = set(merged)
        for key, value in overrides.items():
            if key not in allowed:
                raise InputError(
                    f"unknown policy key {key!r}",
                    path=src,
                    field=key,
                    expected=f"one of {sorted(allowed)}",
                )
            if key == "recovery_days":
                if not isinstance(value, Mapping):
                    raise InputError("wrong type", path=src, field=key, expected="a table")
                for group, table in value.items():
                    if not isinstance(table, Mapping):
                        raise InputError(
                            "wrong type",
                            path=src,
                            field=f"{key}.{group}",
                            expected="a table of grade = days",
                        )
                    target = merged[key].setdefault(group, {})
                    for grade, days in table.items():
                        if isinstance(days, int | float) and not isinstance(days, bool):
                            if not days > 0:
                                raise InputError(
                                    f"{days} is not a positive number of days",
                                    path=src,
                                    field=f"{key}.{group}.{grade}",
                                    expected='a number > 0 (days), or "none"',
                                )
                        target[grade] = None if days == "none" else days
            elif key == "assessment":
                merged[key] = _merge_assessment(merged[key], value, src)
            elif key in ("pain", "soreness"):
                if not isinstance(value, Mapping):
                    raise InputError("wrong type", path=src, field=key, expected="a table")
                unknown = set(value) - set(merged[key])
                if unknown:
                    raise InputError(
                        f"unknown key {sorted(unknown)[0]!r}",
                        path=src,
                        field=f"{key}.{sorted(unknown)[0]}",
                        expected=f"one of {sorted(merged[key])}",
                    )
                merged[key].update(value)
            else:
                merged[key] = value
        for key in (
            "start_fraction",
            "force_start_fraction",
            "full_fraction",
            "protection_days",
            "protection_cap_fraction",
        ):
            value = merged[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(
                    f"wrong type {type(value).__name__}", path=src, field=key, expected="a number"
                )
        return cls(
            recovery_days={g: dict(t) for g, t in merged["recovery_days"].items()},
            start_fraction=float(merged["start_fraction"]),
            force_start_fraction=float(merged["force_start_fraction"]),
            full_fraction=float(merged["full_fraction"]),
            protection_days=float(merged["protection_days"]),
            protection_cap_fraction=float(merged["protection_cap_fraction"]),
            pain=ZoneRule(**{k: float(v) for k, v in merged["pain"].items()}),
            soreness=ZoneRule(**{k: float(v) for k, v in merged["soreness"].items()}),
            autoregulation_horizon_days=merged["autoregulation_horizon_days"],
            assessment=AssessmentRule(
                pain_during=ZoneRule(**_floats(merged["assessment"]["pain_during"])),
                pain_after=ZoneRule(**_floats(merged["assessment"]["pain_after"])),
                full_strength_ratio=float(merged["assessment"]["full_strength_ratio"]),
                full_range_deficit_deg=float(merged["assessment"]["full_range_deficit_deg"]),
            ),
            source=source,
        )

    @classmethod
    def load(cls, path: str | Path) -> TolerancePolicy:
        """Read overrides from a TOML file (same keys as :func:`default_policy_dict`)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InputError("no such file", path=path, expected="a policy .toml") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"not valid TOML ({exc})", path=path) from None
        return cls.from_dict(data, source=str(path))

    def recovery_days_for(self, athlete) -> float:
        """Expected days to return to full training for the athlete's muscle group and grade."""
        group, grade = athlete.recovery_group, athlete.grade
        days = self.recovery_days.get(group, {}).get(grade)
        if days is None:
            raise InputError(
                f"no expected return time for a grade {grade} {group} injury",
                path=None if self.source == "default" else self.source,
                field=f"recovery_days.{group}.{grade}",
                expected="a number of days set in the tolerance policy (grade 4 complete "
                "tears have no default: they often need a surgical opinion)",
            )
        return float(days)

    def protection_for(self, recovery_days: float) -> float:
        """``d_p = min(protection_days, protection_cap_fraction * T)``."""
        return min(self.protection_days, self.protection_cap_fraction * recovery_days)

    def expected_return_date(self, athlete):
        """Injury date + expected days (rounded up), or the athlete's own target if given."""
        if athlete.target_return_date is not None:
            return athlete.target_return_date
        return athlete.injury_date + datetime.timedelta(
            days=math.ceil(self.recovery_days_for(athlete))
        )


def _floats(table: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in table.items()}


def _merge_assessment(defaults: dict, value, src) -> dict:
    """The ``[assessment]`` table merged key by key into its defaults, types checked."""
    if not isinstance(value, Mapping):
        raise InputError("wrong type", path=src, field="assessment", expected="a table")
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in defaults.items()}
    for key, item in value.items():
        field = f"assessment.{key}"
        if key not in merged:
            raise InputError(
                f"unknown key {key!r}",
                path=src,
                field=field,
                expected=f"one of {sorted(merged)}",
            )
        if isinstance(merged[key], dict):
            if not isinstance(item, Mapping):
                raise InputError("wrong type", path=src, field=field, expected="a table")
            unknown = sorted(set(item) - set(merged[key]))
            if unknown:
                raise InputError(
                    f"unknown key {unknown[0]!r}",
                    path=src,
                    field=f"{field}.{unknown[0]}",
                    expected=f"one of {sorted(merged[key])}",
                )
            targets = item.items()
            merged[key].update(item)
        else:
            targets = [(key, item)]
        for name, number in targets:
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise InputError(
                    f"wrong type {type(number).__name__}",
                    path=src,
                    field=field if name == key else f"{field}.{name}",
                    expected="a number",
                )
        if not isinstance(merged[key], dict):
            merged[key] = item
    return merged


# ------------------------------------------------------------------------------------------
# The curves (pure, jax.numpy).
def recovery_fraction(
    days, recovery_days, *, start_fraction=0.5, protection_days=3.0, full_fraction=1.0
):
    """``r(d)``: tolerated fraction of the reference on day ``d`` after injury.

    See the module docstring for the equation and key points. Arguments broadcast; ``days``
    and ``recovery_days`` may be traced (differentiable). ``recovery_days`` must exceed
    ``protection_days`` (a guarded minimum of 1e-6 d keeps the division finite).
    """
    days = jnp.asarray(days, dtype=float)
    span = jnp.maximum(jnp.asarray(recovery_days, dtype=float) - protection_days, 1e-6)
    tau = jnp.clip((days - protection_days) / span, 0.0, 1.0)
    smooth = tau * tau * tau * (tau * (6.0 * tau - 15.0) + 10.0)
    return start_fraction + (full_fraction - start_fraction) * smooth


def zone_multiplier(score, rule: ZoneRule):
    """Multiplier for one 0–10 score under a :class:`ZoneRule` (see the module docstring)."""
    score = jnp.asarray(score, dtype=float)
    ramp = (score - rule.safe_max) / (rule.acceptable_max - rule.safe_max)
    inside = 1.0 - (1.0 - rule.multiplier_at_acceptable_max) * jnp.clip(ramp, 0.0, 1.0)
    return jnp.where(score > rule.acceptable_max, rule.multiplier_high_risk, inside)


def autoregulation_multiplier(pain=0.0, soreness=0.0, policy: TolerancePolicy | None = None):
    """``m(p, s) = min(zone(p), zone(s))``; 1 when both scores lie in the safe zone."""
    policy = TolerancePolicy.default() if policy is None else policy
    for label, value in (("pain", pain), ("soreness", soreness)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            continue  # traced values are not checked
        if not 0 <= v <= 10 or math.isnan(v):
            raise InputError(
                f"{label} score {value!r} out of range",
                field=label,
                expected="a 0-10 numeric rating",
            )
    return jnp.minimum(
        zone_multiplier(pain, policy.pain), zone_multiplier(soreness, policy.soreness)
    )


@dataclasses.dataclass(frozen=True)
class ToleranceLimit:
    """One day's limit. Fractions are of the reference (uninjured, maximal sprint speed).

    Attributes:
        days_since_injury: d.
        recovery: ``r(d)`` for strain; ``force_recovery``: ``r_F(d)``.
        multiplier: ``m(p, s)``.
        strain_fraction, force_fraction: ``r m`` and ``r_F m``.
        strain: absolute peak-eccentric-fibre-strain limit (or None without a reference).
        force: absolute peak-force limit in N (or None without a reference).
    """

    days_since_injury: float
    recovery: float
    force_recovery: float
    multiplier: float
    strain_fraction: float
    force_fraction: float
    strain: float | None
    force: float | None


def tolerance_limit(
    athlete,
    days_since_injury,
    *,
    policy: TolerancePolicy | None = None,
    pain: float = 0.0,
    soreness: float = 0.0,
    reference_strain: float | None = None,
    reference_force: float | None = None,
) -> ToleranceLimit:
    """The injured muscle's limit ``days_since_injury`` days after injury (concrete values).

    Args:
        athlete: an :class:`~musclesim.training.athlete.Athlete` (its muscle group and grade select
            the recovery time).
        days_since_injury: whole or fractional days (>= 0).
        policy: a :class:`TolerancePolicy` (default: :meth:`TolerancePolicy.default`).
        pain, soreness: today's 0–10 scores.
        reference_strain: uninjured peak eccentric fibre strain at maximal sprint speed
            (must be > 0).
        reference_force: uninjured peak force at maximal sprint speed (N, > 0).
    """
    policy = TolerancePolicy.default() if policy is None else policy
    if not days_since_injury >= 0:
        raise InputError(
            f"{days_since_injury!r} days since injury",
            field="days_since_injury",
            expected="a day on or after the injury (>= 0)",
        )
    for label, ref in (
        ("reference_strain", reference_strain),
        ("reference_force", reference_force),
    ):
        if ref is not None and not ref > 0:
            raise InputError(
                f"{ref!r} is not positive",
                field=label,
                expected="the uninjured value at maximal sprint speed, > 0",
            )
    total = policy.recovery_days_for(athlete)
    common = {
        "protection_days": policy.protection_for(total),
        "full_fraction": policy.full_fraction,
    }
    r = float(
        recovery_fraction(days_since_injury, total, start_fraction=policy.start_fraction, **common)
    )
    r_f = float(
        recovery_fraction(
            days_since_injury, total, start_fraction=policy.force_start_fraction, **common
        )
    )
    m = float(autoregulation_multiplier(pain, soreness, policy))
    return ToleranceLimit(
        days_since_injury=float(days_since_injury),
        recovery=r,
        force_recovery=r_f,
        multiplier=m,
        strain_fraction=r * m,
        force_fraction=r_f * m,
        strain=None if reference_strain is None else r * m * reference_strain,
        force=None if reference_force is None else r_f * m * reference_force,
    )


def policy_summary(policy: TolerancePolicy | None = None, athlete=None) -> str:
    """Human-readable statement of the tolerance policy and its sources (print it with every
    output). With an athlete, also the recovery time that applies to them."""
    policy = TolerancePolicy.default() if policy is None else policy
    lines = [
        f"Tissue-tolerance policy ({policy.source}). These numbers are policy, not measurements;",
        "change them in a policy TOML file.",
        "  Without assessments: limit = r(days) x m(pain, soreness) x the reference at maximal "
        "sprint speed",
        "  (per criterion, todays_limits: the injured muscle's own value; the single-number "
        "tolerance_limit: the uninjured value)",
        f"  r: {policy.start_fraction:g} (strain) / {policy.force_start_fraction:g} (force) "
        f"until day min({policy.protection_days:g}, {policy.protection_cap_fraction:g} x TRFT) "
        "(protection phase; Järvinen et al. 2005, "
        f"doi:{REFERENCES['jarvinen2005']['doi']}; number is policy),",
        f"     rising smoothly (smootherstep) to {policy.full_fraction:g} at the expected "
        "return to full training (TRFT).",
    ]
    if athlete is not None:
        try:
            days = policy.recovery_days_for(athlete)
            lines.append(
                f"  This athlete: {athlete.recovery_group} grade {athlete.grade} -> "
                f"TRFT {days:g} d ({_days_source(policy, athlete)})."
            )
        except InputError as exc:
            lines.append(f"  This athlete: {exc}")
    lines += [
        "  Expected TRFT by grade (days):",
    ]
    for group, table in policy.recovery_days.items():
        cells = ", ".join(f"{g} {'-' if d is None else f'{d:g}'}" for g, d in table.items())
        lines.append(f"    {group}: {cells}")
    lines += [
        "    hamstring 2c, 3c: Pollock et al. 2022 Br J Sports Med abstract, "
        f"doi:{REFERENCES['pollock2022']['doi']};",
        "    other hamstring grades: policy estimates around that cohort's mean of 18.6 d "
        "(same source; evidence per grade not verified);",
        "    calf: pooled mean time loss (gastrocnemius 7.7 d, soleus 25.1 d; British Olympic "
        "track and field, quoted by Green, Jeanguyot & Pizzari, Aspetar Sports Med J vol 13)",
        "    scaled by grade like the hamstring table (an assumption; evidence thin).",
        "    Grade 4 has no default (complete tear: surgical opinion).",
        f"  m: pain-monitoring zones (Thomeé 1997, doi:{REFERENCES['thomee1997']['doi']}; "
        f"Silbernagel et al. 2007, doi:{REFERENCES['silbernagel2007']['doi']}):",
    ]
    for label, rule in (("pain", policy.pain), ("soreness", policy.soreness)):
        lines.append(
            f"    {label}: <= {rule.safe_max:g} no change; to {rule.acceptable_max:g} linear down "
            f"to x{rule.multiplier_at_acceptable_max:g}; above x{rule.multiplier_high_risk:g}"
        )
    lines += [
        "    (rehabilitation with pain up to 4/10 did not delay return after hamstring strain: "
        f"Hickey et al. 2020, doi:{REFERENCES['hickey2020']['doi']}); the multiplier is the "
        "smaller of the two.",
        f"  A pain/soreness reading applies to sessions up to "
        f"{policy.autoregulation_horizon_days} day(s) after it (policy).",
    ]
    rule = policy.assessment
    lines += [
        "  With an assessment log ([[assessments]] in the athlete file), the latest assessment on",
        "  or before the day sets the limits instead of r (each measurement from the latest",
        "  assessment that made it; a measurement never made falls back on r):",
        "    active stretch, negative work, lengthening velocity = min(f_R, f_S) x m_A x the",
        "    injured muscle's own value at maximal sprint speed; peak force = f_S x m_A x it;",
        "    end range = MTU strain at the pain-free pose (geometry) x m_A.",
        f"    f_S = min(1, strength ratio / {rule.full_strength_ratio:g}) (side difference "
        f"< 10 %: van Dyk et al. 2019, doi:{REFERENCES['vandyk2019']['doi']}).",
        "    f_R = min(1, injured range / (uninjured range - "
        f"{rule.full_range_deficit_deg:g} deg)) (similar flexibility: van der Horst et al. "
        f"2017, doi:{REFERENCES['vanderhorst2017']['doi']}; about one SEM of the AKE test, "
        f"Reurink et al. 2013, doi:{REFERENCES['reurink2013']['doi']}).",
    ]
    for label, zone in (("pain during", rule.pain_during), ("pain after", rule.pain_after)):
        lines.append(
            f"    m_A ({label}): <= {zone.safe_max:g} no change; to {zone.acceptable_max:g} "
            f"linear down to x{zone.multiplier_at_acceptable_max:g}; above "
            f"x{zone.multiplier_high_risk:g}"
        )
    lines += [
        "    (pain guides progression in every study reviewed by Hickey et al. 2017, "
        f"doi:{REFERENCES['hickey2017']['doi']}; pain up to 4/10 did not delay return,",
        f"    Hickey et al. 2020, doi:{REFERENCES['hickey2020']['doi']}). Full limits "
        "(maximal sprinting) need no pain, full range and full strength",
        "    (van der Horst et al. 2017: absence of pain in strength, flexibility and "
        "functional tests, similar flexibility).",
        "    AKE and H-test conventions: Reurink et al. 2013; Askling et al. 2010, "
        f"doi:{REFERENCES['askling2010']['doi']}.",
    ]
    return "\n".join(lines)


def _days_source(policy, athlete):
    if policy.source != "default":
        return f"from {policy.source} or the defaults"
    if athlete.recovery_group == "hamstring":
        return _HAMSTRING_SOURCES.get(athlete.grade, _HAMSTRING_ESTIMATE)
    return (
        f"pooled {athlete.recovery_group} mean {CALF_MEAN_DAYS[athlete.recovery_group]} d "
        "scaled by the hamstring grade ratio; evidence thin"
    )


# ------------------------------------------------------------------------------------------
# Today's per-criterion limits from the assessment log (or the grade's time course).
#: Criteria whose reference is the injured muscle's value at maximal sprint speed and whose
#: limit is a fraction of it that the stretch hazard sets (range and strength together).
_STRETCH_CRITERIA = ("active_stretch", "active_negative_work", "active_lengthening_velocity")

#: Winter 2009 (``REFERENCES["winter2009"]``), segment lengths as fractions of height: the
#: leg (knee to ankle) is 0.285 H - 0.039 H = 0.246 H; the lever of a Nordic force measured at
#: an ankle strap (the strap sits a little above the ankle joint, so this is an upper bound).
LEG_LENGTH_FRACTION_OF_HEIGHT = 0.246


@dataclasses.dataclass(frozen=True)
class CriterionLimits:
    """Today's limit of every tissue-load criterion of the injured muscle.

    Attributes:
        day: the session day; ``days_since_injury``: days from the injury.
        values: ``{criterion: limit}`` in the criterion's unit (see
            :data:`~musclesim.training.criteria.CRITERIA`): a drill is within today's limits
            when ``value <= values[criterion]`` for every criterion.
        fractions: ``{criterion: values / references}``.
        references: ``{criterion: reference}``: the injured muscle's own value at the athlete's
            maximal sprint speed (as given to :func:`todays_limits`).
        basis: one line per decision: which assessment (date) or the grade's time course set
            the limits, and why each fraction is what it is.
        sources: citation-registry keys of everything the limits rest on.
        assessment_date: the latest assessment on or before ``day``, or None (prior).
        multiplier: the pain multiplier applied (assessment pain x session pain/soreness).
        strength_ratio: injured/uninjured strength used, or None (not measured).
        range_deficit_deg: ``{test: uninjured - injured range}`` of the range tests used.
        pain_free_strain: MTU strain at the pain-free pose (the end-range limit before pain
            scaling), or None when no range was measured or no geometry given.
        force_capacity: the largest isometric force (N) of the injured muscle that the latest
            strength test shows (each angle's torque through the model's knee-flexor share and
            moment arm, :mod:`~musclesim.training.capacity`), or None; reported beside the
            ``peak_force`` limit, which is the fraction of the sprint reference. It depends
            strongly on the test angle where the model puts the muscle on its ascending limb.
        cleared_for_full: True when the log shows every full criterion met: pain within
            the policy's safe zone (default: none), full pain-free range and strength (every
            fraction is then 1 and maximal sprinting is within the limits). Without a range or
            strength measurement it is False even when the prior alone gives fractions of 1.
        session_pain, session_soreness: the session's own readings applied (0-10).
    """

    day: datetime.date
    days_since_injury: int
    values: Mapping[str, float]
    fractions: Mapping[str, float]
    references: Mapping[str, float]
    basis: str
    sources: tuple[str, ...]
    assessment_date: datetime.date | None = None
    multiplier: float = 1.0
    strength_ratio: float | None = None
    range_deficit_deg: Mapping[str, float] = dataclasses.field(default_factory=dict)
    pain_free_strain: float | None = None
    force_capacity: float | None = None
    cleared_for_full: bool = False
    session_pain: float = 0.0
    session_soreness: float = 0.0

    def utilisation(self, criterion: str, value: float) -> float:
        """``value / limit`` of one criterion
        (:func:`~musclesim.training.criteria.utilisation`)."""
        return float(utilisation(value, self.values[criterion]))


def _check_references(references: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for name, value in references.items():
        if name not in CRITERION_NAMES:
            raise InputError(
                f"unknown criterion {name!r}",
                field="references",
                expected=f"criterion names among {list(CRITERION_NAMES)}",
            )
        v = float(value)
        if not (math.isfinite(v) and v > 0):
            raise InputError(
                f"reference {name} = {value!r}",
                field=f"references.{name}",
                expected="the injured muscle's value at maximal sprint speed, finite and > 0",
            )
        out[name] = v
    return out


def _latest(log, measured):
    """The latest assessment of ``log`` (oldest first) for which ``measured(a)`` holds."""
    for a in reversed(log):
        if measured(a):
            return a
    return None


def todays_limits(
    athlete,
    day: datetime.date,
    references: Mapping[str, float],
    *,
    policy: TolerancePolicy | None = None,
    pain: float = 0.0,
    soreness: float = 0.0,
    geometry=None,
    muscle: str | None = None,
    length_scale: float = 1.0,
    out_of_domain: str = "warn",
) -> CriterionLimits:
    """Today's limit of each tissue-load criterion, from the athlete's assessment log.

    **With an assessment on or before** ``day`` (each measurement taken from the latest
    assessment that made it):

    - pain multiplier ``m = min(zone(pain_during), zone(pain_after))`` under
      ``policy.assessment`` (default: any pain lowers the limits, x0.5 at 4/10, x0 above),
      times the session multiplier ``m(pain, soreness)`` of :func:`autoregulation_multiplier`;
    - range factor ``f_R = min_tests min(1, injured range / (uninjured range - tol))`` with
      ``tol = full_range_deficit_deg`` (range = the extension achieved from 90 deg for the
      AKE, the hip flexion angle for the SLR and H-test);
    - strength factor ``f_S = min(1, S / full_strength_ratio)`` with ``S`` the injured /
      uninjured strength (isometric torque, Nordic force or a written ratio; the injury's
      ``strength_deficit`` if no assessment measured it);
    - ``active_stretch``, ``active_negative_work``, ``active_lengthening_velocity``:
      ``min(f_R, f_S) m`` x reference; ``peak_force``: ``f_S m`` x reference;
    - ``end_range_length``: the injured muscle's MTU strain at the pain-free pose
      (:func:`~musclesim.training.capacity.range_test_strain`, the smallest over the tests)
      x m; with a full range, at least the reference (the muscle's own maximal-sprint end
      range). Without ``geometry``: ``f_R m`` x reference.

    A measurement that no assessment (and, for strength, not the injury record) gives falls
    back on the grade's time course for its factor; so do the range tests for a calf injury
    (they stretch the hamstrings), whose strength comes only from a ``strength_ratio`` written
    in the assessment (knee-flexor and Nordic tests load the hamstrings). **Without any
    assessment**, the grade's time course is the prior: ``r(d) m`` for the stretch criteria
    and the end range, ``r_F(d) m`` for ``peak_force`` (:func:`recovery_fraction`).

    Full limits (every fraction 1: maximal sprinting cleared, since the references are the
    injured muscle's own values at maximal speed) need no pain, full pain-free range and
    strength >= ``full_strength_ratio``.

    Args:
        athlete: an :class:`~musclesim.training.athlete.Athlete` with its assessment log.
        day: the session day (on or after the injury).
        references: ``{criterion: value}``, the injured muscle's own values at the athlete's
            maximal sprint speed (the metrics table's ``reference_<criterion>`` attributes),
            each > 0; limits are computed for the criteria given.
        policy: the :class:`TolerancePolicy` (default: :meth:`TolerancePolicy.default`).
        pain, soreness: the session's own 0-10 readings (the plan's autoregulation).
        geometry: the athlete's full :class:`~musclesim.geometry.GeometryModel` (every knee
            flexor; needed for the pain-free pose strain and the force capacity).
        muscle: the injured muscle's model name (default: from the athlete and the model
            family of ``geometry``).
        length_scale: athlete height / model height (moment arms scale with it).
        out_of_domain: what an assessment pose outside the fitted geometry gets (a range-test
            or strength-test angle beyond the model's fit): ``"refuse"`` names the assessment
            and the ranges, ``"clamp"`` takes the bounded extension, ``"warn"`` (the library
            default) warns.
    """
    policy = TolerancePolicy.default() if policy is None else policy
    refs = _check_references(references)
    d = athlete.days_since_injury(day)
    if d < 0:
        raise InputError(
            f"day {day} is before the injury on {athlete.injury_date}",
            field="day",
            expected="a day on or after the injury",
        )
    rule = policy.assessment
    total = policy.recovery_days_for(athlete)
    common = {"protection_days": policy.protection_for(total), "full_fraction": 1.0}
    r = float(recovery_fraction(d, total, start_fraction=policy.start_fraction, **common))
    r_f = float(recovery_fraction(d, total, start_fraction=policy.force_start_fraction, **common))
    m_session = float(autoregulation_multiplier(pain, soreness, policy))
    sources = ["pollock2022", "jarvinen2005", "thomee1997", "silbernagel2007"]
    prior = f"grade {athlete.grade} time course: day {d} of {total:g}"
    if geometry is not None and muscle is None:
        family = "gait2392" if any(m.startswith("bifemlh") for m in geometry.muscles) else None
        muscle = athlete.model_muscle_name(family or "rajagopal")

    log = athlete.assessments_until(day)
    latest = log[-1] if log else None
    lines = []
    strength_ratio = None
    deficits: dict[str, float] = {}
    pain_free_strain = None
    force_capacity = None
    if latest is None:
        m = m_session
        f_stretch, f_force, f_range = r, r_f, r
        lines.append(
            f"no assessment on or before {day}: {prior} -> r = {r:.3f} (stretch, end range), "
            f"r_F = {r_f:.3f} (force)"
        )
        full = False
    else:
        sources += ["hickey2017", "hickey2020", "vanderhorst2017"]
        m_pain = float(
            min(
                zone_multiplier(latest.pain_during, rule.pain_during),
                zone_multiplier(latest.pain_after, rule.pain_after),
            )
        )
        m = m_pain * m_session
        lines.append(
            f"assessment of {latest.date} (day {athlete.days_since_injury(latest.date)}): "
            f"pain during {latest.pain_during:g}/10, after {latest.pain_after:g}/10 "
            f"-> x{m_pain:.3f}"
        )
        # Range.
        hamstring = athlete.recovery_group == "hamstring"
        ranged = _latest(log, lambda a: bool(a.ranges)) if hamstring else None
        if ranged is None:
            f_range = r
            why = (
                "no pain-free range measured"
                if hamstring
                else "the range tests (AKE, SLR, H-test) stretch the hamstrings, not a "
                f"{athlete.recovery_group} muscle"
            )
            lines.append(f"{why}: range factor from the {prior} ({r:.3f})")
        else:
            sources += ["reurink2013"]
            factors = []
            strains = []
            for t in ranged.ranges:
                deficits[t.test] = t.deficit_deg
                target = max(t.uninjured_range_deg - rule.full_range_deficit_deg, 1e-6)
                factors.append(min(1.0, max(t.injured_range_deg, 0.0) / target))
                if t.test == "h_test":
                    sources.append("askling2010")
                if geometry is not None:
                    strains.append(
                        range_test_strain(
                            geometry, muscle, t.test, t.injured_deg, out_of_domain=out_of_domain
                        )
                    )
            f_range = min(factors)
            cells = ", ".join(
                f"{t.test} {t.injured_deg:g} vs {t.uninjured_deg:g} deg (deficit "
                f"{t.deficit_deg:g} deg)"
                for t in ranged.ranges
            )
            lines.append(
                f"pain-free range of {ranged.date}: {cells} -> range factor {f_range:.3f} "
                f"(full within {rule.full_range_deficit_deg:g} deg)"
            )
            if strains:
                pain_free_strain = min(strains)
        # Strength.
        if hamstring:
            strong = _latest(log, lambda a: a.measures_strength)
        else:  # knee-flexor and Nordic tests load the hamstrings; a calf needs its own ratio
            strong = _latest(log, lambda a: a.strength_ratio_given is not None)
        if strong is not None:
            if hamstring:
                strength_ratio, how = strong.strength_ratio()
                force_capacity = _force_capacity(
                    strong, athlete, geometry, muscle, length_scale, sources, out_of_domain
                )
            else:
                strength_ratio, how = strong.strength_ratio_given, "strength ratio as written"
            when = f"{how}, {strong.date}"
        elif athlete.strength_deficit is not None:
            strength_ratio, when = 1.0 - athlete.strength_deficit, "strength deficit at injury"
        if strength_ratio is None:
            f_force = r_f
            lines.append(f"no strength measured: strength factor from the {prior} ({r_f:.3f})")
        else:
            sources.append("vandyk2019")
            f_force = min(1.0, strength_ratio / rule.full_strength_ratio)
            lines.append(
                f"strength {strength_ratio:.0%} of the uninjured side ({when}) -> strength "
                f"factor {f_force:.3f} (full at {rule.full_strength_ratio:.0%})"
            )
        f_stretch = min(f_range, f_force)
        full = (
            m_pain == 1.0
            and ranged is not None
            and f_range >= 1.0
            and strength_ratio is not None
            and f_force >= 1.0
        )
    if m_session < 1.0:
        lines.append(f"session pain {pain:g}/10, soreness {soreness:g}/10 -> x{m_session:.3f}")

    fractions = {}
    values = {}
    for name, ref in refs.items():
        if name in _STRETCH_CRITERIA:
            frac = f_stretch * m
        elif name == "peak_force":
            frac = f_force * m
        elif pain_free_strain is not None:  # end_range_length from the pain-free pose
            strain = max(pain_free_strain, ref) if f_range >= 1.0 else pain_free_strain
            frac = max(strain, 0.0) * m / ref
        else:
            frac = f_range * m
        fractions[name] = float(frac)
        values[name] = float(frac * ref)
    if "end_range_length" in refs:
        if pain_free_strain is not None:
            lines.append(
                f"end range: MTU strain {pain_free_strain:.4f} at the pain-free pose"
                + (
                    f" (at least the sprint's {refs['end_range_length']:.4f})"
                    if f_range >= 1
                    else ""
                )
            )
        elif latest is not None and deficits and geometry is None:
            lines.append("end range: no geometry given, the range factor scales the reference")
    if force_capacity is not None:
        lines.append(
            f"isometric force capacity of {muscle}: {force_capacity:.0f} N (model's knee-flexor "
            "share at the test pose; reported beside the peak-force limit)"
        )
    lines.append(
        "full limits (maximal sprinting): "
        + ("met" if full else "not met")
        + " (no pain, full pain-free range, strength >= "
        f"{rule.full_strength_ratio:.0%}; van der Horst et al. 2017, van Dyk et al. 2019)"
    )
    return CriterionLimits(
        day=day,
        days_since_injury=int(d),
        values=values,
        fractions=fractions,
        references=refs,
        basis="\n".join(lines),
        sources=tuple(dict.fromkeys(sources)),
        assessment_date=None if latest is None else latest.date,
        multiplier=float(m),
        strength_ratio=strength_ratio,
        range_deficit_deg=deficits,
        pain_free_strain=pain_free_strain,
        force_capacity=force_capacity,
        cleared_for_full=bool(full),
        session_pain=float(pain),
        session_soreness=float(soreness),
    )


def _force_capacity(
    assessment, athlete, geometry, muscle, length_scale, sources, out_of_domain="warn"
):
    """The injured muscle's isometric force (N) from the assessment's strength test through
    the model (None without geometry or without an absolute measurement)."""
    if geometry is None:
        return None
    kf = assessment.knee_flexor
    if kf is not None:
        forces = [
            force_from_knee_flexor_torque(
                geometry,
                muscle,
                torque,
                hip_flexion_deg=kf.hip_flexion_deg,
                knee_flexion_deg=angle,
                length_scale=length_scale,
                out_of_domain=out_of_domain,
            )
            for angle, torque in zip(kf.knee_angles_deg, kf.injured_nm, strict=True)
        ]
        return max(forces)
    if assessment.nordic_injured_n is not None and assessment.nordic_knee_flexion_deg is not None:
        sources.append("winter2009")
        return force_from_nordic(
            geometry,
            muscle,
            assessment.nordic_injured_n,
            lever_m=LEG_LENGTH_FRACTION_OF_HEIGHT * athlete.height,
            knee_flexion_deg=assessment.nordic_knee_flexion_deg,
            length_scale=length_scale,
            out_of_domain=out_of_domain,
        )
    return None
