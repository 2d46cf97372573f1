"""Maps and charts for the HTML report, drawn with matplotlib and returned as inline SVG.

Why SVG inline: the report must be one file that opens offline, with nothing fetched,
and print sharply. Text is drawn as outlines (matplotlib's `svg.fonttype: path`), so
Chinese township names look the same on a machine without Chinese fonts; each
township's shape is its own SVG group with a `<title>` (its name, industry and figures),
which browsers show on hover and screen readers read out.

Why matplotlib's object API (`Figure`, never `pyplot`): no global figure state, so a
Dask worker or a test can draw while another figure is open, and no GUI backend is
ever touched.

Library code: logs (a missing Chinese font once), never prints.
"""

from __future__ import annotations

import html
import io
import logging
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.i18n import _

log = logging.getLogger(__name__)

#: Font families tried for Chinese text, in order (Noto from Debian's fonts-noto-cjk first).
CJK_FONTS = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Noto Sans CJK JP",
)  # fmt: skip
_CJK_FILE_HINTS = ("cjk", "wqy", "sourcehan", "msyh", "simhei", "pingfang", "notosanssc")

#: Above this many townships a map is drawn as one raster layer (a PNG inside the SVG):
#: 20,000 vector outlines make a 30 MB page that browsers scroll slowly.
VECTOR_MAX = 1500
#: Above this many townships in one panel, names are left off (they would overlap).
LABEL_MAX = 120
#: At most this many regional panels; more scattered counties get one map.
MAX_PANELS = 6

#: Industry colours, the same as the GeoPackage's QGIS style (optimizer/outputs/gpkg.py).
INDUSTRY_COLOURS = {
    "apple": "#d62728", "citrus": "#ff7f0e", "agro_pv": "#1f77b4",
    "conservation": "#2ca02c", "maize_sweet_potato": "#bcbd22",
}  # fmt: skip
_PALETTE = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
BASELINE_COLOUR = "#b0b0b0"
PLAN_COLOUR = "#2b7a78"


def industry_colours(industries: Sequence[str]) -> dict[str, str]:
    """A colour per industry id: fixed for the shipped industries, a palette for the rest."""
    out: dict[str, str] = {}
    extra = 0
    for ind in sorted(set(industries)):
        if ind in INDUSTRY_COLOURS:
            out[ind] = INDUSTRY_COLOURS[ind]
        else:
            out[ind] = _PALETTE[extra % len(_PALETTE)]
            extra += 1
    return out


