"""Sensitivities of the tissue-load criteria: gradients (local) and Sobol indices (global).

A :class:`Scenario` is one simulation of one muscle, held as the arrays
:func:`~musclesim.pipeline.evaluate.evaluate` reads: a drill case of the ranking
(:func:`drill_scenario`, the inputs :func:`~musclesim.training.rank.evaluate_cases` reads) or a
measured motion (:func:`motion_scenario`). :func:`scenario_criteria` is the criteria of
:data:`~musclesim.training.criteria.CRITERION_NAMES` as a pure JAX function of the muscle
parameters and the joint-angle trajectories, so that:

* :func:`local_sensitivities` differentiates it by reverse mode (``jax.jacrev``) with respect
  to every :class:`~musclesim.MuscleParameters` field and to every joint angle at every sample,
  and reports elasticities d ln c / d ln p (the relative change of a criterion per relative
  change of a parameter) and the relative change per degree of each joint angle at each sample;
* :func:`sobol_indices` estimates first-order and total Sobol indices of each criterion over a
  distribution of the parameters (the A/B/AB_i design and the estimators that Saltelli et al.
  2010 recommend, DOI 10.1016/j.cpc.2009.09.018: first order
  S_i = mean(f(B) (f(AB_i) - f(A))) / V, total (Jansen 1999)
  S_Ti = mean((f(A) - f(AB_i))^2) / (2 V)), with bootstrap intervals, every sample evaluated in
  batches through ``evaluate`` with parameter leaves ``[batch, muscle]``.

Gradients of the fibre solver's default fixed-step implicit scheme are implicit-function
gradients of the discrete scheme, so they are the exact derivatives of the computed criteria.
The criteria are largest values over samples (or integrals over masked samples): piecewise
smooth, with a kink where the sample that attains the maximum changes. A gradient is the
derivative on the piece the nominal point lies on; a finite difference checks it only with a
step that stays on that piece.

Sobol indices assume independent factors: the AB_i matrices mix columns of two independent
samples, which would break a correlation between factors. Correlated parameters are therefore
analysed as one group, swapped together (:func:`correlated_groups`), and each group's index is
that of the group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ...core.errors import InputError
from ...core.groups import expand_muscles
from ...core.version import __version__
from ...excitation.templates import template_for_motion
from ...geometry.io import load_model
from ...geometry.model import GeometryModel
from ...motion.gait import detect_events, time_to_phase
from ...motion.processing import match_coordinates
from ...motion.read import read_motion
from ...muscle.implicit import substeps_for
from ...muscle.metrics import MuscleMetrics
from ...muscle.parameters import FIELDS, MuscleParameters
from ...pipeline.evaluate import Evaluation, evaluate
from ...pipeline.simulate import coordinate_types
from ..criteria import CRITERIA, CRITERION_NAMES
from ..rank import AthleteModel, Case, case_inputs
from .model import UncertaintyModel, apply_factors, load_uncertainty, sample_factors

#: Smallest |criterion| (in its unit) whose logarithm is differentiated: below it the muscle is
#: not loaded in that sense (the active criteria are exactly 0 where no sample is loaded) and
#: the elasticity is reported as 0, the change a parameter makes to a criterion that is 0.
MIN_CRITERION = 1e-12
#: Degrees per radian, for the per-degree trajectory sensitivities.
DEG = np.pi / 180.0


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One simulation of one muscle, as the arrays :func:`~musclesim.pipeline.evaluate.evaluate`
    reads.

    Attributes:
        label: what is simulated, for outputs ("running at 9 m/s", a motion file name).
        geometry: the geometry surrogate restricted to the muscle.
        muscle: the muscle's model name.
        parameters: its :class:`~musclesim.MuscleParameters` (scalar leaves).
        time: sample times (s), ``[T]``.
        coordinates: coordinate name -> angle (rad), ``[T]``, every coordinate the muscle's
            path spans.
        excitation: excitation in [0, 1], ``[T]``.
        counted: samples the criteria read, ``[T]`` (bool).
        repetitions: repetitions the counted samples hold; ``active_negative_work`` is divided
            by it (one repetition's work, as in the ranking).
        phase: phase of each sample within its repetition (gait cycle, foot strike at 0 for
            running), in [0, 1), ``[T]``; NaN where a sample lies outside complete cycles.
        length_scale: factor on the MTU lengths (athlete height / model height).
        substeps: implicit-solver substeps per sample interval for this time grid.
        provenance: attributes recorded with every result.
    """

    label: str
    geometry: GeometryModel
    muscle: str
    parameters: MuscleParameters
    time: np.ndarray
    coordinates: dict[str, np.ndarray]
    excitation: np.ndarray
    counted: np.ndarray
    repetitions: float
    phase: np.ndarray
    length_scale: float = 1.0
    substeps: int = 1
    provenance: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def every(self, step: int) -> Scenario:
        """The same simulation on every ``step``-th sample (a coarser grid: the same chain at
        a fraction of the cost, the solver's substeps set for the new spacing)."""
        keep = slice(None, None, int(step))
        time = self.time[keep]
        return dataclasses.replace(
            self,
            time=time,
            coordinates={c: v[keep] for c, v in self.coordinates.items()},
            excitation=self.excitation[keep],
            counted=self.counted[keep],
            phase=self.phase[keep],
            substeps=substeps_for(time),
        )

    def with_coordinates(self, coordinates: Mapping[str, np.ndarray]) -> Scenario:
        """A copy along other joint-angle trajectories (same keys, same shape)."""
        return dataclasses.replace(
            self, coordinates={k: np.asarray(v, dtype=float) for k, v in coordinates.items()}
        )


