"""Writing a run folder atomically: everything goes to `<run id>.partial/`, then one rename.

A planner who finds `results/fuchuan/20261127-101500-ab12cd/` can trust it is complete:
a crash or Ctrl-C while writing leaves no such folder (the partial one is removed), and
`manifest.json`, written last, lists the sha256 of every other file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DEPENDENCIES = ("pyomo", "highspy", "geopandas", "pyogrio", "shapely", "pyproj", "pandas", "numpy",
                "pydantic", "pyyaml", "typer", "rich")  # fmt: skip


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    from optimizer import __version__

    out = {"optimizer": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for dist in DEPENDENCIES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n", encoding="utf-8")


@contextmanager
def run_folder(results_root: Path, instance_name: str, run_id: str | None = None) -> Iterator[Path]:
    """Yield a `.partial` folder; rename it into place only if the block completes."""
    run_id = run_id or new_run_id()
    final = results_root / instance_name / run_id
    partial = final.with_name(final.name + ".partial")
    if final.exists():
        raise FileExistsError(f"run folder {final} already exists")
    if partial.exists():  # left by a killed process: never complete, safe to replace
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=False)
    try:
        yield partial
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("wrote %s", final)


def final_path(partial: Path) -> Path:
    return partial.with_name(partial.name.removesuffix(".partial"))


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """CSV in UTF-8 with BOM, so Excel on a Chinese Windows shows 富川 rather than mojibake."""
    df.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.12g")


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


def summary_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Flatten the summary's headline figures to key/value rows for the GeoPackage."""
    rows = []
    for key in ("instance", "run_id", "status", "termination", "objective_yuan", "bound_yuan", "gap",
                "double_count"):  # fmt: skip
        rows.append((key, summary.get(key)))
    for key, val in summary.get("totals", {}).items():
        if isinstance(val, dict):
            for sub, v in val.items():
                rows.append((f"totals.{key}.{sub}", v if not isinstance(v, dict) else json.dumps(v, ensure_ascii=False)))
        else:
            rows.append((f"totals.{key}", val))
    return pd.DataFrame({"key": [r[0] for r in rows], "value": [str(r[1]) for r in rows]})


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
