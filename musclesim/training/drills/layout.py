"""What every motion generator of the package writes: ``read_motion``'s layout (time ×
coordinate, coordinates a drill does not move held at 0), the time grid, and the knee angle in
the target model's own sign convention (read from the model, never assumed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ...core.errors import InputError
from ...motion.storage import _classify_by_name
from ...motion.tables import _motion_dataset as layout


def _knee_signs(knee_flexion_sign, coordinates: Sequence[str]) -> dict[str, float]:
    """Sign (+1/−1: positive coordinate = flexion) of each knee coordinate in ``coordinates``."""
    knees = [c for c in coordinates if c in ("knee_angle_r", "knee_angle_l")]
    if isinstance(knee_flexion_sign, int | float) and not isinstance(knee_flexion_sign, bool):
        signs = dict.fromkeys(knees, float(knee_flexion_sign))
    else:
        try:
            signs = {str(k): float(v) for k, v in dict(knee_flexion_sign).items()}
        except (TypeError, ValueError):
            raise InputError(
                f"{knee_flexion_sign!r}",
                field="knee_flexion_sign",
                expected="+1/−1, or a mapping/pairs knee coordinate → ±1 "
                "(GeometryModel.knee_flexion_sign)",
            ) from None
    for knee in knees:
        if signs.get(knee) not in (1.0, -1.0):
            raise InputError(
                f"no ±1 sign for {knee}",
                field="knee_flexion_sign",
                expected="+1 (Rajagopal/Lai/Sprinter) or −1 (gait2392/Hamner), read from the model",
            )
    return signs


def _motion_dataset(
    time: np.ndarray, values: Mapping[str, np.ndarray], coordinates: Sequence[str], attrs: dict
) -> xr.Dataset:
    """``read_motion``'s layout; coordinates absent from ``values`` held at 0."""

    coordinates = list(coordinates)
    if not coordinates:
        raise InputError(
            "no coordinates", field="coordinates", expected="the model's coordinate names"
        )
    if len(set(coordinates)) != len(coordinates):
        raise InputError("repeated coordinate names", field="coordinates", expected="unique names")
    q = np.zeros((time.size, len(coordinates)))
    held = []
    for j, name in enumerate(coordinates):
        if name in values:
            q[:, j] = values[name]
        else:
            held.append(name)
    types = [_classify_by_name(c) for c in coordinates]
    attrs = dict(attrs)
    attrs["held_at_zero"] = ", ".join(held)
    return layout(time, q, coordinates, types, attrs)


def _time_grid(duration: float, sample_rate: float) -> np.ndarray:
    if not (sample_rate > 0) or not math.isfinite(sample_rate):
        raise InputError(f"{sample_rate!r}", field="sample_rate", expected="a rate > 0 Hz")
    if not (duration > 0) or not math.isfinite(duration):
        raise InputError(f"{duration!r}", field="duration", expected="a duration > 0 s")
    n = int(math.floor(duration * sample_rate + 1e-9)) + 1
    return np.arange(n) / sample_rate


def _template_tracks_to_values(tpl_tracks: Mapping[str, np.ndarray], coordinates, signs):
    """Template tracks {coordinate: q} (knee angles as flexion) onto the model's coordinates:
    each knee times its sign in ``signs``, copied to the coupled ``knee_angle_<s>_beta``."""
    values = {}
    for name, q in tpl_tracks.items():
        if name.startswith("knee_angle_"):
            side_name = name
            if side_name in coordinates:
                values[side_name] = signs[side_name] * q
            if f"{side_name}_beta" in coordinates:
                values[f"{side_name}_beta"] = signs[side_name] * q
        elif name in coordinates:
            values[name] = q
    return values
