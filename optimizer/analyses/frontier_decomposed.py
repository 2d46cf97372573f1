"""The frontier by county decomposition: every stage and ε-point in one process, each warm.

Why: from ~300 townships with county limits `solve` decomposes (solve/method.py), and one
frontier point is the same model with another objective and one more row. On the Dask
path each point is a fresh HiGHS MILP on the whole model (11 points ≈ 11.5 × one solve at
1,000 townships, docs/performance.md). Here each stage is the array model
(model/matrix.py) with the stage's objective and, where the stage has one, its row
(`farmer_income_min_epsilon`, `farmer_income_at_least_stage_one`,
`gep_at_least_stage_one`, the same rows as model/tradeoffs.py) as one more coupling row
that the Lagrangian prices. The points are solved in sequence, each starting from the
previous point's plan (feasible at the next, smaller ε: the chain runs down from the
income end, as the Dask path's default), so the decomposition holds an incumbent from its
first pass. Starting from the previous point's whole `DecompositionState` (multipliers
and every county plan seen so far) saved pricing passes but cost more CPU than it saved,
as the masters grew from point to point (docs/performance.md, "Decomposed frontier");
it stays available as `FrontierSpec.warm_state = "state"` for the benchmark.

Every point's plan is still written and checked by the independent checker, and reports
its bound and gap on the stage's target, as on the Dask path (`frontier.solve_task`).
Units: the stage objectives are in 万元 times a power of ten (model/scaling.py's rule);
the ε-stage's objective GEP + c·(income − ε) has the constant −c·ε, added back so that its
bound bounds GEP + c·slack as HiGHS's does.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analyses import tradeoff_points as P

log = logging.getLogger(__name__)

#: The method column of frontier.csv for points solved here ("decompose+highs" when polished).
METHOD = "decompose"
#: Up to this many townships a point the decomposition left above the gap goes to HiGHS
#: from its plan, as `solve` does (optimizer/run.py, POLISH_UP_TO_TOWNSHIPS).
POLISH_UP_TO_TOWNSHIPS = 5_000


@dataclasses.dataclass(frozen=True)
class Shared:
    """What the frontier (analyses/frontier.py) lends this module, passed in to keep imports one-way:
    its grid of ε (`frontier_grid`), the second stages' floor (`_below`) and the writing
    and checking of a point (`_write_and_check`), the same as on the HiGHS path."""

    grid: Callable[..., tuple[bool, list[float], float]]
    below: Callable[[float, float | None, float], float]
    write_and_check: Callable[..., dict[str, Any]]


@dataclasses.dataclass
class StageColumns:
    """Per column of the array model (x then o): farmers' income after price steps and GEP, 万元."""

    income: np.ndarray
    gep: np.ndarray


def stage_columns(data: Any, base: Any, categories: tuple[str, ...]) -> StageColumns:
    """Income and GEP of every column, in the units of model/tradeoffs.py's expressions.

    An o column (units of output beyond a price step) lowers income by the farmers' share
    of the step's price drop, as `farmer_income_after_price_steps_10k_yuan` counts it.
    """
    from optimizer.model.data import MONEY_UNIT_YUAN, OUTPUT_UNIT
    from optimizer.model.objective import market_farmer_share

    p = data.pairs
    markets = data.spec.constraints.markets
    income_o = []
    for name, k in base.o_keys:
        drops = [s.price_drop_yuan_per_unit for s in sorted(markets[name].price_steps, key=lambda s: s.above_output)]
        step = drops[k] - (drops[k - 1] if k else 0.0)
        income_o.append(-market_farmer_share(data, name) * step * OUTPUT_UNIT / MONEY_UNIT_YUAN)
    gep_x = sum((p[f"gep_{c}_10k_yuan"].to_numpy(dtype=float) for c in categories), np.zeros(len(p)))
    return StageColumns(
        income=np.r_[p["income_10k_yuan"].to_numpy(dtype=float), np.asarray(income_o, dtype=float)],
        gep=np.r_[gep_x, np.zeros(len(base.o_keys))],
    )


