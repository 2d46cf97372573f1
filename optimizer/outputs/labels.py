"""Column names in words, Chinese and English, with units: one table for every output.

Why one table: the same column (`farmer_income_yuan`) appears in the allocation layer,
the county totals, the GEP accounts, the workbook and the Shapefile's field list; a
planner should read the same words for it everywhere. GeoPackage field aliases, Excel
headers and the Shapefile side table all come from `column_label`.

The table is keyed by column name and holds the English words and the unit; the Chinese
words are in the gettext catalogue (optimizer/locale, context "column:<name>"), read
with the Chinese catalogue explicitly (`optimizer.i18n.translate`) because a label in
both languages needs both whatever `--lang` is. Units and the limits' words work the
same way (contexts "unit" and "limit:<family>").

Derived columns are named by rule rather than listed: `baseline_<x>`, `change_<x>`,
`delta_<x>` (compare: B − A), `plan_<x>`, `optimum_<x>`, `<x>_a`, `<x>_b`, `<x>_per_ha`
and `townships_<industry>` / `villages_<industry>` / `area_ha_<industry>`; a new column
built that way gets its words for free. A few columns read differently by table (`IN_TABLE`): in a table of
villages, `name` is the village's name.

Languages: `lang=None` gives both, "中文 (English, unit)" — the default for files,
because a map or a workbook travels between people who read either; `"zh"` or `"en"`
gives one language (what `--lang` selects).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from optimizer.i18n import NC_, translate

#: Languages a label can be written in; None means both ("中文 (English)").
LANGS = (None, "zh", "en")

#: Units, marked for the catalogue (context "unit"): Chinese units come from it.
UNITS: tuple[str, ...] = (
    NC_("unit", "ha"),
    NC_("unit", "yuan"),
    NC_("unit", "yuan/yr"),
    NC_("unit", "yuan/ha/yr"),
    NC_("unit", "m³/yr"),
    NC_("unit", "m³/ha/yr"),
    NC_("unit", "MWp"),
    NC_("unit", "MWp/ha"),
    NC_("unit", "%"),
    NC_("unit", "townships"),
    NC_("unit", "yuan per unit"),
)

#: column → (English words, unit); the Chinese words are the catalogue's, with the column
#: name as context (the same English can need other Chinese: "value" is 值 or 价值量).
#: Units as in docs/outputs.md.
COLUMNS: dict[str, tuple[str, str]] = {
    # identity
    "township_id": (NC_("column:township_id", "township id"), ""),
    "name": (NC_("column:name", "township"), ""),
    "county": (NC_("column:county", "county"), ""),
    "city": (NC_("column:city", "city"), ""),
    "basin": (NC_("column:basin", "basin"), ""),
    "industry": (NC_("column:industry", "industry"), ""),
    "industry_label": (NC_("column:industry_label", "industry name in English"), ""),
    "industry_label_zh": (NC_("column:industry_label_zh", "industry name in Chinese"), ""),
    "baseline_land_use": (NC_("column:baseline_land_use", "current land use"), ""),
    "locked": (NC_("column:locked", "locked"), ""),
    "townships": (NC_("column:townships", "townships"), ""),
    "townships_changed": (NC_("column:townships_changed", "townships that changed industry"), ""),
    # physical and money figures
    "area_ha": (NC_("column:area_ha", "plannable area"), "ha"),
    "output_amount": (NC_("column:output_amount", "output"), ""),
    "output_unit": (NC_("column:output_unit", "output unit"), ""),
    "water_use_m3": (NC_("column:water_use_m3", "water use"), "m³/yr"),
    "pv_capacity_mw": (NC_("column:pv_capacity_mw", "PV capacity"), "MWp"),
    "investment_yuan": (NC_("column:investment_yuan", "investment"), "yuan"),
    "revenue_yuan": (NC_("column:revenue_yuan", "revenue"), "yuan/yr"),
    "operating_cost_yuan": (NC_("column:operating_cost_yuan", "operating cost"), "yuan/yr"),
    "value_added_yuan": (NC_("column:value_added_yuan", "value added"), "yuan/yr"),
    "farmer_income_yuan": (NC_("column:farmer_income_yuan", "farmers' income"), "yuan/yr"),
    "gep_material_yuan": (NC_("column:gep_material_yuan", "GEP material"), "yuan/yr"),
    "gep_regulating_yuan": (NC_("column:gep_regulating_yuan", "GEP regulating"), "yuan/yr"),
    "gep_cultural_yuan": (NC_("column:gep_cultural_yuan", "GEP cultural"), "yuan/yr"),
    "gep_total_yuan": (NC_("column:gep_total_yuan", "GEP total"), "yuan/yr"),
    "objective_contribution_yuan": (NC_("column:objective_contribution_yuan", "objective contribution"), "yuan/yr"),
    "left_on_the_table_yuan": (NC_("column:left_on_the_table_yuan", "left on the table"), "yuan/yr"),
    "weighted_left_on_the_table_yuan": (NC_("column:weighted_left_on_the_table_yuan", "weighted, left on the table"), "yuan/yr"),
    # run summary
    "key": (NC_("column:key", "item"), ""),
    "value": (NC_("column:value", "value"), ""),
    # GEP accounts
    "service": (NC_("column:service", "ecosystem service"), ""),
    "category": (NC_("column:category", "GEP category"), ""),
    "quantity": (NC_("column:quantity", "physical quantity"), ""),
    "unit": (NC_("column:unit", "unit"), ""),
    "unit_price_yuan": (NC_("column:unit_price_yuan", "unit price"), "yuan per unit"),
    "instance_unit_price_yuan": (NC_("column:instance_unit_price_yuan", "instance's unit price"), "yuan per unit"),
    "value_yuan": (NC_("column:value_yuan", "value"), "yuan/yr"),
    "quantity_basis": (NC_("column:quantity_basis", "quantity basis"), ""),
    "price_from": (NC_("column:price_from", "price from"), ""),
    "source": (NC_("column:source", "source"), ""),
    # compare
    "changed": (NC_("column:changed", "changed"), ""),
    "change": (NC_("column:change", "change"), ""),
    "figure": (NC_("column:figure", "figure id"), ""),
    "label": (NC_("column:label", "figure"), ""),
    "a": (NC_("column:a", "run A"), ""),
    "b": (NC_("column:b", "run B"), ""),
    "change_pct": (NC_("column:change_pct", "change"), "%"),
    "change_in_switched_townships": (NC_("column:change_in_switched_townships", "of which in townships that switched"), ""),
    # evaluate
    "violations": (NC_("column:violations", "limits broken"), ""),
    "verdict": (NC_("column:verdict", "verdict"), ""),
    "differs_from_optimum": (NC_("column:differs_from_optimum", "differs from the optimum"), ""),
    "constraint": (NC_("column:constraint", "constraint"), ""),
    "index": (NC_("column:index", "applies to"), ""),
    "amount": (NC_("column:amount", "amount"), ""),
    "sense": (NC_("column:sense", "sense"), ""),
    "limit": (NC_("column:limit", "limit"), ""),
    "excess": (NC_("column:excess", "excess"), ""),
    "message": (NC_("column:message", "message"), ""),
    "part": (NC_("column:part", "part id"), ""),
    "description": (NC_("column:description", "part"), ""),
    "in_objective": (NC_("column:in_objective", "in the objective"), ""),
    "objective_weight": (NC_("column:objective_weight", "weight in the objective"), ""),
    "plan": (NC_("column:plan", "plan"), ""),
    "optimum": (NC_("column:optimum", "optimum"), ""),
    "left_on_the_table": (NC_("column:left_on_the_table", "left on the table"), ""),
    # limits (workbook)
    "limit_words": (NC_("column:limit_words", "limit"), ""),
    "model_name": (NC_("column:model_name", "name in the model"), ""),
    "family": (NC_("column:family", "constraint family"), ""),
    "lhs": (NC_("column:lhs", "used"), ""),
    "rhs": (NC_("column:rhs", "limit value"), ""),
    "slack": (NC_("column:slack", "slack"), ""),
    "used_share": (NC_("column:used_share", "share used"), "%"),
    "binding": (NC_("column:binding", "binding"), ""),
    # exports
    "field": (NC_("column:field", "field"), ""),
    "column": (NC_("column:column", "column"), ""),
    "label_zh": (NC_("column:label_zh", "Chinese name"), ""),
    "label_en": (NC_("column:label_en", "English name"), ""),
    # robust (stability over samples) and alternatives (flexibility)
    "samples_solved": (NC_("column:samples_solved", "samples with a plan"), ""),
    "most_frequent_industry": (NC_("column:most_frequent_industry", "most frequent industry"), ""),
    "stability": (NC_("column:stability", "stability: share of samples with the most frequent industry"), ""),
    "stability_class": (NC_("column:stability_class", "how stable"), ""),
    "industries_taken": (NC_("column:industries_taken", "industries taken"), ""),
    "nominal_industry": (NC_("column:nominal_industry", "industry of the nominal plan"), ""),
    "nominal_share": (NC_("column:nominal_share", "share of samples for the nominal plan's industry"), ""),
    "robust_industry": (NC_("column:robust_industry", "industry of the robust plan"), ""),
    "robust_differs_from_nominal": (NC_("column:robust_differs_from_nominal", "robust plan differs from the nominal plan"), ""),
    "forced": (NC_("column:forced", "forced: the same industry in every plan found"), ""),
    "forced_proven": (NC_("column:forced_proven", "forced, proven: no plan within the slack changes it"), ""),
    "could_also_take": (NC_("column:could_also_take", "could also take, within the slack"), ""),
    "flexibility_class": (NC_("column:flexibility_class", "flexibility"), ""),
    "industries": (NC_("column:industries", "industries across the plans"), ""),
    "plans": (NC_("column:plans", "plans"), ""),
    "kept": (NC_("column:kept", "kept as in the optimum"), ""),
    "status": (NC_("column:status", "status"), ""),
    "nominal": (NC_("column:nominal", "nominal plan"), ""),
    "samples": (NC_("column:samples", "samples"), ""),
    "objective_yuan": (NC_("column:objective_yuan", "objective"), "yuan/yr"),
    "objective_as_written_yuan": (NC_("column:objective_as_written_yuan", "objective at the instance's own figures"), "yuan/yr"),
    "probability_any_limit_broken": (NC_("column:probability_any_limit_broken", "probability that some limit is broken"), ""),
    "regret_mean_yuan": (NC_("column:regret_mean_yuan", "mean regret"), "yuan/yr"),
    "regret_max_yuan": (NC_("column:regret_max_yuan", "largest regret"), "yuan/yr"),
    "regret_samples": (NC_("column:regret_samples", "samples with a regret"), ""),
    "probability": (NC_("column:probability", "probability broken"), ""),
    "samples_broken": (NC_("column:samples_broken", "samples in which it is broken"), ""),
    "mean_excess": (NC_("column:mean_excess", "mean excess"), ""),
    "worst_excess": (NC_("column:worst_excess", "worst excess"), ""),
    "worst_sample": (NC_("column:worst_sample", "worst sample"), ""),
    "worst_message": (NC_("column:worst_message", "worst sample, in words"), ""),
    "loss_yuan": (NC_("column:loss_yuan", "loss against the optimum"), "yuan/yr"),
    "loss_share": (NC_("column:loss_share", "loss, share of the optimum"), ""),
    "floor_yuan": (NC_("column:floor_yuan", "objective floor"), "yuan/yr"),
    "within_slack": (NC_("column:within_slack", "within the slack"), ""),
    "check_ok": (NC_("column:check_ok", "independent check passed"), ""),
    "gep_regulating_cultural_yuan": (NC_("column:gep_regulating_cultural_yuan", "GEP regulating and cultural"), "yuan/yr"),
    "hectares_changed_from_optimum": (NC_("column:hectares_changed_from_optimum", "hectares changed from the optimum"), "ha"),
    "min_distance_to_earlier": (NC_("column:min_distance_to_earlier", "least difference to the earlier plans"), ""),
    "diversity_bound": (NC_("column:diversity_bound", "difference bound"), ""),
    # village instances: a village's township and the township's leading industry
    "village_id": (NC_("column:village_id", "village id"), ""),
    "township_name": (NC_("column:township_name", "township"), ""),
    "leading_industry": (NC_("column:leading_industry", "township's leading industry"), ""),
    "takes_leading_industry": (NC_("column:takes_leading_industry", "takes the township's leading industry"), ""),
    "villages": (NC_("column:villages", "villages"), ""),
    "township_table_area_ha": (NC_("column:township_table_area_ha", "area in the township table"), "ha"),
    "leading_industry_label": (NC_("column:leading_industry_label", "leading industry name in English"), ""),
    "leading_industry_label_zh": (NC_("column:leading_industry_label_zh", "leading industry name in Chinese"), ""),
    "leading_area_ha": (NC_("column:leading_area_ha", "area of the leading industry"), "ha"),
    "counted_area_ha": (NC_("column:counted_area_ha", "area counted for the leading share"), "ha"),
    "leading_share": (NC_("column:leading_share", "share of the leading industry (0–1)"), ""),
    "min_leading_share": (NC_("column:min_leading_share", "least share of the leading industry (0–1)"), ""),
}

#: Columns whose words depend on the table: (column, a column that marks the table) → the
#: words there. In a table of villages (it has `village_id`), `name` is the village's name.
IN_TABLE: dict[tuple[str, str], tuple[str, str, str]] = {
    ("name", "village_id"): ("column:name of a village", NC_("column:name of a village", "village"), ""),
}

# Naming rules: (prefix or suffix, English template); the Chinese template is the
# catalogue's (context "column rule"), e.g. "baseline {label}" → "基线{label}".
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("baseline_", NC_("column rule", "baseline {label}")),
    ("change_", NC_("column rule", "change in {label}")),
    ("delta_", NC_("column rule", "change in {label} (B − A)")),
    ("plan_", NC_("column rule", "plan's {label}")),
    ("optimum_", NC_("column rule", "optimum's {label}")),
)
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_a", NC_("column rule", "{label} (A)")),
    ("_b", NC_("column rule", "{label} (B)")),
)
_PER_HA = NC_("column rule", "{label} per ha")
#: robust: figures over the samples.
_SAMPLE_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_mean", NC_("column rule", "{label}, mean")),
    ("_p5", NC_("column rule", "{label}, 5th percentile")),
    ("_worst", NC_("column rule", "{label}, worst")),
    ("_cvar", NC_("column rule", "{label}, CVaR")),
)
#: alternatives: plans per industry and industry per plan; robust and villages: shares.
_NAMED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("plans_", NC_("column rule", "plans: {name}")),
    ("industry_", NC_("column rule", "industry: {name}")),
    ("share_", NC_("column rule", "share: {name}")),
)
_TOWNSHIPS_OF = NC_("column rule", "townships: {industry}")
_VILLAGES_OF = NC_("column rule", "villages: {industry}")
_AREA_OF = NC_("column rule", "area: {industry}")


def _zh(text: str) -> str:
    """Chinese joined with Latin words (GEP, A, B) gets a space between, as typeset Chinese does."""
    text = re.sub(r"([\u4e00-\u9fff])([A-Za-z])", r"\1 \2", text)
    return re.sub(r"([A-Za-z])([\u4e00-\u9fff])", r"\1 \2", text)


def _in_zh(message: str, context: str) -> str:
    """The Chinese of a label, from the catalogue whatever the language in force."""
    return translate(message, "zh", context)


def _ruled(template: str, inner: tuple[str, str, str], unit: str | None = None) -> tuple[str, str, str]:
    """A derived column's words: the rule's template around the inner column's words."""
    zh = _zh(_in_zh(template, "column rule").format(label=inner[0]))
    return zh, template.format(label=inner[1]), inner[2] if unit is None else unit


