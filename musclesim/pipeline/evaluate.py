"""The evaluation chain every result goes through, written once.

:func:`evaluate` reads as its stages:

1. MTU lengths of the selected muscles from the geometry surrogate at the given coordinates,
   scaled by ``length_scale`` (:func:`mtu_lengths`; poses outside the fit domain are flagged,
   and warned about, continued to first order or refused by the ``out_of_domain`` policy;
   :func:`check_domain` refuses them before any solving);
2. fibre and tendon states (:func:`~musclesim.solve_fiber`);
3. per-muscle metrics (:func:`~musclesim.muscle.metrics.fiber_metrics`), strain taken against
   the upright-pose length scaled alike.

It is pure JAX from coordinates to metrics, with batch dimensions anywhere in front, so the
same call serves one measured motion, a drill at a grid of intensities for many athlete
profiles, and a root-find that differentiates a peak with respect to the motion
(``jax.grad`` through every stage). :func:`evaluate_lengths` is stages 2-3 alone, for MTU
lengths obtained or scaled otherwise; :func:`resample_motions` puts motions of different
durations on one batched grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline

from ..core.errors import InputError, OutOfDomainError
from ..geometry.model import OUT_OF_DOMAIN_POLICIES, GeometryModel
from ..muscle import metrics as _metrics
from ..muscle.fiber import FiberSolution, solve_fiber


class Evaluation(eqx.Module):
    """Result of :func:`evaluate`: arrays shaped ``batch + (muscle, time)`` (time series) or
    ``batch + (muscle,)`` (metrics), SI units.

    Attributes:
        solution: the fibre and tendon states (``solution.mtu_length`` is the scaled length).
        upright_length: MTU length at the upright pose (m), scaled like the lengths, shaped
            to broadcast against ``batch + (muscle,)``.
        metrics: the per-muscle summaries of :mod:`musclesim.muscle.metrics`.
        in_fit_domain: whether each pose lies inside each muscle's geometry fit domain (None
            from :func:`evaluate_lengths`, which sees no poses).
    """

    solution: FiberSolution
    upright_length: jax.Array
    metrics: _metrics.MuscleMetrics
    in_fit_domain: jax.Array | None = None

    @property
    def mtu_strain(self) -> jax.Array:
        """L_MTU / L_MTU(upright) - 1 over time (:func:`~musclesim.muscle.metrics.mtu_strain`)."""
        return _metrics.mtu_strain(self.solution.mtu_length, self.upright_length)


def mtu_lengths(
    geometry: GeometryModel,
    coordinates: Mapping[str, jax.Array],
    *,
    length_scale=1.0,
    strict: bool = False,
    out_of_domain: str = "warn",
) -> tuple[jax.Array, jax.Array]:
    """``(L_MTU, in-domain mask)`` of every muscle of ``geometry``, each ``batch + (muscle,
    time)``, from coordinate arrays ``batch + (time,)`` (rad).

    ``length_scale`` (scalar, or broadcasting against ``batch``) multiplies the lengths: an
    athlete's height over the model's (geometric similarity, the rule of
    :func:`~musclesim.training.athlete.scale_parameters` for the muscle lengths).
    ``strict`` raises instead of warning when a pose leaves the fit domain
    (:meth:`~musclesim.GeometryModel.mtu_length`); ``out_of_domain`` (``"warn"``, ``"clamp"``,
    ``"refuse"``) is its policy for such poses, the returned mask their per-sample flag.
    """
    lengths, inside = geometry.mtu_length(
        coordinates, strict=strict, return_mask=True, out_of_domain=out_of_domain
    )
    scale = jnp.asarray(length_scale)[..., None, None]
    return jnp.swapaxes(lengths, -1, -2) * scale, jnp.swapaxes(inside, -1, -2)


def check_domain(
    geometry: GeometryModel,
    coordinates: Mapping[str, np.ndarray],
    *,
    out_of_domain: str = "refuse",
    labels: Sequence[str] | None = None,
    path=None,
) -> np.ndarray:
    """The in-domain mask ``batch + (muscle, time)`` of the poses ``batch + (time,)`` (rad),
    without solving anything, so that a command refuses before its long computation.

    Under ``out_of_domain="refuse"`` a pose outside a muscle's fitted domain raises an
    :class:`~musclesim.OutOfDomainError` in one line naming the frames (the first few and
    their count), the coordinates, their extreme values and the fitted ranges, and, for a
    batch of motions (``coordinates`` with a leading axis), the first few motions by
    ``labels`` and the frames of the first. ``path`` names the input file in the message.
    """
    if out_of_domain not in OUT_OF_DOMAIN_POLICIES:
        raise InputError(
            f"out_of_domain={out_of_domain!r}",
            field="out_of_domain",
            expected=" or ".join(repr(p) for p in OUT_OF_DOMAIN_POLICIES),
        )
    q = {c: np.asarray(coordinates[c]) for c in geometry.coordinates}
    inside = np.swapaxes(np.asarray(geometry.in_domain(q)), -1, -2)
    if out_of_domain != "refuse" or inside.all():
        return inside
    where = ""
    if inside.ndim > 2:  # a batch of motions: name them, and report the first one's frames
        flat = inside.reshape(-1, *inside.shape[-2:])
        bad = np.flatnonzero(~flat.all(axis=(-1, -2)))
        names = [labels[k] if labels is not None else f"motion {k}" for k in bad]
        where = f"{len(bad)} of {len(flat)} motions ({', '.join(names[:3])}"
        where += " ...); in the first, " if len(bad) > 3 else "); in the first, "
        q = {c: v.reshape(-1, v.shape[-1])[bad[0]] for c, v in q.items()}
    raise OutOfDomainError(
        f"{where}pose(s) outside the fitted domain of model {geometry.name!r}: "
        + "; ".join(geometry.domain_report(q)),
        path=path,
        expected="poses inside the fitted domain, or --out-of-domain clamp "
        "(out_of_domain='clamp') for the bounded extension, flagged per sample",
    )


def evaluate(
    geometry: GeometryModel,
    parameters,
    time,
    coordinates: Mapping[str, jax.Array],
    *,
    length_scale=1.0,
    excitation=None,
    activation=None,
    tendon: str = "compliant",
    activation_threshold: float = _metrics.DEFAULT_ACTIVATION_THRESHOLD,
    lengthening_threshold: float = _metrics.DEFAULT_LENGTHENING_THRESHOLD,
    strict_domain: bool = False,
    out_of_domain: str = "warn",
    counted=None,
    **solver_options,
) -> Evaluation:
    """Fibre states and per-muscle metrics of ``geometry``'s muscles along a motion.

    Args:
        geometry: the geometry surrogate, restricted to the muscles wanted
            (:meth:`~musclesim.GeometryModel.select`); its muscles are the ``muscle`` axis.
        parameters: :class:`~musclesim.MuscleParameters` whose leaves broadcast against
            ``batch + (muscle,)`` (for instance ``[muscle]``, or ``[profile, muscle]`` with a
            profile axis in ``batch``).
        time: sample times (s), ``(time,)`` or ``batch + (time,)`` (each batch member on its
            own grid).
        coordinates: coordinate name -> angles (rad), ``batch + (time,)``.
        length_scale: factor on the MTU lengths and the upright length (see
            :func:`mtu_lengths`); scalar or broadcasting against ``batch``.
        excitation, activation: exactly one, in [0, 1], scalar or broadcasting against
            ``batch + (muscle, time)`` (see :func:`~musclesim.solve_fiber`).
        tendon: ``"compliant"`` or ``"rigid"``.
        activation_threshold, lengthening_threshold: thresholds of
            ``peak_eccentric_fiber_strain``.
        strict_domain: raise instead of warning when a pose leaves the fit domain.
        out_of_domain: the policy for poses outside the fit domain
            (:data:`~musclesim.geometry.model.OUT_OF_DOMAIN_POLICIES`): ``"warn"`` the bounded
            extension with a warning, ``"clamp"`` without one (``in_fit_domain`` of the result
            is the per-sample flag), ``"refuse"`` an :class:`~musclesim.OutOfDomainError`.
        counted: samples the tissue-load criteria and peak force read
            (:func:`~musclesim.muscle.metrics.fiber_metrics`), broadcasting against
            ``batch + (muscle, time)``; every sample by default.
        **solver_options: passed to :func:`~musclesim.solve_fiber` (``rtol``, ``solver``...).

    Returns:
        :class:`Evaluation`. Pure JAX: ``jax.grad`` of a metric with respect to the
        coordinates, time or parameters flows through every stage.
    """
    # 1. MTU lengths
    lengths, inside = mtu_lengths(
        geometry,
        coordinates,
        length_scale=length_scale,
        strict=strict_domain,
        out_of_domain=out_of_domain,
    )
    upright = geometry.upright_length * jnp.asarray(length_scale)[..., None]
    # 2-3. fibre states and metrics
    try:
        result = evaluate_lengths(
            parameters,
            time,
            lengths,
            upright,
            excitation=excitation,
            activation=activation,
            tendon=tendon,
            activation_threshold=activation_threshold,
            lengthening_threshold=lengthening_threshold,
            counted=counted,
            **solver_options,
        )
    except InputError as error:  # name the muscle of an impossible length (last batch axis)
        member = getattr(error, "batch_index", None)
        if not member:
            raise
        raise InputError(
            f"{geometry.muscles[member[-1]]}: {error.problem}",
            field=error.field,
            expected=error.expected,
        ) from None
    return Evaluation(result.solution, result.upright_length, result.metrics, inside)


#: The metrics as one compiled program (run op by op, every operation would compile a program
#: of its own); inlined under an outer ``jax.jit``.
_fiber_metrics = jax.jit(_metrics.fiber_metrics)


def evaluate_lengths(
    parameters,
    time,
    mtu_length,
    upright_length,
    *,
    excitation=None,
    activation=None,
    tendon: str = "compliant",
    activation_threshold: float = _metrics.DEFAULT_ACTIVATION_THRESHOLD,
    lengthening_threshold: float = _metrics.DEFAULT_LENGTHENING_THRESHOLD,
    counted=None,
    **solver_options,
) -> Evaluation:
    """Stages 2-3 of :func:`evaluate`: fibre states and metrics along given MTU lengths.

    Args:
        parameters: as in :func:`evaluate`.
        time: sample times (s), ``(time,)`` or ``batch + (time,)``.
        mtu_length: MTU lengths (m), ``batch + (muscle, time)`` (:func:`mtu_lengths`).
        upright_length: MTU length at the upright pose (m), scaled like ``mtu_length``,
            broadcasting against ``batch + (muscle,)``.
        excitation, activation, tendon, activation_threshold, lengthening_threshold,
            counted, **solver_options: as in :func:`evaluate`.

    Returns:
        :class:`Evaluation` without ``in_fit_domain``.
    """
    # 2. fibre states; a batched time grid gains the muscle axis of the lengths
    time = jnp.asarray(time)
    if time.ndim > 1:
        time = time[..., None, :]
    solution = solve_fiber(
        parameters,
        time,
        mtu_length,
        excitation=excitation,
        activation=activation,
        tendon=tendon,
        **solver_options,
    )

    # 3. metrics
    upright_length = jnp.asarray(upright_length)
    metrics = _fiber_metrics(
        solution,
        upright_length,
        activation_threshold=activation_threshold,
        lengthening_threshold=lengthening_threshold,
        counted=counted,
    )
    return Evaluation(solution, upright_length, metrics)


def resample_motions(
    motions: Sequence[xr.Dataset], samples: int, coordinates: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Motions of different durations on one batched grid for :func:`evaluate`.

    Each motion is resampled (the not-a-knot cubic spline of
    :func:`~musclesim.resample_motion`) to
    ``samples`` uniform samples over its own duration, so one compiled solver serves them all.
    The spline may overshoot its samples near a kink (a clamped knee): every coordinate is
    kept within the range the motion's own samples span, which keeps a pose on the edge of the
    geometry's fit domain inside it.

    Returns ``(time [motion, samples] (s), {coordinate: [motion, samples] (rad)})``.
    """
    times, poses = [], []
    for motion in motions:
        t = motion["time"].values
        if t.size < 2:
            raise InputError(
                "fewer than two samples",
                path=motion.attrs.get("source_path"),
                expected=">= 2 samples",
            )
        q = motion["q"].transpose("time", "coordinate")
        names = [str(c) for c in q["coordinate"].values]
        missing = [c for c in coordinates if c not in names]
        if missing:
            raise InputError(
                f"coordinates {missing} are missing",
                path=motion.attrs.get("source_path"),
                field="q",
                expected=f"the model's coordinates {list(coordinates)}",
            )
        # the spline of resample_motion on the model's coordinates alone, without building a
        # Dataset per motion (a ranking resamples hundreds of drill motions)
        values = q.values[:, [names.index(c) for c in coordinates]]
        grid = np.linspace(t[0], t[-1], samples)
        resampled = CubicSpline(t, values, axis=0)(grid)
        resampled = np.clip(resampled, values.min(axis=0), values.max(axis=0))
        times.append(grid)
        poses.append(resampled)
    stacked = np.stack(poses)  # [motion, samples, coordinate]
    return np.stack(times), {c: stacked[..., k] for k, c in enumerate(coordinates)}
