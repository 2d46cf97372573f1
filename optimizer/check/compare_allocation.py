"""The written allocation.csv against the recomputed per-township table.

A plan may satisfy every limit and still report wrong figures; each written number or
label that disagrees with the recomputation is a Mismatch, listed township by township
in the order of the columns of docs/outputs.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.read_tables import ALLOCATION_NUMERIC, ALLOCATION_TEXT, ALLOCATION_UNITS
from optimizer.check.report import format_amount
from optimizer.check.values import close_all


def compare_allocation(ctx: Context, alloc: pd.DataFrame, plan: PlanTable) -> None:
    """Each township's first allocation row, column by column, against the recomputation."""
    pt = plan.pt
    if not len(pt):
        return
    absent = [c for c in ALLOCATION_NUMERIC if c not in alloc.columns]
    if absent:
        ctx.findings.note("allocation has no column(s) " + ", ".join(absent) + "; not compared")
    first = alloc.drop_duplicates("township_id", keep="first").set_index("township_id")
    ptids = pt["township_id"].to_numpy(dtype=object)
    at = pd.Index(first.index.to_numpy(dtype=object), dtype=object).get_indexer(ptids)
    out_units = pt["output_unit"].to_numpy(dtype=object)
    found: list[tuple[int, int, tuple[Any, ...]]] = []  # (plan row, column rank, mismatch)
    for rank, col in enumerate(ALLOCATION_NUMERIC):
        if col not in first.columns:
            continue
        want = pt[col].to_numpy(dtype=float, na_value=np.nan)
        got = first[col].to_numpy(dtype=float, na_value=np.nan)[at]
        has_want = ~np.isnan(want)
        blank = has_want & np.isnan(got)
        off = has_want & ~np.isnan(got) & ~close_all(got, want, ctx.tol)
        for k in np.flatnonzero(blank).tolist():
            w = float(want[k])
            message = (
                f"{ctx.town_label(ptids[k])}: {col} is blank; recomputed "
                f"{format_amount(w, ALLOCATION_UNITS.get(col, ''))}"
            )
            found.append((k, rank, (col, ptids[k], None, w, message)))
        for k in np.flatnonzero(off).tolist():
            g, w = float(got[k]), float(want[k])
            unit = ALLOCATION_UNITS.get(col, out_units[k] if col == "output_amount" else "")
            message = (
                f"{ctx.town_label(ptids[k])}: {col} written as "
                f"{format_amount(g, unit)} but recomputed as {format_amount(w, unit)}"
            )
            found.append((k, rank, (col, ptids[k], g, w, message)))
    for rank, col in enumerate(ALLOCATION_TEXT, start=len(ALLOCATION_NUMERIC)):
        if col not in first.columns:
            continue
        want = pt[col].to_numpy(dtype=object)
        got = first[col].to_numpy(dtype=object)[at]
        for k in np.flatnonzero(got != want).tolist():
            w = "" if want[k] is None else str(want[k])
            g = str(got[k])
            if g == w:
                continue
            message = (
                f"{ctx.town_label(ptids[k])}: {col} written as '{g}' but the inputs give '{w}'"
            )
            found.append((k, rank, (col, ptids[k], g, w, message)))
    found.sort(key=lambda e: e[:2])
    for _k, _rank, args in found:
        ctx.findings.mismatch("allocation", *args)
