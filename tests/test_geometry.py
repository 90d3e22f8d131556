"""Fitted geometry surrogates: loading, shapes, JAX transformations, domain, errors.

Fast tests use the shipped ``models/sprinter_ja1.nc`` (and the gait2392-family model for the
knee sign); OpenSim parity lives in ``tests/test_geometry_opensim.py``.
"""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import musclesim
from musclesim import GeometryDomainWarning, InputError, OutOfDomainError, load_model
from musclesim.geometry.fitting.fit import chebyshev_features
from musclesim.geometry.records import exponents


@pytest.fixture(scope="module")
def full():
    return load_model("sprinter_ja1")


@pytest.fixture(scope="module")
def sprinter(full):
    """Hamstrings, calf, one knee extensor and one hip abductor: small enough
    that eager evaluation in the tests stays fast."""
    return full.select(
        ["bflh_r", "bfsh_r", "gasmed_r", "soleus_r", "vaslat_r", "glmed1_r", "bflh_l"]
    )


def _pose(model, shape=(), seed=0, fraction=0.8):
    """Random poses inside the middle ``fraction`` of every muscle's domain."""
    rng = np.random.default_rng(seed)
    lo = np.nanmax(np.where(np.isfinite(model.domain_lower), model.domain_lower, np.nan), axis=0)
    hi = np.nanmin(np.where(np.isfinite(model.domain_upper), model.domain_upper, np.nan), axis=0)
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * fraction
    return {
        c: jnp.asarray(rng.uniform(mid[k] - half[k], mid[k] + half[k], size=shape))
        for k, c in enumerate(model.coordinates)
    }


def test_exponent_table_is_graded_and_complete():
    e = exponents(3, 4)
    assert e.shape == (math.comb(4 + 3, 3), 3)
    assert list(e.sum(axis=1)) == sorted(e.sum(axis=1))
    assert len({tuple(r) for r in e}) == len(e)
    # T_n(cos t) = cos(n t): key points of the Chebyshev features.
    t = np.linspace(0, np.pi, 7)
    f = chebyshev_features(np.cos(t)[:, None], exponents(1, 5))
    np.testing.assert_allclose(f, np.cos(np.outer(t, np.arange(6))), atol=1e-12)


def test_shipped_model_contents(full):
    sprinter = full
    assert sprinter.name == "sprinter_ja1"
    assert "sprinter_ja1" in musclesim.available_models()
    for m in ("bflh_r", "bfsh_r", "semiten_r", "semimem_r", "gasmed_r", "gaslat_r", "soleus_l"):
        assert m in sprinter.muscles
    assert len(sprinter.muscles) == 80  # 40 per leg cross the hip, knee or ankle
    assert sprinter.parameters.shape == (len(sprinter.muscles),)
    i = sprinter.muscle_index("bflh_r")
    # SOURCES.md 3.1: Sprinter JA1 BFLH F_max 2626.4 N; 3.2: upright length 0.4822 m.
    assert float(sprinter.parameters.max_isometric_force[i]) == pytest.approx(2626.4, abs=0.05)
    assert float(sprinter.upright_length[i]) == pytest.approx(0.4822, abs=5e-5)
    assert dict(sprinter.knee_flexion_sign) == {"knee_angle_r": 1, "knee_angle_l": 1}
    assert len(sprinter.source_sha256) == 64
    assert "knee_angle_r" in sprinter.required_coordinates
    assert "knee_angle_r_beta" not in sprinter.coordinates


def test_knee_sign_read_from_gait2392_family_model():
    hamner = load_model("hamner2010_subject02")
    assert dict(hamner.knee_flexion_sign)["knee_angle_r"] == -1
    assert musclesim.muscle_group("hamstrings_r", hamner.muscles) == [
        "bifemlh_r",
        "bifemsh_r",
        "semiten_r",
        "semimem_r",
    ]