def drill_scenario(am: AthleteModel, case: Case, *, injured: bool = True, drills=None) -> Scenario:
    """The :class:`Scenario` of the athlete's injured (or uninjured) muscle in a drill
    ``case``: exactly the inputs the ranking evaluates (:func:`~musclesim.training.rank.
    case_inputs`), negative work per counted repetition."""
    inputs = case_inputs(am, [case], drills=drills)
    time = inputs.time[0]
    reps = float(inputs.repetitions[0])
    settle = float(inputs.settling[0])
    # phase within the repetition, as the ranking times its peaks (foot strike at 0 for running)
    phase = (np.arange(time.size) / (time.size - 1) * reps) % 1.0
    settings = ", ".join(f"{k} {v:g}" for k, v in case.settings)
    unit = case.drill.intensity.unit
    return Scenario(
        label=f"{case.drill.name} at {case.intensity:g} {unit}"
        + (f" ({settings})" if settings else ""),
        geometry=am.geometry,
        muscle=am.muscle,
        parameters=am.injured if injured else am.uninjured,
        time=time,
        coordinates={c: v[0] for c, v in inputs.coordinates.items()},
        excitation=inputs.excitation[0],
        counted=inputs.counted[0, 0],
        repetitions=reps - settle,
        phase=phase,
        length_scale=am.length_scale,
        substeps=substeps_for(time),
        provenance={
            "drill": case.drill.name,
            "intensity": f"{case.intensity:g} {unit}",
            "settings": settings,
            "muscle": am.muscle,
            "model": am.geometry.name,
            "model_source_sha256": am.geometry.source_sha256,
            "injured": str(bool(injured)),
        },
    )


