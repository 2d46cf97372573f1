"""Township attributes of a generated instance, spatially correlated through the layout.

Irradiance has a city level, a county level and township noise; rocky-desertification
grade comes from a county-level severity plus township noise, and soil depth and slope
follow the grade.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from optimizer.generate.layout import Layout

SOIL_DEPTH_BY_GRADE = np.array([80.0, 62.0, 48.0, 32.0, 20.0])  # cm [est]
GRADE_CUMULATIVE = np.array([0.15, 0.40, 0.67, 0.87])  # P(grade ≤ g), g = 0..3 [est]


def township_attributes(lay: Layout, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Township attributes: county-level means plus township noise (rounded as written).

    Keys are township-table columns, plus ``aridity``, which is not written but drives
    the site water needs (sites.py).
    """
    n, nc = len(lay.county), lay.n_counties
    c = lay.county

    city_irr = rng.uniform(1130.0, 1420.0, lay.n_cities)
    county_irr = city_irr[lay.city_of_county] + rng.normal(0.0, 35.0, nc)
    irradiance = np.clip(county_irr[c] + rng.normal(0.0, 20.0, n), 1050.0, 1500.0).round(1)
    # Sunny counties are the dry ones (Zhaotong): aridity drives irrigation needs.
    aridity = np.clip((county_irr - 1130.0) / 290.0 + rng.normal(0.0, 0.15, nc), 0.0, 1.0)

    county_severity = rng.normal(0.0, 0.7, nc)
    latent = county_severity[c] + rng.normal(0.0, 0.8, n)
    sd = math.sqrt(0.7**2 + 0.8**2)
    thresholds = sd * np.array([NormalDist().inv_cdf(p) for p in GRADE_CUMULATIVE])
    grade = np.searchsorted(thresholds, latent).astype(np.int64)

    county_soil = rng.lognormal(0.0, 0.15, nc)
    soil = SOIL_DEPTH_BY_GRADE[grade] * county_soil[c] * rng.lognormal(0.0, 0.2, n)
    soil_depth = np.clip(soil, 5.0, 120.0).round(1)

    county_slope = rng.uniform(10.0, 22.0, nc)
    slope = np.clip(county_slope[c] + 1.5 * grade + rng.normal(0.0, 4.0, n), 2.0, 45.0).round(1)

    area = np.clip(rng.lognormal(math.log(900.0), 0.55, n), 200.0, 3000.0).round(1)
    county_water = rng.uniform(1500.0, 3000.0, nc)
    water = (area * county_water[c] * rng.lognormal(0.0, 0.25, n)).round(0)

    return {
        "plannable_area_ha": area,
        "soil_depth_cm": soil_depth,
        "slope_deg": slope,
        "rocky_desertification_grade": grade,
        "water_available_m3": water,
        "irradiance_kwh_per_m2": irradiance,
        "aridity": aridity[c],  # not written: drives site water needs
    }
