"""QGIS layer styles (QML) for the layers the tool writes: categorised or graduated, with aliases.

Why QML inside the GeoPackage: QGIS applies the style a GeoPackage marks as default
(`layer_styles`, useAsDefault) the moment a planner opens the layer, so the map is read
the way it was meant — industries in their colours, GEP per hectare in classes — instead
of one flat colour. The same QML carries the field aliases (`<aliases>`), which is the
only place QGIS 3.22 (Debian 12, many offices) reads them from a GeoPackage; newer QGIS
also reads the GDAL alternative names that `optimizer.outputs.gpkg` writes.

A style is described by a small spec, `Categorized` or `Graduated` (see their
docstrings); `layer_qml` turns a spec and the layer's data into QML. The XML is built
with `xml.etree.ElementTree` (escaping included); colours come from matplotlib's
colour maps. Nothing here touches files.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

#: QML version written: the oldest QGIS the styles are tested with (Debian 12's 3.22).
QML_VERSION = "3.22.0"

#: Industry colours, so that an industry has the same colour on every map.
INDUSTRY_COLOURS: dict[str, str] = {
    "apple": "214,39,40", "citrus": "255,127,14", "agro_pv": "31,119,180",
    "conservation": "44,160,44", "maize_sweet_potato": "188,189,34",
}  # fmt: skip

_OUTLINE = "60,60,60"
_EMPHASIS_OUTLINE = "0,0,0"


@dataclass(frozen=True)
class Categorized:
    """Colour features by the value of one text column (a QGIS "categorized" renderer).

    - `column`: the column whose values are the categories (ids, not words: e.g. `industry`).
    - `labels`: value → legend text, already in the language wanted (values not listed
      show as themselves). Its order is the legend's order; values not in it follow, sorted.
    - `colours`: value → "r,g,b"; values without one get matplotlib's `tab10` colours.
    - `emphasis`: values drawn with a heavy black outline (changed townships, violations).
    - `label_field`: column written on the map (township names), or None for no labels.
    - `name` / `description`: the style's name and description in QGIS's style manager.
    """

    column: str
    labels: Mapping[str, str] = field(default_factory=dict)
    colours: Mapping[str, str] = field(default_factory=dict)
    emphasis: Collection[str] = ()
    label_field: str | None = "name"
    name: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Graduated:
    """Colour features by classes of one numeric column (a QGIS "graduated" renderer).

    - `column`: the numeric column, e.g. `gep_total_yuan_per_ha`.
    - `classes`: number of classes (fewer when the data have fewer distinct values);
      breaks are quantiles of the finite values, so each class holds about as many
      townships, and are shown rounded in the legend.
    - `ramp`: a matplotlib colour map name (`YlGn`, `Blues`, `RdYlGn`, …).
    - `unit`: written after each class in the legend ("17,621 – 20,645 yuan/ha/yr").
    - `label_field`, `name`, `description`: as for `Categorized`.
    """

    column: str
    classes: int = 5
    ramp: str = "YlGn"
    unit: str = ""
    label_field: str | None = "name"
    name: str | None = None
    description: str = ""


StyleSpec = Categorized | Graduated


def _rgb(colour: Any) -> str:
    r, g, b = (round(255 * float(c)) for c in colour[:3])
    return f"{r},{g},{b}"


def palette(n: int, name: str = "tab10") -> list[str]:
    """n colours "r,g,b" from a matplotlib colour map (qualitative maps cycle)."""
    from matplotlib import colormaps

    cmap = colormaps[name]
    if getattr(cmap, "N", 256) < 256:  # qualitative (ListedColormap): take its colours in turn
        return [_rgb(cmap(i % cmap.N)) for i in range(n)]
    if n == 1:
        return [_rgb(cmap(0.65))]
    return [_rgb(cmap(0.15 + 0.8 * i / (n - 1))) for i in range(n)]


def symbol_kind(geometry_type: str | None) -> str | None:
    """QGIS symbol type for a layer's geometry type: fill, marker, line, or None (a table)."""
    if not geometry_type:
        return None
    g = geometry_type.lower()
    if "polygon" in g or "surface" in g:
        return "fill"
    if "point" in g:
        return "marker"
    if "line" in g or "curve" in g:
        return "line"
    return "fill"


