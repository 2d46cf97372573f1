"""What-if overrides: --set, named overrides, scenarios, precedence and their errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from optimizer.errors import InputError
from optimizer.instance.load import load_instance
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import TINY

SCENARIOS = """
overrides:
  dry: {constraints.water.county_max_m3.A: 0.5*}
  cheap_pv: {industries.pv.price_yuan_per_unit: 200}
  dear_pv: {industries.pv.price_yuan_per_unit: 400}
scenarios:
  dry_cheap: [dry, cheap_pv]
  clash: [cheap_pv, dear_pv]
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    for f in TINY.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    y = tmp_path / TINY.name
    y.write_text(y.read_text(encoding="utf-8") + SCENARIOS, encoding="utf-8")
    return y


def _problems(path: Path, **kw) -> str:
    with pytest.raises(InputError) as exc:
        load_instance(path, **kw)
    return "\n".join(str(p) for p in exc.value.problems)


def test_set_absolute_and_relative(tiny):
    inst = load_instance(tiny, sets=["industries.pv.price_yuan_per_unit=250", "constraints.water.county_max_m3.A=0.5*"])
    assert inst.spec.industries["pv"].price_yuan_per_unit == 250
    assert inst.spec.constraints.water.county_max_m3["A"] == 7500
    assert [str(a) for a in inst.applied_overrides] == [
        "industries.pv.price_yuan_per_unit: 300 → 250 (--set)",
        "constraints.water.county_max_m3.A: 15000 → 7500.0 (--set)",
    ]


def test_unknown_path_suggests_the_right_one(tiny):
    text = _problems(tiny, sets=["industries.pv.prise_yuan_per_unit=250"])
    assert "'prise_yuan_per_unit' is not a key of industries.pv (did you mean 'price_yuan_per_unit'?)" in text
    assert "did you mean --set industries.pv.price_yuan_per_unit=250?" in text
    text = _problems(tiny, sets=["constraint.investment_budget_yuan=1"])
    assert "did you mean --set constraints.investment_budget_yuan=1?" in text


def test_set_values_are_validated_like_the_file(tiny):
    text = _problems(tiny, sets=["industries.pv.price_yuan_per_unit=-3", "objective.double_count=both"])
    assert ("command line --set #1 'industries.pv.price_yuan_per_unit=-3': industries.pv.price_yuan_per_unit: "
            "Input should be greater than or equal to 0 (got -3)") in text
    assert "objective.double_count" in text and "'exclude_material_gep' or 'count_both'" in text


def test_relative_change_needs_a_number(tiny):
    text = _problems(tiny, sets=["constraints.investment_budget_yuan=0.5*"])
    assert "'constraints.investment_budget_yuan' is not set, so '0.5*' (a relative change) cannot apply" in text


def test_scenario_applies_overrides_in_order_and_set_wins(tiny):
    inst = load_instance(tiny, scenarios=["dry_cheap"], sets=["industries.pv.price_yuan_per_unit=220"])
    assert inst.spec.constraints.water.county_max_m3["A"] == 7500
    assert inst.spec.industries["pv"].price_yuan_per_unit == 220  # file < scenario < --set
    sources = [a.source for a in inst.applied_overrides]
    assert sources == ["overrides.dry", "overrides.cheap_pv", "--set"]
    # Named overrides can be selected directly; several names combine in order into one
    # scenario, so two that disagree are the same conflict as inside a scenario.
    inst = load_instance(tiny, scenarios=["dry", "dear_pv"])
    assert inst.spec.industries["pv"].price_yuan_per_unit == 400
    assert "both set 'industries.pv.price_yuan_per_unit'" in _problems(tiny, scenarios=["cheap_pv", "dear_pv"])


def test_conflicting_overrides_in_one_scenario_are_an_error(tiny):
    text = _problems(tiny, scenarios=["clash"])
    line = next(i for i, l in enumerate(tiny.read_text(encoding="utf-8").splitlines(), 1) if "dear_pv: {" in l)
    assert f"tiny.yaml:{line}:" in text
    assert "overrides 'cheap_pv' and 'dear_pv' both set 'industries.pv.price_yuan_per_unit' (200 vs 400)" in text


def test_unknown_scenario_suggests(tiny):
    assert "did you mean 'dry_cheap'?" in _problems(tiny, scenarios=["dry_chep"])


def test_table_overrides(tiny):
    inst = load_instance(tiny, sets=["townships.water_available_m3=0.5*", "townships.irradiance_kwh_per_m2.T1=1150"])
    assert inst.townships["water_available_m3"].astype(float).tolist() == [25000.0] * 4
    assert inst.townships.loc[inst.townships["township_id"] == "T1", "irradiance_kwh_per_m2"].item() == "1150"
    assert "did you mean --set townships.slope_deg?" in _problems(tiny, sets=["townships.slope=0.5*"])
    assert "township 'T9' is not in the township table" in _problems(tiny, sets=["townships.slope_deg.T9=3"])


def test_what_if_run_records_diff_and_is_checked_against_it(tiny, results):
    # T1 passes PV's 1,100 gate once its irradiance is raised; the checker must see that too.
    run = solve_instance(tiny, SolveOptions(), results_root=results, scenarios=["dry_cheap"],
                         sets=["townships.irradiance_kwh_per_m2.T1=1150"])
    assert run.check_ok
    manifest = json.loads((run.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scenarios"] == ["dry_cheap"]
    assert "constraints.water.county_max_m3.A: 15000 → 7500.0 (overrides.dry)" in manifest["overrides_diff"]
    assert (run.run_dir / "townships.resolved.csv").exists()
    resolved = load_instance(run.run_dir / "instance.resolved.yaml")
    assert resolved.spec.constraints.water.county_max_m3["A"] == 7500
    rerun = solve_instance(run.run_dir / "instance.resolved.yaml", SolveOptions(), results_root=results)
    assert rerun.summary["objective_yuan"] == pytest.approx(run.summary["objective_yuan"])
