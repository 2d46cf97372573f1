"""`optimizer alternatives`: near-optimal plans that differ from the optimum and each other.

Why: planners negotiate with counties. The useful question is not only "what is best"
but "which townships are forced by the numbers, and which are open to local
preference". Following the modelling-to-generate-alternatives idea (Calliope's SPORES,
Marxan's selection frequency) for exact one-industry-per-township plans, this module

1. solves the optimum (an ordinary run folder, `optimum/`), with its proven bound B;
2. finds up to n alternatives, one at a time: each keeps every limit of the instance and
   an objective of at least B − slack·|B| (so it is *proven* within the slack of the
   optimum), and is as different as possible from the optimum and the alternatives
   before it — first the smallest distance to any of them, then the total distance, in
   townships changed or (`by area`) hectares changed — and, among the most different, has
   the best objective (optimizer/model/alternatives.py);
3. checks every alternative with the independent checker against the instance (as run,
   scenarios and --set applied) and writes it as a run folder (`alt1/`, …);
4. tabulates each township's **flexibility**: the industries it takes across the optimum
   and the alternatives; "forced" when it is the same in all of them.

A township "forced" here kept its industry in every plan found; the alternatives are
chosen to change as many townships as they can, so a township they never change is one
that the slack leaves little room for, but the table does not prove that no plan within
the slack could change it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.i18n import _
from optimizer.instance.load import load_instance
from optimizer.instance.validate import ValidInstance, validate

log = logging.getLogger(__name__)

_CLI = Location(Path("command line"))


def parse_within(text: str) -> float:
    """`2%` or `0.02` → 0.02; negative numbers, and bare numbers ≥ 1, are refused (located)."""
    t = str(text).strip().replace(" ", "")
    try:
        value = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        raise InputError([Problem(_CLI, _("--within '{text}' is not a share: write e.g. 2% or 0.02").format(text=text))]) from None
    if not math.isfinite(value) or value < 0:
        raise InputError([Problem(_CLI, _("--within {text}: the slack must be ≥ 0 (e.g. 2% of the optimum)").format(text=text))])
    if not t.endswith("%") and value >= 1:
        raise InputError([Problem(_CLI, _("--within {text}: a bare number is a share of the optimum (0.02 = 2%)").format(text=text),
                                  _("write {text}% for {text} percent").format(text=text))])
    return value


def check_count(n: int) -> None:
    if n < 1:
        raise InputError([Problem(_CLI, _("-n {n}: ask for at least 1 alternative").format(n=n))])


def parse_keep(text: str | None, valid: ValidInstance) -> list[str]:
    """Township ids, comma-separated; unknown ones are located with a did-you-mean."""
    if not text:
        return []
    ids = [t.strip() for t in str(text).split(",") if t.strip()]
    units = valid.units  # villages of a village instance
    known = set(units.index)
    by_name = {str(n): t for t, n in zip(units.index, units["name"])}
    problems = []
    for t in ids:
        if t not in known:
            hint = (_("'{t}' is the name of township {id}; use its id").format(t=t, id=by_name[t]) if t in by_name
                    else did_you_mean(t, sorted(known)))
            problems.append(Problem(_CLI, _("--keep: unknown township '{t}'").format(t=t), hint))
    if problems:
        raise InputError(problems)
    return list(dict.fromkeys(ids))


@dataclass
class AlternativesResult:
    """What `find_alternatives` found; the tables are also CSVs in `folder`."""

    folder: Path | None
    within: float
    by: str
    optimum_objective_yuan: float
    optimum_bound_yuan: float
    floor_yuan: float
    plans: dict[str, pd.Series]  # optimum, alt1, …
    table: pd.DataFrame  # one row per plan
    flexibility: pd.DataFrame  # one row per township
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _distance(a: pd.Series, b: pd.Series, w: pd.Series) -> float:
    return float(w[(a != b).to_numpy()].sum())


def find_alternatives(
    instance: Path | str,
    *,
    within: float,
    n: int,
    by: str = "townships",
    keep: str | None = None,
    max_changes: int | None = None,
    options: Any | None = None,
    results_root: Path = Path("results"),
    scenarios: list[str] | tuple[str, ...] = (),
    sets: list[str] | tuple[str, ...] = (),
    phase: Callable[[str], None] | None = None,
    prove_forced: bool = False,
) -> AlternativesResult:
    """Solve the optimum and up to `n` alternatives within `within` of it; write the folder.

    With `prove_forced`, every township that kept its industry in all plans found is
    probed with one more solve: can any plan within the slack (and the keeps and change
    limit) give it another industry? If none can, it is forced by the numbers (proven);
    if one can, it is open and the probe's industry is added to what it can take.
    """
    from optimizer.analyses.plans import write_plan_folder
    from optimizer.model import prepare
    from optimizer.model.alternatives import build_alternative_model, to_best_objective
    from optimizer.model.build import chosen_pairs
    from optimizer.outputs.write import final_path, new_run_id, run_folder
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions, solve

    note = phase or (lambda name: None)
    check_count(n)
    if by not in ("townships", "area"):
        raise InputError([Problem(_CLI, _("--by {by}: use townships or area").format(by=by))])
    if max_changes is not None and max_changes < 0:
        raise InputError([Problem(_CLI, _("--max-changes {k}: give a number of townships ≥ 0").format(k=max_changes))])
    options = options or SolveOptions()
    note(_("reading and validating"))
    loaded = load_instance(Path(instance), scenarios=scenarios, sets=sets)
    valid = validate(loaded)
    kept = parse_keep(keep, valid)
    # the planning units: townships, or the villages of a village instance (one product each)
    options = options.for_size(len(valid.units))
    towns = valid.units.index
    weights = (valid.units["plannable_area_ha"].astype(float) if by == "area"
               else pd.Series(1.0, index=towns))
    timings: dict[str, float] = {}
    notes: list[str] = []
    with run_folder(Path(results_root), loaded.spec.name, "alternatives-" + new_run_id()) as partial:
        note(_("solving the optimum"))
        t0 = time.perf_counter()
        result = solve_instance(Path(instance), options, results_root=partial.parent, folder=partial.name,
                                run_id="optimum", scenarios=scenarios, sets=sets)
        timings["optimum"] = time.perf_counter() - t0
        if not result.has_plan:
            raise NoOptimum(result.summary["status"], ", ".join(result.summary.get("infeasible_families") or []))
        optimum = result.plan.reindex(towns)
        z_opt = float(result.summary["objective_yuan"])
        bound = float(result.summary["bound_yuan"] if result.summary["bound_yuan"] is not None else z_opt)
        floor = bound - within * abs(bound)
        if result.summary["status"] != "optimal":
            notes.append(_("the optimum solve stopped early ({status}); the slack is measured from its bound").format(
                status=result.summary["status"]))
        data = prepare(valid)
        plans: dict[str, pd.Series] = {"optimum": optimum}
        rows: list[dict[str, Any]] = [_row(valid, "optimum", optimum, optimum, [], weights, z_opt, floor, True,
                                           result.check_ok, result.summary["status"], None)]
        keep_map = {t: optimum[t] for t in kept}
        for k in range(1, n + 1):
            name = f"alt{k}"
            note(_("alternative {k} of {n}").format(k=k, n=n))
            t0 = time.perf_counter()
            earlier = [plans[p].to_dict() for p in plans]
            m, big = build_alternative_model(data, earlier, floor_yuan=floor, keep=keep_map,
                                             max_changes=max_changes, weights=weights.to_dict())
            first = solve(m, options)
            if not first.has_solution:
                notes.append(_("no plan within the slack is left for alternative {k} ({status})").format(
                    k=k, status=first.status))
                break
            stage1 = chosen_pairs(m).reindex(towns)
            d = [_distance(stage1, plans[p], weights) for p in plans]
            if min(d) <= 0:
                notes.append(_("only {k} alternative(s) differ from the plans before them within the slack").format(k=k - 1))
                break
            reached = big * min(d) + sum(d)
            to_best_objective(m, reached - 1e-6 * max(1.0, reached))
            second = solve(m, options)
            plan = chosen_pairs(m).reindex(towns) if second.has_solution else stage1
            timings[name] = time.perf_counter() - t0
            folder = partial / name
            d = [_distance(plan, plans[p], weights) for p in plans]
            summary, report = write_plan_folder(valid, plan, folder, extra={"alternative": {
                "within": within, "floor_yuan": floor, "optimum_bound_yuan": bound, "by": by,
                "min_distance": min(d), "distances": dict(zip(plans, d)),
                "diversity_bound": first.bound, "diversity_status": first.status, "objective_status": second.status,
            }}, command="alternatives")
            objective = float(summary["objective_yuan"])
            ok = objective >= floor - 1e-6 * max(1.0, abs(floor))
            if not ok:  # the floor row is the proof; a plan below it is a bug, said loudly
                notes.append(_("{name}: objective {z:,.0f} is below the floor {f:,.0f}; please report this").format(
                    name=name, z=objective, f=floor))
            if not report.ok:
                notes.append(_("{name}: the independent checker found problems: {what}").format(
                    name=name, what="; ".join(str(v) for v in report.violations)))
            rows.append(_row(valid, name, plan, optimum, [plans[p] for p in plans], weights, z_opt, floor, ok,
                             report.ok, second.status if second.has_solution else first.status, first.bound))
            plans[name] = plan
        table = pd.DataFrame(rows)
        flex = flexibility_table(valid, plans, kept)
        if prove_forced:
            from optimizer.model.alternatives import build_change_probe

            t0 = time.perf_counter()
            proven, could = [], []
            for tid, forced in zip(flex[valid.unit_key], flex["forced"]):
                if not forced or tid in keep_map:
                    proven.append(tid in keep_map)  # a kept township is forced by the planner, not probed
                    could.append("")
                    continue
                note(_("probing township {t}").format(t=tid))
                probe = build_change_probe(data, optimum.to_dict(), tid, floor_yuan=floor, keep=keep_map,
                                           max_changes=max_changes)
                out_probe = solve(probe, options)
                if out_probe.has_solution:
                    other = chosen_pairs(probe).reindex(towns)[tid]
                    proven.append(False)
                    could.append(str(other))
                elif out_probe.status == "infeasible":
                    proven.append(True)
                    could.append("")
                else:  # stopped without an answer: unknown
                    proven.append(None)
                    could.append("")
            flex["forced_proven"] = proven
            flex["could_also_take"] = could
            flex["status"] = [("forced (kept)" if tid in keep_map else "forced (proven)") if pr is True
                              else "open" if pr is False or not f else "forced in the plans found"
                              for tid, pr, f in zip(flex[valid.unit_key], proven, flex["forced"])]
            flex.loc[flex["forced_proven"].eq(False).to_numpy(), "flexibility_class"] = "open"  # a probe changed it
            timings["prove_forced"] = time.perf_counter() - t0
        _write(partial, valid, loaded, table, flex, plans, {
            "instance": loaded.spec.name, "within": within, "by": by, "n": n, "keep": kept, "max_changes": max_changes,
            "optimum_objective_yuan": z_opt, "optimum_bound_yuan": bound, "floor_yuan": floor,
            "alternatives_found": len(plans) - 1, "forced_townships": int(flex["forced"].sum()),
            "forced_proven": int((flex["forced_proven"] == True).sum()) if "forced_proven" in flex else None,  # noqa: E712
            "open_townships": int((~flex["forced"]).sum()), "notes": notes, "timings_s": timings,
        }, sets)
    out = final_path(partial)
    return AlternativesResult(out, within, by, z_opt, bound, floor, plans, table, flex, notes, timings)


class NoOptimum(Exception):
    """The instance has no plan (infeasible, or stopped without one): nothing to be near."""

    def __init__(self, status: str, conflict: str) -> None:
        super().__init__(status)
        self.status = status
        self.conflict = conflict


def _row(valid: ValidInstance, name: str, plan: pd.Series, optimum: pd.Series, earlier: list[pd.Series],
         weights: pd.Series, z_opt: float, floor: float, within: bool, check_ok: bool | None, status: str,
         diversity_bound: float | None) -> dict[str, Any]:
    from optimizer.analyses.evaluate import plan_figures

    _alloc, tot, objective = plan_figures(valid, plan)
    loss = z_opt - objective
    if abs(loss) <= 1e-9 * max(1.0, abs(z_opt)):
        loss = 0.0  # the optimum itself, up to float rounding of the tables
    area = valid.units["plannable_area_ha"].astype(float)
    changed = (plan != optimum).to_numpy()
    units = "villages" if valid.villages is not None else "townships"
    return {
        "plan": name, "status": status, "objective_yuan": objective, "loss_yuan": loss,
        "loss_share": loss / abs(z_opt) if z_opt else math.nan, "floor_yuan": floor,
        "within_slack": bool(within), "check_ok": check_ok,
        "gep_total_yuan": tot["gep_total_yuan"],
        "gep_regulating_cultural_yuan": tot["gep_regulating_yuan"] + tot["gep_cultural_yuan"],
        "farmer_income_yuan": tot["farmer_income_after_price_steps_yuan"],
        f"{units}_changed_from_optimum": int(changed.sum()),
        "hectares_changed_from_optimum": float(area[changed].sum()),
        "min_distance_to_earlier": min((_distance(plan, e, weights) for e in earlier), default=math.nan),
        "diversity_bound": diversity_bound,
        **{f"{units}_{i}": int(c) for i, c in sorted(plan.value_counts().items())},
    }


def flexibility_table(valid: ValidInstance, plans: dict[str, pd.Series], kept: list[str]) -> pd.DataFrame:
    """Per township: the industries it takes across the plans; forced when it is one industry in all."""
    from optimizer.outputs import tables

    t = valid.units  # villages of a village instance, with their township
    frame = pd.DataFrame({name: p.reindex(t.index) for name, p in plans.items()})
    candidates = [i for i, ind in valid.spec.industries.items() if ind.candidate]
    out = tables.unit_columns(valid).assign(optimum_industry=frame["optimum"].to_numpy())
    distinct = frame.nunique(axis=1).to_numpy()
    out["forced"] = distinct == 1
    out["status"] = np.where(out["forced"], "forced", "open")
    out["flexibility_class"] = np.where(out["forced"], out["optimum_industry"], "open")  # the map's colours
    out["industries_taken"] = distinct
    counts = {i: (frame == i).sum(axis=1).to_numpy() for i in candidates}
    out["industries"] = [", ".join(f"{i} {counts[i][k]}" for i in sorted(candidates, key=lambda i: -counts[i][k])
                                   if counts[i][k]) for k in range(len(t))]
    for i in candidates:
        out[f"plans_{i}"] = counts[i]
    out["plans"] = len(plans)
    out["kept"] = t.index.isin(kept)
    for name in plans:
        out[f"industry_{name}"] = frame[name].to_numpy()
    return out


def flexibility_style(valid: ValidInstance, lang: str | None = None) -> Any:
    """Forced townships in their industry's colour, open ones white with a heavy outline."""
    from optimizer.outputs.labels import bilingual
    from optimizer.outputs.style import INDUSTRY_COLOURS, Categorized

    labels = {i: bilingual("固定：" + (ind.label_zh or ind.label), "forced: " + ind.label, lang)
              for i, ind in valid.spec.industries.items() if ind.candidate}
    labels["open"] = bilingual("可协商（各方案产业不同）", "open: the plans differ", lang)
    return Categorized("flexibility_class", labels=labels, colours={**INDUSTRY_COLOURS, "open": "255,255,255"},
                       emphasis={"open"}, name="flexibility",
                       description=bilingual("固定或可协商的乡镇", "townships forced by the numbers or open", lang))


