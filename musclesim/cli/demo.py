"""``musclesim demo``: fibre strain of the biceps femoris long head along a 9 m/s sprint.

Runs on shipped files only (no OpenSim, no shared data): the sprinter's bflh_r parameters
(``Sprinter_JA1_scaled.osim`` values recorded in the shipped template's header source) and its
MTU length along the 9 m/s sprint (``models/templates/bflh_r_sprint_9ms.csv``, derived by
``experiments/derive_bflh_template.py``). It solves the compliant-tendon model at three constant
activations and prints and plots fibre strain: the same MTU stretch strains the fibres less
when the muscle pulls harder, because the tendon takes up more of it.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from ..core.errors import InputError
from ..core.io import MODELS_DIR, atomic_path, check_output_folder, write_text_atomic
from ..muscle.parameters import MuscleParameters
from ..pipeline.evaluate import evaluate_lengths

TEMPLATE = MODELS_DIR / "templates/bflh_r_sprint_9ms.csv"
#: bflh_r of Sprinter_JA1_scaled.osim (read by MuscleParameters.from_osim; the file's sha256 is in
#: the template header). Values: ../shared/data/SOURCES.md 3.1 and the .osim file itself.
SPRINTER_BFLH = dict(
    max_isometric_force=2626.36721311476,
    optimal_fiber_length=0.11164997329891684,
    tendon_slack_length=0.38036296955786586,
    pennation_angle_at_optimal=0.17591823000000001,
    max_contraction_velocity=10.0,
    tendon_strain_at_one_norm_force=0.049,
    passive_fiber_strain_at_one_norm_force=0.7068714820608315,
    fiber_damping=0.01,
)
ACTIVATIONS = (0.05, 0.3, 1.0)


def read_template(path: Path = TEMPLATE) -> tuple[np.ndarray, np.ndarray]:
    """(time s, MTU length m) from a two-column CSV with ``#`` comment lines."""
    try:
        lines = [ln for ln in Path(path).read_text().splitlines() if not ln.startswith("#")]
        if not lines or lines[0].strip() != "time_s,mtu_length_m":
            raise ValueError("header line time_s,mtu_length_m missing")
        data = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]], ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read template ({exc})", path=path, expected="CSV columns time_s,mtu_length_m"
        ) from exc
    return data[:, 0], data[:, 1]


def run_demo(out: Path) -> str:
    check_output_folder(out, names=("demo_bflh_fiber_strain.png", "demo_bflh_fiber_strain.txt"))
    time, length = read_template()
    params = MuscleParameters(**SPRINTER_BFLH)
    batch = MuscleParameters.stack([params] * len(ACTIVATIONS))
    activation = np.asarray(ACTIVATIONS)[:, None] * np.ones_like(time)[None, :]
    lengths = np.broadcast_to(length, activation.shape)
    # strain is reported against the first sample, the template having no upright pose
    ev = evaluate_lengths(batch, time, lengths, length[0], activation=activation)
    jax.block_until_ready(ev.solution.fiber_length)
    strain = np.asarray(ev.solution.fiber_strain)
    peak_velocity = np.asarray(ev.metrics.peak_lengthening_velocity)
    peak_force = np.asarray(ev.metrics.peak_force)
    lines = [
        "musclesim demo: bflh_r (Sprinter_JA1_scaled) along the 9 m/s sprint, compliant tendon",
        f"MTU length {length.min() * 1e3:.1f}-{length.max() * 1e3:.1f} mm over "
        f"{time[-1] - time[0]:.2f} s ({len(time)} samples)",
        "",
        f"{'activation':>10s} {'peak fibre strain':>18s} {'at t (s)':>9s} "
        f"{'peak lengthening (m/s)':>23s} {'peak tendon force (N)':>22s}",
    ]
    for i, a in enumerate(ACTIVATIONS):
        k = int(np.argmax(strain[i]))
        lines.append(
            f"{a:10.2f} {strain[i, k]:18.3f} {time[k]:9.3f} "
            f"{peak_velocity[i]:23.3f} {peak_force[i]:22.0f}"
        )
    text = "\n".join(lines)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    axes[0].plot(time, (length / length[0] - 1) * 100, "k", label="MTU length (vs first sample)")
    axes[0].set_ylabel("MTU length change (%)")
    for i, a in enumerate(ACTIVATIONS):
        axes[1].plot(time, strain[i] * 100, label=f"activation {a:g}")
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[1].set_ylabel("fibre strain l/l_opt - 1 (%)")
    axes[1].set_xlabel("time (s)")
    axes[1].legend(fontsize=8)
    fig.suptitle("Biceps femoris long head, 9 m/s sprint (Dorn 2012 subject JA1)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "demo_bflh_fiber_strain.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    write_text_atomic(out / "demo_bflh_fiber_strain.txt", text + "\n")
    return text + f"\n\nwrote {out / 'demo_bflh_fiber_strain.png'}"


def register_cli(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="fibre strain of bflh along a 9 m/s sprint")
    parser.add_argument("--out", type=Path, default=Path("results/demo"))
    parser.set_defaults(func=lambda args: print(run_demo(args.out)) or 0)
