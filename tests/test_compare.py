"""`optimizer compare`: two tiny runs whose differences are worked out by hand.

Run A: tiny with county B's grid at 50 MWp (the default plan, grid exactly full):
  T1 fruit, T2 pv, T3 conservation, T4 pv — objective 5,380,000 (tests/test_tiny.py).
Run B: grid B at 150 MWp and county A's water at 2,000 m³. T3 can now take PV too
  (+1,750,000), but then the 10% conservation share (40 ha) must come from county A:
  T1 fruit → conservation costs 20,000, T2 pv → conservation 1,750,000, so T1 goes.
  A's water is then T2's 2,000 m³ alone: exactly the limit.
  Plan: T1 conservation, T2 pv, T3 pv, T4 pv — objective 7,110,000.

Per township (100 ha each; tiny.yaml): fruit: material 10,000/ha, regulating 500,
income 4,000, water 100, investment 10,000; conservation: regulating 3,500, cultural
300, income 500; PV on T3 (1,200 kWh/m²): regulating 2,400, income 19,400, water 20,
0.5 MWp/ha, investment 1,500,000/ha. So, B − A:
  T1 fruit → conservation: material −1,000,000, regulating +300,000, cultural +30,000,
     GEP total −670,000, income −350,000, water −10,000, PV 0, investment −1,000,000
  T3 conservation → pv: regulating −110,000, cultural −30,000, GEP total −140,000,
     income +1,890,000, water +2,000, PV +50, investment +150,000,000
Limits: pv_capacity_per_county_max[B] 50/50 binding → 100/150 slack (became slack);
water_use_per_county_max[A] 12,000/15,000 slack → 2,000/2,000 binding (became binding).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import typer
from typer.testing import CliRunner

from optimizer.analyses.compare import compare_runs, constraint_changes, write_comparison
from optimizer.cli.compare import register
from optimizer.errors import InputError
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import FUCHUAN, TINY

SETS_A = ["constraints.grid_county_max_mw.B=50"]
SETS_B = ["constraints.grid_county_max_mw.B=150", "constraints.water.county_max_m3.A=2000"]

DELTAS = {  # township → (industry_a, industry_b, {figure: B − A})
    "T1": ("fruit", "conservation", {
        "gep_material_yuan": -1_000_000, "gep_regulating_yuan": 300_000, "gep_cultural_yuan": 30_000,
        "gep_total_yuan": -670_000, "farmer_income_yuan": -350_000, "water_use_m3": -10_000,
        "pv_capacity_mw": 0, "investment_yuan": -1_000_000}),
    "T3": ("conservation", "pv", {
        "gep_material_yuan": 0, "gep_regulating_yuan": -110_000, "gep_cultural_yuan": -30_000,
        "gep_total_yuan": -140_000, "farmer_income_yuan": 1_890_000, "water_use_m3": 2_000,
        "pv_capacity_mw": 50, "investment_yuan": 150_000_000}),
}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("compare-runs")
    a = solve_instance(TINY, SolveOptions(), results_root=root, sets=SETS_A)
    b = solve_instance(TINY, SolveOptions(), results_root=root, sets=SETS_B)
    assert a.run_dir is not None and b.run_dir is not None
    assert a.summary["objective_yuan"] == pytest.approx(5_380_000)
    assert b.summary["objective_yuan"] == pytest.approx(7_110_000)
    return a.run_dir, b.run_dir


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype={"township_id": str, "county": str})


def test_changed_townships_and_their_deltas(runs):
    comp = compare_runs(*runs)
    ct = comp.changed_townships.set_index("township_id")
    assert list(ct.index) == ["T1", "T3"]
    assert comp.townships_compared == 4
    assert comp.transitions == {"fruit → conservation": 1, "conservation → pv": 1}
    for tid, (ind_a, ind_b, deltas) in DELTAS.items():
        assert (ct.loc[tid, "industry_a"], ct.loc[tid, "industry_b"]) == (ind_a, ind_b)
        for fig, d in deltas.items():
            assert ct.loc[tid, f"delta_{fig}"] == pytest.approx(d, abs=1e-6), (tid, fig)
    assert ct.loc["T1", "county"] == "A" and ct.loc["T3", "county"] == "B"
    assert comp.warnings == []


def test_per_county_and_totals(runs):
    comp = compare_runs(*runs)
    pc = comp.per_county.set_index("county")
    assert pc.loc["A", "townships_changed"] == 1 and pc.loc["B", "townships_changed"] == 1
    # County A: T1 fruit 1,050,000 + T2 pv 240,000 → T1 conservation 380,000 + T2 240,000.
    assert pc.loc["A", "gep_total_yuan_a"] == pytest.approx(1_290_000)
    assert pc.loc["A", "gep_total_yuan_b"] == pytest.approx(620_000)
    assert pc.loc["A", "delta_gep_total_yuan"] == pytest.approx(-670_000)
    assert pc.loc["B", "delta_pv_capacity_mw"] == pytest.approx(50)
    assert pc.loc["B", "delta_farmer_income_yuan"] == pytest.approx(1_890_000)
    assert (pc.loc["B", "townships_pv_a"], pc.loc["B", "townships_pv_b"]) == (1, 2)
    tot = comp.totals.set_index("figure")
    assert tot.loc["objective_yuan", "change"] == pytest.approx(1_730_000)
    assert tot.loc["objective_yuan", "change_pct"] == pytest.approx(100 * 1_730_000 / 5_380_000)
    assert tot.loc["gep_total_yuan", "change"] == pytest.approx(-810_000)
    assert tot.loc["farmer_income_yuan", "change"] == pytest.approx(1_540_000)
    assert tot.loc["water_use_m3", "a"] == pytest.approx(14_000)
    assert tot.loc["water_use_m3", "change"] == pytest.approx(-8_000)
    assert tot.loc["investment_yuan", "change"] == pytest.approx(149_000_000)
    # Only the industry changed, so every change comes from the switched townships.
    assert tot.loc["gep_total_yuan", "change_in_switched_townships"] == pytest.approx(-810_000)
    assert tot.loc["townships_pv", "change"] == 1 and tot.loc["townships_fruit", "b"] == 0


def test_limits_that_became_binding_or_slack(runs):
    comp = compare_runs(*runs)
    lc = comp.limit_changes.set_index("name")
    assert dict(lc["change"]) == {
        "water_use_per_county_max[A]": "became binding",
        "pv_capacity_per_county_max[B]": "became slack",
    }
    assert lc.loc["pv_capacity_per_county_max[B]", "slack_a"] == pytest.approx(0)
    assert lc.loc["pv_capacity_per_county_max[B]", "slack_b"] == pytest.approx(50)
    assert (lc.loc["water_use_per_county_max[A]", "lhs_a"], lc.loc["water_use_per_county_max[A]", "lhs_b"]) == (
        pytest.approx(12_000), pytest.approx(2_000))
    cc = comp.constraint_changes.set_index("name")
    assert bool(cc.loc["water_use_per_county_max[A]", "rhs_changed"]) is True
    assert bool(cc.loc["conservation_area_min", "rhs_changed"]) is False
    assert not any(cc["family"] == "market_output_beyond_step_def")


def test_new_gone_and_per_township_rows():
    def row(name: str, family: str, binding: bool, used: float = 0.5, sense: str = "<=") -> dict:
        return {"name": name, "family": family, "index": None, "lhs": used * 10, "rhs": 10.0, "sense": sense,
                "slack": 10.0 - used * 10, "unit": "x", "binding": binding, "used_share": used}

    a = [row("water_use_per_county_max[X]", "water_use_per_county_max", False),
         row("water_use_per_township_max[T1]", "water_use_per_township_max", True, 1.0),
         row("market_output_max[m]", "market_output_max", False, 0.97)]
    b = [row("pv_capacity_per_county_max[X]", "pv_capacity_per_county_max", False),
         row("water_use_per_township_max[T2]", "water_use_per_township_max", True, 1.0),
         row("market_output_max[m]", "market_output_max", False, 0.5)]
    df = constraint_changes(a, b).set_index("name")
    assert df.loc["water_use_per_county_max[X]", "change"] == "gone"
    assert df.loc["pv_capacity_per_county_max[X]", "change"] == "new"
    # Per-township rows are listed only when binding: a missing one is slack, not gone.
    assert df.loc["water_use_per_township_max[T1]", "change"] == "became slack"
    assert df.loc["water_use_per_township_max[T2]", "change"] == "became binding"
    assert df.loc["water_use_per_township_max[T2]", "status_a"] == "slack (not listed)"
    assert df.loc["market_output_max[m]", "change"] == "no longer nearly binding"
    assert list(df["change"])[:2] == ["became binding", "became slack"]  # most important first


def test_written_folder(runs, tmp_path):
    comp = compare_runs(*runs)
    folder = write_comparison(comp, tmp_path)
    assert folder.parent == tmp_path / "tiny-compare" and not list(tmp_path.glob("**/*.partial"))
    names = {p.name for p in folder.iterdir()}
    assert names == {"changed_townships.csv", "county_changes.csv", "total_changes.csv", "constraint_changes.csv",
                     "comparison.json", "comparison.gpkg"}
    assert (folder / "changed_townships.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for Excel
    ct = _read(folder / "changed_townships.csv").set_index("township_id")
    assert list(ct.index) == ["T1", "T3"]
    assert ct.loc["T3", "delta_investment_yuan"] == pytest.approx(150_000_000)
    assert ct.loc["T1", "industry_b"] == "conservation"
    cc = _read(folder / "constraint_changes.csv").set_index("name")
    assert cc.loc["water_use_per_county_max[A]", "change"] == "became binding"
    assert cc.loc["pv_capacity_per_county_max[B]", "change"] == "became slack"
    tot = _read(folder / "total_changes.csv").set_index("figure")
    assert tot.loc["pv_capacity_mw", "change"] == pytest.approx(50)
    assert len(_read(folder / "county_changes.csv")) == 2
    layers = dict(pyogrio.list_layers(folder / "comparison.gpkg"))
    assert set(layers) == {"townships", "changed_townships", "county_changes", "total_changes", "layer_styles"}
    assert layers["changed_townships"] is None and layers["townships"] is None  # tiny has no township geometry
    everyone = pyogrio.read_dataframe(folder / "comparison.gpkg", layer="townships").set_index("township_id")
    assert list(everyone.index) == ["T1", "T2", "T3", "T4"]  # every township, for context
    assert everyone.loc["T1", "change"] == f"{everyone.loc['T1', 'industry_a']} → conservation"
    assert list(everyone["changed"]) == [True, False, True, False]
    assert everyone.loc["T2", "change"] == "unchanged"
    gp = pyogrio.read_dataframe(folder / "comparison.gpkg", layer="changed_townships")
    assert sorted(gp["township_id"]) == ["T1", "T3"]
    data = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
    assert data["townships_changed"] == 2 and data["run_b"]["run_id"] == runs[1].name
    assert {r["change"] for r in data["constraint_changes"]} == {"became binding", "became slack"}
    assert set(data["outputs"]) == names - {"comparison.json"}


def test_changed_townships_layer_has_polygons(tmp_path):
    """Fuchuan has township polygons: the changed layer carries them, in the input CRS."""
    a = solve_instance(FUCHUAN, SolveOptions(), results_root=tmp_path)
    b = solve_instance(FUCHUAN, SolveOptions(), results_root=tmp_path, sets=["constraints.min_conservation_share=0.5"])
    comp = compare_runs(a.run_dir, b.run_dir)
    assert len(comp.changed_townships) > 0
    assert "conservation" in set(comp.changed_townships["industry_b"])
    folder = write_comparison(comp, tmp_path / "cmp")
    gdf = pyogrio.read_dataframe(folder / "comparison.gpkg", layer="changed_townships")
    assert len(gdf) == len(comp.changed_townships)
    assert gdf.geometry.notna().all() and gdf.crs is not None
    alloc = pyogrio.read_dataframe(a.run_dir / "allocation.gpkg", layer="allocation").set_index("township_id")
    first = gdf.iloc[0]
    assert first.geometry.equals(alloc.loc[first["township_id"]].geometry)


def test_identical_runs_give_an_empty_layer(runs, tmp_path):
    comp = compare_runs(runs[0], runs[0] / "summary.json")  # a file inside a run folder names the folder
    assert comp.changed_townships.empty and comp.limit_changes.empty
    assert any("same folder" in w for w in comp.warnings)
    folder = write_comparison(comp, tmp_path)
    assert len(pyogrio.read_dataframe(folder / "comparison.gpkg", layer="changed_townships")) == 0


def test_not_a_run_folder(runs, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as exc:
        compare_runs(empty, tmp_path / "nowhere")
    text = str(exc.value)
    assert len(exc.value.problems) == 2  # both reported at once
    assert "run A is not a run folder: it has no allocation.csv or summary.json" in text
    assert "run B: no such file or folder" in text
    # The instance folder holding the runs: point at them.
    with pytest.raises(InputError) as exc:
        compare_runs(runs[0].parent, runs[1])
    assert "it holds 2 run folders" in exc.value.problems[0].suggestion
    partial = tmp_path / "x.partial"
    shutil.copytree(runs[0], partial)
    with pytest.raises(InputError, match="unfinished run folder"):
        compare_runs(partial, runs[1])


def test_different_township_sets(runs, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    csv = other / "allocation.csv"
    csv.write_text(csv.read_text(encoding="utf-8-sig").replace("\nT4,", "\nT9,"), encoding="utf-8-sig")
    with pytest.raises(InputError) as exc:
        compare_runs(runs[0], other)
    msg = str(exc.value)
    assert "the runs plan different townships" in msg
    assert "1 only in A (T4)" in msg and "1 only in B (T9)" in msg


def test_different_instances_warn_but_compare(runs, tmp_path, caplog):
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    s = json.loads((other / "summary.json").read_text(encoding="utf-8"))
    s["instance"] = "tiny_copy"
    (other / "summary.json").write_text(json.dumps(s), encoding="utf-8")
    with caplog.at_level("WARNING", logger="optimizer.analyses.compare"):
        comp = compare_runs(runs[0], other)
    assert any("different instances ('tiny' and 'tiny_copy')" in w for w in comp.warnings)
    assert "different instances" in caplog.text
    assert len(comp.changed_townships) == 2


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, as in the real CLI, so the command is addressed by name
        pass

    register(app)
    return app


def test_cli(runs, tmp_path):
    runner = CliRunner()
    res = runner.invoke(_app(), ["compare", str(runs[0]), str(runs[1]), "--results", str(tmp_path)],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "fruit → conservation" in res.output and "conservation → pv" in res.output
    assert "+1,730,000" in res.output  # objective change
    assert "water_use_per_county_max[A]" in res.output and "became binding" in res.output
    assert "became slack" in res.output
    assert len(list((tmp_path / "tiny-compare").iterdir())) == 1

    res = runner.invoke(_app(), ["compare", str(runs[0]), str(runs[1]), "--results", str(tmp_path / "n"),
                                 "--no-write"])  # fmt: skip
    assert res.exit_code == 0 and not (tmp_path / "n").exists()

    res = runner.invoke(_app(), ["compare", str(tmp_path / "nowhere"), str(runs[1])])
    assert res.exit_code == 2
    assert "no such file or folder" in res.output


def test_cli_fits_80_columns(runs, tmp_path):
    """Piped output is 80 columns: every line fits, and no number is cut or folded."""
    from rich.cells import cell_len

    res = CliRunner().invoke(_app(), ["compare", str(runs[0]), str(runs[1]), "--no-write"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    tables = [line for line in res.output.splitlines() if line[:1] in "┏┃│┡└"]
    assert tables and max(cell_len(line) for line in tables) <= 80, res.output
    assert "+1,730,000" in res.output and "fruit → conservation" in res.output
    assert "+150,000,000" in res.output  # T3's investment, whole
