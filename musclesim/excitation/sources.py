"""Excitation sources: what drives the muscles, behind one interface.

Every source is a callable object::

    source(time, muscles, *, motion=None, cycles=None) -> np.ndarray  # shape (T, M), in [0, 1]

``time`` is a 1-D array of sample times (s), ``muscles`` the model's own muscle names
(``bflh_r``, ``med_gas_l``, ...), ``motion`` the motion Dataset being simulated (used to find
gait cycles when a source needs them), and ``cycles`` the gait events: one
:class:`~musclesim.motion.gait.GaitEvents` or a dict side → GaitEvents. The value is the excitation
u(t) ∈ [0, 1] of each muscle (dimensionless fraction of full excitation). Sources:

- :class:`Constant` — one level for every muscle and time.
- :class:`EMGEnvelope` — EMG from a file (``.mat``, ``.sto``/``.mot``, ``.c3d`` analog):
  band-pass, full-wave rectify, low-pass, normalise, map channel names to muscles, resample
  onto the motion's times.
- :class:`GaitPhaseTemplate` — a built-in activation pattern as a function of gait-cycle phase
  (0–100 %, 0 = foot strike) for running (:func:`running_template`) and sprinting
  (:func:`sprinting_template`), mapped onto time through detected gait cycles.

Each source lists the reference keys it relies on in ``references`` (keys of the registry in
:mod:`musclesim.core.citations`).
"""

from __future__ import annotations

import abc
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import scipy.io
import xarray as xr
from scipy.io.matlab._mio5 import MatFile5Reader
from scipy.signal import butter, sosfiltfilt

from ..core import groups as _groups
from ..core.errors import InputError
from ..core.io import sha256_file
from ..motion.gait import GaitEvents, average_cycles, cut_cycles, detect_events, events_from_grf
from ..motion.markers import read_analog
from ..motion.storage import _check_finite, _check_times, read_storage


def split_muscle(name: str) -> tuple[str, str | None]:
    """(canonical key, side) of a model muscle name, e.g. ``med_gas_l`` → (``gasmed``, ``l``),
    by the shared vocabulary :mod:`musclesim.core.groups`. Unknown names give (base name, side)
    unchanged, so callers can report them."""
    side = None
    base = name
    if name.endswith(("_r", "_l")):
        base, side = name[:-2], name[-1]
    canonical = _groups.canonical_name(name)
    if canonical != name or base in _groups.MUSCLE_ALIASES:
        return (canonical[:-2] if side else canonical), side
    return base, side


