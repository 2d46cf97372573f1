"""Checking an instance's `uncertainty:` section against the instance it belongs to.

The schema (`schema.Uncertainty`) checks each distribution on its own (a negative
standard deviation, probabilities that do not sum to 1). This module checks what only
shows against the instance: that every path names a figure that exists and is a number
(with a did-you-mean on the path, as `--set` gives), that no draw can leave the range
the instance allows for that figure (a price below 0, a share above 1), that no two
parameters move the same figure, and that the correlation groups name real parameters
and form a valid correlation matrix. Every problem is located at its line in the YAML.

It also says which site-table cells a relative parameter moves besides its path
(`implied_site_paths`): a factor on `industries.apple.price_yuan_per_unit` also scales
the township-specific apple prices of the site table, so that "apple prices fall 30%"
holds everywhere. The sampler (`optimizer/analyses/uncertainty.py`) uses the same rule.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from optimizer.errors import Location, Problem, did_you_mean
from optimizer.i18n import _
from optimizer.instance.overrides import site_column, split_path
from optimizer.instance.schema import SITE_FIELDS, Instance, UncertainParameter

#: Township-table columns a distribution may move. The others are either names or the
#: land facts behind the suitability gates (which would change the choices themselves).
UNCERTAIN_TOWNSHIP_COLUMNS: tuple[str, ...] = ("plannable_area_ha", "water_available_m3")
GATE_COLUMNS: tuple[str, ...] = ("soil_depth_cm", "slope_deg", "rocky_desertification_grade", "irradiance_kwh_per_m2")
#: Top-level keys whose numbers are not figures of the model.
_NOT_FIGURES = ("format_version", "uncertainty", "overrides", "scenarios", "gep_price_sets", "sources",
                "townships", "site_coefficients", "name", "title", "description")  # fmt: skip


@dataclass(frozen=True)
class Range:
    """What the instance allows for a figure: bounds (None = unbounded) and strictness."""

    low: float | None = None
    low_strict: bool = False
    high: float | None = None
    high_strict: bool = False

    def admits(self, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> bool:
        """Whether every value of [lo, hi] (ends open where said) lies within the range."""
        if self.low is not None:
            if lo < self.low or (lo == self.low and self.low_strict and not lo_open):
                return False
        if self.high is not None:
            if hi > self.high or (hi == self.high and self.high_strict and not hi_open):
                return False
        return True

    def words(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_strict else '≥'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_strict else '≤'} {self.high:g}")
        return " and ".join(parts) or "any number"


def support(p: UncertainParameter) -> tuple[float, float, bool, bool]:
    """The drawn numbers' range: (low, high, low end open, high end open)."""
    if p.distribution in ("uniform", "triangular"):
        return float(p.low), float(p.high), False, False  # type: ignore[arg-type]
    if p.distribution == "normal":
        lo = -math.inf if p.low is None else float(p.low)
        hi = math.inf if p.high is None else float(p.high)
        return lo, hi, p.low is None, p.high is None
    if p.distribution == "lognormal":
        return 0.0, math.inf, True, True
    return float(min(p.values)), float(max(p.values)), False, False


def _range_of(field: Any) -> Range:
    lo = hi = None
    lo_s = hi_s = False
    for m in getattr(field, "metadata", []):
        if hasattr(m, "ge"):
            lo, lo_s = float(m.ge), False
        if hasattr(m, "gt"):
            lo, lo_s = float(m.gt), True
        if hasattr(m, "le"):
            hi, hi_s = float(m.le), False
        if hasattr(m, "lt"):
            hi, hi_s = float(m.lt), True
    return Range(lo, lo_s, hi, hi_s)


def _schema_range(path: tuple[str, ...]) -> Range:
    """The bounds pydantic puts on the field at a YAML path (none for free mappings)."""
    current: Any = Instance
    field = None
    for key in path:
        origin = typing.get_origin(current)
        if origin in (typing.Union, types.UnionType):
            current = next((a for a in typing.get_args(current) if isinstance(a, type) and issubclass(a, BaseModel)), None)
            origin = typing.get_origin(current)
        if origin is dict:
            current, field = typing.get_args(current)[1], None
        elif origin is list:
            current, field = typing.get_args(current)[0], None
        elif isinstance(current, type) and issubclass(current, BaseModel) and key in current.model_fields:
            field = current.model_fields[key]
            current = field.annotation
        else:
            return Range()
    return _range_of(field) if field is not None else Range()


