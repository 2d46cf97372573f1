"""The model split by county: county subproblems and the rows that couple counties.

Which rows are local and which couple counties comes from each family's declared scope
(`optimizer.model.build.FAMILY_SCOPE`), never from the matrix:

- township rows (one industry, township water, income floor, locks) involve one
  township's pairs. Under "one industry per township" such a row holds exactly when the
  chosen pair holds it alone, so a pair that breaks its own township row is dropped
  (it can never be chosen) and the row is then implied: county subproblems need only
  "one choice per township";
- county rows stay in their county's subproblem;
- a basin row is local when every township of the basin lies in one county, otherwise
  it couples those counties, like the global rows (markets, price steps, budget,
  conservation share), which are priced (dualised) by the Lagrangian.

County subproblems are stored flat for the compiled kernel (`counties.py`): townships
ordered by county, each with its choices (pair columns), and each county's local rows as
"≤" row slots (a "≥" row is negated; an equality gives two slots).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.model.build import FAMILY_SCOPE
from optimizer.model.matrix import ModelMatrix

log = logging.getLogger(__name__)

#: Relative tolerance for "a pair breaks its own township row".
ROW_TOL = 1e-9


@dataclass
class CouplingRows:
    """Rows that tie counties together, each as a "≤" row Σ a z ≤ rhs (a "≥" row negated)."""

    names: list[str]  # e.g. "investment_budget_max", "market_output_max[apple]", "conservation_area_min (≥)"
    families: list[str]
    keys: list[Any]
    signs: np.ndarray  # +1 for a row's upper bound, −1 for its lower bound
    rhs: np.ndarray
    rows: np.ndarray  # triplets over all columns (x then o)
    cols: np.ndarray
    vals: np.ndarray
    lam_upper: np.ndarray  # upper bound on each multiplier implied by the continuous columns (inf if none)
    # Continuous columns in several coupling rows (a price-step column also in the frontier's
    # income row): each keeps the Lagrangian bounded by a joint row D λ ≥ d (see `_coupling`).
    dual_rows: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (k, G)
    dual_rhs: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,)

    @property
    def n(self) -> int:
        return len(self.names)

    def project(self, lam: np.ndarray) -> np.ndarray:
        """λ clipped into the multipliers that keep the Lagrangian bounded: [0, λ_max] and D λ ≥ d.

        Each row of D has one negative entry (the column's price-step row), the others
        positive and d ≤ 0 (`_coupling` refuses anything else), so lowering that one
        multiplier always reaches the row: λ_g ≤ (d − Σ_{r≠g} D_r λ_r) / D_g.
        """
        lam = np.clip(np.asarray(lam, dtype=float), 0.0, self.lam_upper)
        for row, d in zip(self.dual_rows, self.dual_rhs):
            g = int(np.flatnonzero(row < 0)[0])
            rest = float(row @ lam - row[g] * lam[g])
            lam[g] = min(lam[g], max(0.0, (d - rest) / row[g]))
        return lam

    def priced(self, lam: np.ndarray, n_cols: int) -> np.ndarray:
        """Aᵀλ: what the multipliers charge each column."""
        return np.bincount(self.cols, weights=self.vals * lam[self.rows], minlength=n_cols)

    def use(self, z: np.ndarray) -> np.ndarray:
        """Left-hand sides A z at column values z."""
        return np.bincount(self.rows, weights=self.vals * z[self.cols], minlength=self.n)


@dataclass
class Structure:
    """County subproblems (flat arrays for the kernel) and the coupling rows."""

    matrix: ModelMatrix
    alive: np.ndarray  # x columns that can be chosen (no township row broken alone)
    counties: list[str]
    cap: np.ndarray  # (n_counties, m) right-hand side of each local row slot; +inf where none
    slot_rows: list[list[str]]  # name of each county's row slots (for messages)
    county_tstart: np.ndarray  # (n_counties + 1,) townships of county c: county_tstart[c]:county_tstart[c+1]
    t_start: np.ndarray  # (n_t + 1,) choices of township k: t_start[k]:t_start[k+1]
    t_township: np.ndarray  # (n_t,) township position in matrix.townships
    t_county: np.ndarray  # (n_t,) county of each township
    ch_col: np.ndarray  # (n_ch,) x column of each choice
    ch_use: np.ndarray  # (n_ch, m) local row use of each choice
    coupling: CouplingRows
    fingerprints: list[str] = field(default_factory=list)  # per county: its subproblem data, for reuse
    #: Where each local row slot and coupling row came from (`split_like` patches them):
    #: (family, row of the block, sign, county or −1, slot or coupling row, nonzeros of the block kept)
    sources: list[tuple[str, int, float, int, int, np.ndarray]] = field(default_factory=list)
    basins: tuple[list, list] | None = None  # township table's basin and county cells (`_basin_columns`)
    #: Set by `split_like`: the counties whose data differ from the structure it patched
    #: (None for a fresh split); the others' county plans keep their values and uses.
    touched: list[int] | None = None

    @property
    def n_counties(self) -> int:
        return len(self.counties)

    @property
    def n_slots(self) -> int:
        return self.cap.shape[1]

    def choices_of(self, c: int) -> slice:
        return slice(self.t_start[self.county_tstart[c]], self.t_start[self.county_tstart[c + 1]])


class Unsplittable(Exception):
    """The instance has no county structure the decomposition can use (or a township has no choice)."""


def basin_counties(townships: pd.DataFrame) -> dict[str, set[str]]:
    """Counties of each basin, from the township table (a basin spanning counties couples them)."""
    if "basin" not in townships.columns:
        return {}
    out: dict[str, set[str]] = {}
    pairs = townships[["basin", "county"]].astype(str).drop_duplicates()
    for b, c in zip(pairs["basin"].tolist(), pairs["county"].tolist()):
        out.setdefault(b, set()).add(c)
    return out


def split(matrix: ModelMatrix, townships: pd.DataFrame) -> Structure:
    """County subproblems and coupling rows of `matrix`, by the families' declared scope."""
    M = matrix
    alive = np.ones(M.n_x, dtype=bool)
    for family, block in M.blocks.items():
        if FAMILY_SCOPE.get(family, "global") != "township" or family == "one_industry_per_township":
            continue
        alive &= _holds_alone(M, block)
    left = np.bincount(M.township[alive], minlength=len(M.townships))
    if (left == 0).any():
        t = M.townships[int(np.flatnonzero(left == 0)[0])]
        raise Unsplittable(f"township {t} has no industry that meets its own limits")

    county_index = {c: k for k, c in enumerate(M.counties)}
    of_basin = basin_counties(townships)
    local: list[list[tuple[str, np.ndarray, np.ndarray, float]]] = [[] for _ in M.counties]  # (name, cols, vals, cap)
    sources: list[tuple[str, int, float, int, int, np.ndarray]] = []
    c_names, c_fams, c_keys, c_signs, c_rhs, c_rows, c_cols, c_vals = [], [], [], [], [], [], [], []
    for family, block in M.blocks.items():
        # Rows an analysis adds to the model (the frontier's ε and lexicographic rows) sum
        # over every township: they couple all counties.
        scope = FAMILY_SCOPE.get(family, "global")
        if scope == "township":
            continue
        order = np.argsort(block.rows, kind="stable")
        bounds = np.searchsorted(block.rows[order], np.arange(block.n + 1))
        for r, key in enumerate(block.keys):
            sel = order[bounds[r]:bounds[r + 1]]
            cols, vals = block.cols[sel], block.vals[sel]
            keep = (cols >= M.n_x) | alive[np.minimum(cols, M.n_x - 1)]
            cols, vals, kept = cols[keep], vals[keep], sel[keep]
            name = f"{family}[{key}]" if key is not None else family
            home: int | None = None
            if scope == "county":
                home = county_index.get(str(key))
            elif scope == "basin":
                spans = of_basin.get(str(key), set())
                if len(spans) == 1:
                    home = county_index.get(next(iter(spans)))
            if home is not None and (cols < M.n_x).all():
                for sign, bound in ((1.0, block.upper[r]), (-1.0, block.lower[r])):
                    if np.isfinite(bound):
                        sources.append((family, r, sign, home, len(local[home]), kept))
                        local[home].append((name if sign > 0 else f"{name} (≥)", cols, sign * vals, sign * bound))
                continue
            for sign, bound in ((1.0, block.upper[r]), (-1.0, block.lower[r])):
                if np.isfinite(bound):
                    sources.append((family, r, sign, -1, len(c_rhs), kept))
                    c_rows.append(np.full(len(cols), len(c_rhs)))
                    c_cols.append(cols)
                    c_vals.append(sign * vals)
                    c_rhs.append(sign * bound)
                    c_names.append(name if sign > 0 else f"{name} (≥)")
                    c_fams.append(family)
                    c_keys.append(key)
                    c_signs.append(sign)
    coupling = _coupling(M, c_names, c_fams, c_keys, c_signs, c_rhs, c_rows, c_cols, c_vals)
    S = _flatten(M, alive, local, coupling)
    S.sources = sources
    S.basins = _basin_columns(townships)
    return S


def _changed_sources(S: Structure, M: ModelMatrix, P: ModelMatrix, families: list[str]) -> list[int]:
    """Indices into `S.sources` of the rows of `families` whose bounds or coefficients differ
    between the matrices M and P (the same rows and nonzeros, `split_like`)."""
    index = getattr(S, "_source_index", None)
    if index is None:  # (family, block row) → its sources, once per chain of patched structures
        index = {}
        for n, (family, r, *_rest) in enumerate(S.sources):
            index.setdefault((family, r), []).append(n)
        S._source_index = index  # type: ignore[attr-defined]
    out: list[int] = []
    for family in families:
        block, old = M.blocks[family], P.blocks[family]
        rows = np.union1d(np.flatnonzero((block.upper != old.upper) | (block.lower != old.lower)),
                          block.rows[block.vals != old.vals])
        for r in rows.tolist():
            out.extend(index.get((family, r), []))
    return sorted(out)


def _basin_columns(townships: pd.DataFrame) -> tuple[list, list] | None:
    """The township table's basin and county cells as they are, for `split_like` to compare
    (equal cells give equal `basin_counties`; the cells of a table read once are the same
    objects at every sweep point, `instance.tables.read_table`, so the lists compare fast)."""
    if "basin" not in townships.columns:
        return None
    return townships["basin"].tolist(), townships["county"].tolist()


#: Cached attributes of a structure that depend only on its counties, townships, pairs and
#: rows in order (`_warm_keys`, `_signature`, `_choice_ids` of the decomposition, the index of
#: `sources`): a patched structure takes them over.
_ORDER_CACHES = ("_warm_keys", "_signature", "_choice_ids", "_source_index")


def split_like(previous: Structure, matrix: ModelMatrix, townships: pd.DataFrame) -> Structure | None:
    """`split(matrix, townships)` by patching `previous` (a split of a related matrix), or None
    when the two differ in more than coefficients and bounds of rows that stay where they were.

    Why: a sweep point of a what-if changes a few numbers (one county's water limit, the
    budget, a price); splitting the model again, fingerprinting every county and rebuilding
    the id tables was most of a warm point's solve (docs/performance.md). The patched
    structure holds the same rows, numbers and counties as a fresh split; it keeps the
    previous order of townships within a county (an order for the search, not a result),
    so the previous point's plans index it as they are. A county whose data did not change
    keeps its fingerprint; the others are fingerprinted again."""
    P = previous.matrix
    M = matrix
    if M is P:
        return previous
    same = (M.n_x == P.n_x and M.n_cols == P.n_cols and M.townships == P.townships and M.counties == P.counties
            and M.o_keys == P.o_keys and list(M.blocks) == list(P.blocks)
            and np.array_equal(M.township, P.township) and np.array_equal(M.county, P.county)
            and all(a.tolist() == b.tolist() for a, b in zip(M.pairs.levels, P.pairs.levels))
            and all(np.array_equal(a, b) for a, b in zip(M.pairs.codes, P.pairs.codes))
            and np.array_equal(M.cost[M.n_x:], P.cost[P.n_x:]))  # fmt: skip
    if not same:
        return None
    basins = _basin_columns(townships)
    if (basins is None) != (previous.basins is None) or (basins is not None and basins != previous.basins):
        return None
    changed_blocks = []
    for family, block in M.blocks.items():
        old = P.blocks[family]
        if block.keys != old.keys or not (np.array_equal(block.rows, old.rows) and np.array_equal(block.cols, old.cols)):
            return None
        if not (np.array_equal(block.vals, old.vals) and np.array_equal(block.lower, old.lower)
                and np.array_equal(block.upper, old.upper)):
            if FAMILY_SCOPE.get(family, "global") == "township":
                return None  # may change which pairs a township can take
            changed_blocks.append(family)
    cp = previous.coupling
    cap, ch_use = previous.cap, previous.ch_use
    rhs, vals = cp.rhs, cp.vals
    touched: set[int] = set()
    if changed_blocks:
        cap, ch_use, rhs, vals = cap.copy(), ch_use.copy(), rhs.copy(), vals.copy()
        choice_of_col = np.full(M.n_x, -1, dtype=np.int64)
        choice_of_col[previous.ch_col] = np.arange(len(previous.ch_col))
        offset = np.concatenate(([0], np.cumsum(np.bincount(cp.rows, minlength=cp.n))))
        for n in _changed_sources(previous, M, P, changed_blocks):
            family, r, sign, county, at, kept = previous.sources[n]
            block, old = M.blocks[family], P.blocks[family]
            bound = block.upper[r] if sign > 0 else block.lower[r]
            before = old.upper[r] if sign > 0 else old.lower[r]
            if not np.isfinite(bound):
                return None  # the row slot is gone: the structure changes
            if bound == before and np.array_equal(block.vals[kept], old.vals[kept]):
                continue
            cols, new_vals = block.cols[kept], sign * block.vals[kept]
            if county >= 0:
                cap[county, at] = sign * bound
                sl = previous.choices_of(county)
                ch_use[sl, at] = 0.0
                ch = choice_of_col[cols]
                np.add.at(ch_use[:, at], ch[ch >= 0], new_vals[ch >= 0])
                touched.add(county)
            else:
                if (cols >= M.n_x).any() and not np.array_equal(block.vals[kept], old.vals[kept]):
                    return None  # a price-step coefficient: the multipliers' box changes
                rhs[at] = sign * bound
                vals[offset[at]:offset[at + 1]] = new_vals
                x = cols[cols < M.n_x]
                touched.update(M.county[x[block.vals[kept][cols < M.n_x] != old.vals[kept][cols < M.n_x]]].tolist())
        # a row that was infinite before and is finite now would need a new slot
        for family in changed_blocks:
            block, old = M.blocks[family], P.blocks[family]
            if (np.isfinite(block.upper) != np.isfinite(old.upper)).any() or \
                    (np.isfinite(block.lower) != np.isfinite(old.lower)).any():
                return None
    ch_cost_changed = M.cost[previous.ch_col] != P.cost[previous.ch_col]
    touched.update(np.unique(np.repeat(previous.t_county, np.diff(previous.t_start))[ch_cost_changed]).tolist())
    coupling = CouplingRows(cp.names, cp.families, cp.keys, cp.signs, rhs, cp.rows, cp.cols, vals, cp.lam_upper,
                            cp.dual_rows, cp.dual_rhs)
    S = Structure(matrix=M, alive=previous.alive, counties=previous.counties, cap=cap, slot_rows=previous.slot_rows,
                  county_tstart=previous.county_tstart, t_start=previous.t_start, t_township=previous.t_township,
                  t_county=previous.t_county, ch_col=previous.ch_col, ch_use=ch_use, coupling=coupling,
                  sources=previous.sources, basins=basins, touched=sorted(touched))  # fmt: skip
    for name in _ORDER_CACHES:
        if hasattr(previous, name):
            setattr(S, name, getattr(previous, name))
    if vals is cp.vals and hasattr(previous, "_coupling_dense"):
        S._coupling_dense = previous._coupling_dense  # type: ignore[attr-defined]
    if previous.fingerprints:
        fresh = _fingerprints_of(S, sorted(touched)) if touched else {}
        S.fingerprints = [fresh.get(c, fp) for c, fp in enumerate(previous.fingerprints)]
    log.debug("decomposition: structure patched from the previous point (%d counties changed)", len(touched))
    return S


def _holds_alone(M: ModelMatrix, block: Any) -> np.ndarray:
    """For each x column: does choosing this pair alone keep the township's row of `block`?"""
    ok = np.ones(M.n_x, dtype=bool)
    if block.n == 0:
        return ok
    if block.family == "industry_locked_in":  # a must-lock leaves only the locked pair
        locked_cols = block.cols
        locked_town = M.township[locked_cols]
        has_lock = np.zeros(len(M.townships), dtype=bool)
        has_lock[locked_town] = True
        ok &= ~has_lock[M.township]
        ok[locked_cols] = True
        return ok
    row_of_town = np.full(len(M.townships), -1, dtype=np.int64)
    row_of_town[M.township[block.cols]] = block.rows
    coef = np.zeros(M.n_x)
    coef[block.cols] = block.vals
    r = row_of_town[M.township]
    has = r >= 0
    lo = np.where(has, block.lower[np.maximum(r, 0)], -np.inf)
    up = np.where(has, block.upper[np.maximum(r, 0)], np.inf)
    tol_up = ROW_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(up), up, 0.0)))
    tol_lo = ROW_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(lo), lo, 0.0)))
    return ~(has & ((coef > up + tol_up) | (coef < lo - tol_lo)))


