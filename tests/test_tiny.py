"""A 4-township instance whose optimum is worked out by hand below.

Per hectare (docs/model.md):
  fruit: output 10 t, revenue 10,000, value added 6,000, income 1,000 + 0.5·6,000 = 4,000,
         regulating GEP 50·10 = 500 → objective 4,500/ha (material GEP excluded)
  pv:    output 0.5·irr·0.8 = 0.4·irr MWh; T2, T3 (irr 1,200): revenue 144,000, income
         8,000 + 0.1·114,000 = 19,400, regulating GEP 0.5·480·10 = 2,400 → 21,800/ha;
         T4 (irr 1,300): income 20,600, GEP 2,600 → 23,200/ha; T1 fails the 1,100 gate
  conservation: income 500, GEP 1,500 + 2,000 + 300 = 3,800 → 4,300/ha
Each township has 100 ha. County B's grid takes 60 MWp, so only one of T3, T4 is PV
(50 MWp each); T3 cannot take fruit (soil 30 cm < 40 cm). Best: T4 PV (2,320,000) with
T3 conservation (430,000) beats T3 PV + T4 fruit (2,630,000 < 2,750,000); T2 PV
(2,180,000); T1 fruit (450,000) since water in county A (10,000 + 2,000 ≤ 15,000)
allows it and T3 already meets the 10% conservation share.
Optimum = 450,000 + 2,180,000 + 430,000 + 2,320,000 = 5,380,000 yuan/yr.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from optimizer.check import check_run
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import TINY


def test_tiny_optimum_matches_hand_computation(results):
    run = solve_instance(TINY, SolveOptions(), results_root=results)
    assert run.summary["status"] == "optimal"
    assert run.summary["objective_yuan"] == pytest.approx(5_380_000, rel=1e-9)
    alloc = pd.read_csv(run.run_dir / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    assert dict(zip(alloc["township_id"], alloc["industry"])) == {
        "T1": "fruit", "T2": "pv", "T3": "conservation", "T4": "pv",
    }  # fmt: skip
    assert run.check_ok is True
    assert check_run(TINY, run.run_dir).ok


def test_summary_reports_bound_gap_and_parts(results):
    run = solve_instance(TINY, SolveOptions(), results_root=results)
    s = json.loads((run.run_dir / "summary.json").read_text(encoding="utf-8"))
    assert s["bound_yuan"] >= s["objective_yuan"] - 1e-6
    assert s["gap"] is not None and s["gap"] <= 1e-4
    t = s["totals"]
    # income: T1 400,000 + T2 1,940,000 + T3 50,000 + T4 2,060,000
    assert t["farmer_income_yuan"] == pytest.approx(4_450_000)
    # baseline maize: income (5·2,000 − 6,000)·1.0 = 4,000/ha; GEP 100/ha; 400 ha
    assert t["baseline_farmer_income_yuan"] == pytest.approx(1_600_000)
    assert t["baseline_gep_total_yuan"] == pytest.approx(40_000)
    assert "pv_capacity_per_county_max[B]" not in s["binding_constraints"]  # 50 < 60 MWp


def test_run_folder_is_complete(results):
    run = solve_instance(TINY, SolveOptions(), results_root=results)
    names = {p.name for p in run.run_dir.iterdir()}
    assert {"allocation.csv", "allocation.gpkg", "summary.json", "manifest.json", "highs.log", "check.json"} <= names
    manifest = json.loads((run.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["outputs"]) == names - {"manifest.json"}
    assert any(k.endswith("townships.csv") for k in manifest["inputs"])
    assert manifest["solver_options"]["random_seed"] == SolveOptions().seed
    assert manifest["sources"] == []  # the tiny instance cites none; shipped ones do (test_regions)
    assert not list(results.glob("**/*.partial"))


def test_lock_forces_industry_and_costs_objective(tmp_path, results):
    text = TINY.read_text(encoding="utf-8").replace(
        "  min_conservation_share: 0.1\n",
        "  min_conservation_share: 0.1\n  locks:\n    - {township: T2, industry: conservation}\n",
    )
    (tmp_path / "tiny.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "townships.csv").write_text((TINY.parent / "townships.csv").read_text(), encoding="utf-8")
    run = solve_instance(tmp_path / "tiny.yaml", SolveOptions(), results_root=results)
    alloc = pd.read_csv(run.run_dir / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    plan = dict(zip(alloc["township_id"], alloc["industry"]))
    assert plan["T2"] == "conservation"
    # T2 conservation frees the conservation share: T3 PV + T4 PV would break B's grid,
    # so T4 PV, T3 conservation or fruit is impossible (soil) → T3 conservation still.
    # 450,000 + 430,000 + 430,000 + 2,320,000
    assert run.summary["objective_yuan"] == pytest.approx(3_630_000)
    assert run.check_ok
