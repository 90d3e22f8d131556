"""Exact musculotendon paths: OpenSim's own path geometry evaluated in JAX, for wrapped
muscles whose length a smooth surrogate cannot follow.

Where OpenSim's path jumps over wide regions of the coordinate box
(``OpenCap_LaiUhlrich2022_jump_subject_scaled.osim``'s gluteus maximus 1: 2674 of 16000 sampled
poses off a smooth fit by up to 270 mm, and along the measured jump steps of 8-22 mm between
adjacent frames), a polynomial has to cut those regions out of its domain, and the frames of a
trial that pass through them get no length (``models/README-geometry.md``). The jumps come from
the wrap algorithm itself (``experiments/path_flips.py``): a path point entering the cylinder's
radius makes OpenSim drop the wrap, so the path cuts through the cylinder (steps of 5-70 mm),
and a segment crossing the cylinder can wrap the long way round (+270 mm). This module
evaluates the path itself instead: the model's fixed path points, carried through the joint
between their two bodies, and OpenSim's cylinder-wrap algorithm, branch for branch. Lengths
then equal OpenSim's to rounding (about 1e-13 m) on the whole coordinate range, flips and all,
and the moment arms are the exact derivative of the branch a pose is on.

The supported paths (every gluteus maximus 1 and 2, iliacus and psoas of the shipped
Rajagopal-family models): fixed ``PathPoint`` s on two bodies joined by one joint whose
rotations and translations are affine in the joint's coordinates (a hip ``CustomJoint``), and
one ``WrapCylinder`` on either body (or none). Anything else (conditional or moving points, a
spline-driven joint such as the walker knee, ellipsoids, several wrap objects) is refused by
:func:`read_path` with the reason.

OpenSim's algorithm (``WrapCylinder::wrapLine`` and ``GeometryPath::applyWrapObjects``,
OpenSim 4.6; read from the public source and written anew here), per path segment A-B in the
cylinder's frame (axis z):

1. no wrap if A or B lies inside the cylinder's radius (the path then cuts through it);
2. with a quadrant (``-x`` ...), the wrap is *mandatory* where the segment crosses the
   cylinder within its length; where only one end is on the constrained side it wraps if the
   ends are on opposite sides and the segment's closest point to the axis is off that side;
   where neither end is on the constrained side it always wraps (round that side, touching
   the cylinder or not); without a quadrant it wraps only where it crosses;
3. tangent points from the ends' radial planes, chosen by the quadrant, a *long wrap* (more than
   half way round) where the tangent points face away from the ends, slid axially onto the plane
   through A, B and an apex on the cylinder; no wrap if both lie beyond the cylinder's ends;
4. the wrapped length is the helix sqrt((r theta)^2 + (axial distance)^2), theta the angle
   between the tangent points (2 pi minus it for a long wrap). With one wrap object and no
   visualiser, OpenSim does not iterate the tangent points further, and neither does this;
5. of the path's segments in the wrap's range, the first mandatory wrap wins; otherwise the
   wrap that adds the least length.

Every decision is a ``jnp.where`` on quantities computed for both branches (with guarded
divisions, square roots and angles), so values and gradients stay finite for every pose.

OpenSim's ``computeMomentArm`` maps the path tension through the segments' directions with the
tangent points held fixed on the wrap body; for the wrapped paths here that is not -dL/dq (the
tangent points are not those of a geodesic). :meth:`PathBlock.opensim_arm_difference` gives
that difference exactly, so ``moment_arm(q, convention="opensim")`` needs no fitted correction
for these muscles.

Build and check against OpenSim (needs the ``opensim`` extra), then store in a fitted file::

    musclesim fit-path ../shared/data/models/OpenCap_LaiUhlrich2022_jump_subject_scaled.osim \\
        --into models/opencap_jump.nc --muscles glmax1_r glmax1_l

Units: m, rad. Reference: Garner BA, Pandy MG (2000) The obstacle-set method for representing
muscle paths in musculoskeletal models, Comput Methods Biomech Biomed Engin 3(1):1-30,
doi:10.1080/10255840008915251 (the cylinder wrap geometry); Delp SL et al. (2007) OpenSim,
IEEE Trans Biomed Eng 54(11):1940-1950, doi:10.1109/TBME.2007.901024.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.arrays import index_array, to_device
from ..core.errors import InputError
from ..osim.model import _rotation as _rodrigues
from .records import PathSpec

#: OpenSim's ``SimTK::Eps``: a vector shorter than this normalises to zero (``NormalizeOrZero``).
EPS = float(np.finfo(np.float64).eps)
#: ``ROUNDOFF_ERROR`` of OpenSim's SimmMacros.h: two lines are parallel when |v1 x v2|^2 <= this.
ROUNDOFF = 2e-13
#: ``LINE_EPSILON`` of OpenSim's WrapMath: a line meets a plane when |v . n| >= this, within
#: this of the segment's ends.
LINE_EPSILON = 1e-5

NO_WRAP, INSIDE_RADIUS, WRAPPED, MANDATORY_WRAP = 0, 1, 2, 3

#: OpenSim's quadrant names -> (axis, sign); sign 0 is unconstrained ("all").
QUADRANTS = {
    **{q: (0, -1) for q in ("-x", "-X")},
    **{q: (0, 1) for q in ("x", "+x", "X", "+X")},
    **{q: (1, -1) for q in ("-y", "-Y")},
    **{q: (1, 1) for q in ("y", "+y", "Y", "+Y")},
    **{q: (2, -1) for q in ("-z", "-Z")},
    **{q: (2, 1) for q in ("z", "+z", "Z", "+Z")},
    **{q: (0, 0) for q in ("all", "ALL", "All", "Unassigned", "")},
}


# ---------------------------------------------------------------------------------------------
# The static description, read from the .osim (numpy; no OpenSim needed)


# ---------------------------------------------------------------------------------------------
# The JAX evaluation


def _unit(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(v / |v|, |v|), the zero vector where |v| < EPS (OpenSim's ``NormalizeOrZero``); finite
    gradients everywhere."""
    n2 = jnp.sum(v * v, axis=-1)
    ok = n2 >= EPS * EPS
    n = jnp.sqrt(jnp.where(ok, n2, 1.0))
    return jnp.where(ok[..., None], v / n[..., None], 0.0), jnp.where(ok, n, 0.0)


