"""The drill library: what each training drill does to the joints, and how hard the muscles work.

A drill is a TOML file in ``models/drills/`` (one per drill; format below). Three kinds:

- ``running_template``: running at any speed in [3.5, 9.5] m/s (and accelerations), from the
  cycle-averaged joint angles and cadence measured on one sprinter (Dorn et al. 2012, subject
  JA1) at 3.54, 5.21, 7.02 and 9.51 m/s, shipped as ``models/templates/running_sprinter_ja1.nc``
  (derived by :func:`derive_running_template`, see ``experiments/derive_running_template.py``)
  and interpolated across speed by a monotone piecewise-cubic Hermite interpolant (PCHIP,
  Fritsch & Carlson 1980) written in ``jax.numpy`` (:func:`running_curves`).
- ``keyframes``: a parametric template. A repetition (or a gait-like cycle) is a periodic list of
  key postures; between consecutive key postures each joint moves along a raised cosine
  q(s) = q_a + (q_b − q_a)·(1 − cos πs)/2, s ∈ [0, 1], so velocity is continuous and zero at
  each key posture. Ranges of motion, durations and activation levels are numbers from cited
  studies; each TOML file says which number comes from which paper, and marks ``verified =
  false`` what could not be checked against the paper's text.
- ``walking_template``: level walking from one measured stride (OpenSim's gait2392 example
  walk, 1.01 m/s), shipped as ``models/templates/walking_gait2392_subject01.nc`` (derived by
  :func:`derive_walking_template`, see ``experiments/derive_walking_template.py``); the drill
  file states how cadence and the hip's excursion grow with speed (:func:`walking_motion`)
  and gives the excitation per gait-phase window (``phase_windows``).
- ``motion_file``: the user's own measured motion (any file :func:`musclesim.read_motion`
  reads), path relative to the TOML file.

Intensity. Every drill has one intensity variable (name, unit, min, max, default). Any number in
a drill file may be given as ``{at_min = a, at_max = b}``: it is then linear in intensity from
``a`` at the drill's minimum to ``b`` at its maximum (an assumption stated per drill). Durations
may also be ``"intensity"`` (the intensity is that duration, e.g. an eccentric tempo in s) and
``"freefall"`` (√(2h/g) with h = intensity in m, the drop jump's fall).

TOML format (``_deg`` keys are degrees, converted to radians on reading; everything else SI)::

    name = "nordic_hamstring"
    description = "..."
    references = ["bourne2017", ...]          # keys into musclesim.core.citations.REFERENCES
    [intensity]                               # name, unit, min, max, default, description
    [dose]                                    # sets and reps, or distance_m
    [motion]
    type = "keyframes"
    time_unit = "s"                           # "s" (dur_s per key posture) or "cycle" (dur)
    period_s = 0.5 | "intensity" | {at_min, at_max}   # only with time_unit = "cycle"
    frequency_hz = "intensity"                # alternative to period_s
    left_shift = 0.5                          # left leg lags by this fraction of the cycle
    posture = { hip_flexion_deg = 0.0 }       # held values of joints no key posture sets
    [[motion.keyframes]]                      # the first entry's duration closes the loop
    dur_s = 1.0
    knee_flexion_deg = 90.0                   # joint keys: <joint>[_r|_l]_deg
    excitation = { hamstrings = 0.5 }         # level during the move into this posture
    [excitation]
    type = "segments" | "constant" | "running_template" | "phase_windows"
    levels = { hamstrings = 0.5, calf = 0.1, default = 0.02 }

Joint keys: ``hip_flexion``, ``hip_adduction``, ``hip_rotation``, ``knee_flexion`` (positive =
flexed; written to ``knee_angle_<s>`` with the target model's sign, and to the coupled
``knee_angle_<s>_beta``, which equals the knee angle in the Lai/Rajagopal/Sprinter family),
``ankle_angle`` (dorsiflexion +), ``subtalar_angle``, ``mtp_angle``; without a side suffix a key
applies to both legs (the left leg lagging by ``left_shift``); with ``_r``/``_l`` to that leg
only (unilateral drills are written for the right leg working; ``side="l"`` mirrors them).
``pelvis_tilt``, ``pelvis_list``, ``pelvis_rotation``, ``lumbar_extension``, ``lumbar_bending``,
``lumbar_rotation`` have no side. Coordinates a drill does not set are held at 0 rad/0 m.

Excitation levels are keyed by group (``hamstrings``, ``calf``), canonical muscle (``bflh``,
``semiten``, ``gasmed``, ...; the model's own names map onto these, both families), optionally
with a side suffix (``hamstrings_l``), and ``default`` for every other muscle. Most specific key
wins: muscle+side, muscle, group+side, group, default.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..core.citations import REFERENCES
from ..core.errors import InputError
from ..core.groups import GROUPS
from ..core.io import MODELS_DIR, sha256_file
from ..core.version import __version__
from ..excitation.sources import (
    ExcitationSource,
    GaitPhaseTemplate,
    _as_array,
    _remap_phase,
    split_muscle,
)
from ..excitation.templates import RAJAGOPAL_RUN_SPEED, template_for_speed
from ..motion.gait import (
    average_cycles,
    cut_cycles,
    detect_events,
    foot_trajectories,
    knee_sign_from_data,
    leg_geometry,
)
from ..motion.read import read_motion
from ..motion.readers import _classify_by_name, resample_motion
from ..motion.readers import _motion_dataset as layout

#: Folder of the shipped drill files.
DRILLS_DIR = MODELS_DIR / "drills"
#: The shipped running template (derived by :func:`derive_running_template`).
RUNNING_TEMPLATE = MODELS_DIR / "templates" / "running_sprinter_ja1.nc"
#: The shipped walking template (derived by :func:`derive_walking_template`).
WALKING_TEMPLATE = MODELS_DIR / "templates" / "walking_gait2392_subject01.nc"
#: Speeds (m/s) the running family accepts. The measured speeds span 3.54–9.51 m/s; between
#: 3.5 and 3.54 m/s the curves continue linearly along the end tangent of the interpolant.
RUNNING_SPEED_RANGE = (3.5, 9.5)
#: Standard gravity (m/s²), for the drop jump's free fall.
GRAVITY = 9.80665

_SIDED_JOINTS = (
    "hip_flexion",
    "hip_adduction",
    "hip_rotation",
    "knee_flexion",
    "ankle_angle",
    "subtalar_angle",
    "mtp_angle",
)
_CENTRAL_JOINTS = (
    "pelvis_tilt",
    "pelvis_list",
    "pelvis_rotation",
    "lumbar_extension",
    "lumbar_bending",
    "lumbar_rotation",
)
_MOTION_TYPES = ("keyframes", "running_template", "walking_template", "motion_file")
_EXCITATION_TYPES = ("constant", "segments", "running_template", "phase_windows")
#: Joints whose sagittal excursion the walking template scales with speed.
_WALKING_SCALED_JOINTS = ("hip_flexion", "knee_flexion", "ankle_angle")


# ----------------------------------------------------------------------------------------------
# The drill description
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Intensity:
    """A drill's intensity variable: ``name`` in ``unit`` (SI), valid on [``min``, ``max``]."""

    name: str
    unit: str
    min: float
    max: float
    default: float
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Dose:
    """Default dose: ``sets`` × ``reps``, or a ``distance_m`` per set (running drills)."""

    sets: int
    reps: int | None = None
    distance_m: float | None = None

    def describe(self) -> str:
        if self.distance_m is not None:
            return f"{self.sets} × {self.distance_m:g} m"
        return f"{self.sets} × {self.reps}"


@dataclasses.dataclass(frozen=True)
class Drill:
    """One drill of the library (read from its TOML file by :func:`load_drills`).

    Attributes:
        name: the drill's key (the file's ``name``).
        description: one paragraph for a clinician.
        references: keys into ``musclesim.core.citations.REFERENCES``.
        intensity: the intensity variable (:class:`Intensity`).
        dose: the default dose (:class:`Dose`).
        motion: the motion spec (``type`` one of ``keyframes``, ``running_template``,
            ``motion_file``; the rest as in the module docstring), angles already in radians.
        excitation: the excitation spec (``type`` one of ``constant``, ``segments``,
            ``running_template``).
        sources: free-text notes per number (which paper, verified or not), as in the file.
        path: the TOML file it came from.
    """

    name: str
    description: str
    references: tuple[str, ...]
    intensity: Intensity
    dose: Dose
    motion: Mapping[str, Any]
    excitation: Mapping[str, Any]
    sources: tuple[Mapping[str, Any], ...] = ()
    path: str = ""

    @property
    def kind(self) -> str:
        """How the motion is generated: ``keyframes``, ``running_template`` or ``motion_file``."""
        return str(self.motion["type"])

    def check_intensity(self, intensity: float) -> float:
        """``intensity`` as a float; InputError naming the drill, unit and range when outside."""
        try:
            value = float(intensity)
        except (TypeError, ValueError):
            raise InputError(
                f"intensity {intensity!r} for drill {self.name!r} is not a number",
                field=self.intensity.name,
                expected=f"{self.intensity.min:g}–{self.intensity.max:g} {self.intensity.unit}",
            ) from None
        lo, hi = self.intensity.min, self.intensity.max
        tol = 1e-9 * max(1.0, abs(hi))
        if not (lo - tol <= value <= hi + tol) or math.isnan(value):
            raise InputError(
                f"{self.intensity.name} {value:g} {self.intensity.unit} is outside the range of "
                f"drill {self.name!r}",
                field=self.intensity.name,
                expected=f"{lo:g} ≤ {self.intensity.name} ≤ {hi:g} {self.intensity.unit}",
            )
        return min(max(value, lo), hi)

    def unverified(self) -> list[str]:
        """The numbers of this drill whose source could not be verified (from ``sources``)."""
        return [str(s.get("what", "?")) for s in self.sources if not s.get("verified", False)]


# ----------------------------------------------------------------------------------------------
# Reading the library
# ----------------------------------------------------------------------------------------------


def _require(table: Mapping, key: str, kind, *, path: Path, field: str, expected: str):
    if key not in table:
        raise InputError("missing", path=path, field=f"{field}{key}", expected=expected)
    value = table[key]
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(
            f"{value!r} has the wrong type", path=path, field=f"{field}{key}", expected=expected
        )
    return value


