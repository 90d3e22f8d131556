"""A session day's tolerance limit under the pain and soreness readings, and which drill
levels count as maximal-velocity sprinting.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..tolerance import tolerance_limit
from .settings import PlanSettings


def _reading_for(day, readings, horizon):
    """(pain, soreness) that applies on ``day``: the latest reading on or before ``day`` and
    at most ``horizon`` days old; (0, 0) otherwise."""
    best = None
    for rday, pain, soreness in readings:
        if rday <= day and (day - rday).days <= horizon and (best is None or rday >= best[0]):
            best = (rday, pain, soreness)
    return (0.0, 0.0) if best is None else (best[1], best[2])


def session_limits(athlete, policy, metrics, day, readings):
    """``(limit, pain, soreness)`` of a session ``day``: the pain and soreness reading that
    applies that day, and the :class:`~musclesim.training.tolerance.ToleranceLimit` under it."""
    pain, soreness = _reading_for(day, readings, policy.autoregulation_horizon_days)
    return (
        tolerance_limit(
            athlete,
            athlete.days_since_injury(day),
            policy=policy,
            pain=pain,
            soreness=soreness,
            reference_strain=float(metrics.attrs["reference_peak_eccentric_fiber_strain"]),
            reference_force=float(metrics.attrs["reference_peak_force"]),
        ),
        pain,
        soreness,
    )


def max_velocity_mask(metrics: xr.Dataset, athlete, settings: PlanSettings) -> np.ndarray:
    """(drill, intensity) mask of levels that count as maximal-velocity sprinting."""
    flag = np.asarray(metrics["max_velocity"].values, dtype=float) > 0
    unit = np.asarray(metrics["intensity_unit"].values, dtype=str)
    value = np.asarray(metrics["intensity_value"].values, dtype=float)
    speed = (unit[:, None] == "m/s") & (
        value >= settings.max_velocity_fraction * athlete.max_sprint_speed - 1e-9
    )
    return (flag | speed) & np.isfinite(np.asarray(metrics["peak_eccentric_fiber_strain"]))
