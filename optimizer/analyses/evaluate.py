"""Scoring a planner's own plan: every limit checked, GEP and income, and the optimum's lead.

Why: planners rarely start from a blank page. A county arrives with a plan of its own
("citrus everywhere the soil allows"), and the useful answers are (1) which limits it
breaks, in words and units a planner can act on, (2) what it earns in GEP and farmers'
income, and (3) how much the optimum would add, part by part, and in which townships
the two differ. The constraint check is the independent checker (`optimizer/check.py`),
run against the resolved instance (scenarios and `--set` applied) so a what-if plan is
judged by the limits it was made for; the figures come from the same tables as a solved
run, so plan and optimum are compared like with like.

A plan file is input like an instance: unknown, missing or duplicated townships and
unknown industries are reported all at once, each with file, row, column and a
did-you-mean, before anything is computed.

Exit codes of `optimizer evaluate`: 0 the plan meets every limit; 7 (`PLAN_VIOLATES`) it
breaks at least one; 2 the plan file or the instance is invalid; 1 internal error.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.check import Violation, check_plan
from optimizer.i18n import N_, _
from optimizer.analyses.plans import plan_file, read_plan
from optimizer.instance.load import load_instance
from optimizer.instance.validate import ValidInstance, validate
from optimizer.outputs import tables
from optimizer.outputs.export import OutputOptions, export_layer
from optimizer.outputs.gpkg import evaluation_style, township_layer, write_layers

log = logging.getLogger(__name__)

#: Exit code of `optimizer evaluate` when the plan breaks at least one limit. Distinct
#: from 5 (the checker disagrees with the *solver*): here the plan is the planner's own.
PLAN_VIOLATES = 7
#: Exit code for an invalid plan file or instance (the CLI's INVALID_INPUT).
INVALID_INPUT = 2



# --------------------------------------------------------------------------- evaluation


#: Objective parts compared, in docs/model.md's order: (key in totals, words).
OBJECTIVE_PARTS: tuple[tuple[str, str], ...] = (
    ("gep_regulating_yuan", N_("regulating GEP")),
    ("gep_cultural_yuan", N_("cultural GEP")),
    ("gep_material_yuan", N_("material GEP")),
    ("farmer_income_after_price_steps_yuan", N_("farmers' income after price steps")),
    ("objective_yuan", N_("weighted objective")),
)
#: Further figures shown beside them: (key, words, unit).
OTHER_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("gep_total_yuan", N_("GEP total (all categories)"), "yuan/yr"),
    ("farmer_income_yuan", N_("farmers' income before price steps"), "yuan/yr"),
    ("market_revenue_loss_yuan", N_("market revenue lost to falling prices"), "yuan/yr"),
    ("water_use_m3", N_("water use"), "m³/yr"),
    ("pv_capacity_mw", N_("PV capacity"), "MWp"),
    ("investment_yuan", N_("investment"), "yuan"),
    ("conservation_area_ha", N_("conservation area"), "ha"),
)


@dataclass
class Evaluation:
    """What `optimizer evaluate` found for one plan, and how it compares with the optimum."""

    instance: str
    plan_file: Path
    allocation: pd.DataFrame  # the plan's allocation table (tables.allocation_table)
    violations: list[Violation]
    totals: dict[str, Any]
    objective_yuan: float
    checker_objective_yuan: float
    optimum_status: str | None = None  # solver status, or "given" for --optimum RUN
    optimum_run_dir: Path | None = None
    optimum_objective_yuan: float | None = None  # recomputed from the optimum's plan
    optimum_solver_objective_yuan: float | None = None
    optimum_totals: dict[str, Any] | None = None
    optimum_check_ok: bool | None = None
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)
    differing: pd.DataFrame = field(default_factory=pd.DataFrame)
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def exit_code(self) -> int:
        return 0 if self.feasible else PLAN_VIOLATES

    @property
    def optimum_run_id(self) -> str | None:
        return self.optimum_run_dir.name if self.optimum_run_dir is not None else None

    def to_dict(self) -> dict[str, Any]:
        """evaluation.json: verdict, violations, totals, comparison and differing townships."""
        return {
            "instance": self.instance,
            "plan_file": str(self.plan_file),
            "feasible": self.feasible,
            "exit_code": self.exit_code,
            "violations": [v.to_dict() for v in self.violations],
            "objective_yuan": self.objective_yuan,
            "checker_objective_yuan": self.checker_objective_yuan,
            "totals": self.totals,
            "optimum": {
                "status": self.optimum_status,
                "run_id": self.optimum_run_id,
                "run_dir": str(self.optimum_run_dir) if self.optimum_run_dir else None,
                "objective_yuan": self.optimum_objective_yuan,
                "solver_objective_yuan": self.optimum_solver_objective_yuan,
                "check_ok": self.optimum_check_ok,
                "totals": self.optimum_totals,
            },
            "comparison": _records(self.comparison),
            "differing_townships": _records(self.differing),
            "notes": self.notes,
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    if df is None or df.empty:
        return []
    return [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
        for r in df.to_dict(orient="records")
    ]


def plan_figures(valid: ValidInstance, plan: pd.Series) -> tuple[pd.DataFrame, dict[str, Any], float]:
    """Allocation table, totals (with conservation area) and objective of any plan."""
    alloc = tables.allocation_table(valid, plan)
    towns = tables.township_table(valid, alloc) if valid.villages is not None else None
    tot = tables.totals(valid, alloc, towns)
    conserve = {i for i, ind in valid.spec.industries.items() if ind.counts_as_conservation}
    tot["conservation_area_ha"] = float(alloc.loc[alloc["industry"].isin(conserve), "area_ha"].sum())
    objective = tables.objective_value(valid, tot)
    tot["objective_yuan"] = objective
    return alloc, tot, objective


def part_weights(valid: ValidInstance) -> dict[str, float]:
    """Weight of each objective part in docs/model.md's Z (material GEP: 0 unless count_both)."""
    obj = valid.spec.objective
    delta = 1.0 if obj.double_count == "count_both" else 0.0
    return {
        "gep_regulating_yuan": obj.gep_weight,
        "gep_cultural_yuan": obj.gep_weight,
        "gep_material_yuan": obj.gep_weight * delta,
        "farmer_income_after_price_steps_yuan": obj.income_weight,
        "objective_yuan": 1.0,
    }


