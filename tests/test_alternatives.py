"""`optimizer alternatives` against brute force: within the slack, and maximally different.

Brute force (tests/test_properties.py, from docs/model.md) enumerates every plan of a
small instance. For each alternative k, given the optimum and alternatives 1..k−1, it
must be (a) feasible and within the slack of the optimum, (b) as far as any feasible
plan within the slack can be from the nearest earlier plan, then as far in total, and
(c) the best objective among such plans. --keep, --max-changes and --by area are checked
the same way, and bad options exit 2 with a located message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.analyses.alternatives import find_alternatives
from optimizer.cli import Exit, app
from optimizer.solve import SolveOptions
from tests import uncertain_instance
from tests.conftest import TINY
from tests.test_properties import BruteForce, read_spec

REL = 1e-6
runner = CliRunner()


def _check_against_brute_force(instance: Path, result, weights: np.ndarray, within: float,
                               keep: dict[int, str] | None = None, max_changes: int | None = None) -> None:
    bf = BruteForce(read_spec(instance))
    plans = bf.all_plans()
    feasible, objective, _ = bf.judge(plans)
    best = objective[feasible].max()
    assert result.optimum_objective_yuan == pytest.approx(best, rel=REL)
    floor = best - within * abs(best)
    names = np.array(bf.industries)
    options = names[plans]  # plan × township industry ids
    ok = feasible & (objective >= floor - REL * abs(floor))
    opt = np.array(result.plans["optimum"].tolist())
    if keep:
        for j, ind in keep.items():
            ok &= options[:, j] == ind
    if max_changes is not None:
        ok &= (options != opt).sum(axis=1) <= max_changes
    earlier = [opt]
    for name, plan in list(result.plans.items())[1:]:
        p = np.array(plan.tolist())
        k = next(i for i in range(len(plans)) if (options[i] == p).all())
        assert ok[k], f"{name} is not a feasible plan within the slack"
        assert objective[k] >= (1 - within) * best - REL * abs(best)
        dist = np.array([((options != e) * weights).sum(axis=1) for e in earlier])  # earlier × plans
        key_min, key_sum = dist.min(axis=0), dist.sum(axis=0)
        top = ok & np.isclose(key_min, key_min[ok].max())
        top &= np.isclose(key_sum, key_sum[top].max())
        assert top[k], f"{name}: a plan within the slack is more different (min {key_min[ok].max()} vs {key_min[k]})"
        assert objective[k] == pytest.approx(objective[top].max(), rel=REL), f"{name}: a better equally different plan"
        earlier.append(p)
    # Stopping early is right only if no plan within the slack differs from every earlier plan.
    if len(result.plans) - 1 < result.n_asked:
        dist = np.array([((options != e) * weights).sum(axis=1) for e in earlier])
        assert not (ok & (dist.min(axis=0) > 0)).any()
    row = result.table.set_index("plan")
    assert row["within_slack"].all() and row["check_ok"].all()


@pytest.mark.parametrize(("instance", "within", "n", "by"), [
    ("tiny", 0.10, 4, "townships"), ("tiny", 0.03, 3, "area"), ("uncertain", 0.05, 3, "townships"),
    ("uncertain", 0.15, 2, "area"), ("uncertain", 0.0, 2, "townships"),
])
def test_alternatives_are_within_the_slack_and_most_different(tmp_path, instance, within, n, by):
    path = TINY if instance == "tiny" else uncertain_instance.write(tmp_path / "inst")
    result = find_alternatives(path, within=within, n=n, by=by, options=SolveOptions(gap=0.0),
                               results_root=tmp_path / "r")
    result.n_asked = n
    area = pd.read_csv(path.parent / "townships.csv")["plannable_area_ha"].to_numpy(float)
    weights = area if by == "area" else np.ones(len(area))
    _check_against_brute_force(path, result, weights, within)
    flex = result.flexibility
    for r in flex.itertuples(index=False):
        taken = {result.plans[p][r.township_id] for p in result.plans}
        assert r.forced == (len(taken) == 1) and r.industries_taken == len(taken)
    assert (result.folder / "alternatives.gpkg").exists()
    assert (result.folder / "alt1" / "check.json").exists() == (len(result.plans) > 1)


def test_keep_and_max_changes(tmp_path):
    path = uncertain_instance.write(tmp_path / "inst")
    result = find_alternatives(path, within=0.2, n=3, keep="T2,T3", max_changes=2, options=SolveOptions(gap=0.0),
                               results_root=tmp_path / "r")
    result.n_asked = 3
    opt = result.plans["optimum"]
    for name, plan in result.plans.items():
        assert plan["T2"] == opt["T2"] and plan["T3"] == opt["T3"]
        assert (plan != opt).sum() <= 2
    _check_against_brute_force(path, result, np.ones(5), 0.2, keep={1: opt["T2"], 2: opt["T3"]}, max_changes=2)
    assert result.flexibility.set_index("township_id").loc[["T2", "T3"], "forced"].all()


@pytest.mark.parametrize(("args", "words"), [
    (["--within", "-1%"], "the slack must be ≥ 0"),
    (["--within", "5"], "a bare number is a share"),
    (["--within", "two"], "is not a share"),
    (["-n", "0"], "ask for at least 1 alternative"),
    (["--keep", "T9"], "unknown township 'T9'"),
    (["--keep", "Alpha"], "'Alpha' is the name of township T1"),
    (["--max-changes", "-1"], "--max-changes -1"),
    (["--by", "hectares"], "use townships or area"),
])
def test_bad_options_are_located_exit_2(tmp_path, args, words):
    res = runner.invoke(app, ["alternatives", str(TINY), "--results", str(tmp_path), *args])
    assert res.exit_code == Exit.INVALID_INPUT, res.output
    assert words in res.output and "command line" in res.output and "Traceback" not in res.output
    assert not list(tmp_path.rglob("alternatives.csv"))


def test_cli_alternatives_prints_the_flexibility(tmp_path):
    res = runner.invoke(app, ["alternatives", str(TINY), "--within", "10%", "-n", "2", "--gap", "0",
                              "--results", str(tmp_path)])
    assert res.exit_code == Exit.OK, res.output
    assert "near-optimal plans" in res.output and "Flexibility:" in res.output and "open to choice" in res.output
    folder = next((tmp_path / "tiny").glob("alternatives-*"))
    flex = pd.read_csv(folder / "flexibility.csv", dtype={"township_id": str})
    assert set(flex["status"]) <= {"forced", "open"} and len(flex) == 4


@pytest.mark.parametrize(("within", "keep", "max_changes"), [(0.05, None, None), (0.2, "T3", None), (0.2, None, 1)])
def test_prove_forced_is_exact(tmp_path, within, keep, max_changes):
    path = uncertain_instance.write(tmp_path / "inst")
    result = find_alternatives(path, within=within, n=1, keep=keep, max_changes=max_changes, prove_forced=True,
                               options=SolveOptions(gap=0.0), results_root=tmp_path / "r")
    bf = BruteForce(read_spec(path))
    plans = bf.all_plans()
    feasible, objective, _ = bf.judge(plans)
    best = objective[feasible].max()
    options = np.array(bf.industries)[plans]
    ok = feasible & (objective >= best - within * abs(best) - REL * abs(best))
    opt = np.array(result.plans["optimum"].tolist())
    if keep:
        ok &= options[:, 2] == opt[2]
    if max_changes is not None:
        ok &= (options != opt).sum(axis=1) <= max_changes
    flex = result.flexibility.reset_index(drop=True)
    reopened = 0
    for j, r in flex.iterrows():
        can_change = bool((ok & (options[:, j] != opt[j])).any())
        if r["forced"] and r["township_id"] != keep:
            assert r["forced_proven"] == (not can_change), r["township_id"]
            if can_change:
                reopened += 1
                assert r["could_also_take"] in set(options[ok & (options[:, j] != opt[j]), j])
        if not can_change:
            assert r["forced"]
    if max_changes == 1:  # one change at a time: the plans found leave townships that the probe shows can change
        assert reopened > 0


def test_flexibility_layer_is_styled(tmp_path):
    from optimizer.analyses.alternatives import flexibility_style
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.outputs.style import layer_qml

    result = find_alternatives(TINY, within=0.1, n=2, options=SolveOptions(gap=0.0), results_root=tmp_path)
    flex = result.flexibility
    assert set(flex.loc[~flex["forced"], "flexibility_class"]) == {"open"}
    assert (flex.loc[flex["forced"], "flexibility_class"] == flex.loc[flex["forced"], "optimum_industry"]).all()
    # TINY has no geometry (its GeoPackage holds aliases only); the style must fit the layer's columns.
    qml = layer_qml(flexibility_style(validate(load_instance(TINY))), flex, "Polygon", {})
    assert 'attr="flexibility_class"' in qml and "open" in qml
