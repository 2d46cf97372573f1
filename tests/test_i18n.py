"""Chinese and English: the catalogue is complete and current, and the CLI speaks the language asked for.

The catalogue (optimizer/locale) is made by scripts/update_catalogue.py with Babel; these
tests fail when a message is added or changed without running it, or left untranslated.
"""

from __future__ import annotations

import ast
import gettext
import importlib.util
import io
import os
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from optimizer import i18n
from optimizer.cli import Exit, app
from tests.conftest import FUCHUAN, ROOT, TINY

runner = CliRunner()
PO = ROOT / "optimizer" / "locale" / "zh" / "LC_MESSAGES" / "optimizer.po"
MO = PO.with_suffix(".mo")
FIX = "run `python scripts/update_catalogue.py`, translate what it lists in the .po, and run it again"


def _script():
    spec = importlib.util.spec_from_file_location("update_catalogue", ROOT / "scripts" / "update_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _catalog():
    with open(PO, "rb") as f:
        return read_po(f, locale="zh")


def _fields(text: str) -> set[str]:
    """Placeholders of a message, with their format spec: {n}, {g:.3%}."""
    out = set()
    for _lit, name, spec, _conv in string.Formatter().parse(text):
        if name is not None:
            out.add(f"{name}:{spec}" if spec else name)
    return out


def _messages():
    return [m for m in _catalog() if m.id]


def test_catalogue_matches_the_code():
    """The .pot holds exactly the messages in the code; the .po and .mo are merged and compiled from it."""
    stale = _script().stale_files()
    assert not stale, f"out of date: {[str(p.relative_to(ROOT)) for p in stale]}; {FIX}"


def test_mo_is_the_compiled_po():
    """The shipped .mo says what the committed .po says (Babel compiles it in memory here)."""
    script = _script()
    want = gettext.GNUTranslations(io.BytesIO(script.compiled("zh")))._catalog  # type: ignore[attr-defined]
    with open(MO, "rb") as f:
        have = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    assert {k: v for k, v in have.items() if k != ""} == {k: v for k, v in want.items() if k != ""}, FIX


def test_every_message_has_chinese():
    missing = [m.id for m in _messages()
               if m.fuzzy or not all(m.string if isinstance(m.string, (list, tuple)) else [m.string])]
    assert not missing, f"{len(missing)} messages without a Chinese translation (or fuzzy), e.g. {missing[:5]}; {FIX}"


def test_placeholders_are_kept():
    """A translation holds the same {placeholders} as its English, or .format() would fail or drop a figure."""
    bad = []
    for m in _messages():
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        allowed = [_fields(i) for i in ids]
        for s in strings:
            if _fields(s) not in allowed:
                bad.append((ids[0], sorted(_fields(s))))
    assert not bad, f"placeholders differ from the English: {bad[:5]}"


def test_no_message_is_built_before_translation():
    """`_()` takes a literal (or a constant marked N_): an f-string or a concatenation is invisible to the extractor."""
    bad = []
    for path in sorted((ROOT / "optimizer").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext", "N_"):
                for arg in node.args[:2] if node.func.id == "ngettext" else node.args[:1]:
                    if isinstance(arg, (ast.JoinedStr, ast.BinOp)) or (
                            isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format"):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"build the message after translating it: _('... {{name}}').format(name=...): {bad}"


def test_translations_load_at_run_time():
    """The installed catalogue is found: every message comes out in Chinese under zh and unchanged under en."""
    try:
        i18n.set_language("zh")
        def shown(m):
            return i18n.pgettext(m.context, m.id) if m.context else i18n._(m.id)

        untranslated = [m.id for m in _messages() if isinstance(m.id, str) and shown(m) == m.id and m.string != m.id]
        assert not untranslated, untranslated[:5]
        assert i18n.ngettext("{n} township: {split}.", "{n} townships: {split}.", 3) == "{n} 个乡镇：{split}。"
        i18n.set_language("en")
        assert i18n._("Infeasible: no plan meets every limit.") == "Infeasible: no plan meets every limit."
    finally:
        i18n.set_language("en")


def test_validate_in_chinese():
    res = runner.invoke(app, ["--lang", "zh", "validate", str(FUCHUAN)])
    assert res.exit_code == Exit.OK, res.output
    assert "通过" in res.output and "12 个乡镇" in res.output and "候选产业" in res.output


def _copy_tiny(tmp_path: Path, old: str, new: str) -> Path:
    for f in TINY.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    y = tmp_path / TINY.name
    y.write_text(y.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return y


def test_failing_instance_in_chinese(tmp_path):
    y = _copy_tiny(tmp_path, "    yield_per_ha: 10\n", "    yeild_per_ha: 10\n")
    res = runner.invoke(app, ["--lang", "zh", "validate", str(y)])
    assert res.exit_code == Exit.INVALID_INPUT
    assert "算例有 1 个问题" in res.output, res.output
    assert "未知的键 'yeild_per_ha'" in res.output and "是否要写 'yield_per_ha'？" in res.output, res.output
    res = runner.invoke(app, ["--lang", "en", "validate", str(y)])
    assert "The instance has 1 problem:" in res.output and "unknown key 'yeild_per_ha'" in res.output


def _env(**lang: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    return {**env, **lang, "PYTHONIOENCODING": "utf-8"}


def test_language_from_the_locale():
    """No --lang: LANG (or LC_ALL) decides; --lang overrides it."""
    cmd = [sys.executable, "-m", "optimizer", "validate", str(FUCHUAN)]
    zh = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", env=_env(LANG="zh_CN.UTF-8"), cwd=ROOT)
    assert zh.returncode == 0, zh.stderr
    assert "个乡镇" in zh.stdout, zh.stdout
    en = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", env=_env(LC_ALL="en_US.UTF-8", LANG="zh_CN.UTF-8"), cwd=ROOT)
    assert "12 townships" in en.stdout, en.stdout
    forced = subprocess.run([*cmd[:3], "--lang", "en", *cmd[3:]], capture_output=True, text=True, encoding="utf-8",
                            env=_env(LANG="zh_CN.UTF-8"), cwd=ROOT)
    assert "12 townships" in forced.stdout, forced.stdout


def test_unknown_language_is_a_usage_error():
    res = runner.invoke(app, ["--lang", "fr", "validate", str(FUCHUAN)])
    assert res.exit_code == 2


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_money_scale(lang):
    """--units cn: 万元 with two decimals, 亿元 from 1e8 yuan; the default stays in whole yuan."""
    try:
        i18n.set_language(lang)
        zh = lang == "zh"
        assert i18n.money_scale([5_380_000.0], units="cn") == (1e4, "万元/年" if zh else "10,000 yuan/yr", 2)
        assert i18n.money_scale([2.5e8, 1.0], units="cn")[:2] == (1e8, "亿元/年" if zh else "100 million yuan/yr")
        assert i18n.money_scale([-3e8], per_year=False, units="cn")[:2] == (1e8, "亿元" if zh else "100 million yuan")
        assert i18n.money_scale([None, float("nan")], units="cn")[0] == 1e4
        assert i18n.money_scale([2.5e8]) == (1.0, "元/年" if zh else "yuan/yr", 0)
    finally:
        i18n.set_language("en")


def test_units_cn_in_tables_and_report(tmp_path):
    """--units cn: the terminal table and the report in 万元/亿元, headers saying so; the CSV stays in yuan."""
    import pandas as pd

    res = runner.invoke(app, ["--lang", "zh", "--units", "cn", "solve", str(TINY), "--results", str(tmp_path)])
    assert res.exit_code == Exit.OK, res.output
    assert "目标函数值（万元/年）" in res.output and "538.00" in res.output, res.output  # 5,380,000 yuan
    assert "5,380,000" not in res.output
    run = next(tmp_path.rglob("allocation.csv")).parent
    alloc = pd.read_csv(run / "allocation.csv")
    assert "farmer_income_yuan" in alloc.columns and "gep_total_yuan" in alloc.columns  # names keep the unit
    summary = __import__("json").loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["objective_yuan"] == pytest.approx(5_380_000, rel=1e-9)  # values stay in yuan
    report = (run / "report.html").read_text(encoding="utf-8")
    assert "万元/年" in report and "百万元" not in report

    res = runner.invoke(app, ["--units", "cn", "solve", str(TINY), "--results", str(tmp_path / "en")])
    assert "objective (10,000 yuan/yr)" in res.output and "538.00" in res.output, res.output
    res = runner.invoke(app, ["solve", str(TINY), "--results", str(tmp_path / "yuan")])
    assert "objective (yuan/yr)" in res.output and "5,380,000" in res.output, res.output  # the default is unchanged


def test_unknown_units_is_a_usage_error():
    assert runner.invoke(app, ["--units", "usd", "validate", str(FUCHUAN)]).exit_code == 2


def test_column_labels_come_from_the_catalogue():
    """Map aliases and workbook headers: Chinese from the catalogue, in both languages whatever --lang is."""
    import re

    from optimizer.outputs import labels

    han = re.compile(r"[\u4e00-\u9fff]")
    assert not [c for c, (en, unit) in labels.COLUMNS.items() if han.search(en + unit)]  # no Chinese in the code
    assert not [f for f, en in labels.LIMITS.items() if han.search(en)]
    try:
        for lang in ("en", "zh"):
            i18n.set_language(lang)
            assert labels.column_label("farmer_income_yuan") == "农民收入 (farmers' income, yuan/yr)"
            assert labels.column_label("value_yuan", "zh") == "价值量（元/年）"  # "value" is 值 elsewhere: by context
            assert labels.column_label("value", "zh") == "值"
            assert labels.column_label("delta_gep_total_yuan_b", "zh") == "GEP 合计变化（B−A）（B）（元/年）"
            assert labels.limit_words("water_use_per_county_max", "富川瑶族自治县", "zh") == "富川瑶族自治县 用水总量不超过上限"
    finally:
        i18n.set_language("en")


def test_help_in_chinese():
    """`--help` follows --lang and the locale: the commands' and options' help come from the catalogue."""
    run = [sys.executable, "-m", "optimizer"]
    zh = subprocess.run([*run, "--lang", "zh", "solve", "--help"], capture_output=True, text=True, encoding="utf-8",
                        env=_env(COLUMNS="100"), cwd=ROOT)
    assert zh.returncode == 0, zh.stderr
    assert "求解一个算例" in zh.stdout and "HiGHS 线程数" in zh.stdout and "退出码：" in zh.stdout, zh.stdout
    top = subprocess.run([*run, "--help"], capture_output=True, text=True, encoding="utf-8",
                         env=_env(LANG="zh_CN.UTF-8", COLUMNS="100"), cwd=ROOT)
    assert "石漠化地区乡镇产业布局优化" in top.stdout and "只检查算例、不求解" in top.stdout, top.stdout
    en = subprocess.run([*run, "solve", "--help"], capture_output=True, text=True, encoding="utf-8",
                        env=_env(LANG="en_US.UTF-8", COLUMNS="100"), cwd=ROOT)
    assert "Solve an instance" in en.stdout and "Exit codes:" in en.stdout, en.stdout
