"""Build the Pyomo model top-down, one family at a time, in the order of docs/model.md."""

from __future__ import annotations

import logging

import pandas as pd
import pyomo.environ as pyo

from optimizer.errors import InfeasibleInstance
from optimizer.instance.validate import ValidInstance, income_floor
from optimizer.model.assignment import add_one_industry_per_township, add_one_product_per_village
from optimizer.model.budget import add_investment_budget
from optimizer.model.conservation import add_minimum_conservation
from optimizer.model.data import (
    INVESTMENT_UNIT_YUAN,
    MONEY_UNIT_YUAN,
    OUTPUT_UNIT,
    PAIR_TOTALS,
    WATER_UNIT_M3,
    LeadingRule,
    ModelData,
)
from optimizer.model.grid import add_grid_capacity
from optimizer.model.income_floor import add_income_floor, add_income_floor_per_village
from optimizer.model.leading import add_leading_industry_per_township, add_leading_industry_share_min
from optimizer.model.locks import add_locks
from optimizer.model.markets import add_markets
from optimizer.model.objective import add_objective
from optimizer.model.objective import objective_per_pair
from optimizer.model.scaling import choose_scaling
from optimizer.model.water import add_water_limits

log = logging.getLogger(__name__)

#: Constraint families: (unit of the reported left-hand side, factor from model units).
FAMILIES: dict[str, tuple[str, float]] = {
    "one_industry_per_township": ("industries", 1.0),
    "water_use_per_township_max": ("m³", WATER_UNIT_M3),
    "water_use_per_county_max": ("m³", WATER_UNIT_M3),
    "water_use_per_basin_max": ("m³", WATER_UNIT_M3),
    "market_output_max": ("output unit", OUTPUT_UNIT),
    "market_output_beyond_step_def": ("output unit", OUTPUT_UNIT),
    "pv_capacity_per_county_max": ("MWp", 1.0),
    "investment_budget_max": ("yuan", INVESTMENT_UNIT_YUAN),
    "conservation_area_min": ("ha", 1.0),
    "conservation_area_per_county_min": ("ha", 1.0),
    "farmer_income_per_township_min": ("yuan", MONEY_UNIT_YUAN),
    "industry_locked_in": ("", 1.0),
    # village instances (docs/model.md, "Village instances")
    "one_product_per_village": ("industries", 1.0),
    "water_use_per_village_max": ("m³", WATER_UNIT_M3),
    "farmer_income_per_village_min": ("yuan", MONEY_UNIT_YUAN),
    "leading_industry_per_township": ("industries", 1.0),
    "leading_industry_share_min": ("ha", 1.0),
}

#: The smallest area each family's rows lie in, for a decomposition by area (villages lie
#: in townships, townships in counties): "unit" (one township, or one village), "village",
#: "township", "county", "basin" (one basin; a basin may span counties) or "instance"
#: (rows that tie counties together: markets, the budget, the global conservation share).
SCOPE: dict[str, str] = {
    "one_industry_per_township": "township",
    "water_use_per_township_max": "township",
    "water_use_per_county_max": "county",
    "water_use_per_basin_max": "basin",
    "market_output_max": "instance",
    "market_output_beyond_step_def": "instance",
    "pv_capacity_per_county_max": "county",
    "investment_budget_max": "instance",
    "conservation_area_min": "instance",
    "conservation_area_per_county_min": "county",
    "farmer_income_per_township_min": "township",
    "industry_locked_in": "unit",
    "one_product_per_village": "village",
    "water_use_per_village_max": "village",
    "farmer_income_per_village_min": "village",
    "leading_industry_per_township": "township",
    "leading_industry_share_min": "township",
}

#: SCOPE in the words of the county decomposition (optimizer/solve/decompose/), which
#: reads the model's structure from here, never from the matrix: "township" rows involve
#: one township's pairs, "county" rows one county's; a "basin" row couples every county
#: with a township in the basin (local only when the basin lies inside one county);
#: "global" rows tie the whole region together. Township instances only: the village
#: families are left out; the village decomposition (solve/decompose/villages.py) reads
#: SCOPE itself, with townships and villages inside their county's block.
FAMILY_SCOPE: dict[str, str] = {
    family: {"instance": "global", "unit": "township"}.get(scope, scope)
    for family, scope in SCOPE.items()
    if scope != "village" and family not in ("leading_industry_per_township", "leading_industry_share_min")
}


def prepare(valid: ValidInstance, scaled: bool = True) -> ModelData:
    """Allowed pairs after gates and locks, with per-township totals (per-ha × area).

    Raises InfeasibleInstance when validation already proved that no plan meets the
    limits: there is nothing to build, and the answer is "infeasible". With `scaled`
    (the default) rows and objective get the factors of model/scaling.py; without, the
    fixed units of data.py (kept for the scaling benchmark).
    """
    if valid.conflicts:
        raise InfeasibleInstance(list(valid.conflicts))
    if valid.villages is not None:
        return _prepare_villages(valid)
    spec = valid.spec
    pairs = valid.pairs
    allowed = pairs["allowed"].copy()
    must: dict[str, str] = {}
    for lock in spec.constraints.locks:
        if lock.forbid:
            allowed.loc[(lock.township, lock.industry)] = False
        else:
            must[lock.township] = lock.industry
    chosen = pairs[allowed.to_numpy()].copy()
    t = valid.townships
    for per_ha, (total, unit) in PAIR_TOTALS.items():
        chosen[total] = chosen[per_ha] * chosen["area_ha"] / unit
    tids = chosen.index.get_level_values("township_id")
    chosen["township"] = tids
    chosen["basin"] = t["basin"].reindex(tids).to_numpy()
    keep = [*(total for total, _ in PAIR_TOTALS.values()), "area_ha", "county", "basin", "township", "conservation"]
    data = ModelData(
        spec=spec,
        townships=t,
        pairs=chosen[keep],
        must_locks=must,
        income_floor=_scaled(income_floor(valid.loaded, t, valid.baseline), MONEY_UNIT_YUAN),
    )
    if scaled:
        data.scaling = choose_scaling(data.pairs, objective_per_pair(data))
    return data


