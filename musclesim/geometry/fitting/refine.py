"""Refine the excluded regions of a fitted geometry file so that they follow the erratic part.

The fitter (:func:`~.fit._exclude_erratic`) cuts out whole corners of two or
three coordinates where OpenSim's path flips around a wrap surface; such a corner is often much
larger than the flip itself, and measured poses where OpenSim's length is smooth (and the
surrogate accurate) fall inside it. :func:`refine_regions` subdivides each excluded box of a
muscle recursively (bisecting its longest side in units of the sampled range, down to a bounded
depth), tests every sub-box with random OpenSim poses against the surrogate of the same muscle,
and keeps as excluded only the deepest sub-boxes where some pose misses by more than a
tolerance (default :data:`~musclesim.geometry.fitting.fit.ERRATIC_RESIDUAL`, 1 mm). A sub-box is
returned to the domain only after a second, denser check (a number of poses proportional to its
volume, :data:`RECHECK_DENSITY` poses per domain volume, at least ``samples_per_leaf``) finds no
miss either. The dirty leaves are merged where they share a face and replace the muscle's
regions; the domain box, the polynomial and every other variable of the file stay unchanged.

Run with ``musclesim refine-domain MODEL.osim --into FITTED.nc --muscles ...`` (needs
OpenSim); what was done is recorded in ``domain_cuts`` and in ``fit_settings["refined"]``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from ...core.errors import InputError
from ..io import model_from_dataset
from ..path_io import path_muscles
from .fit import sampler_for_fitted

#: Default tolerance (m): a sub-box stays excluded when some pose misses by more than this.
DEFAULT_TOLERANCE = 1.0e-3
#: Poses per domain volume of the second check of a sub-box before it returns to the domain
#: (the validation's held-out check draws 2000 poses over the widest domain).
RECHECK_DENSITY = 100_000
#: Evaluation chunk (poses) of the surrogate, so that JAX compiles a few shapes only.
_CHUNK = 4096

Box = tuple[np.ndarray, np.ndarray]


def _split(lo: np.ndarray, hi: np.ndarray, scale: np.ndarray) -> tuple[Box, Box]:
    """Bisect the longest side, measured in units of ``scale`` (the sampled range)."""
    k = int(np.argmax((hi - lo) / scale))
    mid = 0.5 * (lo[k] + hi[k])
    hi_a, lo_b = hi.copy(), lo.copy()
    hi_a[k] = mid
    lo_b[k] = mid
    return (lo.copy(), hi_a), (lo_b, hi.copy())


def _contained(lo, hi, boxes: Sequence[Box]) -> bool:
    return any(np.all(a <= lo) and np.all(b >= hi) for a, b in boxes)


def refine_regions(
    error: Callable[[np.ndarray], np.ndarray],
    roots: Sequence[Box],
    scale: np.ndarray,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    samples_per_leaf: int = 64,
    depth: int = 12,
    recheck_density: float = RECHECK_DENSITY,
    domain_volume: float | None = None,
    within: Callable[[np.ndarray], np.ndarray] | None = None,
    seed: int = 0,
) -> tuple[list[Box], dict]:
    """Dirty leaves of the recursive subdivision of ``roots`` (boxes ``(lower, upper)``).

    ``error(q)`` gives ``|surrogate - OpenSim|`` (m) at the poses ``q`` ``[n, k]``. Breadth
    first: every box of a level gets ``samples_per_leaf`` uniform poses; a box with a miss
    (> ``tolerance``) is bisected (longest side in units of ``scale``) until ``depth``, where it
    is kept; a box without one gets the denser check (``recheck_density`` poses per
    ``domain_volume``, at least ``samples_per_leaf``) and is kept in the domain only when that
    finds no miss either (else it is treated as dirty). Roots inside an earlier root are
    skipped. With ``within`` (poses ``[n, k]`` -> bool ``[n]``), only the drawn poses inside it
    are tested (a box without any is clean). Returns the kept leaves and counts (poses drawn,
    boxes tested, leaves)."""
    scale = np.asarray(scale, dtype=float)
    rng = np.random.default_rng(seed)
    if domain_volume is None:
        domain_volume = float(np.prod(scale))
    distinct: list[Box] = []
    for lo, hi in roots:
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        if np.all(hi > lo) and not _contained(lo, hi, distinct):
            distinct.append((lo, hi))
    active = [(lo, hi, 0) for lo, hi in distinct]
    leaves: list[Box] = []
    stats = {"poses": 0, "boxes": 0, "rechecked": 0, "roots": len(distinct)}

    def worst(boxes, counts):
        if not boxes:
            return np.zeros(0)
        q = np.concatenate(
            [
                lo + rng.random((n, len(lo))) * (hi - lo)
                for (lo, hi), n in zip(boxes, counts, strict=True)
            ]
        )
        owner = np.repeat(np.arange(len(boxes)), counts)
        if within is not None:
            keep = np.asarray(within(q), dtype=bool)
            q, owner = q[keep], owner[keep]
        out = np.zeros(len(boxes))
        if len(q):
            np.maximum.at(out, owner, np.asarray(error(q)))
        stats["poses"] += len(q)
        return out

    while active:
        boxes = [(lo, hi) for lo, hi, _ in active]
        stats["boxes"] += len(boxes)
        dirty = worst(boxes, np.full(len(boxes), samples_per_leaf)) > tolerance
        clean = np.flatnonzero(~dirty)
        if clean.size:
            counts = np.array(
                [
                    max(
                        samples_per_leaf,
                        math.ceil(
                            recheck_density * np.prod(boxes[i][1] - boxes[i][0]) / domain_volume
                        ),
                    )
                    for i in clean
                ]
            )
            stats["rechecked"] += len(clean)
            dirty[clean] = worst([boxes[i] for i in clean], counts) > tolerance
        nxt = []
        for (lo, hi, d), bad in zip(active, dirty, strict=True):
            if not bad:
                continue
            if d >= depth:
                leaves.append((lo, hi))
            else:
                nxt.extend((a, b, d + 1) for a, b in _split(lo, hi, scale))
        active = nxt
    stats["leaves"] = len(leaves)
    return leaves, stats


def merge_boxes(boxes: Sequence[Box], *, decimals: int = 12) -> list[Box]:
    """Union-preserving merge: boxes that share a whole face are joined (repeated over every
    axis until nothing changes), then boxes inside another one are dropped."""
    out = [(np.asarray(a, dtype=float).copy(), np.asarray(b, dtype=float).copy()) for a, b in boxes]
    if not out:
        return out
    k = len(out[0][0])
    changed = True
    while changed:
        changed = False
        for axis in range(k):
            others = [j for j in range(k) if j != axis]
            groups: dict[tuple, list[int]] = {}
            for i, (a, b) in enumerate(out):
                key = tuple(np.round(a[others], decimals)) + tuple(np.round(b[others], decimals))
                groups.setdefault(key, []).append(i)
            merged: list[Box] = []
            for members in groups.values():
                members.sort(key=lambda i: out[i][0][axis])
                cur_lo, cur_hi = out[members[0]]
                cur_lo, cur_hi = cur_lo.copy(), cur_hi.copy()
                for i in members[1:]:
                    a, b = out[i]
                    if round(a[axis], decimals) <= round(cur_hi[axis], decimals):
                        if b[axis] > cur_hi[axis]:
                            cur_hi[axis] = b[axis]
                        changed = True
                    else:
                        merged.append((cur_lo, cur_hi))
                        cur_lo, cur_hi = a.copy(), b.copy()
                merged.append((cur_lo, cur_hi))
            out = merged
    kept = []
    for i, (a, b) in enumerate(out):
        if not any(
            j != i
            and np.all(c <= a)
            and np.all(d >= b)
            and (j < i or not (np.array_equal(c, a) and np.array_equal(d, b)))
            for j, (c, d) in enumerate(out)
        ):
            kept.append((a, b))
    return kept


# ------------------------------------------------------------------------------------------------
# The fitted file.


def _muscle_boxes(ds, i: int, *, whole_domain: bool = False):
    """The muscle's coordinates (indices), domain box, sampled range and its excluded regions
    clipped to the domain box (``whole_domain``: the domain box itself, for a muscle whose
    erratic poses lie outside its regions too)."""
    cols = [int(c) for c in ds["input_coordinate"].values[i] if c >= 0]
    dlo = ds["domain_lower"].values[i, cols].astype(float)
    dhi = ds["domain_upper"].values[i, cols].astype(float)
    scale = (ds["sampled_upper"].values[cols] - ds["sampled_lower"].values[cols]).astype(float)
    roots = []
    n = int(ds["excluded_count"].values[i]) if "excluded_count" in ds else 0
    if whole_domain:
        return cols, dlo, dhi, scale, [(dlo.copy(), dhi.copy())], n
    for r in range(n):
        a = ds["excluded_lower"].values[i, r, cols].astype(float)
        b = ds["excluded_upper"].values[i, r, cols].astype(float)
        a = np.where(np.isnan(a), dlo, np.maximum(a, dlo))
        b = np.where(np.isnan(b), dhi, np.minimum(b, dhi))
        if np.all(b > a):
            roots.append((a, b))
    return cols, dlo, dhi, scale, roots, n


def _error_function(sampler, model, muscle: str, names: Sequence[str]):
    sub = model.select([muscle])
    order = [names.index(c) for c in sub.coordinates]

    def error(q: np.ndarray) -> np.ndarray:
        ref = sampler.lengths({c: q[:, j] for j, c in enumerate(names)}, [muscle])[:, 0]
        out = np.empty(len(q))
        for a in range(0, len(q), _CHUNK):
            chunk = q[a : a + _CHUNK]
            pad = np.zeros((_CHUNK, len(names)))
            pad[: len(chunk)] = chunk
            pad[len(chunk) :] = chunk[0]
            qd = {c: jnp.asarray(pad[:, j]) for c, j in zip(sub.coordinates, order, strict=True)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # poses inside excluded regions, on purpose
                sur = np.asarray(sub.mtu_length(qd))[:, 0]
            out[a : a + len(chunk)] = sur[: len(chunk)]
        return np.abs(out - ref)

    return error


def refine_dataset(
    osim_path,
    ds,
    muscles: Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    samples_per_leaf: int = 64,
    depth: int = 12,
    recheck_density: float = RECHECK_DENSITY,
    seed: int = 0,
    whole_domain: Sequence[str] = (),
    one_grid: bool = True,
    log: Callable[[str], None] = print,
):
    """A copy of the fitted dataset ``ds`` whose ``muscles`` have refined excluded regions
    (only ``excluded_lower/upper/count``, ``domain_cuts`` and ``fit_settings`` change). The
    muscles in ``whole_domain`` are subdivided from their whole domain box instead of their
    excluded regions (their new regions may then cover poses the old ones did not). The random
    poses of the muscle at index ``i`` of the file use the seed ``seed + i``. ``one_grid``:
    subdivide the bounding box of a muscle's regions once, testing only poses inside the
    regions (one dyadic grid, so that leaves of overlapping regions coincide and merge), instead
    of each region on its own grid; a dirty leaf is then clipped to the old regions, so the
    new regions lie inside the old ones."""

    all_muscles = [str(m) for m in ds["muscle"].values]
    unknown = [m for m in muscles if m not in all_muscles]
    if unknown:
        raise InputError(f"unknown muscle(s) {unknown}", field="muscles", expected=all_muscles)
    exact = [m for m in muscles if m in path_muscles(ds)]
    if exact:
        raise InputError(
            f"muscle(s) {exact} are evaluated from their exact path, which has no excluded regions",
            field="--muscles",
            expected="muscles evaluated from their polynomial",
        )
    sampler = sampler_for_fitted(osim_path, ds)
    model = model_from_dataset(ds)
    coordinates = [str(c) for c in ds["coordinate"].values]
    new_regions: dict[int, list[Box]] = {}
    cols_of: dict[int, list[int]] = {}
    records = {}
    for muscle in muscles:
        t0 = time.perf_counter()
        i = all_muscles.index(muscle)
        cols, dlo, dhi, scale, roots, n_before = _muscle_boxes(
            ds, i, whole_domain=muscle in whole_domain
        )
        old = _muscle_boxes(ds, i)[4]
        names = [coordinates[c] for c in cols]
        error = _error_function(sampler, model, muscle, names)
        within = None
        if one_grid and muscle not in whole_domain and roots:
            within = _member_function(roots)
            roots = [(np.min([a for a, _ in roots], 0), np.max([b for _, b in roots], 0))]
        leaves, stats = refine_regions(
            error,
            roots,
            scale,
            tolerance=tolerance,
            samples_per_leaf=samples_per_leaf,
            depth=depth,
            recheck_density=recheck_density,
            domain_volume=float(np.prod(dhi - dlo)),
            within=within,
            seed=seed + i,
        )
        if within is not None:
            leaves = _clip_to(leaves, old)
        merged = merge_boxes(leaves)
        share_before = _union_share(old, dlo, dhi, seed)
        share_after = _union_share(merged, dlo, dhi, seed)
        new_regions[i] = [_unbound(a, b, dlo, dhi) for a, b in merged]
        cols_of[i] = cols
        records[muscle] = {
            "regions_before": n_before,
            "whole_domain": muscle in whole_domain,
            "regions_after": len(merged),
            "excluded_share_before": round(share_before, 4),
            "excluded_share_after": round(share_after, 4),
            **stats,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        log(
            f"{muscle}: {n_before} regions ({100 * share_before:.1f} % of the domain box) -> "
            f"{len(leaves)} dirty leaves, {len(merged)} regions ({100 * share_after:.1f} %); "
            f"{stats['poses']} OpenSim poses, {records[muscle]['seconds']} s"
        )
    settings = {
        "muscles": list(muscles),
        "tolerance_m": tolerance,
        "samples_per_leaf": samples_per_leaf,
        "depth": depth,
        "recheck_density": recheck_density,
        "seed": seed,
        "whole_domain": list(whole_domain),
        "grid": "one per muscle" if one_grid else "one per region",
        "per_muscle": records,
    }
    return _write_regions(ds, new_regions, cols_of, settings)


def _clip_to(leaves: Sequence[Box], regions: Sequence[Box]) -> list[Box]:
    """Each leaf intersected with each region it overlaps."""
    out: list[Box] = []
    for a, b in leaves:
        for ra, rb in regions:
            lo, hi = np.maximum(a, ra), np.minimum(b, rb)
            if np.all(hi > lo):
                out.append((lo, hi))
    return out


def _member_function(boxes: Sequence[Box]):
    def member(q: np.ndarray) -> np.ndarray:
        hit = np.zeros(len(q), dtype=bool)
        for a, b in boxes:
            hit |= np.all((q >= a) & (q <= b), axis=1)
        return hit

    return member


def _union_share(boxes: Sequence[Box], dlo, dhi, seed: int, n: int = 20000) -> float:
    """Share of the domain box covered by the union of ``boxes`` (Monte Carlo)."""
    q = dlo + np.random.default_rng(seed).random((n, len(dlo))) * (dhi - dlo)
    hit = np.zeros(n, dtype=bool)
    for a, b in boxes:
        hit |= np.all((q >= a) & (q <= b), axis=1)
    return float(hit.mean())


def _unbound(a, b, dlo, dhi) -> Box:
    """Sides on the domain box's faces become unbounded (NaN), as the fitter's corners."""
    a = np.where(a <= dlo, np.nan, a)
    b = np.where(b >= dhi, np.nan, b)
    return a, b


def _write_regions(ds, new_regions: dict[int, list[Box]], cols_of: dict[int, list[int]], settings):
    out = ds.copy()
    n_m, n_c = ds.sizes["muscle"], ds.sizes["coordinate"]
    count = (
        ds["excluded_count"].values.astype(int).copy()
        if "excluded_count" in ds
        else np.zeros(n_m, dtype=int)
    )
    for i, regions in new_regions.items():
        count[i] = len(regions)
    n_regions = int(count.max()) if count.size else 0
    lo = np.full((n_m, n_regions, n_c), np.nan)
    hi = np.full((n_m, n_regions, n_c), np.nan)
    for i in range(n_m):
        if i in new_regions:
            for r, (a, b) in enumerate(new_regions[i]):
                lo[i, r, cols_of[i]] = a
                hi[i, r, cols_of[i]] = b
        elif count[i]:
            lo[i, : count[i]] = ds["excluded_lower"].values[i, : count[i]]
            hi[i, : count[i]] = ds["excluded_upper"].values[i, : count[i]]
    attrs = {
        k: dict(ds[k].attrs) if k in ds else {}
        for k in ("excluded_lower", "excluded_upper", "excluded_count")
    }
    out = out.drop_vars([k for k in attrs if k in out])
    if "region" in out.dims:
        out = out.drop_dims("region")
    out["excluded_count"] = (("muscle",), count, attrs["excluded_count"])
    out["excluded_lower"] = (("muscle", "region", "coordinate"), lo, attrs["excluded_lower"])
    out["excluded_upper"] = (("muscle", "region", "coordinate"), hi, attrs["excluded_upper"])
    cuts = [str(c) for c in ds["domain_cuts"].values]
    muscles = [str(m) for m in ds["muscle"].values]
    for i in new_regions:
        rec = settings["per_muscle"][muscles[i]]
        cuts[i] = (
            f"{cuts[i]}; refined (musclesim refine-domain, tolerance "
            f"{settings['tolerance_m'] * 1e3:g} mm, {settings['samples_per_leaf']} poses per "
            f"box, depth {settings['depth']}, seed {settings['seed']}): "
            f"{rec['regions_before']} regions ({100 * rec['excluded_share_before']:.1f} % of the "
            f"domain box) -> {rec['regions_after']} ({100 * rec['excluded_share_after']:.1f} %)"
        )
    out["domain_cuts"] = (("muscle",), np.array(cuts, dtype=object), dict(ds["domain_cuts"].attrs))
    fit_settings = json.loads(ds.attrs.get("fit_settings", "{}"))
    fit_settings.setdefault("refined", []).append(settings)
    out.attrs["fit_settings"] = json.dumps(fit_settings)
    return out


# ------------------------------------------------------------------------------------------------
# Command line.


__all__ = ["merge_boxes", "refine_dataset", "refine_regions"]
