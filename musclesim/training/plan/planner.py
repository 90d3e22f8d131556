"""Plan a criteria-based progression (:func:`plan_progression`) and re-plan it from a day
with a new assessment or new pain and soreness readings (:func:`replan`).
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable, Sequence

import xarray as xr

from ...core.errors import InputError
from ..tolerance import TolerancePolicy
from .limits import session_limits
from .metrics import check_metrics
from .milp import FixedBefore, PlanProblem
from .settings import PlanSettings
from .types import DayLimits, Plan


def day_limits(
    athlete,
    policy,
    metrics,
    day,
    readings,
    *,
    geometry=None,
    length_scale=1.0,
    out_of_domain: str = "warn",
) -> DayLimits:
    """A day's per-criterion limits (:func:`~.limits.session_limits`: the latest assessment
    on or before ``day``, else the grade's prior, under that day's pain reading; with the
    athlete's ``geometry`` and ``length_scale``, the end-range limit at the pain-free pose,
    whose pose outside the fitted geometry follows ``out_of_domain``)."""
    limits = session_limits(
        athlete,
        policy,
        metrics,
        day,
        readings,
        geometry=geometry,
        length_scale=length_scale,
        out_of_domain=out_of_domain,
    )
    basis = "; ".join(line.strip() for line in str(limits.basis).splitlines() if line.strip())
    return DayLimits(values={k: float(v) for k, v in limits.values.items()}, basis=basis)


def plan_progression(
    athlete,
    metrics: xr.Dataset,
    *,
    weeks: int,
    start: datetime.date,
    policy: TolerancePolicy | None = None,
    settings: PlanSettings | None = None,
    pain: float = 0.0,
    soreness: float = 0.0,
    target_return_date: datetime.date | None = None,
    limits: Callable[[datetime.date], DayLimits] | None = None,
    geometry=None,
    length_scale: float = 1.0,
    out_of_domain: str = "warn",
    _history: FixedBefore | None = None,
    _readings: Sequence[tuple[datetime.date, float, float]] = (),
) -> Plan:
    """Plan ``weeks`` weeks of days from ``start`` (the programme and its rules: :mod:`.milp`).

    Args:
        athlete: the :class:`~musclesim.training.athlete.Athlete` (its assessment log sets
            each day's limits).
        metrics: the drill metrics table (its contract: :mod:`.metrics`).
        weeks: plan length in weeks (>= 1).
        start: first day of week 1 (also the day of the pain/soreness reading).
        policy: tolerance policy (default :meth:`TolerancePolicy.default`).
        settings: :class:`PlanSettings` (default ``PlanSettings()``).
        pain, soreness: 0-10 scores read on ``start``.
        target_return_date: default: the athlete's own target, else injury date + the
            policy's expected days for the grade.
        limits: day -> :class:`~.types.DayLimits`; default :func:`day_limits` (the athlete's
            assessments and the policy).
        geometry, length_scale: the athlete's geometry model and height scale for
            :func:`day_limits` (the end-range limit at the pain-free pose).
        out_of_domain: what an assessment pose outside the fitted geometry gets
            (:func:`~musclesim.training.tolerance.todays_limits`).

    Raises:
        PlanInfeasibleError: naming the rule that makes the programme infeasible.
        InputError: for bad inputs (start before the injury, weeks < 1, a malformed table).
    """
    policy = TolerancePolicy.default() if policy is None else policy
    settings = PlanSettings() if settings is None else settings
    metrics = check_metrics(metrics)
    if isinstance(weeks, bool) or not isinstance(weeks, int) or weeks < 1:
        raise InputError(f"{weeks!r} weeks", field="weeks", expected="an integer >= 1")
    if start < athlete.injury_date:
        raise InputError(
            f"plan start {start} is before the injury ({athlete.injury_date})",
            field="start",
            expected="a day on or after the injury",
        )
    target = target_return_date or policy.expected_return_date(athlete)
    readings = tuple(_readings) if _readings else ((start, float(pain), float(soreness)),)
    if limits is None:

        def limits(day):
            return day_limits(
                athlete,
                policy,
                metrics,
                day,
                readings,
                geometry=geometry,
                length_scale=length_scale,
                out_of_domain=out_of_domain,
            )

    t0 = time.perf_counter()
    days = [start + datetime.timedelta(days=i) for i in range(7 * weeks)]
    problem = PlanProblem(
        athlete,
        metrics,
        weeks,
        start,
        settings,
        target,
        {d: limits(d) for d in days},
        _history,
    )
    solution = problem.solve()
    plan = problem.to_plan(solution, time.perf_counter() - t0, readings)
    return dataclasses.replace(plan, policy=policy)


def replan(
    previous: Plan,
    *,
    from_date: datetime.date,
    pain: float = 0.0,
    soreness: float = 0.0,
    athlete=None,
    metrics: xr.Dataset | None = None,
    limits: Callable[[datetime.date], DayLimits] | None = None,
    geometry=None,
    length_scale: float = 1.0,
    out_of_domain: str = "warn",
) -> Plan:
    """Re-plan from ``from_date`` with a new assessment (``athlete``: the athlete re-read with
    its updated assessment log) or new pain/soreness scores.

    Days before ``from_date`` are kept as done (their loads still count for the weekly rules
    and the running stages); later days are re-optimised under the new limits. The calendar,
    target and rules are those of ``previous``.
    """
    end = previous.start + datetime.timedelta(days=7 * previous.weeks)
    if not previous.start <= from_date < end:
        raise InputError(
            f"re-plan day {from_date} is outside the plan ({previous.start} .. "
            f"{end - datetime.timedelta(days=1)})",
            field="from_date",
            expected="a day inside the previous plan",
        )
    readings = tuple(r for r in previous.readings if r[0] < from_date) + (
        (from_date, float(pain), float(soreness)),
    )
    return plan_progression(
        previous.athlete if athlete is None else athlete,
        previous.metrics if metrics is None else metrics,
        weeks=previous.weeks,
        start=previous.start,
        policy=previous.policy,
        settings=previous.settings,
        target_return_date=previous.target_return_date,
        limits=limits,
        geometry=geometry,
        length_scale=length_scale,
        out_of_domain=out_of_domain,
        _history=FixedBefore(previous, from_date),
        _readings=readings,
    )
