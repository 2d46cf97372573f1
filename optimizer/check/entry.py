"""The checker's two entry points: check a plan, check a finished run folder.

`check_plan` is the checker's pipeline, in the order of docs/model.md: read the instance,
apply the pair rules, recompute the per-township table, check each constraint family,
recompute the objective, then compare what was written with what was recomputed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.check.assignment import check_assignment
from optimizer.check.budget import check_budget
from optimizer.check.compare_allocation import compare_allocation
from optimizer.check.compare_summary import compare_summary
from optimizer.check.conservation import check_conservation
from optimizer.check.context import Context
from optimizer.check.grid import check_grid
from optimizer.check.income_floor import check_income_floor
from optimizer.check.leading import (
    check_leading,
    check_township_water,
    compare_townships,
    compare_village_columns,
    leading_of,
    parents_of,
)
from optimizer.check.locks import check_locks
from optimizer.check.markets import check_markets
from optimizer.check.objective import check_objective
from optimizer.check.plan import AllocationRows
from optimizer.check.read_tables import read_allocation
from optimizer.check.recompute import recompute
from optimizer.check.report import CheckReport, format_amount
from optimizer.check.water import check_water

log = logging.getLogger(__name__)


def check_plan(
    instance_yaml: Path | str,
    allocation: pd.DataFrame | Path | str,
    *,
    summary: Mapping[str, Any] | None = None,
    tol: float = 1e-6,
    compare_written: bool = True,
    townships_file: Path | str | None = None,
) -> CheckReport:
    """Check one plan against the instance, independently of the model code.

    Only the `township_id` and `industry` columns of `allocation` determine the plan;
    every other number is recomputed from the instance and compared with what is
    written (set `compare_written=False` for a hand-edited plan whose figures are stale).
    A `summary` (the dict of summary.json) adds checks of the objective, bound, gap,
    totals, per-county figures and constraint rows. `tol` is relative, and absolute for
    numbers below 1, so that rounding at 1e-6 is never reported.

    In a village instance (the YAML has `villages:`) the allocation is per village
    (`village_id`, `industry`, and the townships' `leading_industry` when written), and
    `townships_file` (a run's township_allocation.csv) is compared too.
    """
    ctx = Context.read(Path(instance_yaml), tol)
    alloc = read_allocation(allocation, key="village_id" if ctx.villages else "township_id")
    rows = AllocationRows.of(ctx, alloc)
    check_assignment(ctx, rows)
    plan = recompute(ctx, rows)
    ctx.findings.flush_row_notes()  # the pair rules' and the coefficients' notes, by row
    lead: dict[str, str] = {}
    if ctx.villages:  # a village instance: the township rows over villages (leading.py)
        plan.pt["parent"] = parents_of(ctx, plan)
        check_township_water(ctx, plan)
        lead = leading_of(ctx, plan, alloc)
        check_leading(ctx, plan, lead)
        ctx.leading = lead
    for check_family in (
        check_water,
        check_markets,
        check_grid,
        check_budget,
        check_conservation,
        check_income_floor,
        check_locks,
        check_objective,
    ):
        check_family(ctx, plan)
    if compare_written:
        compare_allocation(ctx, alloc, plan)
        if ctx.villages:
            compare_village_columns(ctx, alloc, plan, lead)
            if townships_file is not None:
                compare_townships(ctx, Path(townships_file), plan, lead)
    if summary is not None:
        compare_summary(ctx, summary, plan)
    rep = ctx.findings.report
    rep.per_township = plan.pt
    rep.notes[:] = list(dict.fromkeys(rep.notes))  # same note from many townships: once
    for note in rep.notes:
        log.warning("check: %s", note)
    log.info(
        "check of %s: %d violation(s), %d mismatch(es), objective %s",
        ctx.inst.name,
        len(rep.violations),
        len(rep.mismatches),
        format_amount(rep.objective_yuan, "yuan"),
    )
    return rep


def check_run(instance_yaml: Path | str, run_dir: Path | str, *, tol: float = 1e-6) -> CheckReport:
    """Check a finished run folder: its allocation.csv (UTF-8 with BOM) and summary.json."""
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    summary = None
    if summary_path.exists():
        with open(summary_path, encoding="utf-8") as fh:
            summary = json.load(fh)
    else:
        log.warning("check: %s has no summary.json; only the allocation is checked", run_dir)
    towns = run_dir / "township_allocation.csv"
    report = check_plan(instance_yaml, run_dir / "allocation.csv", summary=summary, tol=tol,
                        townships_file=towns if towns.exists() else None)  # fmt: skip
    if summary is None:
        report.notes.append("run folder has no summary.json")
    return report
