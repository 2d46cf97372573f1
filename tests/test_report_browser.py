"""report.html in a real browser: Debian's headless Chromium renders it with no request and no console error.

Why Playwright: it speaks Chrome's DevTools protocol and reports every request, failed
request, console message and page error as an event, so the test sees them all rather
than scraping `--enable-logging` output, whose format changes between Chromium versions.
Playwright's own browser download is not used: it drives `/usr/bin/chromium`
(`apt-get install chromium fonts-noto-cjk`; `pip install -e '.[browser]'`).

Skipped, with the reason shown by `pytest -ra`, where Chromium or Playwright is missing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import FUCHUAN, ROOT

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
#: The flags a locked-down headless run needs here (Playwright adds --headless and the profile folder itself).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[browser]')")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1200, "height": 900},
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


def _open(context, report: Path):  # type: ignore[no-untyped-def]
    """Load a report; return the page and every problem the browser reported."""
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
    target = report.resolve().as_uri()
    page.on("request", lambda r: problems.append(f"request: {r.url}") if r.url != target else None)
    response = page.goto(target, wait_until="load")
    assert response is not None and response.ok
    page.wait_for_timeout(300)  # late console messages (CSP reports come after load)
    return page, problems


@pytest.mark.parametrize("instance", [FUCHUAN, ROOT / "instances" / "karst3" / "karst3.yaml",
                                      ROOT / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml"],
                         ids=["fuchuan", "karst3", "fuchuan_villages"])
def test_report_renders_offline_with_a_map(browser_context, instance: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = solve_instance(instance, SolveOptions(), results_root=tmp_path).run_dir
    assert run is not None
    page, problems = _open(browser_context, run / "report.html")
    try:
        assert problems == []
        n = len(open(run / "allocation.csv", encoding="utf-8-sig").read().splitlines()) - 1
        shapes = page.locator("#map svg g[id*='township-'] > path")
        assert shapes.count() == n
        box = page.locator("#map svg").first.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 300  # drawn, not collapsed
        assert page.locator("#limits ul.limits li").count() >= 4
        assert page.evaluate("document.documentElement.lang") == "en"
        if instance.stem.endswith("_villages"):  # one shape per village; the runner-up differs in villages
            assert re.search(r"differs in \d+ villages?:", page.inner_text("#result"))
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert (tmp_path / "report.png").stat().st_size > 50_000
    finally:
        page.close()


def test_the_browser_would_report_a_network_request(browser_context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The test above can fail: a page that asks for a remote image is caught (blocked by the CSP, and reported)."""
    from optimizer.outputs.report import Page, Section, render
    from optimizer.outputs.report.page import text_block

    html = render(Page("run", "t", "s", [Section("x", "x", [text_block("hello")])]))
    bad = tmp_path / "bad.html"
    bad.write_text(html.replace("<p>hello</p>", '<p>hello</p><img src="https://example.com/x.png">'), encoding="utf-8")
    page, problems = _open(browser_context, bad)
    page.close()
    assert problems, "a remote image went unnoticed"


def test_frontier_and_value_reports_render(browser_context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The frontier's and the value folder's reports in Chromium: no problem reported, the chart
    drawn at size, a table row per point and per limit."""
    import pandas as pd
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.outputs.report import write_report

    runner = CliRunner()
    for args in (["frontier", str(FUCHUAN), "--points", "5"], ["value", str(FUCHUAN)]):
        res = runner.invoke(app, [*args, "--results", str(tmp_path)])
        assert res.exit_code == 0, res.output
    [frontier] = list((tmp_path / "fuchuan").glob("frontier-*"))
    [value] = list((tmp_path / "fuchuan").glob("value-*"))
    page, problems = _open(browser_context, write_report(frontier))
    try:
        assert problems == []
        box = page.locator("#frontier svg").first.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 250
        assert page.locator("#points tbody tr").count() == len(pd.read_csv(frontier / "frontier.csv"))
        assert page.locator("#knee-map svg g[id*='township-'] > path").count() == 12
    finally:
        page.close()
    page, problems = _open(browser_context, write_report(value))
    try:
        assert problems == []
        assert page.locator("#values tbody tr").count() == len(pd.read_csv(value / "values.csv"))
        assert "grid quota" in page.inner_text("#values")
    finally:
        page.close()


def test_robust_and_alternatives_reports_render(browser_context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The robust and the alternatives folder's reports in Chromium: no problem reported, a map
    path per township, a table row per plan."""
    import pandas as pd
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.outputs.report import write_report

    runner = CliRunner()
    karst3 = ROOT / "instances" / "karst3" / "karst3.yaml"
    for args in (["robust", str(karst3), "--samples", "6"], ["alternatives", str(FUCHUAN)]):
        res = runner.invoke(app, [*args, "--results", str(tmp_path)])
        assert res.exit_code == 0, res.output
    [robust] = list((tmp_path / "karst3").glob("robust-*"))
    [alternatives] = list((tmp_path / "fuchuan").glob("alternatives-*"))
    page, problems = _open(browser_context, write_report(robust))
    try:
        assert problems == []
        n = len(pd.read_csv(robust / "stability.csv"))
        assert page.locator("#stability svg g[id*='township-'] > path").count() == n
    finally:
        page.close()
    page, problems = _open(browser_context, write_report(alternatives))
    try:
        assert problems == []
        assert page.locator("#flexibility svg g[id*='township-'] > path").count() == 12
        assert page.locator("#plans table tbody tr").count() == len(pd.read_csv(alternatives / "alternatives.csv"))
    finally:
        page.close()
