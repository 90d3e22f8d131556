"""OpenSim storage files (generic ``.sto``/``.mot`` tables, read and written) and the layout every
motion reader of this package returns.

Every reader returns an :class:`xarray.Dataset`; the layout of a *motion* is

=====================  ==========================  ==============================================
name                   dims                        meaning
=====================  ==========================  ==============================================
``time``               (time,)                     sample times, s, strictly increasing
``coordinate``         (coordinate,)               generalised-coordinate names (the model's own)
``unit``               (coordinate,)               ``"rad"`` or ``"m"`` for each coordinate
``motion_type``        (coordinate,)               ``rotational`` / ``translational`` / ``coupled``
``q``                  (time, coordinate)          coordinate values in SI units (rad or m)
``qdot``, ``qddot``    (time, coordinate)          optional, added by :func:`motion_derivatives`
=====================  ==========================  ==============================================

Marker files (``.trc``, ``.c3d``) give a *marker set* instead: ``markers`` (time, marker, axis) in
metres, and for ``.c3d`` also ``analog`` (analog_time, channel) in the file's own units (EMG is
usually volts). Generic OpenSim storage files (ground reaction forces, EMG ``.sto``) are read by
:func:`read_storage` into ``data`` (time, channel).

Attributes on every dataset: ``source_path``, ``source_sha256``, ``source_format`` and, for
OpenSim files, ``source_in_degrees`` (the header's own ``inDegrees`` value, ``"absent"`` when the
header has none) and ``coordinate_classification`` (how rotational and translational columns
were told apart: the model's joints, or name conventions).

OpenSim 4 states tables (``.sto`` with columns ``/jointset/<joint>/<coordinate>/value``) are
read too: the coordinate values are kept under the coordinate's name, speeds and muscle states
are dropped (counted in the attribute ``ignored_state_columns``).

Units: OpenSim's ``inDegrees=yes`` applies to *rotational* coordinates only. Translations stay in
metres, and the coupled patellar coordinates ``knee_angle_[rl]_beta`` of the Lai/Rajagopal
family are written in radians even in degree files, because OpenSim does not convert coupled
coordinates (see ``shared/data/SOURCES.md``). The readers convert degrees to radians and never
touch the input file.

CSV convention (``.csv``)::

    # optional comment lines start with '#'
    time,hip_flexion_r_deg,knee_angle_r_rad,pelvis_ty_m
    0.000,10.0,0.35,0.95

The first column is ``time`` (or ``time_s``) in seconds. Every other column name ends in its
unit: ``_deg`` (rotational, degrees), ``_rad`` (rotational, radians) or ``_m`` (translation,
metres); the suffix is stripped to give the coordinate name. A column without one of these
suffixes is refused, because its unit would be a guess.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.io import sha256_file
from ..osim.xml import model_element, parse_osim

#: Largest magnitude (rad) accepted for a rotational coordinate declared in radians. A value
#: above one full turn almost always means the column is in degrees (90° read as 90 rad).
ANGLE_LIMIT_RAD = 2.0 * math.pi

#: Relative tolerance on the spread of sample intervals for data treated as uniformly sampled
#: (OpenSim writes times with 8 decimals; 250 Hz data at 0.004 s steps jitter by ~1e-9 s).
UNIFORM_RTOL = 1e-3

#: Name conventions used when no model is given (OpenSim models' own coordinate names).
TRANSLATION_NAMES = frozenset({"pelvis_tx", "pelvis_ty", "pelvis_tz"})
COUPLED_SUFFIX = "_beta"

MOTION_EXTENSIONS = (".mot", ".sto", ".csv", ".trc", ".c3d")

_ROTATIONAL_JOINTS = {
    "PinJoint",
    "UniversalJoint",
    "BallJoint",
    "GimbalJoint",
    "EllipsoidJoint",
}


# ----------------------------------------------------------------------------------------------
# OpenSim storage tables (.mot, .sto)
# ----------------------------------------------------------------------------------------------


#: Truncation rule for the last data row of a coordinate table: the last row's departure from
#: the straight-line continuation of the two rows before it (its change of rate, per second)
#: more than this many times the largest such departure between earlier rows is taken for a
#: number cut short (39.30 written as "3"). Measured on the shared kinematics (the nine
#: coordinate .mot files; tests/test_bad_inputs.py re-measures the first figure): taking every
#: row from the 51st on as the last, the largest ratio of a real row is 5.0 (run0700cms.mot,
#: arm_flex_r, 172 rows); a last value cut to its first digit, where that moves it by more than
#: a fifth of the column's range, exceeds 10 in 5583 of 10769 cases (52 %): the rule catches
#: the large cuts, not every cut. Rates of change alone, without the continuation, vary more.
TRUNCATION_JUMP_FACTOR = 10.0

#: Earlier rows needed before the last-row rule applies: with fewer, the largest earlier change
#: is too small a yardstick (a 31-row prefix of jump2.mot reaches 11.7).
TRUNCATION_MIN_ROWS = 50


def _read_lines(path: Path, expected: str) -> list[str]:
    if path.is_dir():
        raise InputError("is a folder, not a file", path=path, expected=expected)
    if not path.is_file():
        raise InputError("file not found", path=path, expected=expected)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not a text file ({exc.reason} at byte {exc.start})", path=path, expected=expected
        ) from exc
    if not text.strip():
        raise InputError("file is empty", path=path, expected=expected)
    lines = text.splitlines()
    if not text.endswith(("\n", "\r")):
        raise InputError(
            f"the last line (line {len(lines)}) has no line ending: the file looks cut short "
            "while it was written or copied",
            path=path,
            expected=f"{expected}, ending with a newline",
        )
    return lines


def last_row_ratio(data: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per column: the last row's change of rate (from the straight-line continuation of the
    two rows before) divided by the largest change of rate between earlier rows; NaN where
    the column has gaps, there are too few rows, or the column moved at one steady pace.

    The quantity :data:`TRUNCATION_JUMP_FACTOR` bounds; ``data`` is rows × columns.
    """
    out = np.full(data.shape[1], np.nan)
    if data.shape[0] < TRUNCATION_MIN_ROWS + 1:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.diff(data, axis=0) / np.diff(times)[:, None]
        change = np.abs(np.diff(rate, axis=0))
        before = np.nanmax(np.where(np.isfinite(change[:-1]), change[:-1], np.nan), axis=0)
        ratio = change[-1] / before
    finite = np.isfinite(ratio)
    out[finite] = ratio[finite]
    return out


