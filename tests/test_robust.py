"""`optimizer robust` against brute force on a five-township instance.

The brute force is tests/test_properties.py's (written from docs/model.md, sharing no code
with the model or the checker). Each sample's instance is read back by it from the
resolved instance the run wrote for that sample, so the claims checked are exactly the
ones the outputs make:

- stability: every sample's optimum equals the brute-force optimum of that sample, and
  where that optimum is unique, stability.csv's shares are the shares of brute-force plans;
- stress test: each plan's objective in each sample is the brute-force objective, and a
  sample lists broken limits exactly when brute force finds the plan infeasible there;
  regret is the sample's optimum minus the plan's objective;
- robust plan: its objective equals the brute-force maximum, over plans that keep the
  instance's limits and those of every sample (or of the required number of samples), of
  the mean (or the CVaR) of the sampled objectives.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.analyses.robust import RobustSpec, cvar, lower_quantile, run_robust, solve_robust_plan
from optimizer.analyses.uncertainty import draw_samples, resolve_sample, sample_sets
from optimizer.cli import Exit, app
from optimizer.instance.load import load_instance
from optimizer.instance.validate import validate
from optimizer.run import write_resolved_instance
from optimizer.solve import SolveOptions
from tests import uncertain_instance
from tests.test_properties import BruteForce, read_spec

REL = 1e-6


def _brute(yaml_path: Path) -> tuple[BruteForce, np.ndarray, np.ndarray, np.ndarray]:
    bf = BruteForce(read_spec(yaml_path))
    plans = bf.all_plans()
    feasible, objective, _ties = bf.judge(plans)
    return bf, plans, feasible, objective


@pytest.fixture(scope="module")
def robust_run(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("robust")
    inst = uncertain_instance.write(folder / "inst")
    spec = RobustSpec(instance=str(inst), options={"gap": 0.0})
    result = run_robust(spec, folder / "out", workers=2)  # real Dask worker processes, as the CLI runs it
    return inst, result


def test_stability_is_the_share_of_brute_force_optima(robust_run):
    _inst, res = robust_run
    folder = res.folder
    stab = res.stability.set_index("township_id")
    chosen: dict[str, tuple[str, ...]] = {}
    unique = True
    for r in res.sample_rows.itertuples(index=False):
        bf, plans, feasible, objective = _brute(folder / "samples" / f"{r.sample}.stress" / "instance.resolved.yaml")
        if r.status == "infeasible":
            assert not feasible.any(), f"{r.sample}: brute force finds a feasible plan"
            continue
        assert r.status == "optimal"
        best = objective[feasible].max()
        assert r.optimum_objective_yuan == pytest.approx(best, rel=REL), r.sample
        ties = np.flatnonzero(feasible & (objective >= best - REL * abs(best)))
        run_plan = tuple(pd.read_csv(folder / "samples" / r.sample / "allocation.csv", dtype=str)["industry"])
        assert any(bf.names(plans[k]) == run_plan for k in ties), r.sample
        if len(ties) > 1:
            unique = False
        chosen[r.sample] = bf.names(plans[ties[0]])
    assert chosen, "no sample was solved"
    if unique:  # the shares are then determined by brute force alone
        towns = list(stab.index)
        for j, t in enumerate(towns):
            for ind in ("fruit", "pv", "conservation"):
                share = sum(plan[j] == ind for plan in chosen.values()) / len(chosen)
                assert stab.at[t, f"share_{ind}"] == pytest.approx(share), (t, ind)
    # The instance is chosen so that choices do move between samples.
    assert (stab["stability"] < 1).any()


def test_stress_test_matches_brute_force(robust_run):
    _inst, res = robust_run
    folder = res.folder
    plans_of = {name: tuple(pd.read_csv(folder / sub / "allocation.csv", dtype=str)["industry"])
                for name, sub in (("nominal", "nominal"), ("robust", "robust_plan"))}
    stress = res.stress
    for r in res.sample_rows.itertuples(index=False):
        bf, plans, feasible, objective = _brute(folder / "samples" / f"{r.sample}.stress" / "instance.resolved.yaml")
        for name, plan in plans_of.items():
            k = next(k for k in range(len(plans)) if bf.names(plans[k]) == plan)
            row = stress[(stress["plan"] == name) & (stress["sample"] == r.sample)].iloc[0]
            assert row["objective_yuan"] == pytest.approx(objective[k], rel=REL)
            assert (row["limits_broken"] == 0) == bool(feasible[k]), (name, r.sample, row["broken"])
            if r.status == "optimal":
                assert row["regret_yuan"] == pytest.approx(objective[feasible].max() - objective[k], rel=REL, abs=1e-3)
    # The nominal plan breaks a limit in some sample here; the robust plan (held in every sample) never does.
    summ = res.stress_summary.set_index("plan")
    assert summ.at["nominal", "probability_any_limit_broken"] > 0
    assert summ.at["robust", "probability_any_limit_broken"] == 0
    risk = res.limit_risk
    assert set(risk["plan"]) == {"nominal"} and (risk["probability"] > 0).all()
    # The robust plan is checked by the independent checker against the instance as written.
    assert res.summary["robust_plan"]["check_ok"] is True


def _samples_on_disk(tmp_path: Path, n: int | None = None):
    inst = uncertain_instance.write(tmp_path / "inst")
    loaded = load_instance(inst)
    valid = validate(loaded)
    samples = draw_samples(loaded.spec.uncertainty, n)
    sets_of = sample_sets(loaded, samples)
    paths = []
    for sid, sets in zip(samples.ids, sets_of):
        target = tmp_path / "samples" / sid / "instance.resolved.yaml"
        target.parent.mkdir(parents=True)
        write_resolved_instance(target, resolve_sample(loaded, sets))
        paths.append(target)
    return inst, loaded, valid, samples, sets_of, paths


@pytest.mark.parametrize(("risk", "hold"), [(("expected",), 1.0), (("cvar", 0.2), 1.0), (("expected",), 0.7),
                                            (("cvar", 0.3), 0.8)])
def test_robust_plan_is_the_brute_force_optimum(tmp_path, risk, hold):
    inst, loaded, valid, samples, sets_of, paths = _samples_on_disk(tmp_path)
    bf0, plans, feas0, _obj0 = _brute(inst)
    feas, objs = [], []
    for path in paths:
        bf, p, f, o = _brute(path)
        assert np.array_equal(p, plans)  # the same choices in every sample
        feas.append(f)
        objs.append(o)
    feas_s, obj_s = np.array(feas), np.array(objs)  # samples × plans
    need = math.ceil(hold * samples.count - 1e-9)
    ok = feas0 & (feas_s.sum(axis=0) >= need)
    if risk[0] == "expected":
        score = obj_s.mean(axis=0)
    else:
        k = risk[1] * samples.count
        assert k == int(k)  # a whole number of worst samples: a plain mean, computed without the helper
        score = np.sort(obj_s, axis=0)[: int(k)].mean(axis=0)
    result = solve_robust_plan(valid, loaded, samples, sets_of, risk, hold, SolveOptions(gap=0.0), tmp_path / "plan")
    assert ok.any()
    best = score[ok].max()
    assert result["status"] == "optimal"
    assert result["sample_objective_yuan"] == pytest.approx(best, rel=REL)
    plan = tuple(pd.read_csv(tmp_path / "plan" / "allocation.csv", dtype=str)["industry"])
    k = next(k for k in range(len(plans)) if bf0.names(plans[k]) == plan)
    assert ok[k] and score[k] == pytest.approx(best, rel=REL)
    assert result["check_ok"] is True
    if hold == 1.0:  # the chance constraint matters on this instance: holding fewer samples pays
        relaxed = feas0 & (feas_s.sum(axis=0) >= need - 3)
        assert score[relaxed].max() > best + 1.0


def test_cvar_helper_is_the_rockafellar_uryasev_optimum():
    rng = np.random.default_rng(3)
    for n, alpha in ((10, 0.25), (7, 0.1), (20, 0.05), (5, 1.0)):
        z = rng.normal(100, 30, n)
        grid = np.concatenate([z, np.linspace(z.min() - 1, z.max() + 1, 2001)])
        ru = max(eta - np.maximum(0.0, eta - z).sum() / (alpha * n) for eta in grid)
        assert cvar(z, alpha) == pytest.approx(ru, rel=1e-12, abs=1e-9)
    assert lower_quantile(np.arange(1, 101), 0.05) == 5.0


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    inst = uncertain_instance.write(folder / "inst")
    spec = RobustSpec(instance=str(inst), options={"gap": 0.0}, samples=4)
    return spec, run_robust(spec, folder / "out", serial=True)


@pytest.mark.slow
def test_dask_workers_give_the_serial_answer(small_run, tmp_path):
    spec, serial = small_run
    parallel = run_robust(spec, tmp_path / "dask", workers=2)
    cols = [c for c in serial.stability.columns if c.startswith("share_")]
    pd.testing.assert_frame_equal(serial.stability[cols], parallel.stability[cols])
    pd.testing.assert_frame_equal(serial.stress, parallel.stress)


def test_resume_solves_only_what_is_missing(small_run, tmp_path):
    import shutil

    spec, first = small_run
    folder = tmp_path / "copy"
    shutil.copytree(first.folder, folder)
    shutil.rmtree(folder / "samples" / "s002")
    shutil.rmtree(folder / "samples" / "s002.stress")
    stamp = (folder / "samples" / "s001" / "manifest.json").stat().st_mtime_ns
    again = run_robust(spec, folder, serial=True)
    assert (folder / "samples" / "s002" / "manifest.json").exists()
    assert (folder / "samples" / "s001" / "manifest.json").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(first.stress, again.stress)


runner = CliRunner()


@pytest.mark.parametrize(("args", "words"), [
    (["--risk", "cvar:2"], "CVaR level"),
    (["--risk", "worst"], "neither 'expected' nor"),
    (["--hold", "0"], "--hold 0"),
    (["--hold", "1.5"], "--hold 1.5"),
    (["--samples", "0"], "at least 1 sample"),
])
def test_bad_options_are_located_exit_2(tmp_path, args, words):
    inst = uncertain_instance.write(tmp_path)
    res = runner.invoke(app, ["robust", str(inst), "--results", str(tmp_path / "r"), *args])
    assert res.exit_code == Exit.INVALID_INPUT, res.output
    assert words in res.output and "command line" in res.output
    assert "Traceback" not in res.output


def test_instance_without_uncertainty_exit_2(tmp_path):
    from tests.conftest import TINY

    res = runner.invoke(app, ["robust", str(TINY), "--results", str(tmp_path), "--serial"])
    assert res.exit_code == Exit.INVALID_INPUT, res.output
    assert "no uncertainty: section" in res.output and "Traceback" not in res.output


def test_cli_robust_prints_the_plans_side_by_side(tmp_path):
    inst = uncertain_instance.write(tmp_path / "inst")
    res = runner.invoke(app, ["robust", str(inst), "--samples", "3", "--serial", "--gap", "0",
                              "--results", str(tmp_path / "r")])
    assert res.exit_code == Exit.OK, res.output
    assert "plans over the samples" in res.output and "robust plan" in res.output
    folder = next((tmp_path / "r" / "uncertain").glob("robust-*"))
    for name in ("stability.csv", "stability.gpkg", "stress.csv", "stress_summary.csv", "limit_risk.csv",
                 "comparison.csv", "samples.csv", "manifest.json", "robust_plan/check.json"):
        assert (folder / name).exists(), name
    import json

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sampling"]["seed"] == 7 and manifest["sampling"]["samples"] == 3
    comp = pd.read_csv(folder / "comparison.csv", encoding="utf-8-sig")
    # the unit is a column of its own, in the file and on screen; the words carry none
    assert not comp["description"].str.contains("yuan").any(), comp["description"].tolist()
    assert set(comp["unit"]) == {"yuan/yr", "share"}
    assert "yuan/yr" in res.output and "unit" in res.output
    assert "Gaussian copula" in manifest["sampling"]["method"]


def test_samples_without_a_feasible_plan_are_answers(tmp_path):
    inst = uncertain_instance.write(tmp_path / "inst")
    # A dearer maize baseline lifts the income floor above what some samples' industries pay.
    maize = ("+uncertainty.parameters.maize_price={path: industries.maize.price_yuan_per_unit, relative: true, "
             "distribution: uniform, low: 1.0, high: 1.7}")
    spec = RobustSpec(instance=str(inst), options={"gap": 0.0}, samples=8, sets=[maize], robust=False)
    res = run_robust(spec, tmp_path / "out", serial=True)
    status = res.sample_rows.set_index("sample")["status"]
    assert (status == "infeasible").any() and (status == "optimal").any(), status.to_dict()
    assert res.stability["samples_solved"].iloc[0] == int((status == "optimal").sum())
    assert set(res.stress["sample"]) == set(status.index)  # the plan is scored in every sample, feasible or not
    for sid in status[status == "infeasible"].index:
        bf = BruteForce(read_spec(res.folder / "samples" / f"{sid}.stress" / "instance.resolved.yaml"))
        feasible, _obj, _ = bf.judge(bf.all_plans())
        assert not feasible.any(), sid
    assert res.stress[res.stress["sample_status"] == "infeasible"]["regret_yuan"].isna().all()


def test_resume_with_another_hold_keeps_the_samples_and_solves_a_new_plan(small_run, tmp_path):
    import dataclasses
    import json
    import shutil

    spec, first = small_run
    folder = tmp_path / "copy"
    shutil.copytree(first.folder, folder)
    stamp = (folder / "samples" / "s001" / "manifest.json").stat().st_mtime_ns
    again = run_robust(dataclasses.replace(spec, hold=0.5, risk="cvar:0.5"), folder, serial=True)
    assert (folder / "samples" / "s001" / "manifest.json").stat().st_mtime_ns == stamp  # not solved again
    made = json.loads((folder / "robust_plan.json").read_text(encoding="utf-8"))
    assert made["risk"] == ["cvar", 0.5] and made["hold"] == 0.5 and made["samples_required"] == 2
    assert set(again.stress["plan"]) == {"nominal", "robust"}
    # The stress test of the new plan is its own: every sample was scored again.
    assert json.loads((folder / "robust.json").read_text(encoding="utf-8"))["spec"]["hold"] == 0.5


def test_stability_styles_colour_the_layer_columns(robust_run):
    """The styles name columns the stability layer has (tests/test_gis_clients.py opens
    them in QGIS on Fuchuan's polygons; this instance has no geometry, so its GeoPackage
    holds aliases-only styles)."""
    from optimizer.analyses.robust import STABILITY_CLASSES, stability_styles
    from optimizer.outputs.style import layer_qml

    inst, res = robust_run
    styles = stability_styles(validate(load_instance(inst)))
    for layer, attr in (("stability", "most_frequent_industry"), ("how_stable", "stability_class")):
        qml = layer_qml(styles[layer], res.stability, "Polygon", {})
        assert f'attr="{attr}"' in qml, layer
    classes = set(res.stability["stability_class"])
    assert classes <= set(STABILITY_CLASSES)
    # The classes are the documented cut of the stability share.
    for r in res.stability.itertuples(index=False):
        expected = ("none" if math.isnan(r.stability) else "always" if r.stability > 1 - 1e-9 else "mostly" if r.stability > 0.8
                    else "leaning" if r.stability > 0.5 else "contested")
        assert r.stability_class == expected, (r.township_id, r.stability)
