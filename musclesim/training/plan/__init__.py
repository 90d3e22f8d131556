"""Multi-week, criteria-based progression plan: a mixed-integer linear programme (scipy's
HiGHS) that chooses drills, intensities and doses for every day with each tissue-load
criterion under that day's limit.

One module per job; each imports only the modules listed below it (an import-linter contract in
``pyproject.toml``):

- :mod:`.planner` — :func:`plan_progression` and :func:`replan`;
- :mod:`.milp` — the programme (its constraints and objective are its docstring), built and
  solved; :mod:`.io` — plan files (CSV, netCDF) and :func:`read_plan`; :mod:`.plot` — the
  calendar figure;
- :mod:`.types` — :class:`PlannedDrill`, :class:`Session`, :class:`Plan`, :class:`DayLimits`
  and :class:`PlanInfeasibleError`; :mod:`.limits` — a day's per-criterion limits;
- :mod:`.settings` — the plan rules, :class:`PlanSettings`, and their sources;
  :mod:`.metrics` — the drill metrics table the planner reads (its contract is its docstring).
"""

from .io import (
    read_plan as read_plan,
    write_plan_csv as write_plan_csv,
    write_plan_netcdf as write_plan_netcdf,
)
from .limits import max_velocity_mask as max_velocity_mask, session_limits as session_limits
from .metrics import (
    check_metrics as check_metrics,
    load_metrics as load_metrics,
    metrics_table as metrics_table,
)
from .planner import plan_progression as plan_progression, replan as replan
from .plot import plot_plan_calendar as plot_plan_calendar
from .settings import REFERENCES as REFERENCES, PlanSettings as PlanSettings
from .types import (
    DayLimits as DayLimits,
    Plan as Plan,
    PlanInfeasibleError as PlanInfeasibleError,
    PlannedDrill as PlannedDrill,
    Session as Session,
)
