"""An independent checker of a plan: every constraint and the objective, recomputed.

Why this module exists: a planner has no reason to trust a number that only one piece of
code has ever produced. This checker reads the instance YAML (with PyYAML's safe loader) and
the input tables (with pandas / pyogrio) itself, takes nothing but the `industry` column
of an allocation, and recomputes every per-township figure, every constraint of
docs/model.md and the objective. It deliberately imports nothing from the model code
(`optimizer/model/`, `optimizer/solve.py`, `optimizer/coefficients.py`, the instance
loaders): two independent routes that arrive at the same numbers are the evidence that
both are right, while a shared helper would let one bug hide in both.

It is also the engine behind `optimizer evaluate`, which lists what is wrong with a plan
a planner wrote by hand, so every finding comes with a plain-language message naming the
township, county or market, the amount, the limit and the unit.

The defaults applied to fields missing from the YAML mirror the pydantic defaults of
`optimizer/instance/schema.py`; they are restated here rather than imported so that the
checker keeps working (and keeps disagreeing loudly) if the two ever drift apart.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

log = logging.getLogger(__name__)

__all__ = [
    "CheckReport",
    "ConstraintValue",
    "Mismatch",
    "Violation",
    "check_plan",
    "check_run",
    "format_amount",
    "price_step_loss",
]

GEP_CATEGORIES: tuple[str, ...] = ("material", "regulating", "cultural")

#: Per-ha industry fields the site-coefficient table may override, with the default an
#: industry gets when the YAML omits the field (None = "not given").
_SITE_FIELD_DEFAULTS: dict[str, float | None] = {
    "yield_per_ha": None,
    "pv_performance_ratio": None,
    "price_yuan_per_unit": 0.0,
    "other_revenue_yuan_per_ha": 0.0,
    "operating_cost_yuan_per_ha": 0.0,
    "investment_yuan_per_ha": 0.0,
    "water_m3_per_ha": 0.0,
    "farmer_payments_yuan_per_ha": 0.0,
    "farmer_share_of_value_added": 0.0,
}

_TOWNSHIP_REQUIRED = (
    "township_id",
    "name",
    "county",
    "plannable_area_ha",
    "soil_depth_cm",
    "slope_deg",
    "rocky_desertification_grade",
    "water_available_m3",
    "irradiance_kwh_per_m2",
    "baseline_land_use",
)
_TOWNSHIP_NUMERIC = (
    "plannable_area_ha",
    "soil_depth_cm",
    "slope_deg",
    "rocky_desertification_grade",
    "water_available_m3",
    "irradiance_kwh_per_m2",
)
_TOWNSHIP_TEXT = ("township_id", "name", "name_zh", "county", "city", "basin", "baseline_land_use")

#: Suitability gates: YAML key, township column, sense, words, unit.
_GATES: tuple[tuple[str, str, str, str, str], ...] = (
    ("min_soil_depth_cm", "soil_depth_cm", ">=", "soil depth", "cm"),
    ("max_slope_deg", "slope_deg", "<=", "slope", "°"),
    (
        "max_rocky_desertification_grade",
        "rocky_desertification_grade",
        "<=",
        "rocky-desertification grade",
        "",
    ),
    ("min_irradiance_kwh_per_m2", "irradiance_kwh_per_m2", ">=", "irradiance", "kWh/m²"),
)

#: Numeric columns of allocation.csv (docs/outputs.md) that the checker recomputes.
ALLOCATION_NUMERIC: tuple[str, ...] = (
    "area_ha",
    "output_amount",
    "water_use_m3",
    "pv_capacity_mw",
    "investment_yuan",
    "revenue_yuan",
    "operating_cost_yuan",
    "value_added_yuan",
    "farmer_income_yuan",
    "gep_material_yuan",
    "gep_regulating_yuan",
    "gep_cultural_yuan",
    "gep_total_yuan",
    "baseline_farmer_income_yuan",
    "baseline_gep_total_yuan",
    "change_farmer_income_yuan",
    "change_gep_total_yuan",
)
#: Text columns of allocation.csv that the checker can also derive and compare.
ALLOCATION_TEXT: tuple[str, ...] = (
    "name",
    "county",
    "city",
    "industry_label",
    "industry_label_zh",
    "output_unit",
    "baseline_land_use",
    "locked",
)

_UNITS = {
    "area_ha": "ha",
    "water_use_m3": "m³",
    "pv_capacity_mw": "MWp",
    "investment_yuan": "yuan",
    "revenue_yuan": "yuan",
    "operating_cost_yuan": "yuan",
    "value_added_yuan": "yuan",
    "farmer_income_yuan": "yuan",
    "gep_material_yuan": "yuan",
    "gep_regulating_yuan": "yuan",
    "gep_cultural_yuan": "yuan",
    "gep_total_yuan": "yuan",
    "baseline_farmer_income_yuan": "yuan",
    "baseline_gep_total_yuan": "yuan",
    "change_farmer_income_yuan": "yuan",
    "change_gep_total_yuan": "yuan",
}


# --------------------------------------------------------------------------- findings

#: Families with one row per township; check.json lists only their violated or binding rows.
_PER_TOWNSHIP_FAMILIES = frozenset(
    {
        "one_industry_per_township",
        "water_use_per_township_max",
        "farmer_income_per_township_min",
        "industry_locked_in",
    }
)
#: Slack (relative, absolute below 1) under which a row counts as binding, as in summary.json.
_BINDING_TOL = 1e-6


@dataclass(frozen=True)
class Violation:
    """A constraint of docs/model.md (or a rule of the allowed pairs) that the plan breaks.

    `name` is the constraint's name in docs/model.md (e.g. `water_use_per_county_max`);
    rules that the model enforces by leaving pairs out of P rather than by a row get
    names of their own (`suitability_<gate>`, `industry_forbidden`, `unknown_industry`,
    `industry_not_candidate`, `unknown_township`). `amount` and `limit` are what the plan
    does and what it may do, in `unit`, so a report can say by how much it is off.
    """

    name: str
    index: str | None
    amount: float | None
    limit: float | None
    unit: str
    sense: str
    message: str

    def __str__(self) -> str:
        where = f"[{self.index}]" if self.index is not None else ""
        return f"{self.name}{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Mismatch:
    """A number (or label) written in a run's files that disagrees with the recomputation.

    `source` is `allocation` or `summary`; `key` the column or dotted summary key;
    `index` the township id (allocation) or the county / market / constraint index.
    """

    source: str
    key: str
    index: str | None
    written: Any
    recomputed: Any
    message: str

    def __str__(self) -> str:
        return f"{self.source} {self.key}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ConstraintValue:
    """One recomputed constraint row: lhs (sense) rhs, and whether it holds within tol.

    Kept for every row, not only violated ones, so that reports can show slack and
    binding rows and so that a summary's `constraints` list can be compared row by row.
    """

    name: str
    index: str | None
    lhs: float
    rhs: float
    sense: str  # "<=", ">=" or "=="
    unit: str
    slack: float
    satisfied: bool

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class CheckReport:
    """Everything the checker found and recomputed for one plan.

    `ok` is true only when no constraint is violated and no written number disagrees:
    a plan that satisfies every limit but reports a wrong total is still not to be
    trusted.
    """

    violations: list[Violation] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    objective_yuan: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    market_revenue_loss_yuan: dict[str, float] = field(default_factory=dict)
    constraints: list[ConstraintValue] = field(default_factory=list)
    per_township: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    summary_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.violations and not self.mismatches

    def violations_named(self, name: str) -> list[Violation]:
        """The violations of one constraint family, e.g. `water_use_per_county_max`."""
        return [v for v in self.violations if v.name == name]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN → null) of the report, of a size that does not grow with T.

        Violations, mismatches, notes, the objective, its parts and the per-market losses
        are given in full. Of the constraint rows, every coupling row (county, basin,
        market, grid, budget, conservation) is listed, but a per-township row
        (`_PER_TOWNSHIP_FAMILIES`) only when it is violated or binding — as in summary.json,
        a satisfied `one_industry_per_township` row is not listed although it holds with
        equality. `constraints_checked` counts every row checked, and
        `constraints_checked_by_family` per family. Likewise `per_township` holds the
        recomputed figures of the townships named by a violation or a mismatch only, and
        `townships_checked` counts the townships recomputed. The full lists stay on the
        report object (`constraints`, `per_township`).
        """
        listed = [c for c in self.constraints if _listed(c)]
        pt = self.per_township
        named = {v.index for v in self.violations} | {m.index for m in self.mismatches}
        named.discard(None)
        records = (
            pt[pt["township_id"].isin(named)].to_dict(orient="records")
            if len(pt) and named and "township_id" in pt.columns
            else []
        )
        return _jsonable(
            {
                "ok": self.ok,
                "objective_yuan": self.objective_yuan,
                "parts": dict(self.parts),
                "market_revenue_loss_yuan": dict(self.market_revenue_loss_yuan),
                "violations": [v.to_dict() for v in self.violations],
                "mismatches": [m.to_dict() for m in self.mismatches],
                "constraints_checked": len(self.constraints),
                "constraints_checked_by_family": dict(Counter(c.name for c in self.constraints)),
                "constraints": [c.to_dict() for c in listed],
                "notes": list(self.notes),
                "summary_checked": self.summary_checked,
                "townships_checked": len(pt),
                "per_township": records,
            }
        )

    def describe(self) -> str:
        """A few lines of plain text for a terminal or a log."""
        head = "OK" if self.ok else "FAILED"
        parts = ", ".join(
            f"{words} {format_amount(self.parts.get(key, 0.0), 'yuan')}"
            for words, key in (
                ("GEP material", "gep_material_yuan"),
                ("regulating", "gep_regulating_yuan"),
                ("cultural", "gep_cultural_yuan"),
                ("farmers' income", "farmer_income_yuan"),
                ("market revenue loss", "market_revenue_loss_yuan"),
            )
        )
        lines = [
            (
                f"Plan check {head}: {len(self.violations)} violation(s), "
                f"{len(self.mismatches)} mismatch(es)."
            ),
            f"Objective {format_amount(self.objective_yuan, 'yuan')} ({parts}).",
        ]
        lines += [f"  violation {v.name}: {v.message}" for v in self.violations]
        lines += [f"  mismatch {m.source}.{m.key}: {m.message}" for m in self.mismatches]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _listed(row: ConstraintValue) -> bool:
    """Whether `to_dict` lists a constraint row: coupling rows always, per-township rows
    when violated or binding (slack within _BINDING_TOL, relative to the limit)."""
    if row.name not in _PER_TOWNSHIP_FAMILIES or not row.satisfied:
        return True
    if row.name == "one_industry_per_township":
        return False  # holds with equality whenever it holds: binding says nothing
    return row.slack <= _BINDING_TOL * max(1.0, abs(row.rhs))


