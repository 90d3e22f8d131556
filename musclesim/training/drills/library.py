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

Intensity. Every drill has one primary intensity variable (name, unit, min, max, default, and
``harder`` = +1 when a larger value loads more, −1 when less; +1 if absent). Any number in a
drill file may be given as ``{at_min = a, at_max = b}``: it is then linear in intensity from
``a`` at the drill's minimum to ``b`` at its maximum (an assumption stated per drill). Durations
may also be ``"intensity"`` (the intensity is that duration, e.g. an eccentric tempo in s) and
``"freefall"`` (√(2h/g) with h = intensity in m, the drop jump's fall). An excitation level may
also be piecewise linear in the intensity, ``{at = [x0, x1, ...], value = [v0, v1, ...]}`` (held
at the end values beyond the first and last x), for levels derived at several intensities.

Further intensity dimensions. A drill may declare ``[[dimensions]]`` that regress it besides the
primary intensity (:class:`Dimension`; :attr:`Drill.dimensions` lists the primary first). Their
names have fixed meanings:

- ``range_fraction`` (unit 1, harder +1): every joint a key posture sets moves
  ``range_fraction`` of its excursion from the key posture ``from_keyframe`` (default 0, the
  drill's short, unstretched position): q_k → q_ref + r·(q_k − q_ref). 1 is the full range of
  the file.
- ``tempo_s`` (s, harder −1): the duration of the lengthening phase; the key postures whose
  ``dur_s = "tempo_s"`` take it.
- ``load_bm`` (fraction of body mass, harder +1): external load; it changes the numbers given as
  ``{at_min = a, at_max = b, dimension = "load_bm"}`` (linear from the dimension's min to max;
  the file states which, usually excitation levels).

Any ``{at_min, at_max}`` table may name ``dimension = "<name>"`` to be linear in that dimension
instead of the primary intensity, and any duration may be a dimension's name. Callers pass
values as ``settings = {name: value}`` (:func:`drill_motion`, :func:`drill_excitation`); an
absent dimension takes its default.

TOML format (``_deg`` keys are degrees, converted to radians on reading; everything else SI)::

    name = "nordic_hamstring"
    description = "..."
    references = ["bourne2017", ...]          # keys into musclesim.core.citations.REFERENCES
    category = "strength"                     # lengthening, strength, running, walking,
                                              # plyometric, calf or drill
    [intensity]                               # name, unit, min, max, default, description,
                                              # harder (+1 or -1)
    [[dimensions]]                            # optional: range_fraction, tempo_s, load_bm
    name = "tempo_s"                          # min, max, default, description (unit fixed)
    [dose]                                    # sets and reps, or distance_m; optionally
                                              # sessions_per_day (e.g. 2 = twice a day) or
                                              # every_days (e.g. 3 = once every third day)
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

#: The drill categories the ranking and the plan group drills by.
CATEGORIES = ("lengthening", "strength", "running", "walking", "plyometric", "calf", "drill")

#: Further intensity dimensions a drill file may declare: name → (unit, harder). Their meaning
#: is fixed (module docstring), so every drill regresses the same way.
DIMENSION_KINDS: dict[str, tuple[str, int]] = {
    "range_fraction": ("1", +1),
    "tempo_s": ("s", -1),
    "load_bm": ("fraction of body mass", +1),
}


@dataclasses.dataclass(frozen=True)
class Intensity:
    """A drill's intensity variable: ``name`` in ``unit`` (SI), valid on [``min``, ``max``]."""

    name: str
    unit: str
    min: float
    max: float
    default: float
    description: str = ""
    harder: int = 1


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One intensity dimension of a drill: ``name`` in ``unit`` on [``min``, ``max``].

    ``harder`` is +1 when a larger value loads the muscle more (range, load, speed) and −1 when
    it loads it less (a longer lengthening phase, ``tempo_s``), so a regression moves the value
    by ``-harder``. ``from_keyframe`` is the key posture ``range_fraction`` is measured from.
    """

    name: str
    unit: str
    min: float
    max: float
    default: float
    description: str = ""
    harder: int = 1
    from_keyframe: int = 0

    def limit_words(self, value: float) -> str:
        """How a clinician reads ``value`` as the limit of a regression: the bound that keeps
        the load at or below it ("range ≤ 70 %", "tempo ≥ 3 s", "load ≤ 0.2 BM",
        "speed ≤ 7.2 m/s")."""
        sign = "≤" if self.harder > 0 else "≥"
        if self.name == "range_fraction":
            return f"range {sign} {100.0 * value:.0f} %"
        if self.name == "tempo_s":
            return f"tempo {sign} {value:.3g} s"
        if self.name == "load_bm":
            return f"load {sign} {value:.2g} BM"
        unit = "" if self.unit in ("1", "") else f" {self.unit}"
        return f"{self.name.replace('_', ' ')} {sign} {value:.3g}{unit}"

    def check(self, value, *, drill: str = "") -> float:
        """``value`` as a float inside [min, max]; InputError naming the dimension otherwise."""
        where = f" of drill {drill!r}" if drill else ""
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise InputError(
                f"{self.name} {value!r}{where} is not a number",
                field=self.name,
                expected=f"{self.min:g}–{self.max:g} {self.unit}",
            ) from None
        tol = 1e-9 * max(1.0, abs(self.max))
        if math.isnan(x) or not (self.min - tol <= x <= self.max + tol):
            raise InputError(
                f"{self.name} {x:g} {self.unit} is outside the range{where}",
                field=self.name,
                expected=f"{self.min:g} ≤ {self.name} ≤ {self.max:g} {self.unit}",
            )
        return min(max(x, self.min), self.max)


@dataclasses.dataclass(frozen=True)
class Dose:
    """Default dose: ``sets`` × ``reps``, or a ``distance_m`` per set (running drills), and
    optionally how often it is done (``sessions_per_day``: 2 = twice a day, 0.5 = every other
    day), as the drill's source prescribes it."""

    sets: int
    reps: int | None = None
    distance_m: float | None = None
    sessions_per_day: float | None = None

    def describe(self) -> str:
        text = (
            f"{self.sets} × {self.distance_m:g} m"
            if self.distance_m is not None
            else f"{self.sets} × {self.reps}"
        )
        if self.sessions_per_day is not None:
            text += f", {_frequency_words(self.sessions_per_day)}"
        return text


def _frequency_words(per_day: float) -> str:
    if per_day >= 1.0:
        if per_day != round(per_day):
            return f"{per_day:g} times a day"
        return {1: "once a day", 2: "twice a day"}.get(round(per_day), f"{per_day:g} times a day")
    every = round(1.0 / per_day)
    if abs(every * per_day - 1.0) > 1e-9:
        return f"{per_day:g} times a day"
    return {2: "every other day", 3: "every third day"}.get(every, f"every {every} days")


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
        extra_dimensions: the ``[[dimensions]]`` of the file (:class:`Dimension`), without
            the primary intensity (see :attr:`dimensions`).
        category: one of :data:`CATEGORIES` (the file's ``category``).
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
    extra_dimensions: tuple[Dimension, ...] = ()
    category: str = "drill"

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        """Every intensity dimension, the primary intensity first."""
        it = self.intensity
        primary = Dimension(it.name, it.unit, it.min, it.max, it.default, it.description, it.harder)
        return (primary, *self.extra_dimensions)

    def check_settings(self, settings: Mapping[str, float] | None) -> dict[str, float]:
        """``{name: value}`` for every further dimension: ``settings`` checked against each
        dimension's range, the file's default where absent. InputError for a name the drill
        does not have (the primary intensity is passed as ``intensity``, not here)."""
        settings = {} if settings is None else settings
        if not isinstance(settings, Mapping):
            raise InputError(
                f"settings {settings!r} for drill {self.name!r}",
                field="settings",
                expected="a mapping {dimension name: value}",
            )
        known = {d.name: d for d in self.extra_dimensions}
        unknown = [k for k in settings if k not in known]
        if unknown:
            raise InputError(
                f"drill {self.name!r} has no dimension {', '.join(map(repr, unknown))}"
                + (
                    " (the primary intensity is the intensity argument)"
                    if self.intensity.name in unknown
                    else ""
                ),
                path=self.path or None,
                field="settings",
                expected="names among "
                + (", ".join(known) if known else "none (no [[dimensions]])"),
            )
        return {
            name: dim.check(settings.get(name, dim.default), drill=self.name)
            for name, dim in known.items()
        }

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
    if isinstance(value, Mapping) and set(value) in ({"at_min", "at_max"}, _LINEAR_IN_DIMENSION):
        out: dict[str, Any] = {
            k: _number_spec(value[k], path=path, field=f"{field}.{k}") for k in ("at_min", "at_max")
        }
        if "dimension" in value:
            if value["dimension"] not in DIMENSION_KINDS:
                raise InputError(
                    f"{value['dimension']!r}",
                    path=path,
                    field=f"{field}.dimension",
                    expected="one of " + ", ".join(DIMENSION_KINDS),
                )
            out["dimension"] = str(value["dimension"])
        return out
    options = ["a number", "{at_min = a, at_max = b[, dimension = name]}"] + [
        repr(a) for a in allow
    ]
    raise InputError(f"{value!r}", path=path, field=field, expected=" or ".join(options))


_LINEAR_IN_DIMENSION = {"at_min", "at_max", "dimension"}
_PIECEWISE = {"at", "value"}


def _piecewise_spec(value: Mapping, *, path: Path, field: str) -> dict:
    """Validate a level piecewise linear in the primary intensity, ``{at = [x0, x1, ...],
    value = [v0, v1, ...]}`` (x strictly increasing; held at the end values beyond them), the
    form of levels derived at several intensities where one line does not fit them."""
    at, val = value["at"], value["value"]
    if not (isinstance(at, list) and isinstance(val, list) and len(at) == len(val) >= 2):
        raise InputError(
            f"{dict(value)!r}",
            path=path,
            field=field,
            expected="{at = [x0, x1, ...], value = [v0, v1, ...]}: lists of equal length >= 2",
        )
    xs = [_number_spec(x, path=path, field=f"{field}.at[{i}]") for i, x in enumerate(at)]
    vs = [_number_spec(v, path=path, field=f"{field}.value[{i}]") for i, v in enumerate(val)]
    if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
        raise InputError(
            f"at = {at!r}", path=path, field=f"{field}.at", expected="strictly increasing values"
        )
    return {"at": tuple(xs), "value": tuple(vs)}


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
        _check_joint_degrees(spec, path=path, field=f"{field}.{key}")
        pose[parsed] = _scale(spec, math.pi / 180.0)
    return pose


#: Largest joint angle a drill file may give (degrees): a full turn either way is beyond any
#: joint, so a larger value is a typing error, not a pose.
MAX_JOINT_DEGREES = 180.0


def _check_joint_degrees(spec, *, path: Path, field: str) -> None:
    """A ``_deg`` value (or each end of an ``{at_min, at_max}`` table) within +-180 deg."""
    values = (
        {f"{field}.{k}": spec[k] for k in ("at_min", "at_max")}
        if isinstance(spec, Mapping)
        else {field: spec}
    )
    for name, value in values.items():
        if isinstance(value, float) and abs(value) > MAX_JOINT_DEGREES:
            raise InputError(
                f"{value:g} deg is not a joint angle",
                path=path,
                field=name,
                expected=f"a joint angle in degrees within +-{MAX_JOINT_DEGREES:g}",
            )


def _scale(spec, factor: float):
    if isinstance(spec, Mapping):
        return {k: v * factor if k != "dimension" else v for k, v in spec.items()}
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
        if isinstance(value, Mapping) and set(value) == _PIECEWISE:
            spec = _piecewise_spec(value, path=path, field=f"{field}.{key}")
            values = list(spec["value"])
        else:
            spec = _number_spec(value, path=path, field=f"{field}.{key}")
            values = [spec["at_min"], spec["at_max"]] if isinstance(spec, Mapping) else [spec]
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
    harder = it.get("harder", 1)
    if harder not in (1, -1) or isinstance(harder, bool):
        raise InputError(
            f"{harder!r}",
            path=path,
            field="intensity.harder",
            expected="+1 (a larger value loads more) or -1 (loads less)",
        )
    intensity = Intensity(
        name=_require(it, "name", str, path=path, field="intensity.", expected="a name"),
        unit=_require(it, "unit", str, path=path, field="intensity.", expected="a unit"),
        description=str(it.get("description", "")),
        harder=int(harder),
        **fields,
    )
    category = _category(data, path)
    dose_t = _require(data, "dose", dict, path=path, field="", expected="a [dose] table")
    sets = _require(dose_t, "sets", int, path=path, field="dose.", expected="an integer ≥ 1")
    per_day = None
    if "sessions_per_day" in dose_t and "every_days" in dose_t:
        raise InputError(
            "give at most one of sessions_per_day and every_days",
            path=path,
            field="dose",
            expected="sessions_per_day (e.g. 2) or every_days (e.g. 3 = every third day)",
        )
    if "every_days" in dose_t:
        every = _require(
            dose_t,
            "every_days",
            int,
            path=path,
            field="dose.",
            expected="an integer ≥ 1 (once every that many days)",
        )
        if every < 1:
            raise InputError(f"{every!r}", path=path, field="dose.every_days", expected="≥ 1")
        per_day = 1.0 / every
    if "sessions_per_day" in dose_t:
        per_day = _require(
            dose_t,
            "sessions_per_day",
            float,
            path=path,
            field="dose.",
            expected="sessions a day > 0 (2 = twice a day, 0.5 = every other day)",
        )
        if not (math.isfinite(per_day) and per_day > 0):
            raise InputError(
                f"{per_day!r}", path=path, field="dose.sessions_per_day", expected="> 0"
            )
    if "distance_m" in dose_t:
        dose = Dose(
            sets,
            distance_m=_require(
                dose_t, "distance_m", float, path=path, field="dose.", expected="metres"
            ),
            sessions_per_day=per_day,
        )
    else:
        dose = Dose(
            sets,
            reps=_require(
                dose_t, "reps", int, path=path, field="dose.", expected="an integer, or distance_m"
            ),
            sessions_per_day=per_day,
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
    dimensions = _parse_dimensions(data.get("dimensions", []), path, intensity, motion)
    _check_dimension_use(dimensions, motion, excitation, path)
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
        dimensions,
        category,
    )


def _category(data: Mapping, path: Path) -> str:
    """The file's ``category``; absent: ``running``/``walking`` for the measured templates,
    ``drill`` otherwise (a user's own recording)."""
    if "category" not in data:
        kind = data.get("motion", {}).get("type") if isinstance(data.get("motion"), dict) else None
        return {"running_template": "running", "walking_template": "walking"}.get(kind, "drill")
    value = data["category"]
    if value not in CATEGORIES:
        raise InputError(
            f"{value!r}", path=path, field="category", expected="one of " + ", ".join(CATEGORIES)
        )
    return str(value)


def _parse_dimensions(
    entries, path: Path, intensity: Intensity, motion: Mapping
) -> tuple[Dimension, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(
            "not a list of tables",
            path=path,
            field="dimensions",
            expected="[[dimensions]] entries with name, min, max, default",
        )
    out = []
    for i, e in enumerate(entries):
        where = f"dimensions[{i}]."
        name = _require(e, "name", str, path=path, field=where, expected="a dimension name")
        if name not in DIMENSION_KINDS:
            raise InputError(
                f"unknown dimension {name!r}",
                path=path,
                field=f"{where}name",
                expected="one of " + ", ".join(DIMENSION_KINDS),
            )
        if name == intensity.name or any(d.name == name for d in out):
            raise InputError(
                f"dimension {name!r} is declared twice (or is the primary intensity)",
                path=path,
                field=f"{where}name",
                expected="each dimension once",
            )
        unit, harder = DIMENSION_KINDS[name]
        if "unit" in e and e["unit"] != unit:
            raise InputError(
                f"unit {e['unit']!r}", path=path, field=f"{where}unit", expected=repr(unit)
            )
        fields = {
            k: _require(e, k, float, path=path, field=where, expected="a number")
            for k in ("min", "max", "default")
        }
        if not (fields["min"] <= fields["default"] <= fields["max"]):
            raise InputError(
                f"min {fields['min']:g}, default {fields['default']:g}, max {fields['max']:g}",
                path=path,
                field=f"dimensions[{i}]",
                expected="min ≤ default ≤ max",
            )
        if name == "range_fraction" and not (0.0 < fields["min"] and fields["max"] <= 1.0):
            raise InputError(
                f"range {fields['min']:g}–{fields['max']:g}",
                path=path,
                field=f"dimensions[{i}]",
                expected="0 < min ≤ max ≤ 1 (a fraction of the file's full range)",
            )
        if name == "tempo_s" and not fields["min"] > 0.0:
            raise InputError(
                f"min {fields['min']:g}", path=path, field=f"{where}min", expected="> 0 s"
            )
        ref = e.get("from_keyframe", 0)
        if name == "range_fraction":
            n = len(motion.get("keyframes", ()))
            if motion["type"] != "keyframes":
                raise InputError(
                    "range_fraction needs key postures",
                    path=path,
                    field=f"dimensions[{i}]",
                    expected="a keyframes motion",
                )
            if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < n:
                raise InputError(
                    f"{ref!r}",
                    path=path,
                    field=f"{where}from_keyframe",
                    expected=f"a key posture index 0–{n - 1}",
                )
        out.append(
            Dimension(
                name,
                unit,
                description=str(e.get("description", "")),
                harder=harder,
                from_keyframe=int(ref),
                **fields,
            )
        )
    return tuple(out)


def _dimension_refs(spec, found: set) -> None:
    """Collect the dimension names a parsed spec (nested tables, lists) refers to."""
    if isinstance(spec, Mapping):
        if "dimension" in spec and set(spec) == _LINEAR_IN_DIMENSION:
            found.add(spec["dimension"])
        for value in spec.values():
            _dimension_refs(value, found)
    elif isinstance(spec, list | tuple):
        for value in spec:
            _dimension_refs(value, found)


def _check_dimension_use(dimensions, motion: Mapping, excitation: Mapping, path: Path) -> None:
    """Every dimension a number refers to is declared, and every declared ``tempo_s`` or
    ``load_bm`` changes some number (a dimension that changes nothing would regress nothing)."""
    used: set = set()
    _dimension_refs(motion, used)
    _dimension_refs(excitation, used)
    for frame in motion.get("keyframes", ()):
        if isinstance(frame["dur"], str) and frame["dur"] in DIMENSION_KINDS:
            used.add(frame["dur"])
    declared = {d.name for d in dimensions}
    missing = used - declared
    if missing:
        raise InputError(
            f"numbers depend on undeclared dimension(s) {', '.join(sorted(missing))}",
            path=path,
            field="dimensions",
            expected="a [[dimensions]] entry for each",
        )
    unused = {n for n in declared - used if n != "range_fraction"}
    if unused:
        raise InputError(
            f"dimension(s) {', '.join(sorted(unused))} change no number of the drill",
            path=path,
            field="dimensions",
            expected='a duration = "tempo_s" or a {at_min, at_max, dimension} number using it',
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
            allow=("intensity", "freefall", *DIMENSION_KINDS) if unit == "s" else (),
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


def _eval(
    spec, drill: Drill, intensity: float, settings: Mapping[str, float] | None = None
) -> float:
    """A spec's value at ``intensity`` and ``settings`` (checked values of the further
    dimensions, :meth:`Drill.check_settings`; defaults when None): a number, linear
    ``{at_min, at_max}`` in the intensity or in the ``dimension`` it names, piecewise linear
    ``{at, value}`` in the intensity (an excitation level), ``"intensity"``,
    ``"freefall"`` (√(2h/g), h = intensity in m) or a dimension's name (its value)."""
    if isinstance(spec, Mapping) and "at" in spec:
        xs, vs = spec["at"], spec["value"]
        x = min(max(float(intensity), xs[0]), xs[-1])
        k = next(i for i in range(1, len(xs)) if x <= xs[i])
        w = (x - xs[k - 1]) / (xs[k] - xs[k - 1])
        return (1.0 - w) * vs[k - 1] + w * vs[k]
    if isinstance(spec, Mapping):
        if "dimension" in spec:
            dim = next(d for d in drill.extra_dimensions if d.name == spec["dimension"])
            lo, hi, x = dim.min, dim.max, _setting(drill, dim.name, settings)
        else:
            lo, hi, x = drill.intensity.min, drill.intensity.max, intensity
        w = 0.0 if hi == lo else (x - lo) / (hi - lo)
        return (1.0 - w) * spec["at_min"] + w * spec["at_max"]
    if spec == "intensity":
        return float(intensity)
    if spec == "freefall":
        return math.sqrt(2.0 * intensity / GRAVITY)
    if isinstance(spec, str):
        return _setting(drill, spec, settings)
    return float(spec)


def _setting(drill: Drill, name: str, settings: Mapping[str, float] | None) -> float:
    if settings is not None and name in settings:
        return float(settings[name])
    return next(d.default for d in drill.extra_dimensions if d.name == name)
