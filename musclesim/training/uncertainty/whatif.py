"""Technique what-if: the effect of changing one joint angle over a phase of the cycle on every
tissue-load criterion, and the smallest such change that brings a criterion under a limit.

A technique change is a smooth bump added to one joint-angle trajectory of a
:class:`~musclesim.training.uncertainty.sensitivity.Scenario`:

    q'(t) = q(t) + A b(phi(t)),   b(phi) = (1 - cos(2 pi (phi - a) / (b - a))) / 2 on [a, b],

0 outside the window [a, b] of the cycle's phase phi (a raised cosine: 1 at the window's middle,
0 with zero slope at its ends, so the changed motion stays as smooth as the measured one), in
every cycle. ``A`` (rad) is the technique variable, in the coordinate's own sign convention
(the model's: hip flexion +; the knee's sign depends on the model family, DESIGN.md).

:func:`technique_whatif` predicts each criterion's change from derivatives and confirms it by
simulating the changed motion. One forward-mode pass through the whole chain gives the
derivative with respect to A of every time series of the fibre solution; the prediction is the
criteria of the linearised time series (each sample moved by A times its derivative, then the
criteria's own maxima, masks and integrals). It differs from the criterion's own directional
derivative A dc/dA (also reported) where the change moves a maximum to another sample: the
directional derivative holds only while the same sample attains it (a change that lowers the
peak hamstring length inside the window lowers the criterion only until the peak moves to a
sample the window barely changes). :func:`smallest_change` finds the smallest |A| that brings
one criterion to a limit by a safeguarded Newton iteration on A (every iterate re-simulated, its
derivative from the gradient), or says that no change within the search bound does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ...core.errors import InputError
from ...muscle.metrics import fiber_metrics
from ...pipeline.evaluate import mtu_lengths
from ..criteria import CRITERIA, CRITERION_NAMES
from ..rank import AthleteModel, reference_peaks, today_limits
from .sensitivity import (
    DEG,
    Scenario,
    _attrs,
    criteria_of,
    scenario_criteria,
    scenario_evaluation,
)

#: Largest technique change (rad) a what-if takes: a quarter turn of a joint is a different
#: movement, not a technique cue, and a larger number is most likely degrees given as radians.
MAX_CHANGE_RAD = math.pi / 2
#: Default search bound of :func:`smallest_change` (rad): a search bound, not a measurement;
#: a change beyond it is reported as not reachable within it (change it with ``max_change``).
DEFAULT_MAX_CHANGE_RAD = 10 * DEG
#: Tolerance of :func:`smallest_change`, as a fraction of the reduction needed (criterion at no
#: change minus the limit): the change found brings the criterion under the limit by at most
#: this fraction of that reduction (never over it), so that a criterion that changes slowly
#: with the technique is not overshot by a large change.
LIMIT_RTOL = 1e-3


def check_window(window) -> tuple[float, float]:
    """``(a, b)`` with 0 <= a < b <= 1 (fractions of the cycle), InputError otherwise."""
    try:
        a, b = (float(x) for x in window)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"phase window {window!r}", field="phase", expected="two numbers a:b"
        ) from exc
    if not (0.0 <= a < b <= 1.0):
        raise InputError(
            f"phase window {a:g}:{b:g}",
            field="phase",
            expected="fractions of the cycle 0 <= a < b <= 1, e.g. 0.75:0.95 (not percent)",
        )
    return a, b


def parse_window(text: str) -> tuple[float, float]:
    """``"0.75:0.95"`` -> ``(0.75, 0.95)`` (:func:`check_window`)."""
    parts = str(text).split(":")
    if len(parts) != 2:
        raise InputError(f"phase window {text!r}", field="phase", expected="a:b, e.g. 0.75:0.95")
    try:
        return check_window([float(p) for p in parts])
    except ValueError as exc:
        raise InputError(
            f"phase window {text!r}", field="phase", expected="a:b, e.g. 0.75:0.95"
        ) from exc


def check_change(change: float, *, field: str = "change") -> float:
    """A technique change in radians, refused when it is not finite or above
    :data:`MAX_CHANGE_RAD` (degrees given as radians)."""
    change = float(change)
    if not math.isfinite(change) or abs(change) > MAX_CHANGE_RAD:
        raise InputError(
            f"change {change!r} rad",
            field=field,
            expected=f"radians within +-{MAX_CHANGE_RAD:.3g} (degrees belong in a ..._deg field)",
        )
    return change


def phase_bump(phase, window) -> np.ndarray:
    """The raised-cosine bump b(phi) of the module docstring at each ``phase`` (fractions of
    the cycle; 0 where the phase is NaN, outside complete cycles)."""
    a, b = check_window(window)
    phase = np.asarray(phase, dtype=float)
    u = np.where(np.isfinite(phase), (phase - a) / (b - a), -1.0)
    inside = (u >= 0.0) & (u <= 1.0)
    return np.where(inside, 0.5 * (1.0 - np.cos(2.0 * np.pi * np.clip(u, 0.0, 1.0))), 0.0)


def _check_coordinate(scenario: Scenario, coordinate: str) -> None:
    if coordinate not in scenario.coordinates:
        raise InputError(
            f"{scenario.muscle} spans no coordinate {coordinate!r}",
            field="coordinate",
            expected=f"one of {', '.join(scenario.coordinates)}",
        )


def _changed(scenario: Scenario, coordinate: str, bump, amplitude) -> dict:
    q = {c: jnp.asarray(v) for c, v in scenario.coordinates.items()}
    q[coordinate] = q[coordinate] + amplitude * jnp.asarray(bump)
    return q


def _check_domain(scenario: Scenario, coordinate: str, bump, amplitude: float) -> None:
    """Refuse a change that moves poses out of the geometry's fit domain (its lengths would be
    extrapolated), naming the coordinate and the change."""
    base = {c: np.asarray(v) for c, v in scenario.coordinates.items()}
    _, inside = mtu_lengths(scenario.geometry, base, out_of_domain="clamp")
    changed = {c: np.asarray(v) for c, v in _changed(scenario, coordinate, bump, amplitude).items()}
    _, inside_changed = mtu_lengths(scenario.geometry, changed, out_of_domain="clamp")
    left = np.asarray(inside) & ~np.asarray(inside_changed)
    if left.any():
        raise InputError(
            f"changing {coordinate} by {amplitude / DEG:+.3g} deg moves {int(left.sum())} "
            f"sample(s) of {scenario.label} out of the geometry's fit domain",
            field="change",
            expected="a smaller change, or a window where the joint is farther from its range",
        )


def _criteria_and_slope(scenario, coordinate, bump, amplitude, **solver_options):
    """(criteria [C], d criteria / dA [C]) along the motion changed by ``amplitude``."""

    def f(a):
        return scenario_criteria(
            scenario, None, _changed(scenario, coordinate, bump, a), **solver_options
        )

    amplitude = jnp.asarray(float(amplitude))
    return np.asarray(f(amplitude)), np.asarray(jax.jacrev(f)(amplitude))


def _linearised(scenario, coordinate, bump, change, **solver_options):
    """(criteria [C], their derivative dc/dA [C], the criteria of the time series linearised
    to ``change`` [C]) at A = 0, from one forward-mode pass."""

    def evaluation(a):
        q = _changed(scenario, coordinate, bump, a)
        return scenario_evaluation(scenario, None, q, **solver_options)

    zero, one = jnp.asarray(0.0), jnp.asarray(1.0)
    ev, tangent = jax.jvp(evaluation, (zero,), (one,))
    moved = jax.tree.map(
        lambda x, dx: x + change * dx if jnp.issubdtype(jnp.result_type(x), jnp.floating) else x,
        ev.solution,
        tangent.solution,
    )
    metrics = fiber_metrics(moved, ev.upright_length, counted=jnp.asarray(scenario.counted)[None])
    return (
        np.asarray(criteria_of(scenario, ev.metrics)),
        np.asarray(criteria_of(scenario, tangent.metrics)),
        np.asarray(criteria_of(scenario, metrics)),
    )


def technique_whatif(
    scenario: Scenario, coordinate: str, change: float, window, **solver_options
) -> xr.Dataset:
    """The effect on every criterion of changing ``coordinate`` by ``change`` (rad) over the
    phase ``window`` (a, b) of each cycle (module docstring).

    Returns a Dataset over ``criterion``: ``base`` (the criterion of the scenario),
    ``predicted_change`` (the criteria of the linearised time series minus ``base``, module
    docstring), ``derivative_change`` (change x dc/dA at A = 0), ``resimulated_change``
    (the changed motion simulated), ``prediction_error`` (predicted - resimulated) and
    ``relative_error`` (|error| / |resimulated change|; 0 where both are 0, ``inf`` where
    only the prediction is not). Attributes record the coordinate, change (rad and deg),
    window and scenario.
    """
    _check_coordinate(scenario, coordinate)
    change = check_change(change)
    window = check_window(window)
    bump = phase_bump(scenario.phase, window)
    if not bump.any():
        raise InputError(
            f"phase window {window[0]:g}:{window[1]:g} holds no sample of {scenario.label}",
            field="phase",
            expected="a window of the cycle that the counted samples pass through",
        )
    _check_domain(scenario, coordinate, bump, change)
    base, derivative, linearised = _linearised(scenario, coordinate, bump, change, **solver_options)
    changed = np.asarray(
        scenario_criteria(
            scenario, None, _changed(scenario, coordinate, bump, change), **solver_options
        )
    )
    predicted = linearised - base
    resimulated = changed - base
    error = predicted - resimulated
    relative = np.where(
        resimulated != 0,
        np.abs(error) / np.where(resimulated != 0, np.abs(resimulated), 1.0),
        np.where(error == 0, 0.0, np.inf),
    )
    data = {
        name: ("criterion", values, {"long_name": f"{long} (unit: criterion_unit)"})
        for name, values, long in (
            ("base", base, "criterion of the motion as given"),
            ("predicted_change", predicted, "criteria of the linearised time series - base"),
            ("derivative_change", change * derivative, "change x the directional derivative"),
            ("resimulated_change", resimulated, "change of the re-simulated changed motion"),
            ("prediction_error", error, "predicted minus re-simulated change"),
        )
    }
    data["relative_error"] = (
        "criterion",
        relative,
        {"units": "1", "long_name": "|prediction error| / |re-simulated change|"},
    )
    data["criterion_unit"] = ("criterion", np.asarray([c.unit for c in CRITERIA], dtype=object))
    data["bump"] = ("time", bump, {"units": "1", "long_name": "change per unit amplitude"})
    return xr.Dataset(
        data,
        coords={
            "criterion": list(CRITERION_NAMES),
            "time": ("time", scenario.time, {"units": "s"}),
        },
        attrs=_attrs(
            scenario,
            coordinate=coordinate,
            change_rad=change,
            change_deg=change / DEG,
            phase_window=f"{window[0]:g}:{window[1]:g}",
            method="raised-cosine bump over the phase window; prediction = the criteria of "
            "the time series linearised by one forward-mode pass; confirmed by simulating the "
            "changed motion",
        ),
    )


@dataclasses.dataclass(frozen=True)
class SmallestChange:
    """Result of :func:`smallest_change`.

    Attributes:
        criterion: the criterion's name; limit: its limit (criterion unit).
        reachable: whether a change within the bound brings it to the limit.
        change: the change found (rad; 0 when the motion is already within the limit; the
            bound's end nearest the limit when not reachable).
        value: the criterion re-simulated at ``change``; base: at no change.
        iterations: simulations run by the search.
        words: the answer in words.
    """

    criterion: str
    limit: float
    reachable: bool
    change: float
    value: float
    base: float
    iterations: int
    words: str

    @property
    def change_deg(self) -> float:
        return self.change / DEG


def smallest_change(
    scenario: Scenario,
    coordinate: str,
    window,
    criterion: str,
    limit: float,
    *,
    max_change: float = DEFAULT_MAX_CHANGE_RAD,
    max_iterations: int = 12,
    **solver_options,
) -> SmallestChange:
    """The smallest change |A| (rad) of ``coordinate`` over the phase ``window`` that brings
    ``criterion`` to at most ``limit`` (criterion unit), within ``max_change``.

    The search runs towards the side where the gradient at A = 0 lowers the criterion (the
    other side when that side's bound is not enough but the other's is): a Newton iteration
    on A whose every iterate is re-simulated and whose slope is the gradient there,
    safeguarded by the bracket [last A over the limit, first A within it] (a step leaving the
    bracket bisects it). It stops at an A whose criterion lies under the limit by at most
    ``LIMIT_RTOL`` of the reduction needed, or returns the bracket's admissible end after
    ``max_iterations``.
    """
    _check_coordinate(scenario, coordinate)
    if criterion not in CRITERION_NAMES:
        raise InputError(
            f"unknown criterion {criterion!r}",
            field="criterion",
            expected=f"one of {', '.join(CRITERION_NAMES)}",
        )
    limit = float(limit)
    if not (math.isfinite(limit) and limit >= 0):
        raise InputError(f"limit {limit!r}", field="limit", expected="a finite value >= 0")
    max_change = abs(check_change(max_change, field="max_change"))
    window = check_window(window)
    bump = phase_bump(scenario.phase, window)
    j = CRITERION_NAMES.index(criterion)
    unit = "" if CRITERIA[j].unit == "1" else f" {CRITERIA[j].unit}"  # dimensionless: no unit
    runs = 0

    def at(a):
        nonlocal runs
        runs += 1
        values, slope = _criteria_and_slope(scenario, coordinate, bump, a, **solver_options)
        return float(values[j]), float(slope[j])

    c0, g0 = at(0.0)
    if c0 <= limit:
        return SmallestChange(
            criterion,
            limit,
            True,
            0.0,
            c0,
            c0,
            runs,
            f"{criterion} is {c0:.4g}{unit}, within the limit {limit:.4g}{unit}: no change needed",
        )
    sides = [-1.0, 1.0] if g0 > 0 else [1.0, -1.0]
    for side in sides:
        end = side * max_change
        _check_domain(scenario, coordinate, bump, end)
        c_end, g_end = at(end)
        if c_end <= limit:
            break
    else:
        return SmallestChange(
            criterion,
            limit,
            False,
            sides[0] * max_change,
            c_end,
            c0,
            runs,
            f"{criterion} cannot be brought under {limit:.4g}{unit} by changing {coordinate} "
            f"within +-{max_change / DEG:.3g} deg over phase {window[0]:g}:{window[1]:g} "
            f"(at most {min(c_end, c0):.4g}{unit} reached)",
        )
    # bracket in |A| along `side`: lo over the limit, hi within it
    lo = 0.0
    hi, c_hi = max_change, c_end
    a, c, g = (0.0, c0, g0 * side) if side == sides[0] else (hi, c_hi, g_end * side)
    tolerance = LIMIT_RTOL * (c0 - limit)
    target = limit - 0.5 * tolerance
    for _ in range(max_iterations):
        step = a - (c - target) / g if g != 0 else -1.0
        a = step if lo < step < hi else 0.5 * (lo + hi)
        c, g = at(side * a)
        g *= side
        if c <= limit:
            hi, c_hi = a, c
            if c >= limit - tolerance:
                break
        else:
            lo = a
    return SmallestChange(
        criterion,
        limit,
        True,
        side * hi,
        c_hi,
        c0,
        runs,
        f"changing {coordinate} by {side * hi / DEG:+.3g} deg over phase "
        f"{window[0]:g}:{window[1]:g} brings {criterion} from {c0:.4g} to {c_hi:.4g}{unit} "
        f"(limit {limit:.4g}{unit}; re-simulated)",
    )


def todays_limit(
    am: AthleteModel, athlete, day, criterion: str, *, drills=None, **options
) -> float:
    """Today's limit of ``criterion`` for the athlete (the ranking's limits,
    :func:`~musclesim.training.rank.today_limits`, from the injured muscle's own
    maximal-sprint references); ``options`` (``policy``, ``pain``, ``soreness``) as there."""
    if criterion not in CRITERION_NAMES:
        raise InputError(
            f"unknown criterion {criterion!r}",
            field="criterion",
            expected=f"one of {', '.join(CRITERION_NAMES)}",
        )
    references = reference_peaks(am, drills=drills)
    return float(today_limits(am, athlete, day, references, **options).values[criterion])


def whatif_table(ds: xr.Dataset) -> str:
    """A printable table of :func:`technique_whatif`'s result."""
    lines = [
        f"{ds.attrs['scenario']}: {ds.attrs['coordinate']} {float(ds.attrs['change_deg']):+.3g} "
        f"deg over phase {ds.attrs['phase_window']}",
        f"{'criterion':30s} {'unit':>4s} {'base':>11s} {'predicted':>11s} {'re-simulated':>13s} "
        f"{'rel. error':>10s} {'A dc/dA':>11s}",
    ]
    for c in CRITERIA:
        r = ds.sel(criterion=c.name)
        rel = float(r["relative_error"])
        lines.append(
            f"{c.name:30s} {c.unit:>4s} {float(r['base']):11.4g} "
            f"{float(r['predicted_change']):+11.4g} {float(r['resimulated_change']):+13.4g} "
            f"{'-' if not math.isfinite(rel) else f'{100 * rel:.2f} %':>10s} "
            f"{float(r['derivative_change']):+11.4g}"
        )
    return "\n".join(lines)


