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
#
# Every 3-vector is carried as a tuple of its three components (:data:`Vec`), each an array of
# the batch's shape, and every 3x3 matrix as a tuple of three rows (:data:`Mat`): products,
# dot and cross products are then elementwise arithmetic that XLA fuses over the whole batch
# (poses x muscles x segments), with no reductions over an axis of three, slices or stacks,
# which split the fusions and leave XLA's CPU loops an inner axis too short to vectorise.
# Products with the constant 0 and 1 components of the cylinder's axis (0, 0, 1) are written
# out; the sums are those of the full products, term for term.

Vec = tuple[jax.Array, jax.Array, jax.Array]
Mat = tuple[Vec, Vec, Vec]


def _vec(v: jax.Array) -> Vec:
    """The components of ``v`` ``[..., 3]``."""
    return v[..., 0], v[..., 1], v[..., 2]


def _array(v: Vec) -> jax.Array:
    """The components stacked on a last axis (``[..., 3]``)."""
    return jnp.stack(jnp.broadcast_arrays(*v), axis=-1)


def _mat(m: jax.Array) -> Mat:
    """The rows of ``m`` ``[..., 3, 3]``."""
    return _vec(m[..., 0, :]), _vec(m[..., 1, :]), _vec(m[..., 2, :])


def _add(u: Vec, v: Vec) -> Vec:
    return u[0] + v[0], u[1] + v[1], u[2] + v[2]


def _sub(u: Vec, v: Vec) -> Vec:
    return u[0] - v[0], u[1] - v[1], u[2] - v[2]


def _scale(s: jax.Array, v: Vec) -> Vec:
    return s * v[0], s * v[1], s * v[2]


def _select(c: jax.Array, u: Vec, v: Vec) -> Vec:
    return jnp.where(c, u[0], v[0]), jnp.where(c, u[1], v[1]), jnp.where(c, u[2], v[2])


def _dot(u: Vec, v: Vec) -> jax.Array:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _cross(u: Vec, v: Vec) -> Vec:
    return u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]


def _unit(v: Vec) -> tuple[Vec, jax.Array]:
    """(v / |v|, |v|), the zero vector where |v| < EPS (OpenSim's ``NormalizeOrZero``); finite
    gradients everywhere."""
    n2 = _dot(v, v)
    ok = n2 >= EPS * EPS
    n = jnp.sqrt(jnp.where(ok, n2, 1.0))
    return (
        (jnp.where(ok, v[0] / n, 0.0), jnp.where(ok, v[1] / n, 0.0), jnp.where(ok, v[2] / n, 0.0)),
        jnp.where(ok, n, 0.0),
    )


def _norm(v: Vec) -> jax.Array:
    return _unit(v)[1]


def _guarded_abs(x: jax.Array) -> jax.Array:
    """|x| as :func:`_norm` of a vector whose only non-zero component is x."""
    n2 = x * x
    ok = n2 >= EPS * EPS
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, n2, 1.0)), 0.0)


def _planar_angle(ux, uy, vx, vy) -> jax.Array:
    """The angle in [0, pi] between (ux, uy, 0) and (vx, vy, 0) (acos of the normalised dot
    product, written as atan2 so that it and its gradient stay finite at 0 and pi)."""
    return jnp.arctan2(_guarded_abs(ux * vy - uy * vx), ux * vx + uy * vy)


def _matvec(m: Mat, v: Vec) -> Vec:
    return _dot(m[0], v), _dot(m[1], v), _dot(m[2], v)


def _transpose(m: Mat) -> Mat:
    return (m[0][0], m[1][0], m[2][0]), (m[0][1], m[1][1], m[2][1]), (m[0][2], m[1][2], m[2][2])


def _matmul(a: Mat, b: Mat) -> Mat:
    bt = _transpose(b)
    return tuple(tuple(_dot(row, col) for col in bt) for row in a)  # type: ignore[return-value]


def _mat_where(c: jax.Array, a: Mat, b: Mat) -> Mat:
    return _select(c, a[0], b[0]), _select(c, a[1], b[1]), _select(c, a[2], b[2])