def _number_spec(value, *, path: Path, field: str, allow: Sequence[str] = ()):
    """Validate a number, ``{at_min, at_max}`` table or an allowed keyword string."""
    if isinstance(value, bool):
        raise InputError(f"{value!r}", path=path, field=field, expected="a number")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InputError(f"{value!r}", path=path, field=field, expected="a finite number")
        return float(value)
    if isinstance(value, str) and value in allow:
        return value
    if isinstance(value, Mapping) and set(value) == {"at_min", "at_max"}:
        return {
            k: _number_spec(value[k], path=path, field=f"{field}.{k}") for k in ("at_min", "at_max")
        }
    options = ["a number", "{at_min = a, at_max = b}"] + [repr(a) for a in allow]
    raise InputError(f"{value!r}", path=path, field=field, expected=" or ".join(options))


def _joint_key(key: str) -> tuple[str, str | None] | None:
    """(joint, side or None) of a ``..._deg`` key; None if it is not a joint key."""
    if not key.endswith("_deg"):
        return None
    stem = key[: -len("_deg")]
    if stem in _CENTRAL_JOINTS:
        return stem, None
    for suffix in ("_r", "_l"):
        if stem.endswith(suffix) and stem[:-2] in _SIDED_JOINTS:
            return stem[:-2], suffix[1]
    if stem in _SIDED_JOINTS:
        return stem, "both"
    return None


def _pose(table: Mapping, *, path: Path, field: str, extra: Iterable[str] = ()) -> dict:
    """Joint values of a key posture / posture table: {(joint, side): spec in radians}."""
    pose = {}
    for key, value in table.items():
        if key in extra:
            continue
        parsed = _joint_key(key)
        if parsed is None:
            raise InputError(
                f"unknown key {key!r}",
                path=path,
                field=f"{field}.{key}",
                expected="<joint>[_r|_l]_deg with joint one of "
                + ", ".join(_SIDED_JOINTS + _CENTRAL_JOINTS)
                + (", or " + ", ".join(extra) if extra else ""),
            )
        spec = _number_spec(value, path=path, field=f"{field}.{key}")
        pose[parsed] = _scale(spec, math.pi / 180.0)
    return pose


def _scale(spec, factor: float):
    if isinstance(spec, Mapping):
        return {k: v * factor for k, v in spec.items()}
    return spec * factor


def _group_table() -> dict[str, tuple[str, ...]]:
    """Group → canonical muscles, from the shared vocabulary :mod:`musclesim.core.groups`."""

    return dict(GROUPS)


def _levels(table, *, path: Path, field: str) -> dict:
    if not isinstance(table, Mapping):
        raise InputError(f"{table!r}", path=path, field=field, expected="a table of levels")
    GROUPS = _group_table()

    out = {}
    for key, value in table.items():
        base = key[:-2] if key.endswith(("_r", "_l")) else key
        if base not in GROUPS and key != "default":
            raise InputError(
                f"unknown muscle or group {key!r}",
                path=path,
                field=f"{field}.{key}",
                expected="a group or muscle of musclesim.core.groups.GROUPS (optionally _r/_l), "
                "or default",
            )
        spec = _number_spec(value, path=path, field=f"{field}.{key}")
        values = spec.values() if isinstance(spec, Mapping) else [spec]
        if any(not (0.0 <= v <= 1.0) for v in values):
            raise InputError(
                f"level {value!r}", path=path, field=f"{field}.{key}", expected="levels in [0, 1]"
            )
        out[str(key)] = spec
    return out


def _parse_drill(path: Path, data: Mapping) -> Drill:

    name = _require(data, "name", str, path=path, field="", expected="the drill's name")
    description = str(data.get("description", ""))
    refs = data.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise InputError(f"{refs!r}", path=path, field="references", expected="a list of keys")
    unknown = [r for r in refs if r not in REFERENCES]
    if unknown:
        raise InputError(
            f"unknown reference key(s) {', '.join(unknown)}",
            path=path,
            field="references",
            expected="keys of musclesim.core.citations.REFERENCES",
        )
    it = _require(data, "intensity", dict, path=path, field="", expected="an [intensity] table")
    fields = {
        k: _require(it, k, float, path=path, field="intensity.", expected="a number")
        for k in ("min", "max", "default")
    }
    if not (fields["min"] <= fields["default"] <= fields["max"]):
        raise InputError(
            f"min {fields['min']:g}, default {fields['default']:g}, max {fields['max']:g}",
            path=path,
            field="intensity",
            expected="min ≤ default ≤ max",
        )
    intensity = Intensity(
        name=_require(it, "name", str, path=path, field="intensity.", expected="a name"),
        unit=_require(it, "unit", str, path=path, field="intensity.", expected="a unit"),
        description=str(it.get("description", "")),
        **fields,
    )
    dose_t = _require(data, "dose", dict, path=path, field="", expected="a [dose] table")
    sets = _require(dose_t, "sets", int, path=path, field="dose.", expected="an integer ≥ 1")
    if "distance_m" in dose_t:
        dose = Dose(
            sets,
            distance_m=_require(
                dose_t, "distance_m", float, path=path, field="dose.", expected="metres"
            ),
        )
    else:
        dose = Dose(
            sets,
            reps=_require(
                dose_t, "reps", int, path=path, field="dose.", expected="an integer, or distance_m"
            ),
        )
    motion = _parse_motion(
        _require(data, "motion", dict, path=path, field="", expected="a [motion] table"), path
    )
    excitation = _parse_excitation(
        _require(data, "excitation", dict, path=path, field="", expected="an [excitation] table"),
        path,
        motion,
    )
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise InputError(
            "not a list of tables",
            path=path,
            field="sources",
            expected="[[sources]] entries with what, reference, verified",
        )
    for i, s in enumerate(sources):
        if "verified" not in s or not isinstance(s["verified"], bool):
            raise InputError(
                "missing or not true/false",
                path=path,
                field=f"sources[{i}].verified",
                expected="verified = true or false",
            )
    return Drill(
        name,
        description,
        tuple(refs),
        intensity,
        dose,
        motion,
        excitation,
        tuple(sources),
        str(path),
    )


def _parse_motion(table: Mapping, path: Path) -> dict:
    kind = _require(
        table, "type", str, path=path, field="motion.", expected=" or ".join(_MOTION_TYPES)
    )
    if kind not in _MOTION_TYPES:
        raise InputError(
            f"unknown type {kind!r}",
            path=path,
            field="motion.type",
            expected=" or ".join(_MOTION_TYPES),
        )
    out: dict[str, Any] = {"type": kind}
    if kind == "running_template":
        profile = table.get("speed_profile", "constant")
        if profile not in ("constant", "acceleration"):
            raise InputError(
                f"{profile!r}",
                path=path,
                field="motion.speed_profile",
                expected="'constant' or 'acceleration'",
            )
        out["speed_profile"] = profile
        if profile == "acceleration":
            out["tau_s"] = _require(
                table,
                "tau_s",
                float,
                path=path,
                field="motion.",
                expected="the mono-exponential time constant (s)",
            )
        out["template"] = str(table.get("template", "running_sprinter_ja1"))
        return out
    if kind == "walking_template":
        out["template"] = str(table.get("template", "walking_gait2392_subject01"))
        for key in ("cadence_exponent", "excursion_exponent"):
            value = _require(
                table,
                key,
                float,
                path=path,
                field="motion.",
                expected="the exponent of (speed / measured speed) (see walking_motion)",
            )
            if not 0.0 <= value <= 2.0:
                raise InputError(
                    f"{value!r}", path=path, field=f"motion.{key}", expected="0 ≤ exponent ≤ 2"
                )
            out[key] = value
        joints = table.get("scaled_joints", list(_WALKING_SCALED_JOINTS))
        if not isinstance(joints, list) or not set(joints) <= set(_WALKING_SCALED_JOINTS):
            raise InputError(
                f"{joints!r}",
                path=path,
                field="motion.scaled_joints",
                expected="a list drawn from " + ", ".join(_WALKING_SCALED_JOINTS),
            )
        out["scaled_joints"] = tuple(joints)
        floor = table.get("knee_flexion_floor_deg")
        out["knee_flexion_floor"] = (
            None
            if floor is None
            else _number_spec(floor, path=path, field="motion.knee_flexion_floor_deg")
            * math.pi
            / 180.0
        )
        out["default_cycles"] = int(table.get("default_cycles", 3))
        return out
    if kind == "motion_file":
        file = _require(
            table,
            "path",
            str,
            path=path,
            field="motion.",
            expected="the motion file's path (relative to this TOML file)",
        )
        resolved = (path.parent / Path(file).expanduser()).resolve()
        out["path"] = str(resolved)
        if "knee_flexion_sign" in table:
            sign = table["knee_flexion_sign"]
            if sign not in (1, -1):
                raise InputError(
                    f"{sign!r}",
                    path=path,
                    field="motion.knee_flexion_sign",
                    expected="+1 or -1 (the file's knee convention)",
                )
            out["knee_flexion_sign"] = int(sign)
        if "model" in table:
            out["model"] = str((path.parent / Path(str(table["model"])).expanduser()).resolve())
        out["time_scale"] = _number_spec(
            table.get("time_scale", 1.0), path=path, field="motion.time_scale", allow=("intensity",)
        )
        return out
    unit = table.get("time_unit", "s")
    if unit not in ("s", "cycle"):
        raise InputError(
            f"{unit!r}", path=path, field="motion.time_unit", expected="'s' or 'cycle'"
        )
    out["time_unit"] = unit
    if unit == "cycle":
        if ("period_s" in table) == ("frequency_hz" in table):
            raise InputError(
                "give exactly one of period_s and frequency_hz",
                path=path,
                field="motion",
                expected="period_s or frequency_hz",
            )
        key = "period_s" if "period_s" in table else "frequency_hz"
        out[key] = _number_spec(table[key], path=path, field=f"motion.{key}", allow=("intensity",))
    out["left_shift"] = _number_spec(
        table.get("left_shift", 0.0), path=path, field="motion.left_shift"
    )
    out["posture"] = _pose(table.get("posture", {}), path=path, field="motion.posture")
    out["default_cycles"] = int(table.get("default_cycles", 1))
    frames = table.get("keyframes")
    if not isinstance(frames, list) or len(frames) < 2:
        raise InputError(
            "fewer than two key postures",
            path=path,
            field="motion.keyframes",
            expected="[[motion.keyframes]] entries (at least two)",
        )
    dur_key = "dur_s" if unit == "s" else "dur"
    parsed = []
    for i, frame in enumerate(frames):
        where = f"motion.keyframes[{i}]"
        if not isinstance(frame, Mapping):
            raise InputError("not a table", path=path, field=where, expected="a table")
        if dur_key not in frame:
            raise InputError(
                "missing",
                path=path,
                field=f"{where}.{dur_key}",
                expected="the duration of the move into this posture"
                + (" (s)" if unit == "s" else " (fraction of the cycle)"),
            )
        dur = _number_spec(
            frame[dur_key],
            path=path,
            field=f"{where}.{dur_key}",
            allow=("intensity", "freefall") if unit == "s" else (),
        )
        if isinstance(dur, float) and dur < 0:
            raise InputError(f"{dur}", path=path, field=f"{where}.{dur_key}", expected="≥ 0")
        levels = _levels(frame.get("excitation", {}), path=path, field=f"{where}.excitation")
        pose = _pose(frame, path=path, field=where, extra=(dur_key, "excitation", "label"))
        parsed.append(
            {"dur": dur, "pose": pose, "excitation": levels, "label": str(frame.get("label", ""))}
        )
    out["keyframes"] = tuple(parsed)
    return out


