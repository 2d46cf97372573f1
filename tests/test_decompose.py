"""The county decomposition against HiGHS and brute force.

- the array model (model/matrix.py) is the Pyomo model, row by row;
- the compiled county search finds HiGHS's optimum on random counties;
- on small generated instances the decomposition's plan and bound bracket the direct
  MILP's optimum, and every plan it returns passes the independent checker;
- on tiny random instances (tests/test_properties.py's strategy) the plan found with
  `--method decompose` is the brute-force optimum and the bound is never below it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyomo.contrib.solver.solvers.highs import Highs

from optimizer.generate import generate_instance
from optimizer.generate.gap import generate_gap_instance
from optimizer.model import build_model, prepare
from optimizer.model.matrix import build_matrix
from optimizer.run import load_and_validate, solve_instance
from optimizer.solve import SolveOptions
from optimizer.solve.decompose import decompose
from optimizer.solve.decompose.counties import CountyChunk, CountyInfeasible
from optimizer.solve.decompose.highs_models import county_mip
from optimizer.solve.method import choose_method

import test_properties as tp  # the brute force and instance strategy (tests/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
#: Township instances: the array model and the decomposition are built for them (village
#: instances decompose over HiGHS's form of the model: tests/test_village_decompose.py).
SHIPPED = [ROOT / "tests" / "data" / "tiny" / "tiny.yaml",
           *sorted(p for p in (ROOT / "instances").glob("*/*.yaml")
                   if "\nvillages:" not in "\n" + p.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> list[Path]:
    """Generated instances of 45–75 townships (3–5 counties), solved exactly by HiGHS in seconds."""
    base = tmp_path_factory.mktemp("small")
    return [generate_instance(base / f"n{n}_s{s}", n, s, table_format="csv") for n, s in ((45, 1), (60, 2), (75, 3))]


# ----------------------------------------------------------------------------- the array model


def _pyomo_rows(path: Path) -> tuple[dict, dict, np.ndarray, object]:
    data = prepare(load_and_validate(path))
    m = build_model(data)
    opt = Highs()
    opt.set_instance(m)
    lp = opt._solver_model.getLp()
    matrix = build_matrix(data)
    col = np.empty(lp.num_col_, dtype=np.int64)
    for (t, i), var in m.industry_chosen.items():
        col[opt._pyomo_var_to_solver_var_map[id(var)]] = matrix.pairs.get_loc((t, i))
    for j, key in enumerate(matrix.o_keys):
        col[opt._pyomo_var_to_solver_var_map[id(m.market_output_beyond_step[key])]] = matrix.n_x + j
    for j, key in enumerate(matrix.y_keys):  # village instances: the leading industries
        col[opt._pyomo_var_to_solver_var_map[id(m.leading_industry[key])]] = matrix.y_start + j
    a = lp.a_matrix_
    start, index, value = np.asarray(a.start_), np.asarray(a.index_), np.asarray(a.value_)
    rows: dict = {}
    for r in range(lp.num_row_):  # Pyomo hands HiGHS a row-wise matrix
        con = opt._solver_con_to_pyomo_con_map[r]
        coef = {int(col[index[k]]): float(value[k]) for k in range(start[r], start[r + 1])}
        rows[(con.parent_component().name, con.index())] = (coef, lp.row_lower_[r], lp.row_upper_[r])
    cost = np.zeros(matrix.n_cols)
    cost[col] = np.asarray(lp.col_cost_)
    mine = {}
    for family, block in matrix.blocks.items():
        for r, key in enumerate(block.keys):
            sel = block.rows == r
            mine[(family, key)] = (dict(zip(block.cols[sel].tolist(), block.vals[sel].tolist())),
                                   block.lower[r], block.upper[r])
    return rows, mine, cost, matrix


def _same(a: float, b: float) -> bool:
    if abs(a) > 1e29 and abs(b) > 1e29:
        return np.sign(a) == np.sign(b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_array_model_is_the_pyomo_model(path: Path) -> None:
    _assert_same_rows(*_pyomo_rows(path))


def _assert_same_rows(rows: dict, mine: dict, cost: np.ndarray, matrix: object) -> None:
    """Every row of the array model is a Pyomo row (up to its sign), bounds and costs alike."""
    assert set(rows) == set(mine)
    for key, (coef, lo, up) in mine.items():
        pc, plo, pup = rows[key]
        assert set(pc) == set(coef), key
        sign = 1.0 if np.sign(pc[next(iter(coef))]) == np.sign(coef[next(iter(coef))]) else -1.0
        assert all(_same(sign * pc[c], coef[c]) for c in coef), key
        want_lo, want_up = (plo, pup) if sign > 0 else (-pup, -plo)
        assert _same(want_lo, lo) and _same(want_up, up), (key, want_lo, want_up, lo, up)
    assert np.allclose(cost, matrix.cost, rtol=1e-12, atol=1e-12)


VILLAGE_INSTANCES = [ROOT / "tests" / "data" / "tiny_villages" / "tiny_villages.yaml",
                     ROOT / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml"]


@pytest.mark.parametrize("path", VILLAGE_INSTANCES, ids=lambda p: p.stem)
def test_array_model_is_the_pyomo_model_of_a_village_instance(path: Path) -> None:
    """Village rows, township rows over villages and the leading-industry rows, column by column."""
    rows, mine, cost, matrix = _pyomo_rows(path)
    assert matrix.y_keys and "leading_industry_share_min" in matrix.blocks
    _assert_same_rows(rows, mine, cost, matrix)


def test_array_model_of_a_generated_village_instance(tmp_path: Path) -> None:
    """Generated village instances keep each village within its own water (per_village)."""
    path = generate_instance(tmp_path / "v", 30, 3, villages_per_township=4, table_format="csv")
    rows, mine, cost, matrix = _pyomo_rows(path)
    assert "water_use_per_village_max" in matrix.blocks
    _assert_same_rows(rows, mine, cost, matrix)


@pytest.mark.parametrize("path", VILLAGE_INSTANCES, ids=lambda p: p.stem)
def test_array_model_states_the_limits_of_a_plan_as_the_pyomo_model_does(path: Path) -> None:
    """The summary's constraint rows of a village plan are the same from either form (the
    independent checker compares them with its own: a binding leading-industry share once
    came out as `lhs − s·A·y ≥ 0` from the arrays)."""
    from optimizer.model.build import FAMILIES, chosen_leading, chosen_pairs
    from optimizer.model.report import constraint_report, matrix_constraint_report
    from optimizer.model.scaling import report_families
    from optimizer.solve import solve

    data = prepare(load_and_validate(path))
    m = build_model(data)
    assert solve(m, SolveOptions(gap=1e-6, time_limit=60)).has_solution
    matrix = build_matrix(data)
    z = matrix.column_values(chosen_pairs(m))
    leading = chosen_leading(m)
    for j, (t, i) in enumerate(matrix.y_keys):
        z[matrix.y_start + j] = 1.0 if leading.get(t) == i else 0.0
    families = report_families(FAMILIES, data.scaling)
    for tol in (1e-6, 1e9):  # the summary's rows; every row (all count as binding at 1e9)
        mine, theirs = matrix_constraint_report(matrix, z, families, tol), constraint_report(m, families, tol)
        assert [(r["name"], r["index"]) for r in mine] == [(r["name"], r["index"]) for r in theirs]
        for a, b in zip(mine, theirs):
            assert a["lhs"] == pytest.approx(b["lhs"], rel=1e-9, abs=1e-6), (a, b)
            assert a["rhs"] == pytest.approx(b["rhs"], rel=1e-9, abs=1e-6), (a, b)
            assert a["binding"] == b["binding"], (a, b)
    assert any(r["family"] == "leading_industry_share_min" for r in mine)


def test_array_model_of_generated_and_gap_instances(small: list[Path], tmp_path: Path) -> None:
    for path in [small[0], generate_gap_instance(tmp_path / "gap", 30, 3, 1)]:
        rows, mine, cost, matrix = _pyomo_rows(path)
        assert set(rows) == set(mine), path
        assert np.allclose(cost, matrix.cost, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- county search


def _random_county(rng: np.random.Generator) -> CountyChunk:
    T = int(rng.integers(1, 8))
    n_ch = rng.integers(1, 5, size=T)
    m = int(rng.integers(1, 4))
    t_start = np.r_[0, np.cumsum(n_ch)].astype(np.int64)
    n = int(t_start[-1])
    use = rng.uniform(0, 100, size=(n, m)) * (rng.random((n, m)) < 0.7)
    lo_sum = np.array([sum(use[t_start[t]:t_start[t + 1], j].min() for t in range(T)) for j in range(m)])
    hi_sum = np.array([sum(use[t_start[t]:t_start[t + 1], j].max() for t in range(T)) for j in range(m)])
    cap = lo_sum + rng.uniform(-0.05, 1.0, size=m) * (hi_sum - lo_sum)  # sometimes infeasible
    return CountyChunk(first=0, first_choice=0, counties=["c"], slot_rows=[[f"row{j}" for j in range(m)]],
                       county_tstart=np.array([0, T], dtype=np.int64), t_start=t_start, ch_use=use,
                       cap=cap.reshape(1, m), cost=rng.normal(0, 50, n).round(3), coupling=np.zeros((n, 0)))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1))
def test_county_search_finds_the_highs_optimum(seed: int) -> None:
    chunk = _random_county(np.random.default_rng(seed))
    h, _ = county_mip(chunk, 0, chunk.cost, 30.0)
    h.run()
    infeasible = h.getModelStatus() == highspy.HighsModelStatus.kInfeasible
    try:
        ans = chunk.price(np.zeros(0))
    except CountyInfeasible:
        assert infeasible
        return
    assert not infeasible
    best = h.getInfo().objective_function_value
    assert abs(ans.value[0] - best) <= 1e-7 * max(1.0, abs(best))
    assert ans.bound[0] >= best - 1e-7 * max(1.0, abs(best))
    picks = ans.choice
    assert np.all(chunk.ch_use[picks].sum(axis=0) <= chunk.cap[0] + 1e-6)  # the plan keeps the county's rows


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1))
def test_county_search_from_a_start_finds_the_same_optimum(seed: int) -> None:
    """A county search that starts from a known plan (the last pass's, or a previous solve's)
    ends at the optimum it finds from nothing, whether the start is optimal, merely feasible
    or breaks the county's rows (then it is ignored)."""
    rng = np.random.default_rng(seed)
    chunk = _random_county(rng)
    try:
        cold = chunk.price(np.zeros(0))
    except CountyInfeasible:
        return
    n_t = int(chunk.county_tstart[-1])
    random_plan = np.array([rng.integers(chunk.t_start[t], chunk.t_start[t + 1]) for t in range(n_t)])
    for start in (cold.choice, random_plan, np.full(n_t, -1)):
        fresh = _random_county(np.random.default_rng(seed))
        fresh.last = np.asarray(start, dtype=np.int64).copy()
        warm = fresh.price(np.zeros(0))
        assert abs(warm.value[0] - cold.value[0]) <= 1e-7 * max(1.0, abs(cold.value[0]))
        assert np.all(fresh.ch_use[warm.choice].sum(axis=0) <= fresh.cap[0] + 1e-6)
        assert np.array_equal(fresh.last, warm.choice)  # the next search starts from this answer


