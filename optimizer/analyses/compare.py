"""Compare two finished runs: what changed, where, by how much, and which limits moved.

A planner's real question after a what-if ("dry year", "cheaper panels", a new lock) is
rarely "what is the new plan?" but "what is different from the plan we had?". This
module answers it from two run folders alone (allocation.csv + summary.json, plus the
GeoPackage for the map), so any two runs can be compared long after they were solved,
and a sweep point that is written as a run folder compares like any other run.

Every difference is B − A. The township table holds only the townships whose industry
changed; the county and total tables cover every township, because a scenario that
changes a price or a yield also moves the figures of townships that kept their industry
(`change_in_switched_townships` in the totals separates the two effects).

Library functions log and return values; only `register`'s command prints.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import N_, _, ngettext
from optimizer.outputs.export import OutputOptions, export_layer
from optimizer.outputs.gpkg import UNCHANGED, write_comparison_gpkg
from optimizer.outputs.write import final_path, run_folder, sha256, versions, write_csv, write_json


log = logging.getLogger(__name__)

#: Figures compared per township, county and in total: (column, label, unit).
FIGURES: list[tuple[str, str, str]] = [
    ("gep_total_yuan", N_("GEP total"), "yuan/yr"),
    ("gep_material_yuan", N_("GEP material"), "yuan/yr"),
    ("gep_regulating_yuan", N_("GEP regulating"), "yuan/yr"),
    ("gep_cultural_yuan", N_("GEP cultural"), "yuan/yr"),
    ("farmer_income_yuan", N_("farmers' income before price steps"), "yuan/yr"),
    ("water_use_m3", N_("water use"), "m³/yr"),
    ("pv_capacity_mw", N_("PV capacity"), "MWp"),
    ("investment_yuan", N_("investment"), "yuan"),
]
FIGURE_COLUMNS = [f[0] for f in FIGURES]

#: Figures only summary.json knows (they depend on the whole plan, not on a township).
SUMMARY_FIGURES: list[tuple[str, str, str]] = [
    ("farmer_income_after_price_steps_yuan", N_("farmers' income"), "yuan/yr"),
    ("market_revenue_loss_yuan", N_("revenue lost to falling prices"), "yuan/yr"),
]

#: Row order of the totals: income after price steps (what `solve` reports as farmers' income)
#: next to the income before them.
TOTALS_ORDER = ["gep_total_yuan", "gep_material_yuan", "gep_regulating_yuan", "gep_cultural_yuan",
                "farmer_income_after_price_steps_yuan", "farmer_income_yuan", "market_revenue_loss_yuan",
                "water_use_m3", "pv_capacity_mw", "investment_yuan"]  # fmt: skip

#: allocation.csv columns a run folder must have to be compared.
REQUIRED_COLUMNS = ["township_id", "name", "county", "industry", "area_ha", *FIGURE_COLUMNS]
_TEXT_COLUMNS = ["township_id", "village_id", "township_name", "leading_industry", "name", "county", "city",
                 "industry", "industry_label", "industry_label_zh",
                 "output_unit", "baseline_land_use", "locked"]  # fmt: skip

#: Families whose rows summary.json lists only when they bind (model.report.constraint_report keeps
#: 20,000-township summaries readable): a missing row means "not binding", not "no such limit".
PER_TOWNSHIP_FAMILIES = frozenset({"one_industry_per_township", "water_use_per_township_max",
                                   "farmer_income_per_township_min", "industry_locked_in"})  # fmt: skip
#: Rows that define auxiliary variables rather than limit the plan (run.py leaves them out of
#: the binding lists too); their "binding" says nothing a planner can act on.
DEFINITIONAL_FAMILIES = frozenset({"market_output_beyond_step_def"})
#: A "<=" limit at least this used is "nearly binding", as in summary.json.
NEAR_SHARE = 0.95

#: Order of constraint changes in tables: what a planner must look at first.
CHANGE_ORDER = ["became binding", "became slack", "new", "gone", "became nearly binding",
                "no longer nearly binding", ""]  # fmt: skip

_RUN_FILES = ("allocation.csv", "summary.json")
_MAX_IDS_LISTED = 20


@dataclass
class RunInfo:
    """Identity and solve quality of one run: a difference means little if a run was stopped early."""

    path: Path
    instance: str
    run_id: str
    status: str
    objective_yuan: float | None
    bound_yuan: float | None
    gap: float | None
    scenarios: list[str] = field(default_factory=list)
    overrides_applied: list[dict[str, Any]] = field(default_factory=list)
    check_ok: bool | None = None
    weights: dict[str, Any] = field(default_factory=dict)
    double_count: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "instance": self.instance,
            "run_id": self.run_id,
            "status": self.status,
            "objective_yuan": self.objective_yuan,
            "bound_yuan": self.bound_yuan,
            "gap": self.gap,
            "scenarios": self.scenarios,
            "overrides_applied": self.overrides_applied,
            "check_ok": self.check_ok,
            "weights": self.weights,
            "double_count": self.double_count,
            "inputs_sha256": {name: sha256(self.path / name) for name in _RUN_FILES},
        }


@dataclass
class Comparison:
    """Run B against run A. Every delta is B − A.

    - `changed_townships`: one row per township whose industry changed: township_id, name,
      county, area_ha, industry_a/b (+ labels), and `delta_<figure>` for each of FIGURES.
    - `per_county`: county, townships, townships_changed, `<figure>_a`, `<figure>_b`,
      `delta_<figure>`, and `townships_<industry>_a/_b`.
    - `totals`: one row per figure: figure, label, unit, a, b, change, change_pct,
      change_in_switched_townships (the part of `change` from townships that switched).
    - `constraint_changes`: every limit of either run with status, lhs, rhs, slack and
      used share in each, and `change` (became binding / became slack / new / gone /
      became nearly binding / no longer nearly binding / empty when unchanged).
    - `townships`: every township, with the columns of `changed_townships` plus
      `changed` (bool) and `change` ("citrus → conservation", or "unchanged"): the
      comparison map, where the changed townships stand out among the others.
    """

    run_a: RunInfo
    run_b: RunInfo
    changed_townships: pd.DataFrame
    per_county: pd.DataFrame
    totals: pd.DataFrame
    constraint_changes: pd.DataFrame
    townships_compared: int
    warnings: list[str] = field(default_factory=list)
    townships: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def transitions(self) -> dict[str, int]:
        """How many townships went from each industry to each other, e.g. {'citrus → conservation': 2}."""
        ct = self.changed_townships
        if ct.empty:
            return {}
        counts = ct.groupby(["industry_a", "industry_b"]).size().sort_values(ascending=False)
        return {f"{a} → {b}": int(n) for (a, b), n in counts.items()}

    @property
    def limit_changes(self) -> pd.DataFrame:
        """Only the limits whose status changed (what the terminal shows)."""
        cc = self.constraint_changes
        return cc[cc["change"] != ""].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "karst-layout-optimizer",
            "command": "compare",
            "run_a": self.run_a.to_dict(),
            "run_b": self.run_b.to_dict(),
            "warnings": self.warnings,
            "townships_compared": self.townships_compared,
            "townships_changed": len(self.changed_townships),
            "transitions": self.transitions,
            "totals": _records(self.totals),
            "constraint_changes": _records(self.limit_changes),
        }


# ---------------------------------------------------------------------------------------
# Reading and validating run folders


def _resolve_run(path: Path, label: str, problems: list[Problem]) -> Path | None:
    """The run folder a user meant, or None with a problem saying why this is not one.

    A file inside a run folder (allocation.csv, summary.json …) is accepted, because
    tab-completion often lands on one.
    """
    path = Path(path)
    if not path.exists():
        problems.append(Problem(Location(path), _("run {label}: no such file or folder").format(label=label)))
        return None
    if path.is_file():
        if path.name in (*_RUN_FILES, "allocation.gpkg", "manifest.json", "county_totals.csv", "check.json"):
            path = path.parent
        else:
            problems.append(Problem(Location(path), _("run {label} is a file, not a run folder").format(label=label),
                                    _("pass the folder that holds allocation.csv and summary.json")))
            return None
    if path.name.endswith(".partial"):
        problems.append(Problem(Location(path), _("run {label} is an unfinished run folder (.partial): the solve was "
                                                  "interrupted or is still writing, so its files may be incomplete").format(
            label=label)))
        return None
    missing = [name for name in _RUN_FILES if not (path / name).is_file()]
    if missing:
        runs = sorted(p for p in path.iterdir() if p.is_dir() and all((p / n).is_file() for n in _RUN_FILES))
        hint = None
        if runs:
            shown = ", ".join(str(p) for p in runs[-3:][::-1])
            hint = ngettext("it holds {n} run folder; the newest: {shown}", "it holds {n} run folders; the newest: {shown}",
                            len(runs)).format(n=len(runs), shown=shown)
        problems.append(Problem(Location(path), _("run {label} is not a run folder: it has no {files}").format(
            label=label, files=_(" or ").join(missing)), hint))
        return None
    return path


def _read_summary(run: Path, label: str, problems: list[Problem]) -> dict[str, Any] | None:
    file = run / "summary.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(Problem(Location(file, line=exc.lineno, column=exc.colno),
                                _("run {label}: summary.json is not valid JSON ({reason})").format(label=label, reason=exc.msg)))
        return None
    if not isinstance(data, dict) or "status" not in data:
        problems.append(Problem(Location(file), _("run {label}: summary.json is not a run summary (no 'status')").format(label=label)))
        return None
    return data


def _read_allocation(run: Path, label: str, problems: list[Problem]) -> pd.DataFrame | None:
    file = run / "allocation.csv"
    try:
        # Text columns stay text (township ids like 451123100 must not become numbers, and a
        # township called "NA" must not become missing).
        head = pd.read_csv(file, nrows=0, encoding="utf-8-sig")
        dtype = {c: str for c in _TEXT_COLUMNS if c in head.columns}
        df = pd.read_csv(file, dtype=dtype, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(Problem(Location(file), _("run {label}: allocation.csv cannot be read ({reason})").format(label=label, reason=exc)))
        return None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        problems.append(Problem(Location(file), _("run {label}: allocation.csv lacks column(s) {columns}").format(
            label=label, columns=", ".join(missing))))
        return None
    for c in ("name", "county", "industry", "industry_label", "industry_label_zh", "leading_industry"):
        if c in df.columns:
            df[c] = df[c].fillna("")
    key = unit_key(df)  # a village run plans villages
    dup = df.loc[df[key].duplicated(), key].unique().tolist()
    if dup:
        problems.append(Problem(Location(file, table_column=key),
                                (_("run {label}: village id(s) listed twice: {ids}") if key.startswith("village")
                                 else _("run {label}: township id(s) listed twice: {ids}")).format(
                                    label=label, ids=_id_list(dup))))
        return None
    return df.set_index(key, drop=False)


def unit_key(alloc: pd.DataFrame) -> str:
    """The planning unit of an allocation.csv: `village_id` in a village run, else `township_id`."""
    return "village_id" if "village_id" in alloc.columns else "township_id"


def _id_list(ids: list[str]) -> str:
    shown = ", ".join(ids[:_MAX_IDS_LISTED])
    return shown + (f" … and {len(ids) - _MAX_IDS_LISTED} more" if len(ids) > _MAX_IDS_LISTED else "")


def _run_info(run: Path, s: dict[str, Any]) -> RunInfo:
    return RunInfo(
        path=run,
        instance=str(s.get("instance", "")),
        run_id=str(s.get("run_id") or run.name),
        status=str(s.get("status", "")),
        objective_yuan=s.get("objective_yuan"),
        bound_yuan=s.get("bound_yuan"),
        gap=s.get("gap"),
        scenarios=list(s.get("scenarios") or []),
        overrides_applied=list(s.get("overrides_applied") or []),
        check_ok=s.get("check_ok"),
        weights=dict(s.get("weights") or {}),
        double_count=s.get("double_count"),
    )


# ---------------------------------------------------------------------------------------
# The comparison


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Compare run B against run A (B − A); raises InputError listing every problem at once.

    Both must be finished run folders of the same townships (comparing different township
    sets would silently mix "changed industry" with "not in the other run"). Runs of
    different instances are compared with a warning: a renamed copy of an instance is a
    legitimate what-if.
    """
    problems: list[Problem] = []
    paths = [_resolve_run(Path(run_a), "A", problems), _resolve_run(Path(run_b), "B", problems)]
    summaries: list[dict[str, Any] | None] = []
    allocs: list[pd.DataFrame | None] = []
    for path, label in zip(paths, "AB"):
        summaries.append(_read_summary(path, label, problems) if path else None)
        allocs.append(_read_allocation(path, label, problems) if path else None)
    if problems:
        raise InputError(problems)
    pa, pb = paths
    sa, sb = summaries
    aa, ab = allocs
    assert pa and pb and sa and sb and aa is not None and ab is not None  # every failure added a problem
    if unit_key(aa) != unit_key(ab):
        raise InputError([Problem(Location(pb / "allocation.csv"),
                                  _("one run plans villages and the other townships: they cannot be compared "
                                    "unit by unit"),
                                  _("compare runs of the same instance, or of two village instances"))])

    only_a = sorted(set(aa.index) - set(ab.index))
    only_b = sorted(set(ab.index) - set(aa.index))
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} only in A ({_id_list(only_a)})")
        if only_b:
            parts.append(f"{len(only_b)} only in B ({_id_list(only_b)})")
        raise InputError([Problem(Location(pb / "allocation.csv", table_column="township_id"),
                                  "the runs plan different townships: " + "; ".join(parts),
                                  "compare runs of the same township table")])
    ab = ab.reindex(aa.index)

    info_a, info_b = _run_info(pa, sa), _run_info(pb, sb)
    warnings = _warnings(info_a, info_b)
    for w in warnings:
        log.warning("%s", w)

    switched = aa["industry"] != ab["industry"]
    everyone = _township_changes(aa, ab, switched)
    changed = everyone.loc[everyone["changed"]].drop(columns=["changed", "change"]).reset_index(drop=True)
    per_county = _per_county(aa, ab, switched)
    if unit_key(aa) == "village_id":  # and the townships whose leading industry changed
        changed = _with_leading(changed, aa, ab)
    totals = _totals(aa, ab, sa, sb, switched)
    cons = constraint_changes(sa.get("constraints") or [], sb.get("constraints") or [])
    log.info("compared %d townships: %d changed industry, %d limits changed status",
             len(aa), len(changed), int((cons["change"] != "").sum()))
    return Comparison(info_a, info_b, changed, per_county, totals, cons, len(aa), warnings, everyone)


