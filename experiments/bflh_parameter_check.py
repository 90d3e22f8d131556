"""The sprinter model's biceps femoris long head (BFLH) against published architecture,
in-vivo fascicle lengths and the joint moments of the strength drills.

The clinical scenarios (``validation/clinical_scenarios.py``) ask for the Askling Extender to
be admissible from day 5 and for the Nordic to give the highest peak hamstring force of the
strength drills. Both verdicts rest on the BFLH fibre length at 90 deg of hip flexion, on
the drills' assumed excitations and on the criteria's definition of "active". This script
puts every number they rest on beside the published value it can be checked against, as one
table (quantity, model, published with source, ratio), so that a disagreement can be traced
to a parameter, a pose, an excitation level or the criterion itself. Nothing is tuned.

1. **Parameters** of ``bflh_r`` in ``sprinter_ja1`` (as the package loads them) beside the
   generic models it descends from (values read from the .osim files named in
   :data:`GENERIC_MODELS`) and the published cadaver and in-vivo architecture.
2. **Held poses**: the muscle held still for 1 s at Chleboun et al. 2001's grid of hip x knee
   flexion (0/45/90 deg) and at the Extender's end pose, relaxed (excitation 0.01), at the
   Extender's own excitation and maximally excited: fibre, tendon and MTU strain, passive and
   active fibre force. The split of a passive stretch between fibre and tendon is the fibre's
   share of the MTU length change from upright to hip 90 deg / knee 0 deg.
3. **Drill demand**: at the sample of peak BFLH force of the Nordic, the 45-deg hip
   extension and the two hip hinges (Romanian and single-leg deadlift), the knee and hip
   moments of the four hamstrings (force x moment arm from the geometry) beside the moment the
   body's weight and the load demand at that pose (Winter 2009's segment parameters; per leg)
   and a measured Nordic torque. The drills' excitations are the drill files' own levels, so
   a hamstring moment above the whole demand shows an excitation the drill does not need.

Run: ``python -m experiments.bflh_parameter_check [--samples 128]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tomllib

import jax
import numpy as np

from musclesim.core.citations import reference
from musclesim.core.io import MODELS_DIR
from musclesim.geometry.io import load_model
from musclesim.muscle.metrics import ACTIVE_FORCE_FRACTION
from musclesim.pipeline.evaluate import evaluate, resample_motions
from musclesim.training.drills import drill_excitation, drill_motion, load_drills

MODEL = "sprinter_ja1"
MUSCLE = "bflh_r"
HAMSTRINGS = ("bflh_r", "bfsh_r", "semiten_r", "semimem_r")
#: The example athlete whose day-5 verdicts fail; its height and mass size the body moments.
ATHLETE_FILE = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"

#: BFLH of the models sprinter_ja1 descends from, read from the .osim files of
#: shared/data/models (SOURCES.md; sha256 of each file given): max_isometric_force (N),
#: optimal_fiber_length (m), tendon_slack_length (m), pennation_angle_at_optimal (rad).
GENERIC_MODELS = {
    "Sprinter_generic.osim (d9a68cd6...)": (1313.18360655738, 0.0976005, 0.3325, 0.17591823),
    "Rajagopal2016.osim (3f5c5f23...)": (1313.18360655738, 0.0976, 0.32522665, 0.17591823),
    "gait2392_thelen2003muscle.osim (3af1ca20...)": (896.0, 0.109, 0.326, 0.0),
}
#: The scaled model's own .osim file, from which models/sprinter_ja1.nc was built.
SCALED_OSIM = "Sprinter_JA1_scaled.osim (d5274302...)"

#: Ward et al. 2009 (``ward2009``), Table 1 as registered: BFlh fibre length (m) and pennation
#: angle (deg) of 21 cadaveric limbs, mean and SD.
WARD_FIBER_LENGTH_M = (0.0976, 0.0262)
WARD_PENNATION_DEG = (11.6, 5.5)
#: Timmins et al. 2016 (``timmins2016cohort``): resting BFlh fascicle length below which elite
#: footballers' injury risk was 4.1 times higher (prone, hip and knee extended).
TIMMINS_THRESHOLD_M = 0.1056
#: Kellis et al. 2012 (``kellis2012``): BFlh fascicle length / muscle length, 8 cadavers.
KELLIS_FASCICLE_TO_MUSCLE = 0.27
#: Thelen et al. 2005 (``thelen2005``): biceps femoris peak MTU strain in late swing of
#: sprinting at 80-100 % of maximal speed.
THELEN_SPRINT_MTU_STRAIN = 0.095
#: Sconce et al. 2021 (``sconce2021``): eccentric knee-flexor peak torque of the flat Nordic
#: (Nm, mean and SD; the abstract does not say whether per leg or for both legs).
SCONCE_NORDIC_TORQUE_NM = (149.7, 70.1)

#: Winter 2009 (``winter2009``), Dempster's segment parameters (Table 4.1): mass fractions of
#: body mass, centre-of-mass fractions of segment length from the proximal end.
HAT_MASS = 0.678  # head, arms and trunk
HAT_COM_FROM_HIP = 0.626  # of the greater trochanter -> glenohumeral joint length
THIGH_MASS = 0.100
THIGH_COM_FROM_HIP = 0.433
#: Winter 2009 Figure 4.1: heights of the glenohumeral joint, greater trochanter and knee as
#: fractions of standing height.
SHOULDER_HEIGHT, HIP_HEIGHT, KNEE_HEIGHT = 0.818, 0.530, 0.285
GRAVITY = 9.81
#: The 45-deg bench: the body in line is inclined 45 deg above horizontal (the bench's name);
#: hip flexion turns the trunk down from there.
BENCH_INCLINATION_DEG = 45.0

#: Chleboun et al. 2001's grid of relaxed poses (hip flexion, knee flexion), degrees.
CHLEBOUN_POSES = tuple((h, k) for h in (0.0, 45.0, 90.0) for k in (0.0, 45.0, 90.0))
#: Excitation of a relaxed muscle (minimal, so the fibre force is passive) and of a maximal
#: effort at a held pose.
RELAXED, MAXIMAL = 0.01, 1.0
EXTENDER = "askling_extender"
NORDIC = "nordic_hamstring"
HIP_EXTENSION = "hip_extension_45"
#: (drill, intensity or None for the file's default).
#: The hip hinges, both legs loaded or the right leg alone (number of legs sharing the moment).
HINGES = {"romanian_deadlift": 2, "single_leg_rdl": 1}
DRILLS = (
    (NORDIC, 1.0),
    (HIP_EXTENSION, None),
    (EXTENDER, None),
    *((name, None) for name in HINGES),
)


@dataclasses.dataclass
class Setup:
    geometry: object
    drills: dict
    samples: int
    height_m: float
    mass_kg: float


def build(samples: int = 128, model: str = MODEL) -> Setup:
    """The model's hamstrings, the drill library and the example athlete's size."""
    with open(ATHLETE_FILE, "rb") as f:
        athlete = tomllib.load(f)["athlete"]
    return Setup(
        load_model(model).select(list(HAMSTRINGS)),
        load_drills(),
        samples,
        float(athlete["height_m"]),
        float(athlete["mass_kg"]),
    )


def _intensity(setup: Setup, name: str, x: float | None) -> float:
    return setup.drills[name].intensity.default if x is None else x


def _drill_inputs(setup: Setup):
    """Each drill's motion on a common sample count and its hamstring excitation."""
    g = setup.geometry
    motions = [
        drill_motion(
            setup.drills[n],
            _intensity(setup, n, x),
            coordinates=g.coordinates,
            knee_flexion_sign=g.knee_flexion_sign,
        )
        for n, x in DRILLS
    ]
    time, q = resample_motions(motions, setup.samples, g.coordinates)
    drive = np.stack(
        [
            np.clip(
                np.asarray(
                    drill_excitation(setup.drills[n], _intensity(setup, n, x))(t, list(HAMSTRINGS))
                ).T,
                0,
                1,
            )
            for (n, x), t in zip(DRILLS, time, strict=True)
        ]
    )
    return time, q, drive