# --------------------------------------------------------------------------- fonts and SVG


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font family that draws Chinese, or None (logged once).

    matplotlib caches the font list the first time it runs; fonts installed later
    (`apt-get install fonts-noto-cjk`) are then invisible to it, so the system font
    folders are searched for CJK files and added before giving up.
    """
    from matplotlib import font_manager

    def pick() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in CJK_FONTS if n in names), None)

    found = pick()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(h in Path(path).name.lower() for h in _CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # an unreadable font file: skip it
                    continue
        found = pick()
    if found is None:
        log.warning("no Chinese font found for the report's maps and charts (install fonts-noto-cjk); "
                    "Chinese names are drawn as empty boxes")  # fmt: skip
    else:
        log.debug("report charts use the font %s", found)
    return found


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    font = cjk_font()
    rc = {
        "font.family": "sans-serif",
        "font.sans-serif": [*([font] if font else []), "DejaVu Sans"],
        "font.size": 9,
        "svg.fonttype": "path",  # glyphs as outlines: Chinese renders without fonts on the reader's side
        "svg.hashsalt": "karst-report",  # stable ids, so the same run gives the same file
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "legend.frameon": False,
    }
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        if font is None:  # already logged once; matplotlib would warn per glyph
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
        yield


def svg_of(fig: Any, prefix: str, titles: dict[str, str] | None = None) -> str:
    """The figure as an `<svg>` element to inline in HTML.

    Ids get `prefix` so that several figures on one page never share one (matplotlib
    names its clip paths and glyphs alike in every file); `titles` maps an artist's gid
    to the hover text of its group.
    """
    buf = io.StringIO()
    # Layouts are set by hand: bbox_inches="tight" or tight_layout would draw every figure
    # twice more, and a 60-township chart costs seconds per pass.
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    for gid, title in (titles or {}).items():
        text = text.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{html.escape(title)}</title>', 1)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m[1]}"', text)
    text = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m[1]}="#{prefix}-{m[2]}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m[1]})", text)
    head_end = text.index(">")
    head = text[:head_end]
    width = re.search(r'\bwidth="([\d.]+)pt"', head)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    style = f' class="figure" style="max-width:{float(width[1]) * 4 / 3:.0f}px"' if width else ' class="figure"'
    return head + style + text[head_end:]


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


# --------------------------------------------------------------------------- maps


@dataclass
class MapData:
    """What a township map shows: shapes, counties, colours, names and hover texts (aligned)."""

    geometry: Sequence[Any]  # shapely geometries (None where missing)
    counties: Sequence[str]
    names: Sequence[str]
    colours: Sequence[str]
    titles: Sequence[str]
    geographic: bool
    legend: list[tuple[str, str]] = field(default_factory=list)  # (label, colour)
    emphasis: Sequence[bool] | None = None  # drawn with a thick dark outline
    emphasis_label: str | None = None
    colorbar: tuple[Any, Any, str] | None = None  # (colormap, norm, label) for graduated maps


def polygon_paths(geoms: np.ndarray) -> list[Any]:
    """A matplotlib Path per (Multi)Polygon, holes included (None for missing or other geometry).

    Vectorised through shapely (parts → rings → coordinates): a region-scale map has
    20,000 townships, and a Python loop over their rings costs seconds.
    """
    import shapely
    from matplotlib.path import Path as MPath

    out: list[Any] = [None] * len(geoms)
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3  # Polygon parts only
    parts, part_owner = parts[keep], part_owner[keep]
    if not len(parts):
        return out
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return out
    starts = np.flatnonzero(np.r_[True, np.diff(coord_ring) != 0])
    ends = np.r_[starts[1:] - 1, len(coords) - 1]
    codes = np.full(len(coords), MPath.LINETO, dtype=MPath.code_type)
    codes[starts] = MPath.MOVETO
    codes[ends] = MPath.CLOSEPOLY
    owner = part_owner[ring_part][coord_ring]
    cuts = np.flatnonzero(np.diff(owner) != 0) + 1
    for xy, cd, who in zip(np.split(coords, cuts), np.split(codes, cuts), owner[np.r_[0, cuts]]):
        out[int(who)] = MPath(xy, cd)
    return out


def map_regions(geometry: Sequence[Any], counties: Sequence[str]) -> list[np.ndarray]:
    """Townships grouped into regions that are far apart (one map panel each).

    An instance such as karst3 joins counties hundreds of kilometres apart; one map of
    all of them is mostly empty space with three specks. Counties whose bounding boxes
    lie within one typical county size of each other (single linkage) form a region;
    the map is split only when the regions' boxes cover less than a quarter of the whole
    extent. Returns township positions per region (one region: no split).
    """
    import pandas as pd
    import shapely

    geoms = np.asarray(geometry, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    everyone = [np.flatnonzero(present)]
    if present.sum() < 2:
        return everyone
    bounds = shapely.bounds(geoms)
    county_arr = np.asarray([str(c) for c in counties], dtype=object)
    frame = pd.DataFrame(bounds[present], columns=["x0", "y0", "x1", "y1"])
    frame["county"] = county_arr[present]
    box = frame.groupby("county", sort=True).agg(x0=("x0", "min"), y0=("y0", "min"), x1=("x1", "max"),
                                                  y1=("y1", "max"))  # fmt: skip
    names = box.index.tolist()
    if len(names) < 2:
        return everyone
    x0, y0, x1, y1 = (box[c].to_numpy() for c in ("x0", "y0", "x1", "y1"))
    size = float(np.median(np.hypot(x1 - x0, y1 - y0))) or 1.0
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Sweep from west to east, comparing each county only with those still within reach.
    active: list[int] = []
    for i in np.argsort(x0, kind="stable").tolist():
        active = [j for j in active if x1[j] + size >= x0[i]]
        if active:
            a = np.asarray(active)
            gap = np.hypot(np.maximum(0.0, np.maximum(x0[a], x0[i]) - np.minimum(x1[a], x1[i])),
                           np.maximum(0.0, np.maximum(y0[a], y0[i]) - np.minimum(y1[a], y1[i])))  # fmt: skip
            for j in a[gap <= size].tolist():
                parent[root(j)] = root(i)
        active.append(i)
    boxes = {c: (x0[k], y0[k], x1[k], y1[k]) for k, c in enumerate(names)}
    groups: dict[int, list[str]] = {}
    for k, c in enumerate(names):
        groups.setdefault(root(k), []).append(c)
    if not 2 <= len(groups) <= MAX_PANELS:
        return everyone

    def area(cs: list[str]) -> float:
        b = np.array([boxes[c] for c in cs])
        return max(b[:, 2].max() - b[:, 0].min(), size * 0.1) * max(b[:, 3].max() - b[:, 1].min(), size * 0.1)

    whole = area(names)
    if sum(area(cs) for cs in groups.values()) >= 0.25 * whole:
        return everyone
    regions = [np.flatnonzero(present & np.isin(county_arr, cs)) for cs in groups.values()]
    # West to east, as a reader scans a map.
    return sorted(regions, key=lambda idx: float(np.nanmin(bounds[idx, 0])))


def township_map(data: MapData, prefix: str = "map", compact: bool = False) -> str:
    """A map of the townships as inline SVG: one panel, or an overview and one panel per region.

    `compact`: a small map without names or legend, for small multiples (one per sweep point).
    """
    import shapely
    from matplotlib.patches import Patch, Rectangle

    geoms = np.asarray(data.geometry, dtype=object)
    n = len(geoms)
    regions = map_regions(geoms, data.counties)
    present = np.concatenate(regions) if regions else np.array([], dtype=int)
    if not len(present):
        return ""
    is_points = all(getattr(geoms[k], "geom_type", "") in ("Point", "MultiPoint") for k in present)
    paths = {} if is_points else dict(enumerate(polygon_paths(geoms)))
    vector = n <= VECTOR_MAX
    emphasis = np.asarray(data.emphasis if data.emphasis is not None else np.zeros(n, bool), dtype=bool)
    all_bounds = np.asarray(shapely.bounds([geoms[k] for k in present]))
    lat = float(np.mean(all_bounds[:, [1, 3]])) if data.geographic else 0.0
    aspect = 1.0 / max(0.2, math.cos(math.radians(lat))) if data.geographic else 1.0
    split = len(regions) > 1
    titles: dict[str, str] = {}

    entries = [] if compact else [label for label, _c in data.legend] + (
        [data.emphasis_label] if data.emphasis_label and emphasis.any() else [])
    with _style():
        if split:
            # Regional panels two by two; the overview (a small locator) takes the empty cell when
            # there is one, else a strip across the top. The legend goes below.
            k = len(regions)
            cols = 2
            in_cell = k % cols == 1
            rows = math.ceil((k + 1) / cols) if in_cell else k // cols
            legend_in = 0.22 * math.ceil(len(entries) / legend_columns(entries, 8.6)) + 0.1 if entries else 0.0
            strip = 0.0 if in_cell else 0.45
            scale = 0.5 if compact else 1.0
            height = 4.2 * scale * (rows + strip) + legend_in + 0.4
            fig = _new_figure(9.0 * scale, height)
            grid = fig.add_gridspec(rows + (0 if in_cell else 1), cols,
                                    height_ratios=[1.0] * rows if in_cell else [strip] + [1.0] * rows,
                                    left=0.01, right=0.99, top=1 - 0.3 / height, bottom=(legend_in + 0.05) / height,
                                    hspace=0.14, wspace=0.04)  # fmt: skip
            first = 0 if in_cell else 1
            panels = [fig.add_subplot(grid[first + i // cols, i % cols]) for i in range(k)]
            overview_ax = fig.add_subplot(grid[rows - 1, cols - 1]) if in_cell else fig.add_subplot(grid[0, :])
            axes = [overview_ax, *panels]
        else:
            b = all_bounds
            w = (b[:, 2].max() - b[:, 0].min()) or 1.0
            h = ((b[:, 3].max() - b[:, 1].min()) or 1.0) * aspect
            width = 4.0 if compact else 8.0
            legend_rows = math.ceil(len(entries) / legend_columns(entries, width - 0.4)) if entries else 0
            map_h = float(np.clip(width * h / w, 0.45 * width, 0.95 * width))
            fig = _new_figure(width, map_h + 0.22 * legend_rows + 0.1)
            fig.subplots_adjust(left=0.01, right=0.99 if data.colorbar is None else 0.8, top=0.99,
                                bottom=(0.22 * legend_rows + 0.1) / (map_h + 0.22 * legend_rows + 0.1))  # fmt: skip
            axes = [fig.add_subplot(1, 1, 1)]

        def draw(ax: Any, idx: np.ndarray, labels: bool, gids: bool) -> None:
            if is_points:
                xy = np.array([[geoms[k].centroid.x, geoms[k].centroid.y] for k in idx])
                ax.scatter(xy[:, 0], xy[:, 1], c=[data.colours[k] for k in idx], s=30 if len(idx) < 500 else 4,
                           edgecolors=["#111" if emphasis[k] else "none" for k in idx], linewidths=1.2)  # fmt: skip
            elif vector:
                from matplotlib.patches import PathPatch

                for k in idx:
                    p = paths.get(int(k))
                    if p is None:
                        continue
                    patch = PathPatch(p, facecolor=data.colours[k], edgecolor="#222" if emphasis[k] else "#555",
                                      linewidth=1.8 if emphasis[k] else 0.4, alpha=0.9)  # fmt: skip
                    if gids:
                        gid = f"township-{k}"
                        patch.set_gid(gid)
                        titles[gid] = data.titles[k]
                    ax.add_patch(patch)
            else:
                from matplotlib.collections import PathCollection

                keep = [k for k in idx if paths.get(int(k)) is not None]
                coll = PathCollection([paths[int(k)] for k in keep], facecolors=[data.colours[k] for k in keep],
                                      edgecolors=["#222" if emphasis[k] else "none" for k in keep],
                                      linewidths=[1.0 if emphasis[k] else 0.0 for k in keep], rasterized=True)  # fmt: skip
                ax.add_collection(coll)
            b = np.asarray(shapely.bounds([geoms[k] for k in idx]))
            x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
            pad = 0.03 * max(x1 - x0, (y1 - y0), 1e-9)
            ax.set_xlim(x0 - pad, x1 + pad)
            ax.set_ylim(y0 - pad, y1 + pad)
            ax.set_aspect(aspect)
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if labels and len(idx) <= LABEL_MAX:
                _label_townships(ax, fig, idx, geoms, data.names, is_points, aspect,
                                 (x1 - x0 + 2 * pad, (y1 - y0 + 2 * pad) * aspect))  # fmt: skip

        if split:
            overview = axes[0]
            draw(overview, present, labels=False, gids=False)
            if not compact:
                overview.set_title(_("Overview: the regions of this instance"))
            for r, idx in enumerate(regions, start=1):
                b = np.asarray(shapely.bounds([geoms[k] for k in idx]))
                x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
                overview.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#333",
                                             linewidth=0.8, linestyle="--"))  # fmt: skip
                overview.annotate(str(r), (x0, y1), fontsize=11, fontweight="bold", xytext=(-3, 3),
                                  textcoords="offset points", ha="right", va="bottom")  # fmt: skip
                ax = axes[r]
                draw(ax, idx, labels=not compact, gids=True)
                names = sorted({str(data.counties[k]) for k in idx})
                shown = ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
                ax.set_title(str(r) if compact else f"{r} · {shown}")
        else:
            draw(axes[0], present, labels=not compact, gids=True)

        handles = [] if compact else [Patch(facecolor=c, edgecolor="#555", linewidth=0.4, label=label)
                                      for label, c in data.legend]  # fmt: skip
        if data.emphasis_label and emphasis.any() and not compact:
            handles.append(Patch(facecolor="white", edgecolor="#222", linewidth=1.8, label=data.emphasis_label))
        if handles:  # in the room left below the map
            ncol = legend_columns([h.get_label() for h in handles], fig.get_size_inches()[0] - 0.4)
            fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, bbox_to_anchor=(0.5, 0.0))
        if data.colorbar is not None:
            from matplotlib.cm import ScalarMappable

            cmap, norm, label = data.colorbar
            from matplotlib.ticker import StrMethodFormatter

            cax = fig.add_axes((0.82, 0.25, 0.02, 0.5))
            cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, format=StrMethodFormatter("{x:,.0f}"))
            cb.set_label(label)
        return svg_of(fig, prefix, titles)


def _label_width_em(text: str) -> float:
    """Width of a label in ems: CJK characters are square, Latin ones about half as wide."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.58 for ch in text) or 1.0


