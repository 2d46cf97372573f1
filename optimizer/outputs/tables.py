"""Result tables in plain pandas: allocation per township, totals per county, limits.

Figures come from the pair coefficients and the chosen industries, so the same code
serves a solved plan and a planner's own plan.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
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


#: allocation.csv of a village instance: one row per village, the planning unit.
VILLAGE_ALLOCATION_COLUMNS = [
    "village_id", "name", "township_id", "township_name", "county", "city", "industry", "industry_label",
    "industry_label_zh", "leading_industry", "takes_leading_industry",
    *ALLOCATION_COLUMNS[ALLOCATION_COLUMNS.index("area_ha"):],
]  # fmt: skip


def _figures(valid: ValidInstance, units: pd.DataFrame, plan: pd.Series) -> pd.DataFrame:
    """Every figure of allocation.csv per planning unit (township or village) for a plan."""
    spec = valid.spec
    idx = pd.MultiIndex.from_arrays([units.index, plan.reindex(units.index).to_numpy()])
    c = valid.pairs.reindex(idx)
    area = units["plannable_area_ha"].to_numpy()
    inds = plan.reindex(units.index)
    out = pd.DataFrame(
        {
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
    return out


def allocation_table(valid: ValidInstance, plan: pd.Series, leading: pd.Series | None = None) -> pd.DataFrame:
    """One row per planning unit for a plan (industry per township id, or per village id).

    In a village instance each row also names its township and the township's leading
    industry (`leading`: industry per township; derived from the plan when not given).
    """
    if valid.villages is not None:
        return village_allocation_table(valid, plan, leading)
    spec = valid.spec
    t = valid.townships
    out = _figures(valid, t, plan)
    out.insert(0, "township_id", t.index)
    out.insert(1, "name", t["name"].to_numpy())
    out.insert(2, "county", t["county"].to_numpy())
    out.insert(3, "city", t["city"].to_numpy())
    must = {lk.township for lk in spec.constraints.locks if not lk.forbid}
    out["locked"] = ["must" if tid in must else "" for tid in t.index]
    return out[ALLOCATION_COLUMNS]


def village_allocation_table(valid: ValidInstance, plan: pd.Series, leading: pd.Series | None = None) -> pd.DataFrame:
    """allocation.csv of a village instance: one row per village, with its township's leading industry."""
    from optimizer.instance.villages import locked_allowed

    v = valid.villages
    assert v is not None
    if leading is None:
        leading = derive_leading(valid, plan)
    leading = effective_leading(valid, plan, leading)
    out = _figures(valid, v, plan)
    out.insert(0, "village_id", v.index)
    out.insert(1, "name", v["name"].to_numpy())
    out.insert(2, "township_id", v["township_id"].to_numpy())
    out.insert(3, "township_name", valid.townships["name"].reindex(v["township_id"]).fillna("").to_numpy())
    out.insert(4, "county", v["county"].to_numpy())
    out.insert(5, "city", v["city"].to_numpy())
    lead = leading.reindex(v["township_id"]).fillna("").to_numpy()
    out["leading_industry"] = lead
    out["takes_leading_industry"] = (out["industry"].to_numpy() == lead) & (lead != "")
    _, must = locked_allowed(valid.spec, v, valid.pairs)
    out["locked"] = ["must" if vid in must else "" for vid in v.index]
    return out[VILLAGE_ALLOCATION_COLUMNS]


def counted_industries(valid: ValidInstance) -> list[str]:
    """C of the leading-industry rule (every candidate without the rule)."""
    from optimizer.instance.villages import counted_industries as counted

    return counted(valid.spec)


def derive_leading(valid: ValidInstance, plan: pd.Series) -> pd.Series:
    """The leading industry a village plan implies: the counted industry with the most area.

    For a planner's plan, which names only village products. If that industry misses the
    least share, no industry meets it (the checker then reports the township).
    """
    v = valid.villages
    assert v is not None
    counted = counted_industries(valid)
    inds = plan.reindex(v.index)
    df = pd.DataFrame({"township": v["township_id"].to_numpy(), "industry": inds.to_numpy(),
                       "area": v["plannable_area_ha"].to_numpy()})  # fmt: skip
    df = df[df["industry"].isin(counted)]
    if df.empty:
        return pd.Series(dtype=object, name="leading_industry")
    by = df.groupby(["township", "industry"])["area"].sum().reset_index()
    by["rank"] = by["industry"].map({i: k for k, i in enumerate(counted)})
    by = by.sort_values(["township", "area", "rank"], ascending=[True, False, True], kind="stable")
    best = by.drop_duplicates("township", keep="first")
    return pd.Series(best["industry"].to_numpy(), index=best["township"].to_numpy(), name="leading_industry")


