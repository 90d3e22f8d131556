"""The one evaluation chain (coordinates -> MTU length -> fibre states -> metrics): batch
members equal their own evaluation, scaling leaves strain unchanged, gradients match finite
differences, and the batched resampling stays inside each motion's range.

The chains run with the rigid tendon at a constant activation (algebraic, so each case
compiles in seconds); the compliant tendon's batching and gradients are those of
``solve_fiber`` (tests/test_fiber.py) and of the ranking's Newton root-find (tests/test_rank.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from musclesim.core.errors import InputError
from musclesim.geometry.io import load_model
from musclesim.motion.processing import resample_motion
from musclesim.muscle import metrics as _metrics
from musclesim.pipeline.evaluate import evaluate, evaluate_lengths, mtu_lengths, resample_motions

SAMPLES = 48
DURATION_S = 0.4
#: Batch members are solved in one flattened call; the rigid tendon is algebraic, so they
#: agree with their own evaluation to rounding (the compliant ODE solver is looser, 1e-9).
BATCH_RTOL = 1e-12
#: Central differences with step 1e-6 rad: truncation ~h^2 and rounding ~1e-16/h, both far
#: below this.
GRADIENT_RTOL = 1e-5


@pytest.fixture(scope="module")
def bflh():
    return load_model("sprinter_ja1").select(["bflh_r"])


def _swing(geometry, amplitude):
    """Hip and knee flexion from 0 to ``amplitude`` rad and back (inside the fit domain), with
    the batch shape of ``amplitude``; the other coordinates at 0."""
    t = jnp.linspace(0.0, DURATION_S, SAMPLES)
    shape = jnp.sin(jnp.pi * t / DURATION_S) ** 2
    amplitude = jnp.asarray(amplitude)[..., None]
    knee = dict(geometry.knee_flexion_sign)["knee_angle_r"]
    q = {c: jnp.zeros(amplitude.shape[:-1] + (SAMPLES,)) for c in geometry.coordinates}
    q["hip_flexion_r"] = amplitude * shape
    q["knee_angle_r"] = knee * 0.5 * amplitude * (1.0 - shape)
    return t, q


def test_batch_members_equal_their_own_evaluation(bflh):
    """Intensities x profiles in one call (the table's layout: profiles share the motion,
    each with its own parameters and length scale) give each member's unbatched result."""
    amplitudes = np.array([0.6, 0.9])  # 1.0 rad would ask > 5 F_max of this rigid tendon
    scales = np.array([0.95, 1.1])
    params = bflh.parameters.replace(
        max_isometric_force=jnp.asarray([[2000.0], [2600.0]]),  # [profile, muscle]
        optimal_fiber_length=bflh.parameters.optimal_fiber_length * jnp.asarray([[1.0], [0.95]]),
    )
    t, q = _swing(bflh, amplitudes[:, None])  # batch [intensity, 1]
    both = evaluate(bflh, params, t, q, length_scale=scales, activation=0.3, tendon="rigid").metrics
    for k, amplitude in enumerate(amplitudes):
        for j, scale in enumerate(scales):
            _, qk = _swing(bflh, amplitude)
            one = evaluate(
                bflh, params[j], t, qk, length_scale=scale, activation=0.3, tendon="rigid"
            ).metrics
            for name in ("peak_eccentric_fiber_strain", "peak_mtu_strain", "peak_force"):
                np.testing.assert_allclose(
                    np.asarray(getattr(both, name))[k, j],
                    np.asarray(getattr(one, name)),
                    rtol=BATCH_RTOL,
                    err_msg=name,
                )


