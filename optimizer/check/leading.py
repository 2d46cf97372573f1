"""Village instances: the township rows over villages, recomputed from the input tables.

`water_use_per_township_max` (the township's villages against the township's own
water), `leading_industry_per_township` (each township with counted village area names
one leading industry, an industry of `leading_share_counts`) and
`leading_industry_share_min[t, i]` (the leading industry covers at least
`min_leading_share` of the township's counted area). The leading industry is the one
the allocation writes (`leading_industry`), or, for a planner's plan that names only
village products, the counted industry with the most area, which meets the share if any
industry does. Also the village columns of allocation.csv and township_allocation.csv
against the recomputation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.read_tables import ALLOCATION_UNITS
from optimizer.check.report import format_amount, percent
from optimizer.check.values import close_all, strings
from optimizer.i18n import _


def counted(ctx: Context) -> list[str]:
    """C: the industries whose area counts in a township's share (every candidate by default)."""
    cands = [i for i, ind in ctx.inst.industries.items() if ind.candidate]
    counts = ctx.inst.leading_counts
    return cands if counts is None else [i for i in cands if i in counts]


def parents_of(ctx: Context, plan: PlanTable) -> np.ndarray:
    """The township of each row of the plan table (allocation order)."""
    parent = dict(zip(ctx.towns["township_id"].tolist(), ctx.towns["parent"].tolist()))
    return np.array([parent.get(t, "") for t in plan.pt["township_id"].tolist()], dtype=object)


def check_township_water(ctx: Context, plan: PlanTable) -> None:
    """water_use_per_township_max: the villages of each township against the township's water."""
    if not ctx.inst.water_per_township or ctx.parents is None or not len(plan):
        return
    parents = ctx.parents
    with_villages = set(plan.pt["parent"].tolist())  # once: inside the comprehension it cost 3.5 s at 50k villages
    planned = [t for t in parents["township_id"].tolist() if t in with_villages]
    use = plan.group_sum("water_use_m3", "parent", planned)
    have = parents.set_index("township_id")["water_available_m3"].reindex(planned).to_numpy(dtype=float)
    ctx.findings.constraint_rows(
        "water_use_per_township_max", planned, use, "<=", have, "m³",
        lambda k, lhs, rhs: _("{township}: its villages use {lhs} of water, more than the township's {rhs} "
                              "(by {by})").format(township=ctx.parent_label(planned[k]), lhs=format_amount(lhs, "m³"),
                                                  rhs=format_amount(rhs, "m³"), by=format_amount(lhs - rhs, "m³")),
    )  # fmt: skip


def leading_of(ctx: Context, plan: PlanTable, alloc: pd.DataFrame) -> dict[str, str]:
    """Each township's leading industry: as written in the allocation, else implied by the plan.

    Townships whose written rows disagree are reported (`leading_industry_per_township`).
    """
    pt = plan.pt
    if "leading_industry" in alloc.columns and len(alloc):
        first = alloc.drop_duplicates("township_id", keep="first")
        written = pd.DataFrame({"township_id": first["township_id"].to_numpy(dtype=object),
                                "leading": strings(first["leading_industry"], str)})  # fmt: skip
        parent = dict(zip(ctx.towns["township_id"].tolist(), ctx.towns["parent"].tolist()))
        written["parent"] = [parent.get(t, "") for t in written["township_id"].tolist()]
        written = written[written["parent"] != ""]
        out: dict[str, str] = {}
        for tid, g in written.groupby("parent", sort=False):
            names = sorted(set(g["leading"].tolist()))
            if len(names) > 1:
                ctx.findings.violate(
                    "leading_industry_per_township", str(tid), float(len(names)), 1.0, "industries", "==",
                    _("{township}: its villages name {n} different leading industries ({names}); a township has "
                      "one").format(township=ctx.parent_label(str(tid)), n=len(names), names=", ".join(names)))
            out[str(tid)] = str(g["leading"].iloc[0])
        return out
    c = counted(ctx)
    df = pt[pt["industry"].isin(c)]
    if not len(df):
        return {}
    by = df.groupby(["parent", "industry"], sort=False)["area_ha"].sum().reset_index()
    by["rank"] = by["industry"].map({i: k for k, i in enumerate(c)})
    by = by.sort_values(["parent", "area_ha", "rank"], ascending=[True, False, True], kind="stable")
    best = by.drop_duplicates("parent", keep="first")
    return dict(zip(best["parent"].tolist(), best["industry"].tolist()))


