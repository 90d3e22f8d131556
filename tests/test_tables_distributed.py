"""Table builds on a dask.distributed cluster write the single-process table, bit for bit, and no
table cell is NaN."""

import datetime
import warnings

import numpy as np
import pytest
import xarray as xr

from musclesim.core.io import REPO_ROOT
from musclesim.training.athlete import load_athlete
from musclesim.training.tables import PROFILES_PER_TASK, STATUS_WORDS, build_table

ATHLETE = REPO_ROOT / "models/athletes/example_grade2_bflh.toml"
#: running lengthens the injured BFlh while active; a double-leg calf raise barely involves it
DRILLS = ["running", "calf_raise_double"]
#: more profiles than one task holds, so the build is cut into two tasks (the second padded)
N_PROFILES = PROFILES_PER_TASK + 1


@pytest.fixture(scope="module")
def athlete():
    return load_athlete(ATHLETE, today=datetime.date(2026, 11, 25))


@pytest.fixture(scope="module")
def single(athlete):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # poses at the edge of the geometry's fit domain
        return build_table(
            athlete, names=DRILLS, n_intensities=2, n_profiles=N_PROFILES, progress=False
        )


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def _assert_identical(a: xr.Dataset, b: xr.Dataset):
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if x.dtype.kind == "f":
            # bit for bit: equal bytes, not merely close numbers
            assert x.tobytes() == y.tobytes(), name
        else:
            assert np.array_equal(x, y), name
    assert a.attrs == b.attrs


def test_the_command_line_on_a_cluster_writes_the_single_process_table(single, cluster, tmp_path):
    from musclesim.cli import main

    out = tmp_path / "table.nc"
    argv = ["table", "build", "--athlete", str(ATHLETE), "--drills", *DRILLS]
    argv += ["--intensities", "2", "--profiles", str(N_PROFILES), "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    written = xr.load_dataset(out)
    assert written.attrs.pop("build_seconds") > 0
    # the command refuses poses outside the fitted geometry by default (none here), the API
    # warns: the policy's own attributes differ, every number is the same
    assert written.attrs["out_of_domain_policy"] == "refuse"
    for name in ("out_of_domain", "out_of_domain_policy"):
        written.attrs[name] = single.attrs[name]
    _assert_identical(single, written)


def test_the_api_with_a_client_gives_the_same_table(athlete, single, cluster):
    from dask.distributed import Client

    with Client(cluster) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        distributed = build_table(
            athlete,
            names=DRILLS,
            n_intensities=2,
            n_profiles=N_PROFILES,
            progress=False,
            scheduler=client,
        )
    _assert_identical(single, distributed)


def test_every_cell_is_a_number_or_a_word(single):
    for name, var in single.data_vars.items():
        if var.dtype.kind == "f":
            assert np.all(np.isfinite(var.values)), name
    assert set(np.unique(single["status"].values)) <= set(STATUS_WORDS)
    running = single["status"].sel(drill="running").values
    assert np.all(running == STATUS_WORDS[0])
    # where the fibres do not lengthen while active the eccentric strain is 0, and the status
    # says which of the two other cases it is
    quiet = single["status"].values != STATUS_WORDS[0]
    assert np.all(single["peak_eccentric_fiber_strain"].values[quiet] == 0.0)
    loads = single["loads_muscle"].values
    assert np.all(loads[single["status"].values == STATUS_WORDS[2]] == 0)


def test_the_table_holds_the_tissue_load_criteria(single):
    from musclesim.training.criteria import CRITERIA

    for c in CRITERIA:
        assert single[c.name].dims == ("drill", "intensity", "profile")
        assert single[c.name].attrs["units"] == c.unit
    # the criteria of the running drill grow with speed for every profile
    stretch = single["active_stretch"].sel(drill="running").values
    assert np.all(np.diff(stretch, axis=0) > 0)


def test_benchmark_runs_at_tiny_size():
    from experiments.benchmark_tables import build, run

    result = run(build(tiny=True))
    assert result["shape"] == {"drill": 2, "intensity": 2, "profile": 2}
    assert result["seconds"] > 0 and result["cpu_seconds"] > 0