# ----------------------------------------------------------------------------- bracketing


def test_plan_and_bound_bracket_the_direct_optimum(small: list[Path], tmp_path: Path) -> None:
    for path in small:
        direct = solve_instance(path, SolveOptions(method="direct", gap=0.0), results_root=tmp_path / "d")
        assert direct.summary["status"] == "optimal"
        optimum = direct.summary["objective_yuan"]
        data = prepare(load_and_validate(path))
        matrix = build_matrix(data)
        res = decompose(matrix, data.townships, gap=0.0, deadline=time.monotonic() + 60, lns=True)
        unit = matrix.objective_unit_yuan
        assert res.plan is not None
        plan, bound = res.objective * unit, res.bound * unit
        tol = 1e-7 * abs(optimum)
        assert plan <= optimum + tol <= bound + 2 * tol, (path.name, plan, optimum, bound)


def test_decomposed_runs_pass_the_checker(small: list[Path], tmp_path: Path) -> None:
    for path in small:
        res = solve_instance(path, SolveOptions(method="decompose", gap=1e-3), results_root=tmp_path / "r")
        s = res.summary
        assert s["method"]["used"] == "decompose"
        assert res.check_ok is True, res.check_messages
        assert s["bound_yuan"] >= s["objective_yuan"] - 1e-9 * abs(s["objective_yuan"])
        assert (res.run_dir / "decomposition.log").exists()
        # the report lists the same limits as a direct run's would
        assert any(r["family"] == "water_use_per_county_max" for r in s["constraints"])


