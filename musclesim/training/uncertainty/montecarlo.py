"""Monte Carlo through the whole evaluation chain: the distribution of every tissue-load
criterion of the injured muscle in a drill, and the probability that it exceeds today's limit.

Stages of :func:`monte_carlo` (for ``N`` samples and ``K`` cases):

1. the cases' resampled motions, excitations and counted samples
   (:func:`~musclesim.training.rank.case_inputs`, the inputs the ranking evaluates), together
   with the reference runs (:func:`~musclesim.training.rank.reference_cases`: running at
   constant speeds up to the athlete's maximal sprint speed);
2. per sample ``s``: muscle parameters ``theta_s`` (the athlete's own, times correlated
   log-normal factors, :func:`~.model.sample_factors`), shared by the drill and its references
   (it is one muscle); per case, a smooth joint-angle error (:func:`~.model.
   sample_coordinate_offsets`, clipped so that it never pushes a pose further out of the
   geometry's fitted box than the template already is) and an excitation factor
   (:func:`~.model.sample_excitation_scale`). The reference runs of one sample share one
   joint-angle error and one excitation factor (one running technique, evaluated at each
   speed), drawn independently of the drills' (a drill's template and the running template
   are different motions with their own errors);
3. every (case, sample) pair through the stages of :func:`~musclesim.pipeline.evaluate.evaluate`
   (:func:`~musclesim.pipeline.evaluate.mtu_lengths`, then
   :func:`~musclesim.pipeline.evaluate.evaluate_lengths`) in chunks
   of ``chunk`` members, case after case (a chunk may span two cases, so only the last chunk
   is padded; a progress bar counts the evaluations);
4. per sample, the reference of each criterion: its largest value over the reference runs
   with the same parameters (:func:`~musclesim.training.rank.running_envelope`'s rule).

Today's limits are fractions of the injured muscle's own running envelope
(:func:`~musclesim.training.rank.today_limits`), and a parameter sample changes both a
drill's value and that envelope. :func:`sample_limits` therefore scales each criterion's
limit with its sample's own reference: ``limit_s = fraction x reference_s`` (the fractions of
:class:`~musclesim.training.tolerance.CriterionLimits`, which come from the assessment log and
the pain readings, not from the muscle parameters). The one exception is an end-range limit
set by a measured pain-free pose (``limits.pain_free_strain``): that MTU strain is a
measurement of the athlete, so it stays fixed. The utilisation of a sample is
``value_s / limit_s`` (:func:`~musclesim.training.criteria.utilisation`) and the exceedance
probability is the fraction of samples with utilisation above 1 (within the ranking's
``LIMIT_TOLERANCE``).

:func:`rank_uncertainty` runs this for every drill of a ranking at its default settings and
adds, per drill and criterion, P(exceed), 90 % intervals of the value and the utilisation,
and a status under a stated maximal exceedance probability.

Reproducible: every draw comes from ``jax.random`` keys derived from ``seed`` and from each
case's identity (drill, intensity, settings), so a drill's samples do not depend on which
other drills are evaluated with it, nor on the chunk size.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from tqdm import tqdm

from ...core.errors import InputError
from ...core.io import write_text_atomic
from ...core.version import __version__
from ...muscle.fiber import PER_MEMBER, impossible_samples
from ...pipeline.evaluate import evaluate_lengths, mtu_lengths
from ..criteria import CRITERIA, CRITERION_NAMES, utilisation
from ..drills import load_drills
from ..rank import (
    BATCH,
    LIMIT_TOLERANCE,
    REFERENCE_BASIS,
    STATUSES,
    AthleteModel,
    Case,
    athlete_model,
    case_inputs,
    rank_drills,
    reference_cases,
    reference_peaks,
    today_limits,
)
from .model import (
    UncertaintyModel,
    apply_factors,
    load_uncertainty,
    sample_coordinate_offsets,
    sample_excitation_scale,
    sample_factors,
)

#: Default number of Monte Carlo samples of :func:`rank_uncertainty`.
DEFAULT_SAMPLES = 200
#: Default largest admissible exceedance probability (the ranking's stated confidence).
DEFAULT_MAX_EXCEEDANCE = 0.10
#: Quantiles of the reported interval: the central 90 %.
INTERVAL = (0.05, 0.95)
#: Status words of :func:`rank_uncertainty`, in ranking order.
UNCERTAIN_STATUSES = (
    "admissible at the stated confidence",
    "not admissible at the stated confidence",
    "does not load the target muscle",
)


@dataclasses.dataclass(frozen=True)
class MonteCarloResult:
    """What :func:`monte_carlo` returns.

    Attributes:
        cases: the ``K`` cases, in the order of the arrays.
        values: criterion -> ``[K, N]`` (criterion units, per repetition).
        loads_muscle: ``[K, N]``, whether the muscle is actively loaded in that sample.
        reference: criterion -> ``[N]``: each sample's own reference (the largest value over
            the reference runs with the same parameters).
        factors: parameter -> ``[N]``: the sampled multiplicative factors.
        excitation_scale: ``[K, N]`` excitation factors of the cases.
        model: the :class:`~.model.UncertaintyModel` sampled; ``seed``, ``n``: the draw.
        clipped_fraction: share of perturbed joint-angle samples held at the geometry's
            fitted box (0 when no perturbation reached it).
        impossible: ``[K, N]``, whether the sample's muscle cannot take the case's lengths
            (:func:`~musclesim.muscle.fiber.impossible_samples`: its fibre beyond the curves'
            range even with the tendon at its largest force, which tail parameter draws meet
            at the long end of a drill); such a case is solved with the nominal parameters to
            keep the batch going, and a drill whose own case or any of whose reference cases
            is impossible for the sample counts as over every limit (``values`` = inf): a
            muscle the model cannot represent there is not cleared.
    """

    cases: tuple
    values: dict[str, np.ndarray]
    loads_muscle: np.ndarray
    reference: dict[str, np.ndarray]
    factors: dict[str, np.ndarray]
    excitation_scale: np.ndarray
    model: UncertaintyModel
    seed: int
    n: int
    clipped_fraction: float
    impossible: np.ndarray | None = None


def _case_salt(case: Case) -> int:
    """A stable 31-bit number identifying a case (drill, intensity, settings)."""
    return zlib.crc32(repr(case.key).encode()) & 0x7FFFFFFF


#: Salt of the reference runs' shared joint-angle error and excitation factor.
_REFERENCE_SALT = zlib.crc32(b"reference running envelope") & 0x7FFFFFFF


def _batched_parameters(params, factors: Mapping[str, jax.Array], members: np.ndarray):
    """Parameters of chunk members ``[B, 1]`` (one muscle): each member's sample of the
    factors; leaves without a factor stay scalar and broadcast."""
    chosen = {k: jnp.asarray(v)[members] for k, v in factors.items()}
    sampled = apply_factors(params, chosen)
    return jax.tree_util.tree_map(lambda x: x[..., None] if jnp.ndim(x) >= 1 else x, sampled)


def monte_carlo(
    am: AthleteModel,
    cases: Sequence[Case],
    n: int,
    *,
    model: UncertaintyModel | None = None,
    seed: int = 0,
    drills=None,
    chunk: int = BATCH,
    progress: bool = False,
    **solver_options,
) -> MonteCarloResult:
    """``n`` samples of every criterion of the athlete's injured muscle in each case, and of
    each sample's own references (module docstring, stages 1-4).

    Args:
        am: the athlete's model (:func:`~musclesim.training.rank.athlete_model`).
        cases: the drills at their intensities and settings
            (:class:`~musclesim.training.rank.Case`).
        n: samples (>= 2).
        model: the uncertainty model (default: :func:`~.model.load_uncertainty`).
        seed: the random seed; the same seed gives identical numbers.
        drills: the drill library (default: the shipped one).
        chunk: evaluations per batched call (memory: about ``chunk`` x 256 samples of
            states); every call is padded to it so one compiled program serves all.
        progress: show a progress bar over the evaluations.
        **solver_options: passed to :func:`~musclesim.pipeline.evaluate.evaluate_lengths`.
    """
    if int(n) < 2:
        raise InputError(f"{n} samples", field="samples", expected="at least 2")
    if int(chunk) < 1:
        raise InputError(f"chunk = {chunk}", field="chunk", expected="at least 1")
    n, chunk = int(n), int(chunk)
    model = load_uncertainty() if model is None else model
    library = load_drills() if drills is None else drills
    cases = list(cases)
    refs = reference_cases(am, library)
    all_cases = refs + cases
    n_ref, k = len(refs), len(all_cases)
    inputs = case_inputs(am, all_cases, drills=library)
    coords = list(am.geometry.coordinates)

    key = jax.random.PRNGKey(int(seed))
    k_par, k_kin, k_exc = jax.random.split(key, 3)
    factors = sample_factors(model, k_par, n)
    salts = [_REFERENCE_SALT] * n_ref + [_case_salt(c) for c in cases]
    lo = np.asarray(am.geometry.domain_lower)[0]
    hi = np.asarray(am.geometry.domain_upper)[0]

    # per case: its perturbed coordinates [N, T] and excitation [N, T] (all samples)
    def perturbed(m: int):
        kk = jax.random.fold_in(k_kin, salts[m])
        offsets = sample_coordinate_offsets(model, kk, inputs.time[m], coords, n)
        q, clipped = {}, 0
        for j, c in enumerate(coords):
            base = inputs.coordinates[c][m]
            moved = base[None, :] + np.asarray(offsets[c])
            low, high = np.minimum(lo[j], base), np.maximum(hi[j], base)
            held = np.clip(moved, low, high)
            clipped += int(np.count_nonzero(held != moved))
            q[c] = held
        scale = np.asarray(sample_excitation_scale(model, jax.random.fold_in(k_exc, salts[m]), n))
        drive = np.clip(inputs.excitation[m][None, :] * scale[:, None], 0.0, 1.0)
        return q, drive, scale, clipped

    # a refusal guards the templates' poses (the ranking checks them before solving); the
    # perturbed poses are held within the fitted box above, and an excluded region inside the
    # box is continued as under "clamp"
    policy = getattr(am, "out_of_domain", "warn")
    out_of_domain = "clamp" if policy == "refuse" else policy
    fields = (*CRITERION_NAMES, "loads_muscle")
    upright = am.geometry.upright_length * am.length_scale  # as evaluate scales it
    out = {f: np.zeros((k, n)) for f in fields}
    scales = np.zeros((k, n))
    impossible = np.zeros((k, n), dtype=bool)
    clipped_total = 0
    # every (case, sample) pair is one job, case-major; a chunk may span cases, so only the
    # very last chunk is padded. A case's perturbations are drawn (for all its samples) when
    # its first job comes up and dropped once its last job is done.
    held: dict[int, tuple] = {}
    total = k * n
    # each case with the substeps its own grid needs, as the ranking solves it, in one
    # compiled solver for every chunk (a chunk holds one or two cases' grids)
    solver_options.setdefault("substeps", PER_MEMBER)
    bar = tqdm(total=total, desc="Monte Carlo", unit="eval", disable=not progress)
    try:
        for start in range(0, total, chunk):
            jobs = np.minimum(np.arange(start, start + chunk), total - 1)
            keep = min(chunk, total - start)
            case_of, sample_of = jobs // n, jobs % n
            for m in np.unique(case_of):
                if m not in held:
                    held[m] = perturbed(int(m))
                    scales[m] = held[m][2]
                    clipped_total += held[m][3]
            q = {
                c: np.stack([held[m][0][c][s] for m, s in zip(case_of, sample_of, strict=True)])
                for c in coords
            }
            drive = np.stack([held[m][1][s] for m, s in zip(case_of, sample_of, strict=True)])
            params = _batched_parameters(am.injured, factors, sample_of)
            lengths, _ = mtu_lengths(
                am.geometry, q, length_scale=am.length_scale, out_of_domain=out_of_domain
            )
            bad = impossible_samples(
                params, lengths, tendon=solver_options.get("tendon", "compliant")
            ).any(axis=(-1, -2))
            if bad.any():  # solved with the nominal muscle, counted as over every limit below
                nominal = jax.tree_util.tree_map(jnp.asarray, am.injured)
                params = jax.tree_util.tree_map(
                    lambda x, x0, bad=bad: (
                        jnp.where(jnp.asarray(bad).reshape((-1,) + (1,) * (jnp.ndim(x) - 1)), x0, x)
                        if jnp.ndim(x) >= 1
                        else x
                    ),
                    params,
                    nominal,
                )
                impossible[case_of[:keep], sample_of[:keep]] |= bad[:keep]
            # the lengths the impossible-sample check read, not the geometry evaluated again
            result = evaluate_lengths(
                params,
                inputs.time[case_of],
                lengths,
                upright,
                excitation=drive[:, None, :],
                counted=inputs.counted[case_of],
                **solver_options,
            )
            for f in fields:
                values = np.asarray(getattr(result.metrics, f))[:keep, 0]
                out[f][case_of[:keep], sample_of[:keep]] = values
            for m in [m for m in held if m < case_of[-1]]:
                del held[m]
            bar.update(keep)
    finally:
        bar.close()
    # negative work per counted repetition, as the ranking reports it
    per_rep = inputs.repetitions - inputs.settling
    out["active_negative_work"] = out["active_negative_work"] / per_rep[:, None]
    reference = {c: out[c][:n_ref].max(axis=0) for c in CRITERION_NAMES}
    over = impossible[n_ref:] | impossible[:n_ref].any(axis=0)[None, :]
    for c in CRITERION_NAMES:
        out[c][n_ref:][over] = np.inf
    coord_samples = max(1, k * n * inputs.time.shape[1] * len(coords))
    return MonteCarloResult(
        cases=tuple(cases),
        values={c: out[c][n_ref:] for c in CRITERION_NAMES},
        loads_muscle=out["loads_muscle"][n_ref:].astype(bool),
        reference=reference,
        factors={name: np.asarray(f) for name, f in factors.items()},
        excitation_scale=scales[n_ref:],
        model=model,
        seed=int(seed),
        n=n,
        clipped_fraction=clipped_total / coord_samples,
        impossible=over,
    )


def sample_limits(result: MonteCarloResult, limits) -> dict[str, np.ndarray]:
    """Each sample's limit of each criterion, ``[N]``: today's fraction (``limits.fractions``,
    from the assessment log and pain) times the sample's own reference; an end-range limit
    set by a measured pain-free pose (``limits.pain_free_strain``) stays at its value.

    A sample whose reference is <= 0 (with wide parameter spreads: an active fibre that never
    passes its optimal length in maximal sprinting) gets a limit <= 0 for that criterion, so
    any positive value of a drill counts as over it (utilisation ``inf``): the drill loads the
    muscle in a way the athlete's own sprinting does not. :func:`rank_uncertainty` reports the
    share of such samples per criterion."""
    out = {}
    for c in CRITERION_NAMES:
        if c == "end_range_length" and getattr(limits, "pain_free_strain", None) is not None:
            out[c] = np.full(result.n, float(limits.values[c]))
        else:
            out[c] = float(limits.fractions[c]) * result.reference[c]
    return out


def sample_utilisation(result: MonteCarloResult, limits) -> dict[str, np.ndarray]:
    """criterion -> utilisation ``[K, N]`` of each case's samples against each sample's own
    limit (:func:`sample_limits`). A sample whose solve did not give a finite value counts as
    over the limit (``inf``), never NaN."""
    lim = sample_limits(result, limits)
    out = {}
    for c in CRITERION_NAMES:
        v = result.values[c]
        u = np.asarray(utilisation(np.where(np.isfinite(v), v, 0.0), lim[c][None, :]))
        out[c] = np.where(np.isfinite(v) & ~np.isnan(u), u, np.inf)
    return out


def exceedance_probability(utilisations: np.ndarray, axis: int = -1) -> np.ndarray:
    """Share of samples over their limit: utilisation above ``1 + LIMIT_TOLERANCE`` (the
    ranking's rule for a point at the limit)."""
    return np.mean(np.asarray(utilisations) > 1.0 + LIMIT_TOLERANCE, axis=axis)


def _quantile(x: np.ndarray, q: float) -> np.ndarray:
    # no interpolation between samples: an interval end that is inf stays inf, never NaN
    return np.quantile(x, q, axis=-1, method="inverted_cdf")


def rank_uncertainty(
    athlete,
    *,
    day,
    ranking: xr.Dataset | None = None,
    n: int = DEFAULT_SAMPLES,
    model: UncertaintyModel | None = None,
    seed: int = 0,
    max_exceedance: float = DEFAULT_MAX_EXCEEDANCE,
    pain: float = 0.0,
    soreness: float = 0.0,
    policy=None,
    model_name: str = "sprinter_ja1",
    drills: Mapping | None = None,
    names: Sequence[str] | None = None,
    chunk: int = BATCH,
    progress: bool = False,
    out_of_domain: str = "warn",
) -> xr.Dataset:
    """How sure each drill's verdict is: the Monte Carlo (:func:`monte_carlo`) of every drill
    of a ranking at its default settings, against today's limits scaled per sample
    (:func:`sample_limits`).

    ``ranking`` is a :func:`~musclesim.training.rank.rank_drills` result for the same athlete,
    day, pain and soreness (its drills and order are kept); without one it is computed
    (defaults only). Returns a Dataset over ``drill`` (ranking order) and ``criterion`` with
    ``exceedance_probability`` (P(utilisation > 1)), ``value_low/median/high`` and
    ``utilisation_low/median/high`` (the central 90 % interval and the median),
    ``utilisation_samples`` ``[drill, criterion, sample]``, and per drill
    ``exceedance_probability_any`` (P(any criterion over its limit)), ``loaded_probability``,
    ``binding_criterion`` (the largest P(exceed), ties by median utilisation), ``status``
    (:data:`UNCERTAIN_STATUSES`: admissible only if P(any exceed) <= ``max_exceedance``) and
    the deterministic ``ranking_status``. No variable holds NaN; an interval end over a limit
    of 0 is ``inf``. ``out_of_domain`` is the ranking's policy for template poses outside the
    fitted geometry (:func:`~musclesim.training.rank.athlete_model`).
    """
    if not 0.0 <= float(max_exceedance) < 1.0:
        raise InputError(
            f"{max_exceedance!r}",
            field="max_exceedance",
            expected="a probability in [0, 1), e.g. 0.10: admissible only if P(exceed) <= 10 %",
        )
    library = load_drills() if drills is None else drills
    if ranking is None:
        ranking = rank_drills(
            athlete,
            day=day,
            pain=pain,
            soreness=soreness,
            model=model_name,
            drills=library,
            names=names,
            policy=policy,
            with_max_safe=False,
            out_of_domain=out_of_domain,
        )
    model = load_uncertainty() if model is None else model
    selected = [str(d) for d in ranking["drill"].values]
    am = athlete_model(athlete.state_on(day), model_name, out_of_domain=out_of_domain)
    reference = reference_peaks(am, drills=library)
    limits = today_limits(am, athlete, day, reference, policy=policy, pain=pain, soreness=soreness)
    cases = []
    for name in selected:
        d = library[name]
        base = tuple(sorted(d.check_settings(None).items()))
        cases.append(Case(d, float(d.intensity.default), base))
    result = monte_carlo(
        am, cases, n, model=model, seed=seed, drills=library, chunk=chunk, progress=progress
    )
    u = sample_utilisation(result, limits)
    u_arr = np.stack([u[c] for c in CRITERION_NAMES], axis=1)  # [K, C, N]
    v_arr = np.stack([result.values[c] for c in CRITERION_NAMES], axis=1)
    p_exceed = exceedance_probability(u_arr)
    p_any = exceedance_probability(u_arr.max(axis=1))
    loaded = result.loads_muscle.mean(axis=1)
    median_u = _quantile(u_arr, 0.5)
    binding = [
        CRITERION_NAMES[int(np.lexsort((-median_u[i], -p_exceed[i]))[0])]
        for i in range(len(selected))
    ]
    det_status = [str(s) for s in ranking["status"].values]
    status = []
    for i in range(len(selected)):
        if p_any[i] > max_exceedance:
            status.append(UNCERTAIN_STATUSES[1])
        elif det_status[i] == STATUSES[3]:  # the ranking's rule: active or passive load
            status.append(UNCERTAIN_STATUSES[2])
        else:
            status.append(UNCERTAIN_STATUSES[0])
    units = {c.name: c.unit for c in CRITERIA}
    long = {c.name: c.long_name for c in CRITERIA}
    dims = ("drill", "criterion")
    lo_q, hi_q = INTERVAL
    data = {
        "exceedance_probability": (
            dims,
            p_exceed,
            {"units": "1", "long_name": "probability that the criterion exceeds today's limit"},
        ),
        "exceedance_probability_any": (
            "drill",
            p_any,
            {"units": "1", "long_name": "probability that any criterion exceeds its limit"},
        ),
        "loaded_probability": (
            "drill",
            loaded,
            {"units": "1", "long_name": "probability that the muscle is actively loaded"},
        ),
        "binding_criterion": ("drill", np.asarray(binding, dtype=object)),
        "status": ("drill", np.asarray(status, dtype=object)),
        "ranking_status": ("drill", np.asarray(det_status, dtype=object)),
        "utilisation_samples": (
            (*dims, "sample"),
            u_arr,
            {"units": "1", "long_name": "utilisation of today's limit, per sample"},
        ),
    }
    for label, q in (("low", lo_q), ("median", 0.5), ("high", hi_q)):
        data[f"utilisation_{label}"] = (
            dims,
            _quantile(u_arr, q),
            {"units": "1", "long_name": f"utilisation of today's limit, {q:.0%} quantile"},
        )
        data[f"value_{label}"] = (
            dims,
            _quantile(v_arr, q),
            {"units": "criterion's unit", "long_name": f"criterion value, {q:.0%} quantile"},
        )
    ds = xr.Dataset(
        data,
        coords={
            "drill": selected,
            "criterion": list(CRITERION_NAMES),
            "sample": np.arange(result.n),
            "criterion_unit": ("criterion", [units[c] for c in CRITERION_NAMES]),
            "criterion_long_name": ("criterion", [long[c] for c in CRITERION_NAMES]),
        },
        attrs={
            "musclesim_version": __version__,
            "athlete": getattr(athlete, "name", "") or "",
            "muscle": am.muscle,
            "model": model_name,
            "day": str(day),
            "pain": float(pain),
            "soreness": float(soreness),
            "samples": result.n,
            "seed": result.seed,
            "max_exceedance": float(max_exceedance),
            "confidence_rule": (
                f"admissible only if P(any criterion over today's limit) <= {max_exceedance:g}"
            ),
            "interval": f"central {INTERVAL[1] - INTERVAL[0]:.0%} of the samples",
            "settings": "every drill at its default settings",
            "limit_rule": (
                "per sample, today's limit fraction x the reference simulated with the same "
                "sampled parameters (" + REFERENCE_BASIS + "); an end-range limit set by a "
                "measured pain-free pose stays fixed"
            ),
            "uncertainty_model": model.summary(),
            "references": ",".join(model.references),
            "clipped_fraction": float(result.clipped_fraction),
            "impossible_fraction": float(np.mean(result.impossible))
            if result.impossible is not None
            else 0.0,
            **{
                f"nonpositive_reference_fraction_{c}": float(np.mean(result.reference[c] <= 0))
                for c in CRITERION_NAMES
            },
        },
    )
    return ds


def uncertainty_table(ds: xr.Dataset) -> str:
    """Printable table of :func:`rank_uncertainty`: per drill its status, P(any criterion over
    the limit), the binding criterion's P(exceed) and 90 % interval of its utilisation."""
    lines = [
        f"Monte Carlo: {ds.attrs['samples']} samples, seed {ds.attrs['seed']}; "
        f"{ds.attrs['confidence_rule']}",
        f"{'drill':24s} {'status':40s} {'P(any>lim)':>10s} {'binds':28s} "
        f"{'P(exceed)':>9s} {'utilisation 90 % interval':>26s}",
    ]
    for i in range(ds.sizes["drill"]):
        r = ds.isel(drill=i)
        b = str(r["binding_criterion"].values)
        rb = r.sel(criterion=b)
        interval = (
            f"{100 * float(rb['utilisation_low']):.0f}-{100 * float(rb['utilisation_high']):.0f} %"
        )
        lines.append(
            f"{str(r['drill'].values):24s} {str(r['status'].values):40s} "
            f"{100 * float(r['exceedance_probability_any']):>9.0f}% {b:28s} "
            f"{100 * float(rb['exceedance_probability']):>8.0f}% {interval:>26s}"
        )
    lines.append("Limits: " + ds.attrs["limit_rule"])
    return "\n".join(lines)


#: Columns of :func:`write_uncertainty_csv`, in order (one row per drill and criterion).
CSV_COLUMNS = (
    "drill",
    "status",
    "exceedance_probability_any",
    "binding_criterion",
    "criterion",
    "exceedance_probability",
    "value_low",
    "value_median",
    "value_high",
    "utilisation_low",
    "utilisation_median",
    "utilisation_high",
    "ranking_status",
)


def write_uncertainty_csv(ds: xr.Dataset, path) -> Path:
    """CSV of :func:`rank_uncertainty`, one row per drill and criterion in ranking order, the
    attributes as ``#`` comment lines above it (atomic write). No cell is NaN (``inf`` where an
    interval end is over a limit of 0)."""
    lines = [",".join(CSV_COLUMNS)]
    for i in range(ds.sizes["drill"]):
        r = ds.isel(drill=i)
        for c in CRITERION_NAMES:
            rc = r.sel(criterion=c)
            row = []
            for col in CSV_COLUMNS:
                value = rc["criterion"].values if col == "criterion" else rc[col].values
                row.append(_csv_field(value.item()))
            lines.append(",".join(row))
    header = []
    for k, v in ds.attrs.items():
        first, *rest = str(v).splitlines() or [""]
        header += [f"# {k}: {first}", *(f"#   {line}" for line in rest)]
    return write_text_atomic(path, "\n".join(header + lines) + "\n")


def _csv_field(value) -> str:
    if isinstance(value, float | np.floating):
        return "inf" if np.isinf(value) else f"{float(value):.6g}"
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text
