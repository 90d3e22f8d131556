"""The drill-excitation derivation at a small size: its joint moments obey the statics they
stand for (signs, the upright start, a load's linear share, Winter 2009's segment model as an
independent estimate), static optimisation meets them, and the file writer puts the derived
levels where the drill's excitation reads them and nowhere else."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import bflh_parameter_check as winter, derive_drill_excitation as derive
from musclesim.core.errors import InputError
from musclesim.core.io import shared_data_dir
from musclesim.osim.model import _tree, body_poses
from musclesim.training.drills import drill_excitation, drill_motion, load_drills

pytestmark = pytest.mark.skipif(
    shared_data_dir(required=False) is None, reason="shared data (the .osim body) not available"
)

RATE = 5.0


@pytest.fixture(scope="module")
def setup():
    return derive.build(names=("nordic_hamstring", "romanian_deadlift"), rate=RATE)


def _motion_q(setup, name, intensity):
    d = setup.drills[name]
    coords = list(setup.body.coordinate_names)
    knee = {c: 1 for c in ("knee_angle_r", "knee_angle_l")}
    motion = drill_motion(
        d, intensity, coordinates=coords, knee_flexion_sign=knee, sample_rate=RATE
    )
    return np.asarray(motion["time"].values), derive._body_q(setup.body, motion)


@pytest.fixture(scope="module")
def nordic(setup):
    return derive.solve_drill(setup, "nordic_hamstring", 1.0)


def test_nordic_knee_moment_matches_the_segment_model(setup, nordic):
    # the knee flexors hold the body above the knees; at the horizontal end of the descent
    # Winter 2009's segment model of a body of the model's mass gives an independent estimate
    knee = nordic["moments"]["knee_angle_r"]
    t, q = _motion_q(setup, "nordic_hamstring", 1.0)
    j = setup.body.coordinate_index("knee_angle_r")
    h = setup.body.coordinate_index("hip_flexion_r")
    i = int(np.argmax(knee))
    assert math.degrees(q[i, j]) < 10.0  # the most demanding pose is the near-horizontal body
    # Winter's height fractions sized by the model's own thigh (hip to knee joint centres)
    rot, pos = body_poses(setup.body, setup.body.default_q)
    thigh = float(
        np.linalg.norm(
            pos[setup.body.body_index("femur_r")] - pos[setup.body.body_index("tibia_r")]
        )
    )
    height = thigh / (winter.HIP_HEIGHT - winter.KNEE_HEIGHT)
    stand = winter.Setup(None, None, 0, height, float(np.sum(setup.body.mass)))
    estimate = winter.nordic_knee_moment(stand, math.degrees(q[i, j]), math.degrees(q[i, h]))
    # within 30 %: the model puts 18 % of body mass in each thigh where Winter puts 10 %, so
    # less of it rides on the lever about the knee
    assert knee[i] == pytest.approx(estimate, rel=0.3)
    # kneeling upright needs little: well under a tenth of the peak
    assert abs(knee[0]) < 0.1 * knee.max()


def test_single_leg_hip_moment_is_everything_above_it_on_its_lever(setup):
    # virtual work against explicit statics: the stance hip holds the pelvis, trunk, arms and
    # the free leg; their weights' moment about the hip centre, projected on the flexion axis
    # (the hip's first rotation, about its parent frame's z axis in this model; the held foot
    # tilts it out of ground's z when the oblique ankle axis turns)
    body, statics = setup.body, derive.DRILLS["single_leg_rdl"]
    t, q = _motion_q(setup, "single_leg_rdl", 0.0)
    hip = derive.joint_moments(body, statics, q, 0.0, q[0])["hip_flexion_r"]
    i = int(np.argmin(hip))
    rot, pos, com = derive._com_and_origins(body, jnp.asarray(q[i]))
    _, _, frames = _tree(body, jnp.asarray(q[i]))
    rot0, pos0 = derive.reference_pose(body, statics, q[0])
    s = body.body_index(statics.support)
    turn = np.asarray(rot0 @ rot[s].T)

    def ground(x):
        return (np.asarray(x) - np.asarray(pos[s])) @ turn.T + np.asarray(pos0)

    femur = body.body_index("femur_r")
    k = next(n for n, joint in enumerate(body.joints) if joint.child == femur)
    axis = turn @ np.asarray(frames[k][0]) @ np.array([0.0, 0.0, 1.0])
    centre = ground(pos[femur])
    above = [
        b
        for b in body.body_names
        if not b.endswith("_r") or b.startswith(("hum", "ulna", "radius", "hand"))
    ]
    explicit = sum(
        float(
            np.cross(
                ground(com[body.body_index(b)]) - centre,
                float(body.mass[body.body_index(b)]) * np.asarray(body.gravity),
            )
            @ axis
        )
        for b in above
    )
    assert hip[i] < -20.0
    assert hip[i] == pytest.approx(explicit, rel=1e-6)


def test_hinge_needs_hip_extension_growing_with_the_load(setup):
    statics = derive.DRILLS["romanian_deadlift"]
    t, q = _motion_q(setup, "romanian_deadlift", 0.5)
    hip = [
        derive.joint_moments(setup.body, statics, q, load, q[0])["hip_flexion_r"]
        for load in (0.0, 0.5, 1.0)
    ]
    bottom = int(np.argmin(hip[0]))
    assert hip[0][bottom] < -20.0  # an extension moment at the bottom of the hinge
    # the load adds a moment linear in its mass, shared by two legs
    step1, step2 = hip[1] - hip[0], hip[2] - hip[1]
    np.testing.assert_allclose(step1, step2, atol=1e-9)
    assert step1[bottom] < 0


def test_static_optimisation_meets_the_moments(setup, nordic):
    assert nordic["converged"].all()
    assert np.abs(nordic["reserve_moment"]).max() < 1.0  # N m: the muscles carry the demand
    for m in derive.HAMSTRINGS:
        levels = np.asarray(nordic["levels"][m])
        assert np.all((levels >= 0) & (levels <= 1))
    frames = [f["label"] for f in setup.drills["nordic_hamstring"].motion["keyframes"]]
    descent = frames.index("end of the eccentric descent")
    start = frames.index("kneeling, upright (start)")
    assert nordic["levels"]["bflh"][descent] > nordic["levels"]["bflh"][start]


def test_writer_puts_levels_where_the_drill_reads_them(setup, tmp_path):
    name = "nordic_hamstring"
    drill = setup.drills[name]
    n = len(drill.motion["keyframes"])
    at = derive.intensity_points(drill, 4)
    # distinct levels per muscle, move and intensity, bent (not one line) so that a misplaced
    # or linearised one shows; one move constant in intensity
    result = {
        "at": at,
        "solutions": [
            {
                "levels": {
                    m: [
                        0.1 + 0.01 * (4 * k + i) + (0.0 if k == 0 else 0.3 * (j / 3) ** 2)
                        for k in range(n)
                    ]
                    for i, m in enumerate(derive.HAMSTRINGS)
                },
                "muscles": ("a",),
                "reserve_moment": np.zeros((2, 1)),
                "moments": {"knee_angle_r": np.zeros(2)},
            }
            for j in range(len(at))
        ],
    }
    statics = derive.DRILLS[name]
    source = derive.source_entry(setup, name, result)
    text = Path(drill.path).read_text()
    once = derive.rewrite_levels(text, name, result, statics, source)
    assert derive.rewrite_levels(once, name, result, statics, source) == once  # idempotent
    (tmp_path / f"{name}.toml").write_text(once)
    written = load_drills(tmp_path)[name]
    frames = [f["label"] for f in written.motion["keyframes"]]
    skip = {frames.index(u) for u in statics.undetermined}
    old = tomllib.loads(text)["motion"]["keyframes"]
    new = tomllib.loads(once)["motion"]["keyframes"]
    for k in range(n):
        if k in skip:
            assert new[k]["excitation"] == old[k]["excitation"]
        else:
            others = {
                key: v for key, v in old[k]["excitation"].items() if not derive._hamstring_key(key)
            }
            assert {key: v for key, v in new[k]["excitation"].items() if key in others} == others
    assert isinstance(new[0]["excitation"]["bflh"], float)  # constant in intensity: a number
    # the excitation source reads the derived level during the move into each key posture, at
    # every intensity derived and linearly between two of them
    between = 0.5 * (at[1] + at[2])
    for x in (*at, between):
        arrive, period = derive._keyframe_schedule(written, x, None)
        j = at.index(x) if x in at else None
        for k in range(n):
            if k in skip:
                continue
            t_mid = (arrive[k - 1] + arrive[k]) / 2 if k > 0 else (arrive[-1] + period) / 2
            level = drill_excitation(written, x)(np.array([t_mid]), ["bflh_r", "semimem_l"])
            for col, m in ((0, "bflh"), (1, "semimem")):
                table = [sol["levels"][m][k] for sol in result["solutions"]]
                want = table[j] if j is not None else 0.5 * (table[1] + table[2])
                assert level[0, col] == pytest.approx(want, abs=1e-3)
    sources = tomllib.loads(once)["sources"]
    assert sum(s.get("note", "").startswith("derived by") for s in sources) == 1


def test_report_and_line_error(setup, nordic):
    outcome = {"nordic_hamstring": {"at": [0.3, 1.0], "solutions": [nordic, nordic]}}
    text = derive.report(setup, outcome)
    for f in setup.drills["nordic_hamstring"].motion["keyframes"]:
        assert f["label"] in text
    assert derive.line_error(outcome["nordic_hamstring"]) == pytest.approx(0.0)
    assert "nan" not in text.lower()
    # a level that bends away from the line through the ends is measured by how far
    bent = {"levels": {m: [0.5 * v for v in nordic["levels"][m]] for m in derive.HAMSTRINGS}}
    outcome = {"at": [0.3, 0.65, 1.0], "solutions": [nordic, bent, nordic]}
    worst = max(0.5 * max(nordic["levels"][m]) for m in derive.HAMSTRINGS)
    assert derive.line_error(outcome) == pytest.approx(worst)


def test_piecewise_level_is_checked(tmp_path):
    # a piecewise level must have increasing intensities, two or more, and levels in [0, 1]
    # (the return with the hands' help keeps its own level, so the derivation never writes it)
    text = Path(load_drills()["nordic_hamstring"].path).read_text()
    for bad, field in (
        ("{ at = [1.0, 0.3], value = [0.1, 0.2] }", r"bflh\.at.*strictly increasing"),
        ("{ at = [0.3, 1.0], value = [0.1, 1.2] }", r"bflh.*levels in \[0, 1\]"),
        ("{ at = [0.3], value = [0.1] }", r"bflh.*equal length >= 2"),
    ):
        broken = text.replace(
            "excitation = { hamstrings = 0.20, calf = 0.10 }",
            f"excitation = {{ bflh = {bad}, calf = 0.10 }}",
        )
        assert broken != text
        (tmp_path / "nordic_hamstring.toml").write_text(broken)
        with pytest.raises(InputError, match=field):
            load_drills(tmp_path)
