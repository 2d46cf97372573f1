"""The limits of a generated instance, and the two plans they are set from.

The generator computes every pair's per-hectare coefficients itself (coefficients.py)
and two plans:

- the *unconstrained* plan U: each township takes the allowed industry with the highest
  objective per hectare that also meets its own water limit and income floor (all
  township-level limits kept, all coupling limits ignored);
- the *known-feasible* plan K: each township takes conservation if conservation meets its
  income floor, otherwise the allowed industry that meets its water limit and income
  floor with the smallest footprint on the coupling limits (see `known_feasible_plan`).

Every coupling limit is set from U (county water 50–70 %, county grid 50–70 %, each
fruit market 60–80 %, investment budget 60 % of U's use; conservation share 0.2 above
U's) but never tighter than what K needs, and a limit is written only where it is then
strictly tighter than U's use. U can therefore never be the answer, and K always
satisfies every limit. If a township has no allowed industry that meets the income floor
(high baseline income, all fruit and PV gated out or short of water), its baseline maize
yield is lowered so that its best option meets the floor ("relaxed" in the log).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from optimizer.generate.coefficients import OBJECTIVE, coefficients, objective_per_ha
from optimizer.generate.industries import BASELINE, CANDIDATES, CONSERVATION
from optimizer.generate.layout import Layout
from optimizer.instance.schema import Industry

log = logging.getLogger(__name__)

FRUIT_MARKETS: dict[str, tuple[str, float]] = {
    # market id: (industry, price drop in yuan/t beyond the step)
    "apple": ("apple", 600.0),
    "citrus": ("citrus", 500.0),
}

#: Coupling limits as fractions of the unconstrained plan's use (drawn per county/market).
WATER_FRACTION = (0.5, 0.7)
GRID_FRACTION = (0.5, 0.7)
MARKET_FRACTION = (0.6, 0.8)
PRICE_STEP_AT = 0.75  # price step starts at this share of the market cap
BUDGET_FRACTION = 0.6
CONSERVATION_SHARE = 0.2
INCOME_FLOOR_SHARE = 0.8

_EPS_REL = 1e-9

Coefficients = dict[str, dict[str, np.ndarray]]


def _ok_le(lhs: np.ndarray, rhs: np.ndarray | float) -> np.ndarray:
    """lhs ≤ rhs with a safety margin, so rounding in a model never breaks it."""
    return (lhs <= 0) | (lhs * (1 + _EPS_REL) + 1e-6 <= rhs)


def _ok_ge(lhs: np.ndarray, rhs: np.ndarray | float) -> np.ndarray:
    return lhs >= rhs + np.abs(rhs) * _EPS_REL + 1e-6


# --------------------------------------------------------------------------- the plans


def township_options(
    base: Industry,
    attrs: dict[str, np.ndarray],
    allowed: dict[str, np.ndarray],
    site: dict[str, dict[str, np.ndarray]],
    coef: Coefficients,
) -> np.ndarray:
    """Which candidates (columns) each township (rows) may take within its own limits.

    Income floor per township; relax (lower the baseline maize yield) where no allowed
    industry within the township's own water can meet it. The relaxed yields are written
    into ``site`` and the baseline's coefficients into ``coef``, in place, so that the
    site table carries them.
    """
    area = attrs["plannable_area_ha"]
    n = len(area)
    water_ok = {i: _ok_le(area * coef[i]["water"], attrs["water_available_m3"]) for i in CANDIDATES}
    floor = INCOME_FLOOR_SHARE * (area * coef[BASELINE]["income"])
    best_income = np.max(
        [np.where(allowed[i] & water_ok[i], coef[i]["income"], -np.inf) for i in CANDIDATES], axis=0
    )
    short = ~_ok_ge(area * best_income, floor)
    if short.any():
        target_income = best_income[short] / INCOME_FLOOR_SHARE * 0.99
        new_yield = (
            (target_income - base.farmer_payments_yuan_per_ha) / base.farmer_share_of_value_added
            - base.other_revenue_yuan_per_ha
            + base.operating_cost_yuan_per_ha
        ) / base.price_yuan_per_unit
        yields = site[BASELINE]["yield_per_ha"]
        yields[short] = np.floor(np.maximum(new_yield, 0.0) * 100.0) / 100.0
        coef[BASELINE] = coefficients(base, attrs, site[BASELINE])
        floor = INCOME_FLOOR_SHARE * (area * coef[BASELINE]["income"])
    log.info("income floor: relaxed the baseline of %d of %d townships", int(short.sum()), n)

    feasible = np.stack(
        [allowed[i] & water_ok[i] & _ok_ge(area * coef[i]["income"], floor) for i in CANDIDATES],
        axis=1,
    )
    if not feasible.any(axis=1).all():
        raise RuntimeError("every township must keep an industry within its own limits")
    return feasible


def unconstrained_plan(coef: Coefficients, feasible: np.ndarray) -> np.ndarray:
    """U: each township's best option by objective per hectare (index into CANDIDATES)."""
    objective = np.stack([objective_per_ha(coef[i], OBJECTIVE) for i in CANDIDATES], axis=1)
    plan: np.ndarray = np.argmax(np.where(feasible, objective, -np.inf), axis=1)
    return plan


