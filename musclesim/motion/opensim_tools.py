"""Markers → scaled model → joint angles, through OpenSim's Scale and Inverse Kinematics tools.

This drives OpenSim 4.6 (``pip install opensim``) on a lab's own setup files. The setup files
are read, never modified: every input path they name (generic model, marker files) is replaced
in memory by the path the caller gives, and every output goes into the caller's output folder,
never beside the inputs. The Rajagopal et al. 2016 running data in ``shared/data`` (folder
``kinematics/opensim-models_rajagopal_running``) is the worked example::

    scaled = scale_model(generic="Rajagopal2016.osim", static_trc="static_run.trc",
                         setup="scale_setup_run.xml", output_dir="out/")
    motion = run_ik(scaled.model_path, "motion_capture_run.trc", setup="ik_setup_run.xml",
                    output_dir="out/")

References: Delp SL et al. (2007) OpenSim: open-source software to create and analyze dynamic
simulations of movement. IEEE Trans Biomed Eng 54(11):1940–1950, doi:10.1109/TBME.2007.901024;
Rajagopal A et al. (2016) Full-body musculoskeletal model for muscle-driven simulation of human
gait. IEEE Trans Biomed Eng 63(10):2068–2079, doi:10.1109/TBME.2016.2586891.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from pathlib import Path

import defusedxml.ElementTree as DET
import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.io import existing_file, require_opensim, sha256_file, write_text_atomic
from .markers import read_markers
from .storage import ANGLE_LIMIT_RAD, read_storage
from .tables import _read_mot


def _output_dir(output_dir: str | Path, inputs: list[Path]) -> Path:
    out = Path(output_dir).resolve()
    for p in inputs:
        if out == p.parent:
            raise InputError(
                "the output folder is the folder of an input file",
                path=out,
                expected="a separate output folder (inputs are never written beside)",
            )
    out.mkdir(parents=True, exist_ok=True)
    return out


@dataclasses.dataclass(frozen=True)
class ScaleResult:
    """What :func:`scale_model` produced.

    Attributes:
        model_path: the scaled model with markers placed (.osim), in the output folder.
        scale_factors: body name → (sx, sy, sz) applied to the generic model.
        marker_rms_m, marker_max_m: marker error of the static pose after marker placement (m),
            over the markers that have IK tasks, measured by re-solving the static pose with
            OpenSim's IK on the output model at the mean static frame.
        seconds: wall time of the OpenSim run.
    """

    model_path: Path
    scale_set_path: Path
    scale_factors: dict[str, tuple[float, float, float]]
    marker_rms_m: float
    marker_max_m: float
    seconds: float


def read_scale_set(path: str | Path) -> dict[str, tuple[float, float, float]]:
    """Body scale factors from an OpenSim ScaleSet XML file (``<Scale><scales>``)."""
    path = existing_file(path, "an OpenSim ScaleSet .xml file")
    root = DET.parse(path).getroot()
    out = {}
    for scale in root.iter("Scale"):
        segment = (scale.findtext("segment") or "").strip()
        values = [float(v) for v in (scale.findtext("scales") or "").split()]
        if segment and len(values) == 3:
            out[segment] = (values[0], values[1], values[2])
    if not out:
        raise InputError("no <Scale> entries", path=path, expected="a ScaleSet file")
    return out


def scale_model(
    generic: str | Path,
    static_trc: str | Path,
    *,
    setup: str | Path,
    output_dir: str | Path,
    mass_kg: float | None = None,
    scale_set: str | Path | None = None,
    name: str = "subject_scaled",
) -> ScaleResult:
    """Scale a generic model to a subject from a static trial and place its markers.

    Args:
        generic: the generic ``.osim`` (e.g. ``Rajagopal2016.osim``).
        static_trc: the static standing trial (``.trc``).
        setup: an OpenSim ScaleTool setup (``scale_setup_run.xml``): marker pairs, IK weights
            for marker placement, time range and subject mass are taken from it.
        output_dir: folder for every output (scaled model, scale factors, static pose).
        mass_kg: subject mass; the setup's value when omitted.
        scale_set: optional ScaleSet file (e.g. ``scaleSet_applied_run.xml``); when given, these
            factors are applied as manual scaling instead of measuring marker distances, so the
            result reproduces the published scaling exactly.
        name: base name of the output files.
    """
    osim = require_opensim("model scaling")
    generic = existing_file(generic, "a generic .osim model")
    static_trc = existing_file(static_trc, "a static-trial .trc file")
    setup = existing_file(setup, "an OpenSim ScaleTool setup .xml")
    inputs = [generic, static_trc, setup]
    if scale_set is not None:
        scale_set = existing_file(scale_set, "an OpenSim ScaleSet .xml")
        inputs.append(scale_set)
    out = _output_dir(output_dir, inputs)

    tool = osim.ScaleTool(str(setup))
    tool.setPathToSubject("")
    if mass_kg is not None:
        tool.setSubjectMass(float(mass_kg))
    tool.getGenericModelMaker().setModelFileName(str(generic))
    tool.getGenericModelMaker().setMarkerSetFileName("Unassigned")
    scaler = tool.getModelScaler()
    scaler.setMarkerFileName(str(static_trc))
    scaler.setOutputModelFileName("Unassigned")
    scale_out = out / f"{name}_scale_set.xml"
    scaler.setOutputScaleFileName(str(scale_out))
    if scale_set is not None:
        order = osim.ArrayStr()
        order.append("manualScale")
        scaler.setScalingOrder(order)
        scaler.setScaleSetFile(str(scale_set))
    placer = tool.getMarkerPlacer()
    placer.setMarkerFileName(str(static_trc))
    model_out = out / f"{name}.osim"
    placer.setOutputModelFileName(str(model_out))
    placer.setOutputMotionFileName(str(out / f"{name}_static_pose.mot"))
    placer.setOutputMarkerFileName("Unassigned")
    start = time.perf_counter()
    ok = tool.run()
    seconds = time.perf_counter() - start
    if not ok or not model_out.is_file():
        raise InputError(
            "OpenSim's ScaleTool failed (see opensim.log)",
            path=setup,
            expected="a setup whose marker names exist in the model and the static trial",
        )
    factors = read_scale_set(scale_out) if scale_out.is_file() else {}
    rms, peak = _static_marker_error(osim, model_out, static_trc, tool, out)
    return ScaleResult(model_out, scale_out, factors, rms, peak, seconds)


def _static_marker_error(osim, model_path: Path, static_trc: Path, tool, out: Path):
    """RMS and max marker error (m) of the placed model at the static trial's time range."""
    placer = tool.getMarkerPlacer()
    t0, t1 = placer.getTimeRange().get(0), placer.getTimeRange().get(1)
    ik = osim.InverseKinematicsTool()
    ik.setName("static_check")
    ik.set_model_file(str(model_path))
    ik.setMarkerDataFileName(str(static_trc))
    ik.set_IKTaskSet(placer.getIKTaskSet())
    ik.setStartTime(t0)
    ik.setEndTime(min(t1, t0 + 0.05))
    ik.setResultsDir(str(out))
    ik.setOutputMotionFileName(str(out / "static_check_ik.mot"))
    ik.set_report_errors(True)
    ik.run()
    errors = _read_marker_errors(out / "static_check_ik_marker_errors.sto")
    return errors


