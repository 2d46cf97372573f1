"""Typing the cells of the township and site tables: numbers, ranges, blanks, ids.

Tables arrive as text (`tables.py`); this module decides, cell by cell, what is a number,
whether it lies in its physical range (`schema.RANGES`, the same bounds the YAML schema
uses) and whether the ids and names a table joins on are present, reporting every bad
cell at its row and column. It needs no valid YAML: when the instance file has
problems, the loader still runs these checks, so one run lists the YAML's, the township
table's and the site table's problems together.

Numbers are read strictly (`12`, `-0.5`, `1.2e3`): what a spreadsheet shows as a number
but Python would read differently (`12,5`, `1_000`, `85%`, full-width `１２`, `inf`) is
refused with a hint, so the validator, the model and the checker cannot disagree on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import Location, Problem, close_match, did_you_mean
from optimizer.i18n import _
from optimizer.instance.schema import RANGES, SITE_FIELDS, TOWNSHIP_COLUMNS

#: A cell's Location from (row position in the table, column name); position None means
#: the whole column. Lets the loader point a value set by `--set` at the command line.
Locate = Callable[[int | None, str], Location]

NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?[0-9]+,[0-9]+$")
_THOUSANDS = re.compile(r"^[+-]?[0-9]{1,3}(?:[, ][0-9]{3})+(?:\.[0-9]+)?$")
_NON_FINITE = re.compile(r"^[+-]?(?:inf|infinity|nan|∞)$", re.IGNORECASE)
_WITH_UNIT = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*[^0-9\s.,+-]+.*$")
#: At most this many problems of one kind per column; then one line says how many more.
PER_COLUMN = 20


def numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Text cells → (floats, ok): ok where the cell is a finite number written plainly.

    pandas' parser (C speed) accepts a subset of what Python's `float` does — not `1_000`,
    full-width or Arabic-Indic digits — and the `inf`/`nan` it does accept are refused as
    not finite, so what passes here is read identically by every later parser.
    """
    values = pd.to_numeric(pd.Series(raw.to_numpy(dtype=object), dtype=object), errors="coerce")
    values = np.asarray(values, dtype=float).copy()
    ok = np.isfinite(values)
    values[~ok] = np.nan
    return values, ok


def number_problem(text: str) -> tuple[str, str | None]:
    """Why `text` is not a number, and a hint, in words."""
    t = text.strip()
    if t == "":
        return _("the cell is blank; a number is required"), None
    if NUMBER.fullmatch(t):
        return _("'{text}' is too large to be a number").format(text=t), None
    if _NON_FINITE.match(t):
        return _("'{text}' is not a finite number").format(text=t), _("write the value as an ordinary number")
    if _DECIMAL_COMMA.match(t):
        return _("'{text}' is not a number").format(text=t), _("use a point as the decimal separator: {fixed}").format(
            fixed=t.replace(",", "."))
    if _THOUSANDS.match(t):
        return _("'{text}' is not a number").format(text=t), _("write it without thousands separators: {fixed}").format(
            fixed=t.replace(",", "").replace(" ", ""))
    if t.endswith("%"):
        return _("'{text}' is not a number").format(text=t), _("write shares as decimals (85% is 0.85)")
    if any("\uff10" <= c <= "\uff19" for c in t):
        return _("'{text}' is not a number").format(text=t), _("type the digits in half-width (ASCII) characters")
    if "_" in t:
        return _("'{text}' is not a number").format(text=t), _("write it without '_'")
    if _WITH_UNIT.match(t):
        return _("'{text}' is not a number").format(text=t), _("write the number alone; the unit is in the column name")
    return _("'{text}' is not a number").format(text=t), None


def range_problem(name: str, text: str) -> str:
    """`name`'s value `text` lies outside its physical range: the message, with the range."""
    rng = RANGES[name]
    return _("{name} {value} is outside the accepted range, {range}").format(
        name=name, value=text, range=rng.text())