def _knee_sign(setup: Setup) -> int:
    return dict(setup.geometry.knee_flexion_sign)["knee_angle_r"]


def run(setup: Setup) -> dict:
    """One batched evaluation of the drills and the held poses; every number of the report."""
    g = setup.geometry
    b = HAMSTRINGS.index(MUSCLE)
    sign = _knee_sign(setup)
    d_time, d_q, d_drive = _drill_inputs(setup)
    k_ext = DRILLS.index((EXTENDER, None))
    # the Extender's end pose: its sample of longest BFLH MTU
    ext_len = np.asarray(g.mtu_length({c: d_q[c][k_ext] for c in g.coordinates}))[:, b]
    i_end = int(np.argmax(ext_len))
    ext_pose = (
        round(math.degrees(float(d_q["hip_flexion_r"][k_ext, i_end])), 1),
        round(math.degrees(sign * float(d_q["knee_angle_r"][k_ext, i_end])), 1),
    )
    # the level of the extension phase: the largest excitation up to the longest pose
    ext_level = float(d_drive[k_ext, b, : i_end + 1].max())
    poses = (*CHLEBOUN_POSES, ext_pose)
    levels = (RELAXED, ext_level, MAXIMAL)
    n = len(poses) * len(levels)
    held = {c: np.zeros((n, setup.samples)) for c in g.coordinates}
    drive = np.zeros((n, len(HAMSTRINGS), setup.samples))
    for j, ((hip, knee), level) in enumerate((p, e) for e in levels for p in poses):
        held["hip_flexion_r"][j] = math.radians(hip)
        held["knee_angle_r"][j] = sign * math.radians(knee)
        drive[j] = level
    time = np.concatenate([d_time, np.tile(np.linspace(0.0, 1.0, setup.samples), (n, 1))])
    q = {c: np.concatenate([d_q[c], held[c]]) for c in g.coordinates}
    result = evaluate(g, g.parameters, time, q, excitation=np.concatenate([d_drive, drive]))
    sol = jax.tree_util.tree_map(np.asarray, result.solution)
    metrics = jax.tree_util.tree_map(np.asarray, result.metrics)
    p = jax.tree_util.tree_map(np.asarray, g.parameters)
    f_max, l_opt = float(p.max_isometric_force[b]), float(p.optimal_fiber_length[b])
    slack = float(p.tendon_slack_length[b])
    upright = float(np.asarray(g.upright_length)[b])

    def state(k, i):
        return {
            "mtu_strain": float(sol.mtu_length[k, b, i] / upright - 1.0),
            "fiber_length_m": float(sol.fiber_length[k, b, i]),
            "fiber_strain": float(sol.norm_fiber_length[k, b, i] - 1.0),
            "tendon_strain": float(sol.tendon_length[k, b, i] / slack - 1.0),
            "passive_force_n": float(sol.passive_fiber_force[k, b, i]),
            "active_force_n": float(sol.active_fiber_force[k, b, i]),
            "tendon_force_n": float(sol.tendon_force[k, b, i]),
        }

    nd = len(DRILLS)
    held_states = {
        (pose, level): state(nd + j, -1)
        for j, (pose, level) in enumerate((p_, e) for e in levels for p_ in poses)
    }
    drills = {}
    for k, (name, _) in enumerate(DRILLS):
        i = int(np.argmax(sol.tendon_force[k, b]))
        pose = {c: d_q[c][k, i] for c in g.coordinates}
        arms = np.asarray(g.moment_arm(pose))  # [muscle, coordinate], r = -dL/dq
        hip_arm = arms[:, g.coordinates.index("hip_flexion_r")]
        knee_arm = arms[:, g.coordinates.index("knee_angle_r")] * sign
        force = sol.tendon_force[k, :, i]
        hip = math.degrees(float(d_q["hip_flexion_r"][k, i]))
        knee = math.degrees(sign * float(d_q["knee_angle_r"][k, i]))
        # the criterion's own active stretch and what made its sample count as active
        j = int(metrics.active_stretch_index[k, b])
        drills[name] = {
            "time_s": float(d_time[k, i]),
            "hip_deg": hip,
            "knee_deg": knee,
            **state(k, i),
            # r = -dL/dq: a negative hip arm extends the hip, a positive knee arm flexes the knee
            "bflh_hip_extension_nm": float(-force[b] * hip_arm[b]),
            "bflh_knee_flexion_nm": float(force[b] * knee_arm[b]),
            "hamstrings_hip_extension_nm": float(-(force * hip_arm).sum()),
            "hamstrings_knee_flexion_nm": float((force * knee_arm).sum()),
            "active_stretch": float(metrics.active_stretch[k, b]),
            "active_stretch_activation": float(sol.activation[k, b, j]),
            "active_stretch_force_length": float(sol.active_force_length_multiplier[k, b, j]),
            "active_stretch_force_velocity": float(sol.force_velocity_multiplier[k, b, j]),
            "active_stretch_force": float(sol.active_fiber_force[k, b, j] / f_max),
            "loads_muscle": bool(metrics.loads_muscle[k, b]),
            "peak_active_force": float(sol.active_fiber_force[k, b].max() / f_max),
            "peak_mtu_strain": float(sol.mtu_length[k, b].max() / upright - 1.0),
        }
    drills[NORDIC]["demand_nm"] = nordic_knee_moment(
        setup, drills[NORDIC]["knee_deg"], drills[NORDIC]["hip_deg"]
    )
    drills[NORDIC]["hip_demand_nm"] = nordic_hip_moment(
        setup, drills[NORDIC]["knee_deg"], drills[NORDIC]["hip_deg"]
    )
    for name, legs in HINGES.items():
        drills[name]["demand_nm"] = hinge_hip_moment(
            setup, drills[name]["hip_deg"], _intensity(setup, name, None), legs
        )
    load = _intensity(setup, HIP_EXTENSION, None)
    drills[HIP_EXTENSION]["demand_nm"] = bench_hip_moment(
        setup, drills[HIP_EXTENSION]["hip_deg"], load
    )
    return {
        "parameters": {
            "max_isometric_force": f_max,
            "optimal_fiber_length": l_opt,
            "tendon_slack_length": slack,
            "pennation_angle_at_optimal": float(p.pennation_angle_at_optimal[b]),
            "tendon_strain_at_one_norm_force": float(p.tendon_strain_at_one_norm_force[b]),
            "passive_fiber_strain_at_one_norm_force": float(
                p.passive_fiber_strain_at_one_norm_force[b]
            ),
        },
        "upright_m": upright,
        "extender_pose": ext_pose,
        "extender_level": ext_level,
        "levels": levels,
        "held": held_states,
        "drills": drills,
        "hip_extension_load_bm": load,
        "intensities": {n: _intensity(setup, n, x) for n, x in DRILLS},
    }


