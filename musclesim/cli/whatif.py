"""``musclesim whatif``: the effect of a technique change (one joint angle, over a phase of the
cycle) on every tissue-load criterion, predicted from the second-order series of the fibre
solution in the change (first-order prediction and directional derivative beside it) and
confirmed by re-simulation; and the smallest such change that brings a criterion under a
limit."""

from __future__ import annotations

import datetime
from pathlib import Path

from ..core.errors import InputError
from ..core.io import check_output, existing_input, write_netcdf_atomic, write_text_atomic
from ..training.athlete import load_athlete
from ..training.criteria import CRITERION_NAMES
from ..training.drills import get_drill
from ..training.rank import Case, athlete_model
from ..training.uncertainty.sensitivity import DEG, drill_scenario, motion_scenario
from ..training.uncertainty.whatif import (
    DEFAULT_MAX_CHANGE_RAD,
    MAX_CHANGE_RAD,
    parse_window,
    smallest_change,
    smallest_change_dataset,
    technique_whatif,
    todays_limit,
    whatif_csv,
    whatif_table,
)


def _day(args) -> datetime.date:
    return datetime.date.fromisoformat(args.date) if args.date else datetime.date.today()


def _scenario(args):
    if (args.drill is None) == (args.motion is None):
        raise InputError(
            "give exactly one of --drill and --motion",
            field="--drill/--motion",
            expected="a drill name (with --athlete) or a motion file",
        )
    if args.drill is not None:
        if args.athlete is None:
            raise InputError(
                "a drill needs the athlete it is scaled to",
                field="--athlete",
                expected="an athlete TOML file",
            )
        athlete = load_athlete(args.athlete)
        # the muscle as the assessment log describes it on the day, as the ranking does
        am = athlete_model(athlete.state_on(_day(args)), args.model)
        drill = get_drill(args.drill)
        intensity = drill.intensity.default if args.intensity is None else float(args.intensity)
        settings = tuple(sorted(drill.check_settings(None).items()))
        return drill_scenario(am, Case(drill, intensity, settings)), athlete, am
    existing_input(args.motion, "a motion file (.mot, .sto, .csv)", field="--motion")
    if args.intensity is not None:
        raise InputError(
            "--intensity given with --motion",
            field="--intensity",
            expected="--speed (m/s) for a measured run, or --drill",
        )
    scenario = motion_scenario(
        args.model, args.motion, args.muscle, speed=args.speed, max_speed=args.max_speed
    )
    athlete = load_athlete(args.athlete) if args.athlete else None
    am = athlete_model(athlete.state_on(_day(args)), args.model) if athlete else None
    return scenario, athlete, am


def run_whatif(args) -> int:
    window = parse_window(args.phase)
    if args.change_deg is None and args.criterion is None:
        raise InputError(
            "nothing to do",
            field="--change-deg/--criterion",
            expected="--change-deg (the effect of a change) and/or --criterion with --limit or "
            "--athlete (the smallest change that meets the limit)",
        )
    for name, value in (
        ("--change-deg", args.change_deg),
        ("--max-change-deg", args.max_change_deg),
    ):
        if value is not None and not abs(value) * DEG <= MAX_CHANGE_RAD:
            raise InputError(
                f"{value!r} deg",
                field=name,
                expected=f"degrees within +-{MAX_CHANGE_RAD / DEG:g} (a technique change)",
            )
    if args.out:
        for out in (Path(args.out), Path(args.out).with_suffix(".nc")):
            check_output(out, inputs=[args.athlete, args.motion])
    scenario, athlete, am = _scenario(args)
    change = 0.0 if args.change_deg is None else args.change_deg * DEG
    ds = None
    if args.change_deg is not None:
        ds = technique_whatif(scenario, args.coordinate, change, window)
        print(whatif_table(ds))
    result = None
    if args.criterion is not None:
        if args.limit is not None:
            limit, basis = float(args.limit), "given (--limit)"
        elif athlete is not None:
            day = _day(args)
            limit = todays_limit(am, athlete, day, args.criterion)
            basis = f"today's limit for {athlete.name or args.athlete} on {day.isoformat()}"
        else:
            raise InputError(
                "no limit for the criterion",
                field="--limit",
                expected="--limit (criterion unit) or --athlete (today's limit)",
            )
        result = smallest_change(
            scenario,
            args.coordinate,
            window,
            args.criterion,
            limit,
            max_change=args.max_change_deg * DEG,
        )
        print()
        print(f"limit: {limit:.4g} ({basis})")
        print(result.words)
    if args.out:
        written = []
        if ds is not None:
            written.append(write_text_atomic(args.out, whatif_csv(ds, result)))
            if result is not None:
                for k, v in smallest_change_dataset(result, {}).data_vars.items():
                    ds[f"smallest_{k}"] = v
                ds.attrs["smallest_change"] = result.words
            written.append(write_netcdf_atomic(ds, Path(args.out).with_suffix(".nc")))
        else:
            nc = smallest_change_dataset(result, {"scenario": scenario.label})
            written.append(write_netcdf_atomic(nc, Path(args.out).with_suffix(".nc")))
        print("wrote " + " and ".join(str(p) for p in written))
    return 0


def register_cli(subparsers) -> None:
    parser = subparsers.add_parser(
        "whatif",
        help="effect of a technique change on each criterion, and the smallest change that "
        "meets a limit",
    )
    what = parser.add_argument_group("what is simulated (a drill, or a measured motion)")
    what.add_argument("--drill", help="drill name (needs --athlete)")
    what.add_argument("--intensity", type=float, help="drill intensity (default: the drill's)")
    what.add_argument("--motion", type=Path, help="measured running motion (.mot, .sto, .csv)")
    what.add_argument("--speed", type=float, help="running speed of the motion (m/s)")
    what.add_argument("--max-speed", type=float, help="athlete's maximal speed (m/s)")
    what.add_argument("--muscle", default="bflh_r", help="muscle along a motion (default bflh_r)")
    what.add_argument("--athlete", type=Path, help="athlete TOML file")
    what.add_argument("--date", help="day of today's limit (YYYY-MM-DD; default today)")
    what.add_argument("--model", default="sprinter_ja1", help="shipped model name or file")
    change = parser.add_argument_group("the technique change")
    change.add_argument(
        "--coordinate", required=True, help="joint angle to change, e.g. hip_flexion_r"
    )
    change.add_argument(
        "--phase", required=True, help="window of the cycle, fractions a:b, e.g. 0.75:0.95"
    )
    change.add_argument(
        "--change-deg", type=float, help="change of the angle at the window's middle (deg)"
    )
    limit = parser.add_argument_group("the smallest change that meets a limit")
    limit.add_argument("--criterion", choices=CRITERION_NAMES, help="criterion to bring down")
    limit.add_argument("--limit", type=float, help="its limit (criterion unit)")
    limit.add_argument(
        "--max-change-deg",
        type=float,
        default=DEFAULT_MAX_CHANGE_RAD / DEG,
        help="search bound (deg, default %(default)g)",
    )
    parser.add_argument("--out", type=Path, help="CSV path (a netCDF file is written beside it)")
    parser.set_defaults(func=run_whatif)
