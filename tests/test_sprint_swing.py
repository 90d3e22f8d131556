"""Swing-phase excitation of running at speed: the shipped data's provenance, its reader and
writer, and how the swing joins the EMG stance (speed interpolation, fade, cross-fades)."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.derive_sprint_swing_template import (
    MODEL,
    MUSCLES,
    SWING_PHASE,
    swing_curves,
    to_toml,
)
from musclesim.core.errors import InputError
from musclesim.core.io import sha256_file
from musclesim.excitation.sprint_swing import (
    BLEND_HALF_WIDTH,
    JOINED_PHASE,
    SPRINT_SWING_FILE,
    read_sprint_swing,
    sprint_swing_data,
    swing_curve,
    swing_weight,
)
from musclesim.excitation.templates import (
    _RAJAGOPAL_RUN_TOE_OFF,
    RAJAGOPAL_RUN_SPEED,
    RUNNING_MIN_SPEED,
    running_template,
    sprinting_template,
    template_for_speed,
)
from musclesim.motion.gait import GaitEvents
from musclesim.training.drills.excitation import RunningExcitation

TOE = _RAJAGOPAL_RUN_TOE_OFF
SPRINT_SWING = sprint_swing_data()
TOP = float(SPRINT_SWING.speeds[-1])


def test_shipped_curves_name_their_sources_by_sha256(data_dir):
    text = SPRINT_SWING_FILE.read_text()
    assert sha256_file(data_dir / MODEL) in text
    assert len(SPRINT_SWING.files) == 4
    for rel, digest in zip(SPRINT_SWING.files, SPRINT_SWING.sha256, strict=True):
        assert sha256_file(data_dir / rel) == digest, rel
    assert np.all(np.diff(SPRINT_SWING.speeds) > 0)
    assert set(SPRINT_SWING.curves) == {m.removesuffix("_r") for m in MUSCLES}


def test_writer_and_reader_agree(tmp_path):
    rng = np.random.default_rng(0)
    trials = [
        {
            "file": f"trial{k}.mot",
            "sha256": f"{k:064x}",
            "speed": speed,
            "toe_off": 40.0 - 3 * k,
            "n_strides": 2,
            "activation": rng.uniform(0, 1, (SWING_PHASE.size, len(MUSCLES))),
            "activation_sd": rng.uniform(0, 0.1, (SWING_PHASE.size, len(MUSCLES))),
            "excitation": rng.uniform(0, 1, (SWING_PHASE.size, len(MUSCLES))),
            "swing_converged_fraction": 1.0,
        }
        for k, speed in enumerate((7.0, 3.5))  # written out of order, read sorted by speed
    ]
    (tmp_path / MODEL).parent.mkdir(parents=True)
    (tmp_path / MODEL).write_text("model")
    path = tmp_path / "swing.toml"
    path.write_text(to_toml(trials, tmp_path))
    read = read_sprint_swing(path)
    np.testing.assert_allclose(read.speeds, [3.5, 7.0])
    np.testing.assert_allclose(read.curves["bflh"][0], trials[1]["activation"][:, 0], atol=1e-4)
    np.testing.assert_allclose(read.toe_off, [37.0, 40.0])
    bad = path.read_text().replace(
        "[trial.activation]\nbflh = [", "[trial.activation]\nbflh = [2.0, "
    )
    path.write_text(bad)
    with pytest.raises(InputError, match=r"trial\.activation\.bflh"):
        read_sprint_swing(path)


def test_swing_curves_cut_each_complete_stride_from_toe_off_to_foot_strike():
    t = np.linspace(0.0, 2.0, 2001)
    values = np.stack([t, 2 * t], axis=1)
    events = GaitEvents("r", np.array([0.1, 0.6, 1.1]), np.array([0.25, 0.75]), "synthetic")
    curves, toe = swing_curves(t, values, events)
    assert curves.shape == (2, SWING_PHASE.size, 2)
    np.testing.assert_allclose(curves[0, [0, -1], 0], [0.25, 0.6])
    np.testing.assert_allclose(curves[1, [0, -1], 1], [1.5, 2.2])
    np.testing.assert_allclose(toe, [30.0, 30.0])


def test_swing_weight_is_one_in_swing_zero_in_stance_and_continuous():
    s = swing_weight(JOINED_PHASE, TOE)
    h = BLEND_HALF_WIDTH
    assert np.all(s[(JOINED_PHASE > h) & (JOINED_PHASE < TOE - h)] == 0.0)
    assert np.all(s[(JOINED_PHASE > TOE + h) & (JOINED_PHASE < 100 - h)] == 1.0)
    assert swing_weight(TOE, TOE) == pytest.approx(0.5)
    assert swing_weight(0.0, TOE) == pytest.approx(0.5) == swing_weight(100.0, TOE)
    step = JOINED_PHASE[1] - JOINED_PHASE[0]
    # raised cosine: slope at most pi / (4 h) per % of the stride
    assert np.max(np.abs(np.diff(s))) <= np.pi / (4 * h) * step + 1e-12


def test_sprint_takes_the_optimisation_swing_and_the_emg_stance():
    sprint, run = sprinting_template(), running_template()
    h = BLEND_HALF_WIDTH
    for key in ("bflh", "semimem", "soleus"):
        swing = swing_curve(key, TOP)
        p = np.array([TOE + h + 1.0, 70.0, 90.0, 100.0 - h - 0.5])
        frac = 100.0 * (p - TOE) / (100.0 - TOE)
        np.testing.assert_allclose(
            sprint.at_phase(key, p), np.interp(frac, SPRINT_SWING.swing_phase, swing), atol=2e-3
        )
        stance = np.array([h + 1.0, 10.0, 20.0, TOE - h - 0.5])
        np.testing.assert_allclose(
            sprint.at_phase(key, stance), run.at_phase(key, stance) / run.peak[key], atol=2e-3
        )


def test_joined_template_has_no_jump_at_toe_off_or_foot_strike():
    # joined J = (1 - s) E + s S, so from one phase sample to the next |dJ| <= |dE| + |dS| +
    # |ds| |S - E| with |ds| <= pi / (4 h) per % and |S - E| <= 1; a switch without cross-fade
    # would jump by |S - E| at the boundary instead
    sprint, run = sprinting_template(), running_template()
    p = JOINED_PHASE
    ds_max = np.pi / (4 * BLEND_HALF_WIDTH) * (p[1] - p[0])
    frac = np.where(p >= TOE, 100.0 * (p - TOE) / (100.0 - TOE), np.where(p < TOE / 2, 100.0, 0.0))
    for key in sprint.shapes:
        joined = sprint.at_phase(key, p)
        emg = run.at_phase(key, p) / run.peak[key]
        swing = np.interp(frac, SPRINT_SWING.swing_phase, swing_curve(key, TOP))
        # steps inside each sample interval, the wrap from 100 % to 0 % left out (same value)
        bound = np.abs(np.diff(emg)) + np.abs(np.diff(swing)) + ds_max
        bound[np.abs(np.diff(frac)) > 50] = (
            np.abs(np.diff(emg))[np.abs(np.diff(frac)) > 50] + ds_max
        )
        assert np.all(np.abs(np.diff(joined)) <= bound + 1e-9), key


def test_terminal_swing_hamstrings_rise_with_speed():
    late = np.linspace(TOE + 0.5 * (100 - TOE), 100.0 - BLEND_HALF_WIDTH, 30)
    fast = template_for_speed(TOP, max_speed=TOP)
    slow = template_for_speed(RAJAGOPAL_RUN_SPEED, max_speed=TOP)
    for key in ("bflh", "semiten", "semimem"):
        assert fast.at_phase(key, late).mean() > slow.at_phase(key, late).mean(), key


def test_below_the_fade_the_emg_template_is_kept():
    run = running_template()
    slowest = template_for_speed(RUNNING_MIN_SPEED, max_speed=TOP)
    p = np.linspace(0.0, 99.0, 100)
    for key in run.shapes:
        np.testing.assert_allclose(slowest.at_phase(key, p), run.at_phase(key, p), atol=1e-12)


def test_acceleration_follows_the_template_at_each_instantaneous_speed():
    src = RunningExcitation(8.0, max_speed=TOP, profile_tau=1.0)
    t = np.linspace(0.0, 4.0, 161)
    u = src(t, ["bflh_r", "semimem_r"])[:, 0]
    v, phase, toe, _, _ = src._timing(t)
    expected = [
        template_for_speed(max(vi, 0.1), max_speed=TOP).at_phase("bflh", p, toe_off=to)
        for vi, p, to in zip(v, phase % 100.0, toe, strict=True)
    ]
    # templates tabulated every 5 % of maximal speed, linear between
    np.testing.assert_allclose(u, expected, atol=0.03)
