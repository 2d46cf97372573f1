"""Reports of the analyses' folders: gep, evaluate, compare, sweep, frontier, value, robust and alternatives.

Each reads only what its command wrote (see docs/outputs.md and docs/gep-and-evaluate.md,
docs/what-if.md) and reuses the shared blocks of `page.py`, so a figure reads the same in
every report.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.i18n import _, ngettext
from optimizer.outputs.report.page import (
    ROWS_MAX, Block, Page, Section, callout, county_chart, facts, figure_block, footer, industry_labels, industry_map,
    industry_names, limit_sentence, manifest_of, map_block, market_units, mio, missing, money_factor, money_words, num, pct,
    read_csv, read_json, report_kind, resolved_instance, short_label, solve_sentence, sources_of, sources_section,
    table_block, text_block, township_chart, township_shapes, whatif_section,
)

log = logging.getLogger(__name__)


def _title(resolved: dict[str, Any], name: str) -> str:
    return str(resolved.get("title") or name)


def _change_rows(rows: list[tuple[str, Any, Any]]) -> list[tuple[str, str, str, str, str]]:
    """(label, plan, baseline) → table cells with the change and the change in %."""
    out = []
    for label, plan, base in rows:
        change = None if missing(plan) or missing(base) else float(plan) - float(base)
        rel = "—" if change is None or not base else pct(change / abs(float(base)))
        out.append((label, mio(plan), mio(base), mio(change, sign=True), rel))
    return out


def _plan_base_columns(plan: str | None = None, base: str | None = None) -> list[tuple[str, str]]:
    return [("", "text"), (plan or _("plan"), "num"), (base or _("baseline"), "num"), (_("change"), "num"),
            (_("change %"), "num")]  # fmt: skip


# --------------------------------------------------------------------------- gep


def _is_gep(folder: Path) -> bool:
    return (folder / "gep_by_township.csv").is_file()


@report_kind("gep", _is_gep)
def gep_page(folder: Path) -> Page:
    """GEP accounts: by category against the baseline, by service, a map of GEP per hectare."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    from optimizer.outputs.figures import paired_bars

    manifest = manifest_of(folder)
    resolved = resolved_instance(folder)
    bt = read_csv(folder / "gep_by_township.csv")
    name = str(resolved.get("name") or folder.parent.name)
    labels = industry_names(resolved)
    plan = str(manifest.get("plan") or "")
    baseline_only = plan in ("", "baseline")
    convention = str(manifest.get("convention") or "instance")
    tot = {c: float(bt[c].sum()) for c in bt.columns if c.endswith("_yuan") and not c.endswith("_per_ha")}

    head = [text_block(
        _("GEP of the baseline land use, under the price convention '{convention}'.").format(convention=convention)
        if baseline_only else
        _("GEP of the plan in {plan}, under the price convention '{convention}'.").format(
            plan=Path(plan).parent.name if Path(plan).name == "allocation.csv" else plan, convention=convention))]  # fmt: skip
    price_set = manifest.get("price_set") or {}
    if price_set:
        head.append(text_block(_("Unit prices from the price set: {prices}.").format(
            prices="; ".join(f"{k} {v:g}" for k, v in price_set.items()))))  # fmt: skip
    cats = [(_("GEP, material (products)"), "gep_material_yuan"),
            (_("GEP, regulating (soil, water, carbon)"), "gep_regulating_yuan"),
            (_("GEP, cultural (recreation)"), "gep_cultural_yuan"), (_("GEP, total"), "gep_total_yuan"),
            (_("Farmers' income (before falling prices)"), "farmer_income_yuan")]  # fmt: skip
    if baseline_only:
        rows = [(label, mio(tot.get(f"baseline_{key}"))) for label, key in cats]
        head.append(table_block([("", "text"), (_("baseline"), "num")], rows, caption=money_words()))
    else:
        head.append(table_block(_plan_base_columns(), _change_rows(
            [(label, tot.get(key), tot.get(f"baseline_{key}")) for label, key in cats]), caption=money_words()))
        svg = paired_bars([label for label, _k in cats[:3]],
                          [(_("plan against baseline"), [tot.get(k, 0.0) / money_factor() for _l, k in cats[:3]],
                            [tot.get(f"baseline_{k}", 0.0) / money_factor() for _l, k in cats[:3]])],
                          None, money_words(), "gep-categories", plan_label=_("plan"), baseline_label=_("baseline"))  # fmt: skip
        head.append(figure_block(svg))
    sections = [Section("accounts", _("GEP by category"), head)]

    # Map: GEP per hectare, graduated.
    shapes = township_shapes(folder, "gep.gpkg", "gep_by_township", resolved)
    per_ha = bt["gep_total_yuan_per_ha"].astype(float).to_numpy() if "gep_total_yuan_per_ha" in bt else (
        bt["gep_total_yuan"] / bt["area_ha"].replace(0, np.nan)).to_numpy()  # fmt: skip
    finite = per_ha[np.isfinite(per_ha)]
    norm = Normalize(vmin=float(finite.min()) if len(finite) else 0.0, vmax=float(finite.max()) if len(finite) else 1.0)
    cmap = colormaps["YlGn"]
    from matplotlib.colors import to_hex

    colours = [to_hex(cmap(norm(v))) if np.isfinite(v) else "#dddddd" for v in per_ha]
    titles = [_("{name} ({id}), {county}: {industry}; GEP {gep} yuan/ha/yr").format(
        name=r.name, id=r.township_id, county=r.county, industry=labels.get(r.industry, r.industry),
        gep=num(v)) for r, v in zip(bt.itertuples(index=False), per_ha)]  # fmt: skip
    sections.append(Section("map", _("Map of GEP per hectare"), [map_block(
        shapes, bt, colours, titles, [], _("Townships shaded by GEP per hectare (all categories)."),
        colorbar=(cmap, norm, _("GEP, yuan/ha/yr")))]))  # fmt: skip

    # By township and county.
    bt_l = bt.assign(industry_label=[labels.get(i, i) for i in bt["industry"]], industry_label_zh="")
    sections.append(Section("townships", _("By township"), [township_chart(
        bt_l, "gep_total_yuan", None if baseline_only else "baseline_gep_total_yuan", "farmer_income_yuan",
        None if baseline_only else "baseline_farmer_income_yuan", "industry", "townships", labels)]))  # fmt: skip
    by_county = read_csv(folder / "gep_by_county.csv") if (folder / "gep_by_county.csv").is_file() else pd.DataFrame()
    if not by_county.empty:
        blocks: list[Block] = []
        chart = county_chart(by_county, "counties")
        if chart is not None:
            blocks.append(chart)
        blocks.append(table_block(
            [(_("county"), "text"), (_("townships"), "num"), (_("GEP"), "num"), (_("GEP change"), "num"),
             (_("GEP per ha (yuan)"), "num"), (_("income"), "num")],
            [(r.county, num(r.townships), mio(r.gep_total_yuan), mio(r.change_gep_total_yuan, sign=True),
              num(r.gep_total_yuan_per_ha), mio(r.farmer_income_yuan)) for r in by_county.itertuples(index=False)],
            caption=money_words()))  # fmt: skip
        sections.append(Section("counties", _("By county"), blocks))

    # By service.
    services = folder / "gep_by_service_total.csv"
    if services.is_file():
        st = read_csv(services)
        rows = [(r.service, r.category, num(r.quantity), num(r.baseline_quantity), str(r.unit), f"{r.unit_price_yuan:g}",
                 mio(r.value_yuan), mio(r.baseline_value_yuan), mio(r.change_value_yuan, sign=True))
                for r in st.itertuples(index=False)]  # fmt: skip
        sections.append(Section("services", _("By service"), [table_block(
            [(_("service"), "text"), (_("category"), "text"), (_("quantity"), "num"), (_("baseline quantity"), "num"),
             (_("unit"), "text"), (_("yuan per unit"), "num"), (_("value"), "num"), (_("baseline value"), "num"),
             (_("change"), "num")], rows, caption=_("Quantities per year; values in {unit}.").format(unit=money_words()))]))  # fmt: skip
    sections.append(whatif_section(manifest.get("scenarios") or [], manifest.get("overrides_applied") or []))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    return Page("gep", _("GEP accounts: {title}").format(title=_title(resolved, name)),
                _("{folder} of instance {name}").format(folder=folder.name, name=name), sections, footer(manifest))


