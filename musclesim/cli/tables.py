"""``musclesim table build | lookup | export``."""

from __future__ import annotations

import datetime
import json
import sys
import time as timer
from pathlib import Path

import xarray as xr

from ..core.errors import InputError
from ..core.io import check_output, write_netcdf_atomic
from ..training.athlete import load_athlete
from ..training.tables import build_table, export_html, lookup
from .simulate import add_out_of_domain_argument


def _load(path: Path):
    try:
        return xr.load_dataset(path)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read table ({exc})",
            path=path,
            expected="a netCDF file written by `musclesim table build`",
        ) from exc


def _build(args) -> int:
    check_output(args.out, inputs=[args.athlete, args.model])
    athlete = load_athlete(args.athlete, today=datetime.date.today())
    start = timer.perf_counter()
    table = build_table(
        athlete,
        model=args.model,
        names=args.drills,
        n_intensities=args.intensities,
        n_profiles=args.profiles,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        scheduler=args.scheduler,
        out_of_domain=args.out_of_domain,
    )
    seconds = timer.perf_counter() - start
    table.attrs["build_seconds"] = seconds
    write_netcdf_atomic(table, args.out)
    n = table.sizes["drill"] * table.sizes["intensity"] * table.sizes["profile"]
    print(
        f"wrote {args.out}: {table.sizes['drill']} drills x {table.sizes['intensity']} "
        f"intensities x {table.sizes['profile']} profiles = {n} entries in {seconds:.1f} s"
    )
    print(f"geometry: {table.attrs['out_of_domain']}")
    return 0


def _lookup(args) -> int:

    table = _load(args.table)
    start = timer.perf_counter()
    answer = lookup(
        table,
        args.drill,
        args.intensity,
        profile=args.profile,
        days_since_injury=args.days,
        grade=args.grade,
        pain=args.pain,
        soreness=args.soreness,
    )
    answer["lookup_ms"] = (timer.perf_counter() - start) * 1e3
    print(json.dumps(answer, indent=2))
    return 0


def _export(args) -> int:

    check_output(args.html, inputs=[args.table], field="--html")
    path = export_html(_load(args.table), args.html, grade=args.grade, days=args.days)
    print(f"wrote {path}")
    return 0


def register_cli(subparsers) -> None:
    table = subparsers.add_parser("table", help="drill-safety lookup tables")
    sub = table.add_subparsers(dest="table_command", required=True)
    build = sub.add_parser("build", help="drill x intensity x profile table (netCDF)")
    build.add_argument(
        "--athlete",
        required=True,
        type=Path,
        help="athlete TOML giving the injured muscle, side and default grade",
    )
    build.add_argument("--model", default="sprinter_ja1")
    build.add_argument("--drills", nargs="*")
    build.add_argument("--intensities", type=int, default=10)
    build.add_argument("--profiles", type=int, default=50)
    build.add_argument("--seed", type=int, default=0)
    add_out_of_domain_argument(build)
    build.add_argument("--out", required=True, type=Path)
    build.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the profiles on this dask.distributed scheduler (e.g. tcp://host:8786); "
        "the table is the same as without it",
    )
    build.set_defaults(func=_build)
    look = sub.add_parser("lookup", help="one drill, intensity and profile -> strain, safe")
    look.add_argument("table", type=Path)
    look.add_argument("--drill", required=True)
    look.add_argument("--intensity", required=True, type=float)
    look.add_argument("--profile", type=int, default=0)
    look.add_argument("--days", required=True, type=float, help="days since injury")
    look.add_argument("--grade", help="BAMIC grade (default: the table's)")
    look.add_argument("--pain", type=float, default=0.0)
    look.add_argument("--soreness", type=float, default=0.0)
    look.set_defaults(func=_lookup)
    export = sub.add_parser("export", help="self-contained HTML page")
    export.add_argument("table", type=Path)
    export.add_argument("--html", required=True, type=Path)
    export.add_argument("--grade")
    export.add_argument("--days", type=float, nargs="*", default=[7, 14, 21, 28])
    export.set_defaults(func=_export)