def test_length_scale_scales_lengths_not_strain(bflh):
    """Geometric similarity: a taller athlete's MTU lengths and upright length grow alike, so
    MTU strain is unchanged."""
    t, q = _swing(bflh, 1.0)
    base = evaluate(bflh, bflh.parameters, t, q, activation=0.3, tendon="rigid")
    tall = evaluate(bflh, bflh.parameters, t, q, length_scale=1.1, activation=0.3, tendon="rigid")
    np.testing.assert_allclose(tall.solution.mtu_length, 1.1 * base.solution.mtu_length, rtol=1e-15)
    np.testing.assert_allclose(tall.mtu_strain, base.mtu_strain, atol=1e-14)
    lengths, inside = mtu_lengths(bflh, q)
    expected = _metrics.peak_mtu_strain(lengths, bflh.upright_length)
    np.testing.assert_allclose(base.metrics.peak_mtu_strain, expected, rtol=1e-15)
    assert lengths.shape == (1, SAMPLES) and bool(jnp.all(inside))
    # the later stages alone, on lengths scaled outside the chain, give the same metrics
    staged = evaluate_lengths(
        bflh.parameters, t, 1.1 * lengths, 1.1 * bflh.upright_length, activation=0.3, tendon="rigid"
    )
    for name in ("peak_eccentric_fiber_strain", "peak_mtu_strain", "peak_force", "negative_work"):
        np.testing.assert_allclose(
            getattr(staged.metrics, name), getattr(tall.metrics, name), rtol=1e-12, err_msg=name
        )
    assert staged.in_fit_domain is None


def test_gradient_through_the_chain_matches_finite_differences(bflh):
    """d(peak eccentric fibre strain)/d(swing amplitude) by jax.grad through the geometry
    surrogate, the fibre states and the masked peak, against central differences."""

    def peak(amplitude):
        t, q = _swing(bflh, amplitude)
        result = evaluate(bflh, bflh.parameters, t, q, activation=0.3, tendon="rigid")
        return result.metrics.peak_eccentric_fiber_strain[0]

    amplitude, h = 0.9, 1e-6
    slope = float(jax.grad(peak)(amplitude))
    central = (float(peak(amplitude + h)) - float(peak(amplitude - h))) / (2 * h)
    assert np.isfinite(slope) and slope != 0.0
    assert slope == pytest.approx(central, rel=GRADIENT_RTOL)


def test_resampled_motions_stay_inside_their_own_range():
    """A clamped joint (a kink at the clamp) makes the cubic spline undershoot; the batched
    grid keeps every coordinate within the samples' range, on each motion's own duration."""
    motions = []
    for duration in (0.5, 0.8):
        t = np.linspace(0.0, duration, 21)
        knee = np.maximum(np.sin(2 * np.pi * t / duration), 0.0)  # clamped at 0
        motions.append(
            xr.Dataset(
                {"q": (("time", "coordinate"), knee[:, None])},
                coords={"time": t, "coordinate": ["knee_angle_r"]},
            )
        )
    time, q = resample_motions(motions, 64, ["knee_angle_r"])
    assert time.shape == q["knee_angle_r"].shape == (2, 64)
    np.testing.assert_allclose(time[:, -1], [0.5, 0.8])
    assert q["knee_angle_r"].min() == 0.0 and q["knee_angle_r"].max() <= 1.0


def test_resampled_motions_are_resample_motion_on_the_asked_coordinates():
    """The batched resampling is the spline of resample_motion, column by column, on the
    coordinates asked for (in their order), whatever other coordinates the motion holds; a
    missing coordinate is refused by name."""
    t = np.linspace(0.0, 0.9, 37)
    names = ["hip_flexion_r", "knee_angle_r", "ankle_angle_r"]
    values = np.stack([np.sin(3 * t), 1.2 * np.cos(5 * t) ** 2, 0.1 * t**2], axis=1)
    motion = xr.Dataset(
        {"q": (("time", "coordinate"), values)}, coords={"time": t, "coordinate": names}
    )
    time, q = resample_motions([motion], 50, ["knee_angle_r", "hip_flexion_r"])
    expected = resample_motion(motion, times=time[0])["q"]
    expected = expected.clip(motion["q"].min("time"), motion["q"].max("time"))
    for c in ("knee_angle_r", "hip_flexion_r"):
        np.testing.assert_allclose(q[c][0], expected.sel(coordinate=c).values, rtol=0, atol=1e-15)
    with pytest.raises(InputError, match="lumbar_extension"):
        resample_motions([motion], 50, ["knee_angle_r", "lumbar_extension"])