def _prepare_villages(valid: ValidInstance) -> ModelData:
    """A village instance: (village, industry) pairs, per-village locks and floors, the leading rule."""
    from optimizer.instance.villages import counted_industries, income_floor_per_village, locked_allowed

    spec = valid.spec
    v = valid.villages
    assert v is not None
    allowed, must = locked_allowed(spec, v, valid.pairs)
    chosen = valid.pairs[allowed.to_numpy()].copy()
    for per_ha, (total, unit) in PAIR_TOTALS.items():
        chosen[total] = chosen[per_ha] * chosen["area_ha"] / unit
    vids = chosen.index.get_level_values(0)
    chosen["village"] = vids
    chosen["township"] = v["township_id"].reindex(vids).to_numpy()
    chosen["basin"] = v["basin"].reindex(vids).to_numpy()
    keep = [*(total for total, _ in PAIR_TOTALS.values()), "area_ha", "county", "basin", "village", "township",
            "conservation"]  # fmt: skip
    leading = None
    rule = spec.constraints.leading_industry
    if rule is not None:
        counted = counted_industries(spec)
        exempt = [i for i, ind in spec.industries.items() if ind.candidate and i not in counted]
        inds = chosen.index.get_level_values("industry")
        may = chosen.loc[inds.isin(counted), "township"]
        lead = sorted(set(zip(may.to_numpy().tolist(), may.index.get_level_values("industry").tolist())),
                      key=lambda p: (p[0], counted.index(p[1])))  # fmt: skip
        order = {t: k for k, t in enumerate(valid.townships.index)}
        lead.sort(key=lambda p: (order.get(p[0], len(order)), counted.index(p[1])))
        area = v["plannable_area_ha"].groupby(v["township_id"]).sum().to_dict()
        leading = LeadingRule(share=rule.min_leading_share, counted=counted, exempt=exempt, pairs=lead,
                              area={t: float(a) for t, a in area.items()})
    return ModelData(
        spec=spec,
        townships=valid.townships,
        pairs=chosen[keep],
        must_locks=must,
        income_floor=_scaled(income_floor_per_village(spec, v, valid.baseline), MONEY_UNIT_YUAN),
        villages=v,
        leading=leading,
    )


def _scaled(series: pd.Series | None, unit: float) -> pd.Series | None:
    return None if series is None else series / unit


def build_model(data: ModelData) -> pyo.ConcreteModel:
    """The whole formulation; read this function to see the model at a glance."""
    m = pyo.ConcreteModel(name=data.spec.name)
    villages = data.villages is not None  # a village instance: villages are the planning units
    if villages:
        m.villages = pyo.Set(initialize=list(data.villages.index), ordered=True)
    else:
        m.townships = pyo.Set(initialize=list(data.townships.index), ordered=True)
    m.allowed_pairs = pyo.Set(initialize=list(data.pairs.index), dimen=2, ordered=True)
    m.industry_chosen = pyo.Var(m.allowed_pairs, within=pyo.Binary)

    if villages:
        add_one_product_per_village(m, data)
    else:
        add_one_industry_per_township(m, data)
    add_water_limits(m, data)
    add_markets(m, data)
    add_grid_capacity(m, data)
    add_investment_budget(m, data)
    add_minimum_conservation(m, data)
    if villages:
        add_income_floor_per_village(m, data)
    else:
        add_income_floor(m, data)
    add_locks(m, data)
    add_leading_industry_per_township(m, data)  # village instances with the leading-industry rule
    add_leading_industry_share_min(m, data)
    add_objective(m, data)
    m.objective_unit_yuan = MONEY_UNIT_YUAN / data.scaling.objective  # HiGHS's objective unit, in yuan
    log.info(
        "built model: %d %s, %d allowed pairs, %d constraints",
        len(m.villages) if villages else len(m.townships),
        "villages" if villages else "townships",
        len(m.allowed_pairs),
        sum(len(c) for c in m.component_objects(pyo.Constraint, active=True)),
    )
    return m


def chosen_leading(m: pyo.ConcreteModel) -> pd.Series:
    """The leading industry picked per township from the loaded solution (y ≥ 0.5); empty without the rule."""
    picks = {}
    y = m.component("leading_industry")
    if y is not None:
        for (t, i), var in y.items():
            if var.value is not None and var.value > 0.5:
                picks[t] = i
    return pd.Series(picks, name="leading_industry", dtype=object)


def round_choices(m: pyo.ConcreteModel) -> None:
    """Set every loaded industry choice to exactly 0 or 1: reports and the objective use the
    0/1 plan, not HiGHS's 1e-9 noise."""
    for var in m.industry_chosen.values():
        if var.value is not None:
            var.set_value(float(round(var.value)), skip_validation=True)


def chosen_pairs(m: pyo.ConcreteModel) -> pd.Series:
    """The industry picked per planning unit (township, or village) from the loaded solution (x ≥ 0.5)."""
    picks = {}
    for (t, i), var in m.industry_chosen.items():
        if var.value is not None and var.value > 0.5:
            picks[t] = i
    return pd.Series(picks, name="industry")
