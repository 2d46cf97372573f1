"""Per-hectare coefficients of every (township, industry) pair, in plain pandas.

This is the bridge from the instance tables to the algebra (docs/model.md, "Per-hectare
coefficients of a pair"): site-specific overrides are applied, PV output follows the
township's irradiance, GEP services are valued by category, and the suitability gates
decide which pairs may be chosen at all. Vectorised, because region-wide instances have
tens of thousands of townships and this must cost milliseconds, not seconds.

The independent checker (`optimizer/check.py`) deliberately does NOT use this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.errors import distinct
from optimizer.i18n import _
from optimizer.instance.schema import GEP_CATEGORIES, SITE_FIELDS, Industry, Instance

#: Columns of the pair table, per hectare unless noted.
PER_HA_COLUMNS = (
    "output_per_ha",
    "revenue_per_ha",
    "operating_cost_per_ha",
    "value_added_per_ha",
    "farmer_income_per_ha",
    "water_per_ha",
    "investment_per_ha",
    "pv_capacity_per_ha",
    "gep_material_per_ha",
    "gep_regulating_per_ha",
    "gep_cultural_per_ha",
)


def _industry_defaults(ind: Industry) -> dict[str, float]:
    return {
        "yield_per_ha": np.nan if ind.yield_per_ha is None else ind.yield_per_ha,
        "pv_performance_ratio": np.nan if ind.pv_performance_ratio is None else ind.pv_performance_ratio,
        "price_yuan_per_unit": ind.price_yuan_per_unit,
        "other_revenue_yuan_per_ha": ind.other_revenue_yuan_per_ha,
        "operating_cost_yuan_per_ha": ind.operating_cost_yuan_per_ha,
        "investment_yuan_per_ha": ind.investment_yuan_per_ha,
        "water_m3_per_ha": ind.water_m3_per_ha,
        "farmer_payments_yuan_per_ha": ind.farmer_payments_yuan_per_ha,
        "farmer_share_of_value_added": ind.farmer_share_of_value_added,
    }


def site_overrides(site: pd.DataFrame | None) -> pd.DataFrame:
    """Site table as floats indexed by (township_id, industry); blanks become NaN."""
    if site is None or site.empty:
        return pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["township_id", "industry"]))
    df = site.copy()
    df["township_id"] = df["township_id"].astype(str)
    df["industry"] = df["industry"].astype(str)
    df = df.set_index(["township_id", "industry"])
    return df.apply(lambda col: pd.to_numeric(col.replace("", np.nan), errors="coerce"))


def pair_table(spec: Instance, townships: pd.DataFrame, site: pd.DataFrame | None) -> pd.DataFrame:
    """All (township, industry) pairs with per-ha coefficients, gates and area.

    `townships` must be typed (see validate.typed_townships) and indexed by township_id.
    Returns a frame indexed by (township_id, industry) with PER_HA_COLUMNS, `area_ha`,
    `county`, `candidate`, `conservation` and `allowed` (passes every gate; locks are
    applied by the model builder, not here).
    """
    overrides = site_overrides(site)
    frames = []
    for ind_id, ind in spec.industries.items():
        df = pd.DataFrame(index=townships.index.copy())
        df["industry"] = ind_id
        for key, value in _industry_defaults(ind).items():
            df[key] = value
        # Site-specific overrides, column by column (blank keeps the default).
        if not overrides.empty:
            try:
                sub = overrides.xs(ind_id, level="industry")
            except KeyError:
                sub = None
            if sub is not None and not sub.empty:
                sub = sub.reindex(df.index)
                for col in SITE_FIELDS:
                    if col in sub:
                        df[col] = sub[col].where(sub[col].notna(), df[col])
        # y_ti: a given yield (industry default or site row) wins; else PV follows irradiance.
        if ind.pv_capacity_mw_per_ha > 0:
            formula = ind.pv_capacity_mw_per_ha * townships["irradiance_kwh_per_m2"] * df["pv_performance_ratio"]
        else:
            formula = pd.Series(0.0, index=df.index)
        output = df["yield_per_ha"].where(df["yield_per_ha"].notna(), formula)
        df["output_per_ha"] = output
        df["revenue_per_ha"] = output * df["price_yuan_per_unit"] + df["other_revenue_yuan_per_ha"]
        df["operating_cost_per_ha"] = df["operating_cost_yuan_per_ha"]
        df["value_added_per_ha"] = df["revenue_per_ha"] - df["operating_cost_per_ha"]
        df["farmer_income_per_ha"] = (
            df["farmer_payments_yuan_per_ha"] + df["farmer_share_of_value_added"] * df["value_added_per_ha"]
        )
        df["water_per_ha"] = df["water_m3_per_ha"]
        df["investment_per_ha"] = df["investment_yuan_per_ha"]
        df["pv_capacity_per_ha"] = ind.pv_capacity_mw_per_ha
        for cat in GEP_CATEGORIES:
            df[f"gep_{cat}_per_ha"] = 0.0
        for service, svc in ind.gep.items():
            quantity = _service_quantity(service, svc, output, overrides, ind_id, df.index)
            df[f"gep_{svc.category}_per_ha"] += quantity * svc.unit_price_yuan
        df["allowed"] = ind.candidate & _gates(ind, townships)
        df["candidate"] = ind.candidate
        df["conservation"] = ind.counts_as_conservation
        frames.append(df)
    pairs = pd.concat(frames)
    pairs.index.name = "township_id"
    pairs = pairs.set_index("industry", append=True)
    pairs["area_ha"] = townships["plannable_area_ha"].reindex(pairs.index.get_level_values(0)).to_numpy()
    pairs["county"] = townships["county"].reindex(pairs.index.get_level_values(0)).to_numpy()
    keep = [*PER_HA_COLUMNS, "area_ha", "county", "candidate", "conservation", "allowed"]
    return pairs[keep]


def _service_quantity(service, svc, output, overrides, ind_id, index) -> pd.Series:  # type: ignore[no-untyped-def]
    base = svc.quantity_per_ha if svc.quantity_per_ha is not None else svc.quantity_per_output_unit
    quantity = pd.Series(float(base), index=index)
    col = f"gep.{service}"
    if not overrides.empty and col in overrides:
        try:
            site_q = overrides[col].xs(ind_id, level="industry").reindex(index)
            quantity = site_q.where(site_q.notna(), quantity)
        except KeyError:
            pass
    if svc.quantity_per_output_unit is not None:
        quantity = quantity * output
    return quantity


def _gates(ind: Industry, t: pd.DataFrame) -> pd.Series:
    ok = pd.Series(True, index=t.index)
    s = ind.suitability
    if s.min_soil_depth_cm is not None:
        ok &= t["soil_depth_cm"] >= s.min_soil_depth_cm
    if s.max_slope_deg is not None:
        ok &= t["slope_deg"] <= s.max_slope_deg
    if s.max_rocky_desertification_grade is not None:
        ok &= t["rocky_desertification_grade"] <= s.max_rocky_desertification_grade
    if s.min_irradiance_kwh_per_m2 is not None:
        ok &= t["irradiance_kwh_per_m2"] >= s.min_irradiance_kwh_per_m2
    return ok


def gate_failures(ind: Industry, row: pd.Series) -> list[str]:
    """Plain-language reasons a township fails an industry's gates (for messages).

    The two numbers are printed with enough decimals to differ (39.99 cm < 40 cm, not
    "40 cm < 40 cm").
    """
    s = ind.suitability
    out = []
    if s.min_soil_depth_cm is not None and row["soil_depth_cm"] < s.min_soil_depth_cm:
        a, b = distinct(float(row["soil_depth_cm"]), float(s.min_soil_depth_cm), grouping=False)
        out.append(_("soil depth {a} cm < {b} cm").format(a=a, b=b))
    if s.max_slope_deg is not None and row["slope_deg"] > s.max_slope_deg:
        a, b = distinct(float(row["slope_deg"]), float(s.max_slope_deg), grouping=False)
        out.append(_("slope {a}° > {b}°").format(a=a, b=b))
    if s.max_rocky_desertification_grade is not None and row["rocky_desertification_grade"] > s.max_rocky_desertification_grade:
        out.append(_("desertification grade {a} > {b}").format(
            a=int(row["rocky_desertification_grade"]), b=s.max_rocky_desertification_grade))
    if s.min_irradiance_kwh_per_m2 is not None and row["irradiance_kwh_per_m2"] < s.min_irradiance_kwh_per_m2:
        a, b = distinct(float(row["irradiance_kwh_per_m2"]), float(s.min_irradiance_kwh_per_m2), grouping=False)
        out.append(_("irradiance {a} kWh/m² < {b}").format(a=a, b=b))
    return out


def baseline(pairs: pd.DataFrame, townships: pd.DataFrame) -> pd.DataFrame:
    """Baseline income and GEP per township from its current land use."""
    idx = pd.MultiIndex.from_arrays(
        [townships.index, townships["baseline_land_use"].to_numpy()], names=["township_id", "industry"]
    )
    b = pairs.reindex(idx)
    area = townships["plannable_area_ha"].to_numpy()
    out = pd.DataFrame(index=townships.index)
    out["baseline_land_use"] = townships["baseline_land_use"].to_numpy()
    out["baseline_farmer_income_yuan"] = b["farmer_income_per_ha"].to_numpy() * area
    gep = sum(b[f"gep_{c}_per_ha"].to_numpy() for c in GEP_CATEGORIES)
    out["baseline_gep_total_yuan"] = gep * area
    for c in GEP_CATEGORIES:
        out[f"baseline_gep_{c}_yuan"] = b[f"gep_{c}_per_ha"].to_numpy() * area
    return out


def income_floor_yuan(spec: Instance, units: pd.DataFrame, base: pd.DataFrame | None) -> pd.Series | None:
    """Each unit's (township's or village's) minimum farmer income (yuan/yr), or None when no
    floor is set: the larger of `min_yuan_per_ha` × plannable area and `min_share_of_baseline`
    × baseline income (`base`, indexed like `units`). One rule for both levels, so a village
    instance's floor cannot drift from a township instance's."""
    f = spec.constraints.income_floor
    if f.min_yuan_per_ha is None and f.min_share_of_baseline is None:
        return None
    floor = pd.Series(-np.inf, index=units.index)
    if f.min_yuan_per_ha is not None:
        floor = np.maximum(floor, f.min_yuan_per_ha * units["plannable_area_ha"])
    if f.min_share_of_baseline is not None:
        if base is None:
            raise ValueError("the baseline is needed for a floor as a share of baseline income")
        floor = np.maximum(floor, f.min_share_of_baseline * base["baseline_farmer_income_yuan"])
    return floor
