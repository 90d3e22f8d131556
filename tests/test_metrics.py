"""Strain and load metrics of a fibre solution: masked peaks, work, and the gathered set."""

import jax.numpy as jnp
import numpy as np
import pytest

from musclesim.muscle import metrics as _metrics


def test_peak_where_masks_and_reports_nan_when_empty():
    values = jnp.asarray([[0.1, 0.5, 0.3], [0.2, 0.1, 0.0]])
    mask = jnp.asarray([[True, False, True], [False, False, False]])
    peak, index = _metrics.peak_where(values, mask)
    assert float(peak[0]) == 0.3 and int(index[0]) == 2
    assert np.isnan(float(peak[1]))


def test_negative_work_integrates_lengthening_power_only():
    t = jnp.linspace(0.0, 1.0, 1001)
    velocity = jnp.sin(2 * jnp.pi * t)  # lengthening in the first half
    force = jnp.full_like(t, 100.0)
    work = float(_metrics.negative_work(t, force, velocity))
    assert abs(work - 100.0 / jnp.pi) < 1e-3  # 100 * integral_0^0.5 sin(2 pi t) dt


def test_eccentric_mask_uses_both_thresholds():
    v = jnp.asarray([0.1, 0.1, -0.1])
    a = jnp.asarray([0.5, 0.01, 0.5])
    np.testing.assert_array_equal(_metrics.eccentric_mask(v, a), [True, False, False])


def test_peak_mtu_strain_uses_each_muscles_upright_length():
    lengths = jnp.asarray([[0.50, 0.55, 0.52], [0.30, 0.27, 0.33]])  # [muscle, time] (m)
    upright = jnp.asarray([0.50, 0.30])
    np.testing.assert_allclose(_metrics.peak_mtu_strain(lengths, upright), [0.1, 0.1], rtol=1e-12)
    # a batch of two athletes in front of the muscle axis, each with its own upright lengths
    both = _metrics.peak_mtu_strain(
        jnp.stack([lengths, 2 * lengths]), jnp.stack([upright, upright])
    )
    np.testing.assert_allclose(both, [[0.1, 0.1], [1.2, 1.2]], rtol=1e-12)


def test_fiber_metrics_reads_each_definition_from_the_solution():
    """One sample lengthens while active (strain 0.2), one lengthens passively (strain 0.4, not
    eccentric), one shortens while active (strain 0.3)."""

    class Solution:  # the FiberSolution fields fiber_metrics reads
        time = jnp.asarray([0.0, 0.1, 0.2, 0.3])
        mtu_length = jnp.asarray([0.50, 0.52, 0.56, 0.51])
        fiber_strain = jnp.asarray([0.0, 0.2, 0.4, 0.3])
        norm_fiber_velocity = jnp.asarray([0.0, 0.5, 0.5, -0.5])
        fiber_velocity = jnp.asarray([0.0, 0.5, 0.5, -0.5])
        activation = jnp.asarray([0.5, 0.5, 0.01, 0.5])
        fiber_force = jnp.asarray([100.0, 100.0, 10.0, 100.0])
        norm_fiber_length = fiber_strain + 1.0
        active_force_length_multiplier = jnp.ones(4)
        force_velocity_multiplier = jnp.ones(4)
        active_fiber_force = fiber_force
        tendon_force = jnp.asarray([100.0, 110.0, 20.0, 105.0])

    m = _metrics.fiber_metrics(Solution, jnp.asarray(0.5))
    assert float(m.peak_eccentric_fiber_strain) == 0.2 and int(m.peak_eccentric_index) == 1
    assert float(m.peak_fiber_strain) == 0.4
    assert float(m.peak_mtu_strain) == pytest.approx(0.12, rel=1e-12)
    assert float(m.peak_force) == 110.0 and float(m.peak_lengthening_velocity) == 0.5
    # trapezoids of F v over v > 0: (0 + 50)/2 * 0.1 + (50 + 5)/2 * 0.1 + (5 + 0)/2 * 0.1
    assert float(m.negative_work) == pytest.approx(5.5, rel=1e-12)
