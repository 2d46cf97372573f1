"""Village instances by county decomposition: counties as blocks, HiGHS on each county.

Why: HiGHS on the whole village model (50,000 villages: 151,000 columns, 160,000 rows)
stays at the root node and finds no plan in 180 s. Every row of the village model but
a handful is local to one county: the village rows, the township rows (township water,
`leading_industry_per_township[t]`, `leading_industry_share_min[t, i]`) and the county
rows (county water, grid). Only the markets (caps and price steps), the investment
budget, the global conservation share and the basins that span counties tie counties
together, about six rows. As in the township decomposition (docs/model.md,
"Decomposition"), those rows are priced by multipliers λ and every county is a MIP of
its own: its villages' pairs, its townships' leading-industry binaries and its local
rows. Township blocks would leave the county rows to price as well (hundreds of
multipliers); county blocks keep them exact, so the Lagrangian bound holds the county
rows' and the leading rule's integrality and only six multipliers move.

Steps (all on the array model of model/matrix.py, the Pyomo model's families row for
row, so the names are the model's own and no Pyomo model is built: at 50,000 villages
building it and handing it to HiGHS took 29 s; docs/model.md, "Village instances:
counties as blocks"):

1. λ: the duals of the coupling rows in the LP relaxation of the whole model, whose
   column values also share each coupling row among the counties (their LP uses);
2. the plan: each county's MIP under costs c − Aᵀλ, held to its LP share of every hard
   coupling row (less a cushion): the county plans together meet every coupling row;
3. the bound: each county's MIP free of shares under the same costs (HiGHS, gap
   `COUNTY_GAP`); the sum of their dual bounds plus λᵀb bounds the optimum (the
   Lagrangian), else the LP bound stands; a restricted master picks, per county, the
   shared or the free plan;
4. the plan is checked against every row of the model; its column values go to the
   outputs, and the independent checker then recomputes everything from the input tables.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from optimizer.model.build import SCOPE
from optimizer.model.matrix import ModelMatrix
from optimizer.solve.options import SolveOptions, SolveOutcome, relative_gap

log = logging.getLogger(__name__)

INF = highspy.kHighsInf
#: Relative gap each county MIP is solved to: well below the 5e-3 target, and what
#: HiGHS proves at the root node of a county in ~0.3 s (measured; at 1e-6 a county
#: took 0.3-22 s).
COUNTY_GAP = 1e-3
#: Each county's share of a hard coupling row is cut by this part of its LP use: the room
#: left lets the master take the free plan of a county that found none within its share
#: (one county of the 50,000-village instance did not, in its 0.8 s).
CUSHION = 2e-3
#: Cushions of the passes again when the master finds no mix (small instances: a county
#: whose LP share no integer plan meets, and too few others to make room).
RETRY_CUSHIONS = (0.02, 0.1)
#: Gap of a county's MIP within its shares (only a good plan is wanted there, not a bound).
REPAIR_GAP = 2e-3
#: Fewest seconds a county MIP is given: at 50,000 villages (250 villages a county) 39 of 40
#: counties had a plan within their shares after 0.1 s (HiGHS's first heuristics), so a
#: short time limit still gives every county its turn (a floor of 0.2 s left 74 of 200
#: counties without one under a 60 s limit).
COUNTY_MIN_SECONDS = 0.08
#: The pass of county plans within their shares stops this much before the deadline (a tenth
#: of the time left, at most 4 s), so that a county it left without a plan gets a second try
#: for any plan within its shares (a zero objective: HiGHS stops at its first plan). Why: on a
#: loaded machine one county of 200 had no plan when the pass took all the time, and the run
#: ended without a plan (50,000 villages, 60 s limit, two busy processes beside it).
RECOVERY_PART = 0.1
RECOVERY_MAX_S = 4.0
#: Most seconds one county MIP may take (the time left is also shared among the counties to solve).
COUNTY_SECONDS = 30.0
#: HiGHS options of the whole model's LP relaxation: the interior-point method without
#: crossover took 21 s where simplex took 33 s at 50,000 villages, side by side, to the same
#: LP value (docs/performance.md); HiGHS's own choice (simplex) is the fallback.
LP_OPTIONS: dict[str, Any] = {"solver": "ipm", "run_crossover": "off", "ipm_optimality_tolerance": 1e-3}
#: …and only to a relative primal-dual gap of 1e-3 (`ipm_optimality_tolerance`): the interior
#: point reached 1.6e-3 at 11.7 s of 26.8 s at 50,000 villages, and its last 15 s only
#: sharpen duals that price six rows. The LP bound is then the dual objective of HiGHS's
#: dual solution (`_lp_dual_bound`), valid however early the interior point stopped.
#: Row feasibility tolerance of the final check (relative).
ROW_TOL = 1e-7


class NoVillagePlan(Exception):
    """The decomposition could not give a plan (time, or a county without one)."""


@dataclass
class VillageSplit:
    """The HiGHS form of a village model, split into county blocks and coupling rows."""

    cost: np.ndarray  # maximise cost·z
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray  # bool per column
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray  # row-wise matrix
    index: np.ndarray
    value: np.ndarray
    col_county: np.ndarray  # county of each column, −1 for the price-step columns
    row_county: np.ndarray  # county of each local row, −1 for a coupling row
    row_family: np.ndarray  # family name of each row
    n_counties: int

    @property
    def n_cols(self) -> int:
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        return len(self.row_lower)

    def lhs(self, z: np.ndarray) -> np.ndarray:
        rows = np.repeat(np.arange(self.n_rows), np.diff(self.start))
        return np.bincount(rows, weights=self.value * z[self.index], minlength=self.n_rows)


def split_villages(M: ModelMatrix, data: Any) -> VillageSplit:
    """County of every column and row of the array model `M` of a village instance (model/matrix.py).

    A row's scope comes from its family (`optimizer.model.build.SCOPE`), never from the
    matrix: village, township and county rows are local to the county of their columns;
    a basin row is local when its townships lie in one county; the rest couple counties.
    """
    n_col = M.n_cols
    col_county = np.full(n_col, -1, dtype=np.int64)
    col_county[: M.n_x] = M.county
    if M.y_keys:
        ci = {c: k for k, c in enumerate(M.counties)}
        town_county = data.townships["county"].map(ci)
        col_county[M.y_start:] = town_county.reindex([t for t, _ in M.y_keys]).to_numpy()
    integer = np.ones(n_col, dtype=bool)
    integer[M.n_x:M.y_start] = False
    upper = np.ones(n_col)
    upper[M.n_x:M.y_start] = np.inf
    families, row_lower, row_upper, rr, cc, vv = [], [], [], [], [], []
    at = 0
    for name, block in M.blocks.items():
        families.append(np.full(block.n, name, dtype=object))
        row_lower.append(block.lower)
        row_upper.append(block.upper)
        rr.append(block.rows + at)
        cc.append(block.cols)
        vv.append(block.vals)
        at += block.n
    n_row = at
    rows, cols, vals = np.concatenate(rr), np.concatenate(cc), np.concatenate(vv)
    order = np.lexsort((cols, rows))
    rows, index, value = rows[order], cols[order], vals[order]
    start = np.searchsorted(rows, np.arange(n_row + 1))
    row_family = np.concatenate(families)
    row_county = np.full(n_row, -1, dtype=np.int64)
    lo_c = np.full(n_row, np.iinfo(np.int64).max)
    hi_c = np.full(n_row, -2, dtype=np.int64)
    np.minimum.at(lo_c, rows, col_county[index])
    np.maximum.at(hi_c, rows, col_county[index])
    for fam in M.blocks:
        scope = SCOPE.get(fam, "instance")
        sel = row_family == fam
        if scope in ("village", "township", "unit", "county", "basin"):
            one = sel & (lo_c == hi_c) & (lo_c >= 0)
            if scope != "basin" and not np.array_equal(one, sel):
                raise NoVillagePlan(f"rows of {fam} span counties")
            row_county[one] = lo_c[one]
    return VillageSplit(
        cost=M.cost.copy(), lower=np.zeros(n_col), upper=upper, integer=integer,
        row_lower=np.concatenate(row_lower), row_upper=np.concatenate(row_upper),
        start=start, index=index, value=value, col_county=col_county, row_county=row_county,
        row_family=row_family, n_counties=len(M.counties),
    )  # fmt: skip


def _sub(S: VillageSplit, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise triplets (start, index, value) of the rows × cols submatrix."""
    cpos = np.full(S.n_cols, -1, dtype=np.int64)
    cpos[cols] = np.arange(len(cols))
    seg_r, seg_c, seg_v = [], [], []
    for k, r in enumerate(rows.tolist()):
        a, b = S.start[r], S.start[r + 1]
        c = cpos[S.index[a:b]]
        keep = c >= 0
        seg_r.append(np.full(int(keep.sum()), k))
        seg_c.append(c[keep])
        seg_v.append(S.value[a:b][keep])
    rr = np.concatenate(seg_r) if seg_r else np.zeros(0, dtype=np.int64)
    cc = np.concatenate(seg_c) if seg_c else np.zeros(0, dtype=np.int64)
    vv = np.concatenate(seg_v) if seg_v else np.zeros(0)
    o = np.lexsort((rr, cc))
    return np.searchsorted(cc[o], np.arange(len(cols) + 1)), rr[o], vv[o]