def test_warm_start_reuses_counties_and_keeps_the_optimum(small: list[Path]) -> None:
    path = small[2]
    data = prepare(load_and_validate(path))
    matrix = build_matrix(data)
    first = decompose(matrix, data.townships, gap=1e-4, deadline=time.monotonic() + 60)
    again = decompose(matrix, data.townships, gap=1e-4, deadline=time.monotonic() + 60, warm=first.state)
    assert again.stats["counties_reused"] == len(matrix.counties)  # same data, same multipliers: nothing re-priced
    assert again.objective >= first.objective - 1e-9 * abs(first.objective)
    assert again.bound <= first.bound * (1 + 1e-12)


def test_auto_says_which_method_and_why(small: list[Path], tmp_path: Path) -> None:
    valid = load_and_validate(small[0])
    method, why = choose_method(SolveOptions().for_size(60), valid.spec, valid.townships)
    assert method == "direct" and "exactly" in why
    gap = load_and_validate(generate_gap_instance(tmp_path / "gap", 400, 5, 1))
    method, why = choose_method(SolveOptions(gap=1e-4), gap.spec, gap.townships)
    assert method == "direct" and "county-level limits" in why
    big = load_and_validate(generate_instance(tmp_path / "n400", 400, 1, table_format="csv"))
    method, why = choose_method(SolveOptions(gap=1e-4), big.spec, big.townships)
    assert method == "decompose" and "400 townships" in why


