"""The skeleton of an OpenSim model as a JAX pytree: bodies, joints and their kinematics.

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

Units: SI (m, kg, rad). Reference: Seth A et al. (2018) OpenSim: simulating musculoskeletal
dynamics and neuromuscular control to study human and animal movement, PLoS Comput Biol
14(7):e1006223, doi:10.1371/journal.pcbi.1006223.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.errors import InputError
from ..core.io import sha256_file
from .functions import SUPPORTED_JOINTS, AbstractFunction, LinearFunction, _floats, parse_function
from .xml import model_element, parse_osim


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
