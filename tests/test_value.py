"""`optimizer value`: marginal values against brute force, metamorphic properties, LP prices, bad input."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from optimizer.analyses.value import ValueSpec, new_value_dir, prepare_value, run_value
from optimizer.errors import InputError
from tests.conftest import FUCHUAN, TINY
from tests.test_properties import PROFILE, BruteForce, instances, read_spec, write_instance

GAP0 = {"gap": 0.0, "threads": 1}


def _value(path: Path, folder: Path, **kw) -> object:
    spec = ValueSpec(instance=str(path), options=kw.pop("options", dict(GAP0)), **kw)
    return run_value(spec, new_value_dir(folder, "v"), serial=True)


# --------------------------------------------------------------------------- brute force


def moved_spec(spec: dict, limit: str, direction: str, pct: float = 5.0) -> dict:
    """The instance with one limit moved by pct% of its value, written from the limit's meaning."""
    s = copy.deepcopy(spec)
    cons = s.setdefault("constraints", {})
    family, _, index = limit.partition("[")
    index = index.rstrip("]")
    cap = {"relax": 1 + pct / 100, "tighten": 1 - pct / 100}[direction]  # a "≤" limit grows when relaxed
    floor = {"relax": 1 - pct / 100, "tighten": 1 + pct / 100}[direction]  # a "≥" limit shrinks
    if family == "water_use_per_county_max":
        cons["water"]["county_max_m3"][index] *= cap
    elif family == "water_use_per_basin_max":
        cons["water"]["basin_max_m3"][index] *= cap
    elif family == "pv_capacity_per_county_max":
        cons["grid_county_max_mw"][index] *= cap
    elif family == "market_output_max":
        cons["markets"][index]["max_output"] *= cap
    elif family == "investment_budget_max":
        cons["investment_budget_yuan"] *= cap
    elif family == "conservation_area_min":
        cons["min_conservation_share"] *= floor
    elif family == "conservation_area_per_county_min":
        cons["min_conservation_share_per_county"] *= floor
    elif family == "farmer_income_per_township_min":
        f = cons["income_floor"]
        if f.get("min_yuan_per_ha") is not None:
            v = f["min_yuan_per_ha"]
            f["min_yuan_per_ha"] = v + (floor - 1) * abs(v)
        if f.get("min_share_of_baseline") is not None:
            f["min_share_of_baseline"] = f["min_share_of_baseline"] * floor
    else:
        raise AssertionError(f"unknown limit {limit}")
    return s


def assert_values_match_brute_force(path: Path, folder: Path) -> object:
    spec = read_spec(path)
    base = BruteForce(spec).solve()
    if base.best is None:
        return None
    try:
        res = _value(path, folder)
    except InputError:  # a limit that cannot move by 5% (e.g. a share already 1)
        return None
    for r in res.table.to_dict(orient="records"):
        for direction in ("relax", "tighten"):
            status = r.get(f"{direction}_status")
            if status is None:
                continue
            other = BruteForce(moved_spec(spec, r["limit"], direction)).solve()
            if other.best is None:
                assert status == "infeasible", (r["limit"], direction, status)
                continue
            assert status == "optimal", (r["limit"], direction, status, r.get(f"{direction}_note"))
            want = (other.best - base.best) if direction == "relax" else (base.best - other.best)
            got = r[f"{direction}_delta_objective_yuan"]
            assert r[f"{direction}_resolved"], (r["limit"], direction)
            assert abs(got - want) <= 1e-6 * max(1.0, abs(base.best)), (r["limit"], direction, got, want)
            assert r[f"{direction}_check_ok"] is True
    return res


def test_tiny_values_match_brute_force(tmp_path):
    res = assert_values_match_brute_force(TINY, tmp_path)
    assert res is not None and len(res.table) == 4  # county water A, fruit market, grid B, conservation share


@settings(PROFILE, max_examples=min(6, PROFILE.max_examples) if PROFILE.max_examples <= 25 else PROFILE.max_examples)
@given(spec=instances())
def test_values_match_brute_force(spec: dict) -> None:
    with tempfile.TemporaryDirectory() as d:
        assert_values_match_brute_force(write_instance(spec, Path(d) / "instance"), Path(d))


# --------------------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from optimizer.generate import generate_instance

    return generate_instance(tmp_path_factory.mktemp("gen"), 25, 2, table_format="csv")


