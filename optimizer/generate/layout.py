"""Where the townships of a generated instance lie: cells, counties, cities, basins.

Townships sit on a grid of 10 km square cells. Each county (~15 townships) is a 4×4 block
of cells; cities are 3×3 blocks of counties, basins vertical strips of four county
columns. The blocks give the attributes (attributes.py) and the county limits
(limits.py) their spatial structure; the cells are the townships' polygons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Projected CRS of the generated cells: CGCS2000 / 3-degree Gauss-Kruger CM 105E, the zone
#: of Guanling (Guizhou) and close to Zhaotong (Yunnan).
CRS = "EPSG:4544"
CELL_M = 10_000.0  # 10 km cells: 100 km², the size of a real karst township
ORIGIN_XY = (400_000.0, 2_700_000.0)
COUNTY_BLOCK = 4  # a county is a 4×4 block of cells (≤ 16 townships)
TOWNSHIPS_PER_COUNTY = 15
CITY_BLOCK = 3  # a city is a 3×3 block of counties
BASIN_COLUMNS = 4  # a basin is a strip of 4 county columns


@dataclass(frozen=True)
class Layout:
    """Township → county → city/basin indices and each township's grid cell."""

    county: np.ndarray  # county index of each township
    city_of_county: np.ndarray
    basin_of_county: np.ndarray
    cell_x: np.ndarray  # cell column of each township
    cell_y: np.ndarray
    n_counties: int
    n_cities: int
    n_basins: int

    def county_names(self) -> list[str]:
        """Names by county index: the keys of the county limits and the table's column."""
        return [f"county_{c + 1:04d}" for c in range(self.n_counties)]

    def city_names(self) -> list[str]:
        return [f"city_{c + 1:03d}" for c in range(self.n_cities)]

    def basin_names(self) -> list[str]:
        return [f"basin_{b + 1:02d}" for b in range(self.n_basins)]


def layout(n: int, rng: np.random.Generator) -> Layout:
    """Place ``n`` townships: counties of near-equal size, filled cell by cell."""
    n_counties = max(1, math.ceil(n / TOWNSHIPS_PER_COUNTY))
    sizes = np.full(n_counties, n // n_counties)
    sizes[rng.permutation(n_counties)[: n % n_counties]] += 1
    county = np.repeat(np.arange(n_counties), sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    local = np.arange(n) - starts[county]

    block_cols = math.ceil(math.sqrt(n_counties))
    bx = np.arange(n_counties) % block_cols
    by = np.arange(n_counties) // block_cols
    cell_x = bx[county] * COUNTY_BLOCK + local % COUNTY_BLOCK
    cell_y = by[county] * COUNTY_BLOCK + local // COUNTY_BLOCK

    if n_counties < 4:
        city_of_county = np.zeros(n_counties, dtype=int)
    else:
        city_key = (by // CITY_BLOCK) * (block_cols + 1) + bx // CITY_BLOCK
        _, city_of_county = np.unique(city_key, return_inverse=True)
    _, basin_of_county = np.unique(bx // BASIN_COLUMNS, return_inverse=True)
    return Layout(
        county=county,
        city_of_county=city_of_county,
        basin_of_county=basin_of_county,
        cell_x=cell_x,
        cell_y=cell_y,
        n_counties=n_counties,
        n_cities=int(city_of_county.max()) + 1,
        n_basins=int(basin_of_county.max()) + 1,
    )


def cell_polygons(lay: Layout) -> np.ndarray:
    """Each township's square cell in `CRS` metres (shapely imported only when asked)."""
    import shapely

    x0 = ORIGIN_XY[0] + lay.cell_x * CELL_M
    y0 = ORIGIN_XY[1] + lay.cell_y * CELL_M
    polygons: np.ndarray = shapely.box(x0, y0, x0 + CELL_M, y0 + CELL_M)
    return polygons