# ----------------------------------------------------------------------------- brute force


@tp.PROFILE
@given(spec=tp.instances())
def test_decomposition_equals_brute_force_on_tiny_instances(spec: dict) -> None:
    """Forced decomposition at gap 0 (its plan polished by HiGHS) is the brute-force optimum;
    infeasible exactly when brute force finds nothing; bound never below; checker agrees."""
    with tempfile.TemporaryDirectory() as d:
        path = tp.write_instance(spec, Path(d) / "instance")
        brute = tp.BruteForce(tp.read_spec(path)).solve()
        try:
            res = solve_instance(path, SolveOptions(method="decompose", gap=0.0), results_root=Path(d) / "r")
        except tp.InputError:
            assert brute.best is None
            return
        s = res.summary
        if brute.best is None:
            assert s["status"] == "infeasible"
            return
        assert s["status"] == "optimal", s["status"]
        assert tp.close(s["objective_yuan"], brute.best), (s["objective_yuan"], brute.best)
        assert s["bound_yuan"] >= brute.best - tp.REL * max(1.0, abs(brute.best))
        assert res.check_ok is True, res.check_messages


@tp.PROFILE
@given(spec=tp.instances())
def test_decomposition_alone_brackets_brute_force(spec: dict) -> None:
    """Without HiGHS's help: plan ≤ brute-force optimum ≤ Lagrangian bound, on every tiny instance."""
    with tempfile.TemporaryDirectory() as d:
        path = tp.write_instance(spec, Path(d) / "instance")
        brute = tp.BruteForce(tp.read_spec(path)).solve()
        try:
            valid = load_and_validate(path)
        except tp.InputError:
            return
        if valid.conflicts or brute.best is None:
            return
        data = prepare(valid)
        matrix = build_matrix(data)
        try:
            res = decompose(matrix, data.townships, gap=0.0, deadline=time.monotonic() + 20)
        except CountyInfeasible:
            raise AssertionError("a county was declared infeasible although brute force finds a plan") from None
        unit = matrix.objective_unit_yuan
        tol = tp.REL * max(1.0, abs(brute.best))
        assert res.bound * unit >= brute.best - tol
        if res.objective is not None:
            assert res.objective * unit <= brute.best + tol


def test_plan_of_a_decomposition_is_a_township_series(small: list[Path]) -> None:
    data = prepare(load_and_validate(small[0]))
    res = decompose(build_matrix(data), data.townships, gap=1e-3, deadline=time.monotonic() + 30)
    assert isinstance(res.plan, pd.Series)
    assert set(res.plan.index) == set(data.townships.index)


@pytest.mark.parametrize("name", ["zhaotong", "karst3"])
def test_plan_values_and_objective_match_the_solved_pyomo_model(name: str, tmp_path: Path) -> None:
    """column_values (x and the price-step columns, in scaled rows) and the objective of a
    solved plan equal what HiGHS found on the Pyomo model (price steps are reached here)."""
    from optimizer.model.build import chosen_pairs
    from optimizer.solve import solve

    data = prepare(load_and_validate(ROOT / "instances" / name / f"{name}.yaml"))
    m = build_model(data)
    outcome = solve(m, SolveOptions(gap=0.0))
    matrix = build_matrix(data)
    z = matrix.column_values(chosen_pairs(m))
    o = np.array([m.market_output_beyond_step[key].value for key in matrix.o_keys])
    assert np.allclose(z[matrix.n_x:], o, rtol=1e-9, atol=1e-9)
    assert (o > 1e-6).any()  # the price steps matter on this instance
    assert abs(matrix.objective(z) * matrix.objective_unit_yuan - outcome.objective) <= 1e-6 * abs(outcome.objective)


