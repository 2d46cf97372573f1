"""Row scaling per constraint family, and objective scaling, chosen from the instance's numbers.

Why: HiGHS's tolerances are absolute (1e-6 to 1e-7 on rows, costs and the MIP gap's
absolute part), so the units a row is written in change its search. In the fixed units
of data.py (万 m³, 万元, 亿元, thousand output units) the generated instances were fine
up to 20,000 townships, but from 50,000 HiGHS warned that `conservation_area_min` (in
ha, right-hand side ~1e7) is badly scaled, and on generalized-assignment instances (profits
of tens of yuan → 1e-3 万元) the objective's coefficients sat near HiGHS's tolerances.

Rule, chosen by measurement (docs/performance.md, "Row scaling"): every family's rows, and
the objective, are multiplied by the power of ten that brings the geometric mean of their
nonzero coefficients into [1, 10). On the generated instances this removes the warning
at every size; on GAP instances it puts the model back at the magnitudes of the textbook
model (profits and weights of 1–100), where HiGHS was as fast as on the textbook model,
whereas the fixed units were 1.4–1.6× slower on 5 of 6 runs of the type-C instances.
Powers of ten keep the model's numbers readable in `--write-model` files, and reports
divide each family's scale back out (`report_families`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: The pair column each family's rows sum (per-township totals in model units, data.py).
FAMILY_COLUMN: dict[str, str | None] = {
    "one_industry_per_township": None,
    "water_use_per_township_max": "water_10k_m3",
    "water_use_per_county_max": "water_10k_m3",
    "water_use_per_basin_max": "water_10k_m3",
    "market_output_max": "output_1000",
    "market_output_beyond_step_def": "output_1000",
    "pv_capacity_per_county_max": "pv_mw",
    "investment_budget_max": "investment_100m_yuan",
    "conservation_area_min": "area_ha",
    "conservation_area_per_county_min": "area_ha",
    "farmer_income_per_township_min": "income_10k_yuan",
    "industry_locked_in": None,
}


@dataclass(frozen=True)
class Scaling:
    """Factor each family's rows are multiplied by, and the objective's factor."""

    rows: dict[str, float] = field(default_factory=dict)
    objective: float = 1.0

    def row(self, family: str) -> float:
        return self.rows.get(family, 1.0)


UNSCALED = Scaling()


def power_of_ten_for(values: np.ndarray) -> float:
    """10^-k with the geometric mean of |values| (nonzero) times it in [1, 10); 1 without values."""
    a = np.abs(np.asarray(values, dtype=float))
    a = a[(a > 0) & np.isfinite(a)]
    if len(a) == 0:
        return 1.0
    k = math.floor(float(np.mean(np.log10(a))))
    return 10.0 ** (-k)


def choose_scaling(pairs: object, objective_coefficients: np.ndarray) -> Scaling:
    """The scaling of one instance from its pair table (ModelData.pairs) and objective coefficients."""
    rows = {}
    for family, column in FAMILY_COLUMN.items():
        if column is None:
            continue
        values = pairs[column].to_numpy()  # type: ignore[index]
        if family.startswith("conservation"):
            values = values[pairs["conservation"].to_numpy().astype(bool)]  # type: ignore[index]
        rows[family] = power_of_ten_for(values)
    return Scaling(rows=rows, objective=power_of_ten_for(objective_coefficients))


def report_families(families: dict[str, tuple[str, float]], scaling: Scaling) -> dict[str, tuple[str, float]]:
    """FAMILIES with each factor divided by the family's scale: from scaled rows to report units."""
    return {name: (unit, factor / scaling.row(name)) for name, (unit, factor) in families.items()}
