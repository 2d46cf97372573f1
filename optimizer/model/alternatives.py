"""Near-optimal plans that differ as much as possible (docs/model.md, "Near-optimal alternatives").

Built on the nominal model of build.py (every limit of the instance), with:

- `objective_within_slack`: Z(x) ≥ floor, the instance's own objective (with its falling
  prices) at least the floor. The floor is B − slack·|B| for the optimum's proven bound
  B ≥ Z*, so every plan meeting it is within the slack of the optimum Z*, however far
  HiGHS closed the optimum's gap.
- `township_kept[t]`: x_{t,p(t)} = 1 for townships the planner keeps as in the optimum p.
- `changes_from_optimum_max`: Σ_t (1 − x_{t,p(t)}) ≤ K.
- distances: d_j(x) = Σ_t w_t (1 − x_{t,q_j(t)}) from each earlier plan q_j (the optimum
  and the alternatives found so far), with w_t = 1 (townships changed) or the township's
  plannable hectares (`by area`); a township whose earlier industry is not allowed here
  counts as changed.
- diversity: `min_distance` ≤ d_j for every j (`distance_from_plan[j]`), and the objective
  `most_different` = W·min_distance + Σ_j d_j with W = Σ_j max d_j + 1: the smallest
  distance to an earlier plan first, then the total distance (lexicographic).
- `diversity_reached` (second stage): W·min_distance + Σ_j d_j ≥ the first stage's value,
  so that the instance's objective can be maximised among the most different plans.
- `township_changed` (a probe, `--prove-forced`): x_{t,p(t)} = 0 with the slack floor,
  keeps and change limit: infeasible exactly when no plan within the slack gives
  township t another industry than the optimum's.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from optimizer.model.build import build_model
from optimizer.model.data import ModelData


def build_alternative_model(
    data: ModelData,
    earlier: list[dict[str, str]],
    *,
    floor_yuan: float,
    keep: dict[str, str] | None = None,
    max_changes: int | None = None,
    weights: dict[str, float] | None = None,
) -> tuple[pyo.ConcreteModel, float]:
    """The model of the next alternative: nominal limits, the slack floor, keeps, and diversity.

    `earlier[0]` is the optimum. Returns (model, W) with the `most_different` objective active.
    """
    m = build_model(data)
    x = m.industry_chosen
    z = m.weighted_gep_and_income
    z.deactivate()
    m.weighted_objective_unit_yuan = m.objective_unit_yuan  # the instance's objective, scaled (model/scaling.py)
    m.objective_within_slack = pyo.Constraint(expr=z.expr >= floor_yuan / m.objective_unit_yuan)
    towns = list(data.townships.index if data.villages is None else data.villages.index)  # the planning units
    w = weights or {t: 1.0 for t in towns}
    optimum = earlier[0]

    def same(plan: dict[str, str], t: str) -> Any:
        return x[t, plan[t]] if (t, plan[t]) in x else 0.0

    if keep:
        m.township_kept = pyo.Constraint(sorted(keep), rule=lambda m, t: x[t, keep[t]] == 1)
    if max_changes is not None:
        m.changes_from_optimum_max = pyo.Constraint(expr=sum(1 - same(optimum, t) for t in towns) <= max_changes)
    m.earlier_plans = pyo.Set(initialize=range(len(earlier)), ordered=True)
    m.distance = pyo.Expression(m.earlier_plans, rule=lambda m, j: sum(w[t] * (1 - same(earlier[j], t)) for t in towns))
    m.min_distance = pyo.Var(within=pyo.NonNegativeReals)
    m.distance_from_plan = pyo.Constraint(m.earlier_plans, rule=lambda m, j: m.min_distance <= m.distance[j])
    big = len(earlier) * sum(w.values()) + 1.0
    m.diversity_weight = big
    m.most_different = pyo.Objective(expr=big * m.min_distance + sum(m.distance[j] for j in m.earlier_plans),
                                     sense=pyo.maximize)
    m.objective_unit_yuan = 1.0  # the diversity objective is in townships or hectares, not 万元
    return m, big


def to_best_objective(m: pyo.ConcreteModel, diversity: float) -> None:
    """Second stage: keep the diversity reached (`diversity_reached`) and maximise the instance's objective."""
    m.diversity_reached = pyo.Constraint(expr=m.most_different.expr >= diversity)
    m.most_different.deactivate()
    m.weighted_gep_and_income.activate()
    m.objective_unit_yuan = m.weighted_objective_unit_yuan


def build_change_probe(
    data: ModelData,
    optimum: dict[str, str],
    township: str,
    *,
    floor_yuan: float,
    keep: dict[str, str] | None = None,
    max_changes: int | None = None,
) -> pyo.ConcreteModel:
    """The best plan within the slack that gives `township` another industry (`township_changed`)."""
    m = build_model(data)
    x = m.industry_chosen
    m.objective_within_slack = pyo.Constraint(expr=m.weighted_gep_and_income.expr >= floor_yuan / m.objective_unit_yuan)
    towns = list(data.townships.index if data.villages is None else data.villages.index)  # the planning units
    if keep:
        m.township_kept = pyo.Constraint(sorted(keep), rule=lambda m, t: x[t, keep[t]] == 1)
    if max_changes is not None:
        m.changes_from_optimum_max = pyo.Constraint(
            expr=sum(1 - (x[t, optimum[t]] if (t, optimum[t]) in x else 0.0) for t in towns) <= max_changes)
    if (township, optimum[township]) in x:
        m.township_changed = pyo.Constraint(expr=x[township, optimum[township]] == 0)
    return m
