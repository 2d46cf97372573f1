"""Village instances: the village table, its checks, and the village × industry pair table.

Why a module of its own: a township instance must mean exactly what it meant before the
village table existed, so everything that only a village instance needs lives here and
is called from `load.py` and `validate.py` at one place each. A village instance keeps
its township table (ids, names, counties, cities, basins, the township's water and its
plannable area, which the villages' areas are compared with) and adds a village table,
one row per village with its own attributes and `township_id`; the plan then chooses one
product per village, and the `leading_industry` rule ties a township's villages together
(docs/model.md, "Village instances").

Site coefficients reach a village in three layers, later winning field by field: the
industry's default, the township's row of `site_coefficients`, the village's row of
`village_site_coefficients`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.i18n import _
from optimizer.instance.coefficients import baseline, gate_failures, income_floor_yuan, pair_table, site_overrides
from optimizer.instance.schema import SITE_FIELDS, VILLAGE_COLUMNS, Instance, TableRef
from optimizer.instance.tables import read_table

log = logging.getLogger(__name__)

#: A village table whose areas differ from the township's by more than this share is
#: reported (a warning: the plan uses the villages' areas).
AREA_TOLERANCE = 0.005
#: A village polygon more than this share outside its township's polygon is reported.
OUTSIDE_TOLERANCE = 0.01
_MAX_LISTED = 20  # problems of one kind listed cell by cell; the rest counted

Locate = Callable[..., Location]


@dataclass
class VillageTables:
    """The village table and the village site table as read (text cells), geometry aside."""

    villages: pd.DataFrame
    file: Path
    geometry: Any | None = None  # geopandas.GeoSeries indexed by village_id, or None
    crs: str | None = None
    site: pd.DataFrame | None = None
    site_file: Path | None = None


@dataclass
class VillageData:
    """What validation hands on for a village instance (stored on ValidInstance)."""

    villages: pd.DataFrame  # typed, indexed by village_id, with township_id, county, city, basin
    pairs: pd.DataFrame  # village × industry coefficients, indexed by (village_id, industry)
    baseline: pd.DataFrame  # baseline income and GEP per village
    site: pd.DataFrame  # merged site overrides per (village, industry), in the site-table layout
    conflicts: list[Problem]
    warnings: list[Problem]


# --------------------------------------------------------------------------- reading


def _table_ref(ref: TableRef | str) -> TableRef:
    return TableRef(path=ref) if isinstance(ref, str) else ref


def read_village_tables(spec: Instance, base: Path, locate: Locate, problems: list[Problem]) -> VillageTables | None:
    """Read `villages:` and `village_site_coefficients:` (None for a township instance)."""
    if spec.villages is None:
        if spec.village_site_coefficients is not None:
            problems.append(Problem(locate("village_site_coefficients"),
                                    _("village_site_coefficients needs a village table (villages:)"),
                                    path="village_site_coefficients"))  # fmt: skip
        return None
    vref = _table_ref(spec.villages)
    vpath = (base / vref.path).resolve()
    tables = VillageTables(villages=pd.DataFrame(), file=vpath)
    if not vpath.exists():
        names = [p.name for p in base.iterdir()] if base.exists() else []
        problems.append(Problem(locate("villages"),
                                _("village table '{path}' not found (looked in {folder})").format(path=vref.path, folder=base),
                                did_you_mean(vref.path, names), path="villages"))  # fmt: skip
    else:
        try:
            table = read_table(vpath, vref.layer)
            df, geometry, crs = table.frame, table.geometry, table.crs
            problems.extend(table.problems)
            if geometry is not None and "village_id" in df.columns:
                geometry = geometry.set_axis(df["village_id"].astype(str).str.strip().to_numpy())
            tables.villages, tables.geometry, tables.crs = df, geometry, crs
        except InputError as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # pyogrio/GDAL errors: say which file, not a traceback
            problems.append(Problem(Location(vpath), _("could not read the table: {error}").format(error=exc)))
    if spec.village_site_coefficients is not None:
        sref = _table_ref(spec.village_site_coefficients)
        spath = (base / sref.path).resolve()
        if not spath.exists():
            problems.append(Problem(locate("village_site_coefficients"),
                                    _("village site-coefficient table '{path}' not found").format(path=sref.path),
                                    path="village_site_coefficients"))  # fmt: skip
        else:
            try:
                site_table = read_table(spath, sref.layer, geometry=False)
                tables.site = site_table.frame
                problems.extend(site_table.problems)
                tables.site_file = spath
            except InputError as exc:
                problems.extend(exc.problems)
            except Exception as exc:
                problems.append(Problem(Location(spath), _("could not read the table: {error}").format(error=exc)))
    return tables


def input_files(tables: VillageTables | None) -> list[Path]:
    """The village files an instance was read from (for manifests' sha256)."""
    if tables is None:
        return []
    return [p for p in (tables.file, tables.site_file) if p is not None and p.exists()]


# --------------------------------------------------------------------------- typing


def _cell(file: Path, row: int, column: str) -> Location:
    return Location(file=file, row=row, table_column=column)


def typed_villages(tables: VillageTables, townships: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame:
    """Type the village table column by column and join each village's township.

    Every bad cell is recorded (located by row and column); a village whose township is
    not in the township table, and a village listed in two townships, are errors.
    """
    df, file = tables.villages, tables.file
    missing = [c for c, (req, _k, _d) in VILLAGE_COLUMNS.items() if req and c not in df.columns]
    for col in missing:
        extra = [c for c in df.columns if c not in VILLAGE_COLUMNS]
        problems.append(Problem(Location(file, table_column=col),
                                _("required column '{column}' ({meaning}) is missing").format(
                                    column=col, meaning=VILLAGE_COLUMNS[col][2]),
                                did_you_mean(col, extra)))  # fmt: skip
    if missing:
        return pd.DataFrame()
    if df.empty:
        problems.append(Problem(Location(file), _("the village table has no rows")))
        return pd.DataFrame()
    out = pd.DataFrame(index=df.index)
    for col, (_req, kind, desc) in VILLAGE_COLUMNS.items():
        raw = df[col].astype(str).str.strip()
        if kind == "str":
            out[col] = raw
            for i in np.flatnonzero((raw == "").to_numpy())[:_MAX_LISTED]:
                problems.append(Problem(_cell(file, int(i) + 1, col), _("{column} is empty").format(column=col)))
            continue
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna().to_numpy()
        for i in np.flatnonzero(bad)[:_MAX_LISTED]:
            problems.append(Problem(_cell(file, int(i) + 1, col),
                                    _("'{text}' is not a number ({meaning})").format(text=raw.iloc[i], meaning=desc)))
        if bad.sum() > _MAX_LISTED:
            problems.append(Problem(Location(file, table_column=col),
                                    _("{n} more non-numeric cells").format(n=int(bad.sum()) - _MAX_LISTED)))
        for i in np.flatnonzero((values < 0).to_numpy())[:_MAX_LISTED]:
            problems.append(Problem(_cell(file, int(i) + 1, col),
                                    _("{column} is negative ({value:g}); it must be ≥ 0").format(
                                        column=col, value=values.iloc[i])))  # fmt: skip
        if col == "rocky_desertification_grade":
            off = (~values.isin([0, 1, 2, 3, 4]) & ~values.isna()).to_numpy()
            for i in np.flatnonzero(off)[:_MAX_LISTED]:
                problems.append(Problem(_cell(file, int(i) + 1, col),
                                        _("grade {value:g} is not one of 0 none, 1 light, 2 moderate, 3 severe, "
                                          "4 extreme").format(value=values.iloc[i])))  # fmt: skip
        if col == "slope_deg":
            for i in np.flatnonzero((values > 90).to_numpy())[:_MAX_LISTED]:
                problems.append(Problem(_cell(file, int(i) + 1, col),
                                        _("slope {value:g}° is above 90°").format(value=values.iloc[i])))
        out[col] = values
    out["_row"] = np.arange(1, len(out) + 1)
    _check_ids(out, file, problems)
    known = set(townships.index) if not townships.empty else set()
    unknown = ~out["township_id"].isin(known).to_numpy() & (out["township_id"] != "").to_numpy()
    for i in np.flatnonzero(unknown)[:_MAX_LISTED]:
        tid = out["township_id"].iloc[i]
        problems.append(Problem(_cell(file, int(i) + 1, "township_id"),
                                _("village {village} ({name}): township '{township}' is not in the township "
                                  "table").format(village=out["village_id"].iloc[i], name=out["name"].iloc[i],
                                                  township=tid),
                                did_you_mean(tid, known)))  # fmt: skip
    if unknown.sum() > _MAX_LISTED:
        problems.append(Problem(Location(file, table_column="township_id"),
                                _("{n} more villages name a township that does not exist").format(
                                    n=int(unknown.sum()) - _MAX_LISTED)))  # fmt: skip
    for col in ("county", "city", "basin"):
        if not townships.empty and col in townships.columns:
            out[col] = townships[col].reindex(out["township_id"]).fillna("").to_numpy()
        else:
            out[col] = ""
    out = out.drop_duplicates("village_id", keep="first")
    return out.set_index("village_id", drop=False).rename_axis("village_id")


def _check_ids(out: pd.DataFrame, file: Path, problems: list[Problem]) -> None:
    """A village id twice: a duplicate in one township, or a village in two townships."""
    ids = out["village_id"]
    dup = ids.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    first_pos = {}
    for pos, vid in enumerate(ids.tolist()):
        first_pos.setdefault(vid, pos)
    for i in np.flatnonzero(dup)[:_MAX_LISTED]:
        vid = ids.iloc[i]
        j = first_pos[vid]
        t_first, t_here = out["township_id"].iloc[j], out["township_id"].iloc[i]
        if t_first != t_here:
            problems.append(Problem(_cell(file, int(i) + 1, "township_id"),
                                    _("village '{village}' is in two townships: {first} (row {row}) and {second} "
                                      "(this row)").format(village=vid, first=t_first, row=j + 1, second=t_here),
                                    _("a village belongs to one township: correct its township_id, or give the "
                                      "other village its own id")))  # fmt: skip
        else:
            problems.append(Problem(_cell(file, int(i) + 1, "village_id"),
                                    _("duplicate village id '{village}' (first at row {row})").format(
                                        village=vid, row=j + 1)))  # fmt: skip


# --------------------------------------------------------------------------- references


def check_references(inst: Any, townships: pd.DataFrame, villages: pd.DataFrame | None,
                     problems: list[Problem]) -> None:
    """Rules that name villages, or that need a village table: located in the YAML."""
    spec = inst.spec
    cons = spec.constraints
    rule = cons.leading_industry
    has_villages = villages is not None
    if rule is not None:
        if not has_villages:
            problems.append(Problem(inst.locate("constraints", "leading_industry"),
                                    _("the leading-industry rule needs a village table (villages:): in a township "
                                      "instance every township already takes one industry"),
                                    path="constraints.leading_industry"))  # fmt: skip
        counts = rule.leading_share_counts
        if counts is not None:
            if not counts:
                problems.append(Problem(inst.locate("constraints", "leading_industry", "leading_share_counts"),
                                        _("leading_share_counts lists no industry: at least one must be able to "
                                          "lead"),
                                        path="constraints.leading_industry.leading_share_counts"))  # fmt: skip
            for j, ind in enumerate(counts):
                where = inst.locate("constraints", "leading_industry", "leading_share_counts", j)
                dotted = "constraints.leading_industry.leading_share_counts"
                if ind not in spec.industries:
                    problems.append(Problem(where, _("unknown industry '{industry}'").format(industry=ind),
                                            did_you_mean(ind, spec.industries), path=dotted))
                elif not spec.industries[ind].candidate:
                    problems.append(Problem(where, _("industry '{industry}' is not a candidate and cannot lead a "
                                                     "township").format(industry=ind), path=dotted))
    musts: dict[str, tuple[int, str]] = {}
    for j, lock in enumerate(cons.locks):
        if lock.village is None:
            continue
        loc = inst.locate("constraints", "locks", j, "village")
        if not has_villages:
            problems.append(Problem(loc, _("a lock on village '{village}' needs a village table (villages:)").format(
                village=lock.village), path=f"constraints.locks[{j}].village"))
            continue
        if lock.village not in villages.index:
            problems.append(Problem(loc, _("lock names unknown village '{village}'").format(village=lock.village),
                                    did_you_mean(lock.village, villages.index), path=f"constraints.locks[{j}].village"))
            continue
        owner = villages.at[lock.village, "township_id"]
        if owner != lock.township:
            problems.append(Problem(loc, _("village {village} belongs to township {owner}, not {township}").format(
                village=lock.village, owner=owner, township=lock.township), path=f"constraints.locks[{j}]"))
        if not lock.forbid:
            if lock.village in musts and musts[lock.village][1] != lock.industry:
                problems.append(Problem(loc, _("village {village} is locked to two industries ('{first}' and "
                                               "'{second}')").format(village=lock.village,
                                                                     first=musts[lock.village][1],
                                                                     second=lock.industry)))  # fmt: skip
            musts.setdefault(lock.village, (j, lock.industry))


# --------------------------------------------------------------------------- geometry and areas


def check_geometry(tables: VillageTables, problems: list[Problem]) -> None:
    """Village polygons: a CRS, no empty and no invalid geometry (errors, as for townships)."""
    geom = tables.geometry
    if geom is None:
        return
    file = tables.file
    if tables.crs is None:
        problems.append(Problem(Location(file), _("the layer has no coordinate reference system (CRS)"),
                                _("assign one in QGIS (Layer ▸ Set CRS), e.g. EPSG:4490 (CGCS2000) or EPSG:4326")))
    empty = (geom.isna() | geom.is_empty).to_numpy()
    for i in np.flatnonzero(empty)[:_MAX_LISTED]:
        problems.append(Problem(_cell(file, int(i) + 1, "geometry"), _("empty geometry")))
    invalid = (~geom.is_valid & ~empty).to_numpy()
    if invalid.any():
        import shapely

        for i in np.flatnonzero(invalid)[:_MAX_LISTED]:
            problems.append(Problem(_cell(file, int(i) + 1, "geometry"),
                                    _("invalid geometry ({reason})").format(reason=shapely.is_valid_reason(geom.iloc[i])),
                                    _("repair it in QGIS with Vector ▸ Geometry Tools ▸ Fix Geometries")))  # fmt: skip


def geometry_warnings(tables: VillageTables, villages: pd.DataFrame, township_geometry: Any | None,
                      township_crs: str | None, townships: pd.DataFrame) -> list[Problem]:
    """Villages whose polygon lies partly outside their township's polygon (warnings, with the share).

    A village mostly inside another township's polygon is named with it: its township_id
    may be wrong. Polygons in different CRSs are compared in the township layer's CRS.
    """
    geom = tables.geometry
    if geom is None or township_geometry is None or tables.crs is None or township_crs is None:
        return []
    import geopandas as gpd
    import shapely

    vgeom = gpd.GeoSeries(geom.reindex(villages.index).to_numpy(), crs=tables.crs)
    if vgeom.crs is not None and not vgeom.crs.equals(gpd.GeoSeries([], crs=township_crs).crs):
        vgeom = vgeom.to_crs(township_crs)
    tgeom = township_geometry.reindex(villages["township_id"].to_numpy()).to_numpy()
    v = vgeom.to_numpy()
    ok = ~shapely.is_missing(v) & ~shapely.is_missing(tgeom) & ~shapely.is_empty(v)
    if not ok.any():
        return []
    idx = np.flatnonzero(ok)
    varea = shapely.area(v[idx])
    inside = shapely.area(shapely.intersection(v[idx], tgeom[idx], grid_size=None))
    with np.errstate(divide="ignore", invalid="ignore"):
        outside = np.where(varea > 0, 1.0 - inside / varea, 0.0)
    flagged = idx[outside > OUTSIDE_TOLERANCE]
    if not len(flagged):
        return []
    shares = dict(zip(idx.tolist(), outside.tolist()))
    tids = townships.index.to_numpy()
    tree_geoms = township_geometry.reindex(tids).to_numpy()
    tree = shapely.STRtree(tree_geoms)
    out: list[Problem] = []
    for pos in flagged[:_MAX_LISTED].tolist():
        vid = villages.index[pos]
        row = villages.iloc[pos]
        other = ""
        hits = tree.query(v[pos])
        best, best_share = None, 0.0
        for h in hits.tolist():
            if tids[h] == row["township_id"] or shapely.is_missing(tree_geoms[h]):
                continue
            share = float(shapely.area(shapely.intersection(v[pos], tree_geoms[h]))) / max(float(shapely.area(v[pos])), 1e-12)
            if share > best_share:
                best, best_share = tids[h], share
        if best is not None and best_share > 0.5:
            other = _("; {share:.0%} of it lies in township {other} ({name}): is its township_id right?").format(
                share=best_share, other=best, name=townships.at[best, "name"])
        out.append(Problem(_cell(tables.file, int(row["_row"]), "geometry"),
                           _("village {village} ({name}): {share:.1%} of its polygon lies outside its township "
                             "{township} ({township_name}){other}").format(
                               village=vid, name=row["name"], share=shares[pos], township=row["township_id"],
                               township_name=townships.at[row["township_id"], "name"], other=other)))  # fmt: skip
    if len(flagged) > _MAX_LISTED:
        out.append(Problem(Location(tables.file, table_column="geometry"),
                           _("{n} more villages lie partly outside their township").format(
                               n=len(flagged) - _MAX_LISTED)))  # fmt: skip
    return out


def area_warnings(villages: pd.DataFrame, townships: pd.DataFrame, file: Path) -> list[Problem]:
    """Townships whose villages' plannable areas do not add up to the township's, with figures.

    A warning, not an error: the village table is the finer statement and the plan uses
    it; the township's figure is shown so that the planner can see which table is off.
    Townships without villages are reported too: they are left out of the plan.
    """
    out: list[Problem] = []
    summed = villages.groupby("township_id")["plannable_area_ha"].sum()
    counts = villages.groupby("township_id").size()
    for tid, row in townships.iterrows():
        loc = _cell(file, int(row["_row"]), "plannable_area_ha")
        if tid not in counts.index:
            out.append(Problem(_cell(file, int(row["_row"]), "township_id"),
                               _("township {township} ({name}) has no villages in the village table: it is left out "
                                 "of the plan").format(township=tid, name=row["name"])))  # fmt: skip
            continue
        have, want = float(summed[tid]), float(row["plannable_area_ha"])
        if abs(have - want) > max(AREA_TOLERANCE * abs(want), 0.01):
            share = (have - want) / want if want else float("inf")
            out.append(Problem(loc, _("the {n} villages of township {township} ({name}) add up to {have:,.1f} ha of "
                                      "plannable area; the township table says {want:,.1f} ha ({diff:+,.1f} ha, "
                                      "{share:+.1%}); the plan uses the villages' areas").format(
                                   n=int(counts[tid]), township=tid, name=row["name"], have=have, want=want,
                                   diff=have - want, share=share)))  # fmt: skip
    return out


# --------------------------------------------------------------------------- village site table


def check_village_site(inst: Any, tables: VillageTables, villages: pd.DataFrame, problems: list[Problem]) -> None:
    """The village site table: columns, known villages and industries, one row per pair, numbers."""
    site = tables.site
    if site is None:
        return
    file = tables.site_file
    industries = inst.spec.industries
    services = {f"gep.{s}" for ind in industries.values() for s in ind.gep}
    allowed_cols = {"village_id", "industry", *SITE_FIELDS, *services}
    before = len(problems)
    for col in site.columns:
        if col not in allowed_cols and not col.startswith("note") and col != "source":
            problems.append(Problem(Location(file, table_column=col), _("unknown column '{column}'").format(column=col),
                                    did_you_mean(col, sorted(allowed_cols))))
    for col in ("village_id", "industry"):
        if col not in site.columns:
            problems.append(Problem(Location(file, table_column=col),
                                    _("required column '{column}' is missing").format(column=col)))
    if len(problems) > before:
        return
    known = set(villages.index) if not villages.empty else set()
    seen: dict[tuple[str, str], int] = {}
    vids = site["village_id"].astype(str).str.strip()
    inds = site["industry"].astype(str).str.strip()
    for i, (vid, ind) in enumerate(zip(vids, inds), start=1):
        if known and vid not in known:
            problems.append(Problem(_cell(file, i, "village_id"), _("unknown village '{village}'").format(village=vid),
                                    did_you_mean(vid, known)))
        if ind not in industries:
            problems.append(Problem(_cell(file, i, "industry"), _("unknown industry '{industry}'").format(industry=ind),
                                    did_you_mean(ind, industries)))
        if (vid, ind) in seen:
            problems.append(Problem(_cell(file, i, "village_id"),
                                    _("({village}, {industry}) is listed twice (first at row {row})").format(
                                        village=vid, industry=ind, row=seen[vid, ind])))  # fmt: skip
        seen.setdefault((vid, ind), i)
    for col in site.columns:
        if col in ("village_id", "industry", "source") or col.startswith("note"):
            continue
        raw = site[col].astype(str).str.strip()
        vals = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
        bad = (vals.isna() & (raw != "")).to_numpy()
        for i in np.flatnonzero(bad)[:_MAX_LISTED]:
            problems.append(Problem(_cell(file, int(i) + 1, col), _("'{text}' is not a number").format(text=raw.iloc[i])))
        for i in np.flatnonzero((vals < 0).to_numpy() & (col != "other_revenue_yuan_per_ha"))[:_MAX_LISTED]:
            problems.append(Problem(_cell(file, int(i) + 1, col),
                                    _("{column} is negative ({value:g})").format(column=col, value=vals.iloc[i])))
        if col == "farmer_share_of_value_added":
            for i in np.flatnonzero((vals > 1).to_numpy())[:_MAX_LISTED]:
                problems.append(Problem(_cell(file, int(i) + 1, col),
                                        _("a share must be between 0 and 1 (got {value:g})").format(value=vals.iloc[i])))
    if "farmer_share_of_value_added" in site.columns:
        varied = set(inds[site["farmer_share_of_value_added"].astype(str).str.strip() != ""])
        for name, market in inst.spec.constraints.markets.items():
            if market.price_steps and varied & set(market.industries):
                problems.append(Problem(inst.locate("constraints", "markets", name, "price_steps"),
                                        _("market '{market}' has price steps, so its industries' farmer share cannot "
                                          "vary by village").format(market=name),
                                        path=f"constraints.markets.{name}.price_steps"))  # fmt: skip


def merged_site(township_site: pd.DataFrame | None, village_site: pd.DataFrame | None,
                villages: pd.DataFrame) -> pd.DataFrame:
    """Site overrides per (village, industry): the township's row, then the village's, field by field.

    Returned in the layout `coefficients.pair_table` reads (a `township_id` column holding
    the village id, an `industry` column, one float column per field, NaN = keep).
    """
    frames = []
    tsite = site_overrides(township_site)
    if not tsite.empty:
        flat = tsite.reset_index()
        members = pd.DataFrame({"village_id": villages.index.to_numpy(), "township_id": villages["township_id"].to_numpy()})
        expanded = members.merge(flat, on="township_id", how="inner").drop(columns="township_id")
        frames.append(expanded.set_index(["village_id", "industry"]))
    vsite = pd.DataFrame()
    if village_site is not None and not village_site.empty:
        vs = village_site.rename(columns={"village_id": "township_id"})
        vsite = site_overrides(vs).rename_axis(["village_id", "industry"])
    if frames and not vsite.empty:
        merged = vsite.combine_first(frames[0])
    elif frames:
        merged = frames[0]
    elif not vsite.empty:
        merged = vsite
    else:
        merged = pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["village_id", "industry"]))
    keep = [c for c in merged.columns if c in SITE_FIELDS or c.startswith("gep.")]
    merged = merged[keep].apply(pd.to_numeric, errors="coerce")
    out = merged.reset_index().rename(columns={"village_id": "township_id"})
    return out


