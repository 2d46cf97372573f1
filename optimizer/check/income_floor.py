"""Income floor: farmer_income_per_township_min.

Each township's floor is the larger of the per-ha floor (yuan/ha × area) and the share of
its baseline income; a township without a baseline gets only the per-ha floor, and a note.
"""

from __future__ import annotations

import numpy as np

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.report import format_amount, percent
from optimizer.i18n import _


def check_income_floor(ctx: Context, plan: PlanTable) -> None:
    """farmers' income of each township against its floor, when the instance sets one."""
    inst = ctx.inst
    if (inst.floor_per_ha is None and inst.floor_share is None) or not len(plan):
        return
    tids, base = plan.tids, plan.column("baseline_farmer_income_yuan")
    income = plan.column("farmer_income_yuan")
    area = ctx.town_num["plannable_area_ha"][plan.tpos]
    n = len(tids)
    per_ha = area * inst.floor_per_ha if inst.floor_per_ha is not None else None
    share = np.full(n, np.nan)
    has_share = np.zeros(n, dtype=bool)
    if inst.floor_share is not None:
        no_base = np.isnan(base)
        for k in np.flatnonzero(no_base).tolist():
            label = ctx.town_label(tids[k])
            ctx.findings.note(f"{label}: no baseline income; share floor not checked")
        has_share = ~no_base
        share = inst.floor_share * base
    if per_ha is not None:
        rows = np.arange(n)
        with np.errstate(invalid="ignore"):
            by_share = has_share & (share > per_ha)  # max() keeps the first of equals
        rhs = np.where(by_share, share, per_ha)
    else:
        rows = np.flatnonzero(has_share)
        by_share = has_share
        rhs = share
    area_l = area.tolist()
    base_l = base.tolist()

    def why(k: int) -> str:
        if by_share[k]:
            return _("{share} of baseline income {income}").format(
                share=percent(inst.floor_share), income=format_amount(base_l[k], "yuan"))
        return f"{format_amount(inst.floor_per_ha, 'yuan/ha')} × {format_amount(area_l[k], 'ha')}"

    r_tids = tids[rows]
    ctx.findings.constraint_rows(
        ctx.family("farmer_income_per_township_min"),
        r_tids,
        income[rows],
        ">=",
        rhs[rows],
        "yuan",
        lambda k, lhs, rhs: (
            _("{township}: farmers' income {income} is below the floor of {floor} ({why}; short by {by})").format(
                township=ctx.town_label(r_tids[k]), income=format_amount(lhs, "yuan"), floor=format_amount(rhs, "yuan"),
                why=why(int(rows[k])), by=format_amount(rhs - lhs, "yuan"))
        ),
    )
