"""The uncertainty: section: validation (located, did-you-mean, impossible parameters refused),
the sampler (reproducible, right marginals and correlations) and sampled instances."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.analyses.uncertainty import draw_samples, resolve_sample, sample_sets, valid_without_feasibility
from optimizer.cli import Exit, app
from optimizer.errors import InputError
from optimizer.instance.load import load_instance
from optimizer.instance.schema import Uncertainty
from optimizer.instance.validate import validate
from tests import uncertain_instance

runner = CliRunner()


def _with(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(uncertain_instance.INSTANCE)
    edit(doc["uncertainty"])
    return uncertain_instance.write(tmp_path, {"uncertainty": doc["uncertainty"]})


def _problems(path: Path) -> str:
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == Exit.INVALID_INPUT, res.output
    assert "Traceback" not in res.output
    return res.output


def test_the_test_instance_is_valid(tmp_path):
    path = uncertain_instance.write(tmp_path)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("edit", "words"), [
    # a distribution on a path that does not exist: located, with a did-you-mean
    (lambda u: u["parameters"]["fruit_price"].update(path="industries.fruit.prise_yuan_per_unit"),
     ["unknown path 'industries.fruit.prise_yuan_per_unit'", "did you mean industries.fruit.price_yuan_per_unit?"]),
    (lambda u: u["parameters"]["fruit_price"].update(path="industries.fruits.price_yuan_per_unit"),
     ["'fruits' is not a key of industries", "did you mean industries.fruit.price_yuan_per_unit?"]),
    (lambda u: u["parameters"]["water"].update(path="townships.water_availble_m3"),
     ["'water_availble_m3' is not a township-table figure", "did you mean 'water_available_m3'?"]),
    (lambda u: u["parameters"]["water"].update(path="townships.water_available_m3.T9"),
     ["township 'T9' is not in the township table"]),
    (lambda u: u["parameters"]["water"].update(path="site_coefficients.yield_per_ha.fruits"),
     ["no row of industry 'fruits'", "did you mean 'fruit'?"]),
    # a negative standard deviation
    (lambda u: u["parameters"]["fruit_yield"].update(sd=-0.1), ["uncertainty.parameters.fruit_yield.sd", "greater than 0"]),
    # probabilities that do not sum to 1
    (lambda u: u["parameters"]["pv_price"].update(probabilities=[0.2, 0.5, 0.2]),
     ["uncertainty.parameters.pv_price.probabilities", "must sum to 1 (they sum to 0.9)"]),
    (lambda u: u["parameters"]["pv_price"].update(probabilities=[0.5, 0.5]), ["3 values but 2 probabilities"]),
    # impossible parameters
    (lambda u: u["parameters"]["fruit_price"].update(low=1.4), ["low (1.4) must be below high (1.3)",
                                                                  "mode (1) must lie between"]),
    (lambda u: u["parameters"]["fruit_yield"].pop("low"), ["a factor below 0", "truncate the normal distribution"]),
    (lambda u: u["parameters"]["pv_price"].update(values=[-50, 300, 330]), ["must be ≥ 0", "from -50 to 330"]),
    (lambda u: u["parameters"].update(share={"path": "industries.pv.farmer_share_of_value_added", "relative": True,
                                             "distribution": "uniform", "low": 0.5, "high": 12}),
     ["must be ≥ 0 and ≤ 1", "from 0.05 to 1.2"]),
    (lambda u: u["parameters"]["fruit_yield"].update(low=3.0, high=4.0), ["keep almost none of the normal"]),
    (lambda u: u["parameters"].update(share={"path": "industries.fruit.farmer_share_of_value_added", "relative": True,
                                             "distribution": "uniform", "low": 0.9, "high": 1.1}),
     ["market 'fruit_market' has falling prices"]),
    (lambda u: u["parameters"].update(lognorm={"path": "industries.pv.pv_performance_ratio", "distribution": "lognormal",
                                               "mean": 0.8, "sd": 0.1}), ["must be > 0 and ≤ 1", "from 0 to ∞"]),
    (lambda u: u["parameters"]["fruit_price"].update(distribution="uniform"), ["a uniform distribution takes no mode"]),
    (lambda u: u["parameters"]["water"].update(path="townships.soil_depth_cm"), ["suitability gates"]),
    (lambda u: u["parameters"]["fruit_price"].update(path="industries.fruit.suitability.min_soil_depth_cm"),
     ["is a suitability gate"]),
    (lambda u: u["parameters"]["fruit_price"].update(path="industries.fruit.label"), ["'Fruit orchard', not a number"]),
    (lambda u: u["parameters"]["fruit_price"].update(path="industries.fruit.yield_per_ha"),
     ["parameters 'fruit_price' and 'fruit_yield' both move industries.fruit.yield_per_ha"]),
    (lambda u: u["parameters"]["fruit_price"].update(path="site_coefficients.yield_per_ha.fruit"),
     ["both move"]),
    # correlation groups
    (lambda u: u["correlations"].append({"parameters": ["fruit_yeild", "water"], "coefficient": 0.3}),
     ["unknown parameter 'fruit_yeild'", "did you mean 'fruit_yield'?"]),
    (lambda u: u["correlations"].append({"parameters": ["fruit_price", "water"], "coefficient": 0.3}),
     ["'fruit_price' is in two correlation groups"]),
    (lambda u: u["correlations"].append({"parameters": ["fruit_yield", "water", "pv_price"], "coefficient": -0.8}),
     ["cannot all be correlated -0.8"]),
    (lambda u: u["correlations"][0].update(coefficient=1.5), ["less than or equal to 1"]),
    (lambda u: u.update(samples=0), ["uncertainty.samples", "greater than or equal to 1"]),
])
def test_bad_uncertainty_is_located_exit_2(tmp_path, edit, words):
    out = _problems(_with(tmp_path, edit))
    assert "uncertain.yaml:" in out  # file:line:column
    for w in words:
        assert w in out, out


def test_sampling_is_reproducible_from_the_seed(tmp_path):
    loaded = load_instance(uncertain_instance.write(tmp_path))
    unc = loaded.spec.uncertainty
    a, b = draw_samples(unc), draw_samples(unc)
    assert np.array_equal(a.values, b.values) and a.ids[0] == "s001" and a.count == 10
    c = draw_samples(unc, seed=8)
    assert not np.array_equal(a.values, c.values)
    more = draw_samples(unc, samples=20)
    assert np.array_equal(more.values[:10], a.values)  # a longer run extends the same stream


def _uncertainty(**params) -> Uncertainty:
    return Uncertainty.model_validate({"samples": 1, "parameters": params})


def test_marginals_and_correlation():
    n = 40_000
    unc = Uncertainty.model_validate({
        "samples": n, "seed": 11,
        "parameters": {
            "u": {"path": "a", "distribution": "uniform", "low": 2, "high": 5},
            "t": {"path": "b", "distribution": "triangular", "low": 0.4, "mode": 1.0, "high": 1.3},
            "n": {"path": "c", "distribution": "normal", "mean": 1.0, "sd": 0.25, "low": 0.6, "high": 1.2},
            "l": {"path": "d", "distribution": "lognormal", "mean": 300, "sd": 60},
            "d": {"path": "e", "distribution": "discrete", "values": [200, 300, 330], "probabilities": [0.2, 0.5, 0.3]},
            "m": {"path": "f", "distribution": "normal", "mean": 10, "sd": 2},
        },
        "correlations": [{"parameters": ["u", "m"], "coefficient": 0.6}],
    })
    s = draw_samples(unc)
    v = pd.DataFrame(s.values, columns=s.names)
    assert v["u"].between(2, 5).all() and v["u"].mean() == pytest.approx(3.5, abs=0.02)
    assert v["t"].between(0.4, 1.3).all() and v["t"].mean() == pytest.approx((0.4 + 1.0 + 1.3) / 3, abs=0.005)
    assert v["t"].median() == pytest.approx(0.4 + math.sqrt(0.5 * 0.9 * 0.6), abs=0.005)  # F(mode) = 2/3 > 1/2
    assert v["n"].between(0.6, 1.2).all()
    # truncated normal mean: μ + σ (φ(a) − φ(b)) / (Φ(b) − Φ(a))
    from statistics import NormalDist

    z = NormalDist()
    a, b = (0.6 - 1) / 0.25, (1.2 - 1) / 0.25
    mean = 1 + 0.25 * (z.pdf(a) - z.pdf(b)) / (z.cdf(b) - z.cdf(a))
    assert v["n"].mean() == pytest.approx(mean, abs=0.003)
    assert v["l"].min() > 0 and v["l"].mean() == pytest.approx(300, rel=0.01) and v["l"].std() == pytest.approx(60, rel=0.03)
    freq = v["d"].value_counts(normalize=True)
    assert freq[200] == pytest.approx(0.2, abs=0.01) and freq[330] == pytest.approx(0.3, abs=0.01)
    assert v["m"].mean() == pytest.approx(10, abs=0.03) and v["m"].std() == pytest.approx(2, rel=0.02)
    # u is uniform, m normal: Pearson of the normal scores is 0.6; of uniform vs normal (6/π)·asin(ρ/2)·… ≈ 0.59
    assert np.corrcoef(v["u"], v["m"])[0, 1] == pytest.approx(0.6 * math.sqrt(3 / math.pi), abs=0.02)
    assert abs(np.corrcoef(v["t"], v["m"])[0, 1]) < 0.02  # not in a group: independent


def test_perfect_correlation_moves_together():
    unc = Uncertainty.model_validate({
        "samples": 200, "parameters": {
            "a": {"path": "x", "distribution": "uniform", "low": 0, "high": 1},
            "b": {"path": "y", "distribution": "uniform", "low": 10, "high": 20}},
        "correlations": [{"parameters": ["a", "b"], "coefficient": 1.0}]})
    s = draw_samples(unc)
    assert np.allclose(s.values[:, 1], 10 + 10 * s.values[:, 0], atol=1e-9)


def test_a_relative_parameter_moves_the_site_table_too(tmp_path):
    loaded = load_instance(uncertain_instance.write(tmp_path))
    samples = draw_samples(loaded.spec.uncertainty)
    sets = sample_sets(loaded, samples)
    k = samples.names.index("fruit_yield")
    factor = float(samples.values[0, k])
    assert f"site_coefficients.yield_per_ha.fruit={factor!r}*" in sets[0]
    valid = valid_without_feasibility(resolve_sample(loaded, sets[0]))
    y = valid.pairs["output_per_ha"]
    assert y[("T2", "fruit")] == pytest.approx(14 * factor)  # the site row
    assert y[("T1", "fruit")] == pytest.approx(10 * factor)  # the industry's value


def test_sampled_instance_in_memory_equals_loading_it(tmp_path):
    path = uncertain_instance.write(tmp_path)
    loaded = load_instance(path, sets=["constraints.grid_county_max_mw.B=70"])
    samples = draw_samples(loaded.spec.uncertainty)
    for sets in sample_sets(loaded, samples)[:3]:
        memory = valid_without_feasibility(resolve_sample(loaded, sets))
        disk = valid_without_feasibility(load_instance(path, sets=["constraints.grid_county_max_mw.B=70", *sets]))
        pd.testing.assert_frame_equal(memory.pairs, disk.pairs)
        pd.testing.assert_frame_equal(memory.townships, disk.townships)
        assert memory.spec == disk.spec and memory.spec.uncertainty is None


def test_site_override_on_the_command_line(tmp_path):
    path = uncertain_instance.write(tmp_path)
    v = validate(load_instance(path, sets=["site_coefficients.yield_per_ha.fruit=0.5*"]))
    assert v.pairs.at[("T2", "fruit"), "output_per_ha"] == pytest.approx(7.0)
    with pytest.raises(InputError) as exc:
        load_instance(path, sets=["site_coefficients.yeild_per_ha=0.5*"])
    assert "did you mean --set site_coefficients.yield_per_ha?" in str(exc.value.problems[0])


def test_a_sample_recomputes_only_what_changed(tmp_path):
    path = uncertain_instance.write(tmp_path)
    loaded = load_instance(path)
    base = validate(loaded)
    samples = draw_samples(loaded.spec.uncertainty)
    extra = [["uncertainty=null", "industries.pv.price_yuan_per_unit=250"],  # one industry, townships as they are
             ["uncertainty=null", "site_coefficients.yield_per_ha.fruit=1.2*"],  # only a site row
             ["uncertainty=null"]]  # nothing at all
    for sets in [*sample_sets(loaded, samples)[:3], *extra]:
        sample = resolve_sample(loaded, sets)
        fast = valid_without_feasibility(sample, base=base)
        full = valid_without_feasibility(sample)
        pd.testing.assert_frame_equal(fast.pairs, full.pairs)
        pd.testing.assert_frame_equal(fast.townships, full.townships)
        pd.testing.assert_frame_equal(fast.baseline, full.baseline)


def test_a_run_with_a_site_override_is_checked_against_the_changed_table(tmp_path):
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    path = uncertain_instance.write(tmp_path / "inst")
    res = solve_instance(path, SolveOptions(gap=0.0), results_root=tmp_path / "r",
                         sets=["site_coefficients.yield_per_ha.fruit=1.5*"])
    assert res.check_ok is True
    site = pd.read_csv(res.run_dir / "site.resolved.csv", dtype=str)
    assert float(site.loc[site["township_id"] == "T2", "yield_per_ha"].iloc[0]) == pytest.approx(21.0)
