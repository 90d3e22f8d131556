"""The uncertainty model of the Monte Carlo: what is uncertain, how much, and where that number
comes from, read from TOML (the shipped ``default.toml`` with its sources, overridden entry by
entry by a user file).

Three kinds of uncertainty:

1. **muscle parameters** (:data:`PARAMETER_NAMES`): multiplicative log-normal factors with
   median 1 on the athlete's own parameters, ``ln(factor) ~ N(0, sigma^2)`` with a correlation
   matrix between the ``ln(factor)``\\ s (:func:`sample_factors`, :func:`apply_factors`). The
   default couples optimal fibre length and tendon slack length negatively: the MTU length at a
   given pose is fixed by the geometry, so a longer fibre means a shorter tendon;
2. **joint angles**: per coordinate group, a constant offset (marker placement, calibration)
   plus a smooth error with a squared-exponential correlation over a stated time
   (:func:`sample_coordinate_offsets`), in radians;
3. **excitation**: a log-normal factor on a motion's whole excitation
   (:func:`sample_excitation_scale`).

Every draw is clipped at ``truncation_sd`` standard deviations, so every sample is a muscle the
curves are valid for. All sampling goes through ``jax.random`` keys: the same key gives the same
numbers.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...core.errors import InputError

#: The :class:`~musclesim.MuscleParameters` fields the model may make uncertain, in the order
#: of the correlation matrix.
PARAMETER_NAMES: tuple[str, ...] = (
    "max_isometric_force",
    "optimal_fiber_length",
    "tendon_slack_length",
    "pennation_angle_at_optimal",
    "tendon_strain_at_one_norm_force",
)

#: The kinds of uncertainty a model holds (:meth:`UncertaintyModel.only`).
KINDS: tuple[str, ...] = ("parameters", "kinematics", "excitation")

#: The shipped model, with a source for every number.
DEFAULT_PATH = Path(__file__).with_name("default.toml")

#: Random Fourier features of each smooth joint-angle error: the error is exactly Gaussian with
#: the stated SD at every sample, and its covariance is the squared-exponential kernel in
#: expectation over the frequencies; 32 features make each draw's own covariance close to it.
FOURIER_FEATURES = 32


@dataclasses.dataclass(frozen=True)
class ParameterSpread:
    """Spread of one muscle parameter: ``ln(factor) ~ N(0, log_sigma^2)``."""

    name: str
    log_sigma: float
    references: tuple[str, ...]
    note: str


@dataclasses.dataclass(frozen=True)
class Correlation:
    """Correlation ``rho`` between the ``ln(factor)`` of two parameters."""

    between: tuple[str, str]
    rho: float
    references: tuple[str, ...]
    note: str


@dataclasses.dataclass(frozen=True)
class KinematicGroup:
    """Joint-angle error of the coordinates named ``coordinates`` (without side suffix): a
    constant offset with SD ``offset`` (rad) plus a smooth error with SD ``smooth`` (rad)."""

    name: str
    coordinates: tuple[str, ...]
    offset: float
    smooth: float
    references: tuple[str, ...]
    note: str


@dataclasses.dataclass(frozen=True)
class UncertaintyModel:
    """What the Monte Carlo samples (module docstring), each entry with its references and a
    note saying where the number comes from. Built by :func:`load_uncertainty`."""

    parameters: tuple[ParameterSpread, ...]
    correlations: tuple[Correlation, ...]
    kinematics: tuple[KinematicGroup, ...]
    correlation_time: float  # s, of the smooth joint-angle error
    kinematics_references: tuple[str, ...]
    kinematics_note: str
    excitation_log_sigma: float
    excitation_references: tuple[str, ...]
    excitation_note: str
    truncation_sd: float = 3.0
    source: str = str(DEFAULT_PATH)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The uncertain parameters, in :data:`PARAMETER_NAMES` order."""
        return tuple(p.name for p in self.parameters)

    def log_sigma(self, name: str) -> float:
        """SD of ``ln(factor)`` of parameter ``name`` (0 for a parameter not in the model)."""
        return next((p.log_sigma for p in self.parameters if p.name == name), 0.0)

    def correlation_matrix(self) -> np.ndarray:
        """Correlation matrix of the ``ln(factor)``\\ s, rows in :attr:`parameter_names`."""
        names = self.parameter_names
        c = np.eye(len(names))
        for corr in self.correlations:
            a, b = corr.between
            if a in names and b in names:
                i, j = names.index(a), names.index(b)
                c[i, j] = c[j, i] = corr.rho
        return c

    def group_of(self, coordinate: str) -> KinematicGroup | None:
        """The kinematic group of a model coordinate (side suffix ``_r``/``_l`` ignored)."""
        base = _base_name(coordinate)
        return next((g for g in self.kinematics if base in g.coordinates), None)

    @property
    def references(self) -> tuple[str, ...]:
        """Every reference key the model cites, each once."""
        keys = [k for p in self.parameters for k in p.references]
        keys += [k for c in self.correlations for k in c.references]
        keys += [k for g in self.kinematics for k in g.references]
        keys += [*self.kinematics_references, *self.excitation_references]
        return tuple(dict.fromkeys(keys))

    def scaled(self, factor: float) -> UncertaintyModel:
        """The same model with every spread (log-SDs, joint-angle amplitudes, excitation
        log-SD) multiplied by ``factor``; correlations and sources unchanged. ``factor`` 0
        makes every input certain."""
        return dataclasses.replace(
            self,
            parameters=tuple(
                dataclasses.replace(p, log_sigma=p.log_sigma * factor) for p in self.parameters
            ),
            kinematics=tuple(
                dataclasses.replace(g, offset=g.offset * factor, smooth=g.smooth * factor)
                for g in self.kinematics
            ),
            excitation_log_sigma=self.excitation_log_sigma * factor,
            source=f"{self.source}, spreads x{factor:g}",
        )

    def only(self, *kinds: str) -> UncertaintyModel:
        """The model with only the named kinds of uncertainty (``"parameters"``,
        ``"kinematics"``, ``"excitation"``) kept; the others are made certain."""
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise InputError(
                f"unknown kind(s) {sorted(unknown)}", field="kinds", expected=f"among {KINDS}"
            )
        out = self
        if "parameters" not in kinds:
            out = dataclasses.replace(
                out,
                parameters=tuple(dataclasses.replace(p, log_sigma=0.0) for p in out.parameters),
            )
        if "kinematics" not in kinds:
            out = dataclasses.replace(
                out,
                kinematics=tuple(
                    dataclasses.replace(g, offset=0.0, smooth=0.0) for g in out.kinematics
                ),
            )
        if "excitation" not in kinds:
            out = dataclasses.replace(out, excitation_log_sigma=0.0)
        return dataclasses.replace(out, source=f"{self.source}, only {'+'.join(kinds)}")

    def mean_factors(self) -> dict[str, float]:
        """``E[factor]`` of each parameter, ``exp(sigma^2 / 2)`` (the log-normal mean; the
        clipping at ``truncation_sd`` moves it by less than 1e-3 relative for sigma < 0.5)."""
        return {p.name: math.exp(0.5 * p.log_sigma**2) for p in self.parameters}

    def summary(self) -> str:
        """One line per entry, for reports and result attributes."""
        lines = [f"uncertainty model: {self.source} (draws clipped at {self.truncation_sd:g} SD)"]
        for p in self.parameters:
            lines.append(
                f"  {p.name}: log-normal factor, log-SD {p.log_sigma:.3g} "
                f"({', '.join(p.references)})"
            )
        for c in self.correlations:
            lines.append(f"  corr({c.between[0]}, {c.between[1]}) = {c.rho:+.2f}")
        for g in self.kinematics:
            lines.append(
                f"  {'/'.join(g.coordinates)}: offset SD {math.degrees(g.offset):.3g} deg + smooth "
                f"SD {math.degrees(g.smooth):.3g} deg over {self.correlation_time:g} s "
                f"({', '.join(g.references)})"
            )
        lines.append(
            f"  excitation: log-normal factor, log-SD {self.excitation_log_sigma:.3g} "
            f"({', '.join(self.excitation_references)})"
        )
        return "\n".join(lines)


