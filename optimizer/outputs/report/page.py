"""The report's building blocks: pages, sections and blocks, the registry of folder kinds,
reading a results folder, plain-words formatting, and the blocks every kind shares (map,
charts, limits, what-ifs, sources).

Library code: logs, never prints. Every user-facing string goes through `_()`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import _, language, ngettext
from optimizer.outputs.write import unescape_formula

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
#: Per-township charts and tables show at most this many rows (the CSV has them all).
ROWS_MAX = 60
_TEXT_COLUMNS = ("township_id", "name", "county", "city", "industry", "industry_label", "industry_label_zh",
                 "output_unit", "baseline_land_use", "locked", "plan_industry", "optimum_industry",
                 "industry_a", "industry_b", "violations")  # fmt: skip


# --------------------------------------------------------------------------- page model


@dataclass
class Block:
    """One piece of a section, rendered by `templates/blocks/<kind>.html.j2`."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Section:
    key: str  # the anchor (#key) in the table of contents
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Page:
    kind: str
    title: str
    subtitle: str
    sections: list[Section]
    footer: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportKind:
    """A kind of results folder: how to recognise it and how to build its page."""

    name: str
    detect: Callable[[Path], bool]
    build: Callable[[Path], Page]


#: Kinds in the order they are tried (first match wins).
REPORT_KINDS: dict[str, ReportKind] = {}


def report_kind(name: str, detect: Callable[[Path], bool]) -> Callable[[Callable[[Path], Page]], Callable[[Path], Page]]:
    """Register a page builder for a kind of folder (decorator)."""

    def register(build: Callable[[Path], Page]) -> Callable[[Path], Page]:
        REPORT_KINDS[name] = ReportKind(name, detect, build)
        return build

    return register


