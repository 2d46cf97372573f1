"""The Lagrangian dual: multipliers on the coupling rows, by a box-step cutting-plane method.

For multipliers λ ≥ 0 on the coupling rows A z ≤ b (price-step columns bound λ above,
see structure.py), the Lagrangian

    L(λ) = λ·b + Σ_c max_{county plans x_c} (cost − Aᵀλ)·x_c

is an upper bound on every plan's objective; its minimum over λ is as strong as the LP
over each county's plans (the county subproblems keep their integrality, which the LP
of the whole model does not: 0.8% of a county's value on average at 5,000 townships).

Update rule: each county plan found at any λ is a cut θ_c ≥ v_cj − a_cj·λ; the master
minimises λ·b + Σ_c θ_c over those cuts within a box around the best λ so far (box-step
stabilisation: a serious step moves the centre and doubles the box when the bound fell
by at least half of what the master predicted; a null step shrinks it). One cut per
county, not one per iteration, is what makes it converge in ~6–10 pricing passes on the
generated instances (5,000 townships: 6 passes to a relative change below 1e-9), where
a plain subgradient method needs hundreds. The master's row duals are the weights of
the county plans in the Dantzig–Wolfe form of the same LP, which the primal side uses.

Start: the LP duals of the coupling rows on a sample of counties (their right-hand
sides scaled by the sample's share of each row's coefficients) — the duals of the full
LP, which takes 39 CPU-s at 50,000 townships, are nearly the same at every size
(budget 149–155, citrus market 42–43 at 1,000–20,000), and the sample LP costs 0.02 s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import highspy
import numpy as np

from optimizer.solve.decompose.highs_models import INF, group_model, new_highs

log = logging.getLogger(__name__)

#: Share of counties in the sample LP that starts the multipliers (at least SAMPLE_MIN counties).
SAMPLE_SHARE = 0.1
SAMPLE_MIN = 20


def sample_duals(S: object, rng: np.random.Generator) -> np.ndarray:
    """Multipliers from the LP relaxation of a sample of counties (see the module docstring)."""
    n_c = S.n_counties  # type: ignore[attr-defined]
    k = min(n_c, max(SAMPLE_MIN, int(round(SAMPLE_SHARE * n_c))))
    sample = np.sort(rng.choice(n_c, size=k, replace=False)) if k < n_c else np.arange(n_c)
    cp = S.coupling  # type: ignore[attr-defined]
    if cp.n == 0:
        return np.zeros(0)
    dense = coupling_of_choices(S)
    chosen = np.concatenate([np.arange(*_span(S, c)) for c in sample])
    mass_all = np.abs(dense).sum(axis=0)
    mass = np.abs(dense[chosen]).sum(axis=0)
    ratio = np.divide(mass, mass_all, out=np.ones_like(mass), where=mass_all > 0)
    cost = S.matrix.cost[S.ch_col]  # type: ignore[attr-defined]
    h, _ = group_model(S, sample, cost, cp.rhs * ratio, dense[chosen], relax=True, options={"threads": 1})
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        log.info("sample LP: %s; multipliers start at 0", h.modelStatusToString(h.getModelStatus()))
        return np.zeros(cp.n)
    duals = np.asarray(h.getSolution().row_dual)[-cp.n:]
    return cp.project(duals)


def _span(S: object, c: int) -> tuple[int, int]:
    return int(S.t_start[S.county_tstart[c]]), int(S.t_start[S.county_tstart[c + 1]])  # type: ignore[attr-defined]


def coupling_of_choices(S: object) -> np.ndarray:
    """(n_choices × G) coupling use of every choice, computed once per structure."""
    cached = getattr(S, "_coupling_dense", None)
    if cached is not None:
        return cached
    M = S.matrix  # type: ignore[attr-defined]
    cp = S.coupling  # type: ignore[attr-defined]
    per_col = np.zeros((M.n_x, cp.n))
    x = cp.cols < M.n_x
    np.add.at(per_col, (cp.cols[x], cp.rows[x]), cp.vals[x])
    dense = per_col[S.ch_col]  # type: ignore[attr-defined]
    S._coupling_dense = dense  # type: ignore[attr-defined]
    return dense


def choice_costs(S: object) -> np.ndarray:
    """Objective coefficient of every choice, computed once per structure."""
    cached = getattr(S, "_choice_costs", None)
    if cached is None:
        cached = S.matrix.cost[S.ch_col]  # type: ignore[attr-defined]
        S._choice_costs = cached  # type: ignore[attr-defined]
    return cached


@dataclass
class Cuts:
    """Every county plan seen so far: the pool the master and the primal side draw from."""

    county: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)  # objective of the county plan (model units)
    use: list[np.ndarray] = field(default_factory=list)  # its coupling use (G,)
    plan: list[np.ndarray] = field(default_factory=list)  # choice index of each of its townships
    #: (county, plan bytes) → index of the entry: no plan twice, and a plan's column in a master
    seen: dict[tuple[int, bytes], int] = field(default_factory=dict)
    #: (list the arrays were made from, county, value, use): `arrays`, extended as entries are added
    _arrays: tuple[list[int], np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False,
                                                                                compare=False)

    def __len__(self) -> int:
        return len(self.county)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(county, value, coupling use (entries × G)) of every entry as arrays, only the new
        entries converted since the last call. Why: the masters read the whole pool at every
        call, and turning ~800 entries from lists into arrays each time cost a warm sweep point
        about a millisecond (budget sweep at 5,000 townships). Entries are only appended, never
        changed (`take_over` makes new lists), so an array made from the same list stays right."""
        K = len(self.county)
        held = self._arrays
        if held is not None and held[0] is self.county and len(held[1]) <= K:
            _, county, value, use = held
            if len(county) == K:
                return county, value, use
            k0 = len(county)
        else:
            county, value, k0 = np.zeros(0, dtype=np.int64), np.zeros(0), 0
            use = None
        new_use = np.asarray(self.use[k0:], dtype=np.float64)
        if use is None or not len(use):
            use = new_use
        elif len(new_use):
            use = np.vstack([use, new_use.reshape(len(new_use), use.shape[1])])
        county = np.concatenate([county, np.asarray(self.county[k0:], dtype=np.int64)])
        value = np.concatenate([value, np.asarray(self.value[k0:], dtype=np.float64)])
        self._arrays = (self.county, county, value, use)
        return county, value, use

    def add(self, S: object, choice: np.ndarray, counties: np.ndarray | None = None) -> list[int]:
        """Add each county's plan from a full choice vector; returns the indices of new entries."""
        new = []
        ct = S.county_tstart  # type: ignore[attr-defined]
        for c in (range(S.n_counties) if counties is None else counties):  # type: ignore[attr-defined]
            if self.add_plan(S, int(c), choice[ct[c]:ct[c + 1]]):
                new.append(len(self.county) - 1)
        return new

    def add_plans(self, S: object, plans: list[tuple[int, np.ndarray]]) -> int:
        """Add many (county, plan) pairs at once, values and coupling use summed in one pass
        (`np.add.reduceat`); returns how many were new. Why: a warm start hands over
        hundreds of remembered plans, and one `add_plan` each cost a fifth of a warm point."""
        fresh, seen, added = [], set(), 0
        for c, seg in plans:
            if not len(seg):  # a county without townships (reduceat cannot sum an empty slice)
                added += self.add_plan(S, int(c), seg)
                continue
            key = (int(c), seg.tobytes())
            if key not in self.seen and key not in seen and not (seg < 0).any():
                seen.add(key)
                fresh.append((key, seg))
        if not fresh:
            return added
        segs = [seg for _, seg in fresh]
        starts = np.cumsum([0] + [len(x) for x in segs[:-1]])
        flat = np.concatenate(segs)
        values = np.add.reduceat(choice_costs(S)[flat], starts)
        uses = np.add.reduceat(coupling_of_choices(S)[flat], starts, axis=0)
        for (key, seg), v, u in zip(fresh, values.tolist(), uses):
            self.seen[key] = len(self.county)
            self.county.append(key[0])
            self.value.append(v)
            self.use.append(u)
            self.plan.append(seg.copy())
        return added + len(fresh)

    def add_known(self, counties: list[int], plans: list[np.ndarray], values: np.ndarray, uses: np.ndarray) -> int:
        """Add county plans whose values and coupling uses are already known (plans of a
        previous solve's pool, which held only whole plans, for counties whose data did not
        change); returns how many were new. In bulk: a warm start hands over hundreds."""
        keys = [(c, seg.tobytes()) for c, seg in zip(counties, plans)]
        fresh = []
        for k, key in enumerate(keys):
            if key not in self.seen:
                self.seen[key] = len(self.county) + len(fresh)
                fresh.append(k)
        self.county.extend(counties[k] for k in fresh)
        self.value.extend(values[fresh].tolist())
        self.use.extend(uses[fresh])
        self.plan.extend(plans[k] for k in fresh)
        return len(fresh)

    def take_over(self, other: Cuts, leave_out: list[int]) -> None:
        """Start as a copy of `other`'s entries except those at `leave_out` (sorted indices):
        a sweep point takes over the previous pool of county plans, less the changed counties'.
        The arrays are shared, not copied; no entry is ever changed in place."""
        if not leave_out:
            self.county, self.value = list(other.county), list(other.value)
            self.use, self.plan = list(other.use), list(other.plan)
            self.seen = dict(other.seen)
            return
        out = set(leave_out)
        keep = [k for k in range(len(other)) if k not in out]
        keys = list(other.seen)  # insertion order is index order
        self.county = [other.county[k] for k in keep]
        self.value = [other.value[k] for k in keep]
        self.use = [other.use[k] for k in keep]
        self.plan = [other.plan[k] for k in keep]
        self.seen = {keys[k]: n for n, k in enumerate(keep)}

    def add_plan(self, S: object, c: int, seg: np.ndarray) -> int:
        """Add county c's plan (its townships' choice indices); 1 if it was new, else 0."""
        key = (c, seg.tobytes())
        if key in self.seen or (seg < 0).any():
            return 0
        self.seen[key] = len(self.county)
        self.county.append(c)
        self.value.append(float(choice_costs(S)[seg].sum()))
        self.use.append(coupling_of_choices(S)[seg].sum(axis=0))
        self.plan.append(seg.copy())
        return 1


