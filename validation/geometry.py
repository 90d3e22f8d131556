"""Fitted geometry surrogates against OpenSim 4.6 on the same poses.

For every shipped model paired with a measured trial (../shared/data/SOURCES.md 3.2):

* **held-out random poses** (uniform, seed different from the fit's) inside each muscle's stated
  domain: MTU length RMS <= 0.5 mm and maximum <= 2 mm for every fitted muscle (muscles with an
  exact path, :mod:`musclesim.geometry.path`, are checked the same way over the model's range);
* **every measured trial with its paired model**: RMS <= 0.1 mm and maximum <= 0.5 mm for every
  fitted muscle, over the frames inside the muscle's domain (frames outside are counted and
  reported; the surrogate flags them instead of extrapolating silently);
* **moment arms** of the hamstrings and calf along each trial: RMS <= 1 mm against -dL/dq of
  OpenSim's own lengths by central differences (step 1e-2 rad, see :data:`FD_STEP`; 1e-4 rad
  within 1e-2 rad of a conditional path point's threshold; the error against a 1e-4 rad step
  everywhere is reported beside it);
* **OpenSim's computeMomentArm** against its own -dL/dq (reported, not gated): where and by how
  much they disagree;
* **peak mtu_strain** (L / L_upright - 1) of each hamstring and calf muscle along each sprint
  trial within 0.1 percentage points of OpenSim's.

Which models: all shipped models are fitted by ``musclesim fit-geometry`` from the shared
``.osim`` files and shipped in ``models/`` (this script does not fit; it checks the sha256 of
the ``.osim`` against the one recorded in the fitted file).

Run: ``python -m validation.geometry --out results/validation/geometry`` (about 4 min on 2
cores, longer when they are shared; ``--quick`` subsamples frames and poses). Exit status 1 on
any miss.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

#: Trial -> (shipped model name, source .osim), from ../shared/data/SOURCES.md table 3.2.
TRIALS = {
    "walk": (
        "gait2392_subject01",
        "kinematics/opensim-models_gait2392_walking/subject01_walk1_ik.mot",
    ),
    "treadmill_run": (
        "hamner2010_subject02",
        "kinematics/opensim-models_hamner2010_running/subject02_running_ik.mot",
    ),
    "run_2ms": (
        "hamner2013_subject01",
        "kinematics/nimblephysics_hamner2013_running/run200_ik.mot",
    ),
    "run_3ms": (
        "hamner2013_subject01",
        "kinematics/nimblephysics_hamner2013_running/run300_ik.mot",
    ),
    "sprint_3.5ms": ("sprinter_ja1", "kinematics/nimblephysics_dorn2012_sprinter/run0350cms.mot"),
    "sprint_5ms": ("sprinter_ja1", "kinematics/nimblephysics_dorn2012_sprinter/run0500cms.mot"),
    "sprint_7ms": ("sprinter_ja1", "kinematics/nimblephysics_dorn2012_sprinter/run0700cms.mot"),
    "sprint_9ms": ("sprinter_ja1", "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"),
    "jump": ("opencap_jump", "kinematics/opencap-processing_jump/jump2.mot"),
}
SPRINTS = ("sprint_3.5ms", "sprint_5ms", "sprint_7ms", "sprint_9ms")
#: Models checked on held-out poses only (no paired trial).
EXTRA_MODELS = ("rajagopal2016",)

# The accuracy the geometry surrogates are held to (as in musclesim.geometry.records).
HELDOUT_RMS = 0.5e-3
HELDOUT_MAX = 2.0e-3
TRIAL_RMS = 0.1e-3
TRIAL_MAX = 0.5e-3
MOMENT_ARM_RMS = 1.0e-3
PEAK_STRAIN_PP = 0.1
#: Step (rad) of the central differences of OpenSim lengths that the moment arms are gated on.
#: OpenSim's wrapped paths have micro-steps in length of about 1 um (the sprinter's gaslat_r at
#: 40.08 deg knee flexion, ankle 0: 1.2 um between two poses 1e-4 rad apart), which a 1e-4 rad
#: central difference turns into a spike of about 12 mm in -dL/dq (sprint 5 m/s, gaslat_l: 10
#: of 285 frames off by more than 2 mm, up to 23.8 mm). At 1e-2 rad the spikes fall below
#: 0.06 mm while the truncation error r'' h^2 / 6 stays small: along run0900cms the hamstring,
#: gasmed and soleus arms at steps 1e-2 and 5e-3 rad agree within 0.012 mm (measured).
FD_STEP = 1e-2
#: The small step the moment arms are also reported against, and gated against at frames
#: within FD_STEP of a conditional path point's threshold read from the .osim (there a 1e-2
#: rad difference straddles the jump in length: the gait2392 gastrocnemii jump at -45 deg knee
#: angle, which gives spikes of 18-28 mm in -dL/dq).
FD_STEP_FINE = 1e-4


def _sampler(model, data_dir: Path):
    from musclesim.core.io import sha256_file
    from musclesim.geometry.fitting.fit import OpenSimSampler

    path = data_dir / "models" / model.source_file
    if sha256_file(path) != model.source_sha256:
        raise SystemExit(f"{path}: sha256 differs from the one recorded in model {model.name}")
    return OpenSimSampler(path)


def heldout(model, sampler, n: int, seed: int = 12345) -> dict:
    """Per-muscle errors on uniform random poses inside each muscle's domain."""
    import jax.numpy as jnp

    lo = np.asarray(model.domain_lower)
    hi = np.asarray(model.domain_upper)
    rng = np.random.default_rng(seed)
    out = {}
    # Sample per coordinate over the widest domain any muscle has; score each muscle inside its own.
    wlo = np.nanmin(np.where(np.isfinite(lo), lo, np.nan), axis=0)
    whi = np.nanmax(np.where(np.isfinite(hi), hi, np.nan), axis=0)
    q = {c: rng.uniform(wlo[k], whi[k], n) for k, c in enumerate(model.coordinates)}
    ref = sampler.lengths(q, list(model.muscles))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sur, mask = model.mtu_length({c: jnp.asarray(v) for c, v in q.items()}, return_mask=True)
    err = np.asarray(sur) - ref
    mask = np.asarray(mask)
    for j, m in enumerate(model.muscles):
        e = err[mask[:, j], j]
        out[m] = (float(np.sqrt(np.mean(e**2))), float(np.max(np.abs(e))), int(mask[:, j].sum()))
    return out


