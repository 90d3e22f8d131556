"""``solve_fiber``: fibre and tendon states along a prescribed musculotendon length.

The top-level function reads as a short list of stages:

1. check the inputs (outside any trace) and broadcast the batch;
2. interpolate the MTU length with a cubic spline, whose derivative is the MTU velocity;
3. rigid tendon with given activation: evaluate the algebraic state at every sample;
   otherwise integrate the ODE (normalised tendon force and/or activation) from the initial
   equilibrium, by default with the fixed-step L-stable SDIRK of
   :mod:`musclesim.muscle.implicit`, or with diffrax's adaptive ``Kvaerno5`` (``"accurate"``);
4. evaluate the full :class:`~musclesim.muscle.state.MuscleState` at the sample times.
"""

from __future__ import annotations

import dataclasses
import functools

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..core.errors import InputError
from ..core.spline import END_CONDITIONS, cubic_spline
from . import curves as _curves, implicit as _implicit, state as _muscle
from .parameters import MuscleParameters

TENDON_MODELS = ("compliant", "rigid")
INITIAL_EQUILIBRIA = ("opensim", "isometric")

#: Default relative and absolute tolerances of the integration (the compliant state is the
#: normalised tendon force, O(1)). validation/opensim_parity.py reports the error of these
#: everyday settings against OpenSim along the 9 m/s sprint (about 1e-5 F_max).
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-8
#: The implicit stages' Newton solve runs this much tighter than the step controller.
NEWTON_TOLERANCE_FACTOR = 1e-2
#: ``"implicit"`` (default): fixed-step L-stable SDIRK on the sample grid
#: (:mod:`musclesim.muscle.implicit`); ``"accurate"`` and ``"kvaerno5"``: diffrax's adaptive
#: Kvaerno5 at ``rtol``/``atol``; ``"tsit5"``: diffrax's explicit Tsit5.
SOLVERS = ("implicit", "accurate", "kvaerno5", "tsit5")
DEFAULT_SOLVER = "implicit"
#: ``solve_fiber(substeps=PER_MEMBER)``: each batch member's substep count from its own grid.
PER_MEMBER = "per-member"
#: Default floor on fibre damping (normalised force per normalised velocity) for the
#: compliant tendon. It is the remedy for OpenSim's failure at zero activation: with any
#: damping > 0 the velocity equation a f_L f_V(v) + beta v = F has a unique finite root for
#: every activation including 0, and the implicit integrator handles the stiffness this
#: creates when activation is low. 1e-3 changes fibre force by at most 1e-3 F_max per unit
#: normalised velocity; muscles with their own damping above it (Rajagopal models 0.1, the
#: sprinter model 0.01) are unaffected. Set 0 to reproduce OpenSim exactly when a > 0.
DEFAULT_MINIMUM_FIBER_DAMPING = 1e-3
#: Batch members the ``"implicit"`` solver advances together through one time loop on a CPU;
#: larger batches are solved in chunks of this size, one after another, so that the
#: intermediate arrays of a step stay small enough for the core's cache. Measured with
#: ``python -m experiments.benchmark_fiber --repeats 2 --chunk N`` (batch 1024, float64, on
#: the shared 2-core development machine): 1,022,511 muscle-samples per CPU-second with 128,
#: 991,738 with 256 and 986,528 with the whole batch (``--chunk 0``): a small gain there. An
#: accelerator gets the whole batch at once.
CPU_CHUNK = 128
#: Largest tendon force (multiples of F_max) a sample may demand: OpenSim's
#: ``m_maxNormTendonForce``, the upper end of its initial-equilibrium search
#: (``state.EQUILIBRIUM_FORCE_BRACKET``).
MAX_NORM_TENDON_FORCE = _muscle.EQUILIBRIUM_FORCE_BRACKET[1]


class FiberSolution(eqx.Module):
    """Result of :func:`solve_fiber`: arrays shaped ``batch + (time,)``, SI units.

    Fibre velocity is + when lengthening. ``passive_fiber_force`` includes damping (as
    OpenSim's). ``num_steps`` is the number of accepted integrator steps per batch member
    (0 for the algebraic rigid-tendon case).
    """

    time: jax.Array
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
    num_steps: jax.Array

    @property
    def fiber_strain(self) -> jax.Array:
        """l_M / l_opt - 1 (DESIGN.md's ``fiber_strain``)."""
        return self.norm_fiber_length - 1.0


