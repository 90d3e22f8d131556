"""Processing of a Motion Dataset: sampling rate, zero-lag low-pass filtering, resampling,
derivatives (q̇, q̈) and matching a motion's coordinates to a model's.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline, make_interp_spline
from scipy.signal import butter, sosfiltfilt

from ..core.errors import InputError
from .storage import UNIFORM_RTOL, _check_times


def sampling_rate(time: np.ndarray, *, path: str | Path | None = None) -> float:
    """The sampling rate (Hz) of uniformly sampled times; an InputError when they are not."""
    time = np.asarray(time, dtype=np.float64)
    if time.size < 2:
        raise InputError("fewer than two samples", path=path, field="time", expected="≥ 2 samples")
    steps = np.diff(time)
    dt = float(np.median(steps))
    if dt <= 0 or np.max(np.abs(steps - dt)) > UNIFORM_RTOL * dt:
        raise InputError(
            f"time steps range from {steps.min():.6g} to {steps.max():.6g} s",
            path=path,
            field="time",
            expected="uniform sampling (use resample_motion first)",
        )
    return 1.0 / dt


def _value_vars(ds: xr.Dataset) -> list[str]:
    return [name for name, var in ds.data_vars.items() if "time" in var.dims]


def filter_motion(
    motion: xr.Dataset,
    cutoff_hz: float,
    *,
    order: int = 4,
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """Zero-lag low-pass Butterworth filter along ``time``.

    A Butterworth filter of order ``order`` and design cutoff ``cutoff_hz`` is run forwards and
    backwards (``scipy.signal.sosfiltfilt``, odd-extension padding), so there is no phase lag;
    the combined response is |H(f)|², of order 2·``order``, with gain 0.5 (−6 dB) at
    ``cutoff_hz``, not −3 dB (Winter, *Biomechanics and Motor Control of Human Movement*, 4th
    ed. 2009, §3.4.4, doi:10.1002/9780470549148). Common choices for running kinematics are
    10–15 Hz, 4th order. The cutoff and order are recorded in the attributes
    ``filter_cutoff_hz`` / ``filter_order`` / ``filter``.

    Raises InputError for non-uniform sampling, a cutoff not below Nyquist, or a signal shorter
    than the filter's padding.
    """
    path = motion.attrs.get("source_path")
    fs = sampling_rate(motion["time"].values, path=path)
    if not (0 < cutoff_hz < fs / 2):
        raise InputError(
            f"cutoff {cutoff_hz} Hz",
            path=path,
            field="cutoff_hz",
            expected=f"0 < cutoff < Nyquist = {fs / 2:.6g} Hz",
        )
    if order < 1:
        raise InputError(f"order {order}", field="order", expected="an integer ≥ 1")
    sos = butter(order, cutoff_hz, btype="low", fs=fs, output="sos")
    padlen = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if motion.sizes["time"] <= padlen:
        raise InputError(
            f"{motion.sizes['time']} samples are too few for a {order}th-order zero-lag filter",
            path=path,
            field="time",
            expected=f"more than {padlen} samples",
        )
    out = motion.copy()
    for name in variables or _value_vars(motion):
        var = motion[name]
        axis = var.dims.index("time")
        out[name] = var.copy(data=sosfiltfilt(sos, var.values, axis=axis))
    out.attrs.update(
        filter="zero-lag Butterworth low-pass (scipy.signal.sosfiltfilt)",
        filter_cutoff_hz=float(cutoff_hz),
        filter_order=int(order),
    )
    return out


def resample_motion(
    motion: xr.Dataset,
    rate_hz: float | None = None,
    *,
    times: Iterable[float] | None = None,
) -> xr.Dataset:
    """Resample every time-dependent variable onto new times by cubic spline (not-a-knot).

    Give either ``rate_hz`` (uniform times from the first sample, spanning the record) or
    explicit ``times`` (s) inside the recorded range; extrapolation is refused.
    """
    path = motion.attrs.get("source_path")
    t = motion["time"].values
    if (rate_hz is None) == (times is None):
        raise InputError("give exactly one of rate_hz and times", field="resample_motion")
    if rate_hz is not None:
        if rate_hz <= 0:
            raise InputError(f"rate {rate_hz} Hz", field="rate_hz", expected="> 0")
        n = int(math.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1
        new_t = t[0] + np.arange(n) / rate_hz
    else:
        new_t = np.asarray(list(times), dtype=np.float64)
        _check_times(new_t, path="(requested times)")
    tol = 1e-9 * max(1.0, abs(t[-1]))
    if new_t[0] < t[0] - tol or new_t[-1] > t[-1] + tol:
        raise InputError(
            f"requested {new_t[0]:.6g}–{new_t[-1]:.6g} s lies outside the record "
            f"{t[0]:.6g}–{t[-1]:.6g} s",
            path=path,
            field="times",
            expected="times inside the recorded range (no extrapolation)",
        )
    if t.size < 2:
        raise InputError("fewer than two samples", path=path, expected="≥ 2 samples")
    new_t = np.clip(new_t, t[0], t[-1])
    data_vars = {}
    for name, var in motion.data_vars.items():
        if "time" not in var.dims:
            data_vars[name] = var
            continue
        axis = var.dims.index("time")
        spline = CubicSpline(t, var.values, axis=axis)
        data_vars[name] = (var.dims, spline(new_t), var.attrs)
    coords = {k: v for k, v in motion.coords.items() if "time" not in v.dims}
    coords["time"] = ("time", new_t, motion["time"].attrs)
    out = xr.Dataset(data_vars, coords=coords, attrs=dict(motion.attrs))
    out.attrs["resampled"] = "cubic spline (not-a-knot), scipy.interpolate.CubicSpline"
    return out


def motion_derivatives(motion: xr.Dataset, *, method: str = "spline") -> xr.Dataset:
    """Add coordinate speeds ``qdot`` (rad/s, m/s) and accelerations ``qddot`` (rad/s², m/s²).

    Methods:
        ``"spline"``: differentiate a quintic interpolating B-spline through the samples
            (``scipy.interpolate.make_interp_spline(k=5)``); smooth second derivatives, exact
            for polynomials up to degree 5. Filter noisy data first (:func:`filter_motion`).
        ``"gradient"``: second-order central finite differences (``numpy.gradient``,
            one-sided second-order at the ends), applied twice for ``qddot``.
    """
    if "q" not in motion:
        raise InputError("dataset has no 'q' variable", field="q", expected="a motion dataset")
    t = motion["time"].values
    q = motion["q"].values
    if method == "spline":
        if t.size < 6:
            raise InputError(
                f"{t.size} samples", field="time", expected="≥ 6 samples for a quintic spline"
            )
        spline = make_interp_spline(t, q, k=5, axis=0)
        qd, qdd = spline.derivative(1)(t), spline.derivative(2)(t)
    elif method == "gradient":
        if t.size < 3:
            raise InputError(f"{t.size} samples", field="time", expected="≥ 3 samples")
        qd = np.gradient(q, t, axis=0, edge_order=2)
        qdd = np.gradient(qd, t, axis=0, edge_order=2)
    else:
        raise InputError(
            f"unknown method {method!r}", field="method", expected="'spline' or 'gradient'"
        )
    out = motion.copy()
    dims = motion["q"].dims
    out["qdot"] = (
        dims,
        qd,
        {"units": "rad/s or m/s (per coordinate)", "long_name": "generalized speed"},
    )
    out["qddot"] = (
        dims,
        qdd,
        {"units": "rad/s^2 or m/s^2 (per coordinate)", "long_name": "generalized acceleration"},
    )
    out.attrs["derivative_method"] = method
    return out


def match_coordinates(
    motion: xr.Dataset,
    required_names: Iterable[str],
    *,
    path: str | Path | None = None,
) -> xr.Dataset:
    """The motion restricted to ``required_names``, in that order.

    Raises InputError naming the file, every missing coordinate (with the closest names the
    file does have) and the coordinates that were expected.
    """
    required = list(dict.fromkeys(required_names))
    available = [str(c) for c in motion["coordinate"].values]
    missing = [name for name in required if name not in available]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, available, n=2, cutoff=0.6)
            hints.append(f"{name} (closest in file: {', '.join(close)})" if close else name)
        raise InputError(
            f"missing coordinate(s): {'; '.join(hints)}",
            path=path or motion.attrs.get("source_path"),
            field="coordinate",
            expected="columns for every coordinate the model's muscles span: "
            + ", ".join(required),
        )
    return motion.sel(coordinate=required)
