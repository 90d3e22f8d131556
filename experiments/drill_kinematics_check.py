"""BFLH length at the longest pose of the long-length drills, against published joint angles
and fascicle lengths.

For each drill that stretches the hamstrings slowly (Romanian deadlift, single-leg RDL, 45°
hip extension, Nordic, Askling's Extender, Diver and Glider) and for maximal sprinting, the
drill's motion and excitation are run through the shipped model (``sprinter_ja1``, right biceps
femoris long head, compliant tendon; the pipeline the ranking uses). At the sample of longest
musculotendon (MTU) length it reports the hip and knee angles, the MTU strain
(L/L_upright − 1) and the fibre strain (l/l_opt − 1) and length, beside the published
numbers that exist for each pose. A second table compares the model's resting fibre length
with in-vivo BFlh fascicle lengths, and the order of the drills' fibre lengths with
Van Hooren et al. 2022's ultrasound order. Disagreements are printed as such; nothing is tuned.

Run: ``python -m experiments.drill_kinematics_check [--samples 256]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

import jax
import numpy as np

from musclesim.core.citations import reference
from musclesim.geometry.io import load_model
from musclesim.pipeline.evaluate import evaluate, resample_motions
from musclesim.training.drills import drill_excitation, drill_motion, load_drills

MODEL = "sprinter_ja1"
MUSCLE = "bflh_r"
#: Maximal sprinting (m/s): the running drill's top speed (subject JA1 measured at 9.51 m/s).
SPRINT_SPEED = 9.5


@dataclasses.dataclass(frozen=True)
class Published:
    """Published numbers for a drill's longest pose (None where there is none)."""

    hip_deg: tuple[float, float] | None  # mean, SD (SD 0: a protocol's prescription)
    knee_deg: tuple[float, float] | None
    mtu_strain: float | None
    text: str
    reference: str


#: What the literature says about each drill's longest pose. Joint angles: knee flexion
#: positive, hip flexion positive (degrees).
PUBLISHED: dict[str, Published] = {
    "romanian_deadlift": Published(
        (75.3, 9.2),
        (5.3, 6.7),
        None,
        "straight-knee hip hinge (good morning, 25 % BW bar): maximal hip flexion 75.3 ± 9.2 "
        "deg, knee 5.3 ± 6.7 deg (table of maximal segmental angles)",
        "schellenberg2013",
    ),
    "single_leg_rdl": Published(
        (75.3, 9.2),
        (5.3, 6.7),
        None,
        "no single-leg data found; the bilateral straight-knee hinge of the same study",
        "schellenberg2013",
    ),
    "hip_extension_45": Published(
        None, None, None, "no published joint angles found for the 45-deg bench", "bourne2017"
    ),
    "nordic_hamstring": Published(
        (0.0, 0.0),
        None,
        None,
        "kneeling with the hip neutral (0 deg); descent from 90 deg knee flexion towards full "
        "extension (the longest pose is the end of the descent)",
        "sarabon2019",
    ),
    "askling_extender": Published(
        (90.0, 0.0),
        None,
        None,
        "hip held at about 90 deg; knee extended slowly to just before pain (no angle given)",
        "askling2013",
    ),
    "askling_diver": Published(
        (90.0, 0.0),
        None,
        None,
        "dive forward by hip flexion towards a horizontal trunk, stance knee slightly flexed",
        "askling2013",
    ),
    "askling_glider": Published(
        None,
        (15.0, 5.0),
        None,
        "front knee 10-20 deg flexion; glide until just before pain (no hip angle given)",
        "askling2013",
    ),
    "running": Published(
        None,
        None,
        0.095,
        "biceps femoris peak MTU stretch 9.5 % above upright in late swing at 80-100 % of "
        "maximal speed",
        "thelen2005",
    ),
}

#: (drill, intensity or None for the file's default, label).
ROWS: tuple[tuple[str, float | None, str], ...] = (
    ("romanian_deadlift", None, "default"),
    ("single_leg_rdl", None, "default"),
    ("hip_extension_45", None, "default"),
    ("nordic_hamstring", 1.0, "full range"),
    ("askling_extender", None, "default"),
    ("askling_extender", 1.0, "full range"),
    ("askling_diver", 1.0, "full range"),
    ("askling_glider", None, "default"),
    ("askling_glider", 1.0, "full range"),
    ("running", SPRINT_SPEED, "max speed"),
)

#: BFlh fascicle length (m) below which elite footballers' hamstring injury risk was 4.1 times
#: higher (Timmins et al. 2016, prospective cohort; measured at rest, prone, hip and knee
#: extended): typical resting lengths lie around it.
RESTING_FASCICLE_THRESHOLD_M = 0.1056