def _highs(cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, integer: np.ndarray | None,
           row_lower: np.ndarray, row_upper: np.ndarray, csc: tuple, options: dict[str, Any]) -> highspy.Highs:
    """A HiGHS model minimising −cost (a maximisation written as HiGHS minimises)."""
    from optimizer.solve.decompose.highs_models import new_highs

    h = new_highs()
    for k, v in options.items():
        h.setOptionValue(k, v)
    lp = highspy.HighsLp()
    n = len(cost)
    lp.num_col_, lp.num_row_ = n, len(row_lower)
    lp.col_cost_ = -cost
    lp.col_lower_, lp.col_upper_ = lower, upper
    lp.row_lower_, lp.row_upper_ = np.maximum(row_lower, -INF), np.minimum(row_upper, INF)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc[0].astype(np.int32)
    lp.a_matrix_.index_ = csc[1].astype(np.int32)
    lp.a_matrix_.value_ = csc[2]
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, len(row_lower)
    if integer is not None:
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        raise NoVillagePlan("HiGHS refused a county model")
    return h


@dataclass
class _Coupling:
    """Coupling rows as "≤" rows G z ≤ g (a "≥" row negated), G as one dense-by-county use table."""

    rows: np.ndarray  # model row of each ≤ row
    sign: np.ndarray
    rhs: np.ndarray
    G: list[tuple[np.ndarray, np.ndarray]]  # per ≤ row: (columns, coefficients)
    hard: np.ndarray  # False for a price-step row (its o column absorbs any excess)

    @property
    def n(self) -> int:
        return len(self.rhs)

    def use(self, z: np.ndarray) -> np.ndarray:
        return np.array([float(v @ z[c]) for c, v in self.G])

    def priced(self, lam: np.ndarray, n_cols: int) -> np.ndarray:
        out = np.zeros(n_cols)
        for k, (c, v) in enumerate(self.G):
            np.add.at(out, c, lam[k] * v)
        return out


