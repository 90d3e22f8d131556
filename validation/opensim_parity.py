"""Parity of musclesim's muscle mechanics with OpenSim's DeGrooteFregly2016Muscle.

Two checks, each with its tolerance:

1. Rigid tendon, >= 400 random parameter sets, MTU lengths, velocities and activations:
   fibre length and tendon force relative error <= 1e-6.
2. Compliant tendon along the biceps femoris long head (``bflh_r``) MTU length of the 9 m/s
   sprint (Dorn 2012 subject JA1: ``Sprinter_JA1_scaled.osim`` + ``run0900cms.mot``, lengths
   computed by OpenSim), with a time-varying activation: fibre length within 0.05 % and tendon
   force within 0.1 % of its peak at every sample. OpenSim integrates a one-muscle model whose
   MTU length is prescribed by a ``SimmSpline`` (musclesim uses ``spline="opensim"``),
   activation dynamics off, explicit tendon dynamics, ``equilibrateMuscles`` at the start.
   Both run with ``fiber_damping = 0`` because OpenSim's explicit mode leaves damping out of its
   fibre-velocity solve (see ``musclesim.muscle.state.norm_fiber_velocity_from_force``); the report
   also shows how far the sprinter's own damping (0.01) moves the result.

The report also states the error of the everyday default tolerances against the tight run.

Run: ``python -m validation.opensim_parity --out results/validation`` (exit status 1 on a miss).
"""

from __future__ import annotations

import argparse
import sys
import time as timer
from pathlib import Path

import jax
import numpy as np

RIGID_TOLERANCE = 1e-6  # relative, fibre length and tendon force: closed forms on both sides
FIBER_LENGTH_TOLERANCE = 5e-4  # relative, 0.05 %: two integrators at their own tolerances
TENDON_FORCE_TOLERANCE = 1e-3  # of peak tendon force, 0.1 %: same reason
TIGHT_RTOL = 1e-10
OPENSIM_ACCURACY = 1e-10
SPRINT_MODEL = "models/Sprinter_JA1_scaled.osim"
SPRINT_MOTION = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"


def random_rigid_cases(n: int, seed: int = 20161001):
    """Random, physiologically plausible parameter sets and MTU states (fixed seed)."""
    from musclesim import MuscleParameters

    rng = np.random.default_rng(seed)
    params = MuscleParameters(
        rng.uniform(100.0, 8000.0, n),
        rng.uniform(0.03, 0.25, n),
        rng.uniform(0.02, 0.45, n),
        rng.uniform(0.0, 0.5, n),
        max_contraction_velocity=rng.uniform(5.0, 15.0, n),
        tendon_strain_at_one_norm_force=rng.uniform(0.03, 0.07, n),
        passive_fiber_strain_at_one_norm_force=rng.uniform(0.4, 0.9, n),
        active_force_width_scale=rng.uniform(1.0, 1.5, n),
        fiber_damping=rng.uniform(0.0, 0.1, n),
    )
    norm_length = rng.uniform(0.4, 1.7, n)
    opt = np.asarray(params.optimal_fiber_length)
    width = opt * np.sin(np.asarray(params.pennation_angle_at_optimal))
    along = np.sqrt(np.maximum((norm_length * opt) ** 2 - width**2, (0.05 * opt) ** 2))
    mtu_length = np.asarray(params.tendon_slack_length) + along
    activation = rng.uniform(0.0, 1.0, n)
    return params, mtu_length, activation


def check_rigid(n_per_velocity: int = 100, velocities=(-1.5, -0.3, 0.0, 0.4, 1.2)) -> dict:
    """Rigid-tendon parity: returns max relative errors over all cases."""
    import jax.numpy as jnp

    from musclesim import rigid_tendon_state
    from musclesim.twins.muscle import opensim_rigid_states

    worst = {"fiber_length": 0.0, "tendon_force": 0.0, "fiber_velocity": 0.0}
    count = 0
    for k, velocity in enumerate(velocities):
        params, length, activation = random_rigid_cases(n_per_velocity, seed=20161001 + k)
        ref = opensim_rigid_states(params, length, velocity, activation)
        ours = rigid_tendon_state(params, jnp.asarray(length), velocity, jnp.asarray(activation))
        for name in worst:
            mine = np.asarray(getattr(ours, name))
            scale = np.maximum(np.abs(ref[name]), 1e-9 if name != "fiber_velocity" else 1e-6)
            worst[name] = max(worst[name], float(np.max(np.abs(mine - ref[name]) / scale)))
        count += n_per_velocity
    worst["cases"] = count
    return worst


