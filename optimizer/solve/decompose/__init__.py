"""County decomposition: a Lagrangian over the rows that couple counties, exact county
subproblems, a restricted master that repairs the county plans into one feasible plan,
and large-neighbourhood search; the bound is the Lagrangian's (docs/model.md,
"Decomposition"; measurements in docs/performance.md).

Why: every row of the model but a handful is local to a county; HiGHS, given the whole
model, stays at the root node from ~5,000 townships and finds no plan at 20,000 in
120 s. Pricing the few coupling rows splits the model into counties of ~15 townships,
each solved exactly in a fraction of a millisecond.

Library use::

    from optimizer.solve.decompose import decompose
    result = decompose(matrix, townships, gap=1e-4, deadline=time.monotonic() + 60)
    result.plan, result.objective, result.bound, result.state

`result.state` (a `DecompositionState`) carries what the solve learnt; pass it as
`warm=` to the next solve of a related instance (a sweep point, a frontier point, a
marginal-value re-solve) and that solve starts from the same multipliers, reuses the
county plans found so far where they still meet their county's limits, skips pricing
the counties whose data did not change, and starts from the previous plan.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.model.matrix import ModelMatrix
from optimizer.solve.decompose.counties import CountyInfeasible
from optimizer.solve.decompose.dual import BoxStepMaster, Cuts, sample_duals
from optimizer.solve.decompose.parallel import CountyAnswers, pricer
from optimizer.solve.decompose.primal import TAKE, MasterBasis, improve, local_gaps, restricted_master, rounded_master
from optimizer.solve.decompose.structure import Structure, Unsplittable, fingerprints, split, split_like

__all__ = ["CountyInfeasible", "DecompositionResult", "DecompositionState", "Unsplittable", "decompose"]

log = logging.getLogger(__name__)

#: The dual has converged when the master predicts less than this relative decrease.
DUAL_TOL = 1e-9
#: Relative gaps below this count as proven: the county search's own tolerance.
PROVEN_TOL = 1e-9
#: Most pricing passes of one solve.
MAX_PASSES = 60
#: Share of the remaining time the restricted master may take.
MASTER_SHARE = 0.5


@dataclass
class DecompositionState:
    """What a decomposition solve learnt, to warm-start the next solve of a related instance.

    Everything is keyed by names (coupling rows, counties, township ids, industries), not
    by positions, so it applies to an instance whose allowed pairs, limits or
    coefficients differ: what no longer fits is dropped when the next solve starts.

    - `multipliers`: λ of each coupling row ("market_output_max[apple]", …);
    - `plans`: the county plans found so far, per county ({township id: industry});
    - `plan`: the best plan (industry per township id);
    - `objective`, `bound`: the solve's plan value and Lagrangian bound (model units) — a
      bound holds only for the instance it was computed on; the next solve recomputes
      its own;
    - `priced`: per county, (fingerprint of its subproblem data, its optimum at
      `multipliers`, its plan): a county with the same fingerprint under the same
      multipliers is not priced again.
    """

    multipliers: dict[str, float] = field(default_factory=dict)
    plans: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    plan: pd.Series | None = None
    objective: float | None = None
    bound: float | None = None
    priced: dict[str, tuple[str, float, dict[str, str]]] = field(default_factory=dict)
    arrays: WarmArrays | None = None
    #: The solve's split of the model, which the next solve patches when only numbers
    #: changed (`structure.split_like`); kept in memory only, never pickled.
    structure: Structure | None = None
    #: The last master LP's basis (`primal.MasterBasis`), which starts the next solve's master
    #: LP; in memory only, like the split.
    master_basis: MasterBasis | None = None
    #: The solve's pool of county plans, in memory only: the next solve on a patched split
    #: takes over the plans of its unchanged counties as they are.
    pool: Cuts | None = None
    #: The dual's box-step master (`dual.BoxStepMaster`), in memory only: the next solve
    #: takes it over when it holds the same plans with the same numbers.
    box_master: BoxStepMaster | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["structure"] = None  # the whole model: a Dask worker or a file gets the rest
        state["master_basis"] = None  # HiGHS enums, and worth nothing without the split
        state["pool"] = None  # `arrays` holds the same plans
        state["box_master"] = None  # a HiGHS model
        return state

    def by_ids(self) -> DecompositionState:
        """`plans` and `priced` by ids, built from `arrays` when the solve stored only those.

        Why lazy: a sweep point whose next instance has the same pairs never needs the id
        dictionaries, and writing one per county plan cost a tenth of a warm point."""
        a = self.arrays
        if a is None or self.plans or self.priced:
            return self
        for c, seg in zip(a.cut_county.tolist(), a.cut_plans):
            self.plans.setdefault(a.counties[c], []).append(dict(zip(a.tids[seg].tolist(), a.inds[seg].tolist())))
        for c in np.flatnonzero(a.priced_ok).tolist():
            seg = a.priced_choice[a.county_tstart[c]:a.county_tstart[c + 1]]
            self.priced[a.counties[c]] = (a.fingerprints[c], float(a.priced_value[c]),
                                          dict(zip(a.tids[seg].tolist(), a.inds[seg].tolist())))
        return self


@dataclass
class WarmArrays:
    """A solve's county plans as choice indices of its `Structure`, valid for any later
    structure with the same `signature` (same counties, townships and pairs in the same
    order): then no plan goes through id dictionaries. Another signature falls back to
    `DecompositionState.by_ids`."""

    signature: str
    counties: list[str]
    county_tstart: np.ndarray
    tids: np.ndarray  # township id of each choice
    inds: np.ndarray  # industry of each choice
    cut_county: np.ndarray  # county of each remembered county plan
    cut_plans: list[np.ndarray]  # its choices
    priced_ok: np.ndarray  # (n_counties,) the county's optimum below is known
    priced_value: np.ndarray  # its value at the state's multipliers
    priced_choice: np.ndarray  # (n_slots,) its choices
    fingerprints: list[str]
    plan_choice: np.ndarray | None = None  # (n_slots,) the solve's best plan, when it has one
    cut_value: np.ndarray | None = None  # objective of each remembered county plan (model units)
    cut_use: np.ndarray | None = None  # (n_plans, G) its coupling use


@dataclass
class DecompositionResult:
    status: str  # optimal | time_limit_feasible | time_limit_no_solution | stopped_feasible | stopped_no_solution
    termination: str
    plan: pd.Series | None  # industry per township id
    z: np.ndarray | None  # column values (x then price-step columns) of the plan
    objective: float | None  # model units (万元)
    bound: float | None
    gap: float | None
    state: DecompositionState
    stats: dict[str, Any]
    log_lines: list[str]


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return max(0.0, bound - objective) / max(abs(objective), 1.0)


class _Log:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.lines: list[str] = []

    def __call__(self, text: str, *args: Any) -> None:
        line = f"{time.perf_counter() - self.t0:8.2f}s  " + (text % args if args else text)
        self.lines.append(line)
        log.info("decomposition: %s", text % args if args else text)


def decompose(
    matrix: ModelMatrix,
    townships: pd.DataFrame,
    *,
    gap: float,
    deadline: float | None = None,
    warm: DecompositionState | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    seed: int = 0,
    lns: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
    unit: float = 1.0,
) -> DecompositionResult:
    """Solve by county decomposition until the gap, the deadline (time.monotonic()) or convergence.

    Raises `Unsplittable` when the instance has no county structure to use and
    `CountyInfeasible` when one county cannot meet its own rows (the caller then lets
    HiGHS diagnose the whole model).
    """
    note = _Log()
    started = time.monotonic()
    deadline = float("inf") if deadline is None else deadline
    stats: dict[str, Any] = {"passes": 0, "highs_counties": 0, "pricing_s": 0.0, "master_s": 0.0,
                             "restricted_master_s": 0.0, "lns_s": 0.0, "lns_groups": 0, "counties_reused": 0}  # fmt: skip
    t = time.perf_counter()
    S = None if warm is None or warm.structure is None else split_like(warm.structure, matrix, townships)
    stats["structure_patched"] = S is not None
    if S is None:
        S = split(matrix, townships)
    stats["split_s"] = time.perf_counter() - t
    cp = S.coupling
    note("%d counties, %d coupling rows: %s", S.n_counties, cp.n, ", ".join(cp.names[:8]) + (" …" if cp.n > 8 else ""))
    price = pricer(S, workers, scheduler, start=_warm_county_optima(S, warm))
    stats["workers"] = price.workers
    from optimizer.solve.decompose import highs_models

    try:
        with highs_models.Stop(deadline) as stop:
            highs_models.STOP = stop
            return _solve(S, price, gap, stop, warm, seed, lns, progress, unit, note, stats, started)
    finally:
        highs_models.STOP = None
        price.close()


def _solve(S: Structure, price: Any, gap: float, stop: Any, warm: DecompositionState | None, seed: int, lns: bool,
           progress: Callable[[dict[str, Any]], None] | None, unit: float, note: _Log, stats: dict[str, Any],
           started: float) -> DecompositionResult:
    M = S.matrix
    cp = S.coupling
    deadline = stop.deadline
    cuts = Cuts()
    incumbent: np.ndarray | None = None
    inc_value = -np.inf

    def value_of(choice: np.ndarray) -> float:
        return M.objective(M.column_values_at(S.ch_col[choice]))

    def report(best: float | None, bound: float | None) -> None:
        if progress is None:
            return
        g = relative_gap(best, bound) if best is not None and bound is not None else None
        try:
            progress({"method": "decompose", "elapsed_s": time.monotonic() - started, "time_limit_s": None,
                      "best_yuan": None if best is None else best * unit,
                      "bound_yuan": None if bound is None else bound * unit, "gap": g})  # fmt: skip
        except Exception as exc:  # a display problem never stops a solve
            log.debug("progress display failed: %s", exc)

    # --- start: multipliers, known county plans, the previous plan
    lam0 = _warm_multipliers(S, warm)
    if lam0 is None:
        t = time.perf_counter()
        lam0 = sample_duals(S, np.random.default_rng(seed))
        stats["sample_lp_s"] = time.perf_counter() - t
        note("multipliers from the sample LP: %s", _fmt_lam(cp, lam0))
    else:
        note("multipliers from the previous solve: %s", _fmt_lam(cp, lam0))
    start = None
    kept = 0
    if warm is not None:
        kept = _warm_cuts(S, warm, cuts)
        start = _warm_plan(S, warm)
        misfits = 0 if start is None else len(np.unique(S.t_county[start < 0]))
        note("previous solve: %d county plans still fit; its plan %s", kept,
             "is missing" if start is None else (f"breaks the limits of {misfits} counties" if misfits else
                                                 "fits every county"))

    # --- first pricing pass, reusing counties whose data and multipliers did not change
    todo, cached = _reusable(S, warm, lam0)
    stats["counties_reused"] = int((~todo).sum())
    ans = _price(price, lam0, todo, stats)
    if cached is not None:
        ans = _fill(S, ans, cached, todo)
    best_L, best_lam, best_ans = _lagrangian(S, lam0, ans), lam0, ans
    # the reused answers of a state that indexes these choices are plans of its pool, taken over above
    cuts.add(S, ans.choice, np.flatnonzero(todo) if cached is not None and _same_arrays(S, warm) is not None else None)
    if start is not None:  # the previous plan, its misfit counties replaced by their new county optimum
        start = np.where(start >= 0, start, ans.choice)
        if (start >= 0).all() and _coupling_ok(S, start):
            cuts.add(S, start)
            incumbent, inc_value = start, value_of(start)
    note("pass 1: bound %.10g (%d counties priced, %d reused)", best_L, int(todo.sum()), stats["counties_reused"])

    # the master LP's basis: the previous solve's when it indexes the same choices
    basis = [warm.master_basis if warm is not None and _same_arrays(S, warm) is not None else None]

    def rounded(why: str) -> bool:
        """Try the rounded master LP over the pool; True when its plan proves the gap (then it is the incumbent)."""
        nonlocal incumbent, inc_value
        t = time.perf_counter()
        choice, basis[0] = rounded_master(S, cuts, max(0.05, deadline - time.monotonic()), gap / 4,
                                          _target(best_L, gap), basis[0])
        stats["rounded_master_s"] = stats.get("rounded_master_s", 0.0) + time.perf_counter() - t
        if choice is None:
            return False
        v = value_of(choice)
        if v > inc_value:
            incumbent, inc_value = choice, v
        ok = v >= _target(best_L, gap)
        note("rounded master LP over %d county plans (%s): plan %.10g%s", len(cuts), why, v,
             ", within the gap" if ok else "")
        return ok

    warm_needs_more = warm is not None and kept and (incumbent is None or (relative_gap(inc_value, best_L) or 0.0) > gap)
    # A what-if often needs no pricing at all. When it does, the master LP's duals are the
    # best multipliers over the previous plans at the new limits, and the pass is made there
    # before the dual's steps from the old multipliers. Measured on the budget sweep of
    # docs/performance.md: it saved a pass on one point and cost one on another; the mean
    # warm point took 30.6 ms with it against 35.2 ms without.
    if warm_needs_more and not rounded("the previous solve's plans at its multipliers") \
            and basis[0] is not None and basis[0].duals is not None and not stop():
        lam = cp.project(basis[0].duals)
        ans = _price(price, lam, None, stats)
        L = _lagrangian(S, lam, ans)
        cuts.add(S, ans.choice)
        note("pass at the master LP's multipliers: bound %.10g (was %.10g)", L, best_L)
        if L < best_L:
            best_L, best_lam, best_ans = L, lam, ans
            if incumbent is None or (relative_gap(inc_value, best_L) or 0.0) > gap + PROVEN_TOL:
                rounded("after the pass at the master LP's multipliers")
    report(None if incumbent is None else inc_value, best_L)

    # --- the dual (box-step cutting planes) and the repair (restricted master), in rounds:
    # the dual first stops when the master predicts less than a twentieth of the gap
    # target, or when the time left holds no more than the repair; if the repaired plan
    # is not within the gap, the dual goes on with a tolerance a hundred times smaller.
    master: BoxStepMaster | None = None  # built (or taken over from the previous solve) at the dual's first step

    def box() -> BoxStepMaster:
        nonlocal master
        if master is None:
            old = None
            if warm is not None:
                with TAKE:  # one master, one user
                    old, warm.box_master = warm.box_master, None
                if _same_arrays(S, warm) is None:
                    old = None
            if old is not None and old.take_over(S, cuts):
                master = old
                note("dual master taken over from the previous solve (%d cut rows)", master.n_rows)
            else:
                master = BoxStepMaster(S)
                master.add(cuts, list(range(len(cuts))))
        return master
    scale = np.maximum(np.abs(lam0), np.maximum(1e-3 * np.abs(lam0).max(initial=0.0), 1e-6))
    delta = 0.5 * scale + (np.abs(lam0).max(initial=0.0) == 0) * 1.0
    converged = cp.n == 0
    tol = max(DUAL_TOL, gap / 20)
    last_pass = best_ans.seconds
    while True:
        while not converged and stats["passes"] < MAX_PASSES and not stop():
            if incumbent is not None and (relative_gap(inc_value, best_L) or 0.0) <= gap + PROVEN_TOL:
                break  # a warm start's plan is already within the gap: no more pricing needed
            if deadline - time.monotonic() < last_pass + _repair_estimate(len(cuts)):
                break  # keep the time left for the repair
            t = time.perf_counter()
            lam, predicted, _ = box().solve(best_lam, delta)
            lam = cp.project(lam)  # the master meets D λ ≥ d only to HiGHS's tolerance
            stats["master_s"] += time.perf_counter() - t
            drop = best_L - predicted
            if drop <= DUAL_TOL * max(1.0, abs(best_L)):
                converged = True
                break
            if drop <= tol * max(1.0, abs(best_L)):
                break
            ans = _price(price, lam, None, stats)
            last_pass = ans.seconds
            L = _lagrangian(S, lam, ans)
            new = cuts.add(S, ans.choice)
            box().add(cuts, new)
            if L < best_L - 0.1 * drop:  # serious step
                if L < best_L - 0.5 * drop:
                    delta = delta * 2
                best_L, best_lam, best_ans = L, lam, ans
            else:
                delta = delta * 0.7
            report(None if incumbent is None else inc_value, best_L)
        note("dual %s after %d passes: bound %.10g, multipliers %s", "converged" if converged else "paused",
             stats["passes"], best_L, _fmt_lam(cp, best_lam))
        left = deadline - time.monotonic()
        if incumbent is not None and (relative_gap(inc_value, best_L) or 0.0) <= gap + PROVEN_TOL:
            note("the plan in hand is within the gap of the bound: no restricted master needed")
        elif left > 0.05 and not stop() and not rounded("after the dual"):
            # the rounded LP did not prove the gap: the restricted master's MIP, from the best plan so far
            t = time.perf_counter()
            budget = left if left < 2 * _repair_estimate(len(cuts)) else left * MASTER_SHARE
            choice = restricted_master(S, cuts, budget, gap / 4, start=incumbent, target=_target(best_L, gap))
            stats["restricted_master_s"] += time.perf_counter() - t
            if choice is not None:
                v = value_of(choice)
                if v > inc_value:
                    incumbent, inc_value = choice, v
            note("restricted master over %d county plans: %s", len(cuts),
                 "no plan" if choice is None else f"plan {value_of(choice):.10g}")
        report(None if incumbent is None else inc_value, best_L)
        g = relative_gap(inc_value if incumbent is not None else None, best_L)
        if converged or stop() or (g is not None and g <= gap + PROVEN_TOL) or stats["passes"] >= MAX_PASSES:
            break
        if tol <= DUAL_TOL:
            break
        tol = max(DUAL_TOL, tol / 100)

    # --- improvement: large-neighbourhood search over counties far below their own optimum
    g = relative_gap(inc_value if incumbent is not None else None, best_L)
    if lns and incumbent is not None and g is not None and g > gap and time.monotonic() < deadline - 0.2 and not stop():
        t = time.perf_counter()
        priced = M.cost[: M.n_x] - cp.priced(best_lam, M.n_cols)[: M.n_x]
        order = np.argsort(-local_gaps(S, incumbent, priced, best_ans.value), kind="stable")
        incumbent, groups = improve(S, incumbent, order, deadline, gap / 4, evaluate=value_of)
        inc_value = value_of(incumbent)
        stats["lns_s"] = time.perf_counter() - t
        stats["lns_groups"] = groups
        note("neighbourhood search: %d groups of counties, plan %.10g", groups, inc_value)

    # --- answer
    z = None
    plan = None
    if incumbent is not None:
        plan = _plan_series(S, incumbent)
        z = M.column_values_at(S.ch_col[incumbent])  # the plan's columns, without a lookup by ids
        inc_value = M.objective(z)
    objective = inc_value if incumbent is not None else None
    g = relative_gap(objective, best_L)
    timed_out = time.monotonic() >= deadline
    if stop.interrupted and not (objective is not None and g is not None and g <= gap + PROVEN_TOL):
        status = "interrupted_feasible" if objective is not None else "interrupted_no_solution"
        termination = "Interrupted by user"
    elif objective is None:
        status = "time_limit_no_solution" if timed_out else "stopped_no_solution"
        termination = "Time limit reached" if timed_out else "Decomposition found no plan"
    elif g is not None and g <= gap + PROVEN_TOL:
        status, termination = "optimal", f"Decomposition: gap {g:.2e} within {gap:g}"
    elif timed_out:
        status, termination = "time_limit_feasible", "Time limit reached"
    else:
        status, termination = "stopped_feasible", f"Decomposition stopped at gap {g:.2e}"
    stats["pool"] = len(cuts)
    stats["bound_source"] = "Lagrangian"
    note("%s: plan %s, bound %.10g, gap %s", termination, objective, best_L, g)
    report(objective, best_L)
    state = _state(S, best_lam, cuts, plan, objective, best_L, best_ans, incumbent)
    state.master_basis = basis[0]
    state.pool = cuts
    if master is None and warm is not None and _same_arrays(S, warm) is not None:
        with TAKE:  # not needed here: kept for the next solve
            master, warm.box_master = warm.box_master, None
    state.box_master = master
    return DecompositionResult(status, termination, plan, z, objective, best_L, g, state, stats, note.lines)


def _target(bound: float, gap: float) -> float:
    """A plan value within 0.9 × the gap target of `bound`: the repair may stop there (the rest is
    margin for the plan's value recomputed from its columns)."""
    return bound - 0.9 * gap * max(1.0, abs(bound))


def _repair_estimate(pool: int) -> float:
    """Seconds the restricted master may need over `pool` county plans (measured: 0.1 s at 855
    plans, 2.5–8 s at 9,311 on the loaded 2-core machine): 1 ms per plan plus half a second."""
    return 0.5 + 1e-3 * pool


def _price(price: Any, lam: np.ndarray, todo: np.ndarray | None, stats: dict[str, Any]) -> CountyAnswers:
    ans = price.price(lam, todo)
    stats["passes"] += 1
    stats["pricing_s"] += ans.seconds
    stats["highs_counties"] += ans.highs_counties
    return ans


def _lagrangian(S: Structure, lam: np.ndarray, ans: CountyAnswers) -> float:
    """L(λ) = λ·b + Σ_c (bound of county c's optimum under λ); λ is inside the price-step box."""
    return float(lam @ S.coupling.rhs + np.sum(ans.bound))


def _fmt_lam(cp: Any, lam: np.ndarray) -> str:
    return ", ".join(f"{n} {v:.4g}" for n, v in zip(cp.names, lam.tolist()) if v) or "all 0"


def _plan_series(S: Structure, choice: np.ndarray) -> pd.Series:
    tids, inds = _choice_ids(S)
    return pd.Series(inds[choice], index=tids[choice], name="industry")


def _coupling_ok(S: Structure, choice: np.ndarray, tol: float = 1e-9) -> bool:
    z = S.matrix.column_values_at(S.ch_col[choice])
    use = S.coupling.use(z)
    return bool(np.all(use <= S.coupling.rhs + tol * np.maximum(1.0, np.abs(S.coupling.rhs))))


# --------------------------------------------------------------------------- warm starts


def _warm_keys(S: Structure) -> tuple[dict[tuple[str, str], int], list[str]]:
    """(township id, industry) → choice index, and the township id of each township slot.

    Computed once per structure: a sweep point translates thousands of remembered county
    plans through it, and a pandas lookup per township would cost more than the solve."""
    cached = getattr(S, "_warm_keys", None)
    if cached is None:
        M = S.matrix
        tids = M.pairs.get_level_values(0)[S.ch_col].tolist()
        inds = M.pairs.get_level_values(1)[S.ch_col].tolist()
        towns = np.asarray(M.townships, dtype=object)[S.t_township].tolist()
        cached = (dict(zip(zip(tids, inds), range(len(tids)))), towns)
        S._warm_keys = cached  # type: ignore[attr-defined]
    return cached


def _signature(S: Structure) -> str:
    """Digest of the counties, their townships and the pairs of every choice, in order: two
    structures with equal signatures index choices identically (a sweep of limits, budgets
    or coefficients keeps it), so choice-index plans carry over as they are."""
    cached = getattr(S, "_signature", None)
    if cached is None:
        h = hashlib.blake2b(digest_size=16)
        h.update("\x1f".join(S.counties).encode())
        h.update(np.asarray(S.county_tstart, dtype=np.int64).tobytes())
        h.update(np.asarray(S.t_start, dtype=np.int64).tobytes())
        tids, inds = _choice_ids(S)
        h.update("\x1f".join(map(str, tids.tolist())).encode())
        h.update("\x1f".join(map(str, inds.tolist())).encode())
        cached = h.hexdigest()
        S._signature = cached  # type: ignore[attr-defined]
    return cached


def _choice_ids(S: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Township id and industry of each choice (cached on the structure)."""
    cached = getattr(S, "_choice_ids", None)
    if cached is None:
        M = S.matrix
        cached = (M.pairs.get_level_values(0)[S.ch_col].to_numpy(), M.pairs.get_level_values(1)[S.ch_col].to_numpy())
        S._choice_ids = cached  # type: ignore[attr-defined]
    return cached


def _same_arrays(S: Structure, warm: DecompositionState | None) -> WarmArrays | None:
    """The warm state's arrays when they index this structure's choices; else None (the
    callers then translate the state's plans by ids: `DecompositionState.by_ids`)."""
    if warm is None or warm.arrays is None or warm.arrays.signature != _signature(S):
        return None
    return warm.arrays


def _fit(S: Structure, wanted: list[tuple[int, np.ndarray]]) -> list[bool]:
    """Whether each (county, choice indices) meets its county's rows, all at once (one sum
    per plan by `np.add.reduceat`)."""
    ok = [True] * len(wanted)
    idx = [n for n, (_, seg) in enumerate(wanted) if len(seg)]
    if not idx:
        return ok
    segs = [wanted[n][1] for n in idx]
    starts = np.cumsum([0] + [len(x) for x in segs[:-1]])
    use = np.add.reduceat(S.ch_use[np.concatenate(segs)], starts, axis=0)
    cap = S.cap[np.array([wanted[n][0] for n in idx])]
    slack = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(cap), cap, 0.0)))
    fits = ~np.any(use > cap + slack, axis=1)
    for n, f in zip(idx, fits.tolist()):
        ok[n] = f
    return ok