def test_upright_pose_gives_reference_length(sprinter, full):
    focus = full.select(["hamstrings", "calf"])
    lengths = focus.mtu_length(focus.zero_pose())
    np.testing.assert_allclose(lengths, focus.upright_length, atol=5e-5)
    np.testing.assert_allclose(focus.mtu_strain(focus.zero_pose()), 0.0, atol=1e-4)
    # Every muscle: within its own held-out maximum error (glmax1 is erratic in OpenSim).


def test_shapes_and_broadcasting(sprinter):
    q = _pose(sprinter, (5,), seed=2)
    M, C = len(sprinter.muscles), len(sprinter.coordinates)
    q2d = {c: jnp.stack([v, v[::-1]], axis=-1) for c, v in q.items()}  # shape (5, 2)
    lengths, mask = sprinter.mtu_length(q2d, return_mask=True)
    assert lengths.shape == (5, 2, M)
    assert mask.shape == (5, 2, M) and bool(jnp.all(mask))
    np.testing.assert_allclose(lengths[:, 0], sprinter.mtu_length(q), atol=1e-12)
    arms = sprinter.moment_arm(q)
    assert arms.shape == (5, M, C)
    both = sprinter.mtu_length_and_moment_arm(q)
    np.testing.assert_allclose(both[0], lengths[:, 0], atol=1e-12)
    np.testing.assert_allclose(both[1], arms, atol=1e-12)
    # Extra coordinates (pelvis, coupled beta) are ignored.
    q3 = dict(q, pelvis_tx=jnp.zeros(5), knee_angle_r_beta=q["knee_angle_r"])
    np.testing.assert_allclose(sprinter.mtu_length(q3), lengths[:, 0], atol=1e-12)


def test_jit_vmap_grad(sprinter):
    q = _pose(sprinter, (5,), seed=2)
    eager = sprinter.mtu_length(q)
    jitted = jax.jit(lambda m, q: m.mtu_length(q))(sprinter, q)
    # jit fuses the polynomial sums differently: agreement to 0.1 um (rounding only).
    np.testing.assert_allclose(jitted, eager, rtol=0, atol=1e-7)
    mapped = jax.vmap(lambda qq: sprinter.mtu_length(qq))(q)
    np.testing.assert_allclose(mapped, eager, atol=1e-7)
    i = sprinter.muscle_index("bflh_r")
    k = sprinter.coordinates.index("knee_angle_r")

    def bflh(knee):
        return sprinter.mtu_length(dict({c: v[0] for c, v in q.items()}, knee_angle_r=knee))[i]

    g = jax.grad(bflh)(q["knee_angle_r"][0])
    r = sprinter.moment_arm({c: v[0] for c, v in q.items()})[i, k]
    assert float(g) == pytest.approx(-float(r), rel=1e-10)


def test_moment_arm_matches_finite_differences(sprinter):
    q = _pose(sprinter, (5,), seed=2)
    arms = np.asarray(sprinter.moment_arm(q))
    lengths = jax.jit(lambda m, q: m.mtu_length(q))
    h = 1e-5
    for k, c in enumerate(sprinter.coordinates):
        up = lengths(sprinter, dict(q, **{c: q[c] + h}))
        dn = lengths(sprinter, dict(q, **{c: q[c] - h}))
        fd = -(np.asarray(up) - np.asarray(dn)) / (2 * h)
        # Central-difference truncation (h^2 / 6 times the third derivative) and rounding:
        # well under 1 um.
        np.testing.assert_allclose(arms[..., k], fd, atol=1e-6)


def test_hamstring_moment_arms_have_opensim_signs(sprinter):
    q = sprinter.zero_pose()
    arms = sprinter.moment_arm(dict(q, knee_angle_r=jnp.asarray(0.5)))
    i = sprinter.muscle_index("bflh_r")
    hip = sprinter.coordinates.index("hip_flexion_r")
    knee = sprinter.coordinates.index("knee_angle_r")
    # Hip extensor (negative flexion moment arm) and knee flexor (positive for + flexion) in a
    # model whose knee coordinate is + in flexion. Lengths grow with hip flexion.
    assert float(arms[i, hip]) < -0.03
    assert float(arms[i, knee]) > 0.01
    assert float(arms[i, sprinter.coordinates.index("ankle_angle_r")]) == 0.0
    g = sprinter.muscle_index("gasmed_r")
    assert float(arms[g, knee]) > 0.0  # knee flexor
    assert float(arms[g, sprinter.coordinates.index("ankle_angle_r")]) < -0.02  # plantarflexor


