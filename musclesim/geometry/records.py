"""Plain records shared by the geometry runtime, its file formats and its fitters: the fitted
polynomial of a muscle group (:class:`MuscleFit`), coordinate records and thresholds, exact-path
specifications and their checks against OpenSim (:class:`PathSpec`, :class:`PathCheck`),
OpenSim moment-arm corrections (:class:`ArmCorrection`), and the tolerances and sampling
settings the fitted file records. No physics and no I/O live here, so every other geometry
module may import it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

#: Physiological cap on the sampled range (degrees), applied on top of each model's own range.
#: Source: the coordinate ranges of the sprinting model (``Sprinter_JA1_scaled.osim``, Lai et al.
#: 2017 knee with Dorn et al. 2012 ranges; see ../shared/data/SOURCES.md 2.1), which cover every
#: shared measured trial. The knee cap is in flexion (the sign is read per model); its -10 deg
#: end is the 10 deg of hyperextension that the gait2392 family allows (``knee_angle_r`` range
#: -120..10 deg) and the gait2392 walking trial uses (+1.0 deg).
PHYSIOLOGICAL_CAP_DEG = {
    "hip_flexion": (-40.0, 120.0),
    "hip_adduction": (-50.0, 30.0),
    "hip_rotation": (-40.0, 40.0),
    "knee_flexion": (-10.0, 160.0),
    "ankle_angle": (-60.0, 50.0),
    "subtalar_angle": (-50.0, 50.0),
    "mtp_angle": (-60.0, 60.0),
}


#: Cap for any other rotational coordinate a lower-limb muscle turns out to cross (e.g. lumbar).
DEFAULT_CAP_DEG = (-90.0, 90.0)


#: Target accuracy of the fit on held-out poses inside the stated domain: RMS 0.5 mm,
#: maximum 2 mm. The fit aims below these with margin.
HELDOUT_RMS_TOL = 0.5e-3


HELDOUT_MAX_TOL = 2.0e-3


@dataclass(frozen=True)
class Threshold:
    """A length discontinuity of one muscle: a conditional path point on ``coordinate`` is
    active for ``lower <= q <= upper``; ``value`` is the end of that range that lies inside the
    sampled box. With ``kind`` :data:`~musclesim.geometry.model.PIECE_MIN` the piece is a concave
    kink whose location moves with the other coordinates (:func:`_moving_kink`): its polynomial
    ``P`` counts as ``min(0, P)`` where ``coordinate >= value``."""

    coordinate: str
    value: float
    kind: int = 0


@dataclass
class CoordinateRecord:
    name: str
    lower: float
    upper: float
    default: float
    locked: bool
    rotational: bool
    dependent: bool
    on_ground_joint: bool


def exponents(n_vars: int, degree: int) -> np.ndarray:
    """All exponent tuples of total degree <= ``degree`` in ``n_vars`` variables, ordered by
    total degree, then lexicographically (descending on the first variable). Shape
    ``[terms, n_vars]``; terms = C(degree + n_vars, n_vars). The ordering is part of the file
    format: coefficients are stored in this order."""
    rows = []
    for total in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_vars), total):
            e = [0] * n_vars
            for v in combo:
                e[v] += 1
            rows.append(e)
    return np.asarray(rows, dtype=np.int32).reshape(-1, n_vars)


@dataclass
class MuscleFit:
    """One muscle's fitted surrogate and its error report (SI units)."""

    name: str
    coordinates: list[str]
    center: np.ndarray
    half_width: np.ndarray
    degree: int
    thresholds: list[Threshold]
    coefficients: np.ndarray  # [piece, term]
    domain: dict[str, tuple[float, float]]
    validation_rms: float = math.nan
    heldout_rms: float = math.nan
    heldout_max: float = math.nan
    heldout_n: int = 0
    train_n: int = 0
    cuts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    excluded: list[dict[str, tuple[float, float]]] = field(default_factory=list)


