"""Throughput: static optimisation frames per second, musclesim (JAX) vs OpenSim's tool.

The work: the right leg of the 9 m/s sprint (Dorn 2012 JA1, ``run0900cms.mot``, 15 Hz
low-pass), frames of the right swing. OpenSim runs its ``AnalyzeTool`` with the
``StaticOptimization`` analysis on those frames (its wall time per frame, whole model: that is
the work its tool does for the job); musclesim solves the leg's problem (geometry surrogate,
rigid-tendon forces and the batched dual Newton solve, one ``jax.jit``) on the moments OpenSim
enforced, timed after compilation, for one trial of many frames and for a batch of trials
(the swing frames tiled). Without OpenSim (``--no-opensim``) the moments are those of a
random feasible activation pattern and only musclesim is timed.

Not identical work: OpenSim's tool solves the whole model each frame (80 muscles and 33
coordinate actuators, both legs, trunk and arms), musclesim the right leg's 40 muscles and 7
coordinates; solving both legs would take musclesim about twice as long per frame.

Run: ``python -m experiments.benchmark_static_opt [--frames 4096] [--trials 16]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

MOTION = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"
MODEL = "models/Sprinter_JA1_scaled.osim"
#: Kinematics low-pass cutoff (Hz), as in validation/static_optimization.py.
CUTOFF_HZ = 15.0
#: Reserve optimal force (N m), as in validation/static_optimization.py.
RESERVE_OPTIMAL_FORCE = 10.0


@dataclass
class Setup:
    model: object
    coordinates: tuple
    muscles: tuple
    q: dict  # coordinate -> [frame]
    qdot: dict
    moments: np.ndarray  # [frame, coordinate]
    n_frames: int
    n_trials: int
    opensim_frames_per_s: float | None


def build(
    n_frames: int = 4096,
    n_trials: int = 16,
    *,
    opensim: bool = True,
    opensim_frames: int = 40,
    seed: int = 0,
    geometry: str = "sprinter_ja1",
) -> Setup:
    """Swing frames of the sprint (in the geometry fit's domain), their moments, and
    OpenSim's Static Optimization timed on the first ``opensim_frames`` of them. ``geometry``:
    the fitted geometry (a shipped name or a file of ``Sprinter_JA1_scaled.osim``, e.g. an
    earlier version to compare with)."""
    import jax.numpy as jnp

    import musclesim as ms
    from musclesim.core.io import shared_data_dir
    from musclesim.dynamics.static_opt import (
        crossing_muscles,
        leg_coordinates,
        rigid_tendon_forces,
    )

    data = shared_data_dir()
    motion = ms.motion_derivatives(ms.filter_motion(ms.read_motion(data / MOTION), CUTOFF_HZ))
    events = ms.detect_events(motion, side="r")
    toe_off = float(events.toe_off[0])
    strike = float(next(t for t in events.foot_strike if t > toe_off))
    model = ms.load_model(geometry)
    coords = leg_coordinates(model, "r")
    muscles = crossing_muscles(model, coords)
    selected = model.select(muscles)
    t = motion["time"].values
    swing = np.flatnonzero((t >= toe_off) & (t <= strike))
    q_all = {
        c: jnp.asarray(motion["q"].sel(coordinate=c).values[swing]) for c in selected.coordinates
    }
    inside = np.asarray(selected.in_domain(q_all)).all(axis=-1)
    frames = swing[inside]
    q = {c: motion["q"].sel(coordinate=c).values[frames] for c in selected.coordinates}
    qd = {c: motion["qdot"].sel(coordinate=c).values[frames] for c in selected.coordinates}
    rate = None
    if opensim:
        from musclesim.twins.static_opt import opensim_enforced_moments, opensim_static_optimization

        k = min(opensim_frames, frames.size)
        ref = opensim_static_optimization(
            data / MODEL,
            motion,
            reserve_coordinates=coords,
            reserve_optimal_force=RESERVE_OPTIMAL_FORCE,
            residual_optimal_force=1.0e3,
            start_time=float(t[frames[0]]),
            end_time=float(t[frames[k - 1]]),
        )
        rate = ref.attrs["frames"] / ref.attrs["wall_time_s"]
        tau, _ = opensim_enforced_moments(data / MODEL, motion, ref, coords, muscles=muscles)
        keep = np.searchsorted(ref["time"].values, t[frames[:k]])
        q = {c: v[:k] for c, v in q.items()}
        qd = {c: v[:k] for c, v in qd.items()}
        moments = tau[keep]
    else:
        lengths, arms = selected.mtu_length_and_moment_arm(
            {c: jnp.asarray(v) for c, v in q.items()}
        )
        velocity = -np.einsum(
            "tmk,tk->tm", arms, np.stack([qd[c] for c in selected.coordinates], -1)
        )
        active, _ = rigid_tendon_forces(selected.parameters, lengths, jnp.asarray(velocity))
        a = np.random.default_rng(seed).uniform(0.0, 0.5, np.shape(active))
        cols = [selected.coordinates.index(c) for c in coords]
        moments = np.einsum("tmj,tm->tj", np.asarray(arms)[..., cols], a * np.asarray(active))
    return Setup(model, coords, muscles, q, qd, moments, n_frames, n_trials, rate)


def _tile(x: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // x.shape[0])
    return np.concatenate([x] * reps, axis=0)[:n]


def run(setup: Setup, *, repeats: int = 3) -> dict:
    """Frames per second: one trial of ``n_frames`` frames, and ``n_trials`` trials of
    ``n_frames // n_trials`` frames each; and OpenSim's, with the ratios."""
    import jax
    import jax.numpy as jnp

    from musclesim.dynamics.static_opt import (
        static_optimization,
    )

    @jax.jit
    def solve(model, q, qd, tau):
        result = static_optimization(
            model,
            q,
            qd,
            tau,
            coordinates=setup.coordinates,
            muscles=setup.muscles,
            reserve_optimal_force=RESERVE_OPTIMAL_FORCE,
            on_failure="flag",
        )
        return result.activation, result.solution.converged

    def timed(shape):
        n = int(np.prod(shape))
        q = {c: jnp.asarray(_tile(v, n).reshape(shape)) for c, v in setup.q.items()}
        qd = {c: jnp.asarray(_tile(v, n).reshape(shape)) for c, v in setup.qdot.items()}
        tau = jnp.asarray(_tile(setup.moments, n).reshape(shape + (len(setup.coordinates),)))
        _, ok = jax.block_until_ready(solve(setup.model, q, qd, tau))  # compile
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(solve(setup.model, q, qd, tau))
            best = min(best, time.perf_counter() - t0)
        return n / best, bool(np.all(np.asarray(ok)))

    per_trial = max(setup.n_frames // setup.n_trials, 1)
    frames_rate, ok1 = timed((setup.n_frames,))
    trials_rate, ok2 = timed((setup.n_trials, per_trial))
    out = {
        "muscles": len(setup.muscles),
        "coordinates": len(setup.coordinates),
        "frames": setup.n_frames,
        "trials": setup.n_trials,
        "frames_per_trial": per_trial,
        "musclesim_frames_per_s": frames_rate,
        "musclesim_trials_frames_per_s": trials_rate,
        "all_converged": ok1 and ok2,
        "device": str(jax.devices()[0]),
    }
    if setup.opensim_frames_per_s is not None:
        out["opensim_frames_per_s"] = setup.opensim_frames_per_s
        out["ratio"] = frames_rate / setup.opensim_frames_per_s
        out["ratio_trials"] = trials_rate / setup.opensim_frames_per_s
    return out


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4096)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--opensim-frames", type=int, default=40)
    parser.add_argument("--no-opensim", action="store_true")
    parser.add_argument(
        "--geometry", default="sprinter_ja1", help="fitted geometry (name or .nc of the sprinter)"
    )
    args = parser.parse_args(argv)
    setup = build(
        args.frames,
        args.trials,
        opensim=not args.no_opensim,
        opensim_frames=args.opensim_frames,
        geometry=args.geometry,
    )
    r = run(setup)
    print(
        f"right leg of Sprinter JA1: {r['muscles']} muscles, {r['coordinates']} coordinates, "
        f"float64, {r['device']}"
    )
    print(f"musclesim, 1 trial x {r['frames']} frames: {r['musclesim_frames_per_s']:,.0f} frames/s")
    print(
        f"musclesim, {r['trials']} trials x {r['frames_per_trial']} frames: "
        f"{r['musclesim_trials_frames_per_s']:,.0f} frames/s"
    )
    print(f"all frames converged: {r['all_converged']}")
    if "ratio" in r:
        print(f"OpenSim Static Optimization tool: {r['opensim_frames_per_s']:,.2f} frames/s")
        print(
            f"ratio musclesim / OpenSim: {r['ratio']:,.0f} x (frames), "
            f"{r['ratio_trials']:,.0f} x (trials)"
        )
    return 0 if r["all_converged"] else 1


if __name__ == "__main__":
    sys.exit(main())
