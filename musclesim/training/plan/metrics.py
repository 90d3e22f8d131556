"""The drill metrics table: what the planner reads about every drill at every intensity.

**The contract** (:func:`metrics_table` builds a table, :func:`check_metrics` validates one,
:func:`load_metrics` reads one; the simulation writes it as netCDF). An ``xarray.Dataset``
with dims ``drill`` (names as coordinate) and ``intensity`` (level index 0..K-1; drills with
fewer levels pad with NaN):

==============================  ==================  ===========================================
variable                        dims                meaning
==============================  ==================  ===========================================
``intensity_value``             drill, intensity    the drill's intensity at that level
``peak_eccentric_fiber_strain`` drill, intensity    injured muscle, at the default technique
``peak_mtu_strain``             drill, intensity    injured muscle (reported, not constrained)
``peak_force``                  drill, intensity    injured muscle (N)
``exposures_per_dose``          drill, intensity    loading cycles of the injured muscle per
                                                    dose unit (1 for reps; strides per metre
                                                    for runs); optional, default 1
``max_velocity``                drill, intensity    1 where the level counts as maximal-
                                                    velocity sprinting; optional (also inferred
                                                    from ``m/s`` drills, see PlanSettings)
``sprint_specificity``          drill               0..1 score
``intensity_unit``              drill               e.g. ``m/s``, ``kg``, ``m``
``dose_unit``                   drill               e.g. ``reps``, ``m``
``dose_min``, ``dose_max``,     drill               dose bounds per session and the dose step
``dose_step``                                       (doses are whole multiples of the step)
==============================  ==================  ===========================================

and attributes ``reference_peak_eccentric_fiber_strain`` and ``reference_peak_force``: the
same muscle **uninjured** at the athlete's maximal sprint speed (the tolerance reference);
optionally ``muscle`` (the model muscle name, e.g. ``bflh_r``, checked against the athlete by
the CLI) and ``model_family`` (``rajagopal`` or ``gait2392``), plus provenance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ...core.errors import InputError


def metrics_table(
    drills: Sequence[str],
    intensity_value,
    peak_eccentric_fiber_strain,
    peak_mtu_strain,
    peak_force,
    *,
    intensity_unit: Sequence[str],
    dose_unit: Sequence[str],
    dose_min,
    dose_max,
    dose_step,
    sprint_specificity,
    reference_peak_eccentric_fiber_strain: float,
    reference_peak_force: float,
    exposures_per_dose=None,
    max_velocity=None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build a drill metrics table (the contract in this module's docstring) and check it.

    Grid arguments are ``(n_drill, n_level)`` arrays (NaN where a drill has fewer levels);
    per-drill arguments are length ``n_drill``.
    """
    grid = np.asarray(intensity_value, dtype=float)
    if grid.ndim != 2 or grid.shape[0] != len(drills):
        raise InputError(
            f"intensity grid of shape {grid.shape}",
            field="intensity_value",
            expected=f"(n_drill={len(drills)}, n_level)",
        )
    dims = ("drill", "intensity")

    def g(values, name, default=None):
        if values is None:
            values = default
        arr = np.broadcast_to(np.asarray(values, dtype=float), grid.shape).copy()
        return xr.DataArray(arr, dims=dims, attrs={"long_name": name})

    ds = xr.Dataset(
        {
            "intensity_value": g(grid, "drill intensity at this level"),
            "peak_eccentric_fiber_strain": g(
                peak_eccentric_fiber_strain, "peak eccentric fibre strain of the injured muscle"
            ),
            "peak_mtu_strain": g(peak_mtu_strain, "peak MTU strain of the injured muscle"),
            "peak_force": g(peak_force, "peak force of the injured muscle"),
            "exposures_per_dose": g(exposures_per_dose, "loading cycles per dose unit", 1.0),
            "max_velocity": g(max_velocity, "counts as maximal-velocity sprinting", 0.0),
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
        },
        coords={"drill": list(drills), "intensity": np.arange(grid.shape[1])},
        attrs={
            "reference_peak_eccentric_fiber_strain": float(reference_peak_eccentric_fiber_strain),
            "reference_peak_force": float(reference_peak_force),
            **(attrs or {}),
        },
    )
    ds["peak_eccentric_fiber_strain"].attrs["units"] = "1"
    ds["peak_mtu_strain"].attrs["units"] = "1"
    ds["peak_force"].attrs["units"] = "N"
    ds["max_velocity"] = ds["max_velocity"].fillna(0).astype("int8")
    return check_metrics(ds)


_GRID_VARS = ("intensity_value", "peak_eccentric_fiber_strain", "peak_mtu_strain", "peak_force")
_DRILL_VARS = (
    "sprint_specificity",
    "intensity_unit",
    "dose_unit",
    "dose_min",
    "dose_max",
    "dose_step",
)


def check_metrics(ds: xr.Dataset, *, source: str | None = None) -> xr.Dataset:
    """Validate a metrics table; fill the optional variables. Returns the (possibly
    completed) dataset. Raises :class:`InputError` naming the variable."""
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
    for key in ("reference_peak_eccentric_fiber_strain", "reference_peak_force"):
        value = ds.attrs.get(key)
        if value is None or not float(value) > 0:
            raise InputError(
                f"{value!r}",
                path=source,
                field=f"attrs.{key}",
                expected="the uninjured value at maximal sprint speed, > 0",
            )
    if "exposures_per_dose" not in ds:
        ds = ds.assign(exposures_per_dose=xr.ones_like(ds["peak_force"]))
    if "max_velocity" not in ds:
        ds = ds.assign(max_velocity=xr.zeros_like(ds["peak_force"]).astype("int8"))
    ds = ds.transpose("drill", "intensity", ...)
    strain = ds["peak_eccentric_fiber_strain"].values
    for name in ("peak_force", "intensity_value"):
        mismatch = np.isfinite(strain) != np.isfinite(ds[name].values)
        if mismatch.any():
            i, k = np.argwhere(mismatch)[0]
            raise InputError(
                "present where peak_eccentric_fiber_strain is missing or vice versa",
                path=source,
                field=f"{name}[drill={ds.drill.values[i]!s}, intensity={k}]",
                expected="NaN in the same cells",
            )
    if np.any(ds["peak_force"].values[np.isfinite(strain)] < 0):
        raise InputError("negative force", path=source, field="peak_force", expected=">= 0 N")
    spec = ds["sprint_specificity"].values
    if np.any(~np.isfinite(spec)) or np.any((spec < 0) | (spec > 1)):
        raise InputError(
            "out of range", path=source, field="sprint_specificity", expected="in [0, 1]"
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