def site_range(column: str) -> Range:
    """What the validator allows in a site-table column."""
    if column in SITE_FIELDS:
        from optimizer.instance.schema import Industry

        r = _range_of(Industry.model_fields[column])
        return r
    return Range(0.0)


def implied_site_paths(path: str, site: pd.DataFrame | None) -> list[str]:
    """Site-table paths a *relative* parameter on `path` also moves (see the module docstring)."""
    if site is None or site.empty:
        return []
    parts = split_path(path)
    if len(parts) < 3 or parts[0] != "industries":
        return []
    industry = str(parts[1])
    if len(parts) == 3 and parts[2] in SITE_FIELDS:
        column = str(parts[2])
    elif len(parts) == 5 and parts[2] == "gep" and parts[4] in ("quantity_per_ha", "quantity_per_output_unit"):
        column = f"gep.{parts[3]}"
    else:
        return []
    if column not in site.columns:
        return []
    cells = site.loc[site["industry"].astype(str).str.strip() == industry, column].astype(str).str.strip()
    if not (cells != "").any():
        return []
    return [f"site_coefficients.{column}.{industry}"]


@dataclass(frozen=True)
class Target:
    """What a path changes, for overlap checks: ('yaml', path) or (table, column, row selectors)."""

    kind: str
    column: str
    selectors: tuple[str, ...]

    def overlaps(self, other: Target) -> bool:
        if self.kind != other.kind or self.column != other.column:
            return False
        return all(a == b for a, b in zip(self.selectors, other.selectors))


def check_uncertainty(inst: Any, townships: pd.DataFrame) -> list[Problem]:
    """Every problem of `inst.spec.uncertainty` against the instance, located in the YAML.

    `inst` is a LoadedInstance; `townships` its typed township table (validate.typed_townships).
    """
    unc = inst.spec.uncertainty
    if unc is None:
        return []
    problems: list[Problem] = []
    seen: list[tuple[Target, str, str]] = []  # (target, parameter, path)
    for name, p in unc.parameters.items():
        lo, hi, lo_open, hi_open = support(p)
        keys: list[tuple[str | int, ...]] = (
            [("uncertainty", "parameters", name, "path")] if p.path is not None
            else [("uncertainty", "parameters", name, "paths", j) for j in range(len(p.paths))]
        )
        for key, path in zip(keys, p.targets):
            where = inst.locate(*key)
            found = _resolve(inst, townships, path, p.relative, where)
            if isinstance(found, Problem):
                problems.append(found)
                continue
            targets, bases, allowed = found
            stepped = _stepped_market_share(inst, path)
            if stepped:
                problems.append(Problem(where, _(
                    "parameter '{name}': market '{market}' has falling prices, which need one farmer share for all "
                    "its industries, so {path} cannot be uncertain").format(name=name, market=stepped, path=path),
                    path=".".join(map(str, key))))
                continue
            if p.relative:
                implied = implied_site_paths(path, inst.site)
                for extra in implied:
                    more = _resolve(inst, townships, extra, True, where)
                    if isinstance(more, Problem):  # cannot happen for a table we just read; say so if it does
                        problems.append(more)
                        continue
                    targets += more[0]
                    bases = np.concatenate([bases, more[1]])
                    allowed = allowed + more[2]
            for t in targets:
                for other, oname, opath in seen:
                    if t.overlaps(other):
                        problems.append(Problem(where, _(
                            "parameters '{a}' and '{b}' both move {what}: give each figure one distribution"
                        ).format(a=oname, b=name, what=opath if opath == path else f"{opath} / {path}"),
                            path=".".join(map(str, key))))
                        break
                seen.append((t, name, path))
            # The figure's values after a draw: the drawn number itself, or it times the base values.
            if p.relative:
                finite = bases[np.isfinite(bases)]
                b_lo, b_hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 0.0)
                corners = [a * b for a in (lo, hi) for b in (b_lo, b_hi) if not (math.isinf(a) and b == 0)]
                v_lo, v_hi = min(corners, default=0.0), max(corners, default=0.0)
                v_lo_open = lo_open and b_lo > 0
                v_hi_open = hi_open and b_hi > 0
                if lo < 0:
                    problems.append(Problem(where, _(
                        "parameter '{name}': a factor below 0 would turn the sign of {path}"
                    ).format(name=name, path=path),
                        _("truncate the normal distribution with low: 0 or above") if p.distribution == "normal"
                        else _("give factors ≥ 0 (1.0 = as in the instance)"),
                        path=".".join(map(str, key))))
                    continue
            else:
                v_lo, v_hi, v_lo_open, v_hi_open = lo, hi, lo_open, hi_open
            for r in allowed:
                if not r.admits(v_lo, v_hi, v_lo_open, v_hi_open):
                    hint = (_("truncate the normal distribution with low: and high:")
                            if p.distribution == "normal" else None)
                    problems.append(Problem(where, _(
                        "parameter '{name}': {path} must be {allowed}, but the {dist} distribution draws values "
                        "from {lo} to {hi}"
                    ).format(name=name, path=path, allowed=r.words(), dist=p.distribution,
                             lo=_num(v_lo), hi=_num(v_hi)), hint, path=".".join(map(str, key))))
                    break
    problems.extend(_check_correlations(inst, unc))
    return problems


