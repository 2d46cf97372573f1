"""GEP accounting of the baseline or of any plan: by service, category, township, county, city.

Why a separate module: the optimiser only needs GEP per hectare and category (the pair
table), but a planner who has to defend a plan needs the account behind the number —
which service, how many tonnes of soil or cubic metres of water, at which unit price —
and needs to see how the total moves when the accounting convention changes, because
the literature does not agree on unit prices (constant national prices from the
technical guidelines versus local market prices; the carbon-market price versus the
afforestation cost of a tonne of CO₂). This module recomputes the account service by
service from the same coefficients the model uses (so under the instance's own prices
it reproduces `allocation.csv` to the yuan), lets a named price set from
`gep_price_sets` replace the unit prices of the services it names, and writes the
result as CSV tables and GeoPackage layers.

A convention changes the *accounting*, not the plan: the plan given (or the baseline)
is valued as it is. To optimise under other prices, change the industries' own
`unit_price_yuan` (e.g. with `--set`).

Library code logs and returns values; only the command registered by `register()`
prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.instance.coefficients import _service_quantity, site_overrides
from optimizer.analyses.plans import plan_file, read_plan
from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.instance.load import LoadedInstance
from optimizer.instance.schema import GEP_CATEGORIES
from optimizer.instance.validate import ValidInstance
from optimizer.outputs.export import OutputOptions, export_layer
from optimizer.outputs.gpkg import gep_style, township_layer, write_layers

log = logging.getLogger(__name__)

#: Name of the default convention: each industry's own `unit_price_yuan`, i.e. the
#: prices the optimiser's objective uses.
INSTANCE_CONVENTION = "instance"

#: Where a convention given on the command line is reported (like `--set`).
COMMAND_LINE = Location(Path("command line"))

BY_SERVICE_COLUMNS = [
    "township_id", "name", "county", "city", "industry", "service", "category",
    "quantity", "unit", "unit_price_yuan", "instance_unit_price_yuan", "value_yuan",
]  # fmt: skip
#: A village instance accounts per village (the planning unit), naming the village's township.
VILLAGE_BY_SERVICE_COLUMNS = ["village_id", "name", "township_id", *BY_SERVICE_COLUMNS[2:]]

_CAT_COLS = [f"gep_{c}_yuan" for c in GEP_CATEGORIES]
_SUM_COLUMNS = [
    "area_ha",
    *_CAT_COLS, "gep_total_yuan",
    *[f"baseline_{c}" for c in _CAT_COLS], "baseline_gep_total_yuan",
    *[f"change_{c}" for c in _CAT_COLS], "change_gep_total_yuan",
    "farmer_income_yuan", "baseline_farmer_income_yuan", "change_farmer_income_yuan",
]  # fmt: skip


@dataclass
class GepAccounts:
    """The GEP account of one plan (or of the baseline) under one pricing convention.

    Tables (every money column in yuan/yr, named with its unit):

    - `by_service`: one row per township and service of its industry, with the physical
      quantity, its unit, the unit price used (and the instance's own, to show what a
      convention changed) and the value.
    - `by_township`: GEP by category and total, the baseline's, the change, and farmers'
      income beside GEP (the GEP–income pair a township weighs), also per hectare.
    - `by_county`, `by_city`: the same summed.
    - `by_service_total`: each service summed over all townships, plan and baseline.
    - `prices`: every (industry, service) with the instance's price and the one used.

    In a village instance the account is kept per village (`by_village`, and `by_service`
    per village); `by_township` sums each township's villages, and names the township's
    leading industry (as the plan implies it) in `industry`.
    """

    instance: str
    convention: str
    plan_source: str  # "baseline" or the plan file
    by_service: pd.DataFrame
    by_township: pd.DataFrame
    by_county: pd.DataFrame
    by_city: pd.DataFrame
    by_service_total: pd.DataFrame
    prices: pd.DataFrame
    price_changes: dict[str, float] = field(default_factory=dict)  # service → price used, from the set
    by_village: pd.DataFrame | None = None  # village instances only

    @property
    def totals(self) -> dict[str, float]:
        """Whole-instance sums of `by_township`'s money and area columns."""
        return {c: float(self.by_township[c].sum()) for c in _SUM_COLUMNS}