# --------------------------------------------------------------------------- evaluate


def _is_evaluate(folder: Path) -> bool:
    return (folder / "evaluation.json").is_file()


def _part_label(part: str, fallback: str) -> str:
    """A figure's name in the report's language (evaluate's and compare's keys), else what the file says."""
    labels = {
        "gep_regulating_yuan": _("regulating GEP"), "gep_cultural_yuan": _("cultural GEP"),
        "gep_material_yuan": _("material GEP"),
        "farmer_income_after_price_steps_yuan": _("farmers' income after falling prices"),
        "objective_yuan": _("weighted objective"), "gep_total_yuan": _("GEP total (all categories)"),
        "farmer_income_yuan": _("farmers' income before falling prices"),
        "market_revenue_loss_yuan": _("market revenue lost to falling prices"), "water_use_m3": _("water use"),
        "pv_capacity_mw": _("PV capacity"), "investment_yuan": _("investment"),
        "conservation_area_ha": _("conservation area"),
    }  # fmt: skip
    if part.startswith("townships_"):
        return _("townships: {industry}").format(industry=part.removeprefix("townships_"))
    return labels.get(part, fallback)


def _amount(value: Any, unit: str, sign: bool = False) -> str:
    """A figure in the scale `_unit_words` names (million yuan, million m³)."""
    if unit in ("yuan/yr", "yuan"):
        return mio(value, sign=sign)
    if unit == "m³/yr":
        return "—" if missing(value) else num(float(value) / 1e6, 2, sign=sign)
    if unit == "MWp":
        return num(value, 1, sign=sign)
    return num(value, sign=sign)


def _unit_words(unit: str) -> str:
    return {"yuan/yr": money_words(), "yuan": money_words(per_year=False), "m³/yr": _("million m³/yr"),
            "MWp": _("MWp"), "ha": _("ha"), "townships": _("townships")}.get(unit, unit)  # fmt: skip


@report_kind("evaluate", _is_evaluate)
def evaluate_page(folder: Path) -> Page:
    """A planner's plan scored: the limits it breaks, its figures against the optimum, where they differ."""
    ev = read_json(folder / "evaluation.json")
    manifest = manifest_of(folder)
    resolved = resolved_instance(folder)
    name = str(ev.get("instance") or resolved.get("name") or "")
    plan_file = Path(str(ev.get("plan_file") or "plan.csv"))
    violations = ev.get("violations") or []
    verdict: list[Block] = []
    if not violations:
        verdict.append(callout("ok", _("The plan in {file} meets every limit.").format(file=plan_file.name)))
    else:
        verdict.append(callout("bad", ngettext("The plan in {file} breaks {n} limit:", "The plan in {file} breaks {n} limits:",
                                               len(violations)).format(file=plan_file.name, n=len(violations))))
        verdict.append(Block("list", {"items": [str(v.get("message") or v.get("name")) for v in violations]}))
    opt = ev.get("optimum") or {}
    if opt.get("run_id"):
        verdict.append(text_block(_("Compared with the optimum of run {run}.").format(run=opt.get("run_id"))))
    for note in ev.get("notes") or []:
        verdict.append(callout("warn", str(note)))
    sections = [Section("verdict", _("Verdict"), verdict)]

    comparison = ev.get("comparison") or []
    if comparison:
        rows = []
        for r in comparison:
            unit = str(r.get("unit") or "")
            rows.append((_part_label(str(r.get("part")), str(r.get("description"))), _unit_words(unit),
                         _amount(r.get("plan"), unit), _amount(r.get("optimum"), unit),
                         _amount(r.get("left_on_the_table"), unit)))  # fmt: skip
        sections.append(Section("against-optimum", _("The plan against the optimum"), [table_block(
            [("", "text"), (_("unit"), "text"), (_("plan"), "num"), (_("optimum"), "num"),
             (_("optimum − plan"), "num")], rows,
            note=_("Positive: what the optimum adds. A plan that breaks limits may score above the optimum."))]))  # fmt: skip

    alloc_path = folder / "plan_allocation.csv"
    if alloc_path.is_file():
        alloc = read_csv(alloc_path)
        broken = (alloc["violations"].astype(str) != "").to_numpy() if "violations" in alloc else None
        shapes = township_shapes(folder, "evaluate.gpkg", "plan", resolved)

        def extra(row: Any) -> str:
            parts = [_("GEP {gep}, farmers' income {income} {unit}").format(
                gep=mio(row.gep_total_yuan), income=mio(row.farmer_income_yuan), unit=money_words())]  # fmt: skip
            if getattr(row, "optimum_industry", ""):
                parts.append(_("optimum: {industry}").format(industry=row.optimum_industry))
            if getattr(row, "violations", ""):
                parts.append(str(row.violations))
            return "; ".join(parts)

        sections.append(Section("map", _("Map of the plan"), [industry_map(
            shapes, alloc, _("Townships coloured by the plan's industry; outlined: a township-level limit is broken there."),
            emphasis=broken, emphasis_label=_("breaks a limit"), extra=extra)]))  # fmt: skip
    diff = folder / "differing_townships.csv"
    if diff.is_file():
        d = read_csv(diff)
        labels = industry_names(resolved)
        if not d.empty:
            shown = d.head(ROWS_MAX)
            rows = [(f"{r.name} ({r.township_id})", r.county, short_label(labels.get(r.plan_industry, r.plan_industry)),
                     short_label(labels.get(r.optimum_industry, r.optimum_industry)), mio(r.left_on_the_table_yuan, sign=True))
                    for r in shown.itertuples(index=False)]  # fmt: skip
            sections.append(Section("differing", _("Where the plan differs from the optimum"), [table_block(
                [(_("township"), "text"), (_("county"), "text"), (_("plan"), "text"), (_("optimum"), "text"),
                 (_("optimum's gain ({unit})").format(unit=money_words()), "num")], rows,
                note="" if len(d) <= ROWS_MAX else _("The first {n} of {total}; differing_townships.csv lists them all.").format(
                    n=ROWS_MAX, total=len(d)))]))  # fmt: skip
    sections.append(whatif_section(manifest.get("scenarios") or [], manifest.get("overrides_applied") or []))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    return Page("evaluate", _("Evaluation of a plan: {title}").format(title=_title(resolved, name)),
                _("{folder}: {file} against every limit").format(folder=folder.name, file=plan_file.name), sections,
                footer(manifest))  # fmt: skip


