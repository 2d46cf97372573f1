"""The one reader of township and site tables: CSV, Excel, GeoPackage, GeoJSON, Shapefile, FlatGeobuf.

Every cell comes back as text, exactly as written (outer spaces stripped), so that
validation can report a bad number at its row and column instead of letting a parser
coerce it silently. The loader and the independent checker both read tables here: one
reading rule, so a file that validates is a file the checker reads the same way.

What planners really send, and what this reader does with it:

- CSV in UTF-8 (with or without the BOM Excel writes), UTF-16 (Excel's "Unicode text",
  tab-separated) or GBK/GB18030 (Excel and Notepad on a Chinese Windows): decoded, the
  encoding logged; anything else refused at the first undecodable line, naming it.
- Comma, semicolon, tab or bar separators: detected from the header line.
- Headers and cells padded with spaces: stripped, for every reader alike.
- `.xlsx` workbooks: read directly (the only non-empty sheet, or `layer: SHEET`).
- GeoPackages whose number columns hold text (SQLite stores what it is given; GDAL then
  reads `abc` as 0, `12,5` as 12 and a grade 2.5 as 2): the text is read back from the
  file, so validation sees `abc`, `12,5` and `2.5`.
- GeoPackage srs_id −1 and 0, the standard's "undefined" systems: no CRS.
- Geometries GEOS cannot build (an unclosed ring): refused at their row, the rest read.
- A named pipe, folder or device given as a table: refused before opening (opening a
  pipe blocks forever).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import logging
import math
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InputError, Location, Problem, did_you_mean, file_problem
from optimizer.i18n import _, language

log = logging.getLogger(__name__)

SPATIAL = {".gpkg", ".geojson", ".json", ".shp", ".fgb"}
EXCEL = {".xlsx", ".xlsm"}
SUFFIXES = {".csv", ".txt", ".tsv", *EXCEL, *SPATIAL}

#: Control characters no table cell should hold (tab, line feed and carriage return are
#: legitimate inside quoted CSV cells).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


@dataclass
class Table:
    """A table as text: one column per header, one row per data record.

    `rows` holds each record's data-row number in the file (header excluded; blank
    records are skipped but counted), which is what messages cite. `problems` are
    located faults that did not stop the reading (a NUL in a cell, a ring that is not
    closed); the loader reports them with everything else.
    """

    frame: pd.DataFrame
    geometry: Any | None = None  # geopandas.GeoSeries in row order, or None
    crs: str | None = None
    problems: list[Problem] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    #: Row positions whose geometry could not be read (already in `problems`).
    bad_geometry: set[int] = field(default_factory=set)


#: Formats whose whole content is one file, so that its bytes say what a reading gives.
#: (A Shapefile's attributes live in sidecar files; a GeoPackage with a `-wal` file beside
#: it has writes not yet in the main file: neither is cached.)
_ONE_FILE = {".csv", ".txt", ".tsv", *EXCEL, ".geojson", ".json", ".fgb", ".gpkg"}
#: Readings kept in this process, by path, layer, geometry, the file's SHA-256 and the
#: language of the messages of its located problems.
_READ_CACHE: OrderedDict[tuple[str, str | None, bool, str, str], Table] = OrderedDict()
_READ_CACHE_SIZE = 6  # a village instance reads up to four tables
_READ_CACHE_LOCK = threading.Lock()


def read_table(path: Path, layer: str | None = None, *, geometry: bool = True) -> Table:
    """Read a township or site table; raise InputError when it cannot be read at all.

    A table read before in this process with the same bytes is not parsed again: a sweep
    reads the same township table at every point, and the loader and the checker read it
    for every run (parsing is most of "read", 0.05–0.1 s per 5,000 rows). The reading is
    keyed by the file's content hash, never by its name or time stamp, so an edited file
    is always read anew. Each caller gets its own copy of the frame (the cell strings are
    shared, which also makes the ids of consecutive sweep points compare by identity).
    """
    path = Path(path)
    bad = file_problem(path, _("table '{name}'").format(name=path.name))
    if bad is not None:
        raise InputError([bad])
    key = _content_key(path, layer, geometry)
    if key is not None:
        with _READ_CACHE_LOCK:
            hit = _READ_CACHE.get(key)
            if hit is not None:
                _READ_CACHE.move_to_end(key)
        if hit is not None:
            return _copy(hit)
    table = _read_uncached(path, layer, geometry)
    if key is not None:
        with _READ_CACHE_LOCK:
            _READ_CACHE[key] = _copy(table)
            while len(_READ_CACHE) > _READ_CACHE_SIZE:
                _READ_CACHE.popitem(last=False)
    return table


def _content_key(path: Path, layer: str | None, geometry: bool) -> tuple[str, str | None, bool, str, str] | None:
    suffix = path.suffix.lower()
    if suffix not in _ONE_FILE or (suffix == ".gpkg" and path.with_name(path.name + "-wal").exists()):
        return None
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # the reader says what is wrong with the file
    return str(path.resolve()), layer, geometry, digest, language()


def _copy(table: Table) -> Table:
    """A copy a caller may change without changing the cached reading."""
    return dataclasses.replace(
        table, frame=table.frame.copy(), geometry=None if table.geometry is None else table.geometry.copy(),
        problems=list(table.problems), rows=list(table.rows), bad_geometry=set(table.bad_geometry))


def _read_uncached(path: Path, layer: str | None, geometry: bool) -> Table:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        table = _read_csv(path)
    elif suffix in EXCEL:
        table = _read_excel(path, layer)
    elif suffix == ".xls":
        raise InputError([Problem(Location(path), _("old Excel files (.xls) are not read"),
                                  _("save it as .xlsx (Excel workbook) or as CSV UTF-8"))])
    elif suffix in SPATIAL:
        table = _read_ogr(path, layer, geometry)
    else:
        raise InputError([Problem(Location(path), _("unsupported table format '{suffix}'").format(suffix=suffix),
                                  _("use .gpkg, .geojson, .csv or .xlsx"))])
    table.problems.extend(_cell_problems(path, table))
    return table


# --------------------------------------------------------------------------- CSV


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Bytes → (text, encoding name), trying what Chinese offices save, in a safe order."""
    for bom, codec, name in ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
                             (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
                             (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec), name
            except UnicodeDecodeError as exc:
                raise InputError([Problem(Location(path), _(
                    "the file starts with a {name} byte-order mark but is not {name} text ({reason})").format(
                    name=name, reason=exc.reason), _("save it as CSV UTF-8"))]) from None
    if len(raw) >= 4 and raw.count(0) > len(raw) // 4:  # UTF-16 without a byte-order mark
        odd, even = raw[1::2].count(0), raw[0::2].count(0)
        codec = "utf-16-le" if odd > 4 * even else "utf-16-be" if even > 4 * odd else None
        if codec is not None:
            try:
                return raw.decode(codec), codec.upper()
            except UnicodeDecodeError:
                pass
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    valid = len(_UTF8_MULTIBYTE.findall(raw))
    invalid = len(raw.decode("utf-8", errors="replace")) - len(raw.decode("utf-8", errors="ignore"))
    line = raw.count(b"\n", 0, first_bad) + 1
    if valid > 4 * invalid:  # UTF-8 with a few broken bytes, not another encoding
        raise InputError([Problem(Location(path, line), _(
            "the file is UTF-8 text with {n} broken byte(s), the first on this line").format(n=invalid),
            _("retype the damaged text, or export the table again"))])
    try:
        return raw.decode("gb18030"), "GB18030"
    except UnicodeDecodeError:
        raise InputError([Problem(Location(path, line), _(
            "the file is neither UTF-8, UTF-16 nor GBK/GB18030 text (first undecodable byte on this line)"),
            _("save it from Excel as 'CSV UTF-8 (comma delimited)'"))]) from None


def _delimiter(header: str) -> str:
    """The separator that splits the header line into the most columns (ties: comma)."""
    best, count = ",", 0
    for d in _DELIMITERS:
        n = len(next(csv.reader([header], delimiter=d), []))
        if n > count:
            best, count = d, n
    return best


def _read_csv(path: Path) -> Table:
    text, encoding = _decode(path.read_bytes(), path)
    text = text.lstrip("\ufeff")
    header_line = next((ln for ln in text.splitlines() if ln.strip().strip(",;\t|")), "")
    delimiter = _delimiter(header_line)
    if encoding != "UTF-8" or delimiter != ",":
        log.info("%s: read as %s, %s-separated", path.name, encoding, _DELIMITER_NAMES[delimiter])
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return _from_records(path, records, encoding=encoding, delimiter=delimiter)


def _from_records(path: Path, records: Any, **meta: Any) -> Table:
    """Header + data records of str (csv.reader's, or `_excel_text`'s) → a text table; blank
    records skipped, ragged ones reported. Cells are stripped by `str.strip` mapped in C:
    a 200,000-row site table reads ~1 s faster than with a comprehension."""
    problems: list[Problem] = []
    header: list[str] | None = None
    data: list[list[str]] = []
    rows: list[int] = []
    number = 0
    try:
        for record in records:
            cells = list(map(str.strip, record))
            if header is None:
                if any(cells):
                    header = [c.lstrip("\ufeff").strip() for c in cells]
                continue
            number += 1
            if not any(cells):
                continue
            if len(cells) > len(header) and any(cells[len(header):]):
                problems.append(Problem(Location(path, row=number), _(
                    "the row has {n} cells but the header has {m} columns").format(n=len(cells), m=len(header)),
                    _("a separator inside a value? Put such values in double quotes")))
            if len(cells) != len(header):
                cells = (cells + [""] * len(header))[: len(header)]
            data.append(cells)
            rows.append(number)
    except csv.Error as exc:
        raise InputError([Problem(Location(path, row=number + 1), _("cannot read the CSV: {reason}").format(
            reason=exc))]) from None
    if header is None:
        return Table(pd.DataFrame(), problems=problems, rows=[], **meta)
    frame = pd.DataFrame(data, columns=range(len(header)), dtype=object)
    keep: list[int] = []
    names: list[str] = []
    first: dict[str, int] = {}
    for j, name in enumerate(header):
        if not name:
            if frame.empty or not frame[j].astype(bool).any():
                continue  # a trailing separator: an unnamed, empty column
            name = _("(column {n})").format(n=j + 1)
        if name in first:
            problems.append(Problem(Location(path, table_column=name), _(
                "the column '{name}' appears twice (columns {a} and {b}); the first is read").format(
                name=name, a=first[name] + 1, b=j + 1)))
            continue
        first[name] = j
        keep.append(j)
        names.append(name)
    frame = frame[keep].copy() if keep else pd.DataFrame(index=frame.index)
    frame.columns = names
    return Table(frame.reset_index(drop=True), problems=problems, rows=rows, **meta)


# --------------------------------------------------------------------------- Excel


def _excel_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _read_excel(path: Path, layer: str | None) -> Table:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError([Problem(Location(path), _("reading .xlsx needs the openpyxl package"),
                                  _("pip install openpyxl, or save the sheet as CSV UTF-8"))]) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and data validation it drops
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: say so, located at the file
        raise InputError([Problem(Location(path), _("cannot read the Excel file ({reason})").format(
            reason=f"{type(exc).__name__}: {exc}"), _("open it in Excel and save it again as .xlsx"))]) from None
    try:
        sheets = book.sheetnames
        if layer is not None:
            if layer not in sheets:
                raise InputError([Problem(Location(path), _("no sheet '{layer}' in the workbook (it has: {sheets})")
                                          .format(layer=layer, sheets=", ".join(sheets)), did_you_mean(layer, sheets))])
            chosen = layer
        else:
            filled = [s for s in sheets if book[s].max_row and any(
                v is not None for row in book[s].iter_rows(max_row=1, values_only=True) for v in row)]
            if len(filled) > 1:
                raise InputError([Problem(Location(path), _("the workbook has {n} sheets with data ({sheets})").format(
                    n=len(filled), sheets=", ".join(filled)), _("say which one with {path: ..., layer: SHEET}"))])
            chosen = filled[0] if filled else sheets[0]
        records = ([_excel_text(v) for v in row] for row in book[chosen].iter_rows(values_only=True))
        return _from_records(path, records)
    finally:
        book.close()


# --------------------------------------------------------------------------- GeoPackage & co.


def _float_text(x: float) -> str:
    """A stored number as text: whole numbers without '.0' (ids stored as REAL keep their digits)."""
    if math.isnan(x):
        return ""
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def _column_text(values: np.ndarray) -> list[str]:
    if isinstance(values, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(values)
        return ["" if m else t for m, t in zip(mask, _column_text(values.data))]
    kind = values.dtype.kind
    if kind == "f":  # `_float_text` of each value, printed by numpy at once (its str of a float64 is repr's)
        values = values.astype(np.float64, copy=False)
        whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 1e15)
        text = values.astype(str).astype(object)
        text[whole] = values[whole].astype(np.int64).astype(str)
        text[np.isnan(values)] = ""
        return text.tolist()
    if kind in "iu":
        return values.astype(str).tolist()
    if kind == "b":
        return ["true" if v else "false" for v in values]
    if kind == "M":
        return ["" if np.isnat(v) else str(v) for v in values]
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else
            (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)).strip() for v in values]