def _segment_lengths(height_m: float) -> tuple[float, float]:
    """Thigh (hip to knee) and HAT (greater trochanter to glenohumeral joint) lengths (m)."""
    return (HIP_HEIGHT - KNEE_HEIGHT) * height_m, (SHOULDER_HEIGHT - HIP_HEIGHT) * height_m


def nordic_knee_moment(setup: Setup, knee_deg: float, hip_deg: float) -> float:
    """Knee-flexor moment (N m, one leg) that holds the body above the knees still in a
    Nordic at ``knee_deg`` of knee flexion (90 = upright kneeling) and ``hip_deg`` of hip
    flexion: thighs and HAT (Winter 2009) about the knee axis, shared by two legs."""
    thigh, hat = _segment_lengths(setup.height_m)
    lean = math.radians(90.0 - knee_deg)  # thigh from vertical
    trunk = lean + math.radians(hip_deg)
    arm_thigh = (1.0 - THIGH_COM_FROM_HIP) * thigh * math.sin(lean)
    arm_hat = thigh * math.sin(lean) + HAT_COM_FROM_HIP * hat * math.sin(trunk)
    moment = 2 * THIGH_MASS * arm_thigh + HAT_MASS * arm_hat
    return moment * setup.mass_kg * GRAVITY / 2.0


