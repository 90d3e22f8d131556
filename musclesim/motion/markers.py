"""Marker sets (``.trc``, ``.c3d``) in metres, and analog channels (``.c3d`` analog, storage
files of EMG or force-plate data), with the file, field and expected form named in every
error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..core.errors import InputError
from .storage import _check_finite, _check_times, _parse_float, _provenance, _read_lines

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
