"""OpenSim's coordinate functions (``Constant``, ``LinearFunction``, ``PolynomialFunction``,
``SimmSpline``, ``MultiplierFunction``) read from ``.osim`` XML into JAX-evaluable pytrees,
with the joint types the skeleton reader supports. A function the reader does not know is
refused with an :class:`~musclesim.core.errors.InputError` naming the element.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.errors import InputError
from ..core.spline import CubicSpline, cubic_spline

#: Joint types that :func:`load_dynamics_model` understands.
SUPPORTED_JOINTS = ("CustomJoint", "PinJoint", "SliderJoint", "UniversalJoint", "WeldJoint")


class AbstractFunction(eqx.Module):
    """A scalar function of one coordinate value, evaluated with JAX (differentiable)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError


class ConstantFunction(AbstractFunction):
    """OpenSim ``Constant``: f(x) = value."""

    value: jax.Array

    def __call__(self, x):
        return self.value + 0.0 * x


class LinearFunction(AbstractFunction):
    """OpenSim ``LinearFunction`` with ``coefficients = (slope, intercept)``."""

    slope: jax.Array
    intercept: jax.Array

    def __call__(self, x):
        return self.slope * x + self.intercept


class PolynomialFunction(AbstractFunction):
    """OpenSim ``PolynomialFunction``; coefficients from the highest power to the constant."""

    coefficients: jax.Array

    def __call__(self, x):
        out = 0.0 * x
        for k in range(self.coefficients.shape[0]):
            out = out * x + self.coefficients[k]
        return out


class SplineFunction(AbstractFunction):
    """OpenSim ``SimmSpline``: the coefficients of :func:`musclesim.core.spline.cubic_spline` with
    its ``"opensim"`` end condition, linear extrapolation with the end slopes.

    Evaluated here with a comparison count for the segment index (no ``searchsorted`` loop),
    which keeps the compiled forward kinematics small; values equal ``CubicSpline.value``.
    """

    spline: CubicSpline

    def __call__(self, x):
        s = self.spline
        n = s.x.shape[0]
        k = jnp.clip(jnp.sum(s.x <= x) - 1, 0, n - 2)
        dx = x - s.x[k]
        inside = s.y[k] + dx * (s.b[k] + dx * (s.c[k] + dx * s.d[k]))
        before = s.y[0] + (x - s.x[0]) * s.b[0]
        after = s.y[-1] + (x - s.x[-1]) * s.b[-1]
        return jnp.where(x < s.x[0], before, jnp.where(x > s.x[-1], after, inside))


class MultiplierFunction(AbstractFunction):
    """OpenSim ``MultiplierFunction``: scale · f(x)."""

    function: AbstractFunction
    scale: jax.Array

    def __call__(self, x):
        return self.scale * self.function(x)


def _floats(text: str | None, *, path, field: str, n: int | None = None) -> np.ndarray:
    try:
        values = np.array([float(v) for v in (text or "").split()], dtype=np.float64)
    except ValueError as exc:
        raise InputError(
            f"{text!r} is not a list of numbers", path=path, field=field, expected="numbers"
        ) from exc
    if n is not None and values.size != n:
        raise InputError(f"{values.size} values", path=path, field=field, expected=f"{n} numbers")
    if not np.all(np.isfinite(values)):
        raise InputError("non-finite value", path=path, field=field, expected="finite numbers")
    return values


def parse_function(element: ET.Element, *, path, field: str) -> AbstractFunction:
    """The JAX function for an OpenSim function element (``<LinearFunction>``, ...)."""
    tag = element.tag
    if tag == "function":  # OpenSim 3 layout: <function><LinearFunction>...</function>
        inner = list(element)
        if len(inner) != 1:
            raise InputError("empty <function>", path=path, field=field, expected="a function")
        return parse_function(inner[0], path=path, field=field)
    here = f"{field}/{tag}"
    if tag == "Constant":
        return ConstantFunction(
            jnp.asarray(
                _floats(element.findtext("value"), path=path, field=here + "/value", n=1)[0]
            )
        )
    if tag == "LinearFunction":
        c = _floats(element.findtext("coefficients"), path=path, field=here, n=2)
        return LinearFunction(jnp.asarray(c[0]), jnp.asarray(c[1]))
    if tag == "PolynomialFunction":
        c = _floats(element.findtext("coefficients"), path=path, field=here)
        if c.size == 0:
            raise InputError("no coefficients", path=path, field=here, expected="≥ 1 number")
        return PolynomialFunction(jnp.asarray(c))
    if tag == "SimmSpline":
        x = _floats(element.findtext("x"), path=path, field=here + "/x")
        y = _floats(element.findtext("y"), path=path, field=here + "/y", n=x.size)
        if x.size < 2 or np.any(np.diff(x) <= 0):
            raise InputError(
                "knots not strictly increasing",
                path=path,
                field=here + "/x",
                expected="≥ 2 strictly increasing knots",
            )
        return SplineFunction(cubic_spline(jnp.asarray(x), jnp.asarray(y), end_condition="opensim"))
    if tag == "MultiplierFunction":
        holder = element.find("function")
        if holder is None or len(holder) != 1:
            raise InputError("no inner <function>", path=path, field=here, expected="a function")
        scale = _floats(element.findtext("scale") or "1", path=path, field=here + "/scale", n=1)
        return MultiplierFunction(
            parse_function(holder[0], path=path, field=here), jnp.asarray(scale[0])
        )
    raise InputError(
        f"unsupported function type <{tag}>",
        path=path,
        field=field,
        expected="Constant, LinearFunction, PolynomialFunction, SimmSpline or MultiplierFunction",
    )