def _warnings(a: RunInfo, b: RunInfo) -> list[str]:
    """What makes the difference mean less than it seems; the comparison still goes ahead."""
    out = []
    if a.instance != b.instance:
        out.append(f"the runs are of different instances ('{a.instance}' and '{b.instance}'): "
                   "check they describe the same place")
    if a.path.resolve() == b.path.resolve():
        out.append(_("run A and run B are the same folder: every difference is zero"))
    for label, r in (("A", a), ("B", b)):
        if r.status != "optimal":
            gap = f", gap {r.gap:.2%}" if isinstance(r.gap, (int, float)) else ""
            out.append(_("run {label} is not proven optimal ({status}{gap}): part of the difference may be "
                         "the solver stopping early rather than the change between the runs").format(
                label=label, status=r.status, gap=gap))
        if r.check_ok is False:
            out.append(_("run {label} failed the independent check (check.json): its figures may be wrong").format(label=label))
    if (a.weights, a.double_count) != (b.weights, b.double_count) and a.weights and b.weights:
        out.append(f"the objectives differ (A: weights {a.weights}, {a.double_count}; B: weights {b.weights}, "
                   f"{b.double_count}): the objective change mixes the plan's change with the new weighting")
    return out


def _township_changes(aa: pd.DataFrame, ab: pd.DataFrame, switched: pd.Series) -> pd.DataFrame:
    """Every unit (township, or village of a village run): industries in A and B, whether and how
    it changed, and B − A of each figure."""
    a, b = aa, ab
    sw = switched.to_numpy()
    key = unit_key(aa)
    first = {key: aa.index.to_numpy()}
    if key == "village_id":
        first["township_id"] = a["township_id"].to_numpy()
    out = pd.DataFrame({
        **first,
        "name": a["name"].to_numpy(),
        "county": a["county"].to_numpy(),
        "area_ha": a["area_ha"].to_numpy(),
        "industry_a": a["industry"].to_numpy(),
        "industry_b": b["industry"].to_numpy(),
    })  # fmt: skip
    for col in ("industry_label", "industry_label_zh"):
        if col in aa.columns and col in ab.columns:
            out[f"{col}_a"] = a[col].to_numpy()
            out[f"{col}_b"] = b[col].to_numpy()
    for col in FIGURE_COLUMNS:
        out[f"delta_{col}"] = b[col].to_numpy() - a[col].to_numpy()
    out["changed"] = sw
    out["change"] = [f"{x} → {y}" if s else UNCHANGED for x, y, s in zip(out["industry_a"], out["industry_b"], sw)]
    return out


