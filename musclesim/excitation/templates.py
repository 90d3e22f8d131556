"""Gait-phase excitation templates for running and sprinting, built on measured EMG.

The shapes are the cycle-averaged EMG envelopes of the running trial of Rajagopal et al. 2016
(:func:`running_template`); sprinting keeps the shapes at full excitation
(:func:`sprinting_template`), and :func:`template_for_speed` ramps each muscle's peak between the
two with running speed; at speed their swing comes from static optimisation along measured
sprints instead (:mod:`musclesim.excitation.sprint_swing`). The numbers (shapes, peaks, toe-off
phase, the trial's speed) are data, shipped beside this module in
``rajagopal2016_running_template.toml`` with the source files' sha256 and how they were
derived, and read once on import.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .sources import TEMPLATE_PHASE, GaitPhaseTemplate
from .sprint_swing import SPRINT_SWING_REFERENCES, sprint_swing_data, with_sprint_swing

#: The running template's numbers (provenance in the file's header comment).
RAJAGOPAL_RUN_FILE = Path(__file__).with_name("rajagopal2016_running_template.toml")


def _read_run_template(path: Path) -> dict:
    """Shapes (tuples sampled at :data:`TEMPLATE_PHASE`), peaks, toe-off phase (%) and speed
    (m/s) from a template file; InputError naming the field when the file does not fit."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    if not np.array_equal(np.asarray(data["phase_percent"]), TEMPLATE_PHASE):
        raise InputError(
            "phases differ from TEMPLATE_PHASE",
            path=path,
            field="phase_percent",
            expected=f"{TEMPLATE_PHASE.size} phases, every 2 % from 0 to 100",
        )
    shapes = {str(k): tuple(float(x) for x in v) for k, v in data["shape"].items()}
    for key, shape in shapes.items():
        if len(shape) != TEMPLATE_PHASE.size:
            raise InputError(
                f"{len(shape)} values",
                path=path,
                field=f"shape.{key}",
                expected=f"one value per phase ({TEMPLATE_PHASE.size})",
            )
    peaks = {str(k): float(v) for k, v in data["peak"].items()}
    if set(peaks) != set(shapes):
        raise InputError(
            f"peaks for {sorted(peaks)}, shapes for {sorted(shapes)}",
            path=path,
            field="peak",
            expected="one peak per shape",
        )
    return {
        "shapes": shapes,
        "peaks": peaks,
        "toe_off": float(data["toe_off_percent"]),
        "speed": float(data["speed_m_per_s"]),
    }


_RAJAGOPAL_RUN = _read_run_template(RAJAGOPAL_RUN_FILE)

#: Cycle-averaged EMG shapes of the Rajagopal 2016 running trial, each divided by its maximum,
#: sampled at TEMPLATE_PHASE; tests/test_excitation.py re-derives them from the source files.
_RAJAGOPAL_RUN_SHAPES: dict[str, tuple[float, ...]] = _RAJAGOPAL_RUN["shapes"]

#: Peak of each cycle-averaged envelope in the file's own normalisation (derive_emg_template's
#: ``cycle_peak``).
_RAJAGOPAL_RUN_PEAKS: dict[str, float] = _RAJAGOPAL_RUN["peaks"]

#: Mean force-plate toe-off phase of the trial's 6 right strides (%).
_RAJAGOPAL_RUN_TOE_OFF: float = _RAJAGOPAL_RUN["toe_off"]

#: Treadmill speed of that trial (m/s), not stated in the source files: the stance toe's
#: backward speed relative to the pelvis (derivation in the data file).
RAJAGOPAL_RUN_SPEED: float = _RAJAGOPAL_RUN["speed"]