# --------------------------------------------------------------------------- compare


def _is_compare(folder: Path) -> bool:
    return (folder / "comparison.json").is_file()


def _find_run(recorded: str, folder: Path, instance: str, run_id: str) -> Path | None:
    """A compared run's folder: as recorded, else beside this comparison (results/<instance>/<run id>)."""
    for cand in (Path(recorded), folder.parent.parent / instance / run_id):
        if (cand / "allocation.csv").is_file():
            return cand
    return None


def _run_line(label: str, r: dict[str, Any]) -> str:
    what = ", ".join(r.get("scenarios") or []) or (
        ngettext("{n} value changed", "{n} values changed", len(r.get("overrides_applied") or [])).format(
            n=len(r.get("overrides_applied") or [])) if r.get("overrides_applied") else _("as written"))  # fmt: skip
    _level, sentence = solve_sentence(str(r.get("status")), r.get("objective_yuan"), r.get("bound_yuan"), r.get("gap"),
                                      r.get("method"))  # fmt: skip
    return _("{label}: run {run} ({what}). {sentence}").format(label=label, run=r.get("run_id"), what=what, sentence=sentence)


@report_kind("compare", _is_compare)
def compare_page(folder: Path) -> Page:
    """Run B against run A: totals, the map of every township with the changed ones outlined, limits."""
    c = read_json(folder / "comparison.json")
    a, b = c.get("run_a") or {}, c.get("run_b") or {}
    name = str(a.get("instance") or "")
    head: list[Block] = [text_block(_run_line("A", a), _run_line("B", b))]
    for w in c.get("warnings") or []:
        head.append(callout("warn", str(w)))
    changed = int(c.get("townships_changed") or 0)
    moves = ", ".join(f"{k} ×{v}" for k, v in (c.get("transitions") or {}).items())
    head.append(callout("info", ngettext("{n} of {total} townships changed industry{moves}.",
                                         "{n} of {total} townships changed industry{moves}.", changed).format(
        n=changed, total=c.get("townships_compared"), moves=f" ({moves})" if moves else "")))  # fmt: skip
    rows = []
    for t in c.get("totals") or []:
        unit = str(t.get("unit") or "")
        rows.append((_part_label(str(t.get("figure")), str(t.get("label"))), _unit_words(unit), _amount(t.get("a"), unit),
                     _amount(t.get("b"), unit), _amount(t.get("change"), unit, sign=True),
                     "—" if missing(t.get("change_pct")) else f"{t['change_pct']:+.1f}%"))  # fmt: skip
    head.append(table_block([("", "text"), (_("unit"), "text"), ("A", "num"), ("B", "num"), (_("B − A"), "num"),
                             (_("change %"), "num")], rows))  # fmt: skip
    sections = [Section("summary", _("What changed"), head)]

    run_a = _find_run(str(a.get("path") or ""), folder, name, str(a.get("run_id") or ""))
    run_b = _find_run(str(b.get("path") or ""), folder, str(b.get("instance") or name), str(b.get("run_id") or ""))
    resolved = resolved_instance(run_b) if run_b is not None else {}
    if run_a is not None and run_b is not None:
        alloc_a, alloc_b = read_csv(run_a / "allocation.csv"), read_csv(run_b / "allocation.csv")
        was = dict(zip(alloc_a["township_id"], alloc_a["industry"]))
        labels = {**industry_labels(alloc_a), **industry_labels(alloc_b)}
        moved = np.array([was.get(t) != i for t, i in zip(alloc_b["township_id"], alloc_b["industry"])])
        shapes = township_shapes(run_a, "allocation.gpkg", "allocation", resolved_instance(run_a))

        def extra(row: Any) -> str:
            before = was.get(row.township_id, "")
            if before == row.industry:
                return _("unchanged")
            return _("was {industry} in A").format(industry=labels.get(before, before))

        sections.append(Section("map", _("Map of run B, changed townships outlined"), [industry_map(
            shapes, alloc_b, _("Every township coloured by its industry in B; outlined: changed from A."),
            emphasis=moved, emphasis_label=_("changed from A"), extra=extra)]))  # fmt: skip
    else:
        sections.append(Section("map", _("Map"), [callout("info", _(
            "The two runs were not found beside this comparison, so there is no map; comparison.gpkg maps the changed "
            "townships."))]))  # fmt: skip
    ct_path = folder / "changed_townships.csv"
    if ct_path.is_file():
        ct = read_csv(ct_path)
        if not ct.empty:
            shown = ct.head(ROWS_MAX)
            rows = [(f"{r.name} ({r.township_id})", r.county, f"{r.industry_a} → {r.industry_b}",
                     mio(r.delta_gep_total_yuan, sign=True), mio(r.delta_farmer_income_yuan, sign=True),
                     num(r.delta_water_use_m3 / 1e3, 0, sign=True)) for r in shown.itertuples(index=False)]  # fmt: skip
            sections.append(Section("townships", _("Townships that changed industry"), [table_block(
                [(_("township"), "text"), (_("county"), "text"), ("A → B", "text"), (_("GEP change"), "num"),
                 (_("income change"), "num"), (_("water change (thousand m³)"), "num")], rows,
                caption=_("Money in {unit}.").format(unit=money_words()),
                note="" if len(ct) <= ROWS_MAX else _("The first {n} of {total}; changed_townships.csv lists them all.").format(
                    n=ROWS_MAX, total=len(ct)))]))  # fmt: skip
    limits = c.get("constraint_changes") or []
    names = {}
    if run_b is not None:
        alloc_b = read_csv(run_b / "allocation.csv")
        names = dict(zip(alloc_b["township_id"], alloc_b["name"]))
    markets = market_units(resolved, None)
    inds = industry_names(resolved)
    if limits:
        rows = []
        for r in limits:
            row_b = {**r, "lhs": r.get("lhs_b"), "rhs": r.get("rhs_b"), "used_share": r.get("used_share_b"),
                     "binding": r.get("binding_b")}  # fmt: skip
            if missing(row_b["lhs"]) or missing(row_b["rhs"]):
                row_b = {**r, "lhs": r.get("lhs_a"), "rhs": r.get("rhs_a"), "used_share": r.get("used_share_a")}
            rows.append((limit_sentence(row_b, names, markets, inds), str(r.get("change")),
                         pct(r.get("used_share_a")), pct(r.get("used_share_b"))))  # fmt: skip
        sections.append(Section("limits", _("Limits that changed status"), [table_block(
            [(_("limit (in B)"), "wrap"), (_("change"), "text"), (_("A used"), "num"), (_("B used"), "num")], rows)]))
    else:
        sections.append(Section("limits", _("Limits that changed status"), [text_block(
            _("No limit changed between binding, nearly binding and room left."))]))  # fmt: skip
    sections.append(whatif_section(a.get("scenarios") or [], a.get("overrides_applied") or [], "what-ifs-a",
                                   _("What-ifs of run A")))
    sections.append(whatif_section(b.get("scenarios") or [], b.get("overrides_applied") or [], "what-ifs-b",
                                   _("What-ifs of run B")))
    return Page("compare", _("Comparison: {title}").format(title=_title(resolved, name)),
                _("Run B ({b}) against run A ({a}); every change is B − A.").format(a=a.get("run_id"), b=b.get("run_id")),
                sections, footer(c))  # fmt: skip