def test_worker_processes_and_dask_price_like_this_process(small: list[Path]) -> None:
    """County subproblems in 2 worker processes, or on a Dask cluster (data scattered once),
    give the same multipliers' answers — the same bound — as in this process."""
    from dask.distributed import LocalCluster

    from optimizer.solve.decompose.dual import sample_duals
    from optimizer.solve.decompose.parallel import DaskPricer, ProcessPricer, SerialPricer
    from optimizer.solve.decompose.structure import split

    data = prepare(load_and_validate(small[2]))
    S = split(build_matrix(data), data.townships)
    lam = sample_duals(S, np.random.default_rng(0))
    serial = SerialPricer(S).price(lam)
    procs = ProcessPricer(S, 2)
    try:
        assert procs.workers == 2
        local = procs.price(lam)
    finally:
        procs.close()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        dask = DaskPricer(S, cluster.scheduler_address)
        try:
            remote = dask.price(lam)
            again = dask.price(lam * 1.01)  # a second pass ships only λ
        finally:
            dask.close()
    for other in (local, remote):
        assert np.allclose(other.value, serial.value, rtol=1e-12)
        assert (other.choice == serial.choice).all()
    assert np.isfinite(again.value).all()


def test_sweep_points_reuse_the_decomposition(small: list[Path], tmp_path: Path) -> None:
    """Decomposed sweep points start from the previous point's state; each reports its own gap;
    differences smaller than the gaps are flagged in the summary."""
    import json

    from optimizer.analyses.sweep import SweepSpec, parse_vary, run_sweep

    spec = SweepSpec(instance=str(small[1]), varies=[parse_vary("constraints.investment_budget_yuan=0.98:1.0:0.01*")],
                     options={"method": "decompose", "gap": 1e-3})
    table = run_sweep(spec, tmp_path, serial=True)
    assert len(table) == 3 and table["gap"].notna().all() and table["check_ok"].all()
    assert "difference_within_gaps" in table.columns
    assert (tmp_path / "sweep_notes.txt").exists()
    reused = []
    for pid in table["point"]:
        s = json.loads((tmp_path / "points" / pid / "summary.json").read_text(encoding="utf-8"))
        assert s["method"]["used"] == "decompose"
        reused.append(s["decomposition"]["counties_reused"])
    assert reused[0] == 0 and all(r > 0 for r in reused[1:])  # a budget change leaves every county's data as it was


def test_village_instances_decompose_by_county_and_say_why(tmp_path: Path) -> None:
    """A village instance asked for the decomposition gets the county-block one (tests/test_village_decompose.py)."""
    village = Path(__file__).parent / "data" / "tiny_villages" / "tiny_villages.yaml"
    res = solve_instance(village, SolveOptions(method="decompose"), results_root=tmp_path)
    assert res.check_ok is True
    assert res.summary["method"]["used"] == "decompose"
    assert "village instance, counties as blocks" in res.summary["method"]["why"]


def test_warm_state_by_ids_reuses_as_the_arrays_do(small: list[Path]) -> None:
    """The id-dictionary fallback (a state whose arrays do not fit) reuses what the arrays reuse."""
    import dataclasses

    path = small[2]
    data = prepare(load_and_validate(path))
    matrix = build_matrix(data)
    first = decompose(matrix, data.townships, gap=1e-4, deadline=time.monotonic() + 60)
    assert first.state.arrays is not None
    by_ids = dataclasses.replace(first.state, plans={}, priced={}).by_ids()
    by_ids = dataclasses.replace(by_ids, arrays=None)
    assert len(by_ids.priced) == len(matrix.counties)
    from_arrays = decompose(matrix, data.townships, gap=1e-4, deadline=time.monotonic() + 60, warm=first.state)
    from_ids = decompose(matrix, data.townships, gap=1e-4, deadline=time.monotonic() + 60, warm=by_ids)
    assert from_ids.stats["counties_reused"] == from_arrays.stats["counties_reused"] == len(matrix.counties)
    assert abs(from_ids.objective - from_arrays.objective) <= 1e-4 * abs(from_arrays.objective)


