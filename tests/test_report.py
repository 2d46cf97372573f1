"""report.html: written by every solve, offline, deterministic, with a map, limits in words, every folder kind.

The browser test (Chromium really rendering the page) is in test_report_browser.py.
"""

from __future__ import annotations

import html
import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optimizer.cli import Exit, app
from optimizer.outputs.report import REPORT_KINDS, build_report, folder_kind, write_report
from optimizer.outputs.report.page import limit_sentence, scaled, small_pct, solve_sentence
from optimizer.outputs.write import sha256
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import FUCHUAN, ROOT, TINY

runner = CliRunner()
KARST3 = ROOT / "instances" / "karst3" / "karst3.yaml"


@pytest.fixture(scope="module")
def fuchuan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = solve_instance(FUCHUAN, SolveOptions(), results_root=tmp_path_factory.mktemp("results"))
    assert result.run_dir is not None
    return result.run_dir


class _Links(HTMLParser):
    """Every URL-bearing attribute and every tag of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()
        self.lang: str | None = None
        self.csp: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = a.get("content")
        for key in ("src", "href", "xlink:href", "action", "poster", "data"):
            if a.get(key):
                self.urls.append((tag, key, str(a[key])))


def _parse(text: str) -> _Links:
    p = _Links()
    p.feed(text)
    return p


def test_every_run_writes_a_report_listed_in_the_manifest(fuchuan_run: Path) -> None:
    report = fuchuan_run / "report.html"
    assert report.is_file()
    manifest = json.loads((fuchuan_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["outputs"]["report.html"] == sha256(report)
    assert manifest["timings_s"]["report"] > 0


def test_report_fetches_nothing(fuchuan_run: Path) -> None:
    text = (fuchuan_run / "report.html").read_text(encoding="utf-8")
    page = _parse(text)
    assert page.csp is not None and "default-src 'none'" in page.csp
    assert not {"script", "link", "img", "iframe", "object", "embed"} & page.tags
    for tag, key, url in page.urls:
        # only in-page anchors, in-SVG references and the run's own files (opened by a click, never loaded)
        assert url.startswith("#") or re.fullmatch(r"[\w.\-/]+", url), (tag, key, url)
        assert not url.startswith(("http:", "https:", "//", "file:"))
    assert not re.search(r"url\((?!#)", text), "a CSS or SVG url() that is not an in-page reference"
    assert "@import" not in text


def test_map_has_a_path_and_a_name_for_every_township(fuchuan_run: Path) -> None:
    text = (fuchuan_run / "report.html").read_text(encoding="utf-8")
    import pandas as pd

    alloc = pd.read_csv(fuchuan_run / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    groups = re.findall(r'<g id="map-township-(\d+)"><title>([^<]*)</title>\s*<path d="M', text)
    assert len(groups) == len(alloc) == 12
    titles = " ".join(t for _k, t in groups)
    for name in alloc["name"]:
        assert name in titles
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "two elements share an id (several inline SVGs on one page)"


def test_limits_in_plain_words(fuchuan_run: Path) -> None:
    text = (fuchuan_run / "report.html").read_text(encoding="utf-8")
    summary = json.loads((fuchuan_run / "summary.json").read_text(encoding="utf-8"))
    water = next(r for r in summary["constraints"] if r["family"] == "water_use_per_county_max")
    used, limit, unit = scaled(water["lhs"], water["rhs"], "m³")
    assert f"county water of 富川瑶族自治县: {used} of {limit} {unit} used" in text
    assert "market for navel_orange" in text and "thousand t used" in text
    assert "HiGHS proved that no plan is better than this one" in text
    assert "estimate</span>" in text  # estimated sources are flagged


def test_limit_sentence_reads_like_the_issue() -> None:
    row = {"family": "water_use_per_county_max", "index": "富川瑶族自治县", "lhs": 10.9e6, "rhs": 11.2e6,
           "sense": "<=", "unit": "m³", "used_share": 10.9 / 11.2, "binding": False}  # fmt: skip
    assert limit_sentence(row, {}, {}, {}) == "county water of 富川瑶族自治县: 10.9 of 11.2 million m³ used (97%)"
    floor = {"family": "conservation_area_min", "index": None, "lhs": 5260.0, "rhs": 3332.0, "sense": ">=",
             "unit": "ha", "used_share": 5260 / 3332, "binding": False}  # fmt: skip
    assert limit_sentence(floor, {}, {}, {}) == "conservation land: 5,260 ha against a minimum of 3,332 ha (158% of the minimum)"
    market = {"family": "market_output_max", "index": "fruit", "lhs": 515_500.0, "rhs": 520_000.0, "sense": "<=",
              "unit": "output unit", "used_share": 515.5 / 520, "binding": False}  # fmt: skip
    text = limit_sentence(market, {}, {"fruit": ("t", ["apple", "citrus"])}, {"apple": "Apple orchard"})
    assert text == "market for fruit (Apple orchard, citrus): 515.5 of 520.0 thousand t used (99.1%)"


def test_objective_bound_and_gap_in_one_sentence() -> None:
    assert solve_sentence("optimal", 650e6, 650e6, 0.0)[1].startswith("HiGHS proved that no plan is better than this one:")
    level, text = solve_sentence("optimal", 650e6, 650.065e6, 1e-4)
    assert level == "ok" and "by more than 0.01%" in text
    level, text = solve_sentence("time_limit_feasible", 600e6, 630e6, 0.05)
    assert level == "warn" and text.startswith("HiGHS stopped at the time limit") and "at most 5.0% better" in text
    assert "is not known" in solve_sentence("time_limit_feasible", 600e6, None, None)[1]
    assert small_pct(3.2e-5) == "0.0032%"


def test_regenerated_report_is_byte_identical(fuchuan_run: Path, tmp_path: Path) -> None:
    again = write_report(fuchuan_run, tmp_path / "again.html")
    assert sha256(again) == sha256(fuchuan_run / "report.html")


def test_cli_report_and_language(fuchuan_run: Path, tmp_path: Path) -> None:
    from optimizer.i18n import set_language

    target = tmp_path / "zh.html"
    try:
        res = runner.invoke(app, ["--lang", "zh", "report", str(fuchuan_run), "-o", str(target)])
        assert res.exit_code == Exit.OK, res.output
        assert _parse(target.read_text(encoding="utf-8")).lang == "zh-CN"
    finally:
        set_language("en")
    res = runner.invoke(app, ["report", str(fuchuan_run), "-o", str(target)])
    assert res.exit_code == Exit.OK and _parse(target.read_text(encoding="utf-8")).lang == "en"


def test_not_a_results_folder_is_a_located_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == Exit.INVALID_INPUT
    assert "not a results folder" in res.output and "Traceback" not in res.output
    (tmp_path / "summary.json").write_text("{broken", encoding="utf-8")
    (tmp_path / "allocation.csv").write_text("township_id\n", encoding="utf-8")
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == Exit.INVALID_INPUT and "summary.json" in res.output and "not valid JSON" in res.output


def test_table_without_geometry_says_why_there_is_no_map(tmp_path: Path) -> None:
    run = solve_instance(TINY, SolveOptions(), results_root=tmp_path).run_dir
    text = (run / "report.html").read_text(encoding="utf-8")
    assert "has no geometry, so there is no map" in text
    assert "Limits and how much of each is used" in text


def test_a_report_failure_never_loses_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    import optimizer.outputs.report.page as page

    def broken(folder: Path) -> str:
        raise RuntimeError("font exploded")

    monkeypatch.setattr(page, "build_report", broken)
    with caplog.at_level(logging.WARNING):
        run = solve_instance(TINY, SolveOptions(), results_root=tmp_path).run_dir
    assert run is not None and (run / "manifest.json").is_file() and not (run / "report.html").exists()
    assert "optimizer report" in caplog.text and "font exploded" in caplog.text


def test_every_analysis_folder_has_a_report(tmp_path: Path, fuchuan_run: Path) -> None:
    from optimizer.analyses.compare import compare_runs, write_comparison
    from optimizer.analyses.evaluate import evaluate_plan
    from optimizer.analyses.gep import account_instance
    from optimizer.analyses.sweep import SweepSpec, parse_vary, run_sweep

    _acc, gep_dir = account_instance(FUCHUAN, fuchuan_run, results_root=tmp_path)
    import pandas as pd

    plan = tmp_path / "plan.csv"
    ids = pd.read_csv(fuchuan_run / "allocation.csv", dtype=str, encoding="utf-8-sig")["township_id"]
    pd.DataFrame({"township_id": ids, "industry": "citrus"}).to_csv(plan, index=False)  # citrus everywhere breaks limits
    ev_dir = evaluate_plan(FUCHUAN, plan, optimum_run=fuchuan_run, results_root=tmp_path).out_dir
    other = solve_instance(FUCHUAN, SolveOptions(), results_root=tmp_path,
                           sets=["constraints.water.county_max_m3.富川瑶族自治县=0.7*"]).run_dir  # fmt: skip
    cmp_dir = write_comparison(compare_runs(fuchuan_run, other), tmp_path)
    sweep_dir = tmp_path / "sweep"
    run_sweep(SweepSpec(instance=str(TINY), varies=[parse_vary("constraints.water.county_max_m3.A=0.5,1*")]),
              sweep_dir, serial=True)  # fmt: skip
    expect = {gep_dir: ("gep", "Map of GEP per hectare"), ev_dir: ("evaluate", "breaks"),
              cmp_dir: ("compare", "changed townships outlined"), sweep_dir: ("sweep", "What-if sweep")}  # fmt: skip
    for folder, (kind, words) in expect.items():
        assert folder_kind(folder).name == kind
        text = build_report(folder)
        assert words in text, (kind, words)
        assert 'id="sources"' in text or kind in ("compare", "sweep")
    cmp_text = build_report(cmp_dir)
    assert len(re.findall(r'<g id="map-township-\d+">', cmp_text)) == 12  # every township, not only the changed one
    assert set(REPORT_KINDS) >= {"run", "sweep", "compare", "gep", "evaluate"}


def test_distant_counties_get_one_panel_each() -> None:
    import pyogrio

    from optimizer.outputs.figures import map_regions

    k3 = pyogrio.read_dataframe(ROOT / "instances" / "karst3" / "townships.gpkg")
    regions = map_regions(k3.geometry.to_numpy(), k3["county"].tolist())
    counties = [sorted(set(k3["county"].iloc[idx])) for idx in regions]
    assert counties == [["昭阳区", "鲁甸县"], ["关岭布依族苗族自治县"], ["富川瑶族自治县"]]  # west to east
    fu = pyogrio.read_dataframe(ROOT / "instances" / "fuchuan" / "townships.gpkg")
    assert len(map_regions(fu.geometry.to_numpy(), fu["county"].tolist())) == 1
    zt = pyogrio.read_dataframe(ROOT / "instances" / "zhaotong" / "townships.gpkg")  # two neighbouring counties
    assert len(map_regions(zt.geometry.to_numpy(), zt["county"].tolist())) == 1


def test_karst3_report_has_an_overview_and_three_regional_panels(tmp_path: Path) -> None:
    run = solve_instance(KARST3, SolveOptions(), results_root=tmp_path).run_dir
    text = (run / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<g id="map-township-\d+">', text)) == 58  # every township is in a regional panel
    assert len(re.findall(r'<g id="map-axes_\d+">', text)) >= 4  # overview + 3 regions


def test_a_region_scale_map_is_one_raster_layer() -> None:
    import shapely

    from optimizer.outputs.figures import VECTOR_MAX, MapData, township_map

    n = VECTOR_MAX + 100
    side = int(np.ceil(np.sqrt(n)))
    geoms = [shapely.box(i % side, i // side, i % side + 0.9, i // side + 0.9) for i in range(n)]
    svg = township_map(MapData(geometry=geoms, counties=["A"] * n, names=[f"t{i}" for i in range(n)],
                               colours=["#2ca02c"] * n, titles=[""] * n, geographic=False))  # fmt: skip
    assert "<image" in svg and "township-" not in svg
    assert len(svg) < 3_000_000


def test_chinese_font_is_found_where_installed() -> None:
    from optimizer.outputs.figures import CJK_FONTS, cjk_font

    if not list(Path("/usr/share/fonts").rglob("*CJK*")):
        pytest.skip("no CJK font installed here (Debian: apt-get install fonts-noto-cjk)")
    assert cjk_font() in CJK_FONTS


def test_without_a_chinese_font_the_report_still_draws_and_says_so_once(monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    import optimizer.outputs.figures as figures

    monkeypatch.setattr(figures, "CJK_FONTS", ("No Such Font",))
    monkeypatch.setattr(figures, "_CJK_FILE_HINTS", ())
    figures.cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            svg1 = figures.paired_bars(["富川", "关岭"], [("GEP", [1.0, 2.0], [0.5, 0.5])], None, "million", "a")
            svg2 = figures.paired_bars(["昭阳"], [("GEP", [1.0], None)], None, "million", "b")
        assert svg1.startswith("<svg") and svg2.startswith("<svg")
        assert caplog.text.count("no Chinese font found") == 1
    finally:
        figures.cjk_font.cache_clear()


def test_an_infeasible_run_gets_a_report_of_its_conflicts(tmp_path: Path) -> None:
    import shutil

    for f in TINY.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    y = tmp_path / TINY.name
    text = y.read_text(encoding="utf-8")
    share = "  min_conservation_share: 0.1\n"
    y.write_text(text.replace(share, "  min_conservation_share: 0.6\n  income_floor: {min_share_of_baseline: 1.0}\n"),
                 encoding="utf-8")  # fmt: skip
    result = solve_instance(y, SolveOptions(), results_root=tmp_path / "r")
    assert result.infeasible and result.run_dir is not None
    report = result.run_dir / "report.html"
    manifest = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["outputs"]["report.html"] == sha256(report)
    html = report.read_text(encoding="utf-8")
    assert "No plan meets every limit (proven by HiGHS)" in html
    assert "The least change to the limits that admits a plan:" in html
    for row in result.summary["least_relaxation"]:
        assert row["text"] in html
    assert folder_kind(result.run_dir).name == "infeasible"


def test_the_runner_up_is_reported(fuchuan_run: Path) -> None:
    summary = json.loads((fuchuan_run / "summary.json").read_text(encoding="utf-8"))
    ru = summary.get("runner_up")
    if not ru:
        pytest.skip("this solve computed no runner-up (not solved exactly)")
    html = (fuchuan_run / "report.html").read_text(encoding="utf-8")
    assert ("The best other plan scores" in html) if ru.get("exists") else ("No other plan meets every limit" in html)


def test_solve_sentence_names_the_method_that_found_the_plan():
    level, text = solve_sentence("stopped_feasible", 600e6, 603e6, 0.005, "decompose")
    assert level == "warn" and text.startswith("The county decomposition stopped early") and "HiGHS" not in text
    assert solve_sentence("optimal", 650e6, 650e6, 0.0, "decompose")[1].startswith("The county decomposition proved")
    # HiGHS polished the decomposition's plan, or solved the whole model: HiGHS is named
    assert solve_sentence("stopped_feasible", 600e6, 603e6, 0.005, "decompose+highs")[1].startswith("HiGHS stopped early")
    assert solve_sentence("optimal", 650e6, 650e6, 0.0, "direct")[1].startswith("HiGHS proved")


@pytest.fixture(scope="module")
def frontier_and_value(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 5-point frontier and a value folder of fuchuan, as the commands write them."""
    root = tmp_path_factory.mktemp("analyses")
    for args in (["frontier", str(FUCHUAN), "--points", "5"], ["value", str(FUCHUAN)]):
        res = runner.invoke(app, [*args, "--results", str(root)])
        assert res.exit_code == 0, res.output
    [frontier] = sorted((root / "fuchuan").glob("frontier-*"))
    [value] = sorted((root / "fuchuan").glob("value-*"))
    return frontier, value


