"""From multipliers to plans: the restricted master (repair) and large-neighbourhood search.

Repair — the restricted master: choose one of the county plans found while pricing for
every county (and the price-step columns) so that every coupling row holds, maximising
the objective. It is a small MIP (one binary per known county plan) whose LP is the
master LP of the dual: with G coupling rows, a basic LP solution is fractional in at
most G counties, so HiGHS closes it at or near its root. On the generated instances it
turns the multipliers' county plans into a feasible plan within 1e-5 (1,000 townships)
to 1e-7 (50,000) of the Lagrangian bound.

Improvement — large-neighbourhood search: free every township of a group of counties,
fix all others at the current plan, and solve that MIP (coupling rows with what the
fixed counties leave, price-step columns free) with the current plan as MIP start.
Groups are the counties where the current plan falls furthest below their own
Lagrangian optimum. It explores plans that no pricing pass produced.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.solve.decompose.dual import Cuts, coupling_of_choices
from optimizer.solve.decompose.highs_models import INF, LEAN_MIP, group_model, highs_from_triplets

log = logging.getLogger(__name__)

#: Held while a solve takes a HiGHS model over from a previous solve's state: two solves warm
#: from one state (value's re-solves on a multi-threaded Dask worker) never share a model.
TAKE = threading.Lock()

#: Counties freed together in one neighbourhood.
LNS_GROUP = 20
#: Counties in all the rounded master's later MIPs free (the fractional ones, then those
#: nearest to a tie), in turn until a plan is within the target; measured in `rounded_master`.
ROUNDED_FREE = (8, 15)
#: Most combinations of the free counties' plans that `_settle` weighs itself, in numpy, before
#: it hands the small MIP to HiGHS (measured in `_settle_by_enumeration`).
SETTLE_ENUMERATE = 50_000


def restricted_master(S: object, cuts: Cuts, time_limit: float, gap: float,
                      start: np.ndarray | None = None, target: float | None = None) -> np.ndarray | None:
    """One known plan per county meeting the coupling rows: a choice vector, or None.

    `target`: stop as soon as HiGHS holds a plan worth at least this much (model units).
    The caller passes the value that proves its gap against the Lagrangian bound: the
    master's own LP bound is no better, so closing the master's gap beyond it buys
    nothing the answer can show. Measured at 5,000 townships (gap 1e-4): HiGHS's root
    heuristic has such a plan after 0.03–0.1 s, and closing the master to gap/4 took
    0.4–0.9 s more."""
    h, K = _master(S, cuts, {"time_limit": max(0.05, time_limit), "mip_rel_gap": gap, "threads": 1})
    if h is None:
        return None
    n_o = _n_steps(S)
    if start is not None:
        y = _start_in_cuts(S, cuts, start)
        if y is not None:
            h.setSolution(K, n_o + np.arange(K, dtype=np.int32), y.astype(np.float64))
    if target is not None:
        _stop_at(h, target)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        log.info("restricted master: no plan (%s)", h.modelStatusToString(h.getModelStatus()))
        return None
    return _choice_of(S, cuts, np.asarray(h.getSolution().col_value)[n_o:])


@dataclass
class MasterBasis:
    """The master LP as it ended: its HiGHS model, optimal basis, value and duals, each plan
    column named by its (county, plan). The next master LP over a pool that holds these plans
    (a later round of the same solve, or the next point of a sweep) starts from it.

    Why: a sweep point of a row that ties counties together (the budget) keeps nearly every
    county plan and moves one right-hand side. From the previous basis the dual simplex
    needed 7–50 iterations against 200–270 from scratch (1.2 ms against 6.5 ms at 5,000
    townships, docs/performance.md); when the pool only grew and its plans' numbers are
    unchanged, the same HiGHS model takes the new plans and limits and keeps its
    factorisation, and building the model again (1.4 ms) is saved too. Valid only for a
    structure that indexes choices as the one it came from (the caller checks the state's
    signature)."""

    keys: dict[tuple[int, bytes], int]  # (county, plan) → its plan column (0-based, after the price-step columns)
    col_status: list[Any]  # HighsBasisStatus of each price-step column, then of each plan column
    row_status: list[Any]  # of the county rows, then of the coupling rows
    value: float = float("nan")  # the LP's optimum (model units): no plan of its pool is worth more
    duals: np.ndarray | None = None  # the coupling rows' duals: the best multipliers over its pool
    highs: Any = None  # the LP's HiGHS model, kept to be extended (`_extended`)
    numbers: tuple[np.ndarray, ...] = ()  # what that model's columns hold (`_master_numbers`)


def rounded_master(S: object, cuts: Cuts, time_limit: float, gap: float, target: float | None = None,
                   basis: MasterBasis | None = None) -> tuple[np.ndarray | None, MasterBasis | None]:
    """The master LP's plan, its few fractional counties settled by a small MIP: (a choice
    vector or None, the LP as it ended, for the next call).

    `gap` is relative to the whole plan's value; the small MIP stops there or once the
    whole plan is worth `target`. `basis` (from an earlier call) starts the LP.

    Why: with G coupling rows a basic solution of the master LP is fractional in at most
    G counties, so fixing every county the LP already settled leaves a MIP over a handful
    of counties that HiGHS closes at once. The plan is then within the fractional
    counties' spread of the master LP's value; the caller keeps it only if it proves the
    gap. The small MIP holds only the free counties' plans, with the coupling rows' room
    left by the fixed ones: solving it inside the whole master with the other columns
    fixed cost HiGHS 6–17 ms of presolve and root work at 5,000 townships. Measured at
    5,000 townships, gap 1e-4, budget sweep: the full restricted master spent 0.5–0.8 s
    in its sub-MIP on half the points (docs/performance.md)."""
    n_o = _n_steps(S)
    keys = dict(cuts.seen)  # (county, plan) → column, as the pool is now
    numbers = _master_numbers(S, cuts)
    h = None if basis is None else _extended(S, cuts, basis, numbers)
    K = len(cuts)
    if h is None:
        h, K = _master(S, cuts, {"threads": 1}, integer=False)
        if h is None:
            return None, None
        if basis is not None:
            _start_from(h, K, keys, basis)
    h.setOptionValue("time_limit", max(0.05, time_limit))
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None, None
    sol = h.getSolution()
    lp_basis = h.getBasis()
    after = None
    if lp_basis.valid:
        after = MasterBasis(keys, list(lp_basis.col_status), list(lp_basis.row_status),
                            float(h.getInfo().objective_function_value),
                            np.asarray(sol.row_dual)[S.n_counties:].copy(), h, numbers)  # type: ignore[attr-defined]
    y = np.asarray(sol.col_value)[n_o:]
    county = cuts.arrays()[0]
    n_c = S.n_counties  # type: ignore[attr-defined]
    settled = np.ones(n_c, dtype=bool)
    settled[county[(y > 1e-6) & (y < 1 - 1e-6)]] = False
    if settled.all():
        return _choice_of(S, cuts, y), after
    # First only the fractional counties (a MIP of ~10 columns, 0.3–0.4 ms at 5,000
    # townships); while the plan falls short of the target, 8 and then 15 counties in all:
    # the fractional ones and those nearest to a tie (smallest reduced cost of a plan the LP
    # left out). With only the fractional ones free, the coupling rows' slack can go unused
    # (2e-4 below the LP at 5,000 townships, cold). 8 free counties cost HiGHS 2–9 ms, 15
    # cost 2–16 ms (budget sweep at 5,000 townships); a cold point that 8 left short took the
    # full restricted master, 0.14 s more, where 15 were enough.
    lp_value = h.getInfo().objective_function_value
    rc = np.abs(np.asarray(sol.col_dual)[n_o:])
    near = np.full(n_c, np.inf)
    out = y < 0.5
    np.minimum.at(near, county[out], rc[out])
    near[~settled] = -1.0
    by_margin = np.argsort(near, kind="stable")
    picked = None
    for extra in (0, *ROUNDED_FREE):
        free = ~settled
        free[by_margin[:extra]] = True
        fix = ~free[county]
        trial = _settle(S, cuts, fix & (y > 0.5), ~fix, time_limit, gap, target)
        if trial is not None and (picked is None or trial[1] >= picked[1]):
            picked = trial
        if target is not None and picked is not None and (picked[1] >= target or lp_value < target):
            # within the target, or no plan of this pool can be (the LP bounds them all): the
            # caller prices again rather than spend a wider MIP on a plan it cannot keep
            break
    if picked is None:
        log.info("rounded master: the %d fractional and near-tie counties admit no plan with the others fixed",
                 int((~settled).sum()))
        return None, after
    return _choice_of(S, cuts, picked[0]), after


def _start_from(h: object, K: int, keys: dict[tuple[int, bytes], int], basis: MasterBasis) -> None:
    """Give HiGHS `basis` for the master in `h` (plans it does not know start at 0): a
    basis with as many basic columns and rows as rows, else nothing."""
    import highspy

    n_o = len(basis.col_status) - len(basis.keys)
    if h.getNumCol() != K + n_o or h.getNumRow() != len(basis.row_status):  # type: ignore[attr-defined]
        return
    col = basis.col_status[:n_o] + [highspy.HighsBasisStatus.kLower] * K
    for key, k in keys.items():
        j = basis.keys.get(key)
        if j is not None:
            col[n_o + k] = basis.col_status[n_o + j]
    basic = highspy.HighsBasisStatus.kBasic
    if col.count(basic) + basis.row_status.count(basic) != len(basis.row_status):
        return  # a plan that was basic is gone: HiGHS starts from its own basis
    b = highspy.HighsBasis()
    b.col_status = col
    b.row_status = list(basis.row_status)
    b.valid = True
    h.setBasis(b)  # type: ignore[attr-defined]


def _master_numbers(S: object, cuts: Cuts) -> tuple[np.ndarray, ...]:
    """What the master's columns hold beside the right-hand sides: the plans' values and
    coupling uses, and the price-step columns' costs and coefficients."""
    M = S.matrix  # type: ignore[attr-defined]
    cp = S.coupling  # type: ignore[attr-defined]
    o_sel = cp.cols >= M.n_x
    _, value, use = cuts.arrays()
    return (value, use.reshape(len(cuts), cp.n),
            M.cost[M.n_x:], cp.rows[o_sel], cp.cols[o_sel], cp.vals[o_sel])  # fmt: skip


