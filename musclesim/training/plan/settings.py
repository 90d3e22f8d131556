"""The plan rules (:class:`PlanSettings`): session days, load progression, deloads, spacing
of the hardest sessions and maximal-velocity exposure.

Every default of :class:`PlanSettings` is policy with its source in :data:`REFERENCES`.
"""

from __future__ import annotations

import dataclasses

from ...core.citations import references_for
from ...core.errors import InputError

#: The references behind the plan rules' defaults: entries of the project's registry
#: (:data:`musclesim.core.citations.REFERENCES`, where each entry says what it is used for).
REFERENCES = references_for("nielsen2014", "gabbett2016", "bell2022", "malone2017")

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
        min_hours_between_near_limit: 48 (policy: practice, not a measured threshold; the
            default Mon/Wed/Fri sessions are 48 h apart).
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
                f"{self.min_hours_between_near_limit:g} h apart (policy; practice, not a measured "
                "threshold)",
                f"  maximal-velocity sprinting (>= {self.max_velocity_fraction:.0%} of maximal "
                f"speed; Malone et al. 2017, doi:{REFERENCES['malone2017']['doi']}) in at least "
                f"{self.min_max_velocity_sessions} session(s) before the target return day",
            ]
        )