def solve_fiber(
    params: MuscleParameters,
    time,
    mtu_length,
    *,
    activation=None,
    excitation=None,
    tendon: str = "compliant",
    constants: str | _curves.DeGroote2016Constants = "opensim",
    spline: str = "natural",
    initial_equilibrium: str = "opensim",
    initial_activation=None,
    minimum_fiber_damping: float = DEFAULT_MINIMUM_FIBER_DAMPING,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    solver: str = DEFAULT_SOLVER,
    substeps: int | str | None = None,
    max_steps: int | None = None,
) -> FiberSolution:
    r"""Fibre, tendon and force states of muscles driven along prescribed MTU lengths.

    Args:
        params: muscle parameters; leaves may carry leading batch dimensions.
        time: sample times, shape ``(T,)`` shared by the batch, or ``batch + (T,)`` (each
            member on its own grid), strictly increasing (s).
        mtu_length: musculotendon length, shape ``batch + (T,)`` (m).
        activation: activation in [0, 1], scalar or ``batch + (T,)``, used as is (linear
            between samples). Give exactly one of ``activation`` and ``excitation``.
        excitation: excitation in [0, 1]; activation then follows De Groote 2016 first-order
            dynamics (:func:`~musclesim.muscle.state.activation_rate`), starting at
            ``initial_activation`` (default: the excitation at the first sample).
        tendon: ``"compliant"`` (state: normalised tendon force) or ``"rigid"`` (algebraic).
        constants: curve constant set, ``"opensim"`` (default) or ``"published"``.
        spline: end condition of the MTU-length spline, ``"natural"`` or ``"opensim"``
            (OpenSim's ``SimmSpline``, to compare with a coordinate prescribed the usual way).
        initial_equilibrium: ``"opensim"`` (tendon velocity zero at the first sample, as
            OpenSim's ``equilibrateMuscles``) or ``"isometric"`` (MTU velocity taken as zero).
        minimum_fiber_damping: floor on fibre damping for the compliant tendon (see
            ``DEFAULT_MINIMUM_FIBER_DAMPING``); 0 reproduces OpenSim's explicit mode.
        rtol, atol: tolerances of the adaptive step-size controller of the diffrax solvers
            (steps also land on every sample time, where the linearly interpolated
            activation has kinks); the ``"implicit"`` solver has fixed steps and ignores them.
        solver: ``"implicit"`` (default: three-stage L-stable SDIRK of order 3 with
            ``substeps`` equal steps per sample interval and a fixed number of scalar Newton
            iterations per stage, :mod:`musclesim.muscle.implicit`; no per-member control
            flow, so batches cost little more than one member; its error against a tight
            reference is measured by ``experiments/solver_accuracy.py``), ``"accurate"`` or
            its alias ``"kvaerno5"`` (diffrax's adaptive L-stable ESDIRK of order 5 at
            ``rtol``/``atol``: the path the OpenSim parity checks use), or ``"tsit5"``
            (diffrax's explicit adaptive solver; slow when low activation makes the tendon
            dynamics stiff).
        substeps: equal steps per sample interval of the ``"implicit"`` solver; default: as
            many as keep every step within ``implicit.MAX_STEP`` on the given time grid
            (``implicit.DEFAULT_SUBSTEPS`` when the grid is traced, as under ``jax.jit``), a
            compile-time constant. ``"per-member"``: each batch member as many as its own
            grid needs, a run-time count, so one compiled program serves batches of any
            sample spacing (a batch costs the largest count in it; forward-mode
            differentiable only).
        max_steps: step limit of the diffrax solvers (default ``64 * T + 4096``).

    Returns:
        :class:`FiberSolution` with arrays of shape ``batch + (T,)``.

    Example:
        >>> import jax.numpy as jnp
        >>> from musclesim import MuscleParameters, solve_fiber
        >>> p = MuscleParameters(2626.4, 0.1116, 0.3804, 0.1759)
        >>> t = jnp.linspace(0.0, 0.3, 76)
        >>> sol = solve_fiber(p, t, 0.48 + 0.02 * jnp.sin(10 * t), activation=0.3)
        >>> sol.fiber_length.shape
        (76,)
    """
    if tendon not in TENDON_MODELS:
        raise InputError(
            f"unknown tendon model {tendon!r}", field="tendon", expected=f"one of {TENDON_MODELS}"
        )
    if spline not in END_CONDITIONS:
        raise InputError(
            f"unknown spline end condition {spline!r}",
            field="spline",
            expected=f"one of {END_CONDITIONS}",
        )
    if initial_equilibrium not in INITIAL_EQUILIBRIA:
        raise InputError(
            f"unknown initial equilibrium {initial_equilibrium!r}",
            field="initial_equilibrium",
            expected=f"one of {INITIAL_EQUILIBRIA}",
        )
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}", field="solver", expected=f"one of {SOLVERS}")
    per_member = isinstance(substeps, str) and substeps == PER_MEMBER
    if (
        not per_member
        and substeps is not None
        and (
            isinstance(substeps, bool) or not isinstance(substeps, int | np.integer) or substeps < 1
        )
    ):
        raise InputError(
            f"substeps is {substeps!r}",
            field="substeps",
            expected=f"an integer >= 1 or {PER_MEMBER!r}",
        )
    if (activation is None) == (excitation is None):
        raise InputError(
            "give exactly one of activation= and excitation=",
            field="activation/excitation",
            expected="one array in [0, 1]",
        )
    constants = _curves.get_constants(constants)
    use_dynamics = excitation is not None
    drive = jnp.asarray(excitation if use_dynamics else activation)
    time = jnp.asarray(time)
    mtu_length = jnp.asarray(mtu_length)
    _check_inputs(params, time, mtu_length, drive, "excitation" if use_dynamics else "activation")
    _check_physical(params, time, mtu_length, tendon=tendon, constants=constants)

    n_time = time.shape[-1]
    if substeps is None and not per_member:
        substeps = _implicit.substeps_for(time)
    drive_batch = drive.shape[:-1] if drive.ndim >= 1 else ()
    batch = jnp.broadcast_shapes(params.shape, mtu_length.shape[:-1], drive_batch, time.shape[:-1])
    flat = int(np.prod(batch)) if batch else 1
    time_flat = jnp.broadcast_to(time, batch + (n_time,)).reshape(flat, n_time)
    params_flat = jax.tree.map(lambda x: jnp.broadcast_to(x, batch).reshape(flat), params)
    length_flat = jnp.broadcast_to(mtu_length, batch + (n_time,)).reshape(flat, n_time)
    drive_full = drive if drive.ndim >= 1 else jnp.broadcast_to(drive, (n_time,))
    drive_flat = jnp.broadcast_to(drive_full, batch + (n_time,)).reshape(flat, n_time)
    if per_member:
        counts = _implicit.substeps_for(time_flat, per_member=True)
    else:
        counts = np.full(flat, substeps if solver == "implicit" else 0, dtype=np.int32)
    if initial_activation is None:
        a0_flat = drive_flat[:, 0]
    else:
        a0_flat = jnp.broadcast_to(jnp.asarray(initial_activation), batch).reshape(flat)

    options = _Options(
        tendon=tendon,
        use_dynamics=use_dynamics,
        constants=constants,
        spline=spline,
        initial_equilibrium=initial_equilibrium,
        solver="kvaerno5" if solver == "accurate" else solver,
        substeps=int(substeps) if solver == "implicit" and not per_member else 0,
        per_member=per_member and solver == "implicit",
        max_steps=int(max_steps or 64 * n_time + 4096),
        chunk=CPU_CHUNK if solver == "implicit" and jax.default_backend() == "cpu" else None,
    )
    numbers = (
        jnp.asarray(minimum_fiber_damping, dtype=length_flat.dtype),
        jnp.asarray(rtol),
        jnp.asarray(atol),
    )
    order = None
    if options.per_member and isinstance(counts, np.ndarray) and options.chunk:
        # the batch is solved in chunks and a chunk costs its largest count: the members go
        # in order of their count, and back in place after
        forward = np.argsort(counts, kind="stable")
        order = (forward, np.argsort(forward))
    solution = _solve_flat(
        params_flat,
        time_flat,
        length_flat,
        drive_flat,
        a0_flat,
        counts,
        order,
        numbers,
        options=options,
    )
    solution = jax.tree.map(lambda x: x.reshape(batch + x.shape[1:]), solution)
    return eqx.tree_at(lambda s: s.time, solution, time)  # as given: (T,) or batch + (T,)


