"""Throughput: MTU lengths + moment arms per second, JAX surrogate vs OpenSim's own loop.

The surrogate evaluates ``mtu_length_and_moment_arm`` (lengths and moment arms of every muscle
about every coordinate it crosses) for a batch of random poses inside the fitted domain,
jit-compiled, timed after warm-up. OpenSim runs the loop of ../shared/data/SOURCES.md 3.2 in
the same process: set every coordinate, ``realizePosition``, ``Muscle.getLength`` for every
muscle (lengths only; OpenSim's moment arms would cost one ``computeMomentArm`` per muscle and
coordinate on top).

Run: ``python -m experiments.benchmark_geometry [--model sprinter_ja1] [--poses 4096]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Setup:
    model: object
    poses: dict
    n_opensim: int
    sampler: object | None


def build(
    model_name: str = "sprinter_ja1",
    n_poses: int = 4096,
    n_opensim: int = 2000,
    *,
    opensim: bool = True,
    seed: int = 0,
) -> Setup:
    """Load the model, draw random poses inside every muscle's domain, open OpenSim."""
    import jax.numpy as jnp

    from musclesim import load_model

    model = load_model(model_name)
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
        from musclesim.core.io import shared_data_dir
        from musclesim.geometry.fitting.fit import OpenSimSampler

        sampler = OpenSimSampler(shared_data_dir() / "models" / model.source_file)
    return Setup(model, poses, n_opensim, sampler)


def run(setup: Setup, *, repeats: int = 3) -> dict:
    """Poses per second for both, and their ratio."""
    import jax

    model = setup.model

    @jax.jit
    def both(m, q):
        return m.mtu_length_and_moment_arm(q)

    jax.block_until_ready(both(model, setup.poses))  # compile
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(both(model, setup.poses))
        best = min(best, time.perf_counter() - t0)
    n = len(next(iter(setup.poses.values())))
    out = {
        "model": model.name,
        "muscles": len(model.muscles),
        "coordinates": len(model.coordinates),
        "poses": n,
        "surrogate_poses_per_s": n / best,
        "device": str(jax.devices()[0]),
    }
    if setup.sampler is not None:
        k = min(setup.n_opensim, n)
        sub = {c: np.asarray(v[:k]) for c, v in setup.poses.items()}
        t0 = time.perf_counter()
        setup.sampler.lengths(sub, list(model.muscles))
        dt = time.perf_counter() - t0
        out["opensim_poses_per_s"] = k / dt
        out["ratio"] = out["surrogate_poses_per_s"] / out["opensim_poses_per_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sprinter_ja1")
    parser.add_argument("--poses", type=int, default=4096)
    parser.add_argument("--opensim-poses", type=int, default=2000)
    parser.add_argument("--no-opensim", action="store_true")
    args = parser.parse_args(argv)
    setup = build(args.model, args.poses, args.opensim_poses, opensim=not args.no_opensim)
    r = run(setup)
    print(
        f"model {r['model']}: {r['muscles']} muscles, {r['coordinates']} coordinates, "
        f"{r['poses']} poses, float64, {r['device']}"
    )
    print(f"surrogate (JAX, lengths + moment arms): {r['surrogate_poses_per_s']:,.0f} poses/s")
    if "ratio" in r:
        print(
            f"OpenSim (realizePosition + getLength, lengths only): "
            f"{r['opensim_poses_per_s']:,.0f} poses/s"
        )
        print(f"ratio surrogate / OpenSim: {r['ratio']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