def _coupling(M: ModelMatrix, names: list, fams: list, keys: list, signs: list, rhs: list, rows: list, cols: list,
              vals: list) -> CouplingRows:
    G = len(rhs)
    r = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, dtype=np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    lam_upper = np.full(G, np.inf)
    dual_rows: list[np.ndarray] = []
    dual_rhs: list[float] = []
    # A continuous column z_j ≥ 0 (price steps) appears only in coupling rows; the
    # Lagrangian stays bounded only if what the multipliers charge it covers its cost:
    # (Aᵀλ)_j ≥ cost_j. A column in one row (its price-step row, coefficient < 0) makes
    # this λ_r ≤ cost_j / a_rj. A column also in rows where it counts positively (the
    # frontier's "income ≥ ε" row: the price-step loss lowers income) makes it a joint
    # row of the dual master; one negative entry and cost_j ≤ 0 keep it easy to meet.
    for j in range(M.n_x, M.n_cols):
        at = np.flatnonzero(c == j)
        neg = at[v[at] < 0]
        if len(neg) != 1:
            raise Unsplittable(f"continuous column {j} is not a single price-step column")
        if len(at) == 1:
            g = int(r[at[0]])
            lam_upper[g] = min(lam_upper[g], M.cost[j] / v[at[0]])
            continue
        if M.cost[j] > 0:
            raise Unsplittable(f"continuous column {j} in several coupling rows has a positive cost")
        row = np.zeros(G)
        np.add.at(row, r[at], v[at])
        dual_rows.append(row)
        dual_rhs.append(float(M.cost[j]))
    return CouplingRows(names, fams, keys, np.asarray(signs, dtype=float), np.asarray(rhs, dtype=float), r, c, v,
                        lam_upper, np.array(dual_rows).reshape(len(dual_rows), G), np.asarray(dual_rhs, dtype=float))


