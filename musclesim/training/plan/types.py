"""What a plan is made of: :class:`PlannedDrill` in a :class:`Session` in a :class:`Plan`,
and the error raised when no plan satisfies the rules.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from typing import Any

import numpy as np
import xarray as xr

from ...core.errors import InputError
from ..tolerance import TolerancePolicy, policy_summary
from .settings import PlanSettings


class PlanInfeasibleError(InputError):
    """No plan satisfies every constraint; the message names the constraint(s) to relax."""


@dataclasses.dataclass(frozen=True)
class PlannedDrill:
    """One drill in one session."""

    drill: str
    level: int
    intensity: float
    intensity_unit: str
    dose: float
    dose_unit: str
    peak_eccentric_fiber_strain: float
    peak_mtu_strain: float
    peak_force: float
    load: float
    max_velocity: bool


@dataclasses.dataclass(frozen=True)
class Session:
    """One session: its day, limits and drills (empty: rest/no stretch loading)."""

    date: datetime.date
    days_since_injury: int
    week: int
    deload_week: bool
    pain: float
    soreness: float
    strain_limit: float
    force_limit: float
    limit_fraction: float
    near_limit: bool
    drills: tuple[PlannedDrill, ...]
    fixed: bool = False

    @property
    def load(self) -> float:
        return float(sum(d.load for d in self.drills))


@dataclasses.dataclass(frozen=True)
class Plan:
    """A session-by-session plan and everything needed to check or re-plan it."""

    athlete: Any
    policy: TolerancePolicy
    settings: PlanSettings
    metrics: xr.Dataset
    start: datetime.date
    weeks: int
    target_return_date: datetime.date
    readings: tuple[tuple[datetime.date, float, float], ...]
    sessions: tuple[Session, ...]
    weekly_load: tuple[float, ...]
    notes: tuple[str, ...]
    solve_seconds: float
    objective: float

    def summary(self) -> str:
        """The plan as text, followed by the plan rules and the tolerance policy."""
        a = self.athlete
        lines = [
            f"Plan for {a.name or 'athlete'}: {a.side} {a.muscle} grade {a.grade}, injured "
            f"{a.injury_date}; {self.weeks} weeks from {self.start}; target return "
            f"{self.target_return_date}.",
        ]
        for s in self.sessions:
            head = (
                f"{s.date} (day {s.days_since_injury}, week {s.week}"
                f"{', deload' if s.deload_week else ''}) limit {s.limit_fraction:.2f} x ref"
                f"{' NEAR LIMIT' if s.near_limit else ''}{' [done]' if s.fixed else ''}:"
            )
            if not s.drills:
                lines.append(f"  {head} rest (no drill under the limit chosen)")
                continue
            items = "; ".join(
                f"{d.drill} @ {d.intensity:.3g} {d.intensity_unit} x {d.dose:g} {d.dose_unit}"
                f"{' (max-v)' if d.max_velocity else ''}"
                for d in s.drills
            )
            lines.append(f"  {head} {items}")
        lines.append(
            "Weekly strain-weighted load: "
            + ", ".join(f"w{k + 1} {v:.1f}" for k, v in enumerate(self.weekly_load))
        )
        lines += [f"Note: {n}" for n in self.notes]
        lines += ["", self.settings.summary(), "", policy_summary(self.policy, self.athlete)]
        return "\n".join(lines)

    def to_dataset(self) -> xr.Dataset:
        """One row (``entry``) per session × drill; rest sessions give one row, drill ''.

        The attributes hold what :func:`read_plan` needs to rebuild the plan for re-planning
        (start, weeks, target, readings, rules) and the human-readable policy statements.
        """
        rows = plan_rows(self)
        data = {k: ("entry", np.asarray([r[k] for r in rows])) for k in rows[0]}
        ds = xr.Dataset(
            data,
            attrs={
                "start": str(self.start),
                "weeks": self.weeks,
                "target_return_date": str(self.target_return_date),
                "readings": ";".join(f"{d}:{p:g}:{s:g}" for d, p, s in self.readings),
                "plan_settings": json.dumps(dataclasses.asdict(self.settings)),
                "policy_summary": policy_summary(self.policy, self.athlete),
                "plan_rules": self.settings.summary(),
                "solve_seconds": self.solve_seconds,
            },
        )
        for name, units in (
            ("strain_limit", "1"),
            ("force_limit", "N"),
            ("peak_force", "N"),
            ("peak_eccentric_fiber_strain", "1"),
            ("peak_mtu_strain", "1"),
        ):
            ds[name].attrs["units"] = units
        return ds


def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """The plan as one row per session x drill (a rest session gives one row, drill ''),
    the layout of :meth:`Plan.to_dataset` and the CSV."""
    rows = []
    for s in plan.sessions:
        base = {
            "date": str(s.date),
            "days_since_injury": s.days_since_injury,
            "week": s.week,
            "deload_week": int(s.deload_week),
            "pain": s.pain,
            "soreness": s.soreness,
            "limit_fraction": s.limit_fraction,
            "strain_limit": s.strain_limit,
            "force_limit": s.force_limit,
            "near_limit": int(s.near_limit),
        }
        if not s.drills:
            rows.append(
                {
                    **base,
                    "drill": "",
                    "level": -1,
                    "intensity": math.nan,
                    "intensity_unit": "",
                    "dose": 0.0,
                    "dose_unit": "",
                    "peak_eccentric_fiber_strain": math.nan,
                    "peak_mtu_strain": math.nan,
                    "peak_force": math.nan,
                    "margin": math.nan,
                    "load": 0.0,
                    "max_velocity": 0,
                    "fixed": int(s.fixed),
                }
            )
        for d in s.drills:
            rows.append(
                {
                    **base,
                    "drill": d.drill,
                    "level": d.level,
                    "intensity": d.intensity,
                    "intensity_unit": d.intensity_unit,
                    "dose": d.dose,
                    "dose_unit": d.dose_unit,
                    "peak_eccentric_fiber_strain": d.peak_eccentric_fiber_strain,
                    "peak_mtu_strain": d.peak_mtu_strain,
                    "peak_force": d.peak_force,
                    "margin": s.strain_limit - d.peak_eccentric_fiber_strain,
                    "load": d.load,
                    "max_velocity": int(d.max_velocity),
                    "fixed": int(s.fixed),
                }
            )
    return rows
