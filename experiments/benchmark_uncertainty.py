"""Monte Carlo throughput: ``--samples`` samples x ``--drills`` drills at their default settings
on the CPU (the issue's size: 1,000 x 21).

Times :func:`musclesim.training.uncertainty.monte_carlo` for the example grade-2b BFLH athlete:
every drill at its default settings plus the seven reference runs of each sample (the running
envelope the limits scale with), in chunks of ``--chunk`` evaluations. One chunk is evaluated
first to compile the solver (its time is reported apart), then the whole run is timed: wall
and process CPU time, muscle-samples per second (drill evaluations and all evaluations, the
references included) and, for a reduced run, the time of the full size extrapolated linearly
in the number of samples (the work is a fixed number of equal chunks per sample count, so it
scales linearly; the extrapolation is printed as such, not as a measurement).

Run: ``python -m experiments.benchmark_uncertainty [--samples 1000] [--drills 21]``;
``--samples 4 --drills 1`` is the tiny size the tests run.
"""

from __future__ import annotations

import argparse
import json
import time as timer

from experiments._vectors import use_command_line_vectors

ATHLETE = "models/athletes/example_grade2_bflh.toml"
#: The issue's size.
FULL_SAMPLES, FULL_DRILLS = 1000, 21


def build(*, samples: int = FULL_SAMPLES, drills: int = FULL_DRILLS, chunk: int = 64) -> dict:
    """The athlete's model and the first ``drills`` drills of the library (sorted by name) at
    their default settings."""
    from musclesim.core.io import REPO_ROOT
    from musclesim.training.athlete import load_athlete
    from musclesim.training.drills import load_drills
    from musclesim.training.rank import Case, athlete_model

    athlete = load_athlete(REPO_ROOT / ATHLETE)
    library = load_drills()
    names = sorted(library)[:drills]
    cases = []
    for name in names:
        d = library[name]
        cases.append(
            Case(d, float(d.intensity.default), tuple(sorted(d.check_settings(None).items())))
        )
    return {
        "am": athlete_model(athlete),
        "library": library,
        "cases": cases,
        "samples": int(samples),
        "chunk": int(chunk),
    }


def run(inputs: dict, *, progress: bool = False) -> dict:
    """Compile on one chunk, then time the whole Monte Carlo."""
    from musclesim.training.rank import GRID_POINTS
    from musclesim.training.uncertainty import monte_carlo

    am, library, cases = inputs["am"], inputs["library"], inputs["cases"]
    n, chunk = inputs["samples"], inputs["chunk"]
    start = timer.perf_counter()
    monte_carlo(am, cases[:1], 2, drills=library, chunk=chunk)
    compile_s = timer.perf_counter() - start
    start, clock = timer.perf_counter(), timer.process_time()
    result = monte_carlo(am, cases, n, drills=library, chunk=chunk, progress=progress)
    wall, cpu = timer.perf_counter() - start, timer.process_time() - clock
    evaluations = (len(cases) + GRID_POINTS) * n
    out = {
        "drills": len(cases),
        "samples": n,
        "chunk": chunk,
        "compile_and_first_chunks_s": compile_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "drill_samples_per_s": len(cases) * n / wall,
        "evaluations_per_s": evaluations / wall,
        "evaluations": evaluations,
        "finite": bool(all((v == v).all() for v in result.values.values())),
    }
    if (n, len(cases)) != (FULL_SAMPLES, FULL_DRILLS):
        full = (FULL_DRILLS + GRID_POINTS) * FULL_SAMPLES
        out["extrapolated_full_wall_s"] = wall * full / evaluations
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=FULL_SAMPLES)
    parser.add_argument("--drills", type=int, default=FULL_DRILLS)
    parser.add_argument("--chunk", type=int, default=64, help="evaluations per batched call")
    args = parser.parse_args(argv)
    use_command_line_vectors()
    result = run(build(samples=args.samples, drills=args.drills, chunk=args.chunk), progress=True)
    print(json.dumps(result, indent=1))
    if "extrapolated_full_wall_s" in result:
        print(
            f"extrapolated (linear in evaluations, not measured): {FULL_SAMPLES} samples x "
            f"{FULL_DRILLS} drills in about {result['extrapolated_full_wall_s'] / 60:.1f} min"
        )
    return 0 if result["finite"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