def _stepped_market_share(inst: Any, path: str) -> str | None:
    """The market with price steps whose industry's farmer share `path` would move, if any."""
    parts = [str(p) for p in split_path(path)]
    if parts[-1] != "farmer_share_of_value_added" and not (
            len(parts) >= 2 and parts[0] == "site_coefficients" and parts[1] == "farmer_share_of_value_added"):
        return None
    industry = parts[1] if parts[0] == "industries" else (parts[2] if len(parts) > 2 else None)
    for name, market in inst.spec.constraints.markets.items():
        if market.price_steps and (industry is None or industry in market.industries):
            return name
    return None


def _num(x: float) -> str:
    return "−∞" if x == -math.inf else "∞" if x == math.inf else f"{x:,.6g}"


def _resolve(
    inst: Any, townships: pd.DataFrame, path: str, relative: bool, where: Location
) -> tuple[list[Target], np.ndarray, list[Range]] | Problem:
    """What a path moves, its current numbers and allowed range, or a located problem."""
    parts = tuple(str(p) for p in split_path(path))
    dotted = ".".join(parts)
    if not parts or not parts[0]:
        return Problem(where, _("an empty path"))
    if parts[0] == "townships" and len(parts) >= 2 and parts[1] not in ("path", "layer"):
        return _township_path(townships, parts, where, inst.townships_file)
    if parts[0] == "site_coefficients" and len(parts) >= 2 and parts[1] not in ("path", "layer"):
        return _site_path(inst, parts, where)
    if parts[0] in _NOT_FIGURES:
        return Problem(where, _("'{path}' is not a figure of the model; uncertainty is for prices, yields, costs, "
                                "GEP values and limits").format(path=dotted), path=dotted)
    node: Any = inst.raw
    for depth, key in enumerate(parts):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            from optimizer.instance.schema import allowed_keys

            options = sorted({str(k) for k in node} | set(allowed_keys(parts[:depth]))) if isinstance(node, dict) else []
            close = did_you_mean(key, options)
            prefix = ".".join(parts[:depth]) or _("the instance")
            hint = None
            if close:
                fixed = ".".join([*parts[:depth], close.split("'")[1], *parts[depth + 1:]])
                hint = _("did you mean {path}?").format(path=fixed)
            if isinstance(node, dict) and key in allowed_keys(parts[:depth]):
                return Problem(where, _("'{path}' is not set in the instance; give it a value there first").format(
                    path=dotted), path=dotted)
            return Problem(where, _("unknown path '{path}': '{key}' is not a key of {prefix}").format(
                path=dotted, key=key, prefix=prefix), hint, path=dotted)
        if depth >= 2 and parts[0] == "industries" and parts[2] == "suitability":
            return Problem(where, _("'{path}' is a suitability gate, not an uncertain figure").format(path=dotted),
                           path=dotted)
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return Problem(where, _("'{path}' is {value!r}, not a number").format(path=dotted, value=node), path=dotted)
    return [Target("yaml", dotted, ())], np.array([float(node)]), [_schema_range(parts)]


