"""Concrete arrays to and from JAX without compiling anything.

Every ``jax.numpy`` operation run eagerly on a concrete array compiles a small XLA program for
each new shape and dtype (10-40 ms each on an empty compilation cache); in JAX 0.10 that
includes ``jnp.asarray`` of a NumPy array. Code that prepares models and inputs (loading,
selecting muscles, domain masks) therefore does its indexing in NumPy and transfers the result
with :func:`to_device`, keeping the JAX operation for traced arrays (under ``jit``/``grad``).
"""

from __future__ import annotations

import jax
import numpy as np


def to_device(x) -> jax.Array:
    """A NumPy array or scalar (or a Python scalar) as a JAX array, by a plain transfer: the
    same dtype (canonicalised) and weak type as ``jnp.asarray(x)``, which in JAX 0.10 instead
    runs a small XLA program compiled anew for each shape and dtype (10-40 ms each on an
    empty compilation cache; loading and selecting a model made about a hundred of them)."""
    if not isinstance(x, (np.ndarray, np.generic, bool, int, float)):
        x = np.asarray(x)
    return jax.device_put(x)


def index_array(x: jax.Array, index) -> jax.Array:
    """``x[index]``: in NumPy (then transferred, :func:`to_device`) for a concrete array, so
    that no XLA program is compiled; in JAX for a traced array or a weakly typed one (NumPy
    would drop the weak type). ``index`` is a NumPy index (no JAX array)."""
    if isinstance(x, jax.core.Tracer) or getattr(x, "weak_type", False):
        return x[index]
    return to_device(np.asarray(x)[index])