def _words(column: str, among: Iterable[str] = ()) -> tuple[str, str, str] | None:
    """(Chinese, English, unit) of a column, by the table or by the naming rules; None if unknown.
    `among`: the other columns of its table, for the words that depend on it (`IN_TABLE`)."""
    for marker in among:
        if (column, marker) in IN_TABLE:
            context, en, unit = IN_TABLE[column, marker]
            return _in_zh(en, context), en, unit
    if column in COLUMNS:
        en, unit = COLUMNS[column]
        return _in_zh(en, f"column:{column}"), en, unit
    for suffix, template in _SUFFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):
            inner = _words(column[: -len(suffix)])
            if inner:
                return _ruled(template, inner)
    if column.endswith("_per_ha"):
        inner = _words(column[: -len("_per_ha")])
        if inner:
            unit = {"yuan/yr": "yuan/ha/yr", "m³/yr": "m³/ha/yr", "MWp": "MWp/ha"}.get(inner[2], inner[2])
            return _ruled(_PER_HA, inner, unit)
    for prefix, template in _PREFIXES:
        if column.startswith(prefix) and len(column) > len(prefix):
            inner = _words(column[len(prefix):])
            if inner:
                return _ruled(template, inner)
    for prefix, template, unit in (("townships_", _TOWNSHIPS_OF, ""), ("villages_", _VILLAGES_OF, ""),
                                   ("area_ha_", _AREA_OF, "ha")):
        if column.startswith(prefix) and len(column) > len(prefix):
            industry = column[len(prefix):]
            return _in_zh(template, "column rule").format(industry=industry), template.format(industry=industry), unit
    for suffix, template in _SAMPLE_SUFFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):  # robust: figures over the samples
            inner = _words(column[: -len(suffix)])
            if inner:
                return _ruled(template, inner)
    for prefix, template in _NAMED_PREFIXES:  # alternatives: per industry / per plan; robust, villages: shares
        if column.startswith(prefix) and len(column) > len(prefix):
            name = column[len(prefix):]
            return _in_zh(template, "column rule").format(name=name), template.format(name=name), ""
    return None