def test_select_and_groups(sprinter, full):
    sub = full.select(["hamstrings_r", "gasmed_r"])
    assert sub.muscles == ("bflh_r", "bfsh_r", "semiten_r", "semimem_r", "gasmed_r")
    assert set(sub.coordinates) == {
        "hip_flexion_r",
        "hip_adduction_r",
        "hip_rotation_r",
        "knee_angle_r",
        "ankle_angle_r",
        "subtalar_angle_r",
    }
    assert sub.parameters.shape == (5,)
    # A selection evaluates exactly like the same muscles inside a bigger model.
    q = _pose(sprinter, (5,), seed=2)
    small = sprinter.select(["gasmed_r", "bflh_r"])
    idx = sprinter.muscle_index(list(small.muscles))
    np.testing.assert_allclose(
        small.mtu_length(q), np.asarray(sprinter.mtu_length(q))[:, idx], atol=1e-12
    )
    k_big = sprinter.coordinates.index("knee_angle_r")
    np.testing.assert_allclose(
        small.moment_arm(q)[:, :, small.coordinates.index("knee_angle_r")],
        np.asarray(sprinter.moment_arm(q))[:, idx, k_big],
        atol=1e-12,
    )
    assert musclesim.muscle_group("calf", full.muscles) == [
        "gasmed_r",
        "gaslat_r",
        "soleus_r",
        "gasmed_l",
        "gaslat_l",
        "soleus_l",
    ]
    assert musclesim.canonical_name("med_gas_l") == "gasmed_l"


def test_unknown_names_and_missing_coordinates(sprinter):
    with pytest.raises(InputError, match="unknown muscle"):
        sprinter.select(["bflh_x"])
    with pytest.raises(InputError, match="unknown muscle"):
        sprinter.muscle_index("nope_r")
    with pytest.raises(InputError, match="unknown muscle group"):
        musclesim.muscle_group("quads_r", sprinter.muscles)
    q = sprinter.zero_pose()
    del q["knee_angle_l"]
    with pytest.raises(InputError, match="knee_angle_l"):
        sprinter.mtu_length(q)
    assert sprinter.missing_coordinates(q) == ["knee_angle_l"]
    with pytest.raises(InputError, match="no shipped model"):
        load_model("no_such_model")
    with pytest.raises(InputError, match="file not found"):
        load_model("/nonexistent/model.nc")


def test_degrees_are_refused(sprinter):
    q = dict(sprinter.zero_pose(), knee_angle_r=jnp.asarray(90.0))
    with pytest.raises(InputError, match="degrees"):
        sprinter.mtu_length(q)


def test_outside_domain_warns_masks_or_raises(sprinter):
    i = sprinter.muscle_index("bflh_r")
    k = sprinter.coordinates.index("hip_flexion_r")
    upper = float(sprinter.domain_upper[i, k])
    q = dict(sprinter.zero_pose((2,)), hip_flexion_r=jnp.asarray([0.3, upper + 0.2]))
    with pytest.warns(GeometryDomainWarning, match="hip_flexion_r"):
        lengths, mask = sprinter.mtu_length(q, return_mask=True)
    assert bool(mask[0, i]) and not bool(mask[1, i])
    assert bool(mask[1, sprinter.muscle_index("soleus_r")])  # soleus does not cross the hip
    assert np.all(np.isfinite(lengths))
    with pytest.raises(OutOfDomainError, match="hip_flexion_r"):
        sprinter.mtu_length(q, strict=True)
    with pytest.raises(Exception, match="outside the fitted domain"):
        jax.block_until_ready(jax.jit(lambda m, q: m.mtu_length(q, strict=True))(sprinter, q))
    np.testing.assert_array_equal(sprinter.in_domain(q), mask)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sprinter.mtu_length({c: v[:1] for c, v in q.items()})  # in domain: no warning


