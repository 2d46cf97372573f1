"""Scoring a planner's own plan (optimizer/analyses/evaluate.py), against hand arithmetic.

Tiny instance (tests/data/tiny, four townships of 100 ha; see tests/test_tiny.py), per
township and year, objective = regulating + cultural GEP + farmers' income (material
GEP excluded, weights 1):

    township  industry      reg. GEP   cult. GEP   material GEP     income   objective
    T1        fruit           50,000           0      1,000,000    400,000     450,000
    T2        pv             240,000           0              0  1,940,000   2,180,000
    T3/T4     conservation   350,000      30,000              0     50,000     430,000
    T4        pv             260,000           0              0  2,060,000   2,320,000
    T2/T4     fruit           50,000           0      1,000,000    400,000     450,000

The optimum is T1 fruit, T2 pv, T3 conservation, T4 pv: 5,380,000 yuan/yr.

Hand plan FEASIBLE = T1 fruit, T2 pv, T3 conservation, T4 conservation:
  water county A 10,000 + 2,000 = 12,000 ≤ 15,000 m³; fruit 1,000 t ≤ 2,500 t; no PV in
  B; conservation 200 ha ≥ 10% × 400 ha. Regulating 50k + 240k + 350k + 350k = 990,000;
  cultural 60,000; material 1,000,000; income 2,440,000; objective 3,490,000.
  Optimum: regulating 900,000; cultural 30,000; material 1,000,000; income 4,450,000.
  Left on the table (optimum − plan): regulating −90,000, cultural −30,000, material 0,
  income +2,010,000, objective +1,890,000 (= −90,000 − 30,000 + 2,010,000); only T4
  differs (conservation 430,000 vs PV 2,320,000: 1,890,000).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import typer
from typer.testing import CliRunner

from optimizer.errors import InputError
from optimizer.analyses.evaluate import PLAN_VIOLATES, evaluate_plan
from optimizer.analyses.plans import read_plan
from optimizer.cli.evaluate import register
from optimizer.instance.load import load_instance
from optimizer.instance.validate import validate
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import TINY

FEASIBLE = {"T1": "fruit", "T2": "pv", "T3": "conservation", "T4": "conservation"}
#: County A water 10,000 + 10,000 = 20,000 > 15,000 m³; fruit 3 × 1,000 = 3,000 > 2,500 t.
WATER_AND_MARKET = {"T1": "fruit", "T2": "fruit", "T3": "conservation", "T4": "fruit"}
#: T1 irradiance 1,000 < 1,100 (PV gate); county B PV 50 + 50 = 100 > 60 MWp; no conservation: 0 < 40 ha.
GATE_GRID_CONSERVATION = {"T1": "pv", "T2": "fruit", "T3": "pv", "T4": "pv"}


def _csv(tmp_path: Path, plan: dict[str, str] | str, name: str = "plan.csv") -> Path:
    path = tmp_path / name
    text = plan if isinstance(plan, str) else "township_id,industry\n" + "".join(f"{k},{v}\n" for k, v in plan.items())
    path.write_text(text, encoding="utf-8")
    return path


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _main() -> None:  # a group, so that `evaluate` is a subcommand as in optimizer.cli
        pass

    register(app)
    return app


def _valid():
    return validate(load_instance(TINY))


# --------------------------------------------------------------------------- a feasible plan


def test_feasible_plan_exits_0_and_writes_the_evaluation(tmp_path, results):
    res = CliRunner().invoke(_cli(), ["evaluate", str(TINY), str(_csv(tmp_path, FEASIBLE)), "--results", str(results)])
    assert res.exit_code == 0, res.output
    assert "meets every limit" in res.output
    assert "T4 Delta (B): plan conservation, optimum pv, 1,890,000 yuan/yr left on the table" in res.output
    (folder,) = (results / "tiny").glob("*-evaluate")
    assert {"evaluation.json", "violations.csv", "comparison.csv", "differing_townships.csv", "evaluate.gpkg",
            "manifest.json", "instance.resolved.yaml"} <= {p.name for p in folder.iterdir()}  # fmt: skip
    ev = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
    assert ev["feasible"] is True and ev["exit_code"] == 0 and ev["violations"] == []
    assert ev["objective_yuan"] == pytest.approx(3_490_000)
    assert ev["checker_objective_yuan"] == pytest.approx(3_490_000)  # the independent route agrees
    # the optimum was solved and its run folder written beside the evaluation
    assert ev["optimum"]["status"] == "optimal"
    assert (results / "tiny" / ev["optimum"]["run_id"] / "allocation.csv").exists()
    layer = pyogrio.read_dataframe(folder / "evaluate.gpkg", layer="plan")
    assert dict(zip(layer["township_id"], layer["differs_from_optimum"])) == {
        "T1": False, "T2": False, "T3": False, "T4": True,
    }  # fmt: skip
    assert {"comparison", "differing_townships", "violations"} <= set(pyogrio.list_layers(folder / "evaluate.gpkg")[:, 0])
    assert not list(results.glob("**/*.partial"))


def test_comparison_left_on_the_table_is_optimum_minus_plan(tmp_path, results):
    ev = evaluate_plan(TINY, _csv(tmp_path, FEASIBLE), results_root=results, write=False)
    c = ev.comparison.set_index("part")
    expect = {  # part: (plan, optimum)
        "gep_regulating_yuan": (990_000, 900_000),
        "gep_cultural_yuan": (60_000, 30_000),
        "gep_material_yuan": (1_000_000, 1_000_000),
        "farmer_income_after_price_steps_yuan": (2_440_000, 4_450_000),
        "objective_yuan": (3_490_000, 5_380_000),
    }
    for part, (plan, opt) in expect.items():
        assert c.loc[part, "plan"] == pytest.approx(plan), part
        assert c.loc[part, "optimum"] == pytest.approx(opt), part
        assert c.loc[part, "left_on_the_table"] == pytest.approx(opt - plan), part
    assert c.loc["objective_yuan", "left_on_the_table"] == pytest.approx(1_890_000)
    # weighted parts add up to the objective's difference (material GEP has weight 0 here)
    parts = c.loc[["gep_regulating_yuan", "gep_cultural_yuan", "gep_material_yuan",
                   "farmer_income_after_price_steps_yuan"], "weighted_left_on_the_table_yuan"]  # fmt: skip
    assert parts.sum() == pytest.approx(1_890_000)
    assert c.loc["gep_material_yuan", "objective_weight"] == 0
    assert c.loc["water_use_m3", "left_on_the_table"] == pytest.approx(14_000 - 12_000)
    assert c.loc["conservation_area_ha", "plan"] == pytest.approx(200)

    d = ev.differing
    assert list(d["township_id"]) == ["T4"]
    assert (d.loc[0, "plan_industry"], d.loc[0, "optimum_industry"]) == ("conservation", "pv")
    assert d.loc[0, "left_on_the_table_yuan"] == pytest.approx(2_320_000 - 430_000)
    assert ev.optimum_objective_yuan == pytest.approx(5_380_000)
    assert ev.optimum_solver_objective_yuan == pytest.approx(5_380_000)


def test_the_optimum_itself_leaves_nothing_and_can_be_reused(results):
    run = solve_instance(TINY, SolveOptions(), results_root=results)
    ev = evaluate_plan(TINY, run.run_dir, results_root=results, optimum_run=run.run_dir)
    assert ev.feasible and ev.exit_code == 0
    assert ev.differing.empty
    assert ev.comparison["left_on_the_table"].abs().max() == pytest.approx(0)
    assert ev.optimum_run_id == run.run_dir.name and ev.optimum_status == "optimal"
    runs = [p for p in (results / "tiny").iterdir() if not p.name.endswith("-evaluate")]
    assert runs == [run.run_dir]  # --optimum RUN: no second solve


# --------------------------------------------------------------------------- violations


def test_planted_violations_exit_7_each_named_with_amount_and_unit(tmp_path, results):
    res = CliRunner().invoke(
        _cli(), ["evaluate", str(TINY), str(_csv(tmp_path, WATER_AND_MARKET)), "--results", str(results)]
    )
    assert res.exit_code == PLAN_VIOLATES == 7, res.output
    assert "breaks 2 limits" in res.output
    assert "County A: water use 20,000 m³ exceeds the county budget of 15,000 m³ (by 5,000 m³)" in res.output
    assert "Market fruit_market: output 3,000 t exceeds the market's cap of 2,500 t (by 500 t)" in res.output
    (folder,) = (results / "tiny").glob("*-evaluate")
    v = pd.read_csv(folder / "violations.csv", encoding="utf-8-sig").set_index("constraint")
    assert v.loc["water_use_per_county_max", ["index", "amount", "limit", "unit", "excess"]].tolist() == [
        "A", 20_000, 15_000, "m³", 5_000
    ]
    assert v.loc["market_output_max", ["amount", "limit", "unit", "excess"]].tolist() == [3_000, 2_500, "t", 500]


def test_gate_grid_and_conservation_violations(tmp_path, results):
    ev = evaluate_plan(TINY, _csv(tmp_path, GATE_GRID_CONSERVATION), results_root=results, write=False)
    assert ev.exit_code == PLAN_VIOLATES
    found = {(v.name, v.index): v for v in ev.violations}
    assert set(found) == {
        ("suitability_min_irradiance_kwh_per_m2", "T1"),
        ("pv_capacity_per_county_max", "B"),
        ("conservation_area_min", None),
    }
    gate = found["suitability_min_irradiance_kwh_per_m2", "T1"]
    assert (gate.amount, gate.limit, gate.unit) == (1_000, 1_100, "kWh/m²")
    grid = found["pv_capacity_per_county_max", "B"]
    assert (grid.amount, grid.limit, grid.unit) == (pytest.approx(100), 60, "MWp")
    assert "PV capacity 100 MWp exceeds the grid connection limit of 60 MWp" in grid.message
    cons = found["conservation_area_min", None]
    assert (cons.amount, cons.limit, cons.unit) == (0, pytest.approx(40), "ha")
    # the township's violation is carried to the differing-townships table
    t1 = ev.differing.set_index("township_id").loc["T1"]
    assert "irradiance" in t1["plan_violations"]


def test_township_water_limit_of_a_what_if_is_checked(tmp_path, results):
    """`--set` lowers Beta's water: the checker must judge the plan by the resolved instance."""
    # T2 fruit uses 100 ha × 100 m³ = 10,000 m³ of its 50,000 (county A: 10,000 ≤ 15,000)
    plan = _csv(tmp_path, {"T1": "conservation", "T2": "fruit", "T3": "conservation", "T4": "pv"})
    assert evaluate_plan(TINY, plan, results_root=results, write=False).feasible
    ev = evaluate_plan(TINY, plan, results_root=results, sets=["townships.water_available_m3.T2=5000"], write=False)
    (v,) = [v for v in ev.violations if v.name == "water_use_per_township_max"]
    assert v.index == "T2" and (v.amount, v.limit, v.unit) == (10_000, 5_000, "m³")
    assert v.message == "Beta (T2): water use 10,000 m³ exceeds the township's 5,000 m³ (by 5,000 m³)"


