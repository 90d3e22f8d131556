"""Drill library: shipped drill files, motions in read_motion's layout, excitation, errors, the
user-motion-file drill, and the measured running template (provenance, exact reproduction of
each measured speed, PCHIP against SciPy, d(angles)/d(speed) against finite differences)."""

from __future__ import annotations

import math
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from scipy.interpolate import PchipInterpolator

import musclesim
from experiments import (
    derive_running_template as running_derivation,
    derive_walking_template as walking_derivation,
)
from musclesim import InputError
from musclesim.core.citations import REFERENCES
from musclesim.core.io import sha256_file
from musclesim.geometry.io import load_model
from musclesim.geometry.model import GeometryDomainWarning
from musclesim.training.drills import (
    load_walking_template,
    walking_curves,
    walking_stride_frequency,
)

#: Coordinate names of the Rajagopal/Sprinter family (the sprinter .mot's columns), so the
#: default-run tests need neither a fitted geometry model nor the shared data.
RAJAGOPAL_COORDS = (
    "pelvis_tilt pelvis_list pelvis_rotation pelvis_tx pelvis_ty pelvis_tz hip_flexion_r "
    "hip_adduction_r hip_rotation_r knee_angle_r knee_angle_r_beta ankle_angle_r "
    "subtalar_angle_r mtp_angle_r hip_flexion_l hip_adduction_l hip_rotation_l knee_angle_l "
    "knee_angle_l_beta ankle_angle_l subtalar_angle_l mtp_angle_l lumbar_extension "
    "lumbar_bending lumbar_rotation arm_flex_r arm_add_r arm_rot_r elbow_flex_r pro_sup_r "
    "arm_flex_l arm_add_l arm_rot_l elbow_flex_l pro_sup_l"
).split()
MUSCLES = [
    "bflh_r",
    "bfsh_r",
    "semiten_r",
    "semimem_r",
    "gasmed_r",
    "gaslat_r",
    "soleus_r",
    "bflh_l",
    "semiten_l",
    "gasmed_l",
    "soleus_l",
]
REQUIRED = {
    "walking",
    "running",
    "a_skip",
    "b_skip",
    "high_knees",
    "butt_kicks",
    "straight_leg_bounds",
    "accelerations",
    "nordic_hamstring",
    "romanian_deadlift",
    "single_leg_rdl",
    "hip_extension_45",
    "long_lever_bridge",
    "calf_raise_double",
    "calf_raise_single",
    "calf_raise_slow_eccentric",
    "pogo_hops",
    "drop_jump",
}
#: Askling's L-protocol (Askling et al. 2013), added to reach the 20-drill table.
ASKLING = {"askling_extender", "askling_diver", "askling_glider"}
SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run{}cms.mot"
MEASURED_SPEEDS = (3.54, 5.21, 7.02, 9.51)  # SOURCES.md


@pytest.fixture(scope="module")
def drills():
    return musclesim.load_drills()


def _deg(ds, name):
    return np.degrees(ds["q"].sel(coordinate=name).values)


# ----------------------------------------------------------------------------------------------
# The shipped library
# ----------------------------------------------------------------------------------------------


def test_every_required_drill_is_shipped_with_references(drills):
    assert REQUIRED <= set(drills)
    for d in drills.values():
        assert d.references and all(r in REFERENCES for r in d.references)
        assert d.intensity.min < d.intensity.max
        assert d.intensity.min <= d.intensity.default <= d.intensity.max
        assert d.intensity.unit and d.description
        assert (d.dose.reps is None) != (d.dose.distance_m is None)
        assert d.sources, f"{d.name}: no [[sources]] saying where its numbers come from"
        for s in d.sources:
            assert s["reference"] in REFERENCES and isinstance(s["verified"], bool)


