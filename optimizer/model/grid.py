"""`pv_capacity_per_county_max[c]`: PV capacity a county's grid can connect (MWp)."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import ModelData


def add_grid_capacity(m: pyo.ConcreteModel, data: ModelData) -> None:
    limits = data.spec.constraints.grid_county_max_mw
    if not limits:
        return
    x = m.industry_chosen
    by_county = data.by("county", "pv_mw")
    s = data.scaling.row("pv_capacity_per_county_max")

    def rule(m: pyo.ConcreteModel, c: str) -> object:
        terms = by_county.get(c, [])
        if not terms:
            return pyo.Constraint.Skip
        return sum(s * v * x[p] for p, v in terms) <= s * limits[c]

    m.pv_capacity_per_county_max = pyo.Constraint(list(limits), rule=rule)
