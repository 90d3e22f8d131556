"""Athlete profile (a TOML file) and the rule that scales shipped muscle parameters to it.

The profile holds what a clinician knows about the athlete and the injury:

.. code-block:: toml

    name = "Example"                      # optional, free text

    [athlete]
    height_m = 1.80                       # standing height, metres (not cm)
    mass_kg = 75.0                        # body mass, kilograms
    max_sprint_speed_m_per_s = 9.6        # measured maximal sprint speed, m/s (not km/h)

    [injury]
    muscle = "bflh"                       # group name or model muscle name (see MUSCLE_GROUPS)
    side = "right"                        # "left" or "right"
    grade = "2b"                          # British Athletics Muscle Injury Classification
    date = 2026-10-12                     # day of injury (TOML date)
    strength_deficit = 0.15               # optional: 1 - injured/uninjured strength (fraction)
    fascicle_length_ratio = 0.92          # optional: injured / uninjured fascicle length
    target_return_date = 2026-11-09       # optional: planned return to full training

Every malformed entry raises :class:`~musclesim.InputError` naming the file and the field.

The grade follows the British Athletics Muscle Injury Classification (BAMIC; Pollock et al.
2014, see ``REFERENCES["pollock2014"]``): a number 0–4 for the extent of injury and a letter for
its site — ``a`` myofascial, ``b`` musculotendinous, ``c`` intratendinous. Grade 0 has only
``0a`` (focal neuromuscular) and ``0b`` (generalised soreness); grade 4 (complete tear) is
``4`` or ``4c`` (complete tendon tear). Valid grades: :data:`BAMIC_GRADES`.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import tomllib
from pathlib import Path

import jax.numpy as jnp

from ..core.citations import references_for
from ..core.errors import InputError
from ..muscle.parameters import MuscleParameters

#: The references this module rests on: entries of the project's registry
#: (:data:`musclesim.core.citations.REFERENCES`, where each entry says what it is used for).
REFERENCES = references_for("pollock2014", "handsfield2014", "timmins2015", "timmins2016")

#: Every BAMIC grade (Pollock et al. 2014, table 1).
BAMIC_GRADES = (
    "0a",
    "0b",
    "1a",
    "1b",
    "1c",
    "2a",
    "2b",
    "2c",
    "3a",
    "3b",
    "3c",
    "4",
    "4c",
)

#: Canonical injured-muscle names -> (recovery group, Rajagopal-family base name,
#: gait2392/Hamner-family base name). The recovery group picks the tolerance policy's table.
MUSCLE_GROUPS: dict[str, tuple[str, str, str]] = {
    "bflh": ("hamstring", "bflh", "bifemlh"),
    "bfsh": ("hamstring", "bfsh", "bifemsh"),
    "semitendinosus": ("hamstring", "semiten", "semiten"),
    "semimembranosus": ("hamstring", "semimem", "semimem"),
    "gastrocnemius_medialis": ("gastrocnemius", "gasmed", "med_gas"),
    "gastrocnemius_lateralis": ("gastrocnemius", "gaslat", "lat_gas"),
    "soleus": ("soleus", "soleus", "soleus"),
}

#: Other spellings accepted for the canonical names above.
MUSCLE_ALIASES: dict[str, str] = {
    "biceps_femoris_long_head": "bflh",
    "biceps_femoris_short_head": "bfsh",
    "st": "semitendinosus",
    "sm": "semimembranosus",
    "medial_gastrocnemius": "gastrocnemius_medialis",
    "lateral_gastrocnemius": "gastrocnemius_lateralis",
    "gasmed": "gastrocnemius_medialis",
    "gaslat": "gastrocnemius_lateralis",
    "semiten": "semitendinosus",
    "semimem": "semimembranosus",
}

_MODEL_FAMILIES = ("rajagopal", "gait2392")

# Plausibility ranges for the profile's numbers. They only catch unit mistakes and typos;
# they are not clinical criteria.
_HEIGHT_RANGE_M = (1.0, 2.5)
_MASS_RANGE_KG = (25.0, 250.0)
_SPEED_RANGE_M_PER_S = (2.0, 13.0)  # men's 100 m world-record peak speed is about 12.4 m/s
_FASCICLE_RATIO_RANGE = (0.5, 1.5)

_TOP_KEYS = {"name", "athlete", "injury"}
_ATHLETE_KEYS = {"height_m", "mass_kg", "max_sprint_speed_m_per_s"}
_INJURY_KEYS = {
    "muscle",
    "side",
    "grade",
    "date",
    "strength_deficit",
    "fascicle_length_ratio",
    "target_return_date",
}


@dataclasses.dataclass(frozen=True)
class Athlete:
    """One athlete and one injury. SI units.

    Attributes:
        height: standing height (m).
        mass: body mass (kg).
        max_sprint_speed: maximal sprint speed (m/s).
        muscle: canonical injured-muscle name, a key of :data:`MUSCLE_GROUPS`.
        side: ``"left"`` or ``"right"``.
        grade: BAMIC grade, one of :data:`BAMIC_GRADES`.
        injury_date: day of injury.
        strength_deficit: 1 - injured/uninjured strength, in [0, 1), or None if not measured.
        fascicle_length_ratio: injured/uninjured fascicle length, or None if not measured.
        target_return_date: planned return to full training, or None (the policy decides).
        name: free text.
        source: the file the profile came from, if any.
    """

    height: float
    mass: float
    max_sprint_speed: float
    muscle: str
    side: str
    grade: str
    injury_date: datetime.date
    strength_deficit: float | None = None
    fascicle_length_ratio: float | None = None
    target_return_date: datetime.date | None = None
    name: str = ""
    source: str | None = None

    def __post_init__(self):
        _check_number(self.height, "athlete.height_m", self.source, _HEIGHT_RANGE_M, "m")
        _check_number(self.mass, "athlete.mass_kg", self.source, _MASS_RANGE_KG, "kg")
        _check_number(
            self.max_sprint_speed,
            "athlete.max_sprint_speed_m_per_s",
            self.source,
            _SPEED_RANGE_M_PER_S,
            "m/s",
        )
        if self.muscle not in MUSCLE_GROUPS:
            raise InputError(
                f"unknown muscle {self.muscle!r}",
                path=self.source,
                field="injury.muscle",
                expected=f"one of {list(MUSCLE_GROUPS)}",
            )
        if self.side not in ("left", "right"):
            raise InputError(
                f"unknown side {self.side!r}",
                path=self.source,
                field="injury.side",
                expected="'left' or 'right'",
            )
        if self.grade not in BAMIC_GRADES:
            raise InputError(
                f"unknown grade {self.grade!r}",
                path=self.source,
                field="injury.grade",
                expected=f"a BAMIC grade, one of {list(BAMIC_GRADES)} (Pollock et al. 2014)",
            )
        if self.strength_deficit is not None and not 0 <= self.strength_deficit < 1:
            raise InputError(
                f"strength deficit {self.strength_deficit!r} out of range",
                path=self.source,
                field="injury.strength_deficit",
                expected="a fraction in [0, 1)",
            )
        if self.fascicle_length_ratio is not None:
            _check_number(
                self.fascicle_length_ratio,
                "injury.fascicle_length_ratio",
                self.source,
                _FASCICLE_RATIO_RANGE,
                "",
            )
        if self.target_return_date is not None and self.target_return_date <= self.injury_date:
            raise InputError(
                f"target return date {self.target_return_date} is not after the injury date "
                f"{self.injury_date}",
                path=self.source,
                field="injury.target_return_date",
                expected="a date after injury.date",
            )

    @property
    def recovery_group(self) -> str:
        """``"hamstring"``, ``"gastrocnemius"`` or ``"soleus"``: which recovery table applies."""
        return MUSCLE_GROUPS[self.muscle][0]

    @property
    def grade_number(self) -> int:
        """The BAMIC extent grade, 0–4."""
        return int(self.grade[0])

    @property
    def grade_site(self) -> str:
        """The BAMIC site letter (``a``, ``b``, ``c``), or ``""`` for a plain grade 4."""
        return self.grade[1:]

    def model_muscle_name(self, family: str = "rajagopal") -> str:
        """The injured muscle's name in a model family (``"rajagopal"`` or ``"gait2392"``),
        e.g. ``bflh_r`` or ``bifemlh_r``."""
        if family not in _MODEL_FAMILIES:
            raise InputError(
                f"unknown model family {family!r}",
                field="family",
                expected=f"one of {list(_MODEL_FAMILIES)}",
            )
        base = MUSCLE_GROUPS[self.muscle][1 if family == "rajagopal" else 2]
        return f"{base}_{self.side[0]}"

    def days_since_injury(self, day: datetime.date) -> int:
        """Whole days from the injury to ``day``."""
        return (day - self.injury_date).days

    def check_date(self, today: datetime.date) -> Athlete:
        """Raise :class:`InputError` if the injury (or target) lies after ``today``."""
        if self.injury_date > today:
            raise InputError(
                f"injury date {self.injury_date} is in the future (today is {today})",
                path=self.source,
                field="injury.date",
                expected=f"a date on or before {today}",
            )
        return self


# ------------------------------------------------------------------------------------------
# Reading the file.
def load_athlete(path: str | Path, *, today: datetime.date | None = None) -> Athlete:
    """Read an athlete profile from a TOML file.

    Args:
        path: the ``.toml`` file (layout in this module's docstring).
        today: the reference day for the injury-date check; defaults to
            ``datetime.date.today()``. An injury date after ``today`` is an error.

    Raises:
        InputError: naming the file and the field, for a missing or unknown field, a wrong
            type, a grade outside BAMIC, a future injury date, a non-positive or implausible
            number, and units that look wrong (height in cm, speed in km/h, a percentage
            where a fraction is expected).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError("no such file", path=path, expected="an athlete profile (.toml)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path=path) from None
    return athlete_from_dict(
        data, source=str(path), today=datetime.date.today() if today is None else today
    )


def athlete_from_dict(
    data: dict, *, source: str | None = None, today: datetime.date | None = None
) -> Athlete:
    """Build an :class:`Athlete` from the parsed TOML structure (see :func:`load_athlete`)."""
    _no_unknown(data, _TOP_KEYS, "", source)
    athlete = _table(data, "athlete", source)
    injury = _table(data, "injury", source)
    _no_unknown(athlete, _ATHLETE_KEYS, "athlete.", source)
    _no_unknown(injury, _INJURY_KEYS, "injury.", source)

    name = data.get("name", "")
    if not isinstance(name, str):
        raise InputError(
            f"wrong type {type(name).__name__}", path=source, field="name", expected="a string"
        )

    height = _number(athlete, "height_m", "athlete.", source)
    if 100 <= height <= 250:
        raise InputError(
            f"height {height!r} looks like centimetres",
            path=source,
            field="athlete.height_m",
            expected=f"metres, e.g. {height / 100:.2f}",
        )
    mass = _number(athlete, "mass_kg", "athlete.", source)
    speed = _number(athlete, "max_sprint_speed_m_per_s", "athlete.", source)
    if 15 <= speed <= 47:
        raise InputError(
            f"speed {speed!r} looks like km/h",
            path=source,
            field="athlete.max_sprint_speed_m_per_s",
            expected=f"m/s, e.g. {speed / 3.6:.2f}",
        )

    muscle = _muscle(_string(injury, "muscle", "injury.", source), source)
    muscle_name, side_from_name = muscle
    side = _string(injury, "side", "injury.", source).strip().lower()
    if side not in ("left", "right"):
        raise InputError(
            f"unknown side {side!r}", path=source, field="injury.side", expected="'left' or 'right'"
        )
    if side_from_name is not None and side_from_name != side:
        raise InputError(
            f"the model muscle name says {side_from_name} but side is {side}",
            path=source,
            field="injury.muscle",
            expected="a muscle name whose _l/_r suffix matches side",
        )

    grade = _grade(injury, source)
    injury_date = _date(injury, "date", source, required=True)
    target = _date(injury, "target_return_date", source, required=False)

    deficit = _number(injury, "strength_deficit", "injury.", source, required=False, positive=False)
    if deficit is not None and 1 <= deficit <= 100:
        raise InputError(
            f"strength deficit {deficit!r} looks like a percentage",
            path=source,
            field="injury.strength_deficit",
            expected=f"a fraction, e.g. {deficit / 100:g}",
        )
    ratio = _number(injury, "fascicle_length_ratio", "injury.", source, required=False)

    result = Athlete(
        height=height,
        mass=mass,
        max_sprint_speed=speed,
        muscle=muscle_name,
        side=side,
        grade=grade,
        injury_date=injury_date,
        strength_deficit=deficit,
        fascicle_length_ratio=ratio,
        target_return_date=target,
        name=name,
        source=source,
    )
    if today is not None:
        result.check_date(today)
    return result


def _table(data, key, source):
    if key not in data:
        raise InputError(
            "missing table", path=source, field=f"[{key}]", expected=f"a [{key}] section"
        )
    value = data[key]
    if not isinstance(value, dict):
        raise InputError(
            f"wrong type {type(value).__name__}",
            path=source,
            field=key,
            expected=f"a [{key}] table",
        )
    return value


def _no_unknown(table, allowed, prefix, source):
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InputError(
            f"unknown field {unknown[0]!r}",
            path=source,
            field=f"{prefix}{unknown[0]}",
            expected=f"one of {sorted(allowed)}",
        )


def _number(table, key, prefix, source, *, required=True, positive=True):
    field = f"{prefix}{key}"
    if key not in table:
        if required:
            raise InputError("missing field", path=source, field=field, expected="a number")
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(
            f"wrong type {type(value).__name__} ({value!r})",
            path=source,
            field=field,
            expected="a number",
        )
    value = float(value)
    if not math.isfinite(value):
        raise InputError(
            f"not finite ({value!r})", path=source, field=field, expected="a finite number"
        )
    if positive and value <= 0:
        raise InputError(
            f"non-positive value {value!r}", path=source, field=field, expected="a positive number"
        )
    if not positive and value < 0:
        raise InputError(
            f"negative value {value!r}", path=source, field=field, expected="a number >= 0"
        )
    return value


def _string(table, key, prefix, source):
    field = f"{prefix}{key}"
    if key not in table:
        raise InputError("missing field", path=source, field=field, expected="a string")
    value = table[key]
    if not isinstance(value, str):
        raise InputError(
            f"wrong type {type(value).__name__} ({value!r})",
            path=source,
            field=field,
            expected="a string",
        )
    return value


def _muscle(text, source):
    """(canonical name, side from an ``_l``/``_r`` suffix or None)."""
    key = text.strip().lower()
    side = None
    for suffix, name in (("_r", "right"), ("_l", "left")):
        if key.endswith(suffix):
            key, side = key[: -len(suffix)], name
            break
    key = MUSCLE_ALIASES.get(key, key)
    if key not in MUSCLE_GROUPS:
        for canonical, (_, raj, gait) in MUSCLE_GROUPS.items():
            if key in (raj, gait):
                key = canonical
                break
        else:
            raise InputError(
                f"unknown muscle {text!r}",
                path=source,
                field="injury.muscle",
                expected=f"one of {list(MUSCLE_GROUPS)} or a model muscle name such as "
                "'bflh_r' or 'bifemlh_r'",
            )
    return key, side


def _grade(table, source):
    if "grade" not in table:
        raise InputError(
            "missing field",
            path=source,
            field="injury.grade",
            expected="a BAMIC grade string such as '2b'",
        )
    value = table["grade"]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(
            f"wrong type {type(value).__name__}",
            path=source,
            field="injury.grade",
            expected="a BAMIC grade string such as '2b'",
        )
    text = str(value).strip().lower()
    if text in BAMIC_GRADES:
        return text
    if text.isdigit() and int(text) <= 4:
        raise InputError(
            f"grade {text!r} lacks its site letter",
            path=source,
            field="injury.grade",
            expected="a BAMIC grade with its site: a myofascial, b musculotendinous, "
            f"c intratendinous, e.g. '{text}b' (Pollock et al. 2014); one of {list(BAMIC_GRADES)}",
        )
    raise InputError(
        f"unknown grade {value!r}",
        path=source,
        field="injury.grade",
        expected=f"a BAMIC grade 0-4 with site a/b/c, one of {list(BAMIC_GRADES)} "
        "(Pollock et al. 2014)",
    )


def _date(table, key, source, *, required):
    field = f"injury.{key}"
    if key not in table:
        if required:
            raise InputError(
                "missing field", path=source, field=field, expected="a date, e.g. 2026-10-12"
            )
        return None
    value = table[key]
    if isinstance(value, datetime.datetime):
        raise InputError(
            f"a date and time ({value!r})",
            path=source,
            field=field,
            expected="a date without a time, e.g. 2026-10-12",
        )
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(
        f"not a date ({value!r})",
        path=source,
        field=field,
        expected="a TOML date or an ISO string, e.g. 2026-10-12",
    )


def _check_number(value, field, source, bounds, unit):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(
            f"not a finite number ({value!r})", path=source, field=field, expected="a finite number"
        )
    lo, hi = bounds
    if value <= 0:
        raise InputError(
            f"non-positive value {value!r}", path=source, field=field, expected="a positive number"
        )
    if not lo <= value <= hi:
        raise InputError(
            f"implausible value {value!r}",
            path=source,
            field=field,
            expected=f"between {lo:g} and {hi:g} {unit}".rstrip(),
        )


# ------------------------------------------------------------------------------------------
# Scaling the shipped parameters to the athlete.
def total_muscle_volume_handsfield2014(mass, height):
    """Total lower-limb muscle volume (m^3) from body mass (kg) and height (m).

    Handsfield et al. 2014 (``REFERENCES["handsfield2014"]``) regress total lower-limb muscle
    volume on the product of mass and height: ``V_T = 47.05 m h + 1289.6`` in cm^3 (m in kg,
    h in m), and report each muscle's volume as a near-constant fraction of ``V_T``. Domain:
    adults (their cohort: 24 subjects, 1.5-1.9 m, 46-104 kg about); range: positive.
    Returned in m^3 (cm^3 * 1e-6).
    """
    return (47.05 * mass * height + 1289.6) * 1e-6


def scale_parameters(
    params: MuscleParameters,
    athlete: Athlete,
    *,
    reference_height: float,
    reference_mass: float,
    injured_index: int | None = None,
    force_rule: str = "handsfield2014",
) -> MuscleParameters:
    """Scale a model's muscle parameters to an athlete; apply the injured muscle's changes.

    The rule, in order:

    1. **Lengths** (``optimal_fiber_length``, ``tendon_slack_length``) scale by the height
       ratio ``s = h / h_ref`` (geometric similarity: segment lengths, hence musculotendon
       paths, are proportional to stature).
    2. **Force** (``max_isometric_force``) is proportional to the physiological cross-section,
       volume / optimal fibre length. With ``force_rule="handsfield2014"`` (default), each
       muscle's volume scales with the total lower-limb muscle volume of Handsfield et al. 2014
       (:func:`total_muscle_volume_handsfield2014`), so ``F = F_ref (V/V_ref) / s``. With
       ``force_rule="mass_2/3"``, pure geometric similarity: ``F = F_ref (m/m_ref)^(2/3)``.
    3. **Injured muscle** (``injured_index`` given): ``max_isometric_force`` times
       ``1 - strength_deficit`` and ``optimal_fiber_length`` times ``fascicle_length_ratio``,
       where measured (Timmins et al. 2015, ``REFERENCES["timmins2015"]``: previously
       injured BFlh has shorter fascicles). ``tendon_slack_length`` and pennation are left
       unchanged, so at a given musculotendon length the shortened fibres work at a longer
       normalised length — the mechanism Timmins et al. 2016 propose for re-injury risk.

    Departures and limits: a measured strength deficit is usually of the knee-flexor group
    (isometric or eccentric); applying it to one muscle assumes the deficit is the injured
    muscle's. Geometric similarity ignores differences in limb proportions.

    Args:
        params: the model's parameters; leaves unbatched (one muscle) or with a leading
            muscle axis.
        athlete: the athlete profile.
        reference_height, reference_mass: the height (m) and mass (kg) the model represents.
        injured_index: index of the injured muscle along the leading axis (``0`` for an
            unbatched set), or None to leave every muscle uninjured.
        force_rule: ``"handsfield2014"`` or ``"mass_2/3"``.

    Returns:
        A new :class:`~musclesim.MuscleParameters` (``MuscleParameters.replace``).
    """
    if not reference_height > 0 or not reference_mass > 0:
        raise InputError(
            "reference height and mass must be positive",
            field="reference_height/reference_mass",
            expected="> 0 (m, kg)",
        )
    if 100 <= reference_height <= 250:
        raise InputError(
            f"reference height {reference_height!r} looks like centimetres",
            field="reference_height",
            expected="metres",
        )
    s = athlete.height / reference_height
    if force_rule == "handsfield2014":
        volume_ratio = total_muscle_volume_handsfield2014(athlete.mass, athlete.height) / (
            total_muscle_volume_handsfield2014(reference_mass, reference_height)
        )
        force_scale = volume_ratio / s
    elif force_rule == "mass_2/3":
        force_scale = (athlete.mass / reference_mass) ** (2.0 / 3.0)
    else:
        raise InputError(
            f"unknown force rule {force_rule!r}",
            field="force_rule",
            expected="'handsfield2014' or 'mass_2/3'",
        )

    force = params.max_isometric_force * force_scale
    l_opt = params.optimal_fiber_length * s
    l_ts = params.tendon_slack_length * s

    if injured_index is not None:
        shape = params.shape
        n = shape[0] if shape else 1
        if (
            isinstance(injured_index, bool)
            or not isinstance(injured_index, int)
            or not (-n <= injured_index < n)
        ):
            raise InputError(
                f"injured_index {injured_index!r} out of range",
                field="injured_index",
                expected=f"an integer in [0, {n})",
            )
        force_factor = 1.0 - (athlete.strength_deficit or 0.0)
        length_factor = athlete.fascicle_length_ratio or 1.0
        if shape:
            force = jnp.broadcast_to(force, jnp.broadcast_shapes(jnp.shape(force), (n,)))
            l_opt = jnp.broadcast_to(l_opt, jnp.broadcast_shapes(jnp.shape(l_opt), (n,)))
            force = force.at[injured_index].multiply(force_factor)
            l_opt = l_opt.at[injured_index].multiply(length_factor)
        else:
            force = force * force_factor
            l_opt = l_opt * length_factor
    return params.replace(
        max_isometric_force=force, optimal_fiber_length=l_opt, tendon_slack_length=l_ts
    )
