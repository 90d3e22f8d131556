"""Measured motion: file readers, filtering, resampling, derivatives and coordinate matching.

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

import difflib
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline, make_interp_spline
from scipy.signal import butter, sosfiltfilt

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


def _read_lines(path: Path, expected: str) -> list[str]:
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
    return text.splitlines()


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


def _parse_storage(path: Path) -> tuple[dict[str, str], list[str], np.ndarray]:
    """Read an OpenSim storage file (``.mot``/``.sto``), either header style.

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


def _check_radians(
    values: np.ndarray,
    times: np.ndarray,
    labels: Sequence[str],
    types: Sequence[str],
    *,
    path: Path,
    limit: float,
    why: str,
) -> None:
    for j, (name, kind) in enumerate(zip(labels, types, strict=True)):
        if kind == "translational":
            continue
        column = values[:, j]
        peak = float(np.max(np.abs(column)))
        if peak > limit:
            i = int(np.argmax(np.abs(column)))
            raise InputError(
                f"{column[i]:.6g} at time {times[i]:.6g} s is larger than {limit:.3g} rad "
                f"({math.degrees(limit):.0f}°) although {why}; the column looks like degrees",
                path=path,
                field=name,
                expected="radians (or declare the file in degrees)",
            )


def _motion_dataset(
    times: np.ndarray,
    q: np.ndarray,
    labels: Sequence[str],
    types: Sequence[str],
    attrs: dict[str, str],
) -> xr.Dataset:
    units = ["m" if t == "translational" else "rad" for t in types]
    return xr.Dataset(
        {
            "q": (
                ("time", "coordinate"),
                q,
                {
                    "units": "rad or m (per coordinate, see the `unit` coordinate)",
                    "long_name": "generalized coordinate value",
                },
            )
        },
        coords={
            "time": (
                "time",
                np.asarray(times, dtype=np.float64),
                {"units": "s", "long_name": "time"},
            ),
            "coordinate": ("coordinate", np.asarray(labels, dtype=object)),
            "unit": ("coordinate", np.asarray(units, dtype=object), {"long_name": "unit of q"}),
            "motion_type": (
                "coordinate",
                np.asarray(types, dtype=object),
                {"long_name": "OpenSim motion type"},
            ),
        },
        attrs=attrs,
    )


def _read_mot(path: Path, *, model, in_degrees: bool | None, angle_limit_rad: float) -> xr.Dataset:
    header, labels, data = _parse_storage(path)
    names = labels[1:]
    raw_flag = header.get("inDegrees")
    if raw_flag is None:
        if in_degrees is None:
            raise InputError(
                "header has no 'inDegrees' line, so the angle unit is unknown",
                path=path,
                field="inDegrees",
                expected="inDegrees=yes/no in the header, or in_degrees=True/False from the caller",
            )
        degrees = bool(in_degrees)
    else:
        if raw_flag.lower() not in ("yes", "no", "true", "false"):
            raise InputError(
                f"inDegrees is {raw_flag!r}", path=path, field="inDegrees", expected="yes or no"
            )
        degrees = raw_flag.lower() in ("yes", "true")
        if in_degrees is not None and bool(in_degrees) != degrees:
            raise InputError(
                f"the header says inDegrees={raw_flag} but the caller passed "
                f"in_degrees={in_degrees}",
                path=path,
                field="inDegrees",
                expected="the two to agree (leave in_degrees unset to trust the header)",
            )
    values = data[:, 1:].copy()
    times = data[:, 0]
    ignored = 0
    if any("/" in n for n in names):
        names, values, ignored = _state_columns(names, values, path=path)
    types, source = _classify(names, model)
    rotational = np.array([t == "rotational" for t in types])
    if degrees:
        values[:, rotational] = np.deg2rad(values[:, rotational])
        # coupled columns are radians in degree files; still guard them against degrees
        coupled = [t == "coupled" for t in types]
        _check_radians(
            values[:, coupled],
            times,
            [n for n, c in zip(names, coupled, strict=True) if c],
            ["coupled"] * sum(coupled),
            path=path,
            limit=angle_limit_rad,
            why="coupled coordinates are stored in radians even in degree files",
        )
    else:
        _check_radians(
            values,
            times,
            names,
            types,
            path=path,
            limit=angle_limit_rad,
            why="the header says inDegrees=no",
        )
    attrs = _provenance(path, "opensim-" + path.suffix.lower().lstrip("."))
    attrs["source_in_degrees"] = raw_flag if raw_flag is not None else "absent"
    attrs["coordinate_classification"] = source
    if ignored:
        attrs["ignored_state_columns"] = ignored
    return _motion_dataset(times, values, names, types, attrs)


