"""Tests of the independent plan checker (optimizer/check/).

Every expected figure below is worked out by hand in the comments, from the tiny instance
built by `base_instance`, so that the checker is tested against arithmetic rather than
against the model code it is meant to audit.

The instance (three townships, two counties, two basins):

    township  name       county basin  area soil slope grade water_avail irradiance baseline
    t1        Anle       C1     B1     100  50   10    1     300,000     1300       maize
    t2        Baisha     C1     B1     200  30   20    2     100,000     1400       maize
    t3        Chengguan  C2     B2      50  60    5    0     200,000     1500       maize

Industries (per ha):
    maize (candidate: false, baseline only): yield 5 t × 2,000 = revenue 10,000;
        op cost 6,000 → VA 4,000; farmer share 1.0 → income 4,000;
        GEP material: grain 1 t per t × 2,000 = 10,000.
    apple: yield 20 t (site table: 25 t in t1) × 4,000 yuan/t; op cost 50,000;
        payments 10,000 + 0.5 × VA; water 2,000 m³; investment 100,000;
        GEP material fruit 1 t per t × 4,000; regulating soil 10 t × 50 = 500;
        gates: soil ≥ 40 cm, slope ≤ 25°.
    pv: 0.5 MWp/ha, performance ratio 0.8 → output 0.5 × irradiance × 0.8 MWh;
        price 300 yuan/MWh, other revenue 4,000; op cost 40,000; payments 6,000 + 0.1 × VA;
        water 100 m³; investment 2,000,000; GEP regulating CO₂ 0.5 t per MWh × 100;
        gate: irradiance ≥ 1,350.
    conservation (counts as conservation): other revenue 1,500; op cost 1,500 → VA 0;
        payments 1,500 → income 1,500; investment 5,000;
        GEP regulating water 1,000 m³ × 5 = 5,000; cultural 1 × 2,000 = 2,000.

The correct plan: t1 apple, t2 conservation, t3 pv (t3 is must-locked to pv; t2 may not
take pv by a forbid lock).
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

import optimizer.check
from optimizer.check import CheckReport, check_plan, check_run, format_amount, price_step_loss

TOWNSHIPS = [
    {
        "township_id": "t1",
        "name": "Anle",
        "name_zh": "安乐镇",
        "county": "C1",
        "city": "X",
        "basin": "B1",
        "plannable_area_ha": 100,
        "soil_depth_cm": 50,
        "slope_deg": 10,
        "rocky_desertification_grade": 1,
        "water_available_m3": 300_000,
        "irradiance_kwh_per_m2": 1300,
        "baseline_land_use": "maize",
    },
    {
        "township_id": "t2",
        "name": "Baisha",
        "name_zh": "白沙镇",
        "county": "C1",
        "city": "X",
        "basin": "B1",
        "plannable_area_ha": 200,
        "soil_depth_cm": 30,
        "slope_deg": 20,
        "rocky_desertification_grade": 2,
        "water_available_m3": 100_000,
        "irradiance_kwh_per_m2": 1400,
        "baseline_land_use": "maize",
    },
    {
        "township_id": "t3",
        "name": "Chengguan",
        "name_zh": "城关镇",
        "county": "C2",
        "city": "X",
        "basin": "B2",
        "plannable_area_ha": 50,
        "soil_depth_cm": 60,
        "slope_deg": 5,
        "rocky_desertification_grade": 0,
        "water_available_m3": 200_000,
        "irradiance_kwh_per_m2": 1500,
        "baseline_land_use": "maize",
    },
]

INSTANCE = {
    "format_version": 1,
    "name": "tiny",
    "townships": "townships.csv",
    "site_coefficients": {"path": "site.csv"},
    "industries": {
        "maize": {
            "label": "Maize", "candidate": False, "yield_per_ha": 5, "price_yuan_per_unit": 2000,
            "operating_cost_yuan_per_ha": 6000, "farmer_share_of_value_added": 1.0,
            "gep": {"grain": {"category": "material", "quantity_per_output_unit": 1, "unit": "t",
                              "unit_price_yuan": 2000}},
        },
        "apple": {
            "label": "Apple orchard", "label_zh": "苹果园", "yield_per_ha": 20, "price_yuan_per_unit": 4000,
            "operating_cost_yuan_per_ha": 50_000, "farmer_payments_yuan_per_ha": 10_000,
            "farmer_share_of_value_added": 0.5, "water_m3_per_ha": 2000, "investment_yuan_per_ha": 100_000,
            "gep": {
                "fruit": {"category": "material", "quantity_per_output_unit": 1, "unit": "t", "unit_price_yuan": 4000},
                "soil_retention": {"category": "regulating", "quantity_per_ha": 10, "unit": "t",
                                   "unit_price_yuan": 50},
            },
            "suitability": {"min_soil_depth_cm": 40, "max_slope_deg": 25},
        },
        "pv": {
            "label": "Agro-PV", "output_unit": "MWh", "pv_capacity_mw_per_ha": 0.5, "pv_performance_ratio": 0.8,
            "price_yuan_per_unit": 300, "other_revenue_yuan_per_ha": 4000, "operating_cost_yuan_per_ha": 40_000,
            "farmer_payments_yuan_per_ha": 6000, "farmer_share_of_value_added": 0.1, "water_m3_per_ha": 100,
            "investment_yuan_per_ha": 2_000_000,
            "gep": {"co2": {"category": "regulating", "quantity_per_output_unit": 0.5, "unit": "t CO2",
                            "unit_price_yuan": 100}},
            "suitability": {"min_irradiance_kwh_per_m2": 1350},
        },
        "conservation": {
            "label": "Conservation", "counts_as_conservation": True, "other_revenue_yuan_per_ha": 1500,
            "operating_cost_yuan_per_ha": 1500, "farmer_payments_yuan_per_ha": 1500,
            "investment_yuan_per_ha": 5000, "output_unit": "t",
            "gep": {
                "water": {"category": "regulating", "quantity_per_ha": 1000, "unit": "m3", "unit_price_yuan": 5},
                "tourism": {"category": "cultural", "quantity_per_ha": 1, "unit": "visit", "unit_price_yuan": 2000},
            },
        },
    },
    "constraints": {
        "water": {"per_township": True, "county_max_m3": {"C1": 250_000}, "basin_max_m3": {"B2": 10_000}},
        # steps deliberately written out of order: the checker must sort them by above_output
        "markets": {"fruit": {"industries": ["apple"], "max_output": 3000, "price_steps": [
            {"above_output": 2400, "price_drop_yuan_per_unit": 500},
            {"above_output": 2000, "price_drop_yuan_per_unit": 200},
        ]}},
        "grid_county_max_mw": {"C2": 30},
        "investment_budget_yuan": 120_000_000,
        "min_conservation_share": 0.5,
        "income_floor": {"min_yuan_per_ha": 1000, "min_share_of_baseline": 0.3},
        "locks": [
            {"township": "t3", "industry": "pv", "reason": "county PV pilot"},
            {"township": "t2", "industry": "pv", "forbid": True, "reason": "scenic area"},
        ],
    },
    "objective": {"gep_weight": 1.0, "income_weight": 2.0},
}  # fmt: skip

# Site table: apple yields 25 t/ha in t1; a blank cell means "use the industry default".
SITE_CSV = "township_id,industry,yield_per_ha,gep.soil_retention\nt1,apple,25,\n"

PLAN = {"t1": "apple", "t2": "conservation", "t3": "pv"}

# Hand-computed figures of the correct plan (area × per-ha value):
# t1 apple, 100 ha, yield 25 (site): output 2,500 t; revenue 25 × 4,000 = 100,000/ha → 10,000,000;
#   op cost 5,000,000; VA 50,000/ha → 5,000,000; income 10,000 + 0.5 × 50,000 = 35,000/ha → 3,500,000;
#   water 200,000; invest 10,000,000; GEP material 25 × 4,000 = 100,000/ha → 10,000,000;
#   regulating 500/ha → 50,000.
# t2 conservation, 200 ha: revenue 300,000; op cost 300,000; VA 0; income 300,000; invest 1,000,000;
#   regulating 1,000,000; cultural 400,000.
# t3 pv, 50 ha: output 0.5 × 1,500 × 0.8 = 600 MWh/ha → 30,000 MWh; 25 MWp; water 5,000;
#   invest 100,000,000; revenue 600 × 300 + 4,000 = 184,000/ha → 9,200,000; op cost 2,000,000;
#   VA 144,000/ha → 7,200,000; income 6,000 + 14,400 = 20,400/ha → 1,020,000;
#   regulating 0.5 × 600 × 100 = 30,000/ha → 1,500,000.
# Baseline maize: income 4,000/ha, GEP 10,000/ha → t1 400,000 / 1,000,000; t2 800,000 / 2,000,000;
#   t3 200,000 / 500,000.
EXPECTED = {
    "t1": {
        "area_ha": 100,
        "output_amount": 2500,
        "water_use_m3": 200_000,
        "pv_capacity_mw": 0,
        "investment_yuan": 10_000_000,
        "revenue_yuan": 10_000_000,
        "operating_cost_yuan": 5_000_000,
        "value_added_yuan": 5_000_000,
        "farmer_income_yuan": 3_500_000,
        "gep_material_yuan": 10_000_000,
        "gep_regulating_yuan": 50_000,
        "gep_cultural_yuan": 0,
        "gep_total_yuan": 10_050_000,
        "baseline_farmer_income_yuan": 400_000,
        "baseline_gep_total_yuan": 1_000_000,
    },
    "t2": {
        "area_ha": 200,
        "output_amount": 0,
        "water_use_m3": 0,
        "pv_capacity_mw": 0,
        "investment_yuan": 1_000_000,
        "revenue_yuan": 300_000,
        "operating_cost_yuan": 300_000,
        "value_added_yuan": 0,
        "farmer_income_yuan": 300_000,
        "gep_material_yuan": 0,
        "gep_regulating_yuan": 1_000_000,
        "gep_cultural_yuan": 400_000,
        "gep_total_yuan": 1_400_000,
        "baseline_farmer_income_yuan": 800_000,
        "baseline_gep_total_yuan": 2_000_000,
    },
    "t3": {
        "area_ha": 50,
        "output_amount": 30_000,
        "water_use_m3": 5000,
        "pv_capacity_mw": 25,
        "investment_yuan": 100_000_000,
        "revenue_yuan": 9_200_000,
        "operating_cost_yuan": 2_000_000,
        "value_added_yuan": 7_200_000,
        "farmer_income_yuan": 1_020_000,
        "gep_material_yuan": 0,
        "gep_regulating_yuan": 1_500_000,
        "gep_cultural_yuan": 0,
        "gep_total_yuan": 1_500_000,
        "baseline_farmer_income_yuan": 200_000,
        "baseline_gep_total_yuan": 500_000,
    },
}

# Totals: H = 3,500,000 + 300,000 + 1,020,000 = 4,820,000; G_mat = 10,000,000;
# G_reg = 50,000 + 1,000,000 + 1,500,000 = 2,550,000; G_cul = 400,000.
# Fruit market output Q = 2,500 t; steps sorted (2,000: 200), (2,400: 500):
#   L = 200 × (2,500 − 2,000) + (500 − 200) × (2,500 − 2,400) = 100,000 + 30,000 = 130,000;
#   farmers bear φ = 0.5 of it → 65,000.
# Z = 1 × (2,550,000 + 400,000) + 2 × (4,820,000 − 65,000) = 2,950,000 + 9,510,000 = 12,460,000.
OBJECTIVE = 12_460_000.0


def base_instance() -> dict:
    return copy.deepcopy(INSTANCE)


def base_townships() -> list[dict]:
    return copy.deepcopy(TOWNSHIPS)


def write_instance(
    tmp_path: Path, instance: dict | None = None, townships: list[dict] | None = None
) -> Path:
    """Write instance.yaml, townships.csv and site.csv into tmp_path; return the YAML path."""
    pd.DataFrame(townships if townships is not None else TOWNSHIPS).to_csv(
        tmp_path / "townships.csv", index=False
    )
    (tmp_path / "site.csv").write_text(SITE_CSV, encoding="utf-8")
    path = tmp_path / "instance.yaml"
    path.write_text(
        yaml.safe_dump(instance if instance is not None else INSTANCE, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def plan_frame(plan: dict[str, str] | list[tuple[str, str]]) -> pd.DataFrame:
    items = list(plan.items()) if isinstance(plan, dict) else plan
    return pd.DataFrame(items, columns=["township_id", "industry"])


def full_allocation() -> pd.DataFrame:
    """allocation.csv of the correct plan, every number typed in from EXPECTED."""
    names = {t["township_id"]: t for t in TOWNSHIPS}
    labels = {
        "apple": ("Apple orchard", "苹果园", "t"),
        "conservation": ("Conservation", "", "t"),
        "pv": ("Agro-PV", "", "MWh"),
    }
    rows = []
    for tid, iid in PLAN.items():
        e = EXPECTED[tid]
        rows.append({
            "township_id": tid, "name": names[tid]["name"], "county": names[tid]["county"], "city": "X",
            "industry": iid, "industry_label": labels[iid][0], "industry_label_zh": labels[iid][1],
            "output_unit": labels[iid][2], **e, "baseline_land_use": "maize",
            "change_farmer_income_yuan": e["farmer_income_yuan"] - e["baseline_farmer_income_yuan"],
            "change_gep_total_yuan": e["gep_total_yuan"] - e["baseline_gep_total_yuan"],
            "locked": "must" if tid == "t3" else "",
        })  # fmt: skip
    return pd.DataFrame(rows)


def summary_dict() -> dict:
    """A summary.json consistent with the correct plan."""
    return {
        "instance": "tiny", "status": "optimal", "has_solution": True,
        "objective_yuan": OBJECTIVE, "bound_yuan": OBJECTIVE + 500.0, "gap": 500.0 / OBJECTIVE,
        "double_count": "exclude_material_gep", "weights": {"gep": 1.0, "income": 2.0},
        "totals": {
            "area_ha": 350, "water_use_m3": 205_000, "pv_capacity_mw": 25, "investment_yuan": 111_000_000,
            "farmer_income_yuan": 4_820_000, "gep_material_yuan": 10_000_000, "gep_regulating_yuan": 2_550_000,
            "gep_cultural_yuan": 400_000, "gep_total_yuan": 12_950_000, "market_revenue_loss_yuan": 130_000,
            "farmer_income_after_price_steps_yuan": 4_755_000, "baseline_farmer_income_yuan": 1_400_000,
            "baseline_gep_total_yuan": 3_500_000,
            # the writer's form: {amount, unit} per industry
            "output_by_industry": {
                "apple": {"amount": 2500, "unit": "t"},
                "conservation": {"amount": 0, "unit": "t"},
                "pv": {"amount": 30_000, "unit": "MWh"},
            },
            "area_ha_by_industry": {"apple": 100, "conservation": 200, "pv": 50},
            "townships_by_industry": {"apple": 1, "conservation": 1, "pv": 1},
        },
        "market_revenue_loss_yuan": {"fruit": 130_000},
        "per_county": [
            {"county": "C1", "townships": 2, "area_ha": 300, "water_use_m3": 200_000, "pv_capacity_mw": 0,
             "investment_yuan": 11_000_000, "farmer_income_yuan": 3_800_000,
             "townships_by_industry": {"apple": 1, "conservation": 1}},
            # flat townships_<industry> counts, as the writer emits them
            {"county": "C2", "townships": 1, "area_ha": 50, "water_use_m3": 5000, "pv_capacity_mw": 25,
             "gep_total_yuan": 1_500_000, "townships_pv": 1, "townships_apple": 0},
        ],
        "constraints": [
            {"name": "water_use_per_county_max[C1]", "family": "water_use_per_county_max", "index": "C1",
             "lhs": 200_000, "rhs": 250_000, "sense": "<="},
            {"name": "pv_capacity_per_county_max[C2]", "family": "pv_capacity_per_county_max", "index": "C2",
             "lhs": 25, "rhs": 30, "sense": "<="},
            {"name": "investment_budget_max", "index": None, "lhs": 111_000_000, "rhs": 120_000_000},
            {"name": "market_output_beyond_step_def", "index": ["fruit", 0], "lhs": 1, "rhs": 2},
        ],
    }  # fmt: skip


def only(report: CheckReport, name: str):
    found = report.violations_named(name)
    assert len(found) == 1, (name, report.describe())
    return found[0]


# ------------------------------------------------------------------ the correct plan


def test_correct_plan_passes_with_hand_computed_objective(tmp_path: Path) -> None:
    path = write_instance(tmp_path)
    report = check_plan(path, full_allocation(), summary=summary_dict())
    assert report.ok, report.describe()
    assert report.summary_checked
    assert report.objective_yuan == pytest.approx(OBJECTIVE, rel=1e-12)
    assert report.parts["gep_material_yuan"] == pytest.approx(10_000_000)
    assert report.parts["gep_regulating_yuan"] == pytest.approx(2_550_000)
    assert report.parts["gep_cultural_yuan"] == pytest.approx(400_000)
    assert report.parts["farmer_income_yuan"] == pytest.approx(4_820_000)
    assert report.parts["market_revenue_loss_yuan"] == pytest.approx(130_000)
    assert report.market_revenue_loss_yuan == {"fruit": pytest.approx(130_000)}
    pt = report.per_township.set_index("township_id")
    for tid, figures in EXPECTED.items():
        for col, value in figures.items():
            assert pt.at[tid, col] == pytest.approx(value), (tid, col)
    assert pt.at["t3", "locked"] == "must"
    json.dumps(report.to_dict())  # JSON-ready


def test_count_both_adds_material_gep(tmp_path: Path) -> None:
    inst = base_instance()
    inst["objective"]["double_count"] = "count_both"
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    # δ = 1 adds G_mat = 10,000,000: 12,460,000 + 10,000,000
    assert report.objective_yuan == pytest.approx(22_460_000)


def test_plan_with_only_ids_and_industries_is_enough(tmp_path: Path) -> None:
    report = check_plan(write_instance(tmp_path), plan_frame(PLAN))
    assert report.ok, report.describe()
    assert any("not compared" in n for n in report.notes)


def test_to_dict_lists_violated_and_binding_township_rows_only(tmp_path: Path) -> None:
    towns = base_townships()
    towns[0]["water_available_m3"] = 150_000  # t1 apple uses 200,000: violated
    towns[2]["water_available_m3"] = 5000  # t3 pv uses 50 × 100 = 5,000: binding
    report = check_plan(write_instance(tmp_path, townships=towns), plan_frame(PLAN))
    d = report.to_dict()
    json.dumps(d)
    rows = {(c["name"], c["index"]): c for c in d["constraints"]}
    # the per-township violation is listed as a row and as a violation, and its figures kept
    assert rows[("water_use_per_township_max", "t1")]["satisfied"] is False
    assert rows[("water_use_per_township_max", "t1")]["lhs"] == 200_000
    assert [(v["name"], v["index"]) for v in d["violations"]] == [
        ("water_use_per_township_max", "t1")
    ]
    assert [r["township_id"] for r in d["per_township"]] == ["t1"]
    # binding rows are listed; slack rows of per-township families are not
    assert rows[("water_use_per_township_max", "t3")]["satisfied"] is True
    assert ("water_use_per_township_max", "t2") not in rows  # 0 of 100,000 m³
    assert ("industry_locked_in", "t3") in rows  # an equality that holds is binding
    assert not any(name == "one_industry_per_township" for name, _ in rows)
    assert ("farmer_income_per_township_min", "t1") not in rows  # far above the floor
    # every coupling row is listed, however slack
    for key in [
        ("water_use_per_county_max", "C1"),
        ("water_use_per_basin_max", "B2"),
        ("market_output_max", "fruit"),
        ("pv_capacity_per_county_max", "C2"),
        ("investment_budget_max", None),
        ("conservation_area_min", None),
    ]:
        assert key in rows, key
    # all rows are counted, and stay on the report object
    assert d["constraints_checked"] == len(report.constraints) == 16
    assert d["constraints_checked_by_family"]["one_industry_per_township"] == 3
    assert d["townships_checked"] == 3
    assert len(report.per_township) == 3


def test_to_dict_does_not_grow_with_townships(tmp_path: Path) -> None:
    """3 × 200 townships: the check.json constraint list holds only the coupling rows."""
    towns = []
    plan = {}
    for k in range(200):
        for t in TOWNSHIPS:
            towns.append({**t, "township_id": f"{t['township_id']}_{k}"})
            plan[f"{t['township_id']}_{k}"] = PLAN[t["township_id"]]
    inst = base_instance()
    inst["constraints"] = {"water": {"county_max_m3": {"C1": 1e12}}, "investment_budget_yuan": 1e12}
    report = check_plan(write_instance(tmp_path, inst, towns), plan_frame(plan))
    assert report.ok, report.describe()
    d = report.to_dict()
    assert d["constraints_checked"] == len(report.constraints) == 600 + 600 + 2
    assert [c["name"] for c in d["constraints"]] == [
        "water_use_per_county_max",
        "investment_budget_max",
    ]
    assert d["per_township"] == [] and d["townships_checked"] == 600


def test_check_run_reads_bom_csv_and_summary(tmp_path: Path) -> None:
    path = write_instance(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    full_allocation().to_csv(run / "allocation.csv", index=False, encoding="utf-8-sig")
    (run / "summary.json").write_text(json.dumps(summary_dict()), encoding="utf-8")
    report = check_run(path, run)
    assert report.ok, report.describe()
    assert report.objective_yuan == pytest.approx(OBJECTIVE)


def test_geopackage_township_table_with_layer(tmp_path: Path) -> None:
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame(
        pd.DataFrame(TOWNSHIPS), geometry=[Point(i, i) for i in range(3)], crs="EPSG:4326"
    )
    gdf.to_file(tmp_path / "towns.gpkg", layer="townships", driver="GPKG")
    inst = base_instance()
    inst["townships"] = {"path": "towns.gpkg", "layer": "townships"}
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    assert report.ok, report.describe()
    assert report.objective_yuan == pytest.approx(OBJECTIVE)


# ------------------------------------------------------------------ planted violations


def test_water_per_township(tmp_path: Path) -> None:
    towns = base_townships()
    towns[0]["water_available_m3"] = 150_000  # t1 apple uses 100 × 2,000 = 200,000
    report = check_plan(write_instance(tmp_path, townships=towns), plan_frame(PLAN))
    v = only(report, "water_use_per_township_max")
    assert (v.index, v.amount, v.limit, v.unit) == ("t1", 200_000, 150_000, "m³")
    assert (
        v.message
        == "Anle (安乐镇): water use 200,000 m³ exceeds the township's 150,000 m³ (by 50,000 m³)"
    )
    assert str(v) == "water_use_per_township_max[t1]: " + v.message
    assert not report.ok


def test_water_per_township_off(tmp_path: Path) -> None:
    towns = base_townships()
    towns[0]["water_available_m3"] = 150_000
    inst = base_instance()
    inst["constraints"]["water"]["per_township"] = False
    report = check_plan(write_instance(tmp_path, inst, towns), plan_frame(PLAN))
    assert report.ok, report.describe()


def test_county_and_basin_water(tmp_path: Path) -> None:
    inst = base_instance()
    inst["constraints"]["water"]["county_max_m3"] = {"C1": 150_000}  # C1 uses 200,000 (t1) + 0 (t2)
    inst["constraints"]["water"]["basin_max_m3"] = {"B2": 4000}  # B2 uses 50 × 100 = 5,000 (t3)
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    v = only(report, "water_use_per_county_max")
    assert (v.index, v.amount, v.limit) == ("C1", 200_000, 150_000)
    b = only(report, "water_use_per_basin_max")
    assert (b.index, b.amount, b.limit) == ("B2", 5000, 4000)
    assert len(report.violations) == 2


def test_market_cap(tmp_path: Path) -> None:
    inst = base_instance()
    inst["constraints"]["markets"]["fruit"]["max_output"] = 2000  # apple output 2,500 t
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    v = only(report, "market_output_max")
    assert (v.index, v.amount, v.limit, v.unit) == ("fruit", 2500, 2000, "t")
    assert "2,500 t exceeds" in v.message


def test_grid_per_county(tmp_path: Path) -> None:
    inst = base_instance()
    inst["constraints"]["grid_county_max_mw"] = {"C2": 20}  # t3: 50 ha × 0.5 = 25 MWp
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    v = only(report, "pv_capacity_per_county_max")
    assert (v.index, v.amount, v.limit, v.unit) == ("C2", 25, 20, "MWp")


def test_investment_budget(tmp_path: Path) -> None:
    inst = base_instance()
    inst["constraints"]["investment_budget_yuan"] = 100_000_000  # plan: 10M + 1M + 100M = 111M
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    v = only(report, "investment_budget_max")
    assert (v.index, v.amount, v.limit) == (None, 111_000_000, 100_000_000)
    assert "111,000,000 yuan exceeds the budget of 100,000,000 yuan" in v.message


def test_conservation_share_total_and_per_county(tmp_path: Path) -> None:
    inst = base_instance()
    inst["constraints"]["min_conservation_share"] = (
        0.6  # need 0.6 × 350 = 210 ha; plan has 200 (t2)
    )
    inst["constraints"]["min_conservation_share_per_county"] = 0.2  # C1: 200 ≥ 60 ok; C2: 0 < 10
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    v = only(report, "conservation_area_min")
    assert (v.index, v.amount, v.limit) == (None, 200, pytest.approx(210))
    c = only(report, "conservation_area_per_county_min")
    assert (c.index, c.amount, c.limit) == ("C2", 0, pytest.approx(10))


def test_income_floor(tmp_path: Path) -> None:
    inst = base_instance()
    # t2 conservation earns 300,000; floor = max(1,000 × 200 = 200,000, 0.4 × 800,000 = 320,000) = 320,000.
    # t1: 3,500,000 ≥ max(100,000, 160,000); t3: 1,020,000 ≥ max(50,000, 80,000).
    inst["constraints"]["income_floor"] = {"min_yuan_per_ha": 1000, "min_share_of_baseline": 0.4}
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    v = only(report, "farmer_income_per_township_min")
    assert (v.index, v.amount, v.limit) == ("t2", 300_000, pytest.approx(320_000))
    assert "40% of baseline income 800,000 yuan" in v.message
    # per-ha floor binding instead: 2,000 × 200 = 400,000 > 0.3 × 800,000
    inst["constraints"]["income_floor"] = {"min_yuan_per_ha": 2000}
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    v = only(report, "farmer_income_per_township_min")
    assert (v.index, v.limit) == ("t2", 400_000)


def test_suitability_gates(tmp_path: Path) -> None:
    path = write_instance(tmp_path)
    # t2 apple: soil 30 < 40 (slope 20 ≤ 25 passes); t1 pv: irradiance 1,300 < 1,350.
    report = check_plan(path, plan_frame({"t1": "pv", "t2": "apple", "t3": "pv"}))
    soil = only(report, "suitability_min_soil_depth_cm")
    assert (soil.index, soil.amount, soil.limit, soil.unit) == ("t2", 30, 40, "cm")
    irr = only(report, "suitability_min_irradiance_kwh_per_m2")
    assert (irr.index, irr.amount, irr.limit) == ("t1", 1300, 1350)
    assert report.violations_named("suitability_max_slope_deg") == []


def test_gate_at_exact_boundary_passes(tmp_path: Path) -> None:
    towns = base_townships()
    towns[1]["soil_depth_cm"] = 40  # exactly the apple gate
    inst = base_instance()
    inst["constraints"]["water"]["per_township"] = False
    inst["constraints"]["water"]["county_max_m3"] = {}
    inst["constraints"]["markets"] = {}
    inst["constraints"]["min_conservation_share"] = None
    inst["constraints"]["investment_budget_yuan"] = None  # two apples: 130,000,000 > 120,000,000
    report = check_plan(
        write_instance(tmp_path, inst, towns),
        plan_frame({"t1": "apple", "t2": "apple", "t3": "pv"}),
    )
    assert report.violations_named("suitability_min_soil_depth_cm") == []
    assert report.ok, report.describe()


def test_locks(tmp_path: Path) -> None:
    path = write_instance(tmp_path)
    # t2 pv is forbidden; t3 must be pv but gets conservation.
    report = check_plan(path, plan_frame({"t1": "apple", "t2": "pv", "t3": "conservation"}))
    f = only(report, "industry_forbidden")
    assert f.index == "t2"
    assert "scenic area" in f.message
    m = only(report, "industry_locked_in")
    assert (m.index, m.amount, m.limit) == ("t3", 0, 1)
    assert "Conservation (conservation)" in m.message


def test_duplicate_missing_unknown(tmp_path: Path) -> None:
    path = write_instance(tmp_path)
    plan = [
        ("t1", "apple"),
        ("t1", "apple"),
        ("t3", "pv"),
        ("t9", "apple"),
    ]  # t1 twice, t2 missing, t9 unknown
    report = check_plan(path, plan_frame(plan))
    rows = {v.index: v for v in report.violations_named("one_industry_per_township")}
    assert set(rows) == {"t1", "t2"}
    assert (rows["t1"].amount, rows["t1"].limit) == (2, 1)
    assert (rows["t2"].amount, rows["t2"].limit) == (0, 1)
    assert "missing" in rows["t2"].message
    assert only(report, "unknown_township").index == "t9"
    # the duplicate counts once in the totals: t1 apple + t3 pv income = 3,500,000 + 1,020,000
    assert report.parts["farmer_income_yuan"] == pytest.approx(4_520_000)


def test_unknown_and_non_candidate_industry(tmp_path: Path) -> None:
    path = write_instance(tmp_path)
    report = check_plan(path, plan_frame({"t1": "kiwi", "t2": "maize", "t3": "pv"}))
    assert only(report, "unknown_industry").index == "t1"
    assert only(report, "industry_not_candidate").index == "t2"


def test_rounding_at_tolerance_is_not_flagged(tmp_path: Path) -> None:
    towns = base_townships()
    towns[0]["water_available_m3"] = 200_000 - 0.05  # 2.5e-7 relative below the 200,000 used
    report = check_plan(write_instance(tmp_path, townships=towns), plan_frame(PLAN))
    assert report.violations_named("water_use_per_township_max") == []
    towns[0]["water_available_m3"] = 200_000 - 5  # 2.5e-5 relative: a real excess
    report = check_plan(write_instance(tmp_path, townships=towns), plan_frame(PLAN))
    assert only(report, "water_use_per_township_max").amount == 200_000


# ------------------------------------------------------------------ written numbers


def test_wrong_written_number_is_a_mismatch(tmp_path: Path) -> None:
    alloc = full_allocation().astype({"water_use_m3": float, "revenue_yuan": float})
    alloc.loc[alloc["township_id"] == "t1", "water_use_m3"] = 210_000  # recomputed 200,000
    alloc.loc[alloc["township_id"] == "t3", "revenue_yuan"] += (
        0.001  # 1e-10 relative: rounding, fine
    )
    report = check_plan(write_instance(tmp_path), alloc)
    assert report.violations == []
    assert len(report.mismatches) == 1
    m = report.mismatches[0]
    assert (m.source, m.key, m.index, m.written, m.recomputed) == (
        "allocation",
        "water_use_m3",
        "t1",
        210_000,
        200_000,
    )
    assert not report.ok
    assert check_plan(write_instance(tmp_path), alloc, compare_written=False).ok


def test_wrong_label_and_lock_flag_are_mismatches(tmp_path: Path) -> None:
    alloc = full_allocation()
    alloc.loc[alloc["township_id"] == "t3", "locked"] = ""
    alloc.loc[alloc["township_id"] == "t2", "county"] = "C2"
    report = check_plan(write_instance(tmp_path), alloc)
    assert {(m.key, m.index) for m in report.mismatches} == {("locked", "t3"), ("county", "t2")}


def test_summary_objective_totals_and_gap(tmp_path: Path) -> None:
    path = write_instance(tmp_path)
    s = summary_dict()
    s["objective_yuan"] = OBJECTIVE + 1000  # recomputed 12,460,000
    s["bound_yuan"] = OBJECTIVE  # below the (claimed) objective: impossible for a maximisation
    s["gap"] = 0.5  # should be 1,000 / 12,461,000
    s["totals"]["water_use_m3"] = 1  # recomputed 205,000
    s["per_county"][0]["farmer_income_yuan"] = 3_000_000  # recomputed 3,800,000
    s["constraints"][0]["lhs"] = 1  # water_use_per_county_max[C1] lhs recomputed 200,000
    report = check_plan(path, full_allocation(), summary=s)
    keys = {(m.key, m.index) for m in report.mismatches}
    assert keys == {
        ("objective_yuan", None),
        ("bound_yuan", None),
        ("gap", None),
        ("totals.water_use_m3", None),
        ("per_county.farmer_income_yuan", "C1"),
        ("constraints.water_use_per_county_max.lhs", "C1"),
    }
    gap = next(m for m in report.mismatches if m.key == "gap")
    assert gap.recomputed == pytest.approx(1000 / (OBJECTIVE + 1000))


def test_summary_by_industry_dicts_and_county_counts(tmp_path: Path) -> None:
    s = summary_dict()
    s["totals"]["output_by_industry"]["pv"] = {"amount": 30_000, "unit": "kWh"}  # pv produces MWh
    s["totals"]["area_ha_by_industry"]["apple"] = 90  # recomputed 100
    s["per_county"][1]["townships_pv"] = 2  # C2 has one pv township
    s["constraints"][1]["rhs"] = 35  # grid limit of C2 is 30 MWp
    report = check_plan(write_instance(tmp_path), full_allocation(), summary=s)
    assert {(m.key, m.index) for m in report.mismatches} == {
        ("totals.output_by_industry.unit", "pv"),
        ("totals.area_ha_by_industry", "apple"),
        ("per_county.townships_pv", "C2"),
        ("constraints.pv_capacity_per_county_max.rhs", "C2"),
    }


def test_summary_without_solution_skips_objective(tmp_path: Path) -> None:
    s = {"has_solution": False, "objective_yuan": None, "status": "infeasible"}
    report = check_plan(write_instance(tmp_path), plan_frame(PLAN), summary=s)
    assert report.ok, report.describe()


# ------------------------------------------------------------------ falling prices


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (1500, 0.0),  # below both steps
        (2000, 0.0),  # exactly at the first step
        (2200, 200 * 200),  # 200 units beyond 2,000 at 200 less: 40,000
        (2400, 200 * 400),  # 80,000
        (
            3000,
            200 * 1000 + 300 * 600,
        ),  # 200,000 + 180,000 = 380,000: beyond 2,400 each unit 500 less
    ],
)
def test_price_step_loss(q: float, expected: float) -> None:
    steps = [(2400, 500), (2000, 200)]  # unsorted on purpose
    assert price_step_loss(q, steps) == pytest.approx(expected)


def test_price_step_in_objective_follows_market_output(tmp_path: Path) -> None:
    inst = base_instance()
    inst["constraints"]["markets"]["fruit"]["price_steps"] = [
        {"above_output": 1000, "price_drop_yuan_per_unit": 100}
    ]
    report = check_plan(write_instance(tmp_path, inst), plan_frame(PLAN))
    # Q = 2,500: L = 100 × 1,500 = 150,000; farmers bear 0.5 → 75,000
    # Z = 2,950,000 + 2 × (4,820,000 − 75,000) = 12,440,000
    assert report.market_revenue_loss_yuan["fruit"] == pytest.approx(150_000)
    assert report.objective_yuan == pytest.approx(12_440_000)


# ------------------------------------------------------------------ formatting


def test_format_amount() -> None:
    assert format_amount(1_900_000, "m³") == "1,900,000 m³"
    assert format_amount(1234.5, "yuan") == "1,234.5 yuan"
    assert format_amount(12.5, "MWp") == "12.5 MWp"
    assert format_amount(0.0000123, "t") == "1.23e-05 t"
    assert format_amount(0, "ha") == "0 ha"


# ------------------------------------------------------------------ independence

#: What the checker must never import: the code it audits (docs/model.md, "independent").
FORBIDDEN = (
    "optimizer.model",
    "optimizer.solve",
    "optimizer.coefficients",  # where the coefficient code lived before instance/
    "optimizer.instance",
    "optimizer.run",
)
#: Reading rules the checker shares with the loader (not model code): one reader per file
#: kind, so a file that validates is read the same way here (tests/test_layout.py says why).
ALLOWED = ("optimizer.instance.tables", "optimizer.instance.yamlfile")
CHECK_DIR = Path(optimizer.check.__file__).parent


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) for every import in `source`, relative ones resolved against `package`,
    `from a import b` also as `a.b`, and `importlib.import_module("…")` / `__import__("…")`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                found.append((node.lineno, str(arg.value)))
    return found


def forbidden_imports(source: str, package: str = "optimizer.check") -> list[tuple[int, str]]:
    return [
        (line, module)
        for line, module in imported_modules(source, package)
        if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)
        and not any(module == a or module.startswith(a + ".") for a in ALLOWED)
    ]


def test_forbidden_import_detector_catches_each_form() -> None:
    sources = [
        "import optimizer.model.build",
        "from optimizer.solve import solve",
        "from optimizer import coefficients",
        "from .. import instance",
        "from ..instance.load import load_instance",
        "import importlib\nimportlib.import_module('optimizer.model')",
    ]
    for source in sources:
        assert forbidden_imports(source), source
    assert not forbidden_imports("from optimizer.check.values import number\nfrom . import water")
    assert not forbidden_imports("import optimizer.errors\nfrom optimizer.modelling import x")
    assert not forbidden_imports("from optimizer.instance.tables import read_table")
    assert forbidden_imports("from optimizer.instance.tables_extra import x")
    assert forbidden_imports("from optimizer.instance.coefficients import pair_table")


def test_checker_imports_nothing_from_the_code_it_checks() -> None:
    files = sorted(CHECK_DIR.glob("*.py"))
    names = {f.name for f in files}
    assert {"__init__.py", "water.py", "assignment.py", "objective.py"} <= names, names
    bad = [
        f"{f.name}:{line} imports {module}"
        for f in files
        for line, module in forbidden_imports(f.read_text(encoding="utf-8"))
    ]
    assert not bad, "the checker must stay independent of the model: " + "; ".join(bad)


def test_checker_public_api() -> None:
    # other packages import exactly these names from optimizer.check
    assert set(optimizer.check.__all__) == {
        "CheckReport", "ConstraintValue", "Mismatch", "Violation", "check_plan", "check_run",
        "format_amount", "price_step_loss",
    }  # fmt: skip
    for name in optimizer.check.__all__:
        assert getattr(optimizer.check, name) is not None
