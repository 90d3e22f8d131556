"""Wall time of a drill-safety table build: every drill x 10 intensities x 50 profiles.

Prints the wall and CPU time of :func:`musclesim.build_table` for the example athlete (shipped drill
library, 10 intensities, 50 profiles: the default of ``musclesim table build``), in this process
and including its compilation (with the persistent compilation cache as
``enable_compilation_cache`` finds it; ``MUSCLESIM_JAX_CACHE=off`` for a build that compiles
everything), and beside it the figure the same build took before the evaluations were stacked
into batched tasks: 331-364 s on the 2-core CPU machine, 86 % in ``solve_fiber`` (the tracker's
"Speed where users feel it" issue, measured with the diffrax Kvaerno5 default, one batched
evaluation per drill). With ``--workers N`` it also builds the table on a local
``dask.distributed`` cluster of N worker processes and says whether the two tables are
identical. Run: ``python -m experiments.benchmark_tables [--profiles 50] [--intensities 10]
[--workers N] [--tiny]``.
"""

from __future__ import annotations

import argparse
import datetime
import time as timer
import warnings

import numpy as np

from experiments._vectors import use_command_line_vectors

ATHLETE = "models/athletes/example_grade2_bflh.toml"
#: Before batching, on the 2-core CPU machine (the tracker issue's own measurement).
BEFORE_S = (331.0, 364.0)


def build(*, n_intensities: int = 10, n_profiles: int = 50, workers: int = 0, tiny=False):
    from musclesim.core.io import REPO_ROOT
    from musclesim.training.athlete import load_athlete

    athlete = load_athlete(REPO_ROOT / ATHLETE, today=datetime.date(2026, 11, 23))
    return {
        "athlete": athlete,
        "names": ["running", "nordic_hamstring"] if tiny else None,
        "n_intensities": 2 if tiny else n_intensities,
        "n_profiles": 2 if tiny else n_profiles,
        "workers": workers,
    }


def _identical(a, b) -> bool:
    return all(
        a[k].values.tobytes() == b[k].values.tobytes()
        if a[k].dtype.kind == "f"
        else np.array_equal(a[k].values, b[k].values)
        for k in a.data_vars
    )


def run(inputs: dict) -> dict:
    from musclesim.training.tables import build_table

    kwargs = {k: inputs[k] for k in ("names", "n_intensities", "n_profiles")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # poses at the edge of the geometry's fit domain
        start, cpu = timer.perf_counter(), timer.process_time()
        table = build_table(inputs["athlete"], progress=True, **kwargs)
        seconds, cpu = timer.perf_counter() - start, timer.process_time() - cpu
    result = {"seconds": seconds, "cpu_seconds": cpu, "shape": dict(table.sizes)}
    if inputs["workers"]:
        from dask.distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=inputs["workers"], threads_per_worker=1, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            start = timer.perf_counter()
            other = build_table(inputs["athlete"], progress=True, scheduler=client, **kwargs)
            result["distributed_seconds"] = timer.perf_counter() - start
        result["identical"] = _identical(table, other)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intensities", type=int, default=10)
    parser.add_argument("--profiles", type=int, default=50)
    parser.add_argument("--workers", type=int, default=0, help="also on a LocalCluster")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    import jax

    from musclesim import enable_compilation_cache

    use_command_line_vectors()
    jax.config.update("jax_enable_x64", True)  # as the command line computes
    cache = enable_compilation_cache()
    r = run(
        build(
            n_intensities=args.intensities,
            n_profiles=args.profiles,
            workers=args.workers,
            tiny=args.tiny,
        )
    )
    s = r["shape"]
    print(
        f"table build {s['drill']} drills x {s['intensity']} intensities x {s['profile']} "
        f"profiles: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU (all threads; "
        f"compilation included; cache {cache})"
    )
    print(
        f"  before batching (tracker issue, 21 x 10 x 50, 2-core CPU): "
        f"{BEFORE_S[0]:.0f}-{BEFORE_S[1]:.0f} s"
    )
    if "distributed_seconds" in r:
        print(
            f"  on a LocalCluster of {args.workers} worker processes: "
            f"{r['distributed_seconds']:.1f} s; identical to the single-process table: "
            f"{r['identical']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