def known_feasible_plan(
    lay: Layout,
    area: np.ndarray,
    coef: Coefficients,
    feasible: np.ndarray,
    unconstrained: np.ndarray,
) -> np.ndarray:
    """Conservation wherever it meets the income floor; elsewhere the feasible industry
    with the smallest footprint on the coupling limits.

    The footprint of a pair is the sum, over county water, county grid, investment and its
    fruit market, of its use divided by the unconstrained plan's use of the same limit
    (a limit U does not use gets no cap, so it weighs nothing). Spreading the plan's
    needs over the limits keeps it below the 50-80 % caps in most counties.
    """
    n = len(area)
    rows = np.arange(n)

    def per_ha(key: str) -> np.ndarray:
        return np.stack([coef[i][key] for i in CANDIDATES], axis=1)

    def weight(total: np.ndarray | float) -> np.ndarray:
        total = np.asarray(total, dtype=float)
        return np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)

    water, mw, inv, out = (
        area[:, None] * per_ha(k) for k in ("water", "pv_mw", "investment", "output")
    )
    u_water = np.bincount(lay.county, weights=water[rows, unconstrained], minlength=lay.n_counties)
    u_mw = np.bincount(lay.county, weights=mw[rows, unconstrained], minlength=lay.n_counties)
    score = (
        water * weight(u_water)[lay.county, None]
        + mw * weight(u_mw)[lay.county, None]
        + inv * weight(inv[rows, unconstrained].sum())
    )
    for industry, _ in FRUIT_MARKETS.values():
        j = CANDIDATES.index(industry)
        score[:, j] += out[:, j] * weight(out[unconstrained == j, j].sum())
    k_cons = CANDIDATES.index(CONSERVATION)
    lightest = np.argmin(np.where(feasible, score, np.inf), axis=1)
    result: np.ndarray = np.where(feasible[:, k_cons], k_cons, lightest)
    return result


def log_plans(
    n: int,
    allowed: dict[str, np.ndarray],
    unconstrained: np.ndarray,
    known: np.ndarray,
) -> None:
    """Log how open the pairs are and what U and K choose (skipped unless INFO is on)."""
    if not log.isEnabledFor(logging.INFO):
        return
    share_allowed = float(np.mean([allowed[i].mean() for i in CANDIDATES]))
    u = np.bincount(unconstrained, minlength=len(CANDIDATES)) / n
    k = np.bincount(known, minlength=len(CANDIDATES)) / n
    log.info(
        "allowed pairs: %.1f%%; unconstrained plan %s; known-feasible plan %s",
        100 * share_allowed,
        ", ".join(f"{i} {s:.0%}" for i, s in zip(CANDIDATES, u, strict=True)),
        ", ".join(f"{i} {s:.0%}" for i, s in zip(CANDIDATES, k, strict=True)),
    )


# --------------------------------------------------------------------------- coupling limits


