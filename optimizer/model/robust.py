"""One plan for all samples at once: the sample-average approximation (docs/model.md, "Over samples").

Why in the model package: it is a formulation, built on the nominal model of build.py
(every family of docs/model.md at the instance's own figures, which the robust plan keeps
as written) with the same shared choice x_ti, plus, for each sample s of the uncertain
figures, the limits whose figures differ from the instance's and the objective Z_s:

- **limits held in every sample** (`hold = 1`): each coupling limit (county and basin
  water, market caps, grid, budget, conservation areas) whose coefficients or bound
  differ in sample s is a row `<family>_in_sample[s, index]`; identical rows of several
  samples are added once. A per-township limit (water, income floor) depends on the
  township's own choice only, so "held in every sample" is exact as removing the pairs
  that break it in some sample (x_ti fixed at 0; `ruled_out` lists them).
- **limits held in a share of the samples** (`hold < 1`, a chance constraint): a binary
  `sample_limits_hold[s]` is 1 only if every limit holds in sample s, and
  Σ_s sample_limits_hold[s] ≥ ⌈hold · S⌉ (`samples_held_min`). A coupling row becomes
  `lhs ≤ rhs + M(1 − z_s)` (≥ rows alike) with M the most the row can be broken by, from
  each township's extreme allowed pair; a per-township limit becomes
  `Σ_{i breaking it in s} x_ti + z_s ≤ 1` (`township_limit_in_sample[s, t]`).
  The instance's own limits stay hard either way.
- **the objective**, in 万元 like the nominal one: Z_s = Σ c_tis x_ti − Σ_m φ_ms L_ms with
  the sample's per-pair contributions c and its own falling-price variables
  `market_output_beyond_step_in_sample[s, m, k]` (rows `..._def_in_sample`). With
  `risk = ("expected",)` the model maximises (1/S) Σ_s Z_s (`expected_objective`); with
  `("cvar", α)` it maximises the CVaR at level α of Z, the mean of the worst α share of
  samples, as η − (1/(αS)) Σ_s u_s with u_s ≥ η − Z_s, u_s ≥ 0 (Rockafellar–Uryasev;
  `cvar_objective`, `cvar_threshold`, `cvar_shortfall[s]`).

All samples weigh 1/S (Monte Carlo samples). Falling-price variables need no binaries,
because Z_s is concave in output and every Z_s is maximised (expected) or bounded from
below only where it is in the tail (CVaR), where the same argument holds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from optimizer.i18n import _
from optimizer.model.build import build_model
from optimizer.model.data import INVESTMENT_UNIT_YUAN, MONEY_UNIT_YUAN, OUTPUT_UNIT, WATER_UNIT_M3, ModelData
from optimizer.model.objective import market_farmer_share

log = logging.getLogger(__name__)

#: A per-township limit counts as broken beyond this relative margin (the checker's 1e-6 is looser).
_TOL = 1e-9


@dataclass
class SampleModelInfo:
    """What the sample-average model holds, for the report."""

    samples: int
    risk: tuple[Any, ...]
    hold: float
    rows_by_family: dict[str, int] = field(default_factory=dict)
    ruled_out: list[tuple[str, str, str]] = field(default_factory=list)  # (township, industry, sample)
    samples_required: int | None = None


def _objective_per_pair(data: ModelData) -> np.ndarray:
    """c_ti of docs/model.md's objective per allowed pair (万元), before falling prices."""
    obj = data.spec.objective
    p = data.pairs
    gep = p["gep_regulating_10k_yuan"] + p["gep_cultural_10k_yuan"]
    if obj.double_count == "count_both":
        gep = gep + p["gep_material_10k_yuan"]
    return (obj.gep_weight * gep + obj.income_weight * p["income_10k_yuan"]).to_numpy(dtype=float)


