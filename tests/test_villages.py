"""Village instances: validation, outputs, every command, and township instances unchanged.

The brute-force and reduction properties are in tests/test_village_properties.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from optimizer.errors import InputError
from optimizer.run import load_and_validate, solve_instance
from optimizer.solve import SolveOptions

ROOT = Path(__file__).resolve().parents[1]
TINY_VILLAGES = ROOT / "tests" / "data" / "tiny_villages" / "tiny_villages.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden"
TOWNSHIP_INSTANCES = {
    "tiny": ROOT / "tests" / "data" / "tiny" / "tiny.yaml",
    "fuchuan": ROOT / "instances" / "fuchuan" / "fuchuan.yaml",
    "zhaotong": ROOT / "instances" / "zhaotong" / "zhaotong.yaml",
}


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "tv"
    shutil.copytree(TINY_VILLAGES.parent, folder)
    return folder / TINY_VILLAGES.name


def _edit_villages(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    table = path.parent / "villages.csv"
    df = pd.read_csv(table, dtype=str, keep_default_na=False)
    edit(df)
    df.to_csv(table, index=False)


def _edit_yaml(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_and_validate(path)
    return [str(p) for p in exc.value.problems]


# --------------------------------------------------------------------------- township instances unchanged


@pytest.mark.parametrize("name", sorted(TOWNSHIP_INSTANCES))
def test_township_instance_builds_todays_model(name: str, tmp_path: Path) -> None:
    """No village table: the same LP as before village instances existed, byte for byte.

    tests/data/golden/<name>.lp was written by main at 01e25a4, before this feature, and
    rewritten on branch scale for the row and objective scaling per family (issue 11). If
    the township model changes on purpose, rewrite the files with
    `python -c "from tests.test_villages import write_golden; write_golden()"`.
    """
    from optimizer.model import build_model, prepare
    from optimizer.solve import write_model

    m = build_model(prepare(load_and_validate(TOWNSHIP_INSTANCES[name])))
    names = {c.name for c in m.component_objects()}
    assert not names & {"villages", "one_product_per_village", "water_use_per_village_max",
                        "farmer_income_per_village_min", "leading_industry", "leading_industry_per_township",
                        "leading_industry_share_min"}  # fmt: skip
    write_model(m, tmp_path / "model.lp")
    assert (tmp_path / "model.lp").read_text() == (GOLDEN / f"{name}.lp").read_text()


def write_golden() -> None:
    """Rewrite the golden LP files from the current township model (a deliberate change)."""
    from optimizer.model import build_model, prepare
    from optimizer.solve import write_model

    for name, path in TOWNSHIP_INSTANCES.items():
        write_model(build_model(prepare(load_and_validate(path))), GOLDEN / f"{name}.lp")


# --------------------------------------------------------------------------- validation


def test_village_table_problems_are_located(tmp_path: Path) -> None:
    path = _copy(tmp_path)

    def edit(df: pd.DataFrame) -> None:
        df.loc[1, "township_id"] = "T9"  # no such township
        df.loc[2, "soil_depth_cm"] = "deep"
        df.loc[3, "rocky_desertification_grade"] = "7"
        df.loc[len(df)] = {**df.loc[4].to_dict(), "township_id": "T4"}  # V31 again, in another township
        df.loc[len(df)] = df.loc[5].to_dict()  # V41 twice in T4

    _edit_villages(path, edit)
    found = "\n".join(_problems(path))
    table = path.parent / "villages.csv"
    assert f"{table}:row 2:column township_id: village V12 (Alpha-west): township 'T9' is not in the township table" in found
    assert f"{table}:row 3:column soil_depth_cm: 'deep' is not a number" in found
    assert f"{table}:row 4:column rocky_desertification_grade: grade 7 is not one of" in found
    assert f"{table}:row 8:column township_id: village 'V31' is in two townships: T3 (row 5) and T4 (this row)" in found
    assert f"{table}:row 9:column village_id: duplicate village id 'V41' (first at row 6)" in found


def test_rules_that_need_villages_are_refused_without_them(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    shutil.copytree(TOWNSHIP_INSTANCES["tiny"].parent, folder)
    path = folder / "tiny.yaml"

    def edit(doc: dict) -> None:
        doc["constraints"]["leading_industry"] = {"min_leading_share": 0.6}
        doc["constraints"]["locks"] = [{"township": "T1", "village": "V11", "industry": "fruit"}]

    _edit_yaml(path, edit)
    found = "\n".join(_problems(path))
    assert "the leading-industry rule needs a village table (villages:)" in found
    assert "a lock on village 'V11' needs a village table (villages:)" in found


def test_rule_and_lock_references_are_checked(tmp_path: Path) -> None:
    path = _copy(tmp_path)

    def edit(doc: dict) -> None:
        doc["constraints"]["leading_industry"]["leading_share_counts"] = ["fruit", "pvv", "maize"]
        doc["constraints"]["locks"] = [{"township": "T1", "village": "V21", "industry": "fruit"},
                                       {"township": "T2", "village": "V99", "industry": "pv"}]

    _edit_yaml(path, edit)
    found = "\n".join(_problems(path))
    assert "unknown industry 'pvv' (did you mean 'pv'?)" in found
    assert "industry 'maize' is not a candidate and cannot lead a township" in found
    assert "village V21 belongs to township T2, not T1" in found
    assert "lock names unknown village 'V99'" in found


def test_areas_that_do_not_add_up_are_a_warning_with_figures(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    _edit_villages(path, lambda df: df.__setitem__("plannable_area_ha", df["plannable_area_ha"].where(
        df["village_id"] != "V12", "30")))
    valid = load_and_validate(path)
    texts = [str(w) for w in valid.warnings]
    towns = path.parent / "townships.csv"
    assert texts == [f"{towns}:row 1:column plannable_area_ha: the 2 villages of township T1 (Alpha) add up to "
                     "90.0 ha of plannable area; the township table says 100.0 ha (-10.0 ha, -10.0%); the plan "
                     "uses the villages' areas"]
    assert float(valid.units["plannable_area_ha"].sum()) == 390.0


def test_validate_command_shows_a_village_warning_once_and_exits_ok(tmp_path: Path) -> None:
    """`optimizer validate` on a village instance with a warning: exit 0, the warning once
    with its cell (it crashed with an UnboundLocalError before; the log repeated it)."""
    from typer.testing import CliRunner

    from optimizer.cli import Exit, app

    path = _copy(tmp_path)
    _edit_villages(path, lambda df: df.__setitem__("plannable_area_ha", df["plannable_area_ha"].where(
        df["village_id"] != "V12", "30")))
    res = CliRunner().invoke(app, ["validate", str(path)])
    text = " ".join(res.output.split())
    assert res.exit_code == Exit.OK, res.output
    assert text.count("add up to 90.0 ha of plannable area") == 1, res.output
    assert "townships.csv:row 1:column plannable_area_ha" in text
    assert "7 villages" in text
    json_res = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert json_res.exit_code == Exit.OK
    assert [w["kind"] for w in json.loads(json_res.stdout)] == ["warning"]


def test_township_without_villages_is_a_warning(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    table = path.parent / "villages.csv"
    df = pd.read_csv(table, dtype=str, keep_default_na=False)
    df[df["township_id"] != "T3"].to_csv(table, index=False)
    valid = load_and_validate(path)
    assert any("township T3 (Gamma) has no villages in the village table: it is left out of the plan" in str(w)
               for w in valid.warnings)  # fmt: skip


def _village_gpkg(tmp_path: Path, shift_m: float = 0.0, swap: bool = False) -> Path:
    """The tiny village instance with square township cells and village halves as polygons."""
    import geopandas as gpd
    import shapely

    path = _copy(tmp_path)
    towns = pd.read_csv(path.parent / "townships.csv", dtype=str)
    cells = {tid: shapely.box(k * 1000.0, 0.0, (k + 1) * 1000.0, 1000.0) for k, tid in enumerate(towns["township_id"])}
    gpd.GeoDataFrame(towns, geometry=[cells[t] for t in towns["township_id"]], crs="EPSG:4544").to_file(
        path.parent / "townships.gpkg", layer="townships")
    villages = pd.read_csv(path.parent / "villages.csv", dtype=str)
    geoms = []
    for tid, g in villages.groupby("township_id", sort=False):
        x0, _, x1, _ = cells[tid].bounds
        n = len(g)
        for j in range(n):
            geoms.append(shapely.box(x0 + (x1 - x0) * j / n, 0.0, x0 + (x1 - x0) * (j + 1) / n, 1000.0))
    order = [i for _, g in villages.groupby("township_id", sort=False) for i in g.index]
    gdf = gpd.GeoDataFrame(villages.loc[order].reset_index(drop=True), geometry=geoms, crs="EPSG:4544")
    if shift_m:
        moved = gdf["village_id"] == "V12"
        gdf.loc[moved, "geometry"] = gdf.loc[moved, "geometry"].translate(shift_m, 0.0)
    if swap:  # V22 drawn inside T3's cell
        gdf.loc[gdf["village_id"] == "V22", "geometry"] = shapely.box(2100.0, 0.0, 2600.0, 1000.0)
    gdf.to_file(path.parent / "villages.gpkg", layer="villages")
    _edit_yaml(path, lambda doc: doc.update(townships="townships.gpkg", villages="villages.gpkg"))
    return path


def test_village_polygon_outside_its_township_is_a_warning(tmp_path: Path) -> None:
    path = _village_gpkg(tmp_path, shift_m=250.0, swap=True)
    valid = load_and_validate(path)
    texts = [str(w) for w in valid.warnings]
    vfile = path.parent / "villages.gpkg"
    assert any(t.startswith(f"{vfile}:row ") and "village V12 (Alpha-west): 50.0% of its polygon lies outside its "
               "township T1 (Alpha)" in t for t in texts), texts  # fmt: skip
    assert any("village V22 (Beta-south): 100.0% of its polygon lies outside its township T2 (Beta); 100% of it "
               "lies in township T3 (Gamma): is its township_id right?" in t for t in texts), texts


def test_infeasible_leading_rule_is_found_by_validation(tmp_path: Path) -> None:
    """Beta's villages may each take only one counted industry, and not the same one: no leader."""
    path = _copy(tmp_path)
    locks = [{"township": "T2", "village": "V21", "industry": "fruit", "forbid": True},
             {"township": "T2", "village": "V21", "industry": "conservation", "forbid": True},
             {"township": "T2", "village": "V22", "industry": "conservation", "forbid": True}]
    _edit_yaml(path, lambda doc: doc["constraints"].update(locks=locks))
    valid = load_and_validate(path)
    texts = [str(p) for p in valid.conflicts]
    assert len(texts) == 1 and texts[0].endswith(
        "constraints.leading_industry.min_leading_share: township T2 (Beta): no industry can lead with 60% of the "
        "counted area; the best is fruit with at most 50.0% (50.0 of 100.0 ha) (lower min_leading_share, exempt an "
        "industry in leading_share_counts, or relax the gates)"), texts
    run = solve_instance(path, SolveOptions(), results_root=tmp_path / "results")
    assert run.summary["status"] == "infeasible"
    assert run.summary["infeasible_families"] == ["leading_industry_share_min"]


