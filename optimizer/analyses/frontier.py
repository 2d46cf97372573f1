"""The exact frontier between farmers' income and GEP: `optimizer frontier INSTANCE`.

Why: karst planning is framed as two goals that must rise together (rocky
desertification ↔ poverty). A weighted sum gives one plan; a planner or an adviser asks
how much income each extra 100 million yuan of GEP costs, and where the plan is that
gives up little of either. This module answers with the ε-constraint method, exact for
a one-industry-per-township plan up to the MILP gap that every point reports:

1. Payoff table, by lexicographic solves: maximise income, then GEP keeping that income;
   maximise GEP, then income keeping that GEP. Their incomes span the frontier.
2. `points` − 2 interior points: ε_k evenly between the two ends; maximise GEP subject
   to income ≥ ε_k, with AUGMECON2's bonus on the income above ε so that of two plans
   with the same GEP the one paying farmers more is reported (model/tradeoffs.py).
3. Every point is a full MILP with status, plan value, bound and gap, written as a plan
   folder and checked by the independent checker. Points whose plans repeat or are
   dominated are marked, not hidden. The band between each point's plan and the best
   bound known for it is where the exact frontier lies; it is zero where gaps are zero.
4. The knee (docs/trade-offs.md): the point farthest above the straight line joining the
   two ends, both axes scaled by the payoff table's ranges. The instance's own weighted
   optimum is solved too and located against the frontier.

Which solver: as `solve --method auto` chooses (`frontier_method`). Decomposed, every
stage and point runs in this process, each warm from the previous point's decomposition
state (analyses/frontier_decomposed.py; at 1,000 townships and gap 10⁻² 11 points took
1.0–1.9 × one solve, against 5–8 × on HiGHS). On HiGHS, points run on the Dask machinery of `sweep`
(analyses/parallel.py); how neighbouring points reuse work there (model kept per worker,
MIP starts from the payoff table or the previous point) was measured
(docs/performance.md); `FrontierSpec` keeps the choices so that the benchmark can
compare them.

The frontier folder `results/<instance>/frontier-<id>.partial/` collects finished points
as they come (each written atomically); the final files are written last and the folder
is renamed to `frontier-<id>/` in one step, like a run folder. An interrupted frontier
keeps its points and is finished with `resume`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analyses import tradeoff_points as P
from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.i18n import N_, _, language

log = logging.getLogger(__name__)

COMMAND_LINE = Location(Path("command line"))
GEP_CATEGORIES = ("material", "regulating", "cultural")
#: AUGMECON2's augmentation: GEP credited per unit of income above ε, as a share of the
#: ratio of the payoff ranges. Small enough not to trade GEP for income (docs/trade-offs.md).
AUGMENTATION = 1e-5
#: Two payoff ends closer than this (relative) mean income and GEP do not conflict.
NO_CONFLICT_TOL = 1e-6

PAYOFF_STAGES = ("income_max", "income_max_then_gep", "gep_max", "gep_max_then_income")


class FrontierInfeasible(Exception):
    """No plan meets the instance's limits: there is no frontier."""

    def __init__(self, families: list[str]) -> None:
        super().__init__(", ".join(families))
        self.families = families


def gep_categories(choice: str | None, double_count: str) -> tuple[str, ...]:
    """`objective` (default): what the weighted objective counts; `total`; or a category list."""
    from optimizer.model.tradeoffs import objective_gep_categories

    text = (choice or "objective").strip()
    if text == "objective":
        return objective_gep_categories(double_count)
    if text == "total":
        return GEP_CATEGORIES
    names = [c.strip() for c in text.split(",") if c.strip()]
    problems = []
    for name in names:
        if name not in GEP_CATEGORIES:
            hint = did_you_mean(name, [*GEP_CATEGORIES, "objective", "total"])
            problems.append(Problem(COMMAND_LINE, _("--gep: unknown GEP category '{name}'").format(name=name),
                                    hint or _("give objective, total, or categories from material, regulating, "
                                              "cultural"), path="--gep"))  # fmt: skip
    if not names:
        problems.append(Problem(COMMAND_LINE, _("--gep names no category"), _("e.g. --gep regulating,cultural"),
                                path="--gep"))
    if problems:
        raise InputError(problems)
    return tuple(c for c in GEP_CATEGORIES if c in names)


@dataclass
class FrontierSpec:
    """What a frontier computes; saved as frontier.json so that `resume` repeats it exactly."""

    instance: str
    scenarios: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    gep: str = "objective"
    points: int = 11
    options: dict[str, Any] = field(default_factory=dict)  # SolveOptions fields
    weighted: bool = True  # also solve the instance's weighted optimum, to place it on the curve
    # How points reuse work (docs/performance.md measured each):
    # How neighbouring points reuse work. The defaults are what paid on the benchmark
    # (docs/performance.md, "Frontier"); the others are kept so that it can be measured again.
    reuse_model: bool = True  # keep the built model in each worker between points
    # MIP start of an ε-point: none | payoff (the max-income plan, feasible at every ε) |
    # previous (the previous point of the chain; a chain's first point starts from the payoff plan)
    start: str = "previous"
    # ε-points solved in order in one worker. Chains depend on the number of points only, not
    # on the workers, so a frontier gives the same plans on one worker or many.
    chain_length: int = 12
    # Order within a chain: "down" from the income end (the previous plan stays feasible: a
    # MIP start), or "up" from the GEP end (AUGMECON2's bypass: a plan whose income already
    # reaches the next ε is optimal there too; and the previous bound is a valid cut).
    direction: str = "down"
    bound_cut: bool = False  # with direction "up": GEP ≤ the previous point's bound (measured: does not pay)
    augmentation: float = AUGMENTATION
    # Decomposed frontier (analyses/frontier_decomposed.py): what each point takes from the
    # previous one: "plan" (its plan, an incumbent at once: the default, what paid),
    # "state" (its whole DecompositionState: multipliers, county plans, plan) or "none".
    warm_state: str = "plan"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrontierSpec:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def check_spec(spec: FrontierSpec) -> None:
    """Refuse bad options before anything is solved."""
    problems = []
    if spec.points < 2:
        problems.append(Problem(COMMAND_LINE, _("--points {n}: a frontier needs at least 2 points (its two ends)").format(
            n=spec.points), _("the default is 11"), path="--points"))
    if spec.start not in ("none", "payoff", "previous"):
        problems.append(Problem(COMMAND_LINE, f"unknown start '{spec.start}'", path="start"))
    if spec.direction not in ("down", "up"):
        problems.append(Problem(COMMAND_LINE, f"unknown direction '{spec.direction}'", path="direction"))
    if spec.warm_state not in ("plan", "state", "none"):
        problems.append(Problem(COMMAND_LINE, f"unknown warm_state '{spec.warm_state}'", path="warm_state"))
    if spec.chain_length < 1:
        problems.append(Problem(COMMAND_LINE, "chain length must be at least 1", path="chain_length"))
    if problems:
        raise InputError(problems)


