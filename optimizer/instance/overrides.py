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

from optimizer.errors import Location, Problem, did_you_mean
from optimizer.instance.schema import allowed_keys, is_free_mapping
from optimizer.instance.yamlfile import yaml_location


@dataclass(frozen=True)
class Override:
    """One `path = value` change and where it was asked for."""

    path: tuple[str | int, ...]
    text: str  # the value as written, e.g. '0.7*'
    origin: Location
    source: str  # '--set' or 'overrides.<name>'

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


def parse_set(expr: str, origin: Location) -> Override | Problem:
    """Parse `PATH=VALUE` from the command line."""
    if "=" not in expr:
        return Problem(origin, f"--set '{expr}' needs the form PATH=VALUE, e.g. industries.agro_pv.price_yuan_per_unit=350")
    path, value = expr.split("=", 1)
    if not path.strip():
        return Problem(origin, f"--set '{expr}' has an empty path")
    return Override(split_path(path), value.strip(), origin, "--set")


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


def _allowed_children(data: Any, path: tuple[str | int, ...]) -> list[str]:
    keys = allowed_keys(path)
    if isinstance(data, dict):
        keys = sorted(set(keys) | {str(k) for k in data})
    return keys


def apply_one(data: dict[str, Any], ov: Override) -> tuple[Applied | None, Problem | None]:
    """Apply one override in place; return what changed, or a located problem."""
    node: Any = data
    path = ov.path
    for depth, key in enumerate(path[:-1]):
        if isinstance(node, dict):
            if key not in node:
                allowed = _allowed_children(node, path[:depth])
                if str(key) in allowed or is_free_mapping(path[:depth]):
                    node[key] = {}
                else:
                    return None, _unknown(ov, depth, allowed)
            node = node[key]
        elif isinstance(node, list) and str(key).isdigit():
            key = int(key)
            if key >= len(node):
                return None, Problem(ov.origin, f"{ov.source}: '{ov.dotted}': list has only {len(node)} items", path=ov.dotted)
            node = node[key]
        else:
            return None, _unknown(ov, depth, [])
    last = path[-1]
    if isinstance(node, list):
        last = int(last) if str(last).isdigit() else last
        if not isinstance(last, int) or last >= len(node):
            return None, Problem(ov.origin, f"{ov.source}: '{ov.dotted}': no such list item", path=ov.dotted)
        old = node[last]
    elif isinstance(node, dict):
        if last not in node:
            allowed = _allowed_children(node, path[:-1])
            if str(last) not in allowed and not is_free_mapping(path[:-1]):
                return None, _unknown(ov, len(path) - 1, allowed)
        old = node.get(last)
    else:
        return None, _unknown(ov, len(path) - 1, [])
    factor = _factor(ov.text)
    if factor is not None:
        if not isinstance(old, (int, float)) or isinstance(old, bool):
            what = "is not set" if old is None else f"is {old!r}, not a number"
            return None, Problem(
                ov.origin,
                f"{ov.source}: '{ov.dotted}' {what}, so '{ov.text}' (a relative change) cannot apply",
                "give an absolute value instead",
                path=ov.dotted,
            )
        new: Any = old * factor
        if isinstance(new, float) and math.isfinite(new) and new == round(new, 9):
            new = round(new, 9)
    else:
        new = _value(ov.text)
    node[last] = new
    return Applied(ov.dotted, copy.deepcopy(old), new, ov.source), None


def _unknown(ov: Override, depth: int, allowed: list[str]) -> Problem:
    import difflib

    key = str(ov.path[depth])
    prefix = ".".join(str(p) for p in ov.path[:depth])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = None
    if close:
        fixed = ".".join(filter(None, [prefix, close[0], *map(str, ov.path[depth + 1 :])]))
        hint = f"did you mean {ov.source} {fixed}?"
    return Problem(
        ov.origin,
        f"{ov.source}: unknown path '{ov.dotted}': '{key}' is not a key of {prefix or 'the instance'}",
        hint,
        path=ov.dotted,
    )


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
                    Location(file),
                    f"--scenario: '{name}' is neither a scenario nor a named override of this instance",
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
            path = split_path(str(dotted))
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
            result.append(Override(path, text, loc, f"overrides.{oname}"))
    return result, problems


def apply_to_table(table: Any, ov: Override) -> tuple[Applied | None, Problem | None]:
    """`townships.<column>` (every row) or `townships.<column>.<township id>` (one row).

    The dry-year question is about each township's water as much as the county's, so
    table columns are overridable too; a factor scales each row's own value.
    """
    import pandas as pd

    column = str(ov.path[1])
    if column not in table.columns or column == "township_id":
        import difflib

        close = difflib.get_close_matches(column, [c for c in table.columns if c != "township_id"], n=1)
        return None, Problem(
            ov.origin,
            f"{ov.source}: unknown path '{ov.dotted}': '{column}' is not a column of the township table",
            f"did you mean {ov.source} townships.{close[0]}?" if close else None,
            path=ov.dotted,
        )
    ids = table["township_id"].astype(str).str.strip()
    if len(ov.path) > 3:
        return None, Problem(ov.origin, f"{ov.source}: '{ov.dotted}' is too deep: use townships.<column>[.<township id>]")
    rows = pd.Series(True, index=table.index)
    if len(ov.path) == 3:
        tid = str(ov.path[2])
        rows = ids == tid
        if not rows.any():
            return None, Problem(ov.origin, f"{ov.source}: township '{tid}' is not in the township table",
                                 did_you_mean(tid, ids.tolist()), path=ov.dotted)
    old = table.loc[rows, column]
    factor = _factor(ov.text)
    if factor is not None:
        numbers = pd.to_numeric(old, errors="coerce")
        if numbers.isna().any():
            return None, Problem(ov.origin, f"{ov.source}: '{ov.dotted}' has non-numeric cells, so '{ov.text}' cannot apply")
        new = (numbers * factor).map(lambda v: repr(float(v)))
    else:
        new = pd.Series(str(_value(ov.text)), index=old.index)
    table.loc[rows, column] = new
    old_desc: Any = old.iloc[0] if len(ov.path) == 3 else f"{len(old)} rows"
    new_desc: Any = new.iloc[0] if len(ov.path) == 3 else f"{ov.text} (each row)" if factor is not None else ov.text
    return Applied(ov.dotted, old_desc, new_desc, ov.source), None
