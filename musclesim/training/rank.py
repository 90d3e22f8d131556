"""Drill ranking for one athlete on one day: predicted load of the injured muscle in every
drill, today's limit, the margin, and the maximal safe intensity.

Stages of :func:`rank_drills`:

1. the athlete's model: shipped geometry + muscle parameters scaled to the athlete
   (:func:`~musclesim.training.athlete.scale_parameters`), once uninjured and once injured;
2. the reference: the uninjured muscle at the athlete's maximal sprinting speed (running
   drill, speed clipped to the measured 3.5-9.5 m/s);
3. today's limit (:func:`~musclesim.training.tolerance.tolerance_limit`) from days since
   injury, grade, pain and soreness, as fractions of that reference;
4. every drill at its default intensity, through the one evaluation chain
   (:func:`~musclesim.pipeline.evaluate.evaluate`: geometry surrogate, fibre dynamics,
   metrics; each drill on its own time grid of ``SAMPLES`` samples);
5. the maximal safe intensity per drill: the largest intensity whose peak eccentric fibre
   strain and peak force stay under today's limits, bracketed on an intensity grid (one
   batched evaluation per drill) and then found on the same chain, by Newton steps with
   ``jax.grad`` for running (:func:`max_safe_running_speed`) or Brent's method
   (``scipy.optimize.brentq``), to ``ROOT_STRAIN_TOLERANCE`` in strain.

Peak eccentric fibre strain is NaN for a drill in which the injured fibres never lengthen while
active (e.g. an isometric bridge); such a drill is judged by its force alone.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from scipy.optimize import brentq

from ..core.errors import InputError
from ..core.io import MODELS_DIR, write_text_atomic
from ..geometry.io import load_model
from ..pipeline.evaluate import evaluate, resample_motions
from .athlete import scale_parameters
from .drills import (
    RunningExcitation,
    drill_excitation,
    drill_motion,
    get_drill,
    load_drills,
    load_running_template,
    running_curves,
)
from .plan import metrics_table
from .tolerance import TolerancePolicy, policy_summary, tolerance_limit

#: Samples per drill evaluation. Every drill is resampled to this many samples over its own
#: duration, so one compiled solver serves every drill and intensity.
SAMPLES = 256
#: Intensity grid per drill for bracketing the maximal safe intensity.
GRID_POINTS = 7
#: Root-finding tolerance on peak eccentric fibre strain: ten times tighter than the 1e-3
#: strain within which a safe intensity must reproduce today's limit.
ROOT_STRAIN_TOLERANCE = 1e-4
#: Running speeds covered by the measured template (m/s), SOURCES.md: 3.54-9.51 measured.
RUNNING_SPEED_RANGE = (3.5, 9.5)
#: Sprint specificity of each drill (0-1) is read from the drill file when given; otherwise
#: running-family drills score 1 at maximal speed scaled by speed / max speed, others 0.
RUNNING_DRILL = "running"


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


def athlete_model(athlete, model_name: str = "sprinter_ja1") -> AthleteModel:
    """Geometry of the athlete's injured muscle and its parameters, scaled to the athlete."""

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
    )


