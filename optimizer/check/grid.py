"""Grid: pv_capacity_per_county_max, the PV each county's grid connection can take."""

from __future__ import annotations

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.report import format_amount


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
            f"County {grid[k]}: PV capacity {format_amount(lhs, 'MWp')} exceeds the grid "
            f"connection limit of {format_amount(rhs, 'MWp')} "
            f"(by {format_amount(lhs - rhs, 'MWp')})"
        ),
    )