def sprint_activation(time: np.ndarray) -> np.ndarray:
    """A time-varying activation between 0.05 and 0.95 (period 0.7 s, near the stride time)."""
    return 0.05 + 0.9 * (0.5 + 0.5 * np.sin(2.0 * np.pi * (time - time[0]) / 0.7))


def check_compliant(data_dir: Path) -> dict:
    """Compliant-tendon parity along the 9 m/s sprint; returns traces and error measures."""
    from musclesim import MuscleParameters, solve_fiber
    from musclesim.twins.muscle import opensim_compliant_trajectory, opensim_mtu_length_along_motion

    model = data_dir / SPRINT_MODEL
    time, lengths = opensim_mtu_length_along_motion(model, data_dir / SPRINT_MOTION, ["bflh_r"])
    length = lengths[0]
    activation = sprint_activation(time)
    sprinter = MuscleParameters.from_osim(model, "bflh_r")
    params = sprinter.replace(fiber_damping=0.0)

    start = timer.perf_counter()
    ref = opensim_compliant_trajectory(params, time, length, activation, accuracy=OPENSIM_ACCURACY)
    opensim_seconds = timer.perf_counter() - start

    # Parity is checked on the accurate (adaptive Kvaerno5) path at its tolerances; the
    # fixed-step default is measured against that path by experiments/solver_accuracy.py.
    common = dict(
        activation=activation, spline="opensim", minimum_fiber_damping=0.0, solver="accurate"
    )
    tight = solve_fiber(params, time, length, rtol=TIGHT_RTOL, atol=TIGHT_RTOL * 1e-2, **common)
    default = solve_fiber(params, time, length, **common)
    damped = solve_fiber(sprinter, time, length, activation=activation, spline="opensim")

    peak_force = float(np.max(np.abs(ref["tendon_force"])))

    def errors(sol):
        fiber = np.asarray(sol.fiber_length)
        force = np.asarray(sol.tendon_force)
        return {
            "fiber_length_rel": float(
                np.max(np.abs(fiber - ref["fiber_length"]) / ref["fiber_length"])
            ),
            "tendon_force_of_peak": float(np.max(np.abs(force - ref["tendon_force"])) / peak_force),
            "steps": int(sol.num_steps),
        }

    return {
        "time": time,
        "mtu_length": length,
        "activation": activation,
        "opensim": ref,
        "tight": tight,
        "default": default,
        "damped": damped,
        "tight_errors": errors(tight),
        "default_errors": errors(default),
        "damped_vs_undamped": {
            "fiber_length_rel": float(
                np.max(
                    np.abs(np.asarray(damped.fiber_length) - np.asarray(tight.fiber_length))
                    / np.asarray(tight.fiber_length)
                )
            ),
            "tendon_force_of_peak": float(
                np.max(np.abs(np.asarray(damped.tendon_force) - np.asarray(tight.tendon_force)))
                / peak_force
            ),
        },
        "opensim_seconds": opensim_seconds,
        "peak_force": peak_force,
    }


