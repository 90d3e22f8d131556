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
simulating the changed motion. The prediction moves every time series x of the fibre solution
along its second-order series in A, x(A) ~ x + A x' + A^2/2 x'', and re-applies the criteria's
own maxima, masks and integrals to the moved series. x' is the forward-mode (``jax.jvp``)
derivative through the whole chain. x'' is the central difference of x' over
+-``SECOND_DERIVATIVE_STEP``, all three forward-mode passes run as one batch: nesting
``jax.jvp`` gives a wrong x'' here, because the fibre solver's stages take their derivatives
from one Newton step on the converged root with the iterate and the Jacobian held constant,
which is exact to first order (the implicit-function derivative) but drops the curvature
terms R_xx x' x' + 2 R_xp x' of the second (measured: the nested x'' of the tendon force
differs from the second difference of the simulated one by more than its own size). The
first-order prediction (x + A x') and the criterion's own directional derivative A dc/dA are
reported beside it. Both series differ from A dc/dA where the change moves a maximum to
another sample: the directional derivative holds only while the same sample attains it. No
series crosses a change of the sample that attains a maximum, or of the samples a mask or an
integrand's sign selects, that happens between A = 0 and the change; there the prediction
keeps an error that does not shrink with the order.

:func:`smallest_change` finds the smallest |A| that brings one criterion to a limit by a
safeguarded Newton-type iteration on A whose model is the same second-order series about the
last iterate (every iterate re-simulated), or says that no change within the search bound does.
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
    scenario_evaluation,
)

#: Step (rad) of the central difference of forward-mode derivatives that gives the second
#: derivatives of the time series. Its truncation error is of order step^2 x^(4)/6 and the
#: forward-mode derivatives are exact to the Newton residual, so a small step is safe: at this
#: step the second derivative of the tendon force of BFLH in running at 9 m/s (every fourth
#: sample, tests/test_whatif.py's scenario) matches the second difference of simulated tendon
#: forces over the same step to 1.1e-5 of its largest value (measured by evaluating both);
#: tests/test_whatif.py checks that the prediction's error is of third order.
SECOND_DERIVATIVE_STEP = 0.1 * DEG
#: Bisections of the model's root in each step of :func:`smallest_change`: they narrow the
#: bracket by 2^-40, far below the search's tolerance (criterion evaluations only, no
#: simulation).
MODEL_BISECTIONS = 40
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


def _series(scenario, coordinate, bump, at, **solver_options):
    """The second-order series of the fibre solution in A about A = ``at``, from one batched
    forward-mode pass (module docstring).

    Returns ``(evaluation, d1, d2)``: the :class:`~musclesim.pipeline.evaluate.Evaluation`
    at ``at`` and the first and second derivatives of its solution with respect to A (pytrees
    like ``evaluation.solution``; None for the leaves that are not floating point, which do
    not move), and the criteria's own derivative dc/dA [C].
    """
    h = SECOND_DERIVATIVE_STEP
    amplitudes = float(at) + jnp.asarray([-h, 0.0, h])

    def evaluation(a):
        q = {c: jnp.asarray(v) for c, v in scenario.coordinates.items()}
        q[coordinate] = q[coordinate] + a[:, None] * jnp.asarray(bump)
        return scenario_evaluation(scenario, None, q, **solver_options)

    ev, tangent = jax.jvp(evaluation, (amplitudes,), (jnp.ones_like(amplitudes),))

    # leaves that depend on A carry the batch of three amplitudes in front of (muscle, ...);
    # the others (the sample times) are the scenario's own and do not move
    def moves(x):
        return jnp.ndim(x) >= 2 and jnp.issubdtype(jnp.result_type(x), jnp.floating)

    centre = jax.tree.map(lambda x: x[1] if jnp.ndim(x) >= 2 else x, ev)
    d1 = jax.tree.map(lambda dx: dx[1] if moves(dx) else None, tangent.solution)
    d2 = jax.tree.map(
        lambda dx: (dx[2] - dx[0]) / (2.0 * h) if moves(dx) else None, tangent.solution
    )
    slope = np.asarray(criteria_of(scenario, tangent.metrics))[1]
    return centre, d1, d2, slope


