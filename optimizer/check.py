"""An independent checker of a plan: every constraint and the objective, recomputed.

Why this module exists: a planner has no reason to trust a number that only one piece of
code has ever produced. This checker reads the instance YAML (with `yaml.safe_load`) and
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
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
        """A JSON-ready dict (NaN → null) of the whole report, per-township rows included."""
        records = self.per_township.to_dict(orient="records") if len(self.per_township) else []
        return _jsonable(
            {
                "ok": self.ok,
                "objective_yuan": self.objective_yuan,
                "parts": dict(self.parts),
                "market_revenue_loss_yuan": dict(self.market_revenue_loss_yuan),
                "violations": [v.to_dict() for v in self.violations],
                "mismatches": [m.to_dict() for m in self.mismatches],
                "constraints": [c.to_dict() for c in self.constraints],
                "notes": list(self.notes),
                "summary_checked": self.summary_checked,
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


def _holds(lhs: float, sense: str, rhs: float, tol: float) -> bool:
    """Whether lhs (sense) rhs holds, forgiving rounding of order tol relative to the sizes."""
    slack = tol * max(1.0, abs(lhs), abs(rhs))
    if sense == "<=":
        return lhs <= rhs + slack
    if sense == ">=":
        return lhs >= rhs - slack
    return abs(lhs - rhs) <= slack


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
        raw = yaml.safe_load(fh) or {}
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


def _read_table(path: Path, layer: str | None, text_columns: Iterable[str]) -> pd.DataFrame:
    """Read a CSV (everything as text, so ids keep leading zeros) or an OGR table."""
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    import pyogrio  # only needed for spatial tables

    df = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    df = pd.DataFrame(df)
    for col in text_columns:
        if col in df.columns:
            df[col] = [_id(v) for v in df[col]]
    return df


def _read_townships(inst: _Instance) -> pd.DataFrame:
    path, layer = _table_ref(inst.townships_ref, inst.path.parent, "townships")
    df = _read_table(path, layer, _TOWNSHIP_TEXT)
    missing = [c for c in _TOWNSHIP_REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: township table lacks column(s) {', '.join(missing)}")
    for col in _TOWNSHIP_TEXT:
        if col in df.columns:
            df[col] = [_id(v) for v in df[col]]
    for col in _TOWNSHIP_NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    dupes = df["township_id"][df["township_id"].duplicated()].unique().tolist()
    if dupes:
        raise ValueError(f"{path}: township id(s) appear more than once: {', '.join(dupes)}")
    return df.reset_index(drop=True)


def _read_site(inst: _Instance, notes: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    """Site overrides by (township, industry): only non-blank cells count."""
    if inst.site_ref is None:
        return {}
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
    out: dict[tuple[str, str], dict[str, float]] = {}
    for _, row in df.iterrows():
        key = (_id(row["township_id"]), _id(row["industry"]))
        values = {c: x for c in usable if (x := _num(row[c])) is not None}
        if key in out:
            notes.append(
                f"site coefficients for {key[0]}/{key[1]} appear twice; the first row is used"
            )
            continue
        out[key] = values
    return out


# --------------------------------------------------------------------------- coefficients


def _per_ha(
    ind: _Industry, town: Mapping[str, Any], site: Mapping[str, float], notes: list[str]
) -> dict[str, float]:
    """Per-hectare figures of a pair, following the table in docs/model.md line by line."""
    f = {k: site.get(k, v) for k, v in ind.fields.items()}
    if f["yield_per_ha"] is not None:
        y = float(f["yield_per_ha"])
    elif ind.pv_capacity_mw_per_ha > 0 and f["pv_performance_ratio"] is not None:
        y = (
            ind.pv_capacity_mw_per_ha
            * float(town["irradiance_kwh_per_m2"])
            * float(f["pv_performance_ratio"])
        )
    else:
        if ind.pv_capacity_mw_per_ha > 0:
            notes.append(f"PV industry {ind.id} has no pv_performance_ratio; output taken as 0")
        y = 0.0
    price = f["price_yuan_per_unit"] or 0.0
    revenue = y * price + (f["other_revenue_yuan_per_ha"] or 0.0)
    op_cost = f["operating_cost_yuan_per_ha"] or 0.0
    value_added = revenue - op_cost
    income = (f["farmer_payments_yuan_per_ha"] or 0.0) + (
        f["farmer_share_of_value_added"] or 0.0
    ) * value_added
    gep = dict.fromkeys(GEP_CATEGORIES, 0.0)
    for s in ind.services.values():
        override = site.get(f"gep.{s.name}")
        if s.quantity_per_ha is not None:
            q = override if override is not None else s.quantity_per_ha
        else:
            q = (override if override is not None else (s.quantity_per_output_unit or 0.0)) * y
        if s.category not in gep:
            notes.append(
                f"industry {ind.id}: service {s.name} has unknown category {s.category!r}; ignored"
            )
            continue
        gep[s.category] += q * s.unit_price_yuan
    for key in site:
        if key.startswith("gep.") and key[4:] not in ind.services:
            notes.append(f"site column {key} names no GEP service of industry {ind.id}; ignored")
    return {
        "output": y,
        "revenue": revenue,
        "operating_cost": op_cost,
        "value_added": value_added,
        "farmer_income": income,
        "water": f["water_m3_per_ha"] or 0.0,
        "investment": f["investment_yuan_per_ha"] or 0.0,
        "pv_capacity": ind.pv_capacity_mw_per_ha,
        **{f"gep_{c}": v for c, v in gep.items()},
    }


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
        df[col] = [_id(v) for v in df[col]]
    for col in ALLOCATION_NUMERIC:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ALLOCATION_TEXT:
        if col in df.columns:
            df[col] = [
                "" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v).strip()
                for v in df[col]
            ]
    return df.reset_index(drop=True)


class _Checker:
    """One pass over one plan; collects findings into a CheckReport."""

    def __init__(self, instance_yaml: Path, tol: float) -> None:
        self.tol = tol
        self.report = CheckReport()
        self.inst = _read_instance(Path(instance_yaml))
        self.towns = _read_townships(self.inst)
        self.site = _read_site(self.inst, self.report.notes)
        self.town_rows: dict[str, dict[str, Any]] = {
            r["township_id"]: r for r in self.towns.to_dict(orient="records")
        }
        self._per_ha_cache: dict[tuple[str, str], dict[str, float]] = {}

    # -- labels ---------------------------------------------------------------
    def town_label(self, tid: str) -> str:
        row = self.town_rows.get(tid)
        if row is None:
            return f"township {tid}"
        name = str(row.get("name") or tid)
        zh = str(row.get("name_zh") or "")
        if zh and zh != name:
            return f"{name} ({zh})"
        return f"{name} ({tid})" if name != tid else name

    def industry_label(self, iid: str) -> str:
        ind = self.inst.industries.get(iid)
        return f"{ind.label} ({iid})" if ind and ind.label != iid else iid

    def per_ha(self, tid: str, iid: str) -> dict[str, float]:
        key = (tid, iid)
        if key not in self._per_ha_cache:
            self._per_ha_cache[key] = _per_ha(
                self.inst.industries[iid],
                self.town_rows[tid],
                self.site.get(key, {}),
                self.report.notes,
            )
        return self._per_ha_cache[key]

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

    def constraint(
        self,
        name: str,
        index: str | None,
        lhs: float,
        sense: str,
        rhs: float,
        unit: str,
        describe: Any,
    ) -> None:
        """Record a constraint row; if it fails, add a violation worded by `describe`."""
        slack = rhs - lhs if sense == "<=" else (lhs - rhs if sense == ">=" else -abs(lhs - rhs))
        ok = _holds(lhs, sense, rhs, self.tol)
        self.report.constraints.append(
            ConstraintValue(name, index, lhs, rhs, sense, unit, slack, ok)
        )
        if not ok:
            self.violate(name, index, lhs, rhs, unit, sense, describe(lhs, rhs))

    # -- the plan ---------------------------------------------------------------
    def recompute(self, alloc: pd.DataFrame) -> pd.DataFrame:
        """Check the allocation's rows against T and I, and recompute each valid row."""
        counts = alloc["township_id"].value_counts().to_dict()
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        must_by_town: dict[str, set[str]] = {}
        for t, i, _ in self.inst.must_locks:
            must_by_town.setdefault(t, set()).add(i)

        for pos, rec in enumerate(alloc.to_dict(orient="records")):
            tid, iid = rec["township_id"], rec["industry"]
            row_no = pos + 1
            if tid not in self.town_rows:
                self.violate(
                    "unknown_township",
                    tid or None,
                    None,
                    None,
                    "",
                    "in",
                    f"Allocation row {row_no}: township id '{tid}' is not in the township table",
                )
                continue
            if tid in seen:
                continue  # duplicates are reported once below; the first row counts
            seen.add(tid)
            label = self.town_label(tid)
            ind = self.inst.industries.get(iid)
            if ind is None:
                self.violate(
                    "unknown_industry",
                    tid,
                    None,
                    None,
                    "",
                    "in",
                    f"{label}: industry '{iid}' is not defined in the instance",
                )
                continue
            if not ind.candidate:
                self.violate(
                    "industry_not_candidate",
                    tid,
                    None,
                    None,
                    "",
                    "in",
                    f"{label}: {self.industry_label(iid)} is not a candidate industry "
                    "(candidate: false, it may only be a baseline land use)",
                )
            self._check_gates(tid, ind)
            if (tid, iid) in self.inst.forbid_locks:
                reason = self.inst.forbid_locks[(tid, iid)]
                self.violate(
                    "industry_forbidden",
                    tid,
                    1.0,
                    0.0,
                    "",
                    "==",
                    f"{label}: {self.industry_label(iid)} is forbidden here by a lock"
                    + (f" ({reason})" if reason else ""),
                )
            rows.append(
                self._figures(tid, iid, "must" if iid in must_by_town.get(tid, set()) else "")
            )

        for tid in self.towns["township_id"]:
            n = int(counts.get(tid, 0))
            self.constraint(
                "one_industry_per_township",
                tid,
                float(n),
                "==",
                1.0,
                "townships",
                lambda lhs, rhs, tid=tid, n=n: (
                    f"{self.town_label(tid)} is missing from the allocation; every township needs exactly one industry"
                    if n == 0
                    else f"{self.town_label(tid)} appears {n} times in the allocation; "
                    "every township must appear exactly once (the first row was used)"
                ),
            )
        columns = ["township_id", "name", "county", "city", "basin", "industry", "industry_label",
                   "industry_label_zh", "area_ha", "output_amount", "output_unit", "water_use_m3",
                   "pv_capacity_mw", "investment_yuan", "revenue_yuan", "operating_cost_yuan",
                   "value_added_yuan", "farmer_income_yuan", "gep_material_yuan", "gep_regulating_yuan",
                   "gep_cultural_yuan", "gep_total_yuan", "baseline_land_use", "baseline_farmer_income_yuan",
                   "baseline_gep_total_yuan", "change_farmer_income_yuan", "change_gep_total_yuan",
                   "counts_as_conservation", "locked"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def _check_gates(self, tid: str, ind: _Industry) -> None:
        town = self.town_rows[tid]
        for key, column, sense, words, unit in _GATES:
            if key not in ind.gates:
                continue
            limit = ind.gates[key]
            value = _num(town.get(column))
            if value is None:
                self.report.notes.append(
                    f"{self.town_label(tid)} has no {column}; gate {key} of {ind.id} not checked"
                )
                continue
            passes = value >= limit if sense == ">=" else value <= limit  # gates are exact, as in P
            if not passes:
                need = "at least" if sense == ">=" else "at most"
                self.violate(
                    f"suitability_{key}",
                    tid,
                    value,
                    limit,
                    unit,
                    sense,
                    f"{self.town_label(tid)}: {self.industry_label(ind.id)} needs {words} {need} "
                    f"{format_amount(limit, unit)}; the township has {format_amount(value, unit)}",
                )

    def _figures(self, tid: str, iid: str, locked: str) -> dict[str, Any]:
        town = self.town_rows[tid]
        ind = self.inst.industries[iid]
        area = float(town["plannable_area_ha"])
        c = self.per_ha(tid, iid)
        gep = {k: area * c[f"gep_{k}"] for k in GEP_CATEGORIES}
        b = _id(town.get("baseline_land_use"))
        if b in self.inst.industries:
            cb = self.per_ha(tid, b)
            base_income = area * cb["farmer_income"]
            base_gep = area * sum(cb[f"gep_{k}"] for k in GEP_CATEGORIES)
        else:
            self.report.notes.append(
                f"{self.town_label(tid)}: baseline land use '{b}' is not an industry; no baseline"
            )
            base_income = base_gep = math.nan
        income = area * c["farmer_income"]
        gep_total = sum(gep.values())
        return {
            "township_id": tid,
            "name": town.get("name", ""),
            "county": town.get("county", ""),
            "city": town.get("city", "") or "",
            "basin": town.get("basin", "") or "",
            "industry": iid,
            "industry_label": ind.label,
            "industry_label_zh": ind.label_zh or "",
            "area_ha": area,
            "output_amount": area * c["output"],
            "output_unit": ind.output_unit,
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
            "baseline_land_use": b,
            "baseline_farmer_income_yuan": base_income,
            "baseline_gep_total_yuan": base_gep,
            "change_farmer_income_yuan": income - base_income,
            "change_gep_total_yuan": gep_total - base_gep,
            "counts_as_conservation": ind.conservation,
            "locked": locked,
        }

    # -- constraints --------------------------------------------------------------
    def constraints(self, pt: pd.DataFrame) -> None:
        inst = self.inst
        by_town = pt.set_index("township_id") if len(pt) else pt

        if inst.water_per_township:
            for tid in self.towns["township_id"]:
                if tid not in by_town.index:
                    continue
                use = float(by_town.at[tid, "water_use_m3"])
                avail = float(self.town_rows[tid]["water_available_m3"])
                self.constraint(
                    "water_use_per_township_max",
                    tid,
                    use,
                    "<=",
                    avail,
                    "m³",
                    lambda lhs, rhs, tid=tid: (
                        f"{self.town_label(tid)}: water use {format_amount(lhs, 'm³')} exceeds "
                        f"the township's {format_amount(rhs, 'm³')} (by {format_amount(lhs - rhs, 'm³')})"
                    ),
                )

        for county, limit in inst.county_water_max.items():
            use = float(pt.loc[pt["county"] == county, "water_use_m3"].sum()) if len(pt) else 0.0
            self._warn_unknown_group("county", county)
            self.constraint(
                "water_use_per_county_max",
                county,
                use,
                "<=",
                limit,
                "m³",
                lambda lhs, rhs, c=county: (
                    f"County {c}: water use {format_amount(lhs, 'm³')} exceeds the county "
                    f"budget of {format_amount(rhs, 'm³')} (by {format_amount(lhs - rhs, 'm³')})"
                ),
            )

        for basin, limit in inst.basin_water_max.items():
            use = float(pt.loc[pt["basin"] == basin, "water_use_m3"].sum()) if len(pt) else 0.0
            self._warn_unknown_group("basin", basin)
            self.constraint(
                "water_use_per_basin_max",
                basin,
                use,
                "<=",
                limit,
                "m³",
                lambda lhs, rhs, b=basin: (
                    f"Basin {b}: water use {format_amount(lhs, 'm³')} exceeds the basin "
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

        for county, limit in inst.grid_county_max_mw.items():
            mw = float(pt.loc[pt["county"] == county, "pv_capacity_mw"].sum()) if len(pt) else 0.0
            self._warn_unknown_group("county", county)
            self.constraint(
                "pv_capacity_per_county_max",
                county,
                mw,
                "<=",
                limit,
                "MWp",
                lambda lhs, rhs, c=county: (
                    f"County {c}: PV capacity {format_amount(lhs, 'MWp')} exceeds the grid "
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
            s = inst.conservation_share_per_county
            for county in sorted(self.towns["county"].unique()):
                total = float(
                    self.towns.loc[self.towns["county"] == county, "plannable_area_ha"].sum()
                )
                have = (
                    float(cons_area.loc[cons_area["county"] == county, "area_ha"].sum())
                    if cons_area is not None
                    else 0.0
                )
                self.constraint(
                    "conservation_area_per_county_min",
                    county,
                    have,
                    ">=",
                    s * total,
                    "ha",
                    lambda lhs, rhs, c=county, total=total: (
                        f"County {c}: conservation area "
                        f"{format_amount(lhs, 'ha')} is below the required {format_amount(rhs, 'ha')} "
                        f"({_percent(s)} of {format_amount(total, 'ha')} plannable; short by "
                        f"{format_amount(rhs - lhs, 'ha')})"
                    ),
                )

        if inst.floor_per_ha is not None or inst.floor_share is not None:
            for tid in self.towns["township_id"]:
                if tid not in by_town.index:
                    continue
                area = float(self.town_rows[tid]["plannable_area_ha"])
                base = float(by_town.at[tid, "baseline_farmer_income_yuan"])
                terms: list[tuple[float, str]] = []
                if inst.floor_per_ha is not None:
                    terms.append(
                        (
                            area * inst.floor_per_ha,
                            (
                                f"{format_amount(inst.floor_per_ha, 'yuan/ha')} × "
                                f"{format_amount(area, 'ha')}"
                            ),
                        )
                    )
                if inst.floor_share is not None:
                    if math.isnan(base):
                        self.report.notes.append(
                            f"{self.town_label(tid)}: no baseline income; share floor not checked"
                        )
                    else:
                        terms.append(
                            (
                                inst.floor_share * base,
                                (
                                    f"{_percent(inst.floor_share)} of baseline income "
                                    f"{format_amount(base, 'yuan')}"
                                ),
                            )
                        )
                if not terms:
                    continue
                rhs, why = max(terms, key=lambda t: t[0])
                income = float(by_town.at[tid, "farmer_income_yuan"])
                self.constraint(
                    "farmer_income_per_township_min",
                    tid,
                    income,
                    ">=",
                    rhs,
                    "yuan",
                    lambda lhs, rhs, tid=tid, why=why: (
                        f"{self.town_label(tid)}: farmers' income "
                        f"{format_amount(lhs, 'yuan')} is below the floor of {format_amount(rhs, 'yuan')} ({why}; "
                        f"short by {format_amount(rhs - lhs, 'yuan')})"
                    ),
                )

        for tid, iid, reason in inst.must_locks:
            if tid not in self.town_rows:
                self.report.notes.append(
                    f"a must-lock names township '{tid}', which is not in the table"
                )
                continue
            chosen = str(by_town.at[tid, "industry"]) if tid in by_town.index else None
            self.constraint(
                "industry_locked_in",
                tid,
                1.0 if chosen == iid else 0.0,
                "==",
                1.0,
                "",
                lambda lhs, rhs, tid=tid, iid=iid, chosen=chosen, reason=reason: (
                    f"{self.town_label(tid)}: a lock requires {self.industry_label(iid)}"
                    + (f" ({reason})" if reason else "")
                    + (
                        f", but the plan has {self.industry_label(chosen)}"
                        if chosen
                        else ", but the plan has no valid industry here"
                    )
                ),
            )

    def _warn_unknown_group(self, kind: str, name: str) -> None:
        column = "county" if kind == "county" else "basin"
        if column not in self.towns.columns or name not in set(self.towns[column]):
            self.report.notes.append(f"{kind} '{name}' has a limit but no township in the table")

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
        for rec in pt.to_dict(orient="records"):
            tid = rec["township_id"]
            written_row = first.loc[tid]
            label = self.town_label(tid)
            for col in ALLOCATION_NUMERIC:
                if col not in first.columns:
                    continue
                want = rec[col]
                got = written_row[col]
                if want is None or (isinstance(want, float) and math.isnan(want)):
                    continue
                if got is None or (isinstance(got, float) and math.isnan(got)):
                    self.mismatch(
                        "allocation",
                        col,
                        tid,
                        None,
                        want,
                        f"{label}: {col} is blank; recomputed {format_amount(want, _UNITS.get(col, ''))}",
                    )
                elif not _close(float(got), float(want), self.tol):
                    unit = _UNITS.get(col, rec["output_unit"] if col == "output_amount" else "")
                    self.mismatch(
                        "allocation",
                        col,
                        tid,
                        float(got),
                        float(want),
                        f"{label}: {col} written as {format_amount(got, unit)} but recomputed as "
                        f"{format_amount(want, unit)}",
                    )
            for col in ALLOCATION_TEXT:
                if col not in first.columns:
                    continue
                want = "" if rec.get(col) is None else str(rec[col])
                got = str(written_row[col])
                if got != want:
                    self.mismatch(
                        "allocation",
                        col,
                        tid,
                        got,
                        want,
                        f"{label}: {col} written as '{got}' but the inputs give '{want}'",
                    )

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

        for entry in summary.get("per_county") or []:
            self._compare_county(_mapping(entry), pt, cmp, summed)

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

    def _compare_county(
        self, entry: Mapping[str, Any], pt: pd.DataFrame, cmp: Any, summed: list[str]
    ) -> None:
        """One per_county entry of summary.json against the recomputed townships of it."""
        county = _id(entry.get("county"))
        sub = pt[pt["county"] == county] if len(pt) else pt
        for key in summed:
            if key in entry:
                want = float(sub[key].sum()) if len(sub) else 0.0
                cmp(f"per_county.{key}", county, entry[key], want, _UNITS.get(key, ""))
        towns = entry.get("townships")
        if isinstance(towns, (int, float)) and not isinstance(towns, bool):
            cmp("per_county.townships", county, towns, float(len(sub)), "")
        elif isinstance(towns, list):
            want_ids = sorted(sub["township_id"]) if len(sub) else []
            if sorted(_id(t) for t in towns) != want_ids:
                self.mismatch(
                    "summary",
                    "per_county.townships",
                    county,
                    towns,
                    want_ids,
                    f"County {county}: summary lists townships {towns}, the plan has {want_ids}",
                )
        counts = sub.groupby("industry").size().astype(float).to_dict() if len(sub) else {}
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