#: The drills whose long-length poses the ranking found at ~1.5 x optimal fibre length.
SLOW_LONG_DRILLS = ("romanian_deadlift", "single_leg_rdl", "hip_extension_45", "askling_extender")

#: Van Hooren et al. 2022 (ultrasound): mean BFlh fascicle length single-leg deadlift >
#: single-leg Roman chair > Nordic; the model's stand-ins for those exercises.
VANHOOREN_ORDER = ("single_leg_rdl", "hip_extension_45", "nordic_hamstring")


@dataclasses.dataclass
class Setup:
    geometry: object
    drills: dict
    samples: int


def build(samples: int = 256, model: str = MODEL) -> Setup:
    """The BFLH of the shipped model and the drill library."""
    geometry = load_model(model).select([MUSCLE])
    return Setup(geometry, load_drills(), samples)


#: Chleboun et al. 2001's grid of relaxed poses (hip flexion, knee flexion), degrees; (0, 0)
#: is the upright pose.
CHLEBOUN_POSES = tuple((h, k) for h in (0.0, 45.0, 90.0) for k in (0.0, 45.0, 90.0))

#: Excitation of the relaxed muscle at the held poses (minimal, so the fibre is passive).
RELAXED_EXCITATION = 0.01


def _simulate(setup: Setup, rows):
    """One batched evaluation: the drills of ``rows`` on their own time grids, then
    :data:`CHLEBOUN_POSES` held still for 1 s with the muscle relaxed (one compilation)."""
    geometry = setup.geometry
    motions = []
    for name, x, _, *settings in rows:
        d = setup.drills[name]
        value = d.intensity.default if x is None else x
        motions.append(
            drill_motion(
                d,
                value,
                coordinates=geometry.coordinates,
                knee_flexion_sign=geometry.knee_flexion_sign,
                settings=settings[0] if settings else None,
            )
        )
    time, q = resample_motions(motions, setup.samples, geometry.coordinates)
    drives = []
    for (name, x, _, *settings), t in zip(rows, time, strict=True):
        d = setup.drills[name]
        value = d.intensity.default if x is None else x
        src = drill_excitation(
            d, value, max_speed=SPRINT_SPEED, settings=settings[0] if settings else None
        )
        drives.append(np.clip(np.asarray(src(t, [MUSCLE]))[:, 0], 0.0, 1.0))
    knee_sign = dict(geometry.knee_flexion_sign)["knee_angle_r"]
    n = len(CHLEBOUN_POSES)
    held = {c: np.zeros((n, setup.samples)) for c in geometry.coordinates}
    for j, (hip, knee) in enumerate(CHLEBOUN_POSES):
        held["hip_flexion_r"][j] = math.radians(hip)
        for name in ("knee_angle_r", "knee_angle_r_beta"):
            if name in held:
                held[name][j] = knee_sign * math.radians(knee)
    time = np.concatenate([time, np.tile(np.linspace(0.0, 1.0, setup.samples), (n, 1))])
    q = {c: np.concatenate([q[c], held[c]]) for c in geometry.coordinates}
    drive = np.concatenate([np.stack(drives), np.full((n, setup.samples), RELAXED_EXCITATION)])
    result = evaluate(geometry, geometry.parameters, time, q, excitation=drive[:, None, :])
    return time, q, result


def run(setup: Setup, rows=ROWS) -> dict:
    """Rows of the pose table (``rows``: (drill, intensity or None, label) as :data:`ROWS`;
    the report needs the three drills of :data:`VANHOOREN_ORDER` and ``running``) and the
    fascicle comparisons."""
    geometry = setup.geometry
    spec = tuple(rows)
    time, q, result = _simulate(setup, spec)
    sol = result.solution
    mtu = np.asarray(sol.mtu_length)[:, 0]
    fibre = np.asarray(sol.fiber_length)[:, 0]
    norm = np.asarray(sol.norm_fiber_length)[:, 0]
    upright = float(np.asarray(geometry.upright_length)[0])
    l_opt = float(np.asarray(geometry.parameters.optimal_fiber_length)[0])
    knee_sign = dict(geometry.knee_flexion_sign)["knee_angle_r"]
    rows = []
    for k, (name, x, label, *_) in enumerate(spec):
        i = int(np.argmax(mtu[k]))
        hip = math.degrees(float(q["hip_flexion_r"][k, i]))
        knee = math.degrees(knee_sign * float(q["knee_angle_r"][k, i]))
        value = setup.drills[name].intensity.default if x is None else x
        rows.append(
            {
                "drill": name,
                "setting": f"{label} ({value:g})",
                "hip_deg": hip,
                "knee_deg": knee,
                "mtu_strain": float(mtu[k, i] / upright - 1.0),
                "fiber_strain": float(norm[k, i] - 1.0),
                "fiber_length_m": float(fibre[k, i]),
                "mean_fiber_length_m": float(fibre[k].mean()),
                "fiber_excursion_m": float(fibre[k].max() - fibre[k].min()),
                "published": PUBLISHED[name],
            }
        )
    # the held poses: the fibre at the end of 1 s of rest
    grid = {pose: float(fibre[len(spec) + j, -1]) for j, pose in enumerate(CHLEBOUN_POSES)}
    return {
        "rows": rows,
        "upright_fiber_length_m": grid[(0.0, 0.0)],
        "relaxed_grid_m": grid,
        "l_opt_m": l_opt,
        "upright_m": upright,
    }


