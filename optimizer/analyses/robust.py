"""`optimizer robust`: how stable the plan is, what it risks, and one plan for all samples.

Why: a plan that is optimal at one set of prices can be poor at next year's ("rush in
when prices are high, cut back when low"; Gansu apples fell from 5 to 0.3–0.4 yuan/jin).
Given an instance with an `uncertainty:` section, this module

1. draws the samples (optimizer/analyses/uncertainty.py) and writes `samples.csv`;
2. solves the instance as written (`nominal/`, an ordinary run folder);
3. solves the **robust plan** (`robust_plan/`): one plan for all samples at once,
   exactly, by HiGHS (optimizer/model/robust.py: expected objective or CVaR, limits held
   in every sample or a share of them), checked by the independent checker against the
   instance as written;
4. solves every sample on Dask (optimizer/analyses/points.py; `samples/<id>/`, each an
   ordinary run folder checked against that sample's limits) and, in the same worker,
   **stress-tests** the nominal plan, the robust plan and any `--plan` in that sample with
   `evaluate`'s rules: figures from the result tables, limits from the independent checker
   on the sample's resolved instance (`samples/<id>.stress/`);
5. aggregates: **stability** (per township, the share of samples whose optimum gives it each
   industry), the distribution of each plan's objective, income and GEP (mean, 5th
   percentile, worst, CVaR), the probability that each limit is broken, regret against
   each sample's optimum, and the plans side by side.

The folder `results/<instance>/robust-<id>/` is resumable like a sweep: `--resume` reuses
the samples, the nominal and robust plans and every finished sample, and solves the rest.
Samples weigh 1/S each. The stress test uses the samples the robust plan was fitted to
(in-sample); `docs/uncertainty.md` shows an out-of-sample check with another seed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analyses import points
from optimizer.analyses.uncertainty import (
    Samples,
    draw_samples,
    resolve_sample,
    sample_sets,
    valid_without_feasibility,
)
from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import N_, _
from optimizer.instance.load import load_instance
from optimizer.instance.validate import ValidInstance, validate

log = logging.getLogger(__name__)

#: Figures of a plan in a sample, as stress.csv names them.
#: The figures each plan is scored on in every sample (words translated where used; the unit
#: is comparison.csv's own column, so the words carry none).
FIGURES: tuple[tuple[str, str], ...] = (
    ("objective_yuan", N_("objective")),
    ("farmer_income_yuan", N_("farmers' income after price steps")),
    ("gep_total_yuan", N_("GEP total")),
)
DEFAULT_ALPHA = 0.1  # the CVaR level reported when the robust plan maximises the expected value
#: stability_class: id → (Chinese, English, colour) for the map; shares of the samples' optima.
STABILITY_CLASSES: dict[str, tuple[str, str, str]] = {
    "always": ("始终相同", "always the same", "26,150,65"),
    "mostly": ("多数相同（80–99%）", "mostly (80–99%)", "166,217,106"),
    "leaning": ("倾向（50–80%）", "leaning (50–80%)", "253,174,97"),
    "contested": ("不定（≤ 50%）", "contested (≤ 50%)", "215,25,28"),
    "none": ("无有解样本", "no sample solved", "189,189,189"),
}


@dataclass
class RobustSpec:
    """What a robust run is asked; saved as robust.json so that --resume repeats it exactly."""

    instance: str
    scenarios: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # SolveOptions of every solve
    samples: int | None = None  # None: the instance's uncertainty.samples
    sample_seed: int | None = None  # None: the instance's uncertainty.seed
    risk: str = "expected"  # "expected" or "cvar:ALPHA"
    hold: float = 1.0  # share of samples in which every uncertain limit must hold
    plan: str | None = None  # a plan file stress-tested beside the nominal and robust plans
    robust: bool = True  # solve the robust plan

    def risk_measure(self) -> tuple[Any, ...]:
        return parse_risk(self.risk)


def parse_risk(text: str) -> tuple[Any, ...]:
    """`expected` or `cvar:ALPHA` (0 < ALPHA ≤ 1) → ("expected",) or ("cvar", ALPHA); InputError otherwise."""
    where = Location(Path("command line"))
    t = text.strip().lower()
    if t in ("expected", "mean", "ev"):
        return ("expected",)
    if t.startswith("cvar"):
        _head, _sep, tail = t.partition(":")
        try:
            alpha = float(tail)
        except ValueError:
            alpha = math.nan
        if 0 < alpha <= 1:
            return ("cvar", alpha)
        raise InputError([Problem(where, _("--risk '{text}': the CVaR level must be a number in (0, 1], "
                                           "e.g. cvar:0.1 (the worst 10% of samples)").format(text=text))])
    raise InputError([Problem(where, _("--risk '{text}' is neither 'expected' nor 'cvar:ALPHA'").format(text=text),
                              _("e.g. --risk cvar:0.1"))])


def check_hold(hold: float) -> None:
    if not 0 < hold <= 1:
        raise InputError([Problem(Location(Path("command line")), _(
            "--hold {hold:g}: the share of samples in which the limits must hold is a number in (0, 1]").format(hold=hold))])


def new_robust_dir(results_root: Path, instance_name: str) -> Path:
    return results_root / instance_name / f"robust-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


# --------------------------------------------------------------------------- statistics


def lower_quantile(values: np.ndarray, q: float) -> float:
    """The smallest sample value with at least a share q of samples at or below it."""
    v = np.asarray(values, dtype=float)
    return float(np.quantile(v, q, method="inverted_cdf")) if len(v) else math.nan


def cvar(values: np.ndarray, alpha: float) -> float:
    """Mean of the worst α share of equally weighted samples (fractions of a sample counted).

    Equal to max_η η − (1/(αS)) Σ_s max(0, η − Z_s), the form the robust plan maximises.
    """
    v = np.sort(np.asarray(values, dtype=float))
    if not len(v):
        return math.nan
    k = alpha * len(v)
    whole = int(math.floor(k + 1e-12))
    total = v[:whole].sum() + (k - whole) * (v[whole] if whole < len(v) else 0.0)
    return float(total / k)


def distribution_stats(values: np.ndarray, alpha: float) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()) if len(v) else math.nan, "p5": lower_quantile(v, 0.05),
            "worst": float(v.min()) if len(v) else math.nan, "cvar": cvar(v, alpha)}


# --------------------------------------------------------------------------- the stress test, in a worker


def _plans_key(plans: dict[str, dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(plans, sort_keys=True).encode()).hexdigest()[:16]


def stress_step(job: dict[str, Any], root: Path, point: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Score every given plan in this sample with `evaluate`'s rules (a `points` after-step).

    Figures come from the result tables on the sample's instance, the limits from the
    independent checker run on the sample's resolved instance, written beside
    (`<id>.stress/instance.resolved.yaml`). Reuses stress.json when it is there for the
    same plans (a resume).
    """
    from optimizer.analyses.evaluate import plan_figures
    from optimizer.check import check_plan
    from optimizer.run import write_resolved_instance

    plans: dict[str, dict[str, str]] = job["after_args"]["plans"]
    folder = Path(root) / job["folder"] / f"{point['id']}.stress"
    target = folder / "stress.json"
    key = _plans_key(plans)
    if target.exists() and json.loads(target.read_text(encoding="utf-8")).get("plans_key") == key:
        return {}
    loaded = resolve_sample(points.base_instance(points.PointJob(**job)), point["sets"])
    valid = valid_without_feasibility(loaded)
    folder.mkdir(parents=True, exist_ok=True)
    resolved = folder / "instance.resolved.yaml"
    write_resolved_instance(resolved, loaded, table_as_csv=True)
    results = {}
    for name, plan in plans.items():
        series = pd.Series(plan).reindex(valid.units.index)  # townships, or villages of a village instance
        alloc, tot, objective = plan_figures(valid, series)
        report = check_plan(resolved, alloc[[valid.unit_key, "industry"]], compare_written=False)
        if not math.isclose(report.objective_yuan, objective, rel_tol=1e-6, abs_tol=1e-3):
            raise RuntimeError(f"plan {name}: the checker's objective {report.objective_yuan:,.2f} differs from the "
                               f"tables' {objective:,.2f} yuan in sample {point['id']}")
        results[name] = {
            "objective_yuan": objective,
            "checker_objective_yuan": report.objective_yuan,
            "farmer_income_yuan": tot["farmer_income_after_price_steps_yuan"],
            "gep_total_yuan": tot["gep_total_yuan"],
            "violations": [_violation(v) for v in report.violations],
        }
    tmp = target.with_suffix(".partial")
    tmp.write_text(json.dumps({"sample": point["id"], "plans_key": key, "results": results}, ensure_ascii=False,
                              indent=1, default=float), encoding="utf-8")
    tmp.replace(target)
    return {}