def folder_kind(folder: Path) -> ReportKind:
    """The kind of results folder `folder` is; a located InputError if it is none of them."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "no such folder" if not folder.exists() else "a file, not a results folder"
        raise InputError([Problem(Location(folder), what, "give a run, sweep, compare, gep, evaluate, frontier, value, robust or alternatives folder")])
    for kind in REPORT_KINDS.values():
        if kind.detect(folder):
            return kind
    kinds = ", ".join(REPORT_KINDS)
    raise InputError([Problem(
        Location(folder),
        f"not a results folder this tool wrote (known kinds: {kinds})",
        "a run folder has summary.json and allocation.csv; the analyses' folders have sweep.json, comparison.json, "
        "gep_by_township.csv, evaluation.json, frontier.json, value.json, robust.json or alternatives.json",
    )])  # fmt: skip


def build_report(folder: Path) -> str:
    """The report of a results folder as one HTML document."""
    folder = Path(folder)
    page = folder_kind(folder).build(folder)
    return render(page)


def write_report(folder: Path, target: Path | None = None) -> Path:
    """Write `report.html` (or `target`) for a results folder, atomically; return its path."""
    folder = Path(folder)
    text = build_report(folder)
    target = Path(target) if target is not None else folder / REPORT_FILE
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # same folder: the rename is atomic
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("wrote %s", target)
    return target


def render(page: Page) -> str:
    """Fill the page template (Jinja2, autoescaped; SVG blocks are marked safe where made)."""
    return _environment().get_template("report.html.j2").render(page=page, lang=_html_lang())


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("optimizer.outputs", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(_=_, ngettext=ngettext)
    return env


def _html_lang() -> str:
    return {"zh": "zh-CN"}.get(language(), language())


# --------------------------------------------------------------------------- reading folders


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError([Problem(Location(path, line=exc.lineno, column=exc.colno),
                                  f"not valid JSON ({exc.msg})")]) from None  # fmt: skip
    except OSError as exc:
        raise InputError([Problem(Location(path), f"cannot be read ({exc.strerror})")]) from None
    if not isinstance(data, dict):
        raise InputError([Problem(Location(path), "not a JSON object")])
    return data


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV the tool wrote, ids and names kept as text (451123100 is not a number)."""
    try:
        head = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
        dtype = {c: str for c in _TEXT_COLUMNS if c in head.columns}
        df = pd.read_csv(path, dtype=dtype, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError([Problem(Location(path), f"cannot be read ({exc})")]) from None
    for c in _TEXT_COLUMNS:
        if c in df.columns:
            df[c] = df[c].fillna("")
    for c in df.columns:  # text a spreadsheet would run was written with an apostrophe (`escape_formula`)
        if not pd.api.types.is_numeric_dtype(df[c]) and "'" in "".join(map(str, df[c].to_numpy(dtype=object))):
            df[c] = df[c].map(unescape_formula)
    return df


def resolved_instance(folder: Path) -> dict[str, Any]:
    """instance.resolved.yaml as a plain dict ({} when absent or unreadable)."""
    path = folder / "instance.resolved.yaml"
    if not path.is_file():
        return {}
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 30x faster on a region's instance
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as exc:
        log.warning("cannot read %s (%s): the report leaves out what it would have said", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def manifest_of(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    return read_json(path) if path.is_file() else {}


def sources_of(folder: Path, manifest: dict[str, Any], resolved: dict[str, Any]) -> list[dict[str, Any]]:
    rows = manifest.get("sources") if isinstance(manifest.get("sources"), list) else resolved.get("sources")
    return [r for r in (rows or []) if isinstance(r, dict)]


@dataclass
class Shapes:
    geometry: pd.Series  # shapely geometries indexed by township id (text)
    geographic: bool


def township_shapes(folder: Path, gpkg: str, layer: str, resolved: dict[str, Any] | None = None) -> Shapes | None:
    """Township geometry from a GeoPackage the tool wrote, else from the instance's own table."""
    path = folder / gpkg
    if path.is_file():
        try:
            import pyogrio

            info = pyogrio.read_info(path, layer=layer)
            if info.get("geometry_type"):
                key = "village_id" if "village_id" in list(info.get("fields", [])) else "township_id"
                gdf = pyogrio.read_dataframe(path, layer=layer, columns=[key])  # villages in a village run
                ids = gdf[key].astype(str).to_numpy()
                geo = bool(gdf.crs is not None and gdf.crs.is_geographic)
                return Shapes(pd.Series(gdf.geometry.to_numpy(), index=ids), geo)
            return None  # a table without geometry (CSV instance): no map
        except Exception as exc:  # a damaged file: try the instance's table
            log.warning("cannot read the township shapes of %s layer %s (%s)", path, layer, exc)
    town = (resolved or {}).get("townships")
    ref = town if isinstance(town, dict) else {"path": town} if isinstance(town, str) else None
    if not ref or not ref.get("path"):
        return None
    table = Path(str(ref["path"]))
    table = table if table.is_absolute() else folder / table
    if not table.is_file() or table.suffix.lower() == ".csv":
        return None
    try:
        from optimizer.instance.tables import read_table

        attrs, geometry, crs = read_table(table, ref.get("layer"))
    except Exception as exc:
        log.warning("cannot read township shapes from %s (%s)", table, exc)
        return None
    if geometry is None or "township_id" not in attrs:
        return None
    import pyproj

    geo = bool(crs and pyproj.CRS.from_user_input(crs).is_geographic)
    return Shapes(pd.Series(geometry.to_numpy(), index=attrs["township_id"].astype(str).to_numpy()), geo)


# --------------------------------------------------------------------------- formatting


def missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def num(x: Any, decimals: int = 0, sign: bool = False) -> str:
    """A number with thousands separators ('—' when missing)."""
    if missing(x):
        return "—"
    x = float(x)
    if sign and round(x, decimals) == 0:
        return "0"
    return f"{x:{'+' if sign else ''},.{decimals}f}"


def money_factor() -> float:
    """Yuan per unit of the report's tables and charts: 1e6 (million yuan), or 1e4 (万元) with --units cn."""
    from optimizer.i18n import units

    return 1e4 if units() == "cn" else 1e6


def money_words(per_year: bool = True) -> str:
    """The unit of the report's tables and charts: "million yuan/yr", or 万元/年 with --units cn."""
    from optimizer.i18n import units

    if units() == "cn":
        return _("10,000 yuan/yr") if per_year else _("10,000 yuan")
    return _("million yuan/yr") if per_year else _("million yuan")


def mio(x: Any, sign: bool = False) -> str:
    """Yuan in the report's money unit (`money_words`): million yuan with one decimal, or 万元 with two."""
    return "—" if missing(x) else num(float(x) / money_factor(), 1 if money_factor() == 1e6 else 2, sign)


def money_of(*values: Any, per_year: bool = True) -> tuple[Any, str]:
    """(formatter, unit) for money figures stated together in a sentence.

    Million yuan by default; with --units cn 万元, or 亿元 when the largest is 1亿 or more.
    """
    from optimizer.i18n import money_scale, units

    if units() != "cn":
        return (lambda x, sign=False: mio(x, sign)), money_words(per_year)
    factor, unit, digits = money_scale([None if missing(x) else float(x) for x in values], per_year=per_year, units="cn")
    return (lambda x, sign=False: "—" if missing(x) else num(float(x) / factor, digits, sign)), unit


def money_text(x: Any, per_year: bool = True, sign: bool = False) -> str:
    """One money figure with its unit, e.g. "651.2 million yuan/yr"; with --units cn "6.51 亿元/年"."""
    show, unit = money_of(x, per_year=per_year)
    return _("{value} {unit}").format(value=show(x, sign), unit=unit)


def pct(share: Any, decimals: int | None = None) -> str:
    """A share as a percentage: whole percent, one decimal just below 100% (so 99.6% is not '100%')."""
    if missing(share):
        return "—"
    p = 100.0 * float(share)
    if decimals is None:
        decimals = 1 if 99.0 <= p < 99.95 or 0 < abs(p) < 1 else 0
    return f"{p:.{decimals}f}%"


def small_pct(share: float) -> str:
    """A gap as a short percentage (0.01%, 0.0032%, 1.2%)."""
    p = 100.0 * abs(share)
    if p == 0:
        return "0%"
    if p < 0.0001:
        return _("less than {p}").format(p="0.0001%")
    return f"{p:.2g}%" if p < 1 else f"{p:.1f}%"


def scaled(value: float, limit: float, unit: str) -> tuple[str, str, str]:
    """Two amounts of one unit at the scale a planner reads: ('10.9', '11.2', 'million m³')."""
    from optimizer.i18n import money_scale, units

    ref = max(abs(limit or 0.0), abs(value or 0.0))
    factor, name = 1.0, unit
    if unit == "m³":
        factor, name = (1e6, _("million m³")) if ref >= 1e6 else (1e3, _("thousand m³")) if ref >= 1e4 else (1.0, _("m³"))
    elif unit == "yuan" and units() == "cn":
        factor, name, _digits = money_scale([ref], per_year=False, units="cn")
    elif unit == "yuan":
        factor, name = (1e9, _("billion yuan")) if ref >= 1e9 else (1e6, _("million yuan")) if ref >= 1e6 else (1.0, _("yuan"))
    elif unit == "t":
        factor, name = (1e3, _("thousand t")) if ref >= 1e4 else (1.0, _("t"))
    elif unit == "MWh":
        factor, name = (1e3, _("GWh")) if ref >= 1e4 else (1.0, _("MWh"))
    elif unit == "ha":
        name = _("ha")
    elif unit == "MWp":
        name = _("MWp")
    if unit == "ha":
        decimals = 0
    elif unit == "MWp" or factor == 1.0:
        decimals = 1 if ref < 1e4 else 0
    else:
        decimals = 2 if ref / factor < 10 else 1
    return num(value / factor, decimals), num(limit / factor, decimals), name


def industry_label(ind: str, label: str = "", label_zh: str = "") -> str:
    """An industry's name in the report's language (its id when it has no label)."""
    if language() == "zh" and label_zh:
        return label_zh
    return label or label_zh or ind


def short_label(label: str) -> str:
    """An industry's name without its explanation in brackets, for table cells and headings."""
    for bracket in (" (", "（", "("):
        if bracket in label and not label.startswith(bracket.strip()):
            return label.split(bracket, 1)[0].strip()
    return label


def industry_labels(alloc: pd.DataFrame, col: str = "industry") -> dict[str, str]:
    out: dict[str, str] = {}
    for row in alloc.drop_duplicates(col).itertuples(index=False):
        ind = getattr(row, col)
        if col == "industry":
            out[ind] = industry_label(ind, getattr(row, "industry_label", ""), getattr(row, "industry_label_zh", ""))
        else:
            out[ind] = ind
    return out


def industry_names(resolved: dict[str, Any]) -> dict[str, str]:
    out = {}
    for ind, spec in (resolved.get("industries") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        out[str(ind)] = industry_label(str(ind), str(spec.get("label") or ""), str(spec.get("label_zh") or ""))
    return out


def township_names(df: pd.DataFrame) -> list[str]:
    """Township names, made unique with the id where two share a name (常见于不同县)."""
    names = df["name"].astype(str).tolist()
    counts = pd.Series(names).value_counts()
    return [n if counts[n] == 1 else f"{n} ({t})" for n, t in zip(names, df["township_id"])]


# --------------------------------------------------------------------------- shared blocks


def figure_block(svg: str, caption: str = "", note: str = "") -> Block:
    from markupsafe import Markup

    return Block("figure", {"svg": Markup(svg), "caption": caption, "note": note})


def table_block(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]], caption: str = "",
           note: str = "") -> Block:  # fmt: skip
    """columns: (heading, 'text' | 'num'); cells are pre-formatted strings."""
    return Block("table", {"columns": list(columns), "rows": [list(r) for r in rows], "caption": caption, "note": note})


def text_block(*paragraphs: str) -> Block:
    return Block("text", {"paragraphs": [p for p in paragraphs if p]})


def callout(level: str, text: str) -> Block:
    return Block("callout", {"level": level, "text": text})


def facts(items: Sequence[tuple[str, str]]) -> Block:
    return Block("facts", {"items": list(items)})


def map_block(shapes: Shapes | None, df: pd.DataFrame, colours: Sequence[str], titles: Sequence[str],
               legend: list[tuple[str, str]], caption: str, emphasis: Sequence[bool] | None = None,
               emphasis_label: str | None = None, colorbar: Any = None, prefix: str = "map",
               compact: bool = False) -> Block:  # fmt: skip
    """The township map, or a sentence saying why there is none."""
    if shapes is None:
        return callout("info", _("The township table has no geometry, so there is no map; the tables below list every township."))
    from optimizer.outputs.figures import MapData, township_map

    geom = shapes.geometry[~shapes.geometry.index.duplicated()].reindex(df["township_id"].astype(str)).to_numpy()
    missing = int(sum(g is None for g in geom))
    data = MapData(geometry=geom, counties=df["county"].astype(str).tolist(), names=township_names(df),
                   colours=list(colours), titles=list(titles), geographic=shapes.geographic, legend=legend,
                   emphasis=emphasis, emphasis_label=emphasis_label, colorbar=colorbar)  # fmt: skip
    svg = township_map(data, prefix=prefix, compact=compact)
    if not svg:
        return callout("info", _("No township has a shape to draw, so there is no map."))
    note = ""
    if missing:
        note = ngettext("{n} township has no shape and is not drawn.", "{n} townships have no shape and are not drawn.",
                        missing).format(n=missing)  # fmt: skip
    return figure_block(svg, caption, note)


def industry_map(shapes: Shapes | None, alloc: pd.DataFrame, caption: str, industry_col: str = "industry",
                  emphasis: Sequence[bool] | None = None, emphasis_label: str | None = None,
                  extra: Callable[[Any], str] | None = None, prefix: str = "map",
                  labels: dict[str, str] | None = None, compact: bool = False) -> Block:  # fmt: skip
    from optimizer.outputs.figures import VECTOR_MAX, industry_colours

    if labels is None:
        labels = industry_labels(alloc, "industry") if "industry_label" in alloc else {}
    inds = alloc[industry_col].astype(str)
    colours = industry_colours(inds.unique().tolist())
    counts = inds.value_counts()
    legend = [(f"{labels.get(i, i)} ({counts[i]})", colours[i]) for i in sorted(counts.index, key=lambda i: -counts[i])]
    titles: list[str] = []
    for row in alloc.itertuples(index=False) if len(alloc) <= VECTOR_MAX else ():  # raster maps have no hover
        ind = str(getattr(row, industry_col))
        t = _("{name} ({id}), {county}: {industry}").format(
            name=row.name, id=row.township_id, county=row.county, industry=labels.get(ind, ind))
        if extra is not None:
            t += "; " + extra(row)
        titles.append(t)
    if len(titles) < len(alloc):
        titles = [""] * len(alloc)
    return map_block(shapes, alloc, [colours[i] for i in inds], titles, legend, caption, emphasis, emphasis_label,
                     prefix=prefix, compact=compact)  # fmt: skip


def money_extra(row: Any) -> str:
    return _("GEP {gep}, farmers' income {income} {unit}").format(
        gep=mio(row.gep_total_yuan), income=mio(row.farmer_income_yuan), unit=money_words())


def township_chart(df: pd.DataFrame, plan_gep: str, base_gep: str | None, plan_income: str,
                    base_income: str | None, colour_col: str | None, prefix: str,
                    labels: dict[str, str] | None = None) -> Block:  # fmt: skip
    """GEP and income per township, plan beside baseline (the largest GEP first)."""
    from optimizer.outputs.figures import industry_colours, paired_bars

    shown = df.sort_values(plan_gep, ascending=False, kind="stable")
    note = ""
    if len(shown) > ROWS_MAX:
        shown = shown.head(ROWS_MAX)
        note = _("The {n} townships with the largest GEP of {total}; the CSV lists them all.").format(n=ROWS_MAX, total=len(df))
    names = dict(zip(df["township_id"], township_names(df)))
    legend = None
    colours = None
    if colour_col is not None:
        cmap = industry_colours(df[colour_col].astype(str).unique().tolist())
        colours = [cmap[str(i)] for i in shown[colour_col]]
        present = list(dict.fromkeys(str(i) for i in shown[colour_col]))
        legend = [(short_label((labels or {}).get(i, i)), cmap[i]) for i in present]
    svg = paired_bars(
        [names[t] for t in shown["township_id"]],
        [(_("GEP"), shown[plan_gep] / money_factor(), None if base_gep is None else shown[base_gep] / money_factor()),
         (_("Farmers' income"), shown[plan_income] / money_factor(),
          None if base_income is None else shown[base_income] / money_factor())],
        colours, money_words(), prefix, plan_label=_("plan"), baseline_label=_("baseline"), legend=legend,
    )  # fmt: skip
    caption = _("Bars: the plan, coloured by industry; grey: the baseline land use.") if base_gep else ""
    return figure_block(svg, caption, note)


def county_chart(counties: pd.DataFrame, prefix: str) -> Block | None:
    """GEP and income per county, plan beside baseline (only worth a chart for two or more)."""
    if len(counties) < 2:
        return None
    from optimizer.outputs.figures import paired_bars

    shown = counties.sort_values("gep_total_yuan", ascending=False, kind="stable").head(ROWS_MAX)
    f = money_factor()
    base_g = shown["baseline_gep_total_yuan"] / f if "baseline_gep_total_yuan" in shown else None
    base_i = shown["baseline_farmer_income_yuan"] / f if "baseline_farmer_income_yuan" in shown else None
    svg = paired_bars(shown["county"].astype(str).tolist(),
                      [(_("GEP"), shown["gep_total_yuan"] / f, base_g),
                       (_("Farmers' income"), shown["farmer_income_yuan"] / f, base_i)],
                      None, money_words(), prefix, plan_label=_("plan"), baseline_label=_("baseline"))  # fmt: skip
    return figure_block(svg)


def sources_section(sources: list[dict[str, Any]]) -> Section:
    blocks: list[Block] = []
    if not sources:
        blocks.append(text_block(_("The instance lists no sources.")))
    else:
        n_est = sum(bool(s.get("estimate")) for s in sources)
        blocks.append(text_block(ngettext(
            "{n} of {total} figures are estimates (marked): replace them with local data where you have it.",
            "{n} of {total} figures are estimates (marked): replace them with local data where you have it.",
            n_est).format(n=n_est, total=len(sources))))  # fmt: skip
        rows = [{"item": str(s.get("item", "")), "source": str(s.get("source", "")), "estimate": bool(s.get("estimate"))}
                for s in sources]  # fmt: skip
        blocks.append(Block("sources", {"rows": rows}))
    return Section("sources", _("Sources"), blocks)


def whatif_section(scenarios: Sequence[str], overrides: Sequence[dict[str, Any]], key: str = "what-ifs",
                   title: str | None = None) -> Section:  # fmt: skip
    title = title or _("What-ifs applied")
    if not scenarios and not overrides:
        return Section(key, title, [text_block(_("None: the instance was solved as written."))])
    blocks = []
    if scenarios:
        blocks.append(text_block(_("Scenarios: {names}.").format(names=", ".join(scenarios))))
    if overrides:
        rows = [(str(o.get("path", "")), _value(o.get("old")), _value(o.get("new")), _source_name(str(o.get("source", ""))))
                for o in overrides]  # fmt: skip
        blocks.append(table_block([(_("value"), "text"), (_("was"), "num"), (_("now"), "num"), (_("set by"), "text")], rows))
    return Section(key, title, blocks)


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.6g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return "—" if v is None else str(v)


def _source_name(source: str) -> str:
    if source == "--set":
        return _("command line (--set)")
    return source


# --------------------------------------------------------------------------- limits in plain words


#: Rows that define auxiliary variables or fix locks: not limits a planner weighs.
NOT_LIMITS = frozenset({"market_output_beyond_step_def", "industry_locked_in", "one_industry_per_township"})


def market_units(resolved: dict[str, Any], alloc: pd.DataFrame | None) -> dict[str, tuple[str, list[str]]]:
    """Market → (output unit, its industries), from the resolved instance and the plan."""
    units: dict[str, str] = {}
    if alloc is not None and "output_unit" in alloc:
        for ind, g in alloc.groupby("industry"):
            units[str(ind)] = str(g["output_unit"].iloc[0])
    for ind, spec in (resolved.get("industries") or {}).items():
        if isinstance(spec, dict) and spec.get("output_unit"):
            units.setdefault(str(ind), str(spec["output_unit"]))
    markets = ((resolved.get("constraints") or {}).get("markets") or {})
    out = {}
    for name, m in markets.items():
        inds = [str(i) for i in (m.get("industries") or [])] if isinstance(m, dict) else []
        out[str(name)] = (next((units[i] for i in inds if i in units), ""), inds)
    return out


def limit_sentence(row: dict[str, Any], names_by_id: dict[str, str], markets: dict[str, tuple[str, list[str]]],
                   industries: dict[str, str]) -> str:  # fmt: skip
    """One limit in plain words: 'county water of 富川瑶族自治县: 10.9 of 11.2 million m³ used (97%)'."""
    fam, idx = str(row.get("family", "")), row.get("index")
    unit = str(row.get("unit") or "")
    place = str(idx) if idx is not None else ""
    township = names_by_id.get(place, place)
    if fam == "water_use_per_county_max":
        what = _("county water of {county}").format(county=place)
    elif fam == "water_use_per_basin_max":
        what = _("water of basin {basin}").format(basin=place)
    elif fam == "water_use_per_township_max":
        what = _("water of township {township}").format(township=township)
    elif fam == "market_output_max":
        unit, inds = markets.get(place, ("", []))
        sold = ", ".join(industries.get(i, i) for i in inds)
        what = (_("market for {market} ({industries})").format(market=place, industries=sold) if sold
                else _("market for {market}").format(market=place))  # fmt: skip
    elif fam == "pv_capacity_per_county_max":
        what = _("grid capacity for PV in {county}").format(county=place)
    elif fam == "investment_budget_max":
        what = _("investment budget")
    elif fam == "conservation_area_min":
        what = _("conservation land")
    elif fam == "conservation_area_per_county_min":
        what = _("conservation land in {county}").format(county=place)
    elif fam == "farmer_income_per_township_min":
        what = _("farmers' income floor of {township}").format(township=township)
    else:
        what = str(row.get("name", fam))
    lhs, rhs = float(row.get("lhs") or 0.0), float(row.get("rhs") or 0.0)
    used, limit, unit_name = scaled(lhs, rhs, unit or "output unit")
    if unit_name == "output unit":
        unit_name = _("output units")
    share = pct(row.get("used_share"))
    sense = row.get("sense")
    if sense == ">=":
        return _("{what}: {used} {unit} against a minimum of {limit} {unit} ({share} of the minimum)").format(
            what=what, used=used, limit=limit, unit=unit_name, share=share)
    if sense == "==":
        return _("{what}: {used} {unit} (fixed at {limit} {unit})").format(what=what, used=used, limit=limit, unit=unit_name)
    return _("{what}: {used} of {limit} {unit} used ({share})").format(
        what=what, used=used, limit=limit, unit=unit_name, share=share)


def limit_status(row: dict[str, Any]) -> tuple[str, str]:
    """(css level, words) of a limit: binding, nearly binding (≥ 95% used) or slack."""
    share = row.get("used_share")
    if row.get("binding"):
        if row.get("sense") == ">=":
            return "binding", _("binding: the plan is at the minimum")
        return "binding", _("binding: this limit stops a better plan")
    if row.get("sense") == "<=" and isinstance(share, (int, float)) and share >= 0.95:
        return "near", _("nearly binding (95% or more used)")
    return "slack", _("room left")


def limit_rows(constraints: Sequence[dict[str, Any]], names_by_id: dict[str, str],
                markets: dict[str, tuple[str, list[str]]], industries: dict[str, str]) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for r in constraints:
        if r.get("family") in NOT_LIMITS:
            continue
        level, words = limit_status(r)
        share = r.get("used_share")
        rows.append({
            "text": limit_sentence(r, names_by_id, markets, industries),
            "level": level, "status": words,
            "share": None if missing(share) else max(0.0, float(share)),
            "good_high": r.get("sense") == ">=",
            "order": {"binding": 0, "near": 1, "slack": 2}[level],
        })  # fmt: skip
    rows.sort(key=lambda r: (r["order"], -(r["share"] or 0.0)))
    return rows


# --------------------------------------------------------------------------- sentences every kind uses


def solve_sentence(status: str, objective: Any, bound: Any, gap: Any, method: Any = None) -> tuple[str, str]:
    """(css level, one sentence) saying what the solver proved about this plan.

    `method`: the run's method ("direct", "decompose", "decompose+highs"); the sentence names
    the county decomposition when it alone found the plan and the bound, HiGHS otherwise."""
    obj = money_text(objective)
    bnd = money_text(bound)
    have_gap = not missing(gap) and not missing(bound)
    by_decomposition = method == "decompose"
    if status == "optimal":
        if have_gap and float(gap) <= 1e-9:
            if by_decomposition:
                return "ok", _("The county decomposition proved that no plan is better than this one: its objective, "
                               "{objective}, equals the best possible bound.").format(objective=obj)  # fmt: skip
            return "ok", _("HiGHS proved that no plan is better than this one: its objective, {objective}, equals the "
                           "best possible bound.").format(objective=obj)  # fmt: skip
        if have_gap:
            if by_decomposition:
                return "ok", _("The county decomposition proved that no plan is better than this one by more than "
                               "{gap} (objective {objective}, best possible {bound}).").format(
                    gap=small_pct(float(gap)), objective=obj, bound=bnd)  # fmt: skip
            return "ok", _("HiGHS proved that no plan is better than this one by more than {gap} (objective {objective}, "
                           "best possible {bound}).").format(gap=small_pct(float(gap)), objective=obj, bound=bnd)  # fmt: skip
        if by_decomposition:
            return "ok", _("The county decomposition reports this plan as optimal (objective {objective}).").format(
                objective=obj)  # fmt: skip
        return "ok", _("HiGHS reports this plan as optimal (objective {objective}).").format(objective=obj)
    if by_decomposition:
        why = {
            "time_limit_feasible": _("The county decomposition stopped at the time limit"),
            "interrupted_feasible": _("The county decomposition was interrupted (Ctrl-C)"),
            "stopped_feasible": _("The county decomposition stopped early"),
        }.get(status)
    else:
        why = {
            "time_limit_feasible": _("HiGHS stopped at the time limit"),
            "interrupted_feasible": _("HiGHS was interrupted (Ctrl-C)"),
            "stopped_feasible": _("HiGHS stopped early"),
        }.get(status)
    if why is not None:
        if have_gap:
            return "warn", _("{why}: this plan meets every limit, but the best possible plan is at most {gap} better "
                             "(objective {objective}, bound {bound}).").format(
                why=why, gap=small_pct(float(gap)), objective=obj, bound=bnd)  # fmt: skip
        return "warn", _("{why} before it had a bound: this plan meets every limit, but how far it is from the best "
                         "is not known (objective {objective}).").format(why=why, objective=obj)  # fmt: skip
    return "warn", _("Solver status: {status} (objective {objective}).").format(status=status, objective=obj)


def objective_sentence(double_count: Any, weights: dict[str, Any]) -> str:
    g, h = weights.get("gep", 1.0), weights.get("income", 1.0)
    if double_count == "count_both":
        return _("The objective adds all GEP, material included (weight {gep}), and farmers' income after falling "
                 "prices (weight {income}).").format(gep=f"{g:g}", income=f"{h:g}")  # fmt: skip
    return _("The objective adds regulating and cultural GEP (weight {gep}) and farmers' income after falling "
             "prices (weight {income}); material GEP is left out because fruit sold is already income.").format(
        gep=f"{g:g}", income=f"{h:g}")  # fmt: skip


def checker_block(check_ok: Any) -> Block | None:
    if check_ok is True:
        return callout("ok", _("The independent checker recomputed every limit and the objective from the input "
                                "tables: they hold."))  # fmt: skip
    if check_ok is False:
        return callout("bad", _("The independent checker disagrees with the solver's plan: see check.json before "
                                 "using this plan."))  # fmt: skip
    return None


def footer(manifest: dict[str, Any]) -> list[str]:
    """Which versions made the results (the manifest's; the running ones while the pipeline writes it)."""
    v = manifest.get("versions") or {}
    if not v:
        from optimizer.outputs.write import versions

        v = versions()
    parts = [f"{k} {v[k]}" for k in ("optimizer", "highspy", "pyomo", "python") if k in v]
    return [_("Made by karst-layout-optimizer ({versions}).").format(versions=", ".join(parts))]


def county_table(counties: pd.DataFrame, labels: dict[str, str]) -> Block:
    inds = [c.removeprefix("townships_") for c in counties.columns if c.startswith("townships_")]
    cols = [(_("county"), "text"), (_("townships"), "num")] + [(short_label(labels.get(i, i)), "num") for i in inds] + [
        (_("GEP"), "num"), (_("income"), "num"), (_("water (million m³)"), "num"), (_("PV (MWp)"), "num"),
        (_("investment ({unit})").format(unit=money_words(per_year=False)), "num")]  # fmt: skip
    rows = []
    for r in counties.to_dict(orient="records"):
        rows.append([str(r.get("county", "")), num(r.get("townships"))] + [num(r.get(f"townships_{i}")) for i in inds] + [
            mio(r.get("gep_total_yuan")), mio(r.get("farmer_income_yuan")), num((r.get("water_use_m3") or 0) / 1e6, 2),
            num(r.get("pv_capacity_mw"), 1), mio(r.get("investment_yuan"))])  # fmt: skip
    return table_block(cols, rows, caption=_("Townships per industry; money in {unit} (investment: once).").format(
        unit=money_words()))