def nordic_hip_moment(setup: Setup, knee_deg: float, hip_deg: float) -> float:
    """Hip-extensor moment (N m, one leg) that holds the HAT (Winter 2009) on the thighs in a
    Nordic at ``knee_deg`` and ``hip_deg`` (as :func:`nordic_knee_moment`)."""
    _, hat = _segment_lengths(setup.height_m)
    trunk = math.radians(90.0 - knee_deg + hip_deg)  # from vertical
    arm = HAT_COM_FROM_HIP * hat * math.sin(trunk)
    return HAT_MASS * setup.mass_kg * GRAVITY * arm / 2.0


def hinge_hip_moment(setup: Setup, hip_deg: float, load_bm: float, legs: int) -> float:
    """Hip-extensor moment (N m, one leg) that holds the HAT (Winter 2009) and a weight of
    ``load_bm`` body masses hanging from the hands (below the glenohumeral joint) in a standing
    hip hinge at ``hip_deg``, the thigh taken vertical, shared by ``legs`` legs; a single-leg
    hinge's free leg, which counterbalances in part, is left out (an upper bound)."""
    _, hat = _segment_lengths(setup.height_m)
    lean = math.sin(math.radians(hip_deg))
    moment = (HAT_MASS * HAT_COM_FROM_HIP + load_bm) * hat * lean
    return moment * setup.mass_kg * GRAVITY / legs


