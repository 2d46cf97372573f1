"""Cell values as the checker reads them (numbers, ids, text) and its tolerance rules.

The scalar rules (`number`, `ident`, `cell_text`) decide what a YAML or CSV value means;
the column versions (`numbers`, `strings`) give the same answers for whole columns at
once, because a township table may have tens of thousands of rows. Two tolerances live
here: `close` compares a written number with its recomputation (relative `tol`, absolute
below 1, so CSV rounding is never reported), and `holds_within` decides whether a limit
holds, by the absolute tolerance of its unit (`LIMIT_TOLERANCE`, stated in docs/model.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def number(value: Any) -> float | None:
    """A YAML/CSV value as a float, or None when blank / missing / not a number."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def ident(value: Any) -> str:
    """An id as text: integers stored as floats (450321101.0) lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if hasattr(value, "item") and not isinstance(value, str):
        return ident(value.item())
    return str(value).strip()


def cell_text(value: Any) -> str:
    """A written text cell: blank for None / NaN, else the text without outer spaces."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def strings(column: pd.Series, rule: Callable[[Any], str] = ident) -> np.ndarray:
    """`rule` (`ident` or `cell_text`) applied to a whole column; an object array of str.

    Columns of text (the usual case: CSVs are read as text) are stripped by `str.strip`
    mapped over the column; integer and boolean columns are printed by numpy; anything else (float ids,
    mixed objects) falls back to the scalar rule, value by value, so the result is the
    same as applying `rule` to each cell.
    """
    arr = column.to_numpy(dtype=object)
    if not len(arr):
        return arr
    if pd.api.types.infer_dtype(arr, skipna=True) == "string":
        missing = pd.isna(arr)
        out = np.empty(len(arr), dtype=object)
        present = ~missing
        out[present] = list(map(str.strip, arr[present]))  # str.strip mapped in C: 5× faster than pandas' .str.strip
        if missing.any():
            out[missing] = [rule(v) for v in arr[missing]]
        return out
    if column.dtype.kind in "iub":
        return column.astype(str).to_numpy(dtype=object)
    return np.array([rule(v) for v in arr], dtype=object)


def numbers(column: pd.Series) -> np.ndarray:
    """`number` applied to a whole column: float64, NaN where `number` gives None."""
    if column.dtype.kind in "fiub":
        return column.to_numpy(dtype=float, na_value=np.nan)
    arr = column.to_numpy(dtype=object)
    out = np.full(len(arr), np.nan)
    if not len(arr):
        return out
    if pd.api.types.infer_dtype(arr, skipna=True) == "string":
        filled = ~(pd.isna(arr) | (arr == ""))
        try:
            # numpy turns a str into a float exactly as float() does (spaces, '1_000', 'nan')
            out[filled] = arr[filled].astype(float)
            return out
        except (TypeError, ValueError):
            pass  # a cell of spaces, or not a number: the scalar rule decides cell by cell
    return np.array([np.nan if (x := number(v)) is None else x for v in arr], dtype=float)


def close(written: float, recomputed: float, tol: float) -> bool:
    """Equal within a relative tolerance, absolute for numbers smaller than 1."""
    return abs(written - recomputed) <= tol * max(1.0, abs(written), abs(recomputed))


def _fmax3(a: Any, b: Any) -> np.ndarray:
    """max(1.0, |a|, |b|) element-wise, skipping NaN like Python's max() does here."""
    return np.fmax(np.fmax(1.0, np.abs(a)), np.abs(b))


#: How far a limit may be exceeded and still hold, in the units planners read (docs/model.md,
#: "Tolerances"). Restated here, not imported: the checker shares no code with the model.
#: They cover HiGHS's feasibility tolerance (1e-7 in the model's 万 m³ / 万元 / 亿元 rows)
#: and rounding; any output unit (t, MWh) gets OUTPUT_TOLERANCE.
LIMIT_TOLERANCE: dict[str, float] = {"m³": 1.0, "yuan": 10.0, "ha": 0.01, "MWp": 0.001, "industries": 1e-6, "": 1e-6}
OUTPUT_TOLERANCE = 0.01
#: Relative part for very large limits (float rounding of sums of 10⁵ terms).
RELATIVE_TOLERANCE = 1e-9


def limit_tolerance(unit: str, rhs: np.ndarray) -> np.ndarray:
    """The absolute tolerance of each row of a limit in `unit` (see LIMIT_TOLERANCE)."""
    base = LIMIT_TOLERANCE.get(unit, OUTPUT_TOLERANCE)
    with np.errstate(invalid="ignore"):
        return np.fmax(base, RELATIVE_TOLERANCE * np.abs(rhs))


def holds_within(lhs: np.ndarray, sense: str, rhs: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Whether lhs (sense) rhs holds up to the absolute tolerance `tol`; a NaN side never holds."""
    with np.errstate(invalid="ignore", over="ignore"):
        if sense == "<=":
            return lhs <= rhs + tol
        if sense == ">=":
            return lhs >= rhs - tol
        return np.abs(lhs - rhs) <= tol


def close_all(written: np.ndarray, recomputed: np.ndarray, tol: float) -> np.ndarray:
    """`close` row by row (a NaN is never close)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(written - recomputed) <= tol * _fmax3(written, recomputed)


def floats(values: Any, n: int) -> np.ndarray:
    """A scalar or an array as a float64 array of length n."""
    arr = np.asarray(values, dtype=float)
    return np.full(n, float(arr)) if arr.ndim == 0 else arr
