"""`one_industry_per_township[t]`: Σ_i x_ti = 1 — the core decision of the plan.

In a village instance the village is the planning unit: `one_product_per_village[v]`:
Σ_i x_vi = 1 (一村一品), and townships choose a leading industry (leading.py).
"""

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


def add_one_product_per_village(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Σ_i x_vi = 1 for every village: each village takes exactly one product."""
    pairs_of: dict[str, list[tuple[str, str]]] = {}
    for v, i in data.pairs.index:
        pairs_of.setdefault(v, []).append((v, i))
    x = m.industry_chosen

    def rule(m: pyo.ConcreteModel, v: str) -> object:
        return sum(x[p] for p in pairs_of[v]) == 1

    m.one_product_per_village = pyo.Constraint(m.villages, rule=rule)
