"""The township table, the site-coefficient table and the allocation, read by the checker.

Tables are read through the loader's one reader (optimizer/instance/tables.py), as text
so that ids keep their leading zeros, and without geometry. Only the allocation's `township_id` and `industry` decide the
plan; its other columns are read so that they can be compared with the recomputation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.check.read_instance import SITE_FIELD_DEFAULTS, Instance
from optimizer.check.values import cell_text, numbers, strings
from optimizer.instance.tables import read_table

TOWNSHIP_REQUIRED = (
    "township_id",
    "name",
    "county",
    "plannable_area_ha",
    "soil_depth_cm",
    "slope_deg",
    "rocky_desertification_grade",
    "water_available_m3",
    "irradiance_kwh_per_m2",
    "baseline_land_use",
)
TOWNSHIP_NUMERIC = (
    "plannable_area_ha",
    "soil_depth_cm",
    "slope_deg",
    "rocky_desertification_grade",
    "water_available_m3",
    "irradiance_kwh_per_m2",
)
TOWNSHIP_TEXT = ("township_id", "name", "name_zh", "county", "city", "basin", "baseline_land_use")

#: Numeric columns of allocation.csv (docs/outputs.md) that the checker recomputes.
ALLOCATION_NUMERIC: tuple[str, ...] = (
    "area_ha",
    "output_amount",
    "water_use_m3",
    "pv_capacity_mw",
    "investment_yuan",
    "revenue_yuan",
    "operating_cost_yuan",
    "value_added_yuan",
    "farmer_income_yuan",
    "gep_material_yuan",
    "gep_regulating_yuan",
    "gep_cultural_yuan",
    "gep_total_yuan",
    "baseline_farmer_income_yuan",
    "baseline_gep_total_yuan",
    "change_farmer_income_yuan",
    "change_gep_total_yuan",
)
#: Text columns of allocation.csv that the checker can also derive and compare.
ALLOCATION_TEXT: tuple[str, ...] = (
    "name",
    "county",
    "city",
    "industry_label",
    "industry_label_zh",
    "output_unit",
    "baseline_land_use",
    "locked",
)
#: Unit of each allocation figure, for messages (output_amount: the industry's own unit).
ALLOCATION_UNITS = {
    "area_ha": "ha",
    "water_use_m3": "m³",
    "pv_capacity_mw": "MWp",
    "investment_yuan": "yuan",
    "revenue_yuan": "yuan",
    "operating_cost_yuan": "yuan",
    "value_added_yuan": "yuan",
    "farmer_income_yuan": "yuan",
    "gep_material_yuan": "yuan",
    "gep_regulating_yuan": "yuan",
    "gep_cultural_yuan": "yuan",
    "gep_total_yuan": "yuan",
    "baseline_farmer_income_yuan": "yuan",
    "baseline_gep_total_yuan": "yuan",
    "change_farmer_income_yuan": "yuan",
    "change_gep_total_yuan": "yuan",
}


def _table_ref(ref: Any, base: Path, what: str) -> tuple[Path, str | None]:
    if isinstance(ref, str):
        return base / ref, None
    if isinstance(ref, Mapping) and ref.get("path"):
        layer = ref.get("layer")
        return base / str(ref["path"]), None if layer is None else str(layer)
    raise ValueError(f"instance key '{what}' must be a path or {{path, layer}}, got {ref!r}")


def _read_table(path: Path, layer: str | None, text_columns: Iterable[str]) -> pd.DataFrame:
    """The input tables' one reading rule, `optimizer/instance/tables.py`: every cell as text.

    A reading rule, not model code: the loader and the checker must see the same cells
    (a GBK township CSV, padded headers, a semicolon separator, an .xlsx sheet, a
    GeoPackage number column holding text), or a file that validates could fail here and
    discard the plan. The maths that follows remains the checker's own.
    """
    frame = read_table(path, layer, geometry=False).frame
    for col in text_columns:
        if col in frame.columns:
            frame[col] = strings(frame[col])
    return frame


def read_townships(inst: Instance) -> pd.DataFrame:
    """The township table: required columns checked, ids as text, figures as numbers."""
    path, layer = _table_ref(inst.townships_ref, inst.path.parent, "townships")
    return _typed_units(path, layer, "township", TOWNSHIP_TEXT, TOWNSHIP_REQUIRED).reset_index(drop=True)


def _typed_units(path: Path, layer: str | None, unit: str, text: Any, required: Any) -> pd.DataFrame:
    """A table of planning units (townships or villages): required columns, ids once each."""
    df = _read_table(path, layer, text)  # the text columns come back stripped (`strings`)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: {unit} table lacks column(s) {', '.join(missing)}")
    for col in TOWNSHIP_NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    key = f"{unit}_id"
    dupes = df[key][df[key].duplicated()].unique().tolist()
    if dupes:
        raise ValueError(f"{path}: {unit} id(s) appear more than once: {', '.join(dupes)}")
    return df


@dataclass
class Site:
    """Site overrides: the first row of each (township, industry), blank cells as NaN."""

    keys: pd.MultiIndex
    columns: dict[str, np.ndarray]  # usable column → float per row of `keys`

    def rows(self, tids: np.ndarray, iids: np.ndarray) -> np.ndarray:
        """Row of each (township, industry) pair in the table, or -1."""
        if not len(self.keys) or not len(tids):
            return np.full(len(tids), -1, dtype=np.intp)
        return self.keys.get_indexer(pd.MultiIndex.from_arrays([tids, iids]))

    def values(self, column: str, rows: np.ndarray) -> np.ndarray | None:
        """The column's value for each row index (NaN where -1 or blank); None if absent."""
        col = self.columns.get(column)
        if col is None:
            return None
        return np.where(rows >= 0, col[np.maximum(rows, 0)], np.nan) if len(col) else None