#: Regressions of the long-length drills by their further intensity dimensions:
#: (drill, intensity or None, label, settings).
REGRESSIONS = (
    ("romanian_deadlift", None, "file default", {}),
    ("romanian_deadlift", None, "range 70 %", {"range_fraction": 0.7}),
    ("romanian_deadlift", None, "range 50 %", {"range_fraction": 0.5}),
    ("romanian_deadlift", None, "tempo 4 s", {"tempo_s": 4.0}),
    ("hip_extension_45", None, "range 60 %", {"range_fraction": 0.6}),
    ("askling_extender", None, "file default", {}),
    ("askling_extender", None, "tempo 6 s", {"tempo_s": 6.0}),
)


def regressions(setup: Setup, rows=REGRESSIONS) -> list[dict]:
    """Peak fibre strain, MTU strain and normalised lengthening velocity (with where it
    occurs) of each regression in ``rows``."""
    geometry = setup.geometry
    spec = tuple(rows)
    time, q, result = _simulate(setup, spec)
    sol = result.solution
    norm = np.asarray(sol.norm_fiber_length)[:, 0]
    vel = np.asarray(sol.norm_fiber_velocity)[:, 0]
    mtu = np.asarray(sol.mtu_length)[:, 0]
    upright = float(np.asarray(geometry.upright_length)[0])
    out = []
    for k, (name, _, label, *_) in enumerate(spec):
        i = int(np.argmax(vel[k]))
        out.append(
            {
                "drill": name,
                "setting": label,
                "fiber_strain": float(norm[k].max() - 1.0),
                "mtu_strain": float(mtu[k].max() / upright - 1.0),
                "lengthening_velocity": float(vel[k, i]),
                "velocity_at_s": float(time[k][i]),
                "velocity_hip_deg": math.degrees(float(q["hip_flexion_r"][k, i])),
            }
        )
    return out


def regression_report(rows: list[dict]) -> str:
    lines = [
        "Regressions (peak over the repetition; lengthening velocity v/(v_max l_opt), where):",
        f"{'drill':<20} {'setting':<14} {'fibre str':>9} {'MTU str':>8} {'v/vmax':>8}"
        f" {'at t (s)':>8} {'hip':>6}",
    ]
    for r in rows:
        lines.append(
            f"{r['drill']:<20} {r['setting']:<14} {r['fiber_strain']:9.3f} {r['mtu_strain']:8.3f}"
            f" {r['lengthening_velocity']:8.4f} {r['velocity_at_s']:8.2f}"
            f" {r['velocity_hip_deg']:6.1f}"
        )
    return "\n".join(lines)


def _angle(pub: tuple[float, float] | None) -> str:
    if pub is None:
        return "—"
    mean, sd = pub
    return f"{mean:g}" if sd == 0 else f"{mean:g} ± {sd:g}"


def _verdict(model: float, pub: tuple[float, float] | None, floor: float = 10.0) -> str:
    """Within two SDs (or ``floor`` deg for a prescription) of the published mean."""
    if pub is None:
        return ""
    mean, sd = pub
    width = max(2.0 * sd, floor)
    return "ok" if abs(model - mean) <= width else f"off by {model - mean:+.0f}"