# --------------------------------------------------------------------------- formatting


def format_amount(value: float | None, unit: str = "") -> str:
    """A number a planner can read: thousands separators, no float noise, and a unit.

    Large numbers get at most two decimals, small ones up to three; a tiny non-zero
    number is shown in significant digits rather than as a misleading "0".
    """
    if value is None:
        return "n/a"
    x = float(value)
    if not math.isfinite(x):
        text = str(x)
    else:
        text = f"{x:,.2f}" if abs(x) >= 1000 else f"{x:,.3f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("0", "-0") and x != 0:
            text = f"{x:.3g}"
        if text == "-0":
            text = "0"
    return f"{text} {unit}".rstrip() if unit else text


def _percent(share: float) -> str:
    return f"{share * 100:g}%"


def _jsonable(obj: Any) -> Any:
    """Replace NaN/inf by None and numpy scalars by Python ones, recursively."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (ValueError, TypeError):
            pass
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------- numbers


def _close(written: float, recomputed: float, tol: float) -> bool:
    """Equal within a relative tolerance, absolute for numbers smaller than 1."""
    return abs(written - recomputed) <= tol * max(1.0, abs(written), abs(recomputed))


def price_step_loss(output: float, steps: Iterable[tuple[float, float]]) -> float:
    """Revenue lost to falling prices when a market sells `output` units.

    `steps` are (above_output, price_drop_yuan_per_unit) pairs; they are cumulative:
    beyond `above_k` each unit sells `drop_k` below the industry's price. Sorting by
    above_output and charging each step only the *increment* of its drop over the
    previous one gives L = Σ_k (drop_k − drop_{k−1})·max(0, Q − above_k), exactly the
    value the model's o_mk variables take at an optimum (docs/model.md, Falling prices).
    """
    loss = 0.0
    previous_drop = 0.0
    for above, drop in sorted(steps, key=lambda s: (float(s[0]), float(s[1]))):
        loss += (float(drop) - previous_drop) * max(0.0, float(output) - float(above))
        previous_drop = float(drop)
    return loss


def _num(value: Any) -> float | None:
    """A YAML/CSV value as a float, or None when blank / missing / not a number."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _id(value: Any) -> str:
    """An id as text: integers stored as floats (450321101.0) lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if hasattr(value, "item") and not isinstance(value, str):
        return _id(value.item())
    return str(value).strip()


# --------------------------------------------------------------------------- instance


@dataclass(frozen=True)
class _Service:
    name: str
    category: str
    quantity_per_ha: float | None
    quantity_per_output_unit: float | None
    unit_price_yuan: float


@dataclass(frozen=True)
class _Industry:
    id: str
    label: str
    label_zh: str | None
    candidate: bool
    conservation: bool
    output_unit: str
    pv_capacity_mw_per_ha: float
    fields: dict[str, float | None]
    services: dict[str, _Service]
    gates: dict[str, float]


@dataclass(frozen=True)
class _Market:
    id: str
    industries: tuple[str, ...]
    max_output: float | None
    steps: tuple[tuple[float, float], ...]  # sorted by above_output


@dataclass
class _Instance:
    path: Path
    name: str
    townships_ref: Any
    site_ref: Any
    industries: dict[str, _Industry]
    water_per_township: bool
    county_water_max: dict[str, float]
    basin_water_max: dict[str, float]
    markets: dict[str, _Market]
    grid_county_max_mw: dict[str, float]
    investment_budget: float | None
    conservation_share: float | None
    conservation_share_per_county: float | None
    floor_per_ha: float | None
    floor_share: float | None
    must_locks: list[tuple[str, str, str | None]]
    forbid_locks: dict[tuple[str, str], str | None]
    gep_weight: float
    income_weight: float
    double_count: str


#: libyaml's safe loader when PyYAML has it (same documents, ten times faster), else PyYAML's.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _float_map(value: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, v in _mapping(value).items():
        x = _num(v)
        if x is not None:
            out[_id(key)] = x
    return out


def _read_instance(path: Path) -> _Instance:
    """Parse the instance YAML into plain records, applying the schema's defaults."""
    with open(path, encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=_YAML_LOADER) or {}
    if not isinstance(raw, Mapping):
        raise TypeError(f"{path}: the instance file is not a mapping")

    industries: dict[str, _Industry] = {}
    for iid, spec in _mapping(raw.get("industries")).items():
        spec = _mapping(spec)
        fields = {
            k: (_num(spec.get(k)) if spec.get(k) is not None else d)
            for k, d in _SITE_FIELD_DEFAULTS.items()
        }
        services: dict[str, _Service] = {}
        for sname, s in _mapping(spec.get("gep")).items():
            s = _mapping(s)
            services[str(sname)] = _Service(
                name=str(sname),
                category=str(s.get("category", "")),
                quantity_per_ha=_num(s.get("quantity_per_ha")),
                quantity_per_output_unit=_num(s.get("quantity_per_output_unit")),
                unit_price_yuan=_num(s.get("unit_price_yuan")) or 0.0,
            )
        gates = {
            k: x for k, v in _mapping(spec.get("suitability")).items() if (x := _num(v)) is not None
        }
        industries[_id(iid)] = _Industry(
            id=_id(iid),
            label=str(spec.get("label", iid)),
            label_zh=None if spec.get("label_zh") is None else str(spec.get("label_zh")),
            candidate=bool(spec.get("candidate", True)),
            conservation=bool(spec.get("counts_as_conservation", False)),
            output_unit=str(spec.get("output_unit", "t")),
            pv_capacity_mw_per_ha=_num(spec.get("pv_capacity_mw_per_ha")) or 0.0,
            fields=fields,
            services=services,
            gates=gates,
        )

    cons = _mapping(raw.get("constraints"))
    water = _mapping(cons.get("water"))
    markets: dict[str, _Market] = {}
    for mid, m in _mapping(cons.get("markets")).items():
        m = _mapping(m)
        steps = []
        for st in m.get("price_steps") or []:
            st = _mapping(st)
            steps.append(
                (
                    _num(st.get("above_output")) or 0.0,
                    _num(st.get("price_drop_yuan_per_unit")) or 0.0,
                )
            )
        markets[_id(mid)] = _Market(
            id=_id(mid),
            industries=tuple(_id(i) for i in (m.get("industries") or [])),
            max_output=_num(m.get("max_output")),
            steps=tuple(sorted(steps)),
        )
    floor = _mapping(cons.get("income_floor"))
    must: list[tuple[str, str, str | None]] = []
    forbid: dict[tuple[str, str], str | None] = {}
    for lock in cons.get("locks") or []:
        lock = _mapping(lock)
        key = (_id(lock.get("township")), _id(lock.get("industry")))
        reason = lock.get("reason")
        if bool(lock.get("forbid", False)):
            forbid[key] = None if reason is None else str(reason)
        else:
            must.append((key[0], key[1], None if reason is None else str(reason)))
    obj = _mapping(raw.get("objective"))
    return _Instance(
        path=path,
        name=str(raw.get("name", path.stem)),
        townships_ref=raw.get("townships"),
        site_ref=raw.get("site_coefficients"),
        industries=industries,
        water_per_township=bool(water.get("per_township", True)),
        county_water_max=_float_map(water.get("county_max_m3")),
        basin_water_max=_float_map(water.get("basin_max_m3")),
        markets=markets,
        grid_county_max_mw=_float_map(cons.get("grid_county_max_mw")),
        investment_budget=_num(cons.get("investment_budget_yuan")),
        conservation_share=_num(cons.get("min_conservation_share")),
        conservation_share_per_county=_num(cons.get("min_conservation_share_per_county")),
        floor_per_ha=_num(floor.get("min_yuan_per_ha")),
        floor_share=_num(floor.get("min_share_of_baseline")),
        must_locks=must,
        forbid_locks=forbid,
        gep_weight=_num(obj.get("gep_weight")) if obj.get("gep_weight") is not None else 1.0,
        income_weight=_num(obj.get("income_weight"))
        if obj.get("income_weight") is not None
        else 1.0,
        double_count=str(obj.get("double_count", "exclude_material_gep")),
    )


