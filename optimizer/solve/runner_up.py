"""The second-best plan: how far the optimum stands above any other plan, and where they differ.

Why: planners' figures are estimates to a few percent, so an optimum that beats another
plan by 0.01% is a near tie, not a verdict. For instances solved exactly, one more
solve with the optimum excluded (a "no-good" cut: at least one township changes) gives
the best other plan; the summary reports its objective, the difference and the
townships that differ, and flags a near tie.
"""

from __future__ import annotations

import logging
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from optimizer.solve.options import SolveOptions

log = logging.getLogger(__name__)

#: A runner-up within this share of the optimum is a near tie: the data cannot separate them.
NEAR_TIE_SHARE = 1e-3


def runner_up(m: pyo.ConcreteModel, plan: dict[str, str], options: SolveOptions, budget_s: float) -> dict[str, Any] | None:
    """Best plan other than `plan` (industry per township), solved exactly within `budget_s`.

    Returns {"objective": model units, "plan": {township: industry}} or {"objective": None}
    when `plan` is the only feasible plan, or None when the solve did not finish in time.
    """
    other = m.clone()
    x = other.industry_chosen
    chosen = [(t, i) for t, i in plan.items() if (t, i) in x]
    other.exclude_the_optimum = pyo.Constraint(expr=sum(x[p] for p in chosen) <= len(chosen) - 1)
    opt = Highs()
    res = opt.solve(
        other,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        time_limit=max(budget_s, 0.1),
        threads=options.threads,
        solver_options={"random_seed": options.seed, "mip_rel_gap": 0.0, "output_flag": False},
    )
    h = opt._solver_model
    status = h.modelStatusToString(h.getModelStatus())
    if status == "Infeasible":
        return {"objective": None, "plan": {}}
    if status != "Optimal":
        log.info("runner-up solve ended '%s' within %.1f s; not reported", status, budget_s)
        return None
    res.solution_loader.load_vars()
    picks = {t: i for (t, i), var in x.items() if var.value is not None and var.value > 0.5}
    return {"objective": h.getInfo().objective_function_value, "plan": picks}
