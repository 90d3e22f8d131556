"""Strain and load metrics of a fibre solution (pure JAX, differentiable, batched).

Definitions (``../shared/DESIGN.md``, "Strain definitions"; each reported under its own name):

* ``mtu_strain`` = L_MTU / L_MTU(upright pose) - 1 (Thelen et al. 2005, DOI
  10.1249/01.mss.0000155393.78744.86; Schache et al. 2012, DOI 10.1249/MSS.0b013e31823a1c6c);
* ``fiber_strain`` = l_M / l_opt - 1;
* ``peak_eccentric_fiber_strain`` = max of ``fiber_strain`` over samples where the fibre
  lengthens (normalised fibre velocity > ``lengthening_threshold``, default 0) while active
  (activation > ``activation_threshold``, default 0.05). NaN when no sample qualifies;
* ``peak_lengthening_velocity`` = max fibre velocity (m/s, + = lengthening);
* ``negative_work`` = work done on the fibres while they lengthen, J, reported as a positive
  magnitude: the integral of F_M v_M over samples with v_M > 0 (trapezoidal rule);
* ``peak_force`` = max tendon force (N).

All reductions run over the last axis (time). :func:`fiber_metrics` gathers every per-muscle
summary of a :class:`~musclesim.muscle.fiber.FiberSolution` into one :class:`MuscleMetrics`
pytree, so that every caller (one motion, a drill at many intensities, a differentiable
root-find) reads the same definitions.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

DEFAULT_ACTIVATION_THRESHOLD = 0.05  # DESIGN.md "Strain definitions"
DEFAULT_LENGTHENING_THRESHOLD = 0.0  # normalised fibre velocity (l_opt v_max / s)


def mtu_strain(mtu_length, upright_length):
    """L / L_upright - 1; ``upright_length`` broadcasts against ``mtu_length[..., :-1]``."""
    return mtu_length / jnp.expand_dims(upright_length, -1) - 1.0


def peak_mtu_strain(mtu_length, upright_length):
    """Largest :func:`mtu_strain` over time."""
    return jnp.max(mtu_strain(mtu_length, upright_length), axis=-1)


def peak_fiber_strain(fiber_strain):
    """Largest ``fiber_strain`` over time, whatever the fibre does."""
    return jnp.max(fiber_strain, axis=-1)


def peak_lengthening_velocity(fiber_velocity):
    """Largest fibre velocity over time (m/s, + = lengthening)."""
    return jnp.max(fiber_velocity, axis=-1)


def peak_force(tendon_force):
    """Largest tendon force over time (N)."""
    return jnp.max(tendon_force, axis=-1)


def eccentric_mask(
    norm_fiber_velocity,
    activation,
    *,
    activation_threshold=DEFAULT_ACTIVATION_THRESHOLD,
    lengthening_threshold=DEFAULT_LENGTHENING_THRESHOLD,
):
    """True where the fibre lengthens while active."""
    return (norm_fiber_velocity > lengthening_threshold) & (activation > activation_threshold)


def peak_where(values, mask):
    """Max of ``values`` over the last axis where ``mask``; NaN where the mask is empty.

    Returns ``(peak, index)``. The gradient flows through the selected sample only.
    """
    masked = jnp.where(mask, values, -jnp.inf)
    index = jnp.argmax(masked, axis=-1)
    peak = jnp.take_along_axis(values, index[..., None], axis=-1)[..., 0]
    any_ = jnp.any(mask, axis=-1)
    return jnp.where(any_, peak, jnp.nan), index


def peak_eccentric_fiber_strain(fiber_strain, norm_fiber_velocity, activation, **thresholds):
    """(peak, index) of fibre strain over lengthening-while-active samples (see module doc)."""
    return peak_where(fiber_strain, eccentric_mask(norm_fiber_velocity, activation, **thresholds))


def negative_work(time, fiber_force, fiber_velocity):
    """Work done on the fibres while they lengthen (J, >= 0): trapz of F v where v > 0."""
    power = jnp.where(fiber_velocity > 0, fiber_force * fiber_velocity, 0.0)
    dt = jnp.diff(time)
    return jnp.sum(0.5 * (power[..., 1:] + power[..., :-1]) * dt, axis=-1)


class MuscleMetrics(eqx.Module):
    """Every per-muscle summary of a fibre solution (the module's definitions), each an array
    of the solution's batch shape; ``peak_eccentric_index`` is the time index of
    ``peak_eccentric_fiber_strain`` (meaningless where that is NaN)."""

    peak_mtu_strain: jax.Array
    peak_fiber_strain: jax.Array
    peak_eccentric_fiber_strain: jax.Array
    peak_eccentric_index: jax.Array
    peak_lengthening_velocity: jax.Array
    negative_work: jax.Array
    peak_force: jax.Array


def fiber_metrics(
    solution,
    upright_length,
    *,
    activation_threshold=DEFAULT_ACTIVATION_THRESHOLD,
    lengthening_threshold=DEFAULT_LENGTHENING_THRESHOLD,
) -> MuscleMetrics:
    """The :class:`MuscleMetrics` of ``solution``, a
    :class:`~musclesim.muscle.fiber.FiberSolution`.

    ``upright_length`` (m) is the MTU length at the upright pose, broadcasting against the
    solution's batch shape; the thresholds are those of ``peak_eccentric_fiber_strain``.
    Pure JAX: differentiable through every peak (the gradient flows through the selected
    sample).
    """
    peak_ecc, ecc_index = peak_eccentric_fiber_strain(
        solution.fiber_strain,
        solution.norm_fiber_velocity,
        solution.activation,
        activation_threshold=activation_threshold,
        lengthening_threshold=lengthening_threshold,
    )
    return MuscleMetrics(
        peak_mtu_strain=peak_mtu_strain(solution.mtu_length, upright_length),
        peak_fiber_strain=peak_fiber_strain(solution.fiber_strain),
        peak_eccentric_fiber_strain=peak_ecc,
        peak_eccentric_index=ecc_index,
        peak_lengthening_velocity=peak_lengthening_velocity(solution.fiber_velocity),
        negative_work=negative_work(solution.time, solution.fiber_force, solution.fiber_velocity),
        peak_force=peak_force(solution.tendon_force),
    )
