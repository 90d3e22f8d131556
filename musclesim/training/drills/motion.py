"""A drill's joint motion at an intensity (:func:`drill_motion`): the drill file's motion type
picks the generator (:mod:`.keyframes`, :mod:`.running`, :mod:`.walking`, or the user's own
motion file read by :func:`musclesim.read_motion`), and the result is in ``read_motion``'s
layout with the model's knee sign."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ...core.errors import InputError
from ...core.version import __version__
from ...motion.gait import knee_sign_from_data, leg_geometry
from ...motion.processing import resample_motion
from ...motion.read import read_motion
from .keyframes import _coordinate_values, _joint_tracks, _keyframe_schedule
from .layout import _knee_signs, _motion_dataset, _time_grid
from .library import Drill, _eval, get_drill
from .running import _acceleration_motion, _check_speed, load_running_template, running_motion
from .walking import load_walking_template, walking_motion


def _base_attrs(drill: Drill, intensity: float, settings: Mapping[str, float]) -> dict:

    attrs = {
        "source_path": drill.path,
        "source_format": f"musclesim drill ({drill.kind})",
        "drill": drill.name,
        "intensity": float(intensity),
        "intensity_name": drill.intensity.name,
        "intensity_unit": drill.intensity.unit,
        "references": ", ".join(drill.references),
        "musclesim_version": __version__,
        "category": drill.category,
    }
    for name, value in settings.items():
        attrs[f"setting_{name}"] = float(value)
    return attrs


def drill_motion(
    drill: str | Drill,
    intensity: float,
    *,
    coordinates: Sequence[str],
    knee_flexion_sign,
    duration: float | None = None,
    sample_rate: float = 100.0,
    side: str = "r",
    drills: Mapping[str, Drill] | None = None,
    settings: Mapping[str, float] | None = None,
) -> xr.Dataset:
    """The drill's joint motion at ``intensity`` as a motion Dataset (``read_motion``'s layout).

    Args:
        drill: a :class:`Drill` or the name of a drill in ``drills`` (the shipped library).
        intensity: in the drill's unit, inside its range.
        coordinates: the model's coordinate names; every one is in the output, those the
            drill does not move held at 0 (rad or m), listed in the ``held_at_zero`` attribute.
        knee_flexion_sign: +1 when the model's positive knee angle is flexion (Rajagopal, Lai,
            Sprinter), −1 when negative (gait2392, Hamner); a number, or a mapping / pairs
            ``knee coordinate → ±1`` as ``GeometryModel.knee_flexion_sign`` gives. Read it from
            the model; never assume it.
        duration: s; by default ``default_cycles`` cycles (keyframe drills), three strides
            (running), the distance of the default dose (accelerations) or the whole file.
        sample_rate: Hz.
        side: the working leg of unilateral drills (written for ``"r"``; ``"l"`` mirrors).
        settings: ``{dimension name: value}`` for the drill's further intensity dimensions
            (``range_fraction``, ``tempo_s``, ``load_bm``; :attr:`Drill.dimensions`); an
            absent one takes the file's default.

    Returns:
        ``q`` (time, coordinate) in rad/m with ``unit`` and ``motion_type`` per coordinate;
        attributes name the drill, intensity, unit, category, references and each setting
        (``setting_<name>``).
    """
    d = get_drill(drill, drills)
    value = d.check_intensity(intensity)
    chosen = d.check_settings(settings)
    if side not in ("r", "l"):
        raise InputError(f"side {side!r}", field="side", expected="'r' or 'l'")
    coordinates = [str(c) for c in coordinates]
    attrs = _base_attrs(d, value, chosen)
    kind = d.kind
    if kind == "running_template":
        tpl = load_running_template()
        if d.motion["speed_profile"] == "acceleration":
            t, values, extra = _acceleration_motion(
                _check_speed(value),
                float(d.motion["tau_s"]),
                d.dose.distance_m or 30.0,
                coordinates,
                knee_flexion_sign,
                duration,
                sample_rate,
                tpl,
            )
            attrs.update(extra)
            return _motion_dataset(t, values, coordinates, attrs)
        ds = running_motion(
            value,
            coordinates=coordinates,
            knee_flexion_sign=knee_flexion_sign,
            duration=duration,
            sample_rate=sample_rate,
            template=tpl,
        )
        ds.attrs.update(attrs)
        ds.attrs["source_path"] = d.path
        return ds
    if kind == "walking_template":
        ds = walking_motion(
            value,
            coordinates=coordinates,
            knee_flexion_sign=knee_flexion_sign,
            cadence_exponent=d.motion["cadence_exponent"],
            excursion_exponent=d.motion["excursion_exponent"],
            scaled_joints=d.motion["scaled_joints"],
            knee_flexion_floor=d.motion["knee_flexion_floor"],
            duration=duration,
            sample_rate=sample_rate,
            cycles=d.motion["default_cycles"],
            template=load_walking_template(d.motion["template"]),
        )
        ds.attrs.update(attrs)
        ds.attrs["source_path"] = d.path
        return ds
    if kind == "motion_file":
        return _file_motion(
            d, value, chosen, coordinates, knee_flexion_sign, duration, sample_rate, attrs
        )
    arrive, period = _keyframe_schedule(d, value, chosen)
    total = d.motion["default_cycles"] * period if duration is None else duration
    t = _time_grid(total, sample_rate)
    tracks = _joint_tracks(d, value, t, side, chosen)
    values = _coordinate_values(tracks, coordinates, knee_flexion_sign)
    attrs.update(cycle_period_s=period, working_side=side)
    return _motion_dataset(t, values, coordinates, attrs)


def _file_motion(
    d: Drill, value, settings, coordinates, knee_flexion_sign, duration, sample_rate, attrs
):

    m = d.motion
    src = read_motion(m["path"], model=m.get("model"))
    scale = _eval(m["time_scale"], d, value, settings)
    if not scale > 0:
        raise InputError(
            f"time scale {scale}", path=d.path, field="motion.time_scale", expected="> 0"
        )
    t0 = src["time"].values
    src = src.assign_coords(time=(t0 - t0[0]) / scale)
    src = resample_motion(src, sample_rate)
    if duration is not None:
        if duration > float(src["time"].values[-1]) + 1e-9:
            raise InputError(
                f"duration {duration:g} s is longer than the file "
                f"({float(src['time'].values[-1]):g} s)",
                path=m["path"],
                field="duration",
                expected="a duration within the record",
            )
        src = src.sel(time=src["time"].values[src["time"].values <= duration + 1e-9])
    names = [str(c) for c in src["coordinate"].values]
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = {}
    file_signs = {}
    for side in ("r", "l"):
        knee = f"knee_angle_{side}"
        if knee not in names:
            continue
        if "knee_flexion_sign" in m:
            file_signs[knee] = float(m["knee_flexion_sign"])
            how = "stated in the drill file"
        elif "model" in m:
            file_signs[knee] = -leg_geometry(m["model"], side).knee_sign
            how = "read from the drill file's model"
        else:
            file_signs[knee] = -knee_sign_from_data(src["q"].sel(coordinate=knee).values)
            how = "inferred from the data (largest |angle| is flexion)"
        attrs[f"file_knee_flexion_sign_{side}"] = f"{file_signs[knee]:+g} ({how})"
    for name in names:
        q = np.asarray(src["q"].sel(coordinate=name).values, dtype=np.float64)
        base = name[: -len("_beta")] if name.endswith("_beta") else name
        if base in file_signs and base in signs:
            q = q * file_signs[base] * signs[base]
        values[name] = q
    for knee in file_signs:
        if f"{knee}_beta" in coordinates and f"{knee}_beta" not in values and knee in values:
            values[f"{knee}_beta"] = values[knee]
    attrs.update(
        source_path=str(m["path"]),
        source_sha256=src.attrs.get("source_sha256", ""),
        drill_file=d.path,
        time_scale=scale,
    )
    return _motion_dataset(src["time"].values, values, coordinates, attrs)
