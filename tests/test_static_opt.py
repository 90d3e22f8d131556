"""Static optimisation: closed-form cases, KKT conditions, batching, gradients, bad inputs,
activation-dynamics inversion, the excitation source, and OpenSim's Static Optimization."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import musclesim
from musclesim.dynamics.static_opt import (
    DEFAULT_MAX_ITERATIONS,
    crossing_muscles,
    excitation_from_activation,
    leg_coordinates,
    moments_array,
    solve_load_sharing,
    static_optimization,
)
from musclesim.excitation.static_optimization import StaticOptimization
from musclesim.muscle.state import activation_rate

SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"


def one_joint(b, tau, reserve=1.0, **kwargs):
    """One coordinate, muscles with moment-of-unit-activation b_m (A_m = |b_m|, r_m = sign)."""
    b = np.asarray(b, dtype=float)
    active = jnp.asarray(np.abs(b))
    arm = jnp.asarray(np.sign(b))[:, None]
    return solve_load_sharing(
        active, jnp.zeros_like(active), arm, jnp.asarray([tau]), reserve, **kwargs
    )


def test_two_agonists_closed_form():
    # minimise a1^2 + a2^2 + s^2 s.t. b1 a1 + b2 a2 + F s = tau: a_i = b_i tau / (|b|^2 + F^2)
    b, tau, f = np.array([300.0, 100.0]), 150.0, 1.0
    sol = one_joint(b, tau, f)
    denom = b @ b + f**2
    np.testing.assert_allclose(sol.activation, b * tau / denom, rtol=1e-12)
    np.testing.assert_allclose(sol.reserve_moment, [f**2 * tau / denom], rtol=1e-12)
    assert bool(sol.converged)


def test_antagonist_stays_off():
    # the muscle pulling the wrong way gets a = 0; the agonist a = b tau / (b^2 + F^2)
    sol = one_joint([200.0, -150.0], 60.0, 1.0)
    np.testing.assert_allclose(sol.activation, [200.0 * 60.0 / (200.0**2 + 1.0), 0.0], atol=1e-14)


def test_saturation_and_reserve_takes_the_deficit():
    # capacity 300 N m, demand 500 N m: every agonist at 1, the reserve supplies the rest
    sol = one_joint([200.0, 100.0], 500.0, 2.0)
    np.testing.assert_allclose(sol.activation, [1.0, 1.0], atol=1e-14)
    np.testing.assert_allclose(sol.reserve_moment, [200.0], rtol=1e-12)


def test_reserves_small_when_muscles_suffice():
    # feasible demand: the reserve moment is F^2 tau / (|b|^2 + F^2), negligible
    sol = one_joint([300.0, 100.0, 50.0], 120.0, 1.0)
    assert abs(float(sol.reserve_moment[0])) < 120.0 * 1.0 / (300.0**2)
    assert np.all(np.asarray(sol.activation) < 1.0)


def test_lower_bound_respected():
    sol = one_joint([200.0, -150.0], 60.0, 1.0, min_activation=0.01)
    a = np.asarray(sol.activation)
    assert a[1] == pytest.approx(0.01)
    # the agonist then covers the antagonist's 1.5 N m as well
    np.testing.assert_allclose(200.0 * a[0] - 1.5 + float(sol.reserve_moment[0]), 60.0, atol=1e-8)


@pytest.fixture(scope="module")
def sprint_inputs(data_dir):
    """Right-leg inputs of the 9 m/s sprint (40 muscles, 7 coordinates) and smooth moments
    (sinusoids of 30-150 N m, some beyond what the small muscles can give)."""
    motion = musclesim.motion_derivatives(
        musclesim.filter_motion(musclesim.read_motion(data_dir / SPRINT), 15.0)
    )
    motion = motion.isel(time=slice(100, 160))
    model = musclesim.load_model("sprinter_ja1")
    coords = leg_coordinates(model, "r")
    muscles = crossing_muscles(model, coords)
    sel = model.select(muscles)
    q = {c: jnp.asarray(motion["q"].sel(coordinate=c).values) for c in sel.coordinates}
    qd = {c: jnp.asarray(motion["qdot"].sel(coordinate=c).values) for c in sel.coordinates}
    t = motion["time"].values
    amp = np.array([150.0, 60.0, 30.0, 100.0, 80.0, 10.0, 5.0])
    tau = amp * np.sin(2 * np.pi * (t[:, None] - t[0]) * (1.0 + np.arange(len(coords))))
    with warnings.catch_warnings():  # a pose may leave a hip muscle's fit domain; not tested here
        warnings.simplefilter("ignore", musclesim.GeometryDomainWarning)
        result = static_optimization(
            model, q, qd, jnp.asarray(tau), coordinates=coords, on_failure="raise"
        )
    return result


def test_kkt_conditions_on_sprint(sprint_inputs):
    r = sprint_inputs
    s = r.solution
    a = np.asarray(s.activation)
    lam = np.asarray(s.multiplier)
    A = np.asarray(r.active_force)
    R = np.asarray(r.moment_arm)
    # bounds
    assert a.min() >= 0.0 and a.max() <= 1.0
    # primal feasibility: sum R F + reserve = tau
    produced = np.einsum("tmj,tm->tj", R, np.asarray(s.muscle_force)) + np.asarray(s.reserve_moment)
    np.testing.assert_allclose(produced, np.asarray(r.moments), atol=1e-6)
    # stationarity with bound multipliers of the right sign: 2a - A R lambda is >= 0 where
    # a = 0, <= 0 where a = 1 and 0 in between
    g = 2.0 * a - A * np.einsum("tmj,tj->tm", R, lam)
    scale = 1e-8
    assert np.all(g[(a > 1e-12) & (a < 1 - 1e-12)] ** 2 < scale)
    assert np.all(g[a <= 1e-12] > -scale)
    assert np.all(g[a >= 1 - 1e-12] < scale)
    # reserve stationarity: 2 s = F lambda with F = 1
    np.testing.assert_allclose(np.asarray(s.reserve_activation), lam / 2.0, rtol=1e-12)
    assert np.all(np.asarray(s.converged))
    assert np.asarray(s.iterations).max() < DEFAULT_MAX_ITERATIONS


def test_vmap_equals_loop(sprint_inputs):
    r = sprint_inputs
    args = (r.active_force, r.passive_force, r.moment_arm, r.moments)
    batch = solve_load_sharing(*args, 1.0)
    for i in (0, 17, 59):
        one = solve_load_sharing(*(x[i] for x in args), 1.0)
        np.testing.assert_allclose(one.activation, batch.activation[i], rtol=0, atol=1e-12)
    # trials x frames: two trials, the second with doubled moments, the same as alone
    two = solve_load_sharing(
        *(jnp.stack([x, x]) for x in args[:3]), jnp.stack([r.moments, 2 * r.moments]), 1.0
    )
    doubled = solve_load_sharing(*args[:3], 2 * r.moments, 1.0)
    np.testing.assert_allclose(two.activation[0], batch.activation, atol=1e-12)
    np.testing.assert_allclose(two.activation[1], doubled.activation, atol=1e-12)


def test_gradient_matches_finite_differences(sprint_inputs):
    r = sprint_inputs
    i = 30
    active, passive, arm, tau = (
        x[i] for x in (r.active_force, r.passive_force, r.moment_arm, r.moments)
    )
    weights = jnp.linspace(0.5, 1.5, active.shape[0])

    def loss(tau, scale):
        sol = solve_load_sharing(active * scale, passive, arm, tau, 1.0)
        return jnp.sum(weights * sol.muscle_force)

    g_tau, g_scale = jax.grad(loss, argnums=(0, 1))(tau, 1.0)
    h = 1e-4
    for j in range(tau.shape[0]):
        e = jnp.zeros_like(tau).at[j].set(h)
        fd = (loss(tau + e, 1.0) - loss(tau - e, 1.0)) / (2 * h)
        assert float(g_tau[j]) == pytest.approx(float(fd), rel=1e-5, abs=1e-6)
    fd = (loss(tau, 1.0 + h) - loss(tau, 1.0 - h)) / (2 * h)
    assert float(g_scale) == pytest.approx(float(fd), rel=1e-5)


def test_other_exponent_kkt():
    b, tau = np.array([300.0, 100.0, 40.0]), 150.0
    sol = one_joint(b, tau, 1.0, exponent=3.0)
    a = np.asarray(sol.activation)
    lam = float(sol.multiplier[0])
    # stationarity 3 a^2 = b lambda for interior activations
    np.testing.assert_allclose(3 * a**2, b * lam, rtol=1e-8)
    assert float(b @ a + sol.reserve_moment[0]) == pytest.approx(tau, abs=1e-7)


@pytest.mark.parametrize("exponent", [1.0, 0.5, float("nan"), "two", float("inf")])
def test_impossible_exponent(exponent):
    with pytest.raises(musclesim.InputError, match="exponent") as info:
        one_joint([100.0], 10.0, exponent=exponent)
    assert info.value.field == "exponent" and info.value.expected


def test_nan_moments_raise():
    with pytest.raises(musclesim.InputError, match="non-finite") as info:
        one_joint([100.0], float("nan"))
    assert info.value.field == "moments"


def test_bad_names_raise(data_dir):
    model = musclesim.load_model("sprinter_ja1")
    q = model.zero_pose((3,))
    with pytest.raises(musclesim.InputError, match="unknown coordinate") as info:
        static_optimization(model, q, q, np.zeros((3, 1)), coordinates=["knee_angle_x"])
    assert "knee_angle_r" in info.value.expected
    with pytest.raises(musclesim.InputError, match="unknown muscle"):
        static_optimization(
            model, q, q, np.zeros((3, 1)), coordinates=["knee_angle_r"], muscles=["bflh_x"]
        )
    with pytest.raises(musclesim.InputError, match="side"):
        leg_coordinates(model, "x")
    with pytest.raises(musclesim.InputError) as info:
        moments_array({"knee_angle_r": np.zeros(3)}, ["knee_angle_r", "hip_flexion_r"], [0, 1, 2])
    assert info.value.field == "moments"
    with pytest.raises(musclesim.InputError, match="non-finite") as info:
        moments_array(np.array([[np.nan]]), ["knee_angle_r"], [0.0])
    assert info.value.field == "moments[knee_angle_r]"


def test_excitation_inverts_activation_dynamics():
    params = musclesim.MuscleParameters(1000.0, 0.1, 0.2)
    params = musclesim.MuscleParameters.stack([params, params])
    t = np.linspace(0.0, 0.5, 501)
    # slow enough for every rate to be reachable with u in [0, 1] (deactivation is the limit)
    a = np.stack([0.3 + 0.1 * np.sin(2 * np.pi * 2 * t), 0.1 + 0.05 * t], axis=-1)
    u = excitation_from_activation(params, t, a)
    assert u.min() > 0.0 and u.max() < 1.0
    rate = np.asarray(activation_rate(params, jnp.asarray(u), jnp.asarray(a)))
    from scipy.interpolate import CubicSpline

    np.testing.assert_allclose(rate, CubicSpline(t, a, axis=0)(t, 1), atol=1e-9)


def test_excitation_clipped_when_unreachable():
    params = musclesim.MuscleParameters(1000.0, 0.1, 0.2)
    u = excitation_from_activation(
        params,
        np.array([0.0, 0.01]),
        np.array([[0.0], [0.0]]),
        activation_rate_hint=[[1e6], [-1e6]],
    )
    np.testing.assert_allclose(u[:, 0], [1.0, 0.0], atol=1e-12)


def test_source_interpolates_and_refuses():
    t = np.linspace(0.0, 1.0, 11)
    u = np.stack([t, 1.0 - t], axis=-1)
    source = StaticOptimization(t, ["bflh_r", "soleus_r"], u)
    assert isinstance(source, musclesim.ExcitationSource)
    np.testing.assert_allclose(
        source([0.25, 0.5], ["soleus_r", "bflh_r"]), [[0.75, 0.25]] * 1 + [[0.5, 0.5]]
    )
    with pytest.raises(musclesim.InputError, match="no static-optimisation solution") as info:
        source(t, ["bflh_l"])
    assert "bflh_r" in info.value.expected
    with pytest.raises(musclesim.InputError, match="inside the solved record"):
        source(t + 10.0, ["bflh_r"])
    with pytest.raises(musclesim.InputError, match="excitation"):
        StaticOptimization(t, ["bflh_r"], u)


@pytest.mark.slow  # compiles the leg problem and the compliant-tendon simulation (~50 s)
def test_source_with_simulate(data_dir):
    model = musclesim.load_model("sprinter_ja1")
    motion = musclesim.filter_motion(musclesim.read_motion(data_dir / SPRINT), 15.0)
    motion = motion.isel(time=slice(40, 90))  # right swing of the 9 m/s trial
    t = motion["time"].values
    coords = leg_coordinates(model, "r")
    tau = {c: 20.0 * np.sin(2 * np.pi * 4 * (t - t[0])) for c in coords}
    with warnings.catch_warnings():  # a pose may leave a hip muscle's fit domain
        warnings.simplefilter("ignore", musclesim.GeometryDomainWarning)
        source = StaticOptimization.from_motion(model, motion, tau, side="r")
    assert isinstance(source, musclesim.ExcitationSource)
    u = source(t[::2], ["bflh_r", "soleus_r"])
    assert u.shape == (len(t[::2]), 2) and u.min() >= 0 and u.max() <= 1
    assert "activation" in source.dataset and source.dataset["activation"].attrs["units"] == "1"
    with pytest.raises(musclesim.InputError, match="no static-optimisation solution"):
        source(t, ["bflh_l"])
    with pytest.raises(musclesim.InputError, match="inside the solved record"):
        source(t + 10.0, ["bflh_r"])
    ds = musclesim.simulate(model, motion, excitation=source, muscles=["bflh_r", "gasmed_r"])
    assert np.all(np.isfinite(ds["fiber_strain"].values))
    assert "StaticOptimization" in ds.attrs["excitation"]


@pytest.mark.opensim
@pytest.mark.slow
def test_against_opensim_static_optimization(data_dir, tmp_path):
    """Eight mid-swing frames of the 9 m/s sprint (every pose inside the geometry fit's
    domain): OpenSim's Static Optimization against musclesim's on the moments OpenSim
    enforced, by the validation command in its own process (its report passes only when the
    solver alone on OpenSim's own moment arms and forces agrees to IPOPT's tolerance, every
    frame converged, the whole pipeline is within 0.05 activation RMS and each hamstring's
    peak force within 10 %)."""
    from conftest import run_validation

    text = run_validation(
        "static_optimization", tmp_path, data_dir, "--max-frames", "8", "--skip-frames", "40"
    )
    assert "40 muscles x 8 frames" in text


@pytest.mark.slow  # two XLA compilations of the whole leg problem (about a minute on 2 cores)
def test_benchmark_tiny():
    """The benchmark command, tiny, in its own process: twice a full-suite run crashed inside
    this test's XLA compilation (it passes alone and with its file)."""
    import subprocess
    import sys

    from musclesim.core.io import REPO_ROOT

    command = [sys.executable, "-m", "experiments.benchmark_static_opt"]
    command += ["--frames", "8", "--trials", "2", "--no-opensim"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "all frames converged: True" in done.stdout
    rates = [line for line in done.stdout.splitlines() if line.endswith("frames/s")]
    assert len(rates) == 2 and all(" 0 frames/s" not in line for line in rates), done.stdout


@pytest.mark.slow  # compiles the JAX inverse dynamics and the leg problem (about a minute)
def test_from_motion_with_inverse_dynamics(data_dir):
    """The source takes musclesim's inverse-dynamics Dataset as it comes (``moment``,
    ``stance``, ``valid``) and its solution meets the moments to the tolerance."""
    import warnings

    from musclesim.dynamics.inverse import inverse_dynamics

    motion = musclesim.filter_motion(musclesim.read_motion(data_dir / SPRINT), 15.0)
    motion = motion.isel(time=slice(120, 150))  # right swing
    moments = inverse_dynamics(data_dir / "models/Sprinter_JA1_scaled.osim", motion, sides=("r",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", musclesim.GeometryDomainWarning)
        source = StaticOptimization.from_motion("sprinter_ja1", motion, moments, side="r")
    ds = source.dataset
    assert bool(ds["converged"].all())
    expected_valid = moments["valid"].sel(coordinate=list(ds.coordinate.values)).all("coordinate")
    np.testing.assert_array_equal(ds["moment_valid"].values, expected_valid.values)
    np.testing.assert_allclose(
        ds["moment"].values, moments["moment"].sel(coordinate=list(ds.coordinate.values)).values
    )
    assert "stance" in ds
