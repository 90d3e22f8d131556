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

    [[assessments]]                       # optional, repeated: a dated assessment log
    date = 2026-11-05                     # day of the assessment (after the injury, in order)
    pain_during = 0                       # worst pain during the tests, 0-10 NRS
    pain_after = 0                        # pain the next morning (about 24 h later), 0-10 NRS
    ake_injured_deg = 40                  # active knee extension, pain-free (see below)
    ake_uninjured_deg = 20
    slr_injured_deg = 60                  # straight-leg raise, pain-free (see below)
    slr_uninjured_deg = 80
    h_test_injured_deg = 70               # Askling H-test (see below)
    h_test_uninjured_deg = 85
    knee_flexor_angles_deg = [30, 90]     # isometric knee-flexor test: knee flexion angles
    knee_flexor_hip_flexion_deg = 0       # hip flexion in that test (0 prone, 90 seated)
    knee_flexor_torque_injured_nm = [80, 40]
    knee_flexor_torque_uninjured_nm = [110, 55]
    nordic_force_injured_n = 250          # Nordic (e.g. NordBord) peak force per leg, N
    nordic_force_uninjured_n = 320
    nordic_knee_flexion_deg = 30          # optional: knee flexion at the peak Nordic force
    strength_ratio = 0.75                 # or a strength ratio injured/uninjured directly
    fascicle_length_ratio = 0.97          # injured/uninjured BFlh fascicle length (ultrasound)
    notes = "free text"

Range conventions (degrees, the pain-free end of the movement, both sides):

- ``ake``: active knee extension test, supine, hip held at 90 deg of flexion: the **knee
  flexion angle** at the end of pain-free active extension (0 = straight knee, 90 = no
  extension). Reurink et al. 2013 (``REFERENCES["reurink2013"]``) give its reliability in
  acute hamstring injuries (SEM 5.3 deg).
- ``slr``: straight-leg raise, supine, knee straight: the **hip flexion angle** at the
  pain-free end (0 = leg on the table).
- ``h_test``: the Askling H-test (Askling et al. 2010, ``REFERENCES["askling2010"]``):
  active ballistic hip flexion with the knee braced straight: the **hip flexion angle**.

Each measurement is optional; the tolerance model (:mod:`musclesim.training.tolerance`) uses
the latest value of each on or before the day. The fascicle-length ratio and the strength
measured at an assessment replace those given under ``[injury]`` from that day on
(:meth:`Athlete.state_on`).

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
REFERENCES = references_for(
    "pollock2014",
    "handsfield2014",
    "timmins2015",
    "timmins2016",
    "reurink2013",
    "askling2010",
)

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

# Plausibility ranges of the assessment log (unit mistakes and typos, not clinical criteria).
# AKE is a knee angle between straight (0) and the test's 90 deg start; SLR and H-test are hip
# flexion angles, below 10 deg looks like radians and above 150 deg lies beyond the hip's range.
_PAIN_RANGE = (0.0, 10.0)
_AKE_RANGE_DEG = (0.0, 90.0)
_HIP_RANGE_DEG = (10.0, 150.0)
_KNEE_TEST_RANGE_DEG = (0.0, 120.0)  # isometric and Nordic knee flexion angles
_TEST_HIP_RANGE_DEG = (-10.0, 120.0)  # hip flexion in the isometric test (prone 0, seated 90)
_TORQUE_RANGE_NM = (5.0, 600.0)  # knee-flexor torque; > 600 Nm looks like N cm or N
_NORDIC_RANGE_N = (20.0, 1500.0)  # per-leg Nordic force; > 1500 N looks like both legs or kg
_STRENGTH_RATIO_RANGE = (0.05, 1.5)

#: The pain-free range tests of an assessment: name -> (what the angle is, plausible range).
RANGE_TESTS: dict[str, tuple[str, tuple[float, float]]] = {
    "ake": ("knee flexion at the end of active knee extension, hip at 90 deg", _AKE_RANGE_DEG),
    "slr": ("hip flexion at the end of the straight-leg raise, knee straight", _HIP_RANGE_DEG),
    "h_test": ("hip flexion in the Askling H-test, knee braced straight", _HIP_RANGE_DEG),
}