#: Medial-hamstring and short-head shapes: surface EMG in that trial has one medial-hamstring
#: channel (SM) and one lateral (BFLH); semitendinosus takes the SM shape and biceps femoris
#: short head the BFLH shape (assumptions, see DEFAULT_CHANNEL_MAP).
_SHAPE_SOURCE = {
    "bflh": "bflh",
    "bfsh": "bflh",
    "semiten": "semimem",
    "semimem": "semimem",
    "gasmed": "gasmed",
    "gaslat": "gaslat",
    "soleus": "soleus",
}


def _shapes() -> dict[str, np.ndarray]:
    return {key: np.asarray(_RAJAGOPAL_RUN_SHAPES[src]) for key, src in _SHAPE_SOURCE.items()}


def running_template(*, peak: Mapping[str, float] | None = None) -> GaitPhaseTemplate:
    """Running (≈3.7 m/s, treadmill) activation template for the 7 hamstring and calf muscles.

    Shapes: measured, cycle-averaged EMG envelopes of the Rajagopal 2016 running trial (see
    ``rajagopal2016_running_template.toml``). Hamstrings are most active from late swing
    (≈ 90 %) through early stance (peak 2–4 % after foot strike); the calf from foot strike to
    a peak at 30 % (late stance), silent in swing. Peaks default to the trial's own
    cycle-averaged values (0.35–0.55 in the data providers' normalisation, in which vastus
    medialis reaches 1.0 in this trial); pass ``peak`` to use MVC-normalised values of your own.

    Observed, not corrected: the calf envelopes stay high ≈10 % of the cycle past force-plate
    toe-off and show little pre-contact activity, unlike Kyröläinen et al. 2005; a lag of the
    envelopes behind the force plates (e.g. a causal filter, ≈40 ms) would explain both.
    """
    peaks = {key: _RAJAGOPAL_RUN_PEAKS[src] for key, src in _SHAPE_SOURCE.items()}
    peaks.update(peak or {})
    return GaitPhaseTemplate(
        "running (Rajagopal 2016 EMG)",
        TEMPLATE_PHASE,
        _shapes(),
        peaks,
        reference_toe_off=_RAJAGOPAL_RUN_TOE_OFF,
        references=("rajagopal2016",),
        notes=f"reference speed {RAJAGOPAL_RUN_SPEED} m/s",
    )


def _joined(peaks: Mapping[str, float], speed: float):
    """Phases, shapes and peaks of the EMG template with its swing from static optimisation
    along the sprint trials at running ``speed`` (m/s),
    :func:`musclesim.excitation.sprint_swing.with_sprint_swing`."""
    return with_sprint_swing(
        TEMPLATE_PHASE,
        _shapes(),
        peaks,
        reference_toe_off=_RAJAGOPAL_RUN_TOE_OFF,
        speed=speed,
        fade_from=RUNNING_MIN_SPEED,
    )


