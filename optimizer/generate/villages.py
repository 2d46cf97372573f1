"""Village instances of any size: villages inside the townships of a generated layout.

The townships, counties, cities and basins are those of the township builder (layout.py,
attributes.py); each township is then split into villages whose attributes vary around
the township's with a spatial structure: every township gets a random "upland"
direction across its cell, and a village's position along it (plus noise) raises its
rocky-desertification grade and slope and thins its soil, so that neighbouring villages
resemble each other and a township holds both valley and upland villages — the case in
which a township's leading industry and its villages' products differ. Areas and water
split the township's exactly (so the township's own limits are the sums of its
villages'); irradiance varies by ±1 %.

Feasible by construction, as townships are (limits.py): the known-feasible plan K takes
conservation where it meets a village's income floor; in every township the remaining
villages take the township's leading industry where they can, and where they cannot,
their baseline is lowered until restoration meets their floor (conservation is exempt
from the leading share), so that K meets the leading-industry rule with share 1. Every
coupling limit is then set from the unconstrained plan U and K as for townships.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.generate.attributes import SOIL_DEPTH_BY_GRADE, township_attributes
from optimizer.generate.coefficients import allowed_townships, coefficients
from optimizer.generate.industries import BASELINE, CANDIDATES, CONSERVATION, industry_catalogue
from optimizer.generate.layout import CELL_M, ORIGIN_XY, Layout, layout
from optimizer.generate.limits import (
    INCOME_FLOOR_SHARE,
    coupling_limits,
    known_feasible_plan,
    township_options,
    unconstrained_plan,
)
from optimizer.generate.sites import site_coefficients
from optimizer.instance.schema import Industry

log = logging.getLogger(__name__)

#: The leading-industry rule of a generated village instance: conservation is exempt.
MIN_LEADING_SHARE = 0.6
LEADING_COUNTS: tuple[str, ...] = tuple(i for i in CANDIDATES if i != CONSERVATION)


@dataclass(frozen=True)
class GeneratedVillages:
    """Everything a generated village instance writes (write.py, `write_village_instance`)."""

    layout: Layout  # the townships' layout
    township_attributes: dict[str, np.ndarray]  # township-table columns (sums and area-weighted means)
    village_township: np.ndarray  # township index of each village
    village_attributes: dict[str, np.ndarray]  # village-table columns (and `aridity`)
    village_boxes: np.ndarray  # (n_villages, 4): x0, y0, x1, y1 in the layout's CRS
    site: dict[str, dict[str, np.ndarray]]  # industry → site field → values per village, NaN = none
    industries: dict[str, dict[str, Any]]
    constraints: dict[str, Any]
    known: np.ndarray  # known-feasible plan: index into CANDIDATES per village
    known_leading: np.ndarray  # index into CANDIDATES per township, -1: none (no counted village)


def village_counts(n: int, per_township: float, rng: np.random.Generator) -> np.ndarray:
    """Villages per township: at least one each, round(n × per_township) in all, spread like real ones."""
    total = max(n, int(round(n * per_township)))
    weights = rng.lognormal(0.0, 0.35, n)
    extra = rng.multinomial(total - n, weights / weights.sum())
    counts: np.ndarray = 1 + extra
    return counts


def village_boxes(lay: Layout, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectangles tiling each township cell (rows of near-equal villages) and their centres in [0, 1]².

    Returns (boxes, positions): boxes (x0, y0, x1, y1) in metres, positions relative to the cell.
    """
    total = int(counts.sum())
    boxes = np.empty((total, 4))
    pos = np.empty((total, 2))
    k = 0
    for t, c in enumerate(counts.tolist()):
        rows = max(1, int(math.ceil(math.sqrt(c))))
        per_row = np.full(rows, c // rows)
        per_row[: c % rows] += 1
        x0 = ORIGIN_XY[0] + lay.cell_x[t] * CELL_M
        y0 = ORIGIN_XY[1] + lay.cell_y[t] * CELL_M
        for r, m in enumerate(per_row.tolist()):
            for j in range(m):
                bx0, bx1 = j / m, (j + 1) / m
                by0, by1 = r / rows, (r + 1) / rows
                boxes[k] = (x0 + bx0 * CELL_M, y0 + by0 * CELL_M, x0 + bx1 * CELL_M, y0 + by1 * CELL_M)
                pos[k] = ((bx0 + bx1) / 2, (by0 + by1) / 2)
                k += 1
    return boxes, pos


def village_attributes(
    town: dict[str, np.ndarray], of: np.ndarray, pos: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Village attributes around their township's, spatially correlated along an upland direction.

    e ∈ about [−1.5, 1.5] is a village's height along its township's upland direction;
    grade rises by 0.8·e (±0.4), slope by 4°·e (±2°), soil follows the grade as for
    townships, irradiance rises by 1 %·e (±0.5 %). Areas split the township's area in
    lognormal(0, 0.4) shares, water splits the township's water in proportion to area
    × lognormal(0, 0.2); both add up exactly.
    """
    n_t = len(town["plannable_area_ha"])
    theta = rng.uniform(0.0, 2 * math.pi, n_t)
    direction = np.stack([np.cos(theta), np.sin(theta)], axis=1)[of]
    e = 2.0 * ((pos - 0.5) * direction).sum(axis=1) + rng.normal(0.0, 0.3, len(of))
    grade_t = town["rocky_desertification_grade"][of]
    grade = np.clip(np.rint(grade_t + 0.8 * e + rng.normal(0.0, 0.4, len(of))), 0, 4).astype(np.int64)
    soil_scale = town["soil_depth_cm"][of] / SOIL_DEPTH_BY_GRADE[grade_t]
    soil = np.clip(SOIL_DEPTH_BY_GRADE[grade] * soil_scale * rng.lognormal(0.0, 0.1, len(of)), 5.0, 120.0).round(1)
    slope = np.clip(town["slope_deg"][of] + 4.0 * e + rng.normal(0.0, 2.0, len(of)), 2.0, 45.0).round(1)
    irradiance = np.clip(town["irradiance_kwh_per_m2"][of] * (1 + 0.01 * e + rng.normal(0.0, 0.005, len(of))),
                         1050.0, 1500.0).round(1)  # fmt: skip
    area = _split(town["plannable_area_ha"], of, rng.lognormal(0.0, 0.4, len(of)), 1)
    water = _split(town["water_available_m3"], of, area * rng.lognormal(0.0, 0.2, len(of)), 0)
    return {
        "plannable_area_ha": area,
        "soil_depth_cm": soil,
        "slope_deg": slope,
        "rocky_desertification_grade": grade,
        "water_available_m3": water,
        "irradiance_kwh_per_m2": irradiance,
        "aridity": town["aridity"][of],
    }


def _split(total: np.ndarray, of: np.ndarray, weights: np.ndarray, decimals: int) -> np.ndarray:
    """Split each township's total among its villages by weight, rounded, adding up exactly."""
    sums = np.bincount(of, weights=weights, minlength=len(total))
    parts = np.round(total[of] * weights / sums[of], decimals)
    last = np.r_[of[1:] != of[:-1], True]  # the last village of each township takes the rest
    before = np.bincount(of, weights=np.where(last, 0.0, parts), minlength=len(total))
    parts[last] = np.round(total[of[last]] - before[of[last]], decimals)
    return parts


def _aggregate(town: dict[str, np.ndarray], v: dict[str, np.ndarray], of: np.ndarray) -> dict[str, np.ndarray]:
    """The township table of a village instance: areas and water summed, the rest area-weighted."""
    n_t = len(town["plannable_area_ha"])
    area = np.bincount(of, weights=v["plannable_area_ha"], minlength=n_t)

    def mean(key: str) -> np.ndarray:
        return np.bincount(of, weights=v[key] * v["plannable_area_ha"], minlength=n_t) / area

    return {
        "plannable_area_ha": area.round(1),
        "soil_depth_cm": mean("soil_depth_cm").round(1),
        "slope_deg": mean("slope_deg").round(1),
        "rocky_desertification_grade": np.rint(mean("rocky_desertification_grade")).astype(np.int64),
        "water_available_m3": np.bincount(of, weights=v["water_available_m3"], minlength=n_t).round(0),
        "irradiance_kwh_per_m2": mean("irradiance_kwh_per_m2").round(1),
        "aridity": town["aridity"],
    }


def _relax_baseline(base: Industry, site: dict[str, dict[str, np.ndarray]], idx: np.ndarray,
                    target_income: np.ndarray) -> None:
    """Lower the baseline maize yield of villages `idx` so that its income is `target_income` per ha."""
    new_yield = (
        (target_income - base.farmer_payments_yuan_per_ha) / base.farmer_share_of_value_added
        - base.other_revenue_yuan_per_ha + base.operating_cost_yuan_per_ha
    ) / base.price_yuan_per_unit  # fmt: skip
    yields = site[BASELINE]["yield_per_ha"]
    yields[idx] = np.minimum(yields[idx], np.floor(np.maximum(new_yield, 0.0) * 100.0) / 100.0)


def village_instance(n: int, per_township: float, rng: np.random.Generator) -> GeneratedVillages:
    """Draw a village instance of `n` townships with `per_township` villages each on average."""
    lay = layout(n, rng)
    town = township_attributes(lay, rng)
    counts = village_counts(n, per_township, rng)
    of = np.repeat(np.arange(n), counts)
    boxes, pos = village_boxes(lay, counts)
    v = village_attributes(town, of, pos, rng)
    vlay = Layout(county=lay.county[of], city_of_county=lay.city_of_county, basin_of_county=lay.basin_of_county,
                  cell_x=lay.cell_x[of], cell_y=lay.cell_y[of], n_counties=lay.n_counties, n_cities=lay.n_cities,
                  n_basins=lay.n_basins)  # fmt: skip
    catalogue = industry_catalogue()
    industries = {k: Industry.model_validate(x) for k, x in catalogue.items()}
    allowed = {i: allowed_townships(industries[i], v) for i in CANDIDATES}
    if not allowed[CONSERVATION].all():
        raise RuntimeError("conservation must stay open to every village")
    site = site_coefficients(v, allowed, rng)
    coef = {i: coefficients(industries[i], v, site.get(i, {})) for i in (*CANDIDATES, BASELINE)}
    feasible = township_options(industries[BASELINE], v, allowed, site, coef)
    unconstrained = unconstrained_plan(coef, feasible)
    known = known_feasible_plan(vlay, v["plannable_area_ha"], coef, feasible, unconstrained)
    known, leading = _leading_plan(industries, v, of, n, site, coef, feasible, known)
    feasible = township_options(industries[BASELINE], v, allowed, site, coef)
    unconstrained = unconstrained_plan(coef, feasible)
    if not feasible[np.arange(len(known)), known].all():
        raise RuntimeError("the known-feasible plan must keep every village within its own limits")
    constraints = coupling_limits(vlay, v, coef, unconstrained, known, rng)
    constraints["water"]["per_village"] = True
    constraints["leading_industry"] = {"min_leading_share": MIN_LEADING_SHARE,
                                       "leading_share_counts": list(LEADING_COUNTS)}  # fmt: skip
    log.info("villages: %d in %d townships (%.1f per township); known plan: %s", len(of), n, len(of) / n,
             ", ".join(f"{i} {s:.0%}" for i, s in zip(CANDIDATES, np.bincount(known, minlength=4) / len(of))))
    return GeneratedVillages(
        layout=lay, township_attributes=_aggregate(town, v, of), village_township=of, village_attributes=v,
        village_boxes=boxes, site=site, industries=catalogue, constraints=constraints, known=known,
        known_leading=leading,
    )  # fmt: skip


def _leading_plan(
    industries: dict[str, Industry], v: dict[str, np.ndarray], of: np.ndarray, n: int,
    site: dict[str, dict[str, np.ndarray]], coef: dict[str, dict[str, np.ndarray]], feasible: np.ndarray,
    known: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """K made to meet the leading-industry rule: per township, one leading industry L.

    The villages of K that do not take conservation take L where they can (L: the counted
    industry feasible on the most of their area); the others get a lower baseline, so that
    restoration meets their income floor, and take conservation (exempt). Their coefficient
    rows are updated in place (`site`, `coef`). Returns (K, L per township, -1 for none).
    """
    k_cons = CANDIDATES.index(CONSERVATION)
    counted = [CANDIDATES.index(i) for i in LEADING_COUNTS]
    area = v["plannable_area_ha"]
    known = known.copy()
    led = known != k_cons
    # area of K's counted villages that may take each counted industry, per township
    score = np.stack([np.bincount(of, weights=area * (led & feasible[:, j]), minlength=n) for j in counted], axis=1)
    leading = np.where(score.max(axis=1) > 0, np.asarray(counted)[score.argmax(axis=1)], -1)
    lead_v = leading[of]
    takes = led & (lead_v >= 0) & feasible[np.arange(len(of)), np.maximum(lead_v, 0)]
    known[takes] = lead_v[takes]
    restore = led & ~takes
    if restore.any():
        idx = np.flatnonzero(restore)
        cons_income = coef[CONSERVATION]["income"][idx]
        _relax_baseline(industries[BASELINE], site, idx, cons_income / INCOME_FLOOR_SHARE * 0.99)
        coef[BASELINE] = coefficients(industries[BASELINE], v, site[BASELINE])
        known[idx] = k_cons
    log.info("leading rule: %d villages take their township's leading industry, %d relaxed to restoration",
             int(takes.sum()), int(restore.sum()))
    return known, leading