def drill_coordinates(
    am: AthleteModel, drill, intensities: Sequence[float], *, drills=None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(time [K, SAMPLES], {coordinate: [K, SAMPLES]})`` of ``drill`` at each of the ``K``
    intensities, each on its own time grid
    (:func:`~musclesim.pipeline.evaluate.resample_motions`)."""
    motions = [
        drill_motion(
            drill,
            x,
            coordinates=am.geometry.coordinates,
            knee_flexion_sign=am.geometry.knee_flexion_sign,
            side=am.side,
            drills=drills,
        )
        for x in intensities
    ]
    return resample_motions(motions, SAMPLES, am.geometry.coordinates)


def drill_drive(am: AthleteModel, drill, intensity: float, time, *, max_speed: float, drills=None):
    """Excitation ``[T]`` in [0, 1] of the athlete's muscle in ``drill`` at ``intensity`` at
    ``time`` (s); ``max_speed`` (m/s) sets the running templates' amplitude."""
    source = drill_excitation(drill, intensity, max_speed=max_speed, side=am.side, drills=drills)
    return np.clip(np.asarray(source(time, [am.muscle]), dtype=float)[:, 0], 0.0, 1.0)


def intensity_grid(drill, n: int) -> np.ndarray:
    """``n`` intensities spanning ``drill``'s range; a running-template drill stops at the
    fastest speed the measured template covers (``RUNNING_SPEED_RANGE``)."""
    hi = drill.intensity.max
    if drill.kind == "running_template":
        hi = min(hi, RUNNING_SPEED_RANGE[1])
    return np.linspace(drill.intensity.min, hi, n)


#: The peaks :func:`drill_peaks` reports (fields of
#: :class:`~musclesim.muscle.metrics.MuscleMetrics`).
PEAKS = ("peak_eccentric_fiber_strain", "peak_mtu_strain", "peak_force")


def drill_peaks(
    am: AthleteModel, drill, intensities, *, injured: bool = True, drills=None, **solver_options
) -> dict[str, np.ndarray]:
    """Peak eccentric fibre strain, peak MTU strain and peak force of the athlete's muscle in
    ``drill`` at each intensity (arrays ``[K]``), in one batched evaluation."""
    intensities = np.atleast_1d(intensities)
    time, q = drill_coordinates(am, drill, intensities, drills=drills)
    max_speed = min(am.max_speed, RUNNING_SPEED_RANGE[1])
    drive = np.stack(
        [
            drill_drive(am, drill, x, t, max_speed=max_speed, drills=drills)
            for x, t in zip(intensities, time, strict=True)
        ]
    )
    result = evaluate(
        am.geometry,
        am.injured if injured else am.uninjured,
        time,
        q,
        length_scale=am.length_scale,
        excitation=drive[:, None, :],
        **solver_options,
    )
    return {k: np.asarray(getattr(result.metrics, k))[:, 0] for k in PEAKS}


def reference_peaks(am: AthleteModel, *, drills=None) -> dict[str, float]:
    """The uninjured muscle at the athlete's maximal sprint speed (running drill)."""
    lo, hi = RUNNING_SPEED_RANGE
    speed = float(np.clip(am.max_speed, lo, hi))
    peaks = drill_peaks(am, RUNNING_DRILL, [speed], injured=False, drills=drills)
    return {k: float(v[0]) for k, v in peaks.items()} | {"speed": speed}


def _excess(peaks: Mapping[str, np.ndarray], limit) -> np.ndarray:
    """How far over today's limit (strain units; force scaled to strain by the reference)."""
    strain = np.asarray(peaks["peak_eccentric_fiber_strain"], dtype=float)
    over_strain = np.where(np.isfinite(strain), strain - limit.strain, -np.inf)
    over_force = (np.asarray(peaks["peak_force"]) - limit.force) / limit.force * abs(limit.strain)
    return np.maximum(over_strain, over_force)


def max_safe_intensity(am: AthleteModel, drill, limit, *, drills=None) -> tuple[float, float, str]:
    """(largest safe intensity, its peak eccentric fibre strain, method); NaN if even the
    minimum intensity is over today's limit.

    The grid brackets the first crossing of today's limit. For the running drill, when strain
    is the binding quantity, the crossing is found by safeguarded Newton iterations with the
    derivative from ``jax.grad`` through the whole pipeline (:func:`max_safe_running_speed`);
    otherwise (other drills, or force binding) by Brent's method on the same pipeline.
    """
    d = get_drill(drill, drills)
    grid = intensity_grid(d, GRID_POINTS)
    lo, hi = grid[0], grid[-1]
    peaks = drill_peaks(am, d, grid, drills=drills)
    excess = _excess(peaks, limit)
    if excess[0] > 0:
        return math.nan, math.nan, "minimum intensity over the limit"
    if np.all(excess <= 0):
        return float(grid[-1]), float(peaks["peak_eccentric_fiber_strain"][-1]), "whole range"
    k = int(np.argmax(excess > 0))
    strain_binds = peaks["peak_eccentric_fiber_strain"][k] - limit.strain >= excess[k] - 1e-12
    if d.name == RUNNING_DRILL and strain_binds:
        found = max_safe_running_speed(am, limit.strain, (grid[k - 1], grid[k]))
        if abs(found["residual"]) < ROOT_STRAIN_TOLERANCE:
            return float(found["speed"]), float(found["strain"]), "newton (jax.grad)"

    def g(x):
        return float(_excess(drill_peaks(am, d, [x], drills=drills), limit)[0])

    root = brentq(g, grid[k - 1], grid[k], xtol=1e-6 * (hi - lo), rtol=1e-10, maxiter=60)
    at = drill_peaks(am, d, [root], drills=drills)["peak_eccentric_fiber_strain"][0]
    return float(root), float(at), "brent"


def sprint_specificity(drill, intensity: float, max_speed: float) -> float:
    """0-1: the drill file's ``sprint_specificity`` when given; running at ``v``: v / v_max."""
    spec = getattr(drill, "excitation", {}) or {}
    given = getattr(drill, "motion", {}).get("sprint_specificity", spec.get("sprint_specificity"))
    if given is not None:
        return float(given)
    if drill.kind == "running_template":
        return float(min(1.0, intensity / max_speed))
    return 0.0


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
) -> xr.Dataset:
    """Every drill's predicted load on the injured muscle today, against today's limit.

    Returns a Dataset over ``drill`` with ``default_intensity``, ``intensity_unit``,
    ``peak_eccentric_fiber_strain``, ``peak_mtu_strain``, ``peak_force``, ``limit``,
    ``force_limit``, ``margin``, ``max_safe_intensity``, ``safe``, ``sprint_specificity``, and
    the policy summary and provenance in its attributes.
    """

    day = day or datetime.date.today()
    athlete.check_date(day)
    library = load_drills() if drills is None else drills
    selected = list(names or library)
    unknown = [n for n in selected if n not in library]
    if unknown:
        raise InputError(
            f"unknown drill(s) {unknown}", field="drills", expected=f"names among {sorted(library)}"
        )
    am = athlete_model(athlete, model)
    reference = reference_peaks(am, drills=library)
    limit = tolerance_limit(
        athlete,
        athlete.days_since_injury(day),
        policy=policy,
        pain=pain,
        soreness=soreness,
        reference_strain=reference["peak_eccentric_fiber_strain"],
        reference_force=reference["peak_force"],
    )

    rows = {
        k: []
        for k in (
            "peak_eccentric_fiber_strain",
            "peak_mtu_strain",
            "peak_force",
            "max_safe_intensity",
            "strain_at_max_safe",
            "max_safe_method",
        )
    }
    defaults, units, specificity = [], [], []
    for name in selected:
        d = library[name]
        x = d.intensity.default
        peaks = drill_peaks(am, d, [x], drills=library)
        for key in PEAKS:
            rows[key].append(float(peaks[key][0]))
        if with_max_safe:
            safe_x, at, method = max_safe_intensity(am, d, limit, drills=library)
        else:
            safe_x, at, method = math.nan, math.nan, "not computed"
        rows["max_safe_method"].append(method)
        rows["max_safe_intensity"].append(safe_x)
        rows["strain_at_max_safe"].append(at)
        defaults.append(x)
        units.append(d.intensity.unit)
        specificity.append(sprint_specificity(d, x, am.max_speed))
    strain = np.asarray(rows["peak_eccentric_fiber_strain"])
    force = np.asarray(rows["peak_force"])
    safe = np.where(np.isfinite(strain), strain <= limit.strain, True) & (force <= limit.force)
    # Full speed, injured: can it ever be cleared under this policy (full recovery)?
    full_speed = drill_peaks(am, RUNNING_DRILL, [reference["speed"]], drills=library)
    full_ratio = max(
        float(full_speed["peak_eccentric_fiber_strain"][0])
        / reference["peak_eccentric_fiber_strain"],
        float(full_speed["peak_force"][0]) / reference["peak_force"],
    )
    full_fraction = (TolerancePolicy.default() if policy is None else policy).full_fraction
    note = ""
    if full_ratio > full_fraction:
        note = (
            f"Maximal-velocity sprinting ({reference['speed']:g} m/s) is not cleared on any day "
            f"under this policy: the injured muscle reaches {full_ratio:.3f} x its uninjured "
            f"reference there, above the full-recovery limit of {full_fraction:g} x"
            + (
                f" (its fascicles are {1 - athlete.fascicle_length_ratio:.0%} shorter than the "
                "uninjured side's)"
                if athlete.fascicle_length_ratio is not None and athlete.fascicle_length_ratio < 1
                else ""
            )
            + f". A policy full_fraction >= {full_ratio:.3f} would accept it."
        )
    ds = xr.Dataset(
        {
            "default_intensity": ("drill", np.asarray(defaults)),
            "intensity_unit": ("drill", np.asarray(units, dtype=object)),
            "peak_eccentric_fiber_strain": ("drill", strain, {"units": "1"}),
            "peak_mtu_strain": ("drill", np.asarray(rows["peak_mtu_strain"]), {"units": "1"}),
            "peak_force": ("drill", force, {"units": "N"}),
            "limit": ("drill", np.full(len(selected), limit.strain), {"units": "1"}),
            "force_limit": ("drill", np.full(len(selected), limit.force), {"units": "N"}),
            "margin": ("drill", limit.strain - strain, {"units": "1"}),
            "max_safe_intensity": ("drill", np.asarray(rows["max_safe_intensity"])),
            "strain_at_max_safe_intensity": ("drill", np.asarray(rows["strain_at_max_safe"])),
            "max_safe_method": ("drill", np.asarray(rows["max_safe_method"], dtype=object)),
            "safe": ("drill", safe),
            "sprint_specificity": ("drill", np.asarray(specificity)),
        },
        coords={"drill": selected},
        attrs={
            "athlete": athlete.name or "",
            "muscle": am.muscle,
            "model": model,
            "day": day.isoformat(),
            "days_since_injury": athlete.days_since_injury(day),
            "pain": pain,
            "soreness": soreness,
            "reference_speed": reference["speed"],
            "reference_peak_eccentric_fiber_strain": reference["peak_eccentric_fiber_strain"],
            "reference_peak_force": reference["peak_force"],
            "limit_strain_fraction": limit.strain_fraction,
            "limit_force_fraction": limit.force_fraction,
            "full_speed_injured_to_reference": full_ratio,
            "max_velocity_note": note,
            "policy": policy_summary(policy, athlete),
        },
    )
    return ds