# --------------------------------------------------------------------------- conventions


def all_services(valid: ValidInstance | LoadedInstance) -> dict[str, set[str]]:
    """Every GEP service name in the instance → the industries that provide it."""
    spec = valid.spec
    out: dict[str, set[str]] = {}
    for ind_id, ind in spec.industries.items():
        for service in ind.gep:
            out.setdefault(service, set()).add(ind_id)
    return out


def price_set_problems(loaded: LoadedInstance, names: list[str] | None = None) -> list[Problem]:
    """Problems in `gep_price_sets` (all sets, or only `names`): unknown services, bad prices.

    Exposed so that `optimizer validate` can report them too; `gep_accounts` checks the
    one convention it uses, so that a typo in another set does not block an account.
    """
    services = all_services(loaded)
    problems = []
    for name, prices in loaded.spec.gep_price_sets.items():
        if names is not None and name not in names:
            continue
        for service, price in prices.items():
            dotted = f"gep_price_sets.{name}.{service}"
            loc = _price_location(loaded, name, service, dotted)
            if service not in services:
                problems.append(
                    Problem(
                        loc,
                        f"price set '{name}' names service '{service}', which no industry has",
                        did_you_mean(service, services) or f"services: {', '.join(sorted(services))}",
                        path=dotted,
                    )
                )
            elif not np.isfinite(price) or price < 0:
                problems.append(
                    Problem(loc, f"unit price {price!r} must be a number ≥ 0 (yuan per unit)", path=dotted)
                )
    return problems


def _price_location(loaded: LoadedInstance, name: str, service: str, dotted: str) -> Location:
    """Where a price was written: the YAML line, or the `--set` / named override that added it."""
    key = ("gep_price_sets", name, service)
    if key not in loaded.positions:
        for applied in reversed(loaded.applied_overrides):
            if applied.path in (dotted, f"gep_price_sets.{name}", "gep_price_sets"):
                if applied.source == "--set":
                    return COMMAND_LINE
                if applied.source.startswith("overrides."):
                    return loaded.locate("overrides", applied.source.removeprefix("overrides."), applied.path)
    return loaded.locate(*key)


def convention_prices(valid: ValidInstance, convention: str | None) -> tuple[str, dict[str, float]]:
    """Resolve a convention name to {service: unit price}; raise a located InputError if unknown."""
    if convention is None or convention == INSTANCE_CONVENTION:
        return INSTANCE_CONVENTION, {}
    loaded = valid.loaded
    sets = loaded.spec.gep_price_sets
    if convention not in sets:
        known = [INSTANCE_CONVENTION, *sets]
        hint = did_you_mean(convention, known)
        if not sets:
            message = (
                f"'{convention}': {loaded.path.name} defines no GEP price sets "
                "(add `gep_price_sets: {name: {service: unit price}}` to the instance)"
            )
        else:
            message = (
                f"'{convention}' is not a GEP price set of {loaded.path.name} "
                f"(known: {', '.join(known)})"
            )
        raise InputError([Problem(COMMAND_LINE, message, hint, path="--convention")])
    problems = price_set_problems(loaded, [convention])
    if problems:
        raise InputError(problems)
    return convention, dict(sets[convention])


def price_table(valid: ValidInstance, prices: dict[str, float]) -> pd.DataFrame:
    """Every (industry, service) with its category, unit, the instance's price and the one used."""
    rows = []
    for ind_id, ind in valid.spec.industries.items():
        for service, svc in ind.gep.items():
            used = prices.get(service, svc.unit_price_yuan)
            rows.append(
                {
                    "industry": ind_id,
                    "service": service,
                    "category": svc.category,
                    "unit": svc.unit,
                    "quantity_basis": "per ha" if svc.quantity_per_ha is not None else "per output unit",
                    "instance_unit_price_yuan": svc.unit_price_yuan,
                    "unit_price_yuan": used,
                    "price_from": "price set" if service in prices else "instance",
                    "source": svc.source or "",
                }
            )
    return pd.DataFrame(
        rows,
        columns=["industry", "service", "category", "unit", "quantity_basis", "instance_unit_price_yuan",
                 "unit_price_yuan", "price_from", "source"],
    )  # fmt: skip


