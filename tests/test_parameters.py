import jax
import jax.numpy as jnp
import numpy as np
import pytest

from musclesim import InputError, MuscleParameters


def test_from_osim_reads_each_muscle_class(data_dir):
    # Values from ../shared/data/SOURCES.md section 3.1 (measured with OpenSim 4.6).
    dgf = MuscleParameters.from_osim(data_dir / "models/Sprinter_JA1_scaled.osim", "bflh_r")
    assert float(dgf.max_isometric_force) == pytest.approx(2626.4, abs=0.05)
    assert float(dgf.optimal_fiber_length) == pytest.approx(0.1116, abs=5e-5)
    assert float(dgf.passive_fiber_strain_at_one_norm_force) == pytest.approx(0.70687, abs=1e-5)
    assert float(dgf.fiber_damping) == pytest.approx(0.01)
    assert float(dgf.activation_dynamics_smoothing) == pytest.approx(0.1)  # OpenSim default

    millard = MuscleParameters.from_osim(
        data_dir / "models/Rajagopal2016.osim", ["bflh_r", "soleus_r"]
    )
    assert millard.shape == (2,)
    np.testing.assert_allclose(millard.max_isometric_force, [1313.18, 6194.8], atol=0.1)
    np.testing.assert_allclose(millard.passive_fiber_strain_at_one_norm_force, [0.7, 0.7])
    np.testing.assert_allclose(
        np.degrees(millard.pennation_angle_at_optimal), [10.08, 21.9], atol=0.05
    )

    thelen = MuscleParameters.from_osim(
        data_dir / "models/gait2392_thelen2003muscle.osim", ["bifemlh_r"]
    )
    np.testing.assert_allclose(thelen.tendon_strain_at_one_norm_force, [0.033])
    np.testing.assert_allclose(thelen.fiber_damping, [0.0])


def test_from_osim_errors_name_file_and_field(data_dir, tmp_path):
    model = data_dir / "models/Rajagopal2016.osim"
    with pytest.raises(
        InputError,
        match="Rajagopal2016.osim.*no muscle named 'bflh_x'",
    ):
        MuscleParameters.from_osim(model, ["bflh_x"])
    truncated = tmp_path / "truncated.osim"
    truncated.write_bytes(model.read_bytes()[:5000])
    with pytest.raises(InputError, match="truncated.osim.*malformed or truncated"):
        MuscleParameters.from_osim(truncated, "bflh_r")
    evil = tmp_path / "evil.osim"
    evil.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        "<OpenSimDocument><Model>&e;</Model></OpenSimDocument>"
    )
    with pytest.raises(InputError, match="unsafe XML"):
        MuscleParameters.from_osim(evil, "bflh_r")
    with pytest.raises(InputError, match="file not found"):
        MuscleParameters.from_osim(tmp_path / "missing.osim", "bflh_r")


def test_impossible_parameters_are_refused():
    with pytest.raises(InputError, match="optimal_fiber_length"):
        MuscleParameters(1000.0, -0.1, 0.3).check()
    with pytest.raises(InputError, match="pennation_angle_at_optimal"):
        MuscleParameters(1000.0, 0.1, 0.3, 1.6).check()
    with pytest.raises(InputError, match="max_isometric_force"):
        MuscleParameters(jnp.array([1000.0, jnp.nan]), 0.1, 0.3).check()


def test_batching_is_a_pytree():
    p = MuscleParameters(jnp.array([1000.0, 2000.0]), 0.1, jnp.array([0.3, 0.25]))
    assert p.shape == (2,)
    assert p[1].max_isometric_force == 2000.0
    doubled = jax.vmap(lambda q: q.max_isometric_force * q.optimal_fiber_length)(p.broadcast())
    np.testing.assert_allclose(doubled, [100.0, 200.0])
    assert p.replace(fiber_damping=0.1).fiber_damping == 0.1
    with pytest.raises(InputError, match="unknown parameter"):
        p.replace(fibre_damping=0.1)