def _check_inputs(params, time, mtu_length, drive, drive_name):
    """Refuse NaNs, wrong shapes and out-of-range drives before tracing (concrete arrays only)."""
    if any(isinstance(x, jax.core.Tracer) for x in (time, mtu_length, drive)):
        return
    params.check()
    t = np.asarray(time)
    if t.ndim < 1 or t.shape[-1] < 2:
        raise InputError(
            f"time has shape {t.shape}",
            field="time",
            expected="an array of at least 2 samples (s) along its last axis",
        )
    if not np.all(np.isfinite(t)) or np.any(np.diff(t, axis=-1) <= 0):
        raise InputError(
            "time is not finite and strictly increasing",
            field="time",
            expected="strictly increasing sample times (s)",
        )
    length = np.asarray(mtu_length)
    if length.ndim < 1 or length.shape[-1] != t.shape[-1]:
        raise InputError(
            f"mtu_length has shape {length.shape}",
            field="mtu_length",
            expected=f"batch + ({t.shape[-1]},) matching time",
        )
    if not np.all(np.isfinite(length)):
        idx = np.argwhere(~np.isfinite(length))[0]
        raise InputError(
            f"NaN or inf at index {tuple(idx)}", field="mtu_length", expected="finite lengths (m)"
        )
    if np.any(length <= 0) or np.max(length) > 5.0:
        raise InputError(
            f"values span [{length.min():.4g}, {length.max():.4g}]",
            field="mtu_length",
            expected="positive lengths in metres (< 5 m); "
            "millimetres must be converted at the file reader",
        )
    d = np.asarray(drive)
    if d.ndim >= 1 and d.shape[-1] != t.shape[-1]:
        raise InputError(
            f"{drive_name} has shape {d.shape}",
            field=drive_name,
            expected=f"a scalar or batch + ({t.shape[-1]},)",
        )
    if not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(d > 1):
        raise InputError(
            f"values outside [0, 1] or not finite (min {np.nanmin(d):.4g}, max {np.nanmax(d):.4g})",
            field=drive_name,
            expected="values in [0, 1]",
        )