def _coupling(S: VillageSplit) -> _Coupling:
    rows, sign, rhs, G, hard = [], [], [], [], []
    for r in np.flatnonzero(S.row_county < 0).tolist():
        a, b = S.start[r], S.start[r + 1]
        cols, vals = S.index[a:b], S.value[a:b]
        o_col = (S.col_county[cols] < 0).any()
        for s, bound in ((1.0, S.row_upper[r]), (-1.0, S.row_lower[r])):
            if np.isfinite(bound) and abs(bound) < INF:
                rows.append(r)
                sign.append(s)
                rhs.append(s * bound)
                G.append((cols, s * vals))
                hard.append(not o_col)
    return _Coupling(np.asarray(rows), np.asarray(sign), np.asarray(rhs), G, np.asarray(hard, dtype=bool))


def _lam_upper(S: VillageSplit, cp: _Coupling) -> np.ndarray:
    """λ_k ≤ −cost_j / a_kj for each price-step column j (else the Lagrangian is unbounded)."""
    ub = np.full(cp.n, np.inf)
    for k, (cols, vals) in enumerate(cp.G):
        o = S.col_county[cols] < 0
        for j, a in zip(cols[o].tolist(), vals[o].tolist()):
            if a < 0:
                ub[k] = min(ub[k], S.cost[j] / a)
    return ub


#: LP statuses after which simplex is not tried (it would not do better in the time left).
_LP_FINAL = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt)


