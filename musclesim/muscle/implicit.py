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

so no inner velocity solve is needed. A fixed number of Newton iterations solves them, with
the residuals and their 2 x 2 Jacobian written out together (:func:`_tendon_system`: each
exponential and logarithm evaluated once per iteration and shared by values and slopes),
started from the previous stage moved on along the last step's rate of change (the
activation stage is a scalar Newton solve of its own); there is no per-member control flow,
so a batch of any leading shape costs one member's work per element, under one
``jax.lax.scan`` over substeps. With a run-time substep count per member (``substeps`` an
array), each sample interval runs a loop of that many substeps instead, so one compiled
program serves grids of any spacing, and a batch costs its largest count. The velocity
variable of the last stage is returned too, so the fibre velocity at the samples needs no
further solve.

Gradients: the Newton iterations run on inputs held constant (``stop_gradient``) and one last
Newton step carries the gradient, which is then the implicit-function one
(:math:`dY/dp = -R_p / R_Y` at the root), the same device
:func:`~musclesim.muscle.state.initial_norm_tendon_force` uses. Reverse mode therefore
differentiates one residual per stage, not the iterations. It stores only the state at each
step and recomputes the step (iterations included) when differentiating it
(``jax.checkpoint``): a step's intermediates, held for every step of a long trajectory, cost
more in memory traffic than the recomputation (see ``SCAN_REMATERIALISED``).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

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
#: Newton iterations per stage (the last one carries the gradient). Each stage starts from
#: the previous stage moved on along the last step's rate of change (the first step from
#: rest). Chosen with experiments/solver_accuracy.py: along the 5 m/s sprint the worst
#: member (gastrocnemius lateralis) had a tendon-force error of 1.01e-3 of peak with 2
#: iterations (beyond the 0.1 % bound), 6.4e-4 with 3 and 6.2e-4 with 4, so 3 leave a
#: Newton error well below the discretisation error.
NEWTON_ITERATIONS = 3
#: Longest step (s) of the default substep count: each sample interval is split into as
#: many equal substeps as keep every step within it. Chosen with
#: experiments/solver_accuracy.py (see that script's table): activation rises with a time
#: constant of tau_act (1/2 + 3a/2), 7.5 ms at a = 0 (De Groote 2016), which steps must
#: resolve, and the peak fibre strain must stay within 2e-4 and the tendon force within 0.1 %
#: of its peak of a Kvaerno5 reference at rtol 1e-9 along every shipped drill and sprint.
MAX_STEP = 2e-3
#: Whether reverse mode recomputes each step instead of storing its intermediates. Measured
#: with ``taskset -c 0 python -m experiments.benchmark_gradient --solvers implicit`` (one
#: core, so that wall and CPU time agree), float64: gradient / forward cost 4.1x stored and
#: 2.0x recomputed at batch 64; 4.3-4.8x and 2.4-2.8x at batch 256; 5.6x and 2.9x at 1024.
#: The forward solve is the same program either way.
SCAN_REMATERIALISED = True
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


def substeps_for(time, max_step: float = MAX_STEP, *, per_member: bool = False):
    """Substeps per sample interval that keep every step of the grid ``time`` (s) within
    ``max_step``: one count for the whole batch ``time`` ``batch + (T,)`` (a Python int;
    ``DEFAULT_SUBSTEPS`` for a traced grid), or with ``per_member`` one per member, an int32
    array shaped ``batch`` (``DEFAULT_SUBSTEPS`` each for a traced grid)."""
    if isinstance(time, jax.core.Tracer):
        if per_member:
            return jnp.full(time.shape[:-1], DEFAULT_SUBSTEPS, dtype=jnp.int32)
        return DEFAULT_SUBSTEPS
    spacing = np.diff(np.asarray(time), axis=-1)
    if per_member:
        widest = spacing.max(axis=-1) if spacing.shape[-1] else np.zeros(spacing.shape[:-1])
        widest = np.where(np.isfinite(widest), widest, DEFAULT_SUBSTEPS * max_step)
        return np.maximum(1, np.ceil(widest / max_step - 1e-9)).astype(np.int32)
    if spacing.size == 0 or not np.all(np.isfinite(spacing)):
        return DEFAULT_SUBSTEPS  # the input check names the problem
    return max(1, int(np.ceil(float(spacing.max()) / max_step - 1e-9)))


