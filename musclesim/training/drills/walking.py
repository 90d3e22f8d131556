"""Walking: one measured stride (OpenSim's gait2392 example walk, 1.01 m/s) and its speed
dependence.

The stride is shipped as ``models/templates/walking_gait2392_subject01.nc`` (derived by
:func:`.derive.derive_walking_template`). At another speed the stride frequency follows a power
of the speed ratio (:func:`walking_stride_frequency`) and the sagittal excursions scale with the
step length (:func:`walking_curves`); the exponents are stated, with their sources, in the drill
file (``models/drills/walking.toml``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .layout import _knee_signs, _motion_dataset, _template_tracks_to_values, _time_grid
from .template_file import TEMPLATES_DIR, _open_template

#: The shipped walking template (derived by :func:`.derive.derive_walking_template`).
WALKING_TEMPLATE = TEMPLATES_DIR / "walking_gait2392_subject01.nc"


@dataclasses.dataclass(frozen=True)
class WalkingTemplate:
    """One measured walking stride, cycle-averaged (``derive_walking_template``).

    Attributes:
        speed: the measured walking speed (m/s, from the stance foot's backward speed).
        stride_frequency: strides per second (Hz) at that speed.
        phase: cycle phase (%), 0 = right foot strike, shape (P,).
        coordinates: coordinate names (knee as flexion, positive = flexed).
        q: mean joint angles (rad or m), shape (P, C).
        left_strike_phase: left foot strike in the right cycle (%).
        dataset: the file's Dataset (provenance).
    """

    speed: float
    stride_frequency: float
    phase: np.ndarray
    coordinates: tuple[str, ...]
    q: np.ndarray
    left_strike_phase: float
    dataset: xr.Dataset

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> WalkingTemplate:
        one = ds.isel(speed=0)
        return cls(
            speed=float(one["speed"]),
            stride_frequency=float(one["stride_frequency"]),
            phase=np.asarray(ds["phase"].values, dtype=np.float64),
            coordinates=tuple(str(c) for c in ds["coordinate"].values),
            q=np.asarray(one["q_mean"].transpose("phase", "coordinate").values, np.float64),
            left_strike_phase=float(one["left_foot_strike_phase"]),
            dataset=ds,
        )


def load_walking_template(name_or_path: str | Path | None = None) -> WalkingTemplate:
    """The walking template: a name in ``models/templates/`` (without ``.nc``) or a path;
    ``models/templates/walking_gait2392_subject01.nc`` by default."""
    if name_or_path is None:
        path = WALKING_TEMPLATE
    else:
        path = Path(name_or_path)
        if path.suffix != ".nc":
            path = TEMPLATES_DIR / f"{name_or_path}.nc"
    return _open_template(path, "walking", WalkingTemplate)


def walking_stride_frequency(
    speed: float, tpl: WalkingTemplate, *, cadence_exponent: float
) -> float:
    """Stride frequency (Hz) at ``speed``: f = f₀ (v / v₀)^c, (v₀, f₀) the measured stride.

    With c = 1/2 this is a constant walk ratio (step length / cadence; Sekiya & Nagasaki
    1998): v = step length × cadence = W·cadence², so cadence ∝ √v.
    """
    return tpl.stride_frequency * (float(speed) / tpl.speed) ** cadence_exponent


def walking_curves(
    speed: float,
    tpl: WalkingTemplate,
    *,
    excursion_exponent: float,
    scaled_joints: Sequence[str] = ("hip_flexion",),
    knee_flexion_floor: float | None = None,
) -> np.ndarray:
    """Joint angles over the stride at ``speed`` (P, C), periodic (closed like the running
    template's cycle).

    Sagittal excursions scale with the step length: with a constant walk ratio the step
    length is v / (2 f) ∝ (v / v₀)^(1 − c), and at small angles the thigh's swing about its
    mean (the hip's sagittal excursion) is proportional to it. Scale s = (v / v₀)^e, e the
    drill's ``excursion_exponent``, applied to the ``scaled_joints`` (``hip_flexion``,
    ``ankle_angle`` about their cycle means; ``knee_flexion`` above its cycle minimum, so the
    most extended posture is kept). Other coordinates keep the measured curves. At v = v₀
    the template is returned unchanged (closed). ``knee_flexion_floor`` (rad), when given,
    clamps knee flexion from below: the measured walk hyperextends by 3.3 deg in terminal
    swing, which knees whose range starts at 0 (the Rajagopal family) cannot take.
    """
    q = tpl.q - (tpl.q[-1:, :] - tpl.q[:1, :]) * (tpl.phase / 100.0)[:, None]
    s = (float(speed) / tpl.speed) ** excursion_exponent
    out = q.copy()
    for j, name in enumerate(tpl.coordinates):
        joint = name[:-2] if name.endswith(("_r", "_l")) else name
        if joint == "knee_angle" and "knee_flexion" in scaled_joints:
            anchor = q[:, j].min()
        elif joint in ("hip_flexion", "ankle_angle") and joint in scaled_joints:
            anchor = q[:, j].mean()
        else:
            continue
        out[:, j] = anchor + s * (q[:, j] - anchor)
    if knee_flexion_floor is not None:
        for j, name in enumerate(tpl.coordinates):
            if name.startswith("knee_angle_"):
                out[:, j] = np.maximum(out[:, j], knee_flexion_floor)
    return out


def walking_motion(
    speed: float,
    *,
    coordinates: Sequence[str],
    knee_flexion_sign,
    cadence_exponent: float,
    excursion_exponent: float,
    scaled_joints: Sequence[str] = ("hip_flexion",),
    knee_flexion_floor: float | None = None,
    duration: float | None = None,
    sample_rate: float = 100.0,
    cycles: int = 3,
    template: WalkingTemplate | None = None,
) -> xr.Dataset:
    """Level walking at ``speed`` (m/s) from the measured stride (``read_motion``'s layout).

    Stride frequency by :func:`walking_stride_frequency`, joint angles by
    :func:`walking_curves`, repeated; phase 0 (right foot strike) at t = 0; ``pelvis_tx``
    advances at ``speed``; coordinates absent from the template held at 0.
    """
    tpl = load_walking_template() if template is None else template
    v = float(speed)
    f = walking_stride_frequency(v, tpl, cadence_exponent=cadence_exponent)
    t = _time_grid(cycles / f if duration is None else duration, sample_rate)
    curves = walking_curves(
        v,
        tpl,
        excursion_exponent=excursion_exponent,
        scaled_joints=scaled_joints,
        knee_flexion_floor=knee_flexion_floor,
    )
    p = np.mod(100.0 * f * t, 100.0)
    tracks = {name: np.interp(p, tpl.phase, curves[:, j]) for j, name in enumerate(tpl.coordinates)}
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = _template_tracks_to_values(tracks, coordinates, signs)
    if "pelvis_tx" in coordinates:
        values["pelvis_tx"] = v * t
    attrs = {
        "source_path": str(tpl.dataset.attrs.get("template_path", WALKING_TEMPLATE)),
        "source_format": "musclesim walking template",
        "speed": v,
        "stride_frequency_hz": f,
        "measured_speed": tpl.speed,
        "speed_scaling": f"f = f0 (v/v0)^{cadence_exponent:g}; excursions of "
        f"{', '.join(scaled_joints)} x (v/v0)^{excursion_exponent:g}",
    }
    return _motion_dataset(t, values, coordinates, attrs)