def _extended(S: object, cuts: Cuts, basis: MasterBasis, numbers: tuple[np.ndarray, ...]) -> object | None:
    """`basis`'s HiGHS model made the master of `cuts` at the current limits: the plans it
    lacks added as columns, the coupling rows' limits set; None unless its plans are the
    first of `cuts`, in order, with the same values and uses, and its price-step columns
    unchanged. The model then equals a fresh `_master` and keeps its basis."""
    with TAKE:  # one model, one user: a second solve from the same state (another thread too) builds its own
        h, basis.highs = basis.highs, None
    K0 = len(basis.keys)
    n_c = S.n_counties  # type: ignore[attr-defined]
    if h is None or len(cuts) < K0 or len(basis.numbers) != len(numbers):
        return None
    if h.getNumCol() != _n_steps(S) + K0 or h.getNumRow() != n_c + S.coupling.n:  # type: ignore[attr-defined]
        return None
    value, use, *steps = numbers
    value0, use0, *steps0 = basis.numbers
    same = (list(itertools.islice(cuts.seen, K0)) == list(basis.keys) and np.array_equal(value[:K0], value0)
            and np.array_equal(use[:K0], use0) and all(np.array_equal(a, b) for a, b in zip(steps, steps0)))
    if not same:
        return None
    cp = S.coupling  # type: ignore[attr-defined]
    new = np.arange(K0, len(cuts))
    if len(new):
        county = cuts.arrays()[0][new]
        block = np.hstack([np.ones((len(new), 1)), use[new]])
        r, g = np.nonzero(block)
        index = np.where(g == 0, county[r], n_c + g - 1).astype(np.int32)
        h.addCols(len(new), value[new], np.zeros(len(new)), np.ones(len(new)), len(r),  # type: ignore[attr-defined]
                  np.searchsorted(r, np.arange(len(new))).astype(np.int32), index, block[r, g])
    upper = np.where(np.isfinite(cp.rhs), cp.rhs, INF)
    h.changeRowsBounds(cp.n, n_c + np.arange(cp.n, dtype=np.int32), np.full(cp.n, -INF), upper)  # type: ignore[attr-defined]
    h.clearCallbacks()  # type: ignore[attr-defined]
    from optimizer.solve.decompose import highs_models

    if highs_models.STOP is not None:
        highs_models.STOP.watch(h)
    return h