def check_numbers(
    raw: pd.Series, column: str, range_name: str | None, locate: Locate, problems: list[Problem],
    *, blank_ok: bool = False, what: str | None = None,
) -> np.ndarray:
    """A column of text as floats; every bad or out-of-range cell is a located problem.

    Blank cells are NaN and, unless `blank_ok`, a problem.
    """
    text = raw.astype(str)  # the reader has stripped every cell
    values, ok = numbers(text)
    blank = (text.str.len() == 0).to_numpy() | (text.str.isspace()).to_numpy()
    bad = ~ok & ~(blank & blank_ok)
    reported = 0
    for i in np.flatnonzero(bad):
        if reported == PER_COLUMN:
            problems.append(Problem(locate(None, column), _("{n} more cells of this column are not numbers").format(
                n=int(bad.sum()) - PER_COLUMN)))
            break
        message, hint = number_problem(text.iloc[i])
        if what:
            message += f" ({what})"
        problems.append(Problem(locate(int(i), column), message, hint))
        reported += 1
    if range_name is not None:
        rng = RANGES[range_name]
        with np.errstate(invalid="ignore"):
            inside = (values > rng.low if rng.low_open else values >= rng.low) & (values <= rng.high)
            if rng.integer:
                inside &= np.floor(values) == values
        out = np.flatnonzero(ok & ~inside)
        for k, i in enumerate(out):
            if k == PER_COLUMN:
                problems.append(Problem(locate(None, column), _("{n} more cells of this column are out of range").format(
                    n=len(out) - PER_COLUMN)))
                break
            problems.append(Problem(locate(int(i), column), range_problem(range_name, text.iloc[i])))
    return values


def _single_column_hint(columns: list[str]) -> str | None:
    if len(columns) == 1:
        return _("the header has a single column '{name}': the separator was not recognised; use commas, "
                 "semicolons or tabs between columns").format(name=columns[0][:60])
    return None


def typed_townships(frame: pd.DataFrame, file: Any, rows: list[int], locate: Locate,
                    problems: list[Problem]) -> pd.DataFrame:
    """Type the township table column by column, recording each bad cell; indexed by township_id.

    An empty frame comes back when the table lacks required columns or rows.
    """
    df = frame
    if len(df.columns) == 0:
        problems.append(Problem(Location(file), _("the table is empty: it has no header row")))
        return pd.DataFrame()
    missing = [c for c, (req, _k, _d) in TOWNSHIP_COLUMNS.items() if req and c not in df.columns]
    if missing:
        extra = [c for c in df.columns if c not in TOWNSHIP_COLUMNS]
        one = _single_column_hint([str(c) for c in df.columns])
        if one and len(missing) > 3:
            problems.append(Problem(Location(file), one))
            return pd.DataFrame()
        for col in missing:
            problems.append(Problem(Location(file, table_column=col), _(
                "required column '{col}' ({desc}) is missing").format(col=col, desc=TOWNSHIP_COLUMNS[col][2]),
                did_you_mean(col, extra)))
        return pd.DataFrame()
    if df.empty:
        problems.append(Problem(Location(file), _("the township table has no rows")))
        return pd.DataFrame()
    out = pd.DataFrame(index=df.index)
    for col, (_req, kind, desc) in TOWNSHIP_COLUMNS.items():
        if col not in df.columns:
            if col in ("city", "basin"):
                out[col] = ""
            continue
        raw = df[col].astype(str)
        if kind == "str":
            out[col] = raw
            if col in ("township_id", "name", "county", "baseline_land_use"):
                empty = np.flatnonzero((raw == "").to_numpy())
                for i in empty[:PER_COLUMN]:
                    problems.append(Problem(locate(int(i), col), _("{col} is empty").format(col=col)))
            continue
        out[col] = check_numbers(raw, col, col, locate, problems, what=desc)
    ids = out["township_id"]
    dup = ids.duplicated(keep="first").to_numpy() & (ids != "").to_numpy()
    first_row: dict[str, int] = {}
    if dup.any():
        for i, tid in enumerate(ids):
            first_row.setdefault(tid, i)
    for i in np.flatnonzero(dup)[:PER_COLUMN]:
        problems.append(Problem(locate(int(i), "township_id"), _(
            "duplicate township id '{tid}' (first at row {row})").format(
            tid=ids.iloc[i], row=rows[first_row[ids.iloc[i]]] if rows else first_row[ids.iloc[i]] + 1)))
    out["_row"] = np.asarray(rows if rows else range(1, len(out) + 1), dtype=int)
    out["_pos"] = np.arange(len(out))
    return out.set_index("township_id", drop=False).rename_axis("township_id")


