"""A MIP start from a neighbouring plan, repaired where it breaks the new limits.

In a sweep, point k+1 differs from point k by one number, so point k's plan is usually
almost right. HiGHS does not warm-start a MIP by itself; given a full start that breaks
a limit it discards it. So the start keeps each township's previous industry where that
pair still exists, and leaves *unset* every township that takes part in a limit the old
plan now breaks; HiGHS completes such a partial start with a small sub-MIP.
"""

from __future__ import annotations

import logging

import pandas as pd
import pyomo.environ as pyo

from optimizer.model.data import ModelData

log = logging.getLogger(__name__)

#: Limit families checked for repair: (component, sense).
_LIMITS = (
    ("water_use_per_township_max", "<="), ("water_use_per_county_max", "<="), ("water_use_per_basin_max", "<="),
    ("market_output_max", "<="), ("pv_capacity_per_county_max", "<="), ("investment_budget_max", "<="),
    ("conservation_area_min", ">="), ("conservation_area_per_county_min", ">="),
    ("farmer_income_per_township_min", ">="), ("industry_locked_in", "=="),
    ("water_use_per_village_max", "<="), ("farmer_income_per_village_min", ">="),
)  # fmt: skip


def repaired_start(m: pyo.ConcreteModel, data: ModelData, plan: pd.Series) -> list[tuple[object, float]]:
    """(variable, 0/1) for townships whose previous choice still fits; others left unset."""
    x = m.industry_chosen
    values: dict[tuple[str, str], float] = {}
    for (t, i) in x:
        prev = plan.get(t)
        if prev is not None and (t, prev) in x:
            values[t, i] = 1.0 if i == prev else 0.0
    # Evaluate each limit at the start; free the townships of every broken one.
    # Townships without a previous choice count as 0 here: a "≤" limit broken by the kept
    # townships alone is broken whatever HiGHS does with the rest.
    for key in x:
        x[key].set_value(values.get(key, 0.0), skip_validation=True)
    free: set[str] = set()
    del data  # the limits are read from the model itself, as HiGHS will see them
    for name, _sense in _LIMITS:
        comp = m.component(name)
        if comp is None:
            continue
        for con in comp.values():
            body = pyo.value(con.body, exception=False)
            if body is None:
                continue
            lo = None if con.lower is None else pyo.value(con.lower)
            up = None if con.upper is None else pyo.value(con.upper)
            tol = 1e-6 * max(1.0, abs(up if up is not None else lo or 0.0))
            broken = (up is not None and body > up + tol) or (lo is not None and body < lo - tol)
            if broken:
                free.update(v.index()[0] for v in _vars_of(con))
    for var in x.values():
        var.set_value(None, skip_validation=True)
    start = [(x[key], val) for key, val in values.items() if key[0] not in free]
    log.info("start from the previous plan: %d townships kept, %d freed by broken limits",
             len({key[0] for key in values} - free), len(free))
    return start


def _vars_of(con) -> list:  # type: ignore[no-untyped-def]
    from pyomo.core.expr.visitor import identify_variables

    return [v for v in identify_variables(con.body, include_fixed=False) if v.parent_component().name == "industry_chosen"]