def _settle(S: object, cuts: Cuts, one: np.ndarray, free: np.ndarray, time_limit: float, gap: float,
            target: float | None) -> tuple[np.ndarray, float] | None:
    """(0/1 over the cuts, the plan's master value): the plans `one` kept, one plan chosen
    among the `free` ones for each of their counties (a MIP over those alone, the coupling
    rows holding what the kept plans leave), or None when no choice meets the coupling rows."""
    M = S.matrix  # type: ignore[attr-defined]
    cp = S.coupling  # type: ignore[attr-defined]
    K = len(cuts)
    county, value, use = cuts.arrays()
    use = use.reshape(K, cp.n)
    kept_use = use[one].sum(axis=0)
    kept_value = float(value[one].sum())
    ks = np.flatnonzero(free)
    counties, row_of = np.unique(county[ks], return_inverse=True)
    o_sel = cp.cols >= M.n_x
    weighed = _settle_by_enumeration(value[ks], use[ks], row_of, cp.rhs - kept_use,
                                     1e-9 * np.maximum(1.0, np.abs(cp.rhs)), M.cost[M.n_x:],
                                     cp.rows[o_sel], cp.cols[o_sel] - M.n_x, cp.vals[o_sel])  # fmt: skip
    if weighed is not NotImplemented:
        if weighed is None:
            return None
        picked, v = weighed
        y = one.astype(np.float64)
        y[ks[picked]] = 1.0
        return y, kept_value + v
    n_f, n_r = len(ks), len(counties)
    rows, cols, vals = [row_of], [np.arange(n_f)], [np.ones(n_f)]
    r, g = np.nonzero(use[ks])
    rows.append(n_r + g)
    cols.append(r)
    vals.append(use[ks][r, g])
    rows.append(n_r + cp.rows[o_sel])
    cols.append(n_f + cp.cols[o_sel] - M.n_x)
    vals.append(cp.vals[o_sel])
    n_o = M.n_cols - M.n_x
    whole = abs(target) if target is not None else abs(kept_value) + float(np.abs(value[ks]).sum())
    h = highs_from_triplets(
        np.r_[value[ks], M.cost[M.n_x:]], np.zeros(n_f + n_o), np.r_[np.ones(n_f), np.full(n_o, np.inf)],
        np.r_[np.ones(n_f, bool), np.zeros(n_o, bool)], np.concatenate(rows), np.concatenate(cols),
        np.concatenate(vals), np.r_[np.ones(n_r), np.full(cp.n, -np.inf)], np.r_[np.ones(n_r), cp.rhs - kept_use],
        options={"time_limit": max(0.05, time_limit), "threads": 1, "mip_rel_gap": 0.0,
                 "mip_abs_gap": gap * max(1.0, whole)},
    )  # fmt: skip
    if target is not None:
        _stop_at(h, target - kept_value)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    y = one.astype(np.float64)
    y[ks] = np.asarray(h.getSolution().col_value)[:n_f]
    return y, kept_value + float(h.getInfo().objective_function_value)


