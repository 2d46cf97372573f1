"""The decomposed frontier (analyses/frontier_decomposed.py) against the direct one, and its own properties.

The two paths solve the same stages with different solvers and stop within the gap at
different plans, so they are compared through their bounds, which both must respect:
a plan of one path earning ≥ ε is feasible at ε for the other, so its GEP is at most the
other's bound at ε; and each path's points must be checked, monotone in their bands, and
marked where dominated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.analyses.frontier import FrontierSpec, new_frontier_dir, run_frontier

GAP = 1e-3


@pytest.fixture(scope="module")
def instance(tmp_path_factory) -> Path:
    from optimizer.generate import generate_instance

    return generate_instance(tmp_path_factory.mktemp("gen") / "g", 60, 1, table_format="csv")


@pytest.fixture(scope="module")
def frontiers(instance, tmp_path_factory) -> dict[str, object]:
    out = {}
    for method in ("decompose", "direct"):
        spec = FrontierSpec(instance=str(instance), points=6, weighted=method == "decompose",
                            options={"gap": GAP, "threads": 1, "method": method})  # fmt: skip
        out[method] = run_frontier(spec, new_frontier_dir(tmp_path_factory.mktemp(method), "g"), serial=True)
    return out


def _ok(t):
    return t[t["status"].isin(["optimal", "stopped_feasible", "time_limit_feasible"])]


def test_every_point_decomposed_checked_with_bound_and_gap(frontiers):
    fr = frontiers["decompose"]
    t = fr.table
    assert fr.conflict
    assert t["method"].str.startswith("decompose").all()
    assert fr.payoff["method"].str.startswith("decompose").all()
    assert (t["status"] == "optimal").all(), t[["point", "status", "termination"]]
    assert t["check_ok"].all()
    assert t["gep_bound_yuan"].notna().all() and t["gap"].notna().all()
    assert (t["gap"] <= GAP + 1e-9).all()
    assert (t["gep_yuan"] <= t["gep_bound_yuan"] * (1 + 1e-9)).all()
    eps = t["epsilon_yuan"].to_numpy()
    assert (t["farmer_income_yuan"].to_numpy() >= eps - 1e-6 * np.abs(eps)).all()
    assert (frontiers["direct"].table["method"] == "direct").all()


@pytest.mark.parametrize("a,b", [("decompose", "direct"), ("direct", "decompose")])
def test_each_frontiers_plans_respect_the_others_bounds(frontiers, a, b):
    """The exact frontier F(x) = max GEP at income ≥ x: a plan of `a` earning ≥ ε_k of `b` is
    feasible there, so its GEP ≤ b's bound at ε_k. Both frontiers bracket the same curve."""
    ta, tb = _ok(frontiers[a].table), _ok(frontiers[b].table)
    for r in tb.itertuples():
        feasible = ta[ta["farmer_income_yuan"] >= r.epsilon_yuan - 1e-6 * abs(r.epsilon_yuan)]
        if len(feasible):
            assert feasible["gep_yuan"].max() <= r.gep_bound_yuan * (1 + 1e-9), (a, b, r.point)
    # and the two bands overlap everywhere: each path's best plan within the other's gap
    for r in tb.itertuples():
        feasible = ta[ta["farmer_income_yuan"] >= r.epsilon_yuan - 1e-6 * abs(r.epsilon_yuan)]
        if len(feasible):
            assert r.gep_yuan >= feasible["gep_yuan"].max() * (1 - 2 * GAP) - 1.0, (a, b, r.point)


def test_decomposed_frontier_is_monotone_and_marks_dominated_points(frontiers):
    t = frontiers["decompose"].table
    low, high = t["frontier_low_yuan"].to_numpy(), t["frontier_high_yuan"].to_numpy()
    assert (np.diff(t["epsilon_yuan"].to_numpy()) > 0).all()
    assert (np.diff(low) <= 1e-6).all() and (np.diff(high) <= 1e-6).all()  # bands fall along ε
    assert (low <= high * (1 + 1e-9)).all()
    gep, bound = t["gep_yuan"].to_numpy(), t["gep_bound_yuan"].to_numpy()
    for k in range(len(t) - 1):
        assert gep[k + 1] <= bound[k] * (1 + 1e-9), "a larger ε cannot beat a smaller ε's bound"
    inc = t["farmer_income_yuan"].to_numpy()
    for k in range(len(t)):
        for j in range(len(t)):
            if j != k and inc[j] >= inc[k] and gep[j] >= gep[k] and (inc[j] > inc[k] or gep[j] > gep[k]):
                assert t["dominated_by"].iloc[k] or t["duplicate_of"].iloc[k], f"{t['point'].iloc[k]} unmarked"
    front = t[(t["duplicate_of"] == "") & (t["dominated_by"] == "")].sort_values("farmer_income_yuan")
    assert (np.diff(front["gep_yuan"].to_numpy()) <= 0).all()
    w = frontiers["decompose"].weighted
    below = t["epsilon_yuan"].to_numpy() <= w["farmer_income_yuan"] + 1e-6
    assert (w["gep_yuan"] <= bound[below] * (1 + 1e-9)).all()


