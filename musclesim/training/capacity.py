"""Clinical tests turned into the injured muscle's own quantities through the model's geometry.

Two conversions, both evaluated on the athlete's musculoskeletal model
(:class:`~musclesim.geometry.GeometryModel`, given as a plain argument with the model muscle
name, e.g. ``bflh_r``):

**Pain-free range -> MTU strain** (:func:`range_test_strain`). The end of a pain-free range
test is a pose; the injured muscle's ``mtu_strain`` = L_MTU / L_MTU(upright) - 1 at that pose
is the end-range length it tolerates today (the ``end_range_length`` criterion compares a
drill's largest MTU strain with it). Poses (every other coordinate at 0, the upright pose):

- ``ake`` (active knee extension): hip flexed 90 deg, knee flexed by the measured angle;
- ``slr`` (straight-leg raise) and ``h_test`` (Askling H-test): hip flexed by the measured
  angle, knee straight.

The strain is a ratio of lengths, so it does not depend on the athlete's height scaling.
Hip flexion is positive in both model families; the knee's sign is read from the model
(:attr:`~musclesim.geometry.GeometryModel.knee_flexion_sign`).

**Knee-flexor torque -> force of the injured muscle** (:func:`force_from_knee_flexor_torque`).
A dynamometer measures the torque of all knee flexors together. Its share carried by the
injured muscle is taken from the model at the test pose, with every knee flexor fully active:

.. math::

    F_i = \\tau \\, \\frac{F_{T,i}}{\\sum_j F_{T,j}\\, r_j}, \\qquad
    \\text{share}_i = \\frac{F_{T,i}\\, r_i}{\\sum_j F_{T,j}\\, r_j}

with ``F_T,j`` the isometric musculotendon force of knee flexor ``j`` at full activation
(fibre-tendon equilibrium at the pose, :func:`~musclesim.muscle.state.initial_norm_tendon_force`,
so each muscle's force-length operating point counts) and ``r_j`` its knee-flexion moment arm
there (m, scaled by the athlete's ``length_scale``). Knee flexors are the muscles with a
positive knee-flexion moment arm at the pose (hamstrings, gracilis, sartorius, gastrocnemii).

Assumptions, stated in every result that uses them: equal (maximal) activation of all knee
flexors in a maximal voluntary contraction, no antagonist co-contraction, the model's own
maximal isometric forces (its PCSA-based values; the shipped models' sources) as the
distribution; a deficit measured on the injured side is spread the same way. A Nordic force
(N, at the ankle) becomes a knee torque through its lever (knee joint to the strap).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..core.errors import InputError, OutOfDomainError
from ..muscle.state import initial_norm_tendon_force
from ..pipeline.evaluate import check_domain

#: The pose of each pain-free range test: test -> (hip flexion deg or None for "the measured
#: angle", knee flexion deg or None for "the measured angle").
RANGE_TEST_POSES: dict[str, tuple[float | None, float | None]] = {
    "ake": (90.0, None),
    "slr": (None, 0.0),
    "h_test": (None, 0.0),
}

#: Moment arms below this (m) do not count a muscle as a knee flexor at the pose.
_MIN_FLEXOR_ARM_M = 1e-4

#: Results per (model object, function, arguments): a plan asks the same assessment's poses
#: for every session day. The model object is kept in the value so its id stays its own.
_CACHE: dict[tuple, tuple[object, object]] = {}
_CACHE_SIZE = 256


def _cached(geometry, key: tuple, compute):
    full = (id(geometry), *key)
    hit = _CACHE.get(full)
    if hit is not None and hit[0] is geometry:
        return hit[1]
    value = compute()
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[full] = (geometry, value)
    return value


def _side_coordinates(geometry, muscle: str) -> tuple[str, str, str, int]:
    """(hip flexion, knee, ankle coordinate names, knee flexion sign) of the muscle's side."""
    if muscle not in geometry.muscles:
        raise InputError(
            f"muscle {muscle!r} is not in model {geometry.name!r}",
            field="muscle",
            expected=f"one of {list(geometry.muscles)}",
        )
    suffix = muscle[-2:]
    if suffix not in ("_r", "_l"):
        raise InputError(
            f"muscle {muscle!r} has no side suffix",
            field="muscle",
            expected="a model muscle name ending in _r or _l",
        )
    hip, knee, ankle = (f"{name}{suffix}" for name in ("hip_flexion", "knee_angle", "ankle_angle"))
    signs = dict(geometry.knee_flexion_sign)
    if knee not in signs or hip not in geometry.coordinates:
        raise InputError(
            f"model {geometry.name!r} has no {hip}/{knee} coordinates",
            field="geometry",
            expected="a lower-limb model with hip_flexion and knee_angle coordinates",
        )
    return hip, knee, ankle, int(signs[knee])


