"""Pointwise musculotendon mechanics (musclesim.muscle.state): the fibre-velocity solve, rigid
tendon against OpenSim, the initial equilibrium, activation dynamics and gradients.

Named tolerances, with their reasons:

* ``VELOCITY_RTOL``: the Newton solve runs to double precision (the module's
  VELOCITY_NEWTON_ITERATIONS claim); residuals are rounding relative to the equation's terms.
* ``RIGID_RTOL``: the parity asked of the rigid tendon (fibre length and tendon force <= 1e-6
  relative);
  measured agreement is ~1e-14, both sides evaluate the same closed forms.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from jax.test_util import check_grads

import musclesim
from musclesim import OPENSIM, MuscleParameters
from musclesim.muscle import curves as _curves, state as _muscle

VELOCITY_RTOL = 1e-12
RIGID_RTOL = 1e-6
#: Absolute floor for near-zero forces in the rigid parity check (fraction of F_max).
RIGID_FORCE_ATOL = 1e-9
SEED = 20261125

_solve_velocity = jax.jit(_muscle.norm_fiber_velocity_from_force)
_force_velocity = jax.jit(_curves.force_velocity)


def _f(x):
    return jnp.asarray(x, dtype=float)


# ------------------------------------------------------------------------------------------
# norm_fiber_velocity_from_force: a f_L f_V(v) + beta v = F
# ------------------------------------------------------------------------------------------
def _floors(afl, damping):
    """The solver adds MIN_VELOCITY_EQUATION_SLOPE to the magnitude of both slopes of its
    transformed equation (see the module): a f_L |d1| and beta/|d2| become
    a f_L |d1| + floor and beta/|d2| + floor. The effective coefficients, and what the offsets
    add to the equation a f_L f_V(v) + beta v - F at a given v:
    (a_eff - a f_L)(f_V - d4) + (beta_eff - beta)(v + d3/d2)."""
    floor = _muscle.MIN_VELOCITY_EQUATION_SLOPE
    c = OPENSIM
    a_eff = afl + floor / abs(c.d1)
    beta_eff = damping + floor * abs(c.d2)

    def added(v, fv):
        return (a_eff - afl) * (fv - c.d4) + (beta_eff - damping) * (v + c.d3 / c.d2)

    return a_eff, beta_eff, added


@settings(max_examples=300, deadline=None)
@given(
    afl=st.one_of(st.just(0.0), st.floats(0.0, 1.5)),
    damping=st.one_of(st.just(0.0), st.floats(0.0, 0.2)),
    force=st.floats(-0.5, 2.0),
)
def test_velocity_solve_satisfies_its_equation(afl, damping, force):
    # a f_L = 0 and beta = 0 together leave no equation (F = 0 for every v); excluded.
    assume(afl > 0.0 or damping > 0.0)
    v = float(_solve_velocity(_f(afl), _f(damping), _f(force)))
    assert np.isfinite(v)
    fv = float(_force_velocity(_f(v)))
    a_eff, beta_eff, added = _floors(afl, damping)
    residual = afl * fv + damping * v - force
    scale = 1.0 + abs(force) + abs(a_eff * fv) + abs(beta_eff * v)
    # The equation the solver works on (with the floors' terms) is solved to rounding ...
    assert abs(residual + added(v, fv)) <= VELOCITY_RTOL * scale
    # ... so the true one holds up to the offsets' own terms (3.1e-12 |f_V - d4| +
    # 8.1e-12 |v + 0.046|).
    assert abs(residual) <= VELOCITY_RTOL * scale + abs(added(v, fv))


@settings(max_examples=200, deadline=None)
@given(damping=st.floats(1e-3, 0.2), force=st.floats(-0.5, 2.0))
def test_velocity_solve_at_zero_activation_is_the_damper_alone(damping, force):
    # a = 0 with damping > 0: beta v = F, finite (OpenSim's explicit mode divides by zero here).
    # The slope offsets move v by their added term over beta (<= 1e-8 here).
    v = float(_solve_velocity(_f(0.0), _f(damping), _f(force)))
    _, _, added = _floors(0.0, damping)
    shift = abs(added(v, float(_force_velocity(_f(v))))) / damping
    assert v == pytest.approx(force / damping, abs=1e-12 * (1.0 + abs(v)) + 1.01 * shift)
    assert shift < 1e-11 * (1.0 + abs(v)) / damping


@settings(max_examples=200, deadline=None)
@given(afl=st.floats(0.05, 1.5), v_true=st.floats(-5.0, 5.0))
def test_velocity_solve_without_damping_is_the_inverse_force_velocity_curve(afl, v_true):
    # beta = 0: v = f_V^{-1}(F/(a f_L)), OpenSim's explicit-mode formula.
    force = afl * float(_force_velocity(_f(v_true)))
    v = float(_solve_velocity(_f(afl), _f(0.0), _f(force)))
    expected = float(_curves.force_velocity_inverse(_f(force / afl)))
    # The slope offsets shift the root by (their added term) / (a f_L f_V'(v) + beta).
    _, _, added = _floors(afl, 0.0)
    slope = afl * float(jax.grad(_curves.force_velocity)(_f(expected)))
    shift = abs(added(expected, force / afl)) / slope
    assert v == pytest.approx(expected, abs=1e-12 * (1.0 + abs(expected)) + 2.0 * shift)
    assert v == pytest.approx(v_true, abs=1e-12 * (1.0 + abs(v_true)) + 2.0 * shift)
    assert shift < 1e-7 * (1.0 + abs(v_true))  # negligible physiologically


# ------------------------------------------------------------------------------------------
# Random parameter sets (fixed seed), plausible ranges
# ------------------------------------------------------------------------------------------
def _random_muscles(rng, n, *, norm_fiber_lengths=(0.4, 1.7)):
    """``n`` random parameter sets and MTU lengths that put the rigid-tendon fibre at a
    normalised length drawn from ``norm_fiber_lengths`` (kept above sin(alpha_opt))."""
    fields = dict(
        max_isometric_force=rng.uniform(100.0, 8000.0, n),
        optimal_fiber_length=rng.uniform(0.03, 0.25, n),
        tendon_slack_length=rng.uniform(0.02, 0.45, n),
        pennation_angle_at_optimal=rng.uniform(0.0, 0.5, n),
        fiber_damping=rng.uniform(0.0, 0.1, n),
        passive_fiber_strain_at_one_norm_force=rng.uniform(0.4, 0.9, n),
        active_force_width_scale=rng.uniform(1.0, 1.5, n),
        tendon_strain_at_one_norm_force=rng.uniform(0.03, 0.07, n),
        max_contraction_velocity=rng.uniform(5.0, 15.0, n),
    )
    params = MuscleParameters(**fields).check()
    width = np.sin(fields["pennation_angle_at_optimal"])  # fibre thickness / l_opt
    norm_length = np.maximum(rng.uniform(*norm_fiber_lengths, n), 1.05 * width)
    mtu_length = fields["tendon_slack_length"] + fields["optimal_fiber_length"] * np.sqrt(
        norm_length**2 - width**2
    )
    return params, mtu_length, norm_length


@pytest.mark.opensim
@pytest.mark.parametrize("mtu_velocity", [-1.0, -0.3, 0.0, 0.25, 0.8])  # m/s
def test_rigid_tendon_equals_opensim(mtu_velocity):
    # 5 velocities x 100 random muscles = 500 parameter sets, lengths and activations.
    from musclesim.twins.muscle import opensim_rigid_states

    rng = np.random.default_rng(SEED + int(100 * mtu_velocity))
    n = 100
    params, mtu_length, norm_length = _random_muscles(rng, n)
    activation = rng.uniform(0.0, 1.0, n)
    activation[:5] = [0.0, 1.0, 0.0, 1.0, 0.5]
    ref = opensim_rigid_states(params, mtu_length, mtu_velocity, activation)
    ours = musclesim.rigid_tendon_state(params, _f(mtu_length), mtu_velocity, _f(activation))

    np.testing.assert_allclose(ref["mtu_length"], mtu_length, rtol=1e-15)  # same inputs
    np.testing.assert_allclose(ours.norm_fiber_length, norm_length, rtol=1e-12)
    np.testing.assert_allclose(ours.fiber_length, ref["fiber_length"], rtol=RIGID_RTOL, atol=0)
    fmax = np.asarray(params.max_isometric_force)
    for name in ("tendon_force", "active_fiber_force", "passive_fiber_force"):
        got, want = np.asarray(getattr(ours, name)), ref[name]
        assert np.all(np.abs(got - want) <= RIGID_RTOL * np.abs(want) + RIGID_FORCE_ATOL * fmax), (
            name
        )
    np.testing.assert_allclose(
        ours.fiber_velocity, ref["fiber_velocity"], rtol=RIGID_RTOL, atol=1e-12
    )
    np.testing.assert_allclose(
        ours.pennation_angle, ref["pennation_angle"], rtol=RIGID_RTOL, atol=1e-12
    )


def test_rigid_tendon_geometry_and_force_balance():
    rng = np.random.default_rng(SEED)
    params, mtu_length, norm_length = _random_muscles(rng, 50)
    state = musclesim.rigid_tendon_state(params, _f(mtu_length), 0.2, _f(rng.uniform(0, 1, 50)))
    np.testing.assert_allclose(state.tendon_length, params.tendon_slack_length, rtol=0)
    cos = np.cos(np.asarray(state.pennation_angle))
    # Constant width: l_M sin(alpha) = l_opt sin(alpha_opt); along the tendon l_M cos(alpha).
    np.testing.assert_allclose(
        state.fiber_length * np.sin(np.asarray(state.pennation_angle)),
        params.fiber_width,
        rtol=1e-12,
        atol=1e-15,
    )
    np.testing.assert_allclose(
        state.fiber_length * cos + state.tendon_length, mtu_length, rtol=1e-13
    )
    np.testing.assert_allclose(state.tendon_force, state.fiber_force * cos, rtol=1e-13, atol=1e-9)
    np.testing.assert_allclose(state.fiber_velocity, 0.2 * cos, rtol=1e-13)
    np.testing.assert_allclose(state.tendon_velocity, 0.0, atol=1e-14)


# ------------------------------------------------------------------------------------------
# Initial equilibrium
# ------------------------------------------------------------------------------------------
def test_initial_equilibrium_residual_is_zero():
    rng = np.random.default_rng(SEED + 1)
    n = 400
    params, mtu_length, _ = _random_muscles(rng, n, norm_fiber_lengths=(0.5, 1.5))
    activation = rng.uniform(0.0, 1.0, n)
    activation[:40] = 0.0
    norm_velocity = rng.uniform(-0.5, 0.5, n)
    mtu_velocity = norm_velocity * np.asarray(params.max_fiber_velocity)
    damping = _muscle.effective_damping(params, 1e-3)
    args = (_f(mtu_length), _f(mtu_velocity), _f(activation))
    force = np.asarray(
        jax.jit(_muscle.initial_norm_tendon_force)(params, *args, minimum_fiber_damping=1e-3)
    )
    residual_jit = jax.jit(functools.partial(_muscle.equilibrium_residual, constants=OPENSIM))

    def residual(f):
        return np.asarray(residual_jit(params, _f(f), *args, damping=damping))

    assert np.all(np.isfinite(force))
    lo, hi = _muscle.EQUILIBRIUM_FORCE_BRACKET
    bracketed = np.sign(residual(np.full(n, lo))) != np.sign(residual(np.full(n, hi)))
    assert bracketed.sum() > 0.9 * n
    np.testing.assert_allclose(residual(force)[bracketed], 0.0, atol=1e-12)
    assert np.all((force[bracketed] >= lo) & (force[bracketed] <= hi))
    # The rest (a = 0 with the fibre shortening: the damper pushes, root below F~T = 0) get
    # OpenSim's bracket end plus one Newton step: finite and close to 0.
    assert np.all(np.abs(force[~bracketed]) < 0.1)


# ------------------------------------------------------------------------------------------
# Activation dynamics
# ------------------------------------------------------------------------------------------
def test_activation_rises_toward_excitation_and_rests_there():
    params = MuscleParameters(1000.0, 0.1, 0.2)
    grid = np.linspace(0.0, 1.0, 41)
    excitation, activation = (_f(g) for g in np.meshgrid(grid, grid, indexing="ij"))
    rate = np.asarray(musclesim.activation_rate(params, excitation, activation))
    gap = np.asarray(excitation - activation)
    assert np.all(np.sign(rate) == np.sign(gap))
    assert np.all(rate[gap == 0.0] == 0.0)


@pytest.mark.parametrize("activation", [0.0, 0.2, 0.6, 0.95])
def test_activation_time_constants_at_sharp_switching(activation):
    # With a large smoothing b the tanh switch is a step: rising,
    # da/dt = (e - a)/(tau_a (1/2 + 3a/2)); falling, da/dt = (e - a)(1/2 + 3a/2)/tau_d.
    tau_a, tau_d = 0.015, 0.060
    params = MuscleParameters(
        1000.0,
        0.1,
        0.2,
        activation_time_constant=tau_a,
        deactivation_time_constant=tau_d,
        activation_dynamics_smoothing=1e4,
    )
    factor = 0.5 + 1.5 * activation
    up = min(activation + 0.05, 1.0)
    rise = float(musclesim.activation_rate(params, up, activation))
    assert rise == pytest.approx((up - activation) / (tau_a * factor), rel=1e-12)
    if activation > 0.0:
        down = max(activation - 0.05, 0.0)
        fall = float(musclesim.activation_rate(params, down, activation))
        assert fall == pytest.approx((down - activation) * factor / tau_d, rel=1e-12)


# ------------------------------------------------------------------------------------------
# Gradients of the compliant-tendon state
# ------------------------------------------------------------------------------------------
GRAD_PARAMS = MuscleParameters(
    2626.4, 0.1116, 0.3804, 0.1759, fiber_damping=0.01, active_force_width_scale=1.2
)
#: Four instants: mid activation; low activation; full activation with a loaded tendon; rest
#: (a = 0, the velocity then comes from the damper alone). l~M near 0.8-1.2.
GRAD_INPUTS = (_f([0.4, 0.05, 1.2, 0.3]), _f([0.49, 0.50, 0.51, 0.47]), _f([0.3, -0.5, 1.0, 2.0]))
GRAD_ACTIVATION = _f([0.5, 0.02, 1.0])


@jax.jit
def _compliant_outputs(params, norm_force, mtu_length, mtu_velocity, activation):
    """O(1) outputs of compliant_tendon_state at the four instants; the fourth instant's
    activation is held at 0 (its one-sided derivative there is the next test)."""
    activation = jnp.concatenate([activation, jnp.zeros(1)])
    s = _muscle.compliant_tendon_state(
        params, norm_force, mtu_length, mtu_velocity, activation, minimum_fiber_damping=1e-3
    )
    return jnp.stack(
        [
            s.norm_fiber_length,
            s.norm_fiber_velocity,
            s.pennation_angle,
            s.tendon_length / params.tendon_slack_length,
            s.fiber_force / params.max_isometric_force,
        ]
    )


def test_check_grads_of_compliant_tendon_state():
    # Gradients wrt every parameter leaf and every input, including at zero activation.
    args = (GRAD_PARAMS, *GRAD_INPUTS, GRAD_ACTIVATION)
    assert np.all(np.isfinite(np.asarray(_compliant_outputs(*args))))
    check_grads(
        _compliant_outputs, args, order=1, modes=("fwd", "rev"), eps=1e-6, rtol=1e-5, atol=1e-6
    )
    grads = jax.grad(lambda p: _compliant_outputs(p, *args[1:]).sum())(GRAD_PARAMS)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))


def test_velocity_derivative_wrt_activation_at_zero_activation():
    # The slopes are offset, not floored (jnp.minimum would drop the a f_L d1 w term's
    # derivative at a = 0: -87.40 instead of -202.56 before commit 3549fc6).
    def norm_velocity(a):  # second instant: F~T = 0.05, L = 0.50 m, v = -0.5 m/s
        return _compliant_outputs(GRAD_PARAMS, *GRAD_INPUTS, jnp.full(3, a))[1, 1]

    h = 1e-7  # forward difference: activation >= 0
    one_sided = (float(norm_velocity(_f(h))) - float(norm_velocity(_f(0.0)))) / h
    assert np.isfinite(one_sided)
    assert float(jax.grad(norm_velocity)(_f(0.0))) == pytest.approx(one_sided, rel=1e-4)
