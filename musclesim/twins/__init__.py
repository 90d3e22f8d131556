"""OpenSim on the same inputs as musclesim, for parity checks: its muscle models along a
trajectory, inverse dynamics and Static Optimization tools. Needs the ``opensim`` extra;
validation scripts and tests call these, the library's data flow never does.
"""

from .dynamics import (
    opensim_inverse_dynamics as opensim_inverse_dynamics,
    opensim_inverse_dynamics_tool as opensim_inverse_dynamics_tool,
)
