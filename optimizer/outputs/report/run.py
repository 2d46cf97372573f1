"""The report of one solved run folder (summary.json, allocation.csv, allocation.gpkg …)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.i18n import N_, _, ngettext

#: The phases of a run (summary.json's timings_s) in words.
PHASE_WORDS = {
    "read": N_("reading"), "validate": N_("validation"), "build": N_("model building"), "start": N_("start plan"),
    "write_model": N_("model file"), "transfer": N_("transfer to HiGHS"), "solve": N_("solving"),
    "polish": N_("HiGHS from the decomposition's plan"), "runner_up": N_("runner-up plan"),
    "write": N_("writing"), "check": N_("checking"), "report": N_("report"), "total": N_("total"),
}  # fmt: skip
from optimizer.outputs.report.page import (
    Block, Page, Section, callout, checker_block, county_chart, county_table, facts, figure_block,
    footer, industry_labels, industry_map, industry_names, limit_rows, manifest_of, market_units, mio, missing,
    ROWS_MAX, money_extra, money_factor, money_of, money_text, money_words, num, objective_sentence, pct, read_csv, read_json, report_kind, resolved_instance, small_pct,
    short_label, solve_sentence, sources_of, sources_section, table_block, text_block, township_chart,
    township_shapes, whatif_section,
)


# --------------------------------------------------------------------------- the run report


def _is_run(folder: Path) -> bool:
    return (folder / "summary.json").is_file() and (folder / "allocation.csv").is_file()


@report_kind("run", _is_run)
def run_page(folder: Path) -> Page:
    """The report of one solved run."""
    s = read_json(folder / "summary.json")
    alloc = read_csv(folder / "allocation.csv")
    resolved = resolved_instance(folder)
    manifest = manifest_of(folder)
    tot = s.get("totals") or {}
    name = str(s.get("instance") or resolved.get("name") or folder.name)
    title = str(resolved.get("title") or name)
    labels = industry_labels(alloc)
    industries = {**industry_names(resolved), **labels}
    villages = "village_id" in alloc.columns  # a village instance: villages are the planning units
    towns = read_csv(folder / "township_allocation.csv") if villages and (folder / "township_allocation.csv").exists() \
        else None

    # 1. The result in a few sentences and figures.
    level, sentence = solve_sentence(str(s.get("status")), s.get("objective_yuan"), s.get("bound_yuan"), s.get("gap"),
                                     (s.get("method") or {}).get("used"))  # fmt: skip
    counts = alloc["industry"].value_counts()
    split = ", ".join(f"{short_label(labels.get(i, i))} {n}" for i, n in counts.items())
    if villages:
        led = tot.get("townships_by_leading_industry") or {}
        lead_split = ", ".join(f"{short_label(labels.get(i, i)) if i != '(none)' else _('none')} {n}"
                               for i, n in led.items())  # fmt: skip
        counted = (ngettext("{n} village: {split}.", "{n} villages: {split}.", len(alloc)).format(n=len(alloc), split=split)
                   + " " + _("Townships by leading industry: {split}.").format(split=lead_split))  # fmt: skip
    else:
        counted = ngettext("{n} township: {split}.", "{n} townships: {split}.", len(alloc)).format(n=len(alloc), split=split)
    result = [
        callout(level, sentence),
        text_block(objective_sentence(s.get("double_count"), s.get("weights") or {}), counted),
    ]  # fmt: skip
    checker = checker_block(s.get("check_ok"))
    if checker:
        result.append(checker)
    result.extend(runner_up_blocks(s.get("runner_up"), industries))
    base_income, income = tot.get("baseline_farmer_income_yuan"), tot.get("farmer_income_after_price_steps_yuan")
    m_inc, u_inc = money_of(income, base_income)
    m_gep, u_gep = money_of(tot.get("gep_total_yuan"), tot.get("baseline_gep_total_yuan"))
    result.append(facts([
        (_("Objective"), money_text(s.get("objective_yuan"))),
        (_("Farmers' income"), _("{value} {unit} (baseline {baseline})").format(
            value=m_inc(income), unit=u_inc, baseline=m_inc(base_income))),
        (_("GEP"), _("{value} {unit} (baseline {baseline})").format(
            value=m_gep(tot.get("gep_total_yuan")), unit=u_gep, baseline=m_gep(tot.get("baseline_gep_total_yuan")))),
        (_("Water use"), _("{value} million m³/yr").format(value=num((tot.get("water_use_m3") or 0) / 1e6, 2))),
        (_("PV capacity"), _("{value} MWp").format(value=num(tot.get("pv_capacity_mw"), 1))),
        (_("Investment"), money_text(tot.get("investment_yuan"), per_year=False)),
    ]))  # fmt: skip
    sections = [Section("result", _("Result"), result)]

    # 2. The map.
    shapes = township_shapes(folder, "allocation.gpkg", "allocation", resolved)
    locked = (alloc["locked"] == "must").to_numpy() if "locked" in alloc else None
    map_alloc = alloc.assign(township_id=alloc["village_id"]) if villages else alloc
    caption = (_("Villages coloured by the product the plan chooses; hover a village for its figures.") if villages
               else _("Townships coloured by the industry the plan chooses; hover a township for its figures."))
    sections.append(Section("map", _("Map of the plan"), [industry_map(
        shapes, map_alloc, caption, emphasis=locked, emphasis_label=_("locked by the instance"),
        extra=money_extra)]))  # fmt: skip

    # 3. Plan against the baseline.
    sections.append(Section("baseline", _("The plan against the baseline"), _baseline_blocks(tot)))

    # 4. By township (and village) and county.
    if villages and towns is not None:
        led_towns = towns[towns["villages"] > 0].assign(
            industry=lambda d: d["leading_industry"].astype(object).where(d["leading_industry"].notna(), ""))
        sections.append(Section("townships", _("By township (leading industry)"), [
            township_chart(led_towns, "gep_total_yuan", "baseline_gep_total_yuan", "farmer_income_yuan",
                           "baseline_farmer_income_yuan", "industry", "townships", labels),
            _township_table(led_towns, labels)]))  # fmt: skip
        sections.append(Section("villages", _("By village"), [
            township_chart(map_alloc, "gep_total_yuan", "baseline_gep_total_yuan", "farmer_income_yuan",
                           "baseline_farmer_income_yuan", "industry", "villages", labels),
            _township_table(map_alloc, labels)]))  # fmt: skip
    else:
        sections.append(Section("townships", _("By township"), [
            township_chart(alloc, "gep_total_yuan", "baseline_gep_total_yuan", "farmer_income_yuan",
                            "baseline_farmer_income_yuan", "industry", "townships", labels),
            _township_table(alloc, labels)]))  # fmt: skip
    counties = pd.DataFrame(s.get("per_county") or [])
    if counties.empty:
        counties = alloc.groupby("county", as_index=False)[
            ["gep_total_yuan", "farmer_income_yuan", "baseline_gep_total_yuan", "baseline_farmer_income_yuan",
             "water_use_m3", "pv_capacity_mw", "investment_yuan"]].sum()  # fmt: skip
        counties["townships"] = alloc.groupby("county").size().to_numpy()
    blocks = [b for b in (county_chart(counties, "counties"), county_table(counties, labels)) if b is not None]
    sections.append(Section("counties", _("By county"), blocks))

    # 5. Limits.
    if villages:
        names = dict(zip(alloc["village_id"], alloc["name"].astype(str)))
        names.update(zip(alloc["township_id"], alloc["township_name"].astype(str)))
    else:
        names = dict(zip(alloc["township_id"], alloc["name"].astype(str)))
    rows = limit_rows(s.get("constraints") or [], names, market_units(resolved, alloc), industries)
    limit_blocks: list[Block] = [Block("limits", {"rows": rows})] if rows else [text_block(_("The instance sets no shared limits."))]
    limit_blocks.append(text_block(_("Per-township limits (water, income floors) are listed only where they bind.")))
    steps = s.get("price_steps_reached") or []
    if steps:
        limit_blocks.append(text_block(_("Falling prices reached: {steps}; revenue lost to them: {loss}.").format(
            steps="; ".join(map(str, steps)), loss=money_text(tot.get("market_revenue_loss_yuan")))))  # fmt: skip
    n_locked = int(locked.sum()) if locked is not None else 0
    if n_locked:
        limit_blocks.append(text_block(ngettext("{n} township is locked to an industry by the instance.",
                                           "{n} townships are locked to an industry by the instance.", n_locked).format(n=n_locked)))
    sections.append(Section("limits", _("Limits and how much of each is used"), limit_blocks))

    # 6. What-ifs, sources, files.
    sections.append(whatif_section(s.get("scenarios") or [], s.get("overrides_applied") or []))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    sections.append(_files_section(folder, s, manifest))
    subtitle = _("Run {run_id} of instance {name}").format(run_id=s.get("run_id") or folder.name, name=name)
    return Page("run", _("Plan: {title}").format(title=title), subtitle, sections, footer(manifest))


def runner_up_blocks(ru: Any, industries: dict[str, str]) -> list[Block]:
    """The best other plan (exactly solved instances): how far behind, where it differs, a near tie."""
    if not isinstance(ru, dict):
        return []
    if not ru.get("exists", True):
        return [text_block(_("No other plan meets every limit: this plan is the only one."))]
    towns = ru.get("townships") or ru.get("villages") or []
    where = ", ".join(_("{name} ({optimum} → {other})").format(
        name=t.get("name") or t.get("township_id") or t.get("village_id"), optimum=short_label(industries.get(t.get("optimum"), str(t.get("optimum")))),
        other=short_label(industries.get(t.get("runner_up"), str(t.get("runner_up"))))) for t in towns[:8])  # fmt: skip
    if len(towns) > 8:
        where += " …"
    message = ngettext(
        "The best other plan scores {diff} less ({share}); it differs in {n} village: {where}.",
        "The best other plan scores {diff} less ({share}); it differs in {n} villages: {where}.",
        len(towns)) if ru.get("villages") else ngettext(
        "The best other plan scores {diff} less ({share}); it differs in {n} township: {where}.",
        "The best other plan scores {diff} less ({share}); it differs in {n} townships: {where}.",
        len(towns))
    text = message.format(diff=money_text(ru.get("difference_yuan")), share=small_pct(float(ru.get("difference_share") or 0.0)),
                           n=len(towns), where=where)  # fmt: skip
    if ru.get("near_tie"):
        return [callout("warn", _("A near tie. {text} The data cannot tell these plans apart: choose on what the model "
                                  "leaves out.").format(text=text))]  # fmt: skip
    return [text_block(text)]


def _is_infeasible(folder: Path) -> bool:
    if not (folder / "summary.json").is_file() or (folder / "allocation.csv").exists():
        return False
    try:
        return read_json(folder / "summary.json").get("status") == "infeasible"
    except Exception:  # a damaged summary: not this kind (the run kind reports it, located)
        return False


@report_kind("infeasible", _is_infeasible)
def infeasible_page(folder: Path) -> Page:
    """The answer "no plan meets every limit": the limits in conflict and the least change that admits a plan."""
    s = read_json(folder / "summary.json")
    resolved = resolved_instance(folder)
    manifest = manifest_of(folder)
    name = str(s.get("instance") or resolved.get("name") or folder.name)
    who = _("validation, before solving") if s.get("found_by") == "validation" else "HiGHS"
    blocks: list[Block] = [callout("bad", _("No plan meets every limit (proven by {who}).").format(who=who))]
    conflicts = s.get("conflicts") or []
    if conflicts:
        blocks.append(text_block(_("The limits in conflict:")))
        blocks.append(Block("list", {"items": [
            f"{c.get('text')} ({c.get('where')})" if c.get("where") else str(c.get("text")) for c in conflicts]}))
    rows = s.get("infeasible_rows") or []
    if rows:
        blocks.append(text_block(_("These limits cannot hold together: {rows}.").format(rows=", ".join(map(str, rows)))))
    sections = [Section("result", _("Result"), blocks)]
    relax = s.get("least_relaxation") or []
    ways = s.get("ways_out") or []
    out: list[Block] = []
    if relax:
        out.append(text_block(_("The least change to the limits that admits a plan:")))
        out.append(Block("list", {"items": [str(r.get("text")) for r in relax]}))
    for way in ways:
        out.append(text_block(_("Or, changing only {family}:").format(family=way.get("family"))))
        out.append(Block("list", {"items": [str(r.get("text")) for r in way.get("rows") or []]}))
    if out:
        sections.append(Section("ways-out", _("Ways out"), out))
    sections.append(whatif_section(s.get("scenarios") or [], s.get("overrides_applied") or []))
    sections.append(sources_section(sources_of(folder, manifest, resolved)))
    subtitle = _("Run {run_id} of instance {name}").format(run_id=s.get("run_id") or folder.name, name=name)
    return Page("infeasible", _("No plan: {title}").format(title=str(resolved.get("title") or name)), subtitle,
                sections, footer(manifest))


def _baseline_blocks(tot: dict[str, Any]) -> list[Block]:
    from optimizer.outputs.figures import paired_bars

    def get(key: str) -> Any:
        return tot.get(key)

    rows_spec = [
        (_("Farmers' income (after falling prices)"), "farmer_income_after_price_steps_yuan", "baseline_farmer_income_yuan"),
        (_("Farmers' income (before falling prices)"), "farmer_income_yuan", "baseline_farmer_income_yuan"),
        (_("GEP, total"), "gep_total_yuan", "baseline_gep_total_yuan"),
        (_("GEP, material (products)"), "gep_material_yuan", "baseline_gep_material_yuan"),
        (_("GEP, regulating (soil, water, carbon)"), "gep_regulating_yuan", "baseline_gep_regulating_yuan"),
        (_("GEP, cultural (recreation)"), "gep_cultural_yuan", "baseline_gep_cultural_yuan"),
    ]  # fmt: skip
    rows = []
    for label, plan_key, base_key in rows_spec:
        plan, base = get(plan_key), get(base_key)
        change = None if missing(plan) or missing(base) else float(plan) - float(base)
        rel = "—" if change is None or not base else pct(change / abs(float(base)))
        rows.append((label, mio(plan), mio(base), mio(change, sign=True), rel))
    loss = get("market_revenue_loss_yuan")
    if loss:
        rows.append((_("Revenue lost to falling prices"), mio(loss), "", "", ""))
    table = table_block([("", "text"), (_("plan"), "num"), (_("baseline"), "num"), (_("change"), "num"), (_("change %"), "num")],
                   rows, caption=money_words())  # fmt: skip
    blocks = [table]
    chart_rows = [r for r in rows_spec[2:] if not missing(get(r[1]))]
    chart_rows.insert(0, rows_spec[0])
    plan_vals = [float(get(k) or 0.0) / money_factor() for _l, k, _b in chart_rows]
    base_vals = [float(get(b) or 0.0) / money_factor() if not missing(get(b)) else 0.0 for _l, _k, b in chart_rows]
    if any(missing(get(b)) for _l, _k, b in chart_rows):
        blocks.append(text_block(_("This run's summary has no baseline GEP by category (older run): those baselines are shown as 0.")))
    svg = paired_bars([lbl for lbl, _k, _b in chart_rows], [(_("plan against baseline"), plan_vals, base_vals)], None,
                      money_words(), "baseline", plan_label=_("plan"), baseline_label=_("baseline"))  # fmt: skip
    blocks.append(figure_block(svg))
    return blocks


def _township_table(alloc: pd.DataFrame, labels: dict[str, str]) -> Block:
    df = alloc.sort_values("gep_total_yuan", ascending=False, kind="stable")
    note = ""
    if len(df) > ROWS_MAX:
        df = df.head(ROWS_MAX)
        note = _("The {n} townships with the largest GEP of {total}; allocation.csv lists them all.").format(n=ROWS_MAX, total=len(alloc))
    rows = [(f"{r.name}", r.county, short_label(labels.get(r.industry, r.industry)), num(r.area_ha), mio(r.gep_total_yuan),
             mio(r.change_gep_total_yuan, sign=True), mio(r.farmer_income_yuan), mio(r.change_farmer_income_yuan, sign=True),
             num(r.water_use_m3 / 1e3, 0)) for r in df.itertuples(index=False)]  # fmt: skip
    cols = [(_("township"), "text"), (_("county"), "text"), (_("industry"), "text"), (_("area (ha)"), "num"),
            (_("GEP"), "num"), (_("GEP change"), "num"), (_("income"), "num"), (_("income change"), "num"),
            (_("water (thousand m³)"), "num")]  # fmt: skip
    return table_block(cols, rows, caption=_("Money in {unit}; changes against the baseline.").format(unit=money_words()),
                       note=note)


def _files_section(folder: Path, s: dict[str, Any], manifest: dict[str, Any]) -> Section:
    notes = {
        "allocation.gpkg": _("the map for QGIS (styled by industry)"),
        "allocation.csv": (_("one row per village (opens in Excel)") if (folder / "township_allocation.csv").exists()
                           else _("one row per township (opens in Excel)")),
        "township_allocation.csv": _("one row per township: leading industry, shares of area per industry, totals"),
        "county_totals.csv": _("totals per county"),
        "summary.json": _("status, totals, every limit"),
        "manifest.json": _("versions and checksums of inputs and outputs"),
        "check.json": _("the independent checker's verdict"),
        "instance.resolved.yaml": _("the instance as solved: solving it repeats the run"),
        "highs.log": _("the solver's log"),
        "decomposition.log": _("the solver's log"),
    }
    items = [{"href": n, "text": n, "note": note} for n, note in notes.items() if (folder / n).exists() or n == "manifest.json"]
    blocks = [Block("links", {"items": items})]
    timings = s.get("timings_s") or {}
    phases = {k: _(v) for k, v in PHASE_WORDS.items()}
    if timings:
        blocks.append(text_block(_("Time taken: {phases}.").format(phases=", ".join(
            _("{phase} {seconds} s").format(phase=phases.get(k, k), seconds=f"{float(v):.2f}")
            for k, v in timings.items() if isinstance(v, (int, float))))))  # fmt: skip
    return Section("files", _("Files of this run"), blocks)


