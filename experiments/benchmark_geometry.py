"""Throughput: MTU lengths + moment arms per second, JAX surrogate vs OpenSim's own loop.

The surrogate evaluates ``mtu_length_and_moment_arm`` (lengths and moment arms of every muscle
about every coordinate it crosses) and ``mtu_length`` (lengths alone) for a batch of random
poses inside the fitted domain, jit-compiled, timed after warm-up. OpenSim runs the loop of
../shared/data/SOURCES.md 3.2 in the same process, twice: set every coordinate,
``realizePosition``, ``Muscle.getLength`` for every muscle (lengths only), and the same outputs
as the surrogate's first call, lengths plus ``computeMomentArm`` of every muscle about every
coordinate it crosses (on fewer poses, ``--opensim-arm-poses``: it is slow). Three ratios
follow: like for like (lengths and moment arms; lengths alone), and the surrogate's lengths
and moment arms against OpenSim's lengths alone (the surrogate doing more work).

It also evaluates both along the 9 m/s sprint (``run0900cms.mot`` of Dorn et al. 2012, the
sprinter's own trial) in float64 and in float32 (JAX's default, what accelerators run fastest)
and prints the largest difference of lengths and moment arms between the two, and the float32
throughput.

Run: ``python -m experiments.benchmark_geometry [--model sprinter_ja1] [--poses 4096]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._vectors import use_command_line_vectors
from musclesim import load_model, muscle_group
from musclesim.core.io import shared_data_dir
from musclesim.motion.read import read_motion


@dataclass
class Setup:
    model: object
    poses: dict
    n_opensim: int
    sampler: object | None
    n_opensim_arms: int = 0


def build(
    model_name: str = "sprinter_ja1",
    n_poses: int = 4096,
    n_opensim: int = 2000,
    *,
    opensim: bool = True,
    seed: int = 0,
    n_opensim_arms: int = 100,
    groups: tuple[str, ...] = (),
) -> Setup:
    """Load the model (restricted to the muscles of ``groups``, e.g. ``("hamstrings_r",
    "calf_r")``, when given), draw random poses inside every muscle's domain, open OpenSim."""
    model = load_model(model_name)
    if groups:
        model = model.select([m for g in groups for m in muscle_group(g, model.muscles)])
    lo = np.asarray(model.domain_lower)
    hi = np.asarray(model.domain_upper)
    lo = np.nanmax(np.where(np.isfinite(lo), lo, np.nan), axis=0)
    hi = np.nanmin(np.where(np.isfinite(hi), hi, np.nan), axis=0)
    rng = np.random.default_rng(seed)
    # Draw poses in the box every muscle shares, keep those outside every excluded region
    # (so that no domain warning is timed).
    draw = {
        c: jnp.asarray(rng.uniform(lo[k], hi[k], 4 * n_poses))
        for k, c in enumerate(model.coordinates)
    }
    keep = np.flatnonzero(np.all(np.asarray(model.in_domain(draw)), axis=-1))[:n_poses]
    poses = {c: v[keep] for c, v in draw.items()}
    sampler = None
    if opensim:
        from musclesim.geometry.fitting.fit import OpenSimSampler  # needs the opensim extra

        sampler = OpenSimSampler(shared_data_dir() / "models" / model.source_file)
    return Setup(model, poses, n_opensim, sampler, n_opensim_arms)


