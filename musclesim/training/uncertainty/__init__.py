"""How sure a verdict is: the uncertainty model (:mod:`.model`: muscle parameters, joint angles
and excitation, every spread with its source), the Monte Carlo through the evaluation chain with
the probability that each criterion exceeds today's limit (:mod:`.montecarlo`) and its figure
(:mod:`.plot`)."""

from .model import (
    PARAMETER_NAMES as PARAMETER_NAMES,
    UncertaintyModel as UncertaintyModel,
    apply_factors as apply_factors,
    load_uncertainty as load_uncertainty,
    sample_coordinate_offsets as sample_coordinate_offsets,
    sample_excitation_scale as sample_excitation_scale,
    sample_factors as sample_factors,
)