def new_frontier_dir(results_root: Path, instance_name: str) -> Path:
    """The working folder of a new frontier (renamed without `.partial` when complete)."""
    return results_root / instance_name / f"frontier-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.partial"


def final_dir(folder: Path) -> Path:
    return folder.with_name(folder.name.removesuffix(".partial"))


# --------------------------------------------------------------------------- one point (on a worker)


def solve_task(spec_dict: dict[str, Any], folder: str, task: dict[str, Any],
               previous: dict[str, Any] | None = None, ends: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Solve one stage or ε-point, write and check its plan; never raises.

    Runs on a Dask worker (or in this process). `previous` is the row of the point solved
    before it in its chain (its plan is a MIP start when the spec asks for one); a task
    needing a stage-one value gets it from `previous` too. A failure becomes a row with
    status `failed`, recorded in `<group>/<id>.json`.
    """
    from optimizer.model.build import FAMILIES, chosen_pairs, round_choices
    from optimizer.model.report import constraint_report
    from optimizer.model.tradeoffs import set_epsilon, set_known_bound, set_stage_one, use_stage
    from optimizer.solve import SolveOptions, solve

    from optimizer.i18n import set_language

    set_language(task.get("lang"))
    spec = FrontierSpec.from_dict(spec_dict)
    root = Path(folder)
    group, pid = task["group"], task["id"]
    row: dict[str, Any] = {"point": pid, "stage": task["stage"], "worker_pid": os.getpid(), "method": "direct"}
    gap = float(spec.options.get("gap") or 0.0)
    if task["stage"] == "epsilon":
        conflict, grid, bonus = frontier_grid(spec, *ends)
        if not conflict:
            return {**row, "status": "skipped", "error": "income and GEP do not conflict"}
        task = {**task, "epsilon_yuan": grid[task["k"]], "bonus": bonus, "start_plan": ends[0].get("plan")}
        row["epsilon_yuan"] = task["epsilon_yuan"]
    done = P.recorded(root, group, pid)
    if done is not None and done.get("status") not in ("failed", "time_limit_no_solution", "interrupted_no_solution"):
        return done
    marker = root / group / f"{pid}.running"
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(datetime.now().isoformat(), encoding="utf-8")
        categories = tuple(task["categories"])
        b = P.built_model(spec.instance, spec.scenarios, spec.sets, categories, reuse=spec.reuse_model)
        m = b.model
        use_stage(m, task["stage"])
        start_plan: dict[str, str] | None = None
        source = "none"
        prev_ok = previous is not None and bool(previous.get("plan")) and previous.get("status") in P.WITH_PLAN
        if task["stage"] in ("income_max_then_gep", "gep_max_then_income"):
            if not prev_ok:  # the end falls back to nothing; recorded, not dropped
                raise RuntimeError(_("the first stage ended {status} without a plan").format(
                    status=(previous or {}).get("status")))
            if task["stage"] == "income_max_then_gep":
                set_stage_one(m, income_yuan=_below(previous["farmer_income_yuan"], previous.get("bound_yuan"), gap))
            else:
                set_stage_one(m, gep_yuan=_below(previous["gep_yuan"], previous.get("bound_yuan"), gap))
            start_plan, source = previous["plan"], "stage one"
        elif task["stage"] == "epsilon":
            eps = task["epsilon_yuan"]
            if spec.direction == "up" and prev_ok and previous["farmer_income_yuan"] >= eps:
                return _bypass(spec, root, task, previous, b, row, t_start, cpu_start)
            set_epsilon(m, eps, task["bonus"])
            if spec.start == "previous" and spec.direction == "down" and prev_ok:
                start_plan, source = previous["plan"], "previous"
            elif spec.start in ("payoff", "previous") and task.get("start_plan"):
                start_plan, source = task["start_plan"], "payoff"
            if spec.bound_cut and spec.direction == "up" and prev_ok and previous.get("bound_yuan") is not None:
                set_known_bound(m, previous["bound_yuan"] * (1 + 1e-9))
                m.gep_at_most_known_bound.activate()
        start = P.plan_start(m, start_plan) if start_plan else None
        options = SolveOptions(**spec.options)
        c_solve = time.process_time()
        outcome = solve(m, options, start=start)
        row["solve_cpu_s"] = time.process_time() - c_solve
        row.update(status=outcome.status, termination=outcome.termination, solve_s=outcome.solve_seconds,
                   transfer_s=outcome.transfer_seconds, build_s=b.build_seconds if not spec.reuse_model else None,
                   mip_nodes=outcome.mip_nodes, started_from=source if start else "none")  # fmt: skip
        if outcome.status not in P.WITH_PLAN:
            row["error"] = ("limits in conflict: " + ", ".join(outcome.infeasible_families)
                            if outcome.status == "infeasible" else f"no plan: {outcome.termination}")  # fmt: skip
            row["infeasible_families"] = outcome.infeasible_families
            row["wall_s"] = time.perf_counter() - t_start
            row["cpu_s"] = time.process_time() - cpu_start
            P.record_failure(root, group, pid, row, None)
            return row
        plan = chosen_pairs(m)
        round_choices(m)
        row["bound_yuan"] = outcome.bound
        row["solver_objective_yuan"] = outcome.objective
        return _write_and_check(spec, root, task, b, plan, row, outcome.to_dict(),
                                constraint_report(m, FAMILIES), t_start, cpu_start)
    except Exception as exc:  # recorded, and the frontier goes on
        return P.failed_point(root, group, pid, row, exc, t_start, cpu_start)
    finally:
        marker.unlink(missing_ok=True)


def _write_and_check(spec: FrontierSpec, root: Path, task: dict[str, Any], b: Any, plan: pd.Series,
                     row: dict[str, Any], solver: dict[str, Any], constraints: list[dict[str, Any]],
                     t_start: float, cpu_start: float) -> dict[str, Any]:
    """Figures, gap on the stage's target, point folder, independent check; the finished row."""
    group, pid = task["group"], task["id"]
    categories = tuple(task["categories"])
    alloc, fig = P.plan_row_figures(b.valid, plan, categories)
    row.update({k: v for k, v in fig.items() if k != "totals"})
    target = _TARGET[task["stage"]]
    value = row[target]
    # The bound HiGHS proves is on the stage's objective; for the ε-stage that objective is
    # GEP + bonus·slack ≥ GEP, so it bounds GEP too (a little loosely).
    row["target"] = target
    bound = row.get("bound_yuan")
    row["gap"] = None if bound is None else max(0.0, bound - value) / max(abs(value), 1.0)
    spec_obj = b.valid.spec.objective
    summary = {
        "instance": b.valid.spec.name, "run_id": pid, "kind": "frontier point", "stage": task["stage"],
        "status": row["status"], "termination": row.get("termination"), "has_solution": True,
        # objective_yuan is docs/model.md's weighted Z of this plan (what `solve` reports), so
        # that `optimizer compare` and `check` read a point like a run; it was not maximised here.
        "objective_yuan": fig["weighted_objective_yuan"], "bound_yuan": None, "gap": None,
        "double_count": spec_obj.double_count, "weights": {"gep": spec_obj.gep_weight, "income": spec_obj.income_weight},
        "totals": fig["totals"], "constraints": constraints, "scenarios": list(spec.scenarios),
        "overrides_applied": [a.to_dict() for a in b.valid.loaded.applied_overrides], "solver": solver,
    }  # fmt: skip
    c_write = time.process_time()
    point_dir = P.write_point(root, group, pid, b.valid, alloc, {**summary, "point": _public(row)})
    c_check = time.process_time()
    row["write_cpu_s"] = c_check - c_write
    ok, messages, report = P.check_point(root / "instance.resolved.yaml", point_dir, fig, categories)
    row["check_cpu_s"] = time.process_time() - c_check
    row["check_ok"] = ok
    row["check_messages"] = messages[:20]
    (point_dir / "check.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str),
                                          encoding="utf-8")  # fmt: skip
    row["wall_s"] = time.perf_counter() - t_start
    row["cpu_s"] = time.process_time() - cpu_start
    summary["point"] = _public(row)
    summary["check_ok"] = ok
    (point_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=_json),
                                            encoding="utf-8")  # fmt: skip
    (root / group / f"{pid}.json").unlink(missing_ok=True)
    row["plan"] = dict(zip(plan.index, plan.to_numpy()))
    return row