def _base_name(coordinate: str) -> str:
    for suffix in ("_r", "_l"):
        if coordinate.endswith(suffix):
            return coordinate[: -len(suffix)]
    return coordinate


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path=path) from exc


def _merge(base: dict, override: dict) -> dict:
    """``override`` on ``base``: tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _number(table: Mapping, key: str, *, path, field: str, lo: float = 0.0, hi=math.inf):
    value = table.get(key)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= float(value) <= hi:
        bound = f"<= {hi:g}" if math.isfinite(hi) else "finite"
        raise InputError(
            f"{value!r}", path=path, field=f"{field}.{key}", expected=f"a number >= {lo:g}, {bound}"
        )
    return float(value)


def _references(table: Mapping, *, path, field: str) -> tuple[str, ...]:
    refs = table.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise InputError(
            f"{refs!r}", path=path, field=f"{field}.references", expected="a list of reference keys"
        )
    return tuple(refs)


def _text(table: Mapping, key: str, *, path, field: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise InputError(f"{value!r}", path=path, field=f"{field}.{key}", expected="a string")
    return value


def _table(data: Mapping, key: str, *, path, field: str | None = None) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{value!r}", path=path, field=field or key, expected="a table")
    return value


def load_uncertainty(path: str | Path | None = None) -> UncertaintyModel:
    """The uncertainty model: ``default.toml`` (shipped, every entry sourced), with the
    entries of the TOML file ``path`` replacing the ones they name.

    A user file has the layout of ``default.toml``: ``[parameters.<name>]`` with ``log_sigma``
    (set it to 0 to make the parameter certain), ``[[correlation]]`` (``between = [a, b]``,
    ``rho``; a user file's list replaces the default list), ``[kinematics]`` with
    ``correlation_time_s`` and ``[kinematics.<group>]`` with ``coordinates``, ``offset_deg``,
    ``smooth_deg``; ``[excitation]`` with ``log_sigma``; ``truncation_sd``. Entries the user
    file gives without ``references`` and ``note`` are attributed to the file.

    Raises :class:`~musclesim.core.errors.InputError` naming the file and field of a bad
    entry: an unknown parameter, a negative or non-finite spread, a correlation outside
    [-1, 1] or a correlation matrix that is not positive semi-definite.
    """
    data = _read(DEFAULT_PATH)
    source = str(DEFAULT_PATH)
    where = DEFAULT_PATH
    if path is not None:
        where = Path(path)
        user = _read(where)
        attribution = {"references": [], "note": f"from {where}"}
        for section in ("parameters",):
            for name, entry in _table(user, section, path=where).items():
                if isinstance(entry, dict) and "log_sigma" in entry and "note" not in entry:
                    user[section][name] = attribution | entry
        data = _merge(data, user)
        source = f"{DEFAULT_PATH.name} overridden by {where}"

    params = []
    for name, entry in _table(data, "parameters", path=where).items():
        field = f"parameters.{name}"
        if name not in PARAMETER_NAMES:
            raise InputError(
                f"unknown parameter {name!r}",
                path=where,
                field=field,
                expected=f"one of {', '.join(PARAMETER_NAMES)}",
            )
        if not isinstance(entry, dict):
            raise InputError(f"{entry!r}", path=where, field=field, expected="a table")
        params.append(
            ParameterSpread(
                name,
                _number(entry, "log_sigma", path=where, field=field, hi=2.0),
                _references(entry, path=where, field=field),
                _text(entry, "note", path=where, field=field),
            )
        )
    params.sort(key=lambda p: PARAMETER_NAMES.index(p.name))
    names = [p.name for p in params]

    correlations = []
    raw = data.get("correlation", [])
    if not isinstance(raw, list):
        raise InputError(f"{raw!r}", path=where, field="correlation", expected="[[correlation]]")
    for k, entry in enumerate(raw):
        field = f"correlation[{k}]"
        between = entry.get("between") if isinstance(entry, dict) else None
        if (
            not isinstance(between, list)
            or len(between) != 2
            or any(b not in names for b in between)
            or between[0] == between[1]
        ):
            raise InputError(
                f"between = {between!r}",
                path=where,
                field=f"{field}.between",
                expected=f"two different parameters among {', '.join(names)}",
            )
        correlations.append(
            Correlation(
                (between[0], between[1]),
                _number(entry, "rho", path=where, field=field, lo=-1.0, hi=1.0),
                _references(entry, path=where, field=field),
                _text(entry, "note", path=where, field=field),
            )
        )

    kin = _table(data, "kinematics", path=where)
    groups = []
    for name, entry in kin.items():
        if not isinstance(entry, dict):
            continue
        field = f"kinematics.{name}"
        coords = entry.get("coordinates")
        if not isinstance(coords, list) or not all(isinstance(c, str) for c in coords):
            raise InputError(
                f"{coords!r}",
                path=where,
                field=f"{field}.coordinates",
                expected="a list of coordinate names without side suffix (e.g. 'hip_flexion')",
            )
        groups.append(
            KinematicGroup(
                name,
                tuple(_base_name(c) for c in coords),
                math.radians(_number(entry, "offset_deg", path=where, field=field, hi=45.0)),
                math.radians(_number(entry, "smooth_deg", path=where, field=field, hi=45.0)),
                _references(entry, path=where, field=field),
                _text(entry, "note", path=where, field=field),
            )
        )
    seen: dict[str, str] = {}
    for g in groups:
        for c in g.coordinates:
            if c in seen:
                raise InputError(
                    f"coordinate {c!r} is in groups {seen[c]!r} and {g.name!r}",
                    path=where,
                    field=f"kinematics.{g.name}.coordinates",
                    expected="each coordinate in one group",
                )
            seen[c] = g.name
    corr_time = _number(kin, "correlation_time_s", path=where, field="kinematics", lo=1e-3)
    exc = _table(data, "excitation", path=where)
    model = UncertaintyModel(
        parameters=tuple(params),
        correlations=tuple(correlations),
        kinematics=tuple(groups),
        correlation_time=corr_time,
        kinematics_references=_references(kin, path=where, field="kinematics"),
        kinematics_note=_text(kin, "note", path=where, field="kinematics"),
        excitation_log_sigma=_number(exc, "log_sigma", path=where, field="excitation", hi=2.0),
        excitation_references=_references(exc, path=where, field="excitation"),
        excitation_note=_text(exc, "note", path=where, field="excitation"),
        truncation_sd=_number(data, "truncation_sd", path=where, field="truncation_sd", lo=0.5),
        source=source,
    )
    eigenvalues = np.linalg.eigvalsh(model.correlation_matrix())
    if eigenvalues.size and eigenvalues.min() < -1e-9:
        raise InputError(
            f"the correlations make a matrix with eigenvalue {eigenvalues.min():.3g}",
            path=where,
            field="correlation",
            expected="correlations that a joint distribution can have (positive semi-definite)",
        )
    return model


# ----------------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------------


def _clipped_normal(key, shape, truncation_sd: float) -> jax.Array:
    return jnp.clip(jax.random.normal(key, shape), -truncation_sd, truncation_sd)


def sample_factors(model: UncertaintyModel, key, n: int) -> dict[str, jax.Array]:
    """``{parameter: factor [n]}``: correlated log-normal factors with median 1.

    ``ln(factors) = z S`` with ``z ~ N(0, I)`` clipped at ``model.truncation_sd`` and
    ``S = diag(sigma) C^(1/2)`` (the symmetric square root of the correlation matrix ``C``, so
    that a matrix with a zero eigenvalue, a perfect coupling, is allowed); each ``ln(factor)``
    is clipped again at ``truncation_sd`` of its own SD.
    """
    names = model.parameter_names
    if not names:
        return {}
    sigma = np.array([model.log_sigma(n_) for n_ in names])
    w, v = np.linalg.eigh(model.correlation_matrix())
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    z = _clipped_normal(key, (n, len(names)), model.truncation_sd)
    logs = (z @ jnp.asarray(root.T)) * jnp.asarray(sigma)
    bound = model.truncation_sd * jnp.asarray(sigma)
    logs = jnp.clip(logs, -bound, bound)
    return {name: jnp.exp(logs[:, i]) for i, name in enumerate(names)}


def apply_factors(params, factors: Mapping[str, jax.Array]):
    """``params`` with each named leaf multiplied by its factor; the factors' leading axis
    (``[n]``) becomes a leading axis of those leaves (``[n, *leaf.shape]``). Leaves without a
    factor keep their shape and broadcast against the others."""
    unknown = [k for k in factors if k not in PARAMETER_NAMES]
    if unknown:
        raise InputError(
            f"no uncertain parameter {unknown}",
            field="factors",
            expected=", ".join(PARAMETER_NAMES),
        )
    changes = {}
    for name, factor in factors.items():
        leaf = jnp.asarray(getattr(params, name))
        f = jnp.asarray(factor, dtype=leaf.dtype)
        changes[name] = leaf * f.reshape(f.shape + (1,) * leaf.ndim)
    out = params
    for name, value in changes.items():
        out = eqx.tree_at(lambda p, name=name: getattr(p, name), out, value)
    return out


def sample_coordinate_offsets(
    model: UncertaintyModel, key, time, coordinate_names: Sequence[str], n: int
) -> dict[str, jax.Array]:
    """``{coordinate: offset [n, T]}`` (rad): a smooth random joint-angle error per coordinate
    of a kinematic group (coordinates in no group get zeros).

    Each is a constant offset ``offset * z0`` plus ``smooth * g(t)``, ``g`` a zero-mean,
    unit-variance Gaussian process with squared-exponential covariance
    ``exp(-(t - t')^2 / (2 tau^2))``, ``tau = model.correlation_time``, drawn as
    :data:`FOURIER_FEATURES` random Fourier features
    ``g(t) = sqrt(1/K) sum_k (a_k cos(w_k t) + b_k sin(w_k t))``, ``w_k ~ N(0, 1/tau^2)``,
    ``a_k, b_k ~ N(0, 1)``. ``time`` (s) is ``[T]`` (one grid for all) or ``[n, T]``.
    Coordinates draw independent errors; the same key gives the same offsets.
    """
    time = jnp.asarray(time, dtype=float)
    t = jnp.broadcast_to(time, (n, time.shape[-1]))
    t = t - t[:, :1]
    out = {}
    keys = jax.random.split(key, max(len(coordinate_names), 1))
    k_features = FOURIER_FEATURES
    for c, ck in zip(coordinate_names, keys, strict=False):
        group = model.group_of(c)
        if group is None or (group.offset == 0 and group.smooth == 0):
            out[c] = jnp.zeros_like(t)
            continue
        k0, kw, kab = jax.random.split(ck, 3)
        z0 = _clipped_normal(k0, (n, 1), model.truncation_sd)
        w = jax.random.normal(kw, (n, 1, k_features)) / model.correlation_time
        ab = jax.random.normal(kab, (2, n, 1, k_features))
        phase = t[..., None] * w
        g = (ab[0] * jnp.cos(phase) + ab[1] * jnp.sin(phase)).sum(-1) / math.sqrt(k_features)
        g = jnp.clip(g, -model.truncation_sd, model.truncation_sd)
        out[c] = group.offset * z0 + group.smooth * g
    return out


def sample_excitation_scale(model: UncertaintyModel, key, n: int) -> jax.Array:
    """Multiplicative factors ``[n]`` on a motion's excitation: log-normal, median 1, log-SD
    ``model.excitation_log_sigma``, clipped at ``truncation_sd``."""
    z = _clipped_normal(key, (n,), model.truncation_sd)
    return jnp.exp(model.excitation_log_sigma * z)
