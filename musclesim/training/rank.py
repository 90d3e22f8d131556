"""Drill ranking for one athlete on one day: every tissue-load criterion of the injured muscle
in every drill, its utilisation of today's limit, the verdict in words, the binding criterion,
the maximal admissible intensity per dimension and how to regress a drill over a limit.

Stages of :func:`rank_drills`:

1. the athlete's model: shipped geometry + muscle parameters scaled to the athlete
   (:func:`~musclesim.training.athlete.scale_parameters`), injured;
2. every drill's whole intensity grid, one grid per intensity dimension
   (:attr:`~musclesim.training.drills.Drill.dimensions`: the primary intensity, and
   ``range_fraction``, ``tempo_s``, ``load_bm`` where the drill has them, each with the others
   at their defaults), together with the reference run (the injured muscle at the athlete's
   maximal sprint speed, clipped to the measured 3.5-9.5 m/s) in one stack of cases evaluated
   in fixed-size batches of ``BATCH`` by the one evaluation chain
   (:func:`~musclesim.pipeline.evaluate.evaluate`), every case resampled to ``SAMPLES``
   samples so one compiled program serves every drill;
3. today's limit per criterion (:func:`today_limits`), as fractions of the reference;
4. utilisation u = value / limit of each criterion (:func:`~musclesim.training.criteria.
   utilisation`); the largest binds;
5. per dimension, the largest admissible value (max u <= 1), from the easy end of the grid:
   linear interpolation of u between the two grid points that bracket u = 1, then one Newton
   step from that point whose slope is the secant through the bracket point on the other side
   of the limit (the drill kinematics are built in NumPy, so the grid supplies the derivative),
   aimed at 1 - |u - 1| so that the interpolation's own error keeps it inside the limit;
   both points are evaluated in one batched call each, and the hardest evaluated point with
   u <= 1 is reported (the bracket's admissible grid point if neither is);
6. the status of each drill, in words: ``admissible`` (every criterion within its limit at the
   default settings), ``admissible after regression`` (over at the defaults, within after
   easing one dimension: the hint names how in the drill library's words,
   :meth:`~musclesim.training.drills.Dimension.limit_words`, e.g. "range ≤ 70 %",
   "tempo ≥ 3 s", "load ≤ 0.2 BM", "speed ≤ 7.1 m/s"), ``not today`` (over at the easy end of every
   dimension), ``does not load the target muscle`` (within today's limits at the defaults,
   never actively loaded there, and its force below the same ``ACTIVE_FORCE_FRACTION`` of
   F_max throughout: a drill that stretches the muscle until it carries that much passively,
   such as the Askling Extender, loads it).

Ranking rule (:data:`RANK_RULE`): drills sort by status in the order above; within a status,
by target stimulus against the binding limit, that is the binding utilisation at the setting
the row recommends (the defaults, or the regressed setting), largest first: the drill that
loads the healing muscle closest to today's limit without passing it comes first, since
loading within tolerance is what the rehabilitation progresses; ties by sprint specificity.
"Not today" drills sort by their utilisation at the easiest setting, smallest first (closest
to admissible first).

No NaN reaches the result: "not loaded" and "not admissible" are status words, and a criterion
of a drill that does not load the muscle is 0.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.io import MODELS_DIR, write_text_atomic
from ..geometry.io import load_model
from ..muscle.fiber import PER_MEMBER
from ..muscle.implicit import substeps_for
from ..muscle.metrics import ACTIVE_FORCE_FRACTION
from ..pipeline.evaluate import check_domain, evaluate, resample_motions
from .athlete import scale_parameters
from .criteria import CRITERIA, CRITERION_NAMES, utilisation
from .drills import (
    drill_excitation,
    drill_motion,
    get_drill,
    load_drills,
    load_running_template,
)
from .plan import metrics_table
from .tolerance import CriterionLimits, policy_summary, todays_limits

#: Samples per drill evaluation. Every drill is resampled to this many samples over its own
#: duration, so one compiled solver serves every drill and intensity.
SAMPLES = 256
#: Cases per batched evaluation. Every batch is padded to this size, so one compiled program
#: serves the grid, the interpolated points and the Newton points alike.
BATCH = 64
#: Grid points per intensity dimension.
GRID_POINTS = 7
#: Utilisation within which a point counts as at the limit (a relative 1e-4 of the limit): in
#: float32, one case's criteria differ by up to about 1e-5 relative with the batch it is
#: evaluated in (measured on the maximal-sprint reference), and 1e-4 is far below any
#: clinical meaning.
LIMIT_TOLERANCE = 1e-4
#: Running speeds covered by the measured template (m/s), SOURCES.md: 3.54-9.51 measured.
RUNNING_SPEED_RANGE = (3.5, 9.5)
#: The running drill whose maximal-speed run is the reference of the dynamic criteria.
RUNNING_DRILL = "running"
#: What the references of the dynamic criteria are, printed with every ranking and table.
REFERENCE_BASIS = (
    "the injured muscle's largest value in running at constant speeds up to the athlete's "
    "maximal sprint speed"
)
#: Status words, in ranking order.
STATUSES = (
    "admissible",
    "admissible after regression",
    "not today",
    "does not load the target muscle",
)
#: The ranking rule, printed with every ranking.
RANK_RULE = (
    "Order: admissible, admissible after regression, not today, does not load the target "
    "muscle; within each, the largest binding utilisation at the recommended setting first "
    "(the drill that loads the healing muscle closest to today's limit without passing it), "
    "ties by sprint specificity; 'not today' drills by their utilisation at the easiest "
    "setting, smallest first."
)


@dataclasses.dataclass(frozen=True)
class AthleteModel:
    """An athlete's musculoskeletal model: geometry and scaled parameters of one muscle."""

    geometry: object  # GeometryModel restricted to the injured muscle
    muscle: str
    side: str
    uninjured: object  # MuscleParameters, scalar leaves
    injured: object
    max_speed: float
    #: athlete height / model height: MTU lengths scale with it, like the muscle lengths
    #: (geometric similarity, the rule of :func:`~musclesim.training.athlete.scale_parameters`)
    length_scale: float = 1.0
    #: the whole model's geometry (every knee flexor: strength tests and pain-free poses)
    full_geometry: object = None
    #: poses outside the geometry's fitted domain (``OUT_OF_DOMAIN_POLICIES`` of
    #: :mod:`musclesim.geometry.model`): refused, or continued from the fitted box and counted
    out_of_domain: str = "warn"


