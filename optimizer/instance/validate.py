"""Cross-checks of an instance before any model is built, all problems at once.

The schema catches wrong keys and types inside the YAML; this module catches what only
shows when the YAML meets its tables: unknown or duplicate township ids, a county name
misspelt in a water budget, a township whose gates forbid every industry, a limit that
no plan can meet. Each message names the file and line (YAML) or row and column
(tables) and, where a name is close to a known one, suggests it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InputError, Location, Problem, did_you_mean, distinct
from optimizer.i18n import N_, _
from optimizer.instance import cells
from optimizer.instance.coefficients import baseline, gate_failures, income_floor_yuan, pair_table
from optimizer.instance.load import LoadedInstance
from optimizer.instance.schema import MAX_DERIVED_YUAN_PER_HA
from optimizer.instance.villages import validate_villages
from optimizer.instance.uncertainty import check_uncertainty

log = logging.getLogger(__name__)


@dataclass
class ValidInstance:
    """An instance that passed every check: typed township table and the pair table.

    `conflicts` lists limits that no plan can meet: the input is valid and the answer is
    "infeasible" (exit 3 from the CLI), which `prepare()` refuses to build a model for.
    """

    loaded: LoadedInstance
    townships: pd.DataFrame  # typed, indexed by township_id
    pairs: pd.DataFrame  # docs/model.md coefficients, indexed by (township_id, industry)
    baseline: pd.DataFrame
    #: Limits no plan can meet, found before solving (valid input, infeasible instance).
    conflicts: list[Problem] = field(default_factory=list)
    #: Village instances only (villages.py): the typed village table, indexed by village_id.
    #: Then `pairs` and `baseline` are per village, the planning unit.
    villages: pd.DataFrame | None = None
    #: Village instances only: site overrides per (village, industry), township rows merged in.
    village_site: pd.DataFrame | None = None
    #: Findings worth a planner's look that do not stop the solve (located, like problems).
    warnings: list[Problem] = field(default_factory=list)

    @property
    def spec(self):  # type: ignore[no-untyped-def]
        return self.loaded.spec

    @property
    def units(self) -> pd.DataFrame:
        """The planning units: villages in a village instance, else townships."""
        return self.townships if self.villages is None else self.villages

    @property
    def unit_geometry(self) -> tuple[Any, str | None]:
        """Polygons of the planning units and their CRS: the village table's in a village instance."""
        if self.villages is None:
            return self.loaded.geometry, self.loaded.crs
        vt = self.loaded.village_tables
        return vt.geometry, vt.crs

    @property
    def unit_key(self) -> str:
        """The id column of the planning units: `village_id` or `township_id`."""
        return "township_id" if self.villages is None else "village_id"


def typed_townships(inst: LoadedInstance, problems: list[Problem]) -> pd.DataFrame:
    """Type the township table column by column, recording each bad cell (see cells.py)."""
    return cells.typed_townships(inst.townships, inst.townships_file, inst.township_rows, inst.township_cell, problems)


def _check_geometry(inst: LoadedInstance, problems: list[Problem]) -> None:
    geom = inst.geometry
    if geom is None:
        return
    file = inst.townships_file
    if inst.crs is None:
        problems.append(
            Problem(
                Location(file),
                _("the layer has no coordinate reference system (CRS), or an undefined one (GeoPackage srs_id 0 or -1)"),
                _("assign one in QGIS (Layer ▸ Set CRS), e.g. EPSG:4490 (CGCS2000) or EPSG:4326"),
            )
        )
    unreadable = np.zeros(len(geom), dtype=bool)
    for i in inst.bad_geometry:
        if i < len(unreadable):
            unreadable[i] = True  # already reported by the reader, at its row
    empty = (geom.isna() | geom.is_empty).to_numpy() & ~unreadable
    for i in np.flatnonzero(empty)[:20]:
        problems.append(Problem(inst.township_cell(int(i), "geometry"), _("empty geometry")))
    invalid = (~geom.is_valid & ~empty & ~unreadable & ~geom.isna()).to_numpy()
    if invalid.any():
        import shapely

        for i in np.flatnonzero(invalid)[:20]:
            reason = shapely.is_valid_reason(geom.iloc[i])
            problems.append(
                Problem(
                    inst.township_cell(int(i), "geometry"),
                    _("invalid geometry ({reason})").format(reason=reason),
                    _("repair it in QGIS with Vector ▸ Geometry Tools ▸ Fix Geometries"),
                )
            )


