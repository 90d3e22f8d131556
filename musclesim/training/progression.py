"""Multi-week progression plan: a mixed-integer linear programme (scipy's HiGHS) that chooses
drills, intensities and doses for every session.

**Input contract — the drill metrics table** (:func:`metrics_table` builds one,
:func:`check_metrics` validates one; the simulation writes it as netCDF). An
``xarray.Dataset`` with dims ``drill`` (names as coordinate) and ``intensity`` (level index
0..K-1; drills with fewer levels pad with NaN):

==============================  ==================  ===========================================
variable                        dims                meaning
==============================  ==================  ===========================================
``intensity_value``             drill, intensity    the drill's intensity at that level
``peak_eccentric_fiber_strain`` drill, intensity    injured muscle, at the default technique
``peak_mtu_strain``             drill, intensity    injured muscle (reported, not constrained)
``peak_force``                  drill, intensity    injured muscle (N)
``exposures_per_dose``          drill, intensity    loading cycles of the injured muscle per
                                                    dose unit (1 for reps; strides per metre
                                                    for runs); optional, default 1
``max_velocity``                drill, intensity    1 where the level counts as maximal-
                                                    velocity sprinting; optional (also inferred
                                                    from ``m/s`` drills, see PlanSettings)
``sprint_specificity``          drill               0..1 score
``intensity_unit``              drill               e.g. ``m/s``, ``kg``, ``m``
``dose_unit``                   drill               e.g. ``reps``, ``m``
``dose_min``, ``dose_max``,     drill               dose bounds per session and the dose step
``dose_step``                                       (doses are whole multiples of the step)
==============================  ==================  ===========================================

and attributes ``reference_peak_eccentric_fiber_strain`` and ``reference_peak_force``: the
same muscle **uninjured** at the athlete's maximal sprint speed (the tolerance reference);
optionally ``muscle`` (the model muscle name, e.g. ``bflh_r``, checked against the athlete by
the CLI) and ``model_family`` (``rajagopal`` or ``gait2392``), plus provenance.

**The programme.** Sessions fall on fixed weekdays. For session ``s`` and option ``o`` (a drill
at one intensity level) allowed that day — peak eccentric fibre strain ``<=`` the day's strain
limit and peak force ``<=`` the day's force limit (:func:`~musclesim.tolerance_limit`) —
binary ``y[s,o]`` chooses the option and integer ``n[s,o]`` its dose in steps. With
``w[o] = exposures_per_dose * max(strain, 0) / reference_strain`` (strain-weighted load per
dose unit) and ``L[k]`` the sum of ``w * step * n`` over the sessions of week ``k``:

1. per session, at most one level per drill and at most ``max_drills_per_session`` drills;
   ``dose_min <= step n <= dose_max`` when chosen, 0 otherwise;
2. ``L[k] <= (1 + max_weekly_increase) L[j]``, ``j`` the last non-deload week before ``k``;
   optionally ``L[1] <= first_week_load_cap``;
3. every ``deload_every``-th week: ``L[k] <= (1 - deload_reduction) L[k-1]``;
4. a session is *near the limit* when a chosen option's strain (or force) is at least
   ``(1 - near_limit_margin)`` times that day's limit; two near-limit sessions are at least
   ``min_hours_between_near_limit`` apart;
5. at least ``min_max_velocity_sessions`` sessions with maximal-velocity sprinting before the
   target return day (when that day falls inside the plan). When the limit never allows it,
   on any day (the injured muscle's maximal-velocity strain or force exceeds the policy's
   full-recovery fraction of the uninjured reference, e.g. because its fascicles are shorter
   than the uninjured side's), the requirement is dropped and the plan says so in a note: the
   fastest running level allowed by the target day, why full speed is not cleared, and the
   ``full_fraction`` that would clear it. A target that is merely too early stays an error.

Objective: maximise the sprint-specificity-weighted load ``sum (specificity + 0.05) w step n``
(the small constant keeps non-specific drills worth doing). The doses are therefore the most
the constraints allow: upper bounds for the day, not targets.

Every default of :class:`PlanSettings` is policy with its source in :data:`REFERENCES`.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize
import scipy.sparse
import xarray as xr

from ..core.errors import InputError
from ..core.io import atomic_path, write_netcdf_atomic, write_text_atomic
from .tolerance import TolerancePolicy, policy_summary, tolerance_limit

#: References used in this module (to be merged into the project's citation registry).
#: ``verified: False`` marks a detail not checked against the paper in this release.
REFERENCES: dict[str, dict[str, Any]] = {
    "nielsen2014": {
        "authors": "Nielsen RO, Parner ET, Nohr EA, Sørensen H, Lind M, Rasmussen S",
        "year": 2014,
        "title": "Excessive progression in weekly running distance and risk of running-related "
        "injuries: an association which varies according to type of injury",
        "journal": "J Orthop Sports Phys Ther 44(10):739-747",
        "doi": "10.2519/jospt.2014.5164",
        "verified": False,
        "used_for": "weekly increases above 30 % associated with more distance-related running "
        "injuries: max_weekly_increase 0.30",
    },
    "gabbett2016": {
        "authors": "Gabbett TJ",
        "year": 2016,
        "title": "The training-injury prevention paradox: should athletes be training smarter "
        "and harder?",
        "journal": "Br J Sports Med 50(5):273-280",
        "doi": "10.1136/bjsports-2015-095788",
        "verified": False,
        "used_for": "acute:chronic workload ratio 0.8-1.3 as the lower-risk range (consistent "
        "with a weekly rise of at most 30 %)",
    },
    "bell2022": {
        "authors": "Bell L, Nolan D, Immonen V, Helms E, Dallamore J, Wolf M, Androulakis "
        "Korakakis P",
        "year": 2022,
        "title": "\"You can't shoot another bullet until you've reloaded the gun\": coaches' "
        "perceptions, practices and experiences of deloading in strength and physique sports",
        "journal": "Front Sports Act Living 4:1073223",
        "doi": "10.3389/fspor.2022.1073223",
        "used_for": "deloads of 5-7 days every 4-6 weeks, reducing volume: deload_every 4 "
        "weeks; the 30 % reduction is policy (no single number in the source)",
    },
    "malone2017": {
        "authors": "Malone S, Roe M, Doran DA, Gabbett TJ, Collins K",
        "year": 2017,
        "title": "High chronic training loads and exposure to bouts of maximal velocity running "
        "reduce injury risk in elite Gaelic football",
        "journal": "J Sci Med Sport 20(3):250-254",
        "doi": "10.1016/j.jsams.2016.08.005",
        "verified": False,
        "used_for": "maximal-velocity exposure defined as running at >= 95 % of the athlete's "
        "maximal velocity: max_velocity_fraction 0.95",
    },
    "issue5": {
        "authors": "musclesim issue 5",
        "year": 2026,
        "title": "The main job: drill library, tissue-tolerance model, drill ranking, "
        "multi-week progression plan and drill-safety lookup tables",
        "journal": "project requirement",
        "doi": None,
        "used_for": "at least 48 h between sessions near the limit (requirement; practice, not "
        "a measured threshold)",
    },
}

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC_FLOOR = 0.05


# ------------------------------------------------------------------------------------------
# The metrics table.
def metrics_table(
    drills: Sequence[str],
    intensity_value,
    peak_eccentric_fiber_strain,
    peak_mtu_strain,
    peak_force,
    *,
    intensity_unit: Sequence[str],
    dose_unit: Sequence[str],
    dose_min,
    dose_max,
    dose_step,
    sprint_specificity,
    reference_peak_eccentric_fiber_strain: float,
    reference_peak_force: float,
    exposures_per_dose=None,
    max_velocity=None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build a drill metrics table (the contract in this module's docstring) and check it.

    Grid arguments are ``(n_drill, n_level)`` arrays (NaN where a drill has fewer levels);
    per-drill arguments are length ``n_drill``.
    """
    grid = np.asarray(intensity_value, dtype=float)
    if grid.ndim != 2 or grid.shape[0] != len(drills):
        raise InputError(
            f"intensity grid of shape {grid.shape}",
            field="intensity_value",
            expected=f"(n_drill={len(drills)}, n_level)",
        )
    dims = ("drill", "intensity")

    def g(values, name, default=None):
        if values is None:
            values = default
        arr = np.broadcast_to(np.asarray(values, dtype=float), grid.shape).copy()
        return xr.DataArray(arr, dims=dims, attrs={"long_name": name})

    ds = xr.Dataset(
        {
            "intensity_value": g(grid, "drill intensity at this level"),
            "peak_eccentric_fiber_strain": g(
                peak_eccentric_fiber_strain, "peak eccentric fibre strain of the injured muscle"
            ),
            "peak_mtu_strain": g(peak_mtu_strain, "peak MTU strain of the injured muscle"),
            "peak_force": g(peak_force, "peak force of the injured muscle"),
            "exposures_per_dose": g(exposures_per_dose, "loading cycles per dose unit", 1.0),
            "max_velocity": g(max_velocity, "counts as maximal-velocity sprinting", 0.0),
            "sprint_specificity": (
                "drill",
                np.asarray(sprint_specificity, dtype=float),
                {"long_name": "sprint specificity", "units": "1"},
            ),
            "intensity_unit": ("drill", np.asarray(intensity_unit, dtype=str)),
            "dose_unit": ("drill", np.asarray(dose_unit, dtype=str)),
            "dose_min": ("drill", np.asarray(dose_min, dtype=float)),
            "dose_max": ("drill", np.asarray(dose_max, dtype=float)),
            "dose_step": ("drill", np.asarray(dose_step, dtype=float)),
        },
        coords={"drill": list(drills), "intensity": np.arange(grid.shape[1])},
        attrs={
            "reference_peak_eccentric_fiber_strain": float(reference_peak_eccentric_fiber_strain),
            "reference_peak_force": float(reference_peak_force),
            **(attrs or {}),
        },
    )
    ds["peak_eccentric_fiber_strain"].attrs["units"] = "1"
    ds["peak_mtu_strain"].attrs["units"] = "1"
    ds["peak_force"].attrs["units"] = "N"
    ds["max_velocity"] = ds["max_velocity"].fillna(0).astype("int8")
    return check_metrics(ds)


