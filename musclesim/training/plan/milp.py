"""The criteria-based progression plan as a mixed-integer linear programme (scipy's HiGHS).

**Calendar.** Every day of the plan is a day: field/gym *sessions* on the plan weekdays and
*home* days between them. Each day has its per-criterion limits (:class:`.DayLimits`, from
the latest assessment on or before the day). An option is a drill at one intensity level; it
is *admissible* on a day when every criterion is at or below that day's limit.

**Home protocol** (fixed before the programme): each protocol drill (the Askling L-protocol by
default) starts on its first admissible day on or after ``protocol_start_day`` and recurs
every ``every`` days at its published sets x reps and bouts a day, at the most intense
admissible level that day (a day with none is skipped and noted), until the day before the
target return day.

**The programme** over the field/gym sessions. Binary ``y[s,o]`` chooses admissible option
``o`` in session ``s``; integer ``n[s,o]`` is its dose in steps. With the drill's ``p`` (one
level per drill per session) and ``P[s,j] = sum_o y[s,o]`` over drill ``j``'s levels:

1. ``dose_min y <= step n <= dose_max y``; at most one level per drill and
   ``max_drills_per_session`` drills a session;
2. dose progression: ``n[s,o] <= nmin_j y[s,o] + dose_increase_steps * (earlier sessions with
   drill j at o's level or a more intense one)``: a new, higher level starts again at the
   smallest dose;
3. hard and easy days: ``h[s] >= y[s,o]`` for options using ``>= hard_fraction`` of a limit or
   running ``>= fast_fraction`` of maximal speed; ``h[a] + h[b] <= 1`` for sessions less than
   ``min_hours_between_hard`` apart;
4. running: a running option faster than ``running_start_max`` needs an earlier session with
   a running level at least ``running_step`` slower than it (one stage at a time); any
   running option needs an earlier walking session, and walking ends once running has
   started (walking before running);
5. before the target return day: ``>= min_near_max_sessions`` sessions with running
   ``>= near_max_fraction`` and ``>= min_max_velocity_sessions`` with ``>=
   max_velocity_fraction``. When no such level is admissible on any day before the target
   (the criteria limits never clear it), the requirement is dropped and a note says which
   criterion stops it and the fastest admissible running; nothing is faked;
6. the Nordic: not before ``nordic_earliest_fraction`` of the way to the target; in its first
   calendar week at most ``nordic_progression[0]`` (sessions, reps a session), in the second
   ``[1]``, later ``[2]``;
7. weekly load over the field/gym sessions, ``X[w]``: active negative work, J = the criterion
   per repetition x exposures per dose x dose: ``X[w] <= max_acute_chronic *
   mean(X[w-4..w-1]) + X_min`` (``X_min``: the heaviest option's smallest dose), and in a
   deload week (every ``deload_every``-th week that ends before the target) ``X[w] <=
   (1 - deload_reduction) X[w-1]``. Exposures using ``>= high_load_fraction`` of a limit are
   counted per session and week (reported, not capped: see :class:`.PlanSettings`).

Objective: maximise ``sum y (specificity + 0.05)(1 + u)`` with ``u`` the option's largest
utilisation of that day's limits (work near the limits on the most sprint-specific drills),
plus ``1e-3`` per dose step (the progression rule 2, not the objective, sets the volume).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping

import numpy as np
import scipy.optimize
import scipy.sparse

from ...core.errors import InputError
from ..criteria import CRITERION_NAMES, utilisation
from .settings import PlanSettings
from .types import DayLimits, Plan, PlanInfeasibleError, PlannedDrill, Session

#: Added to every drill's sprint specificity in the objective, so that non-specific drills
#: are still worth doing (policy).
_SPEC_FLOOR = 0.05
#: Objective weight of one dose step (small: the volume follows the progression rule).
_DOSE_WEIGHT = 1e-3
#: Relative slack for fractions and thresholds compared with each other (rounding).
_RTOL = 1e-9
#: Relative slack when comparing a criterion with its limit, the ranking's
#: (:data:`~musclesim.training.rank.LIMIT_TOLERANCE`, 1e-4): the pipeline computes in
#: float32, and the same motion evaluated in two batches differs by up to about 1e-5 (the
#: running level that sets the references' envelope against the reference itself, which the
#: full limits equal), so a level equal to its limit is admissible.
_LIMIT_RTOL = 1e-4
#: Categories that are part of the running progression even when a level does not load the
#: target muscle (walking before running).
_LOCOMOTION = ("walking", "running")


@dataclasses.dataclass(frozen=True)
class FixedBefore:
    """Sessions of ``plan`` before ``day`` are done: kept as they were, counted in the rules."""

    plan: Plan
    day: datetime.date


_GROUPS = (
    "dose_progression",
    "hard_easy",
    "running_stages",
    "walking_first",
    "near_max",
    "max_velocity",
    "nordic",
    "acute_chronic",
    "deload",
)
_GROUP_TEXT = {
    "dose_progression": "the dose progression (dose_increase_steps)",
    "hard_easy": "min_hours_between_hard between hard sessions",
    "running_stages": "the running stages (running_start_max, running_step)",
    "walking_first": "walking before running",
    "near_max": "min_near_max_sessions before the target return day",
    "max_velocity": "min_max_velocity_sessions before the target return day",
    "nordic": "the Nordic's introduction (nordic_earliest_fraction, nordic_progression)",
    "acute_chronic": "max_acute_chronic (weekly load per criterion)",
    "deload": "the deload weeks' load reduction",
}


def _found(res) -> bool:
    """HiGHS found a feasible point (optimal, or stopped at a limit with an incumbent)."""
    return res.status == 0 or (res.status == 1 and res.x is not None)


class PlanProblem:
    """Builds and solves the programme (kept apart from the independent checker in the tests).

    ``limits`` maps every day of the plan to its :class:`.DayLimits`.
    """

    def __init__(
        self,
        athlete,
        metrics,
        weeks: int,
        start: datetime.date,
        settings: PlanSettings,
        target: datetime.date,
        limits: Mapping[datetime.date, DayLimits],
        history: FixedBefore | None = None,
    ):
        self.athlete, self.metrics, self.weeks, self.start = athlete, metrics, weeks, start
        self.settings, self.target, self.limits = settings, target, limits
        self.notes: list[str] = []
        self.criteria = tuple(c for c in CRITERION_NAMES if c in metrics)
        if not self.criteria:
            raise InputError(
                "no criterion variable",
                field="metrics",
                expected=f"variables named {', '.join(CRITERION_NAMES)}",
            )
        if "category" not in metrics:
            raise InputError(
                "missing variable",
                field="category",
                expected="each drill's category (the metrics-table contract)",
            )
        self.names = [str(d) for d in metrics.drill.values]
        self.index = {d: i for i, d in enumerate(self.names)}
        self.category = [str(c) for c in metrics["category"].values]
        self.value = np.asarray(metrics["intensity_value"].values, dtype=float)
        self.valid = np.isfinite(self.value)
        self.crit = {
            c: np.nan_to_num(np.asarray(metrics[c].values, dtype=float), nan=0.0)
            for c in self.criteria
        }
        self.expo = np.nan_to_num(np.asarray(metrics["exposures_per_dose"].values, dtype=float))
        loads = metrics["loads_muscle"].values if "loads_muscle" in metrics else self.valid
        self.loads = np.asarray(loads, dtype=bool) & self.valid
        self.unit = [str(u) for u in metrics["intensity_unit"].values]
        self.dose_unit = [str(u) for u in metrics["dose_unit"].values]
        self.step = np.asarray(metrics["dose_step"].values, dtype=float)
        self.nmin = np.ceil(np.asarray(metrics["dose_min"].values) / self.step - 1e-9)
        self.nmax = np.floor(np.asarray(metrics["dose_max"].values) / self.step + 1e-9)
        self.spec = np.asarray(metrics["sprint_specificity"].values, dtype=float)
        vmax = float(athlete.max_sprint_speed)
        self.speed = np.zeros_like(self.value)
        for j, cat in enumerate(self.category):
            if cat in _LOCOMOTION and self.unit[j] == "m/s":
                self.speed[j] = np.where(self.valid[j], self.value[j] / vmax, 0.0)
        self.running = np.array([c == "running" for c in self.category])
        self.walking = np.array([c == "walking" for c in self.category])
        self.protocol = {n: p for n, p in settings.protocol.items() if n in self.index}
        for name in settings.protocol:
            if name not in self.index:
                self.notes.append(f"protocol drill {name!r} is not in the metrics table")
        never = [
            j
            for j in range(len(self.names))
            if not self.loads[j].any() and self.category[j] not in _LOCOMOTION
        ]
        self.excluded = set(never)
        if never:
            self.notes.append(
                "not planned, as they do not load the target muscle at any level: "
                + ", ".join(self.names[j] for j in never)
            )
        # The calendar: every day; sessions on the plan weekdays.
        self.days = [start + datetime.timedelta(days=i) for i in range(7 * weeks)]
        missing = [d for d in self.days if d not in limits]
        if missing:
            raise InputError(
                f"no limits for {missing[0]}", field="limits", expected="a limit for every day"
            )
        for c in self.criteria:
            if c not in limits[self.days[0]].values:
                raise InputError(
                    f"no limit for criterion {c!r}",
                    field="limits",
                    expected="a limit for every criterion in the metrics table",
                )
        self.fixed: dict[datetime.date, Session] = {}
        if history is not None:
            self.fixed = {s.date: s for s in history.plan.sessions if s.date < history.day}
        self.session_days = [d for d in self.days if d.weekday() in settings.weekdays]
        # utilisation and admissibility per day
        self.util: dict[datetime.date, np.ndarray] = {}
        self.admissible: dict[datetime.date, np.ndarray] = {}
        for day in self.days:
            lim = limits[day].values
            u = np.stack([utilisation(self.crit[c], float(lim[c])) for c in self.criteria])
            u = np.where(self.valid[None], u, np.inf)
            self.util[day] = u
            self.admissible[day] = self.valid & np.all(u <= 1.0 + _LIMIT_RTOL, axis=0)
        nordic = settings.nordic_drill
        self.nordic = self.index.get(nordic) if nordic else None
        span = max((target - athlete.injury_date).days, 0)
        self.nordic_first_day = athlete.injury_date + datetime.timedelta(
            days=int(np.ceil(settings.nordic_earliest_fraction * span))
        )

    # ------------------------------------------------------------------------------------
    def deload_week(self, week: int) -> bool:
        every = self.settings.deload_every
        end = self.start + datetime.timedelta(days=7 * week + 6)
        return bool(every) and (week + 1) % every == 0 and end < self.target

    def week_of(self, day: datetime.date) -> int:
        return (day - self.start).days // 7

    def hard(self, day, j, k) -> bool:
        s = self.settings
        return bool(
            np.max(self.util[day][:, j, k]) >= s.hard_fraction - _RTOL
            or self.speed[j, k] >= s.fast_fraction - _RTOL
        )

    def high_load(self, day, j, k) -> bool:
        return bool(np.max(self.util[day][:, j, k]) >= self.settings.high_load_fraction - _RTOL)

    def negative_work_per_dose(self, j, k) -> float:
        if "active_negative_work" not in self.crit:
            return 0.0
        return float(self.crit["active_negative_work"][j, k] * self.expo[j, k])

    def planned(self, day, j, k, dose, bouts=1) -> PlannedDrill:
        u = self.util[day][:, j, k]
        binding = self.criteria[int(np.argmax(u))]
        return PlannedDrill(
            drill=self.names[j],
            level=int(k),
            intensity=float(self.value[j, k]),
            intensity_unit=self.unit[j],
            dose=float(dose),
            dose_unit=self.dose_unit[j],
            category=self.category[j],
            bouts=int(bouts),
            criteria={c: float(self.crit[c][j, k]) for c in self.criteria},
            utilisation={c: float(u[i]) for i, c in enumerate(self.criteria)},
            binding=binding,
            negative_work=self.negative_work_per_dose(j, k) * dose * bouts,
            high_load_exposures=(
                float(self.expo[j, k] * dose * bouts) if self.high_load(day, j, k) else 0.0
            ),
            speed_fraction=float(self.speed[j, k]),
        )

    # ------------------------------------------------------------------------------------
    def home_protocol(self) -> dict[datetime.date, list[PlannedDrill]]:
        """The protocol drills by day (fixed before the programme)."""
        out: dict[datetime.date, list[PlannedDrill]] = {}
        earliest = self.athlete.injury_date + datetime.timedelta(
            days=self.settings.protocol_start_day
        )
        for name, (every, bouts, sets, reps) in self.protocol.items():
            j = self.index[name]
            dose = float(sets * reps)
            if self.dose_unit[j] != "reps":
                self.notes.append(
                    f"protocol drill {name} is dosed in {self.dose_unit[j]!r}, not reps: "
                    "not scheduled"
                )
                continue
            first, skipped = None, []
            for day in self.days:
                if day < earliest or day >= self.rehab_end:
                    continue
                if first is None and not self.admissible[day][j].any():
                    continue
                if first is None:
                    first = day
                if (day - first).days % every:
                    continue
                ok = np.flatnonzero(self.admissible[day][j])
                if not ok.size:
                    skipped.append(day)
                    continue
                k = int(ok[np.argmax(self.value[j, ok])])
                out.setdefault(day, []).append(self.planned(day, j, k, dose, bouts))
            if first is None:
                self.notes.append(
                    f"{name} is admissible on no day from day {self.settings.protocol_start_day} "
                    f"to the target return day: not scheduled"
                )
            elif skipped:
                self.notes.append(
                    f"{name} skipped on {', '.join(map(str, skipped))}: no admissible level"
                )
        return out

    # ------------------------------------------------------------------------------------
    def _options(self):
        """(session index, drill, level) for the free field/gym sessions."""
        var = []
        for si, day in enumerate(self.session_days):
            if day in self.fixed:
                continue
            ok = self.admissible[day].copy()
            for j in self.excluded | {self.index[n] for n in self.protocol}:
                ok[j] = False
            if self.nordic is not None and day < self.nordic_first_day:
                ok[self.nordic] = False
            for j, k in zip(*np.nonzero(ok), strict=True):
                var.append((si, int(j), int(k)))
        return var

    def _fixed_options(self, si):
        """(drill, level, steps) done in a fixed session."""
        old = self.fixed[self.session_days[si]]
        out = []
        for d in old.drills:
            if d.drill in self.protocol:
                continue
            j = self.index[d.drill]
            out.append((j, d.level, d.dose / self.step[j]))
        return out

    def _requirement(self, fraction, need, label):
        """The day before which ``need`` sessions at >= ``fraction`` of maximal speed are
        required: the target return day when the limits allow it on a session day before
        the target; else the plan's end when they allow it on a later session day (full
        training then starts after the target, and a note says why); else None, with a note
        naming the binding criterion (the requirement is dropped, not faked)."""
        if need == 0:
            return None
        end = self.start + datetime.timedelta(days=7 * self.weeks)
        fast = self.running[:, None] & (self.speed >= fraction - _RTOL)
        if not fast.any():
            raise PlanInfeasibleError(
                f"the metrics table has no running level at >= {fraction:.0%} of "
                f"{self.athlete.max_sprint_speed} m/s",
                field="intensity_value",
                expected=f"running levels reaching {fraction:.0%} of maximal speed ({label})",
            )
        cleared = [d for d in self.session_days if (self.admissible[d] & fast).any()]
        if cleared and self.start < self.target <= end and cleared[0] < self.target:
            return self.target
        if cleared:
            self.notes.append(
                f"{label} (>= {fraction:.0%} of maximal speed) is first within the limits on "
                f"{cleared[0]} (limits from {self.limits[cleared[0]].basis}), "
                + (
                    f"not before the target return day {self.target}"
                    if cleared[0] >= self.target
                    else f"and the target return day {self.target} is outside the plan"
                )
                + f": the {need} required session(s) come before full training, which starts "
                "after them"
            )
            return end
        self.notes.append(self._ceiling_note(fraction, label))
        return None

    def _ceiling_note(self, fraction, label) -> str:
        """Why running at ``fraction`` is never admissible in the plan, and the fastest running
        that is: the requirement is dropped, not faked."""
        last = self.session_days[-1]
        fast = self.running[:, None] & (self.speed >= fraction - _RTOL)
        u = self.util[last]
        worst = np.where(fast[None], u, np.inf).min(axis=(1, 2))
        binding = self.criteria[int(np.argmax(np.where(np.isfinite(worst), worst, -1)))]
        ok = self.running[:, None] & self.admissible[last]
        reach = (
            f"the fastest admissible running on {last} is "
            f"{float(self.speed[ok].max()):.0%} of maximal speed"
            if ok.any()
            else f"no running level is admissible on {last}"
        )
        return (
            f"{label.upper()} IS NOT REACHED IN THIS PLAN: no running level at >= "
            f"{fraction:.0%} of maximal speed is within the limits on any session day "
            f"({binding} at {float(worst.max()):.2f} x its limit on {last}, limits from "
            f"{self.limits[last].basis}); {reach}. Full training is not cleared: a later "
            "assessment that raises the limits is needed (re-plan from it)."
        )

    def build(self, var, drop=()):
        s = self.settings
        ns = len(self.session_days)
        nv = len(var)
        nd = len(self.names)
        # layout: y | n | h (hard, per session) | a (>= near-max, per session)
        #         | m (>= max-velocity, per session) | b1, b2 (Nordic stage, per week)
        iy = np.arange(nv)
        inn = nv + iy
        ih = 2 * nv + np.arange(ns)
        ia = ih + ns
        im = ia + ns
        ib1 = 2 * nv + 3 * ns + np.arange(self.weeks)
        ib2 = ib1 + self.weeks
        n_all = 2 * nv + 3 * ns + 2 * self.weeks
        lb, ub = np.zeros(n_all), np.ones(n_all)
        integrality = np.ones(n_all)
        c = np.zeros(n_all)
        rows, cols, vals, rlo, rhi = [], [], [], [], []

        def add(coeffs, lo, hi):
            r = len(rlo)
            for col, val in coeffs:
                rows.append(r)
                cols.append(col)
                vals.append(val)
            rlo.append(lo)
            rhi.append(hi)

        by_session: dict[int, list[int]] = {si: [] for si in range(ns)}
        for q, (si, _, _) in enumerate(var):
            by_session[si].append(q)
        # constants from fixed sessions
        fixed_count = np.zeros((ns, nd))  # sessions with drill j (0/1)
        fixed_level = np.full((ns, nd), -1)  # its level there (-1: not done)
        fixed_hard = np.zeros(ns)
        fixed_speed = np.zeros(ns)
        fixed_walk = np.zeros(ns)
        fixed_nw = np.zeros(self.weeks)
        for si, day in enumerate(self.session_days):
            if day not in self.fixed:
                continue
            old = self.fixed[day]
            fixed_hard[si] = float(old.hard)
            for d in old.drills:
                if d.drill in self.protocol:
                    continue
                j = self.index[d.drill]
                fixed_count[si, j] = 1
                fixed_level[si, j] = d.level
                fixed_speed[si] = max(fixed_speed[si], d.speed_fraction if self.running[j] else 0)
                fixed_walk[si] = max(fixed_walk[si], float(self.walking[j]))
                w = self.week_of(day)
                fixed_nw[w] += d.negative_work
        # 1. dose bounds, one level per drill, drills per session
        for q, (si, j, k) in enumerate(var):
            ub[inn[q]] = self.nmax[j]
            add([(inn[q], 1.0), (iy[q], -self.nmin[j])], 0.0, np.inf)
            add([(inn[q], 1.0), (iy[q], -self.nmax[j])], -np.inf, 0.0)
            day = self.session_days[si]
            c[iy[q]] = -(self.spec[j] + _SPEC_FLOOR) * (1.0 + np.max(self.util[day][:, j, k]))
            c[inn[q]] = -_DOSE_WEIGHT
        per_drill: dict[tuple[int, int], list[int]] = {}
        for q, (si, j, _) in enumerate(var):
            per_drill.setdefault((si, j), []).append(q)
        for qs in by_session.values():
            if qs:
                add([(iy[q], 1.0) for q in qs], -np.inf, float(s.max_drills_per_session))
        for qs in per_drill.values():
            if len(qs) > 1:
                add([(iy[q], 1.0) for q in qs], -np.inf, 1.0)
        # 2. dose progression: at each level, from the smallest dose, one step per earlier
        # session with the drill at that level or a more intense one
        if "dose_progression" not in drop:
            inc = float(s.dose_increase_steps)
            by_drill: dict[int, list[int]] = {}
            for q, (_, j, _) in enumerate(var):
                by_drill.setdefault(j, []).append(q)
            for q, (si, j, k) in enumerate(var):
                earlier = [
                    (iy[q2], -inc)
                    for q2 in by_drill[j]
                    if var[q2][0] < si and self.value[j, var[q2][2]] >= self.value[j, k]
                ]
                done = sum(
                    1
                    for s2 in range(si)
                    if fixed_level[s2, j] >= 0
                    and self.value[j, fixed_level[s2, j]] >= self.value[j, k]
                )
                add([(inn[q], 1.0), (iy[q], -self.nmin[j]), *earlier], -np.inf, inc * done)
        # 3. hard and easy days
        for q, (si, j, k) in enumerate(var):
            if self.hard(self.session_days[si], j, k):
                add([(ih[si], 1.0), (iy[q], -1.0)], 0.0, np.inf)
        for si in range(ns):
            if self.session_days[si] in self.fixed:
                lb[ih[si]] = ub[ih[si]] = fixed_hard[si]
        if "hard_easy" not in drop:
            gap = s.min_hours_between_hard / 24.0
            for a in range(ns):
                for b in range(a + 1, ns):
                    if (self.session_days[b] - self.session_days[a]).days < gap - 1e-9:
                        add([(ih[a], 1.0), (ih[b], 1.0)], -np.inf, 1.0)
        # 4. running stages and walking first
        run_q = [q for q, (si, j, k) in enumerate(var) if self.running[j]]
        walk_q = [q for q, (si, j, k) in enumerate(var) if self.walking[j]]
        has_walking = bool(self.walking.any())
        for q in run_q:
            si, j, k = var[q]
            f = self.speed[j, k]
            if "running_stages" not in drop and f > s.running_start_max + _RTOL:
                support = [
                    (iy[q2], -1.0)
                    for q2 in run_q
                    if var[q2][0] < si
                    and self.speed[var[q2][1], var[q2][2]] >= f - s.running_step - _RTOL
                ]
                done = float(np.any(fixed_speed[:si] >= f - s.running_step - _RTOL))
                add([(iy[q], 1.0)] + support, -np.inf, done)
            if "walking_first" not in drop and has_walking:
                support = [(iy[q2], -1.0) for q2 in walk_q if var[q2][0] < si]
                done = float(fixed_walk[:si].any() or np.any(fixed_speed[:si] > 0))
                add([(iy[q], 1.0)] + support, -np.inf, done)
        if "walking_first" not in drop:  # walking is the stage before running, not after
            run_by_s: dict[int, list[int]] = {}
            walk_by_s: dict[int, list[int]] = {}
            for q in run_q:
                run_by_s.setdefault(var[q][0], []).append(q)
            for q in walk_q:
                walk_by_s.setdefault(var[q][0], []).append(q)
            for si, wq in walk_by_s.items():
                if np.any(fixed_speed[:si] > 0):
                    for q in wq:
                        ub[iy[q]] = 0
                    continue
                for s2, rq in run_by_s.items():
                    if s2 < si:
                        add([(iy[q], 1.0) for q in wq + rq], -np.inf, 1.0)
        # 5. near-maximal and maximal-velocity sessions before full training
        for ind, fraction, need, group in (
            (ia, s.near_max_fraction, s.min_near_max_sessions, "near_max"),
            (im, s.max_velocity_fraction, s.min_max_velocity_sessions, "max_velocity"),
        ):
            for si in range(ns):
                if self.session_days[si] in self.fixed:
                    lb[ind[si]] = ub[ind[si]] = float(fixed_speed[si] >= fraction - _RTOL)
                    continue
                fast = [
                    iy[q]
                    for q in run_q
                    if var[q][0] == si and self.speed[var[q][1], var[q][2]] >= fraction - _RTOL
                ]
                add([(ind[si], 1.0)] + [(col, -1.0) for col in fast], -np.inf, 0.0)
            window = self._required[group]
            if group not in drop and window is not None:
                before = [si for si, d in enumerate(self.session_days) if d < window]
                add([(ind[si], 1.0) for si in before], float(need), np.inf)
            for si in range(ns):  # the earlier the better (full training starts after them)
                c[ind[si]] = -0.01 * (ns - si) / ns
        # 6. the Nordic
        if self.nordic is not None and "nordic" not in drop:
            j = self.nordic
            (p1, r1), (p2, r2), (p3, r3) = (
                list(s.nordic_progression) + [s.nordic_progression[-1]] * 3
            )[:3]
            nq = [q for q, (si, jj, k) in enumerate(var) if jj == j]
            fixed_weeks = [
                self.week_of(self.session_days[si]) for si in range(ns) if fixed_count[si, j]
            ]
            for w in range(self.weeks):
                week_s = [si for si in range(ns) if self.week_of(self.session_days[si]) == w]
                earlier1 = [iy[q] for q in nq if self.week_of(self.session_days[var[q][0]]) < w]
                earlier2 = [iy[q] for q in nq if self.week_of(self.session_days[var[q][0]]) < w - 1]
                done1 = float(sum(fw < w for fw in fixed_weeks))
                done2 = float(sum(fw < w - 1 for fw in fixed_weeks))
                add([(ib1[w], 1.0)] + [(col, -1.0) for col in earlier1], -np.inf, done1)
                add([(ib2[w], 1.0)] + [(col, -1.0) for col in earlier2], -np.inf, done2)
                add([(ib2[w], 1.0), (ib1[w], -1.0)], -np.inf, 0.0)
                in_week = [iy[q] for q in nq if var[q][0] in week_s]
                done_here = float(sum(fw == w for fw in fixed_weeks))
                add(
                    [(col, 1.0) for col in in_week] + [(ib1[w], -(p2 - p1)), (ib2[w], -(p3 - p2))],
                    -np.inf,
                    p1 - done_here,
                )
                for q in nq:
                    if var[q][0] in week_s:
                        add(
                            [
                                (inn[q], self.step[j]),
                                (ib1[w], -(r2 - r1)),
                                (ib2[w], -(r3 - r2)),
                                (iy[q], -r1),
                            ],
                            -np.inf,
                            0.0,
                        )
        # 7. weekly active negative work (field/gym sessions)
        nw_terms: dict[int, list] = {w: [] for w in range(self.weeks)}
        for q, (si, j, k) in enumerate(var):
            w = self.week_of(self.session_days[si])
            nw_terms[w].append((inn[q], self.negative_work_per_dose(j, k) * self.step[j]))
        # one smallest dose of the heaviest level in the table
        floor_nw = max(
            (
                self.negative_work_per_dose(j, k) * self.step[j] * self.nmin[j]
                for j, k in zip(*np.nonzero(self.valid), strict=True)
            ),
            default=0.0,
        )
        for terms, fixed, floor in ((nw_terms, fixed_nw, floor_nw),):
            for w in range(1, self.weeks):
                if self.deload_week(w):
                    if "deload" not in drop:
                        red = 1.0 - s.deload_reduction
                        add(
                            terms[w] + [(col, -red * v) for col, v in terms[w - 1]],
                            -np.inf,
                            red * fixed[w - 1] - fixed[w],
                        )
                    continue
                if "acute_chronic" in drop:
                    continue
                prev = range(max(0, w - 4), w)
                ratio = s.max_acute_chronic / len(prev)
                coeffs = list(terms[w])
                const = floor - fixed[w]
                for p in prev:
                    coeffs += [(col, -ratio * v) for col, v in terms[p]]
                    const += ratio * fixed[p]
                add(coeffs, -np.inf, const)
        A = scipy.sparse.csr_array((vals, (rows, cols)), shape=(len(rlo), n_all))
        return c, A, np.asarray(rlo, dtype=float), np.asarray(rhi, dtype=float), lb, ub, integrality

    def _milp(self, var, drop=(), *, feasibility_only=False):
        c, A, rlo, rhi, lb, ub, integrality = self.build(var, drop)
        if feasibility_only:
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

    def solve(self):
        s = self.settings
        self._required = {
            "near_max": self._requirement(
                s.near_max_fraction, s.min_near_max_sessions, "near-maximal running"
            ),
            "max_velocity": self._requirement(
                s.max_velocity_fraction, s.min_max_velocity_sessions, "maximal-velocity running"
            ),
        }
        windows = [w for w in self._required.values() if w is not None]
        self.rehab_end = max([self.target, *windows])
        self.home = self.home_protocol()
        if not self.walking.any() and self.running.any():
            self.notes.append("the metrics table has no walking drill: walking-first not applied")
        self.var = self._options()
        res = self._milp(self.var)
        if _found(res):
            if res.status == 1:
                self.notes.append(
                    f"HiGHS stopped at its time limit ({res.message}); the plan is feasible "
                    "but may not be optimal"
                )
            return res
        if res.status != 2:
            raise InputError(f"the MILP solver failed: {res.message}", field="plan")
        culprits = [
            g for g in _GROUPS if _found(self._milp(self.var, drop=(g,), feasibility_only=True))
        ]
        if culprits:
            text = "; or ".join(_GROUP_TEXT[g] for g in culprits)
            raise PlanInfeasibleError(
                f"no plan satisfies every rule before the target return day {self.target}; "
                f"relaxing {text} alone makes it feasible",
                field=", ".join(culprits),
                expected="a relaxed setting, more sessions a week, or a later target",
            )
        raise PlanInfeasibleError(
            "no plan satisfies every rule, and no single rule is to blame",
            field="plan",
            expected="more weeks, a later target, or relaxed PlanSettings",
        )

    def full_training(self, chosen):
        """The first day of full training: the target return day, or the day after the
        session that completes the required near-maximal and maximal-velocity sessions when
        that is later; None when a required one is not in the plan."""
        s = self.settings
        top: dict[datetime.date, float] = {}
        for day, drills in chosen.items():
            top[day] = max((d.speed_fraction for d in drills if d.category == "running"), default=0)
        for day, old in self.fixed.items():
            top[day] = max(
                (d.speed_fraction for d in old.drills if d.category == "running"), default=0
            )
        last = []
        for fraction, need, group in (
            (s.near_max_fraction, s.min_near_max_sessions, "near_max"),
            (s.max_velocity_fraction, s.min_max_velocity_sessions, "max_velocity"),
        ):
            if need == 0:
                continue
            days = sorted(d for d, f in top.items() if f >= fraction - _RTOL)
            if self._required[group] is None or len(days) < need:
                return None
            last.append(days[need - 1] + datetime.timedelta(days=1))
        return max([self.target, *last])

    def to_plan(self, res, seconds, readings=()):
        x = res.x
        nv = len(self.var)
        chosen: dict[datetime.date, list[PlannedDrill]] = {}
        for q, (si, j, k) in enumerate(self.var):
            if x[q] < 0.5:
                continue
            day = self.session_days[si]
            dose = round(x[nv + q]) * self.step[j]
            chosen.setdefault(day, []).append(self.planned(day, j, k, dose))
        full = self.full_training(chosen)
        if full is not None:  # the home protocol is rehabilitation: it ends at full training
            self.home = {d: v for d, v in self.home.items() if d < full}
        sessions = []
        for day in self.days:
            kind = "session" if day.weekday() in self.settings.weekdays else "home"
            if day in self.fixed:
                old = self.fixed[day]
                sessions.append(dataclasses.replace(old, fixed=True))
                continue
            drills = chosen.get(day, []) + self.home.get(day, [])
            drills.sort(key=lambda d: (-max(d.utilisation.values()), d.drill))
            hard = kind == "session" and any(
                self.hard(day, self.index[d.drill], d.level)
                for d in drills
                if d.drill not in self.protocol
            )
            sessions.append(
                Session(
                    date=day,
                    days_since_injury=self.athlete.days_since_injury(day),
                    week=self.week_of(day) + 1,
                    deload_week=self.deload_week(self.week_of(day)),
                    kind=kind,
                    limits={c: float(self.limits[day].values[c]) for c in self.criteria},
                    basis=self.limits[day].basis,
                    hard=hard,
                    drills=tuple(drills),
                )
            )
        nw = [0.0] * self.weeks
        hl = [0.0] * self.weeks
        for sess in sessions:
            if sess.kind != "session":
                continue
            for d in sess.drills:
                if d.drill in self.protocol:
                    continue
                nw[sess.week - 1] += d.negative_work
                hl[sess.week - 1] += d.high_load_exposures
        return Plan(
            athlete=self.athlete,
            policy=None,
            settings=self.settings,
            metrics=self.metrics,
            criteria=self.criteria,
            start=self.start,
            weeks=self.weeks,
            target_return_date=self.target,
            full_training_date=full,
            readings=tuple(readings),
            sessions=tuple(sessions),
            weekly_negative_work=tuple(nw),
            weekly_high_load_exposures=tuple(hl),
            notes=tuple(self.notes),
            solve_seconds=seconds,
            objective=float(-res.fun),
        )
