"""Drill-safety lookup tables at a tiny size: build, lookup from the file, HTML export."""

import datetime
import warnings

import numpy as np
import pytest

from musclesim import InputError


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    import xarray as xr

    from musclesim.core.io import REPO_ROOT, write_netcdf_atomic
    from musclesim.training.athlete import load_athlete
    from musclesim.training.tables import build_table

    athlete = load_athlete(
        REPO_ROOT / "models/athletes/example_grade2_bflh.toml", today=datetime.date(2026, 11, 25)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = build_table(
            athlete,
            names=["running", "nordic_hamstring", "askling_glider"],
            n_intensities=3,
            n_profiles=3,
            progress=False,
        )
    path = tmp_path_factory.mktemp("table") / "table.nc"
    write_netcdf_atomic(built, path)
    return xr.load_dataset(path)


def test_table_layout_and_monotone_running(table):
    ecc = table["peak_eccentric_fiber_strain"]
    assert ecc.dims == ("drill", "intensity", "profile") and ecc.shape == (3, 3, 3)
    assert np.all(np.isfinite(ecc.sel(drill="running")))
    # faster running strains the injured fibres more, for every profile
    assert np.all(np.diff(ecc.sel(drill="running").values, axis=0) > 0)
    # a longer Askling glide strains them more too
    assert np.all(np.diff(ecc.sel(drill="askling_glider").values, axis=0) > 0)
    assert table.attrs["muscle"] == "bflh_r" and table.attrs["model_source_sha256"]


def test_lookup_answers_from_the_file(table):
    from musclesim.training.tables import lookup

    grid = table["intensity_value"].sel(drill="running").values
    at_node = lookup(table, "running", float(grid[1]), profile=1, days_since_injury=10)
    stored = float(table["peak_eccentric_fiber_strain"].sel(drill="running", profile=1)[1])
    assert at_node["peak_eccentric_fiber_strain"] == pytest.approx(stored, rel=1e-12)
    assert at_node["safe"] == (
        at_node["margin"] >= 0 and at_node["peak_force"] <= at_node["force_limit"]
    )
    late = lookup(table, "running", float(grid[1]), profile=1, days_since_injury=60)
    assert late["limit"] >= at_node["limit"]  # the limit rises with days since injury
    with pytest.raises(InputError, match="unknown drill"):
        lookup(table, "moonwalk", 1.0, days_since_injury=10)
    with pytest.raises(InputError, match="outside the table"):
        lookup(table, "running", 12.0, days_since_injury=10)


def test_html_export_is_self_contained(table, tmp_path):
    from musclesim.training.tables import export_html

    page = export_html(table, tmp_path / "t.html", days=(7, 28)).read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "running" in page and "day 28" in page


def test_safe_shares_equal_one_lookup_per_profile(table, tmp_path):
    """The vectorised HTML shares make exactly lookup's decision for every cell."""
    from musclesim.training.tables import export_html, lookup, safe_shares

    days = (3, 10, 28)
    for grade in (None, "1a"):
        shares = safe_shares(table, grade=grade, days=days)
        for drill in table["drill"].values:
            grid = table["intensity_value"].sel(drill=drill).values
            for k, x in enumerate(grid):
                for i, d in enumerate(days):
                    ok = [
                        lookup(
                            table,
                            str(drill),
                            float(x),
                            profile=int(p),
                            days_since_injury=d,
                            grade=grade,
                        )["safe"]
                        for p in table["profile"].values
                    ]
                    assert shares.sel(drill=drill).values[k, i] == float(np.mean(ok))
    page = export_html(table, tmp_path / "t.html", days=days).read_text()
    shares = safe_shares(table, days=days)
    for value in shares.values.ravel():
        assert f"{value * 100:.0f} %</td>" in page
