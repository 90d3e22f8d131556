"""The parallel-in-time form of the fixed-step implicit fibre solver, measured on this machine.

The default solver (:mod:`musclesim.muscle.implicit`) marches one sample interval after
another: T - 1 dependent steps, each of S substeps of three implicit stages. Its
parallel-in-time form takes the normalised tendon force at every sample as the unknowns of one
system, ``F_{n+1} = Phi_n(F_n)``, where ``Phi_n`` is the solver's own step over interval n (the
same stages, substeps and Newton iterations), and solves it by Newton's method over the whole
trajectory (multiple shooting with exact derivatives; Gander & Vandewalle 2007,
doi:10.1137/05064607X; Lim et al. 2024, "Parallelizing non-linear sequential models over the
sequence length", ICLR, arXiv:2309.12252):

* every ``Phi_n(F_n)`` and its derivative ``Phi_n'(F_n)`` at once (forward mode through the
  step, exact because the step's last Newton iteration carries the implicit-function
  derivative): one batched call over the intervals, no dependence between them;
* the Newton correction obeys ``d_{n+1} = Phi_n'(F_n) d_n - (F_{n+1} - Phi_n(F_n))``,
  ``d_0 = 0``: an affine recurrence, solved by ``jax.lax.associative_scan`` in about
  log2(T) levels.

Starting from the static equilibrium at every sample, K iterations reproduce the sequential
solution; then the work is K times the sequential solver's, and the chain of dependent
operations K (3 S + log2 T) long instead of 3 S (T - 1). That trade suits a GPU whose lanes
would otherwise idle, and on a CPU a batch too small to fill the vector units, where each of
the sequential solver's steps costs its fixed overhead; a large batch already fills them, and
there the K-fold work can only cost more. This script measures K and both costs for the benchmark
case of ``experiments.benchmark_fiber`` (bflh_r along the 9 m/s sprint, activation given):
the largest difference from the sequential solution after each iteration, and the wall time
of the sequential solver and of K parallel-in-time iterations in the same run.

Run: ``python -m experiments.parallel_in_time [--batch 64] [--iterations 12]``.
"""

from __future__ import annotations

import argparse
import math
import time as timer

import jax
import jax.numpy as jnp
import numpy as np

from experiments.benchmark_fiber import build
from musclesim import solve_fiber
from musclesim.core.spline import CubicSpline, cubic_spline
from musclesim.muscle import curves as _curves, implicit as _implicit, state as _muscle
from musclesim.muscle.fiber import DEFAULT_MINIMUM_FIBER_DAMPING

#: Converged: every tendon force within this of the sequential solver's (normalised; the
#: sequential solver's own Newton error is of this order).
CONVERGED = 1e-9


def _step(params, time2, coefficients, activation2, force, *, substeps, constants, damping):
    """The solver's step over one sample interval from ``force`` at its start: the force
    at its end (the interval's spline coefficients ``(y, b, c, d)``, two knots each)."""
    y, b, c, d = coefficients
    path = CubicSpline(x=time2, y=y, b=b, c=c, d=d)
    states = _implicit.integrate(
        params,
        time2,
        path,
        activation2,
        {"norm_tendon_force": force},
        compliant=True,
        dynamics=False,
        constants=constants,
        damping=damping,
        substeps=substeps,
    )
    return states["norm_tendon_force"][1]


def _affine_solve(slope, offset):
    """``d`` with ``d_0 = 0`` and ``d_{n+1} = slope_n d_n + offset_n`` by an associative scan:
    composing ``x -> a1 x + b1`` then ``x -> a2 x + b2`` gives ``(a2 a1, a2 b1 + b2)``."""

    def compose(first, second):
        a1, b1 = first
        a2, b2 = second
        return a2 * a1, a2 * b1 + b2

    _, d = jax.lax.associative_scan(compose, (slope, offset))
    return jnp.concatenate([jnp.zeros_like(d[:1]), d])


