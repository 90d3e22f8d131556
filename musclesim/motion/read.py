""":func:`read_motion`, the one entry point from a motion file to a Motion Dataset (time ×
coordinate, SI units): OpenSim storage and CSV through :mod:`musclesim.motion.storage`, marker
files through OpenSim's inverse kinematics (:func:`~.opensim_tools.run_ik`).
It sits above both, so the readers never depend on OpenSim's tools.
"""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import xarray as xr

from ..core.errors import InputError, OpenSimMissingError
from .markers import read_markers
from .opensim_tools import run_ik
from .storage import ANGLE_LIMIT_RAD, MOTION_EXTENSIONS
from .tables import _read_csv, _read_mot


def read_motion(
    path: str | Path,
    *,
    model: str | Path | ET.Element | Mapping[str, str] | None = None,
    in_degrees: bool | None = None,
    angle_limit_rad: float = ANGLE_LIMIT_RAD,
    ik_setup: str | Path | None = None,
    ik_output_dir: str | Path | None = None,
) -> xr.Dataset:
    """Read a motion (joint coordinates over time) in SI units.

    Args:
        path: ``.mot``/``.sto`` (OpenSim), ``.csv`` (convention in the module docstring), or a
            marker file ``.trc``/``.c3d``, which needs ``model`` and OpenSim: its markers are
            run through OpenSim's inverse kinematics (:func:`~.opensim_tools.run_ik`).
        model: optional ``.osim`` path, parsed ``.osim`` root, or a mapping coordinate name →
            motion type. When given, rotational/translational/coupled columns are told apart by
            the model's joints; otherwise by name (``pelvis_t[xyz]`` translations, ``*_beta``
            coupled). Required for marker files.
        in_degrees: only for storage files whose header lacks ``inDegrees``; must agree with
            the header when both are given.
        angle_limit_rad: a rotational value declared in radians above this magnitude (default
            2π) is refused as "degrees where radians were meant".
        ik_setup, ik_output_dir: for marker files, the IK settings file (marker weights) and
            the folder where the IK result is written (a temporary folder when omitted).

    Returns:
        A motion Dataset (layout in the module docstring): ``q`` (time, coordinate) in rad/m.

    Raises:
        InputError: unknown extension, missing/empty/malformed/truncated file, ragged rows,
            row or column counts that disagree with the header, NaN (naming column and time),
            duplicate or decreasing times, a radians column that holds degrees.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".mot", ".sto"):
        return _read_mot(path, model=model, in_degrees=in_degrees, angle_limit_rad=angle_limit_rad)
    if suffix == ".csv":
        return _read_csv(path, model=model, angle_limit_rad=angle_limit_rad)
    if suffix in (".trc", ".c3d"):
        markers = read_markers(path)  # validates the file even when IK cannot run
        if model is None or isinstance(model, Mapping | ET.Element):
            raise InputError(
                "a marker file needs inverse kinematics, which needs the .osim model path",
                path=path,
                expected="read_motion(path, model='subject_scaled.osim') with OpenSim installed, "
                "or read_markers(path) for the markers alone",
            )
        if importlib.util.find_spec("opensim") is None:
            raise OpenSimMissingError("inverse kinematics of a marker file")

        return run_ik(model, markers, setup=ik_setup, output_dir=ik_output_dir)
    raise InputError(
        f"unknown motion file extension {path.suffix!r}",
        path=path,
        expected="one of " + ", ".join(MOTION_EXTENSIONS),
    )