def comparison_table(valid: ValidInstance, plan_tot: dict[str, Any], opt_tot: dict[str, Any]) -> pd.DataFrame:
    """Plan against optimum, part by part; `left_on_the_table` = optimum − plan.

    For the objective parts `weighted_left_on_the_table_yuan` is the difference times the
    part's weight in Z, so those rows (without the objective row) sum to the objective's
    difference. Other figures are shown for context; their difference is just optimum − plan.
    """
    weights = part_weights(valid)
    rows = []
    for key, words in OBJECTIVE_PARTS:
        diff = opt_tot[key] - plan_tot[key]
        rows.append(
            {
                "part": key, "description": words, "unit": "yuan/yr", "in_objective": True,
                "objective_weight": weights[key], "plan": plan_tot[key], "optimum": opt_tot[key],
                "left_on_the_table": diff, "weighted_left_on_the_table_yuan": weights[key] * diff + 0.0,  # no -0
            }
        )  # fmt: skip
    for key, words, unit in OTHER_FIGURES:
        rows.append(
            {
                "part": key, "description": words, "unit": unit, "in_objective": False,
                "objective_weight": np.nan, "plan": plan_tot[key], "optimum": opt_tot[key],
                "left_on_the_table": opt_tot[key] - plan_tot[key], "weighted_left_on_the_table_yuan": np.nan,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _contribution(valid: ValidInstance, alloc: pd.DataFrame) -> np.ndarray:
    """Each township's share of Z, before market price steps (those belong to no township)."""
    w = part_weights(valid)
    return (
        w["gep_regulating_yuan"] * alloc["gep_regulating_yuan"].to_numpy()
        + w["gep_cultural_yuan"] * alloc["gep_cultural_yuan"].to_numpy()
        + w["gep_material_yuan"] * alloc["gep_material_yuan"].to_numpy()
        + w["farmer_income_after_price_steps_yuan"] * alloc["farmer_income_yuan"].to_numpy()
    )


def differing_townships(
    valid: ValidInstance, alloc: pd.DataFrame, opt_alloc: pd.DataFrame, violations: list[Violation]
) -> pd.DataFrame:
    """Townships whose industry differs from the optimum's, largest loss to the plan first."""
    plan_c = _contribution(valid, alloc)
    opt_c = _contribution(valid, opt_alloc)
    key = valid.unit_key  # villages in a village instance
    by_town = _township_violations(alloc, violations, key)
    ids = {key: alloc[key].to_numpy()}
    if key != "township_id":
        ids["township_id"] = alloc["township_id"].to_numpy()
    df = pd.DataFrame(
        {
            **ids,
            "name": alloc["name"].to_numpy(),
            "county": alloc["county"].to_numpy(),
            "plan_industry": alloc["industry"].to_numpy(),
            "optimum_industry": opt_alloc["industry"].to_numpy(),
            "area_ha": alloc["area_ha"].to_numpy(),
            "plan_gep_total_yuan": alloc["gep_total_yuan"].to_numpy(),
            "optimum_gep_total_yuan": opt_alloc["gep_total_yuan"].to_numpy(),
            "plan_farmer_income_yuan": alloc["farmer_income_yuan"].to_numpy(),
            "optimum_farmer_income_yuan": opt_alloc["farmer_income_yuan"].to_numpy(),
            "plan_objective_contribution_yuan": plan_c,
            "optimum_objective_contribution_yuan": opt_c,
            "left_on_the_table_yuan": opt_c - plan_c,
            "plan_violations": [by_town.get(t, "") for t in alloc[key]],
        }
    )
    differs = df["plan_industry"] != df["optimum_industry"]
    return df[differs].sort_values("left_on_the_table_yuan", ascending=False, kind="stable").reset_index(drop=True)


def _township_violations(alloc: pd.DataFrame, violations: list[Violation], key: str = "township_id") -> dict[str, str]:
    ids = set(alloc[key])
    out: dict[str, list[str]] = {}
    for v in violations:
        if v.index in ids:
            out.setdefault(str(v.index), []).append(v.message)
    return {k: "; ".join(msgs) for k, msgs in out.items()}


def violations_table(violations: list[Violation]) -> pd.DataFrame:
    """violations.csv: one row per broken limit, with how far it is off in its unit."""
    rows = []
    for v in violations:
        excess = None
        if v.amount is not None and v.limit is not None:
            excess = {"<=": v.amount - v.limit, ">=": v.limit - v.amount}.get(v.sense, abs(v.amount - v.limit))
        rows.append(
            {
                "constraint": v.name, "index": v.index, "amount": v.amount, "sense": v.sense,
                "limit": v.limit, "unit": v.unit, "excess": excess, "message": v.message,
            }
        )  # fmt: skip
    return pd.DataFrame(
        rows, columns=["constraint", "index", "amount", "sense", "limit", "unit", "excess", "message"]
    )


def _check(loaded: Any, alloc: pd.DataFrame, folder: Path) -> Any:
    """Run the independent checker against the resolved instance written into `folder`."""
    from optimizer.run import write_resolved_instance

    resolved = folder / "instance.resolved.yaml"
    write_resolved_instance(resolved, loaded)
    # Only the products: a village plan's leading industries are derived by the checker itself.
    key = "village_id" if "village_id" in alloc.columns else "township_id"
    return check_plan(resolved, alloc[[key, "industry"]], compare_written=False)


def evaluate_plan(
    instance_path: Path | str,
    plan_path: Path | str,
    *,
    options: Any | None = None,
    results_root: Path = Path("results"),
    scenarios: list[str] | tuple[str, ...] = (),
    sets: list[str] | tuple[str, ...] = (),
    optimum_run: Path | None = None,
    phase: Callable[[str], None] | None = None,
    write: bool = True,
    output: OutputOptions | None = None,
) -> Evaluation:
    """Check a plan against every limit, score it, and compare it with the optimum.

    The optimum is solved with `solve_instance` (its own run folder is written and its
    id reported), unless `optimum_run` names an existing run folder to compare with.
    With `write`, the evaluation goes to `results/<instance>/<run id>-evaluate/`
    atomically (`output`: label language and export formats of the `plan` layer, also
    used for the optimum's run folder). Raises InputError (located problems) for an invalid instance or plan
    file; a plan that breaks limits is not an error: see `Evaluation.violations`.
    """
    from optimizer.outputs.write import final_path, new_run_id, run_folder
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    note = phase or (lambda name: None)
    instance_path = Path(instance_path)
    note("reading and validating")
    loaded = load_instance(instance_path, scenarios=scenarios, sets=sets)
    valid = validate(loaded)
    csv = plan_file(Path(plan_path))
    plan = read_plan(csv, valid)
    alloc, tot, objective = plan_figures(valid, plan)

    ev = Evaluation(
        instance=loaded.spec.name, plan_file=csv, allocation=alloc, violations=[], totals=tot,
        objective_yuan=objective, checker_objective_yuan=math.nan,
    )  # fmt: skip

    note("finding the optimum")
    opt_plan = None
    if optimum_run is not None:
        opt_csv = plan_file(Path(optimum_run))
        opt_plan = read_plan(opt_csv, valid)
        ev.optimum_status = "given"
        ev.optimum_run_dir = opt_csv.parent
        summary_path = opt_csv.parent / "summary.json"
        if summary_path.exists():
            import json

            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            ev.optimum_status = str(summary.get("status", "given"))
            ev.optimum_solver_objective_yuan = summary.get("objective_yuan")
            ev.optimum_check_ok = summary.get("check_ok")
            if summary.get("instance") not in (None, loaded.spec.name):
                ev.notes.append(_("the optimum run is of instance '{other}', not '{name}'").format(
                    other=summary.get("instance"), name=loaded.spec.name))
    else:
        result = solve_instance(
            instance_path, options or SolveOptions(), results_root=Path(results_root),
            phase=note, scenarios=scenarios, sets=sets, output=output,
        )  # fmt: skip
        ev.optimum_status = result.summary.get("status")
        ev.optimum_solver_objective_yuan = result.summary.get("objective_yuan")
        ev.optimum_check_ok = result.check_ok
        if result.has_plan:
            ev.optimum_run_dir = result.run_dir
            opt_plan = read_plan(result.run_dir / "allocation.csv", valid)
        elif ev.optimum_status == "infeasible":
            conflict = ", ".join(result.summary.get("infeasible_families") or []) or _("several limits together")
            ev.notes.append(_("the instance is infeasible: no plan meets every limit (in conflict: {conflict}), "
                              "so there is no optimum to compare with").format(conflict=conflict))  # fmt: skip
        else:
            ev.notes.append(_("the optimum solve ended '{status}' without a plan; nothing to compare with").format(
                status=ev.optimum_status))
    if ev.optimum_check_ok is False:
        ev.notes.append(_("the independent checker disagreed with the optimum run; see its check.json"))

    opt_alloc = None
    if opt_plan is not None:
        opt_alloc, opt_tot, opt_obj = plan_figures(valid, opt_plan)
        ev.optimum_totals, ev.optimum_objective_yuan = opt_tot, opt_obj
        if ev.optimum_status == "optimal" and objective > opt_obj + 1e-6 * max(1.0, abs(opt_obj)):
            ev.notes.append(_("the plan scores above the optimum only because it breaks limits"))

    def finish(folder: Path) -> None:
        note("checking the plan against every limit")
        report = _check(loaded, alloc, folder)
        ev.violations = list(report.violations)
        ev.checker_objective_yuan = report.objective_yuan
        if not math.isclose(report.objective_yuan, objective, rel_tol=1e-6, abs_tol=1e-3):
            msg = (f"the checker's objective {report.objective_yuan:,.2f} differs from the tables' {objective:,.2f} yuan; "
                   "please report this")  # fmt: skip
            log.warning(msg)
            ev.notes.append(msg)
        ev.notes.extend(n for n in report.notes if n not in ev.notes)
        if opt_alloc is not None:
            ev.comparison = comparison_table(valid, tot, ev.optimum_totals or {})
            ev.differing = differing_townships(valid, alloc, opt_alloc, ev.violations)

    if not write:
        with tempfile.TemporaryDirectory(prefix="evaluate-") as tmp:
            finish(Path(tmp))
        return ev
    with run_folder(Path(results_root), loaded.spec.name, new_run_id() + "-evaluate") as partial:
        finish(partial)
        note("writing the evaluation")
        _write(ev, valid, partial, opt_alloc, sets, output or OutputOptions())
    ev.out_dir = final_path(partial)
    log.info("plan %s: %d violation(s); evaluation in %s", csv, len(ev.violations), ev.out_dir)
    return ev


#: Limits that apply to a county as a whole: a township in such a county is part of the breach.
COUNTY_LIMITS = frozenset({"water_use_per_county_max", "pv_capacity_per_county_max", "conservation_area_per_county_min"})


def _verdicts(layer: pd.DataFrame, violations: list[Violation], with_optimum: bool) -> list[str]:
    """Per township, what the evaluation map shows (optimizer.outputs.gpkg.VERDICTS): it
    breaks a limit itself, its county breaks a county-wide limit, it differs from the
    optimum, or it is as the optimum (meets every limit, when there is no optimum)."""
    counties = {str(v.index) for v in violations if v.name in COUNTY_LIMITS and v.index is not None}
    out = []
    for own, county, differs in zip(layer["violations"], layer["county"], layer["differs_from_optimum"]):
        if own:
            out.append("breaks_limits")
        elif str(county) in counties:
            out.append("county_breaks_limits")
        elif not with_optimum:
            out.append("meets_limits")
        else:
            out.append("differs_from_optimum" if differs else "as_optimum")
    return out


def _write(ev: Evaluation, valid: ValidInstance, folder: Path, opt_alloc: pd.DataFrame | None, sets: Any,
           output: OutputOptions) -> None:
    """evaluation.json, violations.csv, comparison.csv, differing_townships.csv, evaluate.gpkg, manifest.json."""
    from optimizer.outputs.write import sha256, versions, write_csv, write_json

    loaded = valid.loaded
    layer = ev.allocation.copy()
    key = valid.unit_key
    by_town = _township_violations(layer, ev.violations, key)
    layer["violations"] = [by_town.get(t, "") for t in layer[key]]
    if opt_alloc is not None:
        layer["optimum_industry"] = opt_alloc["industry"].to_numpy()
        layer["differs_from_optimum"] = (layer["industry"] != layer["optimum_industry"]).to_numpy()
        layer["left_on_the_table_yuan"] = _contribution(valid, opt_alloc) - _contribution(valid, layer)
    else:
        layer["optimum_industry"] = ""
        layer["differs_from_optimum"] = False
        layer["left_on_the_table_yuan"] = np.nan
    layer["verdict"] = _verdicts(layer, ev.violations, opt_alloc is not None)
    viol = violations_table(ev.violations)
    write_csv(folder / "plan_allocation.csv", layer)
    write_csv(folder / "violations.csv", viol)
    write_csv(folder / "comparison.csv", ev.comparison)
    write_csv(folder / "differing_townships.csv", ev.differing)
    tables_out = {"violations": viol}
    if valid.villages is not None:  # the plan at township and county level too
        towns = tables.township_table(valid, ev.allocation)
        industries = [i for i, ind in valid.spec.industries.items() if ind.candidate]
        counties = tables.village_county_totals(ev.allocation, towns, industries)
        write_csv(folder / "plan_townships.csv", towns)
        write_csv(folder / "plan_county_totals.csv", counties)
        tables_out["plan_townships"] = towns
        tables_out["plan_county_totals"] = counties
    if not ev.comparison.empty:
        tables_out["comparison"] = ev.comparison
        tables_out["differing_townships"] = ev.differing
    if valid.villages is not None:  # a village instance: the village polygons
        vt = loaded.village_tables
        plan_layer = township_layer(layer, vt.geometry, vt.crs, "village_id")
        has_geometry = vt.geometry is not None
    else:
        plan_layer = township_layer(layer, loaded.geometry, loaded.crs)
        has_geometry = loaded.geometry is not None
    write_layers(folder / "evaluate.gpkg", {"plan": plan_layer}, tables_out,
                 styles={"plan": evaluation_style(output.lang)} if has_geometry else {},
                 lang=output.lang)  # fmt: skip
    export_layer(folder, "plan", plan_layer, output.export)
    write_json(folder / "evaluation.json", ev.to_dict())
    manifest = {
        "tool": "karst-layout-optimizer",
        "command": "evaluate",
        "versions": versions(),
        "instance_file": str(loaded.path.resolve()),
        "inputs": {str(p): sha256(p) for p in [*loaded.input_files, ev.plan_file]},
        "scenarios": list(loaded.scenarios),
        "set": list(sets),
        "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
        "optimum_run": str(ev.optimum_run_dir) if ev.optimum_run_dir else None,
        "feasible": ev.feasible,
        "outputs": {p.name: sha256(p) for p in sorted(folder.iterdir())},
    }
    write_json(folder / "manifest.json", manifest)


# --------------------------------------------------------------------------- command