def parallel_in_time(params, time, mtu_length, activation, *, substeps, iterations):
    """Tendon-force iterates ``[iteration + 1, T]`` of one muscle (scalar parameters)."""
    constants = _curves.OPENSIM
    damping = _muscle.effective_damping(params, DEFAULT_MINIMUM_FIBER_DAMPING)
    path = cubic_spline(time, mtu_length)
    velocity = path.derivative(time)
    # every interval's two knots of the spline, the time grid and the activation
    pairs = lambda x: jnp.stack([x[:-1], x[1:]], axis=-1)  # noqa: E731
    coefficients = tuple(pairs(x) for x in (path.y, path.b, path.c, path.d))
    step = jax.vmap(
        lambda t2, coef, a2, f: _step(
            params, t2, coef, a2, f, substeps=substeps, constants=constants, damping=damping
        )
    )

    def newton(force, _):
        end, slope = jax.jvp(
            lambda f: step(pairs(time), coefficients, pairs(activation), f),
            (force[:-1],),
            (jnp.ones_like(force[:-1]),),
        )
        correction = _affine_solve(slope, end - force[1:])
        force = force + correction
        return force, force

    start = jax.vmap(
        lambda length, v, a: _muscle.initial_norm_tendon_force(
            params,
            length,
            v,
            a,
            constants=constants,
            minimum_fiber_damping=DEFAULT_MINIMUM_FIBER_DAMPING,
        )
    )(mtu_length, velocity, activation)
    _, iterates = jax.lax.scan(newton, start, None, length=iterations)
    return jnp.concatenate([start[None], iterates])


def run(batch: int = 64, iterations: int = 12, repeats: int = 2) -> dict:
    """Iterations to converge, and the wall time of both forms on the same batch."""
    inputs = build(batch=batch)
    time = jnp.asarray(inputs["time"])
    n = inputs["variants"].shape[0]
    params = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,)), inputs["variants"])
    lengths = jnp.broadcast_to(jnp.asarray(inputs["length"]), (n, time.shape[0]))
    activation = jnp.asarray(inputs["activation"])
    substeps = _implicit.substeps_for(np.asarray(time))

    def sequential():
        sol = solve_fiber(params, time, lengths, activation=activation, solver="implicit")
        return jax.block_until_ready(sol.tendon_force / params.max_isometric_force[:, None])

    parallel = jax.jit(
        jax.vmap(
            lambda p, length: parallel_in_time(
                p, time, length, activation, substeps=substeps, iterations=iterations
            )
        )
    )
    reference = sequential()
    iterates = jax.block_until_ready(parallel(params, lengths))  # [member, iteration+1, T]
    gap = np.abs(np.asarray(iterates) - np.asarray(reference)[:, None, :]).max(axis=(0, 2))
    converged = int(np.argmax(gap < CONVERGED)) if np.any(gap < CONVERGED) else None

    def best(f):
        times = []
        for _ in range(repeats):
            start = timer.perf_counter()
            jax.block_until_ready(f())
            times.append(timer.perf_counter() - start)
        return min(times)

    t_sequential = best(sequential)
    t_parallel = best(lambda: parallel(params, lengths))
    intervals = time.shape[0] - 1
    stages = len(_implicit.SDIRK_TABLEAUS[_implicit.DEFAULT_METHOD])
    return {
        "members": n,
        "samples": int(time.shape[0]),
        "substeps": substeps,
        "gap": gap,
        "converged": converged,
        "iterations": iterations,
        "sequential_s": t_sequential,
        "parallel_s": t_parallel,
        "sequential_depth": stages * substeps * intervals,
        "parallel_depth_per_iteration": stages * substeps + math.ceil(math.log2(intervals)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    r = run(args.batch, args.iterations, args.repeats)
    print(
        f"bflh_r along the 9 m/s sprint, {r['members']} members, {r['samples']} samples, "
        f"{r['substeps']} substeps per interval, float64, {jax.devices()[0]}"
    )
    print("largest |F - F_sequential| (normalised tendon force) after each Newton iteration:")
    for k, g in enumerate(r["gap"]):
        print(f"  {k:3d}  {g:.2e}")
    k = r["converged"]
    if k is None:
        print(f"not within {CONVERGED:g} of the sequential solution after {r['iterations']}")
        return 1
    depth = k * r["parallel_depth_per_iteration"]
    print(f"within {CONVERGED:g} of the sequential solution after {k} iterations")
    print(
        f"wall, same run: sequential {r['sequential_s'] * 1e3:.1f} ms; parallel-in-time "
        f"{r['iterations']} iterations {r['parallel_s'] * 1e3:.1f} ms, the {k} needed "
        f"~{r['parallel_s'] * k / r['iterations'] * 1e3:.1f} ms "
        f"({r['parallel_s'] * k / r['iterations'] / r['sequential_s']:.1f}x the sequential)"
    )
    print(
        f"dependent stage solves: sequential {r['sequential_depth']}, parallel-in-time "
        f"{k} x {r['parallel_depth_per_iteration']} = {depth} "
        f"({r['sequential_depth'] / depth:.1f}x shorter)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
