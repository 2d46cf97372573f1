"""One solve from instance file to run folder: read → validate → build → solve → write → check.

This is the library entry point the CLI calls; it returns values and logs, and never
prints. Phase timings are recorded because "speed is a feature" only means something
when every phase is measured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.instance.load import LoadedInstance, load_instance
from optimizer.instance.validate import ValidInstance, validate
from optimizer.outputs import tables
from optimizer.outputs.export import OutputOptions, export_layer
from optimizer.outputs.gpkg import write_geopackage
from optimizer.outputs.report import write_run_report
from optimizer.outputs.workbook import write_run_workbook
from optimizer.outputs.write import final_path, run_folder, sha256, versions, write_csv, write_json
from optimizer.solve.options import SolveOptions, SolveOutcome

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

    @property
    def has_plan(self) -> bool:
        """True when the run folder holds a plan (allocation.csv), proven optimal or not."""
        return self.run_dir is not None and self.summary.get("status") in WITH_PLAN

    @property
    def infeasible(self) -> bool:
        return self.summary.get("status") == "infeasible"


def load_and_validate(path: Path, scenarios: list[str] | tuple[str, ...] = (), sets: list[str] | tuple[str, ...] = ()) -> ValidInstance:
    return validate(load_instance(path, scenarios=scenarios, sets=sets))


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
    loaded: LoadedInstance | None = None,
) -> RunResult:
    """Solve an instance and write its run folder.

    A folder is written when there is a plan, and also when the answer is "infeasible"
    (found by validation or by HiGHS): then it holds the diagnosis — which limits
    conflict, naming townships and counties, and the least relaxation under which a plan
    exists — instead of an allocation. Stops without a plan write nothing.

    `output` sets the language of the map's and workbook's labels and the extra export
    formats of the allocation layer (default: both languages, GeoPackage only).

    `loaded`: the instance already read, with `scenarios` and `sets` applied (an analysis
    that solves many variants of one instance makes them in memory); `path` then only
    names it in the outputs.
    """
    from optimizer.model import build_model, prepare
    from optimizer.model.build import FAMILIES, chosen_leading, chosen_pairs
    from optimizer.model.report import constraint_report
    from optimizer.solve import solve, write_model

    note = phase or (lambda name: None)
    path = Path(path)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()

    note("reading and validating")
    t0 = time.perf_counter()
    if loaded is None:
        loaded = load_instance(path, scenarios=scenarios, sets=sets)
    timings["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    valid = validate(loaded)
    timings["validate"] = time.perf_counter() - t0

    if valid.conflicts:  # validation proved that no plan meets the limits: the answer, without solving
        timings["total"] = time.perf_counter() - t_start
        return _infeasible_run(loaded, valid, None, None, timings, results_root, folder, run_id, sets, path)

    villages = valid.villages is not None  # a village instance: villages are the planning units
    options = options.for_size(len(valid.units), "villages" if villages else "townships")
    note("building the model")
    t0 = time.perf_counter()
    data = prepare(valid)
    m = build_model(data)
    timings["build"] = time.perf_counter() - t0
    if model_file is not None:
        t0 = time.perf_counter()
        write_model(m, model_file)
        timings["write_model"] = time.perf_counter() - t0
        log.info("wrote the model to %s", model_file)

    start = None
    if start_plan is not None:
        from optimizer.model.start import repaired_start

        t0 = time.perf_counter()
        start = repaired_start(m, data, start_plan)
        timings["start"] = time.perf_counter() - t0
    note("solving with HiGHS")
    outcome = solve(m, options, start=start, progress=progress)
    timings["transfer"] = outcome.transfer_seconds
    timings["solve"] = outcome.solve_seconds

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
    }
    if villages:
        summary["planning_unit"] = "village"
        summary["warnings"] = [{"where": str(w.location), "text": w.message} for w in valid.warnings]
    if outcome.status == "infeasible":
        timings["total"] = time.perf_counter() - t_start
        return _infeasible_run(loaded, valid, data, outcome, timings, results_root, folder, run_id, sets, path)
    if outcome.status not in WITH_PLAN:
        timings["total"] = time.perf_counter() - t_start
        summary["timings_s"] = timings
        return RunResult(outcome=outcome, run_dir=None, summary=summary, timings=timings)

    plan = chosen_pairs(m)
    if outcome.status == "optimal" and options.gap == 0.0:
        t0 = time.perf_counter()
        summary["runner_up"] = _runner_up(m, valid, plan, options, outcome)
        timings["runner_up"] = time.perf_counter() - t0
    else:
        summary["runner_up"] = None
    summary["gap_rule"] = options.gap_rule

    note("writing results")
    t0 = time.perf_counter()
    for var in m.industry_chosen.values():  # reports use the 0/1 plan, not HiGHS's 1e-9 noise
        if var.value is not None:
            var.set_value(float(round(var.value)), skip_validation=True)
    industries = [i for i, ind in loaded.spec.industries.items() if ind.candidate]
    towns = None
    if villages:
        alloc = tables.allocation_table(valid, plan, chosen_leading(m))
        towns = tables.township_table(valid, alloc)
        counties = tables.village_county_totals(alloc, towns, industries)
    else:
        alloc = tables.allocation_table(valid, plan)
        counties = tables.county_totals(alloc, industries)
    summary["totals"] = tables.totals(valid, alloc, towns)
    summary["market_revenue_loss_yuan"] = tables.market_losses(valid, alloc)
    summary["per_county"] = counties.to_dict(orient="records")
    summary["constraints"] = constraint_report(m, FAMILIES)
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
    summary["price_steps_reached"] = [
        f"{market} beyond {steps[market][k].above_output:,.0f}"
        for (market, k), var in m.market_output_beyond_step.items()
        if (var.value or 0.0) > 1e-6
    ]

    with run_folder(results_root, folder or loaded.spec.name, run_id=run_id) as partial:
        run_id = final_path(partial).name
        summary["run_id"] = run_id
        write_csv(partial / "allocation.csv", alloc)
        if towns is not None:
            write_csv(partial / "township_allocation.csv", towns)
        write_csv(partial / "county_totals.csv", counties)
        (partial / "highs.log").write_text(outcome.log_text, encoding="utf-8")
        write_resolved_instance(partial / "instance.resolved.yaml", loaded)
        write_json(partial / "summary.json", summary)
        output = output or OutputOptions()
        if towns is not None:  # a village instance: village polygons, and the township layer
            vt = loaded.village_tables
            layer = write_geopackage(
                partial / "allocation.gpkg", alloc, vt.geometry, vt.crs, tables.summary_table(summary), counties,
                lang=output.lang, id_column="village_id", townships=(towns, loaded.geometry, loaded.crs),
            )
        else:
            layer = write_geopackage(
                partial / "allocation.gpkg", alloc, loaded.geometry, loaded.crs, tables.summary_table(summary), counties,
                lang=output.lang,
            )
        export_layer(partial, "allocation", layer, output.export)
        write_run_workbook(partial / "allocation.xlsx", alloc, counties, summary, output.lang)
        timings["write"] = time.perf_counter() - t0

        note("checking the plan independently")
        t0 = time.perf_counter()
        from optimizer.check import check_run

        report = check_run(partial / "instance.resolved.yaml", partial)
        timings["check"] = time.perf_counter() - t0
        write_json(partial / "check.json", report.to_dict())
        timings["total"] = time.perf_counter() - t_start
        summary["timings_s"] = timings
        summary["check_ok"] = report.ok
        write_json(partial / "summary.json", summary)  # again, now with every phase timed
        t0 = time.perf_counter()
        write_run_report(partial)  # before the manifest, which lists its sha256
        timings["report"] = time.perf_counter() - t0
        manifest = _manifest(loaded, path, sets, outcome, timings, partial)
        manifest["check_ok"] = report.ok
        write_json(partial / "manifest.json", manifest)
    run_dir = final_path(partial)
    summary["timings_s"] = timings
    messages = [str(v) for v in getattr(report, "violations", [])] + [str(x) for x in getattr(report, "mismatches", [])]
    return RunResult(outcome, run_dir, summary, timings, report.ok, messages, plan=plan)


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
    target.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


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
        for r in in_report_units(outcome.relaxation, FAMILIES):
            relaxation.append({**r, "text": describe_relaxation(r, valid.townships, locks, valid.villages)})
        for way in outcome.ways_out:
            rows = [{**r, "text": describe_relaxation(r, valid.townships, locks, valid.villages)}
                    for r in in_report_units(way["rows"], FAMILIES)]
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
               outcome: SolveOutcome) -> dict[str, Any] | None:
    """The best other plan of an exactly solved instance: difference, near tie, townships."""
    from optimizer.solve.runner_up import NEAR_TIE_SHARE, runner_up

    budget = 10.0 if options.time_limit is None else max(0.1, min(10.0, options.time_limit / 10))
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
