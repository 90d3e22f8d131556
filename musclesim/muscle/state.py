"""Pointwise musculotendon mechanics: pennation, fibre force, equilibrium, activation dynamics.

Every function here works on one instant and broadcasts over any leading dimensions; the time
integration lives in :mod:`musclesim.muscle.fiber`. Units are SI (m, m/s, N, rad, s). Fibre velocity
is positive when the fibre lengthens. The model is OpenSim's ``DeGrooteFregly2016Muscle``
(constant-width pennation, De Groote 2016 curves, linear fibre damping in parallel), with one
deliberate difference in the compliant-tendon velocity solve, explained in
:func:`norm_fiber_velocity_from_force`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from . import curves as _curves
from .parameters import MuscleParameters

#: Smallest fibre length along the tendon, as a fraction of l_opt. MTU lengths shorter than
#: l_ts + this would make the fibre vanish or invert; they are floored here so values and
#: gradients stay finite (OpenSim has no guard and returns NaN). Physiological fibres never
#: come close (OpenSim's own domain starts at 0.2 l_opt).
MIN_FIBER_LENGTH_ALONG_TENDON = 1e-3
#: Added to the magnitude of both slopes of the velocity equation (see
#: :func:`norm_fiber_velocity_from_force`) so that its closed-form starting points stay finite
#: when activation or damping is zero. Added rather than used as a floor, so the derivatives
#: with respect to activation and damping survive at zero; the equation changes by 1e-12 |w|.
MIN_VELOCITY_EQUATION_SLOPE = 1e-12
#: Newton iterations of the fibre-velocity solve. Starting from the nearer closed-form bound,
#: the iteration converges monotonically and quadratically; 12 reach double precision from
#: any starting point met in tests (checked in tests/test_muscle.py).
VELOCITY_NEWTON_ITERATIONS = 12
#: Bisection iterations of the initial equilibrium on [0, 5] F_max (5 / 2^60 ~ 4e-18).
EQUILIBRIUM_BISECTION_ITERATIONS = 60
#: Bracket of the normalised tendon force in the initial-equilibrium search (OpenSim's
#: m_minNormTendonForce and m_maxNormTendonForce).
EQUILIBRIUM_FORCE_BRACKET = (0.0, 5.0)


class MuscleState(eqx.Module):
    """Everything about a musculotendon unit at one instant (leaves broadcast over batch/time).

    Lengths in m, velocities in m/s (+ = lengthening), forces in N, angles in rad.
    ``passive_fiber_force`` includes the damping force, as OpenSim's ``getPassiveFiberForce``.
    """

    mtu_length: jax.Array
    mtu_velocity: jax.Array
    activation: jax.Array
    fiber_length: jax.Array
    fiber_velocity: jax.Array
    norm_fiber_length: jax.Array
    norm_fiber_velocity: jax.Array
    pennation_angle: jax.Array
    tendon_length: jax.Array
    tendon_velocity: jax.Array
    tendon_force: jax.Array
    active_fiber_force: jax.Array
    passive_fiber_force: jax.Array
    fiber_force: jax.Array
    active_force_length_multiplier: jax.Array
    force_velocity_multiplier: jax.Array
    passive_force_multiplier: jax.Array


def fiber_geometry(params: MuscleParameters, mtu_length, tendon_length):
    r"""Constant-width pennation (fibre thickness h = l_opt sin(alpha_opt) is constant).

    .. math:: l_{M,at} = L_{MTU} - l_T,\quad l_M = \sqrt{l_{M,at}^2 + h^2},\quad
              \cos\alpha = l_{M,at}/l_M

    Returns ``(fiber_length_along_tendon, fiber_length, cos_pennation, pennation_angle)``.
    The fibre length along the tendon is floored at ``MIN_FIBER_LENGTH_ALONG_TENDON * l_opt``.
    """
    along = jnp.maximum(
        mtu_length - tendon_length, MIN_FIBER_LENGTH_ALONG_TENDON * params.optimal_fiber_length
    )
    width = params.fiber_width
    fiber_length = jnp.sqrt(along**2 + width**2)
    cos_pennation = along / fiber_length
    pennation = jnp.arctan2(width, along)
    return along, fiber_length, cos_pennation, pennation


def effective_damping(params: MuscleParameters, minimum_fiber_damping) -> jax.Array:
    """Fibre damping actually used: the muscle's ``fiber_damping``, floored at the given minimum."""
    return jnp.maximum(params.fiber_damping, minimum_fiber_damping)