def _as_array(time) -> np.ndarray:
    t = np.asarray(time, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise InputError(
            f"time has shape {t.shape}", field="time", expected="a 1-D array of times (s)"
        )
    return t


class ExcitationSource(abc.ABC):
    """Interface of every excitation source (see the module docstring)."""

    references: tuple[str, ...] = ()

    @abc.abstractmethod
    def __call__(
        self,
        time,
        muscles: Sequence[str],
        *,
        motion: xr.Dataset | None = None,
        cycles: GaitEvents | Mapping[str, GaitEvents] | None = None,
    ) -> np.ndarray:
        """Excitation (T, M) in [0, 1] at ``time`` for ``muscles``."""

    def describe(self) -> str:
        """One line saying what this source is, for result attributes."""
        return self.__class__.__name__


class Constant(ExcitationSource):
    """The same excitation ``level`` ∈ [0, 1] for every muscle at every time."""

    def __init__(self, level: float):
        level = float(level)
        if not (0.0 <= level <= 1.0) or math.isnan(level):
            raise InputError(f"level {level}", field="level", expected="a number in [0, 1]")
        self.level = level

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:
        t = _as_array(time)
        return np.full((t.size, len(muscles)), self.level)

    def describe(self) -> str:
        return f"Constant({self.level:g})"


# ----------------------------------------------------------------------------------------------
# EMG files
# ----------------------------------------------------------------------------------------------


def _mat_dataset_object(path: Path, raw: dict) -> tuple[list[str], list[np.ndarray]] | None:
    """Columns of a MATLAB ``dataset``/``table`` object saved in a .mat (MCOS opaque object).

    scipy cannot decode MATLAB class objects, but their property values are stored in the
    file's ``__function_workspace__`` as an ordinary MAT-5 stream. That stream is parsed, and
    the object's ``varnames`` (a cell of strings) and ``data`` (a cell of equally long numeric
    columns) are found by shape: the cell of strings whose length equals the cell of numeric
    columns'. Returns None when the file holds no such object.
    """
    workspace = raw.get("__function_workspace__")
    if workspace is None:
        return None
    blob = np.asarray(workspace).ravel().tobytes()
    header = b"MATLAB 5.0 MAT-file".ljust(116, b" ") + b"\x00" * 8 + blob[0:2] + blob[2:4]
    try:
        reader = MatFile5Reader(
            io.BytesIO(header + blob[8:]), struct_as_record=True, squeeze_me=False
        )
        reader.mat_stream.seek(128)
        reader.initialize_read()
        var_header, _ = reader.read_var_header()
        wrapper = reader.read_var_array(var_header, process=True)
        cells = wrapper[0, 0]["MCOS"][0]["arr"].ravel()
    except Exception as exc:  # a malformed subsystem stream: say so
        raise InputError(
            f"MATLAB object data cannot be decoded ({exc.__class__.__name__}: {exc})",
            path=path,
            expected="a .mat holding numeric arrays, a struct, or a MATLAB dataset",
        ) from exc
    string_cells, numeric_cells = [], []
    for cell in cells:
        if not (isinstance(cell, np.ndarray) and cell.dtype == object and cell.size):
            continue
        items = list(cell.ravel())
        if all(isinstance(x, np.ndarray) and x.dtype.kind == "U" for x in items):
            string_cells.append([str(x.ravel()[0]) if x.size else "" for x in items])
        elif all(isinstance(x, np.ndarray) and x.dtype.kind in "fiu" and x.size > 1 for x in items):
            sizes = {x.size for x in items}
            if len(sizes) == 1:
                numeric_cells.append([np.asarray(x, dtype=np.float64).ravel() for x in items])
    for names in string_cells:
        for columns in numeric_cells:
            if len(names) == len(columns):
                return names, columns
    return None


def _read_mat(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        raw = scipy.io.loadmat(str(path), squeeze_me=False, struct_as_record=True)
    except Exception as exc:
        raise InputError(
            f"cannot be read as a MATLAB file ({exc.__class__.__name__}: {exc})",
            path=path,
            expected="a MATLAB v5/v7 .mat file (v7.3/HDF5 files are not supported)",
        ) from exc
    columns: dict[str, np.ndarray] = {}
    found = _mat_dataset_object(path, raw)
    if found is not None:
        names, data = found
        columns = dict(zip(names, data, strict=True))
    else:
        for key, value in raw.items():
            if key.startswith("__") or not isinstance(value, np.ndarray):
                continue
            if value.dtype.names:  # struct: its fields
                record = value.ravel()[0]
                for field in value.dtype.names:
                    arr = np.asarray(record[field])
                    if arr.dtype.kind in "fiu" and arr.size > 1:
                        columns[field] = arr.astype(np.float64).ravel()
            elif value.dtype.kind in "fiu" and value.size > 1 and min(value.shape) == 1:
                columns[key] = value.astype(np.float64).ravel()
    time_key = next((k for k in columns if k.lower() in ("time", "t", "time_s")), None)
    if time_key is None:
        raise InputError(
            "no time column",
            path=path,
            field="time",
            expected="a variable or field named 'time' (s) beside the EMG channels",
        )
    time = columns.pop(time_key)
    bad = [k for k, v in columns.items() if v.size != time.size]
    if bad:
        raise InputError(
            f"channel(s) {bad} have a different length from time ({time.size})",
            path=path,
            expected="every channel sampled at the times in 'time'",
        )
    if not columns:
        raise InputError("no EMG channels beside time", path=path, expected="numeric channels")
    return time, columns


def read_emg(path: str | Path) -> xr.Dataset:
    """Read EMG channels from ``.mat``, ``.sto``/``.mot`` or ``.c3d`` (analog) without processing.

    Returns ``emg`` (time, channel) in the file's units with provenance attributes. Checks: a
    time column, equal lengths, finite values (naming the channel and time), strictly
    increasing times.
    """

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(
            "file not found", path=path, expected="an EMG file (.mat, .sto, .mot, .c3d)"
        )
    if suffix == ".mat":
        if path.stat().st_size == 0:
            raise InputError("file is empty", path=path, expected="a MATLAB .mat file")
        time, columns = _read_mat(path)
        names = list(columns)
        values = np.stack([columns[n] for n in names], axis=1)
        _check_times(time, path=path)
        _check_finite(values, time, names, path=path)
        units = "as in the file"
    elif suffix in (".sto", ".mot"):
        ds = read_storage(path)
        time, values, names = (
            ds["time"].values,
            ds["data"].values,
            [str(c) for c in ds["channel"].values],
        )
        units = "as in the file"
    elif suffix == ".c3d":
        ds = read_analog(path)
        time, values, names = (
            ds["analog_time"].values,
            ds["analog"].values,
            [str(c) for c in ds["channel"].values],
        )
        units = "per channel: " + ", ".join(
            f"{n}={u}" for n, u in zip(names, ds["unit"].values, strict=True)
        )
    else:
        raise InputError(
            f"unknown EMG file extension {path.suffix!r}",
            path=path,
            expected=".mat, .sto, .mot or .c3d",
        )
    return xr.Dataset(
        {"emg": (("time", "channel"), values, {"units": units, "long_name": "EMG as recorded"})},
        coords={
            "time": ("time", time, {"units": "s"}),
            "channel": ("channel", np.asarray(names, dtype=object)),
        },
        attrs={
            "source_path": str(path.resolve()),
            "source_sha256": sha256_file(path),
            "source_format": suffix[1:],
        },
    )


#: Default EMG channel label (upper case) → canonical muscle key. Labels differ between labs;
#: pass ``channel_map`` to :class:`EMGEnvelope` for anything else. Surface electrodes over the
#: medial hamstrings record semitendinosus and semimembranosus together, so ``SM``/``ST``/``MH``
#: each drive both medial hamstrings unless the other one has its own channel; ``BFLH``/``BF``
#: also drives ``bfsh``, which lies deep to the long head and is rarely recorded on its own.
DEFAULT_CHANNEL_MAP: dict[str, tuple[str, ...]] = {
    "BFLH": ("bflh", "bfsh"),
    "BF": ("bflh", "bfsh"),
    "BFSH": ("bfsh",),
    "SM": ("semimem", "semiten"),
    "ST": ("semiten", "semimem"),
    "MH": ("semimem", "semiten"),
    "GASMED": ("gasmed",),
    "MG": ("gasmed",),
    "GM": ("gasmed",),
    "GASLAT": ("gaslat",),
    "LG": ("gaslat",),
    "SOL": ("soleus",),
    "SOLEUS": ("soleus",),
}


#: ``processing="auto"`` reads a file as raw EMG when more than this fraction of its samples
#: are negative (raw EMG is zero-mean, ~50 %; rectified envelopes have none).
AUTO_RAW_NEGATIVE_FRACTION = 0.05


class EMGEnvelope(ExcitationSource):
    """Excitation from recorded EMG.

    Processing of raw EMG (``processing="raw"``), each step zero-lag (forward-backward):

    1. band-pass Butterworth, 4th order, ``band_hz`` (default 20–450 Hz; the 20 Hz corner
       removes movement artefact, De Luca et al. 2010, doi:10.1016/j.jbiomech.2010.01.027;
       the upper corner is lowered to 0.45·fs when the sampling rate needs it);
    2. full-wave rectification |x|;
    3. low-pass Butterworth, 4th order, ``lowpass_hz`` (default 6 Hz, our choice: a linear
       envelope that keeps the within-stride bursts of running);
    4. normalisation: ``normalize="peak"`` divides each channel by its peak over the record
       (the envelope then reaches 1 once per trial), or a number/dict of numbers (the MVC
       envelope amplitude per channel, in the file's units).

    Files that already hold envelopes (e.g. the Rajagopal running ``emg_run.mat``, whose
    channels are smooth, non-negative and normalised by the data's providers) use
    ``processing="envelope"``: only step 4 is applied. The default ``"auto"`` chooses ``raw``
    when more than 5 % of the samples are negative (:data:`AUTO_RAW_NEGATIVE_FRACTION`), else
    ``envelope``, and says which in :meth:`describe`. The result is clipped to [0, 1]
    (running EMG can exceed MVC, Kyröläinen et al. 2005) and linearly interpolated onto the
    requested times, which must lie inside the recording.

    Channel names map to muscles through ``channel_map`` (label → canonical keys, default
    :data:`DEFAULT_CHANNEL_MAP`); the recorded side is ``side`` (EMG files rarely say), so a
    muscle of the other side, or one no channel maps to, is an InputError naming it.
    """

    references = ("deluca2010", "kyrolainen2005")

    def __init__(
        self,
        source: str | Path | xr.Dataset,
        *,
        side: str = "r",
        processing: str = "auto",
        band_hz: tuple[float, float] = (20.0, 450.0),
        lowpass_hz: float = 6.0,
        normalize: str | float | Mapping[str, float] = "peak",
        channel_map: Mapping[str, Sequence[str]] | None = None,
    ):
        self.data = source if isinstance(source, xr.Dataset) else read_emg(source)
        self.path = self.data.attrs.get("source_path")
        if processing not in ("auto", "raw", "envelope"):
            raise InputError(
                f"processing {processing!r}",
                field="processing",
                expected="'auto', 'raw' or 'envelope'",
            )
        if side not in ("r", "l"):
            raise InputError(f"side {side!r}", field="side", expected="'r' or 'l'")
        self.side = side
        t = self.data["time"].values
        x = np.asarray(self.data["emg"].values, dtype=np.float64)
        fs = 1.0 / float(np.median(np.diff(t)))
        self.steps: list[str] = []
        if processing == "auto":
            # raw surface EMG is bipolar (about half its samples negative); an envelope is not
            negative = float(np.mean(x < -1e-6 * np.max(np.abs(x))))
            processing = "raw" if negative > AUTO_RAW_NEGATIVE_FRACTION else "envelope"
            self.steps.append(
                f"auto: {100 * negative:.1f} % negative samples, read as {processing}"
            )
        self.processing = processing
        if processing == "raw":
            low, high = band_hz
            high = min(high, 0.45 * fs)
            if not (0 < low < high):
                raise InputError(
                    f"band {band_hz} Hz at {fs:.6g} Hz sampling",
                    path=self.path,
                    field="band_hz",
                    expected="0 < low < high < Nyquist",
                )
            if not (0 < lowpass_hz < fs / 2):
                raise InputError(
                    f"low-pass {lowpass_hz} Hz",
                    path=self.path,
                    field="lowpass_hz",
                    expected=f"0 < f < {fs / 2:g} Hz",
                )
            sos = butter(4, [low, high], btype="bandpass", fs=fs, output="sos")
            x = sosfiltfilt(sos, x, axis=0)
            x = np.abs(x)
            sos = butter(4, lowpass_hz, btype="low", fs=fs, output="sos")
            x = sosfiltfilt(sos, x, axis=0)
            self.steps += [
                f"band-pass {low:g}-{high:g} Hz (4th-order Butterworth, zero-lag)",
                "full-wave rectified",
                f"low-pass {lowpass_hz:g} Hz (4th-order Butterworth, zero-lag)",
            ]
        channels = [str(c) for c in self.data["channel"].values]
        if isinstance(normalize, str):
            if normalize != "peak":
                raise InputError(
                    f"normalize {normalize!r}",
                    field="normalize",
                    expected="'peak', a number, or a dict channel → MVC",
                )
            scale = np.max(x, axis=0)
            self.steps.append("normalised to each channel's peak over the record")
        elif isinstance(normalize, Mapping):
            missing = [c for c in channels if c not in normalize]
            if missing:
                raise InputError(
                    f"no MVC value for channel(s) {missing}",
                    path=self.path,
                    field="normalize",
                    expected="a value for every channel",
                )
            scale = np.array([float(normalize[c]) for c in channels])
            self.steps.append("normalised to the given MVC amplitude per channel")
        else:
            scale = np.full(len(channels), float(normalize))
            self.steps.append(f"normalised to {float(normalize):g}")
        if np.any(~np.isfinite(scale)) or np.any(scale <= 0):
            bad = [
                c for c, s in zip(channels, scale, strict=True) if not (np.isfinite(s) and s > 0)
            ]
            raise InputError(
                f"channel(s) {bad} have no positive normalisation value (flat or zero signal?)",
                path=self.path,
                field="normalize",
                expected="a positive maximum",
            )
        #: normalised envelope before clipping (values above 1 mean above the stated maximum)
        self.normalized = x / scale
        self.envelope = np.clip(self.normalized, 0.0, 1.0)
        self.clipped_fraction = float(np.mean(self.normalized > 1.0))
        self.time = t
        self.channels = channels
        mapping = {k.upper(): tuple(v) for k, v in (channel_map or DEFAULT_CHANNEL_MAP).items()}
        # canonical key → channel: a channel named for the muscle wins over a shared one
        self.muscle_channel: dict[str, str] = {}
        for rank in (0, 1, 2):
            for channel in channels:
                keys = mapping.get(channel.upper(), ())
                if len(keys) > rank and keys[rank] not in self.muscle_channel:
                    self.muscle_channel[keys[rank]] = channel

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:
        t = _as_array(time)
        tol = 1e-9 * max(1.0, abs(self.time[-1]))
        if t[0] < self.time[0] - tol or t[-1] > self.time[-1] + tol:
            raise InputError(
                f"requested times {t[0]:.6g}–{t[-1]:.6g} s lie outside the EMG record "
                f"{self.time[0]:.6g}–{self.time[-1]:.6g} s",
                path=self.path,
                field="time",
                expected="a motion inside the EMG recording (same clock)",
            )
        out = np.empty((t.size, len(muscles)))
        for j, muscle in enumerate(muscles):
            key, side = split_muscle(muscle)
            if side is not None and side != self.side:
                raise InputError(
                    f"muscle {muscle!r} is on side '{side}' but the EMG is side '{self.side}'",
                    path=self.path,
                    field="muscles",
                    expected=f"muscles ending in _{self.side}, or EMGEnvelope(side=...)",
                )
            channel = self.muscle_channel.get(key)
            if channel is None:
                raise InputError(
                    f"no EMG channel maps to muscle {muscle!r}",
                    path=self.path,
                    field="channel_map",
                    expected=f"a channel for {key!r} among {self.channels} (pass channel_map=...)",
                )
            out[:, j] = np.interp(t, self.time, self.envelope[:, self.channels.index(channel)])
        return out

    def describe(self) -> str:
        return f"EMGEnvelope({self.path}; {'; '.join(self.steps)}; side {self.side})"


# ----------------------------------------------------------------------------------------------
# Gait-phase templates
# ----------------------------------------------------------------------------------------------


def _remap_phase(phase: np.ndarray, toe_off: np.ndarray, ref_toe_off: float) -> np.ndarray:
    """Map cycle phase onto template phase so that stance maps onto stance, swing onto swing.

    φ < φ_TO: p = φ/φ_TO · φ_TO,ref;  otherwise p = φ_TO,ref + (φ − φ_TO)/(100 − φ_TO) ·
    (100 − φ_TO,ref). All phases in %.
    """
    stance = phase < toe_off
    return np.where(
        stance,
        phase / toe_off * ref_toe_off,
        ref_toe_off + (phase - toe_off) / (100.0 - toe_off) * (100.0 - ref_toe_off),
    )


def phase_and_toe_off(time: np.ndarray, events: GaitEvents) -> tuple[np.ndarray, np.ndarray]:
    """Gait phase (%) and that stride's toe-off phase (%) at each time.

    Inside complete strides both come from the events. Before the first and after the last
    complete stride the nearest stride's duration and toe-off phase are extended (the pattern
    is assumed periodic there); an InputError when there is no complete stride at all.
    """
    strides = events.strides()
    if not strides:
        raise InputError(
            f"no complete stride for side '{events.side}'",
            field="cycles",
            expected="at least two foot strikes with a toe-off between them",
        )
    starts = np.array([s[0] for s in strides])
    ends = np.array([s[2] for s in strides])
    toe = np.array([100.0 * (s[1] - s[0]) / (s[2] - s[0]) for s in strides])
    idx = np.clip(np.searchsorted(starts, time, side="right") - 1, 0, len(strides) - 1)
    duration = ends[idx] - starts[idx]
    phase = np.mod(100.0 * (time - starts[idx]) / duration, 100.0)
    return phase, toe[idx]


class GaitPhaseTemplate(ExcitationSource):
    """A periodic activation pattern per muscle as a function of gait-cycle phase.

    Each muscle's shape is tabulated at ``phase`` (0–100 %, 0 = foot strike, periodic),
    normalised so its maximum is 1, and multiplied by ``peak[key]``. Stance and swing are
    stretched separately (:func:`_remap_phase`) so the template's stance (ending at
    ``reference_toe_off``) lands on each stride's own stance; this is how the shape follows
    the shorter stance of faster running. Events come from ``cycles``, else they are detected
    in ``motion`` (:func:`musclesim.motion.gait.detect_events`, one side per muscle side).
    """

    def __init__(
        self,
        name: str,
        phase: np.ndarray,
        shapes: Mapping[str, np.ndarray],
        peak: Mapping[str, float],
        *,
        reference_toe_off: float,
        references: Sequence[str],
        notes: str = "",
    ):
        self.name = name
        self.phase = np.asarray(phase, dtype=np.float64)
        self.shapes = {k: np.asarray(v, dtype=np.float64) for k, v in shapes.items()}
        self.peak = {k: float(v) for k, v in peak.items()}
        for key, value in self.peak.items():
            if not (0.0 <= value <= 1.0):
                raise InputError(
                    f"peak {value} for {key}", field="peak", expected="values in [0, 1]"
                )
        self.reference_toe_off = float(reference_toe_off)
        self.references = tuple(references)
        self.notes = notes

    def shape(self, key: str, template_phase: np.ndarray) -> np.ndarray:
        """The template value of canonical muscle ``key`` at template phases (%), periodic."""
        if key not in self.shapes:
            raise InputError(
                f"template {self.name!r} has no pattern for {key!r}",
                field="muscles",
                expected="one of " + ", ".join(self.shapes),
            )
        p = np.mod(template_phase, 100.0)
        return self.peak[key] * np.interp(p, self.phase, self.shapes[key], period=100.0)

    def at_phase(self, key: str, phase, *, toe_off: float | None = None) -> np.ndarray:
        """Values at cycle phases (%) of a stride whose toe-off is at ``toe_off`` (%)."""
        phase = np.asarray(phase, dtype=np.float64)
        if toe_off is None:
            return self.shape(key, phase)
        return self.shape(
            key, _remap_phase(phase, np.full(phase.shape, float(toe_off)), self.reference_toe_off)
        )

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:

        t = _as_array(time)
        by_side: dict[str, GaitEvents] = {}
        if isinstance(cycles, GaitEvents):
            by_side[cycles.side] = cycles
        elif cycles is not None:
            by_side.update(cycles)
        out = np.empty((t.size, len(muscles)))
        for j, muscle in enumerate(muscles):
            key, side = split_muscle(muscle)
            side = side or "r"
            if side not in by_side:
                if motion is None:
                    raise InputError(
                        f"no gait cycles for side '{side}' (muscle {muscle!r})",
                        field="cycles",
                        expected="cycles=GaitEvents for that side, or motion= to detect them",
                    )
                by_side[side] = detect_events(motion, side=side)
            phase, toe = phase_and_toe_off(t, by_side[side])
            out[:, j] = self.shape(key, _remap_phase(phase, toe, self.reference_toe_off))
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        peaks = ", ".join(f"{k}={v:g}" for k, v in self.peak.items())
        return f"GaitPhaseTemplate({self.name}; peaks {peaks}; refs {', '.join(self.references)})"


#: Phase grid (%) of the built-in templates.
TEMPLATE_PHASE = np.linspace(0.0, 100.0, 51)


def derive_emg_template(
    emg: str | Path,
    grf: str | Path,
    *,
    side: str = "r",
    processing: str = "envelope",
    channels: Mapping[str, str] | None = None,
) -> dict:
    """Cycle-averaged EMG shapes from an EMG file and force-plate events (how the built-in
    running template was made).

    Strides are cut at force-plate foot strikes (vertical force > 20 N, see
    :func:`~musclesim.motion.gait.events_from_grf`), every channel's envelope (normalised to
    its trial peak as the file gives it, ``normalize=1.0`` i.e. unscaled) is time-normalised and
    averaged across strides, sampled at :data:`TEMPLATE_PHASE`, and divided by its maximum. Returns
    ``{"shapes": key → array, "cycle_peak": key → peak of the average in file units,
    "toe_off": mean toe-off phase %, "n_cycles": int, "emg_sha256", "grf_sha256"}``.
    """

    source = EMGEnvelope(emg, side=side, processing=processing, normalize=1.0)
    events = events_from_grf(grf, side=side)
    ds = xr.Dataset(
        {"env": (("time", "channel"), source.envelope)},
        coords={"time": source.time, "channel": np.asarray(source.channels, dtype=object)},
    )
    cycles = cut_cycles(ds, events, n_points=TEMPLATE_PHASE.size)
    mean = average_cycles(cycles)
    channels = channels or {
        "bflh": "BFLH",
        "semimem": "SM",
        "gasmed": "GASMED",
        "gaslat": "GASLAT",
        "soleus": "SOL",
    }
    shapes, peaks = {}, {}
    for key, channel in channels.items():
        curve = mean["env"].sel(channel=channel).values
        peaks[key] = float(curve.max())
        shapes[key] = curve / curve.max()

    return {
        "shapes": shapes,
        "cycle_peak": peaks,
        "toe_off": float(np.mean(cycles["toe_off_phase"].values)),
        "n_cycles": int(cycles.sizes["cycle"]),
        "emg_sha256": sha256_file(emg),
        "grf_sha256": sha256_file(grf),
    }
