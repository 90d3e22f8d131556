"""Keyframe (parametric) drills: a periodic list of key postures, each joint moving between
consecutive postures along a raised cosine q(s) = q_a + (q_b − q_a)·(1 − cos πs)/2, s ∈ [0, 1],
so joint velocity is continuous and zero at each key posture. Unilateral drills are written for
the right leg working; ``side="l"`` mirrors them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...core.errors import InputError
from .layout import _knee_signs
from .library import Drill, _eval


def _keyframe_schedule(
    drill: Drill, intensity: float, settings: Mapping[str, float] | None = None
) -> tuple[np.ndarray, float]:
    """Arrival times (s) of each key posture within one cycle, and the cycle period (s)."""
    m = drill.motion
    durs = np.array([_eval(f["dur"], drill, intensity, settings) for f in m["keyframes"]])
    if m["time_unit"] == "cycle":
        if "period_s" in m:
            period = _eval(m["period_s"], drill, intensity, settings)
        else:
            period = 1.0 / _eval(m["frequency_hz"], drill, intensity, settings)
        durs = durs / durs.sum() * period
    period = float(durs.sum())
    if not period > 0:
        raise InputError(
            "key postures with zero total duration",
            path=drill.path,
            field="motion.keyframes",
            expected="a positive cycle duration",
        )
    # frame i is reached at the end of its move; the first frame's move closes the loop, so
    # frame 0 is reached at t = 0 (mod period).
    arrive = np.concatenate([[0.0], np.cumsum(durs[1:])])
    return arrive, period


def _raised_cosine_track(
    t: np.ndarray, arrive: np.ndarray, period: float, values: np.ndarray
) -> np.ndarray:
    """Periodic track through ``values`` at ``arrive`` (s), raised-cosine between them."""
    tau = np.mod(t, period)
    knots = np.concatenate([arrive, [period]])
    vals = np.concatenate([values, values[:1]])
    k = np.clip(np.searchsorted(knots, tau, side="right") - 1, 0, len(arrive) - 1)
    width = knots[k + 1] - knots[k]
    s = np.where(width > 0, (tau - knots[k]) / np.where(width > 0, width, 1.0), 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * np.clip(s, 0.0, 1.0))
    return vals[k] + w * (vals[k + 1] - vals[k])


def _segment_index(t: np.ndarray, arrive: np.ndarray, period: float) -> np.ndarray:
    """Index of the key posture each time is moving into (cyclic)."""
    tau = np.mod(t, period)
    knots = np.concatenate([arrive, [period]])
    k = np.clip(np.searchsorted(knots, tau, side="right") - 1, 0, len(arrive) - 1)
    return (k + 1) % len(arrive)


def _mirror(side: str | None, working: str) -> str | None:
    if side is None or working == "r" or side == "both":
        return side
    return "l" if side == "r" else "r"


def _joint_tracks(
    drill: Drill,
    intensity: float,
    t: np.ndarray,
    working: str,
    settings: Mapping[str, float] | None = None,
) -> dict:
    """{(joint, side): q(t) in rad} for every joint any key posture or the posture sets.

    With a ``range_fraction`` dimension, each key posture's value of every joint moves that
    fraction of its excursion from the reference key posture (``from_keyframe``)."""
    m = drill.motion
    arrive, period = _keyframe_schedule(drill, intensity, settings)
    shift = _eval(m["left_shift"], drill, intensity, settings) * period
    ranged = next((d for d in drill.extra_dimensions if d.name == "range_fraction"), None)
    fraction = None
    if ranged is not None:
        fraction = _eval("range_fraction", drill, intensity, settings)
    keys = set(m["posture"])
    for frame in m["keyframes"]:
        keys |= set(frame["pose"])
    tracks = {}
    for joint, side in sorted(keys, key=str):
        held = m["posture"].get((joint, side))
        held = 0.0 if held is None else _eval(held, drill, intensity, settings)
        values = np.array(
            [
                _eval(f["pose"][(joint, side)], drill, intensity, settings)
                if (joint, side) in f["pose"]
                else held
                for f in m["keyframes"]
            ]
        )
        if fraction is not None:
            ref = values[ranged.from_keyframe]
            values = ref + fraction * (values - ref)
        if side == "both":
            tracks[(joint, "r")] = _raised_cosine_track(t, arrive, period, values)
            tracks[(joint, "l")] = _raised_cosine_track(t - shift, arrive, period, values)
        else:
            tracks[(joint, _mirror(side, working))] = _raised_cosine_track(
                t, arrive, period, values
            )
    return tracks


def _coordinate_values(
    tracks: Mapping, coordinates: Sequence[str], knee_flexion_sign
) -> dict[str, np.ndarray]:
    """Map joint tracks onto the model's coordinate names (knee sign, coupled beta)."""
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = {}
    for (joint, side), q in tracks.items():
        if joint == "knee_flexion":
            name = f"knee_angle_{side}"
            if name in coordinates:
                values[name] = signs[name] * q
            if f"{name}_beta" in coordinates:
                values[f"{name}_beta"] = signs[name] * q
            continue
        name = joint if side is None else f"{joint}_{side}"
        if name in coordinates:
            values[name] = q
    return values
