"""Static-optimisation activations beside the recorded EMG of the Rajagopal 2016 running trial.

The trial is the one with force plates and EMG in ``../shared/data``
(``opensim-models_rajagopal_running``): ``musclesim scale`` + ``ik`` of the markers, a
geometry surrogate of the scaled model's 40 right-leg muscles (``fit-geometry``, cached in the
output folder), then ``simulate --excitation static_optimization --grf grf_run.xml`` through
the Python API: JAX inverse dynamics with the force plates applied to the feet (as
``grf_run.xml`` assigns them), static optimisation over all right-leg muscles, stance and swing
both valid.

For each EMG channel (right leg, 11 muscles), the activation of the muscle it records is set
beside the processed EMG envelope (:class:`musclesim.EMGEnvelope`: band-pass, rectify,
low-pass, normalised to the trial's peak) over the stance and swing samples with ground
reaction forces: the Pearson correlation, the lag of the cross-correlation peak (positive:
the optimised activation comes later than the EMG), and the share of each signal's activity
that falls in stance. Burst timing is what EMG can check (its amplitude is not force); the
comparison is reported, not gated, because static optimisation has no activation dynamics or
co-contraction and the envelopes of this trial appear to lag its force plates by ~40 ms (see
``musclesim.excitation.sources``). The exit status is 1 when our own computation fails: a
non-converged optimisation frame or non-finite activations.

Run: ``python -m validation.load_sharing_emg --out results/validation`` (about 6-10 min, the
first time with the geometry fit).
"""

from __future__ import annotations

import argparse
import sys
import time as timer
import warnings
from pathlib import Path

import numpy as np

RUN = "kinematics/opensim-models_rajagopal_running"
#: EMG channel of ``emg_run.mat`` → the right-leg muscle of Rajagopal2016 it records. Gluteus
#: maximus and medius electrodes sit over the muscle's middle portion (glmax2, glmed2).
CHANNELS = {
    "SOL": "soleus_r",
    "GASLAT": "gaslat_r",
    "GASMED": "gasmed_r",
    "TA": "tibant_r",
    "SM": "semimem_r",
    "BFLH": "bflh_r",
    "VL": "vaslat_r",
    "VM": "vasmed_r",
    "RF": "recfem_r",
    "GMAX": "glmax2_r",
    "GMED": "glmed2_r",
}
#: Largest lag searched (s): half a running stride is ~0.35 s; activation-EMG delays reported
#: for running are tens of ms (electromechanical delay ~10-100 ms, Cavanagh & Komi 1979,
#: doi:10.1007/BF00421101), so ±0.15 s covers them without wrapping to the next burst.
MAX_LAG_S = 0.15
#: The stride the Rajagopal 2016 pipeline itself compares with EMG: right foot strikes at
#: 0.863 s and 1.546 s (``Pipelines/Rajagopal/scripts/validationPlots_emg_run.m`` in
#: opensim-org/opensim-models, beside ``emg_run.mat``).
REFERENCE_STRIDE_S = (0.863, 1.546)


def right_leg_muscles() -> list[str]:
    """Every right-leg muscle of the generic Rajagopal 2016 geometry that crosses its hip,
    knee or ankle (the scaled model has the same muscles)."""
    from musclesim.dynamics.static_opt import crossing_muscles, leg_coordinates
    from musclesim.geometry.io import load_model

    generic = load_model("rajagopal2016")
    return list(crossing_muscles(generic, leg_coordinates(generic, "r")))


def _geometry(scaled_path: Path, work: Path) -> Path:
    """The scaled model's right-leg geometry, fitted once and reused while its source matches."""
    import xarray as xr

    from musclesim.core.io import sha256_file
    from musclesim.geometry.fitting.fit import fit_geometry
    from musclesim.geometry.io import write_geometry

    target = work / "rajagopal_running_leg_r.nc"
    if target.is_file():
        with xr.open_dataset(target) as ds:
            if ds.attrs.get("source_sha256") == sha256_file(scaled_path):
                return target
    fitted = fit_geometry(scaled_path, name="rajagopal_running_leg_r", muscles=right_leg_muscles())
    return write_geometry(fitted, target)


