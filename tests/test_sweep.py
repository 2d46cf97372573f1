"""Sweeps: range syntax, a real local Dask cluster, identical to serial, failures, resume."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from optimizer.analyses.sweep import SweepSpec, parse_vary, run_sweep
from tests.conftest import TINY


def test_range_and_list_syntax():
    assert parse_vary("a.b=0.6:1.0:0.1*").values == ["0.6*", "0.7*", "0.8*", "0.9*", "1*"]
    assert parse_vary("a.b=1,2, 3").values == ["1", "2", "3"]
    assert parse_vary("a.b=100:300:100").values == ["100", "200", "300"]


def _spec(**kw) -> SweepSpec:
    return SweepSpec(
        instance=str(TINY),
        varies=[parse_vary("constraints.water.county_max_m3.A=0.5:1.0:0.5*"),
                parse_vary("industries.pv.price_yuan_per_unit=200,300")],
        options={"gap": 1e-9}, **kw,
    )  # fmt: skip


def _objectives(table: pd.DataFrame) -> dict[str, float]:
    return dict(zip(table["point"], table["objective_yuan"]))


def test_dask_local_cluster_matches_serial(tmp_path):
    serial = run_sweep(_spec(), tmp_path / "serial", serial=True)
    parallel = run_sweep(_spec(), tmp_path / "dask", workers=2)  # real worker processes
    assert list(serial["point"]) == list(parallel["point"]) and len(serial) == 4
    assert _objectives(serial) == _objectives(parallel)
    for pid in serial["point"]:
        a = pd.read_csv(tmp_path / "serial" / "points" / pid / "allocation.csv", dtype=str)
        b = pd.read_csv(tmp_path / "dask" / "points" / pid / "allocation.csv", dtype=str)
        assert a["industry"].tolist() == b["industry"].tolist()
    assert (tmp_path / "dask" / "sweep_summary.csv").exists() and (tmp_path / "dask" / "sweep.png").stat().st_size > 0
    # Halving county A's water (15,000 → 7,500 m³) rules out T1's fruit (10,000 m³):
    # T1 turns to conservation, 450,000 − 430,000 = 20,000 yuan less at the PV price 300.
    obj = _objectives(serial)
    assert obj["p3-1x_300"] - obj["p1-0.5x_300"] == pytest.approx(20_000)


def test_failing_point_is_recorded_and_resume_finishes(tmp_path):
    spec = SweepSpec(
        instance=str(TINY),
        varies=[parse_vary("constraints.min_conservation_share=0.1,1.5,0.2")],
        options={"gap": 1e-9},
    )
    table = run_sweep(spec, tmp_path, serial=True)
    status = dict(zip(table["point"], table["status"]))
    assert status == {"p0-0.1": "optimal", "p1-1.5": "failed", "p2-0.2": "optimal"}
    failed = json.loads((tmp_path / "points" / "p1-1.5.failed.json").read_text())
    assert "less than or equal to 1" in failed["error"]
    # An interrupted sweep: one finished point lost. Resume runs only the missing ones.
    shutil.rmtree(tmp_path / "points" / "p2-0.2")
    before = (tmp_path / "points" / "p0-0.1" / "manifest.json").stat().st_mtime
    table = run_sweep(spec, tmp_path, serial=True)
    assert (tmp_path / "points" / "p0-0.1" / "manifest.json").stat().st_mtime == before
    assert (tmp_path / "points" / "p2-0.2" / "manifest.json").exists()
    assert dict(zip(table["point"], table["status"]))["p2-0.2"] == "optimal"


def test_cli_sweep_and_resume(tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import app

    res = CliRunner().invoke(app, ["sweep", str(TINY), "--vary", "industries.pv.price_yuan_per_unit=200,300",
                                   "--serial", "--results", str(tmp_path)])
    assert res.exit_code == 0, res.output
    sweep_dir = next((tmp_path / "tiny").iterdir())
    res = CliRunner().invoke(app, ["sweep", "--resume", str(sweep_dir), "--serial"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["sweep", str(TINY), "--vary", "industries.pv.prise_yuan_per_unit=1,2"])
    assert res.exit_code == 2 and "did you mean --set industries.pv.price_yuan_per_unit=" in res.output


def test_infeasible_point_is_an_answer_not_a_failure(tmp_path):
    # 80% conservation with an income floor: the LP relaxation is already infeasible.
    spec = SweepSpec(
        instance=str(TINY),
        varies=[parse_vary("constraints.min_conservation_share=0.1,0.8")],
        sets=["constraints.income_floor.min_share_of_baseline=1.0"],
        options={"gap": 1e-9},
    )
    table = run_sweep(spec, tmp_path, serial=True)
    row = table.set_index("point").loc["p1-0.8"]
    assert row["status"] == "infeasible" and "conservation_area_min" in row["error"]
    again = run_sweep(spec, tmp_path, serial=True)  # resume: recorded, not rerun
    assert again.set_index("point").loc["p1-0.8", "status"] == "infeasible"


def test_warm_started_sweep_gives_the_same_optima(tmp_path):
    cold = run_sweep(_spec(), tmp_path / "cold", serial=True)
    warm = run_sweep(_spec(warm_start=True), tmp_path / "warm", serial=True)
    assert _objectives(cold) == pytest.approx(_objectives(warm))