# --------------------------------------------------------------------------- sweep


def _is_sweep(folder: Path) -> bool:
    return (folder / "sweep.json").is_file()


#: At most this many small maps in a sweep report (evenly spaced points beyond it).
GALLERY_MAX = 12


@report_kind("sweep", _is_sweep)
def sweep_page(folder: Path) -> Page:
    """A what-if sweep: headline figures against the varied values, a small map per point, links to each run."""
    from optimizer.outputs.figures import sweep_lines

    spec = read_json(folder / "sweep.json")
    varies = [v for v in (spec.get("spec") or {}).get("varies") or [] if isinstance(v, dict)]
    paths = [str(v.get("path")) for v in varies]
    summary = folder / "sweep_summary.csv"
    table = read_csv(summary) if summary.is_file() else pd.DataFrame()
    for p in paths:
        if p in table:
            table[p] = table[p].astype(str)
    points = spec.get("points") or []
    instance = Path(str((spec.get("spec") or {}).get("instance") or ""))
    first_run = next((folder / "points" / str(p["id"]) for p in points
                      if (folder / "points" / str(p["id"]) / "summary.json").is_file()), None)  # fmt: skip
    resolved = resolved_instance(first_run) if first_run is not None else {}
    name = str(resolved.get("name") or instance.stem)

    head: list[Block] = [text_block(ngettext("{n} point: every combination of", "{n} points: every combination of",
                                             len(points)).format(n=len(points)))]  # fmt: skip
    head.append(Block("list", {"items": [f"{v.get('path')} = {', '.join(map(str, v.get('values') or []))}" for v in varies]}))
    if table.empty:
        head.append(callout("warn", _("The sweep has no summary yet (sweep_summary.csv): it was interrupted; finish it "
                                      "with optimizer sweep --resume.")))  # fmt: skip
        return Page("sweep", _("What-if sweep: {title}").format(title=_title(resolved, name)), folder.name,
                    [Section("points", _("Points"), head)], footer({}))  # fmt: skip
    status = table["status"].astype(str)
    n_ok = int((~status.isin(["failed", "infeasible"])).sum())
    head.append(text_block(_("{ok} with a plan, {infeasible} infeasible, {failed} failed.").format(
        ok=n_ok, infeasible=int((status == "infeasible").sum()), failed=int((status == "failed").sum()))))  # fmt: skip
    ok = table[~status.isin(["failed", "infeasible"])]
    if not ok.empty and paths:
        others = paths[1:]
        groups = [", ".join(f"{p.split('.')[-1]}={r[p]}" for p in others) for _i, r in ok.iterrows()] if others else None
        x_label = paths[0] if len(paths[0]) <= 28 else paths[0].split(".")[-1]
        if str(ok[paths[0]].iloc[0]).endswith("*"):
            x_label = _("{value} (factor)").format(value=x_label)
        svg = sweep_lines(ok[paths[0]].tolist(), x_label,
                          [(_("Objective"), ok["objective_yuan"] / money_factor()),
                           (_("GEP"), ok["gep_total_yuan"] / money_factor()),
                           (_("Farmers' income"), ok["farmer_income_yuan"] / money_factor())],
                          groups, money_words(), "sweep")  # fmt: skip
        head.append(figure_block(svg, _("Headline figures against the first varied value.")))
    rows = []
    for _i, r in table.iterrows():
        pid = str(r["point"])
        link = folder / "points" / pid / "report.html"
        rows.append([pid, *[str(r.get(p, "")) for p in paths], str(r["status"]), mio(r.get("objective_yuan")),
                     mio(r.get("gep_total_yuan")), mio(r.get("farmer_income_yuan")),
                     num(r.get("townships_changed_from_first")),
                     f"points/{pid}/report.html" if link.is_file() else ""])  # fmt: skip
    head.append(Block("points", {"columns": [_("point"), *paths, _("status"), _("objective"), _("GEP"),
                                             _("farmers' income"), _("townships changed from the first point")],
                                 "rows": rows, "link_text": _("report")}))  # fmt: skip
    sections = [Section("points", _("Points"), head)]

    # Small multiples: the plan of (up to GALLERY_MAX evenly spaced) points.
    ok_ids = [str(p) for p in ok["point"]]
    if len(ok_ids) > GALLERY_MAX:
        ok_ids = [ok_ids[int(round(k))] for k in np.linspace(0, len(ok_ids) - 1, GALLERY_MAX)]
    items = []
    legend: dict[str, str] = {}
    for k, pid in enumerate(ok_ids):
        run = folder / "points" / pid
        if not (run / "allocation.csv").is_file():
            continue
        alloc = read_csv(run / "allocation.csv")
        shapes = township_shapes(run, "allocation.gpkg", "allocation", resolved_instance(run))
        block = industry_map(shapes, alloc, "", prefix=f"point{k}", compact=True)
        if block.kind != "figure":
            break  # no geometry: no gallery
        from optimizer.outputs.figures import industry_colours

        labels = industry_labels(alloc)
        for ind, colour in industry_colours(alloc["industry"].unique().tolist()).items():
            legend.setdefault(labels.get(ind, ind), colour)
        values = ", ".join(str(table.loc[table["point"] == pid, p].iloc[0]) for p in paths)
        items.append({"svg": block.data["svg"], "caption": f"{pid}: {values}",
                      "href": f"points/{pid}/report.html" if (run / "report.html").is_file() else ""})  # fmt: skip
    if items:
        note = "" if len(ok) <= GALLERY_MAX else _("{n} of {total} points, evenly spaced.").format(n=len(items), total=len(ok))
        sections.append(Section("maps", _("The plan at each point"), [
            Block("swatches", {"items": sorted(legend.items())}), Block("gallery", {"items": items, "note": note})]))
    failed = table[status == "failed"]
    if not failed.empty:
        sections.append(Section("failed", _("Failed points"), [Block("list", {"items": [
            f"{r['point']}: {r.get('error', '')}" for _i, r in failed.iterrows()]}), text_block(
            _("Fix the cause, then finish the sweep with: optimizer sweep --resume {folder}").format(folder=folder))]))  # fmt: skip
    sp = spec.get("spec") or {}
    sections.append(whatif_section(sp.get("scenarios") or [], [{"path": s, "old": None, "new": s.split("=", 1)[-1],
                                                                 "source": "--set"} for s in sp.get("sets") or []]))  # fmt: skip
    return Page("sweep", _("What-if sweep: {title}").format(title=_title(resolved, name)),
                _("{folder} of instance {name}").format(folder=folder.name, name=name), sections, footer({}))