@dataclass
class PathSpec:
    """One muscle's path in the frame of its *base* body (the body of its wrap cylinder, or of
    its first point when it has none). Arrays are numpy, SI units.

    ``point_moving[i]``: point i is on the other body (the joint moves it); its ``location`` is
    in that body's frame. The joint: ``parent_is_base`` says which side the base body is on;
    ``parent_rotation``/``parent_translation`` place the joint's frame F in the parent body,
    ``child_rotation``/``child_translation`` its frame M in the child body; rotation ``i`` is
    about ``rotation_axis[i]`` (in F, body-fixed sequence) by ``slope * q[input] + intercept``
    (``input`` -1: constant), and the translation is ``offset + sum axis_i (slope_i q + b_i)``.
    """

    muscle: str
    inputs: list[str]  # the muscle's coordinates (the joint's must be among them)
    bodies: tuple[str, str]  # (base, other)
    joint: str
    location: np.ndarray  # [point, 3]
    point_moving: np.ndarray  # [point] bool
    parent_is_base: bool
    parent_rotation: np.ndarray
    parent_translation: np.ndarray
    child_rotation: np.ndarray
    child_translation: np.ndarray
    rotation_axis: np.ndarray  # [3, 3]
    rotation_input: np.ndarray  # [3] int, -1 constant
    rotation_slope: np.ndarray
    rotation_intercept: np.ndarray
    translation_axis: np.ndarray  # [3, 3]
    translation_input: np.ndarray
    translation_slope: np.ndarray
    translation_offset: np.ndarray  # [3] constant part of the translation
    wrap: str = ""  # wrap cylinder name ("" none)
    wrap_rotation: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    wrap_translation: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    wrap_radius: float = 0.0
    wrap_length: float = 0.0
    wrap_axis: int = 0
    wrap_sign: int = 0
    wrap_first: int = 0  # first and last path point (0-based) the wrap may act between
    wrap_last: int = 0


@dataclass
class PathCheck:
    """How an exact path compares with OpenSim at uniform random poses over the model's
    coordinate ranges (m): lengths, and the OpenSim moment-arm convention against
    ``computeMomentArm``; ``long_way_share``/``wrapped_share``: the share of those poses where
    OpenSim's path wraps the long way round the cylinder / wraps at all."""

    muscle: str
    length_rms: float
    length_max: float
    n: int
    opensim_arm_rms: float
    opensim_arm_max: float
    convention_rms: float  # |computeMomentArm - (-dL/dq)|, what the convention changes
    n_arm: int
    long_way_share: float
    wrapped_share: float
    seed: int


#: Largest difference (m) from OpenSim's length accepted by :func:`verify_path`: the algorithm
#: is OpenSim's, so anything above rounding means the geometry read is not the model's.
EXACT_TOLERANCE = 1e-8


@dataclass
class ArmCorrection:
    """A fitted correction of one muscle's moment arm about one coordinate (SI units)."""

    muscle: str
    coordinate: str
    inputs: list[str]
    center: np.ndarray
    half_width: np.ndarray
    degree: int
    thresholds: list  # list[_geometry_fit.Threshold]
    coefficients: np.ndarray  # [piece, term]
    heldout_rms: float = math.nan  # |fitted Delta - Delta| on held-out poses (m)
    heldout_p99: float = math.nan
    heldout_max: float = math.nan
    uncorrected_rms: float = math.nan  # |Delta| on the same poses: the error it removes
    uncorrected_max: float = math.nan
    heldout_n: int = 0
    spikes_dropped: int = 0


#: Central-difference step (rad) of OpenSim's -dL/dq, as in validation/geometry.py: OpenSim's
#: wrapped paths have micro-steps of about 1 um in length that a 1e-4 rad step turns into
#: spikes of up to 18 mm (models/README-geometry.md).
FD_STEP = 1e-2


#: A pair needs a correction when |Delta| exceeds this at :data:`SCREEN_FRACTION` of the
#: screening poses: 1 mm, the accuracy the moment arms are held to.
SCREEN_TOLERANCE = 1.0e-3


#: ... at this share of the poses or more. A central difference across a jump or kink of the
#: length (conditional path points, wrap flips) gives isolated spikes, at well under 1 % of
#: random poses (the sprinter's gluteus maximus, psoas, vasti: 0.3 % at most).
SCREEN_FRACTION = 0.05


#: Screening poses per model (uniform in each muscle's stated domain).
SCREEN_POSES = 400


#: A fitted correction is kept only when its held-out error RMS is at most this (1 mm, the
#: screen's tolerance) and at most half the |Delta| RMS it corrects. Where OpenSim's path flips
#: around a wrap surface over wide regions (opencap_jump's gluteus maximus 1), central
#: differences straddle the flips, Delta is erratic (hundreds of mm) and no smooth correction
#: holds; such pairs are recorded as rejected in ``arm_correction_settings``.
KEEP_RMS = 1.0e-3