def _with_leading(changed: pd.DataFrame, aa: pd.DataFrame, ab: pd.DataFrame) -> pd.DataFrame:
    """Village rows get their township's leading industry in A and B."""
    for tag, df in (("a", aa), ("b", ab)):
        lead = df.drop_duplicates("township_id").set_index("township_id")["leading_industry"] \
            if "leading_industry" in df.columns else pd.Series(dtype=object)
        changed[f"leading_industry_{tag}"] = lead.reindex(changed["township_id"]).fillna("").to_numpy()
    return changed


def _per_county(aa: pd.DataFrame, ab: pd.DataFrame, switched: pd.Series) -> pd.DataFrame:
    if unit_key(aa) == "village_id":
        return _per_county_villages(aa, ab, switched)
    ga = aa.groupby("county", sort=True)
    gb = ab.groupby("county", sort=True)
    fa, fb = ga[FIGURE_COLUMNS].sum(), gb[FIGURE_COLUMNS].sum()
    counties = fa.index.union(fb.index)
    fa, fb = fa.reindex(counties, fill_value=0.0), fb.reindex(counties, fill_value=0.0)
    out = pd.DataFrame(index=counties)
    out["townships"] = ga.size().reindex(counties, fill_value=0).astype(int)
    out["townships_changed"] = switched.groupby(aa["county"]).sum().reindex(counties, fill_value=0).astype(int)
    for col in FIGURE_COLUMNS:
        out[f"{col}_a"] = fa[col]
        out[f"{col}_b"] = fb[col]
        out[f"delta_{col}"] = fb[col] - fa[col]
    industries = sorted(set(aa["industry"]) | set(ab["industry"]))
    ca = aa.groupby(["county", "industry"]).size().unstack(fill_value=0)
    cb = ab.groupby(["county", "industry"]).size().unstack(fill_value=0)
    for ind in industries:
        for tag, c in (("a", ca), ("b", cb)):
            s = c[ind] if ind in c.columns else pd.Series(0, index=c.index)
            out[f"townships_{ind}_{tag}"] = s.reindex(counties, fill_value=0).astype(int)
    out.index.name = "county"
    return out.reset_index()