def stage_matrix(base: Any, cols: StageColumns, stage: str, *, epsilon_yuan: float | None = None,
                 bonus: float = 0.0, floor_yuan: float | None = None) -> tuple[Any, float]:
    """(array model of the stage, constant in yuan to add to its objective and bound).

    The stage's row is written in 亿元, as in model/tradeoffs.py, under the same name.
    """
    from optimizer.model.data import MONEY_UNIT_YUAN
    from optimizer.model.matrix import _block
    from optimizer.model.scaling import power_of_ten_for
    from optimizer.model.tradeoffs import _PER_EPSILON_UNIT, to_epsilon_unit

    if stage == "weighted":
        return base, 0.0
    constant_10k = 0.0
    row: tuple[str, np.ndarray, float] | None = None
    if stage in ("income_max", "gep_max_then_income"):
        cost = cols.income
    elif stage in ("gep_max", "income_max_then_gep"):
        cost = cols.gep
    elif stage == "epsilon":
        cost = cols.gep + bonus * cols.income / _PER_EPSILON_UNIT
        constant_10k = -bonus * to_epsilon_unit(float(epsilon_yuan))
        row = ("farmer_income_min_epsilon", cols.income, float(epsilon_yuan))
    else:
        raise ValueError(f"unknown stage {stage}")
    if stage == "income_max_then_gep":
        row = ("farmer_income_at_least_stage_one", cols.income, float(floor_yuan))
    elif stage == "gep_max_then_income":
        row = ("gep_at_least_stage_one", cols.gep, float(floor_yuan))
    blocks = dict(base.blocks)
    if row is not None:
        name, coef, at_least = row
        nz = np.flatnonzero(coef)
        blocks[name] = _block(name, [None], np.zeros(len(nz)), nz, coef[nz] / _PER_EPSILON_UNIT,
                              to_epsilon_unit(at_least), np.inf)
    scale = power_of_ten_for(cost[: base.n_x])
    unit = MONEY_UNIT_YUAN / scale
    m = dataclasses.replace(base, cost=scale * cost, blocks=blocks, objective_unit_yuan=unit)
    return m, constant_10k * MONEY_UNIT_YUAN