def coupling_limits(
    lay: Layout,
    attrs: dict[str, np.ndarray],
    coef: Coefficients,
    unconstrained: np.ndarray,
    known: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Limits set from U's use, never below K's, written only where tighter than U's use.

    The ``constraints`` section of ``instance.yaml``. The draws from ``rng`` come in a
    fixed order (water, grid, then each market), which keeps a seed's instance stable.
    """
    area = attrs["plannable_area_ha"]

    def county_caps(
        key: str, fraction_range: tuple[float, float], step: float, label: str
    ) -> dict[str, float]:
        u_use, k_use = _use(area, coef, unconstrained, key), _use(area, coef, known, key)
        return _county_caps(lay, u_use, k_use, fraction_range, step, label, rng)

    water_caps = county_caps("water", WATER_FRACTION, 1.0, "water")
    grid_caps = county_caps("pv_mw", GRID_FRACTION, 0.1, "grid")
    markets = _markets(area, coef, unconstrained, known, rng)
    u_inv = float(_use(area, coef, unconstrained, "investment").sum())
    k_inv = float(_use(area, coef, known, "investment").sum())
    budget = _cap(u_inv, k_inv, BUDGET_FRACTION, 1.0)
    share = _conservation_share(area, unconstrained, known)

    constraints: dict[str, Any] = {
        "water": {"per_township": True, "county_max_m3": water_caps},
        "markets": markets,
        "grid_county_max_mw": grid_caps,
    }
    if budget is not None:
        constraints["investment_budget_yuan"] = float(budget)
    if share is not None:
        constraints["min_conservation_share"] = share
    constraints["income_floor"] = {"min_share_of_baseline": INCOME_FLOOR_SHARE}
    return constraints


def _use(area: np.ndarray, coef: Coefficients, plan: np.ndarray, key: str) -> np.ndarray:
    """Each township's use of one coefficient (``water``, ``pv_mw``, ...) under ``plan``."""
    per_ha = np.stack([coef[i][key] for i in CANDIDATES], axis=1)
    used: np.ndarray = area * per_ha[np.arange(len(plan)), plan]
    return used


def _cap(u: float, k: float, fraction: float, step: float) -> float | None:
    """max(fraction·u, k + margin) rounded up to `step`; None if not below u."""
    value = max(fraction * u, k * (1 + 1e-7) + step)
    value = math.ceil(value / step) * step
    value = round(value, 6)
    return value if value < u * (1 - 1e-9) else None


def _county_caps(
    lay: Layout,
    u_use: np.ndarray,
    k_use: np.ndarray,
    fraction_range: tuple[float, float],
    step: float,
    label: str,
    rng: np.random.Generator,
) -> dict[str, float]:
    """One cap per county on a use (U's and K's per township), keyed by county name."""
    nc = lay.n_counties
    county_names = lay.county_names()
    u_c = np.bincount(lay.county, weights=u_use, minlength=nc)
    k_c = np.bincount(lay.county, weights=k_use, minlength=nc)
    fractions = rng.uniform(*fraction_range, nc)
    caps: dict[str, float] = {}
    n_at_floor = 0
    for c in range(nc):
        value = _cap(u_c[c], k_c[c], fractions[c], step)
        if value is not None:
            caps[county_names[c]] = float(value)
            n_at_floor += fractions[c] * u_c[c] < k_c[c] * (1 + 1e-7) + step
    log.info(
        "%s caps: %d of %d counties (%d set by the known-feasible plan)",
        label,
        len(caps),
        nc,
        n_at_floor,
    )
    return caps


def _markets(
    area: np.ndarray,
    coef: Coefficients,
    unconstrained: np.ndarray,
    known: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """A capped fruit market with one price step, for each fruit whose cap binds U."""
    markets: dict[str, Any] = {}
    for market, (industry, drop) in FRUIT_MARKETS.items():
        j = CANDIDATES.index(industry)
        u_out = float(np.sum(area * coef[industry]["output"] * (unconstrained == j)))
        k_out = float(np.sum(area * coef[industry]["output"] * (known == j)))
        value = _cap(u_out, k_out, float(rng.uniform(*MARKET_FRACTION)), 1.0)
        if value is None:
            continue
        markets[market] = {
            "industries": [industry],
            "max_output": float(value),
            "price_steps": [
                {
                    "above_output": float(round(PRICE_STEP_AT * value)),
                    "price_drop_yuan_per_unit": drop,
                }
            ],
            "source": f"synthetic: cap at {MARKET_FRACTION[0]:.0%}-{MARKET_FRACTION[1]:.0%} of the "
            "unconstrained plan's output; price step [est] after the 2019-2020 fruit gluts in "
            "docs/domain.md",
        }
    return markets


def _conservation_share(
    area: np.ndarray, unconstrained: np.ndarray, known: np.ndarray
) -> float | None:
    """`CONSERVATION_SHARE` if it lies above U's share and within K's, else the midpoint
    of the two where that is strictly between them, else no limit."""
    k_cons = CANDIDATES.index(CONSERVATION)
    total = float(area.sum())
    u_share = float(area[unconstrained == k_cons].sum()) / total
    k_share = float(area[known == k_cons].sum()) / total
    share: float | None = CONSERVATION_SHARE
    if not (u_share + 1e-6 < CONSERVATION_SHARE <= k_share - 1e-6):
        mid = (u_share + k_share) / 2
        share = round(mid, 4) if u_share + 1e-6 < round(mid, 4) <= k_share - 1e-6 else None
    log.info(
        "conservation share: unconstrained %.3f, known-feasible %.3f, limit %s",
        u_share,
        k_share,
        share,
    )
    return share