def _settle_by_enumeration(value: np.ndarray, use: np.ndarray, group: np.ndarray, room: np.ndarray,
                           tol: np.ndarray, o_cost: np.ndarray, o_rows: np.ndarray, o_cols: np.ndarray,
                           o_vals: np.ndarray) -> tuple[np.ndarray, float] | None | Any:
    """`_settle`'s small MIP solved exactly by weighing every combination: one plan per group
    (county) among `value`/`use` (plans × coupling rows), the rows' left-hand sides at most
    `room` (+ `tol`), each price-step column o at its least value. Returns (the positions of
    the chosen plans, their value with the price steps'), None when no combination fits,
    or NotImplemented when the combinations are too many or the price steps are not of the
    simple kind (o in one row only, with a negative coefficient and a cost ≤ 0): HiGHS then.

    Why: the fractional counties of the master LP are two to eight with two to five plans
    each, a few hundred combinations at most; HiGHS spent 1.1–1.7 ms on two counties and
    2.6–8.4 ms on eight (presolve, root, tree) of a warm sweep point's 12–20 ms (budget
    sweep at 5,000 townships, docs/performance.md). Partial combinations that no choice of
    the remaining groups can bring within a row without a price step are dropped as they
    grow."""
    n_g = int(group.max()) + 1 if len(group) else 0
    G = use.shape[1]
    n_o = len(o_cost)
    if n_g == 0:
        return np.zeros(0, dtype=np.int64), 0.0
    # price steps: o_j ≥ 0 at cost o_cost[j] ≤ 0, in one ≤ row with coefficient a < 0
    stepped = np.zeros(G, dtype=bool)
    if len(o_cols):
        if (len(np.unique(o_cols)) != len(o_cols) or len(np.unique(o_rows)) != len(o_rows)
                or (o_vals >= 0).any() or (o_cost[o_cols] > 0).any()):  # fmt: skip
            return NotImplemented
        stepped[o_rows] = True
    if n_o and len(o_cols) != n_o:
        return NotImplemented  # a price step in no row: free to grow, HiGHS says what that means
    members = [np.flatnonzero(group == g) for g in range(n_g)]
    sizes = [len(m) for m in members]
    if min(sizes) == 0:
        return None
    least = np.array([use[m].min(axis=0) for m in members])  # group × row
    rest = np.vstack([np.cumsum(least[::-1], axis=0)[::-1][1:], np.zeros((1, G))])  # least use of groups after g
    limit = room + tol
    lhs = np.zeros((1, G))
    val = np.zeros(1)
    pick = np.zeros((1, 0), dtype=np.int64)
    for g, m in enumerate(members):
        if len(val) * len(m) > SETTLE_ENUMERATE:
            return NotImplemented
        lhs = (lhs[:, None, :] + use[m][None, :, :]).reshape(-1, G)
        val = (val[:, None] + value[m][None, :]).reshape(-1)
        pick = np.hstack([np.repeat(pick, len(m), axis=0), np.tile(m, len(pick))[:, None]])
        alive = np.all((lhs + rest[g] <= limit) | stepped, axis=1)
        lhs, val, pick = lhs[alive], val[alive], pick[alive]
        if not len(val):
            return None
    if len(o_cols):
        over = np.maximum(0.0, lhs[:, o_rows] - room[o_rows]) / -o_vals  # the least o of each step
        val = val + over @ o_cost[o_cols]
    best = int(np.argmax(val))
    return pick[best], float(val[best])


