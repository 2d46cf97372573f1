"""Assignment: one_industry_per_township, and the rules that define the allowed pairs P.

The model enforces the pair rules by leaving pairs out of P (no variable, no row), so a
hand-written plan can still break them; here each gets a violation of its own:
`unknown_township`, `unknown_industry`, `industry_not_candidate`, `suitability_<gate>`
and `industry_forbidden`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer.check.context import Context
from optimizer.check.plan import AllocationRows
from optimizer.check.report import Violation, format_amount
from optimizer.i18n import N_, _

#: Suitability gates: YAML key, township column, sense, words, unit.
GATES: tuple[tuple[str, str, str, str, str], ...] = (
    ("min_soil_depth_cm", "soil_depth_cm", ">=", N_("soil depth"), "cm"),
    ("max_slope_deg", "slope_deg", "<=", N_("slope"), "°"),
    (
        "max_rocky_desertification_grade",
        "rocky_desertification_grade",
        "<=",
        N_("rocky-desertification grade"),
        "",
    ),
    ("min_irradiance_kwh_per_m2", "irradiance_kwh_per_m2", ">=", N_("irradiance"), "kWh/m²"),
)

# Findings of the row-by-row rules are gathered as (allocation row, rank, sub-rank, item)
# and sorted, so that they come out in the order a row-by-row pass would list them:
# per row unknown township, unknown industry, not a candidate, the gates in GATES order,
# forbidden, then notes from the chosen pair's and the baseline pair's coefficients.
RANK_UNKNOWN_TOWNSHIP = 0
RANK_UNKNOWN_INDUSTRY = 1
RANK_NOT_CANDIDATE = 2
RANK_GATE = 3  # + position in GATES
RANK_FORBIDDEN = 3 + len(GATES)
RANK_CHOSEN = RANK_FORBIDDEN + 1
RANK_BASELINE = RANK_CHOSEN + 1


def check_assignment(ctx: Context, rows: AllocationRows) -> None:
    """The pair rules row by row, then one_industry_per_township for every township."""
    found: list[tuple[int, int, int, Violation]] = []

    def flag(pos: int, rank: int, *args: Any) -> None:
        found.append((pos, rank, 0, Violation(*args)))

    tids, iids = rows.tids, rows.iids
    for pos in np.flatnonzero(~rows.known).tolist():
        tid = tids[pos]
        message = _("Allocation row {row}: township id '{tid}' is not in the township table").format(row=pos + 1, tid=tid)
        if ctx.villages:
            message = _("Allocation row {row}: village id '{village}' is not in the village table").format(
                row=pos + 1, village=tid)
        flag(pos, RANK_UNKNOWN_TOWNSHIP, "unknown_village" if ctx.villages else "unknown_township", tid or None,
             None, None, "", "in", message)  # fmt: skip
    for pos in np.flatnonzero(rows.first & ~rows.is_industry).tolist():
        tid, iid = tids[pos], iids[pos]
        flag(pos, RANK_UNKNOWN_INDUSTRY, "unknown_industry", tid, None, None, "", "in",
             _("{township}: industry '{industry}' is not defined in the instance").format(
                 township=ctx.town_label(tid), industry=iid))  # fmt: skip
    _candidates_and_gates(ctx, rows, flag)
    _forbidden(ctx, rows, flag)
    found.sort(key=lambda e: e[:3])
    for _pos, _rank, _sub, v in found:
        ctx.findings.add(v)
    _one_industry_per_township(ctx, rows)


def _candidates_and_gates(ctx: Context, rows: AllocationRows, flag: Any) -> None:
    """industry_not_candidate and suitability_<gate>, for the rows that enter the plan."""
    vpos, vt, vi, vtp = rows.vpos, rows.vt, rows.vi, rows.vtp
    for iid, ind in ctx.inst.industries.items():
        at = np.flatnonzero(vi == iid) if len(vi) else np.empty(0, dtype=np.intp)
        if not len(at):
            continue
        if not ind.candidate:
            for k in at.tolist():
                flag(int(vpos[k]), RANK_NOT_CANDIDATE, "industry_not_candidate", vt[k], None,
                     None, "", "in",
                     _("{township}: {industry} is not a candidate industry (candidate: false, it may only be a "
                       "baseline land use)").format(township=ctx.town_label(vt[k]), industry=ctx.industry_label(iid)))  # fmt: skip
        for g, (key, column, sense, words, unit) in enumerate(GATES):
            if key not in ind.gates:
                continue
            limit = ind.gates[key]
            value = ctx.town_num[column][vtp[at]]
            missing = np.isnan(value)
            with np.errstate(invalid="ignore"):
                # gates are exact, as in P
                passes = value >= limit if sense == ">=" else value <= limit
            for k in at[missing].tolist():
                ctx.findings.note_at(
                    int(vpos[k]),
                    RANK_GATE + g,
                    0,
                    f"{ctx.town_label(vt[k])} has no {column}; gate {key} of {ind.id} not checked",
                )
            need = _("at least") if sense == ">=" else _("at most")
            fails = ~missing & ~passes
            for k, x in zip(at[fails].tolist(), value[fails].tolist()):
                flag(int(vpos[k]), RANK_GATE + g, f"suitability_{key}", vt[k], x, limit, unit,
                     sense,
                     (_("{township}: {industry} needs {what} {need} {limit}; the village has {value}") if ctx.villages
                      else _("{township}: {industry} needs {what} {need} {limit}; the township has {value}")).format(
                         township=ctx.town_label(vt[k]), industry=ctx.industry_label(ind.id), what=_(words), need=need,
                         limit=format_amount(limit, unit), value=format_amount(x, unit)))  # fmt: skip


def _forbidden(ctx: Context, rows: AllocationRows, flag: Any) -> None:
    """industry_forbidden: a pair that a `forbid` lock leaves out of P."""
    forbid = ctx.inst.forbid_locks
    if not forbid or not len(rows.vpos):
        return
    vt, vi = rows.vt, rows.vi
    pairs = pd.MultiIndex.from_arrays([vt, vi])
    for k in np.flatnonzero(pairs.isin(list(forbid))).tolist():
        reason = forbid[(vt[k], vi[k])]
        flag(int(rows.vpos[k]), RANK_FORBIDDEN, "industry_forbidden", vt[k], 1.0, 0.0, "", "==",
             _("{township}: {industry} is forbidden here by a lock").format(
                 township=ctx.town_label(vt[k]), industry=ctx.industry_label(vi[k])) + (f" ({reason})" if reason else ""))  # fmt: skip


def _one_industry_per_township(ctx: Context, rows: AllocationRows) -> None:
    """Every township exactly once; every row of the allocation counts, valid or not."""
    counts = pd.Series(rows.tids, dtype=object).value_counts()
    times = counts.reindex(ctx.tids, fill_value=0).to_numpy(dtype=float)

    def one_industry(k: int, lhs: float, _rhs: float) -> str:
        label = ctx.town_label(ctx.tids[k])
        if ctx.villages:
            if lhs == 0:
                return _("{village} is missing from the allocation; every village needs exactly one product").format(
                    village=label)
            return _("{village} appears {n} times in the allocation; every village must appear exactly once (the "
                     "first row was used)").format(village=label, n=int(lhs))
        if lhs == 0:
            return _("{township} is missing from the allocation; every township needs exactly one industry").format(
                township=label)
        return _("{township} appears {n} times in the allocation; every township must appear exactly once (the first "
                 "row was used)").format(township=label, n=int(lhs))

    ctx.findings.constraint_rows(
        ctx.family("one_industry_per_township"), ctx.tids, times, "==", 1.0,
        "villages" if ctx.villages else "townships", one_industry,
    )  # fmt: skip
