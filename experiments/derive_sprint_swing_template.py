"""Derive the swing-phase excitation of running at speed from static optimisation.

Reads the four Dorn et al. 2012 sprint trials of subject JA1 in ``../shared/data``
(run0350cms.mot … run0900cms.mot, with ``Sprinter_JA1_scaled.osim``), and along each runs
the project's static optimisation of the right leg
(:func:`musclesim.pipeline.simulate.static_optimization_source`: kinematics low-pass
filtered at ``STATIC_OPTIMIZATION_CUTOFF_HZ``, JAX inverse dynamics with the model's segment
inertias, all muscles crossing the right hip, knee and ankle of the shipped ``sprinter_ja1``
geometry, default exponent and reserves; frames that miss the solver's tolerance are kept and
counted, ``swing_converged_fraction``). The trials have no force plates, so the stance
moments miss the ground load: only swing is kept.

Per complete right stride (0 = right foot strike, events from
:func:`musclesim.motion.gait.detect_events` with the model's leg geometry) the swing part,
toe-off to the next foot strike, is resampled onto ``SWING_PHASE`` (% of swing) and the
strides are averaged, for the activations and the excitations (the activations with De
Groote's activation dynamics inverted) of the hamstrings and calf muscles that the gait-phase
templates use. Written to ``musclesim/excitation/sprint_swing_template.toml`` atomically with
each source file's name and sha256, the settings, the measured speed and the mean toe-off
phase per trial. The shared files are never copied.

Run: ``python -m experiments.derive_sprint_swing_template`` (several minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time as timer
import warnings
from pathlib import Path

import jax
import numpy as np

from musclesim.core.io import sha256_file, shared_data_dir, write_text_atomic
from musclesim.dynamics.static_opt import DEFAULT_EXPONENT, DEFAULT_RESERVE_OPTIMAL_FORCE
from musclesim.excitation.templates import overground_speed
from musclesim.geometry.io import load_model
from musclesim.motion.gait import detect_events
from musclesim.motion.read import read_motion
from musclesim.pipeline.simulate import STATIC_OPTIMIZATION_CUTOFF_HZ, static_optimization_source

MODEL = "models/Sprinter_JA1_scaled.osim"
GEOMETRY = "sprinter_ja1"
MOTIONS = tuple(
    f"kinematics/nimblephysics_dorn2012_sprinter/run{s}cms.mot"
    for s in ("0350", "0500", "0700", "0900")
)
#: Right-leg muscles whose swing pattern is kept: those of the gait-phase templates.
MUSCLES = ("bflh_r", "bfsh_r", "semiten_r", "semimem_r", "gasmed_r", "gaslat_r", "soleus_r")
#: Swing phase (% of swing: 0 = toe-off, 100 = next foot strike) of the stored curves.
SWING_PHASE = np.linspace(0.0, 100.0, 26)
OUT = Path(__file__).resolve().parent.parent / "musclesim/excitation/sprint_swing_template.toml"
COMMAND = "python -m experiments.derive_sprint_swing_template"


def swing_curves(time, values, events) -> tuple[np.ndarray, np.ndarray]:
    """Each complete stride's swing of ``values`` (time × muscle) resampled onto SWING_PHASE.

    Returns (stride × swing phase × muscle, toe-off phase % of each stride)."""
    curves, toe = [], []
    for start, off, end in events.strides():
        if off < time[0] or end > time[-1]:
            continue
        at = off + SWING_PHASE / 100.0 * (end - off)
        curves.append(np.stack([np.interp(at, time, v) for v in values.T], axis=-1))
        toe.append(100.0 * (off - start) / (end - start))
    return np.asarray(curves), np.asarray(toe)


def analyse_trial(data_dir: Path, rel: str, geometry) -> dict:
    """Static optimisation along one trial and its stride-averaged swing curves."""
    path = data_dir / rel
    motion = read_motion(path)
    events = detect_events(motion, side="r", model=data_dir / MODEL)
    start = timer.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pose-domain warnings concern stance extremes too
        source = static_optimization_source(
            geometry, motion, ["r"], osim=data_dir / MODEL, on_failure="flag"
        )
    elapsed = timer.perf_counter() - start
    so = source.datasets["r"]
    t = np.asarray(so["time"].values, dtype=float)
    act = np.asarray(so["activation"].sel(muscle=list(MUSCLES)).values, dtype=float)
    exc = np.asarray(so["excitation"].sel(muscle=list(MUSCLES)).values, dtype=float)
    act_c, toe = swing_curves(t, act, events)
    exc_c, _ = swing_curves(t, exc, events)
    converged = np.asarray(so["converged"].values, dtype=bool)
    in_swing = np.zeros(t.size, dtype=bool)
    for _start, off, end in events.strides():
        in_swing |= (t >= off) & (t <= end)
    return {
        "file": rel,
        "sha256": sha256_file(path),
        "speed": overground_speed(motion),
        "toe_off": float(np.mean(toe)),
        "n_strides": int(act_c.shape[0]),
        "activation": act_c.mean(axis=0),
        "activation_sd": act_c.std(axis=0),
        "excitation": exc_c.mean(axis=0),
        "swing_converged_fraction": float(np.mean(converged[in_swing])),
        "seconds": elapsed,
    }


def _floats(values) -> str:
    return "[" + ", ".join(f"{float(v):.4f}" for v in values) + "]"


def to_toml(trials: list[dict], data_dir: Path) -> str:
    """The data file's text: header (how it was made), settings, then one table per trial."""
    lines = [
        "# Swing-phase excitation of running at speed, from static optimisation along the",
        "# Dorn et al. 2012 sprint trials of subject JA1 (doi:10.1242/jeb.064527).",
        f"# Written by `{COMMAND}`; read by musclesim/excitation/sprint_swing.py.",
        "# Curves: stride-averaged over complete right strides, swing only (toe-off = 0 %,",
        "# next right foot strike = 100 % of swing); the trials have no force plates, so",
        "# stance is not represented here. Speeds: pelvis_tx net displacement / duration.",
        "",
        f'model = "{MODEL}"',
        f'model_sha256 = "{sha256_file(data_dir / MODEL)}"',
        f'geometry = "{GEOMETRY}"',
        f"muscles = [{', '.join(f'{m!r}'.replace(chr(39), chr(34)) for m in MUSCLES)}]",
        f"swing_phase_percent = {_floats(SWING_PHASE)}",
        "",
        "[settings]",
        f"lowpass_cutoff_hz = {STATIC_OPTIMIZATION_CUTOFF_HZ}",
        f"exponent = {DEFAULT_EXPONENT}",
        f'reserve_optimal_force_Nm = "{DEFAULT_RESERVE_OPTIMAL_FORCE}"',
        "include_passive = true",
        "active_along_tendon = true",
        'tendon = "rigid"',
        'events = "musclesim.motion.gait.detect_events (kinematic, model leg geometry)"',
        "",
    ]
    for tr in trials:
        lines += [
            "[[trial]]",
            f'file = "{tr["file"]}"',
            f'sha256 = "{tr["sha256"]}"',
            f"speed_m_per_s = {tr['speed']:.3f}",
            f"toe_off_percent = {tr['toe_off']:.2f}",
            f"n_strides = {tr['n_strides']}",
            f"swing_converged_fraction = {tr['swing_converged_fraction']:.4f}",
            "",
            "[trial.activation]",
            *(f"{m[:-2]} = {_floats(tr['activation'][:, j])}" for j, m in enumerate(MUSCLES)),
            "",
            "[trial.activation_sd]",
            *(f"{m[:-2]} = {_floats(tr['activation_sd'][:, j])}" for j, m in enumerate(MUSCLES)),
            "",
            "[trial.excitation]",
            *(f"{m[:-2]} = {_floats(tr['excitation'][:, j])}" for j, m in enumerate(MUSCLES)),
            "",
        ]
    return "\n".join(lines)


def build(data_dir: Path, *, motions=MOTIONS) -> tuple[str, list[dict]]:
    """Run every trial; the data file's text and the per-trial results."""
    geometry = load_model(GEOMETRY)
    trials = [analyse_trial(data_dir, rel, geometry) for rel in motions]
    return to_toml(trials, data_dir), trials


def run(data_dir: Path, out: Path = OUT, **kwargs) -> Path:
    text, trials = build(data_dir, **kwargs)
    for tr in trials:
        print(
            f"{tr['file']}: {tr['speed']:.2f} m/s, {tr['n_strides']} strides, toe-off "
            f"{tr['toe_off']:.1f} %, SO {tr['seconds']:.0f} s, "
            f"converged in swing {tr['swing_converged_fraction']:.1%}"
        )
    return write_text_atomic(out, text)


def main(argv: list[str] | None = None) -> int:
    jax.config.update("jax_enable_x64", True)  # the solver's tolerance needs double precision
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    print(run(args.data or shared_data_dir(), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
