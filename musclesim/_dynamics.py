"""Inverse dynamics of an OpenSim model in JAX: joint moments from measured motion.

The model is read from the ``.osim`` file without OpenSim (:func:`load_dynamics_model`): bodies
(mass, mass centre, inertia about the mass centre in the body frame), joints with their parent
and child offset frames, the gravity vector and the coordinate-coupler constraints. Joint types:
``CustomJoint`` (a ``SpatialTransform`` of three rotation and three translation axes, each a
function of at most one coordinate: ``Constant``, ``LinearFunction``, ``PolynomialFunction``,
``SimmSpline``, ``MultiplierFunction``), ``PinJoint``, ``SliderJoint``, ``UniversalJoint`` and
``WeldJoint``. Any other type is refused with an :class:`InputError` naming the joint.

Kinematics follow Simbody's conventions as OpenSim builds them (checked body by body against
``Frame.getTransformInGround`` in ``tests/test_dynamics.py``):

* an offset frame's ``orientation`` holds body-fixed X-Y-Z angles, R = Rx(a) Ry(b) Rz(c);
* a ``CustomJoint`` rotates its child frame M about ``rotation1``, then ``rotation2``, then
  ``rotation3`` (body-fixed: R_FM = R(a1, f1) R(a2, f2) R(a3, f3)), and translates it by
  ``sum_k a_k f_k`` along the translation axes, expressed in the parent frame F;
* a ``PinJoint`` rotates about the common z axis of its frames; a ``UniversalJoint`` about x,
  then the new y; a ``SliderJoint`` translates along x;
* X_GB = X_GP · X_PF · X_FM(q) · X_BM⁻¹ along the tree from ground.

Generalized forces (the pure JAX core, :func:`generalized_forces`) use the Jacobian-transpose
form of the Newton-Euler equations, which is exact and needs no recursion by hand::

    tau = sum_b  J_v,b(q)^T m_b (a_b - g)  +  J_w,b(q)^T (I_b alpha_b + w_b x I_b w_b)
          - sum_e J_e(q)^T (F_e, T_e)

with a_b the mass-centre acceleration, w_b and alpha_b the angular velocity and acceleration,
I_b the inertia about the mass centre in ground axes, all in ground. Velocities are
forward-mode derivatives of the forward kinematics (``jax.jvp``), accelerations their
derivative along (q̇, q̈), and the transpose Jacobians one reverse-mode product (``jax.vjp``) of
the velocity map, which is linear in q̇. ``tau`` is the residual of M(q) q̈ + C(q, q̇) − G(q) −
external loads, the quantity OpenSim's ``InverseDynamicsSolver`` returns.

Two conventions for the velocity-product term (``convention=``): ``"opensim"`` (default)
reproduces Simbody's ``FunctionBased`` mobilizer, which approximates the rate of a
``CustomJoint``'s angular-velocity Jacobian when one coordinate drives several rotations (the
``walker_knee`` of the Lai/Rajagopal/sprinter models); results then equal OpenSim's to
rounding (1e-12 N·m on the sprint). ``"exact"`` differentiates the kinematics exactly; it
differs from OpenSim by about 1-2 % of the peak hip and knee moments in the sprint trials
(``validation/inverse_dynamics.py``). Following house style, the default is OpenSim's so that
parity checks (static optimisation against OpenSim's tool) are exact.

Compilation: the first call for a model compiles the whole tree (tens of seconds for the
22-body sprinter model on a laptop CPU); :func:`chunked_generalized_forces` then reuses one
compilation for records of any length.

Coupled coordinates (``knee_angle_r_beta = f(knee_angle_r)`` in the Rajagopal family):
OpenSim's inverse dynamics ignores constraints (``calcResidualForceIgnoringConstraints``) and
reports the dependent coordinate's generalized force on its own (``knee_angle_r_beta_force``).
:func:`generalized_forces` follows that convention exactly (every model coordinate gets its own
entry). The moments that :func:`inverse_dynamics` returns to users apply the constraint by the
chain rule (virtual work): the dependent coordinate is set from the coupler function, and
``tau_knee_total = tau_knee + f'(q_knee) · tau_beta``, the moment that the muscles crossing the
knee must supply, patella included (:func:`reduce_coupled`).

Units: SI throughout (m, kg, s, rad, N, N·m).

Reference: Featherstone R (2008) *Rigid Body Dynamics Algorithms*, Springer,
doi:10.1007/978-1-4899-7560-7, ch. 5 (inverse dynamics; the Jacobian-transpose form of the
Newton-Euler equations); Seth A et al. (2018) OpenSim: simulating musculoskeletal dynamics and
neuromuscular control to study human and animal movement, PLoS Comput Biol 14(7):e1006223,
doi:10.1371/journal.pcbi.1006223.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ._errors import InputError
from ._groups import LEG_COORDINATES
from ._io import sha256_file
from ._osim import model_element, parse_osim
from ._spline import CubicSpline, cubic_spline

#: Joint types that :func:`load_dynamics_model` understands.
SUPPORTED_JOINTS = ("CustomJoint", "PinJoint", "SliderJoint", "UniversalJoint", "WeldJoint")


# ----------------------------------------------------------------------------------------------
# OpenSim functions of one coordinate
# ----------------------------------------------------------------------------------------------


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
    """OpenSim ``SimmSpline``: the coefficients of :func:`musclesim._spline.cubic_spline` with
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


# ----------------------------------------------------------------------------------------------
# The static model
# ----------------------------------------------------------------------------------------------