def _state_columns(
    names: list[str], values: np.ndarray, *, path: Path
) -> tuple[list[str], np.ndarray, int]:
    """Coordinate values of an OpenSim 4 states table (columns such as
    ``/jointset/hip_r/hip_flexion_r/value``): keeps the ``/value`` columns of coordinates,
    renamed to the coordinate, and drops speeds and muscle states (their count is returned)."""
    keep = [j for j, n in enumerate(names) if n.endswith("/value") and "/jointset/" in n]
    if not keep:
        raise InputError(
            "column names are component paths but none is a coordinate value",
            path=path,
            field="column labels",
            expected="coordinate columns such as /jointset/hip_r/hip_flexion_r/value",
        )
    renamed = [names[j].split("/")[-2] for j in keep]
    return renamed, values[:, keep], len(names) - len(keep)


_CSV_SUFFIXES = {
    "_deg": ("rotational", True),
    "_rad": ("rotational", False),
    "_m": ("translational", False),
}


def _read_csv(path: Path, *, model, angle_limit_rad: float) -> xr.Dataset:
    expected = "a CSV with 'time' then columns named <coordinate>_deg, _rad or _m"
    lines = [ln for ln in _read_lines(path, expected) if not ln.lstrip().startswith("#")]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise InputError("file has only comments", path=path, expected=expected)
    labels = [c.strip() for c in lines[0].split(",")]
    if labels[0].lower() not in ("time", "time_s"):
        raise InputError(
            f"first column is {labels[0]!r}", path=path, field="header", expected="'time' (s)"
        )
    names, types, degrees = [], [], []
    for label in labels[1:]:
        for suffix, (kind, deg) in _CSV_SUFFIXES.items():
            if label.endswith(suffix) and len(label) > len(suffix):
                names.append(label[: -len(suffix)])
                types.append(kind)
                degrees.append(deg)
                break
        else:
            raise InputError(
                f"column {label!r} has no unit suffix",
                path=path,
                field=label,
                expected="a name ending in _deg, _rad or _m",
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            f"coordinate(s) {duplicates} appear more than once",
            path=path,
            field="header",
            expected="one column per coordinate",
        )
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        tokens = [t.strip() for t in line.split(",")]
        if len(tokens) != len(labels):
            raise InputError(
                f"data row {i - 1} has {len(tokens)} values but the header names {len(labels)} "
                "columns (ragged or truncated row)",
                path=path,
                expected=f"{len(labels)} values per row",
            )
        rows.append(
            [
                float("nan")
                if t.lower() in ("", "nan")
                else _parse_float(t, path=path, line_no=i, column=labels[j])
                for j, t in enumerate(tokens)
            ]
        )
    if not rows:
        raise InputError("no data rows below the header", path=path, expected="at least one row")
    data = np.asarray(rows, dtype=np.float64)
    times = data[:, 0]
    _check_times(times, path=path)
    _check_finite(data[:, 1:], times, labels[1:], path=path)
    values = data[:, 1:].copy()
    if model is not None:
        model_types, _ = _classify(names, model)
        for j, (declared, from_model) in enumerate(zip(types, model_types, strict=True)):
            if from_model != declared and not (
                declared == "rotational" and from_model == "coupled"
            ):
                raise InputError(
                    f"the column is declared {declared} by its suffix but the model says "
                    f"{from_model}",
                    path=path,
                    field=labels[j + 1],
                    expected="a suffix matching the model's coordinate type",
                )
        types = model_types
    deg_mask = np.asarray(degrees)
    values[:, deg_mask] = np.deg2rad(values[:, deg_mask])
    rad_cols = [j for j, d in enumerate(degrees) if not d and types[j] != "translational"]
    _check_radians(
        values[:, rad_cols],
        times,
        [labels[j + 1] for j in rad_cols],
        [types[j] for j in rad_cols],
        path=path,
        limit=angle_limit_rad,
        why="the column name says radians (_rad)",
    )
    attrs = _provenance(path, "csv")
    attrs["source_in_degrees"] = "per column (_deg/_rad suffix)"
    attrs["coordinate_classification"] = (
        "column suffix" if model is None else "column suffix, checked against the model"
    )
    return _motion_dataset(times, values, names, types, attrs)