def unit_text(unit: str, lang: str | None = None) -> str:
    """A unit in the language asked for (Chinese units where the catalogue has one)."""
    if lang == "zh":
        return translate(unit, "zh", "unit")
    return unit


def bilingual(zh: str, en: str, lang: str | None = None) -> str:
    """Two names as one label: "中文 English" (None), or only one language."""
    zh, en = (zh or "").strip(), (en or "").strip()
    if lang == "zh":
        return zh or en
    if lang == "en":
        return en or zh
    if zh and en and zh != en:
        return f"{zh} {en}"
    return zh or en


def column_label(column: str, lang: str | None = None, among: Iterable[str] = ()) -> str | None:
    """The column in words with its unit, e.g. "农民收入 (farmers' income, yuan/yr)"; None if
    unknown. `among`: the columns of its table (in a table of villages, `name` is a village's)."""
    _check_lang(lang)
    words = _words(column, among)
    if words is None:
        return None
    zh, en, unit = words
    if lang == "zh":
        return f"{zh}（{unit_text(unit, 'zh')}）" if unit else zh
    if lang == "en":
        return f"{en} ({unit})" if unit else en
    return f"{zh} ({en}, {unit})" if unit else f"{zh} ({en})"


def column_labels(columns: Iterable[str], lang: str | None = None) -> dict[str, str]:
    """Labels of the known columns, unique within the table (a GeoPackage requires it).

    Two columns that would read the same (which the naming rules should never produce)
    keep their label with the column name added, so neither is dropped silently.
    """
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    columns = list(columns)
    for col in columns:
        label = column_label(col, lang, columns)
        if label is None:
            continue
        if label in seen:
            label = f"{label} [{col}]"
        seen[label] = col
        out[col] = label
    return out