@pytest.mark.parametrize("name", sorted(REQUIRED | ASKLING))
def test_motion_is_finite_in_read_motion_layout_with_plausible_ranges(drills, name):
    d = drills[name]
    for x in np.linspace(d.intensity.min, d.intensity.max, 3):
        ds = musclesim.drill_motion(d, x, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1)
        assert ds["q"].dims == ("time", "coordinate")
        assert list(ds["coordinate"].values) == RAJAGOPAL_COORDS
        units = dict(zip(ds["coordinate"].values, ds["unit"].values, strict=True))
        types = dict(zip(ds["coordinate"].values, ds["motion_type"].values, strict=True))
        assert units["pelvis_tx"] == "m" and units["knee_angle_r"] == "rad"
        assert types["knee_angle_r_beta"] == "coupled" and types["pelvis_ty"] == "translational"
        t = ds["time"].values
        assert t.size > 10 and np.allclose(np.diff(t), 0.01)
        q = ds["q"].values
        assert np.all(np.isfinite(q))
        for side in "rl":
            knee = _deg(ds, f"knee_angle_{side}")
            assert knee.min() >= -1e-9 and knee.max() <= 160.0
            np.testing.assert_array_equal(
                ds["q"].sel(coordinate=f"knee_angle_{side}_beta"),
                ds["q"].sel(coordinate=f"knee_angle_{side}"),
            )
            hip = _deg(ds, f"hip_flexion_{side}")
            assert -40.0 <= hip.min() and hip.max() <= 130.0
            ankle = _deg(ds, f"ankle_angle_{side}")
            assert -50.0 <= ankle.min() and ankle.max() <= 40.0
        assert np.all(ds["q"].sel(coordinate="arm_flex_r").values == 0.0)
        assert "arm_flex_r" in ds.attrs["held_at_zero"]
        assert ds.attrs["drill"] == name and ds.attrs["intensity_unit"] == d.intensity.unit


@pytest.mark.parametrize("name", sorted(REQUIRED | ASKLING))
def test_excitation_shape_and_range(drills, name):
    d = drills[name]
    ds = musclesim.drill_motion(
        d, d.intensity.default, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1
    )
    src = musclesim.drill_excitation(d, d.intensity.default, max_speed=9.5)
    assert isinstance(src, musclesim.ExcitationSource)
    u = src(ds["time"].values, MUSCLES + ["vaslat_r"], motion=ds)
    assert u.shape == (ds.sizes["time"], len(MUSCLES) + 1)
    assert np.all(np.isfinite(u)) and u.min() >= 0.0 and u.max() <= 1.0
    if u[:, :7].max() <= 0.05:
        # hamstrings and calf near rest only where the levels are derived from the drill's
        # mechanics and it asks nothing of them (a passive stretch)
        notes = [str(s.get("note", "")) for s in d.sources]
        assert any(n.startswith("derived by experiments/derive_drill_excitation.py") for n in notes)
    assert src.references


def test_knee_sign_is_applied_and_accepts_model_pairs(drills):
    kw = dict(coordinates=RAJAGOPAL_COORDS)
    plus = musclesim.drill_motion("nordic_hamstring", 1.0, knee_flexion_sign=1, **kw)
    minus = musclesim.drill_motion("nordic_hamstring", 1.0, knee_flexion_sign=-1, **kw)
    pairs = musclesim.drill_motion(
        "nordic_hamstring",
        1.0,
        knee_flexion_sign=(("knee_angle_r", -1), ("knee_angle_l", -1)),
        **kw,
    )
    k = plus["q"].sel(coordinate="knee_angle_r").values
    assert k.max() == pytest.approx(math.radians(90.0))
    np.testing.assert_array_equal(minus["q"].sel(coordinate="knee_angle_r").values, -k)
    np.testing.assert_array_equal(pairs["q"].values, minus["q"].values)
    run = musclesim.drill_motion("running", 7.0, knee_flexion_sign=-1, **kw)
    assert run["q"].sel(coordinate="knee_angle_l").max() <= 0.0
    with pytest.raises(InputError, match="knee_angle_l"):
        musclesim.drill_motion("a_skip", 1.5, knee_flexion_sign={"knee_angle_r": 1}, **kw)


def test_intensity_changes_motion_and_excitation_as_documented(drills):
    kw = dict(coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1)
    # Nordic: range fraction 0.3 stops at 63 deg, full range reaches extension
    part = musclesim.drill_motion("nordic_hamstring", 0.3, **kw)
    full = musclesim.drill_motion("nordic_hamstring", 1.0, **kw)
    assert _deg(part, "knee_angle_r").min() == pytest.approx(63.0)
    assert _deg(full, "knee_angle_r").min() == pytest.approx(0.0, abs=1e-9)
    # pogo: the intensity is the hop frequency
    pogo = musclesim.drill_motion("pogo_hops", 2.5, duration=2.0, **kw)
    assert pogo.attrs["cycle_period_s"] == pytest.approx(0.4)
    # drop jump: the fall lasts sqrt(2h/g)
    lo = musclesim.drill_motion("drop_jump", 0.2, **kw).attrs["cycle_period_s"]
    hi = musclesim.drill_motion("drop_jump", 0.6, **kw).attrs["cycle_period_s"]
    fall = math.sqrt(2 * 0.6 / 9.80665) - math.sqrt(2 * 0.2 / 9.80665)
    assert hi - lo == pytest.approx(fall + 0.03 + 0.02)
    # heavier RDL -> more hamstring excitation at the same instant
    t = np.linspace(0.0, 5.0, 51)
    light = musclesim.drill_excitation("romanian_deadlift", 0.0)(t, ["bflh_r"])
    heavy = musclesim.drill_excitation("romanian_deadlift", 1.5)(t, ["bflh_r"])
    assert np.all(heavy >= light) and heavy.max() > light.max()