# --------------------------------------------------------------------------- accounting


def service_account(valid: ValidInstance, plan: pd.Series, prices: dict[str, float]) -> pd.DataFrame:
    """Long table of every service of every township's industry in `plan`.

    Quantities follow docs/model.md (q_tis: per ha, or per output unit × the site's
    yield, with site overrides) through the same helper the pair table uses, so that
    under the instance's prices the values add up to the model's GEP exactly.
    Vectorised per (industry, service): a region-wide instance has 20,000 townships.
    """
    spec = valid.spec
    t = valid.units  # townships, or the villages of a village instance
    villages = valid.villages is not None
    plan = plan.reindex(t.index)
    unknown = sorted(set(plan.dropna()) - set(spec.industries))
    if plan.isna().any() or unknown:
        raise ValueError(f"plan has missing townships or unknown industries {unknown}; read it with read_plan")
    overrides = site_overrides(valid.village_site if villages else valid.loaded.site)
    position = pd.Series(np.arange(len(t)), index=t.index)
    frames = []
    for ind_id, ind in spec.industries.items():
        if not ind.gep:
            continue
        tids = t.index[(plan == ind_id).to_numpy()]
        if not len(tids):
            continue
        idx = pd.Index(tids, name="township_id")
        output = valid.pairs.xs(ind_id, level="industry")["output_per_ha"].reindex(idx)
        area = t.loc[idx, "plannable_area_ha"].to_numpy()
        for order, (service, svc) in enumerate(ind.gep.items()):
            per_ha = _service_quantity(service, svc, output, overrides, ind_id, idx)
            quantity = per_ha.to_numpy() * area
            price = prices.get(service, svc.unit_price_yuan)
            ids = {"village_id": idx, "name": t.loc[idx, "name"].to_numpy(),
                   "township_id": t.loc[idx, "township_id"].to_numpy()} if villages else {
                "township_id": idx, "name": t.loc[idx, "name"].to_numpy()}  # fmt: skip
            frames.append(
                pd.DataFrame(
                    {
                        **ids,
                        "county": t.loc[idx, "county"].to_numpy(),
                        "city": t.loc[idx, "city"].to_numpy(),
                        "industry": ind_id,
                        "service": service,
                        "category": svc.category,
                        "quantity": quantity,
                        "unit": svc.unit,
                        "unit_price_yuan": float(price),
                        "instance_unit_price_yuan": float(svc.unit_price_yuan),
                        "value_yuan": quantity * price,
                        "_pos": position.reindex(idx).to_numpy(),
                        "_order": order,
                    }
                )
            )
    columns = VILLAGE_BY_SERVICE_COLUMNS if villages else BY_SERVICE_COLUMNS
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True).sort_values(["_pos", "_order"], kind="stable")
    return out[columns].reset_index(drop=True)


def _by_category(services: pd.DataFrame, index: pd.Index, key: str = "township_id") -> pd.DataFrame:
    """GEP value per planning unit and category (0 where an industry provides none)."""
    out = pd.DataFrame(index=index)
    if services.empty:
        for cat in GEP_CATEGORIES:
            out[f"gep_{cat}_yuan"] = 0.0
        out["gep_total_yuan"] = 0.0
        return out
    wide = services.pivot_table(index=key, columns="category", values="value_yuan", aggfunc="sum")
    for cat in GEP_CATEGORIES:
        col = wide[cat] if cat in wide.columns else pd.Series(dtype=float)
        out[f"gep_{cat}_yuan"] = col.reindex(index).fillna(0.0).to_numpy()
    out["gep_total_yuan"] = out[_CAT_COLS].sum(axis=1)
    return out