class _TendonConstants(NamedTuple):
    """Per-muscle numbers of the stage system, computed once outside the time loop."""

    slack: jax.Array  # l_ts (m)
    stiffness: jax.Array  # k_T
    optimal: jax.Array  # l_opt (m)
    width_squared: jax.Array  # h^2 (m^2)
    width_scale: jax.Array  # s of the active force-length curve
    passive_rate: jax.Array  # k_PE / e_0
    passive_offset: jax.Array  # exp(k_PE (l_0 - 1) / e_0)
    passive_scale: jax.Array  # 1 / (exp(k_PE) - offset)
    max_velocity: jax.Array  # v_max l_opt (m/s)
    damping: jax.Array  # beta


def _tendon_constants(params, constants, damping) -> _TendonConstants:
    c = constants
    e0 = params.passive_fiber_strain_at_one_norm_force
    offset = jnp.exp(c.kpe * (c.passive_zero_length - 1.0) / e0)
    return _TendonConstants(
        slack=params.tendon_slack_length,
        stiffness=_curves.tendon_stiffness_parameter(
            params.tendon_strain_at_one_norm_force, constants=c
        ),
        optimal=params.optimal_fiber_length,
        width_squared=params.fiber_width**2,
        width_scale=params.active_force_width_scale,
        passive_rate=c.kpe / e0,
        passive_offset=offset,
        passive_scale=1.0 / (math.exp(c.kpe) - offset),
        max_velocity=params.max_fiber_velocity,
        damping=damping,
    )


def _tendon_system(unknowns, inputs, c):
    """Residuals of one compliant-tendon stage and their 2 x 2 Jacobian, analytically.

    The residuals are the fibre-tendon force equilibrium and the stage equation of F (both
    O(1)); the curves are those of :mod:`musclesim.muscle.curves` (the same formulas, written
    out so that each exponential is evaluated once and shared by value and derivatives).
    Returns ``((equilibrium, stage), ((d_eq/dF, d_eq/dw), (d_stage/dF, d_stage/dw)))``.

    The divisions by per-muscle constants are left as divisions on purpose. XLA's CPU
    compiler fuses the cheap arithmetic between expensive operations (exponentials,
    logarithms, divisions) into every fusion that consumes it, recomputing it there; the
    divisions bound those regions. Rewritten with precomputed reciprocals (and one reciprocal
    of the Newton determinant), the scan body held 177 fusions instead of 200 but 9,092
    operations instead of 5,725, and the batch-1024 solve took 430 ms instead of 284 ms
    (same run, 2-core CPU).
    """
    force, w = unknowns
    base, h_gamma, mtu_length, mtu_velocity, activation, k = inputs
    # Tendon length from the force (inverse tendon curve), floored above the asymptote.
    shifted_raw = force + c.c3
    floored = shifted_raw < _curves.MIN_TENDON_FORCE_ABOVE_ASYMPTOTE
    shifted = jnp.where(floored, _curves.MIN_TENDON_FORCE_ABOVE_ASYMPTOTE, shifted_raw)
    tendon_length = k.slack * (jnp.log(shifted / c.c1) / k.stiffness + c.c2)
    d_tendon = jnp.where(floored, 0.0, k.slack / (k.stiffness * shifted))
    # Constant-width pennation (state.fiber_geometry), with its floor on the fibre length.
    along_raw = mtu_length - tendon_length
    along_floor = _muscle.MIN_FIBER_LENGTH_ALONG_TENDON * k.optimal
    clamped = along_raw < along_floor
    along = jnp.where(clamped, along_floor, along_raw)
    d_along = jnp.where(clamped, 0.0, -d_tendon)
    fiber_length = jnp.sqrt(along * along + k.width_squared)
    inv_fiber = 1.0 / fiber_length
    cos_pen = along * inv_fiber
    d_cos = k.width_squared * inv_fiber * inv_fiber * inv_fiber * d_along
    inv_cos = fiber_length / along
    norm_length = fiber_length / k.optimal
    d_norm_length = cos_pen * d_along / k.optimal
    # Active force-length curve (curves.active_force_length) and its slope.
    x = (norm_length - 1.0) / k.width_scale + 1.0
    fl = 0.0
    dfl_dx = 0.0
    for b1, b2, b3, b4 in c.b:
        width = b3 + b4 * x
        floor = width * width < _curves.MIN_GAUSSIAN_WIDTH_SQUARED
        width_squared = jnp.where(floor, _curves.MIN_GAUSSIAN_WIDTH_SQUARED, width * width)
        centred = x - b2
        term = b1 * jnp.exp(-0.5 * centred * centred / width_squared)
        exponent_slope = -centred / width_squared + jnp.where(
            floor, 0.0, centred * centred * b4 / (width_squared * width)
        )
        fl = fl + term
        dfl_dx = dfl_dx + term * exponent_slope
    d_fl = dfl_dx * d_norm_length / k.width_scale
    # Passive force-length curve (curves.passive_force_length) and its slope.
    passive_exp = jnp.exp(k.passive_rate * (norm_length - 1.0))
    fpe = (passive_exp - k.passive_offset) * k.passive_scale
    d_fpe = k.passive_rate * passive_exp * k.passive_scale * d_norm_length
    # Fibre velocity from w: v = (sinh w - d3)/d2, f_V = d1 w + d4 (one exponential).
    ew = jnp.exp(w)
    inv_ew = 1.0 / ew
    sinh_w = 0.5 * (ew - inv_ew)
    dv_dw = 0.5 * (ew + inv_ew) / c.d2
    norm_velocity = (sinh_w - c.d3) / c.d2
    fv = c.d1 * w + c.d4
    equilibrium = activation * fl * fv + fpe + k.damping * norm_velocity - force * inv_cos
    d_eq_force = activation * fv * d_fl + d_fpe - inv_cos + force * inv_cos * inv_cos * d_cos
    d_eq_w = activation * fl * c.d1 + k.damping * dv_dw
    # Stage equation: F - base - h gamma f_T' (v_MTU - v_M / cos) / l_ts with
    # f_T' = k_T (F + c3), the tendon stiffness from the force.
    rate_factor = h_gamma * k.stiffness / k.slack
    fiber_speed = norm_velocity * k.max_velocity
    tendon_velocity = mtu_velocity - fiber_speed * inv_cos
    stage = force - base - rate_factor * shifted * tendon_velocity
    d_stage_force = 1.0 - rate_factor * (
        jnp.where(floored, 0.0, tendon_velocity) + shifted * fiber_speed * inv_cos * inv_cos * d_cos
    )
    d_stage_w = rate_factor * shifted * k.max_velocity * inv_cos * dv_dw
    return (equilibrium, stage), ((d_eq_force, d_eq_w), (d_stage_force, d_stage_w))