def test_relaxing_never_lowers_the_optimum_beyond_the_gap(generated, tmp_path):
    res = _value(generated, tmp_path, options={"gap": 1e-3}, limits=["market", "budget", "conservation",
                                                                      "water_use_per_county_max[county_0001]"])  # fmt: skip
    t = res.table
    assert len(t) >= 4
    for d in ("relax", "tighten"):  # relax: gain ≥ 0; tighten: cost ≥ 0 — up to what the gaps resolve
        ok = t[f"{d}_status"] == "optimal"
        assert ok.all(), t[[f"{d}_status", f"{d}_note"]]
        assert (t[f"{d}_delta_objective_yuan"] >= -t[f"{d}_resolution_yuan"] - 1e-6).all(), t
        resolved = t[t[f"{d}_resolved"]]
        assert (resolved[f"{d}_value_per_unit"] >= 0).all()
        assert t[f"{d}_check_ok"].all()


def test_a_difference_inside_the_gaps_is_not_a_number(generated, tmp_path):
    res = _value(generated, tmp_path, options={"gap": 0.2}, limits=["budget"])
    r = res.table.iloc[0]
    assert r["relax_resolution_yuan"] > abs(r["relax_delta_objective_yuan"])
    assert not r["relax_resolved"] and np.isnan(r["relax_value_per_unit"])


def test_lp_relaxation_price_is_the_lp_slope(tmp_path):
    """The relaxation price of the grid limit is the LP's objective change per MWp, in yuan/yr."""
    import pyomo.environ as pyo

    from optimizer.model import build_model, prepare
    from optimizer.solve import SolveOptions, solve

    res = _value(FUCHUAN, tmp_path, limits=["grid"])
    price = res.table.iloc[0]["lp_price_relaxation"]
    valid, _limits, _moves = prepare_value(ValueSpec(instance=str(FUCHUAN)))

    def lp(extra_mw: float) -> float:
        data = prepare(valid)
        m = build_model(data)
        for v in m.industry_chosen.values():
            v.domain = pyo.UnitInterval
        con = m.pv_capacity_per_county_max["富川瑶族自治县"]
        # the row is in MWp times its family's scale (model/scaling.py)
        con.set_value(con.body <= con.upper + extra_mw * data.scaling.row("pv_capacity_per_county_max"))
        return solve(m, SolveOptions(gap=0.0)).objective

    slope = lp(1.0) - lp(0.0)
    assert price > 0 and slope == pytest.approx(price, rel=1e-6)
    assert res.table.iloc[0]["lp_price_plan_fixed"] == 0.0  # whole townships: nothing can use one more MWp