# --------------------------------------------------------------------------- plan-file errors


def _problems(path: Path) -> list:
    with pytest.raises(InputError) as exc:
        read_plan(path, _valid())
    return exc.value.problems


def test_unknown_township_and_industry_located_with_did_you_mean(tmp_path):
    path = _csv(tmp_path, "township_id,industry\nT1,fruit\nT2,fruitt\nT33,conservation\nT4,pv\n")
    by_place = {(p.location.row, p.location.table_column): p for p in _problems(path)}
    ind = by_place[2, "industry"]
    assert ind.location.file == path and ind.message == "unknown industry 'fruitt'"
    assert ind.suggestion == "did you mean 'fruit'?"
    town = by_place[3, "township_id"]
    assert town.message == "unknown township 'T33'" and town.suggestion == "did you mean 'T3'?"
    missing = by_place[None, "township_id"]  # T3 has no valid row
    assert missing.message == "1 township has no row: T3 (Gamma)"


def test_unknown_id_suggests_a_township_that_has_no_row(tmp_path):
    problems = _problems(_csv(tmp_path, "township_id,industry\nT2,pv\nT3,conservation\nT4,pv\nT,fruit\n"))
    unknown = next(p for p in problems if p.location.row == 4)
    assert unknown.suggestion == "did you mean 'T1'?"  # T1 has no row; T2–T4 are listed


