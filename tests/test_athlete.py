"""Athlete profile: the shipped example, every malformed entry, and the parameter scaling rule."""

from __future__ import annotations

import datetime

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim import InputError, MuscleParameters
from musclesim.core.io import MODELS_DIR
from musclesim.training.athlete import (
    BAMIC_GRADES,
    REFERENCES,
    Athlete,
    load_athlete,
    scale_parameters,
    total_muscle_volume_handsfield2014,
)

EXAMPLE = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"
TODAY = datetime.date(2026, 11, 25)

GOOD = """\
name = "T"
[athlete]
height_m = 1.80
mass_kg = 75.0
max_sprint_speed_m_per_s = 9.6
[injury]
muscle = "bflh"
side = "right"
grade = "2b"
date = 2026-11-02
strength_deficit = 0.15
fascicle_length_ratio = 0.95
"""


def write(tmp_path, text, name="athlete.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_file_loads():
    a = load_athlete(EXAMPLE, today=TODAY)
    assert a.height == 1.80 and a.mass == 75.0 and a.max_sprint_speed == 9.6
    assert (a.muscle, a.side, a.grade) == ("bflh", "right", "2b")
    assert a.injury_date == datetime.date(2026, 11, 2)
    assert a.strength_deficit == 0.15 and a.fascicle_length_ratio == 0.95
    assert a.recovery_group == "hamstring" and a.grade_number == 2 and a.grade_site == "b"
    assert a.model_muscle_name() == "bflh_r"
    assert a.model_muscle_name("gait2392") == "bifemlh_r"
    assert a.days_since_injury(TODAY) == 23
    assert a.source == str(EXAMPLE)


def test_good_file_and_aliases(tmp_path):
    a = load_athlete(write(tmp_path, GOOD), today=TODAY)
    assert a.name == "T"
    text = GOOD.replace('muscle = "bflh"', 'muscle = "med_gas_r"')
    b = load_athlete(write(tmp_path, text), today=TODAY)
    assert b.muscle == "gastrocnemius_medialis" and b.recovery_group == "gastrocnemius"
    assert b.model_muscle_name() == "gasmed_r"
    c = load_athlete(write(tmp_path, GOOD.replace('grade = "2b"', 'grade = "3C"')), today=TODAY)
    assert c.grade == "3c"
    d = load_athlete(
        write(tmp_path, GOOD.replace("date = 2026-11-02", 'date = "2026-11-02"')), today=TODAY
    )
    assert d.injury_date == datetime.date(2026, 11, 2)
    # optional fields may be absent
    e = load_athlete(
        write(
            tmp_path,
            GOOD.replace("strength_deficit = 0.15\n", "").replace(
                "fascicle_length_ratio = 0.95\n", ""
            ),
        ),
        today=TODAY,
    )
    assert e.strength_deficit is None and e.fascicle_length_ratio is None


# (replace this, with that) -> (field named in the error, words in the error)
BAD = [
    ("height_m = 1.80\n", "", "athlete.height_m", "missing field"),
    ("mass_kg = 75.0\n", "", "athlete.mass_kg", "missing field"),
    ("max_sprint_speed_m_per_s = 9.6\n", "", "athlete.max_sprint_speed_m_per_s", "missing field"),
    ('muscle = "bflh"\n', "", "injury.muscle", "missing field"),
    ('side = "right"\n', "", "injury.side", "missing field"),
    ('grade = "2b"\n', "", "injury.grade", "missing field"),
    ("date = 2026-11-02\n", "", "injury.date", "missing field"),
    ("height_m = 1.80", "height_m = 180", "athlete.height_m", "centimetres"),
    ("height_m = 1.80", "height_m = 1800", "athlete.height_m", "implausible"),
    ("height_m = 1.80", 'height_m = "1.80"', "athlete.height_m", "wrong type"),
    ("height_m = 1.80", "height_m = true", "athlete.height_m", "wrong type"),
    ("mass_kg = 75.0", "mass_kg = -75.0", "athlete.mass_kg", "non-positive"),
    ("mass_kg = 75.0", "mass_kg = 0", "athlete.mass_kg", "non-positive"),
    ("mass_kg = 75.0", "mass_kg = 750", "athlete.mass_kg", "implausible"),
    ("mass_kg = 75.0", "mass_kg = nan", "athlete.mass_kg", "not finite"),
    (
        "max_sprint_speed_m_per_s = 9.6",
        "max_sprint_speed_m_per_s = 34.5",
        "athlete.max_sprint_speed_m_per_s",
        "km/h",
    ),
    (
        "max_sprint_speed_m_per_s = 9.6",
        "max_sprint_speed_m_per_s = 1.0",
        "athlete.max_sprint_speed_m_per_s",
        "implausible",
    ),
    ('grade = "2b"', 'grade = "5"', "injury.grade", "unknown grade"),
    ('grade = "2b"', 'grade = "5a"', "injury.grade", "unknown grade"),
    ('grade = "2b"', 'grade = "4a"', "injury.grade", "unknown grade"),
    ('grade = "2b"', 'grade = "0c"', "injury.grade", "unknown grade"),
    ('grade = "2b"', 'grade = "2"', "injury.grade", "lacks its site letter"),
    ('grade = "2b"', "grade = 2", "injury.grade", "lacks its site letter"),
    ('grade = "2b"', "grade = 2.5", "injury.grade", "wrong type"),
    ('muscle = "bflh"', 'muscle = "quadriceps"', "injury.muscle", "unknown muscle"),
    ('muscle = "bflh"', 'muscle = "bflh_l"', "injury.muscle", "says left"),
    ('muscle = "bflh"', "muscle = 3", "injury.muscle", "wrong type"),
    ('side = "right"', 'side = "both"', "injury.side", "unknown side"),
    ("date = 2026-11-02", "date = 2026-12-24", "injury.date", "in the future"),
    ("date = 2026-11-02", "date = 2026-11-02T10:00:00", "injury.date", "date and time"),
    ("date = 2026-11-02", 'date = "yesterday"', "injury.date", "not a date"),
    ("strength_deficit = 0.15", "strength_deficit = 15", "injury.strength_deficit", "percentage"),
    ("strength_deficit = 0.15", "strength_deficit = -0.1", "injury.strength_deficit", "negative"),
    (
        "fascicle_length_ratio = 0.95",
        "fascicle_length_ratio = 9.5",
        "injury.fascicle_length_ratio",
        "implausible",
    ),
    (
        "fascicle_length_ratio = 0.95",
        "fascicle_length_ratio = 0",
        "injury.fascicle_length_ratio",
        "non-positive",
    ),
    (
        "fascicle_length_ratio = 0.95",
        "fascicle_length_ratio = 0.95\ntarget_return_date = 2026-10-01",
        "injury.target_return_date",
        "not after the injury date",
    ),
    ("height_m = 1.80", "height_m = 1.80\nheigth = 1.8", "athlete.heigth", "unknown field"),
    ('name = "T"', 'name = "T"\nweight = 3', "weight", "unknown field"),
    ('name = "T"', "name = 3", "name", "wrong type"),
]


@pytest.mark.parametrize(("old", "new", "field", "words"), BAD)
def test_bad_athlete_file(tmp_path, old, new, field, words):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_athlete(path, today=TODAY)
    message = str(info.value)
    assert str(path) in message, message
    assert info.value.field == field, message
    assert words in message, message


def test_missing_section_file_and_bad_toml(tmp_path):
    path = write(tmp_path, GOOD.split("[injury]")[0])
    with pytest.raises(InputError, match=r"\[injury\]"):
        load_athlete(path, today=TODAY)
    with pytest.raises(InputError, match="no such file"):
        load_athlete(tmp_path / "nope.toml", today=TODAY)
    path = write(tmp_path, "height_m = = 3")
    with pytest.raises(InputError, match="not valid TOML") as info:
        load_athlete(path, today=TODAY)
    assert str(path) in str(info.value)


def test_future_date_uses_given_today(tmp_path):
    path = write(tmp_path, GOOD)
    load_athlete(path, today=datetime.date(2026, 11, 2))  # same day is fine
    with pytest.raises(InputError, match="in the future"):
        load_athlete(path, today=datetime.date(2026, 11, 1))


def test_every_bamic_grade_accepted(tmp_path):
    for grade in BAMIC_GRADES:
        a = load_athlete(write(tmp_path, GOOD.replace('"2b"', f'"{grade}"')), today=TODAY)
        assert a.grade == grade


def athlete(**kw):
    base = dict(
        height=1.80,
        mass=75.0,
        max_sprint_speed=9.6,
        muscle="bflh",
        side="right",
        grade="2b",
        injury_date=datetime.date(2026, 11, 2),
    )
    base.update(kw)
    return Athlete(**base)


def params3():
    # Rajagopal2016 BFLH, SEMITEN, GASMED (shared/data SOURCES.md 3.1)
    return MuscleParameters(
        jnp.array([1313.2, 591.3, 3115.5]),
        jnp.array([0.0976, 0.193, 0.051]),
        jnp.array([0.3252, 0.2472, 0.3987]),
        jnp.array([0.176, 0.241, 0.166]),
    )


def test_scaling_identity_at_reference():
    p = params3()
    out = scale_parameters(p, athlete(), reference_height=1.80, reference_mass=75.0)
    assert isinstance(out, MuscleParameters)
    for name, value in p.as_dict().items():
        np.testing.assert_allclose(out.as_dict()[name], value, rtol=1e-12)


def test_scaling_rule_values():
    p = params3()
    a = athlete(height=1.98, mass=90.0)
    out = scale_parameters(p, a, reference_height=1.80, reference_mass=75.0)
    s = 1.98 / 1.80
    np.testing.assert_allclose(out.optimal_fiber_length, p.optimal_fiber_length * s)
    np.testing.assert_allclose(out.tendon_slack_length, p.tendon_slack_length * s)
    v = (47.05 * 90 * 1.98 + 1289.6) / (47.05 * 75 * 1.80 + 1289.6)
    np.testing.assert_allclose(out.max_isometric_force, p.max_isometric_force * v / s)
    np.testing.assert_allclose(out.pennation_angle_at_optimal, p.pennation_angle_at_optimal)
    geo = scale_parameters(p, a, reference_height=1.80, reference_mass=75.0, force_rule="mass_2/3")
    np.testing.assert_allclose(
        geo.max_isometric_force, p.max_isometric_force * (90 / 75) ** (2 / 3)
    )
    assert total_muscle_volume_handsfield2014(75.0, 1.80) == pytest.approx(
        (47.05 * 75 * 1.8 + 1289.6) * 1e-6
    )


def test_injured_muscle_only():
    p = params3()
    a = athlete(strength_deficit=0.2, fascicle_length_ratio=0.9)
    out = scale_parameters(p, a, reference_height=1.80, reference_mass=75.0, injured_index=0)
    np.testing.assert_allclose(
        out.max_isometric_force, p.max_isometric_force * np.array([0.8, 1, 1])
    )
    np.testing.assert_allclose(
        out.optimal_fiber_length, p.optimal_fiber_length * np.array([0.9, 1, 1])
    )
    np.testing.assert_allclose(out.tendon_slack_length, p.tendon_slack_length)
    # unmeasured deficit and ratio change nothing
    same = scale_parameters(
        p, athlete(), reference_height=1.80, reference_mass=75.0, injured_index=2
    )
    np.testing.assert_allclose(same.max_isometric_force, p.max_isometric_force)
    # unbatched muscle
    one = scale_parameters(p[0], a, reference_height=1.80, reference_mass=75.0, injured_index=0)
    np.testing.assert_allclose(one.max_isometric_force, 1313.2 * 0.8)
    assert jnp.shape(one.max_isometric_force) == ()


def test_scaling_bad_inputs():
    p = params3()
    with pytest.raises(InputError, match="injured_index"):
        scale_parameters(p, athlete(), reference_height=1.8, reference_mass=75, injured_index=3)
    with pytest.raises(InputError, match="centimetres"):
        scale_parameters(p, athlete(), reference_height=180, reference_mass=75)
    with pytest.raises(InputError, match="force rule"):
        scale_parameters(p, athlete(), reference_height=1.8, reference_mass=75, force_rule="magic")


def test_scaling_is_jittable_and_vmappable():
    p = params3()
    a = athlete(strength_deficit=0.1)

    @jax.jit
    def f(params):
        return scale_parameters(params, a, reference_height=1.7, reference_mass=70, injured_index=0)

    out = f(p)
    batch = jax.vmap(lambda x: x)(jax.tree.map(lambda v: jnp.stack([v, v]), p))
    both = jax.vmap(f)(batch)
    np.testing.assert_allclose(both.max_isometric_force[1], out.max_isometric_force)


def test_references_are_data():
    for key, ref in REFERENCES.items():
        assert {"authors", "year", "title", "journal", "doi", "used_for"} <= set(ref), key