def _label_townships(ax: Any, fig: Any, idx: np.ndarray, geoms: np.ndarray, names: Sequence[str],
                     is_points: bool, aspect: float, extent: tuple[float, float]) -> None:  # fmt: skip
    """Township names at a point inside each shape, shrunk to fit it (left off below 4 pt)."""
    import matplotlib.patheffects as pe

    pos = ax.get_position()
    fw, fh = fig.get_size_inches()
    # points per x data unit on the page (set_aspect shrinks one side of the box to fit)
    scale = min(pos.width * fw * 72 / extent[0], pos.height * fh * 72 / extent[1])
    base = float(np.clip(12.0 - len(idx) / 8.0, 6.0, 11.0))
    for k in idx:
        g = geoms[k]
        text = str(names[k])
        if is_points:
            size = base * 0.8
        else:
            x0, _y0, x1, _y1 = g.bounds
            size = min(base, 0.8 * (x1 - x0) * scale / _label_width_em(text))
            if size < 4.0:
                continue
        pt = g.centroid if is_points else g.representative_point()
        ax.annotate(text, (pt.x, pt.y), ha="center", va="center", fontsize=size, color="#111",
                    xytext=(0, 6) if is_points else (0, 0), textcoords="offset points",
                    path_effects=[pe.withStroke(linewidth=2.0, foreground="white")])  # fmt: skip