def _township_path(townships: pd.DataFrame, parts: tuple[str, ...], where: Location, file: Any
                   ) -> tuple[list[Target], np.ndarray, list[Range]] | Problem:
    dotted = ".".join(parts)
    column = parts[1]
    if column in GATE_COLUMNS:
        return Problem(where, _("townships.{column} is a land fact behind the suitability gates; uncertainty is for "
                                "figures that leave the choices themselves alone").format(column=column),
                       _("for uncertain PV output use industries.<id>.pv_performance_ratio") if column == "irradiance_kwh_per_m2" else None,
                       path=dotted)
    if column not in UNCERTAIN_TOWNSHIP_COLUMNS:
        close = did_you_mean(column, UNCERTAIN_TOWNSHIP_COLUMNS)
        return Problem(where, _("'{column}' is not a township-table figure a distribution can move ({allowed})").format(
            column=column, allowed=", ".join(UNCERTAIN_TOWNSHIP_COLUMNS)), close, path=dotted)
    if len(parts) > 3:
        return Problem(where, _("'{path}' is too deep: use townships.<column>[.<township id>]").format(path=dotted))
    values = townships[column].to_numpy(dtype=float) if not townships.empty else np.array([])
    selectors: tuple[str, ...] = ()
    if len(parts) == 3:
        tid = parts[2]
        if tid not in townships.index:
            return Problem(where, _("township '{id}' is not in the township table").format(id=tid),
                           did_you_mean(tid, townships.index), path=dotted)
        values = np.array([float(townships.at[tid, column])])
        selectors = (tid,)
    return [Target("townships", column, selectors)], values, [Range(0.0)]


def _site_path(inst: Any, parts: tuple[str, ...], where: Location) -> tuple[list[Target], np.ndarray, list[Range]] | Problem:
    dotted = ".".join(parts)
    site = inst.site
    if site is None:
        return Problem(where, _("'{path}': the instance has no site-coefficient table").format(path=dotted), path=dotted)
    column, selectors = site_column(parts)
    fixed = [c for c in site.columns if c not in ("township_id", "industry", "source") and not str(c).startswith("note")]
    if column not in fixed:
        return Problem(where, _("unknown path '{path}': '{column}' is not a column of the site-coefficient table").format(
            path=dotted, column=column), did_you_mean(column, fixed), path=dotted)
    if len(selectors) > 2:
        return Problem(where, _("'{path}' is too deep: use site_coefficients.<column>[.<industry>[.<township id>]]").format(path=dotted))
    rows = pd.Series(True, index=site.index)
    industries = site["industry"].astype(str).str.strip()
    if selectors:
        rows &= industries == selectors[0]
        if not rows.any():
            return Problem(where, _("the site-coefficient table has no row of industry '{industry}'").format(
                industry=selectors[0]), did_you_mean(selectors[0], sorted(set(industries))), path=dotted)
    if len(selectors) == 2:
        ids = site["township_id"].astype(str).str.strip()
        rows &= ids == selectors[1]
        if not rows.any():
            return Problem(where, _("the site-coefficient table has no row ({township}, {industry})").format(
                township=selectors[1], industry=selectors[0]), did_you_mean(selectors[1], sorted(set(ids))), path=dotted)
    cells = site.loc[rows, column].astype(str).str.strip()
    values = pd.to_numeric(cells[cells != ""], errors="coerce").to_numpy(dtype=float)
    return [Target("site", column, tuple(selectors))], values, [site_range(column)]


def _check_correlations(inst: Any, unc: Any) -> list[Problem]:
    problems = []
    group_of: dict[str, int] = {}
    names = list(unc.parameters)
    for g, corr in enumerate(unc.correlations):
        where = inst.locate("uncertainty", "correlations", g)
        dotted = f"uncertainty.correlations.{g}"
        if len(set(corr.parameters)) != len(corr.parameters):
            problems.append(Problem(where, _("a correlation group lists a parameter twice"), path=dotted))
        for name in corr.parameters:
            if name not in unc.parameters:
                problems.append(Problem(where, _("correlation group names unknown parameter '{name}'").format(name=name),
                                        did_you_mean(name, names), path=dotted))
            elif name in group_of and group_of[name] != g:
                problems.append(Problem(where, _(
                    "parameter '{name}' is in two correlation groups; put the parameters that move together "
                    "in one group").format(name=name), path=dotted))
            else:
                group_of[name] = g
        n = len(set(corr.parameters))
        if n > 1 and corr.coefficient < -1.0 / (n - 1) - 1e-12:
            problems.append(Problem(where, _(
                "{n} parameters cannot all be correlated {rho:g} with each other (the lowest possible is {least:.4g})"
            ).format(n=n, rho=corr.coefficient, least=-1.0 / (n - 1)), path=dotted))
    return problems