@dataclass
class IndustryFacts:
    """What the site table needs to know of the industries, from a valid spec or the raw YAML.

    The raw form lets the site table be checked when the YAML itself has problems.
    """

    names: list[str] = field(default_factory=list)
    #: industry → service → 'quantity_per_ha' or 'quantity_per_output_unit'
    services: dict[str, dict[str, str]] = field(default_factory=dict)
    pv: set[str] = field(default_factory=set)

    @classmethod
    def from_spec(cls, spec: Any) -> IndustryFacts:
        facts = cls(names=list(spec.industries))
        for iid, ind in spec.industries.items():
            facts.services[iid] = {s: ("quantity_per_ha" if svc.quantity_per_ha is not None else "quantity_per_output_unit")
                                   for s, svc in ind.gep.items()}
            if ind.pv_capacity_mw_per_ha > 0:
                facts.pv.add(iid)
        return facts

    @classmethod
    def from_raw(cls, raw: Any) -> IndustryFacts:
        facts = cls()
        industries = raw.get("industries") if isinstance(raw, Mapping) else None
        if not isinstance(industries, Mapping):
            return facts
        for iid, ind in industries.items():
            iid = str(iid)
            facts.names.append(iid)
            gep = ind.get("gep") if isinstance(ind, Mapping) else None
            facts.services[iid] = {str(s): ("quantity_per_output_unit" if isinstance(svc, Mapping)
                                            and svc.get("quantity_per_output_unit") is not None else "quantity_per_ha")
                                   for s, svc in (gep.items() if isinstance(gep, Mapping) else [])}
            cap = ind.get("pv_capacity_mw_per_ha") if isinstance(ind, Mapping) else None
            if isinstance(cap, (int, float)) and not isinstance(cap, bool) and cap > 0:
                facts.pv.add(iid)
        return facts


