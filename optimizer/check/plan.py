"""The plan as the checker sees it: the allocation's rows, and the recomputed table.

`AllocationRows` says which rows of the allocation enter the plan (a known township, its
first row, a defined industry); `PlanTable` holds the per-township figures recomputed for
those rows, which every family check sums or compares against its limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.check.context import Context


@dataclass(frozen=True)
class AllocationRows:
    """The allocation's ids, and which rows enter the plan (`vpos`, with `vt`, `vi`, `vtp`)."""

    tids: np.ndarray  # township id of every allocation row
    iids: np.ndarray  # industry of every allocation row
    tpos: np.ndarray  # row of the township in the township table, or -1
    known: np.ndarray  # the township is in the table
    first: np.ndarray  # known, and the township's first row
    is_industry: np.ndarray  # the industry is defined in the instance
    vpos: np.ndarray  # allocation rows that enter the plan
    vt: np.ndarray  # their township ids
    vi: np.ndarray  # their industries
    vtp: np.ndarray  # their rows in the township table

    @classmethod
    def of(cls, ctx: Context, alloc: pd.DataFrame) -> AllocationRows:
        tids = alloc["township_id"].to_numpy(dtype=object)
        iids = alloc["industry"].to_numpy(dtype=object)
        tpos = ctx.town_index.get_indexer(tids) if len(tids) else np.empty(0, dtype=np.intp)
        known = tpos >= 0
        first = known & ~pd.Series(tids, dtype=object).duplicated().to_numpy()
        is_industry = pd.Series(iids, dtype=object).isin(list(ctx.inst.industries)).to_numpy()
        vpos = np.flatnonzero(first & is_industry)
        return cls(tids, iids, tpos, known, first, is_industry,
                   vpos, tids[vpos], iids[vpos], tpos[vpos])  # fmt: skip


@dataclass(frozen=True)
class PlanTable:
    """The recomputed per-township figures (`pt`, allocation order) and their table order.

    Per-township rows are reported in township-table order (`tids`, `tpos`, `column`),
    whatever the order of the allocation.
    """

    pt: pd.DataFrame
    order: np.ndarray  # the plan's rows in township-table order
    tids: np.ndarray  # township ids in that order
    tpos: np.ndarray  # their rows in the township table

    @classmethod
    def of(cls, ctx: Context, pt: pd.DataFrame) -> PlanTable:
        ptids = pt["township_id"].to_numpy(dtype=object)
        ptpos = ctx.town_index.get_indexer(ptids) if len(pt) else np.empty(0, dtype=np.intp)
        order = np.argsort(ptpos, kind="stable")
        return cls(pt, order, ptids[order], ptpos[order])

    def __len__(self) -> int:
        return len(self.pt)

    def column(self, name: str) -> np.ndarray:
        """A figure of the plan, in township-table order."""
        return self.pt[name].to_numpy(dtype=float, na_value=np.nan)[self.order]

    def group_sum(self, value: str, by: str, keys: list[str]) -> np.ndarray:
        """The sum of `value` over the plan's townships of each `by` group in `keys`."""
        if not len(self.pt) or not keys:
            return np.zeros(len(keys))
        sums = self.pt.groupby(by, sort=False)[value].sum()
        return sums.reindex(keys, fill_value=0.0).to_numpy(dtype=float)
