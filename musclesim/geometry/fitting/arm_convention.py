"""OpenSim's moment-arm convention: where ``computeMomentArm`` is not OpenSim's own -dL/dq.

musclesim's moment arms are r = -dL/dq of the fitted length (virtual work: the moment a path
of tension F exerts is -F dL/dq). OpenSim's ``Muscle::computeMomentArm`` (and with it the
moments its Static Optimization, CMC and forward simulations apply) maps the path's tension
through the directions of the path's segments at its wrap tangent points. For most paths the
two agree to micrometres; for some wrapped paths they do not. In ``Sprinter_JA1_scaled.osim``
the lateral gastrocnemius, wrapped over two surfaces on two bodies (``GasLat_at_shank`` and
``GasLat_at_condyles``), has a knee moment arm from ``computeMomentArm`` 16 mm larger than
-dL/dq at full extension and 5.5 mm larger at 51 deg; at about 51.4 deg of flexion (ankle and
subtalar move it by about a degree) OpenSim's length kinks, -dL/dq jumping from 22.0 to
27.6 mm onto ``computeMomentArm``, which stays continuous (0.1 deg sweeps with 1e-4 rad
differences, ankle 0.17 rad, subtalar -0.40 rad); beyond it the two agree. The screen
(:func:`screen_arm_conventions`) also finds the adductor magnus proximal and gluteus maximus 3
in hip adduction (0.5-0.6 mm RMS).

Reproducing OpenSim's Static Optimization therefore needs OpenSim's moment arms. This module
fits, for each (muscle, coordinate) pair where the two differ, a correction
``Delta(q) = r_OpenSim(q) - (-dL/dq)_OpenSim(q)`` as a piecewise Chebyshev polynomial in the
muscle's own coordinates (steps in Delta -- a wrap letting go -- become threshold pieces,
located by bisection along one-coordinate sweeps), and stores it in the fitted-geometry file
(variables ``arm_correction_*``, dimension ``correction``). ``GeometryModel.moment_arm(q,
convention="opensim")`` then returns ``-dL/dq + Delta``, still without OpenSim, jit/vmap/grad
compatible. ``-dL/dq`` of OpenSim's lengths is the central difference of :data:`FD_STEP`,
the reference of ``validation/geometry.py``.

Fitting needs the ``opensim`` extra::

    musclesim fit-arm-convention ../shared/data/models/Sprinter_JA1_scaled.osim \\
        --into models/sprinter_ja1.nc
"""

from __future__ import annotations

import math

import numpy as np

from ..path_io import path_muscles
from ..records import (
    FD_STEP,
    KEEP_RMS,
    SCREEN_FRACTION,
    SCREEN_POSES,
    SCREEN_TOLERANCE,
    ArmCorrection,
    Threshold,
    exponents,
)
from .fit import _inside, chebyshev_features, fit_muscle_group, sampler_for_fitted

#: Smallest step of Delta (m) taken for a step, over a run of sweep intervals each changing
#: by more than STEP_SLOPE (m per 0.5 deg interval).
STEP_MIN = 2.0e-3
STEP_SLOPE = 0.5e-3
#: Sweep spacing (rad) and bisection iterations of a step's location (0.5 deg / 2^12).
SWEEP_SPACING = math.radians(0.5)
BISECTIONS = 12
#: Sweeps per coordinate at random poses of the other coordinates.
SWEEPS = 4
#: Largest polynomial of a correction: degree 5 in four coordinates. Delta is smooth between
#: its steps (a few mm varying over tens of degrees).
MAX_TERMS = 126
#: Training poses whose residual after a first fit exceeds this are central-difference spikes
#: (see SCREEN_FRACTION) and are dropped before the final fit.
SPIKE_RESIDUAL = 2.0e-3


# --------------------------------------------------------------------------------------------
# OpenSim side.


