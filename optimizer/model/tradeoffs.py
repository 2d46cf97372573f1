"""Additions for trade-off analyses: the frontier's ε-constraint and lexicographic stages.

`optimizer frontier` asks a different question of the same model: not "which plan
maximises w_G·GEP + w_H·income" but "how much GEP can a plan keep while farmers earn at
least ε". These components are added beside the model of docs/model.md and never
change an existing family; the weighted objective is only deactivated while they are
in use. Names read as sentences in an LP file:

- `farmer_income_after_price_steps_10k_yuan` = H − Σ_m φ_m L_m (万元), the income part of
  the weighted objective;
- `frontier_gep_10k_yuan` = the GEP categories the frontier counts (万元);
- `farmer_income_min_epsilon`: income − `farmer_income_above_epsilon` = ε, in 亿元
  (10⁸ yuan), with the slack ≥ 0 (AUGMECON2's form of income ≥ ε);
- `gep_max_plus_income_above_epsilon`: maximise GEP + c·slack, c > 0 small, so that of
  two plans with the same GEP the one that pays farmers more wins (no weakly dominated
  point is reported);
- `farmer_income_max`, `gep_max`: the payoff table's first lexicographic stages, and
  `farmer_income_at_least_stage_one`, `gep_at_least_stage_one`: their second stages
  (keep the first stage's optimum, maximise the other objective);
- `gep_at_most_known_bound`: GEP ≤ a bound already proven for a smaller ε (fewer plans
  qualify at a larger ε, so the bound still holds); a valid cut, off unless asked for.

Rows on income are in 亿元 because a region's yearly income is ~10¹⁰ yuan: in 万元 the
right-hand side reaches 10⁶ and HiGHS warns of excessively large bounds.
"""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.instance.schema import GEP_CATEGORIES
from optimizer.model.data import MONEY_UNIT_YUAN, ModelData
from optimizer.model.objective import market_farmer_share

#: Unit of the ε row and the lexicographic rows: 亿元 (1e8 yuan).
EPSILON_UNIT_YUAN = 1e8
_PER_EPSILON_UNIT = EPSILON_UNIT_YUAN / MONEY_UNIT_YUAN  # 万元 per 亿元


def objective_gep_categories(double_count: str) -> tuple[str, ...]:
    """The GEP categories the weighted objective counts under a `double_count` convention."""
    if double_count == "count_both":
        return GEP_CATEGORIES
    return tuple(c for c in GEP_CATEGORIES if c != "material")


def add_tradeoff_components(m: pyo.ConcreteModel, data: ModelData, categories: tuple[str, ...]) -> None:
    """Income and GEP expressions, the ε-constraint, and the lexicographic stages (all inactive).

    Call after `build_model`. Activate one objective with `use_stage`; set ε, the AUGMECON2
    bonus and the stage-one values with the `set_*` functions. Those write plain numbers
    into the rows, not mutable Params: Pyomo's HiGHS interface pushes a changed Param to
    HiGHS after the MIP start is set, and HiGHS then drops the start (measured).
    """
    loss = sum(
        market_farmer_share(data, k) * m.market_revenue_loss_yuan[k] / MONEY_UNIT_YUAN
        for k in m.market_revenue_loss_yuan
    )
    m.farmer_income_after_price_steps_10k_yuan = pyo.Expression(expr=m.farmer_income_10k_yuan - loss)
    m.frontier_gep_10k_yuan = pyo.Expression(
        expr=sum(m.component(f"gep_{c}_10k_yuan") for c in categories) if categories else 0.0
    )
    income = m.farmer_income_after_price_steps_10k_yuan
    gep = m.frontier_gep_10k_yuan
    m.farmer_income_above_epsilon = pyo.Var(within=pyo.NonNegativeReals)  # in 亿元
    m.farmer_income_min_epsilon = pyo.Constraint(expr=income / _PER_EPSILON_UNIT - m.farmer_income_above_epsilon == 0.0)
    m.gep_max_plus_income_above_epsilon = pyo.Objective(expr=gep, sense=pyo.maximize)
    m.farmer_income_max = pyo.Objective(expr=income, sense=pyo.maximize)
    m.gep_max = pyo.Objective(expr=gep, sense=pyo.maximize)
    m.farmer_income_at_least_stage_one = pyo.Constraint(expr=income / _PER_EPSILON_UNIT >= 0.0)
    m.gep_at_least_stage_one = pyo.Constraint(expr=gep / _PER_EPSILON_UNIT >= 0.0)
    m.gep_at_most_known_bound = pyo.Constraint(expr=gep / _PER_EPSILON_UNIT <= 0.0)
    for name in STAGES_COMPONENTS:
        m.component(name).deactivate()
    # The weighted objective is scaled (model/scaling.py) and `objective_unit_yuan` is its
    # unit; the stages' objectives are in plain 万元. `use_stage` switches the unit with
    # the objective, so that HiGHS's objective and bound convert to yuan correctly.
    m.weighted_objective_unit_yuan = float(getattr(m, "objective_unit_yuan", MONEY_UNIT_YUAN))