_ASSESSMENT_KEYS = {
    "date",
    "pain_during",
    "pain_after",
    *(f"{t}_{side}_deg" for t in RANGE_TESTS for side in ("injured", "uninjured")),
    "knee_flexor_angles_deg",
    "knee_flexor_hip_flexion_deg",
    "knee_flexor_torque_injured_nm",
    "knee_flexor_torque_uninjured_nm",
    "nordic_force_injured_n",
    "nordic_force_uninjured_n",
    "nordic_knee_flexion_deg",
    "strength_ratio",
    "fascicle_length_ratio",
    "notes",
}

_TOP_KEYS = {"name", "athlete", "injury", "assessments"}
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
class RangeTest:
    """One pain-free range measurement: ``test`` (a key of :data:`RANGE_TESTS`) and the
    injured and uninjured sides' angles (degrees, the convention of that test)."""

    test: str
    injured_deg: float
    uninjured_deg: float

    @property
    def injured_range_deg(self) -> float:
        """Range of movement achieved on the injured side (deg): for ``ake`` the extension
        from the test's 90 deg start (90 - angle), else the hip flexion angle itself."""
        return 90.0 - self.injured_deg if self.test == "ake" else self.injured_deg

    @property
    def uninjured_range_deg(self) -> float:
        """The same on the uninjured side."""
        return 90.0 - self.uninjured_deg if self.test == "ake" else self.uninjured_deg

    @property
    def deficit_deg(self) -> float:
        """Uninjured minus injured range (deg); <= 0 when the injured side moves as far."""
        return self.uninjured_range_deg - self.injured_range_deg


@dataclasses.dataclass(frozen=True)
class KneeFlexorTest:
    """Isometric knee-flexor torque (N m) at stated knee flexion angles (deg, 0 = straight),
    hip at ``hip_flexion_deg`` (0 prone, 90 seated), both sides (uninjured may be empty)."""

    knee_angles_deg: tuple[float, ...]
    hip_flexion_deg: float
    injured_nm: tuple[float, ...]
    uninjured_nm: tuple[float, ...] = ()