def _bypass(spec: FrontierSpec, root: Path, task: dict[str, Any], previous: dict[str, Any], b: Any,
            row: dict[str, Any], t_start: float, cpu_start: float) -> dict[str, Any]:
    """AUGMECON2's bypass: the previous (smaller-ε) plan already earns ≥ ε, so it is optimal here.

    Raising ε only removes plans; the previous plan survives, so it stays optimal and the
    previous bound stays valid. No MILP is needed; the point is still written and checked.
    """
    row.update(status=previous["status"], termination=previous.get("termination"),
               bound_yuan=previous.get("bound_yuan"), solved_by=previous.get("solved_by") or previous["point"],
               started_from="bypass", solve_s=0.0, mip_nodes=0)  # fmt: skip
    plan = pd.Series(previous["plan"])
    return _write_and_check(spec, root, task, b, plan, row, {"bypassed_from": row["solved_by"]}, [],
                            t_start, cpu_start)


#: The figure each stage maximises (its gap is measured on it).
_TARGET = {
    "weighted": "weighted_objective_yuan",
    "income_max": "farmer_income_yuan",
    "income_max_then_gep": "gep_yuan",
    "gep_max": "gep_yuan",
    "gep_max_then_income": "farmer_income_yuan",
    "epsilon": "gep_yuan",
}


def _below(value: float, bound: float | None, gap: float) -> float:
    """A stage-one value as the second stage's floor: within the gap of stage one's *bound*.

    Stage one is only known within the gap, so holding stage two to its exact incumbent
    asks for more than is known (measured: HiGHS found no better plan in 60 s at 1,000
    townships). Holding it to (1 − gap) × stage one's bound keeps the stage-one plan
    feasible (it is within the gap of that bound) and keeps the end's own gap within the
    gap, as hierarchical objectives do in commercial solvers. At --gap 0 the stages are
    exactly lexicographic. A hair lower, so rounding never cuts off the stage-one plan.
    """
    floor = value if bound is None else min(value, bound * (1.0 - gap) if bound >= 0 else bound * (1.0 + gap))
    if bound is None:
        floor = value * (1.0 - gap) if value >= 0 else value * (1.0 + gap)
    return floor - 1e-7 * max(1.0, abs(value))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "plan"}


def _json(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return str(obj)


# --------------------------------------------------------------------------- the frontier (in the parent)


@dataclass
class Frontier:
    """What `optimizer frontier` found: the payoff table, the points, the knee, the weighted optimum."""

    folder: Path
    spec: FrontierSpec
    categories: tuple[str, ...]
    payoff: pd.DataFrame
    table: pd.DataFrame  # one row per frontier point, in order of income
    weighted: dict[str, Any] | None
    knee: str | None
    conflict: bool
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "failed"]


#: Progress events: (point id, state, row or None); state is queued | solving | done.
Progress = Callable[[str, str, dict[str, Any] | None], None]


def point_ids(n: int) -> list[str]:
    width = max(2, len(str(n - 1)))
    return [f"p{k:0{width}d}" for k in range(n)]


