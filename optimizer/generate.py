"""Synthetic instances of any size, as hard as real ones and feasible by construction.

`generate_instance(outdir, n_townships, seed)` writes a complete instance folder:

- ``instance.yaml``: industries (apple, citrus, agro-PV, conservation and the non-candidate
  baseline maize/sweet potato) with the figures of ``docs/domain.md``, constraints and
  objective;
- ``townships.gpkg`` (square township cells on a grid, EPSG:4544, layer ``townships``)
  or ``townships.csv`` (no geometry);
- ``site_coefficients.csv``: township-specific yields, water needs, PV performance
  ratios, baseline maize yields and restored-land water conservation for a subset of
  (township, industry) pairs (columns ``township_id``, ``industry`` and one per field);
- ``known_feasible_plan.csv`` (``township_id``, ``industry``): a plan that satisfies every
  limit, for tests, checkers and as a MIP start. It is not part of the instance.

Layout. Townships sit on a grid of 10 km square cells. Each county (~15 townships) is a
4×4 block of cells; cities are 3×3 blocks of counties, basins vertical strips of four
county columns. Attributes are spatially correlated: irradiance has a city level, a county
level and township noise; rocky-desertification grade comes from a county-level severity
plus township noise, and soil depth and slope follow the grade.

Hardness. The generator computes every pair's per-hectare coefficients itself (the rules
of ``docs/model.md``) and two plans:

- the *unconstrained* plan U: each township takes the allowed industry with the highest
  objective per hectare that also meets its own water limit and income floor (all
  township-level limits kept, all coupling limits ignored);
- the *known-feasible* plan K: each township takes conservation if conservation meets its
  income floor, otherwise the allowed industry that meets its water limit and income
  floor with the smallest footprint on the coupling limits (see `_known_feasible_plan`).

Every coupling limit is set from U (county water 50–70 %, county grid 50–70 %, each
fruit market 60–80 %, investment budget 60 % of U's use; conservation share 0.2 above
U's) but never tighter than what K needs, and a limit is written only where it is then
strictly tighter than U's use. U can therefore never be the answer, and K always
satisfies every limit. If a township has no allowed industry that meets the income floor
(high baseline income, all fruit and PV gated out or short of water), its baseline maize
yield is lowered so that its best option meets the floor ("relaxed" in the log).

Deterministic: the same ``(n_townships, seed)`` gives byte-identical files (the
GeoPackage timestamp is pinned through GDAL's ``OGR_CURRENT_DATE``).
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from optimizer.instance.schema import GEP_CATEGORIES, TOWNSHIP_COLUMNS, Industry, Instance

log = logging.getLogger(__name__)

#: Projected CRS of the generated cells: CGCS2000 / 3-degree Gauss-Kruger CM 105E, the zone
#: of Guanling (Guizhou) and close to Zhaotong (Yunnan).
CRS = "EPSG:4544"
CELL_M = 10_000.0  # 10 km cells: 100 km², the size of a real karst township
ORIGIN_XY = (400_000.0, 2_700_000.0)
COUNTY_BLOCK = 4  # a county is a 4×4 block of cells (≤ 16 townships)
TOWNSHIPS_PER_COUNTY = 15
CITY_BLOCK = 3  # a city is a 3×3 block of counties
BASIN_COLUMNS = 4  # a basin is a strip of 4 county columns

CANDIDATES: tuple[str, ...] = ("apple", "citrus", "agro_pv", "conservation")
BASELINE = "maize_sweet_potato"
CONSERVATION = "conservation"
FRUIT_MARKETS: dict[str, tuple[str, float]] = {
    # market id: (industry, price drop in yuan/t beyond the step)
    "apple": ("apple", 600.0),
    "citrus": ("citrus", 500.0),
}

#: Coupling limits as fractions of the unconstrained plan's use (drawn per county/market).
WATER_FRACTION = (0.5, 0.7)
GRID_FRACTION = (0.5, 0.7)
MARKET_FRACTION = (0.6, 0.8)
PRICE_STEP_AT = 0.75  # price step starts at this share of the market cap
BUDGET_FRACTION = 0.6
CONSERVATION_SHARE = 0.2
INCOME_FLOOR_SHARE = 0.8
OBJECTIVE: dict[str, Any] = {
    "gep_weight": 1.0,
    "income_weight": 1.0,
    "double_count": "exclude_material_gep",
}
#: Share of allowed pairs that get a site-specific row.
SITE_SHARE = {"apple": 0.6, "citrus": 0.6, "agro_pv": 0.3, "conservation": 0.3}

# Figures for the site coefficients (see `_site_coefficients`).
MAIZE_YIELD_BY_GRADE = np.array([6.0, 5.0, 4.2, 3.5, 2.8])  # t/ha [est]
RESTORATION_WATER_BY_GRADE = np.array([1.1, 1.0, 0.9, 0.8, 0.7])  # × default m³/ha [est]
SOIL_DEPTH_BY_GRADE = np.array([80.0, 62.0, 48.0, 32.0, 20.0])  # cm [est]
GRADE_CUMULATIVE = np.array([0.15, 0.40, 0.67, 0.87])  # P(grade ≤ g), g = 0..3 [est]

_EPS_REL = 1e-9


# --------------------------------------------------------------------------- industries

_W = "Pema Dolkar, Xiao & Ouyang 2017, Acta Ecol. Sin. 37(19), doi:10.5846/stxb201607011362"
_CO2 = "China ETS 2024 average price 91.8 CNY/t CO2"
_O2 = "Ouyang team, oxygen release 727-1,000 CNY/t (low end)"


def _gep(
    category: str,
    unit: str,
    price: float,
    *,
    per_ha: float | None = None,
    per_output: float | None = None,
    source: str,
) -> dict[str, Any]:
    service: dict[str, Any] = {"category": category}
    if per_ha is not None:
        service["quantity_per_ha"] = per_ha
    else:
        service["quantity_per_output_unit"] = per_output
    service.update(unit=unit, unit_price_yuan=price, source=source)
    return service


def _industries() -> dict[str, dict[str, Any]]:
    """The industries of a generated instance, with the figures of docs/domain.md."""
    carbon = (
        "sequestration of orchard/forest/grass per docs/domain.md table [est]; t CO2 = 3.67 t C"
    )
    return {
        "apple": {
            "label": "Apple orchard (Zhaotong model)",
            "label_zh": "苹果园",
            "output_unit": "t",
            "yield_per_ha": 30.0,
            "price_yuan_per_unit": 4500.0,
            "operating_cost_yuan_per_ha": 56600.0,
            "investment_yuan_per_ha": 300000.0,
            "water_m3_per_ha": 1750.0,
            "farmer_payments_yuan_per_ha": 24000.0,
            "farmer_share_of_value_added": 0.3,
            "gep": {
                "fruit": _gep(
                    "material",
                    "t",
                    4500.0,
                    per_output=1.0,
                    source="fruit sold at the farm-gate price",
                ),
                "water_conservation": _gep("regulating", "m3", 7.06, per_ha=1500.0, source=_W),
                "soil_retention": _gep("regulating", "t", 10.0, per_ha=50.0, source=_W),
                "carbon_sequestration": _gep(
                    "regulating", "t CO2", 91.8, per_ha=4.6, source=f"{carbon}; {_CO2}"
                ),
                "oxygen_release": _gep("regulating", "t", 727.0, per_ha=3.3, source=_O2),
                "recreation": _gep(
                    "cultural", "ha", 1500.0, per_ha=1.0, source="blossom and picking tourism [est]"
                ),
            },
            "suitability": {
                "min_soil_depth_cm": 40.0,
                "max_slope_deg": 25.0,
                "max_rocky_desertification_grade": 2,
                "min_irradiance_kwh_per_m2": 1180.0,
            },
            "source": "docs/domain.md (Zhaotong apple); yields China Daily 15 Jul 2025; "
            "cost national 2011; establishment, water and rent [est]",
        },
        "citrus": {
            "label": "Navel-orange orchard (Fuchuan model)",
            "label_zh": "脐橙园",
            "output_unit": "t",
            "yield_per_ha": 25.0,
            "price_yuan_per_unit": 4800.0,
            "operating_cost_yuan_per_ha": 40000.0,
            "investment_yuan_per_ha": 90000.0,
            "water_m3_per_ha": 1100.0,
            "farmer_payments_yuan_per_ha": 20000.0,
            "farmer_share_of_value_added": 0.3,
            "gep": {
                "fruit": _gep(
                    "material",
                    "t",
                    4800.0,
                    per_output=1.0,
                    source="fruit sold at the farm-gate price",
                ),
                "water_conservation": _gep("regulating", "m3", 7.06, per_ha=1800.0, source=_W),
                "soil_retention": _gep("regulating", "t", 10.0, per_ha=60.0, source=_W),
                "carbon_sequestration": _gep(
                    "regulating", "t CO2", 91.8, per_ha=3.7, source=f"{carbon}; {_CO2}"
                ),
                "oxygen_release": _gep("regulating", "t", 727.0, per_ha=2.7, source=_O2),
                "recreation": _gep(
                    "cultural", "ha", 1200.0, per_ha=1.0, source="orchard tourism [est]"
                ),
            },
            "suitability": {
                "min_soil_depth_cm": 40.0,
                "max_slope_deg": 25.0,
                "max_rocky_desertification_grade": 2,
            },
            "source": "docs/domain.md (Fuchuan navel orange); Chenzhou cost study 2023; "
            "establishment, water and rent [est]",
        },
        "agro_pv": {
            "label": "Agro-photovoltaics (Gangwu model)",
            "label_zh": "农光互补光伏",
            "output_unit": "MWh",
            "pv_capacity_mw_per_ha": 0.5,
            "pv_performance_ratio": 0.85,
            "price_yuan_per_unit": 310.0,
            "other_revenue_yuan_per_ha": 6900.0,
            "operating_cost_yuan_per_ha": 51000.0,
            "investment_yuan_per_ha": 1750000.0,
            "water_m3_per_ha": 20.0,
            "farmer_payments_yuan_per_ha": 18000.0,
            "farmer_share_of_value_added": 0.08,
            "gep": {
                "electricity": _gep(
                    "material",
                    "MWh",
                    310.0,
                    per_output=1.0,
                    source="ecological energy at the realised tariff",
                ),
                "emission_offset": _gep(
                    "regulating",
                    "t CO2",
                    91.8,
                    per_output=0.5703,
                    source=f"grid factor 0.5703 t CO2/MWh (MEE 2022); {_CO2}",
                ),
                "water_conservation": _gep(
                    "regulating", "m3", 7.06, per_ha=600.0, source=f"under-panel grass [est]; {_W}"
                ),
                "soil_retention": _gep("regulating", "t", 10.0, per_ha=40.0, source=_W),
                "landscape": _gep("cultural", "ha", 200.0, per_ha=1.0, source="[est]"),
            },
            "suitability": {"max_slope_deg": 30.0, "min_irradiance_kwh_per_m2": 1150.0},
            "source": "docs/domain.md (Guanling/Gangwu agro-PV): 0.5 MWp/ha (Weining 432 MW on "
            "765.8 ha), 0.31 CNY/kWh realised, 3.5 CNY/W mountain agro-PV, O&M 60 CNY/kW, "
            "rent 12,000 + wages 6,000 CNY/ha, under-panel crops 6,900 CNY/ha [est]",
        },
        "conservation": {
            "label": "Forest-grass restoration (closing hillsides, returning farmland to forest)",
            "label_zh": "封山育林、退耕还林还草",
            "counts_as_conservation": True,
            "output_unit": "t",
            "other_revenue_yuan_per_ha": 5000.0,
            "operating_cost_yuan_per_ha": 5450.0,
            "investment_yuan_per_ha": 12000.0,
            "water_m3_per_ha": 0.0,
            "farmer_payments_yuan_per_ha": 5000.0,
            "farmer_share_of_value_added": 0.0,
            "gep": {
                "water_conservation": _gep("regulating", "m3", 7.06, per_ha=3000.0, source=_W),
                "soil_retention": _gep("regulating", "t", 10.0, per_ha=120.0, source=_W),
                "carbon_sequestration": _gep(
                    "regulating", "t CO2", 91.8, per_ha=5.5, source=f"{carbon}; {_CO2}"
                ),
                "oxygen_release": _gep("regulating", "t", 727.0, per_ha=4.0, source=_O2),
                "recreation": _gep("cultural", "ha", 800.0, per_ha=1.0, source="[est]"),
            },
            "source": "docs/domain.md (conservation): Grain-for-Green compensation ~4,500 + "
            "public-welfare forest subsidy and ranger wages ~500 CNY/ha paid to households "
            "[est]; protection 450 CNY/ha; establishment mix of closing hillsides and "
            "afforestation [est]",
        },
        BASELINE: {
            "label": "Maize and sweet potato on sloping land (baseline)",
            "label_zh": "坡耕地玉米、红薯",
            "candidate": False,
            "output_unit": "t",
            "yield_per_ha": 4.5,
            "price_yuan_per_unit": 2400.0,
            "operating_cost_yuan_per_ha": 6000.0,
            "farmer_payments_yuan_per_ha": 0.0,
            "farmer_share_of_value_added": 1.0,
            "gep": {
                "grain": _gep(
                    "material", "t", 2400.0, per_output=1.0, source="grain at farm-gate price"
                ),
                "water_conservation": _gep("regulating", "m3", 7.06, per_ha=600.0, source=_W),
                "soil_retention": _gep("regulating", "t", 10.0, per_ha=25.0, source=_W),
                "recreation": _gep("cultural", "ha", 100.0, per_ha=1.0, source="[est]"),
            },
            "source": "household farming, own labour unpaid: yield by desertification grade, "
            "price and cost [est]",
        },
    }


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Layout:
    county: np.ndarray  # county index of each township
    city_of_county: np.ndarray
    basin_of_county: np.ndarray
    cell_x: np.ndarray  # cell column of each township
    cell_y: np.ndarray
    n_counties: int
    n_cities: int
    n_basins: int


def _layout(n: int, rng: np.random.Generator) -> _Layout:
    n_counties = max(1, math.ceil(n / TOWNSHIPS_PER_COUNTY))
    sizes = np.full(n_counties, n // n_counties)
    sizes[rng.permutation(n_counties)[: n % n_counties]] += 1
    county = np.repeat(np.arange(n_counties), sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    local = np.arange(n) - starts[county]

    block_cols = math.ceil(math.sqrt(n_counties))
    bx = np.arange(n_counties) % block_cols
    by = np.arange(n_counties) // block_cols
    cell_x = bx[county] * COUNTY_BLOCK + local % COUNTY_BLOCK
    cell_y = by[county] * COUNTY_BLOCK + local // COUNTY_BLOCK

    if n_counties < 4:
        city_of_county = np.zeros(n_counties, dtype=int)
    else:
        city_key = (by // CITY_BLOCK) * (block_cols + 1) + bx // CITY_BLOCK
        _, city_of_county = np.unique(city_key, return_inverse=True)
    _, basin_of_county = np.unique(bx // BASIN_COLUMNS, return_inverse=True)
    return _Layout(
        county=county,
        city_of_county=city_of_county,
        basin_of_county=basin_of_county,
        cell_x=cell_x,
        cell_y=cell_y,
        n_counties=n_counties,
        n_cities=int(city_of_county.max()) + 1,
        n_basins=int(basin_of_county.max()) + 1,
    )


def _attributes(lay: _Layout, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Township attributes: county-level means plus township noise (rounded as written)."""
    n, nc = len(lay.county), lay.n_counties
    c = lay.county

    city_irr = rng.uniform(1130.0, 1420.0, lay.n_cities)
    county_irr = city_irr[lay.city_of_county] + rng.normal(0.0, 35.0, nc)
    irradiance = np.clip(county_irr[c] + rng.normal(0.0, 20.0, n), 1050.0, 1500.0).round(1)
    # Sunny counties are the dry ones (Zhaotong): aridity drives irrigation needs.
    aridity = np.clip((county_irr - 1130.0) / 290.0 + rng.normal(0.0, 0.15, nc), 0.0, 1.0)

    county_severity = rng.normal(0.0, 0.7, nc)
    latent = county_severity[c] + rng.normal(0.0, 0.8, n)
    sd = math.sqrt(0.7**2 + 0.8**2)
    thresholds = sd * np.array([NormalDist().inv_cdf(p) for p in GRADE_CUMULATIVE])
    grade = np.searchsorted(thresholds, latent).astype(np.int64)

    county_soil = rng.lognormal(0.0, 0.15, nc)
    soil = SOIL_DEPTH_BY_GRADE[grade] * county_soil[c] * rng.lognormal(0.0, 0.2, n)
    soil_depth = np.clip(soil, 5.0, 120.0).round(1)

    county_slope = rng.uniform(10.0, 22.0, nc)
    slope = np.clip(county_slope[c] + 1.5 * grade + rng.normal(0.0, 4.0, n), 2.0, 45.0).round(1)

    area = np.clip(rng.lognormal(math.log(900.0), 0.55, n), 200.0, 3000.0).round(1)
    county_water = rng.uniform(1500.0, 3000.0, nc)
    water = (area * county_water[c] * rng.lognormal(0.0, 0.25, n)).round(0)

    return {
        "plannable_area_ha": area,
        "soil_depth_cm": soil_depth,
        "slope_deg": slope,
        "rocky_desertification_grade": grade,
        "water_available_m3": water,
        "irradiance_kwh_per_m2": irradiance,
        "aridity": aridity[c],  # not written: drives site water needs
    }