def _parse_excitation(table: Mapping, path: Path, motion: Mapping) -> dict:
    kind = _require(
        table, "type", str, path=path, field="excitation.", expected=" or ".join(_EXCITATION_TYPES)
    )
    if kind not in _EXCITATION_TYPES:
        raise InputError(
            f"unknown type {kind!r}",
            path=path,
            field="excitation.type",
            expected=" or ".join(_EXCITATION_TYPES),
        )
    if kind == "running_template" and motion["type"] != "running_template":
        raise InputError(
            "the running excitation needs a running_template motion",
            path=path,
            field="excitation.type",
            expected="'constant' or 'segments'",
        )
    if kind == "phase_windows" and motion["type"] != "walking_template":
        raise InputError(
            "phase windows need a walking_template motion (its gait cycle)",
            path=path,
            field="excitation.type",
            expected="'constant' or 'segments'",
        )
    if kind == "segments" and motion["type"] != "keyframes":
        raise InputError(
            "segment excitation needs keyframes",
            path=path,
            field="excitation.type",
            expected="'constant'",
        )
    out: dict[str, Any] = {"type": kind}
    if kind != "running_template":
        out["levels"] = _levels(
            _require(
                table,
                "levels",
                dict,
                path=path,
                field="excitation.",
                expected="a table of levels in [0, 1]",
            ),
            path=path,
            field="excitation.levels",
        )
    if kind == "phase_windows":
        windows = table.get("windows")
        if not isinstance(windows, list) or not windows:
            raise InputError(
                "missing or empty",
                path=path,
                field="excitation.windows",
                expected="[[excitation.windows]] entries with from_percent, to_percent, levels",
            )
        parsed = []
        for i, w in enumerate(windows):
            where = f"excitation.windows[{i}]"
            if not isinstance(w, Mapping):
                raise InputError("not a table", path=path, field=where, expected="a table")
            bounds = []
            for key in ("from_percent", "to_percent"):
                value = _require(w, key, float, path=path, field=f"{where}.", expected="0-100 %")
                if not 0.0 <= value <= 100.0:
                    raise InputError(
                        f"{value!r}", path=path, field=f"{where}.{key}", expected="0-100 %"
                    )
                bounds.append(value)
            levels = _levels(
                _require(w, "levels", dict, path=path, field=f"{where}.", expected="levels"),
                path=path,
                field=f"{where}.levels",
            )
            parsed.append(
                {"from": bounds[0], "to": bounds[1], "levels": levels, "label": w.get("label", "")}
            )
        out["windows"] = tuple(parsed)
    return out


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path=path, expected="a drill file") from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None


def load_drill(path: str | Path) -> Drill:
    """Read one drill file (format in the module docstring)."""
    path = Path(path)
    return _parse_drill(path, _read_toml(path))


def load_drills(path: str | Path | None = None) -> dict[str, Drill]:
    """The drill library: ``{name: Drill}`` from every ``*.toml`` in ``path``.

    Args:
        path: a folder of drill files, or one drill file; ``models/drills/`` by default.

    Raises:
        InputError: a missing folder, malformed TOML or a bad field (naming the file and
            field), two drills with the same name.
    """
    folder = DRILLS_DIR if path is None else Path(path)
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = sorted(folder.glob("*.toml"))
    else:
        raise InputError(
            "no such file or folder", path=folder, expected="a folder of drill .toml files"
        )
    drills: dict[str, Drill] = {}
    for file in files:
        drill = load_drill(file)
        if drill.name in drills:
            raise InputError(
                f"drill {drill.name!r} is defined twice (also in {drills[drill.name].path})",
                path=file,
                field="name",
                expected="unique drill names",
            )
        drills[drill.name] = drill
    return drills


def get_drill(name: str | Drill, drills: Mapping[str, Drill] | None = None) -> Drill:
    """The drill ``name`` from ``drills`` (the shipped library by default)."""
    if isinstance(name, Drill):
        return name
    drills = load_drills() if drills is None else drills
    if name not in drills:
        raise InputError(
            f"unknown drill {name!r}", field="drill", expected="one of " + ", ".join(sorted(drills))
        )
    return drills[name]


# ----------------------------------------------------------------------------------------------
# Numbers that depend on intensity
# ----------------------------------------------------------------------------------------------


def _eval(spec, drill: Drill, intensity: float) -> float:
    """A spec's value at ``intensity``: a number, linear ``{at_min, at_max}``, ``"intensity"``
    or ``"freefall"`` (√(2h/g), h = intensity in m)."""
    if isinstance(spec, Mapping):
        lo, hi = drill.intensity.min, drill.intensity.max
        w = 0.0 if hi == lo else (intensity - lo) / (hi - lo)
        return (1.0 - w) * spec["at_min"] + w * spec["at_max"]
    if spec == "intensity":
        return float(intensity)
    if spec == "freefall":
        return math.sqrt(2.0 * intensity / GRAVITY)
    return float(spec)


# ----------------------------------------------------------------------------------------------
# Output layout (read_motion's) and the knee sign
# ----------------------------------------------------------------------------------------------


def _knee_signs(knee_flexion_sign, coordinates: Sequence[str]) -> dict[str, float]:
    """Sign (+1/−1: positive coordinate = flexion) of each knee coordinate in ``coordinates``."""
    knees = [c for c in coordinates if c in ("knee_angle_r", "knee_angle_l")]
    if isinstance(knee_flexion_sign, int | float) and not isinstance(knee_flexion_sign, bool):
        signs = dict.fromkeys(knees, float(knee_flexion_sign))
    else:
        try:
            signs = {str(k): float(v) for k, v in dict(knee_flexion_sign).items()}
        except (TypeError, ValueError):
            raise InputError(
                f"{knee_flexion_sign!r}",
                field="knee_flexion_sign",
                expected="+1/−1, or a mapping/pairs knee coordinate → ±1 "
                "(GeometryModel.knee_flexion_sign)",
            ) from None
    for knee in knees:
        if signs.get(knee) not in (1.0, -1.0):
            raise InputError(
                f"no ±1 sign for {knee}",
                field="knee_flexion_sign",
                expected="+1 (Rajagopal/Lai/Sprinter) or −1 (gait2392/Hamner), read from the model",
            )
    return signs


def _motion_dataset(
    time: np.ndarray, values: Mapping[str, np.ndarray], coordinates: Sequence[str], attrs: dict
) -> xr.Dataset:
    """``read_motion``'s layout; coordinates absent from ``values`` held at 0."""

    coordinates = list(coordinates)
    if not coordinates:
        raise InputError(
            "no coordinates", field="coordinates", expected="the model's coordinate names"
        )
    if len(set(coordinates)) != len(coordinates):
        raise InputError("repeated coordinate names", field="coordinates", expected="unique names")
    q = np.zeros((time.size, len(coordinates)))
    held = []
    for j, name in enumerate(coordinates):
        if name in values:
            q[:, j] = values[name]
        else:
            held.append(name)
    types = [_classify_by_name(c) for c in coordinates]
    attrs = dict(attrs)
    attrs["held_at_zero"] = ", ".join(held)
    return layout(time, q, coordinates, types, attrs)


def _time_grid(duration: float, sample_rate: float) -> np.ndarray:
    if not (sample_rate > 0) or not math.isfinite(sample_rate):
        raise InputError(f"{sample_rate!r}", field="sample_rate", expected="a rate > 0 Hz")
    if not (duration > 0) or not math.isfinite(duration):
        raise InputError(f"{duration!r}", field="duration", expected="a duration > 0 s")
    n = int(math.floor(duration * sample_rate + 1e-9)) + 1
    return np.arange(n) / sample_rate


def _base_attrs(drill: Drill, intensity: float) -> dict:

    return {
        "source_path": drill.path,
        "source_format": f"musclesim drill ({drill.kind})",
        "drill": drill.name,
        "intensity": float(intensity),
        "intensity_name": drill.intensity.name,
        "intensity_unit": drill.intensity.unit,
        "references": ", ".join(drill.references),
        "musclesim_version": __version__,
    }


# ----------------------------------------------------------------------------------------------
# Keyframe (parametric) drills
# ----------------------------------------------------------------------------------------------


def _keyframe_schedule(drill: Drill, intensity: float) -> tuple[np.ndarray, float]:
    """Arrival times (s) of each key posture within one cycle, and the cycle period (s)."""
    m = drill.motion
    durs = np.array([_eval(f["dur"], drill, intensity) for f in m["keyframes"]])
    if m["time_unit"] == "cycle":
        if "period_s" in m:
            period = _eval(m["period_s"], drill, intensity)
        else:
            period = 1.0 / _eval(m["frequency_hz"], drill, intensity)
        durs = durs / durs.sum() * period
    period = float(durs.sum())
    if not period > 0:
        raise InputError(
            "key postures with zero total duration",
            path=drill.path,
            field="motion.keyframes",
            expected="a positive cycle duration",
        )
    # frame i is reached at the end of its move; the first frame's move closes the loop, so
    # frame 0 is reached at t = 0 (mod period).
    arrive = np.concatenate([[0.0], np.cumsum(durs[1:])])
    return arrive, period


def _raised_cosine_track(
    t: np.ndarray, arrive: np.ndarray, period: float, values: np.ndarray
) -> np.ndarray:
    """Periodic track through ``values`` at ``arrive`` (s), raised-cosine between them."""
    tau = np.mod(t, period)
    knots = np.concatenate([arrive, [period]])
    vals = np.concatenate([values, values[:1]])
    k = np.clip(np.searchsorted(knots, tau, side="right") - 1, 0, len(arrive) - 1)
    width = knots[k + 1] - knots[k]
    s = np.where(width > 0, (tau - knots[k]) / np.where(width > 0, width, 1.0), 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * np.clip(s, 0.0, 1.0))
    return vals[k] + w * (vals[k + 1] - vals[k])


