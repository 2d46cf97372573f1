"""`report.html`: what a planner takes to the meeting, one offline file per results folder.

Every solved run gets one (the pipeline writes it into the `.partial` folder before the
manifest, so its sha256 is listed); `optimizer report FOLDER` (re)generates it, also for
sweep, compare, gep, evaluate, frontier, value, robust and alternatives folders. The report is built from the folder's own
files only (summary.json, allocation.csv, the GeoPackage, instance.resolved.yaml,
manifest.json …), so a report regenerated a year later says what the run said.

One file, no network: CSS is inline, maps and charts are inline SVG drawn by matplotlib
(`figures.py`), and a Content-Security-Policy forbids the browser to fetch anything, so a
report mailed to a county office opens the same without internet.

Kinds of folder are a small registry (`REPORT_KINDS`, keyed by kind): each entry says how
to recognise its folder and builds a `Page` of `Section`s made of blocks the templates
know (text, callout, facts, figure, table, limits, sources, links). A new analysis
(frontier, value, robust, alternatives …) adds its report with `@report_kind("frontier",
detect=...)` and a builder that reuses these blocks (or adds a block template).

Every user-facing string goes through `optimizer.i18n._` (English source strings; the
catalogue translates), and `<html lang>` follows `language()`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from optimizer.outputs.report import analyses, run  # noqa: F401  (each registers its kinds)
from optimizer.outputs.report.page import (
    REPORT_FILE, REPORT_KINDS, Block, Page, ReportKind, Section, build_report, folder_kind, render, report_kind,
    write_report,
)

__all__ = ["REPORT_FILE", "REPORT_KINDS", "Block", "Page", "ReportKind", "Section", "build_report", "folder_kind",
           "render", "report_kind", "write_report", "write_run_report"]

log = logging.getLogger(__name__)


def write_run_report(folder: Path) -> Path | None:
    """The pipeline's call: write report.html, but never lose a solved run to a report bug.

    A report that cannot be drawn (a broken font, a damaged shape) is logged with the
    command that retries it; the run folder is still finished and checked.
    """
    try:
        return write_report(folder)
    except Exception as exc:
        log.warning("report.html was not written (%s: %s); write it later with: optimizer report %s",
                    type(exc).__name__, exc, folder.name.removesuffix(".partial"))  # fmt: skip
        log.debug("report failure", exc_info=True)
        return None