def whole_lp(S: VillageSplit, threads: int = 1) -> highspy.Highs:
    """The LP relaxation of the whole model as a HiGHS model (columns continuous in their bounds)."""
    rows = np.repeat(np.arange(S.n_rows), np.diff(S.start))
    order = np.lexsort((rows, S.index))
    csc = (np.searchsorted(S.index[order], np.arange(S.n_cols + 1)), rows[order], S.value[order])
    # HiGHS's thread scheduler is set up once per thread with the first solve's count: the
    # count the direct solve of the same options would use, so that one can follow
    return _highs(S.cost, S.lower, S.upper, None, S.row_lower, S.row_upper, csc,
                  {"output_flag": False, "threads": threads})


@dataclass
class LpRelaxation:
    """What the decomposition takes from the whole model's LP relaxation (`lp_multipliers`)."""

    lam: np.ndarray  # multiplier of each coupling ≤ row (`_Coupling`), ≥ 0
    z: np.ndarray  # column values
    bound: float  # upper bound on the LP optimum (`_lp_dual_bound`)
    row_dual: np.ndarray  # HiGHS's row duals (of −cost minimised)


def lp_multipliers(h: highspy.Highs, S: VillageSplit, cp: _Coupling) -> LpRelaxation | None:
    """Duals of the coupling rows and the column values in the LP relaxation `h` (`whole_lp`), and its bound.

    The duals are near the best multipliers of the Lagrangian (the LP's own Lagrangian
    dual), and the LP's column values share the coupling rows among the counties in
    amounts that meet them together (the repair)."""
    saved = {key: h.getOptionValue(key)[1] for key in LP_OPTIONS}

    def use(options: dict[str, Any]) -> None:
        for key, value in options.items():
            h.setOptionValue(key, value)

    use(LP_OPTIONS)
    h.run()
    if h.getModelStatus() not in _LP_FINAL and not _near_optimal(h):
        log.info("the interior-point LP ended %s; solving it by simplex", h.getModelStatus().name)
        use(saved)
        h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal and not _near_optimal(h):
        return None
    sol = h.getSolution()
    dual = np.asarray(sol.row_dual)
    # `h` minimises −cost: the dual of a ≤ row is ≤ 0 there, and λ of a maximisation ≥ 0
    lam = np.clip(-cp.sign * dual[cp.rows], 0.0, _lam_upper(S, cp))
    return LpRelaxation(lam, np.asarray(sol.col_value), _lp_dual_bound(S, dual), dual)


#: Largest relative primal infeasibility of an interior point stopped at its own tolerance
#: (`LP_OPTIONS`) that is used as it is: HiGHS calls it "unknown" when its 1e-7 checks fail
#: after postsolve, but its duals still bound the LP (`_lp_dual_bound`) and its column
#: values only size the counties' shares, which sum to each row's bound whatever they are.
NEAR_OPTIMAL_PRIMAL = 1e-6


def _near_optimal(h: highspy.Highs) -> bool:
    """An interior point that stopped at `LP_OPTIONS`'s tolerance with a usable primal and dual solution."""
    if h.getModelStatus() != highspy.HighsModelStatus.kUnknown:
        return False
    sol, info = h.getSolution(), h.getInfo()
    return bool(sol.value_valid and sol.dual_valid and info.max_relative_primal_infeasibility <= NEAR_OPTIMAL_PRIMAL)


#: Duals smaller than this count as zero in the LP bound (HiGHS's dual feasibility tolerance).
DUAL_TOL = 1e-7


def _lp_dual_bound(S: VillageSplit, row_dual: np.ndarray) -> float:
    """An upper bound on the LP optimum (a maximisation) from any row duals of `whole_lp`.

    `whole_lp` minimises −cost·z over row_lower ≤ Az ≤ row_upper, lower ≤ z ≤ upper; for
    row duals y and d = −cost − Aᵀy (computed here, not taken from HiGHS, so that the
    bound holds exactly for the y it uses) its dual objective Σ_r y_r·(L_r if y_r > 0
    else U_r) + Σ_j d_j·(l_j if d_j > 0 else u_j) is a lower bound on the minimum whatever
    the duals (weak duality), so its negation bounds the maximum. A dual that would meet an
    infinite bound counts as zero when within HiGHS's tolerance, else there is no bound
    (+inf)."""
    county, rest = _dual_bound_parts(S, S.cost, row_dual)
    return float(county.sum() + rest)