def _sqrt(x: jax.Array) -> jax.Array:
    """sqrt(max(x, 0)) with a zero (not infinite) gradient at and below 0."""
    pos = x > 0.0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def _dsign(x: jax.Array) -> jax.Array:
    """OpenSim's ``DSIGN``: +1 for x >= 0, else -1."""
    return jnp.where(x >= 0.0, 1, -1)


def _rotation(axis: Vec, angle: jax.Array) -> Mat:
    """Rotation by ``angle`` about the unit ``axis``, Rodrigues: I + sin(a) K + (1 - cos(a)) K²
    (as :mod:`musclesim.osim.model`), K the cross-product matrix of the axis."""
    x, y, z = axis
    k = ((0.0, -z, y), (z, 0.0, -x), (-y, x, 0.0))
    k2 = _matmul(k, k)
    s, c = jnp.sin(angle), 1.0 - jnp.cos(angle)
    return tuple(
        tuple((1.0 + c * k2[i][j]) if i == j else (s * k[i][j] + c * k2[i][j]) for j in range(3))
        for i in range(3)
    )  # type: ignore[return-value]


class WrapResult(eqx.Module):
    """One segment's wrap: status (:data:`NO_WRAP` ...), tangent points, wrapped length, and
    whether it goes the long way round (more than half the cylinder)."""

    status: jax.Array
    r1: jax.Array
    r2: jax.Array
    length: jax.Array
    long_way: jax.Array