def _segment_index(t: np.ndarray, arrive: np.ndarray, period: float) -> np.ndarray:
    """Index of the key posture each time is moving into (cyclic)."""
    tau = np.mod(t, period)
    knots = np.concatenate([arrive, [period]])
    k = np.clip(np.searchsorted(knots, tau, side="right") - 1, 0, len(arrive) - 1)
    return (k + 1) % len(arrive)


def _mirror(side: str | None, working: str) -> str | None:
    if side is None or working == "r" or side == "both":
        return side
    return "l" if side == "r" else "r"


def _joint_tracks(drill: Drill, intensity: float, t: np.ndarray, working: str) -> dict:
    """{(joint, side): q(t) in rad} for every joint any key posture or the posture sets."""
    m = drill.motion
    arrive, period = _keyframe_schedule(drill, intensity)
    shift = _eval(m["left_shift"], drill, intensity) * period
    keys = set(m["posture"])
    for frame in m["keyframes"]:
        keys |= set(frame["pose"])
    tracks = {}
    for joint, side in sorted(keys, key=str):
        held = m["posture"].get((joint, side))
        held = 0.0 if held is None else _eval(held, drill, intensity)
        values = np.array(
            [
                _eval(f["pose"][(joint, side)], drill, intensity)
                if (joint, side) in f["pose"]
                else held
                for f in m["keyframes"]
            ]
        )
        if side == "both":
            tracks[(joint, "r")] = _raised_cosine_track(t, arrive, period, values)
            tracks[(joint, "l")] = _raised_cosine_track(t - shift, arrive, period, values)
        else:
            tracks[(joint, _mirror(side, working))] = _raised_cosine_track(
                t, arrive, period, values
            )
    return tracks


def _coordinate_values(
    tracks: Mapping, coordinates: Sequence[str], knee_flexion_sign
) -> dict[str, np.ndarray]:
    """Map joint tracks onto the model's coordinate names (knee sign, coupled beta)."""
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = {}
    for (joint, side), q in tracks.items():
        if joint == "knee_flexion":
            name = f"knee_angle_{side}"
            if name in coordinates:
                values[name] = signs[name] * q
            if f"{name}_beta" in coordinates:
                values[f"{name}_beta"] = signs[name] * q
            continue
        name = joint if side is None else f"{joint}_{side}"
        if name in coordinates:
            values[name] = q
    return values