def write_report(out: Path, rigid: dict, compliant: dict, passed: bool) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclesim.core.io import atomic_path, write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    time = compliant["time"]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(
        time,
        compliant["opensim"]["fiber_length"] * 1e3,
        lw=3,
        alpha=0.4,
        label="OpenSim 4.6 DeGrooteFregly2016Muscle",
    )
    axes[0].plot(
        time,
        np.asarray(compliant["tight"].fiber_length) * 1e3,
        "k--",
        lw=1,
        label=f"musclesim (rtol {TIGHT_RTOL:g})",
    )
    axes[0].set_ylabel("BFLH fibre length (mm)")
    axes[0].legend(loc="best", fontsize=8)
    axes[1].plot(time, compliant["opensim"]["tendon_force"], lw=3, alpha=0.4, label="OpenSim")
    axes[1].plot(time, np.asarray(compliant["tight"].tendon_force), "k--", lw=1, label="musclesim")
    axes[1].set_ylabel("tendon force (N)")
    rel = (np.asarray(compliant["tight"].fiber_length) - compliant["opensim"]["fiber_length"]) / (
        compliant["opensim"]["fiber_length"]
    )
    axes[2].plot(time, rel * 100, label="tight")
    rel_default = (
        np.asarray(compliant["default"].fiber_length) - compliant["opensim"]["fiber_length"]
    ) / compliant["opensim"]["fiber_length"]
    axes[2].plot(time, rel_default * 100, label="default tolerances")
    axes[2].set_ylabel("fibre length diff. (%)")
    axes[2].set_xlabel("time (s), 9 m/s sprint, run0900cms.mot")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out / "opensim_parity.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)

    te, de, dd = (
        compliant["tight_errors"],
        compliant["default_errors"],
        compliant["damped_vs_undamped"],
    )
    lines = [
        "# Parity with OpenSim's DeGrooteFregly2016Muscle",
        "",
        f"Result: **{'PASS' if passed else 'FAIL'}**. Command: "
        "`python -m validation.opensim_parity --out results/validation`.",
        "",
        "## Rigid tendon",
        f"{rigid['cases']} random parameter sets, MTU lengths, velocities and activations "
        "(seeded), OpenSim constants.",
        "",
        "| quantity | max relative error | tolerance |",
        "| --- | --- | --- |",
        f"| fibre length | {rigid['fiber_length']:.2e} | {RIGID_TOLERANCE:g} |",
        f"| tendon force | {rigid['tendon_force']:.2e} | {RIGID_TOLERANCE:g} |",
        f"| fibre velocity | {rigid['fiber_velocity']:.2e} | (reported) |",
        "",
        "## Compliant tendon, bflh_r along the 9 m/s sprint",
        f"MTU length from OpenSim ({SPRINT_MODEL} + {SPRINT_MOTION}, "
        f"{len(time)} samples, {time[0]:.3f}-{time[-1]:.3f} s); activation "
        "0.05 + 0.9 (1 + sin(2 pi t / 0.7 s))/2; OpenSim accuracy "
        f"{OPENSIM_ACCURACY:g} ({compliant['opensim_seconds']:.2f} s); fiber_damping 0 in both.",
        "",
        "| run | fibre length, max rel. error | tendon force, max error / peak | steps |",
        "| --- | --- | --- | --- |",
        f"| musclesim rtol {TIGHT_RTOL:g} | {te['fiber_length_rel']:.2e} | "
        f"{te['tendon_force_of_peak']:.2e} | {te['steps']} |",
        f"| musclesim defaults (rtol 1e-6, atol 1e-8) | {de['fiber_length_rel']:.2e} | "
        f"{de['tendon_force_of_peak']:.2e} | {de['steps']} |",
        f"| tolerance | {FIBER_LENGTH_TOLERANCE:g} | {TENDON_FORCE_TOLERANCE:g} | |",
        "",
        f"Peak tendon force {compliant['peak_force']:.0f} N. With the sprinter model's own "
        f"fiber_damping (0.01), musclesim's fibre length moves by up to "
        f"{dd['fiber_length_rel'] * 100:.2f} % and its tendon force by "
        f"{dd['tendon_force_of_peak'] * 100:.2f} % of peak: OpenSim's explicit mode cannot be "
        "compared there, since it leaves damping out of its velocity solve.",
        "",
        "![fibre length traces](opensim_parity.png)",
        "",
    ]
    return write_text_atomic(out / "opensim_parity.md", "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)

    from musclesim.core.io import shared_data_dir

    data_dir = args.data or shared_data_dir()
    rigid = check_rigid()
    compliant = check_compliant(data_dir)
    te = compliant["tight_errors"]
    de = compliant["default_errors"]
    passed = (
        rigid["fiber_length"] <= RIGID_TOLERANCE
        and rigid["tendon_force"] <= RIGID_TOLERANCE
        and rigid["cases"] >= 400
        and te["fiber_length_rel"] <= FIBER_LENGTH_TOLERANCE
        and te["tendon_force_of_peak"] <= TENDON_FORCE_TOLERANCE
        and de["fiber_length_rel"] <= FIBER_LENGTH_TOLERANCE
        and de["tendon_force_of_peak"] <= TENDON_FORCE_TOLERANCE
    )
    report = write_report(args.out, rigid, compliant, passed)
    print(report.read_text())
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