def effective_leading(valid: ValidInstance, plan: pd.Series, leading: pd.Series) -> pd.Series:
    """The leading industries as reported: none ("") where a township has no counted area.

    A township whose villages all take exempt industries (all restoration, say) meets any
    leading industry's share trivially, so the model's choice there means nothing and is
    not reported.
    """
    v = valid.villages
    assert v is not None
    counted = set(counted_industries(valid))
    inds = plan.reindex(v.index)
    has_counted = pd.Series(inds.isin(counted).to_numpy(), index=v.index).groupby(v["township_id"]).any()
    out = leading.reindex(valid.townships.index).fillna("")
    out[~has_counted.reindex(out.index, fill_value=False).to_numpy()] = ""
    return out.rename("leading_industry")


#: township_allocation.csv of a village instance, before the per-industry columns.
TOWNSHIP_ALLOCATION_COLUMNS = [
    "township_id", "name", "county", "city", "villages", "area_ha", "township_table_area_ha",
    "leading_industry", "leading_industry_label", "leading_industry_label_zh", "leading_area_ha",
    "counted_area_ha", "leading_share", "min_leading_share", "villages_taking_leading_industry",
]  # fmt: skip


def township_table(valid: ValidInstance, alloc: pd.DataFrame) -> pd.DataFrame:
    """One row per township of a village instance: leading industry, shares of area per industry, totals.

    `leading_share` is the leading industry's share of the counted area (docs/model.md);
    `share_<industry>` is each industry's share of the township's whole village area.
    """
    spec = valid.spec
    t = valid.townships
    rule = spec.constraints.leading_industry
    counted = set(counted_industries(valid))
    candidates = [i for i, ind in spec.industries.items() if ind.candidate]
    g = alloc.groupby("township_id", sort=False)
    out = pd.DataFrame(index=t.index)
    out["township_id"] = t.index
    out["name"] = t["name"].to_numpy()
    out["county"] = t["county"].to_numpy()
    out["city"] = t["city"].to_numpy()
    out["villages"] = g.size().reindex(t.index, fill_value=0).astype(int).to_numpy()
    out["area_ha"] = g["area_ha"].sum().reindex(t.index, fill_value=0.0).to_numpy()
    out["township_table_area_ha"] = t["plannable_area_ha"].to_numpy()
    lead = alloc.drop_duplicates("township_id").set_index("township_id")["leading_industry"]
    lead = lead.reindex(t.index).fillna("")
    out["leading_industry"] = lead.to_numpy()
    out["leading_industry_label"] = [spec.industries[i].label if i else "" for i in lead]
    out["leading_industry_label_zh"] = [(spec.industries[i].label_zh or "") if i else "" for i in lead]
    areas = alloc.assign(area_ha=alloc["area_ha"].astype(float))
    by_ind = areas.pivot_table(index="township_id", columns="industry", values="area_ha", aggfunc="sum", fill_value=0.0)
    by_ind = by_ind.reindex(t.index, fill_value=0.0)
    n_ind = alloc.pivot_table(index="township_id", columns="industry", values="village_id", aggfunc="count", fill_value=0)
    n_ind = n_ind.reindex(t.index, fill_value=0)
    counted_cols = [c for c in by_ind.columns if c in counted]
    counted_area = by_ind[counted_cols].sum(axis=1) if counted_cols else pd.Series(0.0, index=t.index)
    leading_area = [float(by_ind.at[tid, i]) if i and i in by_ind.columns else 0.0 for tid, i in zip(t.index, lead)]
    out["leading_area_ha"] = leading_area
    out["counted_area_ha"] = counted_area.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["leading_share"] = np.where(out["counted_area_ha"] > 0, out["leading_area_ha"] / out["counted_area_ha"], np.nan)
    out["min_leading_share"] = rule.min_leading_share if rule is not None else np.nan
    takes = alloc.groupby("township_id")["takes_leading_industry"].sum()
    out["villages_taking_leading_industry"] = takes.reindex(t.index, fill_value=0).astype(int).to_numpy()
    for ind in candidates:
        a = by_ind[ind] if ind in by_ind.columns else pd.Series(0.0, index=t.index)
        out[f"area_ha_{ind}"] = a.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"share_{ind}"] = np.where(out["area_ha"] > 0, a.to_numpy() / out["area_ha"].to_numpy(), np.nan)
        n = n_ind[ind] if ind in n_ind.columns else pd.Series(0, index=t.index)
        out[f"villages_{ind}"] = n.astype(int).to_numpy()
    sums = g[[c for c in SUM_COLUMNS if c != "area_ha"]].sum().reindex(t.index, fill_value=0.0)
    for col in sums.columns:
        out[col] = sums[col].to_numpy()
    return out.reset_index(drop=True)


