"""OpenSim's own Static Optimization, run on a model and a motion, as the reference twin.

:func:`opensim_static_optimization` runs OpenSim's ``AnalyzeTool`` with its
``StaticOptimization`` analysis (opensim-core ``OpenSim/Analyses/StaticOptimization.cpp``):
``use_model_force_set = true``, ``use_muscle_physiology = true`` (OpenSim's name for "use the
model's force-length-velocity curves") and the given ``activation_exponent``.

:func:`opensim_enforced_moments` then recovers, frame by frame, the generalized force that
OpenSim's acceleration constraints made the actuators produce at each coordinate,
tau_j = sum_m r_mj F_m + F_reserve,j, with OpenSim's own moment arms
(``Muscle.computeMomentArm``, which accounts for coupled coordinates such as the patella).
Acceleration equality for every coordinate is generalized-force equality for every coordinate
(the mass matrix is invertible), so these are exactly the inverse-dynamics moments OpenSim's
Static Optimization matched, from its own GCV-spline accelerations: the moments a musclesim
solve must match for a like-for-like comparison. (OpenSim's ``InverseDynamics`` analysis would
give them directly but crashes the Python process in OpenSim 4.6 when appended beside Static
Optimization.)

The model is copied into a temporary folder with its ``CoordinateActuator``\\ s replaced by
musclesim's reserve set: one actuator per unconstrained coordinate, with optimal force
``reserve_optimal_force`` (N m) on the coordinates listed in ``reserve_coordinates`` and
``residual_optimal_force`` elsewhere (pelvis, trunk, arms: large, so that they cost almost
nothing and the leg's problem is the same as musclesim's leg-only problem). Inputs are never
modified; everything is written under a temporary folder that is removed afterwards.

Muscles: OpenSim's Static Optimization overrides each muscle's force with
``a * calcInextensibleTendonActiveFiberForce(s, 1)``; ``DeGrooteFregly2016Muscle`` computes
that with the tendon rigid whatever ``ignore_tendon_compliance`` says, and returns the force
along the fibre (no cos(alpha)) - see :mod:`musclesim.dynamics.static_opt` for the matching options.
"""

from __future__ import annotations

import tempfile
import time as _time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.io import require_opensim, sha256_file
from ..dynamics.static_opt import check_exponent
from ..motion.storage import read_storage, write_storage

#: Optimal force (N m or N) of the residual actuators on coordinates outside the compared leg:
#: with cost (tau / F)^2, a 100 N m pelvis moment costs 1e-4 of one fully active muscle, so
#: these coordinates do not influence how the leg's muscles share their moments.
DEFAULT_RESIDUAL_OPTIMAL_FORCE = 1.0e4
#: Bounds on every coordinate actuator's control (so +-1e4 x optimal force), wide enough
#: never to bind.
ACTUATOR_CONTROL_BOUND = 1.0e4


