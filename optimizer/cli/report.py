"""`optimizer report FOLDER`: (re)write report.html for a run, sweep, compare, gep, evaluate, frontier, value, robust or alternatives folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from optimizer.cli.common import Exit, err, exit_codes, out, output_options, print_problems
from optimizer.errors import InputError
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT))(report)


def report(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help=_("A run folder (results/<instance>/<run id>), or a sweep, compare, gep, evaluate, frontier, value, robust or alternatives folder."))],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help=_("Write the report here instead of FOLDER/report.html."))] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help=_("Also write allocation.xlsx of a run folder (a solve under a tight --time-limit leaves it out)."))] = False,
) -> None:
    """Write report.html: one offline HTML file with the map, the plan against the baseline, charts, every limit and the sources.

    Every solve writes one; run this to regenerate it (in another --lang, or after an upgrade)
    or to make one for a sweep, compare, gep, evaluate, frontier, value, robust or alternatives folder.

    Example: optimizer --lang zh report results/fuchuan/<run id>
    """
    from optimizer.outputs.report import REPORT_FILE, write_report
    from optimizer.outputs.write import sha256

    try:
        if xlsx:
            from optimizer.outputs.workbook import write_folder_workbook

            book = write_folder_workbook(folder, output_options(None).lang)  # headers as `solve` writes them
            out.print(_("Workbook: {path}").format(path=f"[bold]{escape(str(book))}[/]"))
        path = write_report(folder, output)
    except InputError as exc:
        print_problems(err, exc, _("Cannot write the report:"))
        raise typer.Exit(Exit.INVALID_INPUT) from None
    manifest = folder / "manifest.json"
    if output is None and manifest.is_file():
        import json

        try:
            listed = (json.loads(manifest.read_text(encoding="utf-8")).get("outputs") or {}).get(REPORT_FILE)
        except (json.JSONDecodeError, AttributeError):
            listed = None
        if listed and listed != sha256(path):
            err.print(_("Note: report.html now differs from the one whose checksum manifest.json lists "
                        "(regenerated in another language or by another version); the run's results are unchanged."),
                      highlight=False, markup=False)  # fmt: skip
    out.print(_("Report: {path}").format(path=f"[bold]{escape(str(path))}[/]"))  # the result: shown even with -q