_GRID_VARS = ("intensity_value", "peak_eccentric_fiber_strain", "peak_mtu_strain", "peak_force")
_DRILL_VARS = (
    "sprint_specificity",
    "intensity_unit",
    "dose_unit",
    "dose_min",
    "dose_max",
    "dose_step",
)


def check_metrics(ds: xr.Dataset, *, source: str | None = None) -> xr.Dataset:
    """Validate a metrics table; fill the optional variables. Returns the (possibly
    completed) dataset. Raises :class:`InputError` naming the variable."""
    for dim in ("drill", "intensity"):
        if dim not in ds.dims:
            raise InputError(
                f"missing dimension {dim!r}",
                path=source,
                field=dim,
                expected="dims ('drill', 'intensity')",
            )
    for name in _GRID_VARS + _DRILL_VARS:
        if name not in ds:
            raise InputError(
                "missing variable",
                path=source,
                field=name,
                expected="the metrics-table contract (musclesim.training.progression)",
            )
    for name in _GRID_VARS:
        if set(ds[name].dims) != {"drill", "intensity"}:
            raise InputError(
                f"dims {ds[name].dims}", path=source, field=name, expected="('drill', 'intensity')"
            )
    for key in ("reference_peak_eccentric_fiber_strain", "reference_peak_force"):
        value = ds.attrs.get(key)
        if value is None or not float(value) > 0:
            raise InputError(
                f"{value!r}",
                path=source,
                field=f"attrs.{key}",
                expected="the uninjured value at maximal sprint speed, > 0",
            )
    if "exposures_per_dose" not in ds:
        ds = ds.assign(exposures_per_dose=xr.ones_like(ds["peak_force"]))
    if "max_velocity" not in ds:
        ds = ds.assign(max_velocity=xr.zeros_like(ds["peak_force"]).astype("int8"))
    ds = ds.transpose("drill", "intensity", ...)
    strain = ds["peak_eccentric_fiber_strain"].values
    for name in ("peak_force", "intensity_value"):
        mismatch = np.isfinite(strain) != np.isfinite(ds[name].values)
        if mismatch.any():
            i, k = np.argwhere(mismatch)[0]
            raise InputError(
                "present where peak_eccentric_fiber_strain is missing or vice versa",
                path=source,
                field=f"{name}[drill={ds.drill.values[i]!s}, intensity={k}]",
                expected="NaN in the same cells",
            )
    if np.any(ds["peak_force"].values[np.isfinite(strain)] < 0):
        raise InputError("negative force", path=source, field="peak_force", expected=">= 0 N")
    spec = ds["sprint_specificity"].values
    if np.any(~np.isfinite(spec)) or np.any((spec < 0) | (spec > 1)):
        raise InputError(
            "out of range", path=source, field="sprint_specificity", expected="in [0, 1]"
        )
    lo, hi, step = (ds[v].values for v in ("dose_min", "dose_max", "dose_step"))
    bad = (
        ~(np.isfinite(lo) & np.isfinite(hi) & np.isfinite(step))
        | (step <= 0)
        | (lo <= 0)
        | (hi < lo)
    )
    for i in np.flatnonzero(bad):
        raise InputError(
            f"dose bounds ({lo[i]}, {hi[i]}, step {step[i]})",
            path=source,
            field=f"dose_min/dose_max/dose_step[drill={ds.drill.values[i]!s}]",
            expected="0 < dose_min <= dose_max, dose_step > 0",
        )
    for i in range(ds.sizes["drill"]):
        if math.ceil(lo[i] / step[i] - 1e-9) > math.floor(hi[i] / step[i] + 1e-9):
            raise InputError(
                "no whole number of steps between dose_min and dose_max",
                path=source,
                field=f"dose_step[drill={ds.drill.values[i]!s}]",
                expected="dose_min <= k * dose_step <= dose_max for some k",
            )
    if len(set(map(str, ds.drill.values))) != ds.sizes["drill"]:
        raise InputError(
            "duplicate drill names", path=source, field="drill", expected="unique names"
        )
    return ds


