"""The HiGHS models of the decomposition, built from arrays with highspy (no Pyomo).

- `county_mip`: one county's subproblem (when the compiled search gives up);
- `sample_lp`: the LP relaxation of a sample of counties, whose duals start the multipliers;
- `restricted_master`: one known plan per county, chosen so that the coupling rows hold;
- `neighbourhood_mip`: a group of counties free, every other township fixed (LNS).
"""

from __future__ import annotations

from typing import Any

import highspy
import numpy as np

INF = highspy.kHighsInf

#: Options of the small MIPs: the county models are tiny, HiGHS's heuristics only cost time there.
LEAN_MIP = {
    "mip_heuristic_run_feasibility_jump": False,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_allow_restart": False,
    "mip_detect_symmetry": False,
    "mip_heuristic_effort": 0.0,
}


_BANNER_SHOWN = False


def new_highs() -> highspy.Highs:
    """A silent Highs object. HiGHS prints its banner on the first construction in a
    process, straight to file descriptor 1; the CLI's stdout belongs to the results, so
    that first construction writes into /dev/null."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        import os
        import sys

        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


class Stop:
    """When the decomposition must stop: its deadline passed, or the user pressed Ctrl-C.

    Installed as the SIGINT handler while the decomposition runs (main thread only): the
    first Ctrl-C stops it with the best plan so far, like a time limit; a second one
    aborts. HiGHS models of the decomposition get it as their interrupt callback, so a
    long restricted master or neighbourhood stops too.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.interrupted = False
        self._previous: Any = None

    def __call__(self) -> bool:
        import time

        return self.interrupted or time.monotonic() >= self.deadline

    def __enter__(self) -> Stop:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        import logging

        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        logging.getLogger(__name__).warning("Ctrl-C: stopping the decomposition and keeping the best plan so far "
                                            "(press again to abort)")

    def watch(self, h: highspy.Highs) -> None:
        """Let HiGHS stop when this does."""

        def callback(event: Any) -> None:
            if self():
                event.interrupt()

        for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
            cb.subscribe(callback)


STOP: Stop | None = None  # the decomposition's stop while it runs (set by decompose())


def highs_from_triplets(
    cost: np.ndarray, col_lower: np.ndarray, col_upper: np.ndarray, integer: np.ndarray | None,
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray,
    *, maximize: bool = True, options: dict[str, Any] | None = None,
) -> highspy.Highs:
    """A Highs object holding max/min cost·z s.t. row_lower ≤ A z ≤ row_upper, bounds, integrality."""
    h = new_highs()
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    n, n_rows = len(cost), len(row_lower)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = n_rows
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.where(np.isinf(col_upper), INF, col_upper).astype(np.float64)
    lp.row_lower_ = np.where(np.isinf(row_lower), -INF, row_lower).astype(np.float64)
    lp.row_upper_ = np.where(np.isinf(row_upper), INF, row_upper).astype(np.float64)
    order = np.lexsort((rows, cols))
    c_sorted = np.asarray(cols)[order]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(c_sorted, np.arange(n + 1)).astype(np.int32)
    lp.a_matrix_.index_ = np.asarray(rows)[order].astype(np.int32)
    lp.a_matrix_.value_ = np.asarray(vals, dtype=np.float64)[order]
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = n_rows
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    if integer is not None and integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    if STOP is not None:
        STOP.watch(h)
    return h


def _county_rows(S: Any, counties: np.ndarray, first_col: dict[int, int]) -> tuple[list, list, list, list, list]:
    """One-choice rows per township and the local row slots of `counties`, over their choices.

    Columns are choice indices relative to the group's first choice (`first_col[c]` is the
    column of county c's first choice).
    """
    rows, cols, vals, lo, up = [], [], [], [], []
    r = 0
    for c in counties:
        t0, t1 = S.county_tstart[c], S.county_tstart[c + 1]
        ch0 = S.t_start[t0]
        n_ch = S.t_start[t1] - ch0
        town_of = np.repeat(np.arange(t1 - t0), np.diff(S.t_start[t0:t1 + 1]))
        off = first_col[c]
        rows.append(r + town_of)
        cols.append(off + np.arange(n_ch))
        vals.append(np.ones(n_ch))
        lo.append(np.ones(t1 - t0))
        up.append(np.ones(t1 - t0))
        r += t1 - t0
        use = S.ch_use[ch0:ch0 + n_ch]
        for j in range(S.n_slots):
            if not np.isfinite(S.cap[c, j]):
                continue
            nz = np.flatnonzero(use[:, j])
            rows.append(np.full(len(nz), r))
            cols.append(off + nz)
            vals.append(use[nz, j])
            lo.append([-np.inf])
            up.append([S.cap[c, j]])
            r += 1
    return rows, cols, vals, lo, up


