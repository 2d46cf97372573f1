"""Each exit code of the CLI, and no traceback without --debug."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer.cli import Exit, app
from tests.conftest import TINY

runner = CliRunner()


def _copy_tiny(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    for f in TINY.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    y = tmp_path / TINY.name
    if replace:
        y.write_text(y.read_text(encoding="utf-8").replace(*replace), encoding="utf-8")
    return y


def test_solve_ok_exit_0(tmp_path):
    res = runner.invoke(app, ["solve", str(TINY), "--results", str(tmp_path)])
    assert res.exit_code == Exit.OK, res.output
    assert "5,380,000" in res.output


def test_invalid_input_exit_2_lists_problem(tmp_path):
    y = _copy_tiny(tmp_path, ("    yield_per_ha: 10\n", "    yeild_per_ha: 10\n"))
    res = runner.invoke(app, ["validate", str(y)])
    assert res.exit_code == Exit.INVALID_INPUT
    assert "did you mean 'yield_per_ha'?" in res.output


def test_infeasible_exit_3_names_families(tmp_path):
    # Three of four townships must be conserved, but conservation pays farmers less than
    # their maize baseline, which the income floor forbids.
    y = _copy_tiny(
        tmp_path,
        ("  min_conservation_share: 0.1\n",
         "  min_conservation_share: 0.6\n  income_floor: {min_share_of_baseline: 1.0}\n"),
    )
    res = runner.invoke(app, ["solve", str(y), "--results", str(tmp_path / "r")])
    assert res.exit_code == Exit.INFEASIBLE, res.output
    assert "conservation_area_min" in res.output and "farmer_income_per_township_min" in res.output
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("allocation.csv"))


def test_checker_disagreement_exit_5(tmp_path, monkeypatch):
    import optimizer.check as check

    real = check.check_run

    def tampered(instance, run_dir):
        report = real(instance, run_dir)
        report.violations.append(check.Violation(
            name="water_use_per_county_max", index="A", amount=1.0, limit=0.0, unit="m³",
            sense="<=", message="planted disagreement"))
        return report

    monkeypatch.setattr(check, "check_run", tampered)
    res = runner.invoke(app, ["solve", str(TINY), "--results", str(tmp_path)])
    assert res.exit_code == Exit.CHECK_FAILED, res.output
    assert "planted disagreement" in res.output


def test_write_model_lp_is_readable(tmp_path):
    lp = tmp_path / "tiny.lp"
    res = runner.invoke(app, ["solve", str(TINY), "--results", str(tmp_path), "--write-model", str(lp)])
    assert res.exit_code == 0, res.output
    text = lp.read_text()
    assert "water_use_per_county_max(A)" in text
    assert "one_industry_per_township(T1)" in text
    res = runner.invoke(app, ["solve", str(TINY), "--results", str(tmp_path), "--write-model", str(tmp_path / "m.txt")])
    assert res.exit_code == Exit.INVALID_INPUT


def test_unreadable_table_exit_2_without_traceback(tmp_path):
    # A file that is not a GeoPackage: GDAL fails, and the planner gets a located message.
    y = _copy_tiny(tmp_path, ("townships: townships.csv", "townships: weird.gpkg"))
    (tmp_path / "weird.gpkg").write_bytes(b"not a geopackage")
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(y), "--results", str(tmp_path / "r")],
                          capture_output=True, text=True)
    assert proc.returncode == Exit.INVALID_INPUT
    assert "weird.gpkg" in proc.stderr and "cannot read the file" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_usage_error_and_help():
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solvee"], capture_output=True, text=True)
    assert proc.returncode == 2 and "No such command" in proc.stderr and "Traceback" not in proc.stderr
    res = runner.invoke(app, ["solve", "--help"])
    assert res.exit_code == 0 and "--time-limit" in res.output and "Exit codes" in res.output


def test_schema_is_json_schema():
    import json

    res = runner.invoke(app, ["schema"])
    schema = json.loads(res.stdout)
    assert schema["title"] == "Instance" and "industries" in schema["properties"]


def test_debug_shows_traceback_for_internal_error(tmp_path, monkeypatch):
    import optimizer.run as run

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(run, "solve_instance", boom)
    monkeypatch.setattr(sys, "argv", ["optimizer", "solve", str(TINY)])
    from optimizer.cli import main

    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == Exit.INTERNAL
    monkeypatch.setattr(sys, "argv", ["optimizer", "--debug", "solve", str(TINY)])
    with pytest.raises(RuntimeError, match="boom"):
        main()


def test_global_flags_anywhere():
    from optimizer.cli import _globals_first

    assert _globals_first(["solve", "x.yaml", "-q"]) == ["-q", "solve", "x.yaml"]
    assert _globals_first(["solve", "x.yaml", "--debug", "-v"]) == ["--debug", "-v", "solve", "x.yaml"]
    assert _globals_first(["solve", "x.yaml", "--set", "-v"]) == ["solve", "x.yaml", "--set", "-v"]


def test_tables_fit_80_columns_without_cutting_numbers():
    """`fit` lays a table out at the console's width: no line wider, every number whole.

    The compare and sweep tables once lost their text columns entirely at 80 columns
    (numeric columns kept the width of long headers); this is the shape that broke.
    """
    import io

    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    from optimizer.cli.common import fit

    t = Table(title="Townships that changed industry")
    t.add_column("township, county: A → B")
    for h in ("Δ GEP total (yuan/yr)", "Δ income (yuan/yr)", "Δ water (m³/yr)", "Δ PV (MWp)", "Δ investment (yuan)"):
        t.add_column(h, justify="right")
    rows = [("451123102 莲山镇\n富川瑶族自治县\nconservation → citrus", "+75,352,334", "+35,224,000", "+1,540,000", "0",
             "+109,200,000"),
            ("451123108 朝东镇\n富川瑶族自治县\nconservation → citrus", "+142,244,816", "+65,829,600", "+2,706,000",
             "+12.5", "+191,880,000")]  # fmt: skip
    for r in rows:
        t.add_row(*r)
    s = Table(title="sweep")
    for h in ("point", "status", "objective (yuan/yr)", "GEP total (yuan/yr)", "income (yuan/yr)",
              "townships changed from the first point"):  # fmt: skip
        s.add_column(h)
    s.add_row("p00-0.6x_300", "optimal", "588,155,305", "987,931,073", "277,938,548", "0")
    s.add_row("p41-1x_360", "infeasible", "650,758,827", "1,205,528,223", "364,384,919", "2")
    for table, cells in ((t, [c for r in rows for c in r[1:]]), (s, ["588,155,305", "1,205,528,223", "p00"])):
        buf = io.StringIO()
        Console(width=80, file=buf, soft_wrap=True).print(fit(table))
        text = buf.getvalue()
        assert max(cell_len(line) for line in text.splitlines()) <= 80, text
        for c in cells:
            assert c in text, (c, text)  # on one line, not folded
        assert "莲山镇" in text or table is s
        assert "point" in text and "status" in text or table is t  # text columns keep their room
    wide = io.StringIO()
    Console(width=200, file=wide, soft_wrap=True).print(fit(t))
    assert "Δ GEP total (yuan/yr)" in wide.getvalue()  # a wide terminal gets the natural layout


def test_table_too_wide_for_its_numbers_is_wider_not_cut():
    """Six wide numbers and two text columns cannot fit 80 columns: the table grows instead."""
    import io

    from rich.console import Console
    from rich.table import Table

    from optimizer.cli.common import fit

    t = Table()
    for h in ("township", "industry", "GEP", "Δ GEP", "income", "Δ income", "GEP/ha", "income/ha"):
        t.add_column(h)
    numbers = ["159,518,154", "133,692,114", "62,532,000", "52,164,000", "98,468", "38,600"]
    t.add_row("451123100 富阳镇", "conservation", *numbers)
    buf = io.StringIO()
    Console(width=80, file=buf, soft_wrap=True).print(fit(t))
    text = buf.getvalue()
    for c in [*numbers, "451123100", "conservation", "income/ha"]:
        assert c in text, (c, text)
