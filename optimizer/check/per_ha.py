"""Per-hectare figures of (township, industry) pairs, as docs/model.md defines them.

The checker's own code for the table "Per-hectare coefficients of a pair": industry
values, overridden by non-blank cells of the site-coefficient table. It shares nothing
with `optimizer/instance/coefficients.py` on purpose: a mistake there must show up here as a
disagreement, not be repeated.
"""

from __future__ import annotations

import numpy as np

from optimizer.check.context import Context
from optimizer.check.read_instance import Industry

GEP_CATEGORIES: tuple[str, ...] = ("material", "regulating", "cultural")

PER_HA_KEYS = (
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


def per_ha(
    ctx: Context, tids: np.ndarray, iids: np.ndarray, tpos: np.ndarray
) -> tuple[dict[str, np.ndarray], list[tuple[int, int, str]]]:
    """Per-hectare figures of pairs (township, industry), following docs/model.md.

    `tpos` are the townships' rows in the township table. Returns the figures (one
    array per key of PER_HA_KEYS) and the notes as (pair, sub-rank, text), placed at
    the first pair that gives rise to them.
    """
    n = len(iids)
    out = {k: np.zeros(n) for k in PER_HA_KEYS}
    notes: list[tuple[int, int, str]] = []
    if not n:
        return out, notes
    site = ctx.site
    srow = site.rows(tids, iids)
    irradiance = ctx.town_num["irradiance_kwh_per_m2"][tpos]
    site_cols = list(site.columns)
    for iid, ind in ctx.inst.industries.items():
        rows = np.flatnonzero(iids == iid)
        if not len(rows):
            continue
        s_rows = srow[rows]
        m = len(rows)

        def site_value(key: str, ind: Industry = ind, s_rows: np.ndarray = s_rows) -> np.ndarray:
            default = ind.fields[key]
            value = np.full(len(s_rows), np.nan if default is None else float(default))
            override = site.values(key, s_rows)
            return value if override is None else np.where(np.isnan(override), value, override)

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
            override = site.values(f"gep.{s.name}", s_rows)
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
                values = site.values(key, s_rows)
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