def read_site(inst: Instance, notes: list[str]) -> Site:
    """Site overrides by (township, industry): only non-blank cells count."""
    empty = Site(pd.MultiIndex.from_arrays([[], []]), {})
    if inst.site_ref is None:
        return empty
    path, layer = _table_ref(inst.site_ref, inst.path.parent, "site_coefficients")
    df = _read_table(path, layer, ("township_id", "industry"))
    for col in ("township_id", "industry"):
        if col not in df.columns:
            raise ValueError(f"{path}: site-coefficient table lacks column {col}")
    usable = []
    for col in df.columns:
        if col in ("township_id", "industry", "source") or col.startswith("note"):
            continue  # kept for people, like the validator does
        if col in SITE_FIELD_DEFAULTS or col.startswith("gep."):
            usable.append(col)
        else:
            notes.append(f"site-coefficient column '{col}' is not a site-specific field; ignored")
    tids = strings(df["township_id"])
    iids = strings(df["industry"])
    twice = pd.DataFrame({"t": tids, "i": iids}).duplicated().to_numpy()
    for k in np.flatnonzero(twice):
        notes.append(
            f"site coefficients for {tids[k]}/{iids[k]} appear twice; the first row is used"
        )
    keep = ~twice
    return Site(
        pd.MultiIndex.from_arrays([tids[keep], iids[keep]]),
        {c: numbers(df[c])[keep] for c in usable},
    )


def read_allocation(allocation: pd.DataFrame | Path | str, key: str = "township_id") -> pd.DataFrame:
    """Allocation as text ids + numeric figure columns, whatever it was read from.

    In a village instance (`key="village_id"`) the plan is per village: the village id
    becomes the row's `township_id` (the checker's unit id), as for the village table, and
    the written township id is kept as `parent_township_id` to be compared.
    """
    if isinstance(allocation, (str, Path)):
        df = pd.read_csv(Path(allocation), dtype=str, keep_default_na=False, encoding="utf-8-sig")
        # The tool writes text a spreadsheet would run as a formula (=, +, -, @, tab, CR
        # first) with a leading apostrophe; read such a cell as what it stands for.
        for col in df.columns:
            if "'" in "".join(map(str, df[col].to_numpy(dtype=object))):  # one pass in C; most columns hold no apostrophe
                df[col] = df[col].map(_formula_text)
    else:
        df = allocation.copy()
    for col in (key, "industry"):
        if col not in df.columns:
            raise ValueError(f"the allocation has no '{col}' column")
    if key != "township_id":
        df = df.rename(columns={"township_id": "parent_township_id"}).rename(columns={key: "township_id"})
        for col in ("parent_township_id", "township_name", "leading_industry", "takes_leading_industry"):
            if col in df.columns:
                df[col] = strings(df[col], cell_text)
    for col in ("township_id", "industry"):
        df[col] = strings(df[col])
    for col in ALLOCATION_NUMERIC:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ALLOCATION_TEXT:
        if col in df.columns:
            df[col] = strings(df[col], cell_text)
    return df.reset_index(drop=True)