def test_rounded_master_meets_the_coupling_rows_and_never_beats_the_exact_master(small: list[Path]) -> None:
    """The rounded master LP (fractional and near-tie counties settled by a small MIP) gives a plan
    that meets every coupling row, worth no more than the restricted master's optimum over the
    same pool; county plans added in bulk carry the values and uses they carry one by one."""
    from optimizer.solve.decompose import _coupling_ok
    from optimizer.solve.decompose.dual import Cuts, sample_duals
    from optimizer.solve.decompose.parallel import SerialPricer
    from optimizer.solve.decompose.primal import restricted_master, rounded_master
    from optimizer.solve.decompose.structure import split

    for path in small:
        data = prepare(load_and_validate(path))
        matrix = build_matrix(data)
        S = split(matrix, data.townships)
        lam = sample_duals(S, np.random.default_rng(0))
        price, cuts = SerialPricer(S), Cuts()
        for k in range(4):
            cuts.add(S, price.price(lam * (1 + 0.2 * k)).choice)
        exact = restricted_master(S, cuts, 30.0, 1e-9)
        rounded, _ = rounded_master(S, cuts, 30.0, 1e-9)
        assert exact is not None and rounded is not None
        assert _coupling_ok(S, rounded)
        value = lambda ch: matrix.objective(matrix.column_values_at(S.ch_col[ch]))  # noqa: E731
        assert value(rounded) <= value(exact) + 1e-7 * max(1.0, abs(value(exact)))

        bulk = Cuts()
        assert bulk.add_plans(S, list(zip(cuts.county, cuts.plan)) * 2) == len(cuts)  # duplicates added once
        assert bulk.county == cuts.county
        assert np.allclose(bulk.value, cuts.value, rtol=1e-12)
        assert np.allclose(np.asarray(bulk.use), np.asarray(cuts.use), rtol=1e-12)


def _pool_of_plans(path: Path) -> tuple:
    """A small instance's split, sample multipliers, a pricer and the county plans of three
    pricing passes around those multipliers."""
    from optimizer.solve.decompose.dual import Cuts, sample_duals
    from optimizer.solve.decompose.parallel import SerialPricer
    from optimizer.solve.decompose.structure import split

    data = prepare(load_and_validate(path))
    S = split(build_matrix(data), data.townships)
    lam = sample_duals(S, np.random.default_rng(0))
    price, cuts = SerialPricer(S), Cuts()
    for k in range(3):
        cuts.add(S, price.price(lam * (1 + 0.2 * k)).choice)
    return S, lam, price, cuts


def test_master_lp_starts_from_the_previous_basis(small: list[Path]) -> None:
    """The master LP's basis, named by county plans, starts the next master LP: over the same
    pool HiGHS needs no simplex iteration from it, over a pool with more plans (in another
    order) and a moved limit it reaches the same optimum as from scratch; the rounded plan
    meets the coupling rows either way."""
    from optimizer.solve.decompose import _coupling_ok
    from optimizer.solve.decompose.dual import Cuts
    from optimizer.solve.decompose.primal import _master, _start_from, rounded_master

    S, lam, price, cuts = _pool_of_plans(small[2])
    choice, basis = rounded_master(S, cuts, 30.0, 1e-9)
    assert choice is not None and basis is not None and len(basis.duals) == S.coupling.n

    def lp(pool: Cuts, start: object) -> tuple[float, int]:
        h, K = _master(S, pool, {"threads": 1}, integer=False)
        if start is not None:
            _start_from(h, K, dict(pool.seen), start)
        h.run()
        return h.getInfo().objective_function_value, h.getInfo().simplex_iteration_count

    value, iterations = lp(cuts, basis)
    assert iterations == 0 and abs(value - basis.value) <= 1e-9 * max(1.0, abs(value))
    assert lp(cuts, None)[1] > 0  # from scratch HiGHS does iterate: the test above can fail

    budget = S.coupling.names.index("investment_budget_max")
    S.coupling.rhs[budget] *= 0.97
    more = Cuts()
    more.add(S, price.price(lam * 0.7).choice)  # a new plan first: every known plan moves a column
    more.add_plans(S, list(zip(cuts.county, cuts.plan)))
    warm_value, _ = lp(more, basis)
    cold_value, _ = lp(more, None)
    assert abs(warm_value - cold_value) <= 1e-7 * max(1.0, abs(cold_value))
    moved, _ = rounded_master(S, more, 30.0, 1e-9, basis=basis)
    assert moved is not None and _coupling_ok(S, moved)

    # the pool only grew: the previous HiGHS model takes the new plans and the moved limit,
    # and its LP equals a fresh one's
    _, basis = rounded_master(S, cuts, 30.0, 1e-9)
    S.coupling.rhs[budget] *= 1.02
    grown = Cuts()
    grown.take_over(cuts, [])
    assert grown.add(S, price.price(lam * 0.5).choice)  # at least one new plan
    kept = basis.highs
    moved, after = rounded_master(S, grown, 30.0, 1e-9, basis=basis)
    assert after.highs is kept and basis.highs is None  # extended, and taken from the old state
    assert after.highs.getNumCol() == S.matrix.n_cols - S.matrix.n_x + len(grown)
    assert abs(after.value - lp(grown, None)[0]) <= 1e-9 * max(1.0, abs(after.value))
    assert moved is not None and _coupling_ok(S, moved)


