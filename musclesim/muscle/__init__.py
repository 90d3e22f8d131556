"""The Hill-type musculotendon model in JAX: De Groote-Fregly 2016 curves (OpenSim's and the
published constants), muscle parameters as immutable pytrees with OpenSim's property names,
rigid- and compliant-tendon states, activation dynamics, the fibre solve along a trajectory,
and the strain and load metrics computed from its states.
"""

from .curves import (
    CONSTANT_SETS as CONSTANT_SETS,
    OPENSIM as OPENSIM,
    PUBLISHED as PUBLISHED,
    DeGroote2016Constants as DeGroote2016Constants,
    active_force_length as active_force_length,
    force_velocity as force_velocity,
    force_velocity_inverse as force_velocity_inverse,
    passive_force_length as passive_force_length,
    tendon_force_length as tendon_force_length,
    tendon_force_length_inverse as tendon_force_length_inverse,
)
from .fiber import FiberSolution as FiberSolution, solve_fiber as solve_fiber
from .parameters import MuscleParameters as MuscleParameters
from .state import (
    MuscleState as MuscleState,
    activation_rate as activation_rate,
    compliant_tendon_state as compliant_tendon_state,
    rigid_tendon_state as rigid_tendon_state,
)
