"""Reading OpenSim ``.osim`` models without OpenSim: the XML (safely parsed), the coordinate
functions, and the skeleton (bodies, joints, couplers) as a JAX pytree with its forward
kinematics. Geometry, dynamics and the muscle parameters read their parts of a model here.
"""

from .functions import (
    AbstractFunction as AbstractFunction,
    parse_function as parse_function,
)
from .model import (
    Coupler as Coupler,
    DynamicsModel as DynamicsModel,
    Joint as Joint,
    body_poses as body_poses,
    body_velocities as body_velocities,
    load_dynamics_model as load_dynamics_model,
)
from .xml import (
    child_float as child_float,
    child_text as child_text,
    model_element as model_element,
    muscle_elements as muscle_elements,
    parse_osim as parse_osim,
)
