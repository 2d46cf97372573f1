"""One MILP of a trade-off analysis: a stage of the model solved, written and checked.

A frontier solves the same model many times with another objective or another ε. Each
solve is a *point*: its plan is written to `<folder>/<group>/<point id>/` atomically
(allocation.csv, summary.json, check.json), and the independent checker
(`optimizer.check.check_plan`) checks it against the instance the analysis was made
for, because every point is a plan a planner may adopt. The figures the analysis uses
(income after price steps, GEP by category) are taken from the allocation table and
compared with the checker's own recomputation; a disagreement fails the check.

The model is built once per worker process and kept (`_CACHE`): between points only a
parameter (ε) or the active objective changes, and building plus transferring the
model is a visible share of a point at 1,000 townships (docs/performance.md).

Library code: logs and returns values, never prints.
"""

from __future__ import annotations

import json
import logging
import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError

log = logging.getLogger(__name__)

#: Statuses that carry a plan (as in optimizer.run.WITH_PLAN).
WITH_PLAN = ("optimal", "time_limit_feasible", "interrupted_feasible", "stopped_feasible")

#: Relative tolerance when comparing the tables' figures with the checker's.
FIGURE_TOL = 1e-6


@dataclass
class Built:
    """A validated instance and its model with the trade-off components, kept per worker."""

    valid: Any
    data: Any
    model: Any
    categories: tuple[str, ...]
    build_seconds: float


_CACHE: dict[str, Built] = {}


def model_key(instance: str, scenarios: list[str], sets: list[str], categories: tuple[str, ...]) -> str:
    return json.dumps([instance, list(scenarios), list(sets), list(categories)], ensure_ascii=False)


def built_model(instance: str, scenarios: list[str], sets: list[str], categories: tuple[str, ...],
                reuse: bool = True) -> Built:
    """The instance's model with the trade-off components, built once per process when `reuse`."""
    key = model_key(instance, scenarios, sets, categories)
    if reuse and key in _CACHE:
        return _CACHE[key]
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.model import build_model, prepare
    from optimizer.model.tradeoffs import add_tradeoff_components

    t0 = time.perf_counter()
    valid = validate(load_instance(Path(instance), scenarios=scenarios, sets=sets))
    data = prepare(valid)
    m = build_model(data)
    add_tradeoff_components(m, data, categories)
    built = Built(valid, data, m, categories, time.perf_counter() - t0)
    if reuse:
        _CACHE.clear()  # one instance per worker at a time: memory stays one model
        _CACHE[key] = built
    return built


def built_model_data(instance: str, scenarios: list[str], sets: list[str], categories: tuple[str, ...]) -> Built:
    """The validated instance and its model data without the Pyomo model (`model` is None).

    For the decomposed frontier (analyses/frontier_decomposed.py), which solves the array
    model: building the Pyomo model would cost more than a decomposed point."""
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.model import prepare

    t0 = time.perf_counter()
    valid = validate(load_instance(Path(instance), scenarios=scenarios, sets=sets))
    return Built(valid, prepare(valid), None, categories, time.perf_counter() - t0)


def plan_start(m: Any, plan: dict[str, str]) -> list[tuple[Any, float]]:
    """A full MIP start (every township's pair set to 0/1) from a plan that fits the model's pairs."""
    x = m.industry_chosen
    start = []
    for (t, i), var in x.items():
        chosen = plan.get(t)
        if chosen is None or (t, chosen) not in x:
            continue
        start.append((var, 1.0 if i == chosen else 0.0))
    return start


def gep_of(totals: dict[str, Any], categories: tuple[str, ...]) -> float:
    return float(sum(totals[f"gep_{c}_yuan"] for c in categories))


