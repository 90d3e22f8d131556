import jax.numpy as jnp
import numpy as np

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