def test_missing_townships_are_listed(tmp_path):
    (p,) = _problems(_csv(tmp_path, "township_id,industry\nT1,fruit\nT4,pv\n"))
    assert p.location.row is None and p.location.table_column == "township_id"
    assert p.message == "2 townships have no row: T2 (Beta), T3 (Gamma)"


def test_duplicate_township_names_its_first_row(tmp_path):
    path = _csv(tmp_path, "township_id,industry\nT1,fruit\nT2,pv\nT3,conservation\nT2,fruit\nT4,pv\n")
    (p,) = _problems(path)
    assert (p.location.row, p.location.table_column) == (4, "township_id")
    assert p.message == "township 'T2' (Beta) is listed twice (first at row 2)"


def test_names_labels_and_columns_get_hints(tmp_path):
    path = _csv(tmp_path, "township_id,industry\nT1,fruit\nBeta,pv\nT3,Conservation\nT4,Agro-PV\n")
    hints = {(p.location.row, p.location.table_column): p.suggestion for p in _problems(path)}
    assert hints[2, "township_id"] == "'Beta' is the name of township T2; use its id"
    assert hints[3, "industry"] == "'Conservation' is the label of industry 'conservation'; use its id"
    assert hints[4, "industry"] == "'Agro-PV' is the label of industry 'pv'; use its id"
    (col,) = _problems(_csv(tmp_path, "township,industry\nT1,fruit\n", "cols.csv"))
    assert col.location.table_column == "township_id" and col.suggestion == "did you mean 'township'?"
    (gone,) = _problems(tmp_path / "nowhere.csv")
    assert gone.message == "file not found"