def norm_fiber_velocity_from_force(
    activation_times_fl, damping, required_force, *, constants=_curves.OPENSIM
):
    r"""Solve ``a f_L f_V(v) + beta v = F`` for the normalised fibre velocity v.

    ``F`` (``required_force``) is the normalised fibre force the tendon demands minus the
    elastic passive force: F_T/(F_max cos alpha) - f_PE. With the De Groote force-velocity
    curve, substituting w = asinh(d2 v + d3) turns the equation into

    .. math:: h(w) = A w + B \sinh w + C = 0,\quad A = a f_L d_1,\ B = \beta / d_2,\
              C = a f_L d_4 - \beta d_3/d_2 - F

    with A, B <= 0, so h is strictly decreasing, concave for w > 0 and convex for w < 0. Each
    term alone gives a closed-form root (w_A = -C/A, w_B = asinh(-C/B)); the true root lies
    between 0 and the nearer of the two, and Newton's method started from that nearer point
    converges monotonically. Then v = (sinh w - d3)/d2.

    Departure from OpenSim: OpenSim's explicit mode drops the damping term here
    (v = f_V^{-1}(F/(a f_L))) and then adds beta v to the fibre force, so its fibre and tendon
    forces disagree by beta v F_max when damping > 0, and it divides by a f_L, which fails at
    zero activation. With beta = 0 the two are identical; with beta > 0 musclesim's form keeps
    force equilibrium exact and stays finite at a = 0.
    """
    c = _curves.get_constants(constants)
    a_slope = activation_times_fl * c.d1 - MIN_VELOCITY_EQUATION_SLOPE  # d1 < 0, a f_L >= 0
    b_slope = damping / c.d2 - MIN_VELOCITY_EQUATION_SLOPE  # d2 < 0, beta >= 0
    const = activation_times_fl * c.d4 - damping * c.d3 / c.d2 - required_force
    w_a = -const / a_slope
    w_b = jnp.arcsinh(-const / b_slope)
    w = jnp.where(jnp.abs(w_a) < jnp.abs(w_b), w_a, w_b)

    def newton(_, w):
        h = a_slope * w + b_slope * jnp.sinh(w) + const
        dh = a_slope + b_slope * jnp.cosh(w)
        return w - h / dh

    w = jax.lax.fori_loop(0, VELOCITY_NEWTON_ITERATIONS, newton, w)
    return (jnp.sinh(w) - c.d3) / c.d2


def fiber_forces(
    params: MuscleParameters,
    norm_fiber_length,
    norm_fiber_velocity,
    activation,
    damping,
    *,
    constants=_curves.OPENSIM,
):
    """Fibre force components (N): ``(active, passive_elastic, damping, fl, fv, fpe)``.

    F_M = F_max (a f_L(l~M) f_V(v~M) + f_PE(l~M) + beta v~M).
    """
    fl = _curves.active_force_length(
        norm_fiber_length, width_scale=params.active_force_width_scale, constants=constants
    )
    fv = _curves.force_velocity(norm_fiber_velocity, constants=constants)
    fpe = _curves.passive_force_length(
        norm_fiber_length,
        strain_at_one_norm_force=params.passive_fiber_strain_at_one_norm_force,
        constants=constants,
    )
    fmax = params.max_isometric_force
    return (
        fmax * activation * fl * fv,
        fmax * fpe,
        fmax * damping * norm_fiber_velocity,
        fl,
        fv,
        fpe,
    )