def test_traced_evaluation_warns_outside_domain(sprinter):
    q = dict(sprinter.zero_pose(), knee_angle_r=jnp.asarray(3.0))
    with pytest.warns(GeometryDomainWarning, match="knee_angle_r"):
        jax.block_until_ready(jax.jit(lambda m, q: m.mtu_length(q))(sprinter, q))


def test_benchmark_runs_at_tiny_size():
    from experiments.benchmark_geometry import build, run

    result = run(build("hamner2010_subject02", n_poses=16, opensim=False), repeats=1)
    assert result["poses"] > 0 and result["surrogate_poses_per_s"] > 0
    assert result["surrogate_lengths_poses_per_s"] > 0


def test_fitted_file_round_trips_through_fit_records():
    """fits_from_dataset is the exact inverse of fits_to_dataset (what a merge relies on); the
    OpenSim moment-arm convention (``arm_correction_*``) is not a fit record: merge_geometry
    carries it separately (tests/test_arm_convention.py), and the exact paths too
    (tests/test_geometry_path.py)."""
    from musclesim.geometry.corrections_io import strip_corrections
    from musclesim.geometry.fitting.fit import _ParameterTable
    from musclesim.geometry.io import fits_from_dataset, fits_to_dataset, load_geometry_dataset
    from musclesim.geometry.path_io import strip_paths

    ds = strip_corrections(strip_paths(load_geometry_dataset("sprinter_ja1")))
    kw = fits_from_dataset(ds)
    kw["parameters"] = _ParameterTable(kw["parameters"])
    kw["source_path"] = kw.pop("source_file")
    again = fits_to_dataset(**kw)
    assert set(again.data_vars) == set(ds.data_vars)
    for v in ds.data_vars:
        assert again[v].dims == ds[v].dims, v
        if ds[v].dtype.kind in "fi":
            np.testing.assert_array_equal(again[v].values, ds[v].values, err_msg=v)
        else:
            assert list(again[v].values) == list(ds[v].values), v


def test_merge_replaces_only_the_refitted_muscles():
    from musclesim.geometry.fitting.fit import merge_geometry
    from musclesim.geometry.io import load_geometry_dataset, model_from_dataset

    base = load_geometry_dataset("sprinter_ja1")
    # A stand-in refit of two muscles: the same fits with the constant term moved by 1 mm.
    update = base.isel(muscle=[base.indexes["muscle"].get_loc(m) for m in ("soleus_r", "bflh_l")])
    update["coefficient"] = update["coefficient"].copy()
    update["coefficient"][:, 0, 0] += 1e-3
    update.attrs["fit_settings"] = '{"n_samples": 100, "seed": 3}'
    merged = merge_geometry(base, update, note="test")
    assert list(merged["muscle"].values) == list(base["muscle"].values)
    old, new = model_from_dataset(base), model_from_dataset(merged)
    q = _pose(old, (5,), seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryDomainWarning)
        diff = np.asarray(new.mtu_length(q) - old.mtu_length(q))
    changed = [old.muscle_index(m) for m in ("soleus_r", "bflh_l")]
    np.testing.assert_allclose(diff[:, changed], 1e-3, atol=1e-12)
    np.testing.assert_array_equal(np.delete(diff, changed, axis=1), 0.0)
    assert (
        '"refits"' in merged.attrs["fit_settings"]
        and '"note": "test"' in merged.attrs["fit_settings"]
    )
    other = load_geometry_dataset("opencap_jump").isel(muscle=[0])
    with pytest.raises(InputError, match="source_sha256"):
        merge_geometry(base, other)


