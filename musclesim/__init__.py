"""musclesim: hamstring and calf muscle strain and load in training drills, in JAX.

Public names are re-exported here; the implementation lives in private modules.
"""

from ._errors import InputError, MusclesimError, OpenSimMissingError, OutOfDomainError
from ._parameters import MuscleParameters

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "MuscleParameters",
    "MusclesimError",
    "OpenSimMissingError",
    "OutOfDomainError",
    "__version__",
]
