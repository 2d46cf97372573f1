"""The analyses on a village instance (issue 12: every command works at the village level).

Each runs on the shipped Fuchuan village instance (137 villages, exact solves): the
trade-off frontier, what each limit is worth, near-optimal alternatives and the robust
plan under uncertain prices. Every plan they write passes the independent checker, and
their tables are by village, not by township.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyogrio
import yaml

from tests.conftest import ROOT

VILLAGES = ROOT / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml"


def _villages() -> pd.Index:
    from optimizer.run import load_and_validate

    return load_and_validate(VILLAGES).villages.index


def _report_draws_villages(folder: Path, map_id: str | None) -> str:
    """The folder's report.html; with `map_id`, it draws every village of the instance there."""
    import re

    from optimizer.outputs.report import write_report

    text = write_report(folder).read_text(encoding="utf-8")
    if map_id is not None:
        assert len(re.findall(rf'<g id="{map_id}-township-\d+">', text)) == len(_villages())
    return text


def test_frontier_of_a_village_instance(tmp_path: Path) -> None:
    from optimizer.analyses.frontier import FrontierSpec, new_frontier_dir, run_frontier

    fr = run_frontier(FrontierSpec(instance=str(VILLAGES), points=3, options={"gap": 1e-6}),
                      new_frontier_dir(tmp_path, "v"), serial=True)
    table = pd.read_csv(fr.folder / "frontier.csv", encoding="utf-8-sig")
    assert (table["status"] == "optimal").all() and table["check_ok"].all()
    assert any(c.startswith("villages_") for c in table.columns)
    assert not any(c.startswith("townships_") and c != "townships_changed_from_previous" for c in table.columns)
    _report_draws_villages(fr.folder, "knee")


def test_value_of_limits_on_a_village_instance(tmp_path: Path) -> None:
    from optimizer.analyses.value import ValueSpec, new_value_dir, run_value

    res = run_value(ValueSpec(instance=str(VILLAGES), limits=["grid", "income_floor"], options={"gap": 1e-6}),
                    new_value_dir(tmp_path, "v"), serial=True)
    assert {"pv_capacity_per_county_max", "farmer_income_per_village_min"} <= set(res.table["family"])
    switches = pd.read_csv(res.folder / "value_switches.csv", dtype=str, encoding="utf-8-sig")
    assert "village_id" in switches.columns and len(switches)
    assert set(switches["village_id"]) <= set(_villages())
    assert "villages switching" in _report_draws_villages(res.folder, None)


def test_alternatives_of_a_village_instance(tmp_path: Path) -> None:
    from optimizer.analyses.alternatives import find_alternatives

    res = find_alternatives(VILLAGES, within=0.02, n=1, results_root=tmp_path)
    assert len(res.plans) == 2 and (res.table["check_ok"] == True).all()  # noqa: E712
    assert "villages_changed_from_optimum" in res.table.columns
    flex = pd.read_csv(res.folder / "flexibility.csv", dtype=str, encoding="utf-8-sig")
    assert list(flex["village_id"]) == list(_villages())
    layer = pyogrio.read_dataframe(res.folder / "alternatives.gpkg", layer="flexibility")
    assert len(layer) == len(flex) and layer.geometry.notna().all()  # the village polygons
    alt = res.folder / "alt1"
    assert (alt / "township_allocation.csv").exists()  # written as `solve` writes a village run
    _report_draws_villages(res.folder, "flex")


def test_robust_plan_of_a_village_instance(tmp_path: Path) -> None:
    from optimizer.analyses.robust import RobustSpec, run_robust

    folder = tmp_path / "fuchuan_villages"
    shutil.copytree(VILLAGES.parent, folder)
    spec = yaml.safe_load(VILLAGES.read_text(encoding="utf-8"))
    spec["uncertainty"] = {"samples": 3, "seed": 11, "parameters": {"citrus_price": {
        "path": "industries.citrus.price_yuan_per_unit", "relative": True, "distribution": "uniform",
        "low": 0.5, "high": 1.3}}}
    path = folder / VILLAGES.name
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    res = run_robust(RobustSpec(instance=str(path)), tmp_path / "robust", serial=True)
    stability = pd.read_csv(res.folder / "stability.csv", dtype=str, encoding="utf-8-sig")
    assert set(_villages()) <= set(stability.iloc[:, 0])
    checks = list((res.folder).rglob("check.json"))
    assert checks
    for c in checks:
        assert '"ok": true' in c.read_text(encoding="utf-8"), c
    _report_draws_villages(res.folder, "stability")
