"""Strain and load metrics of a fibre solution (pure JAX, differentiable, batched).

Definitions (``../shared/DESIGN.md``, "Strain definitions"; each reported under its own name):

* ``mtu_strain`` = L_MTU / L_MTU(upright pose) - 1 (Thelen et al. 2005 and Schache et al.
  2012; their DOIs in ``musclesim/core/references.toml``, keys ``thelen2005``, ``schache2012``);
* ``fiber_strain`` = l_M / l_opt - 1;
* ``peak_eccentric_fiber_strain`` = max of ``fiber_strain`` over samples where the fibre
  lengthens (normalised fibre velocity > ``lengthening_threshold``, default 0) while active
  (activation > ``activation_threshold``, default 0.05). NaN when no sample qualifies;
* ``peak_lengthening_velocity`` = max fibre velocity (m/s, + = lengthening);
* ``negative_work`` = work done on the fibres while they lengthen, J, reported as a positive
  magnitude: the integral of F_M v_M over samples with v_M > 0 (trapezoidal rule);
* ``peak_force`` = max tendon force (N).

Tissue-load criteria (DESIGN.md, "Tissue-load criteria"). A sample is *actively loaded* when the
active fibre force a f_L f_V F_max (along the fibre) is at least ``ACTIVE_FORCE_FRACTION`` x
F_max; the criteria read the normalised active force a f_L f_V from the solution, so they need
no muscle parameters:

* ``active_stretch`` = max of ``fiber_strain`` over actively loaded samples, with its time index
  (``active_stretch_index``) and whether l_M / l_opt lies beyond the peak of the active
  force-length curve there (``active_stretch_descending``);
* ``active_negative_work`` = the integral of the ACTIVE fibre force times v_M over samples with
  v_M > 0 (J, positive magnitude, trapezoidal rule): the work the active fibre absorbs while it
  is stretched, over the whole trajectory (callers divide by the repetitions simulated);
* ``active_lengthening_velocity`` = max of v_M / (v_max l_opt) over actively loaded samples,
  floored at 0 (a muscle loaded only while shortening has 0);
* ``end_range_length`` = ``peak_mtu_strain`` under the criterion's name: the passive end-range
  stretch of the whole musculotendon unit;
* ``loads_muscle`` = whether any sample is actively loaded.

Where no sample is actively loaded the three active criteria are 0 (never NaN) and
``loads_muscle`` says why; "does not load the muscle" is a status, not a number.

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

#: Active fibre force, as a fraction of F_max, from which a sample counts as actively loaded.
#: It is DESIGN.md's activation threshold (0.05) carried over to force: the active force of a
#: muscle activated at 0.05, isometric at optimal length. Counting force rather than activation
#: is what separates a stretched but nearly silent fibre (activation 0.05 at 1.5 l_opt gives
#: f_L = 0.23, so 0.011 F_max) from a contracting one: muscle damage follows the strain of the
#: fibre while it produces active force, not passive stretch (Lieber & Friden 1993, DOI
#: 10.1152/jappl.1993.74.2.520).
ACTIVE_FORCE_FRACTION = 0.05
#: Normalised fibre length of the peak of the active force-length curve, beyond which a fibre is
#: on the descending limb: l_opt is by its definition (OpenSim's ``optimal_fiber_length``) the
#: length of peak active isometric force. The De Groote 2016 curve with OpenSim's constants
#: peaks a little beyond it, at 1.013 l_opt with f_L = 1.0011 (evaluated from
#: :func:`musclesim.muscle.curves.active_force_length`); tests/test_criteria.py checks that
#: f_L falls beyond 1.02.
ACTIVE_FORCE_LENGTH_PEAK = 1.0


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


def normalised_active_force(activation, force_length_multiplier, force_velocity_multiplier):
    """a f_L f_V: the active fibre force along the fibre as a fraction of F_max."""
    return activation * force_length_multiplier * force_velocity_multiplier


def active_mask(norm_active_force, *, fraction=ACTIVE_FORCE_FRACTION):
    """True where the muscle is actively loaded: a f_L f_V >= ``fraction``."""
    return norm_active_force >= fraction


def active_stretch(fiber_strain, norm_fiber_length, mask):
    """(strain, index, descending) of the largest fibre strain over actively loaded samples.

    0, index 0 and False where no sample is loaded. ``descending`` is True where l_M / l_opt at
    that sample exceeds ``ACTIVE_FORCE_LENGTH_PEAK``.
    """
    peak, index = peak_where(fiber_strain, mask)
    any_ = jnp.any(mask, axis=-1)
    length = jnp.take_along_axis(norm_fiber_length, index[..., None], axis=-1)[..., 0]
    return (
        jnp.where(any_, peak, 0.0),
        jnp.where(any_, index, 0),
        any_ & (length > ACTIVE_FORCE_LENGTH_PEAK),
    )


def active_negative_work(time, active_fiber_force, fiber_velocity):
    """Work the active fibre force absorbs while the fibre lengthens (J, >= 0): trapz of
    F_active v_M where v_M > 0 (:func:`negative_work` of the active force)."""
    return negative_work(time, active_fiber_force, fiber_velocity)


def active_lengthening_velocity(norm_fiber_velocity, mask):
    """Largest v_M / (v_max l_opt) over actively loaded samples, floored at 0."""
    masked = jnp.where(mask, norm_fiber_velocity, 0.0)
    return jnp.maximum(jnp.max(masked, axis=-1), 0.0)


class MuscleMetrics(eqx.Module):
    """Every per-muscle summary of a fibre solution (the module's definitions), each an array
    of the solution's batch shape; ``peak_eccentric_index`` is the time index of
    ``peak_eccentric_fiber_strain`` (meaningless where that is NaN). The tissue-load criteria
    (``active_stretch`` ... ``loads_muscle``) are never NaN."""

    peak_mtu_strain: jax.Array
    peak_fiber_strain: jax.Array
    peak_eccentric_fiber_strain: jax.Array
    peak_eccentric_index: jax.Array
    peak_lengthening_velocity: jax.Array
    negative_work: jax.Array
    peak_force: jax.Array
    active_stretch: jax.Array
    active_stretch_index: jax.Array
    active_stretch_descending: jax.Array
    active_negative_work: jax.Array
    active_lengthening_velocity: jax.Array
    end_range_length: jax.Array
    loads_muscle: jax.Array


def fiber_metrics(
    solution,
    upright_length,
    *,
    activation_threshold=DEFAULT_ACTIVATION_THRESHOLD,
    lengthening_threshold=DEFAULT_LENGTHENING_THRESHOLD,
    counted=None,
) -> MuscleMetrics:
    """The :class:`MuscleMetrics` of ``solution``, a
    :class:`~musclesim.muscle.fiber.FiberSolution`.

    ``upright_length`` (m) is the MTU length at the upright pose, broadcasting against the
    solution's batch shape; the thresholds are those of ``peak_eccentric_fiber_strain``.
    ``counted`` (optional, boolean, broadcasting against ``batch + (time,)``) restricts the
    tissue-load criteria and the peak force to those samples, e.g. the cycles after the
    first of a cyclic motion, whose start from a static equilibrium is a transient of the
    simulation, not of the movement; the other fields use every sample.
    Pure JAX: differentiable through every peak (the gradient flows through the selected
    sample).
    """
    counted = True if counted is None else jnp.asarray(counted, dtype=bool)
    peak_ecc, ecc_index = peak_eccentric_fiber_strain(
        solution.fiber_strain,
        solution.norm_fiber_velocity,
        solution.activation,
        activation_threshold=activation_threshold,
        lengthening_threshold=lengthening_threshold,
    )
    mask = counted & active_mask(
        normalised_active_force(
            solution.activation,
            solution.active_force_length_multiplier,
            solution.force_velocity_multiplier,
        )
    )
    loaded = jnp.any(mask, axis=-1)
    stretch, stretch_index, descending = active_stretch(
        solution.fiber_strain, solution.norm_fiber_length, mask
    )
    work = active_negative_work(
        solution.time,
        jnp.where(counted, solution.active_fiber_force, 0.0),
        solution.fiber_velocity,
    )
    all_samples = peak_mtu_strain(solution.mtu_length, upright_length)
    strain = mtu_strain(solution.mtu_length, upright_length)
    end_range = jnp.max(jnp.where(counted, strain, -jnp.inf), axis=-1)
    force = jnp.max(jnp.where(counted, solution.tendon_force, -jnp.inf), axis=-1)
    return MuscleMetrics(
        peak_mtu_strain=all_samples,
        peak_fiber_strain=peak_fiber_strain(solution.fiber_strain),
        peak_eccentric_fiber_strain=peak_ecc,
        peak_eccentric_index=ecc_index,
        peak_lengthening_velocity=peak_lengthening_velocity(solution.fiber_velocity),
        negative_work=negative_work(solution.time, solution.fiber_force, solution.fiber_velocity),
        peak_force=force,
        active_stretch=stretch,
        active_stretch_index=stretch_index,
        active_stretch_descending=descending,
        active_negative_work=jnp.where(loaded, work, 0.0),
        active_lengthening_velocity=active_lengthening_velocity(solution.norm_fiber_velocity, mask),
        end_range_length=end_range,
        loads_muscle=loaded,
    )
