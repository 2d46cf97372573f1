"""Infeasible is an answer: one exit code (3), one wording, a run folder with the diagnosis.

Three ways an instance can have no plan, each planted in the tiny instance:
- validation proves it before solving (a per-township income floor no industry reaches);
- HiGHS proves it on the LP relaxation (conservation share vs income floors);
- only integrality rules it out (every conservation township breaks its income floor,
  but the LP can conserve a fraction of a township).
Each must name the limits in conflict, with townships, and the least relaxation under
which a plan exists; applying that relaxation must make the instance feasible.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from optimizer.cli import Exit, app
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import TINY

runner = CliRunner()


def _tiny(tmp_path: Path, old: str, new: str) -> Path:
    for f in TINY.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    y = tmp_path / TINY.name
    text = y.read_text(encoding="utf-8")
    assert old in text
    y.write_text(text.replace(old, new), encoding="utf-8")
    return y


SHARE = "  min_conservation_share: 0.1\n"


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def test_found_by_validation_is_exit_3_with_a_folder(tmp_path):
    y = _tiny(tmp_path, SHARE, SHARE + "  income_floor: {min_yuan_per_ha: 9000}\n")
    res = runner.invoke(app, ["validate", str(y)])
    assert res.exit_code == Exit.INFEASIBLE, res.output
    assert "Infeasible: no plan meets every limit." in res.output
    assert "township T1 (Alpha): no allowed industry reaches the income floor" in res.output
    res = runner.invoke(app, ["solve", str(y), "--results", str(tmp_path / "r")])
    assert res.exit_code == Exit.INFEASIBLE, res.output
    [run_dir] = [p for p in (tmp_path / "r" / "tiny").iterdir()]
    assert not run_dir.name.endswith(".partial")
    s = _summary(run_dir)
    assert s["status"] == "infeasible" and s["found_by"] == "validation"
    assert s["infeasible_families"] == ["farmer_income_per_township_min"]
    assert any("tiny.yaml:" in c["where"] for c in s["conflicts"])
    assert {p.name for p in run_dir.iterdir()} >= {"summary.json", "manifest.json", "instance.resolved.yaml"}
    assert not (run_dir / "allocation.csv").exists()


def test_found_by_highs_names_rows_and_a_relaxation_that_works(tmp_path):
    y = _tiny(tmp_path, SHARE, "  min_conservation_share: 0.6\n  income_floor: {min_share_of_baseline: 1.0}\n")
    result = solve_instance(y, SolveOptions(), results_root=tmp_path / "r")
    s = result.summary
    assert result.infeasible and s["found_by"] == "HiGHS" and result.run_dir is not None
    assert "conservation_area_min" in s["infeasible_rows"]
    assert any(r.startswith("farmer_income_per_township_min[") for r in s["infeasible_rows"])
    [relax] = [r for r in s["least_relaxation"] if r["family"] == "conservation_area_min"]
    assert relax["unit"] == "ha" and relax["relax_by"] > 0 and "ha" in relax["text"]
    # Each way out moves one family alone; the income-floor one names townships.
    families = {w["family"] for w in s["ways_out"]}
    assert families == {"conservation_area_min", "farmer_income_per_township_min"}
    floors = next(w for w in s["ways_out"] if w["family"] == "farmer_income_per_township_min")
    assert all("(" in r["text"] and "yuan/yr" in r["text"] for r in floors["rows"])
    # The least relaxation is real: asking for that much less conservation admits a plan.
    need_ha = relax["rhs"] - relax["relax_by"]
    share = max(0.0, need_ha / 400.0 - 1e-9)
    again = solve_instance(y, SolveOptions(), results_root=tmp_path / "r2",
                           sets=[f"constraints.min_conservation_share={share:.12f}"])
    assert again.has_plan and again.check_ok


def test_integer_only_infeasibility_is_diagnosed(tmp_path):
    # Conservation pays 500 yuan/ha, below a 600 yuan/ha floor: no whole township can be
    # conserved, yet 10% must be. The LP conserves 0.4 of a township; the MIP cannot.
    y = _tiny(tmp_path, SHARE, SHARE + "  income_floor: {min_yuan_per_ha: 600}\n")
    res = runner.invoke(app, ["solve", str(y), "--results", str(tmp_path / "r")])
    assert res.exit_code == Exit.INFEASIBLE, res.output
    [run_dir] = list((tmp_path / "r" / "tiny").iterdir())
    s = _summary(run_dir)
    assert s["least_relaxation"], s
    rows = {r["family"] for r in s["least_relaxation"]}
    assert rows <= {"conservation_area_min", "farmer_income_per_township_min"}
    assert "The least change to the limits that admits a plan:" in res.output


def test_sweep_counts_both_kinds_as_answers(tmp_path):
    from optimizer.analyses.sweep import SweepSpec, parse_vary, run_sweep

    y = _tiny(tmp_path, SHARE, SHARE + "  income_floor: {min_yuan_per_ha: 100}\n")
    spec = SweepSpec(instance=str(y), varies=[parse_vary("constraints.income_floor.min_yuan_per_ha=100,600,9000")],
                     scenarios=[], sets=[], options={"gap": 0.0})
    table = run_sweep(spec, tmp_path / "sweep", serial=True)
    status = dict(zip(table["point"].astype(str), table["status"]))
    assert sorted(status.values()) == ["infeasible", "infeasible", "optimal"], status
    assert all("failed" not in v for v in status.values())
