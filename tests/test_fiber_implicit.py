"""``solve_fiber``'s default fixed-step implicit solver (musclesim.muscle.implicit): error
against a tight diffrax reference on representative trajectories, float32, gradients
against finite differences, and the refusal of MTU lengths no fibre-tendon state can take.

Named tolerances, with their reasons:

* ``PEAK_STRAIN_BOUND`` and ``TENDON_FORCE_BOUND``: the accuracy the default solver is chosen
  for (experiments/solver_accuracy.py measures it along every shipped drill and sprint):
  peak fibre strain within 2e-4 and tendon force within 0.1 % of its peak of Kvaerno5 at
  rtol 1e-9.
* ``FLOAT32_BOUND``: the same bounds hold in float32 (rounding of 1e-7 relative is far below
  the discretisation error).
* ``FD_RTOL``: central differences with a relative step of 1e-5 on a smooth peak, in float64.
* ``NEWTON_SHARE``: the part of those bounds the unfinished Newton iterations may take (the
  rest is left to the discretisation error).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_fiber import ACTIVATION, BFLH, MTU_LENGTH, TIME, _fast_length

from musclesim import InputError, MuscleParameters, solve_fiber
from musclesim.muscle import implicit

PEAK_STRAIN_BOUND = 2e-4
TENDON_FORCE_BOUND = 1e-3
REFERENCE = dict(solver="accurate", rtol=1e-9, atol=1e-11)
FD_RTOL = 1e-4
NEWTON_SHARE = 0.05

#: An excitation that switches on and off as in a sprint's late swing (0.05 -> 0.9 -> 0.1
#: with 40 ms ramps), for the activation dynamics.
EXCITATION = np.interp(TIME, [0.0, 0.05, 0.09, 0.17, 0.21, 0.3], [0.05, 0.05, 0.9, 0.9, 0.1, 0.1])
#: Two members: the sprint-like length with a time-varying activation (given) and the fast
#: 2 m/s oscillation with the excitation above (activation dynamics).
LENGTHS = np.stack([MTU_LENGTH, _fast_length(TIME, 2.0)])


def _errors(sol, ref):
    strain, ref_strain = np.asarray(sol.fiber_strain), np.asarray(ref.fiber_strain)
    force, ref_force = np.asarray(sol.tendon_force), np.asarray(ref.tendon_force)
    peak = np.abs(strain.max(axis=-1) - ref_strain.max(axis=-1)).max()
    force_error = (np.abs(force - ref_force).max(axis=-1) / np.abs(ref_force).max(axis=-1)).max()
    return peak, force_error


def test_default_is_the_implicit_solver_within_its_measured_accuracy():
    given = solve_fiber(BFLH, TIME, MTU_LENGTH, activation=ACTIVATION)
    assert int(given.num_steps) >= TIME.size - 1  # fixed steps, at least one per interval
    ref = solve_fiber(BFLH, TIME, MTU_LENGTH, activation=ACTIVATION, **REFERENCE)
    peak, force = _errors(given, ref)
    assert np.asarray(ref.tendon_force).max() > 0.3 * float(BFLH.max_isometric_force)
    assert peak < PEAK_STRAIN_BOUND and force < TENDON_FORCE_BOUND, (peak, force)
    dynamics = solve_fiber(BFLH, TIME, LENGTHS[1], excitation=EXCITATION)
    ref = solve_fiber(BFLH, TIME, LENGTHS[1], excitation=EXCITATION, **REFERENCE)
    np.testing.assert_allclose(dynamics.activation, ref.activation, atol=1e-3)
    peak, force = _errors(dynamics, ref)
    assert peak < PEAK_STRAIN_BOUND and force < TENDON_FORCE_BOUND, (peak, force)


def test_float32_at_zero_activation_is_finite_and_within_bounds():
    zero_and_full = np.stack([np.zeros_like(TIME), np.ones_like(TIME)])
    ref = solve_fiber(BFLH, TIME, LENGTHS, activation=zero_and_full)
    params32 = jax.tree.map(lambda x: np.asarray(x, np.float32), BFLH)
    with warnings.catch_warnings(), jax.enable_x64(False):
        warnings.simplefilter("error")
        sol = solve_fiber(
            params32,
            TIME.astype(np.float32),
            LENGTHS.astype(np.float32),
            activation=zero_and_full.astype(np.float32),
        )
        assert sol.tendon_force.dtype == jnp.float32
    for name in sol.__dataclass_fields__:
        assert np.all(np.isfinite(np.asarray(getattr(sol, name)))), name
    peak, force = _errors(sol, ref)  # float32 against the same solver in float64
    assert peak < PEAK_STRAIN_BOUND and force < TENDON_FORCE_BOUND, (peak, force)


def test_newton_iterations_reach_the_stage_solutions(monkeypatch):
    # The hardest starts met: activation jumping 0 -> 1 within one sample during a fast
    # 2 m/s oscillation, and the excitation ramps with activation dynamics.
    step = np.where(TIME > 0.1, 1.0, 0.0)
    cases = [dict(activation=step), dict(excitation=EXCITATION)]

    def solve_all():
        jax.clear_caches()  # the iteration count is fixed when the solver is traced
        return [solve_fiber(BFLH, TIME, LENGTHS[1], **case) for case in cases]

    default = solve_all()
    monkeypatch.setitem(implicit.integrate.__kwdefaults__, "iterations", 10)
    converged = solve_all()
    jax.clear_caches()
    # The count did change: the default iterations stop short of the converged roots.
    assert not np.array_equal(default[0].tendon_force, converged[0].tendon_force)
    for sol, ref in zip(default, converged, strict=True):
        strain = np.abs(np.asarray(sol.fiber_strain) - np.asarray(ref.fiber_strain)).max()
        force = (
            np.abs(np.asarray(sol.tendon_force - ref.tendon_force)).max()
            / np.abs(np.asarray(ref.tendon_force)).max()
        )
        assert strain < NEWTON_SHARE * PEAK_STRAIN_BOUND, strain
        assert force < NEWTON_SHARE * TENDON_FORCE_BOUND, force


def test_gradient_matches_finite_differences():
    lengths = jnp.asarray(LENGTHS)
    activation = np.stack([ACTIVATION, np.ones_like(TIME)])
    base = MuscleParameters.stack([BFLH] * 2)
    bump = jnp.asarray(np.exp(-(((TIME - 0.1) / 0.03) ** 2)))  # a local lengthening

    def peak_strain(l_opt, l_ts, stretch):
        params = base.replace(optimal_fiber_length=l_opt, tendon_slack_length=l_ts)
        sol = solve_fiber(params, TIME, lengths + stretch * bump, activation=activation)
        return sol.fiber_strain.max(axis=-1).sum()  # independent members: sum of each

    args = (jnp.full(2, 0.1116), jnp.full(2, 0.3804), jnp.asarray(0.0))
    grads = jax.grad(peak_strain, argnums=(0, 1, 2))(*args)
    for argnum, (g, x) in enumerate(zip(grads, args, strict=True)):
        h = 1e-5 * (float(np.max(x)) or 1e-2)
        for k in range(np.size(x)):
            step = jnp.zeros_like(x).at[k].set(h) if np.ndim(x) else jnp.asarray(h)
            up = list(args)
            down = list(args)
            up[argnum] = x + step
            down[argnum] = x - step
            fd = (float(peak_strain(*up)) - float(peak_strain(*down))) / (2 * h)
            got = float(np.ravel(g)[k])
            assert abs(got - fd) <= FD_RTOL * abs(fd) + 1e-9, (argnum, k, got, fd)


def test_recomputing_steps_in_reverse_mode_gives_the_stored_gradient(monkeypatch):
    # Reverse mode recomputes each step instead of storing it; the gradient is the same
    # computation, so the two agree to rounding, with activation dynamics too.
    lengths = jnp.asarray(LENGTHS)

    def gradient():
        jax.clear_caches()  # the choice is read when the solver is traced

        def peak_strain(l_ts, stretch):
            params = BFLH.replace(tendon_slack_length=l_ts)
            sol = solve_fiber(params, TIME, lengths * stretch, excitation=EXCITATION)
            return sol.fiber_strain.max(axis=-1).sum()

        return jax.grad(peak_strain, argnums=(0, 1))(jnp.asarray(0.3804), jnp.asarray(1.0))

    assert implicit.SCAN_REMATERIALISED
    recomputed = gradient()
    monkeypatch.setattr(implicit, "SCAN_REMATERIALISED", False)
    stored = gradient()
    jax.clear_caches()
    for got, want in zip(recomputed, stored, strict=True):
        assert float(want) != 0.0
        np.testing.assert_allclose(float(got), float(want), rtol=1e-9)


@pytest.mark.parametrize("tendon", ["rigid", "compliant"])
def test_impossible_lengths_raise_input_error_naming_member_and_sample(tendon):
    # 2 (l_ts + l_opt): the fibre would have to reach ~5 l_opt, or the tendon carry far more
    # than 5 F_max; refused before any solve instead of a huge force or a solver failure
    # (the rigid tendon names the passive force, the compliant one the fibre length too).
    lengths = np.stack([MTU_LENGTH, MTU_LENGTH])
    lengths[1, 23] = 2 * (0.3804 + 0.1116)
    with pytest.raises(InputError, match=r"muscle \[1\] at sample 23") as info:
        solve_fiber(BFLH, TIME, lengths, activation=0.5, tendon=tendon)
    assert info.value.field == "mtu_length"
    assert ("l_opt" if tendon == "compliant" else "passive fibre force") in str(info.value)
    # A passive force beyond 5 F_max at a fibre length inside the curves' range: a stiff
    # passive curve (strain 0.2 at F_max) at >= 1.3 l_opt gives f_PE >= e^6 / e^4 ~ 7.4;
    # the tendon at 5 F_max is 1.089 l_ts long (e_T = 0.049), so the fibre is 1.3-1.6 l_opt.
    stiff = BFLH.replace(passive_fiber_strain_at_one_norm_force=0.2)
    long = np.full(TIME.size, 0.3804 * 1.089 + 1.3 * 0.1116)
    with pytest.raises(InputError, match="passive fibre force"):
        solve_fiber(stiff, TIME, long, activation=0.5, tendon=tendon)


@pytest.mark.parametrize("constants", ["opensim", "published"])
def test_stage_system_is_the_curves_residual_with_its_exact_jacobian(constants):
    from musclesim.muscle import curves, state

    c = curves.get_constants(constants)
    rng = np.random.default_rng(0)
    n = 64
    params = BFLH.replace(
        active_force_width_scale=jnp.asarray(rng.uniform(1.0, 1.5, n)),
        passive_fiber_strain_at_one_norm_force=jnp.asarray(rng.uniform(0.4, 0.7, n)),
    )
    damping = jnp.asarray(rng.uniform(1e-3, 0.1, n))
    force = jnp.asarray(rng.uniform(-0.1, 1.5, n))
    w = jnp.asarray(rng.uniform(-2.0, 2.0, n))
    inputs = (
        jnp.asarray(rng.uniform(0.0, 1.0, n)),  # base
        jnp.asarray(rng.uniform(1e-4, 2e-3, n)),  # h gamma
        jnp.asarray(rng.uniform(0.44, 0.52, n)),  # MTU length
        jnp.asarray(rng.uniform(-1.0, 1.0, n)),  # MTU velocity
        jnp.asarray(rng.uniform(0.0, 1.0, n)),  # activation
        implicit._tendon_constants(params, c, damping),
    )
    (equilibrium, stage), jac = implicit._tendon_system((force, w), inputs, c)
    # The same residuals from the curves module.
    base, h_gamma, length, velocity, activation, _ = inputs
    _, _, cos_pen, _, fl, fpe = state.fiber_at_tendon_force(params, force, length, constants=c)
    v = (jnp.sinh(w) - c.d3) / c.d2
    expected_eq = activation * fl * curves.force_velocity(v, constants=c) + fpe + damping * v
    expected_eq = expected_eq - force / cos_pen
    tendon_length = params.tendon_slack_length * curves.tendon_force_length_inverse(
        force, strain_at_one_norm_force=params.tendon_strain_at_one_norm_force, constants=c
    )
    stiffness = curves.tendon_force_length_derivative(
        tendon_length / params.tendon_slack_length,
        strain_at_one_norm_force=params.tendon_strain_at_one_norm_force,
        constants=c,
    )
    rate = stiffness * (velocity - v * params.max_fiber_velocity / cos_pen)
    expected_stage = force - base - h_gamma * rate / params.tendon_slack_length
    np.testing.assert_allclose(equilibrium, expected_eq, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stage, expected_stage, rtol=1e-10, atol=1e-12)
    # The written-out Jacobian against forward-mode differentiation of the residuals.
    for column, tangent in enumerate([(jnp.ones(n), jnp.zeros(n)), (jnp.zeros(n), jnp.ones(n))]):
        _, derivative = jax.jvp(
            lambda y: implicit._tendon_system(y, inputs, c)[0], ((force, w),), (tangent,)
        )
        for row in range(2):
            np.testing.assert_allclose(jac[row][column], derivative[row], rtol=1e-9, atol=1e-12)


def test_batch_solved_in_chunks_equals_the_whole_batch(monkeypatch):
    from musclesim.muscle import fiber

    rng = np.random.default_rng(1)
    params = BFLH.replace(optimal_fiber_length=jnp.asarray(rng.uniform(0.1, 0.12, 5)))
    lengths = np.stack([MTU_LENGTH] * 5) + rng.uniform(-0.005, 0.005, (5, 1))
    monkeypatch.setattr(fiber, "CPU_CHUNK", 0)
    whole = solve_fiber(params, TIME, lengths, activation=ACTIVATION)
    monkeypatch.setattr(fiber, "CPU_CHUNK", 2)  # three chunks, the last one padded
    chunked = solve_fiber(params, TIME, lengths, activation=ACTIVATION)
    for name in ("tendon_force", "fiber_length", "fiber_velocity"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-12)


def test_per_member_substeps_solve_each_member_as_its_own_grid_needs():
    """``substeps="per-member"``: a batch of members on grids of different spacing gives each
    member the solution of a solve on its own grid with its own count (the count is run-time
    data, one compiled program for any counts), and forward-mode derivatives flow through it."""
    time = np.stack([TIME, 3.0 * TIME])  # the second grid needs three times the substeps
    counts = implicit.substeps_for(time, per_member=True)
    assert counts[1] > counts[0] and counts[0] == implicit.substeps_for(TIME)
    batch = solve_fiber(BFLH, time, LENGTHS, excitation=EXCITATION, substeps="per-member")
    for k in range(2):
        alone = solve_fiber(BFLH, time[k], LENGTHS[k], excitation=EXCITATION)
        np.testing.assert_array_equal(batch.fiber_length[k], alone.fiber_length)
        np.testing.assert_array_equal(batch.tendon_force[k], alone.tendon_force)
        assert int(batch.num_steps[k]) == int(alone.num_steps)

    def peak(lengths):
        sol = solve_fiber(BFLH, time, lengths, excitation=EXCITATION, substeps="per-member")
        return sol.fiber_strain.max(axis=-1)

    _, tangent = jax.jvp(peak, (jnp.asarray(LENGTHS),), (jnp.ones_like(LENGTHS) * 1e-3,))
    step = 1e-7
    central = (peak(LENGTHS + step) - peak(LENGTHS - step)) / (2 * step) * 1e-3
    np.testing.assert_allclose(tangent, central, rtol=FD_RTOL)
    with pytest.raises(InputError, match="per-member"):
        solve_fiber(BFLH, TIME, MTU_LENGTH, activation=ACTIVATION, substeps="per member")


def test_per_member_batch_in_chunks_is_reordered_by_count_and_put_back(monkeypatch):
    """Solved in chunks, the members go in order of their substep count (a chunk costs its
    largest) and come back in place: each equals its own solve."""
    from musclesim.muscle import fiber

    monkeypatch.setattr(fiber, "CPU_CHUNK", 1)
    time = np.stack([3.0 * TIME, TIME])  # the first needs more substeps: reordered
    batch = solve_fiber(BFLH, time, LENGTHS, excitation=EXCITATION, substeps="per-member")
    for k in range(2):
        alone = solve_fiber(BFLH, time[k], LENGTHS[k], excitation=EXCITATION)
        np.testing.assert_array_equal(batch.tendon_force[k], alone.tendon_force)


def test_parallel_in_time_form_converges_to_the_sequential_solution():
    """The parallel-in-time form (experiments/parallel_in_time.py): Newton over the whole
    trajectory, every interval's step at once and the correction by an associative scan,
    reaches the sequential solver's tendon forces within a few iterations, converging
    quadratically once close."""
    from experiments.parallel_in_time import CONVERGED, run

    result = run(batch=2, iterations=7, repeats=1)
    gap = result["gap"]
    assert result["converged"] is not None and result["converged"] <= 6
    assert gap[0] > 1e-2  # the static-equilibrium start is far from the dynamic solution
    k = result["converged"]
    assert gap[k] < CONVERGED and gap[k - 1] > gap[k]
    assert result["sequential_depth"] > 10 * k * result["parallel_depth_per_iteration"]
