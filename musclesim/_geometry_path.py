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

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._dynamics import _floats
from ._dynamics import _rotation as _rodrigues
from ._errors import InputError

#: OpenSim's ``SimTK::Eps``: a vector shorter than this normalises to zero (``NormalizeOrZero``).
EPS = float(np.finfo(np.float64).eps)
#: ``ROUNDOFF_ERROR`` of OpenSim's SimmMacros.h: two lines are parallel when |v1 x v2|^2 <= this.
ROUNDOFF = 2e-13
#: ``LINE_EPSILON`` of OpenSim's WrapMath: a line meets a plane when |v . n| >= this, within
#: this of the segment's ends.
LINE_EPSILON = 1e-5
#: Largest difference (m) from OpenSim's length accepted by :func:`verify_path`: the algorithm
#: is OpenSim's, so anything above rounding means the geometry read is not the model's.
EXACT_TOLERANCE = 1e-8
#: Poses (uniform over the model's coordinate ranges) at which :func:`verify_path` compares.
VERIFY_POSES = 4000
#: Poses at which the OpenSim moment-arm convention is checked against ``computeMomentArm``.
VERIFY_ARM_POSES = 400

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


@dataclass
class PathSpec:
    """One muscle's path in the frame of its *base* body (the body of its wrap cylinder, or of
    its first point when it has none). Arrays are numpy, SI units.

    ``point_moving[i]``: point i is on the other body (the joint moves it); its ``location`` is
    in that body's frame. The joint: ``parent_is_base`` says which side the base body is on;
    ``parent_rotation``/``parent_translation`` place the joint's frame F in the parent body,
    ``child_rotation``/``child_translation`` its frame M in the child body; rotation ``i`` is
    about ``rotation_axis[i]`` (in F, body-fixed sequence) by ``slope * q[input] + intercept``
    (``input`` -1: constant), and the translation is ``offset + sum axis_i (slope_i q + b_i)``.
    """

    muscle: str
    inputs: list[str]  # the muscle's coordinates (the joint's must be among them)
    bodies: tuple[str, str]  # (base, other)
    joint: str
    location: np.ndarray  # [point, 3]
    point_moving: np.ndarray  # [point] bool
    parent_is_base: bool
    parent_rotation: np.ndarray
    parent_translation: np.ndarray
    child_rotation: np.ndarray
    child_translation: np.ndarray
    rotation_axis: np.ndarray  # [3, 3]
    rotation_input: np.ndarray  # [3] int, -1 constant
    rotation_slope: np.ndarray
    rotation_intercept: np.ndarray
    translation_axis: np.ndarray  # [3, 3]
    translation_input: np.ndarray
    translation_slope: np.ndarray
    translation_offset: np.ndarray  # [3] constant part of the translation
    wrap: str = ""  # wrap cylinder name ("" none)
    wrap_rotation: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    wrap_translation: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    wrap_radius: float = 0.0
    wrap_length: float = 0.0
    wrap_axis: int = 0
    wrap_sign: int = 0
    wrap_first: int = 0  # first and last path point (0-based) the wrap may act between
    wrap_last: int = 0


def _unsupported(path, muscle: str, why: str) -> InputError:
    return InputError(
        f"muscle {muscle!r}: {why}",
        path=path,
        field=f"ForceSet/{muscle}/GeometryPath",
        expected="fixed PathPoints on two bodies joined by one joint affine in its "
        "coordinates, and at most one WrapCylinder (musclesim._geometry_path)",
    )


def _affine(function, *, path, field) -> tuple[float, float]:
    """(slope, intercept) of a one-coordinate function of :mod:`musclesim._dynamics`, refused
    unless it is affine (checked at five points)."""
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    y = np.array([float(function(jnp.asarray(v))) for v in x])
    intercept = y[2]
    slope = (y[3] - y[2]) / 0.5
    if not np.allclose(y, slope * x + intercept, rtol=0.0, atol=1e-12):
        raise InputError(
            "function is not affine in its coordinate",
            path=path,
            field=field,
            expected="a LinearFunction, Constant or a multiple of one",
        )
    return float(slope), float(intercept)


def _axis_of(cross: np.ndarray) -> np.ndarray:
    """The unit axis a of a cross-product matrix K (K v = a x v)."""
    return np.array([cross[2, 1], cross[0, 2], cross[1, 0]])


def read_model(osim_path: str | Path):
    """The parsed ``.osim`` and its :class:`musclesim._dynamics.DynamicsModel`, for
    :func:`read_path` of several muscles of one model."""
    from ._dynamics import load_dynamics_model
    from ._osim import parse_osim

    return parse_osim(osim_path), load_dynamics_model(osim_path)