def _violation(v: Any) -> dict[str, Any]:
    excess = None
    if v.amount is not None and v.limit is not None:
        excess = {"<=": v.amount - v.limit, ">=": v.limit - v.amount}.get(v.sense, abs(v.amount - v.limit))
    return {"constraint": v.name, "index": v.index, "amount": v.amount, "limit": v.limit, "sense": v.sense,
            "unit": v.unit, "excess": excess, "message": v.message}


# --------------------------------------------------------------------------- the run


@dataclass
class RobustResult:
    """What `run_robust` found; every table is also a CSV in `folder`."""

    folder: Path
    samples: Samples
    sample_rows: pd.DataFrame  # per sample: status, optimum objective, bound
    stability: pd.DataFrame  # per township
    stress: pd.DataFrame  # per plan × sample
    stress_summary: pd.DataFrame  # per plan
    limit_risk: pd.DataFrame  # per plan × limit
    comparison: pd.DataFrame  # figures × plans
    differing: pd.DataFrame  # townships where the robust plan differs from the nominal
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return int((self.sample_rows["status"] == "failed").sum()) if len(self.sample_rows) else 0


def run_robust(
    spec: RobustSpec,
    folder: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> RobustResult:
    """Run (or resume) a robust analysis into `folder`; see the module docstring.

    Holds a lock on the folder, so a second resume of the same folder is refused.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with points.folder_lock(folder, "optimizer robust"):
        return _run_robust(spec, folder, scheduler=scheduler, workers=workers, serial=serial, progress=progress,
                           phase=phase)


def _run_robust(
    spec: RobustSpec,
    folder: Path,
    *,
    scheduler: str | None,
    workers: int | None,
    serial: bool,
    progress: Callable[[int, int, int], None] | None,
    phase: Callable[[str], None] | None,
) -> RobustResult:
    from optimizer.analyses.plans import plan_file, read_plan
    from optimizer.outputs.write import write_json
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    note = phase or (lambda name: None)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    note(_("reading and validating"))
    loaded = load_instance(Path(spec.instance), scenarios=spec.scenarios, sets=spec.sets)
    valid = validate(loaded)
    if loaded.spec.uncertainty is None:
        raise InputError([Problem(Location(loaded.path), _(
            "the instance has no uncertainty: section, so there is nothing to sample"),
            _("add one (docs/uncertainty.md), or give it with --set"))])
    risk = spec.risk_measure()
    check_hold(spec.hold)
    alpha = float(risk[1]) if risk[0] == "cvar" else DEFAULT_ALPHA
    folder.mkdir(parents=True, exist_ok=True)
    spec_file = folder / "robust.json"
    created = (json.loads(spec_file.read_text(encoding="utf-8")).get("created") if spec_file.exists()
               else datetime.now().isoformat())
    write_json(spec_file, {"spec": asdict(spec), "created": created, "updated": datetime.now().isoformat()})

    samples = draw_samples(loaded.spec.uncertainty, spec.samples, spec.sample_seed)
    sets_of = sample_sets(loaded, samples)
    table = samples.table()
    saved = folder / "samples.csv"
    if saved.exists():
        old = pd.read_csv(saved, encoding="utf-8-sig")
        if list(old.columns) != list(table.columns) or len(old) != len(table) or not np.allclose(
                old[samples.names].to_numpy(float), table[samples.names].to_numpy(float), rtol=1e-15, atol=0):
            raise InputError([Problem(Location(saved), _(
                "the samples drawn now differ from those of the folder (was the instance's uncertainty: "
                "section or numpy changed?); start a new run instead of resuming"))])
    else:  # full precision: a sample is repeated from these numbers
        table.to_csv(saved, index=False, encoding="utf-8-sig", float_format="%.17g")
    ids = samples.ids
    options = SolveOptions(**spec.options)

    # ---- the nominal plan
    note(_("solving the instance as written"))
    t0 = time.perf_counter()
    nominal_dir = folder / "nominal"
    if not (nominal_dir / "manifest.json").exists():
        result = solve_instance(Path(spec.instance), options, results_root=folder.parent, folder=folder.name,
                                run_id="nominal", scenarios=spec.scenarios, sets=spec.sets)
        if not result.has_plan:
            conflict = ", ".join(result.summary.get("infeasible_families") or [])
            raise NominalInfeasible(result.summary["status"], conflict)
    nominal_plan = points.plan_from_folder(nominal_dir).reindex(valid.units.index)
    nominal_summary = json.loads((nominal_dir / "summary.json").read_text(encoding="utf-8"))
    timings["nominal"] = time.perf_counter() - t0
    plans: dict[str, pd.Series] = {"nominal": nominal_plan}
    if spec.plan:
        plans["plan"] = read_plan(plan_file(Path(spec.plan)), valid)

    # ---- the robust plan
    robust_summary: dict[str, Any] | None = None
    notes: list[str] = []
    if spec.robust:
        note(_("solving the robust plan over all samples"))
        t0 = time.perf_counter()
        robust_dir = folder / "robust_plan"
        model_file = folder / "robust_plan.json"  # how the plan was made (or why there is none)
        if model_file.exists():
            old = json.loads(model_file.read_text(encoding="utf-8"))
            if list(old.get("risk", [])) != list(risk) or old.get("hold") != spec.hold:
                # A resume that asks for another risk measure or share keeps the samples, not the plan.
                import shutil

                log.info("the robust plan of %s was for risk %s, hold %s: solving it again", folder,
                         old.get("risk"), old.get("hold"))
                shutil.rmtree(robust_dir, ignore_errors=True)
                model_file.unlink()
        if model_file.exists() and ((robust_dir / "manifest.json").exists() or "reason" in json.loads(
                model_file.read_text(encoding="utf-8"))):
            robust_summary = json.loads(model_file.read_text(encoding="utf-8"))
        else:
            import shutil

            shutil.rmtree(robust_dir, ignore_errors=True)  # a plan folder left half-written
            robust_summary = solve_robust_plan(valid, loaded, samples, sets_of, risk, spec.hold, options, robust_dir)
            write_json(model_file, robust_summary)
        if (robust_dir / "manifest.json").exists():
            plans["robust"] = points.plan_from_folder(robust_dir).reindex(valid.units.index)
        timings["robust_plan"] = time.perf_counter() - t0
        timings["robust_plan_build_and_solve"] = robust_summary.get("build_and_solve_s", math.nan)

    # ---- every sample on Dask, with the stress test in the same worker
    note(_("solving every sample"))
    t0 = time.perf_counter()
    job = points.PointJob(
        instance=str(Path(spec.instance).resolve()), folder="samples", scenarios=list(spec.scenarios),
        sets=list(spec.sets), options=dict(spec.options), reuse_instance=True,
        after="optimizer.analyses.robust:stress_step",
        after_args={"plans": {name: {str(k): str(v) for k, v in p.items()} for name, p in plans.items()}},
    )
    batch = [{"id": sid, "sets": sets, "values": {}, "chain": k} for k, (sid, sets) in enumerate(zip(ids, sets_of))]
    rows = points.run_points(job, folder, batch, scheduler=scheduler, workers=workers, serial=serial, progress=progress)
    timings["samples"] = time.perf_counter() - t0

    note(_("summing up"))
    sample_rows = pd.DataFrame([{k: r.get(k) for k in ("point", "status", "objective_yuan", "bound_yuan", "gap",
                                                       "check_ok", "error")} for r in rows]).rename(
        columns={"point": "sample", "objective_yuan": "optimum_objective_yuan", "bound_yuan": "optimum_bound_yuan"})
    sample_rows = sample_rows.merge(table, on="sample", how="left")
    stability = stability_table(valid, folder, sample_rows, plans)
    stress = stress_table(folder, sample_rows, list(plans))
    stress_summary, comparison = summarise(stress, list(plans), alpha, sample_rows, valid, plans)
    limit_risk = limit_risk_table(folder, sample_rows, list(plans))
    differing = differing_table(valid, plans, stability)
    if robust_summary and "robust" in plans and risk[0] == "expected":
        # The model's expected objective and the tables' mean over the same samples must agree.
        s_mean = float(stress.loc[stress["plan"] == "robust", "objective_yuan"].mean())
        model = robust_summary.get("sample_objective_yuan")
        solved = int((sample_rows["status"] != "failed").sum())
        if model is not None and solved == samples.count and not math.isclose(s_mean, model, rel_tol=1e-6, abs_tol=1.0):
            notes.append(_("the robust model's expected objective {a:,.0f} differs from the stress test's mean "
                           "{b:,.0f} yuan; please report this").format(a=model, b=s_mean))
    timings["total"] = time.perf_counter() - t_all
    summary = {
        "instance": loaded.spec.name,
        "folder": str(folder),
        "samples": samples.count,
        "sample_seed": samples.seed,
        "parameters": samples.names,
        "risk": spec.risk,
        "hold": spec.hold,
        "alpha_reported": alpha,
        "samples_by_status": sample_rows["status"].value_counts().to_dict(),
        "nominal": {"objective_yuan": nominal_summary.get("objective_yuan"), "status": nominal_summary.get("status"),
                    "check_ok": nominal_summary.get("check_ok")},
        "robust_plan": robust_summary,
        "stable_townships": int((stability["stability"] >= 1.0 - 1e-12).sum()) if len(stability) else 0,
        "townships": len(stability),
        "townships_robust_differs": len(differing),
        "stress_summary": stress_summary.to_dict(orient="records"),
        "notes": notes,
        "timings_s": timings,
    }
    write_outputs(folder, valid, loaded, spec, samples, sample_rows, stability, stress, stress_summary, limit_risk,
                  comparison, differing, summary)
    return RobustResult(folder, samples, sample_rows, stability, stress, stress_summary, limit_risk, comparison,
                        differing, summary, notes)


class NominalInfeasible(Exception):
    """The instance as written has no plan: there is nothing to stress-test."""

    def __init__(self, status: str, conflict: str) -> None:
        super().__init__(status)
        self.status = status
        self.conflict = conflict


def solve_robust_plan(
    valid: ValidInstance,
    loaded: Any,
    samples: Samples,
    sets_of: list[list[str]],
    risk: tuple[Any, ...],
    hold: float,
    options: Any,
    folder: Path,
) -> dict[str, Any]:
    """Build and solve the sample-average model; write `folder` (a run folder, checked) if it has a plan."""
    from optimizer.analyses.plans import write_plan_folder
    from optimizer.model import prepare
    from optimizer.model.build import chosen_pairs
    from optimizer.model.robust import build_sample_model
    from optimizer.solve import solve

    options = options.for_size(len(valid.units))
    t0 = time.perf_counter()
    nominal = prepare(valid)
    datas = [prepare(valid_without_feasibility(resolve_sample(loaded, sets), base=valid)) for sets in sets_of]
    t_data = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:
        m, info = build_sample_model(nominal, datas, samples.ids, risk=risk, hold=hold)
    except ValueError as exc:
        return {"status": "infeasible", "reason": str(exc) + _("; a smaller --hold lets the plan break them in a few samples"),
                "risk": list(risk), "hold": hold}
    t_build = time.perf_counter() - t1
    outcome = solve(m, options)
    t_solve = time.perf_counter() - t1
    result: dict[str, Any] = {
        "status": outcome.status, "termination": outcome.termination, "risk": list(risk), "hold": hold,
        "samples_required": info.samples_required,
        "sample_objective_yuan": outcome.objective, "sample_bound_yuan": outcome.bound, "sample_gap": outcome.gap,
        "rows_by_family": info.rows_by_family,
        "pairs_ruled_out": [{"township_id": t, "industry": i, "sample": s} for t, i, s in info.ruled_out],
        "infeasible_families": outcome.infeasible_families,
        "prepare_samples_s": t_data, "build_s": t_build, "solve_s": outcome.solve_seconds,
        "build_and_solve_s": t_solve,
        "solver_options": outcome.options,
    }
    if outcome.status == "infeasible":
        conflict = ", ".join(outcome.infeasible_families) or _("several limits together")
        result["reason"] = _("no single plan keeps the limits in {what} (in conflict: {conflict}); "
                             "a smaller --hold lets the plan break them in a few samples").format(
            what=_("every sample") if hold >= 1 else _("{share:.0%} of the samples").format(share=hold), conflict=conflict)
    if not outcome.has_solution:
        return result
    plan = chosen_pairs(m).reindex(valid.units.index)
    summary, report = write_plan_folder(valid, plan, folder, extra={"robust": result}, command="robust")
    result["nominal_objective_yuan"] = summary["objective_yuan"]
    result["check_ok"] = report.ok
    result["nominal_violations"] = [str(v) for v in report.violations]
    return result


# --------------------------------------------------------------------------- aggregation


def _solved(sample_rows: pd.DataFrame) -> list[str]:
    return [s for s, st in zip(sample_rows["sample"], sample_rows["status"]) if st not in ("failed", "infeasible")]


def stability_table(valid: ValidInstance, folder: Path, sample_rows: pd.DataFrame,
                    plans: dict[str, pd.Series]) -> pd.DataFrame:
    """Per township: the share of solved samples whose optimum gives it each industry."""
    from optimizer.outputs import tables

    t = valid.units  # the villages of a village instance
    candidates = [i for i, ind in valid.spec.industries.items() if ind.candidate]
    solved = _solved(sample_rows)
    chosen = pd.DataFrame({s: points.plan_from_folder(folder / "samples" / s).reindex(t.index) for s in solved},
                          index=t.index)
    out = tables.unit_columns(valid)
    out["samples_solved"] = len(solved)
    counts = {i: (chosen == i).sum(axis=1).to_numpy() if solved else np.zeros(len(t)) for i in candidates}
    for i in candidates:
        out[f"share_{i}"] = counts[i] / len(solved) if solved else np.nan
    shares = out[[f"share_{i}" for i in candidates]].to_numpy(dtype=float)
    if solved:
        best = np.argmax(shares, axis=1)
        out["most_frequent_industry"] = [candidates[k] for k in best]
        out["stability"] = shares.max(axis=1)
    else:
        out["most_frequent_industry"] = ""
        out["stability"] = np.nan
    out["industries_taken"] = [int((row > 0).sum()) for row in shares]
    out["nominal_industry"] = plans["nominal"].reindex(t.index).to_numpy()
    out["nominal_share"] = [out.at[k, f"share_{ind}"] if f"share_{ind}" in out else 0.0
                            for k, ind in enumerate(out["nominal_industry"])]
    if "robust" in plans:
        out["robust_industry"] = plans["robust"].reindex(t.index).to_numpy()
        out["robust_differs_from_nominal"] = out["robust_industry"] != out["nominal_industry"]
    out["stability_class"] = pd.cut(out["stability"], [-0.01, 0.5, 0.8, 1.0 - 1e-9, 1.0],
                                    labels=list(STABILITY_CLASSES)[-2::-1]).astype(object).fillna("none")
    return out


def _load_stress(folder: Path, sample: str) -> dict[str, Any] | None:
    f = folder / "samples" / f"{sample}.stress" / "stress.json"
    return json.loads(f.read_text(encoding="utf-8")) if f.exists() else None


def stress_table(folder: Path, sample_rows: pd.DataFrame, plan_names: list[str]) -> pd.DataFrame:
    """Per plan and sample: objective, income, GEP, limits broken, regret against the sample's optimum."""
    rows = []
    for r in sample_rows.itertuples(index=False):
        data = _load_stress(folder, r.sample)
        if data is None:
            continue
        for name in plan_names:
            res = data["results"].get(name)
            if res is None:
                continue
            opt = r.optimum_objective_yuan if r.status not in ("failed", "infeasible") else math.nan
            bound = r.optimum_bound_yuan if r.status not in ("failed", "infeasible") else math.nan
            rows.append({
                "plan": name, "sample": r.sample, "sample_status": r.status,
                "objective_yuan": res["objective_yuan"], "farmer_income_yuan": res["farmer_income_yuan"],
                "gep_total_yuan": res["gep_total_yuan"],
                "limits_broken": len(res["violations"]),
                "broken": "; ".join(sorted({v["constraint"] + (f"[{v['index']}]" if v["index"] else "")
                                            for v in res["violations"]})),
                "optimum_objective_yuan": opt,
                "regret_yuan": (opt - res["objective_yuan"]) if opt == opt else math.nan,
                "regret_bound_yuan": (bound - res["objective_yuan"]) if bound == bound and bound is not None else math.nan,
            })
    return pd.DataFrame(rows, columns=["plan", "sample", "sample_status", "objective_yuan", "farmer_income_yuan",
                                       "gep_total_yuan", "limits_broken", "broken", "optimum_objective_yuan",
                                       "regret_yuan", "regret_bound_yuan"])


def summarise(stress: pd.DataFrame, plan_names: list[str], alpha: float, sample_rows: pd.DataFrame,
              valid: ValidInstance, plans: dict[str, pd.Series]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per plan: the distribution of each figure, the chance of breaking a limit, regret; and side by side."""
    from optimizer.analyses.evaluate import plan_figures

    recs = []
    for name in plan_names:
        s = stress[stress["plan"] == name]
        rec: dict[str, Any] = {"plan": name, "samples": len(s)}
        _alloc, _tot, nominal_obj = plan_figures(valid, plans[name])
        rec["objective_as_written_yuan"] = nominal_obj
        for key, _words in FIGURES:
            for stat, v in distribution_stats(s[key].to_numpy(), alpha).items():
                rec[f"{key}_{stat}"] = v
        rec["probability_any_limit_broken"] = float((s["limits_broken"] > 0).mean()) if len(s) else math.nan
        reg = s["regret_yuan"].dropna()
        rec["regret_mean_yuan"] = float(reg.mean()) if len(reg) else math.nan
        rec["regret_max_yuan"] = float(reg.max()) if len(reg) else math.nan
        rec["regret_samples"] = len(reg)
        recs.append(rec)
    table = pd.DataFrame(recs)
    rows = [("objective_as_written_yuan", _("objective at the instance's own figures"), "yuan/yr")]
    for key, words in FIGURES:
        for stat, label in (("mean", _("mean")), ("p5", _("5th percentile")), ("worst", _("worst sample")),
                            ("cvar", _("CVaR {a:g} (mean of the worst {p:.0%})").format(a=alpha, p=alpha))):
            rows.append((f"{key}_{stat}", _("{figure}: {statistic}").format(figure=_(words), statistic=label), "yuan/yr"))
    rows += [("probability_any_limit_broken", _("probability that a limit is broken"), "share"),
             ("regret_mean_yuan", _("regret against each sample's optimum: mean"), "yuan/yr"),
             ("regret_max_yuan", _("regret against each sample's optimum: largest"), "yuan/yr")]
    comp = pd.DataFrame({"figure": [r[0] for r in rows], "description": [r[1] for r in rows],
                         "unit": [r[2] for r in rows]})
    for rec in recs:
        comp[rec["plan"]] = [rec.get(r[0], math.nan) for r in rows]
    if "robust" in comp and "nominal" in comp:
        comp["robust_minus_nominal"] = comp["robust"] - comp["nominal"]
    return table, comp


def limit_risk_table(folder: Path, sample_rows: pd.DataFrame, plan_names: list[str]) -> pd.DataFrame:
    """Per plan and limit: the share of samples in which it is broken, and by how much."""
    n = 0
    found: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for sample in sample_rows["sample"]:
        data = _load_stress(folder, sample)
        if data is None:
            continue
        n += 1
        for name in plan_names:
            for v in data["results"].get(name, {}).get("violations", []):
                found.setdefault((name, v["constraint"], v["index"]), []).append({**v, "sample": sample})
    rows = []
    for (name, constraint, index), vs in found.items():
        ex = [v["excess"] for v in vs if v["excess"] is not None]
        worst = max(vs, key=lambda v: v["excess"] if v["excess"] is not None else -math.inf)
        rows.append({"plan": name, "constraint": constraint, "index": index, "probability": len(vs) / n if n else math.nan,
                     "samples_broken": len(vs), "unit": vs[0]["unit"],
                     "mean_excess": float(np.mean(ex)) if ex else math.nan, "worst_excess": max(ex) if ex else math.nan,
                     "worst_sample": worst["sample"], "worst_message": worst["message"]})
    cols = ["plan", "constraint", "index", "probability", "samples_broken", "unit", "mean_excess", "worst_excess",
            "worst_sample", "worst_message"]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["plan", "probability", "worst_excess"], ascending=[True, False, False], kind="stable"
                           ).reset_index(drop=True)


def differing_table(valid: ValidInstance, plans: dict[str, pd.Series], stability: pd.DataFrame) -> pd.DataFrame:
    """Planning units (townships, or villages) where the robust plan differs from the nominal one,
    with how often each wins a sample."""
    key = valid.unit_key
    if "robust" not in plans:
        return pd.DataFrame(columns=[key, "name", "county", "nominal_industry", "robust_industry"])
    s = stability.set_index(key)
    nom, rob = plans["nominal"], plans["robust"]
    units = valid.units
    ids = [t for t in units.index if nom[t] != rob[t]]
    return pd.DataFrame({
        key: ids,
        "name": [s.at[t, "name"] for t in ids],
        "county": [s.at[t, "county"] for t in ids],
        "nominal_industry": [nom[t] for t in ids],
        "robust_industry": [rob[t] for t in ids],
        "share_nominal_industry": [s.at[t, f"share_{nom[t]}"] if f"share_{nom[t]}" in s else 0.0 for t in ids],
        "share_robust_industry": [s.at[t, f"share_{rob[t]}"] if f"share_{rob[t]}" in s else 0.0 for t in ids],
        "area_ha": [float(units.at[t, "plannable_area_ha"]) for t in ids],
    })


def stability_styles(valid: ValidInstance, lang: str | None = None) -> dict[str, Any]:
    """QGIS styles of stability.gpkg: `stability` coloured by the most frequent industry,
    `how_stable` (the same townships) by `stability_class`, unsettled ones outlined."""
    from optimizer.outputs.labels import bilingual
    from optimizer.outputs.style import INDUSTRY_COLOURS, Categorized

    names = {i: bilingual(ind.label_zh or "", ind.label, lang) for i, ind in valid.spec.industries.items()}
    return {
        "stability": Categorized("most_frequent_industry", labels=names, colours=INDUSTRY_COLOURS,
                                 name="most_frequent_industry",
                                 description=bilingual("按样本最优方案中最常见的产业着色",
                                                       "coloured by the most frequent industry of the samples' optima", lang)),
        "how_stable": Categorized("stability_class",
                                  labels={k: bilingual(zh, en, lang) for k, (zh, en, _c) in STABILITY_CLASSES.items()},
                                  colours={k: c for k, (_zh, _en, c) in STABILITY_CLASSES.items()},
                                  emphasis={"leaning", "contested"}, name="stability_class",
                                  description=bilingual("按稳定程度着色", "coloured by how stable the township's industry is", lang)),
    }


def write_outputs(folder: Path, valid: ValidInstance, loaded: Any, spec: RobustSpec, samples: Samples,
                  sample_rows: pd.DataFrame, stability: pd.DataFrame, stress: pd.DataFrame,
                  stress_summary: pd.DataFrame, limit_risk: pd.DataFrame, comparison: pd.DataFrame,
                  differing: pd.DataFrame, summary: dict[str, Any]) -> None:
    """The tables as CSV and GeoPackage, summary.json, and manifest.json last."""
    from optimizer.analyses.uncertainty import describe
    from optimizer.outputs.gpkg import township_layer, write_layers
    from optimizer.outputs.write import sha256, versions, write_csv, write_json

    write_csv(folder / "sample_results.csv", sample_rows)
    write_csv(folder / "stability.csv", stability)
    write_csv(folder / "stress.csv", stress)
    write_csv(folder / "stress_summary.csv", stress_summary)
    write_csv(folder / "limit_risk.csv", limit_risk)
    write_csv(folder / "comparison.csv", comparison)
    write_csv(folder / "differing_townships.csv", differing)
    gpkg = folder / "stability.gpkg"
    gpkg.unlink(missing_ok=True)
    tables_out = {"comparison": comparison, "stress_summary": stress_summary, "limit_risk": limit_risk,
                  "differing_townships": differing}
    geometry, crs = valid.unit_geometry  # the village polygons of a village instance
    layer = township_layer(stability, geometry, crs, id_column=valid.unit_key)
    write_layers(gpkg, {"stability": layer, "how_stable": layer},
                 {k: v for k, v in tables_out.items() if len(v.columns)},
                 styles=stability_styles(valid) if geometry is not None else {})
    write_json(folder / "summary.json", summary)
    unc = loaded.spec.uncertainty
    manifest = {
        "tool": "karst-layout-optimizer",
        "command": "robust",
        "versions": versions(),
        "instance_file": str(loaded.path.resolve()),
        "inputs": {str(p): sha256(p) for p in loaded.input_files},
        "scenarios": list(loaded.scenarios),
        "set": list(spec.sets),
        "spec": asdict(spec),
        "sampling": {
            "method": "Gaussian copula: numpy PCG64 standard normals (seed), correlated by a square root of the "
                      "correlation matrix, mapped through each distribution's inverse CDF",
            "samples": samples.count, "seed": samples.seed, "numpy": np.__version__,
            "parameters": describe(unc) if unc is not None else [],
            "correlations": [c.model_dump() for c in unc.correlations] if unc is not None else [],
            "samples_csv_sha256": sha256(folder / "samples.csv"),
        },
        "outputs": {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"},
    }
    write_json(folder / "manifest.json", manifest)
