"""Progression plan files and inputs: the CSV, netCDF and calendar are written and read back
for re-planning, bad settings and inputs give one-line errors naming the field, and the CLI
writes every output."""

from __future__ import annotations

import datetime
import math

import pytest
from conftest import make_athlete
from test_plan_rules import INJURY, ramp_limits, read_rows, table

from musclesim import InputError
from musclesim.training.plan import (
    PlanSettings,
    plan_progression,
    plot_plan_calendar,
    read_plan,
    replan,
    write_plan_csv,
    write_plan_netcdf,
)

START = datetime.date(2026, 11, 9)
TARGET = INJURY + datetime.timedelta(days=25)


def small_plan(**kw):
    return plan_progression(
        make_athlete(),
        table(),
        weeks=3,
        start=START,
        target_return_date=TARGET,
        limits=ramp_limits(),
        **kw,
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("weekdays", (7,)),
        ("weekdays", (1, 1)),
        ("running_step", 0.0),
        ("max_acute_chronic", 0.9),
        ("deload_every", 1),
        ("protocol", {"askling_extender": (0, 2, 3, 12)}),
        ("nordic_progression", ((1, 0),)),
        ("min_hours_between_hard", -1.0),
    ],
)
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(InputError, match=field):
        PlanSettings(**{field: value})


def test_bad_inputs():
    with pytest.raises(InputError, match="weeks"):
        plan_progression(make_athlete(), table(), weeks=0, start=START, limits=ramp_limits())
    with pytest.raises(InputError, match="before the injury"):
        plan_progression(
            make_athlete(),
            table(),
            weeks=1,
            start=INJURY - datetime.timedelta(days=1),
            limits=ramp_limits(),
        )
    with pytest.raises(InputError, match="category"):
        plan_progression(
            make_athlete(),
            table().drop_vars("category"),
            weeks=1,
            start=START,
            limits=ramp_limits(),
        )


def test_files_roundtrip_and_replan_from_the_file(tmp_path):
    plan = small_plan()
    rows = read_rows(write_plan_csv(plan, tmp_path / "plan.csv"))
    assert rows and all(
        not (isinstance(v, str) and v.lower() in ("nan", "inf")) for r in rows for v in r.values()
    )
    assert {r["status"] for r in rows} <= {"planned", "rest"}
    write_plan_netcdf(plan, tmp_path / "plan.nc")
    back = read_plan(tmp_path / "plan.nc", plan.athlete, plan.metrics)
    assert [s.date for s in back.sessions] == [
        s.date for s in plan.sessions if s.drills or s.kind == "session"
    ]
    for a, b in zip(
        back.sessions, [s for s in plan.sessions if s.drills or s.kind == "session"], strict=True
    ):
        assert [(d.drill, d.level, d.dose) for d in a.drills] == [
            (d.drill, d.level, d.dose) for d in b.drills
        ]
    assert back.settings == plan.settings
    day = START + datetime.timedelta(days=9)
    new = replan(back, from_date=day, limits=ramp_limits())
    kept = [s for s in new.sessions if s.date < day and s.drills]
    assert kept and all(s.fixed for s in kept)
    assert math.isclose(
        sum(new.weekly_negative_work[:1]), sum(plan.weekly_negative_work[:1]), rel_tol=1e-9
    )
    png = plot_plan_calendar(plan, tmp_path / "calendar.png")
    assert png.stat().st_size > 10_000


def test_replan_outside_the_plan():
    plan = small_plan()
    with pytest.raises(InputError, match="from_date"):
        replan(plan, from_date=START + datetime.timedelta(days=40), limits=ramp_limits())


def test_summary_names_rules_and_sources():
    text = small_plan().summary()
    for needle in ("Askling", "Mjølsnes", "Gabbett", "48 h", "Weekly active negative work"):
        assert needle in text