def _coupling_rows(data: ModelData) -> list[tuple[str, Any, str, np.ndarray, float]]:
    """(family, index, sense, coefficient per pair, bound) of every coupling limit, in model units."""
    cons = data.spec.constraints
    p = data.pairs
    rows: list[tuple[str, Any, str, np.ndarray, float]] = []
    county = p["county"].to_numpy()
    water = p["water_10k_m3"].to_numpy(dtype=float)
    for c, limit in cons.water.county_max_m3.items():
        rows.append(("water_use_per_county_max", c, "<=", np.where(county == c, water, 0.0), limit / WATER_UNIT_M3))
    basin = p["basin"].to_numpy()
    for b, limit in cons.water.basin_max_m3.items():
        rows.append(("water_use_per_basin_max", b, "<=", np.where(basin == b, water, 0.0), limit / WATER_UNIT_M3))
    industry = p.index.get_level_values("industry").to_numpy()
    output = p["output_1000"].to_numpy(dtype=float)
    for name, mk in cons.markets.items():
        if mk.max_output is not None:
            member = np.isin(industry, mk.industries)
            rows.append(("market_output_max", name, "<=", np.where(member, output, 0.0), mk.max_output / OUTPUT_UNIT))
    pv = p["pv_mw"].to_numpy(dtype=float)
    for c, limit in cons.grid_county_max_mw.items():
        rows.append(("pv_capacity_per_county_max", c, "<=", np.where(county == c, pv, 0.0), float(limit)))
    if cons.investment_budget_yuan is not None:
        rows.append(("investment_budget_max", None, "<=", p["investment_100m_yuan"].to_numpy(dtype=float),
                     cons.investment_budget_yuan / INVESTMENT_UNIT_YUAN))
    conserve = p["conservation"].to_numpy(dtype=bool)
    area = p["area_ha"].to_numpy(dtype=float)
    total = data.townships["plannable_area_ha"]
    if cons.min_conservation_share is not None:
        rows.append(("conservation_area_min", None, ">=", np.where(conserve, area, 0.0),
                     cons.min_conservation_share * float(total.sum())))
    if cons.min_conservation_share_per_county is not None:
        need = total.groupby(data.townships["county"]).sum()
        for c in sorted(need.index):
            rows.append(("conservation_area_per_county_min", c, ">=", np.where(conserve & (county == c), area, 0.0),
                         cons.min_conservation_share_per_county * float(need[c])))
    return [r for r in rows if np.any(r[3] != 0)]


def _township_breaks(data: ModelData) -> np.ndarray:
    """Per allowed pair: True where choosing it alone breaks its township's water or income limit."""
    p = data.pairs
    towns = p["township"].to_numpy()
    broken = np.zeros(len(p), dtype=bool)
    if data.spec.constraints.water.per_township:
        avail = (data.townships["water_available_m3"] / WATER_UNIT_M3).reindex(towns).to_numpy(dtype=float)
        use = p["water_10k_m3"].to_numpy(dtype=float)
        broken |= (use > 0) & (use > avail + _TOL * np.maximum(1.0, np.abs(avail)))
    if data.income_floor is not None:
        floor = data.income_floor.reindex(towns).to_numpy(dtype=float)
        income = p["income_10k_yuan"].to_numpy(dtype=float)
        finite = np.isfinite(floor)
        broken |= finite & (income < floor - _TOL * np.maximum(1.0, np.abs(np.where(finite, floor, 0.0))))
    return broken


def _steps(data: ModelData) -> list[tuple[str, int, np.ndarray, float, float]]:
    """(market, k, output coefficient per pair, threshold in kt, loss weight in 万元 per kt beyond it)."""
    out = []
    industry = data.pairs.index.get_level_values("industry").to_numpy()
    output = data.pairs["output_1000"].to_numpy(dtype=float)
    w_h = data.spec.objective.income_weight
    for name, mk in data.spec.constraints.markets.items():
        steps = sorted(mk.price_steps, key=lambda s: s.above_output)
        if not steps:
            continue
        phi = market_farmer_share(data, name)
        coef = np.where(np.isin(industry, mk.industries), output, 0.0)
        prev = 0.0
        for k, step in enumerate(steps):
            delta = step.price_drop_yuan_per_unit - prev
            prev = step.price_drop_yuan_per_unit
            out.append((name, k, coef, step.above_output / OUTPUT_UNIT, w_h * phi * delta * OUTPUT_UNIT / MONEY_UNIT_YUAN))
    return out