def column_words(column: str, among: Iterable[str] = ()) -> tuple[str, str, str] | None:
    """(Chinese, English, unit) of a column, for side tables that list both languages;
    `among` as in `column_label`."""
    return _words(column, among)


def _check_lang(lang: str | None) -> None:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: use 'zh', 'en' or None (both)")


def industry_labels(df: pd.DataFrame, lang: str | None = None) -> dict[str, str]:
    """Industry id → its label in the language asked for, from a table with industry_label(_zh)."""
    out: dict[str, str] = {}
    if "industry" not in df.columns:
        return out
    for ind, g in df.groupby("industry", sort=True):
        en = str(g["industry_label"].iloc[0]) if "industry_label" in g.columns else str(ind)
        zh = str(g["industry_label_zh"].iloc[0]) if "industry_label_zh" in g.columns else ""
        out[str(ind)] = bilingual(zh if zh != "nan" else "", en if en != "nan" else str(ind), lang) or str(ind)
    return out


#: Constraint families (docs/model.md) in plain words, English; the Chinese is the
#: catalogue's (context "limit:<family>"). {index} is the county, basin, market or
#: township the row applies to.
LIMITS: dict[str, str] = {
    "water_use_per_township_max": NC_("limit:water_use_per_township_max", "water use of township {index} within its available water"),
    "water_use_per_county_max": NC_("limit:water_use_per_county_max", "water use in county {index} within its limit"),
    "water_use_per_basin_max": NC_("limit:water_use_per_basin_max", "water use in basin {index} within its limit"),
    "market_output_max": NC_("limit:market_output_max", "output sold on market {index} within what it can take"),
    "pv_capacity_per_county_max": NC_("limit:pv_capacity_per_county_max", "PV capacity in county {index} within what the grid can take"),
    "investment_budget_max": NC_("limit:investment_budget_max", "investment within the budget"),
    "conservation_area_min": NC_("limit:conservation_area_min", "conservation area at least the required share"),
    "conservation_area_per_county_min": NC_("limit:conservation_area_per_county_min", "conservation area in county {index} at least the required share"),
    "farmer_income_per_township_min": NC_("limit:farmer_income_per_township_min", "farmers' income in township {index} at least its floor"),
    "industry_locked_in": NC_("limit:industry_locked_in", "township {index} keeps its locked industry"),
    "one_industry_per_township": NC_("limit:one_industry_per_township", "township {index} chooses exactly one industry"),
}

#: Families that define auxiliary variables rather than limit the plan (not shown as limits).
DEFINITIONAL_LIMITS = frozenset({"market_output_beyond_step_def"})


def limit_words(family: str, index: object, lang: str | None = None) -> str:
    """A constraint row in the planner's words, e.g. "water use in county 富川瑶族自治县 within its limit"."""
    if family in LIMITS:
        en_t = LIMITS[family]
        zh_t = translate(en_t, "zh", f"limit:{family}")
    else:
        zh_t = en_t = family + " {index}"
    idx = "" if index is None else str(index)
    zh, en = (t.format(index=idx).replace("  ", " ").strip() for t in (zh_t, en_t))
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return f"{zh} ({en})"
