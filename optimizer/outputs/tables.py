"""Result tables in plain pandas: allocation per township, totals per county, limits.

Figures come from the pair coefficients and the chosen industries, so the same code
serves a solved plan and a planner's own plan.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from optimizer.instance.schema import GEP_CATEGORIES
from optimizer.instance.validate import ValidInstance

ALLOCATION_COLUMNS = [
    "township_id", "name", "county", "city", "industry", "industry_label", "industry_label_zh",
    "area_ha", "output_amount", "output_unit", "water_use_m3", "pv_capacity_mw", "investment_yuan",
    "revenue_yuan", "operating_cost_yuan", "value_added_yuan", "farmer_income_yuan",
    "gep_material_yuan", "gep_regulating_yuan", "gep_cultural_yuan", "gep_total_yuan",
    "baseline_land_use", "baseline_farmer_income_yuan", "baseline_gep_total_yuan",
    "change_farmer_income_yuan", "change_gep_total_yuan", "locked",
]  # fmt: skip

SUM_COLUMNS = [
    "area_ha", "water_use_m3", "pv_capacity_mw", "investment_yuan", "revenue_yuan",
    "farmer_income_yuan", "gep_material_yuan", "gep_regulating_yuan", "gep_cultural_yuan",
    "gep_total_yuan", "baseline_farmer_income_yuan", "baseline_gep_total_yuan",
    "change_farmer_income_yuan", "change_gep_total_yuan",
]  # fmt: skip


def allocation_table(valid: ValidInstance, plan: pd.Series) -> pd.DataFrame:
    """One row per township for a plan (industry per township id)."""
    spec = valid.spec
    t = valid.townships
    idx = pd.MultiIndex.from_arrays([t.index, plan.reindex(t.index).to_numpy()])
    c = valid.pairs.reindex(idx)
    area = t["plannable_area_ha"].to_numpy()
    inds = plan.reindex(t.index)
    out = pd.DataFrame(
        {
            "township_id": t.index,
            "name": t["name"].to_numpy(),
            "county": t["county"].to_numpy(),
            "city": t["city"].to_numpy(),
            "industry": inds.to_numpy(),
            "industry_label": [spec.industries[i].label for i in inds],
            "industry_label_zh": [spec.industries[i].label_zh or "" for i in inds],
            "area_ha": area,
            "output_amount": c["output_per_ha"].to_numpy() * area,
            "output_unit": [spec.industries[i].output_unit for i in inds],
            "water_use_m3": c["water_per_ha"].to_numpy() * area,
            "pv_capacity_mw": c["pv_capacity_per_ha"].to_numpy() * area,
            "investment_yuan": c["investment_per_ha"].to_numpy() * area,
            "revenue_yuan": c["revenue_per_ha"].to_numpy() * area,
            "operating_cost_yuan": c["operating_cost_per_ha"].to_numpy() * area,
            "value_added_yuan": c["value_added_per_ha"].to_numpy() * area,
            "farmer_income_yuan": c["farmer_income_per_ha"].to_numpy() * area,
        }
    )
    for cat in GEP_CATEGORIES:
        out[f"gep_{cat}_yuan"] = c[f"gep_{cat}_per_ha"].to_numpy() * area
    out["gep_total_yuan"] = sum(out[f"gep_{cat}_yuan"] for cat in GEP_CATEGORIES)
    b = valid.baseline
    out["baseline_land_use"] = b["baseline_land_use"].to_numpy()
    out["baseline_farmer_income_yuan"] = b["baseline_farmer_income_yuan"].to_numpy()
    out["baseline_gep_total_yuan"] = b["baseline_gep_total_yuan"].to_numpy()
    out["change_farmer_income_yuan"] = out["farmer_income_yuan"] - out["baseline_farmer_income_yuan"]
    out["change_gep_total_yuan"] = out["gep_total_yuan"] - out["baseline_gep_total_yuan"]
    must = {lk.township for lk in spec.constraints.locks if not lk.forbid}
    out["locked"] = ["must" if tid in must else "" for tid in t.index]
    return out[ALLOCATION_COLUMNS]


def county_totals(alloc: pd.DataFrame, industries: list[str]) -> pd.DataFrame:
    grouped = alloc.groupby("county", sort=True)
    out = grouped[SUM_COLUMNS].sum()
    out.insert(0, "townships", grouped.size())
    counts = alloc.pivot_table(index="county", columns="industry", values="township_id", aggfunc="count")
    for ind in industries:
        out[f"townships_{ind}"] = counts[ind].fillna(0).astype(int) if ind in counts else 0
    return out.reset_index()


def market_losses(valid: ValidInstance, alloc: pd.DataFrame) -> dict[str, float]:
    """Revenue lost to falling prices per market, L_m, computed from the plan's output."""
    losses = {}
    for name, market in valid.spec.constraints.markets.items():
        q = float(alloc.loc[alloc["industry"].isin(market.industries), "output_amount"].sum())
        loss, prev = 0.0, 0.0
        for step in sorted(market.price_steps, key=lambda s: s.above_output):
            loss += (step.price_drop_yuan_per_unit - prev) * max(0.0, q - step.above_output)
            prev = step.price_drop_yuan_per_unit
        losses[name] = loss
    return losses


def totals(valid: ValidInstance, alloc: pd.DataFrame) -> dict[str, Any]:
    spec = valid.spec
    losses = market_losses(valid, alloc)
    share_loss = sum(
        spec.industries[spec.constraints.markets[k].industries[0]].farmer_share_of_value_added * v
        for k, v in losses.items()
    )
    out: dict[str, Any] = {k: float(alloc[k].sum()) for k in SUM_COLUMNS}
    out["output_by_industry"] = {
        ind: {"amount": float(g["output_amount"].sum()), "unit": spec.industries[ind].output_unit}
        for ind, g in alloc.groupby("industry")
    }
    out["townships_by_industry"] = {k: int(v) for k, v in alloc["industry"].value_counts().items()}
    out["area_ha_by_industry"] = {k: float(v) for k, v in alloc.groupby("industry")["area_ha"].sum().items()}
    out["market_revenue_loss_yuan"] = float(sum(losses.values()))
    out["farmer_income_after_price_steps_yuan"] = out["farmer_income_yuan"] - share_loss
    for cat in GEP_CATEGORIES:  # the baseline by category: the report sets the plan against it
        out[f"baseline_gep_{cat}_yuan"] = float(valid.baseline[f"baseline_gep_{cat}_yuan"].sum())
    return out


def objective_value(valid: ValidInstance, tot: dict[str, Any]) -> float:
    """docs/model.md's objective from totals (used for plans that were not solved)."""
    obj = valid.spec.objective
    gep = tot["gep_regulating_yuan"] + tot["gep_cultural_yuan"]
    if obj.double_count == "count_both":
        gep += tot["gep_material_yuan"]
    return obj.gep_weight * gep + obj.income_weight * tot["farmer_income_after_price_steps_yuan"]


def summary_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Flatten the summary's headline figures to key/value rows for the GeoPackage."""
    rows = []
    for key in ("instance", "run_id", "status", "termination", "objective_yuan", "bound_yuan", "gap",
                "double_count"):  # fmt: skip
        rows.append((key, summary.get(key)))
    for key, val in summary.get("totals", {}).items():
        if isinstance(val, dict):
            for sub, v in val.items():
                rows.append((f"totals.{key}.{sub}", v if not isinstance(v, dict) else json.dumps(v, ensure_ascii=False)))
        else:
            rows.append((f"totals.{key}", val))
    return pd.DataFrame({"key": [r[0] for r in rows], "value": [str(r[1]) for r in rows]})