def test_excitation_follows_the_cited_emg_ordering():
    t = np.linspace(0.1, 3.4, 40)  # inside the Nordic's eccentric descent (0-3.5 s)
    u = musclesim.drill_excitation("nordic_hamstring", 1.0)(t, ["bflh_r", "semiten_r"])
    assert np.all(u[:, 1] > u[:, 0])  # medial > lateral (Bourne 2017, van den Tillaar 2017)
    t = np.linspace(0.1, 3.9, 40)
    u = musclesim.drill_excitation("hip_extension_45", 0.2)(t, ["bflh_r", "semiten_r"])
    assert np.all(u[:, 0] > u[:, 1])  # largest BF/MH ratio in 45 deg hip extension (Bourne)


def test_unilateral_drills_mirror_with_side(drills):
    kw = dict(coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1)
    right = musclesim.drill_motion("single_leg_rdl", 0.2, **kw)
    left = musclesim.drill_motion("single_leg_rdl", 0.2, side="l", **kw)
    np.testing.assert_array_equal(
        right["q"].sel(coordinate="hip_flexion_r").values,
        left["q"].sel(coordinate="hip_flexion_l").values,
    )
    t = right["time"].values
    ur = musclesim.drill_excitation("calf_raise_single", 0.0)(t, ["gasmed_r", "gasmed_l"])
    ul = musclesim.drill_excitation("calf_raise_single", 0.0, side="l")(t, ["gasmed_r", "gasmed_l"])
    np.testing.assert_array_equal(ur[:, 0], ul[:, 1])
    assert ur[:, 1].max() < ur[:, 0].min()


