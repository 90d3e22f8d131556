"""Musculotendon geometry: fitted length surrogates evaluated in JAX (no OpenSim needed).

A fitted model (one netCDF file per OpenSim model, written by ``musclesim fit-geometry``, see
:mod:`musclesim.geometry.fitting.fit`) holds, for each muscle, a total-degree tensor Chebyshev
polynomial in the coordinates it crosses:

    L_m(q) = sum_p H_p(q) sum_t c_{m,p,t} prod_k T_{e_{t,k}}(x_k),   x_k = (q_k - a_k) / b_k,

where ``T_n`` are Chebyshev polynomials of the first kind, ``a_k`` and ``b_k`` the centre and
half-width of the sampled box of coordinate ``k`` (so ``x`` is in [-1, 1] on the box),
``e_{t,k}`` the exponent table of :func:`musclesim.geometry.records.exponents` (graded order),
``H_0 = 1`` and ``H_p = 1[q_{c_p} >= theta_p]`` for each conditional-path-point threshold
``theta_p`` read from the model file (OpenSim's path jumps there; the surrogate jumps too and
has zero derivative across the jump, like OpenSim's own ``computeMomentArm``). A piece of kind
``PIECE_MIN`` (variable ``piece_kind``, file format 2) adds ``H_p min(0, P_p)`` instead of
``H_p P_p``: a concave kink (a wrap contact change) where ``P_p = 0``, whose location moves with
the pose (the sprinter's rectus femoris along knee flexion, 122.5-129.9 deg as the hip moves).

A muscle whose OpenSim path flips around its wrap cylinder over wide regions (the gluteus
maximus, iliacus and psoas of the Rajagopal-family models) can instead carry its exact path
(:mod:`musclesim.geometry.path`: the model's path points, joint and wrap cylinder, evaluated
with OpenSim's algorithm), which equals OpenSim's length to rounding on the model's whole
coordinate range, flips included.

Moment arms are ``r = -dL/dq`` (Sherman, Seth & Delp 2013, doi:10.1115/DETC2013-13633, the
definition OpenSim uses), from the exact derivative of the Chebyshev basis (dT_n/dx = n U_{n-1});
``jax.grad`` of the lengths gives the same values (tested).

:class:`GeometryModel` keeps the static description (names, exponent tables, which muscle
reads which coordinate) apart from the arrays (coefficients, domain, reference lengths,
parameters) like MuJoCo MJX's ``Model``: the arrays are pytree leaves, so a model can be an
argument of ``jax.jit`` and ``jax.vmap``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.arrays import index_array, to_device
from ..core.errors import InputError, OutOfDomainError
from ..core.groups import expand_muscles
from ..muscle.parameters import MuscleParameters
from .path import PathBlock
from .records import exponents

#: Largest coordinate magnitude (rad) accepted before a value is taken for degrees by mistake:
#: no hip, knee or ankle coordinate of any shipped model exceeds 160 deg = 2.79 rad, so a value
#: beyond 2 pi is not an angle in radians of a lower-limb joint.
DEGREES_SUSPECT_RAD = 2.0 * math.pi
#: Tolerance (rad) on a locked coordinate's value.
LOCKED_TOL_RAD = 1e-4
FILE_FORMAT = "musclesim-geometry/1"
#: Moment-arm conventions of :meth:`GeometryModel.moment_arm`.
MOMENT_ARM_CONVENTIONS = ("length", "opensim")
#: Format of files with a :data:`PIECE_MIN` piece (the ``piece_kind`` variable): a reader of
#: format 1 would take such a piece for a step and be wrong past the kink, so it must refuse it.
FILE_FORMAT_MIN_PIECES = "musclesim-geometry/2"
#: Format of files with exact paths (``path_*`` variables, :mod:`musclesim.geometry.path`): a
#: reader of an earlier format would evaluate those muscles' polynomials outside the domain
#: they were fitted on, so it must refuse the file.
FILE_FORMAT_PATHS = "musclesim-geometry/3"
READABLE_FORMATS = (FILE_FORMAT, FILE_FORMAT_MIN_PIECES, FILE_FORMAT_PATHS)
#: Kinds of threshold piece (``piece_kind``): add ``P_p`` above the threshold (conditional path
#: points, fixed kinks and jumps) ...
PIECE_STEP = 0
#: ... or add ``min(0, P_p)`` above the threshold: a concave kink (e.g. a wrap contact change)
#: at ``P_p = 0``, so its location follows the pose; ``L = A + min(0, B - A) = min(A, B)``
#: there, with ``A`` the polynomial of the other pieces.
PIECE_MIN = 1


#: What a pose outside a muscle's fitted domain gets (``out_of_domain``): ``"warn"`` the bounded
#: extension (:meth:`_Block.lengths_and_gradient`) and a :class:`GeometryDomainWarning`;
#: ``"clamp"`` the bounded extension without a warning (the caller carries the per-sample
#: in-domain mask, ``return_mask=True``); ``"refuse"`` an :class:`OutOfDomainError` naming the
#: frames, coordinates and ranges.
OUT_OF_DOMAIN_POLICIES = ("warn", "clamp", "refuse")


#: Values that carry a weak type into JAX's type promotion (a NumPy array never does).
_WEAK = (bool, int, float, complex, jax.Array)


def _host(x) -> np.ndarray:
    """``jnp.asarray(x)`` as a NumPy array: the same (canonical) dtype, without a JAX
    operation."""
    a = np.asarray(x)
    return a.astype(jnp.result_type(x if isinstance(x, _WEAK) else a), copy=False)


class GeometryDomainWarning(UserWarning):
    """A pose lies outside the fitted domain; the length there is an extrapolation."""


def _exponents(n_vars: int, degree: int) -> np.ndarray:

    return exponents(n_vars, degree)


class _Block(eqx.Module):
    """Muscles sharing one coordinate set and sampling box (one feature vector per pose).

    Piece p >= 1 of muscle m adds ``H(q[slot] >= theta) P_p(q)`` (kind :data:`PIECE_STEP`) or
    ``H(q[slot] >= theta) min(0, P_p(q))`` (kind :data:`PIECE_MIN`: a concave kink where
    ``P_p = 0``, whose location follows the pose); ``piece_kind`` is empty when every piece
    of the block is a step (the common case, evaluated without the piece values)."""

    muscle_index: tuple[int, ...] = eqx.field(static=True)
    coordinate_index: tuple[int, ...] = eqx.field(static=True)
    degree: int = eqx.field(static=True)
    threshold_slot: tuple[tuple[int, ...], ...] = eqx.field(static=True)  # [muscle][piece-1]
    center: jax.Array  # [k] rad
    half_width: jax.Array  # [k] rad
    coefficient: jax.Array  # [piece, term, muscle] m
    threshold_value: jax.Array  # [muscle, piece-1] rad (+inf where absent)
    piece_kind: tuple[tuple[int, ...], ...] = eqx.field(static=True, default=())  # [m][p-1]

    @property
    def _has_min(self) -> bool:
        return any(k == PIECE_MIN for row in self.piece_kind for k in row)

    def features(self, qk: jax.Array) -> jax.Array:
        """The basis at one pose ``qk`` [k] (rad): ``prod_k T_{e_{t,k}}(x_k)`` for every term,
        ``[term]``. Each variable's factors are picked from its Chebyshev table by constant
        indices (one multiplication per term and variable; under ``vmap`` one gather per
        variable, faster on a CPU than a product with a 0/1 selection matrix or a basis built
        from slices)."""
        exps = _exponents(len(self.coordinate_index), self.degree)
        x = (qk - self.center) / self.half_width
        t = [jnp.ones_like(x)]
        if self.degree >= 1:
            t.append(x)
        for _ in range(2, self.degree + 1):
            t.append(2.0 * x * t[-1] - t[-2])
        table = jnp.stack(t, axis=-1).reshape(-1)  # [k * (degree+1)]
        feats = None
        for k in range(exps.shape[1]):
            factor = table[k * (self.degree + 1) + exps[:, k]]
            feats = factor if feats is None else feats * factor
        return feats

    def weights(self) -> jax.Array:
        """``[term, 1 + k, piece, m]``: the coefficients of L, then of dL/dq_k (per radian)
        for each variable k, in the same basis. The derivative of a Chebyshev series is one:
        dT_n/dx = n U_{n-1}(x) = 2n sum_{j = n-1, n-3, ... >= 0} T_j (the T_0 term halved), so
        dL/dq_k has fixed linear maps of the coefficients (:func:`_derivative_map`), and the
        lengths and every derivative come from one product of the same basis values."""
        c = self.coefficient  # [piece, term, m]
        rows = [c]
        for k, (src, dst, factor) in enumerate(
            _derivative_map(len(self.coordinate_index), self.degree)
        ):
            scaled = c[:, src, :] * jnp.asarray(factor, dtype=c.dtype)[:, None]
            rows.append(jnp.zeros_like(c).at[:, dst, :].add(scaled) / self.half_width[k])
        return jnp.transpose(jnp.stack(rows, axis=0), (2, 0, 1, 3))

    def _combine(
        self, qk: jax.Array, per_piece: jax.Array, values: jax.Array | None = None
    ) -> jax.Array:
        """Sum the pieces ``[..., piece, m]`` with their step indicators (zero derivative).

        ``values`` ``[piece, m]`` are the pieces' values at ``qk``, needed when the block has a
        :data:`PIECE_MIN` piece: such a piece counts only where its value is negative, so the
        same selector weights its value (giving ``min(0, P)``) and its derivative (``dP`` where
        ``P < 0``, else 0; at ``P = 0`` the one-sided derivative of the left side, 0)."""
        out = per_piece[..., 0, :]
        n_extra = per_piece.shape[-2] - 1
        if n_extra:
            slots = np.asarray(self.threshold_slot, dtype=np.int32).reshape(-1, n_extra)
            qs = qk[slots]  # [m, piece-1]
            on = qs >= self.threshold_value
            if self._has_min:
                is_min = np.asarray(self.piece_kind, dtype=np.int32).reshape(-1, n_extra)
                on = on & ((is_min != PIECE_MIN) | (values[1:].T < 0.0))
            weight = jnp.where(on, 1.0, 0.0).astype(out.dtype)
            out = out + jnp.sum(weight.T * per_piece[..., 1:, :], axis=-2)
        return out

    def lengths(self, qk: jax.Array) -> jax.Array:
        """Lengths [m] of the block's muscles at one pose ``qk`` [k] (rad), with the bounded
        extension of :meth:`lengths_and_gradient` outside the fitted box."""
        return self.lengths_and_gradient(qk)[0]

    def clamp(self, qk: jax.Array) -> jax.Array:
        """``qk`` [k] (rad) clamped onto the fitted box (:meth:`lengths_and_gradient`)."""
        return jnp.clip(qk, self.center - self.half_width, self.center + self.half_width)

    def lengths_and_gradient(
        self, qk: jax.Array, weights: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """Lengths [m] and dL/dq [m, k] at one pose from one product of the basis with
        :meth:`weights` (pass them in to compute them once for a batch).

        Outside the fitted box (``center +- half_width``, where the polynomial was sampled)
        a polynomial of degree 11-60 grows without bound (rajagopal2016's gasmed_r at 152 deg
        knee flexion, 32 deg past its box: 9e9 m), so the pose is clamped onto the box and
        the length continued to first order, L(q_c) + dL/dq(q_c) (q - q_c), with the moment
        arm of q_c: bounded, continuous at the box, and exactly the polynomial inside it."""
        qc = self.clamp(qk)
        return self.from_features(qk, qc, self.features(qc), weights)

    def from_features(
        self, qk: jax.Array, qc: jax.Array, features: jax.Array, weights: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """:meth:`lengths_and_gradient` at ``qk`` from its clamped pose ``qc`` and the basis
        there, ``features(qc)``."""
        w = self.weights() if weights is None else weights
        both = (features @ w.reshape(w.shape[0], -1)).reshape(w.shape[1:])
        out = self._combine(qc, both, both[0])  # [1 + k, m]
        grad = out[1:].T
        return out[0] + grad @ (qk - qc), grad

    def lengths_inside(
        self, qk: jax.Array, features: jax.Array, weights: jax.Array | None = None
    ) -> jax.Array:
        """:meth:`lengths` at a pose inside the box (``clamp(qk) == qk``) from the basis
        there, ``features(qk)``, and the length coefficients of ``weights`` alone."""
        w = (self.weights() if weights is None else weights)[:, 0]  # [term, piece, m]
        values = (features @ w.reshape(w.shape[0], -1)).reshape(w.shape[1:])
        return self._combine(qk, values, values)

    def length_gradient(self, qk: jax.Array, weights: jax.Array | None = None) -> jax.Array:
        """dL/dq [m, k] at one pose (exact: the derivative series of :meth:`weights`, equal to
        forward-mode autodiff of :meth:`lengths` to rounding)."""
        return self.lengths_and_gradient(qk, weights)[1]


@functools.cache
def _derivative_map(n_vars: int, degree: int) -> tuple[tuple[np.ndarray, ...], ...]:
    """For each variable k, ``(source term, target term, factor)`` of d/dx_k in the graded
    total-degree Chebyshev basis: term ``e`` contributes ``factor * c_e`` to the term with
    ``e_k`` lowered to ``j`` for j = e_k - 1, e_k - 3, ... >= 0, factor ``2 e_k`` (``e_k`` for
    j = 0); total degree drops, so every target is in the basis."""
    exps = _exponents(n_vars, degree)
    position = {tuple(int(v) for v in e): i for i, e in enumerate(exps)}
    out = []
    for k in range(n_vars):
        src, dst, factor = [], [], []
        for t, e in enumerate(exps):
            n = int(e[k])
            for j in range(n - 1, -1, -2):
                lowered = [int(v) for v in e]
                lowered[k] = j
                src.append(t)
                dst.append(position[tuple(lowered)])
                factor.append(float(n if j == 0 else 2 * n))
        out.append(
            (np.asarray(src, dtype=np.int32), np.asarray(dst, dtype=np.int32), np.asarray(factor))
        )
    return tuple(out)


class GeometryModel(eqx.Module):
    """A fitted musculotendon geometry: lengths and moment arms as functions of the coordinates.

    Attributes:
        name: model name (e.g. ``"sprinter_ja1"``).
        muscles: muscle names, the model's own, in output order.
        coordinates: the coordinates the surrogate reads (rad), in the model's order; a pose
            ``q`` must give each of them (:attr:`required_coordinates`).
        parameters: :class:`MuscleParameters` with leaves of shape ``[muscle]``.
        upright_length: L_MTU (m) at the upright pose (every hip, knee and ankle angle 0, the
            reference of ``mtu_strain``), computed by OpenSim at fit time.
        domain_lower, domain_upper: ``[muscle, coordinate]`` (rad): the box on which each
            muscle's surrogate holds its stated accuracy (-inf/+inf for a coordinate it does
            not cross).
        excluded_lower, excluded_upper, excluded_owner: ``[region, coordinate]`` (rad) boxes
            cut out of the domain of muscle ``excluded_owner[region]`` where OpenSim's path is
            erratic (wrapping flips); every muscle's regions in one list (a muscle with 120
            regions does not make the others pay for 120).
        locked_coordinates: ``((name, value), ...)`` coordinates locked in the model; muscles
            crossing them were fitted at that value.
        locked_muscles: ``[muscle][i]`` whether muscle crosses locked coordinate ``i``.
        knee_flexion_sign: ``((coordinate, +1 or -1), ...)`` as read from the model's range.
        heldout_rms, heldout_max: ``[muscle]`` fit error (m) on held-out uniform random poses
            inside the domain.
        source_file, source_sha256: the ``.osim`` the fit came from.
        arm_corrections, arm_correction_pairs: OpenSim's moment-arm convention
            (:mod:`~.fitting.arm_convention`): per corrected ``(muscle, coordinate)`` pair a
            one-member block giving ``computeMomentArm - (-dL/dq)``; empty when none is needed.
        arm_convention_fitted: whether the file was screened for OpenSim's convention at all
            (``moment_arm(..., convention="opensim")`` refuses a file that was not).

    A muscle with an exact path (:attr:`path_muscles`) is one :class:`PathBlock` among the
    blocks; its domain is the model's coordinate range it was checked on, with no excluded
    regions, and its OpenSim moment-arm convention is computed from the path, not fitted.
    """

    name: str = eqx.field(static=True)
    muscles: tuple[str, ...] = eqx.field(static=True)
    coordinates: tuple[str, ...] = eqx.field(static=True)
    blocks: tuple[_Block | PathBlock, ...]
    order: tuple[int, ...] = eqx.field(static=True)  # concat(blocks)[order] -> muscle order
    parameters: MuscleParameters
    upright_length: jax.Array
    domain_lower: jax.Array
    domain_upper: jax.Array
    excluded_lower: jax.Array  # [region, coordinate]; a pose inside is out of the owner's domain
    excluded_upper: jax.Array
    excluded_owner: tuple[int, ...] = eqx.field(static=True)  # [region] muscle index
    heldout_rms: jax.Array
    heldout_max: jax.Array
    locked_coordinates: tuple[tuple[str, float], ...] = eqx.field(static=True)
    locked_muscles: tuple[tuple[bool, ...], ...] = eqx.field(static=True)
    knee_flexion_sign: tuple[tuple[str, int], ...] = eqx.field(static=True)
    source_file: str = eqx.field(static=True)
    source_sha256: str = eqx.field(static=True)
    arm_corrections: tuple[_Block, ...] = ()
    arm_correction_pairs: tuple[tuple[int, int], ...] = eqx.field(static=True, default=())
    arm_convention_fitted: bool = eqx.field(static=True, default=False)

    # ---------------------------------------------------------------------------------------
    @property
    def path_muscles(self) -> tuple[str, ...]:
        """Muscles evaluated from their exact OpenSim path (:mod:`musclesim.geometry.path`)."""
        return tuple(
            self.muscles[i] for b in self.blocks if isinstance(b, PathBlock) for i in b.muscle_index
        )

    @property
    def required_coordinates(self) -> tuple[str, ...]:
        """Coordinates a pose must provide (the locked ones default to their locked value)."""
        return self.coordinates

    def missing_coordinates(self, available: Iterable[str]) -> list[str]:
        """Required coordinates absent from ``available`` (e.g. a motion file's columns)."""
        have = set(available)
        return [c for c in self.coordinates if c not in have]

    def muscle_index(self, names: str | Sequence[str]) -> np.ndarray | int:
        """Positions of muscles in :attr:`muscles`; :class:`InputError` for an unknown name."""
        single = isinstance(names, str)
        wanted = [names] if single else list(names)
        pos = {m: i for i, m in enumerate(self.muscles)}
        bad = [m for m in wanted if m not in pos]
        if bad:
            raise InputError(
                f"unknown muscle(s) {bad}",
                field=f"model {self.name!r}",
                expected=f"names among {list(self.muscles)} (or a group, musclesim.muscle_group)",
            )
        idx = np.array([pos[m] for m in wanted], dtype=np.int64)
        return int(idx[0]) if single else idx

    def select(self, names: Sequence[str]) -> GeometryModel:
        """A model restricted to ``names`` (in that order). Group names such as
        ``"hamstrings"`` are expanded with :func:`musclesim.muscle_group`."""

        wanted = expand_muscles(names, self.muscles)
        idx = self.muscle_index(wanted)
        return _subset(self, [int(i) for i in idx])

    # ---------------------------------------------------------------------------------------
    def _stack(self, q: Mapping[str, jax.Array]) -> jax.Array:
        if not isinstance(q, Mapping):
            raise InputError(
                f"q is a {type(q).__name__}",
                field="q",
                expected="a mapping from coordinate name to an array of angles in radians",
            )
        missing = self.missing_coordinates(q)
        if missing:
            raise InputError(
                f"missing coordinate(s) {missing}",
                field=f"q for model {self.name!r}",
                expected=f"every coordinate in {list(self.coordinates)} (radians)",
            )
        q_values = [q[c] for c in self.coordinates]
        concrete = not any(isinstance(v, jax.core.Tracer) for v in q_values)
        # Concrete angles are stacked in NumPy and transferred once: the same values, and no
        # eager JAX operation (each compiles a program for every new shape).
        convert = np.asarray if concrete else jnp.asarray
        arrays = [convert(v) for v in q_values]
        shape = jnp.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        for c, a in zip(self.coordinates, arrays, strict=True):
            if isinstance(a, jax.core.Tracer):
                continue
            big = np.abs(np.asarray(a)) > DEGREES_SUSPECT_RAD
            if np.any(big):
                raise InputError(
                    f"value {float(np.asarray(a)[big].flat[0])!r} looks like degrees",
                    field=c,
                    expected="angles in radians (convert with numpy.radians)",
                )
        # Python scalars and JAX arrays keep their weak type in the promotion, as they do
        # through jnp.asarray (a NumPy array has none).
        typed = (
            [v if isinstance(v, _WEAK) else a for v, a in zip(q_values, arrays, strict=True)]
            if concrete
            else arrays
        )
        dtype = jnp.result_type(*typed) if arrays else jnp.float32
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = self.upright_length.dtype
        if concrete:
            return to_device(
                np.stack([np.broadcast_to(a, shape).astype(dtype) for a in arrays], axis=-1)
            )
        return jnp.stack([jnp.broadcast_to(a, shape).astype(dtype) for a in arrays], axis=-1)

    def _locked_mask(self, q: Mapping[str, jax.Array], batch: tuple[int, ...], xp=jnp):
        """False where a locked coordinate given in ``q`` is off its locked value, for the
        muscles crossing it; in ``xp`` (NumPy or jax.numpy, as :meth:`_mask` chooses)."""
        as_array = _host if xp is np else jnp.asarray
        ok = xp.ones(batch + (len(self.muscles),), dtype=bool)
        for i, (c, v) in enumerate(self.locked_coordinates):
            if c not in q:
                continue
            crosses = np.array([row[i] for row in self.locked_muscles], dtype=bool)
            off = xp.abs(as_array(q[c]) - v) > LOCKED_TOL_RAD
            ok = ok & ~(xp.broadcast_to(off, batch)[..., None] & crosses)
        return ok

    def _mask(self, q, qm: jax.Array) -> jax.Array:
        """The in-domain mask ``[..., muscle]`` of the stacked poses ``qm``: in NumPy for
        concrete angles and a concrete model, then transferred (the same comparisons, and no
        eager JAX operation, each compiling a program per shape); in JAX when traced."""
        locked = [q[c] for c, _ in self.locked_coordinates if c in q]
        arrays = (qm, self.domain_lower, self.excluded_lower, *locked)
        concrete = not any(isinstance(a, jax.core.Tracer) for a in arrays)
        xp = np if concrete else jnp
        x = xp.asarray(qm)[..., None, :]
        lower, upper = xp.asarray(self.domain_lower), xp.asarray(self.domain_upper)
        inside = xp.all((x >= lower) & (x <= upper), axis=-1)
        if self.excluded_owner:
            lower, upper = xp.asarray(self.excluded_lower), xp.asarray(self.excluded_upper)
            hit = xp.all((x >= lower) & (x <= upper), axis=-1)  # [..., region]
            owner = np.zeros((len(self.excluded_owner), len(self.muscles)))
            owner[np.arange(len(self.excluded_owner)), self.excluded_owner] = 1.0
            hits = hit.astype(x.dtype) @ xp.asarray(owner, dtype=x.dtype)  # counts: exact
            inside = inside & ~(hits > 0.0)
        mask = inside & self._locked_mask(q, qm.shape[:-1], xp)
        return to_device(mask) if concrete else mask

    def in_domain(self, q: Mapping[str, jax.Array]) -> jax.Array:
        """Boolean ``[..., muscle]``: True where every coordinate the muscle crosses lies in its
        fitted domain, outside its excluded regions, and each locked coordinate given in ``q``
        is at its locked value."""
        return self._mask(q, self._stack(q))

    def domain_report(self, q: Mapping[str, jax.Array]) -> list[str]:
        """Human-readable lines, one per coordinate that leaves some muscle's domain."""
        qs = self._stack(q)
        mask = np.asarray(self._mask(q, qs)).reshape(-1, len(self.muscles))
        qm = np.asarray(qs).reshape(-1, len(self.coordinates))
        return _report_lines(
            self, qm, np.asarray(self.domain_lower), np.asarray(self.domain_upper), q, mask
        )

    def _check_domain(
        self, q, qm, *, strict: bool, out_of_domain: str = "warn"
    ) -> tuple[jax.Array, jax.Array]:
        """(qm, mask); under tracing with ``"refuse"`` qm carries an ``equinox.error_if``.
        ``strict=True`` is ``out_of_domain="refuse"``."""
        if out_of_domain not in OUT_OF_DOMAIN_POLICIES:
            raise InputError(
                f"out_of_domain={out_of_domain!r}",
                field="out_of_domain",
                expected=" or ".join(repr(p) for p in OUT_OF_DOMAIN_POLICIES),
            )
        policy = "refuse" if strict else out_of_domain
        mask = self._mask(q, qm)
        lo, hi = self.domain_lower, self.domain_upper
        if not isinstance(qm, jax.core.Tracer) and not isinstance(lo, jax.core.Tracer):
            if policy != "clamp" and not bool(np.all(np.asarray(mask))):
                lines = _report_lines(
                    self,
                    np.asarray(qm).reshape(-1, qm.shape[-1]),
                    np.asarray(lo),
                    np.asarray(hi),
                    q,
                    np.asarray(mask).reshape(-1, len(self.muscles)),
                )
                message = "pose outside the fitted domain of model " + repr(self.name)
                message += "; " + "; ".join(lines)
                if policy == "refuse":
                    raise OutOfDomainError(
                        message,
                        expected="poses inside the fitted domain, or out_of_domain='clamp' "
                        "(--out-of-domain clamp) for the bounded extension with a flag",
                    )
                warnings.warn(
                    message + " (lengths there are continued to first order from the "
                    "fitted box, not extrapolated by the polynomial)",
                    GeometryDomainWarning,
                    stacklevel=3,
                )
            return qm, mask
        # Traced: the check runs inside the compiled function.
        if policy == "refuse":
            qm = eqx.error_if(
                qm, ~jnp.all(mask), f"pose outside the fitted domain of model {self.name!r}"
            )
        elif policy == "warn":
            # Only small summaries cross to the host: per-muscle flags and the range of q.
            flat = qm.reshape(-1, qm.shape[-1])
            bad = ~jnp.all(mask.reshape(-1, mask.shape[-1]), axis=0)
            jax.debug.callback(
                _warn_traced,
                bad,
                jnp.min(flat, axis=0),
                jnp.max(flat, axis=0),
                lo,
                hi,
                self.name,
                self.coordinates,
                self.muscles,
            )
        return qm, mask

    # ---------------------------------------------------------------------------------------
    def _chunk_lengths(self, q: jax.Array, weights) -> jax.Array:
        """Lengths ``[pose, muscle]`` of a chunk of poses ``q`` ``[pose, coordinate]``, with the
        polynomial blocks' weights computed once for a batch (:meth:`_weights`).

        Poses all inside every polynomial's box (nearly always) need no first-order
        extension, so no derivative coefficients: a product with 1 column per piece and
        muscle instead of 1 + k. The choice is made per chunk after the bases are computed,
        so that only the products are compiled twice."""
        each = jax.vmap
        polynomial = [(b, wb) for b, wb in zip(self.blocks, weights, strict=True) if wb is not None]
        qk = [q[:, np.asarray(b.coordinate_index)] for b, _ in polynomial]
        qc = [each(b.clamp)(x) for (b, _), x in zip(polynomial, qk, strict=True)]
        basis = [each(b.features)(x) for (b, _), x in zip(polynomial, qc, strict=True)]
        inside = jnp.asarray(True)
        for c, x in zip(qc, qk, strict=True):
            inside = inside & jnp.all(c == x)

        def without_extension(args):
            qk, _, basis = args
            return [
                each(lambda x, f, b=b, wb=wb: b.lengths_inside(x, f, wb))(x, f)
                for (b, wb), x, f in zip(polynomial, qk, basis, strict=True)
            ]

        def with_extension(args):
            qk, qc, basis = args
            return [
                each(lambda x, c, f, b=b, wb=wb: b.from_features(x, c, f, wb)[0])(x, c, f)
                for (b, wb), x, c, f in zip(polynomial, qk, qc, basis, strict=True)
            ]

        fitted = iter(jax.lax.cond(inside, without_extension, with_extension, (qk, qc, basis)))
        parts = [
            each(b.lengths)(q[:, np.asarray(b.coordinate_index)]) if w is None else next(fitted)
            for b, w in zip(self.blocks, weights, strict=True)
        ]
        return jnp.concatenate(parts, axis=-1)[:, np.asarray(self.order)]

    def _weights(self) -> tuple[jax.Array | None, ...]:
        """Per block the coefficients of L and dL/dq (:meth:`_Block.weights`; None for a
        :class:`PathBlock`), computed once for a batch of poses."""
        return tuple(None if isinstance(b, PathBlock) else b.weights() for b in self.blocks)

    def _moment_arm_flat(self, qv: jax.Array, weights) -> jax.Array:
        """Moment arms [muscle, coordinate] at one pose (:meth:`_both_flat`)."""
        return self._both_flat(qv, weights)[1]

    def _both_flat(self, qv: jax.Array, weights) -> tuple[jax.Array, jax.Array]:
        """Lengths [muscle] and moment arms [muscle, coordinate] at one pose: per block the
        lengths and their gradient with respect to its own k coordinates (one product of the
        Chebyshev basis with ``weights``, :meth:`_weights`), the gradient spread onto all
        coordinates by a constant one-hot matrix (a scatter is far slower under vmap)."""
        lengths, arms = [], []
        for b, w in zip(self.blocks, weights, strict=True):
            ci = np.asarray(b.coordinate_index)
            if isinstance(b, PathBlock):
                value, grad = b.lengths_and_gradient(qv[ci])
            else:
                value, grad = b.lengths_and_gradient(qv[ci], w)
            spread = np.zeros((len(ci), len(self.coordinates)))
            spread[np.arange(len(ci)), ci] = 1.0
            lengths.append(value)
            arms.append(-grad @ jnp.asarray(spread, dtype=grad.dtype))
        order = np.asarray(self.order)
        return jnp.concatenate(lengths)[order], jnp.concatenate(arms, axis=0)[order]

    def _correction_flat(self, qv: jax.Array) -> jax.Array:
        """OpenSim's moment arm minus -dL/dq, ``[muscle, coordinate]``, at one pose: the fitted
        corrections, and the exact difference of the muscles with an exact path."""
        out = jnp.zeros((len(self.muscles), len(self.coordinates)), dtype=qv.dtype)
        for b, (m, c) in zip(self.arm_corrections, self.arm_correction_pairs, strict=True):
            one_hot = np.zeros((len(self.muscles), len(self.coordinates)))
            one_hot[m, c] = 1.0
            out = out + b.lengths(qv[np.asarray(b.coordinate_index)])[0] * one_hot
        for b in self.blocks:
            if isinstance(b, PathBlock):
                ci = np.asarray(b.coordinate_index)
                rows = np.zeros((len(self.muscles), len(b.muscle_index)))
                rows[np.asarray(b.muscle_index), np.arange(len(b.muscle_index))] = 1.0
                spread = np.zeros((len(ci), len(self.coordinates)))
                spread[np.arange(len(ci)), ci] = 1.0
                diff = b.opensim_arm_difference(qv[ci])  # [m, k]
                out = out + jnp.asarray(rows) @ diff @ jnp.asarray(spread, dtype=qv.dtype)
        return out

    @property
    def _has_arm_difference(self) -> bool:
        return bool(self.arm_corrections) or any(isinstance(b, PathBlock) for b in self.blocks)

    def _check_convention(self, convention: str) -> None:
        if convention not in MOMENT_ARM_CONVENTIONS:
            raise InputError(
                f"moment-arm convention {convention!r}",
                field="convention",
                expected=" or ".join(repr(c) for c in MOMENT_ARM_CONVENTIONS),
            )
        if convention == "opensim" and not self.arm_convention_fitted:
            raise InputError(
                f"the geometry {self.name!r} has no fitted OpenSim moment-arm convention",
                field="convention",
                expected="'length', or a file fitted with `musclesim fit-arm-convention "
                f"<{self.source_file}> --into <file>`",
            )

    def moment_arm_correction(
        self, q: Mapping[str, jax.Array], *, out_of_domain: str = "warn"
    ) -> jax.Array:
        """OpenSim's ``computeMomentArm`` minus -dL/dq, ``[..., muscle, coordinate]`` (m): zero
        except for the pairs where OpenSim's path maps force otherwise than its length changes
        (:mod:`~.fitting.arm_convention`). Same domain handling as :meth:`mtu_length`."""
        self._check_convention("opensim")
        qm = self._stack(q)
        qm, _ = self._check_domain(q, qm, strict=False, out_of_domain=out_of_domain)
        return _corrections_batched(self, qm)

    def mtu_length_and_moment_arm(
        self,
        q: Mapping[str, jax.Array],
        *,
        strict: bool = False,
        convention: str = "length",
        out_of_domain: str = "warn",
        return_mask: bool = False,
    ):
        """``(mtu_length(q), moment_arm(q))`` from one evaluation of the polynomial basis
        (faster than the two calls); same domain handling as :meth:`mtu_length` (with
        ``return_mask`` the in-domain mask comes third), moment-arm ``convention`` as
        :meth:`moment_arm`."""
        self._check_convention(convention)
        qm = self._stack(q)
        qm, mask = self._check_domain(q, qm, strict=strict, out_of_domain=out_of_domain)
        lengths, arms = _both_batched(self, qm)
        if convention == "opensim" and self._has_arm_difference:
            arms = arms + _corrections_batched(self, qm)
        return (lengths, arms, mask) if return_mask else (lengths, arms)

    def mtu_length(
        self,
        q: Mapping[str, jax.Array],
        *,
        strict: bool = False,
        return_mask: bool = False,
        out_of_domain: str = "warn",
    ):
        """Musculotendon lengths L_MTU (m), shape ``[..., muscle]``.

        Args:
            q: coordinate name -> array of angles (rad), all of one broadcastable shape ``...``.
                Extra names (pelvis, arms, coupled ``*_beta``) are ignored.
            strict: the same as ``out_of_domain="refuse"``.
            return_mask: also return the ``[..., muscle]`` in-domain mask (False: the pose
                is out of that muscle's domain).
            out_of_domain: :data:`OUT_OF_DOMAIN_POLICIES`: ``"warn"`` (default), ``"clamp"``
                or ``"refuse"`` (:class:`OutOfDomainError` naming the frames, coordinates and
                ranges; inside ``jax.jit`` an ``equinox.error_if``).

        Outside the fitted box no polynomial is extrapolated: the pose is clamped onto the box
        and the length continued to first order from there (:meth:`_Block.lengths_and_gradient`),
        which stays bounded; with ``"warn"`` a :class:`GeometryDomainWarning` names the
        coordinate, its value, the range and the frames. Exact paths are OpenSim's geometry
        and hold anywhere; they are flagged outside the range they were checked on.
        """
        qm = self._stack(q)
        qm, mask = self._check_domain(q, qm, strict=strict, out_of_domain=out_of_domain)
        lengths = _lengths_batched(self, qm)
        return (lengths, mask) if return_mask else lengths

    def moment_arm(
        self,
        q: Mapping[str, jax.Array],
        *,
        strict: bool = False,
        return_mask: bool = False,
        convention: str = "length",
        out_of_domain: str = "warn",
    ):
        """Moment arms (m per rad), shape ``[..., muscle, coordinate]`` with the coordinates
        of :attr:`coordinates`; zero for a coordinate a muscle does not cross.

        ``convention="length"`` (default): r = -dL/dq, the virtual-work moment arm of the
        fitted length. ``"opensim"``: what OpenSim's ``computeMomentArm`` gives (and its
        Static Optimization and simulations apply), -dL/dq plus the fitted
        :meth:`moment_arm_correction`; the two differ where a wrapped path's force directions
        do not match its length (the sprinter's lateral gastrocnemius below ~52 deg of knee
        flexion, by up to 16 mm). Domain handling as :meth:`mtu_length` (outside the fitted
        box: the moment arm at the pose clamped onto it)."""
        self._check_convention(convention)
        qm = self._stack(q)
        qm, mask = self._check_domain(q, qm, strict=strict, out_of_domain=out_of_domain)
        arms = _moment_arms_batched(self, qm)
        if convention == "opensim" and self._has_arm_difference:
            arms = arms + _corrections_batched(self, qm)
        return (arms, mask) if return_mask else arms

    def mtu_strain(self, q: Mapping[str, jax.Array], **kwargs) -> jax.Array:
        """``mtu_strain`` = L_MTU / L_MTU(upright) - 1, ``[..., muscle]`` (the definition of
        Thelen et al. 2005 and Schache et al. 2012; DESIGN.md)."""
        return self.mtu_length(q, **kwargs) / self.upright_length - 1.0

    def zero_pose(self, shape: tuple[int, ...] = ()) -> dict[str, jax.Array]:
        """The upright pose (every coordinate 0 rad) as a ``q`` mapping."""
        return {c: jnp.zeros(shape, dtype=self.upright_length.dtype) for c in self.coordinates}

    def __repr__(self) -> str:
        return (
            f"GeometryModel(name={self.name!r}, muscles={len(self.muscles)}, "
            f"coordinates={list(self.coordinates)}, source={self.source_file!r})"
        )


#: Poses evaluated together inside one step of the batched evaluation on a CPU. A batch of
#: 4096 poses at once makes every intermediate (an 80-muscle model's Chebyshev features alone
#: are 4096 x 1365 values) spill out of the cache, and each of the ~170 fused loops of an
#: exact path then streams it from memory; steps of this size keep them in cache (lengths and
#: moment arms of sprinter_ja1, 2 shared cores: 2-3x the poses/s of one 4096-pose step,
#: ``experiments/benchmark_geometry.py``). Accelerators take the batch whole.
CPU_CHUNK = 128


def _map_poses(f, qm: jax.Array):
    """``vmap(f)`` over the poses ``qm`` ``[..., coordinate]``, in steps of :data:`CPU_CHUNK`
    poses on a CPU (:func:`_map_chunks`)."""
    return _map_chunks(jax.vmap(f), qm)


def _map_chunks(f, qm: jax.Array):
    """``f`` of the poses ``qm`` ``[..., coordinate]`` flattened to ``[pose, coordinate]``, in
    steps of :data:`CPU_CHUNK` poses on a CPU (the last step padded with copies of the first
    pose, then dropped); ``f`` maps ``[n, coordinate]`` to leaves with a leading ``n``."""
    flat = qm.reshape(-1, qm.shape[-1])
    n = flat.shape[0]
    if jax.default_backend() != "cpu" or n <= CPU_CHUNK:
        return f(flat)
    steps = -(-n // CPU_CHUNK)
    pad = steps * CPU_CHUNK - n
    if pad:
        flat = jnp.concatenate([flat, jnp.broadcast_to(flat[:1], (pad, flat.shape[1]))])
    out = jax.lax.map(f, flat.reshape(steps, CPU_CHUNK, flat.shape[1]))
    return jax.tree_util.tree_map(lambda x: x.reshape((steps * CPU_CHUNK,) + x.shape[2:])[:n], out)


@jax.jit
def _lengths_batched(model: GeometryModel, qm: jax.Array) -> jax.Array:
    """Lengths ``[..., muscle]`` at poses ``qm`` ``[..., coordinate]``; compiled once per model
    structure and shape (inlined when called under an outer ``jit``)."""
    weights = model._weights()
    out = _map_chunks(lambda q: model._chunk_lengths(q, weights), qm)
    return out.reshape(qm.shape[:-1] + (len(model.muscles),))


@jax.jit
def _moment_arms_batched(model: GeometryModel, qm: jax.Array) -> jax.Array:
    weights = model._weights()
    out = _map_poses(lambda qv: model._moment_arm_flat(qv, weights), qm)
    return out.reshape(qm.shape[:-1] + (len(model.muscles), len(model.coordinates)))


@jax.jit
def _corrections_batched(model: GeometryModel, qm: jax.Array) -> jax.Array:
    out = _map_poses(model._correction_flat, qm)
    return out.reshape(qm.shape[:-1] + (len(model.muscles), len(model.coordinates)))


@jax.jit
def _both_batched(model: GeometryModel, qm: jax.Array) -> tuple[jax.Array, jax.Array]:
    weights = model._weights()
    lengths, arms = _map_poses(lambda qv: model._both_flat(qv, weights), qm)
    batch = qm.shape[:-1]
    return (
        lengths.reshape(batch + (len(model.muscles),)),
        arms.reshape(batch + (len(model.muscles), len(model.coordinates))),
    )


def _warn_traced(bad, qmin, qmax, lo, hi, name, coordinates, muscles):
    bad = np.asarray(bad)
    if not bad.any():
        return
    lo, hi = np.asarray(lo), np.asarray(hi)
    qmin, qmax = np.asarray(qmin), np.asarray(qmax)
    lines = []
    for j, c in enumerate(coordinates):
        out = bad & ((qmin[j] < lo[:, j]) | (qmax[j] > hi[:, j]))
        if out.any():
            names = [muscles[i] for i in np.flatnonzero(out)]
            lines.append(
                f"{c} spans [{qmin[j]:.4f}, {qmax[j]:.4f}] rad, beyond the domain of "
                f"{', '.join(names[:6])}{' ...' if len(names) > 6 else ''}"
            )
    if not lines:
        names = [muscles[i] for i in np.flatnonzero(bad)]
        lines.append(
            f"poses in regions excluded where OpenSim's path is erratic for {', '.join(names[:6])}"
        )
    warnings.warn(
        f"pose outside the fitted domain of model {name!r}; "
        + "; ".join(lines)
        + " (lengths there are extrapolated)",
        GeometryDomainWarning,
        stacklevel=2,
    )


def _frames(index: np.ndarray, shown: int = 4) -> str:
    """``"frames 3-17, 40, 52-60 ..."``: runs of consecutive flattened pose indices (the
    frames of a motion), the first ``shown`` of them."""
    runs = np.split(index, np.flatnonzero(np.diff(index) != 1) + 1)
    parts = [f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs[:shown]]
    return "frames " + ", ".join(parts) + (" ..." if len(runs) > shown else "")


def _report_lines(
    model, qm: np.ndarray, lo: np.ndarray, hi: np.ndarray, q, mask: np.ndarray | None = None
) -> list[str]:
    lines = []
    box_bad = np.zeros((len(qm), len(model.muscles)), dtype=bool)
    for j, c in enumerate(model.coordinates):
        below = qm[:, j][:, None] < lo[:, j][None, :]
        above = qm[:, j][:, None] > hi[:, j][None, :]
        bad = below | above
        box_bad |= bad
        if not bad.any():
            continue
        muscles = [model.muscles[i] for i in np.flatnonzero(bad.any(axis=0))]
        finite_lo = lo[:, j][np.isfinite(lo[:, j])]
        finite_hi = hi[:, j][np.isfinite(hi[:, j])]
        rng = f"[{finite_lo.max():.4f}, {finite_hi.min():.4f}] rad" if finite_lo.size else "?"
        worst = qm[bad.any(axis=1), j]
        extreme = worst[np.argmax(np.abs(worst - 0.5 * (finite_lo.max() + finite_hi.min())))]
        lines.append(
            f"{c} = {extreme:.4f} rad ({math.degrees(extreme):.1f} deg) at "
            f"{int(bad.any(axis=1).sum())} pose(s) ({_frames(np.flatnonzero(bad.any(axis=1)))})"
            f" is outside {rng} for "
            f"{', '.join(muscles[:6])}{' ...' if len(muscles) > 6 else ''}"
        )
    if mask is not None:
        region = ~mask & ~box_bad
        if region.any():
            names = [model.muscles[i] for i in np.flatnonzero(region.any(axis=0))]
            lines.append(
                f"{int(region.any(axis=1).sum())} pose(s) "
                f"({_frames(np.flatnonzero(region.any(axis=1)))}) fall in regions excluded where "
                f"OpenSim's path is erratic for {', '.join(names[:6])}"
                f"{' ...' if len(names) > 6 else ''} (see domain_cuts in the model file)"
            )
    for c, v in model.locked_coordinates:
        if c in q:
            off = np.abs(np.asarray(q[c]) - v) > LOCKED_TOL_RAD
            if np.any(off):
                lines.append(f"{c} is locked at {v:.4f} rad in the model but q gives other values")
    return lines


# -------------------------------------------------------------------------------------------
# Building from and to the file format.


def _block_coordinates(block, members: list[int]) -> tuple[int, ...]:
    """The model coordinates the muscles at positions ``members`` of ``block`` read."""
    if not members:
        return ()
    if isinstance(block, PathBlock):
        return block.coordinates_for(members)
    return block.coordinate_index


def _subset(model: GeometryModel, idx: list[int]) -> GeometryModel:
    used = sorted(
        {
            c
            for b in model.blocks
            for c in _block_coordinates(b, [j for j, m in enumerate(b.muscle_index) if m in idx])
        }
    )
    cmap = {c: k for k, c in enumerate(used)}
    mmap = {m: k for k, m in enumerate(idx)}
    blocks, concat = [], []
    for b in model.blocks:
        keep = [j for j, m in enumerate(b.muscle_index) if m in mmap]
        if not keep:
            continue
        if isinstance(b, PathBlock):
            index = [mmap[b.muscle_index[j]] for j in keep]
            blocks.append(b.take(keep, index, cmap))
            concat.extend(index)
            continue
        kk = np.asarray(keep)
        blocks.append(
            _Block(
                muscle_index=tuple(mmap[b.muscle_index[j]] for j in keep),
                coordinate_index=tuple(cmap[c] for c in b.coordinate_index),
                degree=b.degree,
                threshold_slot=tuple(b.threshold_slot[j] for j in keep),
                center=b.center,
                half_width=b.half_width,
                coefficient=index_array(b.coefficient, (slice(None), slice(None), kk)),
                threshold_value=index_array(b.threshold_value, kk),
                piece_kind=tuple(b.piece_kind[j] for j in keep) if b.piece_kind else (),
            )
        )
        concat.extend(mmap[b.muscle_index[j]] for j in keep)
    order = np.argsort(np.asarray(concat))
    ia = np.asarray(idx)
    ca = np.asarray(used, dtype=np.int64)
    return GeometryModel(
        name=model.name,
        muscles=tuple(model.muscles[i] for i in idx),
        coordinates=tuple(model.coordinates[c] for c in used),
        blocks=tuple(blocks),
        order=tuple(int(o) for o in order),
        parameters=_take_parameters(model.parameters, ia),
        upright_length=index_array(model.upright_length, ia),
        domain_lower=index_array(model.domain_lower, np.ix_(ia, ca)),
        domain_upper=index_array(model.domain_upper, np.ix_(ia, ca)),
        **_subset_regions(model, mmap, ca),
        heldout_rms=index_array(model.heldout_rms, ia),
        heldout_max=index_array(model.heldout_max, ia),
        locked_coordinates=model.locked_coordinates,
        locked_muscles=tuple(model.locked_muscles[i] for i in idx),
        knee_flexion_sign=model.knee_flexion_sign,
        source_file=model.source_file,
        source_sha256=model.source_sha256,
        **_subset_corrections(model, mmap, cmap),
    )


def _take_parameters(parameters: MuscleParameters, index: np.ndarray) -> MuscleParameters:
    """``parameters[index]``, leaf by leaf with :func:`~musclesim.core.arrays.index_array`
    (no compiled program for concrete leaves) when every leaf already has the full shape, so
    that :meth:`MuscleParameters.broadcast` would leave it as it is."""
    shape = parameters.shape
    if all(np.shape(x) == shape for x in jax.tree_util.tree_leaves(parameters)):
        return jax.tree_util.tree_map(lambda x: index_array(x, index), parameters)
    return parameters[index]


def _subset_regions(model: GeometryModel, mmap: dict, columns: np.ndarray) -> dict:
    """The excluded regions of the kept muscles (``mmap``: old -> new muscle index), on the
    kept ``columns`` of the coordinates."""
    keep = np.array([k for k, m in enumerate(model.excluded_owner) if m in mmap], dtype=np.int64)
    return dict(
        excluded_lower=index_array(model.excluded_lower, np.ix_(keep, columns)),
        excluded_upper=index_array(model.excluded_upper, np.ix_(keep, columns)),
        excluded_owner=tuple(mmap[model.excluded_owner[k]] for k in keep),
    )


def _subset_corrections(model: GeometryModel, mmap: dict, cmap: dict) -> dict:
    """The arm corrections of the kept muscles, re-indexed (``mmap``, ``cmap``: old -> new)."""
    blocks, pairs = [], []
    for b, (m, c) in zip(model.arm_corrections, model.arm_correction_pairs, strict=True):
        if m in mmap:
            index = tuple(cmap[k] for k in b.coordinate_index)
            blocks.append(dataclasses.replace(b, coordinate_index=index))
            pairs.append((mmap[m], cmap[c]))
    return dict(
        arm_corrections=tuple(blocks),
        arm_correction_pairs=tuple(pairs),
        arm_convention_fitted=model.arm_convention_fitted,
    )
