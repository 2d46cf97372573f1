"""Minimum conservation area, over the whole instance and per county (ha)."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import ModelData


def add_minimum_conservation(m: pyo.ConcreteModel, data: ModelData) -> None:
    cons = data.spec.constraints
    x = m.industry_chosen
    pairs = data.pairs[data.pairs["conservation"].to_numpy()]
    units = data.units  # townships, or the villages of a village instance
    area = units["plannable_area_ha"]
    if cons.min_conservation_share is not None and len(pairs) > 0:
        # (with no conservation pair at all, validation has already refused a share > 0)
        s = data.scaling.row("conservation_area_min")
        m.conservation_area_min = pyo.Constraint(
            expr=sum(s * a * x[p] for p, a in zip(pairs.index, pairs["area_ha"].tolist()))
            >= s * cons.min_conservation_share * float(area.sum())
        )
    if cons.min_conservation_share_per_county is not None:
        share = cons.min_conservation_share_per_county
        need = area.groupby(units["county"]).sum()
        by_county: dict[str, list] = {}
        for p, a, c in zip(pairs.index, pairs["area_ha"].tolist(), pairs["county"].tolist()):
            by_county.setdefault(c, []).append((p, a))

        sc = data.scaling.row("conservation_area_per_county_min")

        def rule(m: pyo.ConcreteModel, c: str) -> object:
            if c not in by_county:  # validation refused a positive share here
                return pyo.Constraint.Skip
            return sum(sc * a * x[p] for p, a in by_county[c]) >= sc * share * float(need[c])

        m.conservation_area_per_county_min = pyo.Constraint(sorted(need.index), rule=rule)
