"""Intensity dimensions of the drill library: every drill lists its dimensions with the primary
intensity first; range_fraction shrinks each joint's excursion from the reference key posture,
tempo_s stretches the lengthening phase, load_bm moves the levels the file makes linear in it;
settings are checked against the file's ranges; the category and published session frequency
are read from the files."""

from __future__ import annotations

import numpy as np
import pytest
from test_drills import RAJAGOPAL_COORDS

import musclesim
from musclesim import InputError
from musclesim.training.drills import CATEGORIES, DIMENSION_KINDS, Dimension

KW = dict(coordinates=RAJAGOPAL_COORDS, knee_flexion_sign=1, sample_rate=200.0)

#: Strength and stretch drills, which a clinician regresses by range, tempo or load.
REGRESSIBLE = (
    "romanian_deadlift",
    "single_leg_rdl",
    "hip_extension_45",
    "nordic_hamstring",
    "askling_extender",
    "askling_diver",
    "askling_glider",
    "long_lever_bridge",
    "calf_raise_double",
    "calf_raise_single",
    "calf_raise_slow_eccentric",
)


@pytest.fixture(scope="module")
def drills():
    return musclesim.load_drills()


def _q(ds, name):
    return ds["q"].sel(coordinate=name).values


def test_primary_intensity_is_the_first_dimension_of_every_drill(drills):
    for d in drills.values():
        dims = d.dimensions
        assert isinstance(dims[0], Dimension)
        assert (dims[0].name, dims[0].min, dims[0].max) == (
            d.intensity.name,
            d.intensity.min,
            d.intensity.max,
        )
        assert len({x.name for x in dims}) == len(dims)
        for x in dims:
            assert x.min <= x.default <= x.max and x.harder in (1, -1)
            if x.name in DIMENSION_KINDS:
                assert (x.unit, x.harder) == DIMENSION_KINDS[x.name]
        assert d.category in CATEGORIES


def test_strength_and_stretch_drills_can_be_regressed_besides_their_primary(drills):
    for name in REGRESSIBLE:
        names = {x.name for x in drills[name].dimensions}
        assert len(names) >= 2, name
        assert names <= set(DIMENSION_KINDS), name


def test_range_fraction_shrinks_every_joints_excursion_from_the_start(drills):
    full = musclesim.drill_motion("romanian_deadlift", 0.5, **KW)
    half = musclesim.drill_motion("romanian_deadlift", 0.5, settings={"range_fraction": 0.5}, **KW)
    for joint in ("hip_flexion_r", "knee_angle_r", "lumbar_extension"):
        q_full, q_half = _q(full, joint), _q(half, joint)
        start = q_full[0]
        assert np.allclose(q_half - start, 0.5 * (q_full - start), atol=1e-12)
    assert np.isclose(np.degrees(_q(half, "hip_flexion_r").max()), 42.5)
    assert half.attrs["setting_range_fraction"] == 0.5
    assert (
        half.attrs["setting_tempo_s"] == drills["romanian_deadlift"].check_settings(None)["tempo_s"]
    )


def test_calf_range_is_measured_from_the_top_of_the_raise():
    full = musclesim.drill_motion("calf_raise_single", 0.0, **KW)
    part = musclesim.drill_motion("calf_raise_single", 0.0, settings={"range_fraction": 0.5}, **KW)
    ankle_full, ankle_part = _q(full, "ankle_angle_r"), _q(part, "ankle_angle_r")
    assert np.isclose(ankle_part.min(), ankle_full.min())  # the top is unchanged
    assert ankle_part.max() < ankle_full.max() - np.radians(20.0)