def test_a_frontier_folder_has_a_report_with_the_chart_the_points_and_the_knee(frontier_and_value) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from optimizer.outputs.report.page import mio

    folder, _ = frontier_and_value
    assert folder_kind(folder).name == "frontier"
    res = runner.invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    text = (folder / "report.html").read_text(encoding="utf-8")
    page = _parse(text)  # offline, as every report
    assert page.csp is not None and not {"script", "link", "img", "iframe", "object", "embed"} & page.tags
    assert all(u[2].startswith("#") or re.fullmatch(r"[\w.\-/]+", u[2]) for u in page.urls)
    points = pd.read_csv(folder / "frontier.csv", dtype={"point": str}, encoding="utf-8-sig")
    knee = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["knee"]
    section = text[text.index('id="points"'):text.index('id="knee-map"')]
    assert section.count("<tr>") == len(points) + 1  # a row per point and the header
    k = points[points["point"] == knee].iloc[0]
    row = section[section.index(f"{knee} ★"):].split("</tr>")[0]
    assert mio(k["farmer_income_yuan"]) in row and mio(k["gep_yuan"]) in row
    trade = text[text.index('id="frontier"'):text.index('id="points"')]
    assert "<svg" in trade and "knee" in trade  # the chart, with the knee in its legend
    assert len(re.findall(r'<g id="knee-township-\d+">', text)) == 12  # the knee's plan on the map


