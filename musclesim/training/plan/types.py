"""What a plan is made of: :class:`PlannedDrill` in a :class:`Session` in a :class:`Plan`, the
day's per-criterion limits (:class:`DayLimits`), and the error raised when no plan satisfies
the rules.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ...core.errors import InputError
from ..tolerance import TolerancePolicy, policy_summary
from .settings import PlanSettings


class PlanInfeasibleError(InputError):
    """No plan satisfies every constraint; the message names the constraint(s) to relax."""


@dataclasses.dataclass(frozen=True)
class DayLimits:
    """One day's limits: ``values`` {criterion name: limit in the criterion's unit} and the
    ``basis`` they come from (which assessment, or the grade's prior)."""

    values: Mapping[str, float]
    basis: str


#: Session kinds: a field/gym ``session`` on a plan weekday, or the ``home`` protocol.
SESSION_KINDS = ("session", "home")


@dataclasses.dataclass(frozen=True)
class PlannedDrill:
    """One drill in one session: its level, dose, criteria per repetition (or per dose unit)
    and their utilisation of that day's limits, the binding criterion, and the session load it
    adds (active negative work in J, high-load exposures)."""

    drill: str
    level: int
    intensity: float
    intensity_unit: str
    dose: float
    dose_unit: str
    category: str
    bouts: int
    criteria: Mapping[str, float]
    utilisation: Mapping[str, float]
    binding: str
    negative_work: float
    high_load_exposures: float
    speed_fraction: float


@dataclasses.dataclass(frozen=True)
class Session:
    """One day's session: its limits and drills (empty: rest). ``kind`` is ``session`` (field
    or gym, on a plan weekday) or ``home`` (the home protocol on other days)."""

    date: datetime.date
    days_since_injury: int
    week: int
    deload_week: bool
    kind: str
    limits: Mapping[str, float]
    basis: str
    hard: bool
    drills: tuple[PlannedDrill, ...]
    fixed: bool = False

    @property
    def negative_work(self) -> float:
        return float(sum(d.negative_work for d in self.drills))

    @property
    def high_load_exposures(self) -> float:
        return float(sum(d.high_load_exposures for d in self.drills))

    @property
    def top_speed_fraction(self) -> float:
        return max((d.speed_fraction for d in self.drills), default=0.0)


@dataclasses.dataclass(frozen=True)
class Plan:
    """A day-by-day plan and everything needed to check or re-plan it."""

    athlete: Any
    policy: TolerancePolicy
    settings: PlanSettings
    metrics: xr.Dataset
    criteria: tuple[str, ...]
    start: datetime.date
    weeks: int
    target_return_date: datetime.date
    full_training_date: datetime.date | None
    readings: tuple[tuple[datetime.date, float, float], ...]
    sessions: tuple[Session, ...]
    weekly_negative_work: tuple[float, ...]
    weekly_high_load_exposures: tuple[float, ...]
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
            "Full training from "
            + (
                f"{self.full_training_date} (after the required near-maximal and "
                "maximal-velocity sessions)."
                if self.full_training_date is not None
                else "a day not in this plan: the limits do not clear it (see the notes)."
            ),
        ]
        basis = None
        for s in self.sessions:
            if not s.drills and s.kind == "home":
                continue
            if s.basis != basis:
                lines.append(f"  limits from {s.basis}")
                basis = s.basis
            head = (
                f"{s.date} {s.date.strftime('%a')} (day {s.days_since_injury}, week {s.week}"
                f"{', deload' if s.deload_week else ''}) {s.kind}"
                f"{' HARD' if s.hard else ''}{' [done]' if s.fixed else ''}:"
            )
            if not s.drills:
                lines.append(f"  {head} rest (no admissible drill chosen)")
                continue
            items = "; ".join(
                f"{d.drill} @ {d.intensity:.3g} {d.intensity_unit}"
                + (f" ({d.speed_fraction:.0%} max)" if d.speed_fraction else "")
                + f" x {d.dose:g} {d.dose_unit}"
                + (f" x{d.bouts}/day" if d.bouts > 1 else "")
                + f" [{d.binding} {d.utilisation[d.binding]:.0%}]"
                for d in s.drills
            )
            lines.append(f"  {head} {items}")
        lines.append(
            "Weekly active negative work (J): "
            + ", ".join(f"w{k + 1} {v:.0f}" for k, v in enumerate(self.weekly_negative_work))
        )
        lines.append(
            "Weekly high-load exposures: "
            + ", ".join(f"w{k + 1} {v:.0f}" for k, v in enumerate(self.weekly_high_load_exposures))
        )
        lines += [f"Note: {n}" for n in self.notes]
        lines += ["", self.settings.summary(), "", policy_summary(self.policy, self.athlete)]
        return "\n".join(lines)

    def to_dataset(self) -> xr.Dataset:
        """One row (``entry``) per session x drill; a rest session gives one row, drill ''
        and status ``rest`` (no NaN: its criteria and load are 0).

        The attributes hold what :func:`read_plan` needs to rebuild the plan for re-planning
        (start, weeks, target, readings, rules, criteria) and the human-readable policy
        statements.
        """
        rows = plan_rows(self)
        data = {k: ("entry", np.asarray([r[k] for r in rows])) for k in rows[0]}
        ds = xr.Dataset(
            data,
            attrs={
                "start": str(self.start),
                "weeks": self.weeks,
                "target_return_date": str(self.target_return_date),
                "full_training_date": str(self.full_training_date or ""),
                "criteria": ",".join(self.criteria),
                "readings": ";".join(f"{d}:{p:g}:{s:g}" for d, p, s in self.readings),
                "plan_settings": json.dumps(dataclasses.asdict(self.settings)),
                "policy_summary": policy_summary(self.policy, self.athlete),
                "plan_rules": self.settings.summary(),
                "notes": "\n".join(self.notes),
                "solve_seconds": self.solve_seconds,
            },
        )
        units = {c: str(self.metrics[c].attrs.get("units", "1")) for c in self.criteria}
        for c in self.criteria:
            ds[c].attrs.update(units=units[c], long_name=f"{c} per repetition")
            ds[f"limit_{c}"].attrs.update(units=units[c], long_name=f"that day's {c} limit")
            ds[f"utilisation_{c}"].attrs.update(units="1", long_name=f"{c} / its limit")
        ds["negative_work"].attrs.update(units="J", long_name="active negative work, session")
        ds["speed_fraction"].attrs.update(units="1", long_name="fraction of maximal speed")
        return ds