def _dot(u: jax.Array, v: jax.Array) -> jax.Array:
    """u . v over the last axis, as a multiply and a sum: under ``vmap`` a ``jnp.dot`` of
    3-vectors becomes a batched matrix product, which XLA on the CPU runs as many tiny calls."""
    return jnp.sum(u * v, axis=-1)


def _matvec(m: jax.Array, v: jax.Array) -> jax.Array:
    """m @ v for a 3x3 ``m`` (multiply and sum, as :func:`_dot`)."""
    return jnp.sum(m * v[..., None, :], axis=-1)


def _matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """a @ b for 3x3 matrices, or ``[n, 3] @ [3, 3]`` (multiply and sum, as :func:`_dot`)."""
    return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def _norm(v: jax.Array) -> jax.Array:
    return _unit(v)[1]


def _angle(u: jax.Array, v: jax.Array) -> jax.Array:
    """The angle between u and v in [0, pi] (acos of the normalised dot product, written as
    atan2 so that it and its gradient stay finite at 0 and pi)."""
    return jnp.arctan2(_norm(jnp.cross(u, v)), _dot(u, v))


def _sqrt(x: jax.Array) -> jax.Array:
    """sqrt(max(x, 0)) with a zero (not infinite) gradient at and below 0."""
    pos = x > 0.0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def _dsign(x: jax.Array) -> jax.Array:
    """OpenSim's ``DSIGN``: +1 for x >= 0, else -1."""
    return jnp.where(x >= 0.0, 1, -1)


def _rotation(axis: jax.Array, angle: jax.Array) -> jax.Array:
    """Rotation by ``angle`` about the unit ``axis`` (Rodrigues, as :mod:`musclesim.osim.model`)."""
    k = jnp.array(
        [[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]],
        dtype=angle.dtype,
    )
    return _rodrigues(k, _matmul(k, k), angle)


class WrapResult(eqx.Module):
    """One segment's wrap: status (:data:`NO_WRAP` ...), tangent points, wrapped length, and
    whether it goes the long way round (more than half the cylinder)."""

    status: jax.Array
    r1: jax.Array
    r2: jax.Array
    length: jax.Array
    long_way: jax.Array


