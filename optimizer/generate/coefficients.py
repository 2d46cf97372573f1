"""Per-hectare coefficients of every (township, industry) pair, computed by the generator.

The rules are those of ``docs/model.md`` (suitability gates, output, income, GEP by
category, objective), applied to whole arrays of townships before any instance file
exists: the generator needs them to build the plans that set the limits (limits.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optimizer.instance.schema import GEP_CATEGORIES, Industry

#: The objective section of every generated instance; the plans of limits.py maximise it.
OBJECTIVE: dict[str, Any] = {
    "gep_weight": 1.0,
    "income_weight": 1.0,
    "double_count": "exclude_material_gep",
}


def allowed_townships(ind: Industry, attrs: dict[str, np.ndarray]) -> np.ndarray:
    """Suitability gates of docs/model.md."""
    s = ind.suitability
    ok = np.ones(len(attrs["plannable_area_ha"]), dtype=bool)
    if s.min_soil_depth_cm is not None:
        ok &= attrs["soil_depth_cm"] >= s.min_soil_depth_cm
    if s.max_slope_deg is not None:
        ok &= attrs["slope_deg"] <= s.max_slope_deg
    if s.max_rocky_desertification_grade is not None:
        ok &= attrs["rocky_desertification_grade"] <= s.max_rocky_desertification_grade
    if s.min_irradiance_kwh_per_m2 is not None:
        ok &= attrs["irradiance_kwh_per_m2"] >= s.min_irradiance_kwh_per_m2
    return ok


def coefficients(
    ind: Industry, attrs: dict[str, np.ndarray], site: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per-hectare coefficients of one industry in every township (docs/model.md).

    ``site`` maps a site field (or ``gep.<service>``) to an array with NaN where the
    township has no override.
    """
    n = len(attrs["plannable_area_ha"])

    def f(field: str, default: float | None) -> np.ndarray:
        base = np.full(n, np.nan if default is None else float(default))
        if field in site:
            return np.where(np.isnan(site[field]), base, site[field])
        return base

    out = f("yield_per_ha", ind.yield_per_ha)  # NaN where no yield is given
    if ind.pv_capacity_mw_per_ha > 0:
        pr = f("pv_performance_ratio", ind.pv_performance_ratio)
        pv_out = ind.pv_capacity_mw_per_ha * attrs["irradiance_kwh_per_m2"] * pr
    else:
        pv_out = np.zeros(n)
    out = np.where(np.isnan(out), pv_out, out)
    revenue = out * f("price_yuan_per_unit", ind.price_yuan_per_unit) + f(
        "other_revenue_yuan_per_ha", ind.other_revenue_yuan_per_ha
    )
    value_added = revenue - f("operating_cost_yuan_per_ha", ind.operating_cost_yuan_per_ha)
    income = (
        f("farmer_payments_yuan_per_ha", ind.farmer_payments_yuan_per_ha)
        + f("farmer_share_of_value_added", ind.farmer_share_of_value_added) * value_added
    )
    gep = {cat: np.zeros(n) for cat in GEP_CATEGORIES}
    for name, svc in ind.gep.items():
        if svc.quantity_per_ha is not None:
            q = f(f"gep.{name}", svc.quantity_per_ha)
        else:
            q = f(f"gep.{name}", np.nan)
            q = np.where(np.isnan(q), svc.quantity_per_output_unit * out, q)
        gep[svc.category] = gep[svc.category] + q * svc.unit_price_yuan
    return {
        "output": out,
        "income": income,
        "water": f("water_m3_per_ha", ind.water_m3_per_ha),
        "investment": f("investment_yuan_per_ha", ind.investment_yuan_per_ha),
        "pv_mw": np.full(n, ind.pv_capacity_mw_per_ha),
        **{f"gep_{cat}": gep[cat] for cat in GEP_CATEGORIES},
    }


def objective_per_ha(co: dict[str, np.ndarray], objective: dict[str, Any]) -> np.ndarray:
    """Objective per hectare of docs/model.md (before any market price step)."""
    delta = 1.0 if objective["double_count"] == "count_both" else 0.0
    gep = co["gep_regulating"] + co["gep_cultural"] + delta * co["gep_material"]
    return objective["gep_weight"] * gep + objective["income_weight"] * co["income"]