def _wrap(a: Vec, b: Vec, radius, length, axis, sign):
    """:func:`wrap_cylinder_segment` on components, elementwise over any batch shape: (status,
    r1, r2, wrapped length, long way)."""
    ax, ay, az = a
    bx, by, bz = b

    def component(v):  # v[axis]
        return jnp.where(axis == 0, v[0], jnp.where(axis == 1, v[1], v[2]))

    constrained = sign != 0
    rsq = radius * radius
    # 1. ends inside the radius
    inside = (ax**2 + ay**2 < rsq) | (bx**2 + by**2 < rsq)
    # closest points of the line a-b and the axis (IntersectLines with the axis segment from
    # (0, 0, -length / 2) along dn = (0, 0, 1)); on a segment parallel to the axis OpenSim's
    # values are undefined: taken as no crossing
    v1, m1 = _unit(_sub(b, a))
    v1x, v1y, v1z = v1
    den = v1y * v1y + v1x * v1x  # |v1 x dn|², v1 x dn = (v1y, -v1x, 0)
    parallel = jnp.abs(den) <= ROUNDOFF
    den = jnp.where(parallel, 1.0, den)
    c0z = -0.5 * length
    w = (-ax, -ay, c0z - az)
    t_axis = _dot(w, (v1z * v1x, v1z * v1y, v1x * -v1x - v1y * v1y)) / den  # det[w; v1; v1 x dn]
    s_line = (w[0] * v1x + w[1] * v1y) / den  # det[w; dn; v1 x dn]
    near12 = _select(parallel, a, _add(a, _scale(s_line, v1)))
    t12 = s_line / jnp.where(m1 > 0.0, m1, 1.0)
    gap = (near12[0], near12[1], near12[2] - (c0z + t_axis))
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

    # 3. preliminary tangent points of each end, in its radial plane (that of its foot
    # (0, 0, p_z) on the axis); only their x and y differ from the end's
    def candidates(p):
        (vx, vy, _), d = _unit((p[0], p[1], 0.0))
        d = jnp.where(d > radius, d, radius)  # inside: any finite value (refused above)
        along = rsq / d
        ppx, ppy = along * vx, along * vy
        across = _sqrt(rsq - along * along)
        # dn x (vx, vy, 0) = (-vy, vx, 0)
        return (ppx - across * vy, ppy + across * vx), (ppx + across * vy, ppy - across * vx), d

    (r1ax, r1ay), (r1bx, r1by), d1 = candidates(a)
    (r2ax, r2ay), (r2bx, r2by), d2 = candidates(b)

    def planar_unit(x, y):
        (ux, uy, _), _ = _unit((x, y, 0.0))
        return ux, uy

    # unconstrained: the pair of tangent points closest in direction
    ua, ub = planar_unit(r1ax, r1ay), planar_unit(r1bx, r1by)
    va, vb = planar_unit(r2ax, r2ay), planar_unit(r2bx, r2by)
    d_1 = ua[0] * va[0] + ua[1] * va[1]
    d_2 = ua[0] * vb[0] + ua[1] * vb[1]
    d_3 = ub[0] * va[0] + ub[1] * va[1]
    d_4 = ub[0] * vb[0] + ub[1] * vb[1]
    pick = jnp.where(
        (d_1 > d_2) & (d_1 > d_3) & (d_1 > d_4),
        0,
        jnp.where((d_2 > d_3) & (d_2 > d_4), 1, jnp.where(d_3 > d_4, 2, 3)),
    )
    free_1, free_2 = pick < 2, (pick == 0) | (pick == 2)  # r1a, r2a
    # constrained: choice "a" = (r1a, r2b), far side where alpha > beta; "b" = (r1b, r2a), far
    # side where alpha <= beta; no tangent point of either end on the active side: the pair of
    # the larger angle, always on the far side
    alpha = _planar_angle(r1ax, r1ay, r2bx, r2by)
    beta = _planar_angle(r1bx, r1by, r2ax, r2ay)
    s1a = _dsign(component((r1ax, r1ay, az))) == sign
    s1b = _dsign(component((r1bx, r1by, az))) == sign
    s2a = _dsign(component((r2ax, r2ay, bz))) == sign
    s2b = _dsign(component((r2bx, r2by, bz))) == sign
    neither = ~s1a & ~s1b & ~s2a & ~s2b
    choose_a = jnp.where(
        s1a & s1b,
        ~s2a,
        jnp.where(s1a, True, jnp.where(s1b, False, jnp.where(s2a, False, s2b))),
    )
    choose_a = jnp.where(neither, alpha > beta, choose_a)
    far = constrained & (neither | jnp.where(choose_a, alpha > beta, ~(alpha > beta)))
    first_a = jnp.where(constrained, choose_a, free_1)
    second_a = jnp.where(constrained, ~choose_a, free_2)
    r1x, r1y = jnp.where(first_a, r1ax, r1bx), jnp.where(first_a, r1ay, r1by)
    r2x, r2y = jnp.where(second_a, r2ax, r2bx), jnp.where(second_a, r2ay, r2by)
    # (r1 - foot1) + (r2 - foot2) . (r1 - a) + (r2 - b); no z: the tangent points are at their
    # ends' heights
    long_wrap = constrained & (
        (r1x + r2x) * ((r1x - ax) + (r2x - bx)) + (r1y + r2y) * ((r1y - ay) + (r2y - by)) < 0.0
    )
    # apex on the cylinder, between the ends' feet, on the near or far side
    t = d1 / (d1 + d2)
    mpt = _add(a, _scale(t, _sub(b, a)))
    l1, _ = _unit((ax, ay, az - mpt[2]))
    l2, _ = _unit((bx, by, bz - mpt[2]))
    nx, ny, _ = _unit(_cross(l1, l2))[0]
    vert1, _ = _unit((-ny, nx, 0.0))  # dn x normal
    vert2, _ = _unit((ny, -nx, 0.0))  # normal x dn
    apex1 = (radius * vert1[0], radius * vert1[1])
    apex2 = (radius * vert2[0], radius * vert2[1])
    nearer1 = (mpt[0] - apex1[0]) ** 2 + (mpt[1] - apex1[1]) ** 2 < (mpt[0] - apex2[0]) ** 2 + (
        mpt[1] - apex2[1]
    ) ** 2
    first = far != nearer1
    apex = (jnp.where(first, apex1[0], apex2[0]), jnp.where(first, apex1[1], apex2[1]), mpt[2])
    # slide the tangent points along the cylinder onto the plane of a, b and the apex
    uu, _ = _unit(_sub(a, apex))
    vv, _ = _unit(_sub(b, apex))
    normal, _ = _unit(_cross(uu, vv))
    d = -_dot(a, normal)

    def slide(x, y, own_z, other_z):
        start_z = own_z - 10.0
        dot = 20.0 * normal[2]
        ok = jnp.abs(dot) >= LINE_EPSILON
        tt = (-d - _dot(normal, (x, y, start_z))) / jnp.where(ok, dot, 1.0)
        ok = ok & (tt >= -LINE_EPSILON) & (tt <= 1.0 + LINE_EPSILON)
        moved = start_z + tt * 20.0
        ok = ok & (jnp.abs(moved - other_z) < jnp.abs(own_z - other_z))
        return jnp.where(ok, moved, own_z)

    r1z = slide(r1x, r1y, az, bz)
    r2z = slide(r2x, r2y, bz, az)
    half = 0.5 * length
    beyond = ((r1z < -half) | (r1z > half)) & ((r2z < -half) | (r2z > half))
    # 4. the helix between the tangent points
    theta = _planar_angle(r1x, r1y, r2x, r2y)
    theta = jnp.where(long_wrap, 2.0 * math.pi - theta, theta)
    arc = radius * theta
    axial = r2z - r1z
    wrapped_length = _sqrt(arc * arc + axial * axial)
    status = jnp.where(inside, INSIDE_RADIUS, jnp.where(beyond, NO_WRAP, status))
    return status, (r1x, r1y, r1z), (r2x, r2y, r2z), wrapped_length, long_wrap