# --------------------------------------------------------------------------- outputs and the checker


@pytest.fixture(scope="module")
def village_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("village_run")
    path = _village_gpkg(root)
    run = solve_instance(path, SolveOptions(), results_root=root / "results")
    assert run.summary["status"] == "optimal" and run.check_ok, run.check_messages
    return run.run_dir


def test_village_run_outputs(village_run: Path) -> None:
    import pyogrio

    alloc = pd.read_csv(village_run / "allocation.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(alloc["village_id"]) == ["V11", "V12", "V21", "V22", "V31", "V41", "V42"]
    assert dict(zip(alloc["village_id"], alloc["industry"])) == {
        "V11": "fruit", "V12": "conservation", "V21": "pv", "V22": "conservation", "V31": "conservation",
        "V41": "pv", "V42": "pv"}  # fmt: skip
    assert dict(zip(alloc["village_id"], alloc["leading_industry"])) == {
        "V11": "fruit", "V12": "fruit", "V21": "pv", "V22": "pv", "V31": "", "V41": "pv", "V42": "pv"}
    towns = pd.read_csv(village_run / "township_allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    t1 = towns.set_index("township_id").loc["T1"]
    assert (t1["leading_industry"], t1["leading_share"], t1["share_fruit"], t1["share_conservation"]) == (
        "fruit", 1.0, 0.6, 0.4)
    summary = json.loads((village_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["planning_unit"] == "village"
    assert summary["totals"]["villages_by_industry"] == {"conservation": 3, "pv": 3, "fruit": 1}
    assert summary["totals"]["townships_by_leading_industry"] == {"pv": 2, "fruit": 1, "(none)": 1}
    layers = {name for name, _ in pyogrio.list_layers(village_run / "allocation.gpkg")}
    assert {"allocation", "townships", "county_totals", "run_summary"} <= layers
    info = pyogrio.read_info(village_run / "allocation.gpkg", layer="allocation")
    assert info["features"] == 7 and info["geometry_type"] in ("Polygon", "MultiPolygon")
    import sqlite3

    con = sqlite3.connect(village_run / "allocation.gpkg")
    styles = dict(con.execute("SELECT f_table_name, styleName FROM layer_styles").fetchall())
    con.close()
    assert (styles["allocation"], styles["townships"]) == ("industry", "leading_industry")


def test_checker_catches_a_broken_village_run(village_run: Path, tmp_path: Path) -> None:
    from optimizer.check import check_run

    broken = tmp_path / "broken"
    shutil.copytree(village_run, broken)
    alloc = pd.read_csv(broken / "allocation.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    alloc.loc[alloc["village_id"] == "V22", "industry"] = "fruit"  # T2: pv 50 ha, fruit 50 ha
    alloc.to_csv(broken / "allocation.csv", index=False, encoding="utf-8-sig")
    report = check_run(broken / "instance.resolved.yaml", broken)
    assert not report.ok
    names = {v.name for v in report.violations}
    assert "leading_industry_share_min" in names
    msg = next(v.message for v in report.violations if v.name == "leading_industry_share_min")
    assert msg == ("Beta (T2): its leading industry Agro-PV (pv) covers 50 ha of 100 ha counted village area (50%), "
                   "below the 60% required (short by 10 ha)")
    assert any(m.key == "gep_total_yuan" and m.index == "V22" for m in report.mismatches)


def test_gep_per_village_township_county_city(village_run: Path, tmp_path: Path) -> None:
    from optimizer.analyses.gep import account_instance

    accounts, out = account_instance(village_run / "instance.resolved.yaml", village_run, results_root=tmp_path)
    alloc = pd.read_csv(village_run / "allocation.csv", dtype=str, encoding="utf-8-sig")
    gep = pd.to_numeric(alloc["gep_total_yuan"])
    assert accounts.by_village["gep_total_yuan"].tolist() == pytest.approx(gep.tolist())
    assert accounts.by_township.set_index("township_id")["gep_total_yuan"].to_dict() == pytest.approx(
        gep.groupby(alloc["township_id"]).sum().to_dict())
    assert float(accounts.by_county["gep_total_yuan"].sum()) == pytest.approx(float(gep.sum()))
    assert accounts.by_county[["townships", "villages"]].to_numpy().tolist() == [[2, 4], [2, 3]]
    assert float(accounts.by_city["gep_total_yuan"].sum()) == pytest.approx(float(gep.sum()))
    assert {p.name for p in out.iterdir()} >= {"gep_by_village.csv", "gep_by_township.csv", "gep_by_county.csv",
                                                "gep_by_city.csv", "gep.gpkg"}  # fmt: skip


def test_evaluate_a_village_plan(village_run: Path, tmp_path: Path) -> None:
    from optimizer.analyses.evaluate import evaluate_plan

    plan = tmp_path / "plan.csv"
    plan.write_text("village_id,industry\nV11,fruit\nV12,conservation\nV21,pv\nV22,fruit\nV31,pv\nV41,pv\nV42,pv\n",
                    encoding="utf-8")
    ev = evaluate_plan(village_run / "instance.resolved.yaml", plan, optimum_run=village_run, results_root=tmp_path)
    assert {v.name for v in ev.violations} == {"leading_industry_share_min", "pv_capacity_per_county_max"}
    assert ev.exit_code == 7
    assert set(ev.differing["village_id"]) == {"V22", "V31"}
    towns = pd.read_csv(ev.out_dir / "plan_townships.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    beta = towns.set_index("township_id").loc["T2"]
    assert (beta["leading_industry"], beta["leading_share"]) == ("fruit", 0.5)  # derived: the tie goes to fruit
    counties = pd.read_csv(ev.out_dir / "plan_county_totals.csv", encoding="utf-8-sig")
    assert counties["villages"].tolist() == [4, 3]
    bad = tmp_path / "bad.csv"
    bad.write_text("village_id,industry\nV11,fruit\nV11,pv\nV99,pv\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        evaluate_plan(village_run / "instance.resolved.yaml", bad, optimum_run=village_run, results_root=tmp_path)
    texts = [str(p) for p in exc.value.problems]
    assert any("village 'V11' (Alpha-east) is listed twice (first at row 1)" in t for t in texts)
    assert any("unknown village 'V99'" in t for t in texts)
    assert any("6 villages have no row" in t for t in texts)


def test_compare_and_sweep_on_village_runs(village_run: Path, tmp_path: Path) -> None:
    from optimizer.analyses.compare import compare_runs
    from optimizer.analyses.sweep import SweepSpec, Vary, run_sweep

    other = solve_instance(village_run / "instance.resolved.yaml", SolveOptions(), results_root=tmp_path,
                           sets=["constraints.leading_industry.min_leading_share=0.4"])  # fmt: skip
    comp = compare_runs(village_run, other.run_dir)
    assert comp.changed_townships["village_id"].tolist() == ["V22"]
    row = comp.changed_townships.iloc[0]
    assert (row["industry_a"], row["industry_b"], row["leading_industry_a"], row["leading_industry_b"]) == (
        "conservation", "fruit", "pv", "fruit")
    assert comp.per_county["villages_changed"].tolist() == [1, 0]
    spec = SweepSpec(instance=str(village_run / "instance.resolved.yaml"),
                     varies=[Vary("constraints.leading_industry.min_leading_share", ["0.4", "0.6"])])
    table = run_sweep(spec, tmp_path / "sweep", serial=True)
    assert table["status"].tolist() == ["optimal", "optimal"]
    assert table["villages_fruit"].tolist() == [2, 1]
    assert table["check_ok"].tolist() == [True, True]


# --------------------------------------------------------------------------- the shipped village instance

FUCHUAN_VILLAGES = ROOT / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml"


def test_fuchuan_villages_plan(tmp_path: Path) -> None:
    """The qualitative outcomes docs/regions.md describes (bands, not exact figures)."""
    valid = load_and_validate(FUCHUAN_VILLAGES)
    assert not valid.warnings and not valid.conflicts  # areas add up, polygons inside their townships
    assert valid.villages is not None and len(valid.villages) == 137
    run = solve_instance(FUCHUAN_VILLAGES, SolveOptions(), results_root=tmp_path)
    s = run.summary
    assert s["status"] == "optimal" and run.check_ok, run.check_messages[:5]
    t = s["totals"]
    assert t["townships_by_leading_industry"] == {"citrus": 8, "agro_pv": 4}
    assert 70 <= t["villages_by_industry"]["citrus"] <= 90
    assert 6 <= t["villages_by_industry"]["agro_pv"] <= 16
    assert "pv_capacity_per_county_max[富川瑶族自治县]" in s["nearly_binding_constraints"]
    towns = pd.read_csv(run.run_dir / "township_allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    towns = towns.set_index("name")
    assert (towns["leading_share"] >= 0.6 - 1e-9).all()
    assert set(towns.index[towns["leading_industry"] == "agro_pv"]) == {"葛坡镇", "城北镇", "石家乡", "柳家乡"}
    # Restoration is exempt: the PV townships restore most of their villages (the grid is full).
    assert (towns.loc[["葛坡镇", "柳家乡"], "share_conservation"] > 0.7).all()
    # 朝东 is led by citrus and still puts PV on some of its sunny grade-3 villages.
    assert towns.at["朝东镇", "leading_industry"] == "citrus" and towns.at["朝东镇", "villages_agro_pv"] >= 1
    # A stricter rule costs something and moves those PV villages.
    strict = solve_instance(FUCHUAN_VILLAGES, SolveOptions(), results_root=tmp_path,
                            sets=["constraints.leading_industry.min_leading_share=1"])  # fmt: skip
    assert strict.check_ok and strict.summary["objective_yuan"] < s["objective_yuan"]
    st = pd.read_csv(strict.run_dir / "township_allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    assert st.set_index("name").at["朝东镇", "villages_agro_pv"] == 0
