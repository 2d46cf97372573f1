"""`farmer_income_per_township_min[t]`: no township's farmers end up below the floor."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import ModelData


def add_income_floor(m: pyo.ConcreteModel, data: ModelData) -> None:
    if data.income_floor is None:
        return
    x = m.industry_chosen
    floor = data.income_floor.to_dict()
    income_of = data.by("township", "income_10k_yuan")
    s = data.scaling.row("farmer_income_per_township_min")

    def rule(m: pyo.ConcreteModel, t: str) -> object:
        terms = income_of.get(t, [])
        if floor[t] == float("-inf"):
            return pyo.Constraint.Skip
        if not terms:  # every allowed industry pays 0 here; validation refused a floor > 0
            return pyo.Constraint.Skip
        return sum(s * v * x[p] for p, v in terms) >= s * floor[t]

    m.farmer_income_per_township_min = pyo.Constraint(m.townships, rule=rule)
