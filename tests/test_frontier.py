"""`optimizer frontier`: against brute force on tiny instances, metamorphic properties, outputs, bad input.

The brute force enumerates every plan of a tiny instance with the independent rules of
tests/test_properties.py (written from docs/model.md, importing nothing of the model),
and derives each feasible plan's farmers' income after price steps and its GEP by
category. The frontier's points are then compared with the exact non-dominated
(income, GEP) pairs.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, note, settings

from optimizer.analyses.frontier import AUGMENTATION, FrontierSpec, gep_categories, new_frontier_dir, run_frontier
from optimizer.errors import InputError
from tests.conftest import FUCHUAN, TINY
from tests.test_properties import (
    PROFILE,
    BruteForce,
    _edge,
    _town,
    instances,
    price_step_loss,
    read_spec,
    write_instance,
)

GAP0 = {"gap": 0.0, "threads": 1}


# --------------------------------------------------------------------------- brute force of the frontier


def brute_pairs(spec: dict, categories: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plans, income after price steps, GEP of `categories`) of every feasible plan."""
    bf = BruteForce(spec)
    plans = bf.all_plans()
    if len(plans) == 0:
        return plans, np.zeros(0), np.zeros(0)
    feasible, _, _ = bf.judge(plans)
    plans = plans[feasible]
    rows = np.arange(bf.n)[None, :]

    def total(key: str) -> np.ndarray:
        return bf.table[key][rows, plans].sum(axis=1)

    inds = spec["industries"]
    income = total("income")
    output = bf.table["output"][rows, plans]
    for mk in spec.get("constraints", {}).get("markets", {}).values():
        steps = mk.get("price_steps", [])
        if not steps:
            continue
        member = np.array([i in mk["industries"] for i in bf.industries])
        q = np.where(member[plans], output, 0.0).sum(axis=1)
        phi = float(inds[mk["industries"][0]].get("farmer_share_of_value_added", 0.0))
        income = income - phi * np.array([price_step_loss(v, steps) for v in q])
    gep = sum(total(c) for c in categories) if categories else np.zeros(len(plans))
    return plans, income, gep


def non_dominated(income: np.ndarray, gep: np.ndarray, tol: float = 1e-6) -> list[tuple[float, float]]:
    """Distinct (income, GEP) pairs no feasible plan beats in both, by income."""
    pairs = sorted(set(zip(np.round(income, 6).tolist(), np.round(gep, 6).tolist())))
    out = []
    for i, g in pairs:
        if not any((i2 >= i - tol and g2 >= g - tol) and (i2 > i + tol or g2 > g + tol) for i2, g2 in pairs):
            out.append((i, g))
    return out


class Unsuitable(Exception):
    """A drawn instance the exact comparison cannot use (no plan; incomes too close)."""


def _close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def _frontier(path: Path, folder: Path, points: int = 11, gep: str = "objective", **kw) -> object:
    spec = FrontierSpec(instance=str(path), points=points, gep=gep, options=dict(GAP0), **kw)
    return run_frontier(spec, new_frontier_dir(folder, "t"), serial=True)