def _check_site(inst: LoadedInstance, townships: pd.DataFrame, problems: list[Problem]) -> None:
    if inst.site is None:
        return
    cells.check_site(inst.site, inst.site_file, inst.site_rows, inst.site_cell, cells.IndustryFacts.from_spec(inst.spec),
                     set(townships.index) if not townships.empty else None, problems)


def _check_counties(inst: LoadedInstance, townships: pd.DataFrame, problems: list[Problem]) -> None:
    """A county (or basin) of the table that no limit names, written like one a limit names.

    Such a township sits outside every county budget without anyone having asked for it:
    a slip of the keyboard in a few rows (富川瑶族自治具 for 富川瑶族自治县). It is told
    apart from a real county without limits by three signs together: no county-keyed limit
    names it; it is close to a name that a limit does name (did-you-mean); and that county
    has at least twice as many townships in the table, as a misspelling touches a few rows.
    Names that differ only in digits (county_0380, county_1080) are systematic, not slips.
    """
    cons = inst.spec.constraints
    for column, limits in (("county", [cons.water.county_max_m3, cons.grid_county_max_mw]),
                           ("basin", [cons.water.basin_max_m3])):
        named = {k for lim in limits for k in lim}
        if not named or column not in townships.columns:
            continue
        column_values = townships[column]
        sizes = column_values.value_counts()
        reported = 0
        for value in sizes.index:
            if not value or value in named:
                continue
            close = cells.unknown_county(value, named)
            if close is None or _digits_only(value, close) or 2 * sizes[value] > sizes.get(close, 0):
                continue
            for pos in np.flatnonzero((column_values == value).to_numpy()):
                if reported >= 20:
                    return
                problems.append(Problem(
                    inst.township_cell(int(pos), column),
                    _("{kind} '{value}' (township {tid}) is named by no limit, while the limits name '{close}' "
                      "({n} townships): this township would be outside every {kind} budget").format(
                        kind=_(column), value=value, tid=townships.index[pos], close=close, n=int(sizes.get(close, 0))),
                    _("did you mean '{close}'?").format(close=close)))
                reported += 1


def _digits_only(a: str, b: str) -> bool:
    """True when two names differ only in their digits (systematic names, not typing slips)."""
    return a != b and re.sub(r"\d", "", a) == re.sub(r"\d", "", b)


def _check_derived(inst: LoadedInstance, pairs: pd.DataFrame, problems: list[Problem]) -> None:
    """Per-ha money of each pair within ±MAX_DERIVED_YUAN_PER_HA: in-range fields can multiply out of range."""
    money = [c for c in ("revenue_per_ha", "operating_cost_per_ha", "value_added_per_ha", "farmer_income_per_ha",
                         "gep_material_per_ha", "gep_regulating_per_ha", "gep_cultural_per_ha") if c in pairs.columns]
    values = pairs[money].to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (np.abs(values) > MAX_DERIVED_YUAN_PER_HA)
    rows = np.flatnonzero(bad.any(axis=1))
    for r in rows[:20]:
        tid, ind = pairs.index[r]
        col = money[int(np.flatnonzero(bad[r])[0])]
        value = float(values[r, money.index(col)])
        value_text, limit_text = distinct(abs(value), MAX_DERIVED_YUAN_PER_HA)
        problems.append(Problem(
            inst.locate("industries", ind),
            _("{what} of '{ind}' in township {tid} comes to {sign}{value} yuan/ha, beyond the accepted ±{limit} "
              "yuan/ha").format(what=col.removesuffix("_per_ha"), ind=ind, tid=tid, value=value_text,
                                sign="-" if value < 0 else "", limit=limit_text),
            _("check the yield, price and GEP quantities for a unit mix-up (kg for t, yuan for 万元)"),
            path=f"industries.{ind}"))