def wrap_cylinder_segment(a: jax.Array, b: jax.Array, radius, length, axis, sign) -> WrapResult:
    """OpenSim's wrap of the segment ``a``-``b`` (cylinder frame: axis z, centred at the
    origin) over a cylinder of ``radius`` and ``length`` (m), constrained to the half-space
    ``sign * x[axis] >= 0`` (``sign`` 0: unconstrained). ``axis`` and ``sign`` may be traced
    (one compiled program serves every muscle of a block). Steps as in the module docstring.
    ``a`` and ``b`` are ``[..., 3]``; every argument broadcasts over the leading axes."""
    status, r1, r2, wrapped_length, long_way = _wrap(_vec(a), _vec(b), radius, length, axis, sign)
    return WrapResult(
        status=status, r1=_array(r1), r2=_array(r2), length=wrapped_length, long_way=long_way
    )


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


def _joint(g: PathGeometry, qk: jax.Array) -> tuple[Mat, Vec]:
    """(R, p) of the other body's frame in the base body's frame."""
    axes = _mat(g.rotation_axis)
    rot = None
    pos = _vec(g.translation_offset)
    for i in range(3):
        angle = g.rotation_slope[i] * _coordinate(qk, g.rotation_slot[i]) + g.rotation_intercept[i]
        turn = _rotation(axes[i], angle)
        rot = turn if rot is None else _matmul(rot, turn)
        shift = g.translation_slope[i] * _coordinate(qk, g.translation_slot[i])
        pos = _add(pos, _scale(shift, _vec(g.translation_axis[i])))
    # child body in parent body: X_PF X_FM X_BM^-1
    parent = _mat(g.parent_rotation)
    r_pc = _matmul(_matmul(parent, rot), _transpose(_mat(g.child_rotation)))
    p_pc = _sub(
        _add(_vec(g.parent_translation), _matvec(parent, pos)),
        _matvec(r_pc, _vec(g.child_translation)),
    )
    r_cp = _transpose(r_pc)
    p_cp = _matvec(r_cp, p_pc)
    return (
        _mat_where(g.parent_is_base, r_pc, r_cp),
        _select(g.parent_is_base, p_pc, (-p_cp[0], -p_cp[1], -p_cp[2])),
    )


def _in_cylinder(g: PathGeometry, rot: Mat, pos: Vec, location, moving) -> Vec:
    """The points ``location`` ``[..., n, 3]`` fixed on their bodies (``moving`` ``[..., n]``:
    on the other body, at ``rot``, ``pos`` of :func:`_joint`) in the wrap cylinder's frame (m),
    each component ``[..., n]``; leading muscle axes as ``g``'s."""

    def rows(m):  # a matrix broadcasting over the points
        return tuple(tuple(e[..., None] for e in row) for row in m)

    loc = _vec(location)
    moved = _add(_matvec(rows(rot), loc), tuple(c[..., None] for c in pos))
    in_base = _select(moving, moved, loc)
    offset = tuple(c[..., None] for c in _vec(g.wrap_translation))
    return _matvec(_transpose(rows(_mat(g.wrap_rotation))), _sub(in_base, offset))


