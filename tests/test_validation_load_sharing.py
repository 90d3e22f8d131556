"""The small pieces of the load-sharing validations: cross-correlation lag and stride split."""

from __future__ import annotations

import numpy as np
import pytest

from validation.load_sharing_emg import MAX_LAG_S, lag_and_correlation
from validation.load_sharing_sprint import _strides


@pytest.mark.parametrize("shift_s", [-0.08, 0.0, 0.05])
def test_lag_recovers_a_known_shift(shift_s):
    t = np.arange(0.0, 3.0, 0.001)
    burst = np.exp(-(((t % 0.7) - 0.3) ** 2) / 0.002)
    later = np.exp(-((((t - shift_s) % 0.7) - 0.3) ** 2) / 0.002)
    lag, r = lag_and_correlation(t, later, burst)
    assert lag == pytest.approx(shift_s, abs=1.5e-3)
    assert -1.0 <= r <= 1.0
    assert abs(lag) <= MAX_LAG_S


def test_strides_split_where_the_phase_restarts():
    phase = np.array([np.nan, 10, 50, 90, 5, 40, 80, np.nan, 20, 60])
    np.testing.assert_array_equal(_strides(phase), [-1, 0, 0, 0, 1, 1, 1, -1, 2, 2])
