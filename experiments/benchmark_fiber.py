"""Fibre-state throughput of ``solve_fiber`` beside OpenSim's per-sample loop.

Prints muscle-samples per second for rigid and compliant tendon, batch 1 and batch N
(default 1024 parameter variants of the sprinter's biceps femoris long head along its 9 m/s
sprint MTU length), after compilation, and the same work done by OpenSim in the same process:

* rigid: set length and speed, ``realizeDynamics``, read the fibre length, per sample;
* compliant: the same with ``equilibrateMuscles`` per sample (OpenSim's usual per-sample
  answer), and, for reference, OpenSim's forward integration of the same trajectory.

musclesim's compliant tendon is timed with both solvers: the default fixed-step implicit one
and the accurate adaptive Kvaerno5 one, and their ratio is printed. The machine these figures
come from is shared; compare ratios measured in one run.

The ratio is musclesim throughput / OpenSim throughput. The two compliant answers differ in
kind (musclesim integrates the tendon dynamics; the OpenSim loop re-equilibrates each sample),
so both OpenSim baselines are printed. Timings are wall-clock on this machine, with the
CPU seconds of musclesim's calls beside them (all threads; steadier than wall-clock when other
work shares the machine); run
``python -m experiments.benchmark_fiber`` (``--tiny`` for a seconds-long smoke run).
"""

from __future__ import annotations

import argparse
import time as timer

import numpy as np

from experiments._vectors import use_command_line_vectors


def build(*, tiny: bool = False, batch: int = 1024, seed: int = 0):
    """Inputs: time, MTU length, activation and a batch of parameter variants."""
    import jax.numpy as jnp

    from musclesim import MuscleParameters
    from musclesim.core.io import shared_data_dir

    data = shared_data_dir(required=False)
    model = None if data is None else data / "models/Sprinter_JA1_scaled.osim"
    if model is not None and model.is_file():
        base = MuscleParameters.from_osim(model, "bflh_r")
    else:  # values of SOURCES.md 3.1 (Sprinter_JA1_scaled bflh_r), for machines without data
        base = MuscleParameters(2626.4, 0.1116, 0.3804, 0.1759, fiber_damping=0.01)
    n_time = 40 if tiny else 323
    # 9 m/s stride (~0.6 s); MTU length range of bflh_r in run0900cms (SOURCES.md 3.2).
    time = np.linspace(0.0, 1.288, n_time)
    length = 0.4618 + 0.058 * np.sin(2 * np.pi * time / 0.62)
    source = "synthetic sine around the sprint's bflh_r range (no shared data or OpenSim)"
    if model is not None and model.is_file() and not tiny:
        try:
            from musclesim.twins.muscle import opensim_mtu_length_along_motion

            time, lengths = opensim_mtu_length_along_motion(
                model,
                data / "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot",
                ["bflh_r"],
            )
            length = lengths[0]
            source = "bflh_r along run0900cms.mot (OpenSim)"
        except ImportError:
            pass
    activation = 0.05 + 0.9 * (0.5 + 0.5 * np.sin(2 * np.pi * (time - time[0]) / 0.7))
    rng = np.random.default_rng(seed)
    n = 8 if tiny else batch
    scale = lambda: jnp.asarray(rng.uniform(0.9, 1.1, n))  # noqa: E731
    variants = base.replace(
        max_isometric_force=base.max_isometric_force * scale(),
        optimal_fiber_length=base.optimal_fiber_length * scale(),
        tendon_slack_length=base.tendon_slack_length * scale(),
    )
    return {
        "time": time,
        "length": length,
        "activation": activation,
        "base": base,
        "variants": variants,
        "source": source,
    }


def _time_call(fn, repeats: int, cpu: list | None = None) -> float:
    """Wall seconds per call after a warm-up call; appends CPU seconds per call (all
    threads) to ``cpu`` when given, the steadier figure on a shared machine."""
    fn()  # compile / warm up
    start, start_cpu = timer.perf_counter(), timer.process_time()
    for _ in range(repeats):
        fn()
    if cpu is not None:
        cpu.append((timer.process_time() - start_cpu) / repeats)
    return (timer.perf_counter() - start) / repeats


