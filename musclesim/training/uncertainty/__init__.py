"""How sure a verdict is: the uncertainty model (:mod:`.model`: muscle parameters, joint angles
and excitation, every spread with its source), the Monte Carlo through the evaluation chain with
the probability that each criterion exceeds today's limit (:mod:`.montecarlo`) and its figure
(:mod:`.plot`); the criteria's sensitivities to the parameters and the joint angles
(:mod:`.sensitivity`) and technique what-ifs (:mod:`.whatif`)."""

from .model import (
    KINDS as KINDS,
    PARAMETER_NAMES as PARAMETER_NAMES,
    UncertaintyModel as UncertaintyModel,
    apply_factors as apply_factors,
    load_uncertainty as load_uncertainty,
    sample_coordinate_offsets as sample_coordinate_offsets,
    sample_excitation_scale as sample_excitation_scale,
    sample_factors as sample_factors,
)
from .montecarlo import (
    UNCERTAIN_STATUSES as UNCERTAIN_STATUSES,
    MonteCarloResult as MonteCarloResult,
    exceedance_probability as exceedance_probability,
    monte_carlo as monte_carlo,
    rank_uncertainty as rank_uncertainty,
    sample_limits as sample_limits,
    sample_utilisation as sample_utilisation,
    uncertainty_table as uncertainty_table,
    write_uncertainty_csv as write_uncertainty_csv,
)
from .plot import plot_uncertainty as plot_uncertainty
from .sensitivity import (
    Scenario as Scenario,
    correlated_groups as correlated_groups,
    drill_scenario as drill_scenario,
    local_sensitivities as local_sensitivities,
    model_sampler as model_sampler,
    motion_scenario as motion_scenario,
    parameter_ranking as parameter_ranking,
    scenario_criteria as scenario_criteria,
    sobol_estimates as sobol_estimates,
    sobol_indices as sobol_indices,
)
from .whatif import (
    SmallestChange as SmallestChange,
    phase_bump as phase_bump,
    smallest_change as smallest_change,
    technique_whatif as technique_whatif,
    todays_limit as todays_limit,
)