def bench_hip_moment(setup: Setup, hip_deg: float, load_bm: float) -> float:
    """Hip-extensor moment (N m, one leg) that holds the HAT and a plate of ``load_bm`` body
    masses (held at the chest, taken at the HAT's centre of mass) at ``hip_deg`` of hip flexion
    on a 45-deg back-extension bench, shared by two legs."""
    _, hat = _segment_lengths(setup.height_m)
    trunk = math.radians(BENCH_INCLINATION_DEG - hip_deg)  # above horizontal
    arm = HAT_COM_FROM_HIP * hat * math.cos(trunk)
    return (HAT_MASS + load_bm) * setup.mass_kg * GRAVITY * arm / 2.0


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the table: ``ratio`` = model / published (None where nothing compares)."""

    quantity: str
    model: float
    unit: str
    published: float | None
    source: str

    @property
    def ratio(self) -> float | None:
        return None if self.published in (None, 0.0) else self.model / self.published


def _intensity_of(outcome: dict, name: str) -> float:
    return outcome["intensities"][name]


def _cite(key: str) -> str:
    r = reference(key)
    return f"{r['authors'].split(',')[0]} {r['year']}, doi:{r['doi']}"


def rows(outcome: dict) -> list[Row]:
    """The comparison table."""
    par = outcome["parameters"]
    l_opt, slack = par["optimal_fiber_length"], par["tendon_slack_length"]
    held, drills = outcome["held"], outcome["drills"]
    ext_pose, ext_level = outcome["extender_pose"], outcome["extender_level"]
    rel = {pose: held[(pose, RELAXED)] for pose in (*CHLEBOUN_POSES, ext_pose)}
    out = [
        Row(
            "l_opt (cm)",
            100 * l_opt,
            "cm",
            100 * WARD_FIBER_LENGTH_M[0],
            f"Ward 2009 fibre length 9.76 +- 2.62 cm (21 cadavers) [{_cite('ward2009')}]",
        ),
    ]
    for label, (f, lo, ts, pen) in GENERIC_MODELS.items():
        out += [
            Row("l_opt (cm)", 100 * l_opt, "cm", 100 * lo, f"generic model, {label}"),
            Row("tendon_slack / l_opt", slack / l_opt, "1", ts / lo, f"generic model, {label}"),
            Row("F_max (N)", par["max_isometric_force"], "N", f, f"generic model, {label}"),
            Row(
                "pennation at l_opt (deg)",
                math.degrees(par["pennation_angle_at_optimal"]),
                "deg",
                math.degrees(pen),
                f"generic model, {label}",
            ),
        ]
    out += [
        Row(
            "pennation at l_opt (deg)",
            math.degrees(par["pennation_angle_at_optimal"]),
            "deg",
            WARD_PENNATION_DEG[0],
            f"Ward 2009 11.6 +- 5.5 deg [{_cite('ward2009')}]",
        ),
        Row(
            "relaxed fibre, hip 0 / knee 0 (cm)",
            100 * rel[(0.0, 0.0)]["fiber_length_m"],
            "cm",
            100 * TIMMINS_THRESHOLD_M,
            f"resting BFlh fascicle, 10.56 cm injury-risk threshold [{_cite('timmins2016cohort')}]",
        ),
        Row(
            "l_opt / (l_opt + tendon slack)",
            l_opt / (l_opt + slack),
            "1",
            KELLIS_FASCICLE_TO_MUSCLE,
            "cadaver fascicle / muscle-belly length 0.27; the model's denominator adds the free "
            f"tendons to the belly, so a ratio below 1 is expected [{_cite('kellis2012')}]",
        ),
    ]
    # the passive split of a hip-90 / knee-0 stretch
    a, z = rel[(0.0, 0.0)], rel[(90.0, 0.0)]
    upright = outcome["upright_m"]
    d_mtu = (z["mtu_strain"] - a["mtu_strain"]) * upright
    d_fibre = z["fiber_length_m"] - a["fiber_length_m"]
    out += [
        Row(
            "relaxed fibre, hip 90 / knee 0 (cm)",
            100 * z["fiber_length_m"],
            "cm",
            None,
            "no per-pose in-vivo length retrieved (Chleboun 2001 reports the grid; its numbers "
            f"were not available here) [{_cite('chleboun2001')}]",
        ),
        Row(
            "relaxed fibre strain, hip 90 / knee 0",
            z["fiber_strain"],
            "1",
            None,
            "descending limb if > ~0.1; in vivo not retrieved",
        ),
        Row(
            "relaxed passive force, hip 90 / knee 0 (F_max)",
            z["passive_force_n"] / par["max_isometric_force"],
            "1",
            None,
            "model only",
        ),
        Row(
            "fibre share of MTU stretch, hip 0->90 (knee 0)",
            d_fibre / d_mtu,
            "1",
            None,
            "ultrasound length changes of BFlh smaller than modelling equations give "
            f"[{_cite('kellis2021')}]",
        ),
        Row(
            f"MTU strain at Extender end pose (hip {ext_pose[0]:g} / knee {ext_pose[1]:g})",
            held[(ext_pose, RELAXED)]["mtu_strain"],
            "1",
            THELEN_SPRINT_MTU_STRAIN,
            f"BF peak MTU strain in sprinting [{_cite('thelen2005')}]",
        ),
        Row(
            "MTU strain, hip 90 / knee 0",
            z["mtu_strain"],
            "1",
            THELEN_SPRINT_MTU_STRAIN,
            f"BF peak MTU strain in sprinting [{_cite('thelen2005')}]",
        ),
    ]
    f_max = par["max_isometric_force"]
    for level, label in ((ext_level, f"Extender level {ext_level:.2f}"), (MAXIMAL, "maximal")):
        s = held[(ext_pose, level)]
        out += [
            Row(
                f"fibre strain at Extender end pose, {label}",
                s["fiber_strain"],
                "1",
                None,
                "model only",
            ),
            Row(
                f"active force at Extender end pose, {label} (F_max)",
                s["active_force_n"] / f_max,
                "1",
                ACTIVE_FORCE_FRACTION,
                "the criteria's 'active' threshold (muscle.metrics.ACTIVE_FORCE_FRACTION)",
            ),
        ]
    ext = drills[EXTENDER]
    out += [
        Row(
            "Extender active stretch (fibre strain while active)",
            ext["active_stretch"],
            "1",
            None,
            f"at its sample: activation {ext['active_stretch_activation']:.3f}, "
            f"f_L {ext['active_stretch_force_length']:.2f}, "
            f"f_V {ext['active_stretch_force_velocity']:.2f}",
        ),
        Row(
            "Extender active force at that sample (F_max)"
            if ext["loads_muscle"]
            else "Extender largest active force (F_max): no sample counts as active",
            ext["active_stretch_force"] if ext["loads_muscle"] else ext["peak_active_force"],
            "1",
            ACTIVE_FORCE_FRACTION,
            "the criteria's 'active' threshold (muscle.metrics.ACTIVE_FORCE_FRACTION)",
        ),
    ]
    # What a different, published split of fibre and tendon would change: with the tendon
    # nearly inextensible at these forces, a fibre at a pose lengthens by the slack it gives
    # up (first order, pennation ignored).
    total = l_opt + slack
    for label, (_, lo, ts, _) in GENERIC_MODELS.items():
        l_alt = total / (1.0 + ts / lo)
        fibre = z["fiber_length_m"] + (slack - (total - l_alt))
        out.append(
            Row(
                "relaxed fibre strain, hip 90 / knee 0, with a generic model's slack / l_opt",
                fibre / l_alt - 1.0,
                "1",
                z["fiber_strain"],
                f"this model (first order, same l_opt + slack); split of {label}",
            )
        )
    # the tendon stretch the Extender's end pose would need for its fibre to sit at the fibre
    # length of a sprint's peak MTU stretch
    excess = (held[(ext_pose, RELAXED)]["mtu_strain"] - THELEN_SPRINT_MTU_STRAIN) * upright
    out.append(
        Row(
            "extra tendon strain to absorb the Extender's MTU excess over a sprint",
            excess / slack,
            "1",
            par["tendon_strain_at_one_norm_force"],
            "the model's tendon strain at F_max (the whole of its tendon's compliance)",
        )
    )
    nordic, bench = drills[NORDIC], drills[HIP_EXTENSION]
    out += [
        Row(
            "Nordic peak BFLH force (N)",
            nordic["tendon_force_n"],
            "N",
            bench["tendon_force_n"],
            "the model's 45-deg hip extension peak (Van Hooren 2022 found the Nordic's peak "
            f"forces generally highest, EMG-informed model) [{_cite('vanhooren2022')}]",
        ),
        Row(
            f"Nordic hamstrings knee moment at BFLH peak (knee {nordic['knee_deg']:.0f} deg, N m)",
            nordic["hamstrings_knee_flexion_nm"],
            "N m",
            nordic["demand_nm"],
            "body weight above the knees, one leg (Winter 2009 segments)",
        ),
        Row(
            "Nordic hamstrings knee moment at BFLH peak (N m)",
            nordic["hamstrings_knee_flexion_nm"],
            "N m",
            SCONCE_NORDIC_TORQUE_NM[0],
            f"measured peak eccentric torque 149.7 +- 70.1 Nm [{_cite('sconce2021')}]",
        ),
        Row(
            "Nordic BFLH share of hamstring knee moment",
            nordic["bflh_knee_flexion_nm"] / nordic["hamstrings_knee_flexion_nm"],
            "1",
            None,
            "model only",
        ),
        Row(
            f"45-deg hip ext. hamstrings hip moment at BFLH peak (hip {bench['hip_deg']:.0f} deg, "
            "N m)",
            bench["hamstrings_hip_extension_nm"],
            "N m",
            bench["demand_nm"],
            f"HAT + {outcome['hip_extension_load_bm']:g} BM plate, one leg (Winter 2009 "
            "segments); the gluteals and adductor magnus share it in vivo",
        ),
        Row(
            "45-deg hip ext. BFLH hip moment at its peak (N m)",
            bench["bflh_hip_extension_nm"],
            "N m",
            bench["demand_nm"],
            "the whole hip-extensor demand, one leg",
        ),
        Row(
            "45-deg hip ext. BFLH force if the hamstrings met the demand alone (N)",
            bench["tendon_force_n"] * bench["demand_nm"] / bench["hamstrings_hip_extension_nm"],
            "N",
            nordic["tendon_force_n"],
            "the model's Nordic peak (hamstring forces scaled to the demand: an upper bound, "
            "since the gluteals and adductor magnus share it)",
        ),
        Row(
            "Nordic hamstrings hip moment at BFLH peak (N m)",
            nordic["hamstrings_hip_extension_nm"],
            "N m",
            nordic["hip_demand_nm"],
            "HAT on the thighs, one leg (Winter 2009 segments); the excess must be met by the "
            "hip flexors",
        ),
        *(
            Row(
                f"{name} hamstrings hip moment at BFLH peak (hip {drills[name]['hip_deg']:.0f} "
                "deg, N m)",
                drills[name]["hamstrings_hip_extension_nm"],
                "N m",
                drills[name]["demand_nm"],
                f"HAT + {_intensity_of(outcome, name):g} BM in the hands, "
                f"{'one leg of two' if legs == 2 else 'the stance leg alone'} (Winter 2009 "
                "segments)",
            )
            for name, legs in HINGES.items()
        ),
        Row(
            "45-deg hip ext. BFLH passive share of fibre force at peak",
            bench["passive_force_n"] / (bench["passive_force_n"] + bench["active_force_n"]),
            "1",
            None,
            "model only",
        ),
    ]
    return out


def report(outcome: dict) -> str:
    par = outcome["parameters"]
    lines = [
        f"BFLH of {MODEL} ({SCALED_OSIM}): F_max {par['max_isometric_force']:.0f} N, l_opt "
        f"{100 * par['optimal_fiber_length']:.2f} cm, tendon slack "
        f"{100 * par['tendon_slack_length']:.2f} cm, pennation "
        f"{math.degrees(par['pennation_angle_at_optimal']):.1f} deg, tendon strain at F_max "
        f"{par['tendon_strain_at_one_norm_force']:.3f}, passive strain at F_max "
        f"{par['passive_fiber_strain_at_one_norm_force']:.3f}; upright MTU "
        f"{100 * outcome['upright_m']:.1f} cm.",
        "",
        f"{'quantity':<66} {'model':>9} {'published':>10} {'ratio':>6}  source",
    ]
    for r in rows(outcome):
        pub = "—" if r.published is None else f"{r.published:10.3f}"
        ratio = "—" if r.ratio is None else f"{r.ratio:6.2f}"
        lines.append(f"{r.quantity:<66} {r.model:9.3f} {pub:>10} {ratio:>6}  {r.source}")
    lines += [
        "",
        "Held poses (BFLH, end of 1 s): fibre cm / fibre strain / tendon strain / "
        "passive N / active N",
    ]
    for (pose, level), s in outcome["held"].items():
        lines.append(
            f"  hip {pose[0]:5.1f} knee {pose[1]:5.1f} excitation {level:4.2f}: "
            f"{100 * s['fiber_length_m']:5.1f} / {s['fiber_strain']:+.3f} / "
            f"{s['tendon_strain']:+.4f} / {s['passive_force_n']:6.0f} / {s['active_force_n']:6.0f}"
        )
    lines += ["", "Drills at the sample of peak BFLH force:"]
    for name, d in outcome["drills"].items():
        lines.append(
            f"  {name}: t {d['time_s']:.2f} s, hip {d['hip_deg']:.1f}, "
            f"knee {d['knee_deg']:.1f} deg;"
            f" BFLH {d['tendon_force_n']:.0f} N (active {d['active_force_n']:.0f}, passive "
            f"{d['passive_force_n']:.0f}), fibre strain {d['fiber_strain']:+.3f}; hamstrings hip "
            f"ext. {d['hamstrings_hip_extension_nm']:.1f} N m, knee flex. "
            f"{d['hamstrings_knee_flexion_nm']:.1f} N m"
            + (f"; body demand {d['demand_nm']:.1f} N m (one leg)" if "demand_nm" in d else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=128)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    print(report(run(build(args.samples))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