def _county_plans(S: Structure, wanted: list[tuple[int, dict[str, str]]]) -> list[np.ndarray | None]:
    """Each (county, plan by ids) as choice indices, or None where a pair is gone or a county row breaks.

    All plans are checked against their county's rows at once (`_fit`), which is what
    makes reusing a previous solve cheap."""
    index, towns = _warm_keys(S)
    ct = S.county_tstart
    out: list[np.ndarray | None] = [None] * len(wanted)
    found: list[tuple[int, np.ndarray]] = []
    owners: list[int] = []
    for n, (c, picks) in enumerate(wanted):
        seg = [index.get((t, picks.get(t, ""))) for t in towns[ct[c]:ct[c + 1]]]
        if None not in seg:
            found.append((c, np.array(seg, dtype=np.int64)))
            owners.append(n)
    for n, (_, seg), ok in zip(owners, found, _fit(S, found)):
        if ok:
            out[n] = seg
    return out


def _warm_county_optima(S: Structure, warm: DecompositionState | None) -> np.ndarray | None:
    """The previous solve's county optima as choices (−1 where unknown), for the county
    searches to start from; None unless the state indexes this structure's choices. A
    start that breaks its county's new limits is ignored by the search."""
    a = _same_arrays(S, warm)
    if a is None:
        return None
    ok = a.priced_ok[S.t_county]
    return np.where(ok, a.priced_choice, -1)