def whatif_csv(ds: xr.Dataset, result: SmallestChange | None = None) -> str:
    """CSV text of :func:`technique_whatif`'s result (one row per criterion), its attributes
    and the :func:`smallest_change` answer, when given, as ``#`` comment lines above it."""
    header = [f"# {k}: {v}" for k, v in ds.attrs.items()]
    if result is not None:
        header += [f"# smallest change: {result.words}"]
    rows = [
        "criterion,unit,base,predicted_change,resimulated_change,relative_error,derivative_change"
    ]
    for c in CRITERIA:
        r = ds.sel(criterion=c.name)
        rows.append(
            f"{c.name},{c.unit},{float(r['base']):.8g},{float(r['predicted_change']):.8g},"
            f"{float(r['resimulated_change']):.8g},{float(r['relative_error']):.6g},"
            f"{float(r['derivative_change']):.8g}"
        )
    return "\n".join(header + rows) + "\n"


def smallest_change_dataset(result: SmallestChange, attrs: Mapping) -> xr.Dataset:
    """:class:`SmallestChange` as a scalar Dataset (for netCDF), with ``attrs``."""
    unit = CRITERIA[CRITERION_NAMES.index(result.criterion)].unit
    return xr.Dataset(
        {
            "change": ((), result.change, {"units": "rad", "long_name": "technique change"}),
            "change_deg": ((), result.change_deg, {"units": "deg"}),
            "value": ((), result.value, {"units": unit, "long_name": f"{result.criterion}"}),
            "base": ((), result.base, {"units": unit}),
            "limit": ((), result.limit, {"units": unit}),
            "reachable": ((), int(result.reachable)),
            "simulations": ((), result.iterations),
        },
        attrs={**dict(attrs), "criterion": result.criterion, "answer": result.words},
    )
