"""GEP accounting (optimizer/analyses/gep.py), checked against arithmetic done by hand.

The tiny instance (tests/data/tiny): four townships of 100 ha, counties A (T1, T2) and
B (T3, T4), all in city X, baseline maize everywhere.

Services per ha (docs/model.md: quantity per ha, or per output unit × yield):
  maize         soil_retention  10 t              × 10 yuan/t      =    100 yuan (regulating)
  fruit         fruit_sold       1 t/t × 10 t      × 1,000 yuan/t   = 10,000 yuan (material)
                soil_retention  50 t              × 10 yuan/t      =    500 yuan (regulating)
  pv            avoided_co2    0.5 t/MWh × 0.4·irradiance MWh × 10 yuan/t (regulating):
                T2 (1,200 kWh/m²): 480 MWh → 240 t → 2,400 yuan; T4 (1,300): 520 MWh → 260 t → 2,600
  conservation  soil_retention 150 t × 10 = 1,500; water_conservation 1,000 m³ × 2 = 2,000
                (regulating); recreation 1 ha × 300 = 300 (cultural)

Baseline, per township: 1,000 t of soil × 10 = 10,000 yuan; county A 20,000, B 20,000,
city X 40,000. Baseline income: (5 t × 2,000 − 6,000) × 1.0 = 4,000/ha → 400,000 each.

The optimum (tests/test_tiny.py): T1 fruit, T2 pv, T3 conservation, T4 pv.
  T1: fruit_sold 1,000 t → 1,000,000; soil 5,000 t → 50,000           total 1,050,000
  T2: avoided_co2 24,000 t → 240,000                                  total   240,000
  T3: soil 15,000 t → 150,000; water 100,000 m³ → 200,000; recreation 100 ha → 30,000
                                                                      total   380,000
  T4: avoided_co2 26,000 t → 260,000                                  total   260,000
  County A: material 1,000,000, regulating 290,000, total 1,290,000 (change +1,270,000)
  County B: regulating 610,000, cultural 30,000, total 640,000 (change +620,000)
  City X: 1,930,000 (change +1,890,000)
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

from optimizer.errors import InputError
from optimizer.analyses.gep import gep_accounts, price_set_problems, write_gep
from optimizer.cli.gep import register
from optimizer.instance.load import load_instance
from optimizer.instance.validate import validate
from optimizer.outputs.tables import allocation_table
from tests.conftest import FUCHUAN, TINY

OPTIMUM = {"T1": "fruit", "T2": "pv", "T3": "conservation", "T4": "pv"}

PRICE_SETS = """
gep_price_sets:
  local:          # a local price of soil retained
    soil_retention: 20
  national:       # a national carbon price and a national visitor-day value
    avoided_co2: 50
    recreation: 100
