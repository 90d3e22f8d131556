"""Inverse dynamics of an OpenSim model in JAX: joint moments from measured motion.

The model comes from :func:`musclesim.osim.model.load_dynamics_model` (bodies, joints, the
gravity vector and coordinate couplers, read from the ``.osim`` without OpenSim).

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

import defusedxml.ElementTree as DET
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from defusedxml import DefusedXmlException
from scipy.interpolate import make_interp_spline

from ..core.errors import InputError
from ..core.groups import LEG_COORDINATES
from ..core.io import sha256_file
from ..core.version import __version__
from ..motion.gait import GRF_THRESHOLD_N, detect_events, stance_mask
from ..motion.processing import filter_motion, motion_derivatives
from ..motion.read import read_motion
from ..motion.storage import read_storage
from ..osim.model import DynamicsModel, _rotation, _tree, body_velocities, load_dynamics_model

# ----------------------------------------------------------------------------------------------
# OpenSim functions of one coordinate
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# The static model
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Kinematics and dynamics (one frame; vmap over frames)
# ----------------------------------------------------------------------------------------------


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
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path, expected="an OpenSim ExternalLoads .xml")
    try:
        root = DET.parse(path, forbid_dtd=True).getroot()
    except ET.ParseError as exc:
        raise InputError(
            f"malformed XML ({exc})", path=path, expected="an ExternalLoads file"
        ) from exc
    except DefusedXmlException as exc:
        raise InputError(
            f"refused unsafe XML ({exc.__class__.__name__})",
            path=path,
            expected="an ExternalLoads file without DTD or entity declarations",
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
        method="Newton-Euler in Jacobian-transpose form, JAX (musclesim.dynamics.inverse)",
        convention=convention,
        **attrs,
    )
    return ds