def _ends(g: PathGeometry, rot: Mat, pos: Vec) -> tuple[Vec, Vec]:
    """The segments' start and end points (:func:`_in_cylinder`), each component
    ``[..., segment]``: computed from the fixed locations directly rather than sliced from the
    points, which keeps every array that the wraps read contiguous."""
    starts = _in_cylinder(g, rot, pos, g.location[..., :-1, :], g.moving[..., :-1])
    ends = _in_cylinder(g, rot, pos, g.location[..., 1:, :], g.moving[..., 1:])
    return starts, ends


def _segments(g: PathGeometry, qk: jax.Array) -> tuple[Vec, Vec]:
    """:func:`_ends` at pose ``qk``."""
    return _ends(g, *_joint(g, qk))


def path_points(g: PathGeometry, qk: jax.Array) -> jax.Array:
    """The path points ``[point, 3]`` in the wrap cylinder's frame (m) at pose ``qk``."""
    return _array(_in_cylinder(g, *_joint(g, qk), g.location, g.moving))


def _segment_wraps(g: PathGeometry, starts: Vec, ends: Vec):
    """Every segment's wrap (status, r1, r2, length, long way; a trailing segment axis), and
    which one OpenSim keeps: the first mandatory wrap among the candidates, else the candidate
    wrap adding the least length (none if none wraps). ``g``, ``starts`` and ``ends`` may carry
    the same leading muscle axes. The wraps are evaluated on one flat axis of every muscle's
    segments: XLA's CPU loops vectorise over the last axis, which a segment axis of 2-3 leaves
    too short."""
    shape = starts[0].shape
    n = shape[-1]

    def flat(x):
        return jnp.broadcast_to(jnp.asarray(x)[..., None], shape).reshape(-1)

    status, r1, r2, length, long_way = _wrap(
        tuple(c.reshape(-1) for c in starts),
        tuple(c.reshape(-1) for c in ends),
        flat(g.wrap_radius),
        flat(g.wrap_length),
        flat(g.wrap_axis),
        flat(g.wrap_sign),
    )
    r1 = tuple(c.reshape(shape) for c in r1)
    r2 = tuple(c.reshape(shape) for c in r2)
    status, length, long_way = status.reshape(shape), length.reshape(shape), long_way.reshape(shape)
    added = _norm(_sub(starts, r1)) + length + _norm(_sub(r2, ends)) - _norm(_sub(ends, starts))
    mandatory = g.candidate & (status == MANDATORY_WRAP)
    wrapped = g.candidate & (status == WRAPPED)
    any_mandatory = jnp.any(mandatory, axis=-1, keepdims=True)
    chosen = jnp.where(
        any_mandatory,
        jnp.argmax(mandatory, axis=-1, keepdims=True),
        jnp.argmin(jnp.where(wrapped, added, jnp.inf), axis=-1, keepdims=True),
    )
    keep = (any_mandatory | jnp.any(wrapped, axis=-1, keepdims=True)) & (jnp.arange(n) == chosen)
    return (status, r1, r2, length, long_way), keep


def _lengths(g: PathGeometry, starts: Vec, ends: Vec, *, frozen: bool = False) -> jax.Array:
    """The path length (m) from its segments (:func:`_ends`, leading muscle axes as ``g``'s);
    with ``frozen``, ``[..., 2]``: also the same path with its tangent points held fixed on the
    wrap body and the wrapped arc left out (:func:`path_lengths`)."""
    straight = _norm(_sub(ends, starts))  # [..., segment]
    (_, r1, r2, length, _), keep = _segment_wraps(g, starts, ends)
    wrapped = _norm(_sub(starts, r1)) + length + _norm(_sub(r2, ends))
    total = jnp.sum(jnp.where(keep, wrapped, straight), axis=-1)
    if not frozen:
        return total
    r1, r2 = jax.lax.stop_gradient(r1), jax.lax.stop_gradient(r2)
    held = _norm(_sub(starts, r1)) + _norm(_sub(r2, ends))
    return jnp.stack([total, jnp.sum(jnp.where(keep, held, straight), axis=-1)], axis=-1)