def _cross_matrices(axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """K (k, 3, 3) with K v = axis x v, and K @ K, for unit axes (k, 3)."""
    k = np.zeros((axes.shape[0], 3, 3))
    for i, (x, y, z) in enumerate(axes):
        k[i] = [[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]]
    return k, k @ k


def _rotation(cross: jax.Array, cross2: jax.Array, angle: jax.Array) -> jax.Array:
    """Rotation by ``angle`` about a unit axis, Rodrigues: I + sin(a) K + (1 - cos(a)) K²."""
    return jnp.eye(3) + jnp.sin(angle) * cross + (1.0 - jnp.cos(angle)) * cross2


def body_fixed_xyz(angles: np.ndarray) -> np.ndarray:
    """R = Rx(a) Ry(b) Rz(c): Simbody's body-fixed X-Y-Z sequence (offset-frame orientation)."""
    a, b, c = (float(v) for v in angles)
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return rx @ ry @ rz


class Joint(eqx.Module):
    """One joint: parent/child offset frames and its rotation and translation axes.

    ``rotation_coordinates``/``translation_coordinates`` hold the index of the coordinate that
    drives each axis, or ``-1`` for an axis whose function has no coordinate: its constant
    rotation (``rotation_constant[i]``) or translation (folded into ``translation_offset``)
    is evaluated once at load time. Axes are unit vectors in the parent offset frame F;
    rotations are body-fixed, applied in order; ``rotation_cross[i]`` is the cross-product
    matrix K of axis i and ``rotation_cross2[i]`` = K². ``mobilities`` lists the joint's own
    coordinates (model indices) in the file's order, Simbody's mobility order; ``subtree`` the
    bodies moved by the joint (its child and every descendant).
    """

    name: str = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    parent: int = eqx.field(static=True)
    child: int = eqx.field(static=True)
    rotation_coordinates: tuple[int, ...] = eqx.field(static=True)
    translation_coordinates: tuple[int, ...] = eqx.field(static=True)
    mobilities: tuple[int, ...] = eqx.field(static=True)
    subtree: tuple[int, ...] = eqx.field(static=True)
    parent_rotation: jax.Array
    parent_translation: jax.Array
    child_rotation: jax.Array
    child_translation: jax.Array
    rotation_cross: jax.Array
    rotation_cross2: jax.Array
    rotation_constant: jax.Array
    translation_axes: jax.Array
    translation_offset: jax.Array
    rotation_functions: tuple[AbstractFunction, ...]
    translation_functions: tuple[AbstractFunction, ...]

    def transform(self, q: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(R_FM, p_FM): the child frame M in the parent frame F at coordinates ``q``."""
        rot = None
        for i, c in enumerate(self.rotation_coordinates):
            if c < 0:
                step = self.rotation_constant[i]
            else:
                angle = self.rotation_functions[i](q[c])
                step = _rotation(self.rotation_cross[i], self.rotation_cross2[i], angle)
            rot = step if rot is None else rot @ step
        if rot is None:
            rot = jnp.eye(3)
        pos = self.translation_offset
        for i, c in enumerate(self.translation_coordinates):
            if c >= 0:
                pos = pos + self.translation_axes[i] * self.translation_functions[i](q[c])
        return rot, pos


class Coupler(eqx.Module):
    """A ``CoordinateCouplerConstraint``: q[dependent] = scale · f(q[independent])."""

    name: str = eqx.field(static=True)
    dependent: int = eqx.field(static=True)
    independent: int = eqx.field(static=True)
    function: AbstractFunction
    scale: jax.Array

    def __call__(self, x):
        return self.scale * self.function(x)


class DynamicsModel(eqx.Module):
    """Rigid-body model for inverse dynamics, read from an ``.osim`` (:func:`load_dynamics_model`).

    Inertial parameters and geometry are arrays (differentiable, vmappable); names and the
    tree structure are static. ``joints`` are in tree order (every parent before its child).
    Bodies are indexed as in ``body_names`` (the file's BodySet order); ``-1`` is ground.
    """

    body_names: tuple[str, ...] = eqx.field(static=True)
    coordinate_names: tuple[str, ...] = eqx.field(static=True)
    motion_types: tuple[str, ...] = eqx.field(static=True)
    locked: tuple[bool, ...] = eqx.field(static=True)
    source_path: str = eqx.field(static=True)
    source_sha256: str = eqx.field(static=True)
    default_q: jax.Array
    mass: jax.Array
    mass_center: jax.Array
    inertia: jax.Array
    gravity: jax.Array
    joints: tuple[Joint, ...]
    couplers: tuple[Coupler, ...]

    def coordinate_index(self, name: str) -> int:
        return self._index(self.coordinate_names, name, "coordinate")

    def body_index(self, name: str) -> int:
        return self._index(self.body_names, name, "body")

    def _index(self, names: tuple[str, ...], name: str, field: str) -> int:
        if name not in names:
            raise InputError(
                f"unknown {field} {name!r}",
                path=self.source_path,
                field=field,
                expected="one of " + ", ".join(names),
            )
        return names.index(name)


def _body_name(socket: str) -> str:
    """``/bodyset/femur_r`` or ``femur_r`` → ``femur_r``; ``/ground`` → ``ground``."""
    return socket.strip().rstrip("/").split("/")[-1]


def _frame(
    joint: ET.Element, socket_tag: str, *, path, bodies
) -> tuple[int, np.ndarray, np.ndarray]:
    """(body index, R_body_frame, p_body_frame) of a joint's parent or child frame."""
    jname = joint.get("name")
    name = (joint.findtext(socket_tag) or "").strip()
    if not name:
        raise InputError(
            f"joint {jname!r} has no <{socket_tag}>",
            path=path,
            field=f"JointSet/{jname}",
            expected="parent and child frames",
        )
    frames = joint.find("frames")
    offset = None
    if frames is not None:
        for frame in frames:
            if frame.get("name") == name:
                offset = frame
    if offset is None:
        body, rot, pos = _body_name(name), np.eye(3), np.zeros(3)
    else:
        if offset.tag != "PhysicalOffsetFrame":
            raise InputError(
                f"frame {name!r} is a <{offset.tag}>",
                path=path,
                field=f"JointSet/{jname}/frames",
                expected="PhysicalOffsetFrame",
            )
        body = _body_name(offset.findtext("socket_parent") or "")
        here = f"JointSet/{jname}/frames/{name}"
        pos = _floats(
            offset.findtext("translation") or "0 0 0", path=path, field=here + "/translation", n=3
        )
        rot = body_fixed_xyz(
            _floats(
                offset.findtext("orientation") or "0 0 0",
                path=path,
                field=here + "/orientation",
                n=3,
            )
        )
    if body == "ground":
        return -1, rot, pos
    if body not in bodies:
        raise InputError(
            f"frame {name!r} of joint {jname!r} is attached to unknown body {body!r}",
            path=path,
            field=f"JointSet/{jname}",
            expected="a body of the BodySet or ground",
        )
    return bodies.index(body), rot, pos


def _unit(v: np.ndarray, *, path, field) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise InputError("zero axis", path=path, field=field, expected="a nonzero axis")
    return v / norm


def load_dynamics_model(path: str | Path) -> DynamicsModel:
    """Read bodies, joints, gravity and coordinate couplers of an ``.osim`` file (no OpenSim).

    Raises :class:`InputError` naming the file and field for an unsupported joint type or
    function, a missing body, malformed numbers, or a coupler with more than one independent
    coordinate.
    """
    path = Path(path)
    root = parse_osim(path)
    model = model_element(root)
    body_elements = model.find("BodySet/objects")
    bodies = [] if body_elements is None else [b for b in body_elements if b.tag == "Body"]
    names = [b.get("name") for b in bodies]
    mass, com, inertia = [], [], []
    for b in bodies:
        here = f"BodySet/{b.get('name')}"
        mass.append(_floats(b.findtext("mass"), path=path, field=here + "/mass", n=1)[0])
        com.append(_floats(b.findtext("mass_center"), path=path, field=here + "/mass_center", n=3))
        i6 = _floats(b.findtext("inertia"), path=path, field=here + "/inertia", n=6)
        inertia.append(
            np.array([[i6[0], i6[3], i6[4]], [i6[3], i6[1], i6[5]], [i6[4], i6[5], i6[2]]])
        )
    gravity = _floats(model.findtext("gravity") or "0 -9.80665 0", path=path, field="gravity", n=3)

    joint_elements = model.find("JointSet/objects")
    joint_list = [] if joint_elements is None else list(joint_elements)
    coord_names: list[str] = []
    defaults: list[float] = []
    locked: list[bool] = []
    kinds: dict[str, str] = {}
    for j in joint_list:
        for c in j.findall("coordinates/Coordinate"):
            cname = c.get("name")
            coord_names.append(cname)
            defaults.append(
                _floats(
                    c.findtext("default_value") or "0",
                    path=path,
                    field=f"JointSet/{j.get('name')}/{cname}/default_value",
                    n=1,
                )[0]
            )
            locked.append((c.findtext("locked") or "false").strip().lower() in ("true", "1"))

    def index_of(cname: str, where: str) -> int:
        if cname not in coord_names:
            raise InputError(
                f"unknown coordinate {cname!r}",
                path=path,
                field=where,
                expected="a coordinate declared by a joint",
            )
        return coord_names.index(cname)

    parsed: list[dict] = []
    for j in joint_list:
        jname, kind = j.get("name"), j.tag
        here = f"JointSet/{jname}"
        if kind not in SUPPORTED_JOINTS:
            raise InputError(
                f"unsupported joint type <{kind}> for joint {jname!r}",
                path=path,
                field=here,
                expected="one of " + ", ".join(SUPPORTED_JOINTS),
            )
        parent, rp, pp = _frame(j, "socket_parent_frame", path=path, bodies=names)
        child, rc, pc = _frame(j, "socket_child_frame", path=path, bodies=names)
        if child < 0:
            raise InputError(
                f"joint {jname!r} has ground as child",
                path=path,
                field=here,
                expected="a body as child frame",
            )
        own = [c.get("name") for c in j.findall("coordinates/Coordinate")]
        rot_axes, rot_fns, rot_idx, tr_axes, tr_fns, tr_idx = [], [], [], [], [], []
        identity = LinearFunction(jnp.asarray(1.0), jnp.asarray(0.0))
        if kind == "CustomJoint":
            st = j.find("SpatialTransform")
            if st is None:
                raise InputError(
                    "no <SpatialTransform>",
                    path=path,
                    field=here,
                    expected="a CustomJoint with a SpatialTransform",
                )
            for ta in st.findall("TransformAxis"):
                aname = ta.get("name") or ""
                field = f"{here}/SpatialTransform/{aname}"
                axis = _unit(
                    _floats(ta.findtext("axis"), path=path, field=field + "/axis", n=3),
                    path=path,
                    field=field + "/axis",
                )
                coords = (ta.findtext("coordinates") or "").split()
                if len(coords) > 1:
                    raise InputError(
                        f"{len(coords)} coordinates on one axis",
                        path=path,
                        field=field,
                        expected="at most one coordinate per axis",
                    )
                fn_el = [c for c in ta if c.tag not in ("coordinates", "axis")]
                if len(fn_el) != 1:
                    raise InputError(
                        "no function", path=path, field=field, expected="one function element"
                    )
                fn = parse_function(fn_el[0], path=path, field=field)
                idx = index_of(coords[0], field) if coords else -1
                if aname.startswith("rotation"):
                    rot_axes.append(axis), rot_fns.append(fn), rot_idx.append(idx)
                    if idx >= 0:
                        kinds.setdefault(coords[0], "rotational")
                elif aname.startswith("translation"):
                    tr_axes.append(axis), tr_fns.append(fn), tr_idx.append(idx)
                    if idx >= 0:
                        kinds.setdefault(coords[0], "translational")
                else:
                    raise InputError(
                        f"unknown TransformAxis {aname!r}",
                        path=path,
                        field=field,
                        expected="rotation1-3 or translation1-3",
                    )
        else:
            expected_n = {"PinJoint": 1, "SliderJoint": 1, "UniversalJoint": 2, "WeldJoint": 0}
            if len(own) != expected_n[kind]:
                raise InputError(
                    f"{len(own)} coordinates",
                    path=path,
                    field=here,
                    expected=f"{expected_n[kind]} for a {kind}",
                )
            if kind == "PinJoint":
                rot_axes, rot_fns, rot_idx = (
                    [np.array([0.0, 0, 1])],
                    [identity],
                    [index_of(own[0], here)],
                )
                kinds[own[0]] = "rotational"
            elif kind == "UniversalJoint":
                rot_axes = [np.array([1.0, 0, 0]), np.array([0.0, 1, 0])]
                rot_fns, rot_idx = [identity, identity], [index_of(c, here) for c in own]
                kinds.update({c: "rotational" for c in own})
            elif kind == "SliderJoint":
                tr_axes, tr_fns, tr_idx = (
                    [np.array([1.0, 0, 0])],
                    [identity],
                    [index_of(own[0], here)],
                )
                kinds[own[0]] = "translational"

        rot_axes_np = np.array(rot_axes, dtype=np.float64).reshape(-1, 3)
        tr_axes_np = np.array(tr_axes, dtype=np.float64).reshape(-1, 3)
        cross, cross2 = _cross_matrices(rot_axes_np)
        constant = np.array(
            [
                np.asarray(_rotation(jnp.asarray(k1), jnp.asarray(k2), fn(jnp.asarray(0.0))))
                if c < 0
                else np.eye(3)
                for k1, k2, fn, c in zip(cross, cross2, rot_fns, rot_idx, strict=True)
            ]
        ).reshape(-1, 3, 3)
        offset = np.zeros(3)
        for axis, fn, c in zip(tr_axes_np, tr_fns, tr_idx, strict=True):
            if c < 0:
                offset = offset + axis * float(fn(jnp.asarray(0.0)))
        parsed.append(
            dict(
                mobilities=tuple(index_of(c, here) for c in own),
                name=jname,
                kind=kind,
                parent=parent,
                child=child,
                rotation_coordinates=tuple(rot_idx),
                translation_coordinates=tuple(tr_idx),
                parent_rotation=jnp.asarray(rp),
                parent_translation=jnp.asarray(pp),
                child_rotation=jnp.asarray(rc),
                child_translation=jnp.asarray(pc),
                rotation_cross=jnp.asarray(cross),
                rotation_cross2=jnp.asarray(cross2),
                rotation_constant=jnp.asarray(constant),
                translation_axes=jnp.asarray(tr_axes_np),
                translation_offset=jnp.asarray(offset),
                rotation_functions=tuple(rot_fns),
                translation_functions=tuple(tr_fns),
            )
        )
    # tree order: every parent before its child
    children: dict[int, list[int]] = {}
    for kw in parsed:
        children.setdefault(kw["parent"], []).append(kw["child"])

    def subtree(body: int) -> tuple[int, ...]:
        out, stack = [], [body]
        while stack:
            b = stack.pop()
            if b in out:  # a loop; reported below
                break
            out.append(b)
            stack.extend(children.get(b, []))
        return tuple(sorted(out))

    joints = [Joint(**kw, subtree=subtree(kw["child"])) for kw in parsed]
    ordered: list[Joint] = []
    placed = {-1}
    remaining = list(joints)
    while remaining:
        ready = [jt for jt in remaining if jt.parent in placed]
        if not ready:
            raise InputError(
                "joints do not form a tree rooted at ground",
                path=path,
                field="JointSet",
                expected="every body reachable from ground: "
                + ", ".join(jt.name for jt in remaining),
            )
        for jt in ready:
            if jt.child in placed:
                raise InputError(
                    f"body {names[jt.child]!r} is the child of two joints",
                    path=path,
                    field=f"JointSet/{jt.name}",
                    expected="a tree (closed loops are not supported)",
                )
            placed.add(jt.child)
            ordered.append(jt)
            remaining.remove(jt)

    couplers = []
    constraints = model.find("ConstraintSet/objects")
    for con in [] if constraints is None else list(constraints):
        if con.tag != "CoordinateCouplerConstraint":
            continue
        enforced = (con.findtext("isEnforced") or "true").strip().lower() in ("true", "1")
        if not enforced:
            continue
        here = f"ConstraintSet/{con.get('name')}"
        indep = (con.findtext("independent_coordinate_names") or "").split()
        dep = (con.findtext("dependent_coordinate_name") or "").strip()
        if len(indep) != 1:
            raise InputError(
                f"{len(indep)} independent coordinates",
                path=path,
                field=here,
                expected="exactly one independent coordinate",
            )
        holder = con.find("coupled_coordinates_function")
        if holder is None or len(holder) != 1:
            raise InputError(
                "no coupled_coordinates_function", path=path, field=here, expected="one function"
            )
        scale = _floats(
            con.findtext("scale_factor") or "1", path=path, field=here + "/scale_factor", n=1
        )
        couplers.append(
            Coupler(
                name=con.get("name"),
                dependent=index_of(dep, here),
                independent=index_of(indep[0], here),
                function=parse_function(holder[0], path=path, field=here),
                scale=jnp.asarray(scale[0]),
            )
        )
        kinds[dep] = "coupled"
    return DynamicsModel(
        body_names=tuple(names),
        coordinate_names=tuple(coord_names),
        motion_types=tuple(kinds.get(c, "rotational") for c in coord_names),
        locked=tuple(locked),
        source_path=str(path.resolve()),
        source_sha256=sha256_file(path),
        default_q=jnp.asarray(np.array(defaults, dtype=np.float64)),
        mass=jnp.asarray(np.array(mass, dtype=np.float64)),
        mass_center=jnp.asarray(np.array(com, dtype=np.float64).reshape(-1, 3)),
        inertia=jnp.asarray(np.array(inertia, dtype=np.float64).reshape(-1, 3, 3)),
        gravity=jnp.asarray(gravity),
        joints=tuple(ordered),
        couplers=tuple(couplers),
    )


# ----------------------------------------------------------------------------------------------
# Kinematics and dynamics (one frame; vmap over frames)
# ----------------------------------------------------------------------------------------------


def _tree(model: DynamicsModel, q: jax.Array):
    """Body poses, plus each joint's parent frame orientation and M-frame origin in ground."""
    nb = len(model.body_names)
    rots: list = [None] * nb
    poss: list = [None] * nb
    frames = []
    for joint in model.joints:
        if joint.parent < 0:
            r_p, p_p = jnp.eye(3), jnp.zeros(3)
        else:
            r_p, p_p = rots[joint.parent], poss[joint.parent]
        r_f = r_p @ joint.parent_rotation
        p_f = p_p + r_p @ joint.parent_translation
        r_fm, p_fm = joint.transform(q)
        r_m = r_f @ r_fm
        p_m = p_f + r_f @ p_fm
        r_b = r_m @ joint.child_rotation.T
        rots[joint.child] = r_b
        poss[joint.child] = p_m - r_b @ joint.child_translation
        frames.append((r_f, p_m))
    return jnp.stack(rots), jnp.stack(poss), frames


def body_poses(model: DynamicsModel, q: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Orientation R (bodies, 3, 3) and origin position p (bodies, 3) of every body in ground.

    ``q`` (coordinates,) in rad/m, in ``model.coordinate_names`` order.
    """
    rot, pos, _ = _tree(model, q)
    return rot, pos


def _com_pose(model: DynamicsModel, q):
    rot, pos = body_poses(model, q)
    return rot, pos + jnp.einsum("bij,bj->bi", rot, model.mass_center)


def _vee(omega_hat):
    return 0.5 * jnp.stack(
        [
            omega_hat[..., 2, 1] - omega_hat[..., 1, 2],
            omega_hat[..., 0, 2] - omega_hat[..., 2, 0],
            omega_hat[..., 1, 0] - omega_hat[..., 0, 1],
        ],
        axis=-1,
    )


def body_velocities(model: DynamicsModel, q: jax.Array, qd: jax.Array):
    """Mass-centre velocity (bodies, 3) and angular velocity (bodies, 3), in ground.

    Both are linear in ``qd``: v = J_v(q) q̇, w = J_w(q) q̇.
    """
    (rot, _), (rot_dot, com_dot) = jax.jvp(lambda x: _com_pose(model, x), (q,), (qd,))
    return com_dot, _vee(rot_dot @ jnp.swapaxes(rot, -1, -2))


class ExternalLoads(eqx.Module):
    """Loads applied to bodies, in ground, for one frame (or a batch under vmap).

    ``force`` (loads, 3) N, ``point`` (loads, 3) m (application point in ground), ``torque``
    (loads, 3) N·m (free torque), each acting on the body ``bodies[k]`` (static indices).
    """

    bodies: tuple[int, ...] = eqx.field(static=True)
    force: jax.Array
    point: jax.Array
    torque: jax.Array


#: Conventions for the velocity-product (Coriolis) term of ``CustomJoint`` rotations.
CONVENTIONS = ("opensim", "exact")


def _simbody_rotation_rate_error(model: DynamicsModel, q, qd, frames, com):
    """What Simbody's ``FunctionBased`` mobilizer adds to the exact accelerations.

    Simbody (``MobilizedBodyImpl.h``, ``FunctionBasedImpl::CacheInfo::buildHdot``) builds the
    rate of the angular-velocity Jacobian W = [a1, R1 a2, R1 R2 a3] of a ``CustomJoint`` with
    columns ``V1 x W2`` and ``V2 x W3``, where V1 is the angular velocity from the joint's
    first mobility and V2 from its first two (all mobilities when it has at most two). The
    exact rates are ``w1 x W2`` and ``(w1 + w2) x W3`` (w_i: rotation i's own contribution).
    They agree when rotation i is driven by mobility i (pelvis, hip) and differ when one
    coordinate drives several rotations (the knee of the Lai/Rajagopal ``walker_knee``):
    there the cross-joint angular acceleration gains dα_F = (V1 − w1) × w2 + (V2 − w1 − w2) × w3.
    Returns (dα, da) per body in ground: the joint's dα for every body it moves, and
    dα × (c_b − o_M) for their mass centres.
    """
    nb = len(model.body_names)
    d_alpha = jnp.zeros((nb, 3))
    d_acc = jnp.zeros((nb, 3))
    for joint, (r_f, p_m) in zip(model.joints, frames, strict=True):
        coords = joint.rotation_coordinates
        if joint.kind != "CustomJoint" or sum(c >= 0 for c in coords) < 2:
            continue
        n_mob = len(joint.mobilities)
        columns, omegas, r_acc = [], [], jnp.eye(3)
        for i, c in enumerate(coords):
            axis = jnp.stack(
                [
                    joint.rotation_cross[i][2, 1],
                    joint.rotation_cross[i][0, 2],
                    joint.rotation_cross[i][1, 0],
                ]
            )
            column = r_acc @ axis
            if c >= 0:
                angle, rate = jax.jvp(joint.rotation_functions[i], (q[c],), (qd[c],))
                step = _rotation(joint.rotation_cross[i], joint.rotation_cross2[i], angle)
            else:
                rate = 0.0 * q[0]
                step = joint.rotation_constant[i]
            columns.append(column)
            omegas.append(column * rate)
            r_acc = r_acc @ step
        mobility = [joint.mobilities.index(c) if c >= 0 else -1 for c in coords]
        first = {0}
        first_two = {0, 1} if n_mob > 2 else set(range(n_mob))
        v1 = sum((w for w, m in zip(omegas, mobility, strict=True) if m in first), jnp.zeros(3))
        v2 = sum((w for w, m in zip(omegas, mobility, strict=True) if m in first_two), jnp.zeros(3))
        w1, w2, w3 = (omegas + [jnp.zeros(3)] * 3)[:3]
        d_alpha_f = jnp.cross(v1 - w1, w2) + jnp.cross(v2 - w1 - w2, w3)
        d_alpha_g = r_f @ d_alpha_f
        idx = jnp.asarray(np.array(joint.subtree, dtype=np.int32))
        d_alpha = d_alpha.at[idx].add(d_alpha_g)
        d_acc = d_acc.at[idx].add(jnp.cross(d_alpha_g, com[idx] - p_m))
    return d_alpha, d_acc


def generalized_forces(
    model: DynamicsModel,
    q: jax.Array,
    qd: jax.Array,
    qdd: jax.Array,
    external: ExternalLoads | None = None,
    *,
    convention: str = "opensim",
) -> jax.Array:
    """Generalized forces tau (coordinates,) that produce q̈ at (q, q̇): one frame.

    OpenSim's convention (``InverseDynamicsSolver``): constraints ignored, every coordinate
    (coupled ones included) gets its own entry; rotational entries in N·m, translational in N.
    tau = sum_b J_v,b^T m_b (a_b − g) + J_w,b^T (I_b α_b + w_b × I_b w_b) − sum_e J_e^T (F_e, T_e).

    Args:
        model: from :func:`load_dynamics_model`.
        q, qd, qdd: (coordinates,) in rad, rad/s, rad/s² (m, m/s, m/s² for translations), in
            ``model.coordinate_names`` order.
        external: optional loads in ground (force at a point, plus free torque).
        convention: ``"opensim"`` (default) reproduces Simbody's velocity-product term of
            ``CustomJoint`` rotations exactly (see :func:`_simbody_rotation_rate_error`), so
            results equal OpenSim's to rounding; ``"exact"`` differentiates the kinematics
            exactly. They differ only for joints where one coordinate drives several rotations
            (the ``walker_knee``), by terms quadratic in that coordinate's speed: about 1-2 %
            of the peak hip and knee moments in the 9 m/s sprint.

    Pure and differentiable; use ``jax.vmap`` over frames and ``jax.jit``.
    """
    if convention not in CONVENTIONS:
        raise InputError(
            f"unknown convention {convention!r}",
            field="convention",
            expected=f"one of {CONVENTIONS}",
        )

    def vel(x, xd):
        return body_velocities(model, x, xd)

    (_, omega), (acc, alpha) = jax.jvp(vel, (q, qd), (qd, qdd))
    rot, pos, frames = _tree(model, q)
    com = pos + jnp.einsum("bij,bj->bi", rot, model.mass_center)
    if convention == "opensim":
        d_alpha, d_acc = _simbody_rotation_rate_error(model, q, qd, frames, com)
        alpha = alpha + d_alpha
        acc = acc + d_acc
    inertia_g = rot @ model.inertia @ jnp.swapaxes(rot, -1, -2)
    force = model.mass[:, None] * (acc - model.gravity)
    i_omega = jnp.einsum("bij,bj->bi", inertia_g, omega)
    moment = jnp.einsum("bij,bj->bi", inertia_g, alpha) + jnp.cross(omega, i_omega)
    if external is not None and len(external.bodies):
        idx = jnp.asarray(np.array(external.bodies, dtype=np.int32))
        arm = external.point - com[idx]
        force = force.at[idx].add(-external.force)
        moment = moment.at[idx].add(-(external.torque + jnp.cross(arm, external.force)))
    _, transpose = jax.vjp(lambda xd: vel(q, xd), qd)
    (tau,) = transpose((force, moment))
    return tau


def apply_couplers(
    model: DynamicsModel, q: jax.Array, qd: jax.Array, qdd: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Set every coupled coordinate from its coupler: q_d = f(q_i), q̇_d = f' q̇_i,
    q̈_d = f'' q̇_i² + f' q̈_i (one frame)."""
    for cp in model.couplers:
        x, xd, xdd = q[cp.independent], qd[cp.independent], qdd[cp.independent]

        def first(a, ad, cp=cp):
            return jax.jvp(cp, (a,), (ad,))

        (val, d1), (_, d2) = jax.jvp(first, (x, xd), (xd, xdd))
        q = q.at[cp.dependent].set(val)
        qd = qd.at[cp.dependent].set(d1)
        qdd = qdd.at[cp.dependent].set(d2)
    return q, qd, qdd


def reduce_coupled(model: DynamicsModel, q: jax.Array, tau: jax.Array) -> jax.Array:
    """Fold each coupled coordinate's generalized force onto its independent coordinate.

    tau_i += f'(q_i) · tau_d (virtual work through q_d = f(q_i)); tau_d is set to 0. The
    result is the generalized force of the constrained system's independent coordinates
    (e.g. the knee moment including the patella of the Rajagopal family). One frame.
    """
    for cp in model.couplers:
        slope = jax.grad(cp)(q[cp.independent])
        tau = tau.at[cp.independent].add(slope * tau[cp.dependent])
        tau = tau.at[cp.dependent].set(0.0)
    return tau


def joint_moments(
    model: DynamicsModel,
    q: jax.Array,
    qd: jax.Array,
    qdd: jax.Array,
    external: ExternalLoads | None = None,
    *,
    convention: str = "opensim",
) -> jax.Array:
    """Constraint-consistent generalized forces (one frame): couplers applied to (q, q̇, q̈),
    :func:`generalized_forces`, then :func:`reduce_coupled`. Coupled entries are 0."""
    q, qd, qdd = apply_couplers(model, q, qd, qdd)
    tau = generalized_forces(model, q, qd, qdd, external, convention=convention)
    return reduce_coupled(model, q, tau)


@eqx.filter_jit
def batched_generalized_forces(
    model: DynamicsModel,
    q: jax.Array,
    qd: jax.Array,
    qdd: jax.Array,
    external: ExternalLoads | None = None,
    *,
    convention: str = "opensim",
) -> jax.Array:
    """:func:`generalized_forces` over frames: q, q̇, q̈ (time, coordinates), ``external``
    with arrays (time, loads, 3); compiled once per model and shape."""

    def one(a, b, c, e):
        return generalized_forces(model, a, b, c, e, convention=convention)

    if external is None:
        return jax.vmap(lambda a, b, c: one(a, b, c, None))(q, qd, qdd)
    return jax.vmap(one)(q, qd, qdd, external)


#: Frames per compiled batch in :func:`chunked_generalized_forces` (records of any length reuse
#: one compiled function; the last chunk is padded by repeating its final frame).
CHUNK_FRAMES = 128


def chunked_generalized_forces(
    model: DynamicsModel,
    q,
    qd,
    qdd,
    external: ExternalLoads | None = None,
    *,
    convention: str = "opensim",
    chunk: int = CHUNK_FRAMES,
) -> np.ndarray:
    """:func:`batched_generalized_forces` in fixed-size chunks of frames (NumPy result), so that
    records of different lengths share one compilation."""
    q, qd, qdd = (np.asarray(a) for a in (q, qd, qdd))
    n = q.shape[0]
    out = []
    for start in range(0, n, chunk):
        idx = np.minimum(np.arange(start, start + chunk), n - 1)
        ext = None
        if external is not None:
            ext = ExternalLoads(
                bodies=external.bodies,
                force=jnp.asarray(np.asarray(external.force)[idx]),
                point=jnp.asarray(np.asarray(external.point)[idx]),
                torque=jnp.asarray(np.asarray(external.torque)[idx]),
            )
        tau = batched_generalized_forces(
            model,
            jnp.asarray(q[idx]),
            jnp.asarray(qd[idx]),
            jnp.asarray(qdd[idx]),
            ext,
            convention=convention,
        )
        out.append(np.asarray(tau)[: min(chunk, n - start)])
    return np.concatenate(out, axis=0)


# ----------------------------------------------------------------------------------------------
# External loads from an OpenSim ExternalLoads .xml and its data file
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExternalForceSpec:
    """One ``<ExternalForce>`` of an ExternalLoads file (names as OpenSim writes them)."""

    name: str
    body: str
    force_identifier: str
    point_identifier: str
    torque_identifier: str
    force_expressed_in: str
    point_expressed_in: str


def read_external_loads(
    path: str | Path, *, data_file: str | Path | None = None
) -> tuple[list[ExternalForceSpec], xr.Dataset]:
    """Read an OpenSim ExternalLoads ``.xml`` and its data (``.mot``/``.sto``).

    The data file is ``data_file`` when given, else the xml's ``<datafile>`` resolved against
    the xml's folder, else a file of that name beside the xml (setup files often name
    ``../ExpData/grf.mot``). Forces and points must be expressed in ground (the force-plate
    convention); the identifiers must each select exactly three columns (OpenSim's rule).
    """
    import defusedxml.ElementTree as DET

    from ._motion import read_storage

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path, expected="an OpenSim ExternalLoads .xml")
    try:
        root = DET.parse(path, forbid_dtd=True).getroot()
    except ET.ParseError as exc:
        raise InputError(
            f"malformed XML ({exc})", path=path, expected="an ExternalLoads file"
        ) from exc
    loads_el = root if root.tag == "ExternalLoads" else root.find("ExternalLoads")
    if loads_el is None:
        raise InputError(
            f"root <{root.tag}>", path=path, expected="<OpenSimDocument><ExternalLoads>"
        )
    if data_file is None:
        named = (loads_el.findtext("datafile") or "").strip()
        if not named:
            raise InputError(
                "no <datafile>",
                path=path,
                field="ExternalLoads/datafile",
                expected="a data file, or data_file=...",
            )
        candidate = (path.parent / named).resolve()
        data_file = candidate if candidate.is_file() else path.parent / Path(named).name
    data = read_storage(data_file)
    channels = [str(c) for c in data["channel"].values]
    specs = []
    for ef in loads_el.iter("ExternalForce"):
        if (ef.findtext("isDisabled") or "false").strip().lower() == "true":
            continue
        here = f"ExternalLoads/{ef.get('name')}"
        spec = ExternalForceSpec(
            name=ef.get("name"),
            body=(ef.findtext("applied_to_body") or "").strip(),
            force_identifier=(ef.findtext("force_identifier") or "").strip(),
            point_identifier=(ef.findtext("point_identifier") or "").strip(),
            torque_identifier=(ef.findtext("torque_identifier") or "").strip(),
            force_expressed_in=(ef.findtext("force_expressed_in_body") or "ground").strip(),
            point_expressed_in=(ef.findtext("point_expressed_in_body") or "ground").strip(),
        )
        for what in ("force_expressed_in", "point_expressed_in"):
            if getattr(spec, what) != "ground":
                raise InputError(
                    f"{getattr(spec, what)!r}",
                    path=path,
                    field=f"{here}/{what}_body",
                    expected="ground (force-plate data)",
                )
        for ident in (spec.force_identifier, spec.point_identifier, spec.torque_identifier):
            _columns(channels, ident, path=data.attrs.get("source_path"), field=here)
        specs.append(spec)
    if not specs:
        raise InputError("no enabled <ExternalForce>", path=path, expected="≥ 1 ExternalForce")
    data.attrs["external_loads_path"] = str(path.resolve())
    data.attrs["external_loads_sha256"] = sha256_file(path)
    return specs, data


def _columns(channels: Sequence[str], identifier: str, *, path, field: str) -> list[str]:
    found = [c for c in channels if identifier and c.startswith(identifier)]
    if len(found) != 3:
        raise InputError(
            f"identifier {identifier!r} selects {len(found)} columns {found}",
            path=path,
            field=field,
            expected=f"exactly 3 columns starting with {identifier!r} (x, y, z)",
        )
    return found


def external_loads_at(
    model: DynamicsModel,
    specs: Sequence[ExternalForceSpec],
    data: xr.Dataset,
    times: np.ndarray,
) -> ExternalLoads:
    """Loads at ``times`` (batched: arrays (time, loads, 3)), interpolated by cubic spline.

    (OpenSim's ``ExternalForce`` interpolates its data with a cubic GCV spline; ours is the
    interpolating cubic spline through the same samples.) Times outside the data are refused.
    """
    from scipy.interpolate import make_interp_spline

    t = data["time"].values
    path = data.attrs.get("source_path")
    times = np.asarray(times, dtype=np.float64)
    tol = 1e-9 * max(1.0, abs(t[-1]))
    if times[0] < t[0] - tol or times[-1] > t[-1] + tol:
        raise InputError(
            f"motion times {times[0]:.6g}-{times[-1]:.6g} s lie outside the load data "
            f"{t[0]:.6g}-{t[-1]:.6g} s",
            path=path,
            field="time",
            expected="load data covering the whole motion",
        )
    channels = [str(c) for c in data["channel"].values]
    values = data["data"].values
    if not np.all(np.isfinite(values)):
        bad = channels[int(np.flatnonzero(~np.all(np.isfinite(values), axis=0))[0])]
        raise InputError("NaN or infinite value", path=path, field=bad, expected="finite loads")
    spline = make_interp_spline(t, values, k=3, axis=0)
    at = spline(np.clip(times, t[0], t[-1]))

    def block(ident):
        cols = _columns(channels, ident, path=path, field="columns")
        return at[:, [channels.index(c) for c in cols]]

    force = np.stack([block(s.force_identifier) for s in specs], axis=1)
    point = np.stack([block(s.point_identifier) for s in specs], axis=1)
    torque = np.stack([block(s.torque_identifier) for s in specs], axis=1)
    return ExternalLoads(
        bodies=tuple(model.body_index(s.body) for s in specs),
        force=jnp.asarray(force),
        point=jnp.asarray(point),
        torque=jnp.asarray(torque),
    )


# ----------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------


def leg_coordinates(model: DynamicsModel, side: str) -> list[str]:
    """The model's leg coordinates of one side, in :data:`LEG_COORDINATES` order."""
    names = [f"{c}_{side}" for c in LEG_COORDINATES if f"{c}_{side}" in model.coordinate_names]
    if f"hip_flexion_{side}" not in names:
        raise InputError(
            f"no coordinate hip_flexion_{side}",
            path=model.source_path,
            field="coordinate",
            expected="a lower-limb model with hip_flexion_r/_l",
        )
    return names


def motion_arrays(
    model: DynamicsModel, motion: xr.Dataset
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q, q̇, q̈) of shape (time, model coordinates) from a motion with ``qdot``/``qddot``.

    Every unlocked coordinate that is not coupled must be in the motion; locked ones absent
    from it keep their default value; coupled ones are set later from their couplers.
    """
    path = motion.attrs.get("source_path")
    available = [str(c) for c in motion["coordinate"].values]
    dependent = {model.coordinate_names[cp.dependent] for cp in model.couplers}
    needed = [
        c
        for c, lk in zip(model.coordinate_names, model.locked, strict=True)
        if not lk and c not in dependent
    ]
    missing = [c for c in needed if c not in available]
    if missing:
        raise InputError(
            "missing coordinate(s): " + ", ".join(missing),
            path=path,
            field="coordinate",
            expected="every unlocked coordinate of " + Path(model.source_path).name,
        )
    for var in ("q", "qdot", "qddot"):
        if var not in motion:
            raise InputError(
                f"no {var!r} variable",
                path=path,
                field=var,
                expected="a motion with motion_derivatives applied",
            )
    nt = motion.sizes["time"]
    out = []
    for var in ("q", "qdot", "qddot"):
        arr = np.zeros((nt, len(model.coordinate_names)))
        if var == "q":
            arr[:] = np.asarray(model.default_q)
        values = motion[var].transpose("time", "coordinate").values
        for k, name in enumerate(model.coordinate_names):
            if name in available:
                arr[:, k] = values[:, available.index(name)]
        bad = ~np.isfinite(arr)
        if bad.any():
            i, k = (int(v[0]) for v in np.nonzero(bad))
            raise InputError(
                f"NaN or infinite value at t = {motion['time'].values[i]:.6g} s",
                path=path,
                field=f"{var}/{model.coordinate_names[k]}",
                expected="finite values",
            )
        out.append(arr)
    return out[0], out[1], out[2]


def _stance_from_kinematics(motion, model_path, side):
    """Stance mask of one foot from kinematic gait events, and how it was found.

    Event detection needs whole strides, so events near the record's ends are often missed.
    Beyond the detected events, stance is extrapolated periodically with the median stride
    period and the median stance duration of the detected strides (a foot strike with no
    toe-off before the record ends counts as stance for that duration). Without two strikes
    and one stance duration, every sample outside the detected strides is flagged as stance
    (conservative: those moments are marked invalid).
    """
    from ._gait import detect_events, stance_mask

    t = motion["time"].values
    try:
        events = detect_events(motion, side=side, model=model_path)
    except InputError as exc:
        return np.ones(t.shape, dtype=bool), f"no gait events found ({exc.problem}); all stance"
    strikes, offs = events.foot_strike, events.toe_off
    mask = stance_mask(t, events)
    early = offs[offs < strikes[0]]
    if early.size:  # the record starts in stance
        mask |= t < early[0]
    durations = []
    for k, strike in enumerate(strikes):
        later = offs[offs > strike]
        ends_before_next = k + 1 == strikes.size or (later.size and later[0] < strikes[k + 1])
        if later.size and ends_before_next:
            durations.append(later[0] - strike)
    how = f"kinematic gait events ({events.method}): {events.source}"
    if strikes.size >= 2 and durations:
        period = float(np.median(np.diff(strikes)))
        stance = float(np.median(durations))
        if not (offs > strikes[-1]).any():
            mask |= (t >= strikes[-1]) & (t < strikes[-1] + stance)
        start = strikes[0] - period
        while start + stance > t[0]:
            mask |= (t >= start) & (t < start + stance)
            start -= period
        start = strikes[-1] + period
        while start <= t[-1]:
            mask |= (t >= start) & (t < start + stance)
            start += period
        how += (
            f"; extrapolated beyond the detected events with the median stride "
            f"{period:.3f} s and stance {stance:.3f} s"
        )
    else:
        mask |= (t < strikes[0]) | (t >= strikes[-1])
        how += "; samples outside the detected strides flagged as stance"
    return mask, how


def inverse_dynamics(
    model: str | Path | DynamicsModel,
    motion: str | Path | xr.Dataset,
    *,
    external_loads: str | Path | None = None,
    grf_data: str | Path | None = None,
    sides: Sequence[str] = ("r", "l"),
    cutoff_hz: float | None = None,
    derivative_method: str = "spline",
    convention: str = "opensim",
) -> xr.Dataset:
    """Joint moments of the legs from measured motion (JAX inverse dynamics).

    Args:
        model: ``.osim`` path or a :class:`DynamicsModel`.
        motion: a motion file or Dataset (:func:`musclesim.read_motion`); ``qdot``/``qddot``
            are computed with :func:`musclesim.motion_derivatives` (``derivative_method``)
            when absent, after an optional zero-lag low-pass filter at ``cutoff_hz``
            (:func:`musclesim.filter_motion`; None: the motion is used as given).
        external_loads: optional OpenSim ExternalLoads ``.xml`` (which force acts on which
            body); ``grf_data`` overrides the data file it names.
        sides: legs to report.
        convention: ``"opensim"`` (default, equal to OpenSim's inverse dynamics) or
            ``"exact"``; see :func:`generalized_forces`.

    Returns:
        Dataset with ``moment`` (time, coordinate) in N·m: the leg coordinates' generalized
        forces with coupled coordinates folded in by the chain rule (:func:`reduce_coupled`;
        e.g. the knee moment includes the patella); ``generalized_force`` (time,
        model_coordinate): OpenSim's convention, every coordinate on its own, constraints
        ignored; ``stance`` (time, side): foot on the ground (from the loads when given, else
        from kinematic gait events); ``valid`` (time, coordinate): False where the leg is in
        stance and no ground reaction force was applied (the moments miss the ground load).
    """
    from ._motion import filter_motion, motion_derivatives, read_motion

    dyn = model if isinstance(model, DynamicsModel) else load_dynamics_model(model)
    if not isinstance(motion, xr.Dataset):
        motion = read_motion(motion, model=dyn.source_path)
    for side in sides:
        if side not in ("r", "l"):
            raise InputError(f"side {side!r}", field="sides", expected="'r' and/or 'l'")
    values = motion["q"].transpose("time", "coordinate").values
    if not np.all(np.isfinite(values)):
        i, k = (int(v[0]) for v in np.nonzero(~np.isfinite(values)))
        raise InputError(
            f"NaN or infinite value at t = {motion['time'].values[i]:.6g} s",
            path=motion.attrs.get("source_path"),
            field=f"q/{motion['coordinate'].values[k]}",
            expected="finite coordinate values (fill gaps before inverse dynamics)",
        )
    if cutoff_hz is not None:
        motion = filter_motion(motion, cutoff_hz, variables=["q"])
    if "qdot" not in motion or "qddot" not in motion or cutoff_hz is not None:
        motion = motion_derivatives(motion, method=derivative_method)
    q, qd, qdd = motion_arrays(dyn, motion)
    t = motion["time"].values
    external = None
    attrs: dict[str, str | float] = {}
    if external_loads is not None:
        specs, data = read_external_loads(external_loads, data_file=grf_data)
        external = external_loads_at(dyn, specs, data, t)
        attrs.update(
            external_loads_path=data.attrs["external_loads_path"],
            external_loads_sha256=data.attrs["external_loads_sha256"],
            grf_path=data.attrs["source_path"],
            grf_sha256=data.attrs["source_sha256"],
            grf_interpolation="interpolating cubic spline (scipy make_interp_spline, k=3)",
        )
    jq, jqd, jqdd = (jnp.asarray(a) for a in (q, qd, qdd))
    jq, jqd, jqdd = jax.vmap(lambda a, b, c: apply_couplers(dyn, a, b, c))(jq, jqd, jqdd)
    raw = chunked_generalized_forces(dyn, jq, jqd, jqdd, external, convention=convention)
    reduced = np.asarray(jax.vmap(lambda a, b: reduce_coupled(dyn, a, b))(jq, jnp.asarray(raw)))

    from ._gait import GRF_THRESHOLD_N

    stance = np.zeros((t.size, len(sides)), dtype=bool)
    stance_source = []
    up = -np.asarray(dyn.gravity) / np.linalg.norm(np.asarray(dyn.gravity))
    for k, side in enumerate(sides):
        if external is not None:
            on_foot = [
                i for i, b in enumerate(external.bodies) if dyn.body_names[b].endswith(f"_{side}")
            ]
            vertical = np.zeros(t.size)
            for i in on_foot:
                vertical += np.asarray(external.force[:, i, :]) @ up
            stance[:, k] = vertical > GRF_THRESHOLD_N
            stance_source.append(f"{side}: applied vertical load > {GRF_THRESHOLD_N} N")
        else:
            stance[:, k], how = _stance_from_kinematics(motion, dyn.source_path, side)
            stance_source.append(f"{side}: {how}")
    legs = [(side, c) for side in sides for c in leg_coordinates(dyn, side)]
    names = [c for _, c in legs]
    cols = [dyn.coordinate_index(c) for c in names]
    valid = np.stack(
        [~stance[:, list(sides).index(side)] | (external is not None) for side, _ in legs], axis=1
    )
    units = ["N*m" if m != "translational" else "N" for m in dyn.motion_types]
    ds = xr.Dataset(
        {
            "moment": (
                ("time", "coordinate"),
                reduced[:, cols],
                {
                    "units": "N*m",
                    "long_name": "net joint moment (inverse dynamics; coupled coordinates "
                    "folded in by the chain rule)",
                },
            ),
            "generalized_force": (
                ("time", "model_coordinate"),
                raw,
                {
                    "units": "N*m or N (per model_coordinate, see `unit`)",
                    "long_name": "generalized force, OpenSim convention (constraints ignored)",
                },
            ),
            "stance": (("time", "side"), stance, {"long_name": "foot on the ground"}),
            "valid": (
                ("time", "coordinate"),
                valid,
                {"long_name": "moment valid (swing, or stance with ground reaction force)"},
            ),
        },
        coords={
            "time": ("time", t, {"units": "s", "long_name": "time"}),
            "coordinate": ("coordinate", np.asarray(names, dtype=object)),
            "side_of": ("coordinate", np.asarray([s for s, _ in legs], dtype=object)),
            "side": ("side", np.asarray(list(sides), dtype=object)),
            "model_coordinate": (
                "model_coordinate",
                np.asarray(dyn.coordinate_names, dtype=object),
            ),
            "unit": ("model_coordinate", np.asarray(units, dtype=object)),
        },
    )
    from . import __version__

    ds.attrs.update(
        musclesim_version=__version__,
        model_path=dyn.source_path,
        model_sha256=dyn.source_sha256,
        motion_path=str(motion.attrs.get("source_path", "")),
        motion_sha256=str(motion.attrs.get("source_sha256", "")),
        filter=str(motion.attrs.get("filter", "none")),
        filter_cutoff_hz=float(motion.attrs.get("filter_cutoff_hz", float("nan"))),
        derivative_method=str(motion.attrs.get("derivative_method", derivative_method)),
        gravity_m_s2=" ".join(f"{g:g}" for g in np.asarray(dyn.gravity)),
        coupled_coordinates="moment: chain rule tau_i + f'(q_i) tau_d; generalized_force: "
        "OpenSim's convention (dependent coordinate reported on its own)",
        external_loads_applied=int(external is not None),
        stance_source="; ".join(stance_source),
        method="Newton-Euler in Jacobian-transpose form, JAX (musclesim._dynamics)",
        convention=convention,
        **attrs,
    )
    return ds