# ----------------------------------------------------------------------------------------------
# Markers: .trc and .c3d
# ----------------------------------------------------------------------------------------------

_LENGTH_UNITS = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "meters": 1.0, "millimeters": 1e-3}


def _length_scale(unit: str, *, path: Path, field: str) -> float:
    key = unit.strip().lower()
    if key not in _LENGTH_UNITS:
        raise InputError(
            f"unknown length unit {unit!r}", path=path, field=field, expected="mm, cm or m"
        )
    return _LENGTH_UNITS[key]


def _marker_dataset(times, xyz, names, attrs) -> xr.Dataset:
    return xr.Dataset(
        {
            "markers": (
                ("time", "marker", "axis"),
                xyz,
                {"units": "m", "long_name": "marker position in the lab frame"},
            )
        },
        coords={
            "time": (
                "time",
                np.asarray(times, dtype=np.float64),
                {"units": "s", "long_name": "time"},
            ),
            "marker": ("marker", np.asarray(names, dtype=object)),
            "axis": ("axis", np.asarray(["x", "y", "z"], dtype=object)),
        },
        attrs=attrs,
    )


def _read_trc(path: Path) -> xr.Dataset:
    expected = "an OpenSim .trc file (PathFileType line, DataRate/NumFrames/.../Units, labels)"
    lines = _read_lines(path, expected)
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise InputError("first line is not 'PathFileType ...'", path=path, expected=expected)
    keys = lines[1].split("\t")
    values = lines[2].split("\t")
    keys = [k.strip() for k in keys if k.strip()]
    values = [v.strip() for v in values if v.strip()]
    if len(values) < len(keys):
        raise InputError(
            f"header line 3 has {len(values)} values for {len(keys)} keys",
            path=path,
            expected=expected,
        )
    info = dict(zip(keys, values, strict=False))
    for key in ("DataRate", "NumFrames", "NumMarkers", "Units"):
        if key not in info:
            raise InputError(f"header lacks {key}", path=path, field=key, expected=expected)
    try:
        n_frames = int(info["NumFrames"])
        n_markers = int(info["NumMarkers"])
    except ValueError:
        raise InputError(
            f"NumFrames/NumMarkers are {info['NumFrames']!r}/{info['NumMarkers']!r}",
            path=path,
            expected="integers",
        ) from None
    scale = _length_scale(info["Units"], path=path, field="Units")
    label_tokens = lines[3].split("\t")
    if len(label_tokens) < 2 or label_tokens[0].strip() != "Frame#":
        raise InputError("line 4 is not 'Frame#\\tTime\\t<markers>'", path=path, expected=expected)
    names = [t.strip() for t in label_tokens[2:] if t.strip()]
    if len(names) != n_markers:
        raise InputError(
            f"header declares {n_markers} markers but the label line names {len(names)}",
            path=path,
            field="NumMarkers",
            expected="NumMarkers equal to the labels",
        )
    n_fields = 2 + 3 * n_markers
    rows = []
    for line_no, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        tokens = line.split("\t")
        while len(tokens) > n_fields and not tokens[-1].strip():
            tokens.pop()
        if len(tokens) != n_fields:
            raise InputError(
                f"line {line_no} has {len(tokens)} fields but {n_markers} markers need {n_fields}"
                " (ragged or truncated row)",
                path=path,
                expected=f"{n_fields} tab-separated fields per row",
            )
        row = []
        for j, tok in enumerate(tokens[1:]):
            column = "Time" if j == 0 else f"{names[(j - 1) // 3]}.{'XYZ'[(j - 1) % 3]}"
            row.append(
                float("nan")
                if not tok.strip()
                else _parse_float(tok, path=path, line_no=line_no, column=column)
            )
        rows.append(row)
    if not rows:
        raise InputError("no data rows below the header", path=path, expected=expected)
    if len(rows) != n_frames:
        raise InputError(
            f"header declares {n_frames} frames but the file has {len(rows)}",
            path=path,
            field="NumFrames",
            expected="NumFrames equal to the number of data rows",
        )
    data = np.asarray(rows)
    times = data[:, 0]
    _check_times(times, path=path)
    xyz = data[:, 1:].reshape(len(rows), n_markers, 3) * scale
    attrs = _provenance(path, "trc")
    attrs.update(
        source_units=info["Units"],
        data_rate_hz=float(info["DataRate"]),
        n_missing_values=int(np.isnan(xyz).sum()),
    )
    return _marker_dataset(times, xyz, names, attrs)