def _knee_model(geometry, muscle: str):
    """The model restricted to the muscles crossing ``muscle``'s knee (those whose fitted
    domain bounds that knee coordinate): every candidate knee flexor, and far fewer
    polynomial blocks to evaluate than the whole body. The whole model for a muscle that
    does not cross the knee."""
    _, knee, _, _ = _side_coordinates(geometry, muscle)

    def compute():
        column = geometry.coordinates.index(knee)
        lower = np.asarray(geometry.domain_lower)[:, column]
        names = [m for m, lo in zip(geometry.muscles, lower, strict=True) if np.isfinite(lo)]
        return geometry.select(names) if 0 < len(names) < len(geometry.muscles) else geometry

    model = _cached(geometry, ("knee model", knee), compute)
    return model if muscle in model.muscles else geometry


def pose(
    geometry,
    muscle: str,
    *,
    hip_flexion_deg: float,
    knee_flexion_deg: float,
    ankle_deg: float = 0.0,
) -> dict[str, jnp.ndarray]:
    """The upright pose with the muscle's side hip, knee (flexion, deg, 0 = straight) and
    ankle (dorsiflexion +) set; radians, in the model's own knee sign convention."""
    hip, knee, ankle, sign = _side_coordinates(geometry, muscle)
    q = dict(geometry.zero_pose())
    q[hip] = jnp.asarray(math.radians(hip_flexion_deg))
    q[knee] = jnp.asarray(sign * math.radians(knee_flexion_deg))
    if ankle in q:
        q[ankle] = jnp.asarray(math.radians(ankle_deg))
    return q


def _domain_policy(model, q, out_of_domain: str, what: str) -> str:
    """The policy to evaluate a single assessment pose ``q`` with: under ``"refuse"`` a pose
    outside the fitted geometry raises here, naming the assessment (``what``), the coordinates
    and the fitted ranges; ``"clamp"`` evaluates the bounded extension without a warning, as
    the commands' ``--out-of-domain clamp`` does for the drills."""
    if out_of_domain == "refuse":
        try:
            check_domain(model, {c: np.asarray(v)[None] for c, v in q.items()})
        except OutOfDomainError as error:
            raise OutOfDomainError(
                f"{what}: {error.problem}", field=error.field, expected=error.expected
            ) from None
        return "warn"
    return out_of_domain


def pose_mtu_strain(
    geometry,
    muscle: str,
    *,
    hip_flexion_deg: float,
    knee_flexion_deg: float,
    out_of_domain: str = "warn",
) -> float:
    """``mtu_strain`` of ``muscle`` at a hip/knee pose (every other coordinate upright); a pose
    outside the fitted geometry follows ``out_of_domain`` (:func:`_domain_policy`)."""

    def compute():
        model = _knee_model(geometry, muscle)
        q = pose(model, muscle, hip_flexion_deg=hip_flexion_deg, knee_flexion_deg=knee_flexion_deg)
        what = f"pose hip {hip_flexion_deg:g} deg, knee {knee_flexion_deg:g} deg"
        policy = _domain_policy(model, q, out_of_domain, what)
        # lengths from the program the strength tests' lengths and moment arms compile
        # (knee_flexor_share), rather than compiling a lengths-only one for the same poses
        lengths, _ = model.mtu_length_and_moment_arm(q, out_of_domain=policy)
        index = model.muscle_index(muscle)
        return float(lengths[index] / model.upright_length[index] - 1.0)

    key = ("strain", muscle, float(hip_flexion_deg), float(knee_flexion_deg), out_of_domain)
    return _cached(geometry, key, compute)


def range_test_pose(test: str, angle_deg: float) -> tuple[float, float]:
    """(hip flexion deg, knee flexion deg) at the end of a range test measured at
    ``angle_deg`` (see :data:`RANGE_TEST_POSES`)."""
    if test not in RANGE_TEST_POSES:
        raise InputError(
            f"unknown range test {test!r}",
            field="test",
            expected=f"one of {list(RANGE_TEST_POSES)}",
        )
    hip, knee = RANGE_TEST_POSES[test]
    return (angle_deg if hip is None else hip, angle_deg if knee is None else knee)


def range_test_strain(
    geometry, muscle: str, test: str, angle_deg: float, *, out_of_domain: str = "warn"
) -> float:
    """MTU strain of ``muscle`` at the end of a pain-free range test (see the module
    docstring): ``ake`` at hip 90 deg and knee ``angle_deg``; ``slr``/``h_test`` at hip
    ``angle_deg`` and knee straight. ``out_of_domain`` as :func:`pose_mtu_strain`."""
    hip, knee = range_test_pose(test, angle_deg)
    try:
        return pose_mtu_strain(
            geometry,
            muscle,
            hip_flexion_deg=hip,
            knee_flexion_deg=knee,
            out_of_domain=out_of_domain,
        )
    except OutOfDomainError as error:
        raise OutOfDomainError(
            f"range test {test} at {angle_deg:g} deg, {error.problem}",
            field=f"assessments.range.{test}",
            expected=error.expected,
        ) from None