def run(inputs: dict, *, repeats: int = 3, accurate: bool = True) -> list[dict]:
    """Measure every configuration (without the Kvaerno5 one unless ``accurate``: its
    default tolerances are below float32 rounding); returns rows of name, muscle-samples and
    seconds."""
    import jax

    from musclesim import solve_fiber

    time, length, activation = inputs["time"], inputs["length"], inputs["activation"]
    rows = []
    configurations = (
        ("rigid", "implicit", "musclesim"),
        ("compliant", "accurate", "musclesim accurate (Kvaerno5)"),
        ("compliant", "implicit", "musclesim implicit (default)"),
    )
    for tendon, solver, engine in configurations:
        if solver == "accurate" and not accurate:
            continue
        for label, params in (
            ("1", inputs["base"]),
            (str(inputs["variants"].shape[0]), inputs["variants"]),
        ):
            batch = params.shape[0] if params.shape else 1
            lengths = np.broadcast_to(length, (batch, len(time))) if params.shape else length

            def call(params=params, lengths=lengths, tendon=tendon, solver=solver):
                sol = solve_fiber(
                    params, time, lengths, activation=activation, tendon=tendon, solver=solver
                )
                jax.block_until_ready(sol.fiber_length)

            cpu = []
            seconds = _time_call(call, repeats, cpu)
            rows.append(
                {
                    "engine": engine,
                    "tendon": tendon,
                    "batch": label,
                    "muscle_samples": batch * len(time),
                    "seconds": seconds,
                    "cpu_seconds": cpu[0],
                }
            )
    try:
        from musclesim.core.spline import cubic_spline
        from musclesim.twins.muscle import opensim_compliant_trajectory, opensim_equilibrium_loop
    except ImportError:
        return rows
    try:
        velocity = np.asarray(cubic_spline(time, length).derivative(time))
        base = inputs["base"]
        for tendon in ("rigid", "compliant"):
            fiber = opensim_equilibrium_loop(base, length, velocity, activation, tendon=tendon)
            seconds = _time_call(
                lambda tendon=tendon: opensim_equilibrium_loop(
                    base, length, velocity, activation, tendon=tendon
                ),
                1,
            )
            failed = int(np.sum(~np.isfinite(fiber)))
            rows.append(
                {
                    "engine": "OpenSim loop",
                    "tendon": tendon,
                    "batch": "1",
                    "muscle_samples": len(time),
                    "seconds": seconds,
                    "note": f"{failed} samples failed to equilibrate" if failed else "",
                }
            )
        seconds = _time_call(
            lambda: opensim_compliant_trajectory(base, time, length, activation, accuracy=1e-6), 1
        )
        rows.append(
            {
                "engine": "OpenSim Manager (accuracy 1e-6)",
                "tendon": "compliant",
                "batch": "1",
                "muscle_samples": len(time),
                "seconds": seconds,
            }
        )
    except Exception as exc:  # OpenSim missing in this environment
        if exc.__class__.__name__ != "OpenSimMissingError":
            raise
    return rows


def report(rows: list[dict]) -> str:
    def rate(r):
        return r["muscle_samples"] / r["seconds"]

    baseline = {r["tendon"]: rate(r) for r in rows if r["engine"] == "OpenSim loop"}
    lines = [
        f"{'engine':34s} {'tendon':10s} {'batch':>6s} {'muscle·samples/s':>18s} "
        f"{'per CPU-second':>15s} {'vs OpenSim loop':>16s}"
    ]
    for r in rows:
        ratio = f"{rate(r) / baseline[r['tendon']]:.1f}x" if r["tendon"] in baseline else "n/a"
        per_cpu = f"{r['muscle_samples'] / r['cpu_seconds']:15,.0f}" if "cpu_seconds" in r else ""
        lines.append(
            f"{r['engine']:34s} {r['tendon']:10s} {r['batch']:>6s} {rate(r):18,.0f} "
            f"{per_cpu:>15s} {ratio:>16s}  {r.get('note', '')}"
        )
    by_key = {(r["engine"], r["batch"]): rate(r) for r in rows}
    for (engine, batch), new in by_key.items():
        old = by_key.get(("musclesim accurate (Kvaerno5)", batch))
        if engine == "musclesim implicit (default)" and old:
            lines.append(f"compliant, batch {batch}: implicit / accurate = {new / old:.1f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import jax

    parser = argparse.ArgumentParser(description="solve_fiber throughput vs OpenSim")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="members per time loop of the implicit solver on a CPU (0: the whole batch; "
        "default: musclesim.muscle.fiber.CPU_CHUNK)",
    )
    parser.add_argument(
        "--precision",
        choices=("float64", "float32", "both"),
        default="float64",
        help="JAX precision of musclesim's solves (float32: what a GPU runs fastest)",
    )
    args = parser.parse_args(argv)
    use_command_line_vectors()
    if args.chunk is not None:
        from musclesim.muscle import fiber

        fiber.CPU_CHUNK = args.chunk
    print(f"JAX devices: {jax.devices()}")
    precisions = ("float64", "float32") if args.precision == "both" else (args.precision,)
    for precision in precisions:
        jax.config.update("jax_enable_x64", precision == "float64")
        inputs = build(tiny=args.tiny, batch=args.batch)
        print(f"MTU length: {inputs['source']}")
        rows = run(
            inputs,
            repeats=1 if args.tiny else args.repeats,
            accurate=precision == "float64",
        )
        print(f"musclesim in {precision}:")
        print(report(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