def trial_check(model, sampler, motion_path: Path, *, stride: int, arms_for, fd: bool) -> dict:
    """Lengths along a trial (every frame), moment arms (every ``stride``-th frame)."""
    import warnings

    import jax.numpy as jnp

    from musclesim.motion.read import read_motion

    motion = read_motion(motion_path, model=sampler.path)
    names = [str(c) for c in motion["coordinate"].values]
    qv = motion["q"].values
    missing = model.missing_coordinates(names)
    if missing:
        raise SystemExit(f"{motion_path}: missing coordinates {missing} for model {model.name}")
    usable = [c for c in names if c in sampler.coordinates and not sampler.coordinates[c].dependent]
    poses = {c: qv[:, names.index(c)] for c in usable}
    ref = sampler.lengths(poses, list(model.muscles))
    q = {c: jnp.asarray(qv[:, names.index(c)]) for c in model.coordinates}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sur, mask = model.mtu_length(q, return_mask=True)
        arms = np.asarray(model.moment_arm({c: v[::stride] for c, v in q.items()}))
        conv = (
            arms + np.asarray(model.moment_arm_correction({c: v[::stride] for c, v in q.items()}))
            if model.arm_convention_fitted
            else None
        )
    sur, mask = np.asarray(sur), np.asarray(mask)
    res = {
        "frames": len(qv),
        "lengths": {},
        "arms": {},
        "arms_fine": {},
        "opensim_arm": {},
        "convention_arm": {},
        "ref": ref,
        "sur": sur,
        "mask": mask,
        "q": q,
        "upright_ref": None,
    }
    for j, m in enumerate(model.muscles):
        e = (sur - ref)[mask[:, j], j]
        res["lengths"][m] = (
            float(np.sqrt(np.mean(e**2))) if e.size else math.nan,
            float(np.max(np.abs(e))) if e.size else math.nan,
            int((~mask[:, j]).sum()),
        )
    if not fd:
        return res
    sub = {c: v[::stride] for c, v in poses.items()}
    idx = [model.muscle_index(m) for m in arms_for]
    from musclesim.geometry.fitting.fit import conditional_ranges

    jumps = conditional_ranges(sampler.path)
    for c in model.coordinates:
        k = model.coordinates.index(c)
        crossing = [m for m, i in zip(arms_for, idx, strict=True) if np.any(arms[:, i, k] != 0)]
        if not crossing:
            continue
        up = sampler.lengths(dict(sub, **{c: sub[c] + FD_STEP}), crossing)
        dn = sampler.lengths(dict(sub, **{c: sub[c] - FD_STEP}), crossing)
        fd_arm = -(up - dn) / (2 * FD_STEP)
        up = sampler.lengths(dict(sub, **{c: sub[c] + FD_STEP_FINE}), crossing)
        dn = sampler.lengths(dict(sub, **{c: sub[c] - FD_STEP_FINE}), crossing)
        fd_fine = -(up - dn) / (2 * FD_STEP_FINE)
        osim_arm = sampler.moment_arms(sub, crossing, [c])[:, :, 0]
        for j, m in enumerate(crossing):
            i = model.muscle_index(m)
            ok = mask[::stride, i]
            near = np.zeros(len(sub[c]), dtype=bool)
            for coord, lo, hi in jumps.get(m, []):
                if coord == c:
                    for v in (lo, hi):
                        near |= np.abs(sub[c] - v) <= FD_STEP
            fd_arm[near, j] = fd_fine[near, j]
            e = (arms[:, i, k] - fd_arm[:, j])[ok]
            res["arms"][(m, c)] = (float(np.sqrt(np.mean(e**2))), float(np.max(np.abs(e))))
            e = (arms[:, i, k] - fd_fine[:, j])[ok]
            spikes = np.abs(fd_fine[:, j] - fd_arm[:, j])[ok]
            res["arms_fine"][(m, c)] = (
                float(np.sqrt(np.mean(e**2))),
                int((spikes > 1e-3).sum()),
                float(spikes.max()) if spikes.size else 0.0,
                int(ok.sum()),
            )
            if (
                conv is not None
                and model.arm_correction_pairs
                and (i, k) in set(model.arm_correction_pairs)
            ):
                e = (conv[:, i, k] - osim_arm[:, j])[ok]
                e0 = (arms[:, i, k] - osim_arm[:, j])[ok]
                res["convention_arm"][(m, c)] = (
                    float(np.sqrt(np.mean(e**2))),
                    float(np.max(np.abs(e))),
                    float(np.sqrt(np.mean(e0**2))),
                )
            d = osim_arm[:, j] - fd_arm[:, j]
            w = int(np.argmax(np.abs(d)))
            res["opensim_arm"][(m, c)] = (
                float(np.sqrt(np.mean(d**2))),
                float(d[w]),
                {cc: float(sub[cc][w]) for cc in sub},
                d,
                {cc: sub[cc] for cc in sub},
            )
    return res