class BoxStepMaster:
    """min λ·b + Σ_c θ_c  s.t.  θ_c + a_cj·λ ≥ v_cj (every cut),  D λ ≥ d,  λ in [0, λ_max] ∩ box."""

    def __init__(self, S: object) -> None:
        cp = S.coupling  # type: ignore[attr-defined]
        self.G, self.n_c = cp.n, S.n_counties  # type: ignore[attr-defined]
        self.lam_upper = cp.lam_upper.copy()
        h = new_highs()
        h.setOptionValue("threads", 1)
        G, n_c = self.G, self.n_c
        lo = np.r_[np.zeros(G), np.full(n_c, -INF)]
        up = np.r_[np.where(np.isfinite(self.lam_upper), self.lam_upper, INF), np.full(n_c, INF)]
        h.addVars(G + n_c, lo, up)
        h.changeColsCost(G + n_c, np.arange(G + n_c, dtype=np.int32), np.r_[cp.rhs, np.ones(n_c)])
        h.changeObjectiveSense(highspy.ObjSense.kMinimize)
        # Joint rows D λ ≥ d on the multipliers (structure.CouplingRows.dual_rows), first.
        self.n_dual = len(cp.dual_rhs)
        if self.n_dual:
            rr, cc = np.nonzero(cp.dual_rows)
            h.addRows(self.n_dual, cp.dual_rhs, np.full(self.n_dual, INF), len(rr),
                      np.searchsorted(rr, np.arange(self.n_dual)).astype(np.int32), cc.astype(np.int32),
                      cp.dual_rows[rr, cc].astype(float))
        self.h = h
        self.n_rows = 0
        #: (county, plan) of each cut row, with its value and coupling use, in row order: what
        #: a later solve checks before it takes this master over (`take_over`)
        self.held: list[tuple[int, bytes]] = []
        self.held_value: list[float] = []
        self.held_use: list[np.ndarray] = []
        self.box = (cp.lam_upper.copy(), np.asarray(cp.dual_rows, dtype=float).copy(), np.asarray(cp.dual_rhs).copy())

    def take_over(self, S: object, cuts: Cuts) -> bool:
        """Make this master (a previous solve's) the master of `cuts` on structure S: True
        when every cut it holds is a plan of `cuts` with the same value and coupling use
        and its multipliers' box is S's; then λ's costs become S's right-hand sides and
        the cuts it lacks are added. Why: a sweep point of the budget holds the same plans
        with the same numbers; taking the master over keeps HiGHS's basis and saves
        rebuilding hundreds of rows (7–8 ms for the first solve at 5,000 townships)."""
        cp = S.coupling  # type: ignore[attr-defined]
        if (cp.n, S.n_counties) != (self.G, self.n_c) or not all(  # type: ignore[attr-defined]
                np.array_equal(a, b) for a, b in zip(self.box, (cp.lam_upper, cp.dual_rows, cp.dual_rhs))):
            return False
        where = [cuts.seen.get(key) for key in self.held]
        if None in where:
            return False
        idx = np.asarray(where, dtype=np.int64)
        if len(idx) and not (np.array_equal(np.asarray(cuts.value)[idx], np.asarray(self.held_value))
                             and np.array_equal(np.asarray(cuts.use).reshape(len(cuts), self.G)[idx],
                                                np.asarray(self.held_use).reshape(len(idx), self.G))):
            return False
        self.h.changeColsCost(self.G, np.arange(self.G, dtype=np.int32), np.asarray(cp.rhs, dtype=float))
        self.h.clearCallbacks()
        held = set(where)
        self.add(cuts, [k for k in range(len(cuts)) if k not in held])
        return True

    def add(self, cuts: Cuts, new: list[int]) -> None:
        if not new:
            return
        keys = list(cuts.seen)
        self.held.extend(keys[k] for k in new)
        self.held_value.extend(cuts.value[k] for k in new)
        self.held_use.extend(cuts.use[k] for k in new)
        G = self.G
        # One row per cut, θ_c + Σ_g use_g λ_g ≥ value, built for all cuts at once: a warm
        # start hands the master thousands of remembered county plans.
        use = np.vstack([cuts.use[k] for k in new]) if G else np.zeros((len(new), 0))
        full = np.hstack([use, np.zeros((len(new), 1))])
        full[:, G] = 1.0  # the column of the cut's county, placed below
        rows, cols = np.nonzero(full)
        counties = np.array([cuts.county[k] for k in new])
        index = np.where(cols == G, G + counties[rows], cols).astype(np.int32)
        starts_arr = np.searchsorted(rows, np.arange(len(new))).astype(np.int32)
        lower = np.array([cuts.value[k] for k in new])
        self.h.addRows(len(new), lower, np.full(len(new), INF), len(index), starts_arr, index,
                       full[rows, cols].astype(float))
        self.n_rows += len(new)

    def solve(self, centre: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(λ, master value, row duals = weights of the cuts) within the box around `centre`."""
        G = self.G
        lo = np.maximum(0.0, centre - delta)
        up = np.minimum(np.where(np.isfinite(self.lam_upper), self.lam_upper, INF), centre + delta)
        self.h.changeColsBounds(G, np.arange(G, dtype=np.int32), lo, up)
        self.h.run()
        sol = self.h.getSolution()
        return (np.asarray(sol.col_value)[:G].copy(), self.h.getInfo().objective_function_value,
                np.asarray(sol.row_dual)[self.n_dual:].copy())
