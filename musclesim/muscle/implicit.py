r"""A fixed-step, L-stable implicit integrator of the compliant tendon and activation, for batches.

The state of one muscle is the normalised tendon force F~T (compliant tendon) and, with
excitation given, the activation a. Both are integrated on the sample grid, each sample
interval split into a fixed number of equal substeps, by a singly diagonally implicit
Runge-Kutta method of Alexander (1977, SIAM J Numer Anal 14:1006, DOI 10.1137/0714068):
by default his three-stage, third-order one (``"sdirk3"``; ``"sdirk2"`` is his two-stage,
second-order one). Each stage solves

.. math:: Y_i = y_n + h \sum_{j<i} a_{ij} K_j + \gamma h f(t_n + c_i h, Y_i),
          \quad K_j = f(t_n + c_j h, Y_j),\quad y_{n+1} = Y_s,

both methods being L-stable and stiffly accurate, so the very stiff tendon dynamics of a
barely activated muscle (eigenvalues near :math:`-10^5\,s^{-1}` with the damping floor of
1e-3) are damped rather than resolved.

Each tendon stage is solved for two scalars at once: the normalised tendon force F and the
fibre-velocity variable :math:`w = \sinh^{-1}(d_2 \tilde v_M + d_3)` of
:func:`~musclesim.muscle.state.norm_fiber_velocity_from_force`, in which the force-velocity
curve is linear (:math:`f_V = d_1 w + d_4`). The two equations are the fibre-tendon force
equilibrium and the stage equation of F,

.. math:: a f_L (d_1 w + d_4) + f_{PE} + \beta \tilde v_M(w) - F/\cos\alpha = 0,\qquad
          F - F_{base} - \gamma h\, f_T'(\tilde l_T)\,(v_{MTU} - v_M(w)/\cos\alpha)/l_{ts} = 0,

so no inner velocity solve is needed. A fixed number of Newton iterations with the 2 x 2
Jacobian from forward-mode derivatives, started from the previous stage, solves them (the
activation stage is a scalar Newton solve of its own); there is no per-member control flow,
so a batch of any leading shape costs one member's work per element, under one
``jax.lax.scan`` over substeps.

Gradients: the Newton iterations run on inputs held constant (``stop_gradient``) and one last
Newton step carries the gradient, which is then the implicit-function one
(:math:`dY/dp = -R_p / R_Y` at the root), the same device
:func:`~musclesim.muscle.state.initial_norm_tendon_force` uses. Reverse mode therefore stores
and differentiates one residual per stage, not the iterations.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import curves as _curves, state as _muscle
from .parameters import MuscleParameters


def _sdirk3_tableau():
    """Alexander's three-stage, third-order, L-stable, stiffly accurate SDIRK (Alexander 1977,
    table 6; gamma the root of x^3 - 3x^2 + 3x/2 - 1/6 in (1/6, 1/2))."""
    g = 0.43586652150845899941601945
    b1 = -(6 * g**2 - 16 * g + 1) / 4
    b2 = (6 * g**2 - 20 * g + 5) / 4
    return ((g, 0.0, 0.0), ((1 - g) / 2, g, 0.0), (b1, b2, g))


#: Butcher matrices (lower triangular, equal diagonal, last row the weights: stiffly
#: accurate) of the singly diagonally implicit Runge-Kutta methods of Alexander 1977.
SDIRK_TABLEAUS = {
    "sdirk2": ((1.0 - math.sqrt(0.5), 0.0), (math.sqrt(0.5), 1.0 - math.sqrt(0.5))),
    "sdirk3": _sdirk3_tableau(),
}
#: The method of ``solve_fiber(solver="implicit")``, chosen by experiments/solver_accuracy.py.
DEFAULT_METHOD = "sdirk3"
#: Newton iterations per stage (the last one carries the gradient). Started from the previous
#: stage, 4 and 8 iterations gave the same tendon force to 1e-5 of its peak along the 0 -> 1
#: excitation step of tests/test_fiber.py (the hardest start met: activation and velocity
#: jump within one sample), so the residual left by 4 is far below the discretisation error
#: that experiments/solver_accuracy.py measures.
NEWTON_ITERATIONS = 4
#: Longest step (s) of the default substep count: each sample interval is split into as
#: many equal substeps as keep every step within it. Chosen with
#: experiments/solver_accuracy.py (see that script's table): activation rises with a time
#: constant of tau_act (1/2 + 3a/2), 7.5 ms at a = 0 (De Groote 2016), which steps must
#: resolve, and the peak fibre strain must stay within 2e-4 and the tendon force within 0.1 %
#: of its peak of a Kvaerno5 reference at rtol 1e-9 along every shipped drill and sprint.
MAX_STEP = 2e-3
#: Substeps per sample interval when the time grid is traced and the count cannot be chosen
#: from it (a compile-time constant is needed).
DEFAULT_SUBSTEPS = 2
#: Lower bound of the tendon-force iterates as a fraction of the tendon curve's asymptote
#: -c3: the force may be negative (tendon shorter than slack, as in OpenSim's curve, met by a
#: fast-shortening soleus in the 9 m/s sprint at -0.13 F_max), and the bound keeps an
#: overshooting iterate off the asymptote where the inverse tendon curve diverges.
MIN_TENDON_FORCE_FRACTION_OF_ASYMPTOTE = 0.95
#: Largest change of the velocity variable w in one Newton iteration. sinh(w) makes Newton
#: overshoot far when started on the flat side of a root; a change of 1 in w is a factor
#: e in fibre velocity, so a few iterations still cross the whole physiological range
#: (|w| < 3.5 for |v~M| < 2).
MAX_VELOCITY_VARIABLE_STEP = 1.0


def substeps_for(time, max_step: float = MAX_STEP) -> int:
    """Substeps per sample interval that keep every step of the grid ``time`` (s) within
    ``max_step``; ``DEFAULT_SUBSTEPS`` for a traced grid."""
    if isinstance(time, jax.core.Tracer):
        return DEFAULT_SUBSTEPS
    spacing = np.diff(np.asarray(time), axis=-1)
    if spacing.size == 0 or not np.all(np.isfinite(spacing)):
        return DEFAULT_SUBSTEPS  # the input check names the problem
    return max(1, int(np.ceil(float(spacing.max()) / max_step - 1e-9)))


def _tendon_residual(unknowns, inputs, *, params, constants, damping):
    """Force equilibrium and stage equation of one compliant-tendon stage (both O(1))."""
    force, w = unknowns
    base, h_gamma, mtu_length, mtu_velocity, activation = inputs
    c = constants
    kt = _curves.tendon_stiffness_parameter(params.tendon_strain_at_one_norm_force, constants=c)
    _, _, cos_pen, _, fl, fpe = _muscle.fiber_at_tendon_force(
        params, force, mtu_length, constants=c
    )
    norm_velocity = (jnp.sinh(w) - c.d3) / c.d2
    equilibrium = (
        activation * fl * (c.d1 * w + c.d4) + fpe + damping * norm_velocity - force / cos_pen
    )
    # f_T' = k_T (f_T + c3): the tendon stiffness from the force, without another exp.
    stiffness = kt * jnp.maximum(force + c.c3, _curves.MIN_TENDON_FORCE_ABOVE_ASYMPTOTE)
    tendon_velocity = mtu_velocity - norm_velocity * params.max_fiber_velocity / cos_pen
    stage = force - base - h_gamma * stiffness * tendon_velocity / params.tendon_slack_length
    return equilibrium, stage


def _newton_2x2(residual, guess, inputs, *, iterations, constants):
    """Root of ``residual((F, w), inputs)`` by ``iterations`` Newton steps from ``guess``.

    All but the last step run on ``stop_gradient(inputs)`` with safeguards (F above
    ``-MIN_TENDON_FORCE_FRACTION_OF_ASYMPTOTE c3``,
    bounded steps in w); the last is a plain Newton step on the live inputs with the Jacobian
    held constant, which gives the implicit-function gradient at the root.
    """
    frozen = jax.lax.stop_gradient(inputs)
    force, w = jax.lax.stop_gradient(guess)
    lowest = -MIN_TENDON_FORCE_FRACTION_OF_ASYMPTOTE * constants.c3
    jac = None

    def solve(jac, r):
        (j11, j12), (j21, j22) = jac
        det = j11 * j22 - j12 * j21
        return (j22 * r[0] - j12 * r[1]) / det, (j11 * r[1] - j21 * r[0]) / det

    for k in range(iterations):
        f = lambda y: residual(y, frozen)  # noqa: E731
        one, zero = jnp.ones_like(force), jnp.zeros_like(force)
        r, d_force = jax.jvp(f, ((force, w),), ((one, zero),))
        _, d_w = jax.jvp(f, ((force, w),), ((zero, one),))
        jac = ((d_force[0], d_w[0]), (d_force[1], d_w[1]))
        if k < iterations - 1:
            step_force, step_w = solve(jac, r)
            force = jnp.maximum(force - step_force, lowest)
            w = w - jnp.clip(step_w, -MAX_VELOCITY_VARIABLE_STEP, MAX_VELOCITY_VARIABLE_STEP)
    step_force, step_w = solve(jac, residual((force, w), inputs))
    return force - step_force, w - step_w


def _newton(residual, guess, inputs, *, iterations):
    """Scalar version of :func:`_newton_2x2` (no safeguards)."""
    frozen = jax.lax.stop_gradient(inputs)
    x = jax.lax.stop_gradient(guess)
    slope = None
    for k in range(iterations):
        r, slope = jax.jvp(lambda y: residual(y, frozen), (x,), (jnp.ones_like(x),))
        if k < iterations - 1:
            x = x - r / slope
    return x - residual(x, inputs) / slope


def velocity_variable(params, norm_tendon_force, mtu_length, activation, *, constants, damping):
    """w = asinh(d2 v~M + d3) of the fibre velocity in equilibrium with the tendon force."""
    c = constants
    _, _, cos_pen, _, fl, fpe = _muscle.fiber_at_tendon_force(
        params, norm_tendon_force, mtu_length, constants=c
    )
    v = _muscle.norm_fiber_velocity_from_force(
        activation * fl, damping, norm_tendon_force / cos_pen - fpe, constants=c
    )
    return jnp.arcsinh(c.d2 * v + c.d3)


def integrate(
    params: MuscleParameters,
    time,
    mtu_path,
    drive,
    initial_state: dict,
    *,
    compliant: bool,
    dynamics: bool,
    constants,
    damping,
    substeps: int = DEFAULT_SUBSTEPS,
    iterations: int = NEWTON_ITERATIONS,
    method: str = DEFAULT_METHOD,
):
    """States at the sample times of one muscle (leaves shaped ``(T,)``).

    Args:
        params: scalar muscle parameters.
        time: sample times ``(T,)`` (s).
        mtu_path: the MTU-length :class:`~musclesim.core.spline.CubicSpline` over ``time``.
        drive: excitation (``dynamics``) or activation at the samples ``(T,)``, linear
            between them.
        initial_state: ``"norm_tendon_force"`` (with ``compliant``) and/or ``"activation"``
            (with ``dynamics``) at the first sample.
        compliant: integrate the normalised tendon force.
        dynamics: integrate activation from the excitation ``drive`` (De Groote 2016).
        constants, damping: curve constants and the fibre damping actually used.
        substeps, iterations: substeps per sample interval and Newton iterations per stage.
        method: a key of ``SDIRK_TABLEAUS``.
    """
    tableau = jnp.asarray(SDIRK_TABLEAUS[method], dtype=time.dtype)
    stages = tableau.shape[0]
    gamma = float(SDIRK_TABLEAUS[method][0][0])
    interval = jnp.diff(time)  # (T-1,)
    # Stage times as fractions of the sample interval, (substeps, stages), in time order.
    nodes = tableau.sum(axis=1)
    fractions = (jnp.arange(substeps, dtype=time.dtype)[:, None] + nodes[None, :]) / substeps
    offset = fractions[None] * interval[:, None, None]  # (T-1, substeps, stages)

    def on_interval(values):
        return values[:-1, None, None]

    y, b, c2, d = (on_interval(x) for x in (mtu_path.y, mtu_path.b, mtu_path.c, mtu_path.d))
    length = y + offset * (b + offset * (c2 + offset * d))
    velocity = b + offset * (2.0 * c2 + 3.0 * offset * d)
    slope = on_interval(jnp.diff(drive, append=drive[-1:]))
    drive_at = on_interval(drive) + fractions[None] * slope
    step = jnp.broadcast_to((interval / substeps)[:, None], (interval.shape[0], substeps))
    n = interval.shape[0] * substeps
    xs = (
        step.reshape(n),
        length.reshape(n, stages),
        velocity.reshape(n, stages),
        drive_at.reshape(n, stages),
    )
    tendon_residual = functools.partial(
        _tendon_residual, params=params, constants=constants, damping=damping
    )

    def activation_residual(a, args):
        base, h_gamma, excitation = args
        return a - base - h_gamma * _muscle.activation_rate(params, excitation, a)

    def stage(y, base, h_gamma, length_i, velocity_i, drive_i):
        """Solve Y = base + h_gamma f(Y); returns Y (the guess ``y`` carries w too)."""
        out = {}
        if dynamics:
            a = _newton(
                activation_residual,
                y["activation"],
                (base["activation"], h_gamma, drive_i),
                iterations=iterations,
            )
            out["activation"] = a
        else:
            a = drive_i
        if compliant:
            force, w = _newton_2x2(
                tendon_residual,
                (y["norm_tendon_force"], y["velocity_variable"]),
                (base["norm_tendon_force"], h_gamma, length_i, velocity_i, a),
                iterations=iterations,
                constants=constants,
            )
            out["norm_tendon_force"] = force
            out["velocity_variable"] = w
        return out

    # Stage i solves Y_i = y_n + sum_{j<i} A_ij h K_j + gamma h f(Y_i), with the stage
    # derivatives K_j = (Y_j - base_j) / (gamma h) recovered from the solved stages.
    weights = [[float(a) / gamma for a in row[:i]] for i, row in enumerate(SDIRK_TABLEAUS[method])]

    def body(y, x):
        h, length_k, velocity_k, drive_k = x
        hg = gamma * h
        solved, increments, guess = [], [], y
        for i in range(stages):
            pairs = list(zip(weights[i], increments, strict=True))
            base = {
                name: y[name] + sum(w * inc[name] for w, inc in pairs)
                for name in y
                if name != "velocity_variable"
            }
            stage_y = stage(guess, base, hg, length_k[i], velocity_k[i], drive_k[i])
            increments.append({name: stage_y[name] - base[name] for name in base})
            solved.append(stage_y)
            guess = stage_y
        return solved[-1], solved[-1]

    start = dict(initial_state)
    if compliant:
        a0 = initial_state["activation"] if dynamics else drive[0]
        start["velocity_variable"] = velocity_variable(
            params,
            initial_state["norm_tendon_force"],
            mtu_path.y[0],
            a0,
            constants=constants,
            damping=damping,
        )
    _, ys = jax.lax.scan(body, start, xs)
    return {
        name: jnp.concatenate([initial_state[name][None], ys[name][substeps - 1 :: substeps]])
        for name in initial_state
    }