def _warm_multipliers(S: Structure, warm: DecompositionState | None) -> np.ndarray | None:
    if warm is None or not warm.multipliers:
        return None
    cp = S.coupling
    lam = np.array([warm.multipliers.get(n, 0.0) for n in cp.names])
    return cp.project(lam)


def _warm_cuts(S: Structure, warm: DecompositionState, cuts: Cuts) -> int:
    a = _same_arrays(S, warm)
    if a is not None and S.touched is not None and warm.pool is not None and len(warm.pool) == len(a.cut_plans):
        # a patched structure and the previous pool in memory: its unchanged counties' plans as
        # they are (values, uses, keys), the changed counties' plans checked again
        touched = set(S.touched)
        changed = [k for k, c in enumerate(warm.pool.county) if c in touched]
        cuts.take_over(warm.pool, changed)
        pairs = [(int(a.cut_county[k]), a.cut_plans[k]) for k in changed]
        return len(cuts) + cuts.add_plans(S, [p for p, ok in zip(pairs, _fit(S, pairs)) if ok])
    if a is not None and S.touched is not None and a.cut_value is not None and len(a.cut_value) == len(a.cut_plans):
        # a patched structure (`split_like`): the plans of the counties it did not change keep
        # their values, coupling uses and fit; only the changed counties' plans are checked again
        changed = np.isin(a.cut_county, np.asarray(S.touched, dtype=np.int64))
        same = np.flatnonzero(~changed).tolist()
        added = cuts.add_known([int(a.cut_county[k]) for k in same], [a.cut_plans[k] for k in same],
                               a.cut_value[same], a.cut_use[same])
        pairs = [(int(a.cut_county[k]), a.cut_plans[k]) for k in np.flatnonzero(changed).tolist()]
        return added + cuts.add_plans(S, [p for p, ok in zip(pairs, _fit(S, pairs)) if ok])
    if a is not None:
        pairs = list(zip(a.cut_county.tolist(), a.cut_plans))
        return cuts.add_plans(S, [p for p, ok in zip(pairs, _fit(S, pairs)) if ok])
    warm.by_ids()
    wanted = [(c, picks) for c, county in enumerate(S.counties) for picks in warm.plans.get(county, [])]
    return cuts.add_plans(S, [(c, seg) for (c, _), seg in zip(wanted, _county_plans(S, wanted)) if seg is not None])