def reference_size(model_name: str) -> tuple[float, float]:
    """(height m, mass kg) of a shipped model (``models/subjects/<name>.toml``)."""
    path = MODELS_DIR / "subjects" / f"{model_name}.toml"
    try:
        data = tomllib.loads(path.read_text())
        return float(data["height_m"]), float(data["mass_kg"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            f"no reference body size ({exc})",
            path=path,
            expected="height_m and mass_kg, from experiments/derive_subject_size.py",
        ) from exc


def athlete_model(
    athlete, model_name: str = "sprinter_ja1", *, out_of_domain: str = "warn"
) -> AthleteModel:
    """Geometry of the athlete's injured muscle and its parameters, scaled to the athlete;
    ``out_of_domain`` is the policy every evaluation of its cases follows
    (:func:`evaluate_cases`)."""

    geometry = load_model(model_name)
    family = "gait2392" if any(m.startswith("bifemlh") for m in geometry.muscles) else "rajagopal"
    muscle = athlete.model_muscle_name(family)
    single = geometry.select([muscle])
    height, mass = reference_size(geometry.name)
    params = single.parameters
    common = dict(reference_height=height, reference_mass=mass)
    uninjured = scale_parameters(
        params,
        dataclasses.replace(athlete, strength_deficit=None, fascicle_length_ratio=None),
        **common,
    )
    injured = scale_parameters(params, athlete, injured_index=0, **common)
    return AthleteModel(
        single,
        muscle,
        athlete.side[0],
        uninjured[0],
        injured[0],
        float(athlete.max_sprint_speed),
        float(athlete.height / height),
        geometry,
        out_of_domain,
    )


def _motion(am: AthleteModel, drill, intensity, settings, drills):
    return drill_motion(
        drill,
        intensity,
        coordinates=am.geometry.coordinates,
        knee_flexion_sign=am.geometry.knee_flexion_sign,
        side=am.side,
        drills=drills,
        settings=settings or None,
    )


def drill_coordinates(
    am: AthleteModel, drill, intensities: Sequence[float], *, drills=None, settings=None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(time [K, SAMPLES], {coordinate: [K, SAMPLES]})`` of ``drill`` at each of the ``K``
    intensities (further dimensions at ``settings``, defaults where absent), each on its own
    time grid (:func:`~musclesim.pipeline.evaluate.resample_motions`)."""
    motions = [_motion(am, drill, x, settings, drills) for x in intensities]
    return resample_motions(motions, SAMPLES, am.geometry.coordinates)


def drill_drive(
    am: AthleteModel, drill, intensity: float, time, *, max_speed: float, drills=None, settings=None
):
    """Excitation ``[T]`` in [0, 1] of the athlete's muscle in ``drill`` at ``intensity`` (and
    ``settings``) at ``time`` (s); ``max_speed`` (m/s) sets the running templates' amplitude."""
    source = drill_excitation(
        drill,
        intensity,
        max_speed=max_speed,
        side=am.side,
        drills=drills,
        settings=settings or None,
    )
    return np.clip(np.asarray(source(time, [am.muscle]), dtype=float)[:, 0], 0.0, 1.0)


def intensity_grid(drill, n: int) -> np.ndarray:
    """``n`` intensities spanning ``drill``'s range; a running-template drill stops at the
    fastest speed the measured template covers (``RUNNING_SPEED_RANGE``)."""
    hi = drill.intensity.max
    if drill.kind == "running_template":
        hi = min(hi, RUNNING_SPEED_RANGE[1])
    return np.linspace(drill.intensity.min, hi, n)


def dimension_grid(drill, dimension, n: int) -> np.ndarray:
    """``n`` values spanning one of ``drill``'s dimensions (:func:`intensity_grid` for the
    primary intensity)."""
    if dimension.name == drill.intensity.name:
        return intensity_grid(drill, n)
    return np.linspace(dimension.min, dimension.max, n)


def reference_speed(am: AthleteModel) -> float:
    """The athlete's maximal sprint speed clipped to the measured running template (m/s)."""
    lo, hi = RUNNING_SPEED_RANGE
    return float(np.clip(am.max_speed, lo, hi))


@dataclasses.dataclass(frozen=True, eq=False)
class Case:
    """One drill at one primary ``intensity`` and ``settings`` of its further dimensions."""

    drill: object  # Drill
    intensity: float
    settings: tuple[tuple[str, float], ...] = ()

    @property
    def key(self) -> tuple:
        """What identifies the case: drill name, intensity and settings."""
        return (self.drill.name, self.intensity, self.settings)

    def __eq__(self, other) -> bool:
        return isinstance(other, Case) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def _repetitions(drill, motion) -> float:
    """Repetitions (strides for running and walking) the motion holds: criteria that add up
    over time (negative work) are divided by it to give one repetition's value. An
    acceleration's repetition is a stride too (its mean over the strides it takes, from its
    integrated stride phase), so that its negative work compares with one stride of the
    sprint references rather than with a whole run."""
    if drill.kind == "running_template" and drill.motion.get("speed_profile") == "acceleration":
        return max(1.0, float(motion.attrs.get("strides", 1.0)))
    duration = float(motion["time"].values[-1] - motion["time"].values[0])
    if "stride_frequency_hz" in motion.attrs:
        return max(1.0, round(duration * float(motion.attrs["stride_frequency_hz"])))
    if "cycle_period_s" in motion.attrs:
        return max(1.0, round(duration / float(motion.attrs["cycle_period_s"])))
    return 1.0


def _settling_repetitions(drill, motion, repetitions: float) -> int:
    """Repetitions left out of the criteria at the start of the motion: the first stride of a
    run or walk at constant speed, which the simulation starts from a static equilibrium in
    the middle of the gait cycle (at foot strike, with the swing's activation), so its first
    samples are a transient of the simulation rather than of the movement. Other drills
    start from rest, as the movement does: none left out."""
    steady = drill.kind in ("running_template", "walking_template") or "cycle_period_s" in (
        motion.attrs
    )
    if drill.motion.get("speed_profile") == "acceleration" or not steady:
        return 0
    return 1 if repetitions >= 2 else 0


def _exposures_per_dose(drill, motion) -> float:
    """Loading cycles per dose unit: 1 per repetition; strides per metre for a run or walk at
    constant speed (its stride frequency over its speed); for an acceleration over its set
    distance, its strides (:func:`_repetitions`) per metre of that distance. A keyframe drill
    dosed in metres has no stride length in its file: one exposure per metre."""
    if drill.dose.distance_m is None:
        return 1.0
    if drill.kind == "running_template" and drill.motion.get("speed_profile") == "acceleration":
        return _repetitions(drill, motion) / float(drill.dose.distance_m)
    if "stride_frequency_hz" in motion.attrs and drill.intensity.unit == "m/s":
        return float(motion.attrs["stride_frequency_hz"]) / float(motion.attrs["intensity"])
    return 1.0


#: Fields :func:`evaluate_cases` returns besides the criteria.
EXTRA_FIELDS = (
    "loads_muscle",
    "active_stretch_descending",
    "active_stretch_phase",
    "peak_force_phase",
    "active_negative_power_phase",
    "repetitions",
    "exposures_per_dose",
    "out_of_domain",
)


def _toe_off_fraction(speed: float) -> float:
    """Toe-off as a fraction of the stride (right foot strike at 0) in the measured running
    template at ``speed`` (m/s), interpolated between its speeds."""
    tpl = load_running_template()
    return float(np.interp(speed, tpl.speeds, tpl.toe_off_phase)) / 100.0


@dataclasses.dataclass(frozen=True)
class CaseInputs:
    """What :func:`~musclesim.pipeline.evaluate.evaluate` reads for a stack of ``N`` cases
    (:func:`case_inputs`): each case resampled to ``SAMPLES`` samples on its own time grid.

    Attributes:
        time: sample times (s), ``[N, SAMPLES]``.
        coordinates: coordinate name -> angles (rad), ``[N, SAMPLES]``.
        excitation: the injured muscle's excitation in [0, 1], ``[N, SAMPLES]``.
        counted: samples the criteria read (after the settling repetitions),
            ``[N, 1, SAMPLES]`` (a muscle axis of one).
        repetitions: repetitions (strides) each motion holds, ``[N]``.
        settling: repetitions left out of the criteria at the start, ``[N]``.
        exposures_per_dose: loading cycles per dose unit, ``[N]``.
    """

    time: np.ndarray
    coordinates: dict[str, np.ndarray]
    excitation: np.ndarray
    counted: np.ndarray
    repetitions: np.ndarray
    settling: np.ndarray
    exposures_per_dose: np.ndarray


def case_inputs(am: AthleteModel, cases: Sequence[Case], *, drills=None) -> CaseInputs:
    """The resampled motions, excitations and counted samples of ``cases`` (non-empty), the
    inputs :func:`evaluate_cases` evaluates (and any other evaluation of the same cases, e.g.
    with sampled parameters or a perturbed motion)."""
    max_speed = min(am.max_speed, RUNNING_SPEED_RANGE[1])
    motions, reps, expo, settle = [], [], [], []
    for c in cases:
        m = _motion(am, c.drill, c.intensity, dict(c.settings), drills)
        motions.append(m)
        reps.append(_repetitions(c.drill, m))
        expo.append(_exposures_per_dose(c.drill, m))
        settle.append(_settling_repetitions(c.drill, m, reps[-1]))
    reps_arr, settle_arr = np.asarray(reps, dtype=float), np.asarray(settle, dtype=float)
    # first counted sample of each case: after its settling repetitions
    first = np.ceil(settle_arr / reps_arr * (SAMPLES - 1)).astype(int)
    counted = np.arange(SAMPLES)[None, None, :] >= first[:, None, None]
    time, q = resample_motions(motions, SAMPLES, am.geometry.coordinates)
    drive = np.stack(
        [
            drill_drive(
                am,
                c.drill,
                c.intensity,
                t,
                max_speed=max_speed,
                drills=drills,
                settings=dict(c.settings),
            )
            for c, t in zip(cases, time, strict=True)
        ]
    )
    return CaseInputs(time, q, drive, counted, reps_arr, settle_arr, np.asarray(expo, dtype=float))


def evaluate_cases(
    am: AthleteModel, cases: Sequence[Case], *, injured: bool = True, drills=None, **solver_options
) -> dict[str, np.ndarray]:
    """Every criterion (per repetition) of the athlete's muscle in each case, arrays ``[N]``.

    All cases are resampled to ``SAMPLES`` samples and evaluated in batches of ``BATCH``
    (the last padded by repeating a case), so one compiled program serves every call. Also
    returns ``loads_muscle``, ``active_stretch_descending``, ``repetitions``,
    ``exposures_per_dose``, ``out_of_domain`` (samples outside the fitted geometry, continued
    from its box; refused by name before any solving when ``am.out_of_domain`` is
    ``"refuse"``) and the timing of three peaks as a fraction of one repetition
    (of the stride, foot strike at 0, for running): ``active_stretch_phase``,
    ``peak_force_phase`` (tendon force) and ``active_negative_power_phase`` (active fibre
    force x lengthening velocity).
    """
    cases = list(cases)
    if not cases:
        return {k: np.zeros(0) for k in (*CRITERION_NAMES, *EXTRA_FIELDS)}
    inputs = case_inputs(am, cases, drills=drills)
    time, q, drive, counted = inputs.time, inputs.coordinates, inputs.excitation, inputs.counted
    outside = _outside(am, cases, q)
    reps_arr, settle_arr = inputs.repetitions, inputs.settling
    params = am.injured if injured else am.uninjured
    # Each case with the substeps its own sample spacing needs, counted at run time, so every
    # batch runs one compiled solver (a count fixed per batch compiled a program per count,
    # ~4 s each, for ~0.1 s of solving); cases go into batches in order of that count, since
    # a batch costs its largest.
    solver_options.setdefault("substeps", PER_MEMBER)
    order = np.argsort(substeps_for(time, per_member=True), kind="stable")
    fields = (*CRITERION_NAMES, "loads_muscle", "active_stretch_descending", "active_stretch_index")
    parts = {k: [] for k in (*fields, "peak_force_index", "active_negative_power_index")}
    n = len(cases)
    for start in range(0, n, BATCH):
        idx = order[np.minimum(np.arange(start, start + BATCH), n - 1)]
        result = evaluate(
            am.geometry,
            params,
            time[idx],
            {c: v[idx] for c, v in q.items()},
            length_scale=am.length_scale,
            excitation=drive[idx][:, None, :],
            counted=counted[idx],
            out_of_domain=am.out_of_domain,
            **solver_options,
        )
        keep = min(BATCH, n - start)
        sol = result.solution
        for k in fields:
            parts[k].append(np.asarray(getattr(result.metrics, k))[:keep, 0])
        window = counted[idx][:keep, 0]
        force = np.where(window, np.asarray(sol.tendon_force)[:keep, 0], -np.inf)
        velocity = np.asarray(sol.fiber_velocity)[:keep, 0]
        power = np.where(
            window & (velocity > 0), np.asarray(sol.active_fiber_force)[:keep, 0] * velocity, 0
        )
        parts["peak_force_index"].append(np.argmax(force, axis=-1))
        parts["active_negative_power_index"].append(np.argmax(power, axis=-1))
    back = np.argsort(order)  # batch order -> case order
    out = {k: np.concatenate(v)[back] for k, v in parts.items()}
    out["repetitions"] = reps_arr
    out["active_negative_work"] = out["active_negative_work"] / (reps_arr - settle_arr)
    out["exposures_per_dose"] = inputs.exposures_per_dose
    out["out_of_domain"] = outside
    out["loads_muscle"] = out["loads_muscle"].astype(bool)
    out["active_stretch_descending"] = out["active_stretch_descending"].astype(bool)
    for name, k in (
        ("active_stretch_phase", "active_stretch_index"),
        ("peak_force_phase", "peak_force_index"),
        ("active_negative_power_phase", "active_negative_power_index"),
    ):
        out[name] = (out.pop(k) / (SAMPLES - 1) * out["repetitions"]) % 1.0
    for k in CRITERION_NAMES:
        out[k] = np.asarray(out[k], dtype=float)
    return out


def _label(case: Case) -> str:
    settings = "".join(f", {k} {v:g}" for k, v in case.settings)
    return f"{case.drill.name} at {case.intensity:g}{settings}"


def _outside(am: AthleteModel, cases: Sequence[Case], q) -> np.ndarray:
    """Samples of each case (``[N]``) outside the geometry's fitted domain, refused by name
    under ``am.out_of_domain == "refuse"`` (:func:`~musclesim.pipeline.evaluate.check_domain`)."""
    labels = [_label(c) for c in cases]
    inside = check_domain(am.geometry, q, out_of_domain=am.out_of_domain, labels=labels)
    return (~inside).sum(axis=(-2, -1))


def check_cases(am: AthleteModel, cases: Sequence[Case], *, drills=None) -> np.ndarray:
    """:func:`evaluate_cases`' domain check alone (no solving), so that a ranking or a table
    refuses a case outside the fitted geometry before its long computation; returns the
    samples of each case outside the domain."""
    cases = list(cases)
    return _outside(am, cases, case_inputs(am, cases, drills=drills).coordinates)


def out_of_domain_words(policy: str, samples: int, cases: int) -> str:
    """The line every output of a ranking, plan or table carries about the geometry's domain."""
    if not samples:
        return f"0 samples outside the fitted geometry (--out-of-domain {policy})"
    return (
        f"{samples} samples in {cases} evaluated cases outside the fitted geometry, clamped "
        f"onto its box and continued to first order (--out-of-domain {policy}; per-drill "
        "counts in the variable out_of_domain)"
    )


def drill_peaks(
    am: AthleteModel,
    drill,
    intensities,
    *,
    injured: bool = True,
    drills=None,
    settings=None,
    **solver_options,
) -> dict[str, np.ndarray]:
    """Every criterion of the athlete's muscle in ``drill`` at each intensity (arrays
    ``[K]``, :func:`evaluate_cases`), further dimensions at ``settings``."""
    d = get_drill(drill, drills)
    frozen = tuple(sorted((settings or {}).items()))
    cases = [Case(d, float(x), frozen) for x in np.atleast_1d(intensities)]
    return evaluate_cases(am, cases, injured=injured, drills=drills, **solver_options)


def reference_cases(am: AthleteModel, drills=None) -> list[Case]:
    """The running cases the references are taken from: ``GRID_POINTS`` constant speeds from
    the slowest running speed to the athlete's maximal sprint speed (the last)."""
    d = get_drill(RUNNING_DRILL, drills)
    speeds = np.linspace(RUNNING_SPEED_RANGE[0], reference_speed(am), GRID_POINTS)
    return [Case(d, float(v), ()) for v in speeds]


def running_envelope(values: Mapping[str, np.ndarray], am: AthleteModel) -> dict[str, float]:
    """The references from :func:`evaluate_cases` over :func:`reference_cases`: each
    criterion's largest value over the running speeds up to maximal, so that all running up to
    full speed is within the limits on the day the assessments say the muscle has recovered.
    The envelope, not the value at maximal speed alone, because a criterion need not rise with
    speed: peak hamstring stretch barely changes between 80 % and 100 % of maximal speed
    (Thelen et al. 2005; Chumanov et al. 2011), and in the model the active stretch of the
    biceps femoris long head peaks below maximal speed. The other fields (stride timing) are
    those at maximal speed. Adds ``speed`` (m/s)."""
    ref = {k: float(np.asarray(v)[-1]) for k, v in values.items()}
    for c in CRITERION_NAMES:
        ref[c] = float(np.max(values[c]))
    return ref | {
        "speed": reference_speed(am),
        "toe_off_fraction": _toe_off_fraction(reference_speed(am)),
    }


def reference_peaks(am: AthleteModel, *, drills=None) -> dict[str, float]:
    """The references of the criteria for the INJURED muscle (:func:`running_envelope`)."""
    return running_envelope(evaluate_cases(am, reference_cases(am, drills), drills=drills), am)


def today_limits(
    am: AthleteModel,
    athlete,
    day,
    references: Mapping[str, float],
    *,
    policy=None,
    pain=0.0,
    soreness=0.0,
) -> CriterionLimits:
    """Today's limit per criterion (:func:`~musclesim.training.tolerance.todays_limits`): from
    the athlete's latest assessment on or before ``day`` (the grade's recovery time course
    without one), as fractions of the injured muscle's own maximal-sprint ``references``; the
    pain-free range and strength tests go through the athlete's model geometry."""
    return todays_limits(
        athlete,
        day,
        {c: float(references[c]) for c in CRITERION_NAMES},
        policy=policy,
        pain=pain,
        soreness=soreness,
        geometry=am.full_geometry,
        muscle=am.muscle,
        length_scale=am.length_scale,
        out_of_domain=am.out_of_domain,
    )


def sprint_specificity(drill, intensity: float, max_speed: float) -> float:
    """0-1: the drill file's ``sprint_specificity`` when given; running at ``v``: v / v_max."""
    spec = getattr(drill, "excitation", {}) or {}
    given = getattr(drill, "motion", {}).get("sprint_specificity", spec.get("sprint_specificity"))
    if given is not None:
        return float(given)
    if drill.kind == "running_template":
        return float(min(1.0, intensity / max_speed))
    return 0.0


# ----------------------------------------------------------------------------------------------
# Today's verdict per drill
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Search:
    """The admissible range of one dimension of one drill (the others at their defaults)."""

    drill: int
    dimension: object  # Dimension
    grid: np.ndarray  # easy -> hard
    grid_cases: list[int]
    state: str = ""  # "whole range", "up to", "none"
    value: float = math.nan
    at: int = -1  # index into the evaluated cases of the reported point
    bracket: tuple[int, int] = (-1, -1)


def _case(d, dim_name: str | None, value: float, defaults: Mapping[str, float]) -> Case:
    """Drill ``d`` at its ``defaults`` with dimension ``dim_name`` set to ``value`` (None: the
    defaults alone)."""
    settings = dict(defaults)
    intensity = d.intensity.default
    if dim_name == d.intensity.name:
        intensity = value
    elif dim_name is not None:
        settings[dim_name] = float(value)
    return Case(d, float(intensity), tuple(sorted(settings.items())))


def _admissible_ranges(am, library, selected, limits, cache):
    """Default verdicts and the admissible range of every dimension of every drill, from
    three batched evaluations (grid, interpolated points, Newton points)."""
    cases: list[Case] = []
    index: dict[Case, int] = {}

    def add(case: Case) -> int:
        if case not in index:
            index[case] = len(cases)
            cases.append(case)
        return index[case]

    defaults, searches = [], []
    for i, name in enumerate(selected):
        d = library[name]
        base = d.check_settings(None)
        defaults.append(add(_case(d, None, 0.0, base)))
        for dim in d.dimensions:
            grid = dimension_grid(d, dim, GRID_POINTS)
            grid = grid if dim.harder > 0 else grid[::-1]
            searches.append(_Search(i, dim, grid, [add(_case(d, dim.name, x, base)) for x in grid]))

    def run(new_cases):
        todo = [c for c in new_cases if c not in cache]
        if todo:
            values = evaluate_cases(am, todo, drills=library)
            for k, c in enumerate(todo):
                cache[c] = {key: v[k] for key, v in values.items()}

    run(cases)

    def u_of(case_index: int) -> float:
        return float(np.max(_utilisations_of(cache[cases[case_index]], limits)))

    # interpolate u = 1 on each grid
    interp = []
    for s in searches:
        u = np.array([u_of(k) for k in s.grid_cases])
        if u[0] > 1 + LIMIT_TOLERANCE:
            s.state, s.value, s.at = "none", float(s.grid[0]), s.grid_cases[0]
            continue
        over = np.flatnonzero(u > 1 + LIMIT_TOLERANCE)
        if over.size == 0:
            s.state, s.value, s.at = "whole range", float(s.grid[-1]), s.grid_cases[-1]
            continue
        j = int(over[0])
        s.bracket = (j - 1, j)
        x0, x1, u0, u1 = s.grid[j - 1], s.grid[j], u[j - 1], u[j]
        x = x0 + (1.0 - u0) / (u1 - u0) * (x1 - x0)
        base = library[selected[s.drill]].check_settings(None)
        interp.append((s, add(_case(library[selected[s.drill]], s.dimension.name, x, base)), x))
    run(cases)
    # one Newton step from the interpolated point, slope from the bracket's other side
    newton = []
    for s, k, x in interp:
        j0, j1 = s.bracket
        ux = u_of(k)
        if ux > 1:
            xo, uo = s.grid[j0], u_of(s.grid_cases[j0])
        else:
            xo, uo = s.grid[j1], u_of(s.grid_cases[j1])
        slope = (ux - uo) / (x - xo) if x != xo else 0.0
        lo, hi = sorted((s.grid[j0], s.grid[j1]))
        # aim inside the limit by the interpolation's own error, |u(x*) - 1|: the criteria
        # are not linear in intensity, so a step aimed at 1 itself lands over it as often as
        # under (measured on running: 1.0012 after a step aimed at 1 from 1.0046)
        target = 1.0 - abs(ux - 1.0)
        step = x - (ux - target) / slope if slope != 0 else x
        step = float(np.clip(step, lo, hi))
        base = library[selected[s.drill]].check_settings(None)
        newton.append(
            (s, k, x, add(_case(library[selected[s.drill]], s.dimension.name, step, base)), step)
        )
    run(cases)
    for s, k, x, kn, xn in newton:
        j0 = s.bracket[0]
        candidates = [(s.grid[j0], s.grid_cases[j0]), (x, k), (xn, kn)]
        ok = [(v, c) for v, c in candidates if u_of(c) <= 1 + LIMIT_TOLERANCE]
        v, c = max(ok, key=lambda vc: s.dimension.harder * vc[0])
        s.state, s.value, s.at = "up to", float(v), c
    return cases, defaults, searches


def _utilisations_of(values: Mapping[str, float], limits: CriterionLimits) -> np.ndarray:
    return np.array([float(utilisation(values[c], limits.values[c])) for c in CRITERION_NAMES])


def _swing_words(phase: float, toe_off: float) -> str:
    """Where a stride fraction falls: stance (foot strike at 0 to toe-off), early swing (first
    half of swing) or terminal swing (second half of swing, to the next foot strike)."""
    if phase < toe_off:
        return "stance"
    return "early swing" if phase < 0.5 * (toe_off + 1.0) else "terminal swing"


def sprint_reference_note(reference: Mapping[str, float]) -> str:
    """Where in the stride the maximal-sprint references peak, against the published timing."""
    toe = reference["toe_off_fraction"]
    parts = []
    for key, label in (
        ("peak_force_phase", "peak force"),
        ("active_negative_power_phase", "peak active negative power"),
        ("active_stretch_phase", "active stretch"),
    ):
        f = reference[key]
        parts.append(f"{label} at {f:.0%} of the stride ({_swing_words(f, toe)})")
    note = (
        f"Sprint references ({reference['speed']:g} m/s, toe-off at {toe:.0%} of the stride): "
        + "; ".join(parts)
        + ". Published sprinting puts the biceps femoris long head's peak force, stretch and "
        "negative work in terminal swing (schache2012, chumanov2011)."
    )
    if any(
        _swing_words(reference[k], toe) != "terminal swing"
        for k in ("peak_force_phase", "active_negative_power_phase", "active_stretch_phase")
    ):
        note += (
            " The model disagrees where a reference falls outside terminal swing: the running "
            "excitation's swing comes from static optimisation along measured sprints, but its "
            "stance is the EMG shape of a 3.7 m/s run at full excitation (its hamstring burst "
            "peaks just after foot strike), so the references are kept as simulated and this "
            "disagreement is reported, not tuned."
        )
    return note


def rank_drills(
    athlete,
    *,
    day: datetime.date | None = None,
    pain: float = 0.0,
    soreness: float = 0.0,
    model: str = "sprinter_ja1",
    drills: Mapping | None = None,
    names: Sequence[str] | None = None,
    policy=None,
    with_max_safe: bool = True,
    out_of_domain: str = "warn",
) -> xr.Dataset:
    """Every drill's tissue-load criteria on the injured muscle today, against today's limits.

    Returns a Dataset over ``drill`` (the module docstring's stages; rows in ranking order,
    :data:`RANK_RULE`) with, per drill: ``status`` (:data:`STATUSES`), ``rank``,
    ``binding_criterion``, each criterion's value at the default settings, ``utilisation_<c>``
    and ``limit_<c>``, ``loads_muscle``, ``active_stretch_descending``, ``default_intensity``,
    ``intensity_unit``, ``category``, ``max_admissible_intensity`` (the hardest admissible
    primary intensity with the other dimensions at their defaults; the easiest value where
    ``intensity_admissible`` is False), ``max_admissible`` (every dimension, in words),
    ``regression`` (how to regress a drill over a limit, in words; empty where none is
    needed or none works), ``recommended_utilisation`` (binding utilisation at the
    recommended setting, the ranking score) and ``sprint_specificity``. Attributes: the
    references and their stride timing, today's limit fractions and basis, the ranking rule,
    the policy summary and provenance. No variable holds NaN. ``with_max_safe=False`` skips
    the dimension searches (defaults only).
    """

    day = day or datetime.date.today()
    if athlete.injury_date > day:  # later assessments are allowed: today's limits ignore them
        raise InputError(
            f"injury date {athlete.injury_date} is in the future (ranking day {day})",
            path=getattr(athlete, "source", None),
            field="injury.date",
            expected=f"a date on or before {day}",
        )
    library = load_drills() if drills is None else drills
    selected = list(names or library)
    unknown = [n for n in selected if n not in library]
    if unknown:
        raise InputError(
            f"unknown drill(s) {unknown}", field="drills", expected=f"names among {sorted(library)}"
        )
    # the injured muscle as the assessment log describes it on the day (fascicle length and
    # strength change between assessments); its own maximal-sprint values are the references
    am = athlete_model(athlete.state_on(day), model, out_of_domain=out_of_domain)
    cache: dict = {}
    ref_cases = reference_cases(am, library)
    if out_of_domain == "refuse":  # the references and every default, before any solving
        default_cases = [
            _case(library[n], None, 0.0, library[n].check_settings(None)) for n in selected
        ]
        check_cases(am, ref_cases + default_cases, drills=library)
    values = evaluate_cases(am, ref_cases, drills=library)
    for i, case in enumerate(ref_cases):
        cache[case] = {k: v[i] for k, v in values.items()}
    reference = running_envelope(values, am)
    limits = today_limits(am, athlete, day, reference, policy=policy, pain=pain, soreness=soreness)
    if with_max_safe:
        cases, defaults, searches = _admissible_ranges(am, library, selected, limits, cache)
    else:
        cases = [_case(library[n], None, 0.0, library[n].check_settings(None)) for n in selected]
        todo = [c for c in cases if c not in cache]
        if todo:
            got = evaluate_cases(am, todo, drills=library)
            for k, c in enumerate(todo):
                cache[c] = {key: v[k] for key, v in got.items()}
        defaults, searches = list(range(len(selected))), []
    rows = []
    for i, name in enumerate(selected):
        d = library[name]
        at_default = cache[cases[defaults[i]]]
        u = _utilisations_of(at_default, limits)
        mine = [s for s in searches if s.drill == i]
        primary = next((s for s in mine if s.dimension.name == d.intensity.name), None)
        # loaded actively, or stretched until it carries the same stated fraction of F_max
        # passively (a lengthening drill such as the Askling Extender, whose hamstrings the
        # body statics leave at rest: its stimulus is the stretch, bounded by the end range)
        loaded = bool(at_default["loads_muscle"]) or float(
            at_default["peak_force"]
        ) >= ACTIVE_FORCE_FRACTION * float(am.injured.max_isometric_force)
        words, regression, recommended = [], [], float(u.max())
        for s in mine:
            if s.state == "none":
                words.append(f"{s.dimension.name}: none admissible")
            else:
                text = s.dimension.limit_words(s.value)
                words.append(text + (" (whole range)" if s.state == "whole range" else ""))
        if u.max() <= 1 + LIMIT_TOLERANCE:
            status = "admissible" if loaded else "does not load the target muscle"
        else:
            workable = [s for s in mine if s.state != "none"]
            if workable:
                status = "admissible after regression"
                regression = [s.dimension.limit_words(s.value) for s in workable]
                recommended = float(_utilisations_of(cache[cases[workable[0].at]], limits).max())
            else:
                status = "not today"
                easiest = [
                    _utilisations_of(cache[cases[s.grid_cases[0]]], limits).max() for s in mine
                ]
                recommended = float(min(easiest)) if easiest else recommended
        rows.append(
            {
                "name": name,
                "status": status,
                "u": u,
                "values": at_default,
                "binding": CRITERION_NAMES[int(np.argmax(u))],
                "max_words": "; ".join(words) if words else "not computed",
                "regression": " or ".join(regression),
                "recommended": recommended,
                "max_intensity": float(primary.value) if primary else float(d.intensity.default),
                "intensity_ok": bool(primary is not None and primary.state != "none"),
                "specificity": sprint_specificity(d, d.intensity.default, am.max_speed),
                "drill": d,
            }
        )

    def key(r):
        group = STATUSES.index(r["status"])
        score = r["recommended"] if r["status"] == "not today" else -r["recommended"]
        return (group, score, -r["specificity"])

    rows.sort(key=key)
    n = len(rows)
    data = {
        "rank": ("drill", np.arange(1, n + 1)),
        "status": ("drill", np.asarray([r["status"] for r in rows], dtype=object)),
        "binding_criterion": ("drill", np.asarray([r["binding"] for r in rows], dtype=object)),
        "loads_muscle": (
            "drill",
            np.asarray([bool(r["values"]["loads_muscle"]) for r in rows], dtype=bool),
        ),
        "active_stretch_descending": (
            "drill",
            np.asarray([bool(r["values"]["active_stretch_descending"]) for r in rows]),
        ),
        "default_intensity": ("drill", np.asarray([r["drill"].intensity.default for r in rows])),
        "intensity_unit": (
            "drill",
            np.asarray([r["drill"].intensity.unit for r in rows], dtype=object),
        ),
        "category": ("drill", np.asarray([r["drill"].category for r in rows], dtype=object)),
        "max_admissible_intensity": ("drill", np.asarray([r["max_intensity"] for r in rows])),
        "intensity_admissible": (
            "drill",
            np.asarray([r["intensity_ok"] for r in rows], dtype=bool),
        ),
        "max_admissible": ("drill", np.asarray([r["max_words"] for r in rows], dtype=object)),
        "regression": ("drill", np.asarray([r["regression"] for r in rows], dtype=object)),
        "recommended_utilisation": (
            "drill",
            np.asarray([r["recommended"] for r in rows]),
            {"units": "1", "long_name": "binding utilisation at the recommended setting"},
        ),
        "sprint_specificity": ("drill", np.asarray([r["specificity"] for r in rows])),
        "out_of_domain": (
            "drill",
            np.asarray([int(r["values"]["out_of_domain"]) for r in rows]),
            {"long_name": "samples outside the fitted geometry at the default settings"},
        ),
    }
    for j, c in enumerate(CRITERIA):
        data[c.name] = (
            "drill",
            np.asarray([float(r["values"][c.name]) for r in rows]),
            {"units": c.unit, "long_name": c.long_name},
        )
        data[f"utilisation_{c.name}"] = (
            "drill",
            np.asarray([float(r["u"][j]) for r in rows]),
            {"units": "1", "long_name": f"fraction of today's limit: {c.long_name}"},
        )
        data[f"limit_{c.name}"] = (
            "drill",
            np.full(n, float(limits.values[c.name])),
            {"units": c.unit, "long_name": f"today's limit: {c.long_name}"},
        )
    attrs = {
        "athlete": athlete.name or "",
        "muscle": am.muscle,
        "model": model,
        "day": day.isoformat(),
        "days_since_injury": athlete.days_since_injury(day),
        "pain": pain,
        "soreness": soreness,
        "reference_speed": reference["speed"],
        "reference_basis": REFERENCE_BASIS,
        "limit_basis": limits.basis,
        "limit_sources": ",".join(limits.sources),
        "assessment_date": "" if limits.assessment_date is None else str(limits.assessment_date),
        "cleared_for_full": int(bool(limits.cleared_for_full)),
        "rank_rule": RANK_RULE,
        "sprint_reference_note": sprint_reference_note(reference),
        "active_force_fraction": ACTIVE_FORCE_FRACTION,
        "criteria": ",".join(CRITERION_NAMES),
        "policy": policy_summary(policy, athlete),
        "out_of_domain_policy": out_of_domain,
        "out_of_domain": out_of_domain_words(
            out_of_domain,
            int(sum(v["out_of_domain"] for v in cache.values())),
            len(cache),
        ),
    }
    for c in CRITERION_NAMES:
        attrs[f"reference_{c}"] = float(reference[c])
        attrs[f"limit_fraction_{c}"] = float(limits.fractions[c])
    for k in ("peak_force_phase", "active_negative_power_phase", "active_stretch_phase"):
        attrs[f"reference_{k}"] = float(reference[k])
    attrs["reference_toe_off_fraction"] = float(reference["toe_off_fraction"])
    return xr.Dataset(data, coords={"drill": [r["name"] for r in rows]}, attrs=attrs)


def ranking_table(ds: xr.Dataset) -> str:
    """A printable table of :func:`rank_drills`' result in ranking order: status, binding
    criterion, each criterion's utilisation (% of today's limit), the maximal admissible
    intensity and the regression."""
    short = {
        "active_stretch": "stretch",
        "active_negative_work": "neg.work",
        "peak_force": "force",
        "active_lengthening_velocity": "velocity",
        "end_range_length": "end-range",
    }
    head = (
        f"{'#':>2s} {'drill':24s} {'status':29s} {'binds':12s} "
        + " ".join(f"{short[c]:>9s}" for c in CRITERION_NAMES)
        + "  max admissible / regression"
    )
    lines = [
        "utilisation of today's limit per criterion (%), at the default settings",
        head,
    ]
    for i in range(ds.sizes["drill"]):
        r = ds.isel(drill=i)
        status = str(r["status"].values)
        binds = short[str(r["binding_criterion"].values)] if status != STATUSES[3] else "-"
        what = str(r["regression"].values) or str(r["max_admissible"].values)
        lines.append(
            f"{int(r['rank']):>2d} {str(r['drill'].values):24s} {status:29s} {binds:12s} "
            + " ".join(f"{100 * float(r[f'utilisation_{c}']):>9.0f}" for c in CRITERION_NAMES)
            + f"  {what}"
        )
    lines += ["", "Ranking: " + ds.attrs["rank_rule"], "Limits:"]
    lines += ["  " + line for line in str(ds.attrs["limit_basis"]).splitlines()]
    lines += ["Note: " + ds.attrs["sprint_reference_note"]]
    return "\n".join(lines)


#: Columns of :func:`write_ranking_csv`, in order.
CSV_COLUMNS = (
    "rank",
    "drill",
    "status",
    "binding_criterion",
    "category",
    "intensity_unit",
    "default_intensity",
    "loads_muscle",
    *CRITERION_NAMES,
    *(f"utilisation_{c}" for c in CRITERION_NAMES),
    *(f"limit_{c}" for c in CRITERION_NAMES),
    "active_stretch_descending",
    "max_admissible_intensity",
    "intensity_admissible",
    "max_admissible",
    "regression",
    "recommended_utilisation",
    "sprint_specificity",
    "out_of_domain",
)


def _csv_field(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "inf" if np.isinf(value) else f"{float(value):.6g}"
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


def write_ranking_csv(ds: xr.Dataset, path: str | Path) -> Path:
    """CSV of :func:`rank_drills`' result, one row per drill in ranking order, the attributes
    and policy as ``#`` comment lines above it (atomic write). No cell is NaN."""
    lines = [",".join(CSV_COLUMNS)]
    for i in range(ds.sizes["drill"]):
        r = ds.isel(drill=i)
        lines.append(",".join(_csv_field(r[c].values.item()) for c in CSV_COLUMNS))
    header = []
    for k, v in ds.attrs.items():
        if k != "policy":
            first, *rest = str(v).splitlines() or [""]
            header += [f"# {k}: {first}", *(f"#   {line}" for line in rest)]
    header += ["# " + line for line in str(ds.attrs.get("policy", "")).splitlines()]
    return write_text_atomic(path, "\n".join(header + lines) + "\n")


#: Largest dose per session offered to the planner, as a multiple of the drill's default dose.
#: Policy (a session's volume cap), not a measurement; change it here or in the plan settings.
MAX_DOSE_MULTIPLE = 2


def athlete_metrics(
    athlete,
    *,
    model: str = "sprinter_ja1",
    drills: Mapping | None = None,
    names: Sequence[str] | None = None,
    n_levels: int = 5,
    out_of_domain: str = "warn",
) -> xr.Dataset:
    """The drill metrics table the planner reads (:mod:`musclesim.training.plan.metrics`),
    computed for this athlete: every drill at ``n_levels`` primary intensities across its
    range (further dimensions at their defaults), injured muscle, each criterion per
    repetition, and the references: the injured muscle at maximal sprint speed. All drills and
    the reference in one stack of batched evaluations (:func:`evaluate_cases`).

    Doses: a drill given as sets x reps is dosed in repetitions (step: one set's reps), a
    distance drill in metres (step: one repetition's distance); from one step up to
    ``MAX_DOSE_MULTIPLE`` times the default dose. Exposures per dose unit: 1 per repetition,
    strides per metre for running and walking (:func:`evaluate_cases`).
    """
    library = load_drills() if drills is None else drills
    selected = list(names or library)
    unknown = [n for n in selected if n not in library]
    if unknown:
        raise InputError(
            f"unknown drill(s) {unknown}", field="drills", expected=f"names among {sorted(library)}"
        )
    am = athlete_model(athlete, model, out_of_domain=out_of_domain)
    grid = np.stack([intensity_grid(library[n], n_levels) for n in selected])
    cases = reference_cases(am, library)
    m = len(cases)
    for i, n in enumerate(selected):
        d = library[n]
        base = tuple(sorted(d.check_settings(None).items()))
        cases += [Case(d, float(x), base) for x in grid[i]]
    values = evaluate_cases(am, cases, drills=library)
    outside = np.asarray(values["out_of_domain"])
    shape = grid.shape
    # the table's own running levels up to maximal speed join the envelope, so that no level
    # between the reference speeds is above the references (which the full limits equal);
    # the reference cases stay last, maximal speed at the end (the timing fields)
    running_levels = [
        m + i * shape[1] + k
        for i, name in enumerate(selected)
        if name == RUNNING_DRILL
        for k in range(shape[1])
        if grid[i, k] <= reference_speed(am) + 1e-9
    ]
    order = np.asarray([*running_levels, *range(m)], dtype=int)
    envelope = running_envelope({k: np.asarray(v)[order] for k, v in values.items()}, am)
    reference = {c: envelope[c] for c in CRITERION_NAMES}
    values = {k: v[m:] for k, v in values.items()}
    crit = {c: values[c].reshape(shape) for c in CRITERION_NAMES}
    units, dose_unit, dose_min, dose_max, dose_step, specificity, category = ([] for _ in range(7))
    for i, name in enumerate(selected):
        d = library[name]
        units.append(d.intensity.unit)
        if d.dose.distance_m is not None:
            step, unit, default = d.dose.distance_m, "m", d.dose.sets * d.dose.distance_m
        else:
            step, unit, default = float(d.dose.reps), "reps", float(d.dose.sets * d.dose.reps)
        dose_unit.append(unit)
        dose_step.append(step)
        dose_min.append(step)
        dose_max.append(MAX_DOSE_MULTIPLE * default)
        specificity.append(sprint_specificity(d, grid[i, -1], am.max_speed))
        category.append(d.category)
    table = metrics_table(
        selected,
        grid,
        crit,
        values["loads_muscle"].reshape(shape),
        intensity_unit=units,
        dose_unit=dose_unit,
        dose_min=dose_min,
        dose_max=dose_max,
        dose_step=dose_step,
        sprint_specificity=specificity,
        category=category,
        references=reference,
        exposures_per_dose=values["exposures_per_dose"].reshape(shape),
        attrs={
            "muscle": am.muscle,
            "model": model,
            "model_family": "rajagopal" if not am.muscle.startswith("bifem") else "gait2392",
            "reference_speed": reference_speed(am),
            "reference_basis": REFERENCE_BASIS,
            "active_force_fraction": ACTIVE_FORCE_FRACTION,
        },
    )
    table["out_of_domain"] = (
        ("drill", "intensity"),
        outside[m:].reshape(shape),
        {"long_name": "samples outside the fitted geometry (clamped onto its box)"},
    )
    table.attrs["out_of_domain_policy"] = out_of_domain
    table.attrs["out_of_domain"] = out_of_domain_words(
        out_of_domain, int(outside.sum()), len(cases)
    )
    return table