def impossible_samples(
    params, mtu_length, *, tendon: str = "compliant", constants="opensim"
) -> np.ndarray:
    """Where no fibre-tendon state can take the MTU length, a bool array shaped like
    ``mtu_length`` broadcast against the parameters (``batch + (T,)``; concrete arrays).

    A sample is impossible when the tendon would carry more than ``MAX_NORM_TENDON_FORCE``
    F_max or, with a compliant tendon, when the fibre would be longer than the curves are
    valid for (``constants.max_norm_fiber_length``, 1.8 l_opt as OpenSim's
    ``DeGrooteFregly2016Muscle``) even with the tendon at that force (:func:`solve_fiber`
    refuses such a sample; a Monte Carlo over parameters uses this to find its samples).
    """
    return _physical_problems(params, mtu_length, tendon=tendon, constants=constants)[0]


# The curves on concrete arrays as one compiled program each (run op by op, every operation on
# a new shape would compile a program of its own).
_tendon_inverse = jax.jit(_curves.tendon_force_length_inverse, static_argnames="constants")
_passive_force = jax.jit(_curves.passive_force_length, static_argnames="constants")


def _physical_problems(params, mtu_length, *, tendon, constants):
    """``(impossible, [(mask, describe), ...], length, shape)`` of :func:`impossible_samples`.

    With a rigid tendon the fibre length is fixed by the MTU length and the sample is
    impossible when the fibre's passive force alone (a lower bound on the tendon force)
    exceeds the largest force; a rigid fibre slightly beyond 1.8 l_opt still has a plausible
    force and is accepted. With a compliant tendon the fibre is shortest when the tendon
    carries the largest force, and the sample is impossible when even then the fibre is too
    long or its passive force alone exceeds that force. (Fibres shorter than the curves' range
    are floored, see ``state.MIN_FIBER_LENGTH_ALONG_TENDON``; a rigid tendon meets them in
    real motions.)"""
    constants = _curves.get_constants(constants)
    length = np.asarray(mtu_length, dtype=float)
    p = {
        name: np.asarray(value, dtype=float)[..., None] for name, value in params.as_dict().items()
    }
    l_opt, l_ts = p["optimal_fiber_length"], p["tendon_slack_length"]
    width = l_opt * np.sin(p["pennation_angle_at_optimal"])

    def fiber_at(norm_tendon_force):
        if norm_tendon_force is None:
            tendon_length = l_ts
        else:
            tendon_length = l_ts * np.asarray(
                _tendon_inverse(
                    np.full(np.broadcast_shapes(l_ts.shape, length.shape), norm_tendon_force),
                    strain_at_one_norm_force=p["tendon_strain_at_one_norm_force"],
                    constants=constants,
                )
            )
        along = np.maximum(length - tendon_length, 0.0)
        fiber = np.sqrt(along**2 + width**2)
        return fiber / l_opt, np.divide(along, fiber, out=np.ones_like(fiber), where=fiber > 0)

    top = MAX_NORM_TENDON_FORCE
    longest, cos_long = fiber_at(None if tendon == "rigid" else top)
    passive = np.asarray(
        _passive_force(
            longest,
            strain_at_one_norm_force=p["passive_fiber_strain_at_one_norm_force"],
            constants=constants,
        )
    )
    hi = constants.max_norm_fiber_length
    shape = np.broadcast_shapes(longest.shape, length.shape)
    longest, passive, cos_long = (np.broadcast_to(x, shape) for x in (longest, passive, cos_long))
    problems = [
        (
            passive * cos_long > top,
            lambda i: f"needs a passive fibre force of {passive[i]:.3g} F_max (> {top:g})",
        ),
    ]
    if tendon == "compliant":
        problems.insert(
            0,
            (
                longest > hi,
                lambda i: (
                    f"stretches the fibre to {longest[i]:.3g} l_opt (> {hi:g}) even "
                    f"with the tendon at {top:g} F_max"
                ),
            ),
        )
    impossible = np.zeros(shape, dtype=bool)
    for bad, _ in problems:
        impossible |= bad
    return impossible, problems, length, shape


