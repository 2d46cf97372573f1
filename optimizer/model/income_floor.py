"""`farmer_income_per_township_min[t]`: no township's farmers end up below the floor.

In a village instance the floor holds per village (`farmer_income_per_village_min[v]`),
which implies it for every township (docs/model.md says why).
"""

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


def add_income_floor_per_village(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Σ_i A_v h_vi x_vi ≥ floor_v for every village (yuan/yr in 万元)."""
    if data.income_floor is None:
        return
    x = m.industry_chosen
    floor = data.income_floor.to_dict()
    income_of = data.by("village", "income_10k_yuan")

    def rule(m: pyo.ConcreteModel, v: str) -> object:
        terms = income_of.get(v, [])
        if floor[v] == float("-inf") or not terms:  # no floor, or validation refused one > 0
            return pyo.Constraint.Skip
        return sum(val * x[p] for p, val in terms) >= floor[v]

    m.farmer_income_per_village_min = pyo.Constraint(m.villages, rule=rule)