def wrap_cylinder_segment(a: jax.Array, b: jax.Array, radius, length, axis, sign) -> WrapResult:
    """OpenSim's wrap of the segment ``a``-``b`` (cylinder frame: axis z, centred at the
    origin) over a cylinder of ``radius`` and ``length`` (m), constrained to the half-space
    ``sign * x[axis] >= 0`` (``sign`` 0: unconstrained). ``axis`` and ``sign`` may be traced
    (one compiled program serves every muscle of a block). Steps as in the module docstring."""
    dtype = a.dtype
    dn = jnp.array([0.0, 0.0, 1.0], dtype=dtype)
    on_axis = jnp.arange(3) == axis

    def component(v):  # v[axis]
        return jnp.sum(jnp.where(on_axis, v, 0.0))

    constrained = sign != 0
    rsq = radius * radius
    # 1. ends inside the radius
    inside = (a[0] ** 2 + a[1] ** 2 < rsq) | (b[0] ** 2 + b[1] ** 2 < rsq)
    # closest points of the line a-b and the axis (IntersectLines with the axis segment); on
    # a segment parallel to the axis OpenSim's values are undefined: taken as no crossing
    c0 = jnp.array([0.0, 0.0, -0.5], dtype=dtype) * length
    v1, m1 = _unit(b - a)
    cross = jnp.cross(v1, dn)
    den = _dot(cross, cross)
    parallel = jnp.abs(den) <= ROUNDOFF
    den = jnp.where(parallel, 1.0, den)
    w = c0 - a
    t_axis = _dot(w, jnp.cross(v1, cross)) / den  # det[w; v1; cross]
    s_line = _dot(w, jnp.cross(dn, cross)) / den  # det[w; dn; cross]
    near00 = c0 + t_axis * dn
    near12 = jnp.where(parallel, a, a + s_line * v1)
    t12 = s_line / jnp.where(m1 > 0.0, m1, 1.0)
    gap = near12 - near00
    hits = ~parallel & (_dot(gap, gap) < rsq) & (t12 > 0.0) & (t12 < 1.0)
    # 2. whether and how it wraps
    sa, sb = _dsign(component(a)), _dsign(component(b))
    one_end = (sa == sign) | (sb == sign)
    crosses_over = (sa != sb) & (_dsign(component(near12)) != sign)
    on_side = jnp.where(hits, MANDATORY_WRAP, jnp.where(crosses_over, WRAPPED, NO_WRAP))
    status = jnp.where(
        constrained,
        jnp.where(one_end, on_side, WRAPPED),
        jnp.where(hits, MANDATORY_WRAP, NO_WRAP),
    )

    # 3. preliminary tangent points of each end, in its radial plane
    def candidates(p):
        foot = p * jnp.array([0.0, 0.0, 1.0], dtype=dtype)
        vv, d = _unit(p - foot)
        d = jnp.where(d > radius, d, radius)  # inside: any finite value (refused above)
        along = rsq / d
        pp = foot + along * vv
        across = _sqrt(rsq - along * along)
        uu = jnp.cross(dn, vv)
        return foot, pp + across * uu, pp - across * uu, d

    p11, r1a, r1b, d1 = candidates(a)
    p22, r2a, r2b, d2 = candidates(b)
    # unconstrained: the pair of tangent points closest in direction
    ua, ub = _unit(r1a - p11)[0], _unit(r1b - p11)[0]
    va, vb = _unit(r2a - p22)[0], _unit(r2b - p22)[0]
    d_1, d_2, d_3, d_4 = _dot(ua, va), _dot(ua, vb), _dot(ub, va), _dot(ub, vb)
    pick = jnp.where(
        (d_1 > d_2) & (d_1 > d_3) & (d_1 > d_4),
        0,
        jnp.where((d_2 > d_3) & (d_2 > d_4), 1, jnp.where(d_3 > d_4, 2, 3)),
    )
    free_r1 = jnp.where(pick < 2, r1a, r1b)
    free_r2 = jnp.where((pick == 0) | (pick == 2), r2a, r2b)
    # constrained: choice "a" = (r1a, r2b), far side where alpha > beta; "b" = (r1b, r2a), far
    # side where alpha <= beta; no tangent point of either end on the active side: the pair of
    # the larger angle, always on the far side
    alpha = _angle(r1a - p11, r2b - p22)
    beta = _angle(r1b - p11, r2a - p22)
    s1a, s1b = _dsign(component(r1a)) == sign, _dsign(component(r1b)) == sign
    s2a, s2b = _dsign(component(r2a)) == sign, _dsign(component(r2b)) == sign
    neither = ~s1a & ~s1b & ~s2a & ~s2b
    choose_a = jnp.where(
        s1a & s1b,
        ~s2a,
        jnp.where(s1a, True, jnp.where(s1b, False, jnp.where(s2a, False, s2b))),
    )
    choose_a = jnp.where(neither, alpha > beta, choose_a)
    side_r1 = jnp.where(choose_a, r1a, r1b)
    side_r2 = jnp.where(choose_a, r2b, r2a)
    far = constrained & (neither | jnp.where(choose_a, alpha > beta, ~(alpha > beta)))
    r1 = jnp.where(constrained, side_r1, free_r1)
    r2 = jnp.where(constrained, side_r2, free_r2)
    long_wrap = constrained & (_dot((r1 - p11) + (r2 - p22), (r1 - a) + (r2 - b)) < 0.0)
    # apex on the cylinder, between the ends' feet, on the near or far side
    t = d1 / (d1 + d2)
    mpt = a + t * (b - a)
    axispt = mpt * jnp.array([0.0, 0.0, 1.0], dtype=dtype)
    l1, _ = _unit(a - axispt)
    l2, _ = _unit(b - axispt)
    normal, _ = _unit(jnp.cross(l1, l2))
    vert1, _ = _unit(jnp.cross(dn, normal))
    vert2, _ = _unit(jnp.cross(normal, dn))
    apex1 = axispt + radius * vert1
    apex2 = axispt + radius * vert2
    nearer1 = jnp.sum((mpt - apex1) ** 2) < jnp.sum((mpt - apex2) ** 2)
    apex = jnp.where(far != nearer1, apex1, apex2)
    # slide the tangent points along the cylinder onto the plane of a, b and the apex
    uu, _ = _unit(a - apex)
    vv, _ = _unit(b - apex)
    normal, _ = _unit(jnp.cross(uu, vv))
    d = -_dot(a, normal)

    def slide(r, own_z, other_z):
        start = r - 10.0 * dn
        dot = 20.0 * normal[2]
        ok = jnp.abs(dot) >= LINE_EPSILON
        tt = (-d - _dot(normal, start)) / jnp.where(ok, dot, 1.0)
        ok = ok & (tt >= -LINE_EPSILON) & (tt <= 1.0 + LINE_EPSILON)
        moved = start + tt * 20.0 * dn
        ok = ok & (jnp.abs(moved[2] - other_z) < jnp.abs(own_z - other_z))
        return jnp.where(ok, moved, r)

    r1 = slide(r1, a[2], b[2])
    r2 = slide(r2, b[2], a[2])
    half = 0.5 * length
    beyond = ((r1[2] < -half) | (r1[2] > half)) & ((r2[2] < -half) | (r2[2] > half))
    # 4. the helix between the tangent points
    flat = jnp.array([1.0, 1.0, 0.0], dtype=dtype)
    theta = _angle(r1 * flat, r2 * flat)
    theta = jnp.where(long_wrap, 2.0 * math.pi - theta, theta)
    arc = radius * theta
    axial = r2[2] - r1[2]
    wrapped_length = _sqrt(arc * arc + axial * axial)
    status = jnp.where(inside, INSIDE_RADIUS, jnp.where(beyond, NO_WRAP, status))
    return WrapResult(status=status, r1=r1, r2=r2, length=wrapped_length, long_way=long_wrap)