def test_alternating_drills_lag_the_left_leg_half_a_cycle():
    ds = musclesim.drill_motion(
        "high_knees", 2.0, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1, sample_rate=200.0
    )
    r = ds["q"].sel(coordinate="hip_flexion_r").values
    l_ = ds["q"].sel(coordinate="hip_flexion_l").values
    half = 50  # 0.25 s at 200 Hz = half of a 0.5 s cycle
    np.testing.assert_allclose(l_[half:], r[:-half], atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_unknown_drill_lists_the_known_ones():
    with pytest.raises(InputError, match="unknown drill 'sprint_fast'.*nordic_hamstring"):
        musclesim.drill_motion(
            "sprint_fast", 1.0, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1
        )


def test_out_of_range_intensity_names_drill_unit_and_range():
    with pytest.raises(InputError) as err:
        musclesim.drill_motion("running", 10.5, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1)
    msg = str(err.value)
    assert "running" in msg and "m/s" in msg and "3.5" in msg and "9.5" in msg
    with pytest.raises(InputError, match="drop_jump.*0.2 ≤ drop_height ≤ 0.6 m"):
        musclesim.drill_excitation("drop_jump", 0.1)
    with pytest.raises(InputError, match="3.5–9.5 m/s"):
        musclesim.running_motion(3.4, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1)


MINIMAL = """
name = "my_drill"
references = ["bourne2017"]
[intensity]
name = "external_load"
unit = "fraction of body mass"
min = 0.0
max = 1.0
default = 0.5
[dose]
sets = 3
reps = 8
[motion]
type = "keyframes"
[[motion.keyframes]]
dur_s = 1.0
hip_flexion_deg = 0.0
[[motion.keyframes]]
dur_s = 2.0
hip_flexion_deg = 80.0
[excitation]
type = "constant"
levels = { hamstrings = { at_min = 0.1, at_max = 0.5 } }
"""


@pytest.mark.parametrize(
    "old, new, field",
    [
        ('name = "my_drill"', 'name = "my_drill', "not valid TOML"),
        ('unit = "fraction of body mass"\n', "", "intensity.unit"),
        ("default = 0.5", "default = 1.5", "intensity"),
        ("hip_flexion_deg = 80.0", "hip_flex_deg = 80.0", "motion.keyframes[1].hip_flex_deg"),
        ('["bourne2017"]', '["nobody1999"]', "references"),
        ("at_max = 0.5", "at_max = 1.5", "excitation.levels.hamstrings"),
        ("hamstrings =", "hammies =", "excitation.levels.hammies"),
        ('type = "keyframes"', 'type = "spline"', "motion.type"),
        ("dur_s = 2.0", 'dur_s = "slow"', "motion.keyframes[1].dur_s"),
        ("reps = 8", "", "dose.reps"),
        # a joint angle beyond a full turn is a typing error, named as degrees
        ("hip_flexion_deg = 80.0", "hip_flexion_deg = 400.0", "motion.keyframes[1].hip_flexion"),
    ],
)
def test_malformed_drill_file_names_file_and_field(tmp_path, old, new, field):
    path = tmp_path / "bad.toml"
    assert old in MINIMAL
    path.write_text(MINIMAL.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        musclesim.load_drills(tmp_path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_minimal_user_drill_file_works(tmp_path):
    (tmp_path / "mine.toml").write_text(MINIMAL)
    drills = musclesim.load_drills(tmp_path)
    ds = musclesim.drill_motion(
        "my_drill",
        0.5,
        drills=drills,
        coordinates=["hip_flexion_r", "knee_angle_r"],
        knee_flexion_sign=1,
    )
    assert _deg(ds, "hip_flexion_r").max() == pytest.approx(80.0)
    u = musclesim.drill_excitation("my_drill", 1.0, drills=drills)(
        [0.0, 1.0], ["bflh_r", "soleus_r"]
    )
    np.testing.assert_allclose(u, [[0.5, 0.0], [0.5, 0.0]])


def test_duplicate_drill_names_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text(MINIMAL)
    (tmp_path / "b.toml").write_text(MINIMAL)
    with pytest.raises(InputError, match="defined twice"):
        musclesim.load_drills(tmp_path)


# ----------------------------------------------------------------------------------------------
# A user's own motion file
# ----------------------------------------------------------------------------------------------

USER_DRILL = """
name = "my_recorded_sprint"
description = "my athlete's own IK result"
references = ["dorn2012"]
[intensity]
name = "time_scale"
unit = "1"
min = 0.5
max = 1.0
default = 1.0
[dose]
sets = 1
distance_m = 30.0
[motion]
type = "motion_file"
path = "{path}"
time_scale = "intensity"
{extra}
[excitation]
type = "constant"
levels = {{ hamstrings = 0.6, calf = 0.5, default = 0.02 }}
"""


def test_user_motion_file_drill_reads_a_real_mot(tmp_path, data_dir):
    mot = data_dir / SPRINT.format("0900")
    rel = os.path.relpath(mot, tmp_path)
    (tmp_path / "user.toml").write_text(USER_DRILL.format(path=rel, extra=""))
    drills = musclesim.load_drills(tmp_path)
    ds = musclesim.drill_motion(
        "my_recorded_sprint",
        1.0,
        drills=drills,
        coordinates=RAJAGOPAL_COORDS + ["made_up_coordinate"],
        knee_flexion_sign=1,
        sample_rate=250.0,
    )
    src = musclesim.read_motion(mot)
    n = ds.sizes["time"]
    assert n == src.sizes["time"]
    np.testing.assert_allclose(
        ds["q"].sel(coordinate=RAJAGOPAL_COORDS).values,
        src["q"].sel(coordinate=RAJAGOPAL_COORDS).values,
        atol=1e-9,
    )
    assert ds.attrs["source_sha256"] == sha256_file(mot)
    assert np.all(ds["q"].sel(coordinate="made_up_coordinate").values == 0.0)
    # half speed playback doubles the duration
    slow = musclesim.drill_motion(
        "my_recorded_sprint", 0.5, drills=drills, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1
    )
    assert slow["time"].values[-1] == pytest.approx(
        2 * (src["time"].values[-1] - src["time"].values[0]), abs=0.011
    )
    u = musclesim.drill_excitation("my_recorded_sprint", 1.0, drills=drills)(
        ds["time"].values, ["bflh_r", "gasmed_l"]
    )
    assert np.all(u == np.array([0.6, 0.5]))


def test_user_motion_file_knee_sign_is_converted(tmp_path, data_dir):
    mot = data_dir / "kinematics/opensim-models_gait2392_walking/subject01_walk1_ik.mot"
    (tmp_path / "walk.toml").write_text(USER_DRILL.format(path=mot, extra=""))
    drills = musclesim.load_drills(tmp_path)
    coords = ["hip_flexion_r", "knee_angle_r", "knee_angle_r_beta", "ankle_angle_r"]
    ds = musclesim.drill_motion(
        "my_recorded_sprint", 1.0, drills=drills, coordinates=coords, knee_flexion_sign=1
    )
    src = musclesim.read_motion(mot)
    assert src["q"].sel(coordinate="knee_angle_r").min() < -1.0  # gait2392: flexion negative
    knee = ds["q"].sel(coordinate="knee_angle_r").values
    assert knee.max() > 1.0 and knee.min() > -0.2
    np.testing.assert_array_equal(ds["q"].sel(coordinate="knee_angle_r_beta").values, knee)
    assert "inferred from the data" in ds.attrs["file_knee_flexion_sign_r"]
    # stated in the file instead of inferred, or read from the file's model
    model = data_dir / "models/gait2392_subject01_scaled.osim"
    for extra, how in (("knee_flexion_sign = -1", "stated"), (f'model = "{model}"', "model")):
        (tmp_path / "walk.toml").write_text(USER_DRILL.format(path=mot, extra=extra))
        drills = musclesim.load_drills(tmp_path)
        again = musclesim.drill_motion(
            "my_recorded_sprint", 1.0, drills=drills, coordinates=coords, knee_flexion_sign=1
        )
        np.testing.assert_array_equal(again["q"].values, ds["q"].values)
        assert how in again.attrs["file_knee_flexion_sign_r"]


def test_missing_user_motion_file_is_a_clear_error(tmp_path):
    (tmp_path / "user.toml").write_text(USER_DRILL.format(path="nowhere.mot", extra=""))
    drills = musclesim.load_drills(tmp_path)
    with pytest.raises(InputError, match="nowhere.mot.*file not found"):
        musclesim.drill_motion(
            "my_recorded_sprint",
            1.0,
            drills=drills,
            coordinates=RAJAGOPAL_COORDS,
            knee_flexion_sign=1,
        )


# ----------------------------------------------------------------------------------------------
# The running template
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template():
    return musclesim.load_running_template()


def test_template_records_the_shared_files_sha256(template, data_dir):
    ds = template.dataset
    names = [str(s) for s in ds["source_file"].values]
    assert names == [f"run{s}cms.mot" for s in ("0350", "0500", "0700", "0900")]
    for name, digest in zip(names, ds["source_sha256"].values, strict=True):
        assert sha256_file(data_dir / SPRINT.format(name[3:7])) == str(digest)
    assert ds.attrs["source_model_sha256"] == sha256_file(
        data_dir / "models/Sprinter_JA1_scaled.osim"
    )
    assert "derive_running_template" in ds.attrs["derivation_command"]


def test_template_speeds_cadence_and_shape(template):
    np.testing.assert_allclose(template.speeds, MEASURED_SPEEDS, atol=0.006)
    f = template.stride_frequency
    assert np.all(np.diff(f) > 0) and 1.2 < f[0] < 1.45 and 2.0 < f[-1] < 2.3
    assert template.q.shape == (4, 101, len(template.coordinates))
    for side in "rl":
        knee = template.q[:, :, template.coordinates.index(f"knee_angle_{side}")]
        assert np.degrees(knee.max(axis=1)).min() > 100  # swing knee flexion, flexion positive
    n = template.dataset["n_cycles"].values
    assert np.all(n >= 1)
    assert np.all(np.isnan(template.dataset["q_std"].values[n < 2]))


def test_rederiving_the_template_reproduces_the_shipped_file(tmp_path, data_dir, template):
    out = running_derivation.run(data_dir, tmp_path / "tpl.nc")
    with xr.open_dataset(out) as new:
        np.testing.assert_allclose(
            new["q_mean"].values, template.dataset["q_mean"].values, rtol=0, atol=1e-12
        )
        np.testing.assert_array_equal(new["speed"].values, template.speeds)
        assert list(new["source_sha256"].values) == list(template.dataset["source_sha256"].values)
    assert (
        running_derivation.main(["--data", str(data_dir), "--out", str(tmp_path / "cli.nc")]) == 0
    )
    assert (tmp_path / "cli.nc").is_file()


def test_interpolation_reproduces_each_measured_speed_exactly(template):
    for k, v in enumerate(template.speeds):
        q, f = musclesim.running_curves(float(v))
        np.testing.assert_array_equal(np.asarray(q), template.q[k])
        assert float(f) == template.stride_frequency[k]
        q_phase, _ = musclesim.running_motion_jax(float(v), template.phase)
        np.testing.assert_allclose(np.asarray(q_phase), template.q[k], rtol=0, atol=1e-15)


def test_interpolation_is_scipys_pchip(template):
    speeds = np.array([3.6, 4.4, 6.1, 7.5, 9.4])
    q, f = musclesim.running_curves(speeds)
    np.testing.assert_allclose(
        np.asarray(q), PchipInterpolator(template.speeds, template.q)(speeds), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(f),
        PchipInterpolator(template.speeds, template.stride_frequency)(speeds),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("speed", [3.52, 4.3, 6.0, 7.02, 9.0])
def test_gradient_in_speed_is_finite_and_matches_finite_differences(speed):
    phase = jnp.linspace(0.0, 100.0, 41)

    def angles(v):
        q, f = musclesim.running_motion_jax(v, phase)
        return jnp.concatenate([q.ravel(), f[None]])

    grad = np.asarray(jax.jacfwd(angles)(jnp.asarray(speed)))
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0.01
    rev = np.asarray(jax.grad(lambda v: jnp.sum(angles(v) ** 2))(jnp.asarray(speed)))
    assert np.isfinite(rev)
    h = 1e-6
    fd = (np.asarray(angles(speed + h)) - np.asarray(angles(speed - h))) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-6)


def test_running_motion_repeats_strides_without_jumps_at_the_measured_cadence(template):
    ds = musclesim.running_motion(
        9.0, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1, sample_rate=1000.0, cycles=3
    )
    f = ds.attrs["stride_frequency_hz"]
    assert f == pytest.approx(float(musclesim.running_curves(9.0)[1]))
    tx = ds["q"].sel(coordinate="pelvis_tx").values
    assert np.polyfit(ds["time"].values, tx, 1)[0] == pytest.approx(9.0)
    names = ["hip_flexion_r", "knee_angle_r", "ankle_angle_r", "hip_flexion_l", "knee_angle_l"]
    q = ds["q"].sel(coordinate=names).values
    # the raw mean cycle ends up to 5.5 deg (hip_flexion_l) from where it starts; with the
    # periodic closure no 1 ms step exceeds what the joints' own speed gives (< 2 deg)
    assert np.abs(np.diff(q, axis=0)).max() < math.radians(2.0)
    period = 1000.0 / f
    i = int(round(period))
    assert np.abs(q[i] - q[0]).max() < math.radians(1.5)


def test_accelerations_cover_the_dose_distance_with_rising_speed():
    ds = musclesim.drill_motion(
        "accelerations", 8.0, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1
    )
    tx = ds["q"].sel(coordinate="pelvis_tx").values
    assert tx[-1] == pytest.approx(30.0, rel=0.03)
    v = np.diff(tx) / np.diff(ds["time"].values)
    assert np.all(np.diff(v) >= -1e-9) and v[-1] < 8.0 and v[-1] > 6.5


def test_running_excitation_is_timed_by_the_template(template):
    src = musclesim.drill_excitation("running", 9.5, max_speed=9.5)
    f = float(musclesim.running_curves(9.5)[1])
    t = np.linspace(0.0, 3.0 / f, 301)
    u = src(t, ["bflh_r", "bflh_l", "soleus_r"])
    # periodic with the stride, full excitation at maximal speed, left half a stride behind
    np.testing.assert_allclose(u[:100], u[100:200], atol=1e-9)
    assert u[:, 0].max() == pytest.approx(1.0, abs=0.02)
    lag = float(np.interp(9.5, template.speeds, template.dataset["left_foot_strike_phase"]))
    shift = int(round(lag))
    np.testing.assert_allclose(u[shift : 100 + shift, 1], u[:100, 0], atol=0.1)


# ----------------------------------------------------------------------------------------------
# With the shipped geometry model
# ----------------------------------------------------------------------------------------------


def test_every_drill_feeds_the_shipped_geometry_model(drills):
    model = load_model("sprinter_ja1")
    for name in sorted(REQUIRED | ASKLING):
        d = drills[name]
        ds = musclesim.drill_motion(
            d,
            d.intensity.default,
            coordinates=model.coordinates,
            knee_flexion_sign=model.knee_flexion_sign,
            sample_rate=50.0,
        )
        q = {c: jnp.asarray(ds["q"].sel(coordinate=c).values) for c in model.coordinates}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GeometryDomainWarning)
            lengths = np.asarray(model.mtu_length(q))
        assert lengths.shape[0] == ds.sizes["time"] and np.all(np.isfinite(lengths)), name


def test_gradient_is_continuous_across_a_measured_speed(template):
    """PCHIP is C1: at a node the derivative from either side agrees, and matches FD."""
    node = float(template.speeds[2])
    phase = jnp.linspace(0.0, 100.0, 21)

    def angles(v):
        return musclesim.running_motion_jax(v, phase)[0]

    at = np.asarray(jax.jacfwd(angles)(jnp.asarray(node)))
    for eps in (1e-7, -1e-7):
        near = np.asarray(jax.jacfwd(angles)(jnp.asarray(node + eps)))
        np.testing.assert_allclose(near, at, rtol=0, atol=1e-5)
    h = 1e-6
    fd = (np.asarray(angles(node + h)) - np.asarray(angles(node - h))) / (2 * h)
    np.testing.assert_allclose(at, fd, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# The measured walking template and its speed dependence
# ----------------------------------------------------------------------------------------------

WALK = "kinematics/opensim-models_gait2392_walking/subject01_walk1_ik.mot"


@pytest.fixture(scope="module")
def walking_template():
    return load_walking_template()


def test_walking_template_records_the_shared_files_sha256(walking_template, data_dir):
    ds = walking_template.dataset
    assert [str(s) for s in ds["source_file"].values] == ["subject01_walk1_ik.mot"]
    assert str(ds["source_sha256"].values[0]) == sha256_file(data_dir / WALK)
    assert ds.attrs["source_model_sha256"] == sha256_file(
        data_dir / "models/gait2392_subject01_scaled.osim"
    )
    assert "derive_walking_template" in ds.attrs["derivation_command"]


def test_walking_template_speed_and_cadence_are_those_of_walking(walking_template):
    # a walk: about 1 m/s at a cadence near 100 steps/min, left foot strike near mid-stride
    assert 0.8 < walking_template.speed < 1.4
    assert 0.7 < walking_template.stride_frequency < 1.1
    assert 40.0 < walking_template.left_strike_phase < 60.0
    knee = walking_template.q[:, walking_template.coordinates.index("knee_angle_r")]
    assert 50.0 < np.degrees(knee.max()) < 75.0  # swing knee flexion, flexion positive


def test_rederiving_the_walking_template_reproduces_the_shipped_file(
    tmp_path, data_dir, walking_template
):
    out = walking_derivation.run(data_dir, tmp_path / "walk.nc")
    with xr.open_dataset(out) as new:
        np.testing.assert_allclose(
            new["q_mean"].values, walking_template.dataset["q_mean"].values, rtol=0, atol=1e-12
        )
        assert float(new["speed"].values[0]) == walking_template.speed
    assert (
        walking_derivation.main(["--data", str(data_dir), "--out", str(tmp_path / "cli.nc")]) == 0
    )


def test_walking_at_the_measured_speed_is_the_measured_stride(walking_template):
    tpl = walking_template
    closed = tpl.q - (tpl.q[-1:] - tpl.q[:1]) * (tpl.phase / 100.0)[:, None]
    np.testing.assert_allclose(
        walking_curves(tpl.speed, tpl, excursion_exponent=0.5), closed, atol=1e-12
    )
    assert walking_stride_frequency(tpl.speed, tpl, cadence_exponent=0.5) == pytest.approx(
        tpl.stride_frequency, rel=1e-12
    )
    # constant walk ratio: cadence ~ sqrt(v), so step length / cadence is the same at 1.8 m/s
    f = walking_stride_frequency(1.8, tpl, cadence_exponent=0.5)
    ratio = (1.8 / (2 * f)) / (2 * f)
    ratio0 = (tpl.speed / (2 * tpl.stride_frequency)) / (2 * tpl.stride_frequency)
    assert ratio == pytest.approx(ratio0, rel=1e-12)


def test_faster_walking_swings_the_hip_further_and_repeats_without_jumps(drills):
    kw = dict(coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1)
    slow = musclesim.drill_motion("walking", 1.0, **kw)
    fast = musclesim.drill_motion("walking", 1.8, **kw)
    for side in "rl":
        hip_s, hip_f = _deg(slow, f"hip_flexion_{side}"), _deg(fast, f"hip_flexion_{side}")
        assert hip_f.max() - hip_f.min() > hip_s.max() - hip_s.min()
        assert hip_f.max() > hip_s.max()  # more hip flexion in terminal swing
        # knee: the measured curve at every speed (only its timing changes)
        k_s, k_f = _deg(slow, f"knee_angle_{side}"), _deg(fast, f"knee_angle_{side}")
        assert k_f.min() == pytest.approx(k_s.min(), abs=0.5)
        assert k_f.max() == pytest.approx(k_s.max(), abs=0.5)
    assert fast.attrs["stride_frequency_hz"] > slow.attrs["stride_frequency_hz"]
    # periodic: the stride ends where it starts, so strides join without a jump
    curves = walking_curves(1.8, load_walking_template(), excursion_exponent=0.5)
    np.testing.assert_allclose(curves[-1], curves[0], atol=1e-12)
    # the measured hyperextension is clamped at the drill's floor (0 deg), nothing else moves
    tpl = load_walking_template()
    floored = walking_curves(1.3, tpl, excursion_exponent=0.5, knee_flexion_floor=0.0)
    free = walking_curves(1.3, tpl, excursion_exponent=0.5)
    knee = tpl.coordinates.index("knee_angle_r")
    assert free[:, knee].min() < 0.0 and floored[:, knee].min() == 0.0
    np.testing.assert_array_equal(floored[free[:, knee] >= 0, knee], free[free[:, knee] >= 0, knee])
    assert fast["q"].sel(coordinate="pelvis_tx").values[-1] == pytest.approx(
        1.8 * fast["time"].values[-1]
    )


def test_walking_excitation_windows_rise_with_speed_and_lag_on_the_left():
    tpl = load_walking_template()
    f = musclesim.drill_motion(
        "walking", 1.3, coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1
    ).attrs["stride_frequency_hz"]
    t = np.arange(0.0, 1.0 / f, 0.001)
    phase = 100.0 * f * t
    slow = musclesim.drill_excitation("walking", 1.0)
    u = musclesim.drill_excitation("walking", 1.3)(t, ["bflh_r", "gasmed_r", "bflh_l"])
    # hamstrings in terminal swing (85-100 %), calf in stance (15-50 %)
    swing = (phase > 86) & (phase < 99)
    stance = (phase > 16) & (phase < 49)
    assert u[swing, 0].min() > u[stance, 0].max()
    assert u[stance, 1].min() > u[swing, 1].max()
    # the left leg's pattern is the right one's shifted by the measured left foot strike
    left_phase = np.mod(phase - tpl.left_strike_phase, 100.0)
    assert u[(left_phase > 86) & (left_phase < 99), 2].min() == pytest.approx(u[swing, 0].min())
    # faster walking: more excitation in the same window
    t_slow = np.arange(0.0, 1.0, 0.001)
    assert slow(t_slow, ["bflh_r"]).max() < u[:, 0].max()


def test_askling_l_protocol_drills_lengthen_the_hamstrings_more_at_higher_intensity(drills):
    """Extender: knee extension at 90 deg hip flexion; Diver: hip flexion on the standing leg
    with the knee slightly bent; Glider: front-leg hip flexion with the knee 10-20 deg."""
    assert len(drills) >= 20 and ASKLING <= set(drills)
    kw = dict(coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1)
    ext = [musclesim.drill_motion("askling_extender", x, **kw) for x in (0.3, 1.0)]
    assert np.allclose(_deg(ext[1], "hip_flexion_r"), 90.0)
    assert _deg(ext[0], "knee_angle_r").min() == pytest.approx(63.0)
    assert _deg(ext[1], "knee_angle_r").min() == pytest.approx(0.0, abs=1e-9)
    dive = [musclesim.drill_motion("askling_diver", x, **kw) for x in (0.3, 1.0)]
    assert _deg(dive[1], "hip_flexion_r").max() == pytest.approx(90.0)
    assert _deg(dive[0], "hip_flexion_r").max() < _deg(dive[1], "hip_flexion_r").max()
    assert 10.0 - 1e-9 <= _deg(dive[1], "knee_angle_r").min() <= 20.0
    assert _deg(dive[1], "knee_angle_r").max() <= 20.0 + 1e-9
    glide = [musclesim.drill_motion("askling_glider", x, **kw) for x in (0.3, 1.0)]
    assert _deg(glide[0], "hip_flexion_r").max() < _deg(glide[1], "hip_flexion_r").max()
    assert np.all(
        (_deg(glide[1], "knee_angle_r") >= 10.0) & (_deg(glide[1], "knee_angle_r") <= 20.0)
    )
    # side="l" mirrors the unilateral exercises
    left = musclesim.drill_motion("askling_diver", 1.0, side="l", **kw)
    np.testing.assert_array_equal(
        left["q"].sel(coordinate="hip_flexion_l").values,
        dive[1]["q"].sel(coordinate="hip_flexion_r").values,
    )


def test_missing_or_foreign_template_files_are_named(tmp_path):
    with pytest.raises(InputError, match="running template not found"):
        musclesim.load_running_template(tmp_path / "missing.nc")
    foreign = tmp_path / "foreign.nc"
    foreign.write_text("not netCDF")
    with pytest.raises(InputError, match="not a walking template"):
        load_walking_template(foreign)
