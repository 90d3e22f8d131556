"""Sensitivities of the criteria: gradients against central finite differences, the Sobol
estimator against a function whose indices are known in closed form, and the global indices
through the evaluation chain at a tiny size."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim.core.errors import InputError
from musclesim.core.io import MODELS_DIR
from musclesim.training.athlete import load_athlete
from musclesim.training.criteria import CRITERION_NAMES
from musclesim.training.drills import get_drill
from musclesim.training.rank import Case, athlete_model
from musclesim.training.uncertainty.sensitivity import (
    correlated_groups,
    drill_scenario,
    local_sensitivities,
    model_sampler,
    parameter_ranking,
    scenario_criteria,
    sobol_estimates,
    sobol_indices,
)
from musclesim.training.uncertainty.whatif import phase_bump

ATHLETE = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"
#: Relative step of the parameter finite differences. The criteria are maxima over samples
#: (piecewise smooth): a step of 1e-6 of the parameter moves each criterion by about 1e-6 of
#: itself, far less than the change between neighbouring samples, so the sample that attains
#: the maximum stays the same and the difference sees the smooth piece the gradient is on;
#: float64 round-off of the criteria (~1e-14 relative) stays near 1e-8 of the difference.
PARAM_STEP = 1e-6
#: Agreement of gradient and central difference: the solver's Newton iterations stop at a
#: fixed count, so the implicit-function gradient is that of the converged scheme and the
#: difference differs from it by the unconverged residual and the O(h^2) term; 1e-4 relative
#: is the tolerance of the fibre solver's own gradient test (tests/test_fiber_implicit.py).
FD_RTOL = 1e-4
#: Amplitude (rad) of the joint-angle finite difference along a smooth bump.
ANGLE_STEP = 1e-6


@pytest.fixture(scope="module")
def scenario():
    """The injured BFLH in running at 9 m/s, every fourth sample of the ranking's grid (64
    samples, two strides and a half): the same chain at a quarter of the cost."""
    am = athlete_model(load_athlete(ATHLETE))
    return drill_scenario(am, Case(get_drill("running"), 9.0, ())).every(4)


@pytest.fixture(scope="module")
def local(scenario):
    return local_sensitivities(scenario)


def test_scenario_criteria_loads_the_muscle(scenario):
    values = np.asarray(scenario_criteria(scenario))
    assert values.shape == (len(CRITERION_NAMES),)
    assert np.all(np.isfinite(values)) and np.all(values > 0)


def test_parameter_gradients_match_central_differences(scenario, local):
    names = (
        "optimal_fiber_length",
        "tendon_slack_length",
        "max_isometric_force",
        "pennation_angle_at_optimal",
        "tendon_strain_at_one_norm_force",
        "max_contraction_velocity",
    )
    base = scenario.parameters
    # every perturbed parameter set in one batch: +h and -h for each name
    rows = []
    for name in names:
        for sign in (1.0, -1.0):
            rows.append(base.replace(**{name: getattr(base, name) * (1 + sign * PARAM_STEP)}))
    batch = jax.tree.map(lambda *x: jnp.stack(x), *rows)
    values = np.asarray(scenario_criteria(scenario, batch)).reshape(len(names), 2, -1)
    for i, name in enumerate(names):
        h = float(getattr(base, name)) * PARAM_STEP
        fd = (values[i, 0] - values[i, 1]) / (2 * h)
        got = local["gradient"].sel(parameter=name).values
        scale = np.abs(local["value"].values) / float(getattr(base, name))
        for j, criterion in enumerate(CRITERION_NAMES):
            # a gradient far below the criterion's own scale is compared absolutely at it
            assert abs(got[j] - fd[j]) <= FD_RTOL * abs(fd[j]) + 1e-6 * scale[j], (
                name,
                criterion,
                got[j],
                fd[j],
            )


def test_trajectory_gradient_matches_a_directional_difference(scenario, local):
    bump = phase_bump(scenario.phase, (0.75, 0.95))
    coordinate = "hip_flexion_r"
    q = {c: jnp.asarray(v) for c, v in scenario.coordinates.items()}

    def shifted(a):
        out = dict(q)
        out[coordinate] = q[coordinate] + a * jnp.asarray(bump)
        return out

    batch = {c: jnp.stack([shifted(ANGLE_STEP)[c], shifted(-ANGLE_STEP)[c]]) for c in q}
    up, down = np.asarray(scenario_criteria(scenario, None, batch))
    fd = (up - down) / (2 * ANGLE_STEP)
    got = local["trajectory_gradient"].sel(coordinate=coordinate).values @ bump
    value = np.abs(local["value"].values)
    for j, criterion in enumerate(CRITERION_NAMES):
        assert abs(got[j] - fd[j]) <= FD_RTOL * abs(fd[j]) + 1e-9 * value[j], (
            criterion,
            got[j],
            fd[j],
        )
    assert np.any(np.abs(fd) > 0)


def test_elasticity_is_the_gradient_times_parameter_over_value(local):
    g = local["gradient"].values
    p = local["parameter_value"].values
    v = local["value"].values
    np.testing.assert_allclose(local["elasticity"].values, g * p[None] / v[:, None])


def test_tendon_slack_length_is_the_most_sensitive_parameter_of_active_stretch(local):
    # the published finding for fibre length (Ackland et al. 2012; Scovil & Ronsky 2006: the
    # tendon parameters among the most sensitive): here a property of the model, checked
    e = np.abs(local["elasticity"].sel(criterion="active_stretch"))
    assert str(e.idxmax("parameter").values) == "tendon_slack_length"


def test_sobol_estimator_recovers_the_indices_of_an_additive_function():
    # Y = 1 X1 + 2 X2 + 0 X3 with independent standard normals: S_i = a_i^2 / sum a^2,
    # first order = total (no interactions)
    rng = np.random.default_rng(0)
    n, a = 20000, np.array([1.0, 2.0, 0.0])
    xa, xb = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
    f = lambda x: x @ a  # noqa: E731
    f_ab = np.stack([f(np.where(np.arange(3) == i, xb, xa)) for i in range(3)])
    est = sobol_estimates(f(xa), f(xb), f_ab, bootstrap=50)
    expected = a**2 / np.sum(a**2)
    np.testing.assert_allclose(est["first_order"], expected, atol=0.03)
    np.testing.assert_allclose(est["total"], expected, atol=0.03)
    assert np.all(est["total_low"] <= est["total"] + 1e-12)
    assert np.all(est["total"] <= est["total_high"] + 1e-12)


def test_correlated_parameters_form_one_group():
    groups = correlated_groups()
    assert ("optimal_fiber_length", "tendon_slack_length") in groups
    assert sorted(k for g in groups for k in g) == sorted(set(k for g in groups for k in g))


def test_sobol_estimator_of_a_constant_output_is_zero():
    est = sobol_estimates(np.ones(8), np.ones(8), np.ones((2, 8)), bootstrap=5)
    assert np.all(est["first_order"] == 0) and np.all(est["total"] == 0)


def test_sobol_indices_through_the_chain_are_seeded(scenario):
    sampler, groups = model_sampler(), correlated_groups()
    key = jax.random.key(3)
    one = sobol_indices(scenario, sampler, 4, key=key, groups=groups, bootstrap=20, batch=32)
    two = sobol_indices(scenario, sampler, 4, key=key, groups=groups, bootstrap=20, batch=32)
    np.testing.assert_array_equal(one["total"].values, two["total"].values)
    assert one.attrs["evaluations"] == 4 * (one.sizes["parameter"] + 2)
    # the correlated l_opt and l_ts are one factor
    assert "optimal_fiber_length+tendon_slack_length" in one["parameter"].values
    assert np.all(np.isfinite(one["total"].values))
    ranking = parameter_ranking(one, "active_stretch")
    assert [r[1] for r in ranking] == sorted((r[1] for r in ranking), reverse=True)
    with pytest.raises(InputError, match="criterion"):
        parameter_ranking(one, "fibre_strain")
