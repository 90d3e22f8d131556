"""OpenSim's inverse dynamics, as the reference for :mod:`musclesim.dynamics.inverse`.

Two entry points, both needing OpenSim 4.6 (``pip install opensim``; otherwise
:class:`OpenSimMissingError`):

* :func:`opensim_inverse_dynamics`: ``InverseDynamicsSolver`` frame by frame on q, q̇, q̈
  arrays that the caller gives (the same arrays the JAX implementation gets, for an exact
  comparison). Every force of the model is disabled (muscles, actuators, passive elements), so
  the result holds inertia and gravity only, like the JAX core.
* :func:`opensim_inverse_dynamics_tool`: the ``InverseDynamicsTool`` on a motion file with
  optional external loads (an ExternalLoads ``.xml``), as a lab would run it. The setup files
  are read, never modified: paths are fixed up in copies inside a temporary folder, and the
  result is copied atomically into ``output_dir`` when one is given.

Both return OpenSim's convention: constraints ignored (``calcResidualForceIgnoringConstraints``),
the coupled coordinate (``knee_angle_r_beta``) reported on its own.
"""

from __future__ import annotations

import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import defusedxml.ElementTree as DET
import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.io import atomic_path, existing_file, require_opensim, sha256_file
from ..dynamics.inverse import read_external_loads
from ..motion.storage import read_storage, write_storage
from ..osim.model import load_dynamics_model


def _state_indices(model, state, names: Sequence[str]) -> tuple[list[int], list[int]]:
    """Index in the state's Q and U vectors of each named coordinate (probed, not assumed)."""
    coords = model.getCoordinateSet()
    q_idx, u_idx = [], []
    for name in names:
        c = coords.get(name)
        before_q = np.array([state.getQ().get(i) for i in range(state.getNQ())])
        value = c.getValue(state)
        c.setValue(state, value + 0.125, False)
        after_q = np.array([state.getQ().get(i) for i in range(state.getNQ())])
        c.setValue(state, value, False)
        changed = np.flatnonzero(after_q != before_q)
        c.setSpeedValue(state, 1.0)
        u = np.array([state.getU().get(i) for i in range(state.getNU())])
        c.setSpeedValue(state, 0.0)
        changed_u = np.flatnonzero(u == 1.0)
        if changed.size != 1 or changed_u.size != 1:
            raise InputError(
                f"cannot locate coordinate {name!r} in the state",
                field="coordinate",
                expected="a coordinate with one q and one u",
            )
        q_idx.append(int(changed[0]))
        u_idx.append(int(changed_u[0]))
    return q_idx, u_idx


def opensim_inverse_dynamics(
    model_path: str | Path,
    q: np.ndarray,
    qd: np.ndarray,
    qdd: np.ndarray,
    coordinates: Sequence[str],
) -> np.ndarray:
    """Generalized forces from OpenSim's ``InverseDynamicsSolver``, frame by frame.

    Args:
        model_path: the ``.osim`` model.
        q, qd, qdd: (time, len(coordinates)) in rad, rad/s, rad/s² (m, m/s, m/s²).
        coordinates: names of the columns; every model coordinate not named keeps its
            default value with zero speed and acceleration.

    Returns:
        (time, len(coordinates)) generalized forces (N·m or N), OpenSim's convention. All
        model forces are disabled; gravity is the model's.
    """
    osim = require_opensim("OpenSim inverse dynamics")
    model_path = existing_file(model_path, "an OpenSim .osim model")
    q, qd, qdd = (np.atleast_2d(np.asarray(a, dtype=np.float64)) for a in (q, qd, qdd))
    names = list(coordinates)
    if not (q.shape == qd.shape == qdd.shape and q.shape[1] == len(names)):
        raise InputError(
            f"shapes {q.shape}, {qd.shape}, {qdd.shape} for {len(names)} coordinates",
            field="q/qd/qdd",
            expected="three (time, coordinates) arrays of one shape",
        )
    for label, arr in (("q", q), ("qd", qd), ("qdd", qdd)):
        if not np.all(np.isfinite(arr)):
            raise InputError("NaN or infinite value", field=label, expected="finite values")
    model = osim.Model(str(model_path))
    state = model.initSystem()
    coord_set = model.getCoordinateSet()
    for name in names:
        if not coord_set.contains(name):
            raise InputError(
                f"unknown coordinate {name!r}",
                path=model_path,
                field="coordinates",
                expected="coordinates of the model",
            )
    for i in range(coord_set.getSize()):
        coord_set.get(i).setLocked(state, False)
    forces = model.updForceSet()
    for i in range(forces.getSize()):
        forces.get(i).setAppliesForce(state, False)
    q_idx, u_idx = _state_indices(model, state, names)
    solver = osim.InverseDynamicsSolver(model)
    nu = state.getNU()
    out = np.empty_like(q)
    qvec = state.getQ()
    for k in range(q.shape[0]):
        qv = osim.Vector(state.getNQ(), 0.0)
        for i in range(state.getNQ()):
            qv.set(i, qvec.get(i))
        for j, i in enumerate(q_idx):
            qv.set(i, q[k, j])
        state.setQ(qv)
        uv = osim.Vector(nu, 0.0)
        udot = osim.Vector(nu, 0.0)
        for j, i in enumerate(u_idx):
            uv.set(i, qd[k, j])
            udot.set(i, qdd[k, j])
        state.setU(uv)
        tau = solver.solve(state, udot)
        out[k] = [tau.get(i) for i in u_idx]
    return out