def check_site(frame: pd.DataFrame, file: Any, rows: list[int], locate: Locate, facts: IndustryFacts,
               known_ids: Iterable[str] | None, problems: list[Problem]) -> None:
    """Columns, keys, numbers and ranges of the site-coefficient table, every bad cell located.

    A site value is held to the same range as the industry field it overrides (a PV
    performance ratio of 1.5 is refused here as in the YAML); a value the model would
    silently ignore (a GEP service the row's industry does not have, a performance ratio
    for an industry that is not PV) is refused too, because the planner meant something by it.
    """
    site = frame
    if len(site.columns) == 0:
        problems.append(Problem(Location(file), _("the table is empty: it has no header row")))
        return
    services = sorted({f"gep.{s}" for svc in facts.services.values() for s in svc})
    allowed_cols = {"township_id", "industry", *SITE_FIELDS, *services}
    start = len(problems)
    for col in site.columns:
        if col not in allowed_cols and not str(col).startswith("note") and col != "source":
            problems.append(Problem(Location(file, table_column=str(col)), _("unknown column '{col}'").format(col=col),
                                    did_you_mean(str(col), sorted(allowed_cols))))
    for col in ("township_id", "industry"):
        if col not in site.columns:
            problems.append(Problem(Location(file, table_column=col), _("required column '{col}' is missing").format(
                col=col), _single_column_hint([str(c) for c in site.columns])))
    if len(problems) > start:
        return
    known = set(known_ids) if known_ids is not None else None
    tids = site["township_id"].astype(str).tolist()
    inds = site["industry"].astype(str).tolist()
    tid_s, ind_s = pd.Series(tids), pd.Series(inds)
    empty = (tid_s == "").to_numpy()
    unknown_t = (~tid_s.isin(known)).to_numpy() & ~empty if known is not None else np.zeros(len(tids), bool)
    unknown_i = (~ind_s.isin(list(facts.services))).to_numpy()
    twice = pd.DataFrame({"t": tid_s, "i": ind_s}).duplicated().to_numpy()
    first: dict[tuple[str, str], int] = {}
    if twice.any():
        for i, key in enumerate(zip(tids, inds)):
            first.setdefault(key, i)
    for name, mask in (("empty", empty), ("township", unknown_t), ("industry", unknown_i), ("twice", twice)):
        for i in np.flatnonzero(mask)[:PER_COLUMN]:
            tid, ind = tids[i], inds[i]
            if name == "empty":
                problems.append(Problem(locate(int(i), "township_id"), _("township_id is empty")))
            elif name == "township":
                problems.append(Problem(locate(int(i), "township_id"), _("unknown township '{tid}'").format(tid=tid),
                                        did_you_mean(tid, known) if known is not None and len(known) < 5000 else None))
            elif name == "industry":
                problems.append(Problem(locate(int(i), "industry"), _("unknown industry '{ind}'").format(ind=ind),
                                        did_you_mean(ind, facts.names)))
            else:
                row = first[(tid, ind)]
                problems.append(Problem(locate(int(i), "township_id"), _(
                    "({tid}, {ind}) is listed twice (first at row {row})").format(
                    tid=tid, ind=ind, row=rows[row] if rows else row + 1)))
    for col in site.columns:
        if col in ("township_id", "industry", "source") or str(col).startswith("note"):
            continue
        raw = site[col].astype(str)
        if col in SITE_FIELDS:
            values = check_numbers(raw, col, col, locate, problems, blank_ok=True)
            if col == "pv_performance_ratio":
                for i in np.flatnonzero(~np.isnan(values)):
                    if inds[i] in facts.services and inds[i] not in facts.pv:
                        problems.append(Problem(locate(int(i), col), _(
                            "industry '{ind}' is not PV (no pv_capacity_mw_per_ha), so a performance ratio would be "
                            "ignored").format(ind=inds[i]), _("leave the cell blank")))
            continue
        service = str(col)[4:]
        values = check_numbers(raw, col, None, locate, problems, blank_ok=True)
        for i in np.flatnonzero(~np.isnan(values)):
            kinds = facts.services.get(inds[i])
            if kinds is None:
                continue
            if service not in kinds:
                problems.append(Problem(locate(int(i), col), _(
                    "industry '{ind}' has no GEP service '{service}', so the value would be ignored").format(
                    ind=inds[i], service=service), did_you_mean(service, kinds) or _("leave the cell blank")))
                continue
            rng = RANGES[kinds[service]]
            if not rng.contains(values[i]):
                problems.append(Problem(locate(int(i), col), _(
                    "{col} {value} is outside the accepted range of {kind}, {range}").format(
                    col=col, value=raw.iloc[i], kind=kinds[service], range=rng.text())))


def unknown_county(name: str, limit_keys: Iterable[str]) -> str | None:
    """The limit's county a township-table county most likely misspells, or None."""
    return close_match(name, list(limit_keys))


def check_baselines(typed: pd.DataFrame, industries: Iterable[str], locate: Locate, problems: list[Problem]) -> None:
    """Each township's baseline land use must be an industry of the instance (candidate or not)."""
    names = list(industries)
    uses = typed["baseline_land_use"]
    bad = ((uses != "") & ~uses.isin(names)).to_numpy()
    for i in np.flatnonzero(bad)[:PER_COLUMN]:
        use, tid = uses.iloc[i], typed.index[i]
        problems.append(Problem(
            locate(int(i), "baseline_land_use"),
            _("baseline land use '{use}' (township {tid}) is not an industry of the instance").format(use=use, tid=tid),
            did_you_mean(use, names) or _("define it under industries: with candidate: false")))
