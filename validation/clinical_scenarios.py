"""Clinical scenarios: the tissue-load verdicts against published timing, ordering and practice.

The ranking's references and verdicts, for the shipped example athletes (a grade-2b right
biceps femoris long head strain: ``models/athletes/example_grade2_bflh*.toml``), are checked
against what the literature and good rehabilitation practice say. Gated checks (exit status 1
on a miss):

* the maximal-sprint references of the injured muscle (peak force, peak active negative
  power, active stretch) fall in terminal swing, as Schache et al. 2012 (DOI
  10.1249/MSS.0b013e31823a1c6c) and Chumanov et al. 2011 (DOI 10.1249/MSS.0b013e3181f23fe8)
  found for the biceps femoris long head; the stride fraction of each is stated;
* among the strength drills the Nordic hamstring exercise gives the highest peak hamstring
  force (Van Hooren et al. 2022, DOI 10.1111/sms.14158), and maximal sprinting the highest
  active lengthening velocity of every drill;
* with a pain-free assessment log, the Askling Extender and Diver are admissible (after
  regression if needed) from day 5 (Askling et al. 2013, DOI 10.1136/bjsports-2013-092165:
  the L-protocol started around day 5), and walking is cleared no later than jogging on every
  day to the expected return;
* maximal-speed sprinting is cleared by the expected return day when the log shows full
  pain-free range, strength >= 90 % of the uninjured side and no pain, also for the athlete
  whose fascicle ratio was 0.95 at injury and recovers towards 1 in later assessments; and is
  not cleared while the log shows pain or a range deficit;

Reported: every drill's criteria at its default settings beside the published statements of
its drill file (``[[sources]]`` marked verified), each with its source; and, for the strength
drills, what the peak force is made of at its sample (active and passive fibre force, fibre
length, activation), so that a miss of the force ordering can be read against its cause.

Uses only the files the project ships (``--data`` is accepted for the same command line as the
other validations and not read).

Run: ``python -m validation.clinical_scenarios --out results/validation``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

ATHLETES = {
    "pain-free log": "example_grade2_bflh.toml",
    "fascicles recovering": "example_grade2_bflh_fascicles.toml",
    "pain and range deficit": "example_grade2_bflh_pain.toml",
}
#: Drills of the "strength" category compared for peak force (Van Hooren 2022 compared the
#: Nordic, 45-degree hip extension and single-leg deadlift; the category adds the others).
STRENGTH_CATEGORY = "strength"
NORDIC = "nordic_hamstring"
#: Askling's L-protocol drills that must be admissible (after regression if needed) from day 5.
EARLY_LENGTHENING = ("askling_extender", "askling_diver")
EARLY_DAY = 5
#: Speeds of the slowest running and fastest walking the drill files allow are their minimum
#: intensities; "cleared" means the drill's minimum setting is within today's limits.
ADMITTED = ("admissible", "admissible after regression")


def _athlete(name: str, today: datetime.date):
    from musclesim.core.io import MODELS_DIR
    from musclesim.training.athlete import load_athlete

    return load_athlete(MODELS_DIR / "athletes" / name, today=today)


def _terminal_swing(fraction: float, toe_off: float) -> bool:
    """Terminal swing: the last half of swing (toe-off to the next foot strike at 100 %)."""
    return fraction >= toe_off + 0.5 * (1.0 - toe_off)


def run(out: Path) -> dict:
    """Every ranking the checks read."""
    from musclesim.training.drills import load_drills
    from musclesim.training.rank import rank_drills
    from musclesim.training.tolerance import TolerancePolicy

    library = load_drills()
    policy = TolerancePolicy.default()
    late = datetime.date(2030, 1, 1)
    athletes = {k: _athlete(v, late) for k, v in ATHLETES.items()}
    main = athletes["pain-free log"]
    returns = {k: policy.expected_return_date(a) for k, a in athletes.items()}
    early = main.injury_date + datetime.timedelta(days=EARLY_DAY)
    outcome = {"athletes": athletes, "returns": returns, "library": library}
    outcome["full"] = rank_drills(main, day=early, drills=library)
    gait = ("walking", "running")
    days = range(1, (returns["pain-free log"] - main.injury_date).days + 1)
    outcome["gait"] = {
        d: rank_drills(
            main, day=main.injury_date + datetime.timedelta(days=d), drills=library, names=gait
        )
        for d in days
    }
    outcome["return"] = {
        k: rank_drills(a, day=returns[k], drills=library, names=["running"])
        for k, a in athletes.items()
    }
    strength = [n for n, d in library.items() if getattr(d, "category", None) == STRENGTH_CATEGORY]
    outcome["force_parts"] = force_parts(main.state_on(early), library, strength)
    return outcome


def force_parts(athlete, library, names) -> dict[str, dict[str, float]]:
    """At the sample of each drill's peak tendon force (default settings, counted samples):
    the tendon force (N), the active and passive fibre force along the tendon (N), the fibre
    length (l_opt) and the activation, from the ranking's own evaluation chain."""
    from musclesim.pipeline.evaluate import evaluate
    from musclesim.training.rank import Case, athlete_model, case_inputs

    am = athlete_model(athlete)
    cases = [
        Case(
            library[n],
            float(library[n].intensity.default),
            tuple(sorted(library[n].check_settings(None).items())),
        )
        for n in names
    ]
    inputs = case_inputs(am, cases, drills=library)
    sol = evaluate(
        am.geometry,
        am.injured,
        inputs.time,
        inputs.coordinates,
        length_scale=am.length_scale,
        excitation=inputs.excitation[:, None, :],
        counted=inputs.counted,
        out_of_domain="clamp",
    ).solution
    out = {}
    for k, name in enumerate(names):
        force = np.where(inputs.counted[k, 0], np.asarray(sol.tendon_force)[k, 0], -np.inf)
        i = int(np.argmax(force))
        along = float(np.cos(np.asarray(sol.pennation_angle)[k, 0, i]))
        out[name] = {
            "tendon_force": float(force[i]),
            "active": float(np.asarray(sol.active_fiber_force)[k, 0, i]) * along,
            "passive": float(np.asarray(sol.passive_fiber_force)[k, 0, i]) * along,
            "fibre_length": float(np.asarray(sol.norm_fiber_length)[k, 0, i]),
            "activation": float(np.asarray(sol.activation)[k, 0, i]),
        }
    return out