def ranking_table(ds: xr.Dataset) -> str:
    """A printable table of :func:`rank_drills`' result, safest margin first."""
    order = np.argsort(-np.nan_to_num(ds["margin"].values, nan=np.inf))
    head = (
        f"{'drill':26s} {'default':>8s} {'ecc. strain':>11s} {'MTU strain':>10s} "
        f"{'force N':>8s} {'margin':>8s} {'max safe':>9s} {'safe':>5s}  unit"
    )
    lines = [head]
    for i in order:
        r = ds.isel(drill=int(i))
        safe = "yes" if bool(r["safe"]) else "NO"
        lines.append(
            f"{str(r['drill'].values):26s} {float(r['default_intensity']):>8.3g} "
            f"{float(r['peak_eccentric_fiber_strain']):>11.3f} "
            f"{float(r['peak_mtu_strain']):>10.3f} {float(r['peak_force']):>8.0f} "
            f"{float(r['margin']):>8.3f} {float(r['max_safe_intensity']):>9.3g} {safe:>5s}  "
            f"{r['intensity_unit'].values}"
        )
    if ds.attrs.get("max_velocity_note"):
        lines += ["", "Note: " + ds.attrs["max_velocity_note"]]
    return "\n".join(lines)


def write_ranking_csv(ds: xr.Dataset, path: str | Path) -> Path:
    """CSV of :func:`rank_drills`' result, one row per drill, the attributes and policy as
    ``#`` comment lines above it (atomic write)."""

    cols = [
        "drill",
        "intensity_unit",
        "default_intensity",
        "peak_eccentric_fiber_strain",
        "peak_mtu_strain",
        "peak_force",
        "limit",
        "force_limit",
        "margin",
        "max_safe_intensity",
        "max_safe_method",
        "safe",
        "sprint_specificity",
    ]
    lines = [",".join(cols)]
    for i in range(ds.sizes["drill"]):
        r = ds.isel(drill=i)
        lines.append(
            ",".join(
                str(r[c].values)
                if c in ("drill", "intensity_unit", "safe", "max_safe_method")
                else f"{float(r[c].values):.6g}"
                for c in cols
            )
        )
    header = [f"# {k}: {v}" for k, v in ds.attrs.items() if k != "policy"]
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
) -> xr.Dataset:
    """The drill metrics table the planner reads (``musclesim.training.plan`` contract), computed
    for this athlete: every drill at ``n_levels`` intensities across its range, injured muscle,
    plus the uninjured reference at maximal sprint speed.

    Doses: a drill given as sets x reps is dosed in repetitions (step: one set's reps), a
    distance drill in metres (step: one repetition's distance); from one step up to
    ``MAX_DOSE_MULTIPLE`` times the default dose. One loading exposure per dose unit.
    """

    library = load_drills() if drills is None else drills
    selected = list(names or library)
    am = athlete_model(athlete, model)
    reference = reference_peaks(am, drills=library)
    grid = np.full((len(selected), n_levels), np.nan)
    values = {k: np.full((len(selected), n_levels), np.nan) for k in PEAKS}
    units, dose_unit, dose_min, dose_max, dose_step, specificity = [], [], [], [], [], []
    for i, name in enumerate(selected):
        d = get_drill(name, library)
        grid[i] = intensity_grid(d, n_levels)
        peaks = drill_peaks(am, d, grid[i], drills=library)
        for key in values:
            values[key][i] = peaks[key]
        # a drill in which the injured fibres never lengthen while active has no eccentric
        # strain: 0 for the planner (its force still counts)
        values["peak_eccentric_fiber_strain"][i] = np.nan_to_num(
            values["peak_eccentric_fiber_strain"][i], nan=0.0
        )
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
    return metrics_table(
        selected,
        grid,
        values["peak_eccentric_fiber_strain"],
        values["peak_mtu_strain"],
        values["peak_force"],
        intensity_unit=units,
        dose_unit=dose_unit,
        dose_min=dose_min,
        dose_max=dose_max,
        dose_step=dose_step,
        sprint_specificity=specificity,
        reference_peak_eccentric_fiber_strain=reference["peak_eccentric_fiber_strain"],
        reference_peak_force=reference["peak_force"],
        attrs={
            "muscle": am.muscle,
            "model": model,
            "model_family": "rajagopal" if not am.muscle.startswith("bifem") else "gait2392",
        },
    )


