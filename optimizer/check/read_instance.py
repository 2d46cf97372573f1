"""The instance YAML as the checker reads it: plain records, with the schema's defaults.

Read with PyYAML's safe loader, not with the project's instance loader. The defaults
applied to fields missing from the YAML mirror the pydantic defaults of
`optimizer/instance/schema.py`; they are restated here rather than imported so that the
checker keeps working (and keeps disagreeing loudly) if the two ever drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.check.values import ident, number
from optimizer.instance.yamlfile import load_yaml

#: Per-ha industry fields the site-coefficient table may override, with the default an
#: industry gets when the YAML omits the field (None = "not given").
SITE_FIELD_DEFAULTS: dict[str, float | None] = {
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


@dataclass(frozen=True)
class Service:
    name: str
    category: str
    quantity_per_ha: float | None
    quantity_per_output_unit: float | None
    unit_price_yuan: float


@dataclass(frozen=True)
class Industry:
    id: str
    label: str
    label_zh: str | None
    candidate: bool
    conservation: bool
    output_unit: str
    pv_capacity_mw_per_ha: float
    fields: dict[str, float | None]
    services: dict[str, Service]
    gates: dict[str, float]


@dataclass(frozen=True)
class Market:
    id: str
    industries: tuple[str, ...]
    max_output: float | None
    steps: tuple[tuple[float, float], ...]  # sorted by above_output


@dataclass
class Instance:
    path: Path
    name: str
    townships_ref: Any
    site_ref: Any
    industries: dict[str, Industry]
    water_per_township: bool
    county_water_max: dict[str, float]
    basin_water_max: dict[str, float]
    markets: dict[str, Market]
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
    # Village instances (docs/model.md, "Village instances"): the village tables, the
    # per-village water switch, the leading-industry rule, and the locks that name a village.
    villages_ref: Any = None
    village_site_ref: Any = None
    water_per_village: bool = True
    leading_share: float | None = None
    leading_counts: tuple[str, ...] | None = None  # None: every candidate counts
    village_must_locks: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # (township, village, industry, reason)
    village_forbid_locks: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (village, industry)




def mapping(value: Any) -> dict[str, Any]:
    """A YAML / JSON value as a dict; anything that is not a mapping counts as empty."""
    return dict(value) if isinstance(value, Mapping) else {}


def _float_map(value: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, v in mapping(value).items():
        x = number(v)
        if x is not None:
            out[ident(key)] = x
    return out


def _industry(iid: Any, spec: Any) -> Industry:
    spec = mapping(spec)
    fields = {
        k: (number(spec.get(k)) if spec.get(k) is not None else d)
        for k, d in SITE_FIELD_DEFAULTS.items()
    }
    services: dict[str, Service] = {}
    for sname, s in mapping(spec.get("gep")).items():
        s = mapping(s)
        services[str(sname)] = Service(
            name=str(sname),
            category=str(s.get("category", "")),
            quantity_per_ha=number(s.get("quantity_per_ha")),
            quantity_per_output_unit=number(s.get("quantity_per_output_unit")),
            unit_price_yuan=number(s.get("unit_price_yuan")) or 0.0,
        )
    gates = {
        k: x for k, v in mapping(spec.get("suitability")).items() if (x := number(v)) is not None
    }
    return Industry(
        id=ident(iid),
        label=str(spec.get("label", iid)),
        label_zh=None if spec.get("label_zh") is None else str(spec.get("label_zh")),
        candidate=bool(spec.get("candidate", True)),
        conservation=bool(spec.get("counts_as_conservation", False)),
        output_unit=str(spec.get("output_unit", "t")),
        pv_capacity_mw_per_ha=number(spec.get("pv_capacity_mw_per_ha")) or 0.0,
        fields=fields,
        services=services,
        gates=gates,
    )


def _market(mid: Any, m: Any) -> Market:
    m = mapping(m)
    steps = []
    for st in m.get("price_steps") or []:
        st = mapping(st)
        steps.append(
            (
                number(st.get("above_output")) or 0.0,
                number(st.get("price_drop_yuan_per_unit")) or 0.0,
            )
        )
    return Market(
        id=ident(mid),
        industries=tuple(ident(i) for i in (m.get("industries") or [])),
        max_output=number(m.get("max_output")),
        steps=tuple(sorted(steps)),
    )


def read_instance(path: Path) -> Instance:
    """Parse the instance YAML into plain records, applying the schema's defaults."""
    # The loader's YAML reader (optimizer/instance/yamlfile.py): the same refusals of
    # duplicate keys, alias bombs and control characters, the same decoding.
    raw = load_yaml(path).data or {}
    if not isinstance(raw, Mapping):
        raise TypeError(f"{path}: the instance file is not a mapping")

    industries = {
        ident(iid): _industry(iid, spec) for iid, spec in mapping(raw.get("industries")).items()
    }
    cons = mapping(raw.get("constraints"))
    water = mapping(cons.get("water"))
    markets = {ident(mid): _market(mid, m) for mid, m in mapping(cons.get("markets")).items()}
    floor = mapping(cons.get("income_floor"))
    must: list[tuple[str, str, str | None]] = []
    forbid: dict[tuple[str, str], str | None] = {}
    village_must: list[tuple[str, str, str, str | None]] = []
    village_forbid: dict[tuple[str, str], str | None] = {}
    for lock in cons.get("locks") or []:
        lock = mapping(lock)
        key = (ident(lock.get("township")), ident(lock.get("industry")))
        reason = lock.get("reason")
        if lock.get("village") is not None:  # a village's own lock
            vid = ident(lock.get("village"))
            if bool(lock.get("forbid", False)):
                village_forbid[(vid, key[1])] = None if reason is None else str(reason)
            else:
                village_must.append((key[0], vid, key[1], None if reason is None else str(reason)))
            continue
        if bool(lock.get("forbid", False)):
            forbid[key] = None if reason is None else str(reason)
        else:
            must.append((key[0], key[1], None if reason is None else str(reason)))
    obj = mapping(raw.get("objective"))
    leading = mapping(cons.get("leading_industry"))
    counts = leading.get("leading_share_counts")
    return Instance(
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
        investment_budget=number(cons.get("investment_budget_yuan")),
        conservation_share=number(cons.get("min_conservation_share")),
        conservation_share_per_county=number(cons.get("min_conservation_share_per_county")),
        floor_per_ha=number(floor.get("min_yuan_per_ha")),
        floor_share=number(floor.get("min_share_of_baseline")),
        must_locks=must,
        forbid_locks=forbid,
        gep_weight=number(obj.get("gep_weight")) if obj.get("gep_weight") is not None else 1.0,
        income_weight=number(obj.get("income_weight"))
        if obj.get("income_weight") is not None
        else 1.0,
        double_count=str(obj.get("double_count", "exclude_material_gep")),
        villages_ref=raw.get("villages"),
        village_site_ref=raw.get("village_site_coefficients"),
        water_per_village=bool(water.get("per_village", True)),
        leading_share=number(leading.get("min_leading_share")) if leading else None,
        leading_counts=None if counts is None else tuple(ident(i) for i in counts),
        village_must_locks=village_must,
        village_forbid_locks=village_forbid,
    )