def unit_columns(valid: ValidInstance) -> pd.DataFrame:
    """The id columns of a per-unit table: the unit's id (`township_id`, or `village_id` and
    its `township_id` in a village instance), `name` and `county`, one row per planning unit."""
    u = valid.units
    out = pd.DataFrame({valid.unit_key: u.index, "name": u["name"].to_numpy(), "county": u["county"].to_numpy()})
    if valid.villages is not None:
        out.insert(1, "township_id", u["township_id"].to_numpy())
    return out


def plan_tables(valid: ValidInstance, alloc: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The plan's township table (village instances; None for a township one) and county totals,
    as every run folder of a plan holds them (`optimizer solve`, plans written by the analyses)."""
    industries = [i for i, ind in valid.spec.industries.items() if ind.candidate]
    if valid.villages is None:
        return None, county_totals(alloc, industries)
    towns = township_table(valid, alloc)
    return towns, village_county_totals(alloc, towns, industries)


def village_county_totals(alloc: pd.DataFrame, towns: pd.DataFrame, industries: list[str]) -> pd.DataFrame:
    """county_totals.csv of a village instance: sums, villages per product, townships per leading industry."""
    grouped = alloc.groupby("county", sort=True)
    out = grouped[SUM_COLUMNS].sum()
    out.insert(0, "townships", grouped["township_id"].nunique())
    out.insert(1, "villages", grouped.size())
    counts = alloc.pivot_table(index="county", columns="industry", values="village_id", aggfunc="count")
    areas = alloc.assign(area_ha=alloc["area_ha"].astype(float)).pivot_table(
        index="county", columns="industry", values="area_ha", aggfunc="sum")
    planned = towns[towns["villages"] > 0]
    leads = planned.pivot_table(index="county", columns="leading_industry", values="township_id", aggfunc="count")
    for ind in industries:
        out[f"villages_{ind}"] = counts[ind].reindex(out.index).fillna(0).astype(int) if ind in counts else 0
        out[f"area_ha_{ind}"] = areas[ind].reindex(out.index).fillna(0.0) if ind in areas else 0.0
        out[f"townships_leading_{ind}"] = leads[ind].reindex(out.index).fillna(0).astype(int) if ind in leads else 0
    return out.reset_index()


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


def totals(valid: ValidInstance, alloc: pd.DataFrame, towns: pd.DataFrame | None = None) -> dict[str, Any]:
    """Whole-plan figures. A village instance counts villages per product and townships per
    leading industry (from `towns`, its township table) instead of townships per industry."""
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
    if valid.villages is None:
        out["townships_by_industry"] = {k: int(v) for k, v in alloc["industry"].value_counts().items()}
    else:
        out["villages_by_industry"] = {k: int(v) for k, v in alloc["industry"].value_counts().items()}
        if towns is not None:
            planned = towns[(towns["villages"] > 0).to_numpy()]
            lead = planned["leading_industry"].replace("", "(none)")
            out["townships_by_leading_industry"] = {k: int(v) for k, v in lead.value_counts().items()}
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
