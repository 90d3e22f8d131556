"""``musclesim plan``: a multi-week, criteria-based progression plan from an athlete file (its
dated assessment log sets each day's limits) and a drill metrics table (the table comes from
the simulation; see :mod:`musclesim.training.plan.metrics` for its layout).

Re-planning from a new assessment: add it to the athlete file's log and run again with
``--previous plan.nc --date <assessment day>``: days before it are kept as done, later days
are re-planned under the limits the new assessment sets.

Writes ``plan.csv``, ``plan.nc`` (for re-planning with ``--previous``), ``plan_calendar.png``
and ``plan_summary.txt`` (the plan, the plan rules
and the tolerance policy with its sources) into ``--out``, and prints the summary.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from ..core.errors import InputError
from ..core.io import check_output_folder, write_netcdf_atomic, write_text_atomic
from ..geometry.io import load_model
from ..training.athlete import load_athlete
from ..training.plan import (
    PlanSettings,
    load_metrics,
    plan_progression,
    plot_plan_calendar,
    read_plan,
    replan,
    write_plan_csv,
    write_plan_netcdf,
)
from ..training.rank import athlete_metrics, athlete_model
from ..training.tolerance import TolerancePolicy
from .simulate import add_out_of_domain_argument

#: Intensity levels per drill in the table computed for the plan: 9 levels put running
#: (3.5 to 9.5 m/s) 0.75 m/s apart, 8 % of a 9.6 m/s maximal speed, so the running stages
#: (one 10 %-of-maximal-speed step at a time, PlanSettings.running_step) can be followed.
PLAN_LEVELS = 9


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "plan",
        help="multi-week progression plan (MILP) for an injured athlete",
        description="Plan drills and doses day by day with every criterion under that day's "
        "limit (the athlete file's latest assessment). Every output states the rules and "
        "policy it used and their sources.",
    )
    p.add_argument("--athlete", required=True, type=Path, help="athlete profile (.toml)")
    p.add_argument("--weeks", required=True, type=int, help="plan length in weeks")
    p.add_argument(
        "--metrics",
        type=Path,
        default=None,
        help="drill metrics table (.nc) for this athlete's injured muscle; default: computed "
        "now for this athlete on --model (a minute or two)",
    )
    p.add_argument("--model", default="sprinter_ja1", help="shipped model for the metrics")
    add_out_of_domain_argument(p)
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--date",
        type=_date,
        default=None,
        help="first day of the plan and day of the pain/soreness reading "
        "(YYYY-MM-DD; default today)",
    )
    p.add_argument("--pain", type=float, default=0.0, help="today's pain, 0-10 NRS")
    p.add_argument("--soreness", type=float, default=0.0, help="today's soreness, 0-10")
    p.add_argument("--policy", type=Path, default=None, help="tolerance policy overrides (.toml)")
    p.add_argument("--days-per-week", type=int, default=3, help="sessions per week (1-7)")
    p.add_argument(
        "--target-date",
        type=_date,
        default=None,
        help="target return day (default: athlete file, else the policy's "
        "expected time for the grade)",
    )
    p.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="re-plan: a plan.nc written earlier; its days before --date are kept as "
        "done, later ones are re-planned under the athlete file's assessments and "
        "--pain/--soreness (its calendar, rules and target are kept)",
    )
    p.set_defaults(func=run)


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def run(args) -> int:

    today = args.date or datetime.date.today()
    check_output_folder(
        args.out,
        names=("metrics.nc", "plan.csv", "plan.nc", "plan_calendar.png", "plan_summary.txt"),
        inputs=[args.athlete, args.metrics, args.policy, args.previous],
    )
    athlete = load_athlete(args.athlete, today=today)
    policy = TolerancePolicy.default() if args.policy is None else TolerancePolicy.load(args.policy)
    computed = args.metrics is None
    if computed:
        metrics = athlete_metrics(
            athlete, model=args.model, n_levels=PLAN_LEVELS, out_of_domain=args.out_of_domain
        )
    else:
        metrics = load_metrics(args.metrics)
    expected_muscle = athlete.model_muscle_name(
        "gait2392"
        if str(metrics.attrs.get("model_family", "rajagopal")) == "gait2392"
        else "rajagopal"
    )
    table_muscle = metrics.attrs.get("muscle")
    if table_muscle is not None and str(table_muscle) != expected_muscle:
        raise InputError(
            f"the metrics are for {table_muscle!r}, the athlete's injured muscle is "
            f"{expected_muscle!r}",
            path=args.metrics or "the computed metrics table",
            field="attrs.muscle",
            expected=f"a table computed for {expected_muscle}",
        )
    am = athlete_model(athlete, args.model)
    geometry = {
        "geometry": load_model(args.model),
        "length_scale": am.length_scale,
        "out_of_domain": args.out_of_domain,
    }
    if args.previous is not None:
        previous = read_plan(args.previous, athlete, metrics, policy=policy)
        if args.weeks != previous.weeks:
            raise InputError(
                f"--weeks {args.weeks} differs from the previous plan's {previous.weeks}",
                path=args.previous,
                field="weeks",
                expected="the same number of weeks when re-planning",
            )
        plan = replan(
            previous,
            from_date=today,
            pain=args.pain,
            soreness=args.soreness,
            athlete=athlete,
            **geometry,
        )
    else:
        settings = PlanSettings.with_days_per_week(args.days_per_week)
        plan = plan_progression(
            athlete,
            metrics,
            weeks=args.weeks,
            start=today,
            policy=policy,
            settings=settings,
            pain=args.pain,
            soreness=args.soreness,
            target_return_date=args.target_date,
            **geometry,
        )
    out = Path(args.out)
    if computed:  # written only with the plan, so a plan that fails leaves no file behind
        write_netcdf_atomic(metrics, out / "metrics.nc")
    write_plan_csv(plan, out / "plan.csv")
    write_plan_netcdf(plan, out / "plan.nc")
    plot_plan_calendar(plan, out / "plan_calendar.png")
    text = plan.summary()
    if "out_of_domain" in metrics.attrs:  # a table given with --metrics need not carry it
        text += f"\nGeometry of the drill metrics: {metrics.attrs['out_of_domain']}"
    write_text_atomic(out / "plan_summary.txt", text + "\n")
    print(text)
    print(
        f"\nWrote {out / 'plan.csv'}, {out / 'plan.nc'}, {out / 'plan_calendar.png'}, "
        f"{out / 'plan_summary.txt'} (solved in {plan.solve_seconds:.2f} s)"
    )
    return 0