# ----------------------------------------------------------------------------------------------
# Running: the measured template and its interpolation across speed
# ----------------------------------------------------------------------------------------------


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Node derivatives of the Fritsch–Carlson monotone cubic (SciPy's PchipInterpolator rule).

    Interior: 0 where the neighbouring secants differ in sign or one is 0, else the weighted
    harmonic mean (w1 = 2h_k + h_{k−1}, w2 = h_k + 2h_{k−1}). Ends: the three-point
    shape-preserving formula. ``y`` has the node axis first.
    """
    h = np.diff(x)
    shape = (-1,) + (1,) * (y.ndim - 1)
    delta = np.diff(y, axis=0) / h.reshape(shape)
    d = np.zeros_like(y)
    if len(x) == 2:
        d[:] = delta[0]
        return d
    h0, h1 = h[:-1].reshape(shape), h[1:].reshape(shape)
    w1, w2 = 2 * h1 + h0, h1 + 2 * h0
    d0, d1 = delta[:-1], delta[1:]
    same = (np.sign(d0) * np.sign(d1)) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / d0 + w2 / d1)
    d[1:-1] = np.where(same, harmonic, 0.0)

    def edge(h0, h1, m0, m1):
        e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        e = np.where(np.sign(e) != np.sign(m0), 0.0, e)
        return np.where((np.sign(m0) != np.sign(m1)) & (np.abs(e) > np.abs(3 * m0)), 3 * m0, e)

    d[0] = edge(h[0], h[1], delta[0], delta[1])
    d[-1] = edge(h[-1], h[-2], delta[-1], delta[-2])
    return d


@dataclasses.dataclass(frozen=True)
class RunningTemplate:
    """Cycle-averaged running kinematics at several measured speeds, ready to interpolate.

    Attributes:
        speeds: measured speeds (m/s), increasing, shape (S,).
        phase: cycle phase (%), 0 = right foot strike, shape (P,).
        coordinates: coordinate names (knee as flexion, positive = flexed).
        q: mean joint angles (rad), shape (S, P, C); ``q_slopes`` their PCHIP node
            derivatives in speed (rad per m/s).
        stride_frequency: strides per second (Hz) at each speed, shape (S,), and slopes.
        toe_off_phase, left_strike_phase, left_toe_off_phase: (S,) in %.
        dataset: the file's Dataset (provenance, SDs).
    """

    speeds: np.ndarray
    phase: np.ndarray
    coordinates: tuple[str, ...]
    q: np.ndarray
    q_slopes: np.ndarray
    stride_frequency: np.ndarray
    stride_frequency_slopes: np.ndarray
    toe_off_phase: np.ndarray
    left_strike_phase: np.ndarray
    left_toe_off_phase: np.ndarray
    dataset: xr.Dataset

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> RunningTemplate:
        speeds = np.asarray(ds["speed"].values, dtype=np.float64)
        q = np.asarray(
            ds["q_mean"].transpose("speed", "phase", "coordinate").values, dtype=np.float64
        )
        f = np.asarray(ds["stride_frequency"].values, dtype=np.float64)
        return cls(
            speeds=speeds,
            phase=np.asarray(ds["phase"].values, dtype=np.float64),
            coordinates=tuple(str(c) for c in ds["coordinate"].values),
            q=q,
            q_slopes=_pchip_slopes(speeds, q),
            stride_frequency=f,
            stride_frequency_slopes=_pchip_slopes(speeds, f),
            toe_off_phase=np.asarray(ds["toe_off_phase"].values, dtype=np.float64),
            left_strike_phase=np.asarray(ds["left_foot_strike_phase"].values, dtype=np.float64),
            left_toe_off_phase=np.asarray(ds["left_toe_off_phase"].values, dtype=np.float64),
            dataset=ds,
        )


@functools.lru_cache(maxsize=8)
def _load_template_cached(template_class, path: str, mtime: float):
    """``template_class.from_dataset`` of a file, cached per class, path and modification time."""
    with xr.open_dataset(path) as ds:
        return template_class.from_dataset(ds.load())


def load_running_template(path: str | Path | None = None) -> RunningTemplate:
    """The running template (``models/templates/running_sprinter_ja1.nc`` by default)."""
    path = Path(RUNNING_TEMPLATE if path is None else path)
    return _open_template(path, "running", RunningTemplate)


def _open_template(path: Path, kind: str, template_class):
    """A derived template file read (once) into ``template_class``, or InputError naming the
    file and the command that derives it."""
    if not path.is_file():
        raise InputError(
            f"{kind} template not found",
            path=path,
            expected=f"run `python -m experiments.derive_{kind}_template`",
        )
    try:
        return _load_template_cached(template_class, str(path.resolve()), path.stat().st_mtime)
    except (KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"not a {kind} template ({exc})",
            path=path,
            expected=f"a file written by derive_{kind}_template",
        ) from None


def _hermite(speed, x, y, d, xp=jnp):
    """Cubic Hermite interpolant through (x, y) with slopes d, in ``xp`` (jax.numpy, or numpy
    where no derivative is needed); linear beyond the end nodes along the end tangents.
    ``y``/``d`` have the node axis first; ``speed`` a scalar or a 1-D array (the result then
    has that axis first)."""
    xs = xp.asarray(x)
    ys = xp.asarray(y)
    ds = xp.asarray(d)
    v = xp.asarray(speed, dtype=xs.dtype)
    k = xp.clip(xp.searchsorted(xs, v, side="right") - 1, 0, xs.shape[0] - 2)

    def expand(a):
        return a.reshape(a.shape + (1,) * (ys.ndim - 1))

    x0 = xs[k]
    h = xs[k + 1] - x0
    # no clip on s: k already puts v in [x_k, x_k+1] inside the range (a clip's tie rule
    # would halve the derivative exactly at a node), and outside it this branch is unused
    s = expand((v - x0) / h)
    he = expand(h)
    h00 = (1 + 2 * s) * (1 - s) ** 2
    h10 = s * (1 - s) ** 2
    h01 = s**2 * (3 - 2 * s)
    h11 = s**2 * (s - 1)
    inside = h00 * ys[k] + h10 * he * ds[k] + h01 * ys[k + 1] + h11 * he * ds[k + 1]
    below = ys[0] + expand(v - xs[0]) * ds[0]
    above = ys[-1] + expand(v - xs[-1]) * ds[-1]
    return xp.where(expand(v < xs[0]), below, xp.where(expand(v > xs[-1]), above, inside))


def running_curves(speed, phase=None, *, template: RunningTemplate | None = None):
    """Joint angles over the gait cycle and stride frequency at running ``speed``: pure JAX.

    Interpolation across speed: monotone piecewise-cubic Hermite (PCHIP; Fritsch FN, Carlson
    RE 1980, SIAM J Numer Anal 17(2):238–246, doi:10.1137/0717021), node slopes as SciPy's
    ``PchipInterpolator``. It passes exactly through each measured speed's mean curve, is C¹ in
    speed (so d/d(speed) is continuous, including at the measured speeds) and adds no
    overshoot between speeds. Below the slowest measured speed (3.54 m/s) it continues
    linearly along the end tangent (used only down to 3.5 m/s). Across phase: linear, exact on
    the template's phase grid; phases in [0, 100] % are used as given (100 % is the averaged
    cycle's own end, which differs from its start by a few degrees: see :func:`running_motion`
    for the periodic closure), other phases wrap modulo 100 %. Both parts are jitted.

    Args:
        speed: running speed (m/s), a JAX or Python scalar (differentiable).
        phase: cycle phases (%, 0 = right foot strike); the template's grid when None.
        template: a :class:`RunningTemplate` (the shipped one by default).

    Returns:
        ``(q, stride_frequency)``: ``q`` shape (P, C) in rad, columns in
        ``template.coordinates`` order (knee as flexion, positive = flexed);
        ``stride_frequency`` in Hz (strides per second). Range is not checked here (it cannot
        be under ``jit``); :func:`running_motion` refuses speeds outside
        :data:`RUNNING_SPEED_RANGE`.
    """
    tpl = load_running_template() if template is None else template
    args = (tpl.speeds, tpl.q, tpl.q_slopes, tpl.stride_frequency, tpl.stride_frequency_slopes)
    if phase is None:
        return _nodes_jit(speed, *args)
    return _curves_jit(speed, phase, tpl.phase, *args)


def _nodes_core(speed, xs, q, dq, f, df):
    return _hermite(speed, xs, q, dq), _hermite(speed, xs, f, df)


def _curves_core(speed, phase, grid, xs, q, dq, f, df):
    q_nodes, freq = _nodes_core(speed, xs, q, dq, f, df)  # (P, C)
    ph = jnp.asarray(phase, dtype=q_nodes.dtype)
    # phases in [0, 100] are used as given (so 100 % is the cycle's own end); others wrap
    p = jnp.where((ph >= 0.0) & (ph <= 100.0), ph, jnp.mod(ph, 100.0))
    g = jnp.asarray(grid, dtype=q_nodes.dtype)
    i = jnp.clip(jnp.searchsorted(g, p, side="right") - 1, 0, g.shape[0] - 2)
    w = ((p - g[i]) / (g[i + 1] - g[i]))[..., None]
    return (1.0 - w) * q_nodes[i] + w * q_nodes[i + 1], freq


_nodes_jit = jax.jit(_nodes_core)
_curves_jit = jax.jit(_curves_core)


#: Alias under the name issue 5 proposes: joint angles as a pure JAX function of speed.
running_motion_jax = running_curves


def _check_speed(speed: float, *, name: str = "speed") -> float:
    lo, hi = RUNNING_SPEED_RANGE
    v = float(speed)
    if not (lo <= v <= hi):
        raise InputError(
            f"{name} {v:g} m/s is outside the running family's range",
            field=name,
            expected=f"{lo:g}–{hi:g} m/s (the measured sprint speeds 3.54–9.51 m/s)",
        )
    return v


def _running_tracks(tpl: RunningTemplate, speeds_t: np.ndarray, phase_t: np.ndarray) -> dict:
    """Coordinate tracks {name: q(t)} at per-sample speeds and phases, with periodic closure
    (each speed's curve minus its end-to-start mismatch, linearly in phase)."""
    unique, inverse = np.unique(speeds_t, return_inverse=True)
    curves = _hermite(unique, tpl.speeds, tpl.q, tpl.q_slopes, xp=np)  # (U, P, C)
    closed = curves - (curves[:, -1:, :] - curves[:, :1, :]) * (tpl.phase / 100.0)[None, :, None]
    p = np.mod(phase_t, 100.0)
    # linear interpolation in phase on the template grid (uniform), per sample's speed
    grid = tpl.phase
    i = np.clip(np.searchsorted(grid, p, side="right") - 1, 0, grid.size - 2)
    w = ((p - grid[i]) / (grid[i + 1] - grid[i]))[:, None]
    q = (1 - w) * closed[inverse, i, :] + w * closed[inverse, i + 1, :]
    return {name: q[:, j] for j, name in enumerate(tpl.coordinates)}


def _stride_frequency(tpl: RunningTemplate, speeds) -> np.ndarray:
    v = np.asarray(speeds, dtype=np.float64)
    return _hermite(v, tpl.speeds, tpl.stride_frequency, tpl.stride_frequency_slopes, xp=np)


def _acceleration_phase(vmax: float, tau: float, t: np.ndarray, tpl: RunningTemplate):
    """Speed (m/s, rounded to 0.01), phase (%) and distance (m) along an acceleration."""
    t = np.asarray(t, dtype=np.float64)
    fine = np.arange(0.0, max(float(t.max()), 0.0) + 2e-3, 1e-3)
    v_fine = np.round(_acceleration_profile(vmax, tau, fine), 2)
    uniq, inv = np.unique(v_fine, return_inverse=True)
    f_fine = _stride_frequency(tpl, uniq)[inv]
    steps = np.diff(fine)
    phase_fine = 100.0 * np.concatenate(
        [[0.0], np.cumsum(0.5 * (f_fine[1:] + f_fine[:-1]) * steps)]
    )
    x_fine = np.concatenate([[0.0], np.cumsum(0.5 * (v_fine[1:] + v_fine[:-1]) * steps)])
    v = np.round(_acceleration_profile(vmax, tau, t), 2)
    return v, np.interp(t, fine, phase_fine), np.interp(t, fine, x_fine)


def _template_tracks_to_values(tpl_tracks: Mapping[str, np.ndarray], coordinates, signs):
    values = {}
    for name, q in tpl_tracks.items():
        if name.startswith("knee_angle_"):
            side_name = name
            if side_name in coordinates:
                values[side_name] = signs[side_name] * q
            if f"{side_name}_beta" in coordinates:
                values[f"{side_name}_beta"] = signs[side_name] * q
        elif name in coordinates:
            values[name] = q
    return values


def running_motion(
    speed: float,
    *,
    coordinates: Sequence[str],
    knee_flexion_sign,
    duration: float | None = None,
    sample_rate: float = 100.0,
    cycles: int = 3,
    template: RunningTemplate | None = None,
) -> xr.Dataset:
    """Steady running at ``speed`` (m/s) as a motion Dataset (``read_motion``'s layout).

    The interpolated cycle (:func:`running_curves`) is repeated at the interpolated stride
    frequency; phase 0 (right foot strike) at t = 0. Periodic closure: the averaged cycle's
    end differs from its start by up to a few degrees (1–2 measured strides per speed), so
    q(φ) − (q(100) − q(0))·φ/100 is used, making every stride join its successor without a
    jump. ``pelvis_tx`` advances at ``speed``; coordinates not in the template (arms,
    ``pelvis_tz``) are held at 0.

    Args:
        speed: m/s in :data:`RUNNING_SPEED_RANGE`.
        coordinates: the model's coordinate names (all appear in the output).
        knee_flexion_sign: +1/−1 or ``GeometryModel.knee_flexion_sign`` pairs.
        duration: s; ``cycles`` strides when None.
    """
    v = _check_speed(speed)
    tpl = load_running_template() if template is None else template
    f = float(_stride_frequency(tpl, v))
    t = _time_grid(cycles / f if duration is None else duration, sample_rate)
    tracks = _running_tracks(tpl, np.full(t.shape, v), 100.0 * f * t)
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = _template_tracks_to_values(tracks, coordinates, signs)
    if "pelvis_tx" in coordinates:
        values["pelvis_tx"] = v * t
    attrs = {
        "source_path": str(tpl.dataset.attrs.get("template_path", RUNNING_TEMPLATE)),
        "source_format": "musclesim running template",
        "speed": v,
        "stride_frequency_hz": f,
        "interpolation": "PCHIP in speed (Fritsch-Carlson), linear periodic in phase",
        "periodic_closure": "q(phase) - (q(100) - q(0)) * phase / 100",
    }
    return _motion_dataset(t, values, coordinates, attrs)


def _acceleration_profile(vmax: float, tau: float, t: np.ndarray) -> np.ndarray:
    """v(t) = v_max·(1 − e^(−t/τ)) (Furusawa, Hill & Parkinson 1927), floored at the slowest
    template speed (the template holds no running slower than 3.5 m/s)."""
    return np.maximum(vmax * (1.0 - np.exp(-t / tau)), RUNNING_SPEED_RANGE[0])


def _acceleration_motion(
    drill: Drill,
    vmax: float,
    coordinates,
    knee_flexion_sign,
    duration,
    sample_rate,
    tpl: RunningTemplate,
):
    tau = float(drill.motion["tau_s"])
    if duration is None:
        distance = drill.dose.distance_m or 30.0
        # time to cover the distance along the (floored) speed profile
        tt = np.arange(0.0, 60.0, 1e-3)
        vv = _acceleration_profile(vmax, tau, tt)
        x = np.concatenate([[0.0], np.cumsum(0.5 * (vv[1:] + vv[:-1]) * np.diff(tt))])
        duration = float(np.interp(distance, x, tt))
    t = _time_grid(duration, sample_rate)
    v, phase, x = _acceleration_phase(vmax, tau, t, tpl)
    tracks = _running_tracks(tpl, v, phase)
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = _template_tracks_to_values(tracks, coordinates, signs)
    if "pelvis_tx" in coordinates:
        values["pelvis_tx"] = x
    return (
        t,
        values,
        {
            "speed_profile": f"v(t) = {vmax:g}*(1 - exp(-t/{tau:g} s)), floored at "
            f"{RUNNING_SPEED_RANGE[0]:g} m/s, rounded to 0.01 m/s"
        },
    )


# ----------------------------------------------------------------------------------------------
# Walking: one measured stride, and its speed dependence
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WalkingTemplate:
    """One measured walking stride, cycle-averaged (``derive_walking_template``).

    Attributes:
        speed: the measured walking speed (m/s, from the stance foot's backward speed).
        stride_frequency: strides per second (Hz) at that speed.
        phase: cycle phase (%), 0 = right foot strike, shape (P,).
        coordinates: coordinate names (knee as flexion, positive = flexed).
        q: mean joint angles (rad or m), shape (P, C).
        left_strike_phase: left foot strike in the right cycle (%).
        dataset: the file's Dataset (provenance).
    """

    speed: float
    stride_frequency: float
    phase: np.ndarray
    coordinates: tuple[str, ...]
    q: np.ndarray
    left_strike_phase: float
    dataset: xr.Dataset

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> WalkingTemplate:
        one = ds.isel(speed=0)
        return cls(
            speed=float(one["speed"]),
            stride_frequency=float(one["stride_frequency"]),
            phase=np.asarray(ds["phase"].values, dtype=np.float64),
            coordinates=tuple(str(c) for c in ds["coordinate"].values),
            q=np.asarray(one["q_mean"].transpose("phase", "coordinate").values, np.float64),
            left_strike_phase=float(one["left_foot_strike_phase"]),
            dataset=ds,
        )


def load_walking_template(name_or_path: str | Path | None = None) -> WalkingTemplate:
    """The walking template: a name in ``models/templates/`` (without ``.nc``) or a path;
    ``models/templates/walking_gait2392_subject01.nc`` by default."""
    if name_or_path is None:
        path = WALKING_TEMPLATE
    else:
        path = Path(name_or_path)
        if path.suffix != ".nc":
            path = MODELS_DIR / "templates" / f"{name_or_path}.nc"
    return _open_template(path, "walking", WalkingTemplate)


def walking_stride_frequency(
    speed: float, tpl: WalkingTemplate, *, cadence_exponent: float
) -> float:
    """Stride frequency (Hz) at ``speed``: f = f₀ (v / v₀)^c, (v₀, f₀) the measured stride.

    With c = 1/2 this is a constant walk ratio (step length / cadence; Sekiya & Nagasaki
    1998): v = step length × cadence = W·cadence², so cadence ∝ √v.
    """
    return tpl.stride_frequency * (float(speed) / tpl.speed) ** cadence_exponent


def walking_curves(
    speed: float,
    tpl: WalkingTemplate,
    *,
    excursion_exponent: float,
    scaled_joints: Sequence[str] = ("hip_flexion",),
    knee_flexion_floor: float | None = None,
) -> np.ndarray:
    """Joint angles over the stride at ``speed`` (P, C), periodic (closed like the running
    template's cycle).

    Sagittal excursions scale with the step length: with a constant walk ratio the step
    length is v / (2 f) ∝ (v / v₀)^(1 − c), and at small angles the thigh's swing about its
    mean (the hip's sagittal excursion) is proportional to it. Scale s = (v / v₀)^e, e the
    drill's ``excursion_exponent``, applied to the ``scaled_joints`` (``hip_flexion``,
    ``ankle_angle`` about their cycle means; ``knee_flexion`` above its cycle minimum, so the
    most extended posture is kept). Other coordinates keep the measured curves. At v = v₀
    the template is returned unchanged (closed). ``knee_flexion_floor`` (rad), when given,
    clamps knee flexion from below: the measured walk hyperextends by 3.3 deg in terminal
    swing, which knees whose range starts at 0 (the Rajagopal family) cannot take.
    """
    q = tpl.q - (tpl.q[-1:, :] - tpl.q[:1, :]) * (tpl.phase / 100.0)[:, None]
    s = (float(speed) / tpl.speed) ** excursion_exponent
    out = q.copy()
    for j, name in enumerate(tpl.coordinates):
        joint = name[:-2] if name.endswith(("_r", "_l")) else name
        if joint == "knee_angle" and "knee_flexion" in scaled_joints:
            anchor = q[:, j].min()
        elif joint in ("hip_flexion", "ankle_angle") and joint in scaled_joints:
            anchor = q[:, j].mean()
        else:
            continue
        out[:, j] = anchor + s * (q[:, j] - anchor)
    if knee_flexion_floor is not None:
        for j, name in enumerate(tpl.coordinates):
            if name.startswith("knee_angle_"):
                out[:, j] = np.maximum(out[:, j], knee_flexion_floor)
    return out


def walking_motion(
    speed: float,
    *,
    coordinates: Sequence[str],
    knee_flexion_sign,
    cadence_exponent: float,
    excursion_exponent: float,
    scaled_joints: Sequence[str] = ("hip_flexion",),
    knee_flexion_floor: float | None = None,
    duration: float | None = None,
    sample_rate: float = 100.0,
    cycles: int = 3,
    template: WalkingTemplate | None = None,
) -> xr.Dataset:
    """Level walking at ``speed`` (m/s) from the measured stride (``read_motion``'s layout).

    Stride frequency by :func:`walking_stride_frequency`, joint angles by
    :func:`walking_curves`, repeated; phase 0 (right foot strike) at t = 0; ``pelvis_tx``
    advances at ``speed``; coordinates absent from the template held at 0.
    """
    tpl = load_walking_template() if template is None else template
    v = float(speed)
    f = walking_stride_frequency(v, tpl, cadence_exponent=cadence_exponent)
    t = _time_grid(cycles / f if duration is None else duration, sample_rate)
    curves = walking_curves(
        v,
        tpl,
        excursion_exponent=excursion_exponent,
        scaled_joints=scaled_joints,
        knee_flexion_floor=knee_flexion_floor,
    )
    p = np.mod(100.0 * f * t, 100.0)
    tracks = {name: np.interp(p, tpl.phase, curves[:, j]) for j, name in enumerate(tpl.coordinates)}
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = _template_tracks_to_values(tracks, coordinates, signs)
    if "pelvis_tx" in coordinates:
        values["pelvis_tx"] = v * t
    attrs = {
        "source_path": str(tpl.dataset.attrs.get("template_path", WALKING_TEMPLATE)),
        "source_format": "musclesim walking template",
        "speed": v,
        "stride_frequency_hz": f,
        "measured_speed": tpl.speed,
        "speed_scaling": f"f = f0 (v/v0)^{cadence_exponent:g}; excursions of "
        f"{', '.join(scaled_joints)} x (v/v0)^{excursion_exponent:g}",
    }
    return _motion_dataset(t, values, coordinates, attrs)


class PhaseWindowExcitation(ExcitationSource):
    """Excitation of a walking-template drill: levels per window of the gait cycle.

    ``[[excitation.windows]]`` give, for a phase window [from, to) in % of the stride (it may
    wrap past 100 %), levels per muscle or group (resolved like :class:`DrillExcitation`'s);
    outside every window the ``[excitation] levels`` apply. Levels may be linear in speed
    (``{at_min, at_max}``). Timing: phase 0 = right foot strike at t = 0, the stride frequency
    of :func:`walking_stride_frequency`; left muscles lag by the template's measured left foot
    strike phase. Steps are smoothed by the activation dynamics downstream.
    """

    def __init__(self, drill: Drill, intensity: float, *, side: str = "r"):
        self.drill = drill
        self.intensity = drill.check_intensity(intensity)
        self.side = side
        self.references = drill.references
        self.template = load_walking_template(drill.motion["template"])
        self.frequency = walking_stride_frequency(
            self.intensity, self.template, cadence_exponent=drill.motion["cadence_exponent"]
        )

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:

        t = _as_array(time)
        d, value = self.drill, self.intensity
        base = d.excitation.get("levels", {})
        phase = np.mod(100.0 * self.frequency * t, 100.0)
        out = np.empty((t.size, len(muscles)))
        for j, muscle in enumerate(muscles):
            _, mside = split_muscle(muscle)
            # walking is bilateral: the left leg's muscles follow the left foot's strikes
            p = np.mod(phase - self.template.left_strike_phase, 100.0) if mside == "l" else phase
            level = _level_for(base, muscle, d, value, self.side)
            out[:, j] = base_default(base, d, value) if level is None else level
            for w in d.excitation["windows"]:
                inside = (
                    (p >= w["from"]) & (p < w["to"])
                    if w["from"] <= w["to"]
                    else (p >= w["from"]) | (p < w["to"])
                )
                level = _level_for(w["levels"], muscle, d, value, self.side)
                if level is not None:
                    out[inside, j] = level
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        return (
            f"PhaseWindowExcitation({self.drill.name} at {self.intensity:g} "
            f"{self.drill.intensity.unit}; refs {', '.join(self.references)})"
        )


# ----------------------------------------------------------------------------------------------
# The public motion entry point
# ----------------------------------------------------------------------------------------------


def drill_motion(
    drill: str | Drill,
    intensity: float,
    *,
    coordinates: Sequence[str],
    knee_flexion_sign,
    duration: float | None = None,
    sample_rate: float = 100.0,
    side: str = "r",
    drills: Mapping[str, Drill] | None = None,
) -> xr.Dataset:
    """The drill's joint motion at ``intensity`` as a motion Dataset (``read_motion``'s layout).

    Args:
        drill: a :class:`Drill` or the name of a drill in ``drills`` (the shipped library).
        intensity: in the drill's unit, inside its range.
        coordinates: the model's coordinate names; every one is in the output, those the
            drill does not move held at 0 (rad or m), listed in the ``held_at_zero`` attribute.
        knee_flexion_sign: +1 when the model's positive knee angle is flexion (Rajagopal, Lai,
            Sprinter), −1 when negative (gait2392, Hamner); a number, or a mapping / pairs
            ``knee coordinate → ±1`` as ``GeometryModel.knee_flexion_sign`` gives. Read it from
            the model; never assume it.
        duration: s; by default ``default_cycles`` cycles (keyframe drills), three strides
            (running), the distance of the default dose (accelerations) or the whole file.
        sample_rate: Hz.
        side: the working leg of unilateral drills (written for ``"r"``; ``"l"`` mirrors).

    Returns:
        ``q`` (time, coordinate) in rad/m with ``unit`` and ``motion_type`` per coordinate;
        attributes name the drill, intensity, unit and references.
    """
    d = get_drill(drill, drills)
    value = d.check_intensity(intensity)
    if side not in ("r", "l"):
        raise InputError(f"side {side!r}", field="side", expected="'r' or 'l'")
    coordinates = [str(c) for c in coordinates]
    attrs = _base_attrs(d, value)
    kind = d.kind
    if kind == "running_template":
        tpl = load_running_template()
        if d.motion["speed_profile"] == "acceleration":
            t, values, extra = _acceleration_motion(
                d, _check_speed(value), coordinates, knee_flexion_sign, duration, sample_rate, tpl
            )
            attrs.update(extra)
            return _motion_dataset(t, values, coordinates, attrs)
        ds = running_motion(
            value,
            coordinates=coordinates,
            knee_flexion_sign=knee_flexion_sign,
            duration=duration,
            sample_rate=sample_rate,
            template=tpl,
        )
        ds.attrs.update(attrs)
        ds.attrs["source_path"] = d.path
        return ds
    if kind == "walking_template":
        ds = walking_motion(
            value,
            coordinates=coordinates,
            knee_flexion_sign=knee_flexion_sign,
            cadence_exponent=d.motion["cadence_exponent"],
            excursion_exponent=d.motion["excursion_exponent"],
            scaled_joints=d.motion["scaled_joints"],
            knee_flexion_floor=d.motion["knee_flexion_floor"],
            duration=duration,
            sample_rate=sample_rate,
            cycles=d.motion["default_cycles"],
            template=load_walking_template(d.motion["template"]),
        )
        ds.attrs.update(attrs)
        ds.attrs["source_path"] = d.path
        return ds
    if kind == "motion_file":
        return _file_motion(d, value, coordinates, knee_flexion_sign, duration, sample_rate, attrs)
    arrive, period = _keyframe_schedule(d, value)
    total = d.motion["default_cycles"] * period if duration is None else duration
    t = _time_grid(total, sample_rate)
    tracks = _joint_tracks(d, value, t, side)
    values = _coordinate_values(tracks, coordinates, knee_flexion_sign)
    attrs.update(cycle_period_s=period, working_side=side)
    return _motion_dataset(t, values, coordinates, attrs)


def _file_motion(d: Drill, value, coordinates, knee_flexion_sign, duration, sample_rate, attrs):

    m = d.motion
    src = read_motion(m["path"], model=m.get("model"))
    scale = _eval(m["time_scale"], d, value)
    if not scale > 0:
        raise InputError(
            f"time scale {scale}", path=d.path, field="motion.time_scale", expected="> 0"
        )
    t0 = src["time"].values
    src = src.assign_coords(time=(t0 - t0[0]) / scale)
    src = resample_motion(src, sample_rate)
    if duration is not None:
        if duration > float(src["time"].values[-1]) + 1e-9:
            raise InputError(
                f"duration {duration:g} s is longer than the file "
                f"({float(src['time'].values[-1]):g} s)",
                path=m["path"],
                field="duration",
                expected="a duration within the record",
            )
        src = src.sel(time=src["time"].values[src["time"].values <= duration + 1e-9])
    names = [str(c) for c in src["coordinate"].values]
    signs = _knee_signs(knee_flexion_sign, coordinates)
    values = {}
    file_signs = {}
    for side in ("r", "l"):
        knee = f"knee_angle_{side}"
        if knee not in names:
            continue
        if "knee_flexion_sign" in m:
            file_signs[knee] = float(m["knee_flexion_sign"])
            how = "stated in the drill file"
        elif "model" in m:
            file_signs[knee] = -leg_geometry(m["model"], side).knee_sign
            how = "read from the drill file's model"
        else:
            file_signs[knee] = -knee_sign_from_data(src["q"].sel(coordinate=knee).values)
            how = "inferred from the data (largest |angle| is flexion)"
        attrs[f"file_knee_flexion_sign_{side}"] = f"{file_signs[knee]:+g} ({how})"
    for name in names:
        q = np.asarray(src["q"].sel(coordinate=name).values, dtype=np.float64)
        base = name[: -len("_beta")] if name.endswith("_beta") else name
        if base in file_signs and base in signs:
            q = q * file_signs[base] * signs[base]
        values[name] = q
    for knee in file_signs:
        if f"{knee}_beta" in coordinates and f"{knee}_beta" not in values and knee in values:
            values[f"{knee}_beta"] = values[knee]
    attrs.update(
        source_path=str(m["path"]),
        source_sha256=src.attrs.get("source_sha256", ""),
        drill_file=d.path,
        time_scale=scale,
    )
    return _motion_dataset(src["time"].values, values, coordinates, attrs)


# ----------------------------------------------------------------------------------------------
# Excitation
# ----------------------------------------------------------------------------------------------


def _level_for(
    levels: Mapping, muscle: str, drill: Drill, intensity: float, working: str
) -> float | None:
    GROUPS = _group_table()

    key, side = split_muscle(muscle)
    # smallest group first, so "gastrocnemius" wins over "calf" for gasmed
    groups = sorted(
        (g for g, members in GROUPS.items() if key in members and g != key),
        key=lambda g: len(GROUPS[g]),
    )
    mside = _mirror(side, working) if side else None
    candidates = []
    if mside:
        candidates.append(f"{key}_{mside}")
    candidates.append(key)
    for g in groups:
        if mside:
            candidates.append(f"{g}_{mside}")
        candidates.append(g)
    for c in candidates:
        if c in levels:
            return _eval(levels[c], drill, intensity)
    return None


class DrillExcitation(ExcitationSource):
    """Excitation of a keyframe drill: a level per muscle for each move between key postures.

    During the move into key posture k, muscle m has the level given in that key posture's
    ``excitation`` table, else the drill's ``[excitation] levels`` (constant), resolved by the
    key order of the module docstring. Alternating drills (``left_shift``) shift the left
    muscles' timing with the left leg. Levels come from the cited EMG studies (per drill file);
    steps between moves are smoothed by the activation dynamics downstream.
    """

    def __init__(self, drill: Drill, intensity: float, *, side: str = "r"):
        self.drill = drill
        self.intensity = drill.check_intensity(intensity)
        self.side = side
        self.references = drill.references

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:

        t = _as_array(time)
        d, value = self.drill, self.intensity
        base = d.excitation.get("levels", {})
        out = np.empty((t.size, len(muscles)))
        if d.excitation["type"] == "constant" or d.kind != "keyframes":
            for j, muscle in enumerate(muscles):
                level = _level_for(base, muscle, d, value, self.side)
                out[:, j] = base_default(base, d, value) if level is None else level
            return np.clip(out, 0.0, 1.0)
        arrive, period = _keyframe_schedule(d, value)
        shift = _eval(d.motion["left_shift"], d, value) * period
        frames = d.motion["keyframes"]
        for j, muscle in enumerate(muscles):
            _, mside = split_muscle(muscle)
            lagged = mside == "l" and shift != 0.0
            seg = _segment_index(t - shift if lagged else t, arrive, period)
            per_frame = []
            for frame in frames:
                level = _level_for(frame["excitation"], muscle, d, value, self.side)
                if level is None:
                    level = _level_for(base, muscle, d, value, self.side)
                per_frame.append(base_default(base, d, value) if level is None else level)
            out[:, j] = np.asarray(per_frame)[seg]
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        return (
            f"DrillExcitation({self.drill.name} at {self.intensity:g} "
            f"{self.drill.intensity.unit}; refs {', '.join(self.references)})"
        )


def base_default(levels: Mapping, drill: Drill, intensity: float) -> float:
    """The ``default`` level of a levels table (0 when absent)."""
    return _eval(levels["default"], drill, intensity) if "default" in levels else 0.0


#: Excitation of muscles the running EMG template has no pattern for (all but the hamstrings
#: and calf): a low constant, musclesim's assumption (they are outside this library's scope).
OTHER_RUNNING_LEVEL = 0.02


class RunningExcitation(ExcitationSource):
    """The running EMG template at a speed, timed by the running template's own strides.

    Amplitude: :func:`musclesim.template_for_speed` (each muscle's peak linear in speed from
    the running template's value at 3.7 m/s to full excitation at ``max_speed``); for an
    acceleration the peak follows the instantaneous speed. Timing: the stride phase of the
    drill's own motion (right foot strike at phase 0, t = 0; stride frequency, toe-off and
    left foot strike/toe-off phases interpolated from the running template), so no event
    detection is needed. Given ``cycles`` (measured events) at constant speed, those are used.
    """

    def __init__(self, speed: float, *, max_speed: float, profile_tau: float | None = None):

        self.speed = float(speed)
        self.max_speed = float(max_speed)
        self.tau = profile_tau
        self.template: GaitPhaseTemplate = template_for_speed(self.speed, max_speed=max_speed)
        self._slow = template_for_speed(RAJAGOPAL_RUN_SPEED, max_speed=max_speed)
        self._fast = template_for_speed(max_speed, max_speed=max_speed)
        self._v0 = RAJAGOPAL_RUN_SPEED
        self.references = self.template.references

    def _timing(self, t: np.ndarray):
        tpl = load_running_template()
        if self.tau is None:
            v = np.full(t.shape, self.speed)
            phase = 100.0 * float(_stride_frequency(tpl, [self.speed])[0]) * t
        else:
            v, phase, _ = _acceleration_phase(self.speed, self.tau, t, tpl)
        toe = np.interp(v, tpl.speeds, tpl.toe_off_phase)
        lfs = np.interp(v, tpl.speeds, tpl.left_strike_phase)
        lto = np.interp(v, tpl.speeds, tpl.left_toe_off_phase)
        return v, phase, toe, lfs, lto

    def __call__(self, time, muscles, *, motion=None, cycles=None) -> np.ndarray:

        t = _as_array(time)
        out = np.full((t.size, len(muscles)), OTHER_RUNNING_LEVEL)
        known = [j for j, mu in enumerate(muscles) if split_muscle(mu)[0] in self._slow.shapes]
        if cycles is not None and self.tau is None:
            if known:
                out[:, known] = self.template(t, [muscles[j] for j in known], cycles=cycles)
            return out
        v, phase, toe, lfs, lto = self._timing(t)
        w = np.clip((v - self._v0) / (self.max_speed - self._v0), 0.0, 1.0)
        for j in known:
            key, side = split_muscle(muscles[j])
            if side == "l":
                p, to = np.mod(phase - lfs, 100.0), np.mod(lto - lfs, 100.0)
            else:
                p, to = np.mod(phase, 100.0), toe
            slow = _at_phase(self._slow, key, p, to)
            fast = _at_phase(self._fast, key, p, to)
            out[:, j] = (1.0 - w) * slow + w * fast
        return np.clip(out, 0.0, 1.0)

    def describe(self) -> str:
        how = "constant speed" if self.tau is None else f"acceleration, tau {self.tau:g} s"
        return f"RunningExcitation({self.speed:g} m/s of max {self.max_speed:g} m/s, {how})"


def _at_phase(template: GaitPhaseTemplate, key: str, phase: np.ndarray, toe_off: np.ndarray):
    """Template values at cycle phases with a per-sample toe-off phase (stance/swing remap)."""

    return template.shape(key, _remap_phase(phase, toe_off, template.reference_toe_off))


def drill_excitation(
    drill: str | Drill,
    intensity: float,
    *,
    max_speed: float | None = None,
    side: str = "r",
    drills: Mapping[str, Drill] | None = None,
) -> ExcitationSource:
    """The excitation source of ``drill`` at ``intensity``.

    Running drills use :func:`musclesim.template_for_speed` with the athlete's ``max_speed``
    (m/s; default the fastest measured template speed, 9.51 m/s); keyframe drills a
    :class:`DrillExcitation` (or :class:`~musclesim.Constant`-like constant levels per muscle);
    ``side`` as in :func:`drill_motion`.
    """
    d = get_drill(drill, drills)
    value = d.check_intensity(intensity)
    if d.excitation["type"] == "running_template":
        vmax = float(load_running_template().speeds[-1]) if max_speed is None else max_speed
        tau = d.motion.get("tau_s") if d.motion.get("speed_profile") == "acceleration" else None
        return RunningExcitation(value, max_speed=vmax, profile_tau=tau)
    if d.excitation["type"] == "phase_windows":
        return PhaseWindowExcitation(d, value, side=side)
    return DrillExcitation(d, value, side=side)


# ----------------------------------------------------------------------------------------------
# Deriving the running template from measured sprint kinematics
# ----------------------------------------------------------------------------------------------

#: Coordinates kept in the running template (the lower body, pelvis and trunk; arms dropped).
TEMPLATE_COORDINATES = (
    "pelvis_tilt",
    "pelvis_list",
    "pelvis_rotation",
    "pelvis_ty",
    "hip_flexion_r",
    "hip_adduction_r",
    "hip_rotation_r",
    "knee_angle_r",
    "ankle_angle_r",
    "subtalar_angle_r",
    "mtp_angle_r",
    "hip_flexion_l",
    "hip_adduction_l",
    "hip_rotation_l",
    "knee_angle_l",
    "ankle_angle_l",
    "subtalar_angle_l",
    "mtp_angle_l",
    "lumbar_extension",
    "lumbar_bending",
    "lumbar_rotation",
)


def derive_running_template(
    motion_paths: Sequence[str | Path],
    *,
    model: str | Path,
    n_points: int = 101,
    command: str = "",
) -> xr.Dataset:
    """Cycle-averaged joint angles and cadence at each measured speed (the running template).

    For each motion file: read it (:func:`musclesim.read_motion`); speed = least-squares slope
    of ``pelvis_tx`` over time; right and left foot strikes and toe-offs by
    :func:`musclesim.detect_events` with the model's leg geometry; complete right strides cut
    and time-normalised to ``n_points`` phases (:func:`musclesim.cut_cycles`, phase 0 = right
    foot strike, both legs on the right foot's cycle) and averaged
    (:func:`musclesim.average_cycles`); stride frequency = 1 / mean right stride duration.
    Knee angles are stored as flexion (positive = flexed), converted with the knee sign read
    from ``model`` (:func:`musclesim.motion.gait.leg_geometry`). SDs are NaN where one stride was
    found (SD undefined).
    """

    model = Path(model)
    flex = {s: -leg_geometry(model, s).knee_sign for s in ("r", "l")}
    rows = []
    for p in motion_paths:
        p = Path(p)
        motion = read_motion(p)
        t = motion["time"].values
        speed = float(np.polyfit(t, motion["q"].sel(coordinate="pelvis_tx").values, 1)[0])
        ev_r = detect_events(motion, side="r", model=model)
        ev_l = detect_events(motion, side="l", model=model)
        sub = motion.sel(coordinate=list(TEMPLATE_COORDINATES))
        cycles = cut_cycles(sub, ev_r, n_points=n_points, variables=["q"])
        mean = average_cycles(cycles)
        durations = (cycles["cycle_end"] - cycles["cycle_start"]).values
        starts, ends = cycles["cycle_start"].values, cycles["cycle_end"].values
        lfs, lto = [], []
        for s, e in zip(starts, ends, strict=True):
            inside = ev_l.foot_strike[(ev_l.foot_strike > s) & (ev_l.foot_strike < e)]
            lfs += list(100 * (inside - s) / (e - s))
            inside = ev_l.toe_off[(ev_l.toe_off > s) & (ev_l.toe_off < e)]
            lto += list(100 * (inside - s) / (e - s))
        rows.append(
            dict(
                path=p,
                speed=speed,
                mean=mean,
                n=int(cycles.sizes["cycle"]),
                f=1.0 / float(durations.mean()),
                f_sd=float(np.std(1.0 / durations, ddof=1)) if durations.size > 1 else math.nan,
                toe=float(cycles["toe_off_phase"].values.mean()),
                lfs=float(np.mean(lfs)) if lfs else math.nan,
                lto=float(np.mean(lto)) if lto else math.nan,
                starts=", ".join(f"{s:.3f}" for s in starts),
            )
        )
    rows.sort(key=lambda r: r["speed"])
    speeds = np.array([r["speed"] for r in rows])
    if np.any(np.diff(speeds) <= 0):
        raise InputError(
            "two motions have the same speed",
            field="motion_paths",
            expected="one file per distinct speed",
        )
    coords = list(TEMPLATE_COORDINATES)
    sign = np.array([flex[c[-1]] if c.startswith("knee_angle_") else 1.0 for c in coords])
    q = np.stack([r["mean"]["q"].transpose("phase", "coordinate").values * sign for r in rows])
    sd = np.stack([r["mean"]["q_std"].transpose("phase", "coordinate").values for r in rows])
    for i, r in enumerate(rows):
        if r["n"] < 2:
            sd[i] = np.nan
    phase = rows[0]["mean"]["phase"].values
    units = ["m" if c == "pelvis_ty" else "rad" for c in coords]
    ds = xr.Dataset(
        {
            "q_mean": (
                ("speed", "phase", "coordinate"),
                q,
                {
                    "units": "rad or m (per coordinate, see `unit`)",
                    "long_name": "cycle-averaged coordinate value (knee angles as flexion, "
                    "positive = flexed)",
                },
            ),
            "q_std": (
                ("speed", "phase", "coordinate"),
                sd,
                {"units": "rad or m", "long_name": "across-stride SD (NaN where 1 stride)"},
            ),
            "stride_frequency": (
                "speed",
                np.array([r["f"] for r in rows]),
                {"units": "Hz", "long_name": "stride frequency (right foot strike to the next)"},
            ),
            "stride_frequency_std": (
                "speed",
                np.array([r["f_sd"] for r in rows]),
                {"units": "Hz", "long_name": "across-stride SD of stride frequency"},
            ),
            "n_cycles": (
                "speed",
                np.array([r["n"] for r in rows]),
                {"long_name": "complete right strides averaged"},
            ),
            "toe_off_phase": (
                "speed",
                np.array([r["toe"] for r in rows]),
                {"units": "%", "long_name": "right toe-off phase"},
            ),
            "left_foot_strike_phase": (
                "speed",
                np.array([r["lfs"] for r in rows]),
                {"units": "%", "long_name": "left foot-strike phase in the right cycle"},
            ),
            "left_toe_off_phase": (
                "speed",
                np.array([r["lto"] for r in rows]),
                {"units": "%", "long_name": "left toe-off phase in the right cycle"},
            ),
            "cycle_starts": (
                "speed",
                np.array([r["starts"] for r in rows], dtype=object),
                {"units": "s", "long_name": "right foot strikes opening the averaged strides"},
            ),
            "source_file": ("speed", np.array([r["path"].name for r in rows], dtype=object)),
            "source_sha256": (
                "speed",
                np.array([sha256_file(r["path"]) for r in rows], dtype=object),
            ),
        },
        coords={
            "speed": (
                "speed",
                speeds,
                {"units": "m/s", "long_name": "measured speed (pelvis_tx slope)"},
            ),
            "phase": (
                "phase",
                phase,
                {"units": "%", "long_name": "gait-cycle phase (0 = right foot strike)"},
            ),
            "coordinate": ("coordinate", np.array(coords, dtype=object)),
            "unit": ("coordinate", np.array(units, dtype=object)),
        },
        attrs={
            "title": "musclesim running template (cycle-averaged sprint kinematics)",
            "source_model": model.name,
            "source_model_sha256": sha256_file(model),
            "source_knee_flexion_sign_r": int(flex["r"]),
            "source_knee_flexion_sign_l": int(flex["l"]),
            "source_data": "Dorn et al. 2012 subject JA1 (via nimblephysics, see "
            "shared/data/SOURCES.md)",
            "method": "read_motion; speed = polyfit slope of pelvis_tx; detect_events "
            "(kinematic, model leg geometry); cut_cycles on right foot strikes "
            f"({n_points} phases); average_cycles; knee as flexion",
            "events_source": rows[0]["mean"].attrs.get("events_source", ""),
            "derivation_command": command,
            "musclesim_version": __version__,
            "references": "dorn2012",
        },
    )
    return ds


def stance_foot_speed(motion: xr.Dataset, *, model: str | Path, trim: float = 0.2) -> float:
    """Walking speed (m/s) from the stance foot: the median backward speed, relative to the
    pelvis origin's forward position, of the heel, ankle and toe over the middle of every
    complete stance (foot strike to toe-off, ``trim`` of the stance cut at each end).

    On a treadmill (``pelvis_tx`` nearly constant, as in the gait2392 example walk) the
    planted foot moves backward with the belt, so this is the belt speed; overground it is the
    speed relative to the pelvis, i.e. the walking speed as well (the foot is still on the
    ground while the pelvis passes over it). Planar chain of :func:`musclesim.foot_trajectories`.
    """

    t = motion["time"].values
    pelvis_tx = motion["q"].sel(coordinate="pelvis_tx").values
    speeds = []
    for side in ("r", "l"):
        events = detect_events(motion, side=side, model=model)
        feet = foot_trajectories(motion, side=side, model=model)
        for strike in events.foot_strike:
            after = events.toe_off[events.toe_off > strike]
            if after.size == 0:
                continue
            off = float(after[0])
            span = off - strike
            inside = (t > strike + trim * span) & (t < off - trim * span)
            if inside.sum() < 3:
                continue
            for point in ("heel", "ankle", "toe"):
                x = feet["position"].sel(axis="x", point=point).values - pelvis_tx
                speeds.append(float(np.median(-np.gradient(x, t)[inside])))
    if not speeds:
        raise InputError(
            "no complete stance found",
            field="motion",
            expected="a walking record with a foot strike followed by a toe-off",
        )
    return float(np.median(speeds))


def derive_walking_template(
    motion_path: str | Path, *, model: str | Path, n_points: int = 101, command: str = ""
) -> xr.Dataset:
    """The walking template: the measured stride(s) cut at right foot strikes and averaged
    (the running template's method, :func:`derive_running_template`), with the speed from the
    stance foot (:func:`stance_foot_speed`) instead of the ``pelvis_tx`` slope, which is
    meaningless on a treadmill. One speed; the drill file states how it scales with speed."""

    motion_path = Path(motion_path)
    ds = derive_running_template([motion_path], model=model, n_points=n_points, command=command)
    speed = stance_foot_speed(read_motion(motion_path), model=model)
    ds = ds.assign_coords(
        speed=(
            "speed",
            [speed],
            {
                "units": "m/s",
                "long_name": "measured walking speed (median backward speed of the stance "
                "foot relative to the pelvis, middle 60 % of each stance)",
            },
        )
    )
    ds.attrs.update(
        title="musclesim walking template (cycle-averaged measured walking)",
        source_data="OpenSim example gait2392 subject01 walk1 (opensim-models, see "
        "shared/data/SOURCES.md)",
        method=ds.attrs["method"].replace(
            "speed = polyfit slope of pelvis_tx", "speed = stance_foot_speed"
        ),
        references="delp2007",
    )
    return ds
