"""Running: the measured sprint template and its interpolation across speed, steady running
and accelerations.

The template holds cycle-averaged joint angles and cadence measured on one sprinter (Dorn et al.
2012, subject JA1) at 3.54, 5.21, 7.02 and 9.51 m/s (``models/templates/running_sprinter_ja1.nc``,
derived by :func:`.derive.derive_running_template`). Across speed it is interpolated by a
monotone piecewise-cubic Hermite interpolant (PCHIP, Fritsch & Carlson 1980) written in
``jax.numpy`` (:func:`running_curves`, differentiable in speed); :func:`running_motion` repeats
the interpolated cycle at the interpolated stride frequency, and an acceleration follows a
mono-exponential speed profile (Furusawa, Hill & Parkinson 1927) through the same template.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ...core.errors import InputError
from .layout import _knee_signs, _motion_dataset, _template_tracks_to_values, _time_grid
from .template_file import TEMPLATES_DIR, _open_template

#: The shipped running template (derived by :func:`.derive.derive_running_template`).
RUNNING_TEMPLATE = TEMPLATES_DIR / "running_sprinter_ja1.nc"

#: Speeds (m/s) the running family accepts. The measured speeds span 3.54–9.51 m/s; between
#: 3.5 and 3.54 m/s the curves continue linearly along the end tangent of the interpolant.
RUNNING_SPEED_RANGE = (3.5, 9.5)


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Node derivatives of the Fritsch–Carlson monotone cubic (SciPy's PchipInterpolator rule).

    Interior: 0 where the neighbouring secants differ in sign or one is 0, else the weighted
    harmonic mean (w1 = 2h_k + h_{k−1}, w2 = h_k + 2h_{k−1}). Ends: the three-point
    shape-preserving formula. ``y`` has the node axis first.
    """
    h = np.diff(x)
    shape = (-1,) + (1,) * (y.ndim - 1)
    delta = np.diff(y, axis=0) / h.reshape(shape)
    d = np.zeros_like(y)
    if len(x) == 2:
        d[:] = delta[0]
        return d
    h0, h1 = h[:-1].reshape(shape), h[1:].reshape(shape)
    w1, w2 = 2 * h1 + h0, h1 + 2 * h0
    d0, d1 = delta[:-1], delta[1:]
    same = (np.sign(d0) * np.sign(d1)) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / d0 + w2 / d1)
    d[1:-1] = np.where(same, harmonic, 0.0)

    def edge(h0, h1, m0, m1):
        e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        e = np.where(np.sign(e) != np.sign(m0), 0.0, e)
        return np.where((np.sign(m0) != np.sign(m1)) & (np.abs(e) > np.abs(3 * m0)), 3 * m0, e)

    d[0] = edge(h[0], h[1], delta[0], delta[1])
    d[-1] = edge(h[-1], h[-2], delta[-1], delta[-2])
    return d


@dataclasses.dataclass(frozen=True)
class RunningTemplate:
    """Cycle-averaged running kinematics at several measured speeds, ready to interpolate.

    Attributes:
        speeds: measured speeds (m/s), increasing, shape (S,).
        phase: cycle phase (%), 0 = right foot strike, shape (P,).
        coordinates: coordinate names (knee as flexion, positive = flexed).
        q: mean joint angles (rad), shape (S, P, C); ``q_slopes`` their PCHIP node
            derivatives in speed (rad per m/s).
        stride_frequency: strides per second (Hz) at each speed, shape (S,), and slopes.
        toe_off_phase, left_strike_phase, left_toe_off_phase: (S,) in %.
        dataset: the file's Dataset (provenance, SDs).
    """

    speeds: np.ndarray
    phase: np.ndarray
    coordinates: tuple[str, ...]
    q: np.ndarray
    q_slopes: np.ndarray
    stride_frequency: np.ndarray
    stride_frequency_slopes: np.ndarray
    toe_off_phase: np.ndarray
    left_strike_phase: np.ndarray
    left_toe_off_phase: np.ndarray
    dataset: xr.Dataset

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> RunningTemplate:
        speeds = np.asarray(ds["speed"].values, dtype=np.float64)
        q = np.asarray(
            ds["q_mean"].transpose("speed", "phase", "coordinate").values, dtype=np.float64
        )
        f = np.asarray(ds["stride_frequency"].values, dtype=np.float64)
        return cls(
            speeds=speeds,
            phase=np.asarray(ds["phase"].values, dtype=np.float64),
            coordinates=tuple(str(c) for c in ds["coordinate"].values),
            q=q,
            q_slopes=_pchip_slopes(speeds, q),
            stride_frequency=f,
            stride_frequency_slopes=_pchip_slopes(speeds, f),
            toe_off_phase=np.asarray(ds["toe_off_phase"].values, dtype=np.float64),
            left_strike_phase=np.asarray(ds["left_foot_strike_phase"].values, dtype=np.float64),
            left_toe_off_phase=np.asarray(ds["left_toe_off_phase"].values, dtype=np.float64),
            dataset=ds,
        )


