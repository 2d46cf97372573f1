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
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import pandas as pd
import typer

from optimizer.check import Violation, check_plan, format_amount
from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.gep import plan_file, print_problems, township_layer, write_layers
from optimizer.instance.load import load_instance
from optimizer.instance.validate import ValidInstance, validate
from optimizer.outputs import tables

log = logging.getLogger(__name__)

#: Exit code of `optimizer evaluate` when the plan breaks at least one limit. Distinct
#: from 5 (the checker disagrees with the *solver*): here the plan is the planner's own.
PLAN_VIOLATES = 7
#: Exit code for an invalid plan file or instance (the CLI's INVALID_INPUT).
INVALID_INPUT = 2

_MAX_LISTED = 20  # missing townships named one by one; the rest counted

_EXCEL_NUMBER = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


# --------------------------------------------------------------------------- plan file


def read_plan(path: Path | str, valid: ValidInstance) -> pd.Series:
    """Read a plan CSV (`township_id`, `industry`; other columns ignored) as industry per township.

    Every problem is collected and raised at once as an InputError: a missing column,
    an unknown township (did-you-mean on ids, or the id of a township named by its
    name), a township listed twice (with the row of its first listing), an unknown or
    empty industry (did-you-mean on ids and labels), and townships with no row at all.
    Rows are numbered as data rows, header excluded, like the validator's table errors;
    blank lines keep their numbers so the row matches what a spreadsheet shows (+1).
    A file saved by Excel in GBK (the default on Chinese Windows) is accepted.

    Industries that exist but may not be chosen (a non-candidate baseline land use, a
    pair outside the gates) are not file errors: they are the plan's choices, and the
    checker reports them as violations.
    """
    path = Path(path)
    df = _read_csv(path)
    df.columns = [str(c).strip() for c in df.columns]
    problems: list[Problem] = []
    for col in ("township_id", "industry"):
        if col not in df.columns:
            problems.append(
                Problem(
                    Location(path, table_column=col),
                    f"required column '{col}' is missing (a plan needs township_id and industry)",
                    did_you_mean(col, df.columns),
                )
            )
    if problems:
        raise InputError(problems)

    t = valid.townships
    ids = set(t.index)
    by_name: dict[str, list[str]] = {}
    for tid, name in zip(t.index, t["name"]):
        by_name.setdefault(str(name), []).append(tid)
    industries = valid.spec.industries
    by_label = {}
    for iid, ind in industries.items():
        by_label[ind.label] = iid
        if ind.label_zh:
            by_label[ind.label_zh] = iid

    # Townships listed somewhere: an unknown id is most likely a misspelling of one that is not.
    listed_ids = {_known_id(str(v).strip(), ids) for v in df["township_id"]}
    unlisted = ids - listed_ids
    chosen: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for pos, (raw_tid, raw_ind) in enumerate(zip(df["township_id"], df["industry"])):
        row = pos + 1
        tid, iid = str(raw_tid).strip(), str(raw_ind).strip()
        if not tid and not iid and not any(str(v).strip() for v in df.iloc[pos]):
            continue  # a blank line
        cell = Location(path, row=row, table_column="township_id")
        if not tid:
            problems.append(Problem(cell, "township_id is empty"))
            continue
        if _known_id(tid, ids) != tid:
            log.info("%s row %d: township id %s read as %s (a spreadsheet wrote it as a number)", path, row, tid, tid[:-2])
            tid = tid[:-2]
        if tid not in ids:
            problems.append(Problem(cell, f"unknown township '{tid}'", _township_hint(tid, ids, unlisted, by_name)))
        elif tid in first_row:
            problems.append(
                Problem(cell, f"township '{tid}' ({t.at[tid, 'name']}) is listed twice (first at row {first_row[tid]})")
            )
        else:
            first_row[tid] = row
        icell = Location(path, row=row, table_column="industry")
        if not iid:
            problems.append(Problem(icell, f"industry is empty for township '{tid}'", f"industries: {', '.join(industries)}"))
        elif iid not in industries:
            hint = (
                f"'{iid}' is the label of industry '{by_label[iid]}'; use its id"
                if iid in by_label
                else did_you_mean(iid, industries) or f"industries: {', '.join(industries)}"
            )
            problems.append(Problem(icell, f"unknown industry '{iid}'", hint))
        elif tid in ids and first_row.get(tid) == row:
            chosen[tid] = iid

    listed = set(first_row)
    missing = [tid for tid in t.index if tid not in listed]
    if missing:
        named = ", ".join(f"{tid} ({t.at[tid, 'name']})" for tid in missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        n = len(missing)
        problems.append(
            Problem(
                Location(path, table_column="township_id"),
                f"{n} township{'s have' if n != 1 else ' has'} no row: {named}{more}",
                "every township of the instance needs exactly one row",
            )
        )
    if problems:
        raise InputError(problems)
    plan = pd.Series([chosen[tid] for tid in t.index], index=t.index, name="industry")
    log.info("read plan %s: %d townships", path, len(plan))
    return plan


def _read_csv(path: Path) -> pd.DataFrame:
    """The plan table as text, blank lines kept as empty rows so row numbers stay true."""
    if not path.exists():
        raise InputError([Problem(Location(path), "file not found")])
    if path.suffix.lower() in (".xlsx", ".xls", ".ods"):
        raise InputError(
            [Problem(Location(path), "a plan must be a CSV file", "in Excel: File ▸ Save As ▸ CSV UTF-8")]
        )
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, skip_blank_lines=False)
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError:
            raise InputError([Problem(Location(path), "the file is empty", "write a header: township_id,industry")]) from None
        except pd.errors.ParserError as exc:
            raise InputError([Problem(Location(path), f"not a readable CSV table: {exc}")]) from None
    raise InputError([Problem(Location(path), f"not UTF-8 or GBK text ({last})", "save the file as CSV UTF-8")])


