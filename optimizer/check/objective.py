"""Objective: weighted_gep_and_income, recomputed from the plan's totals.

gep_weight × (regulating + cultural [+ material when double_count is count_both]) +
income_weight × (farmers' income − the farmers' share of the revenue lost to price steps).
"""

from __future__ import annotations

from optimizer.check.context import Context
from optimizer.check.markets import market_output, price_step_loss
from optimizer.check.plan import PlanTable


def check_objective(ctx: Context, plan: PlanTable) -> None:
    """Set the report's objective, its parts and the per-market price-step losses."""
    inst, rep, pt = ctx.inst, ctx.findings.report, plan.pt
    totals = {
        k: (float(pt[k].sum()) if len(pt) else 0.0)
        for k in (
            "gep_material_yuan",
            "gep_regulating_yuan",
            "gep_cultural_yuan",
            "farmer_income_yuan",
        )
    }
    losses: dict[str, float] = {}
    farmer_loss = 0.0
    for mid, m in inst.markets.items():
        if not m.steps:
            losses[mid] = 0.0
            continue
        loss = price_step_loss(market_output(plan, m), m.steps)
        losses[mid] = loss
        shares = [
            inst.industries[i].fields["farmer_share_of_value_added"] or 0.0
            for i in m.industries
            if i in inst.industries
        ]
        if len(set(shares)) > 1:
            ctx.findings.note(
                f"market {mid}: industries have different farmer shares {shares}; "
                "the first is used"
            )
        farmer_loss += (shares[0] if shares else 0.0) * loss
    delta = 1.0 if inst.double_count == "count_both" else 0.0
    gep_part = (
        totals["gep_regulating_yuan"]
        + totals["gep_cultural_yuan"]
        + delta * totals["gep_material_yuan"]
    )
    income_part = totals["farmer_income_yuan"] - farmer_loss
    rep.objective_yuan = inst.gep_weight * gep_part + inst.income_weight * income_part
    rep.market_revenue_loss_yuan = losses
    rep.parts = {
        **totals,
        "market_revenue_loss_yuan": sum(losses.values()),
        "farmer_market_revenue_loss_yuan": farmer_loss,
        "farmer_income_after_price_steps_yuan": income_part,
    }