def test_plan_and_state_warm_decomposed_frontiers_agree_within_gaps(instance, frontiers, tmp_path):
    spec = FrontierSpec(instance=str(instance), points=6, weighted=False, warm_state="state",
                        options={"gap": GAP, "threads": 1, "method": "decompose"})  # fmt: skip
    cold = run_frontier(spec, new_frontier_dir(tmp_path, "g"), serial=True).table
    warm = frontiers["decompose"].table
    assert (cold["status"] == "optimal").all() and cold["check_ok"].all()
    for a, b in ((cold, warm), (warm, cold)):
        for r in b.itertuples():
            feasible = a[a["farmer_income_yuan"] >= r.epsilon_yuan - 1e-6 * abs(r.epsilon_yuan)]
            if len(feasible):
                assert feasible["gep_yuan"].max() <= r.gep_bound_yuan * (1 + 1e-9)


def test_one_county_instance_is_not_decomposed(tmp_path):
    from optimizer.analyses.frontier import frontier_method
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from tests.conftest import FUCHUAN

    loaded = load_instance(FUCHUAN)
    spec = FrontierSpec(instance=str(FUCHUAN), options={"method": "decompose"})
    method, why = frontier_method(spec, loaded, validate(loaded))
    assert method == "direct" and "county" in why


def test_price_step_column_in_the_income_row_bounds_the_multipliers_jointly(instance):
    """A price-step column also in the ε row: one joint dual row, and `project` keeps λ inside it."""
    from optimizer.analyses import tradeoff_points as P
    from optimizer.analyses.frontier_decomposed import stage_columns, stage_matrix
    from optimizer.model.matrix import build_matrix
    from optimizer.solve.decompose.structure import split

    b = P.built_model_data(str(instance), [], [], ("regulating", "cultural"))
    base = build_matrix(b.data)
    if not base.o_keys:
        pytest.skip("no price steps in this instance")
    m, _ = stage_matrix(base, stage_columns(b.data, base, b.categories), "epsilon", epsilon_yuan=1e9, bonus=1e-3)
    cp = split(m, b.data.townships).coupling
    assert cp.dual_rows.shape == (len(base.o_keys), cp.n)
    lam = cp.project(np.full(cp.n, 1e3))
    assert (lam >= 0).all()
    assert (cp.dual_rows @ lam >= cp.dual_rhs - 1e-9).all()
    assert np.isfinite(cp.lam_upper[[n.startswith("market_output_beyond_step_def") for n in cp.names]]).sum() == 0


def test_unsplittable_instance_falls_back_to_highs_for_every_point(instance, tmp_path, monkeypatch):
    import optimizer.solve.decompose as D

    def refuse(*args, **kwargs):
        raise D.Unsplittable("no county structure (test)")

    monkeypatch.setattr(D, "decompose", refuse)
    spec = FrontierSpec(instance=str(instance), points=3, weighted=False,
                        options={"gap": 1e-2, "threads": 1, "method": "decompose"})  # fmt: skip
    fr = run_frontier(spec, new_frontier_dir(tmp_path, "g"), serial=True)
    assert (fr.table["method"] == "direct").all() and (fr.table["status"] == "optimal").all()
    assert fr.table["check_ok"].all()


def test_interrupted_decomposed_frontier_resumes_without_solving_finished_points(instance, tmp_path, monkeypatch):
    """Ctrl-C after two ε-points, then --resume: the finished points' folders are kept as they
    are, only the rest is decomposed again, and the resumed frontier is complete."""
    from optimizer.analyses import frontier as F
    from optimizer.solve import decompose as D
    from tests.test_frontier import interrupt_after_two_points

    spec = FrontierSpec(instance=str(instance), points=5, options={"gap": GAP, "threads": 1, "method": "decompose"})
    folder = new_frontier_dir(tmp_path, "g")
    stamps = interrupt_after_two_points(spec, folder)
    real = D.decompose
    calls: list[int] = []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(D, "decompose", counting)
    resumed = run_frontier(F.resume_spec(folder), folder, serial=True)
    assert resumed.folder == F.final_dir(folder) and not folder.exists()
    # the one ε-point left (of p01–p03 two were done) and the weighted optimum, solved last; the
    # payoff stages are kept
    assert len(calls) == 2
    for p, stamp in stamps.items():
        assert (resumed.folder / "points" / p / "summary.json").stat().st_mtime_ns == stamp
    t = resumed.table
    assert len(t) == 5 and t["status"].isin(["optimal", "stopped_feasible"]).all() and t["check_ok"].all()
    assert t["method"].str.startswith("decompose").all()
