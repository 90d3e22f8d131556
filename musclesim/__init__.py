"""musclesim: hamstring and calf muscle strain and load in training drills, in JAX.

Public names are re-exported here; the implementation lives in private modules.
"""

from .core.citations import citation
from .core.cpu_vectors import prefer_wide_cpu_vectors
from .core.errors import InputError, MusclesimError, OpenSimMissingError, OutOfDomainError
from .core.groups import GROUPS, canonical_name, expand_muscles, muscle_group
from .core.jax_cache import enable_compilation_cache
from .core.version import __version__
from .dynamics.inverse import (
    ExternalLoads,
    batched_generalized_forces,
    generalized_forces,
    inverse_dynamics,
    joint_moments,
    read_external_loads,
)
from .dynamics.static_opt import (
    LoadSharingSolution,
    StaticOptimizationSolution,
    excitation_from_activation,
    solve_load_sharing,
    static_optimization,
)
from .excitation.sources import Constant, EMGEnvelope, ExcitationSource, GaitPhaseTemplate, read_emg
from .excitation.static_optimization import StaticOptimization
from .excitation.templates import running_template, sprinting_template, template_for_speed
from .geometry.io import available_models, load_model
from .geometry.model import GeometryDomainWarning, GeometryModel
from .motion.gait import (
    GaitEvents,
    average_cycles,
    cut_cycles,
    detect_events,
    events_from_grf,
    refine_events_with_markers,
)
from .motion.markers import read_analog, read_markers
from .motion.opensim_tools import run_ik, scale_model
from .motion.processing import filter_motion, match_coordinates, motion_derivatives, resample_motion
from .motion.read import read_motion
from .motion.storage import read_storage
from .muscle.curves import (
    CONSTANT_SETS,
    OPENSIM,
    PUBLISHED,
    DeGroote2016Constants,
    active_force_length,
    force_velocity,
    force_velocity_inverse,
    passive_force_length,
    tendon_force_length,
    tendon_force_length_inverse,
)
from .muscle.fiber import FiberSolution, solve_fiber
from .muscle.parameters import MuscleParameters
from .muscle.state import MuscleState, activation_rate, compliant_tendon_state, rigid_tendon_state
from .osim.model import DynamicsModel, load_dynamics_model
from .pipeline.simulate import simulate
from .training.athlete import Athlete, load_athlete, scale_parameters
from .training.drills import (
    Drill,
    drill_excitation,
    drill_motion,
    load_drills,
    load_running_template,
    running_curves,
    running_motion,
    running_motion_jax,
)
from .training.plan import (
    Plan,
    PlanInfeasibleError,
    PlanSettings,
    metrics_table,
    plan_progression,
    replan,
)
from .training.rank import rank_drills
from .training.tables import build_table, export_html, lookup
from .training.tolerance import TolerancePolicy, policy_summary, recovery_fraction, tolerance_limit
from .twins.dynamics import opensim_inverse_dynamics, opensim_inverse_dynamics_tool

__all__ = [
    "build_table",
    "citation",
    "enable_compilation_cache",
    "export_html",
    "lookup",
    "prefer_wide_cpu_vectors",
    "rank_drills",
    "simulate",
    "static_optimization",
    "solve_load_sharing",
    "excitation_from_activation",
    "StaticOptimization",
    "StaticOptimizationSolution",
    "LoadSharingSolution",
    "CONSTANT_SETS",
    "DeGroote2016Constants",
    "FiberSolution",
    "MuscleState",
    "OPENSIM",
    "PUBLISHED",
    "activation_rate",
    "active_force_length",
    "compliant_tendon_state",
    "force_velocity",
    "force_velocity_inverse",
    "passive_force_length",
    "rigid_tendon_state",
    "solve_fiber",
    "tendon_force_length",
    "tendon_force_length_inverse",
    "InputError",
    "MuscleParameters",
    "MusclesimError",
    "OpenSimMissingError",
    "OutOfDomainError",
    "__version__",
    "read_motion",
    "read_markers",
    "read_analog",
    "read_storage",
    "filter_motion",
    "resample_motion",
    "motion_derivatives",
    "match_coordinates",
    "GaitEvents",
    "detect_events",
    "events_from_grf",
    "refine_events_with_markers",
    "cut_cycles",
    "average_cycles",
    "ExcitationSource",
    "Constant",
    "EMGEnvelope",
    "GaitPhaseTemplate",
    "read_emg",
    "running_template",
    "sprinting_template",
    "template_for_speed",
    "scale_model",
    "run_ik",
    "Athlete",
    "load_athlete",
    "scale_parameters",
    "TolerancePolicy",
    "policy_summary",
    "recovery_fraction",
    "tolerance_limit",
    "Plan",
    "PlanInfeasibleError",
    "PlanSettings",
    "metrics_table",
    "plan_progression",
    "replan",
    "GeometryModel",
    "GeometryDomainWarning",
    "load_model",
    "available_models",
    "GROUPS",
    "muscle_group",
    "expand_muscles",
    "canonical_name",
    "Drill",
    "load_drills",
    "drill_motion",
    "drill_excitation",
    "running_motion",
    "running_curves",
    "running_motion_jax",
    "load_running_template",
    "inverse_dynamics",
    "generalized_forces",
    "batched_generalized_forces",
    "joint_moments",
    "load_dynamics_model",
    "read_external_loads",
    "DynamicsModel",
    "ExternalLoads",
    "opensim_inverse_dynamics",
    "opensim_inverse_dynamics_tool",
]
