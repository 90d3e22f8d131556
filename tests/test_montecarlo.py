"""Monte Carlo through the evaluation chain (musclesim.training.uncertainty.montecarlo) at a
tiny size (a few samples of one drill): the same seed gives identical numbers whatever the
chunk size, a model without spread reproduces the ranking's deterministic evaluation of the
drill and of its references, limits far above and far below every sample give exceedance
probabilities 0 and 1, the ranking's uncertainty table, CSV and figure hold no NaN, and the
benchmark runs at its tiny size."""

from __future__ import annotations

import datetime
import types

import numpy as np
import pytest

from musclesim.cli import main
from musclesim.core.io import MODELS_DIR
from musclesim.training.athlete import load_athlete
from musclesim.training.criteria import CRITERION_NAMES
from musclesim.training.drills import load_drills
from musclesim.training.rank import (
    GRID_POINTS,
    Case,
    athlete_model,
    evaluate_cases,
    reference_cases,
    running_envelope,
)
from musclesim.training.uncertainty import (
    UNCERTAIN_STATUSES,
    exceedance_probability,
    load_uncertainty,
    monte_carlo,
    plot_uncertainty,
    rank_uncertainty,
    sample_limits,
    sample_utilisation,
    write_uncertainty_csv,
)

N = 6
DRILL = "nordic_hamstring"


@pytest.fixture(scope="module")
def setting():
    athlete = load_athlete(MODELS_DIR / "athletes" / "example_grade2_bflh.toml")
    day = athlete.injury_date + datetime.timedelta(days=20)
    library = load_drills()
    am = athlete_model(athlete.state_on(day))
    d = library[DRILL]
    case = Case(d, float(d.intensity.default), tuple(sorted(d.check_settings(None).items())))
    return athlete, day, library, am, case


@pytest.fixture(scope="module")
def result(setting):
    _, _, library, am, case = setting
    return monte_carlo(am, [case], N, seed=11, drills=library, chunk=N)