class DecomposedFrontier:
    """The instance's array model and the running warm state; solves stages in order."""

    def __init__(self, spec: Any, folder: Path, categories: tuple[str, ...], shared: Shared, warm: str = "plan") -> None:
        from optimizer.model.matrix import build_matrix

        t0 = time.perf_counter()
        self.shared = shared
        self.spec = spec
        self.root = folder
        self.categories = categories
        self.use_warm = warm
        b = P.built_model_data(spec.instance, spec.scenarios, spec.sets, categories)
        self.built = b
        self.base = build_matrix(b.data)
        self.cols = stage_columns(b.data, self.base, categories)
        self.state: Any = None
        self.states: dict[str, Any] = {}
        self.pyomo: Any = None  # the Pyomo model, built only if a point needs HiGHS (`_polish`)
        self.build_seconds = time.perf_counter() - t0

    def solve(self, task: dict[str, Any], previous: dict[str, Any] | None = None,
              warm_from: str | None = None) -> dict[str, Any]:
        """Solve one stage or ε-point, write and check it; never raises (a failure is a row)."""
        from optimizer.model.build import FAMILIES
        from optimizer.model.report import matrix_constraint_report
        from optimizer.model.scaling import report_families
        from optimizer.solve.decompose import CountyInfeasible, DecompositionState, Unsplittable, decompose
        from optimizer.solve.options import SolveOptions

        spec, root = self.spec, self.root
        group, pid = task["group"], task["id"]
        row: dict[str, Any] = {"point": pid, "stage": task["stage"], "worker_pid": os.getpid(), "method": METHOD}
        if "epsilon_yuan" in task:
            row["epsilon_yuan"] = task["epsilon_yuan"]
        done = P.recorded(root, group, pid)
        if done is not None and done.get("status") not in ("failed", "time_limit_no_solution", "interrupted_no_solution"):
            if done.get("plan"):  # resumed: the next point starts from its plan
                self.state = DecompositionState(plan=pd.Series(done["plan"]))
                self.states[pid] = self.state
            return done
        marker = root / group / f"{pid}.running"
        t_start, cpu_start = time.perf_counter(), time.process_time()
        options = SolveOptions(**spec.options)
        gap = float(options.gap or 0.0)
        stage = task["stage"]
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(datetime.now().isoformat(), encoding="utf-8")
            floor = None
            if stage in ("income_max_then_gep", "gep_max_then_income"):
                prev_ok = previous is not None and previous.get("status") in P.WITH_PLAN
                if not prev_ok:
                    from optimizer.i18n import _

                    raise RuntimeError(_("the first stage ended {status} without a plan").format(
                        status=(previous or {}).get("status")))
                key = "farmer_income_yuan" if stage == "income_max_then_gep" else "gep_yuan"
                floor = self.shared.below(previous[key], previous.get("bound_yuan"), gap)
            matrix, constant = stage_matrix(self.base, self.cols, stage, epsilon_yuan=task.get("epsilon_yuan"),
                                            bonus=task.get("bonus", 0.0), floor_yuan=floor)
            warm = self._warm(warm_from, previous if floor is not None else None)
            deadline = None if options.time_limit is None else time.monotonic() + options.time_limit
            c_solve = time.process_time()
            res = decompose(matrix, self.built.data.townships, gap=gap, deadline=deadline, warm=warm,
                            workers=options.workers, scheduler=options.scheduler, seed=options.seed,
                            unit=matrix.objective_unit_yuan)  # fmt: skip
            row["solve_cpu_s"] = time.process_time() - c_solve
            self.state = res.state
            self.states[pid] = res.state
            unit = matrix.objective_unit_yuan
            row.update(status=res.status, termination=res.termination, solve_s=time.perf_counter() - t_start,
                       transfer_s=0.0, build_s=None, mip_nodes=None, decomposition_passes=res.stats.get("passes"),
                       started_from="none" if warm is None else "warm state" if warm.multipliers else "plan")  # fmt: skip
            if res.plan is None:
                row["error"] = f"no plan: {res.termination}"
                row["wall_s"] = time.perf_counter() - t_start
                row["cpu_s"] = time.process_time() - cpu_start
                P.record_failure(root, group, pid, row, None)
                return row
            row["bound_yuan"] = None if res.bound is None else res.bound * unit + constant
            row["solver_objective_yuan"] = None if res.objective is None else res.objective * unit + constant
            plan = res.plan
            if res.status == "stopped_feasible" and len(plan) <= POLISH_UP_TO_TOWNSHIPS and row["bound_yuan"] is not None:
                plan = self._polish(task, floor, plan, row, options, deadline)
                res.state.plan = plan  # the next point starts from the better plan
                row["solve_cpu_s"] = time.process_time() - c_solve
            z = self.base.column_values(plan)
            families = report_families(FAMILIES, self.built.data.scaling)
            constraints = matrix_constraint_report(self.base, z, families)
            solver = {"solver": "county decomposition", "method": METHOD, "mip_rel_gap": gap,
                      "status": res.status, "termination": res.termination,
                      "objective_yuan": row["solver_objective_yuan"], "bound_yuan": row["bound_yuan"],
                      "stats": {k: v for k, v in res.stats.items() if isinstance(v, (int, float, str))}}  # fmt: skip
            return self.shared.write_and_check(spec, root, task, self.built, plan, row, solver, constraints,
                                               t_start, cpu_start)
        except (Unsplittable, CountyInfeasible) as exc:
            if stage == "income_max":  # the first solve: the caller falls back to HiGHS for every point
                raise
            return P.failed_point(root, group, pid, row, exc, t_start, cpu_start, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # recorded, and the frontier goes on
            return P.failed_point(root, group, pid, row, exc, t_start, cpu_start)
        finally:
            marker.unlink(missing_ok=True)


    def _warm(self, warm_from: str | None, stage_one: dict[str, Any] | None) -> Any:
        """The warm start of a solve (`FrontierSpec.warm_state`, measured in docs/performance.md).

        "state": the whole DecompositionState of `warm_from` (multipliers, every county plan
        seen so far, plan); "plan": only its plan (feasible at the next, smaller ε: an
        incumbent at once); "none": nothing. A second lexicographic stage always starts
        from its first stage's plan, which meets its floor by construction (`_below`).
        """
        from optimizer.solve.decompose import DecompositionState

        st = self.states.get(warm_from) if warm_from is not None else self.state
        warm = None
        if self.use_warm == "state":
            warm = st
        elif self.use_warm == "plan" and st is not None and st.plan is not None:
            warm = DecompositionState(plan=st.plan)
        if warm is None and stage_one is not None and stage_one.get("plan"):
            warm = DecompositionState(plan=pd.Series(stage_one["plan"]))
        return warm

    def _polish(self, task: dict[str, Any], floor: float | None, plan: pd.Series, row: dict[str, Any],
                options: Any, deadline: float | None) -> pd.Series:
        """HiGHS on the whole stage model from the decomposition's plan, as `solve` polishes.

        Why: where the Lagrangian bound is weak (few counties, a small instance), the
        decomposition stops above the gap; HiGHS, started from its plan and stopped as soon
        as its plan or bound and the Lagrangian bound together prove the gap, closes it.
        Updates `row` (status, bound, objective) and returns the better plan.
        """
        from optimizer.model.build import chosen_pairs, round_choices
        from optimizer.model.tradeoffs import set_epsilon, set_stage_one, use_stage
        from optimizer.run import POLISH_MAX_S, PROVEN_TOL
        from optimizer.solve import solve
        from optimizer.solve.options import gap_proved, relative_gap

        t0 = time.perf_counter()
        if self.pyomo is None:
            self.pyomo = P.built_model(self.spec.instance, self.spec.scenarios, self.spec.sets, self.categories)
        m = self.pyomo.model
        stage = task["stage"]
        use_stage(m, stage)
        if stage == "epsilon":
            set_epsilon(m, task["epsilon_yuan"], task["bonus"])
        elif stage == "income_max_then_gep":
            set_stage_one(m, income_yuan=floor)
        elif stage == "gep_max_then_income":
            set_stage_one(m, gep_yuan=floor)
        unit = m.objective_unit_yuan
        ours, bound = row["solver_objective_yuan"] / unit, row["bound_yuan"] / unit
        gap = float(options.gap or 0.0)

        enough = gap_proved(ours, bound, gap, PROVEN_TOL)
        left = POLISH_MAX_S if deadline is None else min(POLISH_MAX_S, deadline - time.monotonic())
        start = P.plan_start(m, dict(zip(plan.index, plan.to_numpy())))
        out = solve(m, dataclasses.replace(options, time_limit=max(0.1, left)), start=start, enough=enough)
        better = out.has_solution and out.objective is not None and out.objective > row["solver_objective_yuan"] * (1 + 1e-12)
        if better:
            round_choices(m)
            plan = chosen_pairs(m)
            row["solver_objective_yuan"] = out.objective
        if out.bound is not None:
            row["bound_yuan"] = min(row["bound_yuan"], out.bound)
        g = relative_gap(row["solver_objective_yuan"], row["bound_yuan"])
        if out.status == "optimal" or (g is not None and g <= gap + PROVEN_TOL):
            row["status"] = "optimal"
        row["termination"] = f"{row['termination']}; HiGHS from its plan: {out.termination}"
        row["polished_s"] = time.perf_counter() - t0
        row["method"] = "decompose+highs"
        return plan


def solve_all(spec: Any, folder: Path, categories: tuple[str, ...], payoff_tasks: list[dict[str, Any]],
              ids: list[str], base: dict[str, Any], note: Any, shared: Shared,
              warm: str = "plan") -> dict[str, dict[str, Any]]:
    """Every stage and ε-point in this process: the payoff table, the points downwards, the weighted optimum.

    Order and warm starts: income max → its second stage (from it); GEP max (from the income
    end's second stage, whose county plans are GEP-rich) → its second stage; then the
    ε-points from the largest ε down, the first from the income end's state (its plan earns
    the most, so it is feasible at every ε), each next one from the previous point.
    """
    fr = DecomposedFrontier(spec, folder, categories, shared, warm=warm)
    done: dict[str, dict[str, Any]] = {}

    def run(tid: str, task: dict[str, Any], previous: dict[str, Any] | None = None,
            warm_from: str | None = None) -> dict[str, Any]:
        note(tid, "solving", None)
        done[tid] = fr.solve(task, previous, warm_from)
        note(tid, "done", done[tid])
        return done[tid]

    stages = {t["id"]: t for t in payoff_tasks}
    a = run("income_max", stages["income_max"], warm_from="")
    run("income_max_then_gep", stages["income_max_then_gep"], a, warm_from="income_max")
    g = run("gep_max", stages["gep_max"], warm_from="income_max_then_gep")
    e = run("gep_max_then_income", stages["gep_max_then_income"], g, warm_from="gep_max")
    conflict, grid, bonus = shared.grid(spec, a, e)
    last = "income_max_then_gep" if done["income_max_then_gep"].get("status") in P.WITH_PLAN else "income_max"
    for k in range(spec.points - 2, 0, -1):
        task = dict(base, group="points", id=ids[k], stage="epsilon", k=k, points=spec.points)
        if not conflict:
            done[ids[k]] = {"point": ids[k], "stage": "epsilon", "status": "skipped",
                            "error": "income and GEP do not conflict"}  # fmt: skip
            continue
        task.update(epsilon_yuan=grid[k], bonus=bonus)
        run(ids[k], task, warm_from=last)
        last = ids[k]
    if "weighted" in stages:
        run("weighted", stages["weighted"], warm_from="income_max")
    for t in (*stages, *ids[1:-1]):  # the task ids the caller's progress mapping expects
        done.setdefault(t, {"point": t, "stage": stages.get(t, {}).get("stage", "epsilon"), "status": "failed",
                            "error": "not solved"})  # fmt: skip
    return done
