"""County subproblems, solved exactly: a compiled branch and bound, HiGHS where it gives up.

A county subproblem (under multipliers λ on the coupling rows) is: choose one pair per
township, maximise Σ (cost − Aᵀλ) over the chosen pairs, subject to the county's own
rows (water, grid, conservation share, a basin inside the county). It has ~15 townships
with 2–4 pairs each and 1–3 rows.

Why not HiGHS for every county: on this machine HiGHS took 9–25 ms per county MIP
(most of it MIP set-up: presolve, clique table, heuristics, restarts; measured with
every heuristic and restart switched off as well), i.e. 30–80 s for one pricing pass
over the 3,334 counties of a 50,000-township instance. The depth-first branch and bound
in `_kernel.py` needs ~0.13 ms per county (0.4 s per pass at 50,000), gives the same
optimum (largest difference 6e-10 over 334 counties against HiGHS at gap 0;
`tests/test_decompose.py` compares them on random counties), and hands a county to
HiGHS only when its node budget runs out.

Bound at a node (depth d, value V, row use A): V + μ·(b − A) + Σ_{t ≥ d} max_j (v_j − μ·a_j),
valid for any μ ≥ 0 (the Lagrangian of the county's remaining rows); μ is a rough LP
dual from a few dozen subgradient steps, kept between calls. Choices are tried in
decreasing v − μ·a, so once the bound of one choice fails, all later ones fail too.

The data of a range of counties lives in a `CountyChunk`, which is all a worker process
or a Dask worker needs: it receives λ and returns each county's best plan and value.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

#: Nodes one county may use in the compiled search before HiGHS takes it over.
NODE_LIMIT = 2_000_000
#: Relative tolerance of row checks and of "cannot beat the incumbent".
TOL = 1e-9
#: Subgradient steps for each county's μ per call.
MU_ITERS = 60
#: Seconds HiGHS may spend on one county the compiled search gave up on.
HIGHS_COUNTY_SECONDS = 10.0

try:  # numba compiles the kernel once per machine (cached beside _kernel.py)
    from optimizer.solve.decompose._kernel import solve_counties as _compiled

    COMPILED = True
except ImportError as exc:  # pragma: no cover - numba is a dependency; this keeps the tool usable without it
    log.warning("numba unavailable (%s): county subproblems go to HiGHS, much slower", exc)
    COMPILED = False


class CountyInfeasible(Exception):
    """A county cannot meet its own rows with any plan: the instance is infeasible."""

    def __init__(self, county: str, rows: list[str]) -> None:
        super().__init__(f"county {county} cannot meet its own limits ({', '.join(rows) or 'none'}) with any plan")
        self.county = county
        self.rows = rows


@dataclass
class ChunkAnswer:
    """Best plan of each county of a chunk under one λ, with a valid upper bound on its value."""

    value: np.ndarray  # (n_counties,) priced value of the plan found
    bound: np.ndarray  # (n_counties,) ≥ the county's true maximum (value + tolerance when exact)
    choice: np.ndarray  # (n_townships,) global choice index of each township's pick
    highs_counties: int
    seconds: float


@dataclass
class CountyChunk:
    """Counties [first, first + n) of a structure: the arrays the search needs, local indices."""

    first: int  # global index of the chunk's first county
    first_choice: int  # global index of its first choice
    counties: list[str]
    slot_rows: list[list[str]]
    county_tstart: np.ndarray  # local townships
    t_start: np.ndarray  # local choices
    ch_use: np.ndarray
    cap: np.ndarray
    cost: np.ndarray  # objective of each choice (model units)
    coupling: np.ndarray  # (n_choices × G) coupling use of each choice
    mu: np.ndarray = field(default=None)  # type: ignore[assignment]  # (n_counties × slots), kept between calls
    #: Each township's last pick (local choice index, −1 before the first): the plan each
    #: county's search starts from at the next prices (`_kernel._county_bb`, `start`).
    last: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.mu is None:
            self.mu = np.zeros(self.cap.shape)
        if self.last is None:
            self.last = np.full(int(self.county_tstart[-1]), -1, dtype=np.int64)

    @property
    def n_counties(self) -> int:
        return len(self.counties)

    @property
    def n_slots(self) -> int:
        return self.cap.shape[1]

    def price(self, lam: np.ndarray, todo: np.ndarray | None = None) -> ChunkAnswer:
        """Each county's best plan at multipliers λ (only counties with `todo`, when given)."""
        t0 = time.perf_counter()
        v = self.cost - self.coupling @ lam if len(lam) else self.cost.copy()
        return self.solve(np.ascontiguousarray(v, dtype=np.float64), todo, t0)

    def solve(self, v: np.ndarray, todo: np.ndarray | None = None, t0: float | None = None) -> ChunkAnswer:
        t0 = time.perf_counter() if t0 is None else t0
        n_c = self.n_counties
        todo = np.ones(n_c, dtype=bool) if todo is None else np.asarray(todo, dtype=bool)
        cap = np.where(np.isfinite(self.cap), self.cap, 1e300)
        choice = np.full(int(self.county_tstart[-1]), -1, dtype=np.int64)
        value = np.full(n_c, -np.inf)
        status = np.zeros(n_c, dtype=np.int64)
        if COMPILED:
            nodes = np.zeros(n_c, dtype=np.int64)
            _compiled(self.county_tstart, self.t_start, v, np.ascontiguousarray(self.ch_use), cap, self.mu,
                      NODE_LIMIT, MU_ITERS, TOL, todo, self.last, choice, value, status, nodes)
        else:
            status[todo] = 1
        if (todo & (status == 2)).any():
            c = int(np.flatnonzero(todo & (status == 2))[0])
            raise CountyInfeasible(self.counties[c], self.slot_rows[c])
        finite = np.isfinite(value)
        bound = np.where(finite, value + TOL * np.maximum(1.0, np.abs(np.where(finite, value, 0.0))), np.nan)
        hard = np.flatnonzero(todo & (status == 1))
        deadline = time.monotonic() + HIGHS_COUNTY_SECONDS * max(1, len(hard))
        for c in hard.tolist():
            val, bnd, picks = _highs_county(self, c, v, max(0.1, min(HIGHS_COUNTY_SECONDS, deadline - time.monotonic())))
            value[c], bound[c] = val, bnd
            choice[self.county_tstart[c]:self.county_tstart[c + 1]] = picks
        if len(hard):
            log.info("decomposition: %d counties went to HiGHS (node budget)", len(hard))
        self.last = np.where(choice >= 0, choice, self.last)
        out = np.where(choice >= 0, choice + self.first_choice, -1)
        return ChunkAnswer(value, np.where(todo, bound, np.nan), out, len(hard), time.perf_counter() - t0)