@pytest.mark.parametrize("name", ["romanian_deadlift", "nordic_hamstring", "askling_extender"])
def test_tempo_sets_the_duration_of_the_lengthening_phase(drills, name):
    d = drills[name]
    x = d.intensity.default
    fast = musclesim.drill_motion(d, x, settings={"tempo_s": 2.0}, **KW)
    slow = musclesim.drill_motion(d, x, settings={"tempo_s": 5.0}, **KW)
    assert np.isclose(slow.attrs["cycle_period_s"] - fast.attrs["cycle_period_s"], 3.0)
    # the same postures, reached more slowly: the peak joint speed drops
    for q in ("hip_flexion_r", "knee_angle_r"):
        a, b = _q(fast, q), _q(slow, q)
        assert np.isclose(a.max(), b.max()) and np.isclose(a.min(), b.min())
    # lengthening: hip flexion rising (RDL), knee flexion falling (Nordic, Extender)
    joint, sign = ("hip_flexion_r", 1.0) if name == "romanian_deadlift" else ("knee_angle_r", -1.0)
    speed = [(sign * np.gradient(_q(ds, joint), 1 / 200.0)).max() for ds in (fast, slow)]
    assert speed[1] < 0.5 * speed[0]
    # the excitation follows the same schedule: its segments are as long as the motion's
    src = musclesim.drill_excitation(d, x, settings={"tempo_s": 5.0})
    t = slow["time"].values
    u = src(t, ["bflh_r"])[:, 0]
    assert np.isclose(t[-1], slow.attrs["cycle_period_s"], atol=0.01)
    levels = {
        repr(f["excitation"].get("bflh_r", f["excitation"].get("bflh")))
        for f in d.motion["keyframes"]
    }
    if len(levels) > 1:  # the key postures set different levels: the schedule shows in them
        assert np.ptp(u) > 0


def test_load_bm_moves_the_levels_the_file_makes_linear_in_it():
    t = np.linspace(0.0, 6.0, 601)
    light = musclesim.drill_excitation("calf_raise_slow_eccentric", 4.0)(t, ["gasmed_r"])
    heavy = musclesim.drill_excitation("calf_raise_slow_eccentric", 4.0, settings={"load_bm": 0.5})(
        t, ["gasmed_r"]
    )
    assert np.all(heavy >= light) and heavy.max() > light.max() + 0.2


def test_no_settings_is_the_files_defaults(drills):
    d = drills["romanian_deadlift"]
    a = musclesim.drill_motion(d, 0.5, **KW)
    b = musclesim.drill_motion(
        d, 0.5, settings={x.name: x.default for x in d.extra_dimensions}, **KW
    )
    assert np.array_equal(a["q"].values, b["q"].values)


