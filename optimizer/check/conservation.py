"""Conservation: conservation_area_min and conservation_area_per_county_min.

Shares are of the plannable area of every township in the table (not only of those the
plan covers), as in docs/model.md.
"""

from __future__ import annotations

import numpy as np

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.report import format_amount, percent
from optimizer.i18n import _


def check_conservation(ctx: Context, plan: PlanTable) -> None:
    """The area of conservation industries, overall and per county, against its share."""
    inst, pt = ctx.inst, plan.pt
    cons_area = (
        pt.loc[pt["counts_as_conservation"].astype(bool), ["county", "area_ha"]]
        if len(pt)
        else None
    )
    if inst.conservation_share is not None:
        s = inst.conservation_share
        total = float(ctx.towns["plannable_area_ha"].sum())
        have = float(cons_area["area_ha"].sum()) if cons_area is not None else 0.0
        ctx.findings.constraint(
            "conservation_area_min",
            None,
            have,
            ">=",
            s * total,
            "ha",
            lambda lhs, rhs: (
                _("Conservation area {area} is below the required {need} ({share} of {total} plannable; short by {by})").format(
                    area=format_amount(lhs, "ha"), need=format_amount(rhs, "ha"), share=percent(s),
                    total=format_amount(total, "ha"), by=format_amount(rhs - lhs, "ha"))
            ),
        )
    if inst.conservation_share_per_county is not None:
        share = inst.conservation_share_per_county
        all_counties = sorted(set(ctx.town_text["county"].tolist()))
        totals = (
            ctx.towns.groupby("county", sort=False)["plannable_area_ha"]
            .sum()
            .reindex(all_counties, fill_value=0.0)
            .to_numpy(dtype=float)
        )
        have_by = (
            cons_area.groupby("county", sort=False)["area_ha"]
            .sum()
            .reindex(all_counties, fill_value=0.0)
            .to_numpy(dtype=float)
            if cons_area is not None and len(all_counties)
            else np.zeros(len(all_counties))
        )
        ctx.findings.constraint_rows(
            "conservation_area_per_county_min",
            all_counties,
            have_by,
            ">=",
            share * totals,
            "ha",
            lambda k, lhs, rhs: (
                _("County {county}: conservation area {area} is below the required {need} ({share} of {total} "
                  "plannable; short by {by})").format(
                    county=all_counties[k], area=format_amount(lhs, "ha"), need=format_amount(rhs, "ha"),
                    share=percent(share), total=format_amount(float(totals[k]), "ha"), by=format_amount(rhs - lhs, "ha"))
            ),
        )
