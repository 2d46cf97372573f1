"""LP duals of the model's rows: the local price of a limit, for `optimizer value`.

A MILP has no duals. Two LPs give one each (docs/trade-offs.md explains why both differ
from the MILP's re-solve difference):

- `plan_fixed`: every industry choice fixed at the plan; only the continuous variables
  (market output beyond a price step) remain. It answers "what is one more unit worth
  if nothing else may move", which for a plan of whole townships is 0 for every limit.
- `relaxation`: industry choices relaxed to [0, 1], as if a township could be split;
  the price LP-based tools report.

Only this package talks to HiGHS; the caller gets {constraint name: dual} in model
units (万元 of objective per unit of the row).
"""

from __future__ import annotations

import logging
from typing import Any
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

log = logging.getLogger(__name__)


def lp_duals(m: pyo.ConcreteModel, how: str, plan: dict[str, str] | None = None,
             families: tuple[str, ...] = ()) -> tuple[str, dict[tuple[str, Any], float]]:
    """(termination, {(family, index): dual}) of the LP `how` ('plan_fixed' or 'relaxation').

    A row absent from the answer had no free variable left (with choices fixed, a limit
    on the choices alone is a constant): its dual is 0.

    The model is restored before returning (domains and fixings as they were). Duals are
    d(objective)/d(right-hand side) in model units, Pyomo's sign convention for the
    active objective's sense.
    """
    x = m.industry_chosen
    saved = {k: (v.domain, v.fixed, v.value) for k, v in x.items()}
    try:
        if how == "plan_fixed":
            if plan is None:
                raise ValueError("plan_fixed needs the plan")
            for (t, i), v in x.items():
                v.fix(1.0 if plan.get(t) == i else 0.0)
        elif how == "relaxation":
            for v in x.values():
                v.domain = pyo.UnitInterval
        else:
            raise ValueError(f"unknown LP: {how}")
        opt = Highs()
        res = opt.solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False,
                        solver_options={"output_flag": False})  # fmt: skip
        termination = str(res.termination_condition).split(".")[-1]
        try:
            duals = res.solution_loader.get_duals()
        except Exception as exc:  # no dual solution (infeasible or failed LP)
            log.info("no duals from the %s LP: %s", how, exc)
            return termination, {}
        out: dict[tuple[str, Any], float] = {}
        for name in families:
            comp = m.component(name)
            if comp is None:
                continue
            for index, con in comp.items():
                if con in duals:
                    out[name, index] = float(duals[con])
        return termination, out
    finally:
        for k, (domain, fixed, value) in saved.items():
            v = x[k]
            v.domain = domain
            if fixed:
                v.fix(value)
            else:
                v.unfix()
                v.set_value(value, skip_validation=True)