def _pair_arms(sampler, poses: dict[str, np.ndarray], pairs) -> np.ndarray:
    """``computeMomentArm`` of each ``(muscle, coordinate)`` pair at each pose, ``[n, pair]``."""
    index = {m: i for i, m in enumerate(sampler.muscles)}
    names = list(poses)
    cols = np.stack([np.asarray(poses[n], dtype=float) for n in names], axis=1)
    out = np.empty((cols.shape[0], len(pairs)))
    s = sampler.state
    sampler.reset()
    for i, row in enumerate(cols):
        sampler._set_pose(dict(zip(names, row, strict=True)))
        sampler.model.realizePosition(s)
        for j, (m, c) in enumerate(pairs):
            out[i, j] = sampler._muscles[index[m]].computeMomentArm(s, sampler._coords[c])
    sampler.reset()
    return out


def _domain_of(ds, muscle: str) -> tuple[list[str], dict[str, tuple[float, float]], list]:
    """A muscle's input coordinates, its stated domain box and excluded regions."""
    i = [str(m) for m in ds["muscle"].values].index(muscle)
    coords = [str(c) for c in ds["coordinate"].values]
    inputs = [coords[int(k)] for k in ds["input_coordinate"].values[i] if k >= 0]
    box = {
        c: (
            float(ds["domain_lower"].values[i, coords.index(c)]),
            float(ds["domain_upper"].values[i, coords.index(c)]),
        )
        for c in inputs
    }
    regions = []
    if "excluded_count" in ds:
        for r in range(int(ds["excluded_count"].values[i])):
            lo = ds["excluded_lower"].values[i, r]
            hi = ds["excluded_upper"].values[i, r]
            regions.append(
                {
                    c: (
                        -np.inf if np.isnan(lo[coords.index(c)]) else float(lo[coords.index(c)]),
                        np.inf if np.isnan(hi[coords.index(c)]) else float(hi[coords.index(c)]),
                    )
                    for c in inputs
                    if not (np.isnan(lo[coords.index(c)]) and np.isnan(hi[coords.index(c)]))
                }
            )
    return inputs, box, regions


def _poses_in_domain(inputs, box, regions, n, rng) -> dict[str, np.ndarray]:
    """``n`` uniform random poses inside ``box`` and outside every excluded region."""

    got = []
    while sum(len(g) for g in got) < n:
        q = np.stack([rng.uniform(*box[c], size=2 * n) for c in inputs], axis=1)
        got.append(q[_inside(q, inputs, box, regions)])
    q = np.concatenate(got)[:n]
    return {c: q[:, k] for k, c in enumerate(inputs)}


def _deltas(sampler, muscle, coordinates, poses) -> np.ndarray:
    """Delta = computeMomentArm - (-dL/dq) of OpenSim's lengths about each of ``coordinates``
    at ``poses``, ``[n, coordinate]`` (m); -dL/dq by central differences of :data:`FD_STEP`.
    One realisation pass gives every coordinate's ``computeMomentArm``."""
    arms = _pair_arms(sampler, poses, [(muscle, c) for c in coordinates])
    for k, c in enumerate(coordinates):
        up = sampler.lengths({**poses, c: poses[c] + FD_STEP}, [muscle])[:, 0]
        down = sampler.lengths({**poses, c: poses[c] - FD_STEP}, [muscle])[:, 0]
        arms[:, k] += (up - down) / (2.0 * FD_STEP)
    return arms


def _delta(sampler, muscle, coordinate, poses) -> np.ndarray:
    """:func:`_deltas` about one coordinate, ``[n]``."""
    return _deltas(sampler, muscle, [coordinate], poses)[:, 0]


def screen_arm_conventions(sampler, ds, *, muscles=None, n=SCREEN_POSES, seed=0) -> dict:
    """Where OpenSim's ``computeMomentArm`` differs from its own -dL/dq.

    Returns ``{(muscle, coordinate): (share of poses with |Delta| > SCREEN_TOLERANCE,
    median |Delta|, 99th percentile |Delta|)}`` over ``n`` random poses in each muscle's stated
    domain (other coordinates at their defaults). By default the muscles with an exact path
    are left out: ``moment_arm(..., convention="opensim")`` computes theirs from the path."""

    rng = np.random.default_rng(seed)
    out = {}
    exact = path_muscles(ds)  # their convention is computed from the path, not fitted
    for m in muscles or [str(x) for x in ds["muscle"].values if str(x) not in exact]:
        inputs, box, regions = _domain_of(ds, m)
        poses = _poses_in_domain(inputs, box, regions, n, rng)
        delta = np.abs(_deltas(sampler, m, inputs, poses))
        for k, c in enumerate(inputs):
            a = delta[:, k]
            out[(m, c)] = (
                float(np.mean(a > SCREEN_TOLERANCE)),
                float(np.median(a)),
                float(np.percentile(a, 99)),
            )
    return out


