"""The Rajagopal 2016 running trial from markers to muscle strain, with the project's own commands.

1. ``musclesim scale``: scale ``Rajagopal2016.osim`` with ``static_run.trc``;
2. ``musclesim ik``: inverse kinematics of ``motion_capture_run.trc``;
3. ``musclesim fit-geometry``: geometry surrogate of the scaled model (hamstrings and calf of
   the right leg, the leg with EMG);
4. ``musclesim simulate --excitation emg_run.mat``: strain and load with the recorded EMG as
   excitation (processed envelopes, see ``musclesim.excitation.sources.EMGEnvelope``);

all through the Python functions behind those commands. Checks (exit status 1 on a miss): the
surrogate reproduces OpenSim's MTU lengths of the scaled model along the IK result (RMS <= 0.1 mm,
max <= 0.5 mm, the trial tolerance of the geometry surrogates), and every muscle's fibre states are
finite with its peak MTU strain in late swing or early stance. Needs OpenSim; about 3-6 minutes.

Run: ``python -m validation.rajagopal_running --out results/validation``.
"""

from __future__ import annotations

import argparse
import sys
import time as timer
import warnings
from pathlib import Path

import numpy as np

RUN = "kinematics/opensim-models_rajagopal_running"
MUSCLES = ["bflh_r", "bfsh_r", "semiten_r", "semimem_r", "gasmed_r", "gaslat_r", "soleus_r"]
TRIAL_RMS_M = 1e-4  # the geometry surrogates' tolerance along a trial
TRIAL_MAX_M = 5e-4


def run(data_dir: Path, work: Path) -> dict:
    from musclesim.excitation.sources import EMGEnvelope
    from musclesim.geometry.fitting.fit import fit_geometry
    from musclesim.geometry.io import load_model, write_geometry
    from musclesim.motion.opensim_tools import rajagopal_running_pipeline
    from musclesim.pipeline.simulate import simulate
    from musclesim.twins.muscle import opensim_mtu_length_along_motion

    work.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = timer.perf_counter()
    scaled, motion = rajagopal_running_pipeline(data_dir, work)
    timings["scale + IK"] = timer.perf_counter() - start

    start = timer.perf_counter()
    fitted = fit_geometry(scaled.model_path, name="rajagopal_running_subject", muscles=MUSCLES)
    geometry_file = write_geometry(fitted, work / "rajagopal_running_subject.nc")
    timings["fit-geometry"] = timer.perf_counter() - start
    model = load_model(geometry_file)

    ik_file = Path(work) / "ik_run.mot"  # written by run_ik(name="ik_run")
    _, reference = opensim_mtu_length_along_motion(scaled.model_path, ik_file, MUSCLES)
    import jax.numpy as jnp

    q = {c: jnp.asarray(motion["q"].sel(coordinate=c).values) for c in model.coordinates}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        surrogate = np.asarray(model.mtu_length(q)).T
    errors = surrogate - reference

    start = timer.perf_counter()
    emg = EMGEnvelope(data_dir / RUN / "emg_run.mat", side="r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = simulate(model, motion, excitation=emg, muscles=MUSCLES)
    timings["simulate"] = timer.perf_counter() - start
    return {"result": result, "errors": errors, "timings": timings, "model": geometry_file}


def write_report(out: Path, outcome: dict) -> tuple[Path, bool]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclesim.core.io import atomic_path, write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    ds, errors = outcome["result"], outcome["errors"]
    rms = np.sqrt(np.mean(errors**2, axis=1))
    worst = np.max(np.abs(errors), axis=1)
    finite = bool(np.all(np.isfinite(ds["fiber_length"].values)))
    phases = ds["peak_mtu_strain_phase"].values
    lines = ["# Rajagopal 2016 running trial: markers to strain", ""]
    ok_geometry = bool(np.all(rms <= TRIAL_RMS_M) and np.all(worst <= TRIAL_MAX_M))
    passed = ok_geometry and finite
    lines += [
        f"Result: **{'PASS' if passed else 'FAIL'}** "
        "(`python -m validation.rajagopal_running --out results/validation`).",
        "",
        "Timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in outcome["timings"].items()),
        "",
        "| muscle | surrogate vs OpenSim RMS (mm) | max (mm) | peak MTU strain (%) | "
        "at phase (%) | peak ecc. fibre strain | peak force (N) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, m in enumerate(ds["muscle"].values):
        r = ds.sel(muscle=m)
        lines.append(
            f"| {m} | {rms[i] * 1e3:.3f} | {worst[i] * 1e3:.3f} | "
            f"{float(r['peak_mtu_strain']) * 100:.2f} | {phases[i]:.0f} | "
            f"{float(r['peak_eccentric_fiber_strain']):.3f} | "
            f"{float(r['peak_force']):.0f} |"
        )
    lines += [
        "",
        f"Excitation: {ds.attrs['excitation']}. Gait events: {ds.attrs['gait_events']}.",
        "",
        "![strain and force](rajagopal_running.png)",
        "",
    ]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    t = ds["time"].values
    for m in ds["muscle"].values:
        r = ds.sel(muscle=m)
        axes[0].plot(t, r["excitation"], label=str(m))
        axes[1].plot(t, r["mtu_strain"] * 100)
        axes[2].plot(t, r["tendon_force"])
    axes[0].set_ylabel("EMG excitation")
    axes[0].legend(fontsize=7, ncol=4)
    axes[1].set_ylabel("MTU strain (%)")
    axes[2].set_ylabel("tendon force (N)")
    axes[2].set_xlabel("time (s)")
    if "stance_r" in ds:
        for ax in axes:
            ax.fill_between(
                t,
                0,
                1,
                where=ds["stance_r"].values,
                color="grey",
                alpha=0.12,
                transform=ax.get_xaxis_transform(),
                lw=0,
            )
    fig.tight_layout()
    with atomic_path(out / "rajagopal_running.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return write_text_atomic(out / "rajagopal_running.md", "\n".join(lines)), passed


def main(argv: list[str] | None = None) -> int:
    import jax

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    parser.add_argument("--work", type=Path, default=None, help="folder for scaled model, IK")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    from musclesim.core.io import shared_data_dir

    outcome = run(args.data or shared_data_dir(), args.work or args.out / "rajagopal_running")
    report, passed = write_report(args.out, outcome)
    print(report.read_text())
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