def check_leading(ctx: Context, plan: PlanTable, lead: dict[str, str]) -> None:
    """leading_industry_per_township and leading_industry_share_min for every planned township."""
    share = ctx.inst.leading_share
    if share is None or not len(plan):
        return
    pt = plan.pt
    c = set(counted(ctx))
    in_c = pt["industry"].isin(c).to_numpy()
    counted_area = pt.loc[in_c].groupby("parent", sort=False)["area_ha"].sum()
    by_ti = pt.groupby(["parent", "industry"], sort=False)["area_ha"].sum()
    order = [t for t in ctx.parents["township_id"].tolist() if t in counted_area.index and counted_area[t] > 0]
    rows, lhs, rhs = [], [], []
    for tid in order:
        i = lead.get(tid, "")
        if not i or i not in c:
            what = (_("names no leading industry") if not i else
                    _("names '{industry}', which may not lead (not in leading_share_counts, or not a candidate)")
                    .format(industry=i))  # fmt: skip
            ctx.findings.violate(
                "leading_industry_per_township", tid, 0.0, 1.0, "industries", "==",
                _("{township} has {area} in industries that count towards the leading share but {what}").format(
                    township=ctx.parent_label(tid), area=format_amount(float(counted_area[tid]), "ha"), what=what))
            continue
        rows.append(f"{tid},{i}")
        lhs.append(float(by_ti.get((tid, i), 0.0)))
        rhs.append(share * float(counted_area[tid]))
    total = [float(counted_area[r.split(",", 1)[0]]) for r in rows]
    ctx.findings.constraint_rows(
        "leading_industry_share_min", rows, lhs, ">=", rhs, "ha",
        lambda k, lo, hi: _("{township}: its leading industry {industry} covers {lo} of {total} counted village "
                            "area ({have}), below the {need} required (short by {by})").format(
            township=ctx.parent_label(rows[k].split(",", 1)[0]), industry=ctx.industry_label(rows[k].split(",", 1)[1]),
            lo=format_amount(lo, "ha"), total=format_amount(total[k], "ha"),
            have=percent(lo / total[k]) if total[k] else "—", need=percent(share), by=format_amount(hi - lo, "ha")),
    )  # fmt: skip


def compare_village_columns(ctx: Context, alloc: pd.DataFrame, plan: PlanTable, lead: dict[str, str]) -> None:
    """allocation.csv's township id, township name, leading industry and its flag, per village."""
    if not len(plan):
        return
    pt = plan.pt
    first = alloc.drop_duplicates("township_id", keep="first").set_index("township_id")
    names = dict(zip(ctx.parents["township_id"].tolist(), ctx.parents["name"].tolist()))
    vids = pt["township_id"].tolist()
    parents = pt["parent"].tolist()
    inds = pt["industry"].tolist()
    c = set(counted(ctx))
    has_counted = {t for t, i in zip(parents, inds) if i in c}
    want = {
        "parent_township_id": parents,
        "township_name": [names.get(t, "") for t in parents],
        "leading_industry": [lead.get(t, "") if t in has_counted else "" for t in parents],
    }
    want["takes_leading_industry"] = [str(bool(ld) and ld == i) for ld, i in zip(want["leading_industry"], inds)]
    for col, values in want.items():
        if col not in first.columns:
            continue
        got = first[col].reindex(vids).fillna("").astype(str).tolist()
        for vid, g, w in zip(vids, got, values):
            if col == "leading_industry" and w == "" and g:
                continue  # no counted area: any leading industry meets the share
            if g != w:
                ctx.findings.mismatch("allocation", col, vid, g, w,
                                      _("{village}: {column} written as '{got}' but the inputs give '{want}'").format(
                                          village=ctx.town_label(vid), column=col, got=g, want=w))  # fmt: skip