def _newton_2x2(system, guess, inputs, *, iterations, constants):
    """Root of ``system((F, w), inputs)`` (residuals and Jacobian) by ``iterations`` Newton
    steps from ``guess``.

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
        r, jac = system((force, w), frozen)
        if k < iterations - 1:
            step_force, step_w = solve(jac, r)
            force = jnp.maximum(force - step_force, lowest)
            w = w - jnp.clip(step_w, -MAX_VELOCITY_VARIABLE_STEP, MAX_VELOCITY_VARIABLE_STEP)
    jac = jax.lax.stop_gradient(jac)
    step_force, step_w = solve(jac, system((force, w), inputs)[0])
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


def norm_velocity_of(w, constants):
    """Normalised fibre velocity (sinh w - d3)/d2 of the velocity variable w."""
    return (jnp.sinh(w) - constants.d3) / constants.d2


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
    substeps: int | jax.Array = DEFAULT_SUBSTEPS,
    iterations: int = NEWTON_ITERATIONS,
    method: str = DEFAULT_METHOD,
):
    """States at the sample times of one muscle (leaves shaped ``(T,)``); with ``compliant``
    also ``"velocity_variable"``, w of the fibre velocity in equilibrium with the force
    (:func:`velocity_variable`).

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
        substeps: substeps per sample interval: a Python int (a compile-time constant: one
            scan over every substep), or an integer array (a run-time count: a loop of that
            many substeps inside each sample interval, so one compiled program serves every
            count; it is forward-mode differentiable only, as every loop whose length is
            data).
        iterations: Newton iterations per stage.
        method: a key of ``SDIRK_TABLEAUS``.
    """
    tableau = jnp.asarray(SDIRK_TABLEAUS[method], dtype=time.dtype)
    stages = tableau.shape[0]
    gamma = float(SDIRK_TABLEAUS[method][0][0])
    interval = jnp.diff(time)  # (T-1,)
    nodes = tableau.sum(axis=1)  # stage times as fractions of a step
    slope = jnp.diff(drive, append=drive[-1:])
    coefficients = (mtu_path.y, mtu_path.b, mtu_path.c, mtu_path.d, drive, slope)

    def stage_inputs(fractions, width, coefficient):
        """MTU length, velocity and drive at ``fractions`` of sample intervals of ``width``
        (s), from the spline's and the linear drive's coefficients on those intervals."""
        y, b, c2, d, drive_start, drive_slope = coefficient
        offset = fractions * width
        length = y + offset * (b + offset * (c2 + offset * d))
        velocity = b + offset * (2.0 * c2 + 3.0 * offset * d)
        return length, velocity, drive_start + fractions * drive_slope

    # Per-muscle numbers of the stage system, travelling with the stage inputs so that the
    # Newton iterations see them held constant and the last step sees them live.
    tendon_constants = _tendon_constants(params, constants, damping)
    tendon_system = functools.partial(_tendon_system, c=constants)

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
                tendon_system,
                (y["norm_tendon_force"], y["velocity_variable"]),
                (base["norm_tendon_force"], h_gamma, length_i, velocity_i, a, tendon_constants),
                iterations=iterations,
                constants=constants,
            )
            out["norm_tendon_force"] = force
            out["velocity_variable"] = w
        return out

    # Stage i solves Y_i = y_n + sum_{j<i} A_ij h K_j + gamma h f(Y_i), with the stage
    # derivatives K_j = (Y_j - base_j) / (gamma h) recovered from the solved stages.
    weights = [[float(a) / gamma for a in row[:i]] for i, row in enumerate(SDIRK_TABLEAUS[method])]

    stage_nodes = [float(sum(row)) for row in SDIRK_TABLEAUS[method]]

    def body(carry, x):
        y, rate = carry
        h, length_k, velocity_k, drive_k = x
        hg = gamma * h
        increments, stage_y, previous = [], y, 0.0
        for i in range(stages):
            pairs = list(zip(weights[i], increments, strict=True))
            base = {
                name: y[name] + sum(w * inc[name] for w, inc in pairs)
                for name in y
                if name != "velocity_variable"
            }
            # Newton starts from the previous stage moved on along the last step's rate.
            advance = (stage_nodes[i] - previous) * h
            guess = {name: stage_y[name] + advance * rate[name] for name in y}
            stage_y = stage(guess, base, hg, length_k[i], velocity_k[i], drive_k[i])
            increments.append({name: stage_y[name] - base[name] for name in base})
            previous = stage_nodes[i]
        # The rate only steers the next starting guesses, which carry no gradient.
        rate = jax.lax.stop_gradient({name: (stage_y[name] - y[name]) / h for name in y})
        return (stage_y, rate), stage_y

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
    zero_rate = {name: jnp.zeros_like(value) for name, value in start.items()}
    if isinstance(substeps, int | np.integer):
        # Every substep's inputs up front, (T-1, substeps, stages), and one scan over them.
        fractions = (jnp.arange(substeps, dtype=time.dtype)[:, None] + nodes[None, :]) / substeps
        length, velocity, drive_at = stage_inputs(
            fractions[None],
            interval[:, None, None],
            tuple(x[:-1, None, None] for x in coefficients),
        )
        step = jnp.broadcast_to((interval / substeps)[:, None], (interval.shape[0], substeps))
        n = interval.shape[0] * substeps
        xs = (
            step.reshape(n),
            length.reshape(n, stages),
            velocity.reshape(n, stages),
            drive_at.reshape(n, stages),
        )
        step_body = jax.checkpoint(body, prevent_cse=False) if SCAN_REMATERIALISED else body
        _, ys = jax.lax.scan(step_body, (start, zero_rate), xs)
        # The last stage of a stiffly accurate method is the state at the step's end, so the
        # velocity variable solved with it is the fibre velocity at the sample.
        at_samples = {name: ys[name][substeps - 1 :: substeps] for name in start}
    else:
        count = jnp.asarray(substeps)
        width_of_step = 1.0 / count.astype(time.dtype)

        def on_interval(carry, x):
            width, coefficient = x

            def substep(i, carry):
                fractions = (i.astype(time.dtype) + nodes) * width_of_step
                inputs = stage_inputs(fractions, width, coefficient)
                return body(carry, (width * width_of_step, *inputs))[0]

            carry = jax.lax.fori_loop(0, count, substep, carry)
            return carry, carry[0]

        _, at_samples = jax.lax.scan(
            on_interval, (start, zero_rate), (interval, tuple(x[:-1] for x in coefficients))
        )
    return {name: jnp.concatenate([start[name][None], at_samples[name]]) for name in start}
