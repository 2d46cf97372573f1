"""Locks: industry_locked_in, a township locked to an industry gets it.

`forbid` locks take pairs out of P and are checked with the other pair rules
(assignment.py, `industry_forbidden`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.i18n import _


def check_locks(ctx: Context, plan: PlanTable) -> None:
    """One row per must-lock whose township is in the table; a note for the others."""
    locks = ctx.inst.must_locks
    if not locks:
        return
    pt = plan.pt
    ltids = np.array([t for t, _, _ in locks], dtype=object)
    liids = np.array([i for _, i, _ in locks], dtype=object)
    known = ctx.town_index.get_indexer(ltids) >= 0
    for k in np.flatnonzero(~known).tolist():
        ctx.findings.note(f"a must-lock names township '{ltids[k]}', which is not in the table")
    at = pd.Index(pt["township_id"].to_numpy(dtype=object), dtype=object).get_indexer(ltids)
    planned = pt["industry"].to_numpy(dtype=object)
    # the industry the plan gives the township, or None
    chosen = np.array([None] * len(locks), dtype=object)
    chosen[at >= 0] = planned[at[at >= 0]]
    rows = np.flatnonzero(known)
    r_tids, r_iids, r_chosen = ltids[rows], liids[rows], chosen[rows]
    reasons = [locks[k][2] for k in rows.tolist()]
    ctx.findings.constraint_rows(
        "industry_locked_in",
        r_tids,
        (r_chosen == r_iids).astype(float),
        "==",
        1.0,
        "",
        lambda k, _lhs, _rhs: (
            _("{township}: a lock requires {industry}").format(
                township=ctx.town_label(r_tids[k]), industry=ctx.industry_label(r_iids[k]))
            + (f" ({reasons[k]})" if reasons[k] else "")
            + (
                _(", but the plan has {industry}").format(industry=ctx.industry_label(r_chosen[k]))
                if r_chosen[k]
                else _(", but the plan has no valid industry here")
            )
        ),
    )
