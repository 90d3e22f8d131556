"""How sure a verdict is: the uncertainty model (:mod:`.model`: muscle parameters, joint angles
and excitation, every spread with its source), the Monte Carlo through the evaluation chain with
the probability that each criterion exceeds today's limit (:mod:`.montecarlo`) and its figure
(:mod:`.plot`)."""

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