def _state(
    params,
    mtu_length,
    mtu_velocity,
    activation,
    *,
    tendon_length,
    fiber_velocity,
    fiber_length,
    cos_pennation,
    pennation,
    damping,
    tendon_force,
    constants,
):
    """The full MuscleState from kinematics already solved for (rigid or compliant tendon);
    ``tendon_force`` None means rigid (the tendon carries the fibre force along it)."""
    norm_length = fiber_length / params.optimal_fiber_length
    norm_velocity = fiber_velocity / params.max_fiber_velocity
    active, elastic, damping_force, fl, fv, fpe = fiber_forces(
        params, norm_length, norm_velocity, activation, damping, constants=constants
    )
    fiber_force = active + elastic + damping_force
    if tendon_force is None:  # rigid tendon: the tendon carries the fibre force along it
        tendon_force = fiber_force * cos_pennation
    tendon_velocity = mtu_velocity - fiber_velocity / cos_pennation
    return MuscleState(
        mtu_length=mtu_length,
        mtu_velocity=mtu_velocity,
        activation=activation,
        fiber_length=fiber_length,
        fiber_velocity=fiber_velocity,
        norm_fiber_length=norm_length,
        norm_fiber_velocity=norm_velocity,
        pennation_angle=pennation,
        tendon_length=tendon_length,
        tendon_velocity=tendon_velocity,
        tendon_force=tendon_force,
        active_fiber_force=active,
        passive_fiber_force=elastic + damping_force,
        fiber_force=fiber_force,
        active_force_length_multiplier=fl,
        force_velocity_multiplier=fv,
        passive_force_multiplier=fpe,
    )


def rigid_tendon_state(
    params: MuscleParameters,
    mtu_length,
    mtu_velocity,
    activation,
    *,
    constants=_curves.OPENSIM,
    minimum_fiber_damping=0.0,
) -> MuscleState:
    r"""Rigid tendon (l_T = l_ts): the fibre takes all the MTU length change.

    .. math:: v_M = v_{MTU} \cos\alpha,\quad F_T = F_M \cos\alpha

    (OpenSim's ``ignore_tendon_compliance = true``; algebraic, no state.)
    """
    tendon_length = jnp.broadcast_to(params.tendon_slack_length, jnp.shape(mtu_length))
    _, fiber_length, cos_pen, pen = fiber_geometry(params, mtu_length, tendon_length)
    fiber_velocity = mtu_velocity * cos_pen
    return _state(
        params,
        mtu_length,
        mtu_velocity,
        activation,
        tendon_length=tendon_length,
        fiber_velocity=fiber_velocity,
        fiber_length=fiber_length,
        cos_pennation=cos_pen,
        pennation=pen,
        damping=effective_damping(params, minimum_fiber_damping),
        tendon_force=None,
        constants=constants,
    )


def fiber_at_tendon_force(params, norm_tendon_force, mtu_length, *, constants):
    """Tendon length, fibre length, cos(pennation), pennation and the active (f_L) and passive
    (f_PE) force-length multipliers of the fibre when the tendon carries ``norm_tendon_force``
    along ``mtu_length``: the step every compliant-tendon solve starts from."""
    tendon_length = params.tendon_slack_length * _curves.tendon_force_length_inverse(
        norm_tendon_force,
        strain_at_one_norm_force=params.tendon_strain_at_one_norm_force,
        constants=constants,
    )
    _, fiber_length, cos_pen, pen = fiber_geometry(params, mtu_length, tendon_length)
    norm_length = fiber_length / params.optimal_fiber_length
    fl = _curves.active_force_length(
        norm_length, width_scale=params.active_force_width_scale, constants=constants
    )
    fpe = _curves.passive_force_length(
        norm_length,
        strain_at_one_norm_force=params.passive_fiber_strain_at_one_norm_force,
        constants=constants,
    )
    return tendon_length, fiber_length, cos_pen, pen, fl, fpe