def motion_scenario(
    model,
    motion,
    muscle: str = "bflh_r",
    *,
    speed: float | None = None,
    max_speed: float | None = None,
) -> Scenario:
    """The :class:`Scenario` of one muscle along a measured running motion.

    ``model``: a shipped model name or a :class:`~musclesim.GeometryModel`; ``motion``: a
    motion file (read with the model's coordinate types, :func:`~musclesim.read_motion`) or
    Dataset; ``muscle``: a model muscle name or a group naming one muscle (``"bflh"`` is
    refused: it names both sides). The excitation is the running template at the motion's
    speed (:func:`~musclesim.excitation.templates.template_for_motion`; ``speed`` and
    ``max_speed`` in m/s as there), the muscle's own parameters, and the criteria read the
    complete gait cycles of the muscle's side (from its first foot strike to its last: before
    it the solver starts from equilibrium, a transient of the simulation).
    """
    geometry = model if isinstance(model, GeometryModel) else load_model(model)
    source_path = "" if isinstance(motion, xr.Dataset) else str(motion)
    if not isinstance(motion, xr.Dataset):
        motion = read_motion(motion, model=coordinate_types(geometry))
    names = expand_muscles([muscle], geometry.muscles)
    if len(names) != 1:
        raise InputError(
            f"muscle {muscle!r} names {len(names)} muscles ({', '.join(names)})",
            field="muscle",
            expected="one model muscle name, e.g. bflh_r",
        )
    name = names[0]
    side = name[-1] if name[-2:] in ("_r", "_l") else "r"
    selected = geometry.select([name])
    q_ds = match_coordinates(motion, list(selected.coordinates), path=source_path or None)
    time = np.asarray(motion["time"].values, dtype=float)
    q = {
        c: np.asarray(q_ds["q"].sel(coordinate=c).values, dtype=float) for c in selected.coordinates
    }
    events = detect_events(motion, side=side)
    source = template_for_motion(
        motion, speed=speed, max_speed=max_speed, source=source_path or "motion"
    )
    drive = np.asarray(source(time, [name], motion=motion, cycles={side: events}), dtype=float)
    phase = time_to_phase(time, events) / 100.0
    counted = np.isfinite(phase)
    strides = max(1, len(np.asarray(events.foot_strike)) - 1)
    if not counted.any():
        raise InputError(
            "no complete gait cycle of the muscle's side",
            path=source_path or None,
            field="time",
            expected="a motion with at least two foot strikes of that side",
        )
    return Scenario(
        label=f"{name} along {source_path.rsplit('/', 1)[-1] or 'the motion'}",
        geometry=selected,
        muscle=name,
        parameters=selected.parameters[0],
        time=time,
        coordinates=q,
        excitation=np.clip(drive[:, 0], 0.0, 1.0),
        counted=counted,
        repetitions=float(strides),
        phase=np.where(counted, phase % 1.0, np.nan),
        substeps=substeps_for(time),
        provenance={
            "motion_source": source_path,
            "motion_sha256": str(motion.attrs.get("source_sha256", "")),
            "muscle": name,
            "model": geometry.name,
            "model_source_sha256": geometry.source_sha256,
            "excitation": source.describe(),
        },
    )


def scenario_evaluation(
    scenario: Scenario,
    parameters: MuscleParameters | None = None,
    coordinates: Mapping[str, jax.Array] | None = None,
    **solver_options,
) -> Evaluation:
    """The :class:`~musclesim.pipeline.evaluate.Evaluation` of ``scenario`` (the arguments of
    :func:`scenario_criteria`), arrays ``batch + (1, T)`` (one muscle)."""
    params = scenario.parameters if parameters is None else parameters
    q = scenario.coordinates if coordinates is None else coordinates
    shape = jnp.broadcast_shapes(params.shape, *(jnp.shape(v)[:-1] for v in q.values()))
    params = jax.tree.map(lambda x: jnp.broadcast_to(x, shape)[..., None], params)
    q = {c: jnp.broadcast_to(jnp.asarray(v), (*shape, scenario.time.size)) for c, v in q.items()}
    solver_options = {"substeps": scenario.substeps, **solver_options}
    return evaluate(
        scenario.geometry,
        params,
        scenario.time,
        q,
        length_scale=scenario.length_scale,
        excitation=jnp.asarray(scenario.excitation)[None, :],
        counted=jnp.asarray(scenario.counted)[None, :],
        **solver_options,
    )


def criteria_of(scenario: Scenario, metrics: MuscleMetrics) -> jax.Array:
    """The criteria of ``scenario`` from its metrics, ``batch + (criterion,)``:
    ``active_negative_work`` divided by the repetitions the counted samples hold."""
    values = [getattr(metrics, c)[..., 0] for c in CRITERION_NAMES]
    k = CRITERION_NAMES.index("active_negative_work")
    values[k] = values[k] / scenario.repetitions
    return jnp.stack(values, axis=-1)


def scenario_criteria(
    scenario: Scenario,
    parameters: MuscleParameters | None = None,
    coordinates: Mapping[str, jax.Array] | None = None,
    **solver_options,
) -> jax.Array:
    """The criteria (:data:`~musclesim.training.criteria.CRITERION_NAMES` order, each in its
    unit, ``active_negative_work`` per repetition) of ``scenario``, ``batch + (criterion,)``.

    ``parameters`` (default: the scenario's) may carry a batch axis in front of every leaf;
    ``coordinates`` (default: the scenario's) ``batch + (T,)``. Pure JAX: differentiable with
    respect to both.
    """
    result = scenario_evaluation(scenario, parameters, coordinates, **solver_options)
    return criteria_of(scenario, result.metrics)


def _attrs(scenario: Scenario, **more) -> dict:
    return {
        "scenario": scenario.label,
        "musclesim_version": __version__,
        **{k: str(v) for k, v in scenario.provenance.items()},
        **more,
    }


def _criterion_coords() -> dict:
    return {"criterion": list(CRITERION_NAMES)}


