"""The excitation of a drill: how hard each muscle works over the drill's motion.

Keyframe drills give a level per muscle for each move between key postures
(:class:`DrillExcitation`), walking drills a level per window of the gait cycle
(:class:`PhaseWindowExcitation`), running drills the running EMG template at the running speed,
timed by the running template's own strides (:class:`RunningExcitation`).
:func:`drill_excitation` picks the source a drill file names. Levels are keyed by group,
canonical muscle and side, most specific key first (:mod:`.library`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...excitation.sources import (
    ExcitationSource,
    GaitPhaseTemplate,
    _as_array,
    _remap_phase,
    split_muscle,
)
from ...excitation.templates import template_for_speed
from .keyframes import _keyframe_schedule, _mirror, _segment_index
from .library import Drill, _eval, _group_table, get_drill
from .running import _acceleration_phase, _stride_frequency, load_running_template
from .walking import load_walking_template, walking_stride_frequency


def _level_for(
    levels: Mapping,
    muscle: str,
    drill: Drill,
    intensity: float,
    working: str,
    settings: Mapping[str, float] | None = None,
) -> float | None:
    GROUPS = _group_table()

    key, side = split_muscle(muscle)
    # smallest group first, so "gastrocnemius" wins over "calf" for gasmed
    groups = sorted(
        (g for g, members in GROUPS.items() if key in members and g != key),
        key=lambda g: len(GROUPS[g]),
    )
    mside = _mirror(side, working) if side else None
    candidates = []
    if mside:
        candidates.append(f"{key}_{mside}")
    candidates.append(key)
    for g in groups:
        if mside:
            candidates.append(f"{g}_{mside}")
        candidates.append(g)
    for c in candidates:
        if c in levels:
            return _eval(levels[c], drill, intensity, settings)
    return None


def base_default(
    levels: Mapping, drill: Drill, intensity: float, settings: Mapping[str, float] | None = None
) -> float:
    """The ``default`` level of a levels table (0 when absent)."""
    if "default" not in levels:
        return 0.0
    return _eval(levels["default"], drill, intensity, settings)


class PhaseWindowExcitation(ExcitationSource):
    """Excitation of a walking-template drill: levels per window of the gait cycle.

    ``[[excitation.windows]]`` give, for a phase window [from, to) in % of the stride (it may
    wrap past 100 %), levels per muscle or group (resolved like :class:`DrillExcitation`'s);
    outside every window the ``[excitation] levels`` apply. Levels may be linear in speed
    (``{at_min, at_max}``). Timing: phase 0 = right foot strike at t = 0, the stride frequency
    of :func:`walking_stride_frequency`; left muscles lag by the template's measured left foot
    strike phase. Steps are smoothed by the activation dynamics downstream.
    """

    def __init__(
        self,
        drill: Drill,
        intensity: float,
        *,
        side: str = "r",
        settings: Mapping[str, float] | None = None,
    ):
        self.drill = drill
        self.intensity = drill.check_intensity(intensity)
        self.settings = drill.check_settings(settings)
        self.side = side
        self.references = drill.references
        self.template = load_walking_template(drill.motion["template"])
        self.frequency = walking_stride_frequency(
            self.intensity, self.template, cadence_exponent=drill.motion["cadence_exponent"]
        )

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:

        t = _as_array(time)
        d, value = self.drill, self.intensity
        base = d.excitation.get("levels", {})
        phase = np.mod(100.0 * self.frequency * t, 100.0)
        out = np.empty((t.size, len(muscles)))
        for j, muscle in enumerate(muscles):
            _, mside = split_muscle(muscle)
            # walking is bilateral: the left leg's muscles follow the left foot's strikes
            p = np.mod(phase - self.template.left_strike_phase, 100.0) if mside == "l" else phase
            level = _level_for(base, muscle, d, value, self.side, self.settings)
            out[:, j] = base_default(base, d, value, self.settings) if level is None else level
            for w in d.excitation["windows"]:
                inside = (
                    (p >= w["from"]) & (p < w["to"])
                    if w["from"] <= w["to"]
                    else (p >= w["from"]) | (p < w["to"])
                )
                level = _level_for(w["levels"], muscle, d, value, self.side, self.settings)
                if level is not None:
                    out[inside, j] = level
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        return (
            f"PhaseWindowExcitation({self.drill.name} at {self.intensity:g} "
            f"{self.drill.intensity.unit}{_settings_words(self.settings)}; "
            f"refs {', '.join(self.references)})"
        )


class DrillExcitation(ExcitationSource):
    """Excitation of a keyframe drill: a level per muscle for each move between key postures.

    During the move into key posture k, muscle m has the level given in that key posture's
    ``excitation`` table, else the drill's ``[excitation] levels`` (constant), resolved by the
    key order of :mod:`.library`'s docstring. Alternating drills (``left_shift``) shift the left
    muscles' timing with the left leg. Levels come from the cited EMG studies (per drill file);
    steps between moves are smoothed by the activation dynamics downstream.
    """

    def __init__(
        self,
        drill: Drill,
        intensity: float,
        *,
        side: str = "r",
        settings: Mapping[str, float] | None = None,
    ):
        self.drill = drill
        self.intensity = drill.check_intensity(intensity)
        self.settings = drill.check_settings(settings)
        self.side = side
        self.references = drill.references

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:

        t = _as_array(time)
        d, value = self.drill, self.intensity
        base = d.excitation.get("levels", {})
        out = np.empty((t.size, len(muscles)))
        if d.excitation["type"] == "constant" or d.kind != "keyframes":
            for j, muscle in enumerate(muscles):
                level = _level_for(base, muscle, d, value, self.side, self.settings)
                out[:, j] = base_default(base, d, value, self.settings) if level is None else level
            return np.clip(out, 0.0, 1.0)
        arrive, period = _keyframe_schedule(d, value, self.settings)
        shift = _eval(d.motion["left_shift"], d, value, self.settings) * period
        frames = d.motion["keyframes"]
        for j, muscle in enumerate(muscles):
            _, mside = split_muscle(muscle)
            lagged = mside == "l" and shift != 0.0
            seg = _segment_index(t - shift if lagged else t, arrive, period)
            per_frame = []
            for frame in frames:
                level = _level_for(frame["excitation"], muscle, d, value, self.side, self.settings)
                if level is None:
                    level = _level_for(base, muscle, d, value, self.side, self.settings)
                per_frame.append(
                    base_default(base, d, value, self.settings) if level is None else level
                )
            out[:, j] = np.asarray(per_frame)[seg]
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        return (
            f"DrillExcitation({self.drill.name} at {self.intensity:g} "
            f"{self.drill.intensity.unit}{_settings_words(self.settings)}; "
            f"refs {', '.join(self.references)})"
        )


def _settings_words(settings: Mapping[str, float]) -> str:
    return "".join(f", {name} {value:g}" for name, value in settings.items())


#: Excitation of muscles the running EMG template has no pattern for (all but the hamstrings
#: and calf): a low constant, musclesim's assumption (they are outside this library's scope).
OTHER_RUNNING_LEVEL = 0.02

#: Speeds at which an acceleration's templates are tabulated: this many, evenly spaced up to the
#: maximal speed; between them each sample's value is linear in its speed. Every 5 % of maximal
#: speed, finer than the 3.54-9.51 m/s spacing of the sprint trials behind the swing.
ACCELERATION_SPEED_STEPS = 20


class RunningExcitation(ExcitationSource):
    """The running EMG template at a speed, timed by the running template's own strides.

    Amplitude and shape: :func:`musclesim.template_for_speed` (each muscle's peak linear in
    speed from the running template's value at 3.7 m/s to full excitation at ``max_speed``;
    the swing from static optimisation along sprints at the same speed);
    for an acceleration both follow the instantaneous speed (templates tabulated every
    :data:`ACCELERATION_SPEED_STEPS`-th of ``max_speed``, linear between). Timing: the
    stride phase of the drill's own motion (right foot strike at phase 0, t = 0; stride
    frequency, toe-off and left foot strike/toe-off phases interpolated from the running
    template), so no event detection is needed. Given ``cycles`` (measured events) at
    constant speed, those are used.
    """

    def __init__(self, speed: float, *, max_speed: float, profile_tau: float | None = None):

        self.speed = float(speed)
        self.max_speed = float(max_speed)
        self.tau = profile_tau
        self.template: GaitPhaseTemplate = template_for_speed(self.speed, max_speed=max_speed)
        self._speeds = (
            self.max_speed * np.arange(1, ACCELERATION_SPEED_STEPS + 1) / (ACCELERATION_SPEED_STEPS)
        )
        self._templates = (
            [template_for_speed(v, max_speed=max_speed) for v in self._speeds]
            if profile_tau is not None
            else []
        )
        self.references = self.template.references

    def _timing(self, t: np.ndarray):
        tpl = load_running_template()
        if self.tau is None:
            v = np.full(t.shape, self.speed)
            phase = 100.0 * float(_stride_frequency(tpl, [self.speed])[0]) * t
        else:
            v, phase, _ = _acceleration_phase(self.speed, self.tau, t, tpl)
        toe = np.interp(v, tpl.speeds, tpl.toe_off_phase)
        lfs = np.interp(v, tpl.speeds, tpl.left_strike_phase)
        lto = np.interp(v, tpl.speeds, tpl.left_toe_off_phase)
        return v, phase, toe, lfs, lto

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:

        t = _as_array(time)
        out = np.full((t.size, len(muscles)), OTHER_RUNNING_LEVEL)
        known = [j for j, mu in enumerate(muscles) if split_muscle(mu)[0] in self.template.shapes]
        if cycles is not None and self.tau is None:
            if known:
                out[:, known] = self.template(t, [muscles[j] for j in known], cycles=cycles)
            return out
        v, phase, toe, lfs, lto = self._timing(t)
        if self.tau is not None:  # bracketing tabulated speeds and the weight of the upper one
            hi = np.clip(np.searchsorted(self._speeds, v), 1, self._speeds.size - 1)
            lo = hi - 1
            w = np.clip((v - self._speeds[lo]) / (self._speeds[hi] - self._speeds[lo]), 0.0, 1.0)
            rows = np.arange(t.size)
        for j in known:
            key, side = split_muscle(muscles[j])
            if side == "l":
                p, to = np.mod(phase - lfs, 100.0), np.mod(lto - lfs, 100.0)
            else:
                p, to = np.mod(phase, 100.0), toe
            if self.tau is None:
                out[:, j] = _at_phase(self.template, key, p, to)
                continue
            table = np.stack([_at_phase(tp, key, p, to) for tp in self._templates])
            out[:, j] = (1.0 - w) * table[lo, rows] + w * table[hi, rows]
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        how = "constant speed" if self.tau is None else f"acceleration, tau {self.tau:g} s"
        return f"RunningExcitation({self.speed:g} m/s of max {self.max_speed:g} m/s, {how})"


def _at_phase(template: GaitPhaseTemplate, key: str, phase: np.ndarray, toe_off: np.ndarray):
    """Template values at cycle phases with a per-sample toe-off phase (stance/swing remap)."""

    return template.shape(key, _remap_phase(phase, toe_off, template.reference_toe_off))


def drill_excitation(
    drill: str | Drill,
    intensity: float,
    *,
    max_speed: float | None = None,
    side: str = "r",
    drills: Mapping[str, Drill] | None = None,
    settings: Mapping[str, float] | None = None,
) -> ExcitationSource:
    """The excitation source of ``drill`` at ``intensity``.

    Running drills use :func:`musclesim.template_for_speed` with the athlete's ``max_speed``
    (m/s; default the fastest measured template speed, 9.51 m/s); keyframe drills a
    :class:`DrillExcitation` (or :class:`~musclesim.Constant`-like constant levels per muscle);
    ``side`` and ``settings`` (the further intensity dimensions) as in :func:`drill_motion`;
    the timing of keyframe drills follows ``tempo_s``, and levels the file makes linear in
    ``load_bm`` follow the load.
    """
    d = get_drill(drill, drills)
    value = d.check_intensity(intensity)
    chosen = d.check_settings(settings)
    if d.excitation["type"] == "running_template":
        vmax = float(load_running_template().speeds[-1]) if max_speed is None else max_speed
        tau = d.motion.get("tau_s") if d.motion.get("speed_profile") == "acceleration" else None
        return RunningExcitation(value, max_speed=vmax, profile_tau=tau)
    if d.excitation["type"] == "phase_windows":
        return PhaseWindowExcitation(d, value, side=side, settings=chosen)
    return DrillExcitation(d, value, side=side, settings=chosen)