def _per_county_villages(aa: pd.DataFrame, ab: pd.DataFrame, switched: pd.Series) -> pd.DataFrame:
    """Per county of a village run: figures, villages changed, villages per product, townships per leading industry."""
    ga, gb = aa.groupby("county", sort=True), ab.groupby("county", sort=True)
    fa, fb = ga[FIGURE_COLUMNS].sum(), gb[FIGURE_COLUMNS].sum()
    counties = fa.index.union(fb.index)
    fa, fb = fa.reindex(counties, fill_value=0.0), fb.reindex(counties, fill_value=0.0)
    out = pd.DataFrame(index=counties)
    out["townships"] = ga["township_id"].nunique().reindex(counties, fill_value=0).astype(int)
    out["villages"] = ga.size().reindex(counties, fill_value=0).astype(int)
    out["villages_changed"] = switched.groupby(aa["county"]).sum().reindex(counties, fill_value=0).astype(int)
    for col in FIGURE_COLUMNS:
        out[f"{col}_a"] = fa[col]
        out[f"{col}_b"] = fb[col]
        out[f"delta_{col}"] = fb[col] - fa[col]
    industries = sorted(set(aa["industry"]) | set(ab["industry"]))
    for tag, df in (("a", aa), ("b", ab)):
        c = df.groupby(["county", "industry"]).size().unstack(fill_value=0)
        towns = df.drop_duplicates("township_id")
        lead = towns[towns.get("leading_industry", pd.Series("", index=towns.index)) != ""] \
            if "leading_industry" in towns.columns else towns.iloc[0:0]
        cl = lead.groupby(["county", "leading_industry"]).size().unstack(fill_value=0) if len(lead) else pd.DataFrame()
        for ind in industries:
            s = c[ind] if ind in c.columns else pd.Series(0, index=c.index)
            out[f"villages_{ind}_{tag}"] = s.reindex(counties, fill_value=0).astype(int)
            s = cl[ind] if ind in cl.columns else pd.Series(0, index=counties)
            out[f"townships_leading_{ind}_{tag}"] = s.reindex(counties, fill_value=0).astype(int)
    out.index.name = "county"
    return out.reset_index()