def local_sensitivities(scenario: Scenario, **solver_options) -> xr.Dataset:
    """Gradients of every criterion with respect to every muscle parameter and every joint
    angle at every sample, by reverse-mode differentiation through the whole chain.

    Returns a Dataset with dims ``criterion``, ``parameter``, ``coordinate``, ``time``:

    * ``value`` (criterion): the criteria at the nominal point;
    * ``parameter_value`` (parameter): the nominal parameters (SI);
    * ``gradient`` (criterion, parameter): dc/dp (criterion unit per parameter unit);
    * ``elasticity`` (criterion, parameter): d ln c / d ln p = (dc/dp) p / c, 0 where the
      criterion is 0 (below ``MIN_CRITERION``: not loaded in that sense) or the parameter is
      0 (a fibre damping of 0 is not changed by a relative change);
    * ``trajectory_gradient`` (criterion, coordinate, time): dc/dq at each sample (per rad);
    * ``trajectory_sensitivity`` (criterion, coordinate, time): the relative change of the
      criterion per degree at that sample, (dc/dq) / c x pi/180 (0 where c is 0);
    * ``phase`` (time): each sample's phase within its repetition.
    """

    def f(params, q):
        return scenario_criteria(scenario, params, q, **solver_options)

    params = scenario.parameters
    q = {c: jnp.asarray(v) for c, v in scenario.coordinates.items()}
    value = np.asarray(f(params, q))
    d_params, d_q = jax.jacrev(f, argnums=(0, 1))(params, q)
    p = np.asarray([float(getattr(params, name)) for name in FIELDS])
    grad = np.stack([np.asarray(getattr(d_params, name)) for name in FIELDS], axis=-1)
    loaded = np.abs(value) > MIN_CRITERION
    safe = np.where(loaded, value, 1.0)
    elasticity = np.where(loaded[:, None], grad * p[None, :] / safe[:, None], 0.0)
    coords = list(scenario.coordinates)
    traj = np.stack([np.asarray(d_q[c]) for c in coords], axis=1)
    per_degree = np.where(loaded[:, None, None], traj / safe[:, None, None] * DEG, 0.0)
    units = [c.unit for c in CRITERIA]
    return xr.Dataset(
        {
            "value": ("criterion", value, {"long_name": "criterion at the nominal point"}),
            "criterion_unit": ("criterion", np.asarray(units, dtype=object)),
            "parameter_value": ("parameter", p, {"units": "SI", "long_name": "nominal parameter"}),
            "gradient": (
                ("criterion", "parameter"),
                grad,
                {"units": "criterion unit / parameter unit", "long_name": "dc/dp"},
            ),
            "elasticity": (
                ("criterion", "parameter"),
                elasticity,
                {"units": "1", "long_name": "d ln c / d ln p"},
            ),
            "trajectory_gradient": (
                ("criterion", "coordinate", "time"),
                traj,
                {"units": "criterion unit / rad", "long_name": "dc/dq at each sample"},
            ),
            "trajectory_sensitivity": (
                ("criterion", "coordinate", "time"),
                per_degree,
                {"units": "1/deg", "long_name": "relative change of c per degree at each sample"},
            ),
            "phase": ("time", scenario.phase, {"units": "1", "long_name": "phase in repetition"}),
        },
        coords={
            **_criterion_coords(),
            "parameter": list(FIELDS),
            "coordinate": coords,
            "time": ("time", scenario.time, {"units": "s"}),
        },
        attrs=_attrs(scenario, method="reverse-mode gradient through evaluate (jax.jacrev)"),
    )


def _evaluate_batched(
    scenario: Scenario, params: MuscleParameters, batch: int, **solver_options
) -> np.ndarray:
    """Criteria ``[n, criterion]`` of parameter sets with leaves ``[n]``, in fixed-size batches
    (the last padded by repeating a member) so one compiled program serves every batch."""
    params = params.broadcast()
    n = params.shape[0]
    out = []
    for start in range(0, n, batch):
        idx = np.minimum(np.arange(start, start + batch), n - 1)
        chunk = jax.tree.map(lambda x, i=idx: x[i], params)
        values = scenario_criteria(scenario, chunk, **solver_options)
        out.append(np.asarray(values)[: min(batch, n - start)])
    return np.concatenate(out)


def model_sampler(model: UncertaintyModel | None = None):
    """``sampler(key, n) -> {parameter: factor [n]}`` of the uncertainty model (default:
    :func:`~musclesim.training.uncertainty.model.load_uncertainty`'s), correlations included
    (:func:`~musclesim.training.uncertainty.model.sample_factors`)."""
    model = load_uncertainty() if model is None else model
    return lambda key, n: sample_factors(model, key, n)


