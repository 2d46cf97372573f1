"""Tests of the synthetic instance generator (optimizer/generate/).

The coefficients, plans and limits are recomputed here from the written files alone,
following docs/model.md, without using the generator's own helpers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.generate import generate_instance
from optimizer.instance.schema import GEP_CATEGORIES, TOWNSHIP_COLUMNS, Instance

N = 600
SEED = 7
CANDIDATES = ("apple", "citrus", "agro_pv", "conservation")


# --------------------------------------------------------------------------- helpers


def _read(path: Path) -> tuple[Instance, pd.DataFrame, pd.DataFrame]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    inst = Instance.model_validate(doc)
    ref = inst.townships
    table_path = path.parent / (ref if isinstance(ref, str) else ref.path)
    if table_path.suffix == ".gpkg":
        import geopandas as gpd

        towns = gpd.read_file(table_path, layer=None if isinstance(ref, str) else ref.layer)
    else:
        towns = pd.read_csv(table_path, dtype={"township_id": str})
    site_ref = inst.site_coefficients
    site_path = path.parent / (site_ref if isinstance(site_ref, str) else site_ref.path)
    site = pd.read_csv(site_path, dtype={"township_id": str, "industry": str})
    return inst, towns, site


def _coefficients(
    inst: Instance, towns: pd.DataFrame, site: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Per-ha coefficients of every industry in every township, per docs/model.md."""
    ids = towns["township_id"]
    result = {}
    for iid, ind in inst.industries.items():
        s = site[site["industry"] == iid].set_index("township_id").reindex(ids)

        def f(field: str, default: float | None, s: pd.DataFrame = s) -> np.ndarray:
            base = np.nan if default is None else float(default)
            if field in s.columns:
                return s[field].fillna(base).to_numpy(dtype=float)
            return np.full(len(ids), base)

        y = f("yield_per_ha", ind.yield_per_ha)
        if ind.pv_capacity_mw_per_ha > 0:
            pv = (
                ind.pv_capacity_mw_per_ha
                * towns["irradiance_kwh_per_m2"].to_numpy()
                * f("pv_performance_ratio", ind.pv_performance_ratio)
            )
        else:
            pv = np.zeros(len(ids))
        y = np.where(np.isnan(y), pv, y)
        revenue = y * f("price_yuan_per_unit", ind.price_yuan_per_unit) + f(
            "other_revenue_yuan_per_ha", ind.other_revenue_yuan_per_ha
        )
        va = revenue - f("operating_cost_yuan_per_ha", ind.operating_cost_yuan_per_ha)
        income = (
            f("farmer_payments_yuan_per_ha", ind.farmer_payments_yuan_per_ha)
            + f("farmer_share_of_value_added", ind.farmer_share_of_value_added) * va
        )
        gep = {c: np.zeros(len(ids)) for c in GEP_CATEGORIES}
        for name, svc in ind.gep.items():
            given = svc.quantity_per_ha if svc.quantity_per_ha is not None else np.nan
            q = f(f"gep.{name}", given)
            if svc.quantity_per_output_unit is not None:
                q = np.where(np.isnan(q), svc.quantity_per_output_unit * y, q)
            gep[svc.category] += q * svc.unit_price_yuan
        gates = np.ones(len(ids), dtype=bool)
        g = ind.suitability
        if g.min_soil_depth_cm is not None:
            gates &= towns["soil_depth_cm"].to_numpy() >= g.min_soil_depth_cm
        if g.max_slope_deg is not None:
            gates &= towns["slope_deg"].to_numpy() <= g.max_slope_deg
        if g.max_rocky_desertification_grade is not None:
            gates &= (
                towns["rocky_desertification_grade"].to_numpy() <= g.max_rocky_desertification_grade
            )
        if g.min_irradiance_kwh_per_m2 is not None:
            gates &= towns["irradiance_kwh_per_m2"].to_numpy() >= g.min_irradiance_kwh_per_m2
        delta = 1.0 if inst.objective.double_count == "count_both" else 0.0
        obj = (
            inst.objective.gep_weight
            * (gep["regulating"] + gep["cultural"] + delta * gep["material"])
            + inst.objective.income_weight * income
        )
        result[iid] = pd.DataFrame(
            {
                "output": y,
                "income": income,
                "water": f("water_m3_per_ha", ind.water_m3_per_ha),
                "investment": f("investment_yuan_per_ha", ind.investment_yuan_per_ha),
                "pv_mw": ind.pv_capacity_mw_per_ha,
                "objective": obj,
                "allowed": gates & ind.candidate,
            },
            index=ids,
        )
    return result


