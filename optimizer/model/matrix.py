"""The same model as sparse arrays, family by family: what the decomposition solves.

Why a second form: building the Pyomo model of 50,000 townships and handing it to HiGHS
takes 15–40 s before HiGHS starts, while the decomposition needs the rows as arrays (to
split them into county blocks and to price the coupling rows) in well under a second.
Each function below mirrors the Pyomo module of the same family name (docs/model.md):
the same rows, the same index, the same coefficients in the same model units.
`tests/test_decompose.py` checks, row by row, that both forms agree on every shipped and
generated instance, so that the two cannot drift apart.

Rows are stored as ``lower ≤ Σ_j a_rj z_j ≤ upper``. Columns are the allowed pairs x
(in `ModelData.pairs` order), the continuous price-step columns o, and, in a village
instance with the leading-industry rule, the township's leading-industry binaries y (in
`LeadingRule.pairs` order). In a village instance the pairs are (village, industry): the
village is the planning unit, and the township rows sum over the township's villages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from optimizer.model.data import (
    INVESTMENT_UNIT_YUAN,
    MONEY_UNIT_YUAN,
    OUTPUT_UNIT,
    WATER_UNIT_M3,
    LeadingRule,
    ModelData,
)
from optimizer.model.objective import market_farmer_share, objective_per_pair


@dataclass
class RowBlock:
    """The rows of one constraint family: keys (the family's index), bounds, triplets."""

    family: str
    keys: list[Any]  # index of each row (township id, county, (market, k), or None)
    rows: np.ndarray  # row number (0 … n-1) of each nonzero
    cols: np.ndarray  # column of each nonzero
    vals: np.ndarray
    lower: np.ndarray  # −inf where none
    upper: np.ndarray  # +inf where none

    @property
    def n(self) -> int:
        return len(self.keys)

    def lhs(self, z: np.ndarray) -> np.ndarray:
        """Left-hand sides at the column values z."""
        return np.bincount(self.rows, weights=self.vals * z[self.cols], minlength=self.n)


@dataclass
class ModelMatrix:
    """The whole model: objective (maximise, in 万元), columns and the families' rows."""

    pairs: pd.MultiIndex  # (township_id, industry) of each x column
    o_keys: list[tuple[str, int]]  # (market, step) of each o column, after the x columns
    cost: np.ndarray  # objective coefficient of every column
    blocks: dict[str, RowBlock]  # family → rows, in the order of docs/model.md
    township: np.ndarray  # township position (in `townships`) of each x column
    county: np.ndarray  # county position (in `counties`) of each x column
    townships: list[str]
    counties: list[str]
    objective_unit_yuan: float = MONEY_UNIT_YUAN
    #: (township, industry) of each leading-industry column y, after the o columns (village instances)
    y_keys: list[tuple[str, str]] = field(default_factory=list)
    #: The leading rule as reports state it (model/report.py): share s, counted industries C,
    #: and each x column's village area (ha); None without the rule
    leading_rule: LeadingRule | None = None
    x_area: np.ndarray | None = None

    @cached_property
    def n_x(self) -> int:
        """Number of x columns (cached: `len` of a MultiIndex costs microseconds, and the
        decomposition asks for it per county plan)."""
        return len(self.pairs)

    @property
    def n_cols(self) -> int:
        return self.n_x + len(self.o_keys) + len(self.y_keys)

    @property
    def y_start(self) -> int:
        """Column of the first y (leading industry), after the x and o columns."""
        return self.n_x + len(self.o_keys)

    def column_values(self, plan: pd.Series) -> np.ndarray:
        """x (0/1) of a plan (industry per township) and o at its least value (o = max(0, out − above))."""
        idx = self.pairs.get_indexer(pd.MultiIndex.from_arrays([plan.index, plan.to_numpy()]))
        if (idx < 0).any():
            raise ValueError("the plan uses pairs the model does not allow")
        return self.column_values_at(idx)

    def column_values_at(self, idx: np.ndarray) -> np.ndarray:
        """`column_values` of the plan whose chosen pairs are the x columns `idx` (no lookup by ids)."""
        z = np.zeros(self.n_cols)
        z[idx] = 1.0
        steps = self.blocks.get("market_output_beyond_step_def")
        if steps is not None:
            x_only = z.copy()
            x_only[self.n_x:] = 0.0
            out = steps.lhs(x_only)  # s·Σ output over the market's pairs (o columns zero), s the row scale
            o_cols = steps.cols >= self.n_x
            o_coef = np.zeros(steps.n)
            o_coef[steps.rows[o_cols]] = steps.vals[o_cols]  # −s: the row is s·output − s·o ≤ s·above
            for r, key in enumerate(steps.keys):
                z[self.n_x + self.o_keys.index(key)] = max(0.0, (out[r] - steps.upper[r]) / -o_coef[r])
        return z

    def objective(self, z: np.ndarray) -> float:
        return float(self.cost @ z)

    def plan(self, z: np.ndarray) -> pd.Series:
        """The industry of each planning unit (township, or village) whose x is 1 in z."""
        cols = np.flatnonzero(z[: self.n_x] > 0.5)
        return pd.Series(self.pairs.get_level_values(1)[cols].to_numpy(),
                         index=self.pairs.get_level_values(0)[cols].to_numpy(), name="industry")

    def leading(self, z: np.ndarray) -> pd.Series:
        """The leading industry of each township whose y is 1 in z (village instances; empty without the rule)."""
        on = np.flatnonzero(z[self.y_start:] > 0.5).tolist()
        return pd.Series({self.y_keys[j][0]: self.y_keys[j][1] for j in on}, name="leading_industry", dtype=object)


def _block(family: str, keys: Sequence[Any], rows: Any, cols: Any, vals: Any, lower: Any, upper: Any) -> RowBlock:
    n = len(keys)
    return RowBlock(
        family,
        list(keys),
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        np.asarray(vals, dtype=float),
        np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy(),
        np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy(),
    )


def _sums_by(key_of_pair: np.ndarray, values: np.ndarray, wanted: Sequence[Any], family: str,
             lower: Any, upper: Any) -> RowBlock:
    """One row per wanted key: Σ values over the pairs of that key; keys without any nonzero are skipped
    (as the Pyomo rules return Constraint.Skip). `lower`/`upper` are scalars or per-wanted-key arrays."""
    position = {k: r for r, k in enumerate(wanted)}
    row_of = np.fromiter((position.get(k, -1) for k in key_of_pair), dtype=np.int64, count=len(key_of_pair))
    sel = (values != 0) & (row_of >= 0)
    present = np.unique(row_of[sel])
    renumber = np.full(len(wanted), -1, dtype=np.int64)
    renumber[present] = np.arange(len(present))
    lo = np.broadcast_to(np.asarray(lower, dtype=float), (len(wanted),))[present]
    up = np.broadcast_to(np.asarray(upper, dtype=float), (len(wanted),))[present]
    cols = np.flatnonzero(sel)
    return _block(family, [wanted[i] for i in present], renumber[row_of[sel]], cols, values[sel], lo, up)


def build_matrix(data: ModelData) -> ModelMatrix:
    """Every family of docs/model.md as arrays; see the module docstring for the contract."""
    spec = data.spec
    cons = spec.constraints
    P = data.pairs
    T = data.townships
    U = data.units  # the planning units: townships, or the villages of a village instance
    villages = data.villages is not None
    n_x = len(P)
    uids = P.index.get_level_values(0).to_numpy()  # planning unit of each pair
    tids = P["township"].to_numpy()
    inds = P.index.get_level_values(1).to_numpy()
    townships = list(T.index)
    counties = sorted(T["county"].unique())
    township = pd.Index(townships).get_indexer(tids)
    county = pd.Index(counties).get_indexer(P["county"].to_numpy())
    county_of_pair = P["county"].to_numpy()
    inf = np.inf
    blocks: dict[str, RowBlock] = {}

    # one_industry_per_township[t] / one_product_per_village[v]: Σ_i x_ui = 1 (assignment.py)
    one = "one_product_per_village" if villages else "one_industry_per_township"
    units = list(U.index)
    blocks[one] = _block(one, units, pd.Index(units).get_indexer(uids), np.arange(n_x), np.ones(n_x), 1.0, 1.0)
    # water (water.py)
    water = P["water_10k_m3"].to_numpy()
    if villages and cons.water.per_village:
        available = (U["water_available_m3"] / WATER_UNIT_M3).to_numpy()
        blocks["water_use_per_village_max"] = _sums_by(uids, water, units, "water_use_per_village_max", -inf, available)
    if cons.water.per_township:
        use = pd.Series(np.where(water != 0, water, 0.0)).groupby(tids).sum()
        limited = sorted(t for t, u in use.items() if u > 0)
        available = (T["water_available_m3"] / WATER_UNIT_M3).reindex(limited).to_numpy()
        blocks["water_use_per_township_max"] = _sums_by(tids, water, limited, "water_use_per_township_max", -inf, available)
    if cons.water.county_max_m3:
        keys = list(cons.water.county_max_m3)
        caps = np.array([cons.water.county_max_m3[k] for k in keys]) / WATER_UNIT_M3
        blocks["water_use_per_county_max"] = _sums_by(county_of_pair, water, keys, "water_use_per_county_max", -inf, caps)
    if cons.water.basin_max_m3:
        keys = list(cons.water.basin_max_m3)
        caps = np.array([cons.water.basin_max_m3[k] for k in keys]) / WATER_UNIT_M3
        blocks["water_use_per_basin_max"] = _sums_by(P["basin"].to_numpy(), water, keys, "water_use_per_basin_max", -inf, caps)
    # markets (markets.py): caps, and o_mk ≥ output − above_k written as output − o_mk ≤ above_k
    out = P["output_1000"].to_numpy()
    markets = cons.markets
    o_keys = [(name, k) for name, mk in markets.items() for k in range(len(mk.price_steps))]
    sells = {name: np.flatnonzero((out != 0) & np.isin(inds, mk.industries)) for name, mk in markets.items()}
    capped = [name for name, mk in markets.items() if mk.max_output is not None and len(sells[name])]
    if any(mk.max_output is not None for mk in markets.values()):
        blocks["market_output_max"] = _block(
            "market_output_max", capped,
            np.concatenate([np.full(len(sells[n]), r) for r, n in enumerate(capped)] or [[]]),
            np.concatenate([sells[n] for n in capped] or [[]]),
            np.concatenate([out[sells[n]] for n in capped] or [[]]),
            -inf, [markets[n].max_output / OUTPUT_UNIT for n in capped] or 0.0,
        )  # fmt: skip
    steps = {name: sorted(mk.price_steps, key=lambda s: s.above_output) for name, mk in markets.items()}
    if o_keys:
        rows, cols, vals = [], [], []
        for r, (name, k) in enumerate(o_keys):
            sel = sells[name]
            rows.append(np.full(len(sel) + 1, r))
            cols.append(np.append(sel, n_x + r))
            vals.append(np.append(out[sel], -1.0))
        blocks["market_output_beyond_step_def"] = _block(
            "market_output_beyond_step_def", o_keys, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
            -inf, [steps[name][k].above_output / OUTPUT_UNIT for name, k in o_keys],
        )  # fmt: skip
    # pv_capacity_per_county_max[c] (grid.py)
    if cons.grid_county_max_mw:
        keys = list(cons.grid_county_max_mw)
        caps = np.array([cons.grid_county_max_mw[k] for k in keys])
        blocks["pv_capacity_per_county_max"] = _sums_by(county_of_pair, P["pv_mw"].to_numpy(), keys,
                                                        "pv_capacity_per_county_max", -inf, caps)
    # investment_budget_max (budget.py)
    if cons.investment_budget_yuan is not None:
        inv = P["investment_100m_yuan"].to_numpy()
        if (inv != 0).any():
            nz = np.flatnonzero(inv)
            blocks["investment_budget_max"] = _block("investment_budget_max", [None], np.zeros(len(nz)), nz, inv[nz],
                                                     -inf, cons.investment_budget_yuan / INVESTMENT_UNIT_YUAN)
    # conservation (conservation.py)
    kept = P["conservation"].to_numpy().astype(bool)
    area_kept = np.where(kept, P["area_ha"].to_numpy(), 0.0)
    area = U["plannable_area_ha"]
    if cons.min_conservation_share is not None and kept.any():
        nz = np.flatnonzero(area_kept)
        blocks["conservation_area_min"] = _block("conservation_area_min", [None], np.zeros(len(nz)), nz, area_kept[nz],
                                                 cons.min_conservation_share * float(area.sum()), inf)
    if cons.min_conservation_share_per_county is not None:
        need = area.groupby(U["county"]).sum()
        keys = sorted(need.index)
        blocks["conservation_area_per_county_min"] = _sums_by(
            county_of_pair, area_kept, keys, "conservation_area_per_county_min",
            cons.min_conservation_share_per_county * need.reindex(keys).to_numpy(), inf,
        )  # fmt: skip
    # farmer_income_per_township_min[t] / farmer_income_per_village_min[v] (income_floor.py)
    if data.income_floor is not None:
        floor = data.income_floor
        keys = [u for u in units if floor[u] != -inf]
        name = "farmer_income_per_village_min" if villages else "farmer_income_per_township_min"
        blocks[name] = _sums_by(uids, P["income_10k_yuan"].to_numpy(), keys, name, floor.reindex(keys).to_numpy(), inf)
    # industry_locked_in[t] (locks.py)
    if data.must_locks:
        keys = sorted(data.must_locks)
        cols = P.index.get_indexer(pd.MultiIndex.from_tuples([(t, data.must_locks[t]) for t in keys]))
        blocks["industry_locked_in"] = _block("industry_locked_in", keys, np.arange(len(keys)), cols,
                                              np.ones(len(keys)), 1.0, 1.0)
    # leading_industry_per_township[t], leading_industry_share_min[t, i] (leading.py)
    y_keys = _leading_rows(data, blocks, tids, inds, n_x + len(o_keys))
    # weighted_gep_and_income (objective.py), in 万元
    obj = spec.objective
    cost_x = objective_per_pair(data)
    cost_o = []
    for name, k in o_keys:
        drops = [s.price_drop_yuan_per_unit for s in steps[name]]
        step = drops[k] - (drops[k - 1] if k else 0.0)
        cost_o.append(-obj.income_weight * market_farmer_share(data, name) * step * OUTPUT_UNIT / MONEY_UNIT_YUAN)
    # Row and objective scaling (model/scaling.py), as the Pyomo families apply it
    sc = data.scaling
    for family, block in blocks.items():
        s = sc.row(family)
        if s != 1.0:
            block.vals *= s
            block.lower *= s
            block.upper *= s
    return ModelMatrix(
        pairs=P.index,
        o_keys=o_keys,
        cost=sc.objective * np.concatenate([cost_x, np.asarray(cost_o, dtype=float), np.zeros(len(y_keys))]),
        blocks=blocks,
        township=township,
        county=county,
        townships=townships,
        counties=counties,
        objective_unit_yuan=MONEY_UNIT_YUAN / sc.objective,
        y_keys=y_keys,
        leading_rule=data.leading,
        x_area=P["area_ha"].to_numpy() if data.leading is not None else None,
    )


def _leading_rows(data: ModelData, blocks: dict[str, RowBlock], tids: np.ndarray, inds: np.ndarray,
                  y0: int) -> list[tuple[str, str]]:
    """The two leading-industry families (leading.py) over the y columns y0, y0+1, …; their keys.

    Σ_i y_ti = 1, and Σ_{v∈t} A_v x_vi + s·Σ_{v∈t, j∉C} A_v x_vj − s·A_t·y_ti ≥ 0 (the
    Pyomo row `… ≥ s·A_t·y_ti` with y moved to the left, as HiGHS receives it).
    """
    rule = data.leading
    if rule is None:
        return []
    keys = list(rule.pairs)
    n_y = len(keys)
    y_town = np.array([t for t, _ in keys], dtype=object)
    towns = list(dict.fromkeys(y_town.tolist()))  # insertion order, as leading.py indexes the rows
    blocks["leading_industry_per_township"] = _block(
        "leading_industry_per_township", towns, pd.Index(towns).get_indexer(y_town), y0 + np.arange(n_y),
        np.ones(n_y), 1.0, 1.0,
    )  # fmt: skip
    s = rule.share
    area = data.pairs["area_ha"].to_numpy()
    key_pos = pd.Index(pd.MultiIndex.from_tuples(keys)) if keys else None
    exempt = np.isin(inds, rule.exempt)
    # a counted pair (v, i) in row (t(v), i)
    own = key_pos.get_indexer(pd.MultiIndex.from_arrays([tids, inds])) if key_pos is not None else np.zeros(0, int)
    sel = (~exempt) & (own >= 0) & (area != 0)
    rows, cols, vals = [own[sel]], [np.flatnonzero(sel)], [area[sel]]
    # an exempt pair (v, j) in every row (t(v), i) of its township, times s
    rows_of_town: dict[str, list[int]] = {}
    for r, t in enumerate(y_town.tolist()):
        rows_of_town.setdefault(t, []).append(r)
    ex = np.flatnonzero(exempt & (area != 0))
    if len(ex):
        per = [rows_of_town.get(t, []) for t in tids[ex].tolist()]
        count = np.fromiter((len(r) for r in per), dtype=np.int64, count=len(per))
        rows.append(np.fromiter((r for rs in per for r in rs), dtype=np.int64, count=int(count.sum())))
        cols.append(np.repeat(ex, count))
        vals.append(np.repeat(s * area[ex], count))
    # − s·A_t·y_ti
    rows.append(np.arange(n_y))
    cols.append(y0 + np.arange(n_y))
    vals.append(np.array([-s * rule.area[t] for t in y_town.tolist()], dtype=float))
    blocks["leading_industry_share_min"] = _block(
        "leading_industry_share_min", keys, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), 0.0, np.inf,
    )  # fmt: skip
    return keys
