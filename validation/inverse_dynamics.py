"""Joint moments by inverse dynamics: musclesim's JAX implementation against OpenSim's.

(i) Gated (exit status 1 on a miss): the four sprint trials of Dorn et al. 2012
subject JA1 (``Sprinter_JA1_scaled.osim`` with ``run0350cms`` ... ``run0900cms.mot``). Both
implementations get the same q, q̇, q̈: the coordinates filtered by a zero-lag 4th-order
Butterworth low-pass at ``CUTOFF_HZ`` (``musclesim.filter_motion``), derivatives of a quintic
interpolating spline (``musclesim.motion_derivatives``), coupled patellar coordinates set from
the model's coupler. JAX: ``musclesim.dynamics.inverse.batched_generalized_forces`` (OpenSim's
convention); OpenSim: ``InverseDynamicsSolver`` frame by frame
(``musclesim.twins.dynamics.opensim_inverse_dynamics``). On the swing samples of each leg
(kinematic gait events, ``musclesim.detect_events``) the hip flexion, adduction, rotation and
knee moments must agree within ``TOLERANCE`` (1 %) of OpenSim's peak |moment| in swing. The
``"exact"`` convention (exact derivative of the walker knee's coupled rotations, which
Simbody's ``FunctionBased`` mobilizer approximates) is reported beside it, not gated.

(ii) Reported: the Rajagopal et al. 2016 running trial with force plates. Scale + IK with
OpenSim (``musclesim.motion.opensim_tools.rajagopal_running_pipeline``), the same filter, then
OpenSim's ``InverseDynamicsTool`` with ``grf_run.xml`` / ``grf_run.mot`` over the time range of
``id_setup_run.xml`` (forces_to_exclude: all model forces), and musclesim's JAX inverse dynamics
with the same loads beside it. The tool differentiates its own quintic GCV splines of the
coordinates and interpolates the loads with cubic GCV splines; musclesim uses interpolating
quintic/cubic splines, so small differences remain; they are reported as found.

Run: ``python -m validation.inverse_dynamics --out results/validation``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from validation._sprint_data import SPRINT_TRIALS, SPRINTER_MODEL

MODEL_FILE = SPRINTER_MODEL
TRIALS = SPRINT_TRIALS
RAJAGOPAL = "kinematics/opensim-models_rajagopal_running"
#: Low-pass cutoff (Hz) for the coordinates, our choice within the 10-15 Hz commonly used for
#: running kinematics (see musclesim.filter_motion); the same for both implementations.
CUTOFF_HZ = 12.0
#: Acceptance criterion: hip and knee swing moments within 1 % of the peak.
TOLERANCE = 0.01
GATED = ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle")


def _prepared(model, motion_path, model_path):
    import jax

    from musclesim.dynamics.inverse import apply_couplers, motion_arrays
    from musclesim.motion.processing import filter_motion, motion_derivatives
    from musclesim.motion.read import read_motion

    motion = read_motion(motion_path, model=model_path)
    motion = motion_derivatives(filter_motion(motion, CUTOFF_HZ, variables=["q"]))
    q, qd, qdd = motion_arrays(model, motion)
    arrays = jax.vmap(lambda a, b, c: apply_couplers(model, a, b, c))(q, qd, qdd)
    return motion, [np.asarray(a) for a in arrays]


def sprint(data_dir: Path) -> list[dict]:
    """Per trial and leg: swing-sample differences of the gated moments."""
    from musclesim.dynamics.inverse import _stance_from_kinematics, chunked_generalized_forces
    from musclesim.osim.model import load_dynamics_model
    from musclesim.twins.dynamics import opensim_inverse_dynamics

    model_path = data_dir / MODEL_FILE
    model = load_dynamics_model(model_path)
    rows = []
    for speed, rel in TRIALS.items():
        motion, (q, qd, qdd) = _prepared(model, data_dir / rel, model_path)
        began = time.perf_counter()
        ours = chunked_generalized_forces(model, q, qd, qdd)
        jax_s = time.perf_counter() - began
        exact = chunked_generalized_forces(model, q, qd, qdd, convention="exact")
        began = time.perf_counter()
        ref = opensim_inverse_dynamics(model_path, q, qd, qdd, model.coordinate_names)
        osim_s = time.perf_counter() - began
        for side in ("r", "l"):
            stance, how = _stance_from_kinematics(motion, str(model_path), side)
            swing = ~stance
            for name in GATED:
                k = model.coordinate_names.index(f"{name}_{side}")
                peak = float(np.abs(ref[swing, k]).max())
                rows.append(
                    {
                        "speed": speed,
                        "coordinate": f"{name}_{side}",
                        "swing_samples": int(swing.sum()),
                        "peak": peak,
                        "max_diff": float(np.abs(ours[swing, k] - ref[swing, k]).max()),
                        "exact_diff": float(np.abs(exact[swing, k] - ref[swing, k]).max()),
                        "time": motion["time"].values,
                        "ours": ours[:, k],
                        "ref": ref[:, k],
                        "swing": swing,
                        "jax_s": jax_s,
                        "opensim_s": osim_s,
                        "stance_source": how,
                    }
                )
    return rows


def rajagopal(data_dir: Path, work: Path) -> dict:
    """OpenSim's ID tool with force plates and musclesim's JAX ID with the same loads."""
    import defusedxml.ElementTree as DET

    from musclesim.dynamics.inverse import inverse_dynamics
    from musclesim.motion.opensim_tools import rajagopal_running_pipeline
    from musclesim.motion.processing import filter_motion, motion_derivatives
    from musclesim.twins.dynamics import opensim_inverse_dynamics_tool

    run = data_dir / RAJAGOPAL
    setup = run / "id_setup_run.xml"
    t0, t1 = (float(v) for v in DET.parse(setup).getroot().findtext(".//time_range").split())
    began = time.perf_counter()
    # IK over the ID window plus 0.2 s each side, so the filter and splines have margins
    scaled, motion = rajagopal_running_pipeline(data_dir, work, time_range=(t0 - 0.2, t1 + 0.2))
    pipeline_s = time.perf_counter() - began
    smooth = motion_derivatives(filter_motion(motion, CUTOFF_HZ, variables=["q"]))
    ref = opensim_inverse_dynamics_tool(
        scaled.model_path,
        smooth,
        external_loads=run / "grf_run.xml",
        grf_data=run / "grf_run.mot",
        setup=setup,
    )
    ours = inverse_dynamics(
        scaled.model_path,
        smooth,
        external_loads=run / "grf_run.xml",
        grf_data=run / "grf_run.mot",
    )
    inside = (ours["time"].values >= t0 - 1e-9) & (ours["time"].values <= t1 + 1e-9)
    ours = ours.isel(time=inside)
    rows = []
    for side in ("r", "l"):
        for name in GATED + ("ankle_angle",):
            coord = f"{name}_{side}"
            a = ours["generalized_force"].sel(model_coordinate=coord).values
            b = np.interp(
                ours["time"].values,
                ref["time"].values,
                ref["generalized_force"].sel(coordinate=coord).values,
            )
            peak = float(np.abs(b).max())
            rows.append(
                {
                    "coordinate": coord,
                    "peak": peak,
                    "rms_diff": float(np.sqrt(np.mean((a - b) ** 2))),
                    "max_diff": float(np.abs(a - b).max()),
                    "time": ours["time"].values,
                    "ours": a,
                    "ref": b,
                }
            )
    return {
        "rows": rows,
        "time_range": (t0, t1),
        "pipeline_s": pipeline_s,
        "marker_rms_m": float(motion.attrs.get("ik_marker_rms_m", float("nan"))),
        "stance": ours["stance"].values,
        "sides": list(ours["side"].values),
    }


def write_report(out: Path, sprint_rows, raj, passed: bool) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclesim.core.io import atomic_path, write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for row in sprint_rows:
        if row["speed"] == 9.0 and row["coordinate"] in ("hip_flexion_r", "knee_angle_r"):
            ax = axes[0]
            ax.plot(row["time"], row["ref"], "k-", lw=2, alpha=0.4)
            ax.plot(row["time"], row["ours"], "--", lw=1, label=f"{row['coordinate']} JAX")
            ax.fill_between(
                row["time"], *ax.get_ylim(), where=~row["swing"], color="grey", alpha=0.1, lw=0
            )
    axes[0].set_title("9 m/s: OpenSim (grey) vs JAX (dashed); shaded: stance")
    axes[0].set_xlabel("time (s)")
    axes[0].set_ylabel("moment (N·m)")
    axes[0].legend(fontsize=7)
    speeds = sorted({r["speed"] for r in sprint_rows})
    for coord in ("hip_flexion_r", "knee_angle_r", "hip_flexion_l", "knee_angle_l"):
        axes[1].semilogy(
            speeds,
            [
                max(r["max_diff"] / r["peak"], 1e-16)
                for s in speeds
                for r in sprint_rows
                if r["speed"] == s and r["coordinate"] == coord
            ],
            "o-",
            label=f"{coord} (opensim convention)",
        )
        axes[1].semilogy(
            speeds,
            [
                r["exact_diff"] / r["peak"]
                for s in speeds
                for r in sprint_rows
                if r["speed"] == s and r["coordinate"] == coord
            ],
            "x:",
            label=f"{coord} (exact)",
        )
    axes[1].axhline(TOLERANCE, color="r", lw=0.8)
    axes[1].set_xlabel("speed (m/s)")
    axes[1].set_ylabel("max |JAX − OpenSim| / peak, swing")
    axes[1].legend(fontsize=6)
    if raj is not None:
        for row in raj["rows"]:
            if row["coordinate"] in ("hip_flexion_r", "knee_angle_r", "ankle_angle_r"):
                axes[2].plot(row["time"], row["ref"], "k-", lw=2, alpha=0.4)
                axes[2].plot(row["time"], row["ours"], "--", lw=1, label=row["coordinate"])
        axes[2].set_title("Rajagopal run, force plates: OpenSim (grey), JAX")
        axes[2].set_xlabel("time (s)")
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out / "inverse_dynamics.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)

    lines = [
        "# Joint moments by inverse dynamics: JAX vs OpenSim",
        "",
        f"Result: **{'PASS' if passed else 'FAIL'}** "
        "(`python -m validation.inverse_dynamics --out results/validation`).",
        "",
        f"Kinematics for both implementations: zero-lag 4th-order Butterworth low-pass at "
        f"{CUTOFF_HZ:g} Hz (`filter_motion`), derivatives of a quintic interpolating spline "
        "(`motion_derivatives`), coupled patellar coordinates from the model's coupler.",
        "",
        "## (i) Sprint trials, swing legs (gated: max difference ≤ 1 % of OpenSim's swing peak)",
        "",
        "Same q, q̇, q̈ into `batched_generalized_forces` (OpenSim convention) and OpenSim's "
        "`InverseDynamicsSolver`; swing from kinematic gait events. `exact` is musclesim's "
        "exact-derivative convention for the walker knee's coupled rotations (not gated).",
        "",
        "| speed | coordinate | swing samples | OpenSim peak (N·m) | max diff (N·m) | "
        "% of peak | exact: % of peak | pass |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sprint_rows:
        ok = r["max_diff"] <= TOLERANCE * r["peak"]
        lines.append(
            f"| {r['speed']:g} m/s | {r['coordinate']} | {r['swing_samples']} | "
            f"{r['peak']:.1f} | {r['max_diff']:.2e} | {100 * r['max_diff'] / r['peak']:.1e} | "
            f"{100 * r['exact_diff'] / r['peak']:.2f} | {'yes' if ok else '**no**'} |"
        )
    timing = {r["speed"]: (r["jax_s"], r["opensim_s"]) for r in sprint_rows}
    lines += [
        "",
        "Wall time per trial (JAX compiled, chunks of 128 frames / OpenSim solver loop): "
        + ", ".join(f"{s:g} m/s {a:.2f} s / {b:.2f} s" for s, (a, b) in timing.items())
        + " (the first JAX call includes compilation).",
        "",
    ]
    if raj is None:
        lines += [
            "## (ii) Rajagopal running trial with force plates",
            "",
            "Skipped (--no-rajagopal).",
            "",
        ]
    else:
        t0, t1 = raj["time_range"]
        lines += [
            "## (ii) Rajagopal running trial with force plates (reported)",
            "",
            f"Scale + IK with OpenSim ({raj['pipeline_s']:.0f} s, IK marker RMS "
            f"{100 * raj['marker_rms_m']:.2f} cm), ID over {t0:g}-{t1:g} s "
            "(`id_setup_run.xml`), loads `grf_run.xml` + `grf_run.mot` (right force on "
            "`calcn_r`, left on `calcn_l`). OpenSim: `InverseDynamicsTool` (forces_to_exclude: "
            "All). JAX: `musclesim.dynamics.inverse.inverse_dynamics` with the same loads, "
            "OpenSim convention (column `generalized_force`).",
            "",
            "| coordinate | OpenSim peak (N·m) | RMS diff (N·m) | max diff (N·m) | RMS % of peak |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in raj["rows"]:
            lines.append(
                f"| {r['coordinate']} | {r['peak']:.1f} | {r['rms_diff']:.2e} | "
                f"{r['max_diff']:.2e} | {100 * r['rms_diff'] / r['peak']:.1e} |"
            )
        stance = raj["stance"]
        lines += [
            "",
            "Stance fraction in the window (vertical load > 20 N): "
            + ", ".join(
                f"{s} {100 * stance[:, i].mean():.0f} %" for i, s in enumerate(raj["sides"])
            )
            + ". The remaining differences come from the derivatives (OpenSim's GCV quintic "
            "splines vs our interpolating quintic) and the load interpolation (GCV cubic vs "
            "interpolating cubic), not from the dynamics, which agree to rounding in (i).",
            "",
        ]
    lines += ["![moments](inverse_dynamics.png)", ""]
    return write_text_atomic(out / "inverse_dynamics.md", "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    import jax

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument(
        "--no-rajagopal", action="store_true", help="skip part (ii) (scale + IK + ID tool)"
    )
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    from musclesim.core.io import shared_data_dir

    data_dir = args.data or shared_data_dir()
    rows = sprint(data_dir)
    passed = all(r["max_diff"] <= TOLERANCE * r["peak"] for r in rows)
    raj = None
    if not args.no_rajagopal:
        with tempfile.TemporaryDirectory(prefix="musclesim_id_val_") as work:
            raj = rajagopal(data_dir, Path(work))
    report = write_report(args.out, rows, raj, passed)
    print(report.read_text())
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