def sprinting_template(*, peak: float | Mapping[str, float] = 1.0) -> GaitPhaseTemplate:
    """Maximal-sprint activation template: the running EMG stance at full excitation, and the
    swing that static optimisation finds along the fastest sprint trial.

    How the pattern changes from running to sprinting, and the source of each part:

    - Swing: the excitation of static optimisation along the fastest Dorn et al. 2012 trial
      (9.5 m/s; :mod:`musclesim.excitation.sprint_swing`, which states its limits), joined to
      the EMG stance by cross-fades at toe-off and foot strike: the running EMG's hamstring
      burst at foot strike would otherwise put the sprint's peak hamstring load in stance,
      where Schache et al. 2012 and Chumanov et al. 2011 find it in terminal swing.
    - Timing: stance shortens with speed; the template's stance is stretched onto each
      stride's own detected stance (:func:`_remap_phase`), so the shape follows the trial.
    - Amplitude: averaged EMG of biceps femoris and gastrocnemius rises with running speed,
      most in the pre-contact and braking phases, and exceeds 100 % MVC at high speeds
      (Kyröläinen et al. 2005, doi:10.1080/02640410400021575); hamstring activation in late
      swing rises significantly from 85 % to 95 % of maximal speed (Higashihara et al. 2010,
      doi:10.1080/02640414.2010.494308). Hence every muscle's peak is 1 (full excitation)
      by default in stance, whose shape is the measured running shape.
    - Not represented (limitation): semitendinosus is more active than biceps femoris in mid
      swing at ≥75 % of maximal speed (Higashihara et al. 2010), and activity bursts differ in
      timing between the two at 95 % (same paper); the single medial-hamstring channel of the
      source data cannot express this. Howard et al. 2018 (doi:10.1080/14763141.2016.1252790)
      review sprint EMG more broadly.
    """
    peaks = (
        dict.fromkeys(_SHAPE_SOURCE, float(peak))
        if not isinstance(peak, Mapping)
        else {**dict.fromkeys(_SHAPE_SOURCE, 1.0), **peak}
    )
    phase, shapes, peaks = _joined(peaks, float(sprint_swing_data().speeds[-1]))
    return GaitPhaseTemplate(
        "sprinting (running EMG stance at full excitation, static-optimisation swing)",
        phase,
        shapes,
        peaks,
        reference_toe_off=_RAJAGOPAL_RUN_TOE_OFF,
        references=(
            "rajagopal2016",
            "kyrolainen2005",
            "higashihara2010",
            "howard2018",
            *SPRINT_SWING_REFERENCES,
        ),
    )


def template_for_speed(speed: float, *, max_speed: float) -> GaitPhaseTemplate:
    """The template at a running ``speed`` (m/s) for an athlete whose maximal speed is
    ``max_speed``: each muscle's peak is interpolated linearly in speed from the running
    template's value at ``RAJAGOPAL_RUN_SPEED`` to 1 at ``max_speed`` (clamped outside).

    The linear form is our assumption; the published evidence is that EMG amplitude rises
    monotonically with speed (Kyröläinen et al. 2005) and steeply near maximal speed
    (Higashihara et al. 2010), which a linear ramp only approximates. The swing is that of
    static optimisation along the sprint trials at the same speed
    (:func:`musclesim.excitation.sprint_swing.with_sprint_swing`), fading to the EMG swing
    towards :data:`RUNNING_MIN_SPEED` below the slowest trial.
    """
    if not (max_speed > RAJAGOPAL_RUN_SPEED):
        raise InputError(
            f"max_speed {max_speed} m/s", field="max_speed", expected=f"> {RAJAGOPAL_RUN_SPEED} m/s"
        )
    if speed <= 0:
        raise InputError(f"speed {speed} m/s", field="speed", expected="> 0 m/s")
    w = float(np.clip((speed - RAJAGOPAL_RUN_SPEED) / (max_speed - RAJAGOPAL_RUN_SPEED), 0.0, 1.0))
    base = running_template()
    peaks = {k: (1 - w) * v + w * 1.0 for k, v in base.peak.items()}
    phase, shapes, peaks = _joined(peaks, speed)
    return GaitPhaseTemplate(
        f"running at {speed:g} m/s of max {max_speed:g} m/s",
        phase,
        shapes,
        peaks,
        reference_toe_off=_RAJAGOPAL_RUN_TOE_OFF,
        references=("rajagopal2016", "kyrolainen2005", "higashihara2010", *SPRINT_SWING_REFERENCES),
    )


#: Slowest speed (m/s) at which a motion is taken for running: the preferred walk-to-run
#: transition speed, 2.06 m/s on average (Hreljac 1993, doi:10.1249/00005768-199310000-00012),
#: rounded down. A pelvis travelling slower is on a treadmill, in place, or walking, and the
#: running templates cannot take their speed from it.
RUNNING_MIN_SPEED = 2.0


