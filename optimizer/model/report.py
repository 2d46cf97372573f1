"""Reading the solved model back: every limit's left-hand side, bound, slack, in report units.

Lives with the model because it walks the Pyomo components by the family names of
docs/model.md; the summary and the reports get plain dicts from it.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo


#: Families with a row per township or village: reported only where they bind, so that
#: summaries of 20,000-township runs stay readable.
PER_UNIT_FAMILIES = frozenset({
    "one_industry_per_township", "water_use_per_township_max", "farmer_income_per_township_min",
    "industry_locked_in", "one_product_per_village", "water_use_per_village_max",
    "farmer_income_per_village_min", "leading_industry_per_township", "leading_industry_share_min",
})
#: Equality rows that say nothing about a plan (every unit takes exactly one industry).
_ASSIGNMENT_ROWS = ("one_industry_per_township", "one_product_per_village", "leading_industry_per_township")


def _limit_row(name: str, index: Any, body: float, lo: float | None, up: float | None, unit: str,
               tol: float) -> dict[str, Any] | None:
    """One limit in report units: sense, bound, slack, binding; None for rows left out."""
    if lo is not None and up is not None and lo == up:
        if name in _ASSIGNMENT_ROWS:
            return None
        sense, rhs, slack = "==", up, abs(body - up)
    elif up is not None:
        sense, rhs, slack = "<=", up, up - body
    else:
        assert lo is not None
        sense, rhs, slack = ">=", lo, body - lo
    binding = slack <= tol * max(1.0, abs(rhs))
    if name in PER_UNIT_FAMILIES and not binding:
        return None
    return {
        "name": f"{name}[{index}]" if index is not None else name,
        "family": name,
        "index": index if not isinstance(index, tuple) else list(index),
        "lhs": body,
        "sense": sense,
        "rhs": rhs,
        "slack": slack,
        "unit": unit,
        "binding": bool(binding),
        "used_share": body / rhs if rhs else None,
        # HiGHS keeps rows to its feasibility tolerance; a hair over is said so.
        "exceeded_by": max(0.0, -slack),
    }


def constraint_report(
    m: pyo.ConcreteModel, families: dict[str, tuple[str, float]], tol: float = 1e-6
) -> list[dict[str, Any]]:
    """Every limit with its left-hand side, bound and slack; `binding` when slack ≈ 0.

    Per-township rows (one industry, water, income floor) are included only when they
    bind, to keep summaries of 20,000-township runs readable.
    """
    rows = []
    leading = _leading_with_area(m)
    shares = _leading_shares(m) if leading else {}
    for name, (unit, scale) in families.items():
        comp = m.component(name)
        if comp is None:
            continue
        for index, con in comp.items():
            if name == "leading_industry_share_min":
                if index not in leading:
                    continue  # the row of an industry that does not lead holds for any plan
                # stated as a planner reads it: leading area ≥ s × counted area (same slack)
                body, lo, up = shares[index][0], shares[index][1], None
            else:
                body = pyo.value(con.body, exception=False)
                if body is None:
                    continue
                body *= scale  # back from 万 m³ / 万元 to the units planners read in reports
                lower, upper = con.lower, con.upper
                lo = None if lower is None else pyo.value(lower) * scale
                up = None if upper is None else pyo.value(upper) * scale
            row = _limit_row(name, index, body, lo, up, unit, tol)
            if row is not None:
                rows.append(row)
    return rows


def _leading_with_area(m: pyo.ConcreteModel) -> set[tuple[str, str]]:
    """(township, industry) pairs where the industry leads in the solution and has village area.

    A township whose villages all take exempt industries meets its share with any leading
    industry; its row says nothing and is left out like the rows of industries that do
    not lead.
    """
    y = m.component("leading_industry")
    if y is None:
        return set()
    town_of = getattr(m, "township_of_village", {})
    with_area = {(town_of.get(v), i) for (v, i), var in m.industry_chosen.items() if (var.value or 0.0) > 0.5}
    return {(t, i) for (t, i), var in y.items() if (var.value or 0.0) > 0.5 and (t, i) in with_area}


def _leading_shares(m: pyo.ConcreteModel) -> dict[tuple[str, str], tuple[float, float]]:
    """(leading area, s × counted area) in ha of every township and industry in the solution."""
    rule = m.leading_rule
    counted = set(rule["counted"])
    town_of, area = m.township_of_village, m.village_area
    by_ti: dict[tuple[str, str], float] = {}
    counted_t: dict[str, float] = {}
    for (v, i), var in m.industry_chosen.items():
        if (var.value or 0.0) > 0.5:
            t = town_of[v]
            by_ti[t, i] = by_ti.get((t, i), 0.0) + area[v]
            if i in counted:
                counted_t[t] = counted_t.get(t, 0.0) + area[v]
    return {(t, i): (by_ti.get((t, i), 0.0), rule["share"] * counted_t.get(t, 0.0)) for (t, i) in m.leading_industry}


def in_report_units(rows: list[dict[str, Any]], families: dict[str, tuple[str, float]]) -> list[dict[str, Any]]:
    """Rows of the least relaxation (model units) converted to m³, yuan, ha, MWp, with the unit."""
    out = []
    for r in rows:
        unit, scale = families.get(r["family"], ("", 1.0))
        out.append({**r, "rhs": r["rhs"] * scale, "relax_by": r["relax_by"] * scale, "unit": unit})
    return out


def describe_relaxation(row: dict[str, Any], townships: Any, locks: dict[str, str], villages: Any = None) -> str:
    """One limit of the least relaxation in a planner's words, with both figures and the unit.

    `townships` is the typed township table (for names); `locks` the must-locks by township
    (or by village); `villages` the typed village table of a village instance.
    """
    from optimizer.i18n import _

    family, index = row["family"], row["index"]
    key = index[0] if isinstance(index, list) and index else index
    name = ""
    by_village = ("water_use_per_village_max", "farmer_income_per_village_min")
    if family in ("water_use_per_township_max", "farmer_income_per_township_min", "industry_locked_in",
                  "leading_industry_share_min"):  # fmt: skip
        table = villages if family == "industry_locked_in" and villages is not None else townships
        name = str(table.at[key, "name"]) if key in table.index else ""
    elif family in by_village and villages is not None:
        name = str(villages.at[key, "name"]) if key in villages.index else ""
    figures = {"rhs": _amount(row["rhs"]), "by": _amount(row["relax_by"]), "unit": row.get("unit", ""),
               "key": key, "name": name}  # fmt: skip
    words = {
        "water_use_per_township_max": _("water available in township {key} ({name}), {rhs} {unit}: needs {by} {unit} more"),
        "water_use_per_county_max": _("water budget of county {key}, {rhs} {unit}: needs {by} {unit} more"),
        "water_use_per_basin_max": _("water budget of basin {key}, {rhs} {unit}: needs {by} {unit} more"),
        "market_output_max": _("market cap of '{key}', {rhs} {unit}: needs {by} {unit} more"),
        "pv_capacity_per_county_max": _("grid quota of county {key}, {rhs} MWp: needs {by} MWp more"),
        "investment_budget_max": _("investment budget, {rhs} yuan: needs {by} yuan more"),
        "conservation_area_min": _("conservation area required, {rhs} ha: must fall by {by} ha"),
        "conservation_area_per_county_min": _("conservation area required in county {key}, {rhs} ha: must fall by {by} ha"),
        "farmer_income_per_township_min": _("income floor of township {key} ({name}), {rhs} yuan/yr: must fall by {by} yuan/yr"),
        "water_use_per_village_max": _("water available in village {key} ({name}), {rhs} {unit}: needs {by} {unit} more"),
        "farmer_income_per_village_min": _("income floor of village {key} ({name}), {rhs} yuan/yr: must fall by {by} yuan/yr"),
        "leading_industry_share_min": _("leading-industry share of township {key} ({name}) for '{industry}': "
                                        "needs {by} ha more under it, or a lower min_leading_share"),
    }
    if family == "industry_locked_in":
        if villages is not None:
            return _("the lock of village {key} ({name}) to '{industry}' must be lifted").format(
                key=key, name=name, industry=locks.get(str(key), "?"))
        return _("the lock of township {key} ({name}) to '{industry}' must be lifted").format(
            key=key, name=name, industry=locks.get(str(key), "?"))
    industry = index[1] if isinstance(index, list) and len(index) > 1 else ""
    template = words.get(family, _("{family}[{key}], limit {rhs} {unit}: must move by {by} {unit}"))
    return template.format(family=family, industry=industry, **figures)


def _amount(x: float) -> str:
    """Whole units for large figures, enough digits for small ones (never 50 vs 50)."""
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.4g}"


def matrix_constraint_report(
    matrix: Any, z: Any, families: dict[str, tuple[str, float]], tol: float = 1e-6
) -> list[dict[str, Any]]:
    """`constraint_report` for a plan given as column values of the array model (model/matrix.py).

    Same rows, same fields, same order of families, so a summary reads the same whichever
    method solved the instance.
    """
    rows = []
    for name, (unit, scale) in families.items():
        block = matrix.blocks.get(name)
        if block is None:
            continue
        if name == "leading_industry_share_min":  # stated as `constraint_report` states it
            rows.extend(r for r in _matrix_leading_rows(matrix, z, unit, tol) if r is not None)
            continue
        lhs = block.lhs(z) * scale
        # Pyomo states o_mk ≥ output − above_k with the constant in the body (output − o − above ≤ 0)
        moved = name == "market_output_beyond_step_def"
        for r, index in enumerate(block.keys):
            body = float(lhs[r]) - (float(block.upper[r]) * scale if moved else 0.0)
            lo = None if block.lower[r] == float("-inf") else float(block.lower[r]) * scale
            up = None if block.upper[r] == float("inf") else (0.0 if moved else float(block.upper[r]) * scale)
            row = _limit_row(name, index, body, lo, up, unit, tol)
            if row is not None:
                rows.append(row)
    return rows


def _matrix_leading_rows(matrix: Any, z: Any, unit: str, tol: float) -> list[dict[str, Any] | None]:
    """`leading_industry_share_min` of an array-model plan as a planner reads it (leading area ≥
    s × counted area), for the leading industries with village area, like `constraint_report`."""
    rule = matrix.leading_rule
    counted = set(rule.counted)
    inds = matrix.pairs.get_level_values(1)
    by_ti: dict[tuple[str, str], float] = {}
    counted_t: dict[str, float] = {}
    for col in (z[: matrix.n_x] > 0.5).nonzero()[0].tolist():
        t, i, a = matrix.townships[matrix.township[col]], inds[col], float(matrix.x_area[col])
        by_ti[t, i] = by_ti.get((t, i), 0.0) + a
        if i in counted:
            counted_t[t] = counted_t.get(t, 0.0) + a
    return [_limit_row("leading_industry_share_min", (t, i), by_ti[t, i], rule.share * counted_t.get(t, 0.0), None,
                       unit, tol)
            for j, (t, i) in enumerate(matrix.y_keys) if z[matrix.y_start + j] > 0.5 and (t, i) in by_ti]
