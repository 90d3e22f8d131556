"""De Groote et al. 2016 curves (musclesim.muscle.curves): key points, OpenSim twin, inverses,
monotonicity, gradients and finite values at extreme inputs.

Layers (STYLE.md, conventions 1, 8, 10):

* key points that the docstrings claim, for both constant sets (``OPENSIM``, ``PUBLISHED``);
* the twin: OpenSim's own ``DeGrooteFregly2016Muscle`` curve methods on the same inputs, with
  non-default width scale and strains set on the muscle (same formulas in double precision,
  so agreement is to rounding: ``TWIN_RTOL``);
* property tests (Hypothesis) for inverses and monotonicity;
* ``jax.test_util.check_grads`` (forward and reverse, orders 1-2) inside the domain, and
  finite values and gradients for extreme inputs.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax.test_util import check_grads

import musclesim
from musclesim import (
    OPENSIM,
    PUBLISHED,
    active_force_length,
    force_velocity,
    force_velocity_inverse,
    passive_force_length,
    tendon_force_length,
    tendon_force_length_inverse,
)
from musclesim.muscle import curves as _curves

#: OpenSim twin: identical closed forms in double precision; only rounding differs.
TWIN_RTOL = 1e-12
TWIN_ATOL = 1e-14
#: Key points that hold exactly by construction (re-solved constants): rounding only.
EXACT = 1e-12

BOTH = pytest.mark.parametrize("constants", [OPENSIM, PUBLISHED], ids=["opensim", "published"])
#: Non-default muscle settings (width scale, passive strain e0, tendon strain eT) for the twin.
SETTINGS = [(1.0, 0.6, 0.049), (1.25, 0.45, 0.033), (1.5, 0.9, 0.07)]
HYPOTHESIS = settings(max_examples=150, deadline=None)


def _f(x):
    return jnp.asarray(x, dtype=float)


# ------------------------------------------------------------------------------------------
# Key points (what the docstrings say)
# ------------------------------------------------------------------------------------------
def test_opensim_set_key_points():
    assert float(active_force_length(1.0)) == pytest.approx(1.0, abs=EXACT)
    assert float(force_velocity(0.0)) == pytest.approx(1.0, abs=EXACT)
    assert float(force_velocity(-1.0)) == pytest.approx(0.0, abs=EXACT)
    assert float(tendon_force_length(1.0)) == pytest.approx(0.0, abs=EXACT)
    assert float(passive_force_length(0.2)) == pytest.approx(0.0, abs=EXACT)


@BOTH
@pytest.mark.parametrize("width_scale", [1.0, 1.3, 1.5])
def test_width_scale_widens_the_active_curve_about_optimal_length(constants, width_scale):
    # Docstring: x = (l~M - 1)/s + 1, so f_L(1) is unchanged and f_L(1 + s d; s) = f_L(1 + d; 1).
    offsets = _f(np.linspace(-0.6, 0.6, 25))
    scaled = active_force_length(
        1.0 + width_scale * offsets, width_scale=width_scale, constants=constants
    )
    np.testing.assert_allclose(
        scaled, active_force_length(1.0 + offsets, constants=constants), rtol=1e-13, atol=1e-15
    )
    assert float(active_force_length(1.0, width_scale=width_scale, constants=constants)) == (
        pytest.approx(float(active_force_length(1.0, constants=constants)), abs=EXACT)
    )
    # Range [0, ~1]: the peak (a little past l~M = 1, the sum of Gaussians is not symmetric)
    # stays within 1 % of 1 for the opensim set.
    fl = np.asarray(
        active_force_length(
            _f(np.linspace(0.2, 1.8, 1601)), width_scale=width_scale, constants=constants
        )
    )
    assert np.all(fl > 0.0)
    assert fl.max() == pytest.approx(1.0, abs=0.01)


@BOTH
@pytest.mark.parametrize("strain", [0.03, 0.049, 0.07])
def test_tendon_force_is_one_at_strain_at_one_norm_force(constants, strain):
    value = tendon_force_length(1.0 + strain, strain_at_one_norm_force=strain, constants=constants)
    assert float(value) == pytest.approx(1.0, abs=EXACT)


@BOTH
@pytest.mark.parametrize("strain", [0.4, 0.6, 0.9])
def test_passive_force_is_one_at_strain_at_one_norm_force(constants, strain):
    value = passive_force_length(1.0 + strain, strain_at_one_norm_force=strain, constants=constants)
    assert float(value) == pytest.approx(1.0, abs=EXACT)
    zero_at = 0.2 if constants is OPENSIM else 1.0  # docstring: f_PE(l_0) = 0
    assert float(
        passive_force_length(zero_at, strain_at_one_norm_force=strain, constants=constants)
    ) == pytest.approx(0.0, abs=EXACT)
    # Negative below l_0, as in OpenSim.
    below = passive_force_length(
        zero_at - 0.1, strain_at_one_norm_force=strain, constants=constants
    )
    assert float(below) < 0.0


def test_published_set_deviations_from_the_closed_forms():
    """The published constants' deviations, computed here from the paper's printed constants.

    Source of the constants: De Groote et al. 2016 supplement (DOI 10.1007/s10439-016-1591-9),
    typed in again here so that a typo in ``PUBLISHED`` shows up.
    """
    b = [(0.814, 1.06, 0.162, 0.0633), (0.433, 0.717, -0.0299, 0.2), (0.1, 1.0, 0.354, 0.0)]
    d1, d2, d3, d4 = -0.318, -8.149, -0.374, 0.886
    c1, c2, c3 = 0.2, 0.995, 0.25
    fl_at_one = sum(b1 * math.exp(-0.5 * (1 - b2) ** 2 / (b3 + b4) ** 2) for b1, b2, b3, b4 in b)
    fv_at_zero = d1 * math.asinh(d3) + d4
    fv_at_minus_one = d1 * math.asinh(-d2 + d3) + d4
    kt = math.log((1 + c3) / c1) / (1 + 0.049 - c2)
    ft_at_slack = c1 * math.exp(kt * (1 - c2)) - c3

    assert float(active_force_length(1.0, constants=PUBLISHED)) == pytest.approx(
        fl_at_one, rel=1e-14
    )
    assert float(force_velocity(0.0, constants=PUBLISHED)) == pytest.approx(fv_at_zero, rel=1e-14)
    assert float(force_velocity(-1.0, constants=PUBLISHED)) == pytest.approx(
        fv_at_minus_one, rel=1e-12
    )
    assert float(tendon_force_length(1.0, constants=PUBLISHED)) == pytest.approx(
        ft_at_slack, rel=1e-13
    )
    # The values these give (as the module docstring states):
    assert fl_at_one == pytest.approx(0.99414, abs=5e-6)
    assert fv_at_zero == pytest.approx(1.00232, abs=5e-6)
    assert ft_at_slack == pytest.approx(-0.01301, abs=5e-6)


def test_published_tendon_stiffness_matches_module_docstring():
    # "with the published constants and e_T = 0.049 this gives k_T = 33.94
    #  (k_T = 35 corresponds to e_T = 0.0474)".
    kt = float(_curves.tendon_stiffness_parameter(0.049, constants=PUBLISHED))
    assert kt == pytest.approx(33.94, abs=5e-3)
    assert float(_curves.tendon_stiffness_parameter(0.0474, constants=PUBLISHED)) == pytest.approx(
        35.0, abs=0.05
    )
    # "tendon force at zero strain -0.0118 with k_T = 35 (-0.0130 with the k_T = 33.94 that
    #  e_T = 0.049 gives)".
    assert 0.2 * math.exp(35.0 * (1.0 - 0.995)) - 0.25 == pytest.approx(-0.0118, abs=5e-5)
    assert float(tendon_force_length(1.0, constants=PUBLISHED)) == pytest.approx(-0.0130, abs=5e-5)


# Claims made in musclesim/_curves.py docstrings, at the precision they are printed (the
# "opensim" values are also checked against OpenSim 4.6 in test_curves_equal_opensim).
@pytest.mark.parametrize(
    ("function", "x", "constants", "claimed", "abs_tol"),
    [
        (active_force_length, 1.0, OPENSIM, 1.0, EXACT),
        (force_velocity, 0.0, OPENSIM, 1.0, EXACT),
        (force_velocity, -1.0, OPENSIM, 0.0, EXACT),
        (active_force_length, 0.2, OPENSIM, 0.00774, 5e-6),
        (active_force_length, 1.8, OPENSIM, 0.03128, 5e-6),
        (force_velocity, 1.0, OPENSIM, 1.79434, 5e-6),
        (active_force_length, 1.0, PUBLISHED, 0.99414, 5e-6),
        (force_velocity, 0.0, PUBLISHED, 1.00232, 5e-6),
        (tendon_force_length, 1.0, PUBLISHED, -0.0130, 5e-5),  # k_T = 33.94 (e_T = 0.049)
    ],
    ids=[
        "opensim-fL(1)",
        "opensim-fV(0)",
        "opensim-fV(-1)",
        "opensim-fL(0.2)",
        "opensim-fL(1.8)",
        "opensim-fV(1)",
        "published-fL(1)",
        "published-fV(0)",
        "published-fT(1)",
    ],
)
def test_docstring_key_point_claims(function, x, constants, claimed, abs_tol):
    assert float(function(x, constants=constants)) == pytest.approx(claimed, abs=abs_tol)


def test_min_gaussian_width_never_binds_on_the_documented_domain():
    # _curves.MIN_GAUSSIAN_WIDTH_SQUARED: "On the documented domain (l~M >= 0.2) the smallest
    # width is 0.0101, squared 1.0e-4".
    x = np.linspace(0.2, 1.8, 16001)
    widths = np.concatenate([np.abs(b3 + b4 * x) for _, _, b3, b4 in OPENSIM.b])
    assert widths.min() == pytest.approx(0.0101, abs=5e-5)
    assert widths.min() ** 2 > 1e3 * _curves.MIN_GAUSSIAN_WIDTH_SQUARED


def test_published_and_opensim_sets_differ_by_fractions_of_a_percent_at_the_key_points():
    # Module docstring: the sets "differ from OpenSim's by about 0.2-0.6 % in force". That is
    # their gap at the key points, 0.59 % (f_L(1)) and 0.23 % (f_V(0)); away from them the
    # active curves differ by up to 1.3 % of F_max (f_L on [0.5, 1.5]) and 1.2 % (f_V(-1)), and
    # the passive curves by a near-constant 1.8 % of F_max below optimal length (different
    # zero points: 0.2 for OpenSim, 1.0 published).
    lengths = _f(np.linspace(0.5, 1.5, 101))
    velocities = _f(np.linspace(-1.0, 1.0, 101))
    fl_gap = np.max(
        np.abs(active_force_length(lengths) - active_force_length(lengths, constants=PUBLISHED))
    )
    fv_gap = np.max(
        np.abs(force_velocity(velocities) - force_velocity(velocities, constants=PUBLISHED))
    )
    at_optimum = abs(
        float(active_force_length(1.0) - active_force_length(1.0, constants=PUBLISHED))
    )
    assert at_optimum == pytest.approx(0.0059, abs=1e-4)
    fv_at_zero = abs(float(force_velocity(0.0) - force_velocity(0.0, constants=PUBLISHED)))
    assert fv_at_zero == pytest.approx(0.0023, abs=1e-4)
    assert 1e-3 < fl_gap < 0.015
    assert 1e-3 < fv_gap < 0.015
    short = _f(np.linspace(0.2, 1.0, 81))
    passive_gap = np.asarray(
        passive_force_length(short) - passive_force_length(short, constants=PUBLISHED)
    )
    assert np.all((passive_gap > 0.0175) & (passive_gap < 0.0187))


def test_unknown_constant_set_is_an_input_error_naming_the_field():
    with pytest.raises(musclesim.InputError, match="constants.*'paper'"):
        active_force_length(1.0, constants="paper")
    assert _curves.get_constants("published") is PUBLISHED


# ------------------------------------------------------------------------------------------
# The twin: OpenSim's DeGrooteFregly2016Muscle curve methods
# ------------------------------------------------------------------------------------------
@pytest.mark.opensim
@pytest.mark.parametrize(("width_scale", "passive_strain", "tendon_strain"), SETTINGS)
def test_curves_equal_opensim(width_scale, passive_strain, tendon_strain):
    import opensim

    muscle = opensim.DeGrooteFregly2016Muscle()
    muscle.set_active_force_width_scale(width_scale)
    muscle.set_passive_fiber_strain_at_one_norm_force(passive_strain)
    muscle.set_tendon_strain_at_one_norm_force(tendon_strain)
    muscle.finalizeFromProperties()
    cls = opensim.DeGrooteFregly2016Muscle

    def twin(method, xs):
        return np.array([method(float(x)) for x in xs])

    lengths = np.linspace(0.01, 3.0, 300)
    np.testing.assert_allclose(
        active_force_length(_f(lengths), width_scale=width_scale),
        twin(muscle.calcActiveForceLengthMultiplier, lengths),
        rtol=TWIN_RTOL,
        atol=TWIN_ATOL,
    )
    np.testing.assert_allclose(
        passive_force_length(_f(lengths), strain_at_one_norm_force=passive_strain),
        twin(muscle.calcPassiveForceMultiplier, lengths),
        rtol=TWIN_RTOL,
        atol=TWIN_ATOL,
    )

    velocities = np.linspace(-5.0, 5.0, 201)
    np.testing.assert_allclose(
        force_velocity(_f(velocities)),
        twin(cls.calcForceVelocityMultiplier, velocities),
        rtol=TWIN_RTOL,
        atol=TWIN_ATOL,
    )
    multipliers = np.linspace(-0.5, 1.8, 201)
    np.testing.assert_allclose(
        force_velocity_inverse(_f(multipliers)),
        twin(cls.calcForceVelocityInverseCurve, multipliers),
        rtol=TWIN_RTOL,
        atol=TWIN_ATOL,
    )

    tendon_lengths = np.linspace(0.9, 1.0 + 2.0 * tendon_strain, 201)
    np.testing.assert_allclose(
        tendon_force_length(_f(tendon_lengths), strain_at_one_norm_force=tendon_strain),
        twin(muscle.calcTendonForceMultiplier, tendon_lengths),
        rtol=TWIN_RTOL,
        atol=TWIN_ATOL,
    )
    np.testing.assert_allclose(
        _curves.tendon_force_length_derivative(
            _f(tendon_lengths), strain_at_one_norm_force=tendon_strain
        ),
        twin(muscle.calcTendonForceMultiplierDerivative, tendon_lengths),
        rtol=TWIN_RTOL,
        atol=TWIN_ATOL,
    )
    forces = np.linspace(-0.19, 3.0, 201)  # OpenSim's inverse is NaN at and below -c3 = -0.2
    np.testing.assert_allclose(
        tendon_force_length_inverse(_f(forces), strain_at_one_norm_force=tendon_strain),
        twin(muscle.calcTendonForceLengthInverseCurve, forces),
        rtol=TWIN_RTOL,
        atol=TWIN_ATOL,
    )

    # OpenSim's analytic derivatives against jax.grad of ours, on OpenSim's domain.
    inside = np.linspace(0.2, 1.8, 81)
    dfl = jax.vmap(jax.grad(lambda x: active_force_length(x, width_scale=width_scale)))(_f(inside))
    np.testing.assert_allclose(
        dfl, twin(muscle.calcActiveForceLengthMultiplierDerivative, inside), rtol=1e-10, atol=1e-12
    )
    dfpe = jax.vmap(
        jax.grad(lambda x: passive_force_length(x, strain_at_one_norm_force=passive_strain))
    )(_f(inside))
    np.testing.assert_allclose(
        dfpe, twin(muscle.calcPassiveForceMultiplierDerivative, inside), rtol=1e-10, atol=1e-12
    )


# ------------------------------------------------------------------------------------------
# Inverses and monotonicity (Hypothesis)
# ------------------------------------------------------------------------------------------
_fv = jax.jit(force_velocity, static_argnames="constants")
_fv_inv = jax.jit(force_velocity_inverse, static_argnames="constants")
_ft = jax.jit(tendon_force_length, static_argnames="constants")
_ft_inv = jax.jit(tendon_force_length_inverse, static_argnames="constants")
_fpe = jax.jit(passive_force_length, static_argnames="constants")
_fl = jax.jit(active_force_length, static_argnames="constants")

constant_sets = st.sampled_from([OPENSIM, PUBLISHED])
velocities = st.floats(-5.0, 5.0)
tendon_strains = st.floats(0.02, 0.1)


@HYPOTHESIS
@given(v=velocities, constants=constant_sets)
def test_force_velocity_inverse_undoes_force_velocity(v, constants):
    round_trip = float(_fv_inv(_fv(_f(v), constants=constants), constants=constants))
    # sinh amplifies the rounding of f_V by |d sinh/dw| ~ |d2 v|: relative accuracy ~1e-13.
    assert round_trip == pytest.approx(v, rel=1e-12, abs=1e-13)


@HYPOTHESIS
@given(force=st.floats(-0.5, 3.0), constants=constant_sets)
def test_force_velocity_undoes_its_inverse(force, constants):
    assert float(
        _fv(_fv_inv(_f(force), constants=constants), constants=constants)
    ) == pytest.approx(force, abs=1e-13)


@HYPOTHESIS
@given(length=st.floats(0.9, 1.2), strain=tendon_strains, constants=constant_sets)
def test_tendon_inverse_undoes_tendon_curve(length, strain, constants):
    force = _ft(_f(length), strain_at_one_norm_force=strain, constants=constants)
    back = _ft_inv(force, strain_at_one_norm_force=strain, constants=constants)
    assert float(back) == pytest.approx(length, abs=1e-12)


@HYPOTHESIS
@given(force=st.floats(-0.19, 5.0), strain=tendon_strains, constants=constant_sets)
def test_tendon_curve_undoes_tendon_inverse(force, strain, constants):
    length = _ft_inv(_f(force), strain_at_one_norm_force=strain, constants=constants)
    back = _ft(length, strain_at_one_norm_force=strain, constants=constants)
    assert float(back) == pytest.approx(force, abs=1e-12 * (1 + abs(force)))


@HYPOTHESIS
@given(x=st.floats(-5.0, 5.0), y=st.floats(-5.0, 5.0), constants=constant_sets)
def test_force_velocity_is_increasing(x, y, constants):
    lo, hi = min(x, y), max(x, y)
    f_lo, f_hi = float(_fv(_f(lo), constants=constants)), float(_fv(_f(hi), constants=constants))
    assert f_lo <= f_hi
    if hi - lo > 1e-9:
        assert f_lo < f_hi


@HYPOTHESIS
@given(x=st.floats(0.8, 1.3), y=st.floats(0.8, 1.3), strain=tendon_strains, constants=constant_sets)
def test_tendon_force_is_increasing(x, y, strain, constants):
    lo, hi = min(x, y), max(x, y)
    f = [float(_ft(_f(z), strain_at_one_norm_force=strain, constants=constants)) for z in (lo, hi)]
    assert f[0] <= f[1]
    if hi - lo > 1e-9:
        assert f[0] < f[1]


@HYPOTHESIS
@given(
    x=st.floats(0.01, 3.0),
    y=st.floats(0.01, 3.0),
    strain=st.floats(0.4, 0.9),
    constants=constant_sets,
)
def test_passive_force_is_increasing(x, y, strain, constants):
    lo, hi = min(x, y), max(x, y)
    f = [float(_fpe(_f(z), strain_at_one_norm_force=strain, constants=constants)) for z in (lo, hi)]
    assert f[0] <= f[1]
    if hi - lo > 1e-6:
        assert f[0] < f[1]


@BOTH
def test_increasing_curves_have_positive_slope_on_dense_grids(constants):
    slope = jax.vmap(jax.grad(lambda v: force_velocity(v, constants=constants)))
    assert np.all(np.asarray(slope(_f(np.linspace(-5.0, 5.0, 1001)))) > 0)
    slope = jax.vmap(jax.grad(lambda x: passive_force_length(x, constants=constants)))
    assert np.all(np.asarray(slope(_f(np.linspace(0.01, 3.0, 1001)))) > 0)
    slope = jax.vmap(jax.grad(lambda x: tendon_force_length(x, constants=constants)))
    assert np.all(np.asarray(slope(_f(np.linspace(0.5, 1.5, 1001)))) > 0)


# ------------------------------------------------------------------------------------------
# Gradients (check_grads) and finite values at extreme inputs
# ------------------------------------------------------------------------------------------
#: Points strictly inside the domain (away from the kinks of the guards).
INSIDE_LENGTHS = _f([0.45, 0.8, 1.0, 1.6])
INSIDE_VELOCITIES = _f([-0.9, -0.3, 0.0, 1.5])


@BOTH
def test_check_grads_inside_the_domain(constants):
    def check(fun, args, **kwargs):
        check_grads(fun, args, order=2, modes=("fwd", "rev"), **kwargs)

    check(
        lambda x, s: active_force_length(x, width_scale=s, constants=constants),
        (INSIDE_LENGTHS, _f(1.2)),
    )
    check(
        lambda x, e: passive_force_length(x, strain_at_one_norm_force=e, constants=constants),
        (INSIDE_LENGTHS, _f(0.6)),
    )
    check(lambda v: force_velocity(v, constants=constants), (INSIDE_VELOCITIES,))
    check(lambda f: force_velocity_inverse(f, constants=constants), (_f([0.1, 0.7, 1.0, 1.5]),))
    # The tendon curve is steep (k_T ~ 35): the default step 1e-4 gives second-order
    # finite-difference truncation errors of ~2e-5; 1e-6 keeps them far below the tolerance.
    check(
        lambda l, e: tendon_force_length(l, strain_at_one_norm_force=e, constants=constants),
        (_f([0.99, 1.0, 1.03, 1.05]), _f(0.049)),
        eps=1e-6,
    )
    check(
        lambda f, e: tendon_force_length_inverse(
            f, strain_at_one_norm_force=e, constants=constants
        ),
        (_f([0.05, 0.5, 1.0, 2.0]), _f(0.049)),
        eps=1e-6,
    )


def _value_and_grad_finite(fun, x, **kwargs):
    value = jax.vmap(lambda z: fun(z, **kwargs))(x)
    grad = jax.vmap(jax.grad(lambda z: fun(z, **kwargs)))(x)
    hess = jax.vmap(jax.grad(jax.grad(lambda z: fun(z, **kwargs))))(x)
    return (
        np.all(np.isfinite(np.asarray(value)))
        and np.all(np.isfinite(np.asarray(grad)))
        and np.all(np.isfinite(np.asarray(hess)))
    )


@BOTH
def test_finite_values_and_gradients_for_extreme_inputs(constants):
    # Fibre lengths from 0.01 to 3 l_opt, including l~M = 0.1495, where the second Gaussian
    # term's width b32 + b42 x passes through zero (the MIN_GAUSSIAN_WIDTH_SQUARED guard).
    zero_width = -OPENSIM.b[1][2] / OPENSIM.b[1][3]
    lengths = _f(np.concatenate([np.linspace(0.01, 3.0, 600), [zero_width]]))
    for scale in (1.0, 1.5):
        assert _value_and_grad_finite(
            active_force_length, lengths, width_scale=scale, constants=constants
        )
    for strain in (0.4, 0.9):
        assert _value_and_grad_finite(
            passive_force_length, lengths, strain_at_one_norm_force=strain, constants=constants
        )
    assert _value_and_grad_finite(
        force_velocity, _f(np.linspace(-5.0, 5.0, 201)), constants=constants
    )
    # Tendon force at and below the asymptote -c3: the inverse is floored, stays finite.
    c3 = constants.c3
    forces = _f([-c3 - 1.0, -c3 - 1e-6, -c3, -c3 + 1e-12, -c3 + 1e-6, 0.0, 5.0, 20.0])
    assert _value_and_grad_finite(tendon_force_length_inverse, forces, constants=constants)
    floored = np.asarray(tendon_force_length_inverse(forces[:3], constants=constants))
    assert np.all(floored == floored[0])  # all floored to the same (short, finite) length
    assert np.all(
        np.asarray(
            jax.vmap(jax.grad(lambda f: tendon_force_length_inverse(f, constants=constants)))(
                forces[:2]
            )
        )
        == 0.0
    )
