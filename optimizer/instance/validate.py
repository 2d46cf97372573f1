"""Cross-checks of an instance before any model is built, all problems at once.

The schema catches wrong keys and types inside the YAML; this module catches what only
shows when the YAML meets its tables: unknown or duplicate township ids, a county name
misspelt in a water budget, a township whose gates forbid every industry, a limit that
no plan can meet. Each message names the file and line (YAML) or row and column
(tables) and, where a name is close to a known one, suggests it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.instance.coefficients import baseline, gate_failures, pair_table
from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.instance.load import LoadedInstance
from optimizer.instance.schema import SITE_FIELDS, TOWNSHIP_COLUMNS

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

    @property
    def spec(self):  # type: ignore[no-untyped-def]
        return self.loaded.spec


def _cell(file, row: int, column: str) -> Location:  # type: ignore[no-untyped-def]
    return Location(file=file, row=row, table_column=column)


def typed_townships(inst: LoadedInstance, problems: list[Problem]) -> pd.DataFrame:
    """Type the township table column by column, recording each bad cell."""
    df = inst.townships
    file = inst.townships_file
    missing = [c for c, (req, _, _) in TOWNSHIP_COLUMNS.items() if req and c not in df.columns]
    for col in missing:
        extra = [c for c in df.columns if c not in TOWNSHIP_COLUMNS]
        problems.append(
            Problem(
                Location(file, table_column=col),
                f"required column '{col}' ({TOWNSHIP_COLUMNS[col][2]}) is missing",
                did_you_mean(col, extra),
            )
        )
    if missing:
        return pd.DataFrame()
    if df.empty:
        problems.append(Problem(Location(file), "the township table has no rows"))
        return pd.DataFrame()
    out = pd.DataFrame(index=df.index)
    for col, (_req, kind, desc) in TOWNSHIP_COLUMNS.items():
        if col not in df.columns:
            if col in ("city", "basin"):
                out[col] = ""
            continue
        raw = df[col].astype(str).str.strip()
        if kind == "str":
            out[col] = raw
            if col in ("township_id", "name", "county", "baseline_land_use"):
                for i in np.flatnonzero((raw == "").to_numpy())[:20]:
                    problems.append(Problem(_cell(file, i + 1, col), f"{col} is empty"))
            continue
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna().to_numpy()
        for i in np.flatnonzero(bad)[:20]:
            problems.append(
                Problem(_cell(file, i + 1, col), f"'{raw.iloc[i]}' is not a number ({desc})")
            )
        if bad.sum() > 20:
            problems.append(Problem(Location(file, table_column=col), f"{bad.sum() - 20} more non-numeric cells"))
        neg = (values < 0).to_numpy()
        for i in np.flatnonzero(neg)[:20]:
            problems.append(
                Problem(_cell(file, i + 1, col), f"{col} is negative ({values.iloc[i]:g}); it must be ≥ 0")
            )
        if col == "rocky_desertification_grade":
            off = (~values.isin([0, 1, 2, 3, 4]) & ~values.isna()).to_numpy()
            for i in np.flatnonzero(off)[:20]:
                problems.append(
                    Problem(
                        _cell(file, i + 1, col),
                        f"grade {values.iloc[i]:g} is not one of 0 none, 1 light, 2 moderate, 3 severe, 4 extreme",
                    )
                )
        if col == "slope_deg":
            for i in np.flatnonzero((values > 90).to_numpy())[:20]:
                problems.append(Problem(_cell(file, i + 1, col), f"slope {values.iloc[i]:g}° is above 90°"))
        out[col] = values
    ids = out["township_id"]
    dup = ids.duplicated(keep="first").to_numpy()
    for i in np.flatnonzero(dup)[:20]:
        first = int(np.flatnonzero((ids == ids.iloc[i]).to_numpy())[0]) + 1
        problems.append(
            Problem(_cell(file, i + 1, "township_id"), f"duplicate township id '{ids.iloc[i]}' (first at row {first})")
        )
    out["_row"] = np.arange(1, len(out) + 1)
    return out.set_index("township_id", drop=False).rename_axis("township_id")


def _check_geometry(inst: LoadedInstance, problems: list[Problem]) -> None:
    geom = inst.geometry
    if geom is None:
        return
    file = inst.townships_file
    if inst.crs is None:
        problems.append(
            Problem(
                Location(file),
                "the layer has no coordinate reference system (CRS)",
                "assign one in QGIS (Layer ▸ Set CRS), e.g. EPSG:4490 (CGCS2000) or EPSG:4326",
            )
        )
    empty = (geom.isna() | geom.is_empty).to_numpy()
    for i in np.flatnonzero(empty)[:20]:
        problems.append(Problem(_cell(file, i + 1, "geometry"), "empty geometry"))
    invalid = (~geom.is_valid & ~empty).to_numpy()
    if invalid.any():
        import shapely

        for i in np.flatnonzero(invalid)[:20]:
            reason = shapely.is_valid_reason(geom.iloc[i])
            problems.append(
                Problem(
                    _cell(file, i + 1, "geometry"),
                    f"invalid geometry ({reason})",
                    "repair it in QGIS with Vector ▸ Geometry Tools ▸ Fix Geometries",
                )
            )


def _check_site(inst: LoadedInstance, townships: pd.DataFrame, problems: list[Problem]) -> None:
    site = inst.site
    if site is None:
        return
    file = inst.site_file
    industries = inst.spec.industries
    services = {f"gep.{s}" for ind in industries.values() for s in ind.gep}
    allowed_cols = {"township_id", "industry", *SITE_FIELDS, *services}
    for col in site.columns:
        if col not in allowed_cols and not col.startswith("note") and col != "source":
            problems.append(
                Problem(
                    Location(file, table_column=col),
                    f"unknown column '{col}'",
                    did_you_mean(col, sorted(allowed_cols)),
                )
            )
    for col in ("township_id", "industry"):
        if col not in site.columns:
            problems.append(Problem(Location(file, table_column=col), f"required column '{col}' is missing"))
    if problems and any(p.location.file == file for p in problems):
        return
    known_ids = set(townships.index) if not townships.empty else set()
    seen: dict[tuple[str, str], int] = {}
    for i, (tid, ind) in enumerate(zip(site["township_id"].astype(str), site["industry"].astype(str)), start=1):
        if known_ids and tid not in known_ids:
            problems.append(
                Problem(_cell(file, i, "township_id"), f"unknown township '{tid}'", did_you_mean(tid, known_ids))
            )
        if ind not in industries:
            problems.append(
                Problem(_cell(file, i, "industry"), f"unknown industry '{ind}'", did_you_mean(ind, industries))
            )
        if (tid, ind) in seen:
            problems.append(
                Problem(_cell(file, i, "township_id"), f"({tid}, {ind}) is listed twice (first at row {seen[tid, ind]})")
            )
        seen.setdefault((tid, ind), i)
    for col in site.columns:
        if col in ("township_id", "industry", "source") or col.startswith("note"):
            continue
        raw = site[col].astype(str).str.strip()
        vals = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
        bad = (vals.isna() & (raw != "")).to_numpy()
        for i in np.flatnonzero(bad)[:20]:
            problems.append(Problem(_cell(file, i + 1, col), f"'{raw.iloc[i]}' is not a number"))
        for i in np.flatnonzero((vals < 0).to_numpy() & (col != "other_revenue_yuan_per_ha"))[:20]:
            problems.append(Problem(_cell(file, i + 1, col), f"{col} is negative ({vals.iloc[i]:g})"))
        if col == "farmer_share_of_value_added":
            for i in np.flatnonzero((vals > 1).to_numpy())[:20]:
                problems.append(Problem(_cell(file, i + 1, col), f"a share must be between 0 and 1 (got {vals.iloc[i]:g})"))


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
    file = inst.townships_file
    for i, (tid, use) in enumerate(zip(townships.index, townships["baseline_land_use"]), start=1):
        if use and use not in industries:
            problems.append(
                Problem(
                    _cell(file, i, "baseline_land_use"),
                    f"baseline land use '{use}' (township {tid}) is not an industry of the instance",
                    did_you_mean(use, industries) or "define it under industries: with candidate: false",
                )
            )
    # Budgets keyed by a county or basin name must name one of the table's.
    keyed = (
        (("water", "county_max_m3"), cons.water.county_max_m3, counties, "the township table"),
        (("water", "basin_max_m3"), cons.water.basin_max_m3, basins, "the township table's 'basin' column"),
        (("grid_county_max_mw",), cons.grid_county_max_mw, counties, "the township table"),
    )
    for keys, limits, known, where in keyed:
        kind = "basin" if "basin" in keys[-1] else "county"
        for key in limits:
            if key not in known:
                dotted = ".".join(("constraints", *keys, key))
                problems.append(
                    Problem(inst.locate("constraints", *keys, key), f"{kind} '{key}' is not in {where}",
                            did_you_mean(key, known), path=dotted)
                )
    for name, market in cons.markets.items():
        for j, ind in enumerate(market.industries):
            if ind not in industries:
                problems.append(
                    Problem(
                        inst.locate("constraints", "markets", name, "industries", j),
                        f"market '{name}' names unknown industry '{ind}'",
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
                    f"market '{name}' mixes output units {sorted(units)}; a market adds up one unit",
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
                        f"price steps of market '{name}' must have distinct thresholds and price cuts "
                        "that grow with output (a falling price)",
                        path=f"constraints.markets.{name}.price_steps",
                    )
                )
            shares = {ind.farmer_share_of_value_added for ind in known}
            if len(shares) > 1:
                problems.append(
                    Problem(
                        inst.locate("constraints", "markets", name, "price_steps"),
                        f"industries of market '{name}' have different farmer shares {sorted(shares)}; "
                        "price steps need one share to split the revenue lost",
                        path=f"constraints.markets.{name}.price_steps",
                    )
                )
            if inst.site is not None and "farmer_share_of_value_added" in inst.site.columns:
                site_inds = set(inst.site.loc[inst.site["farmer_share_of_value_added"].astype(str).str.strip() != "", "industry"])
                if site_inds & set(market.industries):
                    problems.append(
                        Problem(
                            inst.locate("constraints", "markets", name, "price_steps"),
                            f"market '{name}' has price steps, so its industries' farmer share cannot vary by site",
                            path=f"constraints.markets.{name}.price_steps",
                        )
                    )
    must: dict[str, int] = {}
    pairs_seen: dict[tuple[str, str], bool] = {}
    for j, lock in enumerate(cons.locks):
        loc = inst.locate("constraints", "locks", j)
        if lock.township not in ids:
            problems.append(
                Problem(loc, f"lock names unknown township '{lock.township}'", did_you_mean(lock.township, ids),
                        path=f"constraints.locks[{j}].township")
            )
        if lock.industry not in industries:
            problems.append(
                Problem(loc, f"lock names unknown industry '{lock.industry}'", did_you_mean(lock.industry, industries),
                        path=f"constraints.locks[{j}].industry")
            )
        elif not lock.forbid and not industries[lock.industry].candidate:
            problems.append(Problem(loc, f"industry '{lock.industry}' is not a candidate and cannot be locked in"))
        key = (lock.township, lock.industry)
        if key in pairs_seen and pairs_seen[key] != lock.forbid:
            problems.append(Problem(loc, f"township {lock.township} is both locked to and locked out of '{lock.industry}'"))
        pairs_seen[key] = lock.forbid
        if not lock.forbid:
            if lock.township in must and cons.locks[must[lock.township]].industry != lock.industry:
                problems.append(
                    Problem(loc, f"township {lock.township} is locked to two industries "
                            f"('{cons.locks[must[lock.township]].industry}' and '{lock.industry}')")
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
                why = "; ".join(gate_failures(spec.industries[lock.industry], row)) or "it is not a candidate"
                problems.append(
                    Problem(
                        inst.locate("constraints", "locks"),
                        f"township {lock.township} ({row['name']}) is locked to '{lock.industry}' but fails its "
                        f"suitability gates: {why}",
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
                reasons.append(f"{ind_id}: {', '.join(why) if why else 'locked out'}")
        conflicts.append(
            Problem(
                _cell(inst.townships_file, int(row["_row"]), "township_id"),
                f"township {tid} ({row['name']}) can take no industry: " + "; ".join(reasons),
                "relax a gate, or add an industry without gates such as conservation",
            )
        )
    if len(none) > 0:
        return
    ok = pairs[allowed.reindex(pairs.index).to_numpy()]
    area = ok["area_ha"]

    def min_total(values: pd.Series) -> pd.Series:
        return values.groupby(level=0).min()

    def report(path: tuple, what: str, least: float, limit: float, unit: str) -> None:
        conflicts.append(
            Problem(
                inst.locate(*path),
                f"no plan can meet this {what}: even the least possible is {least:,.0f} {unit}, above the limit "
                f"of {limit:,.0f} {unit}",
                path=".".join(str(p) for p in path),
            )
        )

    water_min = min_total(ok["water_per_ha"] * area)
    county_of = t["county"]
    water_min_county = water_min.groupby(county_of.reindex(water_min.index).to_numpy()).sum()
    for county, limit in cons.water.county_max_m3.items():
        least = float(water_min_county.get(county, 0.0))
        if least > limit * (1 + 1e-9):
            report(("constraints", "water", "county_max_m3", county), f"water budget of {county}", least, limit, "m³")
    if cons.water.basin_max_m3:
        water_min_basin = water_min.groupby(t["basin"].reindex(water_min.index).to_numpy()).sum()
        for basin, limit in cons.water.basin_max_m3.items():
            least = float(water_min_basin.get(basin, 0.0))
            if least > limit * (1 + 1e-9):
                report(("constraints", "water", "basin_max_m3", basin), f"water budget of basin {basin}", least, limit, "m³")
    if cons.water.per_township:
        over = water_min > t["water_available_m3"].reindex(water_min.index) * (1 + 1e-9)
        for tid in over[over].index[:50]:
            row = t.loc[tid]
            conflicts.append(
                Problem(
                    _cell(inst.townships_file, int(row["_row"]), "water_available_m3"),
                    f"township {tid} ({row['name']}): every allowed industry uses more water "
                    f"({water_min[tid]:,.0f} m³ at least) than the {row['water_available_m3']:,.0f} m³ available",
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
            report(("constraints", "markets", name, "max_output"), f"market cap of '{name}'", least, market.max_output, unit)
    pv_min = min_total(ok["pv_capacity_per_ha"] * area)
    pv_min_county = pv_min.groupby(county_of.reindex(pv_min.index).to_numpy()).sum()
    for county, limit in cons.grid_county_max_mw.items():
        least = float(pv_min_county.get(county, 0.0))
        if least > limit * (1 + 1e-9):
            report(("constraints", "grid_county_max_mw", county), f"grid capacity of {county}", least, limit, "MWp")
    if cons.investment_budget_yuan is not None:
        least = min_total(ok["investment_per_ha"] * area).sum()
        if least > cons.investment_budget_yuan * (1 + 1e-9):
            report(("constraints", "investment_budget_yuan"), "investment budget", least, cons.investment_budget_yuan, "yuan")
    cons_area = (area * ok["conservation"]).groupby(level=0).max()
    total_area = t["plannable_area_ha"]
    if cons.min_conservation_share is not None:
        most = cons_area.sum()
        need = cons.min_conservation_share * total_area.sum()
        if most < need * (1 - 1e-9):
            conflicts.append(
                Problem(
                    inst.locate("constraints", "min_conservation_share"),
                    f"no plan can meet the conservation share: at most {most:,.0f} ha can be conserved "
                    f"(the gates and locks allow no more), but {need:,.0f} ha are required",
                    path="constraints.min_conservation_share",
                )
            )
    if cons.min_conservation_share_per_county is not None:
        share = cons.min_conservation_share_per_county
        most_c = cons_area.groupby(county_of).sum()
        need_c = total_area.groupby(county_of).sum() * share
        for county in need_c.index:
            if most_c.get(county, 0.0) < need_c[county] * (1 - 1e-9):
                conflicts.append(
                    Problem(
                        inst.locate("constraints", "min_conservation_share_per_county"),
                        f"{county} can conserve at most {most_c.get(county, 0.0):,.0f} ha but needs "
                        f"{need_c[county]:,.0f} ha",
                        path="constraints.min_conservation_share_per_county",
                    )
                )
    floor = income_floor(inst, t, base)
    if floor is not None:
        best = (ok["farmer_income_per_ha"] * area).groupby(level=0).max()
        short = best < floor.reindex(best.index) - 1e-6 * (1 + floor.reindex(best.index).abs())
        for tid in short[short].index[:50]:
            row = t.loc[tid]
            conflicts.append(
                Problem(
                    inst.locate("constraints", "income_floor"),
                    f"township {tid} ({row['name']}): no allowed industry reaches the income floor of "
                    f"{floor[tid]:,.0f} yuan (best is {best[tid]:,.0f} yuan)",
                    path="constraints.income_floor",
                )
            )


def income_floor(inst: LoadedInstance, t: pd.DataFrame, base: pd.DataFrame | None = None) -> pd.Series | None:
    """Each township's minimum farmer income (yuan/yr), or None when no floor is set."""
    f = inst.spec.constraints.income_floor
    if f.min_yuan_per_ha is None and f.min_share_of_baseline is None:
        return None
    floor = pd.Series(-np.inf, index=t.index)
    if f.min_yuan_per_ha is not None:
        floor = np.maximum(floor, f.min_yuan_per_ha * t["plannable_area_ha"])
    if f.min_share_of_baseline is not None:
        if base is None:
            raise ValueError("baseline needed")
        floor = np.maximum(floor, f.min_share_of_baseline * base["baseline_farmer_income_yuan"])
    return floor


def validate(inst: LoadedInstance) -> ValidInstance:
    """Run every cross-check; raise InputError with all problems, or return typed data."""
    problems: list[Problem] = []
    t = typed_townships(inst, problems)
    _check_geometry(inst, problems)
    _check_site(inst, t, problems)
    _check_references(inst, t, problems)
    if problems:
        raise InputError(_sorted(problems))
    pairs = pair_table(inst.spec, t, inst.site)
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
        return (str(loc.file), loc.line or 0, loc.row or 0, loc.column or 0, loc.table_column or "")

    return sorted(problems, key=key)