def run(data_dir: Path, *, quick: bool = False) -> dict:
    from musclesim import load_model, muscle_group

    n_heldout = 400 if quick else 2000
    stride = 8 if quick else 2
    models: dict[str, object] = {}
    samplers: dict[str, object] = {}
    results = {"heldout": {}, "trials": {}, "peaks": {}, "timing": {}}
    for name, _ in TRIALS.values():
        models.setdefault(name, load_model(name))
    for name in EXTRA_MODELS:
        models.setdefault(name, load_model(name))
    for name, model in models.items():
        t0 = time.perf_counter()
        samplers[name] = _sampler(model, data_dir)
        results["heldout"][name] = heldout(model, samplers[name], n_heldout)
        results["timing"][f"heldout {name}"] = time.perf_counter() - t0
    for trial, (name, rel) in TRIALS.items():
        t0 = time.perf_counter()
        model = models[name]
        focus = muscle_group("hamstrings", model.muscles) + muscle_group("calf", model.muscles)
        results["trials"][trial] = r = trial_check(
            model, samplers[name], data_dir / rel, stride=stride, arms_for=focus, fd=True
        )
        if trial in SPRINTS:
            upright_ref = samplers[name].lengths(
                {c: np.zeros(1) for c in model.coordinates}, list(model.muscles)
            )[0]
            for m in focus:
                i = model.muscle_index(m)
                p_ref = 100 * (r["ref"][:, i].max() / upright_ref[i] - 1)
                p_sur = 100 * (r["sur"][:, i].max() / float(model.upright_length[i]) - 1)
                results["peaks"][(trial, m)] = (p_ref, p_sur)
        results["timing"][trial] = time.perf_counter() - t0
    results["models"] = models
    return results