def _fixed_external_loads(xml: Path, data: Path, out: Path) -> Path:
    """Copy of an ExternalLoads file naming ``data`` by absolute path (the input is untouched)."""
    tree = DET.parse(xml, forbid_dtd=True)
    root = tree.getroot()
    loads = root if root.tag == "ExternalLoads" else root.find("ExternalLoads")
    if loads is None:
        raise InputError(f"root <{root.tag}>", path=xml, expected="an ExternalLoads file")
    datafile = loads.find("datafile")
    if datafile is None:
        datafile = ET.SubElement(loads, "datafile")
    datafile.text = str(data)
    kin = loads.find("external_loads_model_kinematics_file")
    if kin is not None:
        kin.text = ""
    target = out / xml.name
    ET.ElementTree(root).write(target, encoding="UTF-8", xml_declaration=True)
    return target


def opensim_inverse_dynamics_tool(
    model_path: str | Path,
    motion: str | Path | xr.Dataset,
    *,
    external_loads: str | Path | None = None,
    grf_data: str | Path | None = None,
    time_range: tuple[float, float] | None = None,
    setup: str | Path | None = None,
    lowpass_cutoff_hz: float = -1.0,
    excluded_forces: Sequence[str] = ("All",),
    output_dir: str | Path | None = None,
) -> xr.Dataset:
    """OpenSim's ``InverseDynamicsTool`` on a motion, with optional external loads.

    Args:
        model_path: the (scaled) ``.osim`` model.
        motion: ``.mot``/``.sto`` coordinates file, or a motion Dataset (written to a
            radians ``.sto`` in the temporary folder first, e.g. after filtering).
        external_loads: OpenSim ExternalLoads ``.xml``; its data file is ``grf_data`` when
            given, else its ``<datafile>`` resolved against the xml's folder, else a file of
            that name beside the xml.
        time_range: (start, end) s; else the ``setup``'s ``time_range``; else the whole motion.
        setup: optional ``InverseDynamicsTool`` setup file, read for its time range only.
        lowpass_cutoff_hz: the tool's own coordinate filter (−1: none, OpenSim's default).
        excluded_forces: the tool's ``forces_to_exclude`` (default: every model force, so only
            inertia, gravity and the external loads act, as in the JAX implementation).
        output_dir: when given, ``inverse_dynamics.sto`` is copied there atomically.

    Returns:
        Dataset ``generalized_force`` (time, coordinate) from the tool's output, with the
        column suffixes (``_moment``/``_force``) removed and a ``unit`` coordinate; attributes
        name the model, motion and load files with their sha256. The tool computes q̇, q̈ from
        quintic GCV splines of the coordinates (``GCVSplineSet(5, ...)``).
    """
    osim = require_opensim("OpenSim's InverseDynamicsTool")

    model_path = existing_file(model_path, "an OpenSim .osim model")
    with tempfile.TemporaryDirectory(prefix="musclesim_id_") as tmp_name:
        tmp = Path(tmp_name)
        if isinstance(motion, xr.Dataset):
            motion_path = write_storage(motion, tmp / "coordinates.sto")
            motion_source = str(motion.attrs.get("source_path", ""))
            motion_sha = str(motion.attrs.get("source_sha256", ""))
        else:
            motion_path = existing_file(motion, "a coordinates .mot/.sto file")
            motion_source, motion_sha = str(motion_path), sha256_file(motion_path)
        if time_range is None and setup is not None:
            setup = existing_file(setup, "an InverseDynamicsTool setup .xml")
            text = DET.parse(setup, forbid_dtd=True).getroot().findtext(".//time_range")
            values = [float(v) for v in (text or "").split()]
            if len(values) != 2:
                raise InputError(
                    f"{text!r}", path=setup, field="time_range", expected="two times (s)"
                )
            time_range = (values[0], values[1])
        tool = osim.InverseDynamicsTool()
        tool.setName("musclesim_id")
        tool.setModelFileName(str(model_path))
        tool.setCoordinatesFileName(str(motion_path))
        tool.setLowpassCutoffFrequency(float(lowpass_cutoff_hz))
        excluded = osim.ArrayStr()
        for name in excluded_forces:
            excluded.append(name)
        tool.setExcludedForces(excluded)
        attrs: dict[str, str] = {}
        if external_loads is not None:
            xml = existing_file(external_loads, "an OpenSim ExternalLoads .xml")
            if grf_data is None:
                _, data = read_external_loads(xml)
                data_path = Path(data.attrs["source_path"])
            else:
                data_path = existing_file(grf_data, "a ground reaction force .mot/.sto")
            fixed = _fixed_external_loads(xml, data_path, tmp)
            tool.setExternalLoadsFileName(str(fixed))
            attrs.update(
                external_loads_path=str(xml),
                external_loads_sha256=sha256_file(xml),
                grf_path=str(data_path),
                grf_sha256=sha256_file(data_path),
            )
        if time_range is None:
            stored = read_storage(motion_path)
            time_range = (float(stored["time"].values[0]), float(stored["time"].values[-1]))
        tool.setStartTime(float(time_range[0]))
        tool.setEndTime(float(time_range[1]))
        tool.setResultsDir(str(tmp))
        tool.setOutputGenForceFileName("inverse_dynamics.sto")
        ok = tool.run()
        result = tmp / "inverse_dynamics.sto"
        if not ok or not result.is_file():
            raise InputError(
                "OpenSim's InverseDynamicsTool failed (see opensim.log)",
                path=motion_path,
                expected="coordinates and loads that match the model",
            )
        table = read_storage(result)
        if output_dir is not None:
            target = Path(output_dir) / "inverse_dynamics.sto"
            with atomic_path(target) as part:
                shutil.copyfile(result, part)
            attrs["output_path"] = str(target.resolve())

    # OpenSim labels every non-rotational coordinate "_force", the coupled patellar one
    # included; units come from the model's own motion types instead (coupled ones are angles)
    dyn = load_dynamics_model(model_path)
    kinds = dict(zip(dyn.coordinate_names, dyn.motion_types, strict=True))
    labels = [str(c) for c in table["channel"].values]
    names, units = [], []
    for label in labels:
        name = label
        for suffix in ("_moment", "_force"):
            if label.endswith(suffix):
                name = label[: -len(suffix)]
                break
        names.append(name)
        units.append("N" if kinds.get(name) == "translational" else "N*m")
    ds = xr.Dataset(
        {
            "generalized_force": (
                ("time", "coordinate"),
                table["data"].values,
                {
                    "units": "N*m or N (per coordinate, see `unit`)",
                    "long_name": "generalized force, OpenSim InverseDynamicsTool",
                },
            )
        },
        coords={
            "time": ("time", table["time"].values, {"units": "s", "long_name": "time"}),
            "coordinate": ("coordinate", np.asarray(names, dtype=object)),
            "unit": ("coordinate", np.asarray(units, dtype=object)),
        },
        attrs={
            "model_path": str(model_path),
            "model_sha256": sha256_file(model_path),
            "motion_path": motion_source,
            "motion_sha256": motion_sha,
            "time_range_s": f"{time_range[0]:.6g} {time_range[1]:.6g}",
            "lowpass_cutoff_hz": float(lowpass_cutoff_hz),
            "excluded_forces": " ".join(excluded_forces),
            "method": "OpenSim InverseDynamicsTool (GCVSplineSet(5) derivatives)",
            **attrs,
        },
    )
    return ds
