"""`investment_budget_max`: establishment investment the plan may spend (row in 亿元, once)."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import INVESTMENT_UNIT_YUAN, ModelData


def add_investment_budget(m: pyo.ConcreteModel, data: ModelData) -> None:
    budget = data.spec.constraints.investment_budget_yuan
    if budget is None:
        return
    x = m.industry_chosen
    terms = data.column("investment_100m_yuan")
    if not terms:  # nothing allowed costs anything: the budget cannot bind
        return
    s = data.scaling.row("investment_budget_max")
    m.investment_budget_max = pyo.Constraint(
        expr=sum(s * v * x[p] for p, v in terms.items()) <= s * budget / INVESTMENT_UNIT_YUAN
    )