def run_frontier(
    spec: FrontierSpec,
    folder: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Progress | None = None,
) -> Frontier:
    """Compute (or resume) a frontier in `folder`; return it, written and renamed without `.partial`.

    Raises InputError for bad input or options and FrontierInfeasible when no plan meets
    the limits. A point that fails or stops without a plan is recorded and reported; the
    others go on.
    """
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.run import write_resolved_instance

    check_spec(spec)
    note = progress or (lambda pid, state, row: None)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    loaded = load_instance(Path(spec.instance), scenarios=spec.scenarios, sets=spec.sets)
    valid = validate(loaded)
    if valid.conflicts:  # validation proved that no plan meets the limits
        from optimizer.errors import InfeasibleInstance

        raise InfeasibleInstance(list(valid.conflicts))
    categories = gep_categories(spec.gep, loaded.spec.objective.double_count)
    folder.mkdir(parents=True, exist_ok=True)
    meta_file = folder / "frontier.json"
    meta: dict[str, Any] = (json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists()
                            else {"spec": asdict(spec), "created": datetime.now().isoformat()})  # fmt: skip
    meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    if not (folder / "instance.resolved.yaml").exists():
        write_resolved_instance(folder / "instance.resolved.yaml", loaded)
    timings["prepare"] = time.perf_counter() - t0
    spec_dict = asdict(spec)
    ids = point_ids(spec.points)
    for pid in ids:
        note(pid, "queued", None)
    base = {"categories": list(categories), "lang": language()}
    payoff_tasks = [dict(base, group="payoff", id=stage, stage=stage) for stage in PAYOFF_STAGES]
    if spec.weighted:
        payoff_tasks.append(dict(base, group="payoff", id="weighted", stage="weighted"))
    method, why = frontier_method(spec, loaded, valid)
    meta["method"], meta["method_reason"] = method, why
    meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    log.info("frontier method: %s (%s)", method, why)
    if method == "decompose":
        from optimizer.analyses.frontier_decomposed import Shared, solve_all
        from optimizer.solve.decompose import CountyInfeasible, Unsplittable

        t1 = time.perf_counter()
        tasks = {t["id"]: t for t in payoff_tasks}
        try:
            done = solve_all(spec, folder, categories, payoff_tasks, ids, base, _payoff_progress(note, ids),
                             Shared(frontier_grid, _below, _write_and_check), warm=spec.warm_state)
        except (Unsplittable, CountyInfeasible) as exc:  # as solve does: HiGHS on the whole model
            log.info("decomposition not usable (%s): HiGHS on the whole model for every point", exc)
            method = "direct"
            meta["method"], meta["method_reason"] = method, f"{why}; then HiGHS, because {exc}"
            meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        timings["solve"] = time.perf_counter() - t1
    if method != "decompose":
        done, tasks = _solve_on_pool(spec, spec_dict, folder, payoff_tasks, ids, base, note, timings,
                                     scheduler, workers, serial)
    payoff_rows = {stage: done[stage] for stage in tasks if tasks[stage]["group"] == "payoff"}
    for stage in ("income_max", "gep_max"):
        r = payoff_rows[stage]
        if r["status"] == "infeasible":
            raise FrontierInfeasible(r.get("infeasible_families") or [])
    conflict, grid, _bonus = frontier_grid(spec, payoff_rows["income_max"], payoff_rows["gep_max_then_income"])
    meta["grid"], meta["conflict"] = grid, conflict
    meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    end_rows = _ends(payoff_rows, ids, spec.options.get("gap", 0.0))
    rows = {**{pid: done[pid] for pid in ids[1:-1] if pid in done}, **end_rows}
    t3 = time.perf_counter()
    frontier = _assemble(folder, spec, valid, categories, payoff_rows, rows, ids, grid, conflict)
    frontier.timings = {**timings, "assemble": 0.0}
    write_frontier(frontier, valid, loaded)
    frontier.timings["assemble"] = time.perf_counter() - t3
    frontier.timings["total"] = time.perf_counter() - t0
    _finish(frontier, loaded)
    return frontier


def frontier_method(spec: FrontierSpec, loaded: Any, valid: Any) -> tuple[str, str]:
    """Decomposition or HiGHS on the whole model for every point, chosen as `solve` chooses (solve/method.py).

    `options["method"]` (`--method`) is respected; `auto` decomposes where `solve` would.
    Village instances go to HiGHS: the decomposition covers township instances only."""
    from optimizer.solve.method import choose_method
    from optimizer.solve.options import SolveOptions

    options = SolveOptions(**spec.options)
    if valid.villages is not None:
        return "direct", "village instance: HiGHS on the whole model"
    if valid.townships["county"].nunique() < 2:  # even when asked: one county block has nothing to price
        return "direct", "one county: nothing to decompose"
    return choose_method(options, loaded.spec, valid.townships)