def _table_ref(ref: Any, base: Path, what: str) -> tuple[Path, str | None]:
    if isinstance(ref, str):
        return base / ref, None
    if isinstance(ref, Mapping) and ref.get("path"):
        layer = ref.get("layer")
        return base / str(ref["path"]), None if layer is None else str(layer)
    raise ValueError(f"instance key '{what}' must be a path or {{path, layer}}, got {ref!r}")


def _text(value: Any) -> str:
    """A written text cell: blank for None / NaN, else the text without outer spaces."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _strings(column: pd.Series, rule: Callable[[Any], str] = _id) -> np.ndarray:
    """`rule` (`_id` or `_text`) applied to a whole column; an object array of str.

    Columns of text (the usual case: CSVs are read as text) are stripped in one pandas
    call; integer and boolean columns are printed by numpy; anything else (float ids,
    mixed objects) falls back to the scalar rule, value by value, so the result is the
    same as applying `rule` to each cell.
    """
    arr = column.to_numpy(dtype=object)
    if not len(arr):
        return arr
    if pd.api.types.infer_dtype(arr, skipna=True) == "string":
        missing = pd.isna(arr)
        out = np.empty(len(arr), dtype=object)
        present = ~missing
        out[present] = pd.Series(arr[present], dtype=object).str.strip().to_numpy(dtype=object)
        if missing.any():
            out[missing] = [rule(v) for v in arr[missing]]
        return out
    if column.dtype.kind in "iub":
        return column.astype(str).to_numpy(dtype=object)
    return np.array([rule(v) for v in arr], dtype=object)


def _numbers(column: pd.Series) -> np.ndarray:
    """`_num` applied to a whole column: float64, NaN where `_num` gives None."""
    if column.dtype.kind in "fiub":
        return column.to_numpy(dtype=float, na_value=np.nan)
    arr = column.to_numpy(dtype=object)
    out = np.full(len(arr), np.nan)
    if not len(arr):
        return out
    if pd.api.types.infer_dtype(arr, skipna=True) == "string":
        filled = ~(pd.isna(arr) | (arr == ""))
        try:
            # numpy turns a str into a float exactly as float() does (spaces, '1_000', 'nan')
            out[filled] = arr[filled].astype(float)
            return out
        except (TypeError, ValueError):
            pass  # a cell of spaces, or not a number: the scalar rule decides cell by cell
    return np.array([np.nan if (x := _num(v)) is None else x for v in arr], dtype=float)


def _read_table(path: Path, layer: str | None, text_columns: Iterable[str]) -> pd.DataFrame:
    """Read a CSV (everything as text, so ids keep leading zeros) or an OGR table."""
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    import pyogrio  # only needed for spatial tables

    df = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    df = pd.DataFrame(df)
    for col in text_columns:
        if col in df.columns:
            df[col] = _strings(df[col])
    return df


def _read_townships(inst: _Instance) -> pd.DataFrame:
    path, layer = _table_ref(inst.townships_ref, inst.path.parent, "townships")
    df = _read_table(path, layer, _TOWNSHIP_TEXT)
    missing = [c for c in _TOWNSHIP_REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: township table lacks column(s) {', '.join(missing)}")
    for col in _TOWNSHIP_TEXT:
        if col in df.columns:
            df[col] = _strings(df[col])
    for col in _TOWNSHIP_NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    dupes = df["township_id"][df["township_id"].duplicated()].unique().tolist()
    if dupes:
        raise ValueError(f"{path}: township id(s) appear more than once: {', '.join(dupes)}")
    return df.reset_index(drop=True)


@dataclass
class _Site:
    """Site overrides: the first row of each (township, industry), blank cells as NaN."""

    keys: pd.MultiIndex
    columns: dict[str, np.ndarray]  # usable column → float per row of `keys`

    def rows(self, tids: np.ndarray, iids: np.ndarray) -> np.ndarray:
        """Row of each (township, industry) pair in the table, or -1."""
        if not len(self.keys) or not len(tids):
            return np.full(len(tids), -1, dtype=np.intp)
        return self.keys.get_indexer(pd.MultiIndex.from_arrays([tids, iids]))

    def values(self, column: str, rows: np.ndarray) -> np.ndarray | None:
        """The column's value for each row index (NaN where -1 or blank); None if absent."""
        col = self.columns.get(column)
        if col is None:
            return None
        return np.where(rows >= 0, col[np.maximum(rows, 0)], np.nan) if len(col) else None


def _read_site(inst: _Instance, notes: list[str]) -> _Site:
    """Site overrides by (township, industry): only non-blank cells count."""
    empty = _Site(pd.MultiIndex.from_arrays([[], []]), {})
    if inst.site_ref is None:
        return empty
    path, layer = _table_ref(inst.site_ref, inst.path.parent, "site_coefficients")
    df = _read_table(path, layer, ("township_id", "industry"))
    for col in ("township_id", "industry"):
        if col not in df.columns:
            raise ValueError(f"{path}: site-coefficient table lacks column {col}")
    usable = []
    for col in df.columns:
        if col in ("township_id", "industry", "source") or col.startswith("note"):
            continue  # kept for people, like the validator does
        if col in _SITE_FIELD_DEFAULTS or col.startswith("gep."):
            usable.append(col)
        else:
            notes.append(f"site-coefficient column '{col}' is not a site-specific field; ignored")
    tids = _strings(df["township_id"])
    iids = _strings(df["industry"])
    twice = pd.DataFrame({"t": tids, "i": iids}).duplicated().to_numpy()
    for k in np.flatnonzero(twice):
        notes.append(
            f"site coefficients for {tids[k]}/{iids[k]} appear twice; the first row is used"
        )
    keep = ~twice
    return _Site(
        pd.MultiIndex.from_arrays([tids[keep], iids[keep]]),
        {c: _numbers(df[c])[keep] for c in usable},
    )


@dataclass
class _CountyFigures:
    """Sums, township counts and industry counts of a plan per county."""

    pt: pd.DataFrame
    totals: dict[str, dict[str, float]]  # column → county → sum
    sizes: dict[str, int]  # county → townships
    counts: dict[str, dict[str, float]]  # county → industry → townships
    _ids: dict[str, list[str]] | None = None

    def township_ids(self, county: str) -> list[str]:
        """The plan's township ids in a county, sorted."""
        if self._ids is None:
            self._ids = (
                {str(c): sorted(g.tolist()) for c, g in self.pt.groupby("county")["township_id"]}
                if len(self.pt)
                else {}
            )
        return self._ids.get(county, [])


# --------------------------------------------------------------------------- allocation