def _read_marker_errors(path: Path) -> tuple[float, float]:

    if not path.is_file():
        return math.nan, math.nan
    ds = read_storage(path)
    channels = list(ds["channel"].values)
    rms = ds["data"].values[:, channels.index("marker_error_RMS")]
    peak = ds["data"].values[:, channels.index("marker_error_max")]
    return float(np.sqrt(np.mean(rms**2))), float(np.max(peak))


def _write_trc(markers: xr.Dataset, path: Path) -> Path:
    """Write a marker Dataset (m) as an OpenSim ``.trc`` in mm (gaps left blank)."""

    t = markers["time"].values
    xyz = markers["markers"].values * 1000.0
    names = [str(n) for n in markers["marker"].values]
    rate = 1.0 / float(np.median(np.diff(t))) if t.size > 1 else 1.0
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate:g}\t{rate:g}\t{t.size}\t{len(names)}\tmm\t{rate:g}\t1\t{t.size}",
        "Frame#\tTime\t" + "\t".join(f"{n}\t\t" for n in names),
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(len(names))),
        "",
    ]
    for k in range(t.size):
        vals = ["" if not np.isfinite(v) else f"{v:.6f}" for v in xyz[k].ravel()]
        lines.append(f"{k + 1}\t{t[k]:.8f}\t" + "\t".join(vals))
    return write_text_atomic(path, "\n".join(lines) + "\n")