# --------------------------------------------------------------------------- pairs and conflicts


def village_pairs(spec: Instance, villages: pd.DataFrame, site: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Village × industry pairs (docs/model.md coefficients) and each village's baseline.

    The same per-hectare rules as a township's (`coefficients.pair_table`), applied to the
    village's own soil, slope, grade, irradiance and area, with the merged site overrides.
    """
    pairs = pair_table(spec, villages, site if len(site) else None)
    base = baseline(pairs, villages)
    pairs.index = pairs.index.set_names(["village_id", "industry"])
    pairs["township_id"] = villages["township_id"].reindex(pairs.index.get_level_values(0)).to_numpy()
    return pairs, base


def locked_allowed(spec: Instance, villages: pd.DataFrame, pairs: pd.DataFrame) -> tuple[pd.Series, dict[str, str]]:
    """Pairs left after the gates and the locks, and the must-locks by village.

    A township's lock applies to every one of its villages; a lock with `village` to that
    village only, and a village's own must-lock wins over its township's. Shared by
    validation and the model (`model.build.prepare`).
    """
    members = villages.groupby("township_id").groups
    must: dict[str, str] = {}
    forbid: list[tuple[str, str]] = []
    locks = sorted(spec.constraints.locks, key=lambda lk: lk.village is not None)  # townships' first
    for lock in locks:
        targets = [lock.village] if lock.village is not None else list(members.get(lock.township, []))
        for vid in targets:
            if lock.forbid:
                forbid.append((vid, lock.industry))
            else:
                must[vid] = lock.industry
    keys = pd.MultiIndex.from_tuples(forbid, names=pairs.index.names) if forbid else None
    off = pairs.index.isin(keys) if keys is not None else np.zeros(len(pairs), dtype=bool)
    if must:
        vids = pairs.index.get_level_values(0)
        inds = pairs.index.get_level_values(1)
        wanted = pd.Series(must).reindex(vids).to_numpy()
        locked = pd.notna(wanted)
        off |= locked & (inds.to_numpy() != wanted)
    allowed = pairs["allowed"] & ~off
    return allowed, must


def counted_industries(spec: Instance) -> list[str]:
    """C: the industries whose area counts in a township's share (and which may lead)."""
    rule = spec.constraints.leading_industry
    candidates = [i for i, ind in spec.industries.items() if ind.candidate]
    if rule is None or rule.leading_share_counts is None:
        return candidates
    return [i for i in candidates if i in rule.leading_share_counts]


def income_floor_per_village(spec: Instance, villages: pd.DataFrame, base: pd.DataFrame) -> pd.Series | None:
    """Each village's minimum farmer income (yuan/yr), or None when no floor is set."""
    return income_floor_yuan(spec, villages, base)


def conflicts(inst: Any, townships: pd.DataFrame, villages: pd.DataFrame, pairs: pd.DataFrame,
              base: pd.DataFrame, file: Path, problems: list[Problem]) -> list[Problem]:
    """Limits that no plan can meet, from each village's and township's best case (exact bounds).

    As for a township instance (`validate._check_feasibility`): a lock on a pair its gates
    exclude is contradictory input (`problems`); everything else is a property of valid
    input, the answer "infeasible".
    """
    spec = inst.spec
    cons = spec.constraints
    found: list[Problem] = []
    allowed, must = locked_allowed(spec, villages, pairs)
    for vid, ind in must.items():
        if (vid, ind) in pairs.index and not pairs.at[(vid, ind), "allowed"]:
            row = villages.loc[vid]
            why = "; ".join(gate_failures(spec.industries[ind], row)) or _("it is not a candidate")
            problems.append(Problem(inst.locate("constraints", "locks"),
                                    _("village {village} ({name}) is locked to '{industry}' but fails its suitability "
                                      "gates: {why}").format(village=vid, name=row["name"], industry=ind, why=why)))
    per_v = allowed.groupby(level=0).sum()
    none = per_v[per_v == 0].index
    for vid in none[:50]:
        row = villages.loc[vid]
        found.append(Problem(_cell(file, int(row["_row"]), "village_id"),
                             _("village {village} ({name}) can take no industry: the gates and locks leave none").format(
                                 village=vid, name=row["name"]),
                             _("relax a gate, or add an industry without gates such as conservation")))  # fmt: skip
    if len(none):
        return found
    ok = pairs[allowed.reindex(pairs.index).to_numpy()]
    area = ok["area_ha"]

    def report(path: tuple, what: str, least: float, limit: float, unit: str) -> None:
        found.append(Problem(inst.locate(*path),
                             _("no plan can meet this {what}: even the least possible is {least:,.0f} {unit}, above "
                               "the limit of {limit:,.0f} {unit}").format(what=what, least=least, limit=limit, unit=unit),
                             path=".".join(str(p) for p in path)))  # fmt: skip

    water_min = (ok["water_per_ha"] * area).groupby(level=0).min()
    county_of = villages["county"]
    if cons.water.per_village:
        over = water_min > villages["water_available_m3"].reindex(water_min.index) * (1 + 1e-9)
        for vid in over[over].index[:50]:
            row = villages.loc[vid]
            found.append(Problem(_cell(file, int(row["_row"]), "water_available_m3"),
                                 _("village {village} ({name}): every allowed industry uses more water ({least:,.0f} m³ "
                                   "at least) than the {limit:,.0f} m³ available").format(
                                     village=vid, name=row["name"], least=water_min[vid],
                                     limit=row["water_available_m3"])))  # fmt: skip
    if cons.water.per_township:
        per_t = water_min.groupby(villages["township_id"].reindex(water_min.index).to_numpy()).sum()
        for tid, least in per_t.items():
            limit = float(townships.at[tid, "water_available_m3"])
            if least > limit * (1 + 1e-9):
                found.append(Problem(Location(inst.townships_file, row=int(townships.at[tid, "_row"]),
                                              table_column="water_available_m3"),
                                     _("township {township} ({name}): its villages use at least {least:,.0f} m³, more "
                                       "than the {limit:,.0f} m³ available").format(
                                         township=tid, name=townships.at[tid, "name"], least=least, limit=limit)))
    water_c = water_min.groupby(county_of.reindex(water_min.index).to_numpy()).sum()
    for county, limit in cons.water.county_max_m3.items():
        least = float(water_c.get(county, 0.0))
        if least > limit * (1 + 1e-9):
            report(("constraints", "water", "county_max_m3", county), _("water budget of {county}").format(county=county),
                   least, limit, "m³")
    if cons.water.basin_max_m3:
        water_b = water_min.groupby(villages["basin"].reindex(water_min.index).to_numpy()).sum()
        for basin, limit in cons.water.basin_max_m3.items():
            least = float(water_b.get(basin, 0.0))
            if least > limit * (1 + 1e-9):
                report(("constraints", "water", "basin_max_m3", basin),
                       _("water budget of basin {basin}").format(basin=basin), least, limit, "m³")
    for name, market in cons.markets.items():
        if market.max_output is None:
            continue
        in_m = ok.index.get_level_values("industry").isin(market.industries)
        least = (ok["output_per_ha"] * area).where(in_m, 0.0).groupby(level=0).min().sum()
        if least > market.max_output * (1 + 1e-9):
            unit = spec.industries[market.industries[0]].output_unit if market.industries[0] in spec.industries else ""
            report(("constraints", "markets", name, "max_output"), _("market cap of '{market}'").format(market=name),
                   least, market.max_output, unit)
    pv_c = (ok["pv_capacity_per_ha"] * area).groupby(level=0).min()
    pv_c = pv_c.groupby(county_of.reindex(pv_c.index).to_numpy()).sum()
    for county, limit in cons.grid_county_max_mw.items():
        least = float(pv_c.get(county, 0.0))
        if least > limit * (1 + 1e-9):
            report(("constraints", "grid_county_max_mw", county), _("grid capacity of {county}").format(county=county),
                   least, limit, "MWp")
    if cons.investment_budget_yuan is not None:
        least = (ok["investment_per_ha"] * area).groupby(level=0).min().sum()
        if least > cons.investment_budget_yuan * (1 + 1e-9):
            report(("constraints", "investment_budget_yuan"), _("investment budget"), least,
                   cons.investment_budget_yuan, "yuan")
    cons_area = (area * ok["conservation"]).groupby(level=0).max()
    total = villages["plannable_area_ha"]
    if cons.min_conservation_share is not None:
        most, need = float(cons_area.sum()), cons.min_conservation_share * float(total.sum())
        if most < need * (1 - 1e-9):
            found.append(Problem(inst.locate("constraints", "min_conservation_share"),
                                 _("no plan can meet the conservation share: at most {most:,.0f} ha can be conserved "
                                   "(the gates and locks allow no more), but {need:,.0f} ha are required").format(
                                     most=most, need=need), path="constraints.min_conservation_share"))  # fmt: skip
    if cons.min_conservation_share_per_county is not None:
        share = cons.min_conservation_share_per_county
        most_c = cons_area.groupby(county_of.reindex(cons_area.index).to_numpy()).sum()
        need_c = total.groupby(county_of).sum() * share
        for county in need_c.index:
            if most_c.get(county, 0.0) < need_c[county] * (1 - 1e-9):
                found.append(Problem(inst.locate("constraints", "min_conservation_share_per_county"),
                                     _("{county} can conserve at most {most:,.0f} ha but needs {need:,.0f} ha").format(
                                         county=county, most=most_c.get(county, 0.0), need=need_c[county]),
                                     path="constraints.min_conservation_share_per_county"))  # fmt: skip
    floor = income_floor_per_village(spec, villages, base)
    if floor is not None:
        best = (ok["farmer_income_per_ha"] * area).groupby(level=0).max()
        f = floor.reindex(best.index)
        short = best < f - 1e-6 * (1 + f.abs())
        for vid in short[short].index[:50]:
            row = villages.loc[vid]
            found.append(Problem(inst.locate("constraints", "income_floor"),
                                 _("village {village} ({name}): no allowed industry reaches the income floor of "
                                   "{floor:,.0f} yuan (best is {best:,.0f} yuan)").format(
                                     village=vid, name=row["name"], floor=floor[vid], best=best[vid]),
                                 path="constraints.income_floor"))  # fmt: skip
    found.extend(_leading_conflicts(inst, townships, villages, ok))
    return found


def _leading_conflicts(inst: Any, townships: pd.DataFrame, villages: pd.DataFrame, ok: pd.DataFrame) -> list[Problem]:
    """Townships where no counted industry can reach the least share, whatever the villages take.

    The best case for industry i in township t: every village that may take i takes it,
    and every other village that may take an exempt industry takes one, so that only the
    villages with nothing but counted options count against i:
    share_i = a_i / (a_i + m_t − m_ti), with a_i the area that may take i, m_t the area
    that must count and m_ti the part of it that may take i.
    """
    spec = inst.spec
    rule = spec.constraints.leading_industry
    if rule is None:
        return []
    counted = set(counted_industries(spec))
    s = rule.min_leading_share
    ind = ok.index.get_level_values("industry")
    vid = ok.index.get_level_values(0)
    area = villages["plannable_area_ha"]
    town = villages["township_id"]
    can_exempt = pd.Series(~ind.isin(counted), index=vid).groupby(level=0).any()
    must = ~can_exempt.reindex(area.index, fill_value=False).to_numpy()
    m_t = area[must].groupby(town[must].to_numpy()).sum()
    pairs = pd.DataFrame({"township": town.reindex(vid).to_numpy(), "industry": ind,
                          "area": area.reindex(vid).to_numpy(),
                          "must": pd.Series(must, index=area.index).reindex(vid).to_numpy()})
    pairs = pairs[pairs["industry"].isin(counted).to_numpy()]
    a_ti = pairs.groupby(["township", "industry"])["area"].sum()
    mc_ti = pairs[pairs["must"]].groupby(["township", "industry"])["area"].sum().reindex(a_ti.index, fill_value=0.0)
    base_ti = a_ti + m_t.reindex(a_ti.index.get_level_values(0)).fillna(0.0).to_numpy() - mc_ti
    share_ti = (a_ti / base_ti.where(base_ti > 0)).fillna(1.0)
    out: list[Problem] = []
    for tid, need in m_t.items():
        if need <= 0:
            continue  # every village may take an exempt industry: the rule can always hold
        row = townships.loc[tid]
        if tid in share_ti.index.get_level_values(0):
            shares = share_ti.loc[tid]
            best_ind = str(shares.idxmax())
            best = float(shares.max())
            if best >= s * (1 - 1e-9):
                continue
            base = float(base_ti.loc[(tid, best_ind)])
            text = _("township {township} ({name}): no industry can lead with {share:.0%} of the counted area; the "
                     "best is {industry} with at most {best:.1%} ({area:,.1f} of {base:,.1f} ha)").format(
                township=tid, name=row["name"], share=s, industry=best_ind, best=best,
                area=float(a_ti.loc[(tid, best_ind)]), base=base)
        else:
            text = _("township {township} ({name}): no village may take an industry that can lead, yet {area:,.1f} ha "
                     "must count towards the leading share").format(township=tid, name=row["name"], area=need)
        out.append(Problem(inst.locate("constraints", "leading_industry", "min_leading_share"), text,
                           _("lower min_leading_share, exempt an industry in leading_share_counts, or relax the gates"),
                           path="constraints.leading_industry.min_leading_share"))  # fmt: skip
    return out


def validate_villages(inst: Any, townships: pd.DataFrame, problems: list[Problem]) -> VillageData | None:
    """Every village check; None for a township instance. Problems are appended to `problems`."""
    tables: VillageTables | None = getattr(inst, "village_tables", None)
    if tables is None:
        check_references(inst, townships, None, problems)
        return None
    villages = typed_villages(tables, townships, problems)
    check_geometry(tables, problems)
    if villages.empty:  # the table itself is unusable: its problems are recorded
        return None
    check_references(inst, townships, villages, problems)
    check_village_site(inst, tables, villages, problems)
    unknown_base = [(vid, use) for vid, use in zip(villages.index, villages["baseline_land_use"])
                    if use and use not in inst.spec.industries]  # fmt: skip
    for vid, use in unknown_base[:_MAX_LISTED]:
        problems.append(Problem(_cell(tables.file, int(villages.at[vid, "_row"]), "baseline_land_use"),
                                _("baseline land use '{use}' (village {village}) is not an industry of the "
                                  "instance").format(use=use, village=vid),
                                did_you_mean(use, inst.spec.industries)
                                or _("define it under industries: with candidate: false")))  # fmt: skip
    if problems:
        return None
    warnings = area_warnings(villages, townships, inst.townships_file)
    warnings += geometry_warnings(tables, villages, inst.geometry, inst.crs, townships)
    site = merged_site(inst.site, tables.site, villages)
    pairs, base = village_pairs(inst.spec, villages, site)
    found = conflicts(inst, townships, villages, pairs, base, tables.file, problems)
    for w in warnings:
        log.info("warning: %s", w)  # the CLIs show them (summary.json "warnings"); not twice
    return VillageData(villages=villages, pairs=pairs, baseline=base, site=site, conflicts=found, warnings=warnings)
