"""Water: water_use_per_township_max, water_use_per_county_max, water_use_per_basin_max."""

from __future__ import annotations

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.report import format_amount
from optimizer.i18n import _


def check_water(ctx: Context, plan: PlanTable) -> None:
    """Water use against each township's supply and each county's and basin's budget."""
    inst, findings = ctx.inst, ctx.findings
    per_unit = inst.water_per_village if ctx.villages else inst.water_per_township
    if per_unit and len(plan):
        tids = plan.tids
        own = _("the village's") if ctx.villages else _("the township's")
        findings.constraint_rows(
            ctx.family("water_use_per_township_max"),
            tids,
            plan.column("water_use_m3"),
            "<=",
            ctx.town_num["water_available_m3"][plan.tpos],
            "m³",
            lambda k, lhs, rhs: (
                _("{township}: water use {used} exceeds {own} {limit} (by {by})").format(
                    township=ctx.town_label(tids[k]), used=format_amount(lhs, "m³"), own=own, limit=format_amount(rhs, "m³"),
                    by=format_amount(lhs - rhs, "m³"))
            ),
        )

    counties = list(inst.county_water_max)
    ctx.warn_unknown_group("county", counties)
    findings.constraint_rows(
        "water_use_per_county_max",
        counties,
        plan.group_sum("water_use_m3", "county", counties),
        "<=",
        [inst.county_water_max[c] for c in counties],
        "m³",
        lambda k, lhs, rhs: (
            _("County {county}: water use {used} exceeds the county budget of {limit} (by {by})").format(
                county=counties[k], used=format_amount(lhs, "m³"), limit=format_amount(rhs, "m³"),
                by=format_amount(lhs - rhs, "m³"))
        ),
    )

    basins = list(inst.basin_water_max)
    ctx.warn_unknown_group("basin", basins)
    findings.constraint_rows(
        "water_use_per_basin_max",
        basins,
        plan.group_sum("water_use_m3", "basin", basins),
        "<=",
        [inst.basin_water_max[b] for b in basins],
        "m³",
        lambda k, lhs, rhs: (
            _("Basin {basin}: water use {used} exceeds the basin budget of {limit} (by {by})").format(
                basin=basins[k], used=format_amount(lhs, "m³"), limit=format_amount(rhs, "m³"),
                by=format_amount(lhs - rhs, "m³"))
        ),
    )