def _check_references(inst: LoadedInstance, townships: pd.DataFrame, problems: list[Problem]) -> None:
    spec = inst.spec
    industries = spec.industries
    cons = spec.constraints
    if not any(ind.candidate for ind in industries.values()):
        problems.append(Problem(inst.locate("industries"), "no industry is a candidate (all have candidate: false)"))
    if townships.empty:
        return
    counties = set(townships["county"])
    basins = set(townships["basin"]) - {""}
    ids = set(townships.index)
    cells.check_baselines(townships, industries, inst.township_cell, problems)
    # Budgets keyed by a county or basin name must name one of the table's.
    keyed = (
        (("water", "county_max_m3"), cons.water.county_max_m3, counties, N_("the township table")),
        (("water", "basin_max_m3"), cons.water.basin_max_m3, basins, N_("the township table's 'basin' column")),
        (("grid_county_max_mw",), cons.grid_county_max_mw, counties, N_("the township table")),
    )
    for keys, limits, known, where in keyed:
        kind = "basin" if "basin" in keys[-1] else "county"
        for key in limits:
            if key not in known:
                dotted = ".".join(("constraints", *keys, key))
                problems.append(
                    Problem(inst.locate("constraints", *keys, key),
                            (_("basin '{key}' is not in {where}") if kind == "basin"
                             else _("county '{key}' is not in {where}")).format(key=key, where=_(where)),
                            did_you_mean(key, known), path=dotted)
                )
    for name, market in cons.markets.items():
        for j, ind in enumerate(market.industries):
            if ind not in industries:
                problems.append(
                    Problem(
                        inst.locate("constraints", "markets", name, "industries", j),
                        _("market '{name}' names unknown industry '{ind}'").format(name=name, ind=ind),
                        did_you_mean(ind, industries),
                        path=f"constraints.markets.{name}.industries",
                    )
                )
        known = [industries[i] for i in market.industries if i in industries]
        units = {ind.output_unit for ind in known}
        if len(units) > 1:
            problems.append(
                Problem(
                    inst.locate("constraints", "markets", name, "industries"),
                    _("market '{name}' mixes output units {units}; a market adds up one unit").format(
                        name=name, units=sorted(units)),
                    path=f"constraints.markets.{name}",
                )
            )
        if market.price_steps:
            aboves = [s.above_output for s in market.price_steps]
            drops = [s.price_drop_yuan_per_unit for s in sorted(market.price_steps, key=lambda s: s.above_output)]
            if len(set(aboves)) != len(aboves) or any(b <= a for a, b in zip(drops, drops[1:])):
                problems.append(
                    Problem(
                        inst.locate("constraints", "markets", name, "price_steps"),
                        _("price steps of market '{name}' must have distinct thresholds and price cuts "
                          "that grow with output (a falling price)").format(name=name),
                        path=f"constraints.markets.{name}.price_steps",
                    )
                )
            shares = {ind.farmer_share_of_value_added for ind in known}
            if len(shares) > 1:
                problems.append(
                    Problem(
                        inst.locate("constraints", "markets", name, "price_steps"),
                        _("industries of market '{name}' have different farmer shares {shares}; "
                          "price steps need one share to split the revenue lost").format(name=name, shares=sorted(shares)),
                        path=f"constraints.markets.{name}.price_steps",
                    )
                )
            if inst.site is not None and "farmer_share_of_value_added" in inst.site.columns:
                site_inds = set(inst.site.loc[inst.site["farmer_share_of_value_added"].astype(str).str.strip() != "", "industry"])
                if site_inds & set(market.industries):
                    problems.append(
                        Problem(
                            inst.locate("constraints", "markets", name, "price_steps"),
                            _("market '{name}' has price steps, so its industries' farmer share cannot vary by site").format(
                                name=name),
                            path=f"constraints.markets.{name}.price_steps",
                        )
                    )
    must: dict[str, int] = {}
    pairs_seen: dict[tuple[str, str], bool] = {}
    for j, lock in enumerate(cons.locks):
        loc = inst.locate("constraints", "locks", j)
        if lock.township not in ids:
            problems.append(
                Problem(loc, _("lock names unknown township '{tid}'").format(tid=lock.township), did_you_mean(lock.township, ids),
                        path=f"constraints.locks[{j}].township")
            )
        if lock.industry not in industries:
            problems.append(
                Problem(loc, _("lock names unknown industry '{ind}'").format(ind=lock.industry),
                        did_you_mean(lock.industry, industries),
                        path=f"constraints.locks[{j}].industry")
            )
        elif not lock.forbid and not industries[lock.industry].candidate:
            problems.append(Problem(loc, _("industry '{ind}' is not a candidate and cannot be locked in").format(ind=lock.industry)))
        if lock.village is not None:  # a village's lock: villages.check_references
            continue
        key = (lock.township, lock.industry)
        if key in pairs_seen and pairs_seen[key] != lock.forbid:
            problems.append(Problem(loc, _("township {tid} is both locked to and locked out of '{ind}'").format(
                tid=lock.township, ind=lock.industry)))
        pairs_seen[key] = lock.forbid
        if not lock.forbid:
            if lock.township in must and cons.locks[must[lock.township]].industry != lock.industry:
                problems.append(
                    Problem(loc, _("township {tid} is locked to two industries ('{first}' and '{second}')").format(
                        tid=lock.township, first=cons.locks[must[lock.township]].industry, second=lock.industry))
                )
            must.setdefault(lock.township, j)
    if cons.water.basin_max_m3 and not basins:
        problems.append(
            Problem(inst.locate("constraints", "water", "basin_max_m3"),
                    "basin water budgets need a 'basin' column in the township table")
        )