def load_metrics(path: str | Path) -> xr.Dataset:
    """Read and validate a metrics table from netCDF."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path, expected="a drill metrics netCDF file")
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    return check_metrics(ds, source=str(path))


# ------------------------------------------------------------------------------------------
# Settings and results.
@dataclasses.dataclass(frozen=True)
class PlanSettings:
    """Plan rules (policy; sources in :data:`REFERENCES`).

    Attributes:
        weekdays: session weekdays, 0 = Monday (default Mon, Wed, Fri: three sessions a week,
            48 h apart).
        max_weekly_increase: largest rise of weekly strain-weighted load over the last
            non-deload week (0.30; Nielsen et al. 2014, Gabbett 2016).
        deload_every: every this-many-th week is a deload week (4; Bell et al. 2022: every
            4-6 weeks); 0 disables deloads.
        deload_reduction: a deload week's load is at most ``1 - deload_reduction`` times the
            previous week's (0.30; policy).
        near_limit_margin: a session is near the limit when a chosen drill's strain or force
            is at least ``1 - margin`` times that day's limit (0.10; policy).
        min_hours_between_near_limit: 48 (issue 5 requirement).
        max_velocity_fraction: an ``m/s`` level at or above this fraction of the athlete's
            maximal sprint speed counts as maximal-velocity sprinting (0.95; Malone et al. 2017).
        min_max_velocity_sessions: sessions with maximal-velocity sprinting required before
            the target return day (1; policy).
        max_drills_per_session: 4 (policy).
        first_week_load_cap: optional upper bound on week 1's strain-weighted load (the
            clinician's starting volume); None: week 1 is bounded only by the day's limits
            and the dose bounds, and later weeks by the weekly-rise rule.
        time_limit_s: HiGHS time limit (s); at the limit the best feasible plan is kept and
            a note says so.
        mip_rel_gap: HiGHS relative optimality gap (0.01: the plan's objective is within 1 %
            of the best possible; every constraint holds regardless).
    """

    weekdays: tuple[int, ...] = (0, 2, 4)
    max_weekly_increase: float = 0.30
    deload_every: int = 4
    deload_reduction: float = 0.30
    near_limit_margin: float = 0.10
    min_hours_between_near_limit: float = 48.0
    max_velocity_fraction: float = 0.95
    min_max_velocity_sessions: int = 1
    max_drills_per_session: int = 4
    first_week_load_cap: float | None = None
    time_limit_s: float = 60.0
    mip_rel_gap: float = 0.01

    def __post_init__(self):
        days = tuple(self.weekdays)
        if (
            not days
            or len(set(days)) != len(days)
            or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days)
        ):
            raise InputError(
                f"weekdays {self.weekdays!r}",
                field="weekdays",
                expected="distinct integers 0 (Monday) .. 6 (Sunday)",
            )
        object.__setattr__(self, "weekdays", tuple(sorted(days)))
        checks = {
            "max_weekly_increase": (self.max_weekly_increase >= 0, ">= 0"),
            "deload_every": (
                self.deload_every == 0 or self.deload_every >= 2,
                "0 (off) or >= 2 weeks",
            ),
            "deload_reduction": (0 <= self.deload_reduction < 1, "in [0, 1)"),
            "near_limit_margin": (0 <= self.near_limit_margin < 1, "in [0, 1)"),
            "min_hours_between_near_limit": (self.min_hours_between_near_limit >= 0, ">= 0 h"),
            "max_velocity_fraction": (0 < self.max_velocity_fraction <= 1, "in (0, 1]"),
            "min_max_velocity_sessions": (self.min_max_velocity_sessions >= 0, ">= 0"),
            "max_drills_per_session": (self.max_drills_per_session >= 1, ">= 1"),
            "first_week_load_cap": (
                self.first_week_load_cap is None or self.first_week_load_cap >= 0,
                "None or >= 0",
            ),
            "time_limit_s": (self.time_limit_s > 0, "> 0 s"),
            "mip_rel_gap": (0 <= self.mip_rel_gap < 1, "in [0, 1)"),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise InputError(f"{getattr(self, name)!r}", field=name, expected=expected)

    @classmethod
    def with_days_per_week(cls, n: int, **kw) -> PlanSettings:
        """Spread ``n`` sessions over the week (3: Mon/Wed/Fri; 2: Tue/Fri; ...)."""
        layouts = {
            1: (2,),
            2: (1, 4),
            3: (0, 2, 4),
            4: (0, 1, 3, 4),
            5: (0, 1, 2, 3, 4),
            6: (0, 1, 2, 3, 4, 5),
            7: (0, 1, 2, 3, 4, 5, 6),
        }
        if n not in layouts:
            raise InputError(f"{n!r} sessions per week", field="days_per_week", expected="1 to 7")
        return cls(weekdays=layouts[n], **kw)

    def summary(self) -> str:
        names = ", ".join(_WEEKDAYS[d].capitalize() for d in self.weekdays)
        return "\n".join(
            [
                "Plan rules (policy; change with PlanSettings):",
                f"  sessions on {names}; at most {self.max_drills_per_session} drills each",
                f"  weekly strain-weighted load rises by at most {self.max_weekly_increase:.0%} "
                f"(Nielsen et al. 2014, doi:{REFERENCES['nielsen2014']['doi']}; Gabbett 2016, "
                f"doi:{REFERENCES['gabbett2016']['doi']})",
                f"  deload every {self.deload_every} weeks, load cut by at least "
                f"{self.deload_reduction:.0%} (interval: Bell et al. 2022, "
                f"doi:{REFERENCES['bell2022']['doi']}; the cut is policy)"
                if self.deload_every
                else "  no deload weeks",
                f"  sessions within {self.near_limit_margin:.0%} of the day's limit are at least "
                f"{self.min_hours_between_near_limit:g} h apart (issue 5 requirement)",
                f"  maximal-velocity sprinting (>= {self.max_velocity_fraction:.0%} of maximal "
                f"speed; Malone et al. 2017, doi:{REFERENCES['malone2017']['doi']}) in at least "
                f"{self.min_max_velocity_sessions} session(s) before the target return day",
            ]
        )


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
        rows = _rows(self)
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


_CSV_COLUMNS = (
    "date",
    "days_since_injury",
    "week",
    "deload_week",
    "pain",
    "soreness",
    "limit_fraction",
    "strain_limit",
    "force_limit",
    "near_limit",
    "drill",
    "level",
    "intensity",
    "intensity_unit",
    "dose",
    "dose_unit",
    "peak_eccentric_fiber_strain",
    "peak_mtu_strain",
    "peak_force",
    "margin",
    "load",
    "max_velocity",
    "fixed",
)


def _rows(plan: Plan) -> list[dict[str, Any]]:
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


def write_plan_csv(plan: Plan, path: str | Path) -> Path:
    """Write the plan as CSV (one row per session × drill), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(plan):
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return write_text_atomic(path, buffer.getvalue())


