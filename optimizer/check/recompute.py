"""The per-township table of a plan: every figure of allocation.csv, recomputed.

Area × per-ha figure of the chosen pair, and of the baseline pair (the township's
`baseline_land_use`) for the change columns; this table is what the family checks sum
and what the written allocation is compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from optimizer.check.assignment import RANK_BASELINE, RANK_CHOSEN
from optimizer.check.context import Context
from optimizer.check.per_ha import GEP_CATEGORIES, per_ha
from optimizer.check.plan import AllocationRows, PlanTable
from optimizer.check.read_instance import Industry

#: Columns of the per-township table: those of allocation.csv (docs/outputs.md), in its
#: order, plus basin and counts_as_conservation, which the family checks group by.
PT_COLUMNS = [
    "township_id", "name", "county", "city", "basin", "industry", "industry_label",
    "industry_label_zh", "area_ha", "output_amount", "output_unit", "water_use_m3",
    "pv_capacity_mw", "investment_yuan", "revenue_yuan", "operating_cost_yuan",
    "value_added_yuan", "farmer_income_yuan", "gep_material_yuan", "gep_regulating_yuan",
    "gep_cultural_yuan", "gep_total_yuan", "baseline_land_use", "baseline_farmer_income_yuan",
    "baseline_gep_total_yuan", "change_farmer_income_yuan", "change_gep_total_yuan",
    "counts_as_conservation", "locked",
]  # fmt: skip


def recompute(ctx: Context, rows: AllocationRows) -> PlanTable:
    """Recompute each row that enters the plan.

    Notes on the coefficients are held back by allocation row (`Findings.note_at`), to be
    listed with the pair rules' notes of the same rows.
    """
    inst, note_at = ctx.inst, ctx.findings.note_at
    vpos, vt, vi, vtp = rows.vpos, rows.vt, rows.vi, rows.vtp

    # figures of the chosen pair and of the baseline pair
    c, chosen_notes = per_ha(ctx, vt, vi, vtp)
    for k, sub, text in chosen_notes:
        note_at(int(vpos[k]), RANK_CHOSEN, sub, text)
    baseline = ctx.town_text["baseline_land_use"][vtp]
    has_base = pd.Series(baseline, dtype=object).isin(list(inst.industries)).to_numpy()
    bk = np.flatnonzero(has_base)
    cb, base_notes = per_ha(ctx, vt[bk], baseline[bk], vtp[bk])
    for k, sub, text in base_notes:
        note_at(int(vpos[bk[k]]), RANK_BASELINE, sub, text)
    for k in np.flatnonzero(~has_base).tolist():
        note_at(int(vpos[k]), RANK_BASELINE, 0,
                f"{ctx.town_label(vt[k])}: baseline land use '{baseline[k]}' is not an "
                "industry; no baseline")  # fmt: skip

    n = len(vpos)
    area = ctx.town_num["plannable_area_ha"][vtp]
    base_income = np.full(n, np.nan)
    base_gep = np.full(n, np.nan)
    base_income[bk] = area[bk] * cb["farmer_income"]
    base_gep[bk] = area[bk] * (cb["gep_material"] + cb["gep_regulating"] + cb["gep_cultural"])
    income = area * c["farmer_income"]
    gep = {k: area * c[f"gep_{k}"] for k in GEP_CATEGORIES}
    gep_total = gep["material"] + gep["regulating"] + gep["cultural"]
    ind_of = pd.Series(vi, dtype=object)
    industries = inst.industries

    def by_industry(get: Callable[[Industry], Any]) -> np.ndarray:
        return ind_of.map({i: get(ind) for i, ind in industries.items()}).to_numpy(dtype=object)

    must = {(t, i) for t, i, _ in inst.must_locks}
    locked = np.full(n, "", dtype=object)
    if must and n:
        locked[pd.MultiIndex.from_arrays([vt, vi]).isin(list(must))] = "must"
    text = ctx.town_text
    frame = {
        "township_id": vt,
        "name": text["name"][vtp],
        "county": text["county"][vtp],
        "city": text["city"][vtp],
        "basin": text["basin"][vtp],
        "industry": vi,
        "industry_label": by_industry(lambda ind: ind.label),
        "industry_label_zh": by_industry(lambda ind: ind.label_zh or ""),
        "area_ha": area,
        "output_amount": area * c["output"],
        "output_unit": by_industry(lambda ind: ind.output_unit),
        "water_use_m3": area * c["water"],
        "pv_capacity_mw": area * c["pv_capacity"],
        "investment_yuan": area * c["investment"],
        "revenue_yuan": area * c["revenue"],
        "operating_cost_yuan": area * c["operating_cost"],
        "value_added_yuan": area * c["value_added"],
        "farmer_income_yuan": income,
        "gep_material_yuan": gep["material"],
        "gep_regulating_yuan": gep["regulating"],
        "gep_cultural_yuan": gep["cultural"],
        "gep_total_yuan": gep_total,
        "baseline_land_use": baseline,
        "baseline_farmer_income_yuan": base_income,
        "baseline_gep_total_yuan": base_gep,
        "change_farmer_income_yuan": income - base_income,
        "change_gep_total_yuan": gep_total - base_gep,
        "counts_as_conservation": by_industry(lambda ind: ind.conservation).astype(bool),
        "locked": locked,
    }
    return PlanTable.of(ctx, pd.DataFrame(frame, columns=PT_COLUMNS))