def correlated_groups(model: UncertaintyModel | None = None) -> tuple[tuple[str, ...], ...]:
    """The uncertainty model's parameters in groups independent of each other: each group a
    connected set of nonzero correlations (the default model couples l_opt and l_ts, whose sum
    the geometry fixes), the others alone. :func:`sobol_indices` swaps a group as a whole, so
    the sampled joint distribution is kept: drawn apart, a short fibre with a short tendon can
    ask the fibre to stretch beyond the force-length curves' range."""
    model = load_uncertainty() if model is None else model
    names = list(model.parameter_names)
    c = model.correlation_matrix()
    group = list(range(len(names)))

    def root(i):
        while group[i] != i:
            i = group[i]
        return i

    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if c[i, j] != 0:
                group[root(j)] = root(i)
    out: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        out.setdefault(root(i), []).append(name)
    return tuple(tuple(g) for g in out.values())


def sobol_estimates(
    f_a, f_b, f_ab, *, bootstrap: int = 500, confidence: float = 0.9, seed=0
) -> dict[str, np.ndarray]:
    """First-order and total Sobol indices from the outputs of the A/B/AB_i design.

    ``f_a``, ``f_b``: outputs at the rows of two independent samples, ``[n, ...]``; ``f_ab``:
    ``[k, n, ...]``, the outputs at A with column i taken from B. With V the variance of the
    outputs of A and B together (Saltelli et al. 2010, DOI 10.1016/j.cpc.2009.09.018):
    S_i = mean(f_B (f_ABi - f_A)) / V and S_Ti = mean((f_A - f_ABi)^2) / (2 V) (Jansen 1999, the
    total-effect estimator Saltelli 2010 recommends). Where V is 0 (an output that does not
    vary) both are 0. Intervals: percentiles of ``bootstrap`` resamples of the ``n`` rows
    (``seed`` for numpy's generator) at central probability ``confidence``.

    Returns ``first_order``, ``total`` (``[k, ...]``), their ``*_low``/``*_high`` intervals
    and ``variance`` (``[...]``).
    """
    f_a, f_b, f_ab = (np.asarray(x, dtype=float) for x in (f_a, f_b, f_ab))
    n = f_a.shape[0]

    def indices(rows):
        fa, fb, fab = f_a[rows], f_b[rows], f_ab[:, rows]
        var = np.var(np.concatenate([fa, fb]), axis=0)
        safe = np.where(var > 0, var, 1.0)
        first = np.mean(fb[None] * (fab - fa[None]), axis=1) / safe
        total = 0.5 * np.mean((fa[None] - fab) ** 2, axis=1) / safe
        return np.where(var > 0, first, 0.0), np.where(var > 0, total, 0.0), var

    first, total, var = indices(np.arange(n))
    rng = np.random.default_rng(seed)
    boot = [indices(rng.integers(0, n, n)) for _ in range(bootstrap)]
    lo, hi = 50 * (1 - confidence), 50 * (1 + confidence)
    out = {"first_order": first, "total": total, "variance": var}
    for i, name in enumerate(("first_order", "total")):
        samples = np.stack([b[i] for b in boot]) if boot else np.stack([out[name]])
        out[f"{name}_low"] = np.percentile(samples, lo, axis=0)
        out[f"{name}_high"] = np.percentile(samples, hi, axis=0)
    return out


