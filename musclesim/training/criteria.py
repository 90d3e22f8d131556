"""The tissue-load criteria of the injured muscle, by name, and their utilisation.

Each criterion is one field of :class:`~musclesim.muscle.metrics.MuscleMetrics` (computed per
simulated trajectory by :func:`~musclesim.muscle.metrics.fiber_metrics`), compared with its own
limit. :data:`CRITERIA` lists them in the order every output shows them; :func:`utilisation`
is a value's fraction of its limit, the number a verdict reads: a drill is within today's
limits when every criterion's utilisation is at most 1, and the criterion with the largest
utilisation binds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..muscle import metrics as _metrics

#: Smallest limit divided by (criterion units): a limit of 0 (nothing tolerated) makes any
#: positive value infinitely over it, and 0 over 0 is within it.
MIN_LIMIT = 1e-12


@dataclasses.dataclass(frozen=True)
class Criterion:
    """One tissue-load criterion: its :class:`~musclesim.muscle.metrics.MuscleMetrics` field
    ``name``, ``unit`` (``"1"`` for dimensionless), ``long_name`` for tables and plots, a
    ``description`` of how it is computed, and the citation-registry keys of its
    ``references``."""

    name: str
    unit: str
    long_name: str
    description: str
    references: tuple[str, ...]


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "active_stretch",
        "1",
        "active stretch (fibre strain while actively loaded)",
        "largest fibre strain l_M/l_opt - 1 over samples where the active fibre force is at "
        f"least {_metrics.ACTIVE_FORCE_FRACTION:g} F_max",
        ("lieber1993", "degroote2016"),
    ),
    Criterion(
        "active_negative_work",
        "J",
        "active negative work",
        "integral of active fibre force x fibre lengthening velocity where the fibre lengthens",
        ("lieber1993", "chumanov2011"),
    ),
    Criterion(
        "peak_force",
        "N",
        "peak musculotendon force",
        "largest tendon (musculotendon) force",
        ("schache2012",),
    ),
    Criterion(
        "active_lengthening_velocity",
        "1",
        "peak lengthening velocity while active (v / v_max)",
        "largest fibre lengthening velocity over actively loaded samples, in v_max l_opt",
        ("chumanov2011",),
    ),
    Criterion(
        "end_range_length",
        "1",
        "end-range musculotendon strain",
        "largest musculotendon strain L_MTU/L_upright - 1 (passive end-range stretch)",
        ("thelen2005", "schache2012"),
    ),
)

#: Criterion names in :data:`CRITERIA` order.
CRITERION_NAMES: tuple[str, ...] = tuple(c.name for c in CRITERIA)


def criterion(name: str) -> Criterion:
    """The :class:`Criterion` called ``name`` (KeyError naming the known ones otherwise)."""
    for c in CRITERIA:
        if c.name == name:
            return c
    raise KeyError(f"no criterion {name!r}; known: {', '.join(CRITERION_NAMES)}")


def criteria_values(metrics: _metrics.MuscleMetrics) -> dict[str, np.ndarray]:
    """{criterion name: value array} gathered from a
    :class:`~musclesim.muscle.metrics.MuscleMetrics` (units of each :class:`Criterion`)."""
    return {name: np.asarray(getattr(metrics, name), dtype=float) for name in CRITERION_NAMES}


def utilisation(value, limit):
    """Fraction of ``limit`` that ``value`` uses: value / limit (broadcasting; for
    ``end_range_length`` the ratio of MTU strains).

    A value of 0 uses 0 of any limit; a positive value over a limit of 0 uses ``inf`` (over
    it, never NaN). Values and limits are in the criterion's unit, limits >= 0.
    """
    value = np.asarray(value, dtype=float)
    limit = np.asarray(limit, dtype=float)
    safe = np.maximum(limit, MIN_LIMIT)
    ratio = value / safe
    return np.where((limit < MIN_LIMIT) & (value > 0), np.inf, np.where(value <= 0, 0.0, ratio))
