"""Site coefficients of a generated instance: township-specific figures for some pairs.

A share of the allowed (township, industry) pairs (`SITE_SHARE`) gets its own yield,
water need, PV performance ratio or restored-land water conservation, drawn from the
township's soil depth, grade and aridity; every township gets its own baseline maize
yield. They become ``site_coefficients.csv``.
"""

from __future__ import annotations

import numpy as np

from optimizer.generate.industries import BASELINE

#: Share of allowed pairs that get a site-specific row.
SITE_SHARE = {"apple": 0.6, "citrus": 0.6, "agro_pv": 0.3, "conservation": 0.3}

MAIZE_YIELD_BY_GRADE = np.array([6.0, 5.0, 4.2, 3.5, 2.8])  # t/ha [est]
RESTORATION_WATER_BY_GRADE = np.array([1.1, 1.0, 0.9, 0.8, 0.7])  # × default m³/ha [est]


def site_coefficients(
    attrs: dict[str, np.ndarray], allowed: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, dict[str, np.ndarray]]:
    """Site overrides per industry: field → array (NaN where the township has none)."""
    n = len(attrs["plannable_area_ha"])
    grade, aridity = attrs["rocky_desertification_grade"], attrs["aridity"]
    soil_factor = np.clip(attrs["soil_depth_cm"] / 60.0, 0.7, 1.3)

    def subset(industry: str) -> np.ndarray:
        return allowed[industry] & (rng.random(n) < SITE_SHARE[industry])

    def masked(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.where(mask, values, np.nan)

    site: dict[str, dict[str, np.ndarray]] = {}
    m = subset("apple")
    site["apple"] = {
        "yield_per_ha": masked(
            m, np.clip(30.0 * soil_factor * rng.lognormal(0, 0.15, n), 15, 55).round(1)
        ),
        "water_m3_per_ha": masked(
            m, np.clip((1000.0 + 1500.0 * aridity) * rng.lognormal(0, 0.08, n), 1000, 2500).round(0)
        ),
    }
    m = subset("citrus")
    site["citrus"] = {
        "yield_per_ha": masked(
            m, np.clip(25.0 * soil_factor * rng.lognormal(0, 0.12, n), 14, 34).round(1)
        ),
        "water_m3_per_ha": masked(
            m, np.clip((750.0 + 750.0 * aridity) * rng.lognormal(0, 0.08, n), 750, 1500).round(0)
        ),
    }
    m = subset("agro_pv")
    site["agro_pv"] = {"pv_performance_ratio": masked(m, rng.uniform(0.80, 0.88, n).round(3))}
    m = subset("conservation")
    site["conservation"] = {
        "gep.water_conservation": masked(
            m, (3000.0 * RESTORATION_WATER_BY_GRADE[grade] * rng.lognormal(0, 0.1, n)).round(0)
        )
    }
    site[BASELINE] = {
        "yield_per_ha": np.maximum(
            MAIZE_YIELD_BY_GRADE[grade] * rng.lognormal(0, 0.08, n), 2.6
        ).round(2)
    }
    return site