# ----------------------------------------------------------------------------------------------
# Differentiable root finding for the running family
# ----------------------------------------------------------------------------------------------

#: Strides simulated per evaluation of the differentiable running pipeline.
RUNNING_STRIDES = 3
#: Newton iterations of :func:`max_safe_running_speed` (each one a reverse-mode gradient
#: through the whole pipeline).
NEWTON_ITERATIONS = 8


def running_strain_function(am: AthleteModel, *, samples: int = SAMPLES, strides: int = 3):
    """``f(speed, excitation) -> peak eccentric fibre strain`` of the injured muscle when running
    at ``speed``, written in JAX end to end (running template -> :func:`~musclesim.pipeline.
    evaluate.evaluate`: geometry surrogate, compliant fibre dynamics, peak), so
    ``jax.grad(f)`` is d(strain)/d(speed). Also returns ``excitation_at(speed) -> [samples]``
    (NumPy, the running EMG template at that speed): its amplitude's dependence on speed is not
    differentiated (held at the current iterate).
    """
    tpl = load_running_template()
    geometry = am.geometry
    signs = dict(geometry.knee_flexion_sign)
    phase = 100.0 * strides * np.linspace(0.0, 1.0, samples) % 100.0
    phase[-1] = 100.0  # the last sample closes the last stride (not 0 % of a new one)
    unit_time = np.linspace(0.0, 1.0, samples)
    columns = {c: k for k, c in enumerate(tpl.coordinates)}
    max_speed = min(am.max_speed, RUNNING_SPEED_RANGE[1])

    def stride_frequency(speed):
        return running_curves(speed, jnp.asarray([0.0]), template=tpl)[1]

    def strain(speed, excitation):
        q, frequency = running_curves(speed, jnp.asarray(phase), template=tpl)
        time = jnp.asarray(unit_time) * strides / frequency
        pose = {}
        for c in geometry.coordinates:
            if c in columns:
                pose[c] = q[:, columns[c]] * signs.get(c, 1.0)
            else:
                pose[c] = jnp.zeros(samples)
        result = evaluate(
            geometry, am.injured, time, pose, length_scale=am.length_scale, excitation=excitation
        )
        return result.metrics.peak_eccentric_fiber_strain[0]

    def excitation_at(speed):
        f = float(np.asarray(stride_frequency(float(speed))).reshape(-1)[0])
        time = unit_time * strides / f
        source = RunningExcitation(float(speed), max_speed=max_speed)
        return np.clip(np.asarray(source(time, [am.muscle]))[:, 0], 0.0, 1.0)

    return strain, jax.value_and_grad(strain), excitation_at


