"""Muscle parameters: an immutable pytree with OpenSim's property names.

Every field is an array, so a batch of muscles, athletes, sides or parameter samples is simply
a ``MuscleParameters`` whose leaves carry leading dimensions; ``jax.vmap`` needs nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.errors import InputError
from ..osim import xml as _osim

#: OpenSim's defaults for ``DeGrooteFregly2016Muscle`` (opensim-core
#: ``OpenSim/Actuators/DeGrooteFregly2016Muscle.cpp``, ``constructProperties``), except
#: ``activation_dynamics_smoothing`` (see :class:`MuscleParameters`).
DEFAULTS = {
    "max_contraction_velocity": 10.0,
    "tendon_strain_at_one_norm_force": 0.049,
    "passive_fiber_strain_at_one_norm_force": 0.6,
    "active_force_width_scale": 1.0,
    "fiber_damping": 0.0,
    "activation_time_constant": 0.015,
    "deactivation_time_constant": 0.060,
    "activation_dynamics_smoothing": 10.0,
}

FIELDS = (
    "max_isometric_force",
    "optimal_fiber_length",
    "tendon_slack_length",
    "pennation_angle_at_optimal",
    *DEFAULTS,
)


class MuscleParameters(eqx.Module):
    """Hill-type musculotendon parameters, SI units, OpenSim's property names.

    Attributes:
        max_isometric_force: F_max (N).
        optimal_fiber_length: l_opt (m).
        tendon_slack_length: l_ts (m).
        pennation_angle_at_optimal: alpha_opt (rad), in [0, pi/2).
        max_contraction_velocity: v_max in optimal fibre lengths per second.
        tendon_strain_at_one_norm_force: tendon strain at F_max (De Groote 2016 default 0.049).
        passive_fiber_strain_at_one_norm_force: fibre strain at which passive force is F_max.
        active_force_width_scale: widens the active force-length curve about l_opt (>= 1).
        fiber_damping: linear damping, normalised force per normalised fibre velocity.
        activation_time_constant, deactivation_time_constant: tau_act, tau_deact (s).
        activation_dynamics_smoothing: steepness b of the tanh switch between activation and
            deactivation. OpenSim's default is 0.1, which its own documentation calls too
            smooth (it blends the two time constants); musclesim defaults to 10, the value
            OpenSim recommends, and reads the file's value for DeGrooteFregly2016Muscle.

    Leaves may carry leading batch dimensions; they must broadcast against each other.
    """

    max_isometric_force: jax.Array
    optimal_fiber_length: jax.Array
    tendon_slack_length: jax.Array
    pennation_angle_at_optimal: jax.Array
    max_contraction_velocity: jax.Array
    tendon_strain_at_one_norm_force: jax.Array
    passive_fiber_strain_at_one_norm_force: jax.Array
    active_force_width_scale: jax.Array
    fiber_damping: jax.Array
    activation_time_constant: jax.Array
    deactivation_time_constant: jax.Array
    activation_dynamics_smoothing: jax.Array

    def __init__(
        self,
        max_isometric_force,
        optimal_fiber_length,
        tendon_slack_length,
        pennation_angle_at_optimal=0.0,
        *,
        max_contraction_velocity=DEFAULTS["max_contraction_velocity"],
        tendon_strain_at_one_norm_force=DEFAULTS["tendon_strain_at_one_norm_force"],
        passive_fiber_strain_at_one_norm_force=DEFAULTS["passive_fiber_strain_at_one_norm_force"],
        active_force_width_scale=DEFAULTS["active_force_width_scale"],
        fiber_damping=DEFAULTS["fiber_damping"],
        activation_time_constant=DEFAULTS["activation_time_constant"],
        deactivation_time_constant=DEFAULTS["deactivation_time_constant"],
        activation_dynamics_smoothing=DEFAULTS["activation_dynamics_smoothing"],
    ):
        as_array = jnp.asarray
        self.max_isometric_force = as_array(max_isometric_force)
        self.optimal_fiber_length = as_array(optimal_fiber_length)
        self.tendon_slack_length = as_array(tendon_slack_length)
        self.pennation_angle_at_optimal = as_array(pennation_angle_at_optimal)
        self.max_contraction_velocity = as_array(max_contraction_velocity)
        self.tendon_strain_at_one_norm_force = as_array(tendon_strain_at_one_norm_force)
        self.passive_fiber_strain_at_one_norm_force = as_array(
            passive_fiber_strain_at_one_norm_force
        )
        self.active_force_width_scale = as_array(active_force_width_scale)
        self.fiber_damping = as_array(fiber_damping)
        self.activation_time_constant = as_array(activation_time_constant)
        self.deactivation_time_constant = as_array(deactivation_time_constant)
        self.activation_dynamics_smoothing = as_array(activation_dynamics_smoothing)

    # ----------------------------------------------------------------------------------------
    # Derived quantities (all SI).
    @property
    def fiber_width(self) -> jax.Array:
        """Constant-width pennation: h = l_opt sin(alpha_opt) (m)."""
        return self.optimal_fiber_length * jnp.sin(self.pennation_angle_at_optimal)

    @property
    def max_fiber_velocity(self) -> jax.Array:
        """v_max l_opt (m/s)."""
        return self.max_contraction_velocity * self.optimal_fiber_length

    @property
    def shape(self) -> tuple[int, ...]:
        """The broadcast batch shape of the leaves."""
        return jnp.broadcast_shapes(*(jnp.shape(getattr(self, f)) for f in FIELDS))

    def broadcast(self) -> MuscleParameters:
        """Every leaf broadcast to :attr:`shape` (handy before indexing or stacking)."""
        shape = self.shape
        return jax.tree.map(lambda x: jnp.broadcast_to(x, shape), self)

    def __getitem__(self, index) -> MuscleParameters:
        return jax.tree.map(lambda x: x[index], self.broadcast())

    def replace(self, **changes) -> MuscleParameters:
        """A copy with some fields changed (``eqx.tree_at`` under the hood)."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise InputError(
                f"unknown parameter(s) {sorted(unknown)}",
                field="MuscleParameters",
                expected=f"one of {list(FIELDS)}",
            )
        new = self
        for name, value in changes.items():
            new = eqx.tree_at(lambda p, n=name: getattr(p, n), new, jnp.asarray(value))
        return new

    def as_dict(self) -> dict[str, np.ndarray]:
        """Leaves as NumPy arrays, by property name."""
        return {f: np.asarray(getattr(self, f)) for f in FIELDS}

    @classmethod
    def stack(cls, items: Sequence[MuscleParameters]) -> MuscleParameters:
        """Stack single-muscle parameter sets along a new leading axis."""
        items = [p.broadcast() for p in items]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *items)

    # ----------------------------------------------------------------------------------------
    def check(self, *, source: str = "MuscleParameters") -> MuscleParameters:
        """Raise :class:`InputError` for impossible values (concrete arrays only).

        Checked: F_max, l_opt, l_ts, v_max, tendon and passive strains, time constants and
        smoothing > 0; alpha_opt in [0, pi/2); width scale >= 1; damping >= 0; all finite.
        """
        rules = {
            "max_isometric_force": ("> 0", lambda x: x > 0),
            "optimal_fiber_length": ("> 0 m", lambda x: x > 0),
            "tendon_slack_length": ("> 0 m", lambda x: x > 0),
            "pennation_angle_at_optimal": (
                "in [0, pi/2) rad",
                lambda x: (x >= 0) & (x < math.pi / 2 - 1e-9),
            ),
            "max_contraction_velocity": ("> 0 l_opt/s", lambda x: x > 0),
            "tendon_strain_at_one_norm_force": ("> 0", lambda x: x > 0),
            "passive_fiber_strain_at_one_norm_force": ("> 0", lambda x: x > 0),
            "active_force_width_scale": (">= 1", lambda x: x >= 1),
            "fiber_damping": (">= 0", lambda x: x >= 0),
            "activation_time_constant": ("> 0 s", lambda x: x > 0),
            "deactivation_time_constant": ("> 0 s", lambda x: x > 0),
            "activation_dynamics_smoothing": ("> 0", lambda x: x > 0),
        }
        for name, (expected, ok) in rules.items():
            value = getattr(self, name)
            if isinstance(value, jax.core.Tracer):
                continue
            value = np.asarray(value, dtype=float)
            bad = ~np.isfinite(value) | ~ok(value)
            if np.any(bad):
                first = value.reshape(-1)[np.argmax(bad.reshape(-1))] if value.ndim else value
                raise InputError(
                    f"impossible value {float(first)!r}",
                    path=None,
                    field=f"{source}.{name}",
                    expected=f"a finite value {expected}",
                )
        return self

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_osim(cls, path: str | Path, names: str | Sequence[str]) -> MuscleParameters:
        """Read parameters of the named muscles from an ``.osim`` file, without OpenSim.

        ``DeGrooteFregly2016Muscle``, ``Millard2012EquilibriumMuscle`` and ``Thelen2003Muscle``
        elements are mapped the way OpenSim's ``DeGrooteFregly2016Muscle::replaceMuscles``
        maps them: Millard's fibre force-length curve ``strain_at_one_norm_force`` becomes
        ``passive_fiber_strain_at_one_norm_force`` and its tendon curve's becomes
        ``tendon_strain_at_one_norm_force``; Thelen's ``FmaxMuscleStrain`` and
        ``FmaxTendonStrain`` likewise, with ``fiber_damping`` 0. A property absent from the
        file takes that class's OpenSim default.

        A single name gives unbatched leaves; a sequence gives leaves of shape ``(len(names),)``
        in the order given.
        """
        single = isinstance(names, str)
        wanted = [names] if single else list(names)
        root = _osim.parse_osim(path)
        elements = _osim.muscle_elements(root)
        rows = []
        for name in wanted:
            if name not in elements:
                close = [n for n in elements if n.split("_")[0] in name or name in n][:5]
                raise InputError(
                    f"no muscle named {name!r}",
                    path=path,
                    field="ForceSet",
                    expected=f"one of the model's {len(elements)} muscles"
                    + (f", e.g. {close}" if close else ""),
                )
            rows.append(_read_muscle_element(elements[name], path=path))
        params = cls.stack([cls(**row) for row in rows])
        if single:
            params = params[0]
        return params.check(source=str(path))


