"""The one reader of township and site tables (CSV, GeoPackage, GeoJSON, Shapefile, FlatGeobuf).

Every cell comes back as text, exactly as written, so that validation can report a bad
number at its row and column instead of letting a parser coerce it silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError, Location, Problem, did_you_mean


def read_table(path: Path, layer: str | None = None) -> tuple[pd.DataFrame, Any | None, str | None]:
    """Read a township or site table; returns (attributes, geometry or None, CRS string)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError:  # Excel on a Chinese Windows saves CSV as GBK
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gbk")
        df.columns = [str(c).strip() for c in df.columns]
        return df, None, None
    if suffix in {".gpkg", ".geojson", ".json", ".shp", ".fgb"}:
        import geopandas as gpd
        import pyogrio

        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
        if layer is None and len(layers) > 1:
            raise InputError([Problem(Location(path), f"the file has {len(layers)} layers ({', '.join(layers)})",
                                      "say which one with townships: {path: ..., layer: NAME}")])
        if layer is not None and layer not in layers:
            raise InputError([Problem(Location(path), f"no layer '{layer}' in the file (it has: {', '.join(layers)})",
                                      did_you_mean(layer, layers))])
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
        if not isinstance(gdf, gpd.GeoDataFrame):  # a table without geometry
            df = pd.DataFrame(gdf).astype(object)
            df = df.where(df.notna(), "").astype(str)
            df.columns = [str(c).strip() for c in df.columns]
            return df, None, None
        crs = gdf.crs.to_string() if gdf.crs is not None else None
        geometry = gdf.geometry if "geometry" in gdf else None
        attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name, errors="ignore"))
        attrs = attrs.astype(object).where(attrs.notna(), "").astype(str)
        attrs.columns = [str(c).strip() for c in attrs.columns]
        return attrs, geometry, crs
    raise InputError(
        [
            Problem(
                Location(path),
                f"unsupported table format '{suffix}'",
                "use .gpkg, .geojson or .csv",
            )
        ]
    )