def _warm_plan(S: Structure, warm: DecompositionState) -> np.ndarray | None:
    """The previous plan as choices; −1 in the counties whose limits it now breaks."""
    if warm.plan is None:
        return None
    a = _same_arrays(S, warm)
    if a is not None and a.plan_choice is not None:
        choice = a.plan_choice.copy()
        ct = S.county_tstart
        wanted = [(c, choice[ct[c]:ct[c + 1]]) for c in range(S.n_counties)]
        for (c, _), ok in zip(wanted, _fit(S, wanted)):
            if not ok:
                choice[ct[c]:ct[c + 1]] = -1
        return choice
    picks = dict(zip(warm.plan.index.tolist(), warm.plan.tolist()))
    choice = np.full(len(S.t_township), -1, dtype=np.int64)
    for c, seg in enumerate(_county_plans(S, [(c, picks) for c in range(S.n_counties)])):
        if seg is not None:
            choice[S.county_tstart[c]:S.county_tstart[c + 1]] = seg
    return choice


def _reusable(S: Structure, warm: DecompositionState | None, lam: np.ndarray) -> tuple[np.ndarray, dict | None]:
    """Counties to price (todo) and the cached answers of the others (same data, same λ)."""
    todo = np.ones(S.n_counties, dtype=bool)
    if warm is None or (not warm.priced and warm.arrays is None) or warm.multipliers is None:
        return todo, None
    same_lam = [warm.multipliers.get(n) for n in S.coupling.names] == lam.tolist() and \
        set(warm.multipliers) == set(S.coupling.names)
    if not same_lam:
        return todo, None
    cached = {}
    a = _same_arrays(S, warm)
    if a is not None:
        ct = S.county_tstart
        fps = fingerprints(S)
        # an unchanged fingerprint means the same costs, county rows and coupling use: the
        # county's answer is still its optimum, and it still meets the county's rows
        for c in np.flatnonzero(a.priced_ok).tolist():
            if a.fingerprints[c] == fps[c]:
                cached[c] = (float(a.priced_value[c]), a.priced_choice[ct[c]:ct[c + 1]])
                todo[c] = False
        return todo, cached
    warm.by_ids()
    hits = [(c, hit) for c, (county, fp) in enumerate(zip(S.counties, fingerprints(S)))
            if (hit := warm.priced.get(county)) is not None and hit[0] == fp]
    for (c, hit), seg in zip(hits, _county_plans(S, [(c, hit[2]) for c, hit in hits])):
        if seg is not None:
            cached[c] = (hit[1], seg)
            todo[c] = False
    return todo, cached


