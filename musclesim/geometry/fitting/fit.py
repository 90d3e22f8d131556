"""Fitting musculotendon-length surrogates from an OpenSim model (needs OpenSim 4.6).

The fit, stage by stage (:func:`fit_geometry`):

1. **Structure from the file** (no OpenSim): conditional path points and their coordinate
   ranges (:func:`conditional_thresholds`), read with the defused XML parser.
2. **OpenSim sampler** (:class:`OpenSimSampler`): every coordinate unlocked, coupled coordinates
   (e.g. the patellofemoral ``knee_angle_r_beta``) set from their ``CoordinateCouplerConstraint``
   function, then ``realizePosition`` and ``Muscle.getLength`` -- the method of
   ``../shared/data/SOURCES.md`` section 3.2.
3. **Which coordinates each muscle crosses** (:func:`detect_dependencies`): a coordinate counts
   when perturbing it by 0.05 rad changes the length by more than 1 um at any of a few random
   poses.
4. **Sampling box** (:func:`sampling_box`): the model's own coordinate range, intersected with
   :data:`PHYSIOLOGICAL_CAP_DEG` (gait2392/Hamner models allow +-120 deg of hip adduction and
   rotation, where wrapping-free straight-line paths pass through bone and no measured motion
   goes); with ``box="physiological"`` the cap alone, for generic models whose advisory range
   ends short of measured motion (:data:`SAMPLING_BOXES`). Locked coordinates are held at
   their default value.
5. **Poses**: a scrambled Sobol sequence over the box, half mapped uniformly and half with the
   Chebyshev (arcsine) density that suits polynomial least squares; an independent uniform
   random set is the held-out test.
6. **Surrogate per muscle** (:func:`fit_muscle_group`): a total-degree tensor Chebyshev
   polynomial in the muscle's own coordinates, each scaled to [-1, 1] on the box, degree picked
   by the error on a validation split. Conditional path points make the length jump at
   thresholds read from the file; the fit is then piecewise: ``L = P_0(x) + sum_k
   H(s_k (q_c - theta_k)) P_k(x)`` with one extra polynomial per threshold inside the box.
7. **Kinks and jumps**: a muscle whose held-out maximum error exceeds :data:`KINK_RETRY_MAX`
   is refitted with extra pieces where its length kinks or jumps along one-coordinate sweeps
   (wrap contact changes, e.g. the sprinter's vasti at 128 deg knee flexion, its medial
   gastrocnemius jumping 14 mm at 154.662 deg); the better fit is kept. A jump in value is
   located by bisection (to 1e-9 rad) and kept as a fixed threshold where its location does
   not move with the other coordinates; a kink found again at a threshold read from the file
   is not added twice. A concave kink whose location moves with the other coordinates
   (:func:`_moving_kink`, located along sweeps at random poses; the sprinter's rectus femoris)
   is also tried as ``A + H(q_c >= theta) min(0, D)``: training poses are put on their side of
   the kink by the slope of OpenSim's length there, ``A`` is fitted on the near side and
   ``A + D`` on the far side together, and the degree is picked on the evaluated form.
   **Erratic regions**: where the held-out error still exceeds the tolerance, poses the smooth
   fit misses by more than 1 mm are marked erratic and removed greedily, either as a 2.5 % slab
   off one side of the box or as a corner region of two coordinates (e.g. gluteus maximus at
   high adduction with internal rotation) or, for muscles of three or more coordinates, of
   three (e.g. the sprinter's psoas only where hip extension meets adduction and rotation),
   whichever removes the largest share of erratic poses; the muscle is refitted on what is
   left, and the shrunk box and the excluded corners are recorded as its stated domain. Of
   the fits with and without kink pieces, the one meeting the tolerance on the most held-out
   poses is kept.
   :func:`merge_geometry` puts a refit of some muscles into an existing file.
8. **Reference lengths** at the upright pose (every hip, knee and ankle angle 0, SOURCES.md 3.2),
   muscle parameters (:meth:`MuscleParameters.from_osim`), the error report and the source's
   sha256 go into one ``xarray.Dataset`` (:func:`fit_geometry`), written by
   :func:`write_geometry`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.linalg
from scipy.stats import qmc
from tqdm import tqdm

from ...core.errors import InputError, OpenSimMissingError
from ...core.io import sha256_file
from ...muscle.parameters import MuscleParameters
from ...osim import xml as _osim
from ..corrections_io import carry_corrections
from ..io import fits_from_dataset, fits_to_dataset
from ..model import PIECE_MIN
from ..path_io import carry_paths
from ..records import (
    DEFAULT_CAP_DEG,
    HELDOUT_MAX_TOL,
    HELDOUT_RMS_TOL,
    PHYSIOLOGICAL_CAP_DEG,
    CoordinateRecord,
    MuscleFit,
    Threshold,
    exponents,
)

#: Prefixes of the coordinates whose muscles are fitted ("crossing the hip, knee or ankle").
LEG_PREFIXES = ("hip_", "knee_angle", "ankle_angle", "subtalar_angle", "mtp_angle")


def _require_opensim():
    try:
        import opensim
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise OpenSimMissingError("fitting geometry") from exc
    opensim.Logger.removeFileSink()
    opensim.Logger.setLevelString("error")
    return opensim


def coordinate_base(name: str) -> str:
    """``hip_flexion_r`` -> ``hip_flexion``; ``knee_angle_l`` -> ``knee_angle``."""
    for suffix in ("_r", "_l"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_leg_coordinate(name: str) -> bool:
    return name.startswith(LEG_PREFIXES) and not name.endswith("_beta")


# ------------------------------------------------------------------------------------------------
# 1. Structure read from the file (no OpenSim).


def conditional_ranges(path: str | Path) -> dict[str, list[tuple[str, float, float]]]:
    """Conditional path points per muscle: ``{muscle: [(coordinate, lower, upper), ...]}``
    (radians), read from the ``.osim`` file."""
    root = _osim.parse_osim(path)
    out: dict[str, list[tuple[str, float, float]]] = {}
    for name, element in _osim.muscle_elements(root).items():
        rows = []
        for point in element.iter("ConditionalPathPoint"):
            coord = _osim.child_text(point, "socket_coordinate") or _osim.child_text(
                point, "coordinate"
            )
            rng = _osim.child_text(point, "range")
            if coord is None or rng is None:
                raise InputError(
                    "conditional path point without coordinate or range",
                    path=path,
                    field=f"{name}/ConditionalPathPoint",
                    expected="<socket_coordinate> and <range>",
                )
            lo, hi = (float(v) for v in rng.split())
            rows.append((coord.rsplit("/", 1)[-1], lo, hi))
        if rows:
            out[name] = rows
    return out


def conditional_thresholds(
    path: str | Path, box: dict[str, tuple[float, float]]
) -> dict[str, list[Threshold]]:
    """Threshold values strictly inside the sampled ``box`` for each muscle (deduplicated)."""
    out: dict[str, list[Threshold]] = {}
    for muscle, rows in conditional_ranges(path).items():
        seen: list[Threshold] = []
        for coord, lo, hi in rows:
            if coord not in box:
                continue
            blo, bhi = box[coord]
            for v in (lo, hi):
                if blo + 1e-9 < v < bhi - 1e-9 and all(
                    t.coordinate != coord or abs(t.value - v) > 1e-9 for t in seen
                ):
                    seen.append(Threshold(coord, v))
        if seen:
            out[muscle] = seen
    return out


# ------------------------------------------------------------------------------------------------
# 2. OpenSim sampler.


class OpenSimSampler:
    """Musculotendon lengths from OpenSim at given poses.

    Every coordinate is unlocked; a coordinate left out of a call keeps its default value (the
    locked value for locked coordinates); coupled coordinates follow their coupler function.
    """

    def __init__(self, path: str | Path):
        osim = _require_opensim()
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("file not found", path=path, expected="an OpenSim .osim model")
        self._osim = osim
        self.model = osim.Model(str(self.path))
        self.state = self.model.initSystem()
        cs = self.model.getCoordinateSet()
        self._coords = {cs.get(i).getName(): cs.get(i) for i in range(cs.getSize())}
        self.coordinates: dict[str, CoordinateRecord] = {}
        for name, c in self._coords.items():
            joint = c.getJoint()
            parent = joint.getParentFrame().findBaseFrame().getName()
            self.coordinates[name] = CoordinateRecord(
                name=name,
                lower=c.getRangeMin(),
                upper=c.getRangeMax(),
                default=c.getDefaultValue(),
                locked=bool(c.getDefaultLocked()),
                rotational=c.getMotionType() == osim.Coordinate.Rotational,
                dependent=bool(c.isDependent(self.state)),
                on_ground_joint=parent == "ground",
            )
        for c in self._coords.values():
            c.setLocked(self.state, False)
        self.couplers = []
        constraints = self.model.getConstraintSet()
        for i in range(constraints.getSize()):
            cc = osim.CoordinateCouplerConstraint.safeDownCast(constraints.get(i))
            if cc is None or not cc.isEnforced(self.state):
                continue
            names = cc.getIndependentCoordinateNames()
            indep = [names.get(k) for k in range(names.getSize())]
            scale = float(cc.getPropertyByName("scale_factor").toString())
            self.couplers.append((cc.getDependentCoordinateName(), indep, cc.getFunction(), scale))
        ms = self.model.getMuscles()
        self.muscles = [ms.get(i).getName() for i in range(ms.getSize())]
        self._muscles = [ms.get(i) for i in range(ms.getSize())]
        self._defaults = {n: r.default for n, r in self.coordinates.items()}

    def _set_pose(self, values: dict[str, float]) -> None:
        s = self.state
        for name, value in values.items():
            self._coords[name].setValue(s, float(value), False)
        for dep, indep, function, scale in self.couplers:
            x = self._osim.Vector(len(indep), 0.0)
            for k, n in enumerate(indep):
                x.set(k, self._coords[n].getValue(s))
            self._coords[dep].setValue(s, scale * function.calcValue(x), False)

    def reset(self) -> None:
        """Every coordinate back to its default value."""
        self._set_pose(self._defaults)

    def lengths(
        self,
        poses: dict[str, np.ndarray],
        muscles: Sequence[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Lengths (m), shape ``[n, muscle]``; ``poses`` maps coordinate names to ``[n]`` arrays
        in radians (metres for translations). Other coordinates stay at their defaults."""
        index = {m: i for i, m in enumerate(self.muscles)}
        chosen = [self._muscles[index[m]] for m in (muscles or self.muscles)]
        names = list(poses)
        cols = np.stack([np.asarray(poses[n], dtype=float) for n in names], axis=1)
        self.reset()
        out = np.empty((cols.shape[0], len(chosen)))
        s = self.state
        for i, row in enumerate(cols):
            self._set_pose(dict(zip(names, row, strict=True)))
            self.model.realizePosition(s)
            out[i] = [m.getLength(s) for m in chosen]
            if progress is not None and (i + 1) % 500 == 0:
                progress(500)
        if progress is not None:
            progress(cols.shape[0] % 500)
        self.reset()
        return out

    def moment_arms(
        self, poses: dict[str, np.ndarray], muscles: Sequence[str], coordinates: Sequence[str]
    ) -> np.ndarray:
        """OpenSim's ``computeMomentArm`` (m), shape ``[n, muscle, coordinate]``."""
        index = {m: i for i, m in enumerate(self.muscles)}
        chosen = [self._muscles[index[m]] for m in muscles]
        names = list(poses)
        cols = np.stack([np.asarray(poses[n], dtype=float) for n in names], axis=1)
        self.reset()
        out = np.empty((cols.shape[0], len(chosen), len(coordinates)))
        s = self.state
        for i, row in enumerate(cols):
            self._set_pose(dict(zip(names, row, strict=True)))
            self.model.realizePosition(s)
            for j, m in enumerate(chosen):
                for k, c in enumerate(coordinates):
                    out[i, j, k] = m.computeMomentArm(s, self._coords[c])
        self.reset()
        return out

    def lengths_and_moment_arms(
        self, poses: dict[str, np.ndarray], crossed: Mapping[str, Sequence[str]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Lengths (m, ``[n, muscle]``) of the muscles ``crossed`` names and, per muscle,
        ``computeMomentArm`` (m, ``[n, len(crossed[muscle])]``) about each coordinate it
        crosses: what the surrogate's ``mtu_length_and_moment_arm`` gives, from one
        ``realizePosition`` per pose."""
        index = {m: i for i, m in enumerate(self.muscles)}
        chosen = [
            (self._muscles[index[m]], [self._coords[c] for c in cs]) for m, cs in crossed.items()
        ]
        names = list(poses)
        cols = np.stack([np.asarray(poses[n], dtype=float) for n in names], axis=1)
        self.reset()
        lengths = np.empty((cols.shape[0], len(chosen)))
        arms = [np.empty((cols.shape[0], len(cs))) for _, cs in chosen]
        s = self.state
        for i, row in enumerate(cols):
            self._set_pose(dict(zip(names, row, strict=True)))
            self.model.realizePosition(s)
            for j, (m, coordinates) in enumerate(chosen):
                lengths[i, j] = m.getLength(s)
                for k, c in enumerate(coordinates):
                    arms[j][i, k] = m.computeMomentArm(s, c)
        self.reset()
        return lengths, arms


def sampler_for_fitted(osim_path, ds) -> OpenSimSampler:
    """An :class:`OpenSimSampler` of ``osim_path``, refused unless it is the model the fitted
    dataset ``ds`` came from (sha256)."""
    path = Path(osim_path)
    if sha256_file(path) != ds.attrs["source_sha256"]:
        raise InputError(
            f"{path.name} is not the model the geometry was fitted from",
            path=path,
            expected=f"sha256 {ds.attrs['source_sha256']} ({ds.attrs['source_file']})",
        )
    return OpenSimSampler(path)


# ------------------------------------------------------------------------------------------------
# 3.-4. Dependencies and the sampling box.


def knee_flexion_sign(record: CoordinateRecord) -> int:
    """+1 when the model's knee coordinate is positive in flexion, -1 when negative.

    Read from the model's range: flexion is the direction in which the range extends further
    from zero (Rajagopal/Lai/Sprinter 0..120-160 deg -> +1; gait2392/Hamner -120..10 deg -> -1).
    """
    return 1 if abs(record.upper) >= abs(record.lower) else -1


#: The sampling boxes :func:`sampling_box` knows: ``"model"`` is the ``.osim``'s own coordinate
#: range intersected with :data:`PHYSIOLOGICAL_CAP_DEG`; ``"physiological"`` is that cap alone,
#: whatever the model's range. A model's range is advisory (OpenSim evaluates any pose), and a
#: generic model's can end short of measured sprinting: ``Rajagopal2016.osim`` stops at 120 deg
#: of knee flexion and -30 deg of hip flexion, where the four Dorn 2012 sprints of
#: ../shared/data (SOURCES.md 2.2) reach 152 deg and -38 deg. The cap covers every shared
#: measured trial: knee 0.9..152.0 deg, hip flexion -38.3..82.6, adduction -15.2..18.2,
#: rotation -30.9..9.3, ankle -36.9..30.6, subtalar -33.3..10.6, mtp -56.7..37.3 deg over the
#: four sprints, both legs (``read_motion`` of run0350/0500/0700/0900cms.mot).
SAMPLING_BOXES = ("model", "physiological")


def sampling_box(
    coordinates: dict[str, CoordinateRecord],
    names: Sequence[str],
    *,
    box: str = "model",
) -> dict[str, tuple[float, float]]:
    """The range each coordinate is sampled over (radians): with ``box="model"`` the model's
    range intersected with :data:`PHYSIOLOGICAL_CAP_DEG`, with ``box="physiological"`` the cap
    itself (see :data:`SAMPLING_BOXES`). The knee cap is in flexion, its sign read from the
    model (:func:`knee_flexion_sign`)."""
    if box not in SAMPLING_BOXES:
        raise InputError(
            f"unknown sampling box {box!r}", field="--box", expected=f"one of {SAMPLING_BOXES}"
        )
    out = {}
    for name in names:
        rec = coordinates[name]
        base = coordinate_base(name)
        if base == "knee_angle":
            lo_deg, hi_deg = PHYSIOLOGICAL_CAP_DEG["knee_flexion"]
            if knee_flexion_sign(rec) < 0:
                lo_deg, hi_deg = -hi_deg, -lo_deg
        else:
            lo_deg, hi_deg = PHYSIOLOGICAL_CAP_DEG.get(base, DEFAULT_CAP_DEG)
        lo, hi = math.radians(lo_deg), math.radians(hi_deg)
        if box == "model":
            lo, hi = max(rec.lower, lo), min(rec.upper, hi)
        if not hi > lo:
            raise InputError(
                f"empty sampling range [{lo}, {hi}] rad",
                field=name,
                expected="a coordinate range overlapping the physiological cap",
            )
        out[name] = (lo, hi)
    return out


def detect_dependencies(
    sampler: OpenSimSampler,
    muscles: Sequence[str],
    candidates: Sequence[str],
    box: dict[str, tuple[float, float]],
    *,
    n_poses: int = 8,
    step: float = 0.05,
    tol: float = 1e-6,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Coordinates (in ``candidates`` order) whose 0.05 rad perturbation changes each muscle's
    length by more than 1 um at any of ``n_poses`` random poses inside ``box``."""
    rng = np.random.default_rng(seed)
    base = {c: rng.uniform(*box[c], size=n_poses) for c in candidates}
    ref = sampler.lengths(base, muscles)
    changed = np.zeros((len(muscles), len(candidates)), dtype=bool)
    for j, c in enumerate(candidates):
        lo, hi = box[c]
        moved = dict(base)
        # Step towards the middle of the box so the perturbed pose stays inside it.
        mid = 0.5 * (lo + hi)
        moved[c] = base[c] + np.where(base[c] < mid, step, -step)
        changed[:, j] = np.any(np.abs(sampler.lengths(moved, muscles) - ref) > tol, axis=0)
    return {
        m: [c for j, c in enumerate(candidates) if changed[i, j]] for i, m in enumerate(muscles)
    }


# ------------------------------------------------------------------------------------------------
# 5.-6. Polynomial basis and least squares.


def chebyshev_features(x: np.ndarray, exps: np.ndarray) -> np.ndarray:
    """Tensor Chebyshev features ``prod_k T_{e_k}(x_k)``; ``x`` is ``[n, k]`` in [-1, 1]."""
    degree = int(exps.max()) if exps.size else 0
    t = np.empty((degree + 1,) + x.shape)
    t[0] = 1.0
    if degree >= 1:
        t[1] = x
    for d in range(2, degree + 1):
        t[d] = 2.0 * x * t[d - 1] - t[d - 2]
    feats = np.ones((x.shape[0], exps.shape[0]))
    for k in range(x.shape[1]):
        feats *= t[exps[:, k], :, k].T
    return feats


def extra_piece_degree(n_vars: int, degree: int) -> int:
    """Degree of the correction polynomial of each threshold piece: the largest with at most
    :data:`EXTRA_PIECE_TERMS` terms (and at most 12, and at most the base degree). A piece often
    holds few samples (e.g. knee flexion beyond a kink at 155 deg), so its polynomial is kept
    small; the difference between two paths across a threshold is smooth."""
    d = 0
    while d < min(12, degree) and math.comb(d + 1 + n_vars, n_vars) <= EXTRA_PIECE_TERMS:
        d += 1
    return d


#: Ridge weight: sqrt(lambda) = RIDGE_SCALE sqrt(n) in metres per unit coefficient. With
#: n = 12 800 training poses a coefficient vector of norm 1 costs as much as a 1e-7 m RMS
#: misfit, so accuracy is unaffected while coefficients of 1e4 and more (cancellation, rounding
#: noise of 1e-8 m in the lengths) are suppressed.
RIDGE_SCALE = 1e-7
#: Largest number of terms in the polynomial of each threshold piece (4 variables, degree 5).
EXTRA_PIECE_TERMS = 126


def fit_muscle_group(
    q_train: np.ndarray,
    y_train: np.ndarray,
    q_val: np.ndarray,
    y_val: np.ndarray,
    center: np.ndarray,
    half_width: np.ndarray,
    thresholds: list[Threshold],
    coordinate_names: Sequence[str],
    *,
    max_terms: int = 800,
    max_degree: int = 60,
    min_rows_per_unknown: float = 6.0,
    sides: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> list[tuple[int, np.ndarray, float]]:
    """Least-squares fits of muscles sharing one coordinate set and threshold list, at every
    degree up to the largest the samples allow; returns ``(degree, coefficients[piece, term],
    validation_rms)`` per muscle at the degree with the lowest validation RMS.

    ``sides`` gives, per threshold, ``None`` (the piece is on where ``q >= theta``) or the
    boolean ``(train, validation)`` rows on the far side of a moving kink (a
    :data:`~musclesim.geometry.model.PIECE_MIN` piece): ``L = A`` on the near side and ``A + D`` on
    the far side are fitted together, so ``D`` is the piece whose ``min(0, D)`` is evaluated.

    The threshold pieces have the fixed degree of :func:`extra_piece_degree` (their unused
    coefficients are stored as zeros). One QR factorisation serves every base degree: the
    threshold-piece columns come first, then the base terms in graded order, so the design of
    base degree d is a column prefix and its solution is ``R[:p, :p]^-1 (Q^T y)[:p]``.
    """
    n_vars = q_train.shape[1]
    th_idx = [list(coordinate_names).index(t.coordinate) for t in thresholds]
    th_val = [t.value for t in thresholds]
    n_extra = len(thresholds)
    top = 0
    for degree in range(1, max_degree + 1):
        n_terms = math.comb(degree + n_vars, n_vars)
        n_e = math.comb(extra_piece_degree(n_vars, degree) + n_vars, n_vars) * n_extra
        if n_terms > max_terms or (n_terms + n_e) * min_rows_per_unknown > q_train.shape[0]:
            break
        top = degree
    top = max(top, 1)
    exps = exponents(n_vars, top)
    d_extra = extra_piece_degree(n_vars, top)
    n_te = math.comb(d_extra + n_vars, n_vars)

    sides = list(sides) if sides is not None else [None] * n_extra

    def design(q, which):
        base = chebyshev_features((q - center) / half_width, exps)
        extra = [
            base[:, :n_te] * (q[:, k : k + 1] >= v if side is None else side[which][:, None])
            for k, v, side in zip(th_idx, th_val, sides, strict=True)
        ]
        return np.concatenate([*extra, base], axis=1)

    a_tr = design(q_train, 0)
    a_va = design(q_val, 1)
    # Ridge rows sqrt(lambda) I keep the coefficients small where a piece covers a small part
    # of the box (a polynomial restricted to a sub-interval is ill-conditioned); identity rows
    # leave the prefix property intact.
    n_cols = a_tr.shape[1]
    ridge = RIDGE_SCALE * math.sqrt(len(q_train))
    a_aug = np.concatenate([a_tr, ridge * np.eye(n_cols)], axis=0)
    y_aug = np.concatenate([y_train, np.zeros((n_cols, y_train.shape[1]))], axis=0)
    qmat, rmat = np.linalg.qr(a_aug)
    qty = qmat.T @ y_aug
    del qmat

    lead = n_te * n_extra
    best: list[tuple[int, np.ndarray, float]] = [(0, np.zeros((1, 1)), math.inf)] * y_train.shape[1]
    for degree in range(1, top + 1):
        n_t = math.comb(degree + n_vars, n_vars)
        if n_extra and degree < d_extra:
            continue  # the base must span at least the pieces' terms
        p = lead + n_t
        coef = scipy.linalg.solve_triangular(rmat[:p, :p], qty[:p], check_finite=False)
        if any(t.kind == PIECE_MIN for t in thresholds):
            # Score the form that is evaluated, min(0, D) above the threshold, not the fit's
            # split of the rows: a D that changes sign on the wrong side of the kink misses.
            pred = a_va[:, lead:p] @ coef[lead:]
            for e, t in enumerate(thresholds):
                piece = a_va[:, lead : lead + n_te] @ coef[e * n_te : (e + 1) * n_te]
                if t.kind == PIECE_MIN:
                    piece = np.minimum(piece, 0.0)
                pred += np.where(q_val[:, th_idx[e], None] >= th_val[e], piece, 0.0)
        else:
            pred = a_va[:, :p] @ coef
        rms = np.sqrt(np.mean((pred - y_val) ** 2, axis=0))
        for j in range(y_train.shape[1]):
            if rms[j] < best[j][2]:
                c = np.zeros((1 + n_extra, n_t))
                c[0] = coef[lead:, j]
                for e in range(n_extra):
                    c[1 + e, :n_te] = coef[e * n_te : (e + 1) * n_te, j]
                best[j] = (degree, c, float(rms[j]))
    return best


def evaluate_fit(fit: MuscleFit, q: np.ndarray) -> np.ndarray:
    """NumPy evaluation of one :class:`MuscleFit` at ``q`` (``[n, len(fit.coordinates)]``)."""
    exps = exponents(len(fit.coordinates), fit.degree)
    base = chebyshev_features((q - fit.center) / fit.half_width, exps)
    out = base @ fit.coefficients[0]
    for p, t in enumerate(fit.thresholds, start=1):
        piece = base @ fit.coefficients[p]
        if t.kind == PIECE_MIN:
            piece = np.minimum(piece, 0.0)
        out = out + np.where(q[:, fit.coordinates.index(t.coordinate)] >= t.value, piece, 0.0)
    return out


# ------------------------------------------------------------------------------------------------
# The whole fit.


def _sobol_poses(box, names, n, seed, *, chebyshev_fraction=0.5):
    m = int(math.ceil(math.log2(max(n, 2))))
    u = qmc.Sobol(d=len(names), scramble=True, seed=seed).random_base2(m)[:n]
    n_cheb = int(round(n * chebyshev_fraction))
    u[:n_cheb] = 0.5 - 0.5 * np.cos(np.pi * u[:n_cheb])
    return {c: box[c][0] + u[:, k] * (box[c][1] - box[c][0]) for k, c in enumerate(names)}


def _uniform_poses(box, names, n, seed):
    rng = np.random.default_rng(seed)
    return {c: rng.uniform(*box[c], size=n) for c in names}


def fit_geometry(
    path: str | Path,
    name: str,
    *,
    muscles: Sequence[str] | None = None,
    n_samples: int = 16000,
    n_heldout: int = 4000,
    max_terms: int = 800,
    seed: int = 0,
    box: str = "model",
    progress: bool = True,
    log: Callable[[str], None] | None = print,
):
    """Fit length surrogates for every muscle crossing the hip, knee or ankle (or ``muscles``)
    of an OpenSim model; return the model ``xarray.Dataset`` (see :mod:`musclesim.geometry.model`).

    Args:
        path: the ``.osim`` file.
        name: the model name stored in the file (e.g. ``"sprinter_ja1"``).
        muscles: muscle names to fit; default every muscle whose length depends on a hip, knee,
            ankle, subtalar or mtp coordinate.
        n_samples: training + validation poses (Sobol); ``n_heldout`` uniform random test poses.
        seed: seed of both pose sets.
        box: the sampling box (:data:`SAMPLING_BOXES`): ``"model"``, the model's range within
            the physiological cap, or ``"physiological"``, the cap whatever the model's range
            (for generic models whose advisory range ends short of measured motion). Recorded
            in ``fit_settings`` with its ranges in degrees.
        max_terms: largest number of terms of a muscle's base polynomial (800: degree 9 in
            four coordinates, 14 in three); the degree is still chosen on validation data and
            needs six training poses per unknown.
    """
    t_start = time.perf_counter()
    say = log or (lambda s: None)
    path = Path(path)
    sampler = OpenSimSampler(path)
    coords = sampler.coordinates
    candidates = [
        n for n, r in coords.items() if r.rotational and not r.dependent and not r.on_ground_joint
    ]
    box_all = sampling_box(coords, candidates, box=box)
    for n in candidates:  # locked coordinates sit at their default while sampling
        if coords[n].locked:
            box_all[n] = (coords[n].default, coords[n].default)
    free = [n for n in candidates if not coords[n].locked]
    say(f"{path.name}: {len(sampler.muscles)} muscles, {len(free)} free rotational coordinates")

    # Dependencies: locked coordinates are perturbed inside their range so that a muscle which
    # crosses them is still known to (its domain there is the locked value).
    dep_box = dict(box_all)
    for n in candidates:
        if coords[n].locked:
            dep_box[n] = sampling_box(coords, [n], box=box)[n]
    wanted = list(sampler.muscles if muscles is None else muscles)
    unknown = [m for m in wanted if m not in sampler.muscles]
    if unknown:
        raise InputError(
            f"no muscle(s) named {unknown}",
            path=path,
            field="--muscles",
            expected=f"names among the model's {len(sampler.muscles)} muscles",
        )
    deps = detect_dependencies(sampler, wanted, candidates, dep_box, seed=seed)
    if muscles is None:
        wanted = [m for m in wanted if any(is_leg_coordinate(c) for c in deps[m])]
    missing = [m for m in wanted if not deps[m]]
    if missing:
        raise InputError(
            f"muscle(s) {missing} do not change length with any coordinate",
            path=path,
            expected="muscles crossing at least one joint",
        )
    inputs = {m: [c for c in deps[m] if not coords[c].locked] for m in wanted}
    locked_deps = {m: [c for c in deps[m] if coords[c].locked] for m in wanted}
    used = [c for c in free if any(c in inputs[m] for m in wanted)]
    say(f"fitting {len(wanted)} muscles over {len(used)} coordinates: {', '.join(used)}")

    # Poses over every used coordinate at once (left and right legs sampled independently).
    train_poses = _sobol_poses(box_all, used, n_samples, seed)
    test_poses = _uniform_poses(box_all, used, n_heldout, seed + 1)
    total = n_samples + n_heldout
    bar = tqdm(total=total, desc=f"OpenSim lengths ({name})", unit="pose", disable=not progress)
    y_all = sampler.lengths(train_poses, wanted, progress=bar.update)
    y_test = sampler.lengths(test_poses, wanted, progress=bar.update)
    bar.close()
    q_all = np.stack([train_poses[c] for c in used], axis=1)
    q_test = np.stack([test_poses[c] for c in used], axis=1)
    upright = sampler.lengths({c: np.zeros(1) for c in used}, wanted)[0]

    thresholds = conditional_thresholds(path, {c: box_all[c] for c in used})
    n_val = n_samples // 5
    rng = np.random.default_rng(seed + 2)
    perm = rng.permutation(n_samples)
    i_val, i_tr = perm[:n_val], perm[n_val:]

    # Group muscles that share coordinates and thresholds: one design matrix serves them all.
    groups: dict[tuple, list[str]] = {}
    for m in wanted:
        key = (tuple(inputs[m]), tuple(thresholds.get(m, [])))
        groups.setdefault(key, []).append(m)
    col = {c: k for k, c in enumerate(used)}
    mcol = {m: k for k, m in enumerate(wanted)}
    kink_cache: dict[str, np.ndarray] = {}
    data = _Samples(q_all, y_all, q_test, y_test, i_tr, i_val, col, mcol, max_terms)
    fits: dict[str, MuscleFit] = {}
    for (cnames, ths), members in tqdm(
        groups.items(), desc=f"fitting ({name})", unit="group", disable=not progress
    ):
        cnames = list(cnames)
        lo = np.array([box_all[c][0] for c in cnames])
        hi = np.array([box_all[c][1] for c in cnames])
        domain = {c: box_all[c] for c in cnames}
        group_fits = _fit_in_domain(data, members, cnames, list(ths), domain, lo, hi)
        for m, fit in zip(members, group_fits, strict=True):
            options = [fit]
            if fit.heldout_max > KINK_RETRY_MAX or fit.heldout_rms > HELDOUT_RMS_TOL:
                kinks = _kinks_for(sampler, m, cnames, box_all, kink_cache, wanted)
                # A kink found again at a threshold read from the file (the sweep's grid puts it
                # a fraction of a degree off) is the same jump: a second piece there would
                # split the jump between two thresholds and miss the poses in between.
                extra = [
                    k
                    for k in kinks
                    if all(
                        t.coordinate != k.coordinate or abs(t.value - k.value) > KINK_SAME_RAD
                        for t in fit.thresholds
                    )
                ]
                if extra:
                    (trial,) = _fit_in_domain(
                        data, [m], cnames, fit.thresholds + extra, domain, lo, hi
                    )
                    trial.notes = [f"kink at {k.coordinate} = {k.value:.4f} rad" for k in extra]
                    options.append(trial)
                # The same kinks, where their location moves with the other coordinates, as
                # min(0, D) pieces whose kink follows the pose.
                moving = [
                    _moving_kink(sampler, m, k.coordinate, cnames, box_all, k.value, data)
                    for k in extra
                ]
                if any(t is not None for t in moving):
                    pieces = [t if t is not None else k for k, t in zip(extra, moving, strict=True)]
                    (trial,) = _fit_in_domain(
                        data, [m], cnames, fit.thresholds + pieces, domain, lo, hi
                    )
                    trial.notes = [
                        f"kink at {k.coordinate} = {k.value:.4f} rad"
                        if t is None
                        else f"kink along {k.coordinate} moving with the pose (found at "
                        f"{k.value:.4f} rad), fitted as min(0, D) above {t.value:.4f} rad"
                        for k, t in zip(extra, moving, strict=True)
                    ]
                    options.append(trial)
            done = []
            for option in options:
                if option.heldout_max > HELDOUT_MAX_TOL or option.heldout_rms > HELDOUT_RMS_TOL:
                    # Three-coordinate corners include the two-coordinate ones and the slabs.
                    three = len(cnames) >= 3
                    done.append(
                        _exclude_erratic(
                            data, option, lo, hi, corners3=three, max_cuts=40 if three else 24
                        )
                    )
                else:
                    done.append(option)
            # Prefer a fit that meets the tolerance on the larger domain, then the smaller error.
            fit = min(
                done,
                key=lambda f: (
                    f.heldout_max > HELDOUT_MAX_TOL or f.heldout_rms > HELDOUT_RMS_TOL,
                    -f.heldout_n,
                    f.heldout_max,
                ),
            )
            fits[m] = fit

    params = MuscleParameters.from_osim(path, wanted)
    ds = fits_to_dataset(
        name=name,
        muscles=wanted,
        fits=fits,
        coordinates=used,
        coordinate_records={c: coords[c] for c in used},
        box={c: box_all[c] for c in used},
        locked={m: {c: coords[c].default for c in locked_deps[m]} for m in wanted},
        upright_length=upright,
        parameters=params,
        source_path=path,
        source_sha256=sha256_file(path),
        knee_signs={
            c: knee_flexion_sign(coords[c]) for c in coords if coordinate_base(c) == "knee_angle"
        },
        couplers=[(dep, list(indep)) for dep, indep, _, _ in sampler.couplers],
        settings=dict(
            n_samples=n_samples,
            n_heldout=n_heldout,
            seed=seed,
            max_terms=max_terms,
            box=box,
            box_deg={c: [round(math.degrees(v), 6) for v in box_all[c]] for c in used},
            fit_seconds=round(time.perf_counter() - t_start, 1),
        ),
    )
    return ds


@dataclass
class _Samples:
    q_all: np.ndarray
    y_all: np.ndarray
    q_test: np.ndarray
    y_test: np.ndarray
    i_tr: np.ndarray
    i_val: np.ndarray
    col: dict
    mcol: dict
    max_terms: int = 800
    #: (muscle, moving-kink Threshold) -> [rows of q_all] True on the kink's far side.
    sides: dict = field(default_factory=dict)


def _sides_for(data: _Samples, members, thresholds, tr, va):
    """The ``sides`` argument of :func:`fit_muscle_group` for rows ``tr`` and ``va``."""
    out = []
    for t in thresholds:
        if t.kind != PIECE_MIN:
            out.append(None)
            continue
        if len(members) != 1:
            raise ValueError("a moving-kink piece is fitted for one muscle at a time")
        far = data.sides[(members[0], t)]
        out.append((far[tr], far[va]))
    return out


def _inside(q: np.ndarray, names, domain, excluded=()) -> np.ndarray:
    """Poses inside the box ``domain`` and outside every excluded region."""
    ok = np.ones(len(q), dtype=bool)
    for k, c in enumerate(names):
        ok &= (q[:, k] >= domain[c][0]) & (q[:, k] <= domain[c][1])
    for region in excluded:
        ok &= ~_in_region(q, names, region)
    return ok


def _in_region(q: np.ndarray, names, region) -> np.ndarray:
    hit = np.ones(len(q), dtype=bool)
    for c, (lo, hi) in region.items():
        k = list(names).index(c)
        hit &= (q[:, k] >= lo) & (q[:, k] <= hi)
    return hit


def _fit_in_domain(
    data: _Samples, members, cnames, ths, domain, lo, hi, excluded=()
) -> list[MuscleFit]:
    """Fit ``members`` on the training poses inside ``domain``; score on held-out poses."""
    idx = [data.col[c] for c in cnames]
    q_all = data.q_all[:, idx]
    inside = _inside(q_all, cnames, domain, excluded)
    tr = data.i_tr[inside[data.i_tr]]
    va = data.i_val[inside[data.i_val]]
    ycols = [data.mcol[m] for m in members]
    center, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    best = fit_muscle_group(
        q_all[tr],
        data.y_all[tr][:, ycols],
        q_all[va],
        data.y_all[va][:, ycols],
        center,
        half,
        ths,
        cnames,
        max_terms=data.max_terms,
        sides=_sides_for(data, members, ths, tr, va),
    )
    out = []
    for m, (degree, coef, vrms) in zip(members, best, strict=True):
        fit = MuscleFit(
            name=m,
            coordinates=cnames,
            center=center,
            half_width=half,
            degree=degree,
            thresholds=list(ths),
            coefficients=coef,
            domain=dict(domain),
            validation_rms=vrms,
            train_n=len(tr),
            excluded=list(excluded),
        )
        _score(fit, data.q_test[:, idx], data.y_test[:, data.mcol[m]])
        out.append(fit)
    return out


def _score(fit: MuscleFit, q_test: np.ndarray, y_test: np.ndarray) -> None:
    inside = _inside(q_test, fit.coordinates, fit.domain, fit.excluded)
    err = evaluate_fit(fit, q_test[inside]) - y_test[inside]
    fit.heldout_n = int(inside.sum())
    fit.heldout_rms = float(np.sqrt(np.mean(err**2))) if err.size else math.nan
    fit.heldout_max = float(np.max(np.abs(err))) if err.size else math.nan


#: A muscle whose held-out maximum error exceeds this after the first fit is refitted with
#: extra pieces at kinks of its length found along one-coordinate sweeps (wrap contact
#: changes). Set well below the 2 mm tolerance so that trial errors stay under 0.5 mm.
KINK_RETRY_MAX = 0.25e-3
#: Smallest moment-arm jump (m) taken for a kink: 1 mm, a tenth of the moment arms' size.
KINK_MIN_SLOPE_CHANGE = 1.0e-3
#: A kink closer than this (rad) to a threshold on the same coordinate is that threshold: three
#: steps of the 2001-point sweep over the widest sampled range (160 deg).
KINK_SAME_RAD = 0.005
#: A training pose counts as erratic when the smooth fit misses OpenSim by more than this.
ERRATIC_RESIDUAL = 1.0e-3


def _kinks_for(sampler, muscle, cnames, box, cache, wanted, *, n=2001) -> list[Threshold]:
    """Kinks of ``muscle``'s length along one-coordinate sweeps from the upright pose: points
    where the second difference jumps by more than 30 times its 90th percentile."""
    out = []
    for c in cnames:
        if c not in cache:
            grid = np.linspace(*box[c], n)
            pose = {c: grid}
            for other in cnames:
                if other != c:
                    pose[other] = np.full(n, np.clip(0.0, *box[other]))
            cache[c] = (grid, sampler.lengths(pose, wanted))
        grid, lengths = cache[c]
        y = lengths[:, wanted.index(muscle)]
        jump = np.abs(np.diff(np.diff(y, 2)))
        scale = np.percentile(jump, 90) + 1e-15
        i = int(np.argmax(jump))
        step = grid[1] - grid[0]
        # A slope change s (m/rad) gives a second difference jump of about s * step; only
        # kinks above KINK_MIN_SLOPE_CHANGE count (smooth paths give noise-level jumps).
        if jump[i] > 30.0 * scale and jump[i] > KINK_MIN_SLOPE_CHANGE * step:
            value = float(grid[i + 2])
            steps = np.abs(np.diff(y[i : i + 4]))
            if steps[1] > JUMP_STEP_RATIO * max(steps[0], steps[2]):
                # A jump in value (a wrap flip), not only in slope: locate it to 1e-9 rad so
                # that no pose between the grid points lands on the wrong piece (the sprinter's
                # gasmed jumps 14 mm at 154.662 deg knee flexion, between grid points 0.08 deg
                # apart). Where the location moves with the other coordinates, the grid value
                # stays.
                exact = _locate_jump(sampler, muscle, c, cnames, box, grid[i + 1], grid[i + 2])
                value = value if exact is None else exact
            if box[c][0] < value < box[c][1]:
                out.append(Threshold(c, value))
    return out


#: A kink is a jump in value when the step across it exceeds the neighbouring steps this often.
JUMP_STEP_RATIO = 20.0
#: Largest spread (rad) of a jump's location over poses of the other coordinates for which it
#: is taken as a fixed threshold on one coordinate.
JUMP_LOCATION_TOL = 1e-6
#: Smallest length step (m) across a bracket that counts as the jump being inside it.
JUMP_MIN_STEP = 10e-6


def _locate_jump(sampler, muscle, c, cnames, box, a, b, *, n_poses=4, seed=0, iterations=45):
    """The value of coordinate ``c`` where ``muscle``'s length jumps, found by bisection on
    ``[a, b]`` at the sweep pose (other coordinates at 0, clipped to the box) and at
    ``n_poses - 1`` random poses of the other coordinates; the smallest value on the upper side
    of the jump when all agree within :data:`JUMP_LOCATION_TOL`, else ``None``."""
    rng = np.random.default_rng(seed)
    others = [o for o in cnames if o != c]
    poses = [{o: float(np.clip(0.0, *box[o])) for o in others}]
    poses += [{o: float(rng.uniform(*box[o])) for o in others} for _ in range(n_poses - 1)]
    found = []
    for pose in poses:
        fixed = {o: np.full(2, v) for o, v in pose.items()}

        def at(x0, x1, fixed=fixed):
            return sampler.lengths(dict(fixed, **{c: np.array([x0, x1])}), [muscle])[:, 0]

        lo, hi = float(a), float(b)
        y_lo, y_hi = at(lo, hi)
        if abs(y_hi - y_lo) <= JUMP_MIN_STEP:
            return None  # no jump at this pose: the location depends on the others
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            y_mid = at(mid, mid)[0]
            if abs(y_mid - y_lo) < abs(y_mid - y_hi):
                lo, y_lo = mid, y_mid
            else:
                hi, y_hi = mid, y_mid
        found.append(hi)
    if max(found) - min(found) > JUMP_LOCATION_TOL:
        return None
    return max(found)


#: Random poses of the other coordinates at which a kink is located again, to tell a fixed kink
#: from one whose location moves with the pose.
MOVING_KINK_POSES = 48
#: A concave kink whose location spreads over more than this (rad) among those poses is fitted
#: as a :data:`~musclesim.geometry.model.PIECE_MIN` piece (the sprinter's rectus femoris: 122.5 to
#: 129.9 deg knee flexion as the hip moves, 0.13 rad).
MOVING_KINK_SPREAD = KINK_SAME_RAD
#: How far (rad) from the upright sweep's kink it is searched for at the other poses.
MOVING_KINK_WINDOW = math.radians(20.0)
#: Margin (rad) of the band around the located kinks inside which each training pose is put on
#: its side of the kink by a central difference; the piece's threshold is the band's lower end.
MOVING_KINK_MARGIN = math.radians(3.0)
#: Half-step (rad) of that central difference. For a kink between two straight lines the
#: central slope at distance d from the kink is below the mean of the two slopes exactly when
#: the pose is past the kink, whatever the step; 1e-3 rad keeps OpenSim's ~1 um micro-steps of
#: wrapped paths (a 1 mm/rad error in the slope) far below the slope jump.
MOVING_KINK_STEP = 1e-3


def _moving_kink(
    sampler, muscle, c, cnames, box, value, data: _Samples, *, n=2001, seed=0
) -> Threshold | None:
    """A concave kink of ``muscle`` along ``c`` (found near ``value`` on the upright sweep)
    whose location moves with the other coordinates, as a :data:`PIECE_MIN` threshold; its
    far-side training rows go to ``data.sides``. ``None`` where the kink is not concave, not
    found at most poses, or fixed (spread <= :data:`MOVING_KINK_SPREAD`).

    The kink is located along sweeps of ``c`` (``n`` points over the box) at
    :data:`MOVING_KINK_POSES` random poses of the other coordinates, as the most negative second
    difference within :data:`MOVING_KINK_WINDOW` of ``value``. Training poses below the band of
    located kinks (less :data:`MOVING_KINK_MARGIN`) are on the near side, those above it on the
    far side, those inside it by their central-difference slope against the median of the mean
    slopes either side of the kinks."""
    rng = np.random.default_rng(seed)
    others = [o for o in cnames if o != c]
    grid = np.linspace(*box[c], n)
    step = grid[1] - grid[0]
    window = np.abs(grid[1:-1] - value) <= MOVING_KINK_WINDOW
    offset = max(2, int(round(math.radians(1.0) / step)))  # slopes 1 deg either side
    locations, mids = [], []
    for _ in range(MOVING_KINK_POSES):
        pose = {o: np.full(n, rng.uniform(*box[o])) for o in others}
        y = sampler.lengths(dict(pose, **{c: grid}), [muscle])[:, 0]
        d2 = np.diff(y, 2)
        scale = np.percentile(np.abs(d2), 90) + 1e-15
        i = int(np.argmin(np.where(window, d2, np.inf)))
        if not (-d2[i] > KINK_MIN_SLOPE_CHANGE * step and -d2[i] > 30.0 * scale):
            continue
        j = i + 1  # the grid point of the kink
        if j - offset < 0 or j + offset + 1 > n - 1:
            continue
        left = (y[j - offset] - y[j - offset - 1]) / step
        right = (y[j + offset + 1] - y[j + offset]) / step
        if not left > right:
            continue
        locations.append(grid[j])
        mids.append(0.5 * (left + right))
    if len(locations) < MOVING_KINK_POSES // 2:
        return None
    lo, hi = min(locations), max(locations)
    if hi - lo <= MOVING_KINK_SPREAD:
        return None
    band = (max(lo - MOVING_KINK_MARGIN, box[c][0]), min(hi + MOVING_KINK_MARGIN, box[c][1]))
    threshold = Threshold(c, float(band[0]), PIECE_MIN)
    q = data.q_all[:, [data.col[o] for o in cnames]]
    k = cnames.index(c)
    far = q[:, k] > band[1]
    near_band = (q[:, k] >= band[0]) & ~far
    rows = {o: q[near_band, cnames.index(o)] for o in cnames}
    up = sampler.lengths(dict(rows, **{c: rows[c] + MOVING_KINK_STEP}), [muscle])[:, 0]
    dn = sampler.lengths(dict(rows, **{c: rows[c] - MOVING_KINK_STEP}), [muscle])[:, 0]
    far[near_band] = (up - dn) / (2 * MOVING_KINK_STEP) < float(np.median(mids))
    data.sides[(muscle, threshold)] = far
    return threshold


#: Depths (fractions of the sampled width) of three-coordinate corner regions.
CORNER3_DEPTHS = (0.1, 0.2, 0.3, 0.4, 0.5)


def _exclude_erratic(
    data: _Samples, fit: MuscleFit, lo, hi, *, slab=0.025, max_cuts=24, corners3=False
):
    """Where OpenSim's path is erratic (wrapping flips), cut the box down to a region without
    erratic poses and refit there; the cut box becomes the muscle's stated domain.

    Erratic poses are those the smooth fit misses by more than :data:`ERRATIC_RESIDUAL` after
    two rounds of refitting without them. Slabs of 2.5 % of the sampled width are then cut off,
    each time from the side that removes the largest share of erratic poses per pose removed,
    until no erratic training pose is left (at most ``max_cuts`` cuts)."""
    idx = [data.col[c] for c in fit.coordinates]
    q = data.q_all[:, idx]
    y = data.y_all[:, data.mcol[fit.name]]
    keep = np.ones(len(q), dtype=bool)
    current = fit
    for _ in range(2):
        res = np.abs(evaluate_fit(current, q) - y)
        keep = res <= ERRATIC_RESIDUAL
        tr = data.i_tr[keep[data.i_tr]]
        va = data.i_val[keep[data.i_val]]
        ((degree, coef, vrms),) = fit_muscle_group(
            q[tr],
            y[tr][:, None],
            q[va],
            y[va][:, None],
            fit.center,
            fit.half_width,
            fit.thresholds,
            fit.coordinates,
            max_terms=data.max_terms,
            sides=_sides_for(data, [fit.name], fit.thresholds, tr, va),
        )
        current = MuscleFit(
            name=fit.name,
            coordinates=fit.coordinates,
            center=fit.center,
            half_width=fit.half_width,
            degree=degree,
            thresholds=fit.thresholds,
            coefficients=coef,
            domain=dict(fit.domain),
            validation_rms=vrms,
        )
    erratic = np.abs(evaluate_fit(current, q) - y) > ERRATIC_RESIDUAL
    domain = dict(fit.domain)
    excluded: list[dict[str, tuple[float, float]]] = []
    cuts = []
    names = fit.coordinates
    for _ in range(max_cuts):
        inside = _inside(q, names, domain, excluded)
        if not np.any(erratic & inside):
            break
        best = None
        candidates = []
        for k, c in enumerate(names):
            width = hi[k] - lo[k]
            d_lo, d_hi = domain[c]
            if (d_hi - d_lo) - slab * width >= 0.5 * width:
                candidates.append(("slab", c, "lower", (d_lo + slab * width, d_hi)))
                candidates.append(("slab", c, "upper", (d_lo, d_hi - slab * width)))
        # Corners: both coordinates beyond a fraction of their width from one end.
        for a, b in itertools.combinations(range(len(names)), 2):
            for sa, sb in itertools.product((0, 1), repeat=2):
                for frac in (0.1, 0.2, 0.3):
                    region = {}
                    for k, side in ((a, sa), (b, sb)):
                        w = frac * (hi[k] - lo[k])
                        region[names[k]] = (
                            (lo[k] - 1.0, lo[k] + w) if side == 0 else (hi[k] - w, hi[k] + 1.0)
                        )
                    candidates.append(("corner", None, None, region))
        # Corners of three coordinates, each with its own depth (e.g. the sprinter's psoas
        # flips only where hip extension meets adduction and internal rotation; a slab of hip
        # extension alone would cut out the sprint trials' late stance).
        if corners3:
            for triple in itertools.combinations(range(len(names)), 3):
                for sides in itertools.product((0, 1), repeat=3):
                    for fracs in itertools.product(CORNER3_DEPTHS, repeat=3):
                        region = {}
                        for k, side, frac in zip(triple, sides, fracs, strict=True):
                            w = frac * (hi[k] - lo[k])
                            region[names[k]] = (
                                (lo[k] - 1.0, lo[k] + w) if side == 0 else (hi[k] - w, hi[k] + 1.0)
                            )
                        candidates.append(("corner", None, None, region))
        for kind, c, side, new in candidates:
            if kind == "slab":
                k = names.index(c)
                gone = inside & ~((q[:, k] >= new[0]) & (q[:, k] <= new[1]))
            else:
                gone = inside & _in_region(q, names, new)
            n_gone = gone.sum()
            if n_gone == 0:
                continue
            score = (erratic & gone).sum() / n_gone
            if best is None or score > best[0]:
                best = (score, kind, c, side, new)
        if best is None:
            break
        _, kind, c, side, new = best
        if kind == "slab":
            domain[c] = new
            cuts.append(f"{c} {side} -> [{new[0]:.4f}, {new[1]:.4f}]")
        else:
            excluded.append(new)
            cuts.append(
                "excluded "
                + " & ".join(
                    f"{cc} {'<' if v[0] < fit.domain[cc][0] else '>'} "
                    f"{v[1] if v[0] < fit.domain[cc][0] else v[0]:.4f}"
                    for cc, v in new.items()
                )
            )
    (refit,) = _fit_in_domain(data, [fit.name], names, fit.thresholds, domain, lo, hi, excluded)
    refit.cuts = cuts
    refit.notes = fit.notes + [
        f"{int(erratic.sum())} of {len(q)} sampled poses erratic (> {ERRATIC_RESIDUAL * 1e3} mm "
        "from the smooth fit)"
    ]
    return refit


class _ParameterTable(dict):
    """``{field: [muscle] array}`` with the ``as_dict`` of :class:`MuscleParameters` (keeps the
    stored float64 values exactly, whatever JAX's default precision)."""

    def as_dict(self) -> dict[str, np.ndarray]:
        return dict(self)


def merge_geometry(base, update, *, note: str = ""):
    """Replace (or add) the muscles of the fitted-geometry dataset ``update`` in ``base``.

    Both must come from the same ``.osim`` (sha256), with the same couplers and knee signs, and
    every coordinate of ``update`` must be sampled over the same range in ``base`` (the box
    depends only on the model, so a fit of a few muscles with ``--muscles`` matches the full
    fit). The other muscles are copied unchanged, in their order; muscles new to ``base`` are
    appended. A refit over another sampling box (``fit_geometry(box=...)``) is merged too: the
    file's ``sampled_lower/upper`` become the union of both boxes. ``fit_settings`` keeps the
    base fit's settings and lists each merged refit under
    ``"refits"`` (muscles, settings, ``note``); the fitted OpenSim moment-arm convention
    (``arm_correction_*``) is carried over, and so are the exact paths
    (:mod:`musclesim.geometry.path`) of the muscles not refitted. Returns the merged
    dataset."""

    old, new = fits_from_dataset(base), fits_from_dataset(update)
    for key in ("source_sha256", "knee_signs", "couplers"):
        if old[key] != new[key]:
            raise InputError(
                f"{key} differs between the fitted files ({old[key]!r} vs {new[key]!r})",
                field=key,
                expected="a refit of the same .osim model",
            )
    missing = [c for c in new["coordinates"] if c not in old["coordinates"]]
    if missing:
        raise InputError(
            f"coordinate(s) {missing} not in the base model",
            field="coordinate",
            expected=f"coordinates among {old['coordinates']}",
        )
    # A refit over the same kind of box must have sampled the same ranges (the box depends
    # only on the model and the fitter); a refit over another kind (``box``) widens the file's
    # sampled range to the union, each muscle keeping its own scaling and domain.
    box_kind = old["settings"].get("box", "model")
    other_box = new["settings"].get("box", "model") != box_kind
    for c in new["coordinates"]:
        if not other_box and not np.allclose(old["box"][c], new["box"][c], rtol=0.0, atol=1e-12):
            raise InputError(
                f"{c} sampled over {new['box'][c]} rad, base over {old['box'][c]} rad",
                field=c,
                expected="the same sampling box (same fitter version and model)",
            )
    sampled = {
        c: ((min(v[0], new["box"][c][0]), max(v[1], new["box"][c][1])) if c in new["box"] else v)
        for c, v in old["box"].items()
    }
    muscles = list(old["muscles"]) + [m for m in new["muscles"] if m not in old["muscles"]]
    source = {m: (new if m in new["muscles"] else old) for m in muscles}

    def row(table, m):
        return table["upright_length"][table["muscles"].index(m)]

    def parameter(f, m):
        return source[m]["parameters"][f][source[m]["muscles"].index(m)]

    parameters = _ParameterTable(
        {f: np.array([parameter(f, m) for m in muscles]) for f in old["parameters"]}
    )
    settings = dict(old["settings"])
    settings["refits"] = list(settings.get("refits", [])) + [
        dict(
            muscles=list(new["muscles"]),
            **{k: v for k, v in new["settings"].items() if k != "refits"},
            **({"note": note} if note else {}),
        )
    ]
    merged = fits_to_dataset(
        name=old["name"],
        muscles=muscles,
        fits={m: source[m]["fits"][m] for m in muscles},
        coordinates=old["coordinates"],
        coordinate_records=old["coordinate_records"],
        box=sampled,
        locked={m: source[m]["locked"][m] for m in muscles},
        upright_length=np.array([row(source[m], m) for m in muscles]),
        parameters=parameters,
        source_path=old["source_file"],
        source_sha256=old["source_sha256"],
        knee_signs=old["knee_signs"],
        couplers=old["couplers"],
        settings=settings,
    )
    # OpenSim's moment-arm convention depends on OpenSim's path only, not on the fit: carried.
    # Exact paths are carried too, except for the refitted muscles (the last fit wins).

    return carry_paths(base, carry_corrections(base, merged), new["muscles"])
