"""`one_industry_per_township[t]`: Σ_i x_ti = 1 — the core decision of the plan."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import ModelData


def add_one_industry_per_township(m: pyo.ConcreteModel, data: ModelData) -> None:
    pairs_of: dict[str, list[tuple[str, str]]] = {}
    for t, i in data.pairs.index:
        pairs_of.setdefault(t, []).append((t, i))
    x = m.industry_chosen

    def rule(m: pyo.ConcreteModel, t: str) -> object:
        return sum(x[p] for p in pairs_of[t]) == 1

    m.one_industry_per_township = pyo.Constraint(m.townships, rule=rule)
