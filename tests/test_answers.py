"""Answers named for what they are: exact small solves, near ties, escaped CSV cells,
a pipe closed early, one sweep at a time on a folder."""

from __future__ import annotations

import io
import shutil
import sys

import pandas as pd
import pytest

from optimizer.errors import InputError
from optimizer.outputs.write import escape_formula, unescape_formula, write_csv
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from optimizer.solve.options import EXACT_UP_TO_TOWNSHIPS
from tests.conftest import TINY


def test_small_instances_are_solved_exactly_and_report_the_runner_up(tmp_path):
    res = solve_instance(TINY, SolveOptions(), results_root=tmp_path)
    s = res.summary
    assert s["gap_rule"].startswith("exact") and s["status"] == "optimal"
    ru = s["runner_up"]
    assert ru["exists"] and ru["objective_yuan"] < s["objective_yuan"]
    assert ru["difference_yuan"] == pytest.approx(s["objective_yuan"] - ru["objective_yuan"])
    plan = pd.read_csv(res.run_dir / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    chosen = dict(zip(plan["township_id"], plan["industry"]))
    assert ru["townships"] and all(chosen[t["township_id"]] == t["optimum"] != t["runner_up"] for t in ru["townships"])


def test_a_given_gap_is_kept_and_large_instances_default_to_1e_4():
    assert SolveOptions(gap=0.01).for_size(10).gap == 0.01
    assert SolveOptions().for_size(EXACT_UP_TO_TOWNSHIPS).gap == 0.0
    assert SolveOptions().for_size(EXACT_UP_TO_TOWNSHIPS + 1).gap == 1e-4


def test_runner_up_is_the_brute_force_second_best(tmp_path):
    """On the tiny instance, enumerate every plan the checker accepts and compare."""
    import itertools

    from optimizer.check import check_plan

    res = solve_instance(TINY, SolveOptions(), results_root=tmp_path)
    towns = ["T1", "T2", "T3", "T4"]
    values = []
    for combo in itertools.product(["fruit", "pv", "conservation"], repeat=4):
        plan = pd.DataFrame({"township_id": towns, "industry": list(combo)})
        report = check_plan(TINY, plan)
        if report.ok:
            values.append(report.objective_yuan)
    values.sort(reverse=True)
    assert res.summary["objective_yuan"] == pytest.approx(values[0], rel=1e-9)
    assert res.summary["runner_up"]["objective_yuan"] == pytest.approx(values[1], rel=1e-9)


def test_formula_cells_are_escaped_and_read_back(tmp_path):
    df = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "@SUM(A1)", "+1", "-2", "富川", "plain"], "n": [1, 2, 3, 4, 5, 6]})
    write_csv(tmp_path / "a.csv", df)
    raw = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw and "'@SUM" in raw and "'+1" in raw and "'-2" in raw and "\n5," not in raw
    back = pd.read_csv(tmp_path / "a.csv", dtype=str, encoding="utf-8-sig")["name"].map(unescape_formula)
    assert back.tolist() == df["name"].tolist()
    assert escape_formula(-2.5) == -2.5  # numbers are numbers


def test_closed_pipe_keeps_the_exit_code(tmp_path, monkeypatch):
    """`optimizer validate bad.yaml | head -1`: exit 2, not 1."""
    from optimizer.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntownships: nowhere.csv\nindustries: {}\n", encoding="utf-8")

    class ClosedPipe(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError

        def fileno(self) -> int:
            raise OSError("no descriptor")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    monkeypatch.setattr(sys, "stderr", ClosedPipe())
    monkeypatch.setattr(sys, "argv", ["optimizer", "validate", str(bad)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2


def test_two_sweeps_on_one_folder_are_refused(tmp_path):
    from optimizer.analyses.sweep import sweep_lock

    with sweep_lock(tmp_path):
        with pytest.raises(InputError, match="another `optimizer sweep` is running"):
            with sweep_lock(tmp_path):
                pass
    with sweep_lock(tmp_path):  # released again
        pass


def test_limit_tolerance_is_stated_in_units_and_reported(tmp_path):
    """County water exceeded by 0.5 m³ holds within the 1 m³ tolerance (and says so); by 2 m³ it is broken."""
    from optimizer.check import check_plan

    res = solve_instance(TINY, SolveOptions(), results_root=tmp_path / "r")
    plan = pd.read_csv(res.run_dir / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    used = plan.loc[plan["county"] == "A", "water_use_m3"].sum()
    assert used > 10
    for over, ok in ((0.5, True), (2.0, False)):
        folder = tmp_path / f"over{over}"
        folder.mkdir()
        for f in TINY.parent.iterdir():
            shutil.copy(f, folder / f.name)
        y = folder / TINY.name
        y.write_text(y.read_text(encoding="utf-8").replace("county_max_m3: {A: 15000}", f"county_max_m3: {{A: {used - over}}}"),
                     encoding="utf-8")
        report = check_plan(y, plan[["township_id", "industry"]])
        assert report.ok is ok, report.describe()
        row = next(c for c in report.constraints if c.name == "water_use_per_county_max" and c.index == "A")
        assert row.within_tolerance is ok
        if ok:
            assert any("holds within tolerance" in n and "tolerance 1 m³" in n for n in report.notes), report.notes
