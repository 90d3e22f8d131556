"""Musculotendon geometry: MTU lengths and moment arms from joint coordinates, in JAX. A fitted
surrogate per model (piecewise Chebyshev polynomials, and OpenSim's own wrapped path where a
polynomial cannot follow it) is read from ``models/<name>.nc``; :mod:`musclesim.geometry.fitting`
builds those files against OpenSim.
"""

from .io import (
    available_models as available_models,
    load_geometry_dataset as load_geometry_dataset,
    load_model as load_model,
    write_geometry as write_geometry,
)
from .model import (
    GeometryDomainWarning as GeometryDomainWarning,
    GeometryModel as GeometryModel,
)
from .path import PathBlock as PathBlock