def assert_exact_frontier(path: Path, folder: Path, points: int | None = None, gep: str = "objective") -> object:
    """Every reported plan is feasible and non-dominated; each ε-point is brute force's best at its ε;
    with a fine enough grid, the distinct points are exactly the non-dominated pairs."""
    spec = read_spec(path)
    double_count = spec.get("objective", {}).get("double_count", "exclude_material_gep")
    cats = gep_categories(gep, double_count)
    plans, income, gep_v = brute_pairs(spec, cats)
    if len(plans) == 0:
        raise Unsuitable("no feasible plan")
    front = non_dominated(income, gep_v)
    i_min, i_max = front[0][0], front[-1][0]
    if points is None:  # a grid finer than the closest two incomes on the frontier finds every pair
        gaps = [b[0] - a[0] for a, b in zip(front, front[1:])]
        need = 2 if len(front) == 1 else int(math.ceil((i_max - i_min) / min(gaps))) + 1
        if need > 15:
            raise Unsuitable("the frontier's incomes are too close for a 15-point grid")
        points = max(2, need)
    fr = _frontier(path, folder, points=points, gep=gep)
    t = fr.table
    towns = [tw["township_id"] for tw in spec["townships"]]
    bf = BruteForce(spec)
    r_gep = max(gep_v) - min(gep_v)
    for r in t.to_dict(orient="records"):
        assert r["status"] == "optimal", r
        assert r["check_ok"] is True, r.get("check_messages")
        idx = bf.to_index([tuple(r["plan"][tid] for tid in towns)])
        ok, _, _ = bf.judge(idx)
        assert ok[0], f"point {r['point']}'s plan breaks a limit by brute force"
        # its figures are the brute force's for that plan
        k = int(np.flatnonzero((plans == idx[0]).all(axis=1))[0])
        assert _close(r["farmer_income_yuan"], income[k]) and _close(r["gep_yuan"], gep_v[k]), r["point"]
        # no feasible plan dominates it
        better = (income >= r["farmer_income_yuan"] - 1e-6) & (gep_v >= r["gep_yuan"] - 1e-6) & (
            (income > r["farmer_income_yuan"] + 1e-6) | (gep_v > r["gep_yuan"] + 1e-6))
        assert not better.any(), f"point {r['point']} is dominated by a feasible plan"
        if r["stage"] == "epsilon":  # the best GEP at income ≥ ε (AUGMECON2 may give up ≤ its bonus)
            best = gep_v[income >= r["epsilon_yuan"] - 1e-6].max()
            assert r["gep_yuan"] >= best - AUGMENTATION * r_gep - 1e-6, (r["point"], r["gep_yuan"], best)
            assert r["farmer_income_yuan"] >= r["epsilon_yuan"] - 1e-6
    if not fr.conflict:
        assert len(front) == 1 and len(t) == 1
        return fr
    ends = t.iloc[[0, -1]]
    assert _close(ends["gep_yuan"].iloc[0], gep_v.max()) and _close(ends["farmer_income_yuan"].iloc[-1], income.max())
    assert _close(ends["farmer_income_yuan"].iloc[0], front[0][0]) and _close(ends["gep_yuan"].iloc[-1], front[-1][1])
    got = sorted({(round(a, 3), round(b, 3)) for a, b in zip(t["farmer_income_yuan"], t["gep_yuan"])})
    want = sorted({(round(a, 3), round(b, 3)) for a, b in front})
    if len(front) <= points:
        assert got == want, f"frontier {got} but brute-force non-dominated pairs {want}"
    else:
        assert set(got) <= set(want)
    # monotone: along ε, GEP never rises and income never falls (exact at gap 0)
    assert (np.diff(t["gep_yuan"].to_numpy()) <= 1e-6).all()
    assert (np.diff(t["farmer_income_yuan"].to_numpy()) >= -1e-6).all()
    return fr


def test_tiny_instance_frontier_is_exact(tmp_path):
    fr = assert_exact_frontier(TINY, tmp_path)
    assert fr.conflict


def test_tiny_instance_total_gep_frontier_is_exact(tmp_path):
    assert_exact_frontier(TINY, tmp_path, gep="total")


@settings(PROFILE, max_examples=min(6, PROFILE.max_examples) if PROFILE.max_examples <= 25 else PROFILE.max_examples)
@given(spec=instances())
def test_frontier_matches_brute_force(spec: dict) -> None:
    with tempfile.TemporaryDirectory() as d:
        try:
            assert_exact_frontier(write_instance(spec, Path(d) / "instance"), Path(d))
        except Unsuitable as exc:
            note(str(exc))
            assume(False)


# --------------------------------------------------------------------------- metamorphic properties


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> list[Path]:
    from optimizer.generate import generate_instance

    base = tmp_path_factory.mktemp("gen")
    return [generate_instance(base / f"s{seed}", 25, seed, table_format="csv") for seed in (1, 2)]


