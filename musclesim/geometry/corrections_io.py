"""The OpenSim moment-arm convention part of the fitted-geometry file: fitted
:class:`~.records.ArmCorrection` pieces to and from ``correction_*`` variables of the geometry
Dataset (layout in ``models/README-geometry.md``), attaching, stripping and carrying them over a
refit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..core.errors import InputError
from .records import (
    FD_STEP,
    KEEP_RMS,
    SCREEN_FRACTION,
    SCREEN_POSES,
    SCREEN_TOLERANCE,
    ArmCorrection,
)

#: Variables of the correction (dimension ``correction``); carried over unchanged when muscles
#: are refitted and merged (the correction depends on OpenSim's path only, not on the fit).
CORRECTION_DIMS = ("correction", "correction_piece", "correction_term")


def corrections_to_dataset(
    fits: Sequence[ArmCorrection],
    screen: dict,
    settings: dict,
    rejected: Sequence[ArmCorrection] = (),
):
    """The ``arm_correction_*`` variables as an ``xarray.Dataset`` (merged into a geometry
    file by :func:`attach_corrections`); ``rejected`` fits are listed in the settings."""
    n = len(fits)
    n_piece = 1 + max((len(f.thresholds) for f in fits), default=0)
    n_term = max((f.coefficients.shape[1] for f in fits), default=1)
    n_slot = max((len(f.inputs) for f in fits), default=1)
    coef = np.zeros((n, n_piece, n_term))
    tslot = np.full((n, n_piece), -1, dtype=np.int32)
    tval = np.full((n, n_piece), np.nan)
    inputs = np.full((n, n_slot), "", dtype=object)
    for j, f in enumerate(fits):
        coef[j, : f.coefficients.shape[0], : f.coefficients.shape[1]] = f.coefficients
        for p, t in enumerate(f.thresholds, start=1):
            tslot[j, p] = f.inputs.index(t.coordinate)
            tval[j, p] = t.value
        inputs[j, : len(f.inputs)] = f.inputs

    def per(attr, units, long_name):
        return (
            ("correction",),
            np.array([getattr(f, attr) for f in fits], dtype=float),
            {"units": units, "long_name": long_name},
        )

    flagged = {f"{m}/{c}": list(v) for (m, c), v in screen.items() if v[0] >= SCREEN_FRACTION}
    return xr.Dataset(
        {
            "arm_correction_muscle": (("correction",), np.array([f.muscle for f in fits], str)),
            "arm_correction_coordinate": (
                ("correction",),
                np.array([f.coordinate for f in fits], str),
            ),
            "arm_correction_degree": (
                ("correction",),
                np.array([f.degree for f in fits], np.int32),
            ),
            "arm_correction_coefficient": (
                ("correction", "correction_piece", "correction_term"),
                coef,
                {
                    "units": "m",
                    "long_name": "Chebyshev coefficients of Delta (term order of coefficient)",
                },
            ),
            "arm_correction_threshold_slot": (("correction", "correction_piece"), tslot),
            "arm_correction_threshold_value": (
                ("correction", "correction_piece"),
                tval,
                {"units": "rad"},
            ),
            "arm_correction_heldout_rms": per(
                "heldout_rms", "m", "fitted Delta minus OpenSim's Delta, held-out RMS"
            ),
            "arm_correction_heldout_p99": per("heldout_p99", "m", "... 99th percentile"),
            "arm_correction_heldout_max": per("heldout_max", "m", "... maximum"),
            "arm_correction_uncorrected_rms": per(
                "uncorrected_rms", "m", "Delta = computeMomentArm - (-dL/dq), held-out RMS"
            ),
            "arm_correction_uncorrected_max": per("uncorrected_max", "m", "... maximum"),
        },
        attrs={
            "arm_correction_settings": json.dumps(
                {
                    **settings,
                    "fd_step_rad": FD_STEP,
                    "screen_tolerance_m": SCREEN_TOLERANCE,
                    "screen_fraction": SCREEN_FRACTION,
                    "screen_poses": SCREEN_POSES,
                    "flagged": flagged,
                    "pairs_screened": len(screen),
                    "rejected": {
                        f"{f.muscle}/{f.coordinate}": {
                            "uncorrected_rms_m": f.uncorrected_rms,
                            "fit_error_rms_m": f.heldout_rms,
                        }
                        for f in rejected
                    },
                    "keep_rms_m": KEEP_RMS,
                }
            )
        },
    )


def attach_corrections(geometry_ds, corrections_ds):
    """``geometry_ds`` with its ``arm_correction_*`` variables replaced by ``corrections_ds``'s.
    Every corrected muscle must be in the geometry (same coordinates as its surrogate)."""
    muscles = [str(m) for m in geometry_ds["muscle"].values]
    for m in corrections_ds["arm_correction_muscle"].values:
        if str(m) not in muscles:
            raise InputError(
                f"corrected muscle {m!r} not in the fitted geometry",
                field="arm_correction_muscle",
                expected=f"one of {muscles}",
            )
    out = strip_corrections(geometry_ds)
    out = out.merge(corrections_ds, combine_attrs="override")
    out.attrs = dict(geometry_ds.attrs)
    out.attrs.pop("arm_correction_settings", None)
    out.attrs["arm_correction_settings"] = corrections_ds.attrs["arm_correction_settings"]
    return out


def strip_corrections(ds):
    """``ds`` without correction variables (dimension ``correction``)."""
    drop = [v for v in ds.data_vars if ds[v].dims and ds[v].dims[0] == "correction"]
    out = ds.drop_vars(drop)
    out.attrs = {k: v for k, v in ds.attrs.items() if k != "arm_correction_settings"}
    return out


def carry_corrections(base, merged):
    """After a refit is merged into ``base``: ``merged`` with ``base``'s corrections."""
    if "arm_correction_muscle" not in base:
        return merged
    keep = [v for v in base.data_vars if base[v].dims and base[v].dims[0] == "correction"]
    return attach_corrections(merged, base[keep].assign_attrs(base.attrs))