def load_running_template(path: str | Path | None = None) -> RunningTemplate:
    """The running template (``models/templates/running_sprinter_ja1.nc`` by default)."""
    path = Path(RUNNING_TEMPLATE if path is None else path)
    return _open_template(path, "running", RunningTemplate)


def _hermite(speed, x, y, d, xp=jnp):
    """Cubic Hermite interpolant through (x, y) with slopes d, in ``xp`` (jax.numpy, or numpy
    where no derivative is needed); linear beyond the end nodes along the end tangents.
    ``y``/``d`` have the node axis first; ``speed`` a scalar or a 1-D array (the result then
    has that axis first)."""
    xs = xp.asarray(x)
    ys = xp.asarray(y)
    ds = xp.asarray(d)
    v = xp.asarray(speed, dtype=xs.dtype)
    k = xp.clip(xp.searchsorted(xs, v, side="right") - 1, 0, xs.shape[0] - 2)

    def expand(a):
        return a.reshape(a.shape + (1,) * (ys.ndim - 1))

    x0 = xs[k]
    h = xs[k + 1] - x0
    # no clip on s: k already puts v in [x_k, x_k+1] inside the range (a clip's tie rule
    # would halve the derivative exactly at a node), and outside it this branch is unused
    s = expand((v - x0) / h)
    he = expand(h)
    h00 = (1 + 2 * s) * (1 - s) ** 2
    h10 = s * (1 - s) ** 2
    h01 = s**2 * (3 - 2 * s)
    h11 = s**2 * (s - 1)
    inside = h00 * ys[k] + h10 * he * ds[k] + h01 * ys[k + 1] + h11 * he * ds[k + 1]
    below = ys[0] + expand(v - xs[0]) * ds[0]
    above = ys[-1] + expand(v - xs[-1]) * ds[-1]
    return xp.where(expand(v < xs[0]), below, xp.where(expand(v > xs[-1]), above, inside))


def running_curves(speed, phase=None, *, template: RunningTemplate | None = None):
    """Joint angles over the gait cycle and stride frequency at running ``speed``: pure JAX.

    Interpolation across speed: monotone piecewise-cubic Hermite (PCHIP; Fritsch FN, Carlson
    RE 1980, SIAM J Numer Anal 17(2):238–246, doi:10.1137/0717021), node slopes as SciPy's
    ``PchipInterpolator``. It passes exactly through each measured speed's mean curve, is C¹ in
    speed (so d/d(speed) is continuous, including at the measured speeds) and adds no
    overshoot between speeds. Below the slowest measured speed (3.54 m/s) it continues
    linearly along the end tangent (used only down to 3.5 m/s). Across phase: linear, exact on
    the template's phase grid; phases in [0, 100] % are used as given (100 % is the averaged
    cycle's own end, which differs from its start by a few degrees: see :func:`running_motion`
    for the periodic closure), other phases wrap modulo 100 %. Both parts are jitted.

    Args:
        speed: running speed (m/s), a JAX or Python scalar (differentiable).
        phase: cycle phases (%, 0 = right foot strike); the template's grid when None.
        template: a :class:`RunningTemplate` (the shipped one by default).

    Returns:
        ``(q, stride_frequency)``: ``q`` shape (P, C) in rad, columns in
        ``template.coordinates`` order (knee as flexion, positive = flexed);
        ``stride_frequency`` in Hz (strides per second). Range is not checked here (it cannot
        be under ``jit``); :func:`running_motion` refuses speeds outside
        :data:`RUNNING_SPEED_RANGE`.
    """
    tpl = load_running_template() if template is None else template
    args = (tpl.speeds, tpl.q, tpl.q_slopes, tpl.stride_frequency, tpl.stride_frequency_slopes)
    if phase is None:
        return _nodes_jit(speed, *args)
    return _curves_jit(speed, phase, tpl.phase, *args)


