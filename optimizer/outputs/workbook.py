"""`allocation.xlsx`: the run as a workbook for offices that live in Excel or WPS.

Why a workbook beside the CSV: a CSV opens with guessed types, no units and, on a
Chinese Windows, sometimes mojibake; a planner who forwards the plan to a county office
wants sheets with headers in words, units, thousands separators and a frozen header.

Sheets: the plan (one row per township), county totals, limits (every coupling limit of
summary.json in plain words with how much of it is used) and GEP accounts by category
per township. Headers come from `optimizer.outputs.labels` (the same words as the
GeoPackage aliases), in both languages by default or in one (`lang`).

Written with XlsxWriter, cell by cell with an explicit type: text is always written as
text, so a township or county named "=1+1", "+86…", "-" or "@home" stays that text and
is never turned into a formula (strings_to_formulas off as well); NaN and ±inf become
empty cells.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.outputs.labels import (
    DEFINITIONAL_LIMITS,
    bilingual,
    column_label,
    column_words,
    limit_words,
)

log = logging.getLogger(__name__)

#: Excel number formats by unit (the unit in the label table).
NUMBER_FORMATS: dict[str, str] = {
    "yuan": "#,##0", "yuan/yr": "#,##0", "yuan/ha/yr": "#,##0", "yuan per unit": "#,##0.00",
    "m³/yr": "#,##0", "m³/ha/yr": "#,##0", "ha": "#,##0.0", "MWp": "#,##0.00", "MWp/ha": "0.000",
    "%": "0.0%",
}  # fmt: skip
_INTEGER = "#,##0"
_DECIMAL = "#,##0.00"
_MAX_WIDTH = 48
_WIDTH_SAMPLE = 500  # rows looked at to size a column


@dataclass
class Sheet:
    """One worksheet: a table, its name in both languages and how many columns stay in view."""

    name_zh: str
    name_en: str
    table: pd.DataFrame
    frozen_columns: int = 0
    formats: dict[str, str] = field(default_factory=dict)  # column → Excel number format (overrides the unit's)

    def name(self, lang: str | None) -> str:
        text = bilingual(self.name_zh, self.name_en, lang)
        for ch in "[]:*?/\\":
            text = text.replace(ch, " ")
        return text[:31]


def _display_width(text: str) -> int:
    """Width in Excel character units: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _number_format(column: str, series: pd.Series) -> str | None:
    words = column_words(column)
    unit = words[2] if words else ""
    if unit in NUMBER_FORMATS:
        return NUMBER_FORMATS[unit]
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_integer_dtype(series):
        return _INTEGER
    if pd.api.types.is_float_dtype(series):
        return _DECIMAL
    return None


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


def _column_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    return "text"


def _shown(value: Any, kind: str) -> str:
    """What a cell shows, for sizing its column."""
    if kind == "number":
        return f"{value:,.2f}"
    if kind == "bool":
        return "FALSE"
    return _cell_text(value)


def write_workbook(path: Path, sheets: Sequence[Sheet], lang: str | None = None) -> None:
    """Write the sheets to `path`: bold wrapped header row, frozen, filterable, sized columns.

    Rows are written in order with XlsxWriter's constant-memory mode: a 20,000-township
    plan does not sit in memory twice. Each cell is written with the method of its
    column's type (number, boolean, text), never guessed from its content.
    """
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
         "strings_to_numbers": False, "nan_inf_to_errors": False},
    )  # fmt: skip
    try:
        header = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E8EEF4", "border": 1})
        formats: dict[str, Any] = {}

        def fmt(spec: str | None) -> Any:
            if spec is None:
                return None
            if spec not in formats:
                formats[spec] = wb.add_format({"num_format": spec})
            return formats[spec]

        for sheet in sheets:
            ws = wb.add_worksheet(sheet.name(lang))
            df = sheet.table.reset_index(drop=True)
            columns = [str(c) for c in df.columns]
            kinds = [_column_kind(df[c]) for c in df.columns]
            cell_formats = [fmt(sheet.formats.get(col) or _number_format(col, df[c]))
                            for col, c in zip(columns, df.columns)]  # fmt: skip
            data = [df[c].to_numpy(dtype=float) if k == "number" else df[c].to_numpy(dtype=object)
                    for c, k in zip(df.columns, kinds)]  # fmt: skip
            for j, col in enumerate(columns):
                title = column_label(col, lang, columns) or col
                width = max((_display_width(w) for w in title.split()), default=8)
                sample = [v for v in data[j][:_WIDTH_SAMPLE] if not _missing(v)]
                longest = max((_display_width(_shown(v, kinds[j])) for v in sample), default=0)
                ws.set_column(j, j, min(_MAX_WIDTH, max(8, width, longest + 2)))
            ws.set_row(0, 32 if lang is None else 20)
            ws.freeze_panes(1, sheet.frozen_columns)
            if len(df):
                ws.autofilter(0, 0, len(df), max(0, len(columns) - 1))
            for j, col in enumerate(columns):
                ws.write_string(0, j, column_label(col, lang, columns) or col, header)
            # Each column once into Python values with its blanks marked, then one writer per
            # cell: a 50,000-township plan is two million cells, and the per-cell checks
            # were a fifth of the time.
            writers, cells = [], []
            for j, kind in enumerate(kinds):
                blank = [_missing(v) for v in data[j]] if kind != "number" else (~np.isfinite(data[j])).tolist()
                if kind == "number":
                    values = data[j].tolist()
                elif kind == "bool":
                    values = [bool(v) for v in data[j]]
                else:
                    values = [None if b else _cell_text(v) for v, b in zip(data[j], blank)]
                cells.append((values, blank))
                writers.append(ws.write_number if kind == "number" else
                               ws.write_boolean if kind == "bool" else ws.write_string)
            blank_cell = ws.write_blank
            numeric = [k == "number" for k in kinds]
            for i in range(len(df)):
                row = i + 1
                for j in range(len(columns)):
                    values, blank = cells[j]
                    if blank[i]:
                        blank_cell(row, j, None, cell_formats[j])
                    elif numeric[j]:
                        writers[j](row, j, values[i], cell_formats[j])
                    else:
                        writers[j](row, j, values[i])
    finally:
        wb.close()
    log.debug("wrote %s (%s)", path, ", ".join(s.name(lang) for s in sheets))


