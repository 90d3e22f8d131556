"""The out-of-domain policy of the geometry surrogate, and its evaluation in float32.

A polynomial of degree 11-60 fitted on a box grows without bound outside it (the generic
``rajagopal2016`` knee box ends at 120 deg; measured sprinting reaches 152 deg). The runtime
model never extrapolates it: it clamps the pose onto the fitted box and continues the length
to first order, and either warns, carries the flag silently (``"clamp"``), or refuses naming
the frames, coordinates and ranges (``"refuse"``).
"""

import os
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim import GeometryDomainWarning, InputError, OutOfDomainError, load_model


@pytest.fixture(scope="module")
def calf():
    return load_model("rajagopal2016").select(["gasmed_r", "bfsh_r", "soleus_r"])


def _knee_sweep(model, knee_deg):
    q = model.zero_pose((len(knee_deg),))
    q["knee_angle_r"] = jnp.asarray(np.radians(knee_deg))
    return q


def _box(model, muscle, coordinate):
    """The fitted (Chebyshev scaling) box of ``muscle`` along ``coordinate`` (rad)."""
    i = model.muscle_index(muscle)
    for b in model.blocks:
        if i in b.muscle_index and model.coordinates.index(coordinate) in b.coordinate_index:
            k = b.coordinate_index.index(model.coordinates.index(coordinate))
            return float(b.center[k] - b.half_width[k]), float(b.center[k] + b.half_width[k])
    raise AssertionError(f"{muscle} does not read {coordinate}")


def test_beyond_the_box_the_length_continues_to_first_order(calf):
    lo, hi = _box(calf, "gasmed_r", "knee_angle_r")
    knee = np.degrees([hi - 0.2, hi, hi + 0.1, hi + 0.4])  # the last: 152 deg and more
    q = _knee_sweep(calf, knee)
    lengths, arms, mask = calf.mtu_length_and_moment_arm(q, out_of_domain="clamp", return_mask=True)
    i, k = calf.muscle_index("gasmed_r"), calf.coordinates.index("knee_angle_r")
    at_box = float(lengths[1, i])
    slope = -float(arms[1, i, k])  # dL/dq at the box's edge
    np.testing.assert_allclose(lengths[2:, i], at_box + slope * np.array([0.1, 0.4]), rtol=1e-12)
    np.testing.assert_allclose(arms[2:, i, k], arms[1, i, k], rtol=1e-12)
    assert np.all(np.abs(np.asarray(lengths)) < 1.0)  # bounded: no polynomial blow-up
    assert not bool(mask[3, i]) and bool(mask[0, i])
    # the first-order continuation is continuous at the box
    near = calf.mtu_length(_knee_sweep(calf, np.degrees([hi - 1e-9])), out_of_domain="clamp")
    assert abs(float(near[0, i]) - at_box) < 1e-9


def test_inside_the_box_the_extension_changes_nothing(calf):
    # bfsh_r: one polynomial piece over the knee (gasmed_r has threshold pieces at the steps
    # of its wrap), so the direct evaluation is that piece alone
    lo, hi = _box(calf, "bfsh_r", "knee_angle_r")
    q = _knee_sweep(calf, np.degrees(np.linspace(lo, hi, 9)))
    clamped = calf.mtu_length(q, out_of_domain="clamp")
    i = calf.muscle_index("bfsh_r")
    b = next(b for b in calf.blocks if i in b.muscle_index)
    assert b.coefficient.shape[0] == 1
    j = b.muscle_index.index(i)
    qk = jnp.stack([q[calf.coordinates[c]] for c in b.coordinate_index], axis=-1)
    direct = jax.vmap(lambda x: b.features(x) @ b.coefficient[0])(qk)[:, j]
    np.testing.assert_allclose(clamped[:, i], direct, rtol=0, atol=1e-15)


def test_lengths_alone_equal_the_lengths_of_the_joint_evaluation_in_and_out_of_the_box(calf):
    """mtu_length skips the derivative coefficients for a chunk of poses all inside the boxes
    and extends to first order otherwise; the joint evaluation always carries the gradient.
    One pose beyond the knee box sits in the second chunk of three, so one chunk takes the
    extension and two do not; the values and the derivative agree either way."""
    from musclesim.geometry.model import CPU_CHUNK

    lo, hi = _box(calf, "gasmed_r", "knee_angle_r")
    knee = np.degrees(np.linspace(lo + 0.05, hi - 0.05, 3 * CPU_CHUNK))
    knee[CPU_CHUNK + 7] = np.degrees(hi + 0.3)
    q = _knee_sweep(calf, knee)
    alone = calf.mtu_length(q, out_of_domain="clamp")
    joint, arms = calf.mtu_length_and_moment_arm(q, out_of_domain="clamp")
    np.testing.assert_allclose(alone, joint, rtol=0, atol=1e-14)
    k = calf.coordinates.index("knee_angle_r")

    def total(knee_rad):
        return calf.mtu_length({**q, "knee_angle_r": knee_rad}, out_of_domain="clamp").sum()

    slope = jax.grad(total)(q["knee_angle_r"])
    np.testing.assert_allclose(slope, -np.asarray(arms[:, :, k]).sum(axis=1), rtol=0, atol=1e-12)


def test_refuse_names_frames_coordinates_and_ranges(calf):
    lo, hi = _box(calf, "gasmed_r", "knee_angle_r")
    q = _knee_sweep(calf, np.degrees([0.5, hi + 0.3, hi + 0.4, 0.6, hi + 0.2]))
    with pytest.raises(OutOfDomainError, match=r"knee_angle_r.*frames 1-2, 4.*outside \["):
        calf.mtu_length(q, out_of_domain="refuse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, mask = calf.mtu_length(q, out_of_domain="clamp", return_mask=True)
    assert list(~np.asarray(mask)[:, calf.muscle_index("gasmed_r")]) == [
        False,
        True,
        True,
        False,
        True,
    ]
    with pytest.warns(GeometryDomainWarning, match="first order"):
        calf.mtu_length(q)
    with pytest.raises(InputError, match="out_of_domain"):
        calf.mtu_length(q, out_of_domain="extrapolate")


FLOAT32 = """
import warnings
warnings.simplefilter("error")
import jax, numpy as np
assert not jax.config.jax_enable_x64
from musclesim import load_model
m = load_model("sprinter_ja1")
q = m.zero_pose((3,))
lengths, arms = jax.jit(lambda m, q: m.mtu_length_and_moment_arm(q))(m, q)
assert lengths.dtype == np.float32 and arms.dtype == np.float32, (lengths.dtype, arms.dtype)
print(float(lengths[0, 0]))
"""


def test_float32_evaluation_without_warnings():
    """In float32 (JAX's default, what accelerators run) loading and evaluating the whole
    sprinter model, exact paths included, raises no float64-truncation warning; the upright
    length agrees with float64's to float32 rounding."""
    env = dict(os.environ, JAX_ENABLE_X64="0")
    out = subprocess.run(
        [sys.executable, "-c", FLOAT32], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    m = load_model("sprinter_ja1")
    reference = float(m.mtu_length(m.zero_pose())[0])
    assert abs(float(out.stdout.split()[-1]) - reference) < 1e-6