def lag_and_correlation(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Lag (s) maximising the correlation of ``a`` with ``b`` (positive: ``a`` later), and
    the zero-lag Pearson correlation. Uniform ``t``."""
    dt = float(np.median(np.diff(t)))
    za = (a - a.mean()) / (a.std() or 1.0)
    zb = (b - b.mean()) / (b.std() or 1.0)
    n = za.size
    shifts = range(-int(MAX_LAG_S / dt), int(MAX_LAG_S / dt) + 1)
    best = max(
        shifts,
        key=lambda k: (
            np.dot(za[max(k, 0) : n + min(k, 0)], zb[max(-k, 0) : n - max(k, 0)]) / (n - abs(k))
        ),
    )
    return best * dt, float(np.corrcoef(a, b)[0, 1])


def run(data_dir: Path, work: Path) -> dict:
    from musclesim.excitation.sources import EMGEnvelope
    from musclesim.motion.opensim_tools import rajagopal_running_pipeline
    from musclesim.pipeline.simulate import simulate

    work.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = timer.perf_counter()
    scaled, motion = rajagopal_running_pipeline(data_dir, work)
    timings["scale + IK"] = timer.perf_counter() - start
    start = timer.perf_counter()
    geometry = _geometry(scaled.model_path, work)
    timings["geometry (fit or cached)"] = timer.perf_counter() - start

    run_dir = data_dir / RUN
    start = timer.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # domain warnings: counted below from in_fit_domain
        ds = simulate(
            geometry,
            motion,
            excitation="static_optimization",
            muscles=list(CHANNELS.values()),
            osim=scaled.model_path,
            grf=run_dir / "grf_run.xml",
            grf_data=run_dir / "grf_run.mot",
        )
    timings["ID + SO + fibre dynamics"] = timer.perf_counter() - start

    t = ds["time"].values
    emg = EMGEnvelope(
        run_dir / "emg_run.mat",
        side="r",
        channel_map={k: (v[:-2],) for k, v in CHANNELS.items()},
    )
    envelope = np.asarray(emg(t, list(CHANNELS.values())))
    rows = []
    stance = ds["stance_r"].values.astype(bool)
    ref = (t >= REFERENCE_STRIDE_S[0]) & (t <= REFERENCE_STRIDE_S[1])
    activation = {
        m: ds["static_optimization_activation"].sel(muscle=m).values for m in CHANNELS.values()
    }
    for j, (channel, muscle) in enumerate(CHANNELS.items()):
        act = activation[muscle]
        lag, r = lag_and_correlation(t, act, envelope[:, j])
        ref_lag, ref_r = lag_and_correlation(t[ref], act[ref], envelope[ref, j])
        rows.append(
            {
                "channel": channel,
                "muscle": muscle,
                "lag_s": lag,
                "r": r,
                "ref_lag_s": ref_lag,
                "ref_r": ref_r,
                "stance_share_so": float(act[stance].sum() / max(act.sum(), 1e-12)),
                "stance_share_emg": float(
                    envelope[stance, j].sum() / max(envelope[:, j].sum(), 1e-12)
                ),
                "peak_activation": float(act.max()),
            }
        )
    # Lag stride by stride (median over channels): does the EMG clock drift?
    strikes = np.flatnonzero(stance[1:] & ~stance[:-1]) + 1
    per_stride = []
    for a, b in zip(strikes[:-1], strikes[1:], strict=True):
        lags = [
            lag_and_correlation(t[a:b], activation[m][a:b], envelope[a:b, j])[0]
            for j, m in enumerate(CHANNELS.values())
        ]
        per_stride.append((float(t[a]), float(np.median(lags))))
    drift = (
        float(np.polyfit(*np.array(per_stride).T, 1)[0]) if len(per_stride) >= 3 else float("nan")
    )
    converged = bool(np.all(ds["static_optimization_converged"].values))
    finite = bool(np.all(np.isfinite(ds["static_optimization_activation"].values)))
    return {
        "rows": rows,
        "ds": ds,
        "envelope": envelope,
        "timings": timings,
        "converged": converged,
        "finite": finite,
        "in_domain": float(ds["in_fit_domain"].values.mean()),
        "stance_fraction": float(stance.mean()),
        "per_stride": per_stride,
        "drift": drift,
    }


def write_report(out: Path, r: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclesim.core.io import atomic_path, write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    ds, env = r["ds"], r["envelope"]
    t = ds["time"].values
    stance = ds["stance_r"].values.astype(bool)
    fig, axes = plt.subplots(len(CHANNELS), 1, figsize=(10, 1.3 * len(CHANNELS)), sharex=True)
    for j, (channel, muscle) in enumerate(CHANNELS.items()):
        ax = axes[j]
        ax.fill_between(t, 0, 1, where=stance, color="0.9", step="mid")
        ax.plot(t, env[:, j], color="0.4", lw=1, label="EMG envelope")
        ax.plot(
            t, ds["static_optimization_activation"].sel(muscle=muscle), "C3", lw=1.2, label="SO"
        )
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(channel, rotation=0, ha="right")
    axes[0].legend(loc="upper right", ncol=2, fontsize=7)
    axes[-1].set_xlabel("time (s); grey: right stance (force plate)")
    fig.tight_layout()
    png = out / "load_sharing_emg.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)

    lines = [
        "# Static-optimisation activations vs recorded EMG (Rajagopal 2016 running trial)",
        "",
        "`python -m validation.load_sharing_emg --out results/validation`. Scaled "
        "Rajagopal2016 model and IK from the trial's markers; joint moments by JAX inverse "
        "dynamics with both force plates (`grf_run.xml`); static optimisation (activation², "
        "reserves) over the 40 right-leg muscles; EMG envelopes normalised to each channel's "
        f"peak. {r['stance_fraction'] * 100:.0f} % of the samples are right stance; "
        f"{r['in_domain'] * 100:.1f} % of the muscle samples lie inside the geometry's fit "
        "domain.",
        "",
        f"Reference stride: {REFERENCE_STRIDE_S[0]}-{REFERENCE_STRIDE_S[1]} s, the one the "
        "Rajagopal 2016 pipeline compares with EMG (its `validationPlots_emg_run.m`).",
        "",
        "| channel | muscle | reference stride: r (zero lag) | lag of best match (ms; + = SO "
        "later) | whole trial: r | lag (ms) | share of activity in stance: SO / EMG "
        "| SO peak activation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['channel']} | {row['muscle']} | {row['ref_r']:.2f} | "
            f"{row['ref_lag_s'] * 1e3:+.0f} | {row['r']:.2f} | {row['lag_s'] * 1e3:+.0f} "
            f"| {row['stance_share_so']:.2f} / {row['stance_share_emg']:.2f} "
            f"| {row['peak_activation']:.2f} |"
        )
    lags = np.array([row["ref_lag_s"] for row in r["rows"]]) * 1e3
    rs = np.array([row["ref_r"] for row in r["rows"]])
    lines += [
        "",
        f"Reference stride: median correlation {np.median(rs):.2f}; median lag "
        f"{np.median(lags):+.0f} ms (range {lags.min():+.0f} to {lags.max():+.0f}).",
        "",
        "Median lag (over channels) stride by stride: "
        + ", ".join(f"{t0:.2f} s {lag * 1e3:+.0f} ms" for t0, lag in r["per_stride"])
        + f"; linear trend {r['drift'] * 1e3:+.0f} ms per second of trial. A trend means the "
        "EMG and motion clocks drift apart (the EMG file's own time column is used as given); "
        "the reference stride is the one the data's authors aligned.",
        "",
        f"Computation checks: optimisation converged at every sample: {r['converged']}; "
        f"finite activations: {r['finite']}.",
        "",
        "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["timings"].items()),
        "",
        f"![figure]({png.name})",
        "",
    ]
    return write_text_atomic(out / "load_sharing_emg.md", "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    import jax

    from musclesim.core.io import shared_data_dir

    jax.config.update("jax_enable_x64", True)  # this program's choice, as in the CLI

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    args = parser.parse_args(argv)
    r = run(shared_data_dir(), args.out / "load_sharing_emg_work")
    report = write_report(args.out, r)
    print(report.read_text())
    return 0 if r["converged"] and r["finite"] else 1


if __name__ == "__main__":
    sys.exit(main())
