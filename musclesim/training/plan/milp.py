"""The progression plan as a mixed-integer linear programme, solved by scipy's HiGHS.

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
"""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import scipy.optimize
import scipy.sparse

from ...core.citations import reference
from ...core.errors import InputError
from .limits import max_velocity_mask, session_limits
from .types import Plan, PlanInfeasibleError, PlannedDrill, Session

#: Added to every drill's sprint specificity in the objective, so that non-specific drills
#: are still worth doing (policy).
_SPEC_FLOOR = 0.05


@dataclasses.dataclass(frozen=True)
class FixedBefore:
    """Sessions of ``plan`` before ``day`` are done: kept as they were, counted in the rules."""

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


class PlanProblem:
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
            f"doi:{reference('timmins2016')['doi']}) and re-plan, or accept the higher strain "
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