def _write(folder: Path, valid: ValidInstance, loaded: Any, table: pd.DataFrame, flex: pd.DataFrame,
           plans: dict[str, pd.Series], summary: dict[str, Any], sets: Any) -> None:
    from optimizer.outputs.gpkg import township_layer, write_layers
    from optimizer.outputs.write import sha256, versions, write_csv, write_json

    write_csv(folder / "alternatives.csv", table)
    write_csv(folder / "flexibility.csv", flex)
    geometry, crs = valid.unit_geometry  # the village polygons of a village instance
    write_layers(folder / "alternatives.gpkg",
                 {"flexibility": township_layer(flex, geometry, crs, id_column=valid.unit_key)},
                 {"alternatives": table}, styles={"flexibility": flexibility_style(valid)} if geometry is not None else {})
    write_json(folder / "alternatives.json", {**summary, "plans": table.to_dict(orient="records")})
    write_json(folder / "manifest.json", {
        "tool": "karst-layout-optimizer", "command": "alternatives", "versions": versions(),
        "instance_file": str(loaded.path.resolve()), "inputs": {str(p): sha256(p) for p in loaded.input_files},
        "scenarios": list(loaded.scenarios), "set": list(sets),
        "overrides_diff": [str(a) for a in loaded.applied_overrides], **{k: summary[k] for k in ("within", "by", "n", "keep", "max_changes")},
        "outputs": {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file()},
    })
