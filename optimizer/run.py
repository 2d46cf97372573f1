"""One solve from instance file to run folder: read → validate → build → solve → write → check.

This is the library entry point the CLI calls; it returns values and logs, and never
prints. Phase timings are recorded because "speed is a feature" only means something
when every phase is measured.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.i18n import _
from optimizer.instance.load import LoadedInstance, load_instance
from optimizer.instance.validate import ValidInstance, validate
from optimizer.outputs import tables
from optimizer.outputs.export import OutputOptions, export_layer
from optimizer.outputs.gpkg import write_plan_geopackage
from optimizer.outputs.report import write_run_report
from optimizer.outputs.workbook import write_run_workbook
from optimizer.outputs.write import final_path, run_folder, sha256, versions, write_csv, write_json
from optimizer.solve.method import choose_method
from optimizer.solve.options import Clock, SolveOptions, SolveOutcome

log = logging.getLogger(__name__)

#: Outcomes that carry a plan worth writing.
WITH_PLAN = {"optimal", "time_limit_feasible", "interrupted_feasible", "stopped_feasible"}


@dataclass
class RunResult:
    outcome: SolveOutcome | None
    run_dir: Path | None
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    check_ok: bool | None = None
    check_messages: list[str] = field(default_factory=list)
    plan: pd.Series | None = None  # industry per township; a sweep's next point starts from it
    state: Any = None  # DecompositionState of a decomposed solve: warm start for a related solve

    @property
    def has_plan(self) -> bool:
        """True when the run folder holds a plan (allocation.csv), proven optimal or not."""
        return self.run_dir is not None and self.summary.get("status") in WITH_PLAN

    @property
    def infeasible(self) -> bool:
        return self.summary.get("status") == "infeasible"


def load_and_validate(path: Path, scenarios: list[str] | tuple[str, ...] = (), sets: list[str] | tuple[str, ...] = ()) -> ValidInstance:
    return validate(load_instance(path, scenarios=scenarios, sets=sets))


def _frozen(function: Callable[..., Any]) -> Callable[..., Any]:
    """Unfreeze the collector (`gc.freeze` after validation) however the solve ends.

    Why: sweep, robust and frontier workers solve many instances in one process; what one
    solve froze must become collectable again when it is done."""
    import functools

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            gc.unfreeze()

    return wrapper


@_frozen
def solve_instance(
    path: str | Path,
    options: SolveOptions,
    results_root: Path = Path("results"),
    model_file: Path | None = None,
    phase: Callable[[str], None] | None = None,
    scenarios: list[str] | tuple[str, ...] = (),
    sets: list[str] | tuple[str, ...] = (),
    run_id: str | None = None,
    folder: str | None = None,
    start_plan: pd.Series | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    output: OutputOptions | None = None,
    warm: Any = None,
    loaded: LoadedInstance | None = None,
) -> RunResult:
    """Solve an instance and write its run folder.

    A folder is written when there is a plan, and also when the answer is "infeasible"
    (found by validation or by HiGHS): then it holds the diagnosis — which limits
    conflict, naming townships and counties, and the least relaxation under which a plan
    exists — instead of an allocation. Stops without a plan write nothing.

    `output` sets the language of the map's and workbook's labels and the extra export
    formats of the allocation layer (default: both languages, GeoPackage only).
    `options.method` picks HiGHS on the whole model or the county decomposition (`auto`
    decides by size and structure and the summary says why). `options.time_limit` bounds
    the whole call, from `options.started_at` (or this call) to the results written.
    `warm` is a `DecompositionState` from a related solve (a sweep's previous point);
    `RunResult.state` is this solve's, for the next.

    `loaded`: the instance already read, with `scenarios` and `sets` applied (an analysis
    that solves many variants of one instance makes them in memory); `path` then only
    names it in the outputs.
    """
    from optimizer.model import build_model, prepare
    from optimizer.model.build import FAMILIES, chosen_leading, chosen_pairs
    from optimizer.model.report import constraint_report, matrix_constraint_report
    from optimizer.model.scaling import report_families
    from optimizer.solve import solve, write_model

    note = phase or (lambda name: None)
    path = Path(path)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()

    note(_("reading and validating"))
    t0 = time.perf_counter()
    if loaded is None:
        loaded = load_instance(path, scenarios=scenarios, sets=sets)
    timings["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    valid = validate(loaded)
    timings["validate"] = time.perf_counter() - t0
    # The instance lives until the end: take its objects out of the collector's scans, which
    # otherwise walk them again and again while the plan's tables are built and written
    # (measured at 50,000 townships: 5–8 CPU-s less per solve; `_frozen` undoes it).
    gc.freeze()

    if valid.conflicts:  # validation proved that no plan meets the limits: the answer, without solving
        timings["total"] = time.perf_counter() - t_start
        return _infeasible_run(loaded, valid, None, None, timings, results_root, folder, run_id, sets, path)

    villages = valid.villages is not None  # a village instance: villages are the planning units
    options = options.for_size(len(valid.units), "villages" if villages else "townships")
    clock = Clock.of(options)
    if villages:  # counties as blocks over HiGHS's form of the model (solve/decompose/villages.py)
        from optimizer.solve.method import choose_village_method

        method, why = choose_village_method(options, len(valid.units), valid.townships["county"].nunique())
    else:
        method, why = choose_method(options, loaded.spec, valid.townships)
    reserve = write_reserve(timings, villages=len(valid.units) if villages else 0)
    left = clock.left(reserve)
    if left is not None:
        log.info("time limit: %.1f s left after validation, %.1f s of it kept back for writing and checking",
                 left + reserve, reserve)
    if left is not None and left < 0:  # nothing can be solved and written in time: say so now
        outcome = _no_time("Time limit reached while reading and validating the instance")
        timings["total"] = time.perf_counter() - t_start
        summary = {"instance": loaded.spec.name, "instance_file": str(path), "status": outcome.status,
                   "termination": outcome.termination, "has_solution": False, "objective_yuan": None,
                   "bound_yuan": None, "gap": None, "method": {"used": method, "why": why}, "timings_s": timings}
        return RunResult(outcome=outcome, run_dir=None, summary=summary, timings=timings)
    note(_("building the model"))
    t0 = time.perf_counter()
    data = prepare(valid)
    timings["build"] = time.perf_counter() - t0
    m = None
    decomposed = None
    outcome = None
    fell_back = False  # a village decomposition gave no plan: HiGHS on the whole model
    if method == "decompose" and _no_time_to_decompose(clock, reserve, timings):
        outcome = _no_time("Time limit reached before solving: reading and validating the instance left too little "
                           "time for the decomposition and for writing the results")
    elif method == "decompose" and not villages:
        outcome, decomposed, method, why = _decompose(data, options, clock, reserve, warm, progress, note, timings,
                                                      method, why)
    elif method == "decompose":  # villages: counties as blocks over the array model, no Pyomo model
        note(_("solving by county decomposition"))
        outcome, decomposed = _decompose_villages(data, options, clock, reserve, timings)
        if outcome is None:
            method, why = "direct", why + "; the decomposition gave no plan, so HiGHS on the whole model"
            fell_back = True
    polish = decomposed is not None and not villages and _worth_polishing(outcome, clock, reserve,
                                                                          len(valid.townships))
    highs_plan = False  # True when HiGHS, polishing, found a better plan than the decomposition
    whole = method == "direct"  # the Pyomo model is built
    too_late = whole and _no_time_to_build(clock, reserve, timings)
    if too_late:
        outcome = _no_time("Time limit reached: the decomposition gave no plan and too little time is left for "
                           "HiGHS on the whole model" if fell_back else
                           "Time limit reached before HiGHS could start (building the whole model would take "
                           "longer than the time left; --method decompose needs less)")
    if (whole and not too_late) or model_file is not None or polish:
        t0 = time.perf_counter()
        m = build_model(data)
        timings["build"] += time.perf_counter() - t0
    if model_file is not None:
        t0 = time.perf_counter()
        write_model(m, model_file)
        timings["write_model"] = time.perf_counter() - t0
        log.info("wrote the model to %s", model_file)
    if method == "direct" and not too_late:
        start = None
        if start_plan is not None:
            from optimizer.model.start import repaired_start

            t0 = time.perf_counter()
            start = repaired_start(m, data, start_plan)
            timings["start"] = time.perf_counter() - t0
        note(_("solving with HiGHS"))
        left = clock.left(reserve)
        outcome = solve(m, options if left is None else replace(options, time_limit=max(0.1, left)),
                        start=start, progress=progress)
        timings["transfer"] = outcome.transfer_seconds
    assert outcome is not None
    timings["solve"] = outcome.solve_seconds
    if polish:
        note(_("improving with HiGHS from the decomposition's plan"))
        outcome, highs_plan, polished = _polish(m, data, options, clock, reserve, outcome, decomposed, progress)
        timings["polish"] = polished.get("seconds", 0.0)
        why += "; then HiGHS from its plan: " + polished["result"]

    summary: dict[str, Any] = {
        "instance": loaded.spec.name,
        "instance_file": str(path),
        "status": outcome.status,
        "termination": outcome.termination,
        "has_solution": outcome.has_solution,
        "objective_yuan": outcome.objective,
        "bound_yuan": outcome.bound,
        "gap": outcome.gap,
        "mip_nodes": outcome.mip_nodes,
        "double_count": loaded.spec.objective.double_count,
        "weights": {"gep": loaded.spec.objective.gep_weight, "income": loaded.spec.objective.income_weight},
        "infeasible_families": outcome.infeasible_families,
        "scenarios": list(loaded.scenarios),
        "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
        "method": {"used": method, "why": why},
    }
    if villages:
        summary["planning_unit"] = "village"
        summary["warnings"] = [{"where": str(w.location), "text": w.message} for w in valid.warnings]
    if decomposed is not None:
        summary["decomposition"] = _jsonable_stats(decomposed.stats)
    # The plan the reports read: the decomposition's (array model), or HiGHS's (Pyomo model)
    from_matrix = decomposed is not None and not (polish and highs_plan)
    if outcome.status == "infeasible":
        timings["total"] = time.perf_counter() - t_start
        return _infeasible_run(loaded, valid, data, outcome, timings, results_root, folder, run_id, sets, path)
    if outcome.status not in WITH_PLAN:
        timings["total"] = time.perf_counter() - t_start
        summary["timings_s"] = timings
        return RunResult(outcome=outcome, run_dir=None, summary=summary, timings=timings)

    if from_matrix:
        plan = decomposed.plan
        summary["runner_up"] = None
    elif decomposed is not None:  # HiGHS improved the decomposition's plan: the next solve starts from it
        plan = chosen_pairs(m)
        summary["runner_up"] = None
        decomposed.state.plan = plan
        decomposed.state.objective = None
    else:
        plan = chosen_pairs(m)
        if outcome.status == "optimal" and options.gap == 0.0:
            t0 = time.perf_counter()
            summary["runner_up"] = _runner_up(m, valid, plan, options, outcome, clock.left(reserve))
            timings["runner_up"] = time.perf_counter() - t0
        else:
            summary["runner_up"] = None
    summary["gap_rule"] = options.gap_rule

    note(_("writing results"))
    t0 = time.perf_counter()
    if not from_matrix:
        from optimizer.model.build import round_choices

        round_choices(m)
        # The objective of that 0/1 plan, summed here: the same plan gives the same figure
        # in every process, whatever order HiGHS added its (scaled) costs in.
        import pyomo.environ as pyo

        exact = float(pyo.value(m.weighted_gep_and_income)) * m.objective_unit_yuan
        if outcome.objective is not None and abs(exact - outcome.objective) <= 1e-6 * max(1.0, abs(exact)):
            outcome = replace(outcome, objective=exact, gap=_gap(exact, outcome.bound))
            summary["objective_yuan"], summary["gap"] = exact, outcome.gap
    if villages:
        leading = decomposed.matrix.leading(decomposed.z) if from_matrix else chosen_leading(m)
        alloc = tables.allocation_table(valid, plan, leading)
    else:
        alloc = tables.allocation_table(valid, plan)
    towns, counties = tables.plan_tables(valid, alloc)
    summary["totals"] = tables.totals(valid, alloc, towns)
    summary["market_revenue_loss_yuan"] = tables.market_losses(valid, alloc)
    summary["per_county"] = counties.to_dict(orient="records")
    families = report_families(FAMILIES, data.scaling)  # from scaled rows back to m³, yuan, ha
    if from_matrix:
        summary["constraints"] = matrix_constraint_report(decomposed.matrix, decomposed.z, families)
    else:
        summary["constraints"] = constraint_report(m, families)
    # Definitions and locks hold with equality by construction; they are not scarce limits.
    limits = [r for r in summary["constraints"]
              if r["family"] not in ("market_output_beyond_step_def", "industry_locked_in")]
    summary["binding_constraints"] = [r["name"] for r in limits if r["binding"]]
    # In a 0/1 plan a limit is rarely met to the last unit: 'nearly binding' shows the
    # limits that stopped one more township from switching.
    summary["nearly_binding_constraints"] = [
        r["name"] for r in limits if not r["binding"] and r["sense"] == "<=" and (r["used_share"] or 0) >= 0.95
    ]
    steps = {name: sorted(mk.price_steps, key=lambda s: s.above_output)  # as markets.py numbers them
             for name, mk in data.spec.constraints.markets.items()}  # fmt: skip
    if from_matrix:
        dm = decomposed.matrix
        beyond = {key: float(decomposed.z[dm.n_x + j]) for j, key in enumerate(dm.o_keys)}
    else:
        beyond = {key: var.value or 0.0 for key, var in m.market_output_beyond_step.items()}
    summary["price_steps_reached"] = [
        f"{market} beyond {steps[market][k].above_output:,.0f}" for (market, k), value in beyond.items() if value > 1e-6
    ]

    with run_folder(results_root, folder or loaded.spec.name, run_id=run_id) as partial:
        run_id = final_path(partial).name
        summary["run_id"] = run_id
        write_csv(partial / "allocation.csv", alloc)
        if towns is not None:
            write_csv(partial / "township_allocation.csv", towns)
        write_csv(partial / "county_totals.csv", counties)
        log_name = "decomposition.log" if method == "decompose" else "highs.log"
        (partial / log_name).write_text(outcome.log_text, encoding="utf-8")
        write_resolved_instance(partial / "instance.resolved.yaml", loaded)
        write_json(partial / "summary.json", summary)
        output = output or OutputOptions()
        layer = write_plan_geopackage(partial / "allocation.gpkg", valid, alloc, tables.summary_table(summary),
                                      counties, towns, lang=output.lang)
        export_layer(partial, "allocation", layer, output.export)
        timings["write"] = time.perf_counter() - t0

        note(_("checking the plan independently"))
        t0 = time.perf_counter()
        from optimizer.check import check_run

        report = check_run(partial / "instance.resolved.yaml", partial)
        timings["check"] = time.perf_counter() - t0
        write_json(partial / "check.json", report.to_dict())
        summary["timings_s"] = timings
        summary["check_ok"] = report.ok
        # The plan is written and checked: the meeting deliverables follow, each only when
        # the time limit leaves room for it (a later `optimizer report FOLDER` writes it).
        if _room_for("workbook", output, clock, timings, summary, partial):
            t0 = time.perf_counter()
            write_run_workbook(partial / "allocation.xlsx", alloc, counties, summary, output.lang)
            timings["workbook"] = time.perf_counter() - t0
        with_report = _room_for("report", output, clock, timings, summary, partial)
        timings["total"] = time.perf_counter() - t_start
        write_json(partial / "summary.json", summary)  # again, now with every phase timed
        if with_report:
            t0 = time.perf_counter()
            write_run_report(partial)  # before the manifest, which lists its sha256
            timings["report"] = time.perf_counter() - t0
        manifest = _manifest(loaded, path, sets, outcome, timings, partial)
        manifest["check_ok"] = report.ok
        write_json(partial / "manifest.json", manifest)
    run_dir = final_path(partial)
    summary["timings_s"] = timings
    messages = [str(v) for v in getattr(report, "violations", [])] + [str(x) for x in getattr(report, "mismatches", [])]
    return RunResult(outcome, run_dir, summary, timings, report.ok, messages, plan=plan,
                     state=decomposed.state if decomposed is not None else None)


def write_resolved_instance(target: Path, loaded: LoadedInstance, table_as_csv: bool = False) -> None:
    """The instance as solved (scenarios and --set applied), table paths made absolute.

    The checker reads this file, so a what-if run is checked against the limits it was
    solved under; `optimizer solve` on it reproduces the run. With `table_as_csv` the
    township table is always written beside it as CSV (no geometry), which the checker
    reads much faster than a GeoPackage when it checks many plans in many samples.
    """
    import yaml

    data = dict(loaded.raw)
    data["townships"] = {"path": str(loaded.townships_file), **(
        {"layer": loaded.spec.townships.layer} if not isinstance(loaded.spec.townships, str) and loaded.spec.townships.layer else {}
    )}
    if table_as_csv or any(a.path.startswith("townships.") for a in loaded.applied_overrides):
        # The township table itself was changed: keep the changed copy beside the run.
        table = target.with_name("townships.resolved.csv")
        loaded.townships.to_csv(table, index=False, encoding="utf-8-sig")
        data["townships"] = table.name
    if loaded.site_file is not None:
        data["site_coefficients"] = str(loaded.site_file)
        if loaded.site is not None and any(
            a.path.startswith("site_coefficients.") and a.path.split(".")[1] not in ("path", "layer")
            for a in loaded.applied_overrides
        ):
            # The site table was changed (`--set site_coefficients.<column>...`): keep the changed copy.
            site = target.with_name("site.resolved.csv")
            loaded.site.to_csv(site, index=False, encoding="utf-8-sig")
            data["site_coefficients"] = site.name
    vt = loaded.village_tables
    if vt is not None:
        ref = loaded.spec.villages
        layer = None if isinstance(ref, str) or ref is None else ref.layer
        data["villages"] = {"path": str(vt.file), **({"layer": layer} if layer else {})}
        if vt.site_file is not None:
            data["village_site_coefficients"] = str(vt.site_file)
    header = "# Resolved instance of this run: the file as solved, with scenarios and --set applied.\n"
    if loaded.applied_overrides:
        header += "".join(f"#   {a}\n" for a in loaded.applied_overrides)
    # libyaml's emitter where PyYAML has it: 13 ms against 68 ms for a 5,000-township
    # instance's resolved file (the same text), written at every sweep point.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    target.write_text(header + yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _manifest(
    loaded: LoadedInstance, path: Path, sets: list[str] | tuple[str, ...], outcome: SolveOutcome | None,
    timings: dict[str, float], partial: Path,
) -> dict[str, Any]:
    """Versions, input hashes, the resolved instance, solver options and outputs' hashes (written last)."""
    return {
        "tool": "karst-layout-optimizer",
        "versions": versions(),
        "command": "solve",
        "instance_file": str(path.resolve()),
        "inputs": {str(p): sha256(p) for p in loaded.input_files},
        "scenarios": list(loaded.scenarios),
        "set": list(sets),
        "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
        "overrides_diff": [str(a) for a in loaded.applied_overrides],
        "sources": [src.model_dump(mode="json") for src in loaded.spec.sources],
        "resolved_instance": loaded.spec.model_dump(mode="json"),
        "solver_options": outcome.options if outcome is not None else None,
        "status": outcome.status if outcome is not None else "infeasible",
        "objective_yuan": outcome.objective if outcome is not None else None,
        "bound_yuan": outcome.bound if outcome is not None else None,
        "gap": outcome.gap if outcome is not None else None,
        "timings_s": timings,
        "outputs": {p.name: sha256(p) for p in sorted(partial.iterdir())},
    }


def _infeasible_run(
    loaded: LoadedInstance,
    valid: ValidInstance,
    data: Any | None,
    outcome: SolveOutcome | None,
    timings: dict[str, float],
    results_root: Path,
    folder: str | None,
    run_id: str | None,
    sets: list[str] | tuple[str, ...],
    path: Path,
) -> RunResult:
    """Write the answer "infeasible" as a run folder: the limits in conflict, in words.

    Found by validation (`valid.conflicts`: exact per-limit bounds, located in the YAML
    or the tables) or by HiGHS (its IIS rows when the LP relaxation is infeasible, and
    the least relaxation of the limits under which a plan exists).
    """
    from optimizer.model.build import FAMILIES
    from optimizer.model.report import describe_relaxation, in_report_units
    from optimizer.model.scaling import UNSCALED, report_families

    families = report_families(FAMILIES, data.scaling if data is not None else UNSCALED)

    locks = {lk.township: lk.industry for lk in loaded.spec.constraints.locks if not lk.forbid}
    if valid.villages is not None:  # locks hold per village there
        from optimizer.instance.villages import locked_allowed

        _, locks = locked_allowed(loaded.spec, valid.villages, valid.pairs)
    conflicts: list[dict[str, Any]] = []
    for p in valid.conflicts:
        conflicts.append({"text": p.message, "where": str(p.location), "family": _family_of(p, valid), **p.to_dict()})
    relaxation: list[dict[str, Any]] = []
    ways_out: list[dict[str, Any]] = []
    if outcome is not None:
        for r in in_report_units(outcome.relaxation, families):
            relaxation.append({**r, "text": describe_relaxation(r, valid.townships, locks, valid.villages)})
        for way in outcome.ways_out:
            rows = [{**r, "text": describe_relaxation(r, valid.townships, locks, valid.villages)}
                    for r in in_report_units(way["rows"], families)]
            ways_out.append({"family": way["family"], "rows": rows})
    summary: dict[str, Any] = {
        "instance": loaded.spec.name,
        "instance_file": str(path),
        "status": "infeasible",
        "termination": outcome.termination if outcome is not None else "proven by validation",
        "found_by": "HiGHS" if outcome is not None else "validation",
        "has_solution": False,
        "objective_yuan": None,
        "bound_yuan": None,
        "gap": None,
        "infeasible_families": (outcome.infeasible_families if outcome is not None
                                else sorted({_family_of(p, valid) for p in valid.conflicts})),
        "conflicts": conflicts,
        "infeasible_rows": outcome.infeasible_rows if outcome is not None else [],
        "least_relaxation": relaxation,
        "ways_out": ways_out,
        "scenarios": list(loaded.scenarios),
        "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
    }
    with run_folder(results_root, folder or loaded.spec.name, run_id=run_id) as partial:
        summary["run_id"] = final_path(partial).name
        if outcome is not None:
            (partial / "highs.log").write_text(outcome.log_text, encoding="utf-8")
        write_resolved_instance(partial / "instance.resolved.yaml", loaded)
        summary["timings_s"] = timings
        write_json(partial / "summary.json", summary)
        write_run_report(partial)  # the conflicts in words, listed in the manifest
        write_json(partial / "manifest.json", _manifest(loaded, path, sets, outcome, timings, partial))
    return RunResult(outcome=outcome, run_dir=final_path(partial), summary=summary, timings=timings)


#: Where validation locates a conflict → the model family it concerns (docs/model.md names).
_CONFLICT_FAMILIES = (
    ("constraints.water.county_max_m3", "water_use_per_county_max"),
    ("constraints.water.basin_max_m3", "water_use_per_basin_max"),
    ("constraints.markets", "market_output_max"),
    ("constraints.grid_county_max_mw", "pv_capacity_per_county_max"),
    ("constraints.investment_budget_yuan", "investment_budget_max"),
    ("constraints.min_conservation_share_per_county", "conservation_area_per_county_min"),
    ("constraints.min_conservation_share", "conservation_area_min"),
    ("constraints.income_floor", "farmer_income_per_township_min"),
    ("constraints.leading_industry", "leading_industry_share_min"),
)


def _family_of(problem: Any, valid: ValidInstance | None = None) -> str:
    """The constraint family a validation conflict is about, so sweeps and reports can group them."""
    dotted = problem.path or ""
    village_instance = valid is not None and valid.villages is not None
    if village_instance and dotted.startswith("constraints.income_floor"):
        return "farmer_income_per_village_min"  # the floor holds per village there
    for prefix, family in _CONFLICT_FAMILIES:
        if dotted.startswith(prefix):
            return family
    column = problem.location.table_column
    if village_instance and column == "water_available_m3" and valid is not None:
        vt = valid.loaded.village_tables
        if vt is not None and problem.location.file == vt.file:
            return "water_use_per_village_max"
    if column == "water_available_m3":
        return "water_use_per_township_max"
    if column == "township_id":
        return "one_industry_per_township"
    if column == "village_id":
        return "one_product_per_village"
    return "limits"


def _runner_up(m: Any, valid: ValidInstance, plan: pd.Series, options: SolveOptions,
               outcome: SolveOutcome, left: float | None = None) -> dict[str, Any] | None:
    """The best other plan of an exactly solved instance: difference, near tie, townships."""
    from optimizer.solve.runner_up import NEAR_TIE_SHARE, runner_up

    budget = 10.0 if options.time_limit is None else max(0.1, min(10.0, options.time_limit / 10))
    if left is not None:
        if left < 0.2:
            return None  # no time left within the limit
        budget = min(budget, left)
    found = runner_up(m, plan.to_dict(), options, budget)
    if found is None:
        return None
    if found["objective"] is None:
        return {"exists": False, "note": "no other plan meets every limit"}
    unit = getattr(m, "objective_unit_yuan", 1.0)
    second = found["objective"] * unit
    best = outcome.objective or 0.0
    diff = best - second
    names = valid.units["name"]
    key = valid.unit_key
    differ = [{key: t, "name": str(names.get(t, "")), "optimum": plan[t], "runner_up": i}
              for t, i in sorted(found["plan"].items()) if plan.get(t) != i]  # fmt: skip
    share = diff / max(abs(best), 1.0)
    return {"exists": True, "objective_yuan": second, "difference_yuan": diff, "difference_share": share,
            "near_tie": share <= NEAR_TIE_SHARE, "villages" if valid.villages is not None else "townships": differ}


#: After the solve come writing the plan's files (CSV, GeoPackage, summary) and the
#: independent check; allocation.xlsx and report.html follow only when time is left
#: (`_time_for`). Measured (benchmarks/decompose_benchmark.py --limits, the runs'
#: manifest.json): writing and checking took 1.6–2.6 × the reading and validating from
#: 1,000 to 50,000 townships (50,000: 4.7 s + 8.8 s against 2.1 s + 3.0 s, quiet machine;
#: 4.0–9.9 s + 7.5–9.7 s against 6.3–8.3 s, loaded). The solve keeps back 2 s plus 2.5 × the
#: reading and validating.
WRITE_RESERVE_FACTOR = 2.5
WRITE_RESERVE_MIN_S = 2.0
#: Village instances write two layers (villages and townships) and check the leading-industry
#: rows too: at 50,000 villages writing and checking took 12.6 s + 14.0 s against 3.1 s + 6.2 s
#: of reading and validating (2.9 ×; docs/performance.md, villages), so 2.5 × ran 1.4 s short;
#: since the checker's fix of 2026-12-03 (below) the same instance wrote and checked in
#: 12.5 s against 5.5 s of reading and validating (2.3 ×): 2.6 × is kept back.
VILLAGE_WRITE_RESERVE_FACTOR = 2.6
#: …but that ratio is not stable: on a quicker read (5.4 s) the same 50,000 villages took
#: 14.6 s + 17.5 s to write and check (5.9 ×) and a 180 s limit ran 15.7 s over. Writing
#: and checking walk every village, so a per-village floor holds the limit: 0.64 ms each
#: was measured (32.1 s / 50,000). Since the checker's township-water check lost its
#: quadratic set (2026-12-03), writing and checking the same instance took 5.9 s + 6.6 s
#: (0.25 ms per village); the slow run above less the 5 s saved is 0.54 ms; 0.45 ms is kept back.
VILLAGE_WRITE_RESERVE_S_PER_VILLAGE = 4.5e-4
#: …measured on a machine that read and validated those 50,000 villages in 5.5 s (0.11 ms
#: each). The floor is scaled by how fast this run read its villages against that, between
#: half and all of it (a slower read raises the reserve through the factor above): on a quicker machine (2026-12-04: 2.9 s to read and validate, 2.4 s + 3.0 s to
#: write and check) the unscaled floor kept back 24.5 s for 5.4 s of work, time the county
#: MIPs of a 60 s limit lacked (gap 2.7e-2).
VILLAGE_READ_S_PER_VILLAGE = 1.1e-4
VILLAGE_FLOOR_MIN_SCALE = 0.5

#: The deliverables written after the check, as a multiple of the time the plan's own
#: files took to write (allocation.csv, the GeoPackage, summary.json …: the same rows,
#: on the same machine at the same load), plus a fixed part (figures, fonts, zip).
#: Measured with benchmarks/decompose_benchmark.py (docs/performance.md, "Writing").
DELIVERABLE_COST: dict[str, tuple[float, float]] = {"workbook": (0.5, 6.0),
                                                    "report": (3.0, 1.0)}


#: Each deliverable's summary.json key, file, and the command that writes it later.
DELIVERABLES: dict[str, tuple[str, str, str]] = {
    "workbook": ("allocation_xlsx", "allocation.xlsx", "optimizer report FOLDER --xlsx"),
    "report": ("report_html", "report.html", "optimizer report FOLDER"),
}


def _room_for(what: str, output: OutputOptions, clock: Clock, timings: dict[str, float], summary: dict[str, Any],
              partial: Path) -> bool:
    """Whether to write `what` now; if not, summary.json says why and which command writes it later."""
    key, name, command = DELIVERABLES[what]
    if not output.deliverables:
        summary[key] = f"not written for a batch point: `{command}` writes it"
        return False
    if _time_for(clock, what, timings):
        return True
    summary[key] = f"not written: the time limit left no room for it; `{command}` writes it"
    log.warning("%s not written within the time limit: `%s` writes it", name,
                command.replace("FOLDER", str(final_path(partial))))
    return False


def _time_for(clock: Clock, what: str, timings: dict[str, float]) -> bool:
    """Whether `what` (allocation.xlsx or report.html) fits in the time left (always without a limit).

    Why skip it rather than overrun: the time limit is the user's, the plan is already
    written and checked, and `optimizer report FOLDER [--xlsx]` writes the file later."""
    left = clock.left()
    fixed, per_write = DELIVERABLE_COST[what]
    return left is None or left >= fixed + per_write * timings.get("write", 0.0)


#: Building the Pyomo model and handing it to HiGHS take about 3–4 × as long as reading
#: and validating (5,000 townships: 0.95 s against 0.32 s; 50,000: ~19 s against 4.7 s).
BUILD_FACTOR = 4.0


#: The decomposition reaches its first plan in about 1.5–1.8 × the time reading and
#: validating took (1,000–50,000 townships); with less than half of that left it does not start.
DECOMPOSE_MIN_FACTOR = 0.8


def _no_time_to_decompose(clock: Clock, reserve: float, timings: dict[str, float]) -> bool:
    left = clock.left(reserve)
    return left is not None and left < DECOMPOSE_MIN_FACTOR * (timings.get("read", 0.0) + timings.get("validate", 0.0))


def _no_time(termination: str) -> SolveOutcome:
    """The outcome of a solve that the time limit did not let start."""
    return SolveOutcome(status="time_limit_no_solution", has_solution=False, objective=None, bound=None, gap=None,
                        solve_seconds=0.0, transfer_seconds=0.0, mip_nodes=None, log_text="", termination=termination)


def _no_time_to_build(clock: Clock, reserve: float, timings: dict[str, float]) -> bool:
    """True when the time left cannot hold building the whole model, so HiGHS would never start."""
    left = clock.left(reserve)
    return left is not None and left < BUILD_FACTOR * (timings.get("read", 0.0) + timings.get("validate", 0.0))


def write_reserve(timings: dict[str, float], villages: int = 0) -> float:
    """Seconds to keep back from the time limit for writing and checking the results.

    Read and validation time stand for the machine's speed at this size: both phases walk
    every township as writing does, and both slow down alike when the machine is loaded.
    `villages` is the number of villages of a village instance (0 for a township one),
    whose reserve is also at least a measured time per village, scaled by this run's
    reading speed against the machine it was measured on (half of it to all of it)."""
    read = timings.get("read", 0.0) + timings.get("validate", 0.0)
    if not villages:
        return WRITE_RESERVE_MIN_S + WRITE_RESERVE_FACTOR * read
    speed = min(1.0, max(VILLAGE_FLOOR_MIN_SCALE, read / (VILLAGE_READ_S_PER_VILLAGE * villages)))
    return WRITE_RESERVE_MIN_S + max(VILLAGE_WRITE_RESERVE_FACTOR * read,
                                     VILLAGE_WRITE_RESERVE_S_PER_VILLAGE * villages * speed)


def _decompose(data: Any, options: SolveOptions, clock: Clock, reserve: float, warm: Any, progress: Any,
               note: Callable[[str], None], timings: dict[str, float], method: str,
               why: str) -> tuple[SolveOutcome | None, Any, str, str]:
    """The decomposition, or the reason to fall back to HiGHS on the whole model."""
    from optimizer.model.matrix import build_matrix
    from optimizer.solve.decompose import Unsplittable
    from optimizer.solve.decompose.counties import CountyInfeasible
    from optimizer.solve.decomposed import solve_decomposed

    t0 = time.perf_counter()
    matrix = build_matrix(data)
    timings["build"] += time.perf_counter() - t0
    note(_("solving by county decomposition"))
    left = clock.left(reserve)
    deadline = None if left is None else time.monotonic() + max(0.1, left)
    try:
        outcome, decomposed = solve_decomposed(data, matrix, options, deadline, warm=warm, progress=progress)
    except (Unsplittable, CountyInfeasible) as exc:
        log.info("decomposition not usable (%s): HiGHS on the whole model", exc)
        return None, None, "direct", f"{why}; then HiGHS on the whole model, because {exc}"
    if not outcome.has_solution:
        left = clock.left(reserve)
        if left is None or left > 1.0:
            return None, None, "direct", f"{why}; no plan from the decomposition ({outcome.termination}), so HiGHS"
    return outcome, decomposed, method, why


def _decompose_villages(data: Any, options: SolveOptions, clock: Clock, reserve: float,
                        timings: dict[str, float]) -> tuple[SolveOutcome | None, Any]:
    """The village decomposition (counties as blocks) and its plan, or (None, None) when it gave
    none (HiGHS then tries)."""
    from optimizer.model.matrix import build_matrix
    from optimizer.solve.decomposed import Decomposed
    from optimizer.solve.decompose.villages import NoVillagePlan, solve_villages

    t0 = time.perf_counter()
    matrix = build_matrix(data)
    timings["build"] += time.perf_counter() - t0
    left = clock.left(reserve)
    deadline = time.monotonic() + (left if left is not None else 3600.0)
    try:
        outcome, z, stats = solve_villages(matrix, data, options, deadline,
                                           workers=options.workers or min(2, os.cpu_count() or 1))
    except NoVillagePlan as exc:
        log.info("village decomposition: no plan (%s)", exc)
        return None, None
    return outcome, Decomposed(matrix, z, matrix.plan(z), None, stats)


def _gap(objective: float | None, bound: float | None) -> float | None:
    from optimizer.solve.options import relative_gap

    return relative_gap(objective, bound)


def _jsonable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()}