class PathGeometry(eqx.Module):
    """One muscle's :class:`PathSpec` as arrays (a leading muscle axis in a block). Points are
    padded to the block's count by repeating the last one (a zero-length segment, never a
    wrap candidate); ``slot`` arrays index the muscle's own coordinates, ``spec.inputs``
    (-1: constant)."""

    location: jax.Array  # [point, 3]
    moving: jax.Array  # [point] bool
    candidate: jax.Array  # [segment] bool: may carry the wrap
    parent_is_base: jax.Array  # bool
    parent_rotation: jax.Array
    parent_translation: jax.Array
    child_rotation: jax.Array
    child_translation: jax.Array
    rotation_axis: jax.Array  # [3, 3]
    rotation_slot: jax.Array  # [3] int
    rotation_slope: jax.Array
    rotation_intercept: jax.Array
    translation_axis: jax.Array
    translation_slot: jax.Array
    translation_slope: jax.Array
    translation_offset: jax.Array
    wrap_rotation: jax.Array
    wrap_translation: jax.Array
    wrap_radius: jax.Array
    wrap_length: jax.Array
    wrap_axis: jax.Array  # int
    wrap_sign: jax.Array  # int

    @classmethod
    def from_spec(cls, spec: PathSpec, n_points: int):
        n = len(spec.location)
        pad = np.arange(n_points).clip(max=n - 1)
        segment = np.arange(n_points - 1)
        has_wrap = bool(spec.wrap)
        candidate = has_wrap & (segment >= spec.wrap_first) & (segment < spec.wrap_last)

        def f(x):
            # float64 in numpy, then JAX's default float (float32 unless x64 is enabled):
            # asking JAX for float64 directly warns of truncation in float32 mode.
            return to_device(np.asarray(x, np.float64))

        return cls(
            location=f(np.asarray(spec.location, np.float64)[pad]),
            moving=to_device(np.asarray(spec.point_moving, bool)[pad]),
            candidate=to_device(candidate & (segment < n - 1)),
            parent_is_base=to_device(bool(spec.parent_is_base)),
            parent_rotation=f(spec.parent_rotation),
            parent_translation=f(spec.parent_translation),
            child_rotation=f(spec.child_rotation),
            child_translation=f(spec.child_translation),
            rotation_axis=f(spec.rotation_axis),
            rotation_slot=to_device(np.asarray(spec.rotation_input, dtype=np.int64)),
            rotation_slope=f(spec.rotation_slope),
            rotation_intercept=f(spec.rotation_intercept),
            translation_axis=f(spec.translation_axis),
            translation_slot=to_device(np.asarray(spec.translation_input, dtype=np.int64)),
            translation_slope=f(spec.translation_slope),
            translation_offset=f(spec.translation_offset),
            wrap_rotation=f(spec.wrap_rotation),
            wrap_translation=f(spec.wrap_translation),
            wrap_radius=f(spec.wrap_radius if has_wrap else 1.0),
            wrap_length=f(spec.wrap_length if has_wrap else 1.0),
            wrap_axis=to_device(spec.wrap_axis),
            wrap_sign=to_device(spec.wrap_sign),
        )