# --------------------------------------------------------------------------- frontier


def _is_frontier(folder: Path) -> bool:
    return (folder / "frontier.json").is_file() and (folder / "frontier.csv").is_file()


def _text(x: Any) -> str:
    return "" if missing(x) else str(x)


def _units_word(table: pd.DataFrame) -> str:
    """"villages" for an analysis of a village instance (its per-product columns say so), else "townships"."""
    return _("villages") if any(str(c).startswith("villages_") for c in table.columns) else _("townships")


@report_kind("frontier", _is_frontier)
def frontier_page(folder: Path) -> Page:
    """The GEP–income frontier: the chart with its band, the points, the knee's plan on the map,
    the payoff table."""
    from optimizer.outputs.figures import frontier_figure, svg_of

    summary = read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {}
    manifest = manifest_of(folder)
    resolved = resolved_instance(folder)
    name = str(summary.get("instance") or resolved.get("name") or folder.parent.name)
    table = read_csv(folder / "frontier.csv")
    for col in ("duplicate_of", "dominated_by", "point", "kind", "status"):
        if col in table:
            table[col] = table[col].map(_text)
    knee = summary.get("knee") or None
    weighted = summary.get("weighted_optimum") or {}
    categories = [str(c) for c in summary.get("gep_categories") or []]
    unit = money_words()

    head: list[Block] = []
    n_ok = int(table["status"].isin(["optimal", "time_limit_feasible", "stopped_feasible", "interrupted_feasible"]).sum())
    head.append(text_block(
        _("{n} points from the plan with the most GEP to the plan with the most farmers' income; every point is a "
          "full solve with its own bound, and its plan was checked independently.").format(n=len(table)),
        _("GEP here counts: {cats}.").format(cats=", ".join(categories)) if categories else ""))  # fmt: skip
    if summary.get("all_checked_ok") is False:
        head.append(callout("bad", _("The independent checker disagrees with at least one point's plan (column check_ok).")))
    elif summary.get("all_checked_ok"):
        head.append(callout("ok", _("The independent checker agrees with every point's plan.")))
    if n_ok:
        fig = frontier_figure(table, knee, weighted, categories, "", (money_factor(), unit))
        head.append(figure_block(svg_of(fig, "frontier"), _(
            "Farmers' income against GEP. The exact frontier lies in the shaded band: the computed plans below it, "
            "the proven bounds above it.")))  # fmt: skip
    cost = pd.to_numeric(table.get("income_cost_per_gep_yuan"), errors="coerce").dropna() if \
        "income_cost_per_gep_yuan" in table else pd.Series(dtype=float)
    items = []
    if knee:
        k = table[table["point"] == knee]
        if len(k):
            items.append((_("knee"), _("{point}: income {income}, GEP {gep} {unit}").format(
                point=knee, income=mio(k["farmer_income_yuan"].iloc[0]), gep=mio(k["gep_yuan"].iloc[0]), unit=unit)))
    if weighted.get("farmer_income_yuan") is not None:
        items.append((_("weighted optimum of the instance"), _("income {income}, GEP {gep} {unit}").format(
            income=mio(weighted["farmer_income_yuan"]), gep=mio(weighted["gep_yuan"]), unit=unit)))
    if len(cost):
        items.append((_("income given up per yuan of GEP"), _("{low} to {high} yuan, depending on where on the "
                                                              "frontier").format(low=f"{cost.min():.2f}", high=f"{cost.max():.2f}")))
    if not missing(summary.get("largest_gap")):
        items.append((_("largest gap of a point"), f"{float(summary['largest_gap']):.2e}"))
    if items:
        head.append(facts(items))
    sections = [Section("frontier", _("The trade-off"), head)]

    rows = []
    for r in table.itertuples(index=False):
        mark = " ★" if knee and r.point == knee else ""
        note = _("same plan as {point}").format(point=r.duplicate_of) if r.duplicate_of else (
            _("dominated by {point}").format(point=r.dominated_by) if r.dominated_by else "")
        rows.append((f"{r.point}{mark}", _(str(r.kind)) if r.kind else "", mio(r.farmer_income_yuan), mio(r.gep_yuan),
                     "—" if missing(r.gap) else f"{float(r.gap):.1e}", mio(getattr(r, "band_yuan", None)),
                     "—" if missing(getattr(r, "income_cost_per_gep_yuan", None)) else f"{float(r.income_cost_per_gep_yuan):.2f}",
                     num(getattr(r, "townships_changed_from_previous", None)), str(r.status), note))  # fmt: skip
    sections.append(Section("points", _("Points"), [table_block(
        [(_("point"), "text"), (_("kind"), "text"), (_("farmers' income ({unit})").format(unit=unit), "num"),
         (_("GEP ({unit})").format(unit=unit), "num"), (_("gap"), "num"), (_("band ({unit})").format(unit=unit), "num"),
         (_("income per yuan of GEP"), "num"), (_("{units} changed").format(units=_units_word(table)), "num"),
         (_("status"), "text"), (_("note"), "text")], rows,
        note=_("★ the knee. Band: how far the exact frontier can lie above the point's plan (its bound minus its GEP). "
               "Every point's plan is in points/<point>/; frontier.gpkg maps the industry of every township at every "
               "point."))]))  # fmt: skip

    if knee and (folder / "points" / str(knee) / "allocation.csv").is_file():
        alloc = read_csv(folder / "points" / str(knee) / "allocation.csv")
        shapes = township_shapes(folder, "frontier.gpkg", "frontier_townships", resolved)
        sections.append(Section("knee-map", _("The knee's plan"), [_unit_map(
            shapes, alloc, _("Townships coloured by the industry of the knee's plan ({point}).").format(point=knee),
            "frontier.gpkg", prefix="knee")]))  # fmt: skip

    payoff = folder / "payoff.csv"
    if payoff.is_file():
        p = read_csv(payoff)
        stage_words = {"income_max": _("most farmers' income"), "income_max_then_gep": _("most income, then most GEP"),
                       "gep_max": _("most GEP"), "gep_max_then_income": _("most GEP, then most income"),
                       "weighted": _("the instance's weighted objective")}  # fmt: skip
        rows = [(stage_words.get(str(r.stage), str(r.stage)), mio(r.farmer_income_yuan), mio(r.gep_yuan),
                 "—" if missing(r.gap) else f"{float(r.gap):.1e}", str(r.status)) for r in p.itertuples(index=False)]
        sections.append(Section("payoff", _("Payoff table"), [table_block(
            [(_("stage"), "text"), (_("farmers' income ({unit})").format(unit=unit), "num"),
             (_("GEP ({unit})").format(unit=unit), "num"), (_("gap"), "num"), (_("status"), "text")], rows,
            note=_("The frontier's two ends and the weighted optimum; they set the range the points span."))]))  # fmt: skip
    for note in summary.get("notes") or []:
        sections[0].blocks.append(callout("warn", str(note)))
    sp = (summary.get("spec") or {})
    sections.append(whatif_section(sp.get("scenarios") or [], manifest.get("overrides_applied") or []))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    return Page("frontier", _("GEP–income frontier: {title}").format(title=_title(resolved, name)),
                _("{folder} of instance {name}").format(folder=folder.name, name=name), sections, footer(manifest))