def run_ik(
    model: str | Path,
    markers: str | Path | xr.Dataset,
    *,
    setup: str | Path | None = None,
    output_dir: str | Path | None = None,
    time_range: tuple[float, float] | None = None,
    name: str = "ik",
) -> xr.Dataset:
    """Inverse kinematics of a marker trial with OpenSim; returns the motion Dataset.

    Args:
        model: the scaled ``.osim`` model with markers placed.
        markers: a ``.trc`` file, or a marker Dataset from :func:`read_markers` (e.g. from a
            ``.c3d``), written to a ``.trc`` in the output folder first.
        setup: optional ``InverseKinematicsTool`` setup (marker weights, accuracy); without one,
            every model marker present in the trial gets weight 1.
        output_dir: where the ``.mot`` and the marker-error ``.sto`` go; a new temporary folder
            when omitted (its path is in the result's ``ik_output`` attribute).
        time_range: (start, end) in s; the setup's range, else the whole trial.

    The result's attributes add ``ik_marker_rms_m`` (RMS over frames of OpenSim's per-frame
    ``marker_error_RMS``), ``ik_marker_max_m`` (largest single marker error), ``ik_seconds``,
    and the model's path and sha256.
    """

    osim = require_opensim("inverse kinematics")
    model = existing_file(model, "a scaled .osim model")
    inputs = []  # the model may live in the output folder (it is usually scale_model's output)
    if setup is not None:
        setup = existing_file(setup, "an OpenSim InverseKinematicsTool setup .xml")
        inputs.append(setup)
    if isinstance(markers, xr.Dataset):
        marker_ds, trc = markers, None
    else:
        trc = existing_file(markers, "a marker .trc file")
        inputs.append(trc)
        marker_ds = read_markers(trc)  # validates the file with musclesim's clear errors
    out = (
        _output_dir(output_dir, inputs)
        if output_dir is not None
        else Path(tempfile.mkdtemp(prefix="musclesim_ik_"))
    )
    if trc is None:
        trc = _write_trc(marker_ds, out / f"{name}_markers.trc")

    tool = (
        osim.InverseKinematicsTool(str(setup))
        if setup is not None
        else osim.InverseKinematicsTool()
    )
    tool.setName(name)
    tool.set_model_file(str(model))
    tool.setMarkerDataFileName(str(trc))
    tool.set_coordinate_file("Unassigned")
    if setup is None:
        osim_model = osim.Model(str(model))
        tasks = tool.upd_IKTaskSet()
        present = {str(n) for n in marker_ds["marker"].values}
        marker_set = osim_model.getMarkerSet()
        for i in range(marker_set.getSize()):
            marker_name = marker_set.get(i).getName()
            if marker_name in present:
                task = osim.IKMarkerTask()
                task.setName(marker_name)
                task.setWeight(1.0)
                tasks.cloneAndAppend(task)
    t = marker_ds["time"].values
    if time_range is None:
        if setup is not None:
            time_range = (tool.get_time_range(0), tool.get_time_range(1))
        else:
            time_range = (float(t[0]), float(t[-1]))
    start_t, end_t = max(time_range[0], float(t[0])), min(time_range[1], float(t[-1]))
    tool.setStartTime(start_t)
    tool.setEndTime(end_t)
    tool.setResultsDir(str(out))
    mot = out / f"{name}.mot"
    tool.setOutputMotionFileName(str(mot))
    tool.set_report_errors(True)
    tool.set_report_marker_locations(False)
    began = time.perf_counter()
    ok = tool.run()
    seconds = time.perf_counter() - began
    if not ok or not mot.is_file():
        raise InputError(
            "OpenSim's InverseKinematicsTool failed (see opensim.log)",
            path=trc,
            expected="marker names shared by the model and the trial",
        )
    motion = _read_mot(Path(mot), model=model, in_degrees=None, angle_limit_rad=ANGLE_LIMIT_RAD)
    rms, peak = _read_marker_errors(out / f"{name}_ik_marker_errors.sto")
    motion.attrs.update(
        ik_output=str(mot),
        ik_marker_rms_m=rms,
        ik_marker_max_m=peak,
        ik_seconds=seconds,
        model_path=str(model),
        model_sha256=sha256_file(model),
        markers_path=str(trc),
        markers_sha256=sha256_file(trc),
    )
    return motion


def rajagopal_running_pipeline(
    data_dir: str | Path,
    output_dir: str | Path,
    *,
    published_scale_factors: bool = False,
    time_range: tuple[float, float] | None = None,
) -> tuple[ScaleResult, xr.Dataset]:
    """The Rajagopal 2016 running example, markers to joint angles.

    Scales ``models/Rajagopal2016.osim`` with ``static_run.trc`` (``scale_setup_run.xml``, or
    the published ``scaleSet_applied_run.xml`` factors when ``published_scale_factors``), then
    runs IK of ``motion_capture_run.trc`` with ``ik_setup_run.xml``. ``data_dir`` is the shared
    data folder (``shared_data_dir()``); nothing is written there.
    """
    data_dir = Path(data_dir)
    run = data_dir / "kinematics" / "opensim-models_rajagopal_running"
    scaled = scale_model(
        data_dir / "models" / "Rajagopal2016.osim",
        run / "static_run.trc",
        setup=run / "scale_setup_run.xml",
        output_dir=output_dir,
        scale_set=run / "scaleSet_applied_run.xml" if published_scale_factors else None,
        name="subject_scaled_run",
    )
    motion = run_ik(
        scaled.model_path,
        run / "motion_capture_run.trc",
        setup=run / "ik_setup_run.xml",
        output_dir=output_dir,
        time_range=time_range,
        name="ik_run",
    )
    return scaled, motion
