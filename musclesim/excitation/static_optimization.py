"""Static optimisation as an excitation source: joint moments (given, or computed by inverse
dynamics) shared among the muscles crossing a leg's joints by
:func:`musclesim.dynamics.static_opt.static_optimization`, and the activations turned into
excitations by inverting the activation dynamics, for :func:`musclesim.simulate`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from ..core.errors import InputError
from ..dynamics.static_opt import (
    DEFAULT_EXPONENT,
    DEFAULT_RESERVE_OPTIMAL_FORCE,
    crossing_muscles,
    excitation_from_activation,
    leg_coordinates,
    moments_array,
    static_optimization,
)
from ..geometry.io import load_model
from ..geometry.model import GeometryModel
from ..motion.processing import match_coordinates, motion_derivatives
from ..motion.read import read_motion
from .sources import ExcitationSource


class StaticOptimization(ExcitationSource):
    """Excitation source from static optimisation (``simulate(..., excitation=...)``).

    Holds a solved time series (activations of the leg's muscles, and the excitations that
    drive De Groote's activation dynamics along them, :func:`excitation_from_activation`)
    and returns excitations for the requested muscles at the requested times by linear
    interpolation. Build it with :meth:`from_motion`.
    """

    references = ("degroote2016", "delp2007")

    def __init__(self, time, muscles: Sequence[str], excitation, *, dataset=None):
        time = np.asarray(time, dtype=float)
        excitation = np.asarray(excitation, dtype=float)
        if time.ndim != 1 or excitation.shape != (time.size, len(muscles)):
            raise InputError(
                f"excitation has shape {excitation.shape}, time {time.shape}",
                field="excitation",
                expected=f"(time, muscle) = {(time.size, len(muscles))}",
            )
        if not np.all(np.isfinite(excitation)):
            raise InputError("non-finite excitation", field="excitation", expected="finite")
        self.time = time
        self.muscles = tuple(muscles)
        self.excitation = np.clip(excitation, 0.0, 1.0)
        self.dataset = dataset

    @classmethod
    def from_motion(
        cls,
        model,
        motion,
        moments,
        *,
        side: str,
        exponent: float = DEFAULT_EXPONENT,
        reserve_optimal_force=DEFAULT_RESERVE_OPTIMAL_FORCE,
        include_passive: bool = True,
        active_along_tendon: bool = True,
        derivative_method: str = "spline",
        on_failure: str = "raise",
        strict_domain: bool = False,
        moment_arm_convention: str = "length",
    ) -> StaticOptimization:
        """Solve static optimisation of one leg along a motion and build the source.

        Args:
            model: shipped name or :class:`~musclesim.GeometryModel`.
            motion: motion file or Dataset (``q`` in rad; ``qdot`` is computed with
                :func:`musclesim.motion_derivatives` when absent). Filter it first if noisy,
                the same way as for the inverse dynamics that gave ``moments``.
            moments: joint moments in any form :func:`moments_array` accepts.
            side: ``"r"`` or ``"l"``: the leg whose coordinates are matched.
            Other options: see :func:`static_optimization`.
        """

        geometry = model if isinstance(model, GeometryModel) else load_model(model)
        if not hasattr(motion, "data_vars"):
            motion = read_motion(motion)
        if "qdot" not in motion:
            motion = motion_derivatives(motion, method=derivative_method)
        coords = leg_coordinates(geometry, side)
        names = crossing_muscles(geometry, coords)
        needed = geometry.select(names).coordinates
        sel = match_coordinates(motion, needed)
        time = np.asarray(motion["time"].values, dtype=float)
        q = {c: jnp.asarray(sel["q"].sel(coordinate=c).values) for c in needed}
        qd = {c: jnp.asarray(sel["qdot"].sel(coordinate=c).values) for c in needed}
        tau = moments_array(moments, coords, time)
        result = static_optimization(
            geometry,
            q,
            qd,
            jnp.asarray(tau),
            coordinates=coords,
            muscles=names,
            exponent=exponent,
            reserve_optimal_force=reserve_optimal_force,
            include_passive=include_passive,
            active_along_tendon=active_along_tendon,
            strict_domain=strict_domain,
            on_failure=on_failure,
            moment_arm_convention=moment_arm_convention,
        )
        params = geometry.select(names).parameters
        excitation = excitation_from_activation(params, time, result.activation)
        ds = result.to_dataset(
            time,
            attrs={
                "model_name": geometry.name,
                "model_source_sha256": geometry.source_sha256,
                "motion_source": str(motion.attrs.get("source_path", "")),
                "side": side,
                "reserve_optimal_force_Nm": str(reserve_optimal_force),
                "include_passive": int(include_passive),
                "active_along_tendon": int(active_along_tendon),
                "moment_arm_convention": moment_arm_convention,
            },
        )
        ds["excitation"] = (
            ("time", "muscle"),
            excitation,
            {"units": "1", "long_name": "excitation inverting De Groote activation dynamics"},
        )
        if hasattr(moments, "data_vars") and "stance" in moments:
            stance = moments["stance"]
            if "side" in stance.dims:
                stance = stance.sel(side=side)
            if "time" in stance.dims and stance.sizes["time"] == time.size:
                ds["stance"] = (
                    ("time",),
                    np.asarray(stance.values, dtype=bool),
                    {"long_name": "foot on the ground (moments valid only with GRF)"},
                )
        if hasattr(moments, "data_vars") and "valid" in moments:
            valid = moments["valid"]
            if "coordinate" in valid.dims and valid.sizes.get("time") == time.size:
                ok = valid.sel(coordinate=list(coords)).all("coordinate")
                ds["moment_valid"] = (
                    ("time",),
                    np.asarray(ok.values, dtype=bool),
                    {"long_name": "every matched moment valid (swing, or stance with GRF)"},
                )
        source = cls(time, names, excitation, dataset=ds)
        source._description = (
            f"StaticOptimization(side={side}, exponent={result.exponent:g}, "
            f"reserve={reserve_optimal_force} N m, {len(names)} muscles)"
        )
        return source

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:
        t = np.asarray(time, dtype=np.float64)
        if t.ndim != 1 or t.size == 0:
            raise InputError(f"time has shape {t.shape}", field="time", expected="1-D times (s)")
        missing = [m for m in muscles if m not in self.muscles]
        if missing:
            raise InputError(
                f"no static-optimisation solution for {missing}",
                field="muscles",
                expected=f"muscles of the solved leg: {list(self.muscles)}",
            )
        tol = 1e-9 * max(1.0, abs(float(self.time[-1])))
        if t.min() < self.time[0] - tol or t.max() > self.time[-1] + tol:
            raise InputError(
                f"times {t.min():.6g}-{t.max():.6g} s",
                field="time",
                expected=f"times inside the solved record {self.time[0]:.6g}-{self.time[-1]:.6g} s",
            )
        idx = [self.muscles.index(m) for m in muscles]
        out = np.stack([np.interp(t, self.time, self.excitation[:, i]) for i in idx], axis=-1)
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        return getattr(self, "_description", f"StaticOptimization({len(self.muscles)} muscles)")
