"""The sampling box of a geometry fit (``fit-geometry --box``) and merging a refit over
another box (no OpenSim: the box is read from coordinate records, the merge from files)."""

import json
import math

import numpy as np
import pytest

from musclesim.core.errors import InputError
from musclesim.geometry.fitting.fit import SAMPLING_BOXES, merge_geometry, sampling_box
from musclesim.geometry.io import load_geometry_dataset
from musclesim.geometry.records import PHYSIOLOGICAL_CAP_DEG, CoordinateRecord


def _record(name, lower_deg, upper_deg):
    return CoordinateRecord(
        name=name,
        lower=math.radians(lower_deg),
        upper=math.radians(upper_deg),
        default=0.0,
        locked=False,
        rotational=True,
        dependent=False,
        on_ground_joint=False,
    )


#: Advisory ranges of Rajagopal2016.osim (knee flexion +) and gait2392 (knee flexion -), deg.
RAJAGOPAL = {
    "hip_flexion_r": _record("hip_flexion_r", -30, 120),
    "knee_angle_r": _record("knee_angle_r", 0, 120),
    "ankle_angle_r": _record("ankle_angle_r", -40, 30),
}
GAIT2392_KNEE = {"knee_angle_r": _record("knee_angle_r", -120, 10)}


def _deg(box):
    return {c: tuple(round(math.degrees(v), 9) for v in r) for c, r in box.items()}


def test_model_box_is_the_range_within_the_cap_and_physiological_the_cap():
    model = _deg(sampling_box(RAJAGOPAL, list(RAJAGOPAL)))
    phys = _deg(sampling_box(RAJAGOPAL, list(RAJAGOPAL), box="physiological"))
    assert model == {
        "hip_flexion_r": (-30.0, 120.0),
        "knee_angle_r": (0.0, 120.0),
        "ankle_angle_r": (-40.0, 30.0),
    }
    assert phys["hip_flexion_r"] == PHYSIOLOGICAL_CAP_DEG["hip_flexion"]
    assert phys["knee_angle_r"] == PHYSIOLOGICAL_CAP_DEG["knee_flexion"]
    assert phys["ankle_angle_r"] == PHYSIOLOGICAL_CAP_DEG["ankle_angle"]
    # the measured sprint (knee to 152 deg, hip flexion to -38 deg) lies inside the cap only
    assert phys["knee_angle_r"][1] >= 160 and phys["hip_flexion_r"][0] <= -38.3
    # a knee negative in flexion gets the cap mirrored
    lo, hi = PHYSIOLOGICAL_CAP_DEG["knee_flexion"]
    assert _deg(sampling_box(GAIT2392_KNEE, ["knee_angle_r"], box="physiological")) == {
        "knee_angle_r": (-hi, -lo)
    }
    assert set(SAMPLING_BOXES) == {"model", "physiological"}
    with pytest.raises(InputError, match="unknown sampling box"):
        sampling_box(RAJAGOPAL, ["knee_angle_r"], box="everything")


def _refit(base, muscles, settings, widen):
    """A stand-in refit of ``muscles`` of ``base``: the same fits, sampled over a box whose
    knee range ends ``widen`` rad further out."""
    update = base.isel(muscle=[base.indexes["muscle"].get_loc(m) for m in muscles])
    update["sampled_upper"] = update["sampled_upper"].copy()
    knee = list(update["coordinate"].values).index("knee_angle_r")
    update["sampled_upper"][knee] += widen
    update.attrs["fit_settings"] = json.dumps(settings)
    return update


def test_a_refit_over_another_box_widens_the_file_and_the_same_box_must_match():
    base = load_geometry_dataset("rajagopal2016")
    knee = list(base["coordinate"].values).index("knee_angle_r")
    before = float(base["sampled_upper"][knee])
    wider = _refit(base, ["bfsh_r"], {"box": "physiological", "seed": 0}, 0.5)
    merged = merge_geometry(base, wider, note="test")
    assert float(merged["sampled_upper"][knee]) == pytest.approx(before + 0.5, abs=1e-12)
    refits = json.loads(merged.attrs["fit_settings"])["refits"]
    assert refits[-1]["box"] == "physiological" and refits[-1]["muscles"] == ["bfsh_r"]
    same_kind = _refit(base, ["bfsh_r"], {"seed": 0}, 0.5)
    with pytest.raises(InputError, match="the same sampling box"):
        merge_geometry(base, same_kind)
    np.testing.assert_array_equal(
        np.delete(merged["sampled_upper"].values, knee),
        np.delete(base["sampled_upper"].values, knee),
    )
