"""Excitation sources: constant, EMG envelope (synthetic signal with a known envelope, the real
Rajagopal EMG file, broken inputs), gait-phase templates (key phases, re-derivation from data)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import xarray as xr
from scipy.signal import butter, sosfiltfilt

from musclesim.core.citations import REFERENCES, format_reference
from musclesim.core.errors import InputError
from musclesim.excitation.sources import (
    TEMPLATE_PHASE,
    Constant,
    EMGEnvelope,
    _remap_phase,
    derive_emg_template,
    read_emg,
    split_muscle,
)
from musclesim.excitation.templates import (
    _RAJAGOPAL_RUN_PEAKS,
    _RAJAGOPAL_RUN_SHAPES,
    _RAJAGOPAL_RUN_TOE_OFF,
    RAJAGOPAL_RUN_FILE,
    _read_run_template,
    running_template,
    sprinting_template,
    template_for_speed,
)
from musclesim.motion.gait import GaitEvents
from musclesim.motion.read import read_motion

RUN = "kinematics/opensim-models_rajagopal_running/"


def test_split_muscle_both_families():
    assert split_muscle("bflh_r") == ("bflh", "r")
    assert split_muscle("bifemlh_l") == ("bflh", "l")
    assert split_muscle("med_gas_r") == ("gasmed", "r")
    assert split_muscle("lat_gas_l") == ("gaslat", "l")
    assert split_muscle("soleus_r") == ("soleus", "r")
    assert split_muscle("recfem_r") == ("recfem", "r")


def test_constant():
    u = Constant(0.25)(np.linspace(0, 1, 5), ["bflh_r", "soleus_l"])
    assert u.shape == (5, 2) and np.all(u == 0.25)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="level"):
            Constant(bad)


# ---------------------------------------------------------------- EMG


def _known_envelope(t):
    return 0.5 * (1 - np.cos(2 * np.pi * 1.5 * t))


def _synthetic_emg(fs=2000.0, seconds=4.0, seed=0):
    """Gaussian noise band-limited to 30-300 Hz, amplitude-modulated by a known envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fs)
    carrier = sosfiltfilt(
        butter(4, [30, 300], btype="bandpass", fs=fs, output="sos"), rng.standard_normal(t.size)
    )
    carrier /= np.std(carrier)
    offset = 0.3  # a DC offset that the band-pass must remove
    return t, _known_envelope(t) * carrier + offset