# Class-specific OpenSim defaults used when a property is absent from the file.
_CLASS_DEFAULTS = {
    # opensim-core DeGrooteFregly2016Muscle::constructProperties
    "DeGrooteFregly2016Muscle": {
        "max_contraction_velocity": 10.0,
        "tendon_strain_at_one_norm_force": 0.049,
        "passive_fiber_strain_at_one_norm_force": 0.6,
        "active_force_width_scale": 1.0,
        "fiber_damping": 0.0,
        "activation_time_constant": 0.015,
        "deactivation_time_constant": 0.060,
        "activation_dynamics_smoothing": 0.1,
    },
    # opensim-core Millard2012EquilibriumMuscle.cpp (fiber_damping 0.1, time constants 0.01 and
    # 0.04) and TendonForceLengthCurve / FiberForceLengthCurve defaults (0.049, 0.7).
    "Millard2012EquilibriumMuscle": {
        "max_contraction_velocity": 10.0,
        "tendon_strain_at_one_norm_force": 0.049,
        "passive_fiber_strain_at_one_norm_force": 0.7,
        "active_force_width_scale": 1.0,
        "fiber_damping": 0.1,
        "activation_time_constant": 0.01,
        "deactivation_time_constant": 0.04,
        "activation_dynamics_smoothing": DEFAULTS["activation_dynamics_smoothing"],
    },
    # opensim-core Thelen2003Muscle.cpp (FmaxTendonStrain 0.04, FmaxMuscleStrain 0.6,
    # activation 0.015 s, deactivation 0.05 s); no damping property.
    "Thelen2003Muscle": {
        "max_contraction_velocity": 10.0,
        "tendon_strain_at_one_norm_force": 0.04,
        "passive_fiber_strain_at_one_norm_force": 0.6,
        "active_force_width_scale": 1.0,
        "fiber_damping": 0.0,
        "activation_time_constant": 0.015,
        "deactivation_time_constant": 0.05,
        "activation_dynamics_smoothing": DEFAULTS["activation_dynamics_smoothing"],
    },
}

