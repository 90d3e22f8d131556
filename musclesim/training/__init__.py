"""From muscle mechanics to what a clinician acts on: the drill library and the kinematics and
excitations of each drill (:mod:`.drills`), the athlete and its injury (:mod:`.athlete`), the
tolerance policy that sets today's limits (:mod:`.tolerance`), the drill ranking
(:mod:`.rank`), the multi-week plan (:mod:`.plan`) and precomputed lookup tables
(:mod:`.tables`). Every evaluation goes through :mod:`musclesim.pipeline`."""

from .athlete import (
    Assessment as Assessment,
    Athlete as Athlete,
    load_athlete as load_athlete,
    scale_parameters as scale_parameters,
)
from .drills import (
    Drill as Drill,
    drill_excitation as drill_excitation,
    drill_motion as drill_motion,
    load_drills as load_drills,
    load_running_template as load_running_template,
    running_curves as running_curves,
    running_motion as running_motion,
    running_motion_jax as running_motion_jax,
)
from .plan import (
    Plan as Plan,
    PlanInfeasibleError as PlanInfeasibleError,
    PlanSettings as PlanSettings,
    metrics_table as metrics_table,
    plan_progression as plan_progression,
    replan as replan,
)
from .rank import rank_drills as rank_drills
from .tables import build_table as build_table, export_html as export_html, lookup as lookup
from .tolerance import (
    CriterionLimits as CriterionLimits,
    TolerancePolicy as TolerancePolicy,
    policy_summary as policy_summary,
    recovery_fraction as recovery_fraction,
    todays_limits as todays_limits,
    tolerance_limit as tolerance_limit,
)