def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """The plan as one row per session x drill (a rest session gives one row, drill '' and
    status ``rest``), the layout of :meth:`Plan.to_dataset` and the CSV."""
    rows = []
    for s in plan.sessions:
        if not s.drills and s.kind == "home":
            continue
        full = plan.full_training_date
        base = {
            "date": str(s.date),
            "phase": "full training" if full is not None and s.date >= full else "rehabilitation",
            "full_training_date": str(full or ""),
            "days_since_injury": s.days_since_injury,
            "week": s.week,
            "deload_week": int(s.deload_week),
            "kind": s.kind,
            "hard": int(s.hard),
            "basis": s.basis,
            "fixed": int(s.fixed),
        }
        limits = {f"limit_{c}": float(s.limits[c]) for c in plan.criteria}
        if not s.drills:
            rows.append(
                {
                    **base,
                    "status": "rest",
                    "drill": "",
                    "category": "",
                    "level": -1,
                    "intensity": 0.0,
                    "intensity_unit": "",
                    "speed_fraction": 0.0,
                    "dose": 0.0,
                    "dose_unit": "",
                    "bouts": 0,
                    **{c: 0.0 for c in plan.criteria},
                    **limits,
                    **{f"utilisation_{c}": 0.0 for c in plan.criteria},
                    "binding": "",
                    "negative_work": 0.0,
                    "high_load_exposures": 0.0,
                }
            )
        for d in s.drills:
            rows.append(
                {
                    **base,
                    "status": "planned",
                    "drill": d.drill,
                    "category": d.category,
                    "level": d.level,
                    "intensity": d.intensity,
                    "intensity_unit": d.intensity_unit,
                    "speed_fraction": d.speed_fraction,
                    "dose": d.dose,
                    "dose_unit": d.dose_unit,
                    "bouts": d.bouts,
                    **{c: float(d.criteria[c]) for c in plan.criteria},
                    **limits,
                    **{f"utilisation_{c}": float(d.utilisation[c]) for c in plan.criteria},
                    "binding": d.binding,
                    "negative_work": d.negative_work,
                    "high_load_exposures": d.high_load_exposures,
                }
            )
    return rows
