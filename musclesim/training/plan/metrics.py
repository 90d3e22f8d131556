"""The drill metrics table: what the planner reads about every drill at every intensity.

**The contract** (:func:`metrics_table` builds a table, :func:`check_metrics` validates one,
:func:`load_metrics` reads one; :func:`musclesim.training.rank.athlete_metrics` produces it for
an athlete). An ``xarray.Dataset`` with dims ``drill`` (names as coordinate) and ``intensity``
(level index 0..K-1; a drill with fewer levels pads with NaN in every grid variable and 0 in
``loads_muscle``):

===============================  ================  ============================================
variable                         dims              meaning
===============================  ================  ============================================
``intensity_value``              drill, intensity  the drill's primary intensity at that level
one variable per criterion of    drill, intensity  the injured muscle's criterion per
:data:`~musclesim.training.                        repetition (per stride for running, per
criteria.CRITERIA` (by name)                       exposure unit), in the criterion's unit
                                                   (``units`` attribute); finite where the
                                                   level exists; the active criteria are 0
                                                   where the muscle is not loaded
``loads_muscle``                 drill, intensity  int8: 1 where the drill actively loads the
                                                   injured muscle at that level
``exposures_per_dose``           drill, intensity  loading cycles (repetitions or strides) per
                                                   dose unit; optional, default 1
``max_velocity``                 drill, intensity  int8: 1 where the level counts as maximal-
                                                   velocity sprinting; optional, default 0
``sprint_specificity``           drill             0..1 score
``intensity_unit``               drill             e.g. ``m/s``, ``kg``, ``m``
``dose_unit``                    drill             e.g. ``reps``, ``m``
``dose_min``, ``dose_max``,      drill             dose bounds per session and the dose step
``dose_step``                                      (doses are whole multiples of the step)
``category``                     drill             one of :data:`CATEGORIES` (the drill file's)
===============================  ================  ============================================

and attributes ``reference_<criterion>`` for every criterion (> 0): the **injured** muscle's own
value at the athlete's maximal sprint speed, the reference of today's limits
(:mod:`musclesim.training.plan.limits`); optionally ``muscle`` (the model muscle name, e.g.
``bflh_r``, checked against the athlete by the CLI), ``model_family`` (``rajagopal`` or
``gait2392``), ``criteria`` (the criterion names, comma-separated) and provenance.

A planner checks ``table[c][d, k] <= limit[c]`` per criterion ``c`` and counts a session's load
per criterion as ``table[c][d, k] x exposures_per_dose x dose``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ...core.errors import InputError
from ..criteria import CRITERIA, CRITERION_NAMES

#: Drill categories a table may hold (the drill files' ``category``).
CATEGORIES = ("lengthening", "strength", "running", "walking", "plyometric", "calf", "drill")
#: Criteria that are magnitudes (>= 0). The two strains may be negative: ``active_stretch``
#: where the fibre stays shorter than optimal while loaded, ``end_range_length`` where the
#: musculotendon unit stays shorter than in upright standing.
_NON_NEGATIVE = tuple(c for c in CRITERION_NAMES if c not in ("active_stretch", "end_range_length"))


def metrics_table(
    drills: Sequence[str],
    intensity_value,
    criteria: Mapping[str, Any],
    loads_muscle,
    *,
    intensity_unit: Sequence[str],
    dose_unit: Sequence[str],
    dose_min,
    dose_max,
    dose_step,
    sprint_specificity,
    category: Sequence[str],
    references: Mapping[str, float],
    exposures_per_dose=None,
    max_velocity=None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build a drill metrics table (the contract in this module's docstring) and check it.

    Grid arguments (``intensity_value``, each ``criteria[name]``, ``loads_muscle``,
    ``exposures_per_dose``, ``max_velocity``) are ``(n_drill, n_level)`` arrays (NaN where a
    drill has fewer levels); per-drill arguments have length ``n_drill``; ``criteria`` and
    ``references`` map every criterion name to its values and its maximal-sprint reference.
    """
    grid = np.asarray(intensity_value, dtype=float)
    if grid.ndim != 2 or grid.shape[0] != len(drills):
        raise InputError(
            f"intensity grid of shape {grid.shape}",
            field="intensity_value",
            expected=f"(n_drill={len(drills)}, n_level)",
        )
    for what, given in (("criteria", criteria), ("references", references)):
        missing = [c for c in CRITERION_NAMES if c not in given]
        if missing:
            raise InputError(
                f"no {', '.join(missing)}", field=what, expected="every criterion by name"
            )
    dims = ("drill", "intensity")

    def g(values, attrs, default=None):
        values = default if values is None else values
        arr = np.broadcast_to(np.asarray(values, dtype=float), grid.shape).copy()
        return xr.DataArray(arr, dims=dims, attrs=attrs)

    variables = {"intensity_value": g(grid, {"long_name": "drill intensity at this level"})}
    for c in CRITERIA:
        variables[c.name] = g(
            criteria[c.name],
            {"long_name": f"{c.long_name} of the injured muscle", "units": c.unit},
        )
    loaded = np.broadcast_to(np.asarray(loads_muscle), grid.shape)
    variables["loads_muscle"] = xr.DataArray(
        np.where(np.isfinite(grid), loaded, 0).astype("int8"),
        dims=dims,
        attrs={"long_name": "the drill actively loads the injured muscle"},
    )
    variables["exposures_per_dose"] = g(
        exposures_per_dose, {"long_name": "loading cycles per dose unit"}, 1.0
    )
    flags = g(max_velocity, {"long_name": "counts as maximal-velocity sprinting"}, 0.0)
    variables["max_velocity"] = flags.fillna(0).astype("int8")
    ds = xr.Dataset(
        {
            **variables,
            "sprint_specificity": (
                "drill",
                np.asarray(sprint_specificity, dtype=float),
                {"long_name": "sprint specificity", "units": "1"},
            ),
            "intensity_unit": ("drill", np.asarray(intensity_unit, dtype=str)),
            "dose_unit": ("drill", np.asarray(dose_unit, dtype=str)),
            "dose_min": ("drill", np.asarray(dose_min, dtype=float)),
            "dose_max": ("drill", np.asarray(dose_max, dtype=float)),
            "dose_step": ("drill", np.asarray(dose_step, dtype=float)),
            "category": ("drill", np.asarray(category, dtype=str)),
        },
        coords={"drill": list(drills), "intensity": np.arange(grid.shape[1])},
        attrs={
            **{f"reference_{c}": float(references[c]) for c in CRITERION_NAMES},
            "criteria": ",".join(CRITERION_NAMES),
            **(attrs or {}),
        },
    )
    return check_metrics(ds)


