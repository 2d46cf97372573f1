"""Markets: output caps and falling prices (a concave, piecewise-linear revenue).

Rows count output in thousands of the industry's unit (kt, GWh) to keep HiGHS well scaled.

For a price step k of market m, o_mk ≥ output_m − above_k with o_mk ≥ 0; the revenue
lost, L_m = Σ_k (drop_k − drop_{k−1}) o_mk, is subtracted in the objective, so a
maximising solver keeps o_mk at exactly max(0, output_m − above_k).
"""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import OUTPUT_UNIT, ModelData


def _market_output(m: pyo.ConcreteModel, data: ModelData, industries: list[str]) -> object:
    x = m.industry_chosen
    out = data.pairs["output_1000"]
    sel = out[(out != 0).to_numpy() & data.pairs.index.get_level_values("industry").isin(industries)]
    return sum(v * x[p] for p, v in zip(sel.index, sel.to_numpy().tolist()))


def add_markets(m: pyo.ConcreteModel, data: ModelData) -> None:
    markets = data.spec.constraints.markets
    capped = [name for name, mk in markets.items() if mk.max_output is not None]
    stepped = [(name, k) for name, mk in markets.items() for k in range(len(mk.price_steps))]
    outputs = {name: _market_output(m, data, mk.industries) for name, mk in markets.items()}

    s_cap = data.scaling.row("market_output_max")
    s_step = data.scaling.row("market_output_beyond_step_def")

    def cap(m: pyo.ConcreteModel, name: str) -> object:
        if isinstance(outputs[name], (int, float)):
            return pyo.Constraint.Skip
        return s_cap * outputs[name] <= s_cap * markets[name].max_output / OUTPUT_UNIT

    m.market_output_max = pyo.Constraint(capped, rule=cap)

    steps = {name: sorted(mk.price_steps, key=lambda s: s.above_output) for name, mk in markets.items()}
    m.market_output_beyond_step = pyo.Var(stepped, within=pyo.NonNegativeReals)

    def beyond(m: pyo.ConcreteModel, name: str, k: int) -> object:
        return s_step * m.market_output_beyond_step[name, k] >= s_step * (
            outputs[name] - steps[name][k].above_output / OUTPUT_UNIT)

    m.market_output_beyond_step_def = pyo.Constraint(stepped, rule=beyond)

    def loss(m: pyo.ConcreteModel, name: str) -> object:
        drops = [s.price_drop_yuan_per_unit for s in steps[name]]
        # o_mk counts thousands of units; L_m stays in yuan (objective.py converts to 万元).
        return sum(
            (drops[k] - (drops[k - 1] if k else 0.0)) * OUTPUT_UNIT * m.market_output_beyond_step[name, k]
            for k in range(len(drops))
        )

    m.market_revenue_loss_yuan = pyo.Expression(list(markets), rule=loss)