@pytest.mark.parametrize("which", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_generated_frontier_is_monotone_and_holds_the_weighted_optimum(generated, tmp_path, which):
    gap = 1e-3
    fr = run_frontier(FrontierSpec(instance=str(generated[which]), points=6, options={"gap": gap}),
                      new_frontier_dir(tmp_path, "g"), serial=True)  # fmt: skip
    t = fr.table
    assert fr.conflict and (t["status"] == "optimal").all() and t["check_ok"].all()
    gep = t["gep_yuan"].to_numpy()
    bound = t["gep_bound_yuan"].to_numpy()
    eps = t["epsilon_yuan"].to_numpy()
    # each plan earns at least its ε; the bounds hold; GEP falls along ε up to the gap
    assert (t["farmer_income_yuan"].to_numpy() >= eps - 1e-6 * np.abs(eps)).all()
    assert (gep <= bound * (1 + 1e-9)).all()
    assert (t["frontier_low_yuan"] <= t["frontier_high_yuan"] * (1 + 1e-9)).all()
    for k in range(len(t) - 1):
        assert gep[k + 1] <= bound[k] * (1 + 1e-9), "a larger ε cannot beat a smaller ε's bound"
        assert gep[k + 1] <= gep[k] + gap * abs(bound[k]), "the frontier rises along ε beyond the gap"
    # the weighted optimum is on or under the frontier: its GEP is within the bound of every ε ≤ its income
    w = fr.weighted
    below = eps <= w["farmer_income_yuan"] + 1e-6
    assert (w["gep_yuan"] <= bound[below] * (1 + 1e-9)).all()


def test_weighted_optimum_is_a_frontier_point_at_gap_zero(tmp_path):
    fr = _frontier(TINY, tmp_path, points=5)
    w = fr.weighted
    spec = read_spec(TINY)
    _, income, gep = brute_pairs(spec, ("regulating", "cultural"))
    # the weighted optimum is not dominated (both weights positive, --gep objective)
    assert not ((income >= w["farmer_income_yuan"] - 1e-6) & (gep >= w["gep_yuan"] - 1e-6)
                & ((income > w["farmer_income_yuan"] + 1e-6) | (gep > w["gep_yuan"] + 1e-6))).any()
    assert w["dominated_by"] == ""


# --------------------------------------------------------------------------- outputs


def test_outputs_are_complete_hashed_and_styled(tmp_path):
    import sqlite3

    import pyogrio

    from optimizer.outputs.write import sha256

    fr = _frontier(FUCHUAN, tmp_path, points=5)
    folder = fr.folder
    assert not folder.name.endswith(".partial") and folder.exists()
    for name in ("frontier.csv", "payoff.csv", "frontier.png", "frontier.gpkg", "summary.json", "manifest.json",
                 "instance.resolved.yaml"):  # fmt: skip
        assert (folder / name).stat().st_size > 0, name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for rel, digest in manifest["outputs"].items():
        assert sha256(folder / rel) == digest, rel
    assert any(rel.startswith("points/p01/allocation.csv") for rel in manifest["outputs"])
    table = pd.read_csv(folder / "frontier.csv", encoding="utf-8-sig")
    assert list(table["point"]) == ["p00", "p01", "p02", "p03", "p04"]
    assert {"epsilon_yuan", "farmer_income_yuan", "gep_regulating_yuan", "gep_bound_yuan", "gap", "status",
            "townships_citrus", "duplicate_of", "dominated_by", "knee"} <= set(table.columns)  # fmt: skip
    layers = [name for name, _ in pyogrio.list_layers(folder / "frontier.gpkg")]
    assert {"frontier_townships", "frontier_points", "payoff_table", "layer_styles"} <= set(layers)
    layer = pyogrio.read_dataframe(folder / "frontier.gpkg", layer="frontier_townships")
    assert {f"industry_p0{k}" for k in range(5)} <= set(layer.columns)
    assert {"changes_at_income_yuan", "change_path"} <= set(layer.columns)
    moved = layer[layer["changes"] > 0]
    assert len(moved) and moved["changes_at_income_yuan"].notna().all()
    with sqlite3.connect(folder / "frontier.gpkg") as con:
        styles = con.execute("select f_table_name, useAsDefault, styleQML from layer_styles").fetchall()
    qml = [q for name, default, q in styles if name == "frontier_townships" and default]
    assert qml and 'attr="industry"' in qml[0]  # categorised by industry, like allocation.gpkg
    for pid in table["point"]:
        point = folder / "points" / pid if (folder / "points" / pid).exists() else None
        if point is not None:
            assert json.loads((point / "check.json").read_text(encoding="utf-8"))["ok"]


def test_fuchuan_frontier_shape(tmp_path):
    """Fuchuan (regulating + cultural GEP): a trade-off, the weighted optimum at the income end."""
    fr = _frontier(FUCHUAN, tmp_path, points=11)
    t = fr.table
    assert fr.conflict and fr.knee is not None
    assert t["gep_yuan"].iloc[0] > t["gep_yuan"].iloc[-1] and t["farmer_income_yuan"].iloc[0] < t["farmer_income_yuan"].iloc[-1]
    assert fr.weighted["same_plan_as"] == ["p10"]
    assert (t["duplicate_of"] != "").any()  # coarse grid, few plans: repeats are marked, not hidden


def interrupt_after_two_points(spec: FrontierSpec, folder: Path) -> dict[str, int]:
    """Run a 5-point frontier and press Ctrl-C once two inner ε-points are done; the kept
    points' summary.json modification times (a resume must leave them as they are)."""
    seen: list[str] = []

    def stop_after_two(pid, state, row):
        if state == "done" and pid.startswith("p0") and pid not in ("p00", "p04"):
            seen.append(pid)
            if len(seen) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_frontier(spec, folder, serial=True, progress=stop_after_two)
    assert folder.exists() and folder.name.endswith(".partial")
    kept = sorted(p.name for p in (folder / "points").iterdir() if (p / "summary.json").exists())
    assert len(kept) == 2
    return {p: (folder / "points" / p / "summary.json").stat().st_mtime_ns for p in kept}


def test_interrupted_frontier_resumes_without_solving_finished_points(tmp_path, monkeypatch):
    from optimizer.analyses import frontier as F

    spec = FrontierSpec(instance=str(TINY), points=5, options=dict(GAP0))
    folder = new_frontier_dir(tmp_path, "tiny")
    stamps = interrupt_after_two_points(spec, folder)
    import optimizer.solve as S

    real = S.solve
    solved: list[float | None] = []

    def counting(m, options, start=None):
        solved.append(m.farmer_income_min_epsilon.upper if m.farmer_income_min_epsilon.active else None)
        return real(m, options, start=start)

    monkeypatch.setattr(S, "solve", counting)
    resumed = run_frontier(F.resume_spec(folder), folder, serial=True)
    assert resumed.folder == F.final_dir(folder) and not folder.exists()
    # only the ε-point that was not finished, and the weighted optimum, are solved again
    assert len(solved) == 2 and sum(x is not None for x in solved) == 1
    for p, stamp in stamps.items():
        assert (resumed.folder / "points" / p / "summary.json").stat().st_mtime_ns == stamp
    assert len(resumed.table) == 5 and (resumed.table["status"] == "optimal").all()


def test_failing_point_is_recorded_not_dropped(tmp_path, monkeypatch):
    import optimizer.solve as S

    real = S.solve

    def flaky(m, options, start=None):
        if m.gep_max_plus_income_above_epsilon.active and abs(m.farmer_income_min_epsilon.upper or 0) > 0:
            if not getattr(flaky, "done", False):
                flaky.done = True
                raise RuntimeError("HiGHS crashed (simulated)")
        return real(m, options, start=start)

    monkeypatch.setattr(S, "solve", flaky)
    fr = _frontier(TINY, tmp_path, points=5)
    t = fr.table
    failed = t[t["status"] == "failed"]
    assert len(failed) == 1 and "simulated" in failed["error"].iloc[0]
    pid = failed["point"].iloc[0]
    record = json.loads((fr.folder / "points" / f"{pid}.json").read_text(encoding="utf-8"))
    assert record["row"]["status"] == "failed" and "Traceback" in record["traceback"]
    assert len(t) == 5 and "failed" in pd.read_csv(fr.folder / "frontier.csv")["status"].tolist()


@pytest.mark.slow
def test_dask_cluster_gives_the_serial_frontier(tmp_path):
    spec = FrontierSpec(instance=str(TINY), points=5, options=dict(GAP0))
    serial = run_frontier(spec, new_frontier_dir(tmp_path / "s", "tiny"), serial=True)
    dask = run_frontier(spec, new_frontier_dir(tmp_path / "d", "tiny"), workers=2)
    assert serial.table["gep_yuan"].tolist() == pytest.approx(dask.table["gep_yuan"].tolist())
    assert serial.table["farmer_income_yuan"].tolist() == pytest.approx(dask.table["farmer_income_yuan"].tolist())


# --------------------------------------------------------------------------- bad input and no conflict


def test_unknown_gep_category_is_located():
    with pytest.raises(InputError) as exc:
        gep_categories("regulating,cultral", "exclude_material_gep")
    p = exc.value.problems[0]
    assert str(p.location) == "command line" and "cultral" in p.message and "cultural" in (p.suggestion or "")


def test_no_conflict_is_one_point_said_plainly(tmp_path):
    # Conservation pays farmers more *and* keeps more GEP than fruit: nothing to trade.
    cons = {"label": "Conservation", "counts_as_conservation": True, "farmer_payments_yuan_per_ha": 9000,
            "gep": {"w": {"category": "regulating", "quantity_per_ha": 10, "unit": "m3", "unit_price_yuan": 100}}}
    fruit = {"label": "Fruit", "yield_per_ha": 1, "price_yuan_per_unit": 1000, "farmer_share_of_value_added": 0.5,
             "gep": {"s": {"category": "regulating", "quantity_per_ha": 1, "unit": "t", "unit_price_yuan": 10}}}
    spec = _edge({"cons": cons, "fruit": fruit}, [_town("T1"), _town("T2")])
    path = write_instance(spec, tmp_path / "inst")
    fr = _frontier(path, tmp_path, points=11)
    assert not fr.conflict and len(fr.table) == 1
    assert any("do not conflict" in n for n in fr.notes)
    assert list(fr.table["plan"].iloc[0].values()) == ["cons", "cons"]


def _cli(args: list[str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from optimizer.cli import app

    r = CliRunner().invoke(app, args)
    return r.exit_code, r.output


@pytest.mark.parametrize("args, words", [
    (["--points", "1"], "at least 2 points"),
    (["--gep", "regulatory"], "did you mean 'regulating'"),
])  # fmt: skip
def test_bad_options_exit_2_without_traceback(tmp_path, args, words):
    code, text = _cli(["frontier", str(TINY), "--serial", "--results", str(tmp_path), *args])
    assert code == 2, text
    assert words in text and "Traceback" not in text
    assert not (tmp_path / "tiny").exists()


def test_cli_frontier_prints_table_knee_and_weighted_optimum(tmp_path):
    code, text = _cli(["frontier", str(TINY), "--serial", "--points", "5", "--gap", "0", "--results", str(tmp_path)])
    assert code == 0, text
    assert "p00" in text and "p04" in text and "Weighted optimum" in text and "frontier.csv" in text



def test_set_applies_and_points_are_checked_against_it(tmp_path):
    """--set as in solve: a 50% conservation share moves the GEP end, and every point obeys it."""
    spec = FrontierSpec(instance=str(TINY), points=4, options=dict(GAP0), sets=["constraints.min_conservation_share=0.5"])
    fr = run_frontier(spec, new_frontier_dir(tmp_path, "tiny"), serial=True)
    resolved = (fr.folder / "instance.resolved.yaml").read_text(encoding="utf-8")
    assert "min_conservation_share: 0.5" in resolved
    for plan in fr.table["plan"]:
        assert sum(1 for i in plan.values() if i == "conservation") >= 2  # 4 townships of 100 ha each
    assert fr.table["check_ok"].all()


def test_point_stopped_without_a_plan_is_kept_and_exits_4(tmp_path, monkeypatch):
    import optimizer.solve as S
    from optimizer.solve.options import SolveOutcome

    real = S.solve

    def no_plan_once(m, options, start=None):
        if m.gep_max_plus_income_above_epsilon.active and abs(m.farmer_income_min_epsilon.upper or 0) > 0:
            if not getattr(no_plan_once, "done", False):
                no_plan_once.done = True
                return SolveOutcome(status="time_limit_no_solution", termination="Time limit reached",
                                    has_solution=False, objective=None, bound=None, gap=None, solve_seconds=0.01,
                                    transfer_seconds=0.0, mip_nodes=0, log_text="")  # fmt: skip
        return real(m, options, start=start)

    monkeypatch.setattr(S, "solve", no_plan_once)
    code, text = _cli(["frontier", str(TINY), "--serial", "--points", "5", "--gap", "0", "--results", str(tmp_path)])
    assert code == 4, text
    assert "before HiGHS found any plan" in " ".join(text.split()) and "Traceback" not in text
    (folder,) = (tmp_path / "tiny").iterdir()
    t = pd.read_csv(folder / "frontier.csv", encoding="utf-8-sig")
    assert len(t) == 5 and (t["status"] == "time_limit_no_solution").sum() == 1


def test_bounds_are_in_yuan_on_a_scaled_model(tmp_path):
    """Regression: a stage's bound was converted with the weighted objective's (scaled) unit.

    Fuchuan's objective scale is 10⁻³ (model/scaling.py), so every bound came out 1,000×
    too large and every gap ≈ 999. Each point's bound is now at least its value, and within
    the MIP gap of it (the ε-stage's bound includes the small AUGMECON2 bonus).
    """
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.model import prepare

    data = prepare(validate(load_instance(FUCHUAN)))
    assert data.scaling.objective != 1.0  # the case that went wrong
    spec = FrontierSpec(instance=str(FUCHUAN), points=3, options={"gap": 1e-4, "threads": 1})
    fr = run_frontier(spec, new_frontier_dir(tmp_path, "fuchuan"), serial=True)
    t = fr.table
    assert t["gap"].notna().all()
    assert (t["gap"] <= 1e-3).all(), t[["point", "gep_yuan", "gep_bound_yuan", "gap"]]
    assert (t["gep_bound_yuan"] >= t["gep_yuan"] * (1 - 1e-9)).all()
    payoff = fr.payoff.set_index("stage")
    for stage in ("income_max", "gep_max", "income_max_then_gep", "gep_max_then_income"):
        assert payoff.loc[stage, "gap"] <= 1e-3, (stage, payoff.loc[stage, "bound_yuan"])


def test_weighted_optimum_beyond_the_last_epsilon_is_at_the_end_point_not_between_it_and_itself():
    from optimizer.analyses.frontier import _locate_weighted

    df = pd.DataFrame({"point": ["p00", "p01", "p02"], "epsilon_yuan": [0.0, 50.0, 100.0],
                       "farmer_income_yuan": [10.0, 60.0, 100.0], "gep_yuan": [300.0, 200.0, 100.0],
                       "frontier_high_yuan": [300.0, 200.0, 100.0], "status": ["optimal"] * 3,
                       "plan": [{"a": "x"}, {"a": "y"}, {"a": "z"}]})  # fmt: skip
    w = {"status": "optimal", "farmer_income_yuan": 100.0, "gep_yuan": 99.0, "plan": {"a": "w"}}
    out = _locate_weighted(df, w)
    assert out["segment_from"] == out["segment_to"] == "p02"
    assert "p02" in out["where"] and "between" not in out["where"]
    w.update(farmer_income_yuan=55.0, gep_yuan=250.0)
    assert "between points p01 and p02" in _locate_weighted(df, w)["where"]