def evaluate(results) -> tuple[list[str], list[str]]:
    """Markdown lines and the list of misses."""
    lines, misses = [], []
    lines += ["# Geometry surrogates vs OpenSim 4.6", ""]
    lines += [
        "## Held-out random poses inside each muscle's domain",
        "",
        f"Tolerance: RMS <= {HELDOUT_RMS * 1e3} mm, max <= {HELDOUT_MAX * 1e3} mm.",
        "",
        "| model | muscles | worst RMS (mm) | worst max (mm) | misses |",
        "|---|---|---|---|---|",
    ]
    for name, per in results["heldout"].items():
        bad = [m for m, (rms, mx, _) in per.items() if rms > HELDOUT_RMS or mx > HELDOUT_MAX]
        worst_rms = max(v[0] for v in per.values())
        worst_max = max(v[1] for v in per.values())
        listed = ", ".join(f"{m} ({per[m][0] * 1e3:.2f}/{per[m][1] * 1e3:.2f})" for m in bad)
        lines.append(
            f"| {name} | {len(per)} | {worst_rms * 1e3:.4f} | {worst_max * 1e3:.4f} | "
            f"{listed or '-'} |"
        )
        misses += [f"held-out {name} {m}" for m in bad]
    exact = {n: m.path_muscles for n, m in results.get("models", {}).items() if m.path_muscles}
    if exact:
        lines += [
            "",
            "Evaluated from their exact OpenSim path (`musclesim fit-path`; domain: the model's "
            "whole coordinate range, no excluded region): "
            + "; ".join(f"{n}: {', '.join(ms)}" for n, ms in exact.items())
            + ".",
        ]
    lines += [
        "",
        "## Measured trials (every frame inside the domain)",
        "",
        f"Tolerance: RMS <= {TRIAL_RMS * 1e3} mm, max <= {TRIAL_MAX * 1e3} mm for every "
        "fitted muscle.",
        "",
        "| trial | model | frames | worst RMS (mm) | worst max (mm) | muscles over | "
        "frames outside domain (muscle: n) |",
        "|---|---|---|---|---|---|---|",
    ]
    for trial, r in results["trials"].items():
        name = TRIALS[trial][0]
        per = r["lengths"]
        bad = [
            m
            for m, (rms, mx, _) in per.items()
            if not (rms <= TRIAL_RMS and mx <= TRIAL_MAX) and not math.isnan(rms)
        ]
        outside = {m: n for m, (_, _, n) in per.items() if n}
        worst_rms = np.nanmax([v[0] for v in per.values()])
        worst_max = np.nanmax([v[1] for v in per.values()])
        listed = ", ".join(f"{m} ({per[m][0] * 1e3:.3f}/{per[m][1] * 1e3:.3f})" for m in bad)
        lines.append(
            f"| {trial} | {name} | {r['frames']} | {worst_rms * 1e3:.4f} | {worst_max * 1e3:.4f} "
            f"| {listed or '-'} | {', '.join(f'{m}: {n}' for m, n in outside.items()) or '-'} |"
        )
        misses += [f"trial {trial} {m}" for m in bad]
        misses += [
            f"trial {trial} {m} outside its domain at {n} frame(s)" for m, n in outside.items()
        ]
    lines += [
        "",
        "## Moment arms of the hamstrings and calf vs -dL/dq of OpenSim lengths",
        "",
        f"Tolerance: RMS <= {MOMENT_ARM_RMS * 1e3} mm. Central differences, step {FD_STEP} rad "
        f"(gated). Beside it, the RMS against a {FD_STEP_FINE} rad step, and the frames where "
        f"the two OpenSim references differ by more than 1 mm (OpenSim's micro-steps in length "
        "of ~1 um on wrapped paths; see FD_STEP in validation/geometry.py).",
        "",
        f"| trial | worst (muscle, coordinate) | RMS (mm) | max (mm) | RMS vs {FD_STEP_FINE} rad "
        "step (mm) | reference spikes > 1 mm (frames, largest mm) |",
        "|---|---|---|---|---|---|",
    ]
    for trial, r in results["trials"].items():
        if not r["arms"]:
            continue
        key = max(r["arms"], key=lambda k: r["arms"][k][0])
        rms, mx = r["arms"][key]
        fine, n_spikes, spike, n = r["arms_fine"][key]
        lines.append(
            f"| {trial} | {key[0]}, {key[1]} | {rms * 1e3:.3f} | {mx * 1e3:.3f} | "
            f"{fine * 1e3:.3f} | {n_spikes} of {n}, {spike * 1e3:.1f} |"
        )
        misses += [
            f"moment arm {trial} {k}" for k, (a, _) in r["arms"].items() if a > MOMENT_ARM_RMS
        ]
    lines += [
        "",
        "## OpenSim computeMomentArm vs its own -dL/dq (reported, not gated)",
        "",
        "| trial | muscle, coordinate | RMS (mm) | largest (mm) | at |",
        "|---|---|---|---|---|",
    ]
    for trial, r in results["trials"].items():
        for (m, c), (rms, worst, at, _, _) in r["opensim_arm"].items():
            if rms > 0.5e-3:
                where = ", ".join(
                    f"{k} {math.degrees(v):.0f} deg"
                    for k, v in at.items()
                    if k.startswith(("knee", "ankle", "hip_flexion")) and k.endswith(m[-2:])
                )
                lines.append(
                    f"| {trial} | {m}, {c} | {rms * 1e3:.2f} | {worst * 1e3:+.2f} | {where} |"
                )
    lines += [
        "",
        "## musclesim's OpenSim moment-arm convention vs computeMomentArm (reported)",
        "",
        "Pairs with a fitted correction (`musclesim fit-arm-convention`), along each trial:",
        "`moment_arm(q, convention='opensim')` against OpenSim's `computeMomentArm`, and the",
        "default convention (-dL/dq) against it.",
        "",
        "| trial | muscle, coordinate | RMS (mm) | max (mm) | -dL/dq convention RMS (mm) |",
        "|---|---|---|---|---|",
    ]
    for trial, r in results["trials"].items():
        for (m, c), (rms, mx, rms0) in r["convention_arm"].items():
            lines.append(
                f"| {trial} | {m}, {c} | {rms * 1e3:.2f} | {mx * 1e3:.2f} | {rms0 * 1e3:.2f} |"
            )
    lines += [
        "",
        "## Peak mtu_strain along the sprint trials (percentage points)",
        "",
        f"Tolerance: |surrogate - OpenSim| <= {PEAK_STRAIN_PP} pp.",
        "",
        "| trial | muscle | OpenSim % | surrogate % | difference pp |",
        "|---|---|---|---|---|",
    ]
    for (trial, m), (p_ref, p_sur) in results["peaks"].items():
        lines.append(f"| {trial} | {m} | {p_ref:.3f} | {p_sur:.3f} | {p_sur - p_ref:+.4f} |")
        if abs(p_sur - p_ref) > PEAK_STRAIN_PP:
            misses.append(f"peak strain {trial} {m}")
    lines += ["", "## Time (s)", ""] + [f"- {k}: {v:.1f}" for k, v in results["timing"].items()]
    lines += ["", f"**{len(misses)} miss(es).**", ""] + [f"- {m}" for m in misses]
    return lines, misses


