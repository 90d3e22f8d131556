"""Geometry surrogates against OpenSim on identical poses (needs the opensim extra).

Tolerances (those of :mod:`musclesim.geometry.records`): MTU length RMS <= 0.5 mm and max <= 2 mm on
random poses inside the stated domain; moment arms of the hamstrings and calf RMS <= 1 mm against
-dL/dq of OpenSim's lengths. The full report over every measured trial is
``validation/geometry.py``.
"""

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
    arms = np.asarray(model.moment_arm(qj))[:, :, model.coordinates.index(knee)]
    assert np.sqrt(np.mean((arms - fd) ** 2)) <= 1e-3


@pytest.mark.slow
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
