"""Cubic splines (musclesim.core.spline) against scipy (natural) and OpenSim's SimmSpline.

Tolerances: both references solve the same tridiagonal system in double precision, so values and
derivatives agree to rounding (1e-12 relative to the data scale is ~1e4 ulps of headroom).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.interpolate

from musclesim import InputError
from musclesim.core.spline import cubic_spline

#: Agreement of two double-precision spline fits of O(1) data (rounding only).
SPLINE_ATOL = 1e-12


@functools.partial(jax.jit, static_argnames="end_condition")
def _fit_eval(x, y, t, *, end_condition):
    """Fit and evaluate in one compiled call (one compile per shape; eager dispatch is slow)."""
    spline = cubic_spline(x, y, end_condition=end_condition)
    return spline.value(t), spline.derivative(t)


def _knots(rng, n):
    """Strictly increasing, non-uniform knots on [0, 1] (first at 0, last at 1)."""
    gaps = rng.uniform(0.3, 1.0, n - 1)
    return np.concatenate([[0.0], np.cumsum(gaps) / gaps.sum()])


#: Evaluation points: inside, at the ends and beyond both ends of [0, 1] (one shape, one compile).
T_EVAL = np.linspace(-0.4, 1.4, 121)


def _ours(x, y, t, end_condition):
    value, slope = _fit_eval(
        jnp.asarray(x, dtype=float),
        jnp.asarray(y, dtype=float),
        jnp.asarray(t, dtype=float),
        end_condition=end_condition,
    )
    return np.asarray(value), np.asarray(slope)


@pytest.mark.parametrize("n", [4, 25])
def test_natural_spline_equals_scipy_inside_and_extrapolates_linearly(n):
    rng = np.random.default_rng(n)
    x = _knots(rng, n)
    y = rng.normal(size=n)
    ref = scipy.interpolate.CubicSpline(x, y, bc_type="natural")
    value, slope = _ours(x, y, T_EVAL, "natural")
    inside = (T_EVAL >= 0.0) & (T_EVAL <= 1.0)
    np.testing.assert_allclose(value[inside], ref(T_EVAL[inside]), atol=SPLINE_ATOL, rtol=0)
    np.testing.assert_allclose(slope[inside], ref(T_EVAL[inside], 1), atol=SPLINE_ATOL * n, rtol=0)
    # Outside: the straight line with the end slope (scipy's own extrapolation is cubic).
    before, after = T_EVAL < 0.0, T_EVAL > 1.0
    np.testing.assert_allclose(value[before], y[0] + T_EVAL[before] * ref(0.0, 1), atol=SPLINE_ATOL)
    np.testing.assert_allclose(
        value[after], y[-1] + (T_EVAL[after] - 1.0) * ref(1.0, 1), atol=SPLINE_ATOL
    )
    np.testing.assert_allclose(slope[before], ref(0.0, 1), atol=SPLINE_ATOL * n)
    np.testing.assert_allclose(slope[after], ref(1.0, 1), atol=SPLINE_ATOL * n)
    # Interpolates the samples and is continuous across knots.
    at_knots, _ = _ours(x, y, np.concatenate([x, np.zeros(T_EVAL.size - n)]), "natural")
    np.testing.assert_allclose(at_knots[:n], y, atol=SPLINE_ATOL, rtol=0)


@pytest.mark.parametrize("end_condition", ["natural", "opensim"])
def test_two_knots_give_the_straight_line(end_condition):
    value, slope = _ours([0.0, 1.0], [1.0, 3.0], T_EVAL, end_condition)
    np.testing.assert_allclose(value, 1.0 + 2.0 * T_EVAL, atol=1e-14)
    np.testing.assert_allclose(slope, 2.0, atol=1e-14)


@pytest.mark.opensim
@pytest.mark.parametrize("n", [2, 3, 4, 9, 25])
def test_opensim_end_condition_equals_simmspline(n):
    import opensim

    rng = np.random.default_rng(100 + n)
    x = _knots(rng, n)
    y = rng.normal(size=n)
    simm = opensim.SimmSpline()
    for xi, yi in zip(x, y, strict=True):
        simm.addPoint(float(xi), float(yi))
    # Inside the knots and beyond both ends (SimmSpline extrapolates linearly too).
    ref_value = np.array([simm.calcValue(opensim.Vector(1, float(ti))) for ti in T_EVAL])
    ref_slope = np.array([simm.calcDerivative([0], opensim.Vector(1, float(ti))) for ti in T_EVAL])
    value, slope = _ours(x, y, T_EVAL, "opensim")
    np.testing.assert_allclose(value, ref_value, atol=SPLINE_ATOL * n, rtol=0)
    np.testing.assert_allclose(slope, ref_slope, atol=SPLINE_ATOL * n**2, rtol=0)


def test_opensim_end_condition_reproduces_cubics_exactly():
    # The third-divided-difference end condition (Forsythe, Malcolm & Moler 1977) is exact for
    # cubic data; the natural one is not (a cubic's second derivative is not zero at the ends).
    rng = np.random.default_rng(3)
    x = _knots(rng, 25)
    cubic = np.polynomial.Polynomial([0.3, -1.0, 2.0, 1.5])
    inside = (T_EVAL >= 0.0) & (T_EVAL <= 1.0)
    value, slope = _ours(x, cubic(x), T_EVAL, "opensim")
    np.testing.assert_allclose(value[inside], cubic(T_EVAL[inside]), atol=1e-12)
    np.testing.assert_allclose(slope[inside], cubic.deriv()(T_EVAL[inside]), atol=1e-11)
    natural, _ = _ours(x, cubic(x), T_EVAL, "natural")
    assert np.max(np.abs(natural[inside] - cubic(T_EVAL[inside]))) > 1e-6


@pytest.mark.parametrize("end_condition", ["natural", "opensim"])
def test_batched_samples_equal_one_by_one_fits(end_condition):
    rng = np.random.default_rng(11)
    x = _knots(rng, 25)
    y = rng.normal(size=(2, 3, 25))
    value, slope = _ours(x, y, T_EVAL, end_condition)
    assert value.shape == slope.shape == (2, 3, T_EVAL.size)
    for i in range(2):
        for j in range(3):
            single_value, single_slope = _ours(x, y[i, j], T_EVAL, end_condition)
            np.testing.assert_allclose(value[i, j], single_value, atol=1e-13, rtol=1e-13)
            np.testing.assert_allclose(slope[i, j], single_slope, atol=1e-13, rtol=1e-13)
    # A scalar evaluation point gives the batch shape.
    assert cubic_spline(jnp.asarray(x), jnp.asarray(y)).value(jnp.asarray(0.5)).shape == (2, 3)


def test_unknown_end_condition_names_the_field():
    with pytest.raises(InputError, match="end_condition.*'clamped'"):
        cubic_spline(
            jnp.asarray([0.0, 1.0, 2.0]), jnp.asarray([0.0, 1.0, 0.0]), end_condition="clamped"
        )