def read_path(osim_path: str | Path, muscle: str, inputs: Sequence[str], *, model=None) -> PathSpec:
    """The exact path of ``muscle`` from an ``.osim`` file (no OpenSim needed), or an
    :class:`InputError` saying why it is not supported. ``inputs`` are the coordinates the
    muscle's fitted surrogate reads; the joint's coordinates must be among them. ``model``:
    :func:`read_model` of the file, when it is already read."""
    from ._dynamics import body_fixed_xyz
    from ._osim import model_element, muscle_elements

    root, dyn = model if model is not None else read_model(osim_path)
    elements = muscle_elements(root)
    if muscle not in elements:
        raise InputError(
            f"unknown muscle {muscle!r}", path=osim_path, field="ForceSet", expected="a muscle"
        )
    gp = elements[muscle].find("GeometryPath")
    points = gp.find("PathPointSet/objects") if gp is not None else None
    if points is None or len(points) < 2:
        raise _unsupported(osim_path, muscle, "no GeometryPath with two or more points")
    bodies, locations = [], []
    for p in points:
        if p.tag != "PathPoint":
            raise _unsupported(osim_path, muscle, f"point {p.get('name')!r} is a <{p.tag}>")
        frame = (p.findtext("socket_parent_frame") or p.findtext("body") or "").strip()
        bodies.append(frame.rstrip("/").split("/")[-1])
        where = f"ForceSet/{muscle}/{p.get('name')}/location"
        locations.append(_floats(p.findtext("location"), path=osim_path, field=where, n=3))
    wraps = [w for w in gp.findall("PathWrapSet/objects/PathWrap")]
    if len(wraps) > 1:
        raise _unsupported(osim_path, muscle, f"{len(wraps)} wrap objects (one is supported)")
    spec_wrap: dict = {}
    if wraps:
        name = (wraps[0].findtext("wrap_object") or "").strip()
        found = None
        for body in model_element(root).iter("Body"):
            for w in body.findall("WrapObjectSet/objects/*"):
                if w.get("name") == name:
                    found = (body.get("name"), w)
        if found is None:
            raise _unsupported(osim_path, muscle, f"wrap object {name!r} not found on any body")
        wbody, w = found
        active = (w.findtext("active") or "true").strip().lower() in ("true", "1")
        if w.tag != "WrapCylinder":
            raise _unsupported(osim_path, muscle, f"wrap object {name!r} is a <{w.tag}>")
        here = f"BodySet/{wbody}/WrapObjectSet/{name}"
        quadrant = (w.findtext("quadrant") or "all").strip()
        if quadrant not in QUADRANTS:
            raise InputError(
                f"quadrant {quadrant!r}",
                path=osim_path,
                field=here + "/quadrant",
                expected="all, x, +x, -x, y, ... (OpenSim's names)",
            )
        rng = _floats(
            wraps[0].findtext("range") or "-1 -1",
            path=osim_path,
            field=f"ForceSet/{muscle}/PathWrap/range",
            n=2,
        ).astype(int)
        first = 0 if rng[0] < 1 else int(rng[0]) - 1
        last = len(locations) - 1 if rng[1] < 1 else int(rng[1]) - 1
        if not 0 <= first < last < len(locations):
            raise InputError(
                f"range {rng.tolist()}",
                path=osim_path,
                field=f"ForceSet/{muscle}/PathWrap/range",
                expected=f"1-based point indices within 1..{len(locations)}, or -1",
            )
        radius = _floats(w.findtext("radius"), path=osim_path, field=here + "/radius", n=1)[0]
        length = _floats(w.findtext("length"), path=osim_path, field=here + "/length", n=1)[0]
        if radius <= 0.0 or length <= 0.0:
            raise InputError(
                f"radius {radius}, length {length}",
                path=osim_path,
                field=here,
                expected="a positive radius and length (m)",
            )
        axis, sign = QUADRANTS[quadrant]
        rot = _floats(
            w.findtext("xyz_body_rotation") or "0 0 0",
            path=osim_path,
            field=here + "/xyz_body_rotation",
            n=3,
        )
        tr = _floats(
            w.findtext("translation") or "0 0 0", path=osim_path, field=here + "/translation", n=3
        )
        if active:
            spec_wrap = dict(
                wrap=name,
                wrap_rotation=body_fixed_xyz(rot),
                wrap_translation=tr,
                wrap_radius=float(radius),
                wrap_length=float(length),
                wrap_axis=axis,
                wrap_sign=sign,
                wrap_first=first,
                wrap_last=last,
            )
        base = wbody
    else:
        base = bodies[0]
    others = sorted(set(bodies) - {base})
    if len(others) != 1:
        raise _unsupported(
            osim_path,
            muscle,
            f"points on bodies {sorted(set(bodies))} with the wrap on {base!r} "
            "(the wrap body and one other are supported)",
        )
    other = others[0]
    ib, io = dyn.body_index(base), dyn.body_index(other)
    joints = [j for j in dyn.joints if {j.parent, j.child} == {ib, io}]
    if len(joints) != 1:
        raise _unsupported(osim_path, muscle, f"{base!r} and {other!r} are not joined directly")
    joint = joints[0]
    names = dyn.coordinate_names
    here = f"JointSet/{joint.name}"

    def slot(c: int, axis: str) -> int:
        if c < 0:
            return -1
        if names[c] not in inputs:
            raise _unsupported(
                osim_path,
                muscle,
                f"joint {joint.name!r} {axis} follows {names[c]!r}, not among the muscle's "
                f"coordinates {list(inputs)}",
            )
        return list(inputs).index(names[c])

    r_axis, r_in, r_slope, r_int = np.zeros((3, 3)), np.full(3, -1), np.zeros(3), np.zeros(3)
    for i, c in enumerate(joint.rotation_coordinates):
        cross = np.asarray(joint.rotation_cross[i])
        r_axis[i] = _axis_of(cross)
        r_in[i] = slot(c, f"rotation{i + 1}")
        if c >= 0:
            r_slope[i], r_int[i] = _affine(
                joint.rotation_functions[i], path=osim_path, field=f"{here}/rotation{i + 1}"
            )
        else:  # a constant rotation
            r_int[i] = float(joint.rotation_functions[i](jnp.asarray(0.0)))
    t_axis, t_in, t_slope = np.zeros((3, 3)), np.full(3, -1), np.zeros(3)
    offset = np.asarray(joint.translation_offset, dtype=float).copy()
    for i, c in enumerate(joint.translation_coordinates):
        t_axis[i] = np.asarray(joint.translation_axes[i])
        if c >= 0:
            t_in[i] = slot(c, f"translation{i + 1}")
            s, b = _affine(
                joint.translation_functions[i], path=osim_path, field=f"{here}/translation{i + 1}"
            )
            t_slope[i] = s
            offset = offset + t_axis[i] * b
    return PathSpec(
        muscle=muscle,
        inputs=list(inputs),
        bodies=(base, other),
        joint=joint.name,
        location=np.array(locations),
        point_moving=np.array([b == other for b in bodies]),
        parent_is_base=joint.parent == ib,
        parent_rotation=np.asarray(joint.parent_rotation),
        parent_translation=np.asarray(joint.parent_translation),
        child_rotation=np.asarray(joint.child_rotation),
        child_translation=np.asarray(joint.child_translation),
        rotation_axis=r_axis,
        rotation_input=r_in,
        rotation_slope=r_slope,
        rotation_intercept=r_int,
        translation_axis=t_axis,
        translation_input=t_in,
        translation_slope=t_slope,
        translation_offset=offset,
        **spec_wrap,
    )


