"""Moved from _excitation.py; docstring to write."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.errors import InputError
from .sources import TEMPLATE_PHASE, GaitPhaseTemplate

# Cycle-averaged EMG shapes of the Rajagopal 2016 running trial, produced by
# ``derive_emg_template(emg_run.mat, grf_run.mot, side="r")`` (6 right strides cut at
# force-plate foot strikes), rounded to 3 decimals; sampled at TEMPLATE_PHASE (every 2 %).
# Sources: shared/data/kinematics/opensim-models_rajagopal_running/emg_run.mat (sha256
# 07fd0e08d2c057f9865ddb05be2fe15e2512344100f89de35868784304edf703) and grf_run.mot (sha256
# 337b6288700359a87f048dab56e5344ad24e6ea75170ee48f1a53f2712ad68b4), from opensim-models @
# 20a888b9655e Pipelines/Rajagopal; data of Rajagopal et al. 2016 (doi:10.1109/TBME.2016.2586891).
# tests/test_excitation.py re-derives them from the files.
_RAJAGOPAL_RUN_SHAPES = {
    "bflh": (
        0.985,
        0.995,
        1.000,
        0.957,
        0.874,
        0.776,
        0.670,
        0.583,
        0.531,
        0.515,
        0.524,
        0.543,
        0.564,
        0.600,
        0.652,
        0.709,
        0.711,
        0.652,
        0.569,
        0.506,
        0.459,
        0.416,
        0.360,
        0.283,
        0.199,
        0.124,
        0.074,
        0.046,
        0.031,
        0.025,
        0.024,
        0.024,
        0.026,
        0.027,
        0.028,
        0.028,
        0.028,
        0.027,
        0.025,
        0.024,
        0.027,
        0.036,
        0.055,
        0.089,
        0.141,
        0.214,
        0.316,
        0.451,
        0.614,
        0.778,
        0.889,
    ),
    "semimem": (
        0.967,
        1.000,
        0.982,
        0.944,
        0.917,
        0.876,
        0.781,
        0.651,
        0.522,
        0.409,
        0.327,
        0.279,
        0.259,
        0.267,
        0.297,
        0.327,
        0.319,
        0.271,
        0.218,
        0.190,
        0.188,
        0.207,
        0.230,
        0.231,
        0.195,
        0.151,
        0.119,
        0.096,
        0.080,
        0.072,
        0.068,
        0.066,
        0.068,
        0.067,
        0.065,
        0.063,
        0.062,
        0.062,
        0.058,
        0.056,
        0.060,
        0.070,
        0.091,
        0.128,
        0.185,
        0.264,
        0.359,
        0.471,
        0.601,
        0.744,
        0.883,
    ),
    "gasmed": (
        0.043,
        0.062,
        0.106,
        0.179,
        0.270,
        0.361,
        0.438,
        0.487,
        0.527,
        0.589,
        0.673,
        0.772,
        0.850,
        0.909,
        0.965,
        1.000,
        0.988,
        0.944,
        0.905,
        0.843,
        0.717,
        0.556,
        0.409,
        0.313,
        0.249,
        0.194,
        0.149,
        0.112,
        0.080,
        0.056,
        0.039,
        0.030,
        0.027,
        0.026,
        0.027,
        0.028,
        0.030,
        0.029,
        0.028,
        0.027,
        0.027,
        0.028,
        0.028,
        0.029,
        0.030,
        0.029,
        0.027,
        0.027,
        0.028,
        0.031,
        0.036,
    ),
    "gaslat": (
        0.064,
        0.069,
        0.078,
        0.104,
        0.151,
        0.208,
        0.264,
        0.312,
        0.365,
        0.437,
        0.521,
        0.602,
        0.699,
        0.811,
        0.927,
        1.000,
        0.985,
        0.917,
        0.847,
        0.778,
        0.693,
        0.612,
        0.538,
        0.458,
        0.381,
        0.300,
        0.225,
        0.159,
        0.103,
        0.062,
        0.038,
        0.026,
        0.021,
        0.020,
        0.021,
        0.023,
        0.023,
        0.023,
        0.023,
        0.022,
        0.022,
        0.022,
        0.022,
        0.021,
        0.020,
        0.019,
        0.018,
        0.019,
        0.024,
        0.033,
        0.044,
    ),
    "soleus": (
        0.057,
        0.066,
        0.093,
        0.150,
        0.248,
        0.376,
        0.491,
        0.576,
        0.643,
        0.716,
        0.804,
        0.873,
        0.935,
        0.969,
        0.981,
        1.000,
        0.996,
        0.951,
        0.893,
        0.816,
        0.695,
        0.558,
        0.436,
        0.335,
        0.260,
        0.202,
        0.157,
        0.110,
        0.071,
        0.047,
        0.040,
        0.042,
        0.047,
        0.050,
        0.052,
        0.056,
        0.061,
        0.064,
        0.065,
        0.061,
        0.054,
        0.048,
        0.044,
        0.042,
        0.041,
        0.040,
        0.040,
        0.041,
        0.041,
        0.043,
        0.047,
    ),
}


#: Peak of each cycle-averaged envelope in the file's own normalisation (derive_emg_template's
#: ``cycle_peak``), and the mean force-plate toe-off phase of those 6 strides (%).
_RAJAGOPAL_RUN_PEAKS = {
    "bflh": 0.431,
    "semimem": 0.380,
    "gasmed": 0.553,
    "gaslat": 0.352,
    "soleus": 0.433,
}


_RAJAGOPAL_RUN_TOE_OFF = 35.7


#: Treadmill speed of that trial (m/s), not stated in the files: the right toe's backward
#: speed relative to the pelvis in mid-stance (30–70 % of each force-plate stance), 3.61–3.99
#: m/s over 6 strides after musclesim's own scale + IK; the ankle gives 3.45–3.77 m/s.
RAJAGOPAL_RUN_SPEED = 3.7


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
    ``_RAJAGOPAL_RUN_SHAPES``). Hamstrings are most active from late swing (≈ 90 %) through
    early stance (peak 2–4 % after foot strike); the calf from foot strike to a peak at 30 %
    (late stance), silent in swing. Peaks default to the trial's own cycle-averaged values
    (0.35–0.55 in the data providers' normalisation, in which vastus medialis reaches 1.0 in
    this trial); pass ``peak`` to use MVC-normalised values of your own.

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


def sprinting_template(*, peak: float | Mapping[str, float] = 1.0) -> GaitPhaseTemplate:
    """Maximal-sprint activation template: the running shapes at full excitation.

    How the pattern changes from running to sprinting, and the source of each part:

    - Timing: stance shortens with speed; the template's stance is stretched onto each
      stride's own detected stance (:func:`_remap_phase`), so the shape follows the trial.
    - Amplitude: averaged EMG of biceps femoris and gastrocnemius rises with running speed,
      most in the pre-contact and braking phases, and exceeds 100 % MVC at high speeds
      (Kyröläinen et al. 2005, doi:10.1080/02640410400021575); hamstring activation in late
      swing rises significantly from 85 % to 95 % of maximal speed (Higashihara et al. 2010,
      doi:10.1080/02640414.2010.494308). Hence every muscle's peak is 1 (full excitation)
      by default; the shape itself is the measured running shape.
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
    return GaitPhaseTemplate(
        "sprinting (running shapes, full excitation)",
        TEMPLATE_PHASE,
        _shapes(),
        peaks,
        reference_toe_off=_RAJAGOPAL_RUN_TOE_OFF,
        references=("rajagopal2016", "kyrolainen2005", "higashihara2010", "howard2018"),
    )


def template_for_speed(speed: float, *, max_speed: float) -> GaitPhaseTemplate:
    """The template at a running ``speed`` (m/s) for an athlete whose maximal speed is
    ``max_speed``: each muscle's peak is interpolated linearly in speed from the running
    template's value at ``RAJAGOPAL_RUN_SPEED`` to 1 at ``max_speed`` (clamped outside).

    The linear form is our assumption; the published evidence is that EMG amplitude rises
    monotonically with speed (Kyröläinen et al. 2005) and steeply near maximal speed
    (Higashihara et al. 2010), which a linear ramp only approximates.
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
    return GaitPhaseTemplate(
        f"running at {speed:g} m/s of max {max_speed:g} m/s",
        TEMPLATE_PHASE,
        _shapes(),
        peaks,
        reference_toe_off=_RAJAGOPAL_RUN_TOE_OFF,
        references=("rajagopal2016", "kyrolainen2005", "higashihara2010"),
    )