def _highs_county(chunk: CountyChunk, c: int, v: np.ndarray, time_limit: float) -> tuple[float, float, np.ndarray]:
    """One county as a HiGHS MIP: (value, bound, local choice index per township)."""
    import highspy

    from optimizer.solve.decompose.highs_models import county_mip

    h, first = county_mip(chunk, c, v, time_limit)
    h.run()
    info = h.getInfo()
    if info.primal_solution_status != 2:
        if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
            raise CountyInfeasible(chunk.counties[c], chunk.slot_rows[c])
        raise RuntimeError(f"HiGHS found no plan for county {chunk.counties[c]} in {time_limit:.1f} s")
    x = np.asarray(h.getSolution().col_value)
    chosen = np.flatnonzero(x > 0.5) + first
    towns = np.searchsorted(chunk.t_start, chosen, side="right") - 1
    picks = np.empty(chunk.county_tstart[c + 1] - chunk.county_tstart[c], dtype=np.int64)
    picks[towns - chunk.county_tstart[c]] = chosen
    bound = info.mip_dual_bound if abs(info.mip_dual_bound) < 1e300 else info.objective_function_value
    return float(info.objective_function_value), float(max(bound, info.objective_function_value)), picks


def chunk_of(S: object, first: int, last: int, start: np.ndarray | None = None) -> CountyChunk:
    """Counties [first, last) of structure S as a self-contained chunk; `start` (a global
    choice per township, −1 where none, such as a previous solve's county optima) is the
    plan its searches start from."""
    from optimizer.solve.decompose.dual import coupling_of_choices

    ct = S.county_tstart  # type: ignore[attr-defined]
    ts = S.t_start  # type: ignore[attr-defined]
    t0, t1 = int(ct[first]), int(ct[last])
    ch0, ch1 = int(ts[t0]), int(ts[t1])
    return CountyChunk(
        first=first,
        first_choice=ch0,
        counties=S.counties[first:last],  # type: ignore[attr-defined]
        slot_rows=S.slot_rows[first:last],  # type: ignore[attr-defined]
        county_tstart=(ct[first:last + 1] - t0).astype(np.int64),
        t_start=(ts[t0:t1 + 1] - ch0).astype(np.int64),
        ch_use=np.ascontiguousarray(S.ch_use[ch0:ch1]),  # type: ignore[attr-defined]
        cap=S.cap[first:last].copy(),  # type: ignore[attr-defined]
        cost=S.matrix.cost[S.ch_col[ch0:ch1]].copy(),  # type: ignore[attr-defined]
        coupling=np.ascontiguousarray(coupling_of_choices(S)[ch0:ch1]),
        last=None if start is None else np.where(start[t0:t1] >= 0, start[t0:t1] - ch0, -1).astype(np.int64),
    )