def _compliant_kinematics(
    params,
    norm_tendon_force,
    mtu_length,
    activation,
    *,
    constants,
    minimum_fiber_damping,
    norm_fiber_velocity=None,
):
    """Tendon length, fibre length, cos(pennation), pennation, damping and fibre velocity of
    the compliant tendon: the part of :func:`compliant_tendon_state` the ODE needs. A given
    ``norm_fiber_velocity`` (already in equilibrium with the force) is used as is."""
    tendon_length, fiber_length, cos_pen, pen, fl, fpe = fiber_at_tendon_force(
        params, norm_tendon_force, mtu_length, constants=constants
    )
    damping = effective_damping(params, minimum_fiber_damping)
    if norm_fiber_velocity is None:
        norm_fiber_velocity = norm_fiber_velocity_from_force(
            activation * fl, damping, norm_tendon_force / cos_pen - fpe, constants=constants
        )
    fiber_velocity = norm_fiber_velocity * params.max_fiber_velocity
    return tendon_length, fiber_length, cos_pen, pen, damping, fiber_velocity


def compliant_tendon_rate(
    params,
    norm_tendon_force,
    mtu_length,
    mtu_velocity,
    activation,
    *,
    constants,
    minimum_fiber_damping,
):
    """dF~T/dt alone (the ODE's right-hand side), without assembling the full state."""
    tendon_length, _, cos_pen, _, _, fiber_velocity = _compliant_kinematics(
        params,
        norm_tendon_force,
        mtu_length,
        activation,
        constants=constants,
        minimum_fiber_damping=minimum_fiber_damping,
    )
    tendon_velocity = mtu_velocity - fiber_velocity / cos_pen
    return _tendon_force_rate(params, tendon_length, tendon_velocity, constants=constants)


def compliant_tendon_state(
    params: MuscleParameters,
    norm_tendon_force,
    mtu_length,
    mtu_velocity,
    activation,
    *,
    constants=_curves.OPENSIM,
    minimum_fiber_damping=0.0,
    norm_fiber_velocity=None,
) -> MuscleState:
    r"""Compliant tendon, state = normalised tendon force F~T (OpenSim's explicit form).

    The tendon length follows from F~T through the inverse tendon curve; the fibre takes the
    rest of the MTU length; the fibre velocity is the one at which the fibre force along the
    tendon equals the tendon force (:func:`norm_fiber_velocity_from_force`), unless a solver
    that already solved for it passes it as ``norm_fiber_velocity``.
    """
    tendon_length, fiber_length, cos_pen, pen, damping, fiber_velocity = _compliant_kinematics(
        params,
        norm_tendon_force,
        mtu_length,
        activation,
        constants=constants,
        minimum_fiber_damping=minimum_fiber_damping,
        norm_fiber_velocity=norm_fiber_velocity,
    )
    return _state(
        params,
        mtu_length,
        mtu_velocity,
        activation,
        tendon_length=tendon_length,
        fiber_velocity=fiber_velocity,
        fiber_length=fiber_length,
        cos_pennation=cos_pen,
        pennation=pen,
        damping=damping,
        tendon_force=norm_tendon_force * params.max_isometric_force,
        constants=constants,
    )


def norm_tendon_force_rate(params: MuscleParameters, state: MuscleState, *, constants):
    r"""dF~T/dt = f_T'(l~T) (v_MTU - v_M/cos alpha) / l_ts."""
    return _tendon_force_rate(
        params, state.tendon_length, state.tendon_velocity, constants=constants
    )


def _tendon_force_rate(params, tendon_length, tendon_velocity, *, constants):
    stiffness = _curves.tendon_force_length_derivative(
        tendon_length / params.tendon_slack_length,
        strain_at_one_norm_force=params.tendon_strain_at_one_norm_force,
        constants=constants,
    )
    return stiffness * tendon_velocity / params.tendon_slack_length