"""


def _valid(path: Path = TINY, sets: tuple[str, ...] = ()):
    return validate(load_instance(path, sets=sets))


def _plan(d: dict[str, str]) -> pd.Series:
    return pd.Series(d, name="industry")


@pytest.fixture
def tiny_with_sets(tmp_path: Path) -> Path:
    for f in TINY.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    y = tmp_path / TINY.name
    y.write_text(y.read_text(encoding="utf-8") + PRICE_SETS, encoding="utf-8")
    return y


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _main() -> None:  # a group, so that `gep` is a subcommand as in optimizer.cli
        pass

    register(app)
    return app


# --------------------------------------------------------------------------- baseline


def test_baseline_by_service_category_county_city():
    acc = gep_accounts(_valid())
    s = acc.by_service
    assert list(s["township_id"]) == ["T1", "T2", "T3", "T4"]
    assert set(s["service"]) == {"soil_retention"}
    assert list(s["quantity"]) == pytest.approx([1_000] * 4)  # 10 t/ha × 100 ha
    assert list(s["value_yuan"]) == pytest.approx([10_000] * 4)
    assert set(s["unit"]) == {"t"} and set(s["category"]) == {"regulating"}

    t = acc.by_township.set_index("township_id")
    assert list(t["industry"]) == ["maize"] * 4
    assert t["gep_regulating_yuan"].tolist() == pytest.approx([10_000] * 4)
    assert t["gep_material_yuan"].sum() == 0 and t["gep_cultural_yuan"].sum() == 0
    assert t["change_gep_total_yuan"].abs().sum() == 0  # the baseline against itself
    assert t["farmer_income_yuan"].tolist() == pytest.approx([400_000] * 4)

    c = acc.by_county.set_index("county")
    assert c.loc["A", "gep_total_yuan"] == pytest.approx(20_000)
    assert c.loc["B", "gep_total_yuan"] == pytest.approx(20_000)
    assert c.loc["A", "townships"] == 2
    assert acc.by_city.set_index("city").loc["X", "gep_total_yuan"] == pytest.approx(40_000)
    assert acc.totals["gep_total_yuan"] == pytest.approx(40_000)


def test_baseline_agrees_with_the_model_baseline():
    valid = _valid()
    acc = gep_accounts(valid)
    t = acc.by_township.set_index("township_id")
    assert t["baseline_gep_total_yuan"].tolist() == pytest.approx(valid.baseline["baseline_gep_total_yuan"].tolist())
    assert t["baseline_farmer_income_yuan"].tolist() == pytest.approx(
        valid.baseline["baseline_farmer_income_yuan"].tolist()
    )


# --------------------------------------------------------------------------- a plan


def test_plan_by_service_hand_computed():
    acc = gep_accounts(_valid(), _plan(OPTIMUM))
    s = acc.by_service.set_index(["township_id", "service"])
    expect = {
        ("T1", "fruit_sold"): ("material", 1_000, "t", 1_000, 1_000_000),
        ("T1", "soil_retention"): ("regulating", 5_000, "t", 10, 50_000),
        ("T2", "avoided_co2"): ("regulating", 24_000, "t CO2", 10, 240_000),
        ("T3", "soil_retention"): ("regulating", 15_000, "t", 10, 150_000),
        ("T3", "water_conservation"): ("regulating", 100_000, "m3", 2, 200_000),
        ("T3", "recreation"): ("cultural", 100, "ha", 300, 30_000),
        ("T4", "avoided_co2"): ("regulating", 26_000, "t CO2", 10, 260_000),
    }
    assert set(s.index) == set(expect)
    for key, (cat, qty, unit, price, value) in expect.items():
        row = s.loc[key]
        assert (row["category"], row["unit"]) == (cat, unit)
        assert row["quantity"] == pytest.approx(qty)
        assert row["unit_price_yuan"] == pytest.approx(price)
        assert row["value_yuan"] == pytest.approx(value)
    # services keep the industry's order within a township, townships the table's order
    assert list(acc.by_service["service"][:2]) == ["fruit_sold", "soil_retention"]


def test_plan_by_category_county_and_change_against_baseline():
    acc = gep_accounts(_valid(), _plan(OPTIMUM))
    t = acc.by_township.set_index("township_id")
    assert t["gep_total_yuan"].tolist() == pytest.approx([1_050_000, 240_000, 380_000, 260_000])
    assert t["change_gep_total_yuan"].tolist() == pytest.approx([1_040_000, 230_000, 370_000, 250_000])
    assert t.loc["T3", "gep_cultural_yuan"] == pytest.approx(30_000)
    # GEP–income pair: income per township beside GEP (test_tiny: 400k, 1.94M, 50k, 2.06M)
    assert t["farmer_income_yuan"].tolist() == pytest.approx([400_000, 1_940_000, 50_000, 2_060_000])
    assert t["change_farmer_income_yuan"].tolist() == pytest.approx([0, 1_540_000, -350_000, 1_660_000])
    assert t.loc["T2", "gep_total_yuan_per_ha"] == pytest.approx(2_400)
    assert t.loc["T2", "farmer_income_yuan_per_ha"] == pytest.approx(19_400)

    c = acc.by_county.set_index("county")
    assert c.loc["A", "gep_material_yuan"] == pytest.approx(1_000_000)
    assert c.loc["A", "gep_regulating_yuan"] == pytest.approx(290_000)
    assert c.loc["A", "gep_total_yuan"] == pytest.approx(1_290_000)
    assert c.loc["A", "change_gep_total_yuan"] == pytest.approx(1_270_000)
    assert c.loc["B", "gep_regulating_yuan"] == pytest.approx(610_000)
    assert c.loc["B", "gep_cultural_yuan"] == pytest.approx(30_000)
    assert c.loc["B", "change_gep_total_yuan"] == pytest.approx(620_000)
    x = acc.by_city.set_index("city").loc["X"]
    assert x["gep_total_yuan"] == pytest.approx(1_930_000)
    assert x["change_gep_total_yuan"] == pytest.approx(1_890_000)

    totals = acc.by_service_total.set_index("service")
    assert totals.loc["soil_retention", "quantity"] == pytest.approx(20_000)  # T1 5,000 + T3 15,000
    assert totals.loc["soil_retention", "baseline_quantity"] == pytest.approx(4_000)
    assert totals.loc["soil_retention", "change_value_yuan"] == pytest.approx(200_000 - 40_000)


@pytest.mark.parametrize("instance", [TINY, FUCHUAN], ids=["tiny", "fuchuan"])
def test_instance_convention_reproduces_allocation_csv(instance):
    """Under the instance's own prices the account equals the model's GEP (site overrides included)."""
    valid = _valid(instance)
    allowed = valid.pairs[valid.pairs["allowed"]].reset_index()
    plan = allowed.groupby("township_id")["industry"].last()  # any plan, e.g. the last allowed industry
    acc = gep_accounts(valid, plan)
    alloc = allocation_table(valid, plan).set_index("township_id")
    t = acc.by_township.set_index("township_id")
    for col in ("gep_material_yuan", "gep_regulating_yuan", "gep_cultural_yuan", "gep_total_yuan",
                "farmer_income_yuan", "baseline_gep_total_yuan", "change_gep_total_yuan"):  # fmt: skip
        assert t[col].to_numpy() == pytest.approx(alloc.loc[t.index, col].to_numpy(), rel=1e-12), col


# --------------------------------------------------------------------------- conventions


def test_convention_changes_only_the_named_services(tiny_with_sets):
    valid = _valid(tiny_with_sets)
    base = gep_accounts(valid, _plan(OPTIMUM)).by_service.set_index(["township_id", "service"])

    local = gep_accounts(valid, _plan(OPTIMUM), "local")
    s = local.by_service.set_index(["township_id", "service"])
    # soil retention at 20 yuan/t: T1 5,000 t → 100,000; T3 15,000 t → 300,000
    assert s.loc[("T1", "soil_retention"), "value_yuan"] == pytest.approx(100_000)
    assert s.loc[("T3", "soil_retention"), "value_yuan"] == pytest.approx(300_000)
    assert s.loc[("T3", "soil_retention"), "instance_unit_price_yuan"] == pytest.approx(10)
    for key in [("T1", "fruit_sold"), ("T2", "avoided_co2"), ("T3", "water_conservation"), ("T3", "recreation")]:
        assert s.loc[key, "value_yuan"] == pytest.approx(base.loc[key, "value_yuan"])
    assert s["quantity"].to_numpy() == pytest.approx(base["quantity"].to_numpy())  # prices, not quantities
    # the baseline is revalued too: 1,000 t × 20 = 20,000 per township
    t = local.by_township.set_index("township_id")
    assert t["baseline_gep_total_yuan"].tolist() == pytest.approx([20_000] * 4)
    assert t.loc["T3", "gep_total_yuan"] == pytest.approx(300_000 + 200_000 + 30_000)
    assert local.convention == "local" and local.price_changes == {"soil_retention": 20}

    national = gep_accounts(valid, _plan(OPTIMUM), "national")
    n = national.by_service.set_index(["township_id", "service"])
    assert n.loc[("T2", "avoided_co2"), "value_yuan"] == pytest.approx(24_000 * 50)
    assert n.loc[("T4", "avoided_co2"), "value_yuan"] == pytest.approx(26_000 * 50)
    assert n.loc[("T3", "recreation"), "value_yuan"] == pytest.approx(100 * 100)
    assert n.loc[("T1", "soil_retention"), "value_yuan"] == pytest.approx(50_000)  # unchanged
    prices = national.prices.set_index(["industry", "service"])
    assert prices.loc[("pv", "avoided_co2"), "price_from"] == "price set"
    assert prices.loc[("fruit", "soil_retention"), "price_from"] == "instance"


def test_unknown_convention_is_located_with_did_you_mean(tiny_with_sets):
    with pytest.raises(InputError) as exc:
        gep_accounts(_valid(tiny_with_sets), None, "locl")
    (p,) = exc.value.problems
    assert str(p.location) == "command line" and p.path == "--convention"
    assert "not a GEP price set" in p.message and p.suggestion == "did you mean 'local'?"
    with pytest.raises(InputError) as exc:
        gep_accounts(_valid(), None, "local")  # tiny.yaml has no price sets at all
    assert "defines no GEP price sets" in exc.value.problems[0].message


def test_price_set_naming_an_unknown_service_is_an_error(tmp_path, tiny_with_sets):
    text = tiny_with_sets.read_text(encoding="utf-8").replace("    soil_retention: 20", "    soil_retenton: 20")
    tiny_with_sets.write_text(text, encoding="utf-8")
    valid = _valid(tiny_with_sets)
    with pytest.raises(InputError) as exc:
        gep_accounts(valid, None, "local")
    (p,) = exc.value.problems
    line = next(i for i, s in enumerate(text.splitlines(), start=1) if "soil_retenton" in s)
    assert p.location.file == tiny_with_sets and p.location.line == line
    assert "no industry has" in p.message and p.suggestion == "did you mean 'soil_retention'?"
    gep_accounts(valid, None, "national")  # the other set is fine and still usable
    assert len(price_set_problems(valid.loaded)) == 1


def test_convention_added_with_set_is_located_on_the_command_line():
    valid = _valid(TINY, sets=("gep_price_sets.local.soil_retention=20",))
    acc = gep_accounts(valid, None, "local")
    assert acc.totals["gep_total_yuan"] == pytest.approx(80_000)
    bad = _valid(TINY, sets=("gep_price_sets.local.soil=20",))
    with pytest.raises(InputError) as exc:
        gep_accounts(bad, None, "local")
    assert str(exc.value.problems[0].location) == "command line"


# --------------------------------------------------------------------------- files


def test_write_gep_tables_layers_and_manifest(results, tiny_with_sets):
    valid = _valid(tiny_with_sets)
    acc = gep_accounts(valid, _plan(OPTIMUM), "local", plan_source="hand plan")
    out = write_gep(acc, valid, results)
    assert out.name.endswith("-gep") and out.parent == results / "tiny"
    assert not list(results.glob("**/*.partial"))
    names = {p.name for p in out.iterdir()}
    assert {"gep_by_service.csv", "gep_by_township.csv", "gep_by_county.csv", "gep_by_city.csv",
            "gep_prices.csv", "gep.gpkg", "manifest.json"} <= names  # fmt: skip
    county = pd.read_csv(out / "gep_by_county.csv", encoding="utf-8-sig").set_index("county")
    assert county.loc["A", "gep_regulating_yuan"] == pytest.approx(100_000 + 240_000)
    layers = dict(pyogrio.list_layers(out / "gep.gpkg"))
    assert set(layers) == {"gep_by_township", "gep_by_service", "gep_by_county", "gep_by_city", "gep_prices",
                           "layer_styles"}
    assert layers["gep_by_township"] is None  # tiny's table is a CSV: no geometry
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["convention"] == "local" and manifest["price_set"] == {"soil_retention": 20}
    assert manifest["plan"] == "hand plan"
    assert set(manifest["outputs"]) == names - {"manifest.json"}
    assert any(k.endswith("tiny.yaml") for k in manifest["inputs"])


def test_fuchuan_layer_has_township_polygons(results):
    valid = _valid(FUCHUAN)
    out = write_gep(gep_accounts(valid), valid, results)
    layers = dict(pyogrio.list_layers(out / "gep.gpkg"))
    assert layers["gep_by_township"] in ("Polygon", "MultiPolygon")
    info = pyogrio.read_info(out / "gep.gpkg", layer="gep_by_township")
    assert info["features"] == len(valid.townships) and info["crs"]


# --------------------------------------------------------------------------- command


def test_cli_gep_of_a_run_folder_and_a_csv(tmp_path, results, tiny_with_sets):
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    run = solve_instance(tiny_with_sets, SolveOptions(), results_root=results)
    runner = CliRunner()
    res = runner.invoke(_cli(), ["gep", str(tiny_with_sets), "--plan", str(run.run_dir), "--results", str(results)])
    assert res.exit_code == 0, res.output
    assert "1,930,000" in res.output and "1,890,000" in res.output  # plan GEP and its change

    csv = tmp_path / "plan.csv"
    csv.write_text("township_id,industry\n" + "".join(f"{k},{v}\n" for k, v in OPTIMUM.items()), encoding="utf-8")
    res = runner.invoke(
        _cli(), ["gep", str(tiny_with_sets), "--plan", str(csv), "-c", "local", "--results", str(results)]
    )
    assert res.exit_code == 0, res.output
    assert "soil_retention: 10 → 20 yuan/t" in res.output
    assert len(list((results / "tiny").glob("*-gep"))) == 2


def test_cli_gep_bad_convention_and_bad_plan_exit_2(tmp_path, results, tiny_with_sets):
    runner = CliRunner()
    res = runner.invoke(_cli(), ["gep", str(tiny_with_sets), "-c", "nationl", "--results", str(results)])
    assert res.exit_code == 2
    assert "did you mean 'national'?" in res.output
    bad = tmp_path / "plan.csv"
    bad.write_text("township_id,industry\nT1,fruit\nT2,pv\nT3,conservation\nT4,pvv\n", encoding="utf-8")
    res = runner.invoke(_cli(), ["gep", str(tiny_with_sets), "--plan", str(bad), "--results", str(results)])
    assert res.exit_code == 2
    assert "row 4:column industry" in res.output and "did you mean 'pv'?" in res.output
    assert not (results / "tiny").exists() or not list((results / "tiny").glob("*-gep"))