def _missing(value: Any) -> bool:
    """None, NaN, ±inf and pandas' NA become empty cells."""
    if value is None or value is pd.NA:
        return True
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(float(value))
    return False


# --------------------------------------------------------------------------- the run's workbook

#: Columns of the GEP sheet, from the allocation table.
GEP_COLUMNS = ["township_id", "name", "county", "industry", "area_ha", "gep_material_yuan", "gep_regulating_yuan",
               "gep_cultural_yuan", "gep_total_yuan", "gep_total_yuan_per_ha", "baseline_gep_total_yuan",
               "change_gep_total_yuan"]  # fmt: skip


def limits_table(constraints: list[dict[str, Any]], lang: str | None = None) -> pd.DataFrame:
    """summary.json's constraint rows as a planner reads them: words, used, limit, share used."""
    rows = []
    for r in constraints:
        if r.get("family") in DEFINITIONAL_LIMITS:
            continue
        index = r.get("index")
        if isinstance(index, list):
            index = ", ".join(str(i) for i in index)
        share = r.get("used_share")
        rows.append({
            "limit_words": limit_words(str(r.get("family", "")), index, lang),
            "model_name": r.get("name"),
            "lhs": r.get("lhs"),
            "sense": r.get("sense"),
            "rhs": r.get("rhs"),
            "unit": r.get("unit"),
            "used_share": share if isinstance(share, (int, float)) else np.nan,
            "binding": bool(r.get("binding")),
            "slack": r.get("slack"),
        })  # fmt: skip
    columns = ["limit_words", "model_name", "lhs", "sense", "rhs", "unit", "used_share", "binding", "slack"]
    df = pd.DataFrame(rows, columns=columns)
    for col in ("lhs", "rhs", "slack", "used_share"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["binding"] = df["binding"].astype(bool)
    return df


def gep_table(alloc: pd.DataFrame) -> pd.DataFrame:
    """GEP by category per township (plan), the baseline's total and the change, and GEP per ha."""
    df = alloc.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        area = df["area_ha"].to_numpy(dtype=float)
        df["gep_total_yuan_per_ha"] = np.where(area > 0, df["gep_total_yuan"].to_numpy(dtype=float) / area, np.nan)
    return df[[c for c in GEP_COLUMNS if c in df.columns]]


def write_run_workbook(
    path: Path, alloc: pd.DataFrame, counties: pd.DataFrame, summary: dict[str, Any], lang: str | None = None
) -> None:
    """`allocation.xlsx` of a run folder: plan, county totals, limits, GEP accounts."""
    write_workbook(
        path,
        [
            Sheet("方案", "Plan", alloc, frozen_columns=2),
            Sheet("县汇总", "County totals", counties, frozen_columns=1),
            Sheet("约束", "Limits", limits_table(summary.get("constraints") or [], lang), frozen_columns=1),
            Sheet("GEP 账户", "GEP accounts", gep_table(alloc), frozen_columns=2),
        ],
        lang,
    )


def write_folder_workbook(folder: Path, lang: str | None = None) -> Path:
    """`allocation.xlsx` of a run folder from the folder's own files, for a run that skipped it.

    Why from the files: a solve under a tight `--time-limit` writes the plan and checks it
    first and leaves the workbook out when it would not fit; `optimizer report FOLDER
    --xlsx` writes it later with the same sheets, from allocation.csv, county_totals.csv
    and summary.json.
    """
    from optimizer.errors import InputError, Location, Problem
    from optimizer.i18n import _
    from optimizer.outputs.report.page import read_csv, read_json

    folder = Path(folder)
    needed = [folder / name for name in ("allocation.csv", "county_totals.csv", "summary.json")]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        raise InputError([Problem(Location(p), _("not found: allocation.xlsx is written from a solved run's files"))
                          for p in missing])
    alloc, counties, summary = read_csv(needed[0]), read_csv(needed[1]), read_json(needed[2])
    target = folder / "allocation.xlsx"
    partial = target.with_name(target.name + ".partial")
    write_run_workbook(partial, alloc, counties, summary, lang)
    partial.replace(target)  # a workbook is complete or absent, never half-written
    return target
