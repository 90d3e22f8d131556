"""How sure the verdicts are: checks of the Monte Carlo (musclesim.training.uncertainty).

Sections (each a :class:`Section`; :func:`write_report` writes any list of them, so sections
built in other modules are appended by importing :class:`Section` and :func:`write_report`):

1. **Monte Carlo mean against a deterministic run at the mean inputs**, where the model is near
   linear: the Romanian deadlift (a slow drill: 3 s repetitions, no inertial swing) with the
   default model's spreads scaled to a tenth, the muscle parameters and the constant joint-angle
   offsets. The smooth time-varying joint-angle error is left out because it is not linear in
   effect: every criterion is a peak over time, and the peak of a curve plus zero-mean noise is
   larger on average than the peak of the curve (measured: with it, the mean peak MTU strain
   sat 2.9 SE above the deterministic run at 32 samples, a bias that grows relative to the SE
   with the sample count). The excitation factor is left certain too, since its mean is not an
   input the deterministic run can take. The Monte Carlo mean of each criterion, and of each
   reference, must lie within 3 of its own standard errors (plus 1e-4 relative for float32
   batches) of the run at the mean inputs (each factor at its log-normal mean
   ``exp(sigma^2 / 2)``, joint angles unperturbed).
2. **Spread of peak BFLH strain in maximal sprinting** (the uninjured muscle of the example
   athlete's model, the full default uncertainty model) against published values:

   - peak MTU strain (``end_range_length``, which only the joint angles move) against
     Thelen et al. 2005 (14 athletes, treadmill sprinting at 80-100 % of maximal speed: the
     biceps femoris long head's peak length 9.5 % above upright). The Monte Carlo spreads the
     kinematics of one athlete (the measured sprinter), while 9.5 % is the mean of other
     athletes, so a difference of one or two of the Monte Carlo's SDs is what differences
     between athletes give; clear disagreement is a published mean more than 4 SDs away;
   - peak fibre strain while active (``active_stretch``) against Fiorentino et al. 2014 (peak
     *local* fibre strain 0.72 at maximal speed in finite-element models built from 14
     athletes' MR images: the largest strain anywhere in the muscle, at the proximal
     muscle-tendon junction, so an upper bound of a lumped fibre's strain): clear
     disagreement when the Monte Carlo's 5 % quantile is above it (nearly every sample
     stretched beyond the published local maximum) or its 95 % quantile is at or below 0
     (the active fibre never stretched beyond optimal, against every published sprint model).
     No published inter-subject SD of a lumped BFLH fibre strain in sprinting was found in the
     sources checked, so the spread itself is reported, not gated.

3. **Sensitivities** and 4. **the technique what-if** on the 9 m/s sprint, from
   :mod:`validation.uncertainty_sensitivity` (its docstring states their checks).

The exit status is 1 when a check misses.

Run: ``python -m validation.uncertainty --out results/validation`` (``--samples`` sets the
size; a few minutes at the default on a laptop CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import sys
import time as timer
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from musclesim.core.io import shared_data_dir
from validation import uncertainty_sensitivity as sensitivity_checks

#: Standard errors within which the Monte Carlo mean must lie of the deterministic run.
SE_TOLERANCE = 3.0
#: Relative difference allowed on top (float32 evaluations in batches of different size
#: differ by about 1e-5 relative, musclesim.training.rank.LIMIT_TOLERANCE).
FLOAT_TOLERANCE = 1e-4
#: Spread factor of the near-linear check.
LINEAR_SCALE = 0.1
#: The slow drill of the near-linear check.
LINEAR_DRILL = "romanian_deadlift"
#: Thelen 2005: BFLH peak MTU length in sprinting, % above upright (14 athletes, 80-100 %).
THELEN_2005_BF_PEAK = 0.095
#: SDs of the Monte Carlo's peak MTU strain beyond which Thelen 2005's mean disagrees.
MTU_SD_TOLERANCE = 4.0
#: Fiorentino 2014: peak local BFLH fibre strain at 100 % of maximal speed (FE models).
FIORENTINO_2014_LOCAL_PEAK = 0.72
ATHLETE = "example_grade2_bflh.toml"


@dataclasses.dataclass
class Section:
    """One section of the report: a title, markdown lines, whether its checks pass, and the
    figures it drew (paths relative to the report)."""

    title: str
    lines: list[str]
    passed: bool
    figures: list[str] = dataclasses.field(default_factory=list)


def write_report(sections: Sequence[Section], out: Path, *, name: str = "uncertainty") -> Path:
    """Markdown report ``out/<name>.md`` of ``sections`` (atomic write)."""
    from musclesim.core.io import write_text_atomic

    lines = [
        "# How sure the verdicts are: uncertainty checks",
        "",
        f"Written by `python -m validation.{name}` on {datetime.date.today()}.",
        "",
    ]
    for s in sections:
        lines += [f"## {s.title}", "", f"**{'pass' if s.passed else 'MISS'}**", "", *s.lines, ""]
        lines += [f"![{s.title}]({f})" for f in s.figures]
        lines.append("")
    return write_text_atomic(out / f"{name}.md", "\n".join(lines))


def _setting():
    from musclesim.core.io import MODELS_DIR
    from musclesim.training.athlete import load_athlete
    from musclesim.training.drills import load_drills
    from musclesim.training.rank import athlete_model

    athlete = load_athlete(MODELS_DIR / "athletes" / ATHLETE)
    library = load_drills()
    am = athlete_model(athlete)
    # the uninjured muscle: the published values are of healthy athletes
    return athlete, library, dataclasses.replace(am, injured=am.uninjured)


def _case(library, name: str, intensity: float | None = None):
    from musclesim.training.rank import Case

    d = library[name]
    x = d.intensity.default if intensity is None else intensity
    return Case(d, float(x), tuple(sorted(d.check_settings(None).items())))


def check_linear(out: Path, *, samples: int, seed: int = 0) -> Section:
    """Section 1 (module docstring)."""
    from musclesim.training.criteria import CRITERION_NAMES
    from musclesim.training.uncertainty import apply_factors, load_uncertainty, monte_carlo

    _, library, am = _setting()
    case = _case(library, LINEAR_DRILL)
    base = load_uncertainty().only("parameters", "kinematics").scaled(LINEAR_SCALE)
    # constant offsets only: the smooth error biases every peak upward (module docstring)
    model = dataclasses.replace(
        base, kinematics=tuple(dataclasses.replace(g, smooth=0.0) for g in base.kinematics)
    )
    t0 = timer.perf_counter()
    mc = monte_carlo(am, [case], samples, model=model, seed=seed, drills=library, chunk=samples)
    wall = timer.perf_counter() - t0
    mean = {k: np.asarray(v) for k, v in model.mean_factors().items()}
    at_mean = dataclasses.replace(am, injured=apply_factors(am.injured, mean))
    det = monte_carlo(
        at_mean, [case], 2, model=model.scaled(0.0), seed=seed, drills=library, chunk=samples
    )
    rows, ok = [], True
    lines = [
        f"{LINEAR_DRILL} at its default settings, {samples} samples (seed {seed}, {wall:.0f} s), "
        f"spreads x{LINEAR_SCALE:g} of the default model (parameters and constant joint-angle "
        "offsets). "
        f"Pass: |MC mean - deterministic| <= {SE_TOLERANCE:g} SE + {FLOAT_TOLERANCE:g} x "
        "|deterministic|.",
        "",
        "| quantity | MC mean | SE | deterministic at mean inputs | difference / SE | within |",
        "|---|---|---|---|---|---|",
    ]
    for label, mc_values, det_value in [
        *((f"{c} (drill)", mc.values[c][0], det.values[c][0, 0]) for c in CRITERION_NAMES),
        *((f"{c} (reference)", mc.reference[c], det.reference[c][0]) for c in CRITERION_NAMES),
    ]:
        m = float(np.mean(mc_values))
        se = float(np.std(mc_values, ddof=1) / math.sqrt(samples))
        diff = abs(m - float(det_value))
        within = diff <= SE_TOLERANCE * se + FLOAT_TOLERANCE * abs(float(det_value)) + 1e-12
        ok &= within
        ratio = diff / se if se > 0 else 0.0
        lines.append(
            f"| {label} | {m:.6g} | {se:.3g} | {float(det_value):.6g} | {ratio:.2f} | "
            f"{'yes' if within else '**no**'} |"
        )
        rows.append((label, ratio))
    figure = _bar_figure(rows, out / "uncertainty_linear.png")
    return Section(
        "Monte Carlo mean against a deterministic run (near-linear case)",
        lines,
        ok,
        [figure.name],
    )


def check_sprint_spread(out: Path, *, samples: int, seed: int = 0) -> Section:
    """Section 2 (module docstring)."""
    from musclesim.training.rank import RUNNING_DRILL, reference_speed
    from musclesim.training.uncertainty import load_uncertainty, monte_carlo

    _, library, am = _setting()
    speed = reference_speed(am)
    case = _case(library, RUNNING_DRILL, speed)
    model = load_uncertainty()
    lines = [
        f"Running at {speed:g} m/s (the example athlete's maximal speed, clipped to the measured "
        f"template), uninjured BFLH, {samples} samples per uncertainty set (seed {seed}).",
        "",
        "| uncertainty | quantity | mean | SD | 5 % | 95 % | 1 % | 99 % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    results = {}
    for label, m in (
        ("all (default model)", model),
        ("parameters only", model.only("parameters")),
        ("joint angles only", model.only("kinematics")),
        ("excitation only", model.only("excitation")),
    ):
        mc = monte_carlo(am, [case], samples, model=m, seed=seed, drills=library, chunk=64)
        results[label] = mc
        for q in ("active_stretch", "end_range_length"):
            v = mc.values[q][0]
            p = np.quantile(v, [0.05, 0.95, 0.01, 0.99])
            lines.append(
                f"| {label} | {q} | {np.mean(v):.4f} | {np.std(v, ddof=1):.4f} | "
                + " | ".join(f"{x:.4f}" for x in p)
                + " |"
            )
    full = results["all (default model)"]
    mtu = full.values["end_range_length"][0]
    fibre = full.values["active_stretch"][0]
    z = (THELEN_2005_BF_PEAK - np.mean(mtu)) / max(float(np.std(mtu, ddof=1)), 1e-12)
    ok_mtu = bool(abs(z) <= MTU_SD_TOLERANCE)
    q05, q95 = np.quantile(fibre, [0.05, 0.95])
    ok_fibre = bool(q05 <= FIORENTINO_2014_LOCAL_PEAK and q95 > 0.0)
    lines += [
        "",
        f"- Peak MTU strain: Thelen 2005 (thelen2005) reported {THELEN_2005_BF_PEAK:.1%} for the "
        f"biceps femoris long head (mean of 14 athletes); the Monte Carlo of this athlete gives "
        f"{np.mean(mtu):.2%} +- {np.std(mtu, ddof=1):.2%} (SD), so the published mean is "
        f"{z:+.1f} SD away (gate: {MTU_SD_TOLERANCE:g} SD): "
        f"{'consistent' if ok_mtu else '**clear disagreement**'}.",
        f"- Peak fibre strain while active: Fiorentino 2014 (fiorentino2014) reported a peak "
        f"local strain of {FIORENTINO_2014_LOCAL_PEAK:.2f} at maximal speed (the largest anywhere "
        f"in the muscle); the Monte Carlo's 90 % interval is {q05:.3f} to {q95:.3f}: "
        f"{'consistent' if ok_fibre else '**clear disagreement**'}. Its SD over all "
        f"uncertainty is {np.std(fibre, ddof=1):.3f} (CV "
        f"{np.std(fibre, ddof=1) / max(abs(np.mean(fibre)), 1e-12):.0%}); no published "
        "inter-subject SD of a lumped BFLH fibre strain in sprinting was found, so the spread is "
        "reported, not gated.",
        f"- Joint-angle samples held at the geometry's fitted box: {full.clipped_fraction:.2%}.",
    ]
    figure = _sprint_figure(results, out / "uncertainty_sprint.png")
    return Section(
        "Spread of peak BFLH strain in maximal sprinting", lines, ok_mtu and ok_fibre, [figure.name]
    )


def _bar_figure(rows, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclesim.core.io import atomic_path

    fig, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.2))
    labels = [r[0] for r in rows][::-1]
    values = [r[1] for r in rows][::-1]
    ax.barh(labels, values, color=["tab:blue" if v <= SE_TOLERANCE else "tab:red" for v in values])
    ax.axvline(SE_TOLERANCE, color="k", ls="--", lw=1)
    ax.set_xlabel("|MC mean - deterministic at the mean inputs| / standard error", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": "musclesim validation"})
    plt.close(fig)
    return path


def _sprint_figure(results, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclesim.core.io import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (q, published, source) in zip(
        axes,
        (
            ("end_range_length", THELEN_2005_BF_PEAK, "Thelen 2005 mean"),
            ("active_stretch", FIORENTINO_2014_LOCAL_PEAK, "Fiorentino 2014 local peak"),
        ),
        strict=True,
    ):
        data = [mc.values[q][0] for mc in results.values()]
        ax.boxplot(data, orientation="horizontal", whis=(5, 95), showfliers=False)
        ax.set_yticks(range(1, len(data) + 1), list(results), fontsize=7)
        ax.axvline(published, color="tab:red", ls="--", lw=1, label=source)
        ax.set_xlabel(
            "peak MTU strain" if q == "end_range_length" else "peak fibre strain while active",
            fontsize=8,
        )
        ax.legend(fontsize=7)
    fig.suptitle("BFLH in maximal sprinting: box = quartiles, whiskers = 5-95 %", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": "musclesim validation"})
    plt.close(fig)
    return path


#: The sections :func:`main` runs, in report order.
SECTIONS = (check_linear, check_sprint_spread)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    parser.add_argument("--samples", type=int, default=200, help="Monte Carlo samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sobol-samples", type=int, default=None, help="Sobol base samples")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # this program's choice, as in the CLI
    args.out.mkdir(parents=True, exist_ok=True)
    sections = [check(args.out, samples=args.samples, seed=args.seed) for check in SECTIONS]
    # the sensitivities and the technique what-if share one build of the 9 m/s sprint
    scenario = sensitivity_checks.sprint_scenario(shared_data_dir())
    sobol = {} if args.sobol_samples is None else {"samples": args.sobol_samples}
    for check, options in (
        (sensitivity_checks.sensitivity_section, sobol),
        (sensitivity_checks.whatif_section, {}),
    ):
        text, passed, figures = check(args.out, scenario=scenario, **options)
        heading, *lines = text.strip().splitlines()  # each section's markdown opens with "## "
        figures = [str(Path(f).relative_to(args.out)) for f in figures]
        figures = [f for f in figures if f"({f})" not in text]  # not drawn twice
        sections.append(Section(heading.removeprefix("## "), lines, passed, figures))
    report = write_report(sections, args.out)
    for s in sections:
        print(f"{'pass' if s.passed else 'MISS'}: {s.title}")
    print(f"wrote {report}")
    return 0 if all(s.passed for s in sections) else 1


if __name__ == "__main__":
    sys.exit(main())
