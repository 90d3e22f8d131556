"""Motion readers, processing and coordinate matching: real files from the shared data folder,
and every kind of broken input written to tmp_path."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from musclesim.core.errors import InputError
from musclesim.core.io import sha256_file
from musclesim.motion.markers import read_analog, read_markers
from musclesim.motion.processing import (
    filter_motion,
    match_coordinates,
    motion_derivatives,
    resample_motion,
)
from musclesim.motion.read import read_motion
from musclesim.motion.storage import coordinate_motion_types, read_storage

SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"
HAMNER_RAD = "kinematics/nimblephysics_hamner2013_running/run200_ik.mot"
WALK = "kinematics/opensim-models_gait2392_walking/subject01_walk1_ik.mot"
GRF = "kinematics/opensim-models_rajagopal_running/grf_run.mot"
TRC = "kinematics/opensim-models_rajagopal_running/motion_capture_run.trc"
SPRINT_TRC = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.trc"


def _first_row(path):
    lines = path.read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip() == "endheader")
    labels = lines[end + 1].split()
    values = [float(v) for v in lines[end + 2].split()]
    return dict(zip(labels, values, strict=True))


# ---------------------------------------------------------------- real files


def test_degrees_file_converts_rotations_only(data_dir):
    path = data_dir / SPRINT
    motion = read_motion(path)
    row = _first_row(path)
    q = motion["q"].isel(time=0)
    assert motion.sizes == {"time": 323, "coordinate": 35}
    assert float(q.sel(coordinate="hip_flexion_r")) == pytest.approx(
        math.radians(row["hip_flexion_r"])
    )
    # translations stay metres, the coupled patellar coordinate is already radians
    assert float(q.sel(coordinate="pelvis_tx")) == pytest.approx(row["pelvis_tx"])
    assert float(q.sel(coordinate="knee_angle_r_beta")) == pytest.approx(row["knee_angle_r_beta"])
    units = dict(zip(motion["coordinate"].values, motion["unit"].values, strict=True))
    assert units["pelvis_ty"] == "m" and units["knee_angle_r"] == "rad"
    assert motion.attrs["source_in_degrees"] == "yes"
    assert motion.attrs["source_sha256"] == sha256_file(path)
    assert motion["q"].attrs["units"].startswith("rad or m")
    assert motion["q"].attrs["long_name"]


def test_radians_file_unchanged(data_dir):
    path = data_dir / HAMNER_RAD
    motion = read_motion(path)
    row = _first_row(path)
    assert motion.attrs["source_in_degrees"] == "no"
    assert float(motion["q"].isel(time=0).sel(coordinate="knee_angle_r")) == row["knee_angle_r"]


def test_model_classification_matches_names(data_dir):
    by_name = read_motion(data_dir / SPRINT)
    by_model = read_motion(data_dir / SPRINT, model=data_dir / "models/Sprinter_JA1_scaled.osim")
    np.testing.assert_array_equal(by_name["motion_type"].values, by_model["motion_type"].values)
    np.testing.assert_array_equal(by_name["q"].values, by_model["q"].values)
    assert "Sprinter_JA1_scaled" in by_model.attrs["coordinate_classification"]


def test_coordinate_motion_types_from_osim(data_dir):
    types = coordinate_motion_types(data_dir / "models/Rajagopal2016.osim")
    assert types["knee_angle_r_beta"] == "coupled"
    assert types["pelvis_ty"] == "translational"
    assert types["knee_angle_l"] == "rotational"
    assert types["ankle_angle_r"] == "rotational"  # a PinJoint
    g2392 = coordinate_motion_types(data_dir / "models/gait2392_subject01_scaled.osim")
    assert g2392["knee_angle_r"] == "rotational" and g2392["pelvis_tz"] == "translational"


def test_walking_file_and_storage(data_dir):
    walk = read_motion(data_dir / WALK)
    assert walk.sizes["coordinate"] == 23
    grf = read_storage(data_dir / GRF)
    assert grf.sizes == {"time": 5091, "channel": 18}
    assert grf.attrs["header_datarows"] == "5091"


def test_inputs_never_modified(data_dir):
    path = data_dir / SPRINT
    before = sha256_file(path)
    motion = read_motion(path)
    filter_motion(motion, 12.0)
    assert sha256_file(path) == before


# ---------------------------------------------------------------- broken storage files

GOOD_MOT = """Coordinates
version=1
nRows=4
nColumns=4
inDegrees=yes
endheader
time\tpelvis_tx\thip_flexion_r\tknee_angle_r
0.00\t0.1\t10.0\t20.0
0.01\t0.2\t11.0\t21.0
0.02\t0.3\t12.0\t22.0
0.03\t0.4\t13.0\t23.0
"""


def _write(tmp_path, text, name="m.mot"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("suffix", [".mot", ".sto"])
def test_good_small_file(tmp_path, suffix):
    motion = read_motion(_write(tmp_path, GOOD_MOT, "m" + suffix))
    assert float(motion["q"].sel(coordinate="hip_flexion_r")[0]) == pytest.approx(math.radians(10))
    assert float(motion["q"].sel(coordinate="pelvis_tx")[0]) == 0.1


BROKEN = {
    "no endheader": (GOOD_MOT.replace("endheader\n", ""), "endheader"),
    "nRows mismatch": (GOOD_MOT.replace("nRows=4", "nRows=5"), "declares 5 rows"),
    "nColumns mismatch": (GOOD_MOT.replace("nColumns=4", "nColumns=3"), "declares 3 columns"),
    "ragged row": (
        GOOD_MOT.replace("0.02\t0.3\t12.0\t22.0", "0.02\t0.3\t12.0"),
        "line 10 has 3 values",
    ),
    "truncated": (GOOD_MOT.rsplit("\n", 3)[0] + "\n0.03\t0.4", "no line ending"),
    "ragged": (GOOD_MOT.rsplit("\n", 3)[0] + "\n0.03\t0.4\n", "has 2 values"),
    "NaN": (GOOD_MOT.replace("0.01\t0.2\t11.0", "0.01\t0.2\tnan"), "hip_flexion_r"),
    "decreasing time": (GOOD_MOT.replace("0.02\t0.3", "0.005\t0.3"), "decreasing time"),
    "duplicate time": (GOOD_MOT.replace("0.02\t0.3", "0.01\t0.3"), "duplicate time"),
    "not a number": (GOOD_MOT.replace("12.0", "12,0"), "not a number"),
    "first column not time": (GOOD_MOT.replace("time\t", "t\t"), "'time' as the first column"),
    "bad inDegrees": (GOOD_MOT.replace("inDegrees=yes", "inDegrees=maybe"), "inDegrees"),
    "no rows": (GOOD_MOT.split("0.00")[0].replace("nRows=4\n", ""), "no data rows"),
    "degrees declared radians": (
        GOOD_MOT.replace("inDegrees=yes", "inDegrees=no"),
        "looks like degrees",
    ),
    "empty": ("", "empty"),
    "whitespace only": ("\n  \n", "empty"),
}


@pytest.mark.parametrize("suffix", [".mot", ".sto"])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_storage_files(tmp_path, case, suffix):
    text, needle = BROKEN[case]
    path = _write(tmp_path, text, "bad" + suffix)
    with pytest.raises(InputError) as info:
        read_motion(path)
    message = str(info.value)
    assert needle in message
    assert str(path) in message


def test_nan_message_names_column_and_time(tmp_path):
    path = _write(tmp_path, GOOD_MOT.replace("0.01\t0.2\t11.0", "0.01\t0.2\tnan"))
    with pytest.raises(InputError, match=r"hip_flexion_r.*time 0\.01 s"):
        read_motion(path)


def test_radians_message_names_column(tmp_path):
    path = _write(tmp_path, GOOD_MOT.replace("inDegrees=yes", "inDegrees=no"))
    with pytest.raises(InputError) as info:
        read_motion(path)
    assert info.value.field == "knee_angle_r" or info.value.field == "hip_flexion_r"


def test_missing_indegrees_needs_caller(tmp_path):
    path = _write(tmp_path, GOOD_MOT.replace("inDegrees=yes\n", ""))
    with pytest.raises(InputError, match="inDegrees"):
        read_motion(path)
    motion = read_motion(path, in_degrees=True)
    assert float(motion["q"].sel(coordinate="knee_angle_r")[0]) == pytest.approx(math.radians(20))
    with pytest.raises(InputError, match="agree"):
        read_motion(_write(tmp_path, GOOD_MOT, "agree.mot"), in_degrees=False)


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unknown motion file extension"):
        read_motion(_write(tmp_path, GOOD_MOT, "m.txt"))
    with pytest.raises(InputError, match="file not found"):
        read_motion(tmp_path / "absent.mot")
    binary = tmp_path / "b.mot"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not a text file"):
        read_motion(binary)


# ---------------------------------------------------------------- CSV

GOOD_CSV = """# hip and knee in degrees, ankle in radians
time,pelvis_ty_m,hip_flexion_r_deg,knee_angle_r_deg,ankle_angle_r_rad
0.0,0.95,10,20,0.1
0.1,0.96,11,21,0.2
0.2,0.97,12,22,0.3
"""


def test_csv_convention(tmp_path):
    motion = read_motion(_write(tmp_path, GOOD_CSV, "m.csv"))
    assert list(motion["coordinate"].values) == [
        "pelvis_ty",
        "hip_flexion_r",
        "knee_angle_r",
        "ankle_angle_r",
    ]
    q = motion["q"].isel(time=0)
    assert float(q.sel(coordinate="hip_flexion_r")) == pytest.approx(math.radians(10))
    assert float(q.sel(coordinate="ankle_angle_r")) == 0.1
    assert float(q.sel(coordinate="pelvis_ty")) == 0.95
    assert list(motion["unit"].values) == ["m", "rad", "rad", "rad"]


CSV_BROKEN = {
    "no suffix": (GOOD_CSV.replace("knee_angle_r_deg", "knee_angle_r"), "no unit suffix"),
    "degrees in a _rad column": (
        GOOD_CSV.replace("0.1,0.96,11,21,0.2", "0.1,0.96,11,21,90"),
        "ankle_angle_r_rad",
    ),
    "ragged": (GOOD_CSV.replace("0.1,0.96,11,21,0.2", "0.1,0.96,11,21"), "ragged"),
    "NaN": (GOOD_CSV.replace("0.96,11", "0.96,nan"), "hip_flexion_r_deg"),
    "decreasing time": (GOOD_CSV.replace("0.2,0.97", "0.05,0.97"), "decreasing time"),
    "duplicate time": (GOOD_CSV.replace("0.2,0.97", "0.1,0.97"), "duplicate time"),
    "no time": (GOOD_CSV.replace("time,", "t,"), "'time'"),
    "header only": (GOOD_CSV.split("0.0,")[0], "no data rows"),
    "empty": ("", "empty"),
    "duplicate coordinate": (
        GOOD_CSV.replace("knee_angle_r_deg", "hip_flexion_r_rad"),
        "more than once",
    ),
}


@pytest.mark.parametrize("case", sorted(CSV_BROKEN))
def test_broken_csv(tmp_path, case):
    text, needle = CSV_BROKEN[case]
    path = _write(tmp_path, text, "bad.csv")
    with pytest.raises(InputError) as info:
        read_motion(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- TRC


def test_trc_real_files(data_dir):
    markers = read_markers(data_dir / TRC)
    assert markers["markers"].shape == (510, 42, 3)
    assert markers.attrs["source_units"] == "mm"
    first = (data_dir / TRC).read_text().splitlines()[6].split("\t")
    assert float(markers["markers"][0, 0, 0]) == pytest.approx(float(first[2]) / 1000.0)
    sprint = read_markers(data_dir / SPRINT_TRC)
    assert sprint["markers"].shape == (323, 53, 3)


def test_trc_without_model_is_refused(data_dir):
    with pytest.raises(InputError, match="inverse kinematics"):
        read_motion(data_dir / TRC)


GOOD_TRC = (
    "PathFileType\t4\t(X/Y/Z)\tx.trc\n"
    "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames\n"
    "100\t100\t3\t2\tmm\t100\t1\t3\n"
    "Frame#\tTime\tA\t\t\tB\t\t\n"
    "\t\tX1\tY1\tZ1\tX2\tY2\tZ2\n"
    "\n"
    "1\t0.00\t1\t2\t3\t4\t5\t6\n"
    "2\t0.01\t1\t2\t3\t4\t5\t6\n"
    "3\t0.02\t1\t2\t3\t\t\t\n"
)

TRC_BROKEN = {
    "frames mismatch": (GOOD_TRC.replace("100\t100\t3\t2", "100\t100\t4\t2"), "declares 4 frames"),
    "marker count": (GOOD_TRC.replace("100\t100\t3\t2", "100\t100\t3\t3"), "declares 3 markers"),
    "ragged": (GOOD_TRC.replace("2\t0.01\t1\t2\t3\t4\t5\t6", "2\t0.01\t1\t2\t3\t4"), "ragged"),
    "not a number": (GOOD_TRC.replace("2\t0.01\t1\t2", "2\t0.01\tx\t2"), "not a number"),
    "unknown unit": (GOOD_TRC.replace("\tmm\t", "\tinch\t"), "unknown length unit"),
    "decreasing time": (GOOD_TRC.replace("3\t0.02", "3\t0.005"), "decreasing time"),
    "not a trc": ("hello\n", "PathFileType"),
    "empty": ("", "empty"),
}


def test_trc_gaps_are_nan(tmp_path):
    markers = read_markers(_write(tmp_path, GOOD_TRC, "ok.trc"))
    assert markers.attrs["n_missing_values"] == 3
    assert np.isnan(markers["markers"].values[2, 1]).all()
    assert float(markers["markers"][0, 1, 2]) == pytest.approx(0.006)


@pytest.mark.parametrize("case", sorted(TRC_BROKEN))
def test_broken_trc(tmp_path, case):
    text, needle = TRC_BROKEN[case]
    path = _write(tmp_path, text, "bad.trc")
    with pytest.raises(InputError) as info:
        read_markers(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- C3D


def _write_c3d(path, n_frames=20, rate=100.0):
    import ezc3d

    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = ("HEEL", "TOE")
    c3d["parameters"]["ANALOG"]["RATE"]["value"] = [rate * 10]
    c3d["parameters"]["ANALOG"]["LABELS"]["value"] = ("EMG_BF", "EMG_SOL")
    c3d["parameters"]["ANALOG"]["UNITS"]["value"] = ("V", "V")
    points = np.ones((4, 2, n_frames))
    points[0, 0, :] = np.arange(n_frames) * 10.0  # mm
    c3d["data"]["points"] = points
    analogs = np.zeros((1, 2, n_frames * 10))
    analogs[0, 0, :] = np.sin(np.arange(n_frames * 10))
    c3d["data"]["analogs"] = analogs
    c3d.write(str(path))
    return path


def test_c3d_markers_and_analog(tmp_path):
    path = _write_c3d(tmp_path / "trial.c3d")
    markers = read_markers(path)
    assert list(markers["marker"].values) == ["HEEL", "TOE"]
    assert markers["markers"].shape == (20, 2, 3)
    assert float(markers["markers"][3, 0, 0]) == pytest.approx(0.03)
    analog = read_analog(path)
    assert analog["analog"].shape == (200, 2)
    assert analog.attrs["analog_rate_hz"] == 1000.0
    assert list(analog["channel"].values) == ["EMG_BF", "EMG_SOL"]
    np.testing.assert_allclose(analog["analog"].values[:, 0], np.sin(np.arange(200)), atol=1e-6)


def test_broken_c3d(tmp_path):
    empty = tmp_path / "empty.c3d"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_markers(empty)
    garbage = tmp_path / "garbage.c3d"
    garbage.write_bytes(b"\x02P" + b"\x00" * 30)
    with pytest.raises(InputError, match="C3D"):
        read_markers(garbage)
    truncated = tmp_path / "truncated.c3d"
    good = _write_c3d(tmp_path / "good.c3d")
    truncated.write_bytes(good.read_bytes()[:600])
    with pytest.raises(InputError):
        read_analog(truncated)
    with pytest.raises(InputError, match="unknown marker file extension"):
        read_markers(_write(tmp_path, "x", "m.xyz"))


# ---------------------------------------------------------------- processing


def _synthetic(t, columns):
    import xarray as xr

    names = list(columns)
    return xr.Dataset(
        {"q": (("time", "coordinate"), np.stack([columns[n] for n in names], axis=1))},
        coords={"time": t, "coordinate": np.asarray(names, dtype=object)},
        attrs={"source_path": "synthetic"},
    )


def test_filter_zero_lag_and_attenuation():
    fs = 250.0
    t = np.arange(0, 4, 1 / fs)
    slow = np.sin(2 * np.pi * 2 * t)
    motion = _synthetic(t, {"a": slow + 0.2 * np.sin(2 * np.pi * 50 * t)})
    out = filter_motion(motion, 10.0, order=4)
    inner = slice(250, 750)  # away from the ends
    np.testing.assert_allclose(out["q"].values[inner, 0], slow[inner], atol=0.01)
    assert out.attrs["filter_cutoff_hz"] == 10.0 and out.attrs["filter_order"] == 4
    assert np.array_equal(motion["q"].values[:, 0], slow + 0.2 * np.sin(2 * np.pi * 50 * t))


def test_filter_errors():
    t = np.arange(0, 1, 0.01)
    motion = _synthetic(t, {"a": np.sin(t)})
    with pytest.raises(InputError, match="Nyquist"):
        filter_motion(motion, 60.0)
    uneven = _synthetic(np.cumsum(np.linspace(0.01, 0.02, 100)), {"a": np.sin(t)})
    with pytest.raises(InputError, match="uniform"):
        filter_motion(uneven, 5.0)
    short = _synthetic(t[:10], {"a": np.sin(t[:10])})
    with pytest.raises(InputError, match="too few"):
        filter_motion(short, 5.0)


def test_resample_reproduces_cubic_and_refuses_extrapolation():
    t = np.linspace(0, 1, 11)
    motion = _synthetic(t, {"a": t**3 - t})
    out = resample_motion(motion, 100.0)
    assert out.sizes["time"] == 101
    np.testing.assert_allclose(
        out["q"].values[:, 0], out["time"].values ** 3 - out["time"].values, atol=1e-12
    )
    with pytest.raises(InputError, match="outside the record"):
        resample_motion(motion, times=[0.5, 1.5])


@pytest.mark.parametrize(("method", "tol"), [("spline", 1e-4), ("gradient", 2e-2)])
def test_derivatives(method, tol):
    t = np.arange(0, 2, 0.004)
    w = 2 * np.pi * 1.5
    motion = motion_derivatives(_synthetic(t, {"a": np.sin(w * t)}), method=method)
    inner = slice(10, -10)
    np.testing.assert_allclose(motion["qdot"].values[inner, 0] / w, np.cos(w * t)[inner], atol=tol)
    np.testing.assert_allclose(
        motion["qddot"].values[inner, 0] / w**2, -np.sin(w * t)[inner], atol=10 * tol
    )
    assert motion.attrs["derivative_method"] == method


def test_match_coordinates(data_dir):
    motion = read_motion(data_dir / SPRINT)
    subset = match_coordinates(motion, ["knee_angle_r", "hip_flexion_r"])
    assert list(subset["coordinate"].values) == ["knee_angle_r", "hip_flexion_r"]
    with pytest.raises(InputError) as info:
        match_coordinates(motion, ["hip_flexion_r", "knee_r", "ankle_angle_x"])
    message = str(info.value)
    assert "run0900cms.mot" in message
    assert "knee_r" in message and "ankle_angle_x" in message
    assert "closest in file: ankle_angle_r" in message
    assert "hip_flexion_r" in message  # the expected list


def test_storage_copy_reads_same(tmp_path, data_dir):
    copy = tmp_path / "copy.sto"
    shutil.copyfile(data_dir / WALK, copy)
    a = read_motion(copy)
    b = read_motion(data_dir / WALK)
    np.testing.assert_array_equal(a["q"].values, b["q"].values)


def test_opensim4_states_table(tmp_path):
    text = (
        "states\nversion=1\nnRows=2\nnColumns=4\ninDegrees=no\nendheader\n"
        "time\t/jointset/hip_r/hip_flexion_r/value\t/jointset/hip_r/hip_flexion_r/speed\t"
        "/forceset/bflh_r/activation\n"
        "0.0\t0.5\t1.0\t0.1\n0.01\t0.51\t1.0\t0.2\n"
    )
    motion = read_motion(_write(tmp_path, text, "states.sto"))
    assert list(motion["coordinate"].values) == ["hip_flexion_r"]
    assert motion.attrs["ignored_state_columns"] == 2
    np.testing.assert_allclose(motion["q"].values[:, 0], [0.5, 0.51])
    bad = text.replace("/value", "/speedy")
    with pytest.raises(InputError, match="none is a coordinate value"):
        read_motion(_write(tmp_path, bad, "bad_states.sto"))