def _income(valid: ValidInstance, plan: pd.Series) -> np.ndarray:
    """Farmers' income per planning unit (yuan/yr) of a plan, before market price steps."""
    t = valid.units
    idx = pd.MultiIndex.from_arrays([t.index, plan.reindex(t.index).to_numpy()])
    return valid.pairs["farmer_income_per_ha"].reindex(idx).to_numpy() * t["plannable_area_ha"].to_numpy()


def _group(by_township: pd.DataFrame, key: str) -> pd.DataFrame:
    grouped = by_township.groupby(key, sort=True)
    out = grouped[_SUM_COLUMNS].sum()
    if "village_id" in by_township.columns:  # villages: count both levels
        out.insert(0, "villages", grouped.size())
        if key != "township_id":
            out.insert(0, "townships", grouped["township_id"].nunique())
    else:
        out.insert(0, "townships", grouped.size())
    out["gep_total_yuan_per_ha"] = out["gep_total_yuan"] / out["area_ha"].replace(0, np.nan)
    out["farmer_income_yuan_per_ha"] = out["farmer_income_yuan"] / out["area_ha"].replace(0, np.nan)
    return out.reset_index()


def gep_accounts(
    valid: ValidInstance,
    plan: pd.Series | None = None,
    convention: str | None = None,
    *,
    plan_source: str | None = None,
) -> GepAccounts:
    """GEP of `plan` (industry per township id) or, if None, of the baseline land use.

    The baseline is always accounted under the same convention, so the change column
    compares like with like. Farmers' income is the model's per-township income before
    market price steps (a falling price is a market-wide loss that belongs to no single
    township; `optimizer solve` reports it in its totals).
    """
    t = valid.units  # townships, or the villages of a village instance
    villages = valid.villages is not None
    key = valid.unit_key
    name, prices = convention_prices(valid, convention)
    baseline_plan = t["baseline_land_use"]
    is_baseline = plan is None
    plan = baseline_plan if plan is None else plan.reindex(t.index)
    services = service_account(valid, plan, prices)
    base_services = services if is_baseline else service_account(valid, baseline_plan, prices)

    gep = _by_category(services, t.index, key)
    base = _by_category(base_services, t.index, key)
    area = t["plannable_area_ha"].to_numpy()
    ids: dict[str, object] = {"township_id": t.index, "name": t["name"].to_numpy()}
    if villages:
        ids = {"village_id": t.index, "name": t["name"].to_numpy(), "township_id": t["township_id"].to_numpy(),
               "township_name": valid.townships["name"].reindex(t["township_id"]).fillna("").to_numpy()}
    bt = pd.DataFrame(
        {
            **ids,
            "county": t["county"].to_numpy(),
            "city": t["city"].to_numpy(),
            "industry": plan.to_numpy(),
            "baseline_land_use": baseline_plan.to_numpy(),
            "area_ha": area,
        }
    )
    for col in [*_CAT_COLS, "gep_total_yuan"]:
        bt[col] = gep[col].to_numpy()
    for col in [*_CAT_COLS, "gep_total_yuan"]:
        bt[f"baseline_{col}"] = base[col].to_numpy()
    for col in [*_CAT_COLS, "gep_total_yuan"]:
        bt[f"change_{col}"] = bt[col] - bt[f"baseline_{col}"]
    bt["farmer_income_yuan"] = _income(valid, plan)
    bt["baseline_farmer_income_yuan"] = valid.baseline["baseline_farmer_income_yuan"].reindex(t.index).to_numpy()
    bt["change_farmer_income_yuan"] = bt["farmer_income_yuan"] - bt["baseline_farmer_income_yuan"]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_ha = np.where(area > 0, area, np.nan)
        bt["gep_total_yuan_per_ha"] = bt["gep_total_yuan"].to_numpy() / per_ha
        bt["farmer_income_yuan_per_ha"] = bt["farmer_income_yuan"].to_numpy() / per_ha
        bt["baseline_gep_total_yuan_per_ha"] = bt["baseline_gep_total_yuan"].to_numpy() / per_ha
        bt["baseline_farmer_income_yuan_per_ha"] = bt["baseline_farmer_income_yuan"].to_numpy() / per_ha

    totals = _service_totals(services, base_services)
    by_township = _townships_of_villages(valid, bt, None if is_baseline else plan) if villages else bt
    accounts = GepAccounts(
        instance=valid.spec.name,
        convention=name,
        plan_source=plan_source or ("baseline" if is_baseline else "plan"),
        by_service=services,
        by_township=by_township,
        by_county=_group(bt, "county"),
        by_city=_group(bt, "city"),
        by_service_total=totals,
        prices=price_table(valid, prices),
        price_changes=prices,
        by_village=bt if villages else None,
    )
    tot = accounts.totals
    log.info(
        "GEP of %s (%s, convention %s): %.0f yuan/yr, baseline %.0f",
        accounts.instance, accounts.plan_source, name, tot["gep_total_yuan"], tot["baseline_gep_total_yuan"],
    )
    return accounts