# --------------------------------------------------------------------------- charts


def legend_columns(labels: Sequence[str], width_in: float, size: float = 8.0, most: int = 4) -> int:
    """How many legend columns fit across `width_in` inches (entries estimated, not drawn)."""
    if not labels:
        return 1
    entry = max(_label_width_em(str(t)) for t in labels) * size / 72.0 + 0.45  # swatch and gap
    return int(np.clip(width_in // entry, 1, min(most, len(labels))))


def _margin_in(labels: Sequence[str], size: float = 9.0) -> float:
    """Inches a column of labels needs at `size` points (estimated, without drawing)."""
    return max((_label_width_em(str(t)) for t in labels), default=1.0) * size / 72.0 + 0.12


def paired_bars(
    labels: Sequence[str],
    panels: Sequence[tuple[str, Sequence[float], Sequence[float] | None]],
    colours: Sequence[str] | None,
    unit: str,
    prefix: str,
    plan_label: str | None = None,
    baseline_label: str | None = None,
    legend: list[tuple[str, str]] | None = None,
) -> str:
    """Horizontal bars per row (township, county, category): the plan beside the baseline.

    `panels` are (title, plan values, baseline values or None), drawn side by side on
    a shared row axis. Values are in `unit` already (e.g. million yuan/yr).
    """
    from matplotlib.patches import Patch

    rows = len(labels)
    handles = [Patch(facecolor=c, label=label) for label, c in (legend or [])]
    if plan_label and not legend:
        handles.append(Patch(facecolor=PLAN_COLOUR, label=plan_label))
    if baseline_label and any(p[2] is not None for p in panels):
        handles.append(Patch(facecolor=BASELINE_COLOUR, label=baseline_label))
    ncol = legend_columns([h.get_label() for h in handles], 8.6)
    legend_in = 0.2 * math.ceil(len(handles) / ncol) + 0.1 if handles else 0.0
    top_in, bottom_in = legend_in + 0.3, 0.45
    height = 0.22 * rows + 0.2 + top_in + bottom_in
    width = 9.0
    with _style():
        fig = _new_figure(width, height)
        left = min(0.45, _margin_in(labels) / width)
        fig.subplots_adjust(left=left, right=0.98, top=1 - top_in / height, bottom=bottom_in / height, wspace=0.08)
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        y = np.arange(rows)
        plan_colours = list(colours) if colours is not None else [PLAN_COLOUR] * rows
        for ax, (title, plan, base) in zip(axes, panels):
            h = 0.4 if base is not None else 0.7
            ax.barh(y - (h / 2 if base is not None else 0), plan, height=h, color=plan_colours,
                    edgecolor="#444", linewidth=0.3)  # fmt: skip
            if base is not None:
                ax.barh(y + h / 2, base, height=h, color=BASELINE_COLOUR, edgecolor="#777", linewidth=0.3)
            ax.set_title(title, pad=4)
            ax.set_xlabel(unit, labelpad=2)
            ax.grid(axis="x", alpha=0.3)
            ax.axvline(0, color="#444", linewidth=0.6)
            ax.set_ylim(rows - 0.5, -0.5)
        axes[0].set_yticks(y, [str(s) for s in labels])
        axes[0].tick_params(axis="y", length=0)
        if handles:
            fig.legend(handles=handles, loc="upper center", ncol=ncol, fontsize=8, bbox_to_anchor=(0.5, 1.0))
        return svg_of(fig, prefix)


def sweep_lines(
    x: Sequence[Any],
    x_label: str,
    series: Sequence[tuple[str, Sequence[float]]],
    groups: Sequence[str] | None,
    unit: str,
    prefix: str,
) -> str:
    """Headline figures of a sweep against its first varied value, one line per other combination."""
    xs = list(x)
    try:
        xv = np.array([float(str(v).rstrip("*")) for v in xs])
        ticks = None
    except ValueError:
        xv = np.arange(len(xs), dtype=float)
        ticks = [str(v) for v in xs]
    keys = list(groups) if groups is not None else [""] * len(xs)
    with _style():
        fig = _new_figure(9.0, 3.2)
        axes = fig.subplots(1, len(series), squeeze=False)[0]
        for ax, (title, values) in zip(axes, series):
            vals = np.asarray(values, dtype=float)
            for key in dict.fromkeys(keys):
                sel = np.array([k == key for k in keys])
                order = np.argsort(xv[sel], kind="stable")
                ax.plot(xv[sel][order], vals[sel][order], marker="o", markersize=3.5, label=key or None)
            ax.set_title(title)
            ax.set_ylabel(unit)
            ax.grid(alpha=0.3)
            if ticks is not None:
                ax.set_xticks(xv, ticks, rotation=30, ha="right")
        axes[len(axes) // 2].set_xlabel(x_label)
        if any(keys):
            axes[0].legend(fontsize=7)
        fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.25 if ticks else 0.18, wspace=0.3)
        return svg_of(fig, prefix)


def frontier_figure(df: pd.DataFrame, knee: str | None, weighted: dict[str, Any] | None, categories: list[str],
                    title: str, money: tuple[float, str] | None = None, ok: pd.Series | None = None) -> Any:
    """Income against GEP: plan points, the band to the bounds, the knee, the weighted optimum.
    A matplotlib Figure (no pyplot: the report draws it too, as SVG), from frontier.csv's table
    and summary.json's knee and weighted optimum. `money`: (yuan per axis unit, its words),
    亿元 by default; no title when `title` is empty (the report has its own). `ok`: the rows
    with a plan (by default those with an income and a GEP)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    font = cjk_font()
    if font:
        matplotlib.rcParams["font.sans-serif"] = [font, *matplotlib.rcParams["font.sans-serif"]]
    yi, money_unit = money if money is not None else (1e8, "")
    mask = ok if ok is not None else df["farmer_income_yuan"].notna() & df["gep_yuan"].notna()
    df = df.fillna({"duplicate_of": "", "dominated_by": ""})
    ok = df[mask].sort_values("farmer_income_yuan")
    fig = Figure(figsize=(7.5, 5.2), constrained_layout=True)
    ax = fig.subplots()
    if not ok.empty:
        # The exact frontier F(x) = max GEP at income ≥ x lies between the computed plans
        # (F(x) ≥ the GEP of any plan earning ≥ x) and the proven bounds (F(x) ≤ the bound of
        # any ε ≤ x): one band for both the gaps and the stretches between points.
        inc = ok["farmer_income_yuan"].to_numpy(dtype=float)
        gep = ok["gep_yuan"].to_numpy(dtype=float)
        eps = df["epsilon_yuan"].to_numpy(dtype=float)
        high = df["frontier_high_yuan"].to_numpy(dtype=float)
        xs = np.unique(np.concatenate([inc, eps[np.isfinite(eps)]]))
        xs = np.sort(np.concatenate([xs, np.nextafter(xs, np.inf), np.nextafter(xs, -np.inf)]))
        xs = xs[(xs >= np.nanmin(inc)) & (xs <= np.nanmax(inc))]
        lower = np.array([gep[inc >= x].max() for x in xs])
        known = np.isfinite(high) & np.isfinite(eps)
        upper = np.array([high[known & (eps <= x)].min() if (known & (eps <= x)).any() else np.nan for x in xs])
        upper = np.where(np.isfinite(upper), np.maximum(upper, lower), lower)
        ax.fill_between(xs / yi, lower / yi, upper / yi, step=None, color="tab:green", alpha=0.15, linewidth=0,
                        label=_("band: the exact frontier lies here (plans below, bounds above)"))
        ax.plot(xs / yi, lower / yi, "-", color="tab:green", linewidth=1, alpha=0.8)
        front = ok[(ok["duplicate_of"] == "") & (ok["dominated_by"] == "")]
        ax.plot(front["farmer_income_yuan"] / yi, front["gep_yuan"] / yi, "o", color="tab:green",
                label=_("frontier points (computed plans)"))
        marked = ok[ok["dominated_by"] != ""]
        if len(marked):
            ax.plot(marked["farmer_income_yuan"] / yi, marked["gep_yuan"] / yi, "x", color="grey",
                    label=_("dominated (a gap let it through)"))
        labels: dict[tuple[float, float], list[str]] = {}
        for r in ok.itertuples():
            labels.setdefault((r.farmer_income_yuan, r.gep_yuan), []).append(str(r.point))
        for (x, y), names in labels.items():
            ax.annotate("=".join(names), (x / yi, y / yi), textcoords="offset points", xytext=(4, 4), fontsize=7,
                        color="dimgrey")
        if knee:
            k = ok[ok["point"] == knee]
            ax.plot(k["farmer_income_yuan"] / yi, k["gep_yuan"] / yi, "*", color="tab:red", markersize=16,
                    label=_("knee ({point})").format(point=knee))
    w = weighted
    if w and w.get("farmer_income_yuan") is not None:
        ax.plot([w["farmer_income_yuan"] / yi], [w["gep_yuan"] / yi], "D", color="tab:blue", markersize=8,
                markerfacecolor="none", markeredgewidth=2, label=_("weighted optimum of the instance"))
    cats = "+".join(categories)
    if money_unit:
        ax.set_xlabel(_("farmers' income ({unit})").format(unit=money_unit))
        ax.set_ylabel(_("GEP {categories} ({unit})").format(categories=cats, unit=money_unit))
    else:
        ax.set_xlabel("farmers' income 农民收入 (亿元/yr)" if font else "farmers' income (100 million yuan/yr)")
        ax.set_ylabel((f"GEP {cats} (亿元/yr)") if font else f"GEP {cats} (100 million yuan/yr)")
    if title:
        ax.set_title(_("{title}: GEP against farmers' income").format(title=title))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig
