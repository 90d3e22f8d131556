"""``simulate`` on the 9 m/s sprint: time per trial after compilation, and batch throughput.

All hamstring and calf muscles of both legs (14), compliant tendon, sprinting template, shipped
``sprinter_ja1``. Prints (1) the wall time of one ``simulate`` call after a first, compiling
call, split into the fibre solve and the rest (reading, geometry, gait events, dataset); (2) the
fibre solve for a batch of N trials at once (N parameter variants of the same trial, as in an
uncertainty sweep), as trials per second; (3) OpenSim's forward integration of the same 14
muscles' fibre states (one-muscle models along the same MTU lengths, accuracy 1e-6), as the
baseline. Run: ``python -m experiments.benchmark_simulate [--batch N] [--tiny]``.
"""

from __future__ import annotations

import argparse
import time as timer
import warnings

import numpy as np

TRIAL = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"
MUSCLES = ["hamstrings", "calf"]


def build(*, batch: int = 64, tiny: bool = False, seed: int = 0):
    from musclesim.core.io import shared_data_dir

    return {"motion": shared_data_dir() / TRIAL, "batch": 4 if tiny else batch, "seed": seed}


def run(inputs: dict) -> dict:
    import jax
    import jax.numpy as jnp

    from musclesim import solve_fiber
    from musclesim.pipeline.simulate import simulate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulate(
            "sprinter_ja1", inputs["motion"], muscles=MUSCLES, excitation="sprinting"
        )  # compile
        start = timer.perf_counter()
        ds = simulate("sprinter_ja1", inputs["motion"], muscles=MUSCLES, excitation="sprinting")
        one_trial = timer.perf_counter() - start
    time = ds["time"].values
    lengths = ds["mtu_length"].values  # (14, T)
    drive = ds["excitation"].values
    from musclesim.geometry.io import load_model

    params = load_model("sprinter_ja1").select(list(ds["muscle"].values)).parameters
    n = inputs["batch"]
    rng = np.random.default_rng(inputs["seed"])
    variants = params.replace(
        optimal_fiber_length=params.optimal_fiber_length
        * jnp.asarray(rng.uniform(0.9, 1.1, (n, 1))),
        tendon_slack_length=params.tendon_slack_length
        * jnp.asarray(rng.uniform(0.97, 1.03, (n, 1))),
    )

    def solve(p, count):
        sol = solve_fiber(
            p,
            time,
            np.broadcast_to(lengths, (count,) + lengths.shape),
            excitation=np.broadcast_to(drive, (count,) + drive.shape),
        )
        jax.block_until_ready(sol.fiber_length)

    start = timer.perf_counter()
    sol = solve_fiber(params, time, lengths, excitation=drive)
    jax.block_until_ready(sol.fiber_length)
    fibre_one = timer.perf_counter() - start
    solve(variants, n)  # compile the batch shape
    start = timer.perf_counter()
    solve(variants, n)
    batch_seconds = timer.perf_counter() - start
    out = {
        "one_trial_s": one_trial,
        "fibre_solve_one_trial_s": fibre_one,
        "batch": n,
        "batch_s": batch_seconds,
        "muscles": len(ds["muscle"]),
        "samples": len(time),
    }
    try:
        from musclesim.twins.muscle import opensim_compliant_trajectory

        start = timer.perf_counter()
        failed = []
        for i in range(lengths.shape[0]):
            try:
                opensim_compliant_trajectory(
                    params[i],
                    time,
                    lengths[i],
                    np.clip(ds["activation"].values[i], 0.0, 1.0),
                    accuracy=1e-6,
                    # musclesim's initial state: OpenSim's own equilibrium bisection fails
                    # for some of these muscles at the first sample (no sign change on [0, 5])
                    initial_norm_tendon_force=float(
                        ds["tendon_force"].values[i, 0] / params.max_isometric_force[i]
                    ),
                )
            except RuntimeError:  # explicit mode divides by a f_L: fails at low activation
                failed.append(str(ds["muscle"].values[i]))
        out["opensim_failed"] = failed
        out["opensim_trial_s"] = timer.perf_counter() - start
    except ImportError:
        pass
    return out


def report(r: dict) -> str:
    lines = [
        f"simulate, 9 m/s sprint, {r['muscles']} muscles x {r['samples']} samples, compliant:",
        f"  one trial after compilation: {r['one_trial_s']:.2f} s "
        f"(fibre solve {r['fibre_solve_one_trial_s']:.2f} s)",
        f"  batch of {r['batch']} trials: {r['batch_s']:.2f} s -> "
        f"{r['batch'] / r['batch_s']:.2f} trials/s "
        f"({r['batch'] * r['muscles'] * r['samples'] / r['batch_s']:,.0f} muscle-samples/s)",
    ]
    if "opensim_trial_s" in r:
        lines.append(
            f"  OpenSim Manager, same fibre states one muscle at a time: "
            f"{r['opensim_trial_s']:.2f} s per trial -> batch is "
            f"{r['opensim_trial_s'] * r['batch'] / r['batch_s']:.1f}x OpenSim's throughput"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    import jax

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    print(f"JAX devices: {jax.devices()}")
    print(report(run(build(batch=args.batch, tiny=args.tiny))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
