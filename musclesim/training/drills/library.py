"""Drill files: their TOML format, :class:`Drill`, and reading the library (:func:`load_drills`).

A drill is a TOML file in ``models/drills/`` (one per drill; format below). Four kinds of motion:

- ``running_template``: running at any speed in [3.5, 9.5] m/s (and accelerations), from the
  cycle-averaged joint angles and cadence measured on one sprinter (Dorn et al. 2012, subject
  JA1) at 3.54, 5.21, 7.02 and 9.51 m/s, shipped as ``models/templates/running_sprinter_ja1.nc``
  (derived by ``experiments/derive_running_template.py``) and interpolated across speed by a
  monotone piecewise-cubic Hermite interpolant (PCHIP, Fritsch & Carlson 1980) written in
  ``jax.numpy`` (:mod:`.running`).
- ``keyframes``: a parametric template. A repetition (or a gait-like cycle) is a periodic list of
  key postures; between consecutive key postures each joint moves along a raised cosine
  q(s) = q_a + (q_b − q_a)·(1 − cos πs)/2, s ∈ [0, 1], so velocity is continuous and zero at
  each key posture. Ranges of motion, durations and activation levels are numbers from cited
  studies; each TOML file says which number comes from which paper, and marks ``verified =
  false`` what could not be checked against the paper's text.
- ``walking_template``: level walking from one measured stride (OpenSim's gait2392 example
  walk, 1.01 m/s), shipped as ``models/templates/walking_gait2392_subject01.nc`` (derived by
  ``experiments/derive_walking_template.py``); the drill file states how cadence and the hip's
  excursion grow with speed (:mod:`.walking`) and gives the excitation per gait-phase window
  (``phase_windows``).
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
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...core.citations import REFERENCES
from ...core.errors import InputError
from ...core.groups import GROUPS
from ...core.io import MODELS_DIR

#: Folder of the shipped drill files.
DRILLS_DIR = MODELS_DIR / "drills"

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
            ``walking_template``, ``motion_file``; the rest as in the module docstring), angles
            already in radians.
        excitation: the excitation spec (``type`` one of ``constant``, ``segments``,
            ``running_template``, ``phase_windows``).
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
        """How the motion is generated: ``keyframes``, ``running_template``,
        ``walking_template`` or ``motion_file``."""
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
