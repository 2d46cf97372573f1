"""The written summary.json against the recomputation.

Checked: the objective and its bound and gap, the weights and double-count convention,
the totals, the per-county figures and every constraint row the summary lists (by its
docs/model.md name and index). Entries the summary does not have are not asked for:
older writers wrote fewer of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from optimizer.check.context import Context
from optimizer.check.plan import PlanTable
from optimizer.check.read_instance import mapping
from optimizer.check.read_tables import ALLOCATION_NUMERIC, ALLOCATION_UNITS
from optimizer.check.report import format_amount
from optimizer.check.values import close, ident, number


def compare_summary(ctx: Context, summary: Mapping[str, Any], plan: PlanTable) -> None:
    """Every figure of `summary` that the checker can recompute, as Mismatches."""
    rep, inst, pt = ctx.findings.report, ctx.inst, plan.pt
    rep.summary_checked = True

    dc = summary.get("double_count")
    if dc is not None and dc != inst.double_count:
        ctx.findings.mismatch(
            "summary",
            "double_count",
            None,
            dc,
            inst.double_count,
            f"summary says double_count {dc} but the instance uses {inst.double_count}",
        )
    weights = mapping(summary.get("weights"))
    if "gep" in weights:
        _cmp(ctx, "weights.gep", None, weights["gep"], inst.gep_weight, "")
    if "income" in weights:
        _cmp(ctx, "weights.income", None, weights["income"], inst.income_weight, "")

    if summary.get("has_solution") is False:
        ctx.findings.note("summary reports no solution; objective and totals not compared")
        return

    obj = number(summary.get("objective_yuan"))
    if obj is None:
        ctx.findings.note("summary has no objective_yuan")
    else:
        _cmp(ctx, "objective_yuan", None, obj, rep.objective_yuan)
        _bound_and_gap(ctx, obj, number(summary.get("bound_yuan")), number(summary.get("gap")))

    summed = [c for c in ALLOCATION_NUMERIC if c != "output_amount"]
    totals = mapping(summary.get("totals"))
    for key in summed:
        if key in totals:
            want = float(pt[key].sum()) if len(pt) else 0.0
            _cmp(ctx, f"totals.{key}", None, totals[key], want, ALLOCATION_UNITS.get(key, ""))
    for key in ("market_revenue_loss_yuan", "farmer_income_after_price_steps_yuan"):
        if key in totals:
            _cmp(ctx, f"totals.{key}", None, totals[key], rep.parts[key])
    by_industry = {
        "output_by_industry": ("output_amount", ""),
        "area_ha_by_industry": ("area_ha", "ha"),
    }
    for key, (col, unit) in by_industry.items():
        if key in totals:
            want = pt.groupby("industry")[col].sum().to_dict() if len(pt) else {}
            _cmp_dict(ctx, f"totals.{key}", totals[key], want, unit)
    if "villages_by_industry" in totals and ctx.villages:
        want = pt.groupby("industry").size().astype(float).to_dict() if len(pt) else {}
        _cmp_dict(ctx, "totals.villages_by_industry", totals["villages_by_industry"], want, "villages")
    if "townships_by_leading_industry" in totals and ctx.villages:
        planned = set(pt["parent"].tolist()) if len(pt) else set()
        want: dict[str, float] = {}
        for t in planned:  # a township without counted area has no leading industry: "(none)"
            key = ctx.leading.get(t, "") or "(none)"
            want[key] = want.get(key, 0.0) + 1.0
        _cmp_dict(ctx, "totals.townships_by_leading_industry", totals["townships_by_leading_industry"], want,
                  "townships")  # fmt: skip
    if "townships_by_industry" in totals:
        want = pt.groupby("industry").size().astype(float).to_dict() if len(pt) else {}
        _cmp_dict(
            ctx, "totals.townships_by_industry", totals["townships_by_industry"], want, "townships"
        )

    if isinstance(summary.get("market_revenue_loss_yuan"), Mapping):
        _cmp_dict(
            ctx,
            "market_revenue_loss_yuan",
            summary["market_revenue_loss_yuan"],
            rep.market_revenue_loss_yuan,
            "yuan",
        )

    per_county = summary.get("per_county") or []
    if per_county:
        figures = _CountyFigures.of(pt, summed)
        for entry in per_county:
            _compare_county(ctx, mapping(entry), figures, summed)

    # Constraint rows: `family` is the docs/model.md name; older writers may put the
    # bare name in `name`, or `name[index]`.
    mine = {(c.name, c.index): c for c in rep.constraints}
    for entry in summary.get("constraints") or []:
        entry = mapping(entry)
        family = entry.get("family") or str(entry.get("name", "")).split("[", 1)[0]
        key = (str(family), _index_key(entry.get("index")))
        row = mine.get(key)
        if row is None:
            continue
        for part in ("lhs", "rhs"):
            if part in entry and entry[part] is not None:
                _cmp(ctx, f"constraints.{key[0]}.{part}", key[1], entry[part],
                     getattr(row, part), row.unit)  # fmt: skip


def _cmp(
    ctx: Context, key: str, index: str | None, written: Any, want: float, unit: str = "yuan"
) -> None:
    """One written number against its recomputed value, within the tolerance."""
    got = number(written)
    if got is None:
        if written is not None:
            ctx.findings.mismatch(
                "summary", key, index, written, want, f"{key} is not a number: {written!r}"
            )
        return
    if not close(got, want, ctx.tol):
        where = f" [{index}]" if index is not None else ""
        ctx.findings.mismatch(
            "summary",
            key,
            index,
            got,
            want,
            f"summary {key}{where} is {format_amount(got, unit)} but recomputed as "
            f"{format_amount(want, unit)}",
        )


def _bound_and_gap(ctx: Context, obj: float, bound: float | None, gap: float | None) -> None:
    """For a maximisation the bound is not below the objective, and the gap is theirs."""
    if bound is None:
        return
    tol = ctx.tol
    if bound < obj - tol * max(1.0, abs(obj)):
        ctx.findings.mismatch(
            "summary",
            "bound_yuan",
            None,
            bound,
            obj,
            f"bound {format_amount(bound, 'yuan')} is below the objective "
            f"{format_amount(obj, 'yuan')}; for a maximisation the bound cannot be lower",
        )
    want_gap = abs(obj - bound) / max(abs(obj), 1.0)
    if gap is not None and abs(gap - want_gap) > max(tol, 1e-9) * max(1.0, abs(want_gap)):
        ctx.findings.mismatch(
            "summary",
            "gap",
            None,
            gap,
            want_gap,
            f"summary gap {gap:.6g} is not |objective − bound| / max(|objective|, 1) = "
            f"{want_gap:.6g}",
        )


@dataclass
class _CountyFigures:
    """Sums, township counts and industry counts of a plan per county."""

    pt: pd.DataFrame
    totals: dict[str, dict[str, float]]  # column → county → sum
    sizes: dict[str, int]  # county → townships
    counts: dict[str, dict[str, float]]  # county → industry → townships
    _ids: dict[str, list[str]] | None = None

    @classmethod
    def of(cls, pt: pd.DataFrame, summed: list[str]) -> _CountyFigures:
        """The plan's figures per county, computed once for all per_county entries."""
        if not len(pt):
            return cls(pt, {}, {}, {})
        by_county = pt.groupby("county", sort=False)
        sums = by_county[summed].sum()
        totals = {col: {str(c): float(v) for c, v in sums[col].items()} for col in summed}
        sizes = {str(c): int(n) for c, n in by_county.size().items()}
        counts: dict[str, dict[str, float]] = {}
        for (county, iid), n in pt.groupby(["county", "industry"], sort=False).size().items():
            counts.setdefault(str(county), {})[str(iid)] = float(n)
        return cls(pt, totals, sizes, counts)

    def township_ids(self, county: str) -> list[str]:
        """The plan's township ids in a county, sorted."""
        if self._ids is None:
            self._ids = (
                {str(c): sorted(g.tolist()) for c, g in self.pt.groupby("county")["township_id"]}
                if len(self.pt)
                else {}
            )
        return self._ids.get(county, [])


