"""The instance file, as pydantic models.

These models are the single statement of what an instance YAML may hold. They are
strict (`extra="forbid"`) so that a misspelt key is an error with a suggestion rather
than a silently ignored setting, and they carry units in every field name so that a
planner reading the YAML or the JSON Schema never has to guess whether a number is in
mu or hectares, m³ or million m³.

`optimizer schema` exports them as JSON Schema for editors (VS Code's YAML extension
validates as you type with a `# yaml-language-server: $schema=...` line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from optimizer.i18n import _

FORMAT_VERSION = 1

GepCategory = Literal["material", "regulating", "cultural"]
GEP_CATEGORIES: tuple[str, ...] = ("material", "regulating", "cultural")

#: Rocky-desertification grades of the national standard, as integers in the township
#: table (0 = none … 4 = extremely severe).
GRADE_NAMES = {
    0: "none (无石漠化)",
    1: "light (轻度)",
    2: "moderate (中度)",
    3: "severe (重度)",
    4: "extremely severe (极重度)",
}


# --------------------------------------------------------------------------- physical ranges


@dataclass(frozen=True)
class Range:
    """The values a quantity may physically take, in its unit, inclusive unless open.

    One table (`RANGES`) serves the YAML schema, the township table and the site table,
    so a value is held to the same bounds wherever it is written; `docs/instance-format.md`
    prints it. The bounds are wide (they catch typos and unit mix-ups, not unusual
    places) and finite, so no number can overflow the model's arithmetic.
    """

    low: float
    high: float
    unit: str
    low_open: bool = False
    integer: bool = False

    def field(self) -> dict[str, float]:
        """pydantic Field bounds (ge/gt, le)."""
        return {("gt" if self.low_open else "ge"): self.low, "le": self.high}

    def contains(self, x: float) -> bool:
        low_ok = x > self.low if self.low_open else x >= self.low
        return bool(low_ok and x <= self.high and (not self.integer or float(x).is_integer()))

    def text(self) -> str:
        """E.g. '0 to 1,000 cm', '(0, 1]' style bounds in words."""
        def n(x: float) -> str:
            return f"{x:,.0f}" if float(x).is_integer() and abs(x) < 1e7 else f"{x:g}"
        unit = f" {self.unit}" if self.unit else ""
        kind = _(" (whole numbers)") if self.integer else ""
        if self.low_open:
            return _("more than {low} and at most {high}{unit}{kind}").format(
                low=n(self.low), high=n(self.high), unit=unit, kind=kind)
        return _("{low} to {high}{unit}{kind}").format(low=n(self.low), high=n(self.high), unit=unit, kind=kind)


#: Accepted physical range of every number an instance holds, by field or column name.
RANGES: dict[str, Range] = {
    # township table
    "plannable_area_ha": Range(0, 1e6, "ha"),
    "soil_depth_cm": Range(0, 1000, "cm"),
    "slope_deg": Range(0, 90, "°"),
    "rocky_desertification_grade": Range(0, 4, "", integer=True),
    "water_available_m3": Range(0, 1e11, "m³/yr"),
    "irradiance_kwh_per_m2": Range(0, 3000, "kWh/m²/yr"),
    # industries (and the site table, which overrides them per township)
    "yield_per_ha": Range(0, 1e6, "output unit/ha/yr"),
    "pv_capacity_mw_per_ha": Range(0, 2, "MWp/ha"),
    "pv_performance_ratio": Range(0, 1, "MWh per MWp per kWh/m²", low_open=True),
    "price_yuan_per_unit": Range(0, 1e7, "yuan/output unit"),
    "other_revenue_yuan_per_ha": Range(-1e8, 1e8, "yuan/ha/yr"),
    "operating_cost_yuan_per_ha": Range(0, 1e8, "yuan/ha/yr"),
    "investment_yuan_per_ha": Range(0, 1e9, "yuan/ha"),
    "water_m3_per_ha": Range(0, 1e5, "m³/ha/yr"),
    "farmer_payments_yuan_per_ha": Range(0, 1e8, "yuan/ha/yr"),
    "farmer_share_of_value_added": Range(0, 1, "share"),
    "quantity_per_ha": Range(0, 1e7, "unit/ha/yr"),
    "quantity_per_output_unit": Range(0, 1e6, "unit/output unit"),
    "unit_price_yuan": Range(0, 1e7, "yuan/unit"),
    # suitability gates: the same ranges as the township columns they compare with
    "min_soil_depth_cm": Range(0, 1000, "cm"),
    "max_slope_deg": Range(0, 90, "°"),
    "max_rocky_desertification_grade": Range(0, 4, "", integer=True),
    "min_irradiance_kwh_per_m2": Range(0, 3000, "kWh/m²/yr"),
    # limits
    "county_max_m3": Range(0, 1e13, "m³/yr"),
    "basin_max_m3": Range(0, 1e13, "m³/yr"),
    "grid_county_max_mw": Range(0, 1e6, "MWp"),
    "investment_budget_yuan": Range(0, 1e15, "yuan"),
    "max_output": Range(0, 1e13, "output unit/yr"),
    "above_output": Range(0, 1e13, "output unit/yr"),
    "price_drop_yuan_per_unit": Range(0, 1e7, "yuan/output unit", low_open=True),
    "min_conservation_share": Range(0, 1, "share"),
    "min_conservation_share_per_county": Range(0, 1, "share"),
    "min_yuan_per_ha": Range(-1e8, 1e8, "yuan/ha/yr"),
    "min_share_of_baseline": Range(0, 100, "× baseline"),
    "gep_weight": Range(0, 1e6, ""),
    "income_weight": Range(0, 1e6, ""),
    "gep_price_yuan": Range(0, 1e7, "yuan/unit"),
}

#: Where each range applies, for the table in docs/instance-format.md.
RANGE_WHERE: dict[str, str] = {
    **{k: "township table" for k in ("plannable_area_ha", "soil_depth_cm", "slope_deg", "rocky_desertification_grade",
                                     "water_available_m3", "irradiance_kwh_per_m2")},
    **{k: "industries.<id> and the site table" for k in ("yield_per_ha", "pv_performance_ratio", "price_yuan_per_unit",
                                                          "other_revenue_yuan_per_ha", "operating_cost_yuan_per_ha",
                                                          "investment_yuan_per_ha", "water_m3_per_ha",
                                                          "farmer_payments_yuan_per_ha", "farmer_share_of_value_added")},
    "pv_capacity_mw_per_ha": "industries.<id>",
    "quantity_per_ha": "industries.<id>.gep.<service> and site column gep.<service>",
    "quantity_per_output_unit": "industries.<id>.gep.<service> and site column gep.<service>",
    "unit_price_yuan": "industries.<id>.gep.<service>",
    **{k: "industries.<id>.suitability" for k in ("min_soil_depth_cm", "max_slope_deg", "max_rocky_desertification_grade",
                                                   "min_irradiance_kwh_per_m2")},
    "county_max_m3": "constraints.water (per county)",
    "basin_max_m3": "constraints.water (per basin)",
    "grid_county_max_mw": "constraints (per county)",
    "investment_budget_yuan": "constraints",
    "max_output": "constraints.markets.<name>",
    "above_output": "constraints.markets.<name>.price_steps[]",
    "price_drop_yuan_per_unit": "constraints.markets.<name>.price_steps[]",
    "min_conservation_share": "constraints",
    "min_conservation_share_per_county": "constraints",
    "min_yuan_per_ha": "constraints.income_floor",
    "min_share_of_baseline": "constraints.income_floor",
    "gep_weight": "objective",
    "income_weight": "objective",
    "gep_price_yuan": "gep_price_sets.<set>.<service>",
}


def ranges_markdown() -> str:
    """The accepted-ranges table of docs/instance-format.md (a test keeps the two equal)."""
    lines = ["| value | where | accepted | unit |", "|---|---|---|---|"]
    for name, r in RANGES.items():
        text = r.text()
        if r.unit and text.endswith(r.unit + (" (whole numbers)" if r.integer else "")):
            text = text.replace(" " + r.unit, "")
        lines.append(f"| `{name}` | {RANGE_WHERE[name]} | {text} | {r.unit or '—'} |")
    return "\n".join(lines)


#: Per-hectare coefficients of a pair (revenue, income, GEP value, …) derived from several
#: fields must stay within this many yuan per hectare, so that a product of in-range
#: fields (a price of 1e7 × a yield of 1e6) cannot reach the solver as a 1e13 coefficient.
MAX_DERIVED_YUAN_PER_HA = 1e9


def R(name: str, **kwargs: Any) -> Any:
    """A pydantic Field bounded by RANGES[name]."""
    return Field(**RANGES[name].field(), **kwargs)


def Bounded(name: str) -> Any:
    """A float type bounded by RANGES[name], for dict values (budgets per county)."""
    return Annotated[float, Field(**RANGES[name].field())]


def _numeric(annotation: Any) -> bool:
    """True for float/int fields (optional or bounded), which pydantic would fill from true/false."""
    import types
    import typing

    if annotation in (float, int):
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _numeric(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_numeric(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def _numeric_values(annotation: Any) -> bool:
    """True for dict[str, number] fields (budgets per county)."""
    import typing

    return typing.get_origin(annotation) is dict and _numeric(typing.get_args(annotation)[1])


class _Strict(BaseModel):
    # Infinite and NaN numbers are refused everywhere (YAML `.inf`, `1.0e+400`).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_false_numbers(cls, value: Any, info: Any) -> Any:
        """pydantic reads `true` as 1 in a number field; a planner who wrote it meant something else."""
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if field is None:
            return value
        if isinstance(value, bool) and _numeric(field.annotation):
            raise ValueError(_("a number is needed here, not {value}").format(value=str(value).lower()))
        if isinstance(value, dict) and _numeric_values(field.annotation):
            for key, item in value.items():
                if isinstance(item, bool):
                    raise ValueError(_("a number is needed for '{key}', not {value}").format(
                        key=key, value=str(item).lower()))
        return value


class GepService(_Strict):
    """One ecosystem service of an industry, valued as physical quantity × unit price.

    The quantity is given per hectare, or per unit of the industry's output (fruit sold
    as a material product is 1 t per t of yield; PV's avoided CO₂ is 0.5703 t per MWh),
    so that services tied to yield follow site-specific yields automatically.
    """

    category: GepCategory = Field(description="GEP category: material, regulating or cultural.")
    quantity_per_ha: float | None = R("quantity_per_ha",
        default=None, description="Physical quantity per hectare per year (in `unit`)."
    )
    quantity_per_output_unit: float | None = R("quantity_per_output_unit",
        default=None,
        description="Physical quantity per unit of the industry's output (in `unit` per output unit).",
    )
    unit: str = Field(description="Unit of the physical quantity, e.g. 't', 'm3', 't CO2'.")
    unit_price_yuan: float = R("unit_price_yuan", description="Accounting price in yuan per `unit`.")
    source: str | None = Field(default=None, description="Where the quantity and price come from.")

    @model_validator(mode="after")
    def _one_quantity(self) -> GepService:
        if (self.quantity_per_ha is None) == (self.quantity_per_output_unit is None):
            raise ValueError("give exactly one of quantity_per_ha or quantity_per_output_unit")
        return self


class Suitability(_Strict):
    """Gates: a township outside any of them cannot take the industry at all."""

    min_soil_depth_cm: float | None = R("min_soil_depth_cm", default=None)
    max_slope_deg: float | None = R("max_slope_deg", default=None)
    max_rocky_desertification_grade: int | None = R("max_rocky_desertification_grade", default=None)
    min_irradiance_kwh_per_m2: float | None = R("min_irradiance_kwh_per_m2", default=None)


class Industry(_Strict):
    """An industry a township may take, with its per-hectare economics and services.

    Every per-hectare figure here is the default; the site-coefficient table may
    override it for a given township, since soil, water and sunshine make the same
    industry yield, cost and serve differently from place to place.
    """

    label: str = Field(description="Name shown in reports, e.g. 'Navel-orange orchard'.")
    label_zh: str | None = Field(default=None, description="Chinese name, e.g. '脐橙园'.")
    candidate: bool = Field(
        default=True,
        description="False for a land use that may only appear as a township's baseline "
        "(e.g. maize and sweet potato on fragile land).",
    )
    counts_as_conservation: bool = Field(
        default=False, description="Counts towards the minimum conservation share."
    )
    output_unit: str = Field(default="t", description="Unit of output: 't' for fruit, 'MWh' for PV.")
    yield_per_ha: float | None = R("yield_per_ha",
        default=None, description="Output per hectare per year (output_unit/ha). Not for PV."
    )
    pv_capacity_mw_per_ha: float = R("pv_capacity_mw_per_ha",
        default=0.0, description="Installed PV capacity per hectare (MWp/ha); 0 if not PV."
    )
    pv_performance_ratio: float | None = R("pv_performance_ratio",
        default=None,
        description="PV yield per unit of irradiance: MWh per MWp per kWh/m² of annual GHI. "
        "Output per ha = capacity × township irradiance × this ratio.",
    )
    price_yuan_per_unit: float = R("price_yuan_per_unit", default=0.0, description="Farm-gate/benchmark price, yuan per output unit.")
    other_revenue_yuan_per_ha: float = R("other_revenue_yuan_per_ha",
        default=0.0, description="Revenue not tied to output: under-panel crops, subsidies (yuan/ha)."
    )
    operating_cost_yuan_per_ha: float = R("operating_cost_yuan_per_ha", default=0.0, description="Annual operating cost (yuan/ha).")
    investment_yuan_per_ha: float = R("investment_yuan_per_ha",
        default=0.0, description="Establishment investment, spent once (yuan/ha)."
    )
    water_m3_per_ha: float = R("water_m3_per_ha", default=0.0, description="Irrigation/cleaning water use (m³/ha/yr).")
    farmer_payments_yuan_per_ha: float = R("farmer_payments_yuan_per_ha",
        default=0.0,
        description="Land rent and wages paid to local households, part of the operating cost (yuan/ha).",
    )
    farmer_share_of_value_added: float = R("farmer_share_of_value_added",
        default=0.0,
        description="Share of value added (revenue − operating cost) that reaches farmers as dividends or sales.",
    )
    gep: dict[str, GepService] = Field(default_factory=dict, description="GEP services by name.")
    suitability: Suitability = Field(default_factory=Suitability)
    source: str | None = Field(default=None, description="Where this industry's figures come from.")

    @model_validator(mode="after")
    def _output_defined(self) -> Industry:
        if self.pv_capacity_mw_per_ha > 0:
            if self.pv_performance_ratio is None:
                raise ValueError("a PV industry (pv_capacity_mw_per_ha > 0) needs pv_performance_ratio")
            if self.yield_per_ha is not None:
                raise ValueError(
                    "give yield_per_ha or PV capacity, not both: PV output follows irradiance"
                )
        return self


class PriceStep(_Strict):
    """Beyond `above_output` units in a market, each extra unit sells this much cheaper."""

    above_output: float = R("above_output", description="Market output (in the market's unit) where the step starts.")
    price_drop_yuan_per_unit: float = R("price_drop_yuan_per_unit", description="Price cut for output beyond the step, yuan/unit.")


class Market(_Strict):
    """A market shared by one or more industries, with a cap and/or a falling price."""

    industries: list[str] = Field(min_length=1, description="Industry ids selling into this market.")
    max_output: float | None = R("max_output", default=None, description="Cap on total output (output unit/yr).")
    price_steps: list[PriceStep] = Field(
        default_factory=list,
        description="Optional falling price: cuts must grow with output (a concave revenue curve).",
    )
    source: str | None = None


class WaterLimits(_Strict):
    per_township: bool = Field(
        default=True, description="Each township's water use stays within its water_available_m3."
    )
    county_max_m3: dict[str, Bounded("county_max_m3")] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Water budget per county (m³/yr).")
    basin_max_m3: dict[str, Bounded("basin_max_m3")] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Water budget per basin (m³/yr); needs a `basin` column."
    )
    per_village: bool = Field(
        default=True,
        description="Village instances: each village's water use stays within its own water_available_m3 "
        "(`per_township` then limits the sum over a township's villages to the township's).",
    )


class IncomeFloor(_Strict):
    min_yuan_per_ha: float | None = R("min_yuan_per_ha",
        default=None, description="Every township's farmer income per ha is at least this (yuan/ha)."
    )
    min_share_of_baseline: float | None = R("min_share_of_baseline",
        default=None,
        description="Every township's farmer income is at least this share of its baseline income.",
    )


class Lock(_Strict):
    township: str = Field(description="Township id.")
    village: str | None = Field(
        default=None,
        description="Village instances: the lock applies to this village of the township only; "
        "without it, a township's lock applies to every one of its villages.",
    )
    industry: str = Field(description="Industry id.")
    forbid: bool = Field(default=False, description="True: must NOT get the industry; False: must get it.")
    reason: str | None = None


class LeadingIndustry(_Strict):
    """One industry per township, one product per village (一乡一业，一村一品).

    In a village instance each township chooses one leading industry (its brand, its
    processing and its cooperative), and at least `min_leading_share` of its villages'
    plannable area must take it. Area under an industry left out of
    `leading_share_counts` (typically conservation) is exempt: it is neither the
    leading industry's nor counted against it, so restoring a steep village never
    fights the township's brand.
    """

    min_leading_share: float = Field(
        gt=0,
        le=1,
        description="Least share of a township's counted village area under its leading industry "
        "(1: every counted village takes it, which is the township model).",
    )
    leading_share_counts: list[str] | None = Field(
        default=None,
        description="Industries whose area counts in a township's share, and which may lead; "
        "default: every candidate industry. Leave conservation out to exempt restoration.",
    )


class Constraints(_Strict):
    water: WaterLimits = Field(default_factory=WaterLimits)
    markets: dict[str, Market] = Field(default_factory=dict)
    grid_county_max_mw: dict[str, Bounded("grid_county_max_mw")] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="PV grid-connection capacity per county (MWp)."
    )
    investment_budget_yuan: float | None = R("investment_budget_yuan", default=None)
    min_conservation_share: float | None = R("min_conservation_share",
        default=None, description="Share of all plannable area under conservation industries."
    )
    min_conservation_share_per_county: float | None = R("min_conservation_share_per_county", default=None)
    income_floor: IncomeFloor = Field(default_factory=IncomeFloor)
    locks: list[Lock] = Field(default_factory=list)
    leading_industry: LeadingIndustry | None = Field(
        default=None,
        description="Village instances: each township's leading industry and its least share of the "
        "villages' area (一乡一业).",
    )


class Objective(_Strict):
    """What is maximised: gep_weight × GEP + income_weight × farmers' income.

    Fruit sold is counted in GEP (material products) and again in income. With
    `double_count: exclude_material_gep` (the default) material GEP is reported but left
    out of the objective; with `count_both` it is counted in both parts.
    """

    gep_weight: float = R("gep_weight", default=1.0)
    income_weight: float = R("income_weight", default=1.0)
    double_count: Literal["exclude_material_gep", "count_both"] = "exclude_material_gep"


class TableRef(_Strict):
    path: str = Field(description="Path relative to the instance file (.gpkg, .geojson, .csv).")
    layer: str | None = Field(default=None, description="Layer name in a GeoPackage.")


class Source(_Strict):
    item: str = Field(description="What the source is for, e.g. 'industries.apple.yield_per_ha'.")
    source: str
    estimate: bool = Field(default=False, description="True where the value is an informed estimate.")


#: Longest instance name: it becomes a folder name, and paths of run folders must stay
#: well within Windows' 260 characters.
MAX_NAME_LENGTH = 100
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def name_problem(name: str) -> str | None:
    """Why `name` cannot be the results folder of an instance, in words, or None."""
    if not name:
        return _("the name is empty; it names the results folder")
    if len(name) > MAX_NAME_LENGTH:
        return _("the name has {n} characters; it names the results folder, so at most {limit}").format(
            n=len(name), limit=MAX_NAME_LENGTH)
    if not _NAME.match(name):
        bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9_.-]", c)})
        return _("the name names the results folder, so it may only hold letters A–Z, digits, '_', '-' and '.' "
                 "(not {chars})").format(chars=" ".join(repr(c) for c in bad))
    if name.startswith("."):
        return _("the name names the results folder, so it may not start with '.' ('..' would write outside "
                 "results/, '.x' would be hidden)")
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        return _("'{name}' is a reserved device name on Windows and cannot be a folder").format(name=name)
    return None


#: Distributions an uncertain figure may follow (docs/uncertainty.md).
DISTRIBUTIONS: tuple[str, ...] = ("uniform", "triangular", "normal", "lognormal", "discrete")

#: The keys each distribution needs, and those it may also take.
DISTRIBUTION_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("low", "high"), ()),
    "triangular": (("low", "mode", "high"), ()),
    "normal": (("mean", "sd"), ("low", "high")),
    "lognormal": (("mean", "sd"), ()),
    "discrete": (("values", "probabilities"), ()),
}


class UncertainParameter(_Strict):
    """One uncertain figure: the paths it moves (as `--set` names them) and its distribution.

    With `relative: true` the drawn numbers are factors of the instance's own value at each
    path (1.0 = as written), like `0.7*` in `--set`; a factor on an industry's per-hectare
    figure also moves that figure's township-specific values in the site table, so that
    "apple prices fall 30%" means everywhere. Several paths in one parameter move together
    (one draw for all of them).
    """

    path: str | None = Field(default=None, description="The dotted path of one figure, as for --set.")
    paths: list[str] = Field(default_factory=list, description="Several paths moved by the same draw.")
    relative: bool = Field(
        default=False, description="True: the numbers are factors of the instance's value (1.0 = as written)."
    )
    distribution: Literal["uniform", "triangular", "normal", "lognormal", "discrete"] = Field(
        description="uniform (low, high), triangular (low, mode, high), normal (mean, sd; optional "
        "low/high truncate it), lognormal (mean, sd of the figure itself), discrete (values, probabilities)."
    )
    low: float | None = Field(default=None, description="Lower end (uniform, triangular) or truncation bound (normal).")
    mode: float | None = Field(default=None, description="Most likely value (triangular).")
    high: float | None = Field(default=None, description="Upper end (uniform, triangular) or truncation bound (normal).")
    mean: float | None = Field(default=None, description="Mean (normal before truncation; lognormal).")
    sd: float | None = Field(default=None, gt=0, description="Standard deviation, > 0 (normal before truncation; lognormal).")
    values: list[float] = Field(default_factory=list, description="Scenario values (discrete).")
    probabilities: list[float] = Field(
        default_factory=list, description="Scenario probabilities (discrete), each in [0, 1], summing to 1."
    )
    source: str | None = Field(default=None, description="Where the range comes from.")
    estimate: bool = Field(default=False, description="True where the range is an informed estimate.")

    @field_validator("probabilities")
    @classmethod
    def _a_distribution(cls, probabilities: list[float]) -> list[float]:
        if any(not 0 <= p <= 1 for p in probabilities):
            raise ValueError(_("every probability must be between 0 and 1"))
        if probabilities and abs(sum(probabilities) - 1.0) > 1e-6:
            raise ValueError(_("probabilities must sum to 1 (they sum to {total:.6g})").format(total=sum(probabilities)))
        return probabilities

    @model_validator(mode="after")
    def _well_formed(self) -> UncertainParameter:
        problems: list[str] = []
        if (self.path is None) == (not self.paths):
            problems.append(_("give exactly one of path or paths"))
        need, may = DISTRIBUTION_KEYS[self.distribution]
        given = {k for k in ("low", "mode", "high", "mean", "sd") if getattr(self, k) is not None}
        given |= {k for k in ("values", "probabilities") if getattr(self, k)}
        missing = [k for k in need if k not in given]
        extra = sorted(given - set(need) - set(may))
        if missing:
            problems.append(_("a {dist} distribution needs {keys}").format(dist=self.distribution, keys=", ".join(missing)))
        if extra:
            problems.append(_("a {dist} distribution takes no {keys}").format(dist=self.distribution, keys=", ".join(extra)))
        lo, mo, hi = self.low, self.mode, self.high
        if self.distribution in ("uniform", "triangular") and lo is not None and hi is not None and not lo < hi:
            problems.append(_("low ({low:g}) must be below high ({high:g})").format(low=lo, high=hi))
        if self.distribution == "triangular" and None not in (lo, mo, hi) and not lo <= mo <= hi:  # type: ignore[operator]
            problems.append(_("mode ({mode:g}) must lie between low ({low:g}) and high ({high:g})").format(mode=mo, low=lo, high=hi))
        if self.distribution == "normal" and lo is not None and hi is not None and not lo < hi:
            problems.append(_("the truncation bounds need low ({low:g}) below high ({high:g})").format(low=lo, high=hi))
        elif self.distribution == "normal" and self.mean is not None and self.sd is not None and (lo, hi) != (None, None):
            from statistics import NormalDist

            z = NormalDist(self.mean, self.sd)
            kept = (1.0 if hi is None else z.cdf(hi)) - (0.0 if lo is None else z.cdf(lo))
            if kept < 1e-6:
                problems.append(_("the truncation bounds keep almost none of the normal distribution "
                                  "(mean {mean:g}, sd {sd:g}, bounds {low} to {high})").format(
                    mean=self.mean, sd=self.sd, low="−∞" if lo is None else f"{lo:g}", high="∞" if hi is None else f"{hi:g}"))
        if self.distribution == "lognormal" and self.mean is not None and self.mean <= 0:
            problems.append(_("a lognormal figure is positive: its mean must be > 0 (got {mean:g})").format(mean=self.mean))
        if self.distribution == "discrete" and self.values and self.probabilities:
            if len(self.values) != len(self.probabilities):
                problems.append(_("{n} values but {m} probabilities").format(n=len(self.values), m=len(self.probabilities)))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def targets(self) -> list[str]:
        """The paths this parameter moves, in order."""
        return [self.path] if self.path is not None else list(self.paths)


class Correlation(_Strict):
    """Parameters whose draws are correlated, each pair with `coefficient` (a Gaussian copula)."""

    parameters: list[str] = Field(min_length=2, description="Names of parameters under `uncertainty.parameters`.")
    coefficient: float = Field(ge=-1, le=1, description="Correlation of every pair in the group, in the copula's normal scores.")
    source: str | None = None
    estimate: bool = False


class Uncertainty(_Strict):
    """What is uncertain, how it is distributed and how many samples `optimizer robust` draws.

    Sampling: a Gaussian copula (independent standard normals, correlated by `correlations`,
    mapped through each parameter's inverse distribution function), reproducible from `seed`.
    """

    samples: int = Field(default=100, ge=1, le=100_000, description="Number of samples drawn.")
    seed: int = Field(default=20260101, ge=0, description="Random seed: the same seed draws the same samples.")
    parameters: dict[str, UncertainParameter] = Field(min_length=1, description="Uncertain figures by name.")
    correlations: list[Correlation] = Field(default_factory=list, description="Correlated groups of parameters.")


class Instance(_Strict):
    """An instance: townships (a table), industries, constraints and objective."""

    format_version: Literal[1] = 1
    name: str = Field(description="Slug used for the results folder: letters, digits, '_', '-', '.'; "
                      f"not starting with '.', at most {MAX_NAME_LENGTH} characters.")
    title: str | None = None
    description: str | None = None
    townships: TableRef | str = Field(description="Township table (path, or {path, layer}).")
    site_coefficients: TableRef | str | None = Field(
        default=None, description="Optional township × industry table of per-ha overrides."
    )
    villages: TableRef | str | None = Field(
        default=None,
        description="Optional village table (path, or {path, layer}): one row per village with its own "
        "attributes and its township_id. With it the plan chooses one product per village.",
    )
    village_site_coefficients: TableRef | str | None = Field(
        default=None,
        description="Optional village × industry table of per-ha overrides (columns village_id, industry "
        "and those of the site table); they win over the township's site rows.",
    )
    industries: dict[str, Industry]
    constraints: Constraints = Field(default_factory=Constraints)
    objective: Objective = Field(default_factory=Objective)
    sources: list[Source] = Field(default_factory=list)
    gep_price_sets: dict[str, dict[str, Bounded("gep_price_yuan")]] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Alternative GEP accounting conventions: {convention: {service name: unit price in yuan}}, "
        "e.g. constant national prices versus local market prices. Used by `optimizer gep --convention`; "
        "services not listed keep the industries' own unit prices.",
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named sets of what-if changes: {name: {dotted.path: value or 'factor*'}}.",
    )
    scenarios: dict[str, list[str]] = Field(
        default_factory=dict, description="Named lists of overrides, applied in order (--scenario NAME)."
    )
    uncertainty: Uncertainty | None = Field(
        default=None,
        description="Optional: distributions of uncertain figures, for `optimizer robust` (docs/uncertainty.md).",
    )

    @field_validator("name")
    @classmethod
    def _safe_folder_name(cls, name: str) -> str:
        problem = name_problem(name)
        if problem:
            raise ValueError(problem)
        return name


#: Township table columns: name → (required, dtype kind, unit/description).
TOWNSHIP_COLUMNS: dict[str, tuple[bool, str, str]] = {
    "township_id": (True, "str", "unique id (administrative code where known)"),
    "name": (True, "str", "township name"),
    "county": (True, "str", "county the township belongs to"),
    "city": (False, "str", "prefecture-level city"),
    "basin": (False, "str", "river basin, for basin water budgets"),
    "plannable_area_ha": (True, "float", "area the plan allocates (ha)"),
    "soil_depth_cm": (True, "float", "mean soil depth (cm)"),
    "slope_deg": (True, "float", "mean slope (degrees)"),
    "rocky_desertification_grade": (True, "int", "0 none, 1 light, 2 moderate, 3 severe, 4 extreme"),
    "water_available_m3": (True, "float", "water available for the plan (m³/yr)"),
    "irradiance_kwh_per_m2": (True, "float", "annual global horizontal irradiance (kWh/m²)"),
    "baseline_land_use": (True, "str", "current land use: an industry id (often a non-candidate)"),
}

#: Village table columns: name → (required, dtype kind, unit/description). County, city
#: and basin come from the village's township.
VILLAGE_COLUMNS: dict[str, tuple[bool, str, str]] = {
    "village_id": (True, "str", "unique id (administrative code where known)"),
    "name": (True, "str", "village name"),
    "township_id": (True, "str", "the township the village belongs to (an id of the township table)"),
    "plannable_area_ha": (True, "float", "area the plan allocates in the village (ha)"),
    "soil_depth_cm": (True, "float", "mean soil depth (cm)"),
    "slope_deg": (True, "float", "mean slope (degrees)"),
    "rocky_desertification_grade": (True, "int", "0 none, 1 light, 2 moderate, 3 severe, 4 extreme"),
    "water_available_m3": (True, "float", "water available for the plan in the village (m³/yr)"),
    "irradiance_kwh_per_m2": (True, "float", "annual global horizontal irradiance (kWh/m²)"),
    "baseline_land_use": (True, "str", "current land use: an industry id (often a non-candidate)"),
}

#: Per-ha industry fields the site-coefficient table may override, plus GEP quantities
#: as columns named `gep.<service>` (quantity per ha, or per output unit, as the
#: industry defines that service).
SITE_FIELDS: tuple[str, ...] = (
    "yield_per_ha",
    "pv_performance_ratio",
    "price_yuan_per_unit",
    "other_revenue_yuan_per_ha",
    "operating_cost_yuan_per_ha",
    "investment_yuan_per_ha",
    "water_m3_per_ha",
    "farmer_payments_yuan_per_ha",
    "farmer_share_of_value_added",
)


# --------------------------------------------------------------------------- introspection
# For did-you-mean hints and --set paths: which keys the schema allows at a YAML path.


def allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    """Field names of the schema model at a YAML path, for 'did you mean' on unknown keys."""
    import types
    import typing

    def unwrap(annotation: Any) -> Any:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            return models[0] if models else None
        return annotation

    current: Any = Instance
    for key in parent:
        current = unwrap(current)
        origin = typing.get_origin(current)
        if origin is dict:
            current = typing.get_args(current)[1]
        elif origin is list:
            current = typing.get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and key in current.model_fields:
            current = current.model_fields[key].annotation
        else:
            return []
    current = unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def is_free_mapping(path: tuple[str | int, ...]) -> bool:
    """True where the schema has dict[str, …] (free keys: counties, markets, industries)."""
    import types
    import typing

    current: Any = Instance
    for key in path:
        origin = typing.get_origin(current)
        if origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(current) if isinstance(a, type) and issubclass(a, BaseModel)]
            current = models[0] if models else None
            origin = None
        if typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list:
            current = typing.get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and key in current.model_fields:
            current = current.model_fields[key].annotation
        else:
            return False
    if typing.get_origin(current) in (typing.Union, types.UnionType):
        current = next((a for a in typing.get_args(current) if a is not type(None)), current)
    return typing.get_origin(current) is dict
