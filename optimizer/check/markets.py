"""Markets: market_output_max, and the revenue lost to falling prices (price steps)."""

from __future__ import annotations

from collections.abc import Iterable

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.read_instance import Market
from optimizer.check.report import format_amount
from optimizer.i18n import _


def price_step_loss(output: float, steps: Iterable[tuple[float, float]]) -> float:
    """Revenue lost to falling prices when a market sells `output` units.

    `steps` are (above_output, price_drop_yuan_per_unit) pairs; they are cumulative:
    beyond `above_k` each unit sells `drop_k` below the industry's price. Sorting by
    above_output and charging each step only the *increment* of its drop over the
    previous one gives L = Σ_k (drop_k − drop_{k−1})·max(0, Q − above_k), exactly the
    value the model's o_mk variables take at an optimum (docs/model.md, Falling prices).
    """
    loss = 0.0
    previous_drop = 0.0
    for above, drop in sorted(steps, key=lambda s: (float(s[0]), float(s[1]))):
        loss += (float(drop) - previous_drop) * max(0.0, float(output) - float(above))
        previous_drop = float(drop)
    return loss


def market_output(plan: PlanTable, m: Market) -> float:
    """What the plan sells on market m: the output of its townships in m's industries."""
    pt = plan.pt
    if not len(pt):
        return 0.0
    return float(pt.loc[pt["industry"].isin(m.industries), "output_amount"].sum())


def market_unit(ctx: Context, m: Market) -> str:
    """The output unit of a market: that of its first defined industry."""
    for iid in m.industries:
        if iid in ctx.inst.industries:
            return ctx.inst.industries[iid].output_unit
    return ""


def check_markets(ctx: Context, plan: PlanTable) -> None:
    """market_output_max for every market with a cap (price steps belong to the objective)."""
    for mid, m in ctx.inst.markets.items():
        if m.max_output is None:
            continue
        unit = market_unit(ctx, m)
        ctx.findings.constraint(
            "market_output_max",
            mid,
            market_output(plan, m),
            "<=",
            m.max_output,
            unit,
            lambda lhs, rhs, mid=mid, unit=unit: (
                _("Market {market}: output {used} exceeds the market's cap of {limit} (by {by})").format(
                    market=mid, used=format_amount(lhs, unit), limit=format_amount(rhs, unit),
                    by=format_amount(lhs - rhs, unit))
            ),
        )