def _check_physical(params, time, mtu_length, *, tendon, constants):
    """Refuse MTU lengths no fibre-tendon state can take (:func:`impossible_samples`;
    concrete arrays only), naming the member, the sample and why."""
    if any(isinstance(x, jax.core.Tracer) for x in (time, mtu_length)) or any(
        isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(params)
    ):
        return
    _, problems, length, shape = _physical_problems(
        params, mtu_length, tendon=tendon, constants=constants
    )
    top, hi = MAX_NORM_TENDON_FORCE, _curves.get_constants(constants).max_norm_fiber_length
    for bad, describe in problems:
        if not np.any(bad):
            continue
        index = tuple(int(k) for k in np.argwhere(bad)[0])
        member, sample = index[:-1], index[-1]
        t = float(np.broadcast_to(np.asarray(time), shape)[index])
        error = InputError(
            f"muscle [{', '.join(map(str, member))}] at sample {sample} (t = {t:.4g} s): L_MTU = "
            f"{np.broadcast_to(length, shape)[index]:.4g} m {describe(index)} "
            f"with a {tendon} tendon",
            field="mtu_length",
            expected=f"lengths at which the fibre stays within {hi:g} optimal lengths and "
            f"the tendon force within {top:g} F_max",
        )
        error.batch_index, error.sample = member, sample
        raise error


@dataclasses.dataclass(frozen=True)
class _Options:
    """The discrete (compile-time) choices of one solve_fiber call."""

    tendon: str
    use_dynamics: bool
    constants: _curves.DeGroote2016Constants
    spline: str
    initial_equilibrium: str
    solver: str
    substeps: int
    max_steps: int
    chunk: int | None = None
    per_member: bool = False  # substeps of each member from ``counts`` (run-time)


@functools.partial(jax.jit, static_argnames=("options",))
def _solve_flat(params, time, mtu_length, drive, a0, counts, order, numbers, *, options: _Options):
    """The flat batch's solution; ``order`` (None, or member indices and their inverse) is
    the order the members are solved in."""
    members = (params, time, mtu_length, drive, a0, counts)
    if order is None:
        return _solve_members(members, numbers, options)
    forward, back = order
    solution = _solve_members(jax.tree.map(lambda x: x[forward], members), numbers, options)
    return jax.tree.map(lambda x: x[back], solution)


def _solve_members(members, numbers, options: _Options):
    solve = jax.vmap(functools.partial(_solve_one, numbers=numbers, options=options))
    n = members[2].shape[0]  # the MTU lengths, [member, T]
    chunk = options.chunk
    if not chunk or n <= chunk:
        return solve(*members)
    # Chunks of the batch, one after another, each through its own time loop; the last
    # chunk is padded with copies of the last member.
    pad = -n % chunk

    def chunked(x):
        x = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
        return x.reshape((-1, chunk) + x.shape[1:])

    pieces = jax.lax.map(lambda args: solve(*args), jax.tree.map(chunked, members))
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:])[:n], pieces)