#: Relative gaps below this count as proven: the county search's own tolerance (1e-9).
PROVEN_TOL = 1e-9

#: Up to this many townships a decomposition that stopped above the gap hands its plan
#: to HiGHS (MIP start) for the time left; HiGHS is stopped as soon as its plan or bound
#: and the decomposition's bound together prove the gap. Above it, building the Pyomo
#: model alone costs more than HiGHS can win back (docs/performance.md).
POLISH_UP_TO_TOWNSHIPS = 5_000
#: Seconds HiGHS may spend on it at most (also without a time limit): the decomposition's
#: plan and bound are already written down; HiGHS is a bonus, not a wait of unknown length.
POLISH_MAX_S = 60.0


def _worth_polishing(outcome: SolveOutcome | None, clock: Clock, reserve: float, townships: int) -> bool:
    if outcome is None or outcome.status != "stopped_feasible" or townships > POLISH_UP_TO_TOWNSHIPS:
        return False
    if outcome.gap is None:
        return False
    left = clock.left(reserve)
    return left is None or left > 2.0


def _polish(m: Any, data: Any, options: SolveOptions, clock: Clock, reserve: float, outcome: SolveOutcome,
            decomposed: Any, progress: Any) -> tuple[SolveOutcome, bool, dict[str, Any]]:
    """HiGHS on the whole model from the decomposition's plan: the merged outcome (better plan,
    lower bound), whether HiGHS's plan (now loaded in `m`) is the better one, and a note."""
    from optimizer.model.start import repaired_start
    from optimizer.solve import solve
    from optimizer.solve.options import DEFAULT_GAP, gap_proved, relative_gap

    unit = getattr(m, "objective_unit_yuan", 1.0)
    ours, bound = outcome.objective / unit, outcome.bound / unit
    gap = DEFAULT_GAP if options.gap is None else options.gap

    enough = gap_proved(ours, bound, gap, PROVEN_TOL)

    t0 = time.perf_counter()
    start = repaired_start(m, data, decomposed.plan)
    left = clock.left(reserve)
    budget = POLISH_MAX_S if left is None else min(left, POLISH_MAX_S)
    highs = solve(m, replace(options, time_limit=max(0.1, budget)), start=start, progress=progress, enough=enough)
    seconds = time.perf_counter() - t0
    best = outcome.objective
    final_bound = outcome.bound if highs.bound is None else min(outcome.bound, highs.bound)
    use_highs = highs.has_solution and highs.objective is not None and highs.objective > (best or -float("inf")) * (1 + 1e-12)
    if use_highs:
        best = highs.objective
    g = relative_gap(best, final_bound)
    proven = highs.status == "optimal" or (g is not None and g <= gap + PROVEN_TOL)
    status = "optimal" if proven else (
        "time_limit_feasible" if highs.status.startswith("time_limit") else outcome.status)
    text = (f"plan {'improved' if use_highs else 'kept'}, bound {'from HiGHS' if final_bound != outcome.bound else 'kept'}, "
            f"gap {g:.2e}" if g is not None else "no change")
    base = highs if use_highs else outcome
    merged = replace(base, status=status, objective=best, bound=final_bound, gap=g,
                     termination=f"{outcome.termination}; HiGHS: {highs.termination}",
                     solve_seconds=outcome.solve_seconds + highs.solve_seconds,
                     log_text=outcome.log_text + "\n--- HiGHS from the decomposition's plan ---\n" + highs.log_text)
    return merged, use_highs, {"seconds": seconds, "result": text}
