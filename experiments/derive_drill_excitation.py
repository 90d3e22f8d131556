"""Derive the hamstring excitation of the quasi-static strength drills from their mechanics.

A slow strength drill is close to static: the joint moments it needs are those that hold the
body's weight and the external load at each pose of the drill. This script computes them for
the drill's own kinematics (``musclesim.drill_motion``) with the sprinter model's own segment
masses and mass centres (``Sprinter_JA1_scaled.osim`` read by
:func:`musclesim.osim.model.load_dynamics_model`, no OpenSim needed), shares them among the
muscles crossing those joints by static optimisation
(:func:`musclesim.dynamics.static_opt.static_optimization` on the shipped ``sprinter_ja1``
geometry: rigid tendon, passive force included, sum of squared activations, Crowninshield &
Brand 1981), and writes the activations of the working leg's four hamstrings into the drill
files as their excitation levels. Levels are fractions of full excitation, the drill files'
unit (``models/drills/README.md``: maximal sprinting's template peaks at 1).

**Moments by virtual work.** A drill names the body segment that is held (a foot on the floor,
the shanks on a Nordic pad, the thighs on a back-extension pad). With that segment fixed in
ground at its pose in a stated reference posture, the potential energy V(q) of the body and the
load is a function of the joint angles alone, and the moment the muscles must supply at
coordinate j is dV/dq_j (OpenSim's sign: a negative hip moment extends the hip). For a
symmetric two-legged drill the two legs share equally: the right leg's moment is half of
dV/dq_r + dV/dq_l, which is exact for sagittal coordinates (moving both legs alike keeps both
held segments fixed); frontal and transverse moments of a closed two-legged chain are not
determined by statics, so they are not matched. Nor are a single-leg drill's: they depend on how
far the pelvis shifts over the stance foot, which the drill files do not give (with a level
pelvis the model's abductors fall 58-69 N m short at deep hip flexion). So every drill matches
sagittal moments only. The coupled patella follows the knee through
the model's coupler.

**Which moments are matched** (:data:`DRILLS`): only those statics determines. Where a segment
beyond a joint is held by a pad, a strap or a roller (the Nordic's feet, the back-extension's
heels), that joint's moment is whatever the support gives and is left free; the muscles
crossing it may then work there without cost.

**Level per move.** A key posture's level holds during the move into it
(:class:`musclesim.training.drills.excitation.DrillExcitation`); the derived level is the
largest static-optimisation activation along that move, so the muscle can meet the demand at
every pose of it. Levels are derived at the lightest and the heaviest intensity of the drill
and written as ``{at_min, at_max}`` (the files' linear form); the default intensity is solved
too and the linear form's error there is printed. Further dimensions (tempo, range) take the
file's defaults.

**Not derived here**: drills whose static problem is not determined (two supports whose split
of the body weight depends on geometry the file does not give, such as the long-lever bridge,
or a move made with the arms' help, such as the Askling Glider) and the non-working leg; their
levels keep their own sources.

Run: ``python -m experiments.derive_drill_excitation [--write] [--drills a b] [--rate 20]``
(prints the table; ``--write`` rewrites the drill files' hamstring levels and their source).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from musclesim.core.errors import InputError
from musclesim.core.io import MODELS_DIR, sha256_file, shared_data_dir, write_text_atomic
from musclesim.dynamics.inverse import apply_couplers
from musclesim.dynamics.static_opt import crossing_muscles, static_optimization
from musclesim.geometry.io import load_model
from musclesim.osim.model import body_poses, load_dynamics_model
from musclesim.training.drills import drill_motion, load_drills
from musclesim.training.drills.keyframes import _keyframe_schedule, _segment_index

#: The body whose segments are weighed (in ``shared/data``) and the geometry whose muscles share
#: the moments (its muscles were fitted from the same model).
OSIM = "models/Sprinter_JA1_scaled.osim"
GEOMETRY = "sprinter_ja1"
HAMSTRINGS = ("bflh", "bfsh", "semiten", "semimem")
#: Sagittal coordinates of a leg: the ones a symmetric two-legged drill determines.
SAGITTAL = ("hip_flexion", "knee_angle", "ankle_angle")
#: Why a single-leg drill's frontal and transverse hip moments are not matched: with the file's
#: level pelvis the trunk's weight lies medial to the stance hip and asks more abduction moment
#: than the model's abductors give at deep hip flexion (reserves of 58-69 N m in the single-leg
#: deadlift and Diver when matched), where a real athlete shifts the pelvis over the foot.
UNSHIFTED = (
    "frontal and transverse hip moments depend on how far the pelvis shifts over the foot, "
    "which the file does not give, so they are not matched"
)
#: Intensities each drill is solved at, evenly spaced from its lightest to its heaviest (the
#: default is added): levels in between are linear, so enough points to follow the bend where
#: passive force stops covering the demand.
STEPS = 6
#: The back-extension bench's inclination: the body in line lies 45 deg above horizontal,
#: face down (the drill's name; ``hip_extension_45.toml``).
BENCH_INCLINATION_DEG = 45.0
COMMAND = "python -m experiments.derive_drill_excitation --write"
SCRIPT = "experiments/derive_drill_excitation.py"


@dataclasses.dataclass(frozen=True)
class Statics:
    """How a drill holds the body.

    ``support``: the body fixed in ground; ``reference``: ``"upright"`` (the support keeps its
    pose of the model's default upright standing), ``"start"`` (its pose at the drill's first
    key posture with the pelvis upright) or ``"bench"`` (that, with the body pitched forward to
    the bench's inclination); ``matched``: the working leg's coordinates whose moments statics
    determines (without side suffix); ``symmetric``: both legs do the same and share;
    ``load``: where an external load of ``load_bm`` body masses hangs (``"shoulders"``: from
    the hands with the arms hanging, so on the vertical through the shoulder joints;
    ``"chest"``: a plate held against the chest, at the torso's mass centre) or None;
    ``undetermined``: labels of key postures whose move statics does not determine (made with
    the hands' help); their levels are left as the file has them.
    """

    support: str
    reference: str
    matched: tuple[str, ...]
    symmetric: bool
    load: str | None
    why: str
    undetermined: tuple[str, ...] = ()


#: The drills derived here and how each is held: every strength drill whose hamstring levels
#: had no measured or derived source, the Askling Diver (a single-leg hip hinge without load,
#: like the single-leg deadlift) and the Askling Extender (a slow knee extension with the thigh
#: held, whose hamstrings statics asks for nothing but co-activation).
DRILLS: dict[str, Statics] = {
    "romanian_deadlift": Statics(
        "calcn_r",
        "upright",
        SAGITTAL,
        True,
        "shoulders",
        "feet flat on the floor, both legs alike; the barbell hangs from the hands",
    ),
    "single_leg_rdl": Statics(
        "calcn_r",
        "upright",
        SAGITTAL,
        False,
        "shoulders",
        "the working foot flat on the floor carries everything; the weight hangs from the hands "
        f"between the shoulders; {UNSHIFTED}",
    ),
    "askling_diver": Statics(
        "calcn_r",
        "upright",
        SAGITTAL,
        False,
        None,
        f"the standing foot flat on the floor carries everything; no load; {UNSHIFTED}",
    ),
    "hip_extension_45": Statics(
        "femur_r",
        "bench",
        ("hip_flexion",),
        True,
        "chest",
        "thighs on the pad, heels under the roller: the hips are determined, the knees and "
        "ankles are held by the pad and roller",
    ),
    "nordic_hamstring": Statics(
        "tibia_r",
        "start",
        ("hip_flexion", "knee_angle"),
        True,
        None,
        "shanks on the pad, heels held: hips and knees are determined, the ankles are held",
        ("push back up with the hands",),
    ),
    "askling_extender": Statics(
        "femur_r",
        "supine",
        ("knee_angle", "ankle_angle"),
        False,
        None,
        "supine, the thigh held by the hands at the hip: the knee and ankle are determined, "
        "the hip is held",
    ),
}


@dataclasses.dataclass
class Setup:
    body: object  # DynamicsModel
    geometry: object  # GeometryModel
    drills: dict
    names: tuple[str, ...]
    rate: float
    osim_path: Path
    geometry_path: Path


def build(
    data_dir: Path | None = None, *, names: Sequence[str] = tuple(DRILLS), rate: float = 20.0
) -> Setup:
    """The sprinter's body and muscles and the drill library; ``rate`` (Hz) samples the motion."""
    data_dir = shared_data_dir() if data_dir is None else Path(data_dir)
    unknown = [n for n in names if n not in DRILLS]
    if unknown:
        raise InputError(
            f"drills {unknown}", field="drills", expected=f"names among {sorted(DRILLS)}"
        )
    osim = data_dir / OSIM
    return Setup(
        load_dynamics_model(osim),
        load_model(GEOMETRY),
        load_drills(),
        tuple(names),
        float(rate),
        osim,
        MODELS_DIR / f"{GEOMETRY}.nc",
    )


# ------------------------------------------------------------------------------------------
# Statics


def _body_q(body, motion) -> np.ndarray:
    """The drill motion as the body's coordinate vectors [time, coordinate]; locked
    coordinates at their defaults (the forearms' pronation)."""
    names = [str(c) for c in motion["coordinate"].values]
    q = np.asarray(motion["q"].values, dtype=float)
    out = np.tile(np.asarray(body.default_q, dtype=float), (q.shape[0], 1))
    for j, c in enumerate(body.coordinate_names):
        if not body.locked[j]:
            out[:, j] = q[:, names.index(c)] if c in names else 0.0
    return out


def _com_and_origins(body, q):
    q, _, _ = apply_couplers(body, q, jnp.zeros_like(q), jnp.zeros_like(q))
    rot, pos = body_poses(body, q)
    return rot, pos, pos + jnp.einsum("bij,bj->bi", rot, body.mass_center)


def reference_pose(body, statics: Statics, q_start: np.ndarray):
    """(R, p) of the support body in ground in the drill's reference posture."""
    q = np.asarray(body.default_q, dtype=float).copy()
    if statics.reference in ("start", "bench", "supine"):
        q = q_start.copy()
    pelvis = [body.coordinate_index(c) for c in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]
    q[pelvis] = 0.0
    if statics.reference == "bench":
        # pitch the in-line body forward (face down) about the pelvis's tilt axis until the
        # hip-to-shoulder line lies at the bench's inclination above horizontal
        q[pelvis[0]] = -math.radians(90.0 - BENCH_INCLINATION_DEG)
    elif statics.reference == "supine":
        # lying on the back: the upright body turned backwards by 90 deg, face up
        q[pelvis[0]] = math.radians(90.0)
    rot, pos, _ = _com_and_origins(body, jnp.asarray(q))
    s = body.body_index(statics.support)
    return rot[s], pos[s]


def _load_point(body, rot, pos, com, where: str):
    if where == "shoulders":
        return 0.5 * (pos[body.body_index("humerus_r")] + pos[body.body_index("humerus_l")])
    if where == "chest":
        return com[body.body_index("torso")]
    raise ValueError(where)


def potential(body, statics: Statics, support_pose, load_bm: float):
    """V(q) (J): gravity's potential of every segment and of the load, with the support body
    held at ``support_pose``."""
    s = body.body_index(statics.support)
    rot0, pos0 = support_pose
    g = body.gravity
    total = jnp.sum(body.mass)

    def v(q):
        rot, pos, com = _com_and_origins(body, q)
        turn = rot0 @ rot[s].T

        def ground(x):
            return (x - pos[s]) @ turn.T + pos0

        value = -jnp.sum(body.mass * (ground(com) @ g))
        if statics.load is not None and load_bm:
            point = ground(_load_point(body, rot, pos, com, statics.load))
            value = value - load_bm * total * jnp.dot(point, g)
        return value

    return v


def joint_moments(body, statics: Statics, q: np.ndarray, load_bm: float, q_start) -> dict:
    """{working-leg coordinate: moment [time] (N m)} that the muscles must supply (OpenSim's
    signs) for every matched coordinate."""
    v = potential(body, statics, reference_pose(body, statics, q_start), load_bm)
    grad = np.asarray(jax.vmap(jax.grad(v))(jnp.asarray(q)))
    out = {}
    for c in statics.matched:
        r = grad[:, body.coordinate_index(f"{c}_r")]
        if statics.symmetric:
            r = 0.5 * (r + grad[:, body.coordinate_index(f"{c}_l")])
        out[f"{c}_r"] = r
    return out


# ------------------------------------------------------------------------------------------
# Static optimisation along the drill


def solve_drill(setup: Setup, name: str, intensity: float) -> dict:
    """Moments, static-optimisation activations and per-move levels of one drill at one
    intensity (further dimensions at the file's defaults)."""
    drill, statics = setup.drills[name], DRILLS[name]
    g, body = setup.geometry, setup.body
    sign = dict(g.knee_flexion_sign)
    coords = list(body.coordinate_names)
    signs = {c: (sign.get(c, 1) if c.startswith("knee_angle") else 1) for c in coords}
    knee = {c: s for c, s in signs.items() if c in ("knee_angle_r", "knee_angle_l")}
    motion = drill_motion(
        drill, intensity, coordinates=coords, knee_flexion_sign=knee, sample_rate=setup.rate
    )
    t = np.asarray(motion["time"].values, dtype=float)
    q = _body_q(body, motion)
    load = intensity if drill.intensity.name == "load_bm" else 0.0
    moments = joint_moments(body, statics, q, load, q[0])
    matched = tuple(moments)
    muscles = crossing_muscles(g, matched)
    qd = np.gradient(q, t, axis=0)
    index = {c: body.coordinate_index(c) for c in g.coordinates}
    so = static_optimization(
        g,
        {c: q[:, j] for c, j in index.items()},
        {c: qd[:, j] for c, j in index.items()},
        {c: moments[c] for c in matched},
        coordinates=matched,
        muscles=muscles,
        on_failure="flag",
    )
    act = np.asarray(so.activation)
    arrive, period = _keyframe_schedule(drill, intensity, None)
    seg = _segment_index(t, arrive, period)
    n_frames = len(drill.motion["keyframes"])
    levels = {}
    for m in HAMSTRINGS:
        if f"{m}_r" not in muscles:  # crosses none of the matched joints: statics asks nothing
            levels[m] = [0.0] * n_frames
            continue
        j = muscles.index(f"{m}_r")
        levels[m] = [
            float(act[seg == k, j].max()) if np.any(seg == k) else 0.0 for k in range(n_frames)
        ]
    return {
        "time": t,
        "moments": moments,
        "muscles": muscles,
        "activation": act,
        "reserve_moment": np.asarray(so.solution.reserve_moment),
        "converged": np.asarray(so.solution.converged),
        "levels": levels,
        "segment": seg,
    }


def intensity_points(drill, steps: int = STEPS) -> list[float]:
    """The intensities the levels are derived at: ``steps`` evenly spaced from the lightest to
    the heaviest, and the default."""
    lo, hi = drill.intensity.min, drill.intensity.max
    points = {round(float(x), 9) for x in np.linspace(lo, hi, steps)} | {drill.intensity.default}
    return sorted(points)


def run(setup: Setup, *, steps: int = STEPS) -> dict:
    """Every drill at :func:`intensity_points`: {name: {"at": [...], "solutions": [...]}}."""
    out = {}
    for name in setup.names:
        at = intensity_points(setup.drills[name], steps)
        out[name] = {"at": at, "solutions": [solve_drill(setup, name, x) for x in at]}
    return out


def line_error(result: dict) -> float:
    """Largest difference (fraction of full excitation) between a derived level and the line
    through the lightest and heaviest intensity's levels: how far a linear ``{at_min,
    at_max}`` form would be from the derivation."""
    at = np.asarray(result["at"])
    w = (at - at[0]) / (at[-1] - at[0]) if at[-1] > at[0] else np.zeros_like(at)
    worst = 0.0
    for m in HAMSTRINGS:
        table = np.asarray([sol["levels"][m] for sol in result["solutions"]])  # [point, move]
        line = (1 - w)[:, None] * table[0] + w[:, None] * table[-1]
        worst = max(worst, float(np.max(np.abs(table - line))))
    return worst


def level_spec(at: Sequence[float], values: Sequence[float]):
    """A level's drill-file form: a number when constant, else piecewise linear in the
    intensity (levels rounded to 0.001)."""
    v = [round(float(x), 3) for x in values]
    if max(v) - min(v) < 1e-3:
        return v[0]
    return {"at": [round(float(x), 6) for x in at], "value": v}


# ------------------------------------------------------------------------------------------
# Writing the drill files


def _fmt(value) -> str:
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 3))
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def _hamstring_key(key: str) -> bool:
    base = key[:-2] if key.endswith(("_r", "_l")) else key
    return base in (*HAMSTRINGS, "hamstrings")


def _working_key(key: str, symmetric: bool) -> bool:
    """Hamstring keys the derivation replaces: every one in a symmetric drill, the working
    (right) leg's and the unsided ones in a single-leg drill."""
    return _hamstring_key(key) and (symmetric or not key.endswith("_l"))


def rewrite_levels(text: str, name: str, result: dict, statics: Statics, source: str) -> str:
    """The drill file's text with each key posture's hamstring levels replaced by the derived
    ones (:func:`level_spec` over the intensities derived at) and the derivation's [[sources]]
    entry."""
    labels = [f["label"] for f in tomllib.loads(text)["motion"]["keyframes"]]
    skip = {k for k, label in enumerate(labels) if label in statics.undetermined}
    frame, in_frame, out = -1, False, []
    suffix = "" if statics.symmetric else "_r"
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "[[motion.keyframes]]":
            frame, in_frame = frame + 1, True
        elif stripped.startswith("["):
            in_frame = False
        elif in_frame and line.startswith("excitation = {") and frame not in skip:
            table = tomllib.loads(line)["excitation"]
            kept = {k: v for k, v in table.items() if not _working_key(k, statics.symmetric)}
            derived = {
                f"{m}{suffix}": level_spec(
                    result["at"], [sol["levels"][m][frame] for sol in result["solutions"]]
                )
                for m in HAMSTRINGS
            }
            line = f"excitation = {_fmt({**derived, **kept})}"
        out.append(line)
    # the derivation's own source entry replaces an earlier one ([[sources]] close the file)
    head, *entries = "\n".join(out).split("\n[[sources]]\n")
    entries = [e for e in entries if f'note = "derived by {SCRIPT}' not in e]
    kept_text = "\n[[sources]]\n".join([head, *entries]).rstrip("\n")
    return kept_text + "\n\n" + source


def source_entry(setup: Setup, name: str, result: dict) -> str:
    statics = DRILLS[name]
    drill = setup.drills[name]
    matched = ", ".join(f"{c}_r" for c in statics.matched)
    reserve, where = largest_reserve(result)
    load = {
        "shoulders": "the load on the vertical through the shoulder joints (arms hanging)",
        "chest": "the plate at the torso's mass centre",
        None: "no external load",
    }[statics.load]
    what = (
        "hamstring excitation of the working leg at every key posture, piecewise linear in "
        f"{drill.intensity.name} through " + ", ".join(f"{x:g}" for x in result["at"])
    )
    note = (
        f"derived by {SCRIPT} (`{COMMAND}`), not measured: quasi-static joint moments by "
        f"virtual work with the segment masses and mass centres of {OSIM} (sha256 "
        f"{sha256_file(setup.osim_path)}), {statics.why}, {load}; moments matched at "
        f"{matched}{' (half of both legs)' if statics.symmetric else ''}; static optimisation "
        f"(sum of squared activations, rigid tendon, passive force included) over the "
        f"{len(result['solutions'][0]['muscles'])} muscles of models/{GEOMETRY}.nc (sha256 "
        f"{sha256_file(setup.geometry_path)}) crossing them; each move's level is the largest "
        "activation along it, the further dimensions at the file's defaults; the arms are held "
        "along the trunk"
        + (
            f"; the muscles leave up to {reserve:.0f} N m of {where} to the reserve actuators "
            "at some poses (a demand the model's muscles cannot meet there)"
            if reserve > 1.0
            else ""
        )
        + (
            "; not derived for the move(s) "
            + ", ".join(f"'{u}'" for u in statics.undetermined)
            + " (made with the hands' help, so statics does not determine the legs' share)"
            if statics.undetermined
            else ""
        )
    )
    return (
        "[[sources]]\n"
        f'what = "{what}"\n'
        'reference = "crowninshield1981"\n'
        "verified = true\n"
        f'note = "{note}"\n'
    )


def write(setup: Setup, outcome: dict) -> list[Path]:
    paths = []
    for name, result in outcome.items():
        path = Path(setup.drills[name].path)
        text = rewrite_levels(
            path.read_text(),
            name,
            result,
            DRILLS[name],
            source_entry(setup, name, result),
        )
        paths.append(write_text_atomic(path, text))
    return paths


def largest_reserve(result: dict) -> tuple[float, str]:
    """(N m, coordinate) of the largest reserve moment over the intensities and samples: how
    much of the demand the muscles could not meet."""
    best = (0.0, "")
    for sol in result["solutions"]:
        r = np.abs(sol["reserve_moment"])
        j = int(np.argmax(r.max(axis=0)))
        best = max(best, (float(r[:, j].max()), tuple(sol["moments"])[j]))
    return best


def report(setup: Setup, outcome: dict) -> str:
    lines = [
        f"Body {OSIM}: {float(np.sum(setup.body.mass)):.1f} kg; muscles of {GEOMETRY}.",
        "",
    ]
    for name, result in outcome.items():
        drill = setup.drills[name]
        frames = [f["label"] for f in drill.motion["keyframes"]]
        lines.append(f"{name} ({DRILLS[name].why}):")
        for x, r in zip(result["at"], result["solutions"], strict=True):
            peak = {c: float(np.abs(v).max()) for c, v in r["moments"].items()}
            lines.append(
                f"  {drill.intensity.name} {x:g}: peak |moment| "
                + ", ".join(f"{c} {v:.1f}" for c, v in peak.items())
                + f" N m; converged {float(np.mean(r['converged'])):.0%}"
            )
            for k, label in enumerate(frames):
                lines.append(
                    f"    into '{label}': "
                    + ", ".join(f"{m} {r['levels'][m][k]:.3f}" for m in HAMSTRINGS)
                )
        reserve, where = largest_reserve(result)
        lines.append(
            f"  largest reserve moment {reserve:.2f} N m ({where or 'none'}); a line through the "
            f"end intensities would be off by up to {line_error(result):.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--drills", nargs="*", default=list(DRILLS))
    parser.add_argument("--rate", type=float, default=20.0, help="motion samples per second")
    parser.add_argument("--write", action="store_true", help="rewrite the drill files' levels")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # the solver's tolerance needs double precision
    setup = build(args.data, names=args.drills, rate=args.rate)
    outcome = run(setup)
    print(report(setup, outcome))
    if args.write:
        for p in write(setup, outcome):
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
