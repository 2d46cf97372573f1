"""The shipped regions reproduce the papers' qualitative outcomes (docs/regions.md).

Bands, not exact plans: a model change that overturns "apples in Zhaotong, citrus in
Fuchuan, PV where sun and grid allow in Guanling" should fail here and be explained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from optimizer.run import solve_instance
from optimizer.solve import SolveOptions

ROOT = Path(__file__).resolve().parents[1] / "instances"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[dict, pd.DataFrame]]:
    out = {}
    results = tmp_path_factory.mktemp("regions")
    for name in ("fuchuan", "guanling", "zhaotong", "karst3"):
        run = solve_instance(ROOT / name / f"{name}.yaml", SolveOptions(), results_root=results)
        assert run.summary["status"] == "optimal" and run.check_ok, name
        manifest = json.loads((run.run_dir / "manifest.json").read_text(encoding="utf-8"))
        assert len(manifest["sources"]) >= 10 and all(s["source"] for s in manifest["sources"]), name
        alloc = pd.read_csv(run.run_dir / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
        out[name] = (json.loads((run.run_dir / "summary.json").read_text(encoding="utf-8")), alloc)
    return out


def _share(alloc: pd.DataFrame, industry: str) -> float:
    return float((alloc["industry"] == industry).mean())


def _used(summary: dict, name: str) -> float:
    row = next(r for r in summary["constraints"] if r["name"] == name)
    return row["lhs"] / row["rhs"]


def test_every_region_beats_its_maize_baseline(runs):
    for name, (s, _) in runs.items():
        t = s["totals"]
        assert t["farmer_income_after_price_steps_yuan"] > 2 * t["baseline_farmer_income_yuan"], name
        assert t["gep_total_yuan"] > 2 * t["baseline_gep_total_yuan"], name


def test_fuchuan_is_navel_orange_country(runs):
    s, a = runs["fuchuan"]
    assert _share(a, "citrus") >= 0.5
    assert 0.2 <= _share(a, "conservation") <= 0.5
    assert _used(s, "market_output_max[navel_orange]") >= 0.95  # the orange market is what stops more


def test_guanling_pv_where_sun_and_grid_allow(runs):
    s, a = runs["guanling"]
    pv = set(a.loc[a["industry"] == "agro_pv", "name"])
    assert "岗乌镇" in pv and 1 <= len(pv) <= 4
    assert _share(a, "conservation") >= 0.5  # severe desertification: restoration dominates
    assert _share(a, "apple") == 0
    assert _used(s, "pv_capacity_per_county_max[关岭布依族苗族自治县]") >= 0.9


def test_zhaotong_apples_with_water_binding(runs):
    s, a = runs["zhaotong"]
    assert _share(a, "apple") >= 0.5
    assert _share(a, "citrus") == 0
    for county in ("昭阳区", "鲁甸县"):
        assert _used(s, f"water_use_per_county_max[{county}]") >= 0.9


def test_karst3_shares_one_fruit_market(runs):
    s, a = runs["karst3"]
    assert _used(s, "market_output_max[fruit]") >= 0.95
    apple_counties = set(a.loc[a["industry"] == "apple", "county"])
    citrus_counties = set(a.loc[a["industry"] == "citrus", "county"])
    assert apple_counties <= {"昭阳区", "鲁甸县"}
    assert "富川瑶族自治县" in citrus_counties and not citrus_counties & {"昭阳区", "鲁甸县"}
    assert s["price_steps_reached"]  # the shared market's price falls


@pytest.mark.parametrize("name", ["fuchuan", "guanling", "zhaotong", "karst3"])
def test_gep_and_evaluate_work_on_every_instance(name, tmp_path):
    """GEP accounts for the baseline, and an all-conservation plan scored against the optimum.

    Conserving every township pays farmers less than maize in most townships, so the
    income floor of each shipped instance must be named as broken, with its amount.
    """
    from optimizer.analyses.evaluate import evaluate_plan
    from optimizer.analyses.gep import account_instance

    instance = ROOT / name / f"{name}.yaml"
    accounts, out = account_instance(instance, results_root=tmp_path)
    assert out is not None and (out / "gep_by_township.csv").exists()
    assert accounts.totals["gep_total_yuan"] > 0
    towns = pd.read_csv(next(out.glob("gep_by_township.csv")), dtype={"township_id": str}, encoding="utf-8-sig")
    plan = tmp_path / "all_conservation.csv"
    pd.DataFrame({"township_id": towns["township_id"], "industry": "conservation"}).to_csv(plan, index=False)
    ev = evaluate_plan(instance, plan, results_root=tmp_path)
    assert ev.optimum_objective_yuan is not None and ev.optimum_objective_yuan >= ev.objective_yuan
    floors = [v for v in ev.violations if v.name == "farmer_income_per_township_min"]
    assert floors and all(v.amount < v.limit and v.unit for v in floors)
    assert ev.exit_code == 7
