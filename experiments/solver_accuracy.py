"""Error of the fixed-step implicit fibre solver against a tight-tolerance reference.

Every shipped drill (three intensities across its range, the example athlete's injured
biceps femoris long head, its excitation template) and the four Dorn 2012 sprints of subject
JA1 (3.5, 5, 7 and 9 m/s; seven right hamstring and calf muscles, the sprinting excitation
template) are solved twice: by diffrax's adaptive Kvaerno5 at rtol 1e-9 / atol 1e-11 in
float64 (the reference) and by ``solve_fiber``'s ``"implicit"`` solver at several substep
counts, in float64 and in float32. Printed per trajectory set and solver setting, the worst
member's

* error of the peak fibre strain (|max strain - max reference strain|, absolute), and the
  largest fibre-strain error at any sample;
* largest tendon-force error as a fraction of that member's peak reference tendon force.

The acceptance bounds of the default solver are 2e-4 (peak fibre strain) and 0.1 % of peak
(tendon force). Run ``python -m experiments.solver_accuracy`` (``--tiny`` for two drills and
one sprint, a smoke run).
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

#: Reference solver settings: diffrax Kvaerno5 far tighter than the bounds being checked,
#: with a step limit that tolerance needs along the drills' long, sparsely sampled
#: trajectories (solve_fiber's default limit, 64 steps per sample, is for everyday
#: tolerances).
REFERENCE = dict(solver="accurate", rtol=1e-9, atol=1e-11, max_steps=500_000)
#: Acceptance bounds of the default solver (absolute fibre strain, fraction of peak force).
PEAK_STRAIN_BOUND = 2e-4
TENDON_FORCE_BOUND = 1e-3
SPRINT_MUSCLES = ("bflh_r", "bfsh_r", "semiten_r", "semimem_r", "gasmed_r", "gaslat_r", "soleus_r")
#: The example athlete of the shipped models (a grade 2 biceps femoris long head strain).
ATHLETE = "models/athletes/example_grade2_bflh.toml"


def _drill_cases(tiny: bool) -> dict:
    from musclesim.core.io import REPO_ROOT
    from musclesim.pipeline.evaluate import mtu_lengths
    from musclesim.training.athlete import load_athlete
    from musclesim.training.drills import load_drills
    from musclesim.training.rank import (
        RUNNING_SPEED_RANGE,
        athlete_model,
        drill_coordinates,
        drill_drive,
        intensity_grid,
    )

    am = athlete_model(load_athlete(REPO_ROOT / ATHLETE))
    drills = load_drills()
    names = sorted(drills)[:2] if tiny else sorted(drills)
    max_speed = min(am.max_speed, RUNNING_SPEED_RANGE[1])
    times, lengths, drives, labels = [], [], [], []
    for name in names:
        intensities = intensity_grid(drills[name], 1 if tiny else 3)
        time, q = drill_coordinates(am, name, intensities)
        length, _ = mtu_lengths(am.geometry, q, length_scale=am.length_scale)
        for k, x in enumerate(intensities):
            times.append(time[k])
            lengths.append(np.asarray(length)[k, 0])
            drives.append(drill_drive(am, name, x, time[k], max_speed=max_speed))
            labels.append(f"{name}@{x:g}")
    return {
        "name": f"{len(names)} drills x {len(labels) // len(names)} intensities (bflh_r)",
        "params": am.injured,
        "time": np.stack(times),
        "mtu_length": np.stack(lengths),
        "excitation": np.stack(drives),
        "labels": labels,
    }


def _sprint_cases(tiny: bool) -> list[dict]:
    from musclesim.core.io import shared_data_dir
    from musclesim.excitation.templates import template_for_speed
    from musclesim.geometry.io import load_model
    from musclesim.pipeline.simulate import simulate
    from validation._sprint_data import SPRINT_TRIALS

    data = shared_data_dir(required=False)
    if data is None:
        return []
    model = load_model("sprinter_ja1")
    params = model.select(list(SPRINT_MUSCLES)).parameters
    fastest = max(SPRINT_TRIALS)
    cases = []
    for speed in [fastest] if tiny else sorted(SPRINT_TRIALS):
        # The rigid tendon gives the MTU lengths and excitation without a compliant solve.
        ds = simulate(
            model,
            data / SPRINT_TRIALS[speed],
            excitation=template_for_speed(speed, max_speed=fastest),
            muscles=list(SPRINT_MUSCLES),
            tendon="rigid",
        )
        cases.append(
            {
                "name": f"sprint {speed:g} m/s ({len(SPRINT_MUSCLES)} muscles, "
                f"{ds.sizes['time']} samples)",
                "params": params,
                "time": ds["time"].values,
                "mtu_length": ds["mtu_length"].transpose("muscle", "time").values,
                "excitation": ds["excitation"].transpose("muscle", "time").values,
                "labels": list(SPRINT_MUSCLES),
            }
        )
    return cases


def build(*, tiny: bool = False) -> list[dict]:
    """The trajectory sets: the drill library (one batch) and one set per sprint speed."""
    return [_drill_cases(tiny), *_sprint_cases(tiny)]


def _solve(case: dict, dtype, **options):
    from musclesim import solve_fiber

    cast = lambda x: np.asarray(x, dtype=dtype)  # noqa: E731
    params = jax.tree.map(cast, case["params"])
    with jax.enable_x64(dtype == np.float64):
        sol = solve_fiber(
            params,
            cast(case["time"]),
            cast(case["mtu_length"]),
            excitation=cast(case["excitation"]),
            **options,
        )
        return np.asarray(sol.fiber_strain, float), np.asarray(sol.tendon_force, float)


def errors(strain, force, ref_strain, ref_force) -> dict:
    """Worst-member errors of one solution against the reference (arrays batch + (T,))."""
    peak = np.abs(strain.max(axis=-1) - ref_strain.max(axis=-1))
    pointwise = np.abs(strain - ref_strain).max(axis=-1)
    force_error = np.abs(force - ref_force).max(axis=-1) / np.abs(ref_force).max(axis=-1)
    worst = int(np.argmax(force_error))
    return {
        "peak_strain": float(peak.max()),
        "strain": float(pointwise.max()),
        "tendon_force": float(force_error.max()),
        "worst_force_member": worst,
        "finite": bool(np.all(np.isfinite(strain)) and np.all(np.isfinite(force))),
    }


def run(cases: list[dict], *, max_steps_ms=(4.0, 2.0, 1.0)) -> list[dict]:
    """Errors per trajectory set, longest step (substeps chosen as ``solve_fiber`` does for
    that ``MAX_STEP``) and dtype."""
    from musclesim.muscle.implicit import substeps_for

    rows = []
    for case in cases:
        ref_strain, ref_force = _solve(case, np.float64, **REFERENCE)
        spacing = float(np.diff(case["time"], axis=-1).max())
        for n in sorted({substeps_for(case["time"], 1e-3 * ms) for ms in max_steps_ms}):
            for dtype in (np.float64, np.float32):
                strain, force = _solve(case, dtype, solver="implicit", substeps=n)
                row = errors(strain, force, ref_strain, ref_force)
                row.update(
                    case=case["name"],
                    substeps=n,
                    step_ms=1e3 * spacing / n,
                    dtype=np.dtype(dtype).name,
                    worst_force_member=case["labels"][row["worst_force_member"]],
                )
                rows.append(row)
    return rows


def report(rows: list[dict]) -> str:
    lines = [
        "Implicit solver vs diffrax Kvaerno5 (rtol 1e-9, atol 1e-11, float64); bounds: peak "
        f"fibre strain {PEAK_STRAIN_BOUND:g}, tendon force {TENDON_FORCE_BOUND:.1%} of peak",
        f"{'trajectories':44s} {'substeps':>8s} {'step ms':>7s} {'dtype':>7s} {'peak strain':>11s} "
        f"{'strain':>9s} {'force/peak':>10s}  within  worst force member",
    ]
    for r in rows:
        ok = (
            r["finite"]
            and r["peak_strain"] <= PEAK_STRAIN_BOUND
            and r["tendon_force"] <= TENDON_FORCE_BOUND
        )
        lines.append(
            f"{r['case']:44s} {r['substeps']:8d} {r['step_ms']:7.2f} {r['dtype']:>7s} "
            f"{r['peak_strain']:11.2e} "
            f"{r['strain']:9.2e} {r['tendon_force']:10.2e}  {'yes' if ok else 'NO':6s}  "
            f"{r['worst_force_member']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="implicit fibre solver error vs a tight reference")
    parser.add_argument("--tiny", action="store_true", help="two drills and one sprint")
    parser.add_argument(
        "--max-step-ms",
        type=float,
        nargs="+",
        default=[4.0, 2.0, 1.0],
        help="longest implicit step(s) to measure (ms); substeps per interval follow",
    )
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    print(report(run(build(tiny=args.tiny), max_steps_ms=args.max_step_ms)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