def _pct(a: float, change: float) -> float:
    if a == 0:
        return 0.0 if change == 0 else math.nan
    return 100.0 * change / abs(a)


def _totals(aa: pd.DataFrame, ab: pd.DataFrame, sa: dict[str, Any], sb: dict[str, Any],
            switched: pd.Series) -> pd.DataFrame:  # fmt: skip
    rows: list[dict[str, Any]] = []

    def add(key: str, label: str, unit: str, a: Any, b: Any, in_switched: float | None = None) -> None:
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return  # not in one of the summaries (older run): nothing to compare
        change = float(b) - float(a)
        rows.append({"figure": key, "label": label, "unit": unit, "a": float(a), "b": float(b), "change": change,
                     "change_pct": _pct(float(a), change),
                     "change_in_switched_townships": math.nan if in_switched is None else in_switched})

    add("objective_yuan", "objective", "yuan/yr", sa.get("objective_yuan"), sb.get("objective_yuan"))
    sw = switched.to_numpy()
    ta, tb = sa.get("totals") or {}, sb.get("totals") or {}
    figures = {f[0]: f for f in FIGURES}
    summary_only = {f[0]: f for f in SUMMARY_FIGURES}
    for key in TOTALS_ORDER:
        if key in figures:
            _, label, unit = figures[key]
            a_col, b_col = aa[key].to_numpy(), ab[key].to_numpy()
            add(key, label, unit, float(a_col.sum()), float(b_col.sum()), float(b_col[sw].sum() - a_col[sw].sum()))
        else:
            _, label, unit = summary_only[key]
            add(key, label, unit, ta.get(key), tb.get(key))
    na, nb = aa["industry"].value_counts(), ab["industry"].value_counts()
    unit = "villages" if unit_key(aa) == "village_id" else "townships"
    for ind in sorted(set(na.index) | set(nb.index)):
        a_n, b_n = int(na.get(ind, 0)), int(nb.get(ind, 0))
        add(f"{unit}_{ind}", f"{unit}: {ind}", unit, a_n, b_n, float(b_n - a_n))
    la, lb = ta.get("townships_by_leading_industry") or {}, tb.get("townships_by_leading_industry") or {}
    for ind in sorted(set(la) | set(lb)):
        a_n, b_n = int(la.get(ind, 0)), int(lb.get(ind, 0))
        add(f"townships_leading_{ind}", f"townships led by {ind}", "townships", a_n, b_n)
    return pd.DataFrame(rows, columns=["figure", "label", "unit", "a", "b", "change", "change_pct",
                                       "change_in_switched_townships"])  # fmt: skip