def _check_feasibility(
    inst: LoadedInstance,
    t: pd.DataFrame,
    pairs: pd.DataFrame,
    base: pd.DataFrame,
    problems: list[Problem],
    conflicts: list[Problem],
) -> None:
    """Limits that no plan can meet, found from per-township best cases (cheap, exact bounds).

    A lock on a pair its gates exclude is contradictory input (`problems`). Everything
    else found here is a property of valid input: the limits conflict, so the answer is
    "infeasible" (`conflicts`), reported like a solver's infeasibility, never as bad input.
    """
    spec = inst.spec
    cons = spec.constraints
    allowed = pairs["allowed"].copy()
    for lock in cons.locks:
        key = (lock.township, lock.industry)
        if key not in allowed.index:
            continue
        if lock.forbid:
            allowed.loc[key] = False
        else:
            if not allowed.loc[key]:
                row = t.loc[lock.township]
                why = "; ".join(gate_failures(spec.industries[lock.industry], row)) or _("it is not a candidate")
                problems.append(
                    Problem(
                        inst.locate("constraints", "locks"),
                        _("township {tid} ({name}) is locked to '{ind}' but fails its suitability gates: {why}").format(
                            tid=lock.township, name=row["name"], ind=lock.industry, why=why),
                    )
                )
            others = allowed.loc[lock.township].index.difference([lock.industry])
            for other in others:
                allowed.loc[(lock.township, other)] = False
    per_t = allowed.groupby(level=0).sum()
    none = per_t[per_t == 0].index
    for tid in none[:50]:
        row = t.loc[tid]
        reasons = []
        for ind_id, ind in spec.industries.items():
            if ind.candidate:
                why = gate_failures(ind, row)
                reasons.append(f"{ind_id}: " + (", ".join(why) if why else _("locked out")))
        conflicts.append(
            Problem(
                inst.township_cell(int(row["_pos"]), "township_id"),
                _("township {tid} ({name}) can take no industry: {reasons}").format(
                    tid=tid, name=row["name"], reasons="; ".join(reasons)),
                _("relax a gate, or add an industry without gates such as conservation"),
            )
        )
    if len(none) > 0:
        return
    ok = pairs[allowed.reindex(pairs.index).to_numpy()]
    area = ok["area_ha"]

    def min_total(values: pd.Series) -> pd.Series:
        return values.groupby(level=0).min()

    def report(path: tuple, what: str, least: float, limit: float, unit: str) -> None:
        least_text, limit_text = distinct(least, limit)
        conflicts.append(
            Problem(
                inst.locate(*path),
                _("no plan can meet this {what}: even the least possible is {least} {unit}, above the limit "
                  "of {limit} {unit}").format(what=what, least=least_text, limit=limit_text, unit=_(unit) if unit else unit),
                path=".".join(str(p) for p in path),
            )
        )

    water_min = min_total(ok["water_per_ha"] * area)
    county_of = t["county"]
    water_min_county = water_min.groupby(county_of.reindex(water_min.index).to_numpy()).sum()
    for county, limit in cons.water.county_max_m3.items():
        least = float(water_min_county.get(county, 0.0))
        if least > limit * (1 + 1e-9):
            report(("constraints", "water", "county_max_m3", county), _("water budget of {county}").format(county=county), least, limit, "m³")
    if cons.water.basin_max_m3:
        water_min_basin = water_min.groupby(t["basin"].reindex(water_min.index).to_numpy()).sum()
        for basin, limit in cons.water.basin_max_m3.items():
            least = float(water_min_basin.get(basin, 0.0))
            if least > limit * (1 + 1e-9):
                report(("constraints", "water", "basin_max_m3", basin), _("water budget of basin {basin}").format(basin=basin), least, limit,
                       "m³")
    if cons.water.per_township:
        over = water_min > t["water_available_m3"].reindex(water_min.index) * (1 + 1e-9)
        for tid in over[over].index[:50]:
            row = t.loc[tid]
            need, have = distinct(float(water_min[tid]), float(row["water_available_m3"]))
            conflicts.append(
                Problem(
                    inst.township_cell(int(row["_pos"]), "water_available_m3"),
                    _("township {tid} ({name}): every allowed industry uses more water ({need} m³ at least) than "
                      "the {have} m³ available").format(tid=tid, name=row["name"], need=need, have=have),
                )
            )
    for name, market in cons.markets.items():
        if market.max_output is None:
            continue
        in_m = ok.index.get_level_values("industry").isin(market.industries)
        out = (ok["output_per_ha"] * area).where(in_m, 0.0)
        least = min_total(out).sum()
        if least > market.max_output * (1 + 1e-9):
            unit = spec.industries[market.industries[0]].output_unit if market.industries[0] in spec.industries else ""
            report(("constraints", "markets", name, "max_output"), _("market cap of '{name}'").format(name=name), least,
                   market.max_output, unit)
    pv_min = min_total(ok["pv_capacity_per_ha"] * area)
    pv_min_county = pv_min.groupby(county_of.reindex(pv_min.index).to_numpy()).sum()
    for county, limit in cons.grid_county_max_mw.items():
        least = float(pv_min_county.get(county, 0.0))
        if least > limit * (1 + 1e-9):
            report(("constraints", "grid_county_max_mw", county), _("grid capacity of {county}").format(county=county), least, limit,
                   "MWp")
    if cons.investment_budget_yuan is not None:
        least = min_total(ok["investment_per_ha"] * area).sum()
        if least > cons.investment_budget_yuan * (1 + 1e-9):
            report(("constraints", "investment_budget_yuan"), _("investment budget"), least, cons.investment_budget_yuan, "yuan")
    cons_area = (area * ok["conservation"]).groupby(level=0).max()
    total_area = t["plannable_area_ha"]
    if cons.min_conservation_share is not None:
        most = cons_area.sum()
        need = cons.min_conservation_share * total_area.sum()
        if most < need * (1 - 1e-9):
            most_text, need_text = distinct(float(most), float(need))
            conflicts.append(
                Problem(
                    inst.locate("constraints", "min_conservation_share"),
                    _("no plan can meet the conservation share: at most {most} ha can be conserved "
                      "(the gates and locks allow no more), but {need} ha are required").format(
                        most=most_text, need=need_text),
                    path="constraints.min_conservation_share",
                )
            )
    if cons.min_conservation_share_per_county is not None:
        share = cons.min_conservation_share_per_county
        most_c = cons_area.groupby(county_of).sum()
        need_c = total_area.groupby(county_of).sum() * share
        for county in need_c.index:
            if most_c.get(county, 0.0) < need_c[county] * (1 - 1e-9):
                most_text, need_text = distinct(float(most_c.get(county, 0.0)), float(need_c[county]))
                conflicts.append(
                    Problem(
                        inst.locate("constraints", "min_conservation_share_per_county"),
                        _("{county} can conserve at most {most} ha but needs {need} ha").format(
                            county=county, most=most_text, need=need_text),
                        path="constraints.min_conservation_share_per_county",
                    )
                )
    floor = income_floor(inst, t, base)
    if floor is not None:
        best = (ok["farmer_income_per_ha"] * area).groupby(level=0).max()
        short = best < floor.reindex(best.index) - 1e-6 * (1 + floor.reindex(best.index).abs())
        for tid in short[short].index[:50]:
            row = t.loc[tid]
            floor_text, best_text = distinct(float(floor[tid]), float(best[tid]))
            conflicts.append(
                Problem(
                    inst.locate("constraints", "income_floor"),
                    _("township {tid} ({name}): no allowed industry reaches the income floor of {floor} yuan "
                      "(best is {best} yuan)").format(tid=tid, name=row["name"], floor=floor_text, best=best_text),
                    path="constraints.income_floor",
                )
            )


