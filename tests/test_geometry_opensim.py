"""Geometry surrogates against OpenSim on identical poses (needs the opensim extra).

Tolerances (those of :mod:`musclesim.geometry.records`): MTU length RMS <= 0.5 mm and max <= 2 mm on
random poses inside the stated domain; moment arms of the hamstrings and calf RMS <= 1 mm against
-dL/dq of OpenSim's lengths. The full report over every measured trial is
``validation/geometry.py``.
"""

import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from musclesim import load_model, muscle_group

pytestmark = pytest.mark.opensim


def _sampler(model, data_dir):
    from musclesim.core.io import sha256_file
    from musclesim.geometry.fitting.fit import OpenSimSampler

    path = data_dir / "models" / model.source_file
    assert sha256_file(path) == model.source_sha256
    return OpenSimSampler(path)


@pytest.mark.parametrize("name", ["sprinter_ja1", "hamner2010_subject02"])
def test_lengths_and_moment_arms_match_opensim(name, data_dir):
    model = load_model(name)
    focus = muscle_group("hamstrings_r", model.muscles) + muscle_group("calf_r", model.muscles)
    model = model.select(focus)
    sampler = _sampler(model, data_dir)
    rng = np.random.default_rng(7)
    lo = np.max(np.where(np.isfinite(model.domain_lower), model.domain_lower, -np.inf), axis=0)
    hi = np.min(np.where(np.isfinite(model.domain_upper), model.domain_upper, np.inf), axis=0)
    q = {c: rng.uniform(lo[k], hi[k], 40) for k, c in enumerate(model.coordinates)}
    ref = sampler.lengths(q, list(model.muscles))
    qj = {c: jnp.asarray(v) for c, v in q.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = np.asarray(model.mtu_length(qj)) - ref
    assert np.sqrt(np.mean(err**2)) <= 0.5e-3
    assert np.max(np.abs(err)) <= 2e-3
    # Moment arms about the knee against -dL/dq of OpenSim lengths (central differences).
    knee = "knee_angle_r"
    h = 1e-4
    up = sampler.lengths(dict(q, **{knee: q[knee] + h}), list(model.muscles))
    dn = sampler.lengths(dict(q, **{knee: q[knee] - h}), list(model.muscles))
    fd = -(up - dn) / (2 * h)
    # OpenSim's path is not differentiable where a wrap or a conditional path point switches
    # (the gait2392-family gastrocnemii near 45 deg of knee flexion): there the one-sided
    # differences disagree by far more than the curvature allows (h |L''| ~ 1e-5 m/rad), and
    # no moment arm is the reference. Such poses must stay rare (3 of 280 pairs of the sprinter).
    smooth = np.abs((up - ref) - (ref - dn)) / h <= 1e-3
    assert smooth.mean() >= 0.98
    arms = np.asarray(model.moment_arm(qj))[:, :, model.coordinates.index(knee)]
    assert np.sqrt(np.mean((arms - fd)[smooth] ** 2)) <= 1e-3


@pytest.mark.slow
def test_sampler_lengths_and_moment_arms_in_one_pass_equal_its_separate_loops(data_dir):
    """What the geometry benchmark times OpenSim on (the surrogate's outputs in one pass per
    pose) is the same numbers as its lengths and moment-arm loops."""
    model = load_model("sprinter_ja1")
    sampler = _sampler(model, data_dir)
    q = {"hip_flexion_r": np.array([0.2, 1.1]), "knee_angle_r": np.array([0.4, 1.6])}
    crossed = {"bflh_r": ["hip_flexion_r", "knee_angle_r"], "soleus_r": ["ankle_angle_r"]}
    lengths, arms = sampler.lengths_and_moment_arms(q, crossed)
    np.testing.assert_array_equal(lengths, sampler.lengths(q, list(crossed)))
    for j, (m, coordinates) in enumerate(crossed.items()):
        np.testing.assert_array_equal(arms[j], sampler.moment_arms(q, [m], coordinates)[:, 0])


def test_fit_geometry_command_on_one_muscle(data_dir, tmp_path):
    """The CLI end to end on a single one-coordinate muscle (a few seconds of sampling)."""
    from musclesim.cli import main

    out = tmp_path / "tiny.nc"
    rc = main(
        [
            "fit-geometry",
            str(data_dir / "models/Hamner2010_subject02_registered.osim"),
            "--name",
            "tiny",
            "--muscles",
            "bfsh_r",
            "--samples",
            "1500",
            "--heldout",
            "300",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    model = load_model(out)
    assert model.muscles == ("bifemsh_r",)
    assert model.coordinates == ("knee_angle_r",)
    assert dict(model.knee_flexion_sign)["knee_angle_r"] == -1
    assert float(model.heldout_max[0]) < 0.5e-3
    zero = model.mtu_length(model.zero_pose())
    np.testing.assert_allclose(zero, model.upright_length, atol=1e-4)


#: The four Dorn 2012 sprints (../shared/data/SOURCES.md 2.2): knee flexion to 152 deg, hip
#: flexion to -38 deg, beyond the advisory range of the generic Rajagopal model.
DORN_SPRINTS = ("run0350cms", "run0500cms", "run0700cms", "run0900cms")


def sprint_lengths(model, sampler, data_dir, trial, out_of_domain="refuse"):
    """(OpenSim, surrogate) lengths ``[frame, muscle]`` of ``model``'s muscles along a Dorn
    sprint mapped onto the model: its coordinates by name, each free coordinate of the model
    set from the trial, locked and coupled ones as the model defines them; by default the
    surrogate refuses a frame outside its fitted domain."""
    from musclesim.motion.read import read_motion

    path = data_dir / "kinematics/nimblephysics_dorn2012_sprinter" / f"{trial}.mot"
    motion = read_motion(path, model=sampler.path)
    names = [str(c) for c in motion["coordinate"].values]
    q = motion["q"].values.copy()
    # the sprinter's knee angles are positive in flexion; gait2392-family knees are negative
    signs = dict(model.knee_flexion_sign)
    for k, c in enumerate(names):
        q[:, k] *= signs.get(c, 1)
    free = [
        c
        for c in names
        if c in sampler.coordinates
        and not sampler.coordinates[c].dependent
        and not sampler.coordinates[c].locked
    ]
    ref = sampler.lengths({c: q[:, names.index(c)] for c in free}, list(model.muscles))
    qj = {c: jnp.asarray(q[:, names.index(c)]) for c in model.coordinates}
    return ref, np.asarray(model.mtu_length(qj, out_of_domain=out_of_domain))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rajagopal2016", "gait2392_subject01", "hamner2010_subject02"])
def test_models_follow_opensim_along_the_dorn_sprints(data_dir, name):
    """Hamstrings and calf of both legs of the models whose own range ends short of measured
    sprinting (knee 120 deg), fitted over the physiological box, against OpenSim on every frame
    of the four sprints: RMS <= 0.1 mm, max <= 0.5 mm (the trial tolerance of
    validation/geometry.py)."""
    model = load_model(name)
    focus = muscle_group("hamstrings", model.muscles) + muscle_group("calf", model.muscles)
    model = model.select(focus)
    sampler = _sampler(model, data_dir)
    err = np.concatenate(
        [np.subtract(*sprint_lengths(model, sampler, data_dir, t)[::-1]) for t in DORN_SPRINTS]
    )
    rms = np.sqrt(np.mean(err**2, axis=0))
    worst = np.max(np.abs(err), axis=0)
    assert len(focus) == 14
    assert np.all(rms <= 0.1e-3), dict(zip(model.muscles, rms, strict=True))
    assert np.all(worst <= 0.5e-3), dict(zip(model.muscles, worst, strict=True))


def test_sweeps_beyond_the_model_range_cover_the_physiological_box(data_dir):
    """experiments.path_flips --osim: OpenSim's hamstring paths of the generic model stay
    continuous where the physiological box extends the knee range past 120 deg (no step over
    1 mm between 0.5 deg neighbours), and the sweep reaches the box's 160 deg."""
    from experiments.path_flips import opensim_sweeps, sweep_report

    sweeps = opensim_sweeps(
        data_dir / "models/Rajagopal2016.osim", ["bflh_r", "semiten_r"], n_poses=2, step_deg=0.5
    )
    knee = [s for s in sweeps if s.coordinate == "knee_angle_r"]
    assert {round(math.degrees(s.values[-1])) for s in knee} >= {160}
    assert all((~s.inside).any() and s.inside.any() for s in knee)
    report = sweep_report(sweeps)
    for m in ("bflh_r", "semiten_r"):
        assert report[(m, "knee_angle_r")]["jumps"] == 0
        assert report[(m, "knee_angle_r")]["step_out"] < 1e-3