_GRID_VARS = ("intensity_value", *CRITERION_NAMES, "loads_muscle")
_DRILL_VARS = (
    "sprint_specificity",
    "intensity_unit",
    "dose_unit",
    "dose_min",
    "dose_max",
    "dose_step",
    "category",
)


def _cell(ds, name, i, k=None) -> str:
    where = f"drill={ds.drill.values[i]!s}" + ("" if k is None else f", intensity={k}")
    return f"{name}[{where}]"


def check_metrics(ds: xr.Dataset, *, source: str | None = None) -> xr.Dataset:
    """Validate a metrics table; fill the optional variables. Returns the (possibly
    completed) dataset. Raises :class:`InputError` naming the variable (and the cell)."""
    for dim in ("drill", "intensity"):
        if dim not in ds.dims:
            raise InputError(
                f"missing dimension {dim!r}",
                path=source,
                field=dim,
                expected="dims ('drill', 'intensity')",
            )
    for name in _GRID_VARS + _DRILL_VARS:
        if name not in ds:
            raise InputError(
                "missing variable",
                path=source,
                field=name,
                expected="the metrics-table contract (musclesim.training.plan.metrics)",
            )
    for name in _GRID_VARS:
        if set(ds[name].dims) != {"drill", "intensity"}:
            raise InputError(
                f"dims {ds[name].dims}", path=source, field=name, expected="('drill', 'intensity')"
            )
    for name in _DRILL_VARS:
        if ds[name].dims != ("drill",):
            raise InputError(
                f"dims {ds[name].dims}", path=source, field=name, expected="('drill',)"
            )
    for c in CRITERION_NAMES:
        key = f"reference_{c}"
        value = ds.attrs.get(key)
        try:
            ok = value is not None and math.isfinite(float(value)) and float(value) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(
                f"{value!r}",
                path=source,
                field=f"attrs.{key}",
                expected="the injured muscle's value at maximal sprint speed, > 0",
            )
    if "exposures_per_dose" not in ds:
        ds = ds.assign(exposures_per_dose=xr.ones_like(ds["intensity_value"]))
    if "max_velocity" not in ds:
        ds = ds.assign(max_velocity=xr.zeros_like(ds["intensity_value"]).astype("int8"))
    ds = ds.transpose("drill", "intensity", ...)
    level = np.isfinite(ds["intensity_value"].values)
    for name in CRITERION_NAMES:
        values = ds[name].values
        mismatch = np.isfinite(values) != level
        if mismatch.any():
            i, k = np.argwhere(mismatch)[0]
            raise InputError(
                "a number where the level is missing, or NaN where it exists",
                path=source,
                field=_cell(ds, name, i, k),
                expected="finite exactly where intensity_value is (NaN only as padding)",
            )
        if name in _NON_NEGATIVE and np.any(values[level] < 0):
            i, k = np.argwhere(level & (np.nan_to_num(values) < 0))[0]
            raise InputError(
                f"{values[i, k]:g}",
                path=source,
                field=_cell(ds, name, i, k),
                expected=f">= 0 {ds[name].attrs.get('units', '')}".rstrip(),
            )
    loads = ds["loads_muscle"].values
    if not np.all(np.isin(loads, (0, 1))):
        raise InputError("not 0/1", path=source, field="loads_muscle", expected="0 or 1")
    for name in ("exposures_per_dose",):
        values = ds[name].values
        bad = level & ~(np.isfinite(values) & (values > 0))
        if bad.any():
            i, k = np.argwhere(bad)[0]
            raise InputError(
                f"{values[i, k]!r}", path=source, field=_cell(ds, name, i, k), expected="> 0"
            )
    spec = ds["sprint_specificity"].values
    if np.any(~np.isfinite(spec)) or np.any((spec < 0) | (spec > 1)):
        raise InputError(
            "out of range", path=source, field="sprint_specificity", expected="in [0, 1]"
        )
    for i, c in enumerate(ds["category"].values):
        if str(c) not in CATEGORIES:
            raise InputError(
                f"{str(c)!r}",
                path=source,
                field=_cell(ds, "category", i),
                expected="one of " + ", ".join(CATEGORIES),
            )
    lo, hi, step = (ds[v].values for v in ("dose_min", "dose_max", "dose_step"))
    bad = (
        ~(np.isfinite(lo) & np.isfinite(hi) & np.isfinite(step))
        | (step <= 0)
        | (lo <= 0)
        | (hi < lo)
    )
    for i in np.flatnonzero(bad):
        raise InputError(
            f"dose bounds ({lo[i]}, {hi[i]}, step {step[i]})",
            path=source,
            field=f"dose_min/dose_max/dose_step[drill={ds.drill.values[i]!s}]",
            expected="0 < dose_min <= dose_max, dose_step > 0",
        )
    for i in range(ds.sizes["drill"]):
        if math.ceil(lo[i] / step[i] - 1e-9) > math.floor(hi[i] / step[i] + 1e-9):
            raise InputError(
                "no whole number of steps between dose_min and dose_max",
                path=source,
                field=f"dose_step[drill={ds.drill.values[i]!s}]",
                expected="dose_min <= k * dose_step <= dose_max for some k",
            )
    if len(set(map(str, ds.drill.values))) != ds.sizes["drill"]:
        raise InputError(
            "duplicate drill names", path=source, field="drill", expected="unique names"
        )
    return ds


def load_metrics(path: str | Path) -> xr.Dataset:
    """Read and validate a metrics table from netCDF."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path, expected="a drill metrics netCDF file")
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    return check_metrics(ds, source=str(path))
