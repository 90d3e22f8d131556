"""The drill metrics table the planner reads: one variable per criterion, strict checks that
name the variable and the cell."""

import numpy as np
import pytest
import xarray as xr

from musclesim import InputError
from musclesim.training.criteria import CRITERION_NAMES
from musclesim.training.plan.metrics import check_metrics, load_metrics, metrics_table


def _table(**changes):
    grid = np.array([[1.0, 2.0, 3.0], [0.5, 1.0, np.nan]])
    rising = grid / 3.0  # every criterion grows with intensity; NaN pads the short drill
    args = dict(
        drills=["walking", "nordic_hamstring"],
        intensity_value=grid,
        criteria={c: rising for c in CRITERION_NAMES},
        loads_muscle=np.array([[1, 1, 1], [1, 1, 1]]),
        intensity_unit=["m/s", "1"],
        dose_unit=["m", "reps"],
        dose_min=[100.0, 3.0],
        dose_max=[1000.0, 18.0],
        dose_step=[100.0, 3.0],
        sprint_specificity=[0.1, 0.3],
        category=["walking", "strength"],
        references={c: 1.0 for c in CRITERION_NAMES},
    )
    args.update(changes)
    return metrics_table(**args)


def test_table_carries_every_criterion_with_units_and_reference():
    ds = _table()
    for c in CRITERION_NAMES:
        assert ds[c].dims == ("drill", "intensity") and ds[c].attrs["units"]
        assert ds.attrs[f"reference_{c}"] == 1.0
    assert ds["active_negative_work"].attrs["units"] == "J"
    assert ds["loads_muscle"].dtype == np.int8
    assert ds["loads_muscle"].values[1, 2] == 0  # padding never loads the muscle
    assert ds.attrs["criteria"].split(",") == list(CRITERION_NAMES)
    np.testing.assert_array_equal(ds["exposures_per_dose"].values[0], 1.0)


def test_round_trip_through_netcdf(tmp_path):
    path = tmp_path / "metrics.nc"
    _table().to_netcdf(path)
    back = load_metrics(path)
    xr.testing.assert_allclose(back["active_stretch"], _table()["active_stretch"])


def test_missing_criterion_and_reference_are_named():
    crit = {c: np.zeros((2, 3)) for c in CRITERION_NAMES if c != "peak_force"}
    with pytest.raises(InputError, match="peak_force"):
        _table(criteria=crit)
    ds = _table()
    del ds.attrs["reference_active_stretch"]
    with pytest.raises(InputError, match="reference_active_stretch"):
        check_metrics(ds)


def test_nan_inside_an_existing_level_is_refused_with_its_cell():
    work = np.array([[0.1, np.nan, 0.3], [0.1, 0.2, np.nan]])
    crit = {c: np.ones((2, 3)) * [[1, 1, 1], [1, 1, np.nan]] for c in CRITERION_NAMES}
    crit["active_negative_work"] = work
    with pytest.raises(InputError, match=r"active_negative_work\[drill=walking, intensity=1\]"):
        _table(criteria=crit)


def test_negative_magnitude_refused_but_negative_strains_allowed():
    crit = {c: np.ones((2, 3)) * [[1, 1, 1], [1, 1, np.nan]] for c in CRITERION_NAMES}
    crit["end_range_length"] = -0.02 * crit["end_range_length"]
    crit["active_stretch"] = -0.1 * crit["active_stretch"]
    _table(criteria=crit)  # a fibre or musculotendon unit shorter than its reference length
    crit["peak_force"] = -crit["peak_force"]
    with pytest.raises(InputError, match="peak_force"):
        _table(criteria=crit)


def test_unknown_category_is_refused():
    with pytest.raises(InputError, match="category"):
        _table(category=["walking", "yoga"])
