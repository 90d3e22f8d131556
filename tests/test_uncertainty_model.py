"""The uncertainty model (musclesim.training.uncertainty.model): the shipped default cites only
registered references, user TOML overrides entries and bad entries are refused naming file and
field, the samplers are reproducible and give the stated spreads, correlations and smoothness,
and the factors land on the parameters with a leading sample axis."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from musclesim import InputError
from musclesim.core.citations import REFERENCES
from musclesim.muscle.parameters import MuscleParameters
from musclesim.training.uncertainty import (
    PARAMETER_NAMES,
    apply_factors,
    load_uncertainty,
    sample_coordinate_offsets,
    sample_excitation_scale,
    sample_factors,
)

KEY = jax.random.PRNGKey(7)


@pytest.fixture(scope="module")
def model():
    return load_uncertainty()


def test_default_entries_are_sourced(model):
    assert set(model.parameter_names) == set(PARAMETER_NAMES)
    assert model.references, "the default model cites nothing"
    unknown = [k for k in model.references if k not in REFERENCES]
    assert unknown == []
    for entry in (*model.parameters, *model.correlations, *model.kinematics):
        assert entry.references and entry.note, entry


def test_same_key_same_draws_and_another_key_others(model):
    a = sample_factors(model, KEY, 16)
    b = sample_factors(model, KEY, 16)
    c = sample_factors(model, jax.random.PRNGKey(8), 16)
    for name in PARAMETER_NAMES:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
        assert not np.array_equal(np.asarray(a[name]), np.asarray(c[name]))
    t = np.linspace(0.0, 0.5, 64)
    o1 = sample_coordinate_offsets(model, KEY, t, ["hip_flexion_r"], 4)
    o2 = sample_coordinate_offsets(model, KEY, t, ["hip_flexion_r"], 4)
    np.testing.assert_array_equal(np.asarray(o1["hip_flexion_r"]), np.asarray(o2["hip_flexion_r"]))
    np.testing.assert_array_equal(
        np.asarray(sample_excitation_scale(model, KEY, 5)),
        np.asarray(sample_excitation_scale(model, KEY, 5)),
    )


def test_factor_spread_and_correlation_sign(model):
    n = 20000
    logs = {k: np.log(np.asarray(v)) for k, v in sample_factors(model, KEY, n).items()}
    for p in model.parameters:
        # clipping at 3 SD removes 0.27 % of the mass: the SD is 1.3 % below sigma
        assert np.std(logs[p.name]) == pytest.approx(p.log_sigma, rel=0.04)
        assert abs(np.mean(logs[p.name])) < 4 * p.log_sigma / math.sqrt(n) + 1e-12
        assert np.all(np.abs(logs[p.name]) <= model.truncation_sd * p.log_sigma * (1 + 1e-9))
    rho = np.corrcoef(logs["optimal_fiber_length"], logs["tendon_slack_length"])[0, 1]
    stated = model.correlation_matrix()[
        model.parameter_names.index("optimal_fiber_length"),
        model.parameter_names.index("tendon_slack_length"),
    ]
    assert stated < 0, "a longer fibre in a fixed MTU length means a shorter tendon"
    assert rho == pytest.approx(stated, abs=0.02)
    independent = np.corrcoef(logs["pennation_angle_at_optimal"], logs["max_isometric_force"])
    assert abs(independent[0, 1]) < 0.03


def test_offsets_amplitude_and_smoothness(model):
    n, tau = 6000, model.correlation_time
    t = np.linspace(0.0, 1.0, 201)
    out = sample_coordinate_offsets(model, KEY, t, ["hip_flexion_r", "pelvis_tx"], n)
    hip = np.asarray(out["hip_flexion_r"])
    assert hip.shape == (n, t.size)
    assert np.all(np.asarray(out["pelvis_tx"]) == 0.0), "a coordinate in no group is certain"
    g = model.group_of("hip_flexion_r")
    total = math.hypot(g.offset, g.smooth)
    assert np.std(hip) == pytest.approx(total, rel=0.05)
    # covariance at lag tau: the offset's variance plus the smooth part's exp(-1/2)
    lag = int(round(tau / (t[1] - t[0])))
    r = np.corrcoef(hip[:, 50], hip[:, 50 + lag])[0, 1]
    expected = (g.offset**2 + g.smooth**2 * math.exp(-0.5)) / total**2
    assert r == pytest.approx(expected, abs=0.04)
    # neighbouring samples (5 ms apart, tau = 100 ms) move together: a smooth error
    assert np.corrcoef(hip[:, 50], hip[:, 51])[0, 1] > 0.99


def test_scaled_and_only(model):
    certain = model.scaled(0.0)
    f = sample_factors(certain, KEY, 8)
    assert all(np.all(np.asarray(v) == 1.0) for v in f.values())
    o = sample_coordinate_offsets(certain, KEY, np.linspace(0, 1, 10), ["knee_angle_r"], 3)
    assert np.all(np.asarray(o["knee_angle_r"]) == 0.0)
    assert np.all(np.asarray(sample_excitation_scale(certain, KEY, 4)) == 1.0)
    params_only = model.only("parameters")
    assert params_only.excitation_log_sigma == 0.0
    assert all(g.offset == 0 and g.smooth == 0 for g in params_only.kinematics)
    assert params_only.parameters == model.parameters
    with pytest.raises(InputError, match="kinds"):
        model.only("weather")


def test_apply_factors_adds_a_sample_axis(model):
    p = MuscleParameters(2600.0, 0.11, 0.38, 0.17)
    f = sample_factors(model, KEY, 6)
    q = apply_factors(p, f)
    assert q.optimal_fiber_length.shape == (6,)
    np.testing.assert_allclose(
        np.asarray(q.optimal_fiber_length), 0.11 * np.asarray(f["optimal_fiber_length"])
    )
    assert q.max_contraction_velocity.shape == (), "a certain leaf keeps its shape"
    per_muscle = MuscleParameters(np.array([2600.0, 1200.0]), 0.11, 0.38)
    assert apply_factors(per_muscle, f).max_isometric_force.shape == (6, 2)
    with pytest.raises(InputError, match="factors"):
        apply_factors(p, {"fiber_damping": np.ones(2)})


def test_user_file_overrides_entries(tmp_path, model):
    user = tmp_path / "mine.toml"
    user.write_text(
        "[parameters.optimal_fiber_length]\nlog_sigma = 0.1\n"
        "[kinematics.knee]\noffset_deg = 1.0\n"
        "[excitation]\nlog_sigma = 0.0\n"
    )
    m = load_uncertainty(user)
    assert m.log_sigma("optimal_fiber_length") == 0.1
    assert "mine.toml" in next(p.note for p in m.parameters if p.name == "optimal_fiber_length")
    assert m.log_sigma("max_isometric_force") == model.log_sigma("max_isometric_force")
    knee = m.group_of("knee_angle_r")
    assert knee.offset == pytest.approx(math.radians(1.0))
    assert knee.smooth == model.group_of("knee_angle_r").smooth
    assert m.excitation_log_sigma == 0.0
    assert "mine.toml" in m.source


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[parameters.fiber_damping]\nlog_sigma = 0.1\n", "parameters.fiber_damping"),
        ("[parameters.optimal_fiber_length]\nlog_sigma = -0.1\n", "log_sigma"),
        ("[parameters.optimal_fiber_length]\nlog_sigma = 'wide'\n", "log_sigma"),
        (
            "[[correlation]]\nbetween = ['optimal_fiber_length', 'tendon_slack_length']\n"
            "rho = 1.5\n",
            "correlation[0].rho",
        ),
        (
            "[[correlation]]\nbetween = ['optimal_fiber_length', 'nothing']\nrho = 0.5\n",
            "correlation[0].between",
        ),
        (
            # pairwise possible, jointly impossible: a and b, a and c, b and c all at -0.9
            "[[correlation]]\nbetween = ['optimal_fiber_length', 'tendon_slack_length']\n"
            "rho = -0.9\n[[correlation]]\nbetween = ['optimal_fiber_length', "
            "'max_isometric_force']\nrho = -0.9\n[[correlation]]\nbetween = "
            "['tendon_slack_length', 'max_isometric_force']\nrho = -0.9\n",
            "correlation",
        ),
        ("[kinematics]\ncorrelation_time_s = 0\n", "kinematics.correlation_time_s"),
        ("[kinematics.knee]\ncoordinates = 'knee_angle'\n", "kinematics.knee.coordinates"),
        (
            "[kinematics.extra]\ncoordinates = ['knee_angle']\noffset_deg = 1\nsmooth_deg = 1\n",
            "knee",
        ),
        ("[excitation]\nlog_sigma = 5\n", "excitation.log_sigma"),
        ("parameters = [", "not valid TOML"),
    ],
)
def test_bad_entries_name_file_and_field(tmp_path, text, field):
    user = tmp_path / "bad.toml"
    user.write_text(text)
    with pytest.raises(InputError) as info:
        load_uncertainty(user)
    message = str(info.value)
    assert str(user) in message and field in message
    assert "\n" not in message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="nowhere.toml"):
        load_uncertainty(tmp_path / "nowhere.toml")


def test_rank_options_and_a_bad_model_file_refused_before_ranking(tmp_path):
    import argparse

    from musclesim.cli import uncertainty as cli

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=str)
    parser.add_argument("--athlete", type=str)
    cli.add_arguments(parser)
    args = parser.parse_args([])
    assert args.uncertainty == 0 and args.seed == 0 and 0 < args.max_exceedance < 1
    cli.check_outputs(args)  # off: nothing to check
    bad = tmp_path / "bad.toml"
    bad.write_text("[excitation]\nlog_sigma = -1\n")
    args = parser.parse_args(["--uncertainty", "8", "--uncertainty-model", str(bad)])
    with pytest.raises(InputError, match="excitation.log_sigma"):
        cli.check_outputs(args)
    csv, png = cli.output_paths(tmp_path / "rank.csv")
    assert csv.name == "rank_uncertainty.csv" and png.name == "rank_uncertainty.png"
