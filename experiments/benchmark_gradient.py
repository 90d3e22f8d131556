"""Cost of the gradient of peak fibre strain through ``solve_fiber``, against its forward cost.

The same inputs as experiments/benchmark_fiber.py (parameter variants of the sprinter's biceps
femoris long head along its 9 m/s sprint MTU length, compliant tendon, given activation). For
each solver, times (after compilation, both jitted) of

* forward: the peak fibre strain of every member;
* gradient: ``jax.grad`` of the sum of the peaks with respect to every muscle parameter and
  the whole MTU-length trajectory (reverse mode),

and their ratio (of wall-clock and of CPU seconds, the steadier one on a shared machine).
The target for the default implicit solver is a ratio of at most 5. The implicit solver is
timed twice: as shipped (reverse mode recomputes each step, ``implicit.SCAN_REMATERIALISED``)
and with every step's intermediates stored instead.
Wall-clock on a shared machine: compare ratios, measured in one run, rather than absolute
times. XLA spreads parts of the reverse pass over both cores of a small machine, which costs
more CPU seconds than it saves wall time; ``taskset -c 0`` runs everything on one core, where
wall and CPU time agree. Run ``python -m experiments.benchmark_gradient`` (``--tiny`` for a
smoke run).
"""

from __future__ import annotations

import argparse
import time as timer

import jax
import jax.numpy as jnp
import numpy as np

from experiments._vectors import use_command_line_vectors
from experiments.benchmark_fiber import build

SOLVERS = ("implicit", "implicit-stored", "accurate")


def _time_call(fn, repeats: int) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) per call, after a warm-up call."""
    jax.block_until_ready(fn())  # compile / warm up
    start, start_cpu = timer.perf_counter(), timer.process_time()
    for _ in range(repeats):
        jax.block_until_ready(fn())
    return (timer.perf_counter() - start) / repeats, (timer.process_time() - start_cpu) / repeats


def run(inputs: dict, *, repeats: int = 3, solvers=SOLVERS) -> list[dict]:
    """Forward and gradient seconds per solver."""
    from musclesim.muscle import implicit

    params = inputs["variants"]
    lengths = jnp.asarray(np.broadcast_to(inputs["length"], (params.shape[0], len(inputs["time"]))))
    rows = []
    shipped = implicit.SCAN_REMATERIALISED
    try:
        for name in solvers:
            # The choice is read when the solver is traced: set it, then trace afresh.
            implicit.SCAN_REMATERIALISED = not name.endswith("-stored")
            jax.clear_caches()
            rows.append(_measure(name, inputs, params, lengths, repeats))
    finally:
        implicit.SCAN_REMATERIALISED = shipped
        jax.clear_caches()
    return rows


def _measure(name: str, inputs: dict, params, lengths, repeats: int) -> dict:
    """One solver's forward and gradient seconds."""
    from musclesim import solve_fiber

    time, activation = inputs["time"], inputs["activation"]
    solver = name.removesuffix("-stored")

    def peak(params, lengths):
        sol = solve_fiber(params, time, lengths, activation=activation, solver=solver)
        return sol.fiber_strain.max(axis=-1).sum()

    forward = jax.jit(peak)
    gradient = jax.jit(jax.grad(peak, argnums=(0, 1)))
    f_seconds, f_cpu = _time_call(lambda: forward(params, lengths), repeats)
    g_seconds, g_cpu = _time_call(lambda: gradient(params, lengths), repeats)
    grads = gradient(params, lengths)
    return {
        "solver": name,
        "batch": params.shape[0],
        "samples": len(time),
        "forward_s": f_seconds,
        "gradient_s": g_seconds,
        "cpu_ratio": g_cpu / f_cpu,
        "finite": all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads)),
    }


def report(rows: list[dict]) -> str:
    lines = [
        f"{'solver':16s} {'batch':>6s} {'samples':>8s} {'forward s':>10s} {'gradient s':>11s} "
        f"{'ratio':>7s} {'CPU ratio':>9s}  finite"
    ]
    for r in rows:
        lines.append(
            f"{r['solver']:16s} {r['batch']:6d} {r['samples']:8d} {r['forward_s']:10.4f} "
            f"{r['gradient_s']:11.4f} {r['gradient_s'] / r['forward_s']:6.2f}x "
            f"{r['cpu_ratio']:8.2f}x  {r['finite']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="gradient cost of peak fibre strain")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    args = parser.parse_args(argv)
    use_command_line_vectors()
    jax.config.update("jax_enable_x64", True)
    rows = run(
        build(tiny=args.tiny, batch=args.batch),
        repeats=1 if args.tiny else args.repeats,
        solvers=args.solvers,
    )
    print(f"JAX devices: {jax.devices()}")
    print(report(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
