"""Threshold pieces of kind ``PIECE_MIN``: a concave kink whose location follows the pose.

``L = A(q) + H(q_c >= theta) min(0, D(q))``: the kink lies where ``D = 0``. Tested on a
synthetic block with known lines, on the shipped sprinter rectus femoris (whose OpenSim knee
kink moves from 122.5 to 129.9 deg with the hip, models/README-geometry.md) and, with OpenSim,
against the model's own lengths near the kink.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim import load_model
from musclesim.geometry.fitting.fit import evaluate_fit
from musclesim.geometry.io import (
    fits_from_dataset,
    fits_to_dataset,
    load_geometry_dataset,
    model_from_dataset,
)
from musclesim.geometry.model import (
    FILE_FORMAT,
    FILE_FORMAT_MIN_PIECES,
    PIECE_MIN,
    PIECE_STEP,
    _Block,
)
from musclesim.geometry.records import MuscleFit, Threshold

THETA = 0.8  # rad, the pieces' threshold on the second variable


def _synthetic_block() -> _Block:
    """Two muscles in two variables (x = q / 2: centre 0, half-width 2, a box that holds
    every pose tested, since outside it the length is continued to first order), degree 1;
    terms in the graded order 1, x0, x1. Muscle 0: A = 0.1 + 0.02 q0 + 0.03 q1 with a min
    piece D = 0.05 + 0.01 q0 - 0.04 q1 (kink at q1 = 1.25 + 0.25 q0); muscle 1: the same A
    with a step piece P = 0.002 - 0.01 q1 above THETA."""
    coef = np.zeros((2, 3, 2))
    coef[0, :, 0] = coef[0, :, 1] = [0.1, 0.04, 0.06]
    coef[1, :, 0] = [0.05, 0.02, -0.08]
    coef[1, :, 1] = [0.002, 0.0, -0.02]
    return _Block(
        muscle_index=(0, 1),
        coordinate_index=(0, 1),
        degree=1,
        threshold_slot=((1,), (1,)),
        center=jnp.zeros(2),
        half_width=jnp.full(2, 2.0),
        coefficient=jnp.asarray(coef),
        threshold_value=jnp.full((2, 1), THETA),
        piece_kind=((PIECE_MIN,), (PIECE_STEP,)),
    )


def _expected(q0, q1):
    a = 0.1 + 0.02 * q0 + 0.03 * q1
    d = 0.05 + 0.01 * q0 - 0.04 * q1
    on = q1 >= THETA
    m0 = a + (min(0.0, d) if on else 0.0)
    m1 = a + ((0.002 - 0.01 * q1) if on else 0.0)
    # dL/dq: A's slope, plus D's where the min piece is active.
    g0 = np.array([0.02, 0.03]) + (np.array([0.01, -0.04]) if on and d < 0 else 0.0)
    g1 = np.array([0.02, 0.03]) + (np.array([0.0, -0.01]) if on else 0.0)
    return np.array([m0, m1]), np.stack([g0, g1])


@pytest.mark.parametrize(
    "pose",
    [
        (0.2, 0.5),  # below the threshold
        (0.2, 1.0),  # above it, left of the kink (D > 0): L = A
        (0.2, 1.6),  # right of the kink (D < 0): L = A + D
        (-0.8, 1.1),  # the kink moves with q0: at q0 = -0.8 it is at q1 = 1.05
        (0.8, 1.4),  # ... and at q0 = 0.8 at 1.45
    ],
)
def test_min_piece_values_and_gradients_on_both_sides(pose):
    block = _synthetic_block()
    q = jnp.asarray(pose)
    value, grad = _expected(*pose)
    np.testing.assert_allclose(block.lengths(q), value, rtol=0, atol=1e-15)
    both_value, both_grad = block.lengths_and_gradient(q)
    np.testing.assert_allclose(both_value, value, rtol=0, atol=1e-15)
    np.testing.assert_allclose(both_grad, grad, rtol=0, atol=1e-15)
    np.testing.assert_allclose(block.length_gradient(q), grad, rtol=0, atol=1e-15)
    np.testing.assert_allclose(jax.jacfwd(block.lengths)(q), grad, rtol=0, atol=1e-15)
    np.testing.assert_allclose(jax.jacrev(block.lengths)(q), grad, rtol=0, atol=1e-15)


def test_min_piece_under_jit_and_vmap():
    block = _synthetic_block()
    q = jnp.stack([jnp.full(101, 0.3), jnp.linspace(0.0, 2.0, 101)], axis=1)
    lengths = jax.jit(jax.vmap(block.lengths))(q)
    grads = jax.jit(jax.vmap(block.length_gradient))(q)
    for i in range(0, 101, 10):
        value, grad = _expected(float(q[i, 0]), float(q[i, 1]))
        np.testing.assert_allclose(lengths[i], value, rtol=0, atol=1e-15)
        np.testing.assert_allclose(grads[i], grad, rtol=0, atol=1e-15)
    # The length is continuous across the moving kink (q1 = 1.325 at q0 = 0.3) and peaks there.
    assert float(q[int(np.argmax(lengths[:, 0])), 1]) == pytest.approx(1.325, abs=0.02)


def test_numpy_evaluation_of_a_fit_with_a_min_piece():
    fit = MuscleFit(
        name="m",
        coordinates=["a", "b"],
        center=np.zeros(2),
        half_width=np.ones(2),
        degree=1,
        thresholds=[Threshold("b", THETA, PIECE_MIN)],
        coefficients=np.array([[0.1, 0.02, 0.03], [0.05, 0.01, -0.04]]),
        domain={"a": (-1.0, 1.0), "b": (-1.0, 2.0)},
    )
    q = np.array([[0.2, 0.5], [0.2, 1.0], [0.2, 1.6], [-0.8, 1.1]])
    expected = [_expected(*row)[0][0] for row in q]
    np.testing.assert_allclose(evaluate_fit(fit, q), expected, rtol=0, atol=1e-15)


def test_file_without_piece_kind_loads_as_steps():
    from musclesim.geometry.path_io import strip_paths

    ds = strip_paths(load_geometry_dataset("rajagopal2016"))  # the shipped file has paths
    assert "piece_kind" not in ds and ds.attrs["format"] == FILE_FORMAT
    model = model_from_dataset(ds)
    assert all(b.piece_kind == () for b in model.blocks)
    # A format-1 file with step pieces (the sprinter's vasti and gastrocnemius): the fit
    # records read back as steps.
    sprinter = strip_paths(load_geometry_dataset("sprinter_ja1"))
    legacy = sprinter.drop_vars("piece_kind")
    legacy.attrs["format"] = FILE_FORMAT
    fits = fits_from_dataset(legacy)["fits"]
    assert all(t.kind == PIECE_STEP for f in fits.values() for t in f.thresholds)
    assert model_from_dataset(legacy).muscles == model_from_dataset(sprinter).muscles


def test_piece_kind_round_trips_and_sets_the_format():
    from musclesim.geometry.model import FILE_FORMAT_PATHS
    from musclesim.geometry.path_io import strip_paths

    shipped = load_geometry_dataset("sprinter_ja1")
    assert shipped.attrs["format"] == FILE_FORMAT_PATHS  # exact paths: format 3
    ds = strip_paths(shipped)
    assert ds.attrs["format"] == FILE_FORMAT_MIN_PIECES
    record = fits_from_dataset(ds)
    kinds = {m: [t.kind for t in f.thresholds] for m, f in record["fits"].items()}
    assert PIECE_MIN in kinds["recfem_r"] and PIECE_MIN in kinds["recfem_l"]
    assert all(PIECE_MIN not in k for m, k in kinds.items() if not m.startswith("recfem"))
    again = fits_to_dataset(
        **{k: v for k, v in record.items() if k not in ("source_file", "parameters")},
        parameters=_Table(record["parameters"]),
        source_path=record["source_file"],
    )
    np.testing.assert_array_equal(again["piece_kind"].values, ds["piece_kind"].values)
    assert again.attrs["format"] == FILE_FORMAT_MIN_PIECES
    # Without min pieces the writer keeps format 1 and writes no piece_kind.
    steps = dict(record["fits"])
    for m in ("recfem_r", "recfem_l"):
        f = steps[m]
        steps[m] = MuscleFit(**{**f.__dict__, "thresholds": [], "coefficients": f.coefficients[:1]})
    plain = fits_to_dataset(
        **{k: v for k, v in record.items() if k not in ("source_file", "parameters", "fits")},
        fits=steps,
        parameters=_Table(record["parameters"]),
        source_path=record["source_file"],
    )
    assert "piece_kind" not in plain and plain.attrs["format"] == FILE_FORMAT


class _Table(dict):
    def as_dict(self):
        return dict(self)


@pytest.fixture(scope="module")
def recfem():
    return load_model("sprinter_ja1").select(["recfem_r", "recfem_l"])


def _sweep(model, side, hip_deg, knee_deg):
    n = len(knee_deg)
    q = {c: jnp.zeros(n) for c in model.coordinates}
    for name, v in zip(("hip_flexion", "hip_adduction", "hip_rotation"), hip_deg, strict=True):
        q[f"{name}_{side}"] = jnp.full(n, np.radians(v))
    q[f"knee_angle_{side}"] = jnp.asarray(np.radians(knee_deg))
    return q


@pytest.mark.parametrize("side", ["r", "l"])
@pytest.mark.parametrize(
    ("hip_deg", "kink_deg"),
    # Kink of OpenSim's rectus femoris length along knee flexion (0.05 deg sweeps of
    # Sprinter_JA1_scaled.osim, models/README-geometry.md): it moves with the hip.
    [((119.99, 0.0, 20.0), 122.5), ((60.0, 0.0, -20.0), 129.9), ((0.0, 0.0, 0.0), 127.2)],
)
def test_shipped_recfem_kink_follows_the_hip(recfem, side, hip_deg, kink_deg):
    knee = np.arange(110.0, 145.0, 0.05)
    q = _sweep(recfem, side, hip_deg, knee)
    i = recfem.muscle_index(f"recfem_{side}")
    lengths = np.asarray(recfem.mtu_length(q))[:, i]
    assert knee[int(np.argmax(lengths))] == pytest.approx(kink_deg, abs=0.3)
    # Moment arm about the knee (OpenSim, 0.05 deg sweeps): about -31.5 mm in the 4 deg
    # before the kink, +17..+25 mm in the 8 deg after it; the analytic arms equal autodiff of
    # the lengths on both sides.
    k = recfem.coordinates.index(f"knee_angle_{side}")
    arms = np.asarray(recfem.moment_arm(q))[:, i, k]
    before = (knee > kink_deg - 4.0) & (knee < kink_deg - 1.0)
    after = (knee > kink_deg + 1.0) & (knee < kink_deg + 8.0)
    assert np.all((arms[before] > -0.0365) & (arms[before] < -0.029))
    assert np.all((arms[after] > 0.014) & (arms[after] < 0.027))
    _, both = recfem.mtu_length_and_moment_arm(q)
    np.testing.assert_allclose(np.asarray(both), np.asarray(recfem.moment_arm(q)), atol=1e-12)

    def length(x):
        pose = dict(q, **{f"knee_angle_{side}": x})
        return recfem.mtu_length(pose)[:, i]

    # Each pose's length depends on its own knee angle only: one forward-mode pass with a
    # tangent of ones gives every pose's derivative.
    x = q[f"knee_angle_{side}"]
    auto = -jax.jvp(length, (x,), (jnp.ones_like(x),))[1]
    np.testing.assert_allclose(np.asarray(auto), arms, rtol=0, atol=1e-10)


@pytest.mark.slow
@pytest.mark.opensim
def test_shipped_recfem_matches_opensim_near_the_kink(recfem, data_dir):
    from musclesim.core.io import sha256_file
    from musclesim.geometry.fitting.fit import OpenSimSampler

    path = data_dir / "models" / recfem.source_file
    assert sha256_file(path) == recfem.source_sha256
    sampler = OpenSimSampler(path)
    rng = np.random.default_rng(3)
    n = 60
    q = {}
    for side in ("r", "l"):
        q[f"hip_flexion_{side}"] = rng.uniform(np.radians(-20), np.radians(110), n)
        q[f"hip_adduction_{side}"] = rng.uniform(np.radians(-30), np.radians(20), n)
        q[f"hip_rotation_{side}"] = rng.uniform(np.radians(-30), np.radians(30), n)
        q[f"knee_angle_{side}"] = rng.uniform(np.radians(118), np.radians(136), n)
    muscles = list(recfem.muscles)
    ref = sampler.lengths(q, muscles)
    qj = {c: jnp.asarray(v) for c, v in q.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = np.asarray(recfem.mtu_length(qj)) - ref
    # Fitted tolerance inside the domain (README-geometry.md): 0.5 mm RMS, 2 mm max; the
    # kink band is met with a margin.
    assert np.sqrt(np.mean(err**2)) <= 0.1e-3
    assert np.max(np.abs(err)) <= 0.3e-3
    arms = np.asarray(recfem.moment_arm(qj))
    h = 1e-4
    for side in ("r", "l"):
        knee = f"knee_angle_{side}"
        j = muscles.index(f"recfem_{side}")
        up = sampler.lengths(dict(q, **{knee: q[knee] + h}), [muscles[j]])[:, 0]
        dn = sampler.lengths(dict(q, **{knee: q[knee] - h}), [muscles[j]])[:, 0]
        fd = -(up - dn) / (2 * h)
        a = arms[:, j, recfem.coordinates.index(knee)]
        # Same side of the kink as OpenSim (the arm jumps by about 50 mm there) except within
        # a few hundredths of a degree of it, where D's fitting error moves the kink.
        same_side = np.sign(a) == np.sign(fd)
        assert same_side.mean() >= 0.95
        assert np.median(np.abs(a - fd)[same_side]) <= 2e-3