def _fill(S: Structure, ans: CountyAnswers, cached: dict, todo: np.ndarray) -> CountyAnswers:
    from optimizer.solve.decompose.counties import TOL

    value, bound, choice = ans.value.copy(), ans.bound.copy(), ans.choice.copy()
    for c, (v, seg) in cached.items():
        value[c] = v
        bound[c] = v + TOL * max(1.0, abs(v))
        choice[S.county_tstart[c]:S.county_tstart[c + 1]] = seg
    return CountyAnswers(value, bound, choice, ans.highs_counties, ans.seconds, ans.worker_seconds)


def _state(S: Structure, lam: np.ndarray, cuts: Cuts, plan: pd.Series | None, objective: float | None,
           bound: float, ans: CountyAnswers, incumbent: np.ndarray | None = None) -> DecompositionState:
    """The state as choice-index arrays (the id dictionaries are built only if a later
    instance has other pairs: `DecompositionState.by_ids`)."""
    tids, inds = _choice_ids(S)
    ct = S.county_tstart
    choice = ans.choice
    bad = np.zeros(S.n_counties, dtype=bool)
    if len(choice):
        np.logical_or.at(bad, S.t_county, choice < 0)
    ok = ~bad & np.isfinite(ans.value)
    cut_county, cut_value, cut_use = cuts.arrays()  # never changed in place: shared, not copied
    arrays = WarmArrays(signature=_signature(S), counties=list(S.counties), county_tstart=np.asarray(ct),
                        tids=tids, inds=inds, cut_county=cut_county,
                        cut_plans=list(cuts.plan), priced_ok=ok, priced_value=np.asarray(ans.value, dtype=float).copy(),
                        priced_choice=np.asarray(choice).copy(), fingerprints=list(fingerprints(S)),
                        plan_choice=None if incumbent is None else np.asarray(incumbent).copy(),
                        cut_value=cut_value, cut_use=cut_use.reshape(len(cuts), S.coupling.n))  # fmt: skip
    return DecompositionState(multipliers=dict(zip(S.coupling.names, lam.tolist())), plan=plan,
                              objective=objective, bound=bound, arrays=arrays, structure=S)
