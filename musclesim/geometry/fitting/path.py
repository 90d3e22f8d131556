"""Exact paths from an ``.osim`` file: read a muscle's path points, hip joint and wrap cylinder
into a :class:`~musclesim.geometry.records.PathSpec` (refusing, with the reason, what the JAX
evaluator cannot reproduce exactly), check it against OpenSim's lengths and
``computeMomentArm`` (:func:`verify_path`), and fit every requested muscle of a model
(:func:`fit_paths`). Needs the ``opensim`` extra for the check; the evaluator itself is
:mod:`musclesim.geometry.path`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ...core.errors import InputError
from ...osim.functions import _floats
from ...osim.model import body_fixed_xyz, load_dynamics_model
from ...osim.xml import model_element, muscle_elements, parse_osim
from ..path import QUADRANTS, PathBlock
from ..records import EXACT_TOLERANCE, HELDOUT_MAX_TOL, HELDOUT_RMS_TOL, PathCheck, PathSpec
from .fit import sampler_for_fitted

#: Poses (uniform over the model's coordinate ranges) at which :func:`verify_path` compares.
VERIFY_POSES = 4000


#: Poses at which the OpenSim moment-arm convention is checked against ``computeMomentArm``.
VERIFY_ARM_POSES = 400


def _unsupported(path, muscle: str, why: str) -> InputError:
    return InputError(
        f"muscle {muscle!r}: {why}",
        path=path,
        field=f"ForceSet/{muscle}/GeometryPath",
        expected="fixed PathPoints on two bodies joined by one joint affine in its "
        "coordinates, and at most one WrapCylinder (musclesim.geometry.path)",
    )


def _affine(function, *, path, field) -> tuple[float, float]:
    """(slope, intercept) of a one-coordinate function of :mod:`musclesim.dynamics.inverse`, refused
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
    """The parsed ``.osim`` and its :class:`musclesim.osim.model.DynamicsModel`, for
    :func:`read_path` of several muscles of one model."""

    return parse_osim(osim_path), load_dynamics_model(osim_path)


def read_path(osim_path: str | Path, muscle: str, inputs: Sequence[str], *, model=None) -> PathSpec:
    """The exact path of ``muscle`` from an ``.osim`` file (no OpenSim needed), or an
    :class:`InputError` saying why it is not supported. ``inputs`` are the coordinates the
    muscle's fitted surrogate reads; the joint's coordinates must be among them. ``model``:
    :func:`read_model` of the file, when it is already read."""

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


def verify_path(
    sampler, spec: PathSpec, box: dict[str, tuple[float, float]], *, n=VERIFY_POSES, seed=0
) -> PathCheck:
    """Compare the exact path of ``spec`` with OpenSim (``sampler``, an
    :class:`~.fit.OpenSimSampler` of the same model) at ``n`` uniform random
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


def default_path_muscles(ds) -> list[str]:
    """The muscles whose polynomial needs help: regions cut out of its domain where OpenSim's
    path is erratic, or a held-out error over the tolerance of ``musclesim fit-geometry``."""

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