def write_plan_netcdf(plan: Plan, path: str | Path) -> Path:
    """Write :meth:`Plan.to_dataset` to netCDF atomically (readable by :func:`read_plan`)."""
    return write_netcdf_atomic(plan.to_dataset(), path)


def read_plan(
    path: str | Path, athlete, metrics: xr.Dataset, *, policy: TolerancePolicy | None = None
) -> Plan:
    """Rebuild a :class:`Plan` written by :func:`write_plan_netcdf`, for :func:`replan`.

    The athlete, metrics table and policy are given again (the file stores the plan, not its
    inputs); drills are matched to the table by name and level.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path, expected="a plan.nc written by musclesim")
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    policy = TolerancePolicy.default() if policy is None else policy
    metrics = check_metrics(metrics)
    try:
        start = datetime.date.fromisoformat(ds.attrs["start"])
        target = datetime.date.fromisoformat(ds.attrs["target_return_date"])
        weeks = int(ds.attrs["weeks"])
        settings_dict = json.loads(ds.attrs["plan_settings"])
        settings_dict["weekdays"] = tuple(settings_dict["weekdays"])
        settings = PlanSettings(**settings_dict)
        readings = tuple(
            (datetime.date.fromisoformat(d), float(p), float(s))
            for d, p, s in (item.split(":") for item in ds.attrs["readings"].split(";") if item)
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(
            f"not a musclesim plan file ({exc})", path=path, field="attributes"
        ) from None
    names = list(map(str, metrics.drill.values))
    strain = metrics["peak_eccentric_fiber_strain"].values
    mv = max_velocity_mask(metrics, athlete, settings)
    ref = float(metrics.attrs["reference_peak_eccentric_fiber_strain"])
    by_date: dict[str, list[int]] = {}
    for i, day in enumerate(map(str, ds["date"].values)):
        by_date.setdefault(day, []).append(i)
    sessions = []
    for day, idx in by_date.items():
        first = idx[0]
        drills = []
        for i in idx:
            name = str(ds["drill"].values[i])
            if not name:
                continue
            if name not in names:
                raise InputError(
                    f"drill {name!r} is not in the metrics table",
                    path=path,
                    field=f"drill[{day}]",
                    expected="the table the plan used",
                )
            j, k = names.index(name), int(ds["level"].values[i])
            dose = float(ds["dose"].values[i])
            drills.append(
                PlannedDrill(
                    drill=name,
                    level=k,
                    intensity=float(metrics["intensity_value"].values[j, k]),
                    intensity_unit=str(metrics["intensity_unit"].values[j]),
                    dose=dose,
                    dose_unit=str(metrics["dose_unit"].values[j]),
                    peak_eccentric_fiber_strain=float(strain[j, k]),
                    peak_mtu_strain=float(metrics["peak_mtu_strain"].values[j, k]),
                    peak_force=float(metrics["peak_force"].values[j, k]),
                    load=float(
                        metrics["exposures_per_dose"].values[j, k]
                        * max(float(strain[j, k]), 0.0)
                        / ref
                        * dose
                    ),
                    max_velocity=bool(mv[j, k]),
                )
            )
        sessions.append(
            Session(
                date=datetime.date.fromisoformat(day),
                days_since_injury=int(ds["days_since_injury"].values[first]),
                week=int(ds["week"].values[first]),
                deload_week=bool(ds["deload_week"].values[first]),
                pain=float(ds["pain"].values[first]),
                soreness=float(ds["soreness"].values[first]),
                strain_limit=float(ds["strain_limit"].values[first]),
                force_limit=float(ds["force_limit"].values[first]),
                limit_fraction=float(ds["limit_fraction"].values[first]),
                near_limit=bool(ds["near_limit"].values[first]),
                drills=tuple(drills),
                fixed=bool(ds["fixed"].values[first]),
            )
        )
    weekly = [0.0] * weeks
    for sess in sessions:
        weekly[sess.week - 1] += sess.load
    return Plan(
        athlete=athlete,
        policy=policy,
        settings=settings,
        metrics=metrics,
        start=start,
        weeks=weeks,
        target_return_date=target,
        readings=readings,
        sessions=tuple(sessions),
        weekly_load=tuple(weekly),
        notes=(),
        solve_seconds=float(ds.attrs.get("solve_seconds", math.nan)),
        objective=math.nan,
    )


def plot_plan_calendar(plan: Plan, path: str | Path) -> Path:
    """A calendar PNG: weeks as rows, weekdays as columns; each session coloured by its limit
    (fraction of the reference), drills listed, near-limit sessions outlined, deload weeks
    shaded, the target return day marked. Written atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    norm = colors.Normalize(vmin=0.0, vmax=max(plan.policy.full_fraction, 1.0))
    cmap = matplotlib.colormaps["viridis"]
    fig, ax = plt.subplots(figsize=(14, 1.6 * plan.weeks + 1.2))
    by_date = {s.date: s for s in plan.sessions}
    for week in range(plan.weeks):
        for wd in range(7):
            day = plan.start + datetime.timedelta(days=7 * week + wd)
            x, y = wd, plan.weeks - 1 - week
            deload = plan.settings.deload_every and (week + 1) % plan.settings.deload_every == 0
            ax.add_patch(
                plt.Rectangle(
                    (x, y), 1, 1, facecolor="0.92" if deload else "white", edgecolor="0.7"
                )
            )
            ax.text(x + 0.03, y + 0.9, day.strftime("%a %d %b"), fontsize=7, va="top")
            if day == plan.target_return_date:
                ax.text(
                    x + 0.97, y + 0.9, "target", fontsize=7, va="top", ha="right", color="crimson"
                )
            s = by_date.get(day)
            if s is None:
                continue
            ax.add_patch(
                plt.Rectangle(
                    (x + 0.02, y + 0.02),
                    0.96,
                    0.72,
                    facecolor=cmap(norm(s.limit_fraction)),
                    alpha=0.35,
                    edgecolor="crimson" if s.near_limit else "none",
                    linewidth=2 if s.near_limit else 0,
                )
            )
            text = (
                "\n".join(
                    f"{d.drill[:16]} {d.intensity:.3g} {d.intensity_unit} x{d.dose:g}"
                    + (" *" if d.max_velocity else "")
                    for d in s.drills
                )
                or "rest"
            )
            ax.text(x + 0.04, y + 0.70, text, fontsize=6, va="top")
    ax.set_xlim(0, 7)
    ax.set_ylim(0, plan.weeks)
    ax.set_axis_off()
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(
        sm,
        ax=ax,
        fraction=0.02,
        pad=0.01,
        label="strain limit (fraction of uninjured at max sprint)",
    )
    a = plan.athlete
    ax.set_title(
        f"{a.side} {a.muscle} grade {a.grade}: {plan.weeks}-week plan from "
        f"{plan.start} (red outline: near limit; * max-velocity; grey: deload week)",
        fontsize=9,
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------
# Planning.
class PlanInfeasibleError(InputError):
    """No plan satisfies every constraint; the message names the constraint(s) to relax."""


def _reading_for(day, readings, horizon):
    """(pain, soreness) that applies on ``day``: the latest reading on or before ``day`` and
    at most ``horizon`` days old; (0, 0) otherwise."""
    best = None
    for rday, pain, soreness in readings:
        if rday <= day and (day - rday).days <= horizon and (best is None or rday >= best[0]):
            best = (rday, pain, soreness)
    return (0.0, 0.0) if best is None else (best[1], best[2])


def session_limits(athlete, policy, metrics, day, readings):
    """The :class:`~musclesim.training.tolerance.ToleranceLimit` of a session day under the readings."""
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
    _history: Plan | None = None,
    _readings: Sequence[tuple[datetime.date, float, float]] = (),
) -> Plan:
    """Plan ``weeks`` weeks of sessions from ``start`` (see the module docstring).

    Args:
        athlete: the :class:`~musclesim.training.athlete.Athlete`.
        metrics: the drill metrics table (contract in the module docstring).
        weeks: plan length in weeks (>= 1).
        start: first day of week 1 (also the day of the pain/soreness reading).
        policy: tolerance policy (default :meth:`TolerancePolicy.default`).
        settings: :class:`PlanSettings` (default ``PlanSettings()``).
        pain, soreness: 0–10 scores read on ``start``.
        target_return_date: default: the athlete's own target, else injury date + the
            policy's expected days for the grade.

    Raises:
        PlanInfeasibleError: naming the constraint that makes the programme infeasible.
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
    t0 = time.perf_counter()
    problem = _Problem(athlete, metrics, weeks, start, policy, settings, target, readings, _history)
    solution = problem.solve()
    plan = problem.to_plan(solution, time.perf_counter() - t0)
    return plan


def replan(
    previous: Plan,
    *,
    from_date: datetime.date,
    pain: float = 0.0,
    soreness: float = 0.0,
    metrics: xr.Dataset | None = None,
) -> Plan:
    """Re-plan from ``from_date`` with new pain/soreness scores.

    Sessions before ``from_date`` are kept as done (their loads still count for the weekly
    rules); later sessions are re-optimised under the new readings. The calendar, target and
    rules are those of ``previous``.
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
        previous.athlete,
        previous.metrics if metrics is None else metrics,
        weeks=previous.weeks,
        start=previous.start,
        policy=previous.policy,
        settings=previous.settings,
        target_return_date=previous.target_return_date,
        _history=_FixedBefore(previous, from_date),
        _readings=readings,
    )


