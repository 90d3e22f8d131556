"""Cubic interpolating splines in JAX, for prescribed signals (MTU length) and their rates.

Two end conditions are offered because users compare against OpenSim:

``"natural"``
    Zero second derivative at both ends (the textbook choice).
``"opensim"``
    The end condition of OpenSim's ``SimmSpline`` (the usual way to prescribe a coordinate):
    the spline's third derivative at each end equals the third divided difference of the four
    end samples (Forsythe, Malcolm & Moler 1977, *Computer Methods for Mathematical
    Computations*, ch. 4, routine SPLINE). With fewer than four samples both end rows fall back
    to a zero right-hand side.

Both extrapolate linearly with the end slope, as ``SimmSpline`` does.

In terms of sigma_i = S''(x_i)/6 and h_i = x_{i+1} - x_i, Delta_i = (y_{i+1} - y_i)/h_i, the
interior rows read ``h_{i-1} sigma_{i-1} + 2(h_{i-1} + h_i) sigma_i + h_i sigma_{i+1} =
Delta_i - Delta_{i-1}`` and the polynomial on [x_i, x_{i+1}] is
``y_i + b_i dx + 3 sigma_i dx^2 + (sigma_{i+1} - sigma_i)/h_i dx^3`` with
``b_i = Delta_i - h_i (sigma_{i+1} + 2 sigma_i)``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .errors import InputError

END_CONDITIONS = ("natural", "opensim")


class CubicSpline(eqx.Module):
    """Piecewise-cubic interpolant of samples ``y[..., n]`` at knots ``x[n]`` (batched over y).

    Coefficients ``b, c, d`` have the shape of ``y``; evaluate with :meth:`value` and
    :meth:`derivative` at scalar or array ``t``.
    """

    x: jax.Array
    y: jax.Array
    b: jax.Array
    c: jax.Array
    d: jax.Array

    def _segment(self, t):
        n = self.x.shape[0]
        k = jnp.clip(jnp.searchsorted(self.x, t, side="right") - 1, 0, n - 2)
        return k, t - self.x[k]

    def value(self, t: jax.Array) -> jax.Array:
        """S(t); linear extrapolation with the end slopes outside [x_0, x_{n-1}]."""
        t = jnp.asarray(t)
        k, dx = self._segment(t)
        inside = self.y[..., k] + dx * (
            self.b[..., k] + dx * (self.c[..., k] + dx * self.d[..., k])
        )
        end = _end_values(t)
        before = end(self.y, 0) + (t - self.x[0]) * end(self.b, 0)
        after = end(self.y, -1) + (t - self.x[-1]) * end(self.b, -1)
        return jnp.where(t < self.x[0], before, jnp.where(t > self.x[-1], after, inside))

    def derivative(self, t: jax.Array) -> jax.Array:
        """S'(t); the end slope outside [x_0, x_{n-1}]."""
        t = jnp.asarray(t)
        k, dx = self._segment(t)
        inside = self.b[..., k] + dx * (2.0 * self.c[..., k] + 3.0 * dx * self.d[..., k])
        end = _end_values(t)
        return jnp.where(
            t < self.x[0], end(self.b, 0), jnp.where(t > self.x[-1], end(self.b, -1), inside)
        )


def _end_values(t):
    """Index the knot axis of a coefficient array and append singleton axes for ``t``'s."""
    return lambda a, i: a[..., i].reshape(a.shape[:-1] + (1,) * t.ndim)


def _third_divided_difference(x, y):
    """f[x0, x1, x2, x3] for the first four samples along the last axis."""
    d01 = (y[..., 1] - y[..., 0]) / (x[1] - x[0])
    d12 = (y[..., 2] - y[..., 1]) / (x[2] - x[1])
    d23 = (y[..., 3] - y[..., 2]) / (x[3] - x[2])
    d012 = (d12 - d01) / (x[2] - x[0])
    d123 = (d23 - d12) / (x[3] - x[1])
    return (d123 - d012) / (x[3] - x[0])


def cubic_spline(x: jax.Array, y: jax.Array, *, end_condition: str = "natural") -> CubicSpline:
    """Fit a cubic spline through ``(x, y)``; ``x`` strictly increasing, ``y[..., n]``.

    Args:
        x: knots, shape ``(n,)``, n >= 2, strictly increasing.
        y: samples, shape ``(..., n)``; leading dimensions are independent signals.
        end_condition: ``"natural"`` or ``"opensim"`` (``SimmSpline``'s), see module docstring.
    """
    if end_condition not in END_CONDITIONS:
        raise InputError(
            f"unknown spline end condition {end_condition!r}",
            field="end_condition",
            expected=f"one of {END_CONDITIONS}",
        )
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    n = x.shape[0]
    h = jnp.diff(x)
    delta = jnp.diff(y, axis=-1) / h
    if n == 2:
        slope = jnp.broadcast_to(delta, y.shape)
        zeros = jnp.zeros_like(y)
        return CubicSpline(x, y, slope, zeros, zeros)

    # Tridiagonal system for sigma (n unknowns).
    diag_interior = 2.0 * (h[:-1] + h[1:])
    rhs_interior = delta[..., 1:] - delta[..., :-1]
    if end_condition == "natural":
        diag = jnp.concatenate([jnp.ones(1), diag_interior, jnp.ones(1)])
        lower = jnp.concatenate([jnp.zeros(1), h[:-1], jnp.zeros(1)])  # lower[0] unused
        upper = jnp.concatenate([jnp.zeros(1), h[1:], jnp.zeros(1)])  # upper[-1] unused
        zero = jnp.zeros(y.shape[:-1] + (1,))
        rhs = jnp.concatenate([zero, rhs_interior, zero], axis=-1)
    else:
        # first row: -h0 s0 + h0 s1 = h0^2 f[x0..x3]
        # last row: h_{n-2} s_{n-2} - h_{n-2} s_{n-1} = -h_{n-2}^2 f[x_{n-4}..x_{n-1}]
        diag = jnp.concatenate([-h[:1], diag_interior, -h[-1:]])
        lower = jnp.concatenate([jnp.zeros(1), h])
        upper = jnp.concatenate([h, jnp.zeros(1)])
        if n > 3:
            first = (h[0] ** 2 * _third_divided_difference(x[:4], y[..., :4]))[..., None]
            last = (-(h[-1] ** 2) * _third_divided_difference(x[-4:], y[..., -4:]))[..., None]
        else:
            first = last = jnp.zeros(y.shape[:-1] + (1,))
        rhs = jnp.concatenate([first, rhs_interior, last], axis=-1)

    batch = rhs.shape[:-1]
    rhs_2d = rhs.reshape(-1, n).T  # (n, batch)
    sigma = jax.lax.linalg.tridiagonal_solve(lower, diag, upper, rhs_2d)
    sigma = sigma.T.reshape(batch + (n,))

    b_inner = delta - h * (sigma[..., 1:] + 2.0 * sigma[..., :-1])
    b_last = delta[..., -1:] + h[-1] * (sigma[..., -2:-1] + 2.0 * sigma[..., -1:])
    b = jnp.concatenate([b_inner, b_last], axis=-1)
    c = 3.0 * sigma
    d_inner = (sigma[..., 1:] - sigma[..., :-1]) / h
    d = jnp.concatenate([d_inner, d_inner[..., -1:]], axis=-1)
    return CubicSpline(x, y, b, c, d)