def report(outcome: dict) -> str:
    rows = outcome["rows"]
    l_opt = outcome["l_opt_m"]
    lines = [
        f"BFLH of {MODEL}: l_opt {l_opt * 100:.1f} cm, upright MTU {outcome['upright_m'] * 100:.1f}"
        " cm. Longest-MTU pose of each drill:",
        "",
        f"{'drill':<20} {'setting':<18} {'hip':>6} {'pub hip':>11} {'knee':>6} "
        f"{'pub knee':>11} {'MTU str':>8} {'pub':>6} {'fibre str':>9} {'fibre cm':>8}",
    ]
    for r in rows:
        p = r["published"]
        hip_v = _verdict(r["hip_deg"], p.hip_deg)
        knee_v = _verdict(r["knee_deg"], p.knee_deg)
        pub_mtu = "—" if p.mtu_strain is None else f"{p.mtu_strain:.3f}"
        lines.append(
            f"{r['drill']:<20} {r['setting']:<18} {r['hip_deg']:6.1f} {_angle(p.hip_deg):>11} "
            f"{r['knee_deg']:6.1f} {_angle(p.knee_deg):>11} {r['mtu_strain']:8.3f} "
            f"{pub_mtu:>6} {r['fiber_strain']:9.3f} {r['fiber_length_m'] * 100:8.1f}"
            + (f"   hip {hip_v}" if hip_v else "")
            + (f"   knee {knee_v}" if knee_v else "")
        )
    lines += ["", "Published poses:"]
    seen = set()
    for r in rows:
        p = r["published"]
        if r["drill"] in seen:
            continue
        seen.add(r["drill"])
        lines.append(f"  {r['drill']}: {p.text} [{_cite(p.reference)}]")
    rest = outcome["upright_fiber_length_m"]
    lines += [
        "",
        "Fascicle lengths:",
        f"  model upright, relaxed: {rest * 100:.1f} cm ({rest / l_opt - 1:+.3f} fibre strain);"
        " in vivo at rest: elite footballers' BFlh fascicles around the "
        f"{100 * RESTING_FASCICLE_THRESHOLD_M:.2f} cm risk threshold "
        f"[{_cite('timmins2016cohort')}]",
    ]
    grid = outcome["relaxed_grid_m"]
    lines.append(
        "  model relaxed fibre length (cm) at hip x knee flexion: "
        + "; ".join(f"hip {h:g}/knee {k:g} {v * 100:.1f}" for (h, k), v in grid.items())
    )
    by_hip = np.mean([abs(grid[(90.0, k)] - grid[(0.0, k)]) for k in (0.0, 45.0, 90.0)])
    by_knee = np.mean([abs(grid[(h, 0.0)] - grid[(h, 90.0)]) for h in (0.0, 45.0, 90.0)])
    lines.append(
        f"  change hip 0->90 deg {by_hip * 100:.1f} cm vs knee 90->0 deg {by_knee * 100:.1f} cm"
        " (mean over the other joint); in vivo (relaxed, ultrasound) more sensitive to the hip"
        f" than to the knee [{_cite('chleboun2001')}]: "
        + ("agrees" if by_hip > by_knee else "DISAGREES")
    )
    by = {r["drill"]: r for r in rows if r["setting"].startswith(("default", "full"))}
    order = sorted(VANHOOREN_ORDER, key=lambda n: -by[n]["mean_fiber_length_m"])
    agree = tuple(order) == VANHOOREN_ORDER
    lines.append(
        "  mean fibre length over a repetition: "
        + " > ".join(f"{n} {by[n]['mean_fiber_length_m'] * 100:.1f} cm" for n in order)
        + f"; ultrasound order single-leg deadlift > Roman chair > Nordic "
        f"[{_cite('vanhooren2022')}]: {'agrees' if agree else 'DISAGREES'}"
    )
    exc = {n: by[n]["fiber_excursion_m"] for n in VANHOOREN_ORDER}
    nordic_most = exc["nordic_hamstring"] >= max(exc.values())
    lines.append(
        "  fibre excursion over a repetition: "
        + ", ".join(f"{n} {v * 100:.1f} cm" for n, v in exc.items())
        + f"; ultrasound: most lengthening in the Nordic [{_cite('vanhooren2022')}]: "
        + ("agrees" if nordic_most else "DISAGREES")
    )
    sprint = next(r for r in rows if r["drill"] == "running")
    slow = [
        r
        for r in rows
        if r["drill"]
        in ("romanian_deadlift", "single_leg_rdl", "hip_extension_45", "askling_extender")
    ]
    top = max(slow, key=lambda r: r["fiber_strain"])
    lines += [
        "",
        f"Sprint peak: MTU strain {sprint['mtu_strain']:.3f} (published 0.095), fibre strain "
        f"{sprint['fiber_strain']:.3f}. Slow long-length drills reach fibre strain up to "
        f"{top['fiber_strain']:.3f} ({top['drill']}) at MTU strain {top['mtu_strain']:.3f}:"
        f" each 0.01 of MTU strain is {outcome['upright_m'] / l_opt * 0.01:.3f} of fibre strain"
        " when the tendon is slack (L_upright / l_opt), so the fibre takes nearly all of a"
        " passive stretch.",
    ]
    return "\n".join(lines)


def _cite(key: str) -> str:
    r = reference(key)
    return f"{r['authors'].split(',')[0]} et al. {r['year']}, doi:{r['doi']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    setup = build(args.samples)
    print(report(run(setup)))
    print()
    print(regression_report(regressions(setup)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