def _master(S: object, cuts: Cuts, options: dict, integer: bool = True) -> tuple[object | None, int]:
    """The restricted master as a HiGHS model (the price-step columns, then one binary per
    county plan in `cuts`, so that new plans are added at the end; its LP with `integer`
    False); (None, K) when some county has no plan yet."""
    M = S.matrix  # type: ignore[attr-defined]
    cp = S.coupling  # type: ignore[attr-defined]
    n_c = S.n_counties  # type: ignore[attr-defined]
    K = len(cuts)
    county, value, use = cuts.arrays()
    if K == 0 or len(np.unique(county)) < n_c:
        return None, K
    use = use.reshape(K, cp.n)
    n_o = M.n_cols - M.n_x
    rows = [county]
    cols = [n_o + np.arange(K)]
    vals = [np.ones(K)]
    r, g = np.nonzero(use)
    rows.append(n_c + g)
    cols.append(n_o + r)
    vals.append(use[r, g])
    o_sel = cp.cols >= M.n_x
    rows.append(n_c + cp.rows[o_sel])
    cols.append(cp.cols[o_sel] - M.n_x)
    vals.append(cp.vals[o_sel])
    cost = np.r_[M.cost[M.n_x:], value]
    h = highs_from_triplets(
        cost, np.zeros(n_o + K), np.r_[np.full(n_o, np.inf), np.ones(K)], np.r_[np.zeros(n_o, bool), np.full(K, integer)],
        np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
        np.r_[np.ones(n_c), np.full(cp.n, -np.inf)], np.r_[np.ones(n_c), cp.rhs], options=options,
    )  # fmt: skip
    return h, K


def _n_steps(S: object) -> int:
    """How many price-step columns the model has (the master's first columns)."""
    return int(S.matrix.n_cols - S.matrix.n_x)  # type: ignore[attr-defined]


def _choice_of(S: object, cuts: Cuts, y: np.ndarray) -> np.ndarray | None:
    """The choice vector of the county plans selected by 0/1 values `y` over the cuts."""
    choice = np.full(len(S.t_township), -1, dtype=np.int64)  # type: ignore[attr-defined]
    ct = S.county_tstart  # type: ignore[attr-defined]
    for k in np.flatnonzero(y > 0.5):
        c = cuts.county[k]
        choice[ct[c]:ct[c + 1]] = cuts.plan[k]
    return choice if (choice >= 0).all() else None


def _stop_at(h: object, target: float) -> None:
    """Interrupt HiGHS's MIP search once its best plan is worth `target` or more (maximisation)."""

    def callback(event: object) -> None:
        best = event.data_out.mip_primal_bound  # type: ignore[attr-defined]
        if np.isfinite(best) and best >= target:
            event.interrupt()  # type: ignore[attr-defined]

    h.cbMipInterrupt.subscribe(callback)  # type: ignore[attr-defined]