def set_epsilon(m: pyo.ConcreteModel, epsilon_yuan: float, bonus: float) -> None:
    """income − slack = ε (亿元), and maximise GEP + bonus·slack (bonus: 万元 of GEP per 亿元 of slack)."""
    income = m.farmer_income_after_price_steps_10k_yuan / _PER_EPSILON_UNIT
    m.farmer_income_min_epsilon.set_value(income - m.farmer_income_above_epsilon == to_epsilon_unit(epsilon_yuan))
    m.gep_max_plus_income_above_epsilon.set_value(m.frontier_gep_10k_yuan + float(bonus) * m.farmer_income_above_epsilon)


def set_stage_one(m: pyo.ConcreteModel, income_yuan: float | None = None, gep_yuan: float | None = None) -> None:
    """The second lexicographic stage keeps the first stage's income (or GEP) at least."""
    if income_yuan is not None:
        m.farmer_income_at_least_stage_one.set_value(
            m.farmer_income_after_price_steps_10k_yuan / _PER_EPSILON_UNIT >= to_epsilon_unit(income_yuan))
    if gep_yuan is not None:
        m.gep_at_least_stage_one.set_value(m.frontier_gep_10k_yuan / _PER_EPSILON_UNIT >= to_epsilon_unit(gep_yuan))


def set_known_bound(m: pyo.ConcreteModel, gep_yuan: float) -> None:
    """GEP ≤ a bound proven at a smaller ε; activated by the caller."""
    m.gep_at_most_known_bound.set_value(m.frontier_gep_10k_yuan / _PER_EPSILON_UNIT <= to_epsilon_unit(gep_yuan))


#: Every component `use_stage` switches; all inactive after `add_tradeoff_components`.
STAGES_COMPONENTS = (
    "farmer_income_min_epsilon", "gep_max_plus_income_above_epsilon", "farmer_income_max", "gep_max",
    "farmer_income_at_least_stage_one", "gep_at_least_stage_one", "gep_at_most_known_bound",
)  # fmt: skip

#: stage → (objective, active rows)
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "weighted": ("weighted_gep_and_income", ()),
    "income_max": ("farmer_income_max", ()),
    "income_max_then_gep": ("gep_max", ("farmer_income_at_least_stage_one",)),
    "gep_max": ("gep_max", ()),
    "gep_max_then_income": ("farmer_income_max", ("gep_at_least_stage_one",)),
    "epsilon": ("gep_max_plus_income_above_epsilon", ("farmer_income_min_epsilon",)),
}


def use_stage(m: pyo.ConcreteModel, stage: str) -> None:
    """Activate one stage's objective and rows, deactivating every other stage's, and its unit.

    Why the unit: the weighted objective is multiplied by the instance's objective scale, the
    stages' objectives are not; a bound converted with the weighted unit came out 1/scale
    times too large (gap ≈ 999 on Fuchuan, where the scale is 10⁻³).
    """
    objective, rows = STAGES[stage]
    m.weighted_gep_and_income.deactivate()
    for name in STAGES_COMPONENTS:
        m.component(name).deactivate()
    m.component(objective).activate()
    for name in rows:
        m.component(name).activate()
    m.objective_unit_yuan = m.weighted_objective_unit_yuan if stage == "weighted" else MONEY_UNIT_YUAN


def to_epsilon_unit(yuan: float) -> float:
    """Yuan to the 亿元 of the ε and lexicographic rows."""
    return yuan / EPSILON_UNIT_YUAN