def _symbol(parent: ET.Element, name: str, kind: str, colour: str, emphasis: bool = False) -> None:
    sym = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="0.85" if kind == "fill" else "1",
                        clip_to_extent="1", force_rhr="0")  # fmt: skip
    cls = {"fill": "SimpleFill", "marker": "SimpleMarker", "line": "SimpleLine"}[kind]
    layer = ET.SubElement(sym, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    opts = ET.SubElement(layer, "Option", type="Map")
    outline = _EMPHASIS_OUTLINE if emphasis else _OUTLINE
    width = "0.8" if emphasis else "0.26"
    if kind == "fill":
        props = {"color": f"{colour},255", "style": "solid", "outline_color": f"{outline},255",
                 "outline_style": "solid", "outline_width": width, "outline_width_unit": "MM"}  # fmt: skip
    elif kind == "marker":
        props = {"color": f"{colour},255", "name": "circle", "size": "3.2" if emphasis else "2.4",
                 "size_unit": "MM", "outline_color": f"{outline},255", "outline_width": width,
                 "outline_width_unit": "MM", "outline_style": "solid"}  # fmt: skip
    else:
        props = {"line_color": f"{colour},255", "line_width": "1.2" if emphasis else "0.6",
                 "line_width_unit": "MM", "line_style": "solid"}  # fmt: skip
    for key, value in props.items():
        ET.SubElement(opts, "Option", name=key, type="QString", value=value)


def _categorized(root: ET.Element, spec: Categorized, values: pd.Series, kind: str) -> None:
    present = sorted({str(v) for v in values.dropna()})
    ordered = [v for v in spec.labels if v in present] + [v for v in present if v not in spec.labels]
    renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=spec.column,
                             symbollevels="0", enableorderby="0", forceraster="0")  # fmt: skip
    cats = ET.SubElement(renderer, "categories")
    syms = ET.SubElement(renderer, "symbols")
    missing = [v for v in ordered if not spec.colours.get(v)]
    fallback = dict(zip(missing, palette(len(missing)))) if missing else {}  # matplotlib only when needed
    for n, value in enumerate(ordered):
        colour = spec.colours.get(value) or fallback[value]
        ET.SubElement(cats, "category", value=value, symbol=str(n), label=spec.labels.get(value, value), render="true")
        _symbol(syms, str(n), kind, colour, emphasis=value in spec.emphasis)


def class_breaks(values: pd.Series, classes: int) -> list[float]:
    """Quantile breaks (classes + 1 edges, ascending, distinct) of the finite values."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return []
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, max(1, classes) + 1)))
    if edges.size == 1:
        return [float(edges[0]), float(edges[0])]
    return [float(e) for e in edges]


def _fmt(x: float) -> str:
    """A break as a planner reads it: thousands separated, a few significant digits."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:,.{digits}f}"


def _graduated(root: ET.Element, spec: Graduated, values: pd.Series, kind: str) -> None:
    edges = class_breaks(values, spec.classes)
    renderer = ET.SubElement(root, "renderer-v2", type="graduatedSymbol", attr=spec.column,
                             graduatedMethod="GraduatedColor", symbollevels="0", enableorderby="0",
                             forceraster="0")  # fmt: skip
    ranges = ET.SubElement(renderer, "ranges")
    syms = ET.SubElement(renderer, "symbols")
    pairs = list(pairwise(edges))
    colours = palette(len(pairs), spec.ramp) if pairs else []
    for n, ((lo, hi), colour) in enumerate(zip(pairs, colours)):
        ET.SubElement(ranges, "range", lower=repr(lo), upper=repr(hi), symbol=str(n),
                      label=f"{_fmt(lo)} – {_fmt(hi)}" + (f" {spec.unit}" if spec.unit else ""),
                      render="true")  # fmt: skip
        _symbol(syms, str(n), kind, colour)
    ET.SubElement(renderer, "mode", name="quantile")


def _labeling(root: ET.Element, column: str, kind: str) -> None:
    labeling = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    ET.SubElement(settings, "text-style", fieldName=column, isExpression="0", fontSize="8", fontSizeUnit="Point",
                  textColor="20,20,20,255", textOpacity="1", fontWeight="50")  # fmt: skip
    ET.SubElement(settings, "text-buffer", bufferDraw="1", bufferSize="0.7", bufferSizeUnits="MM",
                  bufferColor="255,255,255,255", bufferOpacity="0.8")  # fmt: skip
    # Polygons: over the centroid (QgsPalLayerSettings.OverPoint = 1); points: around (0).
    ET.SubElement(settings, "placement", placement="1" if kind == "fill" else "0")
    ET.SubElement(settings, "rendering", obstacle="1", displayAll="0", drawLabels="1")


def layer_qml(
    spec: StyleSpec | None,
    data: pd.DataFrame,
    geometry_type: str | None,
    aliases: Mapping[str, str],
) -> str:
    """The QML of one layer: its renderer (if `spec` and the layer has geometry), map
    labels, and field aliases. A table gets an aliases-only style, so that QGIS shows
    its attribute table in words too.
    """
    kind = symbol_kind(geometry_type)
    root = ET.Element("qgis", version=QML_VERSION, styleCategories="AllStyleCategories")
    if spec is not None and kind is not None:
        if spec.column not in data.columns:
            raise ValueError(f"style column '{spec.column}' is not a column of the layer")
        if isinstance(spec, Categorized):
            _categorized(root, spec, data[spec.column], kind)
        else:
            _graduated(root, spec, data[spec.column], kind)
        if spec.label_field and spec.label_field in data.columns:
            root.set("labelsEnabled", "1")
            _labeling(root, spec.label_field, kind)
    if aliases:
        node = ET.SubElement(root, "aliases")
        for column, alias in aliases.items():
            ET.SubElement(node, "alias", field=column, name=alias)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")
