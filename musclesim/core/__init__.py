"""The lowest layer, imported by every stage: errors that name the file, field and what was
expected; file-system helpers (shared data folder, checksums, atomic writes, the shipped
``models/`` folder); the citation registry; the muscle-group vocabulary; cubic splines; the
package version; the persistent JAX compilation cache.
"""

from .citations import (
    citation as citation,
    format_reference as format_reference,
    reference as reference,
)
from .cpu_vectors import prefer_wide_cpu_vectors as prefer_wide_cpu_vectors
from .errors import (
    InputError as InputError,
    MusclesimError as MusclesimError,
    OpenSimMissingError as OpenSimMissingError,
    OutOfDomainError as OutOfDomainError,
)
from .groups import (
    GROUPS as GROUPS,
    canonical_name as canonical_name,
    expand_muscles as expand_muscles,
    muscle_group as muscle_group,
)
from .io import (
    MODELS_DIR as MODELS_DIR,
    atomic_path as atomic_path,
    sha256_file as sha256_file,
    shared_data_dir as shared_data_dir,
    write_netcdf_atomic as write_netcdf_atomic,
    write_text_atomic as write_text_atomic,
)
from .jax_cache import enable_compilation_cache as enable_compilation_cache
from .spline import CubicSpline as CubicSpline, cubic_spline as cubic_spline
from .version import __version__ as __version__