def _start_in_cuts(S: object, cuts: Cuts, choice: np.ndarray) -> np.ndarray | None:
    """0/1 over the cuts selecting `choice`'s county plans (added to the cuts if missing)."""
    new = cuts.add(S, choice)
    del new
    ct = S.county_tstart  # type: ignore[attr-defined]
    index = {(c, p.tobytes()): k for k, (c, p) in enumerate(zip(cuts.county, cuts.plan))}
    y = np.zeros(len(cuts))
    for c in range(S.n_counties):  # type: ignore[attr-defined]
        k = index.get((c, choice[ct[c]:ct[c + 1]].tobytes()))
        if k is None:
            return None
        y[k] = 1.0
    return y


def neighbourhood(S: object, choice: np.ndarray, counties: np.ndarray, time_limit: float,
                  gap: float) -> np.ndarray | None:
    """Re-solve `counties` with every other township fixed at `choice`; the improved choice or None."""
    M = S.matrix  # type: ignore[attr-defined]
    cp = S.coupling  # type: ignore[attr-defined]
    dense = coupling_of_choices(S)
    ct, ts = S.county_tstart, S.t_start  # type: ignore[attr-defined]
    free = np.zeros(S.n_counties, dtype=bool)  # type: ignore[attr-defined]
    free[counties] = True
    fixed_t = ~free[S.t_county]  # type: ignore[attr-defined]
    fixed_use = dense[choice[fixed_t]].sum(axis=0)
    cost_choice = M.cost[S.ch_col]  # type: ignore[attr-defined]
    group_choices = np.concatenate([np.arange(ts[ct[c]], ts[ct[c + 1]]) for c in counties])
    h, choice_of_col = group_model(
        S, counties, cost_choice, cp.rhs - fixed_use, dense[group_choices], relax=False,
        options={**LEAN_MIP, "time_limit": max(0.05, time_limit), "mip_rel_gap": gap, "threads": 1},
    )  # fmt: skip
    # MIP start: the current plan of the group, price-step columns at their least value
    in_group = ~fixed_t
    current = set(choice[in_group].tolist())
    start = np.array([1.0 if (j >= 0 and j in current) else 0.0 for j in choice_of_col.tolist()])
    o_cols = np.flatnonzero(choice_of_col < 0)
    if len(o_cols):
        x_use = dense[choice].sum(axis=0)
        o_rows = cp.rows[cp.cols >= M.n_x]
        o_idx = cp.cols[cp.cols >= M.n_x] - M.n_x
        for row, j in zip(o_rows.tolist(), o_idx.tolist()):
            start[o_cols[j]] = max(0.0, x_use[row] - cp.rhs[row])
    h.setSolution(len(start), np.arange(len(start), dtype=np.int32), start)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    z = np.asarray(h.getSolution().col_value)
    picked = choice_of_col[(z > 0.5) & (choice_of_col >= 0)]
    out = choice.copy()
    towns = np.searchsorted(ts, picked, side="right") - 1
    out[towns] = picked
    return out


def local_gaps(S: object, choice: np.ndarray, priced: np.ndarray, county_best: np.ndarray) -> np.ndarray:
    """Per county: its Lagrangian optimum minus what the current plan earns there at the same prices."""
    v = priced[S.ch_col[choice]]  # type: ignore[attr-defined]
    earned = np.bincount(S.t_county, weights=v, minlength=S.n_counties)  # type: ignore[attr-defined]
    return county_best - earned


def improve(S: object, choice: np.ndarray, order: np.ndarray, deadline: float, gap: float,
            group: int = LNS_GROUP, evaluate=None) -> tuple[np.ndarray, int]:
    """LNS rounds over groups of counties (in `order`) until the deadline; (plan, groups solved)."""
    solved = 0
    for start in range(0, len(order), group):
        left = deadline - time.monotonic()
        from optimizer.solve.decompose.highs_models import STOP

        if left < 0.2 or (STOP is not None and STOP()):
            break
        counties = np.sort(order[start:start + group])
        better = neighbourhood(S, choice, counties, min(left, 10.0), gap)
        solved += 1
        if better is not None and (evaluate is None or evaluate(better) >= evaluate(choice)):
            choice = better
    return choice, solved