# ---------------------------------------------------------------------------------------------
# The JAX evaluation


def _unit(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(v / |v|, |v|), the zero vector where |v| < EPS (OpenSim's ``NormalizeOrZero``); finite
    gradients everywhere."""
    n2 = jnp.sum(v * v, axis=-1)
    ok = n2 >= EPS * EPS
    n = jnp.sqrt(jnp.where(ok, n2, 1.0))
    return jnp.where(ok[..., None], v / n[..., None], 0.0), jnp.where(ok, n, 0.0)


def _norm(v: jax.Array) -> jax.Array:
    return _unit(v)[1]


def _angle(u: jax.Array, v: jax.Array) -> jax.Array:
    """The angle between u and v in [0, pi] (acos of the normalised dot product, written as
    atan2 so that it and its gradient stay finite at 0 and pi)."""
    return jnp.arctan2(_norm(jnp.cross(u, v)), jnp.dot(u, v))


def _sqrt(x: jax.Array) -> jax.Array:
    """sqrt(max(x, 0)) with a zero (not infinite) gradient at and below 0."""
    pos = x > 0.0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def _dsign(x: jax.Array) -> jax.Array:
    """OpenSim's ``DSIGN``: +1 for x >= 0, else -1."""
    return jnp.where(x >= 0.0, 1, -1)


def _rotation(axis: jax.Array, angle: jax.Array) -> jax.Array:
    """Rotation by ``angle`` about the unit ``axis`` (Rodrigues, :mod:`musclesim._dynamics`)."""
    k = jnp.array(
        [[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]],
        dtype=angle.dtype,
    )
    return _rodrigues(k, k @ k, angle)


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
    den = jnp.dot(cross, cross)
    parallel = jnp.abs(den) <= ROUNDOFF
    den = jnp.where(parallel, 1.0, den)
    w = c0 - a
    t_axis = jnp.dot(w, jnp.cross(v1, cross)) / den  # det[w; v1; cross]
    s_line = jnp.dot(w, jnp.cross(dn, cross)) / den  # det[w; dn; cross]
    near00 = c0 + t_axis * dn
    near12 = jnp.where(parallel, a, a + s_line * v1)
    t12 = s_line / jnp.where(m1 > 0.0, m1, 1.0)
    gap = near12 - near00
    hits = ~parallel & (jnp.dot(gap, gap) < rsq) & (t12 > 0.0) & (t12 < 1.0)
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
    d_1, d_2, d_3, d_4 = jnp.dot(ua, va), jnp.dot(ua, vb), jnp.dot(ub, va), jnp.dot(ub, vb)
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
    long_wrap = constrained & (jnp.dot((r1 - p11) + (r2 - p22), (r1 - a) + (r2 - b)) < 0.0)
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
    d = -jnp.dot(a, normal)

    def slide(r, own_z, other_z):
        start = r - 10.0 * dn
        dot = 20.0 * normal[2]
        ok = jnp.abs(dot) >= LINE_EPSILON
        tt = (-d - jnp.dot(normal, start)) / jnp.where(ok, dot, 1.0)
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
        f = np.float64
        return cls(
            location=jnp.asarray(np.asarray(spec.location, f)[pad]),
            moving=jnp.asarray(np.asarray(spec.point_moving, bool)[pad]),
            candidate=jnp.asarray(candidate & (segment < n - 1)),
            parent_is_base=jnp.asarray(bool(spec.parent_is_base)),
            parent_rotation=jnp.asarray(spec.parent_rotation, f),
            parent_translation=jnp.asarray(spec.parent_translation, f),
            child_rotation=jnp.asarray(spec.child_rotation, f),
            child_translation=jnp.asarray(spec.child_translation, f),
            rotation_axis=jnp.asarray(spec.rotation_axis, f),
            rotation_slot=jnp.asarray(np.asarray(spec.rotation_input, dtype=np.int64)),
            rotation_slope=jnp.asarray(spec.rotation_slope, f),
            rotation_intercept=jnp.asarray(spec.rotation_intercept, f),
            translation_axis=jnp.asarray(spec.translation_axis, f),
            translation_slot=jnp.asarray(np.asarray(spec.translation_input, dtype=np.int64)),
            translation_slope=jnp.asarray(spec.translation_slope, f),
            translation_offset=jnp.asarray(spec.translation_offset, f),
            wrap_rotation=jnp.asarray(spec.wrap_rotation, f),
            wrap_translation=jnp.asarray(spec.wrap_translation, f),
            wrap_radius=jnp.asarray(spec.wrap_radius if has_wrap else 1.0, f),
            wrap_length=jnp.asarray(spec.wrap_length if has_wrap else 1.0, f),
            wrap_axis=jnp.asarray(spec.wrap_axis),
            wrap_sign=jnp.asarray(spec.wrap_sign),
        )


def _coordinate(qk: jax.Array, slot: jax.Array) -> jax.Array:
    """qk[slot], 0 for slot -1."""
    return jnp.where(slot >= 0, qk[jnp.maximum(slot, 0)], 0.0)


def _joint(g: PathGeometry, qk: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(R, p) of the other body's frame in the base body's frame."""
    rot = jnp.eye(3, dtype=qk.dtype)
    pos = g.translation_offset
    for i in range(3):
        angle = g.rotation_slope[i] * _coordinate(qk, g.rotation_slot[i]) + g.rotation_intercept[i]
        rot = rot @ _rotation(g.rotation_axis[i], angle)
        shift = g.translation_slope[i] * _coordinate(qk, g.translation_slot[i])
        pos = pos + g.translation_axis[i] * shift
    # child body in parent body: X_PF X_FM X_BM^-1
    r_pc = g.parent_rotation @ rot @ g.child_rotation.T
    p_pc = g.parent_translation + g.parent_rotation @ pos - r_pc @ g.child_translation
    return (
        jnp.where(g.parent_is_base, r_pc, r_pc.T),
        jnp.where(g.parent_is_base, p_pc, -(r_pc.T @ p_pc)),
    )


def path_points(g: PathGeometry, qk: jax.Array) -> jax.Array:
    """The path points ``[point, 3]`` in the wrap cylinder's frame (m) at pose ``qk``."""
    rot, pos = _joint(g, qk)
    in_base = jnp.where(g.moving[:, None], g.location @ rot.T + pos, g.location)
    return (in_base - g.wrap_translation) @ g.wrap_rotation


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
            geometry=jax.tree_util.tree_map(lambda *x: jnp.stack(x), *parts),
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
            geometry=jax.tree_util.tree_map(lambda x: x[kk], self.geometry),
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
        def both(g, x):
            grad, value = jax.jacfwd(lambda y: (path_length(g, y),) * 2, has_aux=True)(x)
            return value, grad

        value, grad = self._each(both, qk)
        return value, self._spread(grad)

    def length_gradient(self, qk: jax.Array) -> jax.Array:
        return self._spread(self._each(lambda g, x: jax.jacfwd(partial(path_length, g))(x), qk))

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


@dataclass
class PathCheck:
    """How an exact path compares with OpenSim at uniform random poses over the model's
    coordinate ranges (m): lengths, and the OpenSim moment-arm convention against
    ``computeMomentArm``; ``long_way_share``/``wrapped_share``: the share of those poses where
    OpenSim's path wraps the long way round the cylinder / wraps at all."""

    muscle: str
    length_rms: float
    length_max: float
    n: int
    opensim_arm_rms: float
    opensim_arm_max: float
    convention_rms: float  # |computeMomentArm - (-dL/dq)|, what the convention changes
    n_arm: int
    long_way_share: float
    wrapped_share: float
    seed: int


def verify_path(
    sampler, spec: PathSpec, box: dict[str, tuple[float, float]], *, n=VERIFY_POSES, seed=0
) -> PathCheck:
    """Compare the exact path of ``spec`` with OpenSim (``sampler``, an
    :class:`musclesim._geometry_fit.OpenSimSampler` of the same model) at ``n`` uniform random
    poses of ``box`` (the muscle's coordinates, rad) and the upright pose; raise
    :class:`InputError` when a length differs by more than :data:`EXACT_TOLERANCE`."""
    rng = np.random.default_rng(seed)
    inputs = spec.inputs
    q = np.stack([rng.uniform(*box[c], size=n) for c in inputs], axis=1)
    q = np.concatenate([np.zeros((1, len(inputs))), q])
    block = PathBlock.from_specs([spec], [0], inputs, range(len(inputs)))
    qj = jnp.asarray(q)
    ours = np.asarray(jax.jit(jax.vmap(block.lengths))(qj))[:, 0]
    ref = sampler.lengths({c: q[:, k] for k, c in enumerate(inputs)}, [spec.muscle])[:, 0]
    err = ours - ref
    worst = int(np.argmax(np.abs(err)))
    if not np.abs(err[worst]) <= EXACT_TOLERANCE:
        at = ", ".join(
            f"{c} {math.degrees(v):.2f} deg" for c, v in zip(inputs, q[worst], strict=True)
        )
        raise InputError(
            f"exact path of {spec.muscle!r} differs from OpenSim by {err[worst] * 1e3:.4g} mm "
            f"at {at}",
            path=sampler.path,
            field=f"ForceSet/{spec.muscle}/GeometryPath",
            expected=f"OpenSim's length within {EXACT_TOLERANCE} m (a path musclesim reads "
            "exactly)",
        )
    n_arm = min(VERIFY_ARM_POSES, n)
    sub = q[1 : 1 + n_arm]
    diff = np.asarray(jax.jit(jax.vmap(block.opensim_arm_difference))(jnp.asarray(sub)))[:, 0]
    grad = np.asarray(jax.jit(jax.vmap(block.length_gradient))(jnp.asarray(sub)))[:, 0]
    ours_arm = -grad + diff
    ref_arm = sampler.moment_arms(
        {c: sub[:, k] for k, c in enumerate(inputs)}, [spec.muscle], inputs
    )
    e_arm = ours_arm - ref_arm[:, 0, :]
    _, keep, long_way = (np.asarray(x)[:, 0] for x in jax.jit(jax.vmap(block.segment_states))(qj))
    return PathCheck(
        muscle=spec.muscle,
        length_rms=float(np.sqrt(np.mean(err**2))),
        length_max=float(np.max(np.abs(err))),
        n=int(len(q)),
        opensim_arm_rms=float(np.sqrt(np.mean(e_arm**2))),
        opensim_arm_max=float(np.max(np.abs(e_arm))),
        convention_rms=float(np.sqrt(np.mean(diff**2))),
        n_arm=int(n_arm),
        long_way_share=float(np.mean(np.any(keep & long_way, axis=1))),
        wrapped_share=float(np.mean(np.any(keep, axis=1))),
        seed=int(seed),
    )


# ---------------------------------------------------------------------------------------------
# File format: variables with leading dimension ``path``, one per muscle with an exact path

#: The leading dimension of every exact-path variable (stripped and carried together).
PATH_DIM = "path"
_MATRICES = ("parent_rotation", "child_rotation", "wrap_rotation")
_VECTORS = ("parent_translation", "child_translation", "translation_offset", "wrap_translation")
_AXIS_ROWS = ("rotation_slope", "rotation_intercept", "translation_slope")
_CHECK_FIELDS = {
    "length_rms": ("m", "length minus OpenSim's, RMS over the check poses"),
    "length_max": ("m", "largest |length minus OpenSim's| over the check poses"),
    "n": ("1", "check poses (uniform over the model's coordinate ranges, and upright)"),
    "opensim_arm_rms": ("m", "OpenSim-convention moment arm minus computeMomentArm, RMS"),
    "opensim_arm_max": ("m", "largest |OpenSim-convention moment arm minus computeMomentArm|"),
    "convention_rms": ("m", "computeMomentArm minus -dL/dq, RMS (what the convention changes)"),
    "n_arm": ("1", "moment-arm check poses"),
    "long_way_share": ("1", "share of check poses where OpenSim wraps the long way round"),
    "wrapped_share": ("1", "share of check poses where the path wraps"),
    "seed": ("1", "seed of the check poses"),
}


def paths_to_dataset(
    specs: Sequence[PathSpec],
    checks: Sequence[PathCheck],
    domains: Sequence[dict[str, tuple[float, float]]],
    coordinates: Sequence[str],
):
    """The ``path_*`` variables of ``specs`` (with their checks and checked ranges) as an
    ``xarray.Dataset`` on the file's ``coordinate`` list."""
    import xarray as xr

    n = len(specs)
    n_point = max((len(s.location) for s in specs), default=1)
    n_slot = max((len(s.inputs) for s in specs), default=1)
    cpos = {c: k for k, c in enumerate(coordinates)}
    location = np.full((n, n_point, 3), np.nan)
    moving = np.full((n, n_point), -1, dtype=np.int8)
    inputs = np.full((n, n_slot), -1, dtype=np.int32)
    dlo = np.full((n, n_slot), np.nan)
    dhi = np.full((n, n_slot), np.nan)
    for j, (s, dom) in enumerate(zip(specs, domains, strict=True)):
        location[j, : len(s.location)] = s.location
        moving[j, : len(s.location)] = s.point_moving
        inputs[j, : len(s.inputs)] = [cpos[c] for c in s.inputs]
        for k, c in enumerate(s.inputs):
            dlo[j, k], dhi[j, k] = dom[c]

    def stack(attr, dtype=float):
        return np.array([np.asarray(getattr(s, attr)) for s in specs], dtype=dtype)

    data = {
        "path_muscle": ((PATH_DIM,), np.array([s.muscle for s in specs], dtype=object), {}),
        "path_base_body": ((PATH_DIM,), np.array([s.bodies[0] for s in specs], dtype=object), {}),
        "path_other_body": ((PATH_DIM,), np.array([s.bodies[1] for s in specs], dtype=object), {}),
        "path_joint": ((PATH_DIM,), np.array([s.joint for s in specs], dtype=object), {}),
        "path_wrap": ((PATH_DIM,), np.array([s.wrap for s in specs], dtype=object), {}),
        "path_input_coordinate": (
            (PATH_DIM, "path_slot"),
            inputs,
            {"long_name": "index into coordinate of each of the path's inputs", "units": "1"},
        ),
        "path_domain_lower": (
            (PATH_DIM, "path_slot"),
            dlo,
            {"long_name": "lower end of the checked range (the model's)", "units": "rad"},
        ),
        "path_domain_upper": (
            (PATH_DIM, "path_slot"),
            dhi,
            {"long_name": "upper end of the checked range (the model's)", "units": "rad"},
        ),
        "path_point_location": (
            (PATH_DIM, "path_point", "path_xyz"),
            location,
            {"long_name": "path point in its body's frame (NaN: unused)", "units": "m"},
        ),
        "path_point_moving": (
            (PATH_DIM, "path_point"),
            moving,
            {"long_name": "1: the point is on the other body, 0: on the base body", "units": "1"},
        ),
        "path_parent_is_base": ((PATH_DIM,), stack("parent_is_base", np.int8), {"units": "1"}),
        "path_rotation_axis": (
            (PATH_DIM, "path_axis", "path_xyz"),
            stack("rotation_axis"),
            {"long_name": "joint rotation axes in the joint's parent frame", "units": "1"},
        ),
        "path_rotation_input": (
            (PATH_DIM, "path_axis"),
            stack("rotation_input", np.int32),
            {"long_name": "slot in path_input_coordinate (-1: constant)", "units": "1"},
        ),
        "path_translation_axis": (
            (PATH_DIM, "path_axis", "path_xyz"),
            stack("translation_axis"),
            {"units": "1"},
        ),
        "path_translation_input": (
            (PATH_DIM, "path_axis"),
            stack("translation_input", np.int32),
            {"units": "1"},
        ),
        "path_wrap_radius": ((PATH_DIM,), stack("wrap_radius"), {"units": "m"}),
        "path_wrap_length": ((PATH_DIM,), stack("wrap_length"), {"units": "m"}),
        "path_wrap_axis": ((PATH_DIM,), stack("wrap_axis", np.int32), {"units": "1"}),
        "path_wrap_sign": (
            (PATH_DIM,),
            stack("wrap_sign", np.int32),
            {"long_name": "quadrant sign (0: all)", "units": "1"},
        ),
        "path_wrap_first": ((PATH_DIM,), stack("wrap_first", np.int32), {"units": "1"}),
        "path_wrap_last": ((PATH_DIM,), stack("wrap_last", np.int32), {"units": "1"}),
    }
    for key in _MATRICES:
        data[f"path_{key}"] = ((PATH_DIM, "path_row", "path_column"), stack(key), {"units": "1"})
    for key in _VECTORS:
        data[f"path_{key}"] = ((PATH_DIM, "path_xyz"), stack(key), {"units": "m"})
    for key in _AXIS_ROWS:
        unit = "rad" if key.startswith("rotation") else "m"
        data[f"path_{key}"] = ((PATH_DIM, "path_axis"), stack(key), {"units": f"{unit} per unit"})
    for key, (unit, long_name) in _CHECK_FIELDS.items():
        data[f"path_check_{key}"] = (
            (PATH_DIM,),
            np.array([getattr(c, key) for c in checks]),
            {"units": unit, "long_name": long_name},
        )
    return xr.Dataset(
        {k: xr.Variable(d, v, a) for k, (d, v, a) in data.items()},
        coords={"coordinate": list(coordinates)},
    )


def path_muscles(ds) -> list[str]:
    """Muscles of a fitted-geometry dataset that have an exact path."""
    return [str(m) for m in ds["path_muscle"].values] if "path_muscle" in ds else []


def specs_from_dataset(ds) -> dict[str, tuple[PathSpec, dict, PathCheck]]:
    """Each exact path of a fitted-geometry dataset: ``{muscle: (spec, domain, check)}``."""
    coordinates = [str(c) for c in ds["coordinate"].values]
    arrays = {k: ds[k].values for k in ds.data_vars if ds[k].dims[:1] == (PATH_DIM,)}
    out = {}
    for j, m in enumerate(path_muscles(ds)):
        v = {k: a[j] for k, a in arrays.items()}
        n_point = int(np.sum(v["path_point_moving"] >= 0))
        inputs = [coordinates[int(k)] for k in v["path_input_coordinate"] if k >= 0]
        kwargs = {k: np.array(v[f"path_{k}"], dtype=float) for k in _MATRICES + _VECTORS}
        kwargs.update({k: np.array(v[f"path_{k}"], dtype=float) for k in _AXIS_ROWS})
        spec = PathSpec(
            muscle=m,
            inputs=inputs,
            bodies=(str(v["path_base_body"]), str(v["path_other_body"])),
            joint=str(v["path_joint"]),
            location=np.array(v["path_point_location"][:n_point], dtype=float),
            point_moving=np.array(v["path_point_moving"][:n_point] == 1),
            parent_is_base=bool(v["path_parent_is_base"]),
            rotation_axis=np.array(v["path_rotation_axis"], dtype=float),
            rotation_input=np.array(v["path_rotation_input"], dtype=int),
            translation_axis=np.array(v["path_translation_axis"], dtype=float),
            translation_input=np.array(v["path_translation_input"], dtype=int),
            wrap=str(v["path_wrap"]),
            wrap_radius=float(v["path_wrap_radius"]),
            wrap_length=float(v["path_wrap_length"]),
            wrap_axis=int(v["path_wrap_axis"]),
            wrap_sign=int(v["path_wrap_sign"]),
            wrap_first=int(v["path_wrap_first"]),
            wrap_last=int(v["path_wrap_last"]),
            **kwargs,
        )
        domain = {
            c: (float(v["path_domain_lower"][k]), float(v["path_domain_upper"][k]))
            for k, c in enumerate(inputs)
        }
        kinds = {"n": int, "n_arm": int, "seed": int}
        check = PathCheck(
            muscle=m,
            **{k: kinds.get(k, float)(v[f"path_check_{k}"]) for k in _CHECK_FIELDS},
        )
        out[m] = (spec, domain, check)
    return out


def _without_paths(ds):
    out = ds.drop_vars([v for v in ds.data_vars if ds[v].dims[:1] == (PATH_DIM,)])
    out.attrs = {k: v for k, v in ds.attrs.items() if k != "path_settings"}
    from ._geometry import FILE_FORMAT, FILE_FORMAT_MIN_PIECES

    has_min = "piece_kind" in out and bool(np.any(out["piece_kind"].values == 1))
    out.attrs["format"] = FILE_FORMAT_MIN_PIECES if has_min else FILE_FORMAT
    return out


def _with_paths(ds, records: dict, settings: dict):
    """``ds`` (without paths) with the exact paths ``records`` (``{muscle: (spec, domain,
    check)}``), in the file's muscle order, and ``settings`` as ``path_settings``."""
    if not records:
        return ds
    from ._geometry import FILE_FORMAT_PATHS

    coordinates = [str(c) for c in ds["coordinate"].values]
    ordered = [records[m] for m in (str(x) for x in ds["muscle"].values) if m in records]
    specs, domains, checks = zip(*ordered, strict=True)
    out = ds.merge(paths_to_dataset(specs, checks, domains, coordinates), combine_attrs="override")
    out.attrs = dict(ds.attrs)
    out.attrs["path_settings"] = json.dumps(settings)
    out.attrs["format"] = FILE_FORMAT_PATHS
    return out


def attach_paths(geometry_ds, records: dict, settings: dict):
    """``geometry_ds`` with the exact paths ``records`` (``{muscle: (spec, domain, check)}``)
    added, replacing those of the same muscles and keeping the others; ``settings`` (how they
    were made) is appended to the file's ``path_settings["fits"]``."""
    muscles = [str(m) for m in geometry_ds["muscle"].values]
    unknown = [m for m in records if m not in muscles]
    if unknown:
        raise InputError(
            f"muscle(s) {unknown} are not in the fitted geometry",
            field="muscles",
            expected=f"muscles among {muscles}",
        )
    kept = {m: r for m, r in specs_from_dataset(geometry_ds).items() if m not in records}
    old = json.loads(geometry_ds.attrs.get("path_settings", "{}"))
    merged = {
        "tolerance_m": EXACT_TOLERANCE,
        "algorithm": "OpenSim 4.6 WrapCylinder::wrapLine and GeometryPath::applyWrapObjects "
        "(one wrap object, no visualiser), musclesim._geometry_path",
        "fits": list(old.get("fits", [])) + [dict(settings, muscles=list(records))],
    }
    return _with_paths(_without_paths(geometry_ds), {**kept, **records}, merged)


def strip_paths(ds, muscles: Sequence[str] | None = None):
    """``ds`` without the exact paths of ``muscles`` (default: all of them); the polynomial
    surrogates stored beside them serve those muscles again."""
    kept = {
        m: r for m, r in specs_from_dataset(ds).items() if muscles is not None and m not in muscles
    }
    return _with_paths(_without_paths(ds), kept, json.loads(ds.attrs.get("path_settings", "{}")))


def carry_paths(base, merged, refitted: Sequence[str]):
    """After a polynomial refit of ``refitted`` is merged into ``base``: ``merged`` with
    ``base``'s exact paths of the other muscles (a refit replaces a muscle's path: the last
    fit wins)."""
    kept = {m: r for m, r in specs_from_dataset(base).items() if m not in refitted}
    return _with_paths(merged, kept, json.loads(base.attrs.get("path_settings", "{}")))


# ---------------------------------------------------------------------------------------------
# Building the paths of a fitted file, and the command line


def default_path_muscles(ds) -> list[str]:
    """The muscles whose polynomial needs help: regions cut out of its domain where OpenSim's
    path is erratic, or a held-out error over the tolerance of ``musclesim fit-geometry``."""
    from ._geometry_fit import HELDOUT_MAX_TOL, HELDOUT_RMS_TOL

    muscles = [str(m) for m in ds["muscle"].values]
    regions = ds["excluded_count"].values if "excluded_count" in ds else np.zeros(len(muscles))
    miss = (ds["heldout_rms"].values > HELDOUT_RMS_TOL) | (
        ds["heldout_max"].values > HELDOUT_MAX_TOL
    )
    return [m for m, r, x in zip(muscles, regions, miss, strict=True) if r > 0 or x]


def fit_paths(
    osim_path, ds, muscles: Sequence[str] | None = None, *, n=VERIFY_POSES, seed=0, log=print
) -> tuple[dict, dict]:
    """Read and check against OpenSim the exact path of each of ``muscles`` of the fitted
    dataset ``ds`` (default :func:`default_path_muscles`). Returns ``({muscle: (spec, domain,
    check)}, {muscle: why not})``: a muscle named explicitly whose path is not supported raises
    :class:`InputError`; one of the default selection is listed as skipped."""
    from ._geometry_fit import sampler_for_fitted

    all_muscles = [str(m) for m in ds["muscle"].values]
    explicit = muscles is not None
    chosen = list(muscles) if explicit else default_path_muscles(ds)
    unknown = [m for m in chosen if m not in all_muscles]
    if unknown:
        raise InputError(
            f"unknown muscle(s) {unknown}",
            field="--muscles",
            expected=f"muscles of the fitted file: {all_muscles}",
        )
    sampler = sampler_for_fitted(osim_path, ds)
    coordinates = [str(c) for c in ds["coordinate"].values]
    model = read_model(osim_path)
    records, skipped = {}, {}
    for m in chosen:
        i = all_muscles.index(m)
        inputs = [coordinates[int(k)] for k in ds["input_coordinate"].values[i] if k >= 0]
        try:
            spec = read_path(osim_path, m, inputs, model=model)
        except InputError as exc:
            if explicit:
                raise
            skipped[m] = exc.problem
            log(f"{m}: skipped ({exc.problem})")
            continue
        box = {c: (sampler.coordinates[c].lower, sampler.coordinates[c].upper) for c in inputs}
        check = verify_path(sampler, spec, box, n=n, seed=seed + i)
        records[m] = (spec, box, check)
        log(
            f"{m}: {len(spec.location)} points on {spec.bodies[0]}/{spec.bodies[1]} via "
            f"{spec.joint}, wrap {spec.wrap or 'none'}; vs OpenSim at {check.n} poses: length "
            f"max {check.length_max:.1e} m, computeMomentArm max {check.opensim_arm_max:.1e} m "
            f"(convention changes the arm by {check.convention_rms * 1e3:.2f} mm RMS); wraps at "
            f"{100 * check.wrapped_share:.1f} % of poses, the long way at "
            f"{100 * check.long_way_share:.1f} %"
        )
    return records, skipped


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "fit-path",
        help="store exact OpenSim paths for wrapped muscles in a fitted geometry file "
        "(needs OpenSim)",
        description="Read the path of each muscle (fixed points on two bodies, one joint, one "
        "wrap cylinder) from the .osim, check that musclesim's evaluation of it equals "
        "OpenSim's lengths and computeMomentArm at random poses over the model's ranges, and "
        "store it in the fitted file, where it replaces the muscle's polynomial.",
    )
    from ._geometry_cli import add_fitted_file_arguments

    add_fitted_file_arguments(p)
    p.add_argument(
        "--muscles",
        nargs="+",
        default=None,
        help="default: every muscle with excluded regions or a held-out miss whose path is "
        "supported",
    )
    p.add_argument("--poses", type=int, default=VERIFY_POSES, help="check poses per muscle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="why (recorded in path_settings)")
    p.set_defaults(func=_run_cli)


def _run_cli(args) -> int:
    from ._geometry import load_geometry_dataset
    from ._geometry_fit import write_geometry
    from ._io import sha256_file

    ds = load_geometry_dataset(args.into)
    records, skipped = fit_paths(args.model, ds, args.muscles, n=args.poses, seed=args.seed)
    if not records:
        print("no muscle with a supported path; file unchanged")
        return 0
    settings = {
        "poses": args.poses,
        "seed": args.seed,
        "source_sha256": sha256_file(args.model),
        **({"note": args.note} if args.note else {}),
        **({"skipped": skipped} if skipped else {}),
    }
    path = write_geometry(attach_paths(ds, records, settings), args.out or args.into)
    print(f"wrote {path}: exact paths for {', '.join(records)}")
    return 0