def checks(outcome: dict) -> tuple[list[tuple[str, str, bool]], list[tuple[str, ...]]]:
    """(gated rows: claim, measured, pass) and (published rows: drill, criteria, published)."""
    from musclesim.training.criteria import CRITERIA

    full = outcome["full"]
    gated = []
    toe = float(full.attrs["reference_toe_off_fraction"])
    for key, label in (
        ("peak_force_phase", "peak force"),
        ("active_negative_power_phase", "peak active negative power"),
        ("active_stretch_phase", "active stretch"),
    ):
        f = float(full.attrs[f"reference_{key}"])
        gated.append(
            (
                f"maximal-sprint {label} of the injured BFLH in terminal swing "
                "(Schache 2012, Chumanov 2011)",
                f"{f:.0%} of the stride (toe-off {toe:.0%}; terminal swing from "
                f"{toe + 0.5 * (1 - toe):.0%})",
                _terminal_swing(f, toe),
            )
        )
    category = full["category"].values.astype(str)
    strength = [str(d) for d, c in zip(full["drill"].values, category, strict=True)]
    strength = [d for d, c in zip(strength, category, strict=True) if c == STRENGTH_CATEGORY]
    forces = {d: float(full["peak_force"].sel(drill=d)) for d in strength}
    top = max(forces, key=forces.get)
    gated.append(
        (
            "Nordic gives the highest peak hamstring force of the strength drills "
            "(Van Hooren 2022)",
            ", ".join(f"{d} {v:.0f} N" for d, v in sorted(forces.items(), key=lambda x: -x[1])),
            top == NORDIC,
        )
    )
    velocity = full["active_lengthening_velocity"]
    fastest = str(velocity["drill"].values[int(np.argmax(velocity.values))])
    sprint = float(full.attrs["reference_active_lengthening_velocity"])
    gated.append(
        (
            "maximal sprinting has the highest active lengthening velocity of every drill",
            f"sprint {sprint:.3f} v_max; highest drill at its default {fastest} "
            f"{float(velocity.max()):.3f} v_max",
            sprint >= float(velocity.max()),
        )
    )
    for name in EARLY_LENGTHENING:
        row = full.sel(drill=name)
        status = str(row["status"].values)
        gated.append(
            (
                f"{name} admissible (after regression if needed) on day {EARLY_DAY} with a "
                "pain-free log (Askling 2013)",
                status
                + (f" ({row['regression'].values})" if str(row["regression"].values) else ""),
                status in ADMITTED,
            )
        )
    wrong_days = []
    for day, ds in outcome["gait"].items():
        walk = str(ds["status"].sel(drill="walking").values) in ADMITTED
        jog = str(ds["status"].sel(drill="running").values) in ADMITTED
        if jog and not walk:
            wrong_days.append(day)
    gated.append(
        (
            "walking cleared no later than jogging on every day to the expected return",
            f"days {min(outcome['gait'])}-{max(outcome['gait'])}: jogging cleared before "
            f"walking on {wrong_days or 'no day'}",
            not wrong_days,
        )
    )
    for key, ds in outcome["return"].items():
        athlete = outcome["athletes"][key]
        speed = float(ds.attrs["reference_speed"])
        reached = float(ds["max_admissible_intensity"].sel(drill="running"))
        cleared = bool(ds["intensity_admissible"].sel(drill="running")) and reached >= speed - 1e-3
        expect = key != "pain and range deficit"
        gated.append(
            (
                f"{key}: maximal-speed sprinting {'cleared' if expect else 'not cleared'} on "
                f"the expected return day {outcome['returns'][key]}",
                f"running admissible to {reached:.2f} of {speed:.2f} m/s "
                f"({ds.attrs['limit_basis'].splitlines()[0] if ds.attrs['limit_basis'] else ''})"
                + (
                    f"; fascicle ratio at injury {athlete.fascicle_length_ratio}"
                    if key.startswith("fasc")
                    else ""
                ),
                cleared == expect,
            )
        )
    published = []
    for name in full["drill"].values:
        d = outcome["library"][str(name)]
        row = full.sel(drill=name)
        ours = "; ".join(
            f"{c.name} {float(row[c.name]):.3g} {'' if c.unit == '1' else c.unit}".rstrip()
            for c in CRITERIA
        )
        said = [
            f"{s['what']} ({s['reference']})"
            for s in getattr(d, "sources", ()) or ()
            if s.get("verified")
        ]
        published.append((str(name), str(row["status"].values), ours, "; ".join(said) or "-"))
    return gated, published


