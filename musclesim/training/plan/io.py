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
from .metrics import check_metrics
from .settings import PlanSettings
from .types import Plan, PlannedDrill, Session, plan_rows


def write_plan_csv(plan: Plan, path: str | Path) -> Path:
    """Write the plan as CSV (one row per session x drill, every criterion, its limit and
    utilisation as columns), atomically."""
    rows = plan_rows(plan)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
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
        full = str(ds.attrs.get("full_training_date", ""))
        full = datetime.date.fromisoformat(full) if full else None
        weeks = int(ds.attrs["weeks"])
        criteria = tuple(c for c in str(ds.attrs["criteria"]).split(",") if c)
        settings_dict = json.loads(ds.attrs["plan_settings"])
        settings_dict["weekdays"] = tuple(settings_dict["weekdays"])
        settings_dict["nordic_progression"] = tuple(
            tuple(p) for p in settings_dict["nordic_progression"]
        )
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
    missing = [c for c in criteria if c not in metrics]
    if missing:
        raise InputError(
            f"criteria {missing} are not in the metrics table",
            path=path,
            field="attrs.criteria",
            expected="the table the plan used",
        )

    def col(name, i):
        return ds[name].values[i]

    by_date: dict[str, list[int]] = {}
    for i, day in enumerate(map(str, ds["date"].values)):
        by_date.setdefault(day, []).append(i)
    sessions = []
    for day, idx in by_date.items():
        first = idx[0]
        drills = []
        for i in idx:
            name = str(col("drill", i))
            if not name:
                continue
            if name not in names:
                raise InputError(
                    f"drill {name!r} is not in the metrics table",
                    path=path,
                    field=f"drill[{day}]",
                    expected="the table the plan used",
                )
            drills.append(
                PlannedDrill(
                    drill=name,
                    level=int(col("level", i)),
                    intensity=float(col("intensity", i)),
                    intensity_unit=str(col("intensity_unit", i)),
                    dose=float(col("dose", i)),
                    dose_unit=str(col("dose_unit", i)),
                    category=str(col("category", i)),
                    bouts=int(col("bouts", i)),
                    criteria={c: float(col(c, i)) for c in criteria},
                    utilisation={c: float(col(f"utilisation_{c}", i)) for c in criteria},
                    binding=str(col("binding", i)),
                    negative_work=float(col("negative_work", i)),
                    high_load_exposures=float(col("high_load_exposures", i)),
                    speed_fraction=float(col("speed_fraction", i)),
                )
            )
        sessions.append(
            Session(
                date=datetime.date.fromisoformat(day),
                days_since_injury=int(col("days_since_injury", first)),
                week=int(col("week", first)),
                deload_week=bool(col("deload_week", first)),
                kind=str(col("kind", first)),
                limits={c: float(col(f"limit_{c}", first)) for c in criteria},
                basis=str(col("basis", first)),
                hard=bool(col("hard", first)),
                drills=tuple(drills),
                fixed=bool(col("fixed", first)),
            )
        )
    nw = [0.0] * weeks
    hl = [0.0] * weeks
    for sess in sessions:
        if sess.kind != "session":
            continue
        for d in sess.drills:
            if d.drill not in settings.protocol:
                nw[sess.week - 1] += d.negative_work
                hl[sess.week - 1] += d.high_load_exposures
    return Plan(
        athlete=athlete,
        policy=policy,
        settings=settings,
        metrics=metrics,
        criteria=criteria,
        start=start,
        weeks=weeks,
        target_return_date=target,
        full_training_date=full,
        readings=readings,
        sessions=tuple(sessions),
        weekly_negative_work=tuple(nw),
        weekly_high_load_exposures=tuple(hl),
        notes=tuple(n for n in str(ds.attrs.get("notes", "")).split("\n") if n),
        solve_seconds=float(ds.attrs.get("solve_seconds", math.nan)),
        objective=math.nan,
    )
