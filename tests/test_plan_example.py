"""``musclesim plan`` for the shipped example athlete (grade 2b right BFLH with a pain-free
assessment log) on the metrics table the pipeline computes, re-planned from each assessment
as a clinician would: the final plan reaches >= 95 % of maximal speed before full training,
and the independent checker of test_plan_rules finds every rule kept under the limits the
log sets (read through the limits module, not the planner)."""

from __future__ import annotations

import datetime

import pytest
from test_plan_rules import check_plan_file, read_rows

from musclesim.cli import main
from musclesim.core.io import MODELS_DIR
from musclesim.geometry.io import load_model
from musclesim.training.athlete import load_athlete
from musclesim.training.plan import PlanSettings, load_metrics, session_limits
from musclesim.training.plan.types import DayLimits
from musclesim.training.rank import athlete_model
from musclesim.training.tolerance import TolerancePolicy

ATHLETE = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"
MODEL = "sprinter_ja1"
WEEKS = 4


def assessment_days():
    athlete = load_athlete(ATHLETE, today=datetime.date(2100, 1, 1))
    return [a.date for a in athlete.assessments]


def file_until(day, folder):
    """The athlete file as it stood on ``day``: the assessment log up to that day (the
    assessments are the file's last tables)."""
    head, *blocks = ATHLETE.read_text().split("\n[[assessments]]\n")
    kept = [b for b in blocks if load_date(b) <= day]
    path = folder / "athlete.toml"
    path.write_text("\n[[assessments]]\n".join([head, *kept]))
    return path


def load_date(block):
    line = next(x for x in block.splitlines() if x.startswith("date"))
    return datetime.date.fromisoformat(line.split("=")[1].split("#")[0].strip())


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """One plan from the first assessment on or after day 5 (the L-protocol's start, Askling
    et al. 2013), then a re-plan from every later assessment (``--previous``)."""
    days = assessment_days()
    injury = load_athlete(ATHLETE, today=days[-1]).injury_date
    days = [d for d in days if (d - injury).days >= 5]
    out, previous, metrics = [], None, None
    for day in days:
        folder = tmp_path_factory.mktemp(f"plan_{day}")
        argv = [
            "plan",
            "--athlete",
            str(file_until(day, folder)),
            "--weeks",
            str(WEEKS),
            "--date",
            str(day),
            "--model",
            MODEL,
            "--out",
            str(folder),
        ]
        if previous is not None:
            argv += ["--previous", str(previous / "plan.nc"), "--metrics", str(metrics)]
        assert main(argv) == 0
        metrics = metrics or folder / "metrics.nc"
        previous = folder
        out.append((day, folder))
    return out, metrics


def test_final_plan_reaches_max_speed_before_full_training(plans):
    folder = plans[0][-1][1]
    rows = read_rows(folder / "plan.csv")
    full = {r["full_training_date"] for r in rows}.pop()
    summary = (folder / "plan_summary.txt").read_text()
    assert full, summary
    full = datetime.date.fromisoformat(full)
    fast = [
        r
        for r in rows
        if r["category"] == "running"
        and float(r["speed_fraction"]) >= 0.95
        and datetime.date.fromisoformat(r["date"]) < full
    ]
    assert fast, summary


def test_every_plan_keeps_every_rule(plans):
    folders, metrics_path = plans
    metrics = load_metrics(metrics_path)
    policy = TolerancePolicy.default()
    settings = PlanSettings()
    geometry = load_model(MODEL)
    for day, folder in folders:
        athlete = load_athlete(folder / "athlete.toml", today=day)
        scale = athlete_model(athlete, MODEL).length_scale
        start = datetime.date.fromisoformat(read_rows(folder / "plan.csv")[0]["date"])
        target = athlete.target_return_date or policy.expected_return_date(athlete)
        cache = {}

        def limits(d, athlete=athlete, scale=scale, cache=cache, day=day):
            if d not in cache:
                # each day under the pain reading of the run that planned it (0 here)
                lim = session_limits(
                    athlete,
                    policy,
                    metrics,
                    d,
                    ((day, 0.0, 0.0),),
                    geometry=geometry,
                    length_scale=scale,
                )
                cache[d] = DayLimits(dict(lim.values), "")
            return cache[d]

        problems = check_plan_file(
            folder / "plan.csv",
            metrics=metrics,
            limits=limits,
            start=start,
            weeks=WEEKS,
            target=target,
            weekdays=settings.weekdays,
            max_drills=settings.max_drills_per_session,
            deload_every=settings.deload_every,
            deload_reduction=settings.deload_reduction,
            vmax=athlete.max_sprint_speed,
        )
        assert problems == [], f"plan from {day}:\n" + "\n".join(problems)