def _solve_one(params, time, mtu_length, drive, a0, count, *, numbers, options: _Options):
    """One muscle (scalar parameters), samples ``(T,)``."""
    minimum_fiber_damping, rtol, atol = numbers
    tendon, use_dynamics, constants = options.tendon, options.use_dynamics, options.constants
    path = cubic_spline(time, mtu_length, end_condition=options.spline)
    mtu_velocity = path.derivative(time)
    kwargs = dict(constants=constants, minimum_fiber_damping=minimum_fiber_damping)

    if tendon == "rigid" and not use_dynamics:
        state = _muscle.rigid_tendon_state(params, mtu_length, mtu_velocity, drive, **kwargs)
        return _to_solution(time, state, jnp.zeros((), dtype=jnp.int32))

    def drive_at(t):
        return jnp.interp(t, time, drive)

    def activation_of(t, y):
        return y["activation"] if use_dynamics else drive_at(t)

    def vector_field(t, y, args):
        rates = {}
        a = activation_of(t, y)
        if use_dynamics:
            rates["activation"] = _muscle.activation_rate(params, drive_at(t), a)
        if tendon == "compliant":
            rates["norm_tendon_force"] = _muscle.compliant_tendon_rate(
                params, y["norm_tendon_force"], path.value(t), path.derivative(t), a, **kwargs
            )
        return rates

    y0 = {}
    a_start = a0 if use_dynamics else drive[0]
    if use_dynamics:
        y0["activation"] = a0
    if tendon == "compliant":
        v0 = (
            mtu_velocity[0] if options.initial_equilibrium == "opensim" else jnp.zeros_like(a_start)
        )
        y0["norm_tendon_force"] = _muscle.initial_norm_tendon_force(
            params, mtu_length[0], v0, a_start, **kwargs
        )

    if options.solver == "implicit":
        ys = _implicit.integrate(
            params,
            time,
            path,
            drive,
            y0,
            compliant=tendon == "compliant",
            dynamics=use_dynamics,
            constants=constants,
            damping=_muscle.effective_damping(params, minimum_fiber_damping),
            substeps=count if options.per_member else options.substeps,
        )
        num_steps = (count if options.per_member else options.substeps) * (time.shape[-1] - 1)
        num_steps = jnp.asarray(num_steps, dtype=jnp.int32)
    else:
        ys, num_steps = _integrate_diffrax(
            vector_field, time, y0, rtol=rtol, atol=atol, options=options
        )
    activation = ys["activation"] if use_dynamics else drive
    if tendon == "compliant":
        w = ys.get("velocity_variable")
        state = _muscle.compliant_tendon_state(
            params,
            ys["norm_tendon_force"],
            mtu_length,
            mtu_velocity,
            activation,
            norm_fiber_velocity=None if w is None else _implicit.norm_velocity_of(w, constants),
            **kwargs,
        )
    else:
        state = _muscle.rigid_tendon_state(params, mtu_length, mtu_velocity, activation, **kwargs)
    return _to_solution(time, state, num_steps)


def _integrate_diffrax(vector_field, time, y0, *, rtol, atol, options: _Options):
    """States at the sample times by diffrax's adaptive solvers, and the accepted steps."""
    controller = diffrax.ClipStepSizeController(
        diffrax.PIDController(rtol=rtol, atol=atol), step_ts=jax.lax.stop_gradient(time)
    )
    if options.solver == "kvaerno5":
        newton = optx.Newton(
            rtol=rtol * NEWTON_TOLERANCE_FACTOR, atol=atol * NEWTON_TOLERANCE_FACTOR
        )
        integrator = diffrax.Kvaerno5(root_finder=newton)
    else:
        integrator = diffrax.Tsit5()
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        integrator,
        t0=time[0],
        t1=time[-1],
        dt0=jax.lax.stop_gradient(time[1] - time[0]),
        y0=y0,
        saveat=diffrax.SaveAt(ts=time),
        stepsize_controller=controller,
        max_steps=options.max_steps,
    )
    return sol.ys, sol.stats["num_accepted_steps"]


def _to_solution(time, state: _muscle.MuscleState, num_steps) -> FiberSolution:
    fields = {name: getattr(state, name) for name in state.__dataclass_fields__}
    return FiberSolution(time=time, num_steps=num_steps, **fields)
