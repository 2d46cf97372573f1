"""One industry per township over its villages (一乡一业), in a village instance.

`leading_industry_per_township[t]`: Σ_i y_ti = 1, each township chooses one leading
industry among the counted industries C that any of its villages may take.

`leading_industry_share_min[t, i]`: Σ_{v∈t} A_v x_vi + s · Σ_{v∈t} Σ_{j∉C} A_v x_vj ≥
s · A_t · y_ti. With y_ti = 1 it says that the leading industry covers at least s of the
township's counted area (A_t minus the exempt area, since every village takes exactly
one industry); with y_ti = 0 it holds for any plan. No big-M is needed: the exempt area
moves to the left-hand side. Rows in hectares, like the conservation rows.

Scope (for the decomposition): both families are township-local, and a township lies in
one county.
"""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import ModelData


def add_leading_industry_per_township(m: pyo.ConcreteModel, data: ModelData) -> None:
    """y_ti ∈ {0, 1} over the pairs that may lead, and one leading industry per township."""
    rule = data.leading
    if rule is None:
        return
    m.leading_pairs = pyo.Set(initialize=rule.pairs, dimen=2, ordered=True)
    m.leading_industry = pyo.Var(m.leading_pairs, within=pyo.Binary)
    pairs_of: dict[str, list[tuple[str, str]]] = {}
    for t, i in rule.pairs:
        pairs_of.setdefault(t, []).append((t, i))
    y = m.leading_industry

    def one(m: pyo.ConcreteModel, t: str) -> object:
        return sum(y[p] for p in pairs_of[t]) == 1

    m.leading_industry_per_township = pyo.Constraint(list(pairs_of), rule=one)
    # Plain data for reports (model/report.py): which township each village lies in, its
    # area, the share and the counted industries, to state each row as a planner reads it.
    m.township_of_village = dict(zip(data.pairs["village"].tolist(), data.pairs["township"].tolist()))
    m.village_area = dict(zip(data.pairs["village"].tolist(), data.pairs["area_ha"].tolist()))
    m.leading_rule = {"share": rule.share, "counted": list(rule.counted)}


def add_leading_industry_share_min(m: pyo.ConcreteModel, data: ModelData) -> None:
    """The leading industry's least share of the township's counted village area."""
    rule = data.leading
    if rule is None:
        return
    x, y = m.industry_chosen, m.leading_industry
    s = rule.share
    pairs = data.pairs
    area = pairs["area_ha"].to_numpy().tolist()
    towns = pairs["township"].to_numpy().tolist()
    inds = pairs.index.get_level_values("industry").tolist()
    exempt = set(rule.exempt)
    of_industry: dict[tuple[str, str], list[tuple[tuple[str, str], float]]] = {}
    exempt_of: dict[str, list[tuple[tuple[str, str], float]]] = {}
    for p, a, t, i in zip(pairs.index, area, towns, inds):
        if i in exempt:
            exempt_of.setdefault(t, []).append((p, a))
        else:
            of_industry.setdefault((t, i), []).append((p, a))

    def share(m: pyo.ConcreteModel, t: str, i: str) -> object:
        lhs = sum(a * x[p] for p, a in of_industry.get((t, i), []))
        lhs = lhs + sum(s * a * x[p] for p, a in exempt_of.get(t, []))
        return lhs >= s * rule.area[t] * y[t, i]

    m.leading_industry_share_min = pyo.Constraint(m.leading_pairs, rule=share)