def _synthetic_samples(n=4000, seed=0):
    """Samples of a smooth 'length' in three coordinates on [-1, 1]^3 with a flipped corner
    (x0 > 0.6, x1 > 0.5, x2 < -0.4: +100 mm, like a wrap taking the long way round)."""
    from musclesim.geometry.fitting.fit import _Samples

    rng = np.random.default_rng(seed)
    names = ["a", "b", "c"]

    def length(q):
        smooth = 0.2 + 0.01 * np.sin(q[:, 0]) + 0.005 * q[:, 1] * q[:, 2] + 0.002 * q[:, 2] ** 2
        flipped = (q[:, 0] > 0.6) & (q[:, 1] > 0.5) & (q[:, 2] < -0.4)
        return smooth + 0.1 * flipped

    q_all = rng.uniform(-1, 1, (n, 3))
    q_test = rng.uniform(-1, 1, (n // 4, 3))
    perm = rng.permutation(n)
    data = _Samples(
        q_all,
        length(q_all)[:, None],
        q_test,
        length(q_test)[:, None],
        perm[n // 5 :],
        perm[: n // 5],
        {c: k for k, c in enumerate(names)},
        {"m": 0},
    )
    return data, names


def test_erratic_corner_of_three_coordinates_is_cut_out_and_the_rest_kept():
    from musclesim.geometry.fitting.fit import _exclude_erratic, _fit_in_domain, _inside

    data, names = _synthetic_samples()
    lo, hi = -np.ones(3), np.ones(3)
    domain = {c: (-1.0, 1.0) for c in names}
    (fit,) = _fit_in_domain(data, ["m"], names, [], domain, lo, hi)
    assert fit.heldout_max > 0.01  # the smooth fit cannot follow the flip
    cut = _exclude_erratic(data, fit, lo, hi, corners3=True, max_cuts=40)
    assert cut.heldout_max < 1e-4
    assert cut.domain == domain  # no slab: only corners are cut
    probe = np.array([[0.9, 0.9, -0.9], [-0.9, 0.9, -0.9], [0.3, 0.2, -0.9], [0.0, 0.0, 0.0]])
    inside = _inside(probe, names, cut.domain, cut.excluded)
    assert list(inside) == [False, True, True, True]
    # The flipped corner is 1.5 % of the box; far less than a slab of any coordinate is lost.
    assert _inside(data.q_test, names, cut.domain, cut.excluded).mean() > 0.9


def test_jump_located_by_bisection():
    from musclesim.geometry.fitting.fit import _locate_jump

    class Sampler:
        """A length that jumps by 14 mm at q0 = 2.6993685 whatever q1 is."""

        def lengths(self, poses, muscles):
            q0, q1 = poses["q0"], poses["q1"]
            return (0.46 - 0.01 * q0 + 0.002 * q1 - 0.014 * (q0 >= 2.6993685))[:, None]

    box = {"q0": (0.0, 2.79), "q1": (-1.0, 1.0)}
    value = _locate_jump(Sampler(), "m", "q0", ["q0", "q1"], box, 2.699, 2.7003)
    assert value == pytest.approx(2.6993685, abs=1e-9) and value >= 2.6993685

    class Moving(Sampler):
        def lengths(self, poses, muscles):
            q0, q1 = poses["q0"], poses["q1"]
            return (0.46 - 0.014 * (q0 >= 2.6993 + 1e-4 * q1))[:, None]

    assert _locate_jump(Moving(), "m", "q0", ["q0", "q1"], box, 2.699, 2.7003) is None


def test_domain_mask_equals_the_file_regions(full):
    """Nested excluded regions are dropped at load; the mask must not change."""
    from musclesim.geometry.io import load_geometry_dataset
    from musclesim.geometry.path_io import specs_from_dataset, strip_paths

    shipped = load_geometry_dataset("sprinter_ja1")
    ds = strip_paths(shipped)  # the polynomials' domains and regions
    rng = np.random.default_rng(0)
    lo, hi = ds["sampled_lower"].values, ds["sampled_upper"].values
    q = np.stack([rng.uniform(lo[k], hi[k], 4000) for k in range(len(lo))], axis=1)
    mask = np.asarray(
        full.in_domain({c: jnp.asarray(q[:, k]) for k, c in enumerate(full.coordinates)})
    )

    def bound(a, fill):
        return np.where(np.isnan(a), fill, a)

    ref = np.all(
        (q[:, None] >= bound(ds["domain_lower"].values, -np.inf))
        & (q[:, None] <= bound(ds["domain_upper"].values, np.inf)),
        axis=-1,
    )
    for i, n in enumerate(ds["excluded_count"].values):
        for r in range(int(n)):
            a = bound(ds["excluded_lower"].values[i, r], -np.inf)
            b = bound(ds["excluded_upper"].values[i, r], np.inf)
            ref[:, i] &= ~np.all((q >= a) & (q <= b), axis=-1)
    # A muscle with an exact path holds on the model's whole range of its coordinates.
    names = [str(c) for c in ds["coordinate"].values]
    for m, (spec, checked, _) in specs_from_dataset(shipped).items():
        i = full.muscle_index(m)
        k = [names.index(c) for c in spec.inputs]
        box = np.array([checked[c] for c in spec.inputs])
        ref[:, i] = np.all((q[:, k] >= box[:, 0]) & (q[:, k] <= box[:, 1]), axis=-1)
    np.testing.assert_array_equal(mask, ref)
    assert len(full.excluded_owner) < int(ds["excluded_count"].values.sum())


@pytest.mark.parametrize("name", ["hamner2013_subject01", "rajagopal2016"])
def test_concrete_and_traced_domain_masks_agree(name):
    """Concrete poses are masked in NumPy (no compiled program), traced ones in JAX: the same
    mask, excluded regions (hamner2013_subject01) and locked coordinates (both) included."""
    model = load_model(name)
    rng = np.random.default_rng(3)
    lo = np.where(np.isfinite(model.domain_lower), model.domain_lower, -1.0).min(axis=0)
    hi = np.where(np.isfinite(model.domain_upper), model.domain_upper, 1.0).max(axis=0)
    q = {
        c: rng.uniform(max(lo[k] - 0.2, -6.0), min(hi[k] + 0.2, 6.0), size=(50,))
        for k, c in enumerate(model.coordinates)
    }
    for c, v in model.locked_coordinates:
        q[c] = np.where(np.arange(50) % 2 == 0, v, v + 0.1)
    concrete = model.in_domain(q)
    traced = jax.jit(lambda m, qq: m.in_domain(qq))(model, q)
    assert isinstance(concrete, jax.Array) and concrete.dtype == traced.dtype
    np.testing.assert_array_equal(np.asarray(concrete), np.asarray(traced))
    assert not np.all(np.asarray(concrete)) and np.any(np.asarray(concrete))


def test_concrete_pose_stacking_keeps_jax_type_promotion(sprinter):
    """Python scalars stay weakly typed (float32 arrays are not promoted by them) and the
    stacked pose is a JAX array of the promoted dtype, as with jnp.asarray."""
    q = {c: 0.1 for c in sprinter.coordinates}
    q[sprinter.coordinates[0]] = np.zeros(3, dtype=np.float32)
    qm = sprinter._stack(q)
    assert isinstance(qm, jax.Array) and qm.dtype == jnp.float32 and qm.shape == (3, len(q))
    ref = jnp.stack(
        [jnp.broadcast_to(jnp.asarray(q[c]), (3,)).astype(jnp.float32) for c in q], axis=-1
    )
    np.testing.assert_array_equal(np.asarray(qm), np.asarray(ref))


def test_select_indexes_like_jax(full):
    """select() indexes concrete arrays in NumPy; the leaves equal JAX's indexing."""
    names = list(full.muscles[::5])
    sub = full.select(names)
    idx = full.muscle_index(names)
    cols = np.array([full.coordinates.index(c) for c in sub.coordinates])
    np.testing.assert_array_equal(sub.upright_length, full.upright_length[idx])
    np.testing.assert_array_equal(sub.domain_lower, full.domain_lower[idx][:, cols])
    for a, b in zip(
        jax.tree_util.tree_leaves(sub.parameters),
        jax.tree_util.tree_leaves(full.parameters[idx]),
        strict=True,
    ):
        assert isinstance(a, jax.Array) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