def _known_id(tid: str, ids: set[str]) -> str:
    """`451123100.0` (a spreadsheet's number) is township 451123100."""
    if tid not in ids and tid.endswith(".0") and tid[:-2] in ids:
        return tid[:-2]
    return tid


def _township_hint(tid: str, ids: set[str], unlisted: set[str], by_name: dict[str, list[str]]) -> str | None:
    if tid in by_name:
        owners = by_name[tid]
        return f"'{tid}' is the name of township {', '.join(owners)}; use its id"
    if _EXCEL_NUMBER.match(tid):
        return "a spreadsheet turned the id into a number; format the column as text and retype the ids"
    hint = did_you_mean(tid, sorted(unlisted)) or did_you_mean(tid, sorted(ids))
    if hint:
        return hint
    close = did_you_mean(tid, by_name)
    if close:
        name = close.split("'")[1]
        return f"did you mean {', '.join(by_name[name])} ({name})?"
    return None


# --------------------------------------------------------------------------- evaluation


#: Objective parts compared, in docs/model.md's order: (key in totals, words).
OBJECTIVE_PARTS: tuple[tuple[str, str], ...] = (
    ("gep_regulating_yuan", "regulating GEP"),
    ("gep_cultural_yuan", "cultural GEP"),
    ("gep_material_yuan", "material GEP"),
    ("farmer_income_after_price_steps_yuan", "farmers' income after price steps"),
    ("objective_yuan", "weighted objective"),
)
#: Further figures shown beside them: (key, words, unit).
OTHER_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("gep_total_yuan", "GEP total (all categories)", "yuan/yr"),
    ("farmer_income_yuan", "farmers' income before price steps", "yuan/yr"),
    ("market_revenue_loss_yuan", "market revenue lost to falling prices", "yuan/yr"),
    ("water_use_m3", "water use", "m³/yr"),
    ("pv_capacity_mw", "PV capacity", "MWp"),
    ("investment_yuan", "investment", "yuan"),
    ("conservation_area_ha", "conservation area", "ha"),
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
    tot = tables.totals(valid, alloc)
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
    by_town = _township_violations(alloc, violations)
    df = pd.DataFrame(
        {
            "township_id": alloc["township_id"].to_numpy(),
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
            "plan_violations": [by_town.get(t, "") for t in alloc["township_id"]],
        }
    )
    differs = df["plan_industry"] != df["optimum_industry"]
    return df[differs].sort_values("left_on_the_table_yuan", ascending=False, kind="stable").reset_index(drop=True)