def _normalise_allocation(allocation: pd.DataFrame | Path | str) -> pd.DataFrame:
    """Allocation as text ids + numeric figure columns, whatever it was read from."""
    if isinstance(allocation, (str, Path)):
        df = pd.read_csv(Path(allocation), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    else:
        df = allocation.copy()
    for col in ("township_id", "industry"):
        if col not in df.columns:
            raise ValueError(f"the allocation has no '{col}' column")
        df[col] = _strings(df[col])
    for col in ALLOCATION_NUMERIC:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ALLOCATION_TEXT:
        if col in df.columns:
            df[col] = _strings(df[col], _text)
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------- vectorised rules


def _fmax3(a: Any, b: Any) -> np.ndarray:
    """max(1.0, |a|, |b|) element-wise, skipping NaN like Python's max() does here."""
    return np.fmax(np.fmax(1.0, np.abs(a)), np.abs(b))


def _holds_all(lhs: np.ndarray, sense: str, rhs: np.ndarray, tol: float) -> np.ndarray:
    """Whether lhs (sense) rhs holds, row by row, forgiving rounding of order tol relative
    to the sizes (tol × max(1, |lhs|, |rhs|)); a NaN side never holds."""
    with np.errstate(invalid="ignore", over="ignore"):
        slack = tol * _fmax3(lhs, rhs)
        if sense == "<=":
            return lhs <= rhs + slack
        if sense == ">=":
            return lhs >= rhs - slack
        return np.abs(lhs - rhs) <= slack


def _close_all(written: np.ndarray, recomputed: np.ndarray, tol: float) -> np.ndarray:
    """`_close` row by row (a NaN is never close)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(written - recomputed) <= tol * _fmax3(written, recomputed)


def _floats(values: Any, n: int) -> np.ndarray:
    """A scalar or an array as a float64 array of length n."""
    arr = np.asarray(values, dtype=float)
    return np.full(n, float(arr)) if arr.ndim == 0 else arr


_PER_HA_KEYS = (
    "output",
    "revenue",
    "operating_cost",
    "value_added",
    "farmer_income",
    "water",
    "investment",
    "pv_capacity",
    *(f"gep_{c}" for c in GEP_CATEGORIES),
)

_PT_COLUMNS = ["township_id", "name", "county", "city", "basin", "industry", "industry_label",
               "industry_label_zh", "area_ha", "output_amount", "output_unit", "water_use_m3",
               "pv_capacity_mw", "investment_yuan", "revenue_yuan", "operating_cost_yuan",
               "value_added_yuan", "farmer_income_yuan", "gep_material_yuan", "gep_regulating_yuan",
               "gep_cultural_yuan", "gep_total_yuan", "baseline_land_use", "baseline_farmer_income_yuan",
               "baseline_gep_total_yuan", "change_farmer_income_yuan", "change_gep_total_yuan",
               "counts_as_conservation", "locked"]  # fmt: skip

# Findings of the row-by-row checks are gathered as (allocation row, rank, sub-rank, item)
# and sorted, so that they come out in the order a row-by-row pass would list them:
# per row unknown township, unknown industry, not a candidate, the gates in _GATES order,
# forbidden, then notes from the chosen pair's and the baseline pair's coefficients.
_RANK_UNKNOWN_TOWNSHIP = 0
_RANK_UNKNOWN_INDUSTRY = 1
_RANK_NOT_CANDIDATE = 2
_RANK_GATE = 3  # + position in _GATES
_RANK_FORBIDDEN = 3 + len(_GATES)
_RANK_CHOSEN = _RANK_FORBIDDEN + 1
_RANK_BASELINE = _RANK_CHOSEN + 1


class _Checker:
    """One pass over one plan; collects findings into a CheckReport.

    Every rule is applied to whole columns at once (numpy / pandas); Python loops run only
    over industries, services, markets and limits, or over rows that break a rule (to
    word their messages).
    """

    def __init__(self, instance_yaml: Path, tol: float) -> None:
        self.tol = tol
        self.report = CheckReport()
        self.inst = _read_instance(Path(instance_yaml))
        self.towns = _read_townships(self.inst)
        self.site = _read_site(self.inst, self.report.notes)
        towns = self.towns
        self.tids = towns["township_id"].to_numpy(dtype=object)
        self.town_index = pd.Index(self.tids, dtype=object)
        self.town_num = {
            c: towns[c].to_numpy(dtype=float, na_value=np.nan) for c in _TOWNSHIP_NUMERIC
        }
        blank = np.full(len(towns), "", dtype=object)
        self.town_text = {
            c: towns[c].to_numpy(dtype=object) if c in towns.columns else blank
            for c in _TOWNSHIP_TEXT
        }
        self._town_pos: dict[str, int] | None = None

    # -- labels ---------------------------------------------------------------
    def town_label(self, tid: str) -> str:
        if self._town_pos is None:
            self._town_pos = dict(zip(self.tids.tolist(), range(len(self.tids))))
        k = self._town_pos.get(tid)
        if k is None:
            return f"township {tid}"
        name = str(self.town_text["name"][k] or tid)
        zh = str(self.town_text["name_zh"][k] or "")
        if zh and zh != name:
            return f"{name} ({zh})"
        return f"{name} ({tid})" if name != tid else name

    def industry_label(self, iid: str) -> str:
        ind = self.inst.industries.get(iid)
        return f"{ind.label} ({iid})" if ind and ind.label != iid else iid

    # -- findings --------------------------------------------------------------
    def violate(
        self,
        name: str,
        index: str | None,
        amount: float | None,
        limit: float | None,
        unit: str,
        sense: str,
        message: str,
    ) -> None:
        v = Violation(name, index, amount, limit, unit, sense, message)
        log.info("violation %s[%s]: %s", name, index, message)
        self.report.violations.append(v)

    def mismatch(
        self, source: str, key: str, index: str | None, written: Any, recomputed: Any, message: str
    ) -> None:
        log.info("mismatch %s.%s[%s]: %s", source, key, index, message)
        self.report.mismatches.append(Mismatch(source, key, index, written, recomputed, message))

    def constraint_rows(
        self,
        name: str,
        index: Iterable[str | None],
        lhs: Any,
        sense: str,
        rhs: Any,
        unit: str,
        describe: Callable[[int, float, float], str],
    ) -> None:
        """Record a block of rows of one family; word each failing row by describe(k, lhs, rhs)."""
        index = list(index)
        n = len(index)
        if not n:
            return
        lhs_a, rhs_a = _floats(lhs, n), _floats(rhs, n)
        with np.errstate(invalid="ignore", over="ignore"):
            if sense == "<=":
                slack = rhs_a - lhs_a
            elif sense == ">=":
                slack = lhs_a - rhs_a
            else:
                slack = -np.abs(lhs_a - rhs_a)
        ok = _holds_all(lhs_a, sense, rhs_a, self.tol)
        lhs_l, rhs_l = lhs_a.tolist(), rhs_a.tolist()
        self.report.constraints.extend(
            [
                ConstraintValue(name, i, lo, hi, sense, unit, s, good)
                for i, lo, hi, s, good in zip(index, lhs_l, rhs_l, slack.tolist(), ok.tolist())
            ]
        )
        for k in np.flatnonzero(~ok).tolist():
            lo, hi = lhs_l[k], rhs_l[k]
            self.violate(name, index[k], lo, hi, unit, sense, describe(k, lo, hi))

    def constraint(
        self,
        name: str,
        index: str | None,
        lhs: float,
        sense: str,
        rhs: float,
        unit: str,
        describe: Callable[[float, float], str],
    ) -> None:
        """Record one constraint row; if it fails, add a violation worded by `describe`."""
        self.constraint_rows(
            name, [index], lhs, sense, rhs, unit, lambda _k, lo, hi: describe(lo, hi)
        )

    # -- coefficients -------------------------------------------------------------
    def per_ha(
        self, tids: np.ndarray, iids: np.ndarray, tpos: np.ndarray
    ) -> tuple[dict[str, np.ndarray], list[tuple[int, int, str]]]:
        """Per-hectare figures of pairs (township, industry), following docs/model.md.

        `tpos` are the townships' rows in the township table. Returns the figures (one
        array per key of _PER_HA_KEYS) and the notes as (pair, sub-rank, text), placed at
        the first pair that gives rise to them.
        """
        n = len(iids)
        out = {k: np.zeros(n) for k in _PER_HA_KEYS}
        notes: list[tuple[int, int, str]] = []
        if not n:
            return out, notes
        srow = self.site.rows(tids, iids)
        irradiance = self.town_num["irradiance_kwh_per_m2"][tpos]
        site_cols = list(self.site.columns)
        for iid, ind in self.inst.industries.items():
            rows = np.flatnonzero(iids == iid)
            if not len(rows):
                continue
            s_rows = srow[rows]
            m = len(rows)

            def site_value(key: str, ind: _Industry = ind, s_rows: np.ndarray = s_rows) -> np.ndarray:
                default = ind.fields[key]
                value = np.full(len(s_rows), np.nan if default is None else float(default))
                site = self.site.values(key, s_rows)
                return value if site is None else np.where(np.isnan(site), value, site)

            def given(key: str) -> np.ndarray:  # `f[key] or 0.0`
                value = site_value(key)
                return np.where(np.isnan(value), 0.0, value)

            y_given = site_value("yield_per_ha")
            has_y = ~np.isnan(y_given)
            cap = ind.pv_capacity_mw_per_ha
            if cap > 0:
                ratio = site_value("pv_performance_ratio")
                no_ratio = ~has_y & np.isnan(ratio)
                with np.errstate(invalid="ignore"):
                    pv = cap * irradiance[rows] * ratio
                y = np.where(has_y, y_given, np.where(no_ratio, 0.0, pv))
                if no_ratio.any():
                    notes.append(
                        (
                            int(rows[np.argmax(no_ratio)]),
                            0,
                            f"PV industry {ind.id} has no pv_performance_ratio; output taken as 0",
                        )
                    )
            else:
                y = np.where(has_y, y_given, 0.0)
            revenue = y * given("price_yuan_per_unit") + given("other_revenue_yuan_per_ha")
            op_cost = given("operating_cost_yuan_per_ha")
            value_added = revenue - op_cost
            income = (
                given("farmer_payments_yuan_per_ha")
                + given("farmer_share_of_value_added") * value_added
            )
            gep = {c: np.zeros(m) for c in GEP_CATEGORIES}
            for j, s in enumerate(ind.services.values()):
                if s.category not in gep:
                    notes.append(
                        (
                            int(rows[0]),
                            1 + j,
                            f"industry {ind.id}: service {s.name} has unknown category "
                            f"{s.category!r}; ignored",
                        )
                    )
                    continue
                override = self.site.values(f"gep.{s.name}", s_rows)
                if s.quantity_per_ha is not None:
                    q = np.full(m, s.quantity_per_ha)
                else:
                    q = np.full(m, s.quantity_per_output_unit or 0.0)
                if override is not None:
                    q = np.where(np.isnan(override), q, override)
                if s.quantity_per_ha is None:
                    q = q * y
                gep[s.category] = gep[s.category] + q * s.unit_price_yuan
            for j, key in enumerate(site_cols):
                if key.startswith("gep.") and key[4:] not in ind.services:
                    values = self.site.values(key, s_rows)
                    given_here = np.zeros(m, dtype=bool) if values is None else ~np.isnan(values)
                    if given_here.any():
                        notes.append(
                            (
                                int(rows[np.argmax(given_here)]),
                                1000 + j,
                                f"site column {key} names no GEP service of industry {ind.id}; "
                                "ignored",
                            )
                        )
            figures = {
                "output": y,
                "revenue": revenue,
                "operating_cost": op_cost,
                "value_added": value_added,
                "farmer_income": income,
                "water": given("water_m3_per_ha"),
                "investment": given("investment_yuan_per_ha"),
                "pv_capacity": np.full(m, ind.pv_capacity_mw_per_ha),
                **{f"gep_{c}": v for c, v in gep.items()},
            }
            for key, value in figures.items():
                out[key][rows] = value
        return out, notes

    # -- the plan ---------------------------------------------------------------
    def recompute(self, alloc: pd.DataFrame) -> pd.DataFrame:
        """Check the allocation's rows against T and I, and recompute each valid row."""
        inst = self.inst
        tids = alloc["township_id"].to_numpy(dtype=object)
        iids = alloc["industry"].to_numpy(dtype=object)
        tpos = self.town_index.get_indexer(tids) if len(tids) else np.empty(0, dtype=np.intp)
        known = tpos >= 0
        first = known & ~pd.Series(tids, dtype=object).duplicated().to_numpy()
        is_industry = pd.Series(iids, dtype=object).isin(list(inst.industries)).to_numpy()
        found: list[tuple[int, int, int, Violation]] = []
        noted: list[tuple[int, int, int, str]] = []

        def flag(pos: int, rank: int, *args: Any) -> None:
            found.append((pos, rank, 0, Violation(*args)))

        for pos in np.flatnonzero(~known).tolist():
            tid = tids[pos]
            flag(
                pos,
                _RANK_UNKNOWN_TOWNSHIP,
                "unknown_township",
                tid or None,
                None,
                None,
                "",
                "in",
                f"Allocation row {pos + 1}: township id '{tid}' is not in the township table",
            )
        for pos in np.flatnonzero(first & ~is_industry).tolist():
            tid, iid = tids[pos], iids[pos]
            flag(
                pos,
                _RANK_UNKNOWN_INDUSTRY,
                "unknown_industry",
                tid,
                None,
                None,
                "",
                "in",
                f"{self.town_label(tid)}: industry '{iid}' is not defined in the instance",
            )

        vpos = np.flatnonzero(first & is_industry)  # allocation rows that enter the plan
        vt, vi, vtp = tids[vpos], iids[vpos], tpos[vpos]
        for iid, ind in inst.industries.items():
            rows = np.flatnonzero(vi == iid) if len(vi) else np.empty(0, dtype=np.intp)
            if not len(rows):
                continue
            if not ind.candidate:
                for k in rows.tolist():
                    flag(
                        int(vpos[k]),
                        _RANK_NOT_CANDIDATE,
                        "industry_not_candidate",
                        vt[k],
                        None,
                        None,
                        "",
                        "in",
                        f"{self.town_label(vt[k])}: {self.industry_label(iid)} is not a candidate "
                        "industry (candidate: false, it may only be a baseline land use)",
                    )
            for g, (key, column, sense, words, unit) in enumerate(_GATES):
                if key not in ind.gates:
                    continue
                limit = ind.gates[key]
                value = self.town_num[column][vtp[rows]]
                missing = np.isnan(value)
                with np.errstate(invalid="ignore"):
                    # gates are exact, as in P
                    passes = value >= limit if sense == ">=" else value <= limit
                for k in rows[missing].tolist():
                    noted.append(
                        (
                            int(vpos[k]),
                            _RANK_GATE + g,
                            0,
                            f"{self.town_label(vt[k])} has no {column}; gate {key} of {ind.id} "
                            "not checked",
                        )
                    )
                need = "at least" if sense == ">=" else "at most"
                fails = ~missing & ~passes
                for k, x in zip(rows[fails].tolist(), value[fails].tolist()):
                    flag(
                        int(vpos[k]),
                        _RANK_GATE + g,
                        f"suitability_{key}",
                        vt[k],
                        x,
                        limit,
                        unit,
                        sense,
                        f"{self.town_label(vt[k])}: {self.industry_label(ind.id)} needs {words} "
                        f"{need} {format_amount(limit, unit)}; the township has "
                        f"{format_amount(x, unit)}",
                    )
        if inst.forbid_locks and len(vpos):
            pairs = pd.MultiIndex.from_arrays([vt, vi])
            for k in np.flatnonzero(pairs.isin(list(inst.forbid_locks))).tolist():
                reason = inst.forbid_locks[(vt[k], vi[k])]
                flag(
                    int(vpos[k]),
                    _RANK_FORBIDDEN,
                    "industry_forbidden",
                    vt[k],
                    1.0,
                    0.0,
                    "",
                    "==",
                    f"{self.town_label(vt[k])}: {self.industry_label(vi[k])} is forbidden here by "
                    "a lock" + (f" ({reason})" if reason else ""),
                )

        # figures of the chosen pair and of the baseline pair
        c, chosen_notes = self.per_ha(vt, vi, vtp)
        noted += [(int(vpos[k]), _RANK_CHOSEN, sub, text) for k, sub, text in chosen_notes]
        baseline = self.town_text["baseline_land_use"][vtp]
        has_base = pd.Series(baseline, dtype=object).isin(list(inst.industries)).to_numpy()
        bk = np.flatnonzero(has_base)
        cb, base_notes = self.per_ha(vt[bk], baseline[bk], vtp[bk])
        noted += [(int(vpos[bk[k]]), _RANK_BASELINE, sub, text) for k, sub, text in base_notes]
        for k in np.flatnonzero(~has_base).tolist():
            noted.append(
                (
                    int(vpos[k]),
                    _RANK_BASELINE,
                    0,
                    f"{self.town_label(vt[k])}: baseline land use '{baseline[k]}' is not an "
                    "industry; no baseline",
                )
            )

        found.sort(key=lambda e: e[:3])
        for _pos, _rank, _sub, v in found:
            log.info("violation %s[%s]: %s", v.name, v.index, v.message)
            self.report.violations.append(v)
        noted.sort(key=lambda e: e[:3])
        self.report.notes.extend(text for *_key, text in noted)

        n = len(vpos)
        area = self.town_num["plannable_area_ha"][vtp]
        base_income = np.full(n, np.nan)
        base_gep = np.full(n, np.nan)
        base_income[bk] = area[bk] * cb["farmer_income"]
        base_gep[bk] = area[bk] * (cb["gep_material"] + cb["gep_regulating"] + cb["gep_cultural"])
        income = area * c["farmer_income"]
        gep = {k: area * c[f"gep_{k}"] for k in GEP_CATEGORIES}
        gep_total = gep["material"] + gep["regulating"] + gep["cultural"]
        ind_of = pd.Series(vi, dtype=object)
        industries = inst.industries

        def by_industry(get: Callable[[_Industry], Any]) -> np.ndarray:
            return ind_of.map({i: get(ind) for i, ind in industries.items()}).to_numpy(dtype=object)

        must = {(t, i) for t, i, _ in inst.must_locks}
        locked = np.full(n, "", dtype=object)
        if must and n:
            locked[pd.MultiIndex.from_arrays([vt, vi]).isin(list(must))] = "must"
        text = self.town_text
        frame = {
            "township_id": vt,
            "name": text["name"][vtp],
            "county": text["county"][vtp],
            "city": text["city"][vtp],
            "basin": text["basin"][vtp],
            "industry": vi,
            "industry_label": by_industry(lambda ind: ind.label),
            "industry_label_zh": by_industry(lambda ind: ind.label_zh or ""),
            "area_ha": area,
            "output_amount": area * c["output"],
            "output_unit": by_industry(lambda ind: ind.output_unit),
            "water_use_m3": area * c["water"],
            "pv_capacity_mw": area * c["pv_capacity"],
            "investment_yuan": area * c["investment"],
            "revenue_yuan": area * c["revenue"],
            "operating_cost_yuan": area * c["operating_cost"],
            "value_added_yuan": area * c["value_added"],
            "farmer_income_yuan": income,
            "gep_material_yuan": gep["material"],
            "gep_regulating_yuan": gep["regulating"],
            "gep_cultural_yuan": gep["cultural"],
            "gep_total_yuan": gep_total,
            "baseline_land_use": baseline,
            "baseline_farmer_income_yuan": base_income,
            "baseline_gep_total_yuan": base_gep,
            "change_farmer_income_yuan": income - base_income,
            "change_gep_total_yuan": gep_total - base_gep,
            "counts_as_conservation": by_industry(lambda ind: ind.conservation).astype(bool),
            "locked": locked,
        }
        pt = pd.DataFrame(frame, columns=_PT_COLUMNS)

        # one_industry_per_township: every row of the allocation counts, valid or not
        counts = pd.Series(tids, dtype=object).value_counts()
        times = counts.reindex(self.tids, fill_value=0).to_numpy(dtype=float)

        def one_industry(k: int, lhs: float, _rhs: float) -> str:
            label = self.town_label(self.tids[k])
            if lhs == 0:
                return (
                    f"{label} is missing from the allocation; every township needs exactly one "
                    "industry"
                )
            return (
                f"{label} appears {int(lhs)} times in the allocation; every township must "
                "appear exactly once (the first row was used)"
            )

        self.constraint_rows(
            "one_industry_per_township", self.tids, times, "==", 1.0, "townships", one_industry
        )
        return pt

    # -- constraints --------------------------------------------------------------
    def constraints(self, pt: pd.DataFrame) -> None:
        inst = self.inst
        ptids = pt["township_id"].to_numpy(dtype=object)
        ptpos = self.town_index.get_indexer(ptids) if len(pt) else np.empty(0, dtype=np.intp)
        order = np.argsort(ptpos, kind="stable")  # the plan's rows in township-table order
        o_tids, o_tpos = ptids[order], ptpos[order]

        def column(name: str) -> np.ndarray:  # a figure of the plan, in township-table order
            return pt[name].to_numpy(dtype=float, na_value=np.nan)[order]

        def group_sum(value: str, by: str, keys: list[str]) -> np.ndarray:
            if not len(pt) or not keys:
                return np.zeros(len(keys))
            sums = pt.groupby(by, sort=False)[value].sum()
            return sums.reindex(keys, fill_value=0.0).to_numpy(dtype=float)

        if inst.water_per_township and len(pt):
            self.constraint_rows(
                "water_use_per_township_max",
                o_tids,
                column("water_use_m3"),
                "<=",
                self.town_num["water_available_m3"][o_tpos],
                "m³",
                lambda k, lhs, rhs: (
                    f"{self.town_label(o_tids[k])}: water use {format_amount(lhs, 'm³')} exceeds "
                    f"the township's {format_amount(rhs, 'm³')} (by {format_amount(lhs - rhs, 'm³')})"
                ),
            )

        counties = list(inst.county_water_max)
        self._warn_unknown_group("county", counties)
        self.constraint_rows(
            "water_use_per_county_max",
            counties,
            group_sum("water_use_m3", "county", counties),
            "<=",
            [inst.county_water_max[c] for c in counties],
            "m³",
            lambda k, lhs, rhs: (
                f"County {counties[k]}: water use {format_amount(lhs, 'm³')} exceeds the county "
                f"budget of {format_amount(rhs, 'm³')} (by {format_amount(lhs - rhs, 'm³')})"
            ),
        )

        basins = list(inst.basin_water_max)
        self._warn_unknown_group("basin", basins)
        self.constraint_rows(
            "water_use_per_basin_max",
            basins,
            group_sum("water_use_m3", "basin", basins),
            "<=",
            [inst.basin_water_max[b] for b in basins],
            "m³",
            lambda k, lhs, rhs: (
                f"Basin {basins[k]}: water use {format_amount(lhs, 'm³')} exceeds the basin "
                f"budget of {format_amount(rhs, 'm³')} (by {format_amount(lhs - rhs, 'm³')})"
            ),
        )

        for mid, m in inst.markets.items():
            if m.max_output is None:
                continue
            q = self.market_output(pt, m)
            unit = self.market_unit(m)
            self.constraint(
                "market_output_max",
                mid,
                q,
                "<=",
                m.max_output,
                unit,
                lambda lhs, rhs, mid=mid, unit=unit: (
                    f"Market {mid}: output {format_amount(lhs, unit)} exceeds "
                    f"the market's cap of {format_amount(rhs, unit)} (by {format_amount(lhs - rhs, unit)})"
                ),
            )

        grid = list(inst.grid_county_max_mw)
        self._warn_unknown_group("county", grid)
        self.constraint_rows(
            "pv_capacity_per_county_max",
            grid,
            group_sum("pv_capacity_mw", "county", grid),
            "<=",
            [inst.grid_county_max_mw[c] for c in grid],
            "MWp",
            lambda k, lhs, rhs: (
                f"County {grid[k]}: PV capacity {format_amount(lhs, 'MWp')} exceeds the grid "
                f"connection limit of {format_amount(rhs, 'MWp')} (by {format_amount(lhs - rhs, 'MWp')})"
            ),
        )

        if inst.investment_budget is not None:
            spent = float(pt["investment_yuan"].sum()) if len(pt) else 0.0
            self.constraint(
                "investment_budget_max",
                None,
                spent,
                "<=",
                inst.investment_budget,
                "yuan",
                lambda lhs, rhs: (
                    f"Investment {format_amount(lhs, 'yuan')} exceeds the budget of "
                    f"{format_amount(rhs, 'yuan')} (by {format_amount(lhs - rhs, 'yuan')})"
                ),
            )

        cons_area = (
            pt.loc[pt["counts_as_conservation"].astype(bool), ["county", "area_ha"]]
            if len(pt)
            else None
        )
        if inst.conservation_share is not None:
            s = inst.conservation_share
            total = float(self.towns["plannable_area_ha"].sum())
            have = float(cons_area["area_ha"].sum()) if cons_area is not None else 0.0
            self.constraint(
                "conservation_area_min",
                None,
                have,
                ">=",
                s * total,
                "ha",
                lambda lhs, rhs: (
                    f"Conservation area {format_amount(lhs, 'ha')} is below the required "
                    f"{format_amount(rhs, 'ha')} ({_percent(s)} of {format_amount(total, 'ha')} plannable; "
                    f"short by {format_amount(rhs - lhs, 'ha')})"
                ),
            )
        if inst.conservation_share_per_county is not None:
            share = inst.conservation_share_per_county
            all_counties = sorted(set(self.town_text["county"].tolist()))
            totals = (
                self.towns.groupby("county", sort=False)["plannable_area_ha"]
                .sum()
                .reindex(all_counties, fill_value=0.0)
                .to_numpy(dtype=float)
            )
            have_by = (
                cons_area.groupby("county", sort=False)["area_ha"]
                .sum()
                .reindex(all_counties, fill_value=0.0)
                .to_numpy(dtype=float)
                if cons_area is not None and len(all_counties)
                else np.zeros(len(all_counties))
            )
            self.constraint_rows(
                "conservation_area_per_county_min",
                all_counties,
                have_by,
                ">=",
                share * totals,
                "ha",
                lambda k, lhs, rhs: (
                    f"County {all_counties[k]}: conservation area "
                    f"{format_amount(lhs, 'ha')} is below the required {format_amount(rhs, 'ha')} "
                    f"({_percent(share)} of {format_amount(float(totals[k]), 'ha')} plannable; short by "
                    f"{format_amount(rhs - lhs, 'ha')})"
                ),
            )

        if (inst.floor_per_ha is not None or inst.floor_share is not None) and len(pt):
            self._income_floor(o_tids, o_tpos, column("baseline_farmer_income_yuan"),
                               column("farmer_income_yuan"))  # fmt: skip

        if inst.must_locks:
            self._must_locks(pt)

    def _income_floor(
        self, tids: np.ndarray, tpos: np.ndarray, base: np.ndarray, income: np.ndarray
    ) -> None:
        """farmer_income_per_township_min: the larger of the per-ha and the baseline-share floor."""
        inst = self.inst
        area = self.town_num["plannable_area_ha"][tpos]
        n = len(tids)
        per_ha = area * inst.floor_per_ha if inst.floor_per_ha is not None else None
        share = np.full(n, np.nan)
        has_share = np.zeros(n, dtype=bool)
        if inst.floor_share is not None:
            no_base = np.isnan(base)
            self.report.notes.extend(
                f"{self.town_label(tids[k])}: no baseline income; share floor not checked"
                for k in np.flatnonzero(no_base).tolist()
            )
            has_share = ~no_base
            share = inst.floor_share * base
        if per_ha is not None:
            rows = np.arange(n)
            with np.errstate(invalid="ignore"):
                by_share = has_share & (share > per_ha)  # max() keeps the first of equals
            rhs = np.where(by_share, share, per_ha)
        else:
            rows = np.flatnonzero(has_share)
            by_share = has_share
            rhs = share
        area_l = area.tolist()
        base_l = base.tolist()

        def why(k: int) -> str:
            if by_share[k]:
                return (
                    f"{_percent(inst.floor_share)} of baseline income "
                    f"{format_amount(base_l[k], 'yuan')}"
                )
            return (
                f"{format_amount(inst.floor_per_ha, 'yuan/ha')} × "
                f"{format_amount(area_l[k], 'ha')}"
            )

        r_tids = tids[rows]
        self.constraint_rows(
            "farmer_income_per_township_min",
            r_tids,
            income[rows],
            ">=",
            rhs[rows],
            "yuan",
            lambda k, lhs, rhs: (
                f"{self.town_label(r_tids[k])}: farmers' income "
                f"{format_amount(lhs, 'yuan')} is below the floor of {format_amount(rhs, 'yuan')} "
                f"({why(int(rows[k]))}; short by {format_amount(rhs - lhs, 'yuan')})"
            ),
        )

    def _must_locks(self, pt: pd.DataFrame) -> None:
        """industry_locked_in: a township locked to an industry gets it."""
        locks = self.inst.must_locks
        ltids = np.array([t for t, _, _ in locks], dtype=object)
        liids = np.array([i for _, i, _ in locks], dtype=object)
        known = self.town_index.get_indexer(ltids) >= 0
        self.report.notes.extend(
            f"a must-lock names township '{ltids[k]}', which is not in the table"
            for k in np.flatnonzero(~known).tolist()
        )
        at = pd.Index(pt["township_id"].to_numpy(dtype=object), dtype=object).get_indexer(ltids)
        planned = pt["industry"].to_numpy(dtype=object)
        chosen = np.array(
            [None] * len(locks), dtype=object
        )  # the industry the plan gives the township, or None
        chosen[at >= 0] = planned[at[at >= 0]]
        rows = np.flatnonzero(known)
        r_tids, r_iids, r_chosen = ltids[rows], liids[rows], chosen[rows]
        reasons = [locks[k][2] for k in rows.tolist()]
        self.constraint_rows(
            "industry_locked_in",
            r_tids,
            (r_chosen == r_iids).astype(float),
            "==",
            1.0,
            "",
            lambda k, _lhs, _rhs: (
                f"{self.town_label(r_tids[k])}: a lock requires {self.industry_label(r_iids[k])}"
                + (f" ({reasons[k]})" if reasons[k] else "")
                + (
                    f", but the plan has {self.industry_label(r_chosen[k])}"
                    if r_chosen[k]
                    else ", but the plan has no valid industry here"
                )
            ),
        )

    def _warn_unknown_group(self, kind: str, names: Iterable[str]) -> None:
        column = "county" if kind == "county" else "basin"
        known = set(self.town_text[column].tolist()) if column in self.towns.columns else set()
        for name in names:
            if name not in known:
                self.report.notes.append(
                    f"{kind} '{name}' has a limit but no township in the table"
                )

    def market_output(self, pt: pd.DataFrame, m: _Market) -> float:
        if not len(pt):
            return 0.0
        return float(pt.loc[pt["industry"].isin(m.industries), "output_amount"].sum())

    def market_unit(self, m: _Market) -> str:
        for iid in m.industries:
            if iid in self.inst.industries:
                return self.inst.industries[iid].output_unit
        return ""

    # -- objective ------------------------------------------------------------------
    def objective(self, pt: pd.DataFrame) -> None:
        inst, rep = self.inst, self.report
        totals = {
            k: (float(pt[k].sum()) if len(pt) else 0.0)
            for k in (
                "gep_material_yuan",
                "gep_regulating_yuan",
                "gep_cultural_yuan",
                "farmer_income_yuan",
            )
        }
        losses: dict[str, float] = {}
        farmer_loss = 0.0
        for mid, m in inst.markets.items():
            if not m.steps:
                losses[mid] = 0.0
                continue
            q = self.market_output(pt, m)
            loss = price_step_loss(q, m.steps)
            losses[mid] = loss
            shares = [
                inst.industries[i].fields["farmer_share_of_value_added"] or 0.0
                for i in m.industries
                if i in inst.industries
            ]
            if len(set(shares)) > 1:
                rep.notes.append(
                    f"market {mid}: industries have different farmer shares {shares}; the first is used"
                )
            farmer_loss += (shares[0] if shares else 0.0) * loss
        delta = 1.0 if inst.double_count == "count_both" else 0.0
        gep_part = (
            totals["gep_regulating_yuan"]
            + totals["gep_cultural_yuan"]
            + delta * totals["gep_material_yuan"]
        )
        income_part = totals["farmer_income_yuan"] - farmer_loss
        rep.objective_yuan = inst.gep_weight * gep_part + inst.income_weight * income_part
        rep.market_revenue_loss_yuan = losses
        rep.parts = {
            **totals,
            "market_revenue_loss_yuan": sum(losses.values()),
            "farmer_market_revenue_loss_yuan": farmer_loss,
            "farmer_income_after_price_steps_yuan": income_part,
        }

    # -- written numbers --------------------------------------------------------------
    def compare_allocation(self, alloc: pd.DataFrame, pt: pd.DataFrame) -> None:
        if not len(pt):
            return
        absent = [c for c in ALLOCATION_NUMERIC if c not in alloc.columns]
        if absent:
            self.report.notes.append(
                "allocation has no column(s) " + ", ".join(absent) + "; not compared"
            )
        first = alloc.drop_duplicates("township_id", keep="first").set_index("township_id")
        ptids = pt["township_id"].to_numpy(dtype=object)
        at = pd.Index(first.index.to_numpy(dtype=object), dtype=object).get_indexer(ptids)
        out_units = pt["output_unit"].to_numpy(dtype=object)
        found: list[tuple[int, int, tuple[Any, ...]]] = []  # (plan row, column rank, mismatch)
        for rank, col in enumerate(ALLOCATION_NUMERIC):
            if col not in first.columns:
                continue
            want = pt[col].to_numpy(dtype=float, na_value=np.nan)
            got = first[col].to_numpy(dtype=float, na_value=np.nan)[at]
            has_want = ~np.isnan(want)
            blank = has_want & np.isnan(got)
            off = has_want & ~np.isnan(got) & ~_close_all(got, want, self.tol)
            for k in np.flatnonzero(blank).tolist():
                w = float(want[k])
                found.append(
                    (
                        k,
                        rank,
                        (
                            col,
                            ptids[k],
                            None,
                            w,
                            f"{self.town_label(ptids[k])}: {col} is blank; recomputed "
                            f"{format_amount(w, _UNITS.get(col, ''))}",
                        ),
                    )
                )
            for k in np.flatnonzero(off).tolist():
                g, w = float(got[k]), float(want[k])
                unit = _UNITS.get(col, out_units[k] if col == "output_amount" else "")
                found.append(
                    (
                        k,
                        rank,
                        (
                            col,
                            ptids[k],
                            g,
                            w,
                            f"{self.town_label(ptids[k])}: {col} written as "
                            f"{format_amount(g, unit)} but recomputed as {format_amount(w, unit)}",
                        ),
                    )
                )
        for rank, col in enumerate(ALLOCATION_TEXT, start=len(ALLOCATION_NUMERIC)):
            if col not in first.columns:
                continue
            want = pt[col].to_numpy(dtype=object)
            got = first[col].to_numpy(dtype=object)[at]
            for k in np.flatnonzero(got != want).tolist():
                w = "" if want[k] is None else str(want[k])
                g = str(got[k])
                if g == w:
                    continue
                found.append(
                    (
                        k,
                        rank,
                        (
                            col,
                            ptids[k],
                            g,
                            w,
                            f"{self.town_label(ptids[k])}: {col} written as '{g}' but the inputs "
                            f"give '{w}'",
                        ),
                    )
                )
        found.sort(key=lambda e: e[:2])
        for _k, _rank, args in found:
            self.mismatch("allocation", *args)

    def compare_summary(self, summary: Mapping[str, Any], pt: pd.DataFrame) -> None:
        rep, inst, tol = self.report, self.inst, self.tol
        rep.summary_checked = True

        def cmp(key: str, index: str | None, written: Any, want: float, unit: str = "yuan") -> None:
            got = _num(written)
            if got is None:
                if written is not None:
                    self.mismatch(
                        "summary", key, index, written, want, f"{key} is not a number: {written!r}"
                    )
                return
            if not _close(got, want, tol):
                where = f" [{index}]" if index is not None else ""
                self.mismatch(
                    "summary",
                    key,
                    index,
                    got,
                    want,
                    f"summary {key}{where} is {format_amount(got, unit)} but recomputed as "
                    f"{format_amount(want, unit)}",
                )

        dc = summary.get("double_count")
        if dc is not None and dc != inst.double_count:
            self.mismatch(
                "summary",
                "double_count",
                None,
                dc,
                inst.double_count,
                f"summary says double_count {dc} but the instance uses {inst.double_count}",
            )
        weights = _mapping(summary.get("weights"))
        if "gep" in weights:
            cmp("weights.gep", None, weights["gep"], inst.gep_weight, "")
        if "income" in weights:
            cmp("weights.income", None, weights["income"], inst.income_weight, "")

        if summary.get("has_solution") is False:
            rep.notes.append("summary reports no solution; objective and totals not compared")
            return

        obj, bound, gap = (
            _num(summary.get("objective_yuan")),
            _num(summary.get("bound_yuan")),
            _num(summary.get("gap")),
        )
        if obj is None:
            rep.notes.append("summary has no objective_yuan")
        else:
            cmp("objective_yuan", None, obj, rep.objective_yuan)
            if bound is not None:
                if bound < obj - tol * max(1.0, abs(obj)):
                    self.mismatch(
                        "summary",
                        "bound_yuan",
                        None,
                        bound,
                        obj,
                        f"bound {format_amount(bound, 'yuan')} is below the objective "
                        f"{format_amount(obj, 'yuan')}; for a maximisation the bound cannot be lower",
                    )
                want_gap = abs(obj - bound) / max(abs(obj), 1.0)
                if gap is not None and abs(gap - want_gap) > max(tol, 1e-9) * max(
                    1.0, abs(want_gap)
                ):
                    self.mismatch(
                        "summary",
                        "gap",
                        None,
                        gap,
                        want_gap,
                        f"summary gap {gap:.6g} is not |objective − bound| / max(|objective|, 1) = "
                        f"{want_gap:.6g}",
                    )

        summed = [c for c in ALLOCATION_NUMERIC if c != "output_amount"]
        totals = _mapping(summary.get("totals"))
        for key in summed:
            if key in totals:
                want = float(pt[key].sum()) if len(pt) else 0.0
                cmp(f"totals.{key}", None, totals[key], want, _UNITS.get(key, ""))
        for key in ("market_revenue_loss_yuan", "farmer_income_after_price_steps_yuan"):
            if key in totals:
                cmp(f"totals.{key}", None, totals[key], rep.parts[key])
        by_industry = {
            "output_by_industry": ("output_amount", ""),
            "area_ha_by_industry": ("area_ha", "ha"),
        }
        for key, (col, unit) in by_industry.items():
            if key in totals:
                want = pt.groupby("industry")[col].sum().to_dict() if len(pt) else {}
                self._cmp_dict(f"totals.{key}", totals[key], want, unit)
        if "townships_by_industry" in totals:
            want = pt.groupby("industry").size().astype(float).to_dict() if len(pt) else {}
            self._cmp_dict(
                "totals.townships_by_industry", totals["townships_by_industry"], want, "townships"
            )

        if isinstance(summary.get("market_revenue_loss_yuan"), Mapping):
            self._cmp_dict(
                "market_revenue_loss_yuan",
                summary["market_revenue_loss_yuan"],
                rep.market_revenue_loss_yuan,
                "yuan",
            )

        per_county = summary.get("per_county") or []
        if per_county:
            figures = self._county_figures(pt, summed)
            for entry in per_county:
                self._compare_county(_mapping(entry), figures, cmp, summed)

        # Constraint rows: `family` is the docs/model.md name; older writers may put the
        # bare name in `name`, or `name[index]`.
        mine = {(c.name, c.index): c for c in rep.constraints}
        for entry in summary.get("constraints") or []:
            entry = _mapping(entry)
            family = entry.get("family") or str(entry.get("name", "")).split("[", 1)[0]
            key = (str(family), _index_key(entry.get("index")))
            row = mine.get(key)
            if row is None:
                continue
            for part in ("lhs", "rhs"):
                if part in entry and entry[part] is not None:
                    cmp(
                        f"constraints.{key[0]}.{part}",
                        key[1],
                        entry[part],
                        getattr(row, part),
                        row.unit,
                    )

    def _county_figures(self, pt: pd.DataFrame, summed: list[str]) -> _CountyFigures:
        """The plan's figures per county, computed once for all per_county entries."""
        if not len(pt):
            return _CountyFigures(pt, {}, {}, {})
        by_county = pt.groupby("county", sort=False)
        sums = by_county[summed].sum()
        totals = {col: {str(c): float(v) for c, v in sums[col].items()} for col in summed}
        sizes = {str(c): int(n) for c, n in by_county.size().items()}
        counts: dict[str, dict[str, float]] = {}
        for (county, iid), n in pt.groupby(["county", "industry"], sort=False).size().items():
            counts.setdefault(str(county), {})[str(iid)] = float(n)
        return _CountyFigures(pt, totals, sizes, counts)

    def _compare_county(
        self, entry: Mapping[str, Any], fig: _CountyFigures, cmp: Any, summed: list[str]
    ) -> None:
        """One per_county entry of summary.json against the recomputed townships of it."""
        county = _id(entry.get("county"))
        for key in summed:
            if key in entry:
                want = fig.totals.get(key, {}).get(county, 0.0)
                cmp(f"per_county.{key}", county, entry[key], want, _UNITS.get(key, ""))
        towns = entry.get("townships")
        if isinstance(towns, (int, float)) and not isinstance(towns, bool):
            cmp("per_county.townships", county, towns, float(fig.sizes.get(county, 0)), "")
        elif isinstance(towns, list):
            want_ids = fig.township_ids(county)
            if sorted(_id(t) for t in towns) != want_ids:
                self.mismatch(
                    "summary",
                    "per_county.townships",
                    county,
                    towns,
                    want_ids,
                    f"County {county}: summary lists townships {towns}, the plan has {want_ids}",
                )
        counts = fig.counts.get(county, {})
        if isinstance(entry.get("townships_by_industry"), Mapping):
            self._cmp_dict(
                f"per_county[{county}].townships_by_industry",
                entry["townships_by_industry"],
                counts,
                "townships",
            )
        for key, value in entry.items():  # flat form: townships_<industry>: n
            iid = key[len("townships_") :] if key.startswith("townships_") else None
            if iid in self.inst.industries:
                cmp(f"per_county.{key}", county, value, counts.get(iid, 0.0), "townships")

    def _cmp_dict(self, key: str, written: Any, want: Mapping[str, float], unit: str) -> None:
        """Compare a {id: number} dict; entries may also be {amount, unit} (output by industry)."""
        got: dict[str, Any] = {}
        for k, v in _mapping(written).items():
            k = _id(k)
            if isinstance(v, Mapping):
                ind = self.inst.industries.get(k)
                wunit = v.get("unit")
                if ind is not None and wunit is not None and str(wunit) != ind.output_unit:
                    self.mismatch(
                        "summary",
                        f"{key}.unit",
                        k,
                        wunit,
                        ind.output_unit,
                        f"summary {key}[{k}] is in '{wunit}' but {k} produces '{ind.output_unit}'",
                    )
                v = v.get("amount")
            got[k] = v
        for k in sorted(set(got) | {k for k, v in want.items() if v}):
            w = float(want.get(k, 0.0))
            g = _num(got.get(k))
            u = unit or (self.inst.industries[k].output_unit if k in self.inst.industries else "")
            if g is None and k not in got:
                self.mismatch(
                    "summary",
                    key,
                    k,
                    None,
                    w,
                    f"summary {key} has no entry for {k}; recomputed {format_amount(w, u)}",
                )
            elif g is None or not _close(g, w, self.tol):
                self.mismatch(
                    "summary",
                    key,
                    k,
                    got.get(k),
                    w,
                    f"summary {key}[{k}] is {format_amount(g, u)} but recomputed as "
                    f"{format_amount(w, u)}",
                )