def _c3d(path: Path):
    import ezc3d

    if not path.is_file():
        raise InputError("file not found", path=path, expected="a .c3d file")
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=path, expected="a .c3d file")
    try:
        return ezc3d.c3d(str(path), extract_forceplat_data=False)
    except Exception as exc:  # ezc3d raises plain RuntimeError/IOError on malformed files
        raise InputError(
            f"cannot be read as C3D ({exc.__class__.__name__}: {exc})",
            path=path,
            expected="a complete .c3d file",
        ) from exc


def _c3d_labels(group: dict, n: int, prefix: str) -> list[str]:
    labels = list(group.get("LABELS", {}).get("value", []))
    for k in range(2, 100):
        more = group.get(f"LABELS{k}")
        if more is None:
            break
        labels += list(more["value"])
    labels = [str(s).strip() for s in labels][:n]
    labels += [f"{prefix}{i + 1}" for i in range(len(labels), n)]
    return labels


def _read_c3d_markers(path: Path) -> xr.Dataset:
    c = _c3d(path)
    point = c["parameters"]["POINT"]
    rate = float(np.ravel(point["RATE"]["value"])[0])
    pts = np.asarray(c["data"]["points"], dtype=np.float64)  # (4, n_markers, n_frames)
    n_markers, n_frames = pts.shape[1], pts.shape[2]
    if n_frames == 0 or n_markers == 0:
        raise InputError("no marker data", path=path, expected="a .c3d file with points")
    declared = np.ravel(point.get("UNITS", {"value": []})["value"])
    unit = str(declared[0]).strip() if declared.size else ""
    unit = unit or "mm"  # the C3D default when POINT:UNITS is absent or blank
    scale = _length_scale(unit, path=path, field="POINT:UNITS")
    first = int(c["header"]["points"]["first_frame"])
    times = (first + np.arange(n_frames)) / rate
    xyz = np.transpose(pts[:3], (2, 1, 0)) * scale
    names = _c3d_labels(point, n_markers, "marker")
    attrs = _provenance(path, "c3d")
    attrs.update(source_units=unit, data_rate_hz=rate, n_missing_values=int(np.isnan(xyz).sum()))
    return _marker_dataset(times, xyz, names, attrs)