def test_the_dual_master_is_taken_over_only_when_it_holds_the_same_plans(small: list[Path]) -> None:
    """A previous solve's box-step master becomes the next solve's when every cut it holds is
    a plan of the new pool with the same value and use: then its step from the same centre
    equals a freshly built master's at the new limits; a changed value refuses it."""
    from optimizer.solve.decompose.dual import BoxStepMaster, Cuts

    S, lam, price, cuts = _pool_of_plans(small[2])
    old = BoxStepMaster(S)
    old.add(cuts, list(range(len(cuts))))
    delta = np.maximum(np.abs(lam), 1e-3)
    old.solve(lam, delta)

    budget = S.coupling.names.index("investment_budget_max")
    S.coupling.rhs[budget] *= 0.95
    grown = Cuts()
    grown.take_over(cuts, [])
    grown.add(S, price.price(lam * 0.5).choice)
    assert old.take_over(S, grown) and old.n_rows == len(grown)
    fresh = BoxStepMaster(S)
    fresh.add(grown, list(range(len(grown))))
    _, value_old, _ = old.solve(lam, delta)
    _, value_new, _ = fresh.solve(lam, delta)
    assert abs(value_old - value_new) <= 1e-7 * max(1.0, abs(value_new))

    changed = Cuts()
    changed.take_over(grown, [])
    changed.value[0] += 1.0
    assert not BoxStepMaster.take_over(old, S, changed)


def test_county_fingerprints_change_exactly_where_the_county_data_does(small: list[Path]) -> None:
    """A sweep point reuses a county's answer when its fingerprint is unchanged: the same data
    gives the same fingerprints, and a changed cost, county limit or coupling coefficient
    changes the fingerprint of that county and of no other."""
    import copy

    from optimizer.solve.decompose.structure import fingerprints, split

    path = small[1]
    data = prepare(load_and_validate(path))
    base = build_matrix(data)
    S = split(base, data.townships)
    fp = fingerprints(S)
    assert len(set(fp)) == len(fp) == len(base.counties)
    assert fingerprints(split(build_matrix(data), data.townships)) == fp

    def changed(edit) -> set[int]:  # type: ignore[no-untyped-def]
        m = copy.deepcopy(base)
        edit(m)
        other = fingerprints(split(m, data.townships))
        return {c for c, (a, b) in enumerate(zip(fp, other)) if a != b}

    col = int(S.ch_col[S.choices_of(1)][0])  # a pair the county can choose

    def cost(m):  # type: ignore[no-untyped-def]
        m.cost[col] *= 1.01

    water = base.blocks["water_use_per_county_max"]
    county = base.counties.index(str(water.keys[0]))

    def cap(m):  # type: ignore[no-untyped-def]
        m.blocks["water_use_per_county_max"].upper[0] *= 0.9

    market = base.blocks["market_output_max"]
    entry = int(np.flatnonzero(market.cols < base.n_x)[0])

    def coupling(m):  # type: ignore[no-untyped-def]
        m.blocks["market_output_max"].vals[entry] *= 1.1

    assert changed(cost) == {1}
    assert changed(cap) == {county}
    assert changed(coupling) == {int(base.county[market.cols[entry]])}


def _by_pair(S) -> dict:  # type: ignore[no-untyped-def]
    """Each choice's county, cost and local-row use, by (township id, industry): a split's data
    whatever order it keeps the townships in."""
    M = S.matrix
    tids, inds = M.pairs.get_level_values(0), M.pairs.get_level_values(1)
    ch_county = np.repeat(S.t_county, np.diff(S.t_start))
    return {(tids[j], inds[j]): (int(ch_county[k]), float(M.cost[j]), tuple(S.ch_use[k].tolist()))
            for k, j in enumerate(S.ch_col.tolist())}