def _stack_leaves(*x: jax.Array) -> jax.Array:
    """``jnp.stack(x)``, in NumPy for concrete arrays that are not weakly typed
    (:func:`~musclesim.core.arrays.index_array`)."""
    if any(isinstance(v, jax.core.Tracer) or getattr(v, "weak_type", False) for v in x):
        return jnp.stack(x)
    return to_device(np.stack([np.asarray(v) for v in x]))


def _coordinate(qk: jax.Array, slot: jax.Array) -> jax.Array:
    """qk[slot], 0 for slot -1."""
    return jnp.where(slot >= 0, qk[jnp.maximum(slot, 0)], 0.0)


def _joint(g: PathGeometry, qk: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(R, p) of the other body's frame in the base body's frame."""
    rot = jnp.eye(3, dtype=qk.dtype)
    pos = g.translation_offset
    for i in range(3):
        angle = g.rotation_slope[i] * _coordinate(qk, g.rotation_slot[i]) + g.rotation_intercept[i]
        rot = _matmul(rot, _rotation(g.rotation_axis[i], angle))
        shift = g.translation_slope[i] * _coordinate(qk, g.translation_slot[i])
        pos = pos + g.translation_axis[i] * shift
    # child body in parent body: X_PF X_FM X_BM^-1
    r_pc = _matmul(_matmul(g.parent_rotation, rot), g.child_rotation.T)
    p_pc = (
        g.parent_translation + _matvec(g.parent_rotation, pos) - _matvec(r_pc, g.child_translation)
    )
    return (
        jnp.where(g.parent_is_base, r_pc, r_pc.T),
        jnp.where(g.parent_is_base, p_pc, -_matvec(r_pc.T, p_pc)),
    )


def path_points(g: PathGeometry, qk: jax.Array) -> jax.Array:
    """The path points ``[point, 3]`` in the wrap cylinder's frame (m) at pose ``qk``."""
    rot, pos = _joint(g, qk)
    in_base = jnp.where(g.moving[:, None], _matmul(g.location, rot.T) + pos, g.location)
    return _matmul(in_base - g.wrap_translation, g.wrap_rotation)


def _segment_wraps(g: PathGeometry, pts: jax.Array):
    """Every segment's wrap, and which one OpenSim keeps: the first mandatory wrap among the
    candidates, else the candidate wrap adding the least length (none if none wraps)."""
    n = pts.shape[0] - 1
    starts, ends = pts[:-1], pts[1:]
    r = jax.vmap(wrap_cylinder_segment, in_axes=(0, 0, None, None, None, None))(
        starts, ends, g.wrap_radius, g.wrap_length, g.wrap_axis, g.wrap_sign
    )  # every field with a leading segment axis
    added = _norm(starts - r.r1) + r.length + _norm(r.r2 - ends) - _norm(ends - starts)
    mandatory = g.candidate & (r.status == MANDATORY_WRAP)
    wrapped = g.candidate & (r.status == WRAPPED)
    chosen = jnp.where(
        jnp.any(mandatory), jnp.argmax(mandatory), jnp.argmin(jnp.where(wrapped, added, jnp.inf))
    )
    keep = (jnp.any(mandatory) | jnp.any(wrapped)) & (jnp.arange(n) == chosen)
    return r, keep


def path_lengths(g: PathGeometry, qk: jax.Array) -> jax.Array:
    """``[length, frozen]`` (m) at pose ``qk``: the path length, and the same path with its
    tangent points held fixed on the wrap body and the wrapped arc left out. -d/dq of the
    second is the moment arm of the tension along OpenSim's segments (``computeMomentArm``);
    one evaluation of the wrap serves both."""
    pts = path_points(g, qk)
    starts, ends = pts[:-1], pts[1:]
    straight = _norm(ends - starts)  # [segment]
    r, keep = _segment_wraps(g, pts)
    wrapped = _norm(starts - r.r1) + r.length + _norm(r.r2 - ends)
    r1, r2 = jax.lax.stop_gradient(r.r1), jax.lax.stop_gradient(r.r2)
    frozen = _norm(starts - r1) + _norm(r2 - ends)
    return jnp.stack(
        [jnp.sum(jnp.where(keep, wrapped, straight)), jnp.sum(jnp.where(keep, frozen, straight))]
    )


def path_length(g: PathGeometry, qk: jax.Array) -> jax.Array:
    """The path length (m) at pose ``qk``."""
    pts = path_points(g, qk)
    starts, ends = pts[:-1], pts[1:]
    r, keep = _segment_wraps(g, pts)
    wrapped = _norm(starts - r.r1) + r.length + _norm(r.r2 - ends)
    return jnp.sum(jnp.where(keep, wrapped, _norm(ends - starts)))


class PathBlock(eqx.Module):
    """Every muscle of a model with an exact path: one :class:`PathGeometry` with a leading
    muscle axis, evaluated under ``vmap`` (one compiled program for all of them). Muscle ``j``
    reads the block's coordinates ``inputs[j]`` (its own, e.g. one hip's three), so that its
    derivatives take as many tangents as it has coordinates. The interface of the geometry's
    polynomial blocks: ``lengths(qk)`` ``[m]``, ``lengths_and_gradient(qk)``,
    ``length_gradient(qk)`` ``[m, k]`` at one pose ``qk`` of the block's coordinates."""

    muscle_index: tuple[int, ...] = eqx.field(static=True)
    coordinate_index: tuple[int, ...] = eqx.field(static=True)
    inputs: tuple[tuple[int, ...], ...] = eqx.field(static=True)  # [m][i]: position in the above
    geometry: PathGeometry

    @classmethod
    def from_specs(
        cls,
        specs: Sequence[PathSpec],
        muscle_index: Sequence[int],
        coordinates: Sequence[str],
        coordinate_index: Sequence[int],
    ) -> PathBlock:
        """``coordinates``: the names of ``coordinate_index`` (each spec's inputs among them)."""
        n_points = max(len(s.location) for s in specs)
        parts = [PathGeometry.from_spec(s, n_points) for s in specs]
        position = {c: k for k, c in enumerate(coordinates)}
        widths = {len(s.inputs) for s in specs}
        if len(widths) != 1:
            raise InputError(
                f"exact paths with {sorted(widths)} coordinates in one model",
                field="path_input_coordinate",
                expected="the same number of coordinates for every exact path",
            )
        return cls(
            muscle_index=tuple(int(i) for i in muscle_index),
            coordinate_index=tuple(int(c) for c in coordinate_index),
            inputs=tuple(tuple(position[c] for c in s.inputs) for s in specs),
            geometry=jax.tree_util.tree_map(_stack_leaves, *parts),
        )

    def coordinates_for(self, members: Sequence[int]) -> tuple[int, ...]:
        """The model coordinates that the muscles at positions ``members`` read."""
        used = sorted({k for j in members for k in self.inputs[j]})
        return tuple(self.coordinate_index[k] for k in used)

    def take(self, members: Sequence[int], muscle_index: Sequence[int], coordinate_map: dict):
        """The block restricted to the muscles at positions ``members``, with their new
        ``muscle_index`` and the model's coordinates renumbered by ``coordinate_map``; it
        reads only the coordinates those muscles cross."""
        used = sorted({k for j in members for k in self.inputs[j]})
        lookup = {k: n for n, k in enumerate(used)}
        kk = np.asarray(members)
        return PathBlock(
            muscle_index=tuple(int(i) for i in muscle_index),
            coordinate_index=tuple(coordinate_map[self.coordinate_index[k]] for k in used),
            inputs=tuple(tuple(lookup[k] for k in self.inputs[j]) for j in members),
            geometry=jax.tree_util.tree_map(lambda x: index_array(x, kk), self.geometry),
        )

    def _each(self, f, qk):
        """``f(geometry, own coordinates)`` for every muscle, stacked."""
        own = qk[np.asarray(self.inputs)]  # [m, i]
        return jax.vmap(f)(self.geometry, own)

    def _spread(self, own_grad: jax.Array) -> jax.Array:
        """``[m, i]`` derivatives by each muscle's own coordinates -> ``[m, k]``."""
        onehot = np.zeros((len(self.inputs), len(self.inputs[0]), len(self.coordinate_index)))
        for j, row in enumerate(self.inputs):
            onehot[j, np.arange(len(row)), row] = 1.0
        return jnp.einsum("mi,mik->mk", own_grad, jnp.asarray(onehot, dtype=own_grad.dtype))

    def lengths(self, qk: jax.Array) -> jax.Array:
        return self._each(path_length, qk)

    def lengths_and_gradient(self, qk: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Lengths [m] and dL/dq [m, k]; each muscle's length is one scalar of its three
        coordinates, so one reverse pass gives its gradient (about 1.3x faster than three
        forward tangents on a CPU, the same values to rounding)."""
        value, grad = self._each(jax.value_and_grad(path_length, argnums=1), qk)
        return value, self._spread(grad)

    def length_gradient(self, qk: jax.Array) -> jax.Array:
        return self.lengths_and_gradient(qk)[1]

    def opensim_arm_difference(self, qk: jax.Array) -> jax.Array:
        """OpenSim's ``computeMomentArm`` minus -dL/dq, ``[m, k]`` (m): the moment arm of the
        tension along the segments with the tangent points fixed on the wrap body, minus that
        of the true length."""

        def one(g, x):
            full, frozen = jax.jacfwd(partial(path_lengths, g))(x)
            return full - frozen

        return self._spread(self._each(one, qk))

    def segment_states(self, qk: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """OpenSim's verdict on every segment, ``[m, segment]`` each: the status
        (:data:`NO_WRAP`, :data:`INSIDE_RADIUS`, :data:`WRAPPED`, :data:`MANDATORY_WRAP`),
        whether it is the wrap kept, and whether that wrap goes the long way round."""

        def one(g, x):
            r, keep = _segment_wraps(g, path_points(g, x))
            return r.status, keep, r.long_way

        return self._each(one, qk)


# ---------------------------------------------------------------------------------------------
# Checking against OpenSim (needs the opensim extra)


# ---------------------------------------------------------------------------------------------
# File format: variables with leading dimension ``path``, one per muscle with an exact path


# ---------------------------------------------------------------------------------------------
# Building the paths of a fitted file, and the command line