def _status(row: dict[str, Any] | None, family: str) -> str:
    if row is None:
        return "slack (not listed)" if family in PER_TOWNSHIP_FAMILIES else "absent"
    if row.get("binding"):
        return "binding"
    share = row.get("used_share")
    if row.get("sense") == "<=" and isinstance(share, (int, float)) and share >= NEAR_SHARE:
        return "nearly binding"
    return "slack"


def _change(status_a: str, status_b: str) -> str:
    if status_a == status_b:
        return ""
    if status_a == "absent":
        return "new"
    if status_b == "absent":
        return "gone"
    if status_b == "binding":
        return "became binding"
    if status_a == "binding":
        return "became slack"
    if status_b == "nearly binding":
        return "became nearly binding"
    if status_a == "nearly binding":
        return "no longer nearly binding"
    return ""  # slack ↔ slack (not listed): the same thing


def constraint_changes(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]) -> pd.DataFrame:
    """Each limit of either run side by side, matched by name, with how its status changed.

    Matching is by name (family[index]) because indices are counties, markets or townships
    that the instance names. Definitional rows are left out (see DEFINITIONAL_FAMILIES).
    """
    by_a = {r["name"]: r for r in rows_a if r.get("family") not in DEFINITIONAL_FAMILIES}
    by_b = {r["name"]: r for r in rows_b if r.get("family") not in DEFINITIONAL_FAMILIES}
    names = list(by_a) + [n for n in by_b if n not in by_a]
    out = []
    for name in names:
        ra, rb = by_a.get(name), by_b.get(name)
        ref = ra or rb
        assert ref is not None
        family = str(ref.get("family", ""))
        st_a, st_b = _status(ra, family), _status(rb, family)
        index = ref.get("index")
        rec = {
            "name": name,
            "family": family,
            "index": json.dumps(index, ensure_ascii=False) if isinstance(index, (list, dict)) else index,
            "sense": ref.get("sense"),
            "unit": ref.get("unit"),
            "change": _change(st_a, st_b),
            "status_a": st_a,
            "status_b": st_b,
            "binding_a": None if ra is None else bool(ra.get("binding")),
            "binding_b": None if rb is None else bool(rb.get("binding")),
        }
        for key in ("lhs", "rhs", "slack", "used_share"):
            rec[f"{key}_a"] = None if ra is None else ra.get(key)
            rec[f"{key}_b"] = None if rb is None else rb.get(key)
        rec["rhs_changed"] = (ra is not None and rb is not None and ra.get("rhs") is not None
                              and rb.get("rhs") is not None and not math.isclose(ra["rhs"], rb["rhs"], rel_tol=1e-9))
        out.append(rec)
    columns = ["name", "family", "index", "sense", "unit", "change", "status_a", "status_b", "binding_a",
               "binding_b", "lhs_a", "lhs_b", "rhs_a", "rhs_b", "slack_a", "slack_b", "used_share_a",
               "used_share_b", "rhs_changed"]  # fmt: skip
    df = pd.DataFrame(out, columns=columns)
    for col in ("lhs_a", "lhs_b", "rhs_a", "rhs_b", "slack_a", "slack_b", "used_share_a", "used_share_b"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in ("binding_a", "binding_b"):
        df[col] = df[col].astype("boolean")
    df["rhs_changed"] = df["rhs_changed"].astype(bool)
    order = {c: i for i, c in enumerate(CHANGE_ORDER)}
    df["_order"] = df["change"].map(order)
    return df.sort_values(["_order"], kind="stable").drop(columns="_order").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Writing


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts: NaN and <NA> become null (json.dumps would write bare NaN)."""
    obj = df.astype(object)
    return obj.where(df.notna(), None).to_dict(orient="records")


def write_comparison(comp: Comparison, results_root: Path, run_id: str | None = None,
                     output: OutputOptions | None = None) -> Path:
    """Write the comparison folder atomically and return it.

    `<results_root>/<instance A>-compare/<id>/`: changed_townships.csv, county_changes.csv,
    total_changes.csv, constraint_changes.csv, comparison.gpkg (layer `townships`: every
    township with run A's polygon, the changed ones highlighted by its default style;
    `changed_townships`: only those; non-spatial `county_changes` and `total_changes`),
    any `exports` of the `townships` layer (see optimizer.outputs.export) and
    comparison.json, written last with the sha256 of every other file, as a run's manifest.
    """
    with run_folder(Path(results_root), f"{comp.run_a.instance or 'run'}-compare", run_id=run_id) as partial:
        write_csv(partial / "changed_townships.csv", comp.changed_townships)
        write_csv(partial / "county_changes.csv", comp.per_county)
        write_csv(partial / "total_changes.csv", comp.totals)
        write_csv(partial / "constraint_changes.csv", comp.constraint_changes)
        output = output or OutputOptions()
        layer = write_comparison_gpkg(partial / "comparison.gpkg", (comp.run_a.path, comp.run_b.path),
                                      comp.changed_townships, comp.per_county, comp.totals, comp.townships,
                                      lang=output.lang,
                                      id_column="village_id" if "village_id" in comp.changed_townships.columns
                                      else "township_id")  # fmt: skip
        if layer is not None:
            export_layer(partial, "townships", layer, output.export)
        data = comp.to_dict()
        data["versions"] = versions()
        data["outputs"] = {p.name: sha256(p) for p in sorted(partial.iterdir())}
        write_json(partial / "comparison.json", data)
    return final_path(partial)