def county_lp_bounds(S: VillageSplit, priced: np.ndarray, row_dual: np.ndarray) -> np.ndarray:
    """An upper bound on each county's priced subproblem (max priced·x over its own rows), from the LP's duals.

    Why: the Lagrangian bound needs a bound on every county's MIP under the prices; when
    the time limit stops the pricing pass before a county's MIP, the weak-duality bound of
    the county's LP relaxation, with the local rows' duals of the whole LP, stands in for
    it (valid for any duals, `_lp_dual_bound`), so a partial pass still tightens the bound."""
    local = np.where(S.row_county >= 0, row_dual, 0.0)
    county, _ = _dual_bound_parts(S, priced, local)
    return county


def _dual_bound_parts(S: VillageSplit, cost: np.ndarray, row_dual: np.ndarray) -> tuple[np.ndarray, float]:
    """`_lp_dual_bound` of maximising `cost`, split into each county's part (its local rows and
    columns) and the rest (coupling rows and price-step columns); +inf where a dual meets an
    infinite bound beyond tolerance."""
    rows = np.repeat(np.arange(S.n_rows), np.diff(S.start))
    col_dual = -cost - np.bincount(S.index, weights=S.value * row_dual[rows], minlength=S.n_cols)
    county = np.zeros(S.n_counties)
    rest = 0.0
    for mult, lo, up, owner in ((row_dual, S.row_lower, S.row_upper, S.row_county),
                                (col_dual, S.lower, S.upper, S.col_county)):
        side = np.where(mult > 0, lo, up)
        big = ~np.isfinite(side) | (np.abs(side) >= INF)
        term = np.where(big, 0.0, mult * np.where(big, 0.0, side))
        unbounded = big & (np.abs(mult) > DUAL_TOL)
        mine = owner >= 0
        county -= np.bincount(owner[mine], weights=term[mine], minlength=S.n_counties)
        county[np.unique(owner[mine & unbounded])] = np.inf
        rest -= float(term[~mine].sum())
        if (unbounded & ~mine).any():
            rest = np.inf
    return county, rest


class _County:
    """One county's MIP, kept between the pricing pass and the repair."""

    def __init__(self, S: VillageSplit, c: int, cp: _Coupling, gap: float = COUNTY_GAP) -> None:
        self.cols = np.flatnonzero(S.col_county == c)
        self.rows = np.flatnonzero(S.row_county == c)
        self.S = S
        self.model = _highs(S.cost[self.cols], S.lower[self.cols], S.upper[self.cols], S.integer[self.cols],
                            S.row_lower[self.rows], S.row_upper[self.rows], _sub(S, self.cols, self.rows),
                            {"threads": 1, "mip_rel_gap": gap})  # fmt: skip
        cpos = np.full(S.n_cols, -1, dtype=np.int64)
        cpos[self.cols] = np.arange(len(self.cols))
        self.coupling: list[tuple[np.ndarray, np.ndarray]] = []  # local (cols, coefs) of each ≤ coupling row
        for c_, v in cp.G:
            p = cpos[c_]
            keep = p >= 0
            self.coupling.append((p[keep].astype(np.int32), v[keep]))
        self.x: np.ndarray | None = None
        self.value = -np.inf
        self.bound = np.inf

    def use(self, x: np.ndarray) -> np.ndarray:
        return np.array([float(v @ x[c]) for c, v in self.coupling])

    def solve(self, priced_cost: np.ndarray, time_limit: float) -> bool:
        """Maximise `priced_cost` (one entry per local column) over the county; False without a plan."""
        h = self.model
        h.changeColsCost(len(self.cols), np.arange(len(self.cols), dtype=np.int32), -priced_cost)
        h.setOptionValue("time_limit", max(0.05, time_limit))
        h.run()
        info = h.getInfo()
        if info.primal_solution_status != 2:
            return False
        self.x = np.asarray(h.getSolution().col_value).copy()
        self.value = -info.objective_function_value
        db = info.mip_dual_bound
        self.bound = -db if abs(db) < 1e300 else np.inf
        self.bound = max(self.bound, self.value)
        return True

    def add_shares(self, cap: np.ndarray, hard: np.ndarray) -> None:
        """The county's shares of the hard coupling rows, as rows of its own MIP."""
        for (c, v), b, keep in zip(self.coupling, cap, hard):
            if keep and len(c):
                self.model.addRow(-INF, float(b), len(c), c, v)


