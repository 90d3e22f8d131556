"""``simulate``: from a model and a measured motion to per-muscle strain and load.

The function reads as its list of stages:

1. load the model (shipped name or fitted file) and the motion (any reader), pick the muscles;
2. match the motion's coordinates to those the muscles span (clear error when one is missing);
3. gait events of each foot from the kinematics (or given), for phases and cycles;
4. excitation from the chosen source (constant, EMG file, gait-phase template, or static
   optimisation of each leg from inverse-dynamics joint moments);
5. MTU lengths from the geometry surrogate (poses outside the fit domain refused up front, or
   continued to first order from the fitted box and flagged: ``out_of_domain``), fibre
   and tendon states (compliant tendon by default) and the whole-record metrics, in one
   :func:`~musclesim.pipeline.evaluate.evaluate`;
6. metrics per gait cycle, with the phase of each peak;
7. an ``xarray.Dataset`` with units, long names, thresholds and provenance.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax
import numpy as np
import xarray as xr

from ..core.errors import InputError
from ..core.groups import expand_muscles
from ..core.io import sha256_file, shared_data_dir
from ..core.version import __version__
from ..dynamics.inverse import inverse_dynamics
from ..excitation.sources import Constant, EMGEnvelope, ExcitationSource
from ..excitation.static_optimization import StaticOptimization
from ..excitation.templates import running_template, sprinting_template, template_for_motion
from ..geometry.io import load_model
from ..geometry.model import GeometryModel
from ..motion.gait import GaitEvents, detect_events, stance_mask, time_to_phase
from ..motion.processing import filter_motion, match_coordinates, motion_derivatives
from ..motion.read import read_motion
from ..muscle import metrics as _metrics
from ..muscle.curves import OPENSIM
from .evaluate import Evaluation, check_domain, evaluate

DEFAULT_MUSCLES = ("hamstrings", "calf")

#: Low-pass cutoff (Hz) of the kinematics before inverse dynamics for the
#: ``static_optimization`` excitation (4th-order zero-lag Butterworth,
#: :func:`~musclesim.filter_motion`): a choice inside the 10–15 Hz range used for running
#: kinematics (Winter 2009, §3.4.4, doi:10.1002/9780470549148), at its upper end because
#: sprinting swing has content up to ~10 Hz. Accelerations are twice-differentiated noise
#: without it. Override with ``cutoff_hz``.
STATIC_OPTIMIZATION_CUTOFF_HZ = 15.0

#: Samples solved at once along a long motion (5 min at 100 Hz). A longer motion is solved in
#: pieces of this many samples, each preceded by :data:`CHUNK_WARMUP_S` of the motion before
#: it, so the solver's working memory stays that of one piece; the results are joined and the
#: whole-record metrics combined piece by piece (maxima, and integrals that add up).
CHUNK_SAMPLES = 30_000

#: Seconds of motion solved before each piece and discarded: the fibre and activation states
#: start from equilibrium with the excitation at the piece's first sample and forget that
#: start within the activation dynamics' deactivation time constant (60 ms, De Groote et al.
#: 2016, doi:10.1007/s10439-016-1591-9) and the fibre damping's, both far below 2 s; the test
#: in tests/test_simulate_long.py measures the joined result against one solve.
CHUNK_WARMUP_S = 2.0


def _resolve_model(model):

    return model if isinstance(model, GeometryModel) else load_model(model)


def coordinate_types(geometry: GeometryModel) -> dict[str, str]:
    """Motion type of each coordinate the geometry reads: the surrogates take joint angles
    (rotational), the Lai/Rajagopal patellar ``*_beta`` coordinates are coupled; a motion's
    unit suffixes are checked against these."""
    return {c: "coupled" if c.endswith("_beta") else "rotational" for c in geometry.coordinates}


def _resolve_motion(motion, geometry: GeometryModel) -> xr.Dataset:

    if isinstance(motion, xr.Dataset):
        return motion
    return read_motion(motion, model=coordinate_types(geometry))


def resolve_excitation(excitation, *, speed: float | None = None):
    """An excitation source from a flexible spec.

    ``float`` → :class:`~musclesim.excitation.sources.Constant`; ``"running"``/``"sprinting"``
    → the gait-phase templates; a path to an EMG file →
    :class:`~musclesim.excitation.sources.EMGEnvelope`; an
    :class:`~musclesim.excitation.sources.ExcitationSource` passes through.
    """

    if isinstance(excitation, ExcitationSource):
        return excitation
    if isinstance(excitation, int | float) and not isinstance(excitation, bool):
        return Constant(float(excitation))
    if isinstance(excitation, str):
        try:
            return Constant(float(excitation))
        except ValueError:
            pass
        if excitation == "running":
            return running_template()
        if excitation == "sprinting":
            return sprinting_template()
        if Path(excitation).suffix.lower() in (".mat", ".sto", ".mot", ".c3d"):
            return EMGEnvelope(excitation)
    raise InputError(
        f"unknown excitation {excitation!r}",
        field="excitation",
        expected="a number in [0, 1], 'running', 'sprinting', an EMG file (.mat/.sto/.mot/.c3d)"
        " or an ExcitationSource ('static_optimization' is built by simulate, which has the"
        " model and motion)",
    )


def dynamics_model_path(geometry, osim=None) -> Path:
    """The ``.osim`` whose segment inertias the inverse dynamics uses.

    ``osim`` when given, else the model the geometry was fitted from, looked up in the shared
    data folder's ``models/``. Either way its sha256 must equal the one recorded in the
    geometry file, so moments and moment arms come from the same model.
    """

    if osim is None:
        data = shared_data_dir(required=False)
        path = None if data is None else data / "models" / geometry.source_file
        if path is None or not path.is_file():
            raise InputError(
                f"the model {geometry.source_file!r} that {geometry.name!r} was fitted from is"
                " not in the shared data folder",
                field="osim",
                expected="the .osim file (--osim PATH / osim=PATH) for inverse dynamics",
            )
    else:
        path = Path(osim)
        if not path.is_file():
            raise InputError("file not found", path=path, field="osim", expected="an .osim file")
    digest = sha256_file(path)
    if geometry.source_sha256 and digest != geometry.source_sha256:
        raise InputError(
            f"sha256 {digest[:12]}... differs from the model the geometry {geometry.name!r} was"
            f" fitted from ({geometry.source_file}, {geometry.source_sha256[:12]}...)",
            path=path,
            field="osim",
            expected="the same .osim as the geometry (or refit the geometry from this one)",
        )
    return path


def static_optimization_source(
    geometry,
    motion: xr.Dataset,
    sides: Sequence[str],
    *,
    osim=None,
    grf=None,
    grf_data=None,
    cutoff_hz: float | None = STATIC_OPTIMIZATION_CUTOFF_HZ,
    **options,
):
    """Excitation from static optimisation of each leg in ``sides``.

    Stages: the kinematics are low-pass filtered (``cutoff_hz``; None: as given) and
    differentiated; :func:`~musclesim.inverse_dynamics` with the ``.osim``'s segment inertias
    (:func:`dynamics_model_path`) and, when given, the ground reaction forces of an OpenSim
    ExternalLoads file ``grf`` (its data file, or ``grf_data``) gives the joint moments;
    :meth:`~musclesim.StaticOptimization.from_motion` shares them among every muscle that
    crosses the leg's hip, knee and ankle (``options`` go there: ``exponent``,
    ``reserve_optimal_force``...). Without ``grf`` the stance samples' moments miss the ground
    load: they are flagged (``inverse_dynamics_valid`` in the simulate result).

    Returns the source (a :class:`~musclesim.StaticOptimization` over both legs' muscles)
    with ``datasets`` (side → static-optimisation Dataset) and ``moments`` (the inverse
    dynamics Dataset) attached.
    """

    model_path = dynamics_model_path(geometry, osim)
    if cutoff_hz is not None:
        motion = filter_motion(motion, cutoff_hz, variables=["q"])
    motion = motion_derivatives(motion)
    moments = inverse_dynamics(
        model_path, motion, external_loads=grf, grf_data=grf_data, sides=tuple(sides)
    )
    per_side = {
        side: StaticOptimization.from_motion(geometry, motion, moments, side=side, **options)
        for side in sides
    }
    time = next(iter(per_side.values())).time
    source = StaticOptimization(
        time,
        [m for s in per_side.values() for m in s.muscles],
        np.concatenate([s.excitation for s in per_side.values()], axis=1),
    )
    source.datasets = {side: s.dataset for side, s in per_side.items()}
    source.moments = moments
    source._description = "; ".join(s.describe() for s in per_side.values()) + (
        f"; inverse dynamics of {model_path.name}"
        + (
            f" with ground reaction forces ({Path(grf).name})"
            if grf is not None
            else ", no ground reaction forces (stance moments invalid)"
        )
        + (f"; kinematics low-pass {cutoff_hz:g} Hz" if cutoff_hz is not None else "")
    )
    return source


def _side(muscle: str) -> str | None:
    return muscle[-1] if muscle[-2:] in ("_r", "_l") else None


def _detect_events(motion, sides, events):

    found: dict[str, GaitEvents] = {}
    notes = []
    for side in sides:
        if isinstance(events, Mapping) and side in events:
            found[side] = events[side]
            continue
        try:
            found[side] = detect_events(motion, side=side)
        except InputError as exc:
            notes.append(f"{side}: no gait events ({exc.problem})")
    return found, notes


def simulate(
    model,
    motion,
    *,
    excitation="auto",
    speed: float | None = None,
    max_speed: float | None = None,
    muscles: Sequence[str] | str = DEFAULT_MUSCLES,
    tendon: str = "compliant",
    events: Mapping | None = None,
    activation_threshold: float = _metrics.DEFAULT_ACTIVATION_THRESHOLD,
    lengthening_threshold: float = _metrics.DEFAULT_LENGTHENING_THRESHOLD,
    strict_domain: bool = False,
    out_of_domain: str = "warn",
    osim=None,
    grf=None,
    grf_data=None,
    cutoff_hz: float | None = STATIC_OPTIMIZATION_CUTOFF_HZ,
    moment_arm_convention: str = "length",
    chunk_samples: int = CHUNK_SAMPLES,
    progress: Callable[[int, int], None] | None = None,
    **solver_options,
) -> xr.Dataset:
    """Strain and load of each selected muscle along a measured motion.

    Args:
        model: a shipped model name (``"sprinter_ja1"``), a fitted model file, or a loaded
            :class:`~musclesim.geometry.model.GeometryModel`.
        motion: a motion file (``.mot``, ``.sto``, ``.csv``, ...) or a motion Dataset.
        excitation: ``"auto"`` (default): the running template at the motion's speed
            (:func:`~musclesim.excitation.templates.template_for_motion`: ``speed`` when
            given, else measured from an overground pelvis; refused when it cannot be known,
            e.g. on a treadmill, and above 3.7 m/s without ``max_speed``); otherwise see
            :func:`resolve_excitation`.
        speed, max_speed: running speed of the motion and the athlete's maximal speed (m/s),
            for ``excitation="auto"`` only.
        muscles: model muscle names and/or groups (``"hamstrings"``, ``"calf"``, ``"bflh"``);
            groups expand to both sides.
        tendon: ``"compliant"`` or ``"rigid"``.
        events: optional dict side (``"r"``/``"l"``) → GaitEvents; detected from the
            kinematics otherwise.
        activation_threshold, lengthening_threshold: thresholds of
            ``peak_eccentric_fiber_strain`` (recorded in the attributes).
        strict_domain: raise instead of warning when a pose leaves the fit domain (the same
            as ``out_of_domain="refuse"``).
        out_of_domain: poses outside a muscle's fitted geometry domain
            (:data:`~musclesim.geometry.model.OUT_OF_DOMAIN_POLICIES`): ``"warn"`` (default)
            the bounded extension with a warning, ``"clamp"`` without one, ``"refuse"`` an
            :class:`~musclesim.OutOfDomainError` naming the frames, coordinates and ranges,
            raised before the excitation and the solver. The result's ``out_of_domain``
            variable flags each muscle x sample the extension was used for, and its
            ``out_of_domain_samples`` attribute counts them.
        osim, grf, grf_data, cutoff_hz: for ``excitation="static_optimization"`` only: the
            ``.osim`` for inverse dynamics (default: the model the geometry was fitted from,
            from the shared data), an OpenSim ExternalLoads ``.xml`` with the ground reaction
            forces (and its data file when the xml's path is stale), and the kinematics'
            low-pass cutoff; see :func:`static_optimization_source`.
        moment_arm_convention: for ``excitation="static_optimization"`` only: ``"length"``
            (-dL/dq, default) or ``"opensim"`` (OpenSim's ``computeMomentArm``, to reproduce
            its Static Optimization; see :meth:`~musclesim.GeometryModel.moment_arm`).
        chunk_samples: a motion longer than this is solved in pieces
            (:func:`evaluate_in_chunks`), which bounds the solver's memory; ``progress``
            (optional) is called with (samples done, samples in all) after each piece.
        **solver_options: passed to :func:`~musclesim.solve_fiber` (``rtol``, ``solver``...).

    Returns:
        Dataset with dims ``time``, ``muscle`` (and ``cycle`` for per-cycle summaries).
    """
    # 1. model, motion, muscles

    geometry = _resolve_model(model)
    source_name = motion if not isinstance(motion, xr.Dataset) else "motion"
    motion = _resolve_motion(motion, geometry)
    names = expand_muscles(muscles, geometry.muscles)
    selected = geometry.select(names)

    # 2. coordinates

    needed = list(selected.coordinates)
    q_ds = match_coordinates(motion, needed)
    time = np.asarray(motion["time"].values, dtype=float)
    q = {name: q_ds["q"].sel(coordinate=name).values for name in needed}
    policy = "refuse" if strict_domain else out_of_domain
    check_domain(
        selected, q, out_of_domain=policy, path=None if source_name == "motion" else source_name
    )

    # the speed-matched excitation is settled before any longer work, since it may refuse
    auto = isinstance(excitation, str) and excitation == "auto"
    if (speed is not None or max_speed is not None) and not auto:
        raise InputError(
            f"speed/max_speed given with excitation {excitation!r}",
            field="excitation",
            expected="'auto' (the running template at that speed), or no speed",
        )
    auto_source = (
        template_for_motion(motion, speed=speed, max_speed=max_speed, source=str(source_name))
        if auto
        else None
    )

    # 3. gait events
    sides = sorted({s for s in (_side(m) for m in names) if s})
    found, event_notes = _detect_events(motion, sides, events)

    # 4. excitation
    if isinstance(excitation, str) and excitation == "static_optimization":
        source = static_optimization_source(
            geometry,
            motion,
            sides,
            osim=osim,
            grf=grf,
            grf_data=grf_data,
            cutoff_hz=cutoff_hz,
            moment_arm_convention=moment_arm_convention,
        )
    else:
        if grf is not None or osim is not None or moment_arm_convention != "length":
            raise InputError(
                f"grf/osim/moment_arm_convention given with excitation {excitation!r}",
                field="excitation",
                expected="'static_optimization' (the only source that uses them)",
            )
        source = auto_source if auto_source is not None else resolve_excitation(excitation)
    drive = np.asarray(source(time, names, motion=motion, cycles=found or None), dtype=float).T
    if drive.shape != (len(names), time.size):
        raise InputError(
            f"excitation source returned shape {drive.T.shape}",
            field="excitation",
            expected=f"(time, muscle) = {(time.size, len(names))}",
        )

    # 5. MTU lengths, fibre states, whole-record metrics
    result = evaluate_in_chunks(
        selected,
        time,
        q,
        np.clip(drive, 0.0, 1.0),
        chunk_samples=chunk_samples,
        progress=progress,
        tendon=tendon,
        activation_threshold=activation_threshold,
        lengthening_threshold=lengthening_threshold,
        out_of_domain=policy,
        **solver_options,
    )

    # 6. per-cycle metrics and the phase of each peak
    ds = _to_dataset(
        names,
        time,
        result,
        drive,
        tendon=tendon,
        activation_threshold=activation_threshold,
        lengthening_threshold=lengthening_threshold,
    )
    phases = {side: time_to_phase(time, ev) for side, ev in found.items()}
    _add_phases_and_cycles(
        ds, names, phases, found, np.asarray(result.metrics.peak_eccentric_index)
    )
    if hasattr(source, "datasets"):
        _add_load_sharing(ds, names, source)
    outside = ~ds["in_fit_domain"]
    ds["out_of_domain"] = outside.assign_attrs(
        long_name="pose outside the muscle's fitted geometry domain: MTU length continued to "
        "first order from the fitted box (policy in the out_of_domain_policy attribute)"
    )

    # 7. provenance
    ds.attrs.update(
        model_name=geometry.name,
        model_source=geometry.source_file,
        model_source_sha256=geometry.source_sha256,
        out_of_domain_policy=policy,
        out_of_domain_samples=int(outside.sum()),
        out_of_domain_frames=int(outside.any("muscle").sum()),
        motion_source=str(motion.attrs.get("source_path", "")),
        motion_sha256=str(motion.attrs.get("source_sha256", "")),
        references=",".join(
            dict.fromkeys(
                (
                    "degroote2016",
                    "delp2007",
                    "thelen2005",
                    "schache2012",
                    *getattr(source, "references", ()),
                )
            )
        ),
        excitation=source.describe(),
        excitation_name=getattr(source, "name", type(source).__name__),
        excitation_peaks=", ".join(
            f"{n}={float(np.max(drive[k])):.3g}" for k, n in enumerate(names)
        ),
        excitation_template_peaks=", ".join(
            f"{k}={v:.3g}" for k, v in (getattr(source, "peak", None) or {}).items()
        )
        if isinstance(getattr(source, "peak", None), Mapping)
        else "",
        excitation_notes=str(getattr(source, "notes", "")),
        excitation_speed=float(getattr(source, "speed", np.nan)),
        excitation_speed_source=str(getattr(source, "speed_source", "not used")),
        gait_events="; ".join(
            f"{s}: {ev.method} ({len(ev.foot_strike)} foot strikes)" for s, ev in found.items()
        )
        + ("; " if event_notes else "")
        + "; ".join(event_notes),
    )
    return ds


#: Time series of a solution that the result keeps (the rest are dropped piece by piece).
_KEPT = (
    "mtu_length",
    "fiber_length",
    "fiber_strain",
    "fiber_velocity",
    "norm_fiber_velocity",
    "tendon_force",
    "fiber_force",
    "activation",
)


def _slice_time(tree, start: int, stop: int, n: int):
    return jax.tree.map(
        lambda x: x[..., start:stop] if getattr(x, "ndim", 0) and x.shape[-1] == n else x, tree
    )


def _combine_metrics(parts: list[tuple[int, _metrics.MuscleMetrics]]) -> _metrics.MuscleMetrics:
    """Whole-record metrics from those of consecutive pieces (``(first sample, metrics)``),
    each piece's including the next one's first sample: maxima are the largest of the pieces'
    (their index moved by the piece's start), trapezoidal integrals add up, ``loads_muscle``
    is any piece's."""
    first = parts[0][1]
    stack = {
        k: np.stack([np.asarray(getattr(m, k)) for _, m in parts])
        for k in first.__dataclass_fields__
    }
    offsets = np.asarray([start for start, _ in parts])[:, None]
    out = {}
    for key in ("negative_work", "active_negative_work"):
        out[key] = stack[key].sum(axis=0)
    for key in (
        "peak_mtu_strain",
        "peak_fiber_strain",
        "peak_lengthening_velocity",
        "peak_force",
        "active_lengthening_velocity",
        "end_range_length",
    ):
        out[key] = stack[key].max(axis=0)
    out["loads_muscle"] = stack["loads_muscle"].any(axis=0)
    ecc = stack["peak_eccentric_fiber_strain"]
    some = np.isfinite(ecc).any(axis=0)
    best = np.argmax(np.where(np.isfinite(ecc), ecc, -np.inf), axis=0)
    columns = np.arange(ecc.shape[1])
    out["peak_eccentric_fiber_strain"] = np.where(some, ecc[best, columns], np.nan)
    out["peak_eccentric_index"] = (stack["peak_eccentric_index"] + offsets)[best, columns]
    loaded = np.where(stack["loads_muscle"], stack["active_stretch"], -np.inf)
    best = np.argmax(loaded, axis=0)
    out["active_stretch"] = np.where(
        out["loads_muscle"], stack["active_stretch"][best, columns], 0.0
    )
    out["active_stretch_index"] = (stack["active_stretch_index"] + offsets)[best, columns]
    out["active_stretch_descending"] = (
        stack["active_stretch_descending"][best, columns] & (out["loads_muscle"])
    )
    return _metrics.MuscleMetrics(**out)


def evaluate_in_chunks(
    geometry: GeometryModel,
    time: np.ndarray,
    q: Mapping[str, np.ndarray],
    excitation: np.ndarray,
    *,
    chunk_samples: int = CHUNK_SAMPLES,
    warmup_s: float = CHUNK_WARMUP_S,
    progress: Callable[[int, int], None] | None = None,
    **options,
):
    """:func:`~musclesim.pipeline.evaluate.evaluate` of one motion (``time`` (T,), ``q``
    coordinate -> (T,) rad, ``excitation`` (muscle, T)), in pieces of ``chunk_samples`` when
    the motion is longer.

    Each piece is solved from at least ``warmup_s`` before its first sample (the part before
    is discarded) to at least one sample past its last (for the integrals), all pieces equally
    wide so one compiled solver serves them; the solver holds one piece at a time; the kept
    time series are joined and the metrics combined (:func:`_combine_metrics`). Returns an
    object with the attributes of an :class:`~musclesim.pipeline.evaluate.Evaluation` that
    :func:`simulate` reads.
    """
    n = time.size
    params = geometry.parameters
    if n <= chunk_samples:
        return evaluate(geometry, params, time, q, excitation=excitation, **options)
    dt = float(np.median(np.diff(time)))
    warm = int(np.ceil(warmup_s / dt))
    n_muscles = len(geometry.muscles)
    kept = {k: np.empty((n_muscles, n)) for k in _KEPT}
    inside = np.empty((n_muscles, n), dtype=bool)
    parts = []
    upright = None
    width = min(chunk_samples + warm + 1, n)  # every piece this wide: one compilation
    for start in range(0, n, chunk_samples):
        stop = min(start + chunk_samples, n)
        lo = max(0, start - warm)
        hi = min(lo + width, n)
        lo = hi - width
        piece = evaluate(
            geometry,
            params,
            time[lo:hi],
            {c: v[lo:hi] for c, v in q.items()},
            excitation=excitation[:, lo:hi],
            **options,
        )
        sol = _slice_time(piece.solution, start - lo, min(stop + 1, n) - lo, width)
        for k in _KEPT:
            kept[k][:, start:stop] = np.asarray(getattr(sol, k))[:, : stop - start]
        inside[:, start:stop] = np.asarray(piece.in_fit_domain)[:, start - lo : stop - lo]
        parts.append(
            (
                start,
                _metrics.fiber_metrics(
                    sol,
                    piece.upright_length,
                    activation_threshold=options.get(
                        "activation_threshold", _metrics.DEFAULT_ACTIVATION_THRESHOLD
                    ),
                    lengthening_threshold=options.get(
                        "lengthening_threshold", _metrics.DEFAULT_LENGTHENING_THRESHOLD
                    ),
                ),
            )
        )
        upright = np.asarray(piece.upright_length)
        del piece, sol
        if progress is not None:
            progress(stop, n)
    solution = types.SimpleNamespace(**kept)
    return types.SimpleNamespace(
        solution=solution,
        upright_length=upright,
        metrics=_combine_metrics(parts),
        in_fit_domain=inside,
        mtu_strain=kept["mtu_length"] / upright[:, None] - 1.0,
    )


def _add_load_sharing(ds: xr.Dataset, names, source) -> None:
    """Static-optimisation activation and force of the selected muscles, and whether the
    joint moments behind them are valid (swing, or stance with ground reaction forces)."""
    so_activation = np.full((ds.sizes["time"], len(names)), np.nan)
    so_force = np.full_like(so_activation, np.nan)
    valid = np.ones_like(so_activation, dtype=bool)
    t = ds["time"].values
    for k, name in enumerate(names):
        side = _side(name)
        so = source.datasets[side]
        so_activation[:, k] = np.interp(t, so["time"].values, so["activation"].sel(muscle=name))
        so_force[:, k] = np.interp(t, so["time"].values, so["muscle_force"].sel(muscle=name))
        if "grf_path" in source.moments.attrs:
            continue  # ground reaction forces applied: stance moments are complete
        if f"stance_{side}" in ds:  # the gait events simulate uses everywhere else
            valid[:, k] = ~ds[f"stance_{side}"].values.astype(bool)
        else:
            stance = source.moments["stance"].sel(side=side).values
            valid[:, k] = np.interp(t, source.moments["time"].values, ~stance) > 0.5
    ds["static_optimization_activation"] = (
        ("time", "muscle"),
        so_activation,
        _attrs("1", "static-optimisation activation (rigid tendon)"),
    )
    ds["static_optimization_force"] = (
        ("time", "muscle"),
        so_force,
        _attrs("N", "static-optimisation muscle force (rigid tendon)"),
    )
    ds["inverse_dynamics_valid"] = (
        ("time", "muscle"),
        valid,
        {"long_name": "joint moments valid: swing, or stance with ground reaction forces"},
    )
    # per leg: the moments that were shared, what the reserves carried, convergence
    legs = list(source.datasets.values())
    coords = [str(c) for so in legs for c in so["coordinate"].values]

    def per_coordinate(var):
        return np.concatenate(
            [
                np.stack([np.interp(t, so["time"].values, col) for col in so[var].values.T], 1)
                for so in legs
            ],
            axis=1,
        )

    ds["joint_moment"] = (
        ("time", "coordinate"),
        per_coordinate("moment"),
        _attrs("N m", "joint moment from inverse dynamics, shared by static optimisation"),
    )
    ds["reserve_moment"] = (
        ("time", "coordinate"),
        per_coordinate("reserve_moment"),
        _attrs("N m", "moment left to the reserve actuators"),
    )
    ds["static_optimization_converged"] = (
        ("time", "coordinate"),
        np.concatenate(
            [
                np.repeat(
                    (np.interp(t, so["time"].values, so["converged"].values) > 0.5)[:, None],
                    so.sizes["coordinate"],
                    axis=1,
                )
                for so in legs
            ],
            axis=1,
        ),
        {"long_name": "static optimisation met its tolerance at this sample (per leg)"},
    )
    ds.coords["coordinate"] = coords


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


def _to_dataset(
    names,
    time,
    result: Evaluation,
    drive,
    *,
    tendon,
    activation_threshold,
    lengthening_threshold,
) -> xr.Dataset:
    """The labelled result (time-series and whole-record summaries)."""

    sol, m = result.solution, result.metrics
    series = {  # name: (values [muscle, time], units, long name)
        "mtu_length": (sol.mtu_length, "m", "musculotendon length"),
        "mtu_strain": (result.mtu_strain, "1", "MTU length / upright-pose length - 1"),
        "fiber_length": (sol.fiber_length, "m", "fibre length"),
        "fiber_strain": (sol.fiber_strain, "1", "fibre length / optimal - 1"),
        "fiber_velocity": (sol.fiber_velocity, "m/s", "fibre velocity (+ = lengthening)"),
        "normalized_fiber_velocity": (
            sol.norm_fiber_velocity,
            "1",
            "fibre velocity / (v_max l_opt)",
        ),
        "tendon_force": (sol.tendon_force, "N", "tendon force"),
        "fiber_force": (sol.fiber_force, "N", "fibre force"),
        "activation": (sol.activation, "1", "activation"),
        "excitation": (drive, "1", "excitation"),
    }
    summaries = {  # name: (values [muscle], units, long name)
        "peak_mtu_strain": (m.peak_mtu_strain, "1", "peak MTU strain"),
        "peak_eccentric_fiber_strain": (
            m.peak_eccentric_fiber_strain,
            "1",
            "largest fibre strain while lengthening and active",
        ),
        "peak_fiber_strain": (m.peak_fiber_strain, "1", "largest fibre strain"),
        "peak_lengthening_velocity": (
            m.peak_lengthening_velocity,
            "m/s",
            "largest fibre lengthening velocity",
        ),
        "negative_work": (
            m.negative_work,
            "J",
            "work done on the fibres while lengthening (magnitude of the fibres' negative work)",
        ),
        "peak_force": (m.peak_force, "N", "peak tendon force"),
        "upright_mtu_length": (result.upright_length, "m", "MTU length, upright pose"),
    }
    td = ("muscle", "time")
    data = {k: (td, np.asarray(v), _attrs(u, n)) for k, (v, u, n) in series.items()}
    data["in_fit_domain"] = (
        td,
        np.asarray(result.in_fit_domain),
        {"long_name": "pose inside the geometry fit domain"},
    )
    data |= {k: ("muscle", np.asarray(v), _attrs(u, n)) for k, (v, u, n) in summaries.items()}
    ds = xr.Dataset(
        data,
        coords={"time": ("time", time, _attrs("s", "time")), "muscle": ("muscle", list(names))},
        attrs={
            "musclesim_version": __version__,
            "tendon": tendon,
            "constant_set": OPENSIM.name,
            "activation_threshold": activation_threshold,
            "lengthening_threshold": lengthening_threshold,
            "lengthening_threshold_units": "normalised fibre velocity",
            "strain_definitions": "mtu_strain = L/L_upright - 1 (Thelen 2005, Schache 2012); "
            "fiber_strain = l/l_opt - 1; peak_eccentric_fiber_strain = max fiber_strain where "
            "normalized_fiber_velocity > lengthening_threshold and activation > "
            "activation_threshold",
        },
    )
    return ds


def _add_phases_and_cycles(ds: xr.Dataset, names, phases, events, eccentric_index) -> None:
    """Gait phase of each peak, and per-cycle peaks (dim ``cycle``, stride of the muscle's side).

    ``eccentric_index`` is the time index of each muscle's ``peak_eccentric_fiber_strain``.
    """

    time = ds["time"].values
    for side, ev in events.items():
        ds[f"stance_{side}"] = (
            "time",
            stance_mask(time, ev),
            {"long_name": f"foot {side} on the ground"},
        )
        ds[f"phase_{side}"] = (
            "time",
            phases[side],
            _attrs("%", f"gait-cycle phase of foot {side} (0 = foot strike)"),
        )
    peak_vars = {
        "peak_mtu_strain": ("mtu_strain", None),
        "peak_eccentric_fiber_strain": ("fiber_strain", "eccentric"),
        "peak_force": ("tendon_force", None),
        "peak_lengthening_velocity": ("fiber_velocity", None),
    }
    for var, (series, kind) in peak_vars.items():
        at = np.full(len(names), np.nan)
        notes = [""] * len(names)
        for i, name in enumerate(names):
            side = _side(name)
            if side not in phases:
                notes[i] = "no gait events" if side else "muscle has no side"
                continue
            index = int(eccentric_index[i]) if kind else int(np.argmax(ds[series].values[i]))
            if kind and not np.isfinite(ds[var].values[i]):
                notes[i] = "never active while lengthening"
                continue
            at[i] = phases[side][index]
            if not np.isfinite(at[i]):
                first = events[side].foot_strike
                before = len(first) and time[index] < first[0]
                notes[i] = "before 1st stride" if before else "after last stride"
        ds[f"{var}_phase"] = (
            "muscle",
            at,
            _attrs("%", f"gait-cycle phase of {var} (0 = foot strike of the muscle's side)"),
        )
        ds[f"{var}_phase_note"] = (
            "muscle",
            np.asarray(notes, dtype=object),
            {"long_name": f"why {var}_phase has no value (empty where it has one)"},
        )

    n_cycles = max((len(ev.strides()) for ev in events.values()), default=0)
    if n_cycles == 0:
        return
    per_cycle = {
        k: np.full((n_cycles, len(names)), np.nan)
        for k in (
            "cycle_peak_mtu_strain",
            "cycle_peak_mtu_strain_phase",
            "cycle_peak_eccentric_fiber_strain",
            "cycle_peak_force",
            "cycle_start",
        )
    }
    ecc = _metrics.eccentric_mask(
        ds["normalized_fiber_velocity"].values,
        ds["activation"].values,
        activation_threshold=ds.attrs["activation_threshold"],
        lengthening_threshold=ds.attrs["lengthening_threshold"],
    )
    mtu_strain, tendon_force = ds["mtu_strain"].values, ds["tendon_force"].values
    fiber_strain = ds["fiber_strain"].values
    for i, name in enumerate(names):
        side = _side(name)
        if side not in events:
            continue
        strain_i, force_i = mtu_strain[i], tendon_force[i]
        fiber_i, ecc_i = fiber_strain[i], ecc[i]
        for c, (start, _, end) in enumerate(events[side].strides()):
            # samples start <= t <= end, found by bisection: a long record has thousands of
            # strides, and a mask over the whole record per stride would cost strides x samples
            a, b = np.searchsorted(time, start, "left"), np.searchsorted(time, end, "right")
            if b <= a:
                continue
            per_cycle["cycle_start"][c, i] = start
            strain = strain_i[a:b]
            per_cycle["cycle_peak_mtu_strain"][c, i] = strain.max()
            peak_time = time[a + int(np.argmax(strain))]
            per_cycle["cycle_peak_mtu_strain_phase"][c, i] = (
                100 * (peak_time - start) / (end - start)
            )
            per_cycle["cycle_peak_force"][c, i] = force_i[a:b].max()
            mask = ecc_i[a:b]
            if mask.any():
                per_cycle["cycle_peak_eccentric_fiber_strain"][c, i] = fiber_i[a:b][mask].max()
    ds.coords["cycle"] = ("cycle", np.arange(n_cycles))
    labels = {
        "cycle_peak_mtu_strain": ("1", "peak MTU strain within each gait cycle"),
        "cycle_peak_mtu_strain_phase": ("%", "gait phase of each cycle's peak MTU strain"),
        "cycle_peak_eccentric_fiber_strain": ("1", "peak eccentric fibre strain per cycle"),
        "cycle_peak_force": ("N", "peak tendon force within each gait cycle"),
        "cycle_start": ("s", "foot strike opening the cycle (muscle's side)"),
    }
    for key, values in per_cycle.items():
        ds[key] = (("cycle", "muscle"), values, _attrs(*labels[key]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds["mean_cycle_peak_eccentric_fiber_strain"] = (
            "muscle",
            np.nanmean(per_cycle["cycle_peak_eccentric_fiber_strain"], axis=0),
            _attrs("1", "across-cycle mean of the per-cycle peak eccentric fibre strain"),
        )