def county_mip(S: Any, c: int, priced_choice: np.ndarray, time_limit: float) -> tuple[highspy.Highs, int]:
    """County c alone at priced choice values; returns (model, index of its first choice)."""
    first = int(S.t_start[S.county_tstart[c]])
    last = int(S.t_start[S.county_tstart[c + 1]])
    rows, cols, vals, lo, up = _county_rows(S, np.array([c]), {c: 0})
    n = last - first
    return highs_from_triplets(
        priced_choice[first:last], np.zeros(n), np.ones(n), np.ones(n, dtype=bool),
        np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
        np.concatenate([np.asarray(x, float) for x in lo]), np.concatenate([np.asarray(x, float) for x in up]),
        options={**LEAN_MIP, "mip_rel_gap": 0.0, "mip_abs_gap": 1e-9, "time_limit": time_limit, "threads": 1},
    ), first


def group_model(S: Any, counties: np.ndarray, cost_choice: np.ndarray, coupling_rhs: np.ndarray | None,
                coupling_dense: np.ndarray | None, relax: bool, options: dict[str, Any]) -> tuple[highspy.Highs, np.ndarray]:
    """Counties of a group with their choices as columns (+ o columns when the coupling rows are in).

    `coupling_dense` (n_choices_of_group × G) and `coupling_rhs` (G) add the coupling rows
    as "≤" rows over the group's columns followed by the price-step columns, whose row
    coefficients and costs come from the structure. Returns (model, choice index of each
    column, −1 for price-step columns).
    """
    counties = np.asarray(counties, dtype=np.int64)
    spans = [(int(S.t_start[S.county_tstart[c]]), int(S.t_start[S.county_tstart[c + 1]])) for c in counties]
    first_col, off = {}, 0
    for c, (a, b) in zip(counties.tolist(), spans):
        first_col[c] = off
        off += b - a
    choice_of_col = np.concatenate([np.arange(a, b) for a, b in spans]) if spans else np.zeros(0, dtype=np.int64)
    n_x = len(choice_of_col)
    rows, cols, vals, lo, up = _county_rows(S, counties, first_col)
    r0 = int(sum(len(x) for x in lo))
    M = S.matrix
    cp = S.coupling
    n_o = M.n_cols - M.n_x
    cost = cost_choice[choice_of_col]
    if coupling_rhs is not None:
        nz_r, nz_c = np.nonzero(coupling_dense.T)
        rows.append(r0 + nz_r)
        cols.append(nz_c)
        vals.append(coupling_dense[nz_c, nz_r])
        o_sel = cp.cols >= M.n_x
        rows.append(r0 + cp.rows[o_sel])
        cols.append(n_x + (cp.cols[o_sel] - M.n_x))
        vals.append(cp.vals[o_sel])
        lo.append(np.full(cp.n, -np.inf))
        up.append(coupling_rhs)
        cost = np.r_[cost, M.cost[M.n_x:]]
        choice_of_col = np.r_[choice_of_col, np.full(n_o, -1)]
    n = len(cost)
    integer = None if relax else (choice_of_col >= 0)
    h = highs_from_triplets(
        cost, np.zeros(n), np.where(choice_of_col >= 0, 1.0, np.inf), integer,
        np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
        np.concatenate([np.asarray(x, float) for x in lo]), np.concatenate([np.asarray(x, float) for x in up]),
        options=options,
    )
    return h, choice_of_col