@pytest.mark.parametrize(
    ("drill", "settings", "words"),
    [
        ("romanian_deadlift", {"tempo_s": 0.1}, "tempo_s 0.1 s is outside the range"),
        ("romanian_deadlift", {"speed": 3.0}, "has no dimension 'speed'"),
        ("romanian_deadlift", {"load_bm": 0.3}, "primary intensity"),
        ("running", {"range_fraction": 0.5}, "no [[dimensions]]"),
        ("nordic_hamstring", {"tempo_s": "slow"}, "is not a number"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_dimension(drill, settings, words):
    with pytest.raises(InputError, match=None) as err:
        musclesim.drill_motion(
            drill, musclesim.load_drills()[drill].intensity.default, settings=settings, **KW
        )
    assert words in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError):
        musclesim.drill_excitation(
            drill, musclesim.load_drills()[drill].intensity.default, settings=settings
        )


_BASE = """
name = "my_drill"
category = "strength"
[intensity]
name = "load_bm"
unit = "fraction of body mass"
min = 0.0
max = 1.0
default = 0.0
[dose]
sets = 1
reps = 1
[motion]
type = "keyframes"
[[motion.keyframes]]
dur_s = 1.0
hip_flexion_deg = 0.0
[[motion.keyframes]]
dur_s = DUR
hip_flexion_deg = 60.0
[excitation]
type = "constant"
levels = { default = 0.1 }
"""


@pytest.mark.parametrize(
    ("dims", "dur", "field", "words"),
    [
        ("", '"tempo_s"', "dimensions", "undeclared dimension(s) tempo_s"),
        (
            '[[dimensions]]\nname = "tempo_s"\nmin = 1.0\nmax = 3.0\ndefault = 2.0\n',
            "1.0",
            "dimensions",
            "change no number",
        ),
        (
            '[[dimensions]]\nname = "speed"\nmin = 1.0\nmax = 3.0\ndefault = 2.0\n',
            "1.0",
            "dimensions[0].name",
            "unknown dimension",
        ),
        (
            '[[dimensions]]\nname = "range_fraction"\nmin = 0.0\nmax = 1.0\ndefault = 1.0\n',
            "1.0",
            "dimensions[0]",
            "0 < min",
        ),
        (
            '[[dimensions]]\nname = "range_fraction"\nmin = 0.5\nmax = 1.0\ndefault = 1.0\n'
            "from_keyframe = 5\n",
            "1.0",
            "dimensions[0].from_keyframe",
            "key posture index",
        ),
        (
            '[[dimensions]]\nname = "tempo_s"\nunit = "ms"\nmin = 1.0\nmax = 3.0\ndefault = 2.0\n',
            '"tempo_s"',
            "dimensions[0].unit",
            "'s'",
        ),
    ],
)
def test_malformed_dimensions_name_file_and_field(tmp_path, dims, dur, field, words):
    text = _BASE.replace("DUR", dur).replace("[dose]", dims + "[dose]")
    path = tmp_path / "my_drill.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        musclesim.load_drills(path)
    assert err.value.field == field and str(path) in str(err.value)
    assert words in str(err.value)


def test_unknown_category_is_refused_and_a_users_file_without_one_is_read(tmp_path):
    path = tmp_path / "my_drill.toml"
    path.write_text(_BASE.replace("DUR", "1.0").replace('"strength"', '"yoga"'))
    with pytest.raises(InputError, match="category"):
        musclesim.load_drills(path)
    path.write_text(_BASE.replace("DUR", "1.0").replace('category = "strength"\n', ""))
    assert musclesim.load_drills(path)["my_drill"].category == "drill"


def test_askling_exercises_carry_the_trials_session_frequencies(drills):
    # Askling et al. 2013, L-protocol: Extender 3 x 12 twice a day, Diver 3 x 6 every other
    # day, Glider 3 x 4 every third day (the drill files' [[sources]] name where this is read)
    got = {
        n: (drills[n].dose.sets, drills[n].dose.reps, drills[n].dose.sessions_per_day)
        for n in ("askling_extender", "askling_diver", "askling_glider")
    }
    assert got["askling_extender"] == (3, 12, 2.0)
    assert got["askling_diver"] == (3, 6, 0.5)
    assert got["askling_glider"][:2] == (3, 4)
    assert np.isclose(got["askling_glider"][2], 1.0 / 3.0)
    assert drills["askling_glider"].dose.describe() == "3 × 4, every third day"
    assert drills["nordic_hamstring"].dose.sessions_per_day is None


@pytest.mark.parametrize(
    ("dose", "field"),
    [
        ("sessions_per_day = 0", "dose.sessions_per_day"),
        ("every_days = 0", "dose.every_days"),
        ("every_days = 2\nsessions_per_day = 1", "dose"),
    ],
)
def test_bad_session_frequency_names_the_field(tmp_path, dose, field):
    path = tmp_path / "my_drill.toml"
    path.write_text(_BASE.replace("DUR", "1.0").replace("reps = 1\n", f"reps = 1\n{dose}\n"))
    with pytest.raises(InputError) as err:
        musclesim.load_drills(path)
    assert err.value.field == field


def test_limit_words_state_the_bound_a_regression_keeps(drills):
    rdl, slow = drills["romanian_deadlift"], drills["calf_raise_slow_eccentric"]
    words = {d.name: d.limit_words(v) for d, v in zip(rdl.dimensions, (0.2, 0.7, 3.0), strict=True)}
    assert words == {
        "load_bm": "load ≤ 0.2 BM",
        "range_fraction": "range ≤ 70 %",
        "tempo_s": "tempo ≥ 3 s",
    }
    assert slow.dimensions[0].limit_words(5.0) == "tempo ≥ 5 s"
    assert drills["running"].dimensions[0].limit_words(7.2) == "speed ≤ 7.2 m/s"