def plan_row_figures(valid: Any, plan: pd.Series, categories: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Allocation table and the figures a trade-off reports for a plan (income, GEP, weighted Z)."""
    from optimizer.outputs import tables

    alloc = tables.allocation_table(valid, plan)
    tot = tables.totals(valid, alloc)
    figures = {
        "farmer_income_yuan": tot["farmer_income_after_price_steps_yuan"],
        "gep_yuan": gep_of(tot, categories),
        "gep_material_yuan": tot["gep_material_yuan"],
        "gep_regulating_yuan": tot["gep_regulating_yuan"],
        "gep_cultural_yuan": tot["gep_cultural_yuan"],
        "gep_total_yuan": tot["gep_total_yuan"],
        "weighted_objective_yuan": tables.objective_value(valid, tot),
    }
    # units per industry: townships, or villages (and townships per leading industry) of a village instance
    for key in ("townships_by_industry", "villages_by_industry", "townships_by_leading_industry"):
        if key in tot:
            figures[key] = dict(sorted(tot[key].items()))
    return alloc, {"totals": tot, **figures}


def check_point(resolved_yaml: Path, point_dir: Path, figures: dict[str, Any],
                categories: tuple[str, ...]) -> tuple[bool, list[str], dict[str, Any]]:
    """The independent checker on a written point, and its income/GEP against ours."""
    from optimizer.check import check_plan

    report = check_plan(resolved_yaml, point_dir / "allocation.csv")
    messages = [str(v) for v in report.violations] + [str(x) for x in report.mismatches]
    parts = report.parts
    theirs = {
        "farmer_income_yuan": parts.get("farmer_income_after_price_steps_yuan", math.nan),
        "gep_yuan": float(sum(parts.get(f"gep_{c}_yuan", math.nan) for c in categories)),
    }
    for key, value in theirs.items():
        ours = figures[key]
        if not math.isclose(ours, value, rel_tol=FIGURE_TOL, abs_tol=1e-3):
            messages.append(f"{key}: the checker recomputes {value:,.2f} yuan, the analysis reports {ours:,.2f}")
    return not messages, messages, report.to_dict()


def write_point(folder: Path, group: str, pid: str, valid: Any, alloc: pd.DataFrame,
                summary: dict[str, Any]) -> Path:
    """allocation.csv and summary.json of a point, in `<folder>/<group>/<pid>/`, atomically."""
    from optimizer.outputs.write import final_path, run_folder, write_csv, write_json

    with run_folder(folder, group, run_id=pid) as partial:
        write_csv(partial / "allocation.csv", alloc)
        write_json(partial / "summary.json", summary)
    return final_path(partial)


def record_failure(folder: Path, group: str, pid: str, row: dict[str, Any], exc: BaseException | None) -> None:
    """`<group>/<pid>.json`: a point without a plan (failed, infeasible, no plan in time), kept."""
    target = folder / group
    target.mkdir(parents=True, exist_ok=True)
    data = {"row": row}
    if exc is not None:
        data["traceback"] = "".join(traceback.format_exception(exc))
    (target / f"{pid}.json").write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def failed_point(folder: Path, group: str, pid: str, row: dict[str, Any], exc: BaseException, t_start: float,
                 cpu_start: float, message: str | None = None) -> dict[str, Any]:
    """A point's row after `exc`: status "failed", its error in words, its time so far; recorded, so
    that the analysis goes on and `--resume` knows it."""
    if message is None:
        message = input_error_text(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        log.warning("point %s failed: %s", pid, message)
    row.update(status="failed", error=message, wall_s=time.perf_counter() - t_start,
               cpu_s=time.process_time() - cpu_start)  # fmt: skip
    record_failure(folder, group, pid, row, exc)
    return row


def recorded(folder: Path, group: str, pid: str) -> dict[str, Any] | None:
    """The row of a point already done: a finished folder, or a kept record without a plan."""
    done = folder / group / pid / "summary.json"
    if done.exists():
        s = json.loads(done.read_text(encoding="utf-8"))
        row = dict(s["point"])
        alloc = pd.read_csv(folder / group / pid / "allocation.csv", dtype={"township_id": str},
                            encoding="utf-8-sig", usecols=["township_id", "industry"])  # fmt: skip
        row["plan"] = dict(zip(alloc["township_id"], alloc["industry"]))
        return row
    marker = folder / group / f"{pid}.json"
    if marker.exists():
        return json.loads(marker.read_text(encoding="utf-8"))["row"]
    return None


def input_error_text(exc: InputError) -> str:
    return "; ".join(str(p) for p in exc.problems)