def test_fuchuan_grid_is_worth_most_and_switches_townships(tmp_path):
    res = _value(FUCHUAN, tmp_path, options={"gap": 0.0}, limits=["grid", "water", "market"])
    t = res.table.set_index("limit")
    grid = t.loc["pv_capacity_per_county_max[富川瑶族自治县]"]
    assert grid["rank"] == 1 and grid["relax_resolved"] and grid["relax_value_per_unit"] > 0
    assert grid["relax_townships_switching"] > 0
    assert t.loc["water_use_per_county_max[富川瑶族自治县]", "relax_delta_objective_yuan"] == 0.0
    sw = pd.read_csv(res.folder / "value_switches.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    assert {"limit", "direction", "township_id", "from", "to"} <= set(sw.columns) and len(sw)
    assert (res.folder / "values.csv").exists() and (res.folder / "manifest.json").exists()
    assert not res.folder.name.endswith(".partial")


# --------------------------------------------------------------------------- bad input


def _cli(args: list[str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from optimizer.cli import app

    r = CliRunner().invoke(app, args)
    return r.exit_code, r.output


@pytest.mark.parametrize("args, words", [
    (["--limit", "water_use_per_county_max[Z]"], "did you mean 'water_use_per_county_max[A]'"),
    (["--step", "water_use_per_county_max[A]=20000"], "makes the limit negative"),
    (["--step", "conservation=2"], "above 1"),
    (["--step", "income_floor=100"], "by a percentage"),
    (["--step", "gird=5%"], "did you mean 'grid'"),
    (["--step", "-5%"], "positive number"),
])  # fmt: skip
def test_bad_limits_and_steps_exit_2_without_traceback(tmp_path, args, words):
    inst = TINY
    if "income_floor" in " ".join(args):
        spec = read_spec(TINY)
        spec["constraints"]["income_floor"] = {"min_share_of_baseline": 0.5}
        inst = write_instance(spec, tmp_path / "inst")
    code, text = _cli(["value", str(inst), "--serial", "--results", str(tmp_path / "r"), *args])
    assert code == 2, text
    assert words in text and "Traceback" not in text
    assert not (tmp_path / "r").exists()


def test_cli_value_prints_the_ranked_table(tmp_path):
    code, text = _cli(["value", str(TINY), "--serial", "--gap", "0", "--results", str(tmp_path)])
    assert code == 0, text
    assert "What each limit is worth" in text and "values.csv" in text
    assert "county water" in text and "±750 m³" in text  # plain words at 80 columns; values.csv has row names
    code, text = _cli(["value", str(TINY), "--serial", "--gap", "0", "--results", str(tmp_path),
                       "--limit", "water_use_per_county_max [A]", "--step", "water_use_per_county_max [A]=10%"])
    assert code == 0, text
    assert "county water" in text and "±1,500 m³" in text and "grid quota" not in text


@pytest.mark.parametrize("status, code, words", [
    ("time_limit_no_solution", 4, "stopped at the time limit before HiGHS found any plan"),
    ("failed", 1, "The base solve failed: RuntimeError: simulated"),
])  # fmt: skip
def test_base_without_a_plan_is_said_plainly(tmp_path, monkeypatch, status, code, words):
    import optimizer.analyses.value as V

    real = V.resolve_task
    resolved: list[str] = []

    def no_base_plan(spec_dict, folder, run_id, sets, start_from, lang):
        if run_id == "base":
            return {"run_id": run_id, "status": status, "termination": "time limit",
                    "error": "RuntimeError: simulated" if status == "failed" else None}
        resolved.append(run_id)
        return real(spec_dict, folder, run_id, sets, start_from, lang)

    monkeypatch.setattr(V, "resolve_task", no_base_plan)
    code_, text = _cli(["value", str(TINY), "--serial", "--results", str(tmp_path)])
    assert code_ == code, text
    assert words in " ".join(text.split()) and "Traceback" not in text
    assert resolved == []  # the queued re-solves are dropped, not run


def test_warm_start_waits_for_the_base_plan_and_gives_the_cold_values(tmp_path):
    import optimizer.analyses.value as V

    cold = _value(TINY, tmp_path / "c")
    seen: list[tuple[str, bool]] = []
    real = V.resolve_task

    def spy(spec_dict, folder, run_id, sets, start_from, lang):
        seen.append((run_id, bool((start_from or {}).get("plan"))))
        return real(spec_dict, folder, run_id, sets, start_from, lang)

    import unittest.mock

    with unittest.mock.patch.object(V, "resolve_task", spy):
        warm = _value(TINY, tmp_path / "w", warm_start=True)
    assert seen[0] == ("base", False) and all(started for rid, started in seen[1:]) and len(seen) > 1
    cols = ["limit", "relax_delta_objective_yuan", "tighten_delta_objective_yuan"]
    pd.testing.assert_frame_equal(cold.table[cols].sort_values("limit").reset_index(drop=True),
                                  warm.table[cols].sort_values("limit").reset_index(drop=True))


def test_decomposed_re_solves_start_from_the_base_solves_state(tmp_path):
    """With --warm-start and the county decomposition, each re-solve gets the base solve's
    DecompositionState (not only its plan), and the values equal the cold ones within the gaps."""
    import unittest.mock

    import optimizer.analyses.value as V
    from optimizer.generate import generate_instance

    generate_instance(tmp_path / "g", 300, 2, table_format="csv")
    inst = tmp_path / "g" / "instance.yaml"
    options = {"method": "decompose", "gap": 1e-3}
    limits = ["water_use_per_county_max[county_0003]", "investment_budget_max"]
    seen: list[tuple[str, bool]] = []
    real = V.resolve_task

    def spy(spec_dict, folder, run_id, sets, start_from, lang):
        seen.append((run_id, (start_from or {}).get("warm_state") is not None))
        return real(spec_dict, folder, run_id, sets, start_from, lang)

    cold = _value(inst, tmp_path / "c", options=dict(options), limits=limits)
    with unittest.mock.patch.object(V, "resolve_task", spy):
        warm = _value(inst, tmp_path / "w", options=dict(options), limits=limits, warm_start=True)
    assert seen[0] == ("base", False) and len(seen) == 5 and all(s for _, s in seen[1:])
    assert "warm_state" not in warm.base
    for d in ("relax", "tighten"):
        c = cold.table.set_index("limit")[f"{d}_delta_objective_yuan"]
        w = warm.table.set_index("limit")[f"{d}_delta_objective_yuan"].reindex(c.index)
        scale = abs(cold.base["plan_objective_yuan"])
        assert ((c - w).abs() <= 4e-3 * scale + 1.0).all(), pd.concat([c, w], axis=1)
