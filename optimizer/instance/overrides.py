"""What-if overrides: change any value of an instance by its dotted path.

A planner asks "what if water is cut by 30%?" by writing
`--set constraints.water.county_max_m3.富川瑶族自治县=0.7*` rather than editing files.
Overrides are applied to the YAML data *before* schema validation, so an overridden
value is typed and checked exactly like one in the file, and a problem in it points at
the override that introduced it.

Precedence (later wins): the file, then named overrides in the order a scenario lists
them, then `--set` in command-line order. Two overrides of one scenario that set the
same path to different values are a conflict, reported as an error.

Values: a YAML scalar or flow collection (`0.35`, `true`, `[apple, citrus]`,
`{A: 1}`), or a relative factor `0.7*` / `*0.7` that multiplies the current number.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import yaml

from pathlib import Path

from optimizer.errors import Location, Problem, close_match, did_you_mean
from optimizer.i18n import N_, _
from optimizer.instance.schema import allowed_keys, is_free_mapping
from optimizer.instance.yamlfile import FORBIDDEN_CHARACTERS, yaml_location


@dataclass(frozen=True)
class Override:
    """One `path = value` change and where it was asked for.

    `add` (a `+` before the path) allows the path to name an industry, market, GEP
    service, scenario … that the instance does not have yet; without it a name that is
    not there is a misspelling, reported with the closest existing one.
    """

    path: tuple[str | int, ...]
    text: str  # the value as written, e.g. '0.7*'
    origin: Location
    source: str  # '--set' or 'overrides.<name>'
    add: bool = False

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path)


@dataclass(frozen=True)
class Applied:
    path: str
    old: Any
    new: Any
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new, "source": self.source}

    def __str__(self) -> str:
        return f"{self.path}: {self.old!r} → {self.new!r} ({self.source})"


def split_path(dotted: str) -> tuple[str | int, ...]:
    """Dotted path → keys. Digits stay text (township ids like 0012 keep their zeros);
    they are read as list positions only where the YAML node is a list."""
    return tuple(piece.strip() for piece in dotted.strip().split("."))


def set_origin(number: int, expr: str) -> Location:
    """Where the `number`-th `--set` (1-based) was written: the command line, not a file."""
    return Location(Path("command line"), argument=f"--set #{number} '{expr}'")


def parse_set(expr: str, origin: Location) -> Override | Problem:
    """Parse `[+]PATH=VALUE` from the command line."""
    if "=" not in expr:
        return Problem(origin, _("--set needs the form PATH=VALUE, e.g. industries.agro_pv.price_yuan_per_unit=350"))
    bad = FORBIDDEN_CHARACTERS.search(expr)
    if bad:
        return Problem(origin, _("--set holds the control character U+{code:04X}, which no instance value may hold").format(
            code=ord(bad.group())))
    path, value = expr.split("=", 1)
    path = path.strip()
    add = path.startswith("+")
    path = path.lstrip("+").strip()
    if not path or any(not piece.strip() for piece in path.split(".")):
        return Problem(origin, _("--set has an empty path or an empty piece between dots"))
    return Override(split_path(path), value.strip(), origin, "--set", add)


def _factor(text: str) -> float | None:
    t = text.replace(" ", "")
    for candidate in (t[:-1] if t.endswith("*") else None, t[1:] if t.startswith("*") else None):
        if candidate:
            try:
                return float(candidate)
            except ValueError:
                return None
    return None


def _value(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def free_kind(path: tuple[str | int, ...]) -> str | None:
    """What the free keys below `path` name ('industry', 'county', …), or None for schema fields."""
    p = tuple(str(x) for x in path)
    if not is_free_mapping(path):
        return None
    if p == ("industries",):
        return N_("industry")
    if len(p) == 3 and p[0] == "industries" and p[2] == "gep":
        return N_("GEP service")
    if p == ("constraints", "markets"):
        return N_("market")
    if p in (("constraints", "water", "county_max_m3"), ("constraints", "grid_county_max_mw")):
        return N_("county")
    if p == ("constraints", "water", "basin_max_m3"):
        return N_("basin")
    if p == ("overrides",):
        return N_("named override")
    if p == ("scenarios",):
        return N_("scenario")
    if p == ("gep_price_sets",):
        return N_("GEP price set")
    if len(p) == 2 and p[0] == "gep_price_sets":
        return N_("GEP service")
    return N_("key")


#: Free keys that need not exist in the YAML: a county or basin is known from the
#: township table, and validation checks it there (with did-you-mean, at the --set).
_TABLE_KEYED = {"county", "basin"}


def _may_add(prefix: tuple[str, ...], kind: str) -> bool:
    """New keys allowed without '+': counties and basins (checked against the table by
    validation) and GEP price sets (a what-if convention is added on the command line;
    `optimizer gep` checks its service names)."""
    return kind in _TABLE_KEYED or (bool(prefix) and prefix[0] == "gep_price_sets")


def _diagnose(data: Any, ov: Override) -> tuple[list[str], tuple[str, ...], bool]:
    """Every unknown piece of an override's path, and the path with the closest names put in.

    Goes on past the first unknown piece, so `industries.aple.price` gets a hint for both
    `aple` (→ apple) and `price` (→ price_yuan_per_unit).
    """
    pieces: list[str] = []
    fixed: list[str] = []
    all_found = True
    node: Any = data
    for raw_key in ov.path:
        key = str(raw_key)
        prefix = tuple(fixed)
        kind = free_kind(prefix)
        if isinstance(node, list):
            fixed.append(key)
            node = node[int(key)] if key.isdigit() and int(key) < len(node) else None
            continue
        existing = [str(k) for k in node] if isinstance(node, dict) else []
        if kind is None:
            allowed = sorted(set(allowed_keys(prefix)) | set(existing))
            if key in allowed or not allowed:
                fixed.append(key)
            else:
                close = close_match(key, allowed)
                where = ".".join(prefix) or _("the instance")
                text = _("'{key}' is not a key of {where}").format(key=key, where=where)
                if close:
                    text += " " + _("(did you mean '{name}'?)").format(name=close)
                else:
                    all_found = False
                pieces.append(text)
                fixed.append(close or key)
        else:
            if key in existing or ov.add or _may_add(prefix, kind):
                fixed.append(key)
            else:
                close = close_match(key, existing)
                text = _("no {kind} '{key}'").format(kind=_(kind), key=key)
                if close:
                    text += " " + _("(did you mean '{name}'?)").format(name=close)
                else:
                    all_found = False
                    if existing:
                        text += " " + _("(there are: {names})").format(names=", ".join(existing[:12]))
                pieces.append(text)
                fixed.append(close or key)
        node = node.get(fixed[-1]) if isinstance(node, dict) else None
    return pieces, tuple(fixed), all_found


def _path_problem(data: Any, ov: Override) -> Problem | None:
    pieces, fixed, all_found = _diagnose(data, ov)
    if not pieces:
        return None
    hint = None
    if all_found:
        hint = _("did you mean {source} {path}={value}?").format(source=ov.source, path=".".join(fixed), value=ov.text)
    elif ov.source == "--set":
        hint = _("to add something new, put a '+' before the path: --set +{path}={value}").format(
            path=ov.dotted, value=ov.text)
    return Problem(ov.origin, "; ".join(pieces), hint, path=ov.dotted)


def apply_one(data: dict[str, Any], ov: Override) -> tuple[Applied | None, Problem | None]:
    """Apply one override in place; return what changed, or a located problem."""
    problem = _path_problem(data, ov)
    if problem is not None:
        return None, problem
    node: Any = data
    path = ov.path
    for depth, key in enumerate(path[:-1]):
        if isinstance(node, dict):
            if key not in node or node[key] is None:
                node[key] = {}
            node = node[key]
        elif isinstance(node, list) and str(key).isdigit():
            key = int(key)
            if key >= len(node):
                return None, Problem(ov.origin, _("'{path}': the list has only {n} items").format(
                    path=ov.dotted, n=len(node)), path=ov.dotted)
            node = node[key]
        else:
            return None, Problem(ov.origin, _("'{path}': '{key}' holds a value, not keys").format(
                path=ov.dotted, key=".".join(str(p) for p in path[:depth + 1])), path=ov.dotted)
    last = path[-1]
    if isinstance(node, list):
        last = int(last) if str(last).isdigit() else last
        if not isinstance(last, int) or last >= len(node):
            return None, Problem(ov.origin, _("'{path}': no such list item").format(path=ov.dotted), path=ov.dotted)
        old = node[last]
    elif isinstance(node, dict):
        old = node.get(last)
    else:
        return None, Problem(ov.origin, _("'{path}': '{key}' holds a value, not keys").format(
            path=ov.dotted, key=".".join(str(p) for p in path[:-1])), path=ov.dotted)
    factor = _factor(ov.text)
    if factor is not None:
        if not isinstance(old, (int, float)) or isinstance(old, bool):
            what = _("is not set") if old is None else _("is {old}, not a number").format(old=repr(old))
            return None, Problem(
                ov.origin,
                _("'{path}' {what}, so '{text}' (a relative change) cannot apply").format(
                    path=ov.dotted, what=what, text=ov.text),
                _("give an absolute value instead"),
                path=ov.dotted,
            )
        new: Any = old * factor
        if isinstance(new, float) and math.isfinite(new) and new == round(new, 9):
            new = round(new, 9)
    else:
        new = _value(ov.text)
    node[last] = new
    return Applied(ov.dotted, copy.deepcopy(old), new, ov.source), None


def scenario_overrides(
    data: dict[str, Any], names: list[str], positions: dict, file: Any
) -> tuple[list[Override], list[Problem]]:
    """Expand scenario and override names (in order) into overrides; report conflicts."""

    named = data.get("overrides") or {}
    scenarios = data.get("scenarios") or {}
    result: list[Override] = []
    problems: list[Problem] = []
    shape = []
    if not isinstance(named, dict) or any(not isinstance(v, (dict, type(None))) for v in named.values()):
        shape.append(Problem(yaml_location(file, positions, ("overrides",)),
                             "overrides must map a name to {path: value, ...}",
                             "e.g. overrides: {dry_year: {constraints.water.county_max_m3.A: 0.7*}}"))
    if not isinstance(scenarios, dict) or any(not isinstance(v, (list, type(None))) for v in scenarios.values()):
        shape.append(Problem(yaml_location(file, positions, ("scenarios",)),
                             "scenarios must map a name to a list of override names",
                             "e.g. scenarios: {dry_and_cheap: [dry_year, pv_price_cut]}"))
    if shape:
        return [], shape
    expanded: list[str] = []
    for name in names:
        if name in scenarios:
            expanded.extend(scenarios[name] or [])
        elif name in named:
            expanded.append(name)
        else:
            problems.append(
                Problem(
                    Location(Path("command line"), argument=f"--scenario '{name}'"),
                    _("'{name}' is neither a scenario nor a named override of {file}").format(
                        name=name, file=Path(file).name),
                    did_you_mean(name, [*scenarios, *named]),
                )
            )
    seen: dict[tuple, tuple[str, str]] = {}
    for oname in expanded:
        if oname not in named:
            problems.append(
                Problem(
                    yaml_location(file, positions, ("scenarios",)),
                    f"scenario lists unknown override '{oname}'",
                    did_you_mean(oname, named),
                )
            )
            continue
        for dotted, value in (named[oname] or {}).items():
            add = str(dotted).strip().startswith("+")
            path = split_path(str(dotted).strip().lstrip("+"))
            text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
            loc = yaml_location(file, positions, ("overrides", oname, dotted))
            if path in seen and seen[path][1] != text:
                problems.append(
                    Problem(
                        loc,
                        f"overrides '{seen[path][0]}' and '{oname}' both set '{dotted}' "
                        f"({seen[path][1]} vs {text}) in one scenario",
                        "remove one of them, or split the scenario",
                    )
                )
                continue
            seen[path] = (oname, text)
            result.append(Override(path, text, loc, f"overrides.{oname}", add))
    return result, problems


def apply_to_table(table: Any, ov: Override) -> tuple[Applied | None, Problem | None]:
    """`townships.<column>` (every row) or `townships.<column>.<township id>` (one row).

    The dry-year question is about each township's water as much as the county's, so
    table columns are overridable too; a factor scales each row's own value.
    """
    import pandas as pd

    column = str(ov.path[1])
    if column not in table.columns or column == "township_id":
        close = close_match(column, [c for c in table.columns if c != "township_id"])
        return None, Problem(
            ov.origin,
            _("'{column}' is not a column of the township table").format(column=column),
            _("did you mean {source} townships.{name}?").format(source=ov.source, name=close) if close else None,
            path=ov.dotted,
        )
    ids = table["township_id"].astype(str).str.strip()
    if len(ov.path) > 3:
        return None, Problem(ov.origin, _("'{path}' is too deep: use townships.<column>[.<township id>]").format(
            path=ov.dotted))
    rows = pd.Series(True, index=table.index)
    if len(ov.path) == 3:
        tid = str(ov.path[2])
        rows = ids == tid
        if not rows.any():
            return None, Problem(ov.origin, _("township '{tid}' is not in the township table").format(tid=tid),
                                 did_you_mean(tid, ids.tolist()), path=ov.dotted)
    old = table.loc[rows, column]
    factor = _factor(ov.text)
    if factor is not None:
        numbers = pd.to_numeric(old, errors="coerce")
        if numbers.isna().any():
            return None, Problem(ov.origin, _("'{path}' has cells that are not numbers, so '{text}' cannot apply").format(
                path=ov.dotted, text=ov.text))
        new = (numbers * factor).map(lambda v: repr(float(v)))
    else:
        text = ov.text.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]  # a quoted value: the text inside, as a cell holds it
        new = pd.Series(text, index=old.index)
    table.loc[rows, column] = new
    old_desc: Any = old.iloc[0] if len(ov.path) == 3 else f"{len(old)} rows"
    new_desc: Any = new.iloc[0] if len(ov.path) == 3 else f"{ov.text} (each row)" if factor is not None else ov.text
    return Applied(ov.dotted, old_desc, new_desc, ov.source), None


def site_column(path: tuple[str | int, ...]) -> tuple[str, tuple[str, ...]]:
    """`site_coefficients.<column>[.<industry>[.<township>]]` → (column, selectors).

    GEP quantity columns carry a dot themselves (`gep.soil_retention`), so
    `site_coefficients.gep.soil_retention.citrus` names column `gep.soil_retention`.
    """
    parts = [str(p) for p in path[1:]]
    if parts and parts[0] == "gep" and len(parts) >= 2:
        return f"gep.{parts[1]}", tuple(parts[2:])
    return (parts[0] if parts else ""), tuple(parts[1:])


def apply_to_site(site: Any, ov: Override) -> tuple[Applied | None, Problem | None]:
    """`site_coefficients.<column>[.<industry>[.<township id>]]`: change site-table cells.

    Why: township-specific figures live in the site table, so "citrus yields fall 20%"
    must reach them too (`site_coefficients.yield_per_ha.citrus=0.8*`). A factor scales
    each non-blank cell of the selected rows and leaves blank cells blank (they keep the
    industry's value, which a path under `industries.` changes); a value sets every
    selected cell.
    """
    import difflib

    import pandas as pd

    from optimizer.i18n import _

    column, selectors = site_column(ov.path)
    fixed = [c for c in site.columns if c not in ("township_id", "industry", "source") and not str(c).startswith("note")]
    if column not in fixed:
        close = difflib.get_close_matches(column, fixed, n=1)
        return None, Problem(
            ov.origin,
            _("{source}: unknown path '{path}': '{column}' is not a column of the site-coefficient table").format(
                source=ov.source, path=ov.dotted, column=column),
            _("did you mean {source} site_coefficients.{fix}?").format(source=ov.source, fix=close[0]) if close else None,
            path=ov.dotted,
        )
    if len(selectors) > 2:
        return None, Problem(ov.origin, _("{source}: '{path}' is too deep: use site_coefficients.<column>[.<industry>[.<township id>]]").format(
            source=ov.source, path=ov.dotted))
    rows = pd.Series(True, index=site.index)
    industries = site["industry"].astype(str).str.strip()
    if selectors:
        rows &= industries == selectors[0]
        if not rows.any():
            return None, Problem(ov.origin, _("{source}: the site-coefficient table has no row of industry '{industry}'").format(
                source=ov.source, industry=selectors[0]), did_you_mean(selectors[0], sorted(set(industries))), path=ov.dotted)
    if len(selectors) == 2:
        ids = site["township_id"].astype(str).str.strip()
        rows &= ids == selectors[1]
        if not rows.any():
            return None, Problem(ov.origin, _("{source}: the site-coefficient table has no row ({township}, {industry})").format(
                source=ov.source, township=selectors[1], industry=selectors[0]),
                did_you_mean(selectors[1], sorted(set(ids[industries == selectors[0]]))), path=ov.dotted)
    old = site.loc[rows, column].astype(str).str.strip()
    factor = _factor(ov.text)
    if factor is not None:
        filled = old != ""
        numbers = pd.to_numeric(old.where(filled), errors="coerce")
        if (numbers.isna() & filled).any():
            return None, Problem(ov.origin, _("{source}: '{path}' has non-numeric cells, so '{text}' cannot apply").format(
                source=ov.source, path=ov.dotted, text=ov.text))
        new = old.copy()
        new[filled] = (numbers[filled] * factor).map(lambda v: repr(float(v)))
    else:
        new = pd.Series(str(_value(ov.text)), index=old.index)
    site.loc[rows, column] = new
    n = int(rows.sum())
    old_desc: Any = old.iloc[0] if len(selectors) == 2 else f"{n} rows"
    new_desc: Any = new.iloc[0] if len(selectors) == 2 else (f"{ov.text} (each row)" if factor is not None else ov.text)
    return Applied(ov.dotted, old_desc, new_desc, ov.source), None
