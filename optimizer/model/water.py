"""Water: per township, per county and per basin budgets (rows in 万 m³/yr).

In a village instance each village also keeps within its own water
(`water_use_per_village_max[v]`, with `water.per_village`), and the township row sums
over the township's villages against the township's own water.
"""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import WATER_UNIT_M3, ModelData


def add_water_limits(m: pyo.ConcreteModel, data: ModelData) -> None:
    x = m.industry_chosen
    limits = data.spec.constraints.water
    if data.villages is not None and limits.per_village:
        add_water_use_per_village_max(m, data)
    if limits.per_township:
        use_of: dict[str, list[tuple[tuple[str, str], float]]] = data.by("township", "water_10k_m3")
        available = (data.townships["water_available_m3"] / WATER_UNIT_M3).to_dict()
        limited = sorted(t for t in use_of if sum(v for _, v in use_of[t]) > 0)

        s = data.scaling.row("water_use_per_township_max")

        def per_township(m: pyo.ConcreteModel, t: str) -> object:
            return sum(s * v * x[p] for p, v in use_of[t]) <= s * available[t]

        m.water_use_per_township_max = pyo.Constraint(limited, rule=per_township)
    if limits.county_max_m3:
        by_county = data.by("county", "water_10k_m3")
        counties = list(limits.county_max_m3)

        sc = data.scaling.row("water_use_per_county_max")

        def per_county(m: pyo.ConcreteModel, c: str) -> object:
            terms = by_county.get(c, [])
            if not terms:
                return pyo.Constraint.Skip
            return sum(sc * v * x[p] for p, v in terms) <= sc * limits.county_max_m3[c] / WATER_UNIT_M3

        m.water_use_per_county_max = pyo.Constraint(counties, rule=per_county)
    if limits.basin_max_m3:
        by_basin = data.by("basin", "water_10k_m3")

        sb = data.scaling.row("water_use_per_basin_max")

        def per_basin(m: pyo.ConcreteModel, b: str) -> object:
            terms = by_basin.get(b, [])
            if not terms:
                return pyo.Constraint.Skip
            return sum(sb * v * x[p] for p, v in terms) <= sb * limits.basin_max_m3[b] / WATER_UNIT_M3

        m.water_use_per_basin_max = pyo.Constraint(list(limits.basin_max_m3), rule=per_basin)


def add_water_use_per_village_max(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Σ_i A_v w_vi x_vi ≤ water_available_m3[v] for every village that uses water at all."""
    x = m.industry_chosen
    use_of = data.by("village", "water_10k_m3")
    available = (data.villages["water_available_m3"] / WATER_UNIT_M3).to_dict()
    limited = [v for v in data.villages.index if v in use_of]

    def per_village(m: pyo.ConcreteModel, v: str) -> object:
        return sum(val * x[p] for p, val in use_of[v]) <= available[v]

    m.water_use_per_village_max = pyo.Constraint(limited, rule=per_village)