def test_a_patched_split_equals_a_fresh_one(small: list[Path]) -> None:
    """`split_like` (a sweep point's split from the previous point's) holds the same numbers as
    `split` for a changed county limit, cost, budget or market coefficient, and re-fingerprints
    exactly the counties whose data changed; what would move rows gives None (a fresh split)."""
    import copy

    from optimizer.solve.decompose.structure import fingerprints, split, split_like

    data = prepare(load_and_validate(small[1]))
    base = build_matrix(data)
    S0 = split(base, data.townships)
    fp0 = list(fingerprints(S0))
    col = int(S0.ch_col[S0.choices_of(2)][0])
    market = base.blocks["market_output_max"]
    entry = int(np.flatnonzero(market.cols < base.n_x)[0])
    water_county = base.counties.index(str(base.blocks["water_use_per_county_max"].keys[0]))

    def water(m):  # type: ignore[no-untyped-def]
        m.blocks["water_use_per_county_max"].upper[0] *= 0.8

    def cost(m):  # type: ignore[no-untyped-def]
        m.cost[col] *= 1.05

    def budget(m):  # type: ignore[no-untyped-def]
        m.blocks["investment_budget_max"].upper[0] *= 0.95

    def coefficient(m):  # type: ignore[no-untyped-def]
        m.blocks["market_output_max"].vals[entry] *= 1.1

    cases = [(water, {water_county}), (cost, {2}), (budget, set()),
             (coefficient, {int(base.county[market.cols[entry]])})]
    for edit, counties in cases:
        m = copy.deepcopy(base)
        edit(m)
        patched, fresh = split_like(S0, m, data.townships), split(m, data.townships)
        assert patched is not None, edit.__name__
        assert _by_pair(patched) == _by_pair(fresh), edit.__name__
        assert np.array_equal(patched.cap, fresh.cap) and patched.slot_rows == fresh.slot_rows
        for name in ("rhs", "rows", "cols", "vals", "lam_upper"):
            assert np.array_equal(getattr(patched.coupling, name), getattr(fresh.coupling, name)), (edit.__name__, name)
        assert patched.coupling.names == fresh.coupling.names
        again = copy.copy(patched)
        again.fingerprints = []
        assert patched.fingerprints == fingerprints(again), edit.__name__  # the patched ones are what they should be
        assert {c for c, (a, b) in enumerate(zip(fp0, patched.fingerprints)) if a != b} == counties, edit.__name__

    def township_row(m):  # type: ignore[no-untyped-def]
        fam = next(f for f in m.blocks if f.startswith("water_use_per_township"))
        m.blocks[fam].upper[:] *= 0.5

    def unlimited(m):  # type: ignore[no-untyped-def]
        m.blocks["water_use_per_county_max"].upper[0] = np.inf

    for edit in (township_row, unlimited):
        m = copy.deepcopy(base)
        edit(m)
        assert split_like(S0, m, data.townships) is None, edit.__name__


def test_settle_by_enumeration_matches_brute_force():
    """The rounded master's small MIP, weighed in numpy, equals plain enumeration with the
    price step at its least value (o ≥ lhs − room, cost ≤ 0), or reports no fit."""
    import itertools

    from optimizer.solve.decompose.primal import _settle_by_enumeration

    rng = np.random.default_rng(3)
    for _ in range(60):
        n_g, G = int(rng.integers(1, 5)), 3
        sizes = rng.integers(1, 4, n_g)
        group = np.repeat(np.arange(n_g), sizes)
        value = rng.normal(10, 3, len(group))
        use = rng.normal(1, 1, (len(group), G))
        room = rng.normal(n_g, 1.5, G)
        o_cost, o_rows, o_cols, o_vals = np.array([-0.5]), np.array([2]), np.array([0]), np.array([-1.0])
        got = _settle_by_enumeration(value, use, group, room, np.zeros(G), o_cost, o_rows, o_cols, o_vals)
        best = None
        for combo in itertools.product(*[np.flatnonzero(group == g) for g in range(n_g)]):
            lhs = use[list(combo)].sum(axis=0)
            if (lhs[:2] > room[:2]).any():
                continue
            v = value[list(combo)].sum() - 0.5 * max(0.0, lhs[2] - room[2])
            best = v if best is None or v > best else best
        if best is None:
            assert got is None
        else:
            assert got is not None and got is not NotImplemented
            assert got[1] == pytest.approx(best)
            assert len(set(group[got[0]])) == n_g  # one plan per county