def _solve_on_pool(spec: FrontierSpec, spec_dict: dict[str, Any], folder: Path, payoff_tasks: list[dict[str, Any]],
                   ids: list[str], base: dict[str, Any], note: Progress, timings: dict[str, float],
                   scheduler: str | None, workers: int | None, serial: bool
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Every stage and ε-point as HiGHS MILPs on the Dask machinery of `sweep` (chains of points)."""
    from optimizer.analyses.parallel import pool

    with pool(scheduler, workers, serial, tasks=max(2, spec.points - 2)) as ex:
        # One graph: the payoff stages, the weighted optimum, and the ε-points, which need only
        # the income of the max-income plan and of the GEP end, not the income end's second stage.
        t1 = time.perf_counter()
        fut: dict[str, Any] = {}
        fut["income_max"] = ex.submit(solve_task, spec_dict, str(folder), payoff_tasks[0])
        fut["income_max_then_gep"] = ex.submit(solve_task, spec_dict, str(folder), payoff_tasks[1], fut["income_max"])
        fut["gep_max"] = ex.submit(solve_task, spec_dict, str(folder), payoff_tasks[2])
        fut["gep_max_then_income"] = ex.submit(solve_task, spec_dict, str(folder), payoff_tasks[3], fut["gep_max"])
        ends = [fut["income_max"], fut["gep_max_then_income"]]
        tasks = {t["id"]: t for t in payoff_tasks}
        interior = list(range(1, spec.points - 1))
        chains = [interior[i:i + spec.chain_length] for i in range(0, len(interior), spec.chain_length)]
        for chain in chains:
            prev = None
            for k in (reversed(chain) if spec.direction == "down" else chain):
                task = dict(base, group="points", id=ids[k], stage="epsilon", k=k, points=spec.points)
                prev = ex.submit(solve_task, spec_dict, str(folder), task, prev, ends)
                fut[ids[k]] = prev
                tasks[ids[k]] = task
        if spec.weighted:  # last: the frontier's own points come first when workers are scarce
            fut["weighted"] = ex.submit(solve_task, spec_dict, str(folder), payoff_tasks[4])
        done = _collect(ex, folder, fut, tasks, _payoff_progress(note, ids))
        timings["solve"] = time.perf_counter() - t1
    return done, tasks


def _payoff_progress(note: Progress, ids: list[str]) -> Progress:
    """Progress of the payoff stages shown on the frontier's two ends (and the weighted optimum)."""
    shown = {"income_max": ids[-1], "income_max_then_gep": ids[-1], "gep_max": ids[0],
             "gep_max_then_income": ids[0]}  # fmt: skip
    last = {"income_max_then_gep", "gep_max_then_income"}

    def wrapped(tid: str, state: str, row: dict[str, Any] | None) -> None:
        if tid not in shown:
            note(tid, state, row)
        elif state == "done" and tid not in last:
            note(shown[tid], "solving", None)
        else:
            note(shown[tid], state, row)

    return wrapped


def _collect(ex: Any, folder: Path, futures: dict[str, Any], tasks: dict[str, dict[str, Any]],
             note: Progress) -> dict[str, dict[str, Any]]:
    """Rows of finished tasks as they come; a lost worker is a failed point, never a missing one."""
    out: dict[str, dict[str, Any]] = {}
    if ex.client is None:
        for tid, f in futures.items():
            note(tid, "solving", None)
            out[tid] = f.result()
            note(tid, "done", out[tid])
        return out
    pending = {f: tid for tid, f in futures.items()}
    running: set[str] = set()
    while pending:
        finished = [f for f in pending if f.done()]
        if not finished:
            time.sleep(0.2)
        for f in finished:
            tid = pending.pop(f)
            try:
                out[tid] = f.result()
            except Exception as exc:  # the worker died
                out[tid] = {"point": tid, "stage": tasks[tid]["stage"], "status": "failed",
                            "error": f"worker lost: {exc}"}  # fmt: skip
                P.record_failure(folder, tasks[tid]["group"], tid, out[tid], None)
            note(tid, "done", out[tid])
        for tid in pending.values():  # a task announces itself with a marker file when it starts
            if tid not in running and (folder / tasks[tid]["group"] / f"{tid}.running").exists():
                running.add(tid)
                note(tid, "solving", None)
    return out


def frontier_grid(spec: FrontierSpec, income_max: dict[str, Any], gep_end: dict[str, Any]
                  ) -> tuple[bool, list[float], float]:
    """(conflict, ε_0 … ε_{N−1}, AUGMECON2 bonus) from the max-income plan and the GEP end.

    ε runs evenly from the GEP end's income to the best income found. No conflict when the
    two plans are (numerically) equal in income or in GEP: then the max-income plan also has
    the most GEP, and the frontier is one point. The bonus credits, per 亿元 of income above ε,
    `augmentation` × range(GEP)/range(income) 万元 of GEP (model units).
    """
    from optimizer.model.data import MONEY_UNIT_YUAN
    from optimizer.model.tradeoffs import EPSILON_UNIT_YUAN

    if any(r.get("status") not in P.WITH_PLAN for r in (income_max, gep_end)):
        return False, [], 0.0
    lo, hi = gep_end["farmer_income_yuan"], income_max["farmer_income_yuan"]
    g_hi, g_lo = gep_end["gep_yuan"], income_max["gep_yuan"]
    conflict = hi - lo > NO_CONFLICT_TOL * max(1.0, abs(hi)) and g_hi - g_lo > NO_CONFLICT_TOL * max(1.0, abs(g_hi))
    if not conflict:
        return False, [], 0.0
    grid = [lo + k / (spec.points - 1) * (hi - lo) for k in range(spec.points)]
    bonus = spec.augmentation * ((g_hi - g_lo) / MONEY_UNIT_YUAN) / ((hi - lo) / EPSILON_UNIT_YUAN)
    return True, grid, bonus


def _ends(payoff: dict[str, dict[str, Any]], ids: list[str], gap: float) -> dict[str, dict[str, Any]]:
    """The frontier's two ends from the lexicographic stages, with their bounds.

    The GEP end's GEP bound is the first stage's (max GEP), its income that of the second
    stage's plan; the income end's GEP is what the second stage kept at maximal income
    (within the gap). A second stage that failed falls back to its first stage's plan,
    flagged. An end's ε is the income floor its plan was held to.
    """
    def end(first: str, second: str, pid: str, kind: str) -> dict[str, Any]:
        a, b = payoff[first], payoff[second]
        src = b if b.get("status") in P.WITH_PLAN else a
        row = {**src, "point": pid, "stage": kind, "source": src.get("stage")}
        if kind == "gep_end":  # GEP bound: stage one's; income bound: stage two's
            row["gep_bound_yuan"] = a.get("bound_yuan") if a.get("status") in P.WITH_PLAN else None
            row["income_bound_yuan"] = b.get("bound_yuan") if src is b else None
        else:  # income bound: stage one's; GEP bound: stage two's
            row["income_bound_yuan"] = a.get("bound_yuan") if a.get("status") in P.WITH_PLAN else None
            row["gep_bound_yuan"] = b.get("bound_yuan") if src is b else None
        gb, g = row.get("gep_bound_yuan"), row.get("gep_yuan")
        row["gap"] = None if gb is None or g is None else max(0.0, gb - g) / max(abs(g), 1.0)
        if src is a:
            row["note"] = _("{second} ended {status}; the end is {first}'s plan").format(
                second=second, status=b.get("status"), first=first)
        return row

    lo = end("gep_max", "gep_max_then_income", ids[0], "gep_end")
    hi = end("income_max", "income_max_then_gep", ids[-1], "income_end")
    lo["epsilon_yuan"] = lo.get("farmer_income_yuan")
    top = payoff["income_max"].get("farmer_income_yuan")
    # The income end keeps the best income found, or (second stage within the gap) a little less.
    hi["epsilon_yuan"] = None if top is None else min(top, hi.get("farmer_income_yuan") or top)
    return {ids[0]: lo, ids[-1]: hi}


# --------------------------------------------------------------------------- assembling the frontier


def _assemble(folder: Path, spec: FrontierSpec, valid: Any, categories: tuple[str, ...],
              payoff: dict[str, dict[str, Any]], rows: dict[str, dict[str, Any]], ids: list[str],
              grid: list[float], conflict: bool) -> Frontier:
    notes: list[str] = []
    if not conflict:
        ids = [ids[-1]]
        notes.append(_("income and GEP do not conflict here: the plan with the highest income also has the "
                       "highest GEP, so the frontier is one point"))
    table = []
    for k, pid in enumerate(ids):
        r = dict(rows.get(pid) or {"point": pid, "status": "failed", "error": "not solved"})
        if r.get("stage") == "epsilon":
            r["gep_bound_yuan"] = r.get("bound_yuan")
        if r.get("stage") == "epsilon" and conflict:
            r["epsilon_yuan"] = grid[k]
        r["kind"] = {"gep_end": N_("GEP end"), "income_end": N_("income end")}.get(r.get("stage", ""), N_("ε-point"))
        table.append(r)
    df = pd.DataFrame(table)
    for col in ("farmer_income_yuan", "gep_yuan", "gep_bound_yuan", "gap", "epsilon_yuan"):
        if col not in df.columns:
            df[col] = np.nan
    df = _bands(df)
    df = _marks(df)
    knee = _knee(df)
    df["knee"] = df["point"] == knee
    df = _rates(df)
    df = _changes_from_previous(df)
    weighted = _locate_weighted(df, payoff.get("weighted"))
    for pid in df.loc[df["status"] == "failed", "point"]:
        notes.append(_("point {point} failed: {error}").format(point=pid, error=df.loc[df["point"] == pid, "error"].iloc[0]))
    payoff_df = pd.DataFrame([{k: v for k, v in r.items() if k != "plan"} for r in payoff.values()])
    return Frontier(folder, spec, categories, payoff_df, df, weighted, knee, conflict, notes)


def _ok(df: pd.DataFrame) -> pd.Series:
    return df["status"].isin(P.WITH_PLAN) & df["farmer_income_yuan"].notna()


def _bands(df: pd.DataFrame) -> pd.DataFrame:
    """Where the exact frontier lies at each ε: [best plan known, best bound known].

    A plan of any point with income ≥ ε_k is feasible at ε_k, so the best of them is a
    lower end; a bound proven at a smaller ε holds at ε_k too (fewer plans qualify), so
    the smallest such bound is an upper end. Both come for free from the other points.
    """
    eps = df["epsilon_yuan"].to_numpy(dtype=float)
    inc = df["farmer_income_yuan"].to_numpy(dtype=float)
    gep = df["gep_yuan"].to_numpy(dtype=float)
    bnd = df["gep_bound_yuan"].to_numpy(dtype=float)
    ok = _ok(df).to_numpy()
    low, high = [], []
    for k in range(len(df)):
        tol = 1e-9 * max(1.0, abs(eps[k])) if np.isfinite(eps[k]) else 0.0
        feas = ok & (inc >= eps[k] - tol)
        low.append(np.nanmax(gep[feas]) if feas.any() else np.nan)
        earlier = (eps <= eps[k] + tol) & np.isfinite(bnd)
        high.append(np.nanmin(bnd[earlier]) if earlier.any() else np.nan)
    df["frontier_low_yuan"] = low
    df["frontier_high_yuan"] = high
    df["band_yuan"] = df["frontier_high_yuan"] - df["frontier_low_yuan"]
    return df


def _marks(df: pd.DataFrame) -> pd.DataFrame:
    """duplicate_of: an earlier point with the same plan; dominated_by: a point at least as good in both."""
    plans = [tuple(sorted(p.items())) if isinstance(p, dict) else None for p in df.get("plan", [None] * len(df))]
    inc = df["farmer_income_yuan"].to_numpy(dtype=float)
    gep = df["gep_yuan"].to_numpy(dtype=float)
    ok = _ok(df).to_numpy()
    dup, dom = [], []
    for k in range(len(df)):
        d = next((df["point"].iloc[j] for j in range(k) if ok[j] and plans[j] is not None and plans[j] == plans[k]), "")
        dup.append(d if ok[k] else "")
        by = ""
        if ok[k] and not d:
            for j in range(len(df)):
                if j == k or not ok[j] or plans[j] == plans[k]:
                    continue
                ti = 1e-9 * max(1.0, abs(inc[k]))
                tg = 1e-9 * max(1.0, abs(gep[k]))
                if inc[j] >= inc[k] - ti and gep[j] >= gep[k] - tg and (inc[j] > inc[k] + ti or gep[j] > gep[k] + tg):
                    by = df["point"].iloc[j]
                    break
        dom.append(by)
    df["duplicate_of"] = dup
    df["dominated_by"] = dom
    return df


def _knee(df: pd.DataFrame) -> str | None:
    """The point farthest above the chord between the ends, axes scaled to the payoff ranges."""
    ok = _ok(df) & (df["duplicate_of"] == "") & (df["dominated_by"] == "")
    if ok.sum() < 3:
        return None
    sub = df[ok]
    i0, i1 = sub["farmer_income_yuan"].min(), sub["farmer_income_yuan"].max()
    g0, g1 = sub["gep_yuan"].min(), sub["gep_yuan"].max()
    if i1 - i0 <= 0 or g1 - g0 <= 0:
        return None
    x = (sub["farmer_income_yuan"] - i0) / (i1 - i0)
    y = (sub["gep_yuan"] - g0) / (g1 - g0)
    dist = (x + y - 1.0) / math.sqrt(2.0)
    best = dist.idxmax()
    if dist[best] <= 1e-9:
        return None  # the frontier is straight or bends inward: no point gives up less of both
    return str(df.loc[best, "point"])


def _rates(df: pd.DataFrame) -> pd.DataFrame:
    """Farmers' income given up per yuan of GEP gained, from each point to the next one with more income."""
    ok = (_ok(df) & (df["duplicate_of"] == "") & (df["dominated_by"] == "")).to_numpy()
    inc = df["farmer_income_yuan"].to_numpy(dtype=float)
    gep = df["gep_yuan"].to_numpy(dtype=float)
    rate = [np.nan] * len(df)
    idx = [k for k in range(len(df)) if ok[k]]
    for a, b in zip(idx, idx[1:]):
        d_gep = gep[a] - gep[b]
        if d_gep > 0:
            rate[a] = (inc[b] - inc[a]) / d_gep
    df["income_cost_per_gep_yuan"] = rate
    return df


def _changes_from_previous(df: pd.DataFrame) -> pd.DataFrame:
    plans = list(df.get("plan", [None] * len(df)))
    out: list[float] = []
    prev = None
    for p in plans:
        if not isinstance(p, dict):
            out.append(np.nan)
            continue
        out.append(np.nan if prev is None else float(sum(p.get(t) != i for t, i in prev.items())))
        prev = p
    df["townships_changed_from_previous"] = out
    return df


def _locate_weighted(df: pd.DataFrame, w: dict[str, Any] | None) -> dict[str, Any] | None:
    """Where the instance's own weighted optimum lies: between which points, and how far below the band."""
    if w is None:
        return None
    out = {k: v for k, v in w.items() if k != "plan"}
    if w.get("status") not in P.WITH_PLAN:
        out["where"] = _("the weighted solve ended {status} without a plan").format(status=w.get("status"))
        return out
    inc, gep = w["farmer_income_yuan"], w["gep_yuan"]
    ok = _ok(df)
    eps = df["epsilon_yuan"].to_numpy(dtype=float)
    # The weighted plan is feasible at every ε ≤ its income: the point with the largest such ε
    # bounds its GEP from above (frontier_high), and is where it sits on the curve.
    below = np.flatnonzero(eps <= inc + 1e-9 * max(1.0, abs(inc)))
    k = int(below[-1]) if len(below) else 0
    out["segment_from"] = str(df["point"].iloc[k])
    out["segment_to"] = str(df["point"].iloc[min(k + 1, len(df) - 1)])
    high = df["frontier_high_yuan"].iloc[k]
    out["gep_below_frontier_bound_yuan"] = None if pd.isna(high) else float(high - gep)
    dominated = df[ok & (df["farmer_income_yuan"] >= inc - 1e-9 * abs(inc)) & (df["gep_yuan"] >= gep - 1e-9 * abs(gep))
                   & ((df["farmer_income_yuan"] > inc + 1e-9 * abs(inc)) | (df["gep_yuan"] > gep + 1e-9 * abs(gep)))]
    out["dominated_by"] = str(dominated["point"].iloc[0]) if len(dominated) else ""
    same = [str(p) for p, plan in zip(df["point"], df.get("plan", [None] * len(df)))
            if isinstance(plan, dict) and plan == w.get("plan")]  # fmt: skip
    out["same_plan_as"] = same
    if same:
        out["where"] = _("it is frontier point {point}").format(point=same[0])
    elif out["dominated_by"]:
        out["where"] = _("under the frontier: point {point} has at least its income and its GEP (the frontier "
                         "counts other GEP than the objective, or a gap)").format(point=out["dominated_by"])
    elif out["segment_from"] == out["segment_to"]:  # its income reaches the last point's ε: no segment beyond
        out["where"] = _("on the frontier at its end point {point}").format(point=out["segment_from"])
    else:
        out["where"] = _("on the frontier between points {a} and {b}").format(a=out["segment_from"], b=out["segment_to"])
    return out


# --------------------------------------------------------------------------- writing


FRONTIER_COLUMNS = [
    "point", "kind", "epsilon_yuan", "farmer_income_yuan", "gep_yuan", "gep_material_yuan",
    "gep_regulating_yuan", "gep_cultural_yuan", "gep_total_yuan", "gep_bound_yuan", "gap",
    "income_bound_yuan", "frontier_low_yuan", "frontier_high_yuan", "band_yuan", "status", "termination",
    "solved_by", "method",
    "duplicate_of", "dominated_by", "knee", "income_cost_per_gep_yuan", "weighted_objective_yuan",
    "townships_changed_from_previous", "check_ok", "solve_s", "wall_s", "cpu_s", "started_from", "error",
]  # fmt: skip


def frontier_csv_table(fr: Frontier, industries: list[str]) -> pd.DataFrame:
    df = fr.table.copy()
    for col in FRONTIER_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    out = df[FRONTIER_COLUMNS].copy()
    units = "villages" if "villages_by_industry" in df.columns else "townships"  # a village instance's plans
    for ind in industries:
        out[f"{units}_{ind}"] = [
            (r.get(ind, 0) if isinstance(r, dict) else np.nan) for r in df.get(f"{units}_by_industry", [None] * len(df))
        ]
    return out


def write_frontier(fr: Frontier, valid: Any, loaded: Any) -> None:
    """frontier.csv, payoff.csv, frontier.png, frontier.gpkg, summary.json; manifest.json last."""
    from optimizer.outputs.write import write_csv, write_json

    folder = fr.folder
    industries = [i for i, ind in valid.spec.industries.items() if ind.candidate]
    table = frontier_csv_table(fr, industries)
    write_csv(folder / "frontier.csv", table)
    write_csv(folder / "payoff.csv", _payoff_table(fr))
    plot_frontier(fr, folder / "frontier.png", valid.spec.name)
    write_frontier_gpkg(fr, valid, loaded, folder / "frontier.gpkg", table)
    write_json(folder / "summary.json", frontier_summary(fr))


def _payoff_table(fr: Frontier) -> pd.DataFrame:
    cols = ["stage", "status", "termination", "farmer_income_yuan", "gep_yuan", "gep_total_yuan", "target",
            "bound_yuan", "gap", "weighted_objective_yuan", "check_ok", "method", "wall_s", "cpu_s", "error"]  # fmt: skip
    df = fr.payoff.copy()
    for c in cols:
        if c not in df.columns:
            df[c] = np.nan
    order = {s: k for k, s in enumerate([*PAYOFF_STAGES, "weighted"])}
    return df[cols].sort_values("stage", key=lambda s: s.map(order)).reset_index(drop=True)


def frontier_summary(fr: Frontier) -> dict[str, Any]:
    ok = fr.table[_ok(fr.table)]
    return {
        "kind": "frontier",
        "instance": Path(fr.spec.instance).stem,
        "frontier_id": final_dir(fr.folder).name,
        "gep_categories": list(fr.categories),
        "income": "farmers' income after market price steps (the weighted objective's income part)",
        "points": len(fr.table),
        "conflict": fr.conflict,
        "knee": fr.knee,
        "knee_definition": "the point farthest above the straight line joining the frontier's two ends, "
                           "income and GEP each scaled to [0, 1] by the payoff table",
        "weighted_optimum": fr.weighted,
        "statuses": fr.table["status"].value_counts().to_dict(),
        "largest_gap": None if ok.empty or ok["gap"].isna().all() else float(ok["gap"].max()),
        "all_checked_ok": bool(ok["check_ok"].fillna(False).astype(bool).all()) if not ok.empty else None,
        "notes": fr.notes,
        "spec": asdict(fr.spec),
        "timings_s": fr.timings,
    }



def plot_frontier(fr: Frontier, target: Path, title: str) -> None:
    """frontier.png: `frontier_figure` of this frontier."""
    from optimizer.outputs.figures import frontier_figure

    fig = frontier_figure(fr.table, fr.knee, fr.weighted, fr.categories, title, ok=_ok(fr.table))
    fig.savefig(target, dpi=120)


def township_changes(fr: Frontier, valid: Any) -> pd.DataFrame:
    """Per township: its industry at every point, and the income levels at which it changes."""
    t = valid.townships
    ok = fr.table[_ok(fr.table)]
    out = pd.DataFrame({"township_id": t.index, "name": t["name"].to_numpy(), "county": t["county"].to_numpy(),
                        "city": t["city"].to_numpy(), "area_ha": t["plannable_area_ha"].to_numpy()})  # fmt: skip
    cols = []
    for r in ok.itertuples():
        col = f"industry_{r.point}"
        out[col] = [r.plan.get(tid, "") for tid in t.index]
        cols.append((r.point, col, r.epsilon_yuan))
    first, count, text = [], [], []
    for pos in range(len(out)):
        changes = []
        for (pa, ca, _ea), (pb, cb, eb) in zip(cols, cols[1:]):
            a, b = out[ca].iloc[pos], out[cb].iloc[pos]
            if a != b:
                changes.append((eb, f"{a} → {b} at {pb} (income ≥ {eb / 1e8:,.3f} 亿元)"))
        first.append(changes[0][0] if changes else np.nan)
        count.append(len(changes))
        text.append("; ".join(c[1] for c in changes))
    out["changes_at_income_yuan"] = first
    out["changes"] = count
    out["change_path"] = text
    return out


def write_frontier_gpkg(fr: Frontier, valid: Any, loaded: Any, path: Path, table: pd.DataFrame) -> None:
    """Layer `frontier_townships`: the industry at every point, styled by the knee's (or the middle) plan.

    Written through `outputs.gpkg.write_layers`, the helper every GeoPackage of the tool
    uses, so the layer opens styled in QGIS (categorised by `industry`, as allocation.gpkg).
    """
    from optimizer.outputs import tables
    from optimizer.outputs.gpkg import allocation_style, township_layer, write_layers

    ch = township_changes(fr, valid)
    ok = fr.table[_ok(fr.table)]
    if ok.empty:
        return
    shown = fr.knee or str(ok["point"].iloc[len(ok) // 2])
    plan = pd.Series(ok.loc[ok["point"] == shown, "plan"].iloc[0])
    alloc = tables.allocation_table(valid, plan)
    layer = alloc.merge(ch.drop(columns=["name", "county", "city", "area_ha"]), on="township_id", how="left")
    layer.insert(layer.columns.get_loc("industry") + 1, "shown_point", shown)
    industries = [i for i, ind in valid.spec.industries.items() if ind.candidate]
    summary = frontier_summary(fr)
    rows = pd.DataFrame({"key": ["instance", "frontier_id", "knee", "shown_point", "gep_categories", "points",
                                 "largest_gap", "weighted_optimum"],
                         "value": [str(summary["instance"]), str(summary["frontier_id"]), str(fr.knee), shown,
                                   "+".join(fr.categories), str(len(fr.table)), str(summary["largest_gap"]),
                                   str((fr.weighted or {}).get("where"))]})  # fmt: skip
    spatial = {"frontier_townships": township_layer(layer, loaded.geometry, loaded.crs)}
    write_layers(
        path, spatial,
        {"frontier_points": table, "payoff_table": _payoff_table(fr), "frontier_summary": rows,
         "county_totals": tables.county_totals(alloc, industries)},
        styles={"frontier_townships": allocation_style(layer)} if loaded.geometry is not None else {},
    )  # fmt: skip


def _finish(fr: Frontier, loaded: Any) -> None:
    """manifest.json with every file's hash, then rename the folder without `.partial`."""
    from optimizer.outputs.write import sha256, versions, write_json

    folder = fr.folder
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".running"))
    manifest = {
        "tool": "karst-layout-optimizer",
        "command": "frontier",
        "versions": versions(),
        "instance_file": str(Path(fr.spec.instance).resolve()),
        "inputs": {str(p): sha256(p) for p in loaded.input_files},
        "scenarios": list(fr.spec.scenarios),
        "set": list(fr.spec.sets),
        "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
        "spec": asdict(fr.spec),
        "solver_options": fr.spec.options,
        "timings_s": fr.timings,
        "outputs": {str(p.relative_to(folder)): sha256(p) for p in files},
    }
    write_json(folder / "manifest.json", manifest)
    target = final_dir(folder)
    if folder != target:
        if target.exists():
            raise FileExistsError(f"frontier folder {target} already exists")
        os.replace(folder, target)
        fr.folder = target
    log.info("wrote %s", fr.folder)


def resume_spec(folder: Path) -> FrontierSpec:
    """The spec of an unfinished frontier folder (`…/frontier-<id>.partial`)."""
    meta = folder / "frontier.json"
    if not meta.exists():
        raise InputError([Problem(Location(folder), "not an unfinished frontier folder (no frontier.json)",
                                  "give the folder `optimizer frontier` printed when it was interrupted")])
    return FrontierSpec.from_dict(json.loads(meta.read_text(encoding="utf-8"))["spec"])


def resume_folder(path: Path) -> Path:
    """Accept `frontier-<id>.partial` or the same name without `.partial` (what a planner types)."""
    path = Path(path)
    if path.name.endswith(".partial"):
        return path
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        return partial
    if (path / "manifest.json").exists():
        raise InputError([Problem(Location(path), "this frontier is already complete", "nothing to resume")])
    return path
