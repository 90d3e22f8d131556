"""Building fitted-geometry files against OpenSim (needs the ``opensim`` extra): polynomial fits
of MTU length over each muscle's coordinates, exact wrapped paths, OpenSim's moment-arm
convention, and recursive refinement of excluded regions.
"""

from .arm_convention import (
    fit_arm_conventions as fit_arm_conventions,
    screen_arm_conventions as screen_arm_conventions,
)
from .fit import (
    OpenSimSampler as OpenSimSampler,
    fit_geometry as fit_geometry,
    merge_geometry as merge_geometry,
)
from .path import (
    fit_paths as fit_paths,
    read_path as read_path,
    verify_path as verify_path,
)
from .refine import refine_dataset as refine_dataset