# --------------------------------------------------------------------------- value


def _is_value(folder: Path) -> bool:
    return (folder / "values.csv").is_file() and (folder / "value.json").is_file()


def _move_text(r: dict[str, Any], d: str) -> tuple[str, str]:
    """(change of the objective, per unit of the limit) of one move, or why there is no number."""
    from optimizer.outputs.value_words import blank, per_unit_text

    status = r.get(f"{d}_status")
    dz = r.get(f"{d}_delta_objective_yuan")
    if blank(status):
        return "—", ""
    if blank(dz):
        return _(str(status)), ""
    if not r.get(f"{d}_resolved"):
        return _("below the solver's resolution (±{w})").format(w=mio(r.get(f"{d}_resolution_yuan"))), ""
    return mio(dz), f"{per_unit_text(r.get(f'{d}_value_per_unit'))} / {r.get('per')}"


@report_kind("value", _is_value)
def value_page(folder: Path) -> Page:
    """What each limit is worth: the gain of relaxing it and the cost of tightening it by one step,
    per unit of the limit, and the townships (or villages) that switch."""
    from optimizer.outputs.value_words import amount_text, blank, limit_label, per_unit_text

    summary = read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {}
    manifest = manifest_of(folder)
    base_run = folder / "resolves" / "base"
    resolved = resolved_instance(base_run) if (base_run / "instance.resolved.yaml").is_file() else {}
    name = str(summary.get("instance") or resolved.get("name") or folder.parent.name)
    values = read_csv(folder / "values.csv")
    unit = money_words()
    base = summary.get("base") or {}

    head: list[Block] = [text_block(_(
        "Each limit was moved by one step both ways and the plan solved again. The gain of relaxing a limit is what "
        "one more unit of it is worth to the objective; the cost of tightening it is what one unit less takes away. "
        "A limit that is not binding can still be worth something: a step lets other industries fit."))]  # fmt: skip
    items = []
    if base:
        items.append((_("base plan: objective"), f"{mio(base.get('plan_objective_yuan') or base.get('objective_yuan'))} {unit}"))
        items.append((_("farmers' income"), f"{mio(base.get('farmer_income_yuan'))} {unit}"))
        items.append((_("GEP in the objective"), f"{mio(base.get('gep_objective_yuan'))} {unit}"))
        if not blank(base.get("gap")):
            items.append((_("gap of the base plan"), f"{float(base['gap']):.1e}"))
    if items:
        head.append(facts(items))
    checks = [r.get(f"{d}_check_ok") for r in values.to_dict(orient="records") for d in ("relax", "tighten")]
    if any(c is False for c in checks):
        head.append(callout("bad", _("The independent checker disagrees with at least one re-solve's plan (columns *_check_ok).")))
    elif checks and all(c is True or blank(c) for c in checks):
        head.append(callout("ok", _("The independent checker agrees with every re-solve's plan.")))

    unit_word = _("villages") if "village_id" in (read_csv(folder / "value_switches.csv").columns
                                                  if (folder / "value_switches.csv").is_file() else []) else _("townships")
    rows = []
    for r in values.to_dict(orient="records"):
        floor = r.get("group") == "income_floor"
        now = _("the floors") if floor else amount_text(float(r["value"]), str(r["unit"]))
        step = r.get("relax_step")
        if not blank(step):
            now += f" ± {abs(float(step)):.0%}" if floor else " ± " + amount_text(abs(float(step)), str(r["unit"]))
        gain, gain_per = _move_text(r, "relax")
        cost, cost_per = _move_text(r, "tighten")
        used = "" if blank(r.get("used_share")) else pct(r.get("used_share"))
        if used and str(r.get("sense")) == ">=":
            used = _("{share} of the minimum").format(share=used)
        binding = _("binding") if r.get("binding") is True else used
        rows.append((str(r.get("rank", "")), limit_label(str(r["limit"]), str(r["family"])), now, binding, gain, gain_per,
                     cost, cost_per, f"{num(r.get('relax_townships_switching'))} / {num(r.get('tighten_townships_switching'))}",
                     f"{per_unit_text(r.get('lp_price_plan_fixed'))} / {per_unit_text(r.get('lp_price_relaxation'))}"))  # fmt: skip
    head.append(table_block(
        [("#", "num"), (_("limit"), "text"), (_("now ± one step"), "text"), (_("used"), "num"),
         (_("relaxed: gain ({unit})").format(unit=unit), "num"), (_("per unit"), "num"),
         (_("tightened: cost ({unit})").format(unit=unit), "num"), (_("per unit"), "num"),
         (_("{units} switching (relaxed / tightened)").format(units=unit_word), "num"),
         (_("LP price: plan fixed / split"), "num")], rows,
        note=_("Ranked by the gain of relaxing. 'Below the solver's resolution': the two solves' gaps are wider than "
               "the difference, so the number would be noise. LP prices: the dual value of the limit in the LP with "
               "the base plan's industries fixed, and in the LP relaxation; per unit, for comparison.")))  # fmt: skip
    sections = [Section("values", _("What each limit is worth"), head)]

    switches = folder / "value_switches.csv"
    if switches.is_file():
        sw = read_csv(switches)
        if not sw.empty:
            family = dict(zip(values["limit"].astype(str), values["family"].astype(str)))
            items = []
            for (lim, d), g in sw.groupby(["limit", "direction"], sort=False):
                label = limit_label(str(lim), family.get(str(lim), str(lim)))
                moves = ", ".join(f"{r['name']} {r['from']} → {r['to']}" for _i, r in g.head(12).iterrows())
                more = _(" and {n} more").format(n=len(g) - 12) if len(g) > 12 else ""
                items.append(f"{label} ({_(str(d))}): {moves}{more}")
            sections.append(Section("switches", _("Where the plan changes when a limit moves"), [
                Block("list", {"items": items}),
                text_block(_("value_switches.csv lists every one; each re-solve is a run folder in resolves/."))]))
    for note in summary.get("notes") or []:
        sections[0].blocks.append(callout("warn", str(note)))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    return Page("value", _("What each limit is worth: {title}").format(title=_title(resolved, name)),
                _("{folder} of instance {name}").format(folder=folder.name, name=name), sections, footer(manifest))