def _index_key(index: Any) -> str | None:
    """A summary constraint index ('c1', ['c1'], None, '') in the checker's form."""
    if index is None or index == "" or index == []:
        return None
    if isinstance(index, (list, tuple)):
        return _id(index[0]) if len(index) == 1 else ",".join(_id(i) for i in index)
    return _id(index)


# --------------------------------------------------------------------------- entry points


def check_plan(
    instance_yaml: Path | str,
    allocation: pd.DataFrame | Path | str,
    *,
    summary: Mapping[str, Any] | None = None,
    tol: float = 1e-6,
    compare_written: bool = True,
) -> CheckReport:
    """Check one plan against the instance, independently of the model code.

    Only the `township_id` and `industry` columns of `allocation` determine the plan;
    every other number is recomputed from the instance and compared with what is
    written (set `compare_written=False` for a hand-edited plan whose figures are stale).
    A `summary` (the dict of summary.json) adds checks of the objective, bound, gap,
    totals, per-county figures and constraint rows. `tol` is relative, and absolute for
    numbers below 1, so that rounding at 1e-6 is never reported.
    """
    checker = _Checker(Path(instance_yaml), tol)
    alloc = _normalise_allocation(allocation)
    pt = checker.recompute(alloc)
    checker.constraints(pt)
    checker.objective(pt)
    if compare_written:
        checker.compare_allocation(alloc, pt)
    if summary is not None:
        checker.compare_summary(summary, pt)
    rep = checker.report
    rep.per_township = pt
    rep.notes[:] = list(dict.fromkeys(rep.notes))  # same note from many townships: once
    for note in rep.notes:
        log.warning("check: %s", note)
    log.info(
        "check of %s: %d violation(s), %d mismatch(es), objective %s",
        checker.inst.name,
        len(rep.violations),
        len(rep.mismatches),
        format_amount(rep.objective_yuan, "yuan"),
    )
    return rep


def check_run(instance_yaml: Path | str, run_dir: Path | str, *, tol: float = 1e-6) -> CheckReport:
    """Check a finished run folder: its allocation.csv (UTF-8 with BOM) and summary.json."""
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    summary = None
    if summary_path.exists():
        with open(summary_path, encoding="utf-8") as fh:
            summary = json.load(fh)
    else:
        log.warning("check: %s has no summary.json; only the allocation is checked", run_dir)
    report = check_plan(instance_yaml, run_dir / "allocation.csv", summary=summary, tol=tol)
    if summary is None:
        report.notes.append("run folder has no summary.json")
    return report
