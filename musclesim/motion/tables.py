"""Coordinate tables to a Motion Dataset: OpenSim ``.mot``/``.sto`` (including OpenSim 4 states
tables) and ``.csv`` with unit suffixes, rotational columns told apart from translations by the
model's joints or by name, degrees converted to radians, and degrees where radians were meant
refused. The layout is in :mod:`musclesim.motion.storage`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.errors import InputError
from .storage import (
    _check_finite,
    _check_last_row,
    _check_times,
    _classify,
    _parse_float,
    _parse_storage,
    _provenance,
    _read_lines,
)


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
    header, labels, data = _parse_storage(path, check_last_row=True)
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
    raw = _read_lines(path, expected)
    last_line = 1 + next(
        (i for i in range(len(raw) - 1, -1, -1) if raw[i].strip() and raw[i].lstrip()[0] != "#"),
        0,
    )
    lines = [ln for ln in raw if not ln.lstrip().startswith("#")]
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
    _check_last_row(data[:, 1:], times, labels[1:], path=path, line_no=last_line)
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