@dataclasses.dataclass(frozen=True)
class Assessment:
    """One dated clinical assessment of the injured muscle (see the module docstring).

    Attributes:
        date: the day of the assessment.
        pain_during: worst pain during the tests (0-10 numeric rating scale).
        pain_after: pain the next morning (0-10).
        ranges: the pain-free range tests measured (:class:`RangeTest` each).
        knee_flexor: an isometric knee-flexor test, or None.
        nordic_injured_n, nordic_uninjured_n: Nordic peak force per leg (N), or None.
        nordic_knee_flexion_deg: knee flexion (deg) at the peak Nordic force, if recorded.
        strength_ratio_given: a strength ratio injured/uninjured written directly, or None.
        fascicle_length_ratio: injured/uninjured fascicle length, or None.
        notes: free text.
    """

    date: datetime.date
    pain_during: float
    pain_after: float
    ranges: tuple[RangeTest, ...] = ()
    knee_flexor: KneeFlexorTest | None = None
    nordic_injured_n: float | None = None
    nordic_uninjured_n: float | None = None
    nordic_knee_flexion_deg: float | None = None
    strength_ratio_given: float | None = None
    fascicle_length_ratio: float | None = None
    notes: str = ""

    def strength_ratio(self) -> tuple[float, str] | None:
        """``(injured / uninjured strength, how it was measured)`` or None if not measured.

        Preference: isometric knee-flexor torque (mean over the angles tested on both sides),
        then the Nordic force, then a ratio written directly. Torques at the same angle share
        their moment arms, so the torque ratio is the force ratio of the knee flexors.
        """
        kf = self.knee_flexor
        if kf is not None and kf.uninjured_nm:
            ratios = [i / u for i, u in zip(kf.injured_nm, kf.uninjured_nm, strict=True)]
            angles = ", ".join(f"{a:g}" for a in kf.knee_angles_deg)
            return (
                sum(ratios) / len(ratios),
                f"isometric knee-flexor torque at knee {angles} deg (mean of the side ratios)",
            )
        if self.nordic_injured_n is not None and self.nordic_uninjured_n is not None:
            return self.nordic_injured_n / self.nordic_uninjured_n, "Nordic peak force"
        if self.strength_ratio_given is not None:
            return self.strength_ratio_given, "strength ratio as written"
        return None

    @property
    def measures_strength(self) -> bool:
        """Whether this assessment gives a strength ratio."""
        return self.strength_ratio() is not None


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
        assessments: the dated assessment log (:class:`Assessment`), in date order.
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
    assessments: tuple[Assessment, ...] = ()

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
        previous = None
        for i, a in enumerate(self.assessments):
            if a.date < self.injury_date:
                raise InputError(
                    f"assessment on {a.date} is before the injury on {self.injury_date}",
                    path=self.source,
                    field=f"assessments[{i}].date",
                    expected="a date on or after injury.date",
                )
            if previous is not None and a.date <= previous:
                raise InputError(
                    f"assessment on {a.date} does not follow the one on {previous}",
                    path=self.source,
                    field=f"assessments[{i}].date",
                    expected="assessments in date order, one per day",
                )
            previous = a.date

    def assessments_until(self, day: datetime.date) -> tuple[Assessment, ...]:
        """The assessments on or before ``day``, oldest first."""
        return tuple(a for a in self.assessments if a.date <= day)

    def latest_assessment(self, day: datetime.date) -> Assessment | None:
        """The latest assessment on or before ``day``, or None."""
        done = self.assessments_until(day)
        return done[-1] if done else None

    def state_on(self, day: datetime.date) -> Athlete:
        """The athlete as the log describes them on ``day``: ``fascicle_length_ratio`` and
        ``strength_deficit`` (1 - strength ratio) from the latest assessment on or before
        ``day`` that measured each (for a calf injury only a written ``strength_ratio``
        counts), else the values recorded at injury. Use it to build the
        injured muscle's parameters for that day (:func:`scale_parameters`)."""
        ratio, deficit = self.fascicle_length_ratio, self.strength_deficit
        for a in self.assessments_until(day):
            if a.fascicle_length_ratio is not None:
                ratio = a.fascicle_length_ratio
            if self.recovery_group == "hamstring":
                measured = a.strength_ratio()
            else:  # knee-flexor and Nordic tests load the hamstrings, not the calf
                given = a.strength_ratio_given
                measured = None if given is None else (given, "strength ratio as written")
            if measured is not None:
                deficit = min(max(1.0 - measured[0], 0.0), 0.99)
        return dataclasses.replace(self, fascicle_length_ratio=ratio, strength_deficit=deficit)

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
        """Raise :class:`InputError` if the injury or an assessment lies after ``today``."""
        if self.injury_date > today:
            raise InputError(
                f"injury date {self.injury_date} is in the future (today is {today})",
                path=self.source,
                field="injury.date",
                expected=f"a date on or before {today}",
            )
        for i, a in enumerate(self.assessments):
            if a.date > today:
                raise InputError(
                    f"assessment date {a.date} is in the future (today is {today})",
                    path=self.source,
                    field=f"assessments[{i}].date",
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
        assessments=_assessments(data.get("assessments", []), source),
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


def _date(table, key, source, *, required, prefix="injury."):
    field = f"{prefix}{key}"
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


# ------------------------------------------------------------------------------------------
# The assessment log.
def _assessments(value, source) -> tuple[Assessment, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(
            f"wrong type {type(value).__name__}",
            path=source,
            field="assessments",
            expected="[[assessments]] tables (an array of tables)",
        )
    return tuple(_assessment(entry, i, source) for i, entry in enumerate(value))


def _bounded(table, key, prefix, source, bounds, unit, *, required=False):
    """A number from ``table`` inside ``bounds`` (inclusive), or None when absent."""
    value = _number(table, key, prefix, source, required=required, positive=False)
    if value is None:
        return None
    lo, hi = bounds
    if not lo <= value <= hi:
        raise InputError(
            f"implausible value {value!r}",
            path=source,
            field=f"{prefix}{key}",
            expected=f"between {lo:g} and {hi:g} {unit}".rstrip(),
        )
    return value


def _number_list(table, key, prefix, source, bounds, unit):
    field = f"{prefix}{key}"
    value = table.get(key)
    if value is None:
        return ()
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InputError(
            f"wrong type {type(value).__name__}",
            path=source,
            field=field,
            expected=f"a number or a non-empty list of numbers ({unit})",
        )
    return tuple(
        _bounded({key: v}, key, f"{prefix}", source, bounds, unit, required=True) for v in value
    )


def _assessment(entry: dict, i: int, source) -> Assessment:
    prefix = f"assessments[{i}]."
    _no_unknown(entry, _ASSESSMENT_KEYS, prefix, source)
    day = _date(entry, "date", source, required=True, prefix=prefix)
    pain = {
        key: _bounded(
            entry, key, prefix, source, _PAIN_RANGE, "(0-10 numeric rating)", required=True
        )
        for key in ("pain_during", "pain_after")
    }

    ranges = []
    for test, (meaning, bounds) in RANGE_TESTS.items():
        injured = _bounded(entry, f"{test}_injured_deg", prefix, source, bounds, "deg")
        uninjured = _bounded(entry, f"{test}_uninjured_deg", prefix, source, bounds, "deg")
        if (injured is None) != (uninjured is None):
            missing = f"{test}_uninjured_deg" if uninjured is None else f"{test}_injured_deg"
            raise InputError(
                "one side of a range test is missing",
                path=source,
                field=f"{prefix}{missing}",
                expected=f"both sides of the {test} test ({meaning}, deg)",
            )
        if injured is not None:
            ranges.append(RangeTest(test, injured, uninjured))

    angles = _number_list(
        entry, "knee_flexor_angles_deg", prefix, source, _KNEE_TEST_RANGE_DEG, "deg"
    )
    torque_i = _number_list(
        entry, "knee_flexor_torque_injured_nm", prefix, source, _TORQUE_RANGE_NM, "N m"
    )
    torque_u = _number_list(
        entry, "knee_flexor_torque_uninjured_nm", prefix, source, _TORQUE_RANGE_NM, "N m"
    )
    hip = _bounded(entry, "knee_flexor_hip_flexion_deg", prefix, source, _TEST_HIP_RANGE_DEG, "deg")
    knee_flexor = None
    if angles or torque_i or torque_u or hip is not None:
        if not angles or not torque_i:
            missing = "knee_flexor_angles_deg" if not angles else "knee_flexor_torque_injured_nm"
            raise InputError(
                "an isometric knee-flexor test needs its angles and the injured side's torque",
                path=source,
                field=f"{prefix}{missing}",
                expected="knee_flexor_angles_deg and knee_flexor_torque_injured_nm (one torque "
                "per angle), optionally knee_flexor_torque_uninjured_nm",
            )
        for key, torques in (
            ("knee_flexor_torque_injured_nm", torque_i),
            ("knee_flexor_torque_uninjured_nm", torque_u),
        ):
            if torques and len(torques) != len(angles):
                raise InputError(
                    f"{len(torques)} torque(s) for {len(angles)} angle(s)",
                    path=source,
                    field=f"{prefix}{key}",
                    expected="one torque per knee_flexor_angles_deg entry",
                )
        knee_flexor = KneeFlexorTest(angles, 0.0 if hip is None else hip, torque_i, torque_u)

    nordic_i = _bounded(entry, "nordic_force_injured_n", prefix, source, _NORDIC_RANGE_N, "N")
    nordic_u = _bounded(entry, "nordic_force_uninjured_n", prefix, source, _NORDIC_RANGE_N, "N")
    nordic_knee = _bounded(
        entry, "nordic_knee_flexion_deg", prefix, source, _KNEE_TEST_RANGE_DEG, "deg"
    )
    if nordic_knee is not None and nordic_i is None:
        raise InputError(
            "a Nordic knee angle without a Nordic force",
            path=source,
            field=f"{prefix}nordic_force_injured_n",
            expected="the injured side's Nordic peak force (N) with nordic_knee_flexion_deg",
        )
    ratio = _number(entry, "strength_ratio", prefix, source, required=False)
    if ratio is not None and 1.5 < ratio <= 150:
        raise InputError(
            f"strength ratio {ratio!r} looks like a percentage",
            path=source,
            field=f"{prefix}strength_ratio",
            expected=f"a fraction injured/uninjured, e.g. {ratio / 100:g}",
        )
    if ratio is not None:
        _bounded(entry, "strength_ratio", prefix, source, _STRENGTH_RATIO_RANGE, "")
    fascicle = _bounded(entry, "fascicle_length_ratio", prefix, source, _FASCICLE_RATIO_RANGE, "")
    notes = entry.get("notes", "")
    if not isinstance(notes, str):
        raise InputError(
            f"wrong type {type(notes).__name__}",
            path=source,
            field=f"{prefix}notes",
            expected="a string",
        )
    return Assessment(
        date=day,
        pain_during=pain["pain_during"],
        pain_after=pain["pain_after"],
        ranges=tuple(ranges),
        knee_flexor=knee_flexor,
        nordic_injured_n=nordic_i,
        nordic_uninjured_n=nordic_u,
        nordic_knee_flexion_deg=nordic_knee,
        strength_ratio_given=ratio,
        fascicle_length_ratio=fascicle,
        notes=notes,
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