def _restricted_master(S: VillageSplit, cp: _Coupling, counties: list[_County], plans: list[list[np.ndarray]],
                       time_limit: float, threads: int = 1) -> list[int] | None:
    """One plan per county (its priced plan or its repaired one) meeting the coupling rows, at the best value."""
    rows, cols, vals, cost = [], [], [], []
    k = 0
    for ci, (c, options) in enumerate(zip(counties, plans)):
        for x in options:
            cost.append(float(S.cost[c.cols] @ x))
            rows.append(ci)
            cols.append(k)
            vals.append(1.0)
            for j, u in enumerate(c.use(x).tolist()):
                if u != 0.0:
                    rows.append(len(counties) + j)
                    cols.append(k)
                    vals.append(u)
            k += 1
    o_cols = np.flatnonzero(S.col_county < 0)
    for n, oc in enumerate(o_cols.tolist()):
        cost.append(float(S.cost[oc]))
        for j, (c_, v) in enumerate(cp.G):
            hit = np.flatnonzero(c_ == oc)
            if len(hit):
                rows.append(len(counties) + j)
                cols.append(k + n)
                vals.append(float(v[hit[0]]))
    n_col = k + len(o_cols)
    r, c, v = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(vals)
    o = np.lexsort((r, c))
    csc = (np.searchsorted(c[o], np.arange(n_col + 1)), r[o], v[o])
    integer = np.r_[np.ones(k, dtype=bool), np.zeros(len(o_cols), dtype=bool)]
    h = _highs(np.asarray(cost), np.zeros(n_col), np.r_[np.ones(k), S.upper[o_cols]], integer,
               np.r_[np.ones(len(counties)), np.full(cp.n, -np.inf)], np.r_[np.ones(len(counties)), cp.rhs], csc,
               {"mip_rel_gap": 1e-6, "time_limit": time_limit, "threads": threads})  # fmt: skip
    run = h.run()
    if h.getInfo().primal_solution_status != 2:
        log.info("village decomposition: restricted master without a plan (%s, %s)", run,
                 h.modelStatusToString(h.getModelStatus()))
        return None
    y = np.asarray(h.getSolution().col_value)[:k]
    out, at = [], 0
    for options in plans:
        out.append(int(np.argmax(y[at:at + len(options)])))
        at += len(options)
    return out