def path_lengths(g: PathGeometry, qk: jax.Array) -> jax.Array:
    """``[length, frozen]`` (m) at pose ``qk``: the path length, and the same path with its
    tangent points held fixed on the wrap body and the wrapped arc left out. -d/dq of the
    second is the moment arm of the tension along OpenSim's segments (``computeMomentArm``);
    one evaluation of the wrap serves both."""
    return _lengths(g, *_segments(g, qk), frozen=True)


def path_length(g: PathGeometry, qk: jax.Array) -> jax.Array:
    """The path length (m) at pose ``qk``."""
    return _lengths(g, *_segments(g, qk))


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

    def _block_lengths(self, own: jax.Array, *, frozen: bool = False) -> jax.Array:
        """Every muscle's :func:`path_length` ``[m]`` (:func:`path_lengths` ``[m, 2]`` with
        ``frozen``) from its own coordinates ``own`` ``[m, i]``: the joints muscle by muscle,
        then the segments of all of them on one axis (:func:`_segment_wraps`)."""
        g = self.geometry
        return _lengths(g, *_ends(g, *jax.vmap(_joint)(g, own)), frozen=frozen)

    def _with_derivative(self, qk: jax.Array, *, frozen: bool = False):
        """:meth:`_block_lengths` and its derivatives by each muscle's own coordinates (a
        trailing axis ``i``). Every muscle's lengths depend on its own coordinates alone, so
        one forward tangent per coordinate slot, set for all muscles at once, gives all of
        them. The tangents ride along the elementwise evaluation: on a CPU about 3.5x faster
        than one reverse pass with a unit cotangent per muscle (4096 poses of the sprinter
        model's eight wrapped muscles), the same values to rounding."""
        own = qk[np.asarray(self.inputs)]
        width = own.shape[-1]
        basis = jnp.broadcast_to(jnp.eye(width, dtype=own.dtype)[:, None, :], (width, *own.shape))
        return jax.vmap(
            lambda t: jax.jvp(partial(self._block_lengths, frozen=frozen), (own,), (t,)),
            out_axes=(None, -1),
        )(basis)

    def lengths(self, qk: jax.Array) -> jax.Array:
        return self._block_lengths(qk[np.asarray(self.inputs)])

    def lengths_and_gradient(self, qk: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Lengths [m] and dL/dq [m, k]."""
        value, own_grad = self._with_derivative(qk)
        return value, self._spread(own_grad)

    def length_gradient(self, qk: jax.Array) -> jax.Array:
        return self.lengths_and_gradient(qk)[1]

    def opensim_arm_difference(self, qk: jax.Array) -> jax.Array:
        """OpenSim's ``computeMomentArm`` minus -dL/dq, ``[m, k]`` (m): the moment arm of the
        tension along the segments with the tangent points fixed on the wrap body, minus that
        of the true length."""
        own_grad = self._with_derivative(qk, frozen=True)[1]  # [m, 2, i]
        return self._spread(own_grad[:, 0] - own_grad[:, 1])

    def segment_states(self, qk: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """OpenSim's verdict on every segment, ``[m, segment]`` each: the status
        (:data:`NO_WRAP`, :data:`INSIDE_RADIUS`, :data:`WRAPPED`, :data:`MANDATORY_WRAP`),
        whether it is the wrap kept, and whether that wrap goes the long way round."""

        def one(g, x):
            (status, _, _, _, long_way), keep = _segment_wraps(g, *_segments(g, x))
            return status, keep, long_way

        return self._each(one, qk)


# ---------------------------------------------------------------------------------------------
# Checking against OpenSim (needs the opensim extra)


# ---------------------------------------------------------------------------------------------
# File format: variables with leading dimension ``path``, one per muscle with an exact path


# ---------------------------------------------------------------------------------------------
# Building the paths of a fitted file, and the command line