def knee_flexor_share(
    geometry,
    muscle: str,
    *,
    hip_flexion_deg: float,
    knee_flexion_deg: float,
    ankle_deg: float = 0.0,
    length_scale: float = 1.0,
    out_of_domain: str = "warn",
) -> tuple[float, float, float]:
    """``(share, moment_arm, flexor_torque_per_unit)`` of ``muscle`` in a maximal isometric
    knee-flexor contraction at the pose (module docstring).

    Returns:
        share: the muscle's fraction of the knee-flexor torque (0..1);
        moment_arm: its knee-flexion moment arm (m, times ``length_scale``);
        flexor_torque_per_unit: sum_j F_T,j r_j / F_T,i (m): a measured torque divided by it
            is the muscle's force (N).
    """
    if not length_scale > 0:
        raise InputError(
            f"length scale {length_scale!r}", field="length_scale", expected="a positive ratio"
        )
    angles = (float(hip_flexion_deg), float(knee_flexion_deg), float(ankle_deg))
    key = ("share", muscle, *angles, out_of_domain)
    share, arm, per_unit = _cached(
        geometry,
        key,
        lambda: _share(geometry, muscle, *angles, out_of_domain),
    )
    return share, arm * length_scale, per_unit * length_scale


#: The fibre-tendon equilibrium as one compiled program (run op by op, every operation would
#: compile a program of its own).
_isometric_force = jax.jit(initial_norm_tendon_force)


def _share(geometry, muscle, hip_flexion_deg, knee_flexion_deg, ankle_deg, out_of_domain):
    """:func:`knee_flexor_share` at ``length_scale`` 1 (on the knee-crossing muscles)."""
    _, knee, _, sign = _side_coordinates(geometry, muscle)
    geometry = _knee_model(geometry, muscle)
    q = pose(
        geometry,
        muscle,
        hip_flexion_deg=hip_flexion_deg,
        knee_flexion_deg=knee_flexion_deg,
        ankle_deg=ankle_deg,
    )
    what = (
        f"knee-flexor strength test at hip {hip_flexion_deg:g} deg, knee {knee_flexion_deg:g} deg"
    )
    policy = _domain_policy(geometry, q, out_of_domain, what)
    lengths, arms = geometry.mtu_length_and_moment_arm(q, out_of_domain=policy)
    arm = np.asarray(arms[:, geometry.coordinates.index(knee)], dtype=float) * sign
    flexors = arm > _MIN_FLEXOR_ARM_M
    index = geometry.muscle_index(muscle)
    if not flexors[index]:
        raise InputError(
            f"{muscle} has no knee-flexion moment arm at hip {hip_flexion_deg:g} deg, knee "
            f"{knee_flexion_deg:g} deg",
            field="muscle",
            expected="a muscle that flexes the knee (a hamstring or a gastrocnemius)",
        )
    params = geometry.parameters
    norm_force = _isometric_force(params, lengths, jnp.zeros_like(lengths), 1.0)
    force = np.asarray(norm_force * params.max_isometric_force, dtype=float)
    torque = np.where(flexors, force * arm, 0.0)
    total = float(torque.sum())
    return float(torque[index] / total), float(arm[index]), total / float(force[index])


def force_from_knee_flexor_torque(
    geometry,
    muscle: str,
    torque_nm: float,
    *,
    hip_flexion_deg: float,
    knee_flexion_deg: float,
    ankle_deg: float = 0.0,
    length_scale: float = 1.0,
    out_of_domain: str = "warn",
) -> float:
    """Force (N) of ``muscle`` when the knee flexors together produce ``torque_nm`` (N m) in
    an isometric test at the pose: ``torque x share / moment arm`` (module docstring); a pose
    outside the fitted geometry follows ``out_of_domain`` (:func:`pose_mtu_strain`)."""
    if not torque_nm > 0:
        raise InputError(
            f"torque {torque_nm!r}", field="torque_nm", expected="a positive torque (N m)"
        )
    _, _, per_unit = knee_flexor_share(
        geometry,
        muscle,
        hip_flexion_deg=hip_flexion_deg,
        knee_flexion_deg=knee_flexion_deg,
        ankle_deg=ankle_deg,
        length_scale=length_scale,
        out_of_domain=out_of_domain,
    )
    return float(torque_nm / per_unit)


def force_from_nordic(
    geometry,
    muscle: str,
    force_n: float,
    *,
    lever_m: float,
    knee_flexion_deg: float,
    length_scale: float = 1.0,
    out_of_domain: str = "warn",
) -> float:
    """Force (N) of ``muscle`` from a Nordic peak force ``force_n`` (N, at the ankle strap,
    one leg): knee torque ``force_n x lever_m`` shared as in
    :func:`force_from_knee_flexor_torque` at the kneeling pose (hip 0 deg, knee at
    ``knee_flexion_deg``, ankle plantarflexed as the strap holds it is not modelled: ankle
    0 deg)."""
    if not lever_m > 0:
        raise InputError(
            f"lever {lever_m!r}", field="lever_m", expected="knee-to-strap distance (m), > 0"
        )
    return force_from_knee_flexor_torque(
        geometry,
        muscle,
        force_n * lever_m,
        hip_flexion_deg=0.0,
        knee_flexion_deg=knee_flexion_deg,
        length_scale=length_scale,
        out_of_domain=out_of_domain,
    )