def _force_parts_words(parts: dict[str, dict[str, float]]) -> str:
    """Which strength drills' peak force is mostly passive and which mostly active, in words."""
    passive = [d for d, v in parts.items() if v["passive"] > v["active"]]
    active = [d for d, v in parts.items() if v["passive"] <= v["active"]]
    words = []
    if passive:
        lengths = [parts[d]["fibre_length"] for d in passive]
        words.append(
            f"Mostly passive (fibre at {min(lengths):.2f}-{max(lengths):.2f} l_opt): "
            + ", ".join(passive)
            + "."
        )
    if active:
        words.append("Mostly active: " + ", ".join(active) + ".")
    return " ".join(words)


def write_report(out: Path, outcome: dict, gated, published) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musclesim.core.io import atomic_path, write_text_atomic
    from musclesim.training.criteria import CRITERIA

    out.mkdir(parents=True, exist_ok=True)
    full = outcome["full"]
    names = [str(n) for n in full["drill"].values]
    util = np.array(
        [[float(full[f"utilisation_{c.name}"].sel(drill=n)) for c in CRITERIA] for n in names]
    )
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(names) + 1.5))
    image = ax.imshow(np.minimum(util, 3.0), aspect="auto", cmap="RdYlGn_r", vmin=0, vmax=2)
    ax.set_yticks(
        range(len(names)),
        [f"{n} ({full['status'].sel(drill=n).values})" for n in names],
        fontsize=7,
    )
    ax.set_xticks(range(len(CRITERIA)), [c.name.replace("_", "\n") for c in CRITERIA], fontsize=7)
    for i in range(len(names)):
        for j in range(len(CRITERIA)):
            ax.text(j, i, f"{util[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="utilisation (fraction of today's limit)")
    ax.set_title(f"Day {full.attrs['days_since_injury']}: criteria at default settings", fontsize=9)
    fig.tight_layout()
    png = out / "clinical_scenarios.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    passed = all(ok for *_, ok in gated)
    lines = [
        "# Clinical scenarios",
        "",
        f"**Result: {'PASS' if passed else 'FAIL'}**",
        "",
        "| check | measured | pass |",
        "| --- | --- | --- |",
        *[f"| {c} | {m} | {'yes' if ok else 'NO'} |" for c, m, ok in gated],
        "",
        f"Sprint references: {full.attrs['sprint_reference_note']}",
        "",
        "## What the strength drills' peak force is made of",
        "",
        "At the sample of each strength drill's peak BFLH tendon force (default settings). "
        + _force_parts_words(outcome["force_parts"])
        + " Static optimisation shares the joint moments without co-contraction and, in the "
        "Nordic, gives the gastrocnemius much of the knee-flexion moment, so the model's "
        "ordering can differ from an EMG-informed one such as Van Hooren 2022's; models also "
        "overestimate BFLH fascicle length changes against ultrasound (Kellis 2021). Where "
        "the force ordering check above fails, this is the disagreement between the model "
        "and the evidence, reported, not tuned away.",
        "",
        "| drill | peak tendon force (N) | active fibre (N) | passive fibre (N) | passive share "
        "| fibre length (l_opt) | activation |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {d} | {v['tendon_force']:.0f} | {v['active']:.0f} | {v['passive']:.0f} | "
            f"{v['passive'] / max(v['active'] + v['passive'], 1e-9):.0%} | "
            f"{v['fibre_length']:.2f} | {v['activation']:.3f} |"
            for d, v in sorted(outcome["force_parts"].items(), key=lambda x: -x[1]["tendon_force"])
        ],
        "",
        f"## Every drill on day {full.attrs['days_since_injury']} at its default settings, "
        "beside the published statements its drill file verified",
        "",
        "| drill | status | criteria (model) | published (verified source) |",
        "| --- | --- | --- | --- |",
        *[f"| {d} | {s} | {o} | {p} |" for d, s, o, p in published],
        "",
        f"![utilisation]({png.name})",
    ]
    return write_text_atomic(out / "clinical_scenarios.md", "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/validation"))
    parser.add_argument("--data", type=Path, default=None, help="accepted, not read")
    args = parser.parse_args(argv)
    outcome = run(args.out)
    gated, published = checks(outcome)
    report = write_report(args.out, outcome, gated, published)
    print(report.read_text())
    print(f"report: {report}")
    return 0 if all(ok for *_, ok in gated) else 1


if __name__ == "__main__":
    sys.exit(main())