def _read_sto(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:

    ds = read_storage(path)
    return (
        np.asarray(ds["time"].values, dtype=float),
        [str(c) for c in ds["channel"].values],
        np.asarray(ds["data"].values, dtype=float),
    )


def _prepared_model(osim, model_path: Path, reserve_coordinates, reserve_f, residual_f, out: Path):
    """The model with its coordinate actuators replaced by the reserve/residual set."""
    model = osim.Model(str(model_path))
    model.initSystem()
    forces = model.updForceSet()
    for i in range(forces.getSize() - 1, -1, -1):
        if forces.get(i).getConcreteClassName() == "CoordinateActuator":
            forces.remove(i)
    muscles = model.updMuscles()
    for i in range(muscles.getSize()):
        # Rigid tendons: what DeGrooteFregly2016Muscle's Static Optimization force uses anyway,
        # musclesim's rigid-tendon problem for the other classes, and no failing
        # equilibrateMuscles() bisection at the first frame.
        muscles.get(i).set_ignore_tendon_compliance(True)
    state = model.initSystem()
    coordinates = model.getCoordinateSet()
    free = [
        coordinates.get(i).getName()
        for i in range(coordinates.getSize())
        if not (coordinates.get(i).isConstrained(state) or coordinates.get(i).getLocked(state))
    ]
    for name in free:
        act = osim.CoordinateActuator(name)
        act.setName(f"reserve_{name}")
        act.setOptimalForce(reserve_f if name in reserve_coordinates else residual_f)
        act.setMinControl(-ACTUATOR_CONTROL_BOUND)
        act.setMaxControl(ACTUATOR_CONTROL_BOUND)
        model.addForce(act)
    model.finalizeConnections()
    path = out / "model_so.osim"
    model.printToXML(str(path))
    return path, free


def opensim_static_optimization(
    model_path: str | Path,
    motion: str | Path | xr.Dataset,
    *,
    reserve_coordinates: Sequence[str],
    exponent: float = 2.0,
    reserve_optimal_force: float = 1.0,
    residual_optimal_force: float = DEFAULT_RESIDUAL_OPTIMAL_FORCE,
    external_loads: str | Path | None = None,
    start_time: float | None = None,
    end_time: float | None = None,
    convergence_criterion: float = 1e-4,
    max_iterations: int = 100,
) -> xr.Dataset:
    """Run OpenSim's Static Optimization on a motion.

    Args:
        model_path: the ``.osim`` model (read, never written).
        motion: a ``.mot``/``.sto`` of coordinates, or a motion Dataset (written to a
            temporary ``.mot`` in radians). No further filtering is applied by OpenSim
            (``lowpass_cutoff_frequency_for_coordinates = -1``): filter beforehand, the same
            way for every method compared.
        reserve_coordinates: coordinates whose reserves get ``reserve_optimal_force``.
        exponent: ``activation_exponent``.
        reserve_optimal_force, residual_optimal_force: optimal forces (N m) of the
            coordinate actuators (see the module docstring).
        external_loads: an ``ExternalLoads`` XML file (ground reaction forces), or None.
        start_time, end_time: the analysed interval (default the whole motion).
        convergence_criterion, max_iterations: OpenSim's optimizer settings (its defaults).

    Returns:
        Dataset with ``activation`` and ``force`` (time, actuator) and the wall time of the
        tool (attribute ``wall_time_s``).
    """
    osim = require_opensim("OpenSim's Static Optimization")
    model_path = Path(model_path).resolve()
    if not model_path.is_file():
        raise InputError("file not found", path=model_path, expected="an OpenSim .osim model")
    if external_loads is not None:
        external_loads = Path(external_loads).resolve()
        if not external_loads.is_file():
            raise InputError("file not found", path=external_loads, expected="ExternalLoads XML")
    for name, value in (("reserve_optimal_force", reserve_optimal_force),) + (
        ("residual_optimal_force", residual_optimal_force),
    ):
        if not np.isfinite(value) or value <= 0:
            raise InputError(f"{value!r}", field=name, expected="a positive number (N m)")

    exponent = check_exponent(exponent)
    with tempfile.TemporaryDirectory(prefix="musclesim_so_") as tmp:
        out = Path(tmp)
        if isinstance(motion, xr.Dataset):
            motion_path = write_storage(motion, out / "motion.mot")
            t_all = np.asarray(motion["time"].values, dtype=float)
        else:
            motion_path = Path(motion).resolve()
            if not motion_path.is_file():
                raise InputError("file not found", path=motion_path, expected="a .mot file")
            t_all = _read_sto(motion_path)[0]
        t0 = float(t_all[0] if start_time is None else start_time)
        t1 = float(t_all[-1] if end_time is None else end_time)
        prepared, free = _prepared_model(
            osim,
            model_path,
            set(reserve_coordinates),
            float(reserve_optimal_force),
            float(residual_optimal_force),
            out,
        )
        unknown = [c for c in reserve_coordinates if c not in free]
        if unknown:
            raise InputError(
                f"coordinate(s) {unknown} are not free coordinates of the model",
                path=model_path,
                field="reserve_coordinates",
                expected=f"names among {free}",
            )
        model = osim.Model(str(prepared))
        tool = osim.AnalyzeTool()
        tool.setName("musclesim")
        tool.setModel(model)
        tool.setModelFilename(str(prepared))
        tool.setCoordinatesFileName(str(motion_path))
        tool.setLowpassCutoffFrequency(-1)
        tool.setInitialTime(t0)
        tool.setFinalTime(t1)
        tool.setResultsDir(str(out))
        if external_loads is not None:
            tool.setExternalLoadsFileName(str(external_loads))
        so = osim.StaticOptimization()
        so.setName("StaticOptimization")
        so.setStartTime(t0)
        so.setEndTime(t1)
        so.setActivationExponent(exponent)
        so.setUseModelForceSet(True)
        so.setUseMusclePhysiology(True)
        so.setConvergenceCriterion(convergence_criterion)
        so.setMaxIterations(int(max_iterations))
        model.addAnalysis(so)  # AnalyzeTool runs the model's own analysis set
        tool.setLoadModelAndInput(True)  # states from the coordinates file
        started = _time.perf_counter()
        tool.run()
        wall = _time.perf_counter() - started
        files = {p.name: p for p in out.glob("*.sto")}
        act_file = next((p for n, p in files.items() if n.endswith("_activation.sto")), None)
        force_file = next((p for n, p in files.items() if n.endswith("_force.sto")), None)
        if act_file is None or force_file is None:
            raise InputError(
                f"OpenSim wrote {sorted(files)}",
                path=out,
                expected="StaticOptimization activation and force files",
            )
        t_act, act_names, act = _read_sto(act_file)
        t_force, force_names, force = _read_sto(force_file)
    muscles = [n for n in act_names if not n.startswith("reserve_")]
    n = min(len(t_act), len(t_force))
    return xr.Dataset(
        {
            "activation": (
                ("time", "actuator"),
                act[:n],
                {"units": "1", "long_name": "OpenSim Static Optimization control"},
            ),
            "force": (
                ("time", "actuator"),
                force[:n, [force_names.index(a) for a in act_names]],
                {"units": "N or N m", "long_name": "OpenSim Static Optimization actuator force"},
            ),
        },
        coords={
            "time": ("time", t_act[:n], {"units": "s"}),
            "actuator": act_names,
            "is_muscle": ("actuator", np.array([a in muscles for a in act_names])),
        },
        attrs={
            "tool": f"OpenSim {osim.GetVersion()} AnalyzeTool: StaticOptimization",
            "model_source": str(model_path),
            "model_sha256": sha256_file(model_path),
            "activation_exponent": exponent,
            "reserve_optimal_force_Nm": float(reserve_optimal_force),
            "residual_optimal_force": float(residual_optimal_force),
            "reserve_coordinates": ",".join(reserve_coordinates),
            "convergence_criterion": float(convergence_criterion),
            "wall_time_s": wall,
            "frames": int(n),
        },
    )


def opensim_enforced_moments(
    model_path: str | Path,
    motion: xr.Dataset,
    result: xr.Dataset,
    coordinates: Sequence[str],
    *,
    muscles: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The moments ``[time, coordinate]`` (N m) OpenSim's Static Optimization enforced, and
    OpenSim's moment arms ``[time, muscle, coordinate]`` (m) of ``muscles`` (default: every
    muscle in ``result``) at those times.

    tau_j = sum_m r_mj(q) F_m + F_reserve,j at each time of ``result`` (from
    :func:`opensim_static_optimization`), with r from ``Muscle.computeMomentArm`` at the pose
    of ``motion`` (interpolated onto those times) and the reserve named ``reserve_<coord>``.
    """
    osim = require_opensim("OpenSim's Static Optimization")
    model = osim.Model(str(Path(model_path).resolve()))
    state = model.initSystem()
    names = [str(c) for c in motion["coordinate"].values]
    t_motion = np.asarray(motion["time"].values, dtype=float)
    q_all = np.asarray(motion["q"].values, dtype=float)
    t = np.asarray(result["time"].values, dtype=float)
    actuators = [str(a) for a in result["actuator"].values]
    force = np.asarray(result["force"].values, dtype=float)
    muscles_set = model.getMuscles()
    muscle_names = [a for a in actuators if a in {m.getName() for m in muscles_set}]
    coordinate_set = model.getCoordinateSet()
    coords = [coordinate_set.get(c) for c in coordinates]
    out = np.zeros((t.size, len(coordinates)))
    wanted = list(muscle_names if muscles is None else muscles)
    arms = np.zeros((t.size, len(muscle_names), len(coordinates)))
    free = [n for n in names if coordinate_set.contains(n)]
    for i, ti in enumerate(t):
        for n in free:
            c = coordinate_set.get(n)
            if c.getLocked(state):
                continue
            value = float(np.interp(ti, t_motion, q_all[:, names.index(n)]))
            c.setValue(state, value, False)
        model.assemble(state)
        model.realizePosition(state)
        for j, (name, c) in enumerate(zip(coordinates, coords, strict=True)):
            total = force[i, actuators.index(f"reserve_{name}")]
            for k, m in enumerate(muscle_names):
                arm = muscles_set.get(m).computeMomentArm(state, c)
                arms[i, k, j] = arm
                if arm != 0.0:
                    total += arm * force[i, actuators.index(m)]
            out[i, j] = total
    return out, arms[:, [muscle_names.index(m) for m in wanted], :]