def figure(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = results["trials"]["sprint_9ms"]
    model = results["models"]["sprinter_ja1"]
    fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    t = np.arange(r["frames"]) / 250.0
    for m in ("bflh_r", "gasmed_r"):
        i = model.muscle_index(m)
        axes[0].plot(t, r["ref"][:, i] * 1e3, label=f"{m} OpenSim")
        axes[0].plot(t, r["sur"][:, i] * 1e3, "--", label=f"{m} surrogate")
        axes[1].plot(t, (r["sur"][:, i] - r["ref"][:, i]) * 1e3, label=m)
    axes[0].set_ylabel("L_MTU (mm)")
    axes[0].legend(fontsize=7)
    axes[1].set_ylabel("surrogate - OpenSim (mm)")
    axes[1].legend(fontsize=7)
    key = ("gaslat_r", "knee_angle_r")
    if key in r["opensim_arm"]:
        d = r["opensim_arm"][key][3]
        stride = max(1, r["frames"] // len(d))
        axes[2].plot(t[::stride][: len(d)], d * 1e3)
        axes[2].set_ylabel("gaslat_r knee: computeMomentArm\n- (-dL/dq) (mm)")
    axes[2].set_xlabel("time in run0900cms (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    from musclesim.core.io import shared_data_dir, write_text_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation/geometry"))
    parser.add_argument("--quick", action="store_true", help="fewer poses and frames")
    args = parser.parse_args(argv)
    results = run(shared_data_dir(), quick=args.quick)
    lines, misses = evaluate(results)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "geometry.md", "\n".join(lines) + "\n")
    figure(results, args.out / "geometry.png")
    print("\n".join(lines))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