def _check_last_row(
    data: np.ndarray, times: np.ndarray, labels: Sequence[str], *, path: Path, line_no: int
) -> None:
    """Refuse a last data row that looks cut short (rule: :data:`TRUNCATION_JUMP_FACTOR`)."""
    n = data.shape[0]
    if n < TRUNCATION_MIN_ROWS + 1:
        return
    steps = np.diff(times)
    earlier = steps[:-1]
    if np.ptp(earlier) <= UNIFORM_RTOL * np.median(earlier) and not (
        abs(steps[-1] - np.median(earlier)) <= UNIFORM_RTOL * np.median(earlier)
    ):
        raise InputError(
            f"the last row (line {line_no}) is {steps[-1]:.6g} s after the row before, the "
            f"others {np.median(earlier):.6g} s apart: its time looks cut short",
            path=path,
            field="time",
            expected="a complete last row (re-export or remove it)",
        )
    ratio = last_row_ratio(data, times)
    bad = np.flatnonzero(ratio > TRUNCATION_JUMP_FACTOR)
    if bad.size:
        j = int(bad[np.argmax(ratio[bad])])
        raise InputError(
            f"the last row (line {line_no}, time {times[-1]:.6g} s) jumps from "
            f"{data[-2, j]:.6g} to {data[-1, j]:.6g}, off the pace of the rows before by "
            f"{ratio[j]:.0f} times the largest change of pace between earlier rows (limit "
            f"{TRUNCATION_JUMP_FACTOR:g}): a value cut short?",
            path=path,
            field=labels[j],
            expected="a complete last row (re-export or remove it)",
        )


