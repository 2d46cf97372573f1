"""`weighted_gep_and_income`: w_G·(G^reg + G^cul + δ·G^mat) + w_H·(H − Σ_m φ_m L_m)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from optimizer.model.data import MONEY_UNIT_YUAN, ModelData


def _total(m: pyo.ConcreteModel, data: ModelData, column: str) -> object:
    x = m.industry_chosen
    return sum(v * x[p] for p, v in data.column(column).items())


def market_farmer_share(data: ModelData, market: str) -> float:
    """φ_m: the farmers' share of a market's revenue loss (validated equal across its industries)."""
    inds = data.spec.constraints.markets[market].industries
    return data.spec.industries[inds[0]].farmer_share_of_value_added


def objective_per_pair(data: ModelData) -> np.ndarray:
    """The objective coefficient of each pair (万元, before data.scaling), as the objective sums it."""
    obj = data.spec.objective
    p = data.pairs
    delta = 1.0 if obj.double_count == "count_both" else 0.0
    gep = p["gep_regulating_10k_yuan"].to_numpy() + p["gep_cultural_10k_yuan"].to_numpy()
    return obj.gep_weight * (gep + delta * p["gep_material_10k_yuan"].to_numpy()) + obj.income_weight * p[
        "income_10k_yuan"].to_numpy()


def add_objective(m: pyo.ConcreteModel, data: ModelData) -> None:
    obj = data.spec.objective
    # In 万元 (see data.MONEY_UNIT_YUAN): HiGHS sees well-scaled costs.
    m.gep_material_10k_yuan = pyo.Expression(expr=_total(m, data, "gep_material_10k_yuan"))
    m.gep_regulating_10k_yuan = pyo.Expression(expr=_total(m, data, "gep_regulating_10k_yuan"))
    m.gep_cultural_10k_yuan = pyo.Expression(expr=_total(m, data, "gep_cultural_10k_yuan"))
    m.farmer_income_10k_yuan = pyo.Expression(expr=_total(m, data, "income_10k_yuan"))
    loss = sum(
        market_farmer_share(data, k) * m.market_revenue_loss_yuan[k] / MONEY_UNIT_YUAN
        for k in m.market_revenue_loss_yuan
    )
    delta = 1.0 if obj.double_count == "count_both" else 0.0
    gep = m.gep_regulating_10k_yuan + m.gep_cultural_10k_yuan
    if delta:
        gep = gep + m.gep_material_10k_yuan
    # HiGHS sees the objective times data.scaling.objective (model/scaling.py); build.py
    # sets m.objective_unit_yuan so that reports convert back to yuan.
    m.weighted_gep_and_income = pyo.Objective(
        expr=data.scaling.objective * (obj.gep_weight * gep + obj.income_weight * (m.farmer_income_10k_yuan - loss)),
        sense=pyo.maximize,
    )
