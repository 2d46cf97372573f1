"""Column names in words, Chinese and English, with units: one table for every output.

Why one table: the same column (`farmer_income_yuan`) appears in the allocation layer,
the county totals, the GEP accounts, the workbook and the Shapefile's field list; a
planner should read the same words for it everywhere. GeoPackage field aliases, Excel
headers and the Shapefile side table all come from `column_label`.

The table is keyed by column name, so that the translation work can move the words to
the gettext catalogue (optimizer/i18n.py) without touching the writers: each entry is
(Chinese, English, unit), and the unit is written in the language asked for.

Derived columns are named by rule rather than listed: `baseline_<x>`, `change_<x>`,
`delta_<x>` (compare: B − A), `plan_<x>`, `optimum_<x>`, `<x>_a`, `<x>_b`, `<x>_per_ha`
and `townships_<industry>`; a new column built that way gets its words for free.

Languages: `lang=None` gives both, "中文 (English, unit)" — the default for files,
because a map or a workbook travels between people who read either; `"zh"` or `"en"`
gives one language (what `--lang` selects).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

#: Languages a label can be written in; None means both ("中文 (English)").
LANGS = (None, "zh", "en")

#: Units in Chinese (English units are written as they are).
UNITS_ZH: dict[str, str] = {
    "ha": "公顷",
    "yuan": "元",
    "yuan/yr": "元/年",
    "yuan/ha/yr": "元/公顷/年",
    "m³/yr": "立方米/年",
    "m³/ha/yr": "立方米/公顷/年",
    "MWp": "兆瓦",
    "MWp/ha": "兆瓦/公顷",
    "%": "%",
    "townships": "个",
    "yuan per unit": "元/单位",
}

#: column → (Chinese, English, unit). Units as in docs/outputs.md.
COLUMNS: dict[str, tuple[str, str, str]] = {
    # identity
    "township_id": ("乡镇代码", "township id", ""),
    "name": ("乡镇", "township", ""),
    "county": ("县", "county", ""),
    "city": ("市", "city", ""),
    "basin": ("流域", "basin", ""),
    "industry": ("产业", "industry", ""),
    "industry_label": ("产业英文名", "industry name in English", ""),
    "industry_label_zh": ("产业中文名", "industry name in Chinese", ""),
    "baseline_land_use": ("现状用地", "current land use", ""),
    "locked": ("锁定", "locked", ""),
    "townships": ("乡镇数", "townships", ""),
    "townships_changed": ("改变产业的乡镇数", "townships that changed industry", ""),
    # physical and money figures
    "area_ha": ("可规划面积", "plannable area", "ha"),
    "output_amount": ("产量", "output", ""),
    "output_unit": ("产量单位", "output unit", ""),
    "water_use_m3": ("用水量", "water use", "m³/yr"),
    "pv_capacity_mw": ("光伏装机容量", "PV capacity", "MWp"),
    "investment_yuan": ("投资", "investment", "yuan"),
    "revenue_yuan": ("销售收入", "revenue", "yuan/yr"),
    "operating_cost_yuan": ("运营成本", "operating cost", "yuan/yr"),
    "value_added_yuan": ("增加值", "value added", "yuan/yr"),
    "farmer_income_yuan": ("农民收入", "farmers' income", "yuan/yr"),
    "gep_material_yuan": ("GEP 物质产品", "GEP material", "yuan/yr"),
    "gep_regulating_yuan": ("GEP 调节服务", "GEP regulating", "yuan/yr"),
    "gep_cultural_yuan": ("GEP 文化服务", "GEP cultural", "yuan/yr"),
    "gep_total_yuan": ("GEP 合计", "GEP total", "yuan/yr"),
    "objective_contribution_yuan": ("目标函数贡献", "objective contribution", "yuan/yr"),
    "left_on_the_table_yuan": ("与最优相比的损失", "left on the table", "yuan/yr"),
    "weighted_left_on_the_table_yuan": ("加权损失", "weighted, left on the table", "yuan/yr"),
    # run summary
    "key": ("项目", "item", ""),
    "value": ("值", "value", ""),
    # GEP accounts
    "service": ("生态系统服务", "ecosystem service", ""),
    "category": ("GEP 类别", "GEP category", ""),
    "quantity": ("实物量", "physical quantity", ""),
    "unit": ("单位", "unit", ""),
    "unit_price_yuan": ("单价", "unit price", "yuan per unit"),
    "instance_unit_price_yuan": ("算例原单价", "instance's unit price", "yuan per unit"),
    "value_yuan": ("价值量", "value", "yuan/yr"),
    "quantity_basis": ("实物量基准", "quantity basis", ""),
    "price_from": ("单价来源", "price from", ""),
    "source": ("来源", "source", ""),
    # compare
    "changed": ("是否改变", "changed", ""),
    "change": ("变化", "change", ""),
    "figure": ("指标代码", "figure id", ""),
    "label": ("指标", "figure", ""),
    "a": ("方案 A", "run A", ""),
    "b": ("方案 B", "run B", ""),
    "change_pct": ("变化率", "change", "%"),
    "change_in_switched_townships": ("其中改变产业乡镇的变化", "of which in townships that switched", ""),
    # evaluate
    "violations": ("违反的约束", "limits broken", ""),
    "verdict": ("评估结论", "verdict", ""),
    "differs_from_optimum": ("与最优方案不同", "differs from the optimum", ""),
    "constraint": ("约束", "constraint", ""),
    "index": ("对象", "applies to", ""),
    "amount": ("实际量", "amount", ""),
    "sense": ("方向", "sense", ""),
    "limit": ("限值", "limit", ""),
    "excess": ("超出量", "excess", ""),
    "message": ("说明", "message", ""),
    "part": ("组成部分代码", "part id", ""),
    "description": ("组成部分", "part", ""),
    "in_objective": ("计入目标函数", "in the objective", ""),
    "objective_weight": ("目标权重", "weight in the objective", ""),
    "plan": ("方案", "plan", ""),
    "optimum": ("最优方案", "optimum", ""),
    "left_on_the_table": ("与最优相比的差额", "left on the table", ""),
    # limits (workbook)
    "limit_words": ("约束条件", "limit", ""),
    "model_name": ("模型中的名称", "name in the model", ""),
    "family": ("约束类别", "constraint family", ""),
    "lhs": ("已用", "used", ""),
    "rhs": ("限值", "limit value", ""),
    "slack": ("余量", "slack", ""),
    "used_share": ("使用比例", "share used", "%"),
    "binding": ("是否紧约束", "binding", ""),
    # exports
    "field": ("字段", "field", ""),
    "column": ("列名", "column", ""),
    "label_zh": ("中文名称", "Chinese name", ""),
    "label_en": ("英文名称", "English name", ""),
    # robust (stability over samples) and alternatives (flexibility)
    "samples_solved": ("有解样本数", "samples with a plan", ""),
    "most_frequent_industry": ("最常见产业", "most frequent industry", ""),
    "stability": ("稳定度", "stability: share of samples with the most frequent industry", ""),
    "stability_class": ("稳定程度", "how stable", ""),
    "industries_taken": ("出现的产业数", "industries taken", ""),
    "nominal_industry": ("名义方案产业", "industry of the nominal plan", ""),
    "nominal_share": ("名义方案产业的样本占比", "share of samples for the nominal plan's industry", ""),
    "robust_industry": ("稳健方案产业", "industry of the robust plan", ""),
    "robust_differs_from_nominal": ("稳健方案与名义方案不同", "robust plan differs from the nominal plan", ""),
    "forced": ("固定", "forced: the same industry in every plan found", ""),
    "forced_proven": ("已证明固定", "forced, proven: no plan within the slack changes it", ""),
    "could_also_take": ("也可选择", "could also take, within the slack", ""),
    "flexibility_class": ("灵活性", "flexibility", ""),
    "industries": ("各方案中的产业", "industries across the plans", ""),
    "plans": ("方案数", "plans", ""),
    "kept": ("保持最优方案产业", "kept as in the optimum", ""),
    "status": ("状态", "status", ""),
    "nominal": ("名义方案", "nominal plan", ""),
    "samples": ("样本数", "samples", ""),
    "objective_yuan": ("目标函数值", "objective", "yuan/yr"),
    "objective_as_written_yuan": ("按原算例的目标函数值", "objective at the instance's own figures", "yuan/yr"),
    "probability_any_limit_broken": ("任一约束被突破的概率", "probability that some limit is broken", ""),
    "regret_mean_yuan": ("平均遗憾值", "mean regret", "yuan/yr"),
    "regret_max_yuan": ("最大遗憾值", "largest regret", "yuan/yr"),
    "regret_samples": ("计算遗憾值的样本数", "samples with a regret", ""),
    "probability": ("突破概率", "probability broken", ""),
    "samples_broken": ("被突破的样本数", "samples in which it is broken", ""),
    "mean_excess": ("平均超出量", "mean excess", ""),
    "worst_excess": ("最大超出量", "worst excess", ""),
    "worst_sample": ("最差样本", "worst sample", ""),
    "worst_message": ("最差样本说明", "worst sample, in words", ""),
    "loss_yuan": ("与最优相比的损失", "loss against the optimum", "yuan/yr"),
    "loss_share": ("损失比例", "loss, share of the optimum", ""),
    "floor_yuan": ("目标函数下限", "objective floor", "yuan/yr"),
    "within_slack": ("在允许范围内", "within the slack", ""),
    "check_ok": ("独立校验通过", "independent check passed", ""),
    "gep_regulating_cultural_yuan": ("GEP 调节与文化服务", "GEP regulating and cultural", "yuan/yr"),
    "hectares_changed_from_optimum": ("与最优方案相比改变的面积", "hectares changed from the optimum", "ha"),
    "min_distance_to_earlier": ("与先前方案的最小差异", "least difference to the earlier plans", ""),
    "diversity_bound": ("差异上界", "difference bound", ""),
}

# Prefix rules: (prefix, Chinese template, English template).
_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("baseline_", "基线{}", "baseline {}"),
    ("change_", "{}变化", "change in {}"),
    ("delta_", "{}变化（B−A）", "change in {} (B − A)"),
    ("plan_", "方案{}", "plan's {}"),
    ("optimum_", "最优方案{}", "optimum's {}"),
)
# Suffix rules: (suffix, Chinese template, English template).
_SUFFIXES: tuple[tuple[str, str, str], ...] = (
    ("_a", "{}（A）", "{} (A)"),
    ("_b", "{}（B）", "{} (B)"),
)


def _zh(text: str) -> str:
    """Chinese joined with Latin words (GEP, A, B) gets a space between, as typeset Chinese does."""
    text = re.sub(r"([\u4e00-\u9fff])([A-Za-z])", r"\1 \2", text)
    return re.sub(r"([A-Za-z])([\u4e00-\u9fff])", r"\1 \2", text)


def _words(column: str) -> tuple[str, str, str] | None:
    """(Chinese, English, unit) of a column, by the table or by the naming rules; None if unknown."""
    if column in COLUMNS:
        return COLUMNS[column]
    for suffix, zh_t, en_t in _SUFFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):
            inner = _words(column[: -len(suffix)])
            if inner:
                return _zh(zh_t.format(inner[0])), en_t.format(inner[1]), inner[2]
    if column.endswith("_per_ha"):
        inner = _words(column[: -len("_per_ha")])
        if inner:
            unit = {"yuan/yr": "yuan/ha/yr", "m³/yr": "m³/ha/yr", "MWp": "MWp/ha"}.get(inner[2], inner[2])
            return _zh(f"每公顷{inner[0]}"), f"{inner[1]} per ha", unit
    for prefix, zh_t, en_t in _PREFIXES:
        if column.startswith(prefix) and len(column) > len(prefix):
            inner = _words(column[len(prefix):])
            if inner:
                return _zh(zh_t.format(inner[0])), en_t.format(inner[1]), inner[2]
    if column.startswith("townships_") and len(column) > len("townships_"):
        industry = column[len("townships_"):]
        return f"乡镇数：{industry}", f"townships: {industry}", ""
    for suffix, zh_t, en_t in (("_mean", "{}均值", "{}, mean"), ("_p5", "{}第 5 百分位", "{}, 5th percentile"),
                               ("_worst", "{}最差值", "{}, worst"), ("_cvar", "{} CVaR", "{}, CVaR")):
        if column.endswith(suffix) and len(column) > len(suffix):  # robust: figures over the samples
            inner = _words(column[: -len(suffix)])
            if inner:
                return _zh(zh_t.format(inner[0])), en_t.format(inner[1]), inner[2]
    if column.startswith("plans_") and len(column) > len("plans_"):  # alternatives: plans per industry
        industry = column[len("plans_"):]
        return f"方案数：{industry}", f"plans: {industry}", ""
    if column.startswith("industry_") and len(column) > len("industry_"):  # alternatives: industry per plan
        plan = column[len("industry_"):]
        return f"产业：{plan}", f"industry: {plan}", ""
    if column.startswith("share_") and len(column) > len("share_"):  # robust: of samples; villages: of area
        industry = column[len("share_"):]
        return f"占比：{industry}", f"share: {industry}", ""
    return None


def unit_text(unit: str, lang: str | None = None) -> str:
    """A unit in the language asked for (Chinese units where one exists)."""
    if lang == "zh":
        return UNITS_ZH.get(unit, unit)
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


def column_label(column: str, lang: str | None = None) -> str | None:
    """The column in words with its unit, e.g. "农民收入 (farmers' income, yuan/yr)"; None if unknown."""
    _check_lang(lang)
    words = _words(column)
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
    for col in columns:
        label = column_label(col, lang)
        if label is None:
            continue
        if label in seen:
            label = f"{label} [{col}]"
        seen[label] = col
        out[col] = label
    return out


def column_words(column: str) -> tuple[str, str, str] | None:
    """(Chinese, English, unit) of a column, for side tables that list both languages."""
    return _words(column)


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


#: Constraint families (docs/model.md) in plain words: (Chinese, English); {index} is the
#: county, basin, market or township the row applies to.
LIMITS: dict[str, tuple[str, str]] = {
    "water_use_per_township_max": ("乡镇 {index} 用水不超过可用水量", "water use of township {index} within its available water"),
    "water_use_per_county_max": ("{index} 用水总量不超过上限", "water use in county {index} within its limit"),
    "water_use_per_basin_max": ("{index} 流域用水不超过上限", "water use in basin {index} within its limit"),
    "market_output_max": ("{index} 产量不超过市场容量", "output sold on market {index} within what it can take"),
    "pv_capacity_per_county_max": ("{index} 光伏装机不超过电网接入容量", "PV capacity in county {index} within what the grid can take"),
    "investment_budget_max": ("总投资不超过预算", "investment within the budget"),
    "conservation_area_min": ("保护面积不低于要求比例", "conservation area at least the required share"),
    "conservation_area_per_county_min": ("{index} 保护面积不低于要求比例", "conservation area in county {index} at least the required share"),
    "farmer_income_per_township_min": ("乡镇 {index} 农民收入不低于底线", "farmers' income in township {index} at least its floor"),
    "industry_locked_in": ("乡镇 {index} 保持锁定的产业", "township {index} keeps its locked industry"),
    "one_industry_per_township": ("乡镇 {index} 只选一个产业", "township {index} chooses exactly one industry"),
}

#: Families that define auxiliary variables rather than limit the plan (not shown as limits).
DEFINITIONAL_LIMITS = frozenset({"market_output_beyond_step_def"})


def limit_words(family: str, index: object, lang: str | None = None) -> str:
    """A constraint row in the planner's words, e.g. "water use in county 富川瑶族自治县 within its limit"."""
    zh_t, en_t = LIMITS.get(family, (family + " {index}", family + " {index}"))
    idx = "" if index is None else str(index)
    zh, en = (t.format(index=idx).replace("  ", " ").strip() for t in (zh_t, en_t))
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return f"{zh} ({en})"