@dataclasses.dataclass(frozen=True)
class _FixedBefore:
    plan: Plan
    day: datetime.date


_GROUPS = ("load_rise", "deload", "spacing", "max_velocity", "first_week")
_GROUP_TEXT = {
    "load_rise": "weekly load rising by at most max_weekly_increase",
    "deload": "the deload weeks' load reduction",
    "spacing": "min_hours_between_near_limit between near-limit sessions",
    "max_velocity": "maximal-velocity sprinting before the target return day",
    "first_week": "first_week_load_cap",
}


def _found(res) -> bool:
    """HiGHS found a feasible point (optimal, or stopped at a limit with an incumbent)."""
    return res.status == 0 or (res.status == 1 and res.x is not None)


class _Problem:
    """Builds and solves the MILP (kept apart from the independent checker in the tests)."""

    def __init__(self, athlete, metrics, weeks, start, policy, settings, target, readings, history):
        self.athlete, self.metrics, self.weeks, self.start = athlete, metrics, weeks, start
        self.policy, self.settings, self.target, self.readings = policy, settings, target, readings
        self.notes: list[str] = []
        self.ref_strain = float(metrics.attrs["reference_peak_eccentric_fiber_strain"])
        strain = np.asarray(metrics["peak_eccentric_fiber_strain"].values, dtype=float)
        force = np.asarray(metrics["peak_force"].values, dtype=float)
        expo = np.asarray(metrics["exposures_per_dose"].values, dtype=float)
        self.strain, self.force = strain, force
        self.mv = max_velocity_mask(metrics, athlete, settings)
        self.weight = np.where(
            np.isfinite(strain), expo * np.maximum(strain, 0.0) / self.ref_strain, 0.0
        )
        self.step = np.asarray(metrics["dose_step"].values, dtype=float)
        self.nmin = np.ceil(np.asarray(metrics["dose_min"].values) / self.step - 1e-9)
        self.nmax = np.floor(np.asarray(metrics["dose_max"].values) / self.step + 1e-9)
        self.spec = np.asarray(metrics["sprint_specificity"].values, dtype=float)

        # Sessions.
        self.sessions = []
        for week in range(weeks):
            for wd in settings.weekdays:
                offset = (wd - start.weekday()) % 7
                day = start + datetime.timedelta(days=7 * week + offset)
                if day >= start + datetime.timedelta(days=7 * (week + 1)):
                    continue
                limit, p, s = session_limits(athlete, policy, metrics, day, readings)
                self.sessions.append(
                    {"date": day, "week": week, "limit": limit, "pain": p, "soreness": s}
                )
        self.sessions.sort(key=lambda x: x["date"])
        # Fixed history (re-planning).
        self.fixed: dict[datetime.date, Session] = {}
        if history is not None:
            for s in history.plan.sessions:
                if s.date < history.day:
                    self.fixed[s.date] = s
            for sess in self.sessions:
                old = self.fixed.get(sess["date"])
                if old is not None:  # done sessions keep the limits they were planned under
                    sess["fixed"] = old
        # Options per session.
        drills = list(map(str, metrics.drill.values))
        self.index = {d: i for i, d in enumerate(drills)}
        self.var_y, self.var_n = [], []  # (session, drill, level)
        for si, sess in enumerate(self.sessions):
            lim = sess["limit"]
            old = sess.get("fixed")
            if old is not None:
                chosen = {(self.index[d.drill], d.level): d for d in old.drills}
                for j, k in chosen:
                    self.var_y.append((si, j, k))
                continue
            ok = np.isfinite(strain) & (strain <= lim.strain + 1e-12) & (force <= lim.force + 1e-9)
            for j, k in zip(*np.nonzero(ok), strict=True):
                self.var_y.append((si, int(j), int(k)))

    # --------------------------------------------------------------------------------------
    def near(self, si, j, k):
        lim = self.sessions[si]["limit"]
        m = 1.0 - self.settings.near_limit_margin
        return self.strain[j, k] >= m * lim.strain or self.force[j, k] >= m * lim.force

    def deload_week(self, week):
        every = self.settings.deload_every
        return bool(every) and (week + 1) % every == 0

    def mv_sessions(self):
        return [si for si, s in enumerate(self.sessions) if s["date"] < self.target]

    def _mv_required(self):
        end = self.start + datetime.timedelta(days=7 * self.weeks)
        need = self.settings.min_max_velocity_sessions
        if need == 0:
            return False
        if self.target > end:
            self.notes.append(
                f"the target return day {self.target} is after the plan's end ({end}); "
                "maximal-velocity exposure is not required within this plan"
            )
            return False
        if self.target <= self.start:
            self.notes.append(
                f"the target return day {self.target} is not after the plan's "
                "start; maximal-velocity exposure is not required"
            )
            return False
        return True

    def build(self, drop=()):
        nv = len(self.var_y)
        ns = len(self.sessions)
        # Variable layout: y (nv) | n (nv) | z near (ns) | v max-velocity (ns)
        n_all = 2 * nv + 2 * ns
        iy = np.arange(nv)
        inn = nv + iy
        iz = 2 * nv + np.arange(ns)
        iv = 2 * nv + ns + np.arange(ns)
        lb = np.zeros(n_all)
        ub = np.ones(n_all)
        integrality = np.ones(n_all)
        c = np.zeros(n_all)
        rows, cols, vals, rlo, rhi = [], [], [], [], []
        r = 0

        def add(coeffs, lo, hi):
            nonlocal r
            for col, val in coeffs:
                rows.append(r)
                cols.append(col)
                vals.append(val)
            rlo.append(lo)
            rhi.append(hi)
            r += 1

        week_terms: dict[int, list[tuple[int, float]]] = {w: [] for w in range(self.weeks)}
        per_session: dict[int, list[int]] = {si: [] for si in range(ns)}
        for q, (si, j, k) in enumerate(self.var_y):
            per_session[si].append(q)
            sess = self.sessions[si]
            old = sess.get("fixed")
            ub[inn[q]] = self.nmax[j]
            # n within [nmin y, nmax y]
            add([(inn[q], 1.0), (iy[q], -self.nmin[j])], 0.0, np.inf)
            add([(inn[q], 1.0), (iy[q], -self.nmax[j])], -np.inf, 0.0)
            coef = self.weight[j, k] * self.step[j]
            week_terms[sess["week"]].append((inn[q], coef))
            c[inn[q]] = -(self.spec[j] + _SPEC_FLOOR) * coef
            if old is not None:
                done = next(d for d in old.drills if self.index[d.drill] == j and d.level == k)
                steps = round(done.dose / self.step[j])
                lb[iy[q]] = ub[iy[q]] = 1
                lb[inn[q]] = ub[inn[q]] = steps
        for si in range(ns):
            qs = per_session[si]
            if self.sessions[si].get("fixed") is None:
                # one level per drill
                by_drill: dict[int, list[int]] = {}
                for q in qs:
                    by_drill.setdefault(self.var_y[q][1], []).append(q)
                for group in by_drill.values():
                    if len(group) > 1:
                        add([(iy[q], 1.0) for q in group], -np.inf, 1.0)
                if qs:
                    add(
                        [(iy[q], 1.0) for q in qs],
                        -np.inf,
                        float(self.settings.max_drills_per_session),
                    )
            # near-limit indicator z >= y for near options
            for q in qs:
                _, j, k = self.var_y[q]
                if self.near(si, j, k):
                    add([(iz[si], 1.0), (iy[q], -1.0)], 0.0, np.inf)
            # max-velocity indicator v <= sum of y over MV options
            mv_qs = [q for q in qs if self.mv[self.var_y[q][1], self.var_y[q][2]]]
            add([(iv[si], 1.0)] + [(iy[q], -1.0) for q in mv_qs], -np.inf, 0.0)
        # spacing
        if "spacing" not in drop:
            gap_days = self.settings.min_hours_between_near_limit / 24.0
            for a in range(ns):
                for b in range(a + 1, ns):
                    da, db = self.sessions[a]["date"], self.sessions[b]["date"]
                    if (db - da).days < gap_days - 1e-9:
                        add([(iz[a], 1.0), (iz[b], 1.0)], -np.inf, 1.0)
        # weekly load rules
        cap = self.settings.first_week_load_cap
        if cap is not None and "first_week" not in drop:
            add(week_terms[0], -np.inf, float(cap))
        inc = 1.0 + self.settings.max_weekly_increase
        last_regular = None
        for w in range(self.weeks):
            if self.deload_week(w):
                if w > 0 and "deload" not in drop:
                    terms = list(week_terms[w]) + [
                        (col, -(1.0 - self.settings.deload_reduction) * v)
                        for col, v in week_terms[w - 1]
                    ]
                    add(terms, -np.inf, 0.0)
                continue
            if last_regular is not None and "load_rise" not in drop:
                terms = list(week_terms[w]) + [
                    (col, -inc * v) for col, v in week_terms[last_regular]
                ]
                add(terms, -np.inf, 0.0)
            last_regular = w
        # maximal velocity before target
        if "max_velocity" not in drop and self._mv_needed:
            before = self.mv_sessions()
            add(
                [(iv[si], 1.0) for si in before],
                float(self.settings.min_max_velocity_sessions),
                np.inf,
            )
        c[iv] = -1e-6  # break ties towards flagging MV sessions (no effect on feasibility)
        A = scipy.sparse.csr_array((vals, (rows, cols)), shape=(r, n_all))
        return c, A, np.asarray(rlo), np.asarray(rhi), lb, ub, integrality

    def _milp(self, drop=(), *, feasibility_only=False):
        c, A, rlo, rhi, lb, ub, integrality = self.build(drop)
        if feasibility_only:  # diagnosis: any feasible point will do
            c = np.zeros_like(c)
        constraints = [scipy.optimize.LinearConstraint(A, rlo, rhi)] if A.shape[0] else []
        return scipy.optimize.milp(
            c,
            constraints=constraints,
            integrality=integrality,
            bounds=scipy.optimize.Bounds(lb, ub),
            options={
                "time_limit": self.settings.time_limit_s,
                "mip_rel_gap": self.settings.mip_rel_gap,
            },
        )

    def _precheck(self):
        self._mv_needed = self._mv_required()
        if not self._mv_needed:
            return
        before = self.mv_sessions()
        allowed = {si for (si, j, k) in self.var_y if self.mv[j, k]}
        usable = [si for si in before if si in allowed]
        need = self.settings.min_max_velocity_sessions
        if not self.mv.any():
            raise PlanInfeasibleError(
                "the metrics table has no maximal-velocity sprint level",
                field="max_velocity",
                expected="a drill in m/s reaching "
                f"{self.settings.max_velocity_fraction:.0%} of {self.athlete.max_sprint_speed} "
                "m/s, or a level flagged max_velocity",
            )
        if len(usable) < need:
            first = self._first_mv_day()
            if first is None:
                # Not a matter of timing: under this policy the injured muscle never reaches
                # maximal velocity within the limit (e.g. shorter fascicles raise its fibre
                # strain above the uninjured reference). Plan towards the fastest sprint the
                # limit allows, and say so, instead of failing.
                self._mv_needed = False
                self.notes.append(self._mv_ceiling_note())
                return
            grade = f"grade {self.athlete.grade} {self.athlete.recovery_group}"
            raise PlanInfeasibleError(
                f"maximal-velocity sprinting is required in {need} session(s) before the "
                f"target return day {self.target} (day "
                f"{self.athlete.days_since_injury(self.target)}), but only {len(usable)} "
                f"session(s) before it allow it: the tolerance limit first allows it on "
                f"{first} (day {self.athlete.days_since_injury(first)} after injury); the "
                f"target is too early for a {grade}",
                field="target_return_date / min_max_velocity_sessions",
                expected="a later target return date, fewer required sessions, or more "
                "sessions per week",
            )

    def _mv_ceiling_note(self) -> str:
        """Why maximal-velocity sprinting is never cleared, the fastest sprint that is, and
        the policy change that would clear it."""
        a = self.athlete
        ref_f = float(self.metrics.attrs["reference_peak_force"])
        ratio = np.maximum(self.strain / self.ref_strain, self.force / ref_f)
        needed = float(np.min(np.where(self.mv, ratio, np.inf)))
        lim, _, _ = session_limits(a, self.policy, self.metrics, self.target, ())
        unit = np.asarray(self.metrics["intensity_unit"].values, dtype=str)
        value = np.asarray(self.metrics["intensity_value"].values, dtype=float)
        ok = (
            (unit[:, None] == "m/s")
            & np.isfinite(self.strain)
            & (self.strain <= lim.strain + 1e-12)
            & (self.force <= lim.force + 1e-9)
        )
        if ok.any():
            fastest = float(np.max(value[ok]))
            reach = (
                f"the fastest running level the limit allows by the target day {self.target} is "
                f"{fastest:.3g} m/s ({fastest / a.max_sprint_speed:.0%} of the athlete's "
                f"{a.max_sprint_speed:g} m/s), and the plan progresses towards it"
            )
            # between that level and the next of the same drill, where the limit is crossed
            excess = np.maximum(self.strain / lim.strain, self.force / lim.force) - 1.0
            j, k = (int(i[0]) for i in np.nonzero(ok & (value == fastest)))
            if k + 1 < value.shape[1] and np.isfinite(excess[j, k + 1]) and excess[j, k + 1] > 0:
                w = -excess[j, k] / (excess[j, k + 1] - excess[j, k])
                about = value[j, k] + w * (value[j, k + 1] - value[j, k])
                reach += (
                    f" (the limit is crossed near {about:.2g} m/s by linear interpolation "
                    f"between the table's levels; `musclesim rank --date {self.target}` "
                    "root-finds the maximal safe speed)"
                )
        else:
            reach = f"no running level is allowed by the target day {self.target}"
        why = []
        if a.fascicle_length_ratio is not None and a.fascicle_length_ratio < 1:
            why.append(
                f"the injured fascicles are {1 - a.fascicle_length_ratio:.0%} shorter than the "
                "uninjured side's (fascicle_length_ratio "
                f"{a.fascicle_length_ratio:g}), so at the same running speed its fibres are "
                "stretched further (strain = fibre length / a shorter optimal length - 1)"
            )
        if a.strength_deficit:
            why.append(
                f"its measured strength deficit ({a.strength_deficit:.0%}) stays in the "
                "injured muscle's model"
            )
        because = "; ".join(why) or "the injured muscle's parameters differ from the reference"
        return (
            "MAXIMAL-VELOCITY SPRINTING IS NOT CLEARED under this policy, on any day: at "
            f">= {self.settings.max_velocity_fraction:.0%} of maximal speed the injured "
            f"muscle reaches {needed:.3f} x its uninjured reference (peak eccentric fibre "
            f"strain or force), above the full-recovery limit of "
            f"{self.policy.full_fraction:g} x reference, because {because}. "
            f"{reach[0].upper() + reach[1:]}. The maximal-velocity requirement is dropped "
            "from this plan. To clear full speed: re-measure the fascicle length (it can "
            "lengthen with eccentric training: Timmins et al. 2016, "
            "doi:10.1136/bjsports-2015-094881) and re-plan, or accept the higher strain "
            f"explicitly with full_fraction >= {needed:.3f} in a policy file (--policy)."
        )

    def _first_mv_day(self):
        strain = np.where(self.mv, self.strain, np.inf)
        force = np.where(self.mv, self.force, np.inf)
        for d in range(0, 366):
            day = self.athlete.injury_date + datetime.timedelta(days=d)
            lim, _, _ = session_limits(self.athlete, self.policy, self.metrics, day, ())
            if np.any((strain <= lim.strain + 1e-12) & (force <= lim.force + 1e-9)):
                return day
        return None

    def solve(self):
        self._precheck()
        res = self._milp()
        if _found(res):
            if res.status == 1:
                self.notes.append(
                    f"HiGHS stopped at its time limit ({res.message}); the plan "
                    "is feasible but may not be optimal"
                )
            return res
        if res.status != 2:
            raise InputError(f"the MILP solver failed: {res.message}", field="plan")
        culprits = [g for g in _GROUPS if _found(self._milp(drop=(g,), feasibility_only=True))]
        if culprits:
            text = "; or ".join(_GROUP_TEXT[g] for g in culprits)
            raise PlanInfeasibleError(
                f"no plan satisfies every constraint; relaxing {text} alone makes it feasible",
                field=", ".join(culprits),
                expected="a relaxed setting or a later target",
            )
        raise PlanInfeasibleError(
            "no plan satisfies every constraint, and no single rule is to blame",
            field="plan",
            expected="fewer weeks, a later target, or relaxed PlanSettings",
        )

    def to_plan(self, res, seconds):
        x = res.x
        nv = len(self.var_y)
        sessions = []
        for si, sess in enumerate(self.sessions):
            lim = sess["limit"]
            chosen = []
            for q, (s2, j, k) in enumerate(self.var_y):
                if s2 != si or x[q] < 0.5:
                    continue
                steps = round(x[nv + q])
                dose = steps * self.step[j]
                chosen.append(
                    PlannedDrill(
                        drill=str(self.metrics.drill.values[j]),
                        level=int(k),
                        intensity=float(self.metrics["intensity_value"].values[j, k]),
                        intensity_unit=str(self.metrics["intensity_unit"].values[j]),
                        dose=float(dose),
                        dose_unit=str(self.metrics["dose_unit"].values[j]),
                        peak_eccentric_fiber_strain=float(self.strain[j, k]),
                        peak_mtu_strain=float(self.metrics["peak_mtu_strain"].values[j, k]),
                        peak_force=float(self.force[j, k]),
                        load=float(self.weight[j, k] * dose),
                        max_velocity=bool(self.mv[j, k]),
                    )
                )
            chosen.sort(key=lambda d: -d.peak_eccentric_fiber_strain)
            near = any(self.near(si, self.index[d.drill], d.level) for d in chosen)
            sessions.append(
                Session(
                    date=sess["date"],
                    days_since_injury=self.athlete.days_since_injury(sess["date"]),
                    week=sess["week"] + 1,
                    deload_week=self.deload_week(sess["week"]),
                    pain=sess["pain"],
                    soreness=sess["soreness"],
                    strain_limit=lim.strain,
                    force_limit=lim.force,
                    limit_fraction=lim.strain_fraction,
                    near_limit=near,
                    drills=tuple(chosen),
                    fixed=sess.get("fixed") is not None,
                )
            )
        weekly = [0.0] * self.weeks
        for s in sessions:
            weekly[s.week - 1] += s.load
        return Plan(
            athlete=self.athlete,
            policy=self.policy,
            settings=self.settings,
            metrics=self.metrics,
            start=self.start,
            weeks=self.weeks,
            target_return_date=self.target,
            readings=self.readings,
            sessions=tuple(sessions),
            weekly_load=tuple(weekly),
            notes=tuple(self.notes),
            solve_seconds=seconds,
            objective=float(-res.fun),
        )
