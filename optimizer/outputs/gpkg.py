"""GeoPackages that open styled in QGIS: township layers joined to geometry by id, tables,
a default style per layer and field aliases in Chinese and English.

The only module that writes GeoPackages: the pipeline's `allocation.gpkg` and the
analyses' layers (GEP accounts, evaluation, comparison, and any newer command through
`write_layers`). Geometry joins the results here, at the end, by township id; nothing
upstream touches geopandas.

How the style and the aliases get in, and why so (verified against GDAL 3.6 and 3.12 and
QGIS 3.22; notes in docs/outputs.md):

- Every layer, the style table included, is written through pyogrio, so GDAL registers
  it in `gpkg_contents`. A table that is not registered is invisible to GDAL as soon as
  another table is registered as 'attributes' (the GPKG driver's LIST_ALL_TABLES=AUTO),
  and QGIS reads styles only through GDAL: a raw-sqlite `layer_styles` is never applied.
- `layer_styles` has the columns and types QGIS's own "save style to database" creates
  (FID `id`, f_table_catalog/schema = '', f_geometry_column = the layer's geometry
  column or '' for a table, useAsDefault true, update_time); QGIS applies the default
  style of a layer when it opens it.
- Field aliases go two ways: in the QML (`<aliases>`, read by every QGIS 3.x), and as
  GDAL "alternative names" in `gpkg_data_columns` (the GeoPackage schema extension),
  written exactly as GDAL ≥ 3.7 writes them, because pyogrio has no API for them; GDAL
  ≥ 3.7, QGIS on it and other GeoPackage readers then show them without the style.
- Files are created as GeoPackage 1.2 (dataset option VERSION=1.2): GDAL < 3.8, and so
  QGIS 3.22/3.28, warn on every open of a 1.4 file, pyogrio's default.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.outputs.labels import (
    bilingual,
    column_labels,
    column_words,
    industry_labels,
    unit_text,
)
from optimizer.outputs.style import INDUSTRY_COLOURS, Categorized, Graduated, StyleSpec, layer_qml

log = logging.getLogger(__name__)

#: Dataset creation options of every GeoPackage the tool writes (see the module docstring).
GPKG_CREATION = {"VERSION": "1.2"}

# gpkg_data_columns and its companion, with GDAL's own DDL (GDAL 3.12, ogr/ogrsf_frmts/gpkg),
# so that GDAL, finding them, treats them as its own.
_DATA_COLUMNS_DDL = (
    "CREATE TABLE gpkg_data_columns (table_name TEXT NOT NULL,column_name TEXT NOT NULL,name TEXT,"
    "title TEXT,description TEXT,mime_type TEXT,constraint_name TEXT,"
    "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),CONSTRAINT gdc_tn UNIQUE (table_name, name))"
)
_CONSTRAINTS_DDL = (
    "CREATE TABLE gpkg_data_column_constraints (constraint_name TEXT NOT NULL,constraint_type TEXT NOT NULL,"
    "value TEXT,min NUMERIC,min_is_inclusive BOOLEAN,max NUMERIC,max_is_inclusive BOOLEAN,description TEXT,"
    "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"
)
_EXTENSIONS_DDL = (
    "CREATE TABLE gpkg_extensions (table_name TEXT,column_name TEXT,extension_name TEXT NOT NULL,"
    "definition TEXT NOT NULL,scope TEXT NOT NULL,CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"
)
_SCHEMA_EXTENSION = ("gpkg_schema", "http://www.geopackage.org/spec121/#extension_schema", "read-write")

STYLE_TABLE = "layer_styles"


# --------------------------------------------------------------------------- layers


def township_layer(df: pd.DataFrame, geometry: Any | None, crs: str | None, id_column: str = "township_id") -> Any:
    """A per-township table as a GeoDataFrame in the input CRS (or a plain frame without geometry).

    Mixed Polygon/MultiPolygon input is promoted to MultiPolygon: QGIS expects one
    geometry type per layer. A per-village table joins the village polygons by
    `id_column="village_id"`.
    """
    if geometry is None:
        return df.reset_index(drop=True)
    import geopandas as gpd
    import shapely

    geom = geometry.reindex(df[id_column].to_numpy()).to_numpy()
    present = geom[~shapely.is_missing(geom)]
    kinds = set(shapely.get_type_id(present).tolist())
    if kinds == {3, 6}:
        geom = geom.copy()
        single = shapely.get_type_id(geom) == 3
        geom[single] = [shapely.MultiPolygon([g]) for g in geom[single]]
    return gpd.GeoDataFrame(df.reset_index(drop=True), geometry=geom, crs=crs)


def _write_frame(path: Path, name: str, frame: Any, geometry_type: str | None = None) -> None:
    """One layer through pyogrio (GDAL registers it); the first one creates the file as GPKG 1.2."""
    import pyogrio

    kwargs: dict[str, Any] = {}
    if not path.exists():
        kwargs["dataset_options"] = GPKG_CREATION
    if geometry_type is not None:
        kwargs["geometry_type"] = geometry_type
    pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", **kwargs)


def write_layers(
    path: Path,
    spatial: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame] | None = None,
    *,
    styles: Mapping[str, StyleSpec] | None = None,
    lang: str | None = None,
    geometry_types: Mapping[str, str] | None = None,
) -> None:
    """Write layers to a GeoPackage that opens styled, with field aliases: the helper for every command.

    - `spatial`: layer name → a GeoDataFrame (from `township_layer`) or, for an instance
      without geometry, a plain DataFrame (written as a table).
    - `tables`: layer name → a non-spatial DataFrame.
    - `styles`: layer name → the layer's default QGIS style, one of
        `Categorized("column", labels={value: legend text}, colours={value: "r,g,b"},
        emphasis={values drawn with a heavy outline})` for a text column, or
        `Graduated("numeric_column", classes=5, ramp="YlGn")` for a number;
      both label the map with the `name` column unless `label_field=None`. Layers
      without a spec (and tables) get an aliases-only style.
    - `lang`: None (default) → aliases "中文 (English, unit)"; "zh" or "en" → one language.
      Aliases come from `optimizer.outputs.labels` (keyed by column name; columns it does
      not know keep their name).
    - `geometry_types`: layer name → GDAL geometry type to force (e.g. an empty layer
      that must still open as polygons).

    Example (a newer command):

        write_layers(folder / "frontier.gpkg",
                     {"frontier_townships": township_layer(df, loaded.geometry, loaded.crs)},
                     {"frontier_points": points},
                     styles={"frontier_townships": Categorized("industry", labels=...,
                                                               colours=INDUSTRY_COLOURS)})
    """
    tables = dict(tables or {})
    geometry_types = dict(geometry_types or {})
    frames: dict[str, pd.DataFrame] = {}
    for name, layer in spatial.items():
        _write_frame(path, name, layer, geometry_types.get(name))
        frames[name] = layer
    for name, df in tables.items():
        df = df.reset_index(drop=True)
        _write_frame(path, name, df)
        frames[name] = df
    register_styles(path, frames, styles or {}, lang)
    register_aliases(path, {name: list(_attribute_columns(df)) for name, df in frames.items()}, lang)


def _attribute_columns(df: pd.DataFrame) -> list[str]:
    geometry = getattr(df, "_geometry_column_name", None)
    return [str(c) for c in df.columns if c != geometry]


# --------------------------------------------------------------------------- styles and aliases


def register_styles(
    path: Path,
    frames: Mapping[str, pd.DataFrame],
    styles: Mapping[str, StyleSpec],
    lang: str | None = None,
) -> None:
    """Store one default QGIS style per layer in `layer_styles`, written through pyogrio.

    QGIS reads `layer_styles` through GDAL (src/core/qgsogrutils.cpp, loadStoredStyle):
    rows with f_table_schema='' and the layer's table name and geometry column, the one
    with useAsDefault first. The table is created as QGIS creates it (FID `id`).
    """
    import pyogrio

    unknown = sorted(set(styles) - set(frames))
    if unknown:
        raise ValueError(f"styles given for layers that are not written: {', '.join(unknown)}")
    now = pd.Timestamp(datetime.now(UTC)).floor("s")
    rows = []
    for name, df in frames.items():
        info = pyogrio.read_info(path, layer=name)
        geometry_type = info.get("geometry_type")
        spec = styles.get(name)
        aliases = column_labels(_attribute_columns(df), lang)
        if spec is None and not aliases:
            continue
        qml = layer_qml(spec, pd.DataFrame(df), geometry_type, aliases)
        style_name = (spec.name if spec is not None and spec.name else None) or (
            spec.column if spec is not None else "aliases")
        description = (spec.description if spec is not None else "") or "written by karst-layout-optimizer"
        rows.append({
            "f_table_catalog": "", "f_table_schema": "", "f_table_name": name,
            "f_geometry_column": (info.get("geometry_name") or "") if geometry_type else "",
            "styleName": style_name, "styleQML": qml, "styleSLD": "", "useAsDefault": True,
            "description": description, "owner": "karst-layout-optimizer", "ui": "", "update_time": now,
        })  # fmt: skip
    if not rows:
        return
    existing = {str(n) for n, _ in pyogrio.list_layers(path)}
    table = pd.DataFrame(rows)
    if STYLE_TABLE in existing:
        with closing(sqlite3.connect(path)) as con, con:  # a layer written again replaces its default
            con.executemany(f"DELETE FROM {STYLE_TABLE} WHERE f_table_name = ?", [(r["f_table_name"],) for r in rows])
        pyogrio.write_dataframe(table, path, layer=STYLE_TABLE, driver="GPKG", append=True)
    else:
        pyogrio.write_dataframe(table, path, layer=STYLE_TABLE, driver="GPKG", layer_options={"FID": "id"})
    log.debug("%s: default styles for %s", path, ", ".join(r["f_table_name"] for r in rows))


def register_aliases(path: Path, layers: Mapping[str, list[str]], lang: str | None = None) -> None:
    """Field aliases as GDAL alternative names, in `gpkg_data_columns` as GDAL ≥ 3.7 writes them.

    One row per known column: `name` = the alias, `description` = both languages with
    the unit (GDAL's field comment). The schema extension is declared in
    `gpkg_extensions`, as GDAL does. Aliases are unique per table (the GeoPackage
    requires it; `column_labels` sees to it).
    """
    rows = []
    for table, columns in layers.items():
        for column, alias in column_labels(columns, lang).items():
            words = column_words(column, columns)
            comment = None
            if words is not None:
                zh, en, unit = words
                comment = f"{zh} / {en}" + (f" ({unit})" if unit else "")
            rows.append((table, column, alias, comment))
    if not rows:
        return
    with closing(sqlite3.connect(path)) as con, con:
        present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "gpkg_data_columns" not in present:
            con.execute(_DATA_COLUMNS_DDL)
        if "gpkg_data_column_constraints" not in present:
            con.execute(_CONSTRAINTS_DDL)
        if "gpkg_extensions" not in present:
            con.execute(_EXTENSIONS_DDL)
        for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            known = con.execute(
                "SELECT 1 FROM gpkg_extensions WHERE lower(table_name) = ? AND column_name IS NULL "
                "AND extension_name = ?", (table, _SCHEMA_EXTENSION[0])).fetchone()  # fmt: skip
            if not known:
                con.execute(
                    "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
                    "VALUES (?, NULL, ?, ?, ?)", (table, *_SCHEMA_EXTENSION))  # fmt: skip
        con.executemany(
            "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, description, "
            "mime_type, constraint_name) VALUES (?, ?, ?, NULL, ?, NULL, NULL)", rows)  # fmt: skip


# --------------------------------------------------------------------------- the tool's GeoPackages


def allocation_style(alloc: pd.DataFrame, lang: str | None = None) -> Categorized:
    """Townships coloured by chosen industry, legend "中文 English", township names on the map."""
    return Categorized(
        "industry",
        labels=industry_labels(alloc, lang),
        colours=INDUSTRY_COLOURS,
        name="industry",
        description=bilingual("按产业着色", "coloured by chosen industry", lang),
    )


def write_plan_geopackage(path: Path, valid: Any, alloc: pd.DataFrame, summary_rows: pd.DataFrame,
                          counties: pd.DataFrame, towns: pd.DataFrame | None, lang: str | None = None) -> Any:
    """`allocation.gpkg` of a plan of `valid` (a ValidInstance): the planning units' polygons
    (villages of a village instance, with the `townships` layer of `towns`), as `write_geopackage`."""
    geometry, crs = valid.unit_geometry
    if towns is None:
        return write_geopackage(path, alloc, geometry, crs, summary_rows, counties, lang=lang)
    loaded = valid.loaded
    return write_geopackage(path, alloc, geometry, crs, summary_rows, counties, lang=lang,
                            id_column=valid.unit_key, townships=(towns, loaded.geometry, loaded.crs))


def write_geopackage(
    path: Path,
    alloc: pd.DataFrame,
    geometry: Any | None,
    crs: str | None,
    summary_rows: pd.DataFrame,
    counties: pd.DataFrame,
    extra_layers: dict[str, pd.DataFrame] | None = None,
    *,
    lang: str | None = None,
    id_column: str = "township_id",
    townships: tuple[pd.DataFrame, Any | None, str | None] | None = None,
) -> Any:
    """`allocation.gpkg`: the allocation as a polygon layer in the input CRS (styled by
    industry), plus the non-spatial `run_summary` and `county_totals`. Returns the
    allocation layer (for exports).

    A village instance's allocation is per village (`id_column="village_id"`, joined to
    the village polygons), and `townships` (table, geometry, CRS) adds the layer
    `townships`, coloured by leading industry.
    """
    layer = township_layer(alloc, geometry, crs, id_column)
    spatial: dict[str, Any] = {"allocation": layer}
    styles: dict[str, StyleSpec] = {"allocation": allocation_style(alloc, lang)} if geometry is not None else {}
    if townships is not None:
        table, tgeom, tcrs = townships
        spatial["townships"] = township_layer(table, tgeom, tcrs)
        if tgeom is not None:
            styles["townships"] = leading_style(table, lang)
    write_layers(
        path,
        spatial,
        {"run_summary": summary_rows, "county_totals": counties, **(extra_layers or {})},
        styles=styles,
        lang=lang,
    )
    return layer


def leading_style(towns: pd.DataFrame, lang: str | None = None) -> Categorized:
    """Townships of a village instance coloured by leading industry, township names on the map."""
    led = towns[towns["leading_industry"] != ""].rename(columns={
        "leading_industry": "industry", "leading_industry_label": "industry_label",
        "leading_industry_label_zh": "industry_label_zh"})  # fmt: skip
    return Categorized(
        "leading_industry",
        labels=industry_labels(led, lang),
        colours=INDUSTRY_COLOURS,
        name="leading_industry",
        description=bilingual("按主导产业着色", "coloured by leading industry", lang),
    )


def gep_style(lang: str | None = None) -> Graduated:
    """GEP per hectare in five quantile classes, light to dark green."""
    return Graduated("gep_total_yuan_per_ha", classes=5, ramp="YlGn", unit=unit_text("yuan/ha/yr", lang),
                     name="gep_per_ha",
                     description=bilingual("单位面积 GEP（元/公顷/年）", "GEP per ha (yuan/ha/yr)", lang))  # fmt: skip


#: Values of the evaluation layer's `verdict` column, in legend order, with colours.
VERDICTS: dict[str, tuple[str, str, str]] = {
    "breaks_limits": ("违反约束", "breaks a limit", "215,25,28"),
    "county_breaks_limits": ("所在县违反约束", "its county breaks a limit", "244,165,130"),
    "differs_from_optimum": ("与最优方案不同", "differs from the optimum", "254,224,139"),
    "as_optimum": ("与最优方案相同", "as the optimum", "220,220,220"),
    "meets_limits": ("满足约束", "meets every limit", "220,220,220"),
}


def evaluation_style(lang: str | None = None) -> Categorized:
    """Townships that break a limit in red with a heavy outline; those that differ from the optimum in orange."""
    return Categorized(
        "verdict",
        labels={k: bilingual(zh, en, lang) for k, (zh, en, _) in VERDICTS.items()},
        colours={k: c for k, (_, _, c) in VERDICTS.items()},
        emphasis={"breaks_limits", "county_breaks_limits"},
        name="verdict",
        description=bilingual("违反约束的乡镇突出显示", "townships that break a limit highlighted", lang),
    )


#: Value of the comparison layer's `change` column for a township that kept its industry.
UNCHANGED = "unchanged"


def comparison_style(townships: pd.DataFrame, lang: str | None = None) -> Categorized:
    """Every township: unchanged ones light grey for context, changed ones in the colour
    of their new industry with a heavy outline, the legend naming each move."""
    labels = {UNCHANGED: bilingual("未改变", "unchanged", lang)}
    colours = {UNCHANGED: "225,225,225"}
    names_b = industry_labels(townships.rename(columns={"industry_b": "industry", "industry_label_b": "industry_label",
                                                        "industry_label_zh_b": "industry_label_zh"}), "zh")  # fmt: skip
    names_a = industry_labels(townships.rename(columns={"industry_a": "industry", "industry_label_a": "industry_label",
                                                        "industry_label_zh_a": "industry_label_zh"}), "zh")  # fmt: skip
    moves = townships.loc[townships["change"] != UNCHANGED, ["change", "industry_a", "industry_b"]].drop_duplicates()
    for row in moves.sort_values("change").itertuples(index=False):
        zh = f"{names_a.get(row.industry_a, row.industry_a)} → {names_b.get(row.industry_b, row.industry_b)}"
        labels[row.change] = bilingual(zh, row.change, lang)
        colours[row.change] = INDUSTRY_COLOURS.get(row.industry_b, "")
    return Categorized(
        "change",
        labels=labels,
        colours={k: v for k, v in colours.items() if v},
        emphasis=set(labels) - {UNCHANGED},
        name="change",
        description=bilingual("改变产业的乡镇突出显示", "townships that changed industry highlighted", lang),
    )


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


def comparison_layers(runs: tuple[Path, Path], townships: pd.DataFrame, changed_townships: pd.DataFrame,
                      id_column: str = "township_id") -> tuple[Any, Any, str | None]:
    """The comparison's two township layers with the runs' polygons (or as tables), and their geometry type.

    A comparison of village runs joins the village polygons by `id_column="village_id"`.
    """
    import geopandas as gpd
    import pyogrio

    source = _geometry_source(runs)
    if source is None:
        log.info("no township geometry in either run: writing the township layers without geometry")
        return townships.reset_index(drop=True), changed_townships.reset_index(drop=True), None
    gpkg, info = source
    shapes = pyogrio.read_dataframe(gpkg, layer="allocation", columns=[id_column])
    geom = shapes.drop_duplicates(id_column).set_index(id_column).geometry

    def join(df: pd.DataFrame) -> Any:
        df = df.reset_index(drop=True)
        return gpd.GeoDataFrame(df, geometry=geom.reindex(df[id_column]).to_numpy(), crs=shapes.crs)

    return join(townships), join(changed_townships), info["geometry_type"]


def write_comparison_gpkg(
    path: Path,
    runs: tuple[Path, Path],
    changed_townships: pd.DataFrame,
    per_county: pd.DataFrame,
    totals: pd.DataFrame,
    townships: pd.DataFrame | None = None,
    *,
    lang: str | None = None,
    id_column: str = "township_id",
) -> Any:
    """`compare`'s GeoPackage: layer `townships` (every township, the changed ones
    highlighted; the default map), `changed_townships` (only those), both with the first
    run's polygons, and the tables `county_changes`, `total_changes`. Returns the
    `townships` layer (for exports)."""
    spatial: dict[str, Any] = {}
    styles: dict[str, StyleSpec] = {}
    gtypes: dict[str, str] = {}
    everyone = None
    if townships is not None:
        everyone, changed, gtype = comparison_layers(runs, townships, changed_townships, id_column)
        spatial["townships"] = everyone
        if gtype:
            styles["townships"] = comparison_style(townships, lang)
            gtypes["townships"] = gtype
    else:
        _, changed, gtype = comparison_layers(runs, changed_townships, changed_townships, id_column)
    spatial["changed_townships"] = changed
    if gtype:
        # Keep the source's geometry type, so an empty layer (no change) still opens as polygons.
        gtypes["changed_townships"] = gtype
    write_layers(path, spatial, {"county_changes": per_county, "total_changes": totals},
                 styles=styles, lang=lang, geometry_types=gtypes)  # fmt: skip
    return everyone