def _nodes_core(speed, xs, q, dq, f, df):
    return _hermite(speed, xs, q, dq), _hermite(speed, xs, f, df)


def _curves_core(speed, phase, grid, xs, q, dq, f, df):
    q_nodes, freq = _nodes_core(speed, xs, q, dq, f, df)  # (P, C)
    ph = jnp.asarray(phase, dtype=q_nodes.dtype)
    # phases in [0, 100] are used as given (so 100 % is the cycle's own end); others wrap
    p = jnp.where((ph >= 0.0) & (ph <= 100.0), ph, jnp.mod(ph, 100.0))
    g = jnp.asarray(grid, dtype=q_nodes.dtype)
    i = jnp.clip(jnp.searchsorted(g, p, side="right") - 1, 0, g.shape[0] - 2)
    w = ((p - g[i]) / (g[i + 1] - g[i]))[..., None]
    return (1.0 - w) * q_nodes[i] + w * q_nodes[i + 1], freq


_nodes_jit = jax.jit(_nodes_core)


_curves_jit = jax.jit(_curves_core)


#: :func:`running_curves` under a name that says what it is for: the running motion's joint
#: angles as a pure JAX function of speed (differentiable, jittable).
running_motion_jax = running_curves


def _check_speed(speed: float, *, name: str = "speed") -> float:
    lo, hi = RUNNING_SPEED_RANGE
    v = float(speed)
    if not (lo <= v <= hi):
        raise InputError(
            f"{name} {v:g} m/s is outside the running family's range",
            field=name,
            expected=f"{lo:g}–{hi:g} m/s (the measured sprint speeds 3.54–9.51 m/s)",
        )
    return v


def _running_tracks(tpl: RunningTemplate, speeds_t: np.ndarray, phase_t: np.ndarray) -> dict:
    """Coordinate tracks {name: q(t)} at per-sample speeds and phases, with periodic closure
    (each speed's curve minus its end-to-start mismatch, linearly in phase)."""
    unique, inverse = np.unique(speeds_t, return_inverse=True)
    curves = _hermite(unique, tpl.speeds, tpl.q, tpl.q_slopes, xp=np)  # (U, P, C)
    closed = curves - (curves[:, -1:, :] - curves[:, :1, :]) * (tpl.phase / 100.0)[None, :, None]
    p = np.mod(phase_t, 100.0)
    # linear interpolation in phase on the template grid (uniform), per sample's speed
    grid = tpl.phase
    i = np.clip(np.searchsorted(grid, p, side="right") - 1, 0, grid.size - 2)
    w = ((p - grid[i]) / (grid[i + 1] - grid[i]))[:, None]
    q = (1 - w) * closed[inverse, i, :] + w * closed[inverse, i + 1, :]
    return {name: q[:, j] for j, name in enumerate(tpl.coordinates)}


def _stride_frequency(tpl: RunningTemplate, speeds) -> np.ndarray:
    v = np.asarray(speeds, dtype=np.float64)
    return _hermite(v, tpl.speeds, tpl.stride_frequency, tpl.stride_frequency_slopes, xp=np)


def _acceleration_phase(vmax: float, tau: float, t: np.ndarray, tpl: RunningTemplate):
    """Speed (m/s, rounded to 0.01), phase (%) and distance (m) along an acceleration."""
    t = np.asarray(t, dtype=np.float64)
    fine = np.arange(0.0, max(float(t.max()), 0.0) + 2e-3, 1e-3)
    v_fine = np.round(_acceleration_profile(vmax, tau, fine), 2)
    uniq, inv = np.unique(v_fine, return_inverse=True)
    f_fine = _stride_frequency(tpl, uniq)[inv]
    steps = np.diff(fine)
    phase_fine = 100.0 * np.concatenate(
        [[0.0], np.cumsum(0.5 * (f_fine[1:] + f_fine[:-1]) * steps)]
    )
    x_fine = np.concatenate([[0.0], np.cumsum(0.5 * (v_fine[1:] + v_fine[:-1]) * steps)])
    v = np.round(_acceleration_profile(vmax, tau, t), 2)
    return v, np.interp(t, fine, phase_fine), np.interp(t, fine, x_fine)


