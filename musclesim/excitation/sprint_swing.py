"""Swing-phase excitation of running at speed, from static optimisation along measured sprints.

The running EMG template (Rajagopal et al. 2016, a 3.7 m/s treadmill run) puts the hamstring
burst around foot strike; scaling its amplitude to maximal speed keeps that timing, while
sprinting loads the hamstrings most in terminal swing (Schache et al. 2012; Chumanov et al.
2011). This module replaces the template's SWING by the excitation that static optimisation
finds along the four sprint trials of Dorn et al. 2012 (subject JA1, 3.5-9.5 m/s), shipped in
``sprint_swing_template.toml`` (written by ``experiments/derive_sprint_swing_template.py``,
with the source files' sha256 and the optimisation settings). STANCE keeps the EMG shape: the
trials have no force plates, so their stance moments miss the ground load.

How the two are joined (:func:`with_sprint_swing`), at template phase p (0 = foot strike,
``reference_toe_off`` = toe-off):

- Speed: the static-optimisation swing curves are interpolated linearly in running speed
  (m/s) between the trials; above the fastest trial its curve is kept. The running drills'
  kinematics are these same trials interpolated at the same speed
  (:mod:`musclesim.training.drills.running`), so the swing activations belong to the motion
  they drive. Below the slowest trial the swing fades linearly towards the EMG swing, which it
  reaches at the given ``fade_from`` speed.
- Phase: a swing weight s(p) is 1 in swing and 0 in stance, with raised-cosine cross-fades of
  half-width :data:`BLEND_HALF_WIDTH` centred on toe-off and on foot strike; inside a
  cross-fade the swing curve is held at its boundary value on the stance side. Excitation =
  (1 - s·w)·EMG + s·w·swing, with w the speed weight: continuous wherever both curves are
  (tests/test_sprint_swing.py bounds its change per phase step).
- Amplitude: the swing values are the optimisation's own activations (absolute, 0-1); the
  stance keeps the EMG shape times the template's peak. Each muscle's shape is the joined
  curve divided by its maximum, which becomes the muscle's peak.

Limits of the swing curves (what is not represented): static optimisation minimises summed
squared activations with rigid tendons at each instant, so it finds no co-contraction beyond
what the joint moments require and no pre-activation ahead of a moment; its moments come from
low-pass filtered kinematics (inverse dynamics without ground forces is exact in swing); one
subject, one scaled model; the hamstrings' split between semitendinosus, semimembranosus and
the biceps heads follows the model's strengths and moment arms, not measured EMG (at 9.5 m/s
it puts biceps femoris long head above semitendinosus in terminal swing, where Higashihara et
al. 2010 measured semitendinosus the more active in mid swing). What the shipped curves show:
the trials hold few complete right strides (two at 3.5 m/s, one each at 5.2, 7.0 and 9.5 m/s),
so the curves are hardly averaged; at 7.0 m/s every muscle reaches near-full activation at one
sample a third into swing (a spike of the moments, kept as derived); at 9.5 m/s biceps
femoris long head is at full activation over the last quarter of swing and semimembranosus
over its last tenth, so the optimisation's muscles are at their limit there.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError

#: The swing curves' numbers (provenance in the file's header and fields).
SPRINT_SWING_FILE = Path(__file__).with_name("sprint_swing_template.toml")

#: Half-width (% of the stride) of the raised-cosine cross-fades at toe-off and foot strike:
#: our choice, wider than one 2 % template sample so the join is resolved, and narrower than
#: the 4 % from foot strike to the running EMG's hamstring peak, so that measured peak is kept.
BLEND_HALF_WIDTH = 3.0

#: Phases (%) at which a joined template is tabulated: every 0.5 %, fine enough for the
#: cross-fades and for the swing curves' 26 samples over a swing of 60-70 % of the stride.
JOINED_PHASE = np.linspace(0.0, 100.0, 201)

#: Quantity of the file used as the swing's excitation: the optimisation's activations. The
#: file also holds the excitations that invert De Groote's activation dynamics, but along
#: these trials they jump between 0 and 1 from one sample to the next (the inversion
#: differentiates the activation), so as a template they would be noise; driving the muscles
#: with the activations instead delays them by the activation dynamics (tens of ms), as an
#: EMG envelope used as excitation is delayed.
SWING_QUANTITY = "activation"


@dataclass(frozen=True)
class SprintSwing:
    """Stride-averaged swing curves per trial: ``curves[key]`` is (trial, swing phase), swing
    phase in % of swing (0 = toe-off, 100 = next foot strike); ``speeds`` (m/s, ascending)
    and ``toe_off`` (% of the stride) per trial."""

    speeds: np.ndarray
    toe_off: np.ndarray
    swing_phase: np.ndarray
    curves: dict[str, np.ndarray]
    files: tuple[str, ...]
    sha256: tuple[str, ...]
    settings: dict


def read_sprint_swing(path: str | Path = SPRINT_SWING_FILE) -> SprintSwing:
    """The swing curves of a data file written by the derivation experiment; InputError
    naming the field when the file does not fit."""
    path = Path(path)
    with open(path, "rb") as f:
        data = tomllib.load(f)
    swing_phase = np.asarray(data["swing_phase_percent"], dtype=float)
    if swing_phase[0] != 0.0 or swing_phase[-1] != 100.0 or np.any(np.diff(swing_phase) <= 0):
        raise InputError(
            "swing phases are not increasing from 0 to 100",
            path=path,
            field="swing_phase_percent",
            expected="increasing % of swing from 0 (toe-off) to 100 (foot strike)",
        )
    trials = sorted(data["trial"], key=lambda tr: tr["speed_m_per_s"])
    keys = [m.removesuffix("_r") for m in data["muscles"]]
    curves = {}
    for key in keys:
        rows = []
        for tr in trials:
            row = np.asarray(tr[SWING_QUANTITY].get(key, ()), dtype=float)
            if row.shape != swing_phase.shape or not np.all((row >= 0) & (row <= 1)):
                raise InputError(
                    f"{row.size} values for {key} in trial {tr.get('file')!r}",
                    path=path,
                    field=f"trial.{SWING_QUANTITY}.{key}",
                    expected=f"{swing_phase.size} values in [0, 1]",
                )
            rows.append(row)
        curves[key] = np.stack(rows)
    speeds = np.asarray([tr["speed_m_per_s"] for tr in trials], dtype=float)
    if np.any(np.diff(speeds) <= 0) or speeds[0] <= 0:
        raise InputError(
            f"speeds {speeds.tolist()}",
            path=path,
            field="trial.speed_m_per_s",
            expected="distinct positive speeds",
        )
    return SprintSwing(
        speeds=speeds,
        toe_off=np.asarray([tr["toe_off_percent"] for tr in trials], dtype=float),
        swing_phase=swing_phase,
        curves=curves,
        files=tuple(tr["file"] for tr in trials),
        sha256=tuple(tr["sha256"] for tr in trials),
        settings=dict(data["settings"]),
    )


@functools.cache
def sprint_swing_data() -> SprintSwing:
    """The shipped swing curves (:data:`SPRINT_SWING_FILE`), read on first use, so that the
    experiment that writes them can import the package without them."""
    return read_sprint_swing()


#: References of a template whose swing comes from these curves: the trials, and the
#: optimisation's cost and activation dynamics.
SPRINT_SWING_REFERENCES = ("dorn2012", "crowninshield1981", "degroote2016", "higashihara2010")


def speed_weight(speed: float, *, fade_from: float, data: SprintSwing | None = None) -> float:
    """Weight (0-1) of the swing curves at running ``speed`` (m/s): 1 from the slowest trial up,
    falling linearly to 0 at ``fade_from`` (m/s)."""
    data = data or sprint_swing_data()
    v = float(speed)
    return float(np.clip((v - fade_from) / (data.speeds[0] - fade_from), 0.0, 1.0))


def swing_curve(key: str, speed: float, *, data: SprintSwing | None = None) -> np.ndarray:
    """Swing activation of muscle ``key`` at running ``speed`` (m/s), sampled at
    ``data.swing_phase``: linear between the trials, each trial's curve outside them."""
    data = data or sprint_swing_data()
    if key not in data.curves:
        raise InputError(
            f"no swing curve for {key!r}",
            field="muscles",
            expected="one of " + ", ".join(data.curves),
        )
    table = data.curves[key]
    return np.array([np.interp(speed, data.speeds, column) for column in table.T])


