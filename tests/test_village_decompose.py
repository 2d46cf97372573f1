"""Village instances by county decomposition (solve/decompose/villages.py) against HiGHS on the whole model.

Both answers go through the independent checker, and each must lie within the other's
bound: the decomposition's plan is no better than HiGHS's proven bound, and HiGHS's plan
no better than the decomposition's Lagrangian bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.generate import generate_instance
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from optimizer.solve.method import DECOMPOSE_FROM_VILLAGES, choose_village_method

TINY = Path(__file__).parent / "data" / "tiny_villages" / "tiny_villages.yaml"


def _both(path: Path, tmp_path: Path, gap: float, direct_gap: float = 1e-6) -> tuple[dict, dict]:
    dec = solve_instance(path, SolveOptions(method="decompose", gap=gap, time_limit=120), results_root=tmp_path / "d")
    direct = solve_instance(path, SolveOptions(method="direct", gap=direct_gap, time_limit=30),
                            results_root=tmp_path / "h")
    assert dec.check_ok is True, dec.check_messages[:5]
    assert direct.check_ok is True, direct.check_messages[:5]
    return dec.summary, direct.summary


def _within(dec: dict, direct: dict) -> None:
    scale = max(1.0, abs(direct["objective_yuan"]))
    assert dec["method"]["used"] == "decompose", dec["method"]
    assert direct["method"]["used"] == "direct"
    assert dec["objective_yuan"] <= direct["bound_yuan"] + 1e-7 * scale
    assert direct["objective_yuan"] <= dec["bound_yuan"] + 1e-7 * scale
    assert dec["gap"] is not None and dec["objective_yuan"] >= direct["objective_yuan"] - (dec["gap"] + 1e-6) * scale


def test_tiny_village_instance_decomposed_equals_direct(tmp_path: Path) -> None:
    dec, direct = _both(TINY, tmp_path, gap=1e-6)
    _within(dec, direct)
    assert dec["objective_yuan"] == pytest.approx(direct["objective_yuan"], rel=1e-6)
    assert "counties as blocks" in dec["method"]["why"]


@pytest.mark.parametrize("seed", [3, pytest.param(7, marks=pytest.mark.slow)])
def test_generated_village_instance_decomposed_within_gap_of_direct(tmp_path: Path, seed: int) -> None:
    """Three counties of 15 townships, 5 villages each; HiGHS on the whole model to 1e-3 (its bound is what counts)."""
    path = generate_instance(tmp_path / "gen", 45, seed, villages_per_township=5)
    dec, direct = _both(path, tmp_path, gap=5e-3, direct_gap=1e-3)
    _within(dec, direct)
    assert dec["gap"] <= 5e-3 + 1e-9 or dec["status"] != "optimal"


def test_no_mix_of_county_plans_falls_back_to_highs(tmp_path: Path) -> None:
    """Two counties: one finds no plan within its LP share and the other cannot make room
    (measured on this instance), so the command says so and HiGHS on the whole model answers."""
    path = generate_instance(tmp_path / "gen", 30, 3, villages_per_township=4)
    res = solve_instance(path, SolveOptions(method="decompose", gap=5e-3, time_limit=60), results_root=tmp_path / "r")
    assert res.check_ok is True
    assert res.summary["method"]["used"] == "direct"
    assert "the decomposition gave no plan, so HiGHS on the whole model" in res.summary["method"]["why"]


def test_auto_method_for_villages() -> None:
    auto = SolveOptions()
    assert choose_village_method(auto, DECOMPOSE_FROM_VILLAGES - 1, 10)[0] == "direct"
    assert choose_village_method(auto, DECOMPOSE_FROM_VILLAGES, 10)[0] == "decompose"
    assert choose_village_method(auto, 50_000, 1)[0] == "direct"
    assert choose_village_method(SolveOptions(method="direct"), 50_000, 10)[0] == "direct"
    assert choose_village_method(SolveOptions(method="decompose"), 10, 2)[0] == "decompose"


def test_interior_point_lp_that_stops_early_falls_back_to_simplex(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An interior-point LP cut off after one iteration is solved again by simplex, and the
    decomposition ends where it does with the interior-point LP."""
    from optimizer.solve.decompose import villages

    base = solve_instance(TINY, SolveOptions(method="decompose", gap=1e-6, time_limit=120), results_root=tmp_path / "a")
    monkeypatch.setattr(villages, "LP_OPTIONS", {"solver": "ipm", "run_crossover": "off", "ipm_iteration_limit": 1})
    with caplog.at_level("INFO", logger=villages.__name__):
        cut = solve_instance(TINY, SolveOptions(method="decompose", gap=1e-6, time_limit=120), results_root=tmp_path / "b")
    assert "solving it by simplex" in caplog.text
    assert cut.check_ok is True and cut.summary["method"]["used"] == "decompose"
    assert cut.summary["objective_yuan"] == pytest.approx(base.summary["objective_yuan"], rel=1e-9)


