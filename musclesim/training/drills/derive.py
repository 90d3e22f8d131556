"""Deriving the running and walking templates from measured kinematics.

These functions write the files that :mod:`.running` and :mod:`.walking` read
(``models/templates/*.nc``): cycle-averaged joint angles, cadence and event phases, with each
source file's name and sha256. They need the measured motions (``../shared/data``), so nothing
else in the library calls them: the shipped templates are derived by
``experiments/derive_running_template.py`` and ``experiments/derive_walking_template.py``. They
stay in the library, beside the readers of the same file format, so that a user can derive a
template from an athlete's own measured runs and pass it to :func:`.running.running_motion`
(``template=``) or :func:`.running.load_running_template`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ...core.errors import InputError
from ...core.io import sha256_file
from ...core.version import __version__
from ...motion.gait import (
    average_cycles,
    cut_cycles,
    detect_events,
    foot_trajectories,
    leg_geometry,
)
from ...motion.read import read_motion

#: Coordinates kept in the running template (the lower body, pelvis and trunk; arms dropped).
TEMPLATE_COORDINATES = (
    "pelvis_tilt",
    "pelvis_list",
    "pelvis_rotation",
    "pelvis_ty",
    "hip_flexion_r",
    "hip_adduction_r",
    "hip_rotation_r",
    "knee_angle_r",
    "ankle_angle_r",
    "subtalar_angle_r",
    "mtp_angle_r",
    "hip_flexion_l",
    "hip_adduction_l",
    "hip_rotation_l",
    "knee_angle_l",
    "ankle_angle_l",
    "subtalar_angle_l",
    "mtp_angle_l",
    "lumbar_extension",
    "lumbar_bending",
    "lumbar_rotation",
)


def derive_running_template(
    motion_paths: Sequence[str | Path],
    *,
    model: str | Path,
    n_points: int = 101,
    command: str = "",
) -> xr.Dataset:
    """Cycle-averaged joint angles and cadence at each measured speed (the running template).

    For each motion file: read it (:func:`musclesim.read_motion`); speed = least-squares slope
    of ``pelvis_tx`` over time; right and left foot strikes and toe-offs by
    :func:`musclesim.detect_events` with the model's leg geometry; complete right strides cut
    and time-normalised to ``n_points`` phases (:func:`musclesim.cut_cycles`, phase 0 = right
    foot strike, both legs on the right foot's cycle) and averaged
    (:func:`musclesim.average_cycles`); stride frequency = 1 / mean right stride duration.
    Knee angles are stored as flexion (positive = flexed), converted with the knee sign read
    from ``model`` (:func:`musclesim.motion.gait.leg_geometry`). SDs are NaN where one stride was
    found (SD undefined).
    """

    model = Path(model)
    flex = {s: -leg_geometry(model, s).knee_sign for s in ("r", "l")}
    rows = []
    for p in motion_paths:
        p = Path(p)
        motion = read_motion(p)
        t = motion["time"].values
        speed = float(np.polyfit(t, motion["q"].sel(coordinate="pelvis_tx").values, 1)[0])
        ev_r = detect_events(motion, side="r", model=model)
        ev_l = detect_events(motion, side="l", model=model)
        sub = motion.sel(coordinate=list(TEMPLATE_COORDINATES))
        cycles = cut_cycles(sub, ev_r, n_points=n_points, variables=["q"])
        mean = average_cycles(cycles)
        durations = (cycles["cycle_end"] - cycles["cycle_start"]).values
        starts, ends = cycles["cycle_start"].values, cycles["cycle_end"].values
        lfs, lto = [], []
        for s, e in zip(starts, ends, strict=True):
            inside = ev_l.foot_strike[(ev_l.foot_strike > s) & (ev_l.foot_strike < e)]
            lfs += list(100 * (inside - s) / (e - s))
            inside = ev_l.toe_off[(ev_l.toe_off > s) & (ev_l.toe_off < e)]
            lto += list(100 * (inside - s) / (e - s))
        rows.append(
            dict(
                path=p,
                speed=speed,
                mean=mean,
                n=int(cycles.sizes["cycle"]),
                f=1.0 / float(durations.mean()),
                f_sd=float(np.std(1.0 / durations, ddof=1)) if durations.size > 1 else math.nan,
                toe=float(cycles["toe_off_phase"].values.mean()),
                lfs=float(np.mean(lfs)) if lfs else math.nan,
                lto=float(np.mean(lto)) if lto else math.nan,
                starts=", ".join(f"{s:.3f}" for s in starts),
            )
        )
    rows.sort(key=lambda r: r["speed"])
    speeds = np.array([r["speed"] for r in rows])
    if np.any(np.diff(speeds) <= 0):
        raise InputError(
            "two motions have the same speed",
            field="motion_paths",
            expected="one file per distinct speed",
        )
    coords = list(TEMPLATE_COORDINATES)
    sign = np.array([flex[c[-1]] if c.startswith("knee_angle_") else 1.0 for c in coords])
    q = np.stack([r["mean"]["q"].transpose("phase", "coordinate").values * sign for r in rows])
    sd = np.stack([r["mean"]["q_std"].transpose("phase", "coordinate").values for r in rows])
    for i, r in enumerate(rows):
        if r["n"] < 2:
            sd[i] = np.nan
    phase = rows[0]["mean"]["phase"].values
    units = ["m" if c == "pelvis_ty" else "rad" for c in coords]
    ds = xr.Dataset(
        {
            "q_mean": (
                ("speed", "phase", "coordinate"),
                q,
                {
                    "units": "rad or m (per coordinate, see `unit`)",
                    "long_name": "cycle-averaged coordinate value (knee angles as flexion, "
                    "positive = flexed)",
                },
            ),
            "q_std": (
                ("speed", "phase", "coordinate"),
                sd,
                {"units": "rad or m", "long_name": "across-stride SD (NaN where 1 stride)"},
            ),
            "stride_frequency": (
                "speed",
                np.array([r["f"] for r in rows]),
                {"units": "Hz", "long_name": "stride frequency (right foot strike to the next)"},
            ),
            "stride_frequency_std": (
                "speed",
                np.array([r["f_sd"] for r in rows]),
                {"units": "Hz", "long_name": "across-stride SD of stride frequency"},
            ),
            "n_cycles": (
                "speed",
                np.array([r["n"] for r in rows]),
                {"long_name": "complete right strides averaged"},
            ),
            "toe_off_phase": (
                "speed",
                np.array([r["toe"] for r in rows]),
                {"units": "%", "long_name": "right toe-off phase"},
            ),
            "left_foot_strike_phase": (
                "speed",
                np.array([r["lfs"] for r in rows]),
                {"units": "%", "long_name": "left foot-strike phase in the right cycle"},
            ),
            "left_toe_off_phase": (
                "speed",
                np.array([r["lto"] for r in rows]),
                {"units": "%", "long_name": "left toe-off phase in the right cycle"},
            ),
            "cycle_starts": (
                "speed",
                np.array([r["starts"] for r in rows], dtype=object),
                {"units": "s", "long_name": "right foot strikes opening the averaged strides"},
            ),
            "source_file": ("speed", np.array([r["path"].name for r in rows], dtype=object)),
            "source_sha256": (
                "speed",
                np.array([sha256_file(r["path"]) for r in rows], dtype=object),
            ),
        },
        coords={
            "speed": (
                "speed",
                speeds,
                {"units": "m/s", "long_name": "measured speed (pelvis_tx slope)"},
            ),
            "phase": (
                "phase",
                phase,
                {"units": "%", "long_name": "gait-cycle phase (0 = right foot strike)"},
            ),
            "coordinate": ("coordinate", np.array(coords, dtype=object)),
            "unit": ("coordinate", np.array(units, dtype=object)),
        },
        attrs={
            "title": "musclesim running template (cycle-averaged sprint kinematics)",
            "source_model": model.name,
            "source_model_sha256": sha256_file(model),
            "source_knee_flexion_sign_r": int(flex["r"]),
            "source_knee_flexion_sign_l": int(flex["l"]),
            "source_data": "Dorn et al. 2012 subject JA1 (via nimblephysics, see "
            "shared/data/SOURCES.md)",
            "method": "read_motion; speed = polyfit slope of pelvis_tx; detect_events "
            "(kinematic, model leg geometry); cut_cycles on right foot strikes "
            f"({n_points} phases); average_cycles; knee as flexion",
            "events_source": rows[0]["mean"].attrs.get("events_source", ""),
            "derivation_command": command,
            "musclesim_version": __version__,
            "references": "dorn2012",
        },
    )
    return ds


def stance_foot_speed(motion: xr.Dataset, *, model: str | Path, trim: float = 0.2) -> float:
    """Walking speed (m/s) from the stance foot: the median backward speed, relative to the
    pelvis origin's forward position, of the heel, ankle and toe over the middle of every
    complete stance (foot strike to toe-off, ``trim`` of the stance cut at each end).

    On a treadmill (``pelvis_tx`` nearly constant, as in the gait2392 example walk) the
    planted foot moves backward with the belt, so this is the belt speed; overground it is the
    speed relative to the pelvis, i.e. the walking speed as well (the foot is still on the
    ground while the pelvis passes over it). Planar chain of :func:`musclesim.foot_trajectories`.
    """

    t = motion["time"].values
    pelvis_tx = motion["q"].sel(coordinate="pelvis_tx").values
    speeds = []
    for side in ("r", "l"):
        events = detect_events(motion, side=side, model=model)
        feet = foot_trajectories(motion, side=side, model=model)
        for strike in events.foot_strike:
            after = events.toe_off[events.toe_off > strike]
            if after.size == 0:
                continue
            off = float(after[0])
            span = off - strike
            inside = (t > strike + trim * span) & (t < off - trim * span)
            if inside.sum() < 3:
                continue
            for point in ("heel", "ankle", "toe"):
                x = feet["position"].sel(axis="x", point=point).values - pelvis_tx
                speeds.append(float(np.median(-np.gradient(x, t)[inside])))
    if not speeds:
        raise InputError(
            "no complete stance found",
            field="motion",
            expected="a walking record with a foot strike followed by a toe-off",
        )
    return float(np.median(speeds))


def derive_walking_template(
    motion_path: str | Path, *, model: str | Path, n_points: int = 101, command: str = ""
) -> xr.Dataset:
    """The walking template: the measured stride(s) cut at right foot strikes and averaged
    (the running template's method, :func:`derive_running_template`), with the speed from the
    stance foot (:func:`stance_foot_speed`) instead of the ``pelvis_tx`` slope, which is
    meaningless on a treadmill. One speed; the drill file states how it scales with speed."""

    motion_path = Path(motion_path)
    ds = derive_running_template([motion_path], model=model, n_points=n_points, command=command)
    speed = stance_foot_speed(read_motion(motion_path), model=model)
    ds = ds.assign_coords(
        speed=(
            "speed",
            [speed],
            {
                "units": "m/s",
                "long_name": "measured walking speed (median backward speed of the stance "
                "foot relative to the pelvis, middle 60 % of each stance)",
            },
        )
    )
    ds.attrs.update(
        title="musclesim walking template (cycle-averaged measured walking)",
        source_data="OpenSim example gait2392 subject01 walk1 (opensim-models, see "
        "shared/data/SOURCES.md)",
        method=ds.attrs["method"].replace(
            "speed = polyfit slope of pelvis_tx", "speed = stance_foot_speed"
        ),
        references="delp2007",
    )
    return ds
