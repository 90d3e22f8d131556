"""Tissue-load criteria of a fibre solution: hand-computed trajectories, no NaN where the muscle
is not loaded, batched and differentiable, and the utilisation of a limit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim import MuscleParameters, solve_fiber
from musclesim.core import citations
from musclesim.muscle import curves, metrics as _metrics
from musclesim.training import criteria as _criteria


class _Solution:
    """The FiberSolution fields fiber_metrics reads, with F_max = 1000 N.

    Samples: 0 rest; 1 active (a f_L f_V = 0.5) and lengthening at strain 0.1; 2 active (0.3)
    and lengthening fast at strain 0.3 (past the force-length peak); 3 stretched further
    (strain 0.5) with activation 0.05 times f_L 0.2 = 0.01 F_max (not loaded); 4 active (0.4)
    and shortening.
    """

    fmax = 1000.0
    time = jnp.asarray([0.0, 0.1, 0.2, 0.3, 0.4])
    mtu_length = jnp.asarray([0.50, 0.52, 0.55, 0.60, 0.51])
    norm_fiber_length = jnp.asarray([1.0, 1.1, 1.3, 1.5, 1.05])
    norm_fiber_velocity = jnp.asarray([0.0, 0.2, 0.6, 0.1, -0.3])
    fiber_velocity = norm_fiber_velocity * 1.0  # v_max l_opt = 1 m/s
    activation = jnp.asarray([0.0, 0.5, 0.3, 0.05, 0.4])
    active_force_length_multiplier = jnp.asarray([1.0, 0.8, 0.6, 0.2, 1.0])
    force_velocity_multiplier = jnp.asarray([1.0, 1.25, 1.0 / 0.6, 1.0, 1.0])
    active_fiber_force = (
        fmax * activation * active_force_length_multiplier * force_velocity_multiplier
    )
    fiber_force = active_fiber_force + 10.0
    tendon_force = fiber_force * 0.99

    @property
    def fiber_strain(self):
        return self.norm_fiber_length - 1.0


def test_criteria_of_a_hand_computed_trajectory():
    m = _metrics.fiber_metrics(_Solution(), jnp.asarray(0.5))
    # actively loaded: samples 1 (0.5 F_max), 2 (0.3 F_max) and 4 (0.4 F_max); not 3 (0.01)
    assert bool(m.loads_muscle)
    assert float(m.active_stretch) == pytest.approx(0.3, abs=1e-12)
    assert int(m.active_stretch_index) == 2 and bool(m.active_stretch_descending)
    assert float(m.active_lengthening_velocity) == pytest.approx(0.6, abs=1e-12)
    # active power F_active v at samples 0..4: 0, 500 x 0.2, 300 x 0.6, 10 x 0.1, (shortening) 0
    power = [0.0, 100.0, 180.0, 1.0, 0.0]
    trapz = sum(0.5 * (power[i] + power[i + 1]) * 0.1 for i in range(4))
    assert float(m.active_negative_work) == pytest.approx(trapz, rel=1e-12)
    # end range: MTU strain 0.60 / 0.50 - 1, whatever the muscle's activity
    assert float(m.end_range_length) == pytest.approx(0.2, rel=1e-12)
    assert float(m.end_range_length) == float(m.peak_mtu_strain)


def test_counted_samples_restrict_the_criteria_and_peak_force_only():
    # leave out samples 0-2: the loaded samples left are 4 (shortening), so no active stretch
    # beyond its own strain, no lengthening while active and no active negative work
    counted = jnp.asarray([False, False, False, True, True])
    m = _metrics.fiber_metrics(_Solution(), jnp.asarray(0.5), counted=counted)
    assert bool(m.loads_muscle) and int(m.active_stretch_index) == 4
    assert float(m.active_stretch) == pytest.approx(0.05, abs=1e-12)
    assert float(m.active_lengthening_velocity) == 0.0
    # the power of uncounted samples is 0: of samples 0..4 only sample 3 (10 N x 0.1 m/s)
    # remains, over the two trapezoid intervals it touches
    power = [0.0, 0.0, 0.0, 1.0, 0.0]
    trapz = sum(0.5 * (power[i] + power[i + 1]) * 0.1 for i in range(4))
    assert float(m.active_negative_work) == pytest.approx(trapz, rel=1e-6)
    assert float(m.end_range_length) == pytest.approx(0.2, rel=1e-12)
    assert float(m.peak_force) == pytest.approx(float(_Solution.tendon_force[4]), rel=1e-12)
    # the other fields still read every sample
    full = _metrics.fiber_metrics(_Solution(), jnp.asarray(0.5))
    assert float(m.peak_fiber_strain) == float(full.peak_fiber_strain)


def test_an_unloaded_muscle_has_zero_criteria_and_says_so():
    sol = _Solution()
    sol.activation = jnp.full(5, 0.02)  # at most 0.02 x 1.25 = 0.025 F_max: never loaded
    sol.active_fiber_force = (
        sol.fmax
        * sol.activation
        * sol.active_force_length_multiplier
        * sol.force_velocity_multiplier
    )
    m = _metrics.fiber_metrics(sol, jnp.asarray(0.5))
    assert not bool(m.loads_muscle) and not bool(m.active_stretch_descending)
    for name in ("active_stretch", "active_negative_work", "active_lengthening_velocity"):
        assert float(getattr(m, name)) == 0.0, name
    assert float(m.end_range_length) > 0  # the passive stretch is still there
    assert np.isnan(float(m.peak_eccentric_fiber_strain))  # the older metric keeps NaN


def test_threshold_is_a_force_not_an_activation():
    """Activation 0.06 is above the activation threshold, but at f_L 0.5 the force is 0.03."""
    a, fl, fv = jnp.asarray([0.06]), jnp.asarray([0.5]), jnp.asarray([1.0])
    force = _metrics.normalised_active_force(a, fl, fv)
    assert not bool(_metrics.active_mask(force)[0])
    assert bool(_metrics.active_mask(force, fraction=0.02)[0])


def test_descending_limb_starts_at_the_force_length_peak():
    """The curve falls beyond ACTIVE_FORCE_LENGTH_PEAK + 0.02 and rises below it - 0.02."""
    grad = jax.grad(lambda x: curves.active_force_length(x))
    peak = _metrics.ACTIVE_FORCE_LENGTH_PEAK
    assert float(grad(jnp.asarray(peak + 0.02))) < 0 < float(grad(jnp.asarray(peak - 0.02)))


def test_criteria_are_batched_and_differentiable():
    sol = _Solution()
    one = _metrics.fiber_metrics(sol, jnp.asarray(0.5))
    batched = _Solution()
    for field in (
        "mtu_length",
        "norm_fiber_length",
        "norm_fiber_velocity",
        "fiber_velocity",
        "activation",
        "active_force_length_multiplier",
        "force_velocity_multiplier",
        "active_fiber_force",
        "fiber_force",
        "tendon_force",
    ):
        x = getattr(sol, field)
        setattr(batched, field, jnp.stack([x, 2.0 * x if field == "active_fiber_force" else x]))
    many = _metrics.fiber_metrics(batched, jnp.asarray([0.5, 0.5]))
    assert many.active_stretch.shape == (2,)
    np.testing.assert_allclose(
        many.active_negative_work, [one.active_negative_work, 2 * one.active_negative_work]
    )

    def work(scale):
        s = _Solution()
        s.fiber_velocity = s.fiber_velocity * scale
        return _metrics.fiber_metrics(s, jnp.asarray(0.5)).active_negative_work

    # work is linear in the velocity scale on the lengthening samples
    assert float(jax.grad(work)(1.0)) == pytest.approx(float(work(1.0)), rel=1e-12)


def test_criteria_table_names_fields_of_the_metrics():
    fields = set(_metrics.MuscleMetrics.__dataclass_fields__)
    assert _criteria.CRITERION_NAMES == (
        "active_stretch",
        "active_negative_work",
        "peak_force",
        "active_lengthening_velocity",
        "end_range_length",
    )
    assert set(_criteria.CRITERION_NAMES) <= fields
    assert {c.unit for c in _criteria.CRITERIA} <= {"1", "J", "N"}
    with pytest.raises(KeyError, match="known"):
        _criteria.criterion("strain")


def test_utilisation_is_a_fraction_of_the_limit_and_never_nan():
    u = _criteria.utilisation([0.1, 0.0, 0.2, -0.05, 0.0], [0.2, 0.2, 0.0, 0.1, 0.0])
    np.testing.assert_array_equal(u, [0.5, 0.0, np.inf, 0.0, 0.0])
    assert not np.isnan(u).any()


def test_every_criterion_reference_resolves_in_the_registry():
    for c in _criteria.CRITERIA:
        for key in c.references:
            assert citations.reference(key)["doi"], (c.name, key)


def test_criteria_of_a_solved_fibre_match_their_definitions():
    """On a real (rigid-tendon, algebraic) solve of a biceps-femoris-like muscle
    (tests/test_fiber.py), each
    criterion equals its definition recomputed from the solution's time series."""
    params = MuscleParameters(
        2626.4, 0.1116, 0.3804, 0.1759, passive_fiber_strain_at_one_norm_force=0.707
    )
    t = np.linspace(0.0, 0.3, 61)
    length = 0.47 + 0.025 * np.sin(2 * np.pi * 2.5 * t)
    activation = 0.02 + 0.5 * np.sin(np.pi * t / 0.3) ** 4  # below the fraction at both ends
    sol = solve_fiber(params, t, length, activation=activation, tendon="rigid")
    m = _metrics.fiber_metrics(sol, jnp.asarray(0.47))
    force = np.asarray(sol.active_fiber_force) / params.max_isometric_force
    loaded = force >= _metrics.ACTIVE_FORCE_FRACTION
    assert 0 < loaded.sum() < loaded.size
    strain = np.asarray(sol.fiber_strain)
    assert float(m.active_stretch) == pytest.approx(strain[loaded].max(), abs=1e-12)
    v = np.asarray(sol.norm_fiber_velocity)
    assert float(m.active_lengthening_velocity) == pytest.approx(max(v[loaded].max(), 0), abs=1e-12)
    power = np.where(np.asarray(sol.fiber_velocity) > 0, force * params.max_isometric_force, 0)
    power = power * np.asarray(sol.fiber_velocity)
    assert float(m.active_negative_work) == pytest.approx(np.trapezoid(power, t), rel=1e-10)
