"""Budget: investment_budget_max, the plan's total investment against the budget."""

from __future__ import annotations

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.report import format_amount
from optimizer.i18n import _


def check_budget(ctx: Context, plan: PlanTable) -> None:
    """One row when the instance sets `investment_budget_yuan`, none otherwise."""
    budget = ctx.inst.investment_budget
    if budget is None:
        return
    pt = plan.pt
    spent = float(pt["investment_yuan"].sum()) if len(pt) else 0.0
    ctx.findings.constraint(
        "investment_budget_max",
        None,
        spent,
        "<=",
        budget,
        "yuan",
        lambda lhs, rhs: (
            _("Investment {used} exceeds the budget of {limit} (by {by})").format(
                used=format_amount(lhs, "yuan"), limit=format_amount(rhs, "yuan"), by=format_amount(lhs - rhs, "yuan"))
        ),
    )