def _runs(d: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``[i, j]`` of ``d`` over which it steps by more than :data:`STEP_MIN`:
    runs of adjacent intervals each changing by more than :data:`STEP_SLOPE` (the central
    difference of :data:`FD_STEP` spreads a kink of OpenSim's length over about a degree)."""
    steep = np.abs(np.diff(d)) > STEP_SLOPE
    out, i = [], 0
    while i < steep.size:
        if not steep[i]:
            i += 1
            continue
        j = i
        while j + 1 < steep.size and steep[j + 1]:
            j += 1
        if abs(d[j + 1] - d[i]) > STEP_MIN:
            out.append((i, j + 1))
        i = j + 1
    return out


def find_steps(sampler, muscle, coordinate, inputs, box, *, seed=0) -> list:
    """Steps of Delta (e.g. a wrap letting go): located by bisection (to the middle of the
    step's height) along sweeps of each input coordinate at :data:`SWEEPS` random poses of the
    others. A step found exactly once on every sweep of a coordinate becomes a threshold at the
    median of its locations; returns ``[(Threshold, spread of the locations in rad)]``."""

    rng = np.random.default_rng(seed)
    out = []
    for c in inputs:
        grid = np.arange(box[c][0], box[c][1] + 1e-12, SWEEP_SPACING)
        found = []
        for _ in range(SWEEPS):
            fixed = {o: float(rng.uniform(*box[o])) for o in inputs if o != c}

            def at(x, fixed=fixed, c=c):
                x = np.atleast_1d(np.asarray(x, dtype=float))
                pose = {o: np.full(x.size, v) for o, v in fixed.items()}
                pose[c] = x
                return _delta(sampler, muscle, coordinate, pose)

            d = at(grid)
            located = []
            for i, j in _runs(d):
                lo, hi = grid[i], grid[j]
                middle = 0.5 * (d[i] + d[j])
                rising = d[j] > d[i]
                for _ in range(BISECTIONS):
                    mid = 0.5 * (lo + hi)
                    if (at(mid)[0] > middle) == rising:
                        hi = mid
                    else:
                        lo = mid
                located.append(0.5 * (lo + hi))
            found.append(located)
        if all(len(f) == 1 for f in found):
            values = [f[0] for f in found]
            out.append((Threshold(c, float(np.median(values))), max(values) - min(values)))
    return out


def evaluate_pieces(q, center, half_width, degree, slots, values, coefficients) -> np.ndarray:
    """NumPy value of a piecewise Chebyshev polynomial ``[n]`` at ``q`` ``[n, k]``: piece 0
    everywhere plus piece p where ``q[:, slots[p-1]] >= values[p-1]`` (the layout of the
    geometry file's ``coefficient``, terms in :func:`_geometry_fit.exponents` order)."""

    base = chebyshev_features((q - center) / half_width, exponents(q.shape[1], degree))
    out = base @ coefficients[0, : base.shape[1]]
    for p, (k, v) in enumerate(zip(slots, values, strict=True), start=1):
        out = out + (q[:, k] >= v) * (base @ coefficients[p, : base.shape[1]])
    return out


def fit_correction(
    sampler, ds, muscle, coordinate, *, samples=3000, heldout=1000, seed=0
) -> ArmCorrection:
    """Fit Delta of one pair on ``samples`` random poses in the muscle's stated domain (a fifth
    for validation) and score it on ``heldout`` others."""

    inputs, box, regions = _domain_of(ds, muscle)
    i = [str(m) for m in ds["muscle"].values].index(muscle)
    k = len(inputs)
    center = ds["scale_center"].values[i, :k].astype(float)
    half = ds["scale_half_width"].values[i, :k].astype(float)
    steps = find_steps(sampler, muscle, coordinate, inputs, box, seed=seed)
    thresholds = [t for t, _ in steps]
    idx = [inputs.index(t.coordinate) for t in thresholds]
    val = [t.value for t in thresholds]
    rng = np.random.default_rng(seed + 1)
    train = _poses_in_domain(inputs, box, regions, samples, rng)
    test = _poses_in_domain(inputs, box, regions, heldout, rng)
    q_all = np.stack([train[c] for c in inputs], axis=1)
    y_all = _delta(sampler, muscle, coordinate, train)
    q_test = np.stack([test[c] for c in inputs], axis=1)
    y_test = _delta(sampler, muscle, coordinate, test)
    n_val = len(q_all) // 5
    keep = np.ones(len(q_all), dtype=bool)
    dropped = 0
    for _ in range(2):
        tr = np.flatnonzero(keep[n_val:]) + n_val
        va = np.flatnonzero(keep[:n_val])
        ((degree, coef, _),) = fit_muscle_group(
            q_all[tr],
            y_all[tr, None],
            q_all[va],
            y_all[va, None],
            center,
            half,
            thresholds,
            inputs,
            max_terms=MAX_TERMS,
        )
        pred = evaluate_pieces(q_all, center, half, degree, idx, val, coef)
        spikes = np.abs(pred - y_all) > SPIKE_RESIDUAL
        dropped = int(spikes.sum())
        keep = ~spikes
    pred = evaluate_pieces(q_test, center, half, degree, idx, val, coef)
    err = np.abs(pred - y_test)
    return ArmCorrection(
        muscle=muscle,
        coordinate=coordinate,
        inputs=inputs,
        center=center,
        half_width=half,
        degree=degree,
        thresholds=thresholds,
        coefficients=coef,
        heldout_rms=float(np.sqrt(np.mean(err**2))),
        heldout_p99=float(np.percentile(err, 99)),
        heldout_max=float(err.max()),
        uncorrected_rms=float(np.sqrt(np.mean(y_test**2))),
        uncorrected_max=float(np.abs(y_test).max()),
        heldout_n=len(y_test),
        spikes_dropped=dropped,
    )


def worth_keeping(fit: ArmCorrection) -> bool:
    """Whether a fitted correction holds (:data:`KEEP_RMS`)."""
    return fit.heldout_rms <= min(KEEP_RMS, 0.5 * fit.uncorrected_rms)


def fit_arm_conventions(
    osim_path, ds, *, muscles=None, samples=3000, heldout=1000, seed=0, log=print
) -> tuple[list[ArmCorrection], dict, list[ArmCorrection]]:
    """Screen every muscle of the fitted file ``ds`` (or ``muscles``) and fit a correction for
    each pair that needs one. Returns the kept corrections, the screening table and the
    rejected fits (see :data:`KEEP_RMS`)."""

    sampler = sampler_for_fitted(osim_path, ds)
    screen = screen_arm_conventions(sampler, ds, muscles=muscles, seed=seed)
    flagged = [pair for pair, (share, _, _) in screen.items() if share >= SCREEN_FRACTION]
    log(f"{len(screen)} pairs screened; {len(flagged)} need a correction: {flagged}")
    fits, rejected = [], []
    for m, c in flagged:
        fit = fit_correction(sampler, ds, m, c, samples=samples, heldout=heldout, seed=seed)
        keep = worth_keeping(fit)
        log(
            f"{m} / {c}: degree {fit.degree}, steps "
            f"{[round(math.degrees(t.value), 3) for t in fit.thresholds]} deg; held-out "
            f"|Delta| RMS {1e3 * fit.uncorrected_rms:.2f} mm -> fit error RMS "
            f"{1e3 * fit.heldout_rms:.3f} mm, p99 {1e3 * fit.heldout_p99:.2f} mm, max "
            f"{1e3 * fit.heldout_max:.2f} mm" + ("" if keep else " -- rejected, not stored")
        )
        (fits if keep else rejected).append(fit)
    return fits, screen, rejected


# --------------------------------------------------------------------------------------------
# File format.


# --------------------------------------------------------------------------------------------
# Command line.