def _township_violations(alloc: pd.DataFrame, violations: list[Violation]) -> dict[str, str]:
    ids = set(alloc["township_id"])
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
    return check_plan(resolved, alloc[["township_id", "industry"]], compare_written=False)


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
) -> Evaluation:
    """Check a plan against every limit, score it, and compare it with the optimum.

    The optimum is solved with `solve_instance` (its own run folder is written and its
    id reported), unless `optimum_run` names an existing run folder to compare with.
    With `write`, the evaluation goes to `results/<instance>/<run id>-evaluate/`
    atomically. Raises InputError (located problems) for an invalid instance or plan
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
                ev.notes.append(f"the optimum run is of instance '{summary.get('instance')}', not '{loaded.spec.name}'")
    else:
        result = solve_instance(
            instance_path, options or SolveOptions(), results_root=Path(results_root),
            phase=note, scenarios=scenarios, sets=sets,
        )  # fmt: skip
        ev.optimum_status = result.summary.get("status")
        ev.optimum_solver_objective_yuan = result.summary.get("objective_yuan")
        ev.optimum_check_ok = result.check_ok
        if result.run_dir is not None:
            ev.optimum_run_dir = result.run_dir
            opt_plan = read_plan(result.run_dir / "allocation.csv", valid)
        elif ev.optimum_status == "infeasible":
            conflict = ", ".join(result.summary.get("infeasible_families") or []) or "several limits together"
            ev.notes.append(f"the instance is infeasible: no plan meets every limit (in conflict: {conflict}), "
                            "so there is no optimum to compare with")  # fmt: skip
        else:
            ev.notes.append(f"the optimum solve ended '{ev.optimum_status}' without a plan; nothing to compare with")
    if ev.optimum_check_ok is False:
        ev.notes.append("the independent checker disagreed with the optimum run; see its check.json")

    opt_alloc = None
    if opt_plan is not None:
        opt_alloc, opt_tot, opt_obj = plan_figures(valid, opt_plan)
        ev.optimum_totals, ev.optimum_objective_yuan = opt_tot, opt_obj
        if ev.optimum_status == "optimal" and objective > opt_obj + 1e-6 * max(1.0, abs(opt_obj)):
            ev.notes.append("the plan scores above the optimum only because it breaks limits")

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
        _write(ev, valid, partial, opt_alloc, sets)
    ev.out_dir = final_path(partial)
    log.info("plan %s: %d violation(s); evaluation in %s", csv, len(ev.violations), ev.out_dir)
    return ev


def _write(ev: Evaluation, valid: ValidInstance, folder: Path, opt_alloc: pd.DataFrame | None, sets: Any) -> None:
    """evaluation.json, violations.csv, comparison.csv, differing_townships.csv, evaluate.gpkg, manifest.json."""
    from optimizer.outputs.write import sha256, versions, write_csv, write_json

    loaded = valid.loaded
    layer = ev.allocation.copy()
    by_town = _township_violations(layer, ev.violations)
    layer["violations"] = [by_town.get(t, "") for t in layer["township_id"]]
    if opt_alloc is not None:
        layer["optimum_industry"] = opt_alloc["industry"].to_numpy()
        layer["differs_from_optimum"] = (layer["industry"] != layer["optimum_industry"]).to_numpy()
        layer["left_on_the_table_yuan"] = _contribution(valid, opt_alloc) - _contribution(valid, layer)
    else:
        layer["optimum_industry"] = ""
        layer["differs_from_optimum"] = False
        layer["left_on_the_table_yuan"] = np.nan
    viol = violations_table(ev.violations)
    write_csv(folder / "plan_allocation.csv", layer)
    write_csv(folder / "violations.csv", viol)
    write_csv(folder / "comparison.csv", ev.comparison)
    write_csv(folder / "differing_townships.csv", ev.differing)
    tables_out = {"violations": viol}
    if not ev.comparison.empty:
        tables_out["comparison"] = ev.comparison
        tables_out["differing_townships"] = ev.differing
    write_layers(folder / "evaluate.gpkg", {"plan": township_layer(layer, loaded.geometry, loaded.crs)}, tables_out)
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


EPILOG = (
    "Exit codes: 0 the plan meets every limit; 7 it breaks at least one limit (listed); "
    "2 invalid plan file or instance; 1 internal error."
)


def register(app: typer.Typer) -> None:
    """Add the `evaluate` command to a Typer app (the lead wires it into optimizer.cli)."""
    @app.command(name="evaluate", epilog=EPILOG)
    def evaluate_command(
        instance: Annotated[Path, typer.Argument(help="Instance YAML file.")],
        plan: Annotated[Path, typer.Argument(help="The plan: a CSV with township_id,industry (other columns ignored), or a run folder.")],
        results: Annotated[Path, typer.Option("--results", help="Folder for outputs: <results>/<instance>/<run id>-evaluate/ and the optimum's run.")] = Path("results"),
        optimum: Annotated[Optional[Path], typer.Option("--optimum", help="Compare with this existing run folder instead of solving again.")] = None,
        time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Time limit of the optimum solve (seconds).", min=0.01)] = None,
        gap: Annotated[float, typer.Option("--gap", help="Relative MIP gap of the optimum solve.", min=0.0)] = 1e-4,
        threads: Annotated[int, typer.Option("--threads", help="HiGHS threads for the optimum solve.", min=1)] = 1,
        seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed for the optimum solve.")] = 20260101,
        scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides to apply first, comma-separated, as for solve.")] = None,
        set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
    ) -> None:
        """Score your own plan: every limit checked in plain words, GEP and income, and the optimum's lead.

        Example: optimizer evaluate instances/fuchuan/fuchuan.yaml my_plan.csv
        """
        from rich.console import Console

        from optimizer.solve import SolveOptions

        out = Console(soft_wrap=True)
        err = Console(stderr=True, soft_wrap=True)
        options = SolveOptions(time_limit=time_limit, gap=gap, threads=threads, seed=seed)
        try:
            with err.status("starting", spinner="dots") as status:
                ev = evaluate_plan(
                    instance, plan, options=options, results_root=results, optimum_run=optimum,
                    scenarios=[n.strip() for n in (scenario or "").split(",") if n.strip()], sets=set_ or [],
                    phase=lambda name: status.update(name),
                )  # fmt: skip
        except InputError as exc:
            files = {p.location.file for p in exc.problems}
            in_plan = files <= {plan, plan / "allocation.csv"}
            print_problems(err, exc, "The plan file has" if in_plan else "The input has")
            raise typer.Exit(INVALID_INPUT) from None
        print_evaluation(out, ev)
        if ev.violations:
            raise typer.Exit(PLAN_VIOLATES)


def _show(x: float, unit: str) -> str:
    """Money in whole yuan; other figures as the checker formats them."""
    return f"{x:,.0f}" if unit.startswith("yuan") else format_amount(x)


def print_evaluation(console: Any, ev: Evaluation) -> None:
    """Verdict and violations one per line, the comparison table, differing townships, folders."""
    from rich.markup import escape
    from rich.table import Table

    n = len(ev.violations)
    if n:
        console.print(f"[bold red]Plan {escape(str(ev.plan_file))} breaks {n} limit{'s' if n != 1 else ''}:[/]")
        for v in ev.violations:
            console.print(f"  ✗ {v.message}", highlight=False, markup=False)
    else:
        console.print(f"[bold green]Plan {escape(str(ev.plan_file))} meets every limit.[/]")
    t = ev.totals
    console.print(
        f"Plan: GEP {t['gep_total_yuan']:,.0f} yuan/yr (material {t['gep_material_yuan']:,.0f}, regulating "
        f"{t['gep_regulating_yuan']:,.0f}, cultural {t['gep_cultural_yuan']:,.0f}); farmers' income "
        f"{t['farmer_income_after_price_steps_yuan']:,.0f} yuan/yr after price steps; objective {ev.objective_yuan:,.0f}.",
        highlight=False, markup=False,
    )  # fmt: skip
    if ev.comparison.empty:
        for note in ev.notes:
            console.print(f"Note: {note}", highlight=False, markup=False)
        if ev.out_dir:
            console.print(f"Evaluation: [bold]{ev.out_dir}[/]")
        return
    table = Table(title=f"plan against the optimum ({ev.optimum_status}, run {ev.optimum_run_id})", header_style="bold")
    for col in ("part", "unit", "weight", "plan", "optimum", "left on the table"):
        table.add_column(col, justify="left" if col in ("part", "unit") else "right")
    for r in ev.comparison.itertuples(index=False):
        weight = "" if not r.in_objective else ("Z" if r.part == "objective_yuan" else f"{r.objective_weight:g}")
        table.add_row(
            r.description, r.unit, weight, _show(r.plan, r.unit), _show(r.optimum, r.unit),
            _show(r.left_on_the_table, r.unit),
        )  # fmt: skip
    console.print(table)
    d = ev.differing
    if d.empty:
        console.print("Every township has the optimum's industry.")
    else:
        console.print(f"{len(d)} township{'s differ' if len(d) != 1 else ' differs'} from the optimum "
                      "(objective contribution left on the table, before price steps):", highlight=False)  # fmt: skip
        for r in d.head(15).itertuples(index=False):
            console.print(
                f"  {r.township_id} {r.name} ({r.county}): plan {r.plan_industry}, optimum {r.optimum_industry}, "
                f"{r.left_on_the_table_yuan:,.0f} yuan/yr left on the table",
                highlight=False, markup=False,
            )
        if len(d) > 15:
            console.print(f"  … and {len(d) - 15} more (differing_townships.csv)", highlight=False)
    for note in ev.notes:
        console.print(f"Note: {note}", highlight=False, markup=False)
    if ev.optimum_run_dir:
        console.print(f"Optimum: [bold]{ev.optimum_run_dir}[/]")
    if ev.out_dir:
        console.print(f"Evaluation: [bold]{ev.out_dir}[/] (evaluate.gpkg layer plan has differs_from_optimum)")