def test_a_value_folder_has_a_report_ranking_the_limits_in_words(frontier_and_value) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from optimizer.outputs.value_words import limit_label, per_unit_text

    _, folder = frontier_and_value
    assert folder_kind(folder).name == "value"
    text = build_report(folder)
    values = pd.read_csv(folder / "values.csv", encoding="utf-8-sig")
    table = text[text.index("<table"):text.index("</table>")]
    rows = table.split("<tr>")[2:]
    assert len(rows) == len(values)
    for row, r in zip(rows, values.to_dict(orient="records")):  # in rank order, each in words
        assert limit_label(r["limit"], r["family"]) in row
        if r["relax_resolved"] and r["relax_value_per_unit"] != 0:
            assert f"{per_unit_text(r['relax_value_per_unit'])} / {r['per']}" in row
    assert "pv_capacity_per_county_max[" not in table  # the model's row names stay in values.csv
    assert "Where the plan changes when a limit moves" in text
    assert set(REPORT_KINDS) >= {"frontier", "value"}


@pytest.fixture(scope="module")
def robust_and_alternatives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A robust folder of karst3 (8 samples) and an alternatives folder of fuchuan, as the commands write them."""
    root = tmp_path_factory.mktemp("robust-alternatives")
    for args in (["robust", str(KARST3), "--samples", "8"], ["alternatives", str(FUCHUAN)]):
        res = runner.invoke(app, [*args, "--results", str(root)])
        assert res.exit_code == 0, res.output
    [robust] = sorted((root / "karst3").glob("robust-*"))
    [alternatives] = sorted((root / "fuchuan").glob("alternatives-*"))
    return robust, alternatives


def test_a_robust_folder_has_a_report_of_both_plans_the_risks_and_the_stability_map(robust_and_alternatives) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    folder, _ = robust_and_alternatives
    assert folder_kind(folder).name == "robust"
    text = html.unescape(build_report(folder))
    stability = pd.read_csv(folder / "stability.csv", encoding="utf-8-sig")
    assert len(re.findall(r'<g id="stability-township-\d+">', text)) == len(stability)  # every township on the map
    comparison = pd.read_csv(folder / "comparison.csv", encoding="utf-8-sig")
    plans = text[text.index('id="plans"'):text.index('id="risk"')]
    assert all(d in plans for d in comparison["description"])  # each figure of both plans
    differ = pd.read_csv(folder / "differing_townships.csv", dtype=str, encoding="utf-8-sig")
    assert all(f"({t})" in text for t in differ["township_id"])  # each township where the robust plan differs
    risk = pd.read_csv(folder / "limit_risk.csv", encoding="utf-8-sig")
    assert all(m in text for m in risk["worst_message"])


def test_an_alternatives_folder_has_a_report_of_the_plans_and_what_is_forced(robust_and_alternatives) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from optimizer.outputs.report.page import mio

    _, folder = robust_and_alternatives
    assert folder_kind(folder).name == "alternatives"
    text = html.unescape(build_report(folder))
    plans = pd.read_csv(folder / "alternatives.csv", encoding="utf-8-sig")
    table = text[text.index('id="plans"'):text.index('id="flexibility"')]
    for r in plans.itertuples(index=False):
        row = table[table.index(f"<td class=\"text\">{r.plan}</td>"):].split("</tr>")[0]
        assert mio(r.objective_yuan) in row and mio(r.farmer_income_yuan) in row
    flex = pd.read_csv(folder / "flexibility.csv", dtype=str, encoding="utf-8-sig")
    assert len(re.findall(r'<g id="flex-township-\d+">', text)) == len(flex)
    assert all(f"({t})" in text for t in flex.loc[flex["flexibility_class"] == "open", "township_id"])
    assert set(REPORT_KINDS) >= {"robust", "alternatives"}