def _check_envelope(source, t, *, absolute=False):
    """Shape: correlation > 0.98 and < 15 % residual after the best scale factor; with
    ``absolute`` the envelope itself within 0.06 RMS of the known one.

    The tolerance is the estimator's own noise: |Gaussian| has variance/mean² = π/2 − 1 ≈ 0.57,
    and a 6 Hz low-pass of a 30–300 Hz carrier averages ≈ 270/(2·6·1.1) ≈ 20 independent
    values, leaving ≈ sqrt(0.57/20) ≈ 0.17 relative fluctuation where the envelope is high and
    less elsewhere; ~0.1 is what we see."""
    u = source(t, ["bflh_r"])[:, 0]
    truth = _known_envelope(t)
    inner = slice(len(t) // 8, -len(t) // 8)
    u, truth = u[inner], truth[inner]
    assert np.corrcoef(u, truth)[0, 1] > 0.98
    k = np.dot(u, truth) / np.dot(truth, truth)
    assert np.linalg.norm(u - k * truth) / np.linalg.norm(k * truth) < 0.15
    if absolute:
        assert np.sqrt(np.mean((u - truth) ** 2)) < 0.06


#: E|x| of a zero-mean Gaussian of unit RMS: the rectified, low-passed carrier's level, i.e. the
#: "MVC" amplitude that maps the synthetic signal's envelope onto the known one.
GAUSS_MEAN_ABS = float(np.sqrt(2 / np.pi))


def test_emg_processing_recovers_known_envelope_sto(tmp_path):
    t, emg = _synthetic_emg()
    path = tmp_path / "emg.sto"
    rows = "\n".join(f"{a:.6f}\t{b:.6f}" for a, b in zip(t, emg, strict=True))
    path.write_text(f"emg\nversion=1\nnRows={t.size}\nnColumns=2\nendheader\ntime\tBFLH\n{rows}\n")
    source = EMGEnvelope(path, processing="raw", band_hz=(20, 450), lowpass_hz=6)
    _check_envelope(source, t[200:-200])
    assert source.envelope.max() == pytest.approx(1.0)  # peak normalisation
    absolute = EMGEnvelope(path, normalize=GAUSS_MEAN_ABS)
    _check_envelope(absolute, t[200:-200], absolute=True)
    assert "band-pass 20-450 Hz" in source.describe() and "low-pass 6 Hz" in source.describe()


def test_emg_processing_mat_struct_and_mvc(tmp_path):
    t, emg = _synthetic_emg(seed=1)
    path = tmp_path / "emg.mat"
    scipy.io.savemat(path, {"emg": {"time": t, "BF": emg}})
    source = EMGEnvelope(path)
    _check_envelope(source, t[200:-200])
    # normalising to an MVC amplitude twice the trial peak halves the excitation
    peak = EMGEnvelope(path).envelope.max()
    half = EMGEnvelope(
        path, normalize={"BF": 2 * float(np.max(EMGEnvelope(path, normalize=1.0).normalized))}
    )
    np.testing.assert_allclose(half.envelope.max(), 0.5 * peak, rtol=1e-9)


def test_emg_c3d_analog(tmp_path):
    import ezc3d

    t, emg = _synthetic_emg(fs=1000.0, seconds=3.0, seed=2)
    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [100.0]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = ("M1",)
    c3d["parameters"]["ANALOG"]["RATE"]["value"] = [1000.0]
    c3d["parameters"]["ANALOG"]["LABELS"]["value"] = ("SOL",)
    c3d["parameters"]["ANALOG"]["UNITS"]["value"] = ("V",)
    c3d["data"]["points"] = np.ones((4, 1, 300))
    c3d["data"]["analogs"] = emg[None, None, :]
    path = tmp_path / "trial.c3d"
    c3d.write(str(path))
    source = EMGEnvelope(path, channel_map={"SOL": ("bflh",)})
    _check_envelope(source, t[100:-100])


def test_rajagopal_emg_file(data_dir):
    emg = read_emg(data_dir / RUN / "emg_run.mat")
    assert emg.sizes == {"time": 5590, "channel": 11}
    assert 1.0 / float(np.median(np.diff(emg["time"].values))) == pytest.approx(960.0)
    assert {"BFLH", "SM", "GASMED", "GASLAT", "SOL"} <= set(emg["channel"].values)
    source = EMGEnvelope(emg, processing="envelope")
    u = source(
        np.linspace(1.0, 2.0, 50), ["bflh_r", "semiten_r", "med_gas_r", "soleus_r", "bfsh_r"]
    )
    assert u.shape == (50, 5) and u.min() >= 0 and u.max() <= 1
    np.testing.assert_array_equal(u[:, 0], u[:, 4])  # bfsh follows the BFLH channel


def test_emg_errors(tmp_path, data_dir):
    source = EMGEnvelope(data_dir / RUN / "emg_run.mat", processing="envelope")
    with pytest.raises(InputError, match="side 'l'"):
        source([1.0, 2.0], ["bflh_l"])
    with pytest.raises(InputError, match="no EMG channel maps to muscle 'recfem_r'"):
        source([1.0, 2.0], ["recfem_r"])
    with pytest.raises(InputError, match="outside the EMG record"):
        source([5.0, 7.0], ["bflh_r"])
    with pytest.raises(InputError, match="unknown EMG file extension"):
        read_emg(tmp_path / "x.txt") if (tmp_path / "x.txt").write_text("1") else None
    empty = tmp_path / "e.mat"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_emg(empty)
    garbage = tmp_path / "g.mat"
    garbage.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(InputError, match="MATLAB"):
        read_emg(garbage)
    no_time = tmp_path / "nt.mat"
    scipy.io.savemat(no_time, {"BF": np.ones(10)})
    with pytest.raises(InputError, match="no time column"):
        read_emg(no_time)
    nan = tmp_path / "nan.mat"
    values = np.ones(10)
    values[4] = np.nan
    scipy.io.savemat(nan, {"time": np.arange(10.0), "BF": values})
    with pytest.raises(InputError, match=r"BF.*time 4 s"):
        read_emg(nan)
    unsorted = tmp_path / "unsorted.mat"
    scipy.io.savemat(unsorted, {"time": np.array([0.0, 2.0, 1.0]), "BF": np.ones(3)})
    with pytest.raises(InputError, match="decreasing time"):
        read_emg(unsorted)
    ragged = tmp_path / "ragged.mat"
    scipy.io.savemat(ragged, {"time": np.arange(10.0), "BF": np.ones(9)})
    with pytest.raises(InputError, match="different length"):
        read_emg(ragged)
    flat = tmp_path / "flat.mat"
    scipy.io.savemat(flat, {"time": np.arange(10.0), "BF": np.zeros(10)})
    with pytest.raises(InputError, match="no positive normalisation"):
        EMGEnvelope(flat, processing="envelope")


# ---------------------------------------------------------------- templates


def test_template_rederived_from_data(data_dir):
    derived = derive_emg_template(data_dir / RUN / "emg_run.mat", data_dir / RUN / "grf_run.mot")
    assert derived["n_cycles"] == 6
    assert derived["toe_off"] == pytest.approx(_RAJAGOPAL_RUN_TOE_OFF, abs=0.05)
    for key, shape in _RAJAGOPAL_RUN_SHAPES.items():
        np.testing.assert_allclose(derived["shapes"][key], shape, atol=6e-4)
        assert derived["cycle_peak"][key] == pytest.approx(_RAJAGOPAL_RUN_PEAKS[key], abs=6e-4)


def test_template_file_that_does_not_fit_the_phase_grid_is_refused(tmp_path):
    text = RAJAGOPAL_RUN_FILE.read_text()
    assert _read_run_template(RAJAGOPAL_RUN_FILE)["shapes"] == _RAJAGOPAL_RUN_SHAPES
    short = tmp_path / "short.toml"
    short.write_text(text.replace("    0.889,\n]", "]", 1))  # bflh loses its last phase
    with pytest.raises(InputError, match="shape.bflh"):
        _read_run_template(short)
    shifted = tmp_path / "shifted.toml"
    shifted.write_text(text.replace("0.0, 2.0, 4.0,", "1.0, 2.0, 4.0,", 1))
    with pytest.raises(InputError, match="phase_percent"):
        _read_run_template(shifted)
    no_peak = tmp_path / "no_peak.toml"
    no_peak.write_text(text.replace("soleus = 0.433\n", "", 1))
    with pytest.raises(InputError, match="one peak per shape"):
        _read_run_template(no_peak)


def test_running_template_key_phases():
    run = running_template()
    for key in ("bflh", "semimem", "semiten", "bfsh"):
        values = run.at_phase(key, TEMPLATE_PHASE)
        # hamstrings: peak in early stance (0-6 %), rising through late swing, quiet in early swing
        assert TEMPLATE_PHASE[np.argmax(values)] <= 6
        assert run.at_phase(key, 98.0) > 0.6 * values.max()
        assert run.at_phase(key, 65.0) < 0.1 * values.max()
    for key in ("gasmed", "gaslat", "soleus"):
        values = run.at_phase(key, TEMPLATE_PHASE)
        assert TEMPLATE_PHASE[np.argmax(values)] == pytest.approx(30.0)  # late stance
        assert run.at_phase(key, 75.0) < 0.1 * values.max()  # silent in mid swing
    assert run.at_phase("bflh", 4.0) == pytest.approx(_RAJAGOPAL_RUN_PEAKS["bflh"])


def test_sprint_template_and_speed_scaling():
    sprint = sprinting_template()
    assert sprint.at_phase("bflh", 4.0) == pytest.approx(1.0)
    assert sprint.at_phase("soleus", 30.0) == pytest.approx(1.0)
    slow = template_for_speed(3.0, max_speed=9.5)
    mid = template_for_speed(6.6, max_speed=9.5)
    fast = template_for_speed(9.5, max_speed=9.5)
    # the stance keeps the running EMG shape, its peak rising from the trial's own (below the
    # trial's speed) to full excitation (at maximal speed); the swing is tested in
    # test_sprint_swing.py
    run = running_template()
    stance = np.linspace(4.0, 30.0, 14)
    for key in run.shapes:
        shape = run.at_phase(key, stance) / run.peak[key]
        np.testing.assert_allclose(slow.at_phase(key, stance), run.at_phase(key, stance))
        np.testing.assert_allclose(fast.at_phase(key, stance), shape, atol=1e-12)
        middle = mid.at_phase(key, stance)
        assert np.all(run.at_phase(key, stance) <= middle + 1e-12) and np.all(middle <= shape)
        assert np.max(shape - middle) > 0.1 * np.max(shape)
    with pytest.raises(InputError, match="max_speed"):
        template_for_speed(3.0, max_speed=3.0)
    assert set(sprint.references) <= set(REFERENCES)
    for key in sprint.references:
        assert "doi:10." in format_reference(key)


def test_phase_remap_keeps_stance_on_stance():
    phase = np.array([0.0, 12.5, 25.0, 62.5, 100.0])
    mapped = _remap_phase(phase, np.full(5, 25.0), 35.7)
    np.testing.assert_allclose(mapped, [0.0, 17.85, 35.7, 35.7 + 0.5 * 64.3, 100.0])


def test_template_on_time_with_cycles():
    events = GaitEvents("r", np.array([1.0, 1.5, 2.0]), np.array([1.15, 1.65]), "synthetic")
    t = np.array([1.0, 1.15, 1.5, 1.575, 2.0])
    sprint = sprinting_template()
    u = sprint(t, ["bflh_r", "soleus_r"], cycles=events)
    toe = 30.0  # stance 0.15 s of a 0.5 s stride
    expected_bflh = [sprint.at_phase("bflh", p, toe_off=toe) for p in (0, 30, 0, 15, 0)]
    np.testing.assert_allclose(u[:, 0], expected_bflh)
    assert u[1, 1] == pytest.approx(sprint.shape("soleus", _RAJAGOPAL_RUN_TOE_OFF))
    with pytest.raises(InputError, match="no gait cycles for side 'l'"):
        sprint(t, ["bflh_l"], cycles=events)


def test_template_detects_cycles_from_motion(data_dir):
    motion = read_motion(data_dir / "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot")
    t = motion["time"].values
    u = sprinting_template()(t, ["bflh_r", "bflh_l", "med_gas_r"], motion=motion)
    assert u.shape == (t.size, 3)
    assert 0.0 <= u.min() and u.max() <= 1.0
    assert u[:, 0].max() > 0.95  # full excitation reached once per stride


def test_template_unknown_muscle():
    with pytest.raises(InputError, match="no pattern for 'recfem'"):
        running_template().at_phase("recfem", 10.0)


def test_emg_dataset_source(tmp_path):
    t = np.linspace(0, 1, 101)
    ds = xr.Dataset(
        {"emg": (("time", "channel"), np.stack([t, 2 * t], axis=1))},
        coords={"time": t, "channel": np.array(["BFLH", "SOL"], dtype=object)},
    )
    source = EMGEnvelope(ds, processing="envelope")
    np.testing.assert_allclose(source([0.5], ["bflh_r", "soleus_r"]), [[0.5, 0.5]])


def test_auto_processing_tells_raw_from_envelope(tmp_path, data_dir):
    envelope = EMGEnvelope(data_dir / RUN / "emg_run.mat")
    assert envelope.processing == "envelope" and "auto" in envelope.describe()
    t, emg = _synthetic_emg(seed=3)
    path = tmp_path / "raw.mat"
    scipy.io.savemat(path, {"time": t, "BFLH": emg})
    assert EMGEnvelope(path).processing == "raw"