class _Evaluated:
    """An instance read back, with its coefficients, the unconstrained and known plans."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.inst, self.towns, self.site = _read(path)
        self.coef = _coefficients(self.inst, self.towns, self.site)
        t = self.towns
        self.area = t["plannable_area_ha"].to_numpy()
        base = np.array(
            [
                self.coef[b].loc[tid, "income"]
                for tid, b in zip(t["township_id"], t["baseline_land_use"], strict=True)
            ]
        )
        share = self.inst.constraints.income_floor.min_share_of_baseline or 0.0
        self.floor = share * self.area * base
        self.allowed = np.stack([self.coef[i]["allowed"].to_numpy() for i in CANDIDATES], axis=1)
        water = np.stack([self.area * self.coef[i]["water"].to_numpy() for i in CANDIDATES], axis=1)
        income = np.stack(
            [self.area * self.coef[i]["income"].to_numpy() for i in CANDIDATES], axis=1
        )
        self.local_ok = (
            self.allowed
            & (water <= t["water_available_m3"].to_numpy()[:, None])
            & (income >= self.floor[:, None])
        )
        obj = np.stack([self.coef[i]["objective"].to_numpy() for i in CANDIDATES], axis=1)
        self.unconstrained = np.array(CANDIDATES)[
            np.argmax(np.where(self.local_ok, obj, -np.inf), axis=1)
        ]
        plan = pd.read_csv(path.parent / "known_feasible_plan.csv", dtype=str).set_index(
            "township_id"
        )
        self.known = plan["industry"].reindex(t["township_id"]).to_numpy()

    def use(self, plan: np.ndarray, key: str) -> np.ndarray:
        """Per-township use of `key` (area × per-ha figure) under a plan."""
        values = np.zeros(len(plan))
        for i in CANDIDATES:
            mask = plan == i
            values[mask] = self.area[mask] * self.coef[i][key].to_numpy()[mask]
        return values

    def per_county(self, plan: np.ndarray, key: str) -> pd.Series:
        return pd.Series(self.use(plan, key)).groupby(self.towns["county"].to_numpy()).sum()

    def market_output(self, plan: np.ndarray, industries: list[str]) -> float:
        out = self.use(plan, "output")
        return float(out[np.isin(plan, industries)].sum())

    def conservation_share(self, plan: np.ndarray) -> float:
        cons = [i for i, ind in self.inst.industries.items() if ind.counts_as_conservation]
        return float(self.area[np.isin(plan, cons)].sum() / self.area.sum())


@pytest.fixture(scope="module")
def gpkg_instance(tmp_path_factory: pytest.TempPathFactory) -> _Evaluated:
    return _Evaluated(generate_instance(tmp_path_factory.mktemp("gpkg"), N, SEED))


@pytest.fixture(scope="module")
def csv_instance(tmp_path_factory: pytest.TempPathFactory) -> _Evaluated:
    return _Evaluated(
        generate_instance(tmp_path_factory.mktemp("csv"), N, SEED, table_format="csv")
    )


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------- files and schema


def test_files_and_schema(csv_instance: _Evaluated) -> None:
    folder = csv_instance.path.parent
    assert csv_instance.path.name == "instance.yaml"
    assert {p.name for p in folder.iterdir()} == {
        "instance.yaml",
        "townships.csv",
        "site_coefficients.csv",
        "known_feasible_plan.csv",
    }
    inst = csv_instance.inst
    assert inst.name == f"synthetic_n{N}_s{SEED}"
    assert set(CANDIDATES) <= set(inst.industries)
    assert all(inst.industries[i].candidate for i in CANDIDATES)
    assert not inst.industries["maize_sweet_potato"].candidate
    assert inst.industries["conservation"].counts_as_conservation
    pv = inst.industries["agro_pv"]
    assert pv.pv_capacity_mw_per_ha == pytest.approx(0.5)
    assert pv.pv_performance_ratio == pytest.approx(0.85)
    assert inst.sources
    assert all("synthetic" in s.source or "domain.md" in s.source for s in inst.sources)
    for ind in inst.industries.values():
        assert {s.category for s in ind.gep.values()} >= {"regulating"}


def test_township_table(csv_instance: _Evaluated) -> None:
    t = csv_instance.towns
    assert len(t) == N
    assert t["township_id"].is_unique
    required = [c for c, (req, _, _) in TOWNSHIP_COLUMNS.items() if req]
    assert set(required) <= set(t.columns)
    assert {"city", "basin"} <= set(t.columns)
    assert t["plannable_area_ha"].between(200, 3000).all()
    assert t["irradiance_kwh_per_m2"].between(1050, 1500).all()
    assert t["rocky_desertification_grade"].isin(range(5)).all()
    assert t["rocky_desertification_grade"].nunique() == 5
    assert (t["soil_depth_cm"] > 0).all()
    assert t["slope_deg"].between(0, 90).all()
    assert (t["water_available_m3"] >= 0).all()
    assert (t["baseline_land_use"] == "maize_sweet_potato").all()
    sizes = t.groupby("county").size()
    assert len(sizes) == -(-N // 15)
    assert sizes.between(13, 16).all()
    assert t["city"].nunique() >= 3
    assert (t.groupby("county")["city"].nunique() == 1).all()
    assert (t.groupby("county")["basin"].nunique() == 1).all()


def test_spatially_correlated(csv_instance: _Evaluated) -> None:
    """Irradiance and grade vary more between counties than within them."""
    t = csv_instance.towns
    for col in ("irradiance_kwh_per_m2", "rocky_desertification_grade"):
        county_mean = t.groupby("county")[col].transform("mean")
        between = county_mean.var()
        within = (t[col] - county_mean).var()
        assert between > 0.3 * (between + within), col


def test_site_coefficients(csv_instance: _Evaluated) -> None:
    site, coef = csv_instance.site, csv_instance.coef
    assert {"township_id", "industry", "yield_per_ha"} <= set(site.columns)
    assert not site.duplicated(["township_id", "industry"]).any()
    assert set(site["township_id"]) <= set(csv_instance.towns["township_id"])
    assert set(site["industry"]) <= set(csv_instance.inst.industries)
    for industry in ("apple", "citrus"):
        rows = site[site["industry"] == industry]
        assert 0 < len(rows) < N
        assert coef[industry].loc[rows["township_id"], "allowed"].all()
        assert rows["yield_per_ha"].nunique() > 10
    # every township's baseline has a site yield, so the floor differs between townships
    assert (site["industry"] == "maize_sweet_potato").sum() == N


def test_allowed_pairs(csv_instance: _Evaluated) -> None:
    allowed = csv_instance.allowed
    assert allowed.any(axis=1).all()
    assert allowed[:, CANDIDATES.index("conservation")].all()
    assert 0.6 <= allowed.mean() <= 0.8
    # every township can meet its own water and income floor with some allowed industry
    assert csv_instance.local_ok.any(axis=1).all()


# ------------------------------------------------------------------ feasibility and hardness


def test_known_plan_satisfies_every_limit(csv_instance: _Evaluated) -> None:
    ev, c = csv_instance, csv_instance.inst.constraints
    plan = ev.known
    assert not pd.isna(plan).any()
    rows = np.arange(N)
    cols = np.array([CANDIDATES.index(i) for i in plan])
    assert ev.local_ok[rows, cols].all(), "allowed, within township water and income floor"
    water = ev.per_county(plan, "water")
    for county, cap in c.water.county_max_m3.items():
        assert water[county] <= cap
    mw = ev.per_county(plan, "pv_mw")
    for county, cap in c.grid_county_max_mw.items():
        assert mw[county] <= cap
    for market in c.markets.values():
        assert ev.market_output(plan, market.industries) <= market.max_output
    assert ev.use(plan, "investment").sum() <= c.investment_budget_yuan
    assert ev.conservation_share(plan) >= c.min_conservation_share


def test_every_coupling_limit_is_tight(csv_instance: _Evaluated) -> None:
    """The unconstrained best plan violates every coupling limit the instance sets."""
    ev, c = csv_instance, csv_instance.inst.constraints
    plan = ev.unconstrained
    n_counties = ev.towns["county"].nunique()

    water = ev.per_county(plan, "water")
    assert len(c.water.county_max_m3) >= 0.8 * n_counties
    assert all(cap < water[county] for county, cap in c.water.county_max_m3.items())
    ratios = [cap / water[county] for county, cap in c.water.county_max_m3.items()]
    assert np.median(ratios) <= 0.75

    mw = ev.per_county(plan, "pv_mw")
    assert len(c.grid_county_max_mw) >= 0.7 * n_counties
    assert all(cap < mw[county] for county, cap in c.grid_county_max_mw.items())

    assert set(c.markets) == {"apple", "citrus"}
    for market in c.markets.values():
        assert market.max_output < ev.market_output(plan, market.industries)
        assert market.price_steps
        assert market.price_steps[0].above_output < market.max_output

    assert c.investment_budget_yuan < ev.use(plan, "investment").sum()
    assert c.min_conservation_share == pytest.approx(0.2)
    assert ev.conservation_share(plan) < c.min_conservation_share
    assert c.income_floor.min_share_of_baseline == pytest.approx(0.8)
    assert c.water.per_township


def test_unconstrained_plan_mixes_industries(csv_instance: _Evaluated) -> None:
    counts = pd.Series(csv_instance.unconstrained).value_counts(normalize=True)
    for industry in ("apple", "citrus", "agro_pv"):
        assert counts.get(industry, 0) >= 0.05, industry


# ------------------------------------------------------------------- formats and determinism


def test_gpkg(gpkg_instance: _Evaluated, csv_instance: _Evaluated) -> None:
    import shapely

    g = gpkg_instance.towns
    assert len(g) == N
    assert g.crs is not None
    assert g.crs.is_projected
    assert g.crs.to_epsg() == 4544
    assert g.geometry.is_valid.all()
    assert (g.geom_type == "Polygon").all()
    assert np.allclose(g.area, 1e8)  # 10 km cells
    assert shapely.union_all(g.geometry.values).area == pytest.approx(N * 1e8)  # no overlaps
    # the same attributes and limits as the CSV variant of the same seed
    cols = [c for c in TOWNSHIP_COLUMNS if c in csv_instance.towns.columns]
    pd.testing.assert_frame_equal(
        pd.DataFrame(g[cols]).reset_index(drop=True), csv_instance.towns[cols], check_dtype=False
    )
    assert gpkg_instance.inst.constraints == csv_instance.inst.constraints


@pytest.mark.parametrize("table_format", ["csv", "gpkg"])
def test_deterministic(tmp_path: Path, table_format: str) -> None:
    a = generate_instance(tmp_path / "a", 200, 3, table_format=table_format).parent
    b = generate_instance(tmp_path / "b", 200, 3, table_format=table_format).parent
    c = generate_instance(tmp_path / "c", 200, 4, table_format=table_format).parent
    assert _digests(a) == _digests(b)
    assert _digests(a)["instance.yaml"] != _digests(c)["instance.yaml"]
    assert _digests(a)[f"townships.{table_format}"] != _digests(c)[f"townships.{table_format}"]


@pytest.mark.parametrize("n", [1, 2, 16, 47])
def test_small_sizes(tmp_path: Path, n: int) -> None:
    ev = _Evaluated(generate_instance(tmp_path, n, 1, table_format="csv", name="tiny"))
    assert ev.inst.name == "tiny"
    assert len(ev.towns) == n
    assert ev.local_ok.any(axis=1).all()
    c = ev.inst.constraints
    if c.min_conservation_share is not None:
        assert ev.conservation_share(ev.known) >= c.min_conservation_share


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_instance(tmp_path, 0, 1)
    with pytest.raises(ValueError, match="table_format"):
        generate_instance(tmp_path, 10, 1, table_format="xlsx")  # type: ignore[arg-type]