# --------------------------------------------------------------------------- coefficients


def _allowed(ind: Industry, attrs: dict[str, np.ndarray]) -> np.ndarray:
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


def _coefficients(
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


def _site_coefficients(
    attrs: dict[str, np.ndarray], allowed: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, dict[str, np.ndarray]]:
    """Site overrides per industry: field → array (NaN where the township has none)."""
    n = len(attrs["plannable_area_ha"])
    grade, aridity = attrs["rocky_desertification_grade"], attrs["aridity"]
    soil_factor = np.clip(attrs["soil_depth_cm"] / 60.0, 0.7, 1.3)

    def subset(industry: str) -> np.ndarray:
        return allowed[industry] & (rng.random(n) < SITE_SHARE[industry])

    def masked(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.where(mask, values, np.nan)

    site: dict[str, dict[str, np.ndarray]] = {}
    m = subset("apple")
    site["apple"] = {
        "yield_per_ha": masked(
            m, np.clip(30.0 * soil_factor * rng.lognormal(0, 0.15, n), 15, 55).round(1)
        ),
        "water_m3_per_ha": masked(
            m, np.clip((1000.0 + 1500.0 * aridity) * rng.lognormal(0, 0.08, n), 1000, 2500).round(0)
        ),
    }
    m = subset("citrus")
    site["citrus"] = {
        "yield_per_ha": masked(
            m, np.clip(25.0 * soil_factor * rng.lognormal(0, 0.12, n), 14, 34).round(1)
        ),
        "water_m3_per_ha": masked(
            m, np.clip((750.0 + 750.0 * aridity) * rng.lognormal(0, 0.08, n), 750, 1500).round(0)
        ),
    }
    m = subset("agro_pv")
    site["agro_pv"] = {"pv_performance_ratio": masked(m, rng.uniform(0.80, 0.88, n).round(3))}
    m = subset("conservation")
    site["conservation"] = {
        "gep.water_conservation": masked(
            m, (3000.0 * RESTORATION_WATER_BY_GRADE[grade] * rng.lognormal(0, 0.1, n)).round(0)
        )
    }
    site[BASELINE] = {
        "yield_per_ha": np.maximum(
            MAIZE_YIELD_BY_GRADE[grade] * rng.lognormal(0, 0.08, n), 2.6
        ).round(2)
    }
    return site


# --------------------------------------------------------------------------- plans


def _objective(co: dict[str, np.ndarray], objective: dict[str, Any]) -> np.ndarray:
    """Objective per hectare of docs/model.md (before any market price step)."""
    delta = 1.0 if objective["double_count"] == "count_both" else 0.0
    gep = co["gep_regulating"] + co["gep_cultural"] + delta * co["gep_material"]
    return objective["gep_weight"] * gep + objective["income_weight"] * co["income"]


def _ok_le(lhs: np.ndarray, rhs: np.ndarray | float) -> np.ndarray:
    """lhs ≤ rhs with a safety margin, so rounding in a model never breaks it."""
    return (lhs <= 0) | (lhs * (1 + _EPS_REL) + 1e-6 <= rhs)


def _ok_ge(lhs: np.ndarray, rhs: np.ndarray | float) -> np.ndarray:
    return lhs >= rhs + np.abs(rhs) * _EPS_REL + 1e-6


# --------------------------------------------------------------------------- main entry


def generate_instance(
    outdir: Path,
    n_townships: int,
    seed: int,
    *,
    table_format: Literal["csv", "gpkg"] = "gpkg",
    name: str | None = None,
) -> Path:
    """Write a synthetic instance of ``n_townships`` townships to ``outdir``.

    Returns the path of ``outdir/instance.yaml``. The same ``(n_townships, seed)``
    gives identical files.
    """
    if n_townships < 1:
        raise ValueError("n_townships must be at least 1")
    if table_format not in ("csv", "gpkg"):
        raise ValueError(f"table_format must be 'csv' or 'gpkg', not {table_format!r}")
    t0 = time.perf_counter()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    name = name or f"synthetic_n{n_townships}_s{seed}"
    rng = np.random.default_rng(seed)
    n = n_townships

    lay = _layout(n, rng)
    attrs = _attributes(lay, rng)
    area = attrs["plannable_area_ha"]
    industries_raw = _industries()
    industries = {k: Industry.model_validate(v) for k, v in industries_raw.items()}
    allowed = {i: _allowed(industries[i], attrs) for i in CANDIDATES}
    if not allowed[CONSERVATION].all():
        raise RuntimeError("conservation must stay open to every township")
    site = _site_coefficients(attrs, allowed, rng)

    coef = {
        i: _coefficients(industries[i], attrs, site.get(i, {})) for i in (*CANDIDATES, BASELINE)
    }

    # Income floor per township; relax (lower the baseline maize yield) where no allowed
    # industry within the township's own water can meet it.
    water_ok = {i: _ok_le(area * coef[i]["water"], attrs["water_available_m3"]) for i in CANDIDATES}
    base = industries[BASELINE]
    floor = INCOME_FLOOR_SHARE * (area * coef[BASELINE]["income"])
    best_income = np.max(
        [np.where(allowed[i] & water_ok[i], coef[i]["income"], -np.inf) for i in CANDIDATES], axis=0
    )
    short = ~_ok_ge(area * best_income, floor)
    if short.any():
        target_income = best_income[short] / INCOME_FLOOR_SHARE * 0.99
        new_yield = (
            (target_income - base.farmer_payments_yuan_per_ha) / base.farmer_share_of_value_added
            - base.other_revenue_yuan_per_ha
            + base.operating_cost_yuan_per_ha
        ) / base.price_yuan_per_unit
        yields = site[BASELINE]["yield_per_ha"]
        yields[short] = np.floor(np.maximum(new_yield, 0.0) * 100.0) / 100.0
        coef[BASELINE] = _coefficients(base, attrs, site[BASELINE])
        floor = INCOME_FLOOR_SHARE * (area * coef[BASELINE]["income"])
    log.info("income floor: relaxed the baseline of %d of %d townships", int(short.sum()), n)

    feasible = np.stack(
        [allowed[i] & water_ok[i] & _ok_ge(area * coef[i]["income"], floor) for i in CANDIDATES],
        axis=1,
    )
    if not feasible.any(axis=1).all():
        raise RuntimeError("every township must keep an industry within its own limits")

    objective = np.stack([_objective(coef[i], OBJECTIVE) for i in CANDIDATES], axis=1)
    unconstrained = np.argmax(np.where(feasible, objective, -np.inf), axis=1)
    known = _known_feasible_plan(lay, area, coef, feasible, unconstrained)

    constraints = _coupling_limits(lay, attrs, coef, unconstrained, known, rng)

    _log_summary(n, allowed, unconstrained, known)

    # ---- write
    ids = np.array([f"T{k + 1:06d}" for k in range(n)], dtype=object)
    county_names = np.array([f"county_{c + 1:04d}" for c in range(lay.n_counties)], dtype=object)
    city_names = np.array([f"city_{c + 1:03d}" for c in range(lay.n_cities)], dtype=object)
    basin_names = np.array([f"basin_{b + 1:02d}" for b in range(lay.n_basins)], dtype=object)
    table = pd.DataFrame(
        {
            "township_id": ids,
            "name": np.array([f"Synthetic township {k + 1}" for k in range(n)], dtype=object),
            "county": county_names[lay.county],
            "city": city_names[lay.city_of_county[lay.county]],
            "basin": basin_names[lay.basin_of_county[lay.county]],
            **{col: attrs[col] for col in TOWNSHIP_COLUMNS if col in attrs},
            "baseline_land_use": BASELINE,
        }
    )
    table = table[[c for c in TOWNSHIP_COLUMNS if c in table.columns]]
    if table_format == "gpkg":
        table_ref: dict[str, str] | str = {"path": "townships.gpkg", "layer": "townships"}
        _write_gpkg(table, lay, outdir / "townships.gpkg")
    else:
        table_ref = "townships.csv"
        table.to_csv(outdir / "townships.csv", index=False, lineterminator="\n")

    _write_site_table(site, ids, outdir / "site_coefficients.csv")
    pd.DataFrame(
        {"township_id": ids, "industry": np.array(CANDIDATES, dtype=object)[known]}
    ).to_csv(outdir / "known_feasible_plan.csv", index=False, lineterminator="\n")

    doc = _instance_document(name, n, seed, lay, table_ref, industries_raw, constraints)
    Instance.model_validate(doc)  # fail here, not in the solver, if the schema moved
    path = outdir / "instance.yaml"
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(
        "# Synthetic instance generated by optimizer.generate; figures are illustrative.\n" + text,
        encoding="utf-8",
    )
    log.info(
        "generated %s: %d townships, %d counties, %d cities in %.2f s",
        path,
        n,
        lay.n_counties,
        lay.n_cities,
        time.perf_counter() - t0,
    )
    return path


def _known_feasible_plan(
    lay: _Layout,
    area: np.ndarray,
    coef: dict[str, dict[str, np.ndarray]],
    feasible: np.ndarray,
    unconstrained: np.ndarray,
) -> np.ndarray:
    """Conservation wherever it meets the income floor; elsewhere the feasible industry
    with the smallest footprint on the coupling limits.

    The footprint of a pair is the sum, over county water, county grid, investment and its
    fruit market, of its use divided by the unconstrained plan's use of the same limit
    (a limit U does not use gets no cap, so it weighs nothing). Spreading the plan's
    needs over the limits keeps it below the 50-80 % caps in most counties.
    """
    n = len(area)
    rows = np.arange(n)

    def per_ha(key: str) -> np.ndarray:
        return np.stack([coef[i][key] for i in CANDIDATES], axis=1)

    def weight(total: np.ndarray | float) -> np.ndarray | float:
        total = np.asarray(total, dtype=float)
        return np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)

    water, mw, inv, out = (
        area[:, None] * per_ha(k) for k in ("water", "pv_mw", "investment", "output")
    )
    u_water = np.bincount(lay.county, weights=water[rows, unconstrained], minlength=lay.n_counties)
    u_mw = np.bincount(lay.county, weights=mw[rows, unconstrained], minlength=lay.n_counties)
    score = (
        water * weight(u_water)[lay.county, None]
        + mw * weight(u_mw)[lay.county, None]
        + inv * weight(inv[rows, unconstrained].sum())
    )
    for industry, _ in FRUIT_MARKETS.values():
        j = CANDIDATES.index(industry)
        score[:, j] += out[:, j] * weight(out[unconstrained == j, j].sum())
    k_cons = CANDIDATES.index(CONSERVATION)
    lightest = np.argmin(np.where(feasible, score, np.inf), axis=1)
    return np.where(feasible[:, k_cons], k_cons, lightest)


def _coupling_limits(
    lay: _Layout,
    attrs: dict[str, np.ndarray],
    coef: dict[str, dict[str, np.ndarray]],
    unconstrained: np.ndarray,
    known: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Limits set from U's use, never below K's, written only where tighter than U's use."""
    area, nc = attrs["plannable_area_ha"], lay.n_counties
    county_names = [f"county_{c + 1:04d}" for c in range(nc)]

    def use(plan: np.ndarray, key: str) -> np.ndarray:
        per_ha = np.stack([coef[i][key] for i in CANDIDATES], axis=1)
        return area * per_ha[np.arange(len(plan)), plan]

    def per_county(values: np.ndarray) -> np.ndarray:
        return np.bincount(lay.county, weights=values, minlength=nc)

    def cap(u: float, k: float, fraction: float, step: float) -> float | None:
        """max(fraction·u, k + margin) rounded up to `step`; None if not below u."""
        value = max(fraction * u, k * (1 + 1e-7) + step)
        value = math.ceil(value / step) * step
        value = round(value, 6)
        return value if value < u * (1 - 1e-9) else None

    n_at_floor = {"water": 0, "grid": 0}

    def county_caps(
        key: str, fraction_range: tuple[float, float], step: float, label: str
    ) -> dict[str, float]:
        u_c, k_c = per_county(use(unconstrained, key)), per_county(use(known, key))
        fractions = rng.uniform(*fraction_range, nc)
        caps: dict[str, float] = {}
        for c in range(nc):
            value = cap(u_c[c], k_c[c], fractions[c], step)
            if value is not None:
                caps[county_names[c]] = float(value)
                n_at_floor[label] += fractions[c] * u_c[c] < k_c[c] * (1 + 1e-7) + step
        log.info(
            "%s caps: %d of %d counties (%d set by the known-feasible plan)",
            label,
            len(caps),
            nc,
            n_at_floor[label],
        )
        return caps

    water_caps = county_caps("water", WATER_FRACTION, 1.0, "water")
    grid_caps = county_caps("pv_mw", GRID_FRACTION, 0.1, "grid")

    markets: dict[str, Any] = {}
    for market, (industry, drop) in FRUIT_MARKETS.items():
        j = CANDIDATES.index(industry)
        u_out = float(np.sum(area * coef[industry]["output"] * (unconstrained == j)))
        k_out = float(np.sum(area * coef[industry]["output"] * (known == j)))
        value = cap(u_out, k_out, float(rng.uniform(*MARKET_FRACTION)), 1.0)
        if value is None:
            continue
        markets[market] = {
            "industries": [industry],
            "max_output": float(value),
            "price_steps": [
                {
                    "above_output": float(round(PRICE_STEP_AT * value)),
                    "price_drop_yuan_per_unit": drop,
                }
            ],
            "source": f"synthetic: cap at {MARKET_FRACTION[0]:.0%}-{MARKET_FRACTION[1]:.0%} of the "
            "unconstrained plan's output; price step [est] after the 2019-2020 fruit gluts in "
            "docs/domain.md",
        }

    u_inv, k_inv = (
        float(use(unconstrained, "investment").sum()),
        float(use(known, "investment").sum()),
    )
    budget = cap(u_inv, k_inv, BUDGET_FRACTION, 1.0)

    k_cons = CANDIDATES.index(CONSERVATION)
    total = float(area.sum())
    u_share = float(area[unconstrained == k_cons].sum()) / total
    k_share = float(area[known == k_cons].sum()) / total
    share: float | None = CONSERVATION_SHARE
    if not (u_share + 1e-6 < CONSERVATION_SHARE <= k_share - 1e-6):
        mid = (u_share + k_share) / 2
        share = round(mid, 4) if u_share + 1e-6 < round(mid, 4) <= k_share - 1e-6 else None
    log.info(
        "conservation share: unconstrained %.3f, known-feasible %.3f, limit %s",
        u_share,
        k_share,
        share,
    )

    constraints: dict[str, Any] = {
        "water": {"per_township": True, "county_max_m3": water_caps},
        "markets": markets,
        "grid_county_max_mw": grid_caps,
    }
    if budget is not None:
        constraints["investment_budget_yuan"] = float(budget)
    if share is not None:
        constraints["min_conservation_share"] = share
    constraints["income_floor"] = {"min_share_of_baseline": INCOME_FLOOR_SHARE}
    return constraints


def _log_summary(
    n: int,
    allowed: dict[str, np.ndarray],
    unconstrained: np.ndarray,
    known: np.ndarray,
) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    share_allowed = float(np.mean([allowed[i].mean() for i in CANDIDATES]))
    u = np.bincount(unconstrained, minlength=len(CANDIDATES)) / n
    k = np.bincount(known, minlength=len(CANDIDATES)) / n
    log.info(
        "allowed pairs: %.1f%%; unconstrained plan %s; known-feasible plan %s",
        100 * share_allowed,
        ", ".join(f"{i} {s:.0%}" for i, s in zip(CANDIDATES, u, strict=True)),
        ", ".join(f"{i} {s:.0%}" for i, s in zip(CANDIDATES, k, strict=True)),
    )


def _write_gpkg(table: pd.DataFrame, lay: _Layout, path: Path) -> None:
    import geopandas as gpd
    import pyogrio
    import shapely

    x0 = ORIGIN_XY[0] + lay.cell_x * CELL_M
    y0 = ORIGIN_XY[1] + lay.cell_y * CELL_M
    geometry = shapely.box(x0, y0, x0 + CELL_M, y0 + CELL_M)
    gdf = gpd.GeoDataFrame(table, geometry=geometry, crs=CRS)
    if path.exists():
        path.unlink()
    # Pin the GeoPackage's timestamps so that a seed gives a byte-identical file.
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        pyogrio.write_dataframe(gdf, path, layer="townships", driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _write_site_table(site: dict[str, dict[str, np.ndarray]], ids: np.ndarray, path: Path) -> None:
    frames = []
    order = {i: k for k, i in enumerate((*CANDIDATES, BASELINE))}
    for industry, fields in site.items():
        has = np.zeros(len(ids), dtype=bool)
        for values in fields.values():
            has |= ~np.isnan(values)
        idx = np.flatnonzero(has)
        frame = pd.DataFrame(
            {"township_id": ids[idx], "industry": industry, "_t": idx, "_i": order[industry]}
        )
        for field, values in fields.items():
            frame[field] = values[idx]
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).sort_values(["_t", "_i"], kind="stable")
    table = table.drop(columns=["_t", "_i"])
    table.to_csv(path, index=False, lineterminator="\n")


def _instance_document(
    name: str,
    n: int,
    seed: int,
    lay: _Layout,
    table_ref: dict[str, str] | str,
    industries: dict[str, dict[str, Any]],
    constraints: dict[str, Any],
) -> dict[str, Any]:
    synthetic = f"synthetic: optimizer.generate, {n} townships, seed {seed}"
    return {
        "format_version": 1,
        "name": name,
        "title": f"Synthetic karst instance: {n} townships, {lay.n_counties} counties, seed {seed}",
        "description": (
            "Generated by optimizer.generate for tests and benchmarks. Townships, counties, "
            "cities, basins, their attributes and geometry (square 10 km cells in "
            f"{CRS}) are invented, not real places. Industry figures follow docs/domain.md; "
            "coupling limits are set to 50-80% of what the per-township best plan would use, "
            "never below what a known feasible plan (conservation where it meets the income "
            "floor, else the allowed industry lightest on the limits) uses."
        ),
        "townships": table_ref,
        "site_coefficients": "site_coefficients.csv",
        "industries": industries,
        "constraints": constraints,
        "objective": dict(OBJECTIVE),
        "sources": [
            {
                "item": "townships",
                "source": f"{synthetic}; schematic geometry, invented attributes",
                "estimate": True,
            },
            {
                "item": "site_coefficients",
                "source": f"{synthetic}; yields and water needs drawn "
                "around the industry defaults by soil depth, grade and aridity",
                "estimate": True,
            },
            {
                "item": "industries",
                "source": "docs/domain.md figures; see each industry's source",
                "estimate": True,
            },
            {
                "item": "constraints",
                "source": f"{synthetic}; limits derived from the generated "
                "plans, not from any real budget or grid",
                "estimate": True,
            },
        ],
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m optimizer.generate OUTDIR N SEED [--csv]``: write one instance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("n_townships", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument(
        "--csv", action="store_true", help="write townships.csv instead of a GeoPackage"
    )
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    generate_instance(
        args.outdir,
        args.n_townships,
        args.seed,
        table_format="csv" if args.csv else "gpkg",
        name=args.name,
    )


if __name__ == "__main__":
    main()
