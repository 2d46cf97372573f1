"""A five-township instance with an uncertainty: section, small enough for brute force.

Shared by tests/test_uncertainty.py, tests/test_robust.py and tests/test_alternatives.py.
Every family that a sample can change is present: county water (townships' water is
uncertain), a fruit market with a cap and a falling price (fruit yields are uncertain,
with a site-specific yield that a relative parameter must move too), a grid limit,
conservation share and an income floor (fruit and PV prices are uncertain).
"""

from __future__ import annotations

from pathlib import Path

import yaml

TOWNSHIPS = """township_id,name,county,city,plannable_area_ha,soil_depth_cm,slope_deg,rocky_desertification_grade,water_available_m3,irradiance_kwh_per_m2,baseline_land_use
T1,Alpha,A,X,100,60,10,1,30000,1000,maize
T2,Beta,A,X,80,50,15,2,20000,1200,maize
T3,Gamma,B,X,120,30,20,3,25000,1200,maize
T4,Delta,B,X,90,70,12,1,18000,1300,maize
T5,Epsilon,A,X,60,45,18,2,12000,1150,maize
"""

SITE = """township_id,industry,yield_per_ha,note
T2,fruit,14,better orchards
"""

INSTANCE = {
    "name": "uncertain",
    "townships": "townships.csv",
    "site_coefficients": "site.csv",
    "industries": {
        "fruit": {
            "label": "Fruit orchard", "output_unit": "t", "yield_per_ha": 10, "price_yuan_per_unit": 2500,
            "operating_cost_yuan_per_ha": 8000, "farmer_share_of_value_added": 0.5,
            "farmer_payments_yuan_per_ha": 1000, "water_m3_per_ha": 150, "investment_yuan_per_ha": 10000,
            "gep": {
                "fruit_sold": {"category": "material", "quantity_per_output_unit": 1, "unit": "t", "unit_price_yuan": 1000},
                "soil_retention": {"category": "regulating", "quantity_per_ha": 50, "unit": "t", "unit_price_yuan": 10},
            },
            "suitability": {"min_soil_depth_cm": 40},
        },
        "pv": {
            "label": "Agro-PV", "output_unit": "MWh", "pv_capacity_mw_per_ha": 0.5, "pv_performance_ratio": 0.8,
            "price_yuan_per_unit": 300, "operating_cost_yuan_per_ha": 140000, "farmer_payments_yuan_per_ha": 8000,
            "farmer_share_of_value_added": 0.1, "water_m3_per_ha": 20, "investment_yuan_per_ha": 1500000,
            "gep": {"avoided_co2": {"category": "regulating", "quantity_per_output_unit": 0.5, "unit": "t CO2",
                                    "unit_price_yuan": 10}},
            "suitability": {"min_irradiance_kwh_per_m2": 1100},
        },
        "conservation": {
            "label": "Conservation", "counts_as_conservation": True, "farmer_payments_yuan_per_ha": 500,
            "other_revenue_yuan_per_ha": 2500, "farmer_share_of_value_added": 1.0,
            "gep": {
                "soil_retention": {"category": "regulating", "quantity_per_ha": 150, "unit": "t", "unit_price_yuan": 10},
                "water_conservation": {"category": "regulating", "quantity_per_ha": 1000, "unit": "m3", "unit_price_yuan": 2},
                "recreation": {"category": "cultural", "quantity_per_ha": 1, "unit": "ha", "unit_price_yuan": 300},
            },
        },
        "maize": {
            "label": "Maize", "candidate": False, "yield_per_ha": 5, "price_yuan_per_unit": 2000,
            "operating_cost_yuan_per_ha": 6000, "farmer_share_of_value_added": 1.0,
            "gep": {"soil_retention": {"category": "regulating", "quantity_per_ha": 10, "unit": "t", "unit_price_yuan": 10}},
        },
    },
    "constraints": {
        "water": {"county_max_m3": {"A": 22000}},
        "markets": {"fruit_market": {"industries": ["fruit"], "max_output": 2600,
                                     "price_steps": [{"above_output": 1800, "price_drop_yuan_per_unit": 250}]}},
        "grid_county_max_mw": {"B": 60},
        "min_conservation_share": 0.1,
        "income_floor": {"min_share_of_baseline": 0.6},
    },
    "objective": {"gep_weight": 1.0, "income_weight": 1.0},
    "uncertainty": {
        "samples": 10,
        "seed": 7,
        "parameters": {
            "fruit_price": {"path": "industries.fruit.price_yuan_per_unit", "relative": True,
                            "distribution": "triangular", "low": 0.4, "mode": 1.0, "high": 1.3},
            "fruit_yield": {"paths": ["industries.fruit.yield_per_ha"], "relative": True, "distribution": "normal",
                            "mean": 1.0, "sd": 0.25, "low": 0.4, "high": 1.6},
            "pv_price": {"path": "industries.pv.price_yuan_per_unit", "distribution": "discrete",
                         "values": [200, 300, 330], "probabilities": [0.2, 0.5, 0.3]},
            "water": {"path": "townships.water_available_m3", "relative": True, "distribution": "uniform",
                      "low": 0.45, "high": 1.05},
        },
        "correlations": [{"parameters": ["fruit_price", "pv_price"], "coefficient": 0.5}],
    },
}


def write(folder: Path, changes: dict | None = None) -> Path:
    """Write the instance into `folder` (with `changes` merged at the top level); returns the YAML."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "townships.csv").write_text(TOWNSHIPS, encoding="utf-8")
    (folder / "site.csv").write_text(SITE, encoding="utf-8")
    doc = {**INSTANCE, **(changes or {})}
    path = folder / "uncertain.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