def swing_weight(phase, reference_toe_off: float, half_width: float = BLEND_HALF_WIDTH):
    """s(p): 1 in swing, 0 in stance, raised-cosine cross-fades of ``half_width`` (%) centred
    on toe-off and on foot strike (0 ≡ 100 %)."""
    p = np.mod(np.asarray(phase, dtype=float), 100.0)

    def ramp(x):  # 0 at x <= -1, 1 at x >= 1, raised cosine between
        return 0.5 - 0.5 * np.cos(0.5 * np.pi * (np.clip(x, -1.0, 1.0) + 1.0))

    rise = ramp((p - reference_toe_off) / half_width)
    # distance to foot strike, signed: negative before it (late swing), positive after
    to_strike = np.where(p > 50.0, p - 100.0, p)
    fall = ramp(-to_strike / half_width)
    return np.where(
        p > 50.0, np.minimum(rise, fall), np.where(p < reference_toe_off - half_width, fall, rise)
    )


def with_sprint_swing(
    phase: np.ndarray,
    shapes: Mapping[str, np.ndarray],
    peaks: Mapping[str, float],
    *,
    reference_toe_off: float,
    speed: float,
    fade_from: float,
    data: SprintSwing | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """A template's shapes and peaks with its swing taken from the static-optimisation curves.

    ``shapes`` (normalised to 1, tabulated at ``phase`` %) times ``peaks`` give the EMG
    template; its stance ends at ``reference_toe_off`` (%). Returns ``(JOINED_PHASE, shapes,
    peaks)`` of the joined template at running ``speed`` (m/s; module docstring: speed
    interpolation, cross-fades, amplitude)."""
    data = data or sprint_swing_data()
    p = JOINED_PHASE
    s = swing_weight(p, reference_toe_off) * speed_weight(speed, fade_from=fade_from, data=data)
    # swing fraction (%) of each phase, held at the boundary values on the stance side
    frac = np.where(
        p >= reference_toe_off,
        100.0 * (p - reference_toe_off) / (100.0 - reference_toe_off),
        np.where(p < 0.5 * reference_toe_off, 100.0, 0.0),
    )
    out_shapes, out_peaks = {}, {}
    for key, shape in shapes.items():
        emg = float(peaks[key]) * np.interp(p, phase, shape, period=100.0)
        swing = np.interp(frac, data.swing_phase, swing_curve(key, speed, data=data))
        joined = (1.0 - s) * emg + s * swing
        top = float(joined.max())
        out_peaks[key] = top
        out_shapes[key] = joined / top if top > 0 else joined
    return p, out_shapes, out_peaks
