"""De Groote et al. (2016) muscle and tendon curves, in JAX.

Reference: De Groote F, Kinney AL, Rao AV, Fregly BJ (2016). Evaluation of direct collocation
optimal control problem formulations for solving the muscle redundancy problem. Annals of
Biomedical Engineering 44(10):2922-2936. DOI 10.1007/s10439-016-1591-9 (supplement, eqs. S1-S6).

Every curve is a pure function of normalised quantities:

* normalised fibre length ``l~M = l_M / l_opt``;
* normalised fibre velocity ``v~M = v_M / (v_max l_opt)`` (+ = lengthening);
* normalised tendon length ``l~T = l_T / l_ts``;
* normalised force ``F / F_max``.

Two named constant sets exist (``CONSTANT_SETS``):

``"opensim"`` (the default)
    The constants of ``OpenSim::DeGrooteFregly2016Muscle`` (opensim-core,
    ``OpenSim/Actuators/DeGrooteFregly2016Muscle.h``): active force-length constants from the
    authors' code with b11 re-solved so that f_L(1) = 1; force-velocity d1 and d4 re-solved so
    that f_V(0) = 1 and f_V(-1) = 0; tendon c2 = 1.0 and c3 = 0.2 so that the tendon force is 0
    at zero strain; passive curve offset so that f_PE(0.2) = 0. Parity checks against OpenSim
    are exact with this set.
``"published"``
    The constants as printed in the paper's supplement (rounded). f_L(1) = 0.99414,
    f_V(0) = 1.00232, tendon force at zero strain -0.0118 with k_T = 35 (-0.0130 with the
    k_T = 33.94 that e_T = 0.049 gives), passive curve zero at l~M = 1. The active curves differ
    from OpenSim's by up to 1.3 % of F_max; the passive curves by a nearly constant 1.8 % of
    F_max below optimal length (they are zero at 1.0 instead of 0.2), so total forces along a
    sprint differ by about 2 % of F_max.

Departures from the paper, shared by both sets: the tendon stiffness k_T is derived from
``tendon_strain_at_one_norm_force`` (k_T = ln((1 + c3)/c1) / (1 + e_T - c2)) rather than fixed at
35, as OpenSim does, so that one parameter (with OpenSim's name) sets the tendon; with the
published constants and e_T = 0.049 this gives k_T = 33.94 (k_T = 35 corresponds to
e_T = 0.0474). The Gaussian-like active terms use the squared denominator (the supplement's
typo, noted in OpenSim's header, is not reproduced).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ..core.errors import InputError

#: Smallest squared width of a Gaussian-like active-force term (dimensionless). On the
#: documented domain (l~M >= 0.2) the smallest width is 0.0101, squared 1.0e-4, so the floor
#: never binds there; it keeps value and gradient finite for shorter fibres.
MIN_GAUSSIAN_WIDTH_SQUARED = 1e-8
#: Normalised tendon force below which the inverse tendon curve is not evaluated
#: (the curve's asymptote is -c3; the floor sits 1e-9 above it).
MIN_TENDON_FORCE_ABOVE_ASYMPTOTE = 1e-9


@dataclasses.dataclass(frozen=True)
class DeGroote2016Constants:
    """One named set of De Groote 2016 curve constants (notation of the paper's supplement).

    ``b`` holds the active force-length constants as three (b1, b2, b3, b4) rows; ``kpe`` the
    passive shape factor; ``passive_zero_length`` the normalised fibre length at which the
    passive curve is 0; ``c1, c2, c3`` the tendon constants; ``d1..d4`` the force-velocity
    constants; ``min_norm_fiber_length``/``max_norm_fiber_length`` OpenSim's stated domain.
    Frozen and hashable, so it is a static (compile-time) choice under ``jax.jit``.
    """

    name: str
    b: tuple[tuple[float, float, float, float], ...]
    kpe: float
    passive_zero_length: float
    c1: float
    c2: float
    c3: float
    d1: float
    d2: float
    d3: float
    d4: float
    min_norm_fiber_length: float = 0.2
    max_norm_fiber_length: float = 1.8
    source: str = ""


#: OpenSim's re-solved constants (opensim-core DeGrooteFregly2016Muscle.h, 2026-08 snapshot).
OPENSIM = DeGroote2016Constants(
    name="opensim",
    b=(
        (0.8150671134243542, 1.055033428970575, 0.162384573599574, 0.063303448465465),
        (0.433004984392647, 0.716775413397760, -0.029947116970696, 0.200356847296188),
        (0.1, 1.0, 0.353553390593274, 0.0),  # b33 = 0.5 * sqrt(0.5)
    ),
    kpe=4.0,
    passive_zero_length=0.2,
    c1=0.200,
    c2=1.0,
    c3=0.200,
    d1=-0.3211346127989808,
    d2=-8.149,
    d3=-0.374,
    d4=0.8825327733249912,
    source="opensim-core OpenSim/Actuators/DeGrooteFregly2016Muscle.h (re-solved constants)",
)

#: The constants printed in De Groote et al. 2016's supplement (DOI 10.1007/s10439-016-1591-9).
PUBLISHED = DeGroote2016Constants(
    name="published",
    b=(
        (0.814, 1.06, 0.162, 0.0633),
        (0.433, 0.717, -0.0299, 0.2),
        (0.1, 1.0, 0.354, 0.0),
    ),
    kpe=4.0,
    passive_zero_length=1.0,
    c1=0.200,
    c2=0.995,
    c3=0.250,
    d1=-0.318,
    d2=-8.149,
    d3=-0.374,
    d4=0.886,
    source="De Groote et al. 2016, Ann Biomed Eng 44:2922, supplement "
    "(DOI 10.1007/s10439-016-1591-9)",
)

CONSTANT_SETS = {"opensim": OPENSIM, "published": PUBLISHED}


def get_constants(constants: str | DeGroote2016Constants) -> DeGroote2016Constants:
    """Look a constant set up by name (``"opensim"`` or ``"published"``) or pass one through."""
    if isinstance(constants, DeGroote2016Constants):
        return constants
    try:
        return CONSTANT_SETS[constants]
    except KeyError:
        raise InputError(
            f"unknown constant set {constants!r}",
            field="constants",
            expected=f"one of {sorted(CONSTANT_SETS)}",
        ) from None


def _gaussian_like(x, b1, b2, b3, b4):
    width_squared = jnp.maximum((b3 + b4 * x) ** 2, MIN_GAUSSIAN_WIDTH_SQUARED)
    return b1 * jnp.exp(-0.5 * (x - b2) ** 2 / width_squared)


def active_force_length(
    norm_fiber_length: jax.Array, *, width_scale=1.0, constants=OPENSIM
) -> jax.Array:
    r"""Active force-length multiplier f_L(l~M) (De Groote 2016, eq. S2).

    .. math:: f_L = \sum_{i=1}^{3} b_{1i} \exp\left(-\tfrac12
              \frac{(x - b_{2i})^2}{(b_{3i} + b_{4i} x)^2}\right),
              \quad x = (\tilde l_M - 1)/s + 1

    where ``s = width_scale`` (OpenSim's ``active_force_width_scale``, >= 1) widens the curve
    about its peak. Domain: l~M > 0 (documented accuracy on [0.2, 1.8]); range [0, ~1].
    Key points (``"opensim"``): f_L(1) = 1 exactly; f_L(0.2) = 0.00774; f_L(1.8) = 0.03128
    (both equal to OpenSim 4.6's ``calcActiveForceLengthMultiplier``).
    """
    c = get_constants(constants)
    x = (norm_fiber_length - 1.0) / width_scale + 1.0
    return sum(_gaussian_like(x, *row) for row in c.b)


def passive_force_length(
    norm_fiber_length: jax.Array, *, strain_at_one_norm_force=0.6, constants=OPENSIM
) -> jax.Array:
    r"""Passive fibre force-length multiplier f_PE(l~M) (De Groote 2016, eq. S3).

    .. math:: f_{PE} = \frac{\exp(k_{PE}(\tilde l_M - 1)/e_0) - \exp(k_{PE}(l_0 - 1)/e_0)}
              {\exp(k_{PE}) - \exp(k_{PE}(l_0 - 1)/e_0)}

    with e_0 = ``strain_at_one_norm_force`` (OpenSim's ``passive_fiber_strain_at_one_norm_force``)
    and l_0 the length at which the curve is zero (0.2 for ``"opensim"``, 1.0 for
    ``"published"``, where the paper writes the numerator as ``exp(...) - 1``).
    Key points: f_PE(1 + e_0) = 1; f_PE(l_0) = 0. Negative below l_0 (as in OpenSim).
    """
    c = get_constants(constants)
    e0 = strain_at_one_norm_force
    offset = jnp.exp(c.kpe * (c.passive_zero_length - 1.0) / e0)
    return (jnp.exp(c.kpe * (norm_fiber_length - 1.0) / e0) - offset) / (jnp.exp(c.kpe) - offset)


def force_velocity(norm_fiber_velocity: jax.Array, *, constants=OPENSIM) -> jax.Array:
    r"""Force-velocity multiplier f_V(v~M) (De Groote 2016, eq. S4), + = lengthening.

    .. math:: f_V = d_1 \,\mathrm{asinh}(d_2 \tilde v_M + d_3) + d_4

    (the paper writes asinh(z) as log(z + sqrt(z^2 + 1))). Domain: all reals; range: all reals,
    increasing. Key points (``"opensim"``): f_V(0) = 1, f_V(-1) = 0, f_V(1) = 1.79434.
    """
    c = get_constants(constants)
    return c.d1 * jnp.arcsinh(c.d2 * norm_fiber_velocity + c.d3) + c.d4


def force_velocity_inverse(force_velocity_multiplier: jax.Array, *, constants=OPENSIM):
    r"""Inverse of :func:`force_velocity`: v~M = (sinh((f_V - d_4)/d_1) - d_3)/d_2."""
    c = get_constants(constants)
    return (jnp.sinh((force_velocity_multiplier - c.d4) / c.d1) - c.d3) / c.d2


def tendon_stiffness_parameter(strain_at_one_norm_force, *, constants=OPENSIM):
    r"""k_T = ln((1 + c3)/c1) / (1 + e_T - c2), so that f_T(1 + e_T) = 1 (OpenSim's definition)."""
    c = get_constants(constants)
    return jnp.log((1.0 + c.c3) / c.c1) / (1.0 + strain_at_one_norm_force - c.c2)


def tendon_force_length(
    norm_tendon_length: jax.Array, *, strain_at_one_norm_force=0.049, constants=OPENSIM
) -> jax.Array:
    r"""Tendon force-length multiplier f_T(l~T) (De Groote 2016, eq. S1).

    .. math:: f_T = c_1 \exp(k_T(\tilde l_T - c_2)) - c_3

    Key points (``"opensim"``): f_T(1) = 0; f_T(1 + e_T) = 1. Range (-c3, inf), increasing.
    """
    c = get_constants(constants)
    kt = tendon_stiffness_parameter(strain_at_one_norm_force, constants=c)
    return c.c1 * jnp.exp(kt * (norm_tendon_length - c.c2)) - c.c3


def tendon_force_length_derivative(
    norm_tendon_length: jax.Array, *, strain_at_one_norm_force=0.049, constants=OPENSIM
) -> jax.Array:
    r"""d f_T / d l~T = c_1 k_T \exp(k_T(\tilde l_T - c_2)) (normalised tendon stiffness)."""
    c = get_constants(constants)
    kt = tendon_stiffness_parameter(strain_at_one_norm_force, constants=c)
    return c.c1 * kt * jnp.exp(kt * (norm_tendon_length - c.c2))


def tendon_force_length_inverse(
    norm_tendon_force: jax.Array, *, strain_at_one_norm_force=0.049, constants=OPENSIM
) -> jax.Array:
    r"""Inverse of :func:`tendon_force_length`: l~T = ln((f_T + c_3)/c_1)/k_T + c_2.

    Domain f_T > -c3; forces at or below the asymptote are floored just above it
    (``MIN_TENDON_FORCE_ABOVE_ASYMPTOTE``) so value and gradient stay finite.
    """
    c = get_constants(constants)
    kt = tendon_stiffness_parameter(strain_at_one_norm_force, constants=c)
    shifted = jnp.maximum(norm_tendon_force + c.c3, MIN_TENDON_FORCE_ABOVE_ASYMPTOTE)
    return jnp.log(shifted / c.c1) / kt + c.c2