def _compare_county(
    ctx: Context, entry: Mapping[str, Any], fig: _CountyFigures, summed: list[str]
) -> None:
    """One per_county entry of summary.json against the recomputed townships of it."""
    county = ident(entry.get("county"))
    for key in summed:
        if key in entry:
            want = fig.totals.get(key, {}).get(county, 0.0)
            _cmp(ctx, f"per_county.{key}", county, entry[key], want, ALLOCATION_UNITS.get(key, ""))
    towns = entry.get("townships")
    if ctx.villages:  # the units are villages; `townships` counts the townships they lie in
        if isinstance(entry.get("villages"), (int, float)):
            _cmp(ctx, "per_county.villages", county, entry["villages"], float(fig.sizes.get(county, 0)), "")
        if isinstance(towns, (int, float)) and not isinstance(towns, bool):
            n = fig.pt.loc[fig.pt["county"] == county, "parent"].nunique() if len(fig.pt) else 0
            _cmp(ctx, "per_county.townships", county, towns, float(n), "")
        counts = fig.counts.get(county, {})
        for key, value in entry.items():  # villages_<industry>: n
            iid = key[len("villages_"):] if key.startswith("villages_") else None
            if iid in ctx.inst.industries:
                _cmp(ctx, f"per_county.{key}", county, value, counts.get(iid, 0.0), "villages")
        return
    if isinstance(towns, (int, float)) and not isinstance(towns, bool):
        _cmp(ctx, "per_county.townships", county, towns, float(fig.sizes.get(county, 0)), "")
    elif isinstance(towns, list):
        want_ids = fig.township_ids(county)
        if sorted(ident(t) for t in towns) != want_ids:
            ctx.findings.mismatch(
                "summary",
                "per_county.townships",
                county,
                towns,
                want_ids,
                f"County {county}: summary lists townships {towns}, the plan has {want_ids}",
            )
    counts = fig.counts.get(county, {})
    if isinstance(entry.get("townships_by_industry"), Mapping):
        _cmp_dict(
            ctx,
            f"per_county[{county}].townships_by_industry",
            entry["townships_by_industry"],
            counts,
            "townships",
        )
    for key, value in entry.items():  # flat form: townships_<industry>: n
        iid = key[len("townships_") :] if key.startswith("townships_") else None
        if iid in ctx.inst.industries:
            _cmp(ctx, f"per_county.{key}", county, value, counts.get(iid, 0.0), "townships")