def run(setup: Setup, *, repeats: int = 5) -> dict:
    """Poses per second for both, and their ratio."""
    model = setup.model

    @jax.jit
    def both(m, q):
        return m.mtu_length_and_moment_arm(q)

    @jax.jit
    def lengths(m, q):
        return m.mtu_length(q)

    jax.block_until_ready(both(model, setup.poses))  # compile
    jax.block_until_ready(lengths(model, setup.poses))
    n = len(next(iter(setup.poses.values())))
    k = min(setup.n_opensim, n)
    sub = {c: np.asarray(v[:k]) for c, v in setup.poses.items()}
    # Interleaved rounds, the best of each (the machine is shared: a round of one that meets
    # a busy spell is not the one that counts); wall time, and CPU time of every thread.
    best = {
        key: (np.inf, np.inf)
        for key in ("surrogate", "surrogate_lengths", "opensim", "opensim_arms")
    }
    # the coordinates each muscle crosses: where its surrogate moment arm is not zero
    arms = np.asarray(both(model, {c: v[:16] for c, v in setup.poses.items()})[1])
    crossed = {
        m: [c for k, c in enumerate(model.coordinates) if np.any(arms[:, i, k] != 0.0)]
        for i, m in enumerate(model.muscles)
    }
    k_arms = min(setup.n_opensim_arms, n)
    sub_arms = {c: np.asarray(v[:k_arms]) for c, v in setup.poses.items()}

    def timed(key: str, work, count: int) -> None:
        """Run ``work`` once; keep the best wall and CPU seconds per pose of ``key``."""
        t0, c0 = time.perf_counter(), time.process_time()
        work()
        t1, c1 = time.perf_counter() - t0, time.process_time() - c0
        best[key] = (min(best[key][0], t1 / count), min(best[key][1], c1 / count))

    for _ in range(repeats):
        timed("surrogate", lambda: jax.block_until_ready(both(model, setup.poses)), n)
        timed("surrogate_lengths", lambda: jax.block_until_ready(lengths(model, setup.poses)), n)
        if setup.sampler is not None:
            timed("opensim", lambda: setup.sampler.lengths(sub, list(model.muscles)), k)
            if k_arms:
                timed(
                    "opensim_arms",
                    lambda: setup.sampler.lengths_and_moment_arms(sub_arms, crossed),
                    k_arms,
                )
    out = {
        "model": model.name,
        "muscles": len(model.muscles),
        "coordinates": len(model.coordinates),
        "poses": n,
        "surrogate_poses_per_s": 1.0 / best["surrogate"][0],
        "surrogate_poses_per_cpu_s": 1.0 / best["surrogate"][1],
        "surrogate_lengths_poses_per_s": 1.0 / best["surrogate_lengths"][0],
        "device": str(jax.devices()[0]),
    }
    if setup.sampler is not None:
        out["opensim_poses_per_s"] = 1.0 / best["opensim"][0]
        out["opensim_poses_per_cpu_s"] = 1.0 / best["opensim"][1]
        out["ratio"] = out["surrogate_poses_per_s"] / out["opensim_poses_per_s"]
        out["lengths_ratio"] = out["surrogate_lengths_poses_per_s"] / out["opensim_poses_per_s"]
        out["cpu_ratio"] = out["surrogate_poses_per_cpu_s"] / out["opensim_poses_per_cpu_s"]
        if k_arms:
            out["opensim_arms_poses_per_s"] = 1.0 / best["opensim_arms"][0]
            out["arms_ratio"] = out["surrogate_poses_per_s"] / out["opensim_arms_poses_per_s"]
            out["arm_pairs"] = sum(len(v) for v in crossed.values())
    return out


SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"


def _sprint_poses(model) -> dict:
    """The 9 m/s sprint's coordinates (rad) as numpy arrays, one per model coordinate."""
    motion = read_motion(shared_data_dir() / SPRINT)
    names = [str(c) for c in motion["coordinate"].values]
    q = np.asarray(motion["q"].values, dtype=np.float64)
    return {c: q[:, names.index(c)] for c in model.coordinates}


def _evaluate(model_name: str, q: dict) -> tuple[np.ndarray, np.ndarray]:
    """Lengths and moment arms at poses ``q`` in JAX's current default precision."""
    model = load_model(model_name)
    poses = {c: jnp.asarray(v) for c, v in q.items()}
    lengths, arms = jax.jit(lambda m, p: m.mtu_length_and_moment_arm(p))(model, poses)
    return np.asarray(lengths, dtype=np.float64), np.asarray(arms, dtype=np.float64)


