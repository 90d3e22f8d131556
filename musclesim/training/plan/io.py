"""Plan files: CSV (one row per session x drill) and netCDF, which :func:`read_plan` reads
back for re-planning. Every file is written atomically.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
from pathlib import Path

import xarray as xr

from ...core.errors import InputError
from ...core.io import write_netcdf_atomic, write_text_atomic
from ..tolerance import TolerancePolicy
from .limits import max_velocity_mask
from .metrics import check_metrics
from .settings import PlanSettings
from .types import Plan, PlannedDrill, Session, plan_rows

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


def write_plan_csv(plan: Plan, path: str | Path) -> Path:
    """Write the plan as CSV (one row per session × drill), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in plan_rows(plan):
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
