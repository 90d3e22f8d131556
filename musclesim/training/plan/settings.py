"""The plan rules (:class:`PlanSettings`): session days, the criteria-based progression, the
published protocols (Askling's L-protocol, the Nordic), running progression and spacing,
weekly load per criterion and deloads.

Every default of :class:`PlanSettings` is policy with its source in :data:`REFERENCES`;
:meth:`PlanSettings.summary` prints each rule beside its source.
"""

from __future__ import annotations

import dataclasses

from ...core.citations import references_for
from ...core.errors import InputError

#: The references behind the plan rules' defaults: entries of the project's registry
#: (:data:`musclesim.core.citations.REFERENCES`, where each entry says what it is used for).
REFERENCES = references_for(
    "askling2013",
    "mendiguchia2017",
    "mjolsnes2004",
    "gabbett2016",
    "bell2022",
    "malone2017",
    "hickey2020",
)

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: The Askling L-protocol (Askling et al. 2013): drill name -> (every how many days, bouts a
#: day, sets, repetitions). Extender twice every day 3 x 12, Diver every other day 3 x 6,
#: Glider every third day 3 x 4.
ASKLING_L_PROTOCOL: dict[str, tuple[int, int, int, int]] = {
    "askling_extender": (1, 2, 3, 12),
    "askling_diver": (2, 1, 3, 6),
    "askling_glider": (3, 1, 3, 4),
}

#: The Nordic hamstring programme's first weeks (Mjølsnes et al. 2004): (sessions a week,
#: repetitions a session) in the first, second and later weeks after its introduction:
#: 1 x (2 x 5), 2 x (2 x 6), then 3 x (3 x 8) at most.
NORDIC_PROGRESSION: tuple[tuple[int, int], ...] = ((1, 10), (2, 12), (3, 24))


@dataclasses.dataclass(frozen=True)
class PlanSettings:
    """Plan rules (policy; sources in :data:`REFERENCES`).

    Attributes:
        weekdays: field/gym session weekdays, 0 = Monday (default Mon, Wed, Fri). The
            L-protocol's home exercises follow their own frequency on every day.
        max_drills_per_session: drills in one field/gym session (4; policy).
        protocol: drill name -> (every n days, bouts a day, sets, reps) of a home protocol
            prescribed at its published frequency and dose from its first admissible day
            (default :data:`ASKLING_L_PROTOCOL`, Askling et al. 2013).
        protocol_start_day: earliest day after injury for the protocol drills (5: Askling
            et al. 2013 and Mendiguchia et al. 2017 started rehabilitation about 5 days
            after injury).
        nordic_drill: the Nordic hamstring drill's name (introduced at low volume, see
            ``nordic_progression``); '' disables the rule.
        nordic_progression: (sessions a week, reps a session) in the Nordic's first, second
            and later weeks (default :data:`NORDIC_PROGRESSION`, Mjølsnes et al. 2004).
        nordic_earliest_fraction: the Nordic is not chosen before this fraction of the way
            from the injury to the target return day (0.5: mid-rehabilitation; policy).
        running_start_max: the first running level is at most this fraction of maximal speed
            (0.70: running progresses from about 60 %; policy after Mendiguchia et al. 2017).
        running_step: a session's fastest running level is at most this fraction of maximal
            speed above the fastest of the earlier sessions (0.10: the ~60, 70, 80, 90 and
            >= 95 % stages, one stage at a time; policy).
        fast_fraction: running at or above this fraction of maximal speed is *fast* (0.80)
            and makes the session hard.
        near_max_fraction: running at or above this fraction is *near-maximal* (0.90);
            ``min_near_max_sessions`` (2) of them come before the target return day.
        max_velocity_fraction: maximal-velocity sprinting (0.95; Malone et al. 2017), in at
            least ``min_max_velocity_sessions`` (1) sessions before the target return day.
        hard_fraction: a field/gym session is *hard* when a chosen drill uses at least this
            fraction of any criterion's limit, or runs fast (0.80; policy).
        min_hours_between_hard: hard sessions are at least this far apart (48 h: a hard day
            is followed by an easy day; policy), so runs >= ``fast_fraction`` are >= 48 h
            apart.
        dose_increase_steps: a drill's dose in a session is at most its smallest dose plus
            this many dose steps per earlier session with that drill at the same or a more
            intense level (1; progressive overload, a higher level starting again at the
            smallest dose; policy), so volume rises with the sessions done, not to a cap.
        high_load_fraction: an exposure counts as *high-load* when it uses at least this
            fraction of any criterion's limit (0.80; policy). High-load exposures are counted
            per session and week and reported, not capped: the limits rise with recovery, so
            every step of the running stages is near a limit and starts from a chronic count
            of 0, which an acute:chronic cap would forbid.
        max_acute_chronic: a week's active negative work (J, the cumulative criterion) is at
            most this times the mean of the previous up to 4 weeks (1.3: Gabbett 2016's
            acute:chronic workload ratio), plus one smallest dose of the heaviest drill (so
            a new stimulus can start).
        deload_every: every this-many-th week is a deload week (4; Bell et al. 2022: every
            4-6 weeks), only in weeks that end before the target return day; 0 disables.
        deload_reduction: a deload week's load of each criterion is at most
            ``1 - deload_reduction`` times the previous week's (0.30; policy).
        time_limit_s: HiGHS time limit (s); at the limit the best feasible plan is kept and
            a note says so.
        mip_rel_gap: HiGHS relative optimality gap (0.01).
    """

    weekdays: tuple[int, ...] = (0, 2, 4)
    max_drills_per_session: int = 4
    protocol: dict[str, tuple[int, int, int, int]] = dataclasses.field(
        default_factory=lambda: dict(ASKLING_L_PROTOCOL)
    )
    protocol_start_day: int = 5
    nordic_drill: str = "nordic_hamstring"
    nordic_progression: tuple[tuple[int, int], ...] = NORDIC_PROGRESSION
    nordic_earliest_fraction: float = 0.5
    running_start_max: float = 0.70
    running_step: float = 0.10
    fast_fraction: float = 0.80
    near_max_fraction: float = 0.90
    min_near_max_sessions: int = 2
    max_velocity_fraction: float = 0.95
    min_max_velocity_sessions: int = 1
    hard_fraction: float = 0.80
    min_hours_between_hard: float = 48.0
    dose_increase_steps: int = 1
    high_load_fraction: float = 0.80
    max_acute_chronic: float = 1.3
    deload_every: int = 4
    deload_reduction: float = 0.30
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
        protocol = {str(k): tuple(int(x) for x in v) for k, v in dict(self.protocol).items()}
        for name, spec in protocol.items():
            if len(spec) != 4 or min(spec) < 1:
                raise InputError(
                    f"{spec!r}",
                    field=f"protocol[{name}]",
                    expected="(every n days, bouts a day, sets, reps), each >= 1",
                )
        object.__setattr__(self, "protocol", protocol)
        prog = tuple(tuple(int(x) for x in p) for p in self.nordic_progression)
        if not prog or any(len(p) != 2 or min(p) < 1 for p in prog):
            raise InputError(
                f"{self.nordic_progression!r}",
                field="nordic_progression",
                expected="(sessions a week, reps a session) pairs, each >= 1",
            )
        object.__setattr__(self, "nordic_progression", prog)
        fraction = (lambda v: 0 < v <= 1, "in (0, 1]")
        checks = {
            "max_drills_per_session": (self.max_drills_per_session >= 1, ">= 1"),
            "protocol_start_day": (self.protocol_start_day >= 0, ">= 0 days"),
            "nordic_earliest_fraction": (0 <= self.nordic_earliest_fraction <= 1, "in [0, 1]"),
            "running_start_max": (fraction[0](self.running_start_max), fraction[1]),
            "running_step": (fraction[0](self.running_step), fraction[1]),
            "fast_fraction": (fraction[0](self.fast_fraction), fraction[1]),
            "near_max_fraction": (fraction[0](self.near_max_fraction), fraction[1]),
            "min_near_max_sessions": (self.min_near_max_sessions >= 0, ">= 0"),
            "max_velocity_fraction": (fraction[0](self.max_velocity_fraction), fraction[1]),
            "min_max_velocity_sessions": (self.min_max_velocity_sessions >= 0, ">= 0"),
            "hard_fraction": (fraction[0](self.hard_fraction), fraction[1]),
            "min_hours_between_hard": (self.min_hours_between_hard >= 0, ">= 0 h"),
            "dose_increase_steps": (self.dose_increase_steps >= 0, ">= 0 steps"),
            "high_load_fraction": (fraction[0](self.high_load_fraction), fraction[1]),
            "max_acute_chronic": (self.max_acute_chronic >= 1, ">= 1"),
            "deload_every": (
                self.deload_every == 0 or self.deload_every >= 2,
                "0 (off) or >= 2 weeks",
            ),
            "deload_reduction": (0 <= self.deload_reduction < 1, "in [0, 1)"),
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
        doi = {k: v["doi"] for k, v in REFERENCES.items()}
        protocol = "; ".join(
            f"{name} every {'day' if every == 1 else f'{every} days'}"
            f"{f' {bouts} times a day' if bouts > 1 else ''}, {sets} x {reps}"
            for name, (every, bouts, sets, reps) in self.protocol.items()
        )
        nordic = ", then ".join(
            f"{n} session(s) a week of {reps} reps" for n, reps in self.nordic_progression
        )
        lines = [
            "Plan rules (policy; change with PlanSettings):",
            f"  field/gym sessions on {names}; at most {self.max_drills_per_session} drills each",
            "  every drill level chosen has each criterion at or below that day's limit "
            "(limits from the latest assessment on or before the day)",
            f"  home protocol at its published frequency and dose from day "
            f"{self.protocol_start_day} when admissible: {protocol} (Askling et al. 2013, "
            f"doi:{doi['askling2013']}; start about day 5 as in Mendiguchia et al. 2017, "
            f"doi:{doi['mendiguchia2017']})",
        ]
        if self.nordic_drill:
            lines.append(
                f"  {self.nordic_drill} not before {self.nordic_earliest_fraction:.0%} of the way "
                f"to the return day (mid-rehabilitation; policy), then {nordic} (Mjølsnes et al. "
                f"2004, doi:{doi['mjolsnes2004']})"
            )
        lines += [
            f"  walking before running; running starts at <= {self.running_start_max:.0%} of "
            f"maximal speed and a session's fastest run is at most {self.running_step:.0%} "
            "of maximal speed above the fastest earlier one (stages ~60, 70, 80, 90, >= 95 %; "
            f"policy after Mendiguchia et al. 2017)",
            f"  >= {self.min_near_max_sessions} "
            f"session(s) at >= {self.near_max_fraction:.0%} and >= "
            f"{self.min_max_velocity_sessions} at >= {self.max_velocity_fraction:.0%} "
            f"(maximal velocity: Malone et al. 2017, doi:{doi['malone2017']}) before the "
            "return day (policy)",
            f"  hard sessions (a drill >= {self.hard_fraction:.0%} of a limit, or a run >= "
            f"{self.fast_fraction:.0%} of maximal speed) at least "
            f"{self.min_hours_between_hard:g} h apart: hard and easy days (policy)",
            f"  a drill's dose starts at its smallest dose and rises by at most "
            f"{self.dose_increase_steps} step(s) per earlier session with it at that level or "
            "above; a higher level starts again at the smallest dose (policy)",
            f"  weekly active negative work (J) at most {self.max_acute_chronic:g} x the mean "
            f"of the previous 4 weeks (acute:chronic ratio, Gabbett 2016, "
            f"doi:{doi['gabbett2016']}) plus one smallest dose; exposures >= "
            f"{self.high_load_fraction:.0%} of a limit counted and reported",
            f"  deload every {self.deload_every} weeks before the return day, active negative "
            f"work cut by at least {self.deload_reduction:.0%} (interval: Bell et "
            f"al. 2022, doi:{doi['bell2022']}; the cut is policy)"
            if self.deload_every
            else "  no deload weeks",
        ]
        return "\n".join(lines)