# Where each DeGroote-named property lives in the other classes' XML.
_CLASS_TAGS = {
    "DeGrooteFregly2016Muscle": {},
    "Millard2012EquilibriumMuscle": {
        "passive_fiber_strain_at_one_norm_force": "FiberForceLengthCurve/strain_at_one_norm_force",
        "tendon_strain_at_one_norm_force": "TendonForceLengthCurve/strain_at_one_norm_force",
        "active_force_width_scale": None,
        "activation_dynamics_smoothing": None,
    },
    "Thelen2003Muscle": {
        "passive_fiber_strain_at_one_norm_force": "FmaxMuscleStrain",
        "tendon_strain_at_one_norm_force": "FmaxTendonStrain",
        "active_force_width_scale": None,
        "fiber_damping": None,
        "activation_dynamics_smoothing": None,
    },
}


def _read_muscle_element(element, *, path) -> dict[str, float]:
    cls_name = element.tag
    name = element.get("name")
    context = f"{cls_name}[@name={name!r}]"
    if cls_name not in _CLASS_DEFAULTS:
        raise InputError(
            f"muscle {name!r} is a {cls_name}",
            path=path,
            field=context,
            expected=f"one of {list(_osim.SUPPORTED_MUSCLE_CLASSES)}",
        )
    row: dict[str, float] = {}
    for field in ("max_isometric_force", "optimal_fiber_length", "tendon_slack_length"):
        value = _osim.child_float(element, field, path=path, context=context)
        if value is None:
            raise InputError(
                "required property is missing",
                path=path,
                field=f"{context}/{field}",
                expected="a positive number",
            )
        row[field] = value
    row["pennation_angle_at_optimal"] = (
        _osim.child_float(element, "pennation_angle_at_optimal", path=path, context=context) or 0.0
    )
    defaults = _CLASS_DEFAULTS[cls_name]
    tags = _CLASS_TAGS[cls_name]
    for field, default in defaults.items():
        tag = tags.get(field, field)
        value = None if tag is None else _osim.child_float(element, tag, path=path, context=context)
        row[field] = default if value is None else value
    return row
