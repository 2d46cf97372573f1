"""Grid: pv_capacity_per_county_max, the PV each county's grid connection can take."""

from __future__ import annotations

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.report import format_amount
from optimizer.i18n import _


def check_grid(ctx: Context, plan: PlanTable) -> None:
    """The plan's PV capacity per county against the county's grid limit."""
    limits = ctx.inst.grid_county_max_mw
    grid = list(limits)
    ctx.warn_unknown_group("county", grid)
    ctx.findings.constraint_rows(
        "pv_capacity_per_county_max",
        grid,
        plan.group_sum("pv_capacity_mw", "county", grid),
        "<=",
        [limits[c] for c in grid],
        "MWp",
        lambda k, lhs, rhs: (
            _("County {county}: PV capacity {used} exceeds the grid connection limit of {limit} (by {by})").format(
                county=grid[k], used=format_amount(lhs, "MWp"), limit=format_amount(rhs, "MWp"),
                by=format_amount(lhs - rhs, "MWp"))
        ),
    )