def _flatten(M: ModelMatrix, alive: np.ndarray, local: list, coupling: CouplingRows) -> Structure:
    n_c = len(M.counties)
    m = max(1, max((len(rows) for rows in local), default=0))
    cap = np.full((n_c, m), np.inf)
    use = np.zeros((M.n_x, m))
    slot_rows: list[list[str]] = []
    for k, rows in enumerate(local):
        slot_rows.append([name for name, _, _, _ in rows])
        for j, (_, cols, vals, bound) in enumerate(rows):
            cap[k, j] = bound
            np.add.at(use[:, j], cols, vals)
    cols = np.flatnonzero(alive)
    town = M.township[cols]
    county_of_town = np.full(len(M.townships), -1, dtype=np.int64)
    county_of_town[M.township] = M.county
    # Townships heavier on their county's rows first: the search prunes earlier.
    scale = np.where(np.isfinite(cap), np.abs(cap), 0.0)
    scale = np.where(scale > 0, scale, 1.0)
    weight = np.zeros(len(M.townships))
    np.maximum.at(weight, town, (np.abs(use[cols]) / scale[M.county[cols]]).sum(axis=1))
    present = np.unique(town)
    order = present[np.lexsort((present, -weight[present], county_of_town[present]))]
    position = np.full(len(M.townships), -1, dtype=np.int64)
    position[order] = np.arange(len(order))
    ch_town = position[town]
    o = np.argsort(ch_town, kind="stable")
    ch_col = cols[o]
    n_t = len(order)
    t_start = np.searchsorted(ch_town[o], np.arange(n_t + 1))
    t_county = county_of_town[order]
    county_tstart = np.searchsorted(t_county, np.arange(n_c + 1))
    S = Structure(
        matrix=M, alive=alive, counties=list(M.counties), cap=cap, slot_rows=slot_rows,
        county_tstart=county_tstart, t_start=t_start, t_township=order, t_county=t_county,
        ch_col=ch_col, ch_use=use[ch_col], coupling=coupling,
    )  # fmt: skip
    log.info("decomposition: %d counties, %d townships, %d of %d pairs kept, %d local row slots at most, "
             "%d coupling rows", n_c, n_t, len(cols), M.n_x, m, coupling.n)
    return S