#: township_allocation.csv columns the checker recomputes (docs/outputs.md).
TOWNSHIP_SUMS = ("water_use_m3", "pv_capacity_mw", "investment_yuan", "revenue_yuan", "farmer_income_yuan",
                 "gep_material_yuan", "gep_regulating_yuan", "gep_cultural_yuan", "gep_total_yuan",
                 "baseline_farmer_income_yuan", "baseline_gep_total_yuan", "change_farmer_income_yuan",
                 "change_gep_total_yuan")  # fmt: skip


def compare_townships(ctx: Context, path: Path, plan: PlanTable, lead: dict[str, str]) -> None:
    """township_allocation.csv of a village run against the villages' recomputed figures."""
    if not path.exists():
        ctx.findings.note(_("the run has no township_allocation.csv; township figures not compared"))
        return
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "township_id" not in df.columns:
        ctx.findings.note(_("township_allocation.csv has no township_id column; not compared"))
        return
    df["township_id"] = strings(df["township_id"])
    df = df.drop_duplicates("township_id").set_index("township_id")
    pt = plan.pt
    tids = ctx.parents["township_id"].tolist()
    g = pt.groupby("parent", sort=False)
    c = set(counted(ctx))
    want: dict[str, Any] = {
        "villages": g.size().reindex(tids, fill_value=0).astype(float),
        "area_ha": g["area_ha"].sum().reindex(tids, fill_value=0.0),
    }
    for col in TOWNSHIP_SUMS:
        want[col] = g[col].sum().reindex(tids, fill_value=0.0)
    by_ti = pt.groupby(["parent", "industry"], sort=False)["area_ha"].sum()
    counted_area = pt[pt["industry"].isin(c)].groupby("parent", sort=False)["area_ha"].sum().reindex(tids, fill_value=0.0)
    want["counted_area_ha"] = counted_area
    lead_s = pd.Series({t: (lead.get(t, "") if counted_area[t] > 0 else "") for t in tids}, dtype=object)
    want["leading_area_ha"] = pd.Series([float(by_ti.get((t, i), 0.0)) if i else 0.0 for t, i in lead_s.items()],
                                        index=tids)  # fmt: skip
    for ind in [i for i, d in ctx.inst.industries.items() if d.candidate]:
        want[f"area_ha_{ind}"] = pd.Series([float(by_ti.get((t, ind), 0.0)) for t in tids], index=tids)
    for col, series in want.items():
        if col not in df.columns:
            continue
        got = pd.to_numeric(df[col].reindex(tids), errors="coerce").to_numpy(dtype=float)
        w = series.to_numpy(dtype=float)
        off = ~np.isnan(got) & ~close_all(got, w, ctx.tol)
        unit = ALLOCATION_UNITS.get(col, "ha" if col.startswith("area_ha") or col.endswith("_area_ha") else "")
        for k in np.flatnonzero(off).tolist():
            ctx.findings.mismatch("township_allocation", col, tids[k], float(got[k]), float(w[k]),
                                  _("{township}: {column} written as {got} but recomputed as {want}").format(
                                      township=ctx.parent_label(tids[k]), column=col,
                                      got=format_amount(float(got[k]), unit), want=format_amount(float(w[k]), unit)))
    if "leading_industry" in df.columns:
        got_l = df["leading_industry"].reindex(tids).fillna("").astype(str)
        for t in tids:
            if counted_area[t] > 0 and got_l[t] != lead_s[t]:
                ctx.findings.mismatch("township_allocation", "leading_industry", t, got_l[t], lead_s[t],
                                      _("{township}: leading_industry written as '{got}' but the allocation gives "
                                        "'{want}'").format(township=ctx.parent_label(t), got=got_l[t], want=lead_s[t]))