def _parse_float(token: str, *, path: Path, line_no: int, column: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise InputError(
            f"value {token!r} on line {line_no} is not a number",
            path=path,
            field=column,
            expected="a real number",
        ) from None


def _check_finite(
    values: np.ndarray, times: np.ndarray, labels: Sequence[str], *, path: Path
) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        count = int(bad[:, col].sum())
        raise InputError(
            f"{values[row, col]} at time {times[row]:.6g} s ({count} non-finite value(s) in this "
            "column)",
            path=path,
            field=labels[col],
            expected="finite numbers in every row (fill or trim gaps before reading)",
        )


def _check_times(times: np.ndarray, *, path: Path) -> None:
    if not np.all(np.isfinite(times)):
        i = int(np.argmax(~np.isfinite(times)))
        raise InputError(
            f"time on data row {i + 1} is {times[i]}",
            path=path,
            field="time",
            expected="finite times",
        )
    steps = np.diff(times)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        kind = "duplicate" if steps[i] == 0 else "decreasing"
        raise InputError(
            f"{kind} time: {times[i]:.6g} s on data row {i + 1} is followed by "
            f"{times[i + 1]:.6g} s on data row {i + 2}",
            path=path,
            field="time",
            expected="strictly increasing times",
        )


def _parse_table(
    path: Path, lines: list[str], body_start: int, labels: list[str], *, n_rows_declared: int | None
) -> np.ndarray:
    """Parse whitespace/tab separated numeric rows below the column-label line."""
    n_cols = len(labels)
    rows: list[list[float]] = []
    for offset, line in enumerate(lines[body_start:]):
        line_no = body_start + offset + 1
        if not line.strip():
            continue
        tokens = line.split()
        if len(tokens) != n_cols:
            raise InputError(
                f"line {line_no} has {len(tokens)} values but the header names {n_cols} columns "
                "(ragged or truncated row)",
                path=path,
                expected=f"{n_cols} values per row",
            )
        rows.append(
            [
                _parse_float(tok, path=path, line_no=line_no, column=labels[j])
                for j, tok in enumerate(tokens)
            ]
        )
    if not rows:
        raise InputError("no data rows below the header", path=path, expected="at least one row")
    if n_rows_declared is not None and n_rows_declared != len(rows):
        raise InputError(
            f"header declares {n_rows_declared} rows but the file has {len(rows)} "
            "(truncated or edited file)",
            path=path,
            field="nRows",
            expected="nRows equal to the number of data rows",
        )
    return np.asarray(rows, dtype=np.float64)


def _parse_storage(
    path: Path, *, check_last_row: bool = False
) -> tuple[dict[str, str], list[str], np.ndarray]:
    """Read an OpenSim storage file (``.mot``/``.sto``), either header style.

    ``check_last_row``: refuse a last row that looks cut short (:data:`TRUNCATION_JUMP_FACTOR`;
    for coordinates, which move smoothly, not for forces or EMG, which may start abruptly).

    Returns (header key/values, column labels, data array rows × columns). Both OpenSim 4
    (``nRows=``, ``nColumns=``, ``inDegrees=``) and the older SIMM style (``datarows``,
    ``datacolumns``, ``range``) headers are understood; each ends with a line ``endheader``.
    """
    expected = "an OpenSim .mot/.sto file: header lines, 'endheader', column labels, rows"
    lines = _read_lines(path, expected)
    try:
        end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    except StopIteration:
        raise InputError(
            "header has no 'endheader' line (truncated or not an OpenSim storage file)",
            path=path,
            expected=expected,
        ) from None
    header: dict[str, str] = {}
    for line in lines[:end]:
        text = line.strip()
        if "=" in text:
            key, _, value = text.partition("=")
            header[key.strip()] = value.strip()
        else:
            parts = text.split()
            if len(parts) >= 2 and parts[0] in ("datarows", "datacolumns", "name", "range"):
                header[parts[0]] = " ".join(parts[1:])
    label_index = next((i for i in range(end + 1, len(lines)) if lines[i].strip()), None)
    if label_index is None:
        raise InputError(
            "no column labels after 'endheader'", path=path, expected="a line of column labels"
        )
    labels = lines[label_index].split()
    if not labels or labels[0].lower() != "time":
        raise InputError(
            f"first column is {labels[0] if labels else '(none)'!r}",
            path=path,
            field="column labels",
            expected="'time' as the first column",
        )
    duplicates = sorted({name for name in labels if labels.count(name) > 1})
    if duplicates:
        raise InputError(
            f"duplicate column name(s) {duplicates}",
            path=path,
            field="column labels",
            expected="unique column names",
        )
    declared_cols = header.get("nColumns", header.get("datacolumns"))
    if declared_cols is not None:
        try:
            n_declared = int(declared_cols)
        except ValueError:
            raise InputError(
                f"nColumns is {declared_cols!r}",
                path=path,
                field="nColumns",
                expected="an integer",
            ) from None
        if n_declared != len(labels):
            raise InputError(
                f"header declares {n_declared} columns but the label line names {len(labels)}",
                path=path,
                field="nColumns",
                expected="nColumns equal to the number of column labels (time included)",
            )
    declared_rows = header.get("nRows", header.get("datarows"))
    n_rows = None
    if declared_rows is not None:
        try:
            n_rows = int(declared_rows)
        except ValueError:
            raise InputError(
                f"nRows is {declared_rows!r}", path=path, field="nRows", expected="an integer"
            ) from None
    data = _parse_table(path, lines, label_index + 1, labels, n_rows_declared=n_rows)
    _check_times(data[:, 0], path=path)
    _check_finite(data[:, 1:], data[:, 0], labels[1:], path=path)
    if check_last_row:
        last = next(i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()) + 1
        _check_last_row(data[:, 1:], data[:, 0], labels[1:], path=path, line_no=last)
    return header, labels, data


def _provenance(path: Path, fmt: str) -> dict[str, str]:
    return {
        "source_path": str(path.resolve()),
        "source_sha256": sha256_file(path),
        "source_format": fmt,
    }


def read_storage(path: str | Path) -> xr.Dataset:
    """Read any OpenSim storage file (``.mot``/``.sto``) as raw columns, no unit conversion.

    For ground reaction forces, EMG exported to ``.sto``, or any other time series. Returns a
    Dataset with ``data`` (time, channel) holding the file's numbers unchanged; the header's
    keys are kept as attributes ``header_<key>``.
    """
    path = Path(path)
    header, labels, data = _parse_storage(path)
    ds = xr.Dataset(
        {"data": (("time", "channel"), data[:, 1:], {"long_name": "column values as written"})},
        coords={
            "time": ("time", data[:, 0], {"units": "s", "long_name": "time"}),
            "channel": ("channel", np.asarray(labels[1:], dtype=object)),
        },
        attrs=_provenance(path, "opensim-storage"),
    )
    for key, value in header.items():
        safe = re.sub(r"[^A-Za-z0-9_]", "_", key)
        ds.attrs[f"header_{safe}"] = value
    return ds


# ----------------------------------------------------------------------------------------------
# Coordinate classification
# ----------------------------------------------------------------------------------------------


def write_storage(motion: xr.Dataset, path: str | Path) -> Path:
    """Write a motion Dataset (``q`` in rad and m) as an OpenSim storage file
    (``inDegrees=no``, every value to full double precision) for OpenSim's tools; the reverse
    of :func:`read_motion` for ``.mot``/``.sto``. Used for files in temporary folders."""
    path = Path(path)
    t = np.asarray(motion["time"].values, dtype=float)
    q = np.asarray(motion["q"].transpose("time", "coordinate").values, dtype=float)
    names = [str(c) for c in motion["coordinate"].values]
    lines = [
        path.stem,
        "version=1",
        f"nRows={t.size}",
        f"nColumns={len(names) + 1}",
        "inDegrees=no",
        "endheader",
        "\t".join(["time", *names]),
    ]
    lines += ["\t".join(f"{v:.17g}" for v in (t[i], *q[i])) for i in range(t.size)]
    path.write_text("\n".join(lines) + "\n")
    return path


def coordinate_motion_types(model: str | Path | ET.Element) -> dict[str, str]:
    """Each coordinate's motion type in an ``.osim`` model, read without OpenSim.

    Follows OpenSim's ``Coordinate::getMotionType``: a coordinate that is the dependent
    coordinate of a ``CoordinateCouplerConstraint`` is ``coupled``; otherwise a coordinate of a
    ``CustomJoint`` is ``rotational`` when it drives one of the ``rotation1..3`` transform axes
    and ``translational`` when it drives only translation axes; coordinates of pin, universal,
    ball, gimbal and ellipsoid joints are rotational and those of slider joints translational.
    """

    root = parse_osim(model) if not isinstance(model, ET.Element) else model
    model_el = model_element(root) if root.tag == "OpenSimDocument" else root
    types: dict[str, str] = {}
    joint_set = model_el.find("JointSet/objects")
    for joint in [] if joint_set is None else list(joint_set):
        coordinates = [c.get("name") for c in joint.findall("coordinates/Coordinate")]
        if joint.tag == "CustomJoint":
            for name in coordinates:
                kind = None
                for axis in joint.findall("SpatialTransform/TransformAxis"):
                    driven = (axis.findtext("coordinates") or "").split()
                    if name in driven:
                        if axis.get("name", "").startswith("rotation"):
                            kind = "rotational"
                            break
                        kind = kind or "translational"
                types[name] = kind or "rotational"
        elif joint.tag == "SliderJoint":
            types.update(dict.fromkeys(coordinates, "translational"))
        elif joint.tag in _ROTATIONAL_JOINTS:
            types.update(dict.fromkeys(coordinates, "rotational"))
        else:
            types.update(dict.fromkeys(coordinates, "rotational"))
    for constraint in model_el.iter("CoordinateCouplerConstraint"):
        dependent = (constraint.findtext("dependent_coordinate_name") or "").strip()
        if dependent:
            types[dependent] = "coupled"
    return types


def _classify_by_name(name: str) -> str:
    if name in TRANSLATION_NAMES:
        return "translational"
    if name.endswith(COUPLED_SUFFIX):
        return "coupled"
    return "rotational"


def _classify(
    labels: Sequence[str], model: str | Path | ET.Element | Mapping[str, str] | None
) -> tuple[list[str], str]:
    if model is None:
        return [
            _classify_by_name(n) for n in labels
        ], "name convention (pelvis_t[xyz] metres, *_beta coupled radians, others rotational)"
    if isinstance(model, Mapping):
        types, source = dict(model), "given mapping"
    else:
        types = coordinate_motion_types(model)
        source = "model joints" if isinstance(model, ET.Element) else f"model {Path(model).name}"
    return [types.get(n) or _classify_by_name(n) for n in labels], source


# ----------------------------------------------------------------------------------------------
# Motion readers
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Markers: .trc and .c3d
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Processing: filtering, resampling, derivatives, matching
# ----------------------------------------------------------------------------------------------
