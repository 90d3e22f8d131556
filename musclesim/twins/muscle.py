"""OpenSim twins of musclesim's muscle computations, for parity checks (needs ``opensim``).

Two twins:

* :func:`opensim_rigid_states` evaluates ``OpenSim.DeGrooteFregly2016Muscle`` with a rigid
  tendon at given (parameters, MTU length, MTU velocity, activation) points, all in one model;
* :func:`opensim_compliant_trajectory` integrates a one-muscle model whose MTU length is
  prescribed through a ``SimmSpline`` coordinate function, activation dynamics off (the
  activation is the control, a ``PiecewiseLinearFunction`` of the samples), from
  ``Model.equilibrateMuscles``.

Both build a model in which the muscle runs from a ground point to the origin of a body on a
slider joint along x, so that L_MTU = q + offset and v_MTU = dq/dt exactly.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import OpenSimMissingError
from ..muscle.parameters import MuscleParameters


def _opensim():
    try:
        import opensim
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise OpenSimMissingError("the OpenSim parity twin") from exc
    opensim.Logger.setLevelString("warn")  # the Manager logs every integrate() call at info
    return opensim


def _set_properties(muscle, row: dict[str, float], *, damping: float | None):
    muscle.set_max_isometric_force(row["max_isometric_force"])
    muscle.set_optimal_fiber_length(row["optimal_fiber_length"])
    muscle.set_tendon_slack_length(row["tendon_slack_length"])
    muscle.set_pennation_angle_at_optimal(row["pennation_angle_at_optimal"])
    muscle.set_max_contraction_velocity(row["max_contraction_velocity"])
    muscle.set_tendon_strain_at_one_norm_force(row["tendon_strain_at_one_norm_force"])
    muscle.set_passive_fiber_strain_at_one_norm_force(row["passive_fiber_strain_at_one_norm_force"])
    muscle.set_active_force_width_scale(row["active_force_width_scale"])
    muscle.set_fiber_damping(row["fiber_damping"] if damping is None else damping)


def _slider_model(name: str):
    osim = _opensim()
    model = osim.Model()
    model.setName(name)
    model.setGravity(osim.Vec3(0))
    body = osim.Body("slider_body", 1.0, osim.Vec3(0), osim.Inertia(0.01))
    model.addBody(body)
    joint = osim.SliderJoint("slider", model.getGround(), body)
    coordinate = joint.updCoordinate()
    coordinate.setName("mtu_coordinate")
    coordinate.setRangeMin(-10.0)
    coordinate.setRangeMax(10.0)
    model.addJoint(joint)
    return model, body, coordinate


def opensim_rigid_states(
    params: MuscleParameters, mtu_length, mtu_velocity: float, activation
) -> dict[str, np.ndarray]:
    """OpenSim's rigid-tendon fibre states for a batch of muscles at one MTU velocity.

    ``params`` has batch shape ``(n,)``; ``mtu_length`` and ``activation`` shape ``(n,)``.
    Returns arrays ``(n,)`` of fibre length, fibre velocity, pennation angle, tendon force,
    active and passive fibre force, read from OpenSim.
    """
    osim = _opensim()
    rows = params.broadcast().as_dict()
    n = len(np.atleast_1d(mtu_length))
    model, body, coordinate = _slider_model("rigid_parity")
    muscles = []
    for i in range(n):
        muscle = osim.DeGrooteFregly2016Muscle()
        muscle.setName(f"m{i}")
        _set_properties(muscle, {k: float(v[i]) for k, v in rows.items()}, damping=None)
        muscle.set_ignore_tendon_compliance(True)
        muscle.set_ignore_activation_dynamics(False)
        offset = float(mtu_length[i])  # q = 0 puts L at the requested value
        muscle.addNewPathPoint("origin", model.getGround(), osim.Vec3(-offset, 0, 0))
        muscle.addNewPathPoint("insertion", body, osim.Vec3(0, 0, 0))
        model.addForce(muscle)
        muscles.append(muscle)
    state = model.initSystem()
    coordinate = model.getCoordinateSet().get("mtu_coordinate")
    coordinate.setValue(state, 0.0)
    coordinate.setSpeedValue(state, float(mtu_velocity))
    force_set = model.getMuscles()
    for i in range(n):
        force_set.get(i).setActivation(state, float(activation[i]))
    model.realizeDynamics(state)
    out = {
        k: np.empty(n)
        for k in (
            "mtu_length",
            "fiber_length",
            "fiber_velocity",
            "pennation_angle",
            "tendon_force",
            "active_fiber_force",
            "passive_fiber_force",
        )
    }
    for i in range(n):
        m = osim.DeGrooteFregly2016Muscle.safeDownCast(force_set.get(i))
        out["mtu_length"][i] = m.getLength(state)
        out["fiber_length"][i] = m.getFiberLength(state)
        out["fiber_velocity"][i] = m.getFiberVelocity(state)
        out["pennation_angle"][i] = m.getPennationAngle(state)
        out["tendon_force"][i] = m.getTendonForce(state)
        out["active_fiber_force"][i] = m.getActiveFiberForce(state)
        out["passive_fiber_force"][i] = m.getPassiveFiberForce(state)
    return out


def opensim_compliant_trajectory(
    params: MuscleParameters,
    time,
    mtu_length,
    activation,
    *,
    accuracy: float = 1e-10,
    fiber_damping: float | None = None,
    initial_norm_tendon_force: float | None = None,
) -> dict[str, np.ndarray]:
    """Integrate OpenSim's compliant-tendon DeGrooteFregly2016Muscle along a prescribed length.

    ``params`` is one muscle (scalar leaves); ``time``, ``mtu_length``, ``activation`` are
    ``(T,)``. The coordinate is prescribed by a ``SimmSpline`` through (time, L - offset),
    tendon dynamics are OpenSim's explicit mode, and the integrator (OpenSim's default,
    Runge-Kutta-Merson) runs at ``accuracy``. ``initial_norm_tendon_force`` sets the initial
    state instead of ``equilibrateMuscles`` (whose bisection fails when the residual has no
    sign change on [0, 5]). Returns fibre length, tendon force, activation, normalised tendon
    force and MTU length at each sample time.
    """
    osim = _opensim()
    time = np.asarray(time, dtype=float)
    mtu_length = np.asarray(mtu_length, dtype=float)
    activation = np.asarray(activation, dtype=float)
    row = {k: float(v) for k, v in params.as_dict().items()}
    model, body, coordinate = _slider_model("compliant_parity")
    offset = float(mtu_length.min()) - 0.1
    path = osim.SimmSpline()
    for t, length in zip(time, mtu_length, strict=True):
        path.addPoint(float(t), float(length - offset))
    coordinate.setPrescribedFunction(path)
    coordinate.setDefaultIsPrescribed(True)

    muscle = osim.DeGrooteFregly2016Muscle()
    muscle.setName("muscle")
    _set_properties(muscle, row, damping=fiber_damping)
    muscle.set_ignore_tendon_compliance(False)
    muscle.set_ignore_activation_dynamics(True)
    muscle.set_tendon_compliance_dynamics_mode("explicit")
    muscle.setMinControl(0.0)
    muscle.setMaxControl(1.0)
    muscle.addNewPathPoint("origin", model.getGround(), osim.Vec3(-offset, 0, 0))
    muscle.addNewPathPoint("insertion", body, osim.Vec3(0, 0, 0))
    model.addForce(muscle)

    control = osim.PiecewiseLinearFunction()
    for t, a in zip(time, activation, strict=True):
        control.addPoint(float(t), float(a))
    controller = osim.PrescribedController()
    controller.setName("activation")
    controller.addActuator(muscle)
    controller.prescribeControlForActuator("muscle", control)
    model.addController(controller)

    state = model.initSystem()
    state.setTime(float(time[0]))
    # Simbody applies a prescribed motion only when an integrator calls prescribe(); put the
    # coordinate on its spline at t0 by hand so the equilibrium sees the right length and speed.
    coordinate = model.getCoordinateSet().get("mtu_coordinate")
    coordinate.setValue(state, path.calcValue(osim.Vector(1, float(time[0]))), False)
    coordinate.setSpeedValue(state, path.calcDerivative([0], osim.Vector(1, float(time[0]))))
    model.realizeVelocity(state)
    muscle = osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get("muscle"))
    if initial_norm_tendon_force is None:
        model.equilibrateMuscles(state)
    else:
        muscle.setNormalizedTendonForce(state, float(initial_norm_tendon_force))
    manager = osim.Manager(model)
    manager.setIntegratorAccuracy(accuracy)
    manager.initialize(state)

    names = (
        "mtu_length",
        "fiber_length",
        "tendon_force",
        "activation",
        "norm_tendon_force",
        "fiber_velocity",
    )
    out = {k: np.empty(len(time)) for k in names}
    for k, t in enumerate(time):
        if k > 0:
            state = manager.integrate(float(t))
        model.realizeDynamics(state)
        out["mtu_length"][k] = muscle.getLength(state)
        out["fiber_length"][k] = muscle.getFiberLength(state)
        out["tendon_force"][k] = muscle.getTendonForce(state)
        out["activation"][k] = muscle.getActivation(state)
        out["norm_tendon_force"][k] = muscle.getNormalizedTendonForce(state)
        out["fiber_velocity"][k] = muscle.getFiberVelocity(state)
    return out


def opensim_mtu_length_along_motion(model_path, motion_path, muscle_names) -> tuple:
    """MTU lengths of the named muscles along a ``.mot`` file, computed by OpenSim.

    Method of ``../shared/data/SOURCES.md`` 3.2: unlock every coordinate, set each coordinate
    found in the file (degrees to radians for rotational coordinates only when the header
    says ``inDegrees=yes``), realise positions, read ``Muscle.getLength``. Coupled
    coordinates (e.g. ``knee_angle_r_beta``) are set from the file, which stores them.
    Returns ``(time[T], lengths[muscle, T])``.
    """
    osim = _opensim()
    model = osim.Model(str(model_path))
    state = model.initSystem()
    table = osim.TimeSeriesTable(str(motion_path))
    in_degrees = False
    if table.hasTableMetaDataKey("inDegrees"):
        in_degrees = table.getTableMetaDataAsString("inDegrees").strip().lower() == "yes"
    labels = list(table.getColumnLabels())
    coordinates = model.getCoordinateSet()
    columns = []
    for label in labels:
        name = label.split("/")[-2] if label.startswith("/") else label
        if coordinates.contains(name):
            coordinate = coordinates.get(name)
            coordinate.setLocked(state, False)
            rotational = coordinate.getMotionType() == 1  # Coordinate.Rotational
            scale = np.pi / 180.0 if (in_degrees and rotational) else 1.0
            columns.append((coordinate, table.getDependentColumn(label).to_numpy() * scale))
    time = np.asarray(table.getIndependentColumn())
    muscles = [model.getMuscles().get(name) for name in muscle_names]
    lengths = np.empty((len(muscles), len(time)))
    for k in range(len(time)):
        for coordinate, values in columns:
            coordinate.setValue(state, float(values[k]), False)
        model.realizePosition(state)
        for i, muscle in enumerate(muscles):
            lengths[i, k] = muscle.getLength(state)
    return time, lengths


def opensim_equilibrium_loop(
    params: MuscleParameters, mtu_length, mtu_velocity, activation, *, tendon: str = "compliant"
) -> np.ndarray:
    """OpenSim's per-sample loop: set length and speed, equilibrate (compliant) or realise
    dynamics (rigid), read the fibre length. One muscle; arrays ``(T,)``; returns ``(T,)``.

    This is how fibre states are usually computed from OpenSim in Python without forward
    integration, and the baseline of ``experiments/benchmark_fiber.py``. Samples where
    OpenSim's equilibrium bisection fails (no sign change of the residual on [0, 5] F_max,
    which happens when fast lengthening is attributed entirely to the fibre) give NaN.
    """
    osim = _opensim()
    row = {k: float(v) for k, v in params.as_dict().items()}
    model, body, _ = _slider_model("equilibrium_loop")
    muscle = osim.DeGrooteFregly2016Muscle()
    muscle.setName("muscle")
    _set_properties(muscle, row, damping=None)
    muscle.set_ignore_tendon_compliance(tendon == "rigid")
    muscle.set_ignore_activation_dynamics(False)
    offset = float(np.min(mtu_length)) - 0.1
    muscle.addNewPathPoint("origin", model.getGround(), osim.Vec3(-offset, 0, 0))
    muscle.addNewPathPoint("insertion", body, osim.Vec3(0, 0, 0))
    model.addForce(muscle)
    state = model.initSystem()
    coordinate = model.getCoordinateSet().get("mtu_coordinate")
    muscle = osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get("muscle"))
    out = np.empty(len(mtu_length))
    for k in range(len(mtu_length)):
        coordinate.setValue(state, float(mtu_length[k]) - offset, False)
        coordinate.setSpeedValue(state, float(mtu_velocity[k]))
        muscle.setActivation(state, float(activation[k]))
        if tendon == "compliant":
            try:
                model.equilibrateMuscles(state)
            except RuntimeError:
                out[k] = np.nan
                continue
        model.realizeDynamics(state)
        out[k] = muscle.getFiberLength(state)
    return out


def opensim_upright_length(model_path, muscle_names) -> np.ndarray:
    """MTU lengths (m) of the named muscles in the model's default pose, computed by OpenSim.

    The default pose of every model in ``../shared/data`` has all hip, knee and ankle angles at
    0, the upright reference of ``mtu_strain`` (SOURCES.md 3.2).
    """
    osim = _opensim()
    model = osim.Model(str(model_path))
    state = model.initSystem()
    model.realizePosition(state)
    return np.array([model.getMuscles().get(name).getLength(state) for name in muscle_names])
