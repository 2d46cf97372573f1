"""Plain words for the results of `optimizer value`: a limit's name, its size, a value per unit.

Shared by the terminal table (`optimizer/cli/value.py`) and the value folder's report
(`optimizer/outputs/report/analyses.py`), so that both say the same thing in the same words.
values.csv keeps the model's row names (they are what `--limit` takes).
"""

from __future__ import annotations

import math
from typing import Any

from optimizer.i18n import N_, _

#: Plain words for each family.
FAMILY_LABELS = {
    "water_use_per_county_max": N_("county water"),
    "water_use_per_basin_max": N_("basin water"),
    "pv_capacity_per_county_max": N_("grid quota"),
    "market_output_max": N_("market cap"),
    "investment_budget_max": N_("investment budget"),
    "conservation_area_min": N_("conservation share"),
    "conservation_area_per_county_min": N_("conservation per county"),
    "farmer_income_per_township_min": N_("income floors"),
    "farmer_income_per_village_min": N_("income floors"),
}


def blank(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def limit_label(name: str, family: str, sep: str = " ") -> str:
    """'grid quota 富川瑶族自治县' for pv_capacity_per_county_max[富川瑶族自治县]."""
    index = name[len(family):].strip("[]")
    label = _(FAMILY_LABELS[family]) if family in FAMILY_LABELS else family
    return f"{label}{sep}{index}" if index else label


def amount_text(x: float, unit: str) -> str:
    """A limit's size as planners write it: yuan in 亿元, others with thousands separators."""
    if unit == "yuan":
        return f"{x / 1e8:,.4g} 亿元"
    if unit == "share":
        return f"{x:.3g}"
    return f"{x:,.6g} {unit}" if abs(x) < 1e6 else f"{x:,.0f} {unit}"


def per_unit_text(x: Any) -> str:
    """A value per unit with as many digits as it needs: 13,132 or 2.47 or 0.0031."""
    if blank(x):
        return "—"
    ax = abs(x)
    if ax == 0:
        return "0"
    return f"{x:,.0f}" if ax >= 100 else f"{x:,.2f}" if ax >= 1 else f"{x:.3g}"