def _unit_map(shapes: Any, table: pd.DataFrame, caption: str, gpkg: str, **kw: Any) -> Block:
    """The map of a per-township or per-village table. A table of villages is drawn on the
    village polygons when the GeoPackage holds them (as a village run's report does), else
    the report points to the GeoPackage."""
    if "village_id" in table.columns:
        ids = table["village_id"].astype(str)
        if shapes is None or not ids.isin(shapes.geometry.index).all():
            return callout("info", _("The map of the villages is in {gpkg}: open it in QGIS.").format(gpkg=gpkg))
        table = table.assign(township_id=ids)
    return industry_map(shapes, table, caption, **kw)


# --------------------------------------------------------------------------- robust


def _is_robust(folder: Path) -> bool:
    return (folder / "robust.json").is_file() and (folder / "stability.csv").is_file()


@report_kind("robust", _is_robust)
def robust_page(folder: Path) -> Page:
    """Plans that hold when prices and yields move: the nominal and the robust plan over the
    samples, the limits at risk, how stable each township's industry is, where the two differ."""
    summary = read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {}
    manifest = manifest_of(folder)
    resolved = resolved_instance(folder / "nominal") if (folder / "nominal").is_dir() else {}
    name = str(summary.get("instance") or resolved.get("name") or folder.parent.name)
    unit = money_words()
    stability = read_csv(folder / "stability.csv")
    units = _("villages") if "village_id" in stability.columns else _("townships")
    head: list[Block] = [text_block(_(
        "The instance's uncertain figures (prices, yields, costs) were drawn {n} times. The nominal plan is the "
        "optimum at the instance's own figures; the robust plan is chosen against all the samples at once.").format(
        n=summary.get("samples", "?")))]  # fmt: skip
    items = [(_("samples"), str(summary.get("samples", "")))]
    nominal, robust = summary.get("nominal") or {}, summary.get("robust_plan") or {}
    if not missing(nominal.get("objective_yuan")):
        items.append((_("nominal plan: objective at the instance's figures"), f"{mio(nominal['objective_yuan'])} {unit}"))
    if not missing(robust.get("sample_objective_yuan")):
        items.append((_("robust plan: objective over the samples"), f"{mio(robust['sample_objective_yuan'])} {unit}"))
    if summary.get("townships"):
        items.append((_("{units} whose most frequent industry is always or mostly the same").format(units=units),
                      f"{summary.get('stable_townships', 0)} / {summary['townships']}"))
        items.append((_("{units} where the robust plan differs from the nominal one").format(units=units),
                      str(summary.get("townships_robust_differs", 0))))
    head.append(facts(items))
    comparison = folder / "comparison.csv"
    if comparison.is_file():
        c = read_csv(comparison)
        rows = []
        for r in c.itertuples(index=False):
            money = str(r.unit).startswith("yuan")
            fmt = (lambda x, s=False: mio(x, sign=s)) if money else (lambda x, s=False: pct(x) if not s else
                                                                       ("+" if float(x) > 0 else "") + pct(x))
            shown = unit if money else "%" if str(r.unit) == "share" else _(str(r.unit))
            rows.append((str(r.description), shown, fmt(r.nominal), fmt(r.robust),
                         fmt(r.robust_minus_nominal, True)))  # fmt: skip
        head.append(table_block([("", "text"), (_("unit"), "text"), (_("nominal plan"), "num"), (_("robust plan"), "num"),
                                 (_("robust − nominal"), "num")], rows,
                                note=_("Each plan evaluated in every sample: mean, 5th percentile, worst sample; "
                                       "regret: what the sample's own optimum would have earned more.")))  # fmt: skip
    sections = [Section("plans", _("Nominal and robust plan over the samples"), head)]

    risk = folder / "limit_risk.csv"
    if risk.is_file():
        lr = read_csv(risk)
        if not lr.empty:
            rows = [(_("nominal plan") if r.plan == "nominal" else _("robust plan") if r.plan == "robust" else str(r.plan),
                     str(r.worst_message), pct(r.probability), num(r.samples_broken)) for r in lr.itertuples(index=False)]
            sections.append(Section("risk", _("Limits at risk"), [table_block(
                [(_("plan"), "text"), (_("worst sample"), "text"), (_("probability broken"), "num"),
                 (_("samples"), "num")], rows)]))  # fmt: skip
        else:
            sections.append(Section("risk", _("Limits at risk"), [callout("ok", _("Neither plan breaks a limit in any sample."))]))

    shapes = township_shapes(folder, "stability.gpkg", "stability", resolved)
    labels = industry_names(resolved)
    differs = stability["robust_differs_from_nominal"].astype(str).str.lower().eq("true").to_numpy() \
        if "robust_differs_from_nominal" in stability else None
    sections.append(Section("stability", _("How stable each industry is"), [_unit_map(
        shapes, stability, _("Coloured by the robust plan's industry; outlined: it differs from the nominal plan."),
        "stability.gpkg", industry_col="robust_industry", emphasis=differs,
        emphasis_label=_("robust differs from nominal"), labels=labels, prefix="stability")]))  # fmt: skip
    diff = folder / "differing_townships.csv"
    if diff.is_file():
        d = read_csv(diff)
        if not d.empty:
            key = "village_id" if "village_id" in d.columns else "township_id"
            rows = [(f"{r.name} ({getattr(r, key)})", str(r.county),
                     f"{short_label(labels.get(str(r.nominal_industry), str(r.nominal_industry)))} ({pct(r.share_nominal_industry)})",
                     f"{short_label(labels.get(str(r.robust_industry), str(r.robust_industry)))} ({pct(r.share_robust_industry)})")
                    for r in d.head(ROWS_MAX).itertuples(index=False)]  # fmt: skip
            sections[-1].blocks.append(table_block(
                [(units, "text"), (_("county"), "text"), (_("nominal plan (share of samples)"), "text"),
                 (_("robust plan (share of samples)"), "text")], rows,
                note=_("Share of samples: how often each industry is the sample's own optimum there.")))  # fmt: skip
    for note in summary.get("notes") or []:
        sections[0].blocks.append(callout("warn", str(note)))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    return Page("robust", _("Plans that hold when figures move: {title}").format(title=_title(resolved, name)),
                _("{folder} of instance {name}").format(folder=folder.name, name=name), sections, footer(manifest))


