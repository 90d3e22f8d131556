"""Gradients with respect to the time scale (stride frequency) flow through solve_fiber."""

import jax
import jax.numpy as jnp
import pytest

from musclesim import MuscleParameters, solve_fiber


@pytest.mark.slow
def test_gradient_wrt_time_scale_matches_finite_differences():
    params = MuscleParameters(2626.4, 0.1116, 0.3804, 0.1759, fiber_damping=0.01)
    u = jnp.linspace(0.0, 1.0, 60)
    length = 0.46 + 0.03 * jnp.sin(4 * jnp.pi * u)
    activation = jnp.full(60, 0.3)

    def peak_fiber_length(duration):
        sol = solve_fiber(
            params, u * duration, length, activation=activation, rtol=1e-9, atol=1e-11
        )
        return jnp.max(sol.fiber_length)

    grad = float(jax.grad(peak_fiber_length)(0.8))
    h = 1e-4
    fd = float((peak_fiber_length(0.8 + h) - peak_fiber_length(0.8 - h)) / (2 * h))
    assert abs(grad - fd) <= 2e-3 * abs(fd) + 1e-9