def _moved(scenario, centre, d1, d2, change, *, order):
    """The criteria [C] of the solution moved by ``change`` along its series of ``order``
    (1 or 2): x + A x' (+ A^2/2 x'') at every sample, then the criteria's own maxima, masks
    and integrals."""

    def move(x, dx, ddx):
        if dx is None:
            return x
        return x + change * dx + (0.5 * change**2 * ddx if order == 2 else 0.0)

    moved = jax.tree.map(move, centre.solution, d1, d2, is_leaf=lambda x: x is None)
    metrics = fiber_metrics(
        moved, centre.upright_length, counted=jnp.asarray(scenario.counted)[None]
    )
    return np.asarray(criteria_of(scenario, metrics))


def _relative(error, change):
    """|error| / |change|: 0 where both are 0, ``inf`` where only the error is not."""
    return np.where(
        change != 0,
        np.abs(error) / np.where(change != 0, np.abs(change), 1.0),
        np.where(error == 0, 0.0, np.inf),
    )


def technique_whatif(
    scenario: Scenario, coordinate: str, change: float, window, **solver_options
) -> xr.Dataset:
    """The effect on every criterion of changing ``coordinate`` by ``change`` (rad) over the
    phase ``window`` (a, b) of each cycle (module docstring).

    Returns a Dataset over ``criterion``: ``base`` (the criterion of the scenario),
    ``predicted_change`` (the criteria of the time series moved along their second-order
    series, minus ``base``; module docstring), ``first_order_change`` (the same along the
    first-order series), ``derivative_change`` (change x dc/dA at A = 0),
    ``resimulated_change`` (the changed motion simulated), ``prediction_error`` and
    ``first_order_error`` (each prediction - resimulated), ``relative_error`` and
    ``first_order_relative_error`` (|error| / |resimulated change|; 0 where both are 0,
    ``inf`` where only the prediction is not). Attributes record the coordinate, change (rad
    and deg), window and scenario.
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
    centre, d1, d2, derivative = _series(scenario, coordinate, bump, 0.0, **solver_options)
    base = np.asarray(criteria_of(scenario, centre.metrics))
    second = _moved(scenario, centre, d1, d2, change, order=2)
    first = _moved(scenario, centre, d1, d2, change, order=1)
    changed_ev = scenario_evaluation(
        scenario, None, _changed(scenario, coordinate, bump, change), **solver_options
    )
    changed = np.asarray(criteria_of(scenario, changed_ev.metrics))
    resimulated = changed - base
    predicted, first_order = second - base, first - base
    error, first_error = predicted - resimulated, first_order - resimulated
    data = {
        name: ("criterion", values, {"long_name": f"{long} (unit: criterion_unit)"})
        for name, values, long in (
            ("base", base, "criterion of the motion as given"),
            ("predicted_change", predicted, "criteria of the second-order series - base"),
            ("first_order_change", first_order, "criteria of the first-order series - base"),
            ("derivative_change", change * derivative, "change x the directional derivative"),
            ("resimulated_change", resimulated, "change of the re-simulated changed motion"),
            ("prediction_error", error, "predicted minus re-simulated change"),
            ("first_order_error", first_error, "first-order minus re-simulated change"),
        )
    }
    for name, err, long in (
        ("relative_error", error, "|prediction error| / |re-simulated change|"),
        ("first_order_relative_error", first_error, "|first-order error| / |re-simulated change|"),
    ):
        data[name] = ("criterion", _relative(err, resimulated), {"units": "1", "long_name": long})
    # where the largest active fibre strain is reached, before and after the change: a
    # series in the change cannot follow the maximum from one sample to another
    for name, ev, long in (
        ("active_stretch_time", centre, "time of the active stretch"),
        ("resimulated_active_stretch_time", changed_ev, "time of the re-simulated active stretch"),
    ):
        index = int(np.asarray(ev.metrics.active_stretch_index).reshape(-1)[0])
        data[name] = ((), float(scenario.time[index]), {"units": "s", "long_name": long})
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
            "the time series moved along their second-order series in the change (first "
            "derivatives by forward mode, second derivatives by a central difference of them, "
            f"step {SECOND_DERIVATIVE_STEP / DEG:g} deg); confirmed by simulating the changed "
            "motion",
        ),
    )


def _model_root(f, lo: float, hi: float) -> float:
    """Where ``f`` (a model of the criterion minus its target along |A|) crosses 0 in
    (lo, hi), by bisection (the model is piecewise smooth, its pieces joined where a maximum
    moves to another sample, so it is bracketed rather than differentiated); the middle of
    (lo, hi) when the model does not change sign there (it is accurate near the point it
    was expanded about, not necessarily at the bracket's far end)."""
    f_lo, f_hi = f(lo), f(hi)
    if not (f_lo > 0.0 >= f_hi):
        return 0.5 * (lo + hi)
    for _ in range(MODEL_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return hi


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

    The search runs towards the side where the directional derivative at A = 0 lowers the
    criterion (the other side when that side's bound is not enough but the other's is): a
    Newton-type iteration on A whose every iterate is re-simulated, each step to where the
    what-if's second-order model about the last iterate (module docstring) reaches the
    limit, safeguarded by the bracket [last A over the limit, first A within it] (a model
    that does not cross the limit inside the bracket bisects it). It stops at an A whose
    criterion lies under the limit by at most ``LIMIT_RTOL`` of the reduction needed, or
    returns the bracket's admissible end after ``max_iterations``.
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
        """The criterion re-simulated at A = ``a``, its slope there and its model: the
        criterion of the solution moved along its second-order series about ``a``."""
        nonlocal runs
        runs += 1
        centre, d1, d2, slope = _series(scenario, coordinate, bump, a, **solver_options)
        value = float(np.asarray(criteria_of(scenario, centre.metrics))[j])

        def model(b):
            return float(_moved(scenario, centre, d1, d2, b - a, order=2)[j])

        return value, float(slope[j]), model

    c0, g0, m0 = at(0.0)
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
        c_end, _, m_end = at(end)
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
    a, model = (0.0, m0) if side == sides[0] else (hi, m_end)
    tolerance = LIMIT_RTOL * (c0 - limit)
    target = limit - 0.5 * tolerance
    for _ in range(max_iterations):
        a = _model_root(lambda s, m=model: m(side * s) - target, lo, hi)
        c, _, model = at(side * a)
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
    """A printable table of :func:`technique_whatif`'s result: the second-order prediction,
    the re-simulated change and their relative difference, then the first-order prediction
    and the directional derivative for comparison."""
    lines = [
        f"{ds.attrs['scenario']}: {ds.attrs['coordinate']} {float(ds.attrs['change_deg']):+.3g} "
        f"deg over phase {ds.attrs['phase_window']}",
        f"{'criterion':30s} {'unit':>4s} {'base':>11s} {'predicted':>11s} {'re-simulated':>13s} "
        f"{'rel. error':>10s} {'1st order':>11s} {'rel. error':>10s} {'A dc/dA':>11s}",
    ]

    def percent(value):
        return "-" if not math.isfinite(value) else f"{100 * value:.2f} %"

    for c in CRITERIA:
        r = ds.sel(criterion=c.name)
        lines.append(
            f"{c.name:30s} {c.unit:>4s} {float(r['base']):11.4g} "
            f"{float(r['predicted_change']):+11.4g} {float(r['resimulated_change']):+13.4g} "
            f"{percent(float(r['relative_error'])):>10s} "
            f"{float(r['first_order_change']):+11.4g} "
            f"{percent(float(r['first_order_relative_error'])):>10s} "
            f"{float(r['derivative_change']):+11.4g}"
        )
    return "\n".join(lines)


def whatif_csv(ds: xr.Dataset, result: SmallestChange | None = None) -> str:
    """CSV text of :func:`technique_whatif`'s result (one row per criterion), its attributes
    and the :func:`smallest_change` answer, when given, as ``#`` comment lines above it."""
    header = [f"# {k}: {v}" for k, v in ds.attrs.items()]
    if result is not None:
        header += [f"# smallest change: {result.words}"]
    columns = (
        "predicted_change",
        "resimulated_change",
        "relative_error",
        "first_order_change",
        "first_order_relative_error",
        "derivative_change",
    )
    rows = ["criterion,unit,base," + ",".join(columns)]
    for c in CRITERIA:
        r = ds.sel(criterion=c.name)
        rows.append(
            f"{c.name},{c.unit},{float(r['base']):.8g},"
            + ",".join(f"{float(r[k]):.8g}" for k in columns)
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
