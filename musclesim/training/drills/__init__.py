"""The drill library: what each training drill does to the joints, and how hard the muscles work.

One module per job, in three layers; a module imports only from the layers below its own (an
import-linter contract in ``pyproject.toml``):

1. :mod:`.motion` (:func:`drill_motion`: a drill's joint motion at an intensity),
   :mod:`.excitation` (:func:`drill_excitation` and the excitation sources of drills) and
   :mod:`.derive` (deriving the running and walking templates from measured kinematics; needs
   the measured data, is run by ``experiments/derive_*_template.py``, and nothing else in the
   library imports it);
2. the motion generators: :mod:`.keyframes` (key postures joined by raised cosines),
   :mod:`.running` (the measured running template across speed, steady running and
   accelerations), :mod:`.walking` (the measured walking stride and its speed dependence);
3. :mod:`.library` (the drill files, their TOML format, :class:`Drill`, :func:`load_drills`),
   :mod:`.layout` (``read_motion``'s layout and the model's knee sign) and
   :mod:`.template_file` (reading a derived template file once).
"""

from .derive import (
    TEMPLATE_COORDINATES as TEMPLATE_COORDINATES,
    derive_running_template as derive_running_template,
    derive_walking_template as derive_walking_template,
    stance_foot_speed as stance_foot_speed,
)
from .excitation import (
    OTHER_RUNNING_LEVEL as OTHER_RUNNING_LEVEL,
    DrillExcitation as DrillExcitation,
    PhaseWindowExcitation as PhaseWindowExcitation,
    RunningExcitation as RunningExcitation,
    base_default as base_default,
    drill_excitation as drill_excitation,
)
from .library import (
    CATEGORIES as CATEGORIES,
    DIMENSION_KINDS as DIMENSION_KINDS,
    DRILLS_DIR as DRILLS_DIR,
    GRAVITY as GRAVITY,
    Dimension as Dimension,
    Dose as Dose,
    Drill as Drill,
    Intensity as Intensity,
    get_drill as get_drill,
    load_drill as load_drill,
    load_drills as load_drills,
)
from .motion import drill_motion as drill_motion
from .running import (
    RUNNING_SPEED_RANGE as RUNNING_SPEED_RANGE,
    RUNNING_TEMPLATE as RUNNING_TEMPLATE,
    RunningTemplate as RunningTemplate,
    load_running_template as load_running_template,
    running_curves as running_curves,
    running_motion as running_motion,
    running_motion_jax as running_motion_jax,
)
from .template_file import TEMPLATES_DIR as TEMPLATES_DIR
from .walking import (
    WALKING_TEMPLATE as WALKING_TEMPLATE,
    WalkingTemplate as WalkingTemplate,
    load_walking_template as load_walking_template,
    walking_curves as walking_curves,
    walking_motion as walking_motion,
    walking_stride_frequency as walking_stride_frequency,
)