def _key(coef: np.ndarray, bound: float) -> bytes:
    return np.round(coef, 12).tobytes() + np.float64(round(bound, 12)).tobytes()


def build_sample_model(
    nominal: ModelData,
    samples: list[ModelData],
    sample_ids: list[str],
    *,
    risk: tuple[Any, ...] = ("expected",),
    hold: float = 1.0,
) -> tuple[pyo.ConcreteModel, SampleModelInfo]:
    """The sample-average model (module docstring): the nominal model plus each sample's
    differing limits and objective. Raises ValueError when a township has no pair left."""
    m = build_model(nominal)
    m.weighted_gep_and_income.deactivate()  # the instance's own objective is reported, not optimised
    x = m.industry_chosen
    index = list(nominal.pairs.index)
    n_samples = len(samples)
    info = SampleModelInfo(samples=n_samples, risk=risk, hold=hold)
    for s, data in zip(sample_ids, samples):
        if not data.pairs.index.equals(nominal.pairs.index):
            raise ValueError(f"sample {s} allows other township-industry pairs than the instance")
    xs = [x[p] for p in index]

    def linear(coef: np.ndarray) -> Any:
        nz = np.flatnonzero(coef)
        return sum(float(coef[j]) * xs[j] for j in nz)

    # ---- coupling limits that differ from the instance's
    nominal_rows = {(f, i): _key(c, b) for f, i, _s, c, b in _coupling_rows(nominal)}
    seen: dict[bytes, str] = {}
    chance = hold < 1.0
    m.sample_ids = pyo.Set(initialize=sample_ids, ordered=True)
    if chance:
        m.sample_limits_hold = pyo.Var(m.sample_ids, within=pyo.Binary)
        need = math.ceil(hold * n_samples - 1e-9)
        info.samples_required = need
        m.samples_held_min = pyo.Constraint(expr=sum(m.sample_limits_hold[s] for s in sample_ids) >= need)
    towns = nominal.pairs["township"].to_numpy()

    def extremes(coef: np.ndarray) -> tuple[float, float]:
        """The most and the least a row's terms can add up to (one pair per township)."""
        g = pd.Series(coef).groupby(towns)
        return float(g.max().sum()), float(g.min().sum())

    families: dict[str, dict[tuple[Any, ...], Any]] = {}
    for s, data in zip(sample_ids, samples):
        for family, idx, sense, coef, bound in _coupling_rows(data):
            key = _key(coef, bound)
            if nominal_rows.get((family, idx)) == key:
                continue  # the instance's own row, already in the model
            if not chance and key in seen:
                continue  # the same row as an earlier sample's
            seen[key] = s
            lhs = linear(coef)
            if chance:
                z = m.sample_limits_hold[s]
                hi, lo = extremes(coef)
                if sense == "<=":
                    if hi - bound <= 0:
                        continue  # no plan can break it
                    row = lhs <= bound + (hi - bound) * (1 - z)
                else:
                    if bound - lo <= 0:
                        continue
                    row = lhs >= bound - (bound - lo) * (1 - z)
            else:
                row = lhs <= bound if sense == "<=" else lhs >= bound
            families.setdefault(family, {})[(s,) if idx is None else (s, idx)] = row

    # ---- per-township limits (water, income floor)
    nominal_broken = _township_breaks(nominal)
    township_rows: dict[tuple[str, str], Any] = {}
    for s, data in zip(sample_ids, samples):
        broken = _township_breaks(data) & ~nominal_broken  # the instance's own rows exclude the others
        if not broken.any():
            continue
        if not chance:
            for j in np.flatnonzero(broken):
                t, i = index[j]
                if not xs[j].fixed:
                    xs[j].fix(0)
                    info.ruled_out.append((t, i, s))
        else:
            by_town: dict[str, list[int]] = {}
            for j in np.flatnonzero(broken):
                by_town.setdefault(index[j][0], []).append(j)
            for t, js in by_town.items():
                township_rows[(s, t)] = sum(xs[j] for j in js) + m.sample_limits_hold[s] <= 1
    for family, rows_of in families.items():
        m.add_component(f"{family}_in_sample", pyo.Constraint(list(rows_of), rule=lambda m, *k, r=rows_of: r[k]))
        info.rows_by_family[f"{family}_in_sample"] = len(rows_of)
    if township_rows:
        m.township_limit_in_sample = pyo.Constraint(list(township_rows), rule=lambda m, *k: township_rows[k])
        info.rows_by_family["township_limit_in_sample"] = len(township_rows)
    if not chance:
        left = pd.Series([not v.fixed for v in xs]).groupby(towns).any()
        empty = [t for t, ok in left.items() if not ok]
        if empty:
            raise ValueError(_("no industry keeps the water and income limits of township(s) {ids} in every sample").format(
                ids=", ".join(map(str, empty[:10]))))

    # ---- each sample's objective Z_s (万元)
    coefs = np.vstack([_objective_per_pair(d) for d in samples])
    step_rows: dict[bytes, tuple[tuple[str, str, int], np.ndarray, float]] = {}
    losses: list[list[tuple[float, bytes]]] = []
    for s, data in zip(sample_ids, samples):
        terms = []
        for name, k, coef, above, weight in _steps(data):
            key = _key(coef, above)
            step_rows.setdefault(key, ((s, name, k), coef, above))  # samples with equal output and threshold share one
            terms.append((weight, key))
        losses.append(terms)
    var_of = {key: idx for key, (idx, _c, _a) in step_rows.items()}
    _key_of = {idx: key for key, idx in var_of.items()}
    m.market_output_beyond_step_in_sample = pyo.Var(list(var_of.values()), within=pyo.NonNegativeReals)
    o = m.market_output_beyond_step_in_sample
    m.market_output_beyond_step_def_in_sample = pyo.Constraint(
        list(var_of.values()),
        rule=lambda m, *k: o[k] >= linear(step_rows[_key_of[k]][1]) - step_rows[_key_of[k]][2])
    objectives = [(coefs[n], sum(w * o[var_of[key]] for w, key in terms)) for n, terms in enumerate(losses)]
    m.objective_unit_yuan = MONEY_UNIT_YUAN
    if risk[0] == "expected":
        mean = coefs.mean(axis=0)
        m.expected_objective = pyo.Objective(
            expr=linear(mean) - sum(loss for _c, loss in objectives) / n_samples, sense=pyo.maximize)
    else:
        alpha = float(risk[1])
        position = {s: n for n, s in enumerate(sample_ids)}
        m.cvar_threshold = pyo.Var(within=pyo.Reals)
        m.cvar_shortfall = pyo.Var(m.sample_ids, within=pyo.NonNegativeReals)
        m.cvar_shortfall_def = pyo.Constraint(m.sample_ids, rule=lambda m, s: m.cvar_shortfall[s] >= m.cvar_threshold - (
            linear(objectives[position[s]][0]) - objectives[position[s]][1]))
        m.cvar_objective = pyo.Objective(
            expr=m.cvar_threshold - sum(m.cvar_shortfall[s] for s in sample_ids) / (alpha * n_samples),
            sense=pyo.maximize)
    log.info("sample-average model: %d samples, %s, hold %.3g; rows added %s; %d pairs ruled out",
             n_samples, risk, hold, info.rows_by_family, len(info.ruled_out))
    return m, info