def read_markers(path: str | Path) -> xr.Dataset:
    """Read marker trajectories from ``.trc`` or ``.c3d`` into metres.

    Returns a Dataset with ``markers`` (time, marker, axis) in m, in the lab frame as written.
    Gaps (blank fields in ``.trc``, NaN or residual < 0 in ``.c3d``) are kept as NaN, because
    OpenSim's IK skips missing markers frame by frame; their count is in the attribute
    ``n_missing_values``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".trc":
        return _read_trc(path)
    if suffix == ".c3d":
        return _read_c3d_markers(path)
    raise InputError(
        f"unknown marker file extension {path.suffix!r}", path=path, expected=".trc or .c3d"
    )


def read_analog(path: str | Path) -> xr.Dataset:
    """Read the analog channels of a ``.c3d`` file (EMG, force plates) via ezc3d.

    Returns ``analog`` (analog_time, channel) in the file's units (``ANALOG:UNITS``, usually V),
    with ``units`` per channel in the ``unit`` coordinate and the sampling rate in the attribute
    ``analog_rate_hz``. Scale and offset have already been applied by ezc3d.
    """
    path = Path(path)
    if path.suffix.lower() != ".c3d":
        raise InputError(
            f"unknown analog file extension {path.suffix!r}", path=path, expected=".c3d"
        )
    c = _c3d(path)
    analog = c["parameters"].get("ANALOG", {})
    values = np.asarray(c["data"]["analogs"], dtype=np.float64)  # (1, n_channels, n_samples)
    if values.size == 0:
        raise InputError("no analog channels", path=path, expected="a .c3d file with analogs")
    values = values[0].T
    rate = float(np.ravel(analog["RATE"]["value"])[0])
    point_rate = float(np.ravel(c["parameters"]["POINT"]["RATE"]["value"])[0])
    first = int(c["header"]["points"]["first_frame"])
    times = first / point_rate + np.arange(values.shape[0]) / rate
    names = _c3d_labels(analog, values.shape[1], "channel")
    units = list(np.ravel(analog.get("UNITS", {"value": []})["value"]))[: values.shape[1]]
    units += ["V"] * (values.shape[1] - len(units))
    _check_finite(values, times, names, path=path)
    attrs = _provenance(path, "c3d")
    attrs["analog_rate_hz"] = rate
    return xr.Dataset(
        {
            "analog": (
                ("analog_time", "channel"),
                values,
                {"units": "per channel (see unit)", "long_name": "analog signal"},
            )
        },
        coords={
            "analog_time": ("analog_time", times, {"units": "s", "long_name": "time"}),
            "channel": ("channel", np.asarray(names, dtype=object)),
            "unit": ("channel", np.asarray([str(u) for u in units], dtype=object)),
        },
        attrs=attrs,
    )


# ----------------------------------------------------------------------------------------------
# Processing: filtering, resampling, derivatives, matching
# ----------------------------------------------------------------------------------------------


def sampling_rate(time: np.ndarray, *, path: str | Path | None = None) -> float:
    """The sampling rate (Hz) of uniformly sampled times; an InputError when they are not."""
    time = np.asarray(time, dtype=np.float64)
    if time.size < 2:
        raise InputError("fewer than two samples", path=path, field="time", expected="≥ 2 samples")
    steps = np.diff(time)
    dt = float(np.median(steps))
    if dt <= 0 or np.max(np.abs(steps - dt)) > UNIFORM_RTOL * dt:
        raise InputError(
            f"time steps range from {steps.min():.6g} to {steps.max():.6g} s",
            path=path,
            field="time",
            expected="uniform sampling (use resample_motion first)",
        )
    return 1.0 / dt


def _value_vars(ds: xr.Dataset) -> list[str]:
    return [name for name, var in ds.data_vars.items() if "time" in var.dims]


def filter_motion(
    motion: xr.Dataset,
    cutoff_hz: float,
    *,
    order: int = 4,
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """Zero-lag low-pass Butterworth filter along ``time``.

    A Butterworth filter of order ``order`` and design cutoff ``cutoff_hz`` is run forwards and
    backwards (``scipy.signal.sosfiltfilt``, odd-extension padding), so there is no phase lag;
    the combined response is |H(f)|², of order 2·``order``, with gain 0.5 (−6 dB) at
    ``cutoff_hz``, not −3 dB (Winter, *Biomechanics and Motor Control of Human Movement*, 4th
    ed. 2009, §3.4.4, doi:10.1002/9780470549148). Common choices for running kinematics are
    10–15 Hz, 4th order. The cutoff and order are recorded in the attributes
    ``filter_cutoff_hz`` / ``filter_order`` / ``filter``.

    Raises InputError for non-uniform sampling, a cutoff not below Nyquist, or a signal shorter
    than the filter's padding.
    """
    path = motion.attrs.get("source_path")
    fs = sampling_rate(motion["time"].values, path=path)
    if not (0 < cutoff_hz < fs / 2):
        raise InputError(
            f"cutoff {cutoff_hz} Hz",
            path=path,
            field="cutoff_hz",
            expected=f"0 < cutoff < Nyquist = {fs / 2:.6g} Hz",
        )
    if order < 1:
        raise InputError(f"order {order}", field="order", expected="an integer ≥ 1")
    sos = butter(order, cutoff_hz, btype="low", fs=fs, output="sos")
    padlen = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if motion.sizes["time"] <= padlen:
        raise InputError(
            f"{motion.sizes['time']} samples are too few for a {order}th-order zero-lag filter",
            path=path,
            field="time",
            expected=f"more than {padlen} samples",
        )
    out = motion.copy()
    for name in variables or _value_vars(motion):
        var = motion[name]
        axis = var.dims.index("time")
        out[name] = var.copy(data=sosfiltfilt(sos, var.values, axis=axis))
    out.attrs.update(
        filter="zero-lag Butterworth low-pass (scipy.signal.sosfiltfilt)",
        filter_cutoff_hz=float(cutoff_hz),
        filter_order=int(order),
    )
    return out


def resample_motion(
    motion: xr.Dataset,
    rate_hz: float | None = None,
    *,
    times: Iterable[float] | None = None,
) -> xr.Dataset:
    """Resample every time-dependent variable onto new times by cubic spline (not-a-knot).

    Give either ``rate_hz`` (uniform times from the first sample, spanning the record) or
    explicit ``times`` (s) inside the recorded range; extrapolation is refused.
    """
    path = motion.attrs.get("source_path")
    t = motion["time"].values
    if (rate_hz is None) == (times is None):
        raise InputError("give exactly one of rate_hz and times", field="resample_motion")
    if rate_hz is not None:
        if rate_hz <= 0:
            raise InputError(f"rate {rate_hz} Hz", field="rate_hz", expected="> 0")
        n = int(math.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1
        new_t = t[0] + np.arange(n) / rate_hz
    else:
        new_t = np.asarray(list(times), dtype=np.float64)
        _check_times(new_t, path="(requested times)")
    tol = 1e-9 * max(1.0, abs(t[-1]))
    if new_t[0] < t[0] - tol or new_t[-1] > t[-1] + tol:
        raise InputError(
            f"requested {new_t[0]:.6g}–{new_t[-1]:.6g} s lies outside the record "
            f"{t[0]:.6g}–{t[-1]:.6g} s",
            path=path,
            field="times",
            expected="times inside the recorded range (no extrapolation)",
        )
    if t.size < 2:
        raise InputError("fewer than two samples", path=path, expected="≥ 2 samples")
    new_t = np.clip(new_t, t[0], t[-1])
    data_vars = {}
    for name, var in motion.data_vars.items():
        if "time" not in var.dims:
            data_vars[name] = var
            continue
        axis = var.dims.index("time")
        spline = CubicSpline(t, var.values, axis=axis)
        data_vars[name] = (var.dims, spline(new_t), var.attrs)
    coords = {k: v for k, v in motion.coords.items() if "time" not in v.dims}
    coords["time"] = ("time", new_t, motion["time"].attrs)
    out = xr.Dataset(data_vars, coords=coords, attrs=dict(motion.attrs))
    out.attrs["resampled"] = "cubic spline (not-a-knot), scipy.interpolate.CubicSpline"
    return out


def motion_derivatives(motion: xr.Dataset, *, method: str = "spline") -> xr.Dataset:
    """Add coordinate speeds ``qdot`` (rad/s, m/s) and accelerations ``qddot`` (rad/s², m/s²).

    Methods:
        ``"spline"``: differentiate a quintic interpolating B-spline through the samples
            (``scipy.interpolate.make_interp_spline(k=5)``); smooth second derivatives, exact
            for polynomials up to degree 5. Filter noisy data first (:func:`filter_motion`).
        ``"gradient"``: second-order central finite differences (``numpy.gradient``,
            one-sided second-order at the ends), applied twice for ``qddot``.
    """
    if "q" not in motion:
        raise InputError("dataset has no 'q' variable", field="q", expected="a motion dataset")
    t = motion["time"].values
    q = motion["q"].values
    if method == "spline":
        if t.size < 6:
            raise InputError(
                f"{t.size} samples", field="time", expected="≥ 6 samples for a quintic spline"
            )
        spline = make_interp_spline(t, q, k=5, axis=0)
        qd, qdd = spline.derivative(1)(t), spline.derivative(2)(t)
    elif method == "gradient":
        if t.size < 3:
            raise InputError(f"{t.size} samples", field="time", expected="≥ 3 samples")
        qd = np.gradient(q, t, axis=0, edge_order=2)
        qdd = np.gradient(qd, t, axis=0, edge_order=2)
    else:
        raise InputError(
            f"unknown method {method!r}", field="method", expected="'spline' or 'gradient'"
        )
    out = motion.copy()
    dims = motion["q"].dims
    out["qdot"] = (
        dims,
        qd,
        {"units": "rad/s or m/s (per coordinate)", "long_name": "generalized speed"},
    )
    out["qddot"] = (
        dims,
        qdd,
        {"units": "rad/s^2 or m/s^2 (per coordinate)", "long_name": "generalized acceleration"},
    )
    out.attrs["derivative_method"] = method
    return out


def match_coordinates(
    motion: xr.Dataset,
    required_names: Iterable[str],
    *,
    path: str | Path | None = None,
) -> xr.Dataset:
    """The motion restricted to ``required_names``, in that order.

    Raises InputError naming the file, every missing coordinate (with the closest names the
    file does have) and the coordinates that were expected.
    """
    required = list(dict.fromkeys(required_names))
    available = [str(c) for c in motion["coordinate"].values]
    missing = [name for name in required if name not in available]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, available, n=2, cutoff=0.6)
            hints.append(f"{name} (closest in file: {', '.join(close)})" if close else name)
        raise InputError(
            f"missing coordinate(s): {'; '.join(hints)}",
            path=path or motion.attrs.get("source_path"),
            field="coordinate",
            expected="columns for every coordinate the model's muscles span: "
            + ", ".join(required),
        )
    return motion.sel(coordinate=required)
