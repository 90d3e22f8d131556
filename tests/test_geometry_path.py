"""Exact OpenSim paths (musclesim.geometry.path): the cylinder-wrap geometry at key points,
the joint kinematics, gradients, the file format, and parity with OpenSim (opensim mark)."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim import GeometryDomainWarning, InputError, load_model
from musclesim.geometry.fitting.path import EXACT_TOLERANCE, read_path, verify_path
from musclesim.geometry.io import load_geometry_dataset, model_from_dataset
from musclesim.geometry.path import (
    INSIDE_RADIUS,
    MANDATORY_WRAP,
    NO_WRAP,
    WRAPPED,
    PathBlock,
    path_length,
    path_lengths,
    wrap_cylinder_segment,
)
from musclesim.geometry.path_io import attach_paths, path_muscles, specs_from_dataset, strip_paths
from musclesim.geometry.records import PathSpec

RADIUS = 1.0


@jax.jit
def _wrap(a, b, length, axis, sign):
    return wrap_cylinder_segment(a, b, RADIUS, length, axis, sign)


def _segment(a, b, *, sign=0, axis=1, length=2.0):
    return _wrap(
        jnp.asarray(a, dtype=float),
        jnp.asarray(b, dtype=float),
        length,
        axis,
        sign,
    )


def _planar_geodesic(a, b, *, far: bool) -> float:
    """Shortest path from a to b (in a plane normal to the axis) around a unit circle: two
    tangents and the arc between the tangent points, the near or the far way round."""
    da, db = np.hypot(*a[:2]), np.hypot(*b[:2])
    between = math.acos(np.dot(a[:2], b[:2]) / (da * db))
    near_arc = between - math.acos(RADIUS / da) - math.acos(RADIUS / db)
    arc = (
        2.0 * math.pi - between - math.acos(RADIUS / da) - math.acos(RADIUS / db)
        if far
        else near_arc
    )
    return math.sqrt(da**2 - RADIUS**2) + math.sqrt(db**2 - RADIUS**2) + RADIUS * arc


A, B = np.array([-2.0, 0.5, 0.0]), np.array([2.0, 0.5, 0.0])


def _total(r, a, b):
    return float(
        np.linalg.norm(a - np.asarray(r.r1)) + r.length + np.linalg.norm(np.asarray(r.r2) - b)
    )


def test_a_segment_through_the_cylinder_wraps_on_the_near_side():
    for sign in (0, 1):  # unconstrained, or constrained to the side both ends are on (+y)
        r = _segment(A, B, sign=sign)
        assert int(r.status) == MANDATORY_WRAP
        assert _total(r, A, B) == pytest.approx(_planar_geodesic(A, B, far=False), abs=1e-12)
        assert np.all(np.asarray(r.r1)[1] > 0) and not bool(r.long_way)


def test_both_ends_off_the_constrained_side_wrap_round_the_far_side():
    """OpenSim wraps a segment whose ends both lie off the quadrant around the quadrant's
    side, even when it does not touch the cylinder: the flips of the gluteus maximus."""
    r = _segment(A, B, sign=-1)
    assert int(r.status) == WRAPPED
    assert np.asarray(r.r1)[1] < 0 and np.asarray(r.r2)[1] < 0
    assert _total(r, A, B) == pytest.approx(_planar_geodesic(A, B, far=True), abs=1e-12)
    lifted = A + np.array([0, 2.5, 0]), B + np.array([0, 2.5, 0])  # misses the cylinder
    assert int(_segment(*lifted, sign=-1).status) == WRAPPED
    assert int(_segment(*lifted, sign=0).status) == NO_WRAP


def test_no_wrap_inside_the_radius_or_beyond_the_ends():
    assert int(_segment([0.5, 0.0, 0.0], B).status) == INSIDE_RADIUS
    assert int(_segment(A + [0, 0, 5.0], B + [0, 0, 5.0]).status) == NO_WRAP
    assert int(_segment(A + [0, 3.0, 0], B + [0, 3.0, 0]).status) == NO_WRAP


def _pin_spec(parent_is_base=True):
    """Two points: (2, 0, 0) on the base body, (1, 0, 0) on a body pinned to it about z by q."""
    eye, zero = np.eye(3), np.zeros(3)
    return PathSpec(
        muscle="m",
        inputs=["q"],
        bodies=("a", "b"),
        joint="pin",
        location=np.array([[2.0, 0, 0], [1.0, 0, 0]]),
        point_moving=np.array([False, True]),
        parent_is_base=parent_is_base,
        parent_rotation=eye,
        parent_translation=zero,
        child_rotation=eye,
        child_translation=zero,
        rotation_axis=np.array([[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0]]),
        rotation_input=np.array([0, -1, -1]),
        rotation_slope=np.array([1.0, 0, 0]),
        rotation_intercept=np.zeros(3),
        translation_axis=eye,
        translation_input=np.full(3, -1),
        translation_slope=zero,
        translation_offset=zero,
    )


@pytest.mark.parametrize("parent_is_base", [True, False])
def test_joint_kinematics_and_moment_arm_of_a_straight_path(parent_is_base):
    block = PathBlock.from_specs([_pin_spec(parent_is_base)], [0], ["q"], [0])
    q = jnp.linspace(-2.0, 2.0, 9)

    def each(f):
        return jax.jit(jax.vmap(f))(q[:, None])

    length = each(block.lengths)[:, 0]
    np.testing.assert_allclose(length, np.sqrt(5.0 - 4.0 * np.cos(q)), atol=1e-14)
    grad = each(block.length_gradient)[:, 0, 0]
    np.testing.assert_allclose(grad, 2.0 * np.sin(q) / np.sqrt(5.0 - 4.0 * np.cos(q)), atol=1e-14)
    # No wrap: OpenSim's convention is -dL/dq.
    np.testing.assert_allclose(each(block.opensim_arm_difference), 0.0, atol=1e-15)


# --------------------------------------------------------------------------------------------
# The shipped files


@pytest.fixture(scope="module")
def jump():
    return load_model("opencap_jump")


@pytest.fixture(scope="module")
def gluteus(jump):
    return jump.select(["glmax1_r", "glmax1_l", "iliacus_r", "bflh_r"])


def _hip_poses(model, n, seed):
    rng = np.random.default_rng(seed)
    lo, hi = np.asarray(model.domain_lower), np.asarray(model.domain_upper)
    lo = np.nanmax(np.where(np.isfinite(lo), lo, np.nan), axis=0)
    hi = np.nanmin(np.where(np.isfinite(hi), hi, np.nan), axis=0)
    return {c: jnp.asarray(rng.uniform(lo[k], hi[k], n)) for k, c in enumerate(model.coordinates)}


def test_shipped_wrapped_hip_muscles_are_exact_paths_on_the_whole_range(jump):
    ds = load_geometry_dataset("opencap_jump")
    assert ds.attrs["format"] == "musclesim-geometry/3"
    for m in ("glmax1_r", "glmax1_l", "glmax2_r", "iliacus_l", "psoas_r"):
        assert m in jump.path_muscles
        i = jump.muscle_index(m)
        assert float(jump.heldout_max[i]) <= EXACT_TOLERANCE
        assert i not in jump.excluded_owner
    i = jump.muscle_index("glmax1_r")
    k = jump.coordinates.index("hip_flexion_r")
    model_range = ds["model_range_lower"].values[k], ds["model_range_upper"].values[k]
    assert (float(jump.domain_lower[i, k]), float(jump.domain_upper[i, k])) == model_range
    assert "bflh_r" not in jump.path_muscles and "gasmed_r" not in jump.path_muscles
    for name in ("sprinter_ja1", "rajagopal2016"):
        assert {"glmax1_r", "glmax2_l", "iliacus_r", "psoas_l"} <= set(
            load_model(name).path_muscles
        )


def test_path_muscles_survive_select_jit_vmap_and_grad(jump, gluteus):
    q = _hip_poses(gluteus, 64, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryDomainWarning)
        full = jump.mtu_length({c: q.get(c, jnp.zeros(64)) for c in jump.coordinates})
    sub = gluteus.mtu_length(q)
    for j, m in enumerate(gluteus.muscles):
        np.testing.assert_allclose(sub[:, j], full[:, jump.muscle_index(m)], atol=1e-14)
    jitted = jax.jit(lambda q: gluteus.mtu_length(q))(q)
    np.testing.assert_allclose(jitted, sub, atol=1e-15)
    # Reverse-mode gradients stay finite at every pose, flips and all.
    grad = jax.grad(lambda q: jnp.sum(gluteus.mtu_length(q)))(q)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grad.values())


def test_block_evaluation_equals_the_one_muscle_path_functions(jump):
    """A PathBlock evaluates the segments of all its muscles on one axis and differentiates
    with forward tangents; :func:`path_length` of each muscle alone, differentiated in reverse
    mode, is the definition. Gradients agree to rounding, which poses next to a flip amplify
    (up to 2e-11 m measured over 12000 poses of three models)."""
    block = next(b for b in jump.blocks if isinstance(b, PathBlock))
    rng = np.random.default_rng(4)
    qk = jnp.asarray(rng.uniform(-2.0, 2.0, (64, len(block.coordinate_index))))  # and beyond
    own = qk[:, np.asarray(block.inputs)]  # [pose, muscle, i]

    def each(f):  # f(geometry, own coordinates) of every muscle at every pose
        return jax.vmap(jax.vmap(f), in_axes=(None, 0))(block.geometry, own)

    length, grad = each(jax.value_and_grad(path_length, argnums=1))
    arm_difference = each(jax.jacfwd(path_lengths, argnums=1))  # [pose, muscle, 2, i]
    got_length, got_grad = jax.vmap(block.lengths_and_gradient)(qk)
    got_difference = jax.vmap(block.opensim_arm_difference)(qk)
    np.testing.assert_allclose(got_length, length, atol=1e-14)
    for j, row in enumerate(block.inputs):
        np.testing.assert_allclose(got_grad[:, j][:, list(row)], grad[:, j], atol=1e-10)
        expected = arm_difference[:, j, 0] - arm_difference[:, j, 1]
        np.testing.assert_allclose(got_difference[:, j][:, list(row)], expected, atol=1e-10)


def test_moment_arms_are_the_derivative_of_the_length_between_flips(gluteus):
    q = _hip_poses(gluteus, 200, seed=2)
    arms = np.asarray(gluteus.moment_arm(q))
    for c in ("hip_flexion_r", "hip_adduction_r", "hip_rotation_r"):
        k = gluteus.coordinates.index(c)
        fd = {}
        for h in (1e-5, 2e-5):
            up = gluteus.mtu_length({**q, c: q[c] + h})
            down = gluteus.mtu_length({**q, c: q[c] - h})
            fd[h] = -np.asarray(up - down) / (2 * h)
        smooth = np.abs(fd[1e-5] - fd[2e-5]) < 1e-6  # no flip within the steps
        for m in ("glmax1_r", "iliacus_r"):
            j = gluteus.muscle_index(m)
            ok = smooth[:, j]
            assert ok.mean() > 0.8
            np.testing.assert_allclose(arms[ok, j, k], fd[1e-5][ok, j], atol=1e-7)  # vs 50 mm


def test_opensim_convention_of_a_path_muscle_is_computed(jump):
    """The tangent points held on the pelvis: a difference from -dL/dq of up to a few mm
    (measured against computeMomentArm by fit-path and the opensim-marked test below)."""
    m = jump.select(["glmax1_r", "gasmed_r"])
    q = _hip_poses(m, 100, seed=3)
    diff = np.asarray(m.moment_arm(q, convention="opensim") - m.moment_arm(q))
    j, k = m.muscle_index("glmax1_r"), m.coordinates.index("hip_flexion_r")
    assert 1e-4 < np.sqrt(np.mean(diff[:, j, k] ** 2)) < 1e-2
    assert np.all(
        diff[:, j, [m.coordinates.index(c) for c in m.coordinates if c.endswith("_l")]] == 0
    )


def test_strip_attach_and_merge_keep_the_polynomials_and_paths_apart():
    from musclesim.geometry.fitting.fit import merge_geometry

    ds = load_geometry_dataset("opencap_jump")
    records = specs_from_dataset(ds)
    bare = strip_paths(ds)
    assert "path_muscle" not in bare and bare.attrs["format"] != "musclesim-geometry/3"
    assert model_from_dataset(bare).path_muscles == ()
    # The polynomial's excluded regions come back with it.
    i = list(bare["muscle"].values).index("glmax1_r")
    assert int(bare["excluded_count"].values[i]) > 0
    again = attach_paths(bare, records, {"test": True})
    assert path_muscles(again) == path_muscles(ds)
    one = strip_paths(ds, ["glmax1_r"])
    assert "glmax1_r" not in path_muscles(one) and "glmax1_l" in path_muscles(one)
    # A polynomial refit merged in replaces that muscle's path; the others stay.
    update = bare.isel(muscle=[i])
    update.attrs["fit_settings"] = '{"n_samples": 1, "seed": 0}'
    merged = merge_geometry(ds, update, note="test")
    assert "glmax1_r" not in path_muscles(merged)
    assert set(path_muscles(merged)) == set(path_muscles(ds)) - {"glmax1_r"}
    model = model_from_dataset(merged)
    q = {c: jnp.zeros(3) for c in model.coordinates}
    assert np.all(np.isfinite(np.asarray(model.mtu_length(q))))


def test_unsupported_paths_are_refused_with_the_reason(data_dir):
    models = data_dir / "models"
    hip = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r"]
    with pytest.raises(InputError, match="ConditionalPathPoint"):
        read_path(models / "gait2392_subject01_scaled.osim", "psoas_r", hip)
    sprinter = models / "Sprinter_JA1_scaled.osim"
    with pytest.raises(InputError, match="2 wrap objects"):
        read_path(sprinter, "gaslat_r", ["knee_angle_r", "ankle_angle_r"])
    with pytest.raises(InputError, match="not joined directly"):
        read_path(sprinter, "bflh_r", [*hip, "knee_angle_r"])
    with pytest.raises(InputError, match="not among the muscle's coordinates"):
        read_path(sprinter, "glmax1_r", hip[:2])
    with pytest.raises(InputError, match="unknown muscle"):
        read_path(sprinter, "nonesuch_r", hip)


# --------------------------------------------------------------------------------------------
# Against OpenSim


@pytest.mark.opensim
def test_exact_paths_equal_opensim_along_the_jump(jump, data_dir):
    """OpenSim's glmax1_r steps by up to 22 mm between adjacent frames of jump2 (its wrap
    flips); the exact path follows every step."""
    from musclesim.geometry.fitting.fit import OpenSimSampler
    from musclesim.motion.read import read_motion

    osim = data_dir / "models" / jump.source_file
    sampler = OpenSimSampler(osim)
    motion = read_motion(data_dir / "kinematics/opencap-processing_jump/jump2.mot", model=osim)
    names = [str(c) for c in motion["coordinate"].values]
    q = {c: motion["q"].values[:, names.index(c)] for c in jump.coordinates}
    muscles = ["glmax1_r", "glmax1_l", "iliacus_r", "glmax2_l"]
    ref = sampler.lengths(q, muscles)
    model = jump.select(muscles)
    ours, mask = model.mtu_length({c: jnp.asarray(v) for c, v in q.items()}, return_mask=True)
    assert bool(np.all(mask))
    np.testing.assert_allclose(np.asarray(ours), ref, atol=1e-10, rtol=0)
    assert np.abs(np.diff(ref[:, 0])).max() > 0.015  # the flips are there
    arms = np.asarray(
        model.moment_arm({c: jnp.asarray(v[::50]) for c, v in q.items()}, convention="opensim")
    )
    sub = {c: v[::50] for c, v in q.items()}
    hip = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r"]
    osim_arms = sampler.moment_arms(sub, ["glmax1_r"], hip)[:, 0]
    got = arms[:, 0, [model.coordinates.index(c) for c in hip]]
    np.testing.assert_allclose(got, osim_arms, atol=1e-10, rtol=0)


@pytest.mark.opensim
def test_verify_path_refuses_a_geometry_that_is_not_the_model(data_dir):
    from musclesim.geometry.fitting.fit import OpenSimSampler

    osim = data_dir / "models" / "Rajagopal2016.osim"
    hip = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r"]
    spec = read_path(osim, "psoas_r", hip)
    sampler = OpenSimSampler(osim)
    box = {c: (sampler.coordinates[c].lower, sampler.coordinates[c].upper) for c in hip}
    check = verify_path(sampler, spec, box, n=200, seed=1)
    assert check.length_max <= 1e-12 and check.opensim_arm_max <= 1e-12
    spec.wrap_radius *= 1.01
    with pytest.raises(InputError, match="differs from OpenSim"):
        verify_path(sampler, spec, box, n=200, seed=1)


@pytest.mark.opensim
@pytest.mark.slow
def test_fit_path_command_on_one_muscle(data_dir, tmp_path):
    from musclesim.cli import main

    out = tmp_path / "oj.nc"
    osim = data_dir / "models" / "OpenCap_LaiUhlrich2022_jump_subject_scaled.osim"
    base = strip_paths(load_geometry_dataset("opencap_jump"))
    into = tmp_path / "bare.nc"
    from musclesim.geometry.io import write_geometry

    write_geometry(base, into)
    code = main(
        [
            "fit-path",
            str(osim),
            "--into",
            str(into),
            "--out",
            str(out),
            "--muscles",
            "psoas_l",
            "--poses",
            "100",
        ]
    )
    assert code == 0
    model = load_model(out)
    assert model.path_muscles == ("psoas_l",)
    assert main(["fit-path", str(osim), "--into", str(into), "--muscles", "gasmed_r"]) == 2


def test_path_flips_experiment_runs_at_tiny_size():
    from experiments.path_flips import CAUSES, build, run

    result = run(build("opencap_jump", 64, step_deg=5.0, seed=1))
    assert set(result) == set(load_model("opencap_jump").path_muscles)
    for r in result.values():
        assert 0.0 <= r["share"] <= 1.0 and r["largest_m"] >= 0.0
        assert sum(r[c] for c in CAUSES) == round(r["share"] * 64)
