"""`farmer_income_per_township_min[t]`: no township's farmers end up below the floor."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import ModelData


def add_income_floor(m: pyo.ConcreteModel, data: ModelData) -> None:
    if data.income_floor is None:
        return
    x = m.industry_chosen
    floor = data.income_floor.to_dict()
    income_of = data.by("township", "income_yuan")
    pairs_of: dict[str, list[tuple[str, str]]] = {}
    for p in data.pairs.index:
        pairs_of.setdefault(p[0], []).append(p)

    def rule(m: pyo.ConcreteModel, t: str) -> object:
        terms = income_of.get(t, [])
        if floor[t] == float("-inf"):
            return pyo.Constraint.Skip
        if not terms:
            return pyo.Constraint.Skip if floor[t] <= 0 else sum(0 * x[p] for p in pairs_of[t]) >= floor[t]
        return sum(v * x[p] for p, v in terms) >= floor[t]

    m.farmer_income_per_township_min = pyo.Constraint(m.townships, rule=rule)