def test_blank_lines_keep_row_numbers_and_float_ids_are_accepted(tmp_path):
    path = _csv(tmp_path, "township_id,industry,note\nT1,fruit,x\n\nT2,pv,\nT3,conservaton,\nT4,pv,\n")
    (p,) = _problems(path)
    assert p.location.row == 4  # the blank line is row 2
    # columns in any order; an id a spreadsheet wrote as a number ("T4.0" here) is accepted
    ok = read_plan(_csv(tmp_path, "industry,township_id\nfruit,T1\npv,T2\nconservation,T3\npv,T4.0\n", "ok.csv"), _valid())
    assert ok.to_dict() == {"T1": "fruit", "T2": "pv", "T3": "conservation", "T4": "pv"}


def test_cli_plan_file_errors_exit_2_with_locations(tmp_path, results):
    path = _csv(tmp_path, "township_id,industry\nT1,fruit\nT2,pvv\nT2,pv\nT33,conservation\n")
    res = CliRunner().invoke(_cli(), ["evaluate", str(TINY), str(path), "--results", str(results)])
    assert res.exit_code == 2, res.output
    assert "The plan file has 4 problems" in res.output
    assert f"{path}:row 2:column industry" in res.output and "did you mean 'pv'?" in res.output
    assert "listed twice (first at row 2)" in res.output
    assert "did you mean 'T3'?" in res.output and "2 townships have no row: T3 (Gamma), T4 (Delta)" in res.output
    assert not results.exists()  # nothing solved, nothing written
