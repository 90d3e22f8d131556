"""``plot_result``: per muscle group and leg, over the gait cycle, mean ± SD, provenance kept."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from musclesim.pipeline.plot import CYCLE_GRID, cycle_mean_sd, cycles_of, plot_result


def _result(amplitudes=(1.0, 3.0), stride_s=1.0, rate_hz=100.0) -> xr.Dataset:
    """Two right strides of a sine whose amplitude differs between them, phase and stance as
    simulate writes them (0 % at foot strike, stance the first 40 %)."""
    n = int(len(amplitudes) * stride_s * rate_hz) + 1
    time = np.arange(n) / rate_hz
    phase = 100.0 * np.mod(time, stride_s) / stride_s
    phase[-1] = 100.0  # the last sample closes the second stride
    amplitude = np.asarray(amplitudes)[np.minimum((time // stride_s).astype(int), 1)]
    wave = amplitude * np.sin(2 * np.pi * phase / 100.0)
    muscles = ["bflh_r", "semiten_r", "soleus_r"]
    series = np.stack([wave, 2 * wave, -wave])
    attrs = {"units": "1", "long_name": "x"}
    return xr.Dataset(
        {
            "mtu_strain": (("muscle", "time"), 0.01 * series, attrs),
            "fiber_strain": (("muscle", "time"), 0.02 * series, attrs),
            "tendon_force": (("muscle", "time"), 100 * series, {"units": "N", "long_name": "F"}),
            "phase_r": ("time", phase),
            "stance_r": ("time", phase < 40.0),
        },
        coords={"time": time, "muscle": muscles},
        attrs={"model_name": "m", "motion_source": "/data/run.mot", "motion_sha256": "ab" * 32},
    )


def test_cycles_are_found_and_averaged():
    ds = _result()
    cycles = cycles_of(ds, "r")
    assert len(cycles) == 2
    mean, sd = cycle_mean_sd(ds, "mtu_strain", "bflh_r", cycles)
    expected = 0.01 * np.sin(2 * np.pi * CYCLE_GRID / 100.0)
    # amplitudes 1 and 3: mean 2, SD (population) 1, times the sine
    np.testing.assert_allclose(mean, 2 * expected, atol=2e-4)
    np.testing.assert_allclose(sd, np.abs(expected), atol=2e-4)


def test_a_cycle_cut_by_the_record_is_left_out():
    ds = _result().isel(time=slice(30, None))  # starts at 30 % of the first stride
    assert len(cycles_of(ds, "r")) == 1


def test_png_keeps_its_provenance_in_metadata(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    out = plot_result(_result(), tmp_path / "r.png")
    with Image.open(out) as image:
        text = dict(image.text)
    assert "ab" * 32 in text["Source"] and "/data/run.mot" in text["Source"]
    assert text["Title"] == "m along run.mot"
    assert [p.name for p in tmp_path.iterdir()] == ["r.png"]  # no temporary file left
