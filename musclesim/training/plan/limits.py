"""A session day's per-criterion tissue-load limits under the assessment log and the pain and
soreness readings, and which drill levels count as maximal-velocity sprinting.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..criteria import CRITERION_NAMES
from ..tolerance import CriterionLimits, todays_limits
from .settings import PlanSettings


def _reading_for(day, readings, horizon):
    """(pain, soreness) that applies on ``day``: the latest reading on or before ``day`` and
    at most ``horizon`` days old; (0, 0) otherwise."""
    best = None
    for rday, pain, soreness in readings:
        if rday <= day and (day - rday).days <= horizon and (best is None or rday >= best[0]):
            best = (rday, pain, soreness)
    return (0.0, 0.0) if best is None else (best[1], best[2])


def table_references(metrics: xr.Dataset) -> dict[str, float]:
    """``{criterion: reference}`` from a metrics table's ``reference_<criterion>`` attributes
    (the injured muscle's own values at the athlete's maximal sprint speed), for every
    criterion the table carries."""
    return {
        name: float(metrics.attrs[f"reference_{name}"])
        for name in CRITERION_NAMES
        if f"reference_{name}" in metrics.attrs
    }


def session_limits(
    athlete,
    policy,
    metrics,
    day,
    readings,
    *,
    geometry=None,
    length_scale: float = 1.0,
    out_of_domain: str = "warn",
) -> CriterionLimits:
    """The per-criterion limits of a session ``day``: a
    :class:`~musclesim.training.tolerance.CriterionLimits`.

    They are :func:`~musclesim.training.tolerance.todays_limits` from the athlete's assessment
    log (the latest assessment on or before ``day``) or the grade's time course, under the
    pain and soreness reading that applies that day (the latest of ``readings``, tuples
    ``(date, pain, soreness)``, on or before it and at most
    ``policy.autoregulation_horizon_days`` old; else 0), kept as ``limits.session_pain`` and
    ``limits.session_soreness``.

    ``limits.values[c]`` is today's limit of criterion ``c`` in the metrics table's units
    (per repetition / exposure unit, like the table's variable ``c``): a level ``(d, k)`` is
    within today's limits when ``metrics[c][d, k] <= limits.values[c]`` for every criterion
    ``c`` in ``limits.values`` (every ``reference_<c>`` attribute of the table);
    ``limits.fractions[c]`` is that limit over the reference, ``limits.basis`` says why.

    Args:
        geometry, length_scale: the athlete's full geometry model and height scale, for the
            end-range limit at the pain-free pose and the strength capacity (see
            :func:`~musclesim.training.tolerance.todays_limits`); without them the end-range
            limit scales the table's reference.
        out_of_domain: what an assessment pose outside the fitted geometry gets (see
            :func:`~musclesim.training.tolerance.todays_limits`).
    """
    pain, soreness = _reading_for(day, readings, policy.autoregulation_horizon_days)
    return todays_limits(
        athlete,
        day,
        table_references(metrics),
        policy=policy,
        pain=pain,
        soreness=soreness,
        geometry=geometry,
        length_scale=length_scale,
        out_of_domain=out_of_domain,
    )


def max_velocity_mask(metrics: xr.Dataset, athlete, settings: PlanSettings) -> np.ndarray:
    """(drill, intensity) mask of levels that count as maximal-velocity sprinting."""
    flag = np.asarray(metrics["max_velocity"].values, dtype=float) > 0
    unit = np.asarray(metrics["intensity_unit"].values, dtype=str)
    value = np.asarray(metrics["intensity_value"].values, dtype=float)
    speed = (unit[:, None] == "m/s") & (
        value >= settings.max_velocity_fraction * athlete.max_sprint_speed - 1e-9
    )
    return (flag | speed) & np.isfinite(np.asarray(metrics["intensity_value"]))