def _townships_of_villages(valid: ValidInstance, bv: pd.DataFrame, plan: pd.Series | None) -> pd.DataFrame:
    """A village account summed per township, with the township's leading industry as `industry`."""
    from optimizer.outputs.tables import derive_leading, effective_leading

    t = valid.townships
    grouped = _group(bv, "township_id").set_index("township_id").reindex(t.index)
    grouped["villages"] = grouped["villages"].fillna(0).astype(int)
    grouped[_SUM_COLUMNS] = grouped[_SUM_COLUMNS].fillna(0.0)  # a township without villages
    out = grouped.reset_index()
    out.insert(1, "name", t["name"].to_numpy())
    out.insert(2, "county", t["county"].to_numpy())
    out.insert(3, "city", t["city"].to_numpy())
    if plan is None:
        lead = pd.Series("", index=t.index)
    else:
        lead = effective_leading(valid, plan, derive_leading(valid, plan))
    out.insert(4, "industry", lead.reindex(t.index).fillna("").to_numpy())
    return out


def _service_totals(services: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Each (service, category, unit, price) summed over townships, plan against baseline."""
    keys = ["service", "category", "unit", "unit_price_yuan"]

    def summed(df: pd.DataFrame, prefix: str) -> pd.DataFrame:
        if df.empty:
            return pd.DataFrame(columns=[*keys, f"{prefix}quantity", f"{prefix}value_yuan"]).set_index(keys)
        g = df.groupby(keys, sort=False)[["quantity", "value_yuan"]].sum()
        return g.rename(columns={"quantity": f"{prefix}quantity", "value_yuan": f"{prefix}value_yuan"})

    out = summed(services, "").join(summed(base, "baseline_"), how="outer").fillna(0.0).reset_index()
    out["change_value_yuan"] = out["value_yuan"] - out["baseline_value_yuan"]
    order = {c: i for i, c in enumerate(GEP_CATEGORIES)}
    out = out.sort_values(["category", "service"], key=lambda s: s.map(order) if s.name == "category" else s)
    return out[[*keys, "quantity", "baseline_quantity", "value_yuan", "baseline_value_yuan", "change_value_yuan"]]


# --------------------------------------------------------------------------- writing


def write_gep(
    accounts: GepAccounts,
    valid: ValidInstance,
    results_root: Path = Path("results"),
    *,
    extra_inputs: list[Path] | None = None,
    sets: list[str] | tuple[str, ...] = (),
    output: OutputOptions | None = None,
) -> Path:
    """Write `results/<instance>/<run id>-gep/` atomically and return its final path.

    Files: gep_by_service.csv, gep_by_township.csv, gep_by_county.csv, gep_by_city.csv,
    gep_by_service_total.csv, gep_prices.csv, gep.gpkg (layer `gep_by_township` with the
    township polygons when the instance has them, opening graduated by GEP per ha, and
    non-spatial `gep_by_service`, `gep_by_county`, `gep_by_city`, `gep_prices`), the
    `output.export` copies of `gep_by_township`, instance.resolved.yaml and
    manifest.json (written last: inputs' sha256, convention, prices used, totals).
    """
    from optimizer.outputs.write import final_path, new_run_id, run_folder, sha256, versions, write_csv, write_json
    from optimizer.run import write_resolved_instance

    loaded = valid.loaded
    inputs = [*loaded.input_files, *(extra_inputs or [])]
    with run_folder(Path(results_root), loaded.spec.name, new_run_id() + "-gep") as partial:
        write_csv(partial / "gep_by_service.csv", accounts.by_service)
        if accounts.by_village is not None:
            write_csv(partial / "gep_by_village.csv", accounts.by_village)
        write_csv(partial / "gep_by_township.csv", accounts.by_township)
        write_csv(partial / "gep_by_county.csv", accounts.by_county)
        write_csv(partial / "gep_by_city.csv", accounts.by_city)
        write_csv(partial / "gep_by_service_total.csv", accounts.by_service_total)
        write_csv(partial / "gep_prices.csv", accounts.prices)
        output = output or OutputOptions()
        layer = township_layer(accounts.by_township, loaded.geometry, loaded.crs)
        spatial = {"gep_by_township": layer}
        styles = {"gep_by_township": gep_style(output.lang)} if loaded.geometry is not None else {}
        if accounts.by_village is not None:  # a village instance: the village layer first
            vt = loaded.village_tables
            spatial = {"gep_by_village": township_layer(accounts.by_village, vt.geometry, vt.crs, "village_id"),
                       **spatial}  # fmt: skip
            if vt.geometry is not None:
                styles["gep_by_village"] = gep_style(output.lang)
        write_layers(
            partial / "gep.gpkg",
            spatial,
            {
                "gep_by_service": accounts.by_service,
                "gep_by_county": accounts.by_county,
                "gep_by_city": accounts.by_city,
                "gep_prices": accounts.prices,
            },
            styles=styles,
            lang=output.lang,
        )
        export_layer(partial, "gep_by_township", layer, output.export)
        write_resolved_instance(partial / "instance.resolved.yaml", loaded)
        manifest = {
            "tool": "karst-layout-optimizer",
            "command": "gep",
            "versions": versions(),
            "instance_file": str(loaded.path.resolve()),
            "inputs": {str(p): sha256(p) for p in inputs},
            "plan": accounts.plan_source,
            "convention": accounts.convention,
            "price_set": accounts.price_changes,
            "prices_used": accounts.prices.to_dict(orient="records"),
            "scenarios": list(loaded.scenarios),
            "set": list(sets),
            "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
            "totals": accounts.totals,
            "outputs": {p.name: sha256(p) for p in sorted(partial.iterdir())},
        }
        write_json(partial / "manifest.json", manifest)
    return final_path(partial)


def account_instance(
    instance: Path,
    plan: Path | None = None,
    convention: str | None = None,
    *,
    results_root: Path = Path("results"),
    scenarios: list[str] | tuple[str, ...] = (),
    sets: list[str] | tuple[str, ...] = (),
    write: bool = True,
    output: OutputOptions | None = None,
) -> tuple[GepAccounts, Path | None]:
    """Read, validate, account and (by default) write: what `optimizer gep` does, as a library call."""
    from optimizer.run import load_and_validate

    valid = load_and_validate(Path(instance), scenarios=scenarios, sets=sets)
    series = None
    extra: list[Path] = []
    source = "baseline"
    if plan is not None:
        csv = plan_file(Path(plan))
        series = read_plan(csv, valid)
        extra.append(csv)
        source = str(csv)
    accounts = gep_accounts(valid, series, convention, plan_source=source)
    out_dir = write_gep(accounts, valid, results_root, extra_inputs=extra, sets=sets, output=output) if write else None
    return accounts, out_dir
