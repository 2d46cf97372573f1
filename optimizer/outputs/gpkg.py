"""GeoPackages that open in QGIS: township layers joined to geometry by id, tables, a default style.

The only module that writes GeoPackages: the pipeline's `allocation.gpkg` and the
analyses' layers (GEP accounts, evaluation, comparison). Geometry joins the results
here, at the end, by township id; nothing upstream touches geopandas.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


def write_geopackage(
    path: Path,
    alloc: pd.DataFrame,
    geometry: Any | None,
    crs: str | None,
    summary_rows: pd.DataFrame,
    counties: pd.DataFrame,
    extra_layers: dict[str, pd.DataFrame] | None = None,
) -> None:
    """The allocation as a polygon layer in the input CRS, plus non-spatial tables."""
    import geopandas as gpd
    import pyogrio

    if geometry is not None:
        import shapely

        geom = geometry.reindex(alloc["township_id"].to_numpy()).to_numpy()
        kinds = set(shapely.get_type_id(geom[~shapely.is_missing(geom)]).tolist())
        if kinds <= {3, 6} and 3 in kinds and 6 in kinds:  # Polygon and MultiPolygon mixed
            single = shapely.get_type_id(geom) == 3
            geom = geom.copy()
            geom[single] = [shapely.MultiPolygon([g]) for g in geom[single]]
        layer = gpd.GeoDataFrame(alloc.reset_index(drop=True), geometry=geom, crs=crs)
        # One geometry type per layer, as QGIS expects: mixed input was promoted to multi above.
        layer.to_file(path, layer="allocation", driver="GPKG", engine="pyogrio")
    else:
        pyogrio.write_dataframe(alloc, path, layer="allocation", driver="GPKG")
    pyogrio.write_dataframe(summary_rows, path, layer="run_summary", driver="GPKG", append=False)
    pyogrio.write_dataframe(counties, path, layer="county_totals", driver="GPKG")
    for name, df in (extra_layers or {}).items():
        pyogrio.write_dataframe(df, path, layer=name, driver="GPKG")
    _add_default_style(path, alloc)


def township_layer(df: pd.DataFrame, geometry: Any | None, crs: str | None) -> Any:
    """A per-township table as a GeoDataFrame in the input CRS (or a plain frame without geometry).

    Mixed Polygon/MultiPolygon input is promoted to MultiPolygon: QGIS expects one
    geometry type per layer.
    """
    if geometry is None:
        return df.reset_index(drop=True)
    import geopandas as gpd
    import shapely

    geom = geometry.reindex(df["township_id"].to_numpy()).to_numpy()
    present = geom[~shapely.is_missing(geom)]
    kinds = set(shapely.get_type_id(present).tolist())
    if kinds == {3, 6}:
        geom = geom.copy()
        single = shapely.get_type_id(geom) == 3
        geom[single] = [shapely.MultiPolygon([g]) for g in geom[single]]
    return gpd.GeoDataFrame(df.reset_index(drop=True), geometry=geom, crs=crs)


def write_layers(path: Path, spatial: dict[str, Any], tables: dict[str, pd.DataFrame]) -> None:
    """Write township layers (spatial when they carry geometry) and non-spatial tables to a GeoPackage."""
    import geopandas as gpd
    import pyogrio

    for name, layer in spatial.items():
        if isinstance(layer, gpd.GeoDataFrame):
            layer.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        else:
            pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG")
    for name, df in tables.items():
        pyogrio.write_dataframe(df.reset_index(drop=True), path, layer=name, driver="GPKG")


def _geometry_source(runs: tuple[Path, Path]) -> tuple[Path, dict[str, Any]] | None:
    """Run A's allocation layer if it has geometry, else run B's (the townships are the same)."""
    import pyogrio

    for run in runs:
        gpkg = run / "allocation.gpkg"
        if not gpkg.is_file():
            continue
        try:
            info = pyogrio.read_info(gpkg, layer="allocation")
        except Exception as exc:  # a damaged or foreign file: fall back, don't fail the comparison
            log.warning("cannot read %s layer 'allocation' (%s); trying the other run", gpkg, exc)
            continue
        if info.get("geometry_type"):
            return gpkg, info
    return None


def write_comparison_gpkg(
    path: Path,
    runs: tuple[Path, Path],
    changed_townships: pd.DataFrame,
    per_county: pd.DataFrame,
    totals: pd.DataFrame,
) -> None:
    """`compare`'s GeoPackage: changed townships with the first run's polygons, and tables."""
    import geopandas as gpd
    import pyogrio

    changed = changed_townships.reset_index(drop=True)
    source = _geometry_source(runs)
    if source is None:
        log.info("no township geometry in either run: writing changed_townships without geometry")
        pyogrio.write_dataframe(changed, path, layer="changed_townships", driver="GPKG")
    else:
        gpkg, info = source
        shapes = pyogrio.read_dataframe(gpkg, layer="allocation", columns=["township_id"])
        geom = shapes.drop_duplicates("township_id").set_index("township_id").geometry
        layer = gpd.GeoDataFrame(changed, geometry=geom.reindex(changed["township_id"]).to_numpy(), crs=shapes.crs)
        # Keep the source's geometry type, so an empty layer (no change) still opens as polygons.
        pyogrio.write_dataframe(layer, path, layer="changed_townships", driver="GPKG",
                                geometry_type=info["geometry_type"])
    pyogrio.write_dataframe(per_county, path, layer="county_changes", driver="GPKG")
    pyogrio.write_dataframe(totals, path, layer="total_changes", driver="GPKG")


# Industry colours (QGIS categorised renderer), stored as the layer's default style.
_COLOURS = {
    "apple": "214,39,40", "citrus": "255,127,14", "agro_pv": "31,119,180",
    "conservation": "44,160,44", "maize_sweet_potato": "188,189,34",
}  # fmt: skip
_PALETTE = ["148,103,189", "140,86,75", "227,119,194", "127,127,127", "23,190,207"]


def _add_default_style(path: Path, alloc: pd.DataFrame) -> None:
    """Store a categorised-by-industry QGIS style in `layer_styles`, so the layer opens coloured."""
    import sqlite3

    industries = sorted(alloc["industry"].dropna().unique())
    cats, symbols = [], []
    for n, ind in enumerate(industries):
        colour = _COLOURS.get(ind, _PALETTE[n % len(_PALETTE)])
        label = alloc.loc[alloc["industry"] == ind, "industry_label"].iloc[0]
        label_zh = alloc.loc[alloc["industry"] == ind, "industry_label_zh"].iloc[0]
        text = f"{label_zh} {label}".strip() if label_zh else label
        cats.append(f'<category value="{_xml(ind)}" symbol="{n}" label="{_xml(text)}" render="true"/>')
        symbols.append(
            f'<symbol type="fill" name="{n}" alpha="0.85"><layer class="SimpleFill">'
            f'<Option type="Map"><Option name="color" type="QString" value="{colour},255"/>'
            f'<Option name="outline_color" type="QString" value="60,60,60,255"/>'
            f'<Option name="outline_width" type="QString" value="0.3"/></Option></layer></symbol>'
        )
    qml = (
        '<!DOCTYPE qgis><qgis version="3.28" styleCategories="Symbology">'
        '<renderer-v2 type="categorizedSymbol" attr="industry" enableorderby="0" forceraster="0">'
        f"<categories>{''.join(cats)}</categories><symbols>{''.join(symbols)}</symbols>"
        "</renderer-v2></qgis>"
    )
    con = sqlite3.connect(path)
    try:
        con.execute(
            """CREATE TABLE IF NOT EXISTS layer_styles (
                id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT, f_table_schema TEXT,
                f_table_name TEXT, f_geometry_column TEXT, styleName TEXT, styleQML TEXT, styleSLD TEXT,
                useAsDefault BOOLEAN, description TEXT, owner TEXT, ui TEXT, update_time DATETIME)"""
        )
        con.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, styleQML, styleSLD, useAsDefault, description, owner, update_time) "
            "VALUES ('', '', 'allocation', 'geom', 'industry', ?, '', 1, 'coloured by chosen industry', "
            "'optimizer', ?)",
            (qml, datetime.now(timezone.utc).isoformat()),
        )
        con.commit()
    finally:
        con.close()


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
