"""Joint moments and their sharing among muscles: inverse dynamics of an OpenSim model in JAX
(with external loads from force plates) and static optimisation over the muscles crossing a
leg's joints.
"""

from .inverse import (
    ExternalLoads as ExternalLoads,
    batched_generalized_forces as batched_generalized_forces,
    generalized_forces as generalized_forces,
    inverse_dynamics as inverse_dynamics,
    joint_moments as joint_moments,
    read_external_loads as read_external_loads,
)
from .static_opt import (
    LoadSharingSolution as LoadSharingSolution,
    StaticOptimizationSolution as StaticOptimizationSolution,
    excitation_from_activation as excitation_from_activation,
    solve_load_sharing as solve_load_sharing,
    static_optimization as static_optimization,
)
