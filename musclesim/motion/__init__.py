"""Measured motion to a Motion Dataset (time × coordinate, SI units): readers for OpenSim
storage, CSV, marker and analog files (with checks for NaN, truncation and degrees where radians
were meant), filtering, resampling and derivatives, OpenSim's scaling and inverse kinematics
for marker data, and gait events and cycles.
"""

from .gait import (
    GaitEvents as GaitEvents,
    average_cycles as average_cycles,
    cut_cycles as cut_cycles,
    detect_events as detect_events,
    events_from_grf as events_from_grf,
    refine_events_with_markers as refine_events_with_markers,
)
from .markers import read_analog as read_analog, read_markers as read_markers
from .opensim_tools import run_ik as run_ik, scale_model as scale_model
from .processing import (
    filter_motion as filter_motion,
    match_coordinates as match_coordinates,
    motion_derivatives as motion_derivatives,
    resample_motion as resample_motion,
)
from .read import read_motion as read_motion
from .storage import read_storage as read_storage