def _formula_text(cell: str) -> str:
    if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return cell[1:]
    return cell


# --------------------------------------------------------------------------- village instances

#: A village row has a township's site figures, with its own id and its township in place of a county.
VILLAGE_REQUIRED = ("village_id", "name", "township_id", *TOWNSHIP_REQUIRED[3:])
VILLAGE_TEXT = ("village_id", "name", "name_zh", "township_id", "baseline_land_use")


def read_villages(inst: Instance, towns: pd.DataFrame) -> pd.DataFrame:
    """The village table as the checker's planning units.

    Returned in the township table's layout, so that every family check reads it as it
    reads townships: `township_id` holds the village id, `parent` the village's township,
    and county, city and basin come from that township.
    """
    path, layer = _table_ref(inst.villages_ref, inst.path.parent, "villages")
    df = _typed_units(path, layer, "village", VILLAGE_TEXT, VILLAGE_REQUIRED)
    parent = towns.set_index("township_id")
    units = pd.DataFrame(
        {
            "township_id": df["village_id"].to_numpy(dtype=object),
            "name": df["name"].to_numpy(dtype=object),
            "name_zh": df["name_zh"].to_numpy(dtype=object) if "name_zh" in df.columns else "",
            "parent": df["township_id"].to_numpy(dtype=object),
        }
    )
    for col in ("county", "city", "basin"):
        values = parent[col] if col in parent.columns else pd.Series("", index=parent.index)
        units[col] = values.reindex(units["parent"]).fillna("").to_numpy(dtype=object)
    for col in (*TOWNSHIP_NUMERIC, "baseline_land_use"):
        units[col] = df[col].to_numpy()
    return units.reset_index(drop=True)


def _site_frame(path: Path, layer: str | None, key: str, notes: list[str]) -> pd.DataFrame:
    """A site table as floats indexed by (key, industry): usable columns, first row of a pair."""
    df = _read_table(path, layer, (key, "industry"))
    for col in (key, "industry"):
        if col not in df.columns:
            raise ValueError(f"{path}: site-coefficient table lacks column {col}")
    usable = [c for c in df.columns
              if c not in (key, "industry", "source") and not c.startswith("note")
              and (c in SITE_FIELD_DEFAULTS or c.startswith("gep."))]  # fmt: skip
    ids, iids = strings(df[key]), strings(df["industry"])
    frame = pd.DataFrame({c: numbers(df[c]) for c in usable})
    frame.index = pd.MultiIndex.from_arrays([ids, iids], names=["unit", "industry"])
    twice = frame.index.duplicated()
    for k in np.flatnonzero(twice):
        notes.append(f"site coefficients for {ids[k]}/{iids[k]} appear twice; the first row is used")
    return frame[~twice]


def read_village_site(inst: Instance, units: pd.DataFrame, notes: list[str]) -> Site:
    """Site overrides by (village, industry): the township's row, then the village's, cell by cell."""
    frames = []
    if inst.site_ref is not None:
        path, layer = _table_ref(inst.site_ref, inst.path.parent, "site_coefficients")
        town = _site_frame(path, layer, "township_id", notes).reset_index()
        members = pd.DataFrame({"village": units["township_id"].to_numpy(), "unit": units["parent"].to_numpy()})
        expanded = members.merge(town, on="unit").drop(columns="unit").rename(columns={"village": "unit"})
        frames.append(expanded.set_index(["unit", "industry"]))
    if inst.village_site_ref is not None:
        path, layer = _table_ref(inst.village_site_ref, inst.path.parent, "village_site_coefficients")
        frames.insert(0, _site_frame(path, layer, "village_id", notes))  # the village's own row first
    if not frames:
        return Site(pd.MultiIndex.from_arrays([[], []]), {})
    merged = frames[0]
    for other in frames[1:]:
        merged = merged.combine_first(other)  # a blank village cell keeps the township's value
    return Site(
        pd.MultiIndex.from_arrays([merged.index.get_level_values(0).to_numpy(dtype=object),
                                   merged.index.get_level_values(1).to_numpy(dtype=object)]),
        {c: merged[c].to_numpy(dtype=float) for c in merged.columns},
    )  # fmt: skip
