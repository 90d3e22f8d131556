r"""Static optimisation: joint moments shared among all the muscles of a leg, batched in JAX.

Problem, per frame (Crowninshield & Brand 1981, doi:10.1016/0021-9290(81)90035-X; OpenSim's
Static Optimization, Anderson & Pandy 2001, doi:10.1115/1.1392310)::

    minimise    sum_m a_m^p  +  sum_j s_j^2
    subject to  sum_m R_mj(q) F_m(a_m)  +  F_r,j s_j  =  tau_j      for every coordinate j
                0 <= a_m <= 1

with the rigid-tendon muscle force (tendon direction)

.. math:: F_m(a) = a\,A_m + P_m,\quad A_m = F_{max} f_L(\tilde l_M) f_V(\tilde v_M)\cos\alpha,
          \quad P_m = (F_{max} f_{PE}(\tilde l_M) + F_{max}\beta\tilde v_M)\cos\alpha

from :func:`~musclesim.muscle.state.rigid_tendon_state` (fibre length and velocity from the
MTU length and velocity of the geometry surrogate; MTU velocity by the chain rule,
dL/dt = -R q-dot).
``s_j`` is the activation of a reserve (coordinate) actuator of optimal force ``F_r,j`` (N m);
its moment is ``F_r,j s_j``. ``R`` is the moment arm -dL/dq (N m per N).

Solver: a semismooth Newton method on the Lagrange dual. For a multiplier vector lambda the
primal minimiser is explicit,

.. math:: a_m(\lambda) = \mathrm{clip}\big((g_m/p)^{1/(p-1)}, 0, 1\big),\ g_m = A_m
          (R^T\lambda)_m,\qquad s(\lambda) = F_r\lambda/2,

and the dual d(lambda) is concave, strongly so thanks to the reserves (Hessian <= -F_r^2/2),
with gradient equal to the moment residual tau - sum R F - F_r s. Newton steps on d with an
exact line search (on the directional derivative) converge globally, and for p = 2 (a
box-constrained QP) finitely once the active set settles. The KKT conditions: stationarity
and complementarity hold exactly by construction of a(lambda); what is reported per frame
(``kkt_residual``, N m) is the remaining primal infeasibility max_j |residual_j|. Frames above
tolerance are flagged (``converged``) and :func:`static_optimization` raises on them unless
told not to.

Gradients: the loop runs on inputs with their gradients stopped; one more Newton step on the
live inputs then gives, at the converged point, exactly the implicit-function-theorem
derivative d lambda/d theta = H^{-1} d(grad d)/d theta (active set held fixed), so
``jax.grad``/``jax.jacfwd`` work through the solution at the cost of one step.

Comparison with OpenSim's ``StaticOptimization`` analysis (opensim-core
``OpenSim/Analyses/StaticOptimization.cpp`` and ``StaticOptimizationTarget.cpp``):

- the objective is the same sum of |a|^p over all actuators, reserves included, with reserve
  force = control x optimal force (``CoordinateActuator``); for p != 2 musclesim keeps the
  reserve term quadratic so the dual stays smooth and strongly concave (a stated departure);
- OpenSim replaces each muscle's force by ``a * calcInextensibleTendonActiveFiberForce(s, 1)``
  (``overrideActuation``), so **passive fibre force is left out**, and for
  ``DeGrooteFregly2016Muscle`` that function returns the force along the *fibre* (no
  cos alpha) computed with the tendon taken rigid whatever ``ignore_tendon_compliance`` says.
  musclesim includes passive force and projects on the tendon by default; the options
  ``include_passive=False, active_along_tendon=False`` reproduce OpenSim exactly;
- OpenSim constrains accelerations of every unconstrained coordinate of the whole model (its
  residuals and reserves absorb pelvis, trunk and arm moments); musclesim constrains the
  moments of the coordinates given (a leg). The two are the same problem for a leg whose
  pelvis residuals are free, since the leg's muscles act on nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline

from ..core.errors import InputError
from ..core.groups import LEG_COORDINATES
from ..core.version import __version__
from ..geometry.io import load_model
from ..geometry.model import GeometryModel
from ..motion.storage import read_storage
from ..muscle import curves as _curves
from ..muscle.state import activation_rate, rigid_tendon_state

#: Default activation exponent p: OpenSim's ``activation_exponent`` default (2), the sum of
#: squared activations of Crowninshield & Brand 1981 (doi:10.1016/0021-9290(81)90035-X).
DEFAULT_EXPONENT = 2.0
#: Default reserve optimal force (N m): the value OpenSim's Static Optimization gives the
#: coordinate actuators it creates itself (``CreateForceSetOfCoordinateActuatorsForModel(s,
#: model, 1, false)`` in StaticOptimization.cpp): a 1 N m reserve costs as much as one fully
#: active muscle.
DEFAULT_RESERVE_OPTIMAL_FORCE = 1.0
#: Convergence tolerance on the moment residual, relative to 1 + max |tau_j| of the frame.
DEFAULT_TOLERANCE = 1e-9
#: Newton iterations at most (p = 2 usually needs 5-15).
DEFAULT_MAX_ITERATIONS = 100
#: Bisections of the exact line search on [0, 1] (2^-30 ~ 1e-9 of a Newton step).
LINE_SEARCH_BISECTIONS = 30
#: Smallest g = A (R^T lambda) used in the derivative of (g/p)^(1/(p-1)) when p > 2, where
#: that derivative is infinite at g = 0 (a named floor, so the Hessian stays finite).
MIN_DRIVE = 1e-300


class LoadSharingSolution(eqx.Module):
    """Solution of the per-frame problem; leaves carry the batch dimensions ``...``.

    Attributes:
        activation: a ``[..., muscle]`` in [0, 1].
        reserve_activation: s ``[..., coordinate]`` (reserve moment = F_r s).
        reserve_moment: F_r s ``[..., coordinate]`` (N m).
        muscle_force: tendon force a A + P ``[..., muscle]`` (N).
        multiplier: lambda ``[..., coordinate]`` (1/(N m)), the dual solution.
        kkt_residual: max_j |tau_j - sum R F - F_r s| ``[...]`` (N m).
        iterations: Newton iterations taken ``[...]``.
        converged: ``[...]`` kkt_residual <= tolerance (1 + max |tau|).
    """

    activation: jax.Array
    reserve_activation: jax.Array
    reserve_moment: jax.Array
    muscle_force: jax.Array
    multiplier: jax.Array
    kkt_residual: jax.Array
    iterations: jax.Array
    converged: jax.Array


def check_exponent(exponent) -> float:
    """The activation exponent as a float; InputError unless finite and > 1."""
    try:
        p = float(exponent)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"exponent {exponent!r}", field="exponent", expected="a number > 1"
        ) from exc
    if not math.isfinite(p) or p <= 1.0:
        raise InputError(
            f"exponent {p!r}",
            field="exponent",
            expected="a finite number > 1 (p = 1 is a linear program with no unique "
            "solution; OpenSim's default is 2)",
        )
    return p


def _activation_of_drive(g, p, lower):
    """a(g) = clip((g/p)^(1/(p-1)), lower, 1) and da/dg (zero on the bounds)."""
    if p == 2.0:
        raw = 0.5 * g
        slope = jnp.full_like(g, 0.5)
    else:
        gp = jnp.maximum(g, MIN_DRIVE)
        raw = jnp.where(g > 0, (gp / p) ** (1.0 / (p - 1.0)), 0.0)
        slope = jnp.where(g > 0, raw / ((p - 1.0) * gp), 0.0)
    a = jnp.clip(raw, lower, 1.0)
    interior = (raw > lower) & (raw < 1.0)
    return a, jnp.where(interior, slope, 0.0)


def _frame_functions(active, passive, arm, moments, reserve, lower, p):
    """Dual pieces of one frame: (c, B, primal(lambda), residual(lambda), dual(lambda), H)."""
    b = arm.T * active  # [J, M]: moment of unit activation
    c = moments - arm.T @ passive  # [J]

    def primal(lam):
        g = active * (arm @ lam)
        a, slope = _activation_of_drive(g, p, lower)
        return a, 0.5 * reserve * lam, g, slope

    def residual(lam):
        a, s, _, _ = primal(lam)
        return c - b @ a - reserve * s

    def dual(lam):
        a, s, g, _ = primal(lam)
        return jnp.sum(a**p - g * a) + jnp.sum(s**2 - reserve * lam * s) + jnp.dot(lam, c)

    def hessian(lam):  # minus the dual Hessian: positive definite
        _, _, _, slope = primal(lam)
        return (b * slope) @ b.T + jnp.diag(0.5 * reserve**2)

    return c, b, primal, residual, dual, hessian


def _newton_step(lam, residual, hessian):
    return lam + jnp.linalg.solve(hessian(lam), residual(lam))


def _solve_frame(active, passive, arm, moments, reserve, lower, *, p, tolerance, max_iterations):
    """One frame: the converged multiplier (gradients stopped), then one live Newton step."""
    frozen = jax.lax.stop_gradient((active, passive, arm, moments, reserve, lower))
    c, b, _, residual, dual, hessian = _frame_functions(*frozen, p)
    scale = tolerance * (1.0 + jnp.max(jnp.abs(moments)))
    scale = jax.lax.stop_gradient(scale)
    # Start: the unconstrained p = 2 solution, (B B^T/2 + F_r^2/2) lambda = c.
    lam0 = jnp.linalg.solve(0.5 * b @ b.T + jnp.diag(0.5 * frozen[4] ** 2), c)

    def not_done(state):
        lam, it, res = state
        return (res > scale) & (it < max_iterations)

    def iterate(state):
        lam, it, _ = state
        step = jnp.linalg.solve(hessian(lam), residual(lam))

        # Line search on the concave dual along the Newton direction, through its
        # directional derivative phi'(t) = residual(lam + t step) . step (decreasing in t):
        # the full step when phi'(1) >= 0, else bisection for phi'(t) = 0 on [0, 1]. Using
        # the derivative rather than dual values keeps it exact near the solution, where
        # the increase of the dual is lost in rounding.
        def phi_slope(t):
            return jnp.dot(residual(lam + t * step), step)

        def bisect(_, bracket):
            lo, hi = bracket
            mid = 0.5 * (lo + hi)
            up = phi_slope(mid) > 0
            return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

        full = phi_slope(1.0) >= 0

        def search(_):
            lo, hi = jax.lax.fori_loop(0, LINE_SEARCH_BISECTIONS, bisect, (0.0, 1.0))
            return 0.5 * (lo + hi)

        t = jax.lax.cond(full, lambda _: 1.0, search, None)
        lam = lam + t * step
        return lam, it + 1, jnp.max(jnp.abs(residual(lam)))

    res0 = jnp.max(jnp.abs(residual(lam0)))
    lam, iterations, _ = jax.lax.while_loop(not_done, iterate, (lam0, 0, res0))
    lam = jax.lax.stop_gradient(lam)
    # Implicit-function derivative: one Newton step on the live inputs.
    _, _, primal, residual_live, _, hessian_live = _frame_functions(
        active, passive, arm, moments, reserve, lower, p
    )
    lam = _newton_step(lam, residual_live, hessian_live)
    a, s, _, _ = primal(lam)
    res = jnp.max(jnp.abs(jax.lax.stop_gradient(residual_live(lam))))
    return LoadSharingSolution(
        activation=a,
        reserve_activation=s,
        reserve_moment=reserve * s,
        muscle_force=a * active + passive,
        multiplier=lam,
        kkt_residual=res,
        iterations=iterations,
        converged=res <= scale,
    )


@partial(jax.jit, static_argnames=("p", "tolerance", "max_iterations"))
def _solve_batched(active, passive, arm, moments, reserve, lower, *, p, tolerance, max_iterations):
    batch = moments.shape[:-1]
    n_m, n_j = arm.shape[-2:]
    flat = (
        active.reshape(-1, n_m),
        passive.reshape(-1, n_m),
        arm.reshape(-1, n_m, n_j),
        moments.reshape(-1, n_j),
        reserve.reshape(-1, n_j),
        lower.reshape(-1, n_m),
    )
    solve = partial(_solve_frame, p=p, tolerance=tolerance, max_iterations=max_iterations)
    out = jax.vmap(solve)(*flat)
    return jax.tree.map(lambda x: x.reshape(batch + x.shape[1:]), out)


def solve_load_sharing(
    active_force,
    passive_force,
    moment_arm,
    moments,
    reserve_optimal_force=DEFAULT_RESERVE_OPTIMAL_FORCE,
    *,
    exponent: float = DEFAULT_EXPONENT,
    min_activation=0.0,
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> LoadSharingSolution:
    """Solve the static-optimisation problem for a batch of frames (see the module docstring).

    Args:
        active_force: A ``[..., muscle]`` (N): tendon force of a fully active muscle minus its
            passive force, F_max f_L f_V cos(alpha).
        passive_force: P ``[..., muscle]`` (N): passive tendon force (0 to leave it out).
        moment_arm: R ``[..., muscle, coordinate]`` (m).
        moments: tau ``[..., coordinate]`` (N m) the muscles and reserves must produce.
        reserve_optimal_force: F_r ``[coordinate]`` or scalar (N m), > 0.
        exponent: p > 1 of the activation cost (static, one compile per value).
        min_activation: lower bound of a, scalar or ``[muscle]`` in [0, 1) (OpenSim uses each
            muscle's ``min_control``; 0 by default).
        tolerance: frames converge when max |residual| <= tolerance (1 + max |tau|).
        max_iterations: Newton iterations at most.

    Leading dimensions broadcast (frames, trials, ...); the frames are solved together with
    ``jax.vmap`` inside one ``jax.jit``. Works under ``jax.jit``/``jax.grad`` itself.

    Example::

        sol = solve_load_sharing(A, P, R, tau, 1.0)    # A, P [T, M], R [T, M, J], tau [T, J]
        sol.activation                                 # [T, M]
    """
    p = check_exponent(exponent)
    moments = jnp.asarray(moments)
    moment_arm = jnp.asarray(moment_arm)
    if moment_arm.ndim < 2:
        raise InputError(
            f"moment_arm has shape {moment_arm.shape}",
            field="moment_arm",
            expected="[..., muscle, coordinate]",
        )
    n_m, n_j = moment_arm.shape[-2:]
    if moments.ndim < 1 or moments.shape[-1] != n_j:
        raise InputError(
            f"moments have shape {moments.shape}",
            field="moments",
            expected=f"[..., {n_j}] (one per coordinate of the moment arms)",
        )
    batch = jnp.broadcast_shapes(
        moments.shape[:-1],
        moment_arm.shape[:-2],
        jnp.shape(active_force)[:-1],
        jnp.shape(passive_force)[:-1],
    )
    dtype = jnp.result_type(moments, moment_arm, active_force, passive_force)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)

    def cast(x, shape):
        return jnp.broadcast_to(jnp.asarray(x).astype(dtype), shape)

    reserve = cast(reserve_optimal_force, batch + (n_j,))
    lower = cast(min_activation, batch + (n_m,))
    if not isinstance(lower, jax.core.Tracer):
        low = np.asarray(lower)
        if not np.all((low >= 0) & (low < 1)):
            raise InputError(
                "a lower activation bound outside [0, 1)",
                field="min_activation",
                expected="values in [0, 1)",
            )
    for name, value in (("moments", moments), ("reserve_optimal_force", reserve)):
        if not isinstance(value, jax.core.Tracer):
            arr = np.asarray(value)
            if not np.all(np.isfinite(arr)):
                raise InputError(
                    f"{int(np.sum(~np.isfinite(arr)))} non-finite value(s)",
                    field=name,
                    expected="finite numbers (N m)",
                )
    if not isinstance(reserve, jax.core.Tracer) and np.any(np.asarray(reserve) <= 0):
        raise InputError(
            "a reserve optimal force <= 0",
            field="reserve_optimal_force",
            expected="positive values (N m); the reserves keep every frame feasible",
        )
    return _solve_batched(
        cast(active_force, batch + (n_m,)),
        cast(passive_force, batch + (n_m,)),
        cast(moment_arm, batch + (n_m, n_j)),
        cast(moments, batch + (n_j,)),
        reserve,
        lower,
        p=p,
        tolerance=float(tolerance),
        max_iterations=int(max_iterations),
    )


# --------------------------------------------------------------------------------------------
# From a geometry model and a motion.


def leg_coordinates(model, side: str) -> tuple[str, ...]:
    """The coordinates of one leg (hip 3, knee, ankle, subtalar and mtp where the model has
    them), in the model's order; locked coordinates are left out (OpenSim constrains only free
    ones)."""
    if side not in ("r", "l"):
        raise InputError(f"side {side!r}", field="side", expected="'r' or 'l'")
    locked = {c for c, _ in model.locked_coordinates}
    names = tuple(
        c
        for c in model.coordinates
        if c.endswith(f"_{side}") and c[:-2] in LEG_COORDINATES and c not in locked
    )
    if not names:
        raise InputError(
            f"model {model.name!r} has no coordinates of side {side!r}",
            field="side",
            expected=f"coordinates named like hip_flexion_{side} among {list(model.coordinates)}",
        )
    return names


def crossing_muscles(model, coordinates: Sequence[str]) -> tuple[str, ...]:
    """Muscles of ``model`` that cross any of ``coordinates`` (their surrogate reads it)."""
    _check_coordinates(model, coordinates)
    lower = np.asarray(model.domain_lower)
    cols = [model.coordinates.index(c) for c in coordinates]
    crosses = np.isfinite(lower[:, cols]).any(axis=1)
    return tuple(m for m, x in zip(model.muscles, crosses, strict=True) if x)


def _check_coordinates(model, coordinates):
    bad = [c for c in coordinates if c not in model.coordinates]
    if bad:
        raise InputError(
            f"unknown coordinate(s) {bad}",
            field=f"coordinates of model {model.name!r}",
            expected=f"names among {list(model.coordinates)}",
        )


def rigid_tendon_forces(
    params,
    mtu_length,
    mtu_velocity,
    *,
    include_passive: bool = True,
    active_along_tendon: bool = True,
    constants=_curves.OPENSIM,
):
    """(A, P) ``[..., muscle]`` (N): the active tendon force at full activation and the
    passive tendon force, rigid tendon (:func:`musclesim.muscle.state.rigid_tendon_state`).

    ``active_along_tendon=False`` gives F_max f_L f_V without cos(alpha) (what OpenSim's
    ``DeGrooteFregly2016Muscle::calcInextensibleTendonActiveFiberForce`` returns);
    ``include_passive=False`` gives P = 0 (OpenSim's Static Optimization leaves it out).
    """
    state = rigid_tendon_state(params, mtu_length, mtu_velocity, 1.0, constants=constants)
    cos = jnp.cos(state.pennation_angle)
    # f_V < 0 (shortening faster than v_max) would make activation push the wrong way; such a
    # muscle can produce no active force, so A is floored at 0 (OpenSim has no such guard).
    active = jnp.maximum(state.active_fiber_force, 0.0) * (cos if active_along_tendon else 1.0)
    passive = state.passive_fiber_force * cos if include_passive else jnp.zeros_like(active)
    return active, passive


class StaticOptimizationSolution(eqx.Module):
    """Static optimisation along a motion: names plus a :class:`LoadSharingSolution` and the
    inputs that produced it (leaves ``[..., time, ...]``)."""

    muscles: tuple[str, ...] = eqx.field(static=True)
    coordinates: tuple[str, ...] = eqx.field(static=True)
    exponent: float = eqx.field(static=True)
    solution: LoadSharingSolution
    moments: jax.Array  # [..., coordinate] N m
    active_force: jax.Array  # [..., muscle] N
    passive_force: jax.Array  # [..., muscle] N
    moment_arm: jax.Array  # [..., muscle, coordinate] m
    mtu_length: jax.Array  # [..., muscle] m
    mtu_velocity: jax.Array  # [..., muscle] m/s

    @property
    def activation(self) -> jax.Array:
        return self.solution.activation

    @property
    def muscle_force(self) -> jax.Array:
        return self.solution.muscle_force

    def to_dataset(self, time, *, attrs: Mapping[str, str] | None = None):
        """An ``xarray.Dataset`` (dims ``time``, ``muscle``, ``coordinate``) for one trial."""
        s = self.solution

        def v(dims, x, units, long_name):
            return (dims, np.asarray(x), {"units": units, "long_name": long_name})

        tm, tc = ("time", "muscle"), ("time", "coordinate")
        ds = xr.Dataset(
            {
                "activation": v(tm, s.activation, "1", "static-optimisation activation"),
                "muscle_force": v(tm, s.muscle_force, "N", "tendon force, rigid tendon"),
                "active_force_max": v(
                    tm, self.active_force, "N", "active tendon force at full activation"
                ),
                "passive_force": v(tm, self.passive_force, "N", "passive tendon force"),
                "mtu_length": v(tm, self.mtu_length, "m", "musculotendon length"),
                "mtu_velocity": v(tm, self.mtu_velocity, "m/s", "musculotendon velocity"),
                "moment": v(tc, self.moments, "N m", "joint moment to be matched"),
                "reserve_moment": v(tc, s.reserve_moment, "N m", "reserve actuator moment"),
                "kkt_residual": v(
                    ("time",), s.kkt_residual, "N m", "max moment residual at the solution"
                ),
                "converged": v(("time",), s.converged, "1", "frame met the tolerance"),
                "iterations": v(("time",), s.iterations, "1", "Newton iterations"),
            },
            coords={
                "time": ("time", np.asarray(time, dtype=float), {"units": "s"}),
                "muscle": list(self.muscles),
                "coordinate": list(self.coordinates),
            },
            attrs={
                "musclesim_version": __version__,
                "activation_exponent": self.exponent,
                "method": "static optimisation, semismooth Newton on the dual (musclesim)",
                **(dict(attrs) if attrs else {}),
            },
        )
        return ds


def _as_batch(values, names: Sequence[str], field: str):
    """Stack a mapping name -> array (or an array [..., len(names)]) into [..., name]."""
    if isinstance(values, Mapping):
        missing = [n for n in names if n not in values]
        if missing:
            raise InputError(
                f"missing {missing}",
                field=field,
                expected=f"a value for each of {list(names)}",
            )
        arrays = [jnp.asarray(values[n]) for n in names]
        shape = jnp.broadcast_shapes(*(a.shape for a in arrays))
        return jnp.stack([jnp.broadcast_to(a, shape) for a in arrays], axis=-1)
    arr = jnp.asarray(values)
    if arr.ndim < 1 or arr.shape[-1] != len(names):
        raise InputError(
            f"shape {arr.shape}",
            field=field,
            expected=f"a mapping by name or an array [..., {len(names)}] ordered as {list(names)}",
        )
    return arr


def static_optimization(
    model,
    q: Mapping[str, jax.Array],
    qdot: Mapping[str, jax.Array],
    moments,
    *,
    coordinates: Sequence[str] | None = None,
    side: str | None = None,
    muscles: Sequence[str] | None = None,
    exponent: float = DEFAULT_EXPONENT,
    reserve_optimal_force=DEFAULT_RESERVE_OPTIMAL_FORCE,
    min_activation=0.0,
    include_passive: bool = True,
    active_along_tendon: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    strict_domain: bool = False,
    on_failure: str = "raise",
    moment_arm_convention: str = "length",
) -> StaticOptimizationSolution:
    """Static optimisation of a leg along a motion (frames and trials batched).

    Args:
        model: a :class:`~musclesim.GeometryModel` or a shipped name (``"sprinter_ja1"``).
        q, qdot: coordinate name -> angles (rad) and speeds (rad/s), arrays of one shape
            ``...`` (e.g. ``[trial, time]``), for every coordinate the selected muscles cross.
        moments: coordinate name -> joint moment (N m) of shape ``...``, or an array
            ``[..., coordinate]`` in the order of ``coordinates``: the net moment the muscles
            and reserves must produce (from inverse dynamics).
        coordinates: the coordinates whose moments are matched; default the leg of ``side``
            (:func:`leg_coordinates`).
        side: ``"r"`` or ``"l"``, used when ``coordinates`` is not given.
        muscles: default every muscle crossing any of ``coordinates``.
        exponent, reserve_optimal_force, min_activation, tolerance, max_iterations: see
            :func:`solve_load_sharing`.
        include_passive, active_along_tendon: see :func:`rigid_tendon_forces` (both False
            reproduce OpenSim's Static Optimization with DeGrooteFregly2016 muscles).
        strict_domain: raise when a pose leaves the geometry fit's domain (else warn).
        moment_arm_convention: ``"length"`` (default: -dL/dq of the fitted length) or
            ``"opensim"`` (OpenSim's ``computeMomentArm``, which its Static Optimization uses
            for the moments and, through its path's lengthening speed, for the fibre
            velocities; see :meth:`~musclesim.GeometryModel.moment_arm`).
        on_failure: ``"raise"`` (an :class:`InputError` naming the frames that did not meet
            the tolerance) or ``"flag"`` (leave them flagged in ``solution.converged``).
            Inside ``jax.jit`` nothing can be raised and frames are only flagged.
    """

    if not isinstance(model, GeometryModel):
        model = load_model(model)
    if on_failure not in ("raise", "flag"):
        raise InputError(
            f"on_failure {on_failure!r}", field="on_failure", expected="'raise' or 'flag'"
        )
    p = check_exponent(exponent)
    if coordinates is None:
        if side is None:
            raise InputError(
                "neither coordinates nor side given",
                field="coordinates",
                expected="coordinates=[...] or side='r'/'l'",
            )
        coordinates = leg_coordinates(model, side)
    coordinates = tuple(coordinates)
    _check_coordinates(model, coordinates)
    names = tuple(muscles) if muscles is not None else crossing_muscles(model, coordinates)
    selected = model.select(names)
    tau = _as_batch(moments, coordinates, "moments")
    qd = _as_batch(qdot, selected.coordinates, "qdot")
    lengths, arms = selected.mtu_length_and_moment_arm(
        q, strict=strict_domain, convention=moment_arm_convention
    )
    velocity = -jnp.einsum("...mk,...k->...m", arms, qd)
    cols = np.array(
        [selected.coordinates.index(c) for c in coordinates if c in selected.coordinates]
    )
    present = [c in selected.coordinates for c in coordinates]
    arm = jnp.zeros(arms.shape[:-1] + (len(coordinates),), dtype=arms.dtype)
    arm = arm.at[..., np.flatnonzero(present)].set(arms[..., cols])
    active, passive = rigid_tendon_forces(
        selected.parameters,
        lengths,
        velocity,
        include_passive=include_passive,
        active_along_tendon=active_along_tendon,
    )
    sol = solve_load_sharing(
        active,
        passive,
        arm,
        tau,
        reserve_optimal_force,
        exponent=p,
        min_activation=min_activation,
        tolerance=tolerance,
        max_iterations=max_iterations,
    )
    if on_failure == "raise" and not isinstance(sol.converged, jax.core.Tracer):
        ok = np.asarray(sol.converged)
        if not ok.all():
            bad = np.argwhere(~ok)
            res = np.asarray(sol.kkt_residual)[~ok]
            raise InputError(
                f"{bad.shape[0]} frame(s) did not converge (first at index "
                f"{tuple(int(i) for i in bad[0])}, residual {float(res.max()):.3g} N m)",
                field="static_optimization",
                expected="finite, physically possible moments; raise max_iterations or pass "
                "on_failure='flag' to keep the flagged frames",
            )
    return StaticOptimizationSolution(
        muscles=names,
        coordinates=coordinates,
        exponent=p,
        solution=sol,
        moments=tau,
        active_force=active,
        passive_force=passive,
        moment_arm=arm,
        mtu_length=lengths,
        mtu_velocity=velocity,
    )


# --------------------------------------------------------------------------------------------
# Activations -> excitations.

#: Bisection iterations of the excitation solve on [0, 1] (1/2^60 ~ 1e-18).
EXCITATION_BISECTION_ITERATIONS = 60


def excitation_from_activation(params, time, activation, *, activation_rate_hint=None):
    r"""Excitation u(t) that makes De Groote's activation dynamics follow a(t).

    Inverts :func:`musclesim.muscle.state.activation_rate`: at each sample, the u in [0, 1] with
    da/dt(u, a) = a-dot, where a-dot is the derivative of a cubic spline through the samples
    (``scipy.interpolate.CubicSpline``, or ``activation_rate_hint`` when given). The rate is
    increasing in u, so bisection on [0, 1] finds it; a rate faster than u = 1 (or u = 0)
    can give is met by u = 1 (u = 0): the clip to [0, 1].

    Args:
        params: :class:`~musclesim.MuscleParameters` with leaves ``[muscle]``.
        time: ``[time]`` (s). activation: ``[time, muscle]``.

    Returns ``[time, muscle]`` excitations in [0, 1].
    """
    time = np.asarray(time, dtype=float)
    a = np.clip(np.asarray(activation, dtype=float), 0.0, 1.0)
    if activation_rate_hint is None:
        if time.size < 2:
            raise InputError(f"{time.size} sample(s)", field="time", expected=">= 2 samples")
        rate = CubicSpline(time, a, axis=0)(time, 1)
    else:
        rate = np.asarray(activation_rate_hint, dtype=float)
    return np.asarray(_invert_activation(params, jnp.asarray(a), jnp.asarray(rate)))


@jax.jit
def _invert_activation(params, a, rate):

    lo = jnp.zeros_like(a)
    hi = jnp.ones_like(a)

    def bisect(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        fast = activation_rate(params, mid, a) > rate
        return jnp.where(fast, lo, mid), jnp.where(fast, mid, hi)

    lo, hi = jax.lax.fori_loop(0, EXCITATION_BISECTION_ITERATIONS, bisect, (lo, hi))
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------------------------
# Excitation source.

_MOMENT_VARIABLES = ("moment", "moments", "generalized_force", "tau", "joint_moment")


def moments_array(moments, coordinates: Sequence[str], time) -> np.ndarray:
    """Joint moments ``[time, coordinate]`` (N m) at ``time`` from any accepted form.

    Accepted: a mapping coordinate -> array over ``time``; an array ``[time, coordinate]``; an
    ``xarray.Dataset`` with a variable ``moment`` (or ``generalized_force``, ``tau``) of dims
    ``(time, coordinate)``; an OpenSim inverse-dynamics storage (path or
    :func:`musclesim.read_storage` Dataset) with columns ``<coordinate>_moment``. Other times
    are linearly interpolated onto ``time``; extrapolation is refused.
    """
    time = np.asarray(time, dtype=float)
    source = None
    if isinstance(moments, str) or hasattr(moments, "__fspath__"):
        source = str(moments)
        moments = read_storage(moments)
    if isinstance(moments, xr.Dataset):
        source = source or moments.attrs.get("source_path")
        var = next((moments[v] for v in _MOMENT_VARIABLES if v in moments), None)
        if var is None and "data" in moments and "channel" in moments["data"].dims:
            channels = [str(c) for c in moments["channel"].values]
            cols = {}
            for c in coordinates:
                hit = next((k for k in (f"{c}_moment", f"{c}_force", c) if k in channels), None)
                if hit is not None:
                    cols[c] = moments["data"].sel(channel=hit).values
            table, own_time = cols, moments["time"].values
        elif var is not None and {"time", "coordinate"} <= set(var.dims):
            have = [str(c) for c in var["coordinate"].values]
            table = {c: var.sel(coordinate=c).values for c in coordinates if c in have}
            own_time = var["time"].values
        else:
            raise InputError(
                "no moment variable",
                path=source,
                field="moments",
                expected="a variable 'moment' (time, coordinate) in N m, or OpenSim "
                "inverse-dynamics columns '<coordinate>_moment'",
            )
        missing = [c for c in coordinates if c not in table]
        if missing:
            raise InputError(
                f"no moment for {missing}",
                path=source,
                field="moments",
                expected=f"moments of every coordinate in {list(coordinates)}",
            )
        own_time = np.asarray(own_time, dtype=float)
        values = np.stack([np.asarray(table[c], dtype=float) for c in coordinates], axis=-1)
        if values.shape[0] != time.size or not np.allclose(own_time, time, atol=1e-9):
            tol = 1e-9 * max(1.0, abs(float(own_time[-1])))
            if time[0] < own_time[0] - tol or time[-1] > own_time[-1] + tol:
                raise InputError(
                    f"moments span {own_time[0]:.6g}-{own_time[-1]:.6g} s, the motion "
                    f"{time[0]:.6g}-{time[-1]:.6g} s",
                    path=source,
                    field="moments.time",
                    expected="moments covering every time of the motion",
                )
            values = np.stack(
                [np.interp(time, own_time, values[:, j]) for j in range(values.shape[1])], axis=-1
            )
    elif isinstance(moments, Mapping):
        values = np.asarray(_as_batch(moments, coordinates, "moments"), dtype=float)
    else:
        values = np.asarray(moments, dtype=float)
    if values.shape != (time.size, len(coordinates)):
        raise InputError(
            f"moments have shape {values.shape}",
            path=source,
            field="moments",
            expected=f"(time, coordinate) = {(time.size, len(coordinates))}",
        )
    bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"non-finite moment at time {time[i]:.6g} s",
            path=source,
            field=f"moments[{coordinates[j]}]",
            expected="finite joint moments (N m)",
        )
    return values
