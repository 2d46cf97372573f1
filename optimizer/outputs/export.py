"""Copies of a result layer for other GIS: Shapefile (with .cpg and a field list) and GeoJSON.

Why: planners on ArcGIS or older tools ask for Shapefiles, web maps for GeoJSON. The
GeoPackage stays the reference file (always written, styled, with aliases); an export is
the same features in another format, written through pyogrio (GDAL), never by hand.

Shapefile limits, and how they are met:
- Field names have at most 10 characters: `shapefile_field_names` shortens them by a
  fixed rule (words abbreviated from one table, then cut, then numbered on a clash), so
  the same column always gets the same field name; `<stem>_fields.csv` beside the
  Shapefile lists field → column → Chinese and English name and unit.
- Text encoding: written as UTF-8 with a `.cpg` file naming it (pyogrio sets GDAL's
  ENCODING option), so 富川 stays 富川 in ArcGIS and QGIS.
- A table without geometry becomes a lone `.dbf` (what GDAL writes).

GeoJSON is written per RFC 7946 (GDAL's RFC7946=YES): coordinates in WGS 84 lon/lat,
as web maps expect, whatever the input CRS.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.outputs.labels import column_words

log = logging.getLogger(__name__)

#: Formats `--export` accepts. `gpkg` is always written; naming it changes nothing.
FORMATS = ("gpkg", "shp", "geojson")

#: Word abbreviations used to shorten Shapefile field names (in this order of preference).
ABBREVIATIONS: dict[str, str] = {
    "township": "twp", "industry": "ind", "label": "lbl", "output": "out", "amount": "amt",
    "water": "wat", "use": "use", "capacity": "cap", "investment": "inv", "revenue": "rev",
    "operating": "op", "cost": "cost", "value": "val", "added": "add", "farmer": "farm",
    "income": "inc", "material": "mat", "regulating": "reg", "cultural": "cul", "total": "tot",
    "baseline": "base", "change": "chg", "delta": "d", "yuan": "", "per": "p", "land": "land",
    "optimum": "opt", "differs": "diff", "from": "", "left": "left", "on": "", "the": "",
    "table": "tbl", "violations": "viol", "locked": "lock", "county": "cnty", "capita": "cap",
    "objective": "obj", "contribution": "contr", "conservation": "cons", "verdict": "verdict",
    "changed": "chgd", "townships": "twps", "weighted": "w", "instance": "inst", "price": "prc",
    "unit": "unit", "quantity": "qty", "service": "svc", "category": "cat", "basis": "basis",
    "description": "desc", "message": "msg", "constraint": "cons", "excess": "exc",
}  # fmt: skip

MAX_FIELD = 10


def parse_formats(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """`"gpkg,shp,geojson"` → ("shp", "geojson"): the extra formats, in a fixed order.

    Raises ValueError naming the unknown ones (the CLI turns it into a plain message).
    """
    if text is None:
        return ()
    items = [t.strip().lower().lstrip(".") for t in (text.split(",") if isinstance(text, str) else text)]
    items = ["shp" if t in ("shapefile", "esri shapefile") else "geojson" if t == "json" else t for t in items if t]
    unknown = [t for t in items if t not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}: use {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in items and f != "gpkg")


@dataclass(frozen=True)
class OutputOptions:
    """How a command writes its files: the language of labels and the extra export formats.

    `lang`: None → labels in both languages "中文 (English)"; "zh" or "en" → one.
    `export`: extra formats of the main layer, from `parse_formats` ("shp", "geojson").
    `deliverables`: also write allocation.xlsx and report.html (time permitting). Batch
    points (sweep, robust, frontier, value) leave them out: at 5,000 townships the two
    took 6.4 s of a 12 s point, and `optimizer report POINT --xlsx` writes them later.
    """

    lang: str | None = None
    export: tuple[str, ...] = ()
    deliverables: bool = True


def _shorten(column: str) -> str:
    column = re.sub(r"[^0-9A-Za-z_]", "_", column)
    if len(column) <= MAX_FIELD:
        return column
    words = [w for w in column.split("_") if w]
    short = [ABBREVIATIONS.get(w.lower(), w) for w in words]
    short = [w for w in short if w]
    joined = "_".join(short)
    if len(joined) > MAX_FIELD:
        joined = "".join(short)
    return joined[:MAX_FIELD] or column[:MAX_FIELD]


def shapefile_field_names(columns: Iterable[str]) -> dict[str, str]:
    """Column → a unique field name of ≤ 10 characters, the same for the same columns.

    Names of ≤ 10 characters are kept; longer ones have their words abbreviated
    (ABBREVIATIONS; units such as "yuan" dropped, they are in the field list), joined,
    and cut to 10; a clash (case-insensitive, as in DBF) is numbered: the later column
    gets its name cut to make room for 1, 2, … in column order.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = _shorten(str(column))
        if name.lower() in taken:
            k = 1
            while f"{name[: MAX_FIELD - len(str(k))]}{k}".lower() in taken:
                k += 1
            name = f"{name[: MAX_FIELD - len(str(k))]}{k}"
        taken.add(name.lower())
        out[str(column)] = name
    return out


def field_table(names: dict[str, str]) -> pd.DataFrame:
    """The Shapefile's field list: field, column, Chinese and English name, unit."""
    rows = []
    for column, field in names.items():
        words = column_words(column, names) or ("", "", "")
        rows.append({"field": field, "column": column, "label_zh": words[0], "label_en": words[1], "unit": words[2]})
    return pd.DataFrame(rows, columns=["field", "column", "label_zh", "label_en", "unit"])


def export_layer(folder: Path, stem: str, layer: Any, formats: Iterable[str]) -> list[Path]:
    """Write `layer` as `<stem>.shp` (+ .dbf .shx .prj .cpg and `<stem>_fields.csv`) and/or
    `<stem>.geojson` in `folder`; return the files written."""
    import pyogrio

    from optimizer.outputs.write import write_csv

    written: list[Path] = []
    geometry = getattr(layer, "_geometry_column_name", None)
    columns = [c for c in layer.columns if c != geometry]
    for fmt in formats:
        if fmt == "shp":
            names = shapefile_field_names(columns)
            target = folder / f"{stem}.shp"
            frame = layer.rename(columns=names)
            before = set(folder.iterdir())
            pyogrio.write_dataframe(frame, target, driver="ESRI Shapefile", encoding="UTF-8")
            table = folder / f"{stem}_fields.csv"
            write_csv(table, field_table(names))
            written += sorted(set(folder.iterdir()) - before)
            if geometry is None:
                log.info("%s has no geometry: the Shapefile export is %s.dbf alone", stem, stem)
        elif fmt == "geojson":
            target = folder / f"{stem}.geojson"
            options = {"RFC7946": "YES"} if geometry is not None else {}
            pyogrio.write_dataframe(layer, target, driver="GeoJSON", layer_options=options)
            written.append(target)
        elif fmt != "gpkg":
            raise ValueError(f"unknown export format {fmt!r}")
    return written