@pytest.mark.parametrize("path", [TINY, Path(__file__).parents[1] / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml"],
                         ids=lambda p: p.stem)
def test_lp_bound_of_an_early_stopped_interior_point_holds(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interior point stopped at a loose tolerance gives duals whose dual objective still
    bounds the LP optimum (simplex's) from above, and lies close to it."""
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.model import prepare
    from optimizer.model.matrix import build_matrix
    from optimizer.solve.decompose import villages

    data = prepare(validate(load_instance(path)))
    S = villages.split_villages(build_matrix(data), data)
    cp = villages._coupling(S)
    monkeypatch.setattr(villages, "LP_OPTIONS", {"solver": "simplex"})
    lp = villages.lp_multipliers(villages.whole_lp(S), S, cp)
    z_exact, exact = lp.z, lp.bound
    assert exact == pytest.approx(float(S.cost @ z_exact), rel=1e-9)
    for tol in (1e-2, 1e-3):
        monkeypatch.setattr(villages, "LP_OPTIONS", {"solver": "ipm", "run_crossover": "off",
                                                     "ipm_optimality_tolerance": tol})
        lp = villages.lp_multipliers(villages.whole_lp(S), S, cp)
        z, bound = lp.z, lp.bound
        assert exact - 1e-7 * abs(exact) <= bound <= exact * (1 + 3 * tol) + 1e-6
        assert float(S.cost @ z) <= bound + 1e-7 * abs(bound)


@pytest.mark.parametrize("tol", [None, 1e-2], ids=["simplex", "ipm-1e-2"])
def test_county_bounds_from_the_lp_duals_bound_each_county(tmp_path: Path, tol: float | None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The weak-duality bound of each county under the prices (what stands in for a county the
    pricing pass did not reach) lies above that county's exact priced MIP and LP optimum, and
    with exact LP duals the parts add up to the LP bound."""
    import numpy as np

    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.model import prepare
    from optimizer.model.matrix import build_matrix
    from optimizer.solve.decompose import villages

    path = generate_instance(tmp_path / "gen", 45, 3, villages_per_township=5)
    data = prepare(validate(load_instance(path)))
    S = villages.split_villages(build_matrix(data), data)
    cp = villages._coupling(S)
    options = {"solver": "simplex"} if tol is None else {"solver": "ipm", "run_crossover": "off",
                                                         "ipm_optimality_tolerance": tol}
    monkeypatch.setattr(villages, "LP_OPTIONS", options)
    lp = villages.lp_multipliers(villages.whole_lp(S), S, cp)
    priced = S.cost - cp.priced(lp.lam, S.n_cols)
    bounds = villages.county_lp_bounds(S, priced, lp.row_dual)
    assert S.n_counties == 3 and np.isfinite(bounds).all()
    for k in range(S.n_counties):
        county = villages._County(S, k, cp, gap=0.0)
        assert county.solve(priced[county.cols], 30.0)
        scale = max(1.0, abs(county.value))
        assert county.value <= bounds[k] + 1e-7 * scale
        relaxed = villages._County(S, k, cp, gap=0.0)
        relaxed.model.changeColsIntegrality(len(county.cols), np.arange(len(county.cols), dtype=np.int32),
                                            np.zeros(len(county.cols), dtype=np.uint8))
        assert relaxed.solve(priced[county.cols], 30.0)
        assert relaxed.value <= bounds[k] + 1e-7 * scale
        assert county.value <= relaxed.value + 1e-7 * scale
    if tol is None:
        assert float(bounds.sum() + lp.lam @ cp.rhs) == pytest.approx(lp.bound, rel=1e-7)


def test_a_county_left_without_a_plan_by_the_shares_pass_gets_a_first_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the pass within the LP shares leaves a county without a plan (its time ran out),
    the county is tried again for any plan within its shares, and the run still ends with a
    checked plan."""
    import numpy as np

    from optimizer.solve.decompose import villages

    real = villages._County.solve
    refused: set[int] = set()

    def first_try_fails(self, priced_cost, time_limit):  # type: ignore[no-untyped-def]
        if self.cols[0] == 0 and not refused and np.any(priced_cost):  # the first county, optimising
            refused.add(id(self))
            return False
        return real(self, priced_cost, time_limit)

    monkeypatch.setattr(villages._County, "solve", first_try_fails)
    path = generate_instance(tmp_path / "gen", 45, 3, villages_per_township=5)
    res = solve_instance(path, SolveOptions(method="decompose", gap=5e-3, time_limit=120), results_root=tmp_path / "r")
    assert refused and res.check_ok is True
    assert res.summary["method"]["used"] == "decompose"
    assert "first plans within the shares: 1 of 1 counties" in (res.run_dir / "decomposition.log").read_text()
