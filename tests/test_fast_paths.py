"""The readers' fast paths give exactly what the cell-by-cell rules give.

Why: at 50,000 townships the per-cell rules (strip every CSV cell, print every stored
number, strip every text column again in the checker) cost seconds of a 30 s budget, so
each has a whole-column shortcut. A shortcut that changed one cell would change what the
loader and the checker read; these properties hold the shortcuts to the slow rules.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.check.values import ident, strings
from optimizer.instance.tables import _column_text, _float_text, _from_records

pytestmark = pytest.mark.property

# Cells drawn to hit the edges: spaces, tabs, ideographic space, NBSP, quotes, separators.
_CHARS = st.sampled_from(list("ab1 .,;\t\u3000\u00a0\"'-") + ["乡", "\x00", "\x1f"])
_CELL = st.text(_CHARS, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_CELL, min_size=1, max_size=4), min_size=1, max_size=6), st.sampled_from([",", ";", "\t", "|"]))
def test_csv_records_read_as_the_generic_rule(rows: list[list[str]], delimiter: str) -> None:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    parsed = list(csv.reader(io.StringIO(buf.getvalue(), newline=""), delimiter=delimiter))
    generic = _from_records("t.csv", iter([[c.strip() for c in rec] for rec in parsed]))  # type: ignore[arg-type]
    fast = _from_records("t.csv", iter(parsed))  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(generic.frame, fast.frame)
    assert generic.rows == fast.rows and [str(p) for p in generic.problems] == [str(p) for p in fast.problems]


_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**16), 10**16).map(float),
    st.sampled_from([0.0, -0.0, 1e15, -1e15, 1e15 - 1, 999999999999999.9, 0.1, 1e-7, 5e-324]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FLOATS, max_size=30))
def test_stored_numbers_print_as_the_scalar_rule(values: list[float]) -> None:
    arr = np.array(values, dtype=float)
    assert _column_text(arr) == [_float_text(float(v)) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62), max_size=30))
def test_stored_integers_print_as_python_does(values: list[int]) -> None:
    assert _column_text(np.array(values, dtype=np.int64)) == [str(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(_CELL, min_size=1, max_size=20))
def test_checker_strings_equal_the_scalar_rule(cells: list[str]) -> None:
    got = strings(pd.Series(cells, dtype=object))
    assert list(got) == [ident(c) for c in cells]


def test_float_text_examples() -> None:
    assert _column_text(np.array([3.0, 2.5, math.nan, 1e20])) == ["3", "2.5", "", "1e+20"]


def test_report_reader_undoes_formula_escaping(tmp_path) -> None:
    """What `write_csv` made inert with an apostrophe reads back as the name it was; other apostrophes stay."""
    from optimizer.outputs.report.page import read_csv
    from optimizer.outputs.write import write_csv

    df = pd.DataFrame({"township_id": ["T1", "T2", "T3"], "name": ["=1+1", "Xi'an", "-"], "area_ha": [1.0, 2.0, math.nan]})
    write_csv(tmp_path / "a.csv", df)
    assert "'=1+1" in (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    back = read_csv(tmp_path / "a.csv")
    assert list(back["name"]) == ["=1+1", "Xi'an", "-"]