def _cmp_dict(
    ctx: Context, key: str, written: Any, want: Mapping[str, float], unit: str
) -> None:
    """Compare a {id: number} dict; entries may also be {amount, unit} (output by industry)."""
    industries = ctx.inst.industries
    got: dict[str, Any] = {}
    for k, v in mapping(written).items():
        k = ident(k)
        if isinstance(v, Mapping):
            ind = industries.get(k)
            wunit = v.get("unit")
            if ind is not None and wunit is not None and str(wunit) != ind.output_unit:
                ctx.findings.mismatch(
                    "summary",
                    f"{key}.unit",
                    k,
                    wunit,
                    ind.output_unit,
                    f"summary {key}[{k}] is in '{wunit}' but {k} produces '{ind.output_unit}'",
                )
            v = v.get("amount")
        got[k] = v
    for k in sorted(set(got) | {k for k, v in want.items() if v}):
        w = float(want.get(k, 0.0))
        g = number(got.get(k))
        u = unit or (industries[k].output_unit if k in industries else "")
        if g is None and k not in got:
            ctx.findings.mismatch(
                "summary",
                key,
                k,
                None,
                w,
                f"summary {key} has no entry for {k}; recomputed {format_amount(w, u)}",
            )
        elif g is None or not close(g, w, ctx.tol):
            ctx.findings.mismatch(
                "summary",
                key,
                k,
                got.get(k),
                w,
                f"summary {key}[{k}] is {format_amount(g, u)} but recomputed as "
                f"{format_amount(w, u)}",
            )


def _index_key(index: Any) -> str | None:
    """A summary constraint index ('c1', ['c1'], None, '') in the checker's form."""
    if index is None or index == "" or index == []:
        return None
    if isinstance(index, (list, tuple)):
        return ident(index[0]) if len(index) == 1 else ",".join(ident(i) for i in index)
    return ident(index)