def max_safe_running_speed(am: AthleteModel, limit_strain: float, bracket) -> dict:
    """The running speed at which the injured muscle's peak eccentric fibre strain equals
    ``limit_strain``, by safeguarded Newton iterations whose derivative is ``jax.grad`` through
    the whole pipeline (:func:`running_strain_function`), kept inside ``bracket`` (a, b) with
    strain(a) <= limit < strain(b); a step that leaves the bracket is replaced by bisection.
    Returns the speed, its strain, the residual and the iterations used.
    """
    _, value_and_grad, excitation_at = running_strain_function(am)
    lo, hi = map(float, bracket)
    speed = 0.5 * (lo + hi)
    history = []
    for _ in range(NEWTON_ITERATIONS):
        value, slope = value_and_grad(jnp.asarray(speed), excitation_at(speed))
        value, slope = float(value), float(slope)
        residual = value - limit_strain
        history.append((speed, value, slope))
        if residual > 0:
            hi = speed
        else:
            lo = speed
        if abs(residual) < ROOT_STRAIN_TOLERANCE:
            break
        step = speed - residual / slope if slope > 0 else math.nan
        speed = step if lo < step < hi else 0.5 * (lo + hi)
    return {
        "speed": speed,
        "strain": value,
        "residual": residual,
        "iterations": len(history),
        "history": history,
    }
