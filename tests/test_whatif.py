"""Technique what-if: the bump, bad inputs refused by name, the prediction from derivatives
against re-simulation, and the smallest change that meets a limit."""

from __future__ import annotations

import numpy as np
import pytest

from musclesim.cli import main as cli_main
from musclesim.core.errors import InputError
from musclesim.core.io import MODELS_DIR
from musclesim.training.athlete import load_athlete
from musclesim.training.drills import get_drill
from musclesim.training.rank import Case, athlete_model
from musclesim.training.uncertainty.sensitivity import DEG, drill_scenario
from musclesim.training.uncertainty.whatif import (
    LIMIT_RTOL,
    check_change,
    parse_window,
    phase_bump,
    smallest_change,
    technique_whatif,
)

ATHLETE = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"
WINDOW = (0.75, 0.95)


@pytest.fixture(scope="module")
def scenario():
    """The injured BFLH in running at 9 m/s on every fourth sample of the ranking's grid."""
    am = athlete_model(load_athlete(ATHLETE))
    return drill_scenario(am, Case(get_drill("running"), 9.0, ())).every(4)


def test_bump_is_a_raised_cosine_over_the_window():
    phase = np.array([0.0, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, np.nan])
    b = phase_bump(phase, WINDOW)
    np.testing.assert_allclose(b[[0, 1, 5, 6, 7]], 0.0, atol=1e-15)
    np.testing.assert_allclose(b[3], 1.0)
    np.testing.assert_allclose(b[2], b[4])  # symmetric about the middle
    np.testing.assert_allclose(b[2], 0.5)


@pytest.mark.parametrize("text", ["75:95", "0.9:0.8", "0.5", "a:b", "-0.1:0.2"])
def test_bad_windows_are_refused(text):
    with pytest.raises(InputError, match="phase"):
        parse_window(text)


def test_degrees_given_as_radians_are_refused():
    with pytest.raises(InputError, match="radians"):
        check_change(-5.0)
    assert check_change(-5 * DEG) == pytest.approx(-5 * DEG)


def test_unknown_coordinate_is_refused_with_the_known_ones(scenario):
    with pytest.raises(InputError, match="hip_flexion_r") as info:
        technique_whatif(scenario, "ankle_angle_r", -5 * DEG, WINDOW)
    assert info.value.field == "coordinate"


def test_cli_refuses_a_percent_window_in_one_line(capsys):
    code = cli_main(
        [
            "whatif",
            "--drill",
            "running",
            "--athlete",
            str(ATHLETE),
            "--coordinate",
            "hip_flexion_r",
            "--phase",
            "75:95",
            "--change-deg",
            "-5",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "phase" in err


@pytest.fixture(scope="module")
def whatif(scenario):
    return technique_whatif(scenario, "hip_flexion_r", -1 * DEG, WINDOW)


@pytest.fixture(scope="module")
def whatif_double(scenario):
    return technique_whatif(scenario, "hip_flexion_r", -2 * DEG, WINDOW)


def test_prediction_error_is_of_third_order(whatif, whatif_double):
    # the criterion of the MTU length follows the geometry, nearly linear over a degree
    r = whatif.sel(criterion="end_range_length")
    assert float(r["resimulated_change"]) < 0  # less hip flexion: a shorter hamstring
    assert float(r["relative_error"]) < 0.01
    # the fibre's response is not linear in the change: the second-order series leaves an
    # error of third order (halving the change divides it by about 8; 6 to 10 allows
    # fourth-order terms), the first-order one an error of second order (about 4)
    for name in ("active_stretch", "peak_force"):
        full, half = whatif_double.sel(criterion=name), whatif.sel(criterion=name)
        second = abs(float(full["prediction_error"])) / abs(float(half["prediction_error"]))
        first = abs(float(full["first_order_error"])) / abs(float(half["first_order_error"]))
        assert 6.0 < second < 10.0, name
        assert 3.0 < first < 5.0, name
        assert abs(float(full["prediction_error"])) < abs(float(full["first_order_error"]))
    # the negative work integrates F v where v > 0: the samples where the fibre velocity
    # changes sign move with the change, an error that does not shrink with it, but small
    assert float(whatif.sel(criterion="active_negative_work")["relative_error"]) < 0.05


def test_directional_derivative_is_the_first_order_term(whatif):
    # where the same sample attains the maximum, A dc/dA is the first-order series' change
    r = whatif.sel(criterion="end_range_length")
    assert float(r["derivative_change"]) == pytest.approx(float(r["first_order_change"]), rel=1e-6)


def test_smallest_change_reaches_the_limit_from_below(scenario):
    target = technique_whatif(scenario, "hip_flexion_r", -3 * DEG, WINDOW)
    r = target.sel(criterion="end_range_length")
    limit = float(r["base"] + r["resimulated_change"])
    found = smallest_change(scenario, "hip_flexion_r", WINDOW, "end_range_length", limit)
    assert found.reachable
    assert limit - LIMIT_RTOL * (found.base - limit) <= found.value <= limit
    # each step goes to where the second-order model reaches the limit: the change at no
    # change and at the search bound, then one or two steps (a bisecting search needs ~10)
    assert found.iterations <= 5
    # -3 deg reaches the limit, so the smallest change is at most that (less where the
    # criterion stops falling once its peak leaves the window)
    assert -3.05 <= found.change_deg < 0
    again = technique_whatif(scenario, "hip_flexion_r", found.change, WINDOW)
    r = again.sel(criterion="end_range_length")
    assert float(r["base"] + r["resimulated_change"]) == pytest.approx(found.value, rel=1e-9)


def test_smallest_change_says_when_the_limit_is_out_of_reach(scenario, whatif):
    base = float(whatif.sel(criterion="end_range_length")["base"])
    found = smallest_change(
        scenario, "hip_flexion_r", WINDOW, "end_range_length", 0.5 * base, max_change=1 * DEG
    )
    assert not found.reachable and "cannot" in found.words
    already = smallest_change(scenario, "hip_flexion_r", WINDOW, "end_range_length", 2 * base)
    assert already.reachable and already.change == 0.0