def precision(model_name: str = "sprinter_ja1", setup: Setup | None = None) -> dict:
    """Lengths and moment arms along the 9 m/s sprint in float64 and float32: the largest
    absolute differences (m; m/rad), the muscle where each occurs, and, with ``setup``, the
    float32 throughput on its poses. Switches JAX's x64 flag and restores it."""
    was_x64 = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        model = load_model(model_name)
        q = _sprint_poses(model)
        l64, a64 = _evaluate(model_name, q)
        jax.config.update("jax_enable_x64", False)
        l32, a32 = _evaluate(model_name, q)
        out = {"frames": len(next(iter(q.values())))}
        dl = np.abs(l32 - l64)
        da = np.abs(a32 - a64)
        out["length_max"] = float(dl.max())
        out["length_rms"] = float(np.sqrt(np.mean(dl**2)))
        out["length_muscle"] = model.muscles[int(np.unravel_index(dl.argmax(), dl.shape)[1])]
        out["arm_max"] = float(da.max())
        out["arm_muscle"] = model.muscles[int(np.unravel_index(da.argmax(), da.shape)[1])]
        if setup is not None:
            setup32 = Setup(
                load_model(model_name),
                {c: jnp.asarray(np.asarray(v)) for c, v in setup.poses.items()},
                0,
                None,
            )
            out["float32_poses_per_s"] = run(setup32)["surrogate_poses_per_s"]
    finally:
        jax.config.update("jax_enable_x64", was_x64)
    return out


def main(argv: list[str] | None = None) -> int:
    jax.config.update("jax_enable_x64", True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sprinter_ja1")
    parser.add_argument(
        "--groups",
        default="",
        help="comma-separated muscle groups to restrict both to (e.g. hamstrings_r,calf_r: the "
        "muscles a hamstring or calf ranking evaluates); default every muscle",
    )
    parser.add_argument("--poses", type=int, default=4096)
    parser.add_argument("--opensim-poses", type=int, default=1000)
    parser.add_argument("--opensim-arm-poses", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-opensim", action="store_true")
    parser.add_argument(
        "--no-precision", action="store_true", help="skip the float32 vs float64 comparison"
    )
    args = parser.parse_args(argv)
    use_command_line_vectors()
    setup = build(
        args.model,
        args.poses,
        args.opensim_poses,
        opensim=not args.no_opensim,
        n_opensim_arms=args.opensim_arm_poses,
        groups=tuple(g for g in args.groups.split(",") if g),
    )
    r = run(setup, repeats=args.repeats)
    print(
        f"model {r['model']}: {r['muscles']} muscles, {r['coordinates']} coordinates, "
        f"{r['poses']} poses, float64, {r['device']}"
    )
    print(f"surrogate (JAX, lengths + moment arms): {r['surrogate_poses_per_s']:,.0f} poses/s")
    print(f"surrogate (JAX, lengths alone): {r['surrogate_lengths_poses_per_s']:,.0f} poses/s")
    if "ratio" in r:
        print(
            f"OpenSim (realizePosition + getLength of the same muscles, lengths only): "
            f"{r['opensim_poses_per_s']:,.0f} poses/s"
        )
        if "arms_ratio" in r:
            print(
                f"OpenSim, the same outputs (getLength + computeMomentArm, {r['arm_pairs']} "
                f"muscle-coordinate pairs): {r['opensim_arms_poses_per_s']:,.0f} poses/s"
            )
            print(f"ratio, lengths + moment arms, like for like: {r['arms_ratio']:.1f}x")
        print(f"ratio, lengths alone, like for like: {r['lengths_ratio']:.1f}x")
        print(f"ratio, surrogate lengths + moment arms / OpenSim lengths alone: {r['ratio']:.1f}x")
        print(
            f"per CPU second (all threads): surrogate {r['surrogate_poses_per_cpu_s']:,.0f}, "
            f"OpenSim {r['opensim_poses_per_cpu_s']:,.0f} poses: {r['cpu_ratio']:.1f}x"
        )
    if not args.no_precision:
        p = precision(args.model, setup)
        print(
            f"float32 vs float64 along run0900cms ({p['frames']} frames): length max "
            f"{p['length_max'] * 1e6:.3f} um ({p['length_muscle']}), RMS "
            f"{p['length_rms'] * 1e6:.3f} um; moment arm max {p['arm_max'] * 1e3:.4f} mm "
            f"({p['arm_muscle']})"
        )
        line = f"surrogate float32: {p['float32_poses_per_s']:,.0f} poses/s"
        if "ratio" in r:
            line += f" ({p['float32_poses_per_s'] / r['opensim_poses_per_s']:.1f}x OpenSim)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