def solve_villages(M: ModelMatrix, data: Any, options: SolveOptions, deadline: float,
                   workers: int = 2) -> tuple[SolveOutcome, np.ndarray, dict[str, Any]]:
    """Decompose the village model `M` (model/matrix.py) by county: the outcome, the plan's
    column values z and the statistics. Raises NoVillagePlan without a plan."""
    lines: list[str] = []
    t0 = time.perf_counter()

    def note(text: str) -> None:
        lines.append(f"{time.perf_counter() - t0:8.2f}s  {text}")
        log.info("village decomposition: %s", text)

    stats: dict[str, Any] = {}
    S = split_villages(M, data)
    cp = _coupling(S)
    note(f"{S.n_counties} counties, {S.n_cols} columns, {S.n_rows} rows; {cp.n} coupling rows: "
         + ", ".join(sorted({str(S.row_family[r]) for r in cp.rows})))
    t = time.perf_counter()
    got = lp_multipliers(whole_lp(S, options.threads), S, cp)
    stats["lp_s"] = time.perf_counter() - t
    if got is None:
        raise NoVillagePlan("the LP relaxation was not solved")
    lam, z_lp, lp_bound = got.lam, got.z, got.bound
    stats["lp_value"] = float(S.cost @ z_lp)
    stats["lp_bound"] = lp_bound
    bound = lp_bound
    note(f"LP relaxation {stats['lp_value']:.10g}, bound {lp_bound:.10g} ({stats['lp_s']:.1f} s); multipliers "
         + ", ".join(f"{x:.4g}" for x in lam))
    priced = S.cost - cp.priced(lam, S.n_cols)

    def run_all(tag: str, group: list[_County], strict: bool, first: list[int] | None = None,
                until: float | None = None, feasible_only: bool = False) -> list[bool]:
        """Solve every county of `group` on `workers` threads, sharing the time left (to `until`,
        else the deadline) evenly.

        `strict`: every county must give a plan. `first`: counties to solve before the others.
        `feasible_only`: any plan within the county's rows will do (a zero objective, which
        HiGHS proves optimal with its first plan)."""
        done = [0]
        head = list(first or [])
        in_head = set(head)
        order = head + [k for k in range(len(group)) if k not in in_head]
        end = deadline if until is None else until

        def one(k: int) -> bool:
            left = end - time.monotonic()
            if left <= 0:
                return False
            waiting = max(1, len(group) - done[0])
            share = left * max(1, workers) / waiting
            cost = np.zeros(len(group[k].cols)) if feasible_only else priced[group[k].cols]
            ok = group[k].solve(cost, min(COUNTY_SECONDS, max(COUNTY_MIN_SECONDS, share)))
            done[0] += 1
            return ok

        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            got = dict(zip(order, pool.map(one, order)))
        ok = [got[k] for k in range(len(group))]
        stats[f"{tag}_s"] = time.perf_counter() - t
        if strict and not all(ok):
            raise NoVillagePlan(f"{tag}: no plan for county {ok.index(False)} in time")
        return ok

    # 1. the plan: every county under the priced costs, held to its share of each hard
    #    coupling row: its use in the LP solution plus its part of the row's LP slack (the
    #    shares sum to the right-hand side, so the county plans together meet the row)
    t = time.perf_counter()
    shared = [_County(S, c, cp, REPAIR_GAP) for c in range(S.n_counties)]
    lp_use = np.array([c.use(z_lp[c.cols]) for c in shared])  # (n_c, n)
    weight = np.abs(lp_use)
    weight = np.where(weight.sum(axis=0) > 0, weight / np.maximum(weight.sum(axis=0), 1e-300), 1.0 / len(shared))
    margin = 1e-7 * np.maximum(1.0, np.abs(cp.rhs))
    share = lp_use + weight * (cp.rhs - lp_use.sum(axis=0) - margin) - CUSHION * np.abs(lp_use)
    for k, c in enumerate(shared):
        c.add_shares(share[k], cp.hard)
    stats["county_models_s"] = time.perf_counter() - t
    # the pass keeps back a little time for the counties it leaves without a plan
    recovery = min(RECOVERY_MAX_S, RECOVERY_PART * max(0.0, deadline - time.monotonic()))
    ok_a = run_all("shares", shared, strict=False, until=deadline - recovery)
    note(f"county plans within their LP shares: {sum(ok_a)} of {len(ok_a)} counties ({stats['shares_s']:.1f} s)")
    missing = [k for k, good in enumerate(ok_a) if not good]
    if missing and deadline - time.monotonic() > COUNTY_MIN_SECONDS:
        # any plan within the shares for those: the first one HiGHS finds
        found = run_all("shares_first_plan", [shared[k] for k in missing], strict=False, feasible_only=True)
        for k, good in zip(missing, found):
            ok_a[k] = good
        note(f"first plans within the shares: {sum(found)} of {len(missing)} counties ({stats['shares_first_plan_s']:.1f} s)")
    plans = [[c.x.copy()] if good else [] for c, good in zip(shared, ok_a)]

    # 2. the bound: every county free of shares under the same prices (the Lagrangian);
    #    its plans join the restricted master, which picks per county the shared or the free plan
    if deadline - time.monotonic() > 1.0:
        free = [_County(S, c, cp, COUNTY_GAP) for c in range(S.n_counties)]
        ok = run_all("pricing", free, strict=False, first=[k for k, good in enumerate(ok_a) if not good])
        # a county the pass did not reach is bounded by its LP relaxation under the prices;
        # λ ≤ _lam_upper keeps every price-step column's priced cost ≤ 0: its best value is 0
        county_bound = county_lp_bounds(S, priced, got.row_dual)
        for k, good in enumerate(ok):
            if good:
                county_bound[k] = min(county_bound[k], free[k].bound)
        lagrangian = float(county_bound.sum() + lam @ cp.rhs)
        stats["lagrangian_bound"] = lagrangian
        stats["pricing_counties"] = int(sum(ok))
        bound = min(bound, lagrangian)
        reached = "" if all(ok) else f"; {len(ok) - sum(ok)} counties bounded by their LP"
        note(f"pricing pass: {sum(ok)} of {len(ok)} counties in time, bound {lagrangian:.10g} "
             f"({stats['pricing_s']:.1f} s{reached})")
        for k, good in enumerate(ok):
            if good:
                plans[k].append(free[k].x.copy())
    if any(not p for p in plans):
        raise NoVillagePlan(f"no plan for county {next(k for k, p in enumerate(plans) if not p)} in time")
    if not all(ok_a) or any(len(p) > 1 for p in plans):
        t = time.perf_counter()
        best = _restricted_master(S, cp, shared, plans, max(0.5, min(20.0, deadline - time.monotonic())),
                                  options.threads)
        stats["restricted_master_s"] = time.perf_counter() - t
        retries = 0
        while best is None and not all(ok_a) and retries < len(RETRY_CUSHIONS):
            # a county found no plan within its share and the others left too little room:
            # the counties that did are solved again within smaller shares, for the master
            if deadline - time.monotonic() < 1.5 * stats["shares_s"]:
                break
            cushion = RETRY_CUSHIONS[retries]
            retries += 1
            again = [_County(S, c, cp, REPAIR_GAP) for c in range(S.n_counties) if ok_a[c]]
            for c in again:
                k = int(S.col_county[c.cols[0]])
                c.add_shares(share[k] - cushion * np.abs(lp_use[k]), cp.hard)
            ok_r = run_all("shares_again", again, strict=False)
            for c, good in zip(again, ok_r):
                if good:
                    plans[int(S.col_county[c.cols[0]])].append(c.x.copy())
            note(f"shares cut by {cushion:.0%} of the LP use: {sum(ok_r)} of {len(ok_r)} counties again")
            best = _restricted_master(S, cp, shared, plans, max(0.5, min(20.0, deadline - time.monotonic())),
                                      options.threads)
        if best is None and not all(ok_a):
            raise NoVillagePlan("no mix of the county plans meets the coupling rows")
        if best is not None:
            for k, c in enumerate(shared):
                c.x = plans[k][best[k]]
            note(f"restricted master: {sum(1 for b in best if b == 1)} of {len(best)} counties take their "
                 f"free plan")
    counties = shared

    z = np.zeros(S.n_cols)
    for c in counties:
        z[c.cols] = np.where(S.integer[c.cols], np.round(c.x), c.x)
    # price-step columns at their least value
    for j in range(cp.n):
        cols, vals = cp.G[j]
        o = S.col_county[cols] < 0
        if o.any() and cp.sign[j] > 0:
            x_part = float(vals[~o] @ z[cols[~o]])
            oc, ov = cols[o][0], vals[o][0]
            z[oc] = max(0.0, (x_part - cp.rhs[j]) / -ov)
    lhs = S.lhs(z)
    tol = ROW_TOL * np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(S.row_lower), S.row_lower, 0)),
                                               np.abs(np.where(np.isfinite(S.row_upper), S.row_upper, 0))))
    bad = np.flatnonzero((lhs > S.row_upper + tol) | (lhs < S.row_lower - tol))
    if len(bad):
        raise NoVillagePlan(f"the repaired plan breaks {len(bad)} rows, e.g. {S.row_family[bad[0]]}")
    objective = float(S.cost @ z)
    gap = relative_gap(objective, bound)
    note(f"plan {objective:.10g}, bound {bound:.10g}, gap {gap:.3e}")
    unit = M.objective_unit_yuan
    status = "optimal" if gap is not None and gap <= (options.gap or 0.0) + 1e-9 else (
        "time_limit_feasible" if time.monotonic() >= deadline else "stopped_feasible")
    termination = (f"Village decomposition: gap {gap:.2e} within {options.gap:g}" if status == "optimal"
                   else f"Village decomposition stopped at gap {gap:.2e}")
    seconds = time.perf_counter() - t0
    stats["seconds"] = seconds
    outcome = SolveOutcome(status=status, termination=termination, has_solution=True, objective=objective * unit,
                           bound=bound * unit, gap=gap, solve_seconds=seconds, transfer_seconds=0.0, mip_nodes=None,
                           log_text="\n".join(lines) + "\n")
    return outcome, z, stats