_SQL_INTEGER = {"INTEGER", "INT", "MEDIUMINT", "SMALLINT", "TINYINT"}
_SQL_REAL = {"REAL", "FLOAT", "DOUBLE"}


def _gpkg_stored(path: Path, layer: str) -> tuple[dict[str, dict[int, str]], int | None]:
    """Cells of number columns that SQLite stores as something else, by fid, as written; and the srs_id.

    A GeoPackage is an SQLite file, and SQLite keeps text in a REAL column as text. GDAL
    then converts it (`abc` → 0, `1.2.3` → 1.2, `12,5` → 12) and an INTEGER column's 2.5
    becomes 2, all silently. Reading the stored value back lets validation see the truth.
    """
    import sqlite3

    stored: dict[str, dict[int, str]] = {}
    srs_id: int | None = None
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return stored, None
    try:
        q = '"' + layer.replace('"', '""') + '"'
        row = con.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
        srs_id = None if row is None else int(row[0])
        info = con.execute(f"PRAGMA table_info({q})").fetchall()
        pk = next((r[1] for r in info if r[5] == 1), None)
        if pk is None:
            return stored, srs_id
        for _cid, name, decl, *_rest in info:
            base = str(decl or "").upper().split("(")[0].strip()
            allowed = ("integer", "null") if base in _SQL_INTEGER else ("integer", "real", "null") if base in _SQL_REAL else None
            if allowed is None or name == pk:
                continue
            c = '"' + str(name).replace('"', '""') + '"'
            marks = ",".join("?" * len(allowed))
            bad = con.execute(
                f"SELECT {pk}, typeof({c}), CAST({c} AS TEXT) FROM {q} WHERE typeof({c}) NOT IN ({marks})", allowed
            ).fetchall()
            if bad:
                stored[str(name)] = {int(fid): (_("(binary data)") if kind == "blob" else str(text or "")).strip()
                                     for fid, kind, text in bad}
    except sqlite3.Error as exc:
        log.debug("%s: could not inspect the GeoPackage's storage (%s)", path.name, exc)
    finally:
        con.close()
    return stored, srs_id