# --------------------------------------------------------------------------- alternatives


def _is_alternatives(folder: Path) -> bool:
    return (folder / "alternatives.json").is_file() and (folder / "flexibility.csv").is_file()


@report_kind("alternatives", _is_alternatives)
def alternatives_page(folder: Path) -> Page:
    """Near-optimal plans that differ: each plan's figures and what it gives up, and which
    townships are forced to one industry in all of them and which are open."""
    spec = read_json(folder / "alternatives.json")
    manifest = manifest_of(folder)
    resolved = resolved_instance(folder / "optimum") if (folder / "optimum").is_dir() else {}
    name = str(spec.get("instance") or resolved.get("name") or folder.parent.name)
    unit = money_words()
    plans = read_csv(folder / "alternatives.csv")
    flex = read_csv(folder / "flexibility.csv")
    units = _("villages") if "village_id" in flex.columns else _("townships")
    within = spec.get("within")
    head: list[Block] = [text_block(_(
        "Plans within {within} of the optimum's objective that differ from the optimum and from each other: "
        "choices a meeting can weigh on other grounds (land tenure, cooperatives, what is already planted).").format(
        within=pct(within) if not missing(within) else "?"))]  # fmt: skip
    items = [(_("plans found"), str(spec.get("alternatives_found", len(plans) - 1))),
             (_("{units} forced: the same industry in every plan").format(units=units), str(spec.get("forced_townships", ""))),
             (_("{units} open").format(units=units), str(spec.get("open_townships", "")))]
    head.append(facts(items))
    rows = []
    changed = "villages_changed_from_optimum" if "villages_changed_from_optimum" in plans else "townships_changed_from_optimum"
    for r in plans.to_dict(orient="records"):
        rows.append((str(r["plan"]), mio(r.get("objective_yuan")), "—" if missing(r.get("loss_share")) else pct(r["loss_share"]),
                     mio(r.get("farmer_income_yuan")), mio(r.get("gep_total_yuan")), num(r.get(changed)),
                     num(r.get("hectares_changed_from_optimum")), str(r.get("status", ""))))  # fmt: skip
    head.append(table_block(
        [(_("plan"), "text"), (_("objective ({unit})").format(unit=unit), "num"), (_("loss"), "num"),
         (_("farmers' income ({unit})").format(unit=unit), "num"), (_("GEP total ({unit})").format(unit=unit), "num"),
         (_("{units} changed from the optimum").format(units=units), "num"), (_("hectares changed"), "num"),
         (_("status"), "text")], rows,
        note=_("Every plan's folder (optimum/, alt1/ …) is a run folder with its map and workbook; each was "
               "checked independently.")))  # fmt: skip
    sections = [Section("plans", _("The plans"), head)]

    shapes = township_shapes(folder, "alternatives.gpkg", "flexibility", resolved)
    labels = dict(industry_names(resolved))
    labels["open"] = _("open: differs between plans")
    sections.append(Section("flexibility", _("Forced and open"), [_unit_map(
        shapes, flex, _("Forced: coloured by the one industry every plan gives it. Open: the plans differ there."),
        "alternatives.gpkg", industry_col="flexibility_class", labels=labels, prefix="flex")]))  # fmt: skip
    open_rows = flex[flex["flexibility_class"].astype(str) == "open"] if "flexibility_class" in flex else flex.iloc[:0]
    if not open_rows.empty:
        key = "village_id" if "village_id" in open_rows.columns else "township_id"
        rows = [(f"{r.name} ({getattr(r, key)})", str(r.county), str(r.industries))
                for r in open_rows.head(ROWS_MAX).itertuples(index=False)]
        sections[-1].blocks.append(table_block([(units, "text"), (_("county"), "text"),
                                                (_("industries across the plans"), "text")], rows))
    for note in spec.get("notes") or []:
        sections[0].blocks.append(callout("warn", str(note)))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    return Page("alternatives", _("Near-optimal alternatives: {title}").format(title=_title(resolved, name)),
                _("{folder} of instance {name}").format(folder=folder.name, name=name), sections, footer(manifest))
