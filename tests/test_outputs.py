"""Outputs: GeoPackage round-trip, atomic run folders, time limits and Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from optimizer.cli import Exit
from optimizer.generate import generate_instance
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import FUCHUAN, TINY


def test_geopackage_round_trip_fuchuan(results):
    run = solve_instance(FUCHUAN, SolveOptions(), results_root=results)
    gpkg = run.run_dir / "allocation.gpkg"
    layers = dict(pyogrio.list_layers(gpkg))
    assert layers["allocation"] in ("Polygon", "MultiPolygon")
    assert layers["run_summary"] is None and layers["county_totals"] is None
    src = gpd.read_file(FUCHUAN.parent / "townships.gpkg")
    out = gpd.read_file(gpkg, layer="allocation")
    assert out.crs == src.crs
    assert len(out) == len(src) == 12
    assert out.geometry.is_valid.all() and not out.geometry.is_empty.any()
    # Each township keeps its own polygon (joined by id, not by row order).
    src_area = src.set_index("township_id").geometry.area
    assert (out.set_index("township_id").geometry.area - src_area.reindex(out["township_id"])).abs().max() < 1e-6
    csv = pd.read_csv(run.run_dir / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    assert list(out["township_id"]) == list(csv["township_id"])
    assert (out["industry"] == csv["industry"]).all()
    summary = pyogrio.read_dataframe(gpkg, layer="run_summary")
    assert summary.set_index("key").loc["status", "value"] == "optimal"
    # The default QGIS style travels inside the GeoPackage.
    import sqlite3

    with sqlite3.connect(gpkg) as con:
        (qml,) = con.execute("select styleQML from layer_styles where f_table_name='allocation'").fetchone()
    assert 'attr="industry"' in qml and "citrus" in qml


def test_csv_table_gives_nonspatial_layer(results):
    run = solve_instance(TINY, SolveOptions(), results_root=results)
    layers = dict(pyogrio.list_layers(run.run_dir / "allocation.gpkg"))
    assert layers["allocation"] is None
    assert len(pyogrio.read_dataframe(run.run_dir / "allocation.gpkg", layer="allocation")) == 4


def test_crash_while_writing_leaves_no_run_folder(results, monkeypatch):
    import optimizer.run as run_mod

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(run_mod, "write_plan_geopackage", boom)
    with pytest.raises(OSError, match="disk full"):
        solve_instance(TINY, SolveOptions(), results_root=results)
    assert not [p for p in (results / "tiny").iterdir()]  # neither final nor .partial


def test_previous_runs_untouched_by_a_failed_run(results, monkeypatch):
    first = solve_instance(TINY, SolveOptions(), results_root=results)
    before = {p.name: p.stat().st_mtime for p in first.run_dir.iterdir()}
    import optimizer.run as run_mod

    monkeypatch.setattr(run_mod, "write_json", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        solve_instance(TINY, SolveOptions(), results_root=results)
    assert [p.name for p in (results / "tiny").iterdir()] == [first.run_dir.name]
    assert {p.name: p.stat().st_mtime for p in first.run_dir.iterdir()} == before


@pytest.fixture(scope="module")
def hard_instance(tmp_path_factory) -> Path:
    """A generated instance HiGHS cannot close to 1e-4 in a couple of seconds."""
    return generate_instance(tmp_path_factory.mktemp("hard"), 2000, seed=3, table_format="csv")


def test_time_limit_is_kept_and_flagged(hard_instance, tmp_path):
    # The limit bounds the whole command (start to results written); HiGHS gets what is left.
    # 25 s: on the loaded 2-core machine start-up and validation took 6 s of wall time and
    # writing and checking 2,000 townships are reserved about 11 s (optimizer/run.py).
    limit = 25.0
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "solve", str(hard_instance), "--time-limit", str(limit),
         "--method", "direct", "--results", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    wall = time.perf_counter() - start
    assert proc.returncode == Exit.STOPPED_WITH_PLAN, proc.stderr
    run_dir = next(next(tmp_path.iterdir()).iterdir())
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert s["status"] == "time_limit_feasible"
    assert s["timings_s"]["solve"] <= limit
    assert s["termination"] == "Time limit reached"  # not "Interrupted by user": our guard stopped HiGHS
    assert s["gap"] > 1e-4 and s["bound_yuan"] > s["objective_yuan"]
    assert wall <= limit + 5
    assert json.loads((run_dir / "check.json").read_text())["violations"] == []


def test_ctrl_c_keeps_the_incumbent(hard_instance, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "-v", "solve", str(hard_instance), "--method", "direct", "--results",
         str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # Wait until HiGHS is running (its log starts), then press Ctrl-C once.
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "HiGHS |" in line and ("Solving MIP" in seen or "Nodes" in seen):
            break
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (Exit.STOPPED_WITH_PLAN, Exit.NO_SOLUTION), err[-2000:]
    if proc.returncode == Exit.STOPPED_WITH_PLAN:
        run_dir = next(next(tmp_path.iterdir()).iterdir())
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted_feasible"


def test_time_limit_without_plan_exit_4(hard_instance, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "solve", str(hard_instance), "--time-limit", "0.01",
         "--method", "direct", "--results", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == Exit.NO_SOLUTION, proc.stdout + proc.stderr
    assert "before HiGHS found any plan" in proc.stderr
    assert not any(tmp_path.rglob("allocation.csv"))


def test_deliverables_wait_for_time_left(results, monkeypatch):
    """No room left in the time limit: the checked plan is written, allocation.xlsx and report.html are
    not, the summary says how to get them, and `optimizer report FOLDER --xlsx` writes the same workbook."""
    import openpyxl

    import optimizer.run as run_mod
    from optimizer.solve.options import Clock

    assert run_mod._time_for(Clock(None), "report", {"write": 9.0}) is True
    assert run_mod._time_for(Clock(time.monotonic() - 1.0), "workbook", {}) is False
    assert run_mod._time_for(Clock(time.monotonic() + 60.0), "report", {"write": 1.0}) is True
    assert run_mod._time_for(Clock(time.monotonic() + 5.0), "workbook", {"write": 5.0}) is False  # 6 × 5 s
    full = solve_instance(TINY, SolveOptions(), results_root=results)
    monkeypatch.setattr(run_mod, "_time_for", lambda clock, what, timings: False)
    res = solve_instance(TINY, SolveOptions(), results_root=results)
    assert res.check_ok is True and (res.run_dir / "allocation.csv").exists()
    assert not (res.run_dir / "report.html").exists() and not (res.run_dir / "allocation.xlsx").exists()
    summary = json.loads((res.run_dir / "summary.json").read_text(encoding="utf-8"))
    assert "optimizer report" in summary["report_html"]
    assert "optimizer report FOLDER --xlsx" in summary["allocation_xlsx"]
    outputs = json.loads((res.run_dir / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    assert "report.html" not in outputs and "allocation.xlsx" not in outputs
    proc = subprocess.run([sys.executable, "-m", "optimizer", "report", str(res.run_dir), "--xlsx"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (res.run_dir / "report.html").exists()
    later, first = (openpyxl.load_workbook(d / "allocation.xlsx", read_only=True) for d in (res.run_dir, full.run_dir))
    assert later.sheetnames == first.sheetnames
    for name in first.sheetnames:
        rows_later = [tuple(r) for r in later[name].iter_rows(values_only=True)]
        rows_first = [tuple(r) for r in first[name].iter_rows(values_only=True)]
        assert len(rows_later) == len(rows_first) > 1, name
        for a, b in zip(rows_later, rows_first):
            assert len(a) == len(b)
            for x, y in zip(a, b):  # the CSV keeps 12 significant digits
                assert x == y or (isinstance(x, float) and isinstance(y, (int, float)) and abs(x - y) <= 1e-9 * max(1, abs(y))), (name, a, b)
