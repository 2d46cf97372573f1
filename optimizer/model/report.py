"""Reading the solved model back: every limit's left-hand side, bound, slack, in report units.

Lives with the model because it walks the Pyomo components by the family names of
docs/model.md; the summary and the reports get plain dicts from it.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo


def constraint_report(
    m: pyo.ConcreteModel, families: dict[str, tuple[str, float]], tol: float = 1e-6
) -> list[dict[str, Any]]:
    """Every limit with its left-hand side, bound and slack; `binding` when slack ≈ 0.

    Per-township rows (one industry, water, income floor) are included only when they
    bind, to keep summaries of 20,000-township runs readable.
    """
    per_township = {"one_industry_per_township", "water_use_per_township_max",
                    "farmer_income_per_township_min", "industry_locked_in"}  # fmt: skip
    rows = []
    for name, (unit, scale) in families.items():
        comp = m.component(name)
        if comp is None:
            continue
        for index, con in comp.items():
            body = pyo.value(con.body, exception=False)
            if body is None:
                continue
            body *= scale  # back from 万 m³ / 万元 to the units planners read in reports
            lower, upper = con.lower, con.upper
            lo = None if lower is None else pyo.value(lower) * scale
            up = None if upper is None else pyo.value(upper) * scale
            if lo is not None and up is not None and lo == up:
                if name == "one_industry_per_township":
                    continue
                sense, rhs, slack = "==", up, abs(body - up)
            elif up is not None:
                sense, rhs, slack = "<=", up, up - body
            else:
                sense, rhs, slack = ">=", lo, body - lo
            binding = slack <= tol * max(1.0, abs(rhs))
            used = body / rhs if rhs else None
            if name in per_township and not binding:
                continue
            rows.append(
                {
                    "name": f"{name}[{index}]" if index is not None else name,
                    "family": name,
                    "index": index if not isinstance(index, tuple) else list(index),
                    "lhs": body,
                    "sense": sense,
                    "rhs": rhs,
                    "slack": slack,
                    "unit": unit,
                    "binding": bool(binding),
                    "used_share": used,
                }
            )
    return rows