def income_floor(inst: LoadedInstance, t: pd.DataFrame, base: pd.DataFrame | None = None) -> pd.Series | None:
    """Each township's minimum farmer income (yuan/yr), or None when no floor is set."""
    return income_floor_yuan(inst.spec, t, base)


def validate(inst: LoadedInstance) -> ValidInstance:
    """Run every cross-check; raise InputError with all problems, or return typed data."""
    problems: list[Problem] = []
    problems.extend(inst.read_problems)
    t = typed_townships(inst, problems)
    _check_geometry(inst, problems)
    _check_site(inst, t, problems)
    _check_references(inst, t, problems)
    if not t.empty:
        _check_counties(inst, t, problems)
    if inst.spec.uncertainty is not None and not t.empty:
        problems.extend(check_uncertainty(inst, t))
    village = validate_villages(inst, t, problems) if not t.empty else None
    if problems:
        raise InputError(_sorted(problems))
    if village is not None:  # a village instance: villages are the planning units
        log.info("validated %s: %d townships, %d villages, %d allowed pairs", inst.path.name, len(t),
                 len(village.villages), int(village.pairs["allowed"].sum()))
        return ValidInstance(loaded=inst, townships=t, pairs=village.pairs, baseline=village.baseline,
                             conflicts=_sorted(village.conflicts), villages=village.villages,
                             village_site=village.site, warnings=village.warnings)
    pairs = pair_table(inst.spec, t, inst.site)
    _check_derived(inst, pairs, problems)
    if problems:
        raise InputError(_sorted(problems))
    base = baseline(pairs, t)
    conflicts: list[Problem] = []
    _check_feasibility(inst, t, pairs, base, problems, conflicts)
    if problems:
        raise InputError(_sorted(problems))
    log.info("validated %s: %d townships, %d allowed pairs", inst.path.name, len(t), int(pairs["allowed"].sum()))
    if conflicts:
        log.info("%d limits no plan can meet", len(conflicts))
    return ValidInstance(loaded=inst, townships=t, pairs=pairs, baseline=base, conflicts=_sorted(conflicts))


def _sorted(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple:
        loc = p.location
        return (str(loc.file), loc.argument or "", loc.line or 0, loc.row or 0, loc.column or 0, loc.table_column or "")

    return sorted(problems, key=key)
