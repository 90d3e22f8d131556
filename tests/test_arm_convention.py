"""OpenSim's moment-arm convention (musclesim.geometry.fitting.arm_convention): file format,
evaluation, and the fit against OpenSim's computeMomentArm."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim.core.errors import InputError
from musclesim.geometry.corrections_io import (
    attach_corrections,
    carry_corrections,
    corrections_to_dataset,
    strip_corrections,
)
from musclesim.geometry.fitting.arm_convention import (
    ArmCorrection,
    _domain_of,
    _pair_arms,
    _poses_in_domain,
    _runs,
    evaluate_pieces,
    fit_correction,
    worth_keeping,
)
from musclesim.geometry.io import load_geometry_dataset, model_from_dataset
from musclesim.geometry.records import Threshold

jax.config.update("jax_enable_x64", True)


def _synthetic(ds, muscle="gaslat_r", coordinate="knee_angle_r"):
    """A correction of known coefficients: 2 mm + 3 mm T1(x_knee), plus 5 mm above 50 deg."""
    i = [str(m) for m in ds["muscle"].values].index(muscle)
    inputs, _, _ = _domain_of(ds, muscle)
    k = len(inputs)
    coef = np.zeros((2, math.comb(1 + k, k)))
    coef[0, 0] = 2e-3
    coef[0, 1 + inputs.index(coordinate)] = 3e-3  # graded order: the linear terms follow 1
    coef[1, 0] = 5e-3
    return ArmCorrection(
        muscle=muscle,
        coordinate=coordinate,
        inputs=inputs,
        center=ds["scale_center"].values[i, :k],
        half_width=ds["scale_half_width"].values[i, :k],
        degree=1,
        thresholds=[Threshold(coordinate, math.radians(50.0))],
        coefficients=coef,
    )


@pytest.fixture(scope="module")
def sprinter_ds():
    """The shipped sprinter without its corrections, and without its exact paths (whose
    convention is computed, not fitted: tests/test_geometry_path.py)."""
    from musclesim.geometry.path_io import strip_paths

    return strip_corrections(strip_paths(load_geometry_dataset("sprinter_ja1")))


@pytest.fixture(scope="module")
def corrected(sprinter_ds):
    fit = _synthetic(sprinter_ds)
    screen = {("gaslat_r", "knee_angle_r"): (0.3, 0.0, 0.01)}
    cds = corrections_to_dataset([fit], screen, {"test": True})
    return fit, attach_corrections(sprinter_ds, cds)


def _pose(model, knee_deg):
    knee = np.radians(np.asarray(knee_deg, dtype=float))
    q = {c: jnp.zeros(knee.shape) for c in model.coordinates}
    q["knee_angle_r"] = jnp.asarray(knee)
    q["ankle_angle_r"] = jnp.full(knee.shape, 0.1)
    return q


def test_opensim_convention_adds_the_fitted_correction_to_one_pair(corrected):
    fit, ds = corrected
    model = model_from_dataset(ds)
    q = _pose(model, [10.0, 45.0, 55.0, 90.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = np.asarray(model.moment_arm(q))
        conv = np.asarray(model.moment_arm(q, convention="opensim"))
        lengths, arms = model.mtu_length_and_moment_arm(q, convention="opensim")
    diff = conv - base
    mi, ci = model.muscles.index("gaslat_r"), model.coordinates.index("knee_angle_r")
    qk = np.stack([np.asarray(q[c]) for c in fit.inputs], axis=1)
    slots = [fit.inputs.index("knee_angle_r")]
    expected = evaluate_pieces(
        qk, fit.center, fit.half_width, 1, slots, [math.radians(50.0)], fit.coefficients
    )
    np.testing.assert_allclose(diff[:, mi, ci], expected, atol=1e-12)
    assert expected[2] - expected[1] > 4e-3  # the step piece is on above 50 deg
    diff[:, mi, ci] = 0.0
    assert np.all(diff == 0.0)
    np.testing.assert_allclose(np.asarray(arms), conv, atol=1e-12)
    np.testing.assert_allclose(np.asarray(lengths), np.asarray(model.mtu_length(q)), atol=0)


def test_correction_survives_select_jit_and_grad(corrected):
    _, ds = corrected
    model = model_from_dataset(ds)
    sub = model.select(["bflh_r", "gaslat_r"])
    assert sub.arm_correction_pairs == ((1, sub.coordinates.index("knee_angle_r")),)
    assert model.select(["bflh_r"]).arm_correction_pairs == ()
    q = _pose(sub, [30.0])
    full = np.asarray(model.moment_arm(_pose(model, [30.0]), convention="opensim"))
    part = np.asarray(sub.moment_arm(q, convention="opensim"))
    ci_full = model.coordinates.index("knee_angle_r")
    ci_sub = sub.coordinates.index("knee_angle_r")
    assert part[0, 1, ci_sub] == pytest.approx(full[0, model.muscles.index("gaslat_r"), ci_full])

    def arm(knee):
        pose = {c: jnp.zeros(()) for c in sub.coordinates}
        pose["knee_angle_r"] = knee
        return sub.moment_arm(pose, convention="opensim")[1, ci_sub]

    slope = jax.jit(jax.grad(arm))(0.5)
    h = 1e-6
    fd = float(arm(0.5 + h) - arm(0.5 - h)) / (2 * h)
    assert float(slope) == pytest.approx(fd, rel=1e-5)


def test_file_roundtrip_and_carry_over_a_refit(corrected, tmp_path, sprinter_ds):
    from musclesim.geometry.io import write_geometry

    _, ds = corrected
    path = write_geometry(ds, tmp_path / "g.nc")
    back = load_geometry_dataset(path)
    a = model_from_dataset(back)
    assert a.arm_convention_fitted and len(a.arm_corrections) == 1
    carried = carry_corrections(back, sprinter_ds)
    assert "arm_correction_settings" in carried.attrs
    np.testing.assert_array_equal(
        carried["arm_correction_coefficient"].values, ds["arm_correction_coefficient"].values
    )
    assert carry_corrections(sprinter_ds, sprinter_ds) is sprinter_ds


def test_merging_a_refit_keeps_the_convention(corrected, sprinter_ds):
    from musclesim.geometry.fitting.fit import merge_geometry

    _, ds = corrected
    merged = merge_geometry(ds, sprinter_ds, note="test")
    np.testing.assert_array_equal(
        merged["arm_correction_coefficient"].values, ds["arm_correction_coefficient"].values
    )
    assert model_from_dataset(merged).arm_correction_pairs == (
        model_from_dataset(ds).arm_correction_pairs
    )


def test_unfitted_file_and_unknown_convention_are_refused(sprinter_ds):
    model = model_from_dataset(sprinter_ds)
    q = _pose(model, [30.0])
    with pytest.raises(InputError, match="fit-arm-convention"):
        model.moment_arm(q, convention="opensim")
    with pytest.raises(InputError, match="convention"):
        model.moment_arm(q, convention="simbody")


def test_a_correction_of_an_unknown_muscle_is_refused(sprinter_ds):
    fit = _synthetic(sprinter_ds)
    cds = corrections_to_dataset([fit], {}, {})
    cds["arm_correction_muscle"] = ("correction", np.array(["nosuch_r"]))
    with pytest.raises(InputError, match="nosuch_r"):
        attach_corrections(sprinter_ds, cds)


def test_erratic_fits_are_rejected(sprinter_ds):
    fit = _synthetic(sprinter_ds)
    fit.uncorrected_rms, fit.heldout_rms = 6.5e-3, 0.2e-3  # the sprinter's gaslat
    assert worth_keeping(fit)
    fit.uncorrected_rms, fit.heldout_rms = 0.606, 0.606  # opencap glmax1 across wrap flips
    assert not worth_keeping(fit)
    fit.uncorrected_rms, fit.heldout_rms = 1.5e-3, 0.9e-3  # removes too little
    assert not worth_keeping(fit)
    cds = corrections_to_dataset([], {}, {}, [fit])
    assert "gaslat_r/knee_angle_r" in cds.attrs["arm_correction_settings"]
    assert cds.sizes.get("correction", 0) == 0


def test_runs_group_a_ramp_and_ignore_small_wiggles():
    d = np.zeros(40)
    d[20:] = 5e-3
    d[19] = 2.5e-3  # a step spread over two intervals
    d[30] += 0.4e-3  # wiggle
    assert _runs(d) == [(18, 20)]
    assert _runs(np.linspace(0.0, 3e-3, 40)) == []


def test_static_optimization_takes_the_convention(corrected):
    from musclesim.dynamics.static_opt import crossing_muscles, leg_coordinates, static_optimization

    _, ds = corrected
    model = model_from_dataset(ds)
    coords = leg_coordinates(model, "r")
    names = crossing_muscles(model, coords)
    needed = model.select(names).coordinates
    knee = np.radians([20.0, 40.0])
    q = {c: jnp.zeros(2) for c in needed}
    q["knee_angle_r"] = jnp.asarray(knee)
    qd = {c: jnp.zeros(2) for c in needed}
    tau = jnp.zeros((2, len(coords))).at[:, coords.index("knee_angle_r")].set(-40.0)
    out = {
        conv: static_optimization(model, q, qd, tau, coordinates=coords, moment_arm_convention=conv)
        for conv in ("length", "opensim")
    }
    gi, ki = names.index("gaslat_r"), coords.index("knee_angle_r")
    arm_diff = np.array(out["opensim"].moment_arm - out["length"].moment_arm)
    assert np.all(np.abs(arm_diff[:, gi, ki]) > 1e-4)
    arm_diff[:, gi, ki] = 0.0
    assert np.all(arm_diff == 0.0)
    assert not np.allclose(np.asarray(out["opensim"].activation), out["length"].activation)


# --------------------------------------------------------------------------------------------
# Against OpenSim.


@pytest.mark.slow
def test_fitted_correction_reproduces_opensim_compute_moment_arm(sprinter_ds, data_dir):
    """The sprinter's lateral gastrocnemius: computeMomentArm exceeds -dL/dq below ~52 deg of
    knee flexion; the fitted correction removes most of the difference on held-out poses."""
    pytest.importorskip("opensim")
    from musclesim.geometry.fitting.fit import OpenSimSampler

    sampler = OpenSimSampler(data_dir / "models" / "Sprinter_JA1_scaled.osim")
    fit = fit_correction(sampler, sprinter_ds, "gaslat_r", "knee_angle_r", samples=600, heldout=200)
    assert fit.uncorrected_rms > 4e-3
    assert fit.heldout_rms < 0.5e-3
    (step,) = fit.thresholds
    assert step.coordinate == "knee_angle_r"
    assert 50.5 < math.degrees(step.value) < 53.0


@pytest.mark.slow
def test_shipped_sprinter_convention_matches_opensim(data_dir):
    """The shipped file's OpenSim convention against computeMomentArm at random poses."""
    pytest.importorskip("opensim")
    from musclesim.geometry.fitting.fit import OpenSimSampler

    ds = load_geometry_dataset("sprinter_ja1")
    model = model_from_dataset(ds).select(["gaslat_r"])
    inputs, box, regions = _domain_of(ds, "gaslat_r")
    poses = _poses_in_domain(inputs, box, regions, 200, np.random.default_rng(7))
    sampler = OpenSimSampler(data_dir / "models" / "Sprinter_JA1_scaled.osim")
    ref = _pair_arms(sampler, poses, [("gaslat_r", "knee_angle_r")])[:, 0]
    q = {c: jnp.asarray(v) for c, v in poses.items()}
    ci = model.coordinates.index("knee_angle_r")
    conv = np.asarray(model.moment_arm(q, convention="opensim"))[:, 0, ci]
    length = np.asarray(model.moment_arm(q))[:, 0, ci]
    rms = float(np.sqrt(np.mean((conv - ref) ** 2)))
    assert rms < 1e-3
    assert float(np.sqrt(np.mean((length - ref) ** 2))) > 3 * rms