def running_motion(
    speed: float,
    *,
    coordinates: Sequence[str],
    knee_flexion_sign,
    duration: float | None = None,
    sample_rate: float = 100.0,
    cycles: int = 3,
    template: RunningTemplate | None = None,
) -> xr.Dataset:
    """Steady running at ``speed`` (m/s) as a motion Dataset (``read_motion``'s layout).

    The interpolated cycle (:func:`running_curves`) is repeated at the interpolated stride
    frequency; phase 0 (right foot strike) at t = 0. Periodic closure: the averaged cycle's
    end differs from its start by up to a few degrees (1–2 measured strides per speed), so
    q(φ) − (q(100) − q(0))·φ/100 is used, making every stride join its successor without a
    jump. ``pelvis_tx`` advances at ``speed``; coordinates not in the template (arms,
    ``pelvis_tz``) are held at 0.

    Args:
        speed: m/s in :data:`RUNNING_SPEED_RANGE`.
        coordinates: the model's coordinate names (all appear in the output).
        knee_flexion_sign: +1/−1 or ``GeometryModel.knee_flexion_sign`` pairs.
        duration: s; ``cycles`` strides when None.
    """
    v = _check_speed(speed)
    tpl = load_running_template() if template is None else template
    f = float(_stride_frequency(tpl, v))
    t = _time_grid(cycles / f if duration is None else duration, sample_rate)
    tracks = _running_tracks(tpl, np.full(t.shape, v), 100.0 * f * t)
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = _template_tracks_to_values(tracks, coordinates, signs)
    if "pelvis_tx" in coordinates:
        values["pelvis_tx"] = v * t
    attrs = {
        "source_path": str(tpl.dataset.attrs.get("template_path", RUNNING_TEMPLATE)),
        "source_format": "musclesim running template",
        "speed": v,
        "stride_frequency_hz": f,
        "interpolation": "PCHIP in speed (Fritsch-Carlson), linear periodic in phase",
        "periodic_closure": "q(phase) - (q(100) - q(0)) * phase / 100",
    }
    return _motion_dataset(t, values, coordinates, attrs)


def _acceleration_profile(vmax: float, tau: float, t: np.ndarray) -> np.ndarray:
    """v(t) = v_max·(1 − e^(−t/τ)) (Furusawa, Hill & Parkinson 1927), floored at the slowest
    template speed (the template holds no running slower than 3.5 m/s)."""
    return np.maximum(vmax * (1.0 - np.exp(-t / tau)), RUNNING_SPEED_RANGE[0])


def _acceleration_motion(
    vmax: float,
    tau: float,
    distance: float,
    coordinates,
    knee_flexion_sign,
    duration,
    sample_rate,
    tpl: RunningTemplate,
):
    """An acceleration from rest towards ``vmax`` (m/s) with time constant ``tau`` (s): time,
    coordinate values and attributes; over ``duration`` (s), or the time to cover ``distance``
    (m) when ``duration`` is None."""
    if duration is None:
        # time to cover the distance along the (floored) speed profile
        tt = np.arange(0.0, 60.0, 1e-3)
        vv = _acceleration_profile(vmax, tau, tt)
        x = np.concatenate([[0.0], np.cumsum(0.5 * (vv[1:] + vv[:-1]) * np.diff(tt))])
        duration = float(np.interp(distance, x, tt))
    t = _time_grid(duration, sample_rate)
    v, phase, x = _acceleration_phase(vmax, tau, t, tpl)
    tracks = _running_tracks(tpl, v, phase)
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = _template_tracks_to_values(tracks, coordinates, signs)
    if "pelvis_tx" in coordinates:
        values["pelvis_tx"] = x
    return (
        t,
        values,
        {
            "speed_profile": f"v(t) = {vmax:g}*(1 - exp(-t/{tau:g} s)), floored at "
            f"{RUNNING_SPEED_RANGE[0]:g} m/s, rounded to 0.01 m/s",
            # strides taken along the acceleration (its integrated stride phase): a
            # per-stride criterion of an acceleration compares with one stride of a run
            "strides": float(phase[-1] - phase[0]) / 100.0,
        },
    )