def _geometry_reason(wkb: bytes) -> str:
    import shapely

    try:
        shapely.from_wkb(wkb)
    except Exception as exc:  # noqa: BLE001 - GEOS says why
        text = str(exc)
        if "closed linestring" in text:
            return _("a ring of the polygon is not closed (its first and last points differ)")
        return text.split(":", 1)[-1].strip() or type(exc).__name__
    return _("unreadable geometry")


def _read_ogr(path: Path, layer: str | None, geometry: bool) -> Table:
    import pyogrio

    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # noqa: BLE001 - GDAL's own words, at the file
        raise InputError([Problem(Location(path), _("cannot read the file ({reason})").format(reason=exc))]) from None
    if not layers:
        raise InputError([Problem(Location(path), _("the file has no layers"))])
    if layer is None and len(layers) > 1:
        raise InputError([Problem(Location(path), _("the file has {n} layers ({layers})").format(
            n=len(layers), layers=", ".join(layers)), _("say which one with townships: {path: ..., layer: NAME}"))])
    if layer is not None and layer not in layers:
        raise InputError([Problem(Location(path), _("no layer '{layer}' in the file (it has: {layers})").format(
            layer=layer, layers=", ".join(layers)), did_you_mean(layer, layers))])
    name = layer or layers[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            meta, fids, wkb, fields = pyogrio.raw.read(path, layer=name, return_fids=True, read_geometry=geometry)
    except Exception as exc:  # noqa: BLE001
        raise InputError([Problem(Location(path), _("cannot read the layer '{layer}' ({reason})").format(
            layer=name, reason=exc))]) from None
    columns = [str(c).strip() for c in meta["fields"]]
    frame = pd.DataFrame({i: _column_text(arr) for i, arr in enumerate(fields)}, dtype=object)
    frame = frame if len(columns) else pd.DataFrame(index=range(len(fids)))
    crs = meta.get("crs")
    problems: list[Problem] = []
    if path.suffix.lower() == ".gpkg":
        stored, srs_id = _gpkg_stored(path, name)
        if srs_id in (-1, 0):
            crs = None  # the standard's "undefined Cartesian" (−1) and "undefined geographic" (0) systems
        if stored:
            position = {int(f): i for i, f in enumerate(fids)}
            for col, cells in stored.items():
                j = columns.index(col) if col in columns else None
                if j is None:
                    continue
                for fid, text in cells.items():
                    if fid in position:
                        frame.iat[position[fid], j] = text
    frame.columns = columns
    dupes = pd.Index(columns)[pd.Index(columns).duplicated()].unique()
    for c in sorted(dupes):
        problems.append(Problem(Location(path, table_column=c), _("the column '{name}' appears twice").format(name=c)))
    frame = frame.loc[:, ~pd.Index(columns).duplicated()]
    table = Table(frame.reset_index(drop=True), crs=crs, problems=problems, rows=list(range(1, len(fids) + 1)))
    if geometry and wkb is not None:
        import geopandas as gpd
        import shapely

        shapes = shapely.from_wkb(wkb, on_invalid="ignore")
        for i in np.flatnonzero(pd.isna(shapes) & pd.notna(wkb))[:50]:
            table.bad_geometry.add(int(i))
            problems.append(Problem(Location(path, row=int(i) + 1, table_column="geometry"), _(
                "the geometry cannot be read: {reason}").format(reason=_geometry_reason(wkb[i])),
                _("repair it in QGIS with Vector ▸ Geometry Tools ▸ Fix Geometries")))
        table.geometry = gpd.GeoSeries(shapes, crs=crs)
    return table


# --------------------------------------------------------------------------- every reader


def _cell_problems(path: Path, table: Table) -> list[Problem]:
    """NUL and other control characters, in headers and cells, located."""
    problems: list[Problem] = []
    for name in table.frame.columns:
        if _CONTROL.search(str(name)):
            problems.append(Problem(Location(path, table_column=repr(str(name))), _(
                "the column name holds a control character")))
    for name in table.frame.columns:
        col = table.frame[name].astype(str)
        if not _CONTROL.search("".join(col.to_numpy(dtype=object))):
            continue  # one search over the whole column: a clean column (the usual case) costs one pass in C
        hits = np.flatnonzero(col.str.contains(_CONTROL, regex=True).to_numpy())
        for i in hits[:20]:
            ch = _CONTROL.search(col.iloc[i]).group()  # type: ignore[union-attr]
            what = _("a NUL byte (U+0000)") if ch == "\x00" else _("the control character U+{code:04X}").format(code=ord(ch))
            problems.append(Problem(Location(path, row=table.rows[i] if table.rows else i + 1, table_column=str(name)),
                                    _("the cell holds {what}").format(what=what),
                                    _("the file may be damaged, or saved in another encoding")))
    return problems