def equilibrium_residual(
    params, norm_tendon_force, mtu_length, mtu_velocity, activation, *, constants, damping
):
    r"""F~T - F_M cos(alpha)/F_max with the tendon velocity set to zero (OpenSim's rule).

    With zero tendon velocity the fibre takes all the MTU velocity: v_M = v_MTU cos(alpha).
    """
    tendon_length = params.tendon_slack_length * _curves.tendon_force_length_inverse(
        norm_tendon_force,
        strain_at_one_norm_force=params.tendon_strain_at_one_norm_force,
        constants=constants,
    )
    _, fiber_length, cos_pen, _ = fiber_geometry(params, mtu_length, tendon_length)
    norm_length = fiber_length / params.optimal_fiber_length
    norm_velocity = mtu_velocity * cos_pen / params.max_fiber_velocity
    active, elastic, damping_force, *_ = fiber_forces(
        params, norm_length, norm_velocity, activation, damping, constants=constants
    )
    return (
        norm_tendon_force
        - (active + elastic + damping_force) * cos_pen / params.max_isometric_force
    )


def initial_norm_tendon_force(
    params: MuscleParameters,
    mtu_length,
    mtu_velocity,
    activation,
    *,
    constants=_curves.OPENSIM,
    minimum_fiber_damping=0.0,
):
    """Normalised tendon force at which fibre and tendon are in equilibrium.

    Reproduces ``DeGrooteFregly2016Muscle::computeInitialFiberEquilibrium`` (what
    ``Model.equilibrateMuscles`` does): bisection of :func:`equilibrium_residual` on
    F~T in [0, 5], with the tendon velocity taken as zero. A final Newton step, taken on the
    bisection result held constant, makes the gradient the implicit-function one
    (dF~T/dp = -r_p / r_F at the root).
    """
    damping = effective_damping(params, minimum_fiber_damping)

    def residual(force):
        return equilibrium_residual(
            params,
            force,
            mtu_length,
            mtu_velocity,
            activation,
            constants=constants,
            damping=damping,
        )

    lo, hi = EQUILIBRIUM_FORCE_BRACKET
    shape = jnp.broadcast_shapes(jnp.shape(mtu_length), jnp.shape(activation), params.shape)
    lo = jnp.full(shape, lo)
    hi = jnp.full(shape, hi)
    r_lo = jax.lax.stop_gradient(residual(lo))

    def bisect(_, bracket):
        lo, hi, r_lo = bracket
        mid = 0.5 * (lo + hi)
        r_mid = jax.lax.stop_gradient(residual(mid))
        same_sign = jnp.sign(r_mid) == jnp.sign(r_lo)
        return (
            jnp.where(same_sign, mid, lo),
            jnp.where(same_sign, hi, mid),
            jnp.where(same_sign, r_mid, r_lo),
        )

    lo, hi, _ = jax.lax.fori_loop(0, EQUILIBRIUM_BISECTION_ITERATIONS, bisect, (lo, hi, r_lo))
    force = jax.lax.stop_gradient(0.5 * (lo + hi))
    r, dr = jax.jvp(residual, (force,), (jnp.ones_like(force),))
    safe_dr = jnp.where(jnp.abs(dr) > 1e-12, dr, 1.0)
    return force - jnp.where(jnp.abs(dr) > 1e-12, r / safe_dr, 0.0)


def activation_rate(params: MuscleParameters, excitation, activation):
    r"""De Groote et al. 2016 first-order activation dynamics (eq. 1 and S7), OpenSim's form.

    .. math:: \frac{da}{dt} = \left[\frac{f + 1/2}{\tau_a (1/2 + 3a/2)}
              + \frac{(1/2 + 3a/2)(1/2 - f)}{\tau_d}\right](e - a),
              \quad f = \tfrac12 \tanh(b (e - a))

    tau_a, tau_d are ``activation_time_constant`` and ``deactivation_time_constant``
    (15 ms and 60 ms by default, De Groote 2016); b is ``activation_dynamics_smoothing``.
    The activation-dependent factor (1/2 + 3a/2) comes from Raasch et al. 1997
    (DOI 10.1016/S0021-9290(97)00061-4), as in De Groote 2016.
    """
    factor = 0.5 + 1.5 * activation
    f = 0.5 * jnp.tanh(params.activation_dynamics_smoothing * (excitation - activation))
    rate = (f + 0.5) / (params.activation_time_constant * factor) + factor * (0.5 - f) / (
        params.deactivation_time_constant
    )
    return rate * (excitation - activation)