def fingerprints(S: Structure) -> list[str]:
    """Digest of each county's subproblem data, by ids (township, industry, row names), not by
    column positions, so that two instances (two sweep points) can be compared county by
    county: equal digests mean equal subproblems, whose pricing can be reused."""
    if S.fingerprints:
        return S.fingerprints
    fps = _fingerprints_of(S, range(S.n_counties))
    S.fingerprints = [fps[c] for c in range(S.n_counties)]
    return S.fingerprints


def _fingerprints_of(S: Structure, counties: Any) -> dict[int, str]:
    """`fingerprints` of the given counties only."""
    M = S.matrix
    cp = S.coupling
    # Coupling entries of the choices, in choice order (a county's choices are one slice);
    # each row is named by a digest of its name, so the bytes hashed are ids, not positions.
    n_ch = len(S.ch_col)
    choice_of_col = np.full(M.n_x, -1, dtype=np.int64)
    choice_of_col[S.ch_col] = np.arange(n_ch)
    x = cp.cols < M.n_x
    ch = choice_of_col[cp.cols[x]]
    keep = ch >= 0
    order = np.argsort(ch[keep], kind="stable")
    ech, erows, evals = ch[keep][order], cp.rows[x][keep][order], cp.vals[x][keep][order]
    estart = np.searchsorted(ech, np.arange(n_ch + 1))
    codes = np.array([int.from_bytes(hashlib.blake2b(n.encode(), digest_size=8).digest(), "little")
                      for n in cp.names], dtype=np.uint64)  # fmt: skip
    tid_of, ind_of = (np.asarray(M.pairs.get_level_values(k), dtype=object) for k in (0, 1))
    out = {}
    for c in counties:
        sl = S.choices_of(c)
        cols = S.ch_col[sl]
        h = hashlib.blake2b(digest_size=16)
        h.update("\x1f".join([f"{t}\x1e{i}" for t, i in zip(tid_of[cols].tolist(), ind_of[cols].tolist())]).encode())
        h.update(np.diff(S.t_start[S.county_tstart[c]:S.county_tstart[c + 1] + 1]).tobytes())
        h.update(M.cost[cols].tobytes())
        h.update(S.ch_use[sl].tobytes())
        h.update(S.cap[c].tobytes())
        h.update("\x1f".join(S.slot_rows[c]).encode())
        a, b = estart[sl.start], estart[sl.stop]
        h.update(np.diff(estart[sl.start:sl.stop + 1]).tobytes())  # coupling entries per choice
        h.update(codes[erows[a:b]].tobytes())
        h.update(evals[a:b].tobytes())
        out[c] = h.hexdigest()
    return out