def sobol_indices(
    scenario: Scenario,
    sampler: Callable[[jax.Array, int], Mapping[str, jax.Array]],
    n: int,
    *,
    key: jax.Array,
    apply: Callable = apply_factors,
    groups: Sequence[Sequence[str]] | None = None,
    bootstrap: int = 500,
    confidence: float = 0.9,
    batch: int = 64,
    **solver_options,
) -> xr.Dataset:
    """First-order and total Sobol indices of every criterion over a parameter distribution.

    Args:
        scenario: the simulation (:func:`drill_scenario`, :func:`motion_scenario`).
        sampler: ``sampler(key, m) -> {parameter name: factors [m]}``, the distribution (e.g.
            the uncertainty model's multiplicative factors).
        n: base sample size; the design evaluates ``n (k + 2)`` parameter sets for ``k``
            factors.
        key: ``jax.random`` key (the result is a function of it: seeded and reproducible).
        apply: ``apply(parameters, factors) -> MuscleParameters`` with a leading ``[m]``
            axis on the sampled leaves (default
            :func:`~musclesim.training.uncertainty.model.apply_factors`: multiplicative).
        groups: the factors analysed, as groups of parameters swapped together between the
            two samples (:func:`correlated_groups` for a sampler with correlations); default:
            every parameter the sampler draws, alone. A group's label joins its names by
            ``+``.
        bootstrap: resamples of the ``n`` rows for the intervals.
        confidence: central probability of the intervals.
        batch: parameter sets per evaluation.

    Returns:
        Dataset (dims ``criterion``, ``parameter``): ``first_order``, ``total`` and their
        ``*_low``/``*_high`` bootstrap percentile intervals, ``variance`` and ``mean`` of each
        criterion, and ``rank`` of each parameter by its total index (1 = most influential).
        A criterion that does not vary over the distribution (variance 0) has indices 0.
    """
    if n < 2:
        raise InputError(f"n = {n}", field="n", expected="at least 2 base samples")
    if not 0 < confidence < 1:
        raise InputError(f"confidence {confidence}", field="confidence", expected="in (0, 1)")
    key_a, key_b, key_boot = jax.random.split(key, 3)
    a = {k: np.asarray(v, dtype=float) for k, v in sampler(key_a, n).items()}
    b = {k: np.asarray(v, dtype=float) for k, v in sampler(key_b, n).items()}
    groups = [tuple(g) for g in (groups or [(k,) for k in a])]
    missing = [k for g in groups for k in g if k not in a]
    if missing:
        raise InputError(
            f"the sampler draws no {missing}", field="groups", expected=f"names among {list(a)}"
        )
    names = ["+".join(g) for g in groups]
    designs = [a, b] + [{**a, **{k: b[k] for k in g}} for g in groups]
    factors = {k: np.concatenate([d[k] for d in designs]) for k in a}
    values = _evaluate_batched(
        scenario, apply(scenario.parameters, factors), batch, **solver_options
    ).reshape(len(designs), n, len(CRITERION_NAMES))
    f_a, f_b, f_ab = values[0], values[1], values[2:]

    est = sobol_estimates(
        f_a,
        f_b,
        f_ab,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=np.asarray(jax.random.key_data(key_boot)).ravel(),
    )
    first, total = est["first_order"], est["total"]
    everything = values.reshape(-1, len(CRITERION_NAMES))
    # rank per criterion by total index (1 = largest)
    order = np.argsort(-total, axis=0)
    rank = np.empty_like(order)
    for j in range(order.shape[1]):
        rank[order[:, j], j] = np.arange(1, len(names) + 1)
    dims = ("parameter", "criterion")
    return xr.Dataset(
        {
            "first_order": (dims, first, {"units": "1", "long_name": "first-order Sobol index"}),
            "total": (dims, total, {"units": "1", "long_name": "total Sobol index"}),
            "first_order_low": (dims, est["first_order_low"]),
            "first_order_high": (dims, est["first_order_high"]),
            "total_low": (dims, est["total_low"]),
            "total_high": (dims, est["total_high"]),
            "rank": (dims, rank, {"long_name": "rank by total index (1 = most influential)"}),
            "mean": ("criterion", everything.mean(axis=0)),
            "variance": ("criterion", est["variance"]),
        },
        coords={"parameter": names, **_criterion_coords()},
        attrs=_attrs(
            scenario,
            method=(
                "Saltelli 2010 A/B/AB_i design; first order Saltelli 2010, total Jansen 1999; "
                "bootstrap percentile intervals"
            ),
            references="saltelli2010",
            base_samples=n,
            evaluations=n * (len(names) + 2),
            bootstrap=bootstrap,
            confidence=confidence,
        ),
    )


def parameter_ranking(indices: xr.Dataset, criterion: str) -> list[tuple[str, float, float]]:
    """``[(parameter, total, first_order)]`` of one criterion from :func:`sobol_indices`,
    most influential first."""
    if criterion not in CRITERION_NAMES:
        raise InputError(
            f"unknown criterion {criterion!r}",
            field="criterion",
            expected=f"one of {CRITERION_NAMES}",
        )
    sel = indices.sel(criterion=criterion)
    rows = [
        (str(p), float(sel["total"].sel(parameter=p)), float(sel["first_order"].sel(parameter=p)))
        for p in indices["parameter"].values
    ]
    return sorted(rows, key=lambda r: -r[1])
