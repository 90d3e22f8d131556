"""From joint coordinates to strain and load: the evaluation chain written once
(:func:`musclesim.pipeline.evaluate.evaluate`: geometry surrogate, fibre and tendon states,
per-muscle metrics, pure JAX and batched), :func:`musclesim.pipeline.simulate.simulate` around
it for a measured motion (gait events, excitation sources, per-cycle peaks, a labelled Dataset
with provenance), and the figure of its result.

The two entry points share their modules' names, so they are imported from those modules
(``musclesim.simulate`` is the public one); re-exported here they would hide the modules.
"""

from .evaluate import (
    Evaluation as Evaluation,
    check_domain as check_domain,
    evaluate_lengths as evaluate_lengths,
    mtu_lengths as mtu_lengths,
    resample_motions as resample_motions,
)
from .plot import plot_result as plot_result
from .simulate import (
    dynamics_model_path as dynamics_model_path,
    resolve_excitation as resolve_excitation,
    static_optimization_source as static_optimization_source,
)