def test_same_seed_same_numbers_whatever_the_chunk(setting, result):
    _, _, library, am, case = setting
    again = monte_carlo(am, [case], N, seed=11, drills=library, chunk=N // 2)
    other = monte_carlo(am, [case], N, seed=12, drills=library, chunk=N)
    for c in CRITERION_NAMES:
        np.testing.assert_array_equal(again.values[c], result.values[c])
        np.testing.assert_array_equal(again.reference[c], result.reference[c])
    assert not np.array_equal(other.values["peak_force"], result.values["peak_force"])
    for c in CRITERION_NAMES:
        assert result.values[c].shape == (1, N) and np.all(np.isfinite(result.values[c]))
    # the samples differ: the spread reaches the criteria
    assert np.ptp(result.values["peak_force"]) > 0


def test_without_spread_it_is_the_deterministic_evaluation(setting):
    _, _, library, am, case = setting
    certain = monte_carlo(
        am, [case], N, model=load_uncertainty().scaled(0.0), seed=0, drills=library, chunk=N
    )
    det = evaluate_cases(am, [case], drills=library)
    envelope = running_envelope(
        evaluate_cases(am, reference_cases(am, library), drills=library), am
    )
    for c in CRITERION_NAMES:
        # float32 evaluations in batches of different size agree to about 1e-5 relative
        np.testing.assert_allclose(certain.values[c][0], det[c][0], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(certain.reference[c], envelope[c], rtol=1e-4, atol=1e-7)


def test_limits_far_above_and_below(result):
    far = {c: 1e9 for c in CRITERION_NAMES}
    none = {c: 1e-9 for c in CRITERION_NAMES}
    above = types.SimpleNamespace(fractions=far, values=far, pain_free_strain=None)
    below = types.SimpleNamespace(fractions=none, values=none, pain_free_strain=None)
    u_above, u_below = sample_utilisation(result, above), sample_utilisation(result, below)
    for c in CRITERION_NAMES:
        assert exceedance_probability(u_above[c])[0] == 0.0
        # every positive value is over a vanishing limit; a value <= 0 uses none of any limit
        expected = np.mean(result.values[c][0] > 0)
        assert exceedance_probability(u_below[c])[0] == pytest.approx(expected)
    assert exceedance_probability(u_below["peak_force"])[0] == 1.0
    # a limit set by a measured pain-free pose does not move with the samples
    fixed = types.SimpleNamespace(fractions=far, values=far, pain_free_strain=0.05)
    np.testing.assert_array_equal(sample_limits(result, fixed)["end_range_length"], 1e9)
    scaled = sample_limits(result, above)["peak_force"]
    np.testing.assert_allclose(scaled, 1e9 * result.reference["peak_force"])


def test_rank_uncertainty_outputs(setting, tmp_path):
    athlete, day, library, _, _ = setting
    ds = rank_uncertainty(athlete, day=day, names=[DRILL], n=4, seed=3, drills=library, chunk=4)
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":
            assert not np.isnan(var.values).any(), name
    assert set(ds["status"].values) <= set(UNCERTAIN_STATUSES)
    p = ds["exceedance_probability"].values
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(ds["utilisation_low"].values <= ds["utilisation_high"].values)
    p_any = float(ds["exceedance_probability_any"].values[0])
    assert p_any >= p.max() - 1e-12
    if p_any > ds.attrs["max_exceedance"]:
        assert ds["status"].values[0] == UNCERTAIN_STATUSES[1]
    csv = write_uncertainty_csv(ds, tmp_path / "u.csv")
    text = csv.read_text()
    assert "nan" not in text.lower()
    assert len([ln for ln in text.splitlines() if ln.startswith(DRILL)]) == len(CRITERION_NAMES)
    png = plot_uncertainty(ds, tmp_path / "u.png")
    from PIL import Image

    meta = Image.open(png).text
    assert "samples" in meta["Source"] and "musclesim" in meta["Software"]


def test_benchmark_tiny_size():
    from experiments.benchmark_uncertainty import build, run

    out = run(build(samples=4, drills=1, chunk=4))
    assert out["finite"]
    assert out["evaluations"] == (1 + GRID_POINTS) * 4
    assert out["wall_s"] > 0 and out["extrapolated_full_wall_s"] > out["wall_s"]


def test_rank_command_with_uncertainty(tmp_path, capsys):
    """``musclesim rank --uncertainty N`` prints the exceedance table and writes its CSV and
    figure beside the ranking; a second run with the same seed writes the same CSV."""
    athlete = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"
    args = ["rank", "--athlete", str(athlete), "--date", "2026-11-22", "--drills", DRILL]
    args += ["--no-max-safe", "--uncertainty", "3", "--seed", "5"]
    texts = []
    for k in range(2):
        out = tmp_path / f"r{k}.csv"
        assert main([*args, "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "P(any>lim)" in printed and DRILL in printed
        csv = tmp_path / f"r{k}_uncertainty.csv"
        assert csv.is_file() and (tmp_path / f"r{k}_uncertainty.png").is_file()
        texts.append(csv.read_text())
    assert texts[0] == texts[1]
    assert "nan" not in texts[0].lower()


def test_a_muscle_the_model_cannot_represent_is_over_every_limit(setting):
    """Wide spreads draw tail muscles whose fibre would pass the curves' range at the bottom of
    a Romanian deadlift: they are found before solving (the batch goes on), and their drill
    values are infinite, so they count as over every limit."""
    _, _, library, am, _ = setting
    d = library["romanian_deadlift"]
    case = Case(d, float(d.intensity.default), tuple(sorted(d.check_settings(None).items())))
    wide = load_uncertainty().scaled(1.6)
    r = monte_carlo(am, [case], 96, seed=1, drills=library, chunk=96, model=wide)
    assert r.impossible.any() and not r.impossible.all()
    for c in CRITERION_NAMES:
        assert np.array_equal(np.isinf(r.values[c]), r.impossible)
    ones = {c: 1.0 for c in CRITERION_NAMES}
    limits = types.SimpleNamespace(fractions=ones, values=ones, pain_free_strain=None)
    u = sample_utilisation(r, limits)
    assert all(np.all(np.isinf(u[c][r.impossible])) for c in CRITERION_NAMES)