def overground_speed(motion) -> float | None:
    """Mean horizontal speed (m/s) of the pelvis over the whole record: the net distance of
    ``pelvis_tx``/``pelvis_tz`` from the first to the last sample divided by the duration;
    ``None`` when the motion has no pelvis translation. A treadmill trial gives about 0 (the
    pelvis stays over the belt)."""
    names = [str(c) for c in motion["coordinate"].values]
    if "pelvis_tx" not in names:
        return None
    t = np.asarray(motion["time"].values, dtype=float)
    if t.size < 2 or t[-1] <= t[0]:
        return None
    tx = np.asarray(motion["q"].sel(coordinate="pelvis_tx").values, dtype=float)
    tz = (
        np.asarray(motion["q"].sel(coordinate="pelvis_tz").values, dtype=float)
        if "pelvis_tz" in names
        else np.zeros_like(tx)
    )
    return float(np.hypot(tx[-1] - tx[0], tz[-1] - tz[0]) / (t[-1] - t[0]))


def template_for_motion(
    motion, *, speed: float | None = None, max_speed: float | None = None, source: str = "motion"
) -> GaitPhaseTemplate:
    """The running template at the motion's own speed.

    ``speed`` (m/s) when given, else the pelvis's :func:`overground_speed`. Refused
    (InputError saying why and what to give instead) when the speed cannot be known (no
    pelvis translation, or a pelvis slower than :data:`RUNNING_MIN_SPEED`: treadmill, in place
    or walking), and above :data:`RAJAGOPAL_RUN_SPEED` without ``max_speed``: the peaks rise
    from the running trial's towards full excitation at the athlete's maximal speed
    (:func:`template_for_speed`), so that speed must be known. At or below the trial's speed
    the trial's own peaks are used: no published scaling below it is applied.
    """
    how = "given"
    if speed is None:
        measured = overground_speed(motion)
        if measured is None:
            raise InputError(
                "the running speed cannot be measured: the motion has no pelvis_tx",
                path=source,
                field="speed",
                expected="--speed (m/s) for a run, or an explicit --excitation",
            )
        if measured < RUNNING_MIN_SPEED:
            raise InputError(
                f"the pelvis travels {measured:.2f} m/s over the record (treadmill, in place, "
                f"or walking: below the {RUNNING_MIN_SPEED:g} m/s of running), so the running "
                "speed that sets the excitation cannot be measured",
                path=source,
                field="speed",
                expected="--speed (m/s) for a treadmill run, or an explicit --excitation "
                "(a number, 'running', 'sprinting', an EMG file, static_optimization)",
            )
        speed, how = measured, "measured from the pelvis"
    if not (speed > 0):
        raise InputError(f"speed {speed} m/s", field="speed", expected="> 0 m/s")
    if max_speed is not None and speed > max_speed:
        raise InputError(
            f"the speed {speed:.2f} m/s ({how}) is above the maximal speed {max_speed:g} m/s",
            path=source,
            field="max_speed",
            expected="a maximal speed at least the motion's speed",
        )
    if speed > RAJAGOPAL_RUN_SPEED and max_speed is None:
        raise InputError(
            f"the speed {speed:.2f} m/s ({how}) is above the running template's "
            f"{RAJAGOPAL_RUN_SPEED:g} m/s, where excitation rises towards full at the "
            "athlete's maximal speed",
            path=source,
            field="max_speed",
            expected="--max-speed (m/s), or --excitation sprinting for a maximal sprint",
        )
    template = template_for_speed(
        speed, max_speed=max(max_speed or 0.0, RAJAGOPAL_RUN_SPEED + 1e-9, speed)
    )
    template.name = f"running template at {speed:.2f} m/s ({how})" + (
        f", maximal speed {max_speed:g} m/s" if max_speed is not None else ""
    )
    if speed <= RAJAGOPAL_RUN_SPEED:
        template.notes = (
            f"at or below the template trial's {RAJAGOPAL_RUN_SPEED:g} m/s its measured peaks "
            "are used unscaled"
        )
    if how != "given":
        template.references = (*template.references, "hreljac1993")
    template.speed = float(speed)
    template.speed_source = how
    return template
